"""Partial resync after a restart, from the RDB's replication aux fields.

Redis 7.0 saves ``repl-stream-db``, ``repl-id`` and ``repl-offset`` in the RDB of
a replica (and of a master with a backlog: rdbPopulateSaveInfo) and, when it
starts from that RDB (loadDataFromDisk), a replica keeps them as its cached
master, so its first PSYNC continues (+CONTINUE); a master keeps the ID as its
second ID, so its replicas continue after it comes back.

These tests run real processes (``python3 -m vermilion`` and redis-server), stop
them with SIGTERM (the final save of the shutdown writes the RDB) and start them
again in the same directory.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import redis

from support import REDIS_SERVER, free_port
from replhelp import wait_for, link_up, dataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Proc:
    """A server process on a fixed port and directory that can be restarted."""

    def __init__(self, kind, *extra):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="vermilion-restart-")
        self.port = free_port()
        self.extra = list(extra)
        self.proc = None
        # The first start may find its port taken (free_port's port is free when it
        # is picked: a client's connection elsewhere can get it as its own port
        # before the server binds it). Nobody knows the port yet then: another one
        # is picked. A restart keeps its port, as replicas and tests know it.
        for attempt in range(3):
            try:
                self.start()
                break
            except AssertionError:
                if self.proc.poll() is None or "in use" not in self.log() or attempt == 2:
                    raise
                self.port = free_port()

    @property
    def logfile(self):
        return os.path.join(self.dir, "server.log")

    def start(self):
        args = [
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.dir,
            "--save",
            "900 1",
            "--appendonly",
            "no",
            "--logfile",
            "server.log",
            "--enable-debug-command",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
            *self.extra,
        ]
        if self.kind == "redis":
            cmd = [REDIS_SERVER] + args
        else:
            cmd = [sys.executable, "-m", "vermilion"] + args
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                c = redis.Redis(port=self.port)
                if c.info("persistence").get("loading") == 0:
                    c.close()
                    break
                c.close()
            except (OSError, redis.exceptions.RedisError):
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise AssertionError(
                    "%s did not start (exit status %s); its log ends with:\n%s"
                    % (self.kind, self.proc.poll(), self.log()[-2000:])
                )
            time.sleep(0.05)

    def restart(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(20)
        self.start()

    def client(self):
        return redis.Redis(port=self.port)

    def log(self):
        try:
            with open(self.logfile) as fh:
                return fh.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def kinds():
    out = [("vermilion", "vermilion")]
    if REDIS_SERVER is not None:
        out += [("redis", "vermilion"), ("vermilion", "redis")]
    return out


@pytest.fixture(params=kinds(), ids=lambda p: "%s-master-%s-replica" % p)
def pair(request):
    mkind, rkind = request.param
    master = Proc(mkind)
    replica = None
    try:
        replica = Proc(rkind, "--replicaof", "127.0.0.1", str(master.port))
        yield master, replica
    finally:
        if replica is not None:
            replica.stop()
        master.stop()


def synced(m, r):
    return m.info("replication")["master_repl_offset"] == r.info("replication").get(
        "slave_repl_offset"
    )


def test_replica_restart_continues(pair):
    master, replica = pair
    m = redis.Redis(port=master.port, single_connection_client=True)
    r = replica.client()
    wait_for(lambda: link_up(r), what="link up")
    m.execute_command("SELECT", 3)
    for i in range(50):
        m.set("k%d" % i, i)
    m.execute_command("SELECT", 5)
    m.rpush("list", *range(10))
    wait_for(lambda: synced(m, r), what="replica in sync")
    before = m.info("stats")
    replid = m.info("replication")["master_replid"]
    replica.restart()
    r = replica.client()
    assert r.info("replication")["master_replid"] == replid
    wait_for(
        lambda: m.info("stats")["sync_partial_ok"] == before["sync_partial_ok"] + 1,
        what="partial resync",
    )
    assert m.info("stats")["sync_full"] == before["sync_full"]
    wait_for(lambda: link_up(r), what="link up again")
    assert "Successful partial resynchronization with master." in replica.log()
    # the stream goes on in the db the master had selected (5, from repl-stream-db)
    m.rpush("list", "after")
    m.execute_command("SELECT", 0)
    m.set("db0", "x")
    wait_for(lambda: synced(m, r), what="replica in sync after restart")
    assert dataset(replica.port) == dataset(master.port)
    assert redis.Redis(port=replica.port, db=5).lrange("list", -1, -1) == [b"after"]


def test_master_restart_lets_its_replicas_continue(pair):
    master, replica = pair
    m = redis.Redis(port=master.port, single_connection_client=True)
    r = replica.client()
    wait_for(lambda: link_up(r), what="link up")
    m.execute_command("SELECT", 2)
    for i in range(20):
        m.set("k%d" % i, i)
    wait_for(lambda: synced(m, r), what="replica in sync")
    old = m.info("replication")
    master.restart()
    m = redis.Redis(port=master.port, single_connection_client=True)
    info = m.info("replication")
    # a restarted master: a new ID, the old one as ID2 up to the saved offset
    assert info["master_replid"] != old["master_replid"]
    assert info["master_replid2"] == old["master_replid"]
    # (the shutdown itself may stream a little more: REPLCONF GETACK to the replicas)
    assert info["master_repl_offset"] >= old["master_repl_offset"]
    assert info["second_repl_offset"] == info["master_repl_offset"] + 1
    wait_for(lambda: m.info("stats")["sync_partial_ok"] == 1, what="partial resync")
    assert m.info("stats")["sync_full"] == 0
    wait_for(lambda: link_up(r), what="link up again")
    m.execute_command("SELECT", 2)
    m.set("after", "restart")
    wait_for(lambda: synced(m, r), what="replica in sync after restart")
    assert dataset(replica.port) == dataset(master.port)
    assert r.info("replication")["master_replid"] == info["master_replid"]


def test_rdb_aux_fields_only_with_replication_history():
    """A lone master (no backlog) saves no repl-* aux fields; a replica does."""
    lone = Proc("vermilion")
    try:
        c = lone.client()
        c.set("x", 1)
        c.save()
        with open(os.path.join(lone.dir, "dump.rdb"), "rb") as fh:
            data = fh.read()
        assert b"repl-id" not in data
        rep = Proc("vermilion", "--replicaof", "127.0.0.1", str(lone.port))
        try:
            r = rep.client()
            wait_for(lambda: link_up(r), what="link up")
            r.save()
            with open(os.path.join(rep.dir, "dump.rdb"), "rb") as fh:
                data = fh.read()
            replid = c.info("replication")["master_replid"].encode()
            assert b"repl-stream-db" in data and b"repl-offset" in data and replid in data
            # and the master, now with a backlog, saves them too
            c.save()
            with open(os.path.join(lone.dir, "dump.rdb"), "rb") as fh:
                assert replid in fh.read()
        finally:
            rep.stop()
    finally:
        lone.stop()


def test_master_restart_feeds_the_keys_it_expired_while_loading(pair):
    """A master restarting from its RDB drops the keys that expired meanwhile and
    feeds a DEL for each into its new backlog (rdbLoad's RDBFLAGS_FEED_REPL), so a
    replica that continues with a partial resync drops them too
    (integration/psync2-master-restart)."""
    master, replica = pair
    m = redis.Redis(port=master.port, single_connection_client=True)
    r = replica.client()
    wait_for(lambda: link_up(r), what="link up")
    m.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    for i in range(64):
        m.execute_command("SELECT", i % 4)
        m.set("e%d" % i, "v", px=10)
        m.set("k%d" % i, "v")
    time.sleep(0.05)
    wait_for(lambda: synced(m, r), what="replica in sync")
    offset = m.info("replication")["master_repl_offset"]
    master.restart()
    m = redis.Redis(port=master.port, single_connection_client=True)
    assert m.info("persistence")["rdb_last_load_keys_expired"] == 64
    info = m.info("replication")
    # (the shutdown itself may stream a little more: REPLCONF GETACK to the replicas)
    saved = info["second_repl_offset"] - 1
    assert saved >= offset
    assert info["master_repl_offset"] == saved + info["repl_backlog_histlen"]
    assert info["repl_backlog_histlen"] > 64 * len(b"*2\r\n$3\r\nDEL\r\n$3\r\ne10\r\n")
    wait_for(lambda: m.info("stats")["sync_partial_ok"] == 1, what="partial resync")
    assert m.info("stats")["sync_full"] == 0
    wait_for(lambda: synced(m, r), what="replica in sync after restart")
    for db in range(4):
        rr = redis.Redis(port=replica.port, db=db)
        assert rr.dbsize() == 16  # the DELs arrived: only the k keys left
    assert dataset(replica.port, range(4)) == dataset(master.port, range(4))
