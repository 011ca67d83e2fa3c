"""The network layer with real sockets: limits, timeouts, framing, many clients.

maxclients, idle ``timeout`` and ``tcp-keepalive`` (server.py/connection.py), how
requests split or batched by TCP are framed, protocol errors, Unix sockets.
"""

import importlib.util
import os
import resource
import socket
import sys
import threading
import time

import pytest
import redis

from vermilion.embed import start_server


def _root_conftest():
    """tests/conftest.py as a module, even when another conftest.py took the name."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conftest.py")
    mod = sys.modules.get("conftest")
    if mod is not None and os.path.abspath(getattr(mod, "__file__", "")) == path:
        return mod
    spec = importlib.util.spec_from_file_location("_vermilion_tests_conftest", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_shared = _root_conftest()
RawConn, RealRedis, REDIS_SERVER = _shared.RawConn, _shared.RealRedis, _shared.REDIS_SERVER


def closed_within(conn, timeout=2.0):
    """True if the server closes ``conn`` within ``timeout`` s (pending data is dropped)."""
    sock = getattr(conn, "sock", conn)
    deadline = time.time() + timeout
    try:
        while True:
            left = deadline - time.time()
            if left <= 0:
                return False
            sock.settimeout(left)
            if not sock.recv(65536):
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


def wait_for(pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


# --------------------------------------------------------------- maxclients
def test_maxclients():
    with start_server(maxclients=3) as srv:
        conns = [RawConn("127.0.0.1", srv.port) for _ in range(3)]
        for c in conns:
            assert c.call("PING") == b"+PONG\r\n"
        extra = RawConn("127.0.0.1", srv.port)
        assert extra.read_reply() == b"-ERR max number of clients reached\r\n"
        assert closed_within(extra)
        extra.close()
        assert srv.server.stats_rejected_conn == 1
        conns[0].close()
        assert wait_for(lambda: len(srv.server.clients) == 2)
        again = RawConn("127.0.0.1", srv.port)
        assert again.call("PING") == b"+PONG\r\n"
        for c in conns[1:] + [again]:
            c.close()


def test_maxclients_error_matches_redis():
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    ref = RealRedis("--maxclients", "1")
    try:
        with start_server(maxclients=1) as srv:
            out = {}
            for name, port in (("redis", ref.port), ("vermilion", srv.port)):
                first = RawConn("127.0.0.1", port)
                first.call("PING")
                second = RawConn("127.0.0.1", port)
                out[name] = (second.read_reply(), closed_within(second))
                first.close()
                second.close()
            assert out["vermilion"] == out["redis"]
    finally:
        ref.stop()


# ------------------------------------------------------------------ timeout
def test_idle_clients_are_closed_after_timeout():
    with start_server(timeout=1) as srv:
        idle = RawConn("127.0.0.1", srv.port)
        never_spoke = RawConn("127.0.0.1", srv.port)
        busy = RawConn("127.0.0.1", srv.port)
        sub = RawConn("127.0.0.1", srv.port)
        blocked = RawConn("127.0.0.1", srv.port)
        idle.call("PING")
        sub.call("SUBSCRIBE", "ch")
        blocked.send_command("BLPOP", "nolist", "0")
        t0 = time.time()
        for _ in range(8):  # busy talks every 0.4 s
            assert busy.call("PING") == b"+PONG\r\n"
            time.sleep(0.4)
        assert closed_within(idle, 0.1)
        assert closed_within(never_spoke, 0.1)
        assert 3 < time.time() - t0 < 6
        # subscribers and blocked clients are exempt, like in Redis
        assert sub.call("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
        assert busy.call("LPUSH", "nolist", "x") == b":1\r\n"
        assert blocked.read_reply() == b"*2\r\n$6\r\nnolist\r\n$1\r\nx\r\n"
        for c in (idle, never_spoke, busy, sub, blocked):
            c.close()


def test_no_timeout_by_default(server):
    c = RawConn("127.0.0.1", server.port)
    c.call("PING")
    time.sleep(2.5)
    assert c.call("PING") == b"+PONG\r\n"


# ------------------------------------------------------------ tcp-keepalive
def _server_socket_options(srv):
    c = next(iter(srv.server.clients.values()))
    sock = c.transport.get_extra_info("socket")
    opts = [sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)]
    if hasattr(socket, "TCP_KEEPIDLE"):
        opts += [
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        ]
    return opts


def test_tcp_keepalive():
    with start_server(tcp_keepalive=60) as srv:
        c = RawConn("127.0.0.1", srv.port)
        c.call("PING")
        opts = _server_socket_options(srv)
        assert opts[0] != 0
        if len(opts) > 1:
            assert opts[1:] == [60, 20, 3]
    with start_server(tcp_keepalive=0) as srv:
        c = RawConn("127.0.0.1", srv.port)
        c.call("PING")
        assert _server_socket_options(srv)[0] == 0


# ---------------------------------------------------------------- framing
def test_ten_thousand_pipelined_commands_in_one_write(server):
    c = RawConn("127.0.0.1", server.port)
    n = 10000
    req = b"".join(
        b"*3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(n)
    )
    req += b"*2\r\n$5\r\nSCARD\r\n$1\r\ns\r\n"
    c.send(req)
    replies = [c.read_reply() for _ in range(n + 1)]
    assert replies[:n] == [b":1\r\n"] * n
    assert replies[n] == b":%d\r\n" % n


def test_replies_to_a_pipeline_keep_their_order(server):
    c = RawConn("127.0.0.1", server.port)
    cmds = []
    for i in range(3000):
        cmds.append(b"INCR n\r\n")
        cmds.append(b"ECHO e%d\r\n" % i)
    c.send(b"".join(cmds))
    for i in range(3000):
        assert c.read_reply() == b":%d\r\n" % (i + 1)
        assert c.read_reply() == b"$%d\r\ne%d\r\n" % (len(b"e%d" % i), i)


def test_a_value_split_over_many_reads(server):
    value = bytes(range(256)) * 4096  # 1 MiB with every byte value
    req = b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n%s\r\n" % (len(value), value)
    s = socket.create_connection(("127.0.0.1", server.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pos = 0
    sizes = [1, 2, 3, 5, 7, 11, 13, 4096, 1, 65536]
    k = 0
    while pos < len(req):
        size = sizes[k % len(sizes)]
        s.sendall(req[pos : pos + size])
        pos += size
        k += 1
        if k < 200 or k % 50 == 0:
            time.sleep(0.001)  # let the server see each piece
    s.settimeout(10)
    assert s.recv(100) == b"+OK\r\n"
    s.close()
    r = redis.Redis(port=server.port, protocol=2)
    assert r.get("big") == value
    assert r.strlen("big") == len(value)


def test_requests_split_at_every_byte(server):
    s = socket.create_connection(("127.0.0.1", server.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nPING inline\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    for i in range(len(req)):
        s.sendall(req[i : i + 1])
        time.sleep(0.001)
    s.settimeout(10)
    want = b"+OK\r\n$6\r\ninline\r\n$5\r\nhello\r\n"
    got = b""
    while len(got) < len(want):
        got += s.recv(100)
    assert got == want
    s.close()


# ---------------------------------------------------------- many clients
def test_a_thousand_concurrent_connections():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2300  # both ends of every connection live in this process
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip("RLIMIT_NOFILE hard limit %d is too low" % hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    with start_server() as srv:
        socks = []
        try:
            for _ in range(1000):
                socks.append(socket.create_connection(("127.0.0.1", srv.port)))
            assert wait_for(lambda: len(srv.server.clients) == 1000, 10)
            for i, s in enumerate(socks):
                s.sendall(
                    b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*2\r\n$4\r\nECHO\r\n$%d\r\n%d\r\n"
                    % (len(str(i)), i)
                )
            seen = set()
            for i, s in enumerate(socks):
                s.settimeout(10)
                want_tail = b"$%d\r\n%d\r\n" % (len(str(i)), i)
                data = b""
                while not data.endswith(want_tail):
                    data += s.recv(100)
                seen.add(int(data.split(b"\r\n")[0][1:]))
            assert seen == set(range(1, 1001))  # every INCR ran exactly once
            r = redis.Redis(port=srv.port, protocol=2)
            assert r.get("n") == b"1000"
            assert len(r.client_list()) == 1001
        finally:
            for s in socks:
                s.close()
        assert wait_for(lambda: len(srv.server.clients) <= 1, 10)


def test_concurrent_clients_from_threads(server):
    errors = []

    def worker(k):
        try:
            r = redis.Redis(port=server.port, protocol=2)
            for i in range(200):
                r.rpush("l%d" % k, i)
            assert r.llen("l%d" % k) == 200
            r.incrby("total", 200)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert redis.Redis(port=server.port).get("total") == b"4000"


# ------------------------------------------------------- protocol errors
PROTOCOL_ERRORS = [
    b"*1\r\n$x\r\n",
    b"*1\r\n$-5\r\n",
    b"*1x\r\n",
    b"*3000000000\r\n",
    b"*1\r\n+PING\r\n",
    b"*2\r\n$3\r\nGET\r\n$1\r\nkk\r\n",  # not an error: Redis skips 2 bytes blindly
    b'SET k "unbalanced\r\n',
    b"*1\r\n$999999999999\r\n",
]


@pytest.mark.parametrize("bad", PROTOCOL_ERRORS)
def test_protocol_error_replies_then_closes(real_redis, shared_vermilion, bad):
    """Commands before the error are answered, then the error, then the connection closes."""
    out = {}
    for name, port in (("redis", real_redis.port), ("vermilion", shared_vermilion.port)):
        c = RawConn("127.0.0.1", port)
        c.send(b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nok\r\n" + bad + b"PING\r\n")
        replies = [c.read_reply(), c.read_reply(), c.read_reply()]
        out[name] = (replies, closed_within(c))
        c.close()
    assert out["vermilion"] == out["redis"]
    replies, closed = out["redis"]
    assert closed is replies[2].startswith(b"-ERR Protocol error")


def test_a_client_that_quit_is_gone_before_the_next_request(real_redis, shared_vermilion):
    """Redis frees a client whose last reply (QUIT's +OK) went out before it reads
    anything else: a request sent right after that +OK already finds it gone. A
    tracking client redirected to it is told so by the next invalidation
    (tracking.tcl, "tracking redir broken"), and CLIENT LIST no longer shows it."""
    out = {}
    for name, port in (("redis", real_redis.port), ("vermilion", shared_vermilion.port)):
        seen = []
        for _ in range(30):
            target, tracked, writer = (RawConn("127.0.0.1", port) for _ in range(3))
            rid = int(target.call("CLIENT", "ID")[1:])
            tracked.call("HELLO", "3")
            tracked.call("CLIENT", "TRACKING", "on", "REDIRECT", str(rid))
            writer.call("SET", "qk", "1")
            tracked.call("GET", "qk")
            seen.append(target.call("QUIT"))
            writer.send_command("SET", "qk", "2")  # at once: no time for a late cleanup
            seen.append(writer.read_reply())
            seen.append(tracked.read_reply().replace(b":%d\r\n" % rid, b":<id>\r\n"))
            seen.append(writer.call("CLIENT", "LIST", "ID", str(rid)))
            for conn in (target, tracked, writer):
                conn.close()
        out[name] = seen
    assert out["vermilion"] == out["redis"]
    assert out["redis"][:4] == [
        b"+OK\r\n",
        b"+OK\r\n",
        b">2\r\n$21\r\ntracking-redir-broken\r\n:<id>\r\n",
        b"$0\r\n\r\n",
    ]


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
def test_protocol_errors_are_counted_in_errorstats():
    """addReplyError counts a protocol error like any error reply (ERR in errorstats,
    total_error_replies): fresh servers, so nothing else is counted."""
    ref = RealRedis()
    ours = start_server()
    try:
        out = {}
        for name, port in (("redis", ref.port), ("vermilion", ours.port)):
            for bad in (b"*1x\r\n", b'SET k "unbalanced\r\n', b"*1\r\n$x\r\n"):
                c = RawConn("127.0.0.1", port)
                c.send(bad)
                c.read_reply()
                c.close()
            c = RawConn("127.0.0.1", port)
            out[name] = (
                c.call("INFO", "errorstats"),
                [
                    ln
                    for ln in c.call("INFO", "stats").split(b"\r\n")
                    if ln.startswith(b"total_error_replies")
                ],
            )
            c.close()
        assert out["vermilion"] == out["redis"]
        assert b"errorstat_ERR:count=3" in out["redis"][0]
    finally:
        ours.stop()
        ref.stop()


def test_security_attack_commands_close_the_connection(real_redis, shared_vermilion):
    out = {}
    for name, port in (("redis", real_redis.port), ("vermilion", shared_vermilion.port)):
        got = []
        for first in (b"POST / HTTP/1.1\r\n", b"Host: example.com\r\n"):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"PING\r\n" + first + b"PING\r\n")
            s.settimeout(5)
            data = b""
            try:
                while True:
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            got.append(data)
            s.close()
        out[name] = got
    assert out["vermilion"] == out["redis"]


# ---------------------------------------------------------- unix sockets
def test_unix_socket_via_embed_api(tmp_path):
    path = str(tmp_path / "vermilion.sock")
    with start_server(unixsocket=path) as srv:
        assert srv.unixsocket == path
        r = redis.Redis(unix_socket_path=path, protocol=2)
        assert r.ping()
        assert r.set("k", "v") and r.get("k") == b"v"
        info = r.client_info()
        assert info["addr"] == path + ":0" and "U" in info["flags"]
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(path)
        raw.sendall(b"PING\r\n" * 1000)
        raw.settimeout(5)
        data = b""
        while len(data) < 7000:
            data += raw.recv(65536)
        assert data == b"+PONG\r\n" * 1000
        raw.close()
    with pytest.raises(OSError):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
        finally:
            s.close()
