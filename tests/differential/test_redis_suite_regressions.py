"""Regressions found by running Redis 7.0.15's own Tcl test suite against Vermilion.

Each test replays, against a real redis-server and Vermilion side by side, the
situation a failing ``tests/unit/*.tcl`` case exposed, and compares the raw replies.
"""
import time

import pytest

from support import Differ, RealRedis, REDIS_SERVER


@pytest.fixture(scope="module")
def aof_pair():
    """A redis-server and a Vermilion, both with ``appendonly yes`` (own directories)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    from vermilion.embed import start_server
    ref = RealRedis("--appendonly", "yes")
    srv = start_server(enable_debug_command="yes", appendonly="yes")
    yield ref, srv
    srv.stop()
    ref.stop()


@pytest.fixture
def aof_diff(aof_pair):
    ref, srv = aof_pair
    d = Differ(ref.port, srv.port)
    d("FLUSHALL")
    yield d
    d.close()


def _wait_rewrite_done(d):
    for conn in (d.ref, d.our):
        deadline = time.time() + 10
        while b"aof_rewrite_in_progress:1" in conn.call("INFO", "persistence"):
            assert time.time() < deadline
            time.sleep(0.05)


# --------------------------------------------------------------- unit/type/stream
@pytest.mark.parametrize("strategy,threshold", [("MAXLEN", "55"), ("MINID", "55")])
def test_xadd_approx_trim_with_limit_survives_aof_reload(aof_diff, strategy, threshold):
    """'XADD with ~ MAXLEN/MINID and LIMIT can propagate correctly': the AOF holds
    ``MAXLEN = n LIMIT 30``, which only the loading client may run (mustObeyClient),
    also when the AOF's base is an RDB file."""
    d = aof_diff
    _wait_rewrite_done(d)
    d("CONFIG", "SET", "stream-node-max-entries", "10")
    for j in range(1, 101):
        d("XADD", "mystream", str(j), "xitem", "v")
    d("XADD", "mystream", strategy, "~", threshold, "LIMIT", "30", "101", "xitem", "v")
    d("XLEN", "mystream")
    d("CONFIG", "SET", "stream-node-max-entries", "1")
    d("DEBUG", "LOADAOF")
    d("XLEN", "mystream")
    d("XADD", "mystream", "102", "xitem", "v")
    d("XLEN", "mystream")
    d("XRANGE", "mystream", "-", "+", "COUNT", "3")
    # a client (not the AOF) still may not use LIMIT with an exact trim
    d("XADD", "mystream", strategy, "=", threshold, "LIMIT", "30", "103", "xitem", "v")
    d("CONFIG", "SET", "stream-node-max-entries", "100")
