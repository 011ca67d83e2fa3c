"""Set commands: what a byte-for-byte comparison cannot cover (hashtable order,
randomness, propagation, big sets)."""

import collections
import pickle
import sys
import time

import pytest
import redis
from hypothesis import given, strategies as st

from vermilion.types.set import PackedSet, RSet, pack as pack_set


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
stored = _hash_tests.stored
dbg = _hash_tests.dbg  # fixture: a server of its own with DEBUG enabled, and a client
_kind = _hash_tests._kind  # the class of the value stored at a key


def test_hashtable_sets_compared_sorted(r):
    members = [b"m%d" % i for i in range(1000)]
    assert r.sadd("s", *members) == 1000
    assert sorted(r.smembers("s")) == sorted(members)
    assert r.scard("s") == 1000
    r.sadd("t", *members[500:], b"x")
    assert sorted(r.sinter("s", "t")) == sorted(members[500:])
    assert sorted(r.sunion("s", "t")) == sorted(members + [b"x"])
    assert sorted(r.sdiff("s", "t")) == sorted(members[:500])
    assert r.sintercard(2, ["s", "t"]) == 500
    assert r.sintercard(2, ["s", "t"], limit=7) == 7


def test_intset_limits_follow_config_set(r, server):
    cfg = server.server.config
    r.sadd("a", *range(600))
    assert stored(server, b"a").object_encoding() == b"hashtable"
    cfg.set("set-max-intset-entries", "1000")
    r.sadd("b", *range(600))
    assert stored(server, b"b").object_encoding() == b"intset"
    assert r.smembers("b") == {b"%d" % i for i in range(600)}
    r.sadd("b", "x")
    assert stored(server, b"b").object_encoding() == b"hashtable"


def test_intset_reply_is_numeric_order(server):
    from support import RawConn

    c = RawConn(server.host, server.port)
    c.call("SADD", "s", "10", "-3", "2", "100", "-50")
    assert c.call("SMEMBERS", "s") == (
        b"*5\r\n$3\r\n-50\r\n$2\r\n-3\r\n$1\r\n2\r\n$2\r\n10\r\n$3\r\n100\r\n"
    )
    c.close()


def test_spop_drains_every_member_once(r):
    members = {b"%d" % i for i in range(300)} | {b"x%d" % i for i in range(300)}
    r.sadd("s", *members)
    got = []
    while True:
        m = r.spop("s")
        if m is None:
            break
        got.append(m)
    assert sorted(got) == sorted(members)
    assert r.exists("s") == 0


@pytest.mark.parametrize("count", [1, 10, 250, 499, 500, 501, 2000])
def test_spop_count_partitions_the_set(r, count):
    members = {b"e%d" % i for i in range(500)}
    r.sadd("s", *members)
    popped = r.spop("s", count)
    assert len(popped) == min(count, 500)
    assert len(set(popped)) == len(popped)
    left = r.smembers("s")
    assert left | set(popped) == members
    assert not (left & set(popped))


def test_spop_propagation(server, r, fed):
    r.sadd("s", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
    del fed[:]
    m = r.spop("s")
    assert fed == [[b"SREM", b"s", m]]
    del fed[:]
    popped = r.spop("s", 2)  # few: picked at random
    assert sorted(fed) == sorted([[b"SREM", b"s", x] for x in popped])
    del fed[:]
    popped = r.spop("s", 6)  # most: keep a few, hand out the rest
    assert sorted(fed) == sorted([[b"SREM", b"s", x] for x in popped])
    del fed[:]
    r.spop("s", 0)
    assert fed == []
    r.spop("s", 5)  # all
    assert fed == [[b"DEL", b"s"]]
    del fed[:]
    r.spop("nokey", 3)
    r.spop("nokey")
    assert fed == []


def test_spop_count_case3_rebuilds_encoding(r, server):
    cfg = server.server.config
    cfg.set("set-max-intset-entries", "20")
    r.sadd("s", *range(100))
    assert stored(server, b"s").object_encoding() == b"hashtable"
    r.spop("s", 95)  # keeps 5 random members in a fresh set
    assert stored(server, b"s").object_encoding() == b"intset"
    r.sadd("h", *range(100))
    r.spop("h", 10)  # pops in place: stays a hashtable
    assert stored(server, b"h").object_encoding() == b"hashtable"


def test_srandmember_shapes(r):
    r.sadd("s", *range(100))
    assert r.srandmember("s", 0) == []
    for count in (1, 5, 33, 34, 99, 100, 150):
        got = r.srandmember("s", count)
        assert len(got) == min(count, 100)
        assert len(set(got)) == len(got)
    got = r.srandmember("s", -500)
    assert len(got) == 500 and len(set(got)) < 500
    assert r.scard("s") == 100


def test_srandmember_is_uniform(r):
    r.sadd("s", *["m%d" % i for i in range(10)])
    counts = collections.Counter(r.srandmember("s", -20000))
    assert len(counts) == 10
    # each expected 2000; a fair die lands within 15% with overwhelming probability
    assert all(1700 < n < 2300 for n in counts.values()), counts


def test_random_picks_stay_uniform_after_removals(r):
    r.sadd("s", *["m%d" % i for i in range(1000)])
    r.srandmember("s")  # builds the sample list
    r.srem("s", *["m%d" % i for i in range(0, 1000, 2)])
    r.sadd("s", "new")
    got = r.srandmember("s", -20000)
    counts = collections.Counter(got)
    assert set(counts) <= {b"m%d" % i for i in range(1, 1000, 2)} | {b"new"}
    assert b"new" in counts
    assert len(counts) == 501


def test_big_set_random_ops_are_fast(r):
    n = 200000
    pipe = r.pipeline(transaction=False)
    for i in range(0, n, 10000):
        pipe.sadd("big", *["e%d" % j for j in range(i, i + 10000)])
    pipe.execute()
    t = time.time()
    pipe = r.pipeline(transaction=False)
    for _ in range(2000):
        pipe.spop("big")
        pipe.srandmember("big")
    pipe.execute()
    assert r.scard("big") == n - 2000
    assert len(r.srandmember("big", 1000)) == 1000
    assert len(r.spop("big", 1000)) == 1000
    assert time.time() - t < 10


def test_sscan_iterates_big_sets(r):
    members = {b"k%d" % i for i in range(2000)}
    r.sadd("s", *members)
    seen = set()
    cursor = 0
    calls = 0
    while True:
        cursor, chunk = r.sscan("s", cursor, count=100)
        seen.update(chunk)
        calls += 1
        if cursor == 0:
            break
    assert seen == members
    assert calls > 5
    got = set()
    for m in r.sscan_iter("s", match="k1*"):
        got.add(m)
    assert got == {m for m in members if m.startswith(b"k1")}


def test_rset_api():
    s = RSet([b"1", b"2"])
    assert s.object_encoding() == b"intset"
    c = s.copy()
    assert type(c) is RSet and c == s and c.intset
    assert RSet.build([b"1", b"x"], 512).object_encoding() == b"hashtable"
    assert RSet.build([b"1", b"2"], 1).object_encoding() == b"hashtable"
    assert RSet.build([b"3", b"-1"], 512).ordered() == [b"-1", b"3"]
    import pickle

    p = pickle.loads(pickle.dumps(RSet.build([b"a"], 512)))
    assert type(p) is RSet and not p.intset and p == {b"a"}


@pytest.mark.parametrize("size", [8, 2])
def test_srandmember_positive_count_is_uniform(r, size):
    """Like Redis's histogram test: cases 3 (count*3 > size) and 4 (few of many)."""
    r.sadd("s", *["m%d" % i for i in range(10)])
    counts = collections.Counter()
    for _ in range(3000 // size):
        got = r.srandmember("s", size)
        assert len(set(got)) == size
        counts.update(got)
    expected = sum(counts.values()) / 10
    chi2 = sum((n - expected) ** 2 / expected for n in counts.values())
    assert len(counts) == 10 and chi2 < 40, counts


# ---------------------------------------------------------------- packed sets
_members = st.sampled_from([b"a", b"ab", b"b", b"", b"a\0b", b"\0", b"1", b"-1", b"x y"])


@given(st.sets(_members | st.binary(max_size=4), max_size=12))
def test_packed_set_reads_as_the_set_it_packs(members):
    """A PackedSet answers membership, size and its members as the RSet it was
    packed from; only a hashtable set whose members hold no 0 byte is packed."""
    s = RSet.build(members, 512)
    p = pack_set(s)
    if not members or s.intset or any(b"\0" in m for m in members):
        assert p is s
        return
    assert p.__class__ is PackedSet and not p.intset and p.object_encoding() == b"hashtable"
    assert len(p) == len(s) and sorted(p) == sorted(s) and sorted(p.ordered()) == sorted(s)
    probes = list(members) + [a + b for a in members for b in members] + [b"zz", b"\0"]
    probes += [a + b"\0" + b for a in members for b in members]
    for x in probes:
        assert (x in p) == (x in s), x
    u = p.unpack()
    assert u.__class__ is RSet and not u.intset and u == s
    assert sorted(p.copy()) == sorted(s) and sorted(pickle.loads(pickle.dumps(p))) == sorted(s)
    assert sys.getsizeof(p) < sys.getsizeof(s)


def test_a_set_rests_packed_until_written_or_read_otherwise(dbg):
    """An SADD that creates a hashtable set leaves it packed; SCARD, SISMEMBER,
    SMISMEMBER and SMEMBERS read it as it is; any other command makes it an RSet
    first, for good."""
    server, r = dbg
    members = ["a", "b", "", "x y", "7"]
    r.sadd("p", *members)
    r.sadd("s", "a")  # the same set, made by two writes: an RSet
    r.sadd("s", *members)
    r.sadd("ints", 1, 2, 3)  # (an intset: never packed)
    assert _kind(server, b"p") is PackedSet and _kind(server, b"s") is RSet
    assert _kind(server, b"ints") is RSet
    for read in (
        lambda k: r.scard(k),
        lambda k: [r.sismember(k, m) for m in ("a", "", "x", "x y", "nope")],
        lambda k: r.smismember(k, ["b", "nope", ""]),
        lambda k: sorted(r.smembers(k)),
        lambda k: r.object("encoding", k),
        lambda k: r.type(k),
        lambda k: r.execute_command("DEBUG", "DIGEST-VALUE", k),
    ):
        assert read(b"p") == read(b"s")
    assert _kind(server, b"p") is PackedSet  # (those reads leave it packed)
    assert r.memory_usage("p") < r.memory_usage("s")
    others = [
        lambda k: r.sadd(k, "new"),
        lambda k: r.srem(k, "a"),
        lambda k: r.spop(k) in members,
        lambda k: len(r.spop(k, 2)),
        lambda k: r.srandmember(k) in members,
        lambda k: sorted(r.sinter(k, "s")),
        lambda k: r.sinterstore("dst", [k, "s"]),
        lambda k: sorted(r.sunion(k, "ints")),
        lambda k: sorted(r.sdiff(k, "ints")),
        lambda k: r.smove(k, "dst2", "b"),
        lambda k: r.sort(k, alpha=True),
        lambda k: sorted(r.sscan(k)[1]),
        lambda k: r.zunionstore("z", [k]),
    ]
    for other in others:
        r.delete("p", "q")
        r.sadd("p", *members)
        r.sadd("q", *members)
        r.sadd("q", "a")  # (an RSet twin: same members)
        assert _kind(server, b"p") is PackedSet
        assert other(b"p") == other(b"q")
        assert _kind(server, b"p") is RSet
        assert r.scard("p") == r.scard("q")  # (SPOP takes different members)
    r.delete("p")
    r.sadd("p", *members)
    assert r.smove("p", "p", "a") and r.smove("p", "p", "nope") == 0  # (the same key)
    assert sorted(r.smembers("p")) == sorted(m.encode() for m in members)
    r.set("str", "x")
    for cmd in (
        ("SADD", "str", "a"),
        ("SCARD", "str"),
        ("SMOVE", "p", "str", "a"),
        ("SMEMBERS", "str"),
    ):
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            r.execute_command(*cmd)
    assert _kind(server, b"p") is RSet and r.scard("p") == len(members)


def test_loading_packs_hashtable_sets(dbg):
    server, r = dbg
    r.sadd("written", "a")
    r.sadd("written", "b")
    r.sadd("ints", 1, 2)
    r.sadd("big", *["m%d" % i for i in range(200)])
    r.execute_command("DEBUG", "RELOAD")
    assert _kind(server, b"written") is PackedSet and sorted(r.smembers("written")) == [b"a", b"b"]
    assert _kind(server, b"ints") is RSet and _kind(server, b"big") is RSet
    r.restore("copy", 0, r.dump("written"))
    assert _kind(server, b"copy") is PackedSet
    r.copy("copy", "copy2")
    r.sadd("copy2", "c")
    assert r.scard("copy") == 2 and r.scard("copy2") == 3
