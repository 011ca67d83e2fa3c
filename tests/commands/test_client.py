"""CLIENT commands, CLIENT PAUSE and output buffer limits on a real Vermilion.

Byte-for-byte comparisons with redis-server live in
tests/differential/test_connection.py; these tests cover what a differential test
cannot see: the clock (age, idle), server-side state, the log, Unix sockets and
clients that stop reading.
"""

import os
import socket
import tempfile
import threading
import time

import pytest
import redis

from test_networking import RawConn, closed_within
from vermilion.embed import start_server


def run_in_loop(srv, fn, *args):
    """Call fn(*args) on the server's event loop thread and return its result."""
    done = threading.Event()
    box = []

    def call():
        try:
            box.append(fn(*args))
        finally:
            done.set()

    srv.loop.call_soon_threadsafe(call)
    assert done.wait(5)
    return box[0] if box else None


def client_row(conn, cid):
    text = conn.execute_command("CLIENT", "LIST", "ID", cid)
    if isinstance(text, bytes):
        text = text.decode()
    line = text.strip()
    return dict(kv.split("=", 1) for kv in line.split(" ")) if line else None


def wait_for(pred, timeout=5.0, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


@pytest.fixture
def logged_server():
    """A server writing its log to a file, for tests that check what it logs."""
    d = tempfile.mkdtemp(prefix="vermilion-log-")
    path = os.path.join(d, "server.log")
    srv = start_server(logfile=path)
    srv.logpath = path
    yield srv
    srv.stop()


def read_log(srv):
    try:
        with open(srv.logpath) as fh:
            return fh.read()
    except FileNotFoundError:
        return ""


# ------------------------------------------------------------- age and idle
def test_age_and_idle_follow_the_clock(server):
    me = redis.Redis(port=server.port, protocol=2)
    idle = RawConn("127.0.0.1", server.port)
    iid = int(idle.call("CLIENT", "ID")[1:-2])
    row = client_row(me, iid)
    # age counts whole seconds of the clock (like Redis's unixtime - ctime), so a
    # second boundary may fall between the connect and the CLIENT LIST
    assert row["age"] in ("0", "1") and row["idle"] == "0"
    time.sleep(2.2)
    row = client_row(me, iid)
    assert int(row["age"]) >= 2 and int(row["idle"]) >= 2
    idle.call("PING")
    row = client_row(me, iid)
    assert int(row["age"]) >= 2 and row["idle"] == "0"
    assert row["cmd"] == "ping"
    idle.close()


def test_client_info_is_the_callers_line(r):
    info = r.execute_command("CLIENT", "INFO")
    info = info.decode() if isinstance(info, bytes) else info
    assert info.endswith("\n")
    row = dict(kv.split("=", 1) for kv in info.strip().split(" "))
    assert int(row["id"]) == r.client_id()
    assert row["cmd"] == "client|info"
    assert row["argv-mem"] == str(len("client") + len("info"))


# ------------------------------------------------------------- unix sockets
def test_unix_socket_clients(tmp_path):
    path = str(tmp_path / "v.sock")
    with start_server(unixsocket=path) as srv:
        u = redis.Redis(unix_socket_path=path, protocol=2)
        t = redis.Redis(port=srv.port, protocol=2)
        uid = u.client_id()
        row = client_row(t, uid)
        assert row["flags"] == "U"
        assert row["addr"] == path + ":0" and row["laddr"] == path + ":0"
        assert t.execute_command("CLIENT", "KILL", "ADDR", path + ":0") == 1
        assert wait_for(lambda: client_row(t, uid) is None)


# ----------------------------------------------------------------- killing
def test_kill_drops_the_client_at_once(server):
    me = redis.Redis(port=server.port, protocol=2)
    me.ping()
    victim = RawConn("127.0.0.1", server.port)
    vid = int(victim.call("CLIENT", "ID")[1:-2])
    n = len(server.server.clients)
    # the killed client is gone from the list in the same pipeline
    p = me.pipeline(transaction=False)
    p.execute_command("CLIENT", "KILL", "ID", vid)
    p.execute_command("CLIENT", "LIST", "ID", vid)
    killed, listed = p.execute()
    assert killed == 1 and listed.strip() in (b"", "")
    assert len(server.server.clients) == n - 1
    assert closed_within(victim)
    victim.close()


def test_kill_a_client_that_does_not_read(server):
    """A killed client's unsent output is dropped, so it goes even when not reading."""
    me = redis.Redis(port=server.port, protocol=2)
    me.set("big", b"x" * (4 << 20))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", server.port))
    s.sendall(b"CLIENT ID\r\n")
    cid = int(s.recv(100)[1:-2])
    s.sendall(b"GET big\r\n" * 8)
    assert wait_for(lambda: int(client_row(me, cid)["omem"]) > 0)
    assert me.execute_command("CLIENT", "KILL", "ID", cid) == 1
    assert wait_for(lambda: cid not in server.server.clients)
    s.close()


# ------------------------------------------------------------- CLIENT PAUSE
def test_paused_clients_are_blocked_clients(server):
    me = redis.Redis(port=server.port, protocol=2)
    w = RawConn("127.0.0.1", server.port)
    assert me.execute_command("CLIENT", "PAUSE", 100000, "WRITE")
    w.send_command("SET", "k", "v")
    assert wait_for(lambda: server.server.blocked_clients == 1)
    assert server.server.pause_kind == "write"
    assert me.execute_command("CLIENT", "UNPAUSE")
    assert w.read_reply() == b"+OK\r\n"
    assert server.server.blocked_clients == 0
    assert server.server.pause_kind is None and not server.server.special
    w.close()


def test_pause_ends_on_its_own_with_sub_second_precision(server):
    me = redis.Redis(port=server.port, protocol=2)
    w = RawConn("127.0.0.1", server.port)
    me.execute_command("CLIENT", "PAUSE", 250, "ALL")
    t0 = time.time()
    w.send_command("INCR", "n")
    assert w.read_reply() == b":1\r\n"
    assert 0.2 <= time.time() - t0 < 1.0
    w.close()


def test_parked_client_that_disconnects(server):
    me = redis.Redis(port=server.port, protocol=2)
    w = RawConn("127.0.0.1", server.port)
    me.execute_command("CLIENT", "PAUSE", 100000, "WRITE")
    w.send_command("SET", "gone", "1")
    assert wait_for(lambda: server.server.blocked_clients == 1)
    w.close()
    assert wait_for(lambda: server.server.blocked_clients == 0)
    me.execute_command("CLIENT", "UNPAUSE")
    assert me.exists("gone") == 0


def test_pause_write_lets_no_writes_scripts_through(server):
    """EVAL with '#!lua flags=no-writes' is not a write: Redis 7.0 runs it during PAUSE WRITE."""
    from vermilion.server.pause import eval_may_write as _eval_may_write

    assert _eval_may_write(b"#!lua flags=no-writes\nreturn 1") is False
    assert _eval_may_write(b"#!lua flags=no-writes,allow-stale\nreturn 1") is False
    assert _eval_may_write(b"#!lua\nreturn 1") is True
    assert _eval_may_write(b"#!lua flags=bogus\nreturn 1") is True
    assert _eval_may_write(b"return 1") is True
    assert _eval_may_write(b"#!lua flags=no-writes") is True  # no newline: invalid shebang


def test_redacted_passwords_in_slowlog():
    with start_server(requirepass="secret", slowlog_log_slower_than="0") as srv:
        c = RawConn("127.0.0.1", srv.port)
        assert c.call("AUTH", "secret") == b"+OK\r\n"
        c.call("HELLO", "2", "AUTH", "default", "secret")
        entries = run_in_loop(srv, lambda: [e[3] for e in srv.server.slowlog])
        flat = [a for args in entries for a in args]
        assert b"secret" not in flat
        assert [b"AUTH", b"(redacted)"] in entries
        assert [b"HELLO", b"2", b"AUTH", b"(redacted)", b"(redacted)"] in entries
        c.close()


# ------------------------------------------------------ output buffer limits
def _set_limit(srv, value):
    run_in_loop(srv, srv.server.config.set, "client-output-buffer-limit", value)


def _slow_reader(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    return s


def _closed(sock, timeout=0.05):
    """True once the server closed ``sock`` (reads and discards what is pending)."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(1 << 20)
            if not data:
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


def test_pubsub_hard_limit_disconnects_a_subscriber_that_does_not_read(logged_server):
    srv = logged_server
    _set_limit(srv, "pubsub 1mb 0 0")
    sub = _slow_reader(srv.port)
    sub.sendall(b"SUBSCRIBE ch\r\n")
    time.sleep(0.1)
    pub = redis.Redis(port=srv.port, protocol=2)
    msg = b"m" * 65536
    receivers = []
    for _ in range(400):  # 25 MB: far more than the socket buffers hold
        receivers.append(pub.publish("ch", msg))
        if receivers[-1] == 0:
            break
    assert receivers[0] == 1 and receivers[-1] == 0
    assert wait_for(lambda: _closed(sub))
    log = read_log(srv)
    assert "scheduled to be closed ASAP for overcoming of output buffer limits." in log
    assert "flags=P" in log and "sub=1" in log and "cmd=subscribe" in log
    sub.close()


def test_pubsub_soft_limit_needs_time(logged_server):
    srv = logged_server
    _set_limit(srv, "pubsub 0 256kb 1")
    sub = _slow_reader(srv.port)
    sub.sendall(b"SUBSCRIBE ch\r\n")
    time.sleep(0.1)
    pub = redis.Redis(port=srv.port, protocol=2)
    msg = b"m" * 65536
    for _ in range(100):  # over the soft limit, well below any hard one
        assert pub.publish("ch", msg) == 1
    t0 = time.time()

    def subscribers():  # asked without reading from ``sub``: that would drain it
        return pub.execute_command("PUBSUB", "NUMSUB", "ch")[1]

    assert subscribers() == 1  # over the soft limit, but not for long enough yet
    assert wait_for(lambda: subscribers() == 0, timeout=6)
    assert time.time() - t0 > 0.5
    assert _closed(sub, 2)
    assert "closed for overcoming of output buffer limits." in read_log(srv)
    sub.close()


def test_normal_clients_are_unlimited_by_default(server):
    me = redis.Redis(port=server.port, protocol=2)
    me.set("big", b"x" * (4 << 20))
    s = _slow_reader(server.port)
    s.sendall(b"GET big\r\n" * 4)
    time.sleep(0.5)  # the server holds most of 16 MB for this client
    assert len(server.server.clients) == 2
    expected = 4 * ((4 << 20) + len(b"$4194304\r\n") + 2)
    got = 0
    s.settimeout(5)
    while got < expected:
        data = s.recv(1 << 20)
        assert data
        got += len(data)
    assert got == expected
    s.close()


def test_normal_hard_limit(logged_server):
    srv = logged_server
    _set_limit(srv, "normal 1mb 0 0")
    me = redis.Redis(port=srv.port, protocol=2)
    me.set("big", b"x" * (4 << 20))
    assert me.ping()  # small replies are fine
    s = _slow_reader(srv.port)
    s.sendall(b"GET big\r\n" * 4)
    assert wait_for(lambda: _closed(s))
    assert "for overcoming of output buffer limits" in read_log(srv)
    assert me.ping()  # the other client is untouched
    s.close()


def test_limit_config_keeps_other_classes():
    with start_server() as srv:
        _set_limit(srv, "pubsub 1mb 512kb 10")
        lim = srv.server.output_limits.limits
        assert lim[2] == (1 << 20, 512 << 10, 10)
        assert lim[0] == (0, 0, 0) and lim[1] == (268435456, 67108864, 60)
    with start_server(client_output_buffer_limit="normal 10mb 5mb 30") as srv:
        lim = srv.server.output_limits.limits
        assert lim[0] == (10 << 20, 5 << 20, 30)
        assert lim[2] == (33554432, 8388608, 60)
