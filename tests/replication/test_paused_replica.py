"""CLIENT PAUSE on a replica holds back its master's stream (unit/pause): the
replica goes on reading it (slave_read_repl_offset reaches the master's offset)
but applies nothing, so slave_repl_offset stays and the key is not there; after
CLIENT UNPAUSE it applies the rest. Run with a Vermilion replica and, when
installed, a redis-server one, with the same expectations."""

import pytest

from support import REDIS_SERVER
from replhelp import wait_for, link_up
from test_restart_psync import Proc

KINDS = ["vermilion"] + (["redis"] if REDIS_SERVER is not None else [])


@pytest.mark.parametrize("kind", KINDS)
def test_paused_replica_reads_but_does_not_apply(kind):
    master = Proc("vermilion")
    replica = Proc(kind, "--replicaof", "127.0.0.1", str(master.port))
    try:
        m, r = master.client(), replica.client()
        wait_for(lambda: link_up(r), 20, "link up")
        m.set("foo", "bar")

        def offsets():
            return (
                r.info("replication")["slave_read_repl_offset"],
                r.info("replication")["slave_repl_offset"],
            )

        wait_for(lambda: offsets()[1] == m.info("replication")["master_repl_offset"], 10, "in sync")
        old = m.info("replication")["master_repl_offset"]
        r.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
        m.set("foo2", "bar2")
        m.set("foo3", "bar3")
        new = m.info("replication")["master_repl_offset"]
        wait_for(lambda: offsets()[0] == new, 10, "the replica to read the stream")
        assert offsets()[1] == old
        assert r.get("foo2") is None
        r.execute_command("CLIENT", "UNPAUSE")
        wait_for(lambda: offsets()[1] == new, 10, "the replica to apply the stream")
        assert r.get("foo2") == b"bar2" and r.get("foo3") == b"bar3"
        m.close()
        r.close()
    finally:
        replica.stop()
        master.stop()
