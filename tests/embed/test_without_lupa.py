"""Without lupa (issue #15, item 6): the server starts, says once why Lua is off,
and EVAL/FCALL answer an error. The server runs as a process whose ``import lupa``
fails, as on a platform without lupa's wheels."""

import os
import socket
import subprocess
import sys
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NO_LUPA = (
    "import sys; sys.modules['lupa'] = None; from vermilion.__main__ import main; sys.exit(main())"
)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            NO_LUPA,
            "--port",
            str(port),
            "--save",
            "",
            "--dir",
            str(tmp_path),
            "--logfile",
            str(log),
        ],
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    r = redis.Redis(port=port)
    deadline = time.time() + 30
    while time.time() < deadline and proc.poll() is None:
        try:
            r.ping()
            return proc, r, log
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not start: %s" % proc.communicate()[0].decode())


def stop(proc, r):
    try:
        r.shutdown(nosave=True)
    except redis.ConnectionError:
        pass
    proc.wait(10)


def test_starts_with_one_log_line_and_eval_says_lua_is_missing(tmp_path):
    proc, r, log = start(tmp_path)
    try:
        lines = [ln for ln in log.read_text().splitlines() if "lupa" in ln]
        assert len(lines) == 1, lines
        assert 'pip install "vermilion[lua]"' in lines[0]
        for cmd in (("EVAL", "return 1", 0), ("FCALL", "f", 0)):
            with pytest.raises(redis.ResponseError, match="lupa"):
                r.execute_command(*cmd)
        assert r.set("k", "v") and r.get("k") == b"v"  # the rest of the server works
    finally:
        stop(proc, r)


def test_eval_error_says_what_to_install(tmp_path):
    proc, r, log = start(tmp_path)
    try:
        with pytest.raises(redis.ResponseError, match=r'pip install "vermilion\[lua\]"'):
            r.execute_command("EVAL", "return 1", 0)
    finally:
        stop(proc, r)


def test_rdb_holding_a_function_starts_without_lupa(tmp_path):
    import vermilion

    with vermilion.start_server(dir=str(tmp_path)) as srv:
        w = redis.Redis(port=srv.port)
        w.function_load("#!lua name=lib\nredis.register_function('f', function() return 1 end)")
        w.set("k", "v")
        w.save()
    proc, r, log = start(tmp_path)
    try:
        assert r.get("k") == b"v"
        with pytest.raises(redis.ResponseError, match=r'pip install "vermilion\[lua\]"'):
            r.fcall("f", 0)
        # the library is still the user's data: saved again, and back with Lua
        r.save()
    finally:
        stop(proc, r)
    with vermilion.start_server(dir=str(tmp_path)) as srv:
        w = redis.Redis(port=srv.port)
        assert w.fcall("f", 0) == 1
