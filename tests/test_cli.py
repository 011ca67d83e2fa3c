"""``python -m vermilion`` as a process, next to ``redis-server``.

* Bad configurations (command-line options and files) are refused with the same
  message on stderr and a non-zero exit status as redis-server 7.0.
* A server started with a config file and options answers with those values,
  rewrites the file like Redis (CONFIG REWRITE, compared with redis-server's own
  rewrite of the same file), and shuts down cleanly on SIGTERM and on SHUTDOWN.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from support import REDIS_SERVER, RawConn, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def vermilion_cmd(*args):
    return [sys.executable, "-m", "vermilion", *args]


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    return e


def run(cmd, cwd=None, timeout=20):
    return subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, timeout=timeout)


def needs_redis():
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")


def wait_port(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("server exited: %r" % (proc.communicate(),))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not listen on %d" % port)


class Proc:
    """A server process (ours or redis-server) on a free port, in ``cwd``."""

    def __init__(self, cmd, port, cwd):
        self.port = port
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        wait_port(port, self.proc)

    def conn(self):
        return RawConn("127.0.0.1", self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out, err = self.proc.communicate()
        return self.proc.returncode, out.decode(), err.decode()


# ----------------------------------------------------------- refused configs
BAD_ARGS = [
    ["--port", "abc"],
    ["--nosuch", "1"],
    ["--port"],
    ["--save", "10"],
    ["--port", "1", "2"],
    ["--maxmemory", "1x"],
    ["--maxmemory-policy", "foo"],
    ["--hz", "-5"],
    ["--appendonly", "maybe"],
    ["--databases", "0"],
    ["--client-output-buffer-limit", "master 1 2 3"],
    ["--notify-keyspace-events", "Q"],
    ["--dir", "/nonexistent/dir"],
    ["--shutdown-on-sigterm", "save nosave"],
    ["--port", "7000", "extra-word"],
    ["--loglevel", "verbose", "--logfile", "/nonexistent/dir/log"],
    # the cases of Redis's own suite (introspection.tcl)
    ["--port", "6379", "6380"],
    ["--port", "--loglevel", "verbose"],
    ["--port", "--bla", "--loglevel", "verbose"],
    ["--logfile", "--my--log--file", "--loglevel", "--bla"],
    ["--shutdown-on-sigint"],
    ["--shutdown-on-sigint", "now force", "--shutdown-on-sigterm"],
    ["--replicaof", "127.0.0.1", "abc"],
    ["--replicaof", "--127.0.0.1", "abc"],
    ["--replicaof", "--127.0.0.1", "--abc"],
]

GOOD_ARGS = [
    (["--maxmemory 700mb", "--maxmemory-policy volatile-lru"], ["maxmemory", "maxmemory-policy"]),
    (
        ["loglevel", "verbose", "--maxmemory '700mb'", "--maxmemory-policy 'volatile-lru'"],
        ["loglevel", "maxmemory", "maxmemory-policy"],
    ),
    (
        ["--proc-title-template", "--my--title--template", "--loglevel", "verbose"],
        ["proc-title-template", "loglevel"],
    ),
    (["--save", "--loglevel", "verbose"], ["save", "loglevel"]),
    (["--loglevel", "verbose", "--save"], ["save", "loglevel"]),
    (["--save", "", "--loglevel", "verbose"], ["save", "loglevel"]),
    (
        ["--proc-title-template", "--save", "--save", "", "--loglevel", "verbose"],
        ["proc-title-template", "save", "loglevel"],
    ),
    (
        ["--shutdown-on-sigint", "nosave", "force", "now", "--shutdown-on-sigterm", "nosave force"],
        ["shutdown-on-sigint", "shutdown-on-sigterm"],
    ),
    (["--save", "100", "100", "--save", "200", "5"], ["save"]),
    (
        ["--hash-max-listpack-entries", "20", "--hash-max-ziplist-entries", "21"],
        ["hash-max-listpack-entries", "hash-max-ziplist-entries"],
    ),
    (
        ["--bind", "127.0.0.1 -::1", "--client-output-buffer-limit", "pubsub 1mb 2mb 3"],
        ["bind", "client-output-buffer-limit"],
    ),
]


@pytest.mark.parametrize("args", BAD_ARGS, ids=lambda a: " ".join(a))
def test_bad_options_fail_like_redis(args, tmp_path):
    needs_redis()
    ref = run([REDIS_SERVER, *args], cwd=tmp_path)
    our = run(vermilion_cmd(*args), cwd=tmp_path)
    assert ref.returncode != 0
    assert our.returncode == ref.returncode
    assert our.stderr == ref.stderr


@pytest.mark.parametrize("args,names", GOOD_ARGS, ids=lambda a: " ".join(a))
def test_accepted_options_give_the_same_values(args, names, tmp_path):
    needs_redis()
    values = {}
    for name, cmd in (("redis", [REDIS_SERVER]), ("vermilion", vermilion_cmd())):
        d = tmp_path / name
        d.mkdir()
        port = free_port()
        conf = d / "server.conf"  # the port in a file: args may end with "--save"
        conf.write_text("port %d\n" % port)
        p = Proc(cmd + [str(conf)] + args, port, d)
        try:
            c = p.conn()
            values[name] = [c.call("CONFIG", "GET", n) for n in names]
            c.close()
        finally:
            p.stop()
    assert values["vermilion"] == values["redis"]


BAD_FILES = [
    "port 7000\n# comment\nmaxmemory 1x\n",
    "foo bar\n",
    'maxmemory "1\n',
    "save 900\n",
    "include /nonexistent/file.conf\n",
    "bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
    "replicaof host\n",
    "user\n",
]


@pytest.mark.parametrize("text", BAD_FILES)
def test_bad_config_files_fail_like_redis(text, tmp_path):
    needs_redis()
    path = tmp_path / "bad.conf"
    path.write_text(text)
    ref = run([REDIS_SERVER, str(path)], cwd=tmp_path)
    our = run(vermilion_cmd(str(path)), cwd=tmp_path)
    assert ref.returncode != 0 and our.returncode == ref.returncode
    assert our.stderr == ref.stderr
    mask = re.compile(rb"^\d+:C \d+ \w+ \d+ [\d:.]+ ", re.M)
    assert mask.sub(b"", our.stdout) == mask.sub(b"", ref.stdout)


def test_missing_config_file(tmp_path):
    our = run(vermilion_cmd(str(tmp_path / "missing.conf")), cwd=tmp_path)
    assert our.returncode == 1
    assert re.match(
        rb"^\d+:C \d+ \w+ \d+ [\d:.]+ # Fatal error, can't open config file '.*"
        rb"missing\.conf': No such file or directory\n$",
        our.stdout,
    )


def test_version_and_help():
    out = run(vermilion_cmd("--version"))
    assert out.returncode == 0 and b"Redis-compatible v=7.0.15" in out.stdout
    out = run(vermilion_cmd("--help"))
    assert out.returncode == 0 and b"Usage:" in out.stdout


# ------------------------------------------------------------ running servers
@pytest.fixture
def workdir(tmp_path):
    return tmp_path


def start_ours(workdir, *args):
    port = free_port()
    return Proc(vermilion_cmd(*args, "--port", str(port)), port, workdir)


def test_config_file_and_options(workdir):
    conf = workdir / "v.conf"
    conf.write_text('# test\nmaxmemory 2mb\nsave ""\nhz 20\nbind 127.0.0.1\nslave-read-only no\n')
    p = start_ours(workdir, str(conf), "--hz", "30", "--maxmemory-policy", "allkeys-lru")
    try:
        c = p.conn()
        assert c.call("CONFIG", "GET", "maxmemory") == b"*2\r\n$9\r\nmaxmemory\r\n$7\r\n2097152\r\n"
        assert c.call("CONFIG", "GET", "hz") == b"*2\r\n$2\r\nhz\r\n$2\r\n30\r\n"
        assert c.call("CONFIG", "GET", "maxmemory-policy").endswith(b"allkeys-lru\r\n")
        assert c.call("CONFIG", "GET", "replica-read-only").endswith(b"$2\r\nno\r\n")
        assert c.call("CONFIG", "GET", "dir").endswith(("%s\r\n" % workdir).encode())
        info = c.call("INFO", "server")
        assert ("config_file:%s\r\n" % conf).encode() in info
        assert ("tcp_port:%d\r\n" % p.port).encode() in info
        c.close()
    finally:
        rc, out, err = p.stop()
    assert rc == 0, err


def test_sigterm_shuts_down_cleanly(workdir):
    p = start_ours(workdir, "--save", "")
    c = p.conn()
    assert c.call("PING") == b"+PONG\r\n"
    p.proc.send_signal(signal.SIGTERM)
    assert p.proc.wait(20) == 0
    out = p.proc.stdout.read().decode()
    assert "Received SIGTERM scheduling shutdown..." in out
    assert "ready to exit, bye bye" in out
    assert c.is_closed()


def test_shutdown_command(workdir):
    p = start_ours(workdir, "--save", "")
    c = p.conn()
    assert c.call("SHUTDOWN", "NOSUCH") == b"-ERR syntax error\r\n"
    assert c.call("SHUTDOWN", "ABORT") == b"-ERR No shutdown in progress.\r\n"
    c.send_command("SHUTDOWN", "NOSAVE")
    assert c.is_closed(5)
    assert p.proc.wait(20) == 0
    assert "User requested shutdown..." in p.proc.stdout.read().decode()


def test_config_rewrite_with_options_like_redis(workdir):
    """Both servers rewrite the same file after the same CONFIG SETs: the kept part
    of the file is identical; the appended lines are the same set (Redis appends
    them in its hash table's order)."""
    needs_redis()
    original = (
        "# Redis configuration\nsave 900 1\nsave 300 10\nmaxmemory 1mb\n\n\n"
        "# replication\nslave-read-only yes\nhash-max-ziplist-entries 100\n"
        'rename-command KEYS ""\nappendonly no\ntimeout 0\n'
    )
    files = {}
    procs = {}
    try:
        for name in ("redis", "vermilion"):
            d = workdir / name
            d.mkdir()
            f = d / "server.conf"
            f.write_text(original)
            files[name] = f
            port = free_port()
            cmd = [REDIS_SERVER] if name == "redis" else vermilion_cmd()
            procs[name] = Proc(cmd + [str(f), "--port", str(port), "--bind", "127.0.0.1"], port, d)
        for name, p in procs.items():
            c = p.conn()
            for args in (
                ("maxmemory", "2mb"),
                ("save", ""),
                ("notify-keyspace-events", "KEA"),
                ("client-output-buffer-limit", "pubsub 1mb 1kb 0"),
                ("maxmemory-policy", "allkeys-lfu"),
                ("timeout", "0"),
                ("hash-max-listpack-entries", "128"),
                ("slowlog-max-len", "64"),
            ):
                assert c.call("CONFIG", "SET", *args) == b"+OK\r\n", (name, args)
            assert c.call("CONFIG", "REWRITE") == b"+OK\r\n"
            c.close()
        texts = {}
        for name, f in files.items():
            text = f.read_text()
            text = text.replace(str(f.parent), "DIR").replace(str(procs[name].port), "PORT")
            texts[name] = text
        heads, tails = {}, {}
        for name, text in texts.items():
            head, sig, tail = text.partition("# Generated by CONFIG REWRITE\n")
            assert sig
            heads[name] = head
            tails[name] = sorted(tail.splitlines())
        assert heads["vermilion"] == heads["redis"]
        assert tails["vermilion"] == tails["redis"]
    finally:
        for p in procs.values():
            p.stop()


def test_config_rewrite_errors(workdir):
    p = start_ours(workdir, "--save", "")
    try:
        c = p.conn()
        assert (
            c.call("CONFIG", "REWRITE") == b"-ERR The server is running without a config file\r\n"
        )
    finally:
        p.stop()


def test_dir_option_changes_the_working_directory(workdir):
    sub = workdir / "data"
    sub.mkdir()
    conf = workdir / "v.conf"
    conf.write_text("dir %s\n" % sub)
    p = start_ours(workdir, str(conf), "--save", "", "--enable-protected-configs", "yes")
    try:
        c = p.conn()
        assert c.call("CONFIG", "GET", "dir").endswith(("%s\r\n" % sub).encode())
        assert c.call("CONFIG", "SET", "dir", str(workdir)) == b"+OK\r\n"
        assert c.call("CONFIG", "GET", "dir").endswith(("%s\r\n" % workdir).encode())
        assert c.call("CONFIG", "SET", "dir", "nope") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'dir') - "
            b"No such file or directory\r\n"
        )
    finally:
        p.stop()


def test_stdin_config(workdir):
    port = free_port()
    proc = subprocess.Popen(
        vermilion_cmd("-", "--port", str(port)),
        cwd=workdir,
        env=env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdin.write(b'maxmemory-samples 8\nsave ""\n')
    proc.stdin.close()
    try:
        wait_port(port, proc)
        c = RawConn("127.0.0.1", port)
        assert c.call("CONFIG", "GET", "maxmemory-samples").endswith(b"$1\r\n8\r\n")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        proc.stdout.close()
        proc.stderr.close()


def test_pidfile_written_and_removed(workdir):
    pidfile = workdir / "v.pid"
    p = start_ours(workdir, "--save", "", "--pidfile", str(pidfile))
    assert pidfile.read_text() == "%d\n" % p.proc.pid
    rc, out, err = p.stop()
    assert rc == 0 and not pidfile.exists()


@pytest.mark.parametrize(
    "args,dumped",
    [
        (["--save", ""], False),
        (["--save", "", "--shutdown-on-sigterm", "save"], True),
        (["--save", "3600 1"], True),
        (["--save", "3600 1", "--shutdown-on-sigterm", "nosave now"], False),
    ],
)
def test_sigterm_follows_shutdown_on_sigterm(args, dumped, workdir):
    p = start_ours(workdir, *args)
    c = p.conn()
    assert c.call("SET", "k", "v") == b"+OK\r\n"
    rc, out, err = p.stop()
    assert rc == 0, err
    assert (workdir / "dump.rdb").exists() == dumped


def _message(line):
    """A log line without its "pid:role date time " prefix."""
    return re.sub(r"^\d+:\w \d\d \w+ \d{4} [\d:.]+ ", "", line)


@pytest.mark.parametrize("bind", [None, "127.0.0.1"])
def test_port_in_use_is_logged_like_redis(bind, tmp_path):
    """A port another process holds: exit status 1 and Redis's two log lines (the
    address and the reason, then the abort); the Tcl harness and tools read them."""
    needs_redis()
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("0.0.0.0", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        tails = []
        for name, cmd in (("redis", [REDIS_SERVER]), ("vermilion", vermilion_cmd())):
            log = tmp_path / ("%s.log" % name)
            args = ["--port", str(port), "--save", "", "--logfile", str(log)]
            if bind:
                args += ["--bind", bind]
            r = run(cmd + args)
            assert r.returncode == 1, name
            lines = log.read_text().splitlines()[-2:]
            tails.append([_message(x) for x in lines])
        assert tails[1] == tails[0]
        assert "already in use" in tails[0][0]
    finally:
        holder.close()


def test_unix_socket_it_cannot_open_is_logged_like_redis(tmp_path):
    needs_redis()
    tails = []
    for name, cmd in (("redis", [REDIS_SERVER]), ("vermilion", vermilion_cmd())):
        log = tmp_path / ("%s.log" % name)
        sock = str(tmp_path / "no-such-dir" / "s.sock")
        r = run(
            cmd
            + [
                "--port",
                str(free_port()),
                "--save",
                "",
                "--unixsocket",
                sock,
                "--logfile",
                str(log),
            ]
        )
        assert r.returncode == 1, name
        line = log.read_text().splitlines()[-1]
        tails.append(_message(line))
    assert tails[1] == tails[0] == "# Failed opening Unix socket: bind: No such file or directory"
