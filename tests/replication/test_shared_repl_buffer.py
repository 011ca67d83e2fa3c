"""The backlog and the replicas share one replication buffer (Redis 7.0,
integration/replication-buffer): while a replica waits for its RDB, the stream it
will need stays in the backlog, whose history (repl_backlog_histlen) then outgrows
repl-backlog-size; client-output-buffer-limit counts that held stream as the
waiting replica's output, and once it is dropped the history shrinks back. Run
against Vermilion and, when installed, redis-server."""

import pytest

from support import REDIS_SERVER
from replhelp import wait_for
from test_restart_psync import Proc

KINDS = ["vermilion"] + (["redis"] if REDIS_SERVER is not None else [])


@pytest.mark.parametrize("kind", KINDS)
def test_backlog_outgrows_its_size_for_a_waiting_replica(kind):
    master = Proc(kind)
    replica = Proc(kind)
    try:
        m, r = master.client(), replica.client()
        m.config_set("save", "")
        m.config_set("repl-backlog-size", 16384)
        m.config_set("client-output-buffer-limit", "replica 0 0 0")
        for i in range(20):
            m.set("k%d" % i, "v")
        m.config_set("rdb-key-save-delay", 1000000)  # 20 s of RDB
        r.replicaof("127.0.0.1", master.port)
        wait_for(
            lambda: (
                m.info("persistence")["rdb_bgsave_in_progress"] == 1
                and r.execute_command("ROLE")[3] == b"sync"
            ),
            10,
            "the replica waiting for its RDB",
        )
        value = b"x" * 10000
        for i in range(200):  # 2 MB of stream
            m.set(b"big%d" % i, value)
        info = m.info("replication")
        assert info["repl_backlog_histlen"] > 2 * 1000 * 1000
        assert info["repl_backlog_size"] == 16384
        assert m.info("memory")["mem_total_replication_buffers"] > 2 * 1000 * 1000

        # what it holds counts as its output: over the limit, the replica goes
        m.config_set("client-output-buffer-limit", "replica 128k 0 0")
        m.set("trigger", "x" * 65536)
        wait_for(lambda: m.info("replication")["connected_slaves"] == 0, 10, "the drop")
        wait_for(
            lambda: m.info("replication")["repl_backlog_histlen"] < 100 * 1000,
            10,
            "the backlog to shrink",
        )
        m.config_set("rdb-key-save-delay", 0)
        r.replicaof("no", "one")
        m.close()
        r.close()
    finally:
        replica.stop()
        master.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_resetstat_zeroes_the_sync_counters(kind):
    """CONFIG RESETSTAT resets sync_full / sync_partial_ok / sync_partial_err
    (integration/psync2-master-restart counts partial syncs after one)."""
    master = Proc(kind)
    replica = Proc(kind, "--replicaof", "127.0.0.1", str(master.port))
    try:
        m, r = master.client(), replica.client()
        wait_for(lambda: r.info("replication")["master_link_status"] == "up", 20, "link")
        m.client_kill_filter(_type="replica")  # it comes back with a partial sync
        wait_for(lambda: m.info("stats")["sync_partial_ok"] == 1, 20, "partial sync")
        stats = m.info("stats")
        assert (stats["sync_full"], stats["sync_partial_ok"]) == (1, 1)
        m.config_resetstat()
        stats = m.info("stats")
        assert (stats["sync_full"], stats["sync_partial_ok"], stats["sync_partial_err"]) == (
            0,
            0,
            0,
        )
        m.close()
        r.close()
    finally:
        replica.stop()
        master.stop()
