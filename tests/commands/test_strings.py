"""String and bitmap commands: representation, propagation, and the number parsers.

Reply bytes are compared with redis-server in tests/differential/; this file checks
what a client cannot see (how values are stored, what is written to the AOF) and
checks vermilion.util's strtod/strtold emulation against the reference server.
"""

import math
import random
import time

import pytest

from support import RawConn
from vermilion import util


def _data(server):
    return server.server.dbs[0].data


# ----------------------------------------------------------- representation
def test_values_are_bytes_until_modified_in_place(server, r):
    r.set("s", "abc")
    r.append("new", "x")
    r.incr("n")
    r.mset({"m": "1"})
    data = _data(server)
    assert data[b"s"].__class__ is bytes
    assert data[b"new"].__class__ is bytes  # APPEND to a missing key stores the arg
    assert data[b"n"] == b"1" and data[b"n"].__class__ is bytes
    assert data[b"m"].__class__ is bytes

    r.append("s", "def")
    r.setrange("r", 2, "x")
    r.setbit("b", 3, 1)
    r.bitfield("f").set("u8", 0, 7).execute()
    r.bitop("OR", "o", "s")
    for k in (b"s", b"r", b"b", b"f", b"o"):
        assert data[k].__class__ is bytearray, k
    assert r.get("s") == b"abcdef"
    assert r.get("r") == b"\x00\x00x"
    assert r.get("b") == b"\x10"
    assert r.get("o") == b"abcdef"


def test_append_grows_the_same_object(server, r):
    r.set("k", "a")
    r.append("k", "b")
    obj = _data(server)[b"k"]
    for _ in range(100):
        r.append("k", "c")
    assert _data(server)[b"k"] is obj
    assert r.strlen("k") == 102
    assert r.get("k") == b"ab" + b"c" * 100


def test_counters_replace_raw_values_with_plain_bytes(server, r):
    r.set("k", "1")
    r.append("k", "0")
    assert _data(server)[b"k"].__class__ is bytearray
    assert r.incr("k") == 11
    assert _data(server)[b"k"] == b"11" and _data(server)[b"k"].__class__ is bytes
    assert r.incrbyfloat("k", "0.5") == 11.5
    assert _data(server)[b"k"] == b"11.5"


def test_mget_and_getrange_on_raw_values(r):
    r.set("k", "hello")
    r.setrange("k", 0, "J")
    assert r.mget("k", "missing") == [b"Jello", None]
    assert r.getrange("k", 1, 3) == b"ell"
    assert r.getex("k") == b"Jello"
    assert r.getdel("k") == b"Jello"
    assert r.get("k") is None


# -------------------------------------------------------------- expiry store
def test_set_and_getex_store_absolute_expiry(server, r):
    db = server.server.dbs[0]
    before = int(time.time() * 1000)
    r.set("k", "v", ex=100)
    after = int(time.time() * 1000)
    assert before + 100000 <= db.expires[b"k"] <= after + 100000
    r.set("k", "v", pxat=12345678901234)
    assert db.expires[b"k"] == 12345678901234
    r.set("k", "v2", keepttl=True)
    assert db.expires[b"k"] == 12345678901234
    r.set("k", "v3")
    assert b"k" not in db.expires
    r.getex("k", exat=9999999999)
    assert db.expires[b"k"] == 9999999999000
    r.getex("k", persist=True)
    assert b"k" not in db.expires
    r.execute_command("SETEX", "k", 5, "v")
    assert db.expires[b"k"] > after
    r.incr("n")
    r.psetex("n", 100000, "1")
    r.incr("n")
    assert b"n" in db.expires  # INCR keeps the TTL


# ---------------------------------------------------------------- propagation
class _Recorder:
    """Stands in front of the server's persistence sink and records what it is fed."""

    def __init__(self, inner):
        self.inner = inner
        self.fed = []

    def feed(self, dbid, cmds):
        self.fed.extend([bytes(a) for a in cmd] for cmd in cmds)
        if self.inner is not None:
            self.inner.feed(dbid, cmds)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def fed(server):
    rec = _Recorder(server.server.persistence)
    server.server.persistence = rec
    yield rec.fed
    server.server.persistence = rec.inner


def test_propagation_rewrites(server, fed):
    c = RawConn(server.host, server.port)
    c.call("SET", "k", "v")
    c.call("SET", "k", "v", "EX", "100")
    c.call("SET", "k", "v2", "GET", "get", "XX")
    c.call("SET", "k", "v3", "NX")  # not performed: nothing fed
    c.call("SETEX", "e", "100", "v")
    c.call("GETSET", "k", "v4")
    c.call("SET", "f", "10.5")
    c.call("INCRBYFLOAT", "f", "0.1")
    c.call("GETEX", "k", "PX", "100000")
    c.call("GETEX", "k", "PERSIST")
    c.call("GETEX", "k", "PERSIST")  # no TTL left: nothing fed
    c.call("GETEX", "k")
    c.call("GETDEL", "k")
    c.call("GETDEL", "k")
    c.call("SET", "k", "v")
    c.call("GETEX", "k", "EXAT", "1")
    c.call("INCR", "i")
    c.call("SETBIT", "b", "1", "0")
    c.call("SETBIT", "b", "1", "0")  # no change: nothing fed
    c.close()
    names = [cmd[0] for cmd in fed]
    assert names == [
        b"SET",
        b"SET",
        b"SET",
        b"SET",
        b"SET",
        b"SET",
        b"SET",
        b"PEXPIREAT",
        b"PERSIST",
        b"DEL",
        b"SET",
        b"DEL",
        b"INCR",
        b"SETBIT",
    ]
    assert fed[1][3] == b"PXAT" and len(fed[1]) == 5
    assert fed[2] == [b"SET", b"k", b"v2", b"XX"]
    assert fed[3][:3] == [b"SET", b"e", b"v"] and fed[3][3] == b"PXAT"
    assert fed[4] == [b"SET", b"k", b"v4"]
    assert fed[6] == [b"SET", b"f", b"10.6", b"KEEPTTL"]
    assert fed[7][:2] == [b"PEXPIREAT", b"k"] and int(fed[7][2]) > time.time() * 1000
    assert fed[8] == [b"PERSIST", b"k"]
    assert fed[9] == [b"DEL", b"k"]
    assert fed[11] == [b"DEL", b"k"]


# ------------------------------------------------ strtod / strtold emulation
DOUBLE_INPUTS = [
    "1e3",
    " 1",
    "1 ",
    "0x10",
    "0X1p3",
    "0x.8",
    "0x",
    "0x1p",
    "inf",
    "+inf",
    "-infinity",
    "INF",
    "Infinity",
    "infinit",
    "infinityy",
    "1_0",
    "nan",
    "-nan",
    "NAN(123)",
    ".5",
    "5.",
    ".",
    "+.",
    "1e400",
    "-1e400",
    "1e-400",
    "1e-320",
    "2.4703282292062327e-324",
    "2.4703282292062328e-324",
    "4.9406564584124654e-324",
    "0e-999999",
    "-0",
    "+0",
    "1e",
    "1e+",
    "1e-",
    "0x1p-1074",
    "0x1p-1075",
    "0x1.0000000000001p-1075",
    "0x1p-1080",
    "0x1p1023",
    "0x1p1024",
    "0x1.fffffffffffff8p1023",
    "0x1.fffffffffffff7ffp1023",
    "1.7976931348623157e308",
    "1.7976931348623158e308",
    "1.797693134862315807e308",
    "1.7976931348623159e308",
    "0.1",
    "0.30000000000000004",
    "123456789012345678901234567890",
    "9007199254740993",
    "-0x1.8p1",
    "1" * 400,
    "0." + "0" * 400 + "1",
    "+-1",
    "1e+1e1",
    "0x1.8",
    "0xg",
    "1.5e+308",
    "--1",
    "1,5",
    "\t1",
    "1\n",
    "",
]


def test_string2d_matches_redis(real_redis):
    """What ZADD (string2d) accepts, and the value it reads, must be Redis's."""
    ref = RawConn("127.0.0.1", real_redis.port)
    try:
        for i, s in enumerate(DOUBLE_INPUTS):
            reply = ref.call("ZADD", "z", s, "m%d" % i)
            ours = util.string2d(s.encode())
            if reply.startswith(b"-"):
                assert ours is None, s
                with pytest.raises(Exception):
                    util.parse_float(s.encode())
                continue
            assert ours is not None, s
            score = ref.call("ZSCORE", "z", "m%d" % i).split(b"\r\n")[1]
            if math.isinf(ours):
                assert score == (b"inf" if ours > 0 else b"-inf"), s
            else:
                assert float(score) == ours, s
            assert util.parse_float(s.encode()) == ours
        ref.call("DEL", "z")
    finally:
        ref.close()


def test_long_double_sums_match_redis(real_redis):
    """ld_add + ld_format_human against INCRBYFLOAT on random operands."""
    ref = RawConn("127.0.0.1", real_redis.port)
    rnd = random.Random(42)
    try:
        for _ in range(300):
            a = rnd.choice(
                [
                    repr(rnd.uniform(-1e3, 1e3)),
                    str(rnd.randint(-(10**25), 10**25)),
                    "%.30f" % rnd.random(),
                    "%de%d" % (rnd.randint(1, 99), rnd.randint(-4950, 4931)),
                ]
            )
            b = rnd.choice(
                [
                    repr(rnd.uniform(-1, 1)),
                    "%.25e" % rnd.uniform(-1e20, 1e20),
                    float.hex(rnd.uniform(-1e5, 1e5)),
                    "%de%d" % (rnd.randint(1, 99), rnd.randint(-40, 40)),
                ]
            )
            ref.call("SET", "f", a)
            reply = ref.call("INCRBYFLOAT", "f", b)
            va, vb = util.string2ld(a.encode()), util.string2ld(b.encode())
            if reply.startswith(b"-"):
                assert va is None or vb is None or not util.ld_is_finite(util.ld_add(va, vb))
                continue
            expect = reply.split(b"\r\n")[1]
            assert util.ld_format_human(util.ld_add(va, vb)) == expect, (a, b)
        ref.call("DEL", "f")
    finally:
        ref.close()


def test_long_double_helpers():
    ld = util.string2ld
    assert util.ld_format_human(util.ld_add(ld(b"10.5"), ld(b"0.1"))) == b"10.6"
    assert util.ld_format_human(util.ld_from_int(-42)) == b"-42"
    assert util.ld_format_human(util.LD_ZERO) == b"0"
    assert util.ld_add(ld(b"inf"), ld(b"-inf")) != util.ld_add(ld(b"inf"), ld(b"-inf"))
    assert not util.ld_is_finite(ld(b"-infinity"))
    assert ld(b"0." + b"1" * 5117) is not None and ld(b"0." + b"1" * 5118) is None
    assert util.ld_to_float(ld(b"0.1")) == 0.1
    assert util.ld_to_float(ld(b"1e4000")) == math.inf
    assert util.int_to_bytes(10**5000) == b"1" + b"0" * 5000
    assert util.int_to_bytes(-(10**4500) - 7) == b"-1" + b"0" * 4499 + b"7"


DIRTY_SCRIPT = [
    ("SET", "k", "v"),
    ("SET", "k", "v", "NX"),
    ("SET", "k", "v", "XX", "GET"),
    ("SETNX", "k", "v"),
    ("SETNX", "k2", "v"),
    ("MSET", "a", "1", "b", "2", "c", "3"),
    ("MSETNX", "a", "1", "d", "2"),
    ("MSETNX", "d", "1", "e", "2"),
    ("GETSET", "a", "9"),
    ("GETDEL", "a"),
    ("GETDEL", "a"),
    ("GETEX", "b"),
    ("GETEX", "b", "EX", "100"),
    ("GETEX", "b", "PERSIST"),
    ("GETEX", "b", "PERSIST"),
    ("GETEX", "b", "PXAT", "1"),
    ("INCR", "n"),
    ("INCRBY", "n", "5"),
    ("DECR", "n"),
    ("DECRBY", "n", "2"),
    ("INCRBY", "k", "1"),
    ("INCRBYFLOAT", "n", "1.5"),
    ("APPEND", "s", "x"),
    ("APPEND", "s", ""),
    ("SETRANGE", "s", "0", ""),
    ("SETRANGE", "s", "3", "yy"),
    ("SETRANGE", "z", "0", ""),
    ("SETBIT", "bit", "0", "0"),
    ("SETBIT", "bit", "0", "0"),
    ("SETBIT", "bit", "0", "1"),
    ("SETBIT", "bit", "20", "0"),
    ("BITFIELD", "bf", "SET", "i5", "0", "0"),
    ("BITFIELD", "bf", "SET", "i5", "0", "0"),
    ("BITFIELD", "bf", "SET", "i5", "0", "1", "SET", "u3", "0", "2", "INCRBY", "u8", "0", "0"),
    ("BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "u2", "30", "9"),
    ("BITFIELD", "bf", "SET", "u8", "100", "0"),
    ("BITOP", "OR", "dst", "bit", "bf"),
    ("BITOP", "OR", "dst", "nothing"),
    ("BITOP", "OR", "dst", "nothing"),
    ("SETEX", "e", "100", "v"),
    ("PSETEX", "e", "100", "v"),
    ("GET", "e"),
    ("LCS", "s", "k"),
]


def test_dirty_counts_match_redis(real_redis, server):
    """server.dirty (rdb_changes_since_last_save) moves exactly as in Redis."""
    ref = RawConn("127.0.0.1", real_redis.port)
    ours = RawConn(server.host, server.port)

    def redis_dirty():
        info = ref.call("INFO", "persistence").decode()
        return int(info.split("rdb_changes_since_last_save:")[1].split("\r\n")[0])

    try:
        ref.call("FLUSHALL")
        for cmd in DIRTY_SCRIPT:
            before_ref, before_ours = redis_dirty(), server.server.dirty
            assert ours.call(*cmd) == ref.call(*cmd), cmd
            assert server.server.dirty - before_ours == redis_dirty() - before_ref, cmd
        ref.call("FLUSHALL")
    finally:
        ref.close()
        ours.close()
