"""DUMP and RESTORE against the real redis-server.

* Differential: the same commands to redis-server and Vermilion give the same
  bytes: DUMP payloads are byte-identical for every encoding whose layout does
  not depend on hash-table order (strings incl. LZF, lists, listpack hashes and
  sorted sets, intsets, skiplist sorted sets), and every RESTORE error matches.
* Both directions: a DUMP taken from redis-server RESTOREs here, and one taken
  here RESTOREs into redis-server, for every key of the full data set.
"""

import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings, strategies as st

from pers_helpers import needs_redis, populate, snapshot, assert_same
from vermilion.persistence import rdb

pytestmark = needs_redis

FIXTURE_OK = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_dump_missing_key(diff):
    diff("DUMP", "nokey")


@pytest.mark.parametrize(
    "setup",
    [
        ["SET", "k", "hello"],
        ["SET", "k", "123"],
        ["SET", "k", "-129"],
        ["SET", "k", "40000"],
        ["SET", "k", "2147483647"],
        ["SET", "k", "2147483648"],
        ["SET", "k", "-2147483648"],
        ["SET", "k", "9223372036854775807"],
        ["SET", "k", "007"],
        ["SET", "k", ""],
        ["SET", "k", "a" * 21],
        ["SET", "k", "abcd" * 5000],
        ["SET", "k", "x" * 100000],
        [
            "RPUSH",
            "k",
            "a",
            "1",
            "-1",
            "127",
            "128",
            "-4096",
            "4095",
            "32767",
            "-32769",
            "8388607",
            "8388608",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551616",
            "1.5",
            "x" * 63,
            "x" * 64,
            "x" * 4095,
            "x" * 4096,
        ],
        ["RPUSH", "k"] + ["e%d" % i for i in range(5000)],
        ["RPUSH", "k", "y" * 10000, "z"],
        ["HSET", "k", "f1", "v1", "f2", "12", "n", "-5"],
        ["SADD", "k", "3", "1", "2"],
        ["SADD", "k", "70000", "-1"],
        ["SADD", "k", "5000000000", "1"],
        [
            "ZADD",
            "k",
            "1",
            "a",
            "2.5",
            "b",
            "-3",
            "c",
            "inf",
            "d",
            "-inf",
            "e",
            "1e300",
            "f",
            "0.1",
            "g",
            "-0",
            "h",
            "12345678901",
            "i",
        ],
        ["ZADD", "k"] + [x for i in range(200) for x in (str(i * 0.25), "m%d" % i)],
        ["ZADD", "k", "1", "x" * 100, "2", "y"],
    ],
)
def test_dump_is_byte_identical(diff, setup):
    diff(*setup)
    diff("DUMP", "k")


@given(st.binary(min_size=0, max_size=3000))
@FIXTURE_OK
def test_dump_strings_byte_identical(diff, s):
    """Our LZF compressor makes Redis's exact choices and bytes."""
    diff("SET", "k", s)
    diff("DUMP", "k")


@given(
    st.lists(
        st.sampled_from([b"ab", b"abc", b"hello", b"x" * 30, b"0", b"123"]), min_size=1, max_size=40
    ).map(b"".join)
)
@FIXTURE_OK
def test_dump_repetitive_strings_byte_identical(diff, s):
    diff("SET", "k", s)
    diff("DUMP", "k")


@given(
    st.lists(
        st.one_of(
            st.binary(max_size=70), st.integers(-(2**63), 2**63 - 1).map(lambda i: b"%d" % i)
        ),
        min_size=1,
        max_size=60,
    )
)
@FIXTURE_OK
def test_dump_lists_byte_identical(diff, elems):
    diff("DEL", "k")
    diff("RPUSH", "k", *elems)
    diff("DUMP", "k")


@given(st.dictionaries(st.binary(max_size=20), st.binary(max_size=40), min_size=1, max_size=30))
@FIXTURE_OK
def test_dump_small_hashes_byte_identical(diff, d):
    diff("DEL", "k")
    diff("HSET", "k", *[x for kv in d.items() for x in kv])
    diff("DUMP", "k")


@given(
    st.dictionaries(
        st.binary(max_size=20),
        st.one_of(st.floats(allow_nan=False), st.integers(-(10**6), 10**6)),
        min_size=1,
        max_size=140,
    )
)
@FIXTURE_OK
def test_dump_zsets_byte_identical(diff, d):
    diff("DEL", "k")
    diff("ZADD", "k", *[x for m, s in d.items() for x in (repr(float(s)), m)])
    diff("DUMP", "k")


@given(st.sets(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=100))
@FIXTURE_OK
def test_dump_intsets_byte_identical(diff, members):
    diff("DEL", "k")
    diff("SADD", "k", *members)
    diff("DUMP", "k")


def _payload(diff, *setup):
    diff("DEL", "src")
    diff(*setup)
    raw = diff("DUMP", "src")
    return raw[raw.index(b"\r\n") + 2 : -2]


def test_restore_basics(diff):
    p = _payload(diff, "SET", "src", "value")
    diff("RESTORE", "k", "0", p)
    diff("GET", "k")
    diff("TTL", "k")
    diff("RESTORE", "k", "0", p)  # BUSYKEY
    diff("RESTORE", "k", "0", p, "REPLACE")
    diff("RESTORE", "k", "-1", p, "REPLACE")  # invalid TTL
    diff("RESTORE", "k", "abc", p, "REPLACE")  # not an integer
    diff("RESTORE", "k", "0", p, "REPLACE", "BOGUS")  # syntax error
    diff("RESTORE", "k", "0", p, "IDLETIME")  # option without value
    diff("RESTORE", "k", "0", p, "REPLACE", "IDLETIME", "-1")
    diff("RESTORE", "k", "0", p, "REPLACE", "IDLETIME", "x")
    diff("RESTORE", "k", "0", p, "REPLACE", "FREQ", "256")
    diff("RESTORE", "k", "0", p, "REPLACE", "FREQ", "-1")
    diff("RESTORE", "k", "0", p, "REPLACE", "FREQ", "5", "IDLETIME", "5")
    diff("RESTORE", "k", "0", p, "REPLACE", "IDLETIME", "5", "FREQ", "5")
    diff("RESTORE", "k", "0", p, "REPLACE", "IDLETIME", "100")
    diff("RESTORE", "k", "0", p, "REPLACE", "FREQ", "100")
    diff("RESTORE", "k", "0", p, "REPLACE", "ABSTTL")
    diff("RESTORE", "k")
    diff("GET", "k")


def test_restore_ttls(diff):
    p = _payload(diff, "SET", "src", "value")
    diff("RESTORE", "k1", "100000", p)
    for conn in (diff.ref, diff.our):
        ttl = int(conn.call("PTTL", "k1")[1:-2])
        assert 99000 < ttl <= 100000
    future = int(time.time() * 1000) + 50000
    diff("RESTORE", "k2", str(future), p, "ABSTTL")
    for conn in (diff.ref, diff.our):
        ttl = int(conn.call("PTTL", "k2")[1:-2])
        assert 48000 < ttl <= 50000
    past = int(time.time() * 1000) - 5000
    diff("RESTORE", "k3", str(past), p, "ABSTTL")  # already expired: OK, no key
    diff("EXISTS", "k3")
    diff("SET", "k4", "old")
    diff("RESTORE", "k4", str(past), p, "ABSTTL", "REPLACE")  # deletes the old key
    diff("EXISTS", "k4")
    diff("RESTORE", "k5", "1", p)
    time.sleep(0.01)
    diff("EXISTS", "k5")


def test_restore_overwrites_expired_key_without_replace(diff):
    p = _payload(diff, "SET", "src", "value")
    diff("SET", "k", "old", "PX", "1")
    time.sleep(0.01)
    diff("RESTORE", "k", "0", p)
    diff("GET", "k")


@pytest.mark.parametrize("mangle", ["short", "crc", "version", "garbage", "empty"])
def test_restore_bad_payloads(diff, mangle):
    p = bytearray(_payload(diff, "RPUSH", "src", "a", "b", "c"))
    if mangle == "short":
        p = p[:9]
    elif mangle == "crc":
        p[-1] ^= 1
    elif mangle == "version":
        p[-10] = 11
    elif mangle == "garbage":
        p[0] = 0x63  # unknown type with a checksum that then fails
    else:
        p = b""
    diff("RESTORE", "k", "0", bytes(p))


def _with_crc(body):
    return body + rdb.crc64(0, body).to_bytes(8, "little")


@pytest.mark.parametrize(
    "body",
    [
        b"\x63\x00\x0a\x00",  # unknown type, valid CRC
        b"\x00\xc3\x05\x10abc\x0a\x00",  # LZF that does not expand right
        b"\x00\x85xy\x0a\x00",  # string shorter than its length
        b"\x10\x0bxxxxxxxxxxx\x0a\x00",  # hash listpack with a bad header
        b"\x0b\x04\x02\x00\x00\x00\x0a\x00",  # intset too short
        b"\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00\x0a\x00",  # unsorted intset
        b"\x02\x02\x01a\x01a\x0a\x00",  # set with duplicate members
        b"\x04\x01\x01a\x01b\x01c\x0a\x00",  # hash shorter than announced
        b"\x12\x01\x01\x00\x0a\x00",  # quicklist node of length 0
        b"\x12\x00\x0a\x00",  # empty quicklist
        b"\x05\x01\x01a" + b"\x00" * 6 + b"\xf8\x7f\x0a\x00",  # zset with NaN score
        b"\x0f\x00\x0a\x00",  # stream (not supported: bad format)
        b"\x00\x01a\x0b\x00",  # version 11: refused
        b"\x00\x01a\x09\x00",  # version 9 string: fine
        b"\x00\x01a\x01\x00",  # version 1 string: fine
    ],
)
def test_restore_corrupt_payloads_with_valid_crc(diff, body):
    diff("RESTORE", "k", "0", _with_crc(body), "REPLACE")
    diff("TYPE", "k")


# Payloads from Redis's tests/integration/corrupt-dump.tcl (RDB 9, ziplist encodings).
CORRUPT_DUMP_TCL = [
    b"\x0e\x01\x1d\x1d\x00\x00\x00\x16\x00\x00\x00\x03\x00\x00\x04\x43\x43\x43\x43\x06\x04\x42"
    b"\x42\x42\x42\x06\x3f\x41\x41\x41\x41\xff\x09\x00\x88\xa5\xca\xa8\xc5\x41\xf4\x35",
    b"\x0d\x1b\x1b\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02\x62\x00\x04\x14"
    b"\x63\x00\x04\x02\x64\x00\xff\x09\x00\xd9\x10\x54\x92\x15\xf5\x5f\x52",
    b"\x0d\x1b\x25\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02\x62\x00\x04\x02"
    b"\x63\x00\x04\x02\x64\x00\xff\x09\x00\xb7\xf7\x6e\x9f\x43\x43\x14\xc6",
    b"\x0d\x1b\x1b\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02\x62\x00\x04\x02"
    b"\x61\x00\x04\x02\x64\x00\xff\x09\x00\xa1\x98\x36\x78\xcc\x8e\x93\x2e",
    b"\x0e\x01\x13\x13\x00\x00\x00\x0e\x00\x00\x00\x02\x00\x00\x02\x61\x00\x0e\x02\x62\x00\xff"
    b"\x09\x00\x49\x97\x30\xb2\x0d\xa1\xed\xaa",
    b"\x0e\x01\x13\x13\x00\x00\x00\x0e\x00\x00\x00\x02\x00\x00\x02\x61\x00\x02\x02\x62\x00\xff"
    b"\x09\x00\xc7\x71\x03\x97\x07\x75\xb0\x63",
    b"\x0e\x01\x13\x13\x00\x00\x00\x0e\x00\x00\x00\x03\x00\x00\x02\x61\x00\x04\x02\x62\x00\xff"
    b"\x09\x00\x4d\xe2\x0a\x2f\x08\x25\xdf\x91",
    b"\x0e\x01\x80\x00\x00\x00\x10\x41\x41\x41\x41\x41\x41\x41\x41\x02\x00\x00\x80\x41\x41\x41"
    b"\x41\x07\x00\x03\xc7\x1d\xef\x54\x68\xcc\xf3",
    b"\x12\x01\x01\x00\x0a\x00\x8f\xc6\xc0\x57\x1c\x0a\xb3\x3c",
]


@pytest.mark.parametrize("payload", CORRUPT_DUMP_TCL)
def test_restore_redis_corrupt_dump_payloads(diff, payload):
    diff("RESTORE", "key", "0", payload, "REPLACE")
    diff("TYPE", "key")


def test_restore_old_ziplist_payloads(diff):
    """Valid RDB-9 payloads (ziplist list/hash/zset, zipmap) restore identically."""
    from vermilion.persistence import ziplist, zipmap

    zl = ziplist.encode([b"a", b"12", b"-5", b"x" * 70, b"9223372036854775807", b"4000000"])
    diff("RESTORE", "l", "0", _with_crc(b"\x0a" + rdb.enc_raw_blob(zl, False) + b"\x09\x00"))
    diff("LRANGE", "l", "0", "-1")
    diff("OBJECT", "ENCODING", "l")
    zl = ziplist.encode([b"f1", b"v1", b"f2", b"2"])
    diff("RESTORE", "h", "0", _with_crc(b"\x0d" + rdb.enc_raw_blob(zl, False) + b"\x09\x00"))
    diff("HGETALL", "h")
    zl = ziplist.encode([b"a", b"1", b"b", b"2.5", b"c", b"inf"])
    diff("RESTORE", "z", "0", _with_crc(b"\x0c" + rdb.enc_raw_blob(zl, False) + b"\x09\x00"))
    diff("ZRANGE", "z", "0", "-1", "WITHSCORES")
    zm = zipmap.encode([(b"k1", b"v1"), (b"k2", b"v2" * 100)])
    diff("RESTORE", "hm", "0", _with_crc(b"\x09" + rdb.enc_raw_blob(zm, False) + b"\x09\x00"))
    diff("HLEN", "hm")  # a hashtable now (value > 64 bytes): order is Redis's
    diff("HGET", "hm", "k1")
    diff("HGET", "hm", "k2")
    diff("OBJECT", "ENCODING", "hm")
    ql = b"\x0e\x02" + b"".join(
        rdb.enc_raw_blob(ziplist.encode([b"p%d" % i, b"q"]), False) for i in range(2)
    )
    diff("RESTORE", "ql", "0", _with_crc(ql + b"\x09\x00"))
    diff("LRANGE", "ql", "0", "-1")


def test_dump_restore_both_directions_full_data_set(vermilion_factory, real_redis):
    srv = vermilion_factory()
    ours = redis.Redis(port=srv.port)
    ref = redis.Redis(port=real_redis.port)
    for c in (ours, ref):
        for db in (0, 3, 15):
            c.execute_command("SELECT", db)
            c.execute_command("FLUSHDB")
    populate(ref)
    populate(ours)
    # Redis -> Vermilion and Vermilion -> Redis, key by key, into fresh databases 1 and 2
    for db in (0, 3, 15):
        for src, dst in ((ref, ours), (ours, ref)):
            src.execute_command("SELECT", db)
            keys = src.keys()
            dumps = [(k, src.dump(k), max(0, src.pttl(k))) for k in keys]
            dst.execute_command("SELECT", db + 1 if db != 15 else 14)
            dst.execute_command("FLUSHDB")
            for k, p, ttl in dumps:
                assert dst.restore(k, ttl, p)
    snap_ref = snapshot(ref, dbs=(1, 4, 14), encodings=False)
    snap_ours = snapshot(ours, dbs=(1, 4, 14), encodings=False)
    snap_ref_src = snapshot(ref, dbs=(0, 3, 15), encodings=False)
    assert_same({k + 1 if k != 15 else 14: v for k, v in snap_ref_src.items()}, snap_ours)
    assert_same(snap_ref, snap_ours)
    # encodings after RESTORE agree too
    assert_same(snapshot(ref, dbs=(1, 4, 14)), snapshot(ours, dbs=(1, 4, 14)))
    for c in (ours, ref):
        for db in (0, 1, 3, 4, 14, 15):
            c.execute_command("SELECT", db)
            c.execute_command("FLUSHDB")


def test_restore_propagates_absolute_ttl(vermilion_factory, tmp_path):
    """A relative TTL goes to the AOF as an absolute one with ABSTTL (like Redis)."""
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    r = redis.Redis(port=srv.port)
    r.set("src", "v")
    p = r.dump("src")
    before = int(time.time() * 1000)
    r.restore("k", 100000, p)
    r.restore("k2", 0, p)
    incr = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    parts = incr.split(b"\r\n")
    i = parts.index(b"RESTORE")
    assert parts[i + 2] == b"k"
    when = int(parts[i + 4])
    assert before + 100000 <= when <= int(time.time() * 1000) + 100000
    assert parts[i + 8] == b"ABSTTL"
    j = parts.index(b"RESTORE", i + 1)
    assert parts[j + 4] == b"0" and b"ABSTTL" not in parts[j : j + 9]
