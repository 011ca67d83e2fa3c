"""Collections at rest, packed into one ``bytes`` object.

Redis keeps a small hash, sorted set or list node in a *listpack*: one allocation
holding every element with a byte or two of overhead each. Python keeps an object
per element (33 bytes of header before the first byte of data) inside a dict or
set whose table runs a third to three quarters empty, so a small collection took
two to sixteen times redis-server's memory. Most small collections in a large
dataset are written once and read after (an object cached as a hash, a user's
tags, a leaderboard loaded from a dump), so Vermilion keeps those *packed*, and
the ones being written as Python containers, at full speed:

* **What is packed**: a collection that one command made whole (the HSET, SADD or
  ZADD that created its key) or that a dataset load, RESTORE or a replica's sync
  brought in, when Redis would encode it compactly and it fits: at most 128
  elements, none holding the separator bytes below.
* **How**: one ``bytes`` object. Each element starts with a 0 byte, a 1 byte
  separates a field from its value (or a member from its score), and a 0 byte
  ends the last one. An element holding neither byte can be found with one
  C-level ``find`` of ``0 element 1`` (or ``0 element 0``): a 0 byte starts only
  an element and a 1 byte ends only a field, so a match is that element and
  nothing else, once the wanted name itself holds no 0 byte (no stored one does).
  The whole collection is one ``replace`` and one ``split`` away.
* **Read-only**: the reads that matter most (HGET, SISMEMBER, ZSCORE, ranges by
  rank...) answer from the packed form; the first write, or any other read,
  turns the key's value into the Python container (``unpack()``), for good, as
  Redis converts a listpack to a hashtable for good. The key keeps it until it is
  loaded again. OBJECT ENCODING, replies and the RDB encoding never change with
  the form: they follow the Redis encoding flags, which a packed value carries.

:class:`Packed` is what the three forms share; each type's own module says what
its form holds and answers (``hash.PackedHash``, ``zset.PackedZSet``,
``set.PackedSet``). Lists are packed differently, always (``list.RList``): their
elements are binary, and a queue is written at both ends.
"""

PACK_ENTRIES = 128  # elements of a packed collection, at most


class Packed:
    """A packed collection: the bytes object ``_b`` and the element count ``_n``."""

    __slots__ = ("_b", "_n")
    _ENTRY = b"%s\1%s"  # one entry of the pair layout: a name, a 1 byte, its value
    _FMT: list  # per class: _FMT[n], the layout of n entries, made when first needed

    @classmethod
    def from_flat(cls, flat):
        """Names and values alternating in ``flat`` (a list; distinct names, in
        order) packed in the pair layout, or None if they do not fit it (more than
        PACK_ENTRIES of them, or a 0 or 1 byte in one); the caller has checked
        Redis's listpack limits."""
        n = len(flat) >> 1
        if not 0 < n <= PACK_ENTRIES:
            return None
        fmt = cls._FMT[n]
        if fmt is None:
            fmt = cls._FMT[n] = b"\0" + b"\0".join([cls._ENTRY] * n) + b"\0"
        b = fmt % tuple(flat)
        if b.count(0) != n + 1 or b.count(1) != n:
            return None
        return cls.of(b, n)

    @classmethod
    def of(cls, b, n):
        p = cls.__new__(cls)
        p._b = b
        p._n = n
        return p

    def __len__(self):
        return self._n

    def copy(self):
        """An independent copy (COPY): the bytes object is immutable, so shared."""
        return self.of(self._b, self._n)

    def __sizeof__(self):
        return object.__sizeof__(self) + self._b.__sizeof__()
