"""MIGRATE and RESTORE-ASKING on Vermilion (cluster.c), Vermilion -> Vermilion and
against a scripted fake target that records what MIGRATE sends: the pipeline
(AUTH, SELECT, RESTORE / RESTORE-ASKING), the connection cache, the retry on a
dropped connection, timeouts, and the DEL propagated to the AOF. The comparisons
with redis-server are in tests/differential/test_migrate.py."""

import os
import socket
import threading
import time

import pytest

from keyspace_helpers import on_loop
from support import RawConn
from vermilion.embed import start_server

BUSY = b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"


@pytest.fixture
def pair():
    src = start_server(enable_debug_command="yes")
    dst = start_server(enable_debug_command="yes")
    a = RawConn("127.0.0.1", src.port)
    b = RawConn("127.0.0.1", dst.port)
    yield src, dst, a, b
    a.close()
    b.close()
    src.stop()
    dst.stop()


def _info_field(conn, section, field):
    info = conn.call("INFO", section).decode()
    for line in info.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    raise AssertionError("no %s in INFO %s" % (field, section))


def _cmdstat_calls(conn, name):
    info = conn.call("INFO", "commandstats").decode()
    for line in info.split("\r\n"):
        if line.startswith("cmdstat_%s:" % name):
            return int(line.split("calls=", 1)[1].split(",", 1)[0])
    return 0


def _clients(conn):
    return int(_info_field(conn, "clients", "connected_clients"))


# ------------------------------------------------------------------ basics
def test_migrate_moves_a_key_with_ttl_into_the_db(pair):
    src, dst, a, b = pair
    a.call("RPUSH", "list", "x", "y", "z")
    a.call("PEXPIRE", "list", 50000)
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "list", 5, 5000) == b"+OK\r\n"
    assert a.call("EXISTS", "list") == b":0\r\n"
    assert b.call("EXISTS", "list") == b":0\r\n"  # db 0: not there
    b.call("SELECT", 5)
    assert b.call("LRANGE", "list", 0, -1) == b"*3\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n"
    pttl = int(b.call("PTTL", "list")[1:-2])
    assert 45000 < pttl <= 50000
    a.call("SET", "plain", "v")
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "plain", 5, 5000) == b"+OK\r\n"
    assert b.call("TTL", "plain") == b":-1\r\n"


def test_migrate_nokey(pair):
    src, dst, a, b = pair
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "nothere", 0, 1000) == b"+NOKEY\r\n"
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "", 0, 1000, "KEYS", "x", "y") == (
        b"+NOKEY\r\n"
    )
    # nothing to send: no connection was made
    assert _info_field(a, "stats", "migrate_cached_sockets") == "0"


def test_migrate_keys_form_moves_the_existing_ones(pair):
    src, dst, a, b = pair
    a.call("MSET", "k1", "v1", "k2", "v2", "k3", "v3")
    r = a.call("MIGRATE", "127.0.0.1", dst.port, "", 0, 5000, "KEYS", "k1", "nope", "k3")
    assert r == b"+OK\r\n"
    assert a.call("MGET", "k1", "k2", "k3") == b"*3\r\n$-1\r\n$2\r\nv2\r\n$-1\r\n"
    assert b.call("MGET", "k1", "k2", "k3") == b"*3\r\n$2\r\nv1\r\n$-1\r\n$2\r\nv3\r\n"


def test_migrate_copy_and_replace(pair):
    src, dst, a, b = pair
    a.call("SET", "k", "new")
    b.call("SET", "k", "old")
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "k", 0, 5000, "COPY") == BUSY
    assert a.call("GET", "k") == b"$3\r\nnew\r\n"
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "k", 0, 5000, "COPY", "REPLACE") == b"+OK\r\n"
    assert a.call("GET", "k") == b"$3\r\nnew\r\n"  # COPY keeps the source
    assert b.call("GET", "k") == b"$3\r\nnew\r\n"
    a.call("SET", "k", "newer")
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "k", 0, 5000, "REPLACE") == b"+OK\r\n"
    assert a.call("EXISTS", "k") == b":0\r\n"
    assert b.call("GET", "k") == b"$5\r\nnewer\r\n"


def test_migrate_deletes_only_acknowledged_keys(pair):
    src, dst, a, b = pair
    a.call("MSET", "a", 1, "b", 2, "c", 3, "d", 4, "e", 5)
    b.call("SELECT", 9)
    b.call("MSET", "b", "_", "d", "_")
    r = a.call("MIGRATE", "127.0.0.1", dst.port, "", 9, 5000, "KEYS", "a", "b", "c", "d", "e")
    assert r == BUSY  # the first error, once
    assert a.call("DBSIZE") == b":2\r\n"
    assert a.call("MGET", "b", "d") == b"*2\r\n$1\r\n2\r\n$1\r\n4\r\n"
    assert b.call("MGET", "a", "b", "c", "d", "e") == (
        b"*5\r\n$1\r\n1\r\n$1\r\n_\r\n$1\r\n3\r\n$1\r\n_\r\n$1\r\n5\r\n"
    )


def test_migrate_many_keys_and_large_values(pair):
    src, dst, a, b = pair
    big = b"x" * (1 << 20)
    a.call("SET", "big", big)
    for i in range(200):
        a.send_command("HSET", "h%d" % i, "f", i)
    for i in range(200):
        a.read_reply()
    keys = ["big"] + ["h%d" % i for i in range(200)]
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "", 0, 5000, "KEYS", *keys) == b"+OK\r\n"
    assert a.call("DBSIZE") == b":0\r\n"
    assert b.call("DBSIZE") == b":201\r\n"
    assert b.call("STRLEN", "big") == b":1048576\r\n"
    assert b.call("HGET", "h199", "f") == b"$3\r\n199\r\n"


def test_migrate_into_a_db_out_of_range(pair):
    src, dst, a, b = pair
    a.call("SET", "k", "v")
    r = a.call("MIGRATE", "127.0.0.1", dst.port, "k", 99, 5000)
    assert r == b"-ERR Target instance replied with error: ERR DB index is out of range\r\n"
    assert a.call("EXISTS", "k") == b":1\r\n"
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "k", 1, 5000) == b"+OK\r\n"


# ------------------------------------------------------------ authentication
def test_migrate_auth(pair):
    src, dst, a, b = pair
    b.call("CONFIG", "SET", "requirepass", "foobar")
    b.call("AUTH", "foobar")
    a.call("LPUSH", "list", "a", "b")
    r = a.call("MIGRATE", "127.0.0.1", dst.port, "list", 0, 5000)
    assert r == b"-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "list", 0, 5000, "AUTH", "foobar") == (
        b"+OK\r\n"
    )
    assert b.call("LRANGE", "list", 0, -1) == b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    a.call("LPUSH", "list", "c")
    b.call("CONFIG", "SET", "requirepass", "foobar2")
    r = a.call("MIGRATE", "127.0.0.1", dst.port, "list", 0, 5000, "AUTH", "foobar", "REPLACE")
    assert r == (
        b"-ERR Target instance replied with error: "
        b"WRONGPASS invalid username-password pair or user is disabled.\r\n"
    )
    assert a.call("EXISTS", "list") == b":1\r\n"
    # the password does not reach the slowlog
    a.call("CONFIG", "SET", "slowlog-log-slower-than", 0)
    a.call("MIGRATE", "127.0.0.1", dst.port, "list", 0, 5000, "AUTH", "foobar2", "REPLACE")
    log = a.call("SLOWLOG", "GET", 5)
    assert b"foobar2" not in log and b"(redacted)" in log


def test_migrate_auth2(pair):
    src, dst, a, b = pair
    b.call("ACL", "SETUSER", "mover", "on", ">s3cret", "~*", "+@all")
    b.call("ACL", "SETUSER", "default", "off")
    a.call("SET", "k", "v")
    r = a.call("MIGRATE", "127.0.0.1", dst.port, "k", 0, 5000, "AUTH2", "mover", "bad")
    assert r.startswith(b"-ERR Target instance replied with error: WRONGPASS")
    r = a.call("MIGRATE", "127.0.0.1", dst.port, "k", 0, 5000, "AUTH2", "mover", "s3cret")
    assert r == b"+OK\r\n"
    b.call("AUTH", "mover", "s3cret")
    assert b.call("GET", "k") == b"$1\r\nv\r\n"


# --------------------------------------------------------- connection cache
def test_migrate_caches_the_connection_and_selects_only_on_change(pair):
    src, dst, a, b = pair
    conns0 = int(_info_field(b, "stats", "total_connections_received"))
    a.call("MSET", "k1", 1, "k2", 2, "k3", 3)
    assert _info_field(a, "stats", "migrate_cached_sockets") == "0"
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "k1", 3, 5000) == b"+OK\r\n"
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "k2", 3, 5000) == b"+OK\r\n"
    assert _info_field(a, "stats", "migrate_cached_sockets") == "1"
    assert int(_info_field(b, "stats", "total_connections_received")) == conns0 + 1
    assert _cmdstat_calls(b, "select") == 1
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "k3", 4, 5000) == b"+OK\r\n"
    assert _cmdstat_calls(b, "select") == 2
    assert int(_info_field(b, "stats", "total_connections_received")) == conns0 + 1
    assert _clients(b) == 2  # ours and MIGRATE's
    # "localhost:port" is another cache entry, hence another connection
    a.call("SET", "k4", 4)
    assert a.call("MIGRATE", "localhost", dst.port, "k4", 4, 5000) == b"+OK\r\n"
    assert _info_field(a, "stats", "migrate_cached_sockets") == "2"


def test_migrate_cached_sockets_close_after_10s_idle(pair):
    src, dst, a, b = pair
    a.call("SET", "k", "v")
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "k", 0, 5000) == b"+OK\r\n"
    cache = src.server.migrate_cached_sockets
    assert len(cache) == 1

    def age(seconds):
        for cs in cache.values():
            cs.last_use -= seconds

    on_loop(src, lambda: age(8))
    time.sleep(1.2)
    assert _info_field(a, "stats", "migrate_cached_sockets") == "1"  # <= 10 s: kept
    on_loop(src, lambda: age(4))
    deadline = time.time() + 5
    while _info_field(a, "stats", "migrate_cached_sockets") != "0":
        assert time.time() < deadline
        time.sleep(0.1)
    deadline = time.time() + 5
    while _clients(b) != 1:
        assert time.time() < deadline  # the target saw the connection close
        time.sleep(0.1)


def test_migrate_retries_once_when_the_cached_connection_died(pair):
    src, dst, a, b = pair
    a.call("MSET", "k1", 1, "k2", 2)
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "k1", 0, 5000) == b"+OK\r\n"
    b.call("CLIENT", "KILL", "SKIPME", "yes")
    conns0 = int(_info_field(b, "stats", "total_connections_received"))
    assert a.call("MIGRATE", "127.0.0.1", dst.port, "k2", 0, 5000) == b"+OK\r\n"
    assert int(_info_field(b, "stats", "total_connections_received")) == conns0 + 1
    assert b.call("MGET", "k1", "k2") == b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"


# ----------------------------------------------------------------- timeouts
def test_migrate_timeout_reading(pair):
    src, dst, a, b = pair
    a.call("SET", "k", "v")
    sleeper = RawConn("127.0.0.1", dst.port)
    sleeper.send_command("DEBUG", "SLEEP", "1")
    time.sleep(0.1)
    t0 = time.time()
    r = a.call("MIGRATE", "127.0.0.1", dst.port, "k", 0, 300)
    assert r == b"-IOERR error or timeout reading to target instance\r\n"
    assert time.time() - t0 < 0.9  # a timeout is not retried
    assert sleeper.read_reply() == b"+OK\r\n"
    sleeper.close()
    assert a.call("EXISTS", "k") == b":1\r\n"
    assert _info_field(a, "stats", "migrate_cached_sockets") == "0"
    errs = a.call("INFO", "errorstats")
    assert b"errorstat_IOERR:count=1" in errs


def test_migrate_blackhole_and_refused_targets(pair):
    src, dst, a, b = pair
    a.call("SET", "k", "v")
    # a listener that never accepts, its queue full: the SYN goes unanswered
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fill = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fill.append(s)
    time.sleep(0.1)
    t0 = time.time()
    r = a.call("MIGRATE", "127.0.0.1", port, "k", 0, 200)
    took = time.time() - t0
    assert r == b"-IOERR error or timeout writing to target instance\r\n"
    assert 0.35 < took < 2  # the connect wait, then the write's
    for s in fill + [lst]:
        s.close()
    # refused: the pending connect fails at the first write (retried once)
    r = a.call("MIGRATE", "127.0.0.1", port, "k", 0, 200)
    assert r == b"-IOERR error or timeout writing to target instance\r\n"
    r = a.call("MIGRATE", "host.invalid", port, "k", 0, 200)
    assert r == b"-IOERR error or timeout connecting to the client\r\n"
    assert a.call("EXISTS", "k") == b":1\r\n"


# --------------------------------------------------- a scripted fake target
class FakeTarget:
    """Accepts connections, records each command, answers with ``reply(argv)``."""

    def __init__(self, reply=None):
        self.lst = socket.socket()
        self.lst.bind(("127.0.0.1", 0))
        self.lst.listen(8)
        self.port = self.lst.getsockname()[1]
        self.reply = reply or (lambda argv: b"+OK\r\n")
        self.commands = []  # (connection number, argv)
        self.connections = 0
        self.socks = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                s, _ = self.lst.accept()
            except OSError:
                return
            self.connections += 1
            self.socks.append(s)
            threading.Thread(target=self._conn, args=(s, self.connections), daemon=True).start()

    def _conn(self, s, n):
        f = s.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                argv = []
                for _ in range(int(line[1:])):
                    ln = int(f.readline()[1:])
                    argv.append(f.read(ln + 2)[:-2])
                self.commands.append((n, argv))
                out = self.reply(argv)
                if out is None:
                    s.close()
                    return
                s.sendall(out)
        except (OSError, ValueError):
            return

    def names(self):
        return [(n, argv[0]) for n, argv in self.commands]

    def close(self):
        self.lst.close()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


@pytest.fixture
def src():
    srv = start_server()
    conn = RawConn("127.0.0.1", srv.port)
    yield srv, conn
    conn.close()
    srv.stop()


def test_migrate_pipeline_sent(src):
    srv, a = src
    t = FakeTarget()
    try:
        a.call("SET", "k1", "v1")
        a.call("SET", "k2", "v2", "PX", 100000)
        r = a.call(
            "MIGRATE", "127.0.0.1", t.port, "", 7, 5000,
            "REPLACE", "AUTH2", "u", "p", "KEYS", "k1", "k2",
        )  # fmt: skip
        assert r == b"+OK\r\n"
        cmds = [argv for _, argv in t.commands]
        assert cmds[0] == [b"AUTH", b"u", b"p"]
        assert cmds[1] == [b"SELECT", b"7"]
        assert cmds[2][:3] == [b"RESTORE", b"k1", b"0"] and cmds[2][4] == b"REPLACE"
        assert cmds[3][0:2] == [b"RESTORE", b"k2"] and 99000 < int(cmds[3][2]) <= 100000
        assert len(cmds[2]) == len(cmds[3]) == 5
        assert cmds[2][3][-10:-8] == b"\x0a\x00"  # RDB version 10, then the CRC
        # same db again: no SELECT; AUTH is sent every time
        a.call("SET", "k3", "v3")
        assert a.call("MIGRATE", "127.0.0.1", t.port, "k3", 7, 5000, "AUTH", "p") == b"+OK\r\n"
        assert [argv[0] for _, argv in t.commands[4:]] == [b"AUTH", b"RESTORE"]
        assert t.commands[4][1] == [b"AUTH", b"p"]
        assert len(t.commands[5][1]) == 4
        assert t.connections == 1
    finally:
        t.close()


def test_migrate_target_error_resets_the_selected_db(src):
    srv, a = src
    fail = [True]

    def reply(argv):
        if argv[0] == b"RESTORE" and fail[0]:
            fail[0] = False
            return b"-ERR nope\r\n"
        return b"+OK\r\n"

    t = FakeTarget(reply)
    try:
        a.call("MSET", "k1", 1, "k2", 2)
        r = a.call("MIGRATE", "127.0.0.1", t.port, "k1", 2, 5000)
        assert r == b"-ERR Target instance replied with error: ERR nope\r\n"
        assert a.call("MIGRATE", "127.0.0.1", t.port, "k1", 2, 5000) == b"+OK\r\n"
        assert a.call("MIGRATE", "127.0.0.1", t.port, "k2", 2, 5000) == b"+OK\r\n"
        assert [name for _, name in t.names()] == [
            b"SELECT", b"RESTORE", b"SELECT", b"RESTORE", b"RESTORE",
        ]  # fmt: skip
    finally:
        t.close()


def test_migrate_retry_once_then_ioerr(src):
    srv, a = src
    t = FakeTarget(lambda argv: None)  # every connection dropped at the first command
    try:
        a.call("SET", "k", "v")
        r = a.call("MIGRATE", "127.0.0.1", t.port, "k", 0, 5000)
        assert r == b"-IOERR error or timeout reading to target instance\r\n"
        assert t.connections == 2
        assert a.call("EXISTS", "k") == b":1\r\n"
        assert srv.server.migrate_cached_sockets == {}
    finally:
        t.close()


def test_migrate_socket_error_after_some_replies_is_not_retried(src):
    srv, a = src
    seen = []

    def reply(argv):
        seen.append(argv[0])
        if len(seen) == 3:
            return None
        return b"+OK\r\n"

    t = FakeTarget(reply)
    try:
        a.call("MSET", "a", 1, "b", 2, "c", 3)
        r = a.call("MIGRATE", "127.0.0.1", t.port, "", 0, 5000, "KEYS", "a", "b", "c")
        assert r == b"-IOERR error or timeout reading to target instance\r\n"
        assert t.connections == 1
        # SELECT and a's RESTORE were acknowledged: a moved, b and c stayed
        assert a.call("MGET", "a", "b", "c") == b"*3\r\n$-1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    finally:
        t.close()


def test_migrate_empty_reply_line_is_an_io_error(src):
    srv, a = src
    t = FakeTarget(lambda argv: b"\r\n")
    try:
        a.call("SET", "k", "v")
        r = a.call("MIGRATE", "127.0.0.1", t.port, "k", 0, 5000)
        assert r == b"-IOERR error or timeout reading to target instance\r\n"
        assert t.connections == 2
    finally:
        t.close()


def test_migrate_long_error_line_is_cut_at_1023_bytes(src):
    srv, a = src
    msg = b"-ERR " + b"x" * 2000 + b"\r\n"
    t = FakeTarget(lambda argv: msg if argv[0] == b"RESTORE" else b"+OK\r\n")
    try:
        a.call("SET", "k", "v")
        r = a.call("MIGRATE", "127.0.0.1", t.port, "k", 0, 5000)
        assert r == b"-ERR Target instance replied with error: ERR " + b"x" * 1018 + b"\r\n"
    finally:
        t.close()


def test_migrate_sends_restore_asking_in_cluster_mode(tmp_path):
    srv = start_server(cluster_enabled="yes", dir=str(tmp_path))
    a = RawConn("127.0.0.1", srv.port)
    t = FakeTarget()
    try:
        # a one-node cluster serving every slot
        assert a.call("CLUSTER", "ADDSLOTSRANGE", 0, 16383) == b"+OK\r\n"
        deadline = time.time() + 10
        while b"cluster_state:ok" not in a.call("CLUSTER", "INFO"):
            assert time.time() < deadline
            time.sleep(0.1)
        a.call("SET", "k", "v")
        assert a.call("MIGRATE", "127.0.0.1", t.port, "k", 0, 5000) == b"+OK\r\n"
        assert [name for _, name in t.names()] == [b"SELECT", b"RESTORE-ASKING"]
    finally:
        t.close()
        a.close()
        srv.stop()


# ------------------------------------------------------------- RESTORE-ASKING
def test_restore_asking_is_restore(server):
    a = RawConn("127.0.0.1", server.port)
    a.call("SET", "k", "v")
    a.send_command("DUMP", "k")
    payload = a.read_reply().split(b"\r\n", 1)[1][:-2]
    assert a.call("RESTORE-ASKING", "k", 0, payload) == (
        b"-BUSYKEY Target key name already exists.\r\n"
    )
    assert a.call("RESTORE-ASKING", "k2", 0, payload) == b"+OK\r\n"
    assert a.call("RESTORE-ASKING", "k2", 0, payload, "REPLACE", "ABSTTL") == b"+OK\r\n"
    assert a.call("GET", "k2") == b"$1\r\nv\r\n"
    assert a.call("RESTORE-ASKING", "k3", 0, b"garbage") == (
        b"-ERR DUMP payload version or checksum are wrong\r\n"
    )
    assert a.call("RESTORE-ASKING", "k3") == (
        b"-ERR wrong number of arguments for 'restore-asking' command\r\n"
    )
    a.close()


# ---------------------------------------------------------------- propagation
def _aof_tail(tmp):
    aof_dir = os.path.join(str(tmp), "appendonlydir")
    incr = sorted(f for f in os.listdir(aof_dir) if f.endswith(".incr.aof"))[-1]
    with open(os.path.join(aof_dir, incr), "rb") as fh:
        return fh.read()


def test_migrate_propagates_del_of_the_moved_keys(tmp_path):
    srv = start_server(dir=str(tmp_path), appendonly="yes", appendfsync="always")
    dst = start_server()
    a = RawConn("127.0.0.1", srv.port)
    b = RawConn("127.0.0.1", dst.port)
    try:
        a.call("MSET", "x", 1, "y", 2, "z", 3)
        b.call("SET", "y", "busy")
        r = a.call("MIGRATE", "127.0.0.1", dst.port, "", 0, 5000, "KEYS", "x", "y", "z")
        assert r == BUSY
        a.call("SET", "c", 1)
        assert a.call("MIGRATE", "127.0.0.1", dst.port, "c", 0, 5000, "COPY") == b"+OK\r\n"
        aof = _aof_tail(tmp_path)
        assert b"*3\r\n$3\r\nDEL\r\n$1\r\nx\r\n$1\r\nz\r\n" in aof
        assert b"MIGRATE" not in aof.upper()
        assert aof.count(b"DEL") == 1  # COPY deletes nothing, propagates nothing
    finally:
        a.close()
        b.close()
        srv.stop()
        dst.stop()
