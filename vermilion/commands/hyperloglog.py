"""HyperLogLog commands (hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.

The HyperLogLog itself, Redis's string format (sparse and dense registers),
the estimator, merging and the checks of corrupted values, is
:mod:`vermilion.types.hll`. Here are the commands around it: finding the key,
refusing a value that is not an HLL, unsharing it so it can be updated in
place, and the replies, errors and side effects.

The server keeps ``hll-sparse-max-bytes`` (updated by CONFIG SET) and the
parse cache of sparse values (``hll_sparse_cache``, see
:func:`vermilion.types.hll.sparse_of`).

Keyspace events: PFADD and PFMERGE emit ``pfadd``. PFCOUNT, though read-only,
rewrites the cached cardinality and so counts as a change (dirty, WATCH) and
is propagated, like Redis.
"""

import math
import random

from ..errors import CommandError, WRONGTYPE
from ..keyspace.db import NOTIFY_STRING
from ..protocol.encoder import OK, INTS, Raw, Status
from ..core.bootstrap import on_server_init
from ..types.hll import (
    DENSE,
    DENSE_SIZE,
    EMPTY_HLL,
    HDR_SIZE,
    MASK64,
    REGISTERS,
    SPARSE,
    Corrupted,
    add_elements,
    dense_add,
    dense_get,
    dense_set,
    dense_to_raw,
    estimate,
    hll_count,
    is_hll,
    keep_sparse,
    raw_histogram,
    raw_max,
    raw_of,
    raw_to_dense,
    signed64,
    sparse_of,
    to_dense,
    write_registers,
)
from .strings import cstr_lower
from ..core.table import command

ERR_INVALID = "INVALIDOBJ Corrupted HLL object detected"
ERR_NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."


@on_server_init
def _init(server):
    cfg = server.config
    server.hll_sparse_cache = {}

    def apply(_value=None):
        server.hll_sparse_max_bytes = cfg.get_int("hll-sparse-max-bytes")

    apply()
    cfg.add_hook("hll-sparse-max-bytes", apply)


# ---------------------------------------------------------------- helpers
def _hll_value(o):
    if o.__class__ is not bytes and o.__class__ is not bytearray:
        raise CommandError(WRONGTYPE)
    if not is_hll(o):
        raise CommandError(ERR_NOT_HLL)
    return o


def _unshare(db, key, o):
    """dbUnshareStringValue: the value as a bytearray we may change in place."""
    if o.__class__ is bytearray:
        return o
    o = bytearray(o)
    db.replace_value(key, o)
    return o


# ---------------------------------------------------------------- commands
@command("pfadd")
def pfadd(c, argv):
    db = c.db
    key = argv[1]
    o = db.lookup(key)
    updated = 0
    if o is None:
        value = bytearray(EMPTY_HLL)
        db.add(key, value)
        updated = 1
    else:
        value = _unshare(db, key, _hll_value(o))
    if len(argv) > 2:
        server = c.server
        try:
            updated += add_elements(
                value, argv[2:], server.hll_sparse_max_bytes, server.hll_sparse_cache
            )
        except Corrupted:
            raise CommandError(ERR_INVALID) from None
    if updated:
        db.signal(key)
        db.notify(NOTIFY_STRING, "pfadd", key)
        c.server.dirty += updated
        value[15] |= 0x80
        return INTS[1]
    return INTS[0]


@command("pfcount")
def pfcount(c, argv):
    db = c.db
    if len(argv) > 2:
        acc = 0
        for key in argv[1:]:
            o = db.lookup_read(key)
            if o is None:
                continue
            raw = raw_of(_hll_value(o), c.server.hll_sparse_cache)
            if raw is None:
                raise CommandError(ERR_INVALID)
            acc = raw_max(acc, raw) if acc else raw
        return signed64(estimate(raw_histogram(acc.to_bytes(REGISTERS, "little"))))
    key = argv[1]
    o = db.lookup_read(key)
    if o is None:
        return INTS[0]
    value = _unshare(db, key, _hll_value(o))
    if not value[15] & 0x80:
        return int.from_bytes(value[8:16], "little")
    card, valid = hll_count(value, c.server.hll_sparse_cache)
    if not valid:
        raise CommandError(ERR_INVALID)
    value[8:16] = card.to_bytes(8, "little")
    db.signal(key)
    c.server.dirty += 1
    c.propagate = [list(argv)]  # the cache is part of the value
    return signed64(card)


@command("pfmerge")
def pfmerge(c, argv):
    db = c.db
    acc = 0
    use_dense = False
    for key in argv[1:]:
        o = db.lookup_read(key)  # (the destination too, as pfmergeCommand)
        if o is None:
            continue
        o = _hll_value(o)
        if o[4] == DENSE:
            use_dense = True
        raw = raw_of(o, c.server.hll_sparse_cache)
        if raw is None:
            raise CommandError(ERR_INVALID)
        acc = raw_max(acc, raw) if acc else raw
    dst = argv[1]
    o = db.lookup(dst)
    if o is None:
        value = bytearray(EMPTY_HLL)
        db.add(dst, value)
    else:
        value = _unshare(db, dst, o)
    cache = c.server.hll_sparse_cache
    if use_dense and not to_dense(value, cache):
        raise CommandError(ERR_INVALID)
    write_registers(value, acc.to_bytes(REGISTERS, "little"), c.server.hll_sparse_max_bytes, cache)
    value[15] |= 0x80
    db.signal(dst)
    db.notify(NOTIFY_STRING, "pfadd", dst)
    c.server.dirty += 1
    return OK


@command("pfdebug")
def pfdebug(c, argv):
    sub = cstr_lower(argv[1])
    db = c.db
    key = argv[2]
    o = db.lookup(key)
    if o is None:
        raise CommandError("ERR The specified key does not exist")
    value = _unshare(db, key, _hll_value(o))
    if sub == b"getreg":
        if value[4] == SPARSE:
            if not to_dense(value, c.server.hll_sparse_cache):
                raise CommandError(ERR_INVALID)
            c.server.dirty += 1
        raw = dense_to_raw(value)
        return Raw(b"*%d\r\n" % REGISTERS + b"".join(map(INTS.__getitem__, raw)))
    if sub == b"decode":
        if value[4] != SPARSE:
            raise CommandError("ERR HLL encoding is not sparse")
        cache = c.server.hll_sparse_cache
        sp = sparse_of(cache, value)
        keep_sparse(cache, value, sp)
        return sp.decode()
    if sub == b"encoding":
        return Status("dense" if value[4] == DENSE else "sparse")
    if sub == b"todense":
        if value[4] == SPARSE:
            if not to_dense(value, c.server.hll_sparse_cache):
                raise CommandError(ERR_INVALID)
            c.server.dirty += 1
            return INTS[1]
        return INTS[0]
    name = argv[1]
    i = name.find(b"\0")
    if i >= 0:
        name = name[:i]
    raise CommandError(
        "ERR Unknown PFDEBUG subcommand '%s'" % name.decode("utf-8", "surrogateescape")
    )


@command("pfselftest")
def pfselftest(c, argv):
    """Redis's self-test, scaled for Python: register access on a dense buffer with
    random values, then dense and sparse HLLs fed the same elements must agree and
    stay within six standard errors at every power of ten (up to 10^5, not 10^7)."""
    rnd = random.Random()
    dense = bytearray(DENSE_SIZE)
    for _ in range(3):
        values = [rnd.randrange(64) for _ in range(REGISTERS)]
        for i, v in enumerate(values):
            dense_set(dense, i, v)
        for i, v in enumerate(values):
            got = dense_get(dense, i)
            if got != v:
                raise CommandError("TESTFAILED Register %d should be %d but is %d" % (i, v, got))
        if list(dense_to_raw(dense)) != values or raw_to_dense(bytes(values)) != dense[HDR_SIZE:]:
            raise CommandError("TESTFAILED Register packing disagrees with register access")
    dense = bytearray(EMPTY_HLL)
    to_dense(dense)
    sparse = bytearray(EMPTY_HLL)
    max_bytes = c.server.hll_sparse_max_bytes
    relerr = 1.04 / math.sqrt(REGISTERS)
    seed = rnd.getrandbits(64)
    checkpoint = 1
    batch = []
    for j in range(1, 100001):
        batch.append(((j ^ seed) & MASK64).to_bytes(8, "little"))
        if j != checkpoint:
            continue
        dense_add(dense, batch)
        add_elements(sparse, batch, max_bytes)
        batch = []
        if j < max_bytes / 2 and sparse[4] != SPARSE:
            raise CommandError("TESTFAILED sparse encoding not used")
        card = hll_count(dense)[0]
        if card != hll_count(sparse)[0]:
            raise CommandError("TESTFAILED dense/sparse disagree")
        abserr = abs(checkpoint - card)
        maxerr = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
        if abserr > maxerr:
            raise CommandError("TESTFAILED Too big error. card:%d abserr:%d" % (checkpoint, abserr))
        checkpoint *= 10
    return OK
