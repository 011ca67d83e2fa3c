"""The keyspace: numbered databases of key -> value, with expiry.

A :class:`Database` is two dicts, as in Redis's ``db.c``: ``data`` maps each key
(``bytes``) to its value and ``expires`` maps the keys that have a time to live to
their absolute expiry in milliseconds since the epoch. Values are plain Python
objects, one class per Redis type, so ``TYPE`` and ``WRONGTYPE`` checks are a
single ``type(v)`` test:

============  ========================================  ==================
Redis type    Python class                              module
============  ========================================  ==================
string        ``bytes`` (``bytearray`` once modified     :mod:`commands.strings`
              in place by APPEND/SETRANGE/SETBIT:
              Redis's "raw" encoding)
list          :class:`vermilion.types.rlist.RList`      :mod:`commands.lists`
hash          :class:`vermilion.types.rhash.RHash`      :mod:`commands.hashes`
set           :class:`vermilion.types.rset.RSet`        :mod:`commands.sets`
zset          :class:`vermilion.types.zset.ZSet`        :mod:`commands.zsets`
stream        :class:`vermilion.types.stream.Stream`    :mod:`commands.streams`
============  ========================================  ==================

Expiry is *lazy* and *active*. Every read goes through :meth:`Database.lookup`,
which deletes a key whose time has passed before anyone can see it; and a timer
(:mod:`vermilion.keyspace.expire`) reclaims expired keys nobody reads. The active
cycle uses a heap of (when, key) entries instead of Redis's random sampling: it
finds every due key in O(log n), and stale entries (a key whose TTL changed) are
skipped by checking them against ``expires``.

Writers tell the rest of the server what they did through three calls, which
the features that care about changes hang off (so no command has to know them):

* :meth:`Database.signal` (Redis's ``signalModifiedKey``): WATCH invalidation and
  client-side-caching invalidation;
* :meth:`Database.notify` (``notifyKeyspaceEvent``): keyspace notifications;
* :meth:`Database.ready` (``signalKeyAsReady``): wakes clients blocked on the key.
"""
import heapq
import time

from ..errors import CommandError, WRONGTYPE

# Keyspace-notification classes (Redis's NOTIFY_* flags).
NOTIFY_KEYSPACE = 1 << 0     # K
NOTIFY_KEYEVENT = 1 << 1     # E
NOTIFY_GENERIC = 1 << 2      # g
NOTIFY_STRING = 1 << 3       # $
NOTIFY_LIST = 1 << 4         # l
NOTIFY_SET = 1 << 5          # s
NOTIFY_HASH = 1 << 6         # h
NOTIFY_ZSET = 1 << 7         # z
NOTIFY_EXPIRED = 1 << 8      # x
NOTIFY_EVICTED = 1 << 9      # e
NOTIFY_STREAM = 1 << 10      # t
NOTIFY_KEY_MISS = 1 << 11    # m
NOTIFY_LOADED = 1 << 12      # module only
NOTIFY_MODULE = 1 << 13      # d
NOTIFY_NEW = 1 << 14         # n
NOTIFY_ALL = (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH
              | NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)  # A

_time = time.time


def now_ms():
    return int(_time() * 1000)


class Database:
    __slots__ = ("id", "server", "data", "expires", "_heap", "watched",
                 "blocking", "avg_ttl", "expires_cursor")

    def __init__(self, server, dbid):
        self.id = dbid
        self.server = server
        self.data = {}
        self.expires = {}
        self._heap = []          # (when_ms, key), possibly stale; see expire.py
        self.watched = {}        # key -> {client: watched-while-expired flag}
        self.blocking = {}       # key -> list of clients blocked on it
        self.avg_ttl = 0
        self.expires_cursor = 0

    # ------------------------------------------------------------------ reads
    def now(self):
        """Milliseconds now, frozen while a script or a transaction runs."""
        frozen = self.server.frozen_ms
        return frozen if frozen else int(_time() * 1000)

    def lookup(self, key):
        """The value at ``key``, or None; an expired key is deleted first."""
        v = self.data.get(key)
        if v is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when <= self.now() and self.expire_if_allowed(key):
                return None
        return v

    def lookup_type(self, key, cls):
        """The value at ``key`` if it is a ``cls``; None if missing; WRONGTYPE otherwise."""
        v = self.lookup(key)
        if v is not None and v.__class__ is not cls:
            raise CommandError(WRONGTYPE)
        return v

    def exists(self, key):
        return self.lookup(key) is not None

    def expire_if_allowed(self, key):
        """Delete an expired key (returns True), unless expiry is paused (replicas, DEBUG)."""
        server = self.server
        if server.expiry_paused:
            return False
        self._delete_expired(key)
        return True

    def _delete_expired(self, key):
        server = self.server
        self.delete(key)
        server.stats_expired_keys += 1
        self.notify(NOTIFY_EXPIRED, "expired", key)
        server.propagate_expire(self, key)

    # ----------------------------------------------------------------- writes
    def add(self, key, value):
        """Create a key that does not exist (the caller checked)."""
        self.data[key] = value
        self.signal(key)

    def set(self, key, value, keepttl=False):
        """SET semantics: replace any value; the TTL goes unless ``keepttl``."""
        self.data[key] = value
        if not keepttl and self.expires:
            self.expires.pop(key, None)
        self.signal(key)

    def replace_value(self, key, value):
        """Swap the object stored at an existing key, keeping its TTL."""
        self.data[key] = value

    def delete(self, key):
        """Remove a key and its TTL; True if it existed."""
        v = self.data.pop(key, None)
        if v is None:
            return False
        if self.expires:
            self.expires.pop(key, None)
        self.signal(key)
        self.server.lazyfree(v)
        return True

    def pop_value(self, key):
        """Remove a key and return its value (for RENAME, MOVE, GETDEL)."""
        v = self.data.pop(key, None)
        if v is not None:
            if self.expires:
                self.expires.pop(key, None)
            self.signal(key)
        return v

    def clear(self):
        """Drop every key (FLUSHDB); returns the number removed."""
        self.signal_all()
        n = len(self.data)
        old = self.data
        self.data = {}
        self.expires = {}
        self._heap = []
        self.avg_ttl = 0
        self.server.lazyfree(old)
        return n

    # ----------------------------------------------------------------- expiry
    def set_expire(self, key, when_ms):
        self.expires[key] = when_ms
        heapq.heappush(self._heap, (when_ms, key))

    def get_expire(self, key):
        """Absolute expiry in ms, or -1 when the key has none."""
        return self.expires.get(key, -1)

    def persist(self, key):
        return self.expires.pop(key, None) is not None

    # ------------------------------------------------------------ signalling
    def signal(self, key):
        """A key changed: invalidate WATCHes and client-side caches."""
        if self.watched:
            clients = self.watched.get(key)
            if clients:
                for c, expired in clients.items():
                    if expired and key not in self.data:
                        # WATCHed while already expired, and now deleted: no change.
                        clients[c] = False
                        continue
                    c.dirty_cas = True
        tracking = self.server.tracking
        if tracking is not None:
            tracking.invalidate_key(key)

    def signal_all(self, other=None):
        """This db was emptied or swapped with ``other``: touch WATCHed keys that existed."""
        if self.watched:
            for key, clients in self.watched.items():
                if key in self.data or (other is not None and key in other.data):
                    for c in clients:
                        c.dirty_cas = True
        tracking = self.server.tracking
        if tracking is not None:
            tracking.invalidate_all()

    def notify(self, kind, event, key):
        server = self.server
        if server.notify_flags & kind:
            server.notify_keyspace_event(kind, event, key, self.id)

    def ready(self, key):
        """A list/zset/stream at ``key`` got elements: wake a blocked client."""
        if self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))

    # ---------------------------------------------------------------- helpers
    def __len__(self):
        return len(self.data)

    def random_key(self):
        import random
        if not self.data:
            return None
        for _ in range(100):
            # dict has no O(1) random choice; sample via an iterator offset is O(n),
            # so draw from a bounded prefix window that shifts with the cursor.
            keys = self.data
            idx = random.randrange(len(keys))
            k = next(_islice(keys, idx, None))
            if self.lookup(k) is not None:
                return k
        return next(iter(self.data), None)


def _islice(d, start, stop):
    import itertools
    return itertools.islice(iter(d), start, stop)
