"""Scripts and functions on a replica (scriptPrepareForRun, scriptVerifyAllowStale),
compared byte for byte with redis-server: a function that may write is refused on a
read-only replica; with its master link down and replica-serve-stale-data no, a
script without allow-stale gets MASTERDOWN and its redis.call of a command that is
not allowed while stale fails."""

import pytest

from support import REDIS_SERVER, RawConn, RealRedis
from vermilion.embed import start_server

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server to compare")

LIBRARY = (
    "#!lua name=t\n"
    "redis.register_function('w', function() return redis.call('set', 'x', '1') end)\n"
    "redis.register_function{function_name='f1', callback=function() return 'hello' end,"
    " flags={'no-writes'}}\n"
    "redis.register_function{function_name='f2', callback=function() return 'hello' end,"
    " flags={'allow-stale', 'no-writes'}}\n"
    "redis.register_function{function_name='f3', callback=function()"
    " return redis.call('get', 'x') end, flags={'allow-stale', 'no-writes'}}\n"
    "redis.register_function{function_name='f4', callback=function()"
    " return redis.call('ping') end, flags={'allow-stale', 'no-writes'}}\n"
)

CALLS = [
    ("FCALL", "w", "0"),
    ("FCALL", "f1", "0"),
    ("FCALL", "f2", "0"),
    ("FCALL", "f3", "0"),
    ("FCALL", "f4", "0"),
    ("EVAL", "#!lua\nreturn redis.call('get', 'x')", "0"),
    ("EVAL", "#!lua flags=no-writes,allow-stale\nreturn redis.call('get', 'x')", "0"),
    ("EVAL", "return 1", "0"),
    ("EVAL", "#!lua flags=no-such-flag\nreturn 1", "0"),
    ("EVAL", "#!lua", "0"),
    ("EVALSHA", "1234567890123456789012345678901234567890", "0"),
    ("FCALL", "nosuch", "0"),
]


def test_scripts_on_a_stale_read_only_replica_match_redis():
    ref = RealRedis()
    ours = start_server()
    try:
        conns = [RawConn("127.0.0.1", ref.port), RawConn("127.0.0.1", ours.port)]
        for c in conns:
            assert c.call("FUNCTION", "LOAD", LIBRARY) == b"$1\r\nt\r\n"
            assert c.call("CONFIG", "SET", "replica-serve-stale-data", "no") == b"+OK\r\n"
            # a master that cannot be reached: the link stays down
            assert c.call("REPLICAOF", "127.0.0.1", "1") == b"+OK\r\n"
        for args in CALLS:
            expected = conns[0].call(*args)
            assert conns[1].call(*args) == expected, args
        for c in conns:
            c.call("CONFIG", "SET", "replica-serve-stale-data", "yes")
        # not stale any more: a writing function is still refused (read-only replica)
        for args in CALLS[:4]:
            expected = conns[0].call(*args)
            assert conns[1].call(*args) == expected, args
        for c in conns:
            c.call("REPLICAOF", "NO", "ONE")
            c.close()
    finally:
        ref.stop()
        ours.stop()
