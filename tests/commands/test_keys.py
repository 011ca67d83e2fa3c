"""Keyspace commands on Vermilion alone: what cannot be compared byte for byte with
redis-server (randomness, unordered replies, idle clocks, speed, SCAN's guarantee)."""

import importlib.util
import time

import pytest
import redis

from keyspace_helpers import on_loop
from vermilion.embed import start_server
from vermilion.keyspace import lru


def _has_module(name):
    return importlib.util.find_spec(name) is not None


# ----------------------------------------------------------------- RANDOMKEY
def test_randomkey_sees_every_key(r):
    r.set("foo", "x")
    r.set("bar", "y")
    seen = {r.randomkey() for _ in range(100)}
    assert seen == {b"foo", b"bar"}


def test_randomkey_follows_writes(r):
    r.set("a", 1)
    assert r.randomkey() == b"a"
    r.delete("a")
    assert r.randomkey() is None
    r.set("b", 1)
    assert r.randomkey() == b"b"
    r.rename("b", "c")
    assert r.randomkey() == b"c"
    r.flushdb()
    assert r.randomkey() is None


def test_randomkey_large_keyspace_is_fast_and_spread(server, r):
    db = server.server.dbs[0]
    on_loop(server, lambda: db.data.update((b"k%d" % i, b"v") for i in range(200000)))
    t = time.perf_counter()
    got = [r.randomkey() for _ in range(500)]
    elapsed = time.perf_counter() - t
    assert len(set(got)) > 400
    assert all(k.startswith(b"k") for k in got)
    assert elapsed < 5
    # keys created after the sample was taken are reached once enough changed
    on_loop(server, lambda: db.data.clear())
    r.set("new", 1)
    assert r.randomkey() == b"new"


def test_randomkey_all_expired_terminates(server, r):
    for i in range(2000):
        r.set("k%d" % i, "v", px=1)
    r.set("live", "v")
    time.sleep(0.01)
    server.server.active_expire_enabled = False
    try:
        assert r.randomkey() == b"live"
        r.delete("live")
        assert r.randomkey() is None
        assert r.dbsize() == 0
    finally:
        server.server.active_expire_enabled = True


def test_randomkey_all_expired_while_expiry_paused_returns(server, r):
    for i in range(10):
        r.set("k%d" % i, "v", px=1)
    time.sleep(0.01)
    srv = server.server
    on_loop(server, lambda: setattr(srv, "expiry_paused", True))
    try:
        assert r.randomkey().startswith(b"k")  # like a replica: gives up, returns one
    finally:
        on_loop(server, lambda: setattr(srv, "expiry_paused", False))


# ---------------------------------------------------------------------- SCAN
def test_scan_returns_every_key_present_throughout(r):
    for i in range(1000):
        r.set("stable:%d" % i, 1)
    cursor, seen, n = 0, set(), 0
    while True:
        cursor, keys = r.scan(cursor, count=37)
        seen.update(keys)
        n += 1
        # churn while scanning: keys come and go
        r.set("new:%d" % n, 1)
        r.delete("new:%d" % (n - 1))
        if cursor == 0:
            break
    assert {b"stable:%d" % i for i in range(1000)} <= seen
    assert n > 10


def test_scan_skips_deleted_keys(r):
    for i in range(100):
        r.set("k%d" % i, 1)
    cursor, keys = r.scan(0, count=10)
    assert cursor != 0
    for i in range(100):
        r.delete("k%d" % i)
    seen = set(keys)
    while cursor:
        cursor, keys = r.scan(cursor, count=10)
        seen.update(keys)
        assert keys == []


def test_scan_type_and_match(r):
    r.set("s1", 1)
    r.rpush("l1", 1)
    r.hset("h1", "f", "v")
    r.sadd("set1", "m")
    r.zadd("z1", {"m": 1})
    got = {}
    for t in ("string", "list", "hash", "set", "zset", "LIST"):
        keys = []
        for k in r.scan_iter(_type=t):
            keys.append(k)
        got[t] = sorted(keys)
    assert got == {
        "string": [b"s1"],
        "list": [b"l1"],
        "hash": [b"h1"],
        "set": [b"set1"],
        "zset": [b"z1"],
        "LIST": [b"l1"],
    }
    assert sorted(r.scan_iter(match="*1", _type="hash")) == [b"h1"]


# ---------------------------------------------------------------------- KEYS
def test_keys_million_is_quick(server, r):
    db = server.server.dbs[0]
    on_loop(server, lambda: db.data.update((b"user:%d" % i, b"v") for i in range(1000000)))
    for pattern, n in (("user:12345*", 11), ("*99999", 10), ("user:[0-1]?", 10), ("nomatch*", 0)):
        t = time.perf_counter()
        assert len(r.keys(pattern)) == n
        assert time.perf_counter() - t < 5, pattern
    on_loop(server, lambda: db.clear())


# ------------------------------------------------------------ OBJECT IDLETIME
def test_idletime_grows_and_resets_on_access(r):
    r.set("foo", "bar")
    time.sleep(2.2)
    r.ttl("foo")
    r.type("foo")
    r.exists("foo")
    r.object("encoding", "foo")
    assert r.object("idletime", "foo") >= 2
    r.touch("foo")
    assert r.object("idletime", "foo") < 2


def test_idletime_set_by_restore_api(server, r):
    r.set("k", "v")
    db = server.server.dbs[0]
    assert on_loop(server, lambda: lru.set_idle(db, b"k", 1000))
    assert 1000 <= r.object("idletime", "k") <= 1010
    r.ttl("k")
    r.exists("k")
    r.type("k")
    r.scan(0, _type="string")
    assert r.object("idletime", "k") >= 1000
    r.get("k")
    assert r.object("idletime", "k") == 0


def test_idletime_survives_rename_and_move(server, r):
    r.set("k", "v")
    db = server.server.dbs[0]
    on_loop(server, lambda: lru.set_idle(db, b"k", 500))
    assert r.object("idletime", "k") >= 500
    # RENAME/MOVE look the key up for writing, which is an access, like Redis
    r.rename("k", "k2")
    assert r.object("idletime", "k2") < 2


def test_lfu_frequency(server, r):
    srv = server.server
    on_loop(server, lambda: srv.config.set("maxmemory-policy", "allkeys-lfu"))
    try:
        r.set("k", "v")
        assert r.object("freq", "k") == lru.LFU_INIT_VAL
        for _ in range(300):
            r.get("k")
        assert r.object("freq", "k") > lru.LFU_INIT_VAL
        r.set("k", "w")  # an overwrite keeps (and bumps) it
        assert r.object("freq", "k") > lru.LFU_INIT_VAL
        db = srv.dbs[0]
        assert on_loop(server, lambda: lru.set_freq(db, b"k", 100))
        assert r.object("freq", "k") == 100
        r.rename("k", "k2")  # the object moves with its counter
        assert r.object("freq", "k2") >= 100
        r.move("k2", 1)
        r.execute_command("SELECT", 1)
        assert r.object("freq", "k2") >= 100
        r.rename("k2", "k")
        r.move("k", 0)
        r.execute_command("SELECT", 0)
        with pytest.raises(redis.ResponseError, match="idle time not tracked"):
            r.object("idletime", "k")
    finally:
        on_loop(server, lambda: srv.config.set("maxmemory-policy", "noeviction"))
    with pytest.raises(redis.ResponseError, match="access frequency not tracked"):
        r.object("freq", "k")


def test_lfu_decay():
    assert lru.lfu_decr((0 << 8) | 10, 0) == 10  # decay disabled
    now = lru._minutes()
    assert lru.lfu_decr((now << 8) | 10, 1) == 10
    assert lru.lfu_decr((((now - 3) & 65535) << 8) | 10, 1) == 7
    assert lru.lfu_decr((((now - 30) & 65535) << 8) | 10, 1) == 0
    assert lru.lfu_incr(255, 10) == 255
    assert lru.lfu_incr(0, 10) == 1  # below LFU_INIT_VAL: always


def test_lru_entries_follow_deletes(server, r):
    db = server.server.dbs[0]
    for i in range(100):
        r.set("k%d" % i, "v")
    r.delete(*["k%d" % i for i in range(50)])
    r.rename("k50", "x")
    assert on_loop(server, lambda: set(db.lru) == set(db.data))
    r.flushall()
    assert on_loop(server, lambda: len(db.lru)) == 0


# ------------------------------------------------------------------- OBJECT
@pytest.mark.parametrize(
    "module,setup,expected",
    [
        ("vermilion.types.list", lambda r: r.rpush("c", "a"), b"quicklist"),
        ("vermilion.types.hash", lambda r: r.hset("c", "f", "v"), b"listpack"),
        ("vermilion.types.set", lambda r: r.sadd("c", 1, 2), b"intset"),
        ("vermilion.types.set", lambda r: r.sadd("c", "a"), b"hashtable"),
        ("vermilion.types.zset", lambda r: r.zadd("c", {"a": 1}), b"listpack"),
    ],
)
def test_object_encoding_collections(r, module, setup, expected):
    if not _has_module(module):
        pytest.skip("%s is not written yet" % module)
    setup(r)
    assert r.object("encoding", "c") == expected
    assert r.object("refcount", "c") == 1


@pytest.mark.parametrize(
    "module,setup,check",
    [
        (
            "vermilion.types.list",
            lambda r: r.rpush("c", "a", "b"),
            lambda r: (r.rpush("d", "x"), r.lrange("c", 0, -1) == [b"a", b"b"])[1],
        ),
        (
            "vermilion.types.hash",
            lambda r: r.hset("c", "f", "v"),
            lambda r: (r.hset("d", "g", "w"), r.hgetall("c") == {b"f": b"v"})[1],
        ),
        (
            "vermilion.types.set",
            lambda r: r.sadd("c", "a"),
            lambda r: (r.sadd("d", "b"), r.smembers("c") == {b"a"})[1],
        ),
        (
            "vermilion.types.zset",
            lambda r: r.zadd("c", {"a": 1}),
            lambda r: (r.zadd("d", {"b": 2}), r.zrange("c", 0, -1) == [b"a"])[1],
        ),
    ],
)
def test_copy_collections_are_independent(r, module, setup, check):
    if not _has_module(module):
        pytest.skip("%s is not written yet" % module)
    setup(r)
    assert r.copy("c", "d") == 1
    assert check(r)
    r.delete("c")
    assert r.exists("d") == 1


def test_type_names(r):
    r.set("s", "v")
    r.append("a", "x")
    assert r.type("s") == b"string"
    assert r.type("a") == b"string"
    assert r.type("none") == b"none"


def test_swapdb_moves_clients_view(server, r):
    r2 = redis.Redis(host=server.host, port=server.port, db=1)
    try:
        r.set("a", "in0")
        r2.set("a", "in1")
        r.swapdb(0, 1)
        assert r.get("a") == b"in1"
        assert r2.get("a") == b"in0"
        assert r.randomkey() == b"a"
    finally:
        r2.close()


def test_flushall_with_save_points_saves_at_once(tmp_path):
    with start_server(dir=str(tmp_path)) as srv:
        snap = getattr(srv.server, "snapshot", None)
        if snap is None:
            pytest.skip("no RDB persistence in this build yet")
        r = redis.Redis(port=srv.port)
        r.set("a", 1)
        r.flushall()
        assert not (tmp_path / "dump.rdb").exists()  # save "": no snapshot
        assert srv.server.dirty - srv.server.dirty_at_last_save >= 2
        on_loop(srv, lambda: srv.server.config.set("save", "3600 1"))
        r.set("a", 1)
        before = srv.server.lastsave
        r.flushall()
        assert (tmp_path / "dump.rdb").exists()
        assert srv.server.dirty - srv.server.dirty_at_last_save == 0
        assert srv.server.lastsave >= before
        r.close()


def test_many_servers_independent():
    with start_server() as a, start_server() as b:
        ra = redis.Redis(port=a.port)
        rb = redis.Redis(port=b.port)
        ra.set("x", 1)
        assert rb.keys("*") == []
        assert ra.keys("*") == [b"x"]
        ra.close()
        rb.close()
