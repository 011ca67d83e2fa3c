"""The cluster bus wire format: Redis 7.0's ``clusterMsg``, byte for byte.

Every Redis Cluster node listens on a second TCP port, the *cluster bus*
(by default the client port plus 10000), and the nodes gossip over it in a
binary protocol of their own. This module is that protocol's codec and
nothing more: it turns bytes into :class:`Message` objects and back, and it
cuts a byte stream into packets. It opens no sockets, reads no clocks and
keeps no cluster state (a "sans-IO" module), so the link layer can drive it
from asyncio, the tests from a plain socket, and a fuzzer from random bytes.

The packet
----------

A packet is one C struct, ``clusterMsg`` in Redis's ``cluster.h``, sent as it
sits in memory. Its multi-byte integers are in network byte order (big
endian; Redis wraps every store in ``htons``/``htonl``/``htonu64``), its
strings are fixed-size NUL-padded ``char`` arrays, and the compiler's
layout is pinned by ``static_assert``s on every field offset, so the format
is the same on every platform. The first 2256 bytes are a header that every
packet has::

    offset size  field
         0    4  sig            b"RCmb" ("Redis Cluster message bus")
         4    4  totlen         length of the whole packet, header included
         8    2  ver            protocol version, always 1
        10    2  port           the sender's client port
        12    2  type           PING, PONG, MEET, FAIL, ... (below)
        14    2  count          number of gossip entries (PING/PONG/MEET)
        16    8  currentEpoch   the sender's view of the cluster epoch
        24    8  configEpoch    the epoch of the sender's (or its master's) slots
        32    8  offset         replication offset
        40   40  sender         the sender's node id, 40 hex chars, no NUL
        80 2048  myslots        slot bitmap (of its master if it is a replica)
      2128   40  slaveof        its master's id, or 40 NUL bytes for a master
      2168   46  myip           announced IP, NUL-terminated; empty = "use
                                the address you see on the socket"
      2214    2  extensions     number of ping extensions (see below)
      2216   30  notused1       reserved, zero
      2246    2  pport          plaintext client port (when port is TLS)
      2248    2  cport          the sender's cluster bus port
      2250    2  flags          the sender's node flags (CLUSTER_NODE_*)
      2252    1  state          the sender's view: 0 = cluster ok, 1 = fail
      2253    3  mflags         message flags; only mflags[0] is used
      2256       data           depends on type

The body after the header depends on ``type``:

* PING, PONG, MEET: ``count`` gossip entries of 104 bytes each (another
  node's name, the times we last pinged it and heard from it, in seconds,
  its address and flags), then, when ``mflags[0]`` has
  :data:`MF_EXT_DATA`, ``extensions`` ping extensions.
* FAIL: the 40-byte name of the node the sender declares failed.
* PUBLISH, PUBLISHSHARD: ``channel_len`` and ``message_len`` (4 bytes
  each), then the channel and the message bytes, back to back.
* UPDATE: a config epoch, a node name and that node's 2048-byte slot
  bitmap: "this node owns these slots as of this epoch".
* MODULE: a module id (8 bytes), a payload length (4), a type (1 byte) and
  the payload.
* FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART: nothing; the header
  says it all.

Ping extensions (added in 7.0) are an open-ended list of
``[length:4][type:2][unused:2][payload]`` records, where ``length`` covers
the 8-byte record header too and every record is padded to a multiple of 8
bytes. Redis 7.0 defines one type, the hostname (a NUL-terminated string,
the node's ``cluster-announce-hostname``), and ignores types it does not
know, with a warning in its log. Redis 7.2 adds the human node name, the
forgotten-node and the shard-id extensions; they are decoded here too, so a
Vermilion node can read a 7.2 peer, but a 7.0 peer neither sends nor reads
them.

How much a receiver trusts
--------------------------

Redis checks a packet in two places, and a reader must tell them apart
because the consequences differ:

1. ``clusterReadHandler`` reads the first 8 bytes (signature and
   ``totlen``). A wrong signature, or a ``totlen`` below the header size,
   means the stream is not the cluster bus, or it is out of step; Redis
   closes the link. :class:`BusReader` raises :class:`BusError` there, and
   the link layer drops the connection.
2. Once ``totlen`` bytes are in, ``clusterProcessPacket`` checks the
   version and that ``totlen`` is exactly the length the type implies. A
   packet that fails is logged and *ignored*; the link stays up.
   :func:`decode` raises :class:`BusError` for those, and
   :class:`BusReader`'s message iterator skips them the same way (counting
   them in :attr:`BusReader.ignored`).

The checks here are Redis's, made a little stricter where Redis's own are
loose enough to read outside the packet: an extension's length must be at
least its 8-byte header (Redis accepts 0, which makes it loop in place), the
record headers must lie inside the packet, an extension's 32-bit length is
used whole (Redis checks it through a ``uint16_t``, so 65544 passes as 8),
and lengths are summed without the 32-bit wrap-around Redis's ``uint32_t``
arithmetic allows. Packet types
beyond :data:`PUBLISHSHARD` are accepted as Redis accepts them ("we don't
know this type of packet, so we assume it's well formed") and keep their
body as raw bytes.

What round-trips
----------------

:func:`encode` writes what Redis writes for the same field values: zeros in
every reserved byte, strings NUL-padded to their field, ``totlen``,
``count`` and ``extensions`` computed, :data:`MF_EXT_DATA` set when there
are extensions, and each extension padded to 8 bytes. So
``encode(decode(packet)) == packet`` for any packet Redis (or this module)
produced. The decoded form does not keep what Redis itself never looks at:
bytes after a string's NUL, the reserved fields, ``mflags[1:]``, a
``count`` on a packet type that has no gossip, an ``extensions`` count
without :data:`MF_EXT_DATA` (Redis's validation skips it then, though its
processing loop does not: never send one). A non-canonical packet decodes to
the values Redis would read and re-encodes canonically. One such case can
come from Redis itself: a gossip entry's ``ip`` is a ``memcpy`` of the whole
46-byte array Redis keeps for the node, and after an address change that
array can hold the tail of the old, longer address behind the NUL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Iterator, Union

# --- sizes and names ---------------------------------------------------------

CLUSTER_SLOTS = 16384
CLUSTER_NAMELEN = 40  # a node id: 40 hex characters, stored without a NUL
NAMELEN = CLUSTER_NAMELEN
NET_IP_STR_LEN = 46  # INET6_ADDRSTRLEN: room for any IPv6 text plus the NUL
SLOTS_BITMAP_LEN = CLUSTER_SLOTS // 8  # 2048
CLUSTER_PORT_INCR = 10000  # default bus port = client port + 10000

SIGNATURE = b"RCmb"
PROTO_VER = 1
# Redis's CLUSTER_NODE_NULL_NAME: what a master puts in slaveof.
NULL_NAME = bytes(CLUSTER_NAMELEN)
EMPTY_SLOTS = bytes(SLOTS_BITMAP_LEN)

# --- message types (CLUSTERMSG_TYPE_*) ---------------------------------------

PING = 0
PONG = 1
MEET = 2
FAIL = 3
PUBLISH = 4
FAILOVER_AUTH_REQUEST = 5
FAILOVER_AUTH_ACK = 6
UPDATE = 7
MFSTART = 8
MODULE = 9
PUBLISHSHARD = 10
MSG_TYPE_COUNT = 11

# The names Redis uses in its log and in CLUSTER INFO's cluster_stats_* fields.
TYPE_NAMES = {
    PING: "ping",
    PONG: "pong",
    MEET: "meet",
    FAIL: "fail",
    PUBLISH: "publish",
    FAILOVER_AUTH_REQUEST: "auth-req",
    FAILOVER_AUTH_ACK: "auth-ack",
    UPDATE: "update",
    MFSTART: "mfstart",
    MODULE: "module",
    PUBLISHSHARD: "publishshard",
}

# PING, PONG and MEET are one packet format; they differ only in meaning.
GOSSIP_TYPES = frozenset((PING, PONG, MEET))

# --- node flags (CLUSTER_NODE_*), as in the header and gossip entries ---------

CLUSTER_NODE_MASTER = 1
CLUSTER_NODE_SLAVE = 2
CLUSTER_NODE_PFAIL = 4
CLUSTER_NODE_FAIL = 8
CLUSTER_NODE_MYSELF = 16
CLUSTER_NODE_HANDSHAKE = 32
CLUSTER_NODE_NOADDR = 64
CLUSTER_NODE_MEET = 128
CLUSTER_NODE_MIGRATE_TO = 256
CLUSTER_NODE_NOFAILOVER = 512

# --- cluster state byte -------------------------------------------------------

CLUSTER_OK = 0
CLUSTER_FAIL = 1

# --- mflags[0] bits (CLUSTERMSG_FLAG0_*) ---------------------------------------

MF_PAUSED = 1 << 0  # master paused for a manual failover
MF_FORCEACK = 1 << 1  # vote for this AUTH_REQUEST even though the master is up
MF_EXT_DATA = 1 << 2  # the packet carries ping extensions

# --- ping extension types (CLUSTERMSG_EXT_TYPE_*) -----------------------------

EXT_HOSTNAME = 0  # Redis 7.0
EXT_HUMAN_NODENAME = 1  # Redis 7.2 and later
EXT_FORGOTTEN_NODE = 2  # Redis 7.2 and later
EXT_SHARDID = 3  # Redis 7.2 and later

# --- struct layouts -------------------------------------------------------------
# "!" is network byte order with no alignment padding; the C structs have none
# to add (Redis pins every offset with static_assert), so the formats below
# are the structs field for field.

_HEADER = struct.Struct("!4sIHHHHQQQ40s2048s40s46sH30sHHHB3s")
_GOSSIP = struct.Struct("!40sII46sHHHHH")  # ..., pport, notused1
_EXT_HEADER = struct.Struct("!IHH")  # length, type, unused
_PUBLISH_HEADER = struct.Struct("!II")  # channel_len, message_len
_UPDATE = struct.Struct("!Q40s2048s")
# clusterMsgModule: module_id, len, type. The module id is written in the
# sender's *host* byte order (cluster.c: "Already endian adjusted", which it
# is not; both ends compute it with moduleTypeEncodeId and compare raw), so
# it is little endian as every x86 and ARM Redis sends it.
_MODULE_ID = struct.Struct("<Q")
_MODULE_REST = struct.Struct("!IB")
_U64 = struct.Struct("!Q")
_U8 = struct.Struct("B")

HEADER_SIZE = _HEADER.size  # 2256: CLUSTERMSG_MIN_LEN
CLUSTERMSG_MIN_LEN = HEADER_SIZE
GOSSIP_ENTRY_SIZE = _GOSSIP.size  # 104: sizeof(clusterMsgDataGossip)
PING_EXT_HEADER_SIZE = _EXT_HEADER.size  # 8: sizeof(clusterMsgPingExt)
FAIL_BODY_SIZE = CLUSTER_NAMELEN  # sizeof(clusterMsgDataFail)
UPDATE_BODY_SIZE = _UPDATE.size  # 2096: sizeof(clusterMsgDataUpdate)
# The publish and module bodies end in a placeholder array (bulk_data[8] and
# bulk_data[3]) that Redis subtracts back out of the length: the fixed parts
# are 8 and 13 bytes, and the data follows at once.
PUBLISH_FIXED_SIZE = _PUBLISH_HEADER.size  # 8
MODULE_FIXED_SIZE = _MODULE_ID.size + _MODULE_REST.size  # 13
# sizeof(clusterMsg): the header plus the largest body (UPDATE). Redis sizes
# its stack buffers with it; it is not a limit on packet length.
CLUSTERMSG_SIZE = HEADER_SIZE + UPDATE_BODY_SIZE  # 4352

# The smallest valid packet of each type (PING, PONG, MEET with no gossip;
# PUBLISH with empty channel and message; MODULE with an empty payload).
MIN_LEN = {
    PING: HEADER_SIZE,
    PONG: HEADER_SIZE,
    MEET: HEADER_SIZE,
    FAIL: HEADER_SIZE + FAIL_BODY_SIZE,
    PUBLISH: HEADER_SIZE + PUBLISH_FIXED_SIZE,
    FAILOVER_AUTH_REQUEST: HEADER_SIZE,
    FAILOVER_AUTH_ACK: HEADER_SIZE,
    UPDATE: HEADER_SIZE + UPDATE_BODY_SIZE,
    MFSTART: HEADER_SIZE,
    MODULE: HEADER_SIZE + MODULE_FIXED_SIZE,
    PUBLISHSHARD: HEADER_SIZE + PUBLISH_FIXED_SIZE,
}

_MAX_U16 = 0xFFFF
_MAX_U32 = 0xFFFFFFFF


class BusError(ValueError):
    """A packet (or a value to encode) that is not valid cluster bus data.

    Raised by :func:`decode` and :class:`BusReader` for bad input, and by
    :func:`encode` for field values that do not fit their wire fields; the
    message says why."""


# --- slot bitmaps -------------------------------------------------------------
# Redis stores a node's slots as a bitmap of 16384 bits: slot s is bit
# (s & 7) of byte (s >> 3), least significant bit first (bitmapTestBit in
# cluster.c). The same layout appears in the header (myslots) and in UPDATE.


def slots_to_bitmap(slots) -> bytes:
    """The 2048-byte bitmap with exactly the given slots set."""
    bitmap = bytearray(SLOTS_BITMAP_LEN)
    for slot in slots:
        if not 0 <= slot < CLUSTER_SLOTS:
            raise ValueError(f"slot {slot} out of range 0..{CLUSTER_SLOTS - 1}")
        bitmap[slot >> 3] |= 1 << (slot & 7)
    return bytes(bitmap)


def slot_ranges_to_bitmap(ranges) -> bytes:
    """The bitmap with the slots of inclusive (start, end) ranges set."""
    return slots_to_bitmap(s for start, end in ranges for s in range(start, end + 1))


def bitmap_to_slots(bitmap: bytes) -> list[int]:
    """The set slots of a bitmap, ascending."""
    _check_bitmap(bitmap)
    out: list[int] = []
    for i, byte in enumerate(bitmap):
        if byte:  # most bytes of a real bitmap are 0 or 0xff: skip or take whole
            base = i << 3
            if byte == 0xFF:
                out.extend(range(base, base + 8))
            else:
                out.extend(base + bit for bit in range(8) if byte >> bit & 1)
    return out


def bitmap_to_ranges(bitmap: bytes) -> list[tuple[int, int]]:
    """The set slots as inclusive (start, end) ranges, as CLUSTER NODES shows them."""
    ranges: list[tuple[int, int]] = []
    for slot in bitmap_to_slots(bitmap):
        if ranges and ranges[-1][1] == slot - 1:
            ranges[-1] = (ranges[-1][0], slot)
        else:
            ranges.append((slot, slot))
    return ranges


def slot_is_set(bitmap: bytes, slot: int) -> bool:
    """Whether the bitmap has the slot (Redis's bitmapTestBit)."""
    return bool(bitmap[slot >> 3] >> (slot & 7) & 1)


def bitmap_count(bitmap: bytes) -> int:
    """How many slots the bitmap has."""
    return int.from_bytes(bitmap, "little").bit_count()


def _check_bitmap(bitmap: bytes) -> None:
    if len(bitmap) != SLOTS_BITMAP_LEN:
        raise ValueError(f"a slot bitmap is {SLOTS_BITMAP_LEN} bytes, not {len(bitmap)}")


# --- C strings ----------------------------------------------------------------
# Fixed char arrays hold NUL-terminated text. Redis reads them as C strings, so
# anything after the first NUL is invisible to it, and that is what we decode.
# Text is UTF-8 with surrogateescape, so arbitrary bytes survive a round trip.


def _cstr(raw: bytes) -> str:
    end = raw.find(b"\0")
    if end >= 0:
        raw = raw[:end]
    return raw.decode("utf-8", "surrogateescape")


def _str_field(value: str, size: int, what: str) -> bytes:
    # Redis strncpy's at most size-1 bytes and keeps the last byte a NUL.
    raw = value.encode("utf-8", "surrogateescape")
    if len(raw) >= size:
        raise BusError(f"{what} is {len(raw)} bytes, more than the {size - 1} that fit")
    if b"\0" in raw:
        raise BusError(f"{what} contains a NUL byte")
    return raw  # struct's "Ns" pads with NULs


def _name_field(value: bytes, what: str) -> bytes:
    if len(value) != CLUSTER_NAMELEN:
        raise BusError(f"{what} must be {CLUSTER_NAMELEN} bytes, not {len(value)}")
    return value


# --- the decoded form -----------------------------------------------------------


@dataclass(slots=True)
class GossipEntry:
    """One clusterMsgDataGossip: what the sender knows about another node.

    ``ping_sent`` and ``pong_received`` are in seconds (Redis sends its
    millisecond times divided by 1000, truncated to 32 bits)."""

    nodename: bytes = NULL_NAME
    ping_sent: int = 0
    pong_received: int = 0
    ip: str = ""
    port: int = 0
    cport: int = 0
    flags: int = 0
    pport: int = 0


@dataclass(frozen=True, slots=True)
class HostnameExt:
    """The sender's cluster-announce-hostname (Redis 7.0's only extension)."""

    hostname: str


@dataclass(frozen=True, slots=True)
class HumanNodenameExt:
    """The sender's human-readable node name (Redis 7.2+; 7.0 ignores it)."""

    nodename: str


@dataclass(frozen=True, slots=True)
class ForgottenNodeExt:
    """ "Forget this node for ttl seconds" (Redis 7.2+; 7.0 ignores it)."""

    name: bytes
    ttl: int


@dataclass(frozen=True, slots=True)
class ShardIdExt:
    """The sender's shard id, 40 hex chars (Redis 7.2+; 7.0 ignores it)."""

    shard_id: bytes


@dataclass(frozen=True, slots=True)
class UnknownExt:
    """An extension this codec does not interpret, kept as its raw payload
    (everything after the 8-byte record header, padding included), so it
    re-encodes as received. Also used for a known type whose payload has
    the wrong size."""

    type: int
    data: bytes


PingExt = Union[HostnameExt, HumanNodenameExt, ForgottenNodeExt, ShardIdExt, UnknownExt]


@dataclass(slots=True)
class Message:
    """One cluster bus packet, decoded.

    The header fields come first. The body fields after them belong to
    particular types; :func:`encode` reads only those of ``type`` and
    :func:`decode` leaves the others at their defaults. ``totlen``,
    ``count`` and the header's extension count are not stored: they follow
    from the body (see :attr:`count` and :attr:`extension_count`).
    """

    type: int = PING
    sender: bytes = NULL_NAME
    current_epoch: int = 0
    config_epoch: int = 0
    offset: int = 0
    myslots: bytes = EMPTY_SLOTS
    slaveof: bytes = NULL_NAME  # NULL_NAME: the sender is a master
    myip: str = ""  # empty: the receiver uses the address it sees
    port: int = 0
    pport: int = 0
    cport: int = 0
    flags: int = 0
    state: int = CLUSTER_OK
    # mflags[0], as on the wire (so a decoded PING with extensions has
    # MF_EXT_DATA here); encode adds MF_EXT_DATA itself when there are any.
    mflags: int = 0

    # PING, PONG, MEET
    gossip: list[GossipEntry] = field(default_factory=list)
    extensions: list[PingExt] = field(default_factory=list)
    # FAIL: the node declared failed
    about: bytes = NULL_NAME
    # PUBLISH, PUBLISHSHARD
    channel: bytes = b""
    message: bytes = b""
    # UPDATE: node `update_nodename` owns `update_slots` as of `update_config_epoch`
    update_config_epoch: int = 0
    update_nodename: bytes = NULL_NAME
    update_slots: bytes = EMPTY_SLOTS
    # MODULE
    module_id: int = 0
    module_type: int = 0
    module_payload: bytes = b""
    # types this codec does not know (>= MSG_TYPE_COUNT): the bytes after the header
    raw_body: bytes = b""

    @property
    def count(self) -> int:
        """The header's count field: the number of gossip entries."""
        return len(self.gossip) if self.type in GOSSIP_TYPES else 0

    @property
    def extension_count(self) -> int:
        """The header's extensions field."""
        return len(self.extensions) if self.type in GOSSIP_TYPES else 0

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, "unknown")

    @property
    def hostname(self) -> str:
        """The hostname extension's value, "" when there is none (which is
        how Redis reads a PING without one: the node has no hostname)."""
        for ext in self.extensions:
            if isinstance(ext, HostnameExt):
                return ext.hostname
        return ""

    @property
    def forgotten_nodes(self) -> list[tuple[bytes, int]]:
        """(name, ttl) of each forgotten-node extension (Redis 7.2+)."""
        return [(e.name, e.ttl) for e in self.extensions if isinstance(e, ForgottenNodeExt)]

    @property
    def is_master(self) -> bool:
        return self.slaveof == NULL_NAME


# --- encoding -------------------------------------------------------------------


def _encode_ext(ext: PingExt) -> bytes:
    if isinstance(ext, HostnameExt):
        etype, payload = EXT_HOSTNAME, _ext_string(ext.hostname, "hostname")
    elif isinstance(ext, HumanNodenameExt):
        etype, payload = EXT_HUMAN_NODENAME, _ext_string(ext.nodename, "human nodename")
    elif isinstance(ext, ForgottenNodeExt):
        etype = EXT_FORGOTTEN_NODE
        payload = _name_field(ext.name, "forgotten node name") + _pack(_U64, ext.ttl)
    elif isinstance(ext, ShardIdExt):
        etype, payload = EXT_SHARDID, _name_field(ext.shard_id, "shard id")
    elif isinstance(ext, UnknownExt):
        etype, payload = ext.type, ext.data
        if len(payload) % 8:
            # Redis drops a packet whose extension length is not a multiple of 8.
            raise BusError("an extension payload must be a multiple of 8 bytes")
    else:
        raise BusError(f"not a ping extension: {ext!r}")
    return _pack(_EXT_HEADER, PING_EXT_HEADER_SIZE + len(payload), etype, 0) + payload


def _ext_string(value: str, what: str) -> bytes:
    # The string, its NUL, and zeros up to a multiple of 8 (EIGHT_BYTE_ALIGN
    # of strlen + 1): a 7-character hostname takes 8 bytes, an 8-character
    # one 16.
    raw = value.encode("utf-8", "surrogateescape")
    if b"\0" in raw:
        raise BusError(f"{what} contains a NUL byte")
    padded = (len(raw) + 1 + 7) // 8 * 8
    return raw + bytes(padded - len(raw))


def _pack(st: struct.Struct, *values) -> bytes:
    try:
        return st.pack(*values)
    except struct.error as e:
        raise BusError(f"value out of range for its field: {e}") from None


def encode(msg: Message) -> bytes:
    """The packet Redis would send for these field values."""
    mtype = msg.type
    mflags = msg.mflags
    count = extensions = 0
    if mtype in GOSSIP_TYPES:
        parts = [_encode_gossip(g) for g in msg.gossip]
        if msg.extensions:
            # Redis sets the flag whenever it writes an extension; without it
            # a receiver ignores the extensions count and the packet's length
            # check fails.
            mflags |= MF_EXT_DATA
            parts.extend(_encode_ext(e) for e in msg.extensions)
        count = len(msg.gossip)
        extensions = len(msg.extensions)
        if count > _MAX_U16 or extensions > _MAX_U16:
            raise BusError("too many gossip entries or extensions for a 16-bit count")
        body = b"".join(parts)
    elif mtype == FAIL:
        body = _name_field(msg.about, "about")
    elif mtype in (PUBLISH, PUBLISHSHARD):
        body = _pack(_PUBLISH_HEADER, len(msg.channel), len(msg.message)) + msg.channel
        body += msg.message
    elif mtype == UPDATE:
        _name_field(msg.update_nodename, "update_nodename")
        if len(msg.update_slots) != SLOTS_BITMAP_LEN:
            raise BusError(f"update_slots must be {SLOTS_BITMAP_LEN} bytes")
        body = _pack(_UPDATE, msg.update_config_epoch, msg.update_nodename, msg.update_slots)
    elif mtype == MODULE:
        body = (
            _pack(_MODULE_ID, msg.module_id)
            + _pack(_MODULE_REST, len(msg.module_payload), msg.module_type)
            + msg.module_payload
        )
    elif mtype in (FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART):
        body = b""
    else:
        body = msg.raw_body
    if len(msg.myslots) != SLOTS_BITMAP_LEN:
        raise BusError(f"myslots must be {SLOTS_BITMAP_LEN} bytes, not {len(msg.myslots)}")
    totlen = HEADER_SIZE + len(body)
    if totlen > _MAX_U32:
        raise BusError("packet too long for its 32-bit length")
    header = _pack(
        _HEADER,
        SIGNATURE,
        totlen,
        PROTO_VER,
        msg.port,
        mtype,
        count,
        msg.current_epoch,
        msg.config_epoch,
        msg.offset,
        _name_field(msg.sender, "sender"),
        msg.myslots,
        _name_field(msg.slaveof, "slaveof"),
        _str_field(msg.myip, NET_IP_STR_LEN, "myip"),
        extensions,
        b"",
        msg.pport,
        msg.cport,
        msg.flags,
        msg.state,
        _pack(_U8, mflags) + b"\0\0",  # Redis uses only mflags[0]
    )
    return header + body


def _encode_gossip(g: GossipEntry) -> bytes:
    return _pack(
        _GOSSIP,
        _name_field(g.nodename, "gossip nodename"),
        g.ping_sent,
        g.pong_received,
        _str_field(g.ip, NET_IP_STR_LEN, "gossip ip"),
        g.port,
        g.cport,
        g.flags,
        g.pport,
        0,
    )


# --- decoding -------------------------------------------------------------------


def check_preamble(buf) -> int:
    """Check a packet's first 8 bytes as clusterReadHandler does and return
    its totlen. A BusError here means the link is unusable: drop it."""
    if len(buf) < 8:
        raise BusError("truncated: fewer than 8 bytes")
    if bytes(buf[:4]) != SIGNATURE:
        raise BusError("bad signature: not the cluster bus")
    totlen = int.from_bytes(buf[4:8], "big")
    if totlen < HEADER_SIZE:
        raise BusError(f"bad length {totlen}: under the {HEADER_SIZE}-byte header")
    return totlen


def decode(buf) -> Message:
    """Decode one whole packet (exactly ``totlen`` bytes), validating it as
    Redis does before processing. Raises :class:`BusError`, and nothing else,
    for anything Redis would drop or ignore."""
    buf = bytes(buf)
    totlen = check_preamble(buf)
    if len(buf) != totlen:
        raise BusError(f"totlen says {totlen} bytes but the buffer has {len(buf)}")
    (
        _sig,
        _totlen,
        ver,
        port,
        mtype,
        count,
        current_epoch,
        config_epoch,
        offset,
        sender,
        myslots,
        slaveof,
        myip,
        n_ext,
        _notused,
        pport,
        cport,
        flags,
        state,
        mflags3,
    ) = _HEADER.unpack_from(buf)
    if ver != PROTO_VER:
        # Redis: "Can't handle messages of different versions."
        raise BusError(f"protocol version {ver}, not {PROTO_VER}")
    msg = Message(
        type=mtype,
        sender=sender,
        current_epoch=current_epoch,
        config_epoch=config_epoch,
        offset=offset,
        myslots=myslots,
        slaveof=slaveof,
        # nodeIp2String forces the field's last byte to NUL before reading it.
        myip=_cstr(myip[: NET_IP_STR_LEN - 1]),
        port=port,
        pport=pport,
        cport=cport,
        flags=flags,
        state=state,
        mflags=mflags3[0],
    )
    body = HEADER_SIZE
    name = TYPE_NAMES.get(mtype, "unknown")

    def expect(explen: int) -> None:
        if totlen != explen:
            raise BusError(f"{name} packet of length {totlen}, expected {explen}")

    if mtype in GOSSIP_TYPES:
        explen = body + GOSSIP_ENTRY_SIZE * count
        if explen > totlen:
            raise BusError(f"{name} packet of length {totlen} too short for {count} gossip entries")
        msg.gossip = [_decode_gossip(buf, body + i * GOSSIP_ENTRY_SIZE) for i in range(count)]
        if mflags3[0] & MF_EXT_DATA:
            # Without the flag Redis ignores the extensions count altogether.
            for _ in range(n_ext):
                if totlen - explen < PING_EXT_HEADER_SIZE:
                    raise BusError(f"{name} packet: extension header past the end of the packet")
                extlen, etype, _unused = _EXT_HEADER.unpack_from(buf, explen)
                if extlen % 8:
                    raise BusError(f"{name} packet: extension without proper padding ({extlen})")
                if extlen < PING_EXT_HEADER_SIZE:
                    raise BusError(f"{name} packet: extension length {extlen} under its header")
                if totlen - explen < extlen:
                    raise BusError(f"{name} packet: extension data exceeds the packet length")
                payload = buf[explen + PING_EXT_HEADER_SIZE : explen + extlen]
                msg.extensions.append(_decode_ext(etype, payload))
                explen += extlen
        expect(explen)
    elif mtype == FAIL:
        expect(body + FAIL_BODY_SIZE)
        msg.about = buf[body : body + CLUSTER_NAMELEN]
    elif mtype in (PUBLISH, PUBLISHSHARD):
        if totlen < body + PUBLISH_FIXED_SIZE:
            raise BusError(f"{name} packet of length {totlen}, too short for its lengths")
        channel_len, message_len = _PUBLISH_HEADER.unpack_from(buf, body)
        start = body + PUBLISH_FIXED_SIZE
        expect(start + channel_len + message_len)
        msg.channel = buf[start : start + channel_len]
        msg.message = buf[start + channel_len : totlen]
    elif mtype in (FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK, MFSTART):
        expect(body)
    elif mtype == UPDATE:
        expect(body + UPDATE_BODY_SIZE)
        msg.update_config_epoch, msg.update_nodename, msg.update_slots = _UPDATE.unpack_from(
            buf, body
        )
    elif mtype == MODULE:
        if totlen < body + MODULE_FIXED_SIZE:
            raise BusError(f"{name} packet of length {totlen}, too short for its length field")
        (msg.module_id,) = _MODULE_ID.unpack_from(buf, body)
        plen, msg.module_type = _MODULE_REST.unpack_from(buf, body + _MODULE_ID.size)
        expect(body + MODULE_FIXED_SIZE + plen)
        msg.module_payload = buf[body + MODULE_FIXED_SIZE : totlen]
    else:
        # Redis: "We don't know this type of packet, so we assume it's well
        # formed." It then logs the type as unknown and ignores it.
        msg.raw_body = buf[body:]
    return msg


def _decode_gossip(buf: bytes, pos: int) -> GossipEntry:
    nodename, ping_sent, pong_received, ip, port, cport, flags, pport, _ = _GOSSIP.unpack_from(
        buf, pos
    )
    return GossipEntry(nodename, ping_sent, pong_received, _cstr(ip), port, cport, flags, pport)


def _decode_ext(etype: int, payload: bytes) -> PingExt:
    if etype == EXT_HOSTNAME:
        return HostnameExt(_cstr(payload))
    if etype == EXT_HUMAN_NODENAME:
        return HumanNodenameExt(_cstr(payload))
    if etype == EXT_FORGOTTEN_NODE and len(payload) == CLUSTER_NAMELEN + 8:
        return ForgottenNodeExt(payload[:CLUSTER_NAMELEN], _U64.unpack_from(payload, 40)[0])
    if etype == EXT_SHARDID and len(payload) == CLUSTER_NAMELEN:
        return ShardIdExt(payload)
    return UnknownExt(etype, payload)


# --- framing ----------------------------------------------------------------------


class BusReader:
    """Cuts a cluster bus byte stream into packets, as clusterReadHandler does.

    Feed it whatever the socket returns, in any pieces, then iterate::

        reader.feed(data)
        for msg in reader:        # decoded Messages
            ...

    or use :meth:`frames` for the raw packets. A stream that is not the
    cluster bus (bad signature, or a length under the header size) raises
    :class:`BusError`; so does every later call, since the stream can no
    longer be resynchronised: drop the link. A packet that is framed
    correctly but fails :func:`decode`'s checks is skipped, as Redis skips
    it; :attr:`ignored` counts those and :attr:`last_ignored` says why.

    Redis puts no upper bound on ``totlen``; neither does this reader unless
    ``max_len`` is given. It never allocates ahead: a packet claiming 4 GB
    costs only the bytes that actually arrive.
    """

    __slots__ = ("_buf", "_error", "max_len", "ignored", "last_ignored")

    def __init__(self, max_len: int | None = None):
        self._buf = bytearray()
        self._error: BusError | None = None
        self.max_len = max_len
        self.ignored = 0
        self.last_ignored: BusError | None = None

    def feed(self, data) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a packet."""
        return len(self._buf)

    def next_frame(self) -> bytes | None:
        """The next complete packet's bytes, or None until more arrive."""
        if self._error is not None:
            raise self._error
        buf = self._buf
        if len(buf) < 8:
            return None
        try:
            totlen = check_preamble(buf)
            if self.max_len is not None and totlen > self.max_len:
                raise BusError(f"packet of {totlen} bytes over the {self.max_len}-byte limit")
        except BusError as e:
            self._error = e
            raise
        if len(buf) < totlen:
            return None
        frame = bytes(buf[:totlen])
        del buf[:totlen]
        return frame

    def frames(self) -> Iterator[bytes]:
        """Every complete packet buffered so far, raw."""
        while (frame := self.next_frame()) is not None:
            yield frame

    def __iter__(self) -> Iterator[Message]:
        for frame in self.frames():
            try:
                msg = decode(frame)
            except BusError as e:
                self.ignored += 1
                self.last_ignored = e
                continue
            yield msg
