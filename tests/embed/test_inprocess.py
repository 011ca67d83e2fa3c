"""The in-process client (issue #15, item 1): redis-py connections that reach the
server without a socket must behave as socket connections do. Real redis-py, real
servers; where a socket client is the reference, it talks to the same server."""

import asyncio
import gc
import re
import socket
import threading
import time

import hiredis
import pytest
import redis

import vermilion
from vermilion import inprocess
from vermilion.embed import serve


@pytest.fixture
def srv(vermilion_server):
    return vermilion_server


@pytest.fixture
def r(vermilion_inprocess_client):
    return vermilion_inprocess_client


def wait_for(cond, timeout=5):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def n_clients(srv):
    return len(srv.server.clients)


# ------------------------------------------------------------ the same bytes
def exchange(sendall, recv, packed):
    """Send one request, read exactly one whole reply (raw bytes)."""
    sendall(packed)
    reader = hiredis.Reader()
    data = b""
    while True:
        chunk = recv(1 << 16)
        assert chunk, "connection closed"
        data += chunk
        reader.feed(chunk)
        if reader.gets() is not False:
            return data


REQUESTS = [
    [b"HELLO", b"3"],
    [b"SET", b"k", b"v"],
    [b"GET", b"k"],
    [b"LPUSH", b"k", b"x"],
    [b"HGETALL", b"nope"],
    [b"RPUSH", b"l", b"a", b"b"],
    [b"LRANGE", b"l", b"0", b"-1"],
    [b"NOSUCH"],
    [b"GET"],
    [b"HELLO", b"2"],
    [b"ZADD", b"z", b"1.5", b"m"],
    [b"ZRANGE", b"z", b"0", b"-1", b"WITHSCORES"],
    [b"SET", b"big", b"x" * 300000],
    [b"GET", b"big"],
    [b"GETRANGE", b"big", b"0", b"9"],
    [b"CLIENT", b"SETNAME", b"x"],
]


def test_replies_are_the_bytes_a_socket_gets(srv):
    """Each request through the in-process socket and through TCP, the replies compared
    byte for byte (same server, one run after the other; HELLO's client id masked)."""
    tcp = socket.create_connection((srv.host, srv.port))
    inp = inprocess._Socket(*inprocess._target(srv), timeout=5)
    inp.connect(5)
    packer = redis.connection.PythonRespSerializer(1 << 20, lambda x: x)
    replies = []
    for sendall, recv in ((tcp.sendall, tcp.recv), (inp.sendall, inp.recv)):
        got = []
        for argv in REQUESTS + [[b"FLUSHALL"]]:
            reply = exchange(sendall, recv, b"".join(packer.pack(*argv)))
            if argv[0] == b"HELLO":
                reply = re.sub(rb"\$2\r\nid\r\n:\d+", b"ID", reply)
            got.append(reply)
        replies.append(got)
    assert replies[0] == replies[1]
    tcp.close()
    inp.close()


# ------------------------------------------------------------ commands, errors
def test_commands_and_errors(r):
    assert r.ping() is True
    assert r.set("k", "v") is True and r.get("k") == b"v"
    assert r.incr("n", 5) == 5
    r.rpush("l", *range(1000))
    assert r.lrange("l", 0, -1) == [str(i).encode() for i in range(1000)]
    assert r.hset("h", mapping={"a": 1, "b": 2}) == 2 and r.hgetall("h") == {b"a": b"1", b"b": b"2"}
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lpush("k", 1)
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.execute_command("NOSUCH")
    assert r.get("k") == b"v"  # the connection is still good after an error


def test_big_values_cross_in_pieces(r):
    value = bytes(range(256)) * 8192  # 2 MB: more than one read of the parser
    r.set("big", value)
    assert r.get("big") == value
    assert r.mget(["big", "big"]) == [value, value]


@pytest.mark.parametrize("protocol", [2, 3])
def test_resp2_resp3_and_decoding(srv, protocol):
    r = inprocess.client(srv, protocol=protocol, decode_responses=True)
    try:
        r.zadd("z", {"a": 1.5, "b": 2})
        r.hset("h", mapping={"f": "v"})
        sock = redis.Redis(host=srv.host, port=srv.port, protocol=protocol, decode_responses=True)
        for cmd in (
            lambda c: c.zrange("z", 0, -1, withscores=True),
            lambda c: c.hgetall("h"),
            lambda c: c.zscore("z", "a"),
            lambda c: c.info("keyspace"),
        ):
            assert cmd(r) == cmd(sock)  # redis-py's RESP2/RESP3 forms, decoded alike
        sock.close()
        assert r.client_info()["resp"] == str(protocol)
    finally:
        r.close()


def test_the_pure_python_parser_too(srv):
    """redis-py without hiredis reads through the same socket-like object."""
    from redis._parsers import _RESP2Parser

    r = inprocess.client(srv, parser_class=_RESP2Parser, protocol=2)
    try:
        value = b"v" * 200000
        r.set("k", value)
        assert r.get("k") == value
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            r.lpush("k", 1)
        assert r.blpop("nothing", timeout=0.1) is None
        p = r.pubsub()
        p.subscribe("ch")
        assert p.get_message(timeout=1)["type"] == "subscribe"
        assert p.get_message(timeout=0.05) is None
        r.publish("ch", "m")
        assert p.get_message(timeout=1)["data"] == b"m"
        assert type(p.connection._parser) is _RESP2Parser
        p.close()
    finally:
        r.close()


def test_connecting_asks_no_dns(srv, monkeypatch):
    """redis-py's RESP3 connect resolves its host for maintenance notifications: 5 s
    of DNS timeout for "in-process" where no resolver answers. They are off here."""
    looked_up = []
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: looked_up.append(a) or real(*a, **k))
    for protocol in (2, 3):
        r = inprocess.client(srv, protocol=protocol)
        assert r.ping() is True
        r.close()

    async def main():
        ar = inprocess.async_client(srv, protocol=3)
        assert await ar.ping() is True
        await ar.aclose()

    asyncio.run(main())
    assert looked_up == []


def test_client_arguments_of_any_kind(srv):
    """The connection arguments are worked out once per set of client arguments; ones
    that cannot be a dict key (a list) work as well."""
    for _ in range(2):
        r = inprocess.client(srv, retry_on_error=[redis.TimeoutError], client_name="n1")
        assert r.client_getname() in ("n1", b"n1")  # (redis-py decodes it)
        r.close()
    a, b = inprocess.client(srv, db=3), inprocess.client(srv, db=4)
    a.set("k", "3")
    assert b.get("k") is None and a.get("k") == b"3"
    assert (
        a.connection_pool.get_connection().retry is not b.connection_pool.get_connection().retry
    )  # each connection its own policy
    a.close()
    b.close()


def test_each_connection_is_a_client_of_its_own(srv):
    a, b = inprocess.client(srv), inprocess.client(srv, db=1)
    try:
        a.client_setname("alpha")
        b.client_setname("beta")
        a.set("k", "in-db0")
        assert b.get("k") is None
        b.set("k", "in-db1")
        assert a.get("k") == b"in-db0"
        names = {c["name"] for c in a.client_list()}
        assert {"alpha", "beta"} <= names
        assert a.client_id() != b.client_id()
        # a socket client sees them as clients like itself
        sock = redis.Redis(host=srv.host, port=srv.port)
        assert {"alpha", "beta"} <= {c["name"] for c in sock.client_list()}
        sock.close()
    finally:
        a.close()
        b.close()


def test_auth(srv):
    r0 = inprocess.client(srv)
    r0.config_set("requirepass", "s3cret")
    r0.close()
    with pytest.raises(redis.AuthenticationError):
        inprocess.client(srv, password="wrong", retry=None).ping()
    with pytest.raises(redis.AuthenticationError):
        inprocess.client(srv, retry=None).get("k")  # NOAUTH, as redis-py reports it
    ok = inprocess.client(srv, password="s3cret")
    assert ok.ping() is True
    ok.config_set("requirepass", "")
    ok.close()


# ------------------------------------------------------- transactions, pipelines
def test_transactions_and_pipelines(r, srv):
    with r.pipeline() as p:
        p.set("a", 1).incr("a").lpush("a", "x").get("a")
        res = p.execute(raise_on_error=False)
    assert res[:2] == [True, 2] and isinstance(res[2], redis.ResponseError) and res[3] == b"2"

    with r.pipeline(transaction=False) as p:
        for i in range(500):
            p.set("k%d" % i, i)
        assert p.execute() == [True] * 500

    other = inprocess.client(srv)
    with r.pipeline() as p:
        p.watch("a")
        other.set("a", "changed")  # another client writes the WATCHed key
        p.multi()
        p.set("a", "mine")
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("a") == b"changed"

    def incr(pipe):
        v = int(pipe.get("a") or 0)
        pipe.multi()
        pipe.set("a", v + 1)

    r.set("a", 10)
    r.transaction(incr, "a")
    assert r.get("a") == b"11"
    other.close()


# ---------------------------------------------------------------------- pub/sub
def test_pubsub(r, srv):
    p = r.pubsub()
    p.subscribe("ch")
    p.psubscribe("news.*")
    assert p.get_message(timeout=1)["type"] == "subscribe"
    assert p.get_message(timeout=1)["type"] == "psubscribe"
    assert p.get_message(timeout=0.05) is None  # nothing yet: a timed wait, then None
    sock = redis.Redis(host=srv.host, port=srv.port)
    assert sock.publish("ch", "from-socket") == 1
    assert r.publish("news.today", "from-inprocess") == 1
    m1 = p.get_message(timeout=1)
    m2 = p.get_message(timeout=1)
    assert (m1["channel"], m1["data"]) == (b"ch", b"from-socket")
    assert (m2["pattern"], m2["data"]) == (b"news.*", b"from-inprocess")
    assert sock.pubsub_numsub("ch") == [(b"ch", 1)]
    p.unsubscribe("ch")
    assert p.get_message(timeout=1)["type"] == "unsubscribe"
    p.close()
    wait_for(lambda: sock.pubsub_numsub("ch") == [(b"ch", 0)])
    sock.close()


def test_pubsub_listen_in_a_thread(r):
    p = r.pubsub(ignore_subscribe_messages=True)
    got = []
    p.subscribe(ch=lambda m: got.append(m["data"]))
    t = p.run_in_thread(sleep_time=0.01)
    try:
        wait_for(lambda: r.pubsub_numsub("ch") == [(b"ch", 1)])
        for i in range(20):
            r.publish("ch", i)
        wait_for(lambda: len(got) == 20)
        assert got == [str(i).encode() for i in range(20)]
    finally:
        t.stop()
        t.join(5)
        p.close()


# ------------------------------------------------------------------- blocking
def test_blocking_pop_times_out(r):
    t0 = time.monotonic()
    assert r.blpop("nothing", timeout=0.2) is None
    assert 0.15 < time.monotonic() - t0 < 3
    assert r.ping() is True


def test_blocking_pop_is_woken_by_another_client(r, srv):
    other = inprocess.client(srv)
    threading.Timer(0.1, lambda: other.rpush("q", "job")).start()
    assert r.blpop("q", timeout=5) == (b"q", b"job")
    assert r.brpoplpush("q2", "q3", timeout=0.1) is None
    other.close()


def test_socket_timeout_is_a_redis_timeout(srv):
    r = inprocess.client(srv, socket_timeout=0.2, retry=None)  # (retry: no backoff)
    with pytest.raises(redis.TimeoutError):
        r.blpop("nothing", timeout=2)
    assert r.ping() is True  # a new connection
    r.close()


# ------------------------------------------------------- connections come and go
def test_close_and_garbage_collection_free_the_server_side(srv):
    base = n_clients(srv)
    r = inprocess.client(srv)
    r.ping()
    assert n_clients(srv) == base + 1
    r.close()
    wait_for(lambda: n_clients(srv) == base)

    r = inprocess.client(srv)
    r.ping()
    wait_for(lambda: n_clients(srv) == base + 1)
    del r
    gc.collect()
    wait_for(lambda: n_clients(srv) == base)


def test_client_kill_then_reconnect(r, srv):
    first = r.client_id()
    killer = redis.Redis(host=srv.host, port=srv.port)
    assert killer.client_kill_filter(_id=first) == 1
    # redis-py retries a command whose connection was closed, on a new connection
    assert r.ping() is True
    assert r.client_id() != first
    single = inprocess.client(srv, single_connection_client=True, retry=None)
    sid = single.client_id()
    killer.client_kill_filter(_id=sid)
    with pytest.raises(redis.ConnectionError):
        single.get("k")
    killer.close()
    single.close()


def test_maxclients(srv):
    r = inprocess.client(srv)
    r.ping()
    r.config_set("maxclients", str(n_clients(srv)))
    try:
        with pytest.raises(redis.ConnectionError, match="max number of clients"):
            inprocess.client(srv, retry=None).ping()
    finally:
        r.config_set("maxclients", "10000")
        r.close()


def test_server_stop_is_a_connection_error():
    own = vermilion.start_server()
    r = inprocess.client(own, retry=None)
    assert r.ping() is True
    own.stop()
    with pytest.raises(redis.ConnectionError):
        r.ping()
    with pytest.raises(redis.ConnectionError):
        inprocess.client(own, retry=None).ping()


def test_default_server():
    r = inprocess.client()
    assert r.set("k", "v") is True
    assert inprocess.client().get("k") == b"v"  # one server for the process
    assert inprocess.default_server().thread.is_alive()
    r.delete("k")
    r.close()


# -------------------------------------------------------------------- asyncio
def test_async_client_to_a_server_on_its_own_thread(vermilion_inprocess_async_client, srv):
    ar = vermilion_inprocess_async_client

    async def main():
        assert await ar.set("k", "v") is True
        async with ar.pipeline() as p:
            p.incr("n").incr("n")
            assert await p.execute() == [1, 2]
        p = ar.pubsub()
        await p.subscribe("ch")
        assert (await p.get_message(timeout=1))["type"] == "subscribe"
        await ar.publish("ch", "hi")
        assert (await p.get_message(timeout=1))["data"] == b"hi"
        await p.aclose()
        assert await ar.blpop("q", timeout=0.1) is None
        pusher = asyncio.get_running_loop().call_later(
            0.05, lambda: redis.Redis(host=srv.host, port=srv.port).rpush("q", "x")
        )
        assert await ar.blpop("q", timeout=5) == (b"q", b"x")
        pusher.cancel()
        with pytest.raises(redis.ResponseError):
            await ar.lpush("k", 1)
        return await ar.get("k")

    assert asyncio.run(main()) == b"v"


def test_async_client_on_the_servers_own_loop():
    """serve() runs the server on the test's loop: requests run directly, no thread."""

    async def main():
        async with await serve() as s:
            ar = inprocess.async_client(s)
            other = inprocess.async_client(s)
            await ar.set("k", "v")
            assert await other.get("k") == b"v"
            t = asyncio.ensure_future(ar.blpop("q", timeout=5))
            await asyncio.sleep(0.05)
            await other.rpush("q", "job")
            assert await t == (b"q", b"job")
            p = other.pubsub()
            await p.subscribe("ch")
            await p.get_message(timeout=1)
            assert await ar.publish("ch", "m") == 1
            assert (await p.get_message(timeout=1))["data"] == b"m"
            await p.aclose()
            # a synchronous client would wait for itself here: refused, saying why
            with pytest.raises(RuntimeError, match="async_client"):
                inprocess.client(s).ping()
            await ar.aclose()
            await other.aclose()

    asyncio.run(main())
