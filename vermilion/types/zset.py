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
* an ordered index of ``(score, member)`` tuples, for the questions by order.
  Python compares tuples item by item, so the tuples sort in Redis's order with
  no key function at all.

The ordered index: a list of sorted blocks
------------------------------------------
Redis uses a skiplist. In Python a skiplist is a poor choice: every level of
every node is a Python object and every step of a search is interpreted code.
What Python does fast is move memory and bisect lists, in C. So the index is a
*list of sorted lists* ("blocks"), the idea behind the ``sortedcontainers``
library (this is our own, smaller implementation):

    _lists   [[(1.0,b'a'), (1.0,b'b'), (2.5,b'c')], [(3.0,b'd'), (7.0,b'e')], ...]
    _maxes   [(2.5,b'c'),                          (7.0,b'e'),               ...]

Every block is sorted, every element of a block sorts before every element of
the next, and ``_maxes[i]`` is the last element of block ``i``. To find where a
tuple belongs we bisect ``_maxes`` to choose the block, then bisect inside the
block: two C-level binary searches. Inserting is ``list.insert`` into one
block, a ``memmove`` of at most a few thousand pointers. A block that grows past
``2 * _LOAD`` elements is split in two; a block that shrinks below
``_LOAD // 2`` is merged into a neighbour, so blocks stay between a few hundred
and two thousand elements and there are about ``n / _LOAD`` of them.

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
A score range is two bisections with one-element tuples: ``(x,)`` sorts before
every ``(x, member)``, so ``bisect_left(index, (x,))`` is the rank of the first
element with score >= x. An exclusive bound ``(x`` becomes "score >= the next
double above x" (``math.nextafter``), which keeps every range a half-open rank
interval ``[lo, hi)``.

Lex ranges (ZRANGEBYLEX and friends) are only meaningful when all scores are
equal, so the members are sorted too and the same two-bisection idea applies,
comparing members only. When scores differ Redis's answer depends on how it
walks its structure; for small sets (the "listpack" encoding) that walk is a
plain scan, which :meth:`ZSet.lex_range` reproduces exactly, so small sets
answer like Redis even for that undefined case.

Encodings
---------
Redis keeps small sorted sets in a compact "listpack" and converts them to
skiplist+dict once they exceed ``zset-max-listpack-entries`` elements or a
member longer than ``zset-max-listpack-value`` bytes arrives. OBJECT ENCODING
shows it and a few behaviours depend on it, so ``listpack`` records which one
Redis would be using (the structure is the same either way). Two quirks follow
Redis: a listpack stores ``-0`` as ``0`` (see :meth:`insert`), and ZSCAN prints
scores differently per encoding (:func:`scan_score`).

Freeing a huge sorted set happens in pieces (:meth:`free_some`), driven by the
server's lazy-free step, so a DEL never stalls other clients.
"""
from bisect import bisect_left, bisect_right, insort
from itertools import accumulate, chain, islice
from math import inf, nextafter
from operator import itemgetter

_LOAD = 1000            # target block size
_SPLIT = 2 * _LOAD      # a larger block is split in two
_MERGE = _LOAD // 2     # a smaller block is merged into a neighbour

_member = itemgetter(1)

# Lex range bounds: (kind, value, exclusive). kind is LEX_MIN for "-", LEX_MAX for
# "+", 0 for a member given as "[value" or "(value".
LEX_MIN = -1
LEX_MAX = 1


class ZSet:
    """A sorted set. Elements are ``(score, member)`` tuples in the index."""

    __slots__ = ("dict", "_lists", "_maxes", "_offsets", "_dirty", "listpack")

    def __init__(self, listpack=True):
        self.dict = {}           # member -> score
        self._lists = []         # sorted blocks of (score, member)
        self._maxes = []         # last element of each block
        self._offsets = []       # elements before each block (valid below _dirty)
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
        zs._lists = [items[i:i + _LOAD] for i in range(0, len(items), _LOAD)]
        zs._maxes = [b[-1] for b in zs._lists]
        return zs

    @classmethod
    def from_dict(cls, d, listpack=True):
        """A ZSet from a member -> score dict (which it takes over)."""
        items = sorted(zip(d.values(), d))
        return cls.from_sorted(items, listpack)

    def copy(self):
        """An independent copy with the same encoding (COPY, DEBUG RELOAD...)."""
        zs = ZSet(self.listpack)
        zs.dict = self.dict.copy()
        zs._lists = [b[:] for b in self._lists]
        zs._maxes = self._maxes[:]
        return zs

    # ------------------------------------------------------------ encoding
    def object_encoding(self):
        return b"listpack" if self.listpack else b"skiplist"

    def shrink_encoding(self, max_entries, max_value):
        """Redis's zsetConvertToListpackIfNeeded (used by the *STORE commands)."""
        if self.listpack or len(self.dict) > max_entries:
            return
        d = self.dict
        if any(len(m) > max_value for m in d):
            return
        self.listpack = True
        if any(s == 0 for s in d.values()):   # a listpack has no -0
            rebuilt = ZSet.from_sorted(list(chain.from_iterable(self._lists)), True)
            self.dict, self._lists, self._maxes = rebuilt.dict, rebuilt._lists, rebuilt._maxes
            self._dirty = 0

    # -------------------------------------------------------------- by name
    def __len__(self):
        return len(self.dict)

    def __contains__(self, member):
        return member in self.dict

    def __iter__(self):
        """``(score, member)`` tuples in order."""
        return chain.from_iterable(self._lists)

    def items(self):
        """``(member, score)`` pairs in order (for persistence and SCAN)."""
        return ((m, s) for s, m in chain.from_iterable(self._lists))

    def score(self, member):
        return self.dict.get(member)

    # ----------------------------------------------------------- mutations
    def insert(self, member, score):
        """Add a member that is not in the set."""
        if score == 0 and self.listpack:
            score = 0.0          # a listpack stores "-0" as the integer 0
        self.dict[member] = score
        self._insert_item((score, member))

    def update(self, member, old, new):
        """Change the score of ``member`` from ``old`` to ``new``."""
        if new == 0 and self.listpack:
            new = 0.0
        self.dict[member] = new
        old_item = (old, member)
        item = (new, member)
        maxes = self._maxes
        lists = self._lists
        i = bisect_left(maxes, old_item)
        last = len(maxes) - 1
        if (i == 0 or maxes[i - 1] < item) and (i == last or item < lists[i + 1][0]):
            # Common case: the member stays within its block, whose size (and so
            # every rank offset) does not change.
            block = lists[i]
            del block[bisect_left(block, old_item)]
            insort(block, item)
            maxes[i] = block[-1]
            return
        block = lists[i]
        del block[bisect_left(block, old_item)]
        self._after_shrink(i)
        self._insert_item(item)

    def _insert_item(self, item):
        maxes = self._maxes
        if not maxes:
            self._lists.append([item])
            maxes.append(item)
            self._dirty = 0
            return
        i = bisect_left(maxes, item)
        if i == len(maxes):
            i -= 1
            block = self._lists[i]
            block.append(item)
            maxes[i] = item
        else:
            block = self._lists[i]
            insort(block, item)
        if len(block) > _SPLIT:
            self._split(i)
        if i < self._dirty:
            self._dirty = i + 1

    def remove(self, member):
        """Delete ``member``; True if it was there."""
        score = self.dict.pop(member, None)
        if score is None:
            return False
        self._remove_item((score, member))
        return True

    def _remove_item(self, item):
        i = bisect_left(self._maxes, item)
        block = self._lists[i]
        del block[bisect_left(block, item)]
        self._after_shrink(i)

    def _split(self, i):
        block = self._lists[i]
        half = len(block) >> 1
        new = block[half:]
        del block[half:]
        self._lists.insert(i + 1, new)
        self._maxes[i] = block[-1]
        self._maxes.insert(i + 1, new[-1])
        if i + 1 < self._dirty:
            self._dirty = i + 1

    def _after_shrink(self, i):
        """Block ``i`` lost elements: fix its max, drop or merge it if small."""
        lists = self._lists
        maxes = self._maxes
        block = lists[i]
        if not block:
            del lists[i]
            del maxes[i]
            if i < self._dirty:
                self._dirty = i
            return
        maxes[i] = block[-1]
        if i + 1 < self._dirty:
            self._dirty = i + 1
        if len(block) < _MERGE and len(lists) > 1:
            if i + 1 < len(lists):
                block.extend(lists[i + 1])
                del lists[i + 1]
                del maxes[i + 1]
            else:
                i -= 1
                lists[i].extend(block)
                del lists[i + 1]
                del maxes[i + 1]
                block = lists[i]
            maxes[i] = block[-1]
            if i < self._dirty:
                self._dirty = i
            if len(block) > _SPLIT:
                self._split(i)

    def clear(self):
        self.dict = {}
        self._lists = []
        self._maxes = []
        self._offsets = []
        self._dirty = 0

    def free_some(self, budget):
        """Drop up to about ``budget`` elements (lazy free); returns how many."""
        lists = self._lists
        d = self.dict
        freed = 0
        while lists and freed < budget:
            block = lists.pop()
            self._maxes.pop()
            pop = d.pop
            for _, m in block:
                pop(m, None)
            freed += len(block)
        self._offsets = []
        self._dirty = 0
        if not lists:
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
        lists = self._lists
        d = self._dirty
        offs = self._offsets
        del offs[d:]
        start = offs[-1] + len(lists[d - 1]) if d else 0
        offs.extend(accumulate(map(len, islice(lists, d, len(lists) - 1)), initial=start))
        self._dirty = len(lists)

    def _locate(self, rank):
        """(block index, position in block) of the element at ``rank``."""
        lists = self._lists
        n0 = len(lists[0])
        if rank < n0:
            return 0, rank
        last = len(lists) - 1
        tail = len(self.dict) - len(lists[last])
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
        item = (score, member)
        i = bisect_left(self._maxes, item)
        return self._offset(i) + bisect_left(self._lists[i], item)

    def at(self, rank):
        i, j = self._locate(rank)
        return self._lists[i][j]

    def slice(self, start, stop):
        """Elements with ranks in ``[start, stop)`` (clamped by the caller), ascending."""
        n = stop - start
        if n <= 0:
            return []
        i, j = self._locate(start)
        lists = self._lists
        out = lists[i][j:j + n]
        while len(out) < n:
            i += 1
            out += lists[i][:n - len(out)]
        return out

    def rev_slice(self, start, stop):
        """Elements with reverse ranks in ``[start, stop)``, descending."""
        size = len(self.dict)
        out = self.slice(size - stop, size - start)
        out.reverse()
        return out

    def first(self):
        return self._lists[0][0]

    def last(self):
        return self._lists[-1][-1]

    def delete_slice(self, start, stop):
        """Remove the elements with ranks in ``[start, stop)``; returns them."""
        n = stop - start
        if n <= 0:
            return []
        i, j = self._locate(start)
        lists = self._lists
        maxes = self._maxes
        removed = []
        first = i
        while n > 0:
            block = lists[i]
            part = block[j:j + n]
            del block[j:j + n]
            removed += part
            n -= len(part)
            if block:
                maxes[i] = block[-1]
                i += 1
            else:
                del lists[i]
                del maxes[i]
            j = 0
        pop = self.dict.pop
        for _, m in removed:
            pop(m)
        if first < self._dirty:
            self._dirty = first
        # at most two blocks survived the cut partially: keep them big enough
        for k in range(min(i, len(lists)) - 1, first - 1, -1):
            if k < len(lists) and len(lists[k]) < _MERGE:
                self._after_shrink(k)
        return removed

    def pop_first(self, count):
        """Remove and return up to ``count`` lowest elements, lowest first."""
        return self.delete_slice(0, min(count, len(self.dict)))

    def pop_last(self, count):
        """Remove and return up to ``count`` highest elements, highest first."""
        size = len(self.dict)
        out = self.delete_slice(size - min(count, size), size)
        out.reverse()
        return out

    # ------------------------------------------------------------- by score
    def _bisect(self, key):
        """Rank of the first element >= ``key`` (a tuple)."""
        maxes = self._maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            return len(self.dict)
        return self._offset(i) + bisect_left(self._lists[i], key)

    def score_span(self, lo, loex, hi, hiex):
        """Ranks ``[first, stop)`` of the elements with scores in the range."""
        if loex:
            if lo == inf:
                return 0, 0
            lo = nextafter(lo, inf)
        first = self._bisect((lo,)) if lo != -inf else 0
        if hiex:
            stop = self._bisect((hi,))
        elif hi == inf:
            stop = len(self.dict)
        else:
            stop = self._bisect((nextafter(hi, inf),))
        if stop < first:
            stop = first
        return first, stop

    # --------------------------------------------------------------- by lex
    def _lex_rank(self, member, right):
        """Rank of the first element whose member is >= (or > if ``right``) ``member``,
        assuming members are in order (equal scores)."""
        maxes = self._maxes
        bis = bisect_right if right else bisect_left
        i = bis(maxes, member, key=_member)
        if i == len(maxes):
            return len(self.dict)
        return self._offset(i) + bis(self._lists[i], member, key=_member)

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
        if reverse:
            r = len(self.dict) - 1
            for _, m in reversed(list(self)):
                if lte(m):
                    return r if gte(m) else None
                r -= 1
        else:
            for r, (_, m) in enumerate(self):
                if gte(m):
                    return r if lte(m) else None
        return None


# ------------------------------------------------------------------ lex bounds
def lex_empty(lo, hi):
    """Redis's "always empty" test on a lex range (min > max, or equal and open)."""
    k1, v1, ex1 = lo
    k2, v2, ex2 = hi
    if k1 == k2 and k1 != 0:
        return True                 # "-" "-" or "+" "+"
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
