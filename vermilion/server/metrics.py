"""Prometheus metrics on HTTP ``GET /metrics`` (``metrics-port``, a Vermilion-only option).

``vermilion --metrics-port 9121`` serves the Prometheus text exposition format
(version 0.0.4) from the server's own event loop: one ``asyncio`` listener, no
thread, and each scrape reads the server's state between two batches of commands,
so the numbers are those INFO would answer at that moment.

**Names.** The metrics are the ones oliver006/redis_exporter derives from
``INFO ALL`` (its ``exporter/info.go`` and ``metrics.go``), with the same names,
types and labels, so dashboards and alerts written for a redis-server scraped by
redis_exporter work unchanged against Vermilion scraped directly:

* the INFO fields of the exporter's gauge and counter maps
  (``connected_clients`` -> ``redis_connected_clients``, ``used_memory`` ->
  ``redis_memory_used_bytes``, ``maxmemory`` -> ``redis_memory_max_bytes``,
  ``total_commands_processed`` -> ``redis_commands_processed_total`` (counter),
  ``keyspace_hits`` -> ``redis_keyspace_hits_total``, ``rdb_last_save_time`` ->
  ``redis_rdb_last_save_timestamp_seconds``, ...); ``ok``/``true`` count as 1 and
  ``err``/``fail``/``false`` as 0, as the exporter reads them;
* ``redis_commands_total{cmd}``, ``redis_commands_duration_seconds_total{cmd}``,
  ``redis_commands_rejected_calls_total{cmd}``, ``redis_commands_failed_calls_total{cmd}``
  (INFO commandstats), ``redis_errors_total{err}`` (errorstats),
  ``redis_latency_percentiles_usec{cmd,quantile}`` (a summary from latencystats,
  its ``_sum`` in microseconds and ``_count`` from commandstats),
  ``redis_db_keys{db}``, ``redis_db_keys_expiring{db}``, ``redis_db_avg_ttl_seconds{db}``
  (keyspace, ``db="db0"``), ``redis_connected_slave_offset_bytes`` /
  ``redis_connected_slave_lag_seconds{slave_ip,slave_port,slave_state}``,
  ``redis_master_link_up{master_host,master_port}`` and the replica's
  ``redis_slave_repl_offset``, ``redis_instance_info{role,redis_version,...}``,
  ``redis_start_time_seconds``;
* from outside INFO, as the exporter gets them: ``redis_up`` (always 1: the server
  answers), ``redis_config_maxmemory``, ``redis_config_maxclients``,
  ``redis_slowlog_length``, ``redis_slowlog_last_id``,
  ``redis_last_slow_execution_duration_seconds``,
  ``redis_latency_spike_last{event_name}``,
  ``redis_latency_spike_duration_seconds{event_name}``.

Not served: the exporter's own ``redis_exporter_*`` series (there is no exporter
process), its key/stream/Lua-script probes (they need options naming keys), and
the ``redis_latency_usec`` histogram it builds from LATENCY HISTOGRAM.

**Format by hand, no prometheus_client.** The text format is a few lines per
family (``# HELP``, ``# TYPE``, ``name{label="value"} number``); the values are
INFO's, recomputed per scrape, which is what ``prometheus_client``'s custom
collectors would do too, with its registry, threads-safe metric objects and HTTP
server thread unused. So the 100 lines below cost less than a dependency. Numbers
are written as Go's client writes them (``1.063376e+06``, ``0.001``), families
sorted by name, labels by label name, so the output reads like redis_exporter's.

**Access.** The listener binds the addresses of ``bind``, like the Redis port.
While protected mode applies (``protected-mode yes`` and no password for the
default user) a request from an address other than 127.0.0.1/::1 gets ``403``,
as a Redis client from there gets ``-DENIED``. A request that has not sent its
headers within 10 s is dropped; every response closes the connection.
"""

import asyncio
import re
import socket
import time
from decimal import Decimal

from ..commands.server_cmds import info_string
from .netio import is_local_peer, protected_mode_applies

NAMESPACE = "redis"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HEADER_TIMEOUT = 10.0
MAX_HEADER = 16384

# redis_exporter's metricMapGauges / metricMapCounters (the Redis fields of them):
# INFO field -> metric name (without the namespace)
GAUGES = {
    "uptime_in_seconds": "uptime_in_seconds",
    "process_id": "process_id",
    "connected_clients": "connected_clients",
    "blocked_clients": "blocked_clients",
    "tracking_clients": "tracking_clients",
    "client_recent_max_output_buffer": "client_recent_max_output_buffer_bytes",
    "client_recent_max_input_buffer": "client_recent_max_input_buffer_bytes",
    "allocator_active": "allocator_active_bytes",
    "allocator_allocated": "allocator_allocated_bytes",
    "allocator_resident": "allocator_resident_bytes",
    "allocator_frag_ratio": "allocator_frag_ratio",
    "allocator_frag_bytes": "allocator_frag_bytes",
    "allocator_rss_ratio": "allocator_rss_ratio",
    "allocator_rss_bytes": "allocator_rss_bytes",
    "used_memory": "memory_used_bytes",
    "used_memory_rss": "memory_used_rss_bytes",
    "used_memory_peak": "memory_used_peak_bytes",
    "used_memory_lua": "memory_used_lua_bytes",
    "used_memory_overhead": "memory_used_overhead_bytes",
    "used_memory_startup": "memory_used_startup_bytes",
    "used_memory_dataset": "memory_used_dataset_bytes",
    "used_memory_scripts": "memory_used_scripts_bytes",
    "maxmemory": "memory_max_bytes",
    "mem_fragmentation_ratio": "mem_fragmentation_ratio",
    "mem_fragmentation_bytes": "mem_fragmentation_bytes",
    "mem_clients_slaves": "mem_clients_slaves",
    "mem_clients_normal": "mem_clients_normal",
    "expired_stale_perc": "expired_stale_percentage",
    "mem_not_counted_for_evict": "mem_not_counted_for_eviction_bytes",
    "lazyfree_pending_objects": "lazyfree_pending_objects",
    "active_defrag_running": "active_defrag_running",
    "migrate_cached_sockets": "migrate_cached_sockets_total",
    "active_defrag_hits": "defrag_hits",
    "active_defrag_misses": "defrag_misses",
    "active_defrag_key_hits": "defrag_key_hits",
    "active_defrag_key_misses": "defrag_key_misses",
    "expired_time_cap_reached_count": "expired_time_cap_reached_total",
    "loading": "loading_dump_file",
    "rdb_changes_since_last_save": "rdb_changes_since_last_save",
    "rdb_bgsave_in_progress": "rdb_bgsave_in_progress",
    "rdb_last_save_time": "rdb_last_save_timestamp_seconds",
    "rdb_last_bgsave_status": "rdb_last_bgsave_status",
    "rdb_last_bgsave_time_sec": "rdb_last_bgsave_duration_sec",
    "rdb_current_bgsave_time_sec": "rdb_current_bgsave_duration_sec",
    "rdb_last_cow_size": "rdb_last_cow_size_bytes",
    "aof_enabled": "aof_enabled",
    "aof_rewrite_in_progress": "aof_rewrite_in_progress",
    "aof_rewrite_scheduled": "aof_rewrite_scheduled",
    "aof_last_rewrite_time_sec": "aof_last_rewrite_duration_sec",
    "aof_current_rewrite_time_sec": "aof_current_rewrite_duration_sec",
    "aof_last_cow_size": "aof_last_cow_size_bytes",
    "aof_current_size": "aof_current_size_bytes",
    "aof_base_size": "aof_base_size_bytes",
    "aof_pending_rewrite": "aof_pending_rewrite",
    "aof_buffer_length": "aof_buffer_length",
    "aof_rewrite_buffer_length": "aof_rewrite_buffer_length",
    "aof_pending_bio_fsync": "aof_pending_bio_fsync",
    "aof_delayed_fsync": "aof_delayed_fsync",
    "aof_last_bgrewrite_status": "aof_last_bgrewrite_status",
    "aof_last_write_status": "aof_last_write_status",
    "module_fork_in_progress": "module_fork_in_progress",
    "module_fork_last_cow_size": "module_fork_last_cow_size",
    "pubsub_channels": "pubsub_channels",
    "pubsub_patterns": "pubsub_patterns",
    "latest_fork_usec": "latest_fork_usec",
    "connected_slaves": "connected_slaves",
    "repl_backlog_size": "replication_backlog_bytes",
    "repl_backlog_active": "repl_backlog_is_active",
    "repl_backlog_first_byte_offset": "repl_backlog_first_byte_offset",
    "repl_backlog_histlen": "repl_backlog_history_bytes",
    "master_repl_offset": "master_repl_offset",
    "second_repl_offset": "second_repl_offset",
    "slave_expires_tracked_keys": "slave_expires_tracked_keys",
    "slave_priority": "slave_priority",
    "sync_full": "replica_resyncs_full",
    "sync_partial_ok": "replica_partial_resync_accepted",
    "sync_partial_err": "replica_partial_resync_denied",
    "cluster_stats_messages_sent": "cluster_messages_sent_total",
    "cluster_stats_messages_received": "cluster_messages_received_total",
}
COUNTERS = {
    "total_connections_received": "connections_received_total",
    "total_commands_processed": "commands_processed_total",
    "rejected_connections": "rejected_connections_total",
    "total_net_input_bytes": "net_input_bytes_total",
    "total_net_output_bytes": "net_output_bytes_total",
    "expired_keys": "expired_keys_total",
    "evicted_keys": "evicted_keys_total",
    "keyspace_hits": "keyspace_hits_total",
    "keyspace_misses": "keyspace_misses_total",
    "used_cpu_sys": "cpu_sys_seconds_total",
    "used_cpu_user": "cpu_user_seconds_total",
    "used_cpu_sys_children": "cpu_sys_children_seconds_total",
    "used_cpu_user_children": "cpu_user_children_seconds_total",
}
HELP = {
    "up": "Information about the Redis instance",
    "commands_total": "Total number of calls per command",
    "commands_duration_seconds_total": "Total amount of time in seconds spent per command",
    "db_keys": "Total number of keys by DB",
    "db_keys_expiring": "Total number of expiring keys by DB",
    "db_avg_ttl_seconds": "Avg TTL in seconds",
    "instance_info": "Information about the Redis instance",
    "start_time_seconds": "Start time of the Redis instance since unix epoch in seconds.",
    "connected_slave_offset_bytes": "Offset of connected slave",
    "connected_slave_lag_seconds": "Lag of connected slave",
    "master_link_up": "Master link status on Redis slave",
    "master_sync_in_progress": "Master sync in progress",
    "master_last_io_seconds_ago": "Master last io seconds ago",
    "slave_repl_offset": "Slave replication offset",
    "slave_info": "Information about the Redis slave",
    "slowlog_length": "Total slowlog",
    "slowlog_last_id": "Last id of slowlog",
    "last_slow_execution_duration_seconds": (
        "The amount of time needed for last slow execution, in seconds"
    ),
    "latency_spike_last": "When the latency spike last occurred",
    "latency_spike_duration_seconds": "Length of the last latency spike in seconds",
}


# ------------------------------------------------------------------ the format
def go_float(v):
    """A number as Go's strconv.FormatFloat(v, 'g', -1, 64) writes it (the
    Prometheus Go client's text format): shortest digits, exponent from 1e6."""
    f = float(v)
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    t = Decimal(repr(abs(f))).normalize().as_tuple()
    digits = "".join(map(str, t.digits))
    nd = len(digits)
    dp = nd + int(t.exponent)  # where the decimal point falls in the digits
    exp = dp - 1
    if exp < -4 or exp >= 6:
        s = digits[0] + ("." + digits[1:] if nd > 1 else "")
        s += "e%s%02d" % ("-" if exp < 0 else "+", abs(exp))
    elif dp <= 0:
        s = "0." + "0" * -dp + digits
    elif dp >= nd:
        s = digits + "0" * (dp - nd)
    else:
        s = digits[:dp] + "." + digits[dp:]
    return "-" + s if f < 0 else s


def _label_value(v):
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Exposition:
    """Metric families being collected, rendered in the text format."""

    def __init__(self):
        self.families = {}  # name -> [type, help, [(labels tuple, suffix, value)]]

    def add(self, name, value, kind="gauge", labels=None, suffix=""):
        fam = self.families.get(name)
        if fam is None:
            fam = self.families[name] = [kind, HELP.get(name, name + " metric"), []]
        items = tuple(sorted((labels or {}).items()))
        fam[2].append((items, suffix, value))

    def gauge(self, name, value, **labels):
        self.add(name, value, "gauge", labels)

    def counter(self, name, value, **labels):
        self.add(name, value, "counter", labels)

    def summary(self, name, count, total, quantiles, **labels):
        for q, v in quantiles.items():
            self.add(name, v, "summary", dict(labels, quantile=go_float(q)), "")
        self.add(name, total, "summary", labels, "_sum")
        self.add(name, count, "summary", labels, "_count")

    def render(self):
        out = []
        for name in sorted(self.families):
            kind, help_text, samples = self.families[name]
            full = "%s_%s" % (NAMESPACE, name)
            out.append("# HELP %s %s" % (full, help_text.replace("\\", "\\\\")))
            out.append("# TYPE %s %s" % (full, kind))
            order = {"": 0, "_sum": 1, "_count": 2}

            def key(s):
                labels = [v for k, v in s[0] if k != "quantile"]
                q = [float(v) for k, v in s[0] if k == "quantile"]
                return (labels, order[s[1]], q)

            for items, suffix, value in sorted(samples, key=key):
                lbl = ",".join('%s="%s"' % (k, _label_value(v)) for k, v in items)
                out.append(
                    "%s%s%s %s" % (full, suffix, "{%s}" % lbl if lbl else "", go_float(value))
                )
        return "\n".join(out) + "\n"


# ----------------------------------------------------------------- collection
_MASTER_HOST = re.compile(r"^master(_[0-9]+)?_host")
_MASTER_PORT = re.compile(r"^master(_[0-9]+)?_port")


def _number(s):
    """parseAndRegisterConstMetric's reading of an INFO value (None: skipped)."""
    if s in ("ok", "true"):
        return 1.0
    if s in ("err", "fail", "false"):
        return 0.0
    try:
        return float(s)
    except ValueError:
        return None


def _pairs(value):
    out = {}
    for part in value.split(","):
        k, sep, v = part.partition("=")
        if not sep:
            return None
        out[k] = v
    return out


def _sanitize(name):
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" for ch in name)


def extract_info(out, info):
    """redis_exporter's extractInfoMetrics over INFO ALL text."""
    section = ""
    kv = {}
    master_host = master_port = ""
    cmd_count = {}
    cmd_sum = {}
    latencies = {}
    for line in info.split("\n"):
        line = line.strip()
        if line.startswith("# "):
            section = line[2:]
            continue
        if len(line) < 2 or ":" not in line:
            continue
        key, _, value = line.partition(":")
        kv[key] = value
        if _MASTER_HOST.match(key):
            master_host = value
        if _MASTER_PORT.match(key):
            master_port = value
        if section == "Replication":
            if key == "master_link_status":
                out.gauge(
                    "master_link_up",
                    1 if value == "up" else 0,
                    master_host=master_host,
                    master_port=master_port,
                )
                continue
            if key in (
                "master_last_io_seconds_ago",
                "master_sync_in_progress",
                "slave_repl_offset",
            ):
                try:
                    n = int(value)
                except ValueError:
                    n = 0
                out.gauge(key, n, master_host=master_host, master_port=master_port)
                continue
            if key.startswith("slave") and key[5:].isdigit():
                p = _pairs(value)
                if p is not None and _number(p.get("offset", "")) is not None:
                    labels = dict(
                        slave_ip=p.get("ip", ""),
                        slave_port=p.get("port", ""),
                        slave_state=p.get("state", ""),
                    )
                    out.gauge("connected_slave_offset_bytes", float(p["offset"]), **labels)
                    lag = _number(p.get("lag", "-1"))
                    if lag is not None and lag > -1:
                        out.gauge("connected_slave_lag_seconds", lag, **labels)
                    continue
        elif section == "Server":
            if key == "uptime_in_seconds":
                n = _number(value)
                if n is not None:
                    out.gauge("start_time_seconds", int(time.time()) - n)
            elif key in ("configured_hz", "hz"):
                n = _number(value)
                if n is not None:
                    out.gauge(key, n)
        elif section == "Commandstats":
            p = _pairs(value)
            if key.startswith("cmdstat_") and p is not None:
                cmd = key[len("cmdstat_") :]
                calls = _number(p.get("calls", ""))
                usec = _number(p.get("usec", ""))
                if calls is None or usec is None:
                    continue
                out.counter("commands_total", calls, cmd=cmd)
                out.counter("commands_duration_seconds_total", usec / 1e6, cmd=cmd)
                rejected = _number(p.get("rejected_calls", ""))
                failed = _number(p.get("failed_calls", ""))
                if rejected is not None and failed is not None:
                    out.counter("commands_rejected_calls_total", rejected, cmd=cmd)
                    out.counter("commands_failed_calls_total", failed, cmd=cmd)
                cmd_count[cmd] = int(calls)
                cmd_sum[cmd] = usec
            continue
        elif section == "Latencystats":
            prefix = "latency_percentiles_usec_"
            p = _pairs(value)
            if key.startswith(prefix) and p is not None:
                try:
                    latencies[key[len(prefix) :]] = {float(k[1:]): float(v) for k, v in p.items()}
                except ValueError:
                    pass
            continue
        elif section == "Errorstats":
            p = _pairs(value)
            if key.startswith("errorstat_") and p is not None:
                n = _number(p.get("count", ""))
                if n is not None:
                    out.counter("errors_total", n, err=key[len("errorstat_") :])
            continue
        elif section == "Keyspace":
            p = _pairs(value)
            if key.startswith("db") and p is not None and "keys" in p and "expires" in p:
                try:
                    out.gauge("db_keys", float(p["keys"]), db=key)
                    out.gauge("db_keys_expiring", float(p["expires"]), db=key)
                    if "avg_ttl" in p:
                        out.gauge("db_avg_ttl_seconds", float(p["avg_ttl"]) / 1000, db=key)
                except ValueError:
                    pass
                continue
        # the fields of the two maps, cluster_* and anything else named db*
        if not (key in GAUGES or key in COUNTERS or key.startswith(("db", "cluster_"))):
            continue
        n = _number(value)
        if n is None:
            continue
        name = _sanitize(key)
        if name in COUNTERS:
            out.add(COUNTERS[name], n, "counter")
            continue
        name = GAUGES.get(name, name)
        if name == "latest_fork_usec":
            name, n = "latest_fork_seconds", n / 1e6
        out.gauge(name, n)
    for cmd, quantiles in latencies.items():
        if cmd in cmd_count:
            out.summary(
                "latency_percentiles_usec", cmd_count[cmd], cmd_sum[cmd], quantiles, cmd=cmd
            )
    out.gauge(
        "instance_info",
        1,
        role=kv.get("role", ""),
        redis_version=kv.get("redis_version", ""),
        redis_build_id=kv.get("redis_build_id", ""),
        redis_mode=kv.get("redis_mode", ""),
        os=kv.get("os", ""),
        maxmemory_policy=kv.get("maxmemory_policy", ""),
        tcp_port=kv.get("tcp_port", ""),
        run_id=kv.get("run_id", ""),
        process_id=kv.get("process_id", ""),
        master_replid=kv.get("master_replid", ""),
    )
    if kv.get("role") == "slave":
        out.gauge(
            "slave_info",
            1,
            master_host=kv.get("master_host", ""),
            master_port=kv.get("master_port", ""),
            read_only=kv.get("slave_read_only", ""),
        )


def collect(server):
    """The whole exposition text of one scrape."""
    out = Exposition()
    out.gauge("up", 1)
    cfg = server.config
    out.gauge("config_maxmemory", cfg.get_number("maxmemory"))
    out.gauge("config_maxclients", cfg.get_number("maxclients"))
    extract_info(out, info_string(server, (), all_sections=True))
    # extractSlowLogMetrics
    out.gauge("slowlog_length", len(server.slowlog))
    last = server.slowlog[0] if server.slowlog else None
    out.gauge("slowlog_last_id", last[0] if last else 0)
    out.gauge("last_slow_execution_duration_seconds", last[2] / 1e6 if last else 0)
    # extractLatencyLatestMetrics: LATENCY LATEST's last sample of each event
    lat = server.latency
    if lat is not None:
        for event in sorted(lat.events):
            samples = lat.ordered(event)
            if samples:
                when, ms = samples[-1]
                out.gauge("latency_spike_last", when, event_name=event)
                out.gauge("latency_spike_duration_seconds", ms / 1e3, event_name=event)
    return out.render()


# ------------------------------------------------------------------ the server
_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
}
INDEX = (
    b"<html><head><title>Vermilion metrics</title></head><body>"
    b'<h1>Vermilion metrics</h1><p><a href="/metrics">Metrics</a></p></body></html>\n'
)


def _response(status, body, ctype="text/plain; charset=utf-8", head=False):
    lines = [
        "HTTP/1.1 %d %s" % (status, _REASONS[status]),
        "Content-Type: %s" % ctype,
        "Content-Length: %d" % len(body),
        "Connection: close",
    ]
    if status == 405:
        lines.append("Allow: GET, HEAD")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head else body)


def handle_request(server, head, peer):
    """The response bytes to one request head (the bytes up to the blank line)."""
    request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request_line.split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return _response(400, b"Bad Request\n")
    method, target = parts[0], parts[1]
    if protected_mode_applies(server) and not is_local_peer(peer):
        return _response(403, b"Forbidden: protected mode is on (see protected-mode)\n")
    if method not in ("GET", "HEAD"):
        return _response(405, b"Method Not Allowed\n")
    head_only = method == "HEAD"
    path = target.split("?", 1)[0]
    if path == "/metrics":
        return _response(200, collect(server).encode(), CONTENT_TYPE, head_only)
    if path == "/":
        return _response(200, INDEX, "text/html; charset=utf-8", head_only)
    return _response(404, b"Not Found\n", head=head_only)


class MetricsListener:
    """The HTTP listener(s) on ``metrics-port``, closed with the server."""

    def __init__(self, server):
        self.server = server
        self.servers = []

    async def listen(self, port, binds):
        for addr in binds or ["*"]:
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            host = {"*": "0.0.0.0", "::*": "::"}.get(host, host)
            try:
                srv = await asyncio.start_server(
                    self._serve,
                    host=host,
                    port=port,
                    reuse_address=True,
                    family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                    limit=MAX_HEADER,
                )
            except OSError as e:
                if optional or (e.errno in (97, 99) and ":" in host):
                    continue  # no IPv6 here, like the Redis port's "-::*"
                self.close()
                raise
            self.servers.append(srv)
        return self

    async def _serve(self, reader, writer):
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEADER_TIMEOUT)
            except (
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                asyncio.TimeoutError,
                ConnectionError,
            ):
                return
            try:
                data = handle_request(self.server, head, writer.get_extra_info("peername"))
            except Exception:
                self.server.log_exception("metrics request")
                data = _response(400, b"Bad Request\n")
            writer.write(data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def close(self, *args):
        for srv in self.servers:
            srv.close()
        self.servers = []


async def start(server, port, binds):
    """Open ``metrics-port`` (called by Server.start when it is not 0)."""
    listener = MetricsListener(server)
    await listener.listen(port, binds)
    server.hooks_on_shutdown.append(listener.close)
    server.log_notice("Metrics (Prometheus text) on http://*:%d/metrics." % port)
    return listener
