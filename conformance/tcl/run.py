#!/usr/bin/env python3
"""Run Redis 7.0.15's own Tcl test units in spawning mode, with Vermilion (or Debian's
redis-server) as ``src/redis-server``.

    conformance/tcl/run.sh [--server vermilion|redis] [--clients N] [--timeout T] UNIT...
    conformance/tcl/run.sh --server redis unit/type/incr integration/rdb

The Redis source tree (Debian's source package, its patches applied) is prepared
once under the work folder (``conformance/tcl/work/``, gitignored; ``--work`` or
$VERMILION_TCL_WORK moves it): the package is taken from $REDIS_SRC_PKG (a folder
holding ``redis_7.0.15*.dsc`` and its tarballs), else from ``work/pkg``, else
fetched with ``apt-get source --download-only redis`` (a ``deb-src`` twin of
/etc/apt/sources.list.d/debian.sources is added when apt has none). Each server
gets its own copy of the tree (``work/tree-<server>``), so both can run at once.

In that copy ``src/redis-server`` is an ``exec`` wrapper around ``python3 -m
vermilion`` (the PID the harness sees is the server's) or, with ``--server redis``,
a symlink to Debian's /usr/bin/redis-server (a symlink rather than a script so that
``ldd src/redis-server`` in integration/logging.tcl works as with a built tree);
``redis-cli``, ``redis-benchmark``, ``redis-check-aof``, ``redis-check-rdb`` and
``redis-sentinel`` are Debian's binaries (redis-sentinel is ``redis-server
--sentinel`` where the redis-sentinel package is not installed).

Only one run at a time uses a tree (a lock file; runtest empties tests/tmp when it
starts and ends). Every unit runs as its own ``./runtest --single UNIT --clients N --timeout T``
(an ``[exception]`` ends only that unit). The output of each is kept in
``work/results/<server>/<unit>.log`` and parsed into ``<unit>.json`` (the names of
the tests that passed and failed); the run prints a table per unit and, last,
``N passed, M failed`` (failed: ``[err]`` plus ``[exception]`` lines). The exit
status is 0 when nothing failed. ``conformance/tcl/compare.py`` compares the two
servers' results (or Vermilion's with the reference list,
``reference/redis-7.0.15-passed.txt``: what redis-server passed in two full runs);
``conformance/tcl/ratchet.sh`` is the CI ratchet (``ratchet-passed.txt``, ``ratchet.py``).

Redis Cluster's tests come in two harnesses. ``unit/cluster``, ``unit/cluster-scripting``
and ``unit/cluster/*`` are units of the main harness (``start_cluster``) and run as
above. The files of ``tests/cluster/tests/`` belong to ``./runtest-cluster`` (20
instances spawned once, every file run in turn against them): name them
``cluster/NN-name`` (``cluster/28-cluster-shards``), or ``cluster`` for all of them,
``unit-cluster`` for the main harness's cluster units, ``all-cluster`` for both. The
requested files run in ONE ``./runtest-cluster --single NN-name ...`` (so the 20
servers start once; ``--cluster-each`` runs one runtest-cluster per file instead),
its output is split per file at ``Testing unit:`` and parsed (``HH:MM:SS> name: OK``
/ ``FAILED: ...``; ``FAILED: caught an error in the test`` counts as an exception).
runtest-cluster has no timeout of its own: ``--cluster-timeout`` seconds (default
900 per file) bound a run, after which the harness and its servers are killed.

``./runtest-sentinel`` (tests/sentinel/tests/: 5 sentinels, Debian's redis-sentinel,
watching 5 servers, Vermilion or redis-server) is the same kind of harness: name its
files ``sentinel/NN-name`` or ``sentinel`` for all of them; they run and are parsed
like runtest-cluster's.

External mode (``--external``) is how Redis's own CI (.github/workflows/external.yml)
tests a server it did not start: one server, started here as that workflow starts it
(``--save "" --enable-protected-configs yes --enable-debug-command yes
--enable-module-command yes``), and every unit run against it with ``./runtest --host
127.0.0.1 --port P --tags -slow --single UNIT``; tests tagged ``external:skip`` skip
themselves. Name ``all`` for runtest's whole list (``::all_tests`` of
tests/test_helper.tcl). Results go to ``work/results/<server>-external`` unless
``--results-name`` says otherwise. Should the server stop answering during a unit,
it is started again before the next one and the unit's .json says so
(``"server_restarted_after": true``), so one crash does not fail every later unit.
"""
import argparse
import fcntl
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VERSION = "7.0.15"
DEBIAN_SOURCES = "/etc/apt/sources.list.d/debian.sources"
DEB_SRC_SOURCES = "/etc/apt/sources.list.d/debian-src.sources"
TOOLS = ("redis-cli", "redis-benchmark", "redis-check-aof", "redis-check-rdb")

ANSI = re.compile(r"\x1b\[[0-9;]*m")
OK = re.compile(r"^\[ok\]: (.*) \(\d+ ms\)$")
ERR = re.compile(r"^\[err\]: (.*?)(?: in tests/\S+\.tcl)?$")
EXC = re.compile(r"^\[exception\]: (.*)$")
SKIP = re.compile(r"^\[(skip|ignore)\]: (.*)$")
EXC_TEST = re.compile(r'^"test (?:\{([^{}]*)\}|"([^"]*)") ')
DONE = re.compile(r"^\[\d+/\d+ done\]: ")


def log(msg):
    sys.stderr.write("run.py: %s\n" % msg)
    sys.stderr.flush()


def sh(cmd, **kw):
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def as_root(cmd):
    if os.geteuid() != 0 and shutil.which("sudo"):
        cmd = ["sudo"] + cmd
    return cmd


def apt_install(*packages):
    sh(as_root(["apt-get", "install", "-y", "--no-install-recommends"] + list(packages)))


# ------------------------------------------------------------------ the tree
def ensure_tools(server):
    if not (shutil.which("tclsh8.6") or shutil.which("tclsh8.7") or shutil.which("tclsh8.5")):
        apt_install("tcl")
    if not os.path.exists("/usr/bin/redis-cli"):
        apt_install("redis-tools")
    if not os.path.exists("/usr/bin/redis-check-aof") or (
            server == "redis" and not os.path.exists("/usr/bin/redis-server")):
        apt_install("redis-server")


def find_dsc(folder):
    found = sorted(glob.glob(os.path.join(folder, "redis_%s*.dsc" % VERSION)))
    return found[-1] if found else None


def add_deb_src():
    """A deb-src twin of Debian's sources file, unless apt already has source entries."""
    have = False
    for path in glob.glob("/etc/apt/sources.list.d/*") + ["/etc/apt/sources.list"]:
        try:
            text = open(path).read()
        except OSError:
            continue
        if re.search(r"^\s*(Types:.*\bdeb-src\b|deb-src\s)", text, re.M):
            have = True
    if have:
        return False
    if os.path.exists(DEBIAN_SOURCES):
        text = open(DEBIAN_SOURCES).read()
        twin = re.sub(r"^Types:\s*deb\s*$", "Types: deb-src", text, flags=re.M)
        tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "vermilion-debian-src.sources")
        dest = DEB_SRC_SOURCES
    else:   # one-line format: a deb-src twin of each deb line of sources.list
        text = open("/etc/apt/sources.list").read()
        twin = "\n".join(re.sub(r"^deb\s", "deb-src ", l) for l in text.splitlines()
                         if re.match(r"^deb\s", l)) + "\n"
        tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "vermilion-debian-src.list")
        dest = DEB_SRC_SOURCES[:-len(".sources")] + ".list"
    with open(tmp, "w") as fh:
        fh.write(twin)
    sh(as_root(["cp", tmp, dest]))
    return True


def fetch_source(pkgdir):
    os.makedirs(pkgdir, exist_ok=True)
    if add_deb_src() or not glob.glob("/var/lib/apt/lists/*Sources*"):
        sh(as_root(["apt-get", "update"]))
    sh(["apt-get", "source", "--download-only", "redis"], cwd=pkgdir)
    dsc = find_dsc(pkgdir)
    if dsc is None:
        raise SystemExit("run.py: apt-get source gave no redis_%s*.dsc in %s "
                         "(this runner is for Redis %s)" % (VERSION, pkgdir, VERSION))
    return dsc


def prepare_pristine(work):
    """work/redis-<version>: Debian's source package unpacked, its patches applied."""
    pristine = os.path.join(work, "redis-%s" % VERSION)
    if os.path.exists(os.path.join(pristine, ".vermilion-ready")):
        return pristine
    dsc = None
    for folder in filter(None, (os.environ.get("REDIS_SRC_PKG"), os.path.join(work, "pkg"))):
        dsc = find_dsc(folder)
        if dsc:
            break
    if dsc is None:
        dsc = fetch_source(os.path.join(work, "pkg"))
    shutil.rmtree(pristine, ignore_errors=True)
    if not shutil.which("dpkg-source") and not shutil.which("patch"):
        apt_install("patch")     # for the patches of debian/patches/series
    if shutil.which("dpkg-source"):
        sh(["dpkg-source", "--no-check", "-x", dsc, pristine])
    else:   # unpack the orig tarball and apply debian/patches/series by hand
        folder = os.path.dirname(dsc)
        orig = glob.glob(os.path.join(folder, "redis_%s.orig.tar.gz" % VERSION))[0]
        deb = glob.glob(os.path.join(folder, "redis_%s-*.debian.tar.*" % VERSION))[0]
        tmp = pristine + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        sh(["tar", "-xf", orig, "-C", tmp])
        shutil.move(os.path.join(tmp, "redis-%s" % VERSION), pristine)
        sh(["tar", "-xf", deb, "-C", pristine])
        series = os.path.join(pristine, "debian", "patches", "series")
        for line in open(series):
            name = line.split("#")[0].strip()
            if name:
                sh(["patch", "-p1", "-s", "-i", os.path.join("debian", "patches", name)],
                   cwd=pristine)
        shutil.rmtree(tmp, ignore_errors=True)
    open(os.path.join(pristine, ".vermilion-ready"), "w").close()
    return pristine


def write_exec(path, lines):
    with open(path, "w") as fh:
        fh.write("#!/bin/sh\n# written by vermilion's conformance/tcl/run.py\n")
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, 0o755)


def link(path, target):
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


def prepare_tree(work, server, python, root=ROOT, name=None):
    pristine = prepare_pristine(work)
    tree = os.path.join(work, name or "tree-%s" % server)
    if not os.path.exists(os.path.join(tree, "runtest")):
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(pristine, tree, symlinks=True)
    src = os.path.join(tree, "src")
    path = os.path.join(src, "redis-server")
    if os.path.lexists(path):
        os.unlink(path)
    if server == "redis":
        link(path, "/usr/bin/redis-server")
    else:
        write_exec(path, [
            'PYTHONPATH="%s${PYTHONPATH:+:$PYTHONPATH}"' % root,
            # the process title's {title}: this wrapper, as redis-server's argv[0]
            'VERMILION_ARGV0="$0"',
            "export PYTHONPATH VERMILION_ARGV0",
            'exec "%s" -m vermilion "$@"' % python,
        ])
    for tool in TOOLS:
        link(os.path.join(src, tool), "/usr/bin/" + tool)
    sentinel = os.path.join(src, "redis-sentinel")
    if os.path.exists("/usr/bin/redis-sentinel"):
        link(sentinel, "/usr/bin/redis-sentinel")
    else:
        if os.path.lexists(sentinel):
            os.unlink(sentinel)
        write_exec(sentinel, ['exec /usr/bin/redis-server "$@" --sentinel'])
    return tree


# ------------------------------------------------------------------ running
def parse(text):
    """The [ok]/[err]/[exception] lines of one runtest output."""
    res = {"ok": [], "err": [], "exception": [], "skipped": 0, "done": False, "timeout": False,
           "why": {}}
    last_err = None
    in_exception = False
    for raw in text.splitlines():
        line = ANSI.sub("", raw).rstrip()
        if last_err is not None:    # the line after [err]: the assertion's message
            res["why"].setdefault(last_err, line[:300])
            last_err = None
        m = OK.match(line)
        if m:
            res["ok"].append(m.group(1))
            continue
        m = ERR.match(line)
        if m:
            res["err"].append(m.group(1))
            last_err = m.group(1)
            continue
        m = EXC.match(line)
        if m:
            res["exception"].append(m.group(1))
            in_exception = True
            continue
        if in_exception and "exception_test" not in res:
            m = EXC_TEST.match(line)   # the traceback names the test that raised
            if m:
                res["exception_test"] = m.group(1) or m.group(2)
        if SKIP.match(line):
            res["skipped"] += 1
        elif DONE.match(line):
            res["done"] = True
        elif "[TIMEOUT]" in line:
            res["timeout"] = True
    return res


# runtest-cluster's output (tests/instances.tcl): "HH:MM:SS> name: OK", or
# "HH:MM:SS> name: FAILED: message"; a unit that raised prints "FAILED: caught an
# error in the test <msg>" and the harness goes on with the next file.
CL_UNIT = re.compile(r"^Testing unit: (\S+?)(?:\.tcl)?$")
CL_TEST = re.compile(r"^\d\d:\d\d:\d\d> (.*?): (.*)$")
CL_CAUGHT = re.compile(r"^FAILED: caught an error in the test (.*)$")


# the harnesses of tests/instances.tcl: a unit named "<harness>/NN-name" is a file
# of tests/<harness>/tests, run by ./runtest-<harness>
INSTANCE_HARNESSES = ("cluster", "sentinel")


def instance_units(tree, harness):
    names = sorted(glob.glob(os.path.join(tree, "tests", harness, "tests", "*.tcl")))
    return [harness + "/" + os.path.basename(n)[:-4] for n in names]


def harness_of(unit):
    h = unit.split("/", 1)[0]
    return h if "/" in unit and h in INSTANCE_HARNESSES else None


UNIT_CLUSTER = ["unit/cluster", "unit/cluster-scripting", "unit/cluster/misc",
                "unit/cluster/links", "unit/cluster/announced-endpoints"]


def parse_cluster(text):
    """runtest-cluster's output, split per file: {file: parse()-like dict}."""
    out = {}
    cur = None
    pending = None      # the test whose verdict has not been seen yet
    jumped = False
    for raw in text.splitlines():
        line = ANSI.sub("", raw).rstrip()
        m = CL_UNIT.match(line)
        if m:
            cur = out.setdefault(m.group(1), {"ok": [], "err": [], "exception": [],
                                              "skipped": 0, "done": False,
                                              "timeout": False, "why": {}})
            pending = None
            jumped = False
            continue
        if cur is None:
            continue
        if line == "(Jumping to next unit after error)":
            jumped = True   # a failed assertion ends the file: the "caught an error"
            continue        # that follows is that [err], not an exception
        m = CL_CAUGHT.match(line)
        if m:
            if not jumped:
                cur["exception"].append(m.group(1)[:300] or "(no message)")
                if pending is not None:
                    cur["exception_test"] = pending
            pending = None
            jumped = False
            continue
        m = CL_TEST.match(line)
        rest = None
        if m:
            pending, rest = m.group(1), m.group(2)
        elif pending is not None:
            rest = line
        if pending is None or rest is None:
            continue
        if rest.endswith("OK"):
            cur["ok"].append(pending)
            pending = None
        elif "FAILED: " in rest:
            cur["err"].append(pending)
            cur["why"].setdefault(pending, rest.split("FAILED: ", 1)[1][:300])
            pending = None
    for name, res in out.items():
        res["done"] = True
    return out


def run_cluster(tree, units, args, outdir):
    """The files of tests/cluster/tests (units named cluster/NN-name) in one
    runtest-cluster; or of tests/sentinel/tests (sentinel/NN-name) in one
    runtest-sentinel."""
    harness = harness_of(units[0])
    files = [u.split("/", 1)[1] for u in units]
    cmd = ["./runtest-" + harness]
    for f in files:
        cmd += ["--single", f + ".tcl"]
    cmd += args.cluster_args
    tag = files[0] if len(files) == 1 else "batch"
    logpath = os.path.join(outdir, "%s__%s.runtest-%s.log" % (harness, tag, harness))
    env = dict(os.environ, TERM="dumb")
    log("%s" % " ".join(cmd))
    t0 = time.time()
    limit = args.cluster_timeout * len(files)
    timed_out = False
    with open(logpath, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=env, text=True, errors="replace", start_new_session=True)
        def watchdog():
            nonlocal timed_out
            try:
                proc.wait(limit)
            except subprocess.TimeoutExpired:
                timed_out = True
                log("runtest-%s ran for over %ds: killing it and its servers" % (harness, limit))
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        threading.Thread(target=watchdog, daemon=True).start()
        for line in proc.stdout:
            fh.write(line)
            fh.flush()
            if args.verbose:
                sys.stdout.write(line)
                sys.stdout.flush()
        rc = proc.wait()
    seconds = round(time.time() - t0, 1)
    return finish_cluster(open(logpath, errors="replace").read(), units, args.server, rc,
                          seconds, " ".join(cmd), timed_out, outdir)


def finish_cluster(text, units, server, rc, seconds, command, timed_out, outdir):
    parsed = parse_cluster(text)
    # each file's own piece of the log, for reading
    pieces = {}
    cur = None
    for raw in text.splitlines(True):
        m = CL_UNIT.match(ANSI.sub("", raw).rstrip())
        if m:
            cur = m.group(1)
        if cur is not None:
            pieces.setdefault(cur, []).append(raw)
    results = []
    names = list(parsed)
    if names and "GOOD! No errors." not in text and "test(s) failed." not in text:
        parsed[names[-1]]["done"] = False    # the run was cut short in this file
    for unit in units:
        f = unit.split("/", 1)[1]
        res = parsed.get(f) or {"ok": [], "err": [], "exception": [], "skipped": 0,
                                "done": False, "timeout": False, "why": {}}
        if timed_out and names and f == names[-1]:
            res["timeout"] = True
        res.update(unit=unit, server=server, rc=rc, command=command, status=None,
                   seconds=seconds if len(units) == 1 else 0.0)
        res["status"] = status(res, rc)
        if f not in parsed:
            res["status"] = "not run"
        base = os.path.join(outdir, unit.replace("/", "__"))
        with open(base + ".log", "w") as fh:
            fh.write("".join(pieces.get(f, [])))
        with open(base + ".json", "w") as fh:
            json.dump(res, fh, indent=1)
        results.append(res)
    if len(units) > 1 and results:    # the batch's time, shared out by the files that ran
        ran = [r for r in results if r["status"] != "not run"] or results
        for r in ran:
            r["seconds"] = round(seconds / len(ran), 1)
    return results


def status(res, rc):
    if res["timeout"]:
        return "timeout"
    if res["exception"]:
        return "exception"
    if not res["done"]:
        return "aborted (rc %s)" % rc
    return "done"


def all_units(tree):
    """runtest's own list of units (``set ::all_tests {...}`` in tests/test_helper.tcl)."""
    text = open(os.path.join(tree, "tests", "test_helper.tcl")).read()
    return re.search(r"set ::all_tests \{(.*?)\}", text, re.S).group(1).split()


# How Redis's CI starts the server its external-mode tests run against.
EXTERNAL_SERVER_ARGS = ["--save", "", "--enable-protected-configs", "yes",
                        "--enable-debug-command", "yes", "--enable-module-command", "yes"]


class ExternalServer:
    """The one server of external mode: the tree's src/redis-server (Vermilion's
    wrapper or Debian's binary), on loopback, in a folder of its own."""

    def __init__(self, tree, port, outdir):
        self.tree = tree
        self.port = port
        self.dir = os.path.join(outdir, "external-server")
        self.proc = None
        self.starts = 0

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.starts += 1
        logfile = os.path.join(self.dir, "server-%d.log" % self.starts)
        cmd = [os.path.join(self.tree, "src", "redis-server"), "--port", str(self.port),
               "--bind", "127.0.0.1", "--logfile", logfile, "--dir", self.dir]
        cmd += EXTERNAL_SERVER_ARGS
        log("external server: " + " ".join(cmd))
        self.proc = subprocess.Popen(cmd, cwd=self.dir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.alive():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise SystemExit("run.py: the external server did not start (see %s)" % logfile)

    def alive(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith((b"+PONG", b"-LOADING", b"-BUSY"))
        except OSError:
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


def run_unit(tree, unit, args, outdir, external=None):
    if external is not None:
        cmd = ["./runtest", "--host", "127.0.0.1", "--port", str(external.port),
               "--tags", "-slow", "--single", unit, "--timeout", str(args.timeout)]
    else:
        cmd = ["./runtest", "--single", unit, "--clients", str(args.clients),
               "--timeout", str(args.timeout)]
    if args.baseport:
        cmd += ["--baseport", str(args.baseport)]
    if args.durable:
        cmd.append("--durable")
    cmd += args.runtest_args
    logpath = os.path.join(outdir, unit.replace("/", "__") + ".log")
    env = dict(os.environ, TERM="dumb")
    log("%s: %s" % (unit, " ".join(cmd)))
    t0 = time.time()
    with open(logpath, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=tree, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, text=True, errors="replace")
        for line in proc.stdout:
            fh.write(line)
            fh.flush()
            if args.verbose:
                sys.stdout.write(line)
                sys.stdout.flush()
        rc = proc.wait()
    res = parse(open(logpath, errors="replace").read())
    res.update(unit=unit, server=args.server, rc=rc, seconds=round(time.time() - t0, 1),
               status=None, command=" ".join(cmd))
    res["status"] = status(res, rc)
    if external is not None and not external.alive():
        log("%s: the external server stopped answering; starting it again" % unit)
        external.stop()
        external.start()
        res["server_restarted_after"] = True
    with open(logpath[:-4] + ".json", "w") as fh:
        json.dump(res, fh, indent=1)
    return res


def reparse(work, server, units):
    for path in glob.glob(os.path.join(work, "results", server, "*.log")):
        jpath = path[:-4] + ".json"
        old = json.load(open(jpath)) if os.path.exists(jpath) else {}
        unit = old.get("unit") or os.path.basename(path)[:-4].replace("__", "/")
        if units and unit not in units:
            continue
        if ".runtest-" in os.path.basename(path):
            continue
        text = open(path, errors="replace").read()
        if harness_of(unit):
            res = parse_cluster(text).get(unit.split("/", 1)[1]) or parse("")
        else:
            res = parse(text)
        for k in ("unit", "server", "rc", "seconds", "command"):
            res[k] = old.get(k)
        res["unit"], res["server"] = unit, server
        res["status"] = status(res, old.get("rc"))
        with open(jpath, "w") as fh:
            json.dump(res, fh, indent=1)
    return 0


def table(results):
    rows = [("unit", "passed", "failed", "skipped", "seconds", "status")]
    for r in results:
        rows.append((r["unit"], str(len(r["ok"])), str(len(r["err"]) + len(r["exception"])),
                     str(r["skipped"]), "%.0f" % r["seconds"], r["status"]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) if i in (0, 5) else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("units", nargs="*", help="e.g. unit/type/incr integration/rdb")
    ap.add_argument("--server", choices=("vermilion", "redis"), default="vermilion")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=600,
                    help="runtest's --timeout: seconds without progress before it gives up")
    ap.add_argument("--baseport", type=int, default=0,
                    help="runtest's --baseport (default: 21111 for redis, 25111 for vermilion, "
                         "so both can run at once)")
    ap.add_argument("--durable", action="store_true",
                    help="runtest's --durable: an exception inside a test fails that test only")
    ap.add_argument("--work", default=os.environ.get("VERMILION_TCL_WORK",
                                                     os.path.join(HERE, "work")))
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter that runs Vermilion (default: this one)")
    ap.add_argument("--root", default=ROOT,
                    help="the Vermilion checkout the wrapper runs (default: this one; e.g. a "
                         "clean `git worktree` while others edit this one)")
    ap.add_argument("--tree-name", default=None,
                    help="the tree's folder under the work folder (default: tree-<server>); "
                         "another name gives a second tree, so two runs of one server can "
                         "go at once")
    ap.add_argument("--results-name", default=None,
                    help="the results folder under work/results (default: <server>)")
    ap.add_argument("--prepare-only", action="store_true")
    ap.add_argument("--reparse", action="store_true",
                    help="only parse the kept logs of these units again (rewrite their .json)")
    ap.add_argument("-v", "--verbose", action="store_true", help="echo runtest's output")
    ap.add_argument("--runtest-arg", dest="runtest_args", action="append", default=[],
                    help="one more argument for runtest (repeatable)")
    ap.add_argument("--cluster-arg", dest="cluster_args", action="append", default=[],
                    help="one more argument for runtest-cluster (repeatable)")
    ap.add_argument("--cluster-timeout", type=int, default=900,
                    help="seconds per tests/cluster file before runtest-cluster is killed")
    ap.add_argument("--cluster-each", action="store_true",
                    help="one runtest-cluster (20 fresh servers) per tests/cluster file")
    ap.add_argument("--external", action="store_true",
                    help="external mode, as Redis's CI runs it: one server started here, "
                         "every unit run against it with --host/--port --tags -slow")
    args = ap.parse_args(argv)
    if not args.baseport:
        args.baseport = 21111 if args.server == "redis" else 25111
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    if args.reparse:
        return reparse(work, args.server, args.units)
    ensure_tools(args.server)
    tree = prepare_tree(work, args.server, args.python, os.path.abspath(args.root),
                        args.tree_name)
    log("tree: %s" % tree)
    if args.prepare_only:
        return 0
    if not args.units:
        ap.error("name at least one unit (e.g. unit/type/incr)")
    outdir = os.path.join(work, "results", args.results_name or (
        args.server + "-external" if args.external else args.server))
    os.makedirs(outdir, exist_ok=True)
    # runtest empties tests/tmp when it starts and ends: two runs in one tree delete
    # each other's server folders (seen as "cat: .../stderr: No such file" exceptions).
    # One run per tree at a time; the other server's tree is separate.
    lock = open(os.path.join(tree, ".vermilion-run.lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log("another run is using %s; waiting for it to end" % tree)
        fcntl.flock(lock, fcntl.LOCK_EX)
    units = []
    for unit in args.units:
        unit = unit[len("tests/"):] if unit.startswith("tests/") else unit
        unit = unit[:-4] if unit.endswith(".tcl") else unit
        for h in INSTANCE_HARNESSES:
            if unit.startswith(h + "/tests/"):
                unit = h + "/" + unit[len(h + "/tests/"):]
        if unit in ("cluster", "all-cluster"):
            units += instance_units(tree, "cluster")
        if unit == "sentinel":
            units += instance_units(tree, "sentinel")
        if unit in ("unit-cluster", "all-cluster"):
            units += UNIT_CLUSTER
        if unit == "all":
            units += all_units(tree)
        if unit not in ("cluster", "sentinel", "unit-cluster", "all-cluster", "all"):
            units.append(unit)
    results = []
    main_units = [u for u in units if not harness_of(u)]
    cl_units = [u for u in units if harness_of(u) == "cluster"]
    st_units = [u for u in units if harness_of(u) == "sentinel"]
    external = None
    if args.external:
        if len(main_units) != len(units):
            ap.error("--external runs units of ./runtest only (not cluster/ or sentinel/)")
        external = ExternalServer(tree, args.baseport + 7000, outdir)
        external.start()
    try:
        for unit in main_units:
            r = run_unit(tree, unit, args, outdir, external)
            results.append(r)
            log("%s: %d passed, %d failed, %s, %.0fs" % (
                unit, len(r["ok"]), len(r["err"]) + len(r["exception"]), r["status"],
                r["seconds"]))
    finally:
        if external is not None:
            external.stop()
    batches = [[u] for u in cl_units] if args.cluster_each else ([cl_units] if cl_units else [])
    if st_units:
        batches.append(st_units)
    for batch in batches:
        for r in run_cluster(tree, batch, args, outdir):
            results.append(r)
            log("%s: %d passed, %d failed, %s" % (
                r["unit"], len(r["ok"]), len(r["err"]) + len(r["exception"]), r["status"]))
    print("server: %s  (results in %s)" % (args.server, outdir))
    print(table(results))
    passed = sum(len(r["ok"]) for r in results)
    failed = sum(len(r["err"]) + len(r["exception"]) for r in results)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or any(r["status"] != "done" for r in results) else 0



if __name__ == "__main__":
    sys.exit(main())
