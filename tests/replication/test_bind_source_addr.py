"""bind-source-addr (unit/networking): a replica's link to its master leaves
from that address, so the master sees the replica at it; an address that
cannot be bound is ignored (best effort, as anetTcpNonBlockBestEffortBindConnect)."""

import pytest

from replhelp import wait_for, link_up
from test_restart_psync import Proc


@pytest.mark.parametrize("source,seen", [("127.0.0.2", "127.0.0.2"), ("192.0.2.1", "127.0.0.1")])
def test_replica_link_leaves_from_bind_source_addr(source, seen):
    # (protected mode would refuse 127.0.0.2: only 127.0.0.1 and ::1 count as local)
    master = Proc("vermilion", "--protected-mode", "no")
    replica = Proc("vermilion", "--bind-source-addr", source)
    try:
        r = replica.client()
        r.replicaof("127.0.0.1", master.port)
        wait_for(lambda: link_up(r), 20, "link up")
        assert master.client().info("replication")["slave0"]["ip"] == seen
    finally:
        master.stop()
        replica.stop()
