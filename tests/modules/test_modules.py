"""Modules written in Python, end to end: examples/modules/ratelimit.py (CL.THROTTLE,
a GCRA limiter with its own data type) loaded into real server processes, driven
over real sockets with redis-py.

Each server is a ``python -m vermilion`` process: module commands and types are
per process (like Redis's), so none of this leaks into other tests' servers.
"""

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

redis = pytest.importorskip("redis")

ROOT = Path(__file__).resolve().parents[2]
RATELIMIT = str(ROOT / "examples" / "modules" / "ratelimit.py")


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A Vermilion server process in its own directory."""

    def __init__(self, workdir, *args, port=None, modules=(RATELIMIT,)):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or _free_port()
        self.args = list(args)
        self.modules = list(modules)
        self.proc = None
        self.logfile = self.dir / "server.log"

    def start(self, wait=True):
        cmd = [sys.executable, "-m", "vermilion", "--port", str(self.port), "--save", ""]
        for m in self.modules:
            cmd += ["--loadmodule", m]
        cmd += ["--enable-debug-command", "yes", "--enable-module-command", "yes"]
        cmd += self.args
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.out = open(self.logfile, "ab")
        self.proc = subprocess.Popen(
            cmd, cwd=self.dir, stdout=self.out, stderr=subprocess.STDOUT, env=env
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                r = self.client()
                if r.ping():
                    info = r.info("persistence")
                    if not info.get("loading"):
                        return
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start:\n" + self.log())

    def client(self, **kw):
        return redis.Redis(port=self.port, socket_timeout=10, protocol=2, **kw)

    def log(self):
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, save=False):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.client().shutdown(save=save, nosave=not save)
            except redis.ConnectionError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()

    def wait_exit(self, timeout=20):
        return self.proc.wait(timeout)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    p = Proc(tmp_path_factory.mktemp("modsrv")).start()
    yield p
    p.stop()


@pytest.fixture
def r(server):
    c = server.client()
    c.flushall()
    yield c
    c.close()


def _raw(r, *args):
    """A command's reply as RESP2 gives it, without redis-py's reply parsing."""
    conn = r.connection_pool.get_connection()
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        r.connection_pool.release(conn)


def _throttle(r, key, burst=2, count=1, period=60, qty=None):
    args = ["CL.THROTTLE", key, burst, count, period] + ([qty] if qty is not None else [])
    return r.execute_command(*args)


# ------------------------------------------------------------- the command table
def test_command_info_shows_the_module_command(r):
    info = _raw(r, "COMMAND", "INFO", "cl.throttle")[0]
    name, arity, flags, first, last, step, cats, tips, specs, subs = info
    assert name == b"cl.throttle" and arity == -5
    assert flags == [b"write", b"denyoom", b"module", b"fast"]
    assert (first, last, step) == (1, 1, 1)
    assert cats == [b"@write", b"@fast"]
    spec = specs[0]
    assert spec[:2] == [b"flags", [b"RW", b"access", b"update"]]
    assert spec[2:4] == [b"begin_search", [b"type", b"index", b"spec", [b"index", 1]]]
    assert spec[4:] == [
        b"find_keys",
        [b"type", b"range", b"spec", [b"lastkey", 0, b"keystep", 1, b"limit", 0]],
    ]
    ro = _raw(r, "COMMAND", "INFO", "cl.info")[0]
    assert ro[2] == [b"readonly", b"module", b"fast"] and ro[6] == [b"@read", b"@fast"]
    assert ro[8][0][1] == [b"RO", b"access"]


def test_command_list_count_getkeys_docs(r):
    assert _raw(r, "COMMAND", "GETKEYS", "CL.THROTTLE", "k1", "1", "2", "3") == [b"k1"]
    names = _raw(r, "COMMAND", "LIST", "FILTERBY", "MODULE", "ratelimit")
    assert sorted(names) == [b"cl.info", b"cl.set", b"cl.throttle"]
    assert b"cl.throttle" in _raw(r, "COMMAND", "LIST")
    assert b"cl.throttle" in _raw(r, "COMMAND", "LIST", "FILTERBY", "ACLCAT", "write")
    count = _raw(r, "COMMAND", "COUNT")
    assert count == len(_raw(r, "COMMAND", "LIST")) - sum(
        1 for n in _raw(r, "COMMAND", "LIST") if b"|" in n
    )
    docs = _raw(r, "COMMAND", "DOCS", "cl.throttle")
    d = dict(zip(docs[1][0::2], docs[1][1::2]))
    assert d[b"group"] == b"module" and d[b"module"] == b"ratelimit"
    assert d[b"complexity"] == b"O(1)"


def test_module_list_and_info(r):
    (m,) = _raw(r, "MODULE", "LIST")
    m = dict(zip(m[0::2], m[1::2]))
    assert m[b"name"] == b"ratelimit" and m[b"ver"] == 1
    assert m[b"path"] == RATELIMIT.encode() and m[b"args"] == []
    info = _raw(r, "INFO", "modules").decode()
    assert "module:name=ratelimit,ver=1,api=1,filters=0,usedby=[],using=[],options=[]" in info


# --------------------------------------------------------------- the command
def test_throttle_gcra(r):
    # burst 2: three at once are allowed, the fourth is limited (redis-cell's replies)
    assert _throttle(r, "u") == [0, 3, 2, -1, 60]
    assert _throttle(r, "u") == [0, 3, 1, -1, 120]
    assert _throttle(r, "u") == [0, 3, 0, -1, 180]
    limited = _throttle(r, "u")
    assert limited[:3] == [1, 3, 0] and 59 <= limited[3] <= 60
    assert r.type("u") == b"gcra-cell"
    assert r.object("encoding", "u") == b"raw"
    tat, allowed, denied = r.execute_command("CL.INFO", "u")
    assert (allowed, denied) == (3, 1)
    assert 179_000 < r.pttl("u") <= 180_000
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        _throttle(r, "s")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.get("u")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'cl.throttle'"):
        r.execute_command("CL.THROTTLE", "u", 1, 2)
    with pytest.raises(redis.ResponseError, match="not an integer"):
        _throttle(r, "u", burst="x")
    assert r.execute_command("CL.INFO", "nokey") is None
    assert r.info("commandstats")["cmdstat_cl.throttle"]["calls"] >= 5


def test_scan_type_and_copy(r):
    _throttle(r, "a")
    r.set("b", "1")
    assert r.execute_command("SCAN", 0, "TYPE", "gcra-cell")[1] == [b"a"]
    assert r.copy("a", "a2") and r.type("a2") == b"gcra-cell"
    assert r.execute_command("CL.INFO", "a2") == r.execute_command("CL.INFO", "a")


# ------------------------------------------------------------ ACL, MULTI, EVAL
def test_acl_allows_and_denies(r, server):
    try:
        r.execute_command("ACL", "SETUSER", "deny", "on", ">pw", "~*", "+@all", "-cl.throttle")
        r.execute_command("ACL", "SETUSER", "only", "on", ">pw", "~k*", "-@all", "+cl.throttle")
        r.execute_command("ACL", "SETUSER", "writers", "on", ">pw", "~*", "-@all", "+@write")
        d = server.client(username="deny", password="pw")
        with pytest.raises(redis.exceptions.NoPermissionError, match="'cl.throttle' command"):
            _throttle(d, "k1")
        assert d.execute_command("CL.INFO", "k1") is None  # the rest of +@all is allowed
        o = server.client(username="only", password="pw")
        assert _throttle(o, "k1")[0] == 0
        with pytest.raises(redis.exceptions.NoPermissionError):
            _throttle(o, "other")  # key pattern ~k*: the key spec names argv[1]
        with pytest.raises(redis.exceptions.NoPermissionError):
            o.execute_command("CL.INFO", "k1")
        w = server.client(username="writers", password="pw")
        assert _throttle(w, "k2")[0] == 0  # @write covers it
        users = _raw(r, "ACL", "LIST")
        assert any(b"+@all -cl.throttle" in u for u in users)
        assert b"cl.throttle" in r.execute_command("ACL", "CAT", "fast")
        log = _raw(r, "ACL", "LOG")
        assert any(b"cl.throttle" in entry for e in log for entry in e if isinstance(entry, bytes))
    finally:
        for u in ("deny", "only", "writers"):
            r.execute_command("ACL", "DELUSER", u)
        r.execute_command("ACL", "LOG", "RESET")


def test_multi_exec(r):
    p = r.pipeline(transaction=True)
    p.execute_command("CL.THROTTLE", "m", 0, 1, 10)
    p.execute_command("CL.THROTTLE", "m", 0, 1, 10)
    p.execute_command("CL.INFO", "m")
    a, b, info = p.execute()
    assert a[0] == 0 and b[0] == 1 and info[1:] == [1, 1]


def test_eval_redis_call(r):
    script = "return redis.call('cl.throttle', KEYS[1], 1, 1, 10)"
    assert r.eval(script, 1, "e")[:3] == [0, 2, 1]
    assert r.eval("return redis.pcall('cl.info', KEYS[1])", 1, "e")[1:] == [1, 0]
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.set("str", "v")
        r.eval("return redis.call('cl.throttle', 'str', 1, 1, 10)", 0)


def test_keyspace_notifications(r):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        ps = r.pubsub()
        ps.psubscribe("__key*@0__:*")
        assert ps.get_message(timeout=2)["type"] == "psubscribe"
        _throttle(r, "n")
        got = set()
        for _ in range(8):
            m = ps.get_message(timeout=1)
            if m is None:
                break
            got.add((m["channel"], m["data"]))
        assert (b"__keyspace@0__:n", b"cl.throttle") in got
        assert (b"__keyevent@0__:cl.throttle", b"n") in got
        ps.close()
    finally:
        r.config_set("notify-keyspace-events", "")


# ------------------------------------------------------------------- RDB
def test_dump_restore_and_record_bytes(r):
    r.execute_command("CL.SET", "d", 1234567890123, 5, 2)
    payload = r.dump("d")
    # type 7 (RDB_TYPE_MODULE_2), the 64-bit id as a length, three UINT fields, EOF
    assert payload[0] == 7
    mid = int.from_bytes(payload[2:10], "big")
    assert payload[1] == 0x81
    assert mid >> 10 == _encode_name("gcra-cell") and mid & 1023 == 1
    body = payload[10:-10]
    assert body[0] == 2 and body[-1] == 0  # UINT opcode first, EOF last
    r.restore("d2", 0, payload)
    assert r.type("d2") == b"gcra-cell"
    assert r.execute_command("CL.INFO", "d2") == [1234567890123, 5, 2]
    with pytest.raises(redis.ResponseError, match="BUSYKEY"):
        r.restore("d2", 0, payload)
    r.restore("d2", 0, payload, replace=True)


def _encode_name(name):
    cset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    v = 0
    for ch in name:
        v = (v << 6) | cset.index(ch)
    return v


def test_module_id_is_redis_encoding():
    sys.path.insert(0, str(ROOT))
    from vermilion.persistence.rdb_module import encode_id, name_of_id

    assert encode_id("gcra-cell", 1) == (_encode_name("gcra-cell") << 10) | 1
    assert name_of_id(encode_id("ReJSON-RL", 3)) == "ReJSON-RL"
    assert encode_id("short", 1) == 0 and encode_id("gcra-cell", 1024) == 0


def test_debug_reload(r):
    _throttle(r, "x")
    before = r.execute_command("CL.INFO", "x")
    ttl = r.pttl("x")
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    assert r.type("x") == b"gcra-cell"
    assert r.execute_command("CL.INFO", "x") == before
    assert 0 < r.pttl("x") <= ttl


def test_save_and_restart(tmp_path):
    p = Proc(tmp_path / "s").start()
    try:
        c = p.client()
        for k in ("a", "b", "c"):
            _throttle(c, k, burst=5)
        _throttle(c, "a", burst=5)
        state = {k: c.execute_command("CL.INFO", k) for k in ("a", "b", "c")}
        assert c.save()
    finally:
        p.stop()
    raw = (tmp_path / "s" / "dump.rdb").read_bytes()
    assert b"\x07\x01a\x81" in raw  # key a: a MODULE_2 record with a 64-bit id
    p2 = Proc(tmp_path / "s", port=p.port).start()
    try:
        c = p2.client()
        assert {k: c.execute_command("CL.INFO", k) for k in ("a", "b", "c")} == state
        assert c.type("a") == b"gcra-cell"
        # BGSAVE (a forked child) writes the same records
        c.bgsave()
        deadline = time.time() + 20
        while c.info("persistence")["rdb_bgsave_in_progress"] and time.time() < deadline:
            time.sleep(0.05)
        assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
    finally:
        p2.stop()

    # Without the module the file does not load: Redis's error, and the server stops
    p3 = Proc(tmp_path / "s", modules=()).start(wait=False)
    assert p3.wait_exit() != 0
    p3.out.close()
    assert (
        "The RDB file contains module data I can't load: no matching module type 'gcra-cell'"
        in p3.log()
    )


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_redis_server_reads_the_record_as_a_module_type(tmp_path):
    """redis-server 7.0.15 reads our record: it names our type from the id, and its
    RDB check walks the fields to the EOF marker."""
    p = Proc(tmp_path / "v").start()
    try:
        _throttle(p.client(), "k")
        p.client().save()
    finally:
        p.stop()
    port = _free_port()
    out = subprocess.run(
        ["redis-server", "--port", str(port), "--save", "", "--dir", str(tmp_path / "v")],
        capture_output=True,
        timeout=30,
    )
    text = out.stdout + out.stderr
    assert (
        b"The RDB file contains module data I can't load: no matching module type 'gcra-cell'"
        in text
    )
    # then redis-server checks the file (redis-check-rdb walks the module opcodes)
    assert b"RDB looks OK!" in text


# --------------------------------------------------------------- AOF
def test_aof_replays_module_writes(tmp_path):
    p = Proc(tmp_path / "a", "--appendonly", "yes", "--appendfsync", "always").start()
    try:
        c = p.client()
        _throttle(c, "q", burst=3)
        _throttle(c, "q", burst=3)
        c.execute_command("CL.SET", "z", 42, 1, 0)
        state = c.execute_command("CL.INFO", "q")
    finally:
        p.stop()
    aof = b"".join(f.read_bytes() for f in (tmp_path / "a" / "appendonlydir").glob("*.incr.aof"))
    assert b"CL.SET" in aof and b"CL.THROTTLE" not in aof  # the effect, replicated
    p2 = Proc(tmp_path / "a", "--appendonly", "yes", port=p.port).start()
    try:
        c = p2.client()
        assert c.execute_command("CL.INFO", "q") == state
        assert c.execute_command("CL.INFO", "z") == [42, 1, 0]
        # a rewrite puts the values in the RDB preamble
        c.bgrewriteaof()
        deadline = time.time() + 20
        while time.time() < deadline and (
            c.info("persistence")["aof_rewrite_in_progress"]
            or c.info("persistence")["aof_rewrite_scheduled"]
        ):
            time.sleep(0.05)
        assert c.info("persistence")["aof_last_bgrewrite_status"] == "ok"
    finally:
        p2.stop()
    p3 = Proc(tmp_path / "a", "--appendonly", "yes", port=p.port).start()
    try:
        c = p3.client()
        assert c.execute_command("CL.INFO", "q") == state
        assert c.type("z") == b"gcra-cell"
    finally:
        p3.stop()


# ------------------------------------------------------------- replication
def test_replica_receives_module_writes(tmp_path):
    m = Proc(tmp_path / "m").start()
    s = Proc(tmp_path / "r").start()
    try:
        mc, sc = m.client(), s.client()
        _throttle(mc, "before")  # in the full sync's RDB
        sc.replicaof("127.0.0.1", m.port)
        deadline = time.time() + 20
        while sc.info("replication").get("master_link_status") != "up":
            assert time.time() < deadline, s.log()
            time.sleep(0.05)
        _throttle(mc, "after", burst=4)  # in the stream: CL.SET ... PXAT
        _throttle(mc, "after", burst=4)
        mc.execute_command("WAIT", 1, 5000)
        for k in ("before", "after"):
            deadline = time.time() + 10
            while sc.execute_command("CL.INFO", k) != mc.execute_command("CL.INFO", k):
                assert time.time() < deadline
                time.sleep(0.05)
            assert sc.type(k) == b"gcra-cell"
            assert abs(sc.pttl(k) - mc.pttl(k)) < 2000
        with pytest.raises(redis.ResponseError, match="read only replica"):
            _throttle(sc, "x")
        assert sc.execute_command("CL.INFO", "after")[1] == 2
    finally:
        s.stop()
        m.stop()


# ----------------------------------------------------------- loading
HELLO = textwrap.dedent(
    '''
    from vermilion.module import OK, ReplyError

    def on_load(module, args):
        module.init("hello", ver=3)
        prefix = args[0] if args else b"hello"

        @module.command("hello.set", arity=3, flags="write deny-oom",
                        first_key=1, last_key=1, step=1, acl_categories="string")
        def hello_set(ctx, argv):
            ctx.set(argv[1], prefix + b":" + argv[2])
            ctx.notify("hello", argv[1], kind="string")
            return OK

        @module.command("hello.mget", arity=-2, flags="readonly",
                        first_key=1, last_key=-1, step=1)
        def hello_mget(ctx, argv):
            return [ctx.get_string(k) for k in argv[1:]]

        @module.command("hello.keys", arity=-2, flags="readonly",
                        getkeys=lambda argv: [i for i in range(1, len(argv)) if argv[i].startswith(b"k")])
        def hello_keys(ctx, argv):
            return len(argv) - 1

        @module.command("hello.fail", arity=1)
        def hello_fail(ctx, argv):
            raise ReplyError("ERR hello failed on purpose")
    '''
)


def test_module_load_unload(tmp_path, server):
    path = tmp_path / "hello.py"
    path.write_text(HELLO)
    r = server.client()
    r.flushall()
    assert r.execute_command("MODULE", "LOAD", str(path), "hi") == b"OK"
    try:
        assert r.execute_command("HELLO.SET", "k", "v") == b"OK"
        assert r.get("k") == b"hi:v"
        assert r.execute_command("HELLO.MGET", "k", "nokey") == [b"hi:v", None]
        info = _raw(r, "COMMAND", "INFO", "hello.set", "hello.mget", "hello.keys")
        assert info[0][6] == [b"@write", b"@string", b"@slow"]
        assert info[1][3:6] == [1, -1, 1]
        assert b"movablekeys" in info[2][2]
        assert _raw(r, "COMMAND", "GETKEYS", "HELLO.KEYS", "k1", "x", "k2") == [b"k1", b"k2"]
        assert _raw(r, "COMMAND", "GETKEYS", "HELLO.MGET", "a", "b") == [b"a", b"b"]
        with pytest.raises(redis.ResponseError, match="hello failed on purpose"):
            r.execute_command("HELLO.FAIL")
        mods = {dict(zip(m[0::2], m[1::2]))[b"name"]: m for m in _raw(r, "MODULE", "LIST")}
        assert set(mods) == {b"ratelimit", b"hello"}
        assert dict(zip(mods[b"hello"][0::2], mods[b"hello"][1::2]))[b"args"] == [b"hi"]
        # a second load of the same name fails, as Redis's does
        with pytest.raises(redis.ResponseError, match="Error loading the extension"):
            r.execute_command("MODULE", "LOAD", str(path))
    finally:
        assert r.execute_command("MODULE", "UNLOAD", "hello") == b"OK"
    with pytest.raises(redis.ResponseError, match="unknown command 'HELLO.SET'"):
        r.execute_command("HELLO.SET", "k", "v")
    assert _raw(r, "COMMAND", "INFO", "hello.set") == [None]
    with pytest.raises(redis.ResponseError, match="no such module with that name"):
        r.execute_command("MODULE", "UNLOAD", "hello")
    with pytest.raises(redis.ResponseError, match="exports one or more module-side data types"):
        r.execute_command("MODULE", "UNLOAD", "ratelimit")
    with pytest.raises(redis.ResponseError, match="Error loading the extension"):
        r.execute_command("MODULE", "LOAD", str(tmp_path / "missing.py"))
    assert "Module %s failed to load" % (tmp_path / "missing.py") in server.log()
    # and back again
    assert r.execute_command("MODULE", "LOAD", str(path)) == b"OK"
    assert r.execute_command("HELLO.SET", "k", "w") == b"OK" and r.get("k") == b"hello:w"
    assert r.execute_command("MODULE", "UNLOAD", "hello") == b"OK"


def test_module_command_is_protected(tmp_path):
    p = Proc(tmp_path / "p", "--enable-module-command", "no").start()
    try:
        c = p.client()
        with pytest.raises(redis.ResponseError, match="MODULE command not allowed"):
            c.execute_command("MODULE", "LOAD", RATELIMIT)
        assert len(_raw(c, "MODULE", "LIST")) == 1  # LIST is not protected
    finally:
        p.stop()


def test_config_file_loadmodule_with_args(tmp_path):
    path = tmp_path / "hello.py"
    path.write_text(HELLO)
    conf = tmp_path / "v.conf"
    conf.write_text("loadmodule %s pre\n" % path)
    port = _free_port()
    p = Proc(tmp_path / "c", str(conf), port=port, modules=())
    # the config file must come first: rebuild the command line around it
    p.args = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p.out = open(p.logfile, "ab")
    p.proc = subprocess.Popen(
        [sys.executable, "-m", "vermilion", str(conf), "--port", str(port), "--save", ""],
        cwd=p.dir,
        stdout=p.out,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        p.wait_ready()
        c = p.client()
        assert c.execute_command("HELLO.SET", "k", "v") == b"OK" and c.get("k") == b"pre:v"
    finally:
        p.stop()


def test_bad_module_aborts_startup(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def on_load(module, args):\n    raise RuntimeError('nope')\n")
    p = Proc(tmp_path / "b", modules=(str(bad),)).start(wait=False)
    assert p.wait_exit() == 1
    p.out.close()
    log = p.log()
    assert "Module %s initialization failed. Module not loaded" % bad in log
    assert "Can't load module from %s: server aborting" % bad in log


def test_embed_start_server_with_modules(tmp_path):
    code = textwrap.dedent(
        """
        import redis, vermilion
        with vermilion.start_server(modules=[%r]) as srv:
            r = redis.Redis.from_url(srv.url)
            print(r.execute_command("CL.THROTTLE", "k", 1, 1, 10)[:3])
            print(r.type("k"))
        try:
            vermilion.start_server(modules=[%r])
        except vermilion.embed.ConfigError as e:
            print("ConfigError", e)
        """
        % (RATELIMIT, str(tmp_path / "nope.py"))
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "[0, 2, 1]" and lines[1] == "b'gcra-cell'"
    assert any(line.startswith("ConfigError Can't load module from") for line in lines)
