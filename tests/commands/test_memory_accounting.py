"""used_memory against what the process really allocates.

The dataset figure (core/memory.py, priced by keyspace/sizes.py) is compared
with ``tracemalloc``'s count of the bytes Python allocated while the same
commands ran on a real embedded server over a real socket. tracemalloc sees the
requested sizes, so the figure (which adds the allocators' rounding) may sit a
little above it, never far from it. Both modes are checked: maxmemory 0 (measured
on demand) and maxmemory set (running totals).
"""

# (ctypes: the server imports it on its first cron tick, core/memory.py's
# malloc_trim; imported here, that one-time ~190 KB is not counted as data when
# a measurement is the first thing a test process does)
import ctypes  # noqa: F401
import gc
import time
import tracemalloc

import pytest

from keyspace_helpers import on_loop
from support import RawConn
from vermilion.embed import start_server


def _enc(*args):
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def _measure(commands, maxmemory):
    """(dataset bytes added, bytes tracemalloc saw allocated) for ``commands``."""
    with start_server(maxmemory=maxmemory) as srv:
        c = RawConn("127.0.0.1", srv.port)
        c.call("PING")
        mem = srv.server.memory

        def dataset():
            if mem.tracked:
                mem.read_indexes(1.0)  # the smoothed share, caught up at once
            return mem.dataset()

        gc.collect()
        tracemalloc.start()
        try:
            d0 = on_loop(srv, dataset)
            t0 = tracemalloc.get_traced_memory()[0]
            for i in range(0, len(commands), 500):
                batch = commands[i : i + 500]
                c.send(b"".join(_enc(*cmd) for cmd in batch))
                for _ in batch:
                    c.read_reply()
            time.sleep(0.2)
            gc.collect()
            d1 = on_loop(srv, dataset)
            t1 = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        c.close()
        return d1 - d0, t1 - t0


# Key counts spread over a dict growth cycle (tables double at 2/3 full), so the
# comparison covers tables just grown and tables about to grow.
COUNTS = (8000, 12000, 16000)

WORKLOADS = {
    "strings 20B": lambda n: [("SET", "key:%012d" % i, "v" * 10 + "%010d" % i) for i in range(n)],
    "strings 1000B": lambda n: [
        ("SET", "key:%012d" % i, "v" * 990 + "%010d" % i) for i in range(n)
    ],
    "strings with TTL": lambda n: [
        ("SET", "key:%012d" % i, "v" * 90 + "%010d" % i, "EX", 10000) for i in range(n)
    ],
    "hashes": lambda n: [
        ("HSET", "h:%d" % (i // 50), "field:%d" % i, "value:%d" % i) for i in range(n)
    ],
    "lists": lambda n: [("RPUSH", "l:%d" % (i // 200), "element:%08d" % i) for i in range(n)],
    "sets": lambda n: [("SADD", "s:%d" % (i // 200), "member:%08d" % i) for i in range(n)],
    "sorted sets": lambda n: [
        ("ZADD", "z:%d" % (i // 200), i, "member:%08d" % i) for i in range(n)
    ],
}


@pytest.mark.parametrize("maxmemory", ["0", "1gb"], ids=["untracked", "tracked"])
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_dataset_figure_follows_real_allocations(workload, maxmemory):
    # small strings are where the tables weigh most: several counts; elsewhere one
    counts = COUNTS if workload in ("strings 20B", "strings with TTL") else (5000,)
    model = traced = 0
    for n in counts:
        m, t = _measure(WORKLOADS[workload](n), maxmemory)
        model += m
        traced += t
    ratio = model / traced
    assert 0.9 <= ratio <= 1.15, "%s: model %d, traced %d (%.3f)" % (workload, model, traced, ratio)
