"""Set commands (t_set.c): SADD, SPOP, SINTER, SUNIONSTORE, SSCAN and friends.

Values are :class:`~vermilion.types.set.RSet` (a set that knows whether Redis
would hold it as an intset or a hashtable). Intsets iterate in ascending numeric
order, and every reply that walks a set walks it in that order, so replies about
small integer sets are byte-identical with Redis's. Results built from scratch
(SUNION, SDIFF, the *STORE variants, SPOP of everything) get the encoding Redis
gives a fresh set filled one member at a time.

The random commands follow t_set.c's case structure (negative counts repeat
members, counts close to the size take "remove what we don't return" paths...)
so the shape of every answer matches; picks are O(1) via the set's sample list.
"""

from ..errors import CommandError, WRONGTYPE, SYNTAX
from ..keyspace.db import NOTIFY_SET, NOTIFY_GENERIC
from ..keyspace.scan import scan_keys, parse_cursor
from ..protocol.encoder import EMPTY_ARRAY, INTS, Raw
from ..core.bootstrap import on_server_init
from ..types.set import RSet, PackedSet, pack_members, intset_ok, INTSET_HARD_LIMIT
from .hashes import get_long, parse_scan_options, matcher, bulk_array
from ..core.table import command
from ..util import LLONG_MAX as _LONG_MAX

_ZERO = INTS[0]
_ONE = INTS[1]
_EMPTY_SCAN = Raw(b"*2\r\n$1\r\n0\r\n*0\r\n")
_EMPTY_SET = {2: Raw(b"*0\r\n"), 3: Raw(b"~0\r\n")}


@on_server_init
def _init(server):
    cfg = server.config

    def apply(_value=None):
        server.set_max_intset_entries = min(
            cfg.get_int("set-max-intset-entries"), INTSET_HARD_LIMIT
        )

    apply()
    cfg.add_hook("set-max-intset-entries", apply)


def _read(c, key, read=True, packed=False):
    """The set at ``key``, None if missing; WRONGTYPE otherwise. A counted read
    (Database.lookup_read) unless ``read`` is false (SPOP's count form writes).
    An RSet, or a PackedSet as it is if ``packed`` (the caller only asks for its
    length, membership and ``ordered()``)."""
    s = c.db.lookup_read(key) if read else c.db.lookup(key)
    if s is not None and s.__class__ is not RSet:
        if packed and s.__class__ is PackedSet:
            return s
        s = unpacked_set(c.db, key, s)
    return s


def unpacked_set(db, key, s):
    """The value ``s`` stored at ``key``, a set, as an RSet (WRONGTYPE if it is
    not a set); a packed one is unpacked in place, for good."""
    if s.__class__ is not PackedSet:
        raise CommandError(WRONGTYPE)
    s = s.unpack()
    db.replace_value(key, s)
    return s


def _packed_new(members, server):
    """The set SADD ``members`` creates, packed, if Redis would make it a
    hashtable and its members fit a PackedSet; else None, and SADD builds an RSet."""
    distinct = list(dict.fromkeys(members))
    if intset_ok(distinct, server.set_max_intset_entries):
        return None
    return pack_members(distinct)


def _set_reply(c, members):
    """A set reply (RESP3 ``~``) of ``members``, already in reply order."""
    return bulk_array(members, (b"*%d\r\n" if c.resp == 2 else b"~%d\r\n") % len(members))


def _array_reply(members):
    return bulk_array(members, b"*%d\r\n" % len(members))


def _fresh_order(members, max_intset):
    """Reply order of a set built from scratch: sorted if it would be an intset."""
    if intset_ok(members, max_intset):
        return sorted(members, key=int)
    return list(members)


# ------------------------------------------------------------------ writes
@command("sadd")
def sadd(c, argv):
    db = c.db
    key = argv[1]
    s = db.lookup(key)
    if s is None:
        p = _packed_new(argv[2:], c.server)
        if p is not None:  # a new set that rests packed (types/set.py)
            db.add(key, p)  # (which signals the key)
            if c.server.notify_flags & NOTIFY_SET:
                db.notify(NOTIFY_SET, "sadd", key)
            c.server.dirty += len(p)
            return len(p)
        s = RSet()
        db.add(key, s)
    elif s.__class__ is not RSet:
        s = unpacked_set(db, key, s)
    before = len(s)
    if len(argv) == 3:
        s.add(argv[2])
    else:
        s.update(argv[2:])
    added = len(s) - before
    if added:
        s._snap = None
        server = c.server
        if s.intset:
            s.note_added(argv[2:], server.set_max_intset_entries)
        if not db.quiet:  # (signalModifiedKey)
            db.signal(key)
        if server.notify_flags & NOTIFY_SET:
            db.notify(NOTIFY_SET, "sadd", key)
        server.dirty += added
    return added


@command("srem")
def srem(c, argv):
    db = c.db
    key = argv[1]
    s = db.lookup(key)
    if s is None:
        return _ZERO
    if s.__class__ is not RSet:
        s = unpacked_set(db, key, s)
    deleted = 0
    removed = False
    discard = s.discard
    for i in range(2, len(argv)):
        n = len(s)
        discard(argv[i])
        if len(s) != n:
            deleted += 1
            if not s:
                db.delete(key)
                removed = True
                break
    if deleted:
        db.signal(key)
        db.notify(NOTIFY_SET, "srem", key)
        if removed:
            db.notify(NOTIFY_GENERIC, "del", key)
        c.server.dirty += deleted
    return deleted


@command("smove")
def smove(c, argv):
    db = c.db
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    src = db.lookup(src_key)
    dst = db.lookup(dst_key)
    if src is None:
        return _ZERO
    if dst is not None and dst.__class__ is not RSet:
        if dst.__class__ is not PackedSet:
            raise CommandError(WRONGTYPE)
    if src.__class__ is not RSet:
        same = dst is src
        src = unpacked_set(db, src_key, src)
        if same:
            dst = src
    if dst is not None and dst.__class__ is not RSet:
        dst = unpacked_set(db, dst_key, dst)
    if src is dst:
        return _ONE if member in src else _ZERO
    if member not in src:
        return _ZERO
    src.discard(member)
    db.notify(NOTIFY_SET, "srem", src_key)
    if not src:
        db.delete(src_key)
        db.notify(NOTIFY_GENERIC, "del", src_key)
    if dst is None:
        dst = RSet()
        db.add(dst_key, dst)
    db.signal(src_key)
    server = c.server
    server.dirty += 1
    if member not in dst:
        dst.add(member)
        dst.note_added((member,), server.set_max_intset_entries)
        server.dirty += 1
        db.signal(dst_key)
        db.notify(NOTIFY_SET, "sadd", dst_key)
    return _ONE


# ------------------------------------------------------------------- reads
@command("scard")
def scard(c, argv):
    s = _read(c, argv[1], packed=True)
    return 0 if s is None else len(s)


@command("sismember")
def sismember(c, argv):
    s = c.db.lookup_read(argv[1])
    if s is None:
        return _ZERO
    if s.__class__ is not RSet and s.__class__ is not PackedSet:
        raise CommandError(WRONGTYPE)
    return _ONE if argv[2] in s else _ZERO


@command("smismember")
def smismember(c, argv):
    s = _read(c, argv[1], packed=True)
    if s is None:
        return Raw(b"*%d\r\n" % (len(argv) - 2) + b":0\r\n" * (len(argv) - 2))
    return Raw(
        b"*%d\r\n" % (len(argv) - 2)
        + b"".join([b":1\r\n" if m in s else b":0\r\n" for m in argv[2:]])
    )


@command("smembers")
def smembers(c, argv):
    s = _read(c, argv[1], packed=True)
    if s is None:
        return _EMPTY_SET[c.resp]
    return _set_reply(c, s.ordered())


# ------------------------------------------------------------- SPOP / SRANDMEMBER
_SPOP_MOVE_STRATEGY_MUL = 5
_SRANDMEMBER_SUB_STRATEGY_MUL = 3


@command("spop")
def spop(c, argv):
    if len(argv) == 3:
        return _spop_count(c, argv)
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    db = c.db
    key = argv[1]
    s = db.lookup(key)
    if s is None:
        return None
    if s.__class__ is not RSet:
        s = unpacked_set(db, key, s)
    m = s.random_member()
    s.discard(m)
    server = c.server
    if server.notify_flags & NOTIFY_SET:
        db.notify(NOTIFY_SET, "spop", key)
    c.propagate = [[b"SREM", key, m]]
    if not s:
        db.delete(key)
        db.notify(NOTIFY_GENERIC, "del", key)
    if not db.quiet:  # (signalModifiedKey)
        db.signal(key)
    server.dirty += 1
    return m


def _spop_count(c, argv):
    count = get_long(argv[2], 0, _LONG_MAX, "ERR value is out of range, must be positive")
    db = c.db
    key = argv[1]
    s = _read(c, key, False)
    if s is None or count == 0:
        return _EMPTY_SET[c.resp]
    size = len(s)
    server = c.server
    db.notify(NOTIFY_SET, "spop", key)
    server.dirty += min(count, size)
    # Case 1: everything goes; answered like SUNION of the one set, replicated as DEL.
    if count >= size:
        members = _fresh_order(s, server.set_max_intset_entries)
        db.delete(key)
        db.notify(NOTIFY_GENERIC, "del", key)
        c.propagate = [[b"DEL", key]]
        db.signal(key)
        return _set_reply(c, members)
    remaining = size - count
    if remaining * _SPOP_MOVE_STRATEGY_MUL > count:
        # Case 2: few to pop: pick them at random, in pick order.
        popped = s.random_members_unique(count)
        s.difference_update(popped)
    else:
        # Case 3: few to keep: pick those, and hand out the rest in the set's order.
        kept = s.random_members_unique(remaining)
        keep = set(kept)
        popped = [m for m in s.ordered() if m not in keep]
        # Redis builds a new set from the kept members, so the encoding is fresh.
        s.intersection_update(keep)
        s._snap = None
        s.intset = intset_ok(s, server.set_max_intset_entries)
    c.propagate = [[b"SREM", key, m] for m in popped]
    db.signal(key)
    return _set_reply(c, popped)


@command("srandmember")
def srandmember(c, argv):
    if len(argv) == 3:
        return _srandmember_count(c, argv)
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    s = _read(c, argv[1])
    if s is None:
        return None
    return s.random_member()


def _srandmember_count(c, argv):
    count = get_long(argv[2], -_LONG_MAX, _LONG_MAX)
    s = _read(c, argv[1])
    if s is None or count == 0:
        return EMPTY_ARRAY
    size = len(s)
    # Case 1: negative count (repetitions allowed) or one member: independent picks.
    if count < 0 or count == 1:
        n = -count if count < 0 else 1
        pick = s.random_member
        return _array_reply([pick() for _ in range(n)])
    # Case 2: at least the whole set: all of it in the set's order.
    if count >= size:
        return _array_reply(s.ordered())
    # Cases 3 and 4: distinct random members.
    return _array_reply(s.random_members_unique(count))


# ------------------------------------------------------------ SINTER family
def _lookup_sets(c, keys):
    """The sets at ``keys`` (None for missing ones); WRONGTYPE at the first non-set."""
    out = []
    lookup = c.db.lookup_read
    for k in keys:
        s = lookup(k)
        if s is not None and s.__class__ is not RSet:
            s = unpacked_set(c.db, k, s)
        out.append(s)
    return out


def _intersection(sets, limit=0):
    """Members of all ``sets`` (none missing), in the order of the smallest one."""
    sets = sorted(sets, key=len)
    first = sets[0]
    others = [s for s in sets[1:] if s is not first]
    if limit:
        n = 0
        for m in first:
            for o in others:
                if m not in o:
                    break
            else:
                n += 1
                if n >= limit:
                    break
        return n
    if others:
        common = first.intersection(*others)
    else:
        common = first
    if first.intset:
        return sorted(common, key=int)
    if common is first:
        return list(first)
    return list(common)


def _store(c, dst_key, members, event, max_intset, intset=None):
    """Write a computed set to ``dst_key`` (or delete it when empty); the reply."""
    db = c.db
    server = c.server
    if members:
        s = RSet(members)
        s.intset = intset_ok(s, max_intset) if intset is None else intset
        db.set(dst_key, s)
        db.notify(NOTIFY_SET, event, dst_key)
        server.dirty += 1
        return len(s)
    if db.delete(dst_key):
        server.dirty += 1
        db.notify(NOTIFY_GENERIC, "del", dst_key)
    return _ZERO


def _sinter(c, keys, dst_key=None, card_only=False, limit=0):
    sets = _lookup_sets(c, keys)
    if None in sets:
        if dst_key is not None:
            return _store(c, dst_key, (), "sinterstore", 0)
        if card_only:
            return _ZERO
        return _EMPTY_SET[c.resp]
    if card_only:
        if limit:
            return _intersection(sets, limit)
        return len(_intersection(sets))
    members = _intersection(sets)
    if dst_key is not None:
        return _store(c, dst_key, members, "sinterstore", c.server.set_max_intset_entries)
    return _set_reply(c, members)


@command("sinter")
def sinter(c, argv):
    return _sinter(c, argv[1:])


@command("sinterstore")
def sinterstore(c, argv):
    return _sinter(c, argv[2:], dst_key=argv[1])


@command("sintercard")
def sintercard(c, argv):
    numkeys = get_long(argv[1], 1, _LONG_MAX, "ERR numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    j = 2 + numkeys
    n = len(argv)
    while j < n:
        if argv[j].lower() == b"limit" and j < n - 1:
            j += 1
            limit = get_long(argv[j], 0, _LONG_MAX, "ERR LIMIT can't be negative")
        else:
            raise CommandError(SYNTAX)
        j += 1
    return _sinter(c, argv[2 : 2 + numkeys], card_only=True, limit=limit)


def _union_diff(c, keys, dst_key, diff):
    sets = _lookup_sets(c, keys)
    max_intset = c.server.set_max_intset_entries
    intset = None
    first = sets[0]
    if not diff:
        present = [s for s in sets if s is not None]
        if not present:
            result = ()
        elif len(present) == 1:
            result = present[0]
        else:
            result = set().union(*present)
    elif first is None or any(s is first for s in sets[1:]):
        result = ()
    else:
        others = [s for s in sets[1:] if s is not None]
        # Redis picks between two algorithms; the second one first copies the whole
        # first set into the result, which can turn it into a hashtable for good.
        present = [s for s in sets if s is not None]
        algo_one = len(first) * len(present) // 2
        algo_two = sum(len(s) for s in present)
        result = first.difference(*others) if others else first
        if algo_one > algo_two and result and not intset_ok(first, max_intset):
            intset = False
    if dst_key is not None:
        return _store(
            c, dst_key, result, "sdiffstore" if diff else "sunionstore", max_intset, intset
        )
    if intset is False:
        return _set_reply(c, list(result))
    members = _fresh_order(result, max_intset)
    return _set_reply(c, members)


@command("sunion")
def sunion(c, argv):
    return _union_diff(c, argv[1:], None, False)


@command("sunionstore")
def sunionstore(c, argv):
    return _union_diff(c, argv[2:], argv[1], False)


@command("sdiff")
def sdiff(c, argv):
    return _union_diff(c, argv[1:], None, True)


@command("sdiffstore")
def sdiffstore(c, argv):
    return _union_diff(c, argv[2:], argv[1], True)


# ------------------------------------------------------------------- SSCAN
@command("sscan")
def sscan(c, argv):
    cursor = parse_cursor(argv[2])
    s = _read(c, argv[1])
    if s is None:
        return _EMPTY_SCAN
    count, pattern = parse_scan_options(argv, 3)
    if s.intset:
        cursor, members = 0, s.ordered()
    else:
        cursor, members = scan_keys(c.server, s, cursor, count)
    if pattern is not None:
        m = matcher(pattern)
        members = [x for x in members if m(x)]
    return [b"%d" % cursor, members]
