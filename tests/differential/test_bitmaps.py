"""Bit commands against redis-server 7.0, byte for byte (bitops.c)."""

import random

import pytest


# ------------------------------------------------------------- SETBIT / GETBIT
def test_setbit_getbit(diff):
    diff.run("""
        GETBIT missing 0
        GETBIT missing 100
        SETBIT k 7 1
        GET k
        GETBIT k 7
        GETBIT k 6
        GETBIT k 8
        GETBIT k 100000
        SETBIT k 7 1
        SETBIT k 7 0
        SETBIT k 7 0
        GET k
        SETBIT k 100 1
        GET k
        STRLEN k
        SETBIT k 0 1
        GET k
        SET s a
        SETBIT s 6 1
        GET s
        GETBIT s 1
        SET n 1234
        GETBIT n 2
        GETBIT n 3
        SETBIT n 0 1
        GET n
    """)


def test_setbit_getbit_errors(diff):
    diff.run("""
        SETBIT k -1 1
        SETBIT k abc 1
        SETBIT k 1.5 1
        SETBIT k 4294967296 1
        SETBIT k 4294967295 2
        SETBIT k 0 2
        SETBIT k 0 -1
        SETBIT k 0 abc
        SETBIT k 0 ""
        SETBIT k 0 01
        SETBIT k "" 1
        SETBIT k #1 1
        GETBIT k -1
        GETBIT k abc
        GETBIT k 4294967296
        GETBIT k 4294967295
        HSET h f v
        SETBIT h 0 1
        GETBIT h 0
        SETBIT h -1 1
        GETBIT h -1
        SETBIT h 0 5
    """)


def test_setbit_random_against_redis(diff):
    rnd = random.Random(3)
    for _ in range(300):
        off = rnd.randint(0, 2000)
        diff("SETBIT", "bits", off, rnd.randint(0, 1))
        diff("GETBIT", "bits", rnd.randint(0, 2100))
    diff("GET", "bits")


# ------------------------------------------------------------------- BITCOUNT
def test_bitcount_basic(diff):
    diff.run("""
        BITCOUNT missing
        BITCOUNT missing 0 -1
        BITCOUNT missing 0
        BITCOUNT missing a b
        SET k foobar
        BITCOUNT k
        BITCOUNT k 0 0
        BITCOUNT k 1 1
        BITCOUNT k 1 1 BYTE
        BITCOUNT k 5 30 BIT
        BITCOUNT k 5 30 bit
        BITCOUNT k 0 -1 BIT
        BITCOUNT k -9 -1 BIT
        SET e ""
        BITCOUNT e
        BITCOUNT e 0 -1
        BITCOUNT e 0 -1 BIT
        SET n 12345
        BITCOUNT n
        BITCOUNT n 1 2
    """)


def test_bitcount_errors(diff):
    diff.run("""
        SET k foobar
        BITCOUNT k 0
        BITCOUNT k 0 1 2
        BITCOUNT k 0 1 BYTE 1
        BITCOUNT k 0 1 bits
        BITCOUNT k a 1
        BITCOUNT k 0 b
        BITCOUNT k 0 b BIT
        BITCOUNT k a b FOO
        BITCOUNT k -1 -2 FOO
        BITCOUNT k 0 9223372036854775808
        HSET h f v
        BITCOUNT h
        BITCOUNT h 0
        BITCOUNT h 0 1 FOO
    """)
    diff("BITCOUNT", "k", "0", "1", b"BIT\x00x")


@pytest.mark.parametrize(
    "value",
    [
        b"foobar",
        b"\xff\x00\xaa\x55\x0f\xf0\x01\x80",
        b"\x00",
        b"\xff" * 40,
        bytes(range(50)),
        b"12345",
    ],
)
def test_bitcount_all_ranges(diff, value):
    diff("SET", "k", value)
    n = len(value)
    idx = sorted(
        {
            -n * 8 - 5,
            -n * 8,
            -n * 8 + 3,
            -9,
            -8,
            -7,
            -2,
            -1,
            0,
            1,
            3,
            7,
            8,
            9,
            n - 1,
            n,
            n * 8 - 1,
            n * 8,
            n * 8 + 9,
        }
    )
    for s in idx:
        for e in idx:
            diff("BITCOUNT", "k", s, e)
            diff("BITCOUNT", "k", s, e, "BIT")


# --------------------------------------------------------------------- BITPOS
def test_bitpos_basic(diff):
    diff.run("""
        BITPOS missing 0
        BITPOS missing 1
        BITPOS missing 1 0 -1
        BITPOS missing 0 abc
        BITPOS missing 2
        BITPOS missing abc
        SET e ""
        BITPOS e 0
        BITPOS e 1
        BITPOS e 0 0 -1
        BITPOS e 0 0
        BITPOS e 1 0 -1 BIT
        SET n 12
        BITPOS n 1
        BITPOS n 0 1
    """)
    diff("SET", "k", b"\xff\xf0\x00")
    diff("BITPOS", "k", "0")
    diff("SET", "k", b"\x00\xff\xf0")
    diff("BITPOS", "k", "1", "0")
    diff("BITPOS", "k", "1", "2")
    diff("BITPOS", "k", "1", "2", "-1", "BYTE")
    diff("BITPOS", "k", "1", "7", "15", "BIT")
    diff("BITPOS", "k", "1", "7", "-3", "bit")
    diff("SET", "k", b"\x00\x00\x00")
    diff("BITPOS", "k", "1")
    diff("SET", "k", b"\xff\xff\xff")
    diff("BITPOS", "k", "0")
    diff("BITPOS", "k", "0", "0")
    diff("BITPOS", "k", "0", "0", "-1")
    diff("BITPOS", "k", "0", "0", "-1", "BIT")
    diff("BITPOS", "k", "0", "3", "-1", "BIT")


def test_bitpos_errors(diff):
    diff.run("""
        SET k foo
        BITPOS k 2
        BITPOS k -1
        BITPOS k 1.0
        BITPOS k abc
        BITPOS k 1 a
        BITPOS k 1 0 b
        BITPOS k 1 0 1 BITS
        BITPOS k 1 0 1 BIT extra
        BITPOS k 1 0 b FOO
        BITPOS k 1 a 1 FOO
        BITPOS k 1 9223372036854775808
        HSET h f v
        BITPOS h 1
        BITPOS h 2
        BITPOS h 1 0 1 2 3
        BITPOS h 1 a
    """)


@pytest.mark.parametrize(
    "value",
    [
        b"\x00\x00\x00",
        b"\xff\xff\xff",
        b"\x00\xff\x00",
        b"\xff\x00\xff",
        b"\x0f\xf0\x3c\xc3",
        b"\x80\x00\x00\x01",
        b"\x7f\xff\xff\xfe",
        b"\x01",
        b"\xfe",
    ],
)
def test_bitpos_all_ranges(diff, value):
    diff("SET", "k", value)
    n = len(value)
    idx = sorted(
        {
            -n * 8 - 3,
            -n * 8,
            -9,
            -8,
            -7,
            -3,
            -1,
            0,
            1,
            2,
            6,
            7,
            8,
            9,
            15,
            16,
            n - 1,
            n,
            n * 8 - 1,
            n * 8,
            n * 8 + 3,
        }
    )
    for bit in (0, 1):
        diff("BITPOS", "k", bit)
        for s in idx:
            diff("BITPOS", "k", bit, s)
            diff("BITPOS", "k", bit, s, -1, "BIT")
            for e in idx:
                diff("BITPOS", "k", bit, s, e)
                diff("BITPOS", "k", bit, s, e, "BIT")


def test_bitpos_random_against_redis(diff):
    rnd = random.Random(5)
    for _ in range(40):
        n = rnd.randint(1, 40)
        fill = rnd.choice([0, 255, None])
        value = bytes(
            fill if fill is not None and rnd.random() < 0.9 else rnd.randint(0, 255)
            for _ in range(n)
        )
        diff("SET", "k", value)
        for _ in range(20):
            bit = rnd.randint(0, 1)
            s = rnd.randint(-n * 8 - 2, n * 8 + 2)
            e = rnd.randint(-n * 8 - 2, n * 8 + 2)
            diff("BITPOS", "k", bit, s, e, "BIT")
            diff("BITPOS", "k", bit, s // 8, e // 8)


# ---------------------------------------------------------------------- BITOP
def test_bitop(diff):
    diff("SET", "a", b"\xff\x0f\xaa")
    diff("SET", "b", b"\x0f\xff")
    diff("SET", "c", b"\x01")
    diff.run("""
        BITOP AND dest a b c
        GET dest
        BITOP OR dest a b c
        GET dest
        BITOP XOR dest a b c
        GET dest
        BITOP NOT dest a
        GET dest
        BITOP and dest a missing
        GET dest
        BITOP or dest missing a
        GET dest
        BITOP xor dest a a
        GET dest
        BITOP NOT dest missing
        GET dest
        SET dest x
        BITOP AND dest missing missing2
        GET dest
        BITOP AND dest missing
        BITOP AND a a b
        GET a
        BITOP AND single b
        GET single
    """)
    big1 = bytes(random.Random(1).randint(0, 255) for _ in range(1000))
    big2 = bytes(random.Random(2).randint(0, 255) for _ in range(777))
    diff("SET", "x", big1)
    diff("SET", "y", big2)
    for op in ("AND", "OR", "XOR"):
        diff("BITOP", op, "d", "x", "y", "x", "y")
        diff("GET", "d")
    diff("BITOP", "NOT", "d", "x")
    diff("GET", "d")


def test_bitop_errors(diff):
    diff.run("""
        SET a foo
        BITOP FOO dest a
        BITOP NOT dest a a
        BITOP NOT dest
        BITOP ANDX dest a
        BITOP AN dest a
        HSET h f v
        BITOP AND dest a h
        BITOP AND dest h missing
        BITOP NOT dest h
        BITOP FOO dest h
        GET dest
        SET dest x EX 100
        BITOP OR dest a
        GET dest
        BITOP AND h a
        GET h
    """)
    diff("BITOP", b"AND\x00x", "dest", "a")


# ------------------------------------------------------------------- BITFIELD
def test_bitfield_basic(diff):
    diff.run("""
        BITFIELD bf
        BITFIELD bf GET u8 0
        BITFIELD bf SET u8 0 255
        BITFIELD bf GET u8 0 GET i8 0 GET u4 0 GET i4 4
        BITFIELD bf SET i8 0 -100 GET u8 0 GET i8 0
        BITFIELD bf INCRBY u2 100 1 INCRBY u2 100 1 INCRBY u2 100 1 INCRBY u2 100 1
        BITFIELD bf SET i64 0 -9223372036854775808 GET i64 0 GET u63 0 GET u63 1
        BITFIELD bf SET u63 0 9223372036854775807 GET u63 0
        BITFIELD bf SET i5 #3 10 GET i5 #3 GET u5 15
        BITFIELD bf GET u16 #1000
        BITFIELD bf GET i64 #0 GET i64 #1
        GET bf
        BITFIELD bf2 SET u8 #2 1 GET u8 16
        GET bf2
        BITFIELD bf3 get u8 0 set u8 0 1 incrby u8 0 1 overflow SAT
        SET s foo
        BITFIELD s GET u8 0 GET u8 8 GET u24 0 GET u8 24 GET u32 8
        BITFIELD s SET u1 7 1
        GET s
    """)


def test_bitfield_overflow(diff):
    diff.run("""
        BITFIELD o SET u8 0 255 INCRBY u8 0 1 GET u8 0
        BITFIELD o OVERFLOW SAT INCRBY u8 0 300 INCRBY u8 0 -1000 INCRBY u8 0 5
        BITFIELD o OVERFLOW FAIL INCRBY u8 0 300 INCRBY u8 0 -1000 INCRBY u8 0 5
        BITFIELD o OVERFLOW WRAP INCRBY u8 0 300 INCRBY u8 0 -1000
        BITFIELD o SET i8 0 127 INCRBY i8 0 1 GET i8 0
        BITFIELD o OVERFLOW SAT SET i8 0 127 INCRBY i8 0 1 INCRBY i8 0 -300
        BITFIELD o OVERFLOW FAIL SET i8 0 127 INCRBY i8 0 1 INCRBY i8 0 -300 GET i8 0
        BITFIELD o OVERFLOW SAT SET i8 0 1000 SET i8 0 -1000 SET u8 0 -1 SET u8 0 300
        BITFIELD o OVERFLOW FAIL SET i8 0 1000 SET i8 0 -1000 SET u8 0 -1 SET u8 0 300 GET u8 0
        BITFIELD o OVERFLOW WRAP SET i8 0 1000 SET i8 0 -1000 SET u8 0 -1 SET u8 0 300 GET u8 0
        BITFIELD o SET i64 0 9223372036854775807 INCRBY i64 0 1 GET i64 0
        BITFIELD o OVERFLOW SAT INCRBY i64 0 -1 INCRBY i64 0 9223372036854775807
        BITFIELD o OVERFLOW SAT SET i64 0 -9223372036854775808 INCRBY i64 0 -1
        BITFIELD o OVERFLOW FAIL INCRBY i64 0 -1 GET i64 0
        BITFIELD o OVERFLOW WRAP INCRBY i64 0 -1 GET i64 0
        BITFIELD o SET u63 0 9223372036854775807 INCRBY u63 0 1 GET u63 0
        BITFIELD o OVERFLOW SAT INCRBY u63 0 -1 INCRBY u63 0 -9223372036854775808
        BITFIELD o OVERFLOW SAT SET u63 0 5 INCRBY u63 0 9223372036854775807
        BITFIELD o SET u1 0 1 INCRBY u1 0 1 OVERFLOW SAT INCRBY u1 0 5 INCRBY u1 0 -5
        BITFIELD o SET i1 0 1 GET i1 0 INCRBY i1 0 1 OVERFLOW SAT INCRBY i1 0 5 INCRBY i1 0 -5
        BITFIELD o OVERFLOW fail INCRBY u8 8 1000 OVERFLOW wrap INCRBY u8 8 1000
    """)


def test_bitfield_errors(diff):
    diff.run("""
        BITFIELD k GET
        BITFIELD k GET u8
        BITFIELD k SET u8 0
        BITFIELD k INCRBY u8 0
        BITFIELD k FOO
        BITFIELD k OVERFLOW
        BITFIELD k OVERFLOW FOO
        BITFIELD k OVERFLOW FOO GET u8 0
        BITFIELD k GET u8 0 OVERFLOW
        BITFIELD k GET u64 0
        BITFIELD k GET i65 0
        BITFIELD k GET i0 0
        BITFIELD k GET u0 0
        BITFIELD k GET x8 0
        BITFIELD k GET U8 0
        BITFIELD k GET I8 0
        BITFIELD k GET u 0
        BITFIELD k GET i-1 0
        BITFIELD k GET u08 0
        BITFIELD k GET u8 -1
        BITFIELD k GET u8 abc
        BITFIELD k GET u8 4294967296
        BITFIELD k GET u8 #536870912
        BITFIELD k GET u8 #-1
        BITFIELD k GET u8 #
        BITFIELD k GET u8 ##1
        BITFIELD k GET i64 #9223372036854775807
        BITFIELD k GET i64 #1152921504606846976
        BITFIELD k GET i64 #1152921504606846977
        BITFIELD k SET u8 0 abc
        BITFIELD k SET u8 0 9223372036854775808
        BITFIELD k INCRBY u8 0 1.5
        BITFIELD k SET u8 -1 abc
        BITFIELD k SET u64 0 abc
        BITFIELD k GET u8 0 SET u8 0 1 FOO
        BITFIELD_RO k SET u8 0 1
        BITFIELD_RO k INCRBY u8 0 1
        BITFIELD_RO k GET u8 0 SET u8 0 1
        BITFIELD_RO k OVERFLOW SAT
        BITFIELD_RO k GET u8 0 FOO
        BITFIELD_RO k GET u64 0
        HSET h f v
        BITFIELD h GET u8 0
        BITFIELD h SET u8 0 1
        BITFIELD h
        BITFIELD h FOO
        BITFIELD_RO h GET u8 0
        BITFIELD_RO h SET u8 0 1
        BITFIELD_RO h
        STRLEN k
    """)
    diff("BITFIELD", "k", "GET", b"u8\x00junk", "0")
    diff("BITFIELD", "k", b"GET\x00", "u8", "0")


def test_bitfield_ro(diff):
    diff.run("""
        BITFIELD_RO missing GET u8 0 GET i8 #3
        BITFIELD_RO missing
        SET k foobar
        BITFIELD_RO k GET u8 0 GET i16 4 GET u32 #1 GET i64 40
        BITFIELD_RO k OVERFLOW FAIL GET u8 0
        STRLEN missing
    """)


def test_bitfield_fail_creates_key(diff):
    diff.run("""
        BITFIELD f OVERFLOW FAIL INCRBY u2 0 10
        GET f
        STRLEN f
        BITFIELD f OVERFLOW FAIL INCRBY u2 100 10
        STRLEN f
    """)


def test_bitfield_random_against_redis(diff):
    rnd = random.Random(9)
    diff("SET", "r", bytes(rnd.randint(0, 255) for _ in range(20)))
    for _ in range(300):
        args = ["BITFIELD", "r"]
        for _ in range(rnd.randint(1, 4)):
            signed = rnd.random() < 0.5
            bits = rnd.randint(1, 64 if signed else 63)
            t = ("i" if signed else "u") + str(bits)
            off = str(rnd.randint(0, 200))
            op = rnd.choice(["GET", "SET", "INCRBY", "OVERFLOW"])
            if op == "OVERFLOW":
                args += ["OVERFLOW", rnd.choice(["WRAP", "SAT", "FAIL"])]
            elif op == "GET":
                args += ["GET", t, off]
            else:
                v = rnd.choice(
                    [
                        rnd.randint(-(2**63), 2**63 - 1),
                        rnd.randint(-300, 300),
                        2 ** (bits - 1),
                        -(2 ** (bits - 1)) - 1,
                        2**bits,
                    ]
                )
                v = max(-(2**63), min(2**63 - 1, v))
                args += [op, t, off, str(v)]
        diff(*args)
    diff("GET", "r")


def test_bitfield_resp3(diff3):
    diff3.run("""
        BITFIELD k OVERFLOW FAIL INCRBY u2 0 10 GET u2 0
        BITFIELD_RO k GET u2 0
        BITPOS k 1
        BITCOUNT k
    """)


def test_keyspace_events(real_redis, shared_vermilion):
    from .test_strings import _events

    commands = [
        ("SETBIT", "b", "3", "1"),
        ("SETBIT", "b", "3", "1"),
        ("SETBIT", "b", "3", "0"),
        ("SETBIT", "b", "30", "0"),
        ("BITFIELD", "f", "SET", "u8", "0", "0"),
        ("BITFIELD", "f", "SET", "u8", "0", "0"),
        ("BITFIELD", "f", "INCRBY", "u8", "0", "3"),
        ("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"),
        ("BITFIELD", "g", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9"),
        ("BITFIELD_RO", "f", "GET", "u8", "0"),
        ("BITOP", "OR", "d", "b", "f"),
        ("BITOP", "AND", "d", "nothing"),
        ("BITOP", "AND", "d", "nothing"),
        ("SET", "x", "1", "PXAT", "1"),
        ("SETBIT", "x", "0", "1"),
        ("SET", "y", "1", "PXAT", "1"),
        ("BITOP", "NOT", "y", "b"),
    ]
    theirs = _events(real_redis.port, commands)
    ours = _events(shared_vermilion.port, commands)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
