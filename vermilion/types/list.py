"""The list type: a double-ended queue of byte strings.

Redis 7.0 stores every list as a *quicklist* (a linked list of listpack nodes;
``list-max-listpack-size`` bounds a node, ``list-compress-depth`` says how many
nodes at each end stay uncompressed). Unlike 7.2, Redis 7.0 has no single-listpack
list encoding: ``t_list.c`` always creates a quicklist and never converts, so
``OBJECT ENCODING`` of any list answers ``quicklist`` whatever the configuration.

:class:`RList` is a :class:`collections.deque`: O(1) pushes and pops at both ends,
which is what LPUSH/RPUSH/LPOP/RPOP and the blocking pops need, and O(n) from the
nearer end for indexed access (LINDEX/LSET), like the quicklist. Elements are kept
exactly as given (``bytes``): Redis's integer encoding inside listpacks only
applies to canonical integers, so every element reads back byte for byte.

Ranges (LRANGE, the COUNT pops) are taken from the nearer end, so a range near the
tail of a long list costs its own length, not the list's.
"""
import collections
import itertools

_islice = itertools.islice
_repeat = itertools.repeat
_starmap = itertools.starmap


class RList(collections.deque):
    __slots__ = ()

    def object_encoding(self, config=None):
        """OBJECT ENCODING: always ``quicklist`` in Redis 7.0 (see module docstring)."""
        return b"quicklist"

    def range(self, start, stop):
        """Elements ``start..stop`` (inclusive, already clamped to 0 <= start <= stop < len)."""
        n = len(self)
        if start <= n - 1 - stop:
            return list(_islice(self, start, stop + 1))
        out = list(_islice(reversed(self), n - 1 - stop, n - start))
        out.reverse()
        return out

    def pop_left_n(self, count):
        """Pop up to ``count`` elements from the head, in head-to-tail order."""
        pop = self.popleft
        if count >= len(self):
            out = list(self)
            self.clear()
            return out
        return [pop() for _ in range(count)]

    def pop_right_n(self, count):
        """Pop up to ``count`` elements from the tail, tail first."""
        if count >= len(self):
            out = list(reversed(self))
            self.clear()
            return out
        pop = self.pop
        return [pop() for _ in range(count)]

    def trim(self, ltrim, rtrim):
        """Drop ``ltrim`` elements from the head and ``rtrim`` from the tail."""
        keep = len(self) - ltrim - rtrim
        if keep < ltrim + rtrim and keep > 0:
            kept = self.range(ltrim, ltrim + keep - 1)
            self.clear()
            self.extend(kept)
            return
        if ltrim:
            collections.deque(_starmap(self.popleft, _repeat((), ltrim)), maxlen=0)
        if rtrim:
            collections.deque(_starmap(self.pop, _repeat((), rtrim)), maxlen=0)

    def free_some(self, budget):
        """Lazy free (server.lazyfree): drop up to ``budget`` elements at C speed."""
        n = min(budget, len(self))
        collections.deque(_starmap(self.pop, _repeat((), n)), maxlen=0)
        return max(n, 1)
