"""``metrics-port``: Prometheus text on HTTP GET /metrics, with redis_exporter's names
(vermilion/server/metrics.py). A real server, real HTTP requests, the values checked
against INFO."""

import socket
import urllib.error
import urllib.request

import pytest
import redis

from vermilion.embed import start_server
from vermilion.server import metrics
from support import free_port


def parse(text):
    """A small parser of the text format: {name: {"type", "help", "samples": {labels: v}}}
    (labels as a sorted tuple of pairs; summary _sum/_count are samples of their own name)."""
    fams = {}
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        head, _, value = line.rpartition(" ")
        if "{" in head:
            name, _, rest = head.partition("{")
            labels = []
            for part in rest.rstrip("}").split('",'):
                k, _, v = part.partition('="')
                labels.append((k, v.rstrip('"')))
            labels = tuple(sorted(labels))
        else:
            name, labels = head, ()
        fams.setdefault(name, {})[labels] = float(value)
    return fams, types


def get(port, path="/metrics", method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


@pytest.fixture(scope="module")
def srv():
    mport = free_port()
    s = start_server(metrics_port=mport)
    s.metrics_port = mport
    yield s
    s.stop()


def test_metrics_match_info(srv):
    r = redis.Redis(host=srv.host, port=srv.port)
    r.flushall()
    r.config_resetstat()
    r.set("a", "1")
    r.set("b", "2", ex=100)
    r.select(2)
    r.set("c", "3")
    r.select(0)
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCMD")
    with pytest.raises(redis.ResponseError):
        r.incr("a", "x")  # a failed call of a known command
    status, headers, body = get(srv.metrics_port)
    info = r.info("all")
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    m, types = parse(body)
    one = lambda name: m[name][()]
    assert one("redis_up") == 1
    assert one("redis_connected_clients") == info["connected_clients"]
    assert one("redis_memory_max_bytes") == info["maxmemory"]
    assert one("redis_config_maxclients") == 10000
    # INFO does not count itself, as the scrape did not
    assert one("redis_commands_processed_total") == info["total_commands_processed"]
    assert types["redis_commands_processed_total"] == "counter"
    assert one("redis_connections_received_total") == info["total_connections_received"]
    assert one("redis_net_input_bytes_total") <= info["total_net_input_bytes"]
    assert one("redis_rdb_changes_since_last_save") == info["rdb_changes_since_last_save"]
    assert one("redis_rdb_last_save_timestamp_seconds") == info["rdb_last_save_time"]
    assert one("redis_rdb_last_bgsave_status") == 1  # "ok"
    assert one("redis_aof_enabled") == 0
    assert one("redis_master_repl_offset") == info["master_repl_offset"]
    assert one("redis_connected_slaves") == 0
    assert one("redis_expired_keys_total") == info["expired_keys"]
    assert one("redis_evicted_keys_total") == info["evicted_keys"]
    assert one("redis_keyspace_hits_total") == info["keyspace_hits"]
    assert one("redis_keyspace_misses_total") == info["keyspace_misses"]
    assert one("redis_uptime_in_seconds") <= info["uptime_in_seconds"]
    assert m["redis_db_keys"] == {(("db", "db0"),): 2, (("db", "db2"),): 1}
    assert m["redis_db_keys_expiring"] == {(("db", "db0"),): 1, (("db", "db2"),): 0}
    # commandstats
    cmd = (("cmd", "set"),)
    assert m["redis_commands_total"][cmd] == info["cmdstat_set"]["calls"] == 3
    assert m["redis_commands_duration_seconds_total"][cmd] == pytest.approx(
        info["cmdstat_set"]["usec"] / 1e6
    )
    assert m["redis_commands_failed_calls_total"][(("cmd", "incrby"),)] == 1
    assert m["redis_commands_rejected_calls_total"][(("cmd", "incrby"),)] == 0
    assert types["redis_commands_total"] == "counter"
    assert m["redis_errors_total"][(("err", "ERR"),)] == info["errorstat_ERR"]["count"] == 2
    # latencystats as a summary: quantiles 50/99/99.9, _sum in usec, _count = calls
    assert types["redis_latency_percentiles_usec"] == "summary"
    q = m["redis_latency_percentiles_usec"]
    assert {dict(k)["quantile"] for k in q if dict(k)["cmd"] == "set"} == {"50", "99", "99.9"}
    assert m["redis_latency_percentiles_usec_count"][cmd] == 3
    assert m["redis_latency_percentiles_usec_sum"][cmd] == info["cmdstat_set"]["usec"]
    (labels,) = m["redis_instance_info"]
    lab = dict(labels)
    assert lab["role"] == "master" and lab["redis_version"] == "7.0.15"
    assert lab["tcp_port"] == str(srv.port) and lab["run_id"] == info["run_id"]
    assert one("redis_slowlog_length") == r.slowlog_len()


def test_format_is_well_formed(srv):
    _, _, body = get(srv.metrics_port)
    assert body.endswith("\n")
    seen_types = set()
    names = []
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:]
            assert kind in ("gauge", "counter", "summary")
            assert name not in seen_types  # one block per family
            seen_types.add(name)
            names.append(name)
        elif not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            assert name.startswith("redis_")
            base = name
            for suffix in ("_sum", "_count"):
                if name.endswith(suffix) and name[: -len(suffix)] in seen_types:
                    base = name[: -len(suffix)]
            assert base in seen_types, line
    assert names == sorted(names)
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        return  # the optional cross-check with the reference parser
    fams = {f.name: f for f in text_string_to_metric_families(body)}
    assert fams["redis_up"].samples[0].value == 1


def test_other_paths_and_methods(srv):
    status, headers, body = get(srv.metrics_port, "/")
    assert status == 200 and "/metrics" in body
    assert get(srv.metrics_port, "/nope")[0] == 404
    assert get(srv.metrics_port, "/metrics", "POST")[0] == 405
    status, headers, body = get(srv.metrics_port, "/metrics", "HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 1000
    assert get(srv.metrics_port, "/metrics?x=1")[0] == 200
    # garbage and a connection closed before its headers do not hurt the server
    with socket.create_connection(("127.0.0.1", srv.metrics_port)) as s:
        s.sendall(b"hello\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", srv.metrics_port)) as s:
        s.sendall(b"GET /met")
    assert get(srv.metrics_port)[0] == 200


def test_metrics_port_is_a_hidden_immutable_parameter(srv):
    r = redis.Redis(host=srv.host, port=srv.port, decode_responses=True)
    assert "metrics-port" not in r.config_get("*")  # CONFIG GET * lists Redis's only
    assert r.config_get("metrics-port") == {"metrics-port": str(srv.metrics_port)}
    with pytest.raises(redis.ResponseError, match="can't set immutable config"):
        r.config_set("metrics-port", "0")


def test_off_by_default():
    with start_server() as s:
        r = redis.Redis(host=s.host, port=s.port, decode_responses=True)
        assert r.config_get("metrics-port") == {"metrics-port": "0"}


def test_busy_port_stops_the_start():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        with pytest.raises(SystemExit):
            start_server(metrics_port=busy.getsockname()[1])
    finally:
        busy.close()


def test_protected_mode_refuses_remote_scrapes():
    class Cfg:
        values = {"protected-mode": "yes"}

    class Stub:
        config = Cfg()
        acl = None
        requirepass = None

    head = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    assert metrics.handle_request(Stub(), head, ("10.1.2.3", 5555)).startswith(
        b"HTTP/1.1 403 Forbidden"
    )
    Stub.requirepass = "secret"  # a password lifts protected mode, as for Redis clients
    Cfg.values = {"protected-mode": "yes"}
    resp = metrics.handle_request(Stub(), b"GET /nope HTTP/1.1\r\n\r\n", ("10.1.2.3", 5555))
    assert resp.startswith(b"HTTP/1.1 404")


@pytest.mark.parametrize(
    "value, text",
    [
        (0, "0"),
        (1, "1"),
        (-1, "-1"),
        (12, "12"),
        (123456, "123456"),
        (1000000, "1e+06"),
        (1063376, "1.063376e+06"),
        (1796609478, "1.796609478e+09"),
        (0.001, "0.001"),
        (0.0001, "0.0001"),
        (1.5e-05, "1.5e-05"),
        (99.9, "99.9"),
        (0.545302, "0.545302"),
        (2.5, "2.5"),
        (float("inf"), "+Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_numbers_are_written_as_go_writes_them(value, text):
    assert metrics.go_float(value) == text


def test_replication_fields_as_redis_exporter_labels_them():
    """The Replication section of a master with a replica and of a replica, as
    redis-server 7.0 writes them."""
    master = (
        "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
        "slave0:ip=127.0.0.1,port=6380,state=online,offset=1234,lag=1\r\n"
        "master_replid:abc\r\nmaster_repl_offset:1234\r\n"
    )
    out = metrics.Exposition()
    metrics.extract_info(out, master)
    m, types = parse(out.render())
    labels = (("slave_ip", "127.0.0.1"), ("slave_port", "6380"), ("slave_state", "online"))
    assert m["redis_connected_slave_offset_bytes"] == {labels: 1234}
    assert m["redis_connected_slave_lag_seconds"] == {labels: 1}
    assert m["redis_connected_slaves"][()] == 1 and m["redis_master_repl_offset"][()] == 1234
    replica = (
        "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.5\r\nmaster_port:6379\r\n"
        "master_link_status:up\r\nmaster_last_io_seconds_ago:2\r\n"
        "master_sync_in_progress:0\r\nslave_read_repl_offset:99\r\nslave_repl_offset:99\r\n"
        "slave_priority:100\r\nslave_read_only:1\r\n"
    )
    out = metrics.Exposition()
    metrics.extract_info(out, replica)
    m, types = parse(out.render())
    at = (("master_host", "10.0.0.5"), ("master_port", "6379"))
    assert m["redis_master_link_up"] == {at: 1}
    assert m["redis_master_last_io_seconds_ago"] == {at: 2}
    assert m["redis_slave_repl_offset"] == {at: 99}
    assert m["redis_slave_info"] == {at + (("read_only", "1"),): 1}
    assert m["redis_slave_priority"][()] == 100
