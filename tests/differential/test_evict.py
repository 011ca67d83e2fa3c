"""maxmemory compared with redis-server: what does not depend on how many bytes
each server counts.

``maxmemory 1`` is below any used_memory, so both servers are over the limit
before every command: denyoom commands get the same -OOM, MULTI queues get
refused the same way, and each policy evicts the same kind of keys. With at most
``maxmemory-samples`` keys in a database, sampling sees every key, so the order
of the ``evicted`` events is the policy's exact order (idle time set with
RESTORE IDLETIME, frequency with RESTORE FREQ, TTLs) and must match Redis's.
Key names are unique per test: the eviction pool outlives a test on both servers.
"""

import pytest

from keyspace_helpers import config_set, events  # noqa: F401  (fixture)
from support import RawConn

OOM = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"


@pytest.fixture
def mm(diff, shared_vermilion):
    """Reset the eviction settings of both servers after the test."""
    diff("CONFIG", "RESETSTAT")
    yield diff
    for name, value in (
        ("maxmemory", "0"),
        ("maxmemory-policy", "noeviction"),
        ("maxmemory-samples", "5"),
        ("maxmemory-eviction-tenacity", "10"),
        ("lazyfree-lazy-eviction", "no"),
    ):
        config_set(diff, shared_vermilion, name, value)


def stat(conn, name):
    info = conn.call("INFO", "stats").decode()
    for line in info.split("\r\n"):
        if line.startswith(name + ":"):
            return int(line.split(":")[1])
    raise KeyError(name)


def dump_payload(diff, value):
    """A DUMP payload made by redis-server (RESTOREd on both; SET/DEL on both keep
    their keyspace events alike)."""
    diff("SET", "__dump_src", value)
    raw = diff.ref.call("DUMP", "__dump_src")
    diff("DEL", "__dump_src")
    header, _, rest = raw.partition(b"\r\n")
    return rest[: int(header[1:])]


def test_noeviction_denyoom_commands(mm):
    mm.run("""
        SET s 10
        RPUSH l a b
        HSET h f v
        SADD st m
        ZADD z 1 m
        XADD x 1-1 f v
        CONFIG SET maxmemory 1
    """)
    cmds = """
        SET s 1
        SETNX n 1
        SETEX n 100 1
        PSETEX n 100 1
        GETSET s 2
        MSET a 1 b 2
        MSETNX a 1 b 2
        APPEND s x
        SETRANGE s 0 x
        SETBIT s 0 1
        BITFIELD s SET u8 0 1
        BITFIELD s GET u8 0
        BITOP AND d s s
        INCR s
        DECR s
        INCRBY s 2
        DECRBY s 2
        INCRBYFLOAT s 1.5
        LPUSH l x
        RPUSH l x
        LPUSHX l x
        RPUSHX l x
        LINSERT l BEFORE a x
        LSET l 0 x
        LMOVE l l2 LEFT LEFT
        RPOPLPUSH l l2
        HSET h f2 v
        HSETNX h f3 v
        HMSET h f v
        HINCRBY h n 1
        HINCRBYFLOAT h n 1
        SADD st m2
        SINTERSTORE d st
        SUNIONSTORE d st
        SDIFFSTORE d st
        ZADD z 2 m2
        ZINCRBY z 1 m
        ZUNIONSTORE d 1 z
        ZINTERSTORE d 1 z
        ZDIFFSTORE d 1 z
        ZRANGESTORE d z 0 -1
        XADD x * f v
        XSETID x 5-5
        PFADD hll a
        PFMERGE hll2 hll
        GEOADD g 10 10 m
        SORT l ALPHA STORE d
        SORT l ALPHA
        COPY s s2
        GET s
        MGET s l
        LRANGE l 0 -1
        HGETALL h
        SMEMBERS st
        ZRANGE z 0 -1 WITHSCORES
        XLEN x
        STRLEN s
        EXISTS s l h
        TTL s
        TYPE l
        DBSIZE
        LPOP l
        RPOP l
        HDEL h f
        SREM st m
        ZREM z m
        EXPIRE s 100
        PERSIST s
        RENAME s s3
        PUBLISH ch msg
        PING
        ECHO x
        DEL l h
        UNLINK st z
        DBSIZE
    """
    for line in cmds.strip().splitlines():
        reply = mm(*line.split())
        assert reply != b"" and reply is not None
    assert mm("SET", "k", "v") == OOM
    assert stat(mm.ref, "evicted_keys") == 0 == stat(mm.our, "evicted_keys")
    mm("CONFIG", "SET", "maxmemory", "0")
    mm("SET", "k", "v")
    # refused calls are counted the same way
    assert stat_line(mm.ref, "errorstats", "errorstat_OOM") == stat_line(
        mm.our, "errorstats", "errorstat_OOM"
    )


def stat_line(conn, section, name):
    info = conn.call("INFO", section).decode()
    for line in info.split("\r\n"):
        if line.startswith(name + ":"):
            return line
    return None


def test_oom_in_transactions(mm, real_redis, shared_vermilion):
    # queueing under OOM: refused (even reads), the transaction is aborted
    mm("CONFIG", "SET", "maxmemory", "1")
    mm.run("""
        MULTI
        GET a
        SET a 1
        PING
        EXEC
        MULTI
        GET a
        DISCARD
    """)
    mm("CONFIG", "SET", "maxmemory", "0")
    # EXEC refused when memory ran out after a denyoom command was queued,
    # accepted when only other commands are queued
    other_ref = RawConn("127.0.0.1", real_redis.port)
    other_our = RawConn("127.0.0.1", shared_vermilion.port)
    try:
        for queued, exec_reply in (
            (("SET", "q", "1"), None),
            (("GET", "q"), None),
            (("DEL", "q"), None),
        ):
            mm("MULTI")
            mm(*queued)
            mm("GET", "q")
            for o in (other_ref, other_our):
                assert o.call("CONFIG", "SET", "maxmemory", "1") == b"+OK\r\n"
            mm("EXEC")
            for o in (other_ref, other_our):
                assert o.call("CONFIG", "SET", "maxmemory", "0") == b"+OK\r\n"
    finally:
        other_ref.close()
        other_our.close()


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_empty_the_keyspace(mm, policy):
    mm("CONFIG", "SET", "maxmemory-policy", policy)
    names = ["ak:%s:%d" % (policy, i) for i in range(20)]
    for i, k in enumerate(names):
        mm("SET", k, "v" * i, "EX" if i % 2 else "KEEPTTL", *(["1000"] if i % 2 else []))
    mm("SELECT", "5")
    mm("SET", "other-db", "x")
    mm("SELECT", "0")
    mm("CONFIG", "SET", "maxmemory", "1")
    mm("DBSIZE")
    mm("SELECT", "5")
    mm("DBSIZE")
    mm("SELECT", "0")
    mm("SET", "k", "v")  # nothing left to evict: OOM
    mm("GET", names[3])
    assert stat(mm.ref, "evicted_keys") == 21 == stat(mm.our, "evicted_keys")


@pytest.mark.parametrize(
    "policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "noeviction"]
)
def test_volatile_policies_keep_persistent_keys(mm, policy):
    mm("CONFIG", "SET", "maxmemory-policy", policy)
    for i in range(20):
        if i % 2:
            mm("SET", "vk:%s:%d" % (policy, i), "v", "PX", str(100000 + i))
        else:
            mm("SET", "vk:%s:%d" % (policy, i), "v")
    mm("CONFIG", "SET", "maxmemory", "1")
    mm("DBSIZE")
    mm("SET", "k", "v")  # OOM: only persistent keys are left
    for i in range(20):
        mm("EXISTS", "vk:%s:%d" % (policy, i))
    mm("GET", "vk:%s:0" % policy)
    mm("DEL", "vk:%s:0" % policy)
    mm("EXPIRE", "vk:%s:2" % policy, "100")  # EXPIRE is not denyoom; now evictable
    mm("EXISTS", "vk:%s:2" % policy)
    mm("DBSIZE")
    assert stat(mm.ref, "evicted_keys") == stat(mm.our, "evicted_keys")


def _restore_all(mm, payload, keys, option):
    for k, n in keys:
        mm("RESTORE", k, "0", payload, option, str(n))


def test_lru_order(mm, events):  # noqa: F811
    mm("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    payload = dump_payload(mm, "value")
    keys = [("lru:a", 100), ("lru:b", 5000), ("lru:c", 20), ("lru:d", 700)]
    _restore_all(mm, payload, keys, "IDLETIME")
    events.collect()
    mm("CONFIG", "SET", "maxmemory", "1")
    mm("DBSIZE")
    evicted = [
        m[3]
        for m in events.collect()
        if m[2].endswith(b":evicted") and m[2].startswith(b"__keyevent")
    ]
    assert evicted == [b"lru:b", b"lru:d", b"lru:a", b"lru:c"]


def test_lfu_order(mm, events):  # noqa: F811
    mm("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    payload = dump_payload(mm, "value")
    keys = [("lfu:a", 40), ("lfu:b", 3), ("lfu:c", 200), ("lfu:d", 17), ("lfu:e", 90)]
    _restore_all(mm, payload, keys, "FREQ")
    mm("OBJECT", "FREQ", "lfu:d")
    events.collect()
    mm("CONFIG", "SET", "maxmemory", "1")
    mm("DBSIZE")
    evicted = [m[3] for m in events.collect() if m[2] == b"__keyevent@0__:evicted"]
    assert evicted == [b"lfu:b", b"lfu:d", b"lfu:a", b"lfu:e", b"lfu:c"]


def test_volatile_ttl_order(mm, events):  # noqa: F811
    mm("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
    mm.run("""
        SET ttl:a v PX 900000
        SET ttl:b v PX 100000
        SET ttl:c v
        SET ttl:d v PX 500000
        SET ttl:e v PX 300000
    """)
    events.collect()
    mm("CONFIG", "SET", "maxmemory", "1")
    mm("DBSIZE")
    evicted = [m[3] for m in events.collect() if m[2] == b"__keyevent@0__:evicted"]
    assert evicted == [b"ttl:b", b"ttl:e", b"ttl:d", b"ttl:a"]
    mm("EXISTS", "ttl:c")


def test_maxmemory_clients_is_accepted(mm):
    mm.run("""
        CONFIG SET maxmemory-clients 1mb
        CONFIG GET maxmemory-clients
        CONFIG SET maxmemory-clients 10%
        CONFIG GET maxmemory-clients
        CONFIG SET maxmemory-clients 0
        CONFIG SET maxmemory-policy bogus
        CONFIG SET maxmemory-samples 0
        CONFIG SET maxmemory-eviction-tenacity 101
        CONFIG GET maxmemory-clients
        CONFIG GET maxmemory-policy
    """)


@pytest.mark.parametrize("noloop", [False, True])
def test_tracking_invalidation_of_evicted_keys(diff3, shared_vermilion, noloop):
    """The client's own command evicts the key it caches: the invalidation comes
    before that command's reply, NOLOOP or not (no client caused the eviction)."""
    d = diff3
    try:
        d("CLIENT", "TRACKING", "ON", *(["NOLOOP"] if noloop else []))
        d("SET", "trk:a", "v", "PX", "100000")
        d("SET", "trk:b", "v")
        d("GET", "trk:a")
        d("GET", "trk:b")
        d("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
        push = d("CONFIG", "SET", "maxmemory", "1")
        assert push == b"+OK\r\n"
        push = d("PING")
        assert push == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$5\r\ntrk:a\r\n"
        a, b = d.ref.read_reply(), d.our.read_reply()
        assert a == b == b"+PONG\r\n"
        d("GET", "trk:b")
        d("CLIENT", "TRACKING", "OFF")
    finally:
        for name, value in (("maxmemory", "0"), ("maxmemory-policy", "noeviction")):
            config_set(d, shared_vermilion, name, value)
