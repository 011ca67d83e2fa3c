"""The append-only file: Redis 7.0's multi-part layout, on real files, both ways with redis-server.

Covers the manifest and file names, what a write puts in the incr file (SELECT,
RESP encoding) and when (before the reply), BGREWRITEAOF with writes arriving
during the rewrite, the RDB and the command-format bases, loading (with
truncated tails and corruption), CONFIG SET appendonly at runtime, the old
single-file upgrade, automatic rewrites, DEBUG LOADAOF, and durability under
``kill -9`` with ``appendfsync always``.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
import redis

from vermilion.commands.debug import debug_loadaof

from pers_helpers import (
    REDIS_CHECK_AOF,
    FakeClient,
    free_port,
    in_loop,
    needs_redis,
    populate,
    raw_call,
    snapshot,
    assert_same,
    wait_port,
)

pytestmark = needs_redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def manifest(d):
    return (d / "appendonlydir" / "appendonly.aof.manifest").read_text()


def files(d):
    return sorted(os.listdir(d / "appendonlydir"))


def wait_for(cond, timeout=30.0):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("condition not met in %ss" % timeout)
        time.sleep(0.02)


def no_child(srv):
    return in_loop(srv, lambda: srv.server.snapshot.child_pid) is None


def check_aof(d):
    p = subprocess.run(
        [REDIS_CHECK_AOF, str(d / "appendonlydir" / "appendonly.aof.manifest")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "All AOF files and manifest are valid" in p.stdout


def test_layout_and_incr_contents(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert files(tmp_path) == [
        "appendonly.aof.1.base.rdb",
        "appendonly.aof.1.incr.aof",
        "appendonly.aof.manifest",
    ]
    assert manifest(tmp_path) == (
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    r = redis.Redis(port=srv.port)
    r.set("k", "v")
    # written before the reply: the file has it already
    incr = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert incr == b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    r.execute_command("SELECT", 12)
    r.rpush("l", b"a\r\nb")
    r.get("k")  # reads add nothing
    incr = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert incr.endswith(
        b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$4\r\na\r\nb\r\n"
    )
    check_aof(tmp_path)
    i = dict(ln.split(":", 1) for ln in in_loop(srv, srv.server.info_persistence))
    assert i["aof_enabled"] == "1"
    assert int(i["aof_current_size"]) == sum(
        os.path.getsize(tmp_path / "appendonlydir" / f)
        for f in ("appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof")
    )


@pytest.mark.parametrize("fsync", ["always", "everysec", "no"])
def test_restart_loads_everything(tmp_path, vermilion_factory, fsync):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes", appendfsync=fsync)
    r = redis.Redis(port=srv.port)
    populate(r, big=False)
    r.incr("counter")
    r.incrbyfloat("float", "1.5")
    r.expire("s:small", 1000)
    r.delete("l:small")
    before = snapshot(r, encodings=False)
    srv.stop()
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert_same(snapshot(redis.Redis(port=srv.port), encodings=False), before)
    # loading replays without counting those commands as client traffic
    assert srv.server.cmdstats[0].calls >= 0


def test_vermilion_aof_loads_in_redis(tmp_path, vermilion_factory, redis_proc_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    r = redis.Redis(port=srv.port)
    populate(r)
    r.bgrewriteaof()
    wait_for(lambda: no_child(srv))
    r.set("after-rewrite", "1")
    r.execute_command("SELECT", 3)
    r.delete("db3:key")
    r.execute_command("SELECT", 0)
    before = snapshot(r, encodings=False)
    srv.stop()
    check_aof(tmp_path)
    ref = redis_proc_factory(tmp_path, "dump.rdb", "--appendonly", "yes").client()
    assert_same(snapshot(ref, encodings=False), before)


def test_redis_aof_loads_in_vermilion(tmp_path, vermilion_factory, redis_proc_factory):
    rp = redis_proc_factory(tmp_path, "dump.rdb", "--appendonly", "yes")
    ref = rp.client()
    populate(ref)
    ref.incrbyfloat("f", "2.5")
    ref.expire("s:small", 5000)
    ref.execute_command("SET", "px", "v", "PX", "100000")
    ref.execute_command("GETEX", "s:int", "PX", "200000")
    ref.spop("set:str")
    before = snapshot(ref, encodings=False)
    rp.stop()
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert_same(snapshot(redis.Redis(port=srv.port), encodings=False), before)


def test_rewrite_keeps_writes_made_during_it(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    r = redis.Redis(port=srv.port)
    pipe = r.pipeline(transaction=False)
    for i in range(150000):
        pipe.set(b"k%d" % i, b"v%d" % i)
    pipe.execute()
    assert (
        raw_call(srv.port, "BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
    )
    # the new incr file is in the manifest before the child even finishes
    assert "appendonly.aof.2.incr.aof seq 2 type i" in manifest(tmp_path)
    written = 0
    while not no_child(srv):
        r.set(b"during%d" % written, b"x")
        r.incr("during-counter")
        written += 1
    assert written > 10, "rewrite too fast to test concurrency"
    r.set("after", "1")
    assert manifest(tmp_path) == (
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    )
    assert files(tmp_path) == [
        "appendonly.aof.2.base.rdb",
        "appendonly.aof.2.incr.aof",
        "appendonly.aof.manifest",
    ]
    assert not [f for f in os.listdir(tmp_path) if f.startswith("temp-")]
    check_aof(tmp_path)
    srv.stop()
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    r = redis.Redis(port=srv.port)
    assert r.dbsize() == 150000 + written + 2
    assert int(r.get("during-counter")) == written
    assert r.get(b"during%d" % (written - 1)) == b"x"
    assert r.get("k149999") == b"v149999"


def test_rewrite_without_rdb_preamble(tmp_path, vermilion_factory, redis_proc_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes", aof_use_rdb_preamble="no")
    assert files(tmp_path)[0] == "appendonly.aof.1.base.aof"
    r = redis.Redis(port=srv.port)
    populate(r)
    r.bgrewriteaof()
    wait_for(lambda: no_child(srv))
    assert manifest(tmp_path).startswith("file appendonly.aof.2.base.aof seq 2 type b\n")
    base = (tmp_path / "appendonlydir" / "appendonly.aof.2.base.aof").read_bytes()
    assert base.startswith(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")
    assert b"PEXPIREAT" in base and b"HMSET" in base and b"ZADD" in base
    before = snapshot(r, encodings=False)
    srv.stop()
    check_aof(tmp_path)
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert_same(snapshot(redis.Redis(port=srv.port), encodings=False), before)
    srv.stop()
    ref = redis_proc_factory(tmp_path, "dump.rdb", "--appendonly", "yes").client()
    assert_same(snapshot(ref, encodings=False), before)


def _write_incr(tmp_path, data, truncated_ok="yes"):
    d = tmp_path / "appendonlydir"
    d.mkdir()
    (d / "appendonly.aof.manifest").write_text("file appendonly.aof.1.incr.aof seq 1 type i\n")
    (d / "appendonly.aof.1.incr.aof").write_bytes(data)


GOOD = (
    b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
    b"#TS:1700000000\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n"
)


@pytest.mark.parametrize(
    "tail",
    [
        b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n",
        b"*3\r\n$3\r\nSE",
        b"*",
        b"*3\r\n",
        b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n3\r\n",
    ],
)
def test_truncated_tail(tmp_path, vermilion_factory, tail):
    _write_incr(tmp_path, GOOD + tail)
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    r = redis.Redis(port=srv.port)
    assert sorted(r.keys()) == [b"a", b"b"]
    # the file was cut at the last complete command, and writing continues after it
    r.set("d", "4")
    srv.stop()
    data = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert data == GOOD + (
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nd\r\n$1\r\n4\r\n"
    )
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert sorted(redis.Redis(port=srv.port).keys()) == [b"a", b"b", b"d"]


def test_truncated_tail_refused_without_aof_load_truncated(tmp_path, vermilion_factory):
    _write_incr(tmp_path, GOOD + b"*3\r\n$3\r\nSET\r\n$1\r\nc")
    with pytest.raises(SystemExit) as ei:
        vermilion_factory(dir=str(tmp_path), appendonly="yes", aof_load_truncated="no")
    assert "Unexpected end of file reading the append only file" in str(ei.value)


@pytest.mark.parametrize(
    "bad,expect",
    [
        (b"SET a b\r\n", "Bad file format"),
        (b"*3\r\n$3\r\nSET\r\n!1\r\na\r\n$1\r\n1\r\n", "Bad file format"),
        (b"*0\r\n", "Bad file format"),
        (b"*2\r\n$7\r\nNOTACMD\r\n$1\r\na\r\n", "Unknown command 'NOTACMD'"),
    ],
)
def test_corruption_refuses_to_start(tmp_path, vermilion_factory, bad, expect):
    _write_incr(tmp_path, GOOD + bad + GOOD)
    with pytest.raises(SystemExit) as ei:
        vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert expect in str(ei.value)


@pytest.mark.parametrize(
    "text,expect",
    [
        ("", "Found an empty AOF manifest"),
        ("file a seq 1\n", "Invalid AOF manifest file format"),
        ("file a seq 1 type x\n", "Unknown AOF file type"),
        ("file a/b seq 1 type i\n", "File can't be a path, just a filename"),
        ("file a seq 2 type i\nfile b seq 1 type i\n", "Found a non-monotonic sequence number"),
        ("file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"),
        ("file missing.aof seq 1 type i\n", "doesn't exist"),
    ],
)
def test_bad_manifest_refuses_to_start(tmp_path, vermilion_factory, text, expect):
    d = tmp_path / "appendonlydir"
    d.mkdir()
    (d / "appendonly.aof.manifest").write_text(text)
    if "missing" not in text:
        (d / "a").write_bytes(GOOD)
        (d / "b").write_bytes(GOOD)
    with pytest.raises(SystemExit) as ei:
        vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert expect in str(ei.value)


def test_rdb_base_damage_refuses_to_start(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    redis.Redis(port=srv.port).set("k", "v")
    redis.Redis(port=srv.port).bgrewriteaof()
    wait_for(lambda: no_child(srv))
    srv.stop()
    base = tmp_path / "appendonlydir" / "appendonly.aof.2.base.rdb"
    base.write_bytes(base.read_bytes()[:-3])
    with pytest.raises(SystemExit) as ei:
        vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert "Error reading the RDB base file appendonly.aof.2.base.rdb" in str(ei.value)


def test_config_set_appendonly_at_runtime(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    populate(r, big=False)
    assert not (tmp_path / "appendonlydir").exists()
    assert r.config_set("appendonly", "yes")
    r.set("during-switch", "1")
    wait_for(lambda: no_child(srv))
    wait_for(lambda: "appendonly.aof.1.incr.aof" in manifest(tmp_path))
    r.set("after-switch", "2")
    assert manifest(tmp_path) == (
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    before = snapshot(r, encodings=False)
    assert r.config_set("appendonly", "no")
    r.set("not-logged", "3")
    srv.stop()
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert_same(snapshot(redis.Redis(port=srv.port), encodings=False), before)


def test_old_single_file_aof_is_migrated(tmp_path, vermilion_factory):
    (tmp_path / "appendonly.aof").write_bytes(GOOD)
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    r = redis.Redis(port=srv.port)
    assert sorted(r.keys()) == [b"a", b"b"]
    assert not (tmp_path / "appendonly.aof").exists()
    assert manifest(tmp_path) == (
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    r.set("c", "3")
    srv.stop()
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert sorted(redis.Redis(port=srv.port).keys()) == [b"a", b"b", b"c"]


def test_old_single_file_with_rdb_preamble(tmp_path, vermilion_factory):
    """An appendonly.aof holding an RDB preamble then commands (Redis 4-6 format)."""
    os.makedirs(tmp_path / "src", exist_ok=True)
    src = vermilion_factory(dir=str(tmp_path / "src"))
    redis.Redis(port=src.port).set("from-rdb", "1")
    redis.Redis(port=src.port).save()
    rdbdata = (tmp_path / "src" / "dump.rdb").read_bytes()
    (tmp_path / "appendonly.aof").write_bytes(rdbdata + GOOD)
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert sorted(redis.Redis(port=srv.port).keys()) == [b"a", b"b", b"from-rdb"]


def test_auto_rewrite_on_growth(tmp_path, vermilion_factory):
    srv = vermilion_factory(
        dir=str(tmp_path),
        appendonly="yes",
        auto_aof_rewrite_min_size="10000",
        auto_aof_rewrite_percentage="100",
    )
    r = redis.Redis(port=srv.port)
    for i in range(400):
        r.set(b"key%d" % i, b"x" * 50)
    wait_for(lambda: "seq 2 type b" in manifest(tmp_path), timeout=15)
    wait_for(lambda: no_child(srv))
    i = dict(ln.split(":", 1) for ln in in_loop(srv, srv.server.info_persistence))
    assert i["aof_rewrites"] >= "1"
    assert i["aof_last_bgrewrite_status"] == "ok"


def test_bgrewriteaof_with_aof_off_writes_base_and_manifest(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    r.set("k", "v")
    assert (
        raw_call(srv.port, "BGREWRITEAOF") == b"+Background append only file rewriting started\r\n"
    )
    wait_for(lambda: no_child(srv))
    assert manifest(tmp_path) == "file appendonly.aof.1.base.rdb seq 1 type b\n"


def test_multi_exec_in_aof(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    r = redis.Redis(port=srv.port)
    p = r.pipeline(transaction=True)
    p.set("a", "1")
    p.incr("a")
    p.execute()
    srv.stop()
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    assert redis.Redis(port=srv.port).get("a") == b"2"


def test_debug_loadaof(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    r = redis.Redis(port=srv.port)
    populate(r, big=False)
    before = snapshot(r, encodings=False)
    assert in_loop(srv, debug_loadaof, FakeClient(srv.server), [b"DEBUG", b"LOADAOF"]) is not None
    assert_same(snapshot(r, encodings=False), before)
    # and through the DEBUG command
    assert r.execute_command("DEBUG", "LOADAOF")
    assert_same(snapshot(r, encodings=False), before)


def test_everysec_fsyncs_in_background(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes", appendfsync="everysec")
    r = redis.Redis(port=srv.port)
    r.set("k", "v")
    aof = srv.server.aof
    wait_for(lambda: aof.last_incr_fsync_offset == aof.last_incr_size, timeout=5)


# ------------------------------------------------------------------ kill -9
def _start_process(d, port, *extra):
    log = open(os.path.join(d, "server.log"), "ab")
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vermilion",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(d),
            "--save",
            "",
            "--appendonly",
            "yes",
            *extra,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    wait_port(port, p)
    return p


def test_kill_9_loses_no_acknowledged_write(tmp_path):
    """appendfsync always: every write acknowledged before SIGKILL is there after restart."""
    port = free_port()
    proc = _start_process(tmp_path, port, "--appendfsync", "always")
    acked = {}  # writer -> index of its last acknowledged SET
    counted = {}  # writer -> value its last acknowledged INCR returned
    stop = threading.Event()
    errors = []

    def writer(n):
        c = redis.Redis(port=port, socket_timeout=5)
        i = 0
        try:
            while not stop.is_set():
                c.set(b"w%d:%d" % (n, i), b"v%d" % i)
                acked[n] = i  # only after the reply
                counted[n] = c.incr(b"count%d" % n)
                i += 1
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        except Exception as e:  # noqa: B902
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5 + random.random())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stop.set()
    for t in threads:
        t.join(10)
    assert not errors, errors
    assert sum(acked.values()) > 20
    proc = _start_process(tmp_path, port, "--appendfsync", "always")
    try:
        c = redis.Redis(port=port)
        for n, last in acked.items():
            assert c.get(b"w%d:%d" % (n, last)) == b"v%d" % last
        for n, value in counted.items():
            assert int(c.get(b"count%d" % n)) >= value
    finally:
        proc.terminate()
        proc.wait(15)


def test_timestamp_annotations(tmp_path, vermilion_factory, redis_proc_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes", aof_timestamp_enabled="yes")
    r = redis.Redis(port=srv.port)
    r.set("a", "1")
    now = int(time.time())
    incr = (tmp_path / "appendonlydir" / "appendonly.aof.1.incr.aof").read_bytes()
    assert incr.startswith(b"#TS:")
    assert abs(int(incr[4 : incr.index(b"\r\n")]) - now) <= 1
    srv.stop()
    check_aof(tmp_path)
    ref = redis_proc_factory(tmp_path, "dump.rdb", "--appendonly", "yes").client()
    assert ref.get("a") == b"1"


def test_always_fsyncs_before_replying_with_group_commit(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes", appendfsync="always")
    aof = srv.server.aof
    r = redis.Redis(port=srv.port)
    for i in range(20):
        r.set("k%d" % i, "v")
        # the reply came back: the write is already fsynced
        size, synced = in_loop(srv, lambda: (aof.last_incr_size, aof.last_incr_fsync_offset))
        assert size == synced > 0
    # many clients at once: one fsync serves several, every reply still arrives
    errors = []

    def client(n):
        try:
            c = redis.Redis(port=srv.port)
            for i in range(50):
                assert c.incr("counter%d" % n) == i + 1
        except Exception as e:  # noqa: B902
            errors.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    srv.stop()
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    r = redis.Redis(port=srv.port)
    assert [int(r.get("counter%d" % n)) for n in range(8)] == [50] * 8


def test_bgrewriteaof_scheduled_during_bgsave(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), appendonly="yes")
    r = redis.Redis(port=srv.port)
    pipe = r.pipeline(transaction=False)
    for i in range(100000):
        pipe.set(b"k%d" % i, b"v" * 20)
    pipe.execute()
    assert raw_call(srv.port, "BGSAVE") == b"+Background saving started\r\n"
    assert (
        raw_call(srv.port, "BGREWRITEAOF")
        == b"+Background append only file rewriting scheduled\r\n"
    )
    i = dict(ln.split(":", 1) for ln in in_loop(srv, srv.server.info_persistence))
    assert i["aof_rewrite_scheduled"] == "1" and i["aof_pending_rewrite"] == "1"
    wait_for(lambda: "seq 2 type b" in manifest(tmp_path))
    wait_for(lambda: no_child(srv))
    assert (tmp_path / "dump.rdb").exists()
    i = dict(ln.split(":", 1) for ln in in_loop(srv, srv.server.info_persistence))
    assert i["aof_rewrite_scheduled"] == "0" and i["aof_rewrites"] == "1"
