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
"""

from .set import random_key, random_keys_unique


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
