#!/usr/bin/env python3
"""What a newcomer pays to start a default server: first PING and idle memory.

    python tools/startup_cost.py [-n RUNS] [--no-redis] [--idle SECONDS] [--tree DIR]...

Launches ``python -m vermilion --port P --save "" --appendonly no`` RUNS times
(and redis-server the same way, interleaved, in the same run: the machine is
shared and noisy, so only figures taken side by side compare), and for each
launch measures the time from the spawn to the first +PONG (the client retries
connecting every millisecond) and the CPU time the server had used by then
(steadier than the wall clock when the machine is loaded), then, after SECONDS of idle, the process's
resident set (VmRSS) and INFO memory's used_memory. Prints the median (and the
range) of each. Each tree's package is byte-compiled first (compileall), as
PYTHONDONTWRITEBYTECODE may be set: a stale .pyc would have every launch compile
that module again. ``--tree DIR`` measures another checkout too (an older commit
in a ``git worktree``), interleaved with this one: before/after in one run.
"""

import argparse
import compileall
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The floor under any Python server: the interpreter, asyncio and uvloop (when
# installed, as the server uses it), answering +PONG to anything.
FLOOR = """
import asyncio, socket, sys
try:
    import uvloop
    loop = uvloop.new_event_loop()
except ImportError:
    loop = asyncio.new_event_loop()

class P(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t

    def data_received(self, d):
        self.t.write(b"+PONG\\r\\n")

port = int(sys.argv[sys.argv.index("--port") + 1])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
loop.run_until_complete(loop.create_server(P, sock=s))
loop.run_forever()
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    """The process's CPU seconds so far (steadier than the wall clock on a loaded
    machine: it leaves out the time spent waiting for a core): schedstat's
    nanoseconds where the kernel has them, else stat's clock ticks."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def command(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
        if data[:1] == b"$":
            head, _, rest = data.partition(b"\r\n")
            if _ and len(rest) >= int(head[1:]) + 2:
                return rest[: int(head[1:])]
        elif data.endswith(b"\r\n"):
            return data


def one_launch(argv, idle, env=None):
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv + ["--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd="/tmp",
        env=env,
    )
    sock = None
    try:
        deadline = t0 + 20
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                if command(sock, "PING") == b"+PONG\r\n":
                    break
                sock.close()
            except (ConnectionError, OSError):
                if proc.poll() is not None or time.perf_counter() > deadline:
                    proc.kill()
                    err = proc.communicate()[1].decode(errors="replace")
                    raise RuntimeError("%s did not answer PING: %s" % (argv[0], err[-2000:]))
                time.sleep(0.001)
        first_ping = time.perf_counter() - t0
        cpu = cpu_s(proc.pid)
        time.sleep(idle)
        rss = rss_kb(proc.pid)
        info = command(sock, "INFO", "memory").decode()
        used = int(info.split("used_memory:")[1].split("\r\n")[0]) if "used_memory:" in info else 0
        sock.close()
        return first_ping, rss, used, cpu
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def summary(name, rows):
    pings = [r[0] * 1000 for r in rows]
    rss = [r[1] / 1024 for r in rows]
    used = [r[2] / 1024 / 1024 for r in rows]
    cpu = [r[3] * 1000 for r in rows]
    print(
        "%-14s first PING %6.1f ms (%.1f..%.1f), CPU %4.0f ms   RSS %5.1f MB (%.1f..%.1f)   "
        "used_memory %5.2f MB"
        % (
            name,
            statistics.median(pings),
            min(pings),
            max(pings),
            statistics.median(cpu),
            statistics.median(rss),
            min(rss),
            max(rss),
            statistics.median(used),
        )
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=7)
    ap.add_argument("--idle", type=float, default=1.0)
    ap.add_argument("--no-redis", action="store_true")
    ap.add_argument("--tree", action="append", default=[], help="another checkout to measure")
    ap.add_argument("--floor", action="store_true", help="also a bare asyncio PING server")
    args = ap.parse_args()
    servers = []
    for tree in [ROOT] + [os.path.abspath(t) for t in args.tree]:
        compileall.compile_dir(os.path.join(tree, "vermilion"), quiet=1)
        env = dict(os.environ, PYTHONPATH=tree)
        name = "vermilion" if tree == ROOT else os.path.basename(tree)
        servers.append((name, [sys.executable, "-m", "vermilion"], env))
    if args.floor:
        servers.append(("python floor", [sys.executable, "-c", FLOOR], None))
    if not args.no_redis:
        servers.append(("redis-server", ["redis-server"], None))
    rows = {name: [] for name, _, _ in servers}
    for _ in range(args.runs):
        for name, argv, env in servers:
            rows[name].append(one_launch(argv, args.idle, env))
    print("median of %d launches, %.1f s idle" % (args.runs, args.idle))
    for name, _, _ in servers:
        summary(name, rows[name])


if __name__ == "__main__":
    main()
