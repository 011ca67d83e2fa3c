"""RDB: Redis's snapshot format, version 10 (Redis 7.0), read and written byte for byte.

A file is ``REDIS0010``, then a sequence of opcodes and keys, ``0xFF`` and an
8-byte little-endian CRC-64 of everything before it::

    REDIS0010
    AUX "redis-ver" "7.0.15"  AUX "redis-bits" 64  AUX "ctime" ...  AUX "aof-base" 0
    SELECTDB 0  RESIZEDB <keys> <expires>
    [EXPIRETIME_MS <u64 LE>] [IDLE <len>] [FREQ <u8>] <type> <key> <value>
    ...
    EOF <crc64>

**Lengths** take 1, 2, 5 or 9 bytes (00xxxxxx, 01xxxxxx xxxxxxxx, 0x80 + u32 BE,
0x81 + u64 BE); 11xxxxxx introduces a specially encoded string: an 8/16/32-bit
integer (``0xC0``-``0xC2``) or an LZF-compressed string (``0xC3``).

**Values** (type byte -> payload) written here, Redis 7.0's own choices, taken
from the encoding flag the value classes keep (so a file or DUMP payload is the
one Redis would produce, bar LZF's exact bytes):

=============================  ==============================================
string                          STRING: integer-encoded when canonical and 32-bit,
                                LZF when ``rdbcompression`` and > 20 bytes and it
                                saves at least 4 bytes, raw otherwise
list                            LIST_QUICKLIST_2: nodes of listpacks split like
                                ``list-max-listpack-size``
hash (listpack / hashtable)     HASH_LISTPACK / HASH
set (intset / hashtable)        SET_INTSET / SET
sorted set (listpack / skiplist) ZSET_LISTPACK / ZSET_2 (binary doubles)
stream                          STREAM_LISTPACKS_2: the Stream's own nodes as
                                listpacks, counters, groups, PELs, consumers
=============================  ==============================================

**Reading** accepts every encoding Redis 7.0 reads: the above plus LIST, ZSET
(string scores), HASH_ZIPMAP, LIST_ZIPLIST, ZSET_ZIPLIST, HASH_ZIPLIST,
LIST_QUICKLIST (ziplist nodes) and quicklist_2 plain nodes, so files from Redis
2.6 to 7.0 (RDB versions 1..10) load, streams included (types 15 and 19).
Loaded values get the encoding flag Redis would give them under the current
configuration. Module values (types 6, 7) are made by the module data type
their id names (:mod:`.rdb_module`), or raise Redis's :class:`RdbError` when no
loaded module registered it; ``FUNCTION2`` records are collected and handed to
the server's function hook when there is one.

Streams keep the entries XDEL/XTRIM flagged deleted (tombstones) in their
nodes, like Redis's listpacks, so a saved stream is byte-identical to Redis's.

Everything here is a pure function over bytes; the server glue (SAVE, BGSAVE,
loading at startup) lives in :mod:`vermilion.persistence.snapshot`.
"""

import itertools
import math
import os
import re
import struct
import time

from .crc64 import crc64, PrefixCrcs, StreamCrc
from .errors import CorruptError
from . import lzf, listpack, ziplist, intset, zipmap
from .rdb_strings import (  # noqa: F401  (RdbError and the encoders are re-exported)
    RdbError,
    enc_len,
    enc_raw_blob,
    enc_string,
    enc_strings,
    _LEN1,
)
from .rdb_stream import encode_stream as _encode_stream, load_stream as _load_stream
from .rdb_module import encode_module_value, load_module_value
from ..types.list import RList
from ..types.hash import RHash, PackedHash, pack as pack_hash
from ..types.set import RSet, PackedSet, pack as pack_set
from ..types.zset import ZSet, PackedZSet, pack as pack_zset

RDB_VERSION = 10
REDIS_VER = b"7.0.15"

# Value types
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_MODULE = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19

# Opcodes
OP_FUNCTION2 = 245
OP_FUNCTION = 246
OP_MODULE_AUX = 247
OP_IDLE = 248
OP_FREQ = 249
OP_AUX = 250
OP_RESIZEDB = 251
OP_EXPIRETIME_MS = 252
OP_EXPIRETIME = 253
OP_SELECTDB = 254
OP_EOF = 255

TYPE_NAMES = {
    TYPE_STRING: "string",
    TYPE_LIST: "list",
    TYPE_SET: "set",
    TYPE_ZSET: "zset",
    TYPE_HASH: "hash",
    TYPE_ZSET_2: "zset",
    TYPE_MODULE: "module",
    TYPE_MODULE_2: "module",
    TYPE_HASH_ZIPMAP: "hash",
    TYPE_LIST_ZIPLIST: "list",
    TYPE_SET_INTSET: "set",
    TYPE_ZSET_ZIPLIST: "zset",
    TYPE_HASH_ZIPLIST: "hash",
    TYPE_LIST_QUICKLIST: "list",
    TYPE_STREAM_LISTPACKS: "stream",
    TYPE_HASH_LISTPACK: "hash",
    TYPE_ZSET_LISTPACK: "zset",
    TYPE_LIST_QUICKLIST_2: "list",
    TYPE_STREAM_LISTPACKS_2: "stream",
}

QUICKLIST_PLAIN = 1
QUICKLIST_PACKED = 2
PACKED_THRESHOLD = 1 << 30  # quicklist: elements this big get a plain node
_OPT_LEVEL = (4096, 8192, 16384, 32768, 65536)


# =============================================================== limits / options
class Limits:
    """The configuration values that decide encodings (read once per save/load)."""

    __slots__ = (
        "hash_entries",
        "hash_value",
        "zset_entries",
        "zset_value",
        "intset_entries",
        "list_fill",
        "compress",
        "checksum",
        "deep",
    )

    def __init__(self, config=None):
        if config is None:
            self.hash_entries, self.hash_value = 512, 64
            self.zset_entries, self.zset_value = 128, 64
            self.intset_entries = 512
            self.list_fill = -2
            self.compress = True
            self.checksum = True
            self.deep = True
            return
        gi = config.get_int
        self.hash_entries = gi("hash-max-listpack-entries")
        self.hash_value = gi("hash-max-listpack-value")
        self.zset_entries = gi("zset-max-listpack-entries")
        self.zset_value = gi("zset-max-listpack-value")
        self.intset_entries = min(gi("set-max-intset-entries"), 1 << 30)
        self.list_fill = gi("list-max-listpack-size")
        self.compress = config.get("rdbcompression") == "yes"
        self.checksum = config.get("rdbchecksum") == "yes"
        # sanitize-dump-payload: our decoders always check structure (they must build
        # Python objects); "yes" adds the checks Redis only makes in deep mode.
        self.deep = config.get("sanitize-dump-payload") == "yes"


DEFAULT_LIMITS = Limits()

# ====================================================================== writing
_pack_double = struct.Struct("<d").pack
_chain = itertools.chain.from_iterable
_LLMAX_HALF = float((2**63 - 1) // 2)


def _double2ll(d):
    if -_LLMAX_HALF <= d <= _LLMAX_HALF:
        i = int(d)
        if i == d:
            return i
    return None


def d2string(d):
    """Redis's d2string: how a listpack stores a non-integral score."""
    if d != d:
        return b"nan"
    if d == math.inf:
        return b"inf"
    if d == -math.inf:
        return b"-inf"
    if d == 0:
        return b"-0" if math.copysign(1.0, d) < 0 else b"0"
    i = _double2ll(d)
    if i is not None:
        return b"%d" % i
    return b"%.17g" % d


def _score_value(score):
    """What a listpack stores for a score: an int when integral, else d2string's
    spelling (never a canonical integer, so it stays a string entry)."""
    i = _double2ll(score)
    return i if i is not None else d2string(score)


def _score_entry(score):
    i = _double2ll(score)
    if i is not None:
        return listpack.encode_int(i)
    return listpack.encode_str(d2string(score))


def _list_nodes(lst, fill):
    """Split a list into quicklist nodes as Redis's quicklistPush would:
    [(container, blob)]."""
    if len(lst) <= 256:
        # A short list whose entries (each at most its length + 10 bytes encoded)
        # fit in one node whatever their encodings: one listpack, built at once.
        elems = list(lst)
        total = 7 + sum(map(len, elems)) + 10 * len(elems)
        if fill < 0:
            fits = total <= _OPT_LEVEL[min(-fill, 5) - 1]
        else:
            fits = total <= 8192 and len(elems) <= fill
        if fits:
            if not elems:
                return []
            return [
                (QUICKLIST_PACKED, listpack.assemble(listpack.encode_entries(elems), len(elems)))
            ]
    return _list_nodes_split(lst, fill)


def _list_nodes_split(lst, fill):
    """_list_nodes element by element, watching each node's size."""
    nodes = []
    entries = []
    sz = 7  # bytes of the current listpack (header + end)
    count = 0
    if fill < 0:
        limit = _OPT_LEVEL[min(-fill, 5) - 1]
    encode_entry = listpack.encode_entry
    for e in lst:
        n = len(e)
        if n >= PACKED_THRESHOLD:
            if entries:
                nodes.append((QUICKLIST_PACKED, listpack.assemble(b"".join(entries), count)))
                entries, sz, count = [], 7, 0
            nodes.append((QUICKLIST_PLAIN, bytes(e)))
            continue
        if count:
            new_sz = sz + n + 8
            if fill < 0:
                ok = new_sz <= limit
            else:
                ok = new_sz <= 8192 and count < fill
            if not ok:
                nodes.append((QUICKLIST_PACKED, listpack.assemble(b"".join(entries), count)))
                entries, sz, count = [], 7, 0
        ent = encode_entry(e)
        entries.append(ent)
        sz += len(ent)
        count += 1
    if entries:
        nodes.append((QUICKLIST_PACKED, listpack.assemble(b"".join(entries), count)))
    return nodes


def encode_value(v, limits=DEFAULT_LIMITS):
    """(rdb type, payload bytes) for a value, as rdbSaveObjectType + rdbSaveObject."""
    t = v.__class__
    compress = limits.compress
    if t is bytes or t is bytearray:
        return TYPE_STRING, enc_string(bytes(v) if t is bytearray else v, compress)
    if t is RList:
        nodes = _list_nodes(v, limits.list_fill)
        parts = [enc_len(len(nodes))]
        for container, blob in nodes:
            parts.append(_LEN1[container])
            parts.append(enc_raw_blob(blob, compress))
        return TYPE_LIST_QUICKLIST_2, b"".join(parts)
    if t is RHash or t is PackedHash:
        if v.listpack:
            body = listpack.encode_entries(_chain(v.items()))
            return TYPE_HASH_LISTPACK, enc_raw_blob(listpack.assemble(body, 2 * len(v)), compress)
        parts = enc_strings(_chain(v.items()), compress, [enc_len(len(v))])
        return TYPE_HASH, b"".join(parts)
    if t is RSet or t is PackedSet:
        if v.intset:
            return TYPE_SET_INTSET, enc_raw_blob(intset.encode(list(map(int, v))), compress)
        parts = enc_strings(v, compress, [enc_len(len(v))])
        return TYPE_SET, b"".join(parts)
    if t is ZSet or t is PackedZSet:
        if v.listpack:
            body = listpack.encode_entries(_chain([(m, _score_value(s)) for m, s in v.items()]))
            return TYPE_ZSET_LISTPACK, enc_raw_blob(listpack.assemble(body, 2 * len(v)), compress)
        items = list(v)
        parts = [enc_len(len(items))]
        ext = parts.extend
        append = parts.append
        vmax = 20 if compress else 63
        for s, m in reversed(items):  # greatest first, like Redis (fast reload)
            n = len(m)
            if n <= vmax and (not n or m[0] not in _INT_START):
                ext((_LEN1[n], m, _pack_double(s)))
            else:
                append(enc_string(m, compress))
                append(_pack_double(s))
        return TYPE_ZSET_2, b"".join(parts)
    if getattr(t, "type_name", None) == "stream":
        return TYPE_STREAM_LISTPACKS_2, encode_stream(v, compress)
    mt = getattr(t, "rdb_module_type", None)  # a module data type's value class
    if mt is not None:
        return TYPE_MODULE_2, encode_module_value(mt, v, compress)
    raise RdbError("Can't serialize a value of type %s" % t.__name__)


def dump_payload(v, limits=DEFAULT_LIMITS):
    """DUMP's serialization: type, value, RDB version (2 bytes LE), CRC-64 (8 bytes LE)."""
    t, payload = encode_value(v, limits)
    body = b"".join((_LEN1[t], payload, RDB_VERSION.to_bytes(2, "little")))
    return body + crc64(0, body).to_bytes(8, "little")


def aux_field(key, value):
    return b"\xfa" + enc_string(key, False) + enc_string(value, False)


class _CrcFile:
    """Write-through buffer that keeps the running CRC of everything written."""

    def __init__(self, fh, checksum, flush_at=1 << 20, parallel=False):
        self.fh = fh
        self.checksum = checksum
        self.crc = 0
        self.parts = []
        self.size = 0
        self.total = 0
        self.flush_at = flush_at
        # the CRC kept by a helper on another core (crc64.StreamCrc), if asked
        self.worker = StreamCrc() if parallel and checksum else None
        if self.worker is not None and not self.worker.ok:
            self.worker = None
        self.start = fh.tell() if self.worker is not None else 0

    def write(self, b):
        self.parts.append(b)
        self.size += len(b)
        if self.size >= self.flush_at:
            self.flush()

    def write_chunk(self, data):
        """Append an already joined chunk (a batch of keys)."""
        self.parts.append(data)
        self.size += len(data)
        if self.size >= self.flush_at:
            self.flush()

    def flush(self):
        if self.parts:
            data = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
            self.parts = []
            self.size = 0
            if self.worker is not None:
                self.worker.feed(data)
            elif self.checksum:
                self.crc = crc64(self.crc, data)
            self.fh.write(data)
            self.total += len(data)

    def final_crc(self):
        """The CRC of everything written (call after the last flush)."""
        if self.worker is None:
            return self.crc
        return self.worker.result(self._reread)

    def _reread(self):
        """What was written, read back from the file (if the helper failed)."""
        fh = self.fh
        fh.flush()
        fd = fh.fileno()
        off = self.start
        end = off + self.total
        while off < end:
            b = os.pread(fd, min(1 << 20, end - off), off)
            if not b:
                raise OSError("short read checking the RDB file")
            yield b
            off += len(b)


# Keys encoded per chunk: the loop below appends a key's pieces to one list and
# joins the list once per batch, so the per-key cost is the encoding alone (no
# write call, no size bookkeeping, no per-key join).
_SAVE_BATCH = 4096
# First bytes of a string that may spell an integer (rdbTryIntegerEncoding).
_INT_START = frozenset(b"-0123456789")
_pack_u64 = struct.Struct("<Q").pack


def write_rdb(
    fh,
    dbs,
    limits=DEFAULT_LIMITS,
    aof_base=False,
    used_mem=0,
    functions=(),
    now_ms=None,
    key_callback=None,
    progress=None,
    parallel_crc=False,
    repl_info=None,
):
    """Write a complete RDB to binary file ``fh``; return the number of bytes written.

    ``dbs`` is a sequence of objects with ``data`` (key -> value) and ``expires``
    (key -> absolute ms) dicts; empty ones are skipped like Redis does.
    ``functions`` is a list of library source codes (FUNCTION2 records).
    ``key_callback()`` runs after each key; ``progress(keys_written)`` after each
    batch of keys (a few thousand), for INFO and the log. ``parallel_crc``: the
    checksum is computed by a helper process on another core (``fh`` must then be
    a real file, read back if the helper fails). ``repl_info`` is ``(stream_db,
    replid, offset)`` or None: the repl-stream-db / repl-id / repl-offset aux fields
    (rdbSaveInfoAuxFields with an rdbSaveInfo), written before aof-base as Redis does.
    """
    out = _CrcFile(fh, limits.checksum, parallel=parallel_crc)
    w = out.write
    w(b"REDIS%04d" % RDB_VERSION)
    w(aux_field(b"redis-ver", REDIS_VER))
    w(aux_field(b"redis-bits", b"64"))
    w(aux_field(b"ctime", b"%d" % int(time.time())))
    w(aux_field(b"used-mem", b"%d" % used_mem))
    if repl_info is not None:
        stream_db, replid, offset = repl_info
        if isinstance(replid, str):
            replid = replid.encode()
        w(aux_field(b"repl-stream-db", b"%d" % stream_db))
        w(aux_field(b"repl-id", replid))
        w(aux_field(b"repl-offset", b"%d" % offset))
    w(aux_field(b"aof-base", b"1" if aof_base else b"0"))
    for code in functions:
        w(b"\xf5" + enc_string(code, limits.compress))
    compress = limits.compress
    # Strings up to this length are stored verbatim unless they spell an integer
    # (longer ones are LZF candidates: rdbSaveRawString compresses > 20 bytes).
    vmax = 20 if compress else 63
    LEN1 = _LEN1
    INT_START = _INT_START
    pack_u64 = _pack_u64
    islice = itertools.islice
    written = 0
    for dbid, db in enumerate(dbs):
        data = db.data
        if not data:
            continue
        expires = db.expires
        exp_get = expires.get if expires else None
        w(b"\xfe" + enc_len(dbid))
        w(b"\xfb" + enc_len(len(data)) + enc_len(len(expires)))
        items = iter(data.items())
        while True:
            batch = list(islice(items, _SAVE_BATCH))
            if not batch:
                break
            parts = []
            ext = parts.extend
            for key, val in batch:
                if exp_get is not None:
                    when = exp_get(key)
                    if when is not None:
                        parts.append(b"\xfc" + pack_u64(when & 0xFFFFFFFFFFFFFFFF))
                kn = len(key)
                if kn > vmax or (kn < 12 and kn and key[0] in INT_START):
                    kenc = enc_string(key, compress)
                else:
                    kenc = None
                if val.__class__ is bytes:
                    vn = len(val)
                    if vn > vmax or (vn < 12 and vn and val[0] in INT_START):
                        venc = enc_string(val, compress)
                        if kenc is None:
                            ext((b"\x00", LEN1[kn], key, venc))
                        else:
                            ext((b"\x00", kenc, venc))
                    elif kenc is None:
                        ext((b"\x00", LEN1[kn], key, LEN1[vn], val))
                    else:
                        ext((b"\x00", kenc, LEN1[vn], val))
                else:
                    vt, payload = encode_value(val, limits)
                    if kenc is None:
                        ext((LEN1[vt], LEN1[kn], key, payload))
                    else:
                        ext((LEN1[vt], kenc, payload))
                if key_callback is not None:
                    key_callback()
            out.write_chunk(b"".join(parts))
            written += len(batch)
            if progress is not None:
                progress(written)
    w(b"\xff")
    out.flush()
    trailer = (out.final_crc() if limits.checksum else 0).to_bytes(8, "little")
    fh.write(trailer)
    return out.total + 8


# ====================================================================== reading
class Reader:
    """A cursor over an RDB byte string; every read checks bounds."""

    __slots__ = ("buf", "pos", "end", "lenient", "deep_error")

    def __init__(self, buf, pos=0, end=None):
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end
        # lenient: a value whose corruption only deep sanitization finds is
        # salvaged (what is left of it is loaded) and the first such error is
        # kept in deep_error, for RESTORE without sanitize-dump-payload.
        self.lenient = False
        self.deep_error = None

    def note_deep(self, e):
        """Remember a deep-only corruption that was salvaged (the first one)."""
        if self.deep_error is None:
            self.deep_error = e

    def eof(self):
        return RdbError("Unexpected EOF reading RDB file")

    def byte(self):
        p = self.pos
        if p >= self.end:
            raise self.eof()
        self.pos = p + 1
        return self.buf[p]

    def take(self, n):
        p = self.pos
        q = p + n
        if q > self.end:
            raise self.eof()
        self.pos = q
        return self.buf[p:q]

    def length(self):
        """(value, is_encoded): rdbLoadLenByRef."""
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return int.from_bytes(self.take(4), "big"), False
        if b == 0x81:
            return int.from_bytes(self.take(8), "big"), False
        raise RdbError("Unknown length encoding %d in rdbLoadLen()" % b)

    def len(self):
        """rdbLoadLen(rdb, NULL): a length; the "encoded" flag is ignored, as Redis
        does (only string loading looks at it)."""
        return self.length()[0]

    def string(self):
        """rdbGenericLoadStringObject: any string encoding, returned as bytes."""
        buf = self.buf
        p = self.pos
        if p < self.end:
            b = buf[p]
            if b < 64:  # fast path: short verbatim string
                q = p + 1 + b
                if q <= self.end:
                    self.pos = q
                    return buf[p + 1 : q]
        n, enc = self.length()
        if not enc:
            return self.take(n)
        if n == 0:
            return b"%d" % int.from_bytes(self.take(1), "little", signed=True)
        if n == 1:
            return b"%d" % int.from_bytes(self.take(2), "little", signed=True)
        if n == 2:
            return b"%d" % int.from_bytes(self.take(4), "little", signed=True)
        if n == 3:
            clen = self.len()
            ulen = self.len()
            return lzf.decompress(self.take(clen), ulen)
        raise RdbError("Unknown RDB string encoding type %d" % n)

    def strings(self, n):
        """``n`` strings, as ``bytes(string())`` each: the short verbatim ones (the
        members of most sets and hashes) read in this loop, without a call each."""
        buf = self.buf
        if buf.__class__ is not bytes:
            return [bytes(self.string()) for _ in range(n)]
        end = self.end
        out = []
        append = out.append
        string = self.string
        p = self.pos
        for _ in range(n):
            if p < end:
                b = buf[p]
                if b < 64:
                    q = p + 1 + b
                    if q <= end:
                        append(buf[p + 1 : q])
                        p = q
                        continue
            self.pos = p
            append(bytes(string()))
            p = self.pos
        self.pos = p
        return out

    def double_str(self):
        """Old ZSET score: length byte (253 nan, 254 +inf, 255 -inf) + ASCII."""
        n = self.byte()
        if n == 253:
            return math.nan
        if n == 254:
            return math.inf
        if n == 255:
            return -math.inf
        # rdbLoadDoubleValue: sscanf("%lg") of the bytes up to a NUL, which must
        # convert something (it is an error, not 0, when nothing parses)
        m = _STRTOD.match(bytes(self.take(n)).split(b"\0", 1)[0])
        if m is None:
            raise RdbError("Bad double value")
        return float(m.group(1))

    def double_bin(self):
        return struct.unpack("<d", self.take(8))[0]


_STRTOD = re.compile(rb"\s*([+-]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))", re.I)


def _strtod(s):
    """C strtod on a byte string: the longest numeric prefix, 0.0 if none."""
    try:
        return float(s)
    except ValueError:
        m = _STRTOD.match(s)
        return float(m.group(1)) if m else 0.0


class _Empty:
    pass


EMPTY = _Empty()  # load_value's answer for an empty collection (skipped, like Redis)


def _deep_error(msg, failure="assert"):
    """An RdbError that only Redis's deep sanitization would have raised (see
    errors.py): with shallow sanitization Redis accepts the value and fails
    ``failure`` ("assert" or "panic") when it later reads it."""
    e = RdbError(msg)
    e.deep_only = True
    e.redis_failure = failure
    return e


def _lp_decode(blob, what, strings, r):
    """The elements of a listpack value: a bad header (size, terminator) is the
    error Redis's shallow check gives; a bad entry inside is a deep-only one,
    raised, or with a lenient reader noted and the entries before it kept."""
    if not listpack.header_ok(blob):
        raise RdbError("%s integrity check failed." % what)
    if not r.lenient:
        try:
            return listpack.decode_strings(blob) if strings else listpack.decode(blob)
        except CorruptError:
            raise _deep_error("%s integrity check failed." % what)
    out, ok = listpack.decode_prefix(blob)
    if not ok:
        r.note_deep(_deep_error("%s integrity check failed." % what))
    if strings:
        out = [b"%d" % e if e.__class__ is int else e for e in out]
    return out


def _zset_from_pairs(flat, listpack_flag, what, lp=False, r=None):
    """A ZSet from a flat [member, score, member, score...] of a listpack/ziplist
    (``lp``: a listpack, whose pairs Redis checks only in deep sanitization; a
    lenient reader ``r`` then keeps the sound pairs and notes the error)."""
    lenient = lp and r is not None and r.lenient

    def bad(msg):
        if not lp:
            raise RdbError(msg)
        if not lenient:
            raise _deep_error(msg)
        r.note_deep(_deep_error(msg))

    d = {}
    it = iter(flat)
    added = 0
    for m in it:
        s = next(it, None)
        if s is None:
            bad("%s integrity check failed." % what)
            break
        if m.__class__ is int:
            m = b"%d" % m
        if s.__class__ is int:
            score = float(s)
        else:
            score = _strtod(bytes(s))
        if score != score:
            bad("Zset with NAN score detected")
            continue
        d[m] = score
        added += 1
    if len(d) != added:  # a member twice
        bad("%s integrity check failed." % what)
    return ZSet.from_dict(d, listpack_flag)


def _hash_from_pairs(flat, what, lp=False, limits=DEFAULT_LIMITS, r=None):
    """An RHash from a flat [field, value...] (``lp`` and ``r`` as for zsets)."""
    lenient = lp and r is not None and r.lenient
    h = RHash()
    it = iter(flat)
    for f in it:
        v = next(it, None)
        if v is None:
            if not lp:
                raise RdbError("%s integrity check failed." % what)
            e = _deep_error("%s integrity check failed." % what)
            if not lenient:
                raise e
            r.note_deep(e)
            break
        h[b"%d" % f if f.__class__ is int else f] = b"%d" % v if v.__class__ is int else v
    if len(h) * 2 < len(flat) - 1:
        if not lp:
            raise RdbError("%s integrity check failed." % what)
        # A listpack hash with a field twice: Redis (shallow) keeps it as it is
        # until it converts it to a hash table, where it logs the listpack
        # ("listpack with dup elements") and panics.
        e = _deep_error(
            "%s integrity check failed." % what,
            "dup" if len(flat) // 2 > limits.hash_entries else "assert",
        )
        if not lenient:
            raise e
        r.note_deep(e)
    return h


def load_value(r, t, limits=DEFAULT_LIMITS, key=None):
    """rdbLoadObject: read a value of RDB type ``t`` from reader ``r`` (``key``:
    the key it belongs to, for a module type's error text)."""
    if t == TYPE_STRING:
        return bytes(r.string())
    if t == TYPE_LIST:
        n = r.len()
        lst = RList(r.strings(n))
        return lst if lst else EMPTY
    if t == TYPE_SET:
        n = r.len()
        if n == 0:
            return EMPTY
        members = r.strings(n)
        s = RSet.build(members, limits.intset_entries)
        if len(s) != n:
            raise RdbError("Duplicate set members detected")
        return pack_set(s)
    if t == TYPE_ZSET or t == TYPE_ZSET_2:
        n = r.len()
        if n == 0:
            return EMPTY
        d = {}
        maxlen = 0
        for _ in range(n):
            m = bytes(r.string())
            score = r.double_bin() if t == TYPE_ZSET_2 else r.double_str()
            if score != score:
                raise RdbError("Zset with NAN score detected")
            if len(m) > maxlen:
                maxlen = len(m)
            d[m] = score
        if len(d) != n:
            raise RdbError("Duplicate zset fields detected")
        lp = n <= limits.zset_entries and maxlen <= limits.zset_value
        return pack_zset(ZSet.from_dict(d, lp))
    if t == TYPE_HASH:
        n = r.len()
        if n == 0:
            return EMPTY
        flat = r.strings(2 * n)
        h = RHash(zip(flat[0::2], flat[1::2]))
        if len(h) != n:
            raise RdbError("Duplicate hash fields detected")
        h.listpack = n <= limits.hash_entries and all(
            len(f) <= limits.hash_value and len(v) <= limits.hash_value for f, v in h.items()
        )
        return pack_hash(h)
    if t == TYPE_LIST_QUICKLIST or t == TYPE_LIST_QUICKLIST_2:
        n = r.len()
        if n == 0:
            return EMPTY
        lst = RList()
        for _ in range(n):
            container = QUICKLIST_PACKED
            if t == TYPE_LIST_QUICKLIST_2:
                container = r.len()
                if container not in (QUICKLIST_PACKED, QUICKLIST_PLAIN):
                    raise RdbError("Quicklist integrity check failed.")
            blob = r.string()
            if not blob:
                raise RdbError("Quicklist integrity check failed.")
            if container == QUICKLIST_PLAIN:
                lst.push_right(blob)
            elif t == TYPE_LIST_QUICKLIST_2:
                lst.extend_right(_lp_decode(blob, "Listpack", True, r))
            else:
                try:
                    lst.extend_right(ziplist.decode_strings(blob))
                except CorruptError:
                    raise RdbError("Ziplist integrity check failed.")
        return lst if lst else EMPTY
    if t in (
        TYPE_HASH_ZIPMAP,
        TYPE_LIST_ZIPLIST,
        TYPE_SET_INTSET,
        TYPE_ZSET_ZIPLIST,
        TYPE_ZSET_LISTPACK,
        TYPE_HASH_ZIPLIST,
        TYPE_HASH_LISTPACK,
    ):
        blob = r.string()
        if t == TYPE_HASH_ZIPMAP:
            try:
                pairs = zipmap.decode(blob)
            except CorruptError:
                raise RdbError("Zipmap integrity check failed.")
            h = RHash(pairs)
            if len(h) != len(pairs):
                raise RdbError("Hash zipmap with dup elements, or big length (%d)" % len(pairs))
            maxlen = max(max(len(f), len(v)) for f, v in pairs)
            h.listpack = len(h) <= limits.hash_entries and maxlen <= limits.hash_value
            return pack_hash(h)
        if t == TYPE_LIST_ZIPLIST:
            try:
                items = ziplist.decode_strings(blob)
            except CorruptError:
                raise RdbError("List ziplist integrity check failed.")
            return RList(items) if items else EMPTY
        if t == TYPE_SET_INTSET:
            # Without deep sanitization Redis takes an intset out of order or
            # with duplicates as it is; so do we (a set of them is still a set).
            try:
                vals = intset.decode(blob, limits.deep)
            except CorruptError:
                raise RdbError("Intset integrity check failed.")
            s = RSet(b"%d" % v for v in vals)
            s.intset = len(s) <= limits.intset_entries
            return s
        if t == TYPE_ZSET_ZIPLIST or t == TYPE_ZSET_LISTPACK:
            what = "Zset ziplist" if t == TYPE_ZSET_ZIPLIST else "Zset listpack"
            if t == TYPE_ZSET_ZIPLIST:
                try:
                    flat = ziplist.decode(blob)
                except CorruptError:
                    raise RdbError("%s integrity check failed." % what)
            else:
                flat = _lp_decode(blob, what, False, r)
            if not flat:
                return EMPTY
            n = len(flat) // 2
            z = _zset_from_pairs(flat, n <= limits.zset_entries, what, t == TYPE_ZSET_LISTPACK, r)
            return pack_zset(z) if len(z) else EMPTY
        what = "Hash ziplist" if t == TYPE_HASH_ZIPLIST else "Hash listpack"
        if t == TYPE_HASH_ZIPLIST:
            try:
                flat = ziplist.decode(blob)
            except CorruptError:
                raise RdbError("%s integrity check failed." % what)
        else:
            flat = _lp_decode(blob, what, False, r)
        if not flat:
            return EMPTY
        h = _hash_from_pairs(flat, what, t == TYPE_HASH_LISTPACK, limits, r)
        if not h:
            return EMPTY
        h.listpack = len(h) <= limits.hash_entries
        return pack_hash(h)
    if t == TYPE_STREAM_LISTPACKS or t == TYPE_STREAM_LISTPACKS_2:
        return load_stream(r, t, limits)
    if t == TYPE_MODULE or t == TYPE_MODULE_2:
        return load_module_value(r, t, key)
    raise RdbError("Unknown RDB encoding type %d" % t)


_MODULE_CHARSET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def module_type_name(modid):
    """moduleTypeNameByID: the 9-character name packed in a module type id."""
    modid >>= 10
    out = bytearray(9)
    for j in range(8, -1, -1):
        out[j] = _MODULE_CHARSET[modid & 63]
        modid >>= 6
    return out.decode()


def skip_module_value(r):
    """rdbLoadCheckModuleValue: walk a MODULE_2 value (opcode, value)* EOF."""
    while True:
        op = r.len()
        if op == 0:
            return
        if op in (1, 2):
            r.len()
        elif op == 3:
            r.take(4)
        elif op == 4:
            r.take(8)
        elif op == 5:
            r.string()
        else:
            raise RdbError("Unknown module opcode %d" % op)


# ====================================================================== streams
# The stream codec (node listpacks, groups, PELs) lives in rdb_stream.py, next to
# the Stream type's internals.


def encode_stream(st, compress=True):
    return _encode_stream(st, compress)


def load_stream(r, t, limits=DEFAULT_LIMITS):
    return _load_stream(r, t, limits.deep)  # r.lenient: see rdb_stream.load_stream


def verify_dump_payload(payload, skip_checksum=False):
    """DUMP footer check: (ok, rdbver). Redis refuses versions newer than 10;
    ``skip_checksum`` (DEBUG SET-SKIP-CHECKSUM-VALIDATION 1) checks only that."""
    n = len(payload)
    if n < 10:
        return False, None
    ver = payload[n - 10] | (payload[n - 9] << 8)
    if ver > RDB_VERSION:
        return False, ver
    if skip_checksum:
        return True, ver
    crc = int.from_bytes(payload[n - 8 :], "little")
    return crc64(0, memoryview(payload)[: n - 8]) == crc, ver


def restore_value(payload, limits=DEFAULT_LIMITS):
    """The value inside a verified DUMP payload; RdbError if it does not parse.

    Without deep sanitization (``limits.deep`` false) a value whose damage only
    the deep checks see is salvaged: the RdbError raised (``deep_only``) carries
    what is sound of it as ``salvage``, for RESTORE to keep and log."""
    # Redis reads the value from the whole payload (rioInitWithBuffer over all
    # of it): a value that runs into the version and CRC footer still loads.
    r = Reader(payload, 0, len(payload))
    # Without deep sanitization, a value whose corruption only the deep checks
    # see is loaded as far as it is sound, as Redis loads it whole (see errors.py).
    r.lenient = not limits.deep
    t = r.byte()
    if not (0 <= t <= 7 or 9 <= t <= 19):
        raise RdbError("Bad data format")
    v = load_value(r, t, limits)
    e = r.deep_error
    if v is EMPTY:
        raise e if e is not None else RdbError("Bad data format")
    if e is not None:
        e.salvage = v  # the caller logs the corruption and may keep this
        raise e
    return v


_INT8_STR = [b"%d" % (i - 256 if i > 127 else i) for i in range(256)]


class LoadResult:
    """What :func:`load_rdb` found."""

    def __init__(self):
        self.version = None
        self.aux = {}
        self.dbs = {}  # dbid -> (data dict, expires dict)
        self.functions = []  # FUNCTION2 library codes
        self.keys_loaded = 0
        self.keys_expired = 0
        self.expired_names = []  # (dbid, key) of each key dropped as expired (rdbLoad's DELs)
        self.empty_skipped = 0
        self.end = 0  # offset just after the checksum
        self.checksum = None  # stored checksum (None before v5)
        self.checksum_ok = None
        self.type_counts = {}
        self.keys_read = 0  # every key parsed (redis-check-rdb's "keys read")
        self.expires = 0  # keys with a TTL
        self.already_expired = 0  # keys whose TTL had passed


def load_rdb(
    buf,
    limits=DEFAULT_LIMITS,
    ndbs=16,
    now_ms=None,
    expire_keys=True,
    verify_checksum=True,
    check_mode=False,
    log=None,
    allow_dup=False,
    events=None,
    progress=None,
    parallel_crc=False,
):
    """Parse a whole RDB image from ``buf``; return a :class:`LoadResult`.

    Keys whose expiry is past are dropped (counted in ``keys_expired``) when
    ``expire_keys`` is true (Redis does so for masters, not for AOF bases).
    ``check_mode`` (redis-check-rdb) accepts module values and unknown dbs and
    keeps no values. ``log(level, msg)`` receives the notices Redis would log;
    ``events(kind, offset, *args)`` sees "aux" and "select" records.
    ``progress(offset, result)`` is called before the first record at or past the
    offset its previous call returned (the first call comes at offset 0), with
    the LoadResult so far: the server
    serves its clients from there while a big file loads (snapshot.LoadProgress);
    the parser itself only pays one integer comparison per record.

    On failure the :class:`RdbError` carries ``offset``, ``doing`` (what was
    being read: "read-type", "read-key", "read-object-value", "check-sum"...),
    ``key``, ``rdbtype`` and ``partial`` (the LoadResult so far).

    ``parallel_crc``: a helper process on another core computes the checksum of
    a big file while it is parsed (:class:`crc64.PrefixCrcs`).
    """
    res = LoadResult()
    if buf.__class__ is not bytes:
        buf = bytes(buf)
    r = Reader(buf, 0)
    ctx = ["start", None, None]  # doing, key, type
    helper = PrefixCrcs(buf) if parallel_crc and verify_checksum else None
    try:
        _load_rdb(
            r,
            res,
            ctx,
            buf,
            limits,
            ndbs,
            now_ms,
            expire_keys,
            verify_checksum,
            check_mode,
            log,
            allow_dup,
            events,
            progress,
            helper,
        )
    except RdbError as e:
        e.offset = r.pos
        e.doing, e.key, e.rdbtype = ctx
        e.partial = res
        raise
    finally:
        if helper is not None:
            helper.close()
    return res


def _load_rdb(
    r,
    res,
    ctx,
    buf,
    limits,
    ndbs,
    now_ms,
    expire_keys,
    verify_checksum,
    check_mode,
    log,
    allow_dup,
    events,
    progress=None,
    helper=None,
):
    if len(buf) < 9:
        raise RdbError("Unexpected EOF reading RDB file")
    if bytes(buf[:5]) != b"REDIS":
        raise RdbError("Wrong signature trying to load DB from file")
    try:
        ver = int(bytes(buf[5:9]))
    except ValueError:
        ver = 0
    if ver < 1 or ver > RDB_VERSION:
        raise RdbError("Can't handle RDB format version %s" % bytes(buf[5:9]).decode("latin-1"))
    res.version = ver
    r.pos = 9
    if now_ms is None:
        now_ms = int(time.time() * 1000)
    dbid = 0
    data, expires = res.dbs.setdefault(0, ({}, {}))
    expiretime = -1
    counts = res.type_counts
    nfast = 0
    end = r.end
    next_progress = 0 if progress is not None else 1 << 62
    # With a progress callback the checksum advances at each call, as Redis
    # updates it while it reads: a multi-gigabyte file would otherwise end with
    # seconds of CRC during which nobody is served.
    crc_running = progress is not None and verify_checksum and ver >= 5 and helper is None
    crc = crc_done = 0
    mv = memoryview(buf)
    simple = not check_mode and not allow_dup
    fast_end = end - 140
    frm = int.from_bytes
    while True:
        p = r.pos
        if p >= next_progress:
            if crc_running:
                crc = crc64(crc, mv[crc_done:p])
                crc_done = p
            next_progress = progress(p, res)
        if simple and expiretime == -1 and p < fast_end:
            # Runs of the commonest records: a string (short key, short raw or
            # 8-bit integer value), with or without an expire. Far enough from
            # the end that no index can fall off the buffer (a record read here
            # is at most 140 bytes), and stopping at the next progress call.
            stop = next_progress if next_progress < fast_end else fast_end
            n0 = expect = len(data)
            nexp = nold = ndrop = 0
            q0 = p
            while p < stop:
                b = buf[p]
                if b == 0:
                    # Records without an expire, back to back (the bulk of most
                    # files): the tightest loop. Duplicates are found by counting,
                    # once per run, and only then located (_first_duplicate).
                    run = p
                    before = len(data)
                    cnt = 0
                    while True:
                        kl = buf[p + 1]
                        if kl >= 64:
                            break
                        q = p + 2 + kl
                        vb = buf[q]
                        if vb < 64:
                            e = q + 1 + vb
                            data[buf[p + 2 : q]] = buf[q + 1 : e]
                        elif vb == 0xC0:
                            e = q + 2
                            data[buf[p + 2 : q]] = _INT8_STR[buf[q + 1]]
                        else:
                            break
                        cnt += 1
                        p = e
                        if p >= stop or buf[p]:
                            break
                    if len(data) != before + cnt:
                        r.pos, key = _first_duplicate(buf, run, data, before)
                        ctx[0] = "read-object-value"
                        ctx[1] = key
                        ctx[2] = 0
                        raise RdbError(
                            "RDB has duplicated key '%s' in DB %d"
                            % (key.decode("utf-8", "replace"), dbid)
                        )
                    if not cnt:
                        break  # the record at p is not one of these
                    expect += cnt
                    q0 = p
                    continue
                elif b == 0xFC and buf[p + 9] == 0:
                    when = frm(buf[p + 1 : p + 9], "little", signed=True)
                    kp = p + 10
                else:
                    break
                kl = buf[kp]
                if kl >= 64:
                    break
                q = kp + 1 + kl
                vb = buf[q]
                if vb < 64:
                    e = q + 1 + vb
                    val = buf[q + 1 : e]
                elif vb == 0xC0:
                    e = q + 2
                    val = _INT8_STR[buf[q + 1]]
                else:
                    break
                key = buf[kp + 1 : q]
                if when != -1:
                    nexp += 1
                    if when < now_ms:
                        nold += 1
                        if expire_keys:
                            ndrop += 1
                            res.expired_names.append((dbid, key))
                            p = e
                            continue
                    data[key] = val
                    expires[key] = when
                else:
                    data[key] = val
                expect += 1
                if len(data) != expect:
                    r.pos = q0
                    ctx[0] = "read-object-value"
                    ctx[1] = key
                    ctx[2] = 0
                    raise RdbError(
                        "RDB has duplicated key '%s' in DB %d"
                        % (key.decode("utf-8", "replace"), dbid)
                    )
                q0 = p = e
            if p != r.pos:
                got = expect - n0
                read = got + ndrop
                res.keys_read += read
                res.keys_loaded += got
                res.keys_expired += ndrop
                res.expires += nexp
                res.already_expired += nold
                nfast += read
                r.pos = p
                continue
        if expiretime == -1 and p + 2 < end and buf[p] == 0 and buf[p + 1] < 64:
            # Fast path for the commonest record: a string with a short key and a
            # short raw or small integer value, no expire. Anything else (or any
            # doubt) takes the general path below.
            q = p + 2 + buf[p + 1]
            if q < end:
                vb = buf[q]
                if vb < 64:
                    e = q + 1 + vb
                    val = buf[q + 1 : e]
                elif vb == 0xC0:
                    e = q + 2
                    val = b"%d" % int.from_bytes(buf[q + 1 : e], "little", signed=True)
                elif vb == 0xC1:
                    e = q + 3
                    val = b"%d" % int.from_bytes(buf[q + 1 : e], "little", signed=True)
                else:
                    e = end + 1
                if e <= end:
                    key = buf[p + 2 : q]
                    res.keys_read += 1
                    if key in data and not allow_dup:
                        ctx[0] = "read-object-value"
                        ctx[1] = key
                        ctx[2] = 0
                        raise RdbError(
                            "RDB has duplicated key '%s' in DB %d"
                            % (key.decode("utf-8", "replace"), dbid)
                        )
                    data[key] = None if check_mode else val
                    if allow_dup:
                        expires.pop(key, None)
                    res.keys_loaded += 1
                    nfast += 1
                    r.pos = e
                    continue
        ctx[0] = "read-type"
        t = r.byte()
        if t == OP_EXPIRETIME_MS:
            raw = r.take(8)
            expiretime = int.from_bytes(raw, "little", signed=True)
            continue
        if t == OP_EXPIRETIME:
            expiretime = int.from_bytes(r.take(4), "little", signed=True) * 1000
            continue
        if t == OP_FREQ:
            r.byte()
            continue
        if t == OP_IDLE:
            r.len()
            continue
        if t == OP_EOF:
            break
        if t == OP_SELECTDB:
            ctx[0] = "read-db"
            dbid = r.len()
            if dbid >= ndbs and not check_mode:
                raise RdbError(
                    "FATAL: Data file was created with a Redis server configured "
                    "to handle more than %d databases. Exiting" % ndbs
                )
            data, expires = res.dbs.setdefault(dbid, ({}, {}))
            if events is not None:
                events("select", r.pos, dbid)
            continue
        if t == OP_RESIZEDB:
            ctx[0] = "read-resize-db"
            r.len()
            r.len()
            continue
        if t == OP_AUX:
            ctx[0] = "read-aux"
            k = bytes(r.string())
            v = bytes(r.string())
            res.aux[k] = v
            if log is not None:
                _log_aux(log, k, v)
            if events is not None:
                events("aux", r.pos, k, v)
            continue
        if t == OP_MODULE_AUX:
            ctx[0] = "read-module-aux"
            modid = r.len()
            when_op = r.len()
            r.len()
            if when_op != 2:
                raise RdbError("bad when_opcode")
            if not check_mode:
                raise RdbError(
                    "The RDB file contains AUX module data I can't load: "
                    "no matching module '%s'" % module_type_name(modid)
                )
            skip_module_value(r)
            continue
        if t == OP_FUNCTION2:
            ctx[0] = "read-functions"
            res.functions.append(bytes(r.string()))
            continue
        if t == OP_FUNCTION:
            raise RdbError("Pre-release function format not supported.")
        if not (0 <= t <= 7 or 9 <= t <= 19):
            raise RdbError("Unknown object type %d in RDB file" % t)
        # a key
        ctx[0] = "read-key"
        ctx[2] = t
        key = bytes(r.string())
        ctx[1] = key
        ctx[0] = "read-object-value"
        res.keys_read += 1
        if check_mode and t == TYPE_MODULE_2:
            r.len()
            skip_module_value(r)
            val = None
        else:
            val = load_value(r, t, limits, key)
        counts[t] = counts.get(t, 0) + 1
        if val is EMPTY and check_mode:
            raise RdbError("Unexpected EOF reading RDB file (empty collection)")
        if expiretime != -1:
            res.expires += 1
            if expiretime < now_ms:
                res.already_expired += 1
        if val is EMPTY:
            res.empty_skipped += 1
            if log is not None and res.empty_skipped <= 10:
                log(3, "rdbLoadObject skipping empty key: %s" % key.decode("utf-8", "replace"))
        elif expire_keys and expiretime != -1 and expiretime < now_ms:
            res.keys_expired += 1
            res.expired_names.append((dbid, key))
        else:
            if key in data and not allow_dup:
                raise RdbError(
                    "RDB has duplicated key '%s' in DB %d" % (key.decode("utf-8", "replace"), dbid)
                )
            data[key] = None if check_mode else val
            if expiretime != -1:
                expires[key] = expiretime
            elif allow_dup:
                expires.pop(key, None)
            res.keys_loaded += 1
        expiretime = -1
        ctx[1] = ctx[2] = None
    if nfast:
        counts[TYPE_STRING] = counts.get(TYPE_STRING, 0) + nfast
    if ver >= 5:
        ctx[0] = "check-sum"
        stored = int.from_bytes(r.take(8), "little")
        res.checksum = stored
        if verify_checksum and stored != 0:
            if helper is not None:
                computed = helper.crc_upto(r.pos - 8)
            else:
                computed = crc64(crc, mv[crc_done : r.pos - 8])
            res.checksum_ok = computed == stored
            if not res.checksum_ok:
                if log is not None:
                    log(
                        3,
                        "Wrong RDB checksum expected: (%x) but got (%x). Aborting now."
                        % (computed, stored),
                    )
                raise RdbError("RDB CRC error")
        elif stored == 0 and log is not None:
            log(3, "RDB file was saved with checksum disabled: no check performed.")
    res.end = r.pos


def _first_duplicate(buf, p, data, before):
    """Where the first duplicated key of a run of plain string records starting at
    ``p`` is, and the key: one already loaded before the run (the first ``before``
    keys of ``data``, whose order overwrites do not change) or one earlier in it."""
    old = set(itertools.islice(data, before))
    seen = set()
    while True:
        q = p + 2 + buf[p + 1]
        key = buf[p + 2 : q]
        if key in old or key in seen:
            return p, key
        seen.add(key)
        vb = buf[q]
        p = q + 1 + vb if vb < 64 else q + 2


def _log_aux(log, k, v):
    lk = k.lower()
    sv = v.decode("utf-8", "replace")
    if k[:1] == b"%":
        log(2, "RDB '%s': %s" % (k.decode("utf-8", "replace"), sv))
    elif lk == b"redis-ver":
        log(2, "Loading RDB produced by version %s" % sv)
    elif lk == b"ctime":
        try:
            age = max(0, int(time.time()) - int(v))
        except ValueError:
            age = 0
        log(2, "RDB age %d seconds" % age)
    elif lk == b"used-mem":
        try:
            log(2, "RDB memory usage when created %.2f Mb" % (int(v) / (1024 * 1024)))
        except ValueError:
            pass
    elif lk == b"aof-base":
        if v not in (b"0", b""):
            log(2, "RDB is base AOF")
    elif lk == b"aof-preamble":
        if v not in (b"0", b""):
            log(2, "RDB has an AOF tail")


def read_file(path):
    with open(path, "rb") as fh:
        return fh.read()


def used_memory_estimate():
    """A number for the used-mem AUX field (process RSS; Redis writes zmalloc's count)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
