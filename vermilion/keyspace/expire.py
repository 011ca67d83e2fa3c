"""Active expiry: reclaiming keys whose time has passed even if nobody reads them.

Redis samples random keys with a TTL ``hz`` times a second. We keep, per
database, a heap of ``(when_ms, key)`` pushed by every ``set_expire``; the cycle
pops the entries that are due and deletes each key whose *current* expiry is
still that due time (an entry whose key was deleted, persisted or given a new TTL
is simply dropped). So every expired key is found, in O(log n), and a cycle is
bounded in time like Redis's (25% of a cron period) so a flood of expiring keys
never stalls clients: what is left over is finished by the next cycles.

When the heap holds far more stale entries than live TTLs (keys whose TTL was
changed many times), it is rebuilt from ``expires``.

"Now" is the server's clock (keyspace/clock.py); when a test moves it, a cycle
runs at once, so the keys the jump made due are gone when ``advance`` returns, as
they would be had the time really passed.

A replica expires nothing of what its master sent: the master streams a DEL for
each key it expires. A *writable* replica (``replica-read-only no``) can also set
TTLs itself, on keys its master knows nothing of, and nobody would ever delete
those; so, like Redis's slaveKeysWithExpire, the replica remembers which keys got
a TTL from one of its own clients (key -> bitmap of databases) and its cron
expires those alone (:func:`expire_replica_keys`).
"""

import heapq
import time

from .clock import on_clock_change

_perf = time.perf_counter


class ActiveExpire:
    def __init__(self, server):
        self.server = server
        self.time_limit_perc = 25  # of one cron period, as ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC
        self.last_run_expired = 0
        self.next_db = 0  # where the next cycle starts (fairness between dbs)
        self.time_cap_reached = 0  # cycles that ran out of time (expired_time_cap_reached_count)

    def run(self, slow=True):
        server = self.server
        budget = self.time_limit_perc / 100.0 / server.hz
        start_t = _perf()
        deadline = start_t + budget
        now = server.clock.ms()
        expired = 0
        dbs = server.dbs
        n = len(dbs)
        start = self.next_db % n if n else 0
        for i in range(n):
            db = dbs[(start + i) % n]
            expires = db.expires
            heap = db._heap
            if not expires:
                if heap:
                    db._heap = []
                continue
            if len(heap) > 2 * len(expires) + 1024 or len(heap) < len(expires):
                # Too many stale entries, or TTLs set without set_expire (bulk
                # loading writes ``expires`` directly): rebuild from the truth.
                db._heap = heap = [(w, k) for k, w in expires.items()]
                heapq.heapify(heap)
            checked = 0
            while heap and heap[0][0] <= now:
                when, key = heapq.heappop(heap)
                if expires.get(key) == when:
                    if key in db.data:
                        db._delete_expired(key)
                        expired += 1
                    else:
                        del expires[key]  # a TTL left behind without its key
                checked += 1
                if checked & 63 == 0 and _perf() > deadline:
                    break
            if _perf() > deadline:
                # Out of time: the next cycle starts with this database.
                self.next_db = (start + i) % n
                self.time_cap_reached += 1
                server.stats_expired_time_cap_reached_count += 1
                break
        else:
            self.next_db = 0
        self.last_run_expired = expired
        # activeExpireCycle's accounting: INFO's expire_cycle_cpu_milliseconds, and
        # latencyAddSampleIfNeeded("expire-cycle", elapsed ms)
        elapsed_ms = (_perf() - start_t) * 1000
        server.stats_expire_cycle_time_used_ms += elapsed_ms
        server.latency.add_sample_if_needed("expire-cycle", int(elapsed_ms))
        return expired


def remember_replica_key(db, key):
    """rememberSlaveKeyWithExpire: a TTL set on a writable replica by a client of
    its own (not by the master's stream, not while loading)."""
    server = db.server
    link = server.repl_link
    c = server.current_client
    if c is None or c is link.client or link.read_only:
        return
    keys = server.replica_expire_keys
    keys[key] = keys.get(key, 0) | (1 << db.id)


def expire_replica_keys(server):
    """expireSlaveKeys: the cron's expiry on a replica, for the keys remembered by
    :func:`remember_replica_key` alone. Their due entries are found in each
    database's expiry heap; the entries of the master's keys that come due are
    dropped (the master's DEL is on its way; the heap is rebuilt from ``expires``
    if this replica is promoted, see ActiveExpire.run)."""
    keys = server.replica_expire_keys
    if not keys:
        return 0
    now = server.clock.ms()
    deadline = _perf() + 0.001  # (Redis stops after 1 ms too)
    expired = 0
    for db in server.dbs:
        heap = db._heap
        if not heap or heap[0][0] > now:
            continue
        bit = 1 << db.id
        expires = db.expires
        checked = 0
        while heap and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            dbs = keys.get(key, 0)
            if not dbs & bit:
                continue
            if expires.get(key) == when and key in db.data:
                db._delete_expired(key)
                expired += 1
            if key not in expires:  # no TTL left here: forget it in this database
                dbs &= ~bit
                if dbs:
                    keys[key] = dbs
                else:
                    del keys[key]
            checked += 1
            if checked & 63 == 0 and _perf() > deadline:
                return expired
    return expired


def cycle_allowed(server):
    """The cron's condition for an active-expiry cycle (server.cron)."""
    return (
        server.active_expire_enabled
        and not server.expiry_paused
        and not server.pause_kind
        and not server.is_replica
        and not server.cron_paused
    )


@on_clock_change
def _clock_moved(server):
    """Every key the jump made due is deleted before the clock call returns (the
    cycles the skipped time would have run), a cycle at a time."""
    if not cycle_allowed(server):
        return
    cycle = server.expire_cycle
    while True:
        capped = cycle.time_cap_reached
        cycle.run(slow=True)
        if cycle.time_cap_reached == capped:
            break
