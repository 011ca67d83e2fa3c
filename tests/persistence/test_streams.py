"""Streams in RDB files, DUMP payloads and AOF rewrites (RDB_TYPE_STREAM_LISTPACKS_2).

Streams are built in the real redis-server (every stream feature: several
nodes, different field sets, consumer groups, PELs, consumers without pending
entries, XDEL tombstones, XSETID), moved here with DUMP/RESTORE or an RDB
file, and must come back identical: byte-identical DUMP payloads (XDEL
tombstones included), identical XRANGE/XINFO/XPENDING, and the same AOF
rewrite commands as Redis.
"""

import os
import time

import pytest
import redis

from pers_helpers import in_loop, needs_redis
from vermilion.persistence import rdb

stmod = pytest.importorskip("vermilion.types.stream")
pytestmark = needs_redis


def build(c, key="s", tombstones=False):
    c.delete(key)
    c.xadd(key, {"a": "1", "b": "2"}, id="1-1")
    c.xadd(key, {"a": "3", "b": "4"}, id="1-2")
    c.xadd(key, {"other": "x"}, id="2-0")
    c.xadd(key, {"n": "-5", "big": "y" * 300}, id="3-0")
    for i in range(260):
        c.xadd(key, {"a": str(i), "b": "v" * (i % 40)}, id="%d-%d" % (10 + i // 3, i % 3))
    c.xgroup_create(key, "g1", id="0")
    c.xreadgroup("g1", "alice", {key: ">"}, count=5)
    c.xreadgroup("g1", "bob", {key: ">"}, count=3)
    c.execute_command("XGROUP", "CREATECONSUMER", key, "g1", "carol")
    c.xgroup_create(key, "g0", id="$")
    c.execute_command("XCLAIM", key, "g1", "dave", "0", "1-2", "RETRYCOUNT", "7")
    if tombstones:
        c.xdel(key, "1-2", "10-1")
        c.execute_command("XTRIM", key, "MAXLEN", "250")


def observe(c, key):
    info = c.execute_command("XINFO", "STREAM", key, "FULL")
    return (
        c.xrange(key),
        c.xlen(key),
        info,
        [
            (p["message_id"], p["consumer"], p["times_delivered"])
            for p in c.xpending_range(key, "g1", "-", "+", 100)
        ],
        c.execute_command("XINFO", "GROUPS", key),
    )


def test_stream_dump_byte_identical(real_redis):
    c = redis.Redis(port=real_redis.port)
    build(c)
    p = c.dump("s")
    v = rdb.restore_value(p)
    assert isinstance(v, stmod.Stream)
    assert v.length == c.xlen("s")
    assert rdb.dump_payload(v) == p
    c.delete("s")


def test_stream_with_tombstones_round_trips_through_redis(real_redis):
    c = redis.Redis(port=real_redis.port)
    build(c, tombstones=True)
    before = observe(c, "s")
    p = c.dump("s")
    v = rdb.restore_value(p)
    assert v.length == c.xlen("s")
    assert rdb.dump_payload(v) == p  # tombstones are kept: identical bytes
    c.restore("s", 0, rdb.dump_payload(v), replace=True)
    after = observe(c, "s")
    assert after[0] == before[0] and after[1] == before[1]
    assert after[3:] == before[3:]
    assert after[2] == before[2]  # XINFO STREAM FULL, node stats included
    c.delete("s")


def test_stream_restore_into_vermilion_and_back(real_redis, vermilion_factory):
    c = redis.Redis(port=real_redis.port)
    build(c, tombstones=True)
    before = observe(c, "s")
    srv = vermilion_factory()
    r = redis.Redis(port=srv.port)
    assert r.restore("s", 0, c.dump("s"))
    c.delete("s")
    assert c.restore("s", 0, r.dump("s"))
    after = observe(c, "s")
    assert after[0] == before[0] and after[3:] == before[3:]
    c.delete("s")


def test_stream_in_rdb_file_both_ways(tmp_path, real_redis, redis_proc_factory, vermilion_factory):
    src = redis.Redis(port=real_redis.port)
    build(src, "s1")
    build(src, "s2", tombstones=True)
    src.xadd("s3", {"x": "y"}, id="5-5")
    src.xdel("s3", "5-5")  # an empty stream key
    rdir = tmp_path / "r"
    rdir.mkdir()
    ref_proc = redis_proc_factory(rdir)
    ref = ref_proc.client()
    for k in ("s1", "s2", "s3"):
        ref.restore(k, 0, src.dump(k))
        src.delete(k)
    expected = {
        k: observe(ref, k) if k != "s3" else (ref.xlen(k), ref.xinfo_stream(k))
        for k in ("s1", "s2", "s3")
    }
    ref.save()
    ref_proc.stop()
    # Redis's file -> Vermilion -> Vermilion's file -> a new redis-server
    srv = vermilion_factory(dir=str(rdir))
    r = redis.Redis(port=srv.port)
    assert sorted(r.keys()) == [b"s1", b"s2", b"s3"]
    vdir = tmp_path / "v"
    vdir.mkdir()
    in_loop(srv, srv.server.config.set, "dir", str(vdir))
    assert r.save()
    import subprocess
    from pers_helpers import REDIS_CHECK_RDB
    from vermilion import check_rdb

    out = subprocess.run(
        [REDIS_CHECK_RDB, str(vdir / "dump.rdb")], capture_output=True, text=True
    ).stdout
    assert "RDB looks OK" in out and "[info] 3 keys read" in out
    assert check_rdb.check(str(vdir / "dump.rdb"), open(os.devnull, "w")) == 0
    ref2 = redis_proc_factory(vdir).client()
    for k in ("s1", "s2"):
        got = observe(ref2, k)
        assert got[0] == expected[k][0] and got[3:] == expected[k][3:]
    assert ref2.xlen("s3") == 0
    assert ref2.xinfo_stream("s3")["last-generated-id"] == b"5-5"


def test_stream_aof_rewrite_matches_redis(
    tmp_path, real_redis, redis_proc_factory, vermilion_factory
):
    """With aof-use-rdb-preamble no, the base file holds the same commands as Redis's."""
    src = redis.Redis(port=real_redis.port)
    build(src, "s", tombstones=True)
    src.xadd("e", {"x": "y"}, id="5-5")
    src.xdel("e", "5-5")
    rdir, vdir = tmp_path / "r", tmp_path / "v"
    rdir.mkdir()
    vdir.mkdir()
    ref = redis_proc_factory(
        rdir, "dump.rdb", "--aof-use-rdb-preamble", "no", "--appendonly", "yes"
    ).client()
    srv = vermilion_factory(dir=str(vdir), aof_use_rdb_preamble="no", appendonly="yes")
    r = redis.Redis(port=srv.port)
    for db, k in ((0, "s"), (1, "e")):  # one key per database: a fixed order
        p = src.dump(k)
        for c in (ref, r):
            c.execute_command("SELECT", db)
            c.restore(k, 0, p)
        src.delete(k)
    ref.bgrewriteaof()
    r.bgrewriteaof()

    def base(d):
        for _ in range(500):
            names = [f for f in os.listdir(d / "appendonlydir") if ".2.base." in f]
            if names:
                return (d / "appendonlydir" / names[0]).read_bytes()
            time.sleep(0.02)
        raise AssertionError("no rewrite")

    ours, theirs = base(vdir), base(rdir)
    assert ours.split(b"*2\r\n$6\r\nSELECT")[1:] == theirs.split(b"*2\r\n$6\r\nSELECT")[1:]
