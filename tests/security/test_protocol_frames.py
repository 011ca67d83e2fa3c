"""Malformed frames over a real socket: Redis's protocol error, then a close; the
server stays up and its data intact. Every frame runs against redis-server and
Vermilion and the two answers must be the same bytes."""

import pytest

from probe import KINDS

FRAMES = [
    # RESP3 types inside a request (a client may not send them)
    b"*1\r\n%1\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n",
    b"*1\r\n+PING\r\n",
    b"*1\r\n=8\r\ntxt:PING\r\n",
    b"*1\r\n(123\r\n",
    b"*1\r\n,1.5\r\n",
    b"*1\r\n#t\r\n",
    b"*1\r\n_\r\n",
    b"*1\r\n!3\r\nabc\r\n",
    b"*2\r\n$3\r\nGET\r\n~1\r\n$1\r\na\r\n",
    b"*1\r\n>1\r\n$4\r\nPING\r\n",
    b"*1\r\n|1\r\n+a\r\n+b\r\n$4\r\nPING\r\n",
    b"*1\r\n:1\r\n",
    b"*1\r\n-ERR\r\n",
    # lengths
    b"*3000000000\r\n",
    b"*1\r\n$-5\r\n",
    b"*1\r\n$600000000\r\n",
    b"*1\r\n$abc\r\n",
    b"*-1\r\n*1\r\n$4\r\nPING\r\n",
    b'SET k "unbalanced\r\n',
    b"*1\r\n$4\r\nPINGxx\r\n",
]


def _read_all(conn):
    """Everything the server sends until it closes (or goes quiet)."""
    conn.sock.settimeout(2)
    data = conn.buf
    try:
        while True:
            chunk = conn.sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except OSError:
        return data, False


@pytest.mark.parametrize("frame", FRAMES, ids=[repr(f[:24]) for f in FRAMES])
def test_malformed_frame_gets_redis_reply(pair, frame):
    got = {}
    for kind in KINDS:
        srv = pair[kind]
        keep = srv.conn()
        assert keep.call("SET", "guard", "intact") == b"+OK\r\n"
        c = srv.conn()
        c.send(frame)
        got[kind] = _read_all(c)
        c.close()
        assert srv.alive(), "%s died on %r" % (kind, frame)
        assert keep.call("GET", "guard") == b"$6\r\nintact\r\n"
        keep.close()
    assert got["vermilion"] == got["redis"]


def test_frame_probe_on_target(target):
    """run.sh's version: the RESP3 map frame gets a protocol error and a close."""
    c = target.conn()
    c.send(FRAMES[0])
    data, closed = _read_all(c)
    assert data == b"-ERR Protocol error: expected '$', got '%'\r\n" and closed
    assert target.alive()
