#!/usr/bin/env python3
"""Compare the last Tcl runs of redis-server and Vermilion (conformance/tcl/run.py's
``work/results/<server>/*.json``), in Markdown:

    conformance/tcl/compare.py [--work DIR] [--redis NAME] [--vermilion NAME] [UNIT...]
    conformance/tcl/compare.py --reference reference/redis-7.0.15-passed.txt \
        --vermilion vermilion-head-1 [UNIT...]

a table per unit (passed/failed on each server, and how many tests that pass on
redis-server do not pass on Vermilion), then those tests, unit by unit, with
Vermilion's assertion message (or "not run": the unit stopped before it).
Names are compared as multisets: a unit may run one test name several times
(once per encoding). ``--redis``/``--vermilion`` name the results folders
(work/results/NAME; default ``redis`` and ``vermilion``). With ``--reference LIST``
redis-server's side is a pass list (ratchet.py's format, e.g. the two-run reference):
its "redis passed" is the number of listed tests, "redis failed" is left empty, and
Vermilion's names are normalised as ratchet.py does (random numbers, time-bound loops).
"""
import argparse
import collections
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ratchet  # noqa: E402


def load(work, server):
    out = {}
    for path in glob.glob(os.path.join(work, "results", server, "*.json")):
        r = json.load(open(path))
        out[r["unit"]] = r
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("units", nargs="*")
    ap.add_argument("--work", default=os.environ.get("VERMILION_TCL_WORK",
                                                     os.path.join(HERE, "work")))
    ap.add_argument("--redis", default="redis", help="redis-server's results folder name")
    ap.add_argument("--vermilion", default="vermilion", help="Vermilion's results folder name")
    ap.add_argument("--reference", help="a pass list to use as redis-server's side")
    args = ap.parse_args(argv)
    verm = load(args.work, args.vermilion)
    if args.reference:
        redis = {}
        for unit, names in ratchet.read_list(args.reference).items():
            redis[unit] = {"unit": unit, "ok": list(names.elements()), "err": [],
                           "exception": []}
        for unit, v in verm.items():   # Vermilion's names as the list has them
            v["ok"] = list(ratchet.passed(v).elements())
            v["err"] = [ratchet.normalise(unit, n) for n in v["err"]]
    else:
        redis = load(args.work, args.redis)
    units = args.units or sorted(set(redis) & set(verm))
    print("| unit | redis passed | redis failed | Vermilion passed | Vermilion failed "
          "| pass on redis, not on Vermilion | Vermilion status |")
    print("|---|---:|---:|---:|---:|---:|---|")
    totals = [0, 0, 0, 0, 0]
    gaps = []
    for unit in units:
        r, v = redis.get(unit), verm.get(unit)
        if r is None or v is None:
            print("| %s | %s | | %s | | | missing run |" % (
                unit, "-" if r is None else len(r["ok"]), "-" if v is None else len(v["ok"])))
            continue
        missing = collections.Counter(r["ok"]) - collections.Counter(v["ok"])
        n_missing = sum(missing.values())
        row = [len(r["ok"]), len(r["err"]) + len(r["exception"]),
               len(v["ok"]), len(v["err"]) + len(v["exception"]), n_missing]
        totals = [a + b for a, b in zip(totals, row)]
        cells = ["%d" % c for c in row]
        if args.reference:
            cells[1] = "-"     # a pass list has no failures
        print("| %s | %s | %s |" % (unit, " | ".join(cells), v["status"]))
        if n_missing:
            gaps.append((unit, v, missing))
    print("| **total** | %d | %d | %d | %d | %d | |" % tuple(totals))
    if totals[0]:
        print("\nVermilion passes %d of the %d tests redis-server passes (%.1f%%)."
              % (totals[0] - totals[4], totals[0], 100.0 * (totals[0] - totals[4]) / totals[0]))
    for unit, v, missing in gaps:
        print("\n### %s\n" % unit)
        errs = set(v["err"])
        for name in sorted(missing):
            why = v.get("why", {}).get(name, "") if name in errs else "not run"
            if name not in errs and v["exception"]:
                if name == v.get("exception_test"):
                    why = "exception: %s" % v["exception"][0][:200]
                else:
                    why = "not run (after an exception in `%s`)" % v.get("exception_test", "?")
            # (a reason may quote raw bytes, such as a NUL-separated /proc cmdline)
            why = why.replace("\0", "\\0")
            print("- `%s`%s — %s" % (name, " (x%d)" % missing[name] if missing[name] > 1 else "",
                                    why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
