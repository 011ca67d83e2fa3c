"""TTLs on a writable replica (replication-3.tcl, expire.tcl): the keys a
replica's own clients give a TTL are expired by the replica's cron
(slaveKeysWithExpire), while the master's keys are left for the master's DEL; a
write to a logically expired key of the master deletes it first, so the key the
write makes starts without the old TTL, and a read only hides it. Run with a
Vermilion replica and, when installed, a redis-server one, with the same
expectations; the master is Vermilion."""

import time

import pytest

from support import REDIS_SERVER
from replhelp import wait_for, link_up
from test_restart_psync import Proc

KINDS = ["vermilion"] + (["redis"] if REDIS_SERVER is not None else [])


@pytest.mark.parametrize("kind", KINDS)
def test_writable_replica_expires_its_own_keys_only(kind):
    master = Proc("vermilion")
    replica = Proc(kind, "--replicaof", "127.0.0.1", str(master.port))
    try:
        m, r = master.client(), replica.client()
        wait_for(lambda: link_up(r), 20, "link up")
        r.config_set("replica-read-only", "no")
        m.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        m.set("master-key", "v", px=200)
        wait_for(lambda: r.exists("master-key") == 0 and r.dbsize() == 1, 10, "replicated")
        for i in range(3):
            r.set("own%d" % i, i, px=300)
        assert r.dbsize() == 4
        # the replica's cron deletes its own three; the master's key stays (hidden)
        wait_for(lambda: r.dbsize() == 1, 10, "the replica's own keys expired")
        time.sleep(0.3)
        assert r.dbsize() == 1 and r.exists("master-key") == 0
        # a write deletes the expired key of the master first: no TTL inherited
        assert r.incr("master-key2") == 1
        m.set("k1", 5, px=10)
        m.set("k2", 5, px=10)
        wait_for(lambda: r.dbsize() == 4 and r.exists("k1", "k2") == 0, 10, "k1 k2 expired")
        assert r.incr("k1") == 1
        assert r.ttl("k1") == -1
        assert r.get("k2") is None
        assert r.dbsize() == 4  # k2 only hidden by the read, master-key too
    finally:
        master.stop()
        replica.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_restarted_replica_keeps_keys_that_expired_while_down(kind):
    """rdbLoad drops expired keys only on a master: a replica restarted from its
    RDB keeps them (hidden from reads) for its master's DELs."""
    master = Proc("vermilion")
    replica = Proc(kind, "--replicaof", "127.0.0.1", str(master.port))
    try:
        m, r = master.client(), replica.client()
        wait_for(lambda: link_up(r), 20, "link up")
        m.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        for i in range(10):
            m.set("k%d" % i, i, px=800)
        m.set("stays", 1)
        wait_for(lambda: r.dbsize() == 11, 10, "replicated")
        r.save()
        master.proc.kill()  # (down for good: no sync to empty the replica again)
        master.proc.wait(10)
        time.sleep(1.0)
        replica.restart()
        r = replica.client()
        wait_for(lambda: _ping(r), 20, "replica up")
        assert r.dbsize() == 11
        assert r.exists("k0") == 0 and r.get("stays") == b"1"
    finally:
        master.stop()
        replica.stop()


def _ping(c):
    try:
        return c.ping()
    except Exception:
        return False
