"""Memory accounting: what ``used_memory`` means in a Python server.

Redis reads ``used_memory`` from its allocator (zmalloc counts every byte it
hands out), so INFO, MEMORY STATS and the ``maxmemory`` check all see one exact
number that goes up when data is written and down when it is freed. Python
offers nothing like it, and the obvious candidates were measured (in-process
GET/SET loop, ns per command) and rejected:

* the process RSS (``/proc/self/statm``): ~1.5 us a read with ``pread``, so it
  would have to be sampled every few ms; worse, it belongs to the *process*
  (tests run several servers in one process) and CPython does not give freed
  memory back to the OS, so RSS does not go down when keys are deleted. An
  eviction loop driven by it would never see its evictions pay off and would
  empty the keyspace;
* ``tracemalloc``'s traced memory: exact and shrinking, but tracing every
  allocation made the whole server 10-15x slower, and it is process-wide too.

So ``used_memory`` here is what the data *costs the allocators*, per server:

    used = startup + client buffers + dataset

* ``startup``: a fixed figure (:data:`STARTUP`), the order of what redis-server
  reports for an empty instance, so ``maxmemory`` values sized for Redis keep
  their meaning;
* client buffers: pending query bytes and unsent output (``c.out`` and the
  transport's buffer) of every client: summed when asked while maxmemory is 0,
  and by the cron (``hz`` times a second, like Redis's clientsCron) while it is
  set, so the per-command check stays O(1);
* dataset: each key priced by :mod:`vermilion.keyspace.sizes` (its ``bytes``
  key object and its value as the allocators round them, collections sampled),
  plus its share of the indexes: what the ``data``/``lru``/``expires`` dicts'
  tables, the expiry ints and the expiry heap really take (``index_cost``),
  divided by the number of keys. That share is re-read by the cron and follows
  the measurement smoothly (:data:`INDEX_SMOOTHING` a tick), so writing a key
  and evicting it move ``used_memory`` by the same amount, while the figure
  still follows the tables as they grow, double and (under eviction churn, where
  deleted slots wait for a rebuild) carry more per key. Against ``tracemalloc``
  the dataset figure is within 10% (tests/commands/test_memory_accounting.py),
  so ``maxmemory`` bounds what the process really holds, as it does for Redis.

How the dataset figure is kept depends on ``maxmemory``:

* **maxmemory 0** (the default): nothing is tracked, the write path is exactly
  what it is without this module. :meth:`MemoryAccounting.dataset` measures the
  keyspace when asked (INFO, MEMORY STATS) and caches the result until
  ``server.dirty`` or a key count changes; a database of more than
  :data:`EXACT_LIMIT` keys is measured on an evenly strided sample of its keys
  and extrapolated (so for very large keyspaces INFO costs a few ms, not one
  pass over every key).
* **maxmemory > 0**: eviction needs the figure before every command, so it is
  kept as a running total. Each :class:`~vermilion.keyspace.db.Database` is
  switched to :class:`TrackedDatabase`, a subclass with the same layout (its
  ``__class__`` is reassigned in place, and back when maxmemory returns to 0)
  whose write methods keep the total: a string's price is a pure function of
  the key and the value, so it is added when the key is written and subtracted
  (recomputed from the old value) when it is overwritten or deleted: strings
  need no per-key bookkeeping, which matters because a table of sizes would
  itself cost some 50 bytes a key. Collections change in place, so their last
  measured price is kept in a small table; ``signal`` (the call every in-place
  change makes) marks them, and they are measured again lazily, at the next
  :meth:`used`, after the command has finished changing them. Writes that bypass the Database API (an RDB load installing a whole dict,
  INCR's in-place update, which may move a counter's price by one size class)
  are caught by the cron, which re-measures a database whose key count
  disagrees with the accounted one, and re-measures a few hundred collections
  each tick to correct drift in sampled sizes.

**Giving memory back.** CPython keeps freed small-object arenas until they are
entirely empty, and glibc's ``malloc`` keeps freed chunks in the heap, raising
its threshold for using ``mmap`` each time a big block is freed (so later big
blocks, like a dict's table or a large value, land in the heap and fragment it).
After keys are evicted or deleted in bulk the RSS then stays far above what the
data needs. :func:`tune_allocator` pins glibc's mmap threshold (big blocks are
mapped and unmapped, so freeing them returns the memory at once) and the cron
calls ``malloc_trim`` after a burst of deletions, as jemalloc's background
purging does for Redis.
"""

import sys
from itertools import islice

from ..keyspace.db import Database
from ..keyspace.sizes import key_cost, index_cost
from .bootstrap import on_server_init

STARTUP = 1 << 20  # used_memory of an empty server (redis-server: ~0.9 MB)
SAMPLES = 16  # collection elements sampled per size estimate
EXACT_LIMIT = 1 << 17  # untracked mode: keys measured one by one up to this per db
STRIDE_SAMPLES = 1 << 15  # ... beyond it, about this many keys are measured
SWEEP = 256  # tracked mode: collections re-measured per cron tick
INDEX_SMOOTHING = 0.25  # how far the per-key index share moves toward a new reading
INDEX_FIRST = 160  # the per-key index share before anything was measured
TRIM_AFTER = 8 << 20  # bytes freed (deletions, dropped client buffers) before the cron trims malloc
MMAP_THRESHOLD = 128 * 1024
TRIM_THRESHOLD = 4 << 20


def keys_bytes(db):
    """What the keys of ``db`` cost, its indexes aside, measured in full."""
    return sum([key_cost(k, v, SAMPLES) for k, v in db.data.items()])


def db_bytes(db):
    """The dataset bytes of ``db``, measured in full."""
    return keys_bytes(db) + index_cost(db)


def estimate_db(db):
    """The dataset bytes of ``db``: exact up to EXACT_LIMIT keys, else extrapolated
    from every n-th key (deterministic for a given keyspace)."""
    data = db.data
    n = len(data)
    if n <= EXACT_LIMIT:
        return db_bytes(db)
    stride = n // STRIDE_SAMPLES
    sample = islice(data.items(), 0, None, stride)
    count = (n + stride - 1) // stride
    keys = sum([key_cost(k, v, SAMPLES) for k, v in sample]) * n // count
    return keys + index_cost(db)


_libc = None  # None: not loaded yet; False: not glibc


def _glibc():
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            try:  # ctypes only when the cron first needs it (start-up cost)
                import ctypes  # start-up cost: first cron tick, glibc only

                libc = ctypes.CDLL("libc.so.6")
                libc.malloc_trim, libc.mallopt  # glibc's, not another C library's
                _libc = libc
            except (OSError, AttributeError, ImportError):
                pass
    return _libc


def tune_allocator():
    """Pin glibc's mmap threshold so big blocks are returned when freed. Pinning
    it also pins the heap's trim threshold, at 128 KB: the heap top would then be
    given back and taken again on every few frees (measured: +0.4 us a SET), so
    that one is raised; the cron's malloc_trim does the trimming instead."""
    libc = _glibc()
    if libc:
        libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, TRIM_THRESHOLD)  # M_TRIM_THRESHOLD


def trim_allocator():
    """Give the heap's free pages back to the system (after mass deletions)."""
    libc = _glibc()
    if libc:
        libc.malloc_trim(0)


class TrackedDatabase(Database):
    """A Database that keeps its server's running dataset total (see the module
    doc). Only installed while maxmemory > 0."""

    __slots__ = ()
    signal_always = True  # signal() re-prices a value changed in place

    def add(self, key, value):
        Database.add(self, key, value)
        self.server.memory.account(self, key, value)

    def set(self, key, value, keepttl=False):
        old = self.data.get(key)
        mem = self.server.memory
        if old is not None:
            mem.unaccount(self, key, old)
        Database.set(self, key, value, keepttl)
        mem.account(self, key, value)

    def replace_value(self, key, value):
        old = self.data.get(key)
        mem = self.server.memory
        if old is not None:
            mem.unaccount(self, key, old)
        Database.replace_value(self, key, value)
        mem.account(self, key, value)

    def signal(self, key):
        Database.signal(self, key)
        mem = self.server.memory
        table = mem.tables.get(self.id)
        if table is not None and key in table:
            mem.touched.add((self, key))

    def delete(self, key):
        v = self.data.get(key)
        if Database.delete(self, key):
            self.server.memory.unaccount(self, key, v)
            return True
        return False

    def pop_value(self, key):
        v = Database.pop_value(self, key)
        if v is not None:
            self.server.memory.unaccount(self, key, v)
        return v

    def clear(self):
        n = Database.clear(self)
        self.server.memory.remeasure(self)
        return n

    def signal_all(self, other=None):
        Database.signal_all(self, other)
        mem = self.server.memory
        mem.stale.add(self)
        if other is not None:
            mem.stale.add(other)


class MemoryAccounting:
    """One server's ``used_memory`` (``server.memory``; ``server.used_memory()``)."""

    def __init__(self, server):
        self.server = server
        self.startup = STARTUP
        self.peak = 0
        self.clients = 0  # client buffers, summed by the cron
        self.tracked = False  # running totals on (maxmemory > 0)
        self.tables = {}  # tracked: db id -> {key: price} of its collections
        self.counts = {}  # tracked: db id -> keys accounted
        self.sums = {}  # tracked: db id -> its keys' prices
        self.total = 0  # tracked: the keys' prices, every db
        self.nkeys = 0  # tracked: keys accounted, every db
        self.index_share = INDEX_FIRST  # tracked: index bytes per key (smoothed)
        self.touched = set()  # tracked: (db, key) of collections changed since settle
        self.stale = set()  # tracked: dbs to measure again from scratch
        self.freed = 0  # bytes deleted since the allocator was last trimmed
        self._cache = None  # untracked: (signature, dataset bytes)
        self._keys_seen = 0  # untracked: the key count at the last cron
        self._tuned = False  # tune_allocator done (first cron: start-up cost)
        self._sweep = []  # tracked: [db index, its collection keys, position]

    # ------------------------------------------------------------ reading
    def used(self):
        """Redis's used_memory (see the module doc)."""
        if not self.tracked:
            self.clients = self.client_buffers()  # the cron only sums them when tracking
        used = self.startup + self.clients + self.dataset()
        if used > self.peak:
            self.peak = used
        return used

    def dataset(self):
        """Bytes of every key in every database, indexes included."""
        if self.tracked:
            if self.touched or self.stale:
                self.settle()
            return self.total + int(self.nkeys * self.index_share)
        server = self.server
        sig = (server.dirty, tuple((len(db.data), len(db.expires)) for db in server.dbs))
        cache = self._cache
        if cache is not None and cache[0] == sig:
            return cache[1]
        total = 0
        for db in server.dbs:
            if db.data:
                total += estimate_db(db)
        self._cache = (sig, total)
        return total

    def key_size(self, db, key):
        """The accounted price of one key (0 when unknown or not tracking)."""
        v = db.data.get(key)
        if v is None or not self.tracked:
            return 0
        table = self.tables.get(db.id)
        if table is not None and key in table:
            return table[key]
        return key_cost(key, v, SAMPLES)

    # --------------------------------------------------- tracked updates
    def account(self, db, key, v):
        """``key`` now holds ``v`` (it held nothing accounted before)."""
        i = db.id
        self.counts[i] = self.counts.get(i, 0) + 1
        self.nkeys += 1
        if v.__class__ is bytes:
            n = key_cost(key, v)
            self.sums[i] = self.sums.get(i, 0) + n
            self.total += n
        else:
            self.tables.setdefault(i, {})[key] = 0  # measured at the next settle
            self.touched.add((db, key))

    def unaccount(self, db, key, v):
        """``key``'s value ``v`` is gone (deleted, or about to be replaced)."""
        i = db.id
        self.counts[i] = self.counts.get(i, 0) - 1
        self.nkeys -= 1
        if v.__class__ is bytes:
            n = key_cost(key, v)
        else:
            table = self.tables.get(i)
            n = table.pop(key, 0) if table is not None else 0
        self.sums[i] = self.sums.get(i, 0) - n
        self.total -= n
        self.freed += n

    def settle(self):
        """Measure the collections touched since last time and the stale databases."""
        stale = self.stale
        if stale:
            self.stale = set()
            for db in stale:
                self.remeasure(db)
        touched = self.touched
        if not touched:
            return
        self.touched = set()
        tables = self.tables
        sums = self.sums
        for db, key in touched:
            table = tables.get(db.id)
            if table is None or key not in table:
                continue  # deleted (and unaccounted) since
            v = db.data.get(key)
            if v is None or v.__class__ is bytes:
                continue
            new = key_cost(key, v, SAMPLES)
            delta = new - table[key]
            if delta:
                table[key] = new
                sums[db.id] = sums.get(db.id, 0) + delta
                self.total += delta

    def remeasure(self, db):
        """Measure one database from scratch (FLUSHDB, SWAPDB, loads, drift)."""
        if not self.tracked:
            return
        i = db.id
        table = {}
        n = 0
        for k, v in db.data.items():
            if v.__class__ is bytes:
                n += key_cost(k, v)
            else:
                table[k] = c = key_cost(k, v, SAMPLES)
                n += c
        self.tables[i] = table
        self.total += n - self.sums.get(i, 0)
        self.sums[i] = n
        self.nkeys += len(db.data) - self.counts.get(i, 0)
        self.counts[i] = len(db.data)

    def read_indexes(self, smoothing=INDEX_SMOOTHING):
        """Measure the indexes and move the per-key share toward the reading."""
        n = self.nkeys
        if n <= 0:
            return
        measured = sum([index_cost(db) for db in self.server.dbs if db.data]) / n
        self.index_share += (measured - self.index_share) * smoothing

    # ------------------------------------------------------------ switching
    def start_tracking(self):
        """maxmemory became > 0: measure everything once and keep running totals."""
        if self.tracked:
            return
        self._switch(True, TrackedDatabase)
        for db in self.server.dbs:
            self.remeasure(db)
        self.read_indexes(1.0)

    def stop_tracking(self):
        """maxmemory is 0 again: back to plain databases, nothing tracked."""
        if self.tracked:
            self._switch(False, Database)

    def _switch(self, tracked, cls):
        self.tracked = tracked
        for db in self.server.dbs:
            if db.__class__ in (Database, TrackedDatabase):
                db.__class__ = cls
                db.update_quiet()
        self.tables = {}
        self.counts = {}
        self.sums = {}
        self.total = 0
        self.nkeys = 0
        self.index_share = INDEX_FIRST
        self.touched = set()
        self.stale = set()
        self._sweep = []
        self._cache = None

    # ----------------------------------------------------------------- cron
    def cron(self):
        if not self._tuned:
            self._tuned = True
            tune_allocator()
        if not self.tracked:
            # untracked, deletions are not priced: a keyspace that shrank by a
            # quarter since the last look stands for a burst of them
            n = sum([len(db.data) for db in self.server.dbs])
            if n < self._keys_seen - (self._keys_seen >> 2) - 1024:
                self.freed = TRIM_AFTER
            self._keys_seen = n
        if self.freed >= TRIM_AFTER:
            self.freed = 0
            trim_allocator()
        if not self.tracked:
            return
        self.clients = self.client_buffers()
        self.settle()
        for db in self.server.dbs:
            if self.counts.get(db.id, 0) != len(db.data):
                self.remeasure(db)  # keys came or went around the Database API
        self.read_indexes()
        self._sweep_some()

    def _sweep_some(self):
        """Re-measure SWEEP collections, round robin over the databases."""
        sweep = self._sweep  # [db index, snapshot of its collection keys, position]
        dbs = self.server.dbs
        if not sweep:
            sweep[:] = [0, None, 0]
        budget = SWEEP
        touched = self.touched
        for _ in range(len(dbs) + 1):
            i, keys, pos = sweep
            if keys is None:
                keys = list(self.tables.get(dbs[i].id, ()))
                pos = 0
            db = dbs[i]
            end = min(len(keys), pos + budget)
            for k in keys[pos:end]:
                touched.add((db, k))
            budget -= end - pos
            if end < len(keys):
                sweep[:] = [i, keys, end]
                break
            sweep[:] = [(i + 1) % len(dbs), None, 0]
            if budget <= 0:
                break
        self.settle()

    def client_buffers(self):
        """Query bytes not yet parsed plus output not yet sent, over all clients."""
        total = 0
        for c in self.server.clients.values():
            try:
                total += c.output_size() + c.reader.pending()
            except Exception:
                pass
        return total


@on_server_init
def _init(server):
    mem = server.memory = MemoryAccounting(server)
    server.add_cron_hook(mem.cron)

    def client_gone(c):
        # A client dropped with a big output buffer (a slow subscriber over its
        # client-output-buffer-limit) frees it all at once: that counts toward the
        # cron's trim like deleted keys, or the heap keeps the pages.
        try:
            mem.freed += c.output_size() + c.reader.pending()
        except Exception:  # (a client half set up: nothing buffered to count)
            pass
        if mem.tracked:
            mem.clients = mem.client_buffers()  # (its buffers are freed with it)

    server.add_client_gone_hook(client_gone)
