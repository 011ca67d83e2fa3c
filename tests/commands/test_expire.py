"""Expiry on Vermilion alone: the active cycle reclaims keys nobody reads, skips
stale heap entries, stays within its time budget; TTL arithmetic; what EXPIRE
writes to the AOF (PEXPIREAT with an absolute time, or DEL)."""

import time

import pytest
import redis

from keyspace_helpers import on_loop
from vermilion.embed import start_server


def _wait(pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


# -------------------------------------------------------------- active expiry
def test_active_expiry_reclaims_unread_keys(server, r):
    pipe = r.pipeline(transaction=False)
    for i in range(20000):
        pipe.set("tmp:%d" % i, "v", px=2500)
    pipe.set("keep", "v")
    pipe.execute()
    assert r.dbsize() == 20001
    before = server.server.stats_expired_keys
    assert _wait(lambda: r.dbsize() == 1, timeout=10)
    assert r.keys("*") == [b"keep"]
    assert server.server.stats_expired_keys - before == 20000


def test_active_expiry_off_keeps_keys_until_read(server, r):
    srv = server.server
    on_loop(server, lambda: setattr(srv, "active_expire_enabled", False))
    try:
        for i in range(100):
            r.set("k%d" % i, "v", px=20)
        time.sleep(0.4)
        assert r.dbsize() == 100  # nobody read them, no cycle ran
        assert r.get("k0") is None  # a read expires lazily
        assert r.dbsize() == 99
    finally:
        on_loop(server, lambda: setattr(srv, "active_expire_enabled", True))
    assert _wait(lambda: r.dbsize() == 0)


def test_active_expiry_all_databases(server, r):
    r5 = redis.Redis(host=server.host, port=server.port, db=5)
    try:
        r.set("a", 1, px=50)
        r5.set("b", 1, px=50)
        r5.set("c", 1)
        assert _wait(lambda: r.dbsize() == 0 and r5.dbsize() == 1)
    finally:
        r5.close()


def test_ttls_written_without_set_expire_are_reclaimed(server, r):
    # Bulk loading (RDB) fills db.expires directly; the cycle must still find them.
    db = server.server.dbs[0]
    now = int(time.time() * 1000)

    def load():
        for i in range(5000):
            db.data[b"L%d" % i] = b"v"
            db.expires[b"L%d" % i] = now + 50

    on_loop(server, load)
    assert _wait(lambda: r.dbsize() == 0)


def test_changed_ttl_is_not_expired_early(server, r):
    r.set("grow", "v", px=50)
    r.pexpire("grow", 60000)  # the heap still holds the old due time
    r.set("persisted", "v", px=50)
    r.persist("persisted")
    r.set("recreated", "v", px=50)
    r.delete("recreated")
    r.set("recreated", "plain")
    r.set("reset", "v", px=50)
    r.set("reset", "w")  # SET drops the TTL
    time.sleep(0.5)
    assert r.dbsize() == 4
    assert 59000 < r.pttl("grow") <= 60000
    assert r.ttl("persisted") == -1
    assert r.get("recreated") == b"plain"
    assert r.ttl("reset") == -1


def test_many_ttl_changes_keep_heap_bounded(server, r):
    r.set("k", "v")
    pipe = r.pipeline(transaction=False)
    for i in range(5000):
        pipe.pexpire("k", 100000 + i)
    pipe.execute()
    db = server.server.dbs[0]
    assert _wait(lambda: on_loop(server, lambda: len(db._heap)) <= 1025)
    assert 99000 < r.pttl("k") <= 105000


def test_active_cycle_keeps_server_responsive(server, r):
    db = server.server.dbs[0]
    now = int(time.time() * 1000)

    def fill():
        for i in range(300000):
            k = b"e%d" % i
            db.data[k] = b"v"
            db.set_expire(k, now + 200)

    on_loop(server, fill)
    time.sleep(0.25)
    worst = 0.0
    while r.dbsize():
        t = time.perf_counter()
        r.ping()
        worst = max(worst, time.perf_counter() - t)
        time.sleep(0.01)
    assert worst < 0.5


# -------------------------------------------------------------------- TTLs
def test_ttl_values(r):
    r.set("k", "v")
    assert r.expire("k", 100)
    assert r.ttl("k") == 100
    assert 99000 < r.pttl("k") <= 100000
    t = int(time.time())
    assert t + 99 <= r.expiretime("k") <= t + 101
    assert r.pexpire("k", 1500)
    assert r.ttl("k") in (1, 2)
    assert r.ttl("nothere") == -2
    assert r.pttl("nothere") == -2
    r.set("p", "v")
    assert r.ttl("p") == -1
    assert r.pexpiretime("p") == -1


def test_expire_keeps_value_and_type(r):
    r.rpush("l", "a", "b")
    assert r.expire("l", 100)
    assert r.lrange("l", 0, -1) == [b"a", b"b"]
    assert r.type("l") == b"list"


# ------------------------------------------------------------- propagation
class _Sink:
    """Stands where the AOF is: records what the dispatcher propagates."""

    def __init__(self):
        self.fed = []

    def feed(self, dbid, cmds):
        self.fed.extend((dbid, [bytes(a) for a in cmd]) for cmd in cmds)

    def __getattr__(self, name):  # anything else the server asks of persistence
        raise AttributeError(name)


@pytest.fixture
def sink(server):
    s = _Sink()
    srv = server.server
    prev = srv.persistence
    on_loop(server, lambda: setattr(srv, "persistence", s))
    yield s
    on_loop(server, lambda: setattr(srv, "persistence", prev))


def test_expire_propagates_as_pexpireat(r, sink):
    r.set("k", "v")
    sink.fed.clear()
    t0 = int(time.time() * 1000)
    r.expire("k", 100)
    r.execute_command("PEXPIRE", "k", "5000", "LT")
    r.expireat("k", 4102444800)
    r.pexpireat("k", 4102444800123)
    r.expire("nothere", 10)
    cmds = [c for _, c in sink.fed]
    assert [c[0] for c in cmds] == [b"PEXPIREAT"] * 4
    assert t0 + 100000 <= int(cmds[0][2]) <= int(time.time() * 1000) + 100000
    assert cmds[0][1] == b"k" and len(cmds[0]) == 3
    assert cmds[1][3:] == [b"LT"]
    assert cmds[2][2] == b"4102444800000"
    assert cmds[3] == [b"PEXPIREAT", b"k", b"4102444800123"]  # as sent


def test_expire_in_past_propagates_as_del(server, r, sink):
    r.set("k", "v")
    sink.fed.clear()
    r.expire("k", -1)
    assert sink.fed == [(0, [b"DEL", b"k"])]
    on_loop(server, lambda: server.server.config.set("lazyfree-lazy-expire", "yes"))
    try:
        r.set("k", "v")
        sink.fed.clear()
        r.pexpireat("k", 1)
        assert sink.fed == [(0, [b"UNLINK", b"k"])]
    finally:
        on_loop(server, lambda: server.server.config.set("lazyfree-lazy-expire", "no"))


def test_flushdb_always_propagated(r, sink):
    r.flushdb()
    r.flushall()
    assert [c for _, c in sink.fed] == [[b"FLUSHDB"], [b"FLUSHALL"]]


def test_active_expiry_propagates_del(server, r, sink):
    r.set("gone", "v", px=20)
    sink.fed.clear()
    assert _wait(lambda: r.dbsize() == 0)
    assert (0, [b"DEL", b"gone"]) in sink.fed


def test_embedded_servers_expire_independently():
    with start_server() as a, start_server() as b:
        ra, rb = redis.Redis(port=a.port), redis.Redis(port=b.port)
        ra.set("x", 1, px=30)
        rb.set("x", 1)
        assert _wait(lambda: ra.dbsize() == 0)
        assert rb.dbsize() == 1
        ra.close()
        rb.close()
