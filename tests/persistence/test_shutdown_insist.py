"""A second Ctrl+C while the shutdown's final save runs (unit/shutdown 'Temp rdb
will be deleted in signal handle'): the process ends at once, with status 1,
and the half-written temp-<pid>.rdb is removed. The same steps on redis-server."""

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from support import REDIS_SERVER, free_port


def _wait(cond, timeout=10):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out"
        time.sleep(0.01)


def _insist(argv, d):
    port = free_port()
    p = subprocess.Popen(
        argv + ["--port", str(port), "--bind", "127.0.0.1", "--save", "900 1", "--dir", str(d)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        c = redis.Redis(port=port)
        _wait(lambda: _up(c), 20)
        for i in range(20):
            c.set(i, i)
        c.config_set("rdb-key-save-delay", 100000)  # 20 keys: 2 s of saving
        temp = os.path.join(str(d), "temp-%d.rdb" % p.pid)
        p.send_signal(signal.SIGINT)
        _wait(lambda: os.path.exists(temp))
        p.send_signal(signal.SIGINT)
        rc = p.wait(10)
        return rc, os.path.exists(temp), os.path.exists(os.path.join(str(d), "dump.rdb"))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def _up(c):
    try:
        return c.ping()
    except redis.ConnectionError:
        return False


@pytest.mark.parametrize("kind", ["vermilion", "redis"])
def test_second_sigint_during_final_save(kind, tmp_path):
    if kind == "redis":
        if REDIS_SERVER is None:
            pytest.skip("redis-server is not installed")
        argv = [REDIS_SERVER]
    else:
        argv = [sys.executable, "-m", "vermilion"]
    assert _insist(argv, tmp_path) == (1, False, False)
