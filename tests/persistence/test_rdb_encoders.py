"""The RDB encoders' batched paths give the bytes of the element-by-element
construction they replace (issue #15 item 5: SAVE speed).

``listpack.encode_entries`` (strings spelling integers and small ints from
tables), ``enc_string``'s integer test, ``enc_strings`` (hash, set and sorted
set members without a call each) and the stream node listpack built from one
flat element list are each compared with a plain reference written here from
Redis's rules, on the boundaries of every rule.
"""

import re

from hypothesis import given, settings, strategies as st

from vermilion.persistence import listpack, rdb, rdb_stream
from vermilion.persistence.rdb_strings import _enc_small_int, enc_string, enc_strings
from vermilion.types.hash import RHash
from vermilion.types.set import RSet
from vermilion.types.stream import Stream
from vermilion.types.zset import ZSet

BOUNDARY = [
    b"",
    b"0",
    b"-0",
    b"00",
    b"007",
    b"+1",
    b" 1",
    b"1 ",
    b"1_0",
    b"-",
    b"--1",
    b"-1",
    b"127",
    b"128",
    b"-128",
    b"-129",
    b"4095",
    b"-4096",
    b"32767",
    b"-32769",
    b"2147483647",
    b"2147483648",
    b"-2147483648",
    b"-2147483649",
    b"99999999999",
    b"-9999999999",
    b"12345678901",
    b"123456789012",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"12345678901234567890",
    b"123456789012345678901",
    b"1e3",
    b"0x10",
    b"\xd9\xa3",  # not ASCII digits
    b"x" * 20,
    b"x" * 21,
    b"5" * 63,
    b"y" * 64,
]
_any = st.one_of(
    st.sampled_from(BOUNDARY),
    st.integers(-(1 << 64), 1 << 64).map(lambda i: b"%d" % i),
    st.binary(max_size=80),
)

# ------------------------------------------------------------ references
_CANON64 = re.compile(rb"(?:0|-?[1-9][0-9]{0,19})\Z")


def _ref_entry(e):
    """lpAppend's choice for one element, written from listpack.c's rules."""
    if isinstance(e, int):
        return listpack.encode_int(e)
    if 0 < len(e) <= 20 and _CANON64.match(e) and -(1 << 63) <= int(e) < (1 << 63):
        return listpack.encode_int(int(e))
    return listpack.encode_str(bytes(e))


def _ref_enc_string(s, compress=True):
    """rdbSaveRawString: rdbTryIntegerEncoding (canonical, 32 bit), LZF, verbatim."""
    n = len(s)
    if 0 < n <= 11 and re.match(rb"(?:0|-?[1-9][0-9]{0,10})\Z", s):
        e = _enc_small_int(int(s))
        if e is not None:
            return e
    if compress and n > 20:
        from vermilion.persistence import lzf

        c = lzf.compress(bytes(s), n - 4)
        if c is not None:
            return b"\xc3" + rdb.enc_len(len(c)) + rdb.enc_len(n) + c
    return rdb.enc_len(n) + bytes(s)


# ------------------------------------------------------------ listpack / strings
@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_any, st.integers(-(1 << 63), (1 << 63) - 1)), max_size=40))
def test_listpack_entries(elems):
    assert listpack.encode_entries(elems) == b"".join(map(_ref_entry, elems))


def test_listpack_entries_boundaries_and_bytearrays():
    elems = BOUNDARY + [bytearray(b) for b in BOUNDARY] + [0, 127, 128, -1, (1 << 63) - 1]
    assert listpack.encode_entries(elems) == b"".join(map(_ref_entry, elems))


@settings(max_examples=300, deadline=None)
@given(st.lists(_any, max_size=30), st.booleans())
def test_enc_string_and_enc_strings(strings, compress):
    ref = [_ref_enc_string(s, compress) for s in strings]
    assert [enc_string(s, compress) for s in strings] == ref
    assert b"".join(enc_strings(strings, compress)) == b"".join(ref)


def test_enc_string_boundaries():
    for s in BOUNDARY:
        for compress in (True, False):
            assert enc_string(s, compress) == _ref_enc_string(s, compress), s
            assert enc_string(bytearray(s), compress) == _ref_enc_string(s, compress), s


# ------------------------------------------------------------ collections
@settings(max_examples=150, deadline=None)
@given(st.lists(_any, min_size=1, max_size=300, unique=True))
def test_hashtable_collections(members):
    h = RHash()
    for i, m in enumerate(members):
        h[m] = members[-1 - i]
    h.listpack = False
    t, payload = rdb.encode_value(h)
    assert t == rdb.TYPE_HASH
    ref = [rdb.enc_len(len(h))]
    for f, v in h.items():
        ref += [_ref_enc_string(f), _ref_enc_string(v)]
    assert payload == b"".join(ref)

    s = RSet(members)
    s.intset = False
    t, payload = rdb.encode_value(s)
    assert t == rdb.TYPE_SET
    assert payload == b"".join([rdb.enc_len(len(s))] + [_ref_enc_string(m) for m in s])

    z = ZSet.from_dict({m: float(i) / 3 for i, m in enumerate(members)}, False)
    t, payload = rdb.encode_value(z)
    assert t == rdb.TYPE_ZSET_2
    ref = [rdb.enc_len(len(members))]
    for score, m in reversed(list(z)):
        ref += [_ref_enc_string(m), rdb._pack_double(score)]
    assert payload == b"".join(ref)


# ------------------------------------------------------------ streams
def _ref_node_listpack(node):
    """The node's listpack element by element (the construction before batching)."""
    mf = node.mfields
    elems = [len(node.ids), len(node.dead), len(mf)] + list(mf) + [0]
    count = 4 + len(mf)
    entries = sorted(list(zip(node.ids, node.data)) + list(node.dead.items()))
    mms, mseq = node.master >> 64, node.master & rdb_stream.MASK64
    for i, fv in entries:
        nf = len(fv) // 2
        same = nf == len(mf) and fv[0::2] == mf
        flags = (2 if same else 0) | (1 if i in node.dead else 0)
        elems += [
            flags,
            rdb_stream._s64((i >> 64) - mms),
            rdb_stream._s64((i & rdb_stream.MASK64) - mseq),
        ]
        if same:
            elems += list(fv[1::2]) + [nf + 3]
            count += 4 + nf
        else:
            elems += [nf] + list(fv) + [2 * nf + 4]
            count += 5 + 2 * nf
    return listpack.assemble(b"".join(map(_ref_entry, elems)), count)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),  # ms step
            st.lists(
                st.tuples(st.sampled_from([b"a", b"b", b"12", b"name"]), _any),
                min_size=1,
                max_size=4,
            ),
        ),
        min_size=1,
        max_size=120,
    ),
    st.sets(st.integers(0, 119), max_size=20),
)
def test_stream_node_listpacks(entries, deleted):
    s = Stream()
    ms, seq = 1, 0
    ids = []
    for step, fields in entries:
        if step:
            ms, seq = ms + step * (1 << 40), 0
        else:
            seq += 1
        fv = []
        for f, v in fields:
            fv += [f, v]
        i = (ms << 64) | seq
        s.append(i, fv, 50, 4096)
        ids.append(i)
    for k in deleted:
        if k < len(ids):
            s.delete(ids[k])
    for node in s.nodes:
        lp = rdb_stream.node_listpack(node)
        assert lp == _ref_node_listpack(node)
        # and the loader rebuilds the node from it
        back = rdb_stream._node_from_listpack(node.master, lp, True)
        assert (back.ids, back.data, back.dead) == (node.ids, node.data, node.dead)
        assert back.mfields == node.mfields


# ------------------------------------------------------------ AOF rewrite
def test_aof_rewrite_chunks_are_the_per_key_commands():
    """rewrite_commands formats strings and PEXPIREATs in batches: the bytes of
    encode_command per command, for every type, over several chunks and dbs."""
    import types as pytypes

    from vermilion.persistence import aof
    from vermilion.types.list import RList

    data = {}
    expires = {}
    for i in range(3000):
        k = b"key:%d" % i
        kind = i % 7
        if kind == 0:
            data[k] = RList([b"a", b"%d" % i, b"x" * 30])
        elif kind == 1:
            data[k] = RSet.build([b"1", b"m%d" % i], 512)
        elif kind == 2:
            data[k] = RHash({b"f": b"%d" % i})
        elif kind == 3:
            data[k] = ZSet.from_dict({b"m": i / 7, b"n": float("inf")}, True)
        elif kind == 4:
            data[k] = bytearray(b"ba%d" % i)
        else:
            data[k] = b"v" * (i % 50)
        if i % 3 == 0:
            expires[k] = 1700000000000 + i
    dbs = [
        pytypes.SimpleNamespace(data=data, expires=expires),
        pytypes.SimpleNamespace(data={}, expires={}),
        pytypes.SimpleNamespace(data={b"s": b"1"}, expires={}),
    ]
    ref = []
    for dbid, db in enumerate(dbs):
        if not db.data:
            continue
        ref.append(aof.encode_command([b"SELECT", b"%d" % dbid]))
        for k, v in db.data.items():
            if isinstance(v, (bytes, bytearray)):
                ref.append(aof.encode_command([b"SET", k, bytes(v)]))
            else:
                single = pytypes.SimpleNamespace(data={k: v}, expires={})
                ref += list(aof.rewrite_commands([single]))[1:]
            if k in db.expires:
                ref.append(aof.encode_command([b"PEXPIREAT", k, b"%d" % db.expires[k]]))
    chunks = list(aof.rewrite_commands(dbs))
    assert len(chunks) > 4
    assert b"".join(chunks) == b"".join(ref)
