"""The set type: a Python ``set`` of ``bytes`` members that knows its Redis encoding.

Redis 7.0 stores a set either as an *intset* (a sorted array of integers, while
every member is the canonical spelling of a 64-bit integer and there are at most
``set-max-intset-entries`` of them) or as a *hashtable*. The conversion is one
way: once a hashtable, always a hashtable (until the value is rebuilt, e.g. by
SPOP's "keep the few remaining" strategy or a reload). :class:`RSet` keeps that
as a flag, ``intset``, updated by the writers when members are added, so
``OBJECT ENCODING`` and the reply order agree with Redis:

* an intset is iterated in ascending numeric order (SMEMBERS, SSCAN, SINTER
  whose smallest set is an intset ... answer sorted), see :meth:`RSet.ordered`;
* a hashtable's order is arbitrary in Redis, so any order is right here.

Random members (SPOP, SRANDMEMBER, and HRANDFIELD for hashes) need O(1) uniform
picks, which a Python set cannot give. Each container keeps a lazily built
*sample list* (``_snap``), a list that holds every current member and possibly
some members removed since it was built. A pick draws a random slot and retries
when it hits a removed member; the list is rebuilt when more than half of it is
stale, so a pick costs O(1) amortised even while SPOP drains the set. Adding a
member invalidates the list (``_snap = None``): code that adds members to an
existing RSet/RHash other than through the command modules must call
:meth:`RSet.changed` (or create a new object).

**A set at rest is packed.** A Python set of five short strings takes about 950
bytes (its table grows fourfold at three fifths full, and each member is an
object of 33 bytes and more). Like a hash (:mod:`vermilion.types.hash`), a
hashtable-encoded set that one SADD created, or that a dataset load or RESTORE
brought in, is kept as a :class:`PackedSet`: one ``bytes`` object holding a 0
byte before each member and one at the end. SISMEMBER and SMISMEMBER find
``0 member 0`` with one C-level ``find`` (no member holds a 0 byte, so a match is
that member), SCARD and SMEMBERS read it as it is; every other command turns it
into an :class:`RSet` first, for good. Only sets of at most ``PACK_ENTRIES``
members holding no 0 byte are packed; an intset never is (its replies are sorted,
and it is small already in Redis too). SMEMBERS of a packed set answers in the
order the members were added, and in the set's hash order once unpacked: both are
right, as a hashtable's order is arbitrary in Redis.
"""

import random as _random

from ..util import parse_ll
from .packed import PACK_ENTRIES, Packed

_rand = _random.random
_randrange = _random.randrange
INTSET_HARD_LIMIT = 1 << 30  # Redis caps set-max-intset-entries here (intset internals)


def is_int_member(m):
    """Redis's isSdsRepresentableAsLongLong: the canonical spelling of an int64."""
    return parse_ll(m) is not None


def intset_ok(members, max_entries):
    """Would ``members`` (an iterable of bytes) be stored as an intset?"""
    if len(members) > min(max_entries, INTSET_HARD_LIMIT):
        return False
    for m in members:
        if parse_ll(m) is None:
            return False
    return True


# ------------------------------------------------------------------ sampling
# Shared by RSet and RHash: both have a ``_snap`` slot and iterate their members/fields.


def sample_list(container):
    """A list holding every member of ``container`` (and maybe some removed ones)."""
    snap = container._snap
    n = len(container)
    if snap is None or n > len(snap) or len(snap) > 2 * n + 8:
        snap = container._snap = list(container)
    return snap


def random_key(container):
    """One uniformly random member (set) or field (hash); the container is not empty."""
    snap = sample_list(container)
    size = len(snap)
    if size == len(container):
        return snap[int(_rand() * size)]
    while True:
        m = snap[int(_rand() * size)]
        if m in container:
            return m


def random_keys_unique(container, count):
    """``count`` distinct random members, in random order (``count`` <= len)."""
    n = len(container)
    if count * 3 > n:
        # Most of the container: a C-speed shuffle of everything is cheapest.
        return _random.sample(list(container), count)
    snap = sample_list(container)
    size = len(snap)
    if size == n:
        return _random.sample(snap, count)
    seen = set()
    out = []
    while len(out) < count:
        m = snap[int(_rand() * size)]
        if m not in seen and m in container:
            seen.add(m)
            out.append(m)
    return out


class RSet(set):
    """A Redis set: ``bytes`` members, plus the encoding flag and a sample list."""

    __slots__ = ("intset", "_snap")

    def __init__(self, members=()):
        set.__init__(self, members)
        self.intset = True
        self._snap = None

    @classmethod
    def build(cls, members, max_intset_entries):
        """A new set holding ``members`` with the encoding Redis would give it when
        adding them one by one to an empty intset (createIntsetObject + setTypeAdd)."""
        s = cls(members)
        s.intset = intset_ok(s, max_intset_entries)
        return s

    def object_encoding(self):
        return b"intset" if self.intset else b"hashtable"

    def ordered(self):
        """The members in Redis's iteration order: ascending for an intset."""
        if self.intset:
            return sorted(self, key=int)
        return list(self)

    def note_added(self, members, max_intset_entries):
        """After adding ``members``: apply the one-way intset -> hashtable conversion."""
        self._snap = None
        if self.intset:
            if len(self) > min(max_intset_entries, INTSET_HARD_LIMIT):
                self.intset = False
            else:
                for m in members:
                    if parse_ll(m) is None:
                        self.intset = False
                        break

    def changed(self):
        """Members were added by code outside the set commands: drop the sample list."""
        self._snap = None

    def copy(self):
        s = RSet(self)
        s.intset = self.intset
        return s

    def random_member(self):
        return random_key(self)

    def random_members_unique(self, count):
        return random_keys_unique(self, count)

    def __reduce__(self):
        return (_rebuild, (list(self), self.intset))

    def __repr__(self):
        return "RSet(%r, %s)" % (sorted(self), self.object_encoding().decode())


def _rebuild(members, intset):
    s = RSet(members)
    s.intset = intset
    return s


# ------------------------------------------------------------------ packed
class PackedSet(Packed):
    """A hashtable-encoded set at rest, read-only (see the module docstring and
    :mod:`vermilion.types.packed`).

    ``_b`` is a 0 byte before each member and one at the end; ``_n`` counts them."""

    __slots__ = ()
    intset = False
    type_name = "set"

    def __contains__(self, member):
        # (a member holding a 0 byte could match across entries; none is stored)
        return 0 not in member and self._b.find(b"\0" + member + b"\0") >= 0

    def ordered(self):
        """The members, in the order they were added (a list)."""
        return self._b[1:-1].split(b"\0")

    def __iter__(self):
        return iter(self.ordered())

    def unpack(self):
        """The same set as an RSet, hashtable-encoded."""
        s = RSet(self.ordered())
        s.intset = False
        return s

    def object_encoding(self):
        return b"hashtable"

    def __reduce__(self):
        return (pack, (_rebuild(self.ordered(), False),))

    def __repr__(self):
        return "PackedSet(%r)" % sorted(self)


def pack(s):
    """``s`` (an RSet) packed, if it can be (see the module docstring); else ``s``."""
    if s.intset:
        return s
    p = pack_members(list(s))
    return s if p is None else p


def pack_members(members):
    """A PackedSet of distinct ``members`` (a list), or None if they do not fit one."""
    n = len(members)
    if not 0 < n <= PACK_ENTRIES:
        return None
    b = b"\0" + b"\0".join(members) + b"\0"
    if b.count(0) != n + 1:  # (a member holds a 0 byte)
        return None
    return PackedSet.of(b, n)
