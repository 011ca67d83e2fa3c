"""SAVE, BGSAVE, LASTSAVE, save rules, shutdown saves, startup loading, DEBUG RELOAD.

Everything runs on real files in a temporary ``dir``; replies are compared with
redis-server where the command exists there in the same situation.
"""

import os
import shutil
import time

import pytest
import redis

from vermilion.commands.debug import debug_reload
from pers_helpers import FakeClient, in_loop, needs_redis, populate, raw_call, snapshot, assert_same
from vermilion.errors import CommandError

pytestmark = needs_redis


def info(srv):
    lines = in_loop(srv, srv.server.info_persistence)
    return dict(line.split(":", 1) for line in lines)


def wait_for(cond, timeout=20.0):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("condition not met in %ss" % timeout)
        time.sleep(0.02)


def test_save_and_lastsave(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    before = r.lastsave()
    r.set("a", "1")
    r.set("b", "2")
    assert info(srv)["rdb_changes_since_last_save"] == "2"
    time.sleep(1.1)
    assert r.save() is True
    assert (tmp_path / "dump.rdb").exists()
    assert r.lastsave() > before
    i = info(srv)
    assert i["rdb_changes_since_last_save"] == "0"
    assert i["rdb_last_bgsave_status"] == "ok"
    assert i["rdb_saves"] == "1"
    assert not [f for f in os.listdir(tmp_path) if f.startswith("temp-")]


def test_save_arity_and_bgsave_syntax(diff):
    diff("SAVE", "x")
    diff("BGSAVE", "x")
    diff("BGSAVE", "SCHEDULE", "x")
    diff("LASTSAVE", "x")
    diff("BGREWRITEAOF", "x")


def test_bgsave_writes_file_while_serving(tmp_path, vermilion_factory, redis_proc_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    populate(r)
    expected = snapshot(r, encodings=False)
    assert raw_call(srv.port, "BGSAVE") == b"+Background saving started\r\n"
    # a second BGSAVE while the child runs is refused like Redis does
    assert raw_call(srv.port, "BGSAVE") == b"-ERR Background save already in progress\r\n"
    # writes after the fork are not in the file but stay in memory
    r.set("after-fork", "x")
    wait_for(lambda: info(srv)["rdb_bgsave_in_progress"] == "0")
    i = info(srv)
    assert i["rdb_last_bgsave_status"] == "ok"
    assert int(i["rdb_changes_since_last_save"]) >= 1
    assert r.get("after-fork") == b"x"
    ref = redis_proc_factory(tmp_path).client()
    assert_same(snapshot(ref, encodings=False), expected)


def test_bgsave_parent_keeps_serving(tmp_path, vermilion_factory):
    """The fork child writes; the parent answers meanwhile (latency stays low)."""
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    pipe = r.pipeline(transaction=False)
    for i in range(200000):
        pipe.set(b"key:%d" % i, b"value-%d-" % i * 4)
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    t0 = time.time()
    assert r.bgsave() is True
    fork_reply = time.time() - t0
    worst = 0.0
    pings = 0
    while info(srv)["rdb_bgsave_in_progress"] == "1":
        t = time.time()
        assert r.ping()
        worst = max(worst, time.time() - t)
        pings += 1
        time.sleep(0.005)
    total = time.time() - t0
    assert info(srv)["rdb_last_bgsave_status"] == "ok"
    assert pings >= 3, "the save finished too fast to observe (%.2fs)" % total
    assert worst < 0.25, "a PING took %.3fs during BGSAVE" % worst
    print(
        "BGSAVE of 200k keys: reply in %.3fs, done in %.2fs, %d PINGs answered, worst %.1fms"
        % (fork_reply, total, pings, worst * 1000)
    )


def test_bgsave_schedule_while_aof_rewrite(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    pipe = r.pipeline(transaction=False)
    for i in range(100000):
        pipe.set(b"k%d" % i, b"v" * 50)
    pipe.execute()
    assert r.bgrewriteaof() in (True, b"Background append only file rewriting started")
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command("BGSAVE")
    assert "Another child process is active (AOF?)" in str(ei.value)
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command("BGREWRITEAOF")
    assert "already in progress" in str(ei.value)
    assert raw_call(srv.port, "BGSAVE", "SCHEDULE") == b"+Background saving scheduled\r\n"
    # the scheduled BGSAVE runs after the rewrite
    wait_for(lambda: (tmp_path / "dump.rdb").exists())
    wait_for(lambda: info(srv)["rdb_bgsave_in_progress"] == "0")
    assert info(srv)["aof_last_bgrewrite_status"] == "ok"


def test_save_rules_trigger_bgsave(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), save="1 2")
    r = redis.Redis(port=srv.port)
    r.set("a", "1")
    time.sleep(1.5)
    assert not (tmp_path / "dump.rdb").exists()  # 1 change < 2
    r.set("b", "2")
    wait_for(lambda: (tmp_path / "dump.rdb").exists(), timeout=10)
    wait_for(lambda: info(srv)["rdb_changes_since_last_save"] == "0")


def test_shutdown_saves_per_rules_and_flags(tmp_path, vermilion_factory):
    d1, d2, d3 = tmp_path / "rules", tmp_path / "nosave", tmp_path / "force"
    for d in (d1, d2, d3):
        d.mkdir()
    srv = vermilion_factory(dir=str(d1), save="3600 1")
    redis.Redis(port=srv.port).set("k", "v")
    srv.loop.call_soon_threadsafe(srv.server.request_shutdown, None)
    srv.thread.join(10)
    assert (d1 / "dump.rdb").exists()
    srv = vermilion_factory(dir=str(d2), save="3600 1")
    redis.Redis(port=srv.port).set("k", "v")
    srv.loop.call_soon_threadsafe(srv.server.request_shutdown, False)  # SHUTDOWN NOSAVE
    srv.thread.join(10)
    assert not (d2 / "dump.rdb").exists()
    srv = vermilion_factory(dir=str(d3), save="")
    redis.Redis(port=srv.port).set("k", "v")
    srv.loop.call_soon_threadsafe(srv.server.request_shutdown, True)  # SHUTDOWN SAVE
    srv.thread.join(10)
    assert (d3 / "dump.rdb").exists()
    srv = vermilion_factory(dir=str(d3))
    assert redis.Redis(port=srv.port).get("k") == b"v"


def test_shutdown_kills_running_child(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    pipe = r.pipeline(transaction=False)
    for i in range(150000):
        pipe.set(b"k%d" % i, b"v" * 30)
    pipe.execute()
    r.bgsave()
    pid = srv.server.snapshot.child_pid
    assert pid
    srv.loop.call_soon_threadsafe(srv.server.request_shutdown, False)
    srv.thread.join(10)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped
    assert not [f for f in os.listdir(tmp_path) if f.startswith("temp-")]


def test_save_error_reply_and_status(tmp_path, vermilion_factory, real_redis):
    d = tmp_path / "gone"
    d.mkdir()
    srv = vermilion_factory(dir=str(d))
    r = redis.Redis(port=srv.port)
    r.set("k", "v")
    shutil.rmtree(d)
    with pytest.raises(redis.ResponseError) as ei:
        r.save()
    assert str(ei.value) == ""  # Redis answers a bare "-ERR"
    assert info(srv)["rdb_last_bgsave_status"] == "err"
    d.mkdir()
    assert r.save()
    assert info(srv)["rdb_last_bgsave_status"] == "ok"


def test_bgsave_failure_is_reported(tmp_path, vermilion_factory):
    d = tmp_path / "gone"
    d.mkdir()
    srv = vermilion_factory(dir=str(d))
    r = redis.Redis(port=srv.port)
    r.set("k", "v")
    shutil.rmtree(d)
    assert r.bgsave()
    wait_for(lambda: info(srv)["rdb_bgsave_in_progress"] == "0")
    assert info(srv)["rdb_last_bgsave_status"] == "err"


def test_startup_load_logs_and_counts(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    populate(r, big=False)
    n = sum(len(v) for v in snapshot(r, encodings=False).values())
    r.save()
    srv.stop()
    log = tmp_path / "log.txt"
    srv = vermilion_factory(dir=str(tmp_path), logfile=str(log), loglevel="notice")
    text = log.read_text()
    assert "DB loaded from disk" in text
    assert "Loading RDB produced by version 7.0.15" in text
    assert "Done loading RDB, keys loaded: %d, keys expired: 0." % n in text
    i = info(srv)
    assert i["rdb_last_load_keys_loaded"] == str(n)
    assert i["rdb_changes_since_last_save"] == "0"


def test_info_persistence_lines_match_redis_names(tmp_path, vermilion_factory, real_redis):
    srv = vermilion_factory(dir=str(tmp_path))
    ours = [ln.split(":")[0] for ln in in_loop(srv, srv.server.info_persistence)]
    raw = redis.Redis(port=real_redis.port).connection_pool.get_connection()
    raw.send_command("INFO", "persistence")
    text = raw.read_response(disable_decoding=True).decode()
    theirs = [ln.split(":")[0] for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert ours == theirs


def test_debug_reload(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    populate(r, big=False)
    before = snapshot(r, encodings=False)
    server = srv.server
    fc = FakeClient(server)
    assert in_loop(srv, debug_reload, fc, [b"DEBUG", b"RELOAD"]) is not None
    assert_same(snapshot(r, encodings=False), before)
    # NOSAVE + NOFLUSH + MERGE: the file's keys replace the ones in memory
    r.set("s:small", "changed")
    r.set("only-in-memory", "1")
    in_loop(srv, debug_reload, fc, [b"DEBUG", b"RELOAD", b"NOSAVE", b"NOFLUSH", b"MERGE"])
    assert r.get("s:small") == b"hello"
    assert r.get("only-in-memory") == b"1"
    # NOFLUSH without MERGE: duplicate keys are an error, nothing changes
    r.set("s:small", "changed")
    with pytest.raises(CommandError) as ei:
        in_loop(srv, debug_reload, fc, [b"DEBUG", b"RELOAD", b"NOSAVE", b"NOFLUSH"])
    assert ei.value.msg == "ERR Error trying to load the RDB dump"
    assert r.get("s:small") == b"changed"
    with pytest.raises(CommandError) as ei:
        in_loop(srv, debug_reload, fc, [b"DEBUG", b"RELOAD", b"BOGUS"])
    assert ei.value.msg == "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."
    # a damaged file: error, dataset untouched
    path = tmp_path / "dump.rdb"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CommandError):
        in_loop(srv, debug_reload, fc, [b"DEBUG", b"RELOAD", b"NOSAVE"])
    assert r.get("only-in-memory") == b"1"


def test_debug_reload_via_command_if_available(tmp_path, vermilion_factory, real_redis):
    """Once the DEBUG command exists it must route RELOAD here and answer +OK."""
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    r.rpush("l", "a", "b")
    try:
        reply = r.execute_command("DEBUG", "RELOAD")
    except redis.ResponseError as e:
        if "unknown command" in str(e) or "unknown subcommand" in str(e).lower():
            pytest.skip("DEBUG is not implemented yet: %s" % e)
        raise
    assert reply in (True, b"OK")
    assert r.lrange("l", 0, -1) == [b"a", b"b"]


def test_embedded_server_without_dir_writes_in_cwd(tmp_path, vermilion_factory, monkeypatch):
    monkeypatch.chdir(tmp_path)
    srv = vermilion_factory()
    r = redis.Redis(port=srv.port)
    r.set("x", "y")
    assert r.save()
    assert os.path.exists(os.path.join(srv.server.config.get("dir") or str(tmp_path), "dump.rdb"))


def test_misconf_after_failed_bgsave(tmp_path, vermilion_factory, redis_proc_factory):
    """stop-writes-on-bgsave-error: writes (and PING) answer MISCONF until a save works."""
    vdir, rdir = tmp_path / "v", tmp_path / "r"
    vdir.mkdir()
    rdir.mkdir()
    srv = vermilion_factory(dir=str(vdir), save="3600 1")
    ref = redis_proc_factory(rdir, "dump.rdb", "--save", "3600 1")
    shutil.rmtree(vdir)
    shutil.rmtree(rdir)
    for port in (srv.port, ref.port):
        assert raw_call(port, "BGSAVE") == b"+Background saving started\r\n"
    wait_for(lambda: info(srv)["rdb_last_bgsave_status"] == "err")
    wait_for(
        lambda: b"rdb_last_bgsave_status:err" in raw_call(ref.port, "INFO", "persistence"),
        timeout=10,
    )
    time.sleep(0.2)  # our cron applies the state
    for cmd in (
        ["SET", "k", "v"],
        ["PING"],
        ["GET", "k"],
        ["DEL", "k"],
        ["MULTI"],
        ["SET", "k", "v"],
        ["GET", "k"],
        ["EXEC"],
        ["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
        ["SET", "k", "v"],
        ["PING"],
    ):
        a, b = raw_call(ref.port, *cmd), raw_call(srv.port, *cmd)
        assert a == b, (cmd, a, b)
    raw_call(ref.port, "CONFIG", "SET", "save", "")  # let it shut down without saving


def test_loading_state_refuses_commands_without_the_loading_flag(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    server = srv.server

    def loading(on):
        server.loading = 1 if on else 0
        server.set_special("loading", on)

    in_loop(srv, loading, True)
    try:
        assert (
            raw_call(srv.port, "GET", "k") == b"-LOADING Redis is loading the dataset in memory\r\n"
        )
        assert raw_call(srv.port, "PING") == b"-LOADING Redis is loading the dataset in memory\r\n"
        assert raw_call(srv.port, "INFO", "persistence").startswith(b"$")  # INFO is allowed
    finally:
        in_loop(srv, loading, False)
    assert raw_call(srv.port, "GET", "k") == b"$-1\r\n"
