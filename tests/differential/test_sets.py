"""Set commands against redis-server 7.0, byte for byte (t_set.c).

Intsets iterate in ascending order in Redis, so every reply about small integer
sets compares byte for byte; hashtable-ordered replies are compared sorted in
tests/commands/test_sets.py. Encodings are compared through OBJECT ENCODING on
the reference server and ``object_encoding()`` here.
"""


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
encoding = _hash_tests.encoding  # fixtures shared with the hash tests
config = _hash_tests.config
keyspace_events = _hash_tests.keyspace_events


def unordered(diff, *cmd):
    """Send ``cmd`` to both; compare the replies as multisets of elements (for
    hashtable-ordered replies); the header (type and length) must be identical."""
    a = diff.ref.call(*cmd)
    b = diff.our.call(*cmd)
    la, lb = a.split(b"\r\n"), b.split(b"\r\n")
    assert la[0] == lb[0], "reply to %r: %r vs %r" % (cmd, a, b)
    pairs_a = sorted(zip(la[1::2], la[2::2]))
    pairs_b = sorted(zip(lb[1::2], lb[2::2]))
    assert pairs_a == pairs_b, "reply to %r: %r vs %r" % (cmd, a, b)
    return a


def test_sadd_smembers_intset_order(diff, encoding):
    diff.run("""
    SADD s 5 3 -1 100 0 3
    SMEMBERS s
    SADD s 2 -9223372036854775808 9223372036854775807
    SMEMBERS s
    SCARD s
    SCARD nokey
    SMEMBERS nokey
    """)
    encoding("s")


def test_intset_canonical_members(diff, encoding):
    for member in [
        "01",
        "+1",
        "-0",
        " 1",
        "1 ",
        "1.0",
        "9223372036854775808",
        "-9223372036854775809",
        "0x10",
        "",
    ]:
        diff("DEL", "s")
        diff("SADD", "s", "1", "2")
        diff("SADD", "s", member)
        encoding("s")
        diff("SISMEMBER", "s", member)
    diff("SADD", "t", "-0")
    encoding("t")
    diff("SADD", "u", "-5", "0", "10")
    encoding("u")
    diff("SISMEMBER", "u", "010")
    diff("SISMEMBER", "u", "-0")
    diff("SISMEMBER", "u", "0")


def test_intset_conversion_one_way(diff, encoding, config):
    config("set-max-intset-entries", "4")
    diff("SADD", "s", "1", "2", "3", "4")
    encoding("s")
    diff("SADD", "s", "5")
    encoding("s")
    diff("SREM", "s", "1", "2", "3")
    encoding("s")
    diff("SADD", "t", "1", "x")
    encoding("t")
    diff("SREM", "t", "x")
    encoding("t")
    diff("SADD", "t", "2")
    encoding("t")
    config("set-max-intset-entries", "0")
    diff("SADD", "z", "1")
    encoding("z")


def test_sadd_creating_a_key(diff, encoding, config):
    """An SADD that creates its key (Vermilion packs a new hashtable set): the
    encoding counts distinct members, as Redis's conversion does."""
    config("set-max-intset-entries", "2")
    diff("SADD", "dup", "1", "1", "1", "2", "2")
    encoding("dup")
    diff("SADD", "three", "1", "2", "3")
    encoding("three")
    diff("SADD", "mixed", "1", "a", "a", "")
    encoding("mixed")
    diff("SCARD", "mixed")
    diff("SISMEMBER", "mixed", "")
    diff("SMISMEMBER", "mixed", "a", "1", "b")
    unordered(diff, "SMEMBERS", "mixed")


def test_srem(diff):
    diff.run("""
    SREM nokey a
    SADD s 1 2 3
    SREM s 4
    SREM s 1 1 2
    SMEMBERS s
    SREM s 3 4
    SCARD s
    SADD s 1
    SREM s 01
    SMEMBERS s
    """)


def test_sismember_smismember(diff):
    diff.run("""
    SADD s a b 1
    SISMEMBER s a
    SISMEMBER s zz
    SISMEMBER nokey a
    SMISMEMBER s a zz b 1
    SMISMEMBER nokey a b
    SMISMEMBER s
    SISMEMBER s
    """)


def test_wrongtype_errors(diff):
    diff.run("""
    SET str x
    SADD str a
    SREM str a
    SCARD str
    SISMEMBER str a
    SMISMEMBER str a
    SMEMBERS str
    SPOP str
    SPOP str 2
    SPOP str 0
    SRANDMEMBER str
    SRANDMEMBER str 2
    SRANDMEMBER str -2
    SSCAN str 0
    SINTER str
    SUNION str
    SDIFF str
    SINTERCARD 1 str
    SINTERSTORE d str
    SUNIONSTORE d str
    SDIFFSTORE d str
    SADD s 1
    SINTER s str
    SINTER nokey str
    SINTER str nokey
    SUNION s nokey str
    SDIFF nokey str
    SDIFF s str
    SINTERCARD 2 nokey str
    SINTERSTORE d nokey str
    SUNIONSTORE d s str
    SDIFFSTORE d nokey str
    SMOVE s str 1
    SMOVE str s 1
    SMOVE nokey str 1
    SMOVE str nokey 1
    SMEMBERS s
    """)


def test_arity_errors(diff):
    diff.run("""
    SADD s
    SADD
    SREM s
    SCARD
    SCARD a b
    SISMEMBER s
    SMISMEMBER s
    SMEMBERS
    SPOP
    SPOP s 1 2
    SRANDMEMBER
    SRANDMEMBER s 1 2
    SMOVE a b
    SINTER
    SINTERCARD 1
    SINTERSTORE d
    SUNION
    SUNIONSTORE d
    SDIFF
    SDIFFSTORE d
    SSCAN s
    """)


def test_smove(diff, encoding):
    diff.run("""
    SMOVE nokey d 1
    SADD src 1 2 3
    SMOVE src dst 1
    SMEMBERS src
    SMEMBERS dst
    SMOVE src dst 9
    SMOVE src src 2
    SMOVE src src 9
    SADD dst 2
    SMOVE src dst 2
    SMEMBERS src
    SMEMBERS dst
    SMOVE src dst 3
    SCARD src
    SMEMBERS dst
    SADD src2 a
    SMOVE src2 dst a
    SMEMBERS src2
    SCARD dst
    """)
    encoding("dst")
    diff("SADD", "x", "1")
    diff("SMOVE", "x", "newdst", "1")
    encoding("newdst")


def test_spop_single(diff):
    diff.run("""
    SPOP nokey
    SADD s 42
    SPOP s
    SCARD s
    SPOP s
    """)


def test_spop_count(diff, encoding):
    diff.run("""
    SPOP nokey 3
    SPOP nokey 0
    SADD s 3 1 2
    SPOP s 0
    SPOP s abc
    SPOP s -1
    SPOP s 1.5
    SPOP s 9223372036854775808
    SCARD s
    SPOP s 3
    SCARD s
    SADD s 3 1 2
    SPOP s 100
    SADD t 3 1 2
    SPOP t 9223372036854775807
    SPOP t 1
    """)


def test_spop_count_all_gets_fresh_encoding(diff, encoding, config):
    """Popping everything answers like SUNION of the set: sorted when it would be
    an intset, even if the stored set had become a hashtable."""
    config("set-max-intset-entries", "4")
    diff("SADD", "s", "1", "2", "3", "4", "5", "6")
    encoding("s")
    diff("SREM", "s", "1", "2")
    encoding("s")
    diff("SPOP", "s", "10")


def test_spop_count_keeps_shape(diff):
    # The counts are deterministic even if the members are random.
    diff("SADD", "s", *[str(i) for i in range(20)])
    a = diff.ref.call("SPOP", "s", "5")
    b = diff.our.call("SPOP", "s", "5")
    assert a.split(b"\r\n")[0] == b.split(b"\r\n")[0] == b"*5"
    diff("SCARD", "s")
    a = diff.ref.call("SPOP", "s", "14")
    b = diff.our.call("SPOP", "s", "14")
    assert a.split(b"\r\n")[0] == b.split(b"\r\n")[0] == b"*14"
    diff("SCARD", "s")


def test_srandmember(diff):
    diff.run("""
    SRANDMEMBER nokey
    SRANDMEMBER nokey 5
    SRANDMEMBER nokey -5
    SRANDMEMBER nokey abc
    SADD s 3 1 2
    SRANDMEMBER s 0
    SRANDMEMBER s 3
    SRANDMEMBER s 10
    SRANDMEMBER s 9223372036854775807
    SRANDMEMBER s abc
    SRANDMEMBER s -9223372036854775808
    SRANDMEMBER s 9223372036854775808
    SADD one x
    SRANDMEMBER one
    SRANDMEMBER one -4
    SRANDMEMBER one 1
    SRANDMEMBER one 4
    """)


def test_sinter(diff):
    diff.run("""
    SADD a 1 2 3 4 5
    SADD b 3 4 5 6
    SADD c 5 4 7
    SINTER a
    SINTER a b
    SINTER a b c
    SINTER c b a
    SINTER a nokey
    SINTER nokey a
    SINTER a a
    SADD x foo 3 4
    """)
    unordered(diff, "SINTER", "a", "x")
    unordered(diff, "SINTER", "x", "a")


def test_sinterstore(diff, encoding):
    diff.run("""
    SADD a 1 2 3 4 5
    SADD b 3 4 5 6
    SINTERSTORE d a b
    SMEMBERS d
    SINTERSTORE d a nokey
    SCARD d
    SINTERSTORE d a nokey
    SET str x
    SINTERSTORE str a b
    SMEMBERS str
    SINTERSTORE a a b
    SMEMBERS a
    SADD e 100
    SINTERSTORE d a e
    SCARD d
    SADD h 3 4 x
    SINTERSTORE d2 h a
    SMEMBERS d2
    """)
    encoding("d2")
    encoding("str")


def test_sintercard(diff):
    diff.run("""
    SADD a 1 2 3 4 5
    SADD b 3 4 5 6
    SINTERCARD 1 a
    SINTERCARD 2 a b
    SINTERCARD 2 a b LIMIT 0
    SINTERCARD 2 a b LIMIT 1
    SINTERCARD 2 a b limit 2
    SINTERCARD 2 a b LIMIT 10
    SINTERCARD 2 a nokey
    SINTERCARD 3 a b
    SINTERCARD 0 a
    SINTERCARD -1 a
    SINTERCARD abc a
    SINTERCARD 1 a LIMIT -1
    SINTERCARD 1 a LIMIT abc
    SINTERCARD 1 a LIMIT
    SINTERCARD 1 a FOO 1
    SINTERCARD 1 a b
    SINTERCARD 1 a LIMIT 1 LIMIT 2
    SINTERCARD 9223372036854775808 a
    SINTERCARD 2 a a
    """)


def test_sunion_sdiff(diff):
    diff.run("""
    SADD a 1 2 3 4 5
    SADD b 3 4 5 6
    SADD c 5 4 7
    SUNION a
    SUNION a b c
    SUNION nokey
    SUNION nokey a
    SDIFF a
    SDIFF a b
    SDIFF a b c
    SDIFF b a
    SDIFF a nokey
    SDIFF nokey a
    SDIFF a a
    SDIFF a b a
    SDIFF a a nokey
    """)


def test_union_diff_store(diff, encoding):
    diff.run("""
    SADD a 1 2 3 4 5
    SADD b 3 4 5 6
    SADD x foo bar 1
    SUNIONSTORE d a b
    SMEMBERS d
    SDIFFSTORE d a b
    SMEMBERS d
    SDIFFSTORE d a a
    SCARD d
    SUNIONSTORE d nokey
    SCARD d
    SUNIONSTORE d nokey
    SDIFFSTORE d nokey a
    SDIFFSTORE e x a
    SDIFFSTORE f x bar foo
    SET str x
    SUNIONSTORE str a
    SMEMBERS str
    """)
    unordered(diff, "SMEMBERS", "f")
    encoding("e")
    encoding("f")
    encoding("str")


def test_sdiff_algorithm_two_encoding(diff, encoding, config):
    """Redis's second SDIFF algorithm copies the whole first set, so a first set that
    cannot be an intset leaves a hashtable result even when the result is small."""
    config("set-max-intset-entries", "10")
    diff("SADD", "big", *[str(i) for i in range(20)])
    diff("SADD", "r1", *[str(i) for i in range(2, 12)])
    diff("SADD", "r2", "0")
    diff("SADD", "r3", "19")
    diff("SDIFFSTORE", "d", "big", "r1", "r2", "r3")
    assert encoding("d") == b"$9\r\nhashtable\r\n"
    unordered(diff, "SMEMBERS", "d")
    unordered(diff, "SDIFF", "big", "r1", "r2", "r3")
    # Algorithm one (few sets): only the result is added.
    diff("SDIFFSTORE", "d1", "big", "r1")
    assert encoding("d1") == b"$6\r\nintset\r\n"
    diff("SMEMBERS", "d1")


def test_store_results_encoding(diff, encoding, config):
    config("set-max-intset-entries", "5")
    diff("SADD", "a", "1", "2", "3")
    diff("SADD", "b", "4", "5", "6")
    diff("SUNIONSTORE", "u", "a", "b")
    encoding("u")
    diff("SUNIONSTORE", "u2", "a")
    encoding("u2")
    unordered(diff, "SUNION", "a", "b")  # a hashtable: any order
    diff("SADD", "h", "1", "2", "3", "4", "5", "6", "7")
    encoding("h")
    diff("SREM", "h", "4", "5", "6", "7")
    diff("SINTERSTORE", "i", "h", "a")
    encoding("i")
    diff("SINTERSTORE", "i2", "h", "h")
    encoding("i2")


def test_sscan(diff):
    diff.run("""
    SSCAN nokey 0
    SSCAN nokey 0 COUNT 0
    SADD s 5 1 3
    SSCAN s 0
    SSCAN s 0 COUNT 1
    SSCAN s 0 COUNT 0
    SSCAN s 0 COUNT -1
    SSCAN s 0 COUNT abc
    SSCAN s 0 COUNT
    SSCAN s 0 TYPE string
    SSCAN s 0 MATCH 1*
    SSCAN s 0 MATCH * COUNT 10
    SSCAN s abc
    SSCAN s 3
    """)


def test_resp3(diff3):
    diff3.run("""
    SADD s 3 1 2
    SMEMBERS s
    SMEMBERS nokey
    SINTER s nokey
    SINTER s
    SUNION s
    SDIFF s
    SUNION nokey
    SPOP nokey 2
    SPOP nokey
    SPOP s 0
    SRANDMEMBER s 5
    SRANDMEMBER nokey
    SRANDMEMBER nokey 2
    SMISMEMBER s 1 4
    SSCAN s 0
    SINTERCARD 1 s
    SPOP s 3
    """)


def test_set_keyspace_events(real_redis, server):
    theirs, ours = keyspace_events(
        real_redis,
        server,
        """
    SADD s 1 2 3
    SADD s 1
    SREM s 9
    SREM s 1
    SMOVE s t 2
    SMOVE s t 9
    SADD t 3
    SMOVE s t 3
    SMOVE t t 3
    SADD h x y z
    SMOVE h h x
    SMOVE h h nope
    SMOVE h t y
    SADD p 1 2 3 4 5 6 7 8 9 10
    SPOP p
    SPOP p 0
    SPOP p 2
    SPOP p 6
    SPOP p 5
    SPOP p 5
    SADD one x
    SPOP one
    SADD a 1 2 3
    SADD b 2 3 4
    SINTERSTORE i a b
    SINTERSTORE i a nokey
    SINTERSTORE i a nokey
    SUNIONSTORE u a b
    SUNIONSTORE u nokey
    SDIFFSTORE d a b
    SDIFFSTORE d a a
    SREM a 1 2 3 4
    """,
    )
    assert ours == theirs
    assert (b"spop", b"p") in ours and (b"sinterstore", b"i") in ours


def test_fuzz_integer_sets(diff):
    """Random operations on small integer sets (intsets: ordered replies)."""
    import random

    rnd = random.Random(7)
    keys = ["a", "b", "c", "d"]

    def members(k):
        return [str(rnd.randint(-20, 20)) for _ in range(k)]

    for _ in range(400):
        op = rnd.choice(
            [
                "SADD",
                "SREM",
                "SMOVE",
                "SINTER",
                "SUNION",
                "SDIFF",
                "SINTERSTORE",
                "SUNIONSTORE",
                "SDIFFSTORE",
                "SMEMBERS",
                "SCARD",
                "SISMEMBER",
                "SMISMEMBER",
                "SINTERCARD",
                "SSCAN",
            ]
        )
        k = rnd.choice(keys)
        if op == "SADD" or op == "SREM":
            diff(op, k, *members(rnd.randint(1, 6)))
        elif op == "SMOVE":
            diff(op, k, rnd.choice(keys), members(1)[0])
        elif op in ("SINTER", "SUNION", "SDIFF"):
            diff(op, *rnd.sample(keys, rnd.randint(1, 3)))
        elif op.endswith("STORE"):
            diff(op, rnd.choice(keys), *rnd.sample(keys, rnd.randint(1, 3)))
        elif op == "SINTERCARD":
            ks = rnd.sample(keys, rnd.randint(1, 3))
            diff(op, len(ks), *ks, "LIMIT", rnd.randint(0, 5))
        elif op in ("SISMEMBER",):
            diff(op, k, members(1)[0])
        elif op == "SMISMEMBER":
            diff(op, k, *members(3))
        elif op == "SSCAN":
            diff(op, k, "0", "MATCH", "*1*")
        else:
            diff(op, k)
