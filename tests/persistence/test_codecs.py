"""The byte-level codecs: LZF, CRC-64, listpack, ziplist, intset, zipmap, RDB lengths/strings.

Property tests (hypothesis) check round trips and that decoders reject what
Redis rejects; the blobs Redis itself produced (taken out of DUMP payloads of a
real redis-server) must decode to what Redis holds.
"""

import pytest
import redis
from hypothesis import assume, given, settings, strategies as st

from pers_helpers import needs_redis
from vermilion.persistence import crc64 as crcmod, intset, listpack, lzf, rdb, ziplist, zipmap
from vermilion.persistence.errors import CorruptError

I64 = st.integers(-(2**63), 2**63 - 1)
ELEMENT = st.one_of(
    st.binary(max_size=80), I64.map(lambda i: b"%d" % i), st.binary(min_size=4000, max_size=5000)
)
SETTINGS = settings(max_examples=200, deadline=None)


# ------------------------------------------------------------------ CRC-64
def test_crc64_check_value():
    assert crcmod.crc64(0, b"123456789") == 0xE9C6D914C4B8D9CA


@given(st.binary(max_size=20000), st.integers(0, 2**64 - 1))
@SETTINGS
def test_crc64_all_paths_agree(data, init):
    ref = crcmod._crc_bytewise(init, data)
    assert crcmod._crc_slice8(init, data) == ref
    if len(data) >= 32:
        assert crcmod._crc_lanes(init, data) == ref
    assert crcmod.crc64(init, data) == ref


@given(st.binary(max_size=3000), st.binary(max_size=3000))
@SETTINGS
def test_crc64_combine(a, b):
    assert crcmod.combine(crcmod.crc64(0, a), crcmod.crc64(0, b), len(b)) == crcmod.crc64(0, a + b)
    assert crcmod.crc64(crcmod.crc64(0, a), b) == crcmod.crc64(0, a + b)


def test_crc64_large_buffer():
    import os

    data = os.urandom(3 << 20)
    assert crcmod.crc64(0, data) == crcmod.crc64(crcmod.crc64(0, data[:12345]), data[12345:])
    assert crcmod.crc64(0, data[:100000]) == crcmod._crc_bytewise(0, data[:100000])


# --------------------------------------------------------------------- LZF
@given(st.binary(max_size=5000))
@SETTINGS
def test_lzf_round_trip(data):
    c = lzf.compress(data)
    if c is not None:
        assert lzf.decompress(c, len(data)) == data


@given(
    st.lists(
        st.sampled_from([b"a", b"ab", b"abc", b"hello ", b"\x00" * 7, b"xyz" * 9]), max_size=300
    ).map(b"".join)
)
@SETTINGS
def test_lzf_round_trip_repetitive(data):
    c = lzf.compress(data)
    assume(c is not None)
    assert lzf.decompress(c, len(data)) == data
    if len(data) > 100:
        assert len(c) < len(data)


@given(st.binary(min_size=1, max_size=2000), st.integers(1, 2000))
@SETTINGS
def test_lzf_respects_budget(data, budget):
    c = lzf.compress(data, budget)
    assert c is None or len(c) <= budget


@given(st.binary(max_size=300), st.integers(0, 600))
@SETTINGS
def test_lzf_decompress_garbage_raises_cleanly(blob, n):
    try:
        out = lzf.decompress(blob, n)
    except CorruptError:
        return
    assert len(out) == n


def test_lzf_overlapping_run():
    # literal "ab" then a back reference of 10 bytes at distance 2 (overlapping copy):
    # length 10 = 7 + 1 + 2 takes the long form (ctrl 0xE0, extra length byte 1)
    assert lzf.decompress(bytes([1]) + b"ab" + bytes([0xE0, 1, 1]), 12) == b"ab" * 6
    assert lzf.decompress(bytes([0]) + b"a" + bytes([0x20, 0]), 4) == b"aaaa"


# ---------------------------------------------------------------- listpack
@given(st.lists(ELEMENT, max_size=40))
@SETTINGS
def test_listpack_round_trip(elements):
    blob = listpack.encode(elements)
    assert listpack.decode_strings(blob) == [bytes(e) for e in elements]


@given(st.lists(I64, max_size=40))
@SETTINGS
def test_listpack_ints_are_int_encoded(ints):
    blob = listpack.encode([b"%d" % i for i in ints])
    assert listpack.decode(blob) == ints
    assert listpack.encode(ints) == blob


@given(st.lists(ELEMENT, min_size=1, max_size=10), st.data())
@SETTINGS
def test_listpack_detects_damage(elements, data):
    blob = bytearray(listpack.encode(elements))
    i = data.draw(st.integers(0, len(blob) - 1))
    blob[i] ^= data.draw(st.integers(1, 255))
    try:
        out = listpack.decode(bytes(blob))
    except CorruptError:
        return
    assert isinstance(out, list)  # a change that still parses is allowed, never a crash


@pytest.mark.parametrize(
    "non_int",
    [
        b"-0",
        b"+1",
        b"01",
        b" 1",
        b"1 ",
        b"9223372036854775808",
        b"-9223372036854775809",
        b"1.0",
        b"",
    ],
)
def test_listpack_keeps_non_canonical_numbers_as_strings(non_int):
    assert listpack.decode(listpack.encode([non_int])) == [non_int]


# ---------------------------------------------------------------- ziplist
@given(st.lists(ELEMENT, max_size=40))
@SETTINGS
def test_ziplist_round_trip(elements):
    blob = ziplist.encode(elements)
    assert ziplist.decode_strings(blob) == [bytes(e) for e in elements]


@given(st.lists(ELEMENT, min_size=1, max_size=10), st.data())
@SETTINGS
def test_ziplist_detects_damage(elements, data):
    blob = bytearray(ziplist.encode(elements))
    i = data.draw(st.integers(0, len(blob) - 1))
    blob[i] ^= data.draw(st.integers(1, 255))
    try:
        ziplist.decode(bytes(blob))
    except CorruptError:
        pass


def test_ziplist_all_int_encodings():
    vals = [
        0,
        12,
        13,
        -1,
        127,
        -128,
        32767,
        -32768,
        8388607,
        -8388608,
        2**31 - 1,
        -(2**31),
        2**63 - 1,
        -(2**63),
    ]
    blob = ziplist.encode([b"%d" % v for v in vals])
    assert ziplist.decode(blob) == vals
    encodings = set()
    p = 10
    for _ in vals:
        p += 1  # prevlen (all small)
        encodings.add(blob[p])
        e = blob[p]
        p += 1 + {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}.get(e, 0)
    assert {0xC0, 0xD0, 0xE0, 0xF0, 0xFE}.issubset(encodings)


def test_ziplist_big_prevlen():
    elements = [b"x" * 300, b"y", b"z" * 70000, b"w"]
    assert ziplist.decode(ziplist.encode(elements)) == elements


# ------------------------------------------------------------------ intset
@given(st.sets(I64, min_size=1, max_size=200))
@SETTINGS
def test_intset_round_trip(values):
    blob = intset.encode(values)
    assert intset.decode(blob) == sorted(values)
    width = int.from_bytes(blob[:4], "little")
    lo, hi = min(values), max(values)
    if -(2**15) <= lo and hi < 2**15:
        assert width == 2
    elif -(2**31) <= lo and hi < 2**31:
        assert width == 4
    else:
        assert width == 8


def test_intset_rejects_bad_blobs():
    for blob in (
        b"",
        b"\x02\x00\x00\x00\x01\x00\x00\x00",
        b"\x03\x00\x00\x00\x01\x00\x00\x00\x01",
        b"\x02\x00\x00\x00\x00\x00\x00\x00",
    ):
        with pytest.raises(CorruptError):
            intset.decode(blob)
    unsorted = b"\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00"
    with pytest.raises(CorruptError):
        intset.decode(unsorted, deep=True)
    assert intset.decode(unsorted, deep=False) == [5, 1]


# ------------------------------------------------------------------ zipmap
@given(st.dictionaries(st.binary(max_size=300), st.binary(max_size=300), min_size=1, max_size=20))
@SETTINGS
def test_zipmap_round_trip(d):
    pairs = list(d.items())
    assert zipmap.decode(zipmap.encode(pairs)) == pairs


def test_zipmap_with_free_space_and_asset():
    # field "a" -> value "bc" with 2 bytes of free space after it
    blob = b"\x01\x01a\x02\x02bcXY\xff"
    assert zipmap.decode(blob) == [(b"a", b"bc")]
    with pytest.raises(CorruptError):
        zipmap.decode(b"\x02\x01a\x02\x02bcXY\xff")  # header count says 2


# ------------------------------------------------------- RDB string/lengths
@given(st.integers(0, 2**64 - 1))
@SETTINGS
def test_rdb_length_round_trip(n):
    r = rdb.Reader(rdb.enc_len(n))
    assert r.len() == n and r.pos == r.end


@given(st.binary(max_size=3000), st.booleans())
@SETTINGS
def test_rdb_string_round_trip(s, compress):
    enc = rdb.enc_string(s, compress)
    r = rdb.Reader(enc)
    assert bytes(r.string()) == s and r.pos == len(enc)


@pytest.mark.parametrize(
    "s,first",
    [
        (b"0", 0xC0),
        (b"-128", 0xC0),
        (b"128", 0xC1),
        (b"-32769", 0xC2),
        (b"2147483647", 0xC2),
        (b"2147483648", 0x0A),
        (b"007", 0x03),
        (b"-0", 0x02),
    ],
)
def test_rdb_integer_encoded_strings(s, first):
    assert rdb.enc_string(s)[0] == first


@given(st.floats(allow_nan=False))
@SETTINGS
def test_zset_listpack_scores(score):
    from vermilion.types.zset import ZSet

    z = ZSet.from_dict({b"m": score}, True)
    t, payload = rdb.encode_value(z)
    back = rdb.load_value(rdb.Reader(payload), t)
    assert back.score(b"m") == (0.0 if score == 0 else score)


# ----------------------------------------- decoding blobs produced by Redis
@needs_redis
def test_decode_listpacks_and_intsets_made_by_redis(real_redis):
    c = redis.Redis(port=real_redis.port)
    c.delete("h", "z", "s", "l")
    c.hset("h", mapping={"a": "1", "b": "-70000", "c": "x" * 60, "d": "3.5"})
    c.zadd("z", {"m1": 1.5, "m2": -2, "m3": 1e20})
    c.sadd("s", 1, -5, 70000, 2**40)
    c.rpush("l", *[b"%d" % i for i in range(-2000, 2000, 7)] + [b"x" * 5000])

    def blob(key):
        p = c.dump(key)
        r = rdb.Reader(p, 0, len(p) - 10)
        t = r.byte()
        return t, r

    t, r = blob("h")
    assert t == rdb.TYPE_HASH_LISTPACK
    flat = listpack.decode_strings(r.string())
    assert dict(zip(flat[0::2], flat[1::2])) == c.hgetall("h")
    t, r = blob("z")
    flat = listpack.decode(r.string())
    assert flat[0::2] == [b"m2", b"m1", b"m3"]
    assert [float(x) if isinstance(x, int) else float(x) for x in flat[1::2]] == [-2, 1.5, 1e20]
    t, r = blob("s")
    assert t == rdb.TYPE_SET_INTSET
    assert intset.decode(r.string()) == sorted([1, -5, 70000, 2**40])
    t, r = blob("l")
    assert t == rdb.TYPE_LIST_QUICKLIST_2
    n = r.len()
    out = []
    for _ in range(n):
        assert r.len() == 2
        out += listpack.decode_strings(r.string())
    assert out == c.lrange("l", 0, -1)
    c.delete("h", "z", "s", "l")
