"""Protected mode: redis-server 7.0.15 and Vermilion, probed from a non-loopback address.

With ``protected-mode yes`` (the default) and a default user that needs no
password, a client whose address is not exactly 127.0.0.1 or ::1 is greeted
with ``-DENIED ...`` and disconnected. Each probe starts both servers listening
on every interface (``bind * -::*``), connects to this machine's own
non-loopback address (so the server sees that address as the peer), and asserts
Vermilion answers byte for byte what Redis answers.

Only addresses of this machine are used. When it has no non-loopback address
the probes that need one are skipped (create one with
``ip link add vdummy0 type dummy && ip addr add 10.231.0.1/32 dev vdummy0 && ip link set vdummy0 up``).
"""

import os
import socket
import subprocess
import tempfile

import pytest

from probe import Spawned, KINDS

ALL = "* -::*"


def _own_addresses(family):
    """This machine's global (non-loopback) addresses of one family, from ``ip``."""
    flag = "-4" if family == socket.AF_INET else "-6"
    try:
        out = subprocess.run(
            ["ip", "-o", flag, "addr", "show", "scope", "global"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    addrs = []
    for line in out.splitlines():
        words = line.split()
        if "inet" in words or "inet6" in words:
            i = words.index("inet" if "inet" in words else "inet6")
            addr = words[i + 1].split("/")[0]
            if "tentative" not in words and "dadfailed" not in words:
                addrs.append(addr)
    if not addrs and family == socket.AF_INET:
        try:  # no iproute2: hostname -I lists the addresses too
            out = subprocess.run(
                ["hostname", "-I"], capture_output=True, text=True, timeout=5
            ).stdout
            addrs = [a for a in out.split() if ":" not in a and not a.startswith("127.")]
        except (OSError, subprocess.SubprocessError):
            pass
    usable = []
    for a in addrs:
        try:  # the address must accept a bind (it is ours) before we rely on it
            s = socket.socket(family, socket.SOCK_STREAM)
            s.bind((a, 0))
            s.close()
            usable.append(a)
        except OSError:
            pass
    return usable


V4 = _own_addresses(socket.AF_INET)
V6 = _own_addresses(socket.AF_INET6)
EXTERNAL = V4[0] if V4 else None

needs_external = pytest.mark.skipif(
    EXTERNAL is None,
    reason="this machine has no non-loopback IPv4 address to connect "
    "from (see the module docstring to create one)",
)


def greet(server, host, *cmd, wait=0.5):
    """Connect to ``host`` (the peer address the server sees is this machine's
    address on the same interface) and return what happens: an unsolicited line
    the server writes on accept (DENIED), else the reply to ``cmd``; plus whether
    the server closed the connection afterwards."""
    s = socket.create_connection((host, server.port), timeout=5)
    try:
        s.settimeout(wait)
        data = b""
        try:
            while not data.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        if not data:
            parts = [str(a).encode() for a in cmd]
            s.sendall(
                b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
            )
            s.settimeout(5)
            while not data.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        s.settimeout(1)
        try:
            closed = s.recv(1) == b""
        except socket.timeout:
            closed = False
        except OSError:
            closed = True
        return data, closed
    finally:
        s.close()


def both(*extra, bind=ALL):
    return {k: Spawned(k, *extra, bind=bind) for k in KINDS}


def stop(servers):
    for s in servers.values():
        s.stop()


def same(servers, host, *cmd):
    """Greet both servers; assert Vermilion's outcome equals Redis's; return it."""
    got = {k: greet(s, host, *cmd) for k, s in servers.items()}
    assert got["vermilion"] == got["redis"], got
    return got["redis"]


def stat(server, field):
    c = server.conn()
    try:
        info = c.call("INFO", "stats").decode()
    finally:
        c.close()
    for line in info.split("\r\n"):
        if line.startswith(field + ":"):
            return int(line.split(":")[1])
    raise KeyError(field)


@pytest.fixture(scope="module")
def default_pair():
    servers = both()
    yield servers
    stop(servers)


@needs_external
def test_non_loopback_client_is_denied_and_disconnected(default_pair):
    reply, closed = same(default_pair, EXTERNAL, "PING")
    assert reply.startswith(b"-DENIED Redis is running in protected mode") and closed
    # the loopback interface is served
    assert same(default_pair, "127.0.0.1", "PING") == (b"+PONG\r\n", False)


@needs_external
def test_denied_connections_count_as_rejected(default_pair):
    before = {k: stat(s, "rejected_connections") for k, s in default_pair.items()}
    conns = {k: stat(s, "total_connections_received") for k, s in default_pair.items()}
    same(default_pair, EXTERNAL, "PING")
    for k, s in default_pair.items():
        assert stat(s, "rejected_connections") == before[k] + 1, k
        # (+1 for the INFO connection itself: the denied one is not counted)
        assert stat(s, "total_connections_received") == conns[k] + 2, k


@pytest.mark.skipif(not V6, reason="no global IPv6 address on this machine")
def test_ipv6_non_loopback_is_denied_and_ipv6_loopback_served(default_pair):
    reply, closed = same(default_pair, V6[0], "PING")
    assert reply.startswith(b"-DENIED") and closed
    try:
        socket.create_connection(("::1", default_pair["redis"].port), timeout=2).close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    assert same(default_pair, "::1", "PING") == (b"+PONG\r\n", False)


@needs_external
def test_an_explicit_bind_does_not_lift_protected_mode():
    # 6.x skipped the check when bind was given; 7.0 does not
    servers = both(bind=EXTERNAL + " 127.0.0.1")
    try:
        reply, closed = same(servers, EXTERNAL, "PING")
        assert reply.startswith(b"-DENIED") and closed
    finally:
        stop(servers)


@needs_external
def test_protected_mode_no_serves_everyone():
    servers = both("--protected-mode", "no")
    try:
        assert same(servers, EXTERNAL, "PING") == (b"+PONG\r\n", False)
    finally:
        stop(servers)


@needs_external
def test_a_password_lifts_protected_mode():
    servers = both("--requirepass", "pw")
    try:
        reply, closed = same(servers, EXTERNAL, "PING")
        assert reply.startswith(b"-NOAUTH") and not closed
    finally:
        stop(servers)


@needs_external
def test_run_time_changes_apply_to_the_next_connection():
    servers = both()
    try:
        # one loopback connection each, opened while no password is needed, so it
        # stays authenticated whatever the probes do to the default user
        admins = {k: s.conn() for k, s in servers.items()}

        def admin(*cmd):
            out = {k: c.call(*cmd) for k, c in admins.items()}
            assert out["vermilion"] == out["redis"], (cmd, out)
            return out["redis"]

        def outside():
            return same(servers, EXTERNAL, "PING")

        assert outside()[0].startswith(b"-DENIED")
        # a connection accepted while the gate is open keeps working after it closes
        admin("CONFIG", "SET", "protected-mode", "no")
        assert outside() == (b"+PONG\r\n", False)
        held = {
            k: socket.create_connection((EXTERNAL, s.port), timeout=5) for k, s in servers.items()
        }
        for k, sock in held.items():
            sock.sendall(b"PING\r\n")
            assert sock.recv(100) == b"+PONG\r\n", k
        admin("CONFIG", "SET", "protected-mode", "yes")
        for k, sock in held.items():
            sock.sendall(b"PING\r\n")
            assert sock.recv(100) == b"+PONG\r\n", k
            sock.close()
        assert outside()[0].startswith(b"-DENIED")

        admin("CONFIG", "SET", "requirepass", "pw")
        assert outside()[0].startswith(b"-NOAUTH")
        admin("CONFIG", "SET", "requirepass", "")
        assert outside()[0].startswith(b"-DENIED")

        # the ACL default user: a password, nopass again, resetpass (no password
        # and no nopass: nobody can log in as default, and nobody is DENIED)
        admin("ACL", "SETUSER", "default", ">secret")
        assert outside()[0].startswith(b"-NOAUTH")
        admin("ACL", "SETUSER", "default", "nopass")
        assert outside()[0].startswith(b"-DENIED")
        admin("ACL", "SETUSER", "default", "resetpass")
        assert outside()[0].startswith(b"-NOAUTH")
        admin("ACL", "SETUSER", "default", "nopass")
        # "off" keeps the nopass flag: still DENIED
        admin("ACL", "SETUSER", "default", "off")
        assert outside()[0].startswith(b"-DENIED")
    finally:
        stop(servers)


def test_unix_socket_clients_are_local():
    d = tempfile.mkdtemp(prefix="vermilion-pm-")
    servers = {}
    try:
        for k in KINDS:
            path = os.path.join(d, k + ".sock")
            servers[k] = Spawned(k, "--unixsocket", path, bind=ALL)
        for k, s in servers.items():
            u = socket.socket(socket.AF_UNIX)
            u.settimeout(5)
            u.connect(os.path.join(d, k + ".sock"))
            u.sendall(b"PING\r\n")
            assert u.recv(100) == b"+PONG\r\n", k
            u.close()
    finally:
        stop(servers)
        for k in KINDS:
            try:
                os.unlink(os.path.join(d, k + ".sock"))
            except OSError:
                pass
        os.rmdir(d)


def test_accept_denied_is_callable_on_its_own():
    """The function vermilion/server/blocked.py calls with an accepted socket."""
    from vermilion.embed import start_server
    from vermilion.server.netio import accept_denied, PROTECTED_MODE_DENIED

    srv = start_server()
    try:
        server = srv.server
        assert accept_denied(server, ("192.0.2.77", 5000)) == PROTECTED_MODE_DENIED
        assert accept_denied(server, ("fd00::77", 5000, 0, 0)) == PROTECTED_MODE_DENIED
        assert accept_denied(server, ("127.0.0.2", 5000)) == PROTECTED_MODE_DENIED
        assert accept_denied(server, ("127.0.0.1", 5000)) is None
        assert accept_denied(server, ("::1", 5000, 0, 0)) is None
        assert accept_denied(server, None) is None  # a unix socket
        a, b = socket.socketpair()
        assert accept_denied(server, a) is None
        a.close()
        b.close()
        server.config.set("protected-mode", "no")
        assert accept_denied(server, ("192.0.2.77", 5000)) is None
    finally:
        srv.stop()


def test_denied_text_is_redis_text():
    """The -DENIED line is the exact text of networking.c (checked against the
    running redis-server by the probes above; here against a literal copy of its
    beginning and end so a typo is caught even without a non-loopback address)."""
    from vermilion.server.netio import PROTECTED_MODE_DENIED as t

    assert t.startswith(
        b"-DENIED Redis is running in protected mode because protected mode "
        b"is enabled and no password is set for the default user. "
    )
    assert t.endswith(
        b"4) Setup a an authentication password for the default user. NOTE: "
        b"You only need to do one of the above things in order for the server "
        b"to start accepting connections from the outside.\r\n"
    )
    assert b"\r\n" not in t[:-2]
