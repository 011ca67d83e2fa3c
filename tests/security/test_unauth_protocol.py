"""Debian's CVE fix in Redis 7.0.15: before a client authenticates, a request may
have at most 10 arguments of at most 16 KB each (auth.tcl's "MASTERAUTH test
with binary password" neighbours: `*100` and `$100000000` are refused at once
instead of being waited for). The reply bytes are compared with redis-server's,
for Vermilion with hiredis and with the pure-Python reader. An AUTH in the same
packet lifts the limit for the requests after it, as Redis parses one request
at a time."""

import socket

import pytest

from probe import Spawned
from vermilion.embed import start_server

CASES = [
    b"*100\r\n",
    b"*1\r\n$100000000\r\n",
    # AUTH, then a request with 12 arguments in the same packet
    b"*2\r\n$4\r\nAUTH\r\n$6\r\nfoobar\r\n*12\r\n" + b"$1\r\na\r\n" * 12,
    # a wrong password: the next long request is still refused
    b"*2\r\n$4\r\nAUTH\r\n$3\r\nbad\r\n*12\r\n" + b"$1\r\na\r\n" * 12,
    # AUTH with a user name, then a 20 KB argument
    b"*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\nfoobar\r\n"
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20000\r\n" + b"x" * 20000 + b"\r\n",
    # short requests are answered as usual (NOAUTH)
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
]


def _exchange(port, data):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(0.7)
    s.sendall(data)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


@pytest.fixture(scope="module")
def servers():
    ref = Spawned("redis", "--requirepass", "foobar")
    ours = Spawned("vermilion", "--requirepass", "foobar")
    pure = start_server(requirepass="foobar", pure_python=True)
    yield ref, ours, pure
    ref.__exit__(None, None, None)
    ours.__exit__(None, None, None)
    pure.stop()


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_unauthenticated_request_limits_match_redis(servers, data):
    ref, ours, pure = servers
    expected = _exchange(ref.port, data)
    assert expected  # (the reference answered something)
    assert _exchange(ours.port, data) == expected
    assert _exchange(pure.port, data) == expected


def test_hello_auth_lifts_the_limit_for_the_next_request(servers):
    """HELLO's reply holds the client id and version, so only its end is compared:
    the 20 KB SET after HELLO ... AUTH in the same packet is accepted by both."""
    data = (
        b"*5\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\nfoobar\r\n"
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20000\r\n" + b"x" * 20000 + b"\r\n"
    )
    for s in servers:
        reply = _exchange(s.port, data)
        assert reply.startswith(b"*14\r\n") and reply.endswith(b"+OK\r\n"), reply[-80:]
