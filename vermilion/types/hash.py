"""The hash type: a Python ``dict`` of ``bytes`` field -> ``bytes`` value that knows
its Redis encoding.

Redis 7.0 stores a small hash as a *listpack* (fields and values one after the
other, in insertion order) until it has more than ``hash-max-listpack-entries``
fields or a field or value longer than ``hash-max-listpack-value`` bytes is
written; then it becomes a *hashtable*, for good. :class:`RHash` keeps that as
the ``listpack`` flag, updated by the writers (HSET, HSETNX, HINCRBY* in
:mod:`vermilion.commands.hashes`).

The order of a Python dict is the order of a listpack: a new field goes to the
end, writing an existing field replaces its value in place, and deleting a field
closes the gap. So HGETALL/HKEYS/HVALS/HSCAN of a small hash answer in exactly
Redis's order; a hashtable's order is arbitrary in Redis anyway.

Random fields (HRANDFIELD) use the sample list shared with sets
(:func:`vermilion.types.set.random_key`): code that adds fields to an existing
RHash other than through the hash commands must call :meth:`RHash.changed`.

**A hash at rest is packed.** A dict and an object per field and value cost a
three-field hash about 460 bytes, where Redis's listpack takes about 60, and a
dataset of millions of small hashes (an object per key, a session, a cached row)
is mostly hashes written once and read after. A listpack-encoded hash that a
single HSET created, or that a dataset load, RESTORE or replication brought in,
is therefore kept as a :class:`PackedHash`: its fields in one ``bytes`` object,
each between two NUL bytes, and its values in another,
with a third holding their lengths, one byte each. A read finds a field with one
C-level ``find`` of ``NUL field NUL``, counts the NULs before it for its
position, and slices the value out at the sum of the lengths before it; turning
it back into a dict is C-level too (a ``zip`` of the split fields and the sliced
values). A packed hash is read-only: the first
write to it (HSET, HSETNX, HINCRBY*, HDEL) turns it into an :class:`RHash`, a
dict again, and the key keeps that until it is loaded again. Writes stay at dict
speed where hashes are written often, and memory falls where they are not.

Only hashes within Redis's listpack limits are packed (so OBJECT ENCODING, HSCAN,
HRANDFIELD and the RDB encoding, which follow the ``listpack`` flag, are those of
Redis), of at most ``PACK_ENTRIES`` fields, whose field names hold no NUL byte and
whose values are shorter than 256 bytes.
"""

import random

from .set import random_key, random_keys_unique

_random = random.random
_sample = random.sample


class RHash(dict):
    """A Redis hash: ``bytes`` -> ``bytes``, plus the encoding flag and a sample list."""

    __slots__ = ("listpack", "_snap")

    def __init__(self, *args, **kwargs):
        dict.__init__(self, *args, **kwargs)
        self.listpack = True
        self._snap = None

    @classmethod
    def build(cls, pairs, max_entries, max_value):
        """A new hash with the encoding Redis gives it when the pairs are written to
        an empty (listpack) hash one by one."""
        h = cls(pairs)
        h.listpack = listpack_ok(h, max_entries, max_value)
        return h

    def object_encoding(self):
        return b"listpack" if self.listpack else b"hashtable"

    def changed(self):
        """Fields were added by code outside the hash commands: drop the sample list."""
        self._snap = None

    def copy(self):
        h = RHash(self)
        h.listpack = self.listpack
        return h

    def random_field(self):
        return random_key(self)

    def random_fields_unique(self, count):
        return random_keys_unique(self, count)

    def __reduce__(self):
        return (_rebuild, (list(self.items()), self.listpack))

    def __repr__(self):
        return "RHash(%r, %s)" % (dict(self), self.object_encoding().decode())


def listpack_ok(h, max_entries, max_value):
    """Would hash ``h`` fit a listpack under these limits?"""
    if len(h) > max_entries:
        return False
    for f, v in h.items():
        if len(f) > max_value or len(v) > max_value:
            return False
    return True


def _rebuild(items, listpack):
    h = RHash(items)
    h.listpack = listpack
    return h


# ------------------------------------------------------------------ packed
PACK_ENTRIES = 128


class PackedHash:
    """A listpack-encoded hash at rest, read-only (see the module docstring).

    ``_f`` is NUL, then each field followed by NUL; ``_v`` the values one after
    another; ``_n`` their lengths, one byte each."""

    __slots__ = ("_f", "_v", "_n")
    listpack = True
    type_name = "hash"

    def __len__(self):
        return len(self._n)

    def _pos(self, field):
        """The position of ``field``, or -1."""
        if 0 in field:  # (never packed; an int needle: bytes' fast path)
            return -1
        f = self._f
        i = f.find(b"\0" + field + b"\0")
        return i if i < 0 else f.count(0, 0, i)

    def get(self, field, default=None):
        if 0 in field:  # (_pos, written out: HGET's path)
            return default
        f = self._f
        i = f.find(b"\0" + field + b"\0")
        if i < 0:
            return default
        k = f.count(0, 0, i)
        n = self._n
        a = sum(n[:k]) if k else 0
        return self._v[a : a + n[k]]

    def __getitem__(self, field):
        v = self.get(field)
        if v is None:
            raise KeyError(field)
        return v

    def __contains__(self, field):
        return self._pos(field) >= 0

    def __iter__(self):
        """The fields, in listpack order."""
        return iter(self._f[1:-1].split(b"\0"))

    keys = __iter__

    def values(self):
        """The values, in order (a list)."""
        # (a loop: for a few dozen values it is two to three times faster than
        # slicing through map(slice, accumulate(...)))
        v = self._v
        out = []
        add = out.append
        a = 0
        for k in self._n:
            b = a + k
            add(v[a:b])
            a = b
        return out

    def items(self):
        return zip(self, self.values())

    def unpack(self):
        """The same hash as an RHash (a dict), listpack-encoded."""
        return RHash(self.items())

    def copy(self):
        h = PackedHash.__new__(PackedHash)
        h._f, h._v, h._n = self._f, self._v, self._n  # (immutable: shared)
        return h

    def object_encoding(self):
        return b"listpack"

    def random_field(self):
        fields = list(self)
        return fields[int(_random() * len(fields))]

    def random_fields_unique(self, count):
        return _sample(list(self), count)

    def __sizeof__(self):
        return (
            object.__sizeof__(self)
            + self._f.__sizeof__()
            + self._v.__sizeof__()
            + self._n.__sizeof__()
        )

    def __eq__(self, other):
        """Equal to a mapping with the same fields and values, like a dict."""
        if other.__class__ is PackedHash or isinstance(other, dict):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # (a mapping: unhashable)

    def __reduce__(self):
        return (pack, (_rebuild(list(self.items()), True),))

    def __repr__(self):
        return "PackedHash(%r)" % dict(self.items())


def pack(h):
    """``h`` (an RHash) packed, if it can be (see the module docstring); else ``h``."""
    if not h.listpack:
        return h
    p = pack_pairs(list(h), list(h.values()))
    return h if p is None else p


def pack_pairs(fields, values):
    """A PackedHash of distinct ``fields`` and their ``values`` (two lists), or
    None if they do not fit one (see the module docstring); the caller has checked
    Redis's listpack limits."""
    if not 0 < len(fields) <= PACK_ENTRIES:
        return None
    f = b"\0".join(fields)
    if f.count(0) != len(fields) - 1:  # (a field holds a NUL)
        return None
    try:
        n = bytes(map(len, values))
    except ValueError:  # (a value of 256 bytes or more)
        return None
    p = PackedHash.__new__(PackedHash)
    p._f = b"\0" + f + b"\0"
    p._v = b"".join(values)
    p._n = n
    return p
