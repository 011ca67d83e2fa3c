"""Server commands: CONFIG, INFO, COMMAND, TIME, SHUTDOWN, ROLE, REPLICAOF, FAILOVER,
LOLWUT, MODULE, and minimal FUNCTION FLUSH/LIST answers for clients that probe them
(bound only while no scripting module provides FUNCTION).

INFO reads the server's state where its owners keep it, so every feature only
has to keep its own counters:

* attributes of :class:`~vermilion.server.server.Server` (``stats_*``,
  ``blocked_clients``, ``dirty``, ``lastsave``, ``lazyfree_pending`` ...);
* ``server.snapshot.info_lines()`` (persistence/snapshot.py) for the Persistence
  section, with Redis's idle values when there is no persistence;
* ``server.pubsub.channels / patterns / shard``, ``server.tracking.clients /
  table / prefixes``;
* ``server.cmdstats`` through :func:`~vermilion.core.dispatch.stats_rows`, and
  ``server.errorstats``.

What only INFO needs (instantaneous ops/sec and kbps sampled by a cron hook
every 100 ms like serverCron, network byte totals, peak memory) lives in
:class:`~vermilion.server.stats.ServerStats`, attached as ``server.info_stats``.
The process-level parameters CONFIG SET changes (``pidfile``, ``maxclients``'s
file-descriptor limit, ``port`` and ``bind``) are applied by
:mod:`vermilion.server.process`.
"""

import os
import resource
import sys
import time

from ..version import REDIS_VERSION, __version__
from ..errors import CommandError, SYNTAX
from ..protocol.encoder import OK, Map, Set, Status, Verbatim, Raw, NO_REPLY, encode
from ..core.bootstrap import on_server_init
from ..core.config import ConfigError
from ..util import parse_int
from ..core import table
from ..core.table import command, COMMANDS
from ..core.dispatch import stats_rows
from ..core.keyspecs import KEY_FLAG_ORDER, keys_with_flags, has_keys
from ..globmatch import match
from ..core.config import LOOKUP, HIDDEN
from ..core.config import SENSITIVE
import zlib
from .replication import info_lines
from ..server import process  # noqa: F401  (pidfile, maxclients' rlimit, port/bind: its hook)
from ..server.stats import rss, total_commands, keyspace_counts
from ..server import latency as _latency  # noqa: F401  (server.latency: its init hook)
from . import modules as _modules  # MODULE, loadmodule, INFO modules (Python modules)


def help_reply(argv0, lines):
    """addReplyHelp: the header, the lines, and the HELP footer, as status replies."""
    name = argv0.decode("utf-8", "replace").upper()
    out = [Status("%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % name)]
    out.extend(Status(x) for x in lines)
    out.append(Status("HELP"))
    out.append(Status("    Prints this help."))
    return out


def stringmatch(pattern, s, nocase=True):
    return match(pattern, s, nocase)


def _s(b):
    return b.decode("utf-8", "surrogateescape")


def _b(s):
    return s.encode("utf-8", "surrogateescape")


# ------------------------------------------------------------------ server setup
@on_server_init
def _init(server):
    def users():
        """CONFIG REWRITE's "user" lines: ACL LIST without the leading "user "."""
        acl = server.acl
        if acl is None:
            return ["default on nopass ~* &* +@all"]
        return [line.decode("utf-8", "surrogateescape")[5:] for line in acl.list_lines()]

    server.config.rewrite_users = users


# ======================================================================== CONFIG
_CONFIG_HELP = [
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
]


@command("config|help")
def config_help(c, argv):
    return help_reply(argv[0], _CONFIG_HELP)


@command("config|get")
def config_get(c, argv):
    cfg = c.server.config
    matches = {}  # lower-case name -> (name as replied, primary name)
    for arg in argv[2:]:
        name = _s(arg)
        if not any(ch in name for ch in "[*?"):
            low = name.lower()
            if low in matches:
                continue
            p = LOOKUP.get(low)
            if p is not None:
                matches[low] = (name, p.name)
            continue
        for n, p in LOOKUP.items():
            if p.flags & HIDDEN or n in matches:
                continue
            if stringmatch(arg, n.encode()):
                matches[n] = (n, p.name)
    out = Map()
    values = cfg.values
    for shown, primary in matches.values():
        out.append(_b(shown))
        out.append(_b(values[primary]))
    return out


@command("config|set")
def config_set(c, argv):
    if len(argv) % 2:
        raise CommandError(SYNTAX)
    pairs = [(_s(argv[i]), _s(argv[i + 1])) for i in range(2, len(argv), 2)]
    # Redact sensitive values from the slowlog / MONITOR (redactClientCommandArgument).
    for i in range(2, len(argv), 2):
        p = LOOKUP.get(_s(argv[i]).lower())
        if p is not None and p.flags & SENSITIVE:
            argv[i + 1] = b"(redacted)"
    server = c.server
    server.config.loading = bool(server.loading)  # DENY_LOADING parameters
    try:
        server.config.set_many(pairs, protected_ok=_protected_ok(c))
    except ConfigError as e:
        msg = e.msg
        if not msg.startswith("LOADING"):
            msg = "ERR " + msg
        raise CommandError(msg)
    return OK


def _protected_ok(c):
    v = c.server.config.get("enable-protected-configs")
    if v == "yes":
        return True
    if v == "local":
        return (
            c.is_unix
            or c.addr.startswith("127.")
            or c.addr.startswith("::1")
            or c.addr.startswith("[::1]")
        )
    return False


@command("config|resetstat")
def config_resetstat(c, argv):
    reset_stats(c.server)
    return OK


def reset_stats(server):
    """resetServerStats + resetCommandTableStats + resetErrorTableStats."""
    for st in server.cmdstats:
        st.reset()
    server.errorstats.clear()
    for name in (
        "stats_expired_keys",
        "stats_evicted_keys",
        "stats_connections",
        "stats_rejected_conn",
        "stats_keyspace_hits",
        "stats_keyspace_misses",
        "stats_get_misses",
        "stats_total_error_replies",
        "stats_unexpected_error_replies",
        "lazyfreed_objects",
        "rdb_saves",
        "stat_total_forks",
        "stat_fork_time",
        "stats_evicted_clients",
        "stats_expired_time_cap_reached_count",
        "stats_expire_cycle_time_used_ms",
        "stats_dump_payload_sanitizations",
    ):
        setattr(server, name, 0)
    server.stats_expired_stale_perc = 0.0
    server.latency.reset_histograms()
    server.info_stats.reset()
    for fn in server.resetstat_hooks:
        fn()


@command("config|rewrite")
def config_rewrite(c, argv):
    server = c.server
    cfg = server.config
    if not cfg.config_file:
        raise CommandError("ERR The server is running without a config file")
    try:
        cfg.rewrite()
    except OSError as e:
        server.log_warning("CONFIG REWRITE failed: %s" % e.strerror)
        raise CommandError("ERR Rewriting config file: %s" % e.strerror)
    server.log_warning("CONFIG REWRITE executed with success.")
    return OK


# ========================================================================= INFO
DEFAULT_SECTIONS = (
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
)


@command("info")
def info(c, argv):
    sections = set()
    all_sections = False
    if len(argv) == 1:
        sections.update(DEFAULT_SECTIONS)
    for a in argv[1:]:
        s = _s(a).lower()
        if s == "default":
            sections.update(DEFAULT_SECTIONS)
        elif s == "all":
            all_sections = True
        elif s == "everything":  # all, plus the modules' sections (none here)
            all_sections = True
        else:
            sections.add(s)
    text = info_string(c.server, sections, all_sections)
    return Verbatim(_b(text))


def info_string(server, sections, all_sections=False):
    """genRedisInfoString: the sections asked for, in Redis's order."""
    out = []
    for name, fn in _SECTIONS:
        if all_sections or name in sections or (name == "modules" and "module_list" in sections):
            if out:
                out.append("")
            out.extend(fn(server))
    return "".join(line + "\r\n" for line in out)


def bytes_to_human(n):
    """bytesToHuman: 100B, 1.50K, 2.00M ..."""
    if n < 1024:
        return "%dB" % n
    for unit, power in (("K", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5)):
        if n < 1024 ** (power + 1):
            return "%.2f%s" % (n / 1024**power, unit)
    return "%dB" % n


def _safe(name):
    for ch in "#:\n\r":
        name = name.replace(ch, "_")
    return name


_UNAME = None


def _info_server(server):
    global _UNAME
    if _UNAME is None:
        import platform  # start-up cost (1.4 ms): only INFO's os line needs it

        u = platform.uname()
        _UNAME = "%s %s %s" % (u.system, u.release, u.machine)
    cfg = server.config
    now = server.clock.time()  # the data's clock (a test may move it)
    uptime = int(time.time() - server.start_time)
    mplex = {"linux": "epoll", "darwin": "kqueue"}.get(
        sys.platform[:6].rstrip("0123456789"), "select"
    )
    return (
        [
            "# Server",
            "redis_version:%s" % REDIS_VERSION,
            "redis_git_sha1:00000000",
            "redis_git_dirty:0",
            "redis_build_id:%s" % _build_id(),
            "redis_mode:%s" % ("cluster" if server.cluster is not None else "standalone"),
            "os:%s" % _UNAME,
            "arch_bits:%d" % (64 if sys.maxsize > 2**32 else 32),
            "monotonic_clock:POSIX clock_gettime",
            "multiplexing_api:%s" % mplex,
            "atomicvar_api:c11-builtin",
            "gcc_version:0.0.0",
            "process_id:%d" % os.getpid(),
            "process_supervised:no",
            "run_id:%s" % server.run_id,
            "tcp_port:%d" % server.port,
            "server_time_usec:%d" % int(now * 1000000),
            "uptime_in_seconds:%d" % uptime,
            "uptime_in_days:%d" % (uptime // 86400),
            "hz:%d" % server.hz,
            "configured_hz:%s" % cfg.get("hz"),
            "lru_clock:%d" % (int(now) & 0xFFFFFF),
            "executable:%s" % os.path.abspath(sys.argv[0] if cfg.process_owner else sys.executable),
            "config_file:%s" % (cfg.config_file or ""),
            "io_threads_active:0",
        ]
        + (
            [
                # while SHUTDOWN waits for lagging replicas (shutdown-timeout)
                "shutdown_in_milliseconds:%d"
                % int((server.shutdown_deadline - time.monotonic()) * 1000),
            ]
            if server.shutdown_deadline
            else []
        )
        + [
            "vermilion_version:%s" % __version__,
        ]
    )


def _build_id():
    return "%016x" % (zlib.crc32(_b(__version__)) << 32 | zlib.crc32(_b(sys.version)))


def _info_clients(server):
    clients = server.clients.values()
    max_in = max_out = 0
    for c in clients:
        try:
            n = c.reader.pending()
        except Exception:
            n = 0
        if n > max_in:
            max_in = n
        if c.out:
            n = sum(len(b) for b in c.out)
            if n > max_out:
                max_out = n
    tracking = server.tracking
    return [
        "# Clients",
        # replicas are not counted (listLength(server.clients) - listLength(server.slaves))
        "connected_clients:%d"
        % (len(server.clients) - (len(server.repl.replicas) if server.repl is not None else 0)),
        "cluster_connections:%d"
        % ((len(server.cluster.nodes) - 1) * 2 if server.cluster is not None else 0),
        "maxclients:%d" % server.maxclients,
        "client_recent_max_input_buffer:%d" % max_in,
        "client_recent_max_output_buffer:%d" % max_out,
        "blocked_clients:%d" % server.blocked_clients,
        "tracking_clients:%d" % (getattr(tracking, "clients", 0) if tracking else 0),
        "clients_in_timeout_table:%d"
        % sum(1 for c in clients if c.blocked is not None and getattr(c.blocked, "deadline", None)),
    ]


def memory_overview(server):
    """The numbers INFO memory and MEMORY STATS share (Python has no allocator
    statistics: used memory is server.used_memory(), an estimate of the data held,
    see vermilion/core/memory.py; rss is the process's resident set)."""
    st = server.info_stats
    rss_now = rss()
    st.rss = rss_now
    used = server.used_memory()
    peak = server.memory.peak
    startup = min(server.memory.startup, used)
    # query + output buffers (transport's included), the figure used_memory counts
    clients_normal = server.memory.clients
    aof = server.aof
    aof_buf = 0
    if aof is not None:
        aof_buf = len(getattr(aof, "buf", b"") or b"")
    overhead = startup + clients_normal + aof_buf
    dataset = max(0, used - overhead)
    net = used - startup
    keys = sum(len(db.data) for db in server.dbs)
    return {
        "used": used,
        "rss": rss_now,
        "peak": peak,
        "startup": startup,
        "overhead": overhead,
        "dataset": dataset,
        "clients_normal": clients_normal,
        "aof_buffer": aof_buf,
        "keys": keys,
        "dataset_perc": dataset * 100.0 / net if net > 0 else 0.0,
        "peak_perc": used * 100.0 / peak if peak else 100.0,
        "bytes_per_key": (net // keys) if keys else 0,
    }


def _total_system_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def _info_memory(server):
    m = memory_overview(server)
    cfg = server.config
    maxmemory = cfg.get_number("maxmemory")
    total_sys = _total_system_memory()
    scripts = server.scripts
    libs = server.function_libraries or {}
    nfuncs = 0
    for lib in libs.values() if hasattr(libs, "values") else ():
        nfuncs += len(getattr(lib, "functions", ()) or ())
    lua = 32768 if scripts or server.lua is not None else 0
    # the backlog and the replicas' output share one buffer (replication/master.py)
    repl = server.repl
    repl_backlog, repl_replicas = repl.memory_split() if repl is not None else (0, 0)
    return [
        "# Memory",
        "used_memory:%d" % m["used"],
        "used_memory_human:%s" % bytes_to_human(m["used"]),
        "used_memory_rss:%d" % m["rss"],
        "used_memory_rss_human:%s" % bytes_to_human(m["rss"]),
        "used_memory_peak:%d" % m["peak"],
        "used_memory_peak_human:%s" % bytes_to_human(m["peak"]),
        "used_memory_peak_perc:%.2f%%" % m["peak_perc"],
        "used_memory_overhead:%d" % m["overhead"],
        "used_memory_startup:%d" % m["startup"],
        "used_memory_dataset:%d" % m["dataset"],
        "used_memory_dataset_perc:%.2f%%" % m["dataset_perc"],
        "allocator_allocated:%d" % m["used"],
        "allocator_active:%d" % m["rss"],
        "allocator_resident:%d" % m["rss"],
        "total_system_memory:%d" % total_sys,
        "total_system_memory_human:%s" % bytes_to_human(total_sys),
        "used_memory_lua:%d" % lua,
        "used_memory_vm_eval:%d" % lua,
        "used_memory_lua_human:%s" % bytes_to_human(lua),
        "used_memory_scripts_eval:0",
        "number_of_cached_scripts:%d" % len(scripts),
        "number_of_functions:%d" % nfuncs,
        "number_of_libraries:%d" % len(libs),
        "used_memory_vm_functions:0",
        "used_memory_vm_total:%d" % lua,
        "used_memory_vm_total_human:%s" % bytes_to_human(lua),
        "used_memory_functions:0",
        "used_memory_scripts:0",
        "used_memory_scripts_human:0B",
        "maxmemory:%d" % maxmemory,
        "maxmemory_human:%s" % bytes_to_human(maxmemory),
        "maxmemory_policy:%s" % cfg.get("maxmemory-policy"),
        "allocator_frag_ratio:1.00",
        "allocator_frag_bytes:0",
        "allocator_rss_ratio:1.00",
        "allocator_rss_bytes:0",
        "rss_overhead_ratio:1.00",
        "rss_overhead_bytes:0",
        "mem_fragmentation_ratio:%.2f" % (m["rss"] / m["used"] if m["used"] else 0.0),
        "mem_fragmentation_bytes:%d" % (m["rss"] - m["used"]),
        "mem_not_counted_for_evict:%d" % m["aof_buffer"],
        "mem_replication_backlog:%d" % repl_backlog,
        "mem_total_replication_buffers:%d" % (repl_backlog + repl_replicas),
        "mem_clients_slaves:%d" % repl_replicas,
        "mem_clients_normal:%d" % m["clients_normal"],
        "mem_cluster_links:0",
        "mem_aof_buffer:%d" % m["aof_buffer"],
        "mem_allocator:pymalloc",
        "active_defrag_running:0",
        "lazyfree_pending_objects:%d" % server.lazyfree_pending,
        "lazyfreed_objects:%d" % server.lazyfreed_objects,
    ]


def _info_persistence(server):
    snap = server.snapshot  # persistence/snapshot.py
    return ["# Persistence"] + (list(snap.info_lines()) if snap is not None else ["loading:0"])


def _info_stats(server):
    st = server.info_stats
    keyspace = keyspace_counts(server)
    ps = server.pubsub
    tracking = server.tracking
    tracking_keys = len(getattr(tracking, "table", ())) if tracking else 0
    tracking_items = 0
    if tracking_keys:
        tracking_items = sum(len(v) for v in tracking.table.values())
    tracking_prefixes = len(getattr(tracking, "prefixes", ())) if tracking else 0
    net_in = st.net_in()
    net_out = st.net_out()
    return [
        "# Stats",
        "total_connections_received:%d" % server.stats_connections,
        "total_commands_processed:%d" % total_commands(server),
        "instantaneous_ops_per_sec:%d" % st.instantaneous("cmd"),
        "total_net_input_bytes:%d" % net_in,
        "total_net_output_bytes:%d" % net_out,
        "total_net_repl_input_bytes:0",
        "total_net_repl_output_bytes:0",
        "instantaneous_input_kbps:%.2f" % (st.instantaneous("in") / 1024),
        "instantaneous_output_kbps:%.2f" % (st.instantaneous("out") / 1024),
        "instantaneous_input_repl_kbps:0.00",
        "instantaneous_output_repl_kbps:0.00",
        "rejected_connections:%d" % server.stats_rejected_conn,
        "sync_full:%d" % server.repl.full_syncs,
        "sync_partial_ok:%d" % server.repl.partial_ok,
        "sync_partial_err:%d" % server.repl.partial_err,
        "expired_keys:%d" % server.stats_expired_keys,
        "expired_stale_perc:%.2f" % (server.stats_expired_stale_perc * 100),
        "expired_time_cap_reached_count:%d" % server.stats_expired_time_cap_reached_count,
        "expire_cycle_cpu_milliseconds:%d" % server.stats_expire_cycle_time_used_ms,
        "evicted_keys:%d" % server.stats_evicted_keys,
        "evicted_clients:%d" % server.stats_evicted_clients,
        "total_eviction_exceeded_time:%d"
        % (server.stats_total_eviction_exceeded_time + server.evictor.current_exceeded_ms()),
        "current_eviction_exceeded_time:%d" % server.evictor.current_exceeded_ms(),
        "keyspace_hits:%d" % keyspace[0],
        "keyspace_misses:%d" % keyspace[1],
        "pubsub_channels:%d" % (len(ps.channels) if ps is not None else 0),
        "pubsub_patterns:%d" % (len(ps.patterns) if ps is not None else 0),
        "pubsubshard_channels:%d" % (len(ps.shard) if ps is not None else 0),
        "latest_fork_usec:%d" % server.stat_fork_time,
        "total_forks:%d" % server.stat_total_forks,
        "migrate_cached_sockets:%d" % len(getattr(server, "migrate_cached_sockets", ())),
        "slave_expires_tracked_keys:0",
        "active_defrag_hits:0",
        "active_defrag_misses:0",
        "active_defrag_key_hits:0",
        "active_defrag_key_misses:0",
        "total_active_defrag_time:0",
        "current_active_defrag_time:0",
        "tracking_total_keys:%d" % tracking_keys,
        "tracking_total_items:%d" % tracking_items,
        "tracking_total_prefixes:%d" % tracking_prefixes,
        "unexpected_error_replies:%d" % server.stats_unexpected_error_replies,
        "total_error_replies:%d" % server.stats_total_error_replies,
        "dump_payload_sanitizations:%d" % server.stats_dump_payload_sanitizations,
        "total_reads_processed:%d" % server.stats_total_reads_processed,
        "total_writes_processed:%d" % server.stats_total_writes_processed,
        "io_threaded_reads_processed:0",
        "io_threaded_writes_processed:0",
        "reply_buffer_shrinks:0",
        "reply_buffer_expands:0",
    ]


def _info_replication(server):
    return info_lines(server)


def _tv(seconds):
    sec = int(seconds)
    return "%d.%06d" % (sec, int(round((seconds - sec) * 1000000)))


def _info_cpu(server):
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [
        "# CPU",
        "used_cpu_sys:%s" % _tv(me.ru_stime),
        "used_cpu_user:%s" % _tv(me.ru_utime),
        "used_cpu_sys_children:%s" % _tv(ch.ru_stime),
        "used_cpu_user_children:%s" % _tv(ch.ru_utime),
    ]
    thread = getattr(resource, "RUSAGE_THREAD", None)
    if thread is not None:
        th = resource.getrusage(thread)
        lines += [
            "used_cpu_sys_main_thread:%s" % _tv(th.ru_stime),
            "used_cpu_user_main_thread:%s" % _tv(th.ru_utime),
        ]
    return lines


def _info_modules(server):
    return ["# Modules"] + _modules.info_lines()


def _info_commandstats(server):
    lines = ["# Commandstats"]
    for name, calls, usec, rejected, failed in stats_rows(server):
        lines.append(
            "cmdstat_%s:calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,"
            "failed_calls=%d"
            % (_safe(name), calls, usec, (usec / calls) if calls else 0.0, rejected, failed)
        )
    return lines


def _info_errorstats(server):
    lines = ["# Errorstats"]
    for name in sorted(server.errorstats, key=_b):
        lines.append("errorstat_%s:count=%d" % (_safe(name), server.errorstats[name]))
    return lines


def _info_latencystats(server):
    lines = ["# Latencystats"]
    if server.config.get("latency-tracking") == "yes":
        lines.extend(server.latency.info_lines())
    return lines


def _info_cluster(server):
    return ["# Cluster", "cluster_enabled:%d" % (server.cluster is not None)]


def _info_keyspace(server):
    lines = ["# Keyspace"]
    for db in server.dbs:
        keys = len(db.data)
        expires = len(db.expires)
        if keys or expires:
            lines.append("db%d:keys=%d,expires=%d,avg_ttl=%d" % (db.id, keys, expires, db.avg_ttl))
    return lines


_SECTIONS = (
    ("server", _info_server),
    ("clients", _info_clients),
    ("memory", _info_memory),
    ("persistence", _info_persistence),
    ("stats", _info_stats),
    ("replication", _info_replication),
    ("cpu", _info_cpu),
    ("modules", _info_modules),
    ("commandstats", _info_commandstats),
    ("errorstats", _info_errorstats),
    ("latencystats", _info_latencystats),
    ("cluster", _info_cluster),
    ("keyspace", _info_keyspace),
)


# ====================================================================== COMMAND
_COMMAND_HELP = [
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
]


def lookup_fullname(name):
    """lookupCommandBySds: 'get' or 'config|get' (case-insensitive) -> Command or None."""
    parts = name.lower().split(b"|")
    if len(parts) > 2:
        return None
    cmd = COMMANDS.get(parts[0])
    if cmd is None or len(parts) == 1:
        return cmd
    if cmd.subcommands is None:
        return None
    return cmd.subcommands.get(parts[1])


@command("command")
def command_(c, argv):
    if len(argv) > 1:  # the dispatcher lands here for an unknown sub-command
        raise CommandError(
            "ERR unknown subcommand '%.128s'. Try COMMAND HELP."
            % argv[1].decode("utf-8", "replace")
        )
    return [cmd.info_reply(c.resp) for cmd in list(COMMANDS.values())]


@command("command|help")
def command_help(c, argv):
    return help_reply(argv[0], _COMMAND_HELP)


@command("command|count")
def command_count(c, argv):
    return len(COMMANDS)


@command("command|info")
def command_info(c, argv):
    if len(argv) == 2:
        return [cmd.info_reply(c.resp) for cmd in list(COMMANDS.values())]
    out = []
    for name in argv[2:]:
        cmd = lookup_fullname(name)
        out.append(cmd.info_reply(c.resp) if cmd is not None else None)
    return out


_DOCS_CACHE: dict = {}


def _forget_docs(cmd):
    """A module command went (MODULE UNLOAD): a later one of that name has its own docs."""
    for resp in (2, 3):
        _DOCS_CACHE.pop((cmd.fullname, resp), None)


_modules.UNREGISTER_HOOKS.append(_forget_docs)


def docs_reply(cmd, resp):
    """COMMAND DOCS's map for one command (sub-commands: the implemented ones only)."""
    key = (cmd.fullname, resp)
    r = _DOCS_CACHE.get(key)
    if r is None:
        d = cmd.docs
        items = list(d["%"]) if d else ["group", "generic"]
        out = Map()
        for k, v in zip(items[0::2], items[1::2]):
            if k == "subcommands":
                if not cmd.subcommands:
                    continue
                subs = Map()
                for sub in cmd.subcommands.values():
                    subs.append(sub.fullname.encode())
                    subs.append(docs_reply(sub, resp))
                out.append(b"subcommands")
                out.append(subs)
                continue
            out.append(k.encode())
            out.append(Raw(encode(table.from_json(v), resp)))
        r = _DOCS_CACHE[key] = Raw(encode(out, resp))
    return r


@command("command|docs")
def command_docs(c, argv):
    out = Map()
    if len(argv) == 2:
        cmds = list(COMMANDS.values())
    else:
        cmds = [lookup_fullname(n) for n in argv[2:]]
    for cmd in cmds:
        if cmd is None:
            continue
        out.append(cmd.fullname.encode())
        out.append(docs_reply(cmd, c.resp))
    return out


@command("command|list")
def command_list(c, argv):
    filt = None
    i = 2
    n = len(argv)
    while i < n:
        if argv[i].lower() == b"filterby" and n - 1 - i == 2:
            kind = argv[i + 1].lower()
            if kind not in (b"module", b"aclcat", b"pattern"):
                raise CommandError(SYNTAX)
            filt = (kind, argv[i + 2])
            i += 3
        else:
            raise CommandError(SYNTAX)
    out = []
    for cmd in list(COMMANDS.values()):
        for x in [cmd] + list((cmd.subcommands or {}).values()):
            if filt is None or _list_filter_keeps(x, filt):
                out.append(x.fullname.encode())
    return out


def _list_filter_keeps(cmd, filt):
    kind, arg = filt
    if kind == b"module":
        return cmd.module is not None and cmd.module.name.encode() == arg
    if kind == b"aclcat":
        return ("@" + _s(arg).lower()) in cmd.acl
    return stringmatch(arg, cmd.fullname.encode())


# ---- COMMAND GETKEYS (the key-spec walk itself is core/keyspecs.py)


def _getkeys(c, argv, with_flags):
    args = argv[2:]
    cmd = table.lookup(args[0])
    if cmd is not None and cmd.subcommands is not None and len(args) > 1:
        cmd = cmd.subcommands.get(args[1].lower())
    if cmd is None:
        raise CommandError("ERR Invalid command specified")
    if not has_keys(cmd):
        raise CommandError("ERR The command has no key arguments")
    ar = cmd.arity
    if (ar > 0 and ar != len(args)) or len(args) < -ar:
        raise CommandError("ERR Invalid number of arguments specified for command")
    keys = keys_with_flags(cmd, args)
    if not keys:
        if "no_mandatory_keys" in cmd.flags:
            return []
        raise CommandError("ERR Invalid arguments specified for command")
    if not with_flags:
        return [args[pos] for pos, _ in keys]
    return [
        [args[pos], Set(Status(f) for f in KEY_FLAG_ORDER if f in flags)] for pos, flags in keys
    ]


@command("command|getkeys")
def command_getkeys(c, argv):
    return _getkeys(c, argv, False)


@command("command|getkeysandflags")
def command_getkeysandflags(c, argv):
    return _getkeys(c, argv, True)


# ============================================================ small server commands
@command("time")
def time_(c, argv):
    t = c.server.clock.us()  # time.time_ns() // 1000 unless a test moved the clock
    return [b"%d" % (t // 1000000), b"%d" % (t % 1000000)]


@command("shutdown")
def shutdown(c, argv):
    """SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] (shutdownCommand).

    The client waits for the outcome (Server.wait_for_shutdown): nothing if
    the server stops, "-ERR Errors trying to SHUTDOWN. Check logs." if it
    refuses (a failed final save without FORCE), an answer later if it waits
    for lagging replicas (shutdown-timeout) and then fails or is aborted.
    """
    flags = set()
    abort = False
    for a in argv[1:]:
        a = a.lower()
        if a in (b"nosave", b"save", b"now", b"force"):
            flags.add(a)
        elif a == b"abort":
            abort = True
        else:
            raise CommandError(SYNTAX)
    if (abort and flags) or (b"nosave" in flags and b"save" in flags):
        raise CommandError(SYNTAX)
    server = c.server
    if abort:
        if server.abort_shutdown():
            return OK
        raise CommandError("ERR No shutdown in progress.")
    if b"now" not in flags and (c.in_exec or c.conn is None):
        raise CommandError(
            "ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client"
        )
    save = True if b"save" in flags else (False if b"nosave" in flags else None)
    server.shutdown_flags = flags  # NOW / FORCE, for the shutdown hooks
    server.wait_for_shutdown(c)
    server.prepare_shutdown(save, now=b"now" in flags, force=b"force" in flags)
    return NO_REPLY


@command("lolwut")
def lolwut(c, argv):
    if len(argv) >= 3 and argv[1].lower() == b"version":
        parse_int(argv[2])
    return Verbatim(b"Redis ver. %s\n" % REDIS_VERSION.encode())


# ================================================ FUNCTION fallbacks for probes
def fallback(fullname):
    """Bind ``func`` to ``fullname`` unless a feature module already did (a module
    imported later that binds it replaces this one, as @command always does)."""

    def deco(func):
        parts = fullname.split("|")
        cmd = COMMANDS.get(parts[0].encode())
        if cmd is not None and len(parts) == 2 and cmd.subcommands:
            cmd = cmd.subcommands.get(parts[1].encode())
        elif len(parts) == 2:
            cmd = None
        if cmd is None or cmd.func is None:
            command(fullname)(func)
        return func

    return deco


@fallback("function|flush")
def function_flush(c, argv):
    if len(argv) > 3 or (len(argv) == 3 and argv[2].lower() not in (b"async", b"sync")):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    return OK


@fallback("function|list")
def function_list(c, argv):
    i = 2
    while i < len(argv):
        a = argv[i].lower()
        if a == b"withcode":
            i += 1
        elif a == b"libraryname" and i + 1 < len(argv):
            i += 2
        else:
            raise CommandError("ERR Unknown argument %s" % _s(argv[i]))
    return []


__all__ = [
    "help_reply",
    "info_string",
    "reset_stats",
    "bytes_to_human",
    "keys_with_flags",
    "lookup_fullname",
    "memory_overview",
]
