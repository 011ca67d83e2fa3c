"""Helpers for the persistence tests: real files, real redis-server processes.

* :class:`RedisProc` starts ``redis-server`` on a free port with a given
  ``--dir``/``--dbfilename`` (so it loads our files, or writes files we load).
* :func:`populate` writes the same data set (every type, small and large
  encodings, binary data, TTLs, several databases) through any client.
* :func:`snapshot` reads a whole server back as plain Python values, so two
  servers can be compared with ``==`` (TTLs rounded to "has one" and checked
  to be within a window).
* :func:`in_loop` runs a function on an embedded server's own thread (for the
  server APIs the tests call directly, like ``request_shutdown``).
"""

import os
import random
import shutil
import socket
import subprocess
import threading
import time

import pytest
import redis

REDIS_SERVER = shutil.which("redis-server")
REDIS_CHECK_RDB = shutil.which("redis-check-rdb")
REDIS_CHECK_AOF = shutil.which("redis-check-aof")

needs_redis = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc=None, timeout=15):
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError("server exited with status %s" % proc.returncode)
            if time.time() > deadline:
                raise
            time.sleep(0.02)


class RedisProc:
    """A redis-server process over a directory of ours."""

    def __init__(self, dirpath, dbfilename="dump.rdb", *extra):
        self.dir = str(dirpath)
        self.port = free_port()
        self.log = os.path.join(self.dir, "redis-server.log")
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                self.dir,
                "--dbfilename",
                dbfilename,
                "--logfile",
                self.log,
                "--enable-debug-command",
                "yes",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(self.port, self.proc)
        except Exception:
            self.stop()
            raise RuntimeError("redis-server failed to start:\n" + self.read_log())
        # wait for the dataset to be loaded
        c = self.client()
        deadline = time.time() + 30
        while True:
            try:
                c.ping()
                break
            except redis.BusyLoadingError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        c.close()

    def client(self, **kw):
        return redis.Redis(port=self.port, **kw)

    def read_log(self):
        try:
            with open(self.log) as fh:
                return fh.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def in_loop(srv, fn, *args, timeout=60):
    """Run fn(*args) on the embedded server's event-loop thread; return its result."""
    done = threading.Event()
    box = {}

    def run():
        try:
            box["r"] = fn(*args)
        except BaseException as e:  # noqa: B902 - handed back to the test
            box["e"] = e
        finally:
            done.set()

    srv.loop.call_soon_threadsafe(run)
    assert done.wait(timeout), "server thread did not answer"
    if "e" in box:
        raise box["e"]
    return box.get("r")


class FakeClient:
    """What server.debug_reload / debug_loadaof need from a client."""

    def __init__(self, server):
        self.server = server
        self.db = server.dbs[0]
        self.in_exec = False


# ------------------------------------------------------------------- data set
BIN = bytes(range(256))


def populate(c, seed=7, big=True):
    """Write the reference data set through client ``c`` (redis-py, raw commands)."""
    rnd = random.Random(seed)
    x = c.execute_command
    x("SELECT", 0)
    # strings
    x("SET", "s:small", "hello")
    x("SET", "s:int", "12345")
    x("SET", "s:neg", "-7")
    x("SET", "s:int64", "9223372036854775807")
    x("SET", "s:int32edge", "2147483648")
    x("SET", "s:notcanon", "0123")
    x("SET", "s:empty", "")
    x("SET", "s:bin", BIN)
    x("SET", "s:compressible", b"abcabcabc" * 300)
    x("SET", "s:random", bytes(rnd.getrandbits(8) for _ in range(3000)))
    x("SET", "s:ttl", "v", "PX", 500000)
    x("SET", BIN[:40] + b"key", "binary key")
    x("APPEND", "s:appended", "grow")
    x("APPEND", "s:appended", "n")
    # lists
    x("RPUSH", "l:small", "a", "b", "1", "-2", "99999999999", "", BIN)
    if big:
        x("RPUSH", "l:big", *[b"item-%d-" % i * 3 for i in range(6000)])
    x("RPUSH", "l:bigelem", b"y" * 20000, "z", b"w" * 9000)
    x("RPUSH", "l:ints", *range(-300, 300))
    x("LPUSH", "l:ttl", "t")
    x("PEXPIRE", "l:ttl", 600000)
    # hashes
    x("HSET", "h:small", "f1", "v1", "f2", "2", "3", "v3", "bin", BIN[:50])
    x("HSET", "h:big", *[y for i in range(700) for y in (b"f%d" % i, b"v%d" % i)])
    x("HSET", "h:longval", "f", "x" * 100)
    x("HSET", "h:ints", *[y for i in range(40) for y in (i, -i * 1000)])
    # sets
    x("SADD", "set:int", 1, 2, 3, -100, 1 << 40, -(1 << 62))
    x("SADD", "set:str", "a", "b", "c", BIN[:10])
    x("SADD", "set:bigint", *range(1000))
    x("SADD", "set:mixed", *range(50), "x")
    if big:
        x("SADD", "set:bigstr", *[b"m%d" % i for i in range(3000)])
    # sorted sets
    x(
        "ZADD",
        "z:small",
        1,
        "a",
        2.5,
        "b",
        -3,
        "c",
        "inf",
        "d",
        "-inf",
        "e",
        1e300,
        "f",
        0.1,
        "g",
        12345678901,
        "h",
    )
    x("ZADD", "z:big", *[y for i in range(500) for y in (i * 1.5, b"m%d" % i)])
    x("ZADD", "z:long", 1, "x" * 100)
    x("ZADD", "z:negzero", "-0", "a", 1, "b")
    x("ZADD", "z:bigneg", *[y for i in range(200) for y in ("-0", b"k%d" % i)])
    x("ZADD", "z:ttl", 1, "a")
    x("EXPIRE", "z:ttl", 700000)
    # other databases
    x("SELECT", 3)
    x("SET", "db3:key", "v")
    x("HSET", "db3:h", "a", "b")
    x("SELECT", 15)
    x("RPUSH", "db15:l", "only")
    x("SELECT", 0)


def _ttl_bucket(pttl):
    return -1 if pttl < 0 else 1


def snapshot(c, dbs=(0, 3, 15), encodings=True):
    """Every key of the given databases as comparable plain data."""
    x = c.execute_command
    out = {}
    for db in dbs:
        x("SELECT", db)
        keys = sorted(x("KEYS", "*"))
        d = {}
        for k in keys:
            t = x("TYPE", k)
            if t == b"string":
                v = x("GET", k)
            elif t == b"list":
                v = x("LRANGE", k, 0, -1)
            elif t == b"hash":
                flat = x("HGETALL", k)
                v = (
                    sorted(zip(flat[0::2], flat[1::2]))
                    if isinstance(flat, list)
                    else sorted(flat.items())
                )
            elif t == b"set":
                v = sorted(x("SMEMBERS", k))
            elif t == b"zset":
                flat = x("ZRANGE", k, 0, -1, "WITHSCORES")
                v = (
                    [(m, s) for m, s in zip(flat[0::2], flat[1::2])]
                    if flat and not isinstance(flat[0], list)
                    else [tuple(p) for p in flat]
                )
            else:
                v = None
            enc = x("OBJECT", "ENCODING", k) if encodings else None
            d[k] = (t, v, _ttl_bucket(x("PTTL", k)), enc)
        out[db] = d
    x("SELECT", 0)
    return out


def assert_same(a, b):
    assert a.keys() == b.keys()
    for db in a:
        da, db_ = a[db], b[db]
        assert sorted(da) == sorted(db_), "db %d keys differ" % db
        for k in da:
            assert da[k] == db_[k], "db %d key %r: %r != %r" % (db, k, da[k][:3], db_[k][:3])


def raw_call(port, *args):
    """Send one command, return the raw reply line(s) as bytes (no client-side parsing)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf
    finally:
        s.close()
