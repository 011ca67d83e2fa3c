"""A replica's link carries the stream, never a reply (networking.c, Redis 7.0.15).

Once a connection sent SYNC or PSYNC it is a replica: a command of it that
answers anything (PING, a multi-bulk reply like XINFO HELP's or SLOWLOG GET's,
or the "Replica can't interact with the keyspace" refusal of a read) is not
answered. The master logs "Replica generated a reply to command '<name>',
disconnecting it: <CLIENT LIST line>" (and, for an error, "== CRITICAL == This
master is sending an error to its replica: ...") and drops the connection, while
it goes on serving everyone else. Each case runs against Vermilion and, when it
is installed, against redis-server, with the same expectations.

The other half, INFO's ``mem_total_replication_buffers``: the backlog and the
replicas' unsent output share one buffer, so a replica that stops reading makes
the figure grow with what is queued for it (integration/shutdown relies on it).
"""

import os
import signal
import socket
import time

import pytest

from support import REDIS_SERVER, RawConn
from replhelp import wait_for, link_up
from test_restart_psync import Proc

KINDS = ["vermilion"] + (["redis"] if REDIS_SERVER is not None else [])


@pytest.fixture(params=KINDS)
def node(request):
    p = Proc(request.param)
    yield p
    p.stop()


def _read_until_closed(conn, timeout=10.0):
    """Everything the server sends until it closes the connection."""
    conn.sock.settimeout(timeout)
    data = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            chunk = conn.sock.recv(1 << 16)
        except socket.timeout:
            break
        except OSError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def _wait_bgsave(c):
    wait_for(lambda: c.info("persistence")["rdb_bgsave_in_progress"] == 0, 30, "bgsave")


@pytest.mark.parametrize(
    "sync,command,name",
    [
        ("sync", ["PING"], "ping"),
        ("sync", ["XINFO", "HELP"], "xinfo|help"),
        ("psync", ["GET", "foo"], "get"),
        ("psync", ["SLOWLOG", "GET"], "slowlog|get"),
    ],
)
def test_replica_generating_a_reply_is_dropped(node, sync, command, name):
    c = node.client()
    before = len(node.log().splitlines())
    conn = RawConn("127.0.0.1", node.port)
    if sync == "psync":
        line = conn.call("PSYNC", "replicationid", "-1")
        assert line.startswith(b"+FULLRESYNC ") and line.endswith(b" 0\r\n")
    else:
        conn.send_command("SYNC")
    conn.send_command(*command)
    data, closed = _read_until_closed(conn)
    conn.close()
    assert closed
    # no reply of the command reached the replica: what came is the RDB transfer
    assert b"PONG" not in data and b"Replica can't" not in data and b"XINFO" not in data
    assert c.ping() is True
    log = node.log().splitlines()[before:]
    hits = [
        x
        for x in log
        if ("Replica generated a reply to command '%s', disconnecting it: id=" % name) in x
    ]
    assert len(hits) == 1, log
    assert "flags=S" in hits[0]
    critical = [x for x in log if "== CRITICAL == This master is sending an error" in x]
    if name == "get":
        assert len(critical) == 1, log
        assert critical[0].endswith(
            "to its replica: 'Replica can't interact with the keyspace' after processing "
            "the command 'get'"
        )
        assert c.info("stats")["unexpected_error_replies"] == 1
    else:
        assert critical == []
    _wait_bgsave(c)
    c.close()


def test_replica_ack_is_not_a_reply():
    """A real replica's REPLCONF ACKs (no reply) keep its link up."""
    master = Proc("vermilion")
    replica = Proc("vermilion", "--replicaof", "127.0.0.1", str(master.port))
    try:
        m, r = master.client(), replica.client()
        wait_for(lambda: link_up(r), 20, "link up")
        m.set("k", "v")
        wait_for(lambda: r.get("k") == b"v", 10, "the write replicated")
        time.sleep(2.5)  # a few ACKs
        assert m.info("replication")["connected_slaves"] == 1
        # INFO's connected_clients leaves the replicas out (Redis: clients - slaves)
        assert m.info("clients")["connected_clients"] == 1
        assert "Replica generated a reply" not in master.log()
        m.close()
        r.close()
    finally:
        replica.stop()
        master.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_total_replication_buffers_counts_a_stopped_replica(kind):
    """A SIGSTOPped replica: what the master queues for it shows in
    mem_total_replication_buffers (and mem_clients_slaves) once the kernel's
    socket buffers are full, as integration/shutdown waits for."""
    master = Proc(kind)
    replica = Proc(kind, "--replicaof", "127.0.0.1", str(master.port))
    stopped = False
    try:
        m, r = master.client(), replica.client()
        m.config_set("repl-backlog-size", "1")
        wait_for(lambda: link_up(r), 20, "link up")
        m.set("k", "1")
        wait_for(lambda: r.get("k") == b"1", 10, "the write replicated")
        mem = m.info("memory")
        assert mem["mem_total_replication_buffers"] <= 64 * 1024
        assert mem["mem_clients_slaves"] <= 8 * 1024  # (Redis: its 16 KB block's tail)
        os.kill(replica.proc.pid, signal.SIGSTOP)
        stopped = True
        value = b"x" * 1024
        total = 0
        for i in range(200):  # up to 200 MB
            p = m.pipeline(transaction=False)
            for j in range(1024):
                p.set(b"junk%d:%d" % (i, j), value)
            p.execute()
            time.sleep(0.01)
            total = m.info("memory")["mem_total_replication_buffers"]
            if total > 2 * 1024 * 1024:
                break
        assert total > 2 * 1024 * 1024
        mem = m.info("memory")
        # the backlog keeps its (minimum) 16 KB, the rest is the replica's (Redis adds
        # its block index's few bytes to the backlog's figure)
        assert 16 * 1024 <= mem["mem_replication_backlog"] <= 20 * 1024
        assert mem["mem_clients_slaves"] == mem["mem_total_replication_buffers"] - 16 * 1024
        stats = m.memory_stats()  # MEMORY STATS splits it the same way
        assert stats["replication.backlog"] == mem["mem_replication_backlog"]
        assert stats["clients.slaves"] == mem["mem_clients_slaves"]
        os.kill(replica.proc.pid, signal.SIGCONT)
        stopped = False
        wait_for(
            lambda: m.info("memory")["mem_total_replication_buffers"] <= 64 * 1024,
            60,
            "the replica to catch up",
        )
        m.close()
        r.close()
    finally:
        if stopped:
            os.kill(replica.proc.pid, signal.SIGCONT)
        replica.stop()
        master.stop()


def test_no_replicas_no_replication_buffers():
    master = Proc("vermilion")
    try:
        m = master.client()
        mem = m.info("memory")
        assert mem["mem_total_replication_buffers"] == 0
        assert mem["mem_replication_backlog"] == 0
        m.close()
    finally:
        master.stop()


def _critical_and_backlog(log):
    """The text after the log prefix of the CRITICAL line and the backlog line."""
    out = []
    for line in log.splitlines():
        for mark in ("== CRITICAL ==", "Latest backlog is: "):
            if mark in line:
                out.append(line[line.index(mark) :])
    return out


def test_replica_logs_the_errors_of_its_masters_stream():
    """integration/replication-4's 'Data divergence': an error the master's stream
    gets on the replica is logged (the command's name once, not the backlog's copy of
    it: the command reaches the backlog after it ran), with the same text as a
    redis-server replica logs for the same stream."""
    kinds = ["vermilion"] + (["redis"] if REDIS_SERVER is not None else [])
    seen = {}
    for kind in kinds:
        master = Proc("vermilion")
        replica = Proc(
            kind,
            "--replicaof",
            "127.0.0.1",
            str(master.port),
            "--propagation-error-behavior",
            "ignore",
        )
        try:
            m, r = master.client(), replica.client()
            wait_for(lambda: link_up(r), 20, "link up")
            m.set("foo", "bar")
            m.execute_command("DEBUG", "REPLICATE", "fake-command-1")
            m.set("foo", "bar2")
            assert m.execute_command("WAIT", 1, 2000) == 1
            wait_for(lambda: r.get("foo") == b"bar2", 10, "the stream")
            log = replica.log()
            assert log.count("fake-command-1") == 1, log
            assert log.count("== CRITICAL ==") == 1, log
            r.config_set("replica-read-only", "no")
            r.set("number2", "foo")
            m.incrby("number2", 1)
            assert m.execute_command("WAIT", 1, 2000) == 1
            wait_for(lambda: "incrby" in replica.log(), 10, "the incrby error")
            assert r.get("number2") == b"foo"
            log = replica.log()
            assert log.count("incrby") == 1, log
            assert r.info("stats")["unexpected_error_replies"] == 2
            seen[kind] = _critical_and_backlog(log)
            m.close()
            r.close()
        finally:
            replica.stop()
            master.stop()
    assert seen["vermilion"][0] == (
        "== CRITICAL == This replica is sending an error to its master: 'unknown command "
        "'fake-command-1', with args beginning with: ' after processing the command '<unknown>'"
    )
    if "redis" in seen:
        # same lines; the backlogs differ only in what each replica keeps of the stream
        assert [x for x in seen["vermilion"] if "CRITICAL" in x] == [
            x for x in seen["redis"] if "CRITICAL" in x
        ]
        assert len(seen["vermilion"]) == len(seen["redis"])
