"""The latency monitor (latency.c): what was slow, when, and how slow at worst.

Redis's latency monitor keeps, per *event* (``command``, ``fast-command``,
``fork``, ``aof-write`` ...), a time series of the last 160 samples, at most
one per second (when two land in the same second the worst wins), and the
event's all-time maximum. Samples are only taken when
``latency-monitor-threshold`` (ms) is set and reached, so a server that does not
ask pays nothing.

One :class:`LatencyMonitor` per server (``server.latency``, created with the
server by the hook below). The dispatcher reports commands slower than
``server.latency_threshold_ns`` through :meth:`LatencyMonitor.command_done`
(the server keeps that threshold beside the slowlog's, so ``call()`` tests one
number); other features call :meth:`LatencyMonitor.add_sample_if_needed`.
LATENCY LATEST / HISTORY / GRAPH / RESET (commands/introspection.py) read the
series.

Python keeps no per-command latency histogram, so LATENCY HISTOGRAM and INFO
latencystats are derived from each command's call count and total time, which
the dispatcher keeps anyway (:meth:`LatencyMonitor.command_rows`: one bucket at
the mean).
"""

import time

from ..core.bootstrap import on_server_init
from ..core.dispatch import stats_rows

LATENCY_TS_LEN = 160


class LatencyMonitor:
    """latency.c's event time series for one server."""

    def __init__(self, server):
        self.server = server
        self.events = {}  # event -> [samples (list of [time, ms]), idx, max]
        self.set_threshold(server.config.get_int("latency-monitor-threshold"))

    def set_threshold(self, ms):
        self.threshold_ms = ms
        self.server.latency_threshold_ns = ms * 1000000

    def add_sample(self, event, ms):
        """latencyAddSample: one sample a second per event (the worst wins)."""
        ts = self.events.get(event)
        now = int(time.time())
        if ts is None:
            ts = self.events[event] = [[[0, 0] for _ in range(LATENCY_TS_LEN)], 0, 0]
        samples = ts[0]
        if ms > ts[2]:
            ts[2] = ms
        prev = samples[(ts[1] + LATENCY_TS_LEN - 1) % LATENCY_TS_LEN]
        if prev[0] == now:
            if ms > prev[1]:
                prev[1] = ms
            return
        samples[ts[1]] = [now, ms]
        ts[1] = (ts[1] + 1) % LATENCY_TS_LEN

    def add_sample_if_needed(self, event, ms):
        if self.threshold_ms and ms >= self.threshold_ms:
            self.add_sample(event, ms)

    def command_done(self, cmd, dt_ns):
        """Called by the dispatcher for a slow command (latency-monitor-threshold)."""
        self.add_sample_if_needed("fast-command" if cmd.fast else "command", dt_ns // 1000000)

    def ordered(self, event):
        ts = self.events[event]
        out = []
        for j in range(LATENCY_TS_LEN):
            s = ts[0][(ts[1] + j) % LATENCY_TS_LEN]
            if s[0]:
                out.append(s)
        return out

    def reset(self, event=None):
        if event is None:
            n = len(self.events)
            self.events.clear()
            return n
        return 1 if self.events.pop(event, None) is not None else 0

    # Per-command latency, from the call counts and total time the dispatcher keeps.
    def command_rows(self):
        for name, calls, usec, _, _ in stats_rows(self.server):
            if calls:
                yield name, calls, usec / calls

    def info_lines(self):
        pcts = self.server.config.get("latency-tracking-info-percentiles").split()
        out = []
        for name, calls, avg in self.command_rows():
            line = "latency_percentiles_usec_%s:" % name.replace(":", "_").replace("#", "_")
            line += ",".join("p%s=%.3f" % (p, avg) for p in pcts)
            out.append(line)
        return out

    def reset_histograms(self):
        pass


@on_server_init
def _init(server):
    lat = server.latency = LatencyMonitor(server)
    server.config.add_hook("latency-monitor-threshold", lambda v: lat.set_threshold(int(v)))
