"""Keyspace (generic) commands (db.c, object.c): DEL, EXISTS, TYPE, RENAME, KEYS,
SCAN, RANDOMKEY, DBSIZE, FLUSHDB/FLUSHALL, SWAPDB, MOVE, COPY, TOUCH, OBJECT.

The EXPIRE family, TTL and PERSIST live in :mod:`.expire`; SELECT in
:mod:`.connection`.

Lookups follow Redis's flags: commands that only inspect a key (EXISTS, TYPE,
OBJECT, SCAN's TYPE filter) use ``lookup_read_notouch`` so they do not count as
an access for OBJECT IDLETIME / LRU eviction; reads (TOUCH, COPY's source) use
``lookup_read`` and writes ``lookup`` (only reads count in INFO's keyspace_hits
and keyspace_misses, as in Redis). Every
lookup deletes a key whose time has passed (with its "expired" event) first,
which is why e.g. DEL of an expired key answers 0 without a "del" event.
"""

import contextlib
import copy as _copy

from ..errors import CommandError, SAME_OBJECT, DB_OUT_OF_RANGE, SYNTAX
from ..keyspace.db import NOTIFY_GENERIC
from ..keyspace import lru
from ..keyspace.scan import scan_keys, parse_cursor
from ..protocol.encoder import OK, Status
from ..util import parse_ll
from ..util import parse_int
from .. import globmatch as glob
from .hashes import get_long  # getRangeLongFromObjectOrReply
from ..core.table import command
from ..persistence.snapshot import CHILD_RDB

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_SHARED_REFCOUNT = 2147483647  # OBJ_SHARED_REFCOUNT: small shared integers
_SHARED_INTEGERS = 10000

_TYPE_BY_CLASS_NAME = {
    "bytes": "string",
    "bytearray": "string",
    "RList": "list",
    "RHash": "hash",
    "RSet": "set",
    "ZSet": "zset",
    "Stream": "stream",
}
_TYPE_CACHE: dict = {}


def type_name(v):
    """Redis's type name for a stored value ("none" for None)."""
    if v is None:
        return "none"
    cls = v.__class__
    t = _TYPE_CACHE.get(cls)
    if t is None:
        t = getattr(cls, "type_name", None)
        if not isinstance(t, str):
            t = _TYPE_BY_CLASS_NAME.get(cls.__name__, "unknown")
        _TYPE_CACHE[cls] = t
    return t


def _db_index(b, msg=None):
    """getIntFromObjectOrReply: a 32-bit int (``msg`` replaces both errors if given)."""
    return get_long(b, _INT_MIN, _INT_MAX, msg)


def _db_by_index(c, b):
    dbid = _db_index(b)
    if dbid < 0 or dbid >= len(c.server.dbs):
        raise CommandError(DB_OUT_OF_RANGE)
    return c.server.dbs[dbid]


# ------------------------------------------------------------- DEL family
def _del(c, argv):
    db = c.db
    server = c.server
    n = 0
    for key in argv[1:]:
        db.lookup_notouch(key)  # expireIfNeeded: an expired key is not "deleted"
        if db.delete(key):
            db.notify(NOTIFY_GENERIC, "del", key)
            server.dirty += 1
            n += 1
    return n


@command("del")
def del_(c, argv):
    return _del(c, argv)


@command("unlink")
def unlink(c, argv):
    return _del(c, argv)


@command("exists")
def exists(c, argv):
    look = c.db.lookup_read_notouch
    return sum(1 for key in argv[1:] if look(key) is not None)


@command("touch")
def touch(c, argv):
    look = c.db.lookup_read
    return sum(1 for key in argv[1:] if look(key) is not None)


@command("type")
def type_(c, argv):
    return Status(type_name(c.db.lookup_read_notouch(argv[1])))


@command("dbsize")
def dbsize(c, argv):
    return len(c.db.data)


@command("randomkey")
def randomkey(c, argv):
    return c.db.random_key()


# ------------------------------------------------------------------ RENAME
def _rename(c, argv, nx):
    db = c.db
    src, dst = argv[1], argv[2]
    v = db.lookup(src)
    if v is None:
        raise CommandError("ERR no such key")
    if src == dst:
        return 0 if nx else OK
    when = db.get_expire(src)
    if db.lookup(dst) is not None:
        if nx:
            return 0
        db.delete(dst)
    field = db.lru.get(src)  # the object moves with its access clock
    db.pop_value(src)  # the value moves: no lazyfree
    db.add(dst, v)
    if field is not None:
        db.lru[dst] = field
    if when != -1:
        db.set_expire(dst, when)
    db.notify(NOTIFY_GENERIC, "rename_from", src)
    db.notify(NOTIFY_GENERIC, "rename_to", dst)
    c.server.dirty += 1
    return 1 if nx else OK


@command("rename")
def rename(c, argv):
    return _rename(c, argv, False)


@command("renamenx")
def renamenx(c, argv):
    return _rename(c, argv, True)


# -------------------------------------------------------------- MOVE, COPY
@command("move")
def move(c, argv):
    if c.server.cluster is not None:
        raise CommandError("ERR MOVE is not allowed in cluster mode")
    src = c.db
    key = argv[1]
    dst = _db_by_index(c, argv[2])
    if dst is src:
        raise CommandError(SAME_OBJECT)
    v = src.lookup(key)
    if v is None:
        return 0
    when = src.get_expire(key)
    if dst.lookup(key) is not None:
        return 0
    field = src.lru.get(key)
    src.pop_value(key)
    dst.add(key, v)
    if field is not None:
        dst.lru[key] = field
    if when != -1:
        dst.set_expire(key, when)
    src.notify(NOTIFY_GENERIC, "move_from", key)
    dst.notify(NOTIFY_GENERIC, "move_to", key)
    c.server.dirty += 1
    return 1


def dup_value(v):
    """An independent copy of a stored value (COPY): what Redis's *Dup functions do."""
    cls = v.__class__
    if cls is bytes:
        return v
    if cls is bytearray:
        return bytearray(v)
    dup = getattr(v, "copy", None)
    if dup is not None:
        return dup()
    return _copy.deepcopy(v)


@command("copy")
def copy(c, argv):
    src = dst = c.db
    replace = False
    n = len(argv)
    j = 3
    while j < n:
        opt = argv[j].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < n:
            dst = _db_by_index(c, argv[j + 1])
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if c.server.cluster is not None and (src.id != 0 or dst.id != 0):
        raise CommandError("ERR Copying to another database is not allowed in cluster mode")
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        raise CommandError(SAME_OBJECT)
    v = src.lookup_read(key)
    if v is None:
        return 0
    when = src.get_expire(key)
    delete = False
    if dst.lookup(newkey) is not None:
        if not replace:
            return 0
        delete = True
    newv = dup_value(v)
    if delete:
        dst.delete(newkey)
    dst.add(newkey, newv)
    if when != -1:
        dst.set_expire(newkey, when)
    dst.notify(NOTIFY_GENERIC, "copy_to", newkey)
    c.server.dirty += 1
    return 1


# ----------------------------------------------------------------- SWAPDB
_SWAPPED = ("data", "expires", "_heap", "avg_ttl", "expires_cursor", "lru", "rand_keys")


@command("swapdb")
def swapdb(c, argv):
    if c.server.cluster is not None:
        raise CommandError("ERR SWAPDB is not allowed in cluster mode")
    id1 = _db_index(argv[1], "ERR invalid first DB index")
    id2 = _db_index(argv[2], "ERR invalid second DB index")
    dbs = c.server.dbs
    if id1 < 0 or id1 >= len(dbs) or id2 < 0 or id2 >= len(dbs):
        raise CommandError(DB_OUT_OF_RANGE)
    if id1 != id2:
        db1, db2 = dbs[id1], dbs[id2]
        with _no_tracking(c.server):  # SWAPDB touches WATCHes only, no tracking flush
            db1.signal_all(db2)
            db2.signal_all(db1)
        old_streams = [_blocked_streams(db1), _blocked_streams(db2)]
        for attr in _SWAPPED:
            a, b = getattr(db1, attr), getattr(db2, attr)
            setattr(db1, attr, b)
            setattr(db2, attr, a)
        for db, streams in zip((db1, db2), old_streams):
            _wake_after_swap(db, streams)
        c.server.replica_expire_keys.clear()  # (flushSlaveKeysWithExpireList)
    c.server.dirty += 1
    return OK


@contextlib.contextmanager
def _no_tracking(server):
    """Database.signal_all without its client-side-caching flush; yields the tracker."""
    tracking = server.tracking
    server.tracking = None
    try:
        yield tracking
    finally:
        server.tracking = tracking
        for db in server.dbs:
            db.update_quiet()  # (in case one was recomputed while tracking was away)


def _blocked_streams(db):
    """Keys clients block on that hold a stream now (scanDatabaseForDeletedStreams)."""
    if not db.blocking:
        return ()
    return [k for k in db.blocking if type_name(db.data.get(k)) == "stream"]


def _wake_after_swap(db, streams):
    """Blocked clients may now find data (or find their stream gone)."""
    if not db.blocking:
        return
    for key in list(db.blocking):
        if key in db.data or key in streams:
            db.ready(key)


# ------------------------------------------------------------------- FLUSH
def _flush_async(c, argv):
    """[ASYNC|SYNC]: True for async (the default follows lazyfree-lazy-user-flush)."""
    if len(argv) == 2:
        opt = argv[1].lower()
        if opt == b"sync":
            return False
        if opt == b"async":
            return True
    elif len(argv) == 1:
        return c.server.config.get("lazyfree-lazy-user-flush") == "yes"
    raise CommandError(SYNTAX)


def _flush_db(db):
    streams = _blocked_streams(db)
    n = db.clear()
    for key in streams:
        db.ready(key)
    return n


@command("flushdb")
def flushdb(c, argv):
    _flush_async(c, argv)  # both flavours free big values incrementally (server.lazyfree)
    c.server.dirty += _flush_db(c.db)
    c.propagate = [list(argv)]  # forceCommandPropagation: even if nothing was there
    return OK


@command("flushall")
def flushall(c, argv):
    _flush_async(c, argv)
    server = c.server
    with _no_tracking(server) as tracking:
        for db in server.dbs:
            server.dirty += _flush_db(db)
    server.replica_expire_keys.clear()  # (flushSlaveKeysWithExpireList)
    if tracking is not None:
        tracking.invalidate_all()  # one flush message for the whole server
    c.propagate = [list(argv)]
    _save_after_flushall(server)
    return OK


def _save_after_flushall(server):
    """Like Redis: a running RDB child is killed, and with save points configured
    the (now empty) dataset is saved at once, so a restart cannot bring the flushed
    keys back; that save also zeroes rdb_changes_since_last_save and sets LASTSAVE."""
    snap = server.snapshot
    if snap is None:
        return
    if snap.has_child() and getattr(snap, "child_type", None) == CHILD_RDB:
        snap.kill_child()
    if (server.config.get("save") or "").strip():
        snap.save()


# -------------------------------------------------------------- KEYS, SCAN
@command("keys")
def keys(c, argv):
    db = c.db
    pattern = argv[1]
    names = list(db.data) if pattern == b"*" else glob.compile(pattern).filter(db.data)
    exp = db.expires
    if exp and names:
        now = db.now()
        get = exp.get
        names = [k for k in names if get(k, now + 1) > now]
    return names


def _parse_count(b):
    v = parse_int(b)
    if v < 1:
        raise CommandError(SYNTAX)
    return v


@command("scan")
def scan(c, argv):
    cursor = parse_cursor(argv[1])
    count = 10
    pattern = None
    typename = None
    n = len(argv)
    i = 2
    while i < n:
        opt = argv[i].lower()
        if opt == b"count" and i + 1 < n:
            count = _parse_count(argv[i + 1])
        elif opt == b"match" and i + 1 < n:
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None
        elif opt == b"type" and i + 1 < n:
            typename = argv[i + 1].lower()
        else:
            raise CommandError(SYNTAX)
        i += 2
    db = c.db
    cursor, names = scan_keys(c.server, db.data, cursor, count)
    if pattern is not None and names:
        names = glob.compile(pattern).filter(names)
    if typename is not None and names:
        look = db.lookup_read_notouch  # (counted, as scanGenericCommand's lookup)
        names = [k for k in names if type_name(look(k)).encode() == typename]
    if names and db.expires:
        names = [k for k in names if not _scan_expired(db, k)]
    return [b"%d" % cursor, names]


def _scan_expired(db, key):
    """expireIfNeeded: True if the key's time has passed (deleting it unless paused)."""
    when = db.expires.get(key)
    if when is None or when > db.now():
        return False
    if key in db.data:
        db.expire_if_allowed(key)
    return True


# ------------------------------------------------------------------ OBJECT
_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]

_LFU_SELECTED = (
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
    "note that when switching between policies at runtime LRU and LFU data "
    "will take some time to adjust."
)
_LFU_NOT_SELECTED = (
    "ERR An LFU maxmemory policy is not selected, access frequency not "
    "tracked. Please note that when switching between policies at runtime "
    "LRU and LFU data will take some time to adjust."
)


@command("object|help")
def object_help(c, argv):
    return [Status(line) for line in _OBJECT_HELP]


def _is_int_string(v):
    """tryObjectEncoding's test: at most 20 bytes and a canonical 64-bit integer."""
    if len(v) > 20 or not v:
        return None
    return parse_ll(v)


def encoding_of(v):
    """OBJECT ENCODING of a stored value, as bytes."""
    cls = v.__class__
    if cls is bytes:
        if _is_int_string(v) is not None:
            return b"int"
        return b"embstr" if len(v) <= 44 else b"raw"
    if cls is bytearray:
        return b"raw"
    enc = getattr(v, "object_encoding", None)
    if enc is not None:
        return enc()
    if type_name(v) == "stream":
        return b"stream"
    return b"unknown"


@command("object|encoding")
def object_encoding(c, argv):
    v = c.db.lookup_read_notouch(argv[2], False)
    if v is None:
        return None
    return encoding_of(v)


@command("object|refcount")
def object_refcount(c, argv):
    v = c.db.lookup_read_notouch(argv[2], False)
    if v is None:
        return None
    if v.__class__ is bytes and lru.shares_integers(c.server):
        n = _is_int_string(v)
        if n is not None and 0 <= n < _SHARED_INTEGERS:
            return _SHARED_REFCOUNT
    return 1


@command("object|idletime")
def object_idletime(c, argv):
    db = c.db
    key = argv[2]
    if db.lookup_read_notouch(key, False) is None:
        return None
    if lru.lfu_enabled(c.server):
        raise CommandError(_LFU_SELECTED)
    return lru.idle_seconds(db, key)


@command("object|freq")
def object_freq(c, argv):
    db = c.db
    key = argv[2]
    if db.lookup_read_notouch(key, False) is None:
        return None
    if not lru.lfu_enabled(c.server):
        raise CommandError(_LFU_NOT_SELECTED)
    return lru.frequency(db, key)
