"""Fixtures for the security probes (see probe.py).

``pair``: one redis-server and one Vermilion, each its own process, shared by a
test module (the probes that may crash a server spawn their own). With
``--probe-target HOST:PORT`` the probes that take ``target`` run against that
server alone (see run.sh).
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe  # noqa: E402
from probe import Spawned  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _no_server_left_behind():
    """Stop, when the session ends, any server a test started and did not stop
    (say, its redis-server when the Vermilion beside it failed to start)."""
    yield
    for s in list(probe.STARTED):
        s.stop()


def pytest_addoption(parser):
    parser.addoption(
        "--probe-target", default=None, help="HOST:PORT of a running server to probe (run.sh)"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--probe-target"):
        items[:] = [it for it in items if "target" in getattr(it, "fixturenames", ())]


@pytest.fixture(scope="module")
def pair():
    """{"redis": Spawned, "vermilion": Spawned}, one of each for the module."""
    servers = {}
    try:
        servers["redis"] = Spawned("redis")
        servers["vermilion"] = Spawned("vermilion")
        yield servers
    finally:
        for s in servers.values():
            s.stop()


class _External:
    """A server we did not start (run.sh): it cannot be restarted or inspected."""

    kind = "external"

    def __init__(self, host, port):
        self.host, self.port = host, port

    def conn(self, timeout=10, host=None):
        from support import RawConn

        return RawConn(self.host, self.port, timeout=timeout)

    def alive(self):
        import socket

        try:
            socket.create_connection((self.host, self.port), timeout=2).close()
            return True
        except OSError:
            return False

    def exit_status(self):
        return None if self.alive() else "unknown"


@pytest.fixture(params=["redis", "vermilion"])
def target(request):
    """Each server in turn (or only --probe-target): for probes that need no restart."""
    ext = request.config.getoption("--probe-target")
    if ext:
        if request.param != "vermilion":
            pytest.skip("--probe-target given: probing that server only")
        host, _, port = ext.rpartition(":")
        return _External(host or "127.0.0.1", int(port))
    return request.getfixturevalue("pair")[request.param]
