"""client-output-buffer-limit: a client that does not read is dropped at the hard
limit at once, as Redis does, without the server buffering far past the limit.

Measured on both servers: the time from the pipelined requests to the drop, and
the server's peak resident memory (VmHWM) over the same run.
"""

import socket
import time

import pytest

from probe import Spawned

MB = 1 << 20


def _hwm_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) // 1024
    return 0


def _connected(conn):
    info = conn.call("INFO", "clients")
    return int(info.split(b"connected_clients:")[1].split(b"\r\n")[0])


def _flood(kind, value_size, count, limit="normal 64mb 32mb 10"):
    """One client pipelines ``count`` GETs of a ``value_size`` value and never reads:
    (seconds until the server dropped it, peak RSS growth in MB, log)."""
    with Spawned(kind, "--client-output-buffer-limit", limit) as s:
        c = s.conn()
        c.call("SET", "big", b"x" * value_size)
        base = _hwm_mb(s.proc.pid)
        slow = socket.create_connection(("127.0.0.1", s.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        while _connected(c) < 2:  # accepted before we count it gone
            time.sleep(0.005)
        t0 = time.time()
        try:
            slow.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * count)
        except OSError:
            pass  # dropped while we were still sending
        dropped = None
        while time.time() - t0 < 15:
            if _connected(c) == 1:
                dropped = time.time() - t0
                break
            time.sleep(0.01)
        growth = _hwm_mb(s.proc.pid) - base
        assert c.call("GET", "big").startswith(b"$%d\r\nxxx" % value_size)
        slow.close()
        return dropped, growth, s.log()


@pytest.mark.parametrize(
    "value_size,count", [(MB, 200), (100 * 1024, 2000)], ids=["1MB-values", "100KB-values"]
)
def test_hard_limit_drops_a_client_that_does_not_read(value_size, count):
    ref = _flood("redis", value_size, count)
    ours = _flood("vermilion", value_size, count)
    assert ref[0] is not None and ref[0] < 2
    assert ours[0] is not None, "never dropped"
    # the hard limit acts at once, not after the soft limit's 10 seconds
    assert ours[0] < 2, ours
    assert "for overcoming of output buffer limits" in ours[2]
    # memory: no more than the limit plus what Redis itself needs on top of it
    assert ours[1] <= max(ref[1], 64) * 1.5 + 16, (ref, ours)


def test_default_limits_keep_a_slow_normal_client():
    """With the default ``normal 0 0 0`` neither server drops a client that reads
    slowly (Vermilion stops reading from it while its socket is full instead)."""
    for kind in ("redis", "vermilion"):
        with Spawned(kind) as s:
            c = s.conn()
            c.call("SET", "big", b"x" * MB)
            slow = socket.create_connection(("127.0.0.1", s.port))
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            while _connected(c) < 2:
                time.sleep(0.005)
            slow.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * 20)
            time.sleep(0.5)
            assert _connected(c) == 2, kind
            slow.close()
