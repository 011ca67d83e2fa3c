"""The cluster bus codec (vermilion.cluster.bus): property tests of the codec
and the framing, and interop with a real redis-server 7.0 over its bus port.

The interop tests play a cluster node by hand: they MEET a real redis-server,
answer its handshake PING, and then talk to it as a known node, checking the
bytes it sends against what our encoder produces for the same field values.
"""

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from vermilion.cluster import bus
from vermilion.cluster.bus import (
    BusError,
    BusReader,
    ForgottenNodeExt,
    GossipEntry,
    HostnameExt,
    HumanNodenameExt,
    Message,
    ShardIdExt,
    UnknownExt,
    decode,
    encode,
)

REDIS_SERVER = "/usr/bin/redis-server"

# --- strategies -------------------------------------------------------------------

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 2**64 - 1)
names = st.one_of(
    st.text("0123456789abcdef", min_size=40, max_size=40).map(str.encode),
    st.binary(min_size=40, max_size=40),
)
# ASCII without NUL: what Redis can have in an IP or hostname field
ascii_text = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=45)
bitmaps = st.one_of(
    st.just(bus.EMPTY_SLOTS),
    st.sets(st.integers(0, bus.CLUSTER_SLOTS - 1), max_size=50).map(bus.slots_to_bitmap),
    st.binary(min_size=2048, max_size=2048),
)
gossip_entries = st.builds(
    GossipEntry,
    nodename=names,
    ping_sent=u32,
    pong_received=u32,
    ip=ascii_text,
    port=u16,
    cport=u16,
    flags=u16,
    pport=u16,
)
ping_exts = st.one_of(
    st.builds(HostnameExt, st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=60)),
    # (text as the server holds it: any characters but NUL and lone surrogates, or
    # bytes decoded with surrogateescape, as a name read from the bus is)
    st.builds(
        HumanNodenameExt,
        st.text(st.characters(min_codepoint=1, exclude_categories=("Cs",)), max_size=20)
        | st.binary(max_size=20)
        .filter(lambda b: b"\0" not in b)
        .map(lambda b: b.decode("utf-8", "surrogateescape")),
    ),
    st.builds(ForgottenNodeExt, names, u64),
    st.builds(ShardIdExt, names),
    st.builds(
        UnknownExt,
        st.integers(4, 0xFFFF),
        st.integers(0, 4).flatmap(lambda n: st.binary(min_size=8 * n, max_size=8 * n)),
    ),
)


def _header_fields(mtype):
    return dict(
        type=mtype if isinstance(mtype, st.SearchStrategy) else st.just(mtype),
        sender=names,
        current_epoch=u64,
        config_epoch=u64,
        offset=u64,
        myslots=bitmaps,
        slaveof=st.one_of(st.just(bus.NULL_NAME), names),
        myip=ascii_text,
        port=u16,
        pport=u16,
        cport=u16,
        flags=u16,
        state=st.integers(0, 255),
        mflags=st.integers(0, 255),
    )


def _messages():
    gossip_like = [
        st.builds(
            Message,
            **_header_fields(t),
            gossip=st.lists(gossip_entries, max_size=4),
            extensions=st.lists(ping_exts, max_size=4),
        )
        for t in (bus.PING, bus.PONG, bus.MEET)
    ]
    return st.one_of(
        *gossip_like,
        st.builds(Message, **_header_fields(bus.FAIL), about=names),
        *[
            st.builds(Message, **_header_fields(t), channel=st.binary(), message=st.binary())
            for t in (bus.PUBLISH, bus.PUBLISHSHARD)
        ],
        *[
            st.builds(Message, **_header_fields(t))
            for t in (bus.FAILOVER_AUTH_REQUEST, bus.FAILOVER_AUTH_ACK, bus.MFSTART)
        ],
        st.builds(
            Message,
            **_header_fields(bus.UPDATE),
            update_config_epoch=u64,
            update_nodename=names,
            update_slots=bitmaps,
        ),
        st.builds(
            Message,
            **_header_fields(bus.MODULE),
            module_id=u64,
            module_type=st.integers(0, 255),
            module_payload=st.binary(),
        ),
        # types Redis does not know: accepted, body kept raw
        st.builds(Message, **_header_fields(st.integers(11, 0xFFFF)), raw_body=st.binary()),
    )


messages = _messages()


def _expected_after_decode(m):
    """What decode(encode(m)) gives: the wire's mflags carry MF_EXT_DATA when
    there are extensions (encode adds it); everything else is as given."""
    if m.type in bus.GOSSIP_TYPES and m.extensions:
        m.mflags |= bus.MF_EXT_DATA
    return m


# --- round trips ---------------------------------------------------------------------

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(messages)
def test_encode_decode_round_trip(m):
    data = encode(m)
    assert len(data) == int.from_bytes(data[4:8], "big")
    assert data[:4] == b"RCmb" and data[8:10] == b"\x00\x01"
    d = decode(data)
    assert encode(d) == data
    assert d == _expected_after_decode(m)
    assert len(data) >= bus.MIN_LEN.get(m.type, bus.HEADER_SIZE)


@FAST
@given(st.binary(max_size=3000))
def test_decode_random_bytes_raises_only_buserror(data):
    try:
        decode(data)
    except BusError:
        pass


@FAST
@given(st.binary(max_size=2500), u16, u16, st.booleans())
def test_decode_plausible_bytes_raises_only_buserror(tail, mtype, count, ext):
    # A valid preamble and version so decode gets past them into the bodies.
    body = bytearray(bus.HEADER_SIZE + len(tail))
    body[bus.HEADER_SIZE :] = tail
    total = len(body)
    body[0:8] = b"RCmb" + total.to_bytes(4, "big")
    body[8:10] = b"\x00\x01"
    body[12:14] = (mtype % 12).to_bytes(2, "big")
    body[14:16] = (count % 30).to_bytes(2, "big")
    body[2214:2216] = (count % 5).to_bytes(2, "big")
    body[2253] = bus.MF_EXT_DATA if ext else 0
    try:
        m = decode(bytes(body))
    except BusError:
        return
    encode(m)  # whatever decodes must encode


@FAST
@given(messages, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6))
def test_decode_mutated_messages_raises_only_buserror(m, flips):
    data = bytearray(encode(m))
    for pos, val in flips:
        data[pos % len(data)] = val
    try:
        d = decode(bytes(data))
    except BusError:
        return
    encode(d)


@FAST
@given(messages, st.integers(0, 5000))
def test_decode_truncated_or_extended(m, cut):
    data = encode(m)
    for bad in (data[: cut % len(data)], data + b"\0" * (1 + cut % 9)):
        with pytest.raises(BusError):
            decode(bad)


@FAST
@given(st.lists(messages, min_size=1, max_size=4), st.data())
def test_reader_same_messages_however_split(msgs, data):
    stream = b"".join(encode(m) for m in msgs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    reader = BusReader()
    got = []
    prev = 0
    for cut in cuts + [len(stream)]:
        reader.feed(stream[prev:cut])
        prev = cut
        got.extend(reader)
    assert got == [_expected_after_decode(m) for m in msgs]
    assert reader.buffered == 0 and reader.ignored == 0


def test_reader_byte_by_byte_and_frames():
    msgs = [
        Message(type=bus.PING, sender=b"a" * 40, extensions=[HostnameExt("h")]),
        Message(type=bus.PUBLISH, sender=b"b" * 40, channel=b"ch", message=b"hello"),
    ]
    stream = b"".join(encode(m) for m in msgs)
    reader = BusReader()
    frames = []
    for i in range(len(stream)):
        reader.feed(stream[i : i + 1])
        frames.extend(reader.frames())
    assert frames == [encode(m) for m in msgs]


def test_reader_rejects_bad_preamble_and_stays_broken():
    reader = BusReader()
    reader.feed(b"RCmX" + (3000).to_bytes(4, "big"))
    with pytest.raises(BusError, match="signature"):
        list(reader)
    reader.feed(encode(Message()))
    with pytest.raises(BusError):  # the stream cannot be resynchronised
        list(reader)

    reader = BusReader()
    reader.feed(b"RCmb" + (bus.HEADER_SIZE - 1).to_bytes(4, "big"))
    with pytest.raises(BusError, match="length"):
        reader.next_frame()

    reader = BusReader()
    reader.feed(b"RCm")  # too early to judge
    assert list(reader) == []


def test_reader_huge_totlen_just_buffers():
    reader = BusReader()
    reader.feed(b"RCmb" + (0xFFFFFFFF).to_bytes(4, "big") + b"x" * 100)
    assert list(reader) == [] and reader.buffered == 108
    capped = BusReader(max_len=1 << 20)
    capped.feed(b"RCmb" + (0xFFFFFFFF).to_bytes(4, "big"))
    with pytest.raises(BusError, match="limit"):
        capped.next_frame()


def test_reader_skips_invalid_packets_like_redis():
    # A well-framed packet Redis would ignore (wrong version) is skipped; the
    # link, and the stream, go on.
    bad = bytearray(encode(Message(type=bus.FAIL)))
    bad[8:10] = b"\x00\x02"
    good = encode(Message(type=bus.MFSTART, sender=b"c" * 40))
    reader = BusReader()
    reader.feed(bytes(bad) + good)
    assert list(reader) == [decode(good)]
    assert reader.ignored == 1 and "version" in str(reader.last_ignored)


# --- exact layouts and validation rules -------------------------------------------


def test_sizes_match_the_c_structs():
    assert bus.HEADER_SIZE == bus.CLUSTERMSG_MIN_LEN == 2256
    assert bus.GOSSIP_ENTRY_SIZE == 104
    assert bus.CLUSTERMSG_SIZE == 4352
    assert bus.MIN_LEN[bus.FAIL] == 2296
    assert bus.MIN_LEN[bus.PUBLISH] == 2264
    assert bus.MIN_LEN[bus.MODULE] == 2269
    assert bus.MIN_LEN[bus.UPDATE] == 4352


def test_header_field_offsets():
    m = Message(
        type=bus.PONG,
        sender=b"s" * 40,
        current_epoch=0x0102030405060708,
        config_epoch=9,
        offset=10,
        myslots=bus.slots_to_bitmap([0, 9, 16383]),
        slaveof=b"m" * 40,
        myip="10.0.0.1",
        port=0x1234,
        pport=0x2345,
        cport=0x3456,
        flags=bus.CLUSTER_NODE_SLAVE,
        state=bus.CLUSTER_FAIL,
        mflags=bus.MF_PAUSED,
    )
    d = encode(m)
    assert d[10:12] == b"\x12\x34" and d[12:14] == b"\x00\x01" and d[14:16] == b"\0\0"
    assert d[16:24] == bytes(range(1, 9))
    assert d[40:80] == b"s" * 40
    assert d[80] == 1 and d[81] == 2 and d[80 + 2047] == 0x80  # slot s = byte s>>3, bit s&7
    assert d[2128:2168] == b"m" * 40
    assert d[2168:2214] == b"10.0.0.1" + bytes(38)
    assert d[2216:2246] == bytes(30)
    assert d[2246:2248] == b"\x23\x45" and d[2248:2250] == b"\x34\x56"
    assert d[2250:2252] == b"\x00\x02" and d[2252] == 1 and d[2253:2256] == b"\x01\0\0"


def test_hostname_extension_layout():
    # EIGHT_BYTE_ALIGN(strlen + 1): 7 chars + NUL = 8 bytes, 8 chars take 16.
    for host, padded in (("abcdefg", 8), ("abcdefgh", 16), ("", 8)):
        d = encode(Message(type=bus.PING, extensions=[HostnameExt(host)]))
        assert int.from_bytes(d[2214:2216], "big") == 1  # header extensions count
        assert d[2253] & bus.MF_EXT_DATA
        ext = d[bus.HEADER_SIZE :]
        assert ext[:8] == (8 + padded).to_bytes(4, "big") + b"\0\0\0\0"
        assert ext[8:] == host.encode() + bytes(padded - len(host))


def test_publish_module_layouts():
    d = encode(Message(type=bus.PUBLISH, channel=b"ch", message=b"msg"))
    assert len(d) == 2256 + 8 + 5
    assert d[2256:] == b"\0\0\0\x02\0\0\0\x03chmsg"
    d = encode(Message(type=bus.MODULE, module_id=0x0102, module_type=7, module_payload=b"xy"))
    # the module id goes out in host (little endian) order; len and type after it
    assert d[2256:] == b"\x02\x01\0\0\0\0\0\0" + b"\0\0\0\x02" + b"\x07" + b"xy"


def _patched(m, **offsets):
    d = bytearray(encode(m))
    for off, val in offsets.values():
        d[off : off + len(val)] = val
    return bytes(d)


def test_validation_rules():
    with pytest.raises(BusError, match="version"):
        decode(_patched(Message(), v=(8, b"\0\2")))
    with pytest.raises(BusError, match="expected"):  # FAIL body of a wrong size
        decode(_patched(Message(type=bus.FAIL), t=(4, (2300).to_bytes(4, "big"))) + b"\0" * 4)
    ping = Message(type=bus.PING, extensions=[HostnameExt("abc")])
    with pytest.raises(BusError, match="padding"):
        decode(_patched(ping, l=(2256, (12).to_bytes(4, "big"))))
    with pytest.raises(BusError, match="exceeds"):
        decode(_patched(ping, l=(2256, (24).to_bytes(4, "big"))))
    with pytest.raises(BusError):  # length 0: Redis would loop in place; we refuse
        decode(_patched(ping, l=(2256, (0).to_bytes(4, "big"))))
    # Without MF_EXT_DATA Redis ignores the extensions count, so the bytes are extra.
    with pytest.raises(BusError, match="expected"):
        decode(_patched(ping, f=(2253, b"\0")))
    # The flag with zero extensions is fine, and kept.
    d = decode(encode(Message(mflags=bus.MF_EXT_DATA)))
    assert d.mflags == bus.MF_EXT_DATA and d.extensions == []
    # Unknown types are "assumed well formed", body kept as bytes.
    d = decode(encode(Message(type=99, raw_body=b"abc")))
    assert d.type == 99 and d.raw_body == b"abc"
    # PUBLISH lengths are added without the 32-bit wrap-around.
    with pytest.raises(BusError):
        decode(
            _patched(
                Message(type=bus.PUBLISH, channel=b"abcd"),
                c=(2256, b"\xff\xff\xff\xff"),
                n=(2260, b"\0\0\0\x05"),
            )
        )


def test_strings_and_sizes_checked_on_encode():
    with pytest.raises(BusError):
        encode(Message(sender=b"short"))
    with pytest.raises(BusError):
        encode(Message(myip="x" * 46))
    with pytest.raises(BusError):
        encode(Message(port=70000))
    with pytest.raises(BusError):
        encode(Message(extensions=[UnknownExt(9, b"abc")]))
    assert decode(encode(Message(myip="x" * 45))).myip == "x" * 45


def test_decoded_strings_stop_at_nul():
    d = bytearray(encode(Message(myip="1.2.3.4")))
    d[2176:2180] = b"junk"  # after the NUL: invisible to Redis
    assert decode(bytes(d)).myip == "1.2.3.4"


def test_slot_bitmap_helpers():
    bm = bus.slots_to_bitmap([0, 1, 2, 100, 16383])
    assert bm[0] == 0b111 and bm[12] == 1 << 4 and bm[2047] == 0x80
    assert bus.bitmap_to_slots(bm) == [0, 1, 2, 100, 16383]
    assert bus.bitmap_to_ranges(bm) == [(0, 2), (100, 100), (16383, 16383)]
    assert bus.slot_is_set(bm, 100) and not bus.slot_is_set(bm, 101)
    assert bus.bitmap_count(bm) == 5
    full = bus.slot_ranges_to_bitmap([(0, 16383)])
    assert full == b"\xff" * 2048 and bus.bitmap_to_slots(full) == list(range(16384))
    with pytest.raises(ValueError):
        bus.slots_to_bitmap([16384])


@FAST
@given(st.sets(st.integers(0, 16383)))
def test_slot_bitmap_round_trip(slots):
    bm = bus.slots_to_bitmap(slots)
    assert bus.bitmap_to_slots(bm) == sorted(slots)
    assert bus.bitmap_count(bm) == len(slots)


# --- interop with a real redis-server -------------------------------------------------

needs_redis = pytest.mark.skipif(
    not os.path.exists(REDIS_SERVER), reason=f"{REDIS_SERVER} is not installed"
)


def _port_pair():
    """A port P such that P and its bus port P+10000 are both free."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        socks = []
        try:
            for p in (port, port + 10000):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port pair")


class ClusterRedis:
    """A real redis-server with cluster-enabled on a free port."""

    def __init__(self):
        import redis

        self.dir = tempfile.mkdtemp(prefix="vermilion-bus-")
        self.port = _port_pair()
        self.bus_port = self.port + 10000
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                os.path.join(self.dir, "nodes.conf"),
                # long enough that nothing times out while a test runs
                "--cluster-node-timeout",
                "60000",
                "--dir",
                self.dir,
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                os.path.join(self.dir, "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.r = redis.Redis(port=self.port, socket_timeout=5)
        deadline = time.time() + 10
        while True:
            try:
                self.r.ping()
                break
            except redis.ConnectionError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.02)
        self.myid = self.r.execute_command("CLUSTER", "MYID").decode()

    def nodes(self):
        """CLUSTER NODES as {id: fields}."""
        text = self.r.execute_command("CLUSTER", "NODES").decode()
        return {line.split()[0]: line.split() for line in text.splitlines()}

    def info(self):
        text = self.r.execute_command("CLUSTER", "INFO").decode()
        return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)

    def log(self):
        with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
            return f.read()

    def stop(self):
        try:
            self.r.close()
        except Exception:
            pass
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def real():
    node = ClusterRedis()
    try:
        yield node
    finally:
        node.stop()


def _read_message(sock, reader, types, timeout=5.0):
    """(raw bytes, Message) of the next packet of one of the types."""
    deadline = time.time() + timeout
    while True:
        for frame in reader.frames():
            msg = decode(frame)
            if msg.type in types:
                return frame, msg
        remaining = deadline - time.time()
        if remaining <= 0:
            raise TimeoutError(f"no {types} message from redis-server")
        sock.settimeout(remaining)
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("redis-server closed the bus link")
        reader.feed(data)


class FakeNode:
    """We, playing a cluster node: a name, a bus listener, links to the real node."""

    def __init__(self, real):
        self.real = real
        self.name = os.urandom(20).hex().encode()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.cport = self.listener.getsockname()[1]
        self.port = 1  # a client port nobody uses; Redis never connects to it
        self.out = socket.create_connection(("127.0.0.1", real.bus_port), timeout=5)
        self.out_reader = BusReader()
        self.inbound = None
        self.in_reader = BusReader()

    def msg(self, mtype, **kw):
        base = dict(
            type=mtype,
            sender=self.name,
            flags=bus.CLUSTER_NODE_MASTER,
            port=self.port,
            cport=self.cport,
            current_epoch=1,
            config_epoch=1,  # not 0: no config-epoch collision with the real node
        )
        base.update(kw)
        return Message(**base)

    def send(self, mtype, **kw):
        self.out.sendall(encode(self.msg(mtype, **kw)))

    def reply(self, types=(bus.PONG,)):
        return _read_message(self.out, self.out_reader, types)

    def handshake(self, **pong_fields):
        """MEET the real node, then answer the PING it sends to our announced
        bus port, so that it knows us by name. Returns its PING (raw, decoded)."""
        self.send(bus.MEET)
        self.reply()
        self.listener.settimeout(5)
        self.inbound, _ = self.listener.accept()
        frame, ping = _read_message(self.inbound, self.in_reader, (bus.PING, bus.MEET))
        self.inbound.sendall(encode(self.msg(bus.PONG, **pong_fields)))
        # It renames the handshake node to our name and clears HANDSHAKE.
        me = self.name.decode()
        _wait_for(lambda: me in self.real.nodes() and "handshake" not in self.real.nodes()[me][2])
        return frame, ping

    def close(self):
        for s in (self.out, self.inbound, self.listener):
            if s is not None:
                s.close()


@pytest.fixture
def node(real):
    n = FakeNode(real)
    try:
        yield n
    finally:
        n.close()


def _wait_for(pred, timeout=5.0):
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


@needs_redis
def test_meet_gets_pong_that_reencodes_exactly(real, node):
    real.r.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 100)
    info = real.info()
    me = real.nodes()[real.myid]
    node.send(bus.MEET)
    frame, pong = node.reply()
    assert encode(pong) == frame  # byte for byte what redis-server sent
    assert pong.type == bus.PONG
    assert pong.sender.decode() == real.myid
    assert bus.bitmap_to_slots(pong.myslots) == list(range(101))
    assert pong.port == real.port and pong.cport == real.bus_port and pong.pport == 0
    assert pong.flags == bus.CLUSTER_NODE_MYSELF | bus.CLUSTER_NODE_MASTER
    assert "myself" in me[2] and "master" in me[2]
    # (its own IP is learnt from the MEET's socket; before that it is empty)
    assert me[1] == f":{real.port}@{real.bus_port}"
    assert real.nodes()[real.myid][1] == f"127.0.0.1:{real.port}@{real.bus_port}"
    assert pong.slaveof == bus.NULL_NAME and me[3] == "-"
    assert pong.config_epoch == int(me[6])
    assert pong.current_epoch == int(info["cluster_current_epoch"])
    assert pong.state == (bus.CLUSTER_OK if info["cluster_state"] == "ok" else bus.CLUSTER_FAIL)
    assert pong.myip == "" and pong.gossip == [] and pong.extensions == []
    assert pong.offset == 0 and pong.mflags == 0
    # The MEET made it add us, in handshake, at the address we announced.
    handshaking = [f for n, f in real.nodes().items() if "handshake" in f[2]]
    assert len(handshaking) == 1 and handshaking[0][1] == f"127.0.0.1:{node.port}@{node.cport}"


@needs_redis
def test_handshake_then_ping_with_gossip_and_hostname(real, node):
    frame, ping = node.handshake()
    # redis-server's own PING to our listener re-encodes exactly too
    assert encode(ping) == frame and ping.sender.decode() == real.myid
    fields = real.nodes()[node.name.decode()]
    assert fields[1] == f"127.0.0.1:{node.port}@{node.cport}" and fields[2] == "master"

    gossip = [
        # the real node itself, as we see it
        GossipEntry(real.myid.encode(), 0, 0, "127.0.0.1", real.port, real.bus_port, 1, 0),
        # a node nobody can reach (NOADDR: Redis must not start a handshake with it)
        GossipEntry(b"f" * 40, 0, 0, "", 0, 0, bus.CLUSTER_NODE_NOADDR, 0),
    ]
    node.send(bus.PING, gossip=gossip, extensions=[HostnameExt("vermilion-bus.test")])
    frame, pong = node.reply()
    assert encode(pong) == frame and pong.sender.decode() == real.myid
    # the hostname extension was read: CLUSTER NODES shows ip:port@cport,hostname
    _wait_for(lambda: real.nodes()[node.name.decode()][1].endswith(",vermilion-bus.test"))
    assert "f" * 40 not in real.nodes()
    assert "unknown extension" not in real.log()
    assert pong.gossip == []  # two nodes: nobody else to gossip about
    # and it took our epoch (1 > its 0)
    assert real.info()["cluster_current_epoch"] == "1"

    # Extensions it does not know (7.2's forgotten-node, anything else) are
    # skipped by their length, and the ones after them still read.
    node.send(
        bus.PING,
        extensions=[
            ForgottenNodeExt(b"e" * 40, 60),
            UnknownExt(999, b"12345678" * 2),
            HostnameExt("second.test"),
        ],
    )
    frame, pong = node.reply()
    assert encode(pong) == frame
    _wait_for(lambda: real.nodes()[node.name.decode()][1].endswith(",second.test"))
    log = real.log()
    assert "Received unknown extension type 2" in log
    assert "Received unknown extension type 999" in log
    # A PING without the hostname extension means "no hostname" to Redis.
    node.send(bus.PING)
    node.reply()
    _wait_for(lambda: "," not in real.nodes()[node.name.decode()][1])


@needs_redis
def test_real_node_hostname_extension(real, node):
    real.r.config_set("cluster-announce-hostname", "real-node.example")
    node.send(bus.MEET)
    frame, pong = node.reply()
    assert encode(pong) == frame
    assert pong.hostname == "real-node.example"
    assert pong.extensions == [HostnameExt("real-node.example")]
    assert pong.mflags & bus.MF_EXT_DATA
    assert len(frame) == bus.HEADER_SIZE + 8 + 24  # 17 chars + NUL, padded to 24
    # an 8-character hostname needs 16 bytes: the NUL takes a byte of its own
    real.r.config_set("cluster-announce-hostname", "abcdefgh")
    node.send(bus.PING)
    frame, pong = node.reply()
    assert encode(pong) == frame and pong.hostname == "abcdefgh"
    assert len(frame) == bus.HEADER_SIZE + 8 + 16


@needs_redis
def test_publish_reaches_a_subscriber(real, node):
    node.handshake()
    sub = real.r.pubsub()
    sub.subscribe("news")
    assert sub.get_message(timeout=5)["type"] == "subscribe"
    node.send(bus.PUBLISH, channel=b"news", message=b"hello \x00 bus")
    msg = sub.get_message(timeout=5)
    assert msg["channel"] == b"news" and msg["data"] == b"hello \x00 bus"
    # The same for sharded pub/sub, on a channel in a slot the node serves.
    real.r.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    channel = next(
        c
        for c in (f"shard{i}" for i in range(1000))
        if real.r.execute_command("CLUSTER", "KEYSLOT", c) < 16384
    )
    sub.execute_command("SSUBSCRIBE", channel)
    assert sub.get_message(timeout=5)["type"] == "ssubscribe"
    node.send(bus.PUBLISHSHARD, channel=channel.encode(), message=b"sharded")
    msg = sub.get_message(timeout=5)
    assert msg["type"] == "smessage" and msg["data"] == b"sharded"
    sub.close()


@needs_redis
def test_publish_from_unknown_node_is_ignored(real, node):
    sub = real.r.pubsub()
    sub.subscribe("news")
    sub.get_message(timeout=5)
    node.send(bus.PUBLISH, channel=b"news", message=b"nope")
    node.send(bus.PING)  # the link is still up: it answers
    node.reply()
    assert sub.get_message(timeout=0.3) is None
    sub.close()


@needs_redis
def test_fail_message_marks_node_failed(real, node):
    node.handshake()
    # A third node it knows only through us would need its own handshake; a
    # FAIL about ourselves is one it can act on.
    node.send(bus.FAIL, about=node.name)
    _wait_for(lambda: "fail" in real.nodes()[node.name.decode()][2].split(","))


@needs_redis
def test_invalid_packet_ignored_bad_signature_drops_link(real, node):
    # Wrong length for the type: Redis logs and ignores it, the link stays up.
    bad = bytearray(encode(node.msg(bus.FAIL)))
    bad[4:8] = (len(bad) + 8).to_bytes(4, "big")
    node.out.sendall(bytes(bad) + b"\0" * 8)
    node.send(bus.PING)
    frame, pong = node.reply()
    assert encode(pong) == frame
    _wait_for(lambda: "Received invalid fail packet" in real.log())
    # A bad signature: Redis closes the link.
    node.out.sendall(b"XXXX" + (3000).to_bytes(4, "big"))
    node.out.settimeout(5)
    assert node.out.recv(100) == b""
