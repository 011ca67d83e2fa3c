"""The list type: a double-ended queue of byte strings, kept ready to send.

Redis 7.0 stores every list as a *quicklist* (a linked list of listpack nodes;
``list-max-listpack-size`` bounds a node, ``list-compress-depth`` says how many
nodes at each end stay uncompressed). Unlike 7.2, Redis 7.0 has no single-listpack
list encoding: ``t_list.c`` always creates a quicklist and never converts, so
``OBJECT ENCODING`` of any list answers ``quicklist`` whatever the configuration.

**Elements are stored in their RESP bulk form.** An element ``xxx`` is kept as
``$3\\r\\nxxx\\r\\n``: the bytes a client receives for it. Redis re-encodes every
element on every LRANGE; here LRANGE and the COUNT pops are one array header plus
a ``b"".join`` of stored objects, a single LPOP/RPOP answers with the stored
object as it is, and LMOVE moves it without looking inside. The price is paid
once, when an element is pushed (a table-driven header, two concatenations), and
a few bytes per element (the header and CRLF: for a 3-byte element both forms
take the same 48-byte pymalloc block). An array of bulk strings is spelt the same
in RESP2 and RESP3, so the stored form is valid for every client.

:class:`RList` *wraps* a container of those bulks (a ``list`` or a
:class:`collections.deque`, by length: see below) instead of being one, so that
no caller can read an encoded element by accident: its iteration, indexing and
pops give the elements themselves (``bytes``, byte for byte as pushed, as SORT,
the RDB and AOF writers, DEBUG DIGEST and LPOS need), and only the methods that
say so deal in the encoded form:

* ``*_bulk``: one element as a complete RESP bulk string (``pop_left_bulk``,
  ``push_left_bulk``: LPOP's reply, LMOVE's move);
* ``*_reply``: a whole array reply as :class:`~vermilion.protocol.encoder.Raw`
  (``range_reply`` for LRANGE, ``pop_left_reply``/``pop_right_reply`` for the
  COUNT pops);
* :meth:`RList.bulks`: every stored bulk (the AOF rewrite's RPUSH arguments are
  exactly these bytes; MEMORY USAGE prices them).

**The last LRANGE reply is kept.** A list read far more often than it changes
(a timeline, the latest N events) is asked for the same range again and again;
:meth:`RList.range_reply` keeps the reply it built (``_sent``: start, stop and the
``Raw``) and answers the same range with it until the list changes: every method
that changes the deque drops it first. Only replies of at most ``SENT_BYTES`` are
kept, and by at most ``SENT_LISTS`` lists at a time (the oldest one forgets its
own when another list keeps one), so the copies cost a bounded amount of memory
whatever the number of lists; the registry refers to the lists weakly, so a
deleted list is freed as before.

**Short lists are packed, long ones deques.** Redis keeps a list's elements
in listpacks, one allocation holding many elements with a byte or two of
overhead each; one Python object per element costs 33 bytes of header, and a
``collections.deque`` allocates 64-slot blocks (760 bytes for an empty one), so a
dataset of many short lists (queues, the latest few items per user) took five to
six times redis-server's memory. A list of at most ``SMALL`` elements whose bulks
are each shorter than 256 bytes and together at most ``PACKED_BYTES`` (8 KB, the
node size of Redis's default ``list-max-listpack-size -2``) is therefore
*packed*, the way a listpack is: one
``bytes`` object holds its bulks one after another, and a second one their
lengths, one byte per element. An element's offset is a C-level ``sum`` of the
lengths before it; a push at either end is two concatenations, a pop two
slices, and LRANGE of a packed list is one slice of the bulks, already in the
reply's spelling. Edits in the middle (LSET, LINSERT, LREM) split the bulks into a
Python list, edit it and pack it again: at most ``SMALL`` elements, like the
listpack Redis rewrites for the same edit.

A push past those limits moves the bulks into a deque, which gives O(1) pushes
and pops at both ends however long the list grows (what LPUSH/RPUSH/LPOP/RPOP and
the blocking pops need); a deque that an LTRIM, LREM, COUNT pop or LINSERT leaves
with at most ``SMALL // 2`` elements is packed again if its bulks allow (a single
pop does not look: a list popped empty is deleted with its key). Indexed access
(LINDEX/LSET) costs O(n) at most either way, like the quicklist. A deque's ranges
are taken from the nearer end, so a range near the tail of a long list costs its
own length, not the list's. Searches (LPOS, LREM, LINSERT's pivot) encode the
wanted element once and compare bulks: two bulks are equal exactly when their
elements are. Only a deque keeps its last LRANGE reply: a packed list's reply is
one slice anyway.
"""

import collections
import itertools
import weakref

from ..protocol.encoder import BULK_HEADS as _HEADS, BULK_HEADS_MAX as _HEAD_MAX, CRLF as _CRLF, Raw

_islice = itertools.islice
_repeat = itertools.repeat
_starmap = itertools.starmap
_deque = collections.deque


def encode(x):
    """The RESP bulk form of element ``x`` (bytes, bytearray or any buffer)."""
    n = len(x)
    if n < _HEAD_MAX:
        return _HEADS[n] + x + _CRLF
    return b"$%d\r\n%s\r\n" % (n, x)


# Where the element starts in a bulk of a given total length: the total length
# (element + digits + 5) grows strictly with the element's length, so it names
# the header's size.
_STARTS = [0] * (_HEAD_MAX + 9)
for _d in range(1, len(b"%d" % (_HEAD_MAX - 1)) + 1):  # elements of _d-digit lengths
    _lo, _hi = (0 if _d == 1 else 10 ** (_d - 1)), min(10**_d, _HEAD_MAX)
    _STARTS[_lo + _d + 5 : _hi + _d + 5] = [_d + 3] * (_hi - _lo)
del _d, _lo, _hi
_STARTS_MAX = len(_STARTS)


def decode(b):
    """The element stored as bulk ``b``."""
    n = len(b)
    if n < _STARTS_MAX:
        return b[_STARTS[n] : -2]
    return b[b.index(b"\n") + 1 : -2]


# A list of at most SMALL elements, each bulk shorter than 256 bytes and all of
# them at most PACKED_BYTES, is packed; a longer one is a deque, packed again when
# a bulk removal leaves it with at most _SHRINK elements (see the module
# docstring). PACKED_BYTES bounds what a push or pop at the head copies.
SMALL = 128
_SHRINK = SMALL // 2
PACKED_BYTES = 8192
_BYTE = [bytes((i,)) for i in range(256)]  # a packed list's length entries
_acc = itertools.accumulate


def _split(q, n):
    """The bulks of packed list ``q`` (lengths ``n``), as a Python list."""
    return list(map(q.__getitem__, map(slice, _acc(n, initial=0), _acc(n))))


# Kept LRANGE replies (see the module docstring): at most SENT_LISTS lists keep one
# of at most SENT_BYTES. _SENT names them, oldest first: id -> weak reference.
SENT_LISTS = 64
SENT_BYTES = 1 << 16
_SENT: dict = {}
_ref = weakref.ref


class RList:
    """A Redis list (see the module docstring): elements in, elements out, and
    the ``*_bulk``/``*_reply``/``bulks`` methods for the encoded form.

    Packed, ``_q`` is the bulks one after another and ``_n`` their lengths (both
    ``bytes``); otherwise ``_q`` is a deque of bulks and ``_n`` the same deque.
    Either way ``_n`` has one entry per element, so ``len`` needs no test."""

    __slots__ = ("_q", "_n", "_sent", "__weakref__")

    def __init__(self, items=()):
        self._sent = None  # (start, stop, reply): the kept LRANGE reply
        self._store(list(map(encode, items)))

    def _store(self, bulks):
        """Hold ``bulks`` (a list), packed if they fit."""
        if len(bulks) <= SMALL:
            try:
                self._n = bytes(map(len, bulks))
            except ValueError:  # (a bulk of 256 bytes or more)
                pass
            else:
                q = b"".join(bulks)
                if len(q) <= PACKED_BYTES:
                    self._q = q
                    return
        self._q = self._n = _deque(bulks)

    def _refit(self):
        """After a bulk removal from a deque: pack it again if it is short."""
        q = self._q
        if len(q) <= _SHRINK:
            self._store(list(q))

    def _seq(self):
        """The bulks as an indexable sequence: the deque itself, or a list."""
        q = self._q
        return q if q.__class__ is _deque else _split(q, self._n)

    @property
    def packed(self):
        """Whether the list is packed (MEMORY USAGE prices it as one object)."""
        return self._q.__class__ is not _deque

    # ------------------------------------------------------- size and reading
    def __len__(self):
        return len(self._n)

    def __iter__(self):
        """The elements, head to tail."""
        return map(decode, self._seq())

    def __reversed__(self):
        return map(decode, reversed(self._seq()))

    def __getitem__(self, index):
        """The element at ``index`` (an int; negative counts from the tail)."""
        n = self._n
        if n.__class__ is _deque:
            return decode(n[index])
        if index < 0:
            index += len(n)
        if not 0 <= index < len(n):
            raise IndexError("list index out of range")
        a = sum(n[:index])
        return decode(self._q[a : a + n[index]])

    def __setitem__(self, index, x):
        self._sent = None
        if self._q.__class__ is _deque:
            self._q[index] = encode(x)
            return
        bulks = _split(self._q, self._n)
        bulks[index] = encode(x)
        self._store(bulks)

    def __repr__(self):
        return "RList(%r)" % list(self)

    def __sizeof__(self):
        q = self._q
        return (
            object.__sizeof__(self)
            + q.__sizeof__()
            + (0 if q.__class__ is _deque else self._n.__sizeof__())
        )

    def copy(self):
        """An independent list with the same elements (COPY); bulks are immutable."""
        lst = RList.__new__(RList)
        lst._sent = None
        q = self._q
        if q.__class__ is _deque:
            lst._q = lst._n = q.copy()
        else:
            lst._q, lst._n = q, self._n
        return lst

    def object_encoding(self, config=None):
        """OBJECT ENCODING: always ``quicklist`` in Redis 7.0 (see module docstring)."""
        return b"quicklist"

    def _range(self, start, stop):
        q = self._q
        if q.__class__ is not _deque:
            return _split(q, self._n)[start : stop + 1]
        n = len(q)
        if start <= n - 1 - stop:
            return list(_islice(q, start, stop + 1))
        out = list(_islice(reversed(q), n - 1 - stop, n - start))
        out.reverse()
        return out

    def range(self, start, stop):
        """Elements ``start..stop`` (inclusive, already clamped to 0 <= start <= stop < len)."""
        return list(map(decode, self._range(start, stop)))

    def range_reply(self, start, stop):
        """LRANGE's reply for ``start..stop`` (clamped as for :meth:`range`); the
        same range again, with the list unchanged, is the same reply, kept."""
        sent = self._sent
        if sent is not None and sent[0] == start and sent[1] == stop:
            return sent[2]
        q = self._q
        if q.__class__ is not _deque:  # one slice of the packed bulks
            lens = self._n
            a = sum(lens[:start]) if start else 0
            part = q[a:] if stop == len(lens) - 1 else q[a : a + sum(lens[start : stop + 1])]
            return Raw(b"*%d\r\n%s" % (stop - start + 1, part))
        n = len(q)
        if start <= n - 1 - stop:  # nearer the head (_range, written out)
            parts = list(_islice(q, start, stop + 1)) if stop < n - 1 else q
        else:
            parts = list(_islice(reversed(q), n - 1 - stop, n - start))
            parts.reverse()
        r = Raw(b"*%d\r\n%s" % (stop - start + 1, b"".join(parts)))
        if len(r) <= SENT_BYTES:
            self._keep(start, stop, r)
        return r

    def _keep(self, start, stop, r):
        """Keep ``r`` as the reply for ``start..stop``; make room among SENT_LISTS."""
        ref = _SENT.get(id(self))
        if ref is None or ref() is not self:  # (not registered, or a dead list's id)
            if ref is not None:
                # a freed list's entry under the id this list reuses: drop it, so
                # that this list goes last (the newest), not in the dead one's place
                _SENT.pop(id(self), None)
            elif len(_SENT) >= SENT_LISTS:
                try:
                    old = _SENT.pop(next(iter(_SENT)))()
                except (RuntimeError, StopIteration, KeyError):
                    return  # (another embedded server's thread changed _SENT meanwhile)
                if old is not None:
                    old._sent = None
            _SENT[id(self)] = _ref(self)
        self._sent = (start, stop, r)

    def bulks(self):
        """Every element in its stored bulk form, head to tail."""
        return iter(self._seq())

    # ---------------------------------------------------------------- pushes
    def push_left(self, x):
        """LPUSH one element; returns the new length."""
        self._sent = None
        q = self._q
        n = len(x)
        b = _HEADS[n] + x + _CRLF if n < _HEAD_MAX else b"$%d\r\n%s\r\n" % (n, x)
        if q.__class__ is _deque:
            q.appendleft(b)
            return len(q)
        n = self._n
        if len(n) < SMALL and len(q) + len(b) <= PACKED_BYTES and len(b) < 256:
            self._q = b + q
            self._n = _BYTE[len(b)] + n
            return len(n) + 1
        return self.push_left_bulk(b)  # (which makes it a deque)

    def push_right(self, x):
        """RPUSH one element; returns the new length."""
        self._sent = None
        q = self._q
        n = len(x)
        b = _HEADS[n] + x + _CRLF if n < _HEAD_MAX else b"$%d\r\n%s\r\n" % (n, x)
        if q.__class__ is _deque:
            q.append(b)
            return len(q)
        n = self._n
        if len(n) < SMALL and len(q) + len(b) <= PACKED_BYTES and len(b) < 256:
            self._q = q + b
            self._n = n + _BYTE[len(b)]
            return len(n) + 1
        return self.push_right_bulk(b)  # (which makes it a deque)

    def extend_left(self, items):
        """Push each of ``items`` at the head in turn (LPUSH a b c: c b a ...)."""
        self._sent = None
        q = self._q
        if q.__class__ is _deque:
            q.extendleft(map(encode, items))
            return len(q)
        new = list(map(encode, items))
        new.reverse()
        new += _split(q, self._n)
        self._store(new)
        return len(new)

    def extend_right(self, items):
        self._sent = None
        q = self._q
        if q.__class__ is _deque:
            q.extend(map(encode, items))
            return len(q)
        bulks = _split(q, self._n)
        bulks += map(encode, items)
        self._store(bulks)
        return len(bulks)

    def push_left_bulk(self, bulk):
        """Push an element given in bulk form (from another list's ``pop_*_bulk``);
        returns the new length."""
        self._sent = None
        q = self._q
        if q.__class__ is not _deque:
            n = self._n
            if len(n) < SMALL and len(q) + len(bulk) <= PACKED_BYTES and len(bulk) < 256:
                self._q = bulk + q
                self._n = _BYTE[len(bulk)] + n
                return len(n) + 1
            q = self._q = self._n = _deque(_split(q, n))  # past the limits: a deque from now on
        q.appendleft(bulk)
        return len(q)

    def push_right_bulk(self, bulk):
        self._sent = None
        q = self._q
        if q.__class__ is not _deque:
            n = self._n
            if len(n) < SMALL and len(q) + len(bulk) <= PACKED_BYTES and len(bulk) < 256:
                self._q = q + bulk
                self._n = n + _BYTE[len(bulk)]
                return len(n) + 1
            q = self._q = self._n = _deque(_split(q, n))
        q.append(bulk)
        return len(q)

    # ------------------------------------------------------------------ pops
    def pop_left(self):
        return decode(self.pop_left_bulk())

    def pop_right(self):
        return decode(self.pop_right_bulk())

    def pop_left_bulk(self):
        """Pop the head element in bulk form: a single LPOP's reply as it is."""
        self._sent = None
        q = self._q
        if q.__class__ is _deque:
            return q.popleft()
        n = self._n
        k = n[0]  # (IndexError when empty, like the deque's)
        self._n = n[1:]
        self._q = q[k:]
        return q[:k]

    def pop_right_bulk(self):
        self._sent = None
        q = self._q
        if q.__class__ is _deque:
            return q.pop()
        n = self._n
        cut = len(q) - n[-1]
        self._n = n[:-1]
        self._q = q[:cut]
        return q[cut:]

    def _pop_n(self, count, left):
        self._sent = None
        q = self._q
        if q.__class__ is not _deque:
            bulks = _split(q, self._n)
            if left:
                out = bulks[:count]
                del bulks[:count]
            else:
                k = max(len(bulks) - count, 0)  # (not bulks[-count:]: count may be 0)
                out = bulks[k:]
                out.reverse()
                del bulks[k:]
            self._store(bulks)
            return out
        if count >= len(q):
            out = list(q) if left else list(reversed(q))
            q.clear()
            return out
        pop = q.popleft if left else q.pop
        out = [pop() for _ in range(count)]
        self._refit()
        return out

    def pop_left_n(self, count):
        """Pop up to ``count`` elements from the head, in head-to-tail order."""
        return list(map(decode, self._pop_n(count, True)))

    def pop_right_n(self, count):
        """Pop up to ``count`` elements from the tail, tail first."""
        return list(map(decode, self._pop_n(count, False)))

    def pop_left_reply(self, count):
        """Pop up to ``count`` elements from the head; the array reply of them."""
        out = self._pop_n(count, True)
        return Raw(b"*%d\r\n%s" % (len(out), b"".join(out)))

    def pop_right_reply(self, count):
        """Pop up to ``count`` elements from the tail; the array reply (tail first)."""
        out = self._pop_n(count, False)
        return Raw(b"*%d\r\n%s" % (len(out), b"".join(out)))

    # ------------------------------------------------------ search and edit
    def index(self, x):
        """Position of the first element equal to ``x``; ValueError if none."""
        return self._seq().index(encode(x))

    def insert(self, index, x):
        self._sent = None
        q = self._q
        if q.__class__ is _deque:
            q.insert(index, encode(x))
            return
        bulks = _split(q, self._n)
        bulks.insert(index, encode(x))
        self._store(bulks)

    def matches(self, x, from_tail=False, limit=None):
        """Positions of the elements equal to ``x`` among the first ``limit``
        scanned (all by default), lazily, in scan order. Positions count from
        the head, or from the tail when ``from_tail``."""
        target = encode(x)
        q = self._seq()
        if limit is None or limit > len(q):
            limit = len(q)
        # the C-level index(): the sequence itself from the head, or the first
        # ``limit`` bulks from the tail copied into a list
        find = (list(_islice(reversed(q), limit)) if from_tail else q).index
        pos = 0
        while pos < limit:
            try:
                pos = find(target, pos, limit)
            except ValueError:
                return
            yield pos
            pos += 1

    def delete_positions(self, positions):
        """Remove the elements at ascending ``positions`` (counted from the head)."""
        self._sent = None
        q = self._q
        if q.__class__ is not _deque:
            bulks = _split(q, self._n)
            for i in reversed(positions):
                del bulks[i]
            self._store(bulks)
            return
        if len(positions) <= 32:
            for i in reversed(positions):
                del q[i]
        else:
            items = list(q)
            q.clear()
            prev = 0
            for i in positions:
                if i > prev:
                    q.extend(items[prev:i])
                prev = i + 1
            q.extend(items[prev:])
        self._refit()

    def trim(self, ltrim, rtrim):
        """Drop ``ltrim`` elements from the head and ``rtrim`` from the tail."""
        self._sent = None
        q = self._q
        n = self._n
        if q.__class__ is not _deque:
            end = len(n) - rtrim
            a = sum(n[:ltrim])
            self._q = q[a : a + sum(n[ltrim:end])]
            self._n = n[ltrim:end]
            return
        keep = len(q) - ltrim - rtrim
        if keep < ltrim + rtrim and keep > 0:
            kept = self._range(ltrim, ltrim + keep - 1)
            q.clear()
            q.extend(kept)
        else:
            if ltrim:
                _deque(_starmap(q.popleft, _repeat((), ltrim)), maxlen=0)
            if rtrim:
                _deque(_starmap(q.pop, _repeat((), rtrim)), maxlen=0)
        self._refit()

    def clear(self):
        self._sent = None
        self._q = self._n = b""

    def free_some(self, budget):
        """Lazy free (server.lazyfree): drop up to ``budget`` elements at C speed."""
        self._sent = None
        q = self._q
        if q.__class__ is not _deque:
            k = min(budget, len(self._n))
            self.trim(0, k)
            return max(k, 1)
        n = min(budget, len(q))
        _deque(_starmap(q.pop, _repeat((), n)), maxlen=0)
        return max(n, 1)
