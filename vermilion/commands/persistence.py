"""Persistence commands: SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF, DUMP, RESTORE.

The formats and the machinery live in :mod:`vermilion.persistence` (``rdb`` for
the encoding shared by files and DUMP payloads, ``snapshot`` for saving and the
fork child, ``aof`` for the append-only file); this module only parses
arguments and answers like rdb.c, aof.c and cluster.c.
"""

from ..acl import U_SKIP_SANITIZE
from ..errors import CommandError, SYNTAX, BUSYKEY
from ..keyspace.db import NOTIFY_GENERIC
from ..persistence import aof as _aof  # noqa: F401  (registers the AOF on each server)
from ..persistence import rdb
from ..persistence.errors import CorruptError
from ..persistence.snapshot import CHILD_AOF, CHILD_RDB
from ..protocol.encoder import OK, Status
from ..util import parse_int
from ..core.table import command


@command("save")
def save(c, argv):
    snap = c.server.snapshot
    if snap.child_type == CHILD_RDB:
        raise CommandError("ERR Background save already in progress")
    if not snap.save():
        raise CommandError("ERR")
    return OK


@command("bgsave")
def bgsave(c, argv):
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(SYNTAX)
    snap = c.server.snapshot
    if snap.child_type == CHILD_RDB:
        raise CommandError("ERR Background save already in progress")
    if snap.has_child() or c.in_exec:
        if schedule or c.in_exec:
            snap.bgsave_scheduled = True
            return Status("Background saving scheduled")
        raise CommandError(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. "
            "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
        )
    if snap.bgsave():
        return Status("Background saving started")
    raise CommandError("ERR")


@command("lastsave")
def lastsave(c, argv):
    return c.server.lastsave


@command("bgrewriteaof")
def bgrewriteaof(c, argv):
    server = c.server
    snap = server.snapshot
    aof = server.aof
    if snap.child_type == CHILD_AOF:
        raise CommandError("ERR Background append only file rewriting already in progress")
    if snap.has_child() or c.in_exec:
        aof.rewrite_scheduled = True
        aof.consecutive_failures = 0
        aof._sync_attrs()
        return Status("Background append only file rewriting scheduled")
    if aof.rewrite_background():
        return Status("Background append only file rewriting started")
    raise CommandError(
        "ERR Can't execute an AOF background rewriting. "
        "Please check the server logs for more information."
    )


@command("dump")
def dump(c, argv):
    v = c.db.lookup_read(argv[1])  # (dumpCommand: lookupKeyRead, counted)
    if v is None:
        return None
    return rdb.dump_payload(v, c.server.snapshot.limits())


def _log_bad_payload(server, e, deep):
    """What Redis logs for a damaged RESTORE payload.

    An error its shallow checks find is rdbReportCorruptRDB's verbose line. One
    only deep sanitization finds is, with ``sanitize-dump-payload no``, a
    payload Redis accepts and then trips over (an assertion, or a panic, when a
    command reads the corrupt entry): Vermilion keeps what is sound of it (the
    decoder's salvage, if anything is left) and logs at once the report Redis
    would write then, so that the two servers' logs say the same."""
    if e.deep_only and not deep:
        failure = e.redis_failure
        kept = "keeps its sound part" if getattr(e, "salvage", None) is not None else "refuses it"
        why = "RESTORE payload: %s (Redis accepts it without sanitize-dump-payload " % e
        why += "and fails when it reads it; Vermilion %s)" % kept
        server.log(3, "------------------------------------------------")
        if failure == "dup":
            server.log(3, "listpack with dup elements dump (%s)" % why)
            failure = "panic"
        if failure == "panic":
            server.log(3, "Guru Meditation: %s" % why)
        else:
            server.log(3, "=== ASSERTION FAILED ===")
            server.log(3, "==> %s" % why)
        return
    server.log(1, "Internal error in RDB reading offset 0, function at rdb.c:0 -> %s" % e)


def _deep_sanitization(c, server):
    """rdbLoadObject's deep_integrity_validation for this RESTORE: always with
    ``sanitize-dump-payload yes``; with ``clients``, unless the payload comes
    from our master, while loading (the AOF), or from a user with the
    skip-sanitize-payload flag."""
    mode = server.config.get("sanitize-dump-payload")
    if mode != "clients":
        return mode == "yes"
    if server.loading or "M" in (c.flags_extra or ""):
        return False
    acl = server.acl
    if acl is None:
        return True
    user = c.user
    u = acl.get(user.encode("utf-8", "surrogateescape") if isinstance(user, str) else user)
    return u is None or not (u.flags & U_SKIP_SANITIZE)


@command("restore")
def restore(c, argv):
    key = argv[1]
    replace = absttl = False
    idle = freq = -1
    j = 4
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        more = n - j - 1
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and more >= 1 and freq == -1:
            idle = parse_int(argv[j + 1])
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            j += 1
        elif opt == b"freq" and more >= 1 and idle == -1:
            freq = parse_int(argv[j + 1])
            if freq < 0 or freq > 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    db = c.db
    if not replace and db.lookup(key) is not None:
        raise CommandError(BUSYKEY)
    ttl = parse_int(argv[2])
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    payload = argv[3]
    server = c.server
    ok, _ver = rdb.verify_dump_payload(payload, getattr(server, "skip_checksum_validation", False))
    if not ok:
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    limits = server.snapshot.limits()  # a fresh object: ours to adjust
    limits.deep = _deep_sanitization(c, server)
    try:
        value = rdb.restore_value(payload, limits)
    except CorruptError as e:
        _log_bad_payload(server, e, limits.deep)
        value = getattr(e, "salvage", None)
        if value is None:
            raise CommandError("ERR Bad data format")
    except Exception as e:  # any decoding failure is a bad payload, never a crash
        server.log(1, "RESTORE payload could not be decoded: %r" % e)
        raise CommandError("ERR Bad data format")
    deleted = replace and db.delete(key)
    if ttl and not absttl:
        ttl += db.now()
    if ttl and ttl <= db.now() and not server.loading:
        # Already expired: the key is gone (a DEL if REPLACE removed one).
        if deleted:
            c.propagate = [[b"DEL", key]]
            db.notify(NOTIFY_GENERIC, "del", key)
            server.dirty += 1
        return OK
    db.add(key, value)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            c.propagate = [[argv[0], key, b"%d" % ttl] + list(argv[3:]) + [b"ABSTTL"]]
    hook = server.object_set_lru_lfu
    if hook is not None and (idle >= 0 or freq >= 0):
        hook(db, key, idle, freq)
    db.notify(NOTIFY_GENERIC, "restore", key)
    server.dirty += 1
    return OK
