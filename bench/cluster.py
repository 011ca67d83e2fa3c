#!/usr/bin/env python3
"""One box, several cores: N Vermilion processes as one Redis Cluster.

    python bench/cluster.py [-N 1,2,4] [-t set,get] [-n 1000000] [-c 50] [-P 16]
                            [--threads 2] [-r 3]

One Vermilion process is one event loop on one core, like Redis. A deployment
uses more cores the way Redis does: several processes forming a Redis Cluster,
each serving a share of the 16384 hash slots. This script measures that on one
machine. For each N it starts N masters of a kind (no replicas, no persistence),
splits the slots evenly between them (CLUSTER ADDSLOTSRANGE, SET-CONFIG-EPOCH,
MEET: ``redis-cli --cluster create`` wants at least three masters) and drives the
cluster with ``redis-benchmark --cluster``, which sends each key to its slot's
node. Rows: a single redis-server (not in cluster mode: the usual baseline), a
redis-server cluster of N nodes, and a Vermilion cluster of N nodes; the
"vs 1 redis" column is the ratio to the single redis-server.

The benchmark client competes for the same cores (``--threads`` of redis-benchmark
run beside the servers), so on a 2-core machine N > 1 mostly shows how the load
splits, not a linear speed-up. Rounds are interleaved; medians are printed.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
REDIS_BENCHMARK = shutil.which("redis-benchmark")


def port_pair_free(p):
    for q in (p, p + 10000):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", q))
        except OSError:
            return False
        finally:
            s.close()
    return True


def ports(n, start=[21000]):
    out = []
    p = start[0]
    while len(out) < n:
        p += 1
        if port_pair_free(p):
            out.append(p)
    start[0] = p
    return out


def cli(port, *args):
    return subprocess.run(
        [REDIS_CLI, "-p", str(port)] + [str(a) for a in args], capture_output=True, text=True
    ).stdout.strip()


def wait_ping(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cli(port, "PING") == "PONG":
            return
        time.sleep(0.05)
    raise RuntimeError("server on %d did not start" % port)


def start(kind, port, tmp, cluster):
    d = tempfile.mkdtemp(dir=tmp)
    args = [
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        d,
    ]
    if cluster:
        args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
    if kind == "redis":
        argv = [REDIS_SERVER] + args
    else:
        argv = [sys.executable, "-m", "vermilion"] + args
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen(argv, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ping(port)
    return p


def make_cluster(kind, n, tmp):
    ps = ports(n)
    procs = [start(kind, p, tmp, True) for p in ps]
    per = 16384 // n
    for i, p in enumerate(ps):
        a = i * per
        b = 16383 if i == n - 1 else (i + 1) * per - 1
        cli(p, "CLUSTER", "ADDSLOTSRANGE", a, b)
        cli(p, "CLUSTER", "SET-CONFIG-EPOCH", i + 1)
    for p in ps[1:]:
        cli(ps[0], "CLUSTER", "MEET", "127.0.0.1", p)
    deadline = time.time() + 30
    while time.time() < deadline:
        infos = [cli(p, "CLUSTER", "INFO") for p in ps]
        if all("cluster_state:ok" in i and "cluster_known_nodes:%d" % n in i for i in infos):
            break
        time.sleep(0.1)
    else:
        raise RuntimeError("%s cluster of %d did not form" % (kind, n))
    time.sleep(1)
    return ps, procs


def bench(port, test, args, cluster):
    argv = [
        REDIS_BENCHMARK,
        "-p",
        str(port),
        "-t",
        test,
        "-n",
        str(args.n),
        "-c",
        str(args.c),
        "-P",
        str(args.P),
        "-r",
        "100000",
        "--threads",
        str(args.threads),
        "-q",
    ]
    if cluster:
        argv.append("--cluster")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout
    m = re.findall(r"([\d.]+) requests per second", out)
    return float(m[-1]) if m else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-N", default="1,2,4")
    ap.add_argument("-t", default="set,get")
    ap.add_argument("-n", type=int, default=1000000)
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("-P", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-r", "--rounds", type=int, default=3)
    args = ap.parse_args()
    if not (REDIS_SERVER and REDIS_CLI and REDIS_BENCHMARK):
        sys.exit(
            "needs redis-server, redis-cli and redis-benchmark (apt-get install redis-server redis-tools)"
        )
    sizes = [int(x) for x in args.N.split(",")]
    tests = args.t.split(",")
    tmp = tempfile.mkdtemp(prefix="vermilion-cluster-bench-")
    results = {}  # (label, test) -> [rps]
    setups = []
    try:
        p = ports(1)[0]
        setups.append(("1 redis-server", [p], [start("redis", p, tmp, False)], False))
        for n in sizes:
            for kind, label in (
                ("redis", "redis-server cluster"),
                ("vermilion", "Vermilion cluster"),
            ):
                ps, procs = make_cluster(kind, n, tmp)
                # (redis-benchmark --cluster wants two nodes or more; a one-node
                # cluster serves every slot itself, so plain mode sends no redirects)
                setups.append(("%s N=%d" % (label, n), ps, procs, n > 1))
        for r in range(args.rounds):
            order = setups[r % len(setups) :] + setups[: r % len(setups)]
            for label, ps, _, cluster in order:
                for test in tests:
                    for q in ps:
                        cli(q, "FLUSHALL")
                    results.setdefault((label, test), []).append(bench(ps[0], test, args, cluster))
        base = {t: statistics.median(results[("1 redis-server", t)]) for t in tests}
        print(
            "redis-benchmark -P %d -c %d -n %d --threads %d, median of %d rounds (req/s)"
            % (args.P, args.c, args.n, args.threads, args.rounds)
        )
        head = "| setup | " + " | ".join("%s | vs 1 redis" % t.upper() for t in tests) + " |"
        print(head)
        print("|" + "---|" * (1 + 2 * len(tests)))
        for label, *_ in setups:
            cells = []
            for t in tests:
                v = statistics.median(results[(label, t)])
                cells.append("{:,.0f} | {:.2f}x".format(v, v / base[t]))
            print("| %s | %s |" % (label, " | ".join(cells)))
        print("(%d cores on this machine)" % os.cpu_count())
    finally:
        for _, _, procs, _ in setups:
            for pr in procs:
                pr.terminate()
        for _, _, procs, _ in setups:
            for pr in procs:
                try:
                    pr.wait(10)
                except subprocess.TimeoutExpired:
                    pr.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
