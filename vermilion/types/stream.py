"""The stream: entries ordered by ID, consumer groups, pending entries lists.

What a stream must do
---------------------
A Redis stream is an append-only log of entries. Each entry has an ID, two
unsigned 64-bit numbers ``<ms>-<seq>`` compared as one 128-bit number, and a
list of field/value pairs. New entries always get an ID greater than every ID
the stream ever had (``last_id``); the log is read by ID range in either
direction, trimmed from the head (by length or by minimum ID), and single
entries can be deleted anywhere (XDEL). Consumer groups remember how far they
read and which delivered entries were not acknowledged yet.

IDs are Python ints
-------------------
An ID is held as the single int ``ms << 64 | seq``: comparing, sorting and
bisecting IDs is then one C-level int comparison, and the 128-bit ordering is
exactly Redis's (it compares the big-endian encoding). :func:`format_id` spells
one ``b"ms-seq"``.

Nodes, as Redis has them
------------------------
Redis stores a stream as a radix tree of *listpacks*: each node holds up to
``stream-node-max-entries`` entries (100) or about ``stream-node-max-bytes``
bytes (4096), keyed by the ID of its first ("master") entry. That layout leaks
into replies: approximate trimming (``MAXLEN ~``/``MINID ~``) only removes
*whole* nodes, so ``XTRIM ~`` deletes a number of entries that depends on where
the node boundaries fall; and ``XINFO STREAM`` reports ``radix-tree-keys`` and
``radix-tree-nodes``. So a :class:`Stream` keeps the same nodes (class
:class:`_Node`): ``nodes`` in ID order and ``starts``, their master IDs, to
bisect. Inside a node, ``ids`` and ``data`` are parallel lists of the live
entries (``data[i]`` the flat ``[field, value, ...]`` list as given to XADD).

Redis never removes an entry from a listpack: XDEL and exact trimming only flag
it deleted (a *tombstone*), and the entry still counts toward the node being
full and still takes its bytes. So a deleted entry moves from ``ids``/``data``
to the node's ``dead`` dict (ID -> fields), where reads never look but the RDB
writer does (it writes the listpack Redis would have, tombstones included). A
node also keeps the last ID ever stored in it (``last``: MINID trimming drops a
node when that is below the minimum) and its master ID (the first ID ever
stored: what ``streamGetEdgeID`` sees when it does not skip tombstones). The
byte size (``fixed`` + the two header counters) is computed exactly as
listpack.c encodes each element (:func:`_elem_size`), because Redis opens a new
node when ``bytes + new entry's raw length >= stream-node-max-bytes``.

A node whose last live entry is XDEL'ed is removed, as Redis does; a node
emptied by exact trimming stays (with only tombstones), as in Redis.

Consumer groups
---------------
:class:`Group` (``last_id``, ``entries_read``, ``pel``, ``consumers``),
:class:`Consumer` (``name``, ``seen_time``, ``pel``), and :class:`NACK`
(``consumer``, ``delivery_time``, ``delivery_count``): one NACK object is shared
by the group's PEL and its consumer's PEL, like Redis's streamNACK. A PEL
(:class:`PEL`) is a dict ID -> NACK plus a lazily sorted key list, since
entries are nearly always added in increasing ID order (appends) and removed in
any order (marked stale, skipped, and compacted when they pile up).
"""

from bisect import bisect_left, bisect_right

from ..util import parse_ll

MASK64 = (1 << 64) - 1
UINT64_MAX = MASK64
ID_MAX = (1 << 128) - 1
STREAM_LISTPACK_MAX_SIZE = 1 << 30
INVALID_ENTRIES_READ = -1  # SCG_INVALID_ENTRIES_READ

_LP_HEADER_AND_EOF = 7  # 32-bit total bytes + 16-bit count, and the 0xFF terminator


def format_id(i):
    """``b"ms-seq"`` for an ID int."""
    return b"%d-%d" % (i >> 64, i & MASK64)


def make_id(ms, seq):
    return (ms << 64) | seq


# ------------------------------------------------------------ listpack sizes
def _int_size(v):
    """Bytes a listpack integer element takes (encoding + backlen), listpack.c."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -2147483648 <= v <= 2147483647:
        return 6
    return 10


def _backlen_size(n):
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


_INT_START = frozenset(b"-0123456789")


def _elem_size(b):
    """Bytes a string element takes in a listpack (integer-looking ones as integers)."""
    n = len(b)
    if n < 21 and n and b[0] in _INT_START:
        v = parse_ll(b)
        if v is not None:
            return _int_size(v)
    if n < 64:
        return n + 2
    enc = n + (2 if n < 4096 else 5)
    return enc + _backlen_size(enc)


def _signed64(v):
    """A difference of two uint64 stored with lpAppendInteger (int64_t)."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


class _Node:
    """One listpack of Redis's stream radix tree (see the module doc)."""

    __slots__ = ("master", "mfields", "ids", "data", "dead", "fixed", "last")

    def __init__(self, master, mfields):
        self.master = master  # ID of the master entry (first ever stored here)
        self.mfields = mfields  # the master entry's field names (list)
        self.ids = []  # live entry IDs, ascending
        self.data = []  # their [field, value, ...] lists
        self.dead = {}  # tombstones: ID -> fields (flagged deleted entries)
        self.last = master  # last ID ever stored here (tombstones included)
        # listpack bytes, except the 'count' and 'deleted' integers of the header
        fixed = _LP_HEADER_AND_EOF + _int_size(len(mfields)) + 2  # num-fields, 0 terminator
        for f in mfields:
            fixed += _elem_size(f)
        self.fixed = fixed

    def lp_bytes(self):
        return self.fixed + _int_size(len(self.ids)) + _int_size(len(self.dead))

    def copy(self):
        n = _Node.__new__(_Node)
        n.master = self.master
        n.mfields = self.mfields
        n.ids = self.ids[:]
        n.data = self.data[:]
        n.dead = dict(self.dead)
        n.last = self.last
        n.fixed = self.fixed
        return n


# ------------------------------------------------------------ groups and PELs
class NACK:
    """A delivered, not yet acknowledged entry (streamNACK)."""

    __slots__ = ("consumer", "delivery_time", "delivery_count")

    def __init__(self, consumer, delivery_time, delivery_count=1):
        self.consumer = consumer
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count


class PEL:
    """Pending entries: ID -> NACK, iterable in ID order (a rax in Redis)."""

    __slots__ = ("d", "_keys", "_stale", "_unsorted")

    def __init__(self):
        self.d = {}
        self._keys = []  # ascending IDs; may hold IDs no longer in d
        self._stale = 0
        self._unsorted = False  # an ID was added out of order: rebuild _keys

    def __len__(self):
        return len(self.d)

    def __contains__(self, i):
        return i in self.d

    def get(self, i):
        return self.d.get(i)

    def add(self, i, nack):
        """Insert ``i`` (not present)."""
        self.d[i] = nack
        keys = self._keys
        if not self._unsorted:
            if not keys or i > keys[-1]:
                keys.append(i)
            else:
                self._unsorted = True

    def remove(self, i):
        if self.d.pop(i, None) is not None:
            self._stale += 1
            return True
        return False

    def keys(self):
        """The sorted key list (may contain stale IDs: check ``in self.d``)."""
        if self._unsorted or self._stale > 32 and self._stale * 2 > len(self._keys):
            self._keys = sorted(self.d)
            self._stale = 0
            self._unsorted = False
        return self._keys

    def iter_from(self, start=0, end=ID_MAX):
        """(id, nack) with start <= id <= end, ascending (tolerates removals while iterating)."""
        keys = self.keys()
        d = self.d
        i = bisect_left(keys, start) if start else 0
        n = len(keys)
        while i < n:
            k = keys[i]
            i += 1
            if k > end:
                return
            nack = d.get(k)
            if nack is not None:
                yield k, nack

    def first(self):
        for k, _ in self.iter_from():
            return k
        return None

    def last(self):
        keys = self.keys()
        d = self.d
        for j in range(len(keys) - 1, -1, -1):
            if keys[j] in d:
                return keys[j]
        return None

    def items(self):
        return self.iter_from()


class Consumer:
    __slots__ = ("name", "seen_time", "pel")

    def __init__(self, name, seen_time):
        self.name = name
        self.seen_time = seen_time
        self.pel = PEL()


class Group:
    __slots__ = ("name", "last_id", "entries_read", "pel", "consumers")

    def __init__(self, name, last_id, entries_read):
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel = PEL()
        self.consumers = {}

    def sorted_consumers(self):
        """Consumers in rax order (bytewise, shorter prefix first: Python's bytes order)."""
        cs = self.consumers
        return [cs[k] for k in sorted(cs)]

    def lookup_consumer(self, name, now=None):
        """streamLookupConsumer: refreshes seen_time unless ``now`` is None."""
        cons = self.consumers.get(name)
        if cons is not None and now is not None:
            cons.seen_time = now
        return cons

    def create_consumer(self, name, now):
        """A new consumer, or None if it exists."""
        if name in self.consumers:
            return None
        cons = self.consumers[name] = Consumer(name, now)
        return cons

    def delete_consumer(self, cons):
        """streamDelConsumer: its pending entries leave the group PEL too."""
        gpel = self.pel
        for i, _ in list(cons.pel.iter_from()):
            gpel.remove(i)
        del self.consumers[cons.name]


# -------------------------------------------------------------------- Stream
class Stream:
    """A Redis stream (see the module doc)."""

    __slots__ = (
        "nodes",
        "starts",
        "length",
        "last_id",
        "first_id",
        "max_deleted_id",
        "entries_added",
        "groups",
    )
    type_name = "stream"

    def __init__(self):
        self.nodes = []  # _Node objects in ID order
        self.starts = []  # their master IDs (bisect)
        self.length = 0
        self.last_id = 0
        self.first_id = 0  # "recorded-first-entry-id"
        self.max_deleted_id = 0
        self.entries_added = 0
        self.groups = {}  # name -> Group

    # ------------------------------------------------------------ basics
    def __len__(self):
        """Elements to free (lazy free effort); the stream itself is never "empty"."""
        return self.length

    def __bool__(self):
        return True

    def __iter__(self):
        """The live entries, ascending, as (id, fields) (generic code: MEMORY USAGE...)."""
        return self.entries()

    def object_encoding(self):
        return b"stream"

    def __repr__(self):
        return "Stream(len=%d, last=%s)" % (self.length, format_id(self.last_id).decode())

    def copy(self):
        """streamDup: the same nodes, groups, PELs and consumers, all independent."""
        s = Stream()
        s.nodes = [n.copy() for n in self.nodes]
        s.starts = self.starts[:]
        s.length = self.length
        s.last_id = self.last_id
        s.first_id = self.first_id
        s.max_deleted_id = self.max_deleted_id
        s.entries_added = self.entries_added
        for name, g in self.groups.items():
            ng = Group(name, g.last_id, g.entries_read)
            nacks = {}
            for i, nack in g.pel.items():
                nn = nacks[i] = NACK(None, nack.delivery_time, nack.delivery_count)
                ng.pel.add(i, nn)
            for cname, cons in g.consumers.items():
                nc = Consumer(cname, cons.seen_time)
                ng.consumers[cname] = nc
                for i, _ in cons.pel.items():
                    nn = nacks[i]
                    nn.consumer = nc
                    nc.pel.add(i, nn)
            s.groups[name] = ng
        return s

    def free_some(self, budget):
        """Drop up to ``budget`` entries (whole nodes, from the tail); for lazy free."""
        freed = 0
        nodes = self.nodes
        while nodes and freed < budget:
            n = nodes.pop()
            self.starts.pop()
            freed += len(n.ids) + 1
            self.length -= len(n.ids)
        if not nodes:
            self.length = 0
            self.groups = {}
        return max(freed, 1)

    # ------------------------------------------------------------ IDs
    def next_id(self, now_ms):
        """streamNextID: the ID "*" stands for (None if the ID space is exhausted)."""
        last = self.last_id
        if now_ms > last >> 64:
            return now_ms << 64
        if last == ID_MAX:
            return None
        return last + 1

    def id_for(self, use_id, seq_given, now_ms):
        """The ID XADD would use (streamAppendItem's first half); None if not > last_id.

        -1 when ``<ms>-*`` finds the sequence of ``ms`` exhausted (Redis then answers
        "Elements are too large to be stored", errno being left unset).
        """
        last = self.last_id
        if use_id is None:
            i = self.next_id(now_ms)
        elif seq_given:
            i = use_id
        else:
            if last >> 64 == use_id >> 64:
                if last & MASK64 == MASK64:
                    return -1  # Redis fails without setting errno: "too large" reply
                i = last + 1
            else:
                i = use_id
        if i is None or i <= last:
            return None
        return i

    # ------------------------------------------------------------ writing
    def append(self, i, fv, max_entries, max_bytes, tot=None):
        """Add entry ``i`` (> last_id, checked by the caller) with fields/values ``fv``.

        ``max_entries``/``max_bytes`` are stream-node-max-entries/-bytes: when the
        tail node is full a new node starts, exactly where Redis would start one.
        ``tot`` is the summed length of ``fv`` if the caller has it.
        """
        nodes = self.nodes
        nf2 = len(fv)
        if tot is None:
            tot = sum(map(len, fv))
        node = nodes[-1] if nodes else None
        if node is not None:
            live = len(node.ids)
            n = live + len(node.dead)
            # the header's two counters (live, deleted): one byte each below 128
            lp = node.fixed + (4 if n < 128 else _int_size(live) + _int_size(n - live))
            if max_bytes == 0 or max_bytes > STREAM_LISTPACK_MAX_SIZE:
                max_bytes = STREAM_LISTPACK_MAX_SIZE
            if lp + tot >= max_bytes or (max_entries and n >= max_entries):
                node = None
        if node is None:
            node = _Node(i, fv[0::2])
            nodes.append(node)
            self.starts.append(i)
            same = True
        else:
            mf = node.mfields
            if nf2 == 2:
                same = len(mf) == 1 and fv[0] == mf[0]
            else:
                same = len(mf) == nf2 >> 1 and fv[0::2] == mf
        # the entry: flags, ms-diff, seq-diff, [num-fields], [field], value..., lp-count
        master = node.master
        dms = (i >> 64) - (master >> 64)
        dseq = (i & MASK64) - (master & MASK64)
        if (dms | dseq) >> 7:  # (zero only when both are in 0..127: one byte each)
            size = 2 + _int_size(_signed64(dms)) + _int_size(_signed64(dseq))
        else:
            size = 6
        if same:
            if nf2 == 2:
                v = fv[1]
                k = len(v)
                if k < 64 and (not k or v[0] not in _INT_START):
                    size += k + 4  # (a short string: _elem_size's k + 2, and lp-count's 2)
                else:
                    size += _elem_size(v) + 2
            else:
                for x in fv[1::2]:
                    size += _elem_size(x)
                size += _int_size((nf2 >> 1) + 3)
        else:
            size += _int_size(nf2 >> 1)
            for x in fv:
                size += _elem_size(x)
            size += _int_size(nf2 + 4)
        node.fixed += size
        node.ids.append(i)
        node.data.append(fv)
        node.last = i
        self.last_id = i
        self.entries_added += 1
        self.length += 1
        if self.length == 1:
            self.first_id = i

    def _find(self, i):
        """(node index, position) of live entry ``i``, or None."""
        k = bisect_right(self.starts, i) - 1
        if k < 0:
            return None
        ids = self.nodes[k].ids
        j = bisect_left(ids, i)
        if j < len(ids) and ids[j] == i:
            return k, j
        return None

    def get(self, i):
        """The field/value list of live entry ``i``, or None."""
        f = self._find(i)
        if f is None:
            return None
        return self.nodes[f[0]].data[f[1]]

    def __contains__(self, i):
        return self._find(i) is not None

    def delete(self, i):
        """Delete live entry ``i`` (streamDeleteItem); True if it was there.

        Only removes the entry: first_id/max_deleted_id are the caller's (XDEL's) job.
        """
        f = self._find(i)
        if f is None:
            return False
        k, j = f
        node = self.nodes[k]
        if len(node.ids) == 1:
            del self.nodes[k]
            del self.starts[k]
        else:
            node.dead[i] = node.data.pop(j)
            del node.ids[j]
        self.length -= 1
        return True

    def trim(self, maxlen=None, minid=None, approx=False, limit=0):
        """streamTrim by MAXLEN (``maxlen``) or MINID (``minid``); returns entries deleted."""
        nodes = self.nodes
        starts = self.starts
        deleted = 0
        by_len = maxlen is not None
        while nodes:
            if by_len and self.length <= maxlen:
                break
            node = nodes[0]
            entries = len(node.ids)
            if limit and deleted + entries > limit:
                break
            if by_len:
                remove = self.length - entries >= maxlen
            else:
                remove = node.last < minid
            if remove:
                del nodes[0]
                del starts[0]
                self.length -= entries
                deleted += entries
                continue
            if approx:
                break
            if by_len:
                k = self.length - maxlen
            else:
                k = bisect_left(node.ids, minid)
            if k > 0:
                node.dead.update(zip(node.ids[:k], node.data[:k]))
                del node.ids[:k]
                del node.data[:k]
                self.length -= k
                deleted += k
            break
        if self.length == 0:
            self.first_id = 0
        elif deleted:
            self.first_id = self.first_live_id()
        return deleted

    # ------------------------------------------------------------ reading
    def first_live_id(self):
        """streamGetEdgeID(first, skip tombstones); ID_MAX when there is no entry."""
        for node in self.nodes:
            if node.ids:
                return node.ids[0]
        return ID_MAX

    def last_live_id(self):
        """streamLastValidID: the last entry's ID, or 0 if the stream has none."""
        nodes = self.nodes
        for k in range(len(nodes) - 1, -1, -1):
            ids = nodes[k].ids
            if ids:
                return ids[-1]
        return 0

    def first_any_id(self):
        """streamGetEdgeID(first, tombstones included); ID_MAX for a stream with no node."""
        return self.starts[0] if self.starts else ID_MAX

    def range(self, start, end, count=0, rev=False):
        """Entries with start <= id <= end as a list of (id, fields), at most ``count`` (0: all)."""
        out = []
        if start > end:
            return out
        nodes = self.nodes
        starts = self.starts
        append = out.append
        if not rev:
            k = bisect_right(starts, start) - 1
            if k < 0:
                k = 0
            nn = len(nodes)
            while k < nn:
                node = nodes[k]
                k += 1
                ids = node.ids
                if not ids:
                    continue
                if ids[-1] < start:
                    continue
                j = bisect_left(ids, start) if ids[0] < start else 0
                data = node.data
                m = len(ids)
                if ids[-1] <= end and (not count or len(out) + m - j <= count):
                    out.extend(zip(ids[j:], data[j:]))
                    if count and len(out) == count:
                        return out
                    continue
                while j < m:
                    i = ids[j]
                    if i > end:
                        return out
                    append((i, data[j]))
                    if len(out) == count:
                        return out
                    j += 1
        else:
            k = bisect_right(starts, end) - 1
            while k >= 0:
                node = nodes[k]
                k -= 1
                ids = node.ids
                if not ids or ids[0] > end:
                    continue
                j = bisect_right(ids, end) - 1
                data = node.data
                while j >= 0:
                    i = ids[j]
                    if i < start:
                        return out
                    append((i, data[j]))
                    if len(out) == count:
                        return out
                    j -= 1
        return out

    def entries(self):
        """Every entry, ascending, as (id, fields)."""
        for node in self.nodes:
            yield from zip(node.ids, node.data)

    # ------------------------------------------------------------ counters
    def range_has_tombstones(self, start=0, end=ID_MAX):
        """streamRangeHasTombstones."""
        mdel = self.max_deleted_id
        if not self.length or not mdel:
            return False
        if self.first_id > mdel:
            return False
        return start <= mdel <= end

    def estimate_distance(self, i):
        """streamEstimateDistanceFromFirstEverEntry: an entries_read value, or -1."""
        added = self.entries_added
        if not added:
            return 0
        last = self.last_id
        if not self.length and i <= last:
            return added
        if i == last:
            return added
        if i > last:
            return INVALID_ENTRIES_READ
        mdel = self.max_deleted_id
        first = self.first_id
        if not mdel or mdel < first:
            if i < first:
                return added - self.length
            if i == first:
                return added - self.length + 1
        return INVALID_ENTRIES_READ

    def group_lag(self, g):
        """streamReplyWithCGLag: the group's lag, or None when it cannot be known."""
        if not self.entries_added:
            return 0
        if g.entries_read != INVALID_ENTRIES_READ and not self.range_has_tombstones(g.last_id):
            return self.entries_added - g.entries_read
        er = self.estimate_distance(g.last_id)
        if er != INVALID_ENTRIES_READ:
            return self.entries_added - er
        return None

    def sorted_groups(self):
        gs = self.groups
        return [gs[k] for k in sorted(gs)]

    # ------------------------------------------------------------ radix tree shape
    def rax_size(self):
        return len(self.nodes)

    def rax_numnodes(self):
        """How many rax nodes Redis's tree of these node keys has (XINFO radix-tree-nodes).

        The keys are the 16-byte big-endian master IDs. A rax has the root, a
        node at the end of each compressed run of single-child positions, one
        child node per branch of a branching position, and a leaf per key.
        """
        starts = self.starts
        if not starts:
            return 1
        keys = [s.to_bytes(16, "big") for s in starts]
        total = 1
        # explicit stack of (lo, hi, depth): positions shared by keys[lo:hi]
        stack = [(0, len(keys), 0)]
        while stack:
            lo, hi, d = stack.pop()
            if d == 16:
                continue
            a = keys[lo]
            b = keys[hi - 1]
            if a[d] == b[d]:
                # compressed run up to where the keys branch (or end)
                e = d + 1
                while e < 16 and a[e] == b[e]:
                    e += 1
                total += 1
                stack.append((lo, hi, e))
                continue
            # a branching node: one child per distinct byte
            i = lo
            while i < hi:
                ch = keys[i][d]
                j = i + 1
                # keys are sorted: find the end of this byte's run
                lo2, hi2 = j, hi
                while lo2 < hi2:
                    mid = (lo2 + hi2) >> 1
                    if keys[mid][d] == ch:
                        lo2 = mid + 1
                    else:
                        hi2 = mid
                j = lo2
                total += 1
                stack.append((i, j, d + 1))
                i = j
        return total
