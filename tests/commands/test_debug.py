"""DEBUG, SLOWLOG, LATENCY and MEMORY behaviour that only Vermilion can show (the
replies are compared with redis-server in tests/differential/test_server_cmds.py)."""

import re
import time

import pytest
import redis

from vermilion.embed import start_server


@pytest.fixture
def srv():
    s = start_server(enable_debug_command="yes")
    yield s
    s.stop()


@pytest.fixture
def d(srv):
    c = redis.Redis(port=srv.port)
    yield c
    c.close()


def digest(c):
    return c.execute_command("DEBUG", "DIGEST")


def test_debug_is_refused_by_default(r):
    with pytest.raises(redis.ResponseError, match="DEBUG command not allowed"):
        r.execute_command("DEBUG", "DIGEST")


def test_digest_tracks_content_not_order(d, srv):
    assert digest(d) == b"0" * 40
    d.set("a", "1")
    d.rpush("l", "x", "y")
    d.sadd("s", "m1", "m2", "m3")
    d.hset("h", mapping={"f1": "v1", "f2": "v2"})
    d.zadd("z", {"a": 1, "b": 2.5})
    first = digest(d)
    assert re.fullmatch(rb"[0-9a-f]{40}", first) and first != b"0" * 40
    # the same content built in another order: same digest
    other = start_server(enable_debug_command="yes")
    try:
        o = redis.Redis(port=other.port)
        o.zadd("z", {"b": 2.5, "a": 1})
        o.hset("h", mapping={"f2": "v2", "f1": "v1"})
        o.sadd("s", "m3", "m1", "m2")
        o.rpush("l", "x", "y")
        o.set("a", "1")
        assert digest(o) == first
        o.close()
    finally:
        other.stop()
    # every kind of change changes it
    for change in (
        lambda: d.set("a", "2"),
        lambda: d.rpush("l", "z"),
        lambda: d.srem("s", "m1"),
        lambda: d.hset("h", "f1", "other"),
        lambda: d.zadd("z", {"a": 3}),
        lambda: d.expire("a", 100),
        lambda: d.rename("l", "l2"),
        lambda: d.execute_command("SELECT", 1) and d.set("a", "1"),
    ):
        before = digest(d)
        change()
        assert digest(d) != before


def test_digest_value(d):
    d.set("a", "1")
    d.sadd("s1", "x", "y")
    d.sadd("s2", "y", "x")
    va, vs1, vs2, missing = d.execute_command("DEBUG", "DIGEST-VALUE", "a", "s1", "s2", "nosuch")
    assert vs1 == vs2 != va
    assert missing == b"0" * 40
    d.set("b", "1")
    assert d.execute_command("DEBUG", "DIGEST-VALUE", "b") == [va]


def test_populate(d):
    assert d.execute_command("DEBUG", "POPULATE", "1000") == b"OK"
    assert d.dbsize() == 1000
    assert d.get("key:999") == b"value:999"
    d.execute_command("DEBUG", "POPULATE", "3", "p", "10")
    assert d.get("p:1") == b"value:1\x00\x00\x00"
    d.execute_command("DEBUG", "POPULATE", "2", "q", "3")
    assert d.get("q:1") == b"val"
    assert d.execute_command("DEBUG", "POPULATE", "0") == b"OK"


def test_object_reports_encoding_and_idle_time(d):
    d.set("s", "hello")
    d.set("n", "123")
    d.rpush("l", *range(10))
    line = d.execute_command("DEBUG", "OBJECT", "s").decode()
    m = re.fullmatch(
        r"Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:6 "
        r"lru:(\d+) lru_seconds_idle:(\d+)",
        line,
    )
    assert m, line
    assert "encoding:int" in d.execute_command("DEBUG", "OBJECT", "n").decode()
    ql = d.execute_command("DEBUG", "OBJECT", "l").decode()
    assert "encoding:quicklist" in ql and " ql_nodes:1 " in ql
    with pytest.raises(redis.ResponseError, match="no such key"):
        d.execute_command("DEBUG", "OBJECT", "nosuch")


def test_set_active_expire(d, srv):
    assert d.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
    assert srv.server.active_expire_enabled is False
    d.set("gone", "1", px=10)
    time.sleep(0.4)
    assert d.dbsize() == 1  # no active expiry
    d.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    deadline = time.time() + 5
    while d.dbsize() and time.time() < deadline:
        time.sleep(0.05)
    assert d.dbsize() == 0


def test_pause_cron(d, srv):
    d.execute_command("DEBUG", "PAUSE-CRON", "1")
    loops = srv.server.cron_loops
    time.sleep(0.35)
    assert srv.server.cron_loops == loops
    d.execute_command("DEBUG", "PAUSE-CRON", "0")
    time.sleep(0.35)
    assert srv.server.cron_loops > loops


def test_sleep_blocks_the_server(srv, d):
    other = redis.Redis(port=srv.port)
    other.ping()
    t0 = time.time()
    d.execute_command("DEBUG", "SLEEP", "0.3")
    assert time.time() - t0 >= 0.29
    other.close()


def test_change_repl_id(d):
    before = d.info("replication")["master_replid"]
    assert d.execute_command("DEBUG", "CHANGE-REPL-ID") == b"OK"
    after = d.info("replication")["master_replid"]
    assert after != before and re.fullmatch(r"[0-9a-f]{40}", after)


def test_error_is_not_counted_as_an_error_stat(srv):
    from support import RawConn

    c = RawConn("127.0.0.1", srv.port)
    c.call("CONFIG", "RESETSTAT")
    assert c.call("DEBUG", "ERROR", "LOADING fake loading") == b"-LOADING fake loading\r\n"
    assert c.call("DEBUG", "ERROR", "ANY error") == b"-ANY error\r\n"
    assert c.call("INFO", "errorstats") == b"$14\r\n# Errorstats\r\n\r\n"
    c.close()


def test_quicklist_packed_threshold(d, srv):
    d.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100")
    assert srv.server.quicklist_packed_threshold == 100
    d.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0")
    assert srv.server.quicklist_packed_threshold == 1 << 30


def test_reload_keeps_the_data(d, tmp_path, srv):
    srv.server.config.values["dir"] = str(tmp_path)
    d.set("a", "1")
    d.rpush("l", "x", "y")
    before = digest(d)
    assert d.execute_command("DEBUG", "RELOAD") == b"OK"
    assert digest(d) == before


def test_htstats_key(d):
    d.sadd("big", *["m%d" % i for i in range(1000)])
    text = d.execute_command("DEBUG", "HTSTATS-KEY", "big").decode()
    assert "number of elements: 1000" in text and "table size: 1024" in text


def test_crash_subcommands_refused_when_embedded(d, srv):
    for sub in ("SEGFAULT", "PANIC", "ASSERT", "OOM"):
        with pytest.raises(redis.ResponseError, match="embedded"):
            d.execute_command("DEBUG", sub)
    assert d.ping()


# ------------------------------------------------------------ SLOWLOG / LATENCY
def test_slowlog_entries(d):
    d.config_set("slowlog-log-slower-than", "0")
    d.slowlog_reset()
    d.execute_command("CLIENT", "SETNAME", "me")
    d.set("k", "v" * 300)
    entries = d.slowlog_get(2)
    assert entries[0]["command"].startswith(b"SET k vvvv")
    assert entries[0]["command"].endswith(b"... (172 more bytes)")
    assert entries[0]["client_name"] == b"me"
    assert entries[0]["id"] == entries[1]["id"] + 1
    assert abs(entries[0]["start_time"] - time.time()) < 5
    d.config_set("slowlog-max-len", "2")
    assert d.slowlog_len() == 2
    d.config_set("slowlog-log-slower-than", "1000000")
    d.slowlog_reset()
    d.set("fast", "1")
    assert d.slowlog_len() == 0
    d.config_set("slowlog-log-slower-than", "10000")


def test_latency_monitor_records_slow_commands(d, srv):
    assert d.execute_command("LATENCY", "LATEST") == []
    d.execute_command("DEBUG", "SLEEP", "0.05")
    assert d.execute_command("LATENCY", "LATEST") == []  # monitor off
    d.config_set("latency-monitor-threshold", "20")
    time.sleep(1 - time.time() % 1 + 0.02)  # both samples within one second
    d.execute_command("DEBUG", "SLEEP", "0.05")
    d.execute_command("DEBUG", "SLEEP", "0.07")  # same second: the worst wins
    ((event, when, last, worst),) = d.execute_command("LATENCY", "LATEST")
    assert event == b"command" and 70 <= last < 500 and worst == last
    assert len(d.execute_command("LATENCY", "HISTORY", "command")) == 1
    srv.server.latency.add_sample("expire-cycle", 30)
    doctor = d.execute_command("LATENCY", "DOCTOR").decode()
    assert "1. command:" in doctor and "2. expire-cycle:" in doctor
    assert "try to set the 'hz' configuration parameter to 100" in doctor
    assert d.execute_command("LATENCY", "RESET") == 2
    d.config_set("latency-monitor-threshold", "0")


def test_latency_graph_shape(d, srv):
    lat = srv.server.latency
    now = int(time.time())
    for i, ms in enumerate((10, 40, 20)):
        lat.events.setdefault("x", [[[0, 0] for _ in range(160)], 0, 0])
        ts = lat.events["x"]
        ts[0][ts[1]] = [now - 3 + i, ms]
        ts[1] += 1
        ts[2] = max(ts[2], ms)
    lines = d.execute_command("LATENCY", "GRAPH", "x").decode().split("\n")
    assert lines[0] == "x - high 40 ms, low 10 ms (all time high 40 ms)"
    assert lines[1] == "-" * 80
    assert [len(x) for x in lines[2:6]] == [3, 3, 3, 3]
    assert lines[2][1] in "_o#|" and lines[5] == "_||"
    assert lines[6] == "   " and lines[7] == "321"


# ------------------------------------------------------------------ MEMORY
def test_memory_usage_grows_with_the_value(d):
    d.set("small", "x")
    d.set("big", "x" * 100000)
    small = d.memory_usage("small")
    big = d.memory_usage("big")
    assert 40 < small < 200 and 100000 < big < 101000
    d.sadd("set", *range(1000))
    d.hset("hash", mapping={"f%d" % i: i for i in range(1000)})
    d.zadd("zset", {"m%d" % i: i for i in range(1000)})
    for key in ("set", "hash", "zset"):
        sampled = d.memory_usage(key)
        full = d.memory_usage(key, samples=0)
        assert sampled > 20000 and abs(sampled - full) < full * 0.5, key
    assert d.memory_usage("nosuch") is None


def test_memory_stats_and_doctor(d):
    stats = d.memory_stats()
    assert stats["keys.count"] == 0 and stats["total.allocated"] > 0
    d.set("a", "1")
    assert d.memory_stats()["keys.count"] == 1
    assert d.execute_command("MEMORY", "DOCTOR").startswith(b"Hi Sam")
