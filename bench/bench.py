#!/usr/bin/env python3
"""Vermilion vs redis-server, side by side, with redis-benchmark.

    python bench/bench.py [-t set,get,incr] [-n 200000] [-c 50] [-P 1,16] [-r 3] [--mem]

Starts a real redis-server and Vermilion on free loopback ports (same settings: no
persistence), then for each pipeline depth runs each test against both servers,
interleaved and alternating which goes first, for ``-r`` rounds, and prints the
median requests/s of each and the ratio Vermilion / Redis. ``--mem`` also loads
``--keys`` small string keys into each (redis-benchmark SET with -r) and compares
resident memory per key.

On a small shared machine absolute numbers drift; the ratios measured in one run
are what to quote. For CPU-per-request figures and client saturation use
../shared/bench/compare.sh against the two ports this script prints with --keep.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("server on port %d exited early" % port)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("server on port %d did not start" % port)


def start_servers(tmp):
    rport, vport = free_port(), free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
    verm = subprocess.Popen(
        [sys.executable, "-m", "vermilion", "--port", str(vport), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL, cwd=ROOT)
    wait_port(rport, redis)
    wait_port(vport, verm)
    return (rport, redis), (vport, verm)


def bench_once(port, test, n, c, p, extra=()):
    cmd = ["redis-benchmark", "-p", str(port), "-n", str(n), "-c", str(c), "-P", str(p),
           "-t", test, "--csv", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        parts = [x.strip('"') for x in line.split(",")]
        if len(parts) > 1 and parts[0].upper().startswith(test.upper().split("_")[0]):
            try:
                return float(parts[1])
            except ValueError:
                pass
    return float("nan")


def flush(port):
    subprocess.run(["redis-cli", "-p", str(port), "FLUSHALL"], capture_output=True)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def mem_per_key(port, pid, keys):
    flush(port)
    time.sleep(0.5)
    before = rss_kb(pid)
    subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(keys * 3),
                    "-r", str(keys), "-P", "32", "-q"], capture_output=True)
    dbsize = int(subprocess.run(["redis-cli", "-p", str(port), "DBSIZE"],
                                capture_output=True, text=True).stdout.strip() or 0)
    after = rss_kb(pid)
    return (after - before) * 1024.0 / max(1, dbsize), dbsize


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-t", default="set,get,incr")
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("-P", default="1,16")
    ap.add_argument("-r", type=int, default=3, help="rounds")
    ap.add_argument("--mem", action="store_true")
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--keep", action="store_true", help="leave servers running")
    a = ap.parse_args()
    for tool in ("redis-server", "redis-benchmark", "redis-cli"):
        if shutil.which(tool) is None:
            sys.exit("%s not found: apt-get install redis-server redis-tools" % tool)
    tmp = tempfile.mkdtemp(prefix="vermilion-bench-")
    (rport, rproc), (vport, vproc) = start_servers(tmp)
    print("redis-server on %d, vermilion on %d" % (rport, vport))
    try:
        tests = a.t.split(",")
        print("| test | -P | redis rps | vermilion rps | ratio |")
        print("|---|---|---|---|---|")
        for p in [int(x) for x in a.P.split(",")]:
            for test in tests:
                rs, vs = [], []
                for rnd in range(a.r):
                    order = [(rport, rs), (vport, vs)]
                    if rnd % 2:
                        order.reverse()
                    for port, acc in order:
                        acc.append(bench_once(port, test, a.n, a.c, p))
                r, v = statistics.median(rs), statistics.median(vs)
                print("| %s | %d | %.0f | %.0f | %.2fx |" % (test, p, r, v, v / r if r else 0))
                sys.stdout.flush()
        if a.mem:
            rm, rn = mem_per_key(rport, rproc.pid, a.keys)
            vm, vn = mem_per_key(vport, vproc.pid, a.keys)
            print("\nmemory per key (%d / %d keys): redis %.1f B, vermilion %.1f B, ratio %.2fx"
                  % (rn, vn, rm, vm, vm / rm if rm else 0))
    finally:
        if not a.keep:
            for proc in (rproc, vproc):
                proc.terminate()
                proc.wait(10)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
