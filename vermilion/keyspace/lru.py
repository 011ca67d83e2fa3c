"""Per-key access clocks: OBJECT IDLETIME, OBJECT FREQ, and LRU/LFU eviction.

Redis keeps 24 bits in every object (``robj.lru``): the last access time in
seconds, or, under an LFU ``maxmemory-policy``, 16 bits of "last decrement time"
in minutes and an 8-bit logarithmic access counter. Our values are plain Python
objects (``bytes`` has no room for it), so each :class:`~.db.Database` keeps a
dict ``lru``: key -> that same field.

The cost on the read path is one dict store: :meth:`Database.lookup` writes
``db.lru_clock`` (seconds, refreshed ``hz`` times a second by the cron like
Redis's cached ``server.lruclock``). Under an LFU policy ``lru_clock`` is -1 and
lookups take the slower :func:`lfu_touch` path instead, which does Redis's
probabilistic increment. Lookups that must not count as an access (TYPE, TTL,
EXISTS, OBJECT, SCAN's TYPE filter) use ``lookup_notouch``.

As in Redis, switching the policy at run time does not convert the stored
fields: they "take some time to adjust".

Both clocks read the server's clock (keyspace/clock.py), so a test that moves it
sees OBJECT IDLETIME grow and LFU counters decay; ``lru_clock`` is refreshed at
once when the clock moves.
"""

import random
import time

from ..core.bootstrap import on_server_init
from .clock import on_clock_change

LFU_INIT_VAL = 5
_LFU_POLICIES = ("allkeys-lfu", "volatile-lfu")
_LRU_POLICIES = ("allkeys-lru", "volatile-lru")

_rand = random.random
_time = time.time


def _minutes(server=None):
    """LFUGetTimeInMinutes, on the server's clock (real time without a server)."""
    t = server.clock.time() if server is not None else _time()
    return (int(t) // 60) & 65535


def lfu_new(server):
    """The field of a newly created object under an LFU policy."""
    return (_minutes(server) << 8) | LFU_INIT_VAL


def _lfu_elapsed(ldt, now):
    return now - ldt if now >= ldt else 65535 - ldt + now


def lfu_decr(field, decay_time, minutes=None):
    """LFUDecrAndReturn: the counter after the decay periods elapsed since ``field``,
    at ``minutes`` (_minutes(server); real time when not given)."""
    if minutes is None:
        minutes = _minutes()
    counter = field & 255
    periods = _lfu_elapsed((field >> 8) & 65535, minutes) // decay_time if decay_time else 0
    if periods:
        counter = 0 if periods > counter else counter - periods
    return counter


def lfu_incr(counter, log_factor):
    """LFULogIncr: increment with probability 1 / ((counter - 5) * log_factor + 1)."""
    if counter == 255:
        return 255
    base = counter - LFU_INIT_VAL
    if base < 0:
        base = 0
    if _rand() < 1.0 / (base * log_factor + 1):
        counter += 1
    return counter


def lfu_touch(db, key):
    """An access to ``key`` under an LFU policy (Redis's updateLFU)."""
    server = db.server
    minutes = _minutes(server)
    field = db.lru.get(key)
    if field is None:
        field = (minutes << 8) | LFU_INIT_VAL
    counter = lfu_decr(field, server.lfu_decay_time, minutes)
    counter = lfu_incr(counter, server.lfu_log_factor)
    db.lru[key] = (minutes << 8) | counter


def lfu_overwrite(db, key):
    """SET over ``key`` under LFU: the write's lookup counts as an access and the new
    value keeps the old field (dbOverwrite); a new key starts at LFU_INIT_VAL."""
    if key in db.lru:
        lfu_touch(db, key)
    else:
        db.lru[key] = lfu_new(db.server)


# ------------------------------------------------------------------ queries
def lfu_enabled(server):
    return server.config.get("maxmemory-policy") in _LFU_POLICIES


def shares_integers(server):
    """Whether small integer strings are shared objects (refcount INT_MAX) in Redis:
    not when maxmemory is set with an LRU or LFU policy."""
    if server.config.get("maxmemory") in ("0", None):
        return True
    return server.config.get("maxmemory-policy") not in _LFU_POLICIES + _LRU_POLICIES


def idle_seconds(db, key):
    """OBJECT IDLETIME (under a non-LFU policy): seconds since the last access."""
    field = db.lru.get(key)
    clock = db.lru_clock if db.lru_clock >= 0 else int(db.time())
    if field is None:
        # Written by a path that bypassed Database.add/set: count from now.
        db.lru[key] = field = clock
    return clock - field if clock >= field else 0


def frequency(db, key):
    """OBJECT FREQ (under an LFU policy): the decayed logarithmic counter."""
    field = db.lru.get(key)
    if field is None:
        db.lru[key] = field = lfu_new(db.server)
    return lfu_decr(field, db.server.lfu_decay_time, _minutes(db.server))


def set_idle(db, key, seconds):
    """RESTORE ... IDLETIME: make ``key`` look idle for ``seconds`` (non-LFU only)."""
    if not lfu_enabled(db.server) and seconds >= 0:
        clock = db.lru_clock if db.lru_clock >= 0 else int(db.time())
        db.lru[key] = clock - seconds
        return True
    return False


def set_freq(db, key, freq):
    """RESTORE ... FREQ: set the LFU counter of ``key`` (LFU policies only)."""
    if lfu_enabled(db.server) and 0 <= freq <= 255:
        db.lru[key] = (_minutes(db.server) << 8) | freq
        return True
    return False


# --------------------------------------------------------------- the clock
def refresh(server):
    """Refresh the cached clocks and LFU parameters (called by the cron)."""
    cfg = server.config
    lfu = cfg.get("maxmemory-policy") in _LFU_POLICIES
    try:
        server.lfu_log_factor = int(cfg.get("lfu-log-factor"))
        server.lfu_decay_time = int(cfg.get("lfu-decay-time"))
    except (TypeError, ValueError):
        pass
    clock = -1 if lfu else int(server.clock.time())
    for db in server.dbs:
        db.lru_clock = clock
        n = len(db.data)
        if len(db.lru) > n + (n >> 1) + 1024:
            # Keys removed around Database.delete left their clocks behind.
            data = db.data
            db.lru = {k: v for k, v in db.lru.items() if k in data}


on_clock_change(refresh)  # OBJECT IDLETIME sees the moved clock at once


@on_server_init
def _init(server):
    server.lfu_log_factor = 10
    server.lfu_decay_time = 1
    refresh(server)
    server.add_cron_hook(lambda: refresh(server))
    # The config holds the new value when a hook runs: refresh at once, chaining
    # any hook another feature installed for the same parameter.
    hooks = server.config.hooks
    for name in ("maxmemory-policy", "lfu-log-factor", "lfu-decay-time"):
        hooks[name] = _chained(hooks.get(name), server)


def _chained(prev, server):
    def hook(value):
        if prev is not None:
            prev(value)
        refresh(server)

    return hook
