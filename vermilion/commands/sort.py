"""SORT and SORT_RO (sort.c): sort a list, set or sorted set, optionally by other keys.

``SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
[STORE destination]`` reads the elements of ``key`` and orders them:

* numerically by default: each element (or the value ``BY`` points to) is read
  with C's ``strtod``; one that is not a number makes the whole command fail with
  "One or more scores can't be converted into double". Equal scores are ordered
  by comparing the elements' bytes, so the result is deterministic;
* with ``ALPHA``, as strings (``strcoll``: the byte order in the "C"/"C.UTF-8"
  locales Redis runs with; a NUL byte ends the string, as in C). With ``BY``,
  elements whose ``BY`` key is missing sort first;
* ``BY`` with no ``*`` in the pattern (``BY nosort``) does not sort at all: lists
  and sorted sets keep their order (reversed by ``DESC``); a set is then sorted
  ALPHA anyway when the result is stored (or the caller is a script), so that
  replicas get the same answer.

A pattern's first ``*`` is replaced by the element; ``key->field`` reads a hash
field; ``#`` is the element itself. ``GET`` patterns whose key is missing (or of
another type) give nil, or an empty string in a ``STORE``d list. ``STORE`` writes
a list (and emits the ``sortstore`` event) or deletes the destination when the
result is empty.

Two of Redis's side effects are kept because clients can see them: sorting a
sorted set converts it to the skiplist encoding for good, and ``LIMIT`` is
clamped to the element count before anything is read.
"""

from ..acl import full_key_access
from ..errors import CommandError, WRONGTYPE, SYNTAX
from ..keyspace.db import NOTIFY_LIST, NOTIFY_GENERIC
from ..types.zset import ZSet, PackedZSet
from ..core.table import command
from ..util import parse_int
from .zsets import strtod_c, unpacked
from ..types.list import RList
from ..types.set import RSet, PackedSet
from .sets import unpacked_set
from ..types.hash import RHash, PackedHash

_STRINGS = (bytes, bytearray)


def _lookup_by_pattern(db, pattern, subst):
    """lookupKeyByPattern: the string a GET/BY pattern points to for ``subst``, or None."""
    if pattern == b"#":
        return subst
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2 :]
        key = pattern[:star] + subst + pattern[star + 1 : arrow]
    else:
        key = pattern[:star] + subst + pattern[star + 1 :]
    v = db.lookup_read(key)
    if v is None:
        return None
    if field is not None:
        if v.__class__ is not RHash and v.__class__ is not PackedHash:
            return None
        return v.get(field)
    if v.__class__ is bytes:
        return v
    if v.__class__ is bytearray:
        return bytes(v)
    return None


def _cstr(b):
    """The part of ``b`` a C string function sees (up to the first NUL)."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def _elements(value, dontsort, desc, start, end):
    """The elements to sort, as sortCommandGeneric loads them.

    Returns ``(elements, start, end)``: for a list or sorted set that is not
    sorted (``dontsort``) only the LIMIT range is read, in the requested order,
    and ``start``/``end`` are rebased on it.
    """
    t = value.__class__
    if t is ZSet:
        if dontsort:
            size = len(value)
            n = max(end - start + 1, 0)
            if desc:
                members = value.rev_range(start, min(start + n, size))[1]
            else:
                members = value.range(start, min(start + n, size))[1]
            return members, 0, end - start
        return list(value.dict), start, end
    if t is RList:
        if dontsort:
            if end < start:
                return [], start, end
            n = end - start + 1
            size = len(value)
            if desc:
                lo = size - 1 - start - (n - 1)
                out = value.range(max(lo, 0), size - 1 - start)
                out.reverse()
            else:
                out = value.range(start, min(end, size - 1))
            return out, 0, end - start
        return list(value), start, end
    ordered = getattr(value, "ordered", None)
    return (ordered() if ordered is not None else list(value)), start, end


def _sort(c, argv, readonly):
    n = len(argv)
    desc = alpha = dontsort = False
    limit_start, limit_count = 0, -1
    sortby = storekey = None
    gets = []
    j = 2
    while j < n:
        opt = argv[j].lower()
        left = n - j - 1
        if opt == b"asc":
            desc = False
        elif opt == b"desc":
            desc = True
        elif opt == b"alpha":
            alpha = True
        elif opt == b"limit" and left >= 2:
            limit_start = parse_int(argv[j + 1])
            limit_count = parse_int(argv[j + 2])
            j += 2
        elif not readonly and opt == b"store" and left >= 1:
            storekey = argv[j + 1]
            j += 1
        elif opt == b"by" and left >= 1:
            sortby = argv[j + 1]
            if b"*" not in _cstr(sortby):
                dontsort = True
            elif not full_key_access(c, argv):
                raise CommandError(
                    "ERR BY option of SORT denied due to insufficient ACL permissions."
                )
            j += 1
        elif opt == b"get" and left >= 1:
            if not full_key_access(c, argv):
                raise CommandError(
                    "ERR GET option of SORT denied due to insufficient ACL permissions."
                )
            gets.append(argv[j + 1])
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1

    db = c.db
    value = db.lookup_read(argv[1])
    if value is None:
        value = RList()
    elif value.__class__ is PackedZSet:
        value = unpacked(db, argv[1], value)  # (SORT changes its encoding, below)
    elif value.__class__ is PackedSet:
        value = unpacked_set(db, argv[1], value)
    elif (
        value.__class__ is not ZSet and value.__class__ is not RList and value.__class__ is not RSet
    ):
        raise CommandError(WRONGTYPE)

    # An unsorted set would come out in hash order: force a deterministic order
    # when the result is stored or goes to a script (connection-less client).
    if dontsort and value.__class__ is RSet and (storekey is not None or c.conn is None):
        dontsort = False
        alpha = True
        sortby = None
    if value.__class__ is ZSet:
        value.listpack = False  # SORT converts a sorted set to skiplist, for good

    size = len(value)
    start = min(max(limit_start, 0), size)
    limit_count = min(max(limit_count, -1), size)
    end = size - 1 if limit_count < 0 else start + limit_count - 1
    if start >= size:
        start = size - 1
        end = size - 2
    if end >= size:
        end = size - 1

    elements, start, end = _elements(value, dontsort, desc, start, end)

    if not dontsort:
        elements = _sorted(db, elements, sortby, alpha, desc, storekey is not None)

    count = end - start + 1
    if count < 0:
        count = 0
    outputlen = len(gets) * count if gets else count
    selected = elements[start : start + count] if count else []
    if storekey is None:
        if not gets:
            return selected
        out = []
        for e in selected:
            for p in gets:
                out.append(_lookup_by_pattern(db, p, e))
        return out

    if not gets:
        result = RList(selected)
    else:
        result = RList(
            b"" if v is None else v
            for e in selected
            for v in (_lookup_by_pattern(db, p, e) for p in gets)
        )
    server = c.server
    if outputlen:
        db.set(storekey, result)
        db.notify(NOTIFY_LIST, "sortstore", storekey)
        server.dirty += outputlen
        db.ready(storekey)
    elif db.delete(storekey):
        db.notify(NOTIFY_GENERIC, "del", storekey)
        server.dirty += 1
    return outputlen


def _sorted(db, elements, sortby, alpha, desc, store):
    """The elements in SORT's order (Python's sort is stable, like glibc's qsort)."""
    if alpha:
        if sortby is None:
            key = (lambda e: e) if store else _cstr
            return sorted(elements, key=key, reverse=desc)
        keyed = []
        for e in elements:
            v = _lookup_by_pattern(db, sortby, e)
            if v is not None and not store:
                v = _cstr(v)
            keyed.append((v, e))
        # a missing BY value sorts before any other; ties keep their order
        keyed.sort(key=lambda t: (t[0] is not None, t[0] or b""), reverse=desc)
        return [e for _, e in keyed]
    keyed = []
    failed = False
    for e in elements:
        if sortby is not None:
            v = _lookup_by_pattern(db, sortby, e)
            if v is None:
                keyed.append((0.0, e))
                continue
        else:
            v = e
        r = strtod_c(v)
        if r is None or r[1] or r[0] != r[0]:
            failed = True
            keyed.append((0.0, e))
        else:
            keyed.append((r[0], e))
    if failed:
        raise CommandError("ERR One or more scores can't be converted into double")
    keyed.sort(reverse=desc)
    return [e for _, e in keyed]


@command("sort")
def sort(c, argv):
    return _sort(c, argv, False)


@command("sort_ro")
def sort_ro(c, argv):
    return _sort(c, argv, True)
