"""Diskless replication: the master's ``$EOF:<mark>`` streamed RDB (repl-diskless-sync
yes, with repl-diskless-sync-delay) and the replica's repl-diskless-load modes
(disabled / on-empty-db / swapdb, async_loading while the master's ID is ours).

Real processes (``python3 -m vermilion`` and redis-server, see test_restart_psync.Proc).
redis-py retries a command that gets LOADING, so those checks use a raw connection.
"""

import os
import socket
import time

import pytest

from support import REDIS_SERVER, RawConn
from replhelp import wait_for, link_up, dataset
from test_restart_psync import Proc

needs_redis = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


def raw(port, *args):
    """The reply's raw bytes (b"-LOADING ...", b":201\\r\\n"...)."""
    c = RawConn("127.0.0.1", port)
    try:
        return c.call(*args)
    finally:
        c.close()


def force_full_sync(m):
    """Drop the replica's link and overflow the backlog, so that it must full sync again."""
    p = m.pipeline(transaction=True)
    p.client_kill_filter(_type="replica")
    p.config_set("repl-backlog-size", 16384)
    for i in range(10):
        p.set("filler:%d" % i, "A" * 16384)
    p.execute()


@pytest.fixture
def procs():
    made = []

    def make(kind, *extra):
        p = Proc(kind, *extra)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def test_master_streams_eof_payload(procs):
    m = procs("vermilion", "--repl-diskless-sync", "yes")
    M = m.client()
    M.execute_command("DEBUG", "POPULATE", 500, "k", 100)
    c = RawConn("127.0.0.1", m.port)
    try:
        c.call("REPLCONF", "capa", "eof", "capa", "psync2")
        c.send_command("PSYNC", "?", "-1")
        line = c._line()
        assert line.startswith(b"+FULLRESYNC")
        head = c._line()
        while not head:
            head = c._line()
        assert head.startswith(b"$EOF:") and len(head) == 47
    finally:
        c.close()


def test_sync_delay_gathers_replicas(procs):
    """repl-diskless-sync-delay: both replicas share one child (max-replicas 2 starts it
    without waiting the whole delay)."""
    m = procs(
        "vermilion",
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "30",
        "--repl-diskless-sync-max-replicas",
        "2",
    )
    M = m.client()
    M.set("x", "1")
    r1 = procs("vermilion", "--replicaof", "127.0.0.1", str(m.port))
    time.sleep(1.5)
    assert not link_up(r1.client())  # waiting for the second replica
    assert M.info("replication")["slave0"]["state"] == "wait_bgsave"
    r2 = procs("vermilion", "--replicaof", "127.0.0.1", str(m.port))
    wait_for(lambda: link_up(r1.client()) and link_up(r2.client()), what="both up")
    assert M.info("stats")["sync_full"] == 2
    assert r2.client().get("x") == b"1"


def test_swapdb_async_loading_keeps_old_data(procs):
    # (a Vermilion master: a redis-server one keeps more backlog than
    # repl-backlog-size for a while, so the reconnection would continue)
    m = procs("vermilion", "--repl-diskless-sync", "yes", "--save", "")
    r = procs(
        "vermilion", "--repl-diskless-load", "swapdb", "--save", "", "--replica-read-only", "no"
    )
    M, R = m.client(), r.client()
    R.replicaof("127.0.0.1", m.port)
    wait_for(lambda: link_up(R), what="link up")
    R.execute_command("DEBUG", "POPULATE", 200, "slave", 10)
    M.execute_command("DEBUG", "POPULATE", 300, "master", 1000)
    R.set("mykey", "myvalue")
    M.config_set("rdb-key-save-delay", 10000)  # 3 s for the RDB
    force_full_sync(M)
    wait_for(lambda: R.info("persistence")["async_loading"] == 1, what="async_loading")
    assert R.info("persistence")["loading"] == 0
    # the old data is served meanwhile; commands flagged no-async-loading are not
    assert raw(r.port, "GET", "mykey") == b"$7\r\nmyvalue\r\n"
    assert raw(r.port, "DBSIZE") == b":201\r\n"
    assert raw(r.port, "REPLICAOF", "NO", "ONE").startswith(b"-LOADING")
    assert raw(r.port, "CONFIG", "SET", "appendonly", "no").startswith(b"-LOADING")
    # the transfer fails: the old data stays
    M.config_set("repl-diskless-sync-delay", 5)
    M.client_kill_filter(_type="replica")
    wait_for(lambda: R.info("persistence")["async_loading"] == 0, what="async_loading over")
    assert raw(r.port, "GET", "mykey") == b"$7\r\nmyvalue\r\n"
    assert raw(r.port, "DBSIZE") == b":201\r\n"
    # and the next one succeeds: the new data replaces it
    M.config_set("rdb-key-save-delay", 0)
    M.config_set("repl-diskless-sync-delay", 0)
    wait_for(lambda: link_up(R), timeout=30, what="link up again")
    assert R.get("mykey") is None
    assert dataset(r.port) == dataset(m.port)


@pytest.mark.parametrize("master_kind", ["vermilion"] + (["redis"] if REDIS_SERVER else []))
def test_swapdb_different_replid_is_loading(procs, master_kind):
    """swapdb with a master whose history is not ours: LOADING (not async), and a
    failed transfer leaves the old data."""
    m = procs(master_kind, "--repl-diskless-sync", "yes", "--save", "")
    r = procs("vermilion", "--repl-diskless-load", "swapdb", "--save", "")
    M, R = m.client(), r.client()
    R.execute_command("DEBUG", "POPULATE", 200, "slave", 10)
    R.set("mykey", "myvalue")
    # incompressible and big enough that redis-server's child flushes its first
    # bytes (the $EOF: header with them) long before the end
    M.execute_command("DEBUG", "POPULATE", 300, "master", 20000)
    M.config_set("rdbcompression", "no")
    M.config_set("rdb-key-save-delay", 10000)
    R.replicaof("127.0.0.1", m.port)
    wait_for(lambda: R.info("persistence")["loading"] == 1, what="loading")
    assert R.info("persistence")["async_loading"] == 0
    assert raw(r.port, "GET", "mykey").startswith(b"-LOADING")
    M.config_set("repl-diskless-sync-delay", 5)
    M.client_kill_filter(_type="replica")
    wait_for(lambda: R.info("persistence")["loading"] == 0, what="loading over")
    assert R.get("mykey") == b"myvalue"
    assert R.dbsize() == 201
    log = r.log()
    assert "Internal error in RDB reading offset" in log  # the short read, as Redis logs it
    assert "Failed trying to load the MASTER synchronization DB from socket" in log


def test_on_empty_db_loads_from_socket(procs):
    m = procs("vermilion", "--repl-diskless-sync", "yes", "--save", "")
    r = procs("vermilion", "--repl-diskless-load", "on-empty-db", "--save", "")
    M, R = m.client(), r.client()
    M.execute_command("DEBUG", "POPULATE", 300, "master", 100)
    M.config_set("rdb-key-save-delay", 5000)
    R.replicaof("127.0.0.1", m.port)
    wait_for(lambda: R.info("persistence")["loading"] == 1, what="loading")
    M.config_set("rdb-key-save-delay", 0)
    wait_for(lambda: link_up(R), timeout=20, what="link up")
    assert R.dbsize() == 300
    assert "receiving streamed RDB from master with EOF to socket" in r.log()
    assert not os.path.exists(os.path.join(r.dir, "dump.rdb"))


def test_disk_load_keeps_the_rdb_as_dbfilename(procs):
    """repl-diskless-load disabled: the master's RDB becomes our dump.rdb, and a
    restart from it continues the master's history (its aux fields)."""
    m = procs("vermilion", "--repl-diskless-sync", "no", "--save", "")
    r = procs("vermilion", "--save", "", "--replicaof", "127.0.0.1", str(m.port))
    M = m.client()
    wait_for(lambda: link_up(r.client()), what="link up")
    path = os.path.join(r.dir, "dump.rdb")
    assert os.path.exists(path)
    with open(path, "rb") as fh:
        assert M.info("replication")["master_replid"].encode() in fh.read()
    before = M.info("stats")["sync_partial_ok"]
    r.restart()  # save "": the file is the one from the sync
    wait_for(lambda: M.info("stats")["sync_partial_ok"] == before + 1, what="partial resync")


@needs_redis
def test_real_replica_of_our_diskless_master(procs):
    m = procs("vermilion", "--repl-diskless-sync", "yes")
    M = m.client()
    M.execute_command("DEBUG", "POPULATE", 1000, "k", 50)
    M.config_set("rdb-key-save-delay", 200)
    for load in ("disabled", "swapdb"):
        r = procs("redis", "--repl-diskless-load", load, "--replicaof", "127.0.0.1", str(m.port))
        R = r.client()
        wait_for(lambda: link_up(R), timeout=20, what="link up")
        M.set("after-%s" % load, "1")
        wait_for(lambda: R.get("after-%s" % load) == b"1", what="stream after the RDB")
        assert dataset(r.port) == dataset(m.port)


def test_replica_times_out_a_silent_handshake(procs):
    """repl-timeout on the replica: a master that stops answering during the
    handshake (DEBUG SLEEP while the replica waits for its diskless sync to start)."""
    m = procs("vermilion", "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "1000")
    r = procs("vermilion", "--repl-timeout", "2")
    R = r.client()
    R.replicaof("127.0.0.1", m.port)
    wait_for(lambda: R.execute_command("ROLE")[3] == b"handshake", what="handshake")
    m.client().execute_command("DEBUG", "SLEEP", 0)  # (the newlines keep it alive)
    time.sleep(3)
    assert "Timeout connecting to the MASTER" not in r.log()
    c = RawConn("127.0.0.1", m.port)
    c.send_command("DEBUG", "SLEEP", 5)
    wait_for(lambda: "Timeout connecting to the MASTER" in r.log(), what="timeout logged")
    c.close()


def test_master_drops_a_replica_without_acks(procs):
    """repl-timeout on the master: an online PSYNC replica that sends no REPLCONF ACK."""
    m = procs("vermilion", "--repl-timeout", "2", "--repl-diskless-sync", "no")
    c = RawConn("127.0.0.1", m.port)
    try:
        c.call("REPLCONF", "capa", "psync2")
        c.send_command("PSYNC", "?", "-1")
        wait_for(lambda: "Disconnecting timedout replica" in m.log(), timeout=15, what="drop")
        assert m.client().info("replication")["connected_slaves"] == 0
    finally:
        c.close()


def test_master_drops_a_stalled_replica_during_the_rdb_pipe(procs):
    """repl-timeout during a diskless transfer (integration/replication's "diskless
    timeout replicas drop during rdb pipe"): a replica that stops reading its RDB is
    dropped at once, once (its unread output discarded, not waited for), and the
    child, which no one waits for any more, ends."""
    m = procs("vermilion", "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
    M = m.client()
    M.execute_command("DEBUG", "POPULATE", 20000, "k", 1000)  # 20 MB of RDB
    M.config_set("rdbcompression", "no")
    M.config_set("rdb-key-save-delay", 100)
    M.config_set("repl-timeout", 2)
    c = RawConn("127.0.0.1", m.port)
    try:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.call("REPLCONF", "capa", "eof", "capa", "psync2")
        c.send_command("PSYNC", "?", "-1")  # and never read: a stopped replica
        wait_for(lambda: M.info("persistence")["rdb_bgsave_in_progress"] == 1, what="child")
        wait_for(
            lambda: "Disconnecting timedout replica (full sync)" in m.log(),
            timeout=20,
            what="drop",
        )
        wait_for(
            lambda: M.info("persistence")["rdb_bgsave_in_progress"] == 0,
            timeout=10,
            what="the child to end",
        )
        assert M.info("replication")["connected_slaves"] == 0
        time.sleep(0.5)
        assert m.log().count("Disconnecting timedout replica (full sync)") == 1
    finally:
        c.close()
