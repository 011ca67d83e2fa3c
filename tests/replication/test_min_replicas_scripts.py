"""min-replicas-to-write inside scripts (integration/replication-4), byte for byte
against redis-server: an EVAL without flags is not a write for processCommand, so
the rule applies when the script calls a write (scriptVerifyWriteCommandAllow's
checkGoodReplicasStatus: -NOREPLICAS), unless the script already wrote; reads
still run, and a function declared without no-writes is refused up front."""

import pytest

from support import REDIS_SERVER, RawConn
from test_restart_psync import Proc

CASES = [
    ["SET", "foo", "1"],
    ["EVAL", "return redis.call('set','foo','bar')", "0"],
    ["EVAL", "redis.call('set','foo','bar')", "0"],
    ["EVAL", "return redis.pcall('set','foo','bar')", "0"],
    ["EVAL", "return redis.call('get','foo')", "0"],
    ["EVAL", "return redis.call('incr','counter')", "0"],
    ["FCALL", "f_default_flags", "1", "foo"],
    ["FCALL", "f_no_writes", "1", "foo"],
    ["FCALL", "f_writes", "1", "foo"],
    ["GET", "foo"],
]

LIB = (
    "#!lua name=test\n"
    "redis.register_function{function_name='f_default_flags', callback=function(keys, args) "
    "return redis.call('get',keys[1]) end, flags={}}\n"
    "redis.register_function{function_name='f_no_writes', callback=function(keys, args) "
    "return redis.call('get',keys[1]) end, flags={'no-writes'}}\n"
    "redis.register_function('f_writes', function(keys, args) "
    "return redis.call('set',keys[1],'x') end)\n"
)


def _replies(kind):
    node = Proc(kind)
    try:
        conn = RawConn("127.0.0.1", node.port)
        assert conn.call("FUNCTION", "LOAD", LIB) == b"$4\r\ntest\r\n"
        assert conn.call("SET", "foo", "12345") == b"+OK\r\n"
        assert conn.call("CONFIG", "SET", "min-replicas-to-write", "1") == b"+OK\r\n"
        assert conn.call("CONFIG", "SET", "min-replicas-max-lag", "10") == b"+OK\r\n"
        out = [conn.call(*case) for case in CASES]
        conn.close()
        return out
    finally:
        node.stop()


def test_vermilion_refuses_script_writes_without_good_replicas():
    ours = _replies("vermilion")
    assert ours[0] == b"-NOREPLICAS Not enough good replicas to write.\r\n"
    assert ours[1].startswith(b"-NOREPLICAS Not enough good replicas to write.")
    assert ours[4] == b"$5\r\n12345\r\n"  # a read runs
    assert ours[7] == b"$5\r\n12345\r\n"
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: no byte comparison")
    assert ours == _replies("redis")
