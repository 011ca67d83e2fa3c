"""The RDB format's string and length encodings: the primitives every codec writes
with, the value codec (rdb.py) and the stream codec (rdb_stream.py) alike.

A length is 6, 14, 32 or 64 bits behind a two-bit tag (``rdbSaveLen``); a string
is stored as a small integer when it spells one exactly (``rdbTryIntegerEncoding``),
LZF-compressed when that saves at least four bytes (``rdbSaveLzfStringObject``),
verbatim otherwise; blobs (listpacks, intsets) are never integer-encoded.
"""

from . import lzf
from .errors import CorruptError


class RdbError(CorruptError):
    """A file or payload that cannot be loaded; the message says why."""


# ====================================================================== writing
_LEN1 = [bytes((i,)) for i in range(64)]


def enc_len(n):
    if n < 64:
        return _LEN1[n]
    if n < 16384:
        return bytes(((n >> 8) | 0x40, n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def _enc_small_int(v):
    """RDB integer encoding of a string (8/16/32 bit), or None if out of range."""
    if -128 <= v <= 127:
        return b"\xc0" + (v & 0xFF).to_bytes(1, "little")
    if -32768 <= v <= 32767:
        return b"\xc1" + (v & 0xFFFF).to_bytes(2, "little")
    if -2147483648 <= v <= 2147483647:
        return b"\xc2" + (v & 0xFFFFFFFF).to_bytes(4, "little")
    return None


def enc_string(s, compress=True):
    """rdbSaveRawString: integer, LZF or verbatim, whichever Redis would pick."""
    n = len(s)
    # rdbTryIntegerEncoding: the canonical spelling of a small integer. The digits
    # test first (no exception from int()), the round trip refuses leading zeros,
    # "-0" and the like.
    if n <= 11 and n and (s.isdigit() or (s[0] == 45 and s[1:].isdigit())):
        v = int(s)
        if b"%d" % v == s:
            e = _enc_small_int(v)
            if e is not None:
                return e
    if compress and n > 20:
        c = lzf.compress(s, n - 4)
        if c is not None:
            return b"".join((b"\xc3", enc_len(len(c)), enc_len(n), c))
    if n < 64:
        return _LEN1[n] + s
    return enc_len(n) + s


_INT_START = frozenset(b"-0123456789")


def enc_strings(strings, compress=True, parts=None):
    """``enc_string`` of each of ``strings``, in list ``parts`` (returned; a new
    one by default): short strings that cannot spell an integer, most of them,
    without a call each."""
    if parts is None:
        parts = []
    ext = parts.extend
    app = parts.append
    vmax = 20 if compress else 63  # longer ones are LZF candidates
    int_start = _INT_START
    len1 = _LEN1
    for s in strings:
        n = len(s)
        if n <= vmax and (not n or s[0] not in int_start):
            ext((len1[n], s))
        else:
            app(enc_string(s, compress))
    return parts


def enc_raw_blob(s, compress=True):
    """A blob (listpack, intset) saved as a string: never integer encoded (too long)."""
    n = len(s)
    if compress and n > 20:
        c = lzf.compress(s, n - 4)
        if c is not None:
            return b"".join((b"\xc3", enc_len(len(c)), enc_len(n), c))
    return enc_len(n) + s
