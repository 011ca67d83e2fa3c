"""SLOWLOG, LATENCY and MEMORY (slowlog.c, latency.c, object.c).

* SLOWLOG reads ``server.slowlog``, which the dispatcher fills (newest first) with
  ``(id, unix time, duration in us, args, client address, client name)``.
* LATENCY reads Redis's latency monitor (``server.latency``, a
  :class:`~vermilion.server.latency.LatencyMonitor`): event name -> the last
  160 one-per-second samples and the all-time maximum. LATENCY HISTOGRAM is
  derived from each command's call count and total time (one bucket at the
  mean), as Python keeps no per-command histogram.
* MEMORY USAGE estimates a key's footprint with ``sys.getsizeof`` over the key
  and its value's structure (sampling big collections like Redis does); MEMORY
  STATS shares INFO memory's figures.
"""

import sys
import time

from ..errors import CommandError, SYNTAX
from ..keyspace.sizes import value_size
from ..protocol.encoder import OK, Map, Verbatim
from ..util import parse_int
from .server_cmds import help_reply, lookup_fullname, memory_overview
from ..core.table import command
import gc
from ..server.latency import LATENCY_TS_LEN
from ..errors import subcommand_syntax_error


# ====================================================================== SLOWLOG
_SLOWLOG_HELP = [
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
]


@command("slowlog|help")
def slowlog_help(c, argv):
    return help_reply(argv[0], _SLOWLOG_HELP)


@command("slowlog|get")
def slowlog_get(c, argv):
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    log = c.server.slowlog
    count = 10
    if len(argv) == 3:
        msg = "ERR count should be greater than or equal to -1"
        count = parse_int(argv[2], msg)
        if count < -1:
            raise CommandError(msg)
        if count == -1:
            count = len(log)
    out = []
    for entry in list(log)[:count]:
        eid, ts, dur, args, addr, name = entry
        out.append([eid, ts, dur, list(args), addr, name or b""])
    return out


@command("slowlog|len")
def slowlog_len(c, argv):
    return len(c.server.slowlog)


@command("slowlog|reset")
def slowlog_reset(c, argv):
    c.server.slowlog.clear()
    return OK


# ====================================================================== LATENCY
def _bucket(avg_usec):
    b = 1
    while b < avg_usec:
        b *= 2
    return b


_LATENCY_HELP = [
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the "
    "specified command names.",
    "    If no commands are specified then all histograms are replied.",
]


@command("latency|help")
def latency_help(c, argv):
    return help_reply(argv[0], _LATENCY_HELP)


@command("latency|latest")
def latency_latest(c, argv):
    lat = c.server.latency
    out = []
    for event, ts in lat.events.items():
        last = ts[0][(ts[1] + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN]
        out.append([event.encode(), last[0], last[1], ts[2]])
    return out


@command("latency|history")
def latency_history(c, argv):
    lat = c.server.latency
    event = argv[2].decode("utf-8", "surrogateescape")
    if event not in lat.events:
        return []
    return [[t, ms] for t, ms in lat.ordered(event)]


@command("latency|reset")
def latency_reset(c, argv):
    lat = c.server.latency
    if len(argv) == 2:
        return lat.reset()
    return sum(lat.reset(a.decode("utf-8", "surrogateescape")) for a in argv[2:])


@command("latency|graph")
def latency_graph(c, argv):
    lat = c.server.latency
    event = argv[2].decode("utf-8", "surrogateescape")
    if event not in lat.events:
        raise CommandError("ERR No samples available for event '%s'" % event)
    return Verbatim(_graph(event, lat.ordered(event), lat.events[event][2]).encode())


def _graph(event, samples, alltime):
    """latencyCommandGenSparkeline: a header, 80 dashes, and a 4-row filled sparkline
    ('_o#' and '|') with each sample's age as a vertical label."""
    now = int(time.time())
    values = [ms for _, ms in samples]
    hi, lo = max(values), min(values)
    labels = []
    for t, _ in samples:
        elapsed = now - t
        if elapsed < 60:
            labels.append("%ds" % elapsed)
        elif elapsed < 3600:
            labels.append("%dm" % (elapsed // 60))
        elif elapsed < 86400:
            labels.append("%dh" % (elapsed // 3600))
        else:
            labels.append("%dd" % (elapsed // 86400))
    out = [
        "%s - high %d ms, low %d ms (all time high %d ms)\n" % (event, hi, lo, alltime),
        "-" * 80 + "\n",
    ]
    for j in range(0, len(values), 80):
        if j:
            out.append("\n")
        out.append(_sparkline_range(values[j : j + 80], labels[j : j + 80], lo, hi, 4))
    return "".join(out)


def _sparkline_range(values, labels, lo, hi, rows):
    charset = "_o#"
    relmax = (hi - lo) or 1
    steps = len(charset) * rows
    lines = []
    row = 0
    while True:
        chars = [" "] * len(values)
        more = False
        for j, v in enumerate(values):
            step = min(max(int((v - lo) * steps / relmax), 0), steps - 1)
            if row < rows:
                idx = step - (rows - row - 1) * len(charset)
                more = True
                if 0 <= idx < len(charset):
                    chars[j] = charset[idx]
                elif idx >= len(charset):
                    chars[j] = "|"
            else:
                if row - rows < 1:  # one blank line above the labels
                    more = True
                    break
                k = row - rows - 1
                if len(labels[j]) > k:
                    more = True
                    chars[j] = labels[j][k]
        if not more:
            break
        row += 1
        lines.append("".join(chars) + "\n")
    return "".join(lines)


@command("latency|doctor")
def latency_doctor(c, argv):
    return Verbatim(_doctor(c.server).encode())


def _doctor(server):
    lat = server.latency
    if not lat.events and lat.threshold_ms == 0:
        return (
            "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this "
            "Redis instance. You may use \"CONFIG SET latency-monitor-threshold "
            "<milliseconds>.\" in order to enable it. If we weren't in a deep space mission "
            "I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
        )
    out = []
    advise = set()
    now = int(time.time())
    for n, (event, ts) in enumerate(lat.events.items(), 1):
        if n == 1:
            out.append(
                "Dave, I have observed latency spikes in this Redis instance. You "
                "don't mind talking about it, do you Dave?\n\n"
            )
        samples = lat.ordered(event)
        count = len(samples)
        avg = sum(ms for _, ms in samples) // count if count else 0
        mad = sum(abs(avg - ms) for _, ms in samples) // count if count else 0
        period = max(1, now - min(t for t, _ in samples)) if count else 0
        out.append(
            "%d. %s: %d latency spikes (average %dms, mean deviation %dms, period "
            "%.2f sec). Worst all time event %dms."
            % (n, event, count, avg, mad, period / count if count else 0.0, ts[2])
        )
        if event == "command":
            slower = server.config.get_int("slowlog-log-slower-than")
            if slower < 0:
                advise.add("slowlog_enabled")
            elif slower // 1000 > lat.threshold_ms:
                advise.add("slowlog_tuning")
            advise.update(("slowlog_inspect", "large_objects"))
        elif event == "fast-command":
            advise.add("scheduler")
        elif event == "expire-cycle":
            advise.update(("hz", "large_objects"))
        elif event in ("eviction-del",):
            advise.add("large_objects")
        out.append("\n")
    if not lat.events and not advise:
        out.append(
            "Dave, no latency spike was observed during the lifetime of this Redis "
            "instance, not in the slightest bit. I honestly think you ought to sit down "
            "calmly, take a stress pill, and think things over.\n"
        )
    elif not advise:
        out.append(
            "\nWhile there are latency events logged, I'm not able to suggest any easy "
            "fix. Please use the Redis community to get some help, providing this report "
            "in your help request.\n"
        )
    else:
        thr = lat.threshold_ms * 1000
        out.append("\nI have a few advices for you:\n\n")
        if "slowlog_enabled" in advise:
            out.append(
                "- There are latency issues with potentially slow commands you are "
                "using. Try to enable the Slow Log Redis feature using the command "
                "'CONFIG SET slowlog-log-slower-than %d'. If the Slow log is disabled "
                "Redis is not able to log slow commands execution for you.\n" % thr
            )
        if "slowlog_tuning" in advise:
            out.append(
                "- Your current Slow Log configuration only logs events that are slower "
                "than your configured latency monitor threshold. Please use 'CONFIG SET "
                "slowlog-log-slower-than %d'.\n" % thr
            )
        if "slowlog_inspect" in advise:
            out.append(
                "- Check your Slow Log to understand what are the commands you are "
                "running which are too slow to execute. Please check "
                "https://redis.io/commands/slowlog for more information.\n"
            )
        if "scheduler" in advise:
            out.append(
                "- The system is slow to execute Redis code paths not containing system "
                "calls. This usually means the system does not provide Redis CPU time "
                "to run for long periods. You should try to:\n"
                "  1) Lower the system load.\n"
                "  2) Use a computer / VM just for Redis if you are running other "
                "software in the same system.\n"
                "  3) Check if you have a \"noisy neighbour\" problem.\n"
                "  4) Check with 'redis-cli --intrinsic-latency 100' what is the "
                "intrinsic latency in your system.\n"
                "  5) Check if the problem is allocator-related by recompiling Redis "
                "with MALLOC=libc, if you are using Jemalloc. However this may create "
                "fragmentation problems.\n"
            )
        if "hz" in advise and server.hz < 100:
            out.append(
                "- In order to make the Redis keys expiring process more incremental, "
                "try to set the 'hz' configuration parameter to 100 using 'CONFIG SET "
                "hz 100'.\n"
            )
        if "large_objects" in advise:
            out.append(
                "- Deleting, expiring or evicting (because of maxmemory policy) large "
                "objects is a blocking operation. If you have very large objects that "
                "are often deleted, expired, or evicted, try to fragment those objects "
                "into multiple smaller objects.\n"
            )
    return "".join(out)


def _histogram_entry(calls, avg):
    return Map([b"calls", calls, b"histogram_usec", Map([_bucket(avg), calls])])


@command("latency|histogram")
def latency_histogram(c, argv):
    server = c.server
    stats = server.cmdstats
    out = Map()
    if len(argv) == 2:
        for name, calls, avg in server.latency.command_rows():
            out.append(name.encode())
            out.append(_histogram_entry(calls, avg))
        return out
    for name in argv[2:]:
        cmd = lookup_fullname(name)
        if cmd is None:
            continue
        for x in [cmd] + list((cmd.subcommands or {}).values()):
            st = stats[x.index]
            calls = st.total_calls()
            if calls:
                out.append(x.fullname.encode())
                out.append(_histogram_entry(calls, st.total_ns() / 1000 / calls))
    return out


# ======================================================================= MEMORY
_MEMORY_HELP = [
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
]

_DICT_ENTRY = 24  # what Redis adds per key for its dictEntry


@command("memory|help")
def memory_help(c, argv):
    return help_reply(argv[0], _MEMORY_HELP)


@command("memory|usage")
def memory_usage(c, argv):
    samples = 5
    j = 3
    n = len(argv)
    while j < n:
        if argv[j].lower() == b"samples" and j + 1 < n:
            samples = parse_int(argv[j + 1])
            if samples < 0:
                raise CommandError(SYNTAX)
            j += 2
        else:
            raise CommandError(SYNTAX)
    key = argv[2]
    v = c.db.data.get(key)
    if v is None:
        return None
    return value_size(v, samples) + sys.getsizeof(key) + _DICT_ENTRY


@command("memory|stats")
def memory_stats(c, argv):
    server = c.server
    m = memory_overview(server)
    repl = server.repl  # the shared replication buffer, split as INFO memory does
    repl_backlog, repl_replicas = repl.memory_split() if repl is not None else (0, 0)
    out = Map(
        [
            b"peak.allocated",
            m["peak"],
            b"total.allocated",
            m["used"],
            b"startup.allocated",
            m["startup"],
            b"replication.backlog",
            repl_backlog,
            b"clients.slaves",
            repl_replicas,
            b"clients.normal",
            m["clients_normal"],
            b"cluster.links",
            0,
            b"aof.buffer",
            m["aof_buffer"],
            b"lua.caches",
            0,
            b"functions.caches",
            0,
        ]
    )
    for db in server.dbs:
        if db.data or db.expires:
            out.append(b"db.%d" % db.id)
            out.append(
                Map(
                    [
                        b"overhead.hashtable.main",
                        sys.getsizeof(db.data),
                        b"overhead.hashtable.expires",
                        sys.getsizeof(db.expires),
                        b"overhead.hashtable.slot-to-keys",
                        0,
                    ]
                )
            )
    out.extend(
        [
            b"overhead.total",
            m["overhead"],
            b"keys.count",
            m["keys"],
            b"keys.bytes-per-key",
            m["bytes_per_key"],
            b"dataset.bytes",
            m["dataset"],
            b"dataset.percentage",
            float(m["dataset_perc"]),
            b"peak.percentage",
            float(m["peak_perc"]),
            b"allocator.allocated",
            m["used"],
            b"allocator.active",
            m["rss"],
            b"allocator.resident",
            m["rss"],
            b"allocator-fragmentation.ratio",
            1.0,
            b"allocator-fragmentation.bytes",
            0,
            b"allocator-rss.ratio",
            1.0,
            b"allocator-rss.bytes",
            0,
            b"rss-overhead.ratio",
            1.0,
            b"rss-overhead.bytes",
            0,
            b"fragmentation",
            (m["rss"] / m["used"]) if m["used"] else 0.0,
            b"fragmentation.bytes",
            m["rss"] - m["used"],
        ]
    )
    return out


@command("memory|doctor")
def memory_doctor(c, argv):
    server = c.server
    m = memory_overview(server)
    if m["used"] - m["startup"] < 5 * 1024 * 1024:  # Redis: total allocated < 5mb
        text = (
            "Hi Sam, this instance is empty or is using very little memory, my issues "
            "detector can't be used in these conditions. Please, leave for your mission on "
            "Earth and fill it with some data. The new Sam and I will be back to our "
            "programming as soon as I finished rebooting.\n"
        )
    else:
        text = (
            "Hi Sam, I can't find any memory issue in your instance. I can only account for "
            "what occurs on this base.\n"
        )
    return Verbatim(text.encode())


@command("memory|malloc-stats")
def memory_malloc_stats(c, argv):
    return b"Stats not supported for the current allocator"


@command("memory|purge")
def memory_purge(c, argv):
    gc.collect()
    return OK


__all__ = ["value_size"]
