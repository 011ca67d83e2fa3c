"""HyperLogLog: the format helpers on their own, and behaviour the differential
tests cannot show with one connection (WATCH, propagation, the parse cache)."""

import random
import time

import pytest
import redis

from vermilion.types import hll


# ------------------------------------------------------------ format helpers
def test_dense_pack_roundtrip():
    rnd = random.Random(1)
    for _ in range(5):
        raw = bytes(rnd.randrange(64) for _ in range(hll.REGISTERS))
        packed = hll.raw_to_dense(raw)
        assert len(packed) == hll.DENSE_BYTES
        value = bytearray(hll.DENSE_SIZE)
        value[hll.HDR_SIZE :] = packed
        assert bytes(hll.dense_to_raw(value)) == raw
        for i in rnd.sample(range(hll.REGISTERS), 200) + [0, 1, 2, 3, hll.REGISTERS - 1]:
            assert hll.dense_get(value, i) == raw[i]


def test_dense_set_leaves_neighbours_alone():
    value = bytearray(hll.DENSE_SIZE)
    for i in range(hll.REGISTERS):
        hll.dense_set(value, i, 63)
    assert value[hll.HDR_SIZE :] == b"\xff" * hll.DENSE_BYTES
    for i in range(0, hll.REGISTERS, 3):
        hll.dense_set(value, i, 0)
    raw = hll.dense_to_raw(value)
    assert all(raw[i] == (0 if i % 3 == 0 else 63) for i in range(hll.REGISTERS))


def test_raw_max_is_lanewise_max():
    rnd = random.Random(2)
    a = bytes(rnd.randrange(64) for _ in range(hll.REGISTERS))
    b = bytes(rnd.randrange(64) for _ in range(hll.REGISTERS))
    m = hll.raw_max(int.from_bytes(a, "little"), int.from_bytes(b, "little"))
    assert m.to_bytes(hll.REGISTERS, "little") == bytes(map(max, a, b))


def test_sparse_parse_roundtrip_and_coverage():
    rnd = random.Random(3)
    value = bytearray(hll.EMPTY_HLL)
    hll.add_elements(value, [b"%d" % rnd.randrange(10**9) for _ in range(300)], 3000)
    assert value[4] == hll.SPARSE
    sp = hll.Sparse(value)
    assert sp.to_bytes() == value
    assert sp.starts[-1] == hll.REGISTERS
    hist, valid = sp.histogram()
    assert valid and sum(hist) == hll.REGISTERS
    raw = sp.to_raw()
    assert hll.raw_histogram(raw) == hist


def test_sparse_and_dense_agree():
    """The same elements through both encodings give the same registers and count."""
    rnd = random.Random(4)
    elems = [b"x%d" % rnd.randrange(10**12) for _ in range(1500)]
    sparse = bytearray(hll.EMPTY_HLL)
    dense = bytearray(hll.EMPTY_HLL)
    assert hll.to_dense(dense)
    hll.add_elements(sparse, elems, 10**6)
    hll.add_elements(dense, elems, 10**6)
    assert sparse[4] == hll.SPARSE and dense[4] == hll.DENSE
    assert hll.Sparse(sparse).to_raw() == hll.dense_to_raw(dense)
    assert hll.hll_count(sparse) == hll.hll_count(dense)


def test_pat_len_bounds():
    rnd = random.Random(5)
    for _ in range(2000):
        e = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 40)))
        index, count = hll.pat_len(e)
        assert 0 <= index < hll.REGISTERS and 1 <= count <= hll.HLL_Q + 1


def test_estimator_edges():
    hist = [0] * 64
    hist[0] = hll.REGISTERS
    assert hll.estimate(hist) == 0
    hist = [0] * 64
    hist[63] = hll.REGISTERS  # z == 0: llroundl(inf)
    assert hll.signed64(hll.estimate(hist)) == -(2**63)


# --------------------------------------------------------------- on a server
def test_pfcount_refresh_breaks_watch(server, r):
    """Refreshing the cached cardinality changes the value: WATCH sees it."""
    r.pfadd("h", "a", "b", "c")
    other = redis.Redis(host=server.host, port=server.port)
    with r.pipeline() as p:
        p.watch("h")
        assert other.pfcount("h") == 3  # rewrites the header
        p.multi()
        p.get("h")
        with pytest.raises(redis.WatchError):
            p.execute()
    with r.pipeline() as p:
        p.watch("h")
        assert other.pfcount("h") == 3  # cached now: nothing changes
        p.multi()
        p.get("h")
        assert p.execute()[0][:4] == b"HYLL"
    other.close()


def test_string_commands_on_hll(r):
    """An HLL is a string: edits through string commands are seen (the parse cache
    must never answer for bytes that changed)."""
    r.pfadd("h", *["e%d" % i for i in range(50)])
    before = r.pfcount("h")
    value = r.get("h")
    # Rewrite the body with an equivalent HLL holding one more element.
    r.pfadd("h2", *["e%d" % i for i in range(50)], "extra")
    r.set("h", r.get("h2"))
    r.setrange("h", 15, b"\x80")
    assert r.pfcount("h") >= before
    r.set("h", value)
    r.setrange("h", 15, b"\x80")
    assert r.pfcount("h") == before
    r.append("h", b"\x00")  # one more ZERO opcode: corrupted
    assert r.pfcount("h") == before  # the cached value still answers
    r.setrange("h", 15, b"\x80")
    with pytest.raises(redis.ResponseError, match="INVALIDOBJ"):
        r.pfcount("h")
    assert r.object("encoding", "h") == b"raw"


def test_pfadd_makes_raw_string(r):
    r.set("h", r.execute_command("PFADD", "tmp") and r.get("tmp"))
    assert r.object("encoding", "h") == b"embstr"
    r.pfadd("h", "a")
    assert r.object("encoding", "h") == b"raw"


def test_dump_restore(r):
    r.pfadd("h", *range(5000))
    dump = r.dump("h")
    r.restore("h2", 0, dump)
    assert r.get("h2") == r.get("h")
    assert r.pfcount("h2") == r.pfcount("h")


def test_pfadd_many_elements_is_fast(r):
    elems = ["element:%d" % i for i in range(200000)]
    t = time.perf_counter()
    for i in range(0, len(elems), 10000):
        r.pfadd("h", *elems[i : i + 10000])
    elapsed = time.perf_counter() - t
    assert abs(r.pfcount("h") - 200000) < 200000 * 0.02
    assert elapsed < 20, elapsed


def test_single_pfadds_on_large_sparse_are_fast(r):
    r.config_set("hll-sparse-max-bytes", 10000)
    r.pfadd("h", *range(2500))
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"sparse"
    t = time.perf_counter()
    for i in range(2500, 3500):
        r.pfadd("h", i)
    elapsed = time.perf_counter() - t
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"sparse"
    assert elapsed < 10, elapsed
