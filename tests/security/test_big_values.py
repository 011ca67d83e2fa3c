"""A big SET is not copied on the way in: the server's peak memory grows by about
the value's size, as redis-server's does (it was twice that: the joined pieces
and a copy of them)."""

import socket

from probe import Spawned

MB = 1 << 20


def _status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) // 1024
    return 0


def _peak_growth(kind, size):
    with Spawned(kind) as s:
        c = s.conn(timeout=60)
        base = _status(s.proc.pid, "VmHWM")
        value = b"v" * size
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        sock.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size)
        view = memoryview(value)
        for i in range(0, size, 1 << 20):  # a client writing it in 1 MB pieces
            sock.sendall(view[i : i + (1 << 20)])
        sock.sendall(b"\r\n")
        assert sock.recv(16) == b"+OK\r\n"
        assert c.call("STRLEN", "big") == b":%d\r\n" % size
        sock.close()
        return _status(s.proc.pid, "VmHWM") - base


def test_big_set_peak_memory_like_redis():
    size = 128 * MB
    ref = _peak_growth("redis", size)
    ours = _peak_growth("vermilion", size)
    assert ref >= size // MB * 0.9
    assert ours <= ref * 1.15 + 8, (ref, ours)
