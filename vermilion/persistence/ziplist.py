"""Ziplist: the compact encoding of Redis up to 6.2 (ziplist.c), read from old RDBs.

Layout: ``<zlbytes u32 LE> <zltail u32 LE> <zllen u16 LE> entries... 0xFF``.
An entry is ``<prevlen> <encoding> <data>``; prevlen is one byte (< 254) or
0xFE followed by a u32 LE. Encodings:

==================  ===========================================
00pppppp            string, 6-bit length
01pppppp qqqqqqqq   string, 14-bit big-endian length
10______ 4 bytes    string, 32-bit big-endian length
0xC0 / 0xD0 / 0xE0  int16 / int32 / int64, little endian
0xF0 / 0xFE         int24 / int8
0xF1 .. 0xFD        immediate 0..12
==================  ===========================================

Redis 7 converts ziplists to listpacks on load; we only need to read them.
:func:`encode` exists for tests (round trips) and tools.
"""

from .errors import CorruptError
from .intconv import str_to_int


def _bad(why="Ziplist integrity check failed."):
    return CorruptError(why)


def decode(zl):
    """The elements of ziplist ``zl`` (bytes and ints), fully validated."""
    n = len(zl)
    if n < 11:
        raise _bad()
    frm = int.from_bytes
    if frm(zl[0:4], "little") != n or zl[n - 1] != 0xFF:
        raise _bad()
    tail = frm(zl[4:8], "little")
    count = frm(zl[8:10], "little")
    out = []
    append = out.append
    p = 10
    end = n - 1
    prev_size = 0
    last = 10
    while p < end:
        start = p
        b = zl[p]
        if b < 254:
            prevlen = b
            p += 1
        elif b == 254:
            if p + 5 > end:
                raise _bad()
            prevlen = frm(zl[p + 1 : p + 5], "little")
            p += 5
        else:
            raise _bad()
        if prevlen != prev_size:
            raise _bad()
        if p >= end:
            raise _bad()
        e = zl[p]
        if e < 0xC0:
            kind = e & 0xC0
            if kind == 0:
                ln = e & 0x3F
                p += 1
            elif kind == 0x40:
                if p + 2 > end:
                    raise _bad()
                ln = ((e & 0x3F) << 8) | zl[p + 1]
                p += 2
            else:
                if p + 5 > end:
                    raise _bad()
                ln = frm(zl[p + 1 : p + 5], "big")
                p += 5
            if p + ln > end:
                raise _bad()
            append(bytes(zl[p : p + ln]))
            p += ln
        else:
            if e == 0xC0:
                w = 2
            elif e == 0xD0:
                w = 4
            elif e == 0xE0:
                w = 8
            elif e == 0xF0:
                w = 3
            elif e == 0xFE:
                w = 1
            elif 0xF1 <= e <= 0xFD:
                w = 0
            else:
                raise _bad()
            if p + 1 + w > end:
                raise _bad()
            if w:
                append(frm(zl[p + 1 : p + 1 + w], "little", signed=True))
            else:
                append((e & 0x0F) - 1)
            p += 1 + w
        prev_size = p - start
        last = start
    if p != end:
        raise _bad()
    if out and tail != last:
        raise _bad()
    if not out and tail != 10:
        raise _bad()
    if count != 65535 and count != len(out):
        raise _bad()
    return out


def decode_strings(zl):
    out = decode(zl)
    for i, e in enumerate(out):
        if e.__class__ is int:
            out[i] = b"%d" % e
    return out


def _encode_payload(e):
    if e.__class__ is not int:
        v = str_to_int(e) if 0 < len(e) < 32 else None
        if v is None:
            s = bytes(e)
            ln = len(s)
            if ln <= 0x3F:
                return bytes((ln,)) + s
            if ln <= 0x3FFF:
                return bytes((0x40 | (ln >> 8), ln & 0xFF)) + s
            return b"\x80" + ln.to_bytes(4, "big") + s
        e = v
    if 0 <= e <= 12:
        return bytes((0xF1 + e,))
    if -128 <= e <= 127:
        return b"\xfe" + e.to_bytes(1, "little", signed=True)
    if -32768 <= e <= 32767:
        return b"\xc0" + e.to_bytes(2, "little", signed=True)
    if -8388608 <= e <= 8388607:
        return b"\xf0" + e.to_bytes(3, "little", signed=True)
    if -2147483648 <= e <= 2147483647:
        return b"\xd0" + e.to_bytes(4, "little", signed=True)
    return b"\xe0" + e.to_bytes(8, "little", signed=True)


def encode(elements):
    """A ziplist of ``elements`` (bytes or int), encoded as ziplist.c would."""
    parts = []
    prev = 0
    offset = 10
    last = 10
    for e in elements:
        payload = _encode_payload(e)
        pl = bytes((prev,)) if prev < 254 else b"\xfe" + prev.to_bytes(4, "little")
        entry = pl + payload
        parts.append(entry)
        last = offset
        offset += len(entry)
        prev = len(entry)
    body = b"".join(parts)
    total = 11 + len(body)
    count = len(parts)
    return b"".join(
        (
            total.to_bytes(4, "little"),
            last.to_bytes(4, "little"),
            min(count, 65535).to_bytes(2, "little"),
            body,
            b"\xff",
        )
    )
