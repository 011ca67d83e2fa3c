"""A clock tests can move (issue #15, item 2): ``srv.clock.advance()``/``freeze()``
move every time the data sees (TTLs, lazy and active expiry, TIME, blocking
timeouts, OBJECT IDLETIME/FREQ, stream IDs and idle times), on this server only,
and a clock nobody moved is time.time itself. Real embedded servers, redis-py
over real sockets."""

import asyncio
import datetime
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import redis
import redis.asyncio

import vermilion
from vermilion.embed import serve

T0 = 1_700_000_000  # a round Unix time to freeze at


@pytest.fixture
def srv():
    s = vermilion.start_server()
    yield s
    s.stop()


@pytest.fixture
def r(srv):
    c = redis.Redis.from_url(srv.url)
    yield c
    c.close()


def _blocked_clients(r, n, timeout=5):
    """Wait until ``n`` clients are blocked (the other thread's command arrived)."""
    end = time.monotonic() + timeout
    while r.info("clients")["blocked_clients"] != n:
        assert time.monotonic() < end, "the client never blocked"
        time.sleep(0.01)


def _in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    return t, out


def test_untouched_clock_is_time_time(srv, r):
    clock = srv.server.clock
    assert not clock.moved and not srv.clock.moved
    assert clock.time is time.time
    assert all(db.time is time.time for db in srv.server.dbs)
    sec, usec = r.time()
    assert abs(sec + usec / 1e6 - time.time()) < 2
    srv.clock.advance(5)
    assert clock.time is not time.time
    srv.clock.reset()
    assert not clock.moved and clock.time is time.time
    assert all(db.time is time.time for db in srv.server.dbs)


def test_ttl_and_lazy_expiry(srv, r):
    srv.clock.freeze()
    r.set("k", "v", ex=5)
    r.set("p", "v")
    r.pexpire("p", 2500)
    assert r.ttl("k") == 5 and r.pttl("k") == 5000
    srv.clock.advance(3)
    assert r.ttl("k") == 2 and r.pttl("k") == 2000
    assert r.pttl("p") == -2  # 2.5 s: gone
    assert r.get("k") == b"v"
    srv.clock.advance(2)
    assert r.get("k") is None  # at its expiry time exactly, as Redis (when <= now)
    assert r.exists("k") == 0


def test_active_expiry_runs_when_the_clock_moves(srv, r):
    r.config_set("notify-keyspace-events", "Ex")
    p = r.pubsub()
    p.psubscribe("__keyevent@0__:expired")
    assert p.get_message(timeout=2)["type"] == "psubscribe"
    r.set("stays", "v")
    r.set("soon", "v", ex=100)
    with r.pipeline(transaction=False) as pipe:
        for i in range(500):
            pipe.set("k%d" % i, "v", ex=5)
        pipe.execute()
    before = r.info("stats")["expired_keys"]
    srv.clock.advance(10)
    # nobody read them: the active cycle deleted them before advance() returned
    assert r.dbsize() == 2
    assert r.info("stats")["expired_keys"] - before == 500
    msg = p.get_message(timeout=2)
    assert msg["type"] == "pmessage" and msg["data"].startswith(b"k")
    p.close()
    assert r.ttl("soon") in (89, 90)


def test_time_command(srv, r):
    srv.clock.freeze(at=T0 + 0.25)
    assert r.time() == (T0, 250000)
    srv.clock.advance(1.5)
    assert r.time() == (T0 + 1, 750000)
    srv.clock.set(T0 + 3600)
    assert r.time() == (T0 + 3600, 0)
    assert srv.clock.time() == T0 + 3600
    srv.clock.advance(datetime.timedelta(minutes=1, microseconds=5))
    assert r.time() == (T0 + 3660, 5)
    srv.clock.set(datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc))
    assert r.time() == (1893456000, 0)


def test_a_running_moved_clock_keeps_running(srv, r):
    srv.clock.advance(3600)
    assert srv.clock.moved and not srv.clock.frozen
    a = r.time()
    assert abs(a[0] - (time.time() + 3600)) < 2
    time.sleep(0.05)
    b = r.time()
    assert b > a  # not frozen: real time still passes
    srv.clock.freeze()
    srv.clock.unfreeze()  # runs again from where it stood
    assert abs(srv.clock.time() - (time.time() + 3600)) < 2
    srv.clock.reset()
    assert abs(srv.clock.time() - time.time()) < 1


def test_absolute_expiry_commands(srv, r):
    srv.clock.freeze(at=T0)
    r.set("k", "v")
    r.expireat("k", T0 + 10)
    assert r.ttl("k") == 10 and r.expiretime("k") == T0 + 10
    r.set("x", "v", exat=T0 + 5)
    r.set("y", "v", pxat=(T0 + 20) * 1000)
    assert r.pttl("x") == 5000
    assert r.expire("k", 100, gt=True) and r.expiretime("k") == T0 + 100
    assert r.getex("y", ex=7) == b"v" and r.pexpiretime("y") == (T0 + 7) * 1000
    assert r.expireat("gone", T0 - 1) == 0
    r.set("z", "v")
    assert r.pexpireat("z", T0 * 1000) == 1 and r.exists("z") == 0  # in the past: deleted
    srv.clock.advance(6)
    assert r.mget("x", "y", "k") == [None, b"v", b"v"]


def test_transaction_sees_the_clock(srv, r):
    srv.clock.freeze()
    r.set("k", "v", ex=5)
    srv.clock.advance(6)
    with r.pipeline() as p:
        p.get("k").exists("k")
        assert p.execute() == [None, 0]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.blpop("q", 5),
        lambda c: c.brpoplpush("q", "dst", 5),
        lambda c: c.bzpopmin("z", 5),
        lambda c: c.xread({"s": "$"}, block=5000),
        lambda c: c.execute_command("WAIT", 1, 5000),
    ],
    ids=["BLPOP", "BRPOPLPUSH", "BZPOPMIN", "XREAD", "WAIT"],
)
def test_blocking_timeout_follows_the_clock(srv, r, call):
    srv.clock.freeze()
    r.xadd("s", {"f": "v"})
    other = redis.Redis.from_url(srv.url)
    t, out = _in_thread(lambda: call(other))
    _blocked_clients(r, 1)
    srv.clock.advance(4)
    time.sleep(0.2)
    assert t.is_alive()  # 4 of its 5 seconds passed
    srv.clock.advance(2)
    t.join(5)
    assert not t.is_alive()
    assert out[0] in (None, [], 0)  # its timeout reply (WAIT: 0 replicas)
    assert r.info("clients")["blocked_clients"] == 0
    other.close()


def test_frozen_clock_never_times_out(srv, r):
    srv.clock.freeze()
    other = redis.Redis.from_url(srv.url)
    t, out = _in_thread(lambda: other.blpop("q", 0.5))
    _blocked_clients(r, 1)
    time.sleep(1.0)  # twice its timeout, in real time
    assert t.is_alive()
    r.rpush("q", "x")
    t.join(5)
    assert out == [(b"q", b"x")]
    other.close()


def test_blocked_while_moved_times_out_after_reset(srv, r):
    srv.clock.advance(1000)  # moved, running
    other = redis.Redis.from_url(srv.url)
    t, out = _in_thread(lambda: other.blpop("q", 0.3))
    _blocked_clients(r, 1)
    t.join(5)  # its timer runs on the moved clock, in real time
    assert out == [None]
    t, out = _in_thread(lambda: other.blpop("q", 0.3))
    _blocked_clients(r, 1)
    r.set("k", "v", px=300)
    # Back 1000 s: like a key's expiry, the deadline is a point on the clock,
    # 1000 s away now (Redis's timeouts are wall-clock times too).
    srv.clock.reset()
    time.sleep(0.5)
    assert t.is_alive() and r.pttl("k") > 999000
    srv.clock.advance(1000)
    t.join(5)
    assert out == [None] and r.exists("k") == 0
    other.close()


def test_blocked_without_timeout_stays_blocked(srv, r):
    other = redis.Redis.from_url(srv.url)
    t, out = _in_thread(lambda: other.blpop("q", 0))
    _blocked_clients(r, 1)
    srv.clock.advance(10**6)
    time.sleep(0.2)
    assert t.is_alive()
    r.rpush("q", "x")
    t.join(5)
    assert out == [(b"q", b"x")]
    other.close()


def test_object_idletime(srv, r):
    srv.clock.freeze()
    r.set("k", "v")
    r.set("other", "v")
    assert r.object("idletime", "k") == 0
    srv.clock.advance(100)
    assert r.object("idletime", "k") == 100
    r.get("k")
    assert r.object("idletime", "k") == 0
    assert r.object("idletime", "other") == 100


def test_lfu_decay(srv, r):
    r.config_set("maxmemory-policy", "allkeys-lfu")
    r.config_set("lfu-decay-time", "1")  # one counter step per minute
    r.config_set("lfu-log-factor", "0")  # every access counts (the increment is random otherwise)
    srv.clock.freeze()
    r.set("k", "v")
    for _ in range(200):
        r.get("k")
    freq = r.object("freq", "k")
    assert freq > 10
    srv.clock.advance(5 * 60)
    assert r.object("freq", "k") == freq - 5
    srv.clock.advance(24 * 3600)
    assert r.object("freq", "k") == 0


def test_stream_ids_and_idle_times(srv, r):
    srv.clock.freeze(at=T0)
    ms = T0 * 1000
    assert r.xadd("s", {"f": 1}) == b"%d-0" % ms
    assert r.xadd("s", {"f": 2}) == b"%d-1" % ms  # same millisecond: next sequence
    srv.clock.advance(1)
    assert r.xadd("s", {"f": 3}) == b"%d-0" % (ms + 1000)
    assert r.xadd("s2", {"f": 1}, maxlen=10) == b"%d-0" % (ms + 1000)  # the general path
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "alice", {"s": ">"}, count=1)
    srv.clock.advance(10)
    (entry,) = r.xpending_range("s", "g", "-", "+", 10)
    assert entry["time_since_delivered"] == 10000
    (cons,) = r.xinfo_consumers("s", "g")
    assert cons["idle"] == 10000
    claimed = r.xclaim("s", "g", "bob", 9000, [entry["message_id"]], justid=True)
    assert claimed == [entry["message_id"]]
    srv.clock.set(T0 - 3600)  # back in time: IDs keep growing, as in Redis
    assert r.xadd("s", {"f": 4}) == b"%d-1" % (ms + 1000)


def test_each_server_has_its_own_clock(srv, r):
    with vermilion.start_server() as other:
        o = redis.Redis.from_url(other.url)
        o.set("k", "v", ex=5)
        r.set("k", "v", ex=5)
        srv.clock.advance(100)
        assert r.get("k") is None
        assert o.ttl("k") in (4, 5) and not other.clock.moved
        sec, _ = o.time()
        assert abs(sec - time.time()) < 2
        o.close()


def test_bad_arguments(srv):
    with pytest.raises(TypeError):
        srv.clock.advance("10")
    with pytest.raises(ValueError):
        srv.clock.advance(float("nan"))
    assert not srv.clock.moved


def test_async_server_clock():
    async def main():
        async with await serve() as s:
            c = redis.asyncio.Redis.from_url(s.url)
            await c.set("k", "v", ex=5)
            s.clock.advance(10)  # on the loop's own thread: directly
            assert await c.dbsize() == 0
            assert (await c.time())[0] >= int(time.time()) + 9
            t = asyncio.ensure_future(c.blpop("q", 5))
            await asyncio.sleep(0.1)
            s.clock.advance(6)
            assert await asyncio.wait_for(t, 5) is None
            await c.aclose()

    asyncio.run(main())


def test_script_sees_the_clock(srv, r):
    srv.clock.advance(3600)
    r.eval("redis.call('set', KEYS[1], 'v', 'EX', 10)", 1, "k")
    assert r.ttl("k") == 10


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_pytest_fixture_and_reset(tmp_path):
    """vermilion_clock is the shared server's clock, and the next test gets real time."""
    (tmp_path / "test_it.py").write_text(
        textwrap.dedent("""
        import time

        def test_moves(vermilion_client, vermilion_clock, vermilion_server):
            assert vermilion_clock is vermilion_server.clock
            vermilion_client.set("k", "v", ex=5)
            vermilion_clock.advance(3600)
            vermilion_clock.freeze()
            assert vermilion_client.dbsize() == 0
            assert vermilion_client.get("k") is None
            assert vermilion_client.time()[0] >= time.time() + 3599

        def test_real_again(vermilion_client, vermilion_clock):
            assert not vermilion_clock.moved
            assert abs(vermilion_client.time()[0] - time.time()) < 2
            vermilion_client.set("k", "v", ex=5)
            assert vermilion_client.ttl("k") == 5
    """)
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_it.py"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout


def test_inprocess_client(srv):
    from vermilion import inprocess

    c = inprocess.client(srv)
    other = inprocess.client(srv)
    srv.clock.freeze()
    c.set("k", "v", ex=5)
    t, out = _in_thread(lambda: other.blpop("q", 5))
    _blocked_clients(c, 1)
    srv.clock.advance(6)
    t.join(5)
    assert out == [None] and c.get("k") is None
    c.close()
    other.close()
