"""maxmemory: the used_memory estimate and eviction (vermilion/core/memory.py,
vermilion/keyspace/evict.py), on real embedded servers.

What cannot be compared byte for byte with redis-server (our used_memory is our
own estimate, sampling is random) is checked here by its effect: which kind of
keys disappear under each policy, OOM refusals, events, WATCH/tracking
invalidation, propagation to a real AOF file, tenacity, and that a server
without maxmemory keeps its fast path.
"""

import time

import pytest
import redis

from keyspace_helpers import on_loop
from support import RawConn
from vermilion.embed import start_server
from vermilion.keyspace.db import Database
from vermilion.keyspace import evict
from vermilion.core.memory import TrackedDatabase, keys_bytes

OOM = "command not allowed when used memory > 'maxmemory'."


def used(r):
    return r.info("memory")["used_memory"]


def limit_above(r, headroom):
    """maxmemory = current used_memory + headroom; returns the limit."""
    limit = used(r) + headroom
    r.config_set("maxmemory", limit)
    return limit


def fill_until(r, limit, write, margin=4096):
    """Call write(i) until used_memory is within ``margin`` of ``limit``; returns i."""
    n = 0
    while used(r) + margin <= limit:
        write(n)
        n += 1
        assert n < 100000
    return n


def wait_for(cond, timeout=10.0):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "condition not met in %ss" % timeout
        time.sleep(0.01)


# ------------------------------------------------------------ used_memory
@pytest.mark.parametrize("maxmemory", [0, 1 << 30])
def test_used_memory_follows_the_dataset(r, maxmemory):
    r.config_set("maxmemory", maxmemory)
    empty = used(r)
    r.mset({"k%d" % i: "v" * 100 for i in range(1000)})
    full = used(r)
    assert full - empty > 1000 * 100
    r.delete(*["k%d" % i for i in range(500)])
    half = used(r)
    assert empty + 1000 * 50 < half < full
    r.flushall()
    assert abs(used(r) - empty) < 4096


@pytest.mark.parametrize("maxmemory", [0, 1 << 30])
def test_used_memory_follows_collections_changed_in_place(r, maxmemory):
    r.config_set("maxmemory", maxmemory)
    before = used(r)
    steps = []
    for _ in range(5):
        r.rpush("l", *[b"x" * 50] * 200)
        r.hset("h", mapping={b"f%d" % len(steps) + b"%d" % i: b"y" * 50 for i in range(200)})
        r.sadd("s", *[b"m%d-%d" % (len(steps), i) for i in range(200)])
        r.zadd("z", {b"m%d-%d" % (len(steps), i): i for i in range(200)})
        r.append("str", b"z" * 5000)
        steps.append(used(r))
    assert steps == sorted(steps) and steps[0] > before
    assert steps[-1] - before > 5 * 200 * 4 * 50
    r.ltrim("l", 0, 9)
    r.delete("h", "s", "z", "str")
    assert used(r) < steps[0]


def test_estimate_is_the_same_tracked_or_not(r, server):
    r.mset({"k%d" % i: "v" * (i % 300) for i in range(2000)})
    r.rpush("l", *range(500))
    r.hset("h", mapping={i: i for i in range(300)})
    r.expire("k1", 1000)
    mem = server.server.memory
    untracked = on_loop(server, lambda: mem.dataset())
    r.config_set("maxmemory", 1 << 30)
    assert mem.tracked
    assert on_loop(server, lambda: mem.dataset()) == untracked
    r.config_set("maxmemory", 0)
    assert not mem.tracked


def test_info_and_memory_stats_report_it(r, server):
    r.set("a", "b" * 10000)
    info = r.info("memory")
    assert info["used_memory"] >= info["used_memory_startup"] + 10000
    assert info["used_memory_peak"] >= info["used_memory"]
    assert info["used_memory_dataset"] > 10000
    stats = r.memory_stats()
    assert stats["total.allocated"] >= info["used_memory_startup"] + 10000
    assert stats["peak.allocated"] >= stats["total.allocated"]


def test_peak_survives_deletes(r):
    r.set("big", "x" * 200000)
    peak = r.info("memory")["used_memory_peak"]
    r.delete("big")
    info = r.info("memory")
    assert info["used_memory"] < peak - 150000
    assert info["used_memory_peak"] == peak


def test_untracked_mode_keeps_the_fast_path(r, server):
    """maxmemory 0: plain Database objects and no check before each command; with a
    limit, the check runs on the fast path (no slow-path reason for every command)."""
    srv = server.server
    assert all(db.__class__ is Database for db in srv.dbs)
    assert not srv.special and srv.maxmemory_check is None
    r.config_set("maxmemory", "10mb")
    assert all(db.__class__ is TrackedDatabase for db in srv.dbs)
    assert not srv.special and srv.maxmemory_check is not None
    r.config_set("maxmemory", 0)
    assert all(db.__class__ is Database for db in srv.dbs)
    assert not srv.special and srv.maxmemory_check is None


def test_maxmemory_from_the_start_and_loaded_data(tmp_path):
    """maxmemory in the configuration: tracking from the start; data loaded around
    the Database API (an RDB) is measured by the cron."""
    with start_server(dir=str(tmp_path), enable_debug_command="yes") as srv:
        r = redis.Redis(port=srv.port)
        r.mset({"k%d" % i: "v" * 100 for i in range(300)})
        r.save()
    with start_server(dir=str(tmp_path), maxmemory="100mb", enable_debug_command="yes") as srv:
        r = redis.Redis(port=srv.port)
        assert srv.server.memory.tracked
        assert r.dbsize() == 300
        wait_for(lambda: used(r) > srv.server.memory.startup + 300 * 100)
        r.debug_reload() if hasattr(r, "debug_reload") else r.execute_command("DEBUG", "RELOAD")
        wait_for(lambda: used(r) > srv.server.memory.startup + 300 * 100)
        mem = srv.server.memory
        # the running total of the keys' prices is what measuring them afresh gives
        assert on_loop(srv, lambda: (mem.settle(), mem.total)[1]) == on_loop(
            srv, lambda: sum(keys_bytes(db) for db in srv.server.dbs)
        )


# --------------------------------------------------------------- policies
@pytest.mark.parametrize(
    "policy",
    [
        "allkeys-random",
        "allkeys-lru",
        "allkeys-lfu",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ],
)
def test_limit_is_honoured(r, policy):
    """maxmemory.tcl: "is the memory limit honoured?" (every key volatile)."""
    r.config_set("maxmemory-policy", policy)
    limit = limit_above(r, 100 * 1024)
    n = fill_until(r, limit, lambda i: r.set("a:%d" % i, "x", ex=10000))
    assert n > 10
    for i in range(n):
        r.set("b:%d" % i, "x", ex=10000)
    assert used(r) < limit + 4096
    assert r.info("stats")["evicted_keys"] > 0


@pytest.mark.parametrize(
    "policy", ["allkeys-random", "allkeys-lru", "volatile-lru", "volatile-random", "volatile-ttl"]
)
def test_only_allkeys_removes_non_volatile_keys(r, policy):
    r.config_set("maxmemory-policy", policy)
    limit = limit_above(r, 100 * 1024)
    n = fill_until(r, limit, lambda i: r.set("a:%d" % i, "x"))
    errors = 0
    for i in range(n):
        try:
            r.set("b:%d" % i, "x")
        except redis.exceptions.ResponseError as e:
            assert str(e) == OOM
            errors += 1
    if policy.startswith("allkeys-"):
        assert errors == 0 and used(r) < limit + 4096
    else:
        assert errors > 0 and r.info("stats")["evicted_keys"] == 0


@pytest.mark.parametrize(
    "policy", ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"]
)
def test_volatile_policies_only_remove_volatile_keys(r, policy):
    r.config_set("maxmemory-policy", policy)
    limit = limit_above(r, 100 * 1024)

    def write(i):
        if i % 2:
            r.set("key:%d" % i, "x", ex=10000)
        else:
            r.set("key:%d" % i, "x")

    n = fill_until(r, limit, write)
    for j in range(n):
        r.set("foo:%d" % j, "x", ex=10000)
    assert used(r) < limit + 4096
    for j in range(0, n, 2):
        assert r.exists("key:%d" % j)
    assert r.info("stats")["evicted_keys"] > 0


def test_volatile_ttl_evicts_the_soonest_to_expire(r):
    r.config_set("maxmemory-policy", "volatile-ttl")
    r.config_set("maxmemory-samples", 100)  # more than the keys: exact order
    for i in range(40):
        r.set("k%02d" % i, "x" * 2000, ex=1000 + (i * 7919) % 40 * 10)
    order = sorted(range(40), key=lambda i: (i * 7919) % 40)
    r.config_set("maxmemory", used(r) - 10 * 2000)
    r.ping()
    gone = [i for i in range(40) if not r.exists("k%02d" % i)]
    assert len(gone) >= 8
    assert sorted(gone) == sorted(order[: len(gone)])


def test_volatile_ttl_with_sampling_prefers_short_ttls(r):
    r.config_set("maxmemory-policy", "volatile-ttl")
    for i in range(1000):
        r.set("k%d" % i, "x" * 100, ex=1000 + i)
    r.config_set("maxmemory", used(r) - 100000)  # some 300-500 keys
    r.ping()
    gone = [i for i in range(1000) if not r.exists("k%d" % i)]
    assert 150 <= len(gone) < 600
    assert sum(gone) / len(gone) < 350  # mostly from the shortest TTLs (mean 500)


def test_lru_keeps_recently_read_keys(r):
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("maxmemory-samples", 10)
    r.mset({"k%d" % i: "v" * 200 for i in range(400)})
    time.sleep(1.3)  # the LRU clock has a resolution of one second
    hot = range(0, 400, 2)
    for i in hot:
        r.get("k%d" % i)
    r.config_set("maxmemory", used(r) + 1000)
    r.mset({"n%d" % i: "v" * 200 for i in range(50)})
    for i in range(50):
        r.set("m%d" % i, "v" * 200)
    evicted = r.info("stats")["evicted_keys"]
    assert evicted >= 80
    hot_left = sum(r.exists("k%d" % i) for i in hot)
    cold_left = sum(r.exists("k%d" % i) for i in range(1, 400, 2))
    assert hot_left >= 195, (hot_left, cold_left)
    assert cold_left <= 200 - 75


def test_lfu_keeps_frequently_read_keys(r):
    r.config_set("maxmemory-policy", "allkeys-lfu")
    r.config_set("lfu-log-factor", 0)  # every access counts
    r.mset({"k%d" % i: "v" * 200 for i in range(400)})
    hot = range(0, 400, 2)
    for _ in range(3):
        for i in hot:
            r.get("k%d" % i)
    assert r.object("freq", "k0") >= 8 and r.object("freq", "k1") == 5
    r.config_set("maxmemory", used(r) + 1000)
    for i in range(200):
        r.set("n%d" % i, "v" * 200)
    hot_left = sum(r.exists("k%d" % i) for i in hot)
    assert r.info("stats")["evicted_keys"] >= 150
    assert hot_left >= 195


def test_volatile_lfu_picks_rarely_used_volatile_keys(r):
    r.config_set("maxmemory-policy", "volatile-lfu")
    r.config_set("lfu-log-factor", 0)
    for i in range(300):
        r.set("k%d" % i, "v" * 200, ex=10000 if i % 3 else None)
    for _ in range(4):
        for i in range(0, 300, 3):
            r.get("k%d" % i)  # hot but not volatile
        for i in range(1, 300, 3):
            r.get("k%d" % i)  # hot and volatile
    r.config_set("maxmemory", used(r) - 27000)  # some 50 keys
    r.ping()
    assert all(r.exists("k%d" % i) for i in range(0, 300, 3))
    cold = sum(1 - r.exists("k%d" % i) for i in range(2, 300, 3))
    hot = sum(1 - r.exists("k%d" % i) for i in range(1, 300, 3))
    assert cold >= 40 and hot <= 5


def test_random_policies(r):
    r.config_set("maxmemory-policy", "volatile-random")
    for i in range(400):
        r.set("k%d" % i, "v" * 100, ex=10000 if i % 2 else None)
    r.config_set("maxmemory", used(r) - 100 * 150)
    r.ping()
    assert all(r.exists("k%d" % i) for i in range(0, 400, 2))
    assert r.dbsize() < 400
    # keys of every database are candidates, one database after another
    r.config_set("maxmemory", 0)
    r.config_set("maxmemory-policy", "allkeys-random")
    r.flushall()
    r2 = redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=3)
    r.mset({"a%d" % i: "v" * 100 for i in range(200)})
    r2.mset({"b%d" % i: "v" * 100 for i in range(200)})
    r.config_set("maxmemory", used(r) - 200 * 150)
    r.ping()
    assert 0 < r.dbsize() < 200 and 0 < r2.dbsize() < 200


def test_noeviction_refuses_writes_and_recovers(r):
    r.config_set("maxmemory-policy", "noeviction")
    limit = limit_above(r, 50 * 1024)
    n = fill_until(r, limit, lambda i: r.set("k%d" % i, "x" * 100), margin=0)
    with pytest.raises(redis.exceptions.ResponseError, match="^" + OOM):
        r.set("more", "x" * 100)
    with pytest.raises(redis.exceptions.ResponseError, match="^" + OOM):
        r.lpush("l", "x")
    assert r.get("k0") == b"x" * 100  # reads are fine
    assert r.delete(*["k%d" % i for i in range(n // 2)]) == n // 2  # and DEL
    assert r.set("more", "x") is True
    assert r.info("stats")["evicted_keys"] == 0
    errs = r.info("errorstats")
    assert errs["errorstat_OOM"]["count"] == 2
    assert r.info("commandstats")["cmdstat_set"]["rejected_calls"] == 1


def test_oom_inside_multi(r, server):
    r.config_set("maxmemory", 1)
    p = r.pipeline(transaction=True)
    p.get("x")
    with pytest.raises(redis.exceptions.ResponseError, match="GET x.*" + OOM):
        p.execute()
    r.config_set("maxmemory", 0)
    assert r.info("errorstats")["errorstat_EXECABORT"]["count"] == 1


def test_maxmemory_clients_evicts_the_largest_client(r):
    """maxmemory-clients (evictClients): a client piling up unread replies past the
    limit is disconnected; CLIENT NO-EVICT protects the admin connection."""
    import socket
    import time

    port = r.connection_pool.connection_kwargs["port"]
    r.client_no_evict("on")
    r.set("big", "x" * 100000)
    assert r.config_set("maxmemory-clients", "1mb") is True
    hog = socket.create_connection(("127.0.0.1", port))
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    deadline = time.time() + 10
    try:
        while time.time() < deadline and r.info("stats")["evicted_clients"] == 0:
            hog.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 20)
    except OSError:
        pass  # disconnected: evicted
    assert r.info("stats")["evicted_clients"] >= 1
    assert r.ping()  # the no-evict client stays
    r.config_set("maxmemory-clients", "0")
    r.client_no_evict("off")
    hog.close()


# ----------------------------------------------------- what eviction causes
def test_evicted_events_and_stats(r, server):
    r.config_set("notify-keyspace-events", "Ee")
    p = r.pubsub()
    p.psubscribe("__keyevent@*__:evicted")
    p.get_message(timeout=5)
    r.mset({"k%d" % i: "v" * 100 for i in range(50)})
    r.config_set("maxmemory-policy", "allkeys-random")
    r.config_set("maxmemory", 1)
    r.ping()
    assert r.dbsize() == 0
    keys = []
    while True:
        m = p.get_message(timeout=2)
        if m is None:
            break
        assert m["channel"] == b"__keyevent@0__:evicted"
        keys.append(m["data"])
    assert sorted(keys) == sorted(b"k%d" % i for i in range(50))
    assert r.info("stats")["evicted_keys"] == 50
    r.config_resetstat()
    assert r.info("stats")["evicted_keys"] == 0
    p.close()


def test_eviction_invalidates_watch_and_tracking(r, server):
    port = r.connection_pool.connection_kwargs["port"]
    w = redis.Redis(port=port)
    w.set("big", "x" * 20000)
    w.set("victim", "v", ex=1000)
    pipe = w.pipeline()
    pipe.watch("victim")
    t = RawConn("127.0.0.1", port)
    t.call("HELLO", "3")
    t.call("CLIENT", "TRACKING", "ON")
    assert t.call("GET", "victim") == b"$1\r\nv\r\n"
    r.config_set("maxmemory-policy", "volatile-ttl")
    r.config_set("maxmemory", used(r) - 10)
    r.ping()
    assert r.exists("victim") == 0 and r.exists("big") == 1
    pipe.multi()
    pipe.get("big")
    with pytest.raises(redis.exceptions.WatchError):
        pipe.execute()
    t.send_command("PING")
    assert t.read_reply() == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nvictim\r\n"
    assert t.read_reply() == b"+PONG\r\n"
    t.close()


@pytest.mark.parametrize("lazy", ["no", "yes"])
def test_eviction_is_propagated_to_the_aof(tmp_path, lazy):
    with start_server(dir=str(tmp_path), appendonly="yes", lazyfree_lazy_eviction=lazy) as srv:
        r = redis.Redis(port=srv.port)
        r.set("asdf1", "1")
        r.set("asdf2", "2")
        r.config_set("maxmemory-policy", "allkeys-lru")
        r.config_set("maxmemory", 1)
        wait_for(lambda: r.dbsize() == 0)
        r.config_set("maxmemory", 0)
        r.set("asdf4", "4")
        aof = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    verb = b"UNLINK" if lazy == "yes" else b"DEL"
    dels = sorted(aof.split(b"$%d\r\n%s\r\n" % (len(verb), verb))[1:])
    assert len(dels) == 2
    assert dels[0].startswith(b"$5\r\nasdf1\r\n") and dels[1].startswith(b"$5\r\nasdf2\r\n")
    assert aof.endswith(b"*3\r\n$3\r\nSET\r\n$5\r\nasdf4\r\n$1\r\n4\r\n")


def test_eviction_after_multi_is_propagated_after_exec(tmp_path):
    """maxmemory.tcl "propagation with eviction in MULTI": CONFIG SET maxmemory inside
    MULTI starts the eviction after EXEC, not inside the transaction."""
    with start_server(dir=str(tmp_path), appendonly="yes") as srv:
        r = redis.Redis(port=srv.port)
        r.config_set("maxmemory-policy", "allkeys-lru")
        p = r.pipeline(transaction=True)
        p.incr("x")
        p.config_set("maxmemory", 1)
        p.incr("x")
        assert p.execute() == [1, True, 2]
        wait_for(lambda: r.dbsize() == 0)
        aof = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    tail = aof[aof.index(b"MULTI") :]
    assert tail.index(b"EXEC") < tail.index(b"DEL")
    assert tail.endswith(b"*2\r\n$3\r\nDEL\r\n$1\r\nx\r\n")


# ------------------------------------------------------------- tenacity
def test_tenacity_bounds_one_round(r, server):
    srv = server.server
    r.config_set("maxmemory-policy", "allkeys-random")
    r.mset({"k%d" % i: "v" * 100 for i in range(2000)})
    r.config_set("maxmemory-eviction-tenacity", 0)  # no time at all: 16 keys a round
    limit = used(r) - 1000 * 150

    def one_round():
        srv.config.set("maxmemory", str(limit), apply=False)  # no time proc yet
        ev = srv.evictor
        ev.configure()
        before = srv.stats_evicted_keys
        res = ev.perform()
        return res, srv.stats_evicted_keys - before, ev.proc_running

    res, n, running = on_loop(server, one_round)
    assert (res, n, running) == (evict.EVICT_RUNNING, 16, True)
    # the event loop carries on until the limit is met, commands are not refused
    r.set("during", "x")
    wait_for(lambda: not srv.evictor.proc_running)
    assert used(r) <= limit
    assert r.info("stats")["evicted_keys"] > 500


def test_tenacity_time_limits():
    assert evict.time_limit_us(0) == 0
    assert evict.time_limit_us(10) == 500
    assert evict.time_limit_us(11) == int(500 * 1.15)
    assert evict.time_limit_us(100) == float("inf")


def test_no_eviction_while_paused_or_loading(r, server):
    r.mset({"k%d" % i: "v" * 100 for i in range(100)})
    r.config_set("maxmemory-policy", "allkeys-random")
    r.execute_command("CLIENT", "PAUSE", 100000, "WRITE")
    r.config_set("maxmemory", 1)
    assert r.dbsize() == 100
    r.execute_command("CLIENT", "UNPAUSE")
    # evicted at once, or by the eviction time proc once the time limit is hit
    wait_for(lambda: r.dbsize() == 0)


def test_tracking_invalidations_do_not_feed_eviction(r, server):
    """maxmemory.tcl "client tracking don't cause eviction feedback loop"."""
    port = r.connection_pool.connection_kwargs["port"]
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("maxmemory-eviction-tenacity", 100)
    clients = []
    for _ in range(10):
        c = RawConn("127.0.0.1", port)
        c.call("HELLO", "3")
        c.call("CLIENT", "TRACKING", "ON")
        clients.append(c)
    for j in range(300):
        key = "%d%s" % (j, "x" * 1000)
        r.set(key, "x")
        for c in clients:
            c.call("GET", key)
    time.sleep(0.3)
    r.config_set("maxmemory", used(r) - 40000)
    r.ping()
    evicted = r.info("stats")["evicted_keys"]
    assert 200 <= r.dbsize() <= 300
    assert 10 <= evicted <= 50
    for c in clients:
        assert c.read_reply().startswith(b">2\r\n$10\r\ninvalidate\r\n")
        c.close()


def test_client_output_buffers_count(r, server):
    """maxmemory.tcl "eviction due to output buffers of many MGET clients": replies
    nobody reads are memory too, and keys are evicted to make room for them."""
    port = r.connection_pool.connection_kwargs["port"]
    r.config_set("maxmemory-policy", "allkeys-lru")
    for j in range(50):
        r.setrange(str(j), 100000, "x")
    r.config_set("maxmemory", used(r) + 1024 * 1024)
    readers = [RawConn("127.0.0.1", port) for _ in range(20)]
    deadline = time.time() + 20
    while r.info("stats")["evicted_keys"] == 0 and time.time() < deadline:
        for c in readers:
            c.send(b"*2\r\n$4\r\nMGET\r\n$1\r\n1\r\n" * 20)
        time.sleep(0.01)
    assert r.info("stats")["evicted_keys"] > 0 and r.dbsize() < 50
    assert r.info("memory")["mem_clients_normal"] > 0
    for c in readers:
        c.close()
