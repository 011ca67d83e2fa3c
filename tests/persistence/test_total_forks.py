"""INFO's total_forks counts every child the server forks (BGSAVE, a
BGREWRITEAOF queued in MULTI and started by the cron, CONFIG SET appendonly's
rewrite), as redis-server counts them; multi.tcl waits on it to see that a
rewrite started. Compared with a real redis-server doing the same."""

import time

import pytest
import redis

from support import REDIS_SERVER, RealRedis
from vermilion.embed import start_server


def _forks(c):
    return c.info("stats")["total_forks"]


def _idle(c):
    p = c.info("persistence")
    return not (
        p["rdb_bgsave_in_progress"] or p["aof_rewrite_in_progress"] or p["aof_rewrite_scheduled"]
    )


def _wait(cond, timeout=20):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def _run(c):
    seen = [_forks(c)]
    c.bgsave()
    _wait(lambda: _idle(c))
    seen.append(_forks(c))
    p = c.pipeline(transaction=True)
    p.set("foo", "bar")
    p.execute_command("BGREWRITEAOF")
    p.execute()
    _wait(lambda: _forks(c) > seen[-1])
    _wait(lambda: _idle(c))
    seen.append(_forks(c))
    c.config_set("appendonly", "yes")
    _wait(lambda: _forks(c) > seen[-1])
    _wait(lambda: _idle(c))
    seen.append(_forks(c))
    c.config_resetstat()
    seen.append(_forks(c))
    return seen


def test_total_forks_counts_children():
    srv = start_server(save="")
    try:
        c = redis.Redis(port=srv.port)
        ours = _run(c)
        assert ours == [0, 1, 2, 3, 0]
    finally:
        srv.stop()
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: only Vermilion's figures were checked")
    ref = RealRedis()
    try:
        assert _run(redis.Redis(port=ref.port)) == ours
    finally:
        ref.stop()
