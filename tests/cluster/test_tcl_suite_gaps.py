"""Regression tests for what Redis's own cluster test suites (tests/unit/cluster*,
tests/cluster/tests, run by conformance/tcl/run.py) found missing: each test
names the Tcl test it stands for.

Two Vermilion masters (slots 0-8191 and 8192-16383) built with CLUSTER
ADDSLOTSRANGE and MEET; the tests share them and undo what they change.
"""

import time

import pytest
import redis

from .clusterhelp import Node, wait_for

NODE_TIMEOUT = 2000


def _cmd(node, *args):
    r = node.client().execute_command(*args)
    return r.decode() if isinstance(r, bytes) else r


@pytest.fixture(scope="module")
def pair():
    nodes = []
    try:
        a = Node("vermilion", NODE_TIMEOUT, ["--enable-debug-command", "yes"])
        nodes.append(a)
        b = Node("vermilion", NODE_TIMEOUT, ["--enable-debug-command", "yes"])
        nodes.append(b)
        _cmd(a, "CLUSTER", "ADDSLOTSRANGE", 0, 8191)
        _cmd(b, "CLUSTER", "ADDSLOTSRANGE", 8192, 16383)
        _cmd(a, "CLUSTER", "MEET", "127.0.0.1", b.port)
        for n in nodes:
            wait_for(lambda n=n: "cluster_state:ok" in _cmd(n, "CLUSTER", "INFO"), 30, "cluster ok")
        yield a, b
    finally:
        for n in nodes:
            n.cleanup()


def _slot_of_owner(node, key_prefix, lo, hi):
    for i in range(100000):
        key = "%s%d" % (key_prefix, i)
        s = _cmd(node, "CLUSTER", "KEYSLOT", key)
        if lo <= s <= hi:
            return key, s
    raise AssertionError("no key found")


def test_blocked_client_redirected_after_slot_moves(pair):
    # unit/cluster: "Verify command got unblocked after resharding"
    a, b = pair
    key, slot = _slot_of_owner(a, "blk", 0, 8191)
    blocked = a.client()
    conn = blocked.connection_pool.get_connection()
    conn.send_command("BLPOP", key, 0)
    wait_for(lambda: a.client().info()["blocked_clients"] == 1, 10, "client blocked")
    a_id, b_id = _cmd(a, "CLUSTER", "MYID"), _cmd(b, "CLUSTER", "MYID")
    _cmd(b, "CLUSTER", "SETSLOT", slot, "IMPORTING", a_id)
    _cmd(a, "CLUSTER", "SETSLOT", slot, "MIGRATING", b_id)
    for n in (b, a):
        _cmd(n, "CLUSTER", "SETSLOT", slot, "NODE", b_id)
    try:
        # (redis-py turns -MOVED into MovedError, the text after MOVED as message)
        with pytest.raises(redis.exceptions.MovedError, match="%d 127.0.0.1:%d" % (slot, b.port)):
            conn.read_response()
        assert a.client().info()["blocked_clients"] == 0
    finally:
        conn.disconnect()
        for n in (a, b):
            _cmd(n, "CLUSTER", "SETSLOT", slot, "NODE", a_id)


def test_expired_key_during_migration_is_asked_for(pair):
    # unit/cluster/misc: "Key lazy expires during key migration"
    a, b = pair
    c = a.client()
    c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    try:
        slot = _cmd(a, "CLUSTER", "KEYSLOT", "FOO")
        assert slot <= 8191
        c.set("FOO", "BAR", px=10)
        a_id, b_id = _cmd(a, "CLUSTER", "MYID"), _cmd(b, "CLUSTER", "MYID")
        _cmd(a, "CLUSTER", "SETSLOT", slot, "MIGRATING", b_id)
        _cmd(b, "CLUSTER", "SETSLOT", slot, "IMPORTING", a_id)
        time.sleep(0.02)
        with pytest.raises(redis.exceptions.AskError, match="%d 127.0.0.1:%d" % (slot, b.port)):
            c.get("FOO")
        assert c.ping()
    finally:
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 1)
        for n in (a, b):
            _cmd(n, "CLUSTER", "SETSLOT", slot, "STABLE")


def test_config_set_announced_ports_apply_at_once(pair):
    # unit/cluster/announced-endpoints
    a, b = pair
    port = a.port + 7
    c = a.client()
    try:
        c.config_set("cluster-announce-port", port)
        assert ":%d@" % port in _cmd(a, "CLUSTER", "NODES")
        wait_for(lambda: ":%d@" % port in _cmd(b, "CLUSTER", "NODES"), 10, "gossiped port")
        c.config_set("cluster-announce-bus-port", port + 1)
        assert "@%d " % (port + 1) in _cmd(a, "CLUSTER", "NODES")
    finally:
        c.config_set("cluster-announce-port", 0)
        c.config_set("cluster-announce-bus-port", 0)
    nodes = _cmd(a, "CLUSTER", "NODES")
    assert ":%d@%d " % (a.port, a.port + 10000) in nodes
    wait_for(
        lambda: ":%d@%d " % (a.port, a.port + 10000) in _cmd(b, "CLUSTER", "NODES"),
        10,
        "port back",
    )


def test_debug_clusterlink_kill_and_drop_filter(pair):
    # unit/cluster/links, tests/cluster's init-tests (DEBUG DROP-CLUSTER-PACKET-FILTER)
    a, b = pair
    b_id = _cmd(b, "CLUSTER", "MYID")
    c = a.client()
    wait_for(lambda: len(c.execute_command("CLUSTER", "LINKS")) == 2, 10, "both links")
    p = c.pipeline(transaction=True)
    p.execute_command("DEBUG", "CLUSTERLINK", "KILL", "TO", b_id)
    p.execute_command("SPUBLISH", _slot_of_owner(a, "ch", 0, 8191)[0], "hello")
    assert p.execute() == [b"OK", 0]
    wait_for(lambda: len(c.execute_command("CLUSTER", "LINKS")) == 2, 10, "link back")
    with pytest.raises(redis.ResponseError, match="Unknown node"):
        c.execute_command("DEBUG", "CLUSTERLINK", "KILL", "ALL", "f" * 40)
    # dropping PONGs (type 1) from b: a logs it; -1 lets everything through again
    assert c.execute_command("DEBUG", "DROP-CLUSTER-PACKET-FILTER", 1) == b"OK"
    wait_for(lambda: "Dropping packet that matches debug drop filter" in a.log(), 10, "drop logged")
    assert c.execute_command("DEBUG", "DROP-CLUSTER-PACKET-FILTER", -1) == b"OK"


def test_announced_hostname_length(pair):
    # cluster/27-endpoints: "Test hostname validation" (NET_HOST_STR_LEN)
    a, _ = pair
    c = a.client()
    with pytest.raises(redis.ResponseError, match="Hostnames must be less than 256 characters"):
        c.config_set("cluster-announce-hostname", "x" * 256)
    with pytest.raises(redis.ResponseError, match="may only contain alphanumeric"):
        c.config_set("cluster-announce-hostname", "?.com")
    try:
        c.config_set("cluster-announce-hostname", "h" * 255)
        assert ",%s " % ("h" * 255) in _cmd(a, "CLUSTER", "NODES")
    finally:
        c.config_set("cluster-announce-hostname", "")


def test_writing_script_on_readonly_replica_is_moved(pair):
    # cluster/16-transactions-on-replica: "reply MOVED when eval from replica for update"
    a, b = pair
    r = Node("vermilion", NODE_TIMEOUT, ["--enable-debug-command", "yes"])
    try:
        _cmd(r, "CLUSTER", "MEET", "127.0.0.1", a.port)
        a_id = _cmd(a, "CLUSTER", "MYID")
        wait_for(lambda: a_id in _cmd(r, "CLUSTER", "NODES"), 20, "r knows a")
        _cmd(r, "CLUSTER", "REPLICATE", a_id)
        key, slot = _slot_of_owner(a, "k", 0, 8191)
        a.client().set(key, "v")
        wait_for(lambda: r.client().info("replication")["master_link_status"] == "up", 30, "sync")
        wait_for(lambda: "cluster_state:ok" in _cmd(r, "CLUSTER", "INFO"), 30, "r sees all slots")
        c = r.client()
        c.execute_command("READONLY")
        with pytest.raises(redis.exceptions.MovedError, match="%d 127.0.0.1:%d" % (slot, a.port)):
            c.eval("#!lua\nreturn redis.call('del', KEYS[1])", 1, key)
        # a script that declared no-writes, and one without a shebang, are reads here
        wait_for(lambda: c.get(key) == b"v", 10, "key replicated")
        assert c.eval("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, key) == b"v"
        # CLUSTER SHARDS: the synced replica is "online" (its offset is not 0)
        # (offset 0 also means "loading": a write after the sync moves it on)
        a.client().set(key, "w")
        wait_for(
            lambda: "loading" not in repr(c.execute_command("CLUSTER", "SHARDS")),
            10,
            "replica online",
        )
    finally:
        r_name = r.myid()
        r.cleanup()
        for n in (a, b):
            try:
                _cmd(n, "CLUSTER", "FORGET", r_name)
            except redis.ResponseError:
                pass
