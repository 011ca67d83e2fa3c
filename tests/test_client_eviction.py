"""maxmemory-clients: client memory (CLIENT LIST tot-mem) and client eviction (#12)."""

import socket
import time

import pytest
import redis

from vermilion.embed import start_server


@pytest.fixture
def srv():
    s = start_server()
    yield s
    s.stop()


def _named(srv, name):
    s = socket.create_connection((srv.host, srv.port))
    s.sendall(b"*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$%d\r\n%s\r\n" % (len(name), name))
    assert s.recv(100) == b"+OK\r\n"
    return s


def _field(r, name, f):
    for c in r.client_list():
        if c["name"] == name:
            return int(c[f])
    return None


def _wait_gone(r, name):
    for _ in range(100):
        if _field(r, name, "tot-mem") is None:
            return True
        time.sleep(0.02)
    return False


def test_half_read_big_argument_counts_its_whole_length(srv):
    r = redis.Redis(host=srv.host, port=srv.port)
    s = _named(srv, b"big")
    n = 220200
    s.sendall(b"*1\r\n$%d\r\n" % n + b"v" * 1000)  # only the start of the argument
    time.sleep(0.2)
    tot = _field(r, "big", "tot-mem")
    assert n <= tot < 2 * n  # Redis makes room for the whole bulk at its header
    s.close()


def test_query_buffer_over_limit_evicts_and_counts(srv):
    r = redis.Redis(host=srv.host, port=srv.port)
    r.config_set("maxmemory-clients", 3000000)
    s = _named(srv, b"victim")
    n = 3000000
    s.sendall(b"*1\r\n$%d\r\n" % n + b"v" * 100000)
    assert _wait_gone(r, "victim")
    assert r.info("stats")["evicted_clients"] == 1
    s.close()


def test_large_argv_evicts_the_running_client(srv):
    r = redis.Redis(host=srv.host, port=srv.port)
    r.config_set("maxmemory-clients", 3000000)
    c = redis.Redis(host=srv.host, port=srv.port, client_name="argv")
    c.mset({"k": "v", "k2": "v" * 1000000})
    assert c.get("k") == b"v"
    with pytest.raises(redis.ConnectionError):
        c.mset({"k": "v", "k2": "v" * 3000000})
    assert _wait_gone(r, "argv")
    assert r.get("k") == b"v"  # evicted before the command ran


def test_no_evict_client_is_kept(srv):
    r = redis.Redis(host=srv.host, port=srv.port)
    r.client_no_evict("on")  # or this connection would be the one evicted
    r.config_set("maxmemory-clients", 3000000)
    s = _named(srv, b"keep")
    s.sendall(b"*3\r\n$6\r\nCLIENT\r\n$8\r\nNO-EVICT\r\n$2\r\non\r\n")
    assert s.recv(100) == b"+OK\r\n"
    n = 3000001
    s.sendall(b"*1\r\n$%d\r\n" % n + b"v" * n)
    for _ in range(200):
        if _field(r, "keep", "qbuf") == n:
            break
        time.sleep(0.01)
    assert _field(r, "keep", "tot-mem") > 3000000
    assert r.info("stats")["evicted_clients"] == 0
    s.close()


def test_lowering_the_limit_evicts_largest_first(srv):
    r = redis.Redis(host=srv.host, port=srv.port)
    r.client_no_evict("on")
    socks = []
    for name, size in ((b"small", 100000), (b"large", 1000000)):
        s = _named(srv, name)
        s.sendall(b"*2\r\n$%d\r\n" % size + b"v" * size)
        socks.append(s)
    time.sleep(0.3)
    small = _field(r, "small", "tot-mem")
    r.config_set("maxmemory-clients", small + 200000)
    assert _field(r, "large", "tot-mem") is None
    assert _field(r, "small", "tot-mem") == small
    for s in socks:
        s.close()
