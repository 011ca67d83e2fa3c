"""String commands (t_string.c): GET, SET and its variants, counters, ranges, LCS.

A string value is ``bytes``; once modified in place (APPEND, SETRANGE, and the
bit commands in :mod:`.bitmaps`) it becomes a ``bytearray``, Redis's "raw"
encoding, so that repeated APPENDs are amortised O(1). Every reader accepts both
(:func:`string_value` is the shared lookup) and replies always carry ``bytes``.
Numbers are stored as their decimal spelling; OBJECT ENCODING tells "int" from
the bytes themselves.

GET, the three-argument SET and INCR are the benchmark's hot path: they do the
minimum (no option parsing, one lookup, one store) and leave everything else to
the slower general functions below them.

What Redis writes to the AOF/replicas is not always the command as typed: SET
with a relative expiry becomes ``SET k v PXAT <ms>``, INCRBYFLOAT becomes
``SET k <result> KEEPTTL``, GETEX becomes PEXPIREAT/PERSIST/DEL, GETDEL and
GETSET become DEL and SET. Those rewrites are set in ``c.propagate`` just before
a successful return.
"""

from ..errors import (
    CommandError,
    WRONGTYPE,
    NOT_INT,
    OVERFLOW,
    SYNTAX,
    NOT_FLOAT,
    NAN_INCR,
    INVALID_EXPIRE,
)
from ..keyspace.db import NOTIFY_STRING, NOTIFY_GENERIC
from ..keyspace.sizes import SHARED, SHARED_MAX, SHARED_MAX_LEN
from ..protocol.encoder import OK, INTS, Map
from ..util import parse_ll
from ..util import LLONG_MAX, LLONG_MIN, string2ld, ld_add, ld_format_human, LD_ZERO
from ..core.table import command

STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
_ONE = INTS[1]
_ZERO = INTS[0]


# ------------------------------------------------------------------ helpers
def string_value(c, key, read=True):
    """The string at ``key`` (bytes or bytearray), None if missing; WRONGTYPE otherwise.

    A counted read (``db.lookup_read``) unless ``read`` is false: a command that
    writes the key (INCRBYFLOAT) looks it up as a write, which counts nothing."""
    v = c.db.lookup_read(key) if read else c.db.lookup(key)
    if v is None or v.__class__ is bytes or v.__class__ is bytearray:
        return v
    raise CommandError(WRONGTYPE)


def check_string_length(c, size, append):
    """Redis's checkStringLength: refuse strings longer than proto-max-bulk-len."""
    if size + append > c.server.proto_max_bulk_len:
        raise CommandError(STRING_TOO_LONG)


def cstr_lower(b):
    """An option as C's strcasecmp sees it: lower-cased, cut at the first NUL byte."""
    i = b.find(b"\0")
    return (b if i < 0 else b[:i]).lower()


def _as_bytes(v):
    return v if v.__class__ is bytes else bytes(v)


# ---------------------------------------------------------------- GET / SET
@command("get")
def get(c, argv):
    v = c.db.lookup_get(argv[1])  # (a counted read: see lookup_get)
    if v is None:
        return None
    if v.__class__ is bytes:
        return v
    if v.__class__ is bytearray:
        return bytes(v)
    raise CommandError(WRONGTYPE)


@command("set")
def set_(c, argv):
    if len(argv) == 3:
        key = argv[1]
        db = c.db
        v = argv[2]
        if len(v) <= SHARED_MAX_LEN:
            shared = SHARED.get(v)
            if shared is not None:
                v = shared
            elif len(SHARED) < SHARED_MAX:
                SHARED[v] = v
        server = c.server
        server.dirty += 1
        if db.quiet and not (db.blocking or server.notify_flags) and db.lru_clock >= 0:
            # nothing watches the key: Database.set_pairs's shortcut, for one pair
            expires = db.expires
            if expires and key in expires:
                db.lookup(key)  # an expired key goes first, with its event
                expires.pop(key, None)  # (SET drops the TTL)
            db.data[key] = v
            db.lru[key] = db.lru_clock
            return OK
        if db.expires:
            db.lookup(key)  # an expired key goes first, with its event
        db.set(key, v)
        if server.notify_flags & NOTIFY_STRING:
            db.notify(NOTIFY_STRING, "set", key)
        return OK
    return _set_with_options(c, argv)


# Option flags of SET/GETEX (Redis's OBJ_* flags).
_NX, _XX, _EX, _PX, _KEEPTTL, _GET, _EXAT, _PXAT, _PERSIST = (1 << i for i in range(9))
_ANY_EXPIRE = _EX | _PX | _EXAT | _PXAT


def _parse_string_options(argv, start, for_set):
    """SET's (``for_set``) or GETEX's options -> (flags, expire_arg); SYNTAX on conflicts."""
    flags = 0
    expire = None
    j = start
    n = len(argv)
    while j < n:
        opt = cstr_lower(argv[j])
        has_next = j < n - 1
        if opt == b"nx" and for_set and not flags & _XX:
            flags |= _NX
        elif opt == b"xx" and for_set and not flags & _NX:
            flags |= _XX
        elif opt == b"get" and for_set:
            flags |= _GET
        elif opt == b"keepttl" and for_set and not flags & (_PERSIST | _ANY_EXPIRE):
            flags |= _KEEPTTL
        elif opt == b"persist" and not for_set and not flags & (_ANY_EXPIRE | _KEEPTTL):
            flags |= _PERSIST
        elif (
            opt in _EXPIRE_OPTS
            and has_next
            and not flags & (_KEEPTTL | _PERSIST | (_ANY_EXPIRE & ~_EXPIRE_OPTS[opt]))
        ):
            flags |= _EXPIRE_OPTS[opt]
            expire = argv[j + 1]
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    return flags, expire


_EXPIRE_OPTS = {b"ex": _EX, b"px": _PX, b"exat": _EXAT, b"pxat": _PXAT}


def _expire_ms(c, arg, flags):
    """The absolute expiry in ms that an EX/PX/EXAT/PXAT argument means (getExpireMilliseconds)."""
    ms = parse_ll(arg)
    if ms is None:
        raise CommandError(NOT_INT)
    seconds = flags & (_EX | _EXAT)
    if ms <= 0 or (seconds and ms > LLONG_MAX // 1000):
        raise CommandError(INVALID_EXPIRE % c.cmd.fullname)
    if seconds:
        ms *= 1000
    if flags & (_EX | _PX):
        ms += c.db.now()
        if ms > LLONG_MAX:
            raise CommandError(INVALID_EXPIRE % c.cmd.fullname)
    return ms


def _set_with_options(c, argv):
    flags, expire = _parse_string_options(argv, 3, True)
    return _set_generic(c, flags, argv[1], argv[2], expire, OK, None, argv)


def _set_generic(c, flags, key, val, expire, ok_reply, abort_reply, argv):
    """setGenericCommand: SET with options, SETNX, SETEX, PSETEX."""
    ms = _expire_ms(c, expire, flags) if expire is not None else 0
    db = c.db
    old = None
    if flags & _GET:
        old = string_value(c, key)
        if old is not None:
            old = _as_bytes(old)
    found = db.lookup(key) is not None
    if (flags & _NX and found) or (flags & _XX and not found):
        return old if flags & _GET else abort_reply
    db.set(key, val, keepttl=bool(flags & _KEEPTTL))
    server = c.server
    server.dirty += 1
    db.notify(NOTIFY_STRING, "set", key)
    if expire is not None:
        db.set_expire(key, ms)
        c.propagate = [[b"SET", key, val, b"PXAT", b"%d" % ms]]
        db.notify(NOTIFY_GENERIC, "expire", key)
    elif flags & _GET:
        # Replicated without GET (which may appear several times).
        c.propagate = [argv[:3] + [a for a in argv[3:] if cstr_lower(a) != b"get"]]
    return old if flags & _GET else ok_reply


@command("setnx")
def setnx(c, argv):
    return _set_generic(c, _NX, argv[1], argv[2], None, _ONE, _ZERO, argv)


@command("setex")
def setex(c, argv):
    return _set_generic(c, _EX, argv[1], argv[3], argv[2], OK, None, argv)


@command("psetex")
def psetex(c, argv):
    return _set_generic(c, _PX, argv[1], argv[3], argv[2], OK, None, argv)


@command("getset")
def getset(c, argv):
    key = argv[1]
    old = string_value(c, key)
    db = c.db
    db.set(key, argv[2])
    db.notify(NOTIFY_STRING, "set", key)
    c.server.dirty += 1
    c.propagate = [[b"SET", key, argv[2]]]
    return None if old is None else _as_bytes(old)


@command("getdel")
def getdel(c, argv):
    key = argv[1]
    old = string_value(c, key)
    if old is None:
        return None
    db = c.db
    db.delete(key)
    c.propagate = [[b"DEL", key]]
    db.notify(NOTIFY_GENERIC, "del", key)
    c.server.dirty += 1
    return _as_bytes(old)


@command("getex")
def getex(c, argv):
    flags, expire = _parse_string_options(argv, 2, False)
    key = argv[1]
    v = string_value(c, key)
    if v is None:
        return None
    ms = _expire_ms(c, expire, flags) if expire is not None else 0
    reply = _as_bytes(v)
    db = c.db
    if flags & (_EXAT | _PXAT) and ms <= db.now():
        db.delete(key)
        c.propagate = [[b"DEL", key]]
        db.notify(NOTIFY_GENERIC, "del", key)
        c.server.dirty += 1
    elif expire is not None:
        db.set_expire(key, ms)
        c.propagate = [[b"PEXPIREAT", key, b"%d" % ms]]
        db.signal(key)
        db.notify(NOTIFY_GENERIC, "expire", key)
        c.server.dirty += 1
    elif flags & _PERSIST:
        if db.persist(key):
            db.signal(key)
            c.propagate = [[b"PERSIST", key]]
            db.notify(NOTIFY_GENERIC, "persist", key)
            c.server.dirty += 1
    return reply


# -------------------------------------------------------------- MGET / MSET
@command("mget")
def mget(c, argv):
    lookup = c.db.lookup_read
    out = []
    for key in argv[1:]:
        v = lookup(key)
        if v is not None and v.__class__ is not bytes:
            v = bytes(v) if v.__class__ is bytearray else None
        out.append(v)
    return out


def _unpaired(c):
    """MSET/MSETNX with a key and no value: the arity error Redis gives."""
    return CommandError("ERR wrong number of arguments for '%s' command" % c.cmd.fullname)


@command("mset")
def mset(c, argv):
    if len(argv) % 2 == 0:
        raise _unpaired(c)
    c.db.set_pairs(argv)
    c.server.dirty += len(argv) >> 1  # (the pairs: len(argv) is odd)
    return OK


@command("msetnx")
def msetnx(c, argv):
    if len(argv) % 2 == 0:
        raise _unpaired(c)
    db = c.db
    for j in range(1, len(argv), 2):
        if db.lookup(argv[j]) is not None:
            return _ZERO
    db.set_pairs(argv)
    c.server.dirty += len(argv) >> 1
    return _ONE


# ------------------------------------------------------------------ counters
@command("incr")
def incr(c, argv):
    key = argv[1]
    db = c.db
    v = db.lookup(key)
    if v is None:
        db.add(key, b"1")
        n = 1
    else:
        if v.__class__ is bytes and v.isdigit() and len(v) < 19 and v[0] != 48:
            n = int(v) + 1  # canonical and below 10**18: the common case
        else:
            n = _counter_value(v)
            if n == LLONG_MAX:
                raise CommandError(OVERFLOW)
            n += 1
        db.data[key] = b"%d" % n
        if not db.quiet:
            db.signal(key)
    server = c.server
    server.dirty += 1
    if server.notify_flags & NOTIFY_STRING:
        db.notify(NOTIFY_STRING, "incrby", key)
    return n


def _counter_value(v):
    """The integer a stored value holds, for INCR and friends (string2ll rules)."""
    if v.__class__ is not bytes and v.__class__ is not bytearray:
        raise CommandError(WRONGTYPE)
    n = parse_ll(v)
    if n is None:
        raise CommandError(NOT_INT)
    return n


def _incr_by(c, key, by):
    db = c.db
    v = db.lookup(key)
    if v is None:
        n = by
    else:
        n = _counter_value(v) + by
        if n > LLONG_MAX or n < LLONG_MIN:
            raise CommandError(OVERFLOW)
    if v is None:
        db.add(key, b"%d" % n)
    else:
        db.replace_value(key, b"%d" % n)
        db.signal(key)
    c.server.dirty += 1
    db.notify(NOTIFY_STRING, "incrby", key)
    return n


@command("decr")
def decr(c, argv):
    return _incr_by(c, argv[1], -1)


@command("incrby")
def incrby(c, argv):
    by = parse_ll(argv[2])
    if by is None:
        raise CommandError(NOT_INT)
    return _incr_by(c, argv[1], by)


@command("decrby")
def decrby(c, argv):
    by = parse_ll(argv[2])
    if by is None:
        raise CommandError(NOT_INT)
    if by == LLONG_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr_by(c, argv[1], -by)


@command("incrbyfloat")
def incrbyfloat(c, argv):
    key = argv[1]
    v = string_value(c, key, False)
    if v is None:
        value = LD_ZERO
    else:
        value = string2ld(v)
        if value is None:
            raise CommandError(NOT_FLOAT)
    incr = string2ld(argv[2])
    if incr is None:
        raise CommandError(NOT_FLOAT)
    value = ld_add(value, incr)
    if value.__class__ is float:  # inf or nan
        raise CommandError(NAN_INCR)
    new = ld_format_human(value)
    db = c.db
    if v is None:
        db.add(key, new)
    else:
        db.replace_value(key, new)
        db.signal(key)
    db.notify(NOTIFY_STRING, "incrbyfloat", key)
    c.server.dirty += 1
    # Replicated as the resulting value, so float formatting can never diverge.
    c.propagate = [[b"SET", key, new, b"KEEPTTL"]]
    return new


# -------------------------------------------------------------- in-place edits
@command("append")
def append(c, argv):
    key, tail = argv[1], argv[2]
    db = c.db
    v = db.lookup(key)
    if v is None:
        db.add(key, tail)
        total = len(tail)
    else:
        if v.__class__ is bytearray:
            check_string_length(c, len(v), len(tail))
            v += tail
        elif v.__class__ is bytes:
            check_string_length(c, len(v), len(tail))
            v = bytearray(v)
            v += tail
            db.replace_value(key, v)
        else:
            raise CommandError(WRONGTYPE)
        total = len(v)
        db.signal(key)
    db.notify(NOTIFY_STRING, "append", key)
    c.server.dirty += 1
    return total


@command("strlen")
def strlen(c, argv):
    v = string_value(c, argv[1])
    return 0 if v is None else len(v)


@command("getrange")
def getrange(c, argv):
    start = parse_ll(argv[2])
    end = parse_ll(argv[3])
    if start is None or end is None:
        raise CommandError(NOT_INT)
    v = string_value(c, argv[1])
    if v is None:
        return b""
    n = len(v)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return b""
    return bytes(v[start : end + 1])


@command("substr")
def substr(c, argv):
    return getrange(c, argv)


@command("setrange")
def setrange(c, argv):
    key, value = argv[1], argv[3]
    offset = parse_ll(argv[2])
    if offset is None:
        raise CommandError(NOT_INT)
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    db = c.db
    v = db.lookup(key)
    vlen = len(value)
    if v is None:
        if not vlen:
            return 0
        check_string_length(c, offset, vlen)
        v = bytearray(offset)
        v += value
        db.add(key, v)
    else:
        if v.__class__ is not bytearray:
            if v.__class__ is not bytes:
                raise CommandError(WRONGTYPE)
            if not vlen:
                return len(v)
            check_string_length(c, offset, vlen)
            v = bytearray(v)
            db.replace_value(key, v)
        else:
            if not vlen:
                return len(v)
            check_string_length(c, offset, vlen)
        grow = offset - len(v)
        if grow > 0:
            v.extend(bytes(grow))
        v[offset : offset + vlen] = value
        db.signal(key)
    db.notify(NOTIFY_STRING, "setrange", key)
    c.server.dirty += 1
    return len(v)


# ----------------------------------------------------------------------- LCS
def _lcs_rows(a, b):
    """Bit-parallel LCS table (Allison-Dix / Hyyro): one big int per row.

    Row ``i`` describes LCS(a[:i], b[:j]) for every j at once: bit ``j-1`` is
    clear exactly when LCS(i, j) == LCS(i, j-1) + 1. Building it costs
    O(len(a) * len(b) / wordsize); the whole table takes len(a)*len(b)/8 bytes.
    """
    m = len(b)
    full = (1 << m) - 1
    masks = {}
    if m:
        rev = bytes(b[::-1])
        for ch in set(rev):
            # Bit j of the mask is set where b[j] == ch (position j is bit j: LSB first).
            table = bytearray(b"0" * 256)
            table[ch] = 49  # "1"
            masks[ch] = int(rev.translate(table), 2)
    v = full
    rows = [v]
    append = rows.append
    get = masks.get
    for ch in a:
        u = v & get(ch, 0)
        v = ((v + u) | (v - u)) & full
        append(v)
    return rows


@command("lcs")
def lcs(c, argv):
    db = c.db
    oa = db.lookup_read(argv[1])
    ob = db.lookup_read(argv[2])
    if (oa is not None and oa.__class__ is not bytes and oa.__class__ is not bytearray) or (
        ob is not None and ob.__class__ is not bytes and ob.__class__ is not bytearray
    ):
        raise CommandError("ERR The specified keys must contain string values")
    a = b"" if oa is None else bytes(oa)
    b = b"" if ob is None else bytes(ob)
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 3
    n = len(argv)
    while j < n:
        opt = cstr_lower(argv[j])
        if opt == b"idx":
            getidx = True
        elif opt == b"len":
            getlen = True
        elif opt == b"withmatchlen":
            withmatchlen = True
        elif opt == b"minmatchlen" and j < n - 1:
            minmatchlen = parse_ll(argv[j + 1])
            if minmatchlen is None:
                raise CommandError(NOT_INT)
            if minmatchlen < 0:
                minmatchlen = 0
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if getlen and getidx:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    alen, blen = len(a), len(b)
    if (alen + 1) * (blen + 1) * 4 > c.server.proto_max_bulk_len:
        raise CommandError(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        )
    rows = _lcs_rows(a, b)
    total = blen - rows[alen].bit_count()
    if getlen and not getidx:
        return total
    # Walk back from (alen, blen) exactly like Redis, so ties pick the same path.
    result = bytearray(total)
    idx = total
    cur = total  # LCS(i, j) at the current cell
    matches = []
    i, j = alen, blen
    astart = alen  # alen: no range open
    aend = bstart = bend = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[idx - 1] = a[i - 1]
            if astart == alen:
                astart = aend = i - 1
                bstart = bend = j - 1
            elif astart == i and bstart == j:
                astart -= 1
                bstart -= 1
            else:
                emit = True
            if astart == 0 or bstart == 0:
                emit = True
            idx -= 1
            i -= 1
            j -= 1
            cur -= 1
        else:
            # LCS(i, j-1) == cur when bit j-1 of row i is set; then Redis goes left.
            if (rows[i] >> (j - 1)) & 1:
                j -= 1
            else:
                i -= 1
            if astart != alen:
                emit = True
        if emit:
            mlen = aend - astart + 1
            if getidx and (minmatchlen == 0 or mlen >= minmatchlen):
                item = [[astart, aend], [bstart, bend]]
                if withmatchlen:
                    item.append(mlen)
                matches.append(item)
            astart = alen
    if getidx:
        return Map([b"matches", matches, b"len", total])
    return bytes(result)
