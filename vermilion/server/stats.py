"""What INFO reports and nothing else keeps: sampled rates, byte totals, peak memory.

Most of INFO reads counters their owners keep anyway (``server.stats_*``, the
command table's per-command stats, the keyspace). A few figures exist only to
be reported, and :class:`ServerStats` (``server.info_stats``) keeps them:

* **instantaneous rates** (``instantaneous_ops_per_sec``,
  ``instantaneous_input_kbps``, ``instantaneous_output_kbps``): like serverCron's
  ``trackInstantaneousMetric``, a cron hook samples the total commands processed
  and bytes read and written every 100 ms, keeps the last 16 per-second rates
  of each, and INFO reports their mean;
* **network byte totals**: the live clients' counters plus those of the clients
  already gone (a client-gone hook folds them in), minus the totals at the last
  CONFIG RESETSTAT;
* **RSS and its peak**, sampled with the rates.

CONFIG RESETSTAT calls :meth:`ServerStats.reset`.
"""

import time

from ..core.bootstrap import on_server_init
from ..core.table import COMMANDS
from ..persistence.rdb import used_memory_estimate

STATS_SAMPLES = 16


class ServerStats:
    """What INFO reports and nothing else keeps: sampled rates, byte totals, peaks."""

    def __init__(self, server):
        self.server = server
        self.net_in_closed = 0  # bytes read/written by clients that are gone
        self.net_out_closed = 0
        self.net_in_base = 0  # totals at the last CONFIG RESETSTAT
        self.net_out_base = 0
        self.peak_memory = 0
        self.startup_memory = rss()
        self.rss = self.startup_memory
        self.reset_samples()

    def reset_samples(self):
        now = time.monotonic()
        # metric -> [samples, idx, last time, last reading]
        self.metrics = {m: [[0] * STATS_SAMPLES, 0, now, v] for m, v in self._readings()}

    def _readings(self):
        """(metric, current total) for commands, bytes in and bytes out: one pass."""
        ins = outs = 0
        for c in self.server.clients.values():
            ins += c.tot_net_in
            outs += c.tot_net_out
        return (
            ("cmd", total_commands(self.server)),
            ("in", self.net_in_closed - self.net_in_base + ins),
            ("out", self.net_out_closed - self.net_out_base + outs),
        )

    def net_in(self):
        return (
            self.net_in_closed
            - self.net_in_base
            + sum(c.tot_net_in for c in self.server.clients.values())
        )

    def net_out(self):
        return (
            self.net_out_closed
            - self.net_out_base
            + sum(c.tot_net_out for c in self.server.clients.values())
        )

    def client_gone(self, c):
        self.net_in_closed += c.tot_net_in
        self.net_out_closed += c.tot_net_out

    def reset(self):
        self.net_in_base = self.net_in() + self.net_in_base
        self.net_out_base = self.net_out() + self.net_out_base
        self.reset_samples()

    def cron(self):
        """Every 100 ms (serverCron's run_with_period(100)): sample the rates and RSS."""
        now = time.monotonic()
        m = self.metrics["cmd"]
        if now - m[2] < 0.1:
            return
        for name, reading in self._readings():
            m = self.metrics[name]
            dt_ms = (now - m[2]) * 1000
            m[0][m[1]] = int((reading - m[3]) * 1000 / dt_ms) if dt_ms > 0 else 0
            m[1] = (m[1] + 1) % STATS_SAMPLES
            m[2] = now
            m[3] = reading
        self.rss = rss()
        if self.rss > self.peak_memory:
            self.peak_memory = self.rss

    def instantaneous(self, metric):
        return sum(self.metrics[metric][0]) // STATS_SAMPLES


def rss():
    return used_memory_estimate()


def total_commands(server):
    return sum(st.total_calls() for st in server.cmdstats)


def keyspace_counts(server):
    """INFO's (keyspace_hits, keyspace_misses).

    Every read lookup counts itself (Database.lookup_read) except GET's hits:
    GET reads exactly one key per call, so its hits are its calls less its
    misses (``stats_get_misses``), and a GET that finds its key counts nothing.
    CONFIG RESETSTAT zeroes the command's stats and these counters together.
    """
    get = COMMANDS[b"get"]
    get_calls = server.cmdstats[get.index].total_calls()
    hits = server.stats_keyspace_hits + get_calls - server.stats_get_misses
    misses = server.stats_keyspace_misses + server.stats_get_misses
    return hits, misses


@on_server_init
def _init(server):
    st = server.info_stats = ServerStats(server)
    server.add_cron_hook(st.cron)
    server.add_client_gone_hook(st.client_gone)
