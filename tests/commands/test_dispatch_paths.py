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

import redis

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
        replies = []
        for cmd in WORKLOAD:
            try:
                replies.append(c.execute_command(*cmd))
            except redis.ResponseError as e:
                replies.append("error: %s" % e)
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
