"""MONITOR on a real Vermilion: what a differential test cannot compare.

The exact stream (redaction, admin commands, MULTI/EXEC, databases) is compared
with redis-server in tests/differential/test_connection.py.
"""

import re
import time

import redis

from test_networking import RawConn, closed_within
from vermilion.embed import start_server

LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)\r\n$", re.S)


def next_line(mon):
    line = mon.read_reply()
    m = LINE.match(line)
    assert m, line
    return m


def test_timestamps_are_now_and_increasing(server):
    mon = RawConn("127.0.0.1", server.port)
    c = RawConn("127.0.0.1", server.port)
    assert mon.call("MONITOR") == b"+OK\r\n"
    t0 = time.time()
    for i in range(20):
        c.call("SET", "k%d" % i, i)
    stamps = []
    for i in range(20):
        m = next_line(mon)
        assert m.group(5) == b'"SET" "k%d" "%d"' % (i, i)
        stamps.append(float(m.group(1) + b"." + m.group(2)))
    assert stamps == sorted(stamps)
    assert t0 - 1 < stamps[0] <= stamps[-1] < time.time() + 1


def test_unix_socket_clients_are_shown_as_unix(tmp_path):
    path = str(tmp_path / "m.sock")
    with start_server(unixsocket=path) as srv:
        mon = RawConn("127.0.0.1", srv.port)
        mon.call("MONITOR")
        u = redis.Redis(unix_socket_path=path, protocol=2)
        u.execute_command("SELECT", 4)
        u.set("k", "v")
        m = next_line(mon)
        assert m.group(3) == b"4" and m.group(4) == b"unix:" + path.encode()
        assert m.group(5) == b'"SELECT" "4"'
        m = next_line(mon)
        assert m.group(5) == b'"SET" "k" "v"'


def test_several_monitors_and_disconnection(server):
    mons = [RawConn("127.0.0.1", server.port) for _ in range(3)]
    for m in mons:
        assert m.call("MONITOR") == b"+OK\r\n"
    assert len(server.server.monitors) == 3
    c = RawConn("127.0.0.1", server.port)
    c.call("INCR", "n")
    for m in mons:
        assert next_line(m).group(5) == b'"INCR" "n"'
    mons[0].close()
    deadline = time.time() + 5
    while len(server.server.monitors) != 2 and time.time() < deadline:
        time.sleep(0.02)
    assert len(server.server.monitors) == 2
    c.call("INCR", "n")
    for m in mons[1:]:
        assert next_line(m).group(5) == b'"INCR" "n"'


def test_monitor_is_special_for_the_dispatcher(server):
    """A monitor takes the slow path (its keyspace access is refused) and stops after RESET."""
    mon = RawConn("127.0.0.1", server.port)
    mon.call("MONITOR")
    c = next(iter(x for x in server.server.clients.values() if x.monitor))
    assert c.special
    assert mon.call("GET", "k") == b"-ERR Replica can't interact with the keyspace\r\n"
    assert mon.call("RESET") == b"+RESET\r\n"
    assert not c.monitor and not c.special and c not in server.server.monitors
    assert mon.call("GET", "k") == b"$-1\r\n"


def test_monitors_are_not_closed_for_idling():
    with start_server(timeout=1) as srv:
        mon = RawConn("127.0.0.1", srv.port)
        idle = RawConn("127.0.0.1", srv.port)
        mon.call("MONITOR")
        idle.call("PING")
        next_line(mon)
        assert closed_within(idle, 3.5)
        assert not closed_within(mon, 0.5)
        assert mon.call("PING") == b"+PONG\r\n"
