"""MULTI/EXEC/DISCARD/WATCH against redis-server, byte for byte."""

import time

from support import RawConn


def test_multi_exec_basic(diff):
    diff.run("""
    MULTI
    SET a 1
    INCR a
    GET a
    EXEC
    GET a
    """)


def test_exec_discard_without_multi(diff):
    diff("EXEC")
    diff("DISCARD")


def test_nested_multi_and_watch_inside(diff):
    diff("MULTI")
    diff("MULTI")
    diff("WATCH", "x")
    diff("SET", "x", "1")
    diff("EXEC")


def test_queue_errors_abort(diff):
    diff("MULTI")
    diff("SET", "a", "1")
    diff("NOSUCHCOMMAND", "x")
    diff("GET")
    diff("EXEC")
    diff("GET", "a")


def test_runtime_errors_do_not_abort(diff):
    diff.run("""
    SET s notanumber
    MULTI
    INCR s
    SET t 1
    EXEC
    GET t
    """)


def test_discard(diff):
    diff.run("""
    MULTI
    SET a 1
    DISCARD
    GET a
    """)


def test_empty_exec(diff):
    diff("MULTI")
    diff("EXEC")


def test_watch_unmodified_and_unwatch(diff):
    diff.run("""
    SET w 1
    WATCH w
    MULTI
    INCR w
    EXEC
    WATCH w
    UNWATCH
    SET w 5
    MULTI
    GET w
    EXEC
    """)


def test_watch_modified_by_other_client(real_redis, shared_vermilion):
    for port in (real_redis.port, shared_vermilion.port):
        a = RawConn("127.0.0.1", port)
        b = RawConn("127.0.0.1", port)
        a.call("FLUSHALL")
        a.call("SET", "w", "1")
        assert a.call("WATCH", "w") == b"+OK\r\n"
        b.call("SET", "w", "2")
        a.call("MULTI")
        a.call("INCR", "w")
        assert a.call("EXEC") == b"*-1\r\n"
        assert a.call("GET", "w") == b"$1\r\n2\r\n"
        a.call("HELLO", "3") if False else None
        a.close()
        b.close()


def test_watch_flushall_and_deleted_key(diff):
    diff.run("""
    SET w 1
    WATCH w
    FLUSHALL
    MULTI
    PING
    EXEC
    WATCH nokey
    FLUSHALL
    MULTI
    PING
    EXEC
    """)


def test_watch_expired_key(diff):
    diff("SET", "e", "1", "PX", "20")
    diff("WATCH", "e")
    time.sleep(0.05)
    diff("MULTI")
    diff("PING")
    diff("EXEC")


def _aof_incr(dirpath):
    import glob
    import os

    files = sorted(glob.glob(os.path.join(dirpath, "appendonlydir", "*.incr.aof")))
    return b"".join(open(f, "rb").read() for f in files)


def test_exec_propagates_wrapped_in_multi_exec(tmp_path):
    """The AOF gets MULTI ... EXEC around a transaction's writes, like Redis 7.0."""
    import time
    import pytest
    from support import REDIS_SERVER, RealRedis
    from vermilion.embed import start_server

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    ref = RealRedis("--appendonly", "yes", "--appendfsync", "always")
    ours_dir = tmp_path / "ours"
    ours_dir.mkdir()
    ours = start_server(appendonly="yes", appendfsync="always", dir=str(ours_dir))
    script = [
        ("MULTI",),
        ("SET", "a", "1"),
        ("INCR", "n"),
        ("GET", "a"),
        ("EXEC",),
        ("MULTI",),
        ("SET", "solo", "x"),
        ("EXEC",),
        ("MULTI",),
        ("GET", "a"),
        ("EXEC",),
    ]
    try:
        for port in (ref.port, ours.port):
            conn = RawConn("127.0.0.1", port)
            for cmd in script:
                conn.call(*cmd)
            conn.close()
        time.sleep(0.2)
        assert _aof_incr(str(ours_dir)) == _aof_incr(ref.dir)
        assert b"MULTI" in _aof_incr(ref.dir)
    finally:
        ours.stop()
        ref.stop()


def test_exec_refused_by_process_command_aborts_the_transaction(diff):
    """rejectCommand -> execCommandAbort: EXEC with extra arguments (or refused by any
    other check) ends the MULTI with EXECABORT, so what follows is not queued."""
    # (errorstats count from here: the shared servers have seen other tests' errors)
    diff.run("""
        CONFIG RESETSTAT
        EXEC x
        MULTI
        SET a 1
        EXEC x
        PING
        SET b 2
        GET b
        EXEC
        INFO errorstats
    """)
    diff.run("""
        MULTI
        exec extra args
        GET a
    """)
