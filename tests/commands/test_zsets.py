"""Sorted-set commands: what a byte-for-byte comparison cannot cover (random
replies, hash-ordered ZSCAN, propagation, big sets, lazy freeing, encodings
following CONFIG SET)."""

import collections
import math
import pickle
import sys
import threading
import time

import pytest
import redis
from hypothesis import given, strategies as st

from vermilion.types.zset import PackedZSet, ZSet, pack as pack_zset


def _sibling(name):
    """The test module ``name`` beside this one, whatever pytest's import mode."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location("_vermilion_sibling_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_hash_tests = _sibling("test_hashes")
fed = _hash_tests.fed  # fixture: what the dispatcher propagates
dbg = _hash_tests.dbg  # fixture: a server of its own with DEBUG enabled, and a client
_kind = _hash_tests._kind  # the class of the value stored at a key


def stored(server, key):
    return server.server.dbs[0].data.get(key)


def test_big_zset_ranges(r, server):
    mapping = {"m%05d" % i: i * 0.5 for i in range(5000)}
    assert r.zadd("z", mapping) == 5000
    zs = stored(server, b"z")
    assert zs.object_encoding() == b"skiplist"
    assert len(zs._members) > 2  # really several blocks
    assert r.zcard("z") == 5000
    assert r.zrange("z", 0, 2) == [b"m00000", b"m00001", b"m00002"]
    assert r.zrange("z", 2500, 2501, withscores=True) == [(b"m02500", 1250.0), (b"m02501", 1250.5)]
    assert r.zrank("z", "m04321") == 4321
    assert r.zrevrank("z", "m04321") == 5000 - 1 - 4321
    assert r.zcount("z", 100, "(200") == 200
    assert r.zremrangebyrank("z", 1000, 3999) == 3000
    assert r.zcard("z") == 2000
    assert r.zrange("z", 999, 1000) == [b"m00999", b"m04000"]
    assert r.zrank("z", "m04000") == 1000


def test_zscan_skiplist_iterates_everything(r):
    mapping = {"m%d" % i: i / 4 for i in range(1000)}
    r.zadd("z", mapping)
    seen = {}
    cursor = 0
    calls = 0
    while True:
        cursor, items = r.zscan("z", cursor, count=50)
        calls += 1
        seen.update(items)
        if cursor == 0:
            break
    assert calls > 5
    assert seen == {k.encode(): v for k, v in mapping.items()}
    matched = dict(r.zscan_iter("z", match="m1?"))
    assert matched == {b"m%d" % i: i / 4 for i in range(10, 20)}


def test_zscan_listpack_in_one_call(r):
    r.zadd("z", {"a": 1, "b": 2.5})
    assert r.zscan("z", 0, count=1) == (0, [(b"a", 1.0), (b"b", 2.5)])


def test_zrandmember(r):
    mapping = {"m%d" % i: float(i) for i in range(300)}
    r.zadd("big", mapping)
    r.zadd("small", {"a": 1, "b": 2, "c": 3, "d": 4})
    for key, size in (("big", 300), ("small", 4)):
        for count in (1, 2, 3, size - 1, size * 2 // 3):
            got = r.zrandmember(key, count)
            assert len(got) == count == len(set(got))
            assert all(r.zscore(key, m) is not None for m in got)
        got = r.zrandmember(key, -20, withscores=True)
        assert len(got) == 40
        pairs = dict(zip(got[0::2], got[1::2]))
        assert all(float(s) == r.zscore(key, m) for m, s in pairs.items())
    assert r.zrandmember("small") in (b"a", b"b", b"c", b"d")


def test_zrandmember_is_spread(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    counts = collections.Counter(r.zrandmember("z", -3000))
    assert set(counts) == {b"a", b"b", b"c"}
    assert min(counts.values()) > 800


def test_zrandmember_listpack_distinct_in_order(r):
    r.zadd("z", {"m%02d" % i: i for i in range(30)})
    for _ in range(20):
        got = r.zrandmember("z", 5)  # listpack: answered in set order
        assert got == sorted(got)


def test_encoding_follows_config_set(r, server):
    cfg = server.server.config
    cfg.set("zset-max-listpack-entries", "2")
    r.zadd("z", {"a": 1, "b": 2})
    assert stored(server, b"z").object_encoding() == b"listpack"
    r.zadd("z", {"c": 3})
    assert stored(server, b"z").object_encoding() == b"skiplist"
    r.zrem("z", "a", "b")
    assert stored(server, b"z").object_encoding() == b"skiplist"  # one way
    cfg.set("zset-max-ziplist-value", "3")  # the old name still works
    r.zadd("y", {"abcd": 1})
    assert stored(server, b"y").object_encoding() == b"skiplist"


def test_sort_converts_to_skiplist(r, server):
    r.zadd("z", {"a": 1})
    assert stored(server, b"z").object_encoding() == b"listpack"
    r.sort("z", alpha=True)
    assert stored(server, b"z").object_encoding() == b"skiplist"


def test_zmpop_and_bzpop_propagate_as_zpop(r, fed):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    del fed[:]
    r.zmpop(1, ["z"], min=True, count=10)
    assert fed == [[b"ZPOPMIN", b"z", b"3"]]
    r.zadd("z", {"a": 1, "b": 2})
    del fed[:]
    r.bzpopmax("z", 0)
    assert fed == [[b"ZPOPMAX", b"z"]]
    del fed[:]
    r.bzmpop(0, 1, ["z"], min=True, count=5)
    assert fed == [[b"ZPOPMIN", b"z", b"1"]]
    del fed[:]
    r.zpopmin("nokey")
    assert fed == []


def test_blocked_client_served_after_zadd(r, server):
    results = []
    c2 = redis.Redis(host=server.host, port=server.port)

    def wait():
        results.append(c2.bzpopmin(["k1", "k2"], 5))

    t = threading.Thread(target=wait)
    t.start()
    deadline = time.time() + 5
    while server.server.blocked_clients == 0 and time.time() < deadline:
        time.sleep(0.01)
    assert server.server.blocked_clients == 1
    r.zadd("k2", {"x": 7})
    t.join(5)
    c2.close()
    assert results == [(b"k2", b"x", 7.0)]
    assert r.exists("k2") == 0


def test_delete_of_big_zset_is_freed_in_pieces(r, server):
    r.zadd("z", {"m%d" % i: i for i in range(50000)})
    zs = stored(server, b"z")
    assert r.delete("z") == 1
    assert r.ping()
    deadline = time.time() + 10
    while len(zs) and time.time() < deadline:
        time.sleep(0.01)
    assert len(zs) == 0


def test_free_some_keeps_count():
    zs = ZSet.from_dict({b"m%d" % i: float(i) for i in range(5000)}, listpack=False)
    freed = zs.free_some(1000)
    assert 1000 <= freed < 5000 and len(zs) == 5000 - freed
    assert zs.rank(b"m0") == 0


def test_scores_are_doubles(r):
    r.zadd("z", {"a": 0.1, "b": 1e300, "c": float("inf")})
    assert r.zscore("z", "a") == 0.1
    assert r.zscore("z", "b") == 1e300
    assert r.zscore("z", "c") == math.inf
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.zadd("z", {"d": float("nan")})


# ------------------------------------------------------------ packed sorted sets
_members = st.sampled_from([b"a", b"ab", b"b", b"", b"a\0b", b"\0", b"\1", b"a\1", b"1.5", b"inf"])
_scores = st.sampled_from([0.0, -0.0, 1.0, 1.5, -2.25, 1e300, -1e-300, math.inf, -math.inf, 0.1])


@given(st.dictionaries(_members | st.binary(max_size=5), _scores, max_size=12))
def test_packed_zset_reads_as_the_zset_it_packs(d):
    """Every read a PackedZSet answers is the ZSet's answer (scores as the same
    doubles), and only a set that fits (no 0 or 1 byte in a member) is packed."""
    zs = ZSet.from_dict(d)
    p = pack_zset(zs)
    if not d or any(b"\0" in m or b"\1" in m for m in d):
        assert p is zs
        return
    assert p.__class__ is PackedZSet and p.listpack and p.object_encoding() == b"listpack"
    assert len(p) == len(zs) and list(p) == list(zs) and list(p.items()) == list(zs.items())
    members = list(d)
    probes = members + [a + b for a in members for b in members] + [b"zz", b"\0", b"\1"]
    flat = [x for m, s in zs.items() for x in (m, repr(s).encode())]
    probes += [b"\1".join(flat[i : i + 2]) for i in range(len(flat))]
    probes += [b"\1".join(flat[i : i + 2]) + b"\0" + m for i in range(len(flat)) for m in members]
    for x in probes:
        assert p.score(x) == zs.score(x) and (x in p) == (x in zs), x
        assert p.rank(x) == zs.rank(x), x
    n = len(zs)
    for start in range(n + 1):
        for stop in range(start, n + 1):
            assert p.range(start, stop) == zs.range(start, stop)
            assert p.rev_range(start, stop) == zs.rev_range(start, stop)
    u = p.unpack()
    assert u.__class__ is ZSet and u.listpack and list(u) == list(zs) and u.dict == zs.dict
    assert list(p.copy()) == list(p)
    q = pickle.loads(pickle.dumps(p))
    assert q.__class__ is PackedZSet and list(q) == list(zs)
    assert sys.getsizeof(p) < sys.getsizeof(zs.dict)


def test_a_zset_rests_packed_until_written_or_read_otherwise(dbg):
    """A ZADD that creates a sorted set leaves it packed; ZCARD, ZSCORE, ZMSCORE,
    ZRANK, ZREVRANK and ranges by rank read it as it is and answer what a ZSet
    answers; any other command makes it a ZSet first, for good."""
    server, r = dbg
    mapping = {"a": 1, "b": 2.5, "c": -3, "": 0, "e": 1e20}
    r.zadd("p", mapping)
    r.zadd("z", {"a": 1})  # the same set, made by two writes: a ZSet
    r.zadd("z", mapping)
    assert _kind(server, b"p") is PackedZSet and _kind(server, b"z") is ZSet
    for read in (
        lambda k: r.zcard(k),
        lambda k: [r.zscore(k, m) for m in ("a", "b", "", "nope", "1")],
        lambda k: r.zmscore(k, ["e", "nope", "c"]),
        lambda k: [r.zrank(k, m) for m in ("a", "c", "", "nope")],
        lambda k: [r.zrevrank(k, m) for m in ("a", "c", "nope")],
        lambda k: r.zrange(k, 0, -1),
        lambda k: r.zrange(k, 1, 3, withscores=True),
        lambda k: r.zrange(k, 0, -2, desc=True, withscores=True),
        lambda k: r.zrevrange(k, 0, 2, withscores=True),
        lambda k: r.execute_command("ZRANGE", k, "-100", "100"),
        lambda k: r.object("encoding", k),
        lambda k: r.type(k),
        lambda k: r.execute_command("DEBUG", "DIGEST-VALUE", k),
    ):
        assert read(b"p") == read(b"z")
    assert _kind(server, b"p") is PackedZSet  # (those reads leave it packed)
    assert r.memory_usage("p") < r.memory_usage("z")
    others = [
        lambda k: r.zadd(k, {"new": 7}),
        lambda k: r.zadd(k, {"a": 9}),
        lambda k: r.zincrby(k, 1, "a"),
        lambda k: r.zrem(k, "b"),
        lambda k: r.zpopmin(k),
        lambda k: r.bzpopmax(k, 1)[1:],
        lambda k: r.zrangebyscore(k, 0, 3),
        lambda k: r.zrange(k, "[a", "[c", bylex=True),
        lambda k: r.zcount(k, 0, 3),
        lambda k: r.zscan(k),
        lambda k: r.zunionstore("dst", [k, "z"]),
        lambda k: r.zrandmember(k, 2),
        lambda k: r.sort(k, alpha=True),
        lambda k: r.zremrangebyrank(k, 0, 0),
    ]
    for other in others:
        r.delete("p", "q")
        r.zadd("p", mapping)
        r.zadd("q", mapping)
        r.zadd("q", {"a": 1})  # (a ZSet twin: same contents)
        assert _kind(server, b"p") is PackedZSet
        assert other(b"p") == other(b"q") or other is others[-3]  # (random)
        assert _kind(server, b"p") is ZSet
        assert r.zrange("p", 0, -1, withscores=True) == r.zrange("q", 0, -1, withscores=True)
    r.set("s", "x")
    for cmd in (
        ("ZADD", "s", "1", "a"),
        ("ZSCORE", "s", "a"),
        ("ZRANGE", "s", "0", "1"),
        ("ZCARD", "s"),
    ):
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            r.execute_command(*cmd)


def test_loading_packs_listpack_zsets(dbg):
    server, r = dbg
    r.zadd("written", {"a": 1})
    r.zadd("written", {"b": 2})
    r.zadd("big", {"m%d" % i: i for i in range(200)})
    r.zadd("nul", {"a\0b": 1, "c": 2})
    r.execute_command("DEBUG", "RELOAD")
    assert _kind(server, b"written") is PackedZSet
    assert r.zrange("written", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]
    assert _kind(server, b"big") is ZSet and _kind(server, b"nul") is ZSet
    r.restore("copy", 0, r.dump("written"))
    assert _kind(server, b"copy") is PackedZSet
    r.copy("copy", "copy2")
    r.zadd("copy2", {"c": 3})
    assert r.zcard("copy") == 2 and r.zcard("copy2") == 3
    # a client blocked on a key that a ZADD creates packed is served
    got = []
    t = threading.Thread(
        target=lambda: got.append(redis.Redis(port=server.port).bzpopmin("later", 5))
    )
    t.start()
    time.sleep(0.3)
    r.zadd("later", {"x": 1, "y": 2})
    t.join(5)
    assert got == [(b"later", b"x", 1.0)] and r.zrange("later", 0, -1) == [b"y"]


_plain = st.binary(max_size=3).filter(lambda m: b"\0" not in m and b"\1" not in m)


@given(
    st.dictionaries(_plain, _scores, min_size=1, max_size=10),
    st.lists(st.tuples(st.binary(max_size=3), _scores | st.none()), max_size=30),
)
def test_an_unpacked_zset_takes_every_change(d, changes):
    """unpack() builds the ZSet's structures directly (one block): inserts, updates
    and removals after it leave it equal to a ZSet built the usual way."""
    u = pack_zset(ZSet.from_dict(d)).unpack()
    ref = ZSet.from_dict(d)
    for m, s in changes:
        for z in (u, ref):
            cur = z.score(m)
            if s is None:
                if cur is not None:
                    z.remove(m)
            elif cur is None:
                z.insert(m, s)
            elif cur != s:
                z.update(m, cur, s)
        assert list(u) == list(ref) and u.dict == ref.dict
        assert [u.rank(m) for m in ref.dict] == [ref.rank(m) for m in ref.dict]
