"""PSYNC's argument errors, compared with redis-server 7.0."""

import pytest
import redis

from support import REDIS_SERVER, RealRedis
from vermilion.embed import start_server


@pytest.fixture
def ours():
    srv = start_server()
    yield srv
    srv.stop()


def _err(port):
    c = redis.Redis(port=port)
    try:
        c.execute_command("PSYNC", "replicationid", "offset_str")
    except redis.ResponseError as e:
        return str(e)
    finally:
        c.close()
    return None


def test_psync_offset_not_a_number(ours):
    assert _err(ours.port) == "value is not an integer or out of range"
    assert redis.Redis(port=ours.port).info("replication")["connected_slaves"] == 0


@pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")
def test_psync_offset_not_a_number_like_redis(ours):
    ref = RealRedis()
    try:
        assert _err(ours.port) == _err(ref.port)
    finally:
        ref.stop()
