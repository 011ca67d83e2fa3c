#!/usr/bin/env python3
"""Commands on many small collections: redis-server and Vermilion side by side.

    python bench/small_ops.py [-n 200000] [-c 50] [-P 16] [-r 3]
                              [--vermilion-dir DIR] [--baseline DIR]

redis-benchmark's suite works on one key per type (``mylist``, ``myhash``...), so it
never sees the encodings most datasets are made of: many small lists and hashes, which
Redis keeps as listpacks and Vermilion packs too (types/list.py, types/hash.py,
types/zset.py, types/set.py). This
runs redis-benchmark's command mode over many small keys instead, and reads each
server's CPU time around every invocation, as bench.py does (CPU us per request).
``-r`` below is redis-benchmark's keyspace: ``__rand_int__`` becomes a 12-digit number
under it. The steps, in this order, each server in turn, every round:

  hset_new       HSET h:__rand_int__ name alice age 0 city paris, -r 10^9: nearly
                 every request creates its key
  (untimed)      FLUSHALL, then one HSET like that per key h:0 .. h:KEYS-1, so that
                 each hash was made whole by one command: at rest
  hget_rest      HGET h:__rand_int__ city, -r KEYS
  hgetall_rest   HGETALL h:__rand_int__
  hset_rewrite   HSET h:__rand_int__ age 1: the first write to each key
  hget_written   HGET h:__rand_int__ city, after those writes
  (untimed)      FLUSHALL, then one ZADD z:i 1 a 2 b 3 c 4 d 5 e per key z:0 .. z:KEYS-1
  zscore_rest    ZSCORE z:__rand_int__ c
  zrevrange_rest ZREVRANGE z:__rand_int__ 0 2 WITHSCORES
  zadd_rewrite   ZADD z:__rand_int__ 7 f: the first write to each key
  zscore_written ZSCORE z:__rand_int__ c, after those writes
  (untimed)      FLUSHALL, then one SADD s:i a b c d e per key s:0 .. s:KEYS-1
  sismember_rest SISMEMBER s:__rand_int__ c
  sadd_rewrite   SADD s:__rand_int__ f: the first write to each key
  sismember_written  SISMEMBER s:__rand_int__ c, after those writes
  (untimed)      FLUSHALL
  rpush_small    RPUSH q:__rand_int__ abcdefgh, -r LISTS: each list grows to n/LISTS
  lpush_small    LPUSH q:__rand_int__ abcdefgh
  lpop_small     LPOP q:__rand_int__
  rpop_small     RPOP q:__rand_int__
  lrange_small   LRANGE q:__rand_int__ 0 -1

``--baseline DIR`` adds Vermilion from another tree (a ``git archive`` of an older
commit, with the compiled parser copied in) and a vermilion/baseline column.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench import ROOT, Conn, call1, proc_cpu, settle, start_servers, stop_servers

HASH = [b"name", b"alice", b"age", b"0", b"city", b"paris"]
ZSET = [b"1", b"a", b"2", b"b", b"3", b"c", b"4", b"d", b"5", b"e"]
SET = [b"a", b"b", b"c", b"d", b"e"]
STEPS = [
    ("hset_new", ["HSET", "h:__rand_int__"] + [x.decode() for x in HASH], "1000000000"),
    ("load_hashes", None, None),
    ("hget_rest", ["HGET", "h:__rand_int__", "city"], "KEYS"),
    ("hgetall_rest", ["HGETALL", "h:__rand_int__"], "KEYS"),
    ("hset_rewrite", ["HSET", "h:__rand_int__", "age", "1"], "KEYS"),
    ("hget_written", ["HGET", "h:__rand_int__", "city"], "KEYS"),
    ("load_zsets", None, None),
    ("zscore_rest", ["ZSCORE", "z:__rand_int__", "c"], "KEYS"),
    ("zrevrange_rest", ["ZREVRANGE", "z:__rand_int__", "0", "2", "WITHSCORES"], "KEYS"),
    ("zadd_rewrite", ["ZADD", "z:__rand_int__", "7", "f"], "KEYS"),
    ("zscore_written", ["ZSCORE", "z:__rand_int__", "c"], "KEYS"),
    ("load_sets", None, None),
    ("sismember_rest", ["SISMEMBER", "s:__rand_int__", "c"], "KEYS"),
    ("sadd_rewrite", ["SADD", "s:__rand_int__", "f"], "KEYS"),
    ("sismember_written", ["SISMEMBER", "s:__rand_int__", "c"], "KEYS"),
    ("flushall", None, None),
    ("rpush_small", ["RPUSH", "q:__rand_int__", "abcdefgh"], "LISTS"),
    ("lpush_small", ["LPUSH", "q:__rand_int__", "abcdefgh"], "LISTS"),
    ("lpop_small", ["LPOP", "q:__rand_int__"], "LISTS"),
    ("rpop_small", ["RPOP", "q:__rand_int__"], "LISTS"),
    ("lrange_small", ["LRANGE", "q:__rand_int__", "0", "-1"], "LISTS"),
]
TIMED = [name for name, argv, _ in STEPS if argv is not None]


def load(port, keys, cmd, prefix, args):
    """One ``cmd`` per key <prefix><12 digits> (as redis-benchmark names them)."""
    c = Conn(port)
    try:
        for lo in range(0, keys, 1000):
            cmds = [(cmd, prefix + b"%012d" % i, *args) for i in range(lo, min(lo + 1000, keys))]
            for r in c.call(*cmds):
                if isinstance(r, Exception):
                    raise r
    finally:
        c.close()


def run_step(t, argv, keyspace, n, c, p):
    """Server CPU us per request of one redis-benchmark invocation."""
    settle(t["pid"])
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(t["port"]), "-q"]
    cmd += ["-n", str(n), "-c", str(c), "-P", str(p), "-r", keyspace] + argv
    c0 = proc_cpu(t["pid"])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        sys.exit("redis-benchmark failed: %s" % out.stderr.strip()[:300])
    return (proc_cpu(t["pid"]) - c0) * 1e6 / n


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("-n", type=int, default=200000, help="requests per step (default 200000)")
    ap.add_argument("-c", type=int, default=50, help="clients (default 50)")
    ap.add_argument("-P", type=int, default=16, help="pipeline depth (default 16)")
    ap.add_argument("-r", type=int, default=3, help="rounds (default 3)")
    ap.add_argument(
        "--keys", type=int, default=50000, help="hashes, sorted sets, sets (default 50000)"
    )
    ap.add_argument("--lists", type=int, default=10000, help="lists (default 10000)")
    ap.add_argument("--vermilion-dir", default=ROOT, metavar="DIR")
    ap.add_argument("--baseline", metavar="DIR", help="also run Vermilion from this tree")
    a = ap.parse_args()
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            sys.exit("%s not found: apt-get install redis-server redis-tools" % tool)
    spaces = {"KEYS": str(a.keys), "LISTS": str(a.lists)}
    tmp = tempfile.mkdtemp(prefix="vermilion-bench-")
    baseline = os.path.abspath(a.baseline) if a.baseline else None
    targets = start_servers(tmp, os.path.abspath(a.vermilion_dir), baseline, minimal=False)
    names = [t["name"] for t in targets]
    cpu = {}  # (step, target) -> [us per request, one per round]
    t_start = time.time()
    try:
        for rnd in range(a.r):
            order = targets[rnd % len(targets) :] + targets[: rnd % len(targets)]
            for t in order:
                call1(t["port"], "FLUSHALL")
                for name, argv, space in STEPS:
                    if name == "load_hashes":
                        call1(t["port"], "FLUSHALL")
                        load(t["port"], a.keys, b"HSET", b"h:", HASH)
                    elif name == "load_zsets":
                        call1(t["port"], "FLUSHALL")
                        load(t["port"], a.keys, b"ZADD", b"z:", ZSET)
                    elif name == "load_sets":
                        call1(t["port"], "FLUSHALL")
                        load(t["port"], a.keys, b"SADD", b"s:", SET)
                    elif name == "flushall":
                        call1(t["port"], "FLUSHALL")
                    else:
                        us = run_step(t, argv, spaces.get(space, space), a.n, a.c, a.P)
                        cpu.setdefault((name, t["name"]), []).append(us)
            sys.stderr.write("  round %d/%d done (%.0fs)\n" % (rnd + 1, a.r, time.time() - t_start))
    finally:
        stop_servers(targets)
        shutil.rmtree(tmp, ignore_errors=True)
    hdr = ["step"] + ["%s CPU us/req" % x for x in names] + ["vermilion/redis"]
    if baseline:
        hdr.append("vermilion/baseline")
    print(
        "\nserver CPU per request, median of %d rounds (-n %d -c %d -P %d; %d hashes, %d lists)\n"
        % (a.r, a.n, a.c, a.P, a.keys, a.lists)
    )
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for step in TIMED:
        med = {x: statistics.median(cpu[(step, x)]) for x in names}
        row = [step] + ["%.2f" % med[x] for x in names]
        row.append("%.2fx" % (med["vermilion"] / med["redis"]))
        if baseline:
            row.append("%.2fx" % (med["vermilion"] / med["baseline"]))
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
