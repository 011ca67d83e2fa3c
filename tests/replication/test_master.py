"""Vermilion as a master of a real redis-server 7.0 replica.

Every test starts its own Vermilion, writes data, attaches a real
``redis-server --replicaof`` and checks that the replica ends up with exactly
the same dataset (all types, several databases, TTLs), both for what existed
at the full synchronisation and for what is written afterwards (the live
stream, MULTI/EXEC, scripts, rewritten commands, expiry), that WAIT counts the
replica's ACKs, and that a reconnecting replica continues with PSYNC.
"""

import time

import pytest
import redis

from support import REDIS_SERVER
from vermilion.embed import start_server
from replhelp import wait_for, real_replica_of, log_of, link_up, dataset

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


def populate(c):
    x = c.execute_command
    x("SET", "str", "hello")
    x("SET", "int", "12345")
    x("SET", "bin", bytes(range(256)))
    x("SET", "ttl", "v", "EX", "1000")
    x("RPUSH", "list", "a", "b", "1", "")
    x("RPUSH", "biglist", *[b"item-%d" % i for i in range(2000)])
    x("SADD", "set", "x", "y", "z")
    x("SADD", "intset", 1, 2, 3)
    x("SADD", "bigset", *range(1000))
    x("ZADD", "zset", 1.5, "m", "-inf", "lo", 3, "n")
    x("ZADD", "bigzset", *[v for i in range(300) for v in (i / 3, "m%d" % i)])
    x("HSET", "hash", "f", "v", "g", "w")
    x("HSET", "bighash", *[v for i in range(600) for v in ("f%d" % i, "v" * (i % 70))])
    x("XADD", "stream", "1-1", "a", "1")
    x("XADD", "stream", "2-1", "b", "2")
    x("XGROUP", "CREATE", "stream", "g", "0")
    x("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "stream", ">")
    x("PEXPIRE", "hash", "900000")
    x("SELECT", "3")
    x("SET", "db3", "three")
    x("LPUSH", "db3list", "q")
    x("SELECT", "15")
    x("HSET", "db15", "a", "b")
    x("SELECT", "0")


@pytest.fixture
def master():
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture
def replicas():
    refs = []

    def start(port, *extra):
        ref = real_replica_of(port, *extra)
        refs.append(ref)
        return ref

    yield start
    for ref in refs:
        ref.stop()


def test_full_sync_then_stream(master, replicas):
    m = redis.Redis(port=master.port, single_connection_client=True)
    populate(m)
    ref = replicas(master.port)
    rep = redis.Redis(port=ref.port)
    wait_for(lambda: link_up(rep), what="replica link up")
    # everything written before the sync is there
    wait_for(lambda: dataset(ref.port) == dataset(master.port), what="same dataset after sync")
    assert rep.pttl("ttl") > 900000
    assert "Full resync from master" in log_of(ref)

    # the live stream: plain writes, rewritten commands, MULTI/EXEC, scripts, other dbs
    x = m.execute_command
    x("SET", "after", "1")
    x("INCRBYFLOAT", "after", "1.5")
    x("EXPIRE", "str", "5000")
    x("SET", "px", "v", "PX", "700000")
    x("SPOP", "set")
    x("LPOP", "biglist", "10")
    x("ZINCRBY", "zset", "2", "lo")
    x("XADD", "stream", "*", "c", "3")
    x("XACK", "stream", "g", "1-1")
    x("MULTI")
    x("HSET", "hash", "new", "1")
    x("SELECT", "7")
    x("SET", "in-multi", "db7")
    x("EXEC")
    x("SELECT", "0")
    x(
        "EVAL",
        "redis.call('set', KEYS[1], ARGV[1]); redis.call('rpush', 'list', 'z')",
        1,
        "script",
        "val",
    )
    x("DEL", "int")
    x("SET", "soon", "gone", "PX", "50")
    assert m.wait(1, 5000) == 1
    time.sleep(0.3)  # "soon" expires on the master, which streams a DEL
    x("SET", "last", "x")
    assert m.wait(1, 5000) == 1
    assert dataset(ref.port) == dataset(master.port)
    assert rep.get("soon") is None and rep.exists("soon") == 0
    assert redis.Redis(port=ref.port, db=7).get("in-multi") == b"db7"
    info = m.info("replication")
    assert info["role"] == "master" and info["connected_slaves"] == 1
    assert info["slave0"]["state"] == "online" and info["slave0"]["port"] == ref.port
    # the ACK answering WAIT's GETACK predates the GETACK itself; the next one
    # (every second) reaches the end of the stream
    assert info["slave0"]["offset"] <= info["master_repl_offset"]
    wait_for(
        lambda: (
            m.info("replication")["slave0"]["offset"] == m.info("replication")["master_repl_offset"]
        ),
        what="replica ACK",
    )
    info = m.info("replication")
    assert info["repl_backlog_active"] == 1
    assert info["repl_backlog_histlen"] == info["master_repl_offset"]
    assert info["repl_backlog_first_byte_offset"] == 1
    assert rep.info("replication")["slave_repl_offset"] == info["master_repl_offset"]
    assert m.info("stats")["sync_full"] == 1


def test_role_client_list_and_wait(master, replicas):
    m = redis.Redis(port=master.port, single_connection_client=True)
    assert m.execute_command("ROLE") == [b"master", 0, []]
    assert m.wait(0, 0) == 0
    t0 = time.time()
    m.set("k", "v")
    assert m.wait(1, 200) == 0  # no replica: times out with 0
    assert time.time() - t0 >= 0.19
    ref = replicas(master.port)
    rep = redis.Redis(port=ref.port)
    wait_for(lambda: link_up(rep), what="replica link up")
    m.set("k2", "v2")
    assert m.wait(1, 5000) == 1
    assert m.wait(2, 100) == 1  # only one replica
    role = m.execute_command("ROLE")
    assert role[0] == b"master" and role[2][0][:2] == [b"127.0.0.1", str(ref.port).encode()]
    assert int(role[2][0][2]) <= role[1]
    kinds = m.client_list(_type="replica")
    assert len(kinds) == 1 and kinds[0]["flags"] == "S" and kinds[0]["cmd"] in ("replconf", "psync")
    assert all(c["flags"] != "S" for c in m.client_list(_type="normal"))
    # WAIT inside MULTI answers at once
    p = m.pipeline(transaction=True)
    p.set("k3", "v")
    p.wait(5, 0)
    assert p.execute()[1] == 1


def test_partial_resync_after_disconnect(master, replicas):
    m = redis.Redis(port=master.port, single_connection_client=True)
    populate(m)
    ref = replicas(master.port)
    rep = redis.Redis(port=ref.port)
    wait_for(lambda: link_up(rep), what="replica link up")
    m.set("before-kill", "1")
    assert m.wait(1, 5000) == 1
    # drop the link from the replica's side; writes go on meanwhile
    rep.client_kill_filter(_type="master")
    m.set("while-down", "1")
    m.rpush("list", "more")
    wait_for(lambda: link_up(rep) and rep.get("while-down") == b"1", what="reconnected")
    assert "Master accepted a Partial Resynchronization" in log_of(ref)
    m.set("after-psync", "1")
    assert m.wait(1, 5000) == 1
    assert dataset(ref.port) == dataset(master.port)
    stats = m.info("stats")
    assert stats["sync_full"] == 1 and stats["sync_partial_ok"] == 1


def test_replid_change_forces_full_sync(master, replicas):
    """A PSYNC with an unknown replication ID or an offset out of the backlog gets a
    full resync (raw protocol, like a replica would speak it)."""
    from support import RawConn

    m = redis.Redis(port=master.port)
    m.set("a", "1")
    conn = RawConn("127.0.0.1", master.port)
    assert conn.call("REPLCONF", "listening-port", "1234") == b"+OK\r\n"
    assert conn.call("REPLCONF", "capa", "eof", "capa", "psync2") == b"+OK\r\n"
    conn.sock.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
    data = b""
    while b"\r\n" not in data:
        data += conn.sock.recv(65536)
    line = data.split(b"\r\n", 1)[0].split()
    assert line[0] == b"+FULLRESYNC" and len(line[1]) == 40 and line[2] == b"0"
    replid = line[1].decode()
    assert m.info("replication")["master_replid"] == replid
    assert m.info("replication")["connected_slaves"] == 1
    # a second replica asking to continue from inside the backlog gets +CONTINUE
    m.set("b", "2")
    conn2 = RawConn("127.0.0.1", master.port)
    conn2.call("REPLCONF", "capa", "psync2")
    conn2.sock.sendall(b"*3\r\n$5\r\nPSYNC\r\n$40\r\n%s\r\n$1\r\n1\r\n" % replid.encode())
    got = b""
    deadline = time.time() + 5
    want = b"+CONTINUE %s\r\n" % replid.encode()
    while time.time() < deadline and not got.endswith(b"b\r\n$1\r\n2\r\n"):
        got += conn2.sock.recv(65536)
    assert (
        got == want + b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n"
    )
    # an offset past the end, or a wrong ID, gets a full resync
    for rid, off in ((replid, b"1000"), ("f" * 40, b"1")):
        c3 = RawConn("127.0.0.1", master.port)
        c3.sock.sendall(
            b"*3\r\n$5\r\nPSYNC\r\n$40\r\n%s\r\n$%d\r\n%s\r\n" % (rid.encode(), len(off), off)
        )
        d = b""
        while b"\r\n" not in d:
            d += c3.sock.recv(65536)
        assert d.startswith(b"+FULLRESYNC %s " % replid.encode())
        c3.close()
    conn.close()
    conn2.close()


def test_rdb_made_by_a_child_while_writes_go_on(master, replicas):
    """A big dataset: the RDB is made in a forked child, the master keeps answering,
    writes made meanwhile reach the replicas after the RDB (two replicas attaching
    together share the child when nothing was written in between)."""
    m = redis.Redis(port=master.port, single_connection_client=True)
    p = m.pipeline(transaction=False)
    for i in range(60000):
        p.set("key:%d" % i, "v%d" % i)
    p.execute()
    refs = [replicas(master.port), replicas(master.port)]
    slowest = 0.0
    for i in range(200):
        t = time.time()
        m.execute_command("SELECT", "2")
        m.set("during:%d" % i, i)
        m.execute_command("SELECT", "0")
        slowest = max(slowest, time.time() - t)
    reps = [redis.Redis(port=ref.port) for ref in refs]
    wait_for(lambda: all(link_up(r) for r in reps), what="links up")
    assert m.wait(2, 10000) == 2
    for ref, rep in zip(refs, reps):
        assert rep.dbsize() == 60000
        assert rep.get("key:59999") == b"v59999"
        assert dataset(ref.port, dbs=[2]) == dataset(master.port, dbs=[2])
    assert 1 <= master.server.repl.child_syncs <= 2
    assert master.server.repl.full_syncs == 2
    assert slowest < 0.2


def test_publish_reaches_replica_subscribers(master, replicas):
    m = redis.Redis(port=master.port, single_connection_client=True)
    ref = replicas(master.port)
    rep = redis.Redis(port=ref.port)
    wait_for(lambda: link_up(rep), what="link up")
    ps = rep.pubsub()
    ps.subscribe("news")
    assert ps.get_message(timeout=2)["type"] == "subscribe"
    assert m.publish("news", "hello") == 0  # no subscriber on the master
    msg = ps.get_message(timeout=5)
    assert msg is not None and msg["data"] == b"hello"
    ps.close()


def test_redis_cli_rdb_and_replica_modes(master, tmp_path):
    """redis-cli --rdb (REPLCONF rdb-only + SYNC) gets a valid RDB; --replica shows
    the live stream."""
    import shutil
    import subprocess

    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.skip("redis-cli is not installed")
    m = redis.Redis(port=master.port)
    m.set("a", "1")
    m.rpush("l", "x", "y")
    path = str(tmp_path / "cli.rdb")
    out = subprocess.run(
        [cli, "-p", str(master.port), "--rdb", path], capture_output=True, text=True, timeout=20
    )
    assert "Transfer finished with success" in out.stdout + out.stderr
    from vermilion.persistence import rdb

    with open(path, "rb") as fh:
        res = rdb.load_rdb(fh.read())
    data, _ = res.dbs[0]
    assert data[b"a"] == b"1" and list(data[b"l"]) == [b"x", b"y"]
    # an rdb-only replica is let go once it has its RDB
    assert m.info("replication")["connected_slaves"] == 0
    m.config_set("repl-diskless-sync-delay", 0)
    p = subprocess.Popen(
        [cli, "-p", str(master.port), "--replica"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: m.info("replication").get("slave0", {}).get("state") == "online",
            what="cli attached",
        )
        time.sleep(1.5)  # redis-cli sleeps 1 s before its REPLCONF ACK starts the stream
        m.set("b", "2")
        time.sleep(0.5)
    finally:
        p.terminate()
    text = p.stdout.read()
    # repl-diskless-sync yes (the default): an $EOF: transfer, after which redis-cli
    # shows the stream from the first command it reads whole (as with redis-server)
    assert "EOF marker" in text
    assert '"SET","b","2"' in text


def test_aof_and_replica_both_fed(replicas, tmp_path):
    """The AOF and the replication stream are two sinks of the same writes; turning
    the AOF on/off or reloading it (DEBUG LOADAOF) keeps the replica fed."""
    srv = start_server(appendonly="yes", dir=str(tmp_path), enable_debug_command="yes")
    try:
        m = redis.Redis(port=srv.port, single_connection_client=True)
        m.set("a", "1")
        ref = replicas(srv.port)
        rep = redis.Redis(port=ref.port)
        wait_for(lambda: link_up(rep), what="link up")
        m.set("b", "2")
        assert m.execute_command("DEBUG", "LOADAOF") == b"OK"
        m.set("c", "3")
        m.config_set("appendonly", "no")
        m.set("d", "4")
        m.config_set("appendonly", "yes")
        wait_for(lambda: m.info("persistence")["aof_rewrite_in_progress"] == 0, what="rewrite")
        m.set("e", "5")
        assert m.wait(1, 5000) == 1
        assert dataset(ref.port) == dataset(srv.port)
        assert rep.mget("a", "b", "c", "d", "e") == [b"1", b"2", b"3", b"4", b"5"]
    finally:
        srv.stop()
    again = start_server(appendonly="yes", dir=str(tmp_path))
    try:
        assert redis.Redis(port=again.port).mget("a", "b", "c", "d", "e") == [
            b"1",
            b"2",
            b"3",
            b"4",
            b"5",
        ]
    finally:
        again.stop()


def test_backlog_freed_after_ttl_without_replicas(master, replicas):
    m = redis.Redis(port=master.port)
    m.config_set("repl-backlog-ttl", "1")
    ref = replicas(master.port)
    rep = redis.Redis(port=ref.port)
    wait_for(lambda: link_up(rep), what="link up")
    m.set("k", "v")
    info = m.info("replication")
    assert info["repl_backlog_active"] == 1
    time.sleep(1.5)  # replicas attached: the backlog stays
    assert m.info("replication")["repl_backlog_active"] == 1
    ref.stop()
    wait_for(lambda: m.info("replication")["connected_slaves"] == 0, what="replica gone")
    after = wait_for(
        lambda: (lambda i: i if i["repl_backlog_active"] == 0 else None)(m.info("replication")),
        timeout=5,
        what="backlog freed",
    )
    assert after["master_replid"] != info["master_replid"]
    assert after["repl_backlog_histlen"] == 0
    m.set("k2", "v")  # no backlog: the offset stays
    assert m.info("replication")["master_repl_offset"] == after["master_repl_offset"]


def test_pure_python_server_both_roles(replicas):
    """The stdlib asyncio fallback (no uvloop, no hiredis): master of a real replica,
    and replica of a real master."""
    srv = start_server(pure_python=True)
    ours = start_server(pure_python=True)
    try:
        m = redis.Redis(port=srv.port, single_connection_client=True)
        populate(m)
        ref = replicas(srv.port)
        wait_for(lambda: link_up(redis.Redis(port=ref.port)), what="link up")
        m.set("after", "1")
        assert m.wait(1, 5000) == 1
        assert dataset(ref.port) == dataset(srv.port)
        r = redis.Redis(port=ours.port)
        r.execute_command("REPLICAOF", "127.0.0.1", ref.port)  # a replica of the replica
        wait_for(lambda: link_up(r), what="our link up")
        m.set("later", "2")
        wait_for(lambda: r.get("later") == b"2", what="chained write")
        assert dataset(ours.port) == dataset(srv.port)
    finally:
        ours.stop()
        srv.stop()
