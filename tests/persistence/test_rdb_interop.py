"""RDB files across servers: Vermilion <-> redis-server <-> Vermilion, with real files.

The same data set (every type, small and large encodings, binary data, TTLs,
several databases) is written to one server, saved to a file, loaded by the
other, and both are compared key by key, value by value, encoding by encoding.
Our files must also pass ``redis-check-rdb``; Redis's test assets (RDB files
from Redis 2.x-6.x with zipmap, ziplist and intset encodings) must load.
"""

import os
import shutil
import subprocess

import pytest
import redis

from pers_helpers import REDIS_CHECK_RDB, needs_redis, populate, snapshot, assert_same
from vermilion.persistence import rdb

pytestmark = needs_redis

ASSETS = "/tmp/redissrc/redis-7.0.15/tests/assets"


def _check_rdb(path):
    p = subprocess.run([REDIS_CHECK_RDB, str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "RDB looks OK" in p.stdout
    return p.stdout


def test_vermilion_file_loads_in_redis(tmp_path, vermilion_factory, redis_proc_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    populate(r)
    ours = snapshot(r, encodings=False)
    assert r.save()
    path = tmp_path / "dump.rdb"
    assert path.exists()
    out = _check_rdb(path)
    nkeys = sum(len(v) for v in ours.values())
    assert "[info] %d keys read" % nkeys in out
    assert "[info] 3 expires" in out
    ref = redis_proc_factory(tmp_path).client()
    assert_same(snapshot(ref, encodings=False), snapshot(r, encodings=False))
    # TTLs survive as absolute times
    assert 400000 < ref.pttl("s:ttl") <= 500000
    # and a Vermilion loading the same file ends up exactly like Redis, encodings included
    srv.stop()
    srv2 = vermilion_factory(dir=str(tmp_path))
    assert_same(snapshot(redis.Redis(port=srv2.port)), snapshot(ref))


def test_redis_file_loads_in_vermilion(tmp_path, vermilion_factory, redis_proc_factory):
    ref = redis_proc_factory(tmp_path).client()
    populate(ref)
    assert ref.save()
    ref.execute_command("DEBUG", "RELOAD")  # Redis's own post-load encodings
    theirs = snapshot(ref)
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    assert_same(snapshot(r), theirs)
    assert 400000 < r.pttl("s:ttl") <= 500000


def test_vermilion_to_vermilion(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    populate(r, seed=3)
    before = snapshot(r, encodings=False)
    assert r.save()
    srv.stop()
    srv2 = vermilion_factory(dir=str(tmp_path))
    r2 = redis.Redis(port=srv2.port)
    assert_same(snapshot(r2, encodings=False), before)


def test_files_are_byte_identical_for_deterministic_data(
    tmp_path, vermilion_factory, redis_proc_factory
):
    """Encodings whose byte layout is fixed (no hashtable order) give Redis's exact file."""
    vdir = tmp_path / "v"
    rdir = tmp_path / "r"
    vdir.mkdir()
    rdir.mkdir()
    srv = vermilion_factory(dir=str(vdir))
    ref = redis_proc_factory(rdir).client()
    r = redis.Redis(port=srv.port)
    for c in (r, ref):
        x = c.execute_command
        x("SET", "a", "hello")
        x("SET", "n", "-123456")
        x("SET", "long", "qwertyuiop" * 50)
        x("RPUSH", "l", *range(3000))
        x("HSET", "h", "f1", "v1", "f2", "22")
        x("SADD", "i", 5, 3, 1)
        x("ZADD", "z", 1, "one", 2.5, "two")
    for k in ("a", "n", "long", "l", "h", "i", "z"):
        assert r.dump(k) == ref.dump(k), k


def test_expired_keys_are_dropped_on_load(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    r.set("gone", "x", px=150)
    r.set("stays", "y", px=600000)
    r.set("plain", "z")
    assert r.save()
    srv.stop()
    import time

    time.sleep(0.3)
    srv2 = vermilion_factory(dir=str(tmp_path))
    r2 = redis.Redis(port=srv2.port)
    assert sorted(r2.keys()) == [b"plain", b"stays"]
    assert srv2.server.rdb_last_load_keys_expired == 1
    assert srv2.server.rdb_last_load_keys_loaded == 2


@pytest.mark.parametrize(
    "asset",
    [
        "encodings.rdb",
        "hash-zipmap.rdb",
        "hash-ziplist.rdb",
        "list-quicklist.rdb",
        "zset-ziplist.rdb",
        "scriptbackup.rdb",
    ],
)
def test_redis_assets_load_like_redis(tmp_path, asset, vermilion_factory, redis_proc_factory):
    """Old-format files (RDB v4..v9: zipmap, ziplist, intset, quicklist v1) load as in Redis."""
    src = os.path.join(ASSETS, asset)
    if not os.path.exists(src):
        pytest.skip("Redis test assets not available")
    vdir = tmp_path / "v"
    rdir = tmp_path / "r"
    vdir.mkdir()
    rdir.mkdir()
    shutil.copy(src, vdir / asset)
    shutil.copy(src, rdir / asset)
    ref = redis_proc_factory(rdir, asset).client()
    srv = vermilion_factory(dir=str(vdir), dbfilename=asset)
    r = redis.Redis(port=srv.port)
    assert_same(snapshot(r, dbs=(0,)), snapshot(ref, dbs=(0,)))


def test_corrupt_asset_refuses_to_start(tmp_path, vermilion_factory):
    src = os.path.join(ASSETS, "corrupt_ziplist.rdb")
    if not os.path.exists(src):
        pytest.skip("Redis test assets not available")
    shutil.copy(src, tmp_path / "dump.rdb")
    with pytest.raises(SystemExit) as ei:
        vermilion_factory(dir=str(tmp_path))
    assert "Hash ziplist integrity check failed" in str(ei.value)


def test_empty_keys_are_skipped(tmp_path, vermilion_factory, redis_proc_factory):
    """corrupt_empty_keys.rdb holds empty collections: both servers skip them."""
    src = os.path.join(ASSETS, "corrupt_empty_keys.rdb")
    if not os.path.exists(src):
        pytest.skip("Redis test assets not available")
    vdir = tmp_path / "v"
    rdir = tmp_path / "r"
    vdir.mkdir()
    rdir.mkdir()
    shutil.copy(src, vdir / "dump.rdb")
    shutil.copy(src, rdir / "dump.rdb")
    ref = redis_proc_factory(rdir).client()
    srv = vermilion_factory(dir=str(vdir))
    r = redis.Redis(port=srv.port)
    assert sorted(r.keys()) == sorted(ref.keys())
    assert r.dbsize() == ref.dbsize() == 0


@pytest.mark.parametrize(
    "damage", ["truncate", "flip-body", "flip-crc", "bad-magic", "bad-version"]
)
def test_damaged_file_refuses_to_start(tmp_path, vermilion_factory, damage):
    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    populate(r, big=False)
    assert r.save()
    srv.stop()
    path = tmp_path / "dump.rdb"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
        expect = "Unexpected EOF"
    elif damage == "flip-body":
        data[len(data) // 2] ^= 0x01
        expect = ""
    elif damage == "flip-crc":
        data[-1] ^= 0xFF
        expect = "RDB CRC error"
    elif damage == "bad-magic":
        data[:5] = b"RADIS"
        expect = "Wrong signature"
    else:
        data[5:9] = b"0011"
        expect = "Can't handle RDB format version"
    path.write_bytes(bytes(data))
    with pytest.raises(SystemExit) as ei:
        vermilion_factory(dir=str(tmp_path))
    assert expect in str(ei.value)
    assert "Fatal error loading the DB" in str(ei.value)


def test_rdbchecksum_no_writes_zero_checksum(tmp_path, vermilion_factory, redis_proc_factory):
    srv = vermilion_factory(dir=str(tmp_path), rdbchecksum="no", rdbcompression="no")
    r = redis.Redis(port=srv.port)
    r.set("k", "v" * 100)
    assert r.save()
    data = (tmp_path / "dump.rdb").read_bytes()
    assert data[-8:] == b"\0" * 8
    assert b"v" * 100 in data  # not compressed
    out = _check_rdb(tmp_path / "dump.rdb")
    assert "checksum disabled" in out
    ref = redis_proc_factory(tmp_path).client()
    assert ref.get("k") == b"v" * 100


def test_check_rdb_tool(tmp_path, vermilion_factory):
    from vermilion import check_rdb
    import io

    srv = vermilion_factory(dir=str(tmp_path))
    r = redis.Redis(port=srv.port)
    populate(r, big=False)
    assert r.save()
    path = str(tmp_path / "dump.rdb")
    out = io.StringIO()
    assert check_rdb.check(path, out) == 0
    text = out.getvalue()
    theirs = subprocess.run([REDIS_CHECK_RDB, path], capture_output=True, text=True).stdout
    # same lines, minus Redis's process log noise
    assert text.splitlines() == [ln for ln in theirs.splitlines() if ln.startswith("[")]
    data = open(path, "rb").read()
    bad = tmp_path / "bad.rdb"
    bad.write_bytes(data[:300])
    out = io.StringIO()
    assert check_rdb.check(str(bad), out) == 1
    ours = out.getvalue()
    theirs = subprocess.run([REDIS_CHECK_RDB, str(bad)], capture_output=True, text=True).stdout
    assert "--- RDB ERROR DETECTED ---" in ours
    assert [ln for ln in ours.splitlines() if "offset" in ln or "info" in ln] == [
        ln for ln in theirs.splitlines() if "offset" in ln or "info" in ln
    ]
    p = subprocess.run(
        ["python3", "-m", "vermilion.check_rdb", str(bad)],
        capture_output=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert p.returncode == 1


def test_load_result_api_reads_redis_file(tmp_path, redis_proc_factory):
    ref = redis_proc_factory(tmp_path).client()
    populate(ref, big=False)
    ref.save()
    res = rdb.load_rdb(rdb.read_file(tmp_path / "dump.rdb"))
    assert res.version == 10
    assert res.aux[b"redis-ver"] == b"7.0.15"
    assert res.checksum_ok is True
    assert set(res.dbs) == {0, 3, 15}
    assert res.dbs[0][0][b"s:bin"] == bytes(range(256))
