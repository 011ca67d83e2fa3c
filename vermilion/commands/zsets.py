"""Sorted-set commands (t_zset.c): ZADD, ZRANGE and the rest of the Z family.

The structure itself is :class:`vermilion.types.zset.ZSet`; this module parses
arguments exactly as Redis 7.0 does (same error texts, same precedence between
errors), drives the structure, and writes the replies.

A few things every command here shares:

* **Score arguments** (ZADD, ZINCRBY, WEIGHTS) are read like Redis's
  ``getDoubleFromObject`` (:func:`vermilion.util.parse_float`); **range bounds**
  (``1.5``, ``(1.5``, ``-inf``) like ``zslParseRange``, which calls plain
  ``strtod`` and so also takes leading blanks and the empty string
  (:func:`strtod_c`); **lex bounds** are ``[x``, ``(x``, ``-``, ``+``.
* **Replies** of members (and scores) are pre-encoded in one ``b"".join``
  (:func:`_range_reply`): ``WITHSCORES`` is a flat array in RESP2 and an array of
  ``[member, score]`` pairs in RESP3, scores are ``%.17g`` doubles.
* **Encodings**: a new sorted set starts as a "listpack" and becomes a
  "skiplist" when it outgrows ``zset-max-listpack-entries`` /
  ``zset-max-listpack-value`` (cached on the server by :func:`_init`); the
  *STORE commands shrink their result back when it is small, as Redis does.
* **Side effects** follow Redis's order: ``c.db.signal`` (WATCH), keyspace
  events (``zadd``, ``zrem``, ... then ``del`` when a key empties),
  ``server.dirty``, and ``c.db.ready`` when a key gains elements (BZPOPMIN).

BZPOPMIN, BZPOPMAX and BZMPOP use the generic blocking machinery of
:mod:`vermilion.keyspace.blocking`.
"""

import math
import random
import re
from array import array

from ..errors import CommandError, WRONGTYPE, SYNTAX
from ..keyspace.db import NOTIFY_ZSET, NOTIFY_GENERIC
from ..keyspace.scan import scan_keys, parse_cursor
from ..protocol.encoder import Raw, NULL_ARRAY, EMPTY_ARRAY, INTS
from ..util import parse_ll
from ..core.bootstrap import on_server_init
from ..types.zset import (
    ZSet,
    PackedZSet,
    pack,
    parse_lex_bound,
    lex_gte,
    lex_lte,
    scan_score,
)
from ..util import parse_float, parse_int
from .hashes import get_long, parse_scan_options, matcher
from ..core.table import command
from ..types.set import RSet, PackedSet
from .sets import unpacked_set
from ..keyspace import blocking
from ..util import LLONG_MAX as _LONG_MAX

_ZERO = INTS[0]
_EMPTY_SCAN = Raw(b"*2\r\n$1\r\n0\r\n*0\r\n")
_inf = math.inf

ERR_SCORE_RANGE = "ERR min or max is not a float"
ERR_LEX_RANGE = "ERR min or max not valid string range item"
ERR_NAN = "ERR resulting score is not a number (NaN)"


# ------------------------------------------------------------------ config
@on_server_init
def _init(server):
    cfg = server.config

    def apply(_value=None):
        server.zset_max_listpack_entries = cfg.get_int("zset-max-listpack-entries")
        server.zset_max_listpack_value = cfg.get_int("zset-max-listpack-value")

    apply()
    for name in ("zset-max-listpack-entries", "zset-max-listpack-value"):
        cfg.add_hook(name, apply)


# ------------------------------------------------------------------ parsing
_C_SPACE = b" \t\n\v\f\r"
_DBL_MIN = 2.2250738585072014e-308
_DEC = re.compile(rb"[+-]?(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE][+-]?\d+)?").fullmatch
_HEX = re.compile(
    rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)"
    rb"(?:[pP][+-]?\d+)?"
).fullmatch
_INF = re.compile(rb"([+-]?)(?:inf|infinity)", re.I).fullmatch
_NAN = re.compile(rb"[+-]?nan(?:\([0-9A-Za-z_]*\))?", re.I).fullmatch


def strtod_c(b):
    """C's ``strtod`` over a whole NUL-terminated argument, where Redis only checks
    that it stopped at the end (zslParseRange, SORT): ``(value, erange)`` or None.

    Leading blanks are skipped, the empty string reads as 0, a NUL byte ends the
    string, ``nan`` gives NaN (the callers refuse it), and overflow/underflow give
    ``(inf, 0 or a subnormal, True)`` as strtod sets ERANGE.
    """
    i = b.find(b"\0")
    if i >= 0:
        b = b[:i]
    if not b:
        return 0.0, False
    s = b.lstrip(_C_SPACE)
    m = _DEC(s)
    if m is not None:
        v = float(s)
        if v - v != 0.0:
            return v, True  # overflow: HUGE_VAL
        if v == 0.0:
            ip, fp, fp2 = m.groups()
            return v, bool((ip or b"").strip(b"0") or (fp or fp2 or b"").strip(b"0"))
        return v, abs(v) < _DBL_MIN  # subnormal result: ERANGE
    m = _INF(s)
    if m is not None:
        return (-_inf if m.group(1) == b"-" else _inf), False
    if _HEX(s) is not None:
        try:
            v = float.fromhex(s.decode())
        except OverflowError:
            return (-_inf if s[:1] == b"-" else _inf), True
        return v, 0.0 < abs(v) < _DBL_MIN
    if _NAN(s) is not None:
        return math.nan, False
    return None


def _score_arg(b):
    """A score argument (getDoubleFromObject); plain digits skip the full grammar."""
    if b.isdigit() and len(b) < 300:
        return float(b)
    return parse_float(b)


def _range_bound(b):
    """One side of a score range: (value, exclusive) or CommandError."""
    ex = b[:1] == b"("
    r = strtod_c(b[1:] if ex else b)
    if r is None or r[0] != r[0]:
        raise CommandError(ERR_SCORE_RANGE)
    return r[0], ex


def _score_range(bmin, bmax):
    lo, loex = _range_bound(bmin)
    hi, hiex = _range_bound(bmax)
    return lo, loex, hi, hiex


def _lex_range(bmin, bmax):
    lo = parse_lex_bound(bmin)
    hi = parse_lex_bound(bmax)
    if lo is None or hi is None:
        raise CommandError(ERR_LEX_RANGE)
    return lo, hi


# ----------------------------------------------------------------- helpers
def _read(c, key, read=True, packed=False):
    """The sorted set at ``key``, None if missing; WRONGTYPE otherwise. A counted
    read (Database.lookup_read) unless ``read`` is false (ZREM, ZREMRANGE* write).
    A ZSet, or a PackedZSet as it is if ``packed`` (the caller reads it with
    ZSet's methods that PackedZSet has too: len, score, rank, range, rev_range)."""
    z = c.db.lookup_read(key) if read else c.db.lookup(key)
    if z is not None and z.__class__ is not ZSet:
        if packed and z.__class__ is PackedZSet:
            return z
        z = unpacked(c.db, key, z)
    return z


def unpacked(db, key, z):
    """The value ``z`` stored at ``key``, a sorted set, as a ZSet (WRONGTYPE if it
    is not a sorted set); a packed one is unpacked in place, for good."""
    if z.__class__ is not PackedZSet:
        raise CommandError(WRONGTYPE)
    z = z.unpack()
    db.replace_value(key, z)
    return z


def read_zset(db, key):
    """A counted read of the sorted set at ``key`` as a ZSet (GEO*), or None."""
    z = db.lookup_read(key)
    if z is not None and z.__class__ is not ZSet:
        z = unpacked(db, key, z)
    return z


def _packed_new(server, members, scores):
    """The sorted set a ZADD (without XX or INCR) creates, packed, if its members
    are distinct, make a listpack by Redis's rules (no more than
    zset-max-listpack-entries, none longer than zset-max-listpack-value) and fit a
    PackedZSet; else None, and ZADD builds a ZSet. Whatever NX, GT, LT or CH say,
    every member of a new set is added."""
    n = len(members)
    if n > server.zset_max_listpack_entries:
        return None
    if max(map(len, members)) > server.zset_max_listpack_value:
        return None
    if len(set(members)) != n:
        return None
    # (s or 0.0: a listpack has no -0)
    pairs = sorted(zip([s or 0.0 for s in scores], members))
    return PackedZSet.from_flat([x for s, m in pairs for x in (m, s)])


def _rest_packed(db, key, zs):
    """After a ZADD that created ``key``: the new set rests packed if it can."""
    p = pack(zs)
    if p is not zs:
        db.replace_value(key, p)


def _new_zset(server, size_hint=0):
    """An empty ZSet with the encoding Redis starts a result of ``size_hint`` with."""
    return ZSet(size_hint <= server.zset_max_listpack_entries)


def _add_new(server, zs, member, score):
    """Insert a member known to be absent, applying the encoding limits."""
    if zs.listpack and (
        len(zs.dict) >= server.zset_max_listpack_entries
        or len(member) > server.zset_max_listpack_value
    ):
        zs.listpack = False  # converted before the insert, as zsetAdd does
    zs.insert(member, score)


_BULK_HDR = [b"$%d" % i for i in range(1024)]
_hdr = _BULK_HDR.__getitem__
_fmt_score = b"%.17g".__mod__
_fmt_double3 = b",%.17g".__mod__
_EMPTY: tuple = (array("d"), [])  # an empty (scores, members) range


def _bulk_headers(strings):
    """``$<len>`` for each string (a C-speed map for the usual short strings)."""
    try:
        return list(map(_hdr, map(len, strings)))
    except IndexError:  # a string of 1 KB or more
        return [b"$%d" % len(x) for x in strings]


def _range_reply(scores, members, withscores=False, resp=2):
    """Members (and scores) of a range as one pre-encoded array reply.

    The reply is assembled as a list of pieces joined by CRLF, filled with
    slice assignments from ``map`` so that no Python loop runs per element:
    WITHSCORES is a flat array in RESP2 and an array of [member, score] pairs
    (scores as RESP3 doubles) in RESP3.
    """
    n = len(members)
    if not withscores:
        parts = [None] * (2 * n + 2)
        parts[0] = b"*%d" % n
        parts[1:-1:2] = _bulk_headers(members)
        parts[2:-1:2] = members
    elif resp == 2:
        texts = list(map(_fmt_score, scores))
        parts = [None] * (4 * n + 2)
        parts[0] = b"*%d" % (2 * n)
        parts[1:-1:4] = _bulk_headers(members)
        parts[2:-1:4] = members
        parts[3:-1:4] = _bulk_headers(texts)
        parts[4:-1:4] = texts
    else:
        parts = [None] * (4 * n + 2)
        parts[0] = b"*%d" % n
        parts[1:-1:4] = [b"*2"] * n
        parts[2:-1:4] = _bulk_headers(members)
        parts[3:-1:4] = members
        parts[4:-1:4] = map(_fmt_double3, scores)
    parts[-1] = b""
    return Raw(b"\r\n".join(parts))


# --------------------------------------------------------------------- ZADD
_ZADD_FLAGS = {b"nx": 1, b"xx": 2, b"ch": 4, b"incr": 8, b"gt": 16, b"lt": 32}


def _zadd_generic(c, argv, incr):
    n = len(argv)
    flags = 8 if incr else 0
    idx = 2
    get = _ZADD_FLAGS.get
    while idx < n:
        f = get(argv[idx].lower())
        if f is None:
            break
        flags |= f
        idx += 1
    nx = flags & 1
    xx = flags & 2
    ch = flags & 4
    incr = flags & 8
    gt = flags & 16
    lt = flags & 32
    elements = n - idx
    if elements % 2 or not elements:
        raise CommandError(SYNTAX)
    elements //= 2
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and elements > 1:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    scores = [_score_arg(argv[i]) for i in range(idx, n, 2)]
    db = c.db
    key = argv[1]
    zs = db.lookup(key)
    server = c.server
    if zs is None:
        if xx:
            return None if incr else _ZERO
        if not incr:
            p = _packed_new(server, argv[idx + 1 :: 2], scores)
            if p is not None:  # a new set that rests packed (types/zset.py)
                db.add(key, p)
                server.dirty += elements
                db.notify(NOTIFY_ZSET, "zadd", key)
                db.ready(key)
                return elements
        zs = ZSet()
        db.add(key, zs)
        created = True
    else:
        if zs.__class__ is not ZSet:
            zs = unpacked(db, key, zs)
        created = False
    d = zs.dict
    added = updated = processed = 0
    score = 0.0
    try:
        for j in range(elements):
            score = scores[j]
            member = argv[idx + 1 + 2 * j]
            cur = d.get(member)
            if cur is not None:
                if nx:
                    continue
                if incr:
                    score += cur
                    if score != score:
                        raise CommandError(ERR_NAN)
                if (lt and score >= cur) or (gt and score <= cur):
                    continue
                processed += 1
                if score != cur:
                    zs.update(member, cur, score)
                    updated += 1
            elif not xx:
                _add_new(server, zs, member, score)
                added += 1
                processed += 1
    finally:
        if added or updated:
            server.dirty += added + updated
            if not created:
                if not db.quiet:  # (signalModifiedKey)
                    db.signal(key)
            db.notify(NOTIFY_ZSET, "zincr" if incr else "zadd", key)
            if added:
                db.ready(key)
    if created and added:
        _rest_packed(db, key, zs)
    if incr:
        return score if processed else None
    return added + updated if ch else added


@command("zadd")
def zadd(c, argv):
    if len(argv) == 4:
        # Fast path: ZADD key score member.
        flag = argv[2]
        if len(flag) > 4 or flag.lower() not in _ZADD_FLAGS:
            score = _score_arg(flag)
            db = c.db
            key = argv[1]
            member = argv[3]
            zs = db.lookup(key)
            if zs is None:
                zs = ZSet()
                _add_new(c.server, zs, member, score)
                db.add(key, zs)
                _rest_packed(db, key, zs)
                c.server.dirty += 1
                if c.server.notify_flags & NOTIFY_ZSET:
                    db.notify(NOTIFY_ZSET, "zadd", key)
                if db.blocking:
                    db.ready(key)
                return 1
            if zs.__class__ is not ZSet:
                zs = unpacked(db, key, zs)
            cur = zs.dict.get(member)
            if cur is None:
                server = c.server
                _add_new(server, zs, member, score)
                server.dirty += 1
                if not db.quiet:  # (signalModifiedKey)
                    db.signal(key)
                if server.notify_flags & NOTIFY_ZSET:
                    db.notify(NOTIFY_ZSET, "zadd", key)
                if db.blocking:
                    db.ready(key)
                return 1
            if cur != score:
                zs.update(member, cur, score)
                server = c.server
                server.dirty += 1
                if not db.quiet:
                    db.signal(key)
                if server.notify_flags & NOTIFY_ZSET:
                    db.notify(NOTIFY_ZSET, "zadd", key)
            return 0
    return _zadd_generic(c, argv, False)


@command("zincrby")
def zincrby(c, argv):
    return _zadd_generic(c, argv, True)


# ------------------------------------------------------------ simple reads
@command("zcard")
def zcard(c, argv):
    zs = _read(c, argv[1], packed=True)
    return 0 if zs is None else len(zs)


@command("zscore")
def zscore(c, argv):
    zs = _read(c, argv[1], packed=True)
    if zs is None:
        return None
    return zs.score(argv[2])


@command("zmscore")
def zmscore(c, argv):
    zs = _read(c, argv[1], packed=True)
    get = zs.score if zs is not None else (lambda m: None)
    return [get(m) for m in argv[2:]]


def _zrank(c, argv, reverse):
    zs = _read(c, argv[1], packed=True)
    if zs is None:
        return None
    r = zs.rank(argv[2])
    if r is None:
        return None
    return len(zs) - 1 - r if reverse else r


@command("zrank")
def zrank(c, argv):
    return _zrank(c, argv, False)


@command("zrevrank")
def zrevrank(c, argv):
    return _zrank(c, argv, True)


@command("zcount")
def zcount(c, argv):
    lo, loex, hi, hiex = _score_range(argv[2], argv[3])
    zs = _read(c, argv[1])
    if zs is None:
        return 0
    first, stop = zs.score_span(lo, loex, hi, hiex)
    return stop - first


def _lex_ranks(zs, lo, hi):
    """[first, stop) ranks of a lex range; exact Redis walk for listpack sets."""
    if not zs.listpack:
        return zs.lex_span(lo, hi)
    start = zs.lex_scan_start(lo, hi, False)
    if start is None:
        return 0, 0
    lte = lex_lte(hi)
    members = zs.members()
    stop = start
    n = len(members)
    while stop < n and lte(members[stop]):
        stop += 1
    return start, stop


@command("zlexcount")
def zlexcount(c, argv):
    lo, hi = _lex_range(argv[2], argv[3])
    zs = _read(c, argv[1])
    if zs is None:
        return 0
    first, stop = _lex_ranks(zs, lo, hi)
    return stop - first


# -------------------------------------------------------------------- ZREM
@command("zrem")
def zrem(c, argv):
    key = argv[1]
    zs = _read(c, key, False)
    if zs is None:
        return 0
    deleted = 0
    removed_key = False
    remove = zs.remove
    for m in argv[2:]:
        if remove(m):
            deleted += 1
            if not zs.dict:
                removed_key = True
                break
    if deleted:
        db = c.db
        if removed_key:
            db.delete(key)
        else:
            db.signal(key)
        db.notify(NOTIFY_ZSET, "zrem", key)
        if removed_key:
            db.notify(NOTIFY_GENERIC, "del", key)
        c.server.dirty += deleted
    return deleted


def _zremrange(c, argv, kind):
    key = argv[1]
    if kind == 0:
        start = parse_int(argv[2])
        end = parse_int(argv[3])
        event = "zremrangebyrank"
    elif kind == 1:
        rng = _score_range(argv[2], argv[3])
        event = "zremrangebyscore"
    else:
        lo, hi = _lex_range(argv[2], argv[3])
        event = "zremrangebylex"
    zs = _read(c, key, False)
    if zs is None:
        return 0
    if kind == 0:
        size = len(zs.dict)
        if start < 0:
            start += size
        if end < 0:
            end += size
        if start < 0:
            start = 0
        if start > end or start >= size:
            return 0
        if end >= size:
            end = size - 1
        first, stop = start, end + 1
    elif kind == 1:
        first, stop = zs.score_span(*rng)
    else:
        first, stop = _lex_ranks(zs, lo, hi)
    deleted = len(zs.delete_range(first, stop)[1])
    if deleted:
        db = c.db
        removed_key = not zs.dict
        if removed_key:
            db.delete(key)
        else:
            db.signal(key)
        db.notify(NOTIFY_ZSET, event, key)
        if removed_key:
            db.notify(NOTIFY_GENERIC, "del", key)
    c.server.dirty += deleted
    return deleted


@command("zremrangebyrank")
def zremrangebyrank(c, argv):
    return _zremrange(c, argv, 0)


@command("zremrangebyscore")
def zremrangebyscore(c, argv):
    return _zremrange(c, argv, 1)


@command("zremrangebylex")
def zremrangebylex(c, argv):
    return _zremrange(c, argv, 2)


# ------------------------------------------------------------------- ZRANGE
AUTO, RANK, SCORE, LEX = 0, 1, 2, 3
FORWARD, REVERSE = 1, 2


def _rank_items(zs, start, end, reverse):
    """genericZrangebyrankCommand's selection, after sanitizing: (scores, members)."""
    size = len(zs)
    if start < 0:
        start += size
    if end < 0:
        end += size
    if start < 0:
        start = 0
    if start > end or start >= size:
        return _EMPTY
    if end >= size:
        end = size - 1
    if reverse:
        return zs.rev_range(start, end + 1)
    return zs.range(start, end + 1)


def _span_items(zs, first, stop, reverse, offset, limit):
    """The rank span [first, stop) after LIMIT offset count, in order."""
    if first >= stop or offset < 0 or limit == 0:
        return _EMPTY
    if not reverse:
        a = first + offset
        b = stop if limit < 0 else min(stop, a + limit)
        return zs.range(a, b) if a < b else _EMPTY
    top = stop - 1 - offset
    if top < first:
        return _EMPTY
    low = first if limit < 0 else max(first, top - limit + 1)
    return zs.rev_range(len(zs.dict) - 1 - top, len(zs.dict) - low)


def _score_items(zs, rng, reverse, offset, limit):
    if offset > 0 and offset >= len(zs.dict):
        return _EMPTY
    first, stop = zs.score_span(*rng)
    return _span_items(zs, first, stop, reverse, offset, limit)


def _lex_items(zs, lo, hi, reverse, offset, limit):
    if not zs.listpack:
        first, stop = zs.lex_span(lo, hi)
        return _span_items(zs, first, stop, reverse, offset, limit)
    # Redis's listpack walk, exact even when the scores differ.
    start = zs.lex_scan_start(lo, hi, reverse)
    if start is None or offset < 0:
        return _EMPTY
    members = zs.members()
    n = len(members)
    if reverse:
        gte = lex_gte(lo)
        r = start - offset
        low = r + 1
        while r >= 0 and limit != 0 and gte(members[r]):
            limit -= 1
            r -= 1
        return zs.rev_range(n - low, n - 1 - r) if r + 1 < low else _EMPTY
    lte = lex_lte(hi)
    r = a = start + offset
    while r < n and limit != 0 and lte(members[r]):
        limit -= 1
        r += 1
    return zs.range(a, r) if a < r else _EMPTY


def _zrange_generic(c, argv, first_arg, store, rangetype, direction):
    """zrangeGenericCommand: ZRANGE, ZRANGESTORE and the older Z*RANGE* forms."""
    key = argv[first_arg]
    minidx = first_arg + 1
    maxidx = first_arg + 2
    withscores = False
    offset = 0
    limit = -1
    n = len(argv)
    j = first_arg + 3
    while j < n:
        opt = argv[j].lower()
        left = n - j - 1
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset = parse_int(argv[j + 1])
            limit = parse_int(argv[j + 2])
            j += 2
        elif direction == AUTO and opt == b"rev":
            direction = REVERSE
        elif rangetype == AUTO and opt == b"bylex":
            rangetype = LEX
        elif rangetype == AUTO and opt == b"byscore":
            rangetype = SCORE
        else:
            raise CommandError(SYNTAX)
        j += 1
    if direction == AUTO:
        direction = FORWARD
    if rangetype == AUTO:
        rangetype = RANK
    if limit != -1 and rangetype == RANK:
        raise CommandError(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    if withscores and rangetype == LEX:
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    reverse = direction == REVERSE
    if reverse and rangetype != RANK:
        minidx, maxidx = maxidx, minidx
    if rangetype == RANK:
        start = parse_int(argv[minidx])
        end = parse_int(argv[maxidx])
    elif rangetype == SCORE:
        rng = _score_range(argv[minidx], argv[maxidx])
    else:
        lo, hi = _lex_range(argv[minidx], argv[maxidx])

    zs = c.db.lookup_read(key)
    if zs is None:
        if store:
            return _store_range(c, argv[1], (), (), 0)
        return EMPTY_ARRAY
    if zs.__class__ is not ZSet and (rangetype != RANK or zs.__class__ is not PackedZSet):
        zs = unpacked(c.db, key, zs)  # (by rank, a packed set is read as it is)
    if rangetype == RANK:
        scores, members = _rank_items(zs, start, end, reverse)
        hint = len(members)
    elif rangetype == SCORE:
        scores, members = _score_items(zs, rng, reverse, offset, limit)
        hint = 0
    else:
        scores, members = _lex_items(zs, lo, hi, reverse, offset, limit)
        hint = 0
    if store:
        return _store_range(c, argv[1], scores, members, hint)
    return _range_reply(scores, members, withscores, c.resp)


def _store_range(c, dst, scores, members, hint):
    """ZRANGESTORE's result handler: build the destination like zsetAdd would."""
    db = c.db
    server = c.server
    if members:
        zs = _new_zset(server, hint)
        for s, m in zip(scores, members):
            _add_new(server, zs, m, s)
        db.set(dst, zs)
        db.notify(NOTIFY_ZSET, "zrangestore", dst)
        server.dirty += 1
        db.ready(dst)
        return len(members)
    if db.delete(dst):
        db.notify(NOTIFY_GENERIC, "del", dst)
        server.dirty += 1
    return 0


@command("zrange")
def zrange(c, argv):
    if len(argv) == 4:
        # Fast path: ZRANGE key start stop.
        start = parse_ll(argv[2])
        end = parse_ll(argv[3])
        if start is not None and end is not None:
            zs = c.db.lookup_read(argv[1])
            if zs is None:
                return EMPTY_ARRAY
            if zs.__class__ is not ZSet and zs.__class__ is not PackedZSet:
                raise CommandError(WRONGTYPE)
            return _range_reply(*_rank_items(zs, start, end, False))
    return _zrange_generic(c, argv, 1, False, AUTO, AUTO)


def _bind_range(name, first_arg, store, rangetype, direction):
    def run(c, argv):
        return _zrange_generic(c, argv, first_arg, store, rangetype, direction)

    run.__name__ = name
    command(name)(run)


# The older range commands are ZRANGE with the range type and direction fixed.
for _args in (
    ("zrangestore", 2, True, AUTO, AUTO),
    ("zrevrange", 1, False, RANK, REVERSE),
    ("zrangebyscore", 1, False, SCORE, FORWARD),
    ("zrevrangebyscore", 1, False, SCORE, REVERSE),
    ("zrangebylex", 1, False, LEX, FORWARD),
    ("zrevrangebylex", 1, False, LEX, REVERSE),
):
    _bind_range(*_args)


# ---------------------------------------------------- ZUNION / ZINTER / ZDIFF
UNION, INTER, DIFF = 0, 1, 2
_AGG = {b"sum": 0, b"min": 1, b"max": 2}


def _source_pairs(v):
    """(member, score) pairs of an input: a ZSet, or a set whose members score 1."""
    if v.__class__ is ZSet:
        return v.items()
    ordered = getattr(v, "ordered", None)
    members = ordered() if ordered is not None else v
    return ((m, 1.0) for m in members)


def _source_score(v, member):
    """Score of ``member`` in an input, or None."""
    if v.__class__ is ZSet:
        return v.dict.get(member)
    return 1.0 if member in v else None


def _aggregate(target, val, agg):
    if agg == 0:
        target = target + val
        if target != target:
            target = 0.0  # inf + -inf: Redis keeps 0
        return target
    if agg == 1:
        return val if val < target else target
    return val if val > target else target


def _zsetop(c, argv, dst, numkeys_idx, op, card_only=False):
    """zunionInterDiffGenericCommand."""
    setnum = parse_int(argv[numkeys_idx])
    if setnum < 1:
        raise CommandError("ERR at least 1 input key is needed for '%s' command" % c.cmd.fullname)
    n = len(argv)
    if setnum > n - (numkeys_idx + 1):
        raise CommandError(SYNTAX)
    srcs = []
    j = numkeys_idx + 1
    for i in range(setnum):
        v = c.db.lookup_read(argv[j + i])
        if v is not None and v.__class__ is not ZSet and v.__class__ is not RSet:
            if v.__class__ is PackedSet:
                v = unpacked_set(c.db, argv[j + i], v)
            else:
                v = unpacked(c.db, argv[j + i], v)
        srcs.append(v)
    j += setnum
    weights = [1.0] * setnum
    agg = 0
    withscores = False
    limit = 0
    remaining = n - j
    while remaining:
        opt = argv[j].lower()
        if op != DIFF and not card_only and remaining >= setnum + 1 and opt == b"weights":
            j += 1
            remaining -= 1
            for i in range(setnum):
                weights[i] = parse_float(argv[j], "ERR weight value is not a float")
                j += 1
                remaining -= 1
        elif op != DIFF and not card_only and remaining >= 2 and opt == b"aggregate":
            a = _AGG.get(argv[j + 1].lower())
            if a is None:
                raise CommandError(SYNTAX)
            agg = a
            j += 2
            remaining -= 2
        elif remaining >= 1 and dst is None and not card_only and opt == b"withscores":
            withscores = True
            j += 1
            remaining -= 1
        elif card_only and remaining >= 2 and opt == b"limit":
            limit = get_long(argv[j + 1], 0, _LONG_MAX, "ERR LIMIT can't be negative")
            j += 2
            remaining -= 2
        else:
            raise CommandError(SYNTAX)

    server = c.server
    lens = [0 if v is None else len(v) for v in srcs]
    result = {}  # member -> score
    if op != DIFF:
        # smallest input first (a stable sort, like glibc's qsort on this array)
        order = sorted(range(setnum), key=lens.__getitem__)
        srcs = [srcs[i] for i in order]
        weights = [weights[i] for i in order]
        lens = [lens[i] for i in order]
    if op == INTER:
        card = 0
        if lens[0]:
            first = srcs[0]
            w0 = weights[0]
            rest = list(zip(srcs[1:], weights[1:]))
            for m, s in _source_pairs(first):
                score = w0 * s
                if score != score:
                    score = 0.0
                for v, w in rest:
                    if v is first:
                        val = s * w
                    else:
                        val = _source_score(v, m)
                        if val is None:
                            break
                        val *= w
                    score = _aggregate(score, val, agg)
                else:
                    if card_only:
                        card += 1
                        if limit and card >= limit:
                            break
                    else:
                        result[m] = score
        if card_only:
            return card
    elif op == UNION:
        for v, w, size in zip(srcs, weights, lens):
            if not size:
                continue
            get = result.get
            for m, s in _source_pairs(v):
                score = w * s
                if score != score:
                    score = 0.0
                cur = get(m)
                if cur is None:
                    result[m] = score
                else:
                    result[m] = _aggregate(cur, score, agg)
    else:
        result = _zdiff(srcs, lens)

    if dst is not None:
        db = c.db
        if result:
            zs = ZSet.from_dict(result, listpack=False)
            zs.shrink_encoding(server.zset_max_listpack_entries, server.zset_max_listpack_value)
            db.set(dst, zs)
            db.notify(NOTIFY_ZSET, ("zunionstore", "zinterstore", "zdiffstore")[op], dst)
            server.dirty += 1
            db.ready(dst)
            return len(zs)
        if db.delete(dst):
            db.notify(NOTIFY_GENERIC, "del", dst)
            server.dirty += 1
        return 0
    pairs = sorted(zip(result.values(), result))
    return _range_reply([s for s, _ in pairs], [m for _, m in pairs], withscores, c.resp)


def _zdiff(srcs, lens):
    """Members of the first input found in none of the others, with their scores."""
    first = srcs[0]
    if not lens[0]:
        return {}
    for v in srcs[1:]:
        if v is first:
            return {}
    others = [v for v in srcs[1:] if v]
    out = {}
    for m, s in _source_pairs(first):
        for v in others:
            if m in (v.dict if v.__class__ is ZSet else v):
                break
        else:
            out[m] = s
    return out


def _bind_setop(name, op, store, card_only=False):
    def run(c, argv):
        if store:
            return _zsetop(c, argv, argv[1], 2, op)
        return _zsetop(c, argv, None, 1, op, card_only)

    run.__name__ = name
    command(name)(run)


_SETOPS: tuple = (
    ("zunionstore", UNION, True),
    ("zinterstore", INTER, True),
    ("zdiffstore", DIFF, True),
    ("zunion", UNION, False),
    ("zinter", INTER, False),
    ("zdiff", DIFF, False),
    ("zintercard", INTER, False, True),
)
for _args in _SETOPS:
    _bind_setop(*_args)


# --------------------------------------------------------------------- pops
def _pop(c, keys, where_max, count, nested, emitkey, nil_when_empty):
    """genericZpopCommand: pop from the first non-empty key. Returns the reply."""
    db = c.db
    zs = None
    for key in keys:
        zs = db.lookup(key)
        if zs is None:
            continue
        if zs.__class__ is not ZSet:
            zs = unpacked(db, key, zs)
        break
    if zs is None:
        return NULL_ARRAY if nil_when_empty else EMPTY_ARRAY
    if count == 0:
        return EMPTY_ARRAY
    if count == -1:
        count = 1
    scores, members = zs.pop_last(count) if where_max else zs.pop_first(count)
    c.server.dirty += len(members)
    db.signal(key)
    db.notify(NOTIFY_ZSET, "zpopmax" if where_max else "zpopmin", key)
    if not zs.dict:
        db.delete(key)
        db.notify(NOTIFY_GENERIC, "del", key)
    if nested:
        body = [[m, s] for s, m in zip(scores, members)]
        if emitkey:
            return [key, body]
        return body
    if not emitkey and c.resp == 2:
        # the same flat array, pre-encoded (one pair: ZPOPMIN's usual answer)
        if len(members) == 1:
            return _pair_reply2(members[0], scores[0])
        return _range_reply(scores, members, True, 2)
    flat = [None] * (2 * len(members))
    flat[0::2] = members
    flat[1::2] = scores
    if emitkey:
        flat.insert(0, key)
    return flat


def _zpop_one(c, key, where_max):
    """ZPOPMIN/ZPOPMAX with a key and no count, the usual call: :func:`_pop`'s
    steps for one key and one element, written out."""
    db = c.db
    zs = db.lookup(key)
    if zs is None:
        return EMPTY_ARRAY
    if zs.__class__ is not ZSet:
        zs = unpacked(db, key, zs)
    scores, members = zs.pop_last(1) if where_max else zs.pop_first(1)
    server = c.server
    server.dirty += 1
    if not db.quiet:  # (signalModifiedKey)
        db.signal(key)
    if server.notify_flags & NOTIFY_ZSET:
        db.notify(NOTIFY_ZSET, "zpopmax" if where_max else "zpopmin", key)
    if not zs.dict:
        db.delete(key)
        db.notify(NOTIFY_GENERIC, "del", key)
    if c.resp != 2:
        return [members[0], scores[0]]
    return _pair_reply2(members[0], scores[0])


def _pair_reply2(m, s):
    """One popped member and its score as RESP2's flat array, pre-encoded. An
    integral score below 1e15 is spelt the same by %d as by %.17g, at half the
    cost (0 goes the long way: -0.0 is "-0")."""
    t = b"%d" % s if s and -1e15 < s < 1e15 and s.is_integer() else _fmt_score(s)
    return Raw(b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(m), m, len(t), t))


def _zpop_minmax(c, argv, where_max):
    """ZPOPMIN/ZPOPMAX with a count (the key alone is :func:`_zpop_one`)."""
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    count = get_long(argv[2], 0, _LONG_MAX, "ERR value is out of range, must be positive")
    return _pop(c, [argv[1]], where_max, count, c.resp > 2, False, False)


@command("zpopmin")
def zpopmin(c, argv):
    if len(argv) == 2:
        return _zpop_one(c, argv[1], False)
    return _zpop_minmax(c, argv, False)


@command("zpopmax")
def zpopmax(c, argv):
    if len(argv) == 2:
        return _zpop_one(c, argv[1], True)
    return _zpop_minmax(c, argv, True)


def _parse_mpop(argv, numkeys_idx):
    """ZMPOP/BZMPOP arguments: (keys, where_max, count)."""
    numkeys = get_long(argv[numkeys_idx], 1, _LONG_MAX, "ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    if where_idx >= len(argv):
        raise CommandError(SYNTAX)
    where = argv[where_idx].lower()
    if where == b"min":
        where_max = False
    elif where == b"max":
        where_max = True
    else:
        raise CommandError(SYNTAX)
    count = -1
    j = where_idx + 1
    n = len(argv)
    while j < n:
        if count == -1 and argv[j].lower() == b"count" and n - 1 - j > 0:
            count = get_long(argv[j + 1], 1, _LONG_MAX, "ERR count should be greater than 0")
            j += 2
        else:
            raise CommandError(SYNTAX)
    if count == -1:
        count = 1
    return argv[numkeys_idx + 1 : where_idx], where_max, count


def _propagate_pop(c, key, where_max, count):
    name = b"ZPOPMAX" if where_max else b"ZPOPMIN"
    if count is None:
        c.propagate = [[name, key]]
    else:
        c.propagate = [[name, key, b"%d" % count]]


@command("zmpop")
def zmpop(c, argv):
    keys, where_max, count = _parse_mpop(argv, 1)
    r = _pop(c, keys, where_max, count, True, True, True)
    if r is not NULL_ARRAY:
        _propagate_pop(c, r[0], where_max, len(r[1]))
    return r


# --------------------------------------------------------- blocking pops
def _pop_key_now(c, key, where_max, count, nested):
    """Serve a blocking pop from ``key`` if it has elements: the reply, else None."""
    zs = c.db.lookup(key)
    if zs is None:
        return None
    if zs.__class__ is not ZSet:
        zs = unpacked(c.db, key, zs)
    size = len(zs.dict)
    if not size:
        return None
    r = _pop(c, [key], where_max, count, nested, True, nested)
    # replicated as ZPOPMIN/ZPOPMAX (with the COUNT actually popped for BZMPOP)
    _propagate_pop(c, key, where_max, None if count == -1 else min(count, size))
    return r


def _blocking_pop(c, keys, where_max, timeout_arg, count, nested):
    """blockingGenericZpopCommand: pop now if a key has elements, else block."""
    deadline = blocking.parse_timeout(timeout_arg)
    for key in keys:
        r = _pop_key_now(c, key, where_max, count, nested)
        if r is not None:
            return r
    if blocking.deny_blocking(c):
        return NULL_ARRAY

    def serve(bc, key):
        zs = bc.db.lookup(key)
        if zs is not None and zs.__class__ is not ZSet and zs.__class__ is not PackedZSet:
            return None  # a key that became another type: keep waiting
        return _pop_key_now(bc, key, where_max, count, nested)

    return blocking.block(c, keys, deadline, serve)


@command("bzpopmin")
def bzpopmin(c, argv):
    return _blocking_pop(c, argv[1:-1], False, argv[-1], -1, False)


@command("bzpopmax")
def bzpopmax(c, argv):
    return _blocking_pop(c, argv[1:-1], True, argv[-1], -1, False)


@command("bzmpop")
def bzmpop(c, argv):
    keys, where_max, count = _parse_mpop(argv, 2)
    return _blocking_pop(c, keys, where_max, argv[1], count, True)


# ------------------------------------------------------------ ZRANDMEMBER
@command("zrandmember")
def zrandmember(c, argv):
    n = len(argv)
    if n >= 3:
        count = get_long(argv[2], -_LONG_MAX, _LONG_MAX)
        withscores = False
        if n > 4 or (n == 4 and argv[3].lower() != b"withscores"):
            raise CommandError(SYNTAX)
        if n == 4:
            withscores = True
            if count < -_LONG_MAX // 2 or count > _LONG_MAX // 2:
                raise CommandError("ERR value is out of range")
        return _zrandmember_count(c, argv[1], count, withscores)
    zs = _read(c, argv[1])
    if zs is None:
        return None
    return zs.at(random.randrange(len(zs.dict)))[1]


def _zrandmember_count(c, key, count, withscores):
    zs = _read(c, key)
    if zs is None or count == 0:
        return EMPTY_ARRAY
    size = len(zs.dict)
    if count >= size:
        scores, members = zs.rev_range(0, size)  # zuiNext walks from the tail
        return _range_reply(scores, members, withscores, c.resp)
    if count < 0:
        # Repetitions allowed, random order: uniform picks by rank.
        rr = random.randrange
        ranks = [rr(size) for _ in range(-count)]
    elif zs.listpack:
        # A listpack answers distinct picks in listpack (sorted) order.
        ranks = sorted(random.sample(range(size), count))
    else:
        ranks = random.sample(range(size), count)
    picks = list(map(zs.at, ranks))
    return _range_reply([s for s, _ in picks], [m for _, m in picks], withscores, c.resp)


# -------------------------------------------------------------------- ZSCAN
@command("zscan")
def zscan(c, argv):
    cursor = parse_cursor(argv[2])
    zs = _read(c, argv[1])
    if zs is None:
        return _EMPTY_SCAN
    count, pattern = parse_scan_options(argv, 3)
    d = zs.dict
    listpack = zs.listpack
    if listpack:
        cursor, members = 0, zs.members()
    else:
        cursor, members = scan_keys(c.server, d, cursor, count)
    if pattern is not None:
        m = matcher(pattern)
        members = [x for x in members if m(x)]
    out = []
    for x in members:
        out.append(x)
        out.append(scan_score(d[x], listpack))
    return [b"%d" % cursor, out]
