"""String commands against redis-server 7.0, byte for byte (t_string.c)."""

import random
import time

import pytest

from support import RawConn


# ------------------------------------------------------------------ GET / SET
def test_get_set_basic(diff):
    diff.run("""
        GET nokey
        SET k hello
        GET k
        SET k ""
        GET k
        STRLEN k
        SET k 12345
        GET k
        SET k -1
        SET k 99999999999999999999999
        GET k
    """)
    diff("SET", b"bin\x00key", b"\x00\xff\r\n\x01")
    diff("GET", b"bin\x00key")
    diff("SET", "big", "x" * 100000)
    diff("GET", "big")


def test_get_set_wrongtype(diff):
    diff.run("""
        HSET h f v
        GET h
        SET h str
        GET h
        HSET h2 f v
        SET h2 x GET
        GET h2
    """)


def test_set_nx_xx(diff):
    diff.run("""
        SET k v XX
        GET k
        SET k v NX
        SET k v2 NX
        GET k
        SET k v3 XX
        GET k
        SET k v4 nx nx
        SET k v4 xx XX
        SET k v NX XX
        SET k v XX NX
        SET k v xx nx
    """)


def test_set_get_option(diff):
    diff.run("""
        SET k v1 GET
        SET k v2 GET
        SET k v3 get GET
        GET k
        SET k v4 NX GET
        GET k
        SET new v NX GET
        GET new
        SET k v5 XX GET
        SET missing v XX GET
        GET missing
        SET k v6 GET EX 100
        GET k
    """)


def test_set_option_syntax_errors(diff):
    diff.run("""
        SET k v foo
        SET k v EX
        SET k v PX
        SET k v EXAT
        SET k v PXAT
        SET k v EX 10 PX 100
        SET k v PX 100 EX 10
        SET k v EX 10 EXAT 10
        SET k v EXAT 10 PXAT 10
        SET k v PXAT 10 PX 10
        SET k v KEEPTTL EX 10
        SET k v EX 10 KEEPTTL
        SET k v KEEPTTL PXAT 10
        SET k v PERSIST
        SET k v GET foo
        SET k v ""
        SET k v EX 10 EX 20
        SET k v PX 100 PX 200
        SET k v KEEPTTL KEEPTTL
    """)
    # C compares options as NUL-terminated strings.
    diff("SET", "k", "v", b"NX\x00junk")
    diff("SET", "k", "v", b"N\x00")
    diff("GET", "k")


def test_set_expire_errors(diff):
    diff.run("""
        SET k v EX 0
        SET k v EX -1
        SET k v PX 0
        SET k v PX -5
        SET k v EXAT 0
        SET k v PXAT -1
        SET k v EX abc
        SET k v EX 1.5
        SET k v PX " 10"
        SET k v EX 9223372036854775807
        SET k v EX 9223372036854776
        SET k v PX 9223372036854775807
        SET k v PX 9223372036854775000
        SET k v EX 99999999999999999999
        GET k
        SETEX k 0 v
        SETEX k -10 v
        SETEX k abc v
        SETEX k 9223372036854775807 v
        PSETEX k 0 v
        PSETEX k abc v
        PSETEX k 9223372036854775807 v
        GET k
        SET k v EX -1 GET
        SET k v NX EX 0
    """)


def test_set_expire_values(diff):
    diff.run("""
        SET k v EX 100
        GET k
        SET k v PX 100000
        SET k v EXAT 9999999999
        SET k v PXAT 9999999999999
        SET k v EXAT 9223372036854775
        SET k v PXAT 9223372036854775807
        GET k
        SET k2 v KEEPTTL
        GET k2
        SETEX k3 100 v
        GET k3
        PSETEX k4 100000 v
        GET k4
    """)


def test_set_px_in_the_past_expires(diff):
    diff.run("""
        SET k v PXAT 1
        GET k
        SET k v EXAT 1 GET
        GET k
        SET k v PX 1
    """)
    time.sleep(0.01)
    diff("GET", "k")


def test_set_expire_then_plain_set_clears_ttl(diff):
    diff.run("""
        SET k v PX 50
        SET k v2
    """)
    time.sleep(0.08)
    diff("GET", "k")
    diff.run("""
        SET k v PX 50
        SET k v3 KEEPTTL
        GET k
    """)
    time.sleep(0.08)
    diff("GET", "k")


def test_setnx(diff):
    diff.run("""
        SETNX k v
        SETNX k v2
        GET k
        HSET h f v
        SETNX h v
    """)


def test_mget_mset(diff):
    diff.run("""
        MSET a 1 b 2 c 3
        MGET a b c missing
        HSET h f v
        MGET a h b
        MSET a
        MSET a 1 b
        MSET a x a y
        MGET a
        MSETNX a 1 z 2
        MGET z
        MSETNX y 1 z 2
        MGET y z
        MSETNX q 1 q 2
        GET q
        MSETNX h 1
        MSETNX a
        MSETNX a 1 b
        MSET h str
        GET h
    """)


def test_mset_over_ttls_watch_and_duplicates(diff):
    # MSET writes its pairs in one go when nothing watches the keys, one SET at
    # a time otherwise (Database.set_pairs): both must leave what ten SETs leave.
    diff.run("""
        SET a 1 EX 100
        SET b 1 PX 1
        HSET h f v
        PEXPIRE h 1
        DEBUG SLEEP 0.01
        MSET a 2 b 2 h 2 c 3 c 4
        MGET a b h c
        TTL a
        TTL b
        TYPE h
        DBSIZE
        WATCH a
        MSET d 1 a 5
        MULTI
        GET a
        EXEC
        MGET a d
    """)


def test_set_and_mset_over_expired_keys_count_them(real_redis, shared_vermilion):
    # SET and MSET over a key whose TTL has passed delete it first, as an expired
    # key (lookupKeyWrite): counted in expired_keys (and propagated as a DEL),
    # on their shortcuts too (set_, Database.set_pairs). Active expiry is off, so
    # only the writes can find the keys expired.
    out = {}
    for name, port in (("redis", real_redis.port), ("vermilion", shared_vermilion.port)):
        c = RawConn("127.0.0.1", port)
        c.call("FLUSHALL")
        c.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        try:
            c.call("CONFIG", "RESETSTAT")
            c.call("SET", "a", "1", "PX", "1")
            c.call("HSET", "h", "f", "v")
            c.call("PEXPIRE", "h", "1")
            c.call("SET", "m", "1", "PX", "1")
            c.call("SET", "live", "1", "EX", "100")
            time.sleep(0.02)
            seen = [c.call("SET", "a", "2"), c.call("SET", "h", "2")]
            seen.append(c.call("MSET", "m", "2", "live", "2"))
            seen.append(c.call("TTL", "live"))
            info = c.call("INFO", "stats").decode()
            seen.append([x for x in info.split("\r\n") if x.startswith("expired_keys:")])
        finally:
            c.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            c.close()
        out[name] = seen
    assert out["vermilion"] == out["redis"]
    assert out["redis"][-1] == ["expired_keys:3"]


def test_getset_getdel(diff):
    diff.run("""
        GETSET k v
        GETSET k v2
        GET k
        GETDEL k
        GETDEL k
        GET k
        HSET h f v
        GETSET h v
        GETDEL h
        SET k v EX 100
        GETSET k v2
        GET k
    """)


def test_getex(diff):
    diff.run("""
        GETEX missing
        GETEX missing EX 10
        GETEX missing EX -1
        GETEX missing EX abc
        GETEX missing FOO
        SET k v
        GETEX k
        GETEX k EX 100
        GETEX k PX 100000
        GETEX k EXAT 9999999999
        GETEX k PXAT 9999999999999
        GETEX k PERSIST
        GETEX k persist
        GETEX k EX 0
        GETEX k EX -1
        GETEX k PX 0
        GETEX k EXAT 0
        GETEX k EX abc
        GETEX k EX 9223372036854775807
        GETEX k PX 9223372036854775807
        GETEX k EX
        GETEX k EX 10 PX 10
        GETEX k PERSIST EX 10
        GETEX k EX 10 PERSIST
        GETEX k KEEPTTL
        GETEX k NX
        GETEX k GET
        GETEX k EX 10 EX 20
        GETEX k PERSIST PERSIST
        GET k
        GETEX k PXAT 1
        GET k
        SET k v
        GETEX k EXAT 1
        STRLEN k
        HSET h f v
        GETEX h
        GETEX h EX 10
        GETEX h FOO
    """)


def test_getex_relative_expiry(diff):
    diff("SET", "k", "v")
    diff("GETEX", "k", "PX", "30")
    diff("GET", "k")
    time.sleep(0.06)
    diff("GET", "k")


# ----------------------------------------------------------------- counters
def test_incr_decr(diff):
    diff.run("""
        INCR n
        INCR n
        DECR n
        DECR n
        DECR n
        INCRBY n 100
        INCRBY n -1000
        DECRBY n 5
        DECRBY n -5
        GET n
        INCRBY n abc
        INCRBY n 1.5
        INCRBY n " 1"
        DECRBY n abc
        DECRBY n -9223372036854775808
        DECRBY n 9223372036854775808
        INCRBY n 9223372036854775808
        GET n
    """)


def test_incr_overflow(diff):
    diff.run("""
        SET n 9223372036854775806
        INCR n
        INCR n
        GET n
        SET n -9223372036854775807
        DECR n
        DECR n
        GET n
        SET n 1
        INCRBY n 9223372036854775807
        SET n -2
        DECRBY n 9223372036854775807
        DECRBY n 9223372036854775807
        SET n 0
        DECRBY n -9223372036854775807
        INCRBY n -9223372036854775808
        INCRBY n -1
        SET n -1
        INCRBY n -9223372036854775808
        SET n 5
        DECRBY n -9223372036854775807
    """)


@pytest.mark.parametrize(
    "value",
    [
        "",
        " 1",
        "1 ",
        "01",
        "+1",
        "-0",
        "1.0",
        "1e3",
        "0x10",
        "abc",
        "-",
        "00",
        "9223372036854775808",
        "-9223372036854775809",
        "12345678901234567890123",
        "18446744073709551616",
        "9223372036854775807",
        "-9223372036854775808",
        "999999999999999999",
        "9223372036854775806",
        "0",
        "7",
        "1000000000000000000",
    ],
)
def test_incr_value_forms(diff, value):
    diff("SET", "n", value)
    diff("INCR", "n")
    diff("GET", "n")
    diff("DECR", "n")
    diff("INCRBY", "n", "2")
    diff("INCRBY", "n2", value)
    diff("DECRBY", "n2", value)


def test_incr_wrongtype_and_keep_ttl(diff):
    diff.run("""
        HSET h f v
        INCR h
        DECR h
        INCRBY h 1
        DECRBY h 1
        INCRBYFLOAT h 1
        SET n 5 EX 100
        INCR n
        INCRBYFLOAT n 1.5
        SET n 5 PX 50
        INCR n
    """)
    time.sleep(0.08)
    diff("GET", "n")
    diff("APPEND", "a", "x")
    diff("APPEND", "a", "5")
    diff("INCR", "a")
    diff("SET", "a", "12")
    diff("APPEND", "a", "5")
    diff("INCR", "a")
    diff("GET", "a")


def test_incrbyfloat_basic(diff):
    diff.run("""
        INCRBYFLOAT f 1
        INCRBYFLOAT f 0.25
        INCRBYFLOAT f -1.25
        GET f
        SET f 10.5
        INCRBYFLOAT f 0.1
        INCRBYFLOAT f 0.1
        INCRBYFLOAT f 0.1
        INCRBYFLOAT f -10.8
        SET f 5.0e3
        INCRBYFLOAT f 2.0e2
        INCRBYFLOAT f 0
        SET f 1
        INCRBYFLOAT f -1.00000000000000000001
        SET f 3.0e3
        INCRBYFLOAT f 1.23456789012345678901234
        SET f 0
        INCRBYFLOAT f 0.000003814697265625
        INCRBYFLOAT f 0.0000000000000000049
        SET f 0
        INCRBYFLOAT f 0.0000000000000000051
        SET f 0
        INCRBYFLOAT f -0.0000000000000000051
        SET f 0
        INCRBYFLOAT f -0.0000000000000000049
        SET f -0
        INCRBYFLOAT f -0
        SET f 0x10
        INCRBYFLOAT f 0x1p-3
        INCRBYFLOAT f 0X1.8P1
        SET f 17179869184
        INCRBYFLOAT f 1.5
        SET f 1.7976931348623157e308
        INCRBYFLOAT f 1e308
        SET f 1e4930
        INCRBYFLOAT f 1e4930
        INCRBYFLOAT f 1e4932
        SET f 5
        INCRBYFLOAT f 1e-4950
        INCRBYFLOAT f 0x1p-16440
        INCRBYFLOAT f 4e-4951
        SET f 1
        INCRBYFLOAT f 1e-4952
        INCRBYFLOAT f 1e-5000
        INCRBYFLOAT f 1e5000
        INCRBYFLOAT f 0x1p16384
        INCRBYFLOAT f 0x1p-16446
        INCRBYFLOAT f 0x1p-16445
        INCRBYFLOAT f 123456789012345678901234567890
        INCRBYFLOAT f -123456789012345678901234567890
    """)


@pytest.mark.parametrize(
    "incr",
    [
        "inf",
        "-inf",
        "+inf",
        "infinity",
        "-Infinity",
        "INF",
        "nan",
        "-nan",
        "NaN",
        "abc",
        "",
        " 1",
        "1 ",
        "1_0",
        "1e",
        "1e+",
        ".",
        "-.",
        ".5",
        "5.",
        "-.5e1",
        "0x",
        "0x1p",
        "0x.8",
        "0x1.",
        "1e400",
        "1e-400",
        "+1",
        "++1",
        "1..2",
        "1e1.5",
        "infinit",
        "infinityy",
        "1,5",
        "0.1e-0",
        "00000.1",
        "1" + "0" * 300,
        "0." + "0" * 300 + "1",
        "1e+00000000000000000001",
        "1e-99999999999999999999",
        "0e99999999999999999999",
        "0x1P+2",
        "-0x1p-2",
    ],
)
def test_incrbyfloat_increment_forms(diff, incr):
    diff("SET", "f", "1.5")
    diff("INCRBYFLOAT", "f", incr)
    diff("GET", "f")
    diff("INCRBYFLOAT", "missing", incr)
    diff("GET", "missing")
    diff("GETDEL", "missing")


@pytest.mark.parametrize(
    "value",
    [
        "inf",
        "-inf",
        "nan",
        " 1",
        "1 ",
        "abc",
        "1e5000",
        "0x10",
        "1e-5000",
        "1.000000000000000000000000000001",
        "9" * 5119,
        "1" * 5120,
        "1" + "0" * 4932,
        "1" + "0" * 4933,
        "-" + "9" * 4933,
    ],
)
def test_incrbyfloat_stored_forms(diff, value):
    diff("SET", "f", value)
    diff("INCRBYFLOAT", "f", "1")
    diff("GET", "f")


def test_incrbyfloat_random_against_redis(diff):
    rnd = random.Random(7)
    for i in range(300):
        key = "f%d" % (i % 5)
        if rnd.random() < 0.1:
            diff("SET", key, repr(rnd.uniform(-1e6, 1e6)))
        kind = rnd.random()
        if kind < 0.3:
            incr = "%.*f" % (rnd.randint(0, 20), rnd.uniform(-1000, 1000))
        elif kind < 0.6:
            incr = repr(rnd.uniform(-1, 1) * 10 ** rnd.randint(-30, 30))
        elif kind < 0.8:
            incr = str(rnd.randint(-(10**20), 10**20))
        else:
            incr = float.hex(rnd.uniform(-100, 100))
        diff("INCRBYFLOAT", key, incr)


# ------------------------------------------------------ APPEND / STRLEN / ranges
def test_append_strlen(diff):
    diff.run("""
        APPEND k hello
        APPEND k " world"
        GET k
        STRLEN k
        STRLEN missing
        APPEND k ""
        APPEND e ""
        STRLEN e
        GET e
        SET n 123
        APPEND n 4
        GET n
        INCR n
        HSET h f v
        APPEND h x
        STRLEN h
    """)
    for i in range(50):
        diff("APPEND", "grow", "x" * i)
    diff("STRLEN", "grow")
    diff("GET", "grow")


@pytest.mark.parametrize("value", ["Hello World", "", "1234", "-1"])
def test_getrange_all_indexes(diff, value):
    diff("SET", "k", value)
    idx = [
        -20,
        -12,
        -11,
        -5,
        -2,
        -1,
        0,
        1,
        3,
        5,
        10,
        11,
        12,
        100,
        9223372036854775807,
        -9223372036854775808,
    ]
    for s in idx:
        for e in idx:
            diff("GETRANGE", "k", s, e)
    diff("SUBSTR", "k", 0, 3)
    diff("SUBSTR", "k", -3, -1)


def test_getrange_errors(diff):
    diff.run("""
        GETRANGE missing 0 -1
        GETRANGE missing a b
        SET k hello
        GETRANGE k a 1
        GETRANGE k 0 b
        GETRANGE k 0 9223372036854775808
        GETRANGE k 1.5 2
        SUBSTR k a 1
        HSET h f v
        GETRANGE h 0 -1
        GETRANGE h x 1
        SUBSTR h 0 1
    """)


def test_setrange(diff):
    diff.run("""
        SETRANGE k 0 ""
        STRLEN k
        SETRANGE k 5 ""
        STRLEN k
        SETRANGE k 0 hello
        SETRANGE k 6 world
        GET k
        SETRANGE k 0 ""
        SETRANGE k 100 ""
        STRLEN k
        SETRANGE k 1 i
        GET k
        SETRANGE k 11 !
        GET k
        SETRANGE k -1 x
        SETRANGE k abc x
        SETRANGE k 1.5 x
        SETRANGE k 9223372036854775808 x
        SETRANGE k 536870911 ""
        SETRANGE k 536870912 x
        SETRANGE k 536870911 xy
        SETRANGE n 3 x
        GET n
        SET i 1234
        SETRANGE i 1 x
        GET i
        HSET h f v
        SETRANGE h 0 x
        SETRANGE h 0 ""
        SETRANGE h -1 x
        SETRANGE missing 536870912 ""
        SETRANGE missing 536870912 x
        SETRANGE missing -1 ""
    """)


def test_setrange_keeps_ttl(diff):
    diff("SET", "k", "hello", "PX", "50")
    diff("SETRANGE", "k", "1", "a")
    diff("APPEND", "k", "b")
    time.sleep(0.08)
    diff("GET", "k")


def test_proto_max_bulk_len_limit(diff):
    try:
        diff("CONFIG", "SET", "proto-max-bulk-len", "1048576")
        diff.run("""
            SETRANGE k 1048575 x
            STRLEN k
            SETRANGE k 1048576 x
            SETRANGE k 1048575 xy
            APPEND k y
            STRLEN k
            SETRANGE k2 1048576 x
            SETBIT b 8388607 1
            SETBIT b 8388608 1
            GETBIT b 8388608
            BITFIELD b SET u8 8388600 1
            BITFIELD b SET u8 8388608 1
            BITFIELD b GET u8 8388608
        """)
        diff("SET", "a", "x" * 600)
        diff("SET", "b", "y" * 600)
        diff("LCS", "a", "b")
        diff("LCS", "a", "b", "LEN")
        diff("SET", "b", "y" * 400)
        diff("LCS", "a", "b", "LEN")
    finally:
        diff("CONFIG", "SET", "proto-max-bulk-len", "536870912")


# ---------------------------------------------------------------------- LCS
RNA1 = (
    "CACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAAATCTGTGTGGCTG"
    "TCACTCGGCTGCATGCTTAGTGCACTCACGCAGTATAATTAATAACTAATTACTGTCGTTGACAGGACACGAGTAACTCG"
    "TCTATCTTCTGCAGGCTGCTTACGGTTTCGTCCGTGTTGCAGCCGATCATCAGCACATCTAGGTTTCGTCCGGGTGTG"
)
RNA2 = (
    "ATTAAAGGTTTATACCTTCCCAGGTAACAAACCAACCAACTTTCGATCTCTTGTAGATCTGTTCTCTAAACGAACTTTAAA"
    "ATCTGTGTGGCTGTCACTCGGCTGCATGCTTAGTGCACTCACGCAGTATAATTAATAACTAATTACTGTCGTTGACAGGA"
    "CACGAGTAACTCGTCTATCTTCTGCAGGCTGCTTACGGTTTCGTCCGTGTTGCAGCCGATCATCAGCACATCTAGGTTT"
)


def test_lcs(diff):
    diff("MSET", "virus1", RNA1, "virus2", RNA2)
    diff("LCS", "virus1", "virus2")
    diff("LCS", "virus1", "virus2", "LEN")
    diff("LCS", "virus1", "virus2", "IDX")
    diff("LCS", "virus1", "virus2", "IDX", "WITHMATCHLEN")
    diff("LCS", "virus1", "virus2", "IDX", "MINMATCHLEN", "5")
    diff("LCS", "virus1", "virus2", "IDX", "MINMATCHLEN", "5", "WITHMATCHLEN")
    diff("LCS", "virus1", "virus2", "idx", "minmatchlen", "-5", "withmatchlen", "LEN")
    diff.run("""
        SET a ohmytext
        SET b mynewtext
        LCS a b
        LCS a b LEN
        LCS a b IDX
        LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN
        LCS a b IDX MINMATCHLEN 0
        LCS a b IDX MINMATCHLEN -1 MINMATCHLEN 2
        LCS b a IDX WITHMATCHLEN
        LCS a a IDX WITHMATCHLEN
        LCS a missing
        LCS missing a IDX
        LCS missing missing2 LEN
        LCS missing missing2 IDX
        LCS a b LEN IDX
        LCS a b IDX LEN
        LCS a b FOO
        LCS a b MINMATCHLEN
        LCS a b MINMATCHLEN x
        LCS a b MINMATCHLEN 1.5 LEN
        HSET h f v
        LCS a h
        LCS h a FOO
        LCS h missing
    """)


def test_lcs_random_against_redis(diff):
    rnd = random.Random(11)
    for _ in range(60):
        a = "".join(rnd.choice("abc") for _ in range(rnd.randint(0, 40)))
        b = "".join(rnd.choice("abcd") for _ in range(rnd.randint(0, 40)))
        diff("MSET", "a", a, "b", b)
        diff("LCS", "a", "b")
        diff("LCS", "a", "b", "IDX", "WITHMATCHLEN")
        diff("LCS", "a", "b", "IDX", "MINMATCHLEN", str(rnd.randint(0, 4)))
    diff("MSET", "a", bytes(range(256)) * 3, "b", bytes(range(255, -1, -1)) * 2)
    diff("LCS", "a", "b", "IDX", "WITHMATCHLEN")


def test_lcs_resp3(diff3):
    diff3.run("""
        SET a ohmytext
        SET b mynewtext
        LCS a b IDX WITHMATCHLEN
        LCS a b
        LCS a b LEN
        GETEX nokey
        SET k v GET
    """)


# ------------------------------------------------------------ notifications
def _events(port, commands):
    """Keyspace+keyevent messages produced by running ``commands`` (after the setup)."""
    sub = RawConn("127.0.0.1", port)
    cli = RawConn("127.0.0.1", port)
    cli.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    try:
        cli.call("FLUSHALL")
        sub.send_command("PSUBSCRIBE", "__key*__:*")
        sub.read_reply()
        sub.send_command("SUBSCRIBE", "sentinel")
        sub.read_reply()
        replies = [cli.call(*cmd) for cmd in commands]
        cli.call("PUBLISH", "sentinel", "end")
        msgs = []
        while True:
            m = sub.read_reply()
            if b"sentinel" in m and b"end" in m:
                break
            msgs.append(m)
        return replies, msgs
    finally:
        cli.call("CONFIG", "SET", "notify-keyspace-events", "")
        sub.close()
        cli.close()


def test_keyspace_events(real_redis, shared_vermilion):
    commands = [
        ("SET", "k", "v"),
        ("SET", "k", "v", "NX"),
        ("SET", "k", "v2", "XX", "EX", "100"),
        ("SET", "k", "v3", "KEEPTTL", "GET"),
        ("SETNX", "n", "1"),
        ("SETNX", "n", "1"),
        ("SETEX", "e", "100", "v"),
        ("PSETEX", "e", "100000", "v"),
        ("MSET", "a", "1", "b", "2"),
        ("MSETNX", "a", "1"),
        ("MSETNX", "c", "1", "d", "2"),
        ("GETSET", "a", "x"),
        ("GETDEL", "a"),
        ("GETDEL", "a"),
        ("GETEX", "b"),
        ("GETEX", "b", "EX", "100"),
        ("GETEX", "b", "PERSIST"),
        ("GETEX", "b", "PERSIST"),
        ("GETEX", "b", "PXAT", "1"),
        ("INCR", "i"),
        ("DECR", "i"),
        ("INCRBY", "i", "5"),
        ("DECRBY", "i", "5"),
        ("INCRBYFLOAT", "i", "1.5"),
        ("INCRBYFLOAT", "i", "abc"),
        ("INCR", "i"),
        ("APPEND", "s", "x"),
        ("APPEND", "s", "y"),
        ("SETRANGE", "s", "5", "z"),
        ("SETRANGE", "s", "0", ""),
        ("SETRANGE", "t", "0", ""),
        ("SET", "x", "1", "PXAT", "1"),
        ("SET", "x", "2"),
        ("GET", "x"),
        ("SET", "y", "1", "PXAT", "1"),
        ("MSET", "y", "2", "z", "3"),
        ("SET", "w", "1", "PXAT", "1"),
        ("INCR", "w"),
        ("SET", "w", "1", "PXAT", "1"),
        ("APPEND", "w", "z"),
    ]
    theirs = _events(real_redis.port, commands)
    ours = _events(shared_vermilion.port, commands)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]


def test_set_inside_multi_uses_command_name(diff):
    diff.run("""
        MULTI
        SETEX k -1 v
        PSETEX k 0 v
        SET k v EX 0
        GETEX k EX 0
        SET k v
        GETEX k EX 0
        EXEC
    """)


def test_redis_suite_regressions(diff):
    diff.run("""
        SET foo 1
        SETRANGE foo 2 2
        INCRBYFLOAT foo 1
        SET foo 1
        INCRBYFLOAT foo 0.3333333333333333
        INCRBYFLOAT foo -1.3333333333333333
        SET foo bar
        GETRANGE foo 0 4294967297
        SETRANGE K 9223372036854775807 A
        SETRANGE K 2147483647 A
        SET bits 1
        BITFIELD bits GET u1 0
        BITFIELD mystring SET i8 0 10 SET i8 64 10 INCRBY i8 10 99900
        SET novalue 17179869184
        INCRBY novalue 17179869184
        DECRBY novalue 17179869185
        SET foo 17179869184
        INCRBYFLOAT foo 17179869184.5
    """)
    diff("SET", "big", "x" * 33000)
    diff("GET", "big")
