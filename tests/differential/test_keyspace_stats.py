"""INFO's keyspace_hits / keyspace_misses and "keymiss" events against redis-server.

Redis counts a hit or a miss, and fires a "keymiss" event on a miss, in
lookupKeyRead; a command's lookup of a key it writes (lookupKeyWrite) counts
nothing. Which commands read and which write is spread over Redis's t_*.c files,
so every command here runs on both servers on hits, misses and wrong types, and
after each one the two counters must agree (a mismatch names the command).
"""

import time

import pytest

from keyspace_helpers import array, config_set, lazy_only, Events  # noqa: F401 (fixtures)


def stats(conn):
    text = array(conn.call("INFO", "stats")).decode()
    fields = dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)
    return int(fields["keyspace_hits"]), int(fields["keyspace_misses"])


SETUP = """
SET s 10
RPUSH l a b c
HSET h f v n 1
SADD st a b
ZADD z 1 a 2 b
XADD x 1-1 f v
PFADD hll a b
SETBIT bm 7 1
GEOADD g 13.361389 38.115556 p
SET w_a 1
SET w_b 2
"""

# One command a line: reads and writes of every family, on hits, misses and
# keys of the wrong type (a wrong type is a hit: the key was found).
COMMANDS = """
GET s
GET missing
GET l
MGET s missing l
GETRANGE s 0 -1
GETRANGE missing 0 1
SUBSTR s 0 1
STRLEN s
STRLEN missing
GETEX s
GETEX missing
GETDEL missing
GETSET gs v
SET s 11 GET
SET newk v GET
SET s 12 NX
SET s 12 XX
SETNX s x
SETEX se 100 v
INCR counter
INCRBY counter 2
DECR counter
INCRBYFLOAT fl 1.5
APPEND s x
SETRANGE s 0 1
LCS s s
LCS s missing
MSET m1 1 m2 2
MSETNX m1 1 m3 3
GETBIT bm 7
GETBIT missing 1
BITCOUNT bm
BITCOUNT missing
BITPOS bm 1
BITPOS missing 1
BITOP OR bdest bm missing
BITFIELD bm GET u8 0
BITFIELD missing GET u8 0
BITFIELD bm SET u8 0 1
BITFIELD_RO bm GET u8 0
SETBIT bm 8 1
LLEN l
LLEN missing
LINDEX l 0
LINDEX missing 0
LRANGE l 0 -1
LRANGE missing 0 -1
LPOS l a
LPOS missing a
LPUSH l d
LPUSHX missing d
LPOP missing
RPOP l
RPOPLPUSH missing l
LMOVE l l2 LEFT LEFT
LSET l 0 x
LREM l 0 x
LTRIM l 0 -1
LINSERT l BEFORE a b
LMPOP 2 missing l LEFT
BLPOP missing l 1
SORT l ALPHA
SORT missing
SORT l BY nosort GET # GET w_*
SORT l BY w_* ALPHA
SORT_RO l ALPHA
SORT l ALPHA STORE sorted
HGET h f
HGET missing f
HMGET h f g
HMGET missing f
HLEN h
HLEN missing
HEXISTS h f
HEXISTS missing f
HSTRLEN h f
HKEYS h
HVALS h
HGETALL h
HGETALL missing
HRANDFIELD h
HRANDFIELD missing
HRANDFIELD h -2
HSCAN h 0
HSCAN missing 0
HSET h g 1
HDEL h g
HDEL missing g
HINCRBY h n 1
HINCRBYFLOAT h n 1
HSETNX h f v
SISMEMBER st a
SISMEMBER missing a
SMISMEMBER st a zz
SCARD st
SCARD missing
SMEMBERS st
SMEMBERS missing
SRANDMEMBER missing
SRANDMEMBER missing 3
SINTER st missing
SINTERCARD 2 st missing
SUNION st missing
SDIFF st missing
SINTERSTORE sdst st missing
SUNIONSTORE sdst st missing
SDIFFSTORE sdst st missing
SSCAN st 0
SSCAN missing 0
SADD st c
SREM st c
SREM missing c
SMOVE st st2 a
SPOP missing
SPOP missing 2
ZSCORE z a
ZSCORE missing a
ZMSCORE z a q
ZCARD z
ZCOUNT z -inf +inf
ZLEXCOUNT z - +
ZRANK z a
ZREVRANK missing a
ZRANGE z 0 -1
ZRANGE missing 0 -1
ZRANGE z 0 -1 WITHSCORES
ZRANGEBYSCORE z -inf +inf
ZREVRANGEBYLEX z + -
ZRANGESTORE zdst z 0 -1
ZUNION 2 z missing
ZINTER 2 z missing
ZDIFF 2 z missing
ZINTERCARD 2 z missing
ZUNIONSTORE zdst 2 z missing
ZRANDMEMBER missing
ZSCAN z 0
ZADD z 3 c
ZINCRBY z 1 c
ZREM z c
ZREM missing c
ZREMRANGEBYRANK missing 0 1
ZPOPMIN missing
ZMPOP 1 missing MIN
BZPOPMIN z 1
XLEN x
XLEN missing
XRANGE x - +
XREVRANGE missing + -
XREAD STREAMS x missing 0 0
XGROUP CREATE x grp 0
XREADGROUP GROUP grp c1 STREAMS x >
XACK x grp 1-1
XPENDING x grp
XCLAIM x grp c1 0 1-1
XAUTOCLAIM x grp c1 0 0
XINFO STREAM x
XINFO GROUPS x
XINFO CONSUMERS x grp
XINFO STREAM missing
XADD x 2-1 f v
XDEL x 1-1
XTRIM x MAXLEN 10
XSETID x 9-9
PFCOUNT hll
PFCOUNT missing
PFCOUNT hll missing
PFMERGE hll2 hll missing
PFADD hll c
GEOPOS g p
GEOPOS missing p
GEODIST g p p
GEOHASH g p
GEOSEARCH g FROMLONLAT 13 38 BYRADIUS 500 km
GEORADIUS missing 13 38 100 km
GEOSEARCHSTORE gdst g FROMLONLAT 13 38 BYRADIUS 500 km
EXISTS s missing l
TYPE s
TYPE missing
TOUCH s missing
DUMP s
DUMP missing
OBJECT ENCODING s
OBJECT ENCODING missing
OBJECT REFCOUNT s
OBJECT FREQ missing
TTL s
PTTL missing
EXPIRETIME s
PEXPIRETIME missing
EXPIRE s 100
EXPIRE missing 100
PERSIST s
PERSIST missing
RENAME s s2
RENAME s2 s
COPY s scopy
COPY missing x
MOVE scopy 1
DEL missing
UNLINK missing
KEYS w_*
SCAN 0 MATCH w_* COUNT 1000
SCAN 0 TYPE string COUNT 1000
RANDOMKEY
DBSIZE
"""


# Errors after (or before) the lookup, and more forms: whether a command that
# fails counted its lookup depends on where Redis parses its arguments.
ERRORS = """
BITCOUNT s x y
BITCOUNT missing x y
BITCOUNT s 0
BITPOS s x
BITPOS missing 1 x
BITPOS s 2
GETRANGE s x y
GETRANGE missing x y
LRANGE l x y
LINDEX l x
LINDEX missing x
LPOS l a RANK 0
LPOS missing a RANK 0
LPOS l a BADOPT
SRANDMEMBER st x
SRANDMEMBER missing x
ZRANDMEMBER z x
ZRANDMEMBER missing x
HRANDFIELD h x
HRANDFIELD missing x
SINTERCARD 1 missing LIMIT x
ZINTERCARD 1 missing LIMIT x
ZRANGE z x y
ZRANGE missing 0 1 BYSCORE LIMIT x y
ZRANGEBYSCORE z x y
ZRANGEBYSCORE missing x y
ZCOUNT z x y
ZCOUNT missing x y
ZLEXCOUNT z x y
ZLEXCOUNT missing x y
ZUNION 2 z missing WEIGHTS x y
ZUNION 2 z l
ZUNIONSTORE d 2 z missing AGGREGATE bad
ZRANGESTORE d missing x y
XRANGE x x y
XRANGE missing x y
XRANGE x - + COUNT x
XREAD COUNT x STREAMS x 0
XREAD STREAMS x missing 0 x
XREAD STREAMS missing x 0 $
XREADGROUP GROUP g c STREAMS missing >
XPENDING x g
XPENDING missing g
XPENDING x g - + x
XCLAIM x g c x 1-1
XCLAIM missing g c 0 1-1
XAUTOCLAIM x g c 0 0 COUNT x
XAUTOCLAIM missing g c 0 0
XACK x g x
XACK missing g 1-1
XINFO STREAM x FULL COUNT x
XINFO CONSUMERS missing g
XINFO GROUPS missing
GEOSEARCH missing FROMLONLAT 1 1 BYRADIUS x km
GEOSEARCH z FROMMEMBER a BYRADIUS 1 km
GEOSEARCH missing FROMMEMBER a BYRADIUS 1 km
GEORADIUSBYMEMBER missing a 1 km
GEODIST missing a b x
GEODIST z a b
GEOPOS z a
SORT l BY nosort LIMIT x y
SORT missing LIMIT x y
SORT l BY w_*->f
SORT s
SORT l GET #
SORT h
LCS s missing IDX MINMATCHLEN x
LCS l s
GETEX s EX x
GETEX missing EX x
GETEX s PERSIST
BITFIELD_RO s GET u8 x
BITFIELD_RO missing GET u8 0
BITFIELD s GET x 0
BITFIELD missing INCRBY u8 0 1
BITOP AND d s l
BITOP NOT d s missing
PFCOUNT s
PFCOUNT hll s
PFMERGE hll s
PFMERGE s hll
OBJECT ENCODING missing
OBJECT FREQ s
OBJECT IDLETIME missing
OBJECT HELP
COPY s s
COPY s d DB x
COPY missing d REPLACE
TOUCH
EXISTS missing missing s
TTL s
PEXPIRETIME missing
HMGET h a b
HSTRLEN missing f
HSCAN h x
HSCAN missing x
HSCAN h 0 COUNT x
SSCAN st 0 COUNT 0
ZSCAN missing 0 COUNT x
SCAN 0 TYPE zzz COUNT 100
SCAN 0 MATCH * TYPE hash COUNT 1000
SMISMEMBER missing a
SUNIONSTORE d st l
SDIFF missing l st
SINTER l st
ZMSCORE missing a
ZRANK missing a
ZSCORE z a
RENAME missing x
GETSET l x
GETDEL l
GETDEL missing
SET l x GET
SET missing2 x GET
SET s x NX GET
STRLEN l
MGET s missing l l
XAUTOCLAIM s g c 0 0 COUNT x
XAUTOCLAIM missing g c 0 0 COUNT x
"""


def _lines(text):
    import shlex

    return [shlex.split(line) for line in text.strip().splitlines() if line.strip()]


def test_keyspace_hits_misses_per_command(diff):
    diff.run(SETUP)
    for conn in (diff.ref, diff.our):
        conn.call("CONFIG", "RESETSTAT")
    for cmd in _lines(COMMANDS):
        a = diff.ref.call(*cmd)
        b = diff.our.call(*cmd)
        # (the replies are compared elsewhere, and some are unordered: here only
        # that both succeeded or both failed)
        assert b[:1] == a[:1], "reply to %r differs:\n redis:     %r\n vermilion: %r" % (cmd, a, b)
        assert stats(diff.our) == stats(diff.ref), "hits/misses after %r" % (cmd,)
    ref_hits, ref_misses = stats(diff.ref)
    assert ref_hits > 100 and ref_misses > 50  # (the script exercises both)


def test_keyspace_hits_misses_on_errors(diff):
    diff.run(SETUP)
    for cmd in _lines(ERRORS):
        for conn in (diff.ref, diff.our):
            conn.call("CONFIG", "RESETSTAT")
        a = diff.ref.call(*cmd)
        b = diff.our.call(*cmd)
        assert b[:1] == a[:1], "reply to %r differs:\n redis:     %r\n vermilion: %r" % (cmd, a, b)
        assert stats(diff.our) == stats(diff.ref), "hits/misses after %r" % (cmd,)


def test_expired_key_is_a_miss(diff, shared_vermilion, lazy_only):  # noqa: F811
    diff("SET", "e", "v", "PX", "1")
    diff("SET", "f", "v", "PX", "1")
    diff("SET", "g", "v", "PX", "1")
    time.sleep(0.05)
    for conn in (diff.ref, diff.our):
        conn.call("CONFIG", "RESETSTAT")
    diff("GET", "e")
    diff("EXISTS", "f")
    diff("INCR", "g")  # a write: not counted
    assert stats(diff.our) == stats(diff.ref) == (0, 2)


def test_resetstat_zeroes_hits_and_misses(diff):
    diff("SET", "k", "v")
    diff("GET", "k")
    diff("GET", "nokey")
    diff("HGET", "nokey", "f")
    assert stats(diff.our) == stats(diff.ref)
    assert stats(diff.ref)[0] >= 1 and stats(diff.ref)[1] >= 2
    for conn in (diff.ref, diff.our):
        assert conn.call("CONFIG", "RESETSTAT") == b"+OK\r\n"
    assert stats(diff.our) == stats(diff.ref) == (0, 0)
    diff("GET", "k")
    diff("GET", "nokey")
    assert stats(diff.our) == stats(diff.ref) == (1, 1)


def test_hits_and_misses_inside_multi_and_scripts(diff):
    pytest.importorskip("lupa")
    diff("SET", "k", "v")
    for conn in (diff.ref, diff.our):
        conn.call("CONFIG", "RESETSTAT")
    diff("MULTI")
    diff("GET", "k")
    diff("GET", "nokey")
    diff("SMEMBERS", "nokey")
    diff("EXEC")
    diff("EVAL", "redis.call('get', KEYS[1]); return redis.call('get', KEYS[2])", "2", "k", "no")
    assert stats(diff.our) == stats(diff.ref) == (2, 3)


@pytest.fixture
def keymiss_events(diff, shared_vermilion):
    config_set(diff, shared_vermilion, "notify-keyspace-events", "KEm")
    ev = Events(diff)
    yield ev
    ev.close()
    config_set(diff, shared_vermilion, "notify-keyspace-events", "")


def test_keymiss_events(diff, keymiss_events):
    diff.run(SETUP)
    keymiss_events.collect()
    for cmd in _lines(COMMANDS):
        diff.ref.call(*cmd)
        diff.our.call(*cmd)
    events = keymiss_events.collect()  # (asserts both servers sent the same)
    keys = [e[3] for e in events if e[2] == b"__keyevent@0__:keymiss"]
    assert keys.count(b"missing") > 30
    assert all(e[3] == b"keymiss" for e in events if e[2].startswith(b"__keyspace@"))


def test_object_misses_send_no_keymiss_event(diff, keymiss_events):
    diff("OBJECT", "ENCODING", "nokey")
    diff("OBJECT", "FREQ", "nokey")  # (an error reply without an LFU policy, after the lookup)
    diff("GET", "nokey")
    events = keymiss_events.collect()
    assert [e[2:] for e in events] == [
        [b"__keyspace@0__:nokey", b"keymiss"],
        [b"__keyevent@0__:keymiss", b"nokey"],
    ]


def test_blocked_clients_served_count_nothing(diff, real_redis, shared_vermilion):
    # A blocking pop looks its keys up as writes; serving a blocked client later
    # looks them up with LOOKUP_NOSTATS; XREAD's reads count (two misses here).
    import threading

    from support import RawConn

    def scenario(port):
        conn = RawConn("127.0.0.1", port)
        conn.call("FLUSHALL")
        conn.call("CONFIG", "RESETSTAT")
        out = []
        for block, push in (
            (("BLPOP", "bl", "5"), ("LPUSH", "bl", "a")),
            (("BLMOVE", "bl2", "dst", "LEFT", "RIGHT", "5"), ("RPUSH", "bl2", "a")),
            (("BZPOPMIN", "bz", "5"), ("ZADD", "bz", "1", "a")),
            (("XREAD", "BLOCK", "5000", "STREAMS", "bx", "$"), ("XADD", "bx", "1-1", "f", "v")),
            (("BLMPOP", "5", "2", "m1", "m2", "LEFT"), ("LPUSH", "m2", "a")),
        ):
            blocked = RawConn("127.0.0.1", port)
            t = threading.Thread(target=lambda b=blocked, a=block: out.append(b.call(*a)))
            t.start()
            deadline = time.time() + 5
            while b"blocked_clients:1" not in conn.call("INFO", "clients"):
                assert time.time() < deadline
                time.sleep(0.01)
            conn.call(*push)
            t.join(10)
            blocked.close()
            out.append((block[0], stats(conn)))
        conn.close()
        return out

    assert scenario(shared_vermilion.port) == scenario(real_redis.port)
