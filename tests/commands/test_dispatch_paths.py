"""The dispatcher's two paths account for a command the same way.

``core/dispatch.py`` runs a plain command from a client in no special state on
its fast loop, which does ``call()``'s steps inline; everything else goes through
``process_command`` and ``call()``. This test runs one workload on two fresh
servers: once from an ordinary client (the fast path) and once from a client
authenticated as an ACL user that may run everything used here (a restricted
user, so every command takes the slow path). Replies, INFO commandstats and
errorstats, the slowlog, MONITOR's lines and the AOF must come out the same.
"""

import os
import re
import threading

import pytest
import redis

from support import RawConn
from vermilion.embed import start_server

WORKLOAD = [
    ("SET", "k", "v"),
    ("GET", "k"),
    ("GET", "missing"),
    ("INCR", "n"),
    ("INCRBY", "n", "5"),
    ("LPUSH", "l", "a", "b", "c"),
    ("RPOP", "l"),
    ("LRANGE", "l", "0", "-1"),
    ("SADD", "s", "x", "y"),
    ("HSET", "h", "f", "1"),
    ("ZADD", "z", "1", "m"),
    ("ZPOPMIN", "z"),
    ("INCR", "k"),
    ("LPUSH", "k", "x"),
    ("MSET", "a", "1", "b", "2"),
    ("DEL", "a", "b"),
    ("EXPIRE", "k", "100"),
    ("PING",),
    ("ECHO", "hi"),
    ("GET",),
    ("SET", "k"),
    ("NOSUCHCOMMAND", "x"),
    ("SET", "k", "v", "EX", "50"),
]


def _one_by_one(c):
    """The workload's replies, each request sent on its own (errors as text)."""
    replies = []
    for cmd in WORKLOAD:
        try:
            replies.append(c.execute_command(*cmd))
        except redis.ResponseError as e:
            replies.append("error: %s" % e)
    return replies


def _run(tmp, slow):
    tmp.mkdir()
    srv = start_server(dir=str(tmp), appendonly="yes", appendfsync="always")
    try:
        admin = redis.Redis(port=srv.port)
        admin.config_set("slowlog-log-slower-than", 0)
        admin.slowlog_reset()
        if slow:
            admin.execute_command(
                "ACL", "SETUSER", "worker", "on", ">pw", "+@all", "-debug", "~*", "&*"
            )
        lines = []
        mon = redis.Redis(port=srv.port)
        m = mon.monitor().__enter__()
        ready = threading.Event()

        def watch():
            ready.set()
            while True:
                try:
                    info = m.next_command()
                except Exception:
                    return
                lines.append(info["command"])
                if info["command"] == "PING end":
                    return

        t = threading.Thread(target=watch, daemon=True)
        t.start()
        ready.wait()
        c = redis.Redis(
            port=srv.port, username="worker" if slow else None, password="pw" if slow else None
        )
        c.ping()
        assert srv.server.clients  # (connected)
        replies = _one_by_one(c)
        c.execute_command("PING", "end")
        t.join(10)
        stats = admin.info("commandstats")
        errors = admin.info("errorstats")
        slowlog = [e["command"] for e in reversed(admin.slowlog_get(128))]
        aof_dir = os.path.join(str(tmp), "appendonlydir")
        incr = sorted(f for f in os.listdir(aof_dir) if f.endswith(".incr.aof"))[-1]
        with open(os.path.join(aof_dir, incr), "rb") as fh:
            aof = fh.read()
        for conn in (c, admin, mon):
            conn.close()
        return replies, stats, errors, slowlog, lines, aof
    finally:
        srv.stop()


def _without_usec(stats, skip):
    """commandstats without the timings, and without the commands only one side
    sent for its own set-up (AUTH, ACL, HELLO, CLIENT SETINFO...)."""
    return {
        k: {f: v for f, v in d.items() if f in ("calls", "rejected_calls", "failed_calls")}
        for k, d in stats.items()
        if k not in skip
    }


def test_fast_and_slow_paths_account_alike(tmp_path):
    fast = _run(tmp_path / "fast", slow=False)
    slow = _run(tmp_path / "slow", slow=True)
    assert fast[0] == slow[0]  # replies
    setup = {
        "cmdstat_auth",
        "cmdstat_acl|setuser",
        "cmdstat_hello",
        "cmdstat_client|setinfo",
        "cmdstat_config|set",
        "cmdstat_slowlog|reset",
        "cmdstat_slowlog|get",
        "cmdstat_monitor",
        "cmdstat_info",
    }
    assert _without_usec(fast[1], setup) == _without_usec(slow[1], setup)
    assert fast[2] == slow[2]  # errorstats
    work = [" ".join(map(str, cmd)) for cmd in WORKLOAD]

    def ours(entries):
        # the slowlog entries and MONITOR lines of the workload's commands, in order
        return [
            e
            for e in entries
            if isinstance(e, str) and e.split(" ")[0] in {w.split(" ")[0] for w in work}
        ]

    assert ours(fast[3]) == ours(slow[3])  # slowlog
    assert ours([re.sub(r'"', "", x) for x in fast[4]]) == ours(
        [re.sub(r'"', "", x) for x in slow[4]]
    )

    def absolute_times(aof):  # EXPIRE/SET EX are fed as PXAT/PEXPIREAT <unix ms>
        return re.sub(rb"\$13\r\n\d{13}\r\n", b"$13\r\nT\r\n", aof)

    assert absolute_times(fast[5]) == absolute_times(slow[5])  # what the AOF was fed
    assert b"SET" in fast[5] and b"PXAT" in fast[5]  # (the workload's writes are there)


# ------------------------------------------------- a server in no special state
def _plain_run(tmp, mode):
    """The workload on a fresh server without AOF or a low slowlog threshold (so the
    dispatcher may take its shortest paths): ``pipelined`` sends it as one batch
    (dispatch._run_plain, then the general loop from the first command it leaves),
    ``single`` one request at a time (the one-request path), ``slow`` from a
    restricted ACL user (process_command for every command)."""
    tmp.mkdir()
    srv = start_server(dir=str(tmp))
    try:
        admin = redis.Redis(port=srv.port)
        if mode == "slow":
            admin.execute_command(
                "ACL", "SETUSER", "worker", "on", ">pw", "+@all", "-debug", "~*", "&*"
            )
            c = redis.Redis(port=srv.port, username="worker", password="pw")
        else:
            c = redis.Redis(port=srv.port)
        c.ping()
        if mode == "pipelined":
            p = c.pipeline(transaction=False)
            for cmd in WORKLOAD:
                p.execute_command(*cmd)
            replies = [
                "error: %s" % r if isinstance(r, redis.ResponseError) else r
                for r in p.execute(raise_on_error=False)
            ]
        else:
            replies = _one_by_one(c)
        stats = admin.info("commandstats")
        errors = admin.info("errorstats")
        c.close()
        admin.close()
        return replies, stats, errors
    finally:
        srv.stop()


def test_plain_state_paths_answer_and_count_alike(tmp_path):
    runs = {mode: _plain_run(tmp_path / mode, mode) for mode in ("pipelined", "single", "slow")}
    setup = {"cmdstat_auth", "cmdstat_acl|setuser", "cmdstat_hello", "cmdstat_client|setinfo"}
    setup |= {"cmdstat_info", "cmdstat_ping"}
    slow = runs["slow"]
    for mode in ("pipelined", "single"):
        got = runs[mode]
        assert got[0] == slow[0], mode  # replies
        assert _without_usec(got[1], setup) == _without_usec(slow[1], setup), mode
        assert got[2] == slow[2], mode  # errorstats
    assert runs["pipelined"][1]["cmdstat_get"]["calls"] == 2  # (GET with no key: rejected)


def test_writes_seen_by_watch_and_tracking_after_they_come_and_go(tmp_path):
    # A write signals the key (WATCH, client-side caching) unless the database is
    # "quiet" (keyspace/db.py): the flag must follow WATCH/UNWATCH/EXEC and
    # tracking switched on and off, in every order.
    srv = start_server(dir=str(tmp_path))
    try:
        a = redis.Redis(port=srv.port)
        b = redis.Redis(port=srv.port)
        writes = [  # (each one changes its key every time: {} is a counter)
            ("SET", "k", "{}"),
            ("INCR", "n"),
            ("LPUSH", "l", "x"),
            ("RPUSH", "l", "y"),
            ("SADD", "s", "m{}"),
            ("HSET", "h", "f", "{}"),
            ("ZADD", "z", "1", "m{}"),
            ("MSET", "k", "{}", "n", "5"),
        ]
        count = iter(range(1000))
        for template in writes:
            key = template[1]
            for _ in range(2):  # (twice: the flag is recomputed after the first EXEC)
                cmd = [x.format(next(count)) for x in template]
                p = a.pipeline(transaction=True)
                p.watch(key)
                p.unwatch()
                p.watch(key)
                b.execute_command(*cmd)  # another client writes the watched key
                p.multi()
                p.get("k")
                with pytest.raises(redis.WatchError):
                    p.execute()
                p.reset()
            # nothing watched now: the same write must simply work
            b.execute_command(*[x.format(next(count)) for x in template])

        inv = RawConn("127.0.0.1", srv.port)
        inv.send_command("CLIENT", "ID")
        inv_id = inv.read_reply()[1:-2]
        inv.send_command("SUBSCRIBE", "__redis__:invalidate")
        inv.read_reply()
        t = redis.Redis(port=srv.port, single_connection_client=True)
        message = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
        for _ in range(2):  # tracking on, off, on again
            t.execute_command("CLIENT", "TRACKING", "ON", "REDIRECT", inv_id)
            t.get("k")
            b.execute_command("INCR", "k")
            assert inv.read_reply() == message
            t.execute_command("CLIENT", "TRACKING", "OFF")
            b.execute_command("INCR", "k")  # quiet again: nothing to send
        inv.sock.settimeout(0.2)
        with pytest.raises(OSError):  # (a timeout: nothing came after OFF)
            inv.read_reply()
        # tracking switched off while a WATCH is held: the WATCH still sees writes
        p = a.pipeline(transaction=True)
        p.watch("l")
        t.execute_command("CLIENT", "TRACKING", "ON")
        t.execute_command("CLIENT", "TRACKING", "OFF")
        b.lpush("l", "z")
        p.multi()
        p.get("k")
        with pytest.raises(redis.WatchError):
            p.execute()
        p.reset()
        for conn in (t, a, b):
            conn.close()
        inv.sock.close()
    finally:
        srv.stop()
