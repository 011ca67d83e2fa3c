"""rename-command in a config file: the old name is gone, the new one runs the
command (from clients and from scripts), "" removes it, the renamed spelling is
what the AOF holds and replays, and a line naming no command or a taken name is
refused as redis-server refuses it. Every reply compared with redis-server."""

import subprocess
import sys
import time

import pytest

from support import REDIS_SERVER, RawConn, free_port

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed: every reply is compared"
)

CONF = "rename-command flushdb badger\nrename-command config \"\"\nappendonly yes\n"


def _start(kind, conf_path, port, cwd):
    argv = [REDIS_SERVER] if kind == "redis" else [sys.executable, "-m", "vermilion"]
    p = subprocess.Popen(
        argv + [conf_path, "--port", str(port), "--bind", "127.0.0.1", "--dir", cwd],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 20
    while True:
        try:
            return p, RawConn("127.0.0.1", port)
        except OSError:
            if p.poll() is not None or time.time() > deadline:
                raise
            time.sleep(0.05)


def _shutdown(c, *args):
    try:
        c.call("SHUTDOWN", *args)  # (no reply: the connection closes)
    except ConnectionError:
        pass


def _session(kind, tmp_path):
    d = tmp_path / kind
    d.mkdir()
    conf = d / "r.conf"
    conf.write_text(CONF)
    port = free_port()
    p, c = _start(kind, str(conf), port, str(d))
    out = []
    try:
        for cmd in (
            ("SET", "a", "1"),
            ("FLUSHDB",),
            ("CONFIG", "GET", "port"),
            ("EVAL", "return redis.call('badger')", "0"),
            ("EVAL", "return redis.call('flushdb')", "0"),
            ("SET", "b", "2"),
            ("badger",),
            ("SET", "c", "3"),
            ("DBSIZE",),
        ):
            out.append(c.call(*cmd))
        _shutdown(c)
    finally:
        p.wait(10)
    # the AOF holds BADGER: a restart replays it under the same configuration
    p, c = _start(kind, str(conf), port, str(d))
    try:
        out.append(c.call("KEYS", "*"))
        _shutdown(c, "NOSAVE")
    finally:
        p.wait(10)
    return out


def test_rename_command_as_redis_server(tmp_path):
    assert _session("vermilion", tmp_path) == _session("redis", tmp_path)


@pytest.mark.parametrize(
    "line", ["rename-command nosuch x", "rename-command get set", "rename-command get"]
)
def test_bad_rename_refused_as_redis_server(tmp_path, line):
    outs = []
    for kind in ("redis", "vermilion"):
        conf = tmp_path / ("%s.conf" % kind)
        conf.write_text(line + "\n")
        argv = [REDIS_SERVER] if kind == "redis" else [sys.executable, "-m", "vermilion"]
        r = subprocess.run(argv + [str(conf)], capture_output=True, timeout=20, cwd=tmp_path)
        outs.append((r.returncode, r.stderr.decode().strip().replace("\n", "|")))
    assert outs[0] == outs[1]
