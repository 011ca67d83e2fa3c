#!/usr/bin/env python3
"""SAVE, BGSAVE, BGREWRITEAOF and loading: redis-server and Vermilion side by side.

    python bench/persistence.py [--keys 300000] [--mix 20000] [-r 3] [--port-base 33000]
                                [--vermilion-dir DIR] [--only save,bgsave,aof,aofcmd,load]

Starts redis-server and Vermilion (``python -m vermilion``, which takes redis-server's
options) on free loopback ports, each in a temporary ``dir`` with no ``save`` rules and
no AOF, and gives both the same data set:

* ``DEBUG POPULATE <keys>`` (short strings "value:N"), then
* ``--mix`` groups of keys built with pipelined commands so that every RDB encoder
  runs: long compressible and incompressible strings, integers, keys with a TTL,
  small (listpack) and big (hashtable) hashes, small and big lists (quicklist), intsets
  and hashtable sets, small (listpack) and big (skiplist) sorted sets, streams with
  consumer groups and pending entries, HyperLogLogs.

Then, ``-r`` rounds of, on each server in turn:

* ``save``:   SAVE, timed until its reply;
* ``bgsave``: BGSAVE, timed until INFO persistence shows ``rdb_bgsave_in_progress:0``;
* ``aof``:    BGREWRITEAOF with ``aof-use-rdb-preamble yes`` (an RDB base), timed until
  ``aof_rewrite_in_progress:0``;
* ``aofcmd``: the same with ``aof-use-rdb-preamble no`` (a command-format base);
* ``load``:   SHUTDOWN NOSAVE after the SAVE, a new server started on the same dir,
  timed from the spawn until PING answers PONG (not -LOADING). The time an empty
  server takes to answer PING is measured too and printed beside it (Python's start-up
  is a constant part of Vermilion's figure), and ``load-logged`` is the load alone,
  as each server logs it ("DB loaded from disk: X seconds"; both columns the same).

It prints the median seconds per server and the ratio vermilion/redis, the RDB sizes,
and, as a check of the output, whether a fresh redis-server loading Vermilion's RDB has
the same ``DEBUG DIGEST`` as the redis-server that built the data (redis-server's digest
of its own data: the same number means the same keys, values and TTLs).
Only the standard library is used.
"""

import argparse
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK = os.sysconf("SC_CLK_TCK")
ROOT = os.path.dirname(HERE)


# ------------------------------------------------------------------ RESP client
class Conn:
    """A minimal blocking RESP2 client: enough for pipelined fills and polling."""

    def __init__(self, port, timeout=600):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.pos = 0

    def close(self):
        self.sock.close()

    @staticmethod
    def pack(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("connection closed")
        self.buf = self.buf[self.pos :] + data
        self.pos = 0

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = self.buf[self.pos : i]
                self.pos = i + 2
                return line
            self._fill()

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-"):
            return line  # keep the type byte: callers tell errors apart
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            s = self.buf[self.pos : self.pos + n]
            self.pos += n + 2
            return s
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("bad reply %r" % line)

    def call(self, *args):
        self.sock.sendall(self.pack(args))
        return self.read()

    def pipeline(self, cmds, batch=2000):
        """Send commands in batches, read every reply; fail on an error reply."""
        for i in range(0, len(cmds), batch):
            chunk = cmds[i : i + batch]
            self.sock.sendall(b"".join(self.pack(c) for c in chunk))
            for c in chunk:
                r = self.read()
                if isinstance(r, bytes) and r.startswith(b"-"):
                    raise RuntimeError("%r -> %r" % (c[:3], r))


def info_field(conn, field):
    r = conn.call("INFO", "persistence")
    for line in r.split(b"\r\n"):
        if line.startswith(field.encode() + b":"):
            return line.split(b":", 1)[1].decode()
    return None


def wait_field(conn, field, value, timeout=600):
    deadline = time.perf_counter() + timeout
    while info_field(conn, field) != value:
        if time.perf_counter() > deadline:
            raise TimeoutError(field)
        time.sleep(0.005)


# ------------------------------------------------------------------ servers
def free_port(start):
    p = start
    while True:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            p += 1
        finally:
            s.close()


class Server:
    def __init__(self, name, port, vdir):
        self.name = name
        self.port = port
        self.vdir = vdir
        self.dir = tempfile.mkdtemp(prefix="pers-%s-" % name)
        self.proc = None

    def argv(self, empty=False):
        opts = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        opts += ["--appendonly", "no", "--dir", self.dir if not empty else self.empty_dir()]
        opts += ["--logfile", os.path.join(self.dir, "log.txt"), "--enable-debug-command", "yes"]
        if self.name == "redis":
            return ["redis-server"] + opts
        return [sys.executable, "-m", "vermilion"] + opts

    def empty_dir(self):
        d = os.path.join(self.dir, "empty")
        os.makedirs(d, exist_ok=True)
        return d

    def start(self, empty=False):
        """Spawn; return seconds until PING answers PONG (not LOADING)."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv(empty),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.vdir if self.name == "vermilion" else self.dir,
        )
        conn = None
        while True:
            if self.proc.poll() is not None:
                sys.exit("%s exited early (see %s/log.txt)" % (self.name, self.dir))
            try:
                if conn is None:
                    conn = Conn(self.port)
                if conn.call("PING") == b"+PONG":
                    break
            except (OSError, ConnectionError):
                conn = None
            time.sleep(0.002)
        elapsed = time.perf_counter() - t0
        conn.close()
        return elapsed

    def conn(self):
        return Conn(self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                c = self.conn()
                c.sock.sendall(Conn.pack(["SHUTDOWN", "NOSAVE"]))
                c.close()
            except OSError:
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cpu(self):
        """CPU seconds of the server and its reaped children (fork children, the
        CRC helper): utime + stime + cutime + cstime of /proc/PID/stat."""
        with open("/proc/%d/stat" % self.proc.pid) as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in f[11:15]) / CLK

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


# ------------------------------------------------------------------ data set
# TTLs and stream IDs are absolute so that both servers hold the very same data
# (DEBUG DIGEST covers the expire times)
EPOCH = 4000000000


def mixed_commands(groups, seed=1):
    """Commands building `groups` groups of keys of every type and encoding."""
    rnd = random.Random(seed)
    cmds = []

    def rstr(n):
        return bytes(rnd.getrandbits(8) for _ in range(n))

    for g in range(groups):
        k = "mix:%d:" % g
        kind = g % 16
        if kind == 0:  # long compressible string with a TTL
            cmds.append(["SET", k + "s", "abcdefgh" * (3 + g % 20) + str(g), "EXAT", EPOCH + g])
        elif kind == 1:  # long incompressible string
            cmds.append(["SET", k + "r", rstr(24 + g % 80)])
        elif kind == 2:  # integers, one with a millisecond TTL
            cmds.append(["SET", k + "i", g * 7919 - 10**6])
            cmds.append(["SET", k + "j", rnd.getrandbits(62), "PXAT", EPOCH * 1000 + g])
        elif kind == 3:  # small hash: listpack
            flat = []
            for f in range(5):
                flat += ["field%d" % f, "v%d" % (g * f) if f % 2 else rnd.randint(0, 10**9)]
            cmds.append(["HSET", k + "h"] + flat)
        elif kind == 4:  # list: quicklist of listpacks
            n = 10 if g % 64 else 600
            cmds.append(["RPUSH", k + "l"] + ["item%d" % i if i % 3 else i for i in range(n)])
        elif kind == 5:  # intset
            cmds.append(["SADD", k + "si"] + [rnd.randint(-(10**6), 10**6) for _ in range(12)])
        elif kind == 6:  # hashtable set
            cmds.append(["SADD", k + "ss"] + ["member:%d" % rnd.getrandbits(32) for _ in range(8)])
        elif kind == 7:  # small zset: listpack
            flat = []
            for m in range(6):
                flat += [rnd.choice([m, m + 0.5, rnd.random() * 1000]), "m%d" % m]
            cmds.append(["ZADD", k + "z"] + flat)
        elif kind == 8:  # streams, some with consumer groups
            for e in range(20):
                cmds.append(["XADD", k + "x", "%d-%d" % (g, e + 1), "name", "e%d" % e, "n", e])
            if g % 48 == 8:
                cmds.append(["XGROUP", "CREATE", k + "x", "grp", "0"])
                cmds.append(
                    ["XREADGROUP", "GROUP", "grp", "alice", "COUNT", 5, "STREAMS", k + "x", ">"]
                )
        elif kind == 9:  # HyperLogLog (a string)
            cmds.append(["PFADD", k + "p"] + ["el%d" % rnd.getrandbits(20) for _ in range(20)])
        elif kind == 10 and g % 160 == 10:  # big hash: hashtable
            flat = []
            for f in range(300):
                flat += ["field:%d" % f, "value:%d:%s" % (f, "y" * (f % 40))]
            cmds.append(["HSET", k + "H"] + flat)
        elif kind == 11 and g % 160 == 11:  # big zset: skiplist
            flat = []
            for m in range(300):
                flat += [rnd.random() * 1e6, "member:%d" % m]
            cmds.append(["ZADD", k + "Z"] + flat)
        elif kind == 12 and g % 160 == 12:  # big set: hashtable
            cmds.append(["SADD", k + "S"] + ["m%d" % i for i in range(1000)])
        elif kind == 13:  # small hash with long values (listpack, LZF candidates)
            cmds.append(["HSET", k + "hl", "a", "q" * 50, "b", rstr(30)])
        else:  # plain short strings
            cmds.append(["SET", k + "t", "val%d" % g])
    return cmds


def fill(server, keys, mix):
    c = server.conn()
    if keys:
        r = c.call("DEBUG", "POPULATE", keys)
        assert r == b"+OK", r
    if mix:
        c.pipeline(mixed_commands(mix))
    n = c.call("DBSIZE")
    c.close()
    return n


# ------------------------------------------------------------------ timings
def time_save(s):
    c = s.conn()
    c0 = s.cpu()
    t0 = time.perf_counter()
    r = c.call("SAVE")
    dt = time.perf_counter() - t0
    cpu = s.cpu() - c0
    c.close()
    assert r == b"+OK", r
    return dt, cpu


def time_bg(s, cmd, field):
    c = s.conn()
    wait_field(c, "rdb_bgsave_in_progress", "0")
    wait_field(c, "aof_rewrite_in_progress", "0")
    c0 = s.cpu()
    t0 = time.perf_counter()
    r = c.call(cmd)
    assert not r.startswith(b"-"), r
    wait_field(c, field, "0")
    dt = time.perf_counter() - t0
    time.sleep(0.2)  # the parent reaps the child from its cron: its CPU counts then
    cpu = s.cpu() - c0
    status = info_field(
        c, "rdb_last_bgsave_status" if cmd == "BGSAVE" else "aof_last_bgrewrite_status"
    )
    c.close()
    assert status == "ok", (s.name, cmd, status)
    return dt, cpu


def time_aof(s, preamble):
    c = s.conn()
    c.call("CONFIG", "SET", "aof-use-rdb-preamble", "yes" if preamble else "no")
    c.close()
    return time_bg(s, "BGREWRITEAOF", "aof_rewrite_in_progress")


def time_load(s):
    """SAVE, stop, restart on the same dir: seconds until PONG (and the CPU), and
    the load alone as the server logs it ("DB loaded from disk: X seconds")."""
    time_save(s)
    s.stop()
    log = os.path.join(s.dir, "log.txt")
    start = os.path.getsize(log)
    dt = s.start()
    cpu = s.cpu()
    with open(log, "rb") as fh:
        fh.seek(start)
        m = re.search(rb"DB loaded from disk: ([\d.]+) seconds", fh.read())
    logged = float(m.group(1)) if m else float("nan")
    return (dt, cpu), (logged, logged)


def used_memory(s):
    c = s.conn()
    r = c.call("INFO", "memory")
    c.close()
    for line in r.split(b"\r\n"):
        if line.startswith(b"used_memory:"):
            return int(line.split(b":")[1])
    return 0


def digest_check(redis, verm, port_base, vdir):
    """A fresh redis-server loads Vermilion's RDB: same DEBUG DIGEST as the original?"""
    c = redis.conn()
    want = c.call("DEBUG", "DIGEST")
    c.close()
    probe = Server("redis", free_port(port_base + 10), vdir)
    shutil.copy(os.path.join(verm.dir, "dump.rdb"), os.path.join(probe.dir, "dump.rdb"))
    try:
        probe.start()
        c = probe.conn()
        got = c.call("DEBUG", "DIGEST")
        c.close()
    finally:
        probe.stop()
        shutil.rmtree(probe.dir, ignore_errors=True)
    return want, got


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--keys", type=int, default=300000, help="DEBUG POPULATE count")
    ap.add_argument("--mix", type=int, default=20000, help="groups of mixed-type keys")
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("--port-base", type=int, default=33000)
    ap.add_argument("--vermilion-dir", default=ROOT)
    ap.add_argument("--only", default="save,bgsave,aof,aofcmd,load")
    args = ap.parse_args()
    tests = args.only.split(",")

    redis = Server("redis", free_port(args.port_base), args.vermilion_dir)
    verm = Server("vermilion", free_port(redis.port + 1), args.vermilion_dir)
    servers = [redis, verm]
    results = {(s.name, t): [] for s in servers for t in tests + ["empty-start", "load-logged"]}
    try:
        for s in servers:
            s.start()
            t0 = time.perf_counter()
            n = fill(s, args.keys, args.mix)
            print("%-9s filled: %d keys in %.1f s" % (s.name, n, time.perf_counter() - t0))
        for rnd in range(args.rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for s in order:
                if "save" in tests:
                    results[(s.name, "save")].append(time_save(s))
                if "bgsave" in tests:
                    results[(s.name, "bgsave")].append(
                        time_bg(s, "BGSAVE", "rdb_bgsave_in_progress")
                    )
                if "aof" in tests:
                    results[(s.name, "aof")].append(time_aof(s, True))
                if "aofcmd" in tests:
                    results[(s.name, "aofcmd")].append(time_aof(s, False))
                if "load" in tests:
                    timed, logged = time_load(s)
                    results[(s.name, "load")].append(timed)
                    results[(s.name, "load-logged")].append(logged)
                    # an empty server's start, for the constant part of the figure
                    saved = s.proc
                    port = s.port
                    s.port = free_port(port + 20)
                    dt = s.start(empty=True)
                    results[(s.name, "empty-start")].append((dt, s.cpu()))
                    s.stop()
                    s.proc, s.port = saved, port
        print()
        print(
            "median over %d rounds; cpu: the server's and its children's CPU seconds" % args.rounds
        )
        print(
            "%-12s %9s %9s %7s   %9s %9s %7s"
            % ("test", "redis s", "verm s", "ratio", "redis cpu", "verm cpu", "ratio")
        )
        for t in tests + (["load-logged", "empty-start"] if "load" in tests else []):
            row = []
            for k in (0, 1):
                r = statistics.median(x[k] for x in results[("redis", t)])
                v = statistics.median(x[k] for x in results[("vermilion", t)])
                row += [r, v, v / r if r else float("nan")]
            print("%-12s %9.3f %9.3f %7.2f   %9.3f %9.3f %7.2f" % tuple([t] + row))
        print()
        for s in servers:
            size = os.path.getsize(os.path.join(s.dir, "dump.rdb"))
            print(
                "%-9s dump.rdb %.1f MB, used_memory %.1f MB, RSS %.1f MB"
                % (s.name, size / 1e6, used_memory(s) / 1e6, s.rss_kb() / 1e3)
            )
        if "save" in tests or "load" in tests:
            want, got = digest_check(redis, verm, args.port_base, args.vermilion_dir)
            print(
                "digest check (redis-server loading Vermilion's dump.rdb): %s"
                % ("same" if want == got else "DIFFERENT %r != %r" % (got, want))
            )
    finally:
        for s in servers:
            s.stop()
            shutil.rmtree(s.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
