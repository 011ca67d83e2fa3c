"""Intset: a sorted array of unique integers (intset.c), the encoding of small integer sets.

Layout: ``<encoding u32 LE: 2, 4 or 8> <length u32 LE> <length values, LE signed, ascending>``.
"""

from .errors import CorruptError


def decode(blob, deep=True):
    """The integers of an intset, validated: sizes always, ascending order and no
    duplicates when ``deep`` (Redis checks those only with sanitize-dump-payload yes)."""
    n = len(blob)
    if n < 8:
        raise CorruptError("Intset integrity check failed.")
    enc = int.from_bytes(blob[0:4], "little")
    count = int.from_bytes(blob[4:8], "little")
    if enc not in (2, 4, 8) or 8 + count * enc != n or count == 0:
        raise CorruptError("Intset integrity check failed.")
    mv = memoryview(bytes(blob))[8:]
    vals = (
        mv.cast({2: "h", 4: "i", 8: "q"}[enc]).tolist()
        if _LITTLE
        else [int.from_bytes(mv[i : i + enc], "little", signed=True) for i in range(0, n - 8, enc)]
    )
    if not deep:
        return vals
    prev = None
    for v in vals:
        if prev is not None and v <= prev:
            raise CorruptError("Intset integrity check failed.")
        prev = v
    return vals


def encode(values):
    """An intset holding the integers ``values`` (any order, no duplicates)."""
    vals = sorted(values)
    if not vals:
        enc = 2
    else:
        lo, hi = vals[0], vals[-1]
        if -32768 <= lo and hi <= 32767:
            enc = 2
        elif -2147483648 <= lo and hi <= 2147483647:
            enc = 4
        else:
            enc = 8
    if _LITTLE:
        body = array.array({2: "h", 4: "i", 8: "q"}[enc], vals).tobytes()
    else:
        body = b"".join(v.to_bytes(enc, "little", signed=True) for v in vals)
    return enc.to_bytes(4, "little") + len(vals).to_bytes(4, "little") + body


import sys as _sys  # noqa: E402
import array  # noqa: E402

_LITTLE = _sys.byteorder == "little"
