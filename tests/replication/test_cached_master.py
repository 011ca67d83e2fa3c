"""A full sync cut short keeps the cached master (integration/replication's
"Discard cache master before loading transferred RDB when full sync").

A replica of master1 turned to master2 keeps master1's history (its cached master)
while master2's RDB is on its way: only loading it discards that history
(replicationAttachToNewMaster). So when master2 dies in the middle of its RDB and
the replica goes back to master1, master1 continues it with a partial resync and
the replica's own sub-replica stays connected. Run with every node Vermilion and,
when installed, every node redis-server.
"""

import pytest

from support import REDIS_SERVER
from replhelp import wait_for, link_up
from test_restart_psync import Proc

KINDS = ["vermilion"] + (["redis"] if REDIS_SERVER is not None else [])


@pytest.mark.parametrize("kind", KINDS)
def test_full_sync_cut_short_keeps_the_cached_master(kind):
    nodes = []
    try:
        master1 = Proc(kind)
        nodes.append(master1)
        master2 = Proc(kind)
        nodes.append(master2)
        replica = Proc(kind)
        nodes.append(replica)
        sub = Proc(kind)
        nodes.append(sub)
        m1, m2, r, s = (n.client() for n in (master1, master2, replica, sub))
        m1.set("a", "b")
        m2.execute_command("DEBUG", "POPULATE", 10, "master2", 10)
        m2.config_set("rdb-key-save-delay", 1000000)  # 10 s for its RDB
        r.replicaof("127.0.0.1", master1.port)
        wait_for(lambda: link_up(r), 20, "replica of master1")
        s.replicaof("127.0.0.1", replica.port)
        wait_for(lambda: link_up(s) and s.get("a") == b"b", 20, "sub-replica")
        replid = m1.info("replication")["master_replid"]

        r.replicaof("127.0.0.1", master2.port)
        wait_for(
            lambda: (
                m2.info("persistence")["rdb_bgsave_in_progress"] == 1
                and "wait_bgsave" in str(m2.info("replication").get("slave0"))
            ),
            20,
            "master2's full sync",
        )
        try:
            m2.shutdown(nosave=True)
        except Exception:
            pass
        assert r.info("replication")["master_replid"] == replid
        full, partial = (m1.info("stats")[k] for k in ("sync_full", "sync_partial_ok"))
        r.replicaof("127.0.0.1", master1.port)
        wait_for(lambda: link_up(r), 20, "replica of master1 again")
        stats = m1.info("stats")
        assert (stats["sync_full"], stats["sync_partial_ok"]) == (full, partial + 1)
        assert r.info("replication")["master_replid"] == replid
        assert s.info("replication")["master_replid"] == replid
        assert (r.info("stats")["sync_full"], r.info("stats")["sync_partial_ok"]) == (1, 0)
        assert "Connection with master lost" not in sub.log()
        for c in (m1, r, s):
            c.close()
    finally:
        for n in nodes:
            n.stop()
