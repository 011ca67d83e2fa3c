"""Hash commands: what a byte-for-byte comparison cannot cover (hashtable order,
randomness, propagation, big hashes, CONFIG SET of the listpack limits)."""

import collections

import pytest

from vermilion.types.hash import RHash


class Recorder:
    def __init__(self):
        self.fed = []

    def feed(self, dbid, cmds):
        self.fed.extend([list(c) for c in cmds])


@pytest.fixture
def fed(server):
    rec = Recorder()
    server.server.persistence = rec
    yield rec.fed
    server.server.persistence = None


def stored(server, key):
    return server.server.dbs[0].data.get(key)


def test_big_hash(r, server):
    mapping = {b"f%d" % i: b"v%d" % i for i in range(1000)}
    assert r.hset("h", mapping=mapping) == 1000
    assert stored(server, b"h").object_encoding() == b"hashtable"
    assert r.hgetall("h") == mapping
    assert sorted(r.hkeys("h")) == sorted(mapping)
    assert sorted(r.hvals("h")) == sorted(mapping.values())
    assert r.hlen("h") == 1000
    assert r.hmget("h", "f5", "nope") == [b"v5", None]


def test_listpack_limits_follow_config_set(r, server):
    cfg = server.server.config
    cfg.set("hash-max-listpack-entries", "2")
    r.hset("h", mapping={"a": 1, "b": 2})
    assert stored(server, b"h").object_encoding() == b"listpack"
    r.hset("h", "c", 3)
    assert stored(server, b"h").object_encoding() == b"hashtable"
    cfg.set("hash-max-ziplist-value", "2")  # the old name still works
    r.hset("g", "a", "12")
    assert stored(server, b"g").object_encoding() == b"listpack"
    r.hset("g", "b", "123")
    assert stored(server, b"g").object_encoding() == b"hashtable"


def test_hincrbyfloat_propagates_as_hset(r, fed):
    assert r.hincrbyfloat("h", "f", "1.1") == pytest.approx(1.1)
    assert fed == [[b"HSET", b"h", b"f", b"1.1"]]
    del fed[:]
    r.hincrbyfloat("h", "f", "2e0")
    assert fed == [[b"HSET", b"h", b"f", b"3.1"]]
    del fed[:]
    with pytest.raises(Exception):
        r.hincrbyfloat("h", "f", "nan")
    assert fed == []


def test_writes_propagate_verbatim(r, fed):
    r.hset("h", "a", "1")
    r.hsetnx("h", "a", "2")  # no change, nothing to propagate
    r.hincrby("h", "a", 5)
    r.hdel("h", "zz")
    r.hdel("h", "a")
    assert fed == [
        [b"HSET", b"h", b"a", b"1"],
        [b"HINCRBY", b"h", b"a", b"5"],
        [b"HDEL", b"h", b"a"],
    ]


def test_hrandfield_shapes(r):
    mapping = {b"f%d" % i: b"v%d" % i for i in range(300)}
    r.hset("h", mapping=mapping)
    for count in (1, 5, 99, 100, 101, 299, 300, 1000):
        got = r.hrandfield("h", count)
        assert len(got) == min(count, 300) and len(set(got)) == len(got)
        assert set(got) <= set(mapping)
    pairs = r.hrandfield("h", 7, withvalues=True)
    assert len(pairs) == 14
    for f, v in zip(pairs[0::2], pairs[1::2]):
        assert mapping[f] == v
    got = r.hrandfield("h", -1000)
    assert len(got) == 1000 and len(set(got)) < 1000


def test_hrandfield_small_hash_subset_keeps_order(r):
    r.hset("h", mapping={"f%02d" % i: i for i in range(30)})
    for _ in range(20):
        got = r.hrandfield("h", 5)
        assert got == sorted(got)  # listpack: picked in listpack order


def test_hrandfield_is_uniform(r):
    r.hset("small", mapping={"f%d" % i: i for i in range(8)})
    r.hset(
        "big", mapping={"f%d" % i: i for i in range(8)} | {"x%d" % i: "y" * 100 for i in range(2)}
    )
    for key, n in (("small", 8), ("big", 10)):
        counts = collections.Counter(r.hrandfield(key, -20000))
        assert len(counts) == n
        expected = 20000 / n
        assert all(abs(c - expected) < 0.15 * expected for c in counts.values()), counts
    seen = collections.Counter(r.hrandfield("big") for _ in range(300))
    assert len(seen) >= 8


def test_hscan_big_hash(r):
    mapping = {b"k%d" % i: b"%d" % i for i in range(2000)}
    r.hset("h", mapping=mapping)
    seen = {}
    cursor = 0
    calls = 0
    while True:
        cursor, chunk = r.hscan("h", cursor, count=50)
        seen.update(chunk)
        calls += 1
        if cursor == 0:
            break
    assert seen == mapping and calls > 10
    got = dict(r.hscan_iter("h", match="k19*"))
    assert got == {k: v for k, v in mapping.items() if k.startswith(b"k19")}


def test_rhash_api():
    h = RHash({b"a": b"1"})
    assert h.object_encoding() == b"listpack"
    c = h.copy()
    assert type(c) is RHash and c == h and c.listpack
    assert RHash.build([(b"a", b"x" * 65)], 128, 64).object_encoding() == b"hashtable"
    assert RHash.build([(b"a", b"1"), (b"b", b"2")], 1, 64).object_encoding() == b"hashtable"
    import pickle

    p = pickle.loads(pickle.dumps(RHash.build([(b"a", b"1")], 1, 64)))
    assert type(p) is RHash and p.listpack and p == {b"a": b"1"}
