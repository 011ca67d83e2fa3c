"""HyperLogLog: counting distinct elements in 12 KB, in Redis's own bytes.

The idea
--------
Counting the distinct elements of a stream exactly needs memory for every one
of them. A HyperLogLog gives that up for a fixed size and a small, known error.
Hash each element to 64 bits that look random. A hash whose low bits are ``k``
zeros in a row turns up once in about ``2**k`` distinct elements, so the
longest run of zeros seen so far says roughly how many distinct elements went
by. Seeing an element again changes nothing (same hash, same run), which is
what makes it count *distinct* elements.

One such guess is very noisy, so there are ``m = 16384`` of them, the
*registers*. Redis takes the 64-bit ``MurmurHash64A`` of the element (seed
``0xadc83b19``); the low 14 bits choose the register, ``h & 16383``, and the
other 50 give the *count*, ``1 + trailing zeros of h >> 14``, at most 51 (bit
50 is set before counting, so an all-zero rest counts 51). A register keeps the
largest count it has seen (:func:`pat_len`, Redis's ``hllPatLen``). Averaging
16384 registers brings the standard error down to ``1.04 / sqrt(m)``, 0.81 %.

Two HLLs of the same kind merge by taking the larger of each pair of
registers: the result is exactly the HLL of the union of both streams. That is
PFMERGE, and PFCOUNT of several keys.

The value is a string
---------------------
A HyperLogLog is an ordinary string value in Redis's own format, so that GET,
SET, DUMP/RESTORE, replication and the RDB file carry it as bytes and a value
made by redis-server counts the same here (and back):

* a 16-byte header: ``"HYLL"``, the encoding byte (0 dense, 1 sparse), three
  unused bytes, and the cached cardinality as 8 little-endian bytes whose top
  bit set means "stale, recompute" (whoever changes a register sets that bit;
  PFCOUNT recomputes and stores the count);
* **dense**: 16384 registers of 6 bits, packed little-endian (four registers in
  every three bytes), 12288 bytes;
* **sparse**: run-length opcodes: ``00xxxxxx`` ZERO (1..64 zero registers),
  ``01xxxxxx yyyyyyyy`` XZERO (1..16384 zero registers), ``1vvvvvxx`` VAL (1..4
  registers of value 1..32). A value that does not fit, or an update that would
  grow the string beyond ``hll-sparse-max-bytes``, promotes it to dense.

Most HLLs count few elements, and then most registers are zero: the sparse
form holds them in a few bytes instead of 12 KB. A new HLL (:data:`EMPTY_HLL`)
is one XZERO covering all 16384 registers. Promotion is one way, like Redis.

Estimating
----------
The cardinality is Otmar Ertl's improved estimator (the one Redis uses) over
the *histogram* of register values, how many registers hold 0, 1, ... 51: the
classic HyperLogLog's harmonic mean, with the corrections :func:`_sigma` (many
registers still zero: few elements) and :func:`_tau` (registers at the top
value) built in, so no special cases for small or huge counts. It is computed
with the same double operations (and libm calls) as Redis, then rounded with
``llroundl`` and stored as a uint64 the way x86-64 converts it, so every answer
is the same number, even on absurd registers (:func:`estimate`; PFCOUNT
prints it as a signed long long, :func:`signed64`).

How the work is done in Python
------------------------------
* the stored value stays the single truth (a ``bytearray``, Redis's "raw"
  string, updated in place); nothing about an HLL is kept elsewhere except a
  parse cache that is checked against the bytes (below);
* dense registers are read and written in place with the four fixed bit
  layouts of a 3-byte group (:func:`dense_get`, :func:`dense_set`, and the
  inlined loop of :func:`dense_add`, PFADD's hot path); whole-register-file
  work (counting, merging) goes through a *raw* form, one byte per register,
  built and packed back with ``bytes.translate`` and big-integer additions (C
  speed, :func:`dense_to_raw`, :func:`raw_to_dense`), and merged with a SWAR
  max over big integers: a register file as one 16384-byte integer, all lanes
  compared at once (:func:`raw_max`);
* a sparse value is tokenised into its opcodes with one regular expression
  (:func:`_sparse_parse`); an update edits that list of opcodes with the very
  steps of Redis's ``hllSparseSet`` (split into at most three opcodes, local
  merge of equal VALs, promotion), and the bytes are joined back once per
  command (:class:`Sparse`);
* parsing a sparse value is a pass over all of it, so the parsed form of
  recently edited values is kept in a cache the caller owns (the server keeps
  one) and used only while the bytes are still the same
  (:func:`sparse_of`, :func:`keep_sparse`, :func:`sparse_store`).

Corrupted values
----------------
SETRANGE and APPEND can turn an HLL into any bytes. :func:`is_hll` is Redis's
check of the header (magic, encoding, size of a dense value); everything past
it is judged the way the reference server judges it, with the same errors and
answers. A sparse value covering more or fewer than 16384 registers is refused
where Redis refuses it, and a VAL past the last register is corrupted. That
last rule is the CVE-2025-32023 fix: in C the running register index is an
``int``, enough XZERO opcodes overflow it, and a VAL then passes the bounds
check and writes outside the register array. Python's integers do not
overflow, so no check here guards memory; they decide answers, and the
reference is Debian's 7.0.15 with that fix, stricter than the 7.0.15 source
there (:meth:`Sparse.to_raw`). An XZERO cut by the end of the string reads the
byte past the end (:class:`Sparse`'s ``shadow``).

This module reports corruption with ``None`` or ``False`` results, and
:func:`add_elements` raises :class:`Corrupted` after keeping the updates
already done, as Redis does; the commands turn both into ``INVALIDOBJ``.
Nothing here knows about clients, keys or the server: bytes in, bytes and
numbers out.
"""

import math
import re
from bisect import bisect_right
from collections import Counter
from itertools import accumulate
from struct import unpack_from

HLL_P = 14
HLL_Q = 64 - HLL_P  # 50
REGISTERS = 1 << HLL_P  # 16384
HDR_SIZE = 16
DENSE_BYTES = REGISTERS * 6 // 8  # 12288
DENSE_SIZE = HDR_SIZE + DENSE_BYTES
DENSE = 0
SPARSE = 1
SPARSE_VAL_MAX_VALUE = 32
SPARSE_VAL_MAX_LEN = 4
SPARSE_ZERO_MAX_LEN = 64
SPARSE_XZERO_MAX_LEN = 16384
ALPHA_INF = 0.721347520444481703680  # 0.5 / ln(2)
_TWO63 = 2.0**63

MASK64 = 0xFFFFFFFFFFFFFFFF
_MURMUR_M = 0xC6A4A7935BD1E995
_HLL_SEED = 0xADC83B19
_Q_BIT = 1 << HLL_Q

# A new HLL: sparse, one XZERO opcode covering all 16384 registers, cardinality 0.
EMPTY_HLL = b"HYLL\x01\x00\x00\x00" + b"\x00" * 8 + b"\x7f\xff"


class Corrupted(Exception):
    """A sparse value that does not describe 16384 registers (the command replies
    INVALIDOBJ)."""


# ------------------------------------------------------------------ hashing
def murmurhash64a(data, seed=_HLL_SEED):
    """MurmurHash2 64-bit (``MurmurHash64A``) as Redis computes it, little-endian."""
    n = len(data)
    m = _MURMUR_M
    h = (seed ^ (n * m)) & MASK64
    nblocks = n >> 3
    for start in range(0, nblocks, 4096):  # in slices: no huge tuple for big inputs
        count = min(4096, nblocks - start)
        for k in unpack_from("<%dQ" % count, data, start * 8):
            k = (k * m) & MASK64
            k ^= k >> 47
            h = ((h ^ ((k * m) & MASK64)) * m) & MASK64
    rest = n & 7
    if rest:
        h = ((h ^ int.from_bytes(data[n - rest :], "little")) * m) & MASK64
    h ^= h >> 47
    h = (h * m) & MASK64
    return h ^ (h >> 47)


def pat_len(ele):
    """(register index, count) of an element: Redis's hllPatLen."""
    h = murmurhash64a(ele)
    rest = (h >> HLL_P) | _Q_BIT
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


# --------------------------------------------------------- dense registers
def dense_get(d, i):
    """Register ``i`` of a dense value ``d`` (header included)."""
    base = HDR_SIZE + (i >> 2) * 3
    r = i & 3
    if r == 0:
        return d[base] & 63
    if r == 1:
        return (d[base] >> 6) | ((d[base + 1] & 15) << 2)
    if r == 2:
        return (d[base + 1] >> 4) | ((d[base + 2] & 3) << 4)
    return d[base + 2] >> 2


def dense_set(d, i, v):
    """Set register ``i`` of the dense bytearray ``d`` to ``v`` (0..63)."""
    base = HDR_SIZE + (i >> 2) * 3
    r = i & 3
    if r == 0:
        d[base] = (d[base] & 0xC0) | v
    elif r == 1:
        d[base] = (d[base] & 0x3F) | ((v & 3) << 6)
        d[base + 1] = (d[base + 1] & 0xF0) | (v >> 2)
    elif r == 2:
        d[base + 1] = (d[base + 1] & 0x0F) | ((v & 15) << 4)
        d[base + 2] = (d[base + 2] & 0xFC) | (v >> 4)
    else:
        d[base + 2] = (d[base + 2] & 0x03) | (v << 2)


def _table(fn):
    return bytes(fn(b) & 0xFF for b in range(256))


_AND63 = _table(lambda b: b & 63)
_SHR6 = _table(lambda b: b >> 6)
_SHR4 = _table(lambda b: b >> 4)
_SHR2 = _table(lambda b: b >> 2)
_AND15_SHL2 = _table(lambda b: (b & 15) << 2)
_AND3_SHL4 = _table(lambda b: (b & 3) << 4)
_AND3_SHL6 = _table(lambda b: (b & 3) << 6)
_AND15_SHL4 = _table(lambda b: (b & 15) << 4)
_SHL2 = _table(lambda b: b << 2)
_QUARTER = REGISTERS // 4


def _or_lanes(x, y):
    """Bytewise OR of two 4096-byte strings whose set bits never overlap."""
    return (int.from_bytes(x, "little") + int.from_bytes(y, "little")).to_bytes(_QUARTER, "little")


def dense_to_raw(d):
    """The 16384 registers of a dense value, one byte each."""
    regs = bytes(d[HDR_SIZE:DENSE_SIZE])
    b0 = regs[0::3]
    b1 = regs[1::3]
    b2 = regs[2::3]
    raw = bytearray(REGISTERS)
    raw[0::4] = b0.translate(_AND63)
    raw[1::4] = _or_lanes(b0.translate(_SHR6), b1.translate(_AND15_SHL2))
    raw[2::4] = _or_lanes(b1.translate(_SHR4), b2.translate(_AND3_SHL4))
    raw[3::4] = b2.translate(_SHR2)
    return raw


def raw_to_dense(raw):
    """Pack one-byte registers (each 0..63) into the 12288 dense register bytes."""
    raw = bytes(raw)
    r0 = raw[0::4]
    r1 = raw[1::4]
    r2 = raw[2::4]
    r3 = raw[3::4]
    out = bytearray(DENSE_BYTES)
    out[0::3] = _or_lanes(r0, r1.translate(_AND3_SHL6))
    out[1::3] = _or_lanes(r1.translate(_SHR2), r2.translate(_AND15_SHL4))
    out[2::3] = _or_lanes(r2.translate(_SHR4), r3.translate(_SHL2))
    return out


_HIGH = int.from_bytes(b"\x80" * REGISTERS, "little")


def raw_max(a, b):
    """Lane-wise max of two register files held as little-endian ints (lanes < 128)."""
    ge = ((((a | _HIGH) - b) & _HIGH) >> 7) * 255  # 0xff where a >= b
    return (a & ge) | (b & ~ge)


# ------------------------------------------------------------------ sparse
_SINGLE = [bytes((b,)) for b in range(256)]
# Opcode bytes -> registers covered. A lone XZERO byte (cut at the end of a
# corrupted value) reads the string's terminating zero as its second byte.


class _Spans(dict):
    """The table, filled as opcodes are met: the 16,384 two-byte XZERO spellings
    would cost 1.6 MB in every server, used or not (``map(_span_of, ops)`` stays a
    C-level lookup for every opcode seen before)."""

    def __missing__(self, op):
        b = op[0]
        if len(op) == 2:
            n = (((b & 0x3F) << 8) | op[1]) + 1
        elif b & 0x80:
            n = (b & 3) + 1
        elif b & 0x40:
            n = ((b & 0x3F) << 8) + 1
        else:
            n = b + 1
        self[op] = n
        return n


_SPAN = _Spans()
_span_of = _SPAN.__getitem__
_TOKEN = re.compile(rb"[\x40-\x7f][\x00-\xff]?|[\x00-\x3f\x80-\xff]")
# VAL opcode for (value, run length)
_VAL = [[None] * 5] + [
    [None] + [_SINGLE[0x80 | ((v - 1) << 2) | (n - 1)] for n in range(1, 5)] for v in range(1, 33)
]


def _zero_op(n):
    """ZERO or XZERO opcode for a run of ``n`` zero registers."""
    if n > SPARSE_ZERO_MAX_LEN:
        n -= 1
        return bytes(((n >> 8) | 0x40, n & 0xFF))
    return _SINGLE[n - 1]


def _sparse_parse(body):
    """Opcodes of a sparse body and the first register of each (plus the total)."""
    ops = _TOKEN.findall(body)
    return ops, list(accumulate(map(_span_of, ops), initial=0))


_PROMOTE = 2


class Sparse:
    """A sparse HLL being edited: header, opcodes, the first register of each
    opcode (plus the total), and the size in bytes of the whole value.

    ``shadow`` is the byte just past the end of the string. Redis reads it as
    the second byte of an XZERO cut by the end of a corrupted value (it is the
    string's terminating zero, or the byte such an XZERO lost when an update
    split it, since Redis writes the new opcodes after fixing the length); it
    changes nothing for well-formed values.
    """

    __slots__ = ("hdr", "ops", "starts", "size", "shadow")

    def __init__(self, value=None):
        if value is not None:
            self.hdr = bytearray(value[:HDR_SIZE])
            self.size = len(value)
            self.shadow = 0
            self._parse(bytes(value[HDR_SIZE:]))

    def _parse(self, body):
        self.ops, self.starts = _sparse_parse(body)
        self._fix_tail()

    def _fix_tail(self):
        """Span of a cut XZERO at the end: its second byte is the shadow byte."""
        ops = self.ops
        if ops:
            b = ops[-1][0]
            if len(ops[-1]) == 1 and b & 0xC0 == 0x40:
                self.starts[-1] = self.starts[-2] + (((b & 0x3F) << 8) | self.shadow) + 1

    def to_bytes(self):
        return self.hdr + b"".join(self.ops)

    def to_raw(self):
        """hllSparseToDense's decoding: one byte per register, or None if corrupted."""
        raw = bytearray(REGISTERS)
        for op, first in zip(self.ops, self.starts):
            b = op[0]
            if b & 0x80:
                n = (b & 3) + 1
                if first + n > REGISTERS:  # a VAL past the last register
                    return None
                raw[first : first + n] = _SINGLE[((b >> 2) & 31) + 1] * n
        return raw if self.starts[-1] == REGISTERS else None

    def to_dense(self):
        """The dense value (header copied, encoding switched), or None if corrupted."""
        raw = self.to_raw()
        if raw is None:
            return None
        hdr = bytearray(self.hdr)
        hdr[4] = DENSE
        return hdr + raw_to_dense(raw)

    def histogram(self):
        """hllSparseRegHisto: (register histogram, valid)."""
        hist = [0] * 64
        for op, n in Counter(self.ops).items():
            b = op[0]
            if b & 0x80:
                hist[((b >> 2) & 31) + 1] += ((b & 3) + 1) * n
            else:
                hist[0] += _SPAN[op] * n
        ops = self.ops
        if ops and len(ops[-1]) == 1 and ops[-1][0] & 0xC0 == 0x40:
            starts = self.starts
            hist[0] += starts[-1] - starts[-2] - _SPAN[ops[-1]]
        return hist, self.starts[-1] == REGISTERS

    def decode(self):
        """PFDEBUG DECODE's text."""
        parts = []
        starts = self.starts
        for i, op in enumerate(self.ops):
            b = op[0]
            if b & 0x80:
                parts.append(b"v:%d,%d" % (((b >> 2) & 31) + 1, (b & 3) + 1))
            elif b & 0x40:
                parts.append(b"Z:%d" % (starts[i + 1] - starts[i]))
            else:
                parts.append(b"z:%d" % (b + 1))
        return b" ".join(parts)

    def set(self, index, count, max_bytes):
        """hllSparseSet: 1 if the register grew, 0 if not, -1 if corrupted,
        _PROMOTE if the value must become dense first."""
        if count > SPARSE_VAL_MAX_VALUE:
            return _PROMOTE
        ops = self.ops
        starts = self.starts
        pos = bisect_right(starts, index) - 1
        if pos >= len(ops):
            return -1  # no opcode covers the register
        op = ops[pos]
        b = op[0]
        first = starts[pos]
        span = starts[pos + 1] - first
        if b & 0x80:
            old = ((b >> 2) & 31) + 1
            if old >= count:
                return 0
            if span == 1:
                ops[pos] = _VAL[count][1]
                self._merge(pos)
                return 1
        elif not b & 0x40 and span == 1:
            ops[pos] = _VAL[count][1]
            self._merge(pos)
            return 1
        # General case: split the opcode in up to three.
        last = first + span - 1
        seq = []
        seq_starts = []
        if index != first:
            seq.append(_VAL[old][index - first] if b & 0x80 else _zero_op(index - first))
            seq_starts.append(first)
        seq.append(_VAL[count][1])
        seq_starts.append(index)
        if index != last:
            seq.append(_VAL[old][last - index] if b & 0x80 else _zero_op(last - index))
            seq_starts.append(index + 1)
        is_xzero = b & 0xC0 == 0x40
        delta = sum(map(len, seq)) - (2 if is_xzero else 1)
        if delta > 0 and self.size + delta > max_bytes:
            return _PROMOTE
        self.size += delta
        if is_xzero and len(op) == 1:
            # The XZERO cut by the end: Redis fixes the length first, then copies
            # the new opcodes, so their last byte lands past the end.
            new = b"".join(seq)
            self.shadow = new[-1]
            self._parse(b"".join(ops[:pos]) + new[:-1])
        else:
            ops[pos : pos + 1] = seq
            starts[pos : pos + 1] = seq_starts
            if self.shadow:
                self.shadow = 0  # the length was set again: a new terminator
                self._fix_tail()
        self._merge(pos)
        return 1

    def _merge(self, pos):
        """Step 4 of hllSparseSet: merge equal adjacent VALs, scanning at most five
        opcodes from the one before the updated one; then invalidate the cache."""
        ops = self.ops
        starts = self.starts
        i = pos - 1 if pos > 0 else 0
        scan = 5
        merged = False
        while i < len(ops) and scan:
            scan -= 1
            b = ops[i][0]
            if not b & 0x80:
                i += 1
                continue
            if i + 1 < len(ops):
                b2 = ops[i + 1][0]
                if b2 & 0x80 and (b ^ b2) & 0x7C == 0:
                    n = (b & 3) + (b2 & 3) + 2
                    if n <= SPARSE_VAL_MAX_LEN:
                        ops[i] = _VAL[((b >> 2) & 31) + 1][n]
                        del ops[i + 1]
                        del starts[i + 1]
                        self.size -= 1
                        merged = True
                        continue
            i += 1
        if merged and self.shadow:
            self.shadow = 0
            self._fix_tail()
        self.hdr[15] |= 0x80


# --------------------------------------------------------------- estimator
def _tau(x):
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    sqrt = math.sqrt
    pow_ = math.pow
    while True:
        x = sqrt(x)
        zp = z
        y *= 0.5
        z -= pow_(1 - x, 2) * y
        if zp == z:
            return z / 3


def _sigma(x):
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        zp = z
        z += x * y
        y += y
        if zp == z:
            return z


def estimate(hist):
    """hllCount's estimator over a register histogram (64 entries)."""
    m = float(REGISTERS)
    z = m * _tau((m - hist[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += hist[j]
        z *= 0.5
    z += m * _sigma(hist[0] / m)
    e = ALPHA_INF * m * m / z if z else math.inf  # z == 0: registers all past 51
    if e != e or not -_TWO63 <= e < _TWO63:
        rounded = -_TWO63  # llroundl out of range: LLONG_MIN
    else:
        f = math.floor(e)  # llroundl: halves away from zero
        rounded = int(f) + (1 if e - f >= 0.5 else 0)
    # Stored in a double, then converted to uint64_t as x86-64 does.
    d = float(rounded)
    if d >= _TWO63:
        return int(d - _TWO63) ^ (1 << 63)
    return int(d) & MASK64


def signed64(n):
    """A uint64 as the long long addReplyLongLong prints."""
    return n - (1 << 64) if n >= 1 << 63 else n


def raw_histogram(raw):
    """Histogram of one-byte registers."""
    hist = [0] * 64
    total = 0
    count = raw.count
    v = 0
    while total < REGISTERS and v < 64:
        n = count(v)
        hist[v] = n
        total += n
        v += 1
    return hist


def hll_count(value, cache=None):
    """(cardinality, valid) of an HLL value, ignoring its cached cardinality."""
    if value[4] == DENSE:
        return estimate(raw_histogram(dense_to_raw(value))), True
    sp = sparse_of(cache, value)
    hist, valid = sp.histogram()
    if cache is not None:
        keep_sparse(cache, value, sp)
    return (estimate(hist) if valid else None), valid


# ------------------------------------------------------------ whole values
def is_hll(o):
    """isHLLObjectOrReply's checks on a string value."""
    return (
        len(o) >= HDR_SIZE
        and o[:4] == b"HYLL"
        and o[4] <= 1
        and (o[4] != DENSE or len(o) == DENSE_SIZE)
    )


def raw_of(o, cache):
    """hllMerge's view of a valid HLL: its registers as an int, or None if corrupted."""
    if o[4] == DENSE:
        raw = dense_to_raw(o)
    else:
        sp = sparse_of(cache, o)
        keep_sparse(cache, o, sp)
        raw = sp.to_raw()
        if raw is None:
            return None
    return int.from_bytes(raw, "little")


# --------------------------------------------------------- the parse cache
_CACHE_MAX = 64


def sparse_of(cache, value):
    """The parsed form of the sparse bytearray ``value``.

    Parsing a sparse value costs a pass over its opcodes, so the parsed form of
    recently edited values is kept in ``cache`` (a dict, one per server): ``id(value)`` ->
    (body bytes when parsed, Sparse). An entry is used only if the body is still
    the same bytes (anything may have changed the string since: SETRANGE, SET of
    another value that got the same id...), so it is exactly what parsing would
    give. The caller owns the returned object and gives it back with
    :func:`sparse_store`.
    """
    if cache is not None:
        entry = cache.pop(id(value), None)
        if entry is not None and entry[0] == value[HDR_SIZE:]:
            sp = entry[1]
            sp.hdr = bytearray(value[:HDR_SIZE])
            return sp
    return Sparse(value)


def keep_sparse(cache, value, sp, body=None):
    """Remember ``sp`` as the parsed form of ``value`` (whose body is ``body``)."""
    if cache is None:
        return
    if body is None:
        body = bytes(value[HDR_SIZE:])
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[id(value)] = (body, sp)


def sparse_store(cache, value, sp):
    """Write ``sp`` back into ``value`` and remember its parsed form."""
    body = b"".join(sp.ops)
    value[:] = sp.hdr + body
    keep_sparse(cache, value, sp, body)


# ----------------------------------------------------------------- updates
def add_elements(value, elements, max_bytes, cache=None):
    """Add ``elements`` to the HLL bytearray ``value`` in place.

    Returns how many of them updated a register; raises :class:`Corrupted` (after
    keeping the updates already done, as Redis does) on a corrupted value.
    """
    updated = 0
    it = iter(elements)
    if value[4] == SPARSE:
        sp = sparse_of(cache, value)
        for ele in it:
            index, count = pat_len(ele)
            r = sp.set(index, count, max_bytes)
            if r == 1:
                updated += 1
            elif r == _PROMOTE:
                dense = sp.to_dense()
                if dense is None:
                    sparse_store(cache, value, sp)
                    raise Corrupted
                dense_set(dense, index, count)
                value[:] = dense
                updated += 1
                break
            elif r < 0:
                sparse_store(cache, value, sp)
                raise Corrupted
        else:
            sparse_store(cache, value, sp)
            return updated
    return updated + dense_add(value, it)


def dense_add(d, elements):
    """The dense loop of PFADD: hash, locate, compare, store (all inlined)."""
    updated = 0
    m = _MURMUR_M
    mask = MASK64
    for ele in elements:
        # MurmurHash64A inlined (see murmurhash64a): this loop is PFADD's hot path.
        n = len(ele)
        if n > 32767:
            h = murmurhash64a(ele)
        else:
            h = (_HLL_SEED ^ (n * m)) & mask
            if n > 7:
                for k in unpack_from("<%dQ" % (n >> 3), ele):
                    k = (k * m) & mask
                    k ^= k >> 47
                    h = ((h ^ ((k * m) & mask)) * m) & mask
            rest = n & 7
            if rest:
                h = ((h ^ int.from_bytes(ele[n - rest :], "little")) * m) & mask
            h ^= h >> 47
            h = (h * m) & mask
            h ^= h >> 47
        i = h & 16383
        h = (h >> 14) | _Q_BIT
        count = (h & -h).bit_length()
        base = 16 + (i >> 2) * 3
        r = i & 3
        if r == 0:
            b = d[base]
            if count > b & 63:
                d[base] = (b & 0xC0) | count
                updated += 1
        elif r == 1:
            b = d[base]
            b1 = d[base + 1]
            if count > (b >> 6) | ((b1 & 15) << 2):
                d[base] = (b & 0x3F) | ((count & 3) << 6)
                d[base + 1] = (b1 & 0xF0) | (count >> 2)
                updated += 1
        elif r == 2:
            b1 = d[base + 1]
            b2 = d[base + 2]
            if count > (b1 >> 4) | ((b2 & 3) << 4):
                d[base + 1] = (b1 & 0x0F) | ((count & 15) << 4)
                d[base + 2] = (b2 & 0xFC) | (count >> 4)
                updated += 1
        else:
            b2 = d[base + 2]
            if count > b2 >> 2:
                d[base + 2] = (b2 & 0x03) | (count << 2)
                updated += 1
    return updated


def to_dense(value, cache=None):
    """hllSparseToDense on a bytearray in place; False if corrupted."""
    if value[4] == DENSE:
        return True
    sp = sparse_of(cache, value)
    dense = sp.to_dense()
    if dense is None:
        return False
    value[:] = dense
    return True


def write_registers(value, raw, max_bytes, cache=None):
    """PFMERGE's last step: set the registers of the HLL bytearray ``value`` to the
    one-byte registers ``raw``, each at least the register it replaces.

    A dense value is packed whole. A sparse one is updated register by register
    with hllSparseSet, as Redis does, so it stays sparse while it fits; once it
    must be promoted, its dense registers are ``raw`` itself.
    """
    if value[4] == DENSE:
        value[HDR_SIZE:] = raw_to_dense(raw)
    else:
        sp = sparse_of(cache, value)
        promoted = False
        for j, v in enumerate(raw):
            if v and sp.set(j, v, max_bytes) == _PROMOTE:
                promoted = True
                break
        if promoted:
            hdr = sp.hdr
            hdr[4] = DENSE
            value[:] = hdr + raw_to_dense(raw)
        else:
            sparse_store(cache, value, sp)
