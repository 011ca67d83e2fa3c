#!/usr/bin/env python3
"""How many Python bytecode instructions one command costs on the hot path.

    python tools/hotpath_opcodes.py [-P 16] [-n 50] [--by-line FUNCTION] [COMMAND ...]

Builds a server in this process (no socket: a stand-in transport that only counts
bytes), feeds it ``-n`` batches of ``-P`` pipelined requests through the real
``RedisProtocol.data_received`` (reader, dispatcher, command, reply) and the write
the event loop makes at the end of the step (``Server._flush_all``), and
counts the instructions executed with ``sys.settrace``'s opcode events. Prints
the total per command and the functions it is spent in; ``--by-line NAME`` also
breaks one function down by source line.

Timings on a shared two-core machine move by 20% from run to run; instruction
counts do not, so this is the tool for comparing two versions of the hot path.
They do not see work done in C (hiredis, the event loop, system calls), which
``bench/bench.py``'s CPU-per-request figures do.
"""

import argparse
import asyncio
import collections
import hashlib
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hiredis  # noqa: E402

from vermilion import commands  # noqa: E402
from vermilion.core.config import Config  # noqa: E402
from vermilion.server.netio import RedisProtocol  # noqa: E402
from vermilion.server.server import Server  # noqa: E402

# EVALSHA of a short script (issue #10's custom benchmark command)
EVALSHA_SCRIPT = b"return redis.call('get', KEYS[1])"
EVALSHA_SHA = hashlib.sha1(EVALSHA_SCRIPT).hexdigest().encode()

REQUESTS = {
    "ping": lambda r: (b"PING",),
    "set": lambda r: (b"SET", b"key:%012d" % r.randrange(100000), b"xxx"),
    "get": lambda r: (b"GET", b"key:%012d" % r.randrange(100000)),
    # redis-benchmark's SET without -r: one key, overwritten
    "set_one": lambda r: (b"SET", b"key:__rand_int__", b"xxx"),
    # redis-benchmark's GET without -r: one key, which its SET test created
    "get_one": lambda r: (b"GET", b"key:__rand_int__"),
    "incr": lambda r: (b"INCR", b"counter:%012d" % r.randrange(100000)),
    # redis-benchmark's INCR without -r: one key, counted up
    "incr_one": lambda r: (b"INCR", b"counter:__rand_int__"),
    "lpush": lambda r: (b"LPUSH", b"mylist", b"xxx"),
    "rpop": lambda r: (b"RPOP", b"mylist"),
    "sadd": lambda r: (b"SADD", b"myset", b"element:%012d" % r.randrange(100000)),
    "hset": lambda r: (b"HSET", b"myhash", b"element:%012d" % r.randrange(100000), b"xxx"),
    "zadd": lambda r: (
        b"ZADD",
        b"myzset",
        b"%d" % r.randrange(100000),
        b"element:%012d" % r.randrange(100000),
    ),
    "lrange_100": lambda r: (b"LRANGE", b"mylist", b"0", b"99"),
    # bench/small_ops.py's pushes and pops on 10000 small lists
    "rpush_small": lambda r: (b"RPUSH", b"q:%012d" % r.randrange(10000), b"abcdefgh"),
    "lpop_small": lambda r: (b"LPOP", b"q:%012d" % r.randrange(10000)),
    # bench/small_ops.py's ZADD creating small sorted sets, and ZSCORE at rest
    "zadd_new": lambda r: (
        (b"ZADD", b"z:%012d" % r.randrange(10**9))
        + (b"1", b"a", b"2", b"b", b"3", b"c", b"4", b"d", b"5", b"e")
    ),
    "zscore_rest": lambda r: (b"ZSCORE", b"z:%012d" % r.randrange(10000), b"c"),
    # bench/small_ops.py's HSET creating small hashes, and HGET of them: at rest
    # (packed), and written since
    "hset_new": lambda r: (
        b"HSET",
        b"h:%012d" % r.randrange(10**9),
        b"name",
        b"alice",
        b"age",
        b"0",
        b"city",
        b"paris",
    ),
    "hget_rest": lambda r: (b"HGET", b"h:%012d" % r.randrange(10000), b"city"),
    "hget_written": lambda r: (b"HGET", b"h:%012d" % r.randrange(10000), b"city"),
    "zpopmin": lambda r: (b"ZPOPMIN", b"myzset"),
    "spop": lambda r: (b"SPOP", b"myset"),
    "xadd": lambda r: (b"XADD", b"mystream", b"*", b"myfield", b"myvalue"),
    "evalsha": lambda r: (b"EVALSHA", EVALSHA_SHA, b"1", b"key:%012d" % r.randrange(100000)),
    # redis-benchmark's MSET without -r: ten times one key
    "mset_one": lambda r: (b"MSET",) + (b"key:__rand_int__", b"xxx") * 10,
    "mset": lambda r: (
        (b"MSET",)
        + tuple(x for i in range(10) for x in (b"key:%012d" % r.randrange(100000), b"xxx"))
    ),
}

# Sent as inline lines (redis-benchmark's PING_INLINE), not as RESP arrays.
INLINE = {"ping_inline": b"PING\r\n"}

# What a command needs in the dataset before it is measured.
PREPARE = {
    "get_one": [(b"SET", b"key:__rand_int__", b"xxx")],
    "rpop": [(b"RPUSH", b"mylist") + (b"xxx",) * 5000],
    "lrange_100": [(b"RPUSH", b"mylist") + (b"xxx",) * 5000],
    # (enough that every pop of every round pops something)
    "zpopmin": [
        (b"ZADD", b"myzset")
        + tuple(x for i in range(j, j + 10000) for x in (b"%d" % i, b"m%d" % i))
        for j in range(0, 200000, 10000)
    ],
    "spop": [
        (b"SADD", b"myset") + tuple(b"m%d" % i for i in range(j, j + 10000))
        for j in range(0, 200000, 10000)
    ],
    "evalsha": [(b"SCRIPT", b"LOAD", EVALSHA_SCRIPT)],
    "rpush_small": [(b"RPUSH", b"q:%012d" % i) + (b"abcdefgh",) * 20 for i in range(10000)],
    "lpop_small": [(b"RPUSH", b"q:%012d" % i) + (b"abcdefgh",) * 60 for i in range(10000)],
    "zscore_rest": [
        (b"ZADD", b"z:%012d" % i, b"1", b"a", b"2", b"b", b"3", b"c", b"4", b"d", b"5", b"e")
        for i in range(10000)
    ],
    "hget_rest": [
        (b"HSET", b"h:%012d" % i, b"name", b"alice", b"age", b"0", b"city", b"paris")
        for i in range(10000)
    ],
    "hget_written": [
        c
        for i in range(10000)
        for c in (
            (b"HSET", b"h:%012d" % i, b"name", b"alice", b"age", b"0", b"city", b"paris"),
            (b"HSET", b"h:%012d" % i, b"age", b"1"),
        )
    ],
}


class _Transport:
    def __init__(self):
        self.written = 0

    def write(self, data):
        self.written += len(data)

    def get_extra_info(self, name):
        return None

    def close(self):
        pass

    def get_write_buffer_size(self):
        return 0

    def is_closing(self):
        return False


def make_protocol():
    commands.load_all()
    try:  # the server's own loop (vermilion/__main__.py): call_soon is C there
        import uvloop
    except ImportError:
        loop = asyncio.new_event_loop()
    else:
        loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    cfg = Config()
    # an empty directory: a dump.rdb where the tool runs would make the server
    # start "loading" (every command answered -LOADING)
    cfg.values["dir"] = tempfile.mkdtemp(prefix="vermilion-hotpath-")
    server = Server(cfg)
    server.loop = loop
    p = RedisProtocol(server)
    p.connection_made(_Transport())
    return p


def step(p, batch):
    """One event-loop step for one client: the read, then the flush that the loop
    runs at the end of the step (Server._flush_all, scheduled by data_received)."""
    p.data_received(batch)
    server = p.server
    if server._flush_scheduled:
        server._flush_all()


def count(p, batches, by_line=None):
    per_fn = collections.Counter()
    per_line = collections.Counter()
    total = [0]

    def local(frame, event, arg):
        if event == "opcode":
            total[0] += 1
            co = frame.f_code
            per_fn[(co.co_name, os.path.basename(co.co_filename), co.co_firstlineno)] += 1
            if co.co_name == by_line:
                per_line[frame.f_lineno or 0] += 1
        return local

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        return local

    sys.settrace(tracer)
    try:
        for b in batches:
            step(p, b)
    finally:
        sys.settrace(None)
    return total[0], per_fn, per_line


def timed(p, batches):
    t0 = time.process_time()
    for b in batches:
        step(p, b)
    return time.process_time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("commands", nargs="*", default=["ping", "set", "get", "incr", "lpush"])
    ap.add_argument("-P", type=int, default=16, help="requests per batch (pipeline depth)")
    ap.add_argument("-n", type=int, default=50, help="batches measured")
    ap.add_argument("--top", type=int, default=8, help="functions shown per command")
    ap.add_argument("--by-line", metavar="FUNCTION")
    ap.add_argument(
        "--time",
        action="store_true",
        help="also time the batches (time.process_time, min of --rounds runs; "
        "sees the C work instruction counts miss, e.g. Lua)",
    )
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--profile", action="store_true", help="cProfile the batches (by tottime)")
    ap.add_argument("--no-count", action="store_true", help="skip the instruction count")
    args = ap.parse_args()
    rnd = random.Random(1)
    for name in args.commands:
        make = REQUESTS.get(name)
        p = make_protocol()
        for req in PREPARE.get(name, ()):
            step(p, hiredis.pack_command(req))
        if name in INLINE:
            batches = [INLINE[name] * args.P] * args.n
        else:
            batches = [
                b"".join(hiredis.pack_command(make(rnd)) for _ in range(args.P))
                for _ in range(args.n)
            ]
        for b in batches[:5]:  # warm up (the interpreter specialises)
            step(p, b)
        if args.time:
            best = min(timed(p, batches) for _ in range(args.rounds))
            print(
                "%-10s %6.2f us per command (process time, min of %d runs of %d)"
                % (name, best * 1e6 / (args.n * args.P), args.rounds, args.n * args.P)
            )
        if args.profile:
            import cProfile
            import pstats

            pr = cProfile.Profile()
            pr.enable()
            for b in batches:
                step(p, b)
            pr.disable()
            pstats.Stats(pr).sort_stats("tottime").print_stats(args.top)
        if args.no_count:
            continue
        total, per_fn, per_line = count(p, batches, args.by_line)
        ncmd = args.n * args.P
        print("%-10s %6.1f instructions per command (-P %d)" % (name, total / ncmd, args.P))
        for (fn, path, line), k in per_fn.most_common(args.top):
            print("    %6.1f  %s (%s:%d)" % (k / ncmd, fn, path, line))
        if args.by_line:
            for line, k in sorted(per_line.items()):
                print("        line %5d: %6.1f" % (line, k / ncmd))


if __name__ == "__main__":
    main()
