"""Listpack: Redis 7's compact sequence of strings and integers (listpack.c).

Layout: ``<total bytes u32 LE> <count u16 LE, 65535 = unknown> entries... 0xFF``.
Each entry is ``<encoding+data> <backlen>``, backlen being the size of
encoding+data written as 1..5 bytes of 7 bits, read right to left. Encodings:

===========  ==========================================
0xxxxxxx     7-bit unsigned int
10xxxxxx     string, 6-bit length
110xxxxx     13-bit signed int (1 more byte)
1110xxxx     string, 12-bit length (1 more byte)
11110000     string, 32-bit LE length
11110001-4   16/24/32/64-bit signed LE int
===========  ==========================================

:func:`decode` returns the elements as ``bytes`` (strings) and ``int``
(integers); :func:`decode_strings` turns the integers into their decimal
spelling, which is how Redis hands them out. :func:`encode` stores a string
as an integer when it is a canonical integer, exactly like ``lpAppend``.
"""

from .errors import CorruptError
from .intconv import str_to_int

_U32 = 0xFFFFFFFF


def _backlen(n):
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes(
        (
            n >> 28,
            ((n >> 21) & 127) | 128,
            ((n >> 14) & 127) | 128,
            ((n >> 7) & 127) | 128,
            (n & 127) | 128,
        )
    )


# Pre-built entries for the 7-bit integers (the commonest case).
_SMALL_INT = [bytes((v, 1)) for v in range(128)]


def encode_int(v):
    """One listpack entry (encoding+data+backlen) for the integer v."""
    if 0 <= v <= 127:
        return _SMALL_INT[v]
    if -4096 <= v <= 4095:
        if v < 0:
            v += 1 << 13
        return bytes(((v >> 8) | 0xC0, v & 0xFF, 2))
    if -32768 <= v <= 32767:
        return b"\xf1" + (v & 0xFFFF).to_bytes(2, "little") + b"\x03"
    if -8388608 <= v <= 8388607:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little") + b"\x04"
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + (v & _U32).to_bytes(4, "little") + b"\x05"
    return b"\xf4" + (v & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little") + b"\x09"


def encode_str(s):
    """One listpack entry for a string stored as a string."""
    n = len(s)
    if n < 64:
        head = bytes((0x80 | n,))
    elif n < 4096:
        head = bytes((0xE0 | (n >> 8), n & 0xFF))
    else:
        head = b"\xf0" + n.to_bytes(4, "little")
    size = len(head) + n
    return b"".join((head, s, _backlen(size)))


def encode_entry(e):
    """Entry for an element: ints as ints, strings as ints when canonical."""
    if e.__class__ is int:
        return encode_int(e)
    v = str_to_int(e) if len(e) <= 20 else None
    if v is not None:
        return encode_int(v)
    return encode_str(bytes(e))


# Short strings that cannot spell an integer (the commonest entries) are written
# from these tables, without a call per element; so are 7-bit integers and the
# strings spelling them.
_STR_HEAD = [bytes((0x80 | n,)) for n in range(64)]
_BACK1 = [bytes((n,)) for n in range(128)]
_INT_START = frozenset(b"-0123456789")
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1


def encode_entries(elements):
    """The entries for ``elements`` (bytes/bytearray/int), joined: what
    ``b"".join(map(encode_entry, elements))`` gives, faster."""
    parts = []
    ext = parts.extend
    app = parts.append
    head = _STR_HEAD
    back = _BACK1
    int_start = _INT_START
    small = _SMALL_INT
    for e in elements:
        cls = e.__class__
        if cls is bytes:
            n = len(e)
            if n < 64:
                if not n or e[0] not in int_start:
                    ext((head[n], e, back[n + 1]))
                    continue
                # lpStringToInt64: the canonical spelling of an int64 only. The
                # digits test first, so that int() cannot fail; the round trip
                # then refuses leading zeros, "-0" and the like.
                if n <= 20 and (e.isdigit() or (e[0] == 45 and e[1:].isdigit())):
                    v = int(e)
                    if b"%d" % v == e and _I64_MIN <= v <= _I64_MAX:
                        app(small[v] if 0 <= v <= 127 else encode_int(v))
                        continue
                ext((head[n], e, back[n + 1]))
                continue
        elif cls is int:
            app(small[e] if 0 <= e <= 127 else encode_int(e))
            continue
        app(encode_entry(e))
    return b"".join(parts)


def encode(elements):
    """A complete listpack holding ``elements`` (bytes/bytearray/int)."""
    return assemble(encode_entries(elements), len(elements))


def assemble(body, count):
    """Header + already encoded entries + terminator."""
    total = 7 + len(body)
    if total > _U32:
        raise ValueError("listpack too large")
    return b"".join(
        (
            total.to_bytes(4, "little"),
            (count if count < 65535 else 65535).to_bytes(2, "little"),
            body,
            b"\xff",
        )
    )


def _bad(why="Listpack integrity check failed."):
    return CorruptError(why)


def header_ok(lp):
    """lpValidateIntegrity's shallow half: the header's total size is the blob's
    size and the last byte is the terminator (all Redis checks without
    sanitize-dump-payload yes)."""
    n = len(lp)
    return n >= 7 and int.from_bytes(lp[0:4], "little") == n and lp[n - 1] == 0xFF


def _decode_short(lp, deep, check_count):
    """:func:`decode` of a listpack holding only 7-bit integers and strings under
    64 bytes (most small hashes, lists, sets and zsets), with the same checks in
    a tighter loop; None when it meets another entry or anything wrong, for the
    general loop to decode (or to report, with the error's position)."""
    n = len(lp)
    end = n - 1
    if n < 7 or lp[end] != 0xFF or int.from_bytes(lp[0:4], "little") != n:
        return None
    out = []
    append = out.append
    p = 6
    while p < end:
        b = lp[p]
        if b < 0x80:
            q = p + 2
            if q > end or (deep and lp[p + 1] != 1):
                return None
            append(b)
        elif b < 0xC0:
            q = p + 1 + (b & 0x3F)  # the backlen byte
            if q >= end or (deep and lp[q] != q - p):
                return None
            append(lp[p + 1 : q])
            q += 1
        else:
            return None
        p = q
    if p != end:
        return None
    if check_count:
        count = lp[4] | (lp[5] << 8)
        if count != 65535 and count != len(out):
            return None
    return out


def decode(lp, deep=True, check_count=True):
    """The elements of listpack ``lp`` (bytes and ints), validating its structure.

    ``check_count=False`` skips the header's element count, as Redis's stream
    validation does (it walks the entries itself and never reads the count)."""
    if lp.__class__ is bytes:
        out = _decode_short(lp, deep, check_count)
        if out is not None:
            return out
    n = len(lp)
    if n < 7:
        raise _bad()
    total = int.from_bytes(lp[0:4], "little")
    if total != n or lp[n - 1] != 0xFF:
        raise _bad()
    count = lp[4] | (lp[5] << 8)
    out = []
    append = out.append
    p = 6
    end = n - 1
    frm = int.from_bytes
    try:
        while p < end:
            b = lp[p]
            if b < 0x80:
                append(b)
                size = 1
            elif b < 0xC0:
                ln = b & 0x3F
                size = 1 + ln
                if p + size > end:
                    raise _bad()
                append(bytes(lp[p + 1 : p + size]))
            elif b < 0xE0:
                if p + 2 > end:
                    raise _bad()
                v = ((b & 0x1F) << 8) | lp[p + 1]
                if v >= 4096:
                    v -= 8192
                append(v)
                size = 2
            elif b < 0xF0:
                if p + 2 > end:
                    raise _bad()
                ln = ((b & 0x0F) << 8) | lp[p + 1]
                size = 2 + ln
                if p + size > end:
                    raise _bad()
                append(bytes(lp[p + 2 : p + size]))
            elif b == 0xF0:
                if p + 5 > end:
                    raise _bad()
                ln = frm(lp[p + 1 : p + 5], "little")
                size = 5 + ln
                if p + size > end:
                    raise _bad()
                append(bytes(lp[p + 5 : p + size]))
            elif b <= 0xF4:
                width = (2, 3, 4, 8)[b - 0xF1]
                size = 1 + width
                if p + size > end:
                    raise _bad()
                v = frm(lp[p + 1 : p + size], "little", signed=True)
                append(v)
            else:
                raise _bad()
            # backlen
            if size <= 127:
                bl = 1
                if deep and (p + size >= end or lp[p + size] != size):
                    raise _bad()
            else:
                bl = len(_backlen(size))
                if deep and lp[p + size : p + size + bl] != _backlen(size):
                    raise _bad()
            q = p + size + bl
            if q > end:
                raise _bad()
            p = q
    except CorruptError as e:
        e.pos = p  # where the bad entry starts (decode_prefix)
        raise
    if p != end or (check_count and count != 65535 and count != len(out)):
        err = _bad()
        err.pos = p
        raise err
    return out


def decode_prefix(lp):
    """``(elements, ok)``: every element when ``lp`` is valid, else the entries
    before the first bad one (none if the header is bad) and False. What is
    left of a listpack Redis accepted without deep sanitization."""
    try:
        return decode(lp), True
    except CorruptError as e:
        p = getattr(e, "pos", None)
    if p is None or p <= 6 or not header_ok(lp):
        return [], False
    # The entries before p all passed: decode them as a listpack of their own.
    body = bytes(lp[6:p])
    return decode(assemble(body, 65535), False), False


def decode_strings(lp, deep=True):
    """Like :func:`decode` with integers spelled in decimal (as Redis returns them)."""
    out = decode(lp, deep)
    for i, e in enumerate(out):
        if e.__class__ is int:
            out[i] = b"%d" % e
    return out
