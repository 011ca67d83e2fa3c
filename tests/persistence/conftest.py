"""Fixtures of the persistence tests (helpers live in pers_helpers.py)."""

import pytest

from pers_helpers import RedisProc


@pytest.fixture
def redis_proc_factory():
    procs = []

    def start(dirpath, dbfilename="dump.rdb", *extra):
        p = RedisProc(dirpath, dbfilename, *extra)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.stop()


@pytest.fixture
def vermilion_factory():
    from vermilion.embed import start_server

    servers = []

    def start(**cfg):
        cfg.setdefault("enable_debug_command", "yes")
        srv = start_server(**cfg)
        servers.append(srv)
        return srv

    yield start
    for s in servers:
        s.stop()
