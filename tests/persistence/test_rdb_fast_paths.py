"""The RDB writer's and loader's fast paths give the bytes and values of the
general paths they short-cut (issue #15: SAVE and loading speed).

Each fast path is compared with the plain construction it replaces: the
writer's batched string records with ``enc_string`` + ``encode_value`` per key,
the loader's runs of string records with the general record parser, LZF's
early refusal with liblzf's loop, listpack's table-driven entries with
``encode_entry``, one-node lists with the node-by-node split.
"""

import io
import os
import signal
import types

import pytest
from hypothesis import given, settings, strategies as st

from vermilion.persistence import crc64, listpack, lzf, rdb
from vermilion.persistence.rdb_strings import enc_string
from vermilion.types.hash import RHash
from vermilion.types.list import RList
from vermilion.types.set import RSet
from vermilion.types.zset import ZSet

# Strings around every boundary the fast paths test: integer spellings (8/16/32
# bit and beyond), 11/12 bytes (the integer limit), 20/21 (LZF), 63/64 (6-bit length).
_ints = st.integers(-(1 << 40), 1 << 40).map(lambda i: b"%d" % i)
_odd_ints = st.sampled_from(
    [
        b"-0",
        b"007",
        b"+5",
        b"1 ",
        b"",
        b"-",
        b"0",
        b"-128",
        b"127",
        b"128",
        b"-32769",
        b"2147483648",
        b"-2147483648",
    ]
)
_text = st.binary(min_size=0, max_size=70)
_repetitive = st.builds(
    lambda a, n: (a * n)[:70], st.binary(min_size=1, max_size=4), st.integers(1, 40)
)
strings = st.one_of(_ints, _odd_ints, _text, _repetitive)


def _reference_rdb(dbs, limits):
    """The RDB body as the per-key general path writes it (no batching)."""
    out = []
    for dbid, db in enumerate(dbs):
        if not db.data:
            continue
        out.append(b"\xfe" + rdb.enc_len(dbid))
        out.append(b"\xfb" + rdb.enc_len(len(db.data)) + rdb.enc_len(len(db.expires)))
        for key, val in db.data.items():
            when = db.expires.get(key)
            if when is not None:
                out.append(b"\xfc" + (when & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little"))
            t, payload = rdb.encode_value(val, limits)
            out.append(bytes((t,)) + enc_string(key, limits.compress) + payload)
    return b"".join(out)


def _body(blob):
    """The records of a written RDB: after the AUX fields, before EOF + CRC."""
    r = rdb.Reader(blob, 9)
    while blob[r.pos] == rdb.OP_AUX:
        r.pos += 1
        r.string()
        r.string()
    return blob[r.pos : -9]


def _write(dbs, limits):
    fh = io.BytesIO()
    rdb.write_rdb(fh, dbs, limits)
    return fh.getvalue()


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(strings, strings, max_size=40),
    st.lists(st.integers(-(1 << 63), (1 << 64) - 1), max_size=40),
    st.booleans(),
)
def test_string_records_match_general_path(data, whens, compress):
    limits = rdb.Limits()
    limits.compress = compress
    expires = {k: w for k, w in zip(data, whens) if w % 3 == 0}
    db = types.SimpleNamespace(data=data, expires=expires)
    blob = _write([db], limits)
    assert _body(blob) == _reference_rdb([db], limits)
    assert int.from_bytes(blob[-8:], "little") == crc64.crc64(0, blob[:-8])


def test_batches_and_mixed_values_match_general_path():
    """More keys than one batch, every value type, expires, several databases."""
    data = {}
    for i in range(rdb._SAVE_BATCH * 2 + 17):
        k = b"k%d" % i
        m = i % 7
        if m == 0:
            data[k] = b"v%d" % i
        elif m == 1:
            data[k] = b"%d" % (i * 1000003)
        elif m == 2:
            data[k] = RHash({b"f": b"%d" % i, b"g": b"x" * (i % 70)})
        elif m == 3:
            data[k] = RList([b"a", b"%d" % i, b"y" * (i % 90)])
        elif m == 4:
            data[k] = RSet([b"%d" % j for j in range(i % 5 + 1)])
        elif m == 5:
            data[k] = ZSet.from_dict({b"m%d" % j: j / 3 for j in range(i % 4 + 1)}, True)
        else:
            data[k] = b"abcdefghij" * 3 + b"%d" % i
    expires = {k: 1700000000000 + i for i, k in enumerate(data) if i % 5 == 0}
    dbs = [
        types.SimpleNamespace(data=data, expires=expires),
        types.SimpleNamespace(data={}, expires={}),
        types.SimpleNamespace(data={b"only": b"1"}, expires={}),
    ]
    limits = rdb.Limits()
    seen = []
    fh = io.BytesIO()
    rdb.write_rdb(fh, dbs, limits, progress=seen.append)
    blob = fh.getvalue()
    assert _body(blob) == _reference_rdb(dbs, limits)
    assert seen == [rdb._SAVE_BATCH, 2 * rdb._SAVE_BATCH, len(data), len(data) + 1]
    res = rdb.load_rdb(blob, now_ms=0)
    assert res.checksum_ok
    assert set(res.dbs[0][0]) == set(data)
    assert res.dbs[0][1] == expires
    assert res.dbs[2][0] == {b"only": b"1"}


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(strings, strings, max_size=60),
    st.lists(st.integers(-5, 5), max_size=60),
    st.booleans(),
)
def test_loader_string_runs_match_general_path(data, whens, expire_keys):
    """Keys with expires (some past, some not) among plain strings; the file
    is padded with a long record so that the runs start before the tail."""
    data = dict(data)
    data[b"pad"] = RList([b"p" * 200])
    expires = {k: 1000 + 100 * w for k, w in zip(data, whens) if w}
    db = types.SimpleNamespace(data=data, expires=expires)
    blob = _write(
        [types.SimpleNamespace(data={b"first": RList([b"q" * 200])}, expires={}), db], rdb.Limits()
    )
    res = rdb.load_rdb(blob, now_ms=1000, expire_keys=expire_keys)
    gen = rdb.load_rdb(blob, now_ms=1000, expire_keys=expire_keys, check_mode=True)
    loaded, loaded_exp = res.dbs[1]
    live = {k for k in data if not (expire_keys and expires.get(k, 1 << 62) < 1000)}
    assert set(loaded) == live
    for k in live:
        if data[k].__class__ is bytes:
            assert loaded[k] == data[k]
    assert loaded_exp == {k: w for k, w in expires.items() if k in live}
    for field in ("keys_read", "keys_expired", "expires", "already_expired"):
        assert getattr(res, field) == getattr(gen, field), field
    assert res.type_counts == gen.type_counts
    assert res.keys_loaded == len(live) + 1


def test_loader_duplicate_key_in_a_run():
    recs = b"".join(b"\x00\x04k%03d\x01v" % i for i in range(100))
    dup = b"\x00\x04k050\x01w"
    body = b"REDIS0010\xfe\x00" + recs + dup + recs.replace(b"k", b"j") + b"\xff"
    blob = body + crc64.crc64(0, body).to_bytes(8, "little")
    with pytest.raises(rdb.RdbError) as ei:
        rdb.load_rdb(blob)
    assert str(ei.value) == "RDB has duplicated key 'k050' in DB 0"
    assert ei.value.offset == 11 + len(recs)
    assert ei.value.doing == "read-object-value"


def test_loader_progress_sees_every_key():
    data = {b"key:%06d" % i: b"v%d" % i for i in range(5000)}
    blob = _write([types.SimpleNamespace(data=data, expires={})], rdb.Limits())
    calls = []

    def progress(pos, res):
        calls.append((pos, res.keys_loaded))
        return pos + 1000

    res = rdb.load_rdb(blob, progress=progress)
    assert res.keys_loaded == 5000 and res.checksum_ok
    positions = [p for p, _ in calls]
    assert positions == sorted(positions) and len(calls) > 50
    # a call is never more than one record past the threshold it asked for
    assert all(b - a < 1000 + 40 for a, b in zip(positions, positions[1:]))
    assert [n for _, n in calls] == sorted(n for _, n in calls)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_text, _repetitive, st.binary(min_size=21, max_size=511)))
def test_lzf_early_refusal_is_exact(data):
    """Below 512 bytes (above, zlib's precheck may give up on purpose)."""
    n = len(data)
    for budget in (n - 4, n - 1, n, n + 8):
        if n and budget > 0:
            assert lzf.compress(data, budget) == lzf._compress(data, n, budget)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(strings, st.integers(-(1 << 63), (1 << 63) - 1)), max_size=30))
def test_listpack_entries_match_encode_entry(elems):
    assert listpack.encode_entries(elems) == b"".join(map(listpack.encode_entry, elems))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(strings, st.binary(min_size=900, max_size=5000)), max_size=40),
    st.sampled_from([-5, -4, -3, -2, -1, 1, 2, 3, 128]),
)
def test_one_node_lists_match_the_split(elems, fill):
    lst = RList(elems)
    assert rdb._list_nodes(lst, fill) == rdb._list_nodes_split(lst, fill)


# ------------------------------------------------ the CRC on another core
@pytest.fixture(autouse=True)
def _crc_helpers_on(monkeypatch):
    """The helpers run even where the C CRC (anycrc) makes the server skip them."""
    monkeypatch.setattr(crc64, "HELPERS", True)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the helpers fork (no fork here)")
def test_stream_crc_helper_matches_crc64():
    data = os.urandom(3 * (1 << 20) + 12345)
    w = crc64.StreamCrc()
    assert w.ok
    for i in range(0, len(data), 70000):
        w.feed(data[i : i + 70000])
    assert w.result() == crc64.crc64(0, data)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the helpers fork (no fork here)")
def test_stream_crc_helper_failure_falls_back_to_the_bytes():
    data = os.urandom(100000)
    w = crc64.StreamCrc()
    os.kill(w.pid, signal.SIGKILL)
    w.feed(data)
    assert w.result(lambda: [data[:5], data[5:]]) == crc64.crc64(0, data)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the helpers fork (no fork here)")
def test_prefix_crcs_helper():
    data = os.urandom(5 * (1 << 20) + 999)
    for n in (0, 17, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) - 1, len(data)):
        h = crc64.PrefixCrcs(data)
        assert h.pid is not None
        assert h.crc_upto(n) == crc64.crc64(0, data[:n])
        h.close()
    h = crc64.PrefixCrcs(data)
    os.kill(h.pid, signal.SIGKILL)
    assert h.crc_upto(len(data) - 5) == crc64.crc64(0, data[:-5])


def test_parallel_crc_save_and_load_give_the_same_file(tmp_path):
    data = {b"key:%08d" % i: b"v%d" % (i * 7) for i in range(120000)}
    data[b"h"] = RHash({b"a": b"1"})
    db = types.SimpleNamespace(data=data, expires={b"key:00000005": 1 << 50})
    blobs = []
    for par in (False, True):
        path = tmp_path / ("p%d.rdb" % par)
        with open(path, "wb") as fh:
            rdb.write_rdb(fh, [db], rdb.Limits(), parallel_crc=par)
        blobs.append(path.read_bytes())
    assert _body(blobs[0]) == _body(blobs[1])
    assert rdb.load_rdb(blobs[0]).checksum_ok
    res = rdb.load_rdb(blobs[1], parallel_crc=True)
    assert res.checksum_ok and res.keys_loaded == len(data)
    bad = bytearray(blobs[1])
    bad[len(bad) // 2] ^= 1
    with pytest.raises(rdb.RdbError):
        rdb.load_rdb(bytes(bad), parallel_crc=True)
