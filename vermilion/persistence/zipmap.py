"""Zipmap: the small-hash encoding of Redis 2.x (zipmap.c), still accepted in RDB files.

Layout: ``<count: 1 byte, 254 = unknown> entries... 0xFF``; an entry is
``<len> key <len> <free: 1 byte> value <free unused bytes>``, where ``len`` is
one byte (< 254) or 254 followed by a u32 LE.
"""

from .errors import CorruptError


def _bad():
    return CorruptError("Zipmap integrity check failed.")


def decode(zm):
    """The (field, value) pairs of a zipmap."""
    n = len(zm)
    if n < 2 or zm[n - 1] != 0xFF:
        raise _bad()
    out = []
    p = 1

    def length(p):
        b = zm[p]
        if b < 254:
            return b, p + 1
        if b == 254:
            if p + 5 > n - 1:
                raise _bad()
            ln = int.from_bytes(zm[p + 1 : p + 5], "little")
            if ln < 254:
                # zipmap.c writes a length below 254 in one byte: five bytes
                # for a short one is corruption (Redis 7.0.15 refuses it too)
                raise _bad()
            return ln, p + 5
        raise _bad()

    while zm[p] != 0xFF:
        ln, p = length(p)
        if p + ln > n - 1:
            raise _bad()
        field = bytes(zm[p : p + ln])
        p += ln
        ln, p = length(p)
        if p >= n - 1:
            raise _bad()
        free = zm[p]
        p += 1
        if p + ln + free > n - 1:
            raise _bad()
        out.append((field, bytes(zm[p : p + ln])))
        p += ln + free
    if p != n - 1 or not out:
        raise _bad()
    if zm[0] != 254 and zm[0] != len(out):
        raise _bad()
    return out


def encode(pairs):
    """A zipmap of (field, value) pairs (for tests and tools)."""

    def ln(x):
        return bytes((x,)) if x < 254 else b"\xfe" + x.to_bytes(4, "little")

    parts = [bytes((len(pairs) if len(pairs) < 254 else 254,))]
    for f, v in pairs:
        parts += [ln(len(f)), f, ln(len(v)), b"\x00", v]
    parts.append(b"\xff")
    return b"".join(parts)
