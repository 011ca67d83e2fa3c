"""Helpers for the replication tests: real redis-server peers and dataset snapshots."""

import os
import time

import redis

from support import RealRedis


def wait_for(cond, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.02)


def real_replica_of(port, *extra):
    """A real redis-server replicating from 127.0.0.1:port (its log in ref.dir/redis.log)."""
    return RealRedis(
        "--replicaof",
        "127.0.0.1",
        str(port),
        "--logfile",
        "redis.log",
        "--repl-diskless-sync-delay",
        "0",
        *extra,
    )


def log_of(ref):
    try:
        with open(os.path.join(ref.dir, "redis.log")) as fh:
            return fh.read()
    except OSError:
        return ""


def link_up(client):
    info = client.info("replication")
    return info.get("master_link_status") == "up"


def dataset(port, dbs=range(16)):
    """Every key of every db: {(db, key): (type, canonical value, has_ttl)}."""
    out = {}
    for dbid in dbs:
        c = redis.Redis(port=port, db=dbid)
        for key in c.scan_iter(count=1000):
            t = c.type(key).decode()
            if t == "string":
                v = c.get(key)
            elif t == "list":
                v = tuple(c.lrange(key, 0, -1))
            elif t == "set":
                v = tuple(sorted(c.smembers(key)))
            elif t == "zset":
                v = tuple(c.zrange(key, 0, -1, withscores=True))
            elif t == "hash":
                v = tuple(sorted(c.hgetall(key).items()))
            elif t == "stream":
                v = (
                    tuple((i, tuple(sorted(f.items()))) for i, f in c.xrange(key)),
                    tuple(
                        sorted(
                            (g["name"], g["last-delivered-id"], g["pending"])
                            for g in c.xinfo_groups(key)
                        )
                    ),
                )
            else:
                v = None
            out[(dbid, key)] = (t, v, c.pttl(key) > 0)
        c.close()
    return out
