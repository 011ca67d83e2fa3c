"""Hash commands against redis-server 7.0, byte for byte (t_hash.c).

Small hashes are listpacks in Redis and keep insertion order, so HGETALL/HKEYS/
HVALS/HSCAN of them compare byte for byte. Encodings are compared through
OBJECT ENCODING on the reference server and ``object_encoding()`` here.
"""

import pytest


@pytest.fixture
def encoding(diff, shared_vermilion):
    """encoding(key): assert Redis's OBJECT ENCODING equals ours; return it."""

    def check(key):
        ref = diff.ref.call("OBJECT", "ENCODING", key)
        v = shared_vermilion.server.dbs[0].data.get(key.encode())
        ours = (
            b"$%d\r\n%s\r\n" % (len(v.object_encoding()), v.object_encoding()) if v else b"$-1\r\n"
        )
        assert ours == ref, "encoding of %s: redis %r, vermilion %r" % (key, ref, ours)
        return ref

    return check


@pytest.fixture
def config(diff, shared_vermilion):
    """config(name, value): CONFIG SET on both servers; restored afterwards."""
    cfg = shared_vermilion.server.config
    saved = []

    def set_(name, value):
        saved.append((name, cfg.get(name)))
        assert diff.ref.call("CONFIG", "SET", name, value) == b"+OK\r\n"
        cfg.set(name, value)

    yield set_
    for name, value in reversed(saved):
        diff.ref.call("CONFIG", "SET", name, value)
        cfg.set(name, value)


def test_hset_hget_basics(diff):
    diff.run("""
    HSET h a 1
    HSET h b 2 c 3
    HSET h a 10 d 4
    HGET h a
    HGET h zz
    HGET nokey a
    HLEN h
    HLEN nokey
    HGETALL h
    HKEYS h
    HVALS h
    HGETALL nokey
    HKEYS nokey
    HVALS nokey
    HMSET h e 5 f 6
    HMSET h2 x y
    HGETALL h
    HGETALL h2
    """)


def test_hset_order_update_and_delete(diff):
    """A listpack updates in place and closes the gap on delete."""
    diff.run("""
    HSET h a 1 b 2 c 3 d 4
    HSET h b 20
    HDEL h a
    HSET h a 100
    HGETALL h
    HDEL h c zz d
    HGETALL h
    HSET h c 3 c 33
    HGETALL h
    """)


def test_hset_arity_and_errors(diff):
    diff.run("""
    HSET h
    HSET h a
    HSET h a 1 b
    HMSET h a 1 b
    HMSET h
    SET str x
    HSET str a 1
    HMSET str a 1
    HSETNX str a 1
    HGET str a
    HMGET str a
    HDEL str a
    HLEN str
    HEXISTS str a
    HSTRLEN str a
    HKEYS str
    HVALS str
    HGETALL str
    HINCRBY str a 1
    HINCRBYFLOAT str a 1
    HRANDFIELD str
    HRANDFIELD str 2
    HRANDFIELD str -2 WITHVALUES
    HSCAN str 0
    HGET
    HGET h
    HGET h a b
    HDEL h
    HLEN
    HSETNX h a
    HINCRBY h a
    HSTRLEN h
    """)


def test_hset_odd_args_does_not_create(diff):
    diff("HSET", "h", "a", "1", "b")
    diff("HLEN", "h")


def test_hsetnx(diff):
    diff.run("""
    HSETNX h a 1
    HSETNX h a 2
    HGET h a
    HSETNX h b 2
    HGETALL h
    """)


def test_hmget(diff):
    diff.run("""
    HSET h a 1 b 2
    HMGET h a b zz a
    HMGET nokey a b
    HMGET h
    """)


def test_hdel(diff):
    diff.run("""
    HDEL nokey a
    HSET h a 1 b 2 c 3
    HDEL h zz
    HDEL h a a
    HDEL h b c zz
    HLEN h
    HSET h a 1
    HDEL h a b
    HLEN h
    """)


def test_hexists_hstrlen(diff):
    diff.run("""
    HSET h a hello n 12345 neg -7 e ""
    HEXISTS h a
    HEXISTS h zz
    HEXISTS nokey a
    HSTRLEN h a
    HSTRLEN h n
    HSTRLEN h neg
    HSTRLEN h e
    HSTRLEN h zz
    HSTRLEN nokey a
    """)


def test_hincrby(diff):
    diff.run("""
    HINCRBY h a 1
    HINCRBY h a -5
    HINCRBY h a 0
    HINCRBY h a 9223372036854775807
    HSET h big 9223372036854775807 small -9223372036854775808
    HINCRBY h big 1
    HINCRBY h big 0
    HINCRBY h small -1
    HINCRBY h small 1
    HSET h s abc f 1.5 sp " 1" z 007
    HINCRBY h s 1
    HINCRBY h f 1
    HINCRBY h sp 1
    HINCRBY h z 1
    HINCRBY h a abc
    HINCRBY h a 1.5
    HINCRBY h a 9223372036854775808
    HINCRBY h a ""
    HGETALL h
    """)


def test_hincrbyfloat(diff):
    diff.run("""
    HINCRBYFLOAT h a 1.5
    HINCRBYFLOAT h a 0.1
    HINCRBYFLOAT h a -3
    HINCRBYFLOAT h b 10
    HINCRBYFLOAT h c 5.0e3
    HINCRBYFLOAT h d 3.0e-5
    HSET h i 10 s abc sp " 1"
    HINCRBYFLOAT h i 1
    HINCRBYFLOAT h i 1.23456789012345678
    HINCRBYFLOAT h s 1
    HINCRBYFLOAT h sp 1
    HINCRBYFLOAT h a inf
    HINCRBYFLOAT h a -inf
    HINCRBYFLOAT h a nan
    HINCRBYFLOAT h a abc
    HINCRBYFLOAT h a ""
    HINCRBYFLOAT h a " 1"
    HSET h huge 1e4932
    HINCRBYFLOAT h huge 1e4932
    HINCRBYFLOAT h new 0x10
    HGETALL h
    """)


def test_hincr_conversion(diff, encoding, config):
    config("hash-max-listpack-value", "10")
    diff("HSET", "h", "a", "1")
    diff("HINCRBYFLOAT", "h", "a", "0.12345678901")
    encoding("h")
    diff("HSET", "h2", "a", "1")
    diff("HINCRBY", "h2", "abcdefghijklmnop", "1")
    encoding("h2")
    diff("HSET", "h3", "a", "1")
    diff("HINCRBY", "h3", "a", "123456789012")
    encoding("h3")


def test_listpack_conversion_by_value_length(diff, encoding):
    diff("HSET", "h", "a", "x" * 64)
    encoding("h")
    diff("HSET", "h", "b", "x" * 65)
    encoding("h")
    diff("HDEL", "h", "b")
    encoding("h")
    diff("HSET", "f", "x" * 65, "1")
    encoding("f")
    diff("HSETNX", "g", "a", "x" * 65)
    encoding("g")
    diff("HSET", "nx", "a", "1")
    diff("HSETNX", "nx", "a", "x" * 65)
    encoding("nx")


def test_listpack_conversion_by_entries(diff, encoding, config):
    config("hash-max-listpack-entries", "4")
    diff("HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4")
    encoding("h")
    diff("HSET", "h", "a", "5")
    encoding("h")
    diff("HSET", "h", "e", "5")
    encoding("h")
    diff("HDEL", "h", "a", "b", "c")
    encoding("h")
    config("hash-max-listpack-entries", "0")
    diff("HSET", "z", "a", "1")
    encoding("z")
    config("hash-max-listpack-entries", "512")
    config("hash-max-ziplist-value", "3")
    diff("HSET", "y", "abcd", "1")
    encoding("y")


def test_listpack_order_across_many_fields(diff, encoding):
    args = []
    for i in range(200):
        args += ["f%d" % (i * 7919 % 1000), "v%d" % i]
    diff("HSET", "h", *args)
    encoding("h")
    diff("HDEL", "h", "f0", "f7919", "f1", "f838")
    diff("HGETALL", "h")
    diff("HKEYS", "h")
    diff("HVALS", "h")
    diff("HSCAN", "h", "0")
    diff("HSCAN", "h", "0", "COUNT", "2")


def test_hgetall_resp3(diff3):
    diff3.run("""
    HSET h a 1 b 2
    HGETALL h
    HGETALL nokey
    HKEYS nokey
    HGET nokey a
    HMGET nokey a b
    HRANDFIELD nokey
    HRANDFIELD nokey 3
    HRANDFIELD h 5 WITHVALUES
    HRANDFIELD h 5
    HSCAN h 0
    HSCAN nokey 0
    HINCRBYFLOAT h a 1.5
    """)


def test_hrandfield_deterministic(diff):
    diff.run("""
    HRANDFIELD nokey
    HRANDFIELD nokey 5
    HRANDFIELD nokey -5 WITHVALUES
    HSET h a 1 b 2 c 3
    HRANDFIELD h 0
    HRANDFIELD h 0 WITHVALUES
    HRANDFIELD h 3
    HRANDFIELD h 100
    HRANDFIELD h 3 WITHVALUES
    HRANDFIELD h 9223372036854775807
    HSET one only 1
    HRANDFIELD one
    HRANDFIELD one 1
    HRANDFIELD one -3
    HRANDFIELD one -3 WITHVALUES
    HRANDFIELD one 1 withvalues
    """)


def test_hrandfield_errors(diff):
    diff.run("""
    HSET h a 1
    HRANDFIELD h abc
    HRANDFIELD h 1.5
    HRANDFIELD h -9223372036854775808
    HRANDFIELD h 9223372036854775808
    HRANDFIELD h 1 foo
    HRANDFIELD h 1 WITHVALUES x
    HRANDFIELD h 4611686018427387904 WITHVALUES
    HRANDFIELD h -4611686018427387904 WITHVALUES
    HRANDFIELD h 4611686018427387903 WITHVALUES
    HRANDFIELD nokey abc
    HRANDFIELD nokey 1 foo
    """)


def test_hrandfield_resp3_shapes(diff3):
    diff3.run("""
    HSET one only 1
    HRANDFIELD one -2 WITHVALUES
    HRANDFIELD one 1 WITHVALUES
    HRANDFIELD one -2
    HRANDFIELD h -2
    """)


def test_hscan(diff):
    diff.run("""
    HSCAN nokey 0
    HSCAN nokey 0 COUNT 0
    HSET h a 1 b 2 c 3
    HSCAN h 0
    HSCAN h 0 COUNT 1
    HSCAN h 0 count 100
    HSCAN h 0 COUNT 0
    HSCAN h 0 COUNT -1
    HSCAN h 0 COUNT abc
    HSCAN h 0 COUNT
    HSCAN h 0 TYPE string
    HSCAN h 0 foo bar
    HSCAN h abc
    HSCAN h 18446744073709551616
    HSCAN h 1
    """)


def test_hscan_match(diff):
    diff.run("""
    HSET h foo 1 bar 2 food 3 fo 4
    HSCAN h 0 MATCH fo*
    HSCAN h 0 MATCH *
    HSCAN h 0 MATCH f?o COUNT 5
    HSCAN h 0 MATCH nothing
    """)


# ------------------------------------------------------------ keyspace events
def keyspace_events(real_redis, vermilion, script):
    """Run ``script`` (one command per line) on a fresh redis-server with every
    keyspace event enabled and on a fresh Vermilion; return both lists of (event,
    key). (Fresh on both sides: the script's error replies must not change the
    shared servers' errorstats, which later tests compare.)"""
    import shlex
    from support import RealRedis
    from vermilion.keyspace.db import NOTIFY_ALL, NOTIFY_KEYEVENT

    cmds = [shlex.split(line) for line in script.strip().splitlines() if line.strip()]

    own = RealRedis()
    try:
        theirs = _redis_events(own, cmds)
    finally:
        own.stop()
    ours = _vermilion_events(vermilion, cmds, NOTIFY_ALL | NOTIFY_KEYEVENT)
    return theirs, ours


def _redis_events(real_redis, cmds):
    from support import RawConn

    ref = RawConn("127.0.0.1", real_redis.port)
    sub = RawConn("127.0.0.1", real_redis.port)
    ref.call("FLUSHALL")
    ref.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    try:
        sub.call("PSUBSCRIBE", "__keyevent@0__:*")
        sub.call("SUBSCRIBE", "end-of-test")
        for cmd in cmds:
            ref.call(*cmd)
        ref.call("PUBLISH", "end-of-test", "x")
        theirs = []
        while True:
            msg = sub.read_reply().split(b"\r\n")
            if msg[2] == b"message":
                break
            theirs.append((msg[6].split(b":", 1)[1], msg[8]))
    finally:
        ref.call("CONFIG", "SET", "notify-keyspace-events", "")
        ref.close()
        sub.close()
    return theirs


def _vermilion_events(vermilion, cmds, flags):
    from support import RawConn

    server = vermilion.server
    ours = []
    server.notify_flags = flags
    server.keyspace_event_handler = lambda kind, event, key, dbid: ours.append(
        (event.encode(), key)
    )
    conn = RawConn("127.0.0.1", vermilion.port)
    for cmd in cmds:
        conn.call(*cmd)
    conn.close()
    return ours


def test_hash_keyspace_events(real_redis, server):
    theirs, ours = keyspace_events(
        real_redis,
        server,
        """
    HSET h a 1 b 2
    HSET h a 1
    HMSET h c 3
    HSETNX h a 1
    HSETNX h d 4
    HINCRBY h n 5
    HINCRBY h a x
    HINCRBYFLOAT h f 1.5
    HDEL h zz
    HDEL h a b
    HDEL h c d n f
    HSET str a 1
    SET str x
    HSET str a 1
    """,
    )
    assert ours == theirs
    assert (b"hdel", b"h") in ours and (b"del", b"h") in ours


def test_hincrbyfloat_nul_in_value(diff):
    diff("HSET", "h", "f", "1\x002")
    diff("HINCRBYFLOAT", "h", "f", "1")
    diff("HINCRBYFLOAT", "h", "g", "1\x002")
    diff("HINCRBY", "h", "f", "1")


def test_hincrbyfloat_result_length_converts(diff, encoding, config):
    config("hash-max-listpack-value", "8")
    diff("HSET", "small", "tmp", "0")
    diff("HSET", "big", "tmp", "0")
    diff("HINCRBYFLOAT", "small", "tmp", "0.000005")
    diff("HINCRBYFLOAT", "big", "tmp", "0.0000005")
    assert encoding("small") == b"$8\r\nlistpack\r\n"
    assert encoding("big") == b"$9\r\nhashtable\r\n"
    diff("HINCRBYFLOAT", "s2", "abcdefgh", "1")
    diff("HINCRBYFLOAT", "b2", "abcdefghi", "1")
    encoding("s2")
    encoding("b2")


def test_float_representation(diff):
    diff.run("""
    HINCRBYFLOAT h f 1.23
    HINCRBYFLOAT h f 0.77
    HINCRBYFLOAT h f -0.1
    HINCRBYFLOAT h g 10.5e3
    HINCRBYFLOAT h g -10500
    HINCRBYFLOAT h z -0.0
    HINCRBYFLOAT h i 9223372036854775807
    HINCRBYFLOAT h i 1
    """)


def test_hstrlen_corner_cases(diff):
    for v in [
        "-9223372036854775808",
        "9223372036854775807",
        "9223372036854775808",
        "",
        "0",
        "-1",
        "x",
    ]:
        diff("HMSET", "h", "field", v)
        diff("HSTRLEN", "h", "field")


def test_fuzz_small_hashes(diff):
    """Random operations on small hashes (listpacks: ordered replies)."""
    import random

    rnd = random.Random(11)
    keys = ["h1", "h2"]
    fields = ["f%d" % i for i in range(12)]
    for _ in range(500):
        op = rnd.choice(
            [
                "HSET",
                "HSETNX",
                "HDEL",
                "HINCRBY",
                "HINCRBYFLOAT",
                "HGETALL",
                "HKEYS",
                "HVALS",
                "HMGET",
                "HSTRLEN",
                "HLEN",
                "HSCAN",
                "HGET",
                "HEXISTS",
            ]
        )
        k = rnd.choice(keys)
        f = rnd.choice(fields)
        if op == "HSET":
            args = []
            for _ in range(rnd.randint(1, 3)):
                args += [rnd.choice(fields), rnd.choice(["1", "-3", "x", "", "2.5", "10"])]
            diff(op, k, *args)
        elif op == "HSETNX":
            diff(op, k, f, "7")
        elif op == "HDEL":
            diff(op, k, *rnd.sample(fields, rnd.randint(1, 4)))
        elif op == "HINCRBY":
            diff(op, k, f, str(rnd.randint(-5, 5)))
        elif op == "HINCRBYFLOAT":
            diff(op, k, f, rnd.choice(["0.1", "-1.5", "3", "1e2"]))
        elif op == "HMGET":
            diff(op, k, *rnd.sample(fields, 3))
        elif op in ("HSTRLEN", "HGET", "HEXISTS"):
            diff(op, k, f)
        elif op == "HSCAN":
            diff(op, k, "0", "MATCH", "f1*")
        else:
            diff(op, k)
