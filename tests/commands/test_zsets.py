"""Sorted-set commands: what a byte-for-byte comparison cannot cover (random
replies, hash-ordered ZSCAN, propagation, big sets, lazy freeing, encodings
following CONFIG SET)."""

import collections
import math
import threading
import time

import pytest
import redis

from vermilion.types.zset import ZSet


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
