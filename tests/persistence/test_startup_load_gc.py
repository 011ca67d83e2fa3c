"""The RDB loaded at startup and Python's GC (issue #15 item 5: loading speed).

The standalone server freezes the loaded dataset as soon as it is loaded (its
tune_gc would freeze it a moment later, after a collection walking all of it); an
embedded server must never freeze, as that would hide the host program's objects
from the collector. Both load the same data.
"""

import gc
import os
import socket
import subprocess
import sys
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _make_rdb(tmp_path, vermilion_factory, n=5000):
    srv = vermilion_factory(dir=str(tmp_path), save="")
    r = redis.Redis(host=srv.host, port=srv.port)
    with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.set("k%d" % i, "v%d" % i)
        p.hset("h", mapping={"a": "1", "b": "2"})
        p.execute()
    assert r.save()
    srv.stop()
    return n + 1


def test_embedded_startup_load_freezes_nothing(tmp_path, vermilion_factory):
    n = _make_rdb(tmp_path, vermilion_factory)
    frozen = gc.get_freeze_count()
    enabled = gc.isenabled()
    srv = vermilion_factory(dir=str(tmp_path), save="")
    assert srv.server.snapshot.freeze_after_startup_load is False
    assert redis.Redis(host=srv.host, port=srv.port).dbsize() == n
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled() == enabled


def test_standalone_startup_load(tmp_path, vermilion_factory):
    n = _make_rdb(tmp_path, vermilion_factory)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vermilion", "--port", str(port), "--dir", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        r = redis.Redis(port=port)
        deadline = time.time() + 60
        while True:
            try:
                if r.ping():
                    break
            except (redis.ConnectionError, redis.BusyLoadingError):
                pass
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.05)
        assert r.dbsize() == n
        assert r.hgetall("h") == {b"a": b"1", b"b": b"2"}
        r.set("after", "1")  # the frozen dataset is still written to as usual
        r.delete("k1")
        assert r.dbsize() == n
        try:
            r.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # (the server closed the connection as it exited)
    finally:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
