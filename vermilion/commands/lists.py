"""List commands (t_list.c): pushes, pops, ranges, LMOVE and the blocking pops.

Every command follows Redis 7.0.15's order of checks (which argument is parsed
before the key is looked up decides which error a client sees), its keyspace
events (``lpush``/``rpush``/``lpop``/``rpop``/``linsert``/``lset``/``lrem``/
``ltrim``, then ``del`` when a list is emptied: an empty list never stays in the
keyspace) and its propagation: LMPOP and the blocking forms are written to the
AOF as what they did (``LPOP key count``, ``LMOVE ...``, ``RPOPLPUSH ...``).

The blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) behave like their
non-blocking form when a key has data; otherwise they block through
:mod:`vermilion.keyspace.blocking`, with a serve function that does the pop when
the key gets elements, and the reply/propagation Redis's serveClientBlockedOnList
gives. A new list key signals readiness through ``Database.add`` (Redis's dbAdd).

LPUSH/RPUSH/LPOP/RPOP/LRANGE are benchmark hot paths: they are written out
without shared helpers on their common branch. A list keeps its elements in RESP
bulk form (:mod:`vermilion.types.list`), so LRANGE and the COUNT pops answer with
``RList.range_reply``/``pop_*_reply``, a single pop (and LMOVE, which moves the
element without decoding it) with the stored bulk as a ``Raw`` reply; every other
command reads and writes plain elements through RList's methods.
"""

from itertools import islice as _islice

from ..errors import CommandError, WRONGTYPE, SYNTAX, NO_SUCH_KEY, OUT_OF_RANGE, NOT_INT
from ..keyspace import blocking
from ..keyspace.db import NOTIFY_LIST, NOTIFY_GENERIC
from ..protocol.encoder import OK, NULL_ARRAY, EMPTY_ARRAY, Raw
from ..util import parse_ll
from ..types.list import RList
from ..util import parse_int
from ..core.table import command
from ..util import LLONG_MAX as _LLONG_MAX, LLONG_MIN as _LLONG_MIN

_POSITIVE = "ERR value is out of range, must be positive"


def _get_list(db, key, read=False):
    """The list at ``key``, None if missing; WRONGTYPE otherwise. A write lookup
    unless ``read`` (LLEN, LINDEX: a counted read, see Database.lookup_read)."""
    v = db.lookup_read(key) if read else db.lookup(key)
    if v is not None and v.__class__ is not RList:
        raise CommandError(WRONGTYPE)
    return v


def _positive(arg):
    """getPositiveLongFromObjectOrReply with Redis's default messages."""
    v = parse_ll(arg)
    if v is None or v < 0:
        raise CommandError(_POSITIVE)
    return v


def _where(arg):
    """LEFT -> True (head), RIGHT -> False (tail); anything else is a syntax error."""
    a = arg.lower()
    if a == b"left":
        return True
    if a == b"right":
        return False
    raise CommandError(SYNTAX)


def _removed(c, db, key, lst, event, count):
    """listElementsRemoved: event, delete when emptied, signal, dirty."""
    db.notify(NOTIFY_LIST, event, key)
    if lst:
        db.signal(key)
    else:
        db.delete(key)
        db.notify(NOTIFY_GENERIC, "del", key)
    c.server.dirty += count


# ------------------------------------------------------------------- pushes
@command("lpush")
def lpush(c, argv):
    db = c.db
    key = argv[1]
    lst = db.lookup(key)
    if lst is None:
        lst = RList()
        db.add(key, lst)
    elif lst.__class__ is not RList:
        raise CommandError(WRONGTYPE)
    if len(argv) == 3:
        n = lst.push_left(argv[2])
        c.server.dirty += 1
    else:
        n = lst.extend_left(argv[2:])
        c.server.dirty += len(argv) - 2
    if not db.quiet:  # (signalModifiedKey)
        db.signal(key)
    if c.server.notify_flags & NOTIFY_LIST:
        db.notify(NOTIFY_LIST, "lpush", key)
    return n


@command("rpush")
def rpush(c, argv):
    db = c.db
    key = argv[1]
    lst = db.lookup(key)
    if lst is None:
        lst = RList()
        db.add(key, lst)
    elif lst.__class__ is not RList:
        raise CommandError(WRONGTYPE)
    if len(argv) == 3:
        n = lst.push_right(argv[2])
        c.server.dirty += 1
    else:
        n = lst.extend_right(argv[2:])
        c.server.dirty += len(argv) - 2
    if not db.quiet:  # (signalModifiedKey)
        db.signal(key)
    if c.server.notify_flags & NOTIFY_LIST:
        db.notify(NOTIFY_LIST, "rpush", key)
    return n


def _pushx(c, argv, left):
    db = c.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        return 0
    n = lst.extend_left(argv[2:]) if left else lst.extend_right(argv[2:])
    c.server.dirty += len(argv) - 2
    db.signal(key)
    db.notify(NOTIFY_LIST, "lpush" if left else "rpush", key)
    return n


@command("lpushx")
def lpushx(c, argv):
    return _pushx(c, argv, True)


@command("rpushx")
def rpushx(c, argv):
    return _pushx(c, argv, False)


# --------------------------------------------------------------------- pops
def _pop_count(c, argv, left):
    if len(argv) > 3:
        raise CommandError("ERR wrong number of arguments for '%s' command" % c.cmd.fullname)
    count = _positive(argv[2])
    db = c.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        return NULL_ARRAY
    if not count:
        return EMPTY_ARRAY
    n = min(count, len(lst))
    reply = lst.pop_left_reply(n) if left else lst.pop_right_reply(n)
    _removed(c, db, key, lst, "lpop" if left else "rpop", n)
    return reply


@command("lpop")
def lpop(c, argv):
    if len(argv) != 2:
        return _pop_count(c, argv, True)
    db = c.db
    key = argv[1]
    lst = db.lookup(key)
    if lst is None:
        return None
    if lst.__class__ is not RList:
        raise CommandError(WRONGTYPE)
    v = Raw(lst.pop_left_bulk())
    server = c.server
    server.dirty += 1
    if lst:
        if server.notify_flags & NOTIFY_LIST:
            db.notify(NOTIFY_LIST, "lpop", key)
        if not db.quiet:  # (signalModifiedKey)
            db.signal(key)
    else:
        db.notify(NOTIFY_LIST, "lpop", key)
        db.delete(key)
        db.notify(NOTIFY_GENERIC, "del", key)
    return v


@command("rpop")
def rpop(c, argv):
    if len(argv) != 2:
        return _pop_count(c, argv, False)
    db = c.db
    key = argv[1]
    lst = db.lookup(key)
    if lst is None:
        return None
    if lst.__class__ is not RList:
        raise CommandError(WRONGTYPE)
    v = Raw(lst.pop_right_bulk())
    server = c.server
    server.dirty += 1
    if lst:
        if server.notify_flags & NOTIFY_LIST:
            db.notify(NOTIFY_LIST, "rpop", key)
        if not db.quiet:  # (signalModifiedKey)
            db.signal(key)
    else:
        db.notify(NOTIFY_LIST, "rpop", key)
        db.delete(key)
        db.notify(NOTIFY_GENERIC, "del", key)
    return v


def _pop_range_with_key(c, db, key, lst, left, count):
    """listPopRangeAndReplyWithKey: [key, [elements]]; also propagation as [LR]POP count."""
    n = min(count, len(lst))
    reply = lst.pop_left_reply(n) if left else lst.pop_right_reply(n)
    c.propagate = [[b"LPOP" if left else b"RPOP", key, b"%d" % n]]
    _removed(c, db, key, lst, "lpop" if left else "rpop", n)
    return [key, reply]


def _mpop_args(argv, numkeys_idx):
    """Parse LMPOP/BLMPOP's numkeys, keys, LEFT|RIGHT and COUNT."""
    v = parse_ll(argv[numkeys_idx])
    if v is None or v < 1:
        raise CommandError("ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + v + 1
    if where_idx >= len(argv):
        raise CommandError(SYNTAX)
    left = _where(argv[where_idx])
    count = -1
    j = where_idx + 1
    n = len(argv)
    while j < n:
        if count == -1 and argv[j].lower() == b"count" and j + 1 < n:
            j += 1
            cv = parse_ll(argv[j])
            if cv is None or cv < 1:
                raise CommandError("ERR count should be greater than 0")
            count = cv
        else:
            raise CommandError(SYNTAX)
        j += 1
    if count == -1:
        count = 1
    return argv[numkeys_idx + 1 : where_idx], left, count


@command("lmpop")
def lmpop(c, argv):
    keys, left, count = _mpop_args(argv, 1)
    db = c.db
    for key in keys:
        lst = _get_list(db, key)
        if lst:
            return _pop_range_with_key(c, db, key, lst, left, count)
    return NULL_ARRAY


# ------------------------------------------------------------- read/modify
@command("llen")
def llen(c, argv):
    lst = _get_list(c.db, argv[1], True)
    return 0 if lst is None else len(lst)


@command("lrange")
def lrange(c, argv):
    start = parse_ll(argv[2])
    end = parse_ll(argv[3])
    if start is None or end is None:
        raise CommandError(NOT_INT)
    lst = c.db.lookup_read(argv[1])
    if lst is None:
        return EMPTY_ARRAY
    if lst.__class__ is not RList:
        raise CommandError(WRONGTYPE)
    n = len(lst)
    if start < 0:
        start += n
        if start < 0:
            start = 0
    if end < 0:
        end += n
    if start > end or start >= n:
        return EMPTY_ARRAY
    if end >= n:
        end = n - 1
    return lst.range_reply(start, end)


@command("lindex")
def lindex(c, argv):
    lst = _get_list(c.db, argv[1], True)
    if lst is None:
        return None
    index = parse_int(argv[2])
    n = len(lst)
    if index < 0:
        index += n
    if 0 <= index < n:
        return lst[index]
    return None


@command("lset")
def lset(c, argv):
    db = c.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        raise CommandError(NO_SUCH_KEY)
    index = parse_int(argv[2])
    n = len(lst)
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise CommandError(OUT_OF_RANGE)
    lst[index] = argv[3]
    db.signal(key)
    db.notify(NOTIFY_LIST, "lset", key)
    c.server.dirty += 1
    return OK


@command("linsert")
def linsert(c, argv):
    where = argv[2].lower()
    if where == b"after":
        after = True
    elif where == b"before":
        after = False
    else:
        raise CommandError(SYNTAX)
    db = c.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        return 0
    try:
        i = lst.index(argv[3])
    except ValueError:
        return -1
    lst.insert(i + 1 if after else i, argv[4])
    db.signal(key)
    db.notify(NOTIFY_LIST, "linsert", key)
    c.server.dirty += 1
    return len(lst)


@command("lrem")
def lrem(c, argv):
    toremove = parse_int(argv[2])
    db = c.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        return 0
    n = len(lst)
    wanted = min(-toremove if toremove < 0 else (toremove or n), n)
    positions = list(_islice(lst.matches(argv[3], from_tail=toremove < 0), wanted))
    if toremove < 0:
        positions = [n - 1 - p for p in reversed(positions)]
    removed = len(positions)
    if removed:
        lst.delete_positions(positions)
        c.server.dirty += removed
        db.signal(key)
        db.notify(NOTIFY_LIST, "lrem", key)
    if not lst:
        db.delete(key)
        db.notify(NOTIFY_GENERIC, "del", key)
    return removed


@command("ltrim")
def ltrim(c, argv):
    start = parse_int(argv[2])
    end = parse_int(argv[3])
    db = c.db
    key = argv[1]
    lst = _get_list(db, key)
    if lst is None:
        return OK
    n = len(lst)
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        ltrim_n, rtrim_n = n, 0
    else:
        if end >= n:
            end = n - 1
        ltrim_n, rtrim_n = start, n - end - 1
    db.notify(NOTIFY_LIST, "ltrim", key)
    if ltrim_n + rtrim_n >= n:
        db.delete(key)  # the whole list goes: freed lazily, in steps
        db.notify(NOTIFY_GENERIC, "del", key)
    else:
        lst.trim(ltrim_n, rtrim_n)
    db.signal(key)
    c.server.dirty += ltrim_n + rtrim_n
    return OK


_LPOS_RANK0 = (
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
    "second ... or use negative to start from the end of the list"
)


def _wrap64(v):
    return ((v - _LLONG_MIN) & 0xFFFFFFFFFFFFFFFF) + _LLONG_MIN


@command("lpos")
def lpos(c, argv):
    ele = argv[2]
    rank, count, maxlen = 1, -1, 0
    j = 3
    n_args = len(argv)
    while j < n_args:
        opt = argv[j].lower()
        more = j + 1 < n_args
        if opt == b"rank" and more:
            j += 1
            rank = parse_int(argv[j])
            if rank == 0:
                raise CommandError(_LPOS_RANK0)
        elif opt == b"count" and more:
            j += 1
            count = parse_ll(argv[j])
            if count is None or count < 0:
                raise CommandError("ERR COUNT can't be negative")
        elif opt == b"maxlen" and more:
            j += 1
            maxlen = parse_ll(argv[j])
            if maxlen is None or maxlen < 0:
                raise CommandError("ERR MAXLEN can't be negative")
        else:
            raise CommandError(SYNTAX)
        j += 1
    forward = True
    if rank < 0:
        forward = False
        rank = -rank
        if rank > _LLONG_MAX:
            rank = _LLONG_MIN  # -LLONG_MIN overflows to itself in Redis
    lst = c.db.lookup_read(argv[1])
    if lst is None:
        return EMPTY_ARRAY if count != -1 else None
    if lst.__class__ is not RList:
        raise CommandError(WRONGTYPE)
    n = len(lst)
    out = []
    matches = 0
    for index in lst.matches(ele, not forward, maxlen or n):
        matches += 1
        if matches >= rank:
            mi = index if forward else n - index - 1
            if count == -1:
                return mi
            out.append(mi)
            if count and _wrap64(matches - rank + 1) >= count:
                break
    if count == -1:
        return None
    return out


# -------------------------------------------------------------------- moves
def _push_moved(c, db, dst, dobj, bulk, left):
    """lmoveHandlePush: create the destination if needed, push, signal, event.
    The element moves in its bulk form, which is also the command's reply."""
    if dobj is None:
        dobj = RList()
        db.add(dst, dobj)
    db.signal(dst)
    if left:
        dobj.push_left_bulk(bulk)
    else:
        dobj.push_right_bulk(bulk)
    db.notify(NOTIFY_LIST, "lpush" if left else "rpush", dst)


def _lmove(c, src, dst, from_left, to_left):
    """lmoveGenericCommand; returns the moved element or None."""
    db = c.db
    sobj = _get_list(db, src)
    if not sobj:
        return None
    dobj = _get_list(db, dst)
    bulk = sobj.pop_left_bulk() if from_left else sobj.pop_right_bulk()
    _push_moved(c, db, dst, dobj, bulk, to_left)
    db.notify(NOTIFY_LIST, "lpop" if from_left else "rpop", src)
    if not sobj:
        db.delete(src)
        db.notify(NOTIFY_GENERIC, "del", src)
    db.signal(src)
    c.server.dirty += 1
    return Raw(bulk)


@command("lmove")
def lmove(c, argv):
    from_left = _where(argv[3])
    to_left = _where(argv[4])
    return _lmove(c, argv[1], argv[2], from_left, to_left)


@command("rpoplpush")
def rpoplpush(c, argv):
    return _lmove(c, argv[1], argv[2], False, True)


# ----------------------------------------------------------------- blocking
def _serve_list(c, key):
    """blocking.py's serve function for every blocked list command."""
    db = c.db
    lst = db.data.get(key)
    if lst is None or lst.__class__ is not RList or not lst:
        return None
    left, count, target, to_left, rpoplpush_form = c.blocked.data
    if target is None:
        if count != -1:  # BLMPOP
            return _pop_range_with_key(c, db, key, lst, left, count)
        c.propagate = [[b"LPOP" if left else b"RPOP", key]]
        bulk = lst.pop_left_bulk() if left else lst.pop_right_bulk()
        db.notify(NOTIFY_LIST, "lpop" if left else "rpop", key)
        if not lst:
            db.delete(key)
            db.notify(NOTIFY_GENERIC, "del", key)
        return [key, Raw(bulk)]
    # BLMOVE / BRPOPLPUSH
    dobj = _get_list(db, target)  # WRONGTYPE: the client gets it, unblocked
    bulk = lst.pop_left_bulk() if left else lst.pop_right_bulk()
    _push_moved(c, db, target, dobj, bulk, to_left)
    if rpoplpush_form:
        c.propagate = [[b"RPOPLPUSH", key, target]]
    else:
        c.propagate = [
            [b"LMOVE", key, target, b"LEFT" if left else b"RIGHT", b"LEFT" if to_left else b"RIGHT"]
        ]
    db.notify(NOTIFY_LIST, "lpop" if left else "rpop", key)
    if not lst:
        db.delete(key)
        db.notify(NOTIFY_GENERIC, "del", key)
    return Raw(bulk)


def _blocking_pop(c, keys, left, deadline, count):
    """blockingPopGenericCommand: pop now from the first non-empty list, or block."""
    db = c.db
    for key in keys:
        lst = _get_list(db, key)
        if not lst:
            continue
        if count != -1:
            return _pop_range_with_key(c, db, key, lst, left, count)
        bulk = lst.pop_left_bulk() if left else lst.pop_right_bulk()
        _removed(c, db, key, lst, "lpop" if left else "rpop", 1)
        c.propagate = [[b"LPOP" if left else b"RPOP", key]]
        return [key, Raw(bulk)]
    if blocking.deny_blocking(c):
        return NULL_ARRAY
    return blocking.block(c, keys, deadline, _serve_list, data=(left, count, None, False, False))


@command("blpop")
def blpop(c, argv):
    deadline = blocking.parse_timeout(argv[-1])
    return _blocking_pop(c, argv[1:-1], True, deadline, -1)


@command("brpop")
def brpop(c, argv):
    deadline = blocking.parse_timeout(argv[-1])
    return _blocking_pop(c, argv[1:-1], False, deadline, -1)


@command("blmpop")
def blmpop(c, argv):
    keys, left, count = _mpop_args(argv, 2)
    deadline = blocking.parse_timeout(argv[1])
    return _blocking_pop(c, keys, left, deadline, count)


def _blmove(c, argv, from_left, to_left, deadline, rpoplpush_form):
    src = argv[1]
    sobj = _get_list(c.db, src)
    if sobj is None:
        if blocking.deny_blocking(c):
            return None
        return blocking.block(
            c, (src,), deadline, _serve_list, data=(from_left, -1, argv[2], to_left, rpoplpush_form)
        )
    value = _lmove(c, src, argv[2], from_left, to_left)
    if rpoplpush_form:
        c.propagate = [[b"RPOPLPUSH", src, argv[2]]]
    else:
        c.propagate = [[b"LMOVE", src, argv[2], argv[3], argv[4]]]
    return value


@command("blmove")
def blmove(c, argv):
    from_left = _where(argv[3])
    to_left = _where(argv[4])
    deadline = blocking.parse_timeout(argv[5])
    return _blmove(c, argv, from_left, to_left, deadline, False)


@command("brpoplpush")
def brpoplpush(c, argv):
    deadline = blocking.parse_timeout(argv[3])
    return _blmove(c, argv, False, True, deadline, True)
