"""Streams in RDB files and in AOF rewrites (rdb.c, aof.c: the OBJ_STREAM parts).

RDB (type 19, ``RDB_TYPE_STREAM_LISTPACKS_2``; type 15 is read too)::

    <number of nodes>
      <node key: 16-byte big-endian master ID> <listpack blob>     (per node)
    <length> <last_id ms> <last_id seq>
    <first_id ms> <first_id seq> <max_deleted ms> <max_deleted seq> <entries_added>
    <number of groups>
      <name> <last_id ms> <last_id seq> <entries_read>
      <PEL size> (<16-byte ID> <delivery time: int64 LE ms> <delivery count>)...
      <consumers> (<name> <seen time: int64 LE ms> <PEL size> <16-byte ID>...)...

Each node is written as the listpack Redis itself holds for it (see
:mod:`vermilion.types.stream`: the node keeps its master fields and its
tombstones), entry by entry::

    master: <count> <deleted> <num fields> <field>... 0
    entry:  <flags> <ms - master ms> <seq - master seq> [<num fields> <field>...]
            <value>... <lp-count>

flags: 1 = deleted, 2 = same fields as the master entry (then the field names
are left out). So a stream saved here is byte for byte the one redis-server
saves, and loading a Redis RDB rebuilds Redis's exact node layout.

API (for rdb.py and aof.py):

* ``encode_stream(s, compress=True) -> bytes``: the value payload (after the
  type byte ``TYPE_STREAM_LISTPACKS_2`` = 19).
* ``load_stream(r, rdbtype, deep=False) -> Stream``: read a type 15/19 value
  with an :class:`rdb.Reader` positioned after the type byte.
* ``rewrite_commands(key, s) -> list of argv``: the commands rebuilding the
  stream in an AOF rewrite (rewriteStreamObject).
"""

import struct

from . import listpack
from .rdb_strings import RdbError, enc_len, enc_raw_blob, enc_string
from ..types.stream import (
    Stream,
    Group,
    NACK,
    _Node,
    MASK64,
    format_id,
    _int_size,
    INVALID_ENTRIES_READ,
)

TYPE_STREAM_LISTPACKS = 15
TYPE_STREAM_LISTPACKS_2 = 19

FLAG_DELETED = 1
FLAG_SAMEFIELDS = 2

_pack_ms = struct.Struct("<q").pack
_unpack_ms = struct.Struct("<q").unpack


def _s64(v):
    """A uint64 difference as the int64_t Redis stores."""
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


# ------------------------------------------------------------------ writing
def node_listpack(node):
    """The listpack bytes Redis holds for ``node`` (tombstones included).

    The elements are gathered in one flat list (ints and strings) and encoded
    by one ``listpack.encode_entries`` call: no call per element."""
    mf = node.mfields
    nmf = len(mf)
    elems = [len(node.ids), len(node.dead), nmf]
    elems += mf
    elems.append(0)
    count = 4 + nmf
    dead = node.dead
    if dead:
        entries = list(zip(node.ids, node.data))
        entries += dead.items()
        entries.sort(key=lambda e: e[0])
    else:
        entries = zip(node.ids, node.data)
    mms = node.master >> 64
    mseq = node.master & MASK64
    ext = elems.extend
    app = elems.append
    for i, fv in entries:
        nf = len(fv) >> 1
        same = nf == nmf and fv[0::2] == mf
        flags = (FLAG_SAMEFIELDS if same else 0) | (FLAG_DELETED if dead and i in dead else 0)
        dms = ((i >> 64) - mms) & MASK64
        dseq = ((i & MASK64) - mseq) & MASK64
        # the int64_t Redis stores for the uint64 differences
        ext(
            (flags, dms - (1 << 64) if dms >> 63 else dms, dseq - (1 << 64) if dseq >> 63 else dseq)
        )
        if same:
            ext(fv[1::2])
            app(nf + 3)
            count += 4 + nf
        else:
            app(nf)
            ext(fv)
            app(2 * nf + 4)
            count += 5 + 2 * nf
    return listpack.assemble(listpack.encode_entries(elems), count)


def _raw_id(i):
    return i.to_bytes(16, "big")


def encode_stream(s, compress=True):
    """rdbSaveObject for a stream: the payload after the type byte (19)."""
    out = [enc_len(len(s.nodes))]
    for node in s.nodes:
        out.append(enc_string(_raw_id(node.master), compress))
        out.append(enc_raw_blob(node_listpack(node), compress))
    for v in (
        s.length,
        s.last_id >> 64,
        s.last_id & MASK64,
        s.first_id >> 64,
        s.first_id & MASK64,
        s.max_deleted_id >> 64,
        s.max_deleted_id & MASK64,
        s.entries_added,
    ):
        out.append(enc_len(v))
    groups = s.sorted_groups()
    out.append(enc_len(len(groups)))
    for g in groups:
        out.append(enc_string(g.name, compress))
        out.append(enc_len(g.last_id >> 64))
        out.append(enc_len(g.last_id & MASK64))
        out.append(enc_len(g.entries_read & MASK64))  # -1 is saved as a uint64
        out.append(enc_len(len(g.pel)))
        for i, nack in g.pel.items():
            out.append(_raw_id(i))
            out.append(_pack_ms(nack.delivery_time))
            out.append(enc_len(nack.delivery_count & MASK64))
        consumers = g.sorted_consumers()
        out.append(enc_len(len(consumers)))
        for cons in consumers:
            out.append(enc_string(cons.name, compress))
            out.append(_pack_ms(cons.seen_time))
            out.append(enc_len(len(cons.pel)))
            for i, _ in cons.pel.items():
                out.append(_raw_id(i))
    return b"".join(out)


# ------------------------------------------------------------------ reading
def _corrupt(msg):
    return RdbError(msg)


def _deep_corrupt(msg, failure="assert"):
    """An error only Redis's deep sanitization finds (see errors.py): without
    it Redis accepts the stream and asserts (or panics) when it walks it."""
    e = RdbError(msg)
    e.deep_only = True
    e.redis_failure = failure
    return e


def _node_from_listpack(master, lp, deep):
    """A _Node from one listpack (streamValidateListpackIntegrity's checks).

    Every entry is checked whatever ``deep`` says (the node is built from them);
    past the header, a failure is one Redis's shallow check would not see."""
    if not listpack.header_ok(lp):
        raise _corrupt("Stream listpack integrity check failed.")
    if len(lp) == 7:
        raise _corrupt("Empty listpack inside stream")
    try:
        el = listpack.decode(lp, True, False)
    except Exception:
        raise _deep_corrupt("Stream listpack integrity check failed.")
    if not el:
        raise _corrupt("Empty listpack inside stream")
    bad = _deep_corrupt("Stream listpack integrity check failed.")

    def num(x):
        if x.__class__ is int:
            return x
        try:
            return int(x)
        except ValueError:
            raise bad

    def text(x):
        return b"%d" % x if x.__class__ is int else x

    try:
        count = num(el[0])
        deleted = num(el[1])
        nmf = num(el[2])
        if nmf < 0:
            raise bad
        mf = [text(x) for x in el[3 : 3 + nmf]]
        p = 3 + nmf
        if len(mf) != nmf or num(el[p]) != 0:
            raise bad
        p += 1
        node = _Node(master, mf)
        mms = master >> 64
        mseq = master & MASK64
        total = count + deleted
        ids = node.ids
        data = node.data
        dead = node.dead
        n = len(el)
        last = None
        for _ in range(total):
            # (the integers inline, num() only for what is not an int: this loop
            # runs once per stream entry of the file)
            flags = el[p]
            dms = el[p + 1]
            dseq = el[p + 2]
            if flags.__class__ is not int:
                flags = num(flags)
            if dms.__class__ is not int:
                dms = num(dms)
            if dseq.__class__ is not int:
                dseq = num(dseq)
            i = (((mms + dms) & MASK64) << 64) | ((mseq + dseq) & MASK64)
            p += 3
            if flags & FLAG_SAMEFIELDS:
                nf = nmf
                vals = [b"%d" % x if x.__class__ is int else x for x in el[p : p + nf]]
                if len(vals) != nf:
                    raise bad
                fv = [None] * (2 * nf)
                fv[0::2] = mf
                fv[1::2] = vals
                p += nf
                extra = 3
            else:
                nf = num(el[p])
                if nf < 0:
                    raise bad
                p += 1
                # field, value, field, value...
                fv = [b"%d" % x if x.__class__ is int else x for x in el[p : p + 2 * nf]]
                p += 2 * nf
                if len(fv) != 2 * nf:
                    raise bad
                extra = nf + 4
            if p >= n:
                raise bad
            lpc = el[p]
            if (lpc if lpc.__class__ is int else num(lpc)) != nf + extra:
                raise bad
            p += 1
            if last is not None and i <= last:
                raise bad
            last = i
            if flags & FLAG_DELETED:
                dead[i] = fv
            else:
                ids.append(i)
                data.append(fv)
        if p != n:
            raise bad
        if len(ids) != count:
            raise bad
    except IndexError:
        raise bad
    node.fixed = len(lp) - _int_size(count) - _int_size(deleted)
    node.last = last if last is not None else master
    return node


def _ulen(r):
    """rdbLoadLen where Redis does not check for RDB_LENERR (the stream's length
    and IDs, a group's ID and offset, a NACK's delivery count): an unknown length
    encoding reads as -1, that is 2**64 - 1, and loading goes on."""
    try:
        return r.len()
    except RdbError as e:
        if not str(e).startswith("Unknown length encoding"):
            raise
        return MASK64


def _load_ms(r):
    return _unpack_ms(r.take(8))[0]


def load_stream(r, rdbtype=TYPE_STREAM_LISTPACKS_2, deep=False):
    """rdbLoadObject for a stream (types 15 and 19)."""
    s = Stream()
    lenient = getattr(r, "lenient", False)
    nnodes = r.len()
    seen = set()
    for _ in range(nnodes):
        key = bytes(r.string())
        if len(key) != 16:
            raise _corrupt("Stream node key entry is not the size of a stream ID")
        lp = r.string()
        master = int.from_bytes(key, "big")
        if master in seen:
            raise _corrupt("Listpack re-added with existing key")
        seen.add(master)
        try:
            node = _node_from_listpack(master, bytes(lp), deep)
        except RdbError as e:
            if not (e.deep_only and lenient):
                raise
            # Redis (shallow sanitization) takes this node as it is; we keep
            # the stream without it (see errors.py).
            r.note_deep(e)
            continue
        s.nodes.append(node)
        s.starts.append(master)
    if s.starts != sorted(s.starts):
        # Redis's radix tree orders the nodes by key whatever order the payload
        # lists them in; so do we.
        s.nodes.sort(key=lambda n: n.master)
        s.starts.sort()
    for a, b in zip(s.nodes, s.nodes[1:]):
        # nodes whose entries interleave: a state Redis never writes (and
        # accepts), which our Stream cannot hold
        lo = b.ids[0] if b.ids else b.master
        if b.dead:
            lo = min(lo, next(iter(b.dead)))
        if a.last >= lo:
            raise _corrupt("Stream nodes whose entries interleave")
    s.length = _ulen(r)
    s.last_id = (_ulen(r) << 64) | _ulen(r)
    if rdbtype == TYPE_STREAM_LISTPACKS_2:
        s.first_id = (_ulen(r) << 64) | _ulen(r)
        s.max_deleted_id = (_ulen(r) << 64) | _ulen(r)
        s.entries_added = _ulen(r)
        if s.entries_added >> 63:  # a long long in Redis
            s.entries_added -= 1 << 64
    else:
        s.max_deleted_id = 0
        s.entries_added = s.length
        s.first_id = s.first_live_id()  # streamGetEdgeID: the max ID when empty
    if s.length and not nnodes:  # (nodes dropped as corrupt: see below)
        raise _corrupt("Stream length inconsistent with rax entries")
    live = sum(len(n.ids) for n in s.nodes)
    if live != s.length:
        # Redis only checks that a non-empty stream has nodes; a length that
        # disagrees with the entries makes its iterators panic later.
        err = _deep_corrupt("Stream length inconsistent with rax entries", "panic")
        if not lenient:
            raise err
        r.note_deep(err)
        s.length = live
    ngroups = r.len()
    for _ in range(ngroups):
        name = bytes(r.string())
        gid = (_ulen(r) << 64) | _ulen(r)
        if rdbtype == TYPE_STREAM_LISTPACKS_2:
            er = _ulen(r)
            if er >> 63:
                er -= 1 << 64
        else:
            er = s.estimate_distance(gid)
        if name in s.groups:
            raise _corrupt("Duplicated consumer group name %s" % name.decode("utf-8", "replace"))
        g = s.groups[name] = Group(name, gid, er if er >= 0 else INVALID_ENTRIES_READ)
        npel = r.len()
        for _ in range(npel):
            i = int.from_bytes(r.take(16), "big")
            t = _load_ms(r)
            cnt = _ulen(r)
            if i in g.pel:
                raise _corrupt("Duplicated global PEL entry loading stream consumer group")
            g.pel.add(i, NACK(None, t, cnt))
        ncons = r.len()
        for _ in range(ncons):
            cname = bytes(r.string())
            if cname in g.consumers:
                raise _corrupt("Duplicate stream consumer detected.")
            cons = g.create_consumer(cname, _load_ms(r))
            n = r.len()
            for _ in range(n):
                i = int.from_bytes(r.take(16), "big")
                nack = g.pel.get(i)
                if nack is None:
                    raise _corrupt("Consumer entry not found in group global PEL")
                if i in cons.pel:
                    raise _corrupt("Duplicated consumer PEL entry  loading a stream consumer group")
                if nack.consumer is not None:
                    # one NACK owned by two consumers (an XACK by one would
                    # leave the other's PEL pointing at nothing)
                    raise _corrupt("Stream consumer PEL entry already has a consumer assigned")
                nack.consumer = cons
                cons.pel.add(i, nack)
        # Redis checks this only in deep sanitization; we always do, since a
        # NACK without its consumer is not a state our Stream can be in.
        orphans = [i for i, nack in g.pel.items() if nack.consumer is None]
        if orphans:
            err = _deep_corrupt("Stream CG PEL entry without consumer")
            if not lenient:
                raise err
            r.note_deep(err)
            for i in orphans:
                g.pel.remove(i)
    return s


# ------------------------------------------------------------------ AOF rewrite
def rewrite_commands(key, s):
    """rewriteStreamObject: the commands that rebuild ``s`` at ``key`` (argv lists)."""
    out = []
    if s.length:
        for i, fv in s.entries():
            out.append([b"XADD", key, format_id(i)] + list(fv))
    else:
        out.append([b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"])
    out.append(
        [
            b"XSETID",
            key,
            format_id(s.last_id),
            b"ENTRIESADDED",
            b"%d" % s.entries_added,
            b"MAXDELETEDID",
            format_id(s.max_deleted_id),
        ]
    )
    for g in s.sorted_groups():
        out.append(
            [
                b"XGROUP",
                b"CREATE",
                key,
                g.name,
                format_id(g.last_id),
                b"ENTRIESREAD",
                b"%d" % g.entries_read,
            ]
        )
        for cons in g.sorted_consumers():
            if not len(cons.pel):
                out.append([b"XGROUP", b"CREATECONSUMER", key, g.name, cons.name])
                continue
            for i, nack in cons.pel.items():
                out.append(
                    [
                        b"XCLAIM",
                        key,
                        g.name,
                        cons.name,
                        b"0",
                        format_id(i),
                        b"TIME",
                        b"%d" % nack.delivery_time,
                        b"RETRYCOUNT",
                        b"%d" % nack.delivery_count,
                        b"JUSTID",
                        b"FORCE",
                    ]
                )
    return out
