"""Cursors for SCAN, HSCAN, SSCAN and ZSCAN.

Redis's cursor walks hash-table buckets in reverse-binary order, which keeps one
promise: an element present for the whole scan is returned at least once, even
if the table is resized meanwhile. A Python dict cannot be walked by position,
so Vermilion keeps the promise another way: the first call (cursor 0) takes a
*snapshot* of the container's keys (a C-speed ``list(d)``), later calls walk that
snapshot, and every element handed out is checked to still exist. Elements
present throughout are in the snapshot, so they are returned; elements deleted
meanwhile are skipped; elements added meanwhile may or may not be returned, as
Redis allows.

The cursor the client sees is ``offset << 20 | snapshot_id``. Snapshots live in
a small per-server LRU; a cursor whose snapshot was evicted restarts from a new
snapshot at the same offset (duplicates are allowed by the contract, and this
only happens with more concurrent scans than the LRU holds).

Small containers are answered in one call with cursor 0, like Redis's listpack
and intset encodings (``whole=True``).
"""

import collections
from ..errors import CommandError

_ID_BITS = 20
_ID_MASK = (1 << _ID_BITS) - 1
_MAX_SNAPSHOTS = 64


class ScanState:
    def __init__(self):
        self.snapshots = collections.OrderedDict()
        self.next_id = 1

    def take(self, keys):
        sid = self.next_id
        self.next_id = self.next_id % _ID_MASK + 1
        self.snapshots[sid] = keys
        while len(self.snapshots) > _MAX_SNAPSHOTS:
            self.snapshots.popitem(last=False)
        return sid


def _state(server):
    st = server._scan_state
    if st is None:
        st = server._scan_state = ScanState()
    return st


def scan_keys(server, container, cursor, count, whole=False):
    """One step of a scan over ``container`` (anything iterable with ``in``).

    Returns ``(next_cursor, keys)``; the caller filters keys by MATCH/TYPE and
    reads the values. ``keys`` are only those still present in ``container``.
    """
    if whole:
        return 0, list(container)
    st = _state(server)
    offset, sid = cursor >> _ID_BITS, cursor & _ID_MASK
    snap = st.snapshots.get(sid) if cursor else None
    if snap is None:
        snap = list(container)
        if not cursor:
            offset = 0
        sid = st.take(snap)
    else:
        st.snapshots.move_to_end(sid)
    end = offset + max(1, count)
    chunk = [k for k in snap[offset:end] if k in container]
    if end >= len(snap):
        st.snapshots.pop(sid, None)
        return 0, chunk
    return (end << _ID_BITS) | sid, chunk


def parse_cursor(b):
    """Redis's cursor argument, read like strtoul: optional sign, '-1' wraps, '' is 0."""
    if not b:
        return 0
    if b[:1].isspace():
        raise CommandError("ERR invalid cursor")
    sign = 1
    digits = b
    if b[:1] in (b"+", b"-"):
        sign = -1 if b[:1] == b"-" else 1
        digits = b[1:]
    if not digits.isdigit():
        raise CommandError("ERR invalid cursor")
    v = int(digits)
    if v >= 1 << 64:
        raise CommandError("ERR invalid cursor")
    return v if sign > 0 else ((1 << 64) - v) % (1 << 64)
