"""LZF, the compression of RDB strings (liblzf's format, as in Redis's lzf_c.c/lzf_d.c).

A compressed stream is a sequence of instructions, each starting with a
control byte ``ctrl``:

* ``ctrl < 32``: a literal run; the next ``ctrl + 1`` bytes are copied as is.
* otherwise a back reference: ``len = ctrl >> 5`` (7 means "add the next
  byte"), the copy is ``len + 2`` bytes long (3..264) and starts
  ``((ctrl & 0x1f) << 8 | next byte) + 1`` bytes back in the output (up to
  8192). Source and destination may overlap (runs).

Any valid stream decodes, so our compressor need not produce the same bytes
as liblzf: it is a greedy matcher keyed on 3-byte prefixes. Python cannot scan
bytes as fast as C, so :func:`compress` first asks zlib (C speed) whether the
data has redundancy worth looking for; data that deflate cannot shrink (random
or already compressed bytes) is returned uncompressed at once. That only ever
costs compactness, never correctness.

**Accelerator.** When python-lzf (liblzf 3.6 in C, the ``fast`` extra) is
installed, the matching loop and the decoder run in C. Its liblzf is Redis's
configuration (HLOG 16, VERY_FAST, no table clearing) and its output is what
:func:`_compress` produces: the table's stale slots from earlier calls never
change a decision, because the first occurrence of every 3-byte prefix in an
input is hashed before any later one reads its slot. The early refusals above
run in front of both, so the two give the same bytes (tests compare them on
many inputs); python-lzf's ``max_length`` is one byte more generous than
liblzf's ``out_len`` (it passes ``max_length + 1``), hence the ``- 1``.
"""

import zlib

from .errors import CorruptError

try:  # python-lzf, optional (see "Accelerator" above)
    import lzf as _clzf

    _c_compress = _clzf.compress
    _c_decompress = _clzf.decompress
except (ImportError, AttributeError):
    _c_compress = _c_decompress = None

MAX_LIT = 32
MAX_OFF = 1 << 13
MAX_REF = (1 << 8) + (1 << 3)  # 264

_PRECHECK = 512  # below this size, just try LZF (zlib's setup costs more)


def compress(data, max_len=None):
    """LZF-compress ``data`` like liblzf's lzf_compress (HLOG 16, VERY_FAST, clean table).

    Returns the compressed bytes, or None when they would not fit in ``max_len``
    bytes (Redis passes ``len - 4``: compression must save at least 4 bytes).
    The same input gives the same bytes as Redis's compressor, including its
    conservative "does not fit" decisions, so DUMP payloads match byte for byte.
    """
    n = len(data)
    if max_len is None:
        max_len = n + n // 32 + 2
    if not n or max_len <= 0:
        return None
    if type(data) is not bytes:
        data = bytes(data)
    if n >= _PRECHECK:
        if len(zlib.compress(data, 1)) - 6 > max_len:
            return None  # no redundancy for LZF to exploit (see module docstring)
    elif _c_compress is not None and max_len > 1 and n > 1:
        # the bound below is exact: liblzf refuses those inputs itself, faster
        return _c_compress(data, max_len - 1)
    elif n > 2:
        # Every back reference of length L replaces L bytes by at least 2, and
        # the L - 2 positions it covers first hold byte pairs seen before; so
        # the output is at least n - R bytes, R being the number of positions
        # whose 2 bytes occurred earlier. When that cannot fit, liblzf gives up
        # too: exact, and far cheaper than the loop (the pairs are counted in C,
        # as 16-bit words at even and at odd offsets).
        mv = memoryview(data)
        pairs = set(mv[: n & ~1].cast("H"))
        pairs.update(mv[1 : 1 + ((n - 1) & ~1)].cast("H"))
        if n - 1 - len(pairs) < n - max_len:
            return None
    if _c_compress is not None and max_len > 1 and n > 1:
        return _c_compress(data, max_len - 1)
    return _compress(data, n, max_len)


def _compress(data, n, max_len):
    """liblzf's loop proper (``compress`` without the early refusals)."""
    out_end = max_len
    out = bytearray(b"\0")  # out[run] is the control byte of the open literal run
    run = 0
    lit = 0
    htab = {}
    get = htab.get
    d = data
    end = n - 2
    ip = 0
    v = (d[0] << 8) | d[1] if n > 1 else 0
    while ip < end:
        v = ((v << 8) | d[ip + 2]) & 0xFFFFFF
        slot = ((v >> 8) - v * 5) & 0xFFFF
        ref = get(slot)
        htab[slot] = ip
        if (
            ref
            and ip - ref <= MAX_OFF
            and d[ref] == d[ip]
            and d[ref + 1] == d[ip + 1]
            and d[ref + 2] == d[ip + 2]
        ):
            op = len(out)
            if op + 4 >= out_end and op - (not lit) + 4 >= out_end:
                return None
            if lit:
                out[run] = lit - 1
            else:
                del out[-1]
            maxlen = n - ip - 2
            if maxlen > MAX_REF:
                maxlen = MAX_REF
            # Match length exactly as lzf_c.c computes it: bytes 0..2 are equal; m is
            # the first differing index; the C loop (16 unrolled tests, then a loop
            # bounded by maxlen) yields the length below. Compared in C via ints.
            hi = maxlen if maxlen > 19 else (19 if maxlen > 16 else maxlen)
            if hi > 3:
                a = d[ref + 3 : ref + hi]
                b = d[ip + 3 : ip + hi]
                if a == b:
                    m = hi
                else:
                    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
                    m = 3 + ((len(a) * 8 - x.bit_length()) >> 3)
            else:
                m = 3
            if maxlen > 16:
                ln = m if m <= 18 else (m if maxlen >= 19 else 19)
            else:
                ln = m
            off = ip - ref - 1
            ln -= 2
            if ln < 7:
                out.append((off >> 8) + (ln << 5))
            else:
                out.append((off >> 8) + 0xE0)
                out.append(ln - 7)
            out.append(off & 0xFF)
            run = len(out)
            out.append(0)
            lit = 0
            ip += ln + 2
            if ip >= end:
                break
            ip -= 2
            v = (d[ip] << 16) | (d[ip + 1] << 8) | d[ip + 2]
            htab[((v >> 8) - v * 5) & 0xFFFF] = ip
            ip += 1
            v = ((v << 8) | d[ip + 2]) & 0xFFFFFF
            htab[((v >> 8) - v * 5) & 0xFFFF] = ip
            ip += 1
            v &= 0xFFFF
        else:
            if len(out) >= out_end:
                return None
            out.append(d[ip])
            ip += 1
            lit += 1
            if lit == MAX_LIT:
                out[run] = MAX_LIT - 1
                run = len(out)
                out.append(0)
                lit = 0
    if len(out) + 3 > out_end:
        return None
    while ip < n:
        out.append(d[ip])
        ip += 1
        lit += 1
        if lit == MAX_LIT:
            out[run] = MAX_LIT - 1
            run = len(out)
            out.append(0)
            lit = 0
    if lit:
        out[run] = lit - 1
    else:
        del out[-1]
    return bytes(out)


def decompress(data, out_len):
    """Decode an LZF stream that must expand to exactly ``out_len`` bytes."""
    if _c_decompress is not None and out_len > 0:
        try:
            out = _c_decompress(bytes(data), out_len)
        except ValueError:
            out = None
        if out is not None and len(out) == out_len:
            return out
        # anything else (corrupt, too long or too short): the Python decoder
        # below raises the error, or decodes what liblzf's stricter checks refused
    return _decompress(data, out_len)


def _decompress(data, out_len):
    """:func:`decompress` in Python (python-lzf absent, or for the error)."""
    out = bytearray()
    ip = 0
    n = len(data)
    while ip < n:
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:
            ctrl += 1
            if ip + ctrl > n:
                raise CorruptError("Invalid LZF compressed string")
            out += data[ip : ip + ctrl]
            ip += ctrl
        else:
            ln = ctrl >> 5
            if ip >= n:
                raise CorruptError("Invalid LZF compressed string")
            if ln == 7:
                ln += data[ip]
                ip += 1
                if ip >= n:
                    raise CorruptError("Invalid LZF compressed string")
            pos = len(out)
            ref = pos - ((ctrl & 0x1F) << 8) - 1 - data[ip]
            ip += 1
            if ref < 0:
                raise CorruptError("Invalid LZF compressed string")
            ln += 2
            if ref + ln <= pos:
                out += out[ref : ref + ln]
            else:
                period = out[ref:pos]
                out += (period * (ln // len(period) + 1))[:ln]
        if len(out) > out_len:
            raise CorruptError("Invalid LZF compressed string")
    if len(out) != out_len:
        raise CorruptError("Invalid LZF compressed string")
    return bytes(out)
