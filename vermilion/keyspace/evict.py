"""maxmemory: evicting keys when the dataset outgrows its limit (Redis's evict.c).

When ``maxmemory`` is set, every command first passes :meth:`Evictor.check`
(Redis's ``performEvictions`` in ``processCommand``). If the server's
``used_memory`` (:mod:`vermilion.core.memory`) is above the limit, keys are
deleted according to ``maxmemory-policy`` until enough bytes were freed:

* ``allkeys-lru`` / ``volatile-lru``: the longest idle first;
* ``allkeys-lfu`` / ``volatile-lfu``: the least frequently used first (the
  decayed logarithmic counter of :mod:`.lru`);
* ``volatile-ttl``: the soonest to expire first;
* ``allkeys-random`` / ``volatile-random``: any key, one database after another;
* ``noeviction``: nothing is deleted.

``volatile-*`` policies only consider keys with a TTL (``db.expires``). Like
Redis, the ordered policies are approximations: each round samples
``maxmemory-samples`` keys of every database and keeps the 16 best candidates
seen so far in an *eviction pool* (ascending score; the pool lives across
calls), then evicts the best candidate that still exists. A Python dict cannot
hand out random entries, so keys are drawn from a snapshot list of the dict's
keys (:class:`_Sampler`), rebuilt when the dict has changed by a quarter or
when draws keep meeting keys that are gone.

Each eviction deletes the key (signalling WATCH and client-side caching),
counts ``evicted_keys``, emits the ``evicted`` keyspace event and propagates a
``DEL`` (``UNLINK`` with ``lazyfree-lazy-eviction yes``) to the AOF. Eviction
runs at most ``maxmemory-eviction-tenacity``'s time budget per command; when
that is not enough, it continues from the event loop (Redis's eviction time
proc), which ``CONFIG SET maxmemory`` also starts.

If memory is over the limit and nothing can be evicted, commands flagged
``denyoom`` (and, inside MULTI, every command but EXEC/DISCARD/QUIT/RESET; EXEC
when it queued a ``denyoom`` command) are refused with ``-OOM``.
``server.pre_command_oom_state`` keeps the verdict for scripts (Redis's
``scriptVerifyOOM``); a scripting module may set ``server.script_denyoom =
fn(c, cmd, argv) -> bool`` to say whether an EVAL/FCALL counts as ``denyoom``
(scripts declaring flags without ``allow-oom``/``no-writes``), and, asked with
EXEC, whether the transaction queued such a script.

With ``maxmemory 0`` nothing here runs: ``server.maxmemory_check`` is None, and
the dispatcher calls it before each command only while a limit is set (on its
fast path too, so a server with a limit is not slowed down to the slow path).
``maxmemory-clients`` (client eviction) lives beside the output limits, in
core/limits.py.

This module also installs ``server.object_set_lru_lfu`` (Redis's
``objectSetLRUOrLFU``), which RESTORE calls for its IDLETIME / FREQ options.
"""

import random
import time
from bisect import bisect_left

from . import lru
from .db import NOTIFY_EVICTED
from ..core.bootstrap import on_server_init
from ..core import memory as _memory  # noqa: F401  (server.memory)

OOM = "OOM command not allowed when used memory > 'maxmemory'."
EVPOOL_SIZE = 16

EVICT_OK, EVICT_RUNNING, EVICT_FAIL = 0, 1, 2

# maxmemory-policy -> (kind, allkeys)
_POLICIES = {
    "noeviction": (None, False),
    "allkeys-lru": ("lru", True),
    "volatile-lru": ("lru", False),
    "allkeys-lfu": ("lfu", True),
    "volatile-lfu": ("lfu", False),
    "allkeys-random": ("random", True),
    "volatile-random": ("random", False),
    "volatile-ttl": ("ttl", False),
}

# Commands never refused inside MULTI for memory (processCommand).
_MULTI_OOM_EXEMPT = frozenset(("exec", "discard", "quit", "reset"))
_SCRIPT_COMMANDS = frozenset(("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"))

_rand = random.random
_monotonic = time.monotonic


def time_limit_us(tenacity):
    """evictionTimeLimitUs: the time one eviction round may take, by tenacity."""
    if tenacity <= 10:
        return 50 * tenacity
    if tenacity < 100:
        return int(500.0 * 1.15 ** (tenacity - 10.0))
    return float("inf")


class _Sampler:
    """Random keys of one dict (``db.data`` or ``db.expires``) from a snapshot list."""

    __slots__ = ("keys", "size")

    def __init__(self):
        self.keys = []
        self.size = -1

    def draw(self, d, count):
        """Up to ``count`` keys of ``d`` picked at random (repeats possible)."""
        n = len(d)
        if n <= count:
            return list(d)
        keys = self.keys
        if abs(n - self.size) * 4 > n or not keys:
            keys = self._refresh(d)
        out = []
        misses = 0
        rand = _rand
        size = len(keys)
        while len(out) < count:
            k = keys[int(rand() * size)]
            if k in d:
                out.append(k)
            else:
                misses += 1
                if misses > count:
                    # Most of the snapshot is gone (evicted, deleted): take a new one.
                    keys = self._refresh(d)
                    size = len(keys)
                    misses = -n  # at most one refresh per draw
        return out

    def _refresh(self, d):
        self.keys = keys = list(d)
        self.size = len(keys)
        return keys


class Evictor:
    """One server's eviction state (``server.evictor``)."""

    def __init__(self, server):
        self.server = server
        self.maxmemory = 0
        self.policy = "noeviction"
        self.kind = None
        self.allkeys = False
        self.samples = 5
        self.tenacity = 10
        self.time_limit = 0.0005
        self.lazy = False
        self.pool = []  # [(dbid, key)] by ascending score: best candidate last
        self.scores = []  # the pool's scores, ascending
        self.next_db = 0  # random policies visit the databases in turn
        self.samplers = {}  # (db id, allkeys) -> _Sampler
        self.proc_running = False
        self.exceeded_since = 0.0  # monotonic start of the current over-limit period

    # ------------------------------------------------------------- config
    def configure(self):
        cfg = self.server.config
        self.maxmemory = cfg.get_number("maxmemory")
        self.policy = cfg.get("maxmemory-policy")
        self.kind, self.allkeys = _POLICIES.get(self.policy, (None, False))
        self.samples = cfg.get_int("maxmemory-samples")
        self.tenacity = cfg.get_int("maxmemory-eviction-tenacity")
        self.time_limit = time_limit_us(self.tenacity) / 1e6  # seconds per round
        self.lazy = cfg.get_bool("lazyfree-lazy-eviction")
        server = self.server
        on = self.maxmemory > 0
        if on:
            server.memory.start_tracking()
            server.maxmemory_check = self.check
        else:
            server.memory.stop_tracking()
            server.maxmemory_check = None
            self.pool = []
            self.scores = []
            self.samplers = {}

    def _maxmemory_changed(self, value):
        self.configure()
        if self.maxmemory:
            server = self.server
            used = server.used_memory()
            if self.maxmemory < used:
                server.log_warning(
                    "WARNING: the new maxmemory value set via CONFIG SET (%d) is smaller than "
                    "the current memory usage (%d). This will result in key eviction and/or "
                    "the inability to accept new write commands depending on the "
                    "maxmemory-policy." % (self.maxmemory, used)
                )
            self.start_proc()

    # -------------------------------------------------------- the check
    def check(self, c, cmd, argv):
        """processCommand's maxmemory step: evict, then refuse what may use memory."""
        server = self.server
        mem = server.memory
        used = mem.startup + mem.clients + mem.dataset()
        if used <= self.maxmemory and not self.exceeded_since:
            # the common case, inlined: under the limit and nothing to account
            if used > mem.peak:
                mem.peak = used
            server.pre_command_oom_state = False
            return None
        oom = self.perform() == EVICT_FAIL
        server.pre_command_oom_state = oom
        if not oom:
            return None
        deny = cmd.denyoom
        name = cmd.fullname
        if not deny:
            hook = server.script_denyoom
            if name == "exec":
                # (the hook says whether a queued script counted as denyoom when queued)
                deny = c.multi is not None and (
                    any(q.denyoom for q, _ in c.multi)
                    or (hook is not None and bool(hook(c, cmd, argv)))
                )
            elif name in _SCRIPT_COMMANDS:
                deny = bool(hook is not None and hook(c, cmd, argv))
        if c.multi is not None and name not in _MULTI_OOM_EXEMPT:
            deny = True
        return OOM if deny else None

    def _safe(self):
        """isSafeToPerformEvictions: not while loading, paused or in a busy script."""
        server = self.server
        if server.loading or server.pause_kind:
            return False
        if server.is_replica and server.config.get("replica-ignore-maxmemory") != "no":
            return False  # a replica is its master's exact copy (replication/replica.py)
        scripting = server.scripting
        if scripting is not None and scripting.busy:
            return False
        return True

    # --------------------------------------------------- performEvictions
    def perform(self):
        """Evict until used memory is under maxmemory or the time budget is spent.

        Returns EVICT_OK (under the limit, or evictions not allowed now),
        EVICT_RUNNING (still over, the event loop keeps evicting) or EVICT_FAIL
        (over the limit and nothing left to evict).
        """
        if not self.maxmemory or not self._safe():
            return EVICT_OK
        server = self.server
        mem = server.memory
        # The cron sums the clients' buffers hz times a second: before evicting
        # for them, sum them now (replies piling up for a client that does not
        # read grow faster than that; a client that left frees its buffers). What
        # waits to be written at the end of this loop step (invalidations, pushes)
        # is written first, as Redis's beforeSleep has done by the next command:
        # else each eviction's invalidation messages would cause more evictions.
        server.flush_pending_replies()
        mem.clients = mem.client_buffers()
        used = mem.used()
        if used <= self.maxmemory:
            return self._metrics(EVICT_OK)
        if self.kind is None:
            return self._metrics(EVICT_FAIL)
        to_free = used - self.maxmemory
        freed = 0
        evicted = 0
        limit = self.time_limit
        start = _monotonic()
        result = EVICT_FAIL
        saved = server.current_client
        # signalModifiedKey(NULL, ...): no client caused this, so tracking sends the
        # invalidations now (NOLOOP does not apply), before the command's reply
        server.current_client = None
        try:
            picked = True
            while freed < to_free:
                picked = self._pick()
                if picked is None:
                    break  # nothing left to evict: EVICT_FAIL
                db, key = picked
                before = mem.total
                self._evict(db, key)
                freed += before - mem.total
                evicted += 1
                # (lazy or not, a deleted key leaves the accounting at once: no need
                # to poll used memory like Redis does for its lazyfree thread)
                if evicted % 16 == 0 and _monotonic() - start > limit:
                    self.start_proc()  # over budget: the event loop carries on
                    break
            if picked is not None:
                result = EVICT_RUNNING if self.proc_running else EVICT_OK
        finally:
            server.current_client = saved
        return self._metrics(result)

    def _metrics(self, result):
        server = self.server
        if result == EVICT_OK:
            if self.exceeded_since:
                server.stats_total_eviction_exceeded_time = getattr(
                    server, "stats_total_eviction_exceeded_time", 0
                ) + int((_monotonic() - self.exceeded_since) * 1000)
                self.exceeded_since = 0.0
        elif not self.exceeded_since:
            self.exceeded_since = _monotonic()
        return result

    def current_exceeded_ms(self):
        """INFO current_eviction_exceeded_time."""
        return int((_monotonic() - self.exceeded_since) * 1000) if self.exceeded_since else 0

    def _evict(self, db, key):
        server = self.server
        db.delete(key)
        server.stats_evicted_keys += 1
        db.notify(NOTIFY_EVICTED, "evicted", key)
        p = server.persistence
        if p is not None:
            p.feed(db.id, ([b"UNLINK" if self.lazy else b"DEL", key],))

    # ----------------------------------------------------- choosing a key
    def _pick(self):
        """(db, key) to evict next, or None when no key qualifies."""
        dbs = self.server.dbs
        allkeys = self.allkeys
        if self.kind == "random":
            n = len(dbs)
            for _ in range(n):
                self.next_db = (self.next_db + 1) % n
                db = dbs[self.next_db]
                d = db.data if allkeys else db.expires
                if d:
                    return db, self._sampler(db.id, allkeys).draw(d, 1)[0]
            return None
        pool = self.pool
        scores = self.scores
        while True:
            total = 0
            for db in dbs:
                d = db.data if allkeys else db.expires
                if d:
                    self._populate(db, d)
                    total += len(d)
            if not total:
                return None
            while pool:
                scores.pop()
                dbid, key = pool.pop()
                db = dbs[dbid]
                if key in (db.data if allkeys else db.expires):
                    return db, key
                # a ghost: gone since it entered the pool

    def _sampler(self, dbid, allkeys):
        s = self.samplers.get((dbid, allkeys))
        if s is None:
            s = self.samplers[(dbid, allkeys)] = _Sampler()
        return s

    def _populate(self, db, d):
        """evictionPoolPopulate: score a sample of ``d`` and keep the best in the pool."""
        kind = self.kind
        pool = self.pool
        scores = self.scores
        field_of = db.lru.get
        if kind == "lru":
            clock = db.lru_clock if db.lru_clock >= 0 else int(self.server.clock.time())
        elif kind == "lfu":
            decay = self.server.lfu_decay_time
            decr = lru.lfu_decr
            minutes = lru._minutes(self.server)  # on the server's clock
        dbid = db.id
        for key in self._sampler(dbid, self.allkeys).draw(d, self.samples):
            # the score: higher is a better candidate
            if kind == "lru":
                field = field_of(key)
                score = clock - field if field is not None and clock > field else 0
            elif kind == "lfu":
                field = field_of(key)
                score = 255 - (
                    decr(field, decay, minutes) if field is not None else lru.LFU_INIT_VAL
                )
            else:  # volatile-ttl: the sooner the better
                score = -d[key]
            if len(pool) >= EVPOOL_SIZE:
                if score <= scores[0]:
                    continue  # no better than every candidate we hold
                k = bisect_left(scores, score) - 1
                del pool[0]  # drop the worst to make room
                del scores[0]
            else:
                k = bisect_left(scores, score)
            pool.insert(k, (dbid, key))
            scores.insert(k, score)

    # ------------------------------------------------- eviction time proc
    def start_proc(self):
        """startEvictionTimeProc: keep evicting from the event loop."""
        loop = self.server.loop
        if not self.proc_running and loop is not None:
            self.proc_running = True
            loop.call_soon(self._proc)

    def _proc(self):
        try:
            result = self.perform()
        except Exception:
            self.server.log_exception("eviction")
            result = EVICT_FAIL
        if result == EVICT_RUNNING and self.maxmemory and not self.server.stopping:
            self.server.loop.call_soon(self._proc)
        else:
            self.proc_running = False


@on_server_init
def _init(server):
    server.pre_command_oom_state = False
    server.stats_total_eviction_exceeded_time = 0
    ev = server.evictor = Evictor(server)
    cfg = server.config
    cfg.add_hook("maxmemory", ev._maxmemory_changed)
    for name in (
        "maxmemory-policy",
        "maxmemory-samples",
        "maxmemory-eviction-tenacity",
        "lazyfree-lazy-eviction",
    ):
        cfg.add_hook(name, lambda v: ev.configure())
    ev.configure()
    if 0 < ev.maxmemory < 1024 * 1024:
        server.log_warning(
            "WARNING: You specified a maxmemory value that is less than 1MB "
            "(current value is %d bytes). Are you sure this is what you really "
            "want?" % ev.maxmemory
        )

    def resetstat():
        server.stats_total_eviction_exceeded_time = 0
        ev.exceeded_since = 0.0

    server.resetstat_hooks += (resetstat,)
    # RESTORE ... IDLETIME / FREQ (commands/persistence.py asks for this hook):
    # objectSetLRUOrLFU, the frequency under an LFU policy, else the idle time.
    server.object_set_lru_lfu = lambda db, key, idle, freq: (
        lru.set_freq(db, key, freq) or lru.set_idle(db, key, idle)
    )
