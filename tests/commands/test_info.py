"""INFO's numbers move with the server's state (the field names and order are
compared with redis-server in tests/differential/test_server_cmds.py)."""

import re
import threading
import time

import pytest
import redis

from vermilion import REDIS_VERSION, __version__


def raw_info(r, *sections):
    """INFO's text as the server sent it (redis-py would parse it)."""
    from support import RawConn

    kw = r.connection_pool.connection_kwargs
    c = RawConn(kw["host"], kw["port"])
    reply = c.call("INFO", *sections)
    c.close()
    header, _, body = reply.partition(b"\r\n")
    assert header == b"$%d" % (len(body) - 2)
    return body[:-2].decode()


def test_server_section(server, r):
    info = r.info("server")
    assert info["redis_version"] == REDIS_VERSION
    assert info["vermilion_version"] == __version__
    assert info["redis_mode"] == "standalone"
    assert info["tcp_port"] == server.port
    assert info["arch_bits"] == 64
    assert re.fullmatch(r"[0-9a-f]{40}", info["run_id"])
    assert info["hz"] == info["configured_hz"] == 10
    assert abs(info["server_time_usec"] / 1e6 - time.time()) < 5
    assert info["uptime_in_days"] == 0
    assert abs(info["lru_clock"] - (int(time.time()) & 0xFFFFFF)) < 5
    r.config_set("hz", "50")
    assert r.info("server")["configured_hz"] == 50


def test_every_line_is_field_colon_value(r):
    text = raw_info(r, "everything")
    assert text.endswith("\r\n")
    for block in text.split("\r\n\r\n"):
        lines = block.strip("\r\n").split("\r\n")
        assert lines[0].startswith("# ")
        for line in lines[1:]:
            assert re.fullmatch(r"[a-z0-9_|\-]+:[^\r\n]*", line), line


def test_clients_section(server, r):
    assert r.info("clients")["connected_clients"] == 1
    others = [redis.Redis(port=server.port) for _ in range(3)]
    for o in others:
        o.ping()
    assert r.info("clients")["connected_clients"] == 4
    blocker = others[0]
    t = threading.Thread(target=lambda: blocker.blpop("q", timeout=5))
    t.start()
    deadline = time.time() + 5
    while r.info("clients")["blocked_clients"] != 1 and time.time() < deadline:
        time.sleep(0.02)
    assert r.info("clients")["blocked_clients"] == 1
    r.rpush("q", "x")
    t.join()
    assert r.info("clients")["blocked_clients"] == 0
    for o in others:
        o.close()
    r.config_set("maxclients", "100")
    assert r.info("clients")["maxclients"] == 100


def test_memory_section(r):
    info = r.info("memory")
    assert info["used_memory"] > 0
    assert info["used_memory_rss"] >= info["used_memory"] * 0.5
    assert info["used_memory_peak"] >= info["used_memory"] * 0.5
    assert re.fullmatch(r"\d+(\.\d\d)?[BKMGTP]", info["used_memory_human"])
    assert info["maxmemory"] == 0 and info["maxmemory_human"] == "0B"
    assert info["maxmemory_policy"] == "noeviction"
    r.config_set("maxmemory", "100mb")
    r.config_set("maxmemory-policy", "allkeys-lru")
    info = r.info("memory")
    assert info["maxmemory"] == 104857600 and info["maxmemory_human"] == "100.00M"
    assert info["maxmemory_policy"] == "allkeys-lru"
    r.config_set("maxmemory", "0")


def test_memory_grows_with_data(r):
    before = r.info("memory")["used_memory"]
    r.mset({"k%d" % i: "x" * 100 for i in range(100000)})
    after = r.info("memory")["used_memory"]
    assert after > before + 5 * 1024 * 1024


def test_persistence_section(r):
    info = r.info("persistence")
    assert info["loading"] == 0
    assert info["rdb_bgsave_in_progress"] == 0
    assert info["rdb_last_bgsave_status"] == "ok"
    before = info["rdb_changes_since_last_save"]
    r.set("a", "1")
    r.incr("a")
    assert r.info("persistence")["rdb_changes_since_last_save"] == before + 2
    assert abs(info["rdb_last_save_time"] - time.time()) < 60
    assert info["aof_enabled"] == 0


def test_stats_section(server, r):
    r.config_resetstat()
    r.set("a", "b")
    with pytest.raises(redis.ResponseError):
        r.lpush("a", "x")
    s = r.info("stats")
    assert s["total_commands_processed"] == 3  # RESETSTAT, SET, LPUSH (INFO counts after)
    assert s["total_error_replies"] == 1
    assert s["total_net_input_bytes"] > 0 and s["total_net_output_bytes"] > 0
    c2 = redis.Redis(port=server.port)
    c2.ping()
    c2.close()
    s2 = r.info("stats")
    assert s2["total_connections_received"] == 1
    assert s2["total_net_input_bytes"] > s["total_net_input_bytes"]  # the closed one counts


def test_instantaneous_ops_per_sec(r):
    pipe = r.pipeline(transaction=False)
    deadline = time.time() + 1.0
    while time.time() < deadline:
        for _ in range(200):
            pipe.ping()
        pipe.execute()
    assert r.info("stats")["instantaneous_ops_per_sec"] > 100
    assert r.info("stats")["instantaneous_input_kbps"] > 0


def test_expired_keys_counted(r):
    r.config_resetstat()
    r.set("e", "1", px=1)
    time.sleep(0.01)
    assert r.get("e") is None
    assert r.info("stats")["expired_keys"] == 1


def test_pubsub_counts(server, r):
    p = redis.Redis(port=server.port).pubsub()
    p.subscribe("ch1", "ch2")
    p.psubscribe("pat*")
    deadline = time.time() + 5
    while r.info("stats")["pubsub_channels"] != 2 and time.time() < deadline:
        time.sleep(0.02)
    s = r.info("stats")
    assert s["pubsub_channels"] == 2 and s["pubsub_patterns"] == 1
    p.close()


def test_replication_section(r):
    info = r.info("replication")
    assert info["role"] == "master"
    assert info["connected_slaves"] == 0
    assert re.fullmatch(r"[0-9a-f]{40}", info["master_replid"])
    assert info["master_replid2"] == 0  # 40 zeros, which redis-py reads as a number
    assert info["repl_backlog_size"] == 1048576


def test_cpu_section(r):
    info = r.info("cpu")
    for k in ("used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"):
        assert isinstance(info[k], float)
    assert info["used_cpu_user"] + info["used_cpu_sys"] > 0


def test_commandstats_and_errorstats(r):
    r.config_resetstat()
    r.set("k", "v")
    r.get("k")
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCH")
    with pytest.raises(redis.ResponseError):
        r.lpush("k", "x")
    cs = r.info("commandstats")
    assert cs["cmdstat_get"]["calls"] == 1
    assert cs["cmdstat_get"]["rejected_calls"] == 1
    assert cs["cmdstat_lpush"]["failed_calls"] == 1
    assert cs["cmdstat_set"]["usec_per_call"] >= 0
    es = r.info("errorstats")
    assert es == {"errorstat_ERR": {"count": 2}, "errorstat_WRONGTYPE": {"count": 1}}


def test_keyspace_section(r):
    assert r.info("keyspace") == {}
    r.set("a", "1")
    r.set("b", "2", ex=100)
    r.execute_command("SELECT", "2")
    r.set("c", "3")
    ks = r.info("keyspace")
    assert ks["db0"]["keys"] == 2 and ks["db0"]["expires"] == 1
    assert ks["db2"] == {"keys": 1, "expires": 0, "avg_ttl": 0}


def test_section_selection(r):
    default = raw_info(r)
    assert "# Commandstats" not in default and "# Latencystats" not in default
    assert "# Keyspace" in default and "# Errorstats" in default
    everything = raw_info(r, "everything")
    assert "# Commandstats" in everything and "# Latencystats" in everything
    assert "# Commandstats" in raw_info(r, "all")
    assert raw_info(r, "default", "commandstats").count("# ") == default.count("# ") + 1
    assert raw_info(r, "nosuch") == ""
    two = raw_info(r, "cluster", "server")
    assert two.index("# Server") < two.index("# Cluster")
    assert raw_info(r, "CLUSTER") == "# Cluster\r\ncluster_enabled:0\r\n"


def test_latencystats(r):
    r.config_resetstat()
    r.set("a", "b")
    ls = r.info("latencystats")
    assert set(ls["latency_percentiles_usec_set"]) == {"p50", "p99", "p99.9"}
    r.config_set("latency-tracking-info-percentiles", "50 90")
    assert set(r.info("latencystats")["latency_percentiles_usec_set"]) == {"p50", "p90"}
    r.config_set("latency-tracking", "no")
    assert r.info("latencystats") == {}
    r.config_set("latency-tracking", "yes")
    r.config_set("latency-tracking-info-percentiles", "50 99 99.9")


def test_info_resp3_is_verbatim(server):
    c = redis.Redis(port=server.port, protocol=3)
    assert c.info("cluster") == {"cluster_enabled": 0}
    c.close()
