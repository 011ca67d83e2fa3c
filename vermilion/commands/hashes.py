"""Hash commands (t_hash.c): HSET, HGET, HINCRBY, HRANDFIELD, HSCAN and friends.

Values are :class:`~vermilion.types.hash.RHash` (a dict that knows whether
Redis would hold it as a listpack or a hashtable) or, at rest,
:class:`~vermilion.types.hash.PackedHash` (read-only, packed like a listpack).
The readers take either; a writer turns a packed hash into an RHash first
(:func:`_unpacked`), and an HSET that creates its key leaves it packed when it
can be. The writers keep the encoding flag right: every field/value longer than
``hash-max-listpack-value`` or a field count above ``hash-max-listpack-entries``
turns the hash into a hashtable for good, exactly when Redis converts it. Both
limits are read from the server (``server.hash_max_listpack_entries`` /
``_value``), kept current by CONFIG SET.

A few argument helpers defined here are shared by other families (sets, zsets,
keys): :func:`get_long` (Redis's getRangeLongFromObjectOrReply),
:func:`parse_scan_options` and :func:`matcher` (the *SCAN options) and
:func:`bulk_array`. Keep their signatures stable.
"""

import random

from ..errors import CommandError, WRONGTYPE, SYNTAX, NOT_INT, OVERFLOW
from ..globmatch import compile as glob_compile
from ..keyspace.db import NOTIFY_HASH, NOTIFY_GENERIC
from ..keyspace.scan import scan_keys, parse_cursor
from ..protocol.encoder import OK, EMPTY_ARRAY, INTS, Map, Raw
from ..util import parse_ll
from ..core.bootstrap import on_server_init
from ..types.hash import RHash, PackedHash, pack_flat
from ..util import string2ld, ld_add, ld_is_finite, ld_format_human, ld_from_int
from ..core.table import command
from ..util import LLONG_MAX as _LONG_MAX

_ZERO = INTS[0]
_ONE = INTS[1]
_EMPTY_SCAN = Raw(b"*2\r\n$1\r\n0\r\n*0\r\n")


# ------------------------------------------------------------------ config
@on_server_init
def _init(server):
    cfg = server.config

    def apply(_value=None):
        server.hash_max_listpack_entries = cfg.get_int("hash-max-listpack-entries")
        server.hash_max_listpack_value = cfg.get_int("hash-max-listpack-value")

    apply()
    for name in ("hash-max-listpack-entries", "hash-max-listpack-value"):
        cfg.add_hook(name, apply)


# ----------------------------------------------------------------- helpers
def get_long(b, lo, hi, msg=None):
    """getRangeLongFromObjectOrReply: an integer argument within [lo, hi]."""
    v = parse_ll(b)
    if v is None:
        raise CommandError(msg or NOT_INT)
    if v < lo or v > hi:
        raise CommandError(
            msg or "ERR value is out of range, value must between %d and %d" % (lo, hi)
        )
    return v


def _hash_for_write(c, key):
    """hashTypeLookupWriteOrCreate without the create: the hash (an RHash), or
    None if missing."""
    h = c.db.lookup(key)
    if h is not None and h.__class__ is not RHash:
        h = _unpacked(c.db, key, h)
    return h


def _unpacked(db, key, h):
    """The hash ``h`` stored at ``key``, as an RHash to write to (WRONGTYPE if it
    is not a hash); a packed hash is unpacked in place, for good."""
    if h.__class__ is not PackedHash:
        raise CommandError(WRONGTYPE)
    h = h.unpack()
    db.replace_value(key, h)
    return h


def _packed_new(argv, server):
    """The hash HSET ``argv`` creates, packed, if its pairs make a listpack by
    Redis's rules (no more than hash-max-listpack-entries fields, none of them
    or their values longer than hash-max-listpack-value) with distinct fields
    that fit a PackedHash; else None, and HSET builds an RHash."""
    flat = argv[2:]
    n = len(flat) >> 1
    if n > server.hash_max_listpack_entries:
        return None
    if n > 1 and len(set(flat[0::2])) != n:
        return None
    return pack_flat(flat, server.hash_max_listpack_value)


def _read(c, key):
    """The hash at ``key`` to read (an RHash or a PackedHash), or None."""
    h = c.db.lookup_read(key)
    if h is not None and h.__class__ is not RHash and h.__class__ is not PackedHash:
        raise CommandError(WRONGTYPE)
    return h


def _write_field(c, h, key, field, value, event):
    """Write one field (creating the hash when ``h`` is None), then signal, notify
    and count it: hashTypeSet with its conversion checks, for HSETNX and HINCRBY*."""
    db = c.db
    server = c.server
    if h is None:
        h = RHash()
        db.add(key, h)
    if h.listpack:
        maxv = server.hash_max_listpack_value
        if len(field) > maxv or len(value) > maxv:
            h.listpack = False
    n = len(h)
    h[field] = value
    if len(h) != n:
        h._snap = None
        if h.listpack and len(h) > server.hash_max_listpack_entries:
            h.listpack = False
    db.signal(key)
    db.notify(NOTIFY_HASH, event, key)
    server.dirty += 1


# ------------------------------------------------------------------ writes
@command("hset")
def hset(c, argv, name="hset"):
    """HSET (and HMSET): write field/value pairs; the number of new fields."""
    n = len(argv)
    if n & 1:
        raise CommandError("ERR wrong number of arguments for '%s' command" % name)
    db = c.db
    key = argv[1]
    h = db.lookup(key)
    server = c.server
    if h is None:
        p = _packed_new(argv, server)
        if p is not None:  # a new hash that rests packed (types/hash.py)
            db.add(key, p)  # (which signals the key)
            if server.notify_flags & NOTIFY_HASH:
                db.notify(NOTIFY_HASH, "hset", key)
            server.dirty += (n - 2) >> 1
            return len(p)
        h = RHash()
        db.add(key, h)
    elif h.__class__ is not RHash:
        h = _unpacked(db, key, h)
    before = len(h)
    if n == 4:
        field = argv[2]
        value = argv[3]
        if h.listpack:
            maxv = server.hash_max_listpack_value
            if len(field) > maxv or len(value) > maxv:
                h.listpack = False
        h[field] = value
    else:
        if h.listpack:
            maxv = server.hash_max_listpack_value
            for i in range(2, n):
                if len(argv[i]) > maxv:
                    h.listpack = False
                    break
        for i in range(2, n, 2):
            h[argv[i]] = argv[i + 1]
    created = len(h) - before
    if created:
        h._snap = None
        if h.listpack and len(h) > server.hash_max_listpack_entries:
            h.listpack = False
    if not db.quiet:  # (signalModifiedKey)
        db.signal(key)
    if server.notify_flags & NOTIFY_HASH:
        db.notify(NOTIFY_HASH, "hset", key)
    server.dirty += (n - 2) >> 1
    return created


@command("hmset")
def hmset(c, argv):
    hset(c, argv, "hmset")
    return OK


@command("hsetnx")
def hsetnx(c, argv):
    key = argv[1]
    h = _hash_for_write(c, key)
    if h is not None and argv[2] in h:
        return _ZERO
    _write_field(c, h, key, argv[2], argv[3], "hset")
    return _ONE


@command("hincrby")
def hincrby(c, argv):
    incr = parse_ll(argv[3])
    if incr is None:
        raise CommandError(NOT_INT)
    key, field = argv[1], argv[2]
    h = _hash_for_write(c, key)
    value = 0
    if h is not None:
        cur = h.get(field)
        if cur is not None:
            value = parse_ll(cur)
            if value is None:
                raise CommandError("ERR hash value is not an integer")
    value += incr
    if value > _LONG_MAX or value < -_LONG_MAX - 1:
        raise CommandError(OVERFLOW)
    _write_field(c, h, key, field, b"%d" % value, "hincrby")
    return value


@command("hincrbyfloat")
def hincrbyfloat(c, argv):
    incr = string2ld(argv[3])
    if incr is None:
        raise CommandError("ERR value is not a valid float")
    if not ld_is_finite(incr):
        raise CommandError("ERR value is NaN or Infinity")
    key, field = argv[1], argv[2]
    h = _hash_for_write(c, key)
    value = ld_from_int(0)
    if h is not None:
        cur = h.get(field)
        if cur is not None:
            value = string2ld(cur)
            if value is None:
                raise CommandError("ERR hash value is not a float")
    value = ld_add(value, incr)
    if not ld_is_finite(value):
        raise CommandError("ERR increment would produce NaN or Infinity")
    new = ld_format_human(value)
    _write_field(c, h, key, field, new, "hincrbyfloat")
    # Replicated as HSET with the final value, so float formatting can never differ.
    c.propagate = [[b"HSET", key, field, new]]
    return new


@command("hdel")
def hdel(c, argv):
    db = c.db
    key = argv[1]
    h = db.lookup(key)
    if h is None:
        return _ZERO
    if h.__class__ is not RHash:
        h = _unpacked(db, key, h)
    deleted = 0
    removed = False
    pop = h.pop
    for i in range(2, len(argv)):
        if pop(argv[i], None) is not None:
            deleted += 1
            if not h:
                db.delete(key)
                removed = True
                break
    if deleted:
        db.signal(key)
        db.notify(NOTIFY_HASH, "hdel", key)
        if removed:
            db.notify(NOTIFY_GENERIC, "del", key)
        c.server.dirty += deleted
    return deleted


# ------------------------------------------------------------------- reads
@command("hget")
def hget(c, argv):
    h = c.db.lookup_read(argv[1])
    if h is None:
        return None
    if h.__class__ is not RHash and h.__class__ is not PackedHash:
        raise CommandError(WRONGTYPE)
    return h.get(argv[2])


@command("hmget")
def hmget(c, argv):
    h = _read(c, argv[1])
    if h is None:
        return [None] * (len(argv) - 2)
    get = h.get
    return [get(f) for f in argv[2:]]


@command("hlen")
def hlen(c, argv):
    h = _read(c, argv[1])
    return 0 if h is None else len(h)


@command("hexists")
def hexists(c, argv):
    h = _read(c, argv[1])
    return _ONE if h is not None and argv[2] in h else _ZERO


@command("hstrlen")
def hstrlen(c, argv):
    h = _read(c, argv[1])
    if h is None:
        return 0
    v = h.get(argv[2])
    return 0 if v is None else len(v)


def bulk_array(items, header):
    """Pre-encoded reply: ``header`` then each item as a bulk string."""
    parts = [header]
    add = parts.append
    for x in items:
        add(b"$%d\r\n%s\r\n" % (len(x), x))
    return Raw(b"".join(parts))


@command("hkeys")
def hkeys(c, argv):
    h = _read(c, argv[1])
    if h is None:
        return EMPTY_ARRAY
    return bulk_array(h, b"*%d\r\n" % len(h))


@command("hvals")
def hvals(c, argv):
    h = _read(c, argv[1])
    if h is None:
        return EMPTY_ARRAY
    return bulk_array(h.values(), b"*%d\r\n" % len(h))


@command("hgetall")
def hgetall(c, argv):
    h = _read(c, argv[1])
    if h is None:
        return Map()
    parts = [b"*%d\r\n" % (2 * len(h)) if c.resp == 2 else b"%%%d\r\n" % len(h)]
    add = parts.append
    for k, v in h.items():
        add(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    return Raw(b"".join(parts))


# -------------------------------------------------------------- HRANDFIELD
_SUB_STRATEGY_MUL = 3


def _pairs_reply(c, fields, h, withvalues):
    """HRANDFIELD's reply for a list of fields: flat, or [field, value] pairs in RESP3."""
    if not withvalues:
        return bulk_array(fields, b"*%d\r\n" % len(fields))
    parts = []
    add = parts.append
    if c.resp == 2:
        add(b"*%d\r\n" % (2 * len(fields)))
        for f in fields:
            v = h[f]
            add(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(f), f, len(v), v))
    else:
        add(b"*%d\r\n" % len(fields))
        for f in fields:
            v = h[f]
            add(b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(f), f, len(v), v))
    return Raw(b"".join(parts))


@command("hrandfield")
def hrandfield(c, argv):
    n = len(argv)
    if n >= 3:
        count = get_long(argv[2], -_LONG_MAX, _LONG_MAX)
        withvalues = False
        if n > 4 or (n == 4 and argv[3].lower() != b"withvalues"):
            raise CommandError(SYNTAX)
        if n == 4:
            withvalues = True
            if count < -(_LONG_MAX // 2) or count > _LONG_MAX // 2:
                raise CommandError("ERR value is out of range")
        return _hrandfield_count(c, argv[1], count, withvalues)
    h = _read(c, argv[1])
    if h is None:
        return None
    return h.random_field()


def _hrandfield_count(c, key, count, withvalues):
    h = _read(c, key)
    if h is None or count == 0:
        return EMPTY_ARRAY
    size = len(h)
    uniq = count > 0
    if not uniq:
        count = -count
    # Case 1: negative count (repetitions allowed) or a single field: independent picks.
    if not uniq or count == 1:
        if h.listpack:
            fields = list(h)
            fields = [fields[int(random.random() * size)] for _ in range(count)]
        else:
            pick = h.random_field
            fields = [pick() for _ in range(count)]
        return _pairs_reply(c, fields, h, withvalues)
    # Case 2: asking for at least everything: the whole hash, in its order.
    if count >= size:
        return _pairs_reply(c, list(h), h, withvalues)
    # Case 4 on a listpack: a random subset kept in listpack order.
    if h.listpack and count * _SUB_STRATEGY_MUL <= size:
        keys = list(h)
        idx = sorted(random.sample(range(size), count))
        return _pairs_reply(c, [keys[i] for i in idx], h, withvalues)
    # Case 3 (most of the hash) and case 4 on a hashtable: distinct random fields.
    return _pairs_reply(c, h.random_fields_unique(count), h, withvalues)


# ------------------------------------------------------------------- HSCAN
def parse_scan_options(argv, start):
    """scanGenericCommand's COUNT/MATCH options (no TYPE for element scans)."""
    count = 10
    pattern = None
    i = start
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        more = n - i
        if opt == b"count" and more >= 2:
            count = parse_ll(argv[i + 1])
            if count is None:
                raise CommandError(NOT_INT)
            if count < 1:
                raise CommandError(SYNTAX)
            i += 2
        elif opt == b"match" and more >= 2:
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None
            i += 2
        else:
            raise CommandError(SYNTAX)
    return count, pattern


def matcher(pattern):
    """A MATCH pattern as a predicate on bytes."""
    return glob_compile(pattern).match


@command("hscan")
def hscan(c, argv):
    cursor = parse_cursor(argv[2])
    h = _read(c, argv[1])
    if h is None:
        return _EMPTY_SCAN
    count, pattern = parse_scan_options(argv, 3)
    if h.listpack:
        cursor, fields = 0, list(h)
    else:
        cursor, fields = scan_keys(c.server, h, cursor, count)
    if pattern is not None:
        m = matcher(pattern)
        fields = [f for f in fields if m(f)]
    out = []
    for f in fields:
        out.append(f)
        out.append(h[f])
    return [b"%d" % cursor, out]
