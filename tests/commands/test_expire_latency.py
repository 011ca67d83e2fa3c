"""The active expire cycle reports itself to the latency monitor ("expire-cycle",
as activeExpireCycle's latencyAddSampleIfNeeded) when it is slower than
latency-monitor-threshold, and not when the monitor is off; its time adds up in
INFO's expire_cycle_cpu_milliseconds (zeroed by CONFIG RESETSTAT)."""

import time


def _expire_many(r, n=30000):
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set("k%d" % i, "v", px=200)
    pipe.execute()
    deadline = time.time() + 30
    while r.dbsize() and time.time() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 0


def _events(r):
    return [e[0] for e in r.execute_command("LATENCY", "LATEST")]


def test_slow_expire_cycle_is_a_latency_event(r):
    r.config_set("latency-monitor-threshold", 1)
    r.execute_command("LATENCY", "RESET")
    _expire_many(r)
    assert b"expire-cycle" in _events(r)
    history = r.execute_command("LATENCY", "HISTORY", "expire-cycle")
    assert history and all(ms >= 1 for _, ms in history)


def test_no_expire_cycle_event_without_threshold(r):
    r.config_set("latency-monitor-threshold", 0)
    _expire_many(r)
    assert b"expire-cycle" not in _events(r)


def test_expire_cycle_time_in_info(r):
    r.config_resetstat()
    _expire_many(r)
    used = r.info("stats")["expire_cycle_cpu_milliseconds"]
    assert used > 0
    r.config_resetstat()
    # (a cycle may run in between: an empty one takes microseconds)
    assert r.info("stats")["expire_cycle_cpu_milliseconds"] < used
