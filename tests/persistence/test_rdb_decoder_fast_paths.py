"""The RDB loader's short cuts decode and refuse exactly what the general loops do
(issue #15 item 5: loading speed).

``listpack.decode`` first tries a tight loop for listpacks of 7-bit integers and
short strings (bytes only); the general loop runs for a ``bytearray``, so the two
are compared on valid listpacks and on the same listpacks damaged at random.
``Reader.strings(n)`` (set, hash and list members) reads what ``n`` calls of
``Reader.string()`` read.
"""

import random

import pytest
from hypothesis import given, settings, strategies as st

from vermilion.persistence import crc64, listpack, rdb
from vermilion.persistence.errors import CorruptError
from vermilion.persistence.rdb_strings import enc_string

_elem = st.one_of(
    st.integers(0, 127),
    st.integers(-(1 << 63), (1 << 63) - 1),
    st.binary(max_size=70),
    st.binary(max_size=8),
)


def _run(lp, deep, check_count):
    try:
        return listpack.decode(lp, deep, check_count)
    except CorruptError:
        return "refused"


def _same(lp):
    for deep in (True, False):
        for check_count in (True, False):
            fast = _run(bytes(lp), deep, check_count)
            general = _run(bytearray(lp), deep, check_count)
            assert fast == general, (bytes(lp), deep, check_count)


@settings(max_examples=300, deadline=None)
@given(st.lists(_elem, max_size=40), st.randoms(use_true_random=False))
def test_fast_listpack_decode_matches_the_general_loop(elems, rnd):
    lp = listpack.encode(elems)
    _same(lp)
    # the same listpack damaged: a byte changed, cut short, the count changed
    for _ in range(20):
        bad = bytearray(lp)
        what = rnd.randrange(3)
        if what == 0:
            bad[rnd.randrange(len(bad))] = rnd.randrange(256)
        elif what == 1:
            del bad[rnd.randrange(6, len(bad)) :]
            bad[0:4] = len(bad).to_bytes(4, "little")
        else:
            bad[4:6] = rnd.randrange(65536).to_bytes(2, "little")
        _same(bad)


def test_fast_listpack_decode_small_cases():
    rnd = random.Random(5)
    for _ in range(3000):
        elems = [rnd.choice([rnd.randrange(128), b"ab" * rnd.randrange(35)]) for _ in range(4)]
        lp = bytearray(listpack.encode(elems))
        lp[rnd.randrange(6, len(lp))] = rnd.choice([0, 1, 2, 0x7F, 0x80, 0x81, 0xBF, 0xFF])
        _same(lp)
    assert listpack.decode(listpack.encode([5, b"x", b""])) == [5, b"x", b""]


# ------------------------------------------------ Reader.strings
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.binary(max_size=100), st.integers(-(1 << 40), 1 << 40).map(b"%d".__mod__))
    ),
    st.booleans(),
    st.integers(0, 10),
)
def test_reader_strings_reads_what_string_reads(strings, compress, cut):
    """Every string encoding (verbatim, integer, LZF), and a buffer cut short."""
    blob = b"".join(enc_string(s, compress) for s in strings)
    blob = blob[: max(0, len(blob) - cut)]

    def read(batch):
        r = rdb.Reader(blob)
        try:
            if batch:
                out = r.strings(len(strings))
            else:
                out = [bytes(r.string()) for _ in strings]
        except rdb.RdbError as e:
            return "error: %s" % e
        return out, r.pos

    assert read(True) == read(False)
    if not cut:
        assert read(True)[0] == strings


# ------------------------------------------------ duplicates in the string runs
def _rec(key, val=b"v", when=None):
    head = b"" if when is None else b"\xfc" + when.to_bytes(8, "little")
    return head + b"\x00" + bytes([len(key)]) + key + bytes([len(val)]) + val


@pytest.mark.parametrize(
    "dup",
    [b"a10", b"a49", b"x", b"b5", b"a0"],
)
def test_duplicate_in_a_run_of_plain_strings(dup):
    """The run's duplicate is found after the run (by counting) and located: the
    key and the offset of its record, whether the first copy was in an earlier run,
    behind an expire, or in the same run."""
    head = b"REDIS0010\xfe\x00"
    recs = [_rec(b"a%d" % i) for i in range(50)]
    recs.append(_rec(b"x", b"1", when=1 << 50))
    recs += [_rec(b"b%d" % i) for i in range(10)]
    at = len(head) + sum(map(len, recs))
    recs.append(_rec(dup, b"again"))
    recs += [_rec(b"c%d" % i) for i in range(300)]  # the runs stop 140 bytes from the end
    body = head + b"".join(recs) + b"\xff"
    blob = body + crc64.crc64(0, body).to_bytes(8, "little")
    with pytest.raises(rdb.RdbError) as ei:
        rdb.load_rdb(blob)
    assert str(ei.value) == "RDB has duplicated key '%s' in DB 0" % dup.decode()
    assert ei.value.offset == at
    assert ei.value.doing == "read-object-value" and ei.value.key == dup
    res = rdb.load_rdb(blob, allow_dup=True)  # the general path takes it
    assert res.dbs[0][0][dup] == b"again"
