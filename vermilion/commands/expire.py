"""Time to live (expire.c): EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX|XX|GT|LT,
TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.

A key's expiry is an absolute time in milliseconds in ``db.expires``; keys whose
time has passed are removed lazily by every lookup and actively by
:mod:`vermilion.keyspace.expire`.

Propagation (AOF, replicas) never carries a relative time: EXPIRE, PEXPIRE and
EXPIREAT are written as ``PEXPIREAT key <absolute ms> [flags]``, and a time
already in the past deletes the key and is written as ``DEL key`` (``UNLINK``
under lazyfree-lazy-expire), exactly as Redis rewrites its argv.

Like Redis 7.0, "now" for these commands is the wall clock (``mstime()``), not
the frozen time of a transaction or script: the server's clock (``db.time()``,
keyspace/clock.py), which is real time unless a test moved it.
"""

from ..errors import CommandError, INVALID_EXPIRE
from ..keyspace.db import NOTIFY_GENERIC
from ..util import parse_int
from ..core.table import command
from ..util import LLONG_MAX as _LLONG_MAX

_SEC_MAX = _LLONG_MAX // 1000  # LLONG_MAX / 1000 in C
_SEC_MIN = -((2**63) // 1000)  # LLONG_MIN / 1000 in C (truncates toward 0)

_NX, _XX, _GT, _LT = 1, 2, 4, 8
_FLAGS = {b"nx": _NX, b"xx": _XX, b"gt": _GT, b"lt": _LT}


def _parse_flags(argv):
    flags = 0
    for opt in argv[3:]:
        f = _FLAGS.get(opt.lower())
        if f is None:
            raise CommandError("ERR Unsupported option %s" % opt.decode("utf-8", "surrogateescape"))
        flags |= f
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if flags & _GT and flags & _LT:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    return flags


def _already_expired(c, when):
    """checkAlreadyExpired: delete at once, unless loading or a replica."""
    server = c.server
    return when <= int(c.db.time() * 1000) and not server.loading and not server.is_replica


def _expire(c, argv, name, relative, seconds):
    key = argv[1]
    flags = _parse_flags(argv) if len(argv) > 3 else 0
    when = parse_int(argv[2])
    if seconds:
        if when > _SEC_MAX or when < _SEC_MIN:
            raise CommandError(INVALID_EXPIRE % name)
        when *= 1000
    if relative:
        base = int(c.db.time() * 1000)
        if when > _LLONG_MAX - base:
            raise CommandError(INVALID_EXPIRE % name)
        when += base
    db = c.db
    if db.lookup(key) is None:
        return 0
    if flags:
        current = db.get_expire(key)
        if flags & _NX and current != -1:
            return 0
        if flags & _XX and current == -1:
            return 0
        if flags & _GT and (when <= current or current == -1):
            return 0
        if flags & _LT and current != -1 and when >= current:
            return 0
    server = c.server
    if _already_expired(c, when):
        db.delete(key)
        server.dirty += 1
        lazy = server.config.get("lazyfree-lazy-expire") == "yes"
        c.propagate = [[b"UNLINK" if lazy else b"DEL", key]]
        db.notify(NOTIFY_GENERIC, "del", key)
        return 1
    db.set_expire(key, when)
    if relative or seconds:
        c.propagate = [[b"PEXPIREAT", key, b"%d" % when] + argv[3:]]
    db.signal(key)
    db.notify(NOTIFY_GENERIC, "expire", key)
    server.dirty += 1
    return 1


@command("expire")
def expire(c, argv):
    return _expire(c, argv, "expire", True, True)


@command("pexpire")
def pexpire(c, argv):
    return _expire(c, argv, "pexpire", True, False)


@command("expireat")
def expireat(c, argv):
    return _expire(c, argv, "expireat", False, True)


@command("pexpireat")
def pexpireat(c, argv):
    return _expire(c, argv, "pexpireat", False, False)


def _ttl(c, key, ms, absolute):
    db = c.db
    if db.lookup_read_notouch(key) is None:
        return -2
    when = db.get_expire(key)
    if when == -1:
        return -1
    ttl = when if absolute else when - int(db.time() * 1000)
    if ttl < 0:
        ttl = 0
    return ttl if ms else (ttl + 500) // 1000


@command("ttl")
def ttl(c, argv):
    return _ttl(c, argv[1], False, False)


@command("pttl")
def pttl(c, argv):
    return _ttl(c, argv[1], True, False)


@command("expiretime")
def expiretime(c, argv):
    return _ttl(c, argv[1], False, True)


@command("pexpiretime")
def pexpiretime(c, argv):
    return _ttl(c, argv[1], True, True)


@command("persist")
def persist(c, argv):
    db = c.db
    key = argv[1]
    if db.lookup(key) is None or not db.persist(key):
        return 0
    db.signal(key)
    db.notify(NOTIFY_GENERIC, "persist", key)
    c.server.dirty += 1
    return 1
