#!/usr/bin/env python3
"""redis-server, Vermilion and the reference minimal Python server, side by side.

    python bench/bench.py [-t TESTS] [-n 200000,50000] [-c 50] [-P 16,1] [-r 3]
                          [--json FILE] [--mem [--keys N[,N...]]] [--mem-types [--type-keys N]]
                          [--lua-call] [--keep]
                          [--vermilion-dir DIR] [--baseline DIR]

Starts three servers on free loopback ports, all without persistence:
  * redis-server (``--save "" --appendonly no``),
  * Vermilion (``python -m vermilion``, from the repository root),
  * ../shared/bench/reference_minimal_server.py (uvloop + hiredis, a handful of
    commands: the ceiling of a Python server). If the file is absent its columns
    are left out and a note is printed.

Tests: redis-benchmark's default suite (ping_inline ... mset) plus two commands run
through redis-benchmark's command mode, ``XADD mystream * field value`` and
``EVALSHA <sha> 1 key:__rand_int__`` of ``return redis.call('get', KEYS[1])`` (loaded
into each server with SCRIPT LOAD). Every test is its own redis-benchmark invocation.
Before each one the server is FLUSHALLed, left to go idle, and given the data that
redis-benchmark's own suite would have created for it (untimed):
  * get, evalsha: key:__rand_int__ = "xxx" (the suite's SET ran before);
  * lpop, rpop:   mylist holds n + c*P elements, so every pop pops something (in the
    suite, LPUSH n + RPUSH n run before LPOP n and RPOP n);
  * lrange_N:     mylist holds n elements "xxx" -- what ``-t lrange_N`` would build
    with its own untimed "LPUSH (needed to benchmark LRANGE)" of n requests; the test
    itself runs as ``LRANGE mylist 0 N-1`` in command mode, which is the suite's
    command, so the server CPU measured belongs to LRANGE alone;
  * spop, zpopmin: myset / myzset hold n + c*P members (in the suite they hold one
    member, so nearly every pop there answers nil; here every pop removes one).
A command a server does not have (the probe before the run gets an error reply) is
shown as "-".

Rounds are interleaved: in each round every test runs against every server, and the
order of the servers rotates from round to round. Tables show the median over rounds.
Around every invocation the server's CPU time (utime + stime of /proc/PID/stat) is
read; "CPU us/req" is that delta divided by the requests. At -P 1 redis-benchmark
itself saturates a core (see "client CPU" below each table), so requests/s hardly
tell the servers apart there: compare CPU per request.

``--baseline DIR`` also runs Vermilion from another tree (say a ``git worktree`` of
an older commit, with the compiled parser copied in) as a fourth server, and adds a
vermilion/baseline column: a change measured over real sockets, where the kernel's
share shows, which in-process tools (tools/hotpath_opcodes.py) cannot see. The
system part of the CPU time is in ``--json`` (``sys_us``).
"""

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MINIMAL = os.path.normpath(
    os.path.join(ROOT, "..", "shared", "bench", "reference_minimal_server.py")
)

SUITE = [
    "ping_inline",
    "ping_mbulk",
    "set",
    "get",
    "incr",
    "lpush",
    "rpush",
    "lpop",
    "rpop",
    "sadd",
    "hset",
    "spop",
    "zadd",
    "zpopmin",
    "lrange_100",
    "lrange_300",
    "lrange_500",
    "lrange_600",
    "mset",
]
CUSTOM = ["xadd", "evalsha"]
ALL_TESTS = SUITE + CUSTOM
ALIASES = {
    "ping": ["ping_inline", "ping_mbulk"],
    "lrange": ["lrange_100", "lrange_300", "lrange_500", "lrange_600"],
}
SCRIPT = "return redis.call('get', KEYS[1])"
CLK = os.sysconf("SC_CLK_TCK")
CHUNK = 5000  # elements per RPUSH/SADD/ZADD command when preparing data


# ------------------------------------------------------------------ a tiny RESP client
class Conn:
    def __init__(self, port, timeout=60):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, *cmds):
        out = []
        for args in cmds:
            args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
            out.append(b"*%d\r\n" % len(args))
            out += [b"$%d\r\n%s\r\n" % (len(a), a) for a in args]
        self.sock.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """One reply: bytes / int / list / None; an error reply is an Exception instance."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return Exception(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("connection closed")
                self.buf += data
            val, self.buf = self.buf[:n], self.buf[n + 2 :]
            return val
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("bad reply %r" % line[:80])

    def call(self, *cmds):
        """Send commands pipelined; return their replies."""
        self.send(*cmds)
        return [self.reply() for _ in cmds]


def call1(port, *args):
    c = Conn(port)
    try:
        return c.call(args)[0]
    finally:
        c.close()


# ------------------------------------------------------------------ servers
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(name, port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("%s on port %d exited early" % (name, port))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit("%s on port %d did not start" % (name, port))


def start_servers(tmp, vdir, baseline=None, minimal=True):
    common = "--bind 127.0.0.1 --appendonly no --dir".split() + [tmp]

    def opts(p):  # (the same for redis-server and Vermilion: no persistence)
        return ["--port", str(p), "--save", ""] + common

    def vermilion(p):
        return [sys.executable, "-m", "vermilion"] + opts(p)

    specs = [("redis", lambda p: ["redis-server"] + opts(p)), ("vermilion", vermilion)]
    cwd = {"vermilion": vdir}
    if baseline is not None:
        specs.append(("baseline", vermilion))
        cwd["baseline"] = baseline
    if minimal and os.path.exists(MINIMAL):
        specs.append(("minimal", lambda p: [sys.executable, MINIMAL, "--port", str(p)]))
    elif minimal:
        print("note: %s not found: the minimal-server columns are left out" % MINIMAL)
    targets = []
    for name, argv in specs:
        port = free_port()
        proc = subprocess.Popen(argv(port), stdout=subprocess.DEVNULL, cwd=cwd.get(name, ROOT))
        targets.append({"name": name, "port": port, "proc": proc, "pid": proc.pid})
    for t in targets:
        wait_port(t["name"], t["port"], t["proc"])
    return targets


def stop_servers(targets):
    for t in targets:
        t["proc"].terminate()
    for t in targets:
        try:
            t["proc"].wait(10)
        except subprocess.TimeoutExpired:
            t["proc"].kill()


def proc_times(pid):
    """(utime, stime) of a process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK, int(fields[12]) / CLK


def proc_cpu(pid):
    """utime + stime of a process (all its threads), in seconds."""
    return sum(proc_times(pid))


def settle(pid, timeout=3.0):
    """Wait until the server burns no CPU (e.g. a big FLUSHALL freed in steps, GC)."""
    deadline = time.time() + timeout
    c0 = proc_cpu(pid)
    while time.time() < deadline:
        time.sleep(0.05)
        c1 = proc_cpu(pid)
        if c1 - c0 < 1.5 / CLK:
            return
        c0 = c1


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ------------------------------------------------------------------ tests
def test_argv(test, sha):
    """The command a test sends (redis-benchmark's own, for the default suite)."""
    if test.startswith("lrange_"):
        return ["LRANGE", "mylist", "0", str(int(test.split("_")[1]) - 1)]
    return {
        "ping_inline": ["PING"],
        "ping_mbulk": ["PING"],
        "set": ["SET", "key:__rand_int__", "xxx"],
        "get": ["GET", "key:__rand_int__"],
        "incr": ["INCR", "counter:__rand_int__"],
        "lpush": ["LPUSH", "mylist", "xxx"],
        "rpush": ["RPUSH", "mylist", "xxx"],
        "lpop": ["LPOP", "mylist"],
        "rpop": ["RPOP", "mylist"],
        "sadd": ["SADD", "myset", "element:__rand_int__"],
        "hset": ["HSET", "myhash", "element:__rand_int__", "xxx"],
        "spop": ["SPOP", "myset"],
        "zadd": ["ZADD", "myzset", "0", "element:__rand_int__"],
        "zpopmin": ["ZPOPMIN", "myzset"],
        "mset": ["MSET"] + ["key:__rand_int__", "xxx"] * 10,
        "xadd": ["XADD", "mystream", "*", "field", "value"],
        "evalsha": ["EVALSHA", sha or "-", "1", "key:__rand_int__"],
    }[test]


def prepare(port, test, count):
    """FLUSHALL, then the data the test needs (see the module docstring). Returns the
    SHA1 of the script for evalsha. Raises on an error reply."""
    conn = Conn(port)
    try:
        cmds = [["FLUSHALL"]]
        if test in ("get", "evalsha"):
            cmds.append(["SET", "key:__rand_int__", "xxx"])
        elif test in ("lpop", "rpop") or test.startswith("lrange_"):
            cmds += [
                ["RPUSH", "mylist"] + ["xxx"] * min(CHUNK, count - i)
                for i in range(0, count, CHUNK)
            ]
        elif test == "spop":
            cmds += [
                ["SADD", "myset"] + ["element:%d" % j for j in range(i, min(i + CHUNK, count))]
                for i in range(0, count, CHUNK)
            ]
        elif test == "zpopmin":
            cmds += [
                ["ZADD", "myzset"]
                + [x for j in range(i, min(i + CHUNK, count)) for x in (str(j), "element:%d" % j)]
                for i in range(0, count, CHUNK)
            ]
        sha = None
        if test == "evalsha":
            cmds.append(["SCRIPT", "LOAD", SCRIPT])
        for r in conn.call(*cmds):
            if isinstance(r, Exception):
                raise r
        if test == "evalsha":
            sha = r.decode()
        return sha
    finally:
        conn.close()


def probe(port, test):
    """None if the server runs the test's command, else the error it answered."""
    try:
        sha = prepare(port, test, 10)
        r = call1(port, *test_argv(test, sha))
        call1(port, "FLUSHALL")
    except Exception as e:
        return str(e)
    return str(r) if isinstance(r, Exception) else None


def bench_once(t, test, n, c, p):
    """One redis-benchmark invocation; a dict of rps, server CPU us/req, client CPU %."""
    count = n + c * p
    if test.startswith("lrange_"):
        count = max(n, 600)
    sha = prepare(t["port"], test, count)
    settle(t["pid"])
    cmd = [
        "redis-benchmark",
        "-h",
        "127.0.0.1",
        "-p",
        str(t["port"]),
        "-n",
        str(n),
        "-c",
        str(c),
        "-P",
        str(p),
        "--csv",
    ]
    if test in SUITE and not test.startswith("lrange_"):
        cmd += ["-t", test]
    else:
        cmd += test_argv(test, sha)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    u0, s0 = proc_times(t["pid"])
    w0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        stdout, err = out.stdout, out.stderr
    except subprocess.TimeoutExpired:
        stdout, err = "", "timeout"
    wall = time.perf_counter() - w0
    u1, s1 = proc_times(t["pid"])
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rps = None
    for line in stdout.splitlines():
        f = [x.strip('"') for x in line.split('","')]
        if len(f) < 2 or f[0] in ("test", '"test') or "needed to benchmark" in f[0]:
            continue
        try:
            rps = float(f[1])
            break
        except ValueError:
            pass
    if rps is None:
        sys.stderr.write("!! %s %s -P %d: no result (%s)\n" % (t["name"], test, p, err[-200:]))
    cli = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return {
        "rps": rps,
        "cpu_us": (u1 - u0 + s1 - s0) / n * 1e6,
        "sys_us": (s1 - s0) / n * 1e6,
        "client_cpu_pct": cli / wall * 100,
        "wall_s": wall,
    }


def rss_per_key(port, pid, load):
    """Resident memory per key that ``load()`` adds to an emptied server."""
    call1(port, "FLUSHALL")
    settle(pid)
    time.sleep(0.5)
    before = rss_kb(pid)
    load()
    settle(pid)
    dbsize = call1(port, "DBSIZE")
    after = rss_kb(pid)
    return (after - before) * 1024.0 / max(1, dbsize), dbsize


def mem_per_key(port, pid, keys):
    """--mem: redis-benchmark's SET of small random keys (about 0.95 ``keys`` of them)."""
    argv = ["redis-benchmark", "-p", str(port), "-t", "set", "-q"]
    argv += ["-n", str(keys * 3), "-r", str(keys), "-P", "32"]
    return rss_per_key(port, pid, lambda: subprocess.run(argv, capture_output=True))


# Small collections, the shapes an application keeps by the million (an object as a
# hash, a few tags, a short queue, a small leaderboard), key i of each, and the same
# kinds with 50 elements (still Redis's compact encodings: listpack, or a hashtable
# for the set of strings): what --mem-types loads into fresh servers to compare
# memory per key. Each shape is (share of --type-keys, command for key i).
def _fifty(cmd, i, per):
    return (cmd, b"%s:%d" % (cmd.lower(), i)) + tuple(x for j in range(50) for x in per(j))


SHAPES = {
    "hash3": (
        1,
        lambda i: (
            b"HSET",
            b"user:%d" % i,
            b"name",
            b"alice%d" % i,
            b"age",
            b"%d" % (i % 100),
            b"city",
            b"paris",
        ),
    ),
    "set5": (1, lambda i: (b"SADD", b"tags:%d" % i, b"a", b"b", b"c", b"d", b"e%d" % i)),
    "list5": (1, lambda i: (b"RPUSH", b"q:%d" % i, b"a", b"b", b"c", b"d", b"e%d" % i)),
    "zset5": (
        1,
        lambda i: (
            b"ZADD",
            b"z:%d" % i,
            b"1",
            b"a",
            b"2",
            b"b",
            b"3",
            b"c",
            b"4",
            b"d",
            b"5",
            b"e%d" % i,
        ),
    ),
    "hash50": (10, lambda i: _fifty(b"HSET", i, lambda j: (b"field%d" % j, b"v%d" % j))),
    "set50": (10, lambda i: _fifty(b"SADD", i, lambda j: (b"m%d" % j,))),
    "list50": (10, lambda i: _fifty(b"RPUSH", i, lambda j: (b"m%d" % j,))),
    "zset50": (10, lambda i: _fifty(b"ZADD", i, lambda j: (b"%d" % j, b"m%d" % j))),
}


def _shown(args):
    """A command as the table shows it (long ones cut, with their length)."""
    if len(args) <= 12:
        return b" ".join(args).decode()
    return "%s ... (%d arguments)" % (b" ".join(args[:8]).decode(), len(args))


def mem_per_shape_key(port, pid, make, keys):
    """--mem-types: ``keys`` keys, key i written by command ``make(i)``."""

    def load():
        c = Conn(port)
        try:
            for lo in range(0, keys, 1000):
                for r in c.call(*[make(i) for i in range(lo, min(lo + 1000, keys))]):
                    if isinstance(r, Exception):
                        raise r
        finally:
            c.close()

    return rss_per_key(port, pid, load)


# The script (the ``limits`` library's moving-window limiter): a 999,999
# element table pushed with 200 ``redis.call('lpush', key, <5000 args>)``. LUA_BASE
# builds and unpacks the same slices without calling the server, so the difference
# is what the 200 redis.calls cost, to compare with the same 200 LPUSHes sent over
# the wire (server CPU both).
LUA_CALLS = (
    "local e={} for i=1,999999 do e[i]=ARGV[1] end "
    "for i=1,#e,5000 do redis.call('lpush',KEYS[1],unpack(e,i,math.min(i+4999,#e))) end "
    "return 1"
)
LUA_BASE = (
    "local e={} for i=1,999999 do e[i]=ARGV[1] end "
    "for i=1,#e,5000 do local x={unpack(e,i,math.min(i+4999,#e))} end return 1"
)


def lua_call_cost(port, pid, rounds):
    """Server CPU seconds (min over rounds): (200 LPUSH of 5000 args over the wire,
    the script, the script without its redis.calls)."""
    conn = Conn(port, timeout=300)
    try:
        args = [b"lpush", b"k"] + [b"1.5"] * 5000
        wire, script, base = [], [], []
        for _ in range(rounds):
            conn.call((b"DEL", b"k"))
            settle(pid)
            c0 = proc_cpu(pid)
            conn.call(*[args] * 200)
            wire.append(proc_cpu(pid) - c0)
            for src, out in ((LUA_CALLS, script), (LUA_BASE, base)):
                conn.call((b"DEL", b"k"))
                settle(pid)
                c0 = proc_cpu(pid)
                r = conn.call((b"EVAL", src, b"1", b"k", b"1.5"))[0]
                if isinstance(r, Exception):
                    raise RuntimeError("EVAL failed: %s" % r)
                out.append(proc_cpu(pid) - c0)
        conn.call((b"DEL", b"k"))
        return min(wire), min(script), min(base)
    finally:
        conn.close()


# ------------------------------------------------------------------ output
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=",.0f"):
    return "-" if x is None else format(x, spec)


def ratio(a, b):
    return "-" if a is None or not b else "%.2fx" % (a / b)


def print_tables(targets, tests, raw, p, n):
    names = [t["name"] for t in targets]
    has_min = "minimal" in names
    has_base = "baseline" in names

    def cell(name, test, key):
        rows = [
            r
            for r in raw
            if r["target"] == name and r["test"] == test and r["P"] == p and r["rps"] is not None
        ]
        if key == "cpu_us":  # all rounds pooled: /proc counts in clock ticks (10 ms)
            return (
                sum(r["cpu_us"] * r["n"] for r in rows) / sum(r["n"] for r in rows)
                if rows
                else None
            )
        return med([r[key] for r in rows])

    for key, what, spec in (("rps", "rps", ",.0f"), ("cpu_us", "CPU us/req", ".2f")):
        print(
            "\n-P %d, -n %d: %s\n"
            % (
                p,
                n,
                "requests/s, median over rounds"
                if key == "rps"
                else "server CPU (user+sys) microseconds per request, all rounds pooled",
            )
        )
        hdr = ["test"] + ["%s %s" % (x, what) for x in names] + ["vermilion/redis"]
        if has_min:
            hdr.append("vermilion/minimal")
        if has_base:
            hdr.append("vermilion/baseline")
        print("| " + " | ".join(hdr) + " |")
        print("|" + "---|" * len(hdr))
        for test in tests:
            vals = {x: cell(x, test, key) for x in names}
            row = [test.upper()] + [fmt(vals[x], spec) for x in names]
            row.append(ratio(vals["vermilion"], vals["redis"]))
            if has_min:
                row.append(ratio(vals["vermilion"], vals["minimal"]))
            if has_base:
                row.append(ratio(vals["vermilion"], vals["baseline"]))
            print("| " + " | ".join(row) + " |")
    cli = [
        "%s %s%%"
        % (
            x,
            fmt(med([r["client_cpu_pct"] for r in raw if r["target"] == x and r["P"] == p]), ".0f"),
        )
        for x in names
    ]
    print(
        "\nredis-benchmark client CPU (median; ~100%% = the client is the bottleneck): %s"
        % ", ".join(cli)
    )
    sys.stdout.flush()


def parse_tests(spec):
    tests = []
    for x in spec.lower().split(","):
        x = x.strip()
        for t in ALIASES.get(x, [x]):
            if t not in ALL_TESTS:
                sys.exit("unknown test %r; known: %s" % (t, ",".join(ALL_TESTS)))
            if t not in tests:
                tests.append(t)
    return sorted(tests, key=ALL_TESTS.index)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "-t",
        default=",".join(ALL_TESTS),
        help="comma-separated tests (also 'ping', 'lrange'); default: all of "
        + ",".join(ALL_TESTS),
    )
    ap.add_argument(
        "-n",
        default=None,
        help="requests per invocation: one value, or one per -P depth "
        "(default 200000 for -P >1, 50000 for -P 1)",
    )
    ap.add_argument("-c", type=int, default=50, help="clients (default 50)")
    ap.add_argument("-P", default="16,1", help="pipeline depths (default 16,1)")
    ap.add_argument("-r", type=int, default=3, help="rounds (default 3)")
    ap.add_argument("--json", metavar="FILE", help="write every measurement here")
    ap.add_argument(
        "--mem",
        action="store_true",
        help="also compare resident memory per key, vermilion vs redis",
    )
    ap.add_argument(
        "--keys",
        default="1000000",
        help="keys for --mem: one count or several, comma-separated (default 1000000)",
    )
    ap.add_argument(
        "--mem-types",
        action="store_true",
        help="also compare memory per key of small collections (%s): --type-keys keys "
        "of the small shapes, a tenth of that of the 50-element ones" % ", ".join(SHAPES),
    )
    ap.add_argument(
        "--type-keys",
        type=int,
        default=200000,
        help="keys of the small shapes for --mem-types (default 200000)",
    )
    ap.add_argument(
        "--lua-call",
        action="store_true",
        help="also compare what redis.call costs against the same command over the wire",
    )
    ap.add_argument("--keep", action="store_true", help="leave the servers running")
    ap.add_argument(
        "--vermilion-dir",
        default=ROOT,
        metavar="DIR",
        help="run Vermilion from this tree (default: this repository), e.g. an "
        "export of another commit",
    )
    ap.add_argument(
        "--baseline",
        metavar="DIR",
        help="also run Vermilion from this tree and compare with it (see above)",
    )
    a = ap.parse_args()
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            sys.exit("%s not found: apt-get install redis-server redis-tools" % tool)
    tests = parse_tests(a.t)
    depths = [int(x) for x in a.P.split(",")]
    if a.n is None:
        ns = [50000 if p == 1 else 200000 for p in depths]
    else:
        ns = [int(x) for x in a.n.split(",")]
        if len(ns) == 1:
            ns *= len(depths)
        if len(ns) != len(depths):
            sys.exit("-n takes one value or one per -P depth")

    tmp = tempfile.mkdtemp(prefix="vermilion-bench-")
    baseline = os.path.abspath(a.baseline) if a.baseline else None
    targets = start_servers(tmp, os.path.abspath(a.vermilion_dir), baseline)
    print(
        "servers: "
        + ", ".join("%s port %d pid %d" % (t["name"], t["port"], t["pid"]) for t in targets)
    )
    print(
        "redis-benchmark -c %d, rounds %d, loadavg %s"
        % (a.c, a.r, " ".join(open("/proc/loadavg").read().split()[:3]))
    )
    raw = []
    t_start = time.time()
    try:
        unsupported = {}
        for t in targets:
            for test in tests:
                err = probe(t["port"], test)
                if err is not None:
                    unsupported[(t["name"], test)] = err
                    print("note: %s cannot run %s (%s): shown as -" % (t["name"], test, err[:80]))
        sys.stdout.flush()
        for p, n in zip(depths, ns):
            for rnd in range(a.r):
                order = targets[rnd % len(targets) :] + targets[: rnd % len(targets)]
                for test in tests:
                    for t in order:
                        if (t["name"], test) in unsupported:
                            continue
                        row = bench_once(t, test, n, a.c, p)
                        row.update(target=t["name"], test=test, P=p, n=n, round=rnd)
                        raw.append(row)
                sys.stderr.write(
                    "  -P %d round %d/%d done (%.0fs)\n" % (p, rnd + 1, a.r, time.time() - t_start)
                )
            print_tables(targets, tests, raw, p, n)
        print(
            "\nelapsed %.0fs, loadavg at end %s"
            % (time.time() - t_start, " ".join(open("/proc/loadavg").read().split()[:3]))
        )
        mem = None
        if a.mem:
            mem = []
            for keys in [int(x) for x in a.keys.split(",")]:
                # fresh servers for each count: memory a server freed but kept (its
                # allocator's arenas) would hide part of the next load's cost
                fresh = start_servers(tmp, os.path.abspath(a.vermilion_dir), minimal=False)
                try:
                    byname = {t["name"]: t for t in fresh}
                    r, v = byname["redis"], byname["vermilion"]
                    rm, rn = mem_per_key(r["port"], r["pid"], keys)
                    vm, vn = mem_per_key(v["port"], v["pid"], keys)
                finally:
                    stop_servers(fresh)
                mem.append({"redis": [rm, rn], "vermilion": [vm, vn]})
                print(
                    "\nmemory per key (%d / %d keys): redis %.1f B, vermilion %.1f B, ratio %.2fx"
                    % (rn, vn, rm, vm, vm / rm if rm else 0)
                )
        if a.mem_types:
            print(
                "\nmemory per key of small collections (fresh servers)\n\n"
                "| shape | command | keys | redis B/key | vermilion B/key | vermilion/redis |\n"
                "|---|---|---|---|---|---|"
            )
            for shape, (share, make) in SHAPES.items():
                keys = a.type_keys // share
                fresh = start_servers(tmp, os.path.abspath(a.vermilion_dir), minimal=False)
                try:
                    byname = {t["name"]: t for t in fresh}
                    r, v = byname["redis"], byname["vermilion"]
                    rm, _ = mem_per_shape_key(r["port"], r["pid"], make, keys)
                    vm, _ = mem_per_shape_key(v["port"], v["pid"], make, keys)
                finally:
                    stop_servers(fresh)
                mem = (mem or []) + [{"shape": shape, "keys": keys, "redis": rm, "vermilion": vm}]
                print(
                    "| %s | `%s` | %d | %.1f | %.1f | %.2fx |"
                    % (shape, _shown(make(0)), keys, rm, vm, vm / rm if rm else 0)
                )
        lua = None
        if a.lua_call:
            lua = {}
            print(
                "\nredis.call against the wire (server CPU s, min of %d): 200 LPUSH of 5000"
                " args\n\n| server | over the wire | script | script without redis.call |"
                " redis.call part | redis.call / wire |\n|---|---|---|---|---|---|" % a.r
            )
            for t in targets:
                if t["name"] == "minimal":
                    continue  # (no EVAL)
                w, sc, b = lua_call_cost(t["port"], t["pid"], a.r)
                lua[t["name"]] = [w, sc, b]
                print(
                    "| %s | %.3f | %.3f | %.3f | %.3f | %.2fx |"
                    % (t["name"], w, sc, b, sc - b, (sc - b) / w if w else 0)
                )
        if a.json:
            with open(a.json, "w") as fh:
                json.dump(
                    {
                        "args": vars(a),
                        "tests": tests,
                        "targets": [{k: t[k] for k in ("name", "port", "pid")} for t in targets],
                        "unsupported": ["%s:%s" % k for k in unsupported],
                        "rows": raw,
                        "mem": mem,
                        "lua_call": lua,
                    },
                    fh,
                    indent=1,
                )
    finally:
        if a.keep:
            print(
                "\nleft running: "
                + ", ".join(
                    "%s 127.0.0.1:%d (pid %d)" % (t["name"], t["port"], t["pid"]) for t in targets
                )
            )
        else:
            stop_servers(targets)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
