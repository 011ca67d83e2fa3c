"""What a key costs in memory, and the small values keys share.

Redis asks its allocator how much memory it holds. A Python server can ask
``sys.getsizeof`` what an object *requested*, and knows how CPython's two
allocators round those requests:

* objects of up to 512 bytes come from pymalloc, in size classes 16 bytes apart
  (a 49-byte ``bytes`` takes a 64-byte block);
* bigger ones come from the C library's ``malloc``, which adds an 8-byte header
  and rounds the chunk to 16 bytes.

:func:`alloc` applies that rounding; :func:`key_cost` uses it to price one key
(its ``bytes`` key object and its value) the way the allocators will charge for
it. The dicts that index every key (``data``, ``lru``, ``expires``) are not
priced per key: what one more key costs a dict swings between 27 and 90 bytes
(tables double when two thirds full, and deleted slots are only reclaimed when a
table is rebuilt, so a keyspace under eviction churn sits at the top of that
range), so :func:`index_cost` asks each dict for its real size instead, and adds
the expiry times' ints and the expiry heap's tuples (stale ones included until
the heap is compacted). Measured against ``tracemalloc``
(tests/commands/test_memory_accounting.py) the figure is within 10% for strings,
TTLs and collections.

**Shared values.** Many keys hold the same short value ("1", "OK", a flag), so,
like Redis's shared integers, SET interns short values in a bounded pool
(:data:`SHARED`) and a key holding a shared value pays nothing for it.

Collections are priced by :func:`value_size`, which MEMORY USAGE also answers
with: the container's own size plus a sample of its elements, extrapolated (a
list's elements as they are stored: in RESP bulk form).
"""

import sys

_getsizeof = sys.getsizeof
BYTES_HEADER = _getsizeof(b"")  # 33 on 64-bit CPython
EXPIRE_INT = 32  # the int of an expiry time in ms
HEAP_ENTRY = 64 + 8  # a (when, key) tuple and its list slot

# ---------------------------------------------------------------- sharing
SHARED: dict = {}
SHARED_MAX_LEN = 16
SHARED_MAX = 1 << 14


# ---------------------------------------------------------------- pricing
def alloc(n):
    """Bytes the allocator hands out for a request of ``n`` bytes."""
    if n <= 512:
        return (n + 15) & ~15
    return (n + 8 + 15) & ~15


def key_cost(key, v, samples=16):
    """A key and its value, whatever the type (collections sampled); a string
    value shared with other keys is free."""
    n = alloc(BYTES_HEADER + len(key))
    if v.__class__ is bytes:
        if len(v) > SHARED_MAX_LEN or SHARED.get(v) is not v:
            n += alloc(BYTES_HEADER + len(v))
        return n
    return n + value_size(v, samples)


def index_cost(db):
    """The indexes of one database as they are now: its dicts' tables (growth
    steps and reclaimable slots included), the expiry ints and heap tuples."""
    return (
        _getsizeof(db.data)
        + _getsizeof(db.lru)
        + _getsizeof(db.expires)
        + len(db.expires) * EXPIRE_INT
        + len(db._heap) * HEAP_ENTRY
    )


def value_size(v, samples=5):
    """An estimate of the bytes a value takes: the container plus its elements, the
    elements sampled (``samples`` of them, 0 = all) and extrapolated like Redis."""
    getsizeof = _getsizeof
    cls = v.__class__
    if cls is bytes or cls is bytearray:
        return getsizeof(v)
    size = getsizeof(v)
    n = len(v) if hasattr(v, "__len__") else 0
    if not n:
        return size
    limit = n if samples <= 0 else min(n, samples)
    name = cls.__name__
    if name == "ZSet":
        it = iter(v.dict.items())
        per = 0
        for _ in range(limit):
            m, s = next(it)
            per += getsizeof(m) + getsizeof(s) + 2 * 8
        size += getsizeof(v.dict)
    elif name == "RList":
        # getsizeof(v) counts a packed list's bulks and lengths, or else the deque;
        # a deque's elements are kept in their RESP bulk form (header and CRLF
        # included): price what is stored
        if v.packed:
            return size
        it = v.bulks()
        per = 0
        for _ in range(limit):
            per += getsizeof(next(it))
    elif name == "PackedHash" or name == "PackedZSet" or name == "PackedSet":
        return size  # (getsizeof(v) counts its bytes object)
    elif isinstance(v, dict):
        it = iter(v.items())
        per = 0
        for _ in range(limit):
            f, val = next(it)
            per += getsizeof(f) + getsizeof(val)
    else:
        it = iter(v)
        per = 0
        for _ in range(limit):
            x = next(it)
            per += getsizeof(x)
    return size + per * n // limit
