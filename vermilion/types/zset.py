"""The sorted set: members ordered by score, found by name, counted by rank.

What a sorted set must do
-------------------------
A Redis sorted set answers two kinds of question. *By name*: what is the score
of ``member``? is it there? That is a hash lookup. *By order*: which members
have the 10 lowest scores, which have scores between 1 and 5, what is the rank
of ``member``, which members lie between ``[a`` and ``(f`` when all scores are
equal? Those need the members kept sorted by ``(score, member)``: scores as
doubles, ties broken by comparing the member bytes, exactly as Redis's skiplist
does (``memcmp`` then length, which is also how Python compares ``bytes``).

So a :class:`ZSet` is two structures kept in step:

* ``dict``: member -> score, for the questions by name;
* an ordered index of the elements, for the questions by order.

The ordered index: sorted blocks
--------------------------------
Redis uses a skiplist. In Python a skiplist is a poor choice: every level of
every node is a Python object and every step of a search is interpreted code.
What Python does fast is move memory and bisect sequences, in C. So the index
is a list of sorted *blocks*, the idea behind the ``sortedcontainers`` library
(this is our own, smaller implementation). Each block is two parallel
sequences, the scores in an ``array('d')`` (raw doubles, side by side in
memory) and the members in a ``list``::

    _scores   [array('d', [1.0, 1.0, 2.5]),  array('d', [3.0, 7.0]),  ...]
    _members  [[b'a', b'b', b'c'],           [b'd', b'e'],            ...]
    _max_s    array('d', [2.5, 7.0, ...])    # last score of each block
    _max_m    [b'c', b'e', ...]              # last member of each block

Every block is sorted by (score, member), every element of a block sorts
before every element of the next. To find where ``(s, m)`` belongs we bisect
``_max_s`` to choose the block, then the block's scores; only when scores tie
do we bisect the members too, within the run of equal scores. All of it is
``bisect`` in C, and comparing doubles read from an array touches no other
memory: a search in a big set costs a few cache misses, not one per step as a
list of ``(score, member)`` tuples would (it also saves a tuple, ~56 bytes,
per element, and the garbage collector never has to look at them).

Inserting is ``insert`` into one block's two sequences, a ``memmove`` of at
most a few thousand slots. A block that grows past ``2 * _LOAD`` elements is
split in two; one that shrinks below ``_LOAD // 2`` is merged into a
neighbour, so there are about ``n / _LOAD`` blocks. A score change that keeps
the member inside its block (ZINCRBY on a counter) moves it within the block
and touches nothing else.

Ranks
-----
ZRANK, ZRANGE by index and ZREMRANGEBYRANK need "how many elements come before
block ``i``". ``_offsets[i]`` holds exactly that, as a running sum of block
lengths. Instead of updating every later offset on each insert, the offsets are
*lazily* valid: ``_dirty`` is the first block whose offset may be stale, and a
rank question first recomputes the stale tail with ``itertools.accumulate``
(C speed). Appends at the end (timestamps as scores, the common case) leave
almost everything valid. A rank is then one more bisect, of ``_offsets``.

Score and lex ranges
--------------------
A score range is two bisections of the scores: the rank of the first element
with score >= x. An exclusive bound ``(x`` becomes "score >= the next double
above x" (``math.nextafter``), which keeps every range a half-open rank
interval ``[first, stop)`` (see :meth:`ZSet.score_span`).

Lex ranges (ZRANGEBYLEX and friends) are only meaningful when all scores are
equal, so the members are sorted too and the same bisections apply to the
member lists (:meth:`ZSet.lex_span`). When scores differ Redis's answer depends
on how it walks its structure; for small sets (the "listpack" encoding) that
walk is a plain scan, which :meth:`ZSet.lex_scan_start` reproduces, so small
sets answer like Redis even in that undefined case.

Reading it
----------
Ranges come back as two parallel sequences, ``(scores, members)`` (see
:meth:`ZSet.range`), which is what replies are built from. Iterating a ZSet
gives ``(score, member)`` tuples in order and :meth:`ZSet.items` gives
``(member, score)`` pairs; :meth:`ZSet.from_dict` builds one in bulk.

Encodings
---------
Redis keeps small sorted sets in a compact "listpack" and converts them to
skiplist+dict once they exceed ``zset-max-listpack-entries`` elements or a
member longer than ``zset-max-listpack-value`` bytes arrives. OBJECT ENCODING
shows it and a few behaviours depend on it, so ``listpack`` records which one
Redis would be using (the structure is the same either way). Two quirks follow
Redis: a listpack stores ``-0`` as ``0`` (see :meth:`ZSet.insert`), and ZSCAN
prints scores differently per encoding (:func:`scan_score`).

Freeing a huge sorted set happens in pieces (:meth:`ZSet.free_some`), driven by
the server's lazy-free step, so a DEL never stalls other clients.

At rest: packed
---------------
A dict, a float per score and the blocks cost a five-member set about 1100 bytes,
where Redis's listpack takes about 60. Like a hash (:mod:`vermilion.types.hash`),
a listpack-encoded sorted set that one ZADD created, or that a dataset load or
RESTORE brought in, is kept as a :class:`PackedZSet`: one ``bytes`` object
holding, in order, for each member a 0 byte, the member, a 1 byte and its
score's ``repr`` (which reads back as the same double). ZSCORE finds
``0 member 1`` with one C-level ``find``, ZRANK counts the 0 bytes before it,
ZCARD is the count kept beside it, and ZRANGE/ZREVRANGE by rank (and their
WITHSCORES) split the whole object in two C calls. Every other command turns it into a :class:`ZSet` first
(:meth:`PackedZSet.unpack`), for good: writes, score and lex ranges, set
operations, pops, ZSCAN. Only sets within Redis's listpack limits are packed, of
at most ``PACK_ENTRIES`` members holding no 0 or 1 byte.
"""

from array import array
from bisect import bisect_left, bisect_right
from itertools import accumulate, chain, islice
from math import inf, nextafter

from .packed import PACK_ENTRIES, Packed

_LOAD = 1000  # target block size
_SPLIT = 2 * _LOAD  # a larger block is split in two
_MERGE = _LOAD // 2  # a smaller block is merged into a neighbour
_HEAD = 64  # ZPOPMIN pops from a first block of at most this many (ZSet.pop_first)

# Lex range bounds: (kind, value, exclusive). kind is LEX_MIN for "-", LEX_MAX for
# "+", 0 for a member given as "[value" or "(value".
LEX_MIN = -1
LEX_MAX = 1


def _position(scores, members, s, m):
    """Index of the first element >= (s, m) in one block."""
    k = bisect_left(scores, s)
    if k < len(scores) and scores[k] == s:
        k = bisect_left(members, m, k, bisect_right(scores, s, k))
    return k


class ZSet:
    """A sorted set: ``dict`` (member -> score) plus the blocked index."""

    __slots__ = (
        "dict",
        "_scores",
        "_members",
        "_max_s",
        "_max_m",
        "_offsets",
        "_dirty",
        "listpack",
    )

    def __init__(self, listpack=True):
        self.dict = {}  # member -> score
        self._scores = []  # per block: array('d') of scores
        self._members = []  # per block: list of members
        self._max_s = array("d")  # last score of each block
        self._max_m = []  # last member of each block
        # elements before each block (valid below _dirty); None until a rank in a
        # later block is asked for (a set of one block, most of them, never needs it)
        self._offsets = None
        self._dirty = 0
        self.listpack = listpack  # the encoding Redis would use

    # ------------------------------------------------------------ building
    @classmethod
    def from_sorted(cls, items, listpack=True):
        """A ZSet from ``(score, member)`` tuples already in order, distinct members."""
        zs = cls(listpack)
        if not isinstance(items, list):
            items = list(items)
        if listpack:
            items = [(0.0, m) if s == 0 else (s, m) for s, m in items]
        zs.dict = {m: s for s, m in items}
        if items:
            # per block, (scores, members) as tuples: a list made from a tuple is
            # allocated at its size, where one filled by appending keeps room to
            # grow (as _insert_item makes a first block)
            cols = [tuple(zip(*items[i : i + _LOAD])) for i in range(0, len(items), _LOAD)]
            zs._scores = list(tuple(array("d", sc) for sc, _ in cols))
            zs._members = list(tuple(list(mb) for _, mb in cols))
            zs._max_s = array("d", tuple(sc[-1] for sc, _ in cols))
            zs._max_m = list(tuple(mb[-1] for _, mb in cols))
        return zs

    @classmethod
    def from_dict(cls, d, listpack=True):
        """A ZSet from a member -> score dict."""
        return cls.from_sorted(sorted(zip(d.values(), d)), listpack)

    def copy(self):
        """An independent copy with the same encoding (COPY, DEBUG RELOAD...)."""
        zs = ZSet(self.listpack)
        zs.dict = self.dict.copy()
        zs._scores = [a[:] for a in self._scores]
        zs._members = [b[:] for b in self._members]
        zs._max_s = self._max_s[:]
        zs._max_m = self._max_m[:]
        return zs

    # ------------------------------------------------------------ encoding
    def object_encoding(self):
        return b"listpack" if self.listpack else b"skiplist"

    def shrink_encoding(self, max_entries, max_value):
        """Redis's zsetConvertToListpackIfNeeded (used by the *STORE commands)."""
        if self.listpack or len(self.dict) > max_entries:
            return
        if any(len(m) > max_value for m in self.dict):
            return
        self.listpack = True
        if any(s == 0 for s in self.dict.values()):  # a listpack has no -0
            rebuilt = ZSet.from_sorted(list(self), True)
            for name in ("dict", "_scores", "_members", "_max_s", "_max_m"):
                setattr(self, name, getattr(rebuilt, name))
            self._offsets = None
            self._dirty = 0

    # -------------------------------------------------------------- by name
    def __len__(self):
        return len(self.dict)

    def __contains__(self, member):
        return member in self.dict

    def __iter__(self):
        """``(score, member)`` tuples in order."""
        return chain.from_iterable(map(zip, self._scores, self._members))

    def items(self):
        """``(member, score)`` pairs in order (for persistence and SCAN)."""
        return chain.from_iterable(map(zip, self._members, self._scores))

    def score(self, member):
        return self.dict.get(member)

    # ----------------------------------------------------------- mutations
    def _block_for(self, s, m):
        """Index of the first block whose last element is >= (s, m) (may be n)."""
        max_s = self._max_s
        i = bisect_left(max_s, s)
        if i < len(max_s) and max_s[i] == s:
            i = bisect_left(self._max_m, m, i, bisect_right(max_s, s, i))
        return i

    def insert(self, member, score):
        """Add a member that is not in the set."""
        if score == 0 and self.listpack:
            score = 0.0  # a listpack stores "-0" as the integer 0
        self.dict[member] = score
        self._insert_item(score, member)

    def _insert_item(self, s, m):
        i = self._block_for(s, m)
        n = len(self._max_s)
        if i == n:
            if not n:
                # the first block: new containers of one (appending to the empty
                # ones would leave room for four, 96 bytes more in all, and most
                # sorted sets never have a second block)
                self._scores = [array("d", (s,))]
                self._members = [[m]]
                self._max_s = array("d", (s,))
                self._max_m = [m]
                self._dirty = 0
                return
            i -= 1
            scores = self._scores[i]
            scores.append(s)
            self._members[i].append(m)
            self._max_s[i] = s
            self._max_m[i] = m
        else:
            scores = self._scores[i]
            members = self._members[i]
            k = _position(scores, members, s, m)
            scores.insert(k, s)
            members.insert(k, m)
        if len(scores) > _SPLIT:
            self._split(i)
        if i < self._dirty:
            self._dirty = i + 1

    def update(self, member, old, new):
        """Change the score of ``member`` from ``old`` to ``new``."""
        if new == 0 and self.listpack:
            new = 0.0
        self.dict[member] = new
        i = self._block_for(old, member)
        scores = self._scores[i]
        members = self._members[i]
        k = _position(scores, members, old, member)
        last = len(self._max_s) - 1
        if i > 0:
            ps = self._max_s[i - 1]
            low_ok = ps < new or (ps == new and self._max_m[i - 1] < member)
        else:
            low_ok = True
        if i < last:
            ns = self._scores[i + 1][0]
            high_ok = new < ns or (new == ns and member < self._members[i + 1][0])
        else:
            high_ok = True
        del scores[k]
        del members[k]
        if low_ok and high_ok:
            # Common case: the member stays within its block, whose size (and
            # so every rank offset) does not change.
            k = _position(scores, members, new, member)
            scores.insert(k, new)
            members.insert(k, member)
            self._max_s[i] = scores[-1]
            self._max_m[i] = members[-1]
            return
        self._after_shrink(i)
        self._insert_item(new, member)

    def remove(self, member):
        """Delete ``member``; True if it was there."""
        score = self.dict.pop(member, None)
        if score is None:
            return False
        i = self._block_for(score, member)
        scores = self._scores[i]
        members = self._members[i]
        k = _position(scores, members, score, member)
        del scores[k]
        del members[k]
        self._after_shrink(i)
        return True

    def _split(self, i):
        scores = self._scores[i]
        members = self._members[i]
        half = len(scores) >> 1
        self._scores.insert(i + 1, scores[half:])
        self._members.insert(i + 1, members[half:])
        del scores[half:]
        del members[half:]
        self._max_s.insert(i, scores[-1])
        self._max_m.insert(i, members[-1])
        if i + 1 < self._dirty:
            self._dirty = i + 1

    def _after_shrink(self, i):
        """Block ``i`` lost elements: fix its maximum, drop or merge it if small."""
        S = self._scores
        M = self._members
        scores = S[i]
        if not scores:
            del S[i]
            del M[i]
            del self._max_s[i]
            del self._max_m[i]
            if i < self._dirty:
                self._dirty = i
            return
        if i + 1 < self._dirty:
            self._dirty = i + 1
        if len(scores) < _MERGE and len(S) > 1:
            if i + 1 == len(S):
                i -= 1  # the last block merges into the previous one
            S[i].extend(S[i + 1])
            M[i].extend(M[i + 1])
            del S[i + 1]
            del M[i + 1]
            del self._max_s[i + 1]
            del self._max_m[i + 1]
            if i < self._dirty:
                self._dirty = i
            if len(S[i]) > _SPLIT:
                self._split(i)
                i += 1
                self._max_s[i] = S[i][-1]
                self._max_m[i] = M[i][-1]
                return
        self._max_s[i] = S[i][-1]
        self._max_m[i] = M[i][-1]

    def clear(self):
        self.__init__(self.listpack)

    def free_some(self, budget):
        """Drop up to about ``budget`` elements (lazy free); returns how many."""
        S = self._scores
        M = self._members
        d = self.dict
        pop = d.pop
        freed = 0
        while M and freed < budget:
            members = M.pop()
            S.pop()
            self._max_s.pop()
            self._max_m.pop()
            for m in members:
                pop(m, None)
            freed += len(members)
        self._offsets = None
        self._dirty = 0
        if not M:
            d.clear()
        return max(freed, 1)

    # -------------------------------------------------------------- by rank
    def _offset(self, i):
        """Number of elements before block ``i``."""
        if i == 0:
            return 0
        if i >= self._dirty:
            self._rebuild_offsets()
        return self._offsets[i]

    def _rebuild_offsets(self):
        M = self._members
        d = self._dirty
        offs = self._offsets
        if offs is None:
            offs = self._offsets = []
            d = 0
        del offs[d:]
        start = offs[-1] + len(M[d - 1]) if d else 0
        offs.extend(accumulate(map(len, islice(M, d, len(M) - 1)), initial=start))
        self._dirty = len(M)

    def _locate(self, rank):
        """(block index, position in block) of the element at ``rank``."""
        M = self._members
        n0 = len(M[0])
        if rank < n0:
            return 0, rank
        last = len(M) - 1
        tail = len(self.dict) - len(M[last])
        if rank >= tail:
            return last, rank - tail
        if self._dirty <= last:
            self._rebuild_offsets()
        offs = self._offsets
        i = bisect_right(offs, rank) - 1
        return i, rank - offs[i]

    def rank(self, member):
        """0-based rank of ``member`` in ascending order, or None."""
        score = self.dict.get(member)
        if score is None:
            return None
        i = self._block_for(score, member)
        return self._offset(i) + _position(self._scores[i], self._members[i], score, member)

    def at(self, rank):
        """``(score, member)`` at ``rank``."""
        i, j = self._locate(rank)
        return self._scores[i][j], self._members[i][j]

    def range(self, start, stop):
        """``(scores, members)`` of the ranks in ``[start, stop)``, ascending.

        ``start``/``stop`` are clamped by the caller; scores are an array('d').
        """
        n = stop - start
        if n <= 0:
            return array("d"), []
        i, j = self._locate(start)
        S = self._scores
        M = self._members
        scores = S[i][j : j + n]
        members = M[i][j : j + n]
        while len(members) < n:
            i += 1
            k = n - len(members)
            scores += S[i][:k]
            members += M[i][:k]
        return scores, members

    def rev_range(self, start, stop):
        """``(scores, members)`` of the reverse ranks in ``[start, stop)``, descending."""
        size = len(self.dict)
        scores, members = self.range(size - stop, size - start)
        scores.reverse()
        members.reverse()
        return scores, members

    def first(self):
        return self._scores[0][0], self._members[0][0]

    def last(self):
        return self._scores[-1][-1], self._members[-1][-1]

    def delete_range(self, start, stop):
        """Remove the ranks in ``[start, stop)``; returns their ``(scores, members)``."""
        n = stop - start
        if n <= 0:
            return array("d"), []
        i, j = self._locate(start)
        S = self._scores
        M = self._members
        max_s = self._max_s
        max_m = self._max_m
        out_s = array("d")
        out_m = []
        first = i
        while n > 0:
            scores = S[i]
            members = M[i]
            part = members[j : j + n]
            out_s += scores[j : j + n]
            out_m += part
            del scores[j : j + n]
            del members[j : j + n]
            n -= len(part)
            if members:
                max_s[i] = scores[-1]
                max_m[i] = members[-1]
                i += 1
            else:
                del S[i]
                del M[i]
                del max_s[i]
                del max_m[i]
            j = 0
        pop = self.dict.pop
        for m in out_m:
            pop(m)
        if first < self._dirty:
            self._dirty = first
        # at most two blocks survived the cut partially: keep them big enough
        for k in range(min(i, len(M)) - 1, first - 1, -1):
            if k < len(M) and len(M[k]) < _MERGE:
                self._after_shrink(k)
        return out_s, out_m

    def pop_first(self, count):
        """Remove up to ``count`` lowest elements: ``(scores, members)``, lowest first."""
        if count == 1 and self.dict:
            # ZPOPMIN's usual case, short. Taking the first element of a block moves
            # all the others (a memmove of up to _SPLIT slots, twice), so a first
            # block bigger than _HEAD first gives its _HEAD lowest elements a block
            # of their own: pops then move at most _HEAD slots, and the cut is paid
            # once per _HEAD pops. The small block is allowed below _MERGE (only
            # speed depends on block sizes); once it has one element left, that
            # element is popped with the block.
            M = self._members
            members = M[0]
            if len(members) > _HEAD:
                self._cut_head()
                members = M[0]
            if len(members) > 1:
                m = members.pop(0)
                s = self._scores[0].pop(0)
                if self._dirty > 1:
                    self._dirty = 1  # (every later block has one element fewer before it)
            else:
                m = members[0]
                s = self._scores[0][0]
                del M[0]
                del self._scores[0]
                del self._max_s[0]
                del self._max_m[0]
                self._dirty = 0
            del self.dict[m]
            return [s], [m]
        return self.delete_range(0, min(count, len(self.dict)))

    def _cut_head(self):
        """Split the first block after its ``_HEAD`` lowest elements (see pop_first)."""
        scores = self._scores[0]
        members = self._members[0]
        self._scores.insert(0, scores[:_HEAD])
        self._members.insert(0, members[:_HEAD])
        self._max_s.insert(0, scores[_HEAD - 1])
        self._max_m.insert(0, members[_HEAD - 1])
        del scores[:_HEAD]
        del members[:_HEAD]
        self._dirty = 0

    def pop_last(self, count):
        """Remove up to ``count`` highest elements: ``(scores, members)``, highest first."""
        if count == 1 and self.dict:
            # ZPOPMAX's usual case (see pop_first): no offset moves at all.
            M = self._members
            i = len(M) - 1
            members = M[i]
            if len(members) > _MERGE or (len(members) > 1 and i == 0):
                scores = self._scores[i]
                m = members.pop()
                s = scores.pop()
                self._max_s[i] = scores[-1]
                self._max_m[i] = members[-1]
                del self.dict[m]
                return [s], [m]
        size = len(self.dict)
        scores, members = self.delete_range(size - min(count, size), size)
        scores.reverse()
        members.reverse()
        return scores, members

    # ------------------------------------------------------------- by score
    def _score_rank(self, x):
        """Rank of the first element with score >= ``x``."""
        max_s = self._max_s
        i = bisect_left(max_s, x)
        if i == len(max_s):
            return len(self.dict)
        return self._offset(i) + bisect_left(self._scores[i], x)

    def score_span(self, lo, loex, hi, hiex):
        """Ranks ``[first, stop)`` of the elements with scores in the range."""
        if loex:
            if lo == inf:
                return 0, 0
            lo = nextafter(lo, inf)
        first = self._score_rank(lo) if lo != -inf else 0
        if hiex:
            stop = self._score_rank(hi)
        elif hi == inf:
            stop = len(self.dict)
        else:
            stop = self._score_rank(nextafter(hi, inf))
        if stop < first:
            stop = first
        return first, stop

    # --------------------------------------------------------------- by lex
    def _lex_rank(self, member, right):
        """Rank of the first element whose member is >= (or > if ``right``) ``member``,
        assuming members are in order (equal scores)."""
        max_m = self._max_m
        bis = bisect_right if right else bisect_left
        i = bis(max_m, member)
        if i == len(max_m):
            return len(self.dict)
        return self._offset(i) + bis(self._members[i], member)

    def lex_span(self, lo, hi):
        """Ranks ``[first, stop)`` of the members in the lex range (sorted model)."""
        size = len(self.dict)
        kind, v, ex = lo
        if kind == LEX_MIN:
            first = 0
        elif kind == LEX_MAX:
            return 0, 0
        else:
            first = self._lex_rank(v, ex)
        kind, v, ex = hi
        if kind == LEX_MAX:
            stop = size
        elif kind == LEX_MIN:
            return 0, 0
        else:
            stop = self._lex_rank(v, not ex)
        if stop < first:
            stop = first
        return first, stop

    def members(self):
        """Every member, in order (a new list)."""
        return list(chain.from_iterable(self._members))

    def lex_scan_start(self, lo, hi, reverse):
        """Redis's listpack walk: rank where a lex range starts, or None.

        Forward it is the first member >= min (if it is also <= max); in reverse
        the last member <= max (if also >= min). Exact for any scores.
        """
        if lex_empty(lo, hi) or not self.dict:
            return None
        gte = lex_gte(lo)
        lte = lex_lte(hi)
        if not gte(self.last()[1]) or not lte(self.first()[1]):
            return None
        members = self.members()
        if reverse:
            for r in range(len(members) - 1, -1, -1):
                if lte(members[r]):
                    return r if gte(members[r]) else None
        else:
            for r, m in enumerate(members):
                if gte(m):
                    return r if lte(m) else None
        return None


# ------------------------------------------------------------------ lex bounds
def lex_empty(lo, hi):
    """Redis's "always empty" test on a lex range (min > max, or equal and open)."""
    k1, v1, ex1 = lo
    k2, v2, ex2 = hi
    if k1 == k2 and k1 != 0:
        return True  # "-" "-" or "+" "+"
    if k1 == LEX_MAX or k2 == LEX_MIN:
        return True
    if k1 == LEX_MIN or k2 == LEX_MAX:
        return False
    return v1 > v2 or (v1 == v2 and (ex1 or ex2))


def lex_gte(lo):
    """Predicate: member >= (or >) the range's min."""
    kind, v, ex = lo
    if kind == LEX_MIN:
        return lambda m: True
    if kind == LEX_MAX:
        return lambda m: False
    if ex:
        return lambda m: m > v
    return lambda m: m >= v


def lex_lte(hi):
    """Predicate: member <= (or <) the range's max."""
    kind, v, ex = hi
    if kind == LEX_MAX:
        return lambda m: True
    if kind == LEX_MIN:
        return lambda m: False
    if ex:
        return lambda m: m < v
    return lambda m: m <= v


def parse_lex_bound(b):
    """``[x``, ``(x``, ``-``, ``+`` -> a bound; None if invalid."""
    c = b[:1]
    if c == b"[":
        return (0, b[1:], False)
    if c == b"(":
        return (0, b[1:], True)
    if b == b"-":
        return (LEX_MIN, b"", True)
    if b == b"+":
        return (LEX_MAX, b"", True)
    return None


# ------------------------------------------------------------------ packed
assert PACK_ENTRIES < _LOAD  # (a packed set unpacks to one block)


class PackedZSet(Packed):
    """A listpack-encoded sorted set at rest, read-only (see "At rest: packed" and
    :mod:`vermilion.types.packed`).

    ``_b`` holds, for each member in order, a 0 byte, the member, a 1 byte and the
    ``repr`` of its score, and one 0 byte at the end; ``_n`` counts the members."""

    __slots__ = ()
    _ENTRY = b"%s\1%r"  # (the score's repr)
    _FMT = [None] * (PACK_ENTRIES + 1)
    listpack = True
    type_name = "zset"

    def _find(self, member):
        """Where ``member``'s entry starts, or -1."""
        # (a member holding a 0 byte could match across entries; none is stored)
        if 0 in member:  # (an int needle: bytes' fast path)
            return -1
        return self._b.find(b"\0" + member + b"\1")

    def score(self, member):
        """The score of ``member``, or None."""
        i = self._find(member)
        if i < 0:
            return None
        b = self._b
        i += len(member) + 2
        return float(b[i : b.find(b"\0", i)])

    def __contains__(self, member):
        return self._find(member) >= 0

    def rank(self, member):
        """0-based rank of ``member`` in ascending order, or None."""
        i = self._find(member)
        return None if i < 0 else self._b.count(0, 0, i)

    def _flat(self):
        """Members and score texts alternating, in order (a list)."""
        return self._b[1:-1].replace(b"\1", b"\0").split(b"\0")

    def range(self, start, stop):
        """``(scores, members)`` of the ranks in ``[start, stop)`` (as ZSet.range)."""
        flat = self._flat()
        return array("d", map(float, flat[2 * start + 1 : 2 * stop : 2])), flat[
            2 * start : 2 * stop : 2
        ]

    def rev_range(self, start, stop):
        scores, members = self.range(self._n - stop, self._n - start)
        scores.reverse()
        members.reverse()
        return scores, members

    def __iter__(self):
        """``(score, member)`` tuples in order."""
        flat = self._flat()
        return zip(map(float, flat[1::2]), flat[0::2])

    def items(self):
        """``(member, score)`` pairs in order (for persistence)."""
        flat = self._flat()
        return zip(flat[0::2], map(float, flat[1::2]))

    def unpack(self):
        """The same sorted set as a ZSet, listpack-encoded: one block (at most
        PACK_ENTRIES members, fewer than a block holds), built from the columns."""
        flat = self._flat()
        members = flat[0::2]
        scores = array("d", map(float, flat[1::2]))
        zs = ZSet(True)
        zs.dict = dict(zip(members, scores))
        zs._scores = [scores]
        zs._members = [members]
        zs._max_s = array("d", scores[-1:])
        zs._max_m = [members[-1]]
        return zs

    def object_encoding(self):
        return b"listpack"

    def __reduce__(self):
        return (pack, (self.unpack(),))

    def __repr__(self):
        return "PackedZSet(%r)" % list(self)


def pack(zs):
    """``zs`` (a ZSet) packed, if it can be (see "At rest: packed"); else ``zs``."""
    if not zs.listpack:
        return zs
    z = PackedZSet.from_flat(list(chain.from_iterable(zs.items())))
    return zs if z is None else z


# ------------------------------------------------------------ score printing
_HALF_LLONG = float(9223372036854775807 // 2)


def scan_score(score, listpack):
    """A score as ZSCAN prints it: a listpack keeps Redis's d2string text
    (integers as integers), the skiplist encoding prints %.17Lg."""
    if score == inf:
        return b"inf"
    if score == -inf:
        return b"-inf"
    if listpack:
        if score == 0:
            return b"0"
        if -_HALF_LLONG <= score <= _HALF_LLONG and score == int(score):
            return b"%d" % int(score)
    return b"%.17g" % score
