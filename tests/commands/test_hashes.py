"""Hash commands: what a byte-for-byte comparison cannot cover (hashtable order,
randomness, propagation, big hashes, CONFIG SET of the listpack limits)."""

import collections
import pickle
import sys

import pytest
import redis
from hypothesis import given, strategies as st

from vermilion.embed import start_server
from vermilion.types import hash as hash_type
from vermilion.types.hash import PackedHash, RHash, pack


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


# ----------------------------------------------------------------- packed hashes
# Fields that are prefixes, suffixes and parts of each other, the empty field, and
# the 0 and 1 bytes that separate a packed hash's entries (a hash holding one stays
# a dict), in fields and in values.
_fields = st.sampled_from(
    [b"a", b"ab", b"b", b"ba", b"", b"a\0b", b"\0", b"\1", b"a\1", b"field", b"fiel"]
)
_values = st.binary(max_size=8) | st.sampled_from([b"v" * 300, b"\0", b"\1", b"a", b"$1\r\na\r\n"])


@given(st.lists(st.tuples(_fields | st.binary(max_size=6), _values), max_size=12))
def test_packed_hash_reads_as_the_dict_it_packs(pairs):
    """Every read of a PackedHash answers what the RHash it was packed from does,
    and only a hash that fits (no 0 or 1 byte in a field or value) is packed."""
    h = RHash(pairs)
    p = pack(h)
    # (an empty hash is never stored: it is not packed either)
    fits = h and not any(b in x for kv in h.items() for x in kv for b in (b"\0", b"\1"))
    if not fits:
        assert p is h
        return
    assert p.__class__ is PackedHash and p.listpack and p.object_encoding() == b"listpack"
    assert len(p) == len(h) and list(p) == list(h) and list(p.keys()) == list(h)
    assert list(p.values()) == list(h.values()) and list(p.items()) == list(h.items())
    fields = list(h)
    flat = [x for kv in h.items() for x in kv]
    probes = fields + [f + g for f in fields for g in fields] + [b"zz", b"\0", b"\1"]
    # (spans of the packed form: a field, its 1 byte, its value, the next field...)
    probes += [b"\1".join(flat[i : i + 2]) for i in range(len(flat))]
    probes += [b"\0".join(flat[i : i + 3]) for i in range(len(flat))]
    probes += [b"\1".join(flat[i : i + 2]) + b"\0" + x for i in range(len(flat)) for x in flat]
    for x in probes:
        assert (x in p) == (x in h), x
        assert p.get(x) == h.get(x) and p.get(x, 7) == h.get(x, 7), x
        if x in h:
            assert p[x] == h[x]
        else:
            with pytest.raises(KeyError):
                p[x]
    u = p.unpack()
    assert u.__class__ is RHash and u.listpack and list(u.items()) == list(h.items())
    assert p == h and h == p and p == p.copy() and p != {b"other": b"x"}
    q = pickle.loads(pickle.dumps(p))
    assert q.__class__ is PackedHash and list(q.items()) == list(h.items())
    assert p.random_field() in h
    assert sorted(p.random_fields_unique(len(h))) == sorted(h)
    assert sys.getsizeof(p) < sys.getsizeof(h) + sum(
        sys.getsizeof(x) for kv in h.items() for x in kv
    )


def test_only_small_listpack_hashes_are_packed():
    small = RHash({b"f%d" % i: b"v" for i in range(hash_type.PACK_ENTRIES)})
    assert pack(small).__class__ is PackedHash
    big = RHash({b"f%d" % i: b"v" for i in range(hash_type.PACK_ENTRIES + 1)})
    assert pack(big) is big
    table = RHash.build([(b"a", b"1")], 0, 64)  # (a hashtable by Redis's rules)
    assert pack(table) is table


def _kind(server, key):
    return stored(server, key).__class__


@pytest.fixture
def dbg():
    """A server of its own with DEBUG enabled (DIGEST-VALUE, RELOAD), and a client."""
    s = start_server(enable_debug_command="yes")
    c = redis.Redis(port=s.port)
    yield s, c
    c.close()
    s.stop()


def test_a_hash_rests_packed_until_written(dbg):
    """An HSET that creates a hash leaves it packed; every read answers from the
    packed form what it answers from a dict; the first write makes it a dict."""
    server, r = dbg
    mapping = {b"name": b"alice", b"age": b"30", b"": b"empty", b"city": b"paris"}
    r.hset("p", mapping=mapping)
    r.hset("d", "name", "alice")  # the same hash, made by two writes: a dict
    r.hset("d", mapping=mapping)
    assert _kind(server, b"p") is PackedHash and _kind(server, b"d") is RHash
    for read in (
        lambda k: r.hgetall(k),
        lambda k: r.hkeys(k),
        lambda k: r.hvals(k),
        lambda k: r.hlen(k),
        lambda k: [r.hget(k, f) for f in (b"name", b"", b"nope", b"nam")],
        lambda k: r.hmget(k, [b"age", b"nope", b"city"]),
        lambda k: [r.hexists(k, f) for f in (b"age", b"ag", b"")],
        lambda k: [r.hstrlen(k, f) for f in (b"name", b"nope")],
        lambda k: r.hscan(k, 0, match="*a*"),
        lambda k: sorted(r.hrandfield(k, 10, withvalues=True)),
        lambda k: r.object("encoding", k),
        lambda k: r.type(k),
        lambda k: r.sort("ids", by="nosort", get=["%s->name" % k.decode(), "%s->age" % k.decode()]),
        lambda k: r.execute_command("DEBUG", "DIGEST-VALUE", k),
    ):
        r.rpush("ids", 1) if not r.exists("ids") else None
        assert read(b"p") == read(b"d")
    assert r.memory_usage("p") < r.memory_usage("d")
    assert _kind(server, b"p") is PackedHash  # (reads leave it packed)
    writes = [
        (lambda k: r.hset(k, "name", "bob"), {b"name": b"bob"}),
        (lambda k: r.hset(k, "new", "1"), {b"new": b"1"}),
        (lambda k: r.hsetnx(k, "name", "bob"), {}),
        (lambda k: r.hincrby(k, "age", 2), {b"age": b"32"}),
        (lambda k: r.hincrbyfloat(k, "age", 0.5), {b"age": b"30.5"}),
        (lambda k: r.hdel(k, "city"), {b"city": None}),
    ]
    for write, change in writes:
        r.delete("p")
        r.hset("p", mapping=mapping)
        assert _kind(server, b"p") is PackedHash
        write(b"p")
        assert _kind(server, b"p") is RHash
        want = {**mapping, **change}
        assert r.hgetall("p") == {f: v for f, v in want.items() if v is not None}
        assert r.object("encoding", "p") == b"listpack"


def test_writes_to_a_packed_hash_keep_ttl_and_type_errors(r, server):
    r.hset("p", "a", "1")
    r.expire("p", 1000)
    r.hset("p", "b", "2")
    assert _kind(server, b"p") is RHash and 0 < r.ttl("p") <= 1000
    r.set("s", "x")
    for cmd in (
        ("HSET", "s", "a", "1"),
        ("HDEL", "s", "a"),
        ("HGET", "s", "a"),
        ("HINCRBY", "s", "a", "1"),
    ):
        with pytest.raises(Exception, match="WRONGTYPE"):
            r.execute_command(*cmd)


def test_loading_packs_listpack_hashes(dbg):
    """A dataset load (DEBUG RELOAD here; RESTORE and a replica's sync read the same
    way) packs every hash Redis would hold as a listpack, if it fits."""
    server, r = dbg
    r.hset("written", "a", "1")
    r.hset("written", "b", "2")
    r.hset("big", mapping={b"f%d" % i: b"v" for i in range(200)})
    r.hset("long", "a", "x" * 100)  # (a hashtable: value over hash-max-listpack-value)
    r.hset("nul", "a\0b", "1")
    r.hset("nul", "c", "2")
    assert _kind(server, b"written") is RHash
    r.execute_command("DEBUG", "RELOAD")
    assert _kind(server, b"written") is PackedHash and r.hgetall("written") == {
        b"a": b"1",
        b"b": b"2",
    }
    assert _kind(server, b"big") is RHash and _kind(server, b"long") is RHash
    assert _kind(server, b"nul") is RHash
    dump = r.dump("written")
    r.restore("copy", 0, dump)
    assert _kind(server, b"copy") is PackedHash and r.hgetall("copy") == r.hgetall("written")
    r.copy("copy", "copy2")
    r.hset("copy2", "c", "3")
    assert _kind(server, b"copy") is PackedHash and r.hlen("copy") == 2 and r.hlen("copy2") == 3
