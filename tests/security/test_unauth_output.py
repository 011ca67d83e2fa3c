"""CVE-2025-21605: a client that has not authenticated cannot make the server
hold its unread replies; it is disconnected (auth.tcl's "For unauthenticated
clients output buffer is limited", which Redis 7.0.15's security release adds)."""

import socket
import time

import pytest

from probe import KINDS, Spawned


@pytest.mark.parametrize("kind", KINDS)
def test_unauthenticated_client_cannot_fill_the_output_buffer(kind):
    with Spawned(kind, "--requirepass", "foobar") as s:
        admin = s.conn()
        assert admin.call("AUTH", "foobar") == b"+OK\r\n"
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(0.5)
        request = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n5\r\n" * 1000
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                sock.sendall(request)
            except OSError:  # reset, or the server stopped reading us
                break
        # still connected, from the server's side? (our socket is open)
        time.sleep(0.2)
        info = admin.call("INFO", "clients").decode()
        sock.close()
        assert "connected_clients:1\r\n" in info, (
            "%s kept an unauthenticated client that does not read" % kind
        )
