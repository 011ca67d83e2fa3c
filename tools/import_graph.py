#!/usr/bin/env python3
"""The package's import graph, read as floors (docs/ARCHITECTURE.md).

    python tools/import_graph.py [--edges]

Each module belongs to a floor by its path (FLOORS below). A module may import
from its own floor and the floors beneath it; an import that goes *up* a floor
is printed as a violation, with its line. Imports inside functions count like
the others (they are edges all the same, only later). ``--edges`` prints every
edge between floors too. Exit status 1 if there is a cycle or a violation.
"""

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "vermilion"

# (floor number, name, module prefixes), most specific prefix wins.
FLOORS = [
    (
        1,
        "base",
        [
            "vermilion.version",
            "vermilion.errors",
            "vermilion.util",
            "vermilion.globmatch",
            "vermilion.core.bootstrap",
        ],
    ),  # (a hook list)
    (2, "protocol", ["vermilion.protocol"]),
    (
        3,
        "types",
        [
            "vermilion.types",
            "vermilion.cluster.slots",
            "vermilion.persistence.lzf",
            "vermilion.persistence.crc64",
            "vermilion.persistence.listpack",
            "vermilion.persistence.ziplist",
            "vermilion.persistence.intset",
            "vermilion.persistence.zipmap",
            "vermilion.persistence.intconv",
            "vermilion.persistence.errors",
        ],
    ),
    (
        4,
        "keyspace",
        [
            "vermilion.keyspace.db",
            "vermilion.keyspace.lru",
            "vermilion.keyspace.scan",
            "vermilion.keyspace.sizes",
            "vermilion.keyspace.expire",
            "vermilion.keyspace",
        ],
    ),
    (5, "core", ["vermilion.core"]),
    (
        6,
        "features",
        [
            "vermilion.acl",
            "vermilion.cluster",
            "vermilion.keyspace.blocking",
            "vermilion.keyspace.evict",
            "vermilion.persistence",
            "vermilion.replication",
            "vermilion.scripting",
            "vermilion.server.tls",
            "vermilion.server.process",
            "vermilion.server.stats",
            "vermilion.server.querybuf",
            "vermilion.server.client_eviction",
            "vermilion.server.pause",
            "vermilion.server.latency",
        ],
    ),
    (7, "commands", ["vermilion.commands"]),
    (
        8,
        "io",
        [
            "vermilion.server",
            "vermilion.embed",
            "vermilion.__main__",
            "vermilion.pytest_plugin",
            "vermilion.check_rdb",
            "vermilion",
        ],
    ),
]


def floor_of(mod):
    best = None
    for num, name, prefixes in FLOORS:
        for p in prefixes:
            if mod == p or mod.startswith(p + "."):
                if best is None or len(p) > best[2]:
                    best = (num, name, len(p))
    return best[:2] if best else (8, "io")


def modules():
    out = {}
    for f in ROOT.rglob("*.py"):
        rel = f.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def edges(mods):
    found = {}
    for m, f in mods.items():
        is_pkg = f.name == "__init__.py"
        for n in ast.walk(ast.parse(f.read_text())):
            if isinstance(n, ast.Import):
                names = [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom):
                if n.level:
                    base = m.split(".") if is_pkg else m.split(".")[:-1]
                    base = base[: len(base) - (n.level - 1)]
                    prefix = ".".join(base + ([n.module] if n.module else []))
                else:
                    prefix = n.module or ""
                # "from pkg import mod" depends on mod, not on the package
                subs = [prefix + "." + a.name for a in n.names]
                names = [t for t in subs if t in mods] or [prefix]
            else:
                continue
            for t in names:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != m:
                    found.setdefault((m, t), n.lineno)
    return found


def main():
    mods = modules()
    es = edges(mods)
    up = [(a, b, ln) for (a, b), ln in es.items() if floor_of(b)[0] > floor_of(a)[0]]
    by_floor = {}
    for m in mods:
        by_floor.setdefault(floor_of(m), []).append(m)
    for (num, name), ms in sorted(by_floor.items()):
        print("floor %d %-9s %3d modules" % (num, name, len(ms)))
    print("%d import edges, %d going up a floor" % (len(es), len(up)))
    for a, b, ln in sorted(up):
        print("  up: %s:%d -> %s (%s -> %s)" % (a, ln, b, floor_of(a)[1], floor_of(b)[1]))
    if "--edges" in sys.argv:
        for a, b in sorted(es):
            if floor_of(a) != floor_of(b):
                print("  %s -> %s" % (a, b))
    return 1 if up else 0


if __name__ == "__main__":
    sys.exit(main())
