"""Bit commands on strings (bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD.

A bitmap is an ordinary string value read most-significant bit first: bit 0 is
the top bit of byte 0. Writers turn the value into a ``bytearray`` (Redis's raw
encoding) and grow it with zero bytes; readers accept ``bytes`` and ``bytearray``.

Whole-string work is done by Python's C code instead of byte loops: population
counts through ``int.bit_count``, BITOP through big-integer ``& | ^ ~``, and the
first set/clear byte for BITPOS through a regular-expression scan that copies
nothing.
"""

import re

from ..errors import CommandError, WRONGTYPE, NOT_INT, SYNTAX
from ..keyspace.db import NOTIFY_STRING, NOTIFY_GENERIC
from ..protocol.encoder import INTS
from ..util import parse_ll
from .strings import string_value, cstr_lower
from ..core.table import command

BIT_OFFSET_ERR = "ERR bit offset is not an integer or out of range"
BIT_VALUE_ERR = "ERR bit is not an integer or out of range"
BITFIELD_TYPE_ERR = (
    "ERR Invalid bitfield type. Use something like i16 u8. "
    "Note that u64 is not supported but i64 is."
)
_U64 = (1 << 64) - 1

_first_nonzero = re.compile(rb"[^\x00]").search
_first_nonff = re.compile(rb"[^\xff]").search


def _bit_offset(c, arg, hash_bits=0):
    """getBitOffsetFromArgument: a bit offset, ``#n`` meaning n*hash_bits for BITFIELD."""
    usehash = hash_bits > 0 and arg[:1] == b"#"
    v = parse_ll(arg[1:] if usehash else arg)
    if v is None:
        raise CommandError(BIT_OFFSET_ERR)
    if usehash:
        v *= hash_bits
        v = ((v + (1 << 63)) & _U64) - (1 << 63)  # C's wrapping 64-bit multiply
    if v < 0 or (v >> 3) >= c.server.proto_max_bulk_len:
        raise CommandError(BIT_OFFSET_ERR)
    return v


def _string_for_bit_write(c, key, maxbit):
    """lookupStringForBitCommand: (bytearray long enough for ``maxbit``, created_or_grown).

    A new key is not stored yet (the caller adds it once done, so it is signalled
    once); an existing ``bytes`` value is swapped for a bytearray in place.
    """
    db = c.db
    v = db.lookup(key)
    need = (maxbit >> 3) + 1
    if v is None:
        return bytearray(need), True, True
    if v.__class__ is bytes:
        v = bytearray(v)
        db.replace_value(key, v)
    elif v.__class__ is not bytearray:
        raise CommandError(WRONGTYPE)
    grow = need - len(v)
    if grow > 0:
        v += bytes(grow)
        return v, False, True
    return v, False, False


# -------------------------------------------------------------- SETBIT/GETBIT
@command("setbit")
def setbit(c, argv):
    key = argv[1]
    offset = _bit_offset(c, argv[2])
    on = parse_ll(argv[3])
    if on is None or on & ~1:
        raise CommandError(BIT_VALUE_ERR)
    v, new, dirty = _string_for_bit_write(c, key, offset)
    byte = offset >> 3
    mask = 0x80 >> (offset & 7)
    old = v[byte] & mask
    db = c.db
    if dirty or bool(old) != on:
        if on:
            v[byte] |= mask
        else:
            v[byte] &= ~mask & 0xFF
        if new:
            db.add(key, v)
        else:
            db.signal(key)
        db.notify(NOTIFY_STRING, "setbit", key)
        c.server.dirty += 1
    return INTS[1] if old else INTS[0]


@command("getbit")
def getbit(c, argv):
    offset = _bit_offset(c, argv[2])
    v = string_value(c, argv[1])
    if v is None:
        return INTS[0]
    byte = offset >> 3
    if byte < len(v) and v[byte] & (0x80 >> (offset & 7)):
        return INTS[1]
    return INTS[0]


# ------------------------------------------------------------ BITCOUNT/BITPOS
def _clip_range(start, end, strlen, isbit):
    """BITCOUNT/BITPOS range -> (start_byte, end_byte, first_mask, last_mask).

    Negative indexes count from the end; in BIT units the masks hold the bits of
    the edge bytes that lie outside the range (zero when there are none).
    """
    total = strlen * 8 if isbit else strlen
    if start < 0:
        start = max(total + start, 0)
    if end < 0:
        end = max(total + end, 0)
    if end >= total:
        end = total - 1
    if isbit and start <= end:
        first_mask = ~((1 << (8 - (start & 7))) - 1) & 0xFF
        last_mask = (1 << (7 - (end & 7))) - 1
        return start >> 3, end >> 3, first_mask, last_mask
    return start, end, 0, 0


def _popcount(v, start, end):
    """Set bits in v[start:end+1]."""
    return int.from_bytes(v[start : end + 1], "big").bit_count()


def _unit_is_bit(arg):
    opt = cstr_lower(arg)
    if opt == b"bit":
        return True
    if opt == b"byte":
        return False
    raise CommandError(SYNTAX)


@command("bitcount")
def bitcount(c, argv):
    v = string_value(c, argv[1])
    if v is None:
        return INTS[0]
    n = len(argv)
    strlen = len(v)
    first_mask = last_mask = 0
    if n == 4 or n == 5:
        start = parse_ll(argv[2])
        if start is None:
            raise CommandError(NOT_INT)
        end = parse_ll(argv[3])
        if end is None:
            raise CommandError(NOT_INT)
        if start < 0 and end < 0 and start > end:
            return INTS[0]
        isbit = n == 5 and _unit_is_bit(argv[4])
        start, end, first_mask, last_mask = _clip_range(start, end, strlen, isbit)
    elif n == 2:
        start, end = 0, strlen - 1
    else:
        raise CommandError(SYNTAX)
    if start > end:
        return INTS[0]
    count = _popcount(v, start, end)
    if first_mask:
        count -= (v[start] & first_mask).bit_count()
    if last_mask:
        count -= (v[end] & last_mask).bit_count()
    return count


def _bitpos_bytes(v, start, count, bit):
    """Redis's redisBitpos over v[start:start+count]: first bit equal to ``bit``.

    Not found: -1 when looking for a 1, ``count*8`` when looking for a 0 (the
    string is taken as zero-padded on the right).
    """
    m = (_first_nonzero if bit else _first_nonff)(v, start, start + count)
    if m is None:
        return -1 if bit else count * 8
    i = m.start()
    byte = v[i] if bit else v[i] ^ 0xFF
    return (i - start) * 8 + 8 - byte.bit_length()


@command("bitpos")
def bitpos(c, argv):
    bit = parse_ll(argv[2])
    if bit is None:
        raise CommandError(NOT_INT)
    if bit != 0 and bit != 1:
        raise CommandError("ERR The bit argument must be 1 or 0.")
    v = string_value(c, argv[1])
    if v is None:
        return -1 if bit else 0
    n = len(argv)
    strlen = len(v)
    end_given = False
    first_mask = last_mask = 0
    if 4 <= n <= 6:
        start = parse_ll(argv[3])
        if start is None:
            raise CommandError(NOT_INT)
        isbit = n == 6 and _unit_is_bit(argv[5])
        if n >= 5:
            end = parse_ll(argv[4])
            if end is None:
                raise CommandError(NOT_INT)
            end_given = True
        else:
            end = strlen * 8 + 7 if isbit else strlen - 1
        start, end, first_mask, last_mask = _clip_range(start, end, strlen, isbit)
    elif n == 3:
        start, end = 0, strlen - 1
    else:
        raise CommandError(SYNTAX)
    if start > end:
        return -1
    nbytes = end - start + 1
    pos = _bitpos_range(v, start, end, nbytes, bit, first_mask, last_mask)
    start, nbytes, pos = pos
    if end_given and bit == 0 and pos == nbytes * 8:
        return -1
    if pos != -1:
        pos += start * 8
    return pos


def _bitpos_range(v, start, end, nbytes, bit, first_mask, last_mask):
    """The search of BITPOS with partial edge bytes; returns (start, nbytes, pos) as Redis
    leaves them, since the caller's "not found" test depends on where the search ended."""
    if first_mask:
        ch = v[start] & ~first_mask & 0xFF if bit else v[start] | first_mask
        if last_mask and nbytes == 1:
            ch = ch & ~last_mask & 0xFF if bit else ch | last_mask
        pos = _bitpos_bytes(bytes((ch,)), 0, 1, bit)
        if nbytes == 1 or (pos != -1 and pos != 8):
            return start, nbytes, pos
        start += 1
        nbytes -= 1
    cur = nbytes - (1 if last_mask else 0)
    if cur > 0:
        pos = _bitpos_bytes(v, start, cur, bit)
        if nbytes == cur or (pos != -1 and pos != cur * 8):
            return start, nbytes, pos
        start += cur
        nbytes -= cur
    ch = v[end] & ~last_mask & 0xFF if bit else v[end] | last_mask
    return start, nbytes, _bitpos_bytes(bytes((ch,)), 0, 1, bit)


# --------------------------------------------------------------------- BITOP
_BITOPS = (b"and", b"or", b"xor", b"not")


@command("bitop")
def bitop(c, argv):
    op = cstr_lower(argv[1])
    if op not in _BITOPS:
        raise CommandError(SYNTAX)
    if op == b"not" and len(argv) != 4:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    target = argv[2]
    srcs = []
    for key in argv[3:]:
        v = string_value(c, key)
        srcs.append(b"" if v is None else v)
    maxlen = max(len(s) for s in srcs)
    db = c.db
    if maxlen:
        acc = int.from_bytes(srcs[0], "big") << (8 * (maxlen - len(srcs[0])))
        if op == b"not":
            acc = ~acc & ((1 << (8 * maxlen)) - 1)
        else:
            for s in srcs[1:]:
                x = int.from_bytes(s, "big") << (8 * (maxlen - len(s)))
                if op == b"and":
                    acc &= x
                elif op == b"or":
                    acc |= x
                else:
                    acc ^= x
        res = bytearray(acc.to_bytes(maxlen, "big"))
        if db.expires:
            db.lookup(target)
        db.set(target, res)
        db.notify(NOTIFY_STRING, "set", target)
        c.server.dirty += 1
    elif db.delete(target):
        db.notify(NOTIFY_GENERIC, "del", target)
        c.server.dirty += 1
    return maxlen


# ------------------------------------------------------------------ BITFIELD
_GET, _SET, _INCRBY = 0, 1, 2
_WRAP, _SAT, _FAIL = 0, 1, 2
_OVERFLOW_TYPES = {b"wrap": _WRAP, b"sat": _SAT, b"fail": _FAIL}


def _bitfield_type(arg):
    """``i<bits>`` (1..64) or ``u<bits>`` (1..63) -> (signed, bits)."""
    t = arg[:1]
    if t == b"i":
        signed = True
    elif t == b"u":
        signed = False
    else:
        raise CommandError(BITFIELD_TYPE_ERR)
    rest = arg[1:]
    cut = rest.find(b"\0")
    bits = parse_ll(rest if cut < 0 else rest[:cut])
    if bits is None or bits < 1 or bits > (64 if signed else 63):
        raise CommandError(BITFIELD_TYPE_ERR)
    return signed, bits


def _read_field(v, offset, bits):
    """The unsigned value of ``bits`` bits at bit ``offset`` (zero past the end)."""
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    nbytes = last - first + 1
    chunk = bytes(v[first : last + 1])
    if len(chunk) < nbytes:
        chunk += bytes(nbytes - len(chunk))
    word = int.from_bytes(chunk, "big")
    return (word >> (nbytes * 8 - (offset & 7) - bits)) & ((1 << bits) - 1)


def _write_field(v, offset, bits, value):
    first = offset >> 3
    last = (offset + bits - 1) >> 3
    nbytes = last - first + 1
    shift = nbytes * 8 - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    word = int.from_bytes(v[first : last + 1], "big")
    word = (word & ~mask) | ((value << shift) & mask)
    v[first : last + 1] = word.to_bytes(nbytes, "big")


def _to_signed(u, bits):
    return u - (1 << bits) if u >> (bits - 1) else u


def _bitfield(c, argv, readonly_cmd):
    ops = []
    owtype = _WRAP
    readonly = True
    highest = 0
    n = len(argv)
    j = 2
    while j < n:
        remargs = n - j - 1
        sub = cstr_lower(argv[j])
        if sub == b"get" and remargs >= 2:
            opcode = _GET
        elif sub == b"set" and remargs >= 3:
            opcode = _SET
        elif sub == b"incrby" and remargs >= 3:
            opcode = _INCRBY
        elif sub == b"overflow" and remargs >= 1:
            owtype = _OVERFLOW_TYPES.get(cstr_lower(argv[j + 1]))
            if owtype is None:
                raise CommandError("ERR Invalid OVERFLOW type specified")
            j += 2
            continue
        else:
            raise CommandError(SYNTAX)
        signed, bits = _bitfield_type(argv[j + 1])
        offset = _bit_offset(c, argv[j + 2], bits)
        arg = 0
        if opcode != _GET:
            readonly = False
            if highest < offset + bits - 1:
                highest = offset + bits - 1
            arg = parse_ll(argv[j + 3])
            if arg is None:
                raise CommandError(NOT_INT)
        ops.append((opcode, signed, bits, offset, arg, owtype))
        j += 4 if opcode != _GET else 3
    key = argv[1]
    new = dirty = False
    if readonly:
        v = string_value(c, key)
    else:
        if readonly_cmd:
            raise CommandError("ERR BITFIELD_RO only supports the GET subcommand")
        v, new, dirty = _string_for_bit_write(c, key, highest)
    out = []
    changes = 0
    for opcode, signed, bits, offset, arg, ow in ops:
        if opcode == _GET:
            if v is None:
                out.append(0)
                continue
            u = _read_field(v, offset, bits)
            out.append(_to_signed(u, bits) if signed else u)
            continue
        old = _read_field(v, offset, bits)
        if signed:
            old = _to_signed(old, bits)
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            target = old + arg if opcode == _INCRBY else arg
        else:
            lo, hi = 0, (1 << bits) - 1
            # SET takes the argument as C's uint64_t, so a negative one is huge.
            target = old + arg if opcode == _INCRBY else arg & _U64
        if lo <= target <= hi:
            newval = target
        elif ow == _FAIL:
            out.append(None)
            continue
        elif ow == _SAT:
            newval = hi if target > hi else lo
        else:
            newval = target & ((1 << bits) - 1)
            if signed:
                newval = _to_signed(newval, bits)
        out.append(newval if opcode == _INCRBY else old)
        _write_field(v, offset, bits, newval & ((1 << bits) - 1))
        if dirty or old != newval:
            changes += 1
    db = c.db
    if new:
        db.add(key, v)
    if changes:
        if not new:
            db.signal(key)
        db.notify(NOTIFY_STRING, "setbit", key)
        c.server.dirty += changes
    return out


@command("bitfield")
def bitfield(c, argv):
    return _bitfield(c, argv, False)


@command("bitfield_ro")
def bitfield_ro(c, argv):
    return _bitfield(c, argv, True)
