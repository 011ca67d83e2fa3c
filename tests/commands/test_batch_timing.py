"""Cheap commands are counted one by one and timed by the run (core/dispatch.py).

A pipelined run of @fast data commands is not timed command by command: each is
counted at once (``run_calls``), the run is timed as a whole, and INFO gives each
of them the average time of a command in those runs. These tests drive a
real server over a socket with redis-py pipelines and check what a user reads:
exact counts in INFO commandstats, total_commands_processed and LATENCY
HISTOGRAM, plausible times, CONFIG RESETSTAT, and the slowlog still catching a
"fast" command that is slow.
"""

import pytest
import redis

from vermilion.embed import start_server


@pytest.fixture
def r(tmp_path):
    srv = start_server(dir=str(tmp_path))
    try:
        yield redis.Redis(port=srv.port)
    finally:
        srv.stop()


def _cmdstat(r, name):
    return r.info("commandstats").get("cmdstat_" + name)


def test_counts_exact_and_times_plausible_in_pipelines(r):
    r.config_resetstat()
    for _ in range(4):  # 4 pipelines of 250 GETs and 250 INCRs
        p = r.pipeline(transaction=False)
        for i in range(250):
            p.get("k%d" % i)
            p.execute_command("INCR", "n")  # (redis-py's incr() sends INCRBY)
        p.execute()
    get, incr = _cmdstat(r, "get"), _cmdstat(r, "incr")
    assert get["calls"] == 1000 and incr["calls"] == 1000
    for st in (get, incr):
        assert st["usec"] > 0
        assert 0 < st["usec_per_call"] < 1000  # microseconds: a cheap command's range
    assert r.get("n") == b"1000"
    total = r.info("stats")["total_commands_processed"]
    assert total >= 2000 + 2  # the pipelines, CONFIG RESETSTAT, INFO (itself counted)
    hist = r.execute_command("LATENCY", "HISTOGRAM", "get")  # (redis-py: a dict)
    assert hist[b"get"][b"calls"] == 1001  # (and the GET n above)
    # GET's misses are its calls less its hits (server/stats.py): exact too
    assert r.info("stats")["keyspace_misses"] == 1000


def test_resetstat_clears_run_counts(r):
    p = r.pipeline(transaction=False)
    for _ in range(100):
        p.ping()
    p.execute()
    assert _cmdstat(r, "ping")["calls"] == 100
    r.config_resetstat()
    assert _cmdstat(r, "ping") is None


def test_slow_fast_command_is_logged(r):
    # APPEND is an @fast command (timed with its run), yet its first APPEND to a
    # 40 MB string copies it (bytes -> bytearray, Redis's raw encoding): the run
    # takes milliseconds, passes the threshold, and the APPEND is logged.
    r.config_set("slowlog-log-slower-than", 1000)  # 1 ms: the batch-timed mode
    big = b"x" * (40 << 20)
    for i in range(3):
        r.set("big%d" % i, big)
    r.slowlog_reset()
    p = r.pipeline(transaction=False)  # one batch: a run of three (see RUN_MIN)
    for i in range(3):
        p.append("big%d" % i, "y")
    p.execute()
    entries = r.slowlog_get(10)
    appends = [e for e in entries if e["command"].startswith(b"APPEND big")]
    assert len(appends) == 3
    assert all(e["duration"] > 1000 for e in appends)
