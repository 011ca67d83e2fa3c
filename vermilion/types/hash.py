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
is therefore kept as a :class:`PackedHash`: one ``bytes`` object holding, for
each field, a 0 byte, the field, a 1 byte and its value (and a 0 byte at the
end), about as compact as the listpack. HGET finds ``0 field 1`` with one C-level
``find`` and slices the value up to the next 0 byte: a 0 byte starts only a field
and a 1 byte ends only a field, so for a wanted field without a 0 byte (no stored
field has one) a match is that field and nothing else. The whole hash, for
HGETALL or turning it back into a dict, is one ``replace`` and one ``split``. A
packed hash is read-only: the first write to it (HSET, HSETNX, HINCRBY*, HDEL)
turns it into an :class:`RHash`, a dict again, and the key keeps that until it is
loaded again. Writes stay at dict speed where hashes are written often, and
memory falls where they are not.

Only hashes within Redis's listpack limits are packed (so OBJECT ENCODING, HSCAN,
HRANDFIELD and the RDB encoding, which follow the ``listpack`` flag, are those of
Redis), of at most ``PACK_ENTRIES`` fields, whose fields and values hold no 0 or 1
byte (binary data stays in a dict).
"""

import random
from itertools import chain

from .packed import PACK_ENTRIES, Packed
from .set import random_key, random_keys_unique

_chain = chain.from_iterable
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
class PackedHash(Packed):
    """A listpack-encoded hash at rest, read-only (see the module docstring and
    :mod:`vermilion.types.packed`).

    ``_b`` holds, for each field in order, a 0 byte, the field, a 1 byte and its
    value, and one 0 byte at the end; ``_n`` is the number of fields."""

    __slots__ = ()
    _FMT = [None] * (PACK_ENTRIES + 1)
    listpack = True
    type_name = "hash"

    def get(self, field, default=None):
        # (a field holding a 0 byte could match across entries; none is stored)
        if 0 in field:  # (an int needle: bytes' fast path)
            return default
        b = self._b
        i = b.find(b"\0" + field + b"\1")
        if i < 0:
            return default
        i += len(field) + 2
        return b[i : b.find(b"\0", i)]

    def __getitem__(self, field):
        v = self.get(field)
        if v is None:
            raise KeyError(field)
        return v

    def __contains__(self, field):
        return 0 not in field and self._b.find(b"\0" + field + b"\1") >= 0

    def _flat(self):
        """Fields and values alternating, in order (a list)."""
        return self._b[1:-1].replace(b"\1", b"\0").split(b"\0")

    def __iter__(self):
        """The fields, in listpack order."""
        return iter(self._flat()[0::2])

    keys = __iter__

    def values(self):
        """The values, in order (a list)."""
        return self._flat()[1::2]

    def items(self):
        flat = self._flat()
        return zip(flat[0::2], flat[1::2])

    def unpack(self):
        """The same hash as an RHash (a dict), listpack-encoded."""
        return RHash(self.items())

    def object_encoding(self):
        return b"listpack"

    def random_field(self):
        fields = self._flat()[0::2]
        return fields[int(_random() * len(fields))]

    def random_fields_unique(self, count):
        return _sample(self._flat()[0::2], count)

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
    p = pack_flat(list(_chain(h.items())))
    return h if p is None else p


def pack_flat(flat, max_value=None):
    """A PackedHash of the fields and values alternating in ``flat`` (a list;
    distinct fields), or None if they do not fit one (see the module docstring)
    or one is longer than ``max_value``; the caller has checked the number of
    fields against Redis's listpack limit."""
    p = PackedHash.from_flat(flat)
    # (all of them together within max_value: each one is)
    if p is not None and max_value is not None and len(p._b) - 2 * p._n - 1 > max_value:
        if max(map(len, flat)) > max_value:
            return None
    return p
