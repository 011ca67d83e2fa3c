#!/usr/bin/env python3
"""Pass lists made from conformance/tcl/run.py's results, and the check against one.

A list has one ``unit<TAB>test name`` line per test, sorted; ``#`` lines are comments.
A test a unit runs k times under one name (once per encoding, say) is listed k times.
Test names that carry a random number (a randomly chosen node, a random count) are
normalised by NORMALISE below (the number becomes ``N``) so that two runs name them
alike, and the units of ONCE (loops bounded by time) count each name once; tests whose
name still differs between runs simply do not make the list.

    ratchet.py make OUT RESULTS_DIR... [--header TEXT] [--units FILE] [--ended-only]
        tests that passed in EVERY results folder (work/results/<name>), as a list
        (--ended-only: leave out the units that timed out or were cut short in a run)
    ratchet.py units LIST
        the units a list names (one per line), for run.py
    ratchet.py check LIST RESULTS_DIR
        every listed test must have passed in RESULTS_DIR; a unit whose run did not
        end (runtest's timeout, the harness killed or crashed, no result at all) fails
        all its listed tests. (A unit that stops at an [exception] counts the tests
        that passed before it: the tests after it did not run, so they fail.) Prints the per-unit table and ``N passed, M
        failed`` (of the listed tests); exit status 1 when M > 0.
"""
import argparse
import collections
import json
import os
import re
import sys

# (unit pattern, name pattern, replacement): names with random numbers in them.
NORMALISE = [
    # integration/psync2: the cycle's randomly chosen master and replicas, and the
    # number of writes of the load generator
    (r"^integration/psync2$", re.compile(r"#\d+"), "#N"),
    (r"^integration/psync2$", re.compile(r"\(x = \d+\)"), "(x = N)"),
    (r"^integration/psync2$", re.compile(r"CYCLE \d+"), "CYCLE N"),
    # tests/cluster/03-failover-loop: the randomly killed instance
    (r"^cluster/03-failover-loop$", re.compile(r"#\d+"), "#N"),
    (r"^cluster/03-failover-loop$", re.compile(r"\d+"), "N"),
]


# Units that repeat tests in a loop bounded by time, not by count (psync2's cycles,
# psync2-reg's kill loop): how often a name passes depends on the machine's speed, so
# each name counts once.
ONCE = {"integration/psync2", "integration/psync2-reg"}


def normalise(unit, name):
    for upat, npat, repl in NORMALISE:
        if re.search(upat, unit):
            name = npat.sub(repl, name)
    return name.replace("\t", " ").replace("\n", " ")


def load(folder):
    out = {}
    for fn in sorted(os.listdir(folder)):
        if fn.endswith(".json"):
            r = json.load(open(os.path.join(folder, fn)))
            out[r["unit"]] = r
    return out


def ended(status):
    """The unit's runtest ran to its end, or stopped at an [exception] (not a timeout,
    not killed/crashed, not missing)."""
    return status in ("done", "exception")


def passed(res):
    got = collections.Counter(normalise(res["unit"], n) for n in res["ok"])
    if res["unit"] in ONCE:
        got = collections.Counter(set(got))
    return got


def read_list(path):
    out = collections.OrderedDict()
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        unit, name = line.split("\t", 1)
        out.setdefault(unit, collections.Counter())[name] += 1
    return out


def cmd_make(args):
    runs = [load(d) for d in args.results]
    units = set(runs[0])
    for r in runs[1:]:
        units &= set(r)
    if args.units:
        wanted = [u.strip() for u in open(args.units) if u.strip() and not u.startswith("#")]
        units &= set(wanted)
    if args.ended_only:
        for unit in sorted(units):
            bad = [r[unit]["status"] for r in runs if not ended(r[unit]["status"])]
            if bad:
                sys.stderr.write("ratchet.py: %s left out (%s)\n" % (unit, ", ".join(bad)))
                units.discard(unit)
    lines = []
    for unit in sorted(units):
        common = passed(runs[0][unit])
        for r in runs[1:]:
            common &= passed(r[unit])
        for name, k in common.items():
            lines += ["%s\t%s" % (unit, name)] * k
    lines.sort()
    with open(args.out, "w", encoding="utf-8") as fh:
        for h in args.header:
            fh.write("# %s\n" % h if h else "#\n")
        fh.write("\n".join(lines) + ("\n" if lines else ""))
    sys.stderr.write("ratchet.py: %d tests in %d units written to %s\n"
                     % (len(lines), len({l.split("\t")[0] for l in lines}), args.out))
    return 0


def cmd_units(args):
    for unit in read_list(args.list):
        print(unit)
    return 0


def cmd_check(args):
    listed = read_list(args.list)
    got = load(args.results) if os.path.isdir(args.results) else {}
    rows = [("unit", "listed", "passed", "failed", "seconds", "status")]
    total_ok = total_bad = 0
    missing = []
    for unit, want in listed.items():
        res = got.get(unit)
        n = sum(want.values())
        if res is None:
            ok, status, secs = 0, "no result", 0.0
        else:
            status, secs = res["status"], res.get("seconds") or 0.0
            ok = sum((want & passed(res)).values()) if ended(status) else 0
        bad = n - ok
        if bad:
            have = passed(res) if res is not None and ended(status) else collections.Counter()
            for name in sorted(want - have):
                missing.append((unit, name, status))
        total_ok += ok
        total_bad += bad
        rows.append((unit, str(n), str(ok), str(bad), "%.0f" % secs, status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) if j in (0, 5) else c.rjust(w)
                        for j, (c, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if missing:
        print("\nlisted tests that did not pass:")
        for unit, name, status in missing:
            print("  %s\t%s%s" % (unit, name, "" if status == "done" else "  (unit: %s)" % status))
    print("%d passed, %d failed" % (total_ok, total_bad))
    return 1 if total_bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("out")
    m.add_argument("results", nargs="+")
    m.add_argument("--header", action="append", default=[])
    m.add_argument("--units", help="a file of units: keep only these")
    m.add_argument("--ended-only", action="store_true",
                   help="leave out units that timed out or were cut short in a run")
    u = sub.add_parser("units")
    u.add_argument("list")
    c = sub.add_parser("check")
    c.add_argument("list")
    c.add_argument("results")
    args = ap.parse_args(argv)
    return {"make": cmd_make, "units": cmd_units, "check": cmd_check}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
