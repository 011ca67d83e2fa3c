"""MIGRATE against redis-server 7.0, byte for byte.

The ``diff`` pair (a redis-server and a Vermilion as sources) runs the same
MIGRATE into the same target, once into a redis-server and once into a
Vermilion: so every case covers redis-server -> Vermilion, Vermilion ->
redis-server, Vermilion -> Vermilion (and the reference redis -> redis). The
replies, and what the source and the target hold afterwards, must be identical.
"""

import glob
import os
import socket
import time

import pytest

from support import RawConn, RealRedis, REDIS_SERVER
from vermilion.embed import start_server

BUSY = b"-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"


@pytest.fixture(scope="module")
def redis_target():
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: no reference target")
    t = RealRedis()
    yield t.port
    t.stop()


@pytest.fixture(scope="module")
def vermilion_target():
    t = start_server(enable_debug_command="yes")
    yield t.port
    t.stop()


@pytest.fixture(params=["redis-target", "vermilion-target"])
def target(request, diff):
    port = request.getfixturevalue(
        "redis_target" if request.param == "redis-target" else "vermilion_target"
    )
    t = RawConn("127.0.0.1", port)
    t.call("FLUSHALL")
    t.port = port
    yield t
    # back to a target anyone can write to
    t.call("ACL", "SETUSER", "default", "on", "nopass")
    t.call("AUTH", "default", "any")
    t.call("ACL", "DELUSER", "mover")
    t.call("FLUSHALL")
    t.close()


def _lines(script):
    import shlex

    return [shlex.split(ln) for ln in script.strip().splitlines() if ln.strip()]


def both(diff, target, setup, migrates, src_checks="", tgt_checks="", tgt_setup=""):
    """Each source in turn: set up, MIGRATE into ``target`` (``PORT`` in the
    arguments is its port), then read back; the two runs must be identical."""
    runs = []
    for src in (diff.ref, diff.our):
        src.call("FLUSHALL")
        target.call("FLUSHALL")
        for cmd in _lines(tgt_setup):
            target.call(*cmd)
        for cmd in _lines(setup):
            src.call(*cmd)
        replies = []
        for cmd in _lines(migrates):
            cmd = [target.port if a == "PORT" else a for a in cmd]
            replies.append(src.call(*cmd))
        state = [src.call(*c) for c in _lines(src_checks)]
        state += [target.call(*c) for c in _lines(tgt_checks)]
        target.call("SELECT", 0)
        runs.append((replies, state))
    assert runs[1] == runs[0], "redis: %r\nvermilion: %r" % (runs[0], runs[1])
    return runs[0]


# ------------------------------------------------------------------ syntax
def test_migrate_syntax_errors(diff):
    diff.run("""
        SET k v
        MIGRATE
        MIGRATE 127.0.0.1 1 k 0
        MIGRATE 127.0.0.1 1 k 0 100 foo
        MIGRATE 127.0.0.1 1 k 0 100 COPY REPLACE foo
        MIGRATE 127.0.0.1 1 k 0 100 AUTH
        MIGRATE 127.0.0.1 1 k 0 100 AUTH2
        MIGRATE 127.0.0.1 1 k 0 100 AUTH2 user
        MIGRATE 127.0.0.1 1 k 0 100 KEYS a
        MIGRATE 127.0.0.1 1 k 0 100 COPY KEYS
        MIGRATE 127.0.0.1 1 k x 100
        MIGRATE 127.0.0.1 1 k 0 x
        MIGRATE 127.0.0.1 1 k 0 1.5
        MIGRATE 127.0.0.1 1 k 99999999999999999999 100
        MIGRATE 127.0.0.1 1 k x y
        MIGRATE 127.0.0.1 1 k x y foo
        MIGRATE 127.0.0.1 1 nothere 0 100
        MIGRATE 127.0.0.1 1 nothere x 100
        MIGRATE 127.0.0.1 1 '' 0 100 KEYS
        MIGRATE 127.0.0.1 1 '' 0 100 KEYS a b c
        MIGRATE 127.0.0.1 1 '' 0 100 COPY REPLACE AUTH p AUTH2 u p KEYS nothere
        MIGRATE 127.0.0.1 1 nothere 0 100 KEYS k
        MIGRATE 127.0.0.1 1 k 0 100 keys k
        RESTORE-ASKING k
        RESTORE-ASKING k 0 garbage
        RESTORE-ASKING k 0 garbage foo
        EXISTS k
    """)


def test_migrate_io_errors(diff):
    # refused: the connect is pending, the write fails; a name that does not
    # resolve or a bad port fails to connect at all
    diff.run("""
        SET k v
        MIGRATE 127.0.0.1 1 k 0 100
        MIGRATE 127.0.0.1 abc k 0 100
        MIGRATE 127.0.0.1 -1 k 0 100
        MIGRATE host.invalid 1 k 0 100
        MIGRATE '' 1 k 0 100
        EXISTS k
    """)


def test_migrate_blackhole_target_times_out_writing(diff):
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)
    port = lst.getsockname()[1]
    fill = []
    for _ in range(3):  # fill the accept queue: further SYNs are dropped
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fill.append(s)
    try:
        diff("SET", "k", "v")
        t0 = time.time()
        r = diff("MIGRATE", "127.0.0.1", port, "k", 0, 200)
        assert r == b"-IOERR error or timeout writing to target instance\r\n"
        assert time.time() - t0 < 4
        diff("EXISTS", "k")
    finally:
        for s in fill + [lst]:
            s.close()


# -------------------------------------------------------------- migrations
def test_migrate_single_key(diff, target):
    both(
        diff,
        target,
        "RPUSH list a b c",
        "MIGRATE 127.0.0.1 PORT list 0 5000",
        src_checks="EXISTS list",
        tgt_checks="LRANGE list 0 -1\nTTL list\nOBJECT ENCODING list",
    )


def test_migrate_ttl_and_db(diff, target):
    both(
        diff,
        target,
        "SET k v\nPEXPIRE k 100000\nHSET h f v\nSELECT 2\nSET other v",
        "MIGRATE 127.0.0.1 PORT k 3 5000\nMIGRATE 127.0.0.1 PORT h 4 5000",
        src_checks="DBSIZE\nSELECT 0\nDBSIZE",
        tgt_checks="DBSIZE\nSELECT 3\nGET k\nTTL k\nSELECT 4\nHGETALL h\nTTL h",
    )


def test_migrate_keys_form(diff, target):
    both(
        diff,
        target,
        "MSET a 1 b 2 c 3 d 4\nSADD s x y\nZADD z 1 m",
        "MIGRATE 127.0.0.1 PORT '' 9 5000 KEYS a nothere c s z\n"
        "MIGRATE 127.0.0.1 PORT '' 9 5000 KEYS nothere",
        src_checks="MGET a b c d\nEXISTS s z",
        tgt_checks="SELECT 9\nMGET a b c d\nSCARD s\nSISMEMBER s x\nZRANGE z 0 -1 WITHSCORES",
    )


def test_migrate_copy_replace_busykey(diff, target):
    replies, _ = both(
        diff,
        target,
        "MSET a 1 b 2 c 3",
        "MIGRATE 127.0.0.1 PORT b 0 5000\n"
        "MIGRATE 127.0.0.1 PORT b 0 5000 COPY\n"
        "MIGRATE 127.0.0.1 PORT '' 0 5000 COPY KEYS a b c\n"
        "MIGRATE 127.0.0.1 PORT '' 0 5000 COPY REPLACE KEYS a b c\n"
        "MIGRATE 127.0.0.1 PORT '' 0 5000 REPLACE KEYS a b c",
        src_checks="MGET a b c\nDBSIZE",
        tgt_checks="MGET a b c\nDBSIZE",
        tgt_setup="SET b busy",
    )
    assert replies[0] == BUSY
    assert replies[2] == BUSY


def test_migrate_delete_just_acknowledged_keys(diff, target):
    both(
        diff,
        target,
        "MSET a 1 b 2 c 3 d 4 c 5 e 6 f 7 g 8 h 9 i 10 l 11 m 12 n 13 o 14 p 15 q 16",
        "MIGRATE 127.0.0.1 PORT '' 9 5000 KEYS a b c d e f g h i l m n o p q",
        src_checks="DBSIZE\nEXISTS c d",
        tgt_checks="SELECT 9\nDBSIZE\nMGET c d",
        tgt_setup="SELECT 9\nMSET c _ d _\nSELECT 0",
    )


def test_migrate_large_values(diff, target):
    big = "x" * 200000
    both(
        diff,
        target,
        "SET big %s\nRPUSH l %s" % (big, " ".join(str(i) for i in range(2000))),
        "MIGRATE 127.0.0.1 PORT '' 0 5000 KEYS big l",
        src_checks="DBSIZE",
        tgt_checks="STRLEN big\nLLEN l\nLINDEX l 1999",
    )


def test_migrate_target_db_out_of_range(diff, target):
    both(
        diff,
        target,
        "SET k v",
        "MIGRATE 127.0.0.1 PORT k 16 5000\nMIGRATE 127.0.0.1 PORT k -1 5000\n"
        "MIGRATE 127.0.0.1 PORT k 1 5000",
        src_checks="EXISTS k",
        tgt_checks="SELECT 1\nGET k",
    )


def test_migrate_auth(diff, target):
    replies, _ = both(
        diff,
        target,
        "LPUSH list a b c d",
        "MIGRATE 127.0.0.1 PORT list 9 5000 REPLACE\n"
        "MIGRATE 127.0.0.1 PORT list 9 5000 REPLACE AUTH wrong\n"
        "MIGRATE 127.0.0.1 PORT list 9 5000 COPY REPLACE AUTH foobar\n"
        "MIGRATE 127.0.0.1 PORT list 9 5000 REPLACE AUTH2 default foobar",
        src_checks="EXISTS list",
        tgt_checks="AUTH foobar\nSELECT 9\nLRANGE list 0 -1",
        tgt_setup="CONFIG SET requirepass foobar\nCLIENT KILL SKIPME yes",
    )
    assert replies[0] == (
        b"-ERR Target instance replied with error: NOAUTH Authentication required.\r\n"
    )
    assert replies[2] == replies[3] == b"+OK\r\n"
    target.call("AUTH", "foobar")


def test_migrate_auth2_acl_user(diff, target):
    replies, _ = both(
        diff,
        target,
        "SET k v",
        "MIGRATE 127.0.0.1 PORT k 0 5000 AUTH2 mover bad\n"
        "MIGRATE 127.0.0.1 PORT k 0 5000 AUTH2 nobody s3cret\n"
        "MIGRATE 127.0.0.1 PORT k 0 5000 AUTH2 mover s3cret",
        src_checks="EXISTS k",
        tgt_checks="GET k",
        tgt_setup="ACL SETUSER mover on >s3cret ~* +@all\nAUTH mover s3cret\n"
        "ACL SETUSER default off\nCLIENT KILL SKIPME yes",
    )
    assert replies[0].startswith(b"-ERR Target instance replied with error: WRONGPASS")
    assert replies[2] == b"+OK\r\n"


def test_migrate_auth2_without_the_restore_permission(diff, target):
    both(
        diff,
        target,
        "SET k v",
        "MIGRATE 127.0.0.1 PORT k 0 5000 AUTH2 mover s3cret",
        src_checks="EXISTS k",
        tgt_checks="EXISTS k",
        tgt_setup="ACL SETUSER mover on >s3cret ~* +@all -restore",
    )


def _conns(t):
    info = t.call("INFO", "stats").decode()
    return int(info.split("total_connections_received:")[1].split("\r\n")[0])


def _cached(conn):
    info = conn.call("INFO", "stats").decode()
    return int(info.split("migrate_cached_sockets:")[1].split("\r\n")[0])


def test_migrate_connection_cache(diff, target):
    """Two MIGRATEs from one source use one connection; SELECT is sent again only
    when the db changes; a killed cached connection is replaced by the retry."""
    seen = []
    for src in (diff.ref, diff.our):
        src.call("MSET", "a", 1, "b", 2, "c", 3, "d", 4)
        target.call("FLUSHALL")
        target.call("CLIENT", "KILL", "SKIPME", "yes")  # (a connection cached earlier)
        target.call("CONFIG", "RESETSTAT")
        n0 = _conns(target)
        replies = [
            src.call("MIGRATE", "127.0.0.1", target.port, "a", 1, 5000),
            src.call("MIGRATE", "127.0.0.1", target.port, "b", 1, 5000),
            _cached(src),
        ]
        n1 = _conns(target)
        replies.append(src.call("MIGRATE", "127.0.0.1", target.port, "c", 2, 5000))
        stats = target.call("INFO", "commandstats").decode()
        selects = stats.split("cmdstat_select:calls=")[1].split(",")[0]
        target.call("CLIENT", "KILL", "SKIPME", "yes")
        replies.append(src.call("MIGRATE", "127.0.0.1", target.port, "d", 2, 5000))
        seen.append((replies, n1 - n0, selects, _conns(target) - n1, src.call("DBSIZE")))
    assert seen[0] == seen[1]
    assert seen[0][0][:2] == [b"+OK\r\n", b"+OK\r\n"]
    assert seen[0][1:5] == (1, "2", 1, b":0\r\n")


def test_migrate_timeout_reading(diff, target):
    seen = []
    for src in (diff.ref, diff.our):
        src.call("SET", "k", "v")
        sleeper = RawConn("127.0.0.1", target.port)
        sleeper.send_command("DEBUG", "SLEEP", "0.8")
        time.sleep(0.1)
        t0 = time.time()
        r = src.call("MIGRATE", "127.0.0.1", target.port, "k", 0, 300)
        took = time.time() - t0
        assert sleeper.read_reply() == b"+OK\r\n"
        sleeper.close()
        seen.append((r, took < 0.7, src.call("EXISTS", "k"), _cached(src)))
    assert seen[0] == seen[1]
    assert seen[0][0] == b"-IOERR error or timeout reading to target instance\r\n"


def test_migrate_propagates_del(real_redis, tmp_path):
    """MIGRATE reaches the AOF as DEL of the acknowledged keys, on both servers."""
    rdir = tmp_path / "redis"
    vdir = tmp_path / "vermilion"
    rdir.mkdir()
    vdir.mkdir()
    ref = RealRedis("--appendonly", "yes", "--appendfsync", "always", "--dir", str(rdir))
    ours = start_server(dir=str(vdir), appendonly="yes", appendfsync="always")
    tgt = RawConn("127.0.0.1", real_redis.port)
    aofs = []
    try:
        for port, d in ((ref.port, rdir), (ours.port, vdir)):
            tgt.call("FLUSHALL")
            tgt.call("SET", "y", "busy")
            c = RawConn("127.0.0.1", port)
            c.call("MSET", "x", 1, "y", 2, "z", 3, "w", 4)
            r = c.call("MIGRATE", "127.0.0.1", real_redis.port, "", 0, 5000, "KEYS", "x", "y", "z")
            assert r == BUSY
            c.call("MIGRATE", "127.0.0.1", real_redis.port, "w", 0, 5000, "COPY")
            c.call("MIGRATE", "127.0.0.1", real_redis.port, "w", 0, 5000, "REPLACE")
            c.close()
            incr = sorted(glob.glob(os.path.join(str(d), "*", "*.incr.aof")))[-1]
            with open(incr, "rb") as fh:
                aof = fh.read()
            aofs.append(aof[aof.index(b"DEL") - 8 :])
    finally:
        tgt.call("FLUSHALL")
        tgt.close()
        ref.stop()
        ours.stop()
    assert aofs[1] == aofs[0]
    assert aofs[0] == (b"*3\r\n$3\r\nDEL\r\n$1\r\nx\r\n$1\r\nz\r\n*2\r\n$3\r\nDEL\r\n$1\r\nw\r\n")
