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
list          :class:`vermilion.types.list.RList`      :mod:`commands.lists`
hash          :class:`vermilion.types.hash.RHash`      :mod:`commands.hashes`
set           :class:`vermilion.types.set.RSet`        :mod:`commands.sets`
zset          :class:`vermilion.types.zset.ZSet`        :mod:`commands.zsets`
stream        :class:`vermilion.types.stream.Stream`    :mod:`commands.streams`
============  ========================================  ==================

A command reads a key with :meth:`Database.lookup_read` (Redis's lookupKeyRead:
counted in INFO's keyspace_hits/keyspace_misses, a miss fires a "keymiss" event)
or looks up a key it is about to write with :meth:`Database.lookup`
(lookupKeyWrite: not counted).

Expiry is *lazy* and *active*. Every lookup (read or write) deletes a key whose
time has passed before anyone can see it; and a timer
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
import random
import time

from ..errors import CommandError, WRONGTYPE
from . import expire, lru

# Keyspace-notification classes (Redis's NOTIFY_* flags).
NOTIFY_KEYSPACE = 1 << 0  # K
NOTIFY_KEYEVENT = 1 << 1  # E
NOTIFY_GENERIC = 1 << 2  # g
NOTIFY_STRING = 1 << 3  # $
NOTIFY_LIST = 1 << 4  # l
NOTIFY_SET = 1 << 5  # s
NOTIFY_HASH = 1 << 6  # h
NOTIFY_ZSET = 1 << 7  # z
NOTIFY_EXPIRED = 1 << 8  # x
NOTIFY_EVICTED = 1 << 9  # e
NOTIFY_STREAM = 1 << 10  # t
NOTIFY_KEY_MISS = 1 << 11  # m
NOTIFY_LOADED = 1 << 12  # module only
NOTIFY_MODULE = 1 << 13  # d
NOTIFY_NEW = 1 << 14  # n
NOTIFY_ALL = (
    NOTIFY_GENERIC
    | NOTIFY_STRING
    | NOTIFY_LIST
    | NOTIFY_SET
    | NOTIFY_HASH
    | NOTIFY_ZSET
    | NOTIFY_EXPIRED
    | NOTIFY_EVICTED
    | NOTIFY_STREAM
    | NOTIFY_MODULE
)  # A

_time = time.time
_random = random.random


def now_ms():
    """Real wall-clock milliseconds; data-visible times use the server's clock
    (``db.time()``, ``server.clock``: keyspace/clock.py), which a test may move."""
    return int(_time() * 1000)


class Database:
    __slots__ = (
        "id",
        "server",
        "data",
        "expires",
        "_heap",
        "watched",
        "blocking",
        "avg_ttl",
        "expires_cursor",
        "lru",
        "lru_clock",
        "rand_keys",
        "time",
        "quiet",
    )

    # A command that changed a value in place calls signal() (signalModifiedKey)
    # only when someone listens: a WATCH, client-side caching, or (True here) a
    # database that must see every change (core/memory.py's TrackedDatabase).
    signal_always = False

    # ``quiet``: nobody listens to this database's changes (no WATCH here, no
    # client-side caching, not signal_always), so a write need not call
    # signal(). One attribute test on every write instead of three; kept up to
    # date by update_quiet() wherever one of the three changes (WATCH and
    # UNWATCH, tracking switched on or off, memory accounting switched).

    def __init__(self, server, dbid):
        self.id = dbid
        self.server = server
        self.data = {}
        self.expires = {}
        self._heap = []  # (when_ms, key), possibly stale; see expire.py
        self.watched = {}  # key -> {client: watched-while-expired flag}
        self.blocking = {}  # key -> list of clients blocked on it
        self.avg_ttl = 0
        self.expires_cursor = 0
        # Access clocks (OBJECT IDLETIME/FREQ, eviction): key -> seconds of the last
        # access, or an LFU field while an LFU policy is set (lru_clock == -1);
        # see keyspace/lru.py. lru_clock is refreshed by the cron.
        self.lru = {}
        self.lru_clock = int(_time())
        self.rand_keys = None  # RANDOMKEY's sample of key names, see random_key()
        # The server's clock (keyspace/clock.py): seconds now, as time.time() gives
        # them. It is time.time itself unless a test moved the clock, which puts
        # its own function here; readers with a client at hand use c.db.time().
        self.time = _time
        self.quiet = True  # (a new server: no WATCH, no tracking yet)

    # ------------------------------------------------------------------ reads
    def now(self):
        """Milliseconds now (the server's clock), frozen while a script or a
        transaction runs."""
        return self.server.frozen_ms or int(self.time() * 1000)

    def lookup(self, key):
        """lookupKeyWrite: the value at ``key``, or None; an expired key is deleted
        first. Not counted in keyspace_hits/keyspace_misses: for the keys a command
        writes, and the server's own lookups (reads use :meth:`lookup_read`)."""
        v = self.data.get(key)
        if v is not None:
            if self.expires:
                when = self.expires.get(key)
                if when is not None and when <= self.now() and self.expire_if_allowed(key, True):
                    return None
            clock = self.lru_clock
            if clock >= 0:
                self.lru[key] = clock
            else:
                lru.lfu_touch(self, key)
        return v

    def lookup_read(self, key):
        """lookupKeyRead: :meth:`lookup` for a command that reads the key, counted
        in INFO's keyspace_hits/keyspace_misses; a miss fires a "keymiss" event.

        Which of this and :meth:`lookup` a command uses follows Redis's source
        (t_*.c): the value it reads (GET, HGET, a SUNIONSTORE source...) is a
        read, the key it writes (SET, INCR, HSET, a SUNIONSTORE destination...) is
        a write and counts nothing. GET has its own, cheaper :meth:`lookup_get`.
        """
        v = self.data.get(key)
        if v is not None:
            if self.expires:
                when = self.expires.get(key)
                if when is not None and when <= self.now() and self.expire_if_allowed(key):
                    return self.read_miss(key)
            clock = self.lru_clock
            if clock >= 0:
                self.lru[key] = clock
            else:
                lru.lfu_touch(self, key)
            self.server.stats_keyspace_hits += 1
            return v
        return self.read_miss(key)

    def lookup_get(self, key):
        """GET's :meth:`lookup_read`, which counts its misses only.

        GET looks up exactly one key per call, so its hits need no count of their
        own: they are its calls (the command table's stats, reset with these by
        CONFIG RESETSTAT) less its misses, reckoned when INFO asks
        (server/stats.py's keyspace_counts). A hit, the usual case, counts nothing.
        """
        v = self.data.get(key)
        if v is not None:
            if self.expires:
                when = self.expires.get(key)
                if when is not None and when <= self.now() and self.expire_if_allowed(key):
                    v = None  # (a miss)
            if v is not None:
                clock = self.lru_clock
                if clock >= 0:
                    self.lru[key] = clock
                else:
                    lru.lfu_touch(self, key)
                return v
        server = self.server
        server.stats_get_misses += 1
        if server.notify_flags & NOTIFY_KEY_MISS:
            self.read_miss(key, True, False)
        return v

    def lookup_read_notouch(self, key, notify=True):
        """lookupKeyReadWithFlags(LOOKUP_NOTOUCH): a counted read that leaves the
        key's access time alone (EXISTS, TYPE, TTL, SCAN's TYPE filter); OBJECT
        passes ``notify=False`` (LOOKUP_NONOTIFY: no "keymiss" event)."""
        v = self.data.get(key)
        if v is not None:
            if self.expires:
                when = self.expires.get(key)
                if when is not None and when <= self.now() and self.expire_if_allowed(key):
                    return self.read_miss(key, notify)
            self.server.stats_keyspace_hits += 1
            return v
        return self.read_miss(key, notify)

    def read_miss(self, key, notify=True, count=True):
        """A read lookup found nothing: the "keymiss" event, then the count (lookupKey's order)."""
        server = self.server
        if notify and server.notify_flags & NOTIFY_KEY_MISS:
            server.notify_keyspace_event(NOTIFY_KEY_MISS, "keymiss", key, self.id)
        if count:
            server.stats_keyspace_misses += 1
        return None

    def lookup_notouch(self, key):
        """Like :meth:`lookup` without updating the key's access time, and not
        counted (DEL's expiry check, the module API's TTL calls...)."""
        v = self.data.get(key)
        if v is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when <= self.now() and self.expire_if_allowed(key):
                return None
        return v

    def lookup_type(self, key, cls):
        """A counted read (:meth:`lookup_read`) of a ``cls`` at ``key``: None if
        missing, WRONGTYPE if another type."""
        v = self.lookup_read(key)
        if v is not None and v.__class__ is not cls:
            raise CommandError(WRONGTYPE)
        return v

    def exists(self, key):
        return self.lookup(key) is not None

    def expire_if_allowed(self, key, write=False):
        """An expired key: delete it and return True (False while loading: keep it).
        ``write``: the lookup of a key the command writes (lookupKeyWrite)."""
        server = self.server
        if server.expiry_paused:
            return False  # loading (AOF replay): nothing expires, like Redis's server.loading
        if server.pause_kind:
            return True  # CLIENT PAUSE: logically expired, deleted after the pause
        if server.is_replica:
            # a replica does not delete expired keys itself: its master streams the
            # DEL (replication/replica.py). They look missing to all but the master
            # client; only a write on a writable replica deletes one, so that the key
            # it makes starts afresh (expireIfNeeded's EXPIRE_FORCE_DELETE_EXPIRED)
            link = server.repl_link
            if server.current_client is link.client:
                return False
            if not write or link.read_only:
                return True
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
        if self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))  # dbAdd's signalKeyAsReady
        self.data[key] = value
        clock = self.lru_clock
        self.lru[key] = clock if clock >= 0 else lru.lfu_new(self.server)
        self.signal(key)
        if self.server.notify_flags & NOTIFY_NEW:
            self.notify(NOTIFY_NEW, "new", key)

    def set(self, key, value, keepttl=False):
        """SET semantics: replace any value; the TTL goes unless ``keepttl``."""
        if self.blocking and key in self.blocking:
            old = self.data.get(key)
            if old is None or old.__class__.__name__ == "Stream":
                # a new key (dbAdd), or a stream overwritten (dbOverwrite): signalKeyAsReady
                self.server.ready_keys.append((self, key))
        if self.server.notify_flags & NOTIFY_NEW and key not in self.data:
            self.notify(NOTIFY_NEW, "new", key)
        self.data[key] = value
        if not keepttl and self.expires:
            self.expires.pop(key, None)
        clock = self.lru_clock
        if clock >= 0:
            self.lru[key] = clock
        else:
            lru.lfu_overwrite(self, key)
        if not self.quiet and (self.watched or self.server.tracking is not None):
            self.signal(key)

    def set_pairs(self, argv):
        """MSET's writes: :meth:`set` for each key/value pair of ``argv[1:]``, in
        order. With nothing watching the keys (no blocked client on this
        database, no WATCH, no client-side caching, no keyspace events, LRU
        clocks) that is one dict update for the values and one for the clocks,
        which is what makes a ten-key MSET cost about as much as two SETs.
        Anything else takes the same steps as ten SETs would."""
        server = self.server
        if (
            not self.quiet  # (or a subclass with its own set(): core/memory.py)
            or self.blocking
            or server.notify_flags
            or self.lru_clock < 0
        ):
            dbset = self.set
            for j in range(1, len(argv), 2):
                key = argv[j]
                if self.expires:
                    self.lookup(key)  # an expired key goes first, with its event
                dbset(key, argv[j + 1])
                if server.notify_flags & NOTIFY_STRING:
                    self.notify(NOTIFY_STRING, "set", key)
            return
        keys = argv[1::2]
        expires = self.expires
        if expires:
            for key in keys:
                if key in expires:
                    self.lookup(key)  # an expired key goes first (deleted, propagated)
                    expires.pop(key, None)  # (SET drops the TTL)
        self.data.update(zip(keys, argv[2::2]))
        self.lru.update(dict.fromkeys(keys, self.lru_clock))

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
        self.lru.pop(key, None)
        self.signal(key)
        if self.blocking and key in self.blocking and v.__class__.__name__ == "Stream":
            self.server.ready_keys.append((self, key))  # dbGenericDelete: XREADGROUP clients fail
        self.server.lazyfree(v)
        return True

    def pop_value(self, key):
        """Remove a key and return its value (for RENAME, MOVE, GETDEL)."""
        v = self.data.pop(key, None)
        if v is not None:
            if self.expires:
                self.expires.pop(key, None)
            self.lru.pop(key, None)
            self.signal(key)
            if self.blocking and key in self.blocking and v.__class__.__name__ == "Stream":
                self.server.ready_keys.append((self, key))  # dbDelete: XREADGROUP clients fail
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
        self.lru = {}
        self.rand_keys = None
        self.server.lazyfree(old)
        return n

    # ----------------------------------------------------------------- expiry
    def set_expire(self, key, when_ms):
        self.expires[key] = when_ms
        heapq.heappush(self._heap, (when_ms, key))
        if self.server.is_replica:
            expire.remember_replica_key(self, key)

    def get_expire(self, key):
        """Absolute expiry in ms, or -1 when the key has none."""
        return self.expires.get(key, -1)

    def persist(self, key):
        return self.expires.pop(key, None) is not None

    # ------------------------------------------------------------ signalling
    def update_quiet(self):
        """Recompute ``quiet`` (see the class)."""
        self.quiet = not (self.watched or self.signal_always or self.server.tracking is not None)

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
        """This db was emptied or swapped with ``other``: touch WATCHed keys that existed.

        As touchAllWatchedKeysInDb: a key WATCHed while already expired that is now
        gone (or still expired in ``other``) is no logical change, and a missing key
        replaced by an expired one becomes "watched while expired".
        """
        if self.watched:
            data = self.data
            for key, clients in self.watched.items():
                here = key in data
                there = other is not None and key in other.data
                if not (here or there):
                    continue
                for c, expired in clients.items():
                    if expired:
                        if not there:
                            clients[c] = False
                            continue
                        if other._expired(key):
                            continue
                    elif not here and other._expired(key):
                        clients[c] = True
                        continue
                    c.dirty_cas = True
        tracking = self.server.tracking
        if tracking is not None:
            tracking.invalidate_all()

    def _expired(self, key):
        """keyIsExpired: ``key`` has a TTL that has passed (nothing is deleted)."""
        when = self.expires.get(key)
        return when is not None and when <= self.now()

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
        """A random key name (RANDOMKEY), or None; expired keys met are deleted.

        A dict cannot be indexed, so names are drawn from ``rand_keys``: a list of
        the key names taken at C speed and reused while it still describes the
        keyspace, i.e. until the keyspace has changed by a quarter (writes counted
        by ``server.dirty``, or the number of keys) or draws keep meeting deleted
        names. So a call costs O(1), amortised. Like Redis's, the loop ends when
        every key is expired: each expired key drawn is deleted; while expiry is
        paused it gives up after 100 expired draws and returns one of them, as a
        Redis replica does.
        """
        data = self.data
        if not data:
            return None
        server = self.server
        expires = self.expires
        sample = self._rand_sample(False)
        misses = expired = 0
        rand = _random
        while True:
            n = len(sample)
            k = sample[int(rand() * n)]
            if k not in data:
                misses += 1
                if misses >= 8 or len(data) * 2 < n:
                    if not data:
                        return None
                    sample = self._rand_sample(True)
                    misses = 0
                continue
            misses = 0
            if expires:
                when = expires.get(k)
                if when is not None and when <= self.now():
                    if server.expiry_paused:
                        expired += 1
                        if expired >= 100:
                            return k
                        continue
                    self._delete_expired(k)
                    if not data:
                        return None
                    continue
            return k

    def _rand_sample(self, force):
        rk = self.rand_keys
        n = len(self.data)
        dirty = self.server.dirty
        if force or rk is None or abs(dirty - rk[1]) * 4 > n or abs(n - len(rk[0])) * 4 > n:
            rk = self.rand_keys = (list(self.data), dirty)
        return rk[0]
