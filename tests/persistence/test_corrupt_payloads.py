"""Corrupt DUMP payloads: an error or a sound value, never a crash (issue #12).

* Property tests: any damage to a valid DUMP payload (its CRC recomputed, so the
  decoders see it) makes ``restore_value`` raise :class:`CorruptError` or return
  a value that dumps and restores to itself. With ``sanitize-dump-payload no``
  a corruption only Redis's deep checks find is salvaged (``e.salvage``: what is
  sound of the value, as Redis accepts the payload whole); with ``yes`` never.
* Real servers: RESTORE answers as redis-server 7.0.15 does for payloads from
  Redis's corrupt-dump tests, and Vermilion's log says what Redis's says.
"""

import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings, strategies as st

from vermilion.persistence import rdb
from vermilion.persistence.errors import CorruptError
from vermilion.types.hash import PackedHash, RHash
from vermilion.types.list import RList
from vermilion.types.set import PackedSet, RSet
from vermilion.types.zset import PackedZSet, ZSet


def _limits(deep):
    lim = rdb.Limits()
    lim.deep = deep
    return lim


def _with_crc(body):
    return body + rdb.crc64(0, body).to_bytes(8, "little")


def _canon(v):
    """A comparable view of a value's contents."""
    if isinstance(v, (bytes, bytearray)):
        return ("string", bytes(v))
    if isinstance(v, RList):
        return ("list", list(map(bytes, v)))
    if isinstance(v, (RHash, PackedHash)):
        return ("hash", sorted((bytes(f), bytes(x)) for f, x in v.items()))
    if isinstance(v, (RSet, PackedSet)):
        return ("set", sorted(map(bytes, v)))
    if isinstance(v, (ZSet, PackedZSet)):
        return ("zset", sorted((bytes(m), s) for m, s in v.items()))
    if getattr(type(v), "type_name", None) == "stream":
        return ("stream", [(i, list(fv)) for i, fv in v.entries()], v.length)
    raise AssertionError("unexpected value %r" % (v,))


def _assert_sound(v):
    """The value is one the server can hold: it dumps, and restores to itself."""
    again = rdb.restore_value(rdb.dump_payload(v))
    assert _canon(again) == _canon(v)


def _seeds():
    """Valid payloads of every encoding a DUMP gives (streams from a real server)."""
    lp_hash = RHash({b"a": b"1", b"field": b"value", b"n": b"-70000"})
    lp_hash.listpack = True
    ht_hash = RHash({b"k%d" % i: b"v" * i for i in range(20)})
    ht_hash.listpack = False
    values = [
        b"hello",
        b"12345",
        b"x" * 50,
        RList([b"a", b"1", b"-4096", b"x" * 70, b"y" * 5000]),
        lp_hash,
        ht_hash,
        RSet.build([b"1", b"2", b"-70000", b"99999999999"], 512),
        RSet.build([b"a", b"b", b"c"], 512),
        ZSet.from_dict({b"a": 1.0, b"b": 2.5, b"c": -3.0}, True),
        ZSet.from_dict({b"m%d" % i: i / 3 for i in range(10)}, False),
    ]
    seeds = [rdb.dump_payload(v) for v in values]
    from vermilion.embed import start_server

    srv = start_server()
    try:
        c = redis.Redis(host=srv.host, port=srv.port)
        c.config_set("stream-node-max-entries", 3)
        for i in range(8):
            c.xadd("s", {"item": i, "value": "_%d" % i})
        c.xgroup_create("s", "g", "0")
        c.xreadgroup("g", "alice", {"s": ">"}, count=3)
        c.xdel("s", c.xrange("s")[4][0])
        seeds.append(c.dump("s"))
        c.close()
    finally:
        srv.stop()
    return seeds


SEEDS = _seeds()


def _damage(data, seed, payload):
    """The Tcl fuzzer's damage (a byte or two replaced), or a cut, or an insert."""
    body = bytearray(payload[:-8])  # type + value + version; CRC recomputed below
    kind = data.draw(st.sampled_from(["replace", "replace", "cut", "insert"]))
    n = len(body) - 2  # keep the version
    if kind == "replace":
        for _ in range(data.draw(st.integers(1, 2))):
            body[data.draw(st.integers(0, n - 1))] = data.draw(st.integers(0, 255))
    elif kind == "cut":
        i = data.draw(st.integers(1, n - 1))
        j = data.draw(st.integers(i, n))
        del body[i:j]
    else:
        i = data.draw(st.integers(1, n))
        body[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    return _with_crc(bytes(body))


@given(st.data())
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_damaged_payload_gives_error_or_sound_value(data):
    seed = data.draw(st.integers(0, len(SEEDS) - 1))
    bad = _damage(data, seed, SEEDS[seed])
    for deep in (True, False):
        try:
            v = rdb.restore_value(bad, _limits(deep))
        except CorruptError as e:
            salvage = getattr(e, "salvage", None)
            if salvage is not None:
                # only what deep sanitization alone would refuse, only without it
                assert e.deep_only and not deep
                _assert_sound(salvage)
            continue
        _assert_sound(v)


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_random_bytes_give_error_or_sound_value(body):
    for deep in (True, False):
        try:
            v = rdb.restore_value(_with_crc(body + b"\x0a\x00"), _limits(deep))
        except CorruptError:
            continue
        _assert_sound(v)


def test_listpack_decode_prefix():
    from vermilion.persistence import listpack

    lp = listpack.encode([b"a", 7, b"bb", 300])
    assert listpack.decode_prefix(lp) == ([b"a", 7, b"bb", 300], True)
    # the third entry's backlen broken: the first two are what is sound
    entries = [listpack.encode_entry(e) for e in (b"a", 7, b"bb", 300)]
    broken = entries[2][:-1] + b"\x09"
    bad = listpack.assemble(b"".join([entries[0], entries[1], broken, entries[3]]), 4)
    assert listpack.decode_prefix(bad) == ([b"a", 7], False)
    assert listpack.decode_prefix(b"\x08\x00\x00\x00\x01\x00\x01\x01") == ([], False)


# ------------------------------------------------------------------ real servers
# From Redis's tests/integration/corrupt-dump.tcl ("lpFind invalid access"): a
# hash listpack whose last entry claims 32-bit length it does not have.
HASH_LP_BAD_TAIL = (
    b"\x10\x39\x39\x00\x00\x00\x14\x00\x06\x01\x06\x01\x03\x01\x82\x5f\x33\x03\x07\x01\x82\x5f"
    b"\x37\x03\x00\x01\x00\x01\x04\x01\x04\x01\x09\x01\x82\x5f\x39\x03\x05\x01\x82\x5f\x35\x03"
    b"\x08\x01\x08\x01\x01\x01\x82\x5f\x31\x03\x02\x01\xf0\x01\xff\x0a\x00"
    b"\x29\xd7\xe4\x52\x79\x7a\x95\x82"
)
# "zipmap - 5 bytes length encoding for a small field"
ZIPMAP_5B_SMALL = (
    b"\x09\x11\x01\xfe\x04\x00\x00\x00\x01\x00\xff\x00\x04\x00\x76\x61\x6c\x31\xff\x09\x00"
    b"\xf9\xd5\xa4\xf7\x7d\x00\x3f\x1b"
)
# "stream with NACK shared between two consumers"
STREAM_SHARED_NACK = (
    b"\x0f\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x25\x25\x00"
    b"\x00\x00\x0a\x00\x01\x01\x00\x01\x01\x01\x85\x66\x69\x65\x6c\x64\x06\x00\x01\x02\x01\x00"
    b"\x01\x00\x01\x85\x76\x61\x6c\x75\x65\x06\x04\x01\xff\x01\x01\x00\x01\x07\x6d\x79\x67\x72"
    b"\x6f\x75\x70\x01\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"
    b"\x4a\x79\x89\x8f\x9f\x01\x00\x00\x01\x02\x09\x63\x6f\x6e\x73\x75\x6d\x65\x72\x41\x4a\x79"
    b"\x89\x8f\x9f\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"
    b"\x00\x09\x63\x6f\x6e\x73\x75\x6d\x65\x72\x42\x54\x79\x89\x8f\x9f\x01\x00\x00\x01\x00\x00"
    b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x09\x00\xf6\xea\x7b\x6c\xb8\xb8"
    b"\xd8\xb4"
)


@pytest.fixture
def diff_restore(diff):
    """``diff`` with both servers' sanitize-dump-payload and checksum skip restored."""
    yield diff
    for conn in (diff.ref, diff.our):
        conn.call("CONFIG", "SET", "sanitize-dump-payload", "no")
        conn.call("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0")
        conn.call("ACL", "SETUSER", "default", "sanitize-payload")


@pytest.mark.parametrize("sanitize", ["no", "yes"])
def test_restore_corrupt_payloads_like_redis(diff_restore, sanitize):
    d = diff_restore
    d("CONFIG", "SET", "sanitize-dump-payload", sanitize)
    d("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")  # their checksums are not computed
    d("RESTORE", "h", "0", HASH_LP_BAD_TAIL)  # accepted unsanitized, refused sanitized
    d("EXISTS", "h")
    d("RESTORE", "z", "0", ZIPMAP_5B_SMALL)  # refused either way
    d("RESTORE", "s", "0", STREAM_SHARED_NACK)  # refused either way
    d("EXISTS", "z", "s")


def test_skip_checksum_validation(diff_restore):
    d = diff_restore
    payload = bytearray(rdb.dump_payload(b"hello"))
    payload[-1] ^= 0xFF
    d("RESTORE", "k", "0", bytes(payload))  # checksum wrong: refused
    d("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")
    d("RESTORE", "k", "0", bytes(payload))  # accepted
    d("GET", "k")
    d("RESTORE", "k2", "0", b"\x00\x01a\x0b\x00" + b"\x00" * 8)  # version 11: still refused


def _log_of(srv, needle, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        with open(srv.logfile_path) as fh:
            text = fh.read()
        if needle in text or time.time() > deadline:
            return text
        time.sleep(0.05)


@pytest.fixture
def logged_server(tmp_path):
    from vermilion.embed import start_server

    path = str(tmp_path / "v.log")
    srv = start_server(logfile=path, loglevel="verbose", enable_debug_command="yes")
    srv.logfile_path = path
    yield srv
    srv.stop()


def test_restore_logs_what_redis_logs(logged_server):
    srv = logged_server
    c = redis.Redis(host=srv.host, port=srv.port)
    c.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")  # as the Tcl tests
    # a shallow error: rdbReportCorruptRDB's verbose line
    with pytest.raises(redis.ResponseError, match="Bad data format"):
        c.restore("z", 0, ZIPMAP_5B_SMALL)
    text = _log_of(srv, "Zipmap integrity check failed")
    assert "Internal error in RDB reading offset 0" in text
    assert "-> Zipmap integrity check failed." in text
    assert "ASSERTION FAILED" not in text
    # a deep-only one, unsanitized: accepted, and the assertion Redis would fail logged
    assert c.restore("h", 0, HASH_LP_BAD_TAIL)
    text = _log_of(srv, "ASSERTION FAILED")
    assert text.count("ASSERTION FAILED") == 1
    assert "Hash listpack integrity check failed." in text
    assert c.hlen("h") == 9  # the sound pairs before the bad entry
    # sanitized, the same payload is refused, with the integrity line
    c.config_set("sanitize-dump-payload", "yes")
    with pytest.raises(redis.ResponseError, match="Bad data format"):
        c.restore("h2", 0, HASH_LP_BAD_TAIL)
    assert not c.exists("h2")
    text = _log_of(srv, "-> Hash listpack integrity check failed.")
    assert "-> Hash listpack integrity check failed." in text
    assert text.count("ASSERTION FAILED") == 1
    c.close()


def test_corrupt_value_in_rdb_file_terminates_like_redis(tmp_path):
    """A corrupt value at startup: the internal error, redis-check-rdb's report
    and 'Terminating server after rdb file reading failure.' (#3505)."""
    import subprocess
    import sys

    from support import free_port

    # build a small RDB with a corrupt hash ziplist (the duplicate-field payload)
    from vermilion.persistence import ziplist

    zl = ziplist.encode([b"a", b"1", b"a", b"2"])
    body = b"REDIS0009\xfe\x00\x0d\x01k" + rdb.enc_len(len(zl)) + zl + b"\xff"
    (tmp_path / "dump.rdb").write_bytes(body + rdb.crc64(0, body).to_bytes(8, "little"))
    proc = subprocess.run(
        [sys.executable, "-m", "vermilion", "--port", str(free_port()), "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout
    assert proc.returncode != 0
    assert out.count("Terminating server after rdb file reading failure.") == 1
    assert out.count("Hash ziplist integrity check failed") > 1
    assert "--- RDB ERROR DETECTED ---" in out


def _stream_seed():
    return next(p for p in SEEDS if p[0] == rdb.TYPE_STREAM_LISTPACKS_2)


def test_stream_metadata_with_unknown_length_encoding_loads_like_redis(diff_restore):
    """rdbLoadLen's error goes unchecked for a stream's IDs and counters: an
    unknown length encoding (0x82..0xBF) reads as 2**64 - 1 and loading goes on."""
    d = diff_restore
    d("CONFIG", "SET", "sanitize-dump-payload", "yes")
    d("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")
    v = rdb.restore_value(_stream_seed())
    body = bytearray(_stream_seed())
    # entries_added is the last length before the group count and group "g"
    i = bytes(body).rfind(rdb.enc_len(v.entries_added) + rdb.enc_len(len(v.groups)) + b"\x01g")
    assert i > 0
    body[i] = 0x9F  # an unknown length encoding byte, one byte long
    d("RESTORE", "s", "0", bytes(body))
    d("TYPE", "s")
    d("XINFO", "STREAM", "s")


def test_payload_value_may_run_into_the_footer(diff):
    """Redis reads the value over the whole payload, footer included."""
    # a list of 1 element whose 11-byte string swallows the version and CRC
    body = b"\x01\x01\x0a" + b"\x0a\x00"  # type LIST, 1 element, string of 10 bytes
    payload = body + rdb.crc64(0, body).to_bytes(8, "little")
    diff("RESTORE", "k", "0", payload)
    diff("LRANGE", "k", "0", "-1")


@pytest.mark.parametrize("score", [b"1.5", b" 2", b"3abc", b"abc", b"", b"\x00", b"-inf", b"1e400"])
def test_old_zset_string_scores_like_redis(diff_restore, score):
    """RDB_TYPE_ZSET's scores: sscanf("%lg") must convert something."""
    d = diff_restore
    d("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")
    body = b"\x03\x01\x01m" + bytes((len(score),)) + score + b"\x09\x00"
    d("RESTORE", "z", "0", body + b"\x00" * 8)
    d("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_sanitize_clients_mode_follows_the_user(diff_restore):
    """sanitize-dump-payload clients: deep checks for a client's RESTORE unless
    its user has skip-sanitize-payload."""
    d = diff_restore
    d("CONFIG", "SET", "sanitize-dump-payload", "clients")
    d("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")
    d("RESTORE", "h", "0", HASH_LP_BAD_TAIL)  # deep: refused
    d("ACL", "SETUSER", "default", "skip-sanitize-payload")
    d("RESTORE", "h", "0", HASH_LP_BAD_TAIL)  # shallow: accepted
    d("EXISTS", "h")


def test_function_restore_honours_skip_checksum(diff_restore, shared_vermilion):
    pytest.importorskip("lupa")
    d = diff_restore
    d("FUNCTION", "FLUSH")
    d("FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)")
    reply = d.our.call("FUNCTION", "DUMP")  # raw RESP: $<n>\r\n<payload>\r\n
    payload = bytearray(reply.split(b"\r\n", 1)[1][:-2])
    payload[-1] ^= 0xFF
    d("FUNCTION", "FLUSH")
    d("FUNCTION", "RESTORE", bytes(payload))  # refused: checksum
    d("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")
    assert d("FUNCTION", "RESTORE", bytes(payload)) == b"+OK\r\n"
    assert d("FCALL", "f1", "0") == b":1\r\n"
    d("FUNCTION", "FLUSH")


def _seed_rdb():
    import io

    class _Db:
        pass

    db = _Db()
    db.data = {b"k%d" % i: rdb.restore_value(p) for i, p in enumerate(SEEDS)}
    db.expires = {b"k1": 2**42}
    out = io.BytesIO()
    rdb.write_rdb(out, [db])
    return out.getvalue()


SEED_RDB = _seed_rdb()


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_damaged_rdb_file_gives_error_or_loads(data):
    """load_rdb over a damaged file: an RdbError, or keys that are sound values."""
    body = bytearray(SEED_RDB)
    for _ in range(data.draw(st.integers(1, 3))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    try:
        res = rdb.load_rdb(bytes(body), verify_checksum=False, now_ms=0)
    except CorruptError:
        return
    for data_dict, _expires in res.dbs.values():
        for v in data_dict.values():
            _assert_sound(v)
