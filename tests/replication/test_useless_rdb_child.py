"""The RDB child of a full sync is killed once no replica waits for it
(integration/replication's "Kill rdb child process if its dumping RDB is not
useful"): with repl-diskless-sync no, only when no save rule is configured (the
RDB is then a BGSAVE worth finishing), and not while another replica still waits.
Run against a Vermilion master and, when installed, a redis-server one."""

import time

import pytest

from support import REDIS_SERVER
from replhelp import wait_for
from test_restart_psync import Proc

KINDS = ["vermilion"] + (["redis"] if REDIS_SERVER is not None else [])


def _bgsave(m):
    return m.info("persistence")["rdb_bgsave_in_progress"]


def _both_waiting(m):
    info = m.info("replication")
    return _bgsave(m) == 1 and all(
        "wait_bgsave" in str(info.get(k, "")) for k in ("slave0", "slave1")
    )


@pytest.mark.parametrize("kind", KINDS)
def test_rdb_child_killed_when_not_useful(kind):
    nodes = []
    try:
        master = Proc(kind)
        nodes.append(master)
        r1 = Proc(kind)
        nodes.append(r1)
        r2 = Proc(kind)
        nodes.append(r2)
        m, c1, c2 = master.client(), r1.client(), r2.client()
        for i in range(10):
            m.set(i, i)
        m.config_set("rdb-key-save-delay", 1000000)  # 10 s for the RDB
        m.config_set("repl-diskless-sync", "no")
        m.config_set("save", "")
        c1.replicaof("127.0.0.1", master.port)
        c2.replicaof("127.0.0.1", master.port)
        wait_for(lambda: _both_waiting(m), 10, "the RDB child")
        c1.replicaof("no", "one")
        time.sleep(0.1)
        assert _bgsave(m) == 1  # the other replica still waits for it
        c2.replicaof("no", "one")
        wait_for(lambda: _bgsave(m) == 0, 1, "the child to be killed")

        m.config_set("save", "900 1")  # now the RDB is a save worth finishing
        c1.replicaof("127.0.0.1", master.port)
        c2.replicaof("127.0.0.1", master.port)
        wait_for(lambda: _both_waiting(m), 10, "the RDB child")
        c1.replicaof("no", "one")
        c2.replicaof("no", "one")
        time.sleep(0.2)
        assert _bgsave(m) == 1
        for c in (m, c1, c2):
            c.close()
    finally:
        for n in nodes:
            n.stop()
