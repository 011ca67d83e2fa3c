"""While the server is blocked, a new connection must still reach it.

Two operations keep the event loop from turning for a long time: a script
running past ``busy-reply-threshold`` and loading a big dataset at startup.
Redis keeps serving through both (processEventsWhileBlocked): a connection
opened *after* the script started is accepted and answered ``-BUSY``, so
``redis-cli SCRIPT KILL`` can stop a runaway script; during loading clients get
``-LOADING`` and ``INFO persistence`` shows the progress, and SHUTDOWN or
SIGTERM stop the server without saving half a dataset. An operator locked out
of a stuck server is a denial of service, so each probe runs against
redis-server and Vermilion and requires Vermilion to answer the same.
"""

import os
import shutil
import signal
import socket
import tempfile
import time

import pytest

from probe import Spawned, outcome, KINDS, wait_until

BUSY_EVAL = (
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
)
BUSY_FUNCTION = (
    b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
)
LOADING = b"-LOADING Redis is loading the dataset in memory\r\n"


def start_busy(server, *cmd):
    """Send a never-ending script on its own connection; return once the server
    answers -BUSY to a brand-new connection (so that connection, opened after the
    script started, was accepted and served)."""
    runner = server.conn(timeout=30)
    runner.send_command(*cmd)
    wait_until(lambda: outcome(server, "PING", timeout=5) in (BUSY_EVAL, BUSY_FUNCTION))
    return runner


def gone(reply):
    """The server closed the connection without a reply, or is already gone (exit 0)."""
    return reply in ("closed", "crashed (exit 0)")


def wait_exit(server, timeout=15):
    wait_until(lambda: not server.alive(), timeout)
    return server.exit_status()


# --------------------------------------------------------------- busy scripts
@pytest.mark.parametrize("kind", KINDS)
def test_new_connection_during_busy_script_can_script_kill(kind):
    with Spawned(kind, "--busy-reply-threshold", "100") as s:
        runner = start_busy(s, "EVAL", "while true do end", "0")
        # opened after the script started: accepted, answered, and it can kill it
        assert outcome(s, "GET", "k") == BUSY_EVAL
        assert outcome(s, "SHUTDOWN") == BUSY_EVAL  # only SHUTDOWN NOSAVE
        assert outcome(s, "SCRIPT", "KILL") == b"+OK\r\n"
        reply = runner.read_reply()
        assert reply.startswith(b"-ERR Script killed by user with SCRIPT KILL...")
        runner.close()
        assert outcome(s, "PING") == b"+PONG\r\n"
        assert s.alive()


@pytest.mark.parametrize("kind", KINDS)
def test_new_connection_during_busy_function_can_function_kill(kind):
    with Spawned(kind, "--busy-reply-threshold", "100") as s:
        lib = "#!lua name=spin\nredis.register_function('spin', function() while true do end end)"
        assert outcome(s, "FUNCTION", "LOAD", lib) == b"$4\r\nspin\r\n"
        runner = start_busy(s, "FCALL", "spin", "0")
        assert outcome(s, "PING") == BUSY_FUNCTION
        assert outcome(s, "SCRIPT", "KILL") == BUSY_FUNCTION  # the wrong kill
        assert outcome(s, "FUNCTION", "KILL") == b"+OK\r\n"
        # (7.0.15 names SCRIPT KILL in this message even for FUNCTION KILL)
        assert runner.read_reply().startswith(b"-ERR Script killed by user with ")
        runner.close()
        assert outcome(s, "PING") == b"+PONG\r\n"


@pytest.mark.parametrize("kind", KINDS)
def test_new_connection_during_busy_script_can_shutdown_nosave(kind):
    s = Spawned(kind, "--busy-reply-threshold", "100", "--save", "3600 1")
    try:
        runner = start_busy(s, "EVAL", "while true do end", "0")
        assert gone(outcome(s, "SHUTDOWN", "NOSAVE"))
        assert wait_exit(s) == 0
        assert not os.path.exists(os.path.join(s.dir, "dump.rdb"))  # NOSAVE
        runner.close()
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_clients_pipelined_during_busy_script_get_answers_in_order(kind):
    with Spawned(kind, "--busy-reply-threshold", "100") as s:
        runner = start_busy(s, "EVAL", "while true do end", "0")
        c = s.conn()
        c.send(b"PING\r\nGET x\r\nSCRIPT KILL\r\n")
        assert c.read_reply() == BUSY_EVAL
        assert c.read_reply() == BUSY_EVAL
        assert c.read_reply() == b"+OK\r\n"
        runner.read_reply()
        c.send(b"PING\r\n")
        assert c.read_reply() == b"+PONG\r\n"  # the same connection, now on the loop
        assert b"cmd=client|list" in c.call("CLIENT", "LIST")
        c.close()
        runner.close()


@pytest.mark.parametrize("kind", KINDS)
def test_maxclients_applies_to_connections_accepted_during_busy_script(kind):
    with Spawned(kind, "--busy-reply-threshold", "100", "--maxclients", "2") as s:
        runner = start_busy(s, "EVAL", "while true do end", "0")
        held = s.conn()
        held.send_command("PING")
        assert held.read_reply() == BUSY_EVAL  # the second client: accepted
        # the third is one too many, busy script or not
        assert outcome(s, "PING") == b"-ERR max number of clients reached\r\n"
        assert held.call("SCRIPT", "KILL") == b"+OK\r\n"
        runner.read_reply()
        held.close()
        runner.close()


def _connect_from(host, port, source):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect((host, port))
    return sock


def _read_all(sock, timeout=5):
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


@pytest.mark.parametrize("kind", KINDS)
def test_protected_mode_applies_to_connections_accepted_during_busy_script(kind):
    # listening on two loopback addresses; a peer whose address is not exactly
    # 127.0.0.1 is "not local" to protected mode (islocalClient)
    with Spawned(
        kind, "--busy-reply-threshold", "100", "--protected-mode", "yes", bind="127.0.0.1 127.0.0.2"
    ) as s:
        try:
            probe = _connect_from("127.0.0.2", s.port, "127.0.0.2")
        except OSError:
            pytest.skip("no 127.0.0.2 on this host")
        got = _read_all(probe)
        probe.close()
        assert got.startswith(b"-DENIED Redis is running in protected mode")
        runner = start_busy(s, "EVAL", "while true do end", "0")
        sock = _connect_from("127.0.0.2", s.port, "127.0.0.2")
        got = _read_all(sock)
        sock.close()
        assert got.startswith(b"-DENIED Redis is running in protected mode")
        assert outcome(s, "PING") == BUSY_EVAL  # still running: not killed
        assert outcome(s, "SCRIPT", "KILL") == b"+OK\r\n"
        runner.read_reply()
        runner.close()


# -------------------------------------------------------------------- loading
KEYS = 20000


@pytest.fixture(scope="module")
def big_rdb():
    """An RDB of KEYS string keys, written by redis-server itself."""
    d = tempfile.mkdtemp(prefix="vermilion-loading-")
    try:
        with Spawned("redis", dir=d) as r:
            assert outcome(r, "DEBUG", "POPULATE", KEYS, "key", 10) == b"+OK\r\n"
            assert outcome(r, "SAVE") == b"+OK\r\n"
        yield os.path.join(d, "dump.rdb")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def big_aof():
    """An appendonlydir (command-format base and an incr file), written by redis-server."""
    d = tempfile.mkdtemp(prefix="vermilion-loading-aof-")
    try:
        with Spawned("redis", "--appendonly", "yes", "--aof-use-rdb-preamble", "no", dir=d) as r:
            c = r.conn(timeout=60)
            batch = b"".join(
                b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(b"key:%d" % i), b"key:%d" % i)
                for i in range(KEYS)
            )
            c.send(batch)
            for _ in range(KEYS):
                c.read_reply()
            assert c.call("DBSIZE") == b":%d\r\n" % KEYS
            c.close()
        yield os.path.join(d, "appendonlydir")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def loading_server(kind, rdb=None, aof=None, delay=200, extra=()):
    d = tempfile.mkdtemp(prefix="vermilion-probe-")
    args = [
        "--key-load-delay",
        str(delay),
        "--loading-process-events-interval-bytes",
        "1024",
    ] + list(extra)
    if rdb is not None:
        shutil.copy(rdb, os.path.join(d, "dump.rdb"))
    if aof is not None:
        shutil.copytree(aof, os.path.join(d, "appendonlydir"))
        args += ["--appendonly", "yes"]
    s = Spawned(kind, *args, dir=d)
    s.own_dir = True  # stop() removes it
    return s


def info_fields(server):
    raw = outcome(server, "INFO", "persistence")
    assert isinstance(raw, bytes) and raw.startswith(b"$"), raw
    lines = raw.split(b"\r\n")[1:]
    return [ln.decode().split(":", 1) for ln in lines if b":" in ln]


LOADING_FIELDS = [
    "loading_start_time",
    "loading_total_bytes",
    "loading_rdb_used_mem",
    "loading_loaded_bytes",
    "loading_loaded_perc",
    "loading_eta_seconds",
]


@pytest.mark.parametrize("kind", KINDS)
def test_clients_get_loading_while_rdb_loads(kind, big_rdb):
    s = loading_server(kind, rdb=big_rdb)
    try:
        # the connection was made while loading: it is answered, not left hanging
        assert outcome(s, "GET", "key:1") == LOADING
        assert outcome(s, "PING") == LOADING  # PING has no "loading" flag
        assert outcome(s, "DBSIZE") == LOADING
        assert outcome(s, "ECHO", "hi") == b"$2\r\nhi\r\n"  # flagged "loading"
        c = s.conn()
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("GET", "key:1") == LOADING
        assert c.call("EXEC").startswith(b"-EXECABORT")
        c.close()
        fields = info_fields(s)
        names = [k for k, _ in fields]
        values = dict(fields)
        assert values["loading"] == "1"
        assert values["async_loading"] == "0"
        # the progress block closes the section, in Redis's order
        assert names[-len(LOADING_FIELDS) :] == LOADING_FIELDS
        assert int(values["loading_total_bytes"]) == os.path.getsize(big_rdb)
        assert int(values["loading_rdb_used_mem"]) > 0  # the file's used-mem AUX
        assert 0 <= float(values["loading_loaded_perc"]) < 100
        first = int(values["loading_loaded_bytes"])
        keys = int(values["rdb_last_load_keys_loaded"])
        time.sleep(0.5)
        values = dict(info_fields(s))
        assert int(values["loading_loaded_bytes"]) > first  # it moves
        assert keys < int(values["rdb_last_load_keys_loaded"]) < KEYS  # keys so far
        # and at the end, the whole dataset is there
        wait_until(lambda: outcome(s, "DBSIZE") == b":%d\r\n" % KEYS, timeout=60)
        values = dict(info_fields(s))
        assert values["loading"] == "0"
        assert "loading_loaded_bytes" not in values
        assert s.alive()
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_clients_get_loading_while_aof_loads(kind, big_aof):
    s = loading_server(kind, aof=big_aof, delay=200)
    try:
        assert outcome(s, "GET", "key:1") == LOADING
        values = dict(info_fields(s))
        assert values["loading"] == "1"
        assert int(values["loading_total_bytes"]) > 0
        wait_until(lambda: outcome(s, "DBSIZE") == b":%d\r\n" % KEYS, timeout=90)
        assert outcome(s, "GET", "key:1") == b"$1\r\nv\r\n"
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_during_loading_exits_cleanly_without_saving(kind, big_rdb):
    # save rules are on: a save now would overwrite the file with half of it
    s = loading_server(kind, rdb=big_rdb, extra=["--save", "3600 1"])
    try:
        assert outcome(s, "GET", "key:1") == LOADING
        before = os.path.getsize(os.path.join(s.dir, "dump.rdb"))
        assert gone(outcome(s, "SHUTDOWN"))
        assert wait_exit(s) == 0
        assert os.path.getsize(os.path.join(s.dir, "dump.rdb")) == before
        log = s.log()
        assert "User requested shutdown..." in log
        assert "Saving the final RDB snapshot" not in log
        assert "is now ready to exit, bye bye..." in log
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_during_loading_exits_cleanly_without_saving(kind, big_rdb):
    s = loading_server(kind, rdb=big_rdb, extra=["--save", "3600 1"])
    try:
        assert outcome(s, "GET", "key:1") == LOADING
        before = os.path.getsize(os.path.join(s.dir, "dump.rdb"))
        s.proc.send_signal(signal.SIGTERM)
        assert wait_exit(s) == 0
        assert os.path.getsize(os.path.join(s.dir, "dump.rdb")) == before
        log = s.log()
        assert "Received shutdown signal during loading, scheduling shutdown." in log
        assert "is now ready to exit, bye bye..." in log
    finally:
        s.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_during_loading_without_event_processing_is_not_lost(kind, big_rdb):
    # events are never processed during this load (the interval exceeds the
    # file): the signal waits for the load to end, then the server stops
    s = loading_server(
        kind,
        rdb=big_rdb,
        delay=100,
        extra=["--loading-process-events-interval-bytes", str(1 << 30)],
    )
    try:
        time.sleep(0.3)
        assert s.alive()
        s.proc.send_signal(signal.SIGTERM)
        assert wait_exit(s, timeout=60) == 0
        log = s.log()
        assert "Received shutdown signal during loading, scheduling shutdown." in log
        assert log.index("Done loading RDB") < log.index("User requested shutdown...")
    finally:
        s.stop()
