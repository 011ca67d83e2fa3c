"""Two (or more) Vermilion trees side by side under redis-benchmark: CPU per request.

    python tools/ab_trees.py /tmp/wt-old,/work/main [-t get,set] [-P 16] [-n 400000] [-r 3]

bench/bench.py compares Vermilion with redis-server and the minimal server; this
compares Vermilion with itself, before and after a change, over real sockets.
In-process tools (tools/hotpath_opcodes.py) feed the dispatcher directly and
cannot see what happens around it: when replies are written, how the kernel and
the benchmark client interleave with the server. That is where the gain of
writing replies at the end of the loop step showed (user + system time per
request, from /proc/PID/stat).

Each tree is started with ``python -m vermilion`` from its own directory (so a
``git worktree`` of an older commit runs its own code; copy the compiled parser
into it, or it runs without). Rounds interleave the trees, reversing their order
every other round; each invocation gets a fresh FLUSHALL (and, for get, the
key that redis-benchmark's GET reads). Printed per test and tree: median user +
system microseconds per request and median requests/s.
"""

import argparse
import os
import socket
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def start(tree, port):
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vermilion",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("%s did not start on port %d" % (tree, port))


def cpu(pid):
    """(user, system) seconds of process ``pid``."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(port, test):
    """FLUSHALL, the key redis-benchmark's GET reads, and a pause for freeing."""
    cli = ["redis-cli", "-p", str(port)]
    subprocess.run(cli + ["flushall"], stdout=subprocess.DEVNULL, check=True)
    if test == "get":
        subprocess.run(cli + ["set", "key:__rand_int__", "xxx"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)


def bench(port, test, n, pipeline):
    argv = ["redis-benchmark", "-p", str(port), "-t", test, "-n", str(n), "-P", str(pipeline)]
    subprocess.run(argv + ["-c", "50", "-q"], capture_output=True, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trees", help="comma-separated directories, each holding a vermilion/")
    ap.add_argument("-t", default="ping_mbulk,get,set,incr,lpush", help="redis-benchmark tests")
    ap.add_argument("-P", type=int, default=16, help="pipeline depth")
    ap.add_argument("-n", type=int, default=400000, help="requests per invocation")
    ap.add_argument("-r", type=int, default=3, help="rounds")
    a = ap.parse_args()
    trees = a.trees.split(",")
    tests = a.t.split(",")
    ports = [free_port() for _ in trees]
    procs = [start(t, p) for t, p in zip(trees, ports)]
    runs = {}
    try:
        for r in range(a.r):
            for test in tests:
                order = list(range(len(trees)))
                if r % 2:
                    order.reverse()
                for i in order:
                    prepare(ports[i], test)
                    u0, s0 = cpu(procs[i].pid)
                    t0 = time.time()
                    bench(ports[i], test, a.n, a.P)
                    wall = time.time() - t0
                    u1, s1 = cpu(procs[i].pid)
                    per = 1e6 / a.n
                    runs.setdefault((test, i), []).append(
                        ((u1 - u0) * per, (s1 - s0) * per, a.n / wall)
                    )
    finally:
        for p in procs:
            p.kill()
    print(
        "-P %d, -n %d, %d rounds: user + sys us per request (median), requests/s" % (a.P, a.n, a.r)
    )
    for test in tests:
        cells = []
        for i, tree in enumerate(trees):
            rs = sorted(runs[(test, i)], key=lambda x: x[0] + x[1])
            u, s, _ = rs[len(rs) // 2]
            rps = sorted(x[2] for x in rs)[len(rs) // 2]
            cells.append(
                "%s %.2f+%.2f=%.2f %.0f/s" % (os.path.basename(tree.rstrip("/")), u, s, u + s, rps)
            )
        print("%-12s %s" % (test, " | ".join(cells)))


if __name__ == "__main__":
    main()
