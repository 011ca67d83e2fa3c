"""proc-title-template (redisSetProcTitle): the command line ``ps`` shows is the
expanded template, set at start-up and on CONFIG SET; compared with what a real
redis-server shows for the same template (everything but ``{title}``, the
program's own name). Linux only (/proc/<pid>/cmdline); needs setproctitle."""

import os
import subprocess
import sys
import time

import pytest
import redis

from support import REDIS_SERVER, free_port

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/cmdline"), reason="needs /proc (Linux)"),
]


def _cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as fh:
        return fh.read().replace(b"\0", b" ").decode().strip()


def _spawn(argv, port, tmp_path, name, env=None):
    d = tmp_path / name
    d.mkdir()
    proc = subprocess.Popen(
        argv + ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(d)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    c = redis.Redis(port=port)
    deadline = time.time() + 20
    while True:
        try:
            c.ping()
            return proc, c
        except redis.ConnectionError:
            assert time.time() < deadline, "no server"
            time.sleep(0.05)


def _titles(proc, c):
    out = [_cmdline(proc.pid)]
    c.config_set(
        "proc-title-template", "TEST {title} {listen-addr} {port} {tls-port} {server-mode}"
    )
    out.append(_cmdline(proc.pid))
    try:
        c.config_set("proc-title-template", "{invalid-var}")
    except redis.ResponseError as e:
        out.append(str(e))
    return out


def test_proc_title_as_redis_server(tmp_path):
    pytest.importorskip("setproctitle", reason="the fast extra's setproctitle rewrites the title")
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: the titles are compared with its own")
    p1, p2 = free_port(), free_port()
    # (a wrapper script names itself in VERMILION_ARGV0, as the Tcl suite's does)
    env = dict(os.environ, VERMILION_ARGV0="/opt/x/redis-server")
    v_proc = r_proc = None
    try:
        v_proc, v = _spawn([sys.executable, "-m", "vermilion"], p1, tmp_path, "v", env)
        r_proc, r = _spawn([REDIS_SERVER], p2, tmp_path, "r")
        got, want = _titles(v_proc, v), _titles(r_proc, r)
        assert got[0] == "/opt/x/redis-server 127.0.0.1:%d" % p1
        assert want[0].endswith("redis-server 127.0.0.1:%d" % p2)
        assert got[1] == "TEST /opt/x/redis-server 127.0.0.1:%d %d 0" % (p1, p1)
        assert want[1].split(" ", 2)[2] == "127.0.0.1:%d %d 0" % (p2, p2)
        assert got[2] == want[2] and "template format is invalid" in got[2]
    finally:
        for p in (v_proc, r_proc):
            if p is not None:
                p.kill()
                p.wait()
