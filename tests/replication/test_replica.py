"""Vermilion as a replica of a real redis-server 7.0 master (and of another Vermilion).

REPLICAOF connects, loads the master's RDB payload (diskless ``$EOF:`` and
disk-based ``$<len>`` transfers), applies the live stream as the master client,
acknowledges offsets (the master's WAIT counts us), refuses normal clients'
writes while ``replica-read-only yes``, reconnects with a partial resync, and
REPLICAOF NO ONE promotes it.
"""

import time

import pytest
import redis

from support import REDIS_SERVER, RealRedis, RawConn
from vermilion.embed import start_server
from replhelp import wait_for, link_up, dataset
from test_master import populate

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


@pytest.fixture
def ours():
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture(params=["diskless", "disk"])
def real_master(request):
    ref = RealRedis(
        "--repl-diskless-sync",
        "yes" if request.param == "diskless" else "no",
        "--repl-diskless-sync-delay",
        "0",
    )
    yield ref
    ref.stop()


def test_replicate_a_real_master(real_master, ours):
    m = redis.Redis(port=real_master.port, single_connection_client=True)
    populate(m)
    r = redis.Redis(port=ours.port)
    assert r.execute_command("REPLICAOF", "127.0.0.1", real_master.port) == b"OK"
    assert (
        r.execute_command("REPLICAOF", "127.0.0.1", real_master.port)
        == b"OK Already connected to specified master"
    )
    wait_for(lambda: link_up(r), what="link up")
    assert dataset(ours.port) == dataset(real_master.port)
    assert r.pttl("ttl") > 900000

    # the live stream, then WAIT on the master counts our ACK
    x = m.execute_command
    x("SET", "after", "1")
    x("INCRBYFLOAT", "after", "2.5")
    x("EXPIRE", "str", "5000")
    x("MULTI")
    x("LPUSH", "list", "m")
    x("SELECT", "9")
    x("SET", "nine", "9")
    x("EXEC")
    x("SELECT", "0")
    x("EVAL", "redis.call('hset', KEYS[1], 'f', 'v'); return 1", 1, "fromlua")
    x("SPOP", "set")
    x("DEL", "bigset")
    assert m.wait(1, 5000) == 1
    assert dataset(ours.port) == dataset(real_master.port)

    info = r.info("replication")
    minfo = m.info("replication")
    assert info["role"] == "slave" and info["master_port"] == real_master.port
    assert info["master_link_status"] == "up" and info["master_sync_in_progress"] == 0
    assert info["master_replid"] == minfo["master_replid"]
    wait_for(
        lambda: (
            r.info("replication")["slave_repl_offset"]
            == m.info("replication")["master_repl_offset"]
        ),
        what="offsets agree",
    )
    role = r.execute_command("ROLE")
    assert role[:4] == [b"slave", b"127.0.0.1", real_master.port, b"connected"]
    assert minfo["slave0"]["port"] == ours.port and minfo["slave0"]["state"] == "online"
    masters = r.client_list(_type="master")
    assert len(masters) == 1 and masters[0]["flags"] == "M"


def test_read_only_replica_errors_match_redis(real_master, ours):
    """Our errors as a replica, byte for byte against a real redis replica."""
    ref_replica = RealRedis("--replicaof", "127.0.0.1", str(real_master.port))
    try:
        r = redis.Redis(port=ours.port)
        r.execute_command("REPLICAOF", "127.0.0.1", real_master.port)
        wait_for(
            lambda: link_up(r) and link_up(redis.Redis(port=ref_replica.port)), what="both links up"
        )
        a = RawConn("127.0.0.1", ref_replica.port)
        b = RawConn("127.0.0.1", ours.port)
        for cmd in (
            ("SET", "k", "v"),
            ("GET", "k"),
            ("DEL", "k"),
            ("WAIT", "0", "0"),
            ("MULTI",),
            ("SET", "x", "1"),
            ("EXEC",),
            ("MULTI",),
            ("GET", "x"),
            ("EXEC",),
            ("PING",),
        ):
            assert b.call(*cmd) == a.call(*cmd), cmd
        # GETACK from a normal client: an ACK goes to the master, no reply to the caller
        for conn in (a, b):
            conn.send(b"REPLCONF GETACK *\r\nPING\r\n")
        assert b.read_reply() == a.read_reply() == b"+PONG\r\n"
        a.close()
        b.close()
        r.config_set("replica-read-only", "no")
        assert r.set("local", "1") is True
        assert r.info("replication")["slave_read_only"] == 0
    finally:
        ref_replica.stop()


def test_reconnect_with_partial_resync_and_promote(real_master, ours):
    m = redis.Redis(port=real_master.port, single_connection_client=True)
    populate(m)
    r = redis.Redis(port=ours.port)
    r.execute_command("REPLICAOF", "127.0.0.1", real_master.port)
    wait_for(lambda: link_up(r), what="link up")
    m.set("one", "1")
    assert m.wait(1, 5000) == 1
    m.client_kill_filter(_type="replica")
    m.set("while-down", "1")
    wait_for(lambda: link_up(r) and r.get("while-down") == b"1", what="reconnected")
    assert m.info("stats")["sync_partial_ok"] == 1
    assert m.info("stats")["sync_full"] == 1
    assert dataset(ours.port) == dataset(real_master.port)
    old = m.info("replication")["master_replid"]
    # promotion: writable, a new history, the old ID kept as replid2
    assert r.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert r.set("mine", "1") is True
    info = r.info("replication")
    assert info["role"] == "master" and info["master_replid2"] == old
    assert info["master_replid"] != old
    assert r.execute_command("ROLE")[0] == b"master"
    assert m.info("replication")["connected_slaves"] == 0 or wait_for(
        lambda: m.info("replication")["connected_slaves"] == 0, what="link closed"
    )


def test_vermilion_replica_of_vermilion(ours):
    master = start_server()
    try:
        m = redis.Redis(port=master.port, single_connection_client=True)
        populate(m)
        r = redis.Redis(port=ours.port)
        r.execute_command("REPLICAOF", "127.0.0.1", master.port)
        wait_for(lambda: link_up(r), what="link up")
        m.set("after", "x")
        m.lpush("list", "y")
        assert m.wait(1, 5000) == 1
        assert dataset(ours.port) == dataset(master.port)
    finally:
        master.stop()


def test_partial_resync_keeps_the_stream_db(ours):
    """After +CONTINUE the stream goes on in the db the master last SELECTed."""
    ref = RealRedis("--repl-diskless-sync-delay", "0")
    try:
        m = redis.Redis(port=ref.port, db=5, single_connection_client=True)
        r = redis.Redis(port=ours.port)
        r.execute_command("REPLICAOF", "127.0.0.1", ref.port)
        wait_for(lambda: link_up(r), what="link up")
        m.set("k1", "1")
        assert m.wait(1, 5000) == 1
        m.client_kill_filter(_type="replica")
        m.set("k2", "2")  # no SELECT: the master's stream is still in db 5
        r5 = redis.Redis(port=ours.port, db=5)
        wait_for(lambda: link_up(r) and r5.get("k2") == b"2", what="k2 in db 5")
        assert m.info("stats")["sync_partial_ok"] == 1
        assert r5.get("k1") == b"1" and r.dbsize() == 0
    finally:
        ref.stop()


def test_client_kill_type_master_keeps_the_stream_db(ours):
    """The replica's side of the same: CLIENT KILL TYPE master on the replica, then
    +CONTINUE; the stream goes on in db 5, not in db 0 (writes in db 5 were applied
    to db 0 after such a reconnect: Redis's Tcl replication-psync found it)."""
    ref = RealRedis("--repl-diskless-sync-delay", "0")
    try:
        m = redis.Redis(port=ref.port, db=5, single_connection_client=True)
        r = redis.Redis(port=ours.port)
        r.execute_command("REPLICAOF", "127.0.0.1", ref.port)
        wait_for(lambda: link_up(r), what="link up")
        m.set("k1", "1")
        assert m.wait(1, 5000) == 1
        assert r.client_kill_filter(_type="master") == 1
        m.set("k2", "2")  # no SELECT: the master's stream is still in db 5
        r5 = redis.Redis(port=ours.port, db=5)
        wait_for(lambda: link_up(r) and r5.get("k2") == b"2", what="k2 in db 5")
        assert m.info("stats")["sync_partial_ok"] == 1
        assert r5.get("k1") == b"1" and r.dbsize() == 0
    finally:
        ref.stop()


def test_expired_keys_wait_for_the_masters_del(ours):
    """A replica hides logically expired keys but deletes them only on the master's DEL,
    exactly like a real redis replica next to it."""
    ref = RealRedis("--repl-diskless-sync-delay", "0")
    real_rep = RealRedis("--replicaof", "127.0.0.1", str(ref.port))
    try:
        m = redis.Redis(port=ref.port, single_connection_client=True)
        m.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        r = redis.Redis(port=ours.port)
        rr = redis.Redis(port=real_rep.port)
        r.execute_command("REPLICAOF", "127.0.0.1", ref.port)
        wait_for(lambda: link_up(r) and link_up(rr), what="links up")
        m.set("short", "v", px=100)
        m.set("long", "v", ex=1000)
        assert m.wait(2, 5000) == 2
        time.sleep(0.3)
        for c in (rr, r):
            assert c.get("short") is None and c.exists("short") == 0
            assert c.dbsize() == 2 and c.get("long") == b"v"
        assert m.get("short") is None  # the master expires it: DEL streamed
        assert m.wait(2, 5000) == 2
        for c in (rr, r):
            assert c.dbsize() == 1
    finally:
        real_rep.stop()
        ref.stop()


def test_chained_real_sub_replica(ours):
    """real master -> Vermilion replica -> real sub-replica: the stream is passed on
    verbatim, the RDB tells the sub-replica which db the stream is in."""
    ref = RealRedis("--repl-diskless-sync-delay", "0")
    sub = None
    try:
        m = redis.Redis(port=ref.port, single_connection_client=True)
        populate(m)
        m.execute_command("SELECT", "4")
        m.set("db4", "x")
        r = redis.Redis(port=ours.port)
        r.execute_command("REPLICAOF", "127.0.0.1", ref.port)
        wait_for(lambda: link_up(r), what="link up")
        sub = RealRedis("--replicaof", "127.0.0.1", str(ours.port))
        s = redis.Redis(port=sub.port)
        wait_for(lambda: link_up(s), what="sub-replica link up")
        m.set("db4-after", "y")  # no SELECT in the stream: still db 4
        m.execute_command("SELECT", "0")
        m.set("after", "z")
        assert m.wait(1, 5000) == 1
        wait_for(lambda: dataset(sub.port) == dataset(ref.port), what="sub-replica in sync")
        assert redis.Redis(port=sub.port, db=4).get("db4-after") == b"y"
        info = r.info("replication")
        assert info["connected_slaves"] == 1 and info["role"] == "slave"
        wait_for(
            lambda: (
                s.info("replication")["slave_repl_offset"]
                == m.info("replication")["master_repl_offset"]
            ),
            what="offsets agree",
        )
        assert s.info("replication")["master_replid"] == m.info("replication")["master_replid"]
    finally:
        if sub is not None:
            sub.stop()
        ref.stop()


@pytest.fixture
def linked(ours):
    """A real master and Vermilion replicating it: (master client, our client)."""
    ref = RealRedis("--repl-diskless-sync-delay", "0")
    m = redis.Redis(port=ref.port)
    r = redis.Redis(port=ours.port)
    r.execute_command("REPLICAOF", "127.0.0.1", ref.port)
    wait_for(lambda: link_up(r), what="link up")
    yield m, r
    ref.stop()


def test_publish_from_the_master_reaches_our_subscribers(linked):
    m, r = linked
    ps = r.pubsub()
    ps.subscribe("news")
    assert ps.get_message(timeout=2)["type"] == "subscribe"
    m.publish("news", "hello")
    msg = ps.get_message(timeout=5)
    assert msg is not None and msg["data"] == b"hello"
    ps.close()


def test_client_kill_type_master_reconnects(linked):
    m, r = linked
    m.set("a", "1")
    assert m.wait(1, 5000) == 1
    assert r.client_kill_filter(_type="master") == 1
    m.set("b", "2")
    wait_for(lambda: link_up(r) and r.get("b") == b"2", what="reconnected")
    assert m.info("stats")["sync_partial_ok"] == 1


def test_masterauth_both_ways(ours):
    """A master with requirepass: the replica authenticates with masterauth (Vermilion
    replica of a real master, and a real replica of a Vermilion master)."""
    ref = RealRedis("--repl-diskless-sync-delay", "0", "--requirepass", "s3cret")
    try:
        m = redis.Redis(port=ref.port, password="s3cret")
        m.set("k", "v")
        r = redis.Redis(port=ours.port)
        r.config_set("masterauth", "s3cret")
        r.execute_command("REPLICAOF", "127.0.0.1", ref.port)
        wait_for(lambda: link_up(r), what="link up")
        assert r.get("k") == b"v"
    finally:
        ref.stop()
    master = start_server(requirepass="pw")
    sub = RealRedis("--replicaof", "127.0.0.1", str(master.port), "--masterauth", "pw")
    try:
        mm = redis.Redis(port=master.port, password="pw")
        mm.set("x", "y")
        s = redis.Redis(port=sub.port)
        wait_for(lambda: link_up(s), what="real replica link up")
        mm.set("x2", "y2")
        assert mm.wait(1, 5000) == 1
        assert s.get("x") == b"y" and s.get("x2") == b"y2"
    finally:
        sub.stop()
        master.stop()


def test_client_pause_holds_the_master_stream(linked):
    """CLIENT PAUSE WRITE on the replica parks the master client too (Redis 7.0): the
    stream is applied, in order, when the pause ends; nothing is lost."""
    m, r = linked
    r.execute_command("CLIENT", "PAUSE", "600", "WRITE")
    m.set("k1", "1")
    m.set("k2", "2")
    m.incr("k1")
    time.sleep(0.3)
    assert r.get("k1") is None
    wait_for(lambda: r.get("k1") == b"2" and r.get("k2") == b"2", what="stream applied")
    m.set("k3", "3")
    wait_for(lambda: r.get("k3") == b"3", what="stream flows again")


def test_replicaof_in_the_configuration():
    ref = RealRedis("--repl-diskless-sync-delay", "0")
    ours = None
    try:
        redis.Redis(port=ref.port).set("boot", "1")
        ours = start_server(replicaof="127.0.0.1 %d" % ref.port)
        r = redis.Redis(port=ours.port)
        wait_for(lambda: link_up(r), what="link up")
        assert r.get("boot") == b"1"
        assert r.config_get("replicaof") == {"replicaof": "127.0.0.1 %d" % ref.port}
        # what the master shows for us: replica-announce-ip/port when set
        r.config_set("replica-announce-ip", "10.1.2.3")
        r.config_set("replica-announce-port", "4321")
        redis.Redis(port=ref.port).client_kill_filter(_type="replica")
        wait_for(
            lambda: (
                redis.Redis(port=ref.port).info("replication").get("slave0", {}).get("ip")
                == "10.1.2.3"
            ),
            what="announced address",
        )
        assert redis.Redis(port=ref.port).info("replication")["slave0"]["port"] == 4321
    finally:
        if ours is not None:
            ours.stop()
        ref.stop()


def test_replica_ignores_maxmemory(linked):
    """replica-ignore-maxmemory yes (the default): the master's writes are applied in
    full even past our maxmemory; nothing is evicted, nothing refused."""
    m, r = linked
    r.config_set("maxmemory-policy", "allkeys-random")
    r.config_set("maxmemory", "1")
    p = m.pipeline(transaction=False)
    for i in range(500):
        p.set("k%d" % i, "x" * 100)
    p.execute()
    assert m.wait(1, 5000) == 1
    assert r.dbsize() == 500
    assert r.info("stats")["evicted_keys"] == 0
