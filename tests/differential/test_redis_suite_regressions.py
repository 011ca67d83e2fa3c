"""Regressions found by running Redis 7.0.15's own Tcl test suite against Vermilion.

Each test replays, against a real redis-server and Vermilion side by side, the
situation a failing ``tests/unit/*.tcl`` case exposed, and compares the raw replies.
"""

import time

import pytest

from support import Differ, RealRedis, REDIS_SERVER


@pytest.fixture(scope="module")
def aof_pair():
    """A redis-server and a Vermilion, both with ``appendonly yes`` (own directories)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    from vermilion.embed import start_server

    ref = RealRedis("--appendonly", "yes")
    srv = start_server(enable_debug_command="yes", appendonly="yes")
    yield ref, srv
    srv.stop()
    ref.stop()


@pytest.fixture
def aof_diff(aof_pair):
    ref, srv = aof_pair
    d = Differ(ref.port, srv.port)
    d("FLUSHALL")
    yield d
    d.close()


def _wait_rewrite_done(d):
    for conn in (d.ref, d.our):
        deadline = time.time() + 10
        while b"aof_rewrite_in_progress:1" in conn.call("INFO", "persistence"):
            assert time.time() < deadline
            time.sleep(0.05)


# --------------------------------------------------------------- unit/type/stream
@pytest.mark.parametrize("strategy,threshold", [("MAXLEN", "55"), ("MINID", "55")])
def test_xadd_approx_trim_with_limit_survives_aof_reload(aof_diff, strategy, threshold):
    """'XADD with ~ MAXLEN/MINID and LIMIT can propagate correctly': the AOF holds
    ``MAXLEN = n LIMIT 30``, which only the loading client may run (mustObeyClient),
    also when the AOF's base is an RDB file."""
    d = aof_diff
    _wait_rewrite_done(d)
    d("CONFIG", "SET", "stream-node-max-entries", "10")
    for j in range(1, 101):
        d("XADD", "mystream", str(j), "xitem", "v")
    d("XADD", "mystream", strategy, "~", threshold, "LIMIT", "30", "101", "xitem", "v")
    d("XLEN", "mystream")
    d("CONFIG", "SET", "stream-node-max-entries", "1")
    d("DEBUG", "LOADAOF")
    d("XLEN", "mystream")
    d("XADD", "mystream", "102", "xitem", "v")
    d("XLEN", "mystream")
    d("XRANGE", "mystream", "-", "+", "COUNT", "3")
    # a client (not the AOF) still may not use LIMIT with an exact trim
    d("XADD", "mystream", strategy, "=", threshold, "LIMIT", "30", "103", "xitem", "v")
    d("CONFIG", "SET", "stream-node-max-entries", "100")


# ---------------------------------------------------------------------- unit/multi
def _cmd(*args):
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def test_flushdb_while_watching_stale_key_does_not_fail_exec(diff):
    """'FLUSHDB while watching stale keys should not fail EXEC'."""
    diff("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        diff("SET", "x", "foo", "PX", "1")
        time.sleep(0.01)
        diff.run("""
            WATCH x
            FLUSHDB
            MULTI
            PING
            EXEC
        """)
        # a live watched key flushed away still fails EXEC
        diff.run("""
            SET y foo
            WATCH y
            FLUSHDB
            MULTI
            PING
            EXEC
        """)
    finally:
        diff("DEBUG", "SET-ACTIVE-EXPIRE", "1")


@pytest.mark.parametrize("in_db1", ["none", "expired", "live"])
def test_swapdb_while_watching_stale_key(diff, in_db1):
    """touchAllWatchedKeysInDb on SWAPDB: an expired watched key replaced by nothing
    or by another expired key is no change; replaced by a live key it is."""
    diff("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        diff("SET", "x", "foo", "PX", "1")
        diff("SELECT", "1")
        if in_db1 == "expired":
            diff("SET", "x", "bar", "PX", "1")
        elif in_db1 == "live":
            diff("SET", "x", "bar")
        diff("SELECT", "0")
        time.sleep(0.01)
        diff.run("""
            WATCH x
            SWAPDB 0 1
            MULTI
            PING
            EXEC
        """)
    finally:
        diff("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        diff("FLUSHALL")


def test_swapdb_watched_missing_key_replaced_by_expired_one(diff):
    """A missing watched key swapped for an expired one: EXEC still runs, and a later
    deletion of that expired key is no change either."""
    diff("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        diff("SELECT", "1")
        diff("SET", "x", "bar", "PX", "1")
        diff("SELECT", "0")
        time.sleep(0.01)
        diff.run("""
            WATCH x
            SWAPDB 0 1
            GET x
            MULTI
            PING
            EXEC
        """)
    finally:
        diff("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        diff("FLUSHALL")


# --------------------------------------------------------------------- unit/pubsub
@pytest.mark.parametrize("fixture", ["diff", "diff3"])
def test_pubsub_messages_with_client_reply_off(request, fixture):
    """'PubSub messages with CLIENT REPLY OFF': (un)subscribe confirmations and
    messages are pushed even while replies are off (CLIENT_PUSHING), RESP2 and 3."""
    from support import RawConn

    diff = request.getfixturevalue(fixture)
    diff.raw(
        _cmd("CLIENT", "REPLY", "OFF") + _cmd("SUBSCRIBE", "channel") + _cmd("PSUBSCRIBE", "ch*"),
        replies=2,
    )
    pubs = [
        RawConn("127.0.0.1", diff.ref.sock.getpeername()[1]),
        RawConn("127.0.0.1", diff.our.sock.getpeername()[1]),
    ]
    try:
        assert pubs[0].call("PUBLISH", "channel", "hello") == pubs[1].call(
            "PUBLISH", "channel", "hello"
        )
    finally:
        for p in pubs:
            p.close()
    for _ in range(2):
        a, b = diff.ref.read_reply(), diff.our.read_reply()
        assert a == b
    # CLIENT REPLY OFF is itself silent; SKIP drops the next reply only
    diff.raw(
        _cmd("CLIENT", "REPLY", "OFF")
        + _cmd("UNSUBSCRIBE", "channel")
        + _cmd("PUNSUBSCRIBE", "ch*"),
        replies=2,
    )
    diff.raw(_cmd("CLIENT", "REPLY", "ON"), replies=1)
    # (one channel: UNSUBSCRIBE without arguments goes in hash-table order)
    diff.raw(
        _cmd("CLIENT", "REPLY", "SKIP")
        + _cmd("SUBSCRIBE", "a")
        + _cmd("UNSUBSCRIBE")
        + _cmd("PING"),
        replies=3,
    )


# ------------------------------------------------------------------- unit/tracking
def _second(diff, resp3=True):
    """Another connection to each of the two servers (HELLO 3 answered but not
    compared: the client ids differ)."""
    d = Differ(diff.ref.sock.getpeername()[1], diff.our.sock.getpeername()[1])
    if resp3:
        d.ref.call("HELLO", "3")
        d.our.call("HELLO", "3")
    return d


def test_unblocked_blmove_gets_invalidation_after_its_reply(diff):
    """'Unblocked BLMOVE gets notification after response': the served client is the
    current client, so its own invalidation waits for its reply."""
    rd = _second(diff)
    try:
        diff("RPUSH", "list2{t}", "a")
        rd.run("""
            CLIENT TRACKING on
            LRANGE list2{t} 0 -1
        """)
        rd.ref.send_command("BLMOVE", "list1{t}", "list2{t}", "left", "left", "0")
        rd.our.send_command("BLMOVE", "list1{t}", "list2{t}", "left", "left", "0")
        _wait_blocked(diff, 1)
        diff("RPUSH", "list1{t}", "foo")
        for _ in range(2):
            a, b = rd.ref.read_reply(), rd.our.read_reply()
            assert a == b
    finally:
        rd.close()


def _wait_blocked(diff, n):
    for conn in (diff.ref, diff.our):
        deadline = time.time() + 5
        while b"blocked_clients:%d\r" % n not in conn.call("INFO", "clients"):
            assert time.time() < deadline
            time.sleep(0.01)


def _same_modulo(a, b, names):
    for name in names:
        a = a.replace(name, b"KEY")
        b = b.replace(name, b"KEY")
    assert a == b, "redis: %r\nvermilion: %r" % (a, b)


def test_tracking_table_max_keys_evicts_before_queued_command(diff):
    """'Regression test for #11715' and 'Tracking gets notification on tracking table
    key eviction': over tracking-table-max-keys, random keys are forgotten (and their
    clients told) before the next command runs, even one queued in MULTI."""
    rd = _second(diff)
    try:
        diff("CONFIG", "SET", "tracking-table-max-keys", "2")
        diff("DEBUG", "PAUSE-CRON", "1")
        rd.run("""
            CLIENT TRACKING on
            MGET 1{tag} 2{tag}
            MULTI
        """)
        diff("CONFIG", "SET", "tracking-table-max-keys", "1")
        for conn in (rd.ref, rd.our):
            conn.send_command("PING")
            conn.send_command("EXEC")
        for _ in range(3):  # the invalidation of one of the keys, QUEUED, [PONG]
            _same_modulo(rd.ref.read_reply(), rd.our.read_reply(), (b"1{tag}", b"2{tag}"))
        # the table is under the limit again: nothing more comes
        rd.run("PING")
    finally:
        diff("DEBUG", "PAUSE-CRON", "0")
        diff("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        rd.close()


def test_tracking_table_max_keys_evicted_by_cron(diff):
    """The cron enforces the limit too, with an effort that grows while the table stays
    over it (250 keys down to 1 takes two runs of 100 and 200 attempts)."""
    rd = _second(diff)
    redir = _second(diff)
    try:
        ids = [int(c.call("CLIENT", "ID")[1:-2]) for c in (redir.ref, redir.our)]
        for conn, cid in zip((rd.ref, rd.our), ids):
            conn.call("CLIENT", "TRACKING", "on", "REDIRECT", str(cid))
        n = 250
        for i in range(n):
            diff("SET", "key%d" % i, str(i))
            rd("GET", "key%d" % i)
        diff("CONFIG", "SET", "tracking-table-max-keys", "1")
        for conn in (redir.ref, redir.our):
            got = 0
            while got < n - 1:
                r = conn.read_reply()
                assert r.startswith(b">2\r\n$10\r\ninvalidate\r\n*1\r\n")
                got += 1
        redir.run("PING")
    finally:
        diff("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        rd.close()
        redir.close()


def test_eval_ro_tracks_the_keys_its_commands_read(diff3):
    """'Tracking only occurs for scripts when a command calls a read-only command':
    EVAL_RO's declared keys are not remembered for the script itself."""
    if not diff3.our.call("EVAL_RO", "return 1", "0").startswith(b":"):
        pytest.skip("scripting is not available in this build")
    sg = _second(diff3, resp3=False)
    try:
        diff3("CLIENT", "TRACKING", "on")
        sg("MSET", "key2{t}", "1", "key1{t}", "1")
        diff3("EVAL_RO", "redis.call('ping')", "2", "key1{t}", "key2{t}")
        sg("MSET", "key2{t}", "2", "key1{t}", "2")
        diff3("EVAL_RO", "return redis.call('get', 'key1{t}')", "2", "key1{t}", "key2{t}")
        sg("MSET", "key2{t}", "3", "key1{t}", "3")
        diff3.raw(_cmd("PING"), replies=3)  # invalidate key2, invalidate key1, PONG
    finally:
        sg.close()


# ------------------------------------------------------------------- unit/querybuf
def _qbuf_fields(conn, name):
    import re

    for line in conn.call("CLIENT", "LIST").split(b"\n"):
        if b" name=%s " % name in line:
            m = re.search(rb"qbuf=(\d+) qbuf-free=(\d+) ", line)
            return int(m.group(1)), int(m.group(2))
    raise AssertionError("no client named %r" % name)


def test_query_buffer_grows_shrinks_and_is_freed_when_idle(diff):
    """'query buffer resized correctly' (and '... when not idle'): CLIENT LIST's
    qbuf/qbuf-free follow Redis's query buffer: 16 KiB on the first read, the size
    of a big argument after one, trimmed to the recent peak by the cron, freed
    after 2 idle seconds."""
    tc = _second(diff, resp3=False)
    try:
        tc("CLIENT", "SETNAME", "test_client")

        def same():
            a, b = _qbuf_fields(diff.ref, b"test_client"), _qbuf_fields(diff.our, b"test_client")
            assert a == b
            return a

        assert 16384 <= sum(same()) < 32768
        tc("SET", "x", "A" * 400000)
        big = sum(same())
        assert big > 32768
        tc("SET", "x", "A" * 40000)
        same()
        for _ in range(5):  # the cron trims to the recent peak, the next read regrows
            tc("SET", "x", "A" * 100)
            time.sleep(0.15)
        assert 0 < sum(same()) < big
        time.sleep(3.5)
        assert same() == (0, 0)
    finally:
        tc.close()
