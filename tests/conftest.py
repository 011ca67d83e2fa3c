"""Shared fixtures: real servers on real sockets.

* ``server`` / ``r``: a fresh Vermilion (embedded, own thread) and a redis-py client.
* ``diff``: a :class:`Differ` that sends the same raw commands to a real
  redis-server and to Vermilion and asserts the raw reply bytes are identical.
  Skipped, with the reason, when ``redis-server`` is not installed.
"""

import os

import pytest

# Every Vermilion a test spawns (``python -m vermilion`` in a scratch directory) runs
# the tree under test, not whatever copy of the package is installed: a git worktree,
# or a fresh clone with no ``pip install -e``, tests its own code.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)

from vermilion.embed import start_server  # noqa: E402
from support import (  # noqa: F401, E402  (re-exported for older imports)
    RawConn,
    RealRedis,
    Differ,
    REDIS_SERVER,
    free_port,
)


@pytest.fixture
def server():
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture
def r(server):
    import redis

    c = redis.Redis(host=server.host, port=server.port)
    yield c
    c.close()


@pytest.fixture(scope="session")
def real_redis():
    if REDIS_SERVER is None:
        pytest.skip(
            "redis-server is not installed (apt-get install redis-server); "
            "differential tests need the reference server"
        )
    ref = RealRedis()
    yield ref
    ref.stop()


@pytest.fixture(scope="session")
def shared_vermilion():
    srv = start_server(enable_debug_command="yes")
    yield srv
    srv.stop()


@pytest.fixture
def diff(real_redis, shared_vermilion):
    d = Differ(real_redis.port, shared_vermilion.port)
    d("FLUSHALL")
    d("SELECT", "0")
    yield d
    d.close()


@pytest.fixture
def diff3(real_redis, shared_vermilion):
    """Like ``diff`` but both connections speak RESP3."""
    d = Differ(real_redis.port, shared_vermilion.port)
    d("FLUSHALL")
    d.ref.call("HELLO", "3")
    d.our.call("HELLO", "3")
    yield d
    d.close()
