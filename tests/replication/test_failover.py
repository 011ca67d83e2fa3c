"""FAILOVER (coordinated failover, replication.c): a master hands its role to a
replica that has caught up, with Vermilion and redis-server on either side, and
the command's errors compared with redis-server's byte for byte."""

import time

import pytest
import redis

from support import REDIS_SERVER, RawConn, RealRedis
from vermilion.embed import start_server

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server to compare")


def wait_for(cond, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while True:
        try:
            v = cond()
        except (redis.ConnectionError, redis.ResponseError):
            v = None
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.05)


def _online(master_client, port):
    info = master_client.info("replication")
    return any(
        isinstance(v, dict) and v.get("port") == port and v.get("state") == "online"
        for k, v in info.items()
        if k.startswith("slave")
    )


class _Vermilion:
    kind = "vermilion"

    def __init__(self, *replicaof):
        opts = {"repl_diskless_sync_delay": "0"}
        if replicaof:
            opts["replicaof"] = "%s %d" % replicaof
        self.srv = start_server(**opts)
        self.port = self.srv.port

    def stop(self):
        self.srv.stop()


class _Redis:
    kind = "redis"

    def __init__(self, *replicaof):
        extra = ["--repl-diskless-sync-delay", "0"]
        if replicaof:
            extra += ["--replicaof", replicaof[0], str(replicaof[1])]
        self.ref = RealRedis(*extra)
        self.port = self.ref.port

    def stop(self):
        self.ref.stop()


KINDS = {"vermilion": _Vermilion, "redis": _Redis}


@pytest.mark.parametrize(
    "master_kind,replica_kind",
    [("vermilion", "vermilion"), ("vermilion", "redis"), ("redis", "vermilion")],
)
def test_failover_hands_the_role_to_the_replica(master_kind, replica_kind):
    master = KINDS[master_kind]()
    replica = KINDS[replica_kind]("127.0.0.1", master.port)
    try:
        m = redis.Redis(port=master.port)
        r = redis.Redis(port=replica.port)
        wait_for(lambda: _online(m, replica.port), what="replica online")
        m.set("before", "1")
        assert m.execute_command("FAILOVER", "TO", "127.0.0.1", replica.port, "TIMEOUT", 10000)
        wait_for(lambda: r.execute_command("ROLE")[0] == b"master", what="replica promoted")
        wait_for(lambda: m.execute_command("ROLE")[0] == b"slave", what="old master demoted")
        wait_for(
            lambda: m.info("replication")["master_failover_state"] == "no-failover",
            what="failover state cleared",
        )
        assert r.get("before") == b"1"
        r.set("after", "2")
        wait_for(lambda: m.get("after") == b"2", what="the new master's writes reach the old one")
    finally:
        replica.stop()
        master.stop()


def test_failover_any_replica_and_abort_on_timeout():
    master = _Vermilion()
    replica = _Vermilion("127.0.0.1", master.port)
    try:
        m = redis.Redis(port=master.port)
        r = redis.Redis(port=replica.port)
        wait_for(lambda: _online(m, replica.port), what="replica online")
        # no target named: the first replica that acknowledged the whole stream
        assert m.execute_command("FAILOVER")
        wait_for(lambda: r.execute_command("ROLE")[0] == b"master", what="replica promoted")
        wait_for(lambda: _online(r, master.port), what="old master online as replica")
        # the new master's replica stops answering ACKs: a TIMEOUT without FORCE aborts
        r.execute_command("CONFIG", "SET", "repl-ping-replica-period", "1")
        m.execute_command("CLIENT", "PAUSE", "3000", "ALL")  # (the ACKs stop)
        r.set("x", "1")  # the offset moves past what the replica acknowledged
        assert r.execute_command("FAILOVER", "TIMEOUT", 500)
        assert r.info("replication")["master_failover_state"] == "waiting-for-sync"
        with pytest.raises(redis.ResponseError, match="FAILOVER already in progress"):
            r.execute_command("FAILOVER")
        with pytest.raises(redis.ResponseError, match="REPLICAOF not allowed while failing over"):
            r.execute_command("REPLICAOF", "NO", "ONE")
        wait_for(
            lambda: r.info("replication")["master_failover_state"] == "no-failover",
            what="timeout abort",
        )
        assert r.execute_command("ROLE")[0] == b"master"
        assert r.set("y", "1")  # writes are no longer paused
        # ABORT while waiting
        m.execute_command("CLIENT", "PAUSE", "3000", "ALL")
        r.set("z", "1")
        assert r.execute_command("FAILOVER")
        assert r.execute_command("FAILOVER", "ABORT")
        assert r.info("replication")["master_failover_state"] == "no-failover"
        assert r.set("w", "1")
    finally:
        replica.stop()
        master.stop()


ERROR_CASES = [
    ("FAILOVER", "ABORT"),
    ("FAILOVER",),
    ("FAILOVER", "TIMEOUT", "0"),
    ("FAILOVER", "TIMEOUT", "-5"),
    ("FAILOVER", "TIMEOUT", "abc"),
    ("FAILOVER", "TO", "127.0.0.1", "notaport"),
    ("FAILOVER", "FORCE"),
    ("FAILOVER", "FORCE", "FORCE"),
    ("FAILOVER", "BOGUS"),
    ("FAILOVER", "TO", "127.0.0.1"),
    ("PSYNC", "?", "-1", "FAILOVER"),
]


def test_failover_errors_match_redis(real_redis, shared_vermilion):
    ref = RawConn("127.0.0.1", real_redis.port)
    ours = RawConn("127.0.0.1", shared_vermilion.port)
    try:
        for args in ERROR_CASES:
            assert ours.call(*args) == ref.call(*args), args
    finally:
        ref.close()
        ours.close()
