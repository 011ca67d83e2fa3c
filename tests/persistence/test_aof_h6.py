"""Issue #12 (Tcl integration/aof-multi-part, unit/functions, integration/rdb):

* a rewrite started by ``CONFIG SET appendonly yes`` that dies removes its temp
  INCR file and says so ("Removing the temp incr aof file"), writes no manifest,
  and the rewrite scheduled next succeeds with base 1 + incr 1;
* DEBUG LOADAOF on a read-only replica replays the AOF's FUNCTION LOAD / DELETE
  / FLUSH and its writes (the AOF's client skips the replica checks);
* a BGSAVE child reports its copy-on-write size with the keys it has written
  (INFO's current_cow_size / current_cow_peak), as Redis's child info pipe does.
"""

import os
import signal
import time

import pytest
import redis

from vermilion.persistence.snapshot import HAS_FORK

pytestmark = pytest.mark.skipif(not HAS_FORK, reason="no fork: nothing runs in the background")

LIB = "#!lua name=test\nredis.register_function('test', function() return 'hello' end)"


def _wait(cond, timeout=20):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def _rewrite_done(r):
    _wait(lambda: not r.info("persistence")["aof_rewrite_in_progress"])


def test_failed_first_rewrite_removes_temp_incr(tmp_path, vermilion_factory):
    log = tmp_path / "log"
    srv = vermilion_factory(
        dir=str(tmp_path), save="", logfile=str(log), loglevel="notice", appendonly="no"
    )
    r = redis.Redis(host=srv.host, port=srv.port)
    for i in range(50):
        r.set("k%d" % i, i)
    r.config_set("rdb-key-save-delay", 10000000)
    r.config_set("appendonly", "yes")
    info = r.info("persistence")
    assert info["aof_rewrite_in_progress"] == 1
    r.set("during", "1")
    os.kill(_child_pid(log), signal.SIGKILL)
    _wait(lambda: "Removing the temp incr aof file" in log.read_text())
    aofdir = tmp_path / "appendonlydir"
    assert not (aofdir / "appendonly.aof.manifest").exists()
    assert not (aofdir / "appendonly.aof.1.base.rdb").exists()
    # the next rewrite is scheduled: let it succeed
    _wait(lambda: r.info("persistence")["aof_rewrite_in_progress"] == 1)
    r.config_set("rdb-key-save-delay", 0)
    os.kill(_child_pid(log), signal.SIGKILL)
    _wait(lambda: log.read_text().count("Removing the temp incr aof file") == 2)
    _wait(lambda: (aofdir / "appendonly.aof.manifest").exists())
    _rewrite_done(r)
    assert (aofdir / "appendonly.aof.manifest").read_text() == (
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    assert log.read_text().count("Removing the temp incr aof file") == 2
    r.set("after", "1")
    d1 = r.execute_command("DEBUG", "DIGEST")
    r.execute_command("DEBUG", "LOADAOF")
    assert r.execute_command("DEBUG", "DIGEST") == d1
    assert r.get("after") == b"1" and r.get("k7") == b"7"


def _child_pid(log):
    """The pid of the last rewrite child started (from the log: INFO has no such field)."""
    text = log.read_text()
    marker = "Background append only file rewriting started by pid "
    return int(text.rsplit(marker, 1)[1].split()[0])


def test_debug_loadaof_on_read_only_replica_replays_functions(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), save="")
    r = redis.Redis(host=srv.host, port=srv.port, decode_responses=True)
    r.config_set("appendonly", "yes")
    _rewrite_done(r)

    def reload_as_replica():
        r.config_set("replica-read-only", "yes")
        r.execute_command("REPLICAOF", "127.0.0.1", "0")
        r.execute_command("DEBUG", "LOADAOF")
        r.execute_command("REPLICAOF", "NO", "ONE")

    r.function_load(LIB)
    r.set("x", "1")
    reload_as_replica()
    assert [lib[1] for lib in r.function_list()] == ["test"]
    assert r.get("x") == "1"
    r.function_delete("test")
    reload_as_replica()
    assert r.function_list() == []
    r.function_load(LIB)
    r.function_flush()
    reload_as_replica()
    assert r.function_list() == []


def test_bgsave_child_reports_copy_on_write(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), save="")
    r = redis.Redis(host=srv.host, port=srv.port)
    info = r.info("persistence")
    assert info["current_cow_size"] == 0 and info["current_cow_peak"] == 0
    with r.pipeline(transaction=False) as p:
        for i in range(20000):
            p.set("key%d" % i, "A" * 500)
        p.execute()
    r.config_set("rdb-key-save-delay", 100)
    r.bgsave()
    seen = []
    while r.info("persistence")["rdb_bgsave_in_progress"]:
        info = r.info("persistence")
        seen.append((info["current_cow_size"], info["current_cow_peak"]))
        r.setrange("key%d" % len(seen), 0, "B" * 500)
        time.sleep(0.05)
    r.config_set("rdb-key-save-delay", 0)
    assert any(cow > 0 for cow, _ in seen), seen
    assert all(peak >= cow for cow, peak in seen), seen
    info = r.info("persistence")
    assert info["current_cow_size"] == 0 and info["current_cow_peak"] == 0
