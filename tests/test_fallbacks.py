"""The pure-Python fallbacks (stdlib asyncio, Python RESP reader) behave like the
accelerated server: the same raw bytes for the same requests, including inline
commands, pipelines, values split across reads, and protocol errors."""

import asyncio
import socket

import pytest

from support import RawConn
from vermilion.embed import start_server


@pytest.fixture(scope="module")
def pair():
    fast = start_server()
    slow = start_server(pure_python=True)
    yield fast, slow
    fast.stop()
    slow.stop()


def test_pure_python_server_really_is_pure(pair):
    fast, slow = pair
    from vermilion.protocol.reader import PyReader

    assert slow.server.use_hiredis is False
    assert type(slow.loop) is type(asyncio.new_event_loop())
    conn = RawConn("127.0.0.1", slow.port)
    conn.call("PING")
    client = next(iter(slow.server.clients.values()))
    assert isinstance(client.reader, PyReader)
    conn.close()


SCRIPT = [
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n",
    b"GET k\r\n",
    b'SET q "a b\\x41"\r\nGET q\r\n',
    b"*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n" * 50,
    b"*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$3\r\nxyz\r\n*4\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n$1\r\n0\r\n$2\r\n-1\r\n",
    b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nNOPE\r\n",
    b"HELLO 3\r\n*2\r\n$7\r\nHGETALL\r\n$1\r\nh\r\n",
]


def _exchange(port, chunks, split, sentinel=True):
    """Send ``chunks`` (byte by byte when ``split``) and return everything answered."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    if sentinel:
        chunks = list(chunks) + [b"*2\r\n$4\r\nECHO\r\n$7\r\n__end__\r\n"]
    for data in chunks:
        if split:
            for i in range(len(data)):
                s.sendall(data[i : i + 1])
        else:
            s.sendall(data)
    out = b""
    try:
        while not out.endswith(b"__end__\r\n"):
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


@pytest.mark.parametrize("split", [False, True])
def test_same_bytes_with_and_without_accelerators(pair, split):
    fast, slow = pair
    for srv in pair:
        RawConn("127.0.0.1", srv.port).call("FLUSHALL")
    import re

    mask = lambda b: re.sub(rb"\$2\r\nid\r\n:\d+", b"$2\r\nid\r\n:N", b)  # client ids differ
    a = mask(_exchange(fast.port, SCRIPT, split))
    b = mask(_exchange(slow.port, SCRIPT, split))
    assert a == b and a.startswith(b"+OK\r\n$5\r\nhello\r\n")


@pytest.mark.parametrize("bad", [b"*1\r\n:5\r\n", b"*x\r\n", b"*1\r\n$-5\r\n", b'SET "a\r\n'])
def test_same_protocol_errors(pair, bad):
    fast, slow = pair
    a = _exchange(fast.port, [b"PING\r\n", bad], False, sentinel=False)
    b = _exchange(slow.port, [b"PING\r\n", bad], False, sentinel=False)
    assert a == b and a.startswith(b"+PONG\r\n-ERR Protocol error")
