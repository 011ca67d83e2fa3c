"""Stream commands (t_stream.c, blocked.c): XADD, XRANGE, XREAD, consumer groups, XINFO.

The structure itself is :class:`vermilion.types.stream.Stream`; this module
parses arguments exactly as Redis 7.0 does (same error texts, same order of
checks), drives the structure and writes the replies.

Things the commands share:

* **IDs** are ints (``ms << 64 | seq``, see the type's doc). They are parsed like
  ``streamGenericParseIDOrReply`` (:func:`parse_id`): the argument is read as a
  C string (a NUL ends it), each half with ``string2ull`` (so ``" 5"``, ``"+5"``
  and ``"-0"`` are numbers, ``"-5"`` is not), ``-``/``+`` are the extremes except
  where an ID must be "strict", and XADD also takes ``<ms>-*``.
* **Entry replies** ``[id, [field, value, ...]]`` are the same bytes in RESP2 and
  RESP3, so they are encoded once, straight from the stored lists
  (:func:`_entry`), and a whole range goes out as one :class:`Raw`.
* **Times** (NACK delivery times, consumer seen-times, ``*`` IDs) are the wall
  clock in ms, like Redis's ``mstime()`` (not the frozen command time): the
  server's clock, ``db.time()``, which a test may move (keyspace/clock.py).
* **Propagation** follows Redis: XADD is rewritten with the ID it generated and
  ``MAXLEN/MINID = <exact>`` after an approximate trim; XREADGROUP, XCLAIM and
  XAUTOCLAIM propagate only the ``XCLAIM ... FORCE JUSTID LASTID``, ``XGROUP
  SETID`` and ``XGROUP CREATECONSUMER`` commands describing their effect
  (``c.propagate``, an empty list when there is nothing to write).
* **Blocking** XREAD/XREADGROUP use :mod:`vermilion.keyspace.blocking`: XADD calls
  ``db.ready``; a client blocked in XREADGROUP is failed with ``-UNBLOCKED`` when
  its key is deleted or replaced (the db signals a deleted stream key) and with
  ``-NOGROUP`` when its group is destroyed, as in Redis 7.0.
"""

import re
from bisect import bisect_left

from ..errors import CommandError, WRONGTYPE, SYNTAX, subcommand_syntax_error
from ..keyspace import blocking
from ..keyspace.db import NOTIFY_STREAM
from ..protocol.encoder import Raw, Map, NULL_ARRAY, EMPTY_ARRAY, OK
from ..util import parse_ll
from ..core.bootstrap import on_server_init
from ..types.stream import (
    Stream,
    Group,
    NACK,
    ID_MAX,
    MASK64,
    STREAM_LISTPACK_MAX_SIZE,
    INVALID_ENTRIES_READ,
    format_id,
)
from ..util import parse_int
from .hashes import get_long
from .server_cmds import help_reply
from ..core.table import command
from ..util import LLONG_MAX as _LONG_MAX

ERR_INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
ERR_XADD_SMALL = "ERR The ID specified in XADD is equal or smaller than the target stream top item"
ERR_XADD_ZERO = "ERR The ID specified in XADD must be greater than 0-0"
ERR_EXHAUSTED = "ERR The stream has exhausted the last possible ID, unable to add more items"
ERR_TOO_LARGE = "ERR Elements are too large to be stored"
ERR_BOTH_STRATEGIES = (
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible"
)
ERR_NO_KEY = "ERR no such key"
_NULL_ENTRY = {2: b"*-1\r\n", 3: b"_\r\n"}


# ------------------------------------------------------------------ config
@on_server_init
def _init(server):
    cfg = server.config

    def apply(_value=None):
        server.stream_node_max_entries = cfg.get_int("stream-node-max-entries")
        server.stream_node_max_bytes = cfg.get_int("stream-node-max-bytes")

    apply()
    for name in ("stream-node-max-entries", "stream-node-max-bytes"):
        cfg.add_hook(name, apply)


# ------------------------------------------------------------------ parsing
_STRTOULL = re.compile(rb"[ \t\n\v\f\r]*([+-]?)([0-9]+)\Z")


def _string2ull(s):
    """Redis's string2ull on a C string: string2ll first, then strtoull; None if invalid."""
    v = parse_ll(s)
    if v is not None:
        return v if v >= 0 else None
    m = _STRTOULL.match(s)
    if m is None:
        return None
    v = int(m.group(2))
    if v > MASK64:
        return None  # ERANGE
    if m.group(1) == b"-":
        v = -v & MASK64  # strtoull negates in unsigned arithmetic
    return v


def _cstr(b):
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def parse_id_ex(b, missing_seq=0, strict=False, star=False):
    """streamGenericParseIDOrReply: (id, seq_given); raises the invalid-ID error."""
    dash = b.find(b"-")
    if dash > 0:  # fast path: canonical "<ms>-<seq>"
        ms = parse_ll(b[:dash])
        if ms is not None and ms >= 0:
            seq = parse_ll(b[dash + 1 :])
            if seq is not None and seq >= 0:
                return (ms << 64) | seq, True
    if len(b) > 127:
        raise CommandError(ERR_INVALID_ID)
    if b"\0" in b:
        b = _cstr(b)
    if len(b) == 1:
        if b == b"-":
            if strict:
                raise CommandError(ERR_INVALID_ID)
            return 0, True
        if b == b"+":
            if strict:
                raise CommandError(ERR_INVALID_ID)
            return ID_MAX, True
    dash = b.find(b"-")
    if dash < 0:
        ms = _string2ull(b)
        if ms is None:
            raise CommandError(ERR_INVALID_ID)
        return (ms << 64) | missing_seq, True
    ms = _string2ull(b[:dash])
    if ms is None:
        raise CommandError(ERR_INVALID_ID)
    rest = b[dash + 1 :]
    if star and rest == b"*":
        return ms << 64, False
    seq = _string2ull(rest)
    if seq is None:
        raise CommandError(ERR_INVALID_ID)
    return (ms << 64) | seq, True


def parse_id(b, missing_seq=0, strict=False):
    return parse_id_ex(b, missing_seq, strict)[0]


def _try_parse_strict(b):
    """The strict ID in ``b``, or None (XCLAIM's silent parse)."""
    try:
        return parse_id_ex(b, 0, True)[0]
    except CommandError:
        return None


def _parse_interval(b, missing_seq):
    """streamParseIntervalIDOrReply: (id, exclusive)."""
    if len(b) > 1 and b[0] == 40:  # '('
        return parse_id_ex(b[1:], missing_seq, True)[0], True
    return parse_id_ex(b, missing_seq, False)[0], False


def _range_start(b):
    i, ex = _parse_interval(b, 0)
    if ex:
        if i == ID_MAX:
            raise CommandError("ERR invalid start ID for the interval")
        i += 1
    return i


def _range_end(b):
    i, ex = _parse_interval(b, MASK64)
    if ex:
        if i == 0:
            raise CommandError("ERR invalid end ID for the interval")
        i -= 1
    return i


def _opt(b):
    """An option word as strcasecmp sees it (C string, lower case)."""
    if b"\0" in b:
        b = _cstr(b)
    return b.lower()


def _lookup_stream(c, key, read=True):
    """The stream at ``key``, None if missing; WRONGTYPE otherwise. A counted read
    (Database.lookup_read) unless ``read`` is false (XTRIM, XDEL, XGROUP, XSETID)."""
    s = c.db.lookup_read(key) if read else c.db.lookup(key)
    if s is not None and s.__class__ is not Stream:
        raise CommandError(WRONGTYPE)
    return s


def _must_obey(c):
    """mustObeyClient: the AOF loading client (replication has none yet).

    Tested by identity, not by ``server.loading``: an AOF whose base is an RDB file
    replays its incr part after the RDB loader has already cleared that flag.
    """
    return c.conn is None and c is c.server.loading_client


# ------------------------------------------------------------------ replies
def _entry(i, fv):
    """One entry's reply: [id, [field, value, ...]] (protocol independent)."""
    ids = b"%d-%d" % (i >> 64, i & MASK64)
    return b"*2\r\n$%d\r\n%s\r\n*%d\r\n%s" % (
        len(ids),
        ids,
        len(fv),
        b"".join([b"$%d\r\n%s\r\n" % (len(x), x) for x in fv]),
    )


def _entries(items):
    """An array of entries, pre-encoded."""
    return Raw(b"*%d\r\n%s" % (len(items), b"".join([_entry(i, fv) for i, fv in items])))


def _bulk_id(i):
    ids = b"%d-%d" % (i >> 64, i & MASK64)
    return b"$%d\r\n%s\r\n" % (len(ids), ids)


# ------------------------------------------------------------------ XADD / XTRIM
MAXLEN = 1
MINID = 2


class _TrimArgs:
    __slots__ = (
        "strategy",
        "arg_idx",
        "approx",
        "limit",
        "maxlen",
        "minid",
        "id",
        "id_given",
        "seq_given",
        "no_mkstream",
    )

    def __init__(self):
        self.strategy = 0
        self.arg_idx = 0
        self.approx = False
        self.limit = 0
        self.maxlen = 0
        self.minid = 0
        self.id = 0
        self.id_given = False
        self.seq_given = True
        self.no_mkstream = False


def _parse_add_trim(c, argv, xadd):
    """streamParseAddOrTrimArgsOrReply: (args, index of the ID argument)."""
    a = _TrimArgs()
    n = len(argv)
    i = 2
    limit_given = False
    while i < n:
        more = n - 1 - i
        arg = argv[i]
        if xadd and arg[:1] == b"*" and (len(arg) == 1 or arg[1] == 0):
            break
        o = _opt(arg)
        if (o == b"maxlen" or o == b"minid") and more:
            if a.strategy:
                raise CommandError(ERR_BOTH_STRATEGIES)
            a.approx = False
            nxt = _cstr(argv[i + 1])
            if more >= 2 and nxt == b"~":
                a.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            if o == b"maxlen":
                a.maxlen = parse_int(argv[i + 1])
                if a.maxlen < 0:
                    raise CommandError("ERR The MAXLEN argument must be >= 0.")
                a.strategy = MAXLEN
            else:
                a.minid = parse_id_ex(argv[i + 1], 0, True)[0]
                a.strategy = MINID
            i += 1
            a.arg_idx = i
        elif o == b"limit" and more:
            a.limit = parse_int(argv[i + 1])
            if a.limit < 0:
                raise CommandError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and o == b"nomkstream":
            a.no_mkstream = True
        elif xadd:
            a.id, a.seq_given = parse_id_ex(arg, 0, True, True)
            a.id_given = True
            break
        else:
            raise CommandError(SYNTAX)
        i += 1
    if a.limit and not a.strategy:
        raise CommandError(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"
        )
    if not xadd and not a.strategy:
        raise CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if _must_obey(c):
        a.limit = 0
    elif limit_given:
        if not a.approx:
            raise CommandError(
                "ERR syntax error, LIMIT cannot be used without the special ~ option"
            )
    elif a.approx:
        lim = 100 * c.server.stream_node_max_entries
        if lim <= 0 or lim > _LONG_MAX:
            lim = 10000
        if lim > 1000000:
            lim = 1000000
        a.limit = lim
    else:
        a.limit = 0
    return a, i


def _trim(s, a):
    if a.strategy == MAXLEN:
        return s.trim(maxlen=a.maxlen, approx=a.approx, limit=a.limit)
    return s.trim(minid=a.minid, approx=a.approx, limit=a.limit)


def _rewrite_trim(s, a, argv):
    """After an approximate trim: MAXLEN/MINID = <what the stream now is>, for replicas."""
    argv[a.arg_idx - 1] = b"="
    if a.strategy == MAXLEN:
        argv[a.arg_idx] = b"%d" % s.length
    else:
        argv[a.arg_idx] = format_id(s.first_any_id())


@command("xadd")
def xadd(c, argv):
    n = len(argv)
    if argv[2] == b"*" and n & 1 and n >= 5:
        # the common form: XADD key * field value ...
        db = c.db
        key = argv[1]
        s = db.lookup(key)
        if s is None:
            s = Stream()
            db.add(key, s)
        elif s.__class__ is not Stream:
            raise CommandError(WRONGTYPE)
        last = s.last_id
        now = int(db.time() * 1000)
        if now > last >> 64:
            i = now << 64
        elif last == ID_MAX:
            raise CommandError(ERR_EXHAUSTED)
        else:
            i = last + 1
        fv = argv[3:]
        tot = len(fv[0]) + len(fv[1]) if n == 5 else sum(map(len, fv))
        if tot > STREAM_LISTPACK_MAX_SIZE:
            raise CommandError(ERR_TOO_LARGE)
        server = c.server
        s.append(i, fv, server.stream_node_max_entries, server.stream_node_max_bytes, tot)
        ids = b"%d-%d" % (i >> 64, i & MASK64)
        if not db.quiet:
            db.signal(key)
        if server.notify_flags & NOTIFY_STREAM:
            db.notify(NOTIFY_STREAM, "xadd", key)
        server.dirty += 1
        if server.persistence is not None:
            rewritten = list(argv)
            rewritten[2] = ids
            c.propagate = [rewritten]
        if db.blocking:
            db.ready(key)
        return ids
    if argv[2] == b"*":
        a = None
        idpos = 2
    else:
        a, idpos = _parse_add_trim(c, argv, True)
    fpos = idpos + 1
    nf = n - fpos
    if nf < 2 or nf & 1:
        raise CommandError("ERR wrong number of arguments for 'xadd' command")
    if a is not None and a.id_given and a.seq_given and a.id == 0:
        raise CommandError(ERR_XADD_ZERO)
    db = c.db
    key = argv[1]
    s = db.lookup(key)
    if s is None:
        if a is not None and a.no_mkstream:
            return None
        s = Stream()
        db.add(key, s)
    elif s.__class__ is not Stream:
        raise CommandError(WRONGTYPE)
    if s.last_id == ID_MAX:
        raise CommandError(ERR_EXHAUSTED)
    server = c.server
    if a is None or not a.id_given:
        i = s.next_id(int(c.db.time() * 1000))
    else:
        i = s.id_for(a.id, a.seq_given, 0)
    if i is None:
        raise CommandError(ERR_XADD_SMALL)
    if i < 0:
        raise CommandError(ERR_TOO_LARGE)
    fv = argv[fpos:]
    tot = len(fv[0]) + len(fv[1]) if nf == 2 else sum(map(len, fv))
    if tot > STREAM_LISTPACK_MAX_SIZE:
        raise CommandError(ERR_TOO_LARGE)
    s.append(i, fv, server.stream_node_max_entries, server.stream_node_max_bytes, tot)
    ids = b"%d-%d" % (i >> 64, i & MASK64)
    db.signal(key)
    if server.notify_flags & NOTIFY_STREAM:
        db.notify(NOTIFY_STREAM, "xadd", key)
    server.dirty += 1
    rewritten = None
    if a is not None and a.strategy:
        if _trim(s, a):
            db.notify(NOTIFY_STREAM, "xtrim", key)
        if a.approx:
            rewritten = list(argv)
            _rewrite_trim(s, a, rewritten)
    if server.persistence is not None:
        # propagated with the ID actually used (and an exact trim): rewriteClientCommandArgument
        if a is None or not a.id_given or not a.seq_given:
            if rewritten is None:
                rewritten = list(argv)
            rewritten[idpos] = ids
        if rewritten is not None:
            c.propagate = [rewritten]
    if db.blocking:
        db.ready(key)
    return Raw(b"$%d\r\n%s\r\n" % (len(ids), ids))


@command("xtrim")
def xtrim(c, argv):
    a, _ = _parse_add_trim(c, argv, False)
    db = c.db
    key = argv[1]
    s = _lookup_stream(c, key, False)
    if s is None:
        return 0
    deleted = _trim(s, a)
    if deleted:
        db.notify(NOTIFY_STREAM, "xtrim", key)
        if a.approx:
            rewritten = list(argv)
            _rewrite_trim(s, a, rewritten)
            c.propagate = [rewritten]
        db.signal(key)
        c.server.dirty += deleted
    return deleted


# ------------------------------------------------------------------ XLEN / XRANGE / XDEL
@command("xlen")
def xlen(c, argv):
    s = _lookup_stream(c, argv[1])
    return 0 if s is None else s.length


def _xrange(c, argv, rev):
    startarg, endarg = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start = _range_start(startarg)
    end = _range_end(endarg)
    count = -1
    n = len(argv)
    j = 4
    while j < n:
        if _opt(argv[j]) == b"count" and n - j - 1 >= 1:
            count = parse_int(argv[j + 1])
            if count < 0:
                count = 0
            j += 2
        else:
            raise CommandError(SYNTAX)
    s = _lookup_stream(c, argv[1])
    if s is None:
        return EMPTY_ARRAY
    if count == 0:
        return NULL_ARRAY
    if count == -1:
        count = 0
    if rev:
        return _entries(s.range(start, end, count, True))
    return _entries(s.range(start, end, count))


@command("xrange")
def xrange_(c, argv):
    return _xrange(c, argv, False)


@command("xrevrange")
def xrevrange(c, argv):
    return _xrange(c, argv, True)


@command("xdel")
def xdel(c, argv):
    db = c.db
    key = argv[1]
    s = _lookup_stream(c, key, False)
    if s is None:
        return 0
    ids = [parse_id_ex(b, 0, True)[0] for b in argv[2:]]
    deleted = 0
    first_entry = False
    for i in ids:
        if s.delete(i):
            if i == s.first_id:
                first_entry = True
            if i > s.max_deleted_id:
                s.max_deleted_id = i
            deleted += 1
    if deleted:
        if s.length == 0:
            s.first_id = 0
        elif first_entry:
            s.first_id = s.first_live_id()
        db.signal(key)
        db.notify(NOTIFY_STREAM, "xdel", key)
        c.server.dirty += deleted
    return deleted


# ------------------------------------------------------------------ groups: helpers
def _xclaim_argv(key, group_name, i_arg, nack, g):
    """streamPropagateXCLAIM's command."""
    return [
        b"XCLAIM",
        key,
        group_name,
        nack.consumer.name,
        b"0",
        i_arg,
        b"TIME",
        b"%d" % nack.delivery_time,
        b"RETRYCOUNT",
        b"%d" % nack.delivery_count,
        b"FORCE",
        b"JUSTID",
        b"LASTID",
        format_id(g.last_id),
    ]


def _setid_argv(key, group_name, g):
    """streamPropagateGroupID's command."""
    return [
        b"XGROUP",
        b"SETID",
        key,
        group_name,
        format_id(g.last_id),
        b"ENTRIESREAD",
        b"%d" % g.entries_read,
    ]


def _create_consumer(c, g, name, key, now):
    """streamCreateConsumer with notification and dirty++ (None if it exists)."""
    cons = g.create_consumer(name, now)
    if cons is not None:
        c.server.dirty += 1
        c.db.notify(NOTIFY_STREAM, "xgroup-createconsumer", key)
    return cons


def _consumer_for_read(c, g, name, key, group_name, noack, props, now):
    cons = g.lookup_consumer(name, now)
    if cons is None:
        cons = _create_consumer(c, g, name, key, now)
        if noack and props is not None:
            props.append([b"XGROUP", b"CREATECONSUMER", key, group_name, name])
    return cons


def _deliver(s, key, g, group_name, cons, start, count, noack, props, now):
    """streamReplyWithRange for a group read of new entries: the entries' bytes."""
    items = s.range(start, ID_MAX, count)
    parts = []
    propagate_last = False
    pel = g.pel
    for i, fv in items:
        if i > g.last_id:
            if g.entries_read != INVALID_ENTRIES_READ and not s.range_has_tombstones(i):
                g.entries_read += 1
            elif s.entries_added:
                g.entries_read = s.estimate_distance(i)
            g.last_id = i
            if noack:
                propagate_last = True
        parts.append(_entry(i, fv))
        if not noack:
            nack = pel.get(i)
            if nack is None:
                nack = NACK(cons, now, 1)
                pel.add(i, nack)
                cons.pel.add(i, nack)
            else:
                old = nack.consumer
                if old is not cons:
                    old.pel.remove(i)
                    cons.pel.add(i, nack)
                    nack.consumer = cons
                nack.delivery_time = now
                nack.delivery_count = 1
            if props is not None:
                props.append(_xclaim_argv(key, group_name, format_id(i), nack, g))
    if propagate_last and props is not None:
        props.append(_setid_argv(key, group_name, g))
    return b"*%d\r\n%s" % (len(parts), b"".join(parts))


def _history(s, cons, start, count, now, resp):
    """streamReplyWithRangeFromConsumerPEL: the consumer's own pending entries."""
    parts = []
    for i, nack in cons.pel.iter_from(start):
        if count and len(parts) >= count:
            break
        fv = s.get(i)
        if fv is None:
            parts.append(b"*2\r\n" + _bulk_id(i) + _NULL_ENTRY[resp])
        else:
            parts.append(_entry(i, fv))
            nack.delivery_time = now
            nack.delivery_count += 1
    return b"*%d\r\n%s" % (len(parts), b"".join(parts))


def _bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


# ------------------------------------------------------------------ XREAD / XREADGROUP
class _XReadBlock:
    __slots__ = ("ids", "count", "group", "consumer", "noack")

    def __init__(self, ids, count, group, consumer, noack):
        self.ids = ids
        self.count = count
        self.group = group
        self.consumer = consumer
        self.noack = noack


def _xread(c, argv, xreadgroup):
    n = len(argv)
    timeout = None
    count = 0
    streams_arg = 0
    nstreams = 0
    noack = False
    group_name = consumer_name = None
    i = 1
    while i < n:
        more = n - i - 1
        o = _opt(argv[i])
        if o == b"block" and more:
            if c.is_script:  # CLIENT_SCRIPT: a Lua client
                raise CommandError(
                    "ERR %s command is not allowed with BLOCK option from scripts"
                    % _cstr(argv[0]).decode("utf-8", "replace")
                )
            i += 1
            timeout = blocking.parse_timeout_ms(argv[i])
        elif o == b"count" and more:
            i += 1
            count = parse_int(argv[i])
            if count < 0:
                count = 0
        elif o == b"streams" and more:
            streams_arg = i + 1
            nstreams = n - streams_arg
            if nstreams & 1:
                raise CommandError(
                    "ERR Unbalanced XREAD list of streams: for each stream key "
                    "an ID or '$' must be specified."
                )
            nstreams >>= 1
            break
        elif o == b"group" and more >= 2:
            if not xreadgroup:
                raise CommandError(
                    "ERR The GROUP option is only supported by XREADGROUP. "
                    "You called XREAD instead."
                )
            group_name = argv[i + 1]
            consumer_name = argv[i + 2]
            i += 2
        elif o == b"noack":
            if not xreadgroup:
                raise CommandError(
                    "ERR The NOACK option is only supported by XREADGROUP. "
                    "You called XREAD instead."
                )
            noack = True
        else:
            raise CommandError(SYNTAX)
        i += 1
    if streams_arg == 0:
        raise CommandError(SYNTAX)
    if xreadgroup and group_name is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")

    db = c.db
    keys = argv[streams_arg : streams_arg + nstreams]
    ids = []
    groups = []
    for k in range(nstreams):
        key = keys[k]
        idarg = argv[streams_arg + nstreams + k]
        s = _lookup_stream(c, key)
        g = None
        if group_name is not None:
            g = s.groups.get(group_name) if s is not None else None
            if g is None:
                raise CommandError(
                    "NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with "
                    "GROUP option"
                    % (
                        _cstr(key).decode("utf-8", "replace"),
                        _cstr(group_name).decode("utf-8", "replace"),
                    )
                )
            groups.append(g)
        if _cstr(idarg) == b"$":
            if xreadgroup:
                raise CommandError(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to "
                    "read the history of this consumer by specifying a proper ID, or use "
                    "the > ID to get new messages. The $ ID would just return an empty "
                    "result set."
                )
            ids.append(s.last_id if s is not None else 0)
            continue
        if _cstr(idarg) == b">":
            if not xreadgroup:
                raise CommandError(
                    "ERR The > ID can be specified only when calling "
                    "XREADGROUP using the GROUP <group> <consumer> option."
                )
            ids.append(ID_MAX)
            continue
        ids.append(parse_id_ex(idarg, 0, True)[0])

    # serve synchronously what can be served
    resp = c.resp
    # what XREADGROUP propagates instead of itself (nothing to build without an AOF)
    props = [] if group_name is not None and c.server.persistence is not None else None
    parts = []
    now = int(c.db.time() * 1000)
    server = c.server
    for k in range(nstreams):
        key = keys[k]
        s = db.lookup_read(key)  # (xreadCommand reads each key twice)
        if s is None:
            continue
        gt = ids[k]
        history = False
        if group_name is not None:
            g = groups[k]
            if gt != ID_MAX:
                history = True
            elif s.length and s.last_live_id() > g.last_id:
                gt = g.last_id
            else:
                continue
        elif not (s.length and s.last_live_id() > gt):
            continue
        start = gt + 1 if gt != ID_MAX else 0
        if resp == 2:
            parts.append(b"*2\r\n")
        parts.append(_bulk(key))
        if group_name is not None:
            cons = _consumer_for_read(c, g, consumer_name, key, group_name, noack, props, now)
            if history:
                parts.append(_history(s, cons, start, count, now, resp))
            else:
                parts.append(_deliver(s, key, g, group_name, cons, start, count, noack, props, now))
            server.dirty += 1
        else:
            parts.append(_entries(s.range(start, ID_MAX, count)))
    if group_name is not None:
        c.propagate = props if props is not None else []
    if parts:
        nserved = len(parts) // (3 if resp == 2 else 2)
        head = b"*%d\r\n" % nserved if resp == 2 else b"%%%d\r\n" % nserved
        return Raw(head + b"".join(parts))
    if timeout is not None:
        if blocking.deny_blocking(c):
            return NULL_ARRAY
        first = {}
        for key, i in zip(keys, ids):
            first.setdefault(key, i)  # a key given twice waits with its first ID
        data = _XReadBlock(first, count or 1000, group_name, consumer_name, noack)
        return blocking.block(c, keys, timeout, _serve_blocked, NULL_ARRAY, data)
    return NULL_ARRAY


def _serve_blocked(bc, key):
    """serveClientsBlockedOnStreamKey / unblockDeletedStreamReadgroupClients for one client."""
    st = bc.blocked
    d = st.data
    db = st.db
    s = db.data.get(key)
    if s is None or s.__class__ is not Stream:
        if d.group is not None:
            raise CommandError("UNBLOCKED the stream key no longer exists")
        return None
    g = None
    if d.group is not None:
        g = s.groups.get(d.group)
        if g is None:
            raise CommandError(
                "NOGROUP the consumer group this client was blocked on no longer exists"
            )
        gt = d.ids[key] = g.last_id
    else:
        gt = d.ids[key]
    if s.last_id <= gt:
        return None
    start = gt + 1
    if bc.resp == 2:
        head = b"*1\r\n*2\r\n" + _bulk(key)
    else:
        head = b"%1\r\n" + _bulk(key)
    if g is None:
        body = _entries(s.range(start, ID_MAX, d.count))
    else:
        now = int(bc.db.time() * 1000)
        props = [] if bc.server.persistence is not None else None
        cons = _consumer_for_read(bc, g, d.consumer, key, d.group, d.noack, props, now)
        body = _deliver(s, key, g, d.group, cons, start, d.count, d.noack, props, now)
        if props:
            bc.propagate = props
    return Raw(head + body)


@command("xread")
def xread(c, argv):
    return _xread(c, argv, False)


@command("xreadgroup")
def xreadgroup(c, argv):
    return _xread(c, argv, True)


# ------------------------------------------------------------------ XGROUP
_XGROUP_HELP = [
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
]


def _xgroup_common(c, argv):
    """xgroupCommand's shared part: options, key, group. Returns (stream, group, mkstream, er)."""
    n = len(argv)
    sub = _opt(argv[1])
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    is_create = sub == b"create"
    is_setid = sub == b"setid"
    i = 5
    while i < n:
        o = _opt(argv[i])
        if is_create and o == b"mkstream":
            mkstream = True
            i += 1
        elif (is_create or is_setid) and o == b"entriesread" and i + 1 < n:
            entries_read = parse_int(argv[i + 1])
            if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
                raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise subcommand_syntax_error(argv)
    s = _lookup_stream(c, argv[2], False)
    g = None
    if not mkstream:
        if s is None:
            raise CommandError(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE "
                "you may want to use the MKSTREAM option to create an empty stream "
                "automatically."
            )
        g = s.groups.get(argv[3])
        if g is None and sub in (b"setid", b"createconsumer", b"delconsumer"):
            raise CommandError(
                "NOGROUP No such consumer group '%s' for key name '%s'"
                % (
                    _cstr(argv[3]).decode("utf-8", "replace"),
                    _cstr(argv[2]).decode("utf-8", "replace"),
                )
            )
    elif s is not None:
        g = s.groups.get(argv[3])
    return s, g, mkstream, entries_read


@command("xgroup|help")
def xgroup_help(c, argv):
    return help_reply(argv[0], _XGROUP_HELP)


@command("xgroup|create")
def xgroup_create(c, argv):
    s, g, mkstream, entries_read = _xgroup_common(c, argv)
    n = len(argv)
    if not 5 <= n <= 8:
        raise subcommand_syntax_error(argv)
    db = c.db
    key = argv[2]
    if _cstr(argv[4]) == b"$":
        i = s.last_id if s is not None else 0
    else:
        i = parse_id_ex(argv[4], 0, True)[0]
    if s is None:
        s = Stream()
        db.add(key, s)
        db.signal(key)
    name = argv[3]
    if name in s.groups:
        raise CommandError("BUSYGROUP Consumer Group name already exists")
    s.groups[name] = Group(name, i, entries_read)
    c.server.dirty += 1
    db.notify(NOTIFY_STREAM, "xgroup-create", key)
    return OK


@command("xgroup|setid")
def xgroup_setid(c, argv):
    s, g, _, entries_read = _xgroup_common(c, argv)
    n = len(argv)
    if n != 5 and n != 7:
        raise subcommand_syntax_error(argv)
    if _cstr(argv[4]) == b"$":
        i = s.last_id
    else:
        i = parse_id_ex(argv[4], 0, False)[0]
    g.last_id = i
    g.entries_read = entries_read
    c.server.dirty += 1
    c.db.notify(NOTIFY_STREAM, "xgroup-setid", argv[2])
    return OK


@command("xgroup|destroy")
def xgroup_destroy(c, argv):
    s, g, _, _ = _xgroup_common(c, argv)
    if g is None:
        return 0
    del s.groups[argv[3]]
    c.server.dirty += 1
    db = c.db
    db.notify(NOTIFY_STREAM, "xgroup-destroy", argv[2])
    db.ready(argv[2])  # blocked XREADGROUP clients of this group get -NOGROUP
    return 1


@command("xgroup|createconsumer")
def xgroup_createconsumer(c, argv):
    s, g, _, _ = _xgroup_common(c, argv)
    cons = _create_consumer(c, g, argv[4], argv[2], int(c.db.time() * 1000))
    return 1 if cons is not None else 0


@command("xgroup|delconsumer")
def xgroup_delconsumer(c, argv):
    s, g, _, _ = _xgroup_common(c, argv)
    cons = g.lookup_consumer(argv[4])
    pending = 0
    if cons is not None:
        pending = len(cons.pel)
        g.delete_consumer(cons)
        c.server.dirty += 1
        c.db.notify(NOTIFY_STREAM, "xgroup-delconsumer", argv[2])
    return pending


# ------------------------------------------------------------------ XSETID
@command("xsetid")
def xsetid(c, argv):
    i = parse_id_ex(argv[2], 0, True)[0]
    max_xdel = 0
    entries_added = -1
    n = len(argv)
    j = 3
    while j < n:
        more = n - 1 - j
        o = _opt(argv[j])
        if o == b"entriesadded" and more:
            entries_added = parse_int(argv[j + 1])
            if entries_added < 0:
                raise CommandError("ERR entries_added must be positive")
            j += 2
        elif o == b"maxdeletedid" and more:
            max_xdel = parse_id_ex(argv[j + 1], 0, True)[0]
            if i < max_xdel:
                raise CommandError(
                    "ERR The ID specified in XSETID is smaller than the "
                    "provided max_deleted_entry_id"
                )
            j += 2
        else:
            raise CommandError(SYNTAX)
    s = _lookup_stream(c, argv[1], False)
    if s is None:
        raise CommandError(ERR_NO_KEY)
    if s.length > 0:
        if i < s.last_live_id():
            raise CommandError(
                "ERR The ID specified in XSETID is smaller than the target stream top item"
            )
        if entries_added != -1 and s.length > entries_added:
            raise CommandError(
                "ERR The entries_added specified in XSETID is smaller than the target stream length"
            )
    s.last_id = i
    if entries_added != -1:
        s.entries_added = entries_added
    if max_xdel:
        s.max_deleted_id = max_xdel
    c.server.dirty += 1
    c.db.notify(NOTIFY_STREAM, "xsetid", argv[1])
    return OK


# ------------------------------------------------------------------ XACK / XPENDING
@command("xack")
def xack(c, argv):
    s = _lookup_stream(c, argv[1])
    g = s.groups.get(argv[2]) if s is not None else None
    if g is None:
        return 0
    ids = [parse_id_ex(b, 0, True)[0] for b in argv[3:]]
    acked = 0
    pel = g.pel
    for i in ids:
        nack = pel.get(i)
        if nack is not None:
            pel.remove(i)
            nack.consumer.pel.remove(i)
            acked += 1
    c.server.dirty += acked
    return acked


def _nogroup(key, group):
    return CommandError(
        "NOGROUP No such key '%s' or consumer group '%s'"
        % (_cstr(key).decode("utf-8", "replace"), _cstr(group).decode("utf-8", "replace"))
    )


@command("xpending")
def xpending(c, argv):
    n = len(argv)
    justinfo = n == 3
    if n != 3 and (n < 6 or n > 9):
        raise CommandError(SYNTAX)
    minidle = 0
    consumer_name = None
    if n >= 6:
        startidx = 3
        if _opt(argv[3]) == b"idle":
            minidle = parse_int(argv[4])
            if n < 8:
                raise CommandError(SYNTAX)
            startidx += 2
        count = parse_int(argv[startidx + 2])
        if count < 0:
            count = 0
        start = _range_start(argv[startidx])
        end = _range_end(argv[startidx + 1])
        if startidx + 3 < n:
            consumer_name = argv[startidx + 3]
    s = _lookup_stream(c, argv[1])
    g = s.groups.get(argv[2]) if s is not None else None
    if g is None:
        raise _nogroup(argv[1], argv[2])
    pel = g.pel
    if justinfo:
        if not len(pel):
            return [0, None, None, NULL_ARRAY]
        consumers = []
        for cons in g.sorted_consumers():
            np = len(cons.pel)
            if np:
                consumers.append([cons.name, b"%d" % np])
        return [len(pel), format_id(pel.first()), format_id(pel.last()), consumers]
    if consumer_name is not None:
        cons = g.lookup_consumer(consumer_name)
        if cons is None:
            return EMPTY_ARRAY
        pel = cons.pel
    now = int(c.db.time() * 1000)
    out = []
    if count:
        for i, nack in pel.iter_from(start, end):
            if minidle and now - nack.delivery_time < minidle:
                continue
            elapsed = now - nack.delivery_time
            out.append(
                [
                    format_id(i),
                    nack.consumer.name,
                    elapsed if elapsed > 0 else 0,
                    nack.delivery_count,
                ]
            )
            count -= 1
            if not count:
                break
    return out


# ------------------------------------------------------------------ XCLAIM / XAUTOCLAIM
def _claim_one(
    c, s, g, key, group_name, cons_holder, name, i, nack, deliverytime, retrycount, justid, now
):
    """Give ``nack`` (entry ``i``) to consumer ``name``; returns the consumer."""
    cons = cons_holder[0]
    if cons is None:
        cons = g.lookup_consumer(name, now)
        if cons is None:
            cons = _create_consumer(c, g, name, key, now)
        cons_holder[0] = cons
    old = nack.consumer
    if old is not cons and old is not None:
        old.pel.remove(i)
    nack.delivery_time = deliverytime
    if retrycount >= 0:
        nack.delivery_count = retrycount
    elif not justid:
        nack.delivery_count += 1
    if old is not cons:
        cons.pel.add(i, nack)
        nack.consumer = cons
    return cons


@command("xclaim")
def xclaim(c, argv):
    key = argv[1]
    s = _lookup_stream(c, key)
    g = s.groups.get(argv[2]) if s is not None else None
    if g is None:
        raise _nogroup(key, argv[2])
    minidle = parse_int(argv[4], "ERR Invalid min-idle-time argument for XCLAIM")
    if minidle < 0:
        minidle = 0
    n = len(argv)
    ids = []
    j = 5
    while j < n:
        i = _try_parse_strict(argv[j])
        if i is None:
            break
        ids.append(i)
        j += 1
    last_id_arg = j - 1
    now = int(c.db.time() * 1000)
    deliverytime = -1
    retrycount = -1
    force = justid = False
    last_id = 0
    while j < n:
        more = n - 1 - j
        o = _opt(argv[j])
        if o == b"force":
            force = True
        elif o == b"justid":
            justid = True
        elif o == b"idle" and more:
            j += 1
            deliverytime = now - parse_int(argv[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif o == b"time" and more:
            j += 1
            deliverytime = parse_int(argv[j], "ERR Invalid TIME option argument for XCLAIM")
        elif o == b"retrycount" and more:
            j += 1
            retrycount = parse_int(argv[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif o == b"lastid" and more:
            j += 1
            last_id = parse_id_ex(argv[j], 0, True)[0]
        else:
            raise CommandError(
                "ERR Unrecognized XCLAIM option '%s'" % _cstr(argv[j]).decode("utf-8", "replace")
            )
        j += 1
    server = c.server
    group_name = argv[2]
    props = []
    propagate_last = False
    if last_id > g.last_id:
        g.last_id = last_id
        propagate_last = True
    if deliverytime != -1:
        if deliverytime < 0 or deliverytime > now:
            deliverytime = now
    else:
        deliverytime = now
    out = []
    pel = g.pel
    cons_holder = [None]
    name = argv[3]
    for k in range(5, last_id_arg + 1):
        i = ids[k - 5]
        nack = pel.get(i)
        fv = s.get(i)
        if fv is None:
            if nack is not None:
                props.append(_xclaim_argv(key, group_name, argv[k], nack, g))
                propagate_last = False
                server.dirty += 1
                pel.remove(i)
                nack.consumer.pel.remove(i)
            continue
        if force and nack is None:
            nack = NACK(None, now, 1)
            pel.add(i, nack)
        if nack is None:
            continue
        if nack.consumer is not None and minidle:
            if now - nack.delivery_time < minidle:
                continue
        _claim_one(
            c,
            s,
            g,
            key,
            group_name,
            cons_holder,
            name,
            i,
            nack,
            deliverytime,
            retrycount,
            justid,
            now,
        )
        out.append(_bulk_id(i) if justid else _entry(i, fv))
        props.append(_xclaim_argv(key, group_name, argv[k], nack, g))
        propagate_last = False
        server.dirty += 1
    if propagate_last:
        props.append(_setid_argv(key, group_name, g))
        server.dirty += 1
    c.propagate = props
    return Raw(b"*%d\r\n%s" % (len(out), b"".join(out)))


@command("xautoclaim")
def xautoclaim(c, argv):
    key = argv[1]
    # xautoclaimCommand looks the key up (a counted read) before parsing anything,
    # and checks its type after
    found = c.db.lookup_read(key)
    minidle = parse_int(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")
    if minidle < 0:
        minidle = 0
    start = _range_start(argv[5])
    count = 100
    justid = False
    n = len(argv)
    j = 6
    while j < n:
        more = n - 1 - j
        o = _opt(argv[j])
        if o == b"count" and more:
            count = get_long(argv[j + 1], 1, _LONG_MAX // 16, "ERR COUNT must be > 0")
            j += 1
        elif o == b"justid":
            justid = True
        else:
            raise CommandError(SYNTAX)
        j += 1
    s = found
    if s is not None and s.__class__ is not Stream:
        raise CommandError(WRONGTYPE)
    g = s.groups.get(argv[2]) if s is not None else None
    if g is None:
        raise _nogroup(key, argv[2])
    server = c.server
    group_name = argv[2]
    attempts = count * 10
    now = int(c.db.time() * 1000)
    pel = g.pel
    keys = pel.keys()
    d = pel.d
    pos = bisect_left(keys, start)
    nkeys = len(keys)
    out = []
    deleted = []
    props = []
    cons_holder = [None]
    name = argv[3]
    while True:
        if not attempts:
            break
        attempts -= 1
        if not count:
            break
        # raxNext
        while pos < nkeys and keys[pos] not in d:
            pos += 1
        if pos >= nkeys:
            break
        i = keys[pos]
        pos += 1
        nack = d[i]
        fv = s.get(i)
        if fv is None:
            props.append(_xclaim_argv(key, group_name, format_id(i), nack, g))
            server.dirty += 1
            pel.remove(i)
            nack.consumer.pel.remove(i)
            deleted.append(i)
            count -= 1
            continue
        if minidle and now - nack.delivery_time < minidle:
            continue
        _claim_one(c, s, g, key, group_name, cons_holder, name, i, nack, now, -1, justid, now)
        out.append(_bulk_id(i) if justid else _entry(i, fv))
        count -= 1
        props.append(_xclaim_argv(key, group_name, format_id(i), nack, g))
        server.dirty += 1
    while pos < nkeys and keys[pos] not in d:
        pos += 1
    cursor = keys[pos] if pos < nkeys else 0
    c.propagate = props
    return Raw(
        b"*3\r\n%s*%d\r\n%s*%d\r\n%s"
        % (
            _bulk_id(cursor),
            len(out),
            b"".join(out),
            len(deleted),
            b"".join([_bulk_id(i) for i in deleted]),
        )
    )


# ------------------------------------------------------------------ XINFO
_XINFO_HELP = [
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
]


@command("xinfo|help")
def xinfo_help(c, argv):
    return help_reply(argv[0], _XINFO_HELP)


def _xinfo_stream_key(c, argv):
    s = _lookup_stream(c, argv[2])
    if s is None:
        raise CommandError(ERR_NO_KEY)
    return s


@command("xinfo|consumers")
def xinfo_consumers(c, argv):
    s = _xinfo_stream_key(c, argv)
    g = s.groups.get(argv[3])
    if g is None:
        raise CommandError(
            "NOGROUP No such consumer group '%s' for key name '%s'"
            % (_cstr(argv[3]).decode("utf-8", "replace"), _cstr(argv[2]).decode("utf-8", "replace"))
        )
    now = int(c.db.time() * 1000)
    out = []
    for cons in g.sorted_consumers():
        idle = now - cons.seen_time
        out.append(
            Map([b"name", cons.name, b"pending", len(cons.pel), b"idle", idle if idle > 0 else 0])
        )
    return out


@command("xinfo|groups")
def xinfo_groups(c, argv):
    s = _xinfo_stream_key(c, argv)
    out = []
    for g in s.sorted_groups():
        out.append(
            Map(
                [
                    b"name",
                    g.name,
                    b"consumers",
                    len(g.consumers),
                    b"pending",
                    len(g.pel),
                    b"last-delivered-id",
                    format_id(g.last_id),
                    b"entries-read",
                    g.entries_read if g.entries_read != INVALID_ENTRIES_READ else None,
                    b"lag",
                    s.group_lag(g),
                ]
            )
        )
    return out


@command("xinfo|stream")
def xinfo_stream(c, argv):
    s = _xinfo_stream_key(c, argv)
    optc = len(argv) - 3
    full = False
    count = 10
    if optc:
        if optc != 1 and optc != 3:
            raise subcommand_syntax_error(argv)
        if _opt(argv[3]) != b"full":
            raise subcommand_syntax_error(argv)
        full = True
        if optc == 3:
            if _opt(argv[4]) != b"count":
                raise subcommand_syntax_error(argv)
            count = parse_int(argv[5])
            if count < 0:
                count = 10
    head = [
        b"length",
        s.length,
        b"radix-tree-keys",
        s.rax_size(),
        b"radix-tree-nodes",
        s.rax_numnodes(),
        b"last-generated-id",
        format_id(s.last_id),
        b"max-deleted-entry-id",
        format_id(s.max_deleted_id),
        b"entries-added",
        s.entries_added,
        b"recorded-first-entry-id",
        format_id(s.first_id),
    ]
    if not full:
        first = s.range(0, ID_MAX, 1)
        last = s.range(0, ID_MAX, 1, True)
        head += [
            b"groups",
            len(s.groups),
            b"first-entry",
            Raw(_entry(*first[0])) if first else None,
            b"last-entry",
            Raw(_entry(*last[0])) if last else None,
        ]
        return Map(head)
    head += [b"entries", _entries(s.range(0, ID_MAX, count))]
    groups = []
    for g in s.sorted_groups():
        pending = []
        for i, nack in g.pel.iter_from():
            if count and len(pending) >= count:
                break
            pending.append(
                [format_id(i), nack.consumer.name, nack.delivery_time, nack.delivery_count]
            )
        consumers = []
        for cons in g.sorted_consumers():
            cp = []
            for i, nack in cons.pel.iter_from():
                if count and len(cp) >= count:
                    break
                cp.append([format_id(i), nack.delivery_time, nack.delivery_count])
            consumers.append(
                Map(
                    [
                        b"name",
                        cons.name,
                        b"seen-time",
                        cons.seen_time,
                        b"pel-count",
                        len(cons.pel),
                        b"pending",
                        cp,
                    ]
                )
            )
        groups.append(
            Map(
                [
                    b"name",
                    g.name,
                    b"last-delivered-id",
                    format_id(g.last_id),
                    b"entries-read",
                    g.entries_read if g.entries_read != INVALID_ENTRIES_READ else None,
                    b"lag",
                    s.group_lag(g),
                    b"pel-count",
                    len(g.pel),
                    b"pending",
                    pending,
                    b"consumers",
                    consumers,
                ]
            )
        )
    head += [b"groups", groups]
    return Map(head)
