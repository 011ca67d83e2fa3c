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

So ``used_memory`` here is an *estimate of the data we hold*, per server:

    used = startup + client buffers + dataset

* ``startup``: a fixed figure (:data:`STARTUP`), the order of what redis-server
  reports for an empty instance, so ``maxmemory`` values sized for Redis keep
  their meaning;
* client buffers: pending query bytes and unsent output (``c.out`` and the
  transport's buffer) of every client: summed when asked while maxmemory is 0,
  and by the cron (``hz`` times a second, like Redis's clientsCron) while it is
  set, so the per-command check stays O(1);
* dataset: per key, :func:`entry_size` = the dict slots of ``data`` and ``lru``
  (:data:`ENTRY`), the key object, the value as MEMORY USAGE estimates it
  (collections are sampled, ``vermilion.commands.introspection.value_size``),
  plus :data:`EXPIRE_ENTRY` for a key with a TTL (the ``expires`` slot, the
  integer and the expiry-heap entry). The constants were calibrated with
  tracemalloc against SET/SETEX/RPUSH/HSET/SADD workloads.

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
  whose write methods report the keys they touch: ``add``/``set``/
  ``replace_value``/``signal`` (the call every in-place change of a collection
  makes) put the key in ``touched``; ``delete``/``pop_value`` subtract its size
  at once (so an eviction loop sees its progress); ``clear``/``signal_all``
  (FLUSHDB, SWAPDB) reset or re-measure a database. Touched keys are measured
  lazily, at the next :meth:`used`, after the command has finished changing
  them. The total therefore goes up with writes and down with deletes, which is
  what the eviction loop needs. Writes that bypass the Database API (an RDB
  load installing a whole dict) are caught by the cron, which re-measures a
  database whose key count disagrees with its size table, and re-measures a few
  hundred keys each tick to correct drift in sampled collection sizes.
"""
import sys
from itertools import islice

from ..keyspace.db import Database
from .bootstrap import on_server_init

STARTUP = 1 << 20        # used_memory of an empty server (redis-server: ~0.9 MB)
ENTRY = 64               # a key's slots in db.data and db.lru (dict entry + index)
EXPIRE_ENTRY = 200       # a TTL: db.expires slot, the int, the expiry heap tuple
SAMPLES = 16             # collection elements sampled per size estimate
EXACT_LIMIT = 1 << 17    # untracked mode: keys measured one by one up to this per db
STRIDE_SAMPLES = 1 << 15  # ... beyond it, about this many keys are measured
SWEEP = 256              # tracked mode: keys re-measured per cron tick

_getsizeof = sys.getsizeof
_value_size = None


def _collection_size(v):
    global _value_size
    if _value_size is None:
        from ..commands.introspection import value_size
        _value_size = value_size
    return _value_size(v, SAMPLES)


def entry_size(key, v, volatile):
    """Estimated bytes of one key: its slots, the key, the value and its TTL."""
    cls = v.__class__
    if cls is bytes or cls is bytearray:
        n = ENTRY + _getsizeof(key) + _getsizeof(v)
    else:
        n = ENTRY + _getsizeof(key) + _collection_size(v)
    return n + EXPIRE_ENTRY if volatile else n


def measure_db(db):
    """{key: entry_size} for every key of ``db`` (a full pass)."""
    expires = db.expires
    return {k: entry_size(k, v, k in expires) for k, v in db.data.items()}


def _sum_sizes(items, expires):
    return sum([entry_size(k, v, k in expires) for k, v in items])


def estimate_db(db):
    """The dataset bytes of ``db``: exact up to EXACT_LIMIT keys, else extrapolated
    from every n-th key (deterministic for a given keyspace)."""
    data = db.data
    n = len(data)
    if n <= EXACT_LIMIT:
        return _sum_sizes(data.items(), db.expires)
    stride = n // STRIDE_SAMPLES
    sample = islice(data.items(), 0, None, stride)
    count = (n + stride - 1) // stride
    return _sum_sizes(sample, db.expires) * n // count


class TrackedDatabase(Database):
    """A Database that tells the server's :class:`MemoryAccounting` which keys its
    writes touched. Only installed while maxmemory > 0 (see the module doc)."""
    __slots__ = ()

    def add(self, key, value):
        Database.add(self, key, value)
        self.server.memory.touched.add((self, key))

    def set(self, key, value, keepttl=False):
        Database.set(self, key, value, keepttl)
        self.server.memory.touched.add((self, key))

    def replace_value(self, key, value):
        Database.replace_value(self, key, value)
        self.server.memory.touched.add((self, key))

    def signal(self, key):
        Database.signal(self, key)
        self.server.memory.touched.add((self, key))

    def delete(self, key):
        if Database.delete(self, key):
            self.server.memory.forget(self, key)
            return True
        return False

    def pop_value(self, key):
        v = Database.pop_value(self, key)
        if v is not None:
            self.server.memory.forget(self, key)
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
        self.clients = 0          # client buffers, summed by the cron
        self.tracked = False      # running totals on (maxmemory > 0)
        self.tables = {}          # tracked: db id -> {key: entry_size}
        self.db_totals = {}       # tracked: db id -> sum of its table
        self.total = 0            # tracked: sum of db_totals
        self.touched = set()      # tracked: (db, key) written since the last settle
        self.stale = set()        # tracked: dbs to measure again from scratch
        self._cache = None        # untracked: (signature, dataset bytes)
        self._sweep = []          # tracked: [db index, its keys, position] (cron)

    # ------------------------------------------------------------ reading
    def used(self):
        """Redis's used_memory (see the module doc)."""
        if not self.tracked:
            self.clients = self.client_buffers()   # the cron only sums them when tracking
        used = self.startup + self.clients + self.dataset()
        if used > self.peak:
            self.peak = used
        return used

    def dataset(self):
        """Estimated bytes of every key in every database."""
        if self.tracked:
            if self.touched or self.stale:
                self.settle()
            return self.total
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
        """The tracked size of one key (0 when unknown or not tracking)."""
        t = self.tables.get(db.id)
        return t.get(key, 0) if t is not None else 0

    # --------------------------------------------------- tracked updates
    def settle(self):
        """Measure the keys touched since last time and the databases marked stale."""
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
        totals = self.db_totals
        delta = 0
        for db, key in touched:
            table = tables.get(db.id)
            if table is None:
                continue
            old = table.get(key, 0)
            v = db.data.get(key)
            if v is None:
                if old:
                    del table[key]
                    totals[db.id] -= old
                    delta -= old
                continue
            new = entry_size(key, v, key in db.expires)
            if new != old:
                table[key] = new
                totals[db.id] += new - old
                delta += new - old
        self.total += delta

    def forget(self, db, key):
        """A key left ``db``: subtract its size now."""
        table = self.tables.get(db.id)
        if table is not None:
            n = table.pop(key, 0)
            if n:
                self.db_totals[db.id] -= n
                self.total -= n

    def remeasure(self, db):
        """Measure one database from scratch (FLUSHDB, SWAPDB, loads, drift)."""
        if not self.tracked:
            return
        table = measure_db(db)
        n = sum(table.values())
        self.total += n - self.db_totals.get(db.id, 0)
        self.tables[db.id] = table
        self.db_totals[db.id] = n

    # ------------------------------------------------------------ switching
    def start_tracking(self):
        """maxmemory became > 0: measure everything once and keep running totals."""
        if self.tracked:
            return
        self._switch(True, TrackedDatabase)
        for db in self.server.dbs:
            self.remeasure(db)

    def stop_tracking(self):
        """maxmemory is 0 again: back to plain databases, nothing tracked."""
        if self.tracked:
            self._switch(False, Database)

    def _switch(self, tracked, cls):
        self.tracked = tracked
        for db in self.server.dbs:
            if db.__class__ in (Database, TrackedDatabase):
                db.__class__ = cls
        self.tables = {}
        self.db_totals = {}
        self.total = 0
        self.touched = set()
        self.stale = set()
        self._sweep = []
        self._cache = None

    # ----------------------------------------------------------------- cron
    def cron(self):
        if not self.tracked:
            return
        self.clients = self.client_buffers()
        self.settle()
        for db in self.server.dbs:
            table = self.tables.get(db.id)
            if table is None or len(table) != len(db.data):
                self.remeasure(db)   # keys came or went around the Database API
        self._sweep_some()

    def _sweep_some(self):
        """Re-measure SWEEP keys, round robin over the databases' key lists."""
        sweep = self._sweep   # [db index, snapshot of its keys, position]
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
