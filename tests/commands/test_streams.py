"""Streams: what a byte-for-byte comparison cannot cover.

Clock-made IDs ("*"), times (idle, seen-time), propagation (compared with the
replication stream of a real redis-server), RDB payloads (compared with real
DUMP payloads, and round-tripped), AOF rewrite commands (replayed into a real
server), lazy freeing, and the node layout kept in step with listpack sizes.
"""

import random
import threading
import time

import pytest
import redis

from keyspace_helpers import array
from support import RawConn, RealRedis, REDIS_SERVER
from vermilion.persistence import listpack
from vermilion.persistence.crc64 import crc64
from vermilion.persistence.rdb import Reader, RDB_VERSION
from vermilion.persistence.rdb_stream import (
    encode_stream,
    load_stream,
    node_listpack,
    rewrite_commands,
    TYPE_STREAM_LISTPACKS_2,
)
from vermilion.types.stream import Stream, format_id, ID_MAX

needs_redis = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server not installed")


def stored(server, key, db=0):
    return server.server.dbs[db].data.get(key)


def _sibling(name):
    """The test module ``name`` beside this one, whatever pytest's import mode."""
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    spec = importlib.util.spec_from_file_location("_vermilion_sibling_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


fed = _sibling("test_hashes").fed  # fixture: what the dispatcher propagates


@pytest.fixture
def ref():
    """A private redis-server (for DUMP, replication and replays)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    srv = RealRedis()
    yield srv
    srv.stop()


def ref_client(srv):
    return redis.Redis(host="127.0.0.1", port=srv.port)


# ---------------------------------------------------------------------- IDs from the clock
def test_star_ids_follow_the_clock(r):
    before = int(time.time() * 1000)
    ids = [r.xadd("s", {"f": i}) for i in range(50)]
    after = int(time.time() * 1000)
    parsed = [tuple(int(x) for x in i.split(b"-")) for i in ids]
    assert parsed == sorted(parsed) and len(set(parsed)) == 50
    assert before <= parsed[0][0] <= after
    assert parsed[-1][0] <= after
    for (ms1, seq1), (ms2, seq2) in zip(parsed, parsed[1:]):
        assert (ms2 > ms1 and seq2 == 0) or (ms2 == ms1 and seq2 == seq1 + 1)
    # an ID in the future: "*" keeps counting from it
    future = after + 10**9
    r.xadd("s", {"f": 1}, id="%d-5" % future)
    assert r.xadd("s", {"f": 1}) == b"%d-6" % future
    assert r.xadd("s", {"f": 1}, id="%d-*" % future) == b"%d-7" % future
    assert r.xadd("s", {"f": 1}, id="%d-*" % (future + 1)) == b"%d-0" % (future + 1)


def test_xadd_star_on_exhausted_ms(r):
    r.xadd("s", {"f": 1}, id="18446744073709551615-18446744073709551614")
    assert r.xadd("s", {"f": 1}) == b"18446744073709551615-18446744073709551615"
    with pytest.raises(redis.ResponseError, match="exhausted the last possible ID"):
        r.xadd("s", {"f": 1})


# ---------------------------------------------------------------------- times
def test_idle_and_delivery_times(r):
    r.xadd("s", {"f": 1}, id="1-1")
    r.xadd("s", {"f": 2}, id="2-1")
    r.xgroup_create("s", "g", "0")
    r.xreadgroup("g", "alice", {"s": ">"})
    time.sleep(0.12)
    p = r.xpending_range("s", "g", "-", "+", 10)
    assert all(x["time_since_delivered"] >= 100 for x in p)
    assert r.xpending_range("s", "g", "-", "+", 10, idle=5000) == []
    assert len(r.xpending_range("s", "g", "-", "+", 10, idle=100)) == 2
    cons = r.xinfo_consumers("s", "g")
    assert cons[0]["idle"] >= 100
    # XCLAIM IDLE sets the delivery time in the past; TIME sets it absolutely
    r.xclaim("s", "g", "bob", 0, ["1-1"], idle=60000)
    p = r.xpending_range("s", "g", "-", "+", 10)
    assert 60000 <= p[0]["time_since_delivered"] < 61000
    now = int(time.time() * 1000)
    r.xclaim("s", "g", "bob", 0, ["2-1"], time=now - 30000)
    p = r.xpending_range("s", "g", "-", "+", 10)
    assert 30000 <= p[1]["time_since_delivered"] < 31000
    # min-idle-time filters
    assert r.xclaim("s", "g", "carol", 45000, ["1-1", "2-1"], justid=True) == [b"1-1"]
    full = r.xinfo_stream("s", full=True)
    g = full["groups"][0]
    # (redis-py 5 keys these maps with bytes, later versions with str)
    consumers = [
        {(k.decode() if isinstance(k, bytes) else k): v for k, v in c.items()}
        for c in g["consumers"]
    ]
    assert {c["name"] for c in consumers} == {b"alice", b"bob", b"carol"}
    for c in consumers:
        assert abs(c["seen-time"] - time.time() * 1000) < 5000


def test_xautoclaim_min_idle(r):
    for i in range(1, 6):
        r.xadd("s", {"f": i}, id="%d-1" % i)
    r.xgroup_create("s", "g", "0")
    r.xreadgroup("g", "alice", {"s": ">"})
    assert r.xautoclaim("s", "g", "bob", 10000, "0") == [b"0-0", [], []]
    r.xclaim("s", "g", "alice", 0, ["2-1", "4-1"], idle=20000, justid=True)
    assert r.xautoclaim("s", "g", "bob", 10000, "0", justid=True) == [b"2-1", b"4-1"]
    assert r.xautoclaim("s", "g", "bob", 10000, "0", justid=True) == []


# ---------------------------------------------------------------------- propagation
def _read_replication(conn, n, timeout=5):
    """The next ``n`` commands of a replication stream (PING/SELECT/MULTI/EXEC skipped)."""
    out = []
    conn.sock.settimeout(timeout)
    while len(out) < n:
        raw = conn.read_reply()
        parts = array(raw)
        name = parts[0].upper()
        if name in (b"PING", b"SELECT", b"MULTI", b"EXEC"):
            continue
        out.append(parts)
    return out


def _start_replica_stream(srv):
    c = RawConn("127.0.0.1", srv.port)
    c.send(b"SYNC\r\n")
    # $<len>\r\n<rdb bytes> (no trailing CRLF); a "\n" keepalive may come first
    while True:
        line = c._line()
        if line.startswith(b"$"):
            break
    n = int(line[1:-2])
    while len(c.buf) < n:
        c._fill()
    c.buf = c.buf[n:]
    return c


def _mask_times(cmds):
    out = []
    for argv in cmds:
        argv = list(argv)
        for k, a in enumerate(argv[:-1]):
            if a.upper() == b"TIME":
                argv[k + 1] = b"<t>"
        out.append(argv)
    return out


PROPAGATION_SCRIPT = [
    ["XADD", "s", "MAXLEN", "~", "2", "1-1", "f", "v"],
    ["XADD", "s", "2-*", "f", "v"],
    ["XADD", "s", "3-5", "f", "v"],
    ["XADD", "s", "MINID", "~", "0", "4-1", "f", "v"],
    ["XTRIM", "s", "MAXLEN", "10"],
    ["XTRIM", "s", "MAXLEN", "~", "0"],
    ["XTRIM", "s", "MAXLEN", "0"],
    ["XADD", "t", "1-1", "a", "1"],
    ["XADD", "t", "2-1", "a", "2"],
    ["XADD", "t", "3-1", "a", "3"],
    ["XGROUP", "CREATE", "t", "g", "0"],
    ["XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "t", ">"],
    ["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "t", "0"],
    ["XREADGROUP", "GROUP", "g", "bob", "NOACK", "STREAMS", "t", ">"],
    ["XREADGROUP", "GROUP", "g", "bob", "NOACK", "STREAMS", "t", ">"],
    ["XREAD", "STREAMS", "t", "0"],
    ["XCLAIM", "t", "g", "carol", "0", "1", "2-1", "LASTID", "2-1"],
    ["XCLAIM", "t", "g", "carol", "0", "9-9", "LASTID", "5-5"],
    ["XDEL", "t", "1-1"],
    ["XAUTOCLAIM", "t", "g", "dave", "0", "0", "JUSTID"],
    ["XACK", "t", "g", "2-1"],
    ["XGROUP", "SETID", "t", "g", "1-1"],
    ["XGROUP", "CREATECONSUMER", "t", "g", "erin"],
    ["XGROUP", "DELCONSUMER", "t", "g", "erin"],
    ["XSETID", "t", "10-1"],
    ["XGROUP", "DESTROY", "t", "g"],
]


def test_propagation_matches_redis_replication(server, fed, ref):
    stream = _start_replica_stream(ref)
    ours = RawConn(server.host, server.port)
    theirs = RawConn("127.0.0.1", ref.port)
    try:
        for argv in PROPAGATION_SCRIPT:
            a = theirs.call(*argv)
            b = ours.call(*argv)
            assert a[:1] == b[:1], (argv, a, b)
        theirs.call("SET", "sentinel", "1")
        ours.call("SET", "sentinel", "1")
        expected = []
        while True:
            cmd = _read_replication(stream, 1)[0]
            if cmd[0].upper() == b"SET" and cmd[1] == b"sentinel":
                break
            expected.append(cmd)
        got = [c for c in fed if not (c[0].upper() == b"SET" and c[1] == b"sentinel")]
        assert _mask_times(got) == _mask_times(expected)
        names = {tuple(c[:2]) for c in expected}
        assert (b"XGROUP", b"SETID") in names and (b"XGROUP", b"CREATECONSUMER") in names
        assert sum(1 for c in expected if c[0] == b"XCLAIM") >= 5
        assert [b"XADD", b"s", b"MAXLEN", b"=", b"1", b"1-1", b"f", b"v"] in expected
    finally:
        stream.close()
        ours.close()
        theirs.close()


def test_propagation_of_star_id(r, fed):
    i = r.xadd("s", {"f": "v"})
    assert fed[-1] == [b"XADD", b"s", i, b"f", b"v"]
    r.xadd("s", {"f": "v"}, maxlen=5, approximate=True)
    assert fed[-1][:5] == [b"XADD", b"s", b"MAXLEN", b"=", b"2"]
    n = len(fed)
    r.xread({"s": "0"})
    r.xrange("s")
    r.xgroup_create("s", "g", "$")
    n += 1
    r.xreadgroup("g", "c", {"s": ">"})  # nothing new: nothing propagated
    r.xreadgroup("g", "c", {"s": "0"})  # history: nothing propagated
    assert len(fed) == n


def test_blocked_xreadgroup_propagates(server, fed):
    c1 = redis.Redis(host=server.host, port=server.port)
    c2 = redis.Redis(host=server.host, port=server.port)
    try:
        c2.xgroup_create("s", "g", "$", mkstream=True)
        out = []
        t = threading.Thread(
            target=lambda: out.append(c1.xreadgroup("g", "alice", {"s": ">"}, block=5000))
        )
        t.start()
        time.sleep(0.3)
        c2.xadd("s", {"f": "v"}, id="1-1")
        t.join(10)
        assert out and out[0][0][1][0][0] == b"1-1"
        claims = [c for c in fed if c[0] == b"XCLAIM"]
        assert claims and claims[0][:6] == [b"XCLAIM", b"s", b"g", b"alice", b"0", b"1-1"]
        assert claims[0][-2:] == [b"LASTID", b"1-1"]
    finally:
        c1.close()
        c2.close()


# ---------------------------------------------------------------------- blocking (redis-py)
def test_xread_block_wakes_up(server):
    c1 = redis.Redis(host=server.host, port=server.port)
    c2 = redis.Redis(host=server.host, port=server.port)
    try:
        out = []
        t = threading.Thread(target=lambda: out.append(c1.xread({"s": "$"}, block=5000)))
        t.start()
        time.sleep(0.3)
        i = c2.xadd("s", {"f": "v"})
        t.join(10)
        assert out == [[[b"s", [(i, {b"f": b"v"})]]]]
        t0 = time.time()
        assert c1.xread({"s": "$"}, block=200) == []
        assert 0.15 < time.time() - t0 < 3
    finally:
        c1.close()
        c2.close()


# ---------------------------------------------------------------------- RDB payloads
def _dump(payload):
    body = bytes((TYPE_STREAM_LISTPACKS_2,)) + payload + RDB_VERSION.to_bytes(2, "little")
    return body + crc64(0, body).to_bytes(8, "little")


def _undump(blob):
    assert blob[0] == TYPE_STREAM_LISTPACKS_2
    r = Reader(blob, 1, len(blob) - 10)
    s = load_stream(r, blob[0], deep=True)
    assert r.pos == len(blob) - 10
    return s


def _build(cmds, client):
    for c in cmds:
        client.execute_command(*c)


def _scripts():
    rnd = random.Random(5)
    a = [["XADD", "a", "%d-%d" % (i, i % 3), "f", "v%d" % i] for i in range(1, 300)]
    b = [
        [
            "XADD",
            "b",
            "%d-1" % i,
            "k%d" % (i % 4),
            "x" * rnd.randint(0, 300),
            "n",
            str(rnd.randint(-(10**12), 10**12)),
        ]
        for i in range(1, 200)
    ]
    b += [["XDEL", "b", "%d-1" % i] for i in range(1, 200, 3)]
    b += [["XTRIM", "b", "MINID", "50"], ["XTRIM", "b", "MAXLEN", "~", "100"]]
    c = [["XADD", "c", "5-5", "a", "1"], ["XDEL", "c", "5-5"]]
    d = [
        ["XGROUP", "CREATE", "d", "g", "$", "MKSTREAM"],
        ["XSETID", "d", "7-7"],
        ["XGROUP", "CREATE", "d", "h", "0", "ENTRIESREAD", "3"],
    ]
    e = [
        ["XADD", "e", "1-1", "a", "1"],
        ["XADD", "e", "2-1", "b", "2", "c", "3"],
        ["XADD", "e", "3-1", "a", "3"],
        ["XDEL", "e", "1-1"],
    ]
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def test_rdb_payload_is_redis_dump(r, server, ref):
    rc = ref_client(ref)
    for key, cmds in _scripts().items():
        _build(cmds, rc)
        _build(cmds, r)
        theirs = rc.dump(key)
        s = _undump(theirs)
        assert _dump(encode_stream(s)) == theirs, key  # round trip
        ours = stored(server, key.encode())
        assert _dump(encode_stream(ours)) == theirs, key
        # and uncompressed
        assert encode_stream(s, compress=False) == encode_stream(ours, compress=False)
    rc.close()


def test_rdb_round_trip_with_groups(ref):
    rc = ref_client(ref)
    for i in range(1, 60):
        rc.xadd("s", {"f": i, "g": "x" * (i % 7)}, id="%d-1" % i)
    rc.xgroup_create("s", "g1", "0")
    rc.xgroup_create("s", "g2", "$")
    rc.xgroup_create("s", "123", "0")
    rc.xreadgroup("g1", "alice", {"s": ">"}, count=10)
    rc.xreadgroup("g1", "bob", {"s": ">"}, count=5)
    rc.xreadgroup("123", "456", {"s": ">"}, count=3, noack=True)
    rc.xgroup_createconsumer("s", "g2", "idle")
    rc.xdel("s", "3-1", "12-1")
    rc.xclaim("s", "g1", "bob", 0, ["1-1"], retrycount=7)
    blob = rc.dump("s")
    s = _undump(blob)
    assert _dump(encode_stream(s)) == blob
    assert s.length == 57
    g1 = s.groups[b"g1"]
    assert len(g1.pel) == 15 and g1.pel.get(1 << 64 | 1).delivery_count == 7
    assert g1.pel.get(1 << 64 | 1).consumer is g1.consumers[b"bob"]
    assert s.groups[b"123"].entries_read == 3
    assert s.groups[b"g2"].consumers[b"idle"].pel.d == {}
    # our encoding, loaded by Redis
    rc.restore("t", 0, _dump(encode_stream(s)))
    assert rc.xinfo_stream("t", full=True) == rc.xinfo_stream("s", full=True)
    rc.close()


def test_node_byte_sizes_match_listpacks():
    s = Stream()
    rnd = random.Random(3)
    for k in range(1, 3000):
        nf = rnd.randint(1, 4)
        fv = []
        for j in range(nf):
            fv.append(
                rnd.choice(
                    [
                        b"f",
                        b"field",
                        b"%d" % rnd.randint(-99999, 99999),
                        b"x" * rnd.randint(0, 5000),
                    ]
                )
            )
            fv.append(
                rnd.choice(
                    [
                        b"v",
                        b"%d" % rnd.randint(-(2**63), 2**63 - 1),
                        b"y" * rnd.randint(0, 70),
                        b"007",
                        b"-0",
                        b"",
                    ]
                )
            )
        i = (k * 1000 + rnd.randint(0, 500)) << 64 | rnd.randint(0, 2**64 - 1)
        if i <= s.last_id:
            i = s.last_id + 1
        s.append(i, fv, 100, 4096)
        if rnd.random() < 0.2:
            s.delete(rnd.choice(list(s.entries()))[0])
    for node in s.nodes:
        assert len(node_listpack(node)) == node.lp_bytes()
        listpack.decode(node_listpack(node))
    assert len(s.nodes) > 50


# ---------------------------------------------------------------------- AOF rewrite
def test_rewrite_commands_rebuild_the_stream(r, server, ref):
    rc = ref_client(ref)
    cmds = [["XADD", "s", "%d-1" % i, "f", str(i)] for i in range(1, 30)]
    cmds += [
        ["XDEL", "s", "29-1"],
        ["XGROUP", "CREATE", "s", "g", "0"],
        ["XREADGROUP", "GROUP", "g", "alice", "COUNT", "4", "STREAMS", "s", ">"],
        ["XGROUP", "CREATECONSUMER", "s", "g", "nobody"],
        ["XGROUP", "CREATE", "s", "h", "$", "ENTRIESREAD", "5"],
        ["XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"],
        ["XSETID", "empty", "9-9"],
    ]
    _build(cmds, r)
    _build(cmds, rc)
    for key in ("s", "empty"):
        for argv in rewrite_commands(key.encode(), stored(server, key.encode())):
            rc.execute_command(*[a if a != key.encode() else b"copy-" + a for a in argv])
        a = r.xinfo_stream(key, full=True)  # ours, delivery times included
        b = rc.xinfo_stream("copy-" + key, full=True)
        for x in (a, b):
            for g in x["groups"]:
                for c in g["consumers"]:
                    c[b"seen-time"] = 0
        assert a["groups"] == b["groups"]
        assert a == b
        assert r.xinfo_groups(key) == rc.xinfo_groups("copy-" + key)
    rc.close()


# ---------------------------------------------------------------------- memory
def test_lazyfree_of_a_big_stream(r, server):
    pipe = r.pipeline(transaction=False)
    for i in range(20000):
        pipe.xadd("s", {"f": i})
    pipe.execute()
    s = stored(server, b"s")
    assert len(s) == 20000 and bool(s)
    assert r.delete("s") == 1
    deadline = time.time() + 10
    while server.server.lazyfree_pending and time.time() < deadline:
        time.sleep(0.05)
    assert server.server.lazyfree_pending == 0
    assert len(s) == 0


def test_copy_and_empty_stream_truthiness(r, server):
    r.xadd("s", {"f": 1}, id="1-1")
    r.xgroup_create("s", "g", "0")
    r.xreadgroup("g", "c", {"s": ">"})
    r.xdel("s", "1-1")
    s = stored(server, b"s")
    assert len(s) == 0 and bool(s)  # an empty stream is still a value
    assert r.exists("s") == 1
    assert r.copy("s", "t") is True
    t = stored(server, b"t")
    assert t is not s and t.groups[b"g"] is not s.groups[b"g"]
    nack = t.groups[b"g"].pel.get(1 << 64 | 1)
    assert nack.consumer is t.groups[b"g"].consumers[b"c"]
    assert r.type("t") == b"stream" and r.object("encoding", "t") == b"stream"


def test_big_stream_ranges_fast(r):
    pipe = r.pipeline(transaction=False)
    for i in range(1, 50001):
        pipe.xadd("s", {"f": i}, id="%d-1" % i)
    pipe.execute()
    t0 = time.time()
    for k in range(200):
        a = 1 + k * 200
        assert len(r.xrange("s", "%d" % a, "+", count=10)) == 10
        assert len(r.xrevrange("s", "%d" % (a + 100), "-", count=10)) == 10
    assert time.time() - t0 < 10
    assert r.xinfo_stream("s")["radix-tree-keys"] == 500
    # the default LIMIT of "~" is 100 nodes' worth (100 * stream-node-max-entries)
    assert r.xtrim("s", maxlen=1000, approximate=True) == 10000
    assert r.xtrim("s", maxlen=1000, approximate=True, limit=0) == 39000
    assert r.xlen("s") == 1000


def test_pel_order_with_out_of_order_inserts(r):
    for i in range(1, 21):
        r.xadd("s", {"f": i}, id="%d-1" % i)
    r.xgroup_create("s", "g", "$")
    ids = ["%d-1" % i for i in range(1, 21)]
    random.Random(1).shuffle(ids)
    for i in ids:
        r.xclaim("s", "g", "c", 0, [i], force=True, justid=True)
    for i in ids[:10]:
        r.xack("s", "g", i)
    p = [x["message_id"] for x in r.xpending_range("s", "g", "-", "+", 100)]
    assert p == sorted(p, key=lambda x: int(x.split(b"-")[0]))
    assert len(p) == 10
    summary = r.xpending("s", "g")
    assert summary["min"] == p[0] and summary["max"] == p[-1]


def test_format_and_limits():
    assert format_id(ID_MAX) == b"18446744073709551615-18446744073709551615"
    assert format_id(5 << 64 | 7) == b"5-7"
