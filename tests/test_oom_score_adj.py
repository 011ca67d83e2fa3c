"""oom-score-adj (setOOMScoreAdj): the score /proc/<pid>/oom_score_adj shows for
a master, a replica, a saving child, relative and absolute, and the score given
back when it is switched off; the same steps on a real redis-server must show
the same scores. Linux only."""

import os
import subprocess
import sys
import time

import pytest
import redis

from support import REDIS_SERVER, free_port

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/oom_score_adj"), reason="needs /proc/<pid>/oom_score_adj"
)


def _score(pid):
    with open("/proc/%d/oom_score_adj" % pid) as fh:
        return int(fh.read())


def _set(pid, v):
    with open("/proc/%d/oom_score_adj" % pid, "w") as fh:
        fh.write("%d\n" % v)


def _steps(argv, tmp_path):
    port = free_port()
    p = subprocess.Popen(
        argv + ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    c = redis.Redis(port=port)
    try:
        deadline = time.time() + 20
        while True:
            try:
                c.ping()
                break
            except redis.ConnectionError:
                assert time.time() < deadline
                time.sleep(0.05)
        _set(p.pid, 5)
        out = [_score(p.pid)]
        c.config_set("oom-score-adj-values", "10 20 30")
        out.append(_score(p.pid))  # off: untouched
        c.config_set("oom-score-adj", "yes")
        out.append(_score(p.pid))
        c.replicaof("localhost", 1)
        out.append(_score(p.pid))
        c.replicaof("no", "one")
        out.append(_score(p.pid))
        c.set("k", "v")
        c.config_set("rdb-key-save-delay", 1000000)
        c.bgsave()
        deadline = time.time() + 10
        child = None
        while child is None and time.time() < deadline:
            kids = subprocess.run(
                ["pgrep", "-P", str(p.pid)], capture_output=True, text=True
            ).stdout.split()
            child = int(kids[0]) if kids else None
        assert child is not None, "no child"
        deadline = time.time() + 10
        while _score(child) != 5 + 30 and time.time() < deadline:
            time.sleep(0.02)
        out.append(_score(child))
        c.config_set("oom-score-adj", "absolute")
        out.append(_score(p.pid))
        c.config_set("oom-score-adj", "no")
        out.append(_score(p.pid))
        return out
    finally:
        p.kill()
        p.wait(10)


def test_oom_score_adj_as_redis_server(tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: the scores are compared with its own")
    (tmp_path / "v").mkdir()
    (tmp_path / "r").mkdir()
    ours = _steps([sys.executable, "-m", "vermilion"], tmp_path / "v")
    assert ours == [5, 5, 15, 25, 15, 35, 10, 5]
    assert _steps([REDIS_SERVER], tmp_path / "r") == ours
