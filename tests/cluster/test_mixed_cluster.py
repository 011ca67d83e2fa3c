"""A Redis Cluster of three Vermilion and three redis-server nodes, run with
Redis's own tools: ``redis-cli --cluster create/check/reshard`` and redis-py's
``RedisCluster``. Then kill -9 a master of each kind: its replica, of the other
kind, takes over and clients follow; the killed node comes back as a replica.

The tests share one cluster and run in file order (each builds on the last).
"""

import time

import pytest
import redis
from redis.cluster import RedisCluster

from .clusterhelp import REDIS_CLI, REDIS_SERVER, Node, cluster_ok, redis_cli, wait_for

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None or REDIS_CLI is None,
    reason="redis-server and redis-cli are needed (apt-get install redis-server redis-tools)",
)

NODE_TIMEOUT = 2000
KEYS = 10000


@pytest.fixture(scope="module")
def cluster():
    # masters v0, r0, v1 by `--cluster create`; then `--cluster add-node
    # --cluster-slave` gives each a replica of the other kind: r1 -> v0,
    # v2 -> r0, r2 -> v1.
    kinds = ["vermilion", "redis", "vermilion", "redis", "vermilion", "redis"]
    nodes = []
    try:
        for k in kinds:
            nodes.append(Node(k, NODE_TIMEOUT))
        masters = nodes[:3]
        status, out = redis_cli(
            "--cluster",
            "create",
            *[n.addr for n in masters],
            "--cluster-replicas",
            "0",
            "--cluster-yes",
        )
        assert status == 0, out
        for replica, master in zip(nodes[3:], masters):
            status, out = redis_cli(
                "--cluster",
                "add-node",
                replica.addr,
                master.addr,
                "--cluster-slave",
                "--cluster-master-id",
                master.myid(),
            )
            assert status == 0, out
        wait_for(lambda: cluster_ok(nodes), 30, "cluster_state:ok everywhere")
        # and every node has heard from every replica who its master is
        wait_for(lambda: _replicas_known(nodes), 30, "replicas known everywhere")
        yield nodes
    finally:
        for n in nodes:
            n.cleanup()


def _replicas_known(nodes):
    for n in nodes:
        txt = n.client().execute_command("CLUSTER", "NODES")
        txt = txt.decode() if isinstance(txt, bytes) else txt
        if (
            sum(
                1
                for line in txt.splitlines()
                if "slave" in line.split()[2] and line.split()[3] != "-"
            )
            != 3
        ):
            return False
    return True


def _masters_and_replicas(nodes):
    by_id = {n.myid(): n for n in nodes if n.proc.poll() is None}
    masters, replica_of = [], {}
    for n in by_id.values():
        role = n.client().execute_command("ROLE")
        if role[0] == b"master":
            masters.append(n)
    nodes_txt = masters[0].client().execute_command("CLUSTER", "NODES")
    if isinstance(nodes_txt, bytes):
        nodes_txt = nodes_txt.decode()
    for line in nodes_txt.splitlines():
        f = line.split()
        if "slave" in f[2] and f[0] in by_id and f[3] in by_id:
            replica_of[by_id[f[0]]] = by_id[f[3]]
    return masters, replica_of


def _check(nodes, settle=0.0):
    """redis-cli --cluster check; with ``settle`` seconds, checked again until it
    passes or they run out (replicas learn a reshard's last slots by gossip)."""
    live = [n for n in nodes if n.proc.poll() is None]
    deadline = time.time() + settle
    while True:
        status, out = redis_cli("--cluster", "check", live[0].addr)
        if status == 0 or time.time() > deadline:
            return status, out
        time.sleep(0.5)


def test_create_gives_a_clean_mixed_cluster(cluster):
    status, out = _check(cluster)
    assert status == 0, out
    assert "[OK] All nodes agree about slots configuration." in out
    assert "[OK] All 16384 slots covered." in out
    masters, replica_of = _masters_and_replicas(cluster)
    assert sorted(m.kind for m in masters) == ["redis", "vermilion", "vermilion"]
    # every replica follows a master of the other kind
    assert len(replica_of) == 3
    assert all(r.kind != m.kind for r, m in replica_of.items())


def test_cluster_client_writes_10000_keys(cluster):
    rc = RedisCluster(host="127.0.0.1", port=cluster[0].port)
    pipe = rc.pipeline()
    for i in range(KEYS):
        pipe.set("key:%d" % i, i)
    pipe.execute()
    got = rc.mget_nonatomic(["key:%d" % i for i in range(KEYS)])
    assert got == [str(i).encode() for i in range(KEYS)]
    masters, replica_of = _masters_and_replicas(cluster)
    assert sum(m.client().dbsize() for m in masters) == KEYS
    # the replicas (of both kinds) hold their masters' keys
    for r, m in replica_of.items():
        wait_for(
            lambda: r.client().dbsize() == m.client().dbsize(), 20, "replica %s caught up" % r.kind
        )
    rc.close()


def _reshard(src, dst, n, via):
    status, out = redis_cli(
        "--cluster",
        "reshard",
        via.addr,
        "--cluster-from",
        src.myid(),
        "--cluster-to",
        dst.myid(),
        "--cluster-slots",
        str(n),
        "--cluster-yes",
        timeout=600,
    )
    assert status == 0, out[-2000:]
    return out


def _all_keys_readable(port):
    rc = RedisCluster(host="127.0.0.1", port=port)
    try:
        got = rc.mget_nonatomic(["key:%d" % i for i in range(KEYS)])
        return got == [str(i).encode() for i in range(KEYS)]
    finally:
        rc.close()


def test_reshard_1000_slots_from_redis_to_vermilion_and_back(cluster):
    masters, _ = _masters_and_replicas(cluster)
    rmaster = next(m for m in masters if m.kind == "redis")
    vmaster = next(m for m in masters if m.kind == "vermilion")
    before = vmaster.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", 0)
    assert before is not None
    out = _reshard(rmaster, vmaster, 1000, vmaster)
    assert out.count("Moving slot") >= 1000
    status, check = _check(cluster, settle=10)
    assert status == 0, check
    assert _all_keys_readable(vmaster.port)
    _reshard(vmaster, rmaster, 1000, rmaster)
    status, check = _check(cluster, settle=10)
    assert status == 0, check
    assert "[OK] All 16384 slots covered." in check
    assert _all_keys_readable(rmaster.port)


def _fail_over(cluster, kind):
    """kill -9 a master of ``kind``; its replica must take over in time."""
    masters, replica_of = _masters_and_replicas(cluster)
    victim = next(m for m in masters if m.kind == kind)
    replica = next(r for r, m in replica_of.items() if m is victim)
    survivor = next(m for m in masters if m is not victim)
    victim.kill9()
    t0 = time.time()
    wait_for(lambda: replica.role() == "master", NODE_TIMEOUT / 1000 + 10, "replica promoted")
    took = time.time() - t0
    wait_for(
        lambda: "cluster_state:ok" in survivor.client().execute_command("CLUSTER", "INFO").decode(),
        15,
        "cluster ok again",
    )
    # clients follow: every key is still readable through the cluster
    wait_for(lambda: _all_keys_readable(survivor.port), 20, "all keys readable")
    return victim, replica, took


def test_kill_vermilion_master_redis_replica_takes_over(cluster):
    victim, replica, took = _fail_over(cluster, "vermilion")
    assert replica.kind == "redis"
    assert took < NODE_TIMEOUT / 1000 + 10
    # the killed node comes back from its nodes.conf as a replica of the new master
    victim.start()
    wait_for(lambda: victim.role() == "slave", 20, "old master rejoined as replica")
    wait_for(
        lambda: victim.client().dbsize() == replica.client().dbsize(), 20, "rejoined replica synced"
    )


def test_kill_redis_master_vermilion_replica_takes_over(cluster):
    victim, replica, took = _fail_over(cluster, "redis")
    assert replica.kind == "vermilion"
    victim.start()
    wait_for(lambda: victim.role() == "slave", 20, "old master rejoined as replica")
    status, out = _check(cluster)
    assert status == 0, out


def test_writes_after_failovers_reach_every_master(cluster):
    rc = RedisCluster(host="127.0.0.1", port=cluster[2].port)
    for i in range(1000):
        rc.set("after:%d" % i, i)
    assert rc.mget_nonatomic(["after:%d" % i for i in range(1000)]) == [
        str(i).encode() for i in range(1000)
    ]
    rc.close()
    with pytest.raises(redis.exceptions.MovedError):
        # a plain client at one node is redirected for another node's slot
        c = cluster[0].client()
        for i in range(100):
            c.set("probe:%d" % i, 1)
