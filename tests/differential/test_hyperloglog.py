"""HyperLogLog commands against redis-server 7.0, byte for byte (hyperloglog.c).

The HLL is a string in Redis's own format, so besides the replies every test
compares the stored bytes (GET) after each step: sparse opcodes, promotion to
dense, the cached cardinality in the header. Values are also carried between
the servers (GET on one, SET on the other) to check that each one reads what
the other wrote.
"""

import glob
import os
import random
import shutil
import tempfile
import time

import pytest

from keyspace_helpers import config_set, events  # noqa: F401 (fixture)


def _elements(rnd, n, prefix="e"):
    return ["%s%d" % (prefix, rnd.randrange(10**12)) for _ in range(n)]


def _transfer(diff, src, dst):
    """GET ``src`` from redis-server and SET it as ``dst`` on both servers."""
    raw = diff.ref.call("GET", src)
    assert raw.startswith(b"$")
    value = raw.split(b"\r\n", 1)[1][:-2]
    diff("SET", dst, value)
    return value


@pytest.fixture
def hllconf(diff, shared_vermilion):
    yield lambda v: config_set(diff, shared_vermilion, "hll-sparse-max-bytes", str(v))
    config_set(diff, shared_vermilion, "hll-sparse-max-bytes", "3000")


# -------------------------------------------------------------------- PFADD
def test_pfadd_creates_and_counts(diff):
    diff.run("""
        PFADD hll
        GET hll
        PFCOUNT hll
        GET hll
        PFADD hll
        PFADD hll a b c
        GET hll
        PFADD hll a b c
        PFADD hll a d
        PFCOUNT hll
        GET hll
        PFCOUNT hll
        STRLEN hll
        OBJECT ENCODING hll
        PFDEBUG ENCODING hll
        TYPE hll
        PFADD e ""
        PFCOUNT e
        GET e
        PFCOUNT missing
        EXISTS missing
    """)


def test_pfadd_return_values(diff):
    rnd = random.Random(7)
    for _ in range(50):
        elems = _elements(rnd, rnd.randrange(1, 6))
        diff("PFADD", "h", *elems)
        diff("PFADD", "h", *elems)
    diff("GET", "h")


@pytest.mark.parametrize("n", [1, 2, 10, 100, 500, 1000, 2000, 5000, 20000, 100000])
def test_pfcount_cardinalities(diff, n):
    rnd = random.Random(n)
    elems = _elements(rnd, n)
    step = 1000 if n >= 20000 else 37
    for i in range(0, n, step):
        diff("PFADD", "h", *elems[i : i + step])
    diff("PFCOUNT", "h")
    diff("GET", "h")
    diff("PFDEBUG", "ENCODING", "h")


def test_element_lengths(diff):
    """MurmurHash64A over every tail length and several blocks, binary bytes included."""
    rnd = random.Random(3)
    for length in range(0, 70):
        elems = [bytes(rnd.randrange(256) for _ in range(length)) for _ in range(3)]
        diff("PFADD", "h", *elems)
        diff("PFADD", "d%d" % length, *elems)
    diff("PFADD", "big", "x" * 100000, "y" * 65537)
    diff("GET", "h")
    diff("PFCOUNT", "h")
    diff("PFDEBUG", "GETREG", "big")


def test_sparse_stress(diff):
    """Small random sets through the sparse encoding, bytes compared every time."""
    rnd = random.Random(11)
    for j in range(60):
        diff("DEL", "h")
        n = rnd.randrange(1, 200)
        elems = ["%d" % rnd.randrange(2**31) for _ in range(n)]
        for i in range(0, n, 7):
            diff("PFADD", "h", *elems[i : i + 7])
        diff("GET", "h")
        diff("PFCOUNT", "h")
        diff("PFDEBUG", "DECODE", "h")


def test_single_adds_until_dense(diff):
    """One element per PFADD, the common pattern, across the promotion."""
    rnd = random.Random(5)
    for i, e in enumerate(_elements(rnd, 2500)):
        diff("PFADD", "h", e)
        if i % 97 == 0:
            diff("PFCOUNT", "h")
            diff("GET", "h")
    diff("PFDEBUG", "ENCODING", "h")
    diff("GET", "h")


def test_promotion_thresholds(diff, hllconf):
    for limit in (30, 100, 500, 1200, 3000):
        hllconf(limit)
        rnd = random.Random(limit)
        diff("DEL", "h")
        for e in _elements(rnd, 600):
            diff("PFADD", "h", e)
            enc = diff("PFDEBUG", "ENCODING", "h")
            if enc == b"+dense\r\n":
                break
        diff("GET", "h")
        diff("PFCOUNT", "h")
    hllconf(0)
    diff("DEL", "h")
    diff("PFADD", "h", "a")
    diff("PFDEBUG", "ENCODING", "h")
    diff("GET", "h")


def test_change_sparse_max_bytes(diff, hllconf):
    """The limit applies to the next update of an existing sparse HLL."""
    rnd = random.Random(2)
    diff("PFADD", "h", *_elements(rnd, 100))
    diff("STRLEN", "h")
    hllconf(60)
    diff("PFADD", "h", "new-element")
    diff("PFDEBUG", "ENCODING", "h")
    diff("GET", "h")


# ------------------------------------------------------------------ PFCOUNT
def test_pfcount_cache(diff):
    rnd = random.Random(4)
    diff("PFADD", "h", *_elements(rnd, 300))
    diff("GET", "h")  # cache invalid (top bit set)
    diff("PFCOUNT", "h")
    diff("GET", "h")  # cached
    diff("PFADD", "h", "already-there")
    diff("PFADD", "h", "already-there")
    diff("GET", "h")
    diff("PFCOUNT", "h")
    # A forged cached value is returned as is.
    diff("SETRANGE", "h", 8, "\x01\x02\x03\x04\x05\x06\x07\x00")
    diff("PFCOUNT", "h")
    diff("SETRANGE", "h", 15, "\x80")
    diff("PFCOUNT", "h")
    diff("GET", "h")


def test_pfcount_multiple_keys(diff):
    rnd = random.Random(9)
    a = _elements(rnd, 3000, "a")
    b = _elements(rnd, 700, "b")
    c = a[:500] + _elements(rnd, 20, "c")
    diff("PFADD", "a", *a)
    diff("PFADD", "b", *b)
    diff("PFADD", "c", *c)
    diff.run("""
        PFCOUNT a b
        PFCOUNT b c
        PFCOUNT a b c
        PFCOUNT a b c missing
        PFCOUNT missing1 missing2
        PFCOUNT c c
        GET a
        GET b
    """)


# ------------------------------------------------------------------ PFMERGE
def test_pfmerge(diff):
    rnd = random.Random(13)
    diff("PFADD", "s1", *_elements(rnd, 50))
    diff("PFADD", "s2", *_elements(rnd, 80))
    diff("PFADD", "s3", *_elements(rnd, 5000))
    diff.run("""
        PFMERGE d s1 s2
        GET d
        PFCOUNT d
        PFMERGE d s1
        GET d
        PFMERGE d2 s1 s3
        PFDEBUG ENCODING d2
        GET d2
        PFCOUNT d2
        PFMERGE s1 s2
        GET s1
        PFMERGE empty
        GET empty
        PFMERGE fromnothing missing1 missing2
        GET fromnothing
        PFMERGE s3 s1
        GET s3
        PFMERGE s2
        GET s2
    """)


def test_pfmerge_sparse_destination_promotes(diff, hllconf):
    rnd = random.Random(17)
    hllconf(200)
    diff("PFADD", "a", *_elements(rnd, 40))
    diff("PFADD", "b", *_elements(rnd, 40))
    diff("PFMERGE", "a", "b")
    diff("PFDEBUG", "ENCODING", "a")
    diff("GET", "a")
    hllconf(3000)
    for n in (5, 30, 150, 400):
        diff("PFADD", "x%d" % n, *_elements(rnd, n))
        diff("PFADD", "y%d" % n, *_elements(rnd, n))
        diff("PFMERGE", "m%d" % n, "x%d" % n, "y%d" % n)
        diff("GET", "m%d" % n)
        diff("PFMERGE", "x%d" % n, "y%d" % n)
        diff("GET", "x%d" % n)


# ------------------------------------------------------------------ PFDEBUG
def test_pfdebug(diff):
    rnd = random.Random(21)
    diff("PFADD", "h", *_elements(rnd, 40))
    diff.run("""
        PFDEBUG DECODE h
        PFDEBUG ENCODING h
        PFDEBUG GETREG h
        PFDEBUG ENCODING h
        GET h
        PFDEBUG DECODE h
        PFDEBUG TODENSE h
        PFADD s a
        PFDEBUG todense s
        PFDEBUG Encoding s
        GET s
        PFDEBUG FOO h
        PFDEBUG FOO missing
        PFDEBUG GETREG missing
        SET str hello
        PFDEBUG GETREG str
        LPUSH l a
        PFDEBUG GETREG l
        PFDEBUG
        PFDEBUG GETREG
        PFDEBUG GETREG h extra
    """)
    diff("PFDEBUG", "GETREG\0x", "h")
    diff("PFDEBUG", "bad\0x", "h")


def test_pfselftest(diff):
    diff("PFSELFTEST")
    diff("PFSELFTEST", "extra")


# ------------------------------------------------------------ type checking
def test_type_errors(diff):
    diff.run("""
        LPUSH l a
        SET s hello
        SET n 12345
        SET long "this string is much longer than the header of an HLL"
        PFADD l a
        PFCOUNT l
        PFMERGE l
        PFMERGE d l
        PFADD s a
        PFCOUNT s
        PFCOUNT s l
        PFCOUNT l s
        PFMERGE s
        PFMERGE d s
        PFADD n a
        PFADD long a
        PFCOUNT long
        EXISTS d
        PFADD
        PFCOUNT
        PFMERGE
    """)


def test_corrupted_values(diff):
    diff("PFADD", "h", "a", "b", "c")
    _transfer(diff, "h", "base")
    cases = [
        ("tail", "APPEND", "hello"),  # extra sparse opcodes at the tail
        ("magic", "SETRANGE", 0, "0123"),
        ("enc", "SETRANGE", 4, "x"),
        ("dense-len", "SETRANGE", 4, "\x00"),
        ("short", "SETRANGE", 30, "x"),
    ]
    for name, *op in cases:
        diff("COPY", "base", name)
        if op[0] == "APPEND":
            diff("APPEND", name, op[1])
        else:
            diff("SETRANGE", name, *op[1:])
        diff("SETRANGE", name, 15, "\x80")
        diff("PFCOUNT", name)
        diff("PFADD", name, "z")
        diff("PFCOUNT", name, "h")
        diff("PFMERGE", "dst", name)
        diff("PFDEBUG", "GETREG", name)
        diff("GET", name)
    diff("SET", "hdr", "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    diff("PFADD", "hdr", "a")
    diff("SET", "hdr", "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80")
    diff("PFCOUNT", "hdr")
    diff("PFADD", "hdr", "a")
    diff("PFDEBUG", "DECODE", "hdr")
    diff("GET", "hdr")


def _sparse_header():
    return b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"


def test_crafted_sparse_values(diff):
    """Hand-made opcode sequences: short, long, truncated, overflowing coverage."""
    z = bytes
    bodies = [
        z([0x7F, 0xFF]),  # canonical empty
        z([0x7F, 0xFE]),  # one register short
        z([0x7F, 0xFF, 0x80]),  # a VAL past the end
        z([0x7F, 0xFF, 0x00]),  # a ZERO past the end
        z([0x7F, 0xFE, 0x80]),  # exact with a VAL at the end
        z([0x7F, 0xFE, 0x83]),  # VAL overflowing the end
        z([0x7F]),  # XZERO cut by the end
        z([0x80, 0x7F]),  # VAL then cut XZERO
        z([0x3F] * 256),  # 256 ZERO(64)
        z([0x80, 0x81, 0x82, 0x83] * 10 + [0x7F, 0xD8]),
        z([0xFC, 0xFF, 0x7F, 0xFA]),  # VAL 32 then XZERO
        b"",
        z([0x7F, 0xFF, 0x7F, 0xFF]),  # twice the registers
        z([0x7F, 0xFF] * 3 + [0x80, 0x90]),
        z([0x80] * 20000),  # VALs past the end
        z([0x7F, 0xFF, 0x80, 0x00]),
        z([0x00, 0x7F, 0xFE]),
        z([0x7F, 0xFE, 0x00]),
    ]
    for i, body in enumerate(bodies):
        k = "c%d" % i
        diff("SET", k, _sparse_header() + body)
        diff("PFCOUNT", k)
        diff("PFDEBUG", "DECODE", k)
        diff("SET", "m" + k, _sparse_header() + body)
        diff("PFMERGE", "dst%d" % i, "m" + k)
        diff("PFCOUNT", "m" + k, "c0")
        for e in ("a", "b", "c", "d", "e", "f", "g", "h"):
            diff("PFADD", k, e)
            diff("GET", k)
        diff("PFDEBUG", "DECODE", k)
        diff("SET", "t" + k, _sparse_header() + body)
        diff("PFDEBUG", "TODENSE", "t" + k)
        diff("GET", "t" + k)


def test_crafted_dense_values(diff):
    """Dense registers Redis never writes (52..63) and arbitrary register bytes."""
    hdr = b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"
    rnd = random.Random(41)
    regs = [
        b"\xff" * 12288,
        b"\x00" * 12288,
        b"\x41" * 12288,
        bytes(rnd.randrange(256) for _ in range(12288)),
    ]
    for i, body in enumerate(regs):
        k = "d%d" % i
        diff("SET", k, hdr + body)
        diff("PFCOUNT", k)
        diff("PFCOUNT", k, "missing")
        diff("PFADD", k, *_elements(rnd, 100))
        diff("GET", k)
        diff("PFMERGE", "m%d" % i, k)
        diff("GET", "m%d" % i)
        diff("PFDEBUG", "GETREG", k)
    diff("SET", "sp", _sparse_header() + b"\x7f\xff")
    diff("PFADD", "sp", "a", "b")
    diff("PFMERGE", "sp", "d3")
    diff("GET", "sp")


def test_fuzz_corruption(diff):
    """Random bytes written into sparse and dense HLLs: same answers, same errors."""
    rnd = random.Random(23)
    for j in range(300):
        diff("DEL", "h")
        n = rnd.choice([1, 10, 100, 1000, 3000])
        diff("PFADD", "h", *_elements(rnd, n))
        if rnd.random() < 0.3:
            diff("PFDEBUG", "TODENSE", "h")
        length = int(diff("STRLEN", "h")[1:-2])
        for _ in range(rnd.randrange(1, 4)):
            off = rnd.randrange(16, length + 2)
            data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 4)))
            diff("SETRANGE", "h", off, data)
        diff("PFCOUNT", "h")
        diff("PFADD", "h", *_elements(rnd, rnd.randrange(1, 20)))
        diff("GET", "h")
        diff("PFMERGE", "h2", "h")
        diff("PFCOUNT", "h", "h2")


def test_cut_xzero_at_the_end(diff):
    """An XZERO cut by the end of the string reads the byte past the end: the
    terminator, or the byte a previous split of that opcode pushed out."""
    rnd = random.Random(29)
    bodies = [
        b"\x40\xee\x84\x93\x44\x5e\x80\x53",
        b"\x53",
        b"\x7f",
        b"\x80\x40",
        b"\x7f\xff\x40",
        b"\x3f\x41",
    ]
    for i, body in enumerate(bodies):
        k = "cut%d" % i
        diff("SET", k, _sparse_header() + body)
        for e in ["x601344992"] + _elements(rnd, 40, "x"):
            diff("PFADD", k, e)
            diff("GET", k)
        diff("SETRANGE", k, 15, "\x80")
        diff("PFCOUNT", k)
        diff("PFDEBUG", "DECODE", k)


def test_fuzz_truncated_and_appended(diff):
    """Sparse values cut short or with bytes appended, then updated one by one."""
    rnd = random.Random(37)
    for _ in range(250):
        diff("DEL", "h")
        diff("PFADD", "h", *_elements(rnd, rnd.choice([1, 5, 20, 60, 200, 600])))
        mode = rnd.random()
        if mode < 0.4:
            diff("APPEND", "h", bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 3))))
        else:
            value = _transfer(diff, "h", "tmp")
            diff("SET", "h", value[: rnd.randrange(16, len(value) + 1)])
        diff("SETRANGE", "h", 15, "\x80")
        diff("COPY", "h", "h2", "REPLACE")
        diff("PFCOUNT", "h")
        for e in _elements(rnd, rnd.randrange(1, 25), "x"):
            diff("PFADD", "h", e)
        diff("GET", "h")
        diff("PFMERGE", "h3", "h2")
        diff("PFDEBUG", "TODENSE", "h2")
        diff("GET", "h2")


# ------------------------------------------------------- values carried over
def test_values_carried_between_servers(diff):
    """An HLL written by redis-server counts the same here, and ours there."""
    rnd = random.Random(31)
    for n in (0, 3, 200, 1500, 30000):
        diff("DEL", "h")
        diff("PFADD", "h", *_elements(rnd, n))
        ref_val = _transfer(diff, "h", "copy")
        diff("PFCOUNT", "copy")
        diff("PFADD", "copy", *_elements(rnd, 50))
        diff("GET", "copy")
        # Ours, set into the reference server.
        raw = diff.our.call("GET", "copy")
        ours = raw.split(b"\r\n", 1)[1][:-2]
        assert diff.ref.call("SET", "back", ours) == b"+OK\r\n"
        assert diff.our.call("SET", "back", ours) == b"+OK\r\n"
        diff("PFCOUNT", "back")
        diff("PFCOUNT", "back", "h")
        assert ref_val
    diff("DUMP", "back")


# ------------------------------------------------------------- side effects
def test_keyspace_events(diff, events):
    diff.run("""
        PFADD h a b
        PFADD h a
        PFCOUNT h
        PFMERGE d h
        PFMERGE d2 missing
        PFDEBUG TODENSE h
    """)
    assert events.collect()


def test_expired_keys(diff):
    diff("PFADD", "h", "a")
    diff("PEXPIRE", "h", 1)
    import time

    time.sleep(0.01)
    diff("PFCOUNT", "h")
    diff("PFADD", "h2", "a")
    diff("PEXPIRE", "h2", 1)
    time.sleep(0.01)
    diff("PFMERGE", "h2", "h")
    diff("TTL", "h2")
    diff("PFADD", "h3", "a")
    diff("EXPIRE", "h3", 100)
    diff("PFADD", "h3", "b")
    diff("PFCOUNT", "h3")
    diff("TTL", "h3")


def test_resp3(diff3):
    diff3.run("""
        PFADD h a b c
        PFCOUNT h
        PFDEBUG ENCODING h
        PFDEBUG DECODE h
        PFDEBUG GETREG h
        PFMERGE d h
        PFCOUNT d h
    """)


def test_inside_multi(diff):
    diff.run("""
        MULTI
        PFADD h a b c
        PFCOUNT h
        PFMERGE d h missing
        PFCOUNT d
        EXEC
        GET d
    """)


# ------------------------------------------------------------- propagation
def aof_of_both(commands):
    """Run ``commands`` on a fresh redis-server and a fresh Vermilion, both with
    an always-fsynced AOF; return the two incremental AOF files' bytes."""
    from support import REDIS_SERVER, RawConn, RealRedis
    from vermilion.embed import start_server

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    ref = RealRedis("--appendonly", "yes", "--appendfsync", "always")
    ours_dir = tempfile.mkdtemp(prefix="vermilion-aof-")
    ours = start_server(dir=ours_dir, appendonly="yes", appendfsync="always")
    try:
        for port in (ref.port, ours.port):
            conn = RawConn("127.0.0.1", port)
            for cmd in commands:
                conn.call(*cmd)
            conn.close()
        time.sleep(0.2)
        out = []
        for d in (ref.dir, ours_dir):
            files = glob.glob(os.path.join(d, "appendonlydir", "*.incr.aof"))
            assert len(files) == 1, files
            with open(files[0], "rb") as fh:
                out.append(fh.read())
        return out
    finally:
        ours.stop()
        ref.stop()
        shutil.rmtree(ours_dir, ignore_errors=True)


def test_propagation(real_redis):
    """What reaches the AOF: PFCOUNT when it refreshed the cache, PFDEBUG when it
    converted, nothing for no-op PFADDs."""
    theirs, ours = aof_of_both(
        [
            ("PFADD", "h", "a", "b"),
            ("PFADD", "h", "a"),
            ("PFCOUNT", "h"),
            ("PFCOUNT", "h"),
            ("PFCOUNT", "h", "missing"),
            ("PFMERGE", "d", "h"),
            ("PFDEBUG", "ENCODING", "h"),
            ("PFDEBUG", "TODENSE", "h"),
            ("PFDEBUG", "TODENSE", "h"),
            ("PFDEBUG", "GETREG", "d"),
            ("PFADD", "h", "c"),
            ("PFCOUNT", "h"),
        ]
    )
    assert ours == theirs
