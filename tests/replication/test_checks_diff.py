"""processCommand's replication checks byte for byte against redis-server 7.0:
NOREPLICAS (min-replicas-to-write), MASTERDOWN (replica-serve-stale-data no while the
link is down), READONLY; each pair of servers is private to the test."""

import re
import time

import pytest

from support import REDIS_SERVER, RealRedis, RawConn, free_port
from vermilion.embed import start_server

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


@pytest.fixture
def pair():
    ref = RealRedis()
    ours = start_server()
    a = RawConn("127.0.0.1", ref.port)
    b = RawConn("127.0.0.1", ours.port)

    def same(*args):
        x = a.call(*args)
        y = b.call(*args)
        assert y == x, "reply to %r differs:\n redis:     %r\n vermilion: %r" % (args, x, y)
        return x

    same.conns = (a, b)
    yield same
    a.close()
    b.close()
    ours.stop()
    ref.stop()


def test_noreplicas(pair):
    same = pair
    for line in (
        "CONFIG SET min-replicas-to-write 1",
        "SET k v",
        "CONFIG SET min-replicas-max-lag 10",
        "SET k v",
        "GET k",
        "DEL k",
        "INCR n",
        "MULTI",
        "SET k v",
        "GET k",
        "EXEC",
        "MULTI",
        "GET k",
        "EXEC",
        "EVAL 'return 1' 0",
        "CONFIG SET min-replicas-to-write 0",
        "SET k v",
        "CONFIG SET min-replicas-to-write 2",
        "SET k v2",
        "CONFIG SET min-replicas-max-lag 0",
        "SET k v3",
        "GET k",
    ):
        same(*line.replace("'return 1'", "RET").split())
    same("CONFIG", "SET", "min-replicas-max-lag", "5")
    same("SET", "k", "v4")


def test_info_min_slaves_good_slaves():
    ref = RealRedis("--min-replicas-to-write", "1", "--min-replicas-max-lag", "10")
    ours = start_server(min_replicas_to_write="1", min_replicas_max_lag="10")
    try:
        infos = []
        for port in (ref.port, ours.port):
            conn = RawConn("127.0.0.1", port)
            infos.append(re.sub(rb"master_replid:\w+", b"", conn.call("INFO", "replication")))
            assert (
                conn.call("SET", "k", "v") == b"-NOREPLICAS Not enough good replicas to write.\r\n"
            )
            conn.close()
        assert infos[1] == infos[0] and b"min_slaves_good_slaves:0" in infos[0]
    finally:
        ours.stop()
        ref.stop()


def test_masterdown_and_readonly_while_link_down(pair):
    same = pair
    conns = same.conns
    dead = free_port()  # nothing listens there: the link stays down
    same("CONFIG", "SET", "replica-serve-stale-data", "no")
    same("REPLICAOF", "127.0.0.1", str(dead))
    time.sleep(1.2)  # a failed connection attempt or two
    infos = [
        re.sub(rb"master_replid:\w+|\$\d+", b"", conn.call("INFO", "replication")) for conn in conns
    ]
    assert infos[1] == infos[0]
    assert (
        same("ROLE")
        == b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:%d\r\n$7\r\nconnect\r\n:-1\r\n" % dead
    )
    for line in (
        "GET k",
        "SET k v",
        "PING",
        "ECHO x",
        "ROLE x",
        "DBSIZE",
        "CONFIG GET maxmemory",
        "MULTI",
        "GET k",
        "EXEC",
        "MULTI",
        "PING",
        "EXEC",
        "CONFIG SET replica-serve-stale-data yes",
        "GET k",
        "SET k v",
        "MULTI",
        "SET k v",
        "EXEC",
        "DBSIZE",
        "CONFIG SET replica-read-only no",
        "SET k v",
        "GET k",
        "CONFIG GET replicaof",
        "REPLICAOF NO ONE",
        "CONFIG GET replicaof",
        "SET k v2",
        "GET k",
    ):
        same(*line.split())


def test_replica_role_in_hello_and_past_expire_kept(pair):
    """A replica (even with its link down) says role replica in HELLO, and an EXPIRE
    in the past does not delete there (checkAlreadyExpired: not on a replica)."""
    same = pair
    a, b = same.conns
    dead = free_port()  # nothing listens there: the link stays down

    def hello(ver="3"):
        # the client ids differ by how each harness waited for its server
        replies = [re.sub(rb"\$2\r\nid\r\n:\d+", b"", conn.call("HELLO", ver)) for conn in (a, b)]
        assert replies[1] == replies[0]
        return replies[0]

    same("SET", "k", "v")
    assert b"$6\r\nmaster" in hello()
    same("REPLICAOF", "127.0.0.1", str(dead))
    assert b"$7\r\nreplica" in hello()
    hello("2")
    same("EXPIRE", "k", "-1")
    same("EXISTS", "k")
    same("REPLICAOF", "NO", "ONE")
    assert b"$6\r\nmaster" in hello()
