"""Stream commands, byte for byte against redis-server 7.0 (t_stream.c, blocked.c).

Each test sends the same commands to the reference server and to Vermilion and
compares the raw replies (``diff``; ``diff3`` speaks RESP3 to both). Entry IDs
are given explicitly wherever the reply shows them ("*" IDs come from each
server's clock). Replies that carry times (idle, delivery and seen times) are
compared with those numbers masked (:func:`masked`).
"""

import random
import re
import socket
import time

import pytest

from keyspace_helpers import config_set, events  # noqa: F401 (fixture)
from support import RawConn


# ---------------------------------------------------------------------- helpers
def parse(raw):
    """Parse one RESP2/RESP3 reply (bytes) into Python values (maps as lists of pairs)."""
    pos = 0

    def one():
        nonlocal pos
        end = raw.index(b"\r\n", pos)
        t, body = raw[pos : pos + 1], raw[pos + 1 : end]
        pos = end + 2
        if t in b"$=":
            n = int(body)
            if n < 0:
                return None
            v = raw[pos : pos + n]
            pos += n + 2
            return v
        if t in b"*~>":
            n = int(body)
            return None if n < 0 else [one() for _ in range(n)]
        if t == b"%":
            return [("map", one(), one()) for _ in range(int(body))]
        if t == b":":
            return int(body)
        if t == b"_":
            return None
        return (t.decode(), body)

    return one()


def masked(d, *args, mask=()):
    """Send to both, compare replies with the integers that follow keys in ``mask`` zeroed.

    ``mask`` names map keys (b"idle", b"seen-time") or, as ints, positions in
    4-element arrays (XPENDING's elapsed time) to blank out before comparing.
    """
    a = d.ref.call(*args)
    b = d.our.call(*args)

    def scrub(raw):
        v = parse(raw)
        return _scrub(v, mask)

    assert scrub(b) == scrub(a), "reply to %r differs:\n redis:     %r\n vermilion: %r" % (
        args,
        a,
        b,
    )
    # same shape at the byte level too, modulo the digits of masked numbers
    assert re.sub(rb":\d+", b":N", b).count(b":N") == re.sub(rb":\d+", b":N", a).count(b":N")
    return a


def _scrub(v, mask):
    if isinstance(v, list):
        out = []
        flat_map = all(isinstance(x, tuple) and x[0] == "map" for x in v) and v
        if flat_map:
            return [(k, "*" if k in mask else _scrub(x, mask)) for _, k, x in v]
        i = 0
        while i < len(v):
            x = v[i]
            if isinstance(x, bytes) and x in mask and i + 1 < len(v):
                out.append(x)
                out.append("*")
                i += 2
                continue
            out.append(_scrub(x, mask))
            i += 1
        if len(v) in (3, 4) and any(isinstance(m, int) for m in mask):
            out = ["*" if (j in mask and isinstance(v[j], int)) else out[j] for j in range(len(v))]
        return out
    return v


@pytest.fixture
def nodeconf(shared_vermilion):
    """``nodeconf(d, name, value)``; the stream node limits are restored afterwards."""
    used = []

    def setter(d, name, value):
        used.append(d)
        config_set(d, shared_vermilion, name, value)

    yield setter
    for d in used[:1]:
        config_set(d, shared_vermilion, "stream-node-max-entries", "100")
        config_set(d, shared_vermilion, "stream-node-max-bytes", "4096")


def conn_pair(d):
    """A second raw connection to each server (for blocking tests)."""
    return (
        RawConn("127.0.0.1", d.ref.sock.getpeername()[1]),
        RawConn("127.0.0.1", d.our.sock.getpeername()[1]),
    )


def send_both(pair, *args):
    for c in pair:
        c.send_command(*args)


def read_both(pair, timeout=5):
    out = []
    for c in pair:
        c.sock.settimeout(timeout)
        out.append(c.read_reply())
    assert out[1] == out[0], "blocked reply differs:\n redis:     %r\n vermilion: %r" % tuple(out)
    return out[0]


def nothing_pending(pair, wait=0.2):
    """Neither connection has a reply waiting."""
    time.sleep(wait)
    for c in pair:
        c.sock.settimeout(0.05)
        try:
            data = c.sock.recv(1, socket.MSG_PEEK)
        except (socket.timeout, BlockingIOError):
            data = b""
        assert data == b"", "unexpected reply %r" % data


def fill(d, key, n, start=1, fields=("f", "v"), step=1):
    """XADD n entries with IDs start-1, start+step-1, ... on both servers."""
    for k in range(n):
        d("XADD", key, "%d-1" % (start + k * step), *fields)


# ---------------------------------------------------------------------- XADD
def test_xadd_explicit_ids(diff):
    diff.run("""
        XADD s 1-1 a 1
        XADD s 1-2 a 2 b 3
        XADD s 1-2 a 2
        XADD s 1-1 a 2
        XADD s 0-5 a 2
        XADD s 2 a 1
        XADD s 2-* a 1
        XADD s 2-* a 1
        XADD s 3-* x y
        XADD s 1-* a 1
        XADD s 18446744073709551615-18446744073709551614 a 1
        XADD s 18446744073709551615-* a 1
        XADD s 18446744073709551615-* a 1
        XADD s * a 1
        XADD s 18446744073709551615-18446744073709551615 a 1
        XLEN s
        XRANGE s - +
    """)


def test_xadd_zero_and_star_forms(diff):
    diff.run("""
        XADD s 0-0 a 1
        XADD s 0 a 1
        EXISTS s
        XADD s 0-* a 1
        XADD s 0-* a 1
        XADD s 0-0 a 1
        XRANGE s - +
        XADD t 0-1 a 1
        XADD t 0-1 a 1
        XADD u 5-18446744073709551615 a 1
        XADD u 5-* a 1
        XADD u 6-* a 1
        XRANGE u - +
    """)


def test_xadd_id_parsing(diff):
    for i, idarg in enumerate(
        [
            " 5-1",
            "+5-1",
            "5-+3",
            "5--0",
            "5-",
            "-5",
            "-",
            "+",
            "5-*-1",
            "*-5",
            "5-**",
            "05-01",
            "1.5-1",
            "0x10-1",
            "18446744073709551616",
            "5-18446744073709551616",
            "5- 7",
            "\t9-1",
            "",
            "-1-1",
            "10--18446744073709551615",
            "99-1 ",
            "1" * 128,
            "1" * 127,
            "1" * 20 + "-" + "1" * 20,
            "abc",
            "5-a",
            "1e3-1",
        ]
    ):
        diff("XADD", "k%d" % i, idarg, "f", "v")
    diff.run("""
        XRANGE k0 - +
        XRANGE k1 - +
        XRANGE k3 - +
        XRANGE k11 - +
        XRANGE k16 - +
        XRANGE k17 - +
        XRANGE k20 - +
    """)
    diff("XADD", "nul", b"7-1\x00junk", "f", "v")
    diff("XADD", "nul", b"8\x00-5", "f", "v")
    diff("XRANGE", "nul", "-", "+")


def test_xadd_errors(diff):
    diff.run("""
        XADD s
        XADD s *
        XADD s * a
        XADD s * a b c
        XADD s 1-1 a
        XADD s MAXLEN 5 a
        XADD s MAXLEN 5
        XADD s NOMKSTREAM
        XADD s MAXLEN 5 NOMKSTREAM
        XADD s MAXLEN ~ 5 *
        XADD s MAXLEN -1 * a b
        XADD s MAXLEN x * a b
        XADD s MAXLEN ~ x * a b
        XADD s MAXLEN 5 MINID 1 * a b
        XADD s MINID 1 MAXLEN 5 * a b
        XADD s MINID - * a b
        XADD s MINID + * a b
        XADD s MINID x * a b
        XADD s LIMIT 10 * a b
        XADD s LIMIT 0 * a b
        XADD s MAXLEN 5 LIMIT 10 * a b
        XADD s MAXLEN = 5 LIMIT 10 * a b
        XADD s MAXLEN ~ 5 LIMIT -1 * a b
        XADD s MAXLEN ~ 5 LIMIT x * a b
        XADD s FOO * a b
        XADD s 1-1 a b MAXLEN 5
        EXISTS s
        SET str x
        XADD str 1-1 a b
        XADD str NOMKSTREAM 1-1 a b
        XADD s NOMKSTREAM 1-1 a b
        XADD s NOMKSTREAM MAXLEN 0 1-1 a b
        EXISTS s
    """)


def test_xadd_nomkstream_existing(diff):
    diff.run("""
        XADD s 1-1 a 1
        XADD s NOMKSTREAM 2-1 a 2
        XADD s nomkstream 3-* a 3
        XRANGE s - +
    """)


def test_xadd_maxlen_minid(diff):
    fill(diff, "s", 10)
    diff.run("""
        XADD s MAXLEN 5 11-1 a b
        XLEN s
        XRANGE s - +
        XADD s MAXLEN = 3 12-1 a b
        XRANGE s - +
        XADD s MINID 11 13-1 a b
        XRANGE s - +
        XADD s MINID = 12-1 14-1 a b
        XRANGE s - +
        XADD s MAXLEN 0 15-1 a b
        XLEN s
        XADD s maxlen ~ 0 16-1 a b
        XLEN s
        XINFO STREAM s
    """)


def test_xadd_fields_binary_and_numbers(diff):
    diff("XADD", "s", "1-1", b"f\x00\r\n", b"\x00\xff", "n", "-12345", "big", "9" * 30)
    diff("XADD", "s", "2-1", "", "", "0", "-0", "007", "127")
    diff("XRANGE", "s", "-", "+")
    diff("XADD", "s", "3-1", "x" * 5000, "y" * 70000)
    diff("XRANGE", "s", "3", "3")
    diff("XINFO", "STREAM", "s")


# ---------------------------------------------------------------------- XRANGE
def test_xrange_ranges(diff):
    for ms in range(1, 6):
        for seq in range(3):
            diff("XADD", "s", "%d-%d" % (ms, seq), "f", "%d.%d" % (ms, seq))
    diff.run("""
        XRANGE s - +
        XRANGE s 2 3
        XRANGE s 2-1 3-1
        XRANGE s (2-1 (3-1
        XRANGE s (2 +
        XRANGE s - (3
        XRANGE s (5-2 +
        XRANGE s - (1-0
        XRANGE s 3 2
        XRANGE s + -
        XRANGE s - + COUNT 3
        XRANGE s - + COUNT 0
        XRANGE s - + COUNT -5
        XRANGE s - + count 2 COUNT 4
        XRANGE s 2-1 2-1
        XRANGE s 0 0
        XRANGE s 18446744073709551615 +
        XREVRANGE s + -
        XREVRANGE s 3 2
        XREVRANGE s (3-1 (2-1
        XREVRANGE s + - COUNT 4
        XREVRANGE s - +
        XREVRANGE s 4-1 4-1
        XREVRANGE s + (5-1
        XREVRANGE s + - COUNT 0
        XRANGE missing - +
        XRANGE missing - + COUNT 0
        XREVRANGE missing + -
    """)


def test_xrange_errors(diff):
    diff.run("""
        XADD s 1-1 a b
        XRANGE s
        XRANGE s -
        XRANGE s x +
        XRANGE s - x
        XRANGE s (- +
        XRANGE s - (+
        XRANGE s ( +
        XRANGE s - (
        XRANGE s (18446744073709551615-18446744073709551615 +
        XRANGE s - (0-0
        XRANGE s - (0
        XRANGE s (18446744073709551615 +
        XRANGE s - + COUNT
        XRANGE s - + COUNT x
        XRANGE s - + LIMIT 1
        XRANGE s - + COUNT 1 x
        XREVRANGE s + (18446744073709551615-18446744073709551615
        XREVRANGE s (0-0 -
        XREVRANGE s x -
        XREVRANGE s + x
        SET str x
        XRANGE str - +
        XRANGE str x +
        XRANGE missing x +
        XRANGE str - + COUNT 0
        XREVRANGE str + -
    """)


def test_xrange_across_nodes(diff, nodeconf):
    nodeconf(diff, "stream-node-max-entries", "4")
    fill(diff, "s", 30, step=3)
    diff("XDEL", "s", "4-1", "10-1", "13-1", "16-1", "19-1", "22-1", "61-1")
    diff.run("""
        XRANGE s - +
        XRANGE s 5 50
        XRANGE s 10-1 22-1
        XRANGE s 11 21
        XREVRANGE s + -
        XREVRANGE s 50 5 COUNT 7
        XREVRANGE s 23 9
        XRANGE s - + COUNT 9
        XINFO STREAM s
    """)


# ---------------------------------------------------------------------- XLEN / XDEL
def test_xlen_xdel(diff):
    diff.run("""
        XLEN missing
        XADD s 1-1 a 1
        XADD s 2-1 a 2
        XADD s 3-1 a 3
        XADD s 4-1 a 4
        XLEN s
        XDEL s 2-1
        XDEL s 2-1 3-1 9-9
        XDEL s 2
        XDEL s x
        XDEL s 1-1 x
        XDEL s 1-1 -
        XDEL s +
        XDEL missing x
        XLEN s
        XINFO STREAM s
        XDEL s 1-1
        XINFO STREAM s
        XDEL s 4-1
        XLEN s
        EXISTS s
        XINFO STREAM s
        XADD s 5-1 a 5
        XINFO STREAM s
        SET str x
        XDEL str 1-1
        XLEN str
        XDEL s
    """)


def test_xdel_whole_node_and_refill(diff, nodeconf):
    nodeconf(diff, "stream-node-max-entries", "3")
    fill(diff, "s", 10)
    diff.run("""
        XINFO STREAM s
        XDEL s 4-1 5-1 6-1
        XINFO STREAM s
        XDEL s 10-1
        XINFO STREAM s
        XADD s 11-1 f v
        XINFO STREAM s
        XDEL s 1-1 2-1
        XADD s 12-1 f v
        XADD s 13-1 f v
        XINFO STREAM s
        XRANGE s - +
    """)


# ---------------------------------------------------------------------- XTRIM
def test_xtrim_errors(diff):
    diff.run("""
        XTRIM s
        XTRIM s MAXLEN
        XTRIM s FOO 1
        XTRIM s MAXLEN x
        XTRIM s MAXLEN -1
        XTRIM s MINID x
        XTRIM s MINID -
        XTRIM s MAXLEN 1 MINID 1
        XTRIM s MAXLEN 1 LIMIT 5
        XTRIM s MAXLEN ~ 1 LIMIT -5
        XTRIM s LIMIT 5 MAXLEN ~ 1
        XTRIM s LIMIT 5
        XTRIM s LIMIT 0 MAXLEN 1
        XTRIM s MAXLEN ~ 1 NOMKSTREAM
        XTRIM s MAXLEN ~ 1 extra
        XTRIM s MAXLEN 1
        SET str x
        XTRIM str MAXLEN 1
        XTRIM str MAXLEN x
    """)


def test_xtrim_exact(diff):
    fill(diff, "s", 250)
    diff.run("""
        XTRIM s MAXLEN 300
        XTRIM s MAXLEN 240
        XLEN s
        XTRIM s MAXLEN = 150
        XINFO STREAM s
        XTRIM s MINID 120
        XINFO STREAM s
        XTRIM s MINID = 205-1
        XRANGE s - + COUNT 3
        XTRIM s MINID 10
        XTRIM s MAXLEN 0
        XINFO STREAM s
        EXISTS s
        XADD s 300-1 f v
        XINFO STREAM s
    """)


def test_xtrim_approx_node_boundaries(diff):
    fill(diff, "s", 1000)
    diff.run("""
        XTRIM s MAXLEN ~ 990
        XTRIM s MAXLEN ~ 899
        XTRIM s MAXLEN ~ 900
        XLEN s
        XTRIM s MINID ~ 150
        XTRIM s MINID ~ 201-1
        XTRIM s MINID ~ 202
        XLEN s
        XTRIM s MAXLEN ~ 0 LIMIT 250
        XLEN s
        XTRIM s MAXLEN ~ 0 LIMIT 0
        XLEN s
        XINFO STREAM s
    """)


def test_xtrim_approx_default_limit(diff, nodeconf):
    nodeconf(diff, "stream-node-max-entries", "2")
    fill(diff, "s", 500)
    diff.run("""
        XTRIM s MAXLEN ~ 0
        XLEN s
        XTRIM s MINID ~ 1000
        XLEN s
        XINFO STREAM s
    """)
    nodeconf(diff, "stream-node-max-entries", "0")
    fill(diff, "t", 300)
    diff.run("""
        XINFO STREAM t
        XTRIM t MAXLEN ~ 0
        XTRIM t MAXLEN 10
        XINFO STREAM t
    """)


def test_xtrim_with_tombstones(diff, nodeconf):
    nodeconf(diff, "stream-node-max-entries", "10")
    fill(diff, "s", 40)
    diff("XDEL", "s", *["%d-1" % i for i in (1, 2, 3, 12, 13, 19, 20)])
    diff.run("""
        XINFO STREAM s
        XTRIM s MAXLEN ~ 30
        XTRIM s MAXLEN ~ 25
        XINFO STREAM s
        XTRIM s MINID 19
        XINFO STREAM s
        XTRIM s MINID ~ 21
        XINFO STREAM s
        XADD s 41-1 f v
        XADD s 42-1 f v
        XINFO STREAM s
    """)


def test_xtrim_minid_leaves_node_of_tombstones(diff, nodeconf):
    nodeconf(diff, "stream-node-max-entries", "5")
    fill(diff, "s", 12)
    diff.run("""
        XDEL s 9-1 10-1
        XTRIM s MINID 9
        XINFO STREAM s
        XRANGE s - +
        XTRIM s MAXLEN 1
        XINFO STREAM s
        XTRIM s MINID ~ 13
        XINFO STREAM s
    """)


def test_node_max_bytes_boundaries(diff, nodeconf):
    # entries of varied sizes: the node boundaries follow the listpack byte size
    rnd = random.Random(7)
    for i in range(1, 400):
        nf = rnd.choice((1, 1, 2, 3))
        fields = []
        for k in range(nf):
            fields.append(rnd.choice(["f", "field%d" % k, "x" * rnd.randint(0, 200)]))
            fields.append(
                rnd.choice(
                    [
                        "%d" % rnd.randint(-70000, 70000),
                        "%d" % rnd.randint(-(2**40), 2**40),
                        "v" * rnd.randint(0, 300),
                        "12345678901234567890",
                    ]
                )
            )
        diff("XADD", "s", "%d-%d" % (i * 1000, rnd.randint(0, 5)), *fields)
    diff("XINFO", "STREAM", "s")
    for n in (390, 350, 301, 200, 150, 10):
        diff("XTRIM", "s", "MAXLEN", "~", str(n))
        diff("XINFO", "STREAM", "s")
    nodeconf(diff, "stream-node-max-bytes", "200")
    for i in range(1, 100):
        diff("XADD", "t", "%d-1" % i, "f", "v" * (i % 30))
    diff("XINFO", "STREAM", "t")
    nodeconf(diff, "stream-node-max-bytes", "0")
    nodeconf(diff, "stream-node-max-entries", "7")
    for i in range(1, 50):
        diff("XADD", "u", "%d-1" % i, "f", "v" * 1000)
    diff("XINFO", "STREAM", "u")


def test_node_max_bytes_one_field(diff, nodeconf):
    # XADD's usual entry (one field, the master's): its size is summed on a short
    # path of its own (Stream.append); many limits, so that a byte too many or too
    # few moves some node boundary
    rnd = random.Random(5)
    for limit in (97, 128, 150, 199, 256, 333):
        nodeconf(diff, "stream-node-max-bytes", str(limit))
        key = "s%d" % limit
        ms = 1
        for _ in range(120):
            ms += rnd.choice((0, 0, 1, 2, 127, 128, 5000))
            value = rnd.choice(
                ["", "v" * rnd.randint(1, 70), "v" * 64, "%d" % rnd.randint(-5000, 5000)]
            )
            diff(
                "XADD",
                key,
                "%d-%d" % (ms, rnd.randint(0, 200)) if ms % 3 else "%d-*" % ms,
                "f",
                value,
            )
        diff("XINFO", "STREAM", key)
        diff("XTRIM", key, "MAXLEN", "~", "60")
        diff("XINFO", "STREAM", key)
    # the last short string and the first long one, at every limit over a range:
    # one byte too many or too few per entry moves a boundary at some limit
    for limit in range(150, 230):
        nodeconf(diff, "stream-node-max-bytes", str(limit))
        for k in (63, 64):
            key = "t%d-%d" % (limit, k)
            for i in range(1, 5):
                diff("XADD", key, "%d-0" % i, "f", "v" * k)
            diff("XINFO", "STREAM", key)


def test_radix_tree_nodes_random(diff, nodeconf):
    """radix-tree-nodes counts the nodes of Redis's rax of node keys."""
    nodeconf(diff, "stream-node-max-entries", "1")
    rnd = random.Random(11)
    ms = 0
    for _ in range(300):
        ms += rnd.choice((1, 1, 2, 255, 256, 257, 65536, 1 << 24, 1 << 33))
        diff("XADD", "s", "%d-%d" % (ms, rnd.choice((0, 1, 255, 256, 70000))), "f", "v")
    diff("XINFO", "STREAM", "s")
    entries = parse(diff("XRANGE", "s", "-", "+"))
    ids = [e[0] for e in entries]
    rnd.shuffle(ids)
    for k in range(0, 200, 7):
        diff("XDEL", "s", *ids[k : k + 7])
        diff("XINFO", "STREAM", "s")
    diff("XTRIM", "s", "MAXLEN", "50")
    diff("XINFO", "STREAM", "s")


# ---------------------------------------------------------------------- XINFO
def test_xinfo_stream_basic(diff):
    diff.run("""
        XINFO STREAM missing
        XINFO
        XINFO FOO
        XINFO STREAM
        XINFO HELP
        XINFO help extra
        XADD s 1-1 a 1
        XINFO STREAM s
        XINFO STREAM s FULL
        XINFO STREAM s FULL COUNT 0
        XINFO STREAM s FULL COUNT -3
        XINFO STREAM s FULL COUNT x
        XINFO STREAM s FOO
        XINFO STREAM s FULL COUNT
        XINFO STREAM s FULL FOO 1
        XINFO STREAM s FULL COUNT 1 2
        XINFO STREAM missing FOO
        XINFO GROUPS s
        XINFO GROUPS missing
        XINFO GROUPS s extra
        XINFO CONSUMERS s g
        XINFO CONSUMERS missing g
        XINFO CONSUMERS s
        SET str x
        XINFO STREAM str
        XINFO GROUPS str
        XINFO CONSUMERS str g
        XGROUP CREATE s g $
        XINFO STREAM s
        XINFO GROUPS s
        XINFO STREAM s FULL
        XINFO CONSUMERS s g
    """)


def test_xinfo_resp3(diff3):
    diff3.run("""
        XADD s 1-1 a 1 b 2
        XADD s 2-1 a 3
        XINFO STREAM s
        XINFO STREAM s FULL
        XGROUP CREATE s g 0
        XGROUP CREATE s h $
        XINFO GROUPS s
        XINFO STREAM s FULL
        XADD e 1-1 a 1
        XDEL e 1-1
        XINFO STREAM e
    """)


def test_xinfo_full_count(diff, shared_vermilion):
    fill(diff, "s", 30)
    diff.run("""
        XINFO STREAM s FULL COUNT 5
        XINFO STREAM s FULL COUNT 0
        XGROUP CREATE s g 0
        XGROUP CREATE s a 0
        XGROUP CREATE s zz $
    """)
    masked(diff, "XREADGROUP", "GROUP", "g", "c1", "COUNT", "12", "STREAMS", "s", ">")
    masked(diff, "XREADGROUP", "GROUP", "g", "c2", "COUNT", "12", "STREAMS", "s", ">")
    masked(diff, "XREADGROUP", "GROUP", "a", "c0", "STREAMS", "s", ">")
    full = masked(diff, "XINFO", "STREAM", "s", "FULL", "COUNT", "3", mask=(b"seen-time", 2, 1))
    assert b"pel-count" in full
    masked(diff, "XINFO", "STREAM", "s", "FULL", mask=(b"seen-time", 2, 1))
    masked(diff, "XINFO", "STREAM", "s", "FULL", "COUNT", "0", mask=(b"seen-time", 2, 1))
    masked(diff, "XINFO", "CONSUMERS", "s", "g", mask=(b"idle",))
    diff("XINFO", "GROUPS", "s")


# ---------------------------------------------------------------------- XGROUP
def test_xgroup_create_and_errors(diff):
    diff.run("""
        XGROUP CREATE s g $
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g $ MKSTREAM
        XGROUP CREATE s g2 0 MKSTREAM
        XGROUP CREATE s g3 1-1
        XGROUP CREATE s g4 -
        XGROUP CREATE s g4 +
        XGROUP CREATE s g4 x
        XGROUP CREATE s g5 5 ENTRIESREAD 3
        XGROUP CREATE s g6 5 ENTRIESREAD -1
        XGROUP CREATE s g7 5 ENTRIESREAD -2
        XGROUP CREATE s g7 5 ENTRIESREAD x
        XGROUP CREATE s g7 5 ENTRIESREAD
        XGROUP CREATE s g7 5 FOO
        XGROUP CREATE s g7 5 MKSTREAM ENTRIESREAD 4 MKSTREAM
        XGROUP CREATE s g8 5 MKSTREAM MKSTREAM MKSTREAM MKSTREAM
        XGROUP CREATE m g8 5 MKSTREAM MKSTREAM MKSTREAM MKSTREAM
        XGROUP CREATE s
        XGROUP CREATE s g
        XGROUP CREATE missing g $
        XGROUP CREATE missing g x
        XGROUP CREATE missing g x MKSTREAM
        EXISTS missing
        XGROUP CREATE missing g $ ENTRIESREAD 7 MKSTREAM
        XINFO GROUPS missing
        SET str x
        XGROUP CREATE str g $
        XGROUP CREATE str g $ MKSTREAM
        XGROUP CREATE str g $ FOO
        XGROUP FOO s g
        XGROUP
        XGROUP HELP
        XGROUP help
        XGROUP HELP x
        XINFO GROUPS s
        XINFO STREAM s
    """)


def test_xgroup_setid_destroy_consumers(diff):
    diff.run("""
        XADD s 1-1 a 1
        XADD s 2-1 a 2
        XADD s 3-1 a 3
        XGROUP CREATE s g 0
        XGROUP SETID s g 2-1
        XINFO GROUPS s
        XGROUP SETID s g $
        XINFO GROUPS s
        XGROUP SETID s g 0 ENTRIESREAD 0
        XINFO GROUPS s
        XGROUP SETID s g - ENTRIESREAD 1
        XGROUP SETID s g + ENTRIESREAD 5
        XINFO GROUPS s
        XGROUP SETID s g x
        XGROUP SETID s g 1 ENTRIESREAD -3
        XGROUP SETID s g 1 ENTRIESREAD
        XGROUP SETID s g 1 MKSTREAM
        XGROUP SETID s g 1 ENTRIESREAD 1 ENTRIESREAD 2
        XGROUP SETID s nogroup 1
        XGROUP SETID missing g 1
        XGROUP SETID s
        XGROUP CREATECONSUMER s g alice
        XGROUP CREATECONSUMER s g alice
        XGROUP CREATECONSUMER s g bob
        XGROUP CREATECONSUMER s nogroup bob
        XGROUP CREATECONSUMER missing g bob
        XGROUP CREATECONSUMER s g
        XGROUP CREATECONSUMER s g a b
        XGROUP DELCONSUMER s g bob
        XGROUP DELCONSUMER s g bob
        XGROUP DELCONSUMER s nogroup bob
        XGROUP DELCONSUMER missing g bob
        XINFO GROUPS s
        XGROUP DESTROY s g
        XGROUP DESTROY s g
        XGROUP DESTROY missing g
        XGROUP DESTROY s g extra
        XINFO GROUPS s
        SET str x
        XGROUP SETID str g 1
        XGROUP DESTROY str g
        XGROUP CREATECONSUMER str g c
    """)


def test_xgroup_delconsumer_pending(diff):
    fill(diff, "s", 5)
    diff("XGROUP", "CREATE", "s", "g", "0")
    masked(diff, "XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">")
    masked(diff, "XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">")
    diff.run("""
        XPENDING s g
        XGROUP DELCONSUMER s g bob
        XPENDING s g
        XINFO GROUPS s
        XGROUP DELCONSUMER s g alice
        XPENDING s g
    """)


# ---------------------------------------------------------------------- XREAD
def test_xread_basic(diff):
    diff.run("""
        XREAD STREAMS s 0
        XADD s 1-1 a 1
        XADD s 2-1 a 2
        XADD t 5-5 b 1
        XREAD STREAMS s 0
        XREAD STREAMS s 1-1
        XREAD STREAMS s 2-1
        XREAD STREAMS s $
        XREAD COUNT 1 STREAMS s t 0 0
        XREAD COUNT 0 STREAMS s t 0 0
        XREAD COUNT -1 STREAMS s t 0 0
        XREAD STREAMS s missing t 0 0 5-4
        XREAD STREAMS missing 0
        XREAD STREAMS s s 0 1-1
        XREAD STREAMS t 5
        XREAD STREAMS t 5-4
        XREAD streams t 18446744073709551615-18446744073709551615
        XREAD STREAMS t -
        XREAD STREAMS t +
        XREAD STREAMS t x
        XREAD STREAMS t >
        XREAD STREAMS t
        XREAD STREAMS s t 0
        XREAD COUNT x STREAMS s 0
        XREAD COUNT STREAMS s 0
        XREAD FOO STREAMS s 0
        XREAD GROUP g c STREAMS s 0
        XREAD NOACK STREAMS s 0
        XREAD COUNT 1
        XREAD BLOCK x STREAMS s 0
        XREAD BLOCK -1 STREAMS s 0
        XREAD BLOCK 0 STREAMS s 0
        XREAD BLOCK 10 STREAMS s $
        SET str x
        XREAD STREAMS str 0
        XREAD STREAMS s str 0 0
        XREAD STREAMS s str 0 x
    """)


def test_xread_resp3(diff3):
    diff3.run("""
        XREAD STREAMS s 0
        XADD s 1-1 a 1
        XADD t 2-1 b 2
        XREAD STREAMS s t 0 0
        XREAD COUNT 1 STREAMS s t $ 0
        XREAD BLOCK 10 STREAMS s $
        XGROUP CREATE s g 0
        XREADGROUP GROUP g c NOACK STREAMS s >
        XREADGROUP GROUP g c STREAMS s >
        XREADGROUP GROUP g c STREAMS s 0
    """)


def test_xread_deleted_entries_and_last_valid(diff):
    diff.run("""
        XADD s 1-1 a 1
        XADD s 2-1 a 2
        XDEL s 2-1
        XREAD STREAMS s 1-1
        XREAD STREAMS s 0
        XSETID s 5-5
        XREAD STREAMS s 1-1
        XREAD STREAMS s $
    """)


# ---------------------------------------------------------------------- XREADGROUP
def test_xreadgroup_errors(diff):
    diff.run("""
        XADD s 1-1 a 1
        XGROUP CREATE s g 0
        XREADGROUP STREAMS s >
        XREADGROUP GROUP g STREAMS s >
        XREADGROUP GROUP g c STREAMS s $
        XREADGROUP GROUP g c STREAMS s x
        XREADGROUP GROUP g c STREAMS s -
        XREADGROUP GROUP nog c STREAMS s >
        XREADGROUP GROUP g c STREAMS missing >
        XREADGROUP GROUP g c STREAMS s missing > >
        XREADGROUP GROUP g c STREAMS s
        XREADGROUP GROUP g c COUNT x STREAMS s >
        XREADGROUP GROUP g c FOO STREAMS s >
        XREADGROUP GROUP g c BLOCK x STREAMS s >
        SET str x
        XREADGROUP GROUP g c STREAMS str >
        XREADGROUP GROUP g c STREAMS s str > >
        XINFO GROUPS s
    """)


def test_xreadgroup_flow(diff):
    fill(diff, "s", 6)
    diff("XGROUP", "CREATE", "s", "g", "0")
    masked(diff, "XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">")
    masked(diff, "XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", ">")
    diff.run("""
        XINFO GROUPS s
        XPENDING s g
    """)
    for args in (
        ["alice", "STREAMS", "s", "0"],
        ["alice", "COUNT", "1", "STREAMS", "s", "0"],
        ["alice", "STREAMS", "s", "1-1"],
        ["alice", "STREAMS", "s", "18446744073709551615-18446744073709551614"],
        ["bob", "STREAMS", "s", "0-0"],
        ["carol", "STREAMS", "s", "0"],
    ):
        diff("XREADGROUP", "GROUP", "g", *args)
    diff("XACK", "s", "g", "1-1")
    diff("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0")
    diff("XDEL", "s", "2-1")
    diff("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0")
    diff("XREADGROUP", "GROUP", "g", "alice", "NOACK", "COUNT", "1", "STREAMS", "s", ">")
    diff("XPENDING", "s", "g")
    diff("XINFO", "GROUPS", "s")
    diff("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    diff("XADD", "s", "7-1", "f", "v")
    diff("XREADGROUP", "GROUP", "g", "dave", "COUNT", "5", "STREAMS", "s", ">")
    diff("XREADGROUP", "GROUP", "g", "dave", "STREAMS", "s", ">")
    diff("XPENDING", "s", "g")
    diff("XINFO", "GROUPS", "s")
    masked(diff, "XINFO", "CONSUMERS", "s", "g", mask=(b"idle",))
    masked(diff, "XPENDING", "s", "g", "-", "+", "100", mask=(2,))


def test_xreadgroup_setid_backwards_reassigns(diff):
    fill(diff, "s", 4)
    diff.run("""
        XGROUP CREATE s g 0
        XREADGROUP GROUP g alice STREAMS s >
        XGROUP SETID s g 2-1
        XREADGROUP GROUP g bob STREAMS s >
        XPENDING s g
        XREADGROUP GROUP g alice STREAMS s 0
        XREADGROUP GROUP g bob STREAMS s 0
        XINFO GROUPS s
        XGROUP SETID s g 0 ENTRIESREAD 0
        XREADGROUP GROUP g bob COUNT 1 STREAMS s >
        XINFO GROUPS s
    """)


def test_xreadgroup_multiple_streams(diff):
    diff.run("""
        XADD a 1-1 f 1
        XADD b 2-1 f 2
        XADD c 3-1 f 3
        XGROUP CREATE a g 0
        XGROUP CREATE b g $
        XGROUP CREATE c g 0
        XREADGROUP GROUP g x STREAMS a b c > > >
        XREADGROUP GROUP g x STREAMS a b c > > >
        XREADGROUP GROUP g x STREAMS a b c 0 0 0
        XREADGROUP GROUP g x STREAMS a b c > 0 >
        XADD b 3-1 f 4
        XREADGROUP GROUP g y COUNT 5 STREAMS a b c > > >
    """)


def test_lag_and_entries_read(diff):
    fill(diff, "s", 10)
    diff.run("""
        XGROUP CREATE s g 0
        XGROUP CREATE s h $
        XGROUP CREATE s i 5-1
        XGROUP CREATE s j 0 ENTRIESREAD 3
        XINFO GROUPS s
        XREADGROUP GROUP g c COUNT 3 STREAMS s >
        XREADGROUP GROUP i c COUNT 3 STREAMS s >
        XINFO GROUPS s
        XDEL s 5-1
        XINFO GROUPS s
        XREADGROUP GROUP g c COUNT 3 STREAMS s >
        XINFO GROUPS s
        XDEL s 1-1
        XINFO GROUPS s
        XREADGROUP GROUP g c STREAMS s >
        XINFO GROUPS s
        XTRIM s MAXLEN 2
        XINFO GROUPS s
        XGROUP SETID s j 0
        XINFO GROUPS s
        XADD s 11-1 f v
        XINFO GROUPS s
        XREADGROUP GROUP j c STREAMS s >
        XINFO GROUPS s
        XGROUP SETID s i 10-1
        XINFO GROUPS s
        XGROUP SETID s h 99
        XINFO GROUPS s
        XSETID s 20 ENTRIESADDED 50 MAXDELETEDID 15
        XINFO GROUPS s
        XINFO STREAM s
    """)


def test_lag_empty_stream(diff):
    diff.run("""
        XGROUP CREATE s g $ MKSTREAM
        XINFO GROUPS s
        XADD s 1-1 a 1
        XDEL s 1-1
        XINFO GROUPS s
        XGROUP CREATE s h 0
        XINFO GROUPS s
        XGROUP CREATE s i 0 ENTRIESREAD 0
        XINFO GROUPS s
    """)


# ---------------------------------------------------------------------- XACK / XPENDING
def test_xack_xpending(diff):
    fill(diff, "s", 8)
    diff("XGROUP", "CREATE", "s", "g", "0")
    for cons, n in (("bob", 3), ("alice", 2), ("carol", 2)):
        diff("XREADGROUP", "GROUP", "g", cons, "COUNT", str(n), "STREAMS", "s", ">")
    diff.run("""
        XPENDING s g
        XACK s g 1-1 1-1 7-1 99-1
        XACK s g 2-1 x
        XACK s g x
        XACK s nog x
        XACK missing g x
        XACK s g 2
        XPENDING s g
        XPENDING missing g
        XPENDING s nog
        XPENDING s g - +
        XPENDING s g - + 10 bob extra extra extra
        XPENDING s g - + x
        XPENDING s g x + 10
        XPENDING s g - x 10
        XPENDING s g (- + 10
        XPENDING s g (18446744073709551615-18446744073709551615 + 10
        XPENDING s g - (0-0 10
        XPENDING s g IDLE x - + 10
        XPENDING s g IDLE 10 - +
        XPENDING s g IDLE 10 - + x
        XPENDING s g - + 0
        XPENDING s g - + -5
        XPENDING s g - + 10 nobody
        XPENDING s g 5 3 10
        XPENDING s g IDLE 100000000 - + 10
        XPENDING s g IDLE 100000000 - + 10 bob
        SET str x
        XPENDING str g
        XPENDING str g - + 10
        XPENDING missing g - + x
    """)
    for args in (
        ("-", "+", "10"),
        ("(3-1", "+", "2"),
        ("-", "(5-1", "10"),
        ("3", "5", "10", "bob"),
        ("-", "+", "10", "carol"),
        ("IDLE", "0", "-", "+", "3"),
        ("IDLE", "-5", "-", "+", "3", "alice"),
    ):
        masked(diff, "XPENDING", "s", "g", *args, mask=(2,))
    diff("XACK", "s", "g", *["%d-1" % i for i in range(1, 9)])
    diff("XPENDING", "s", "g")
    diff("XINFO", "GROUPS", "s")


# ---------------------------------------------------------------------- XCLAIM / XAUTOCLAIM
def test_xclaim(diff):
    fill(diff, "s", 6)
    diff("XGROUP", "CREATE", "s", "g", "0")
    diff("XREADGROUP", "GROUP", "g", "alice", "COUNT", "4", "STREAMS", "s", ">")
    diff.run("""
        XCLAIM s g bob 0 1-1
        XCLAIM s g bob 0 1-1 2-1 JUSTID
        XCLAIM s g bob 100000000 3-1
        XCLAIM s g bob 0 5-1
        XCLAIM s g bob 0 5-1 FORCE JUSTID
        XCLAIM s g bob 0 6-1 FORCE
        XCLAIM s g bob 0 9-1 FORCE
        XPENDING s g
        XCLAIM s g carol 0 3-1 RETRYCOUNT 7 JUSTID
        XCLAIM s g carol 0 3-1 IDLE x
        XCLAIM s g carol 0 3-1 TIME x
        XCLAIM s g carol 0 3-1 RETRYCOUNT x
        XCLAIM s g carol 0 3-1 LASTID x
        XCLAIM s g carol 0 3-1 FOO
        XCLAIM s g carol 0 3-1 IDLE
        XCLAIM s g carol 0 3-1 JUSTID FORCE RETRYCOUNT
        XCLAIM s g carol x 3-1
        XCLAIM s g carol -5 3-1 JUSTID
        XCLAIM s g carol 0 x
        XCLAIM s g carol 0 x 3-1
        XCLAIM s nog carol 0 3-1
        XCLAIM missing g carol 0 3-1
        XCLAIM s g carol 0 3-1 3-1 JUSTID
        XCLAIM s g carol 0 3-1 LASTID 10-1 JUSTID
        XINFO GROUPS s
        XCLAIM s g carol 0 77-1 LASTID 20-1
        XINFO GROUPS s
        XCLAIM s g carol 0 3-1 TIME 99999999999999 JUSTID
        XCLAIM s g carol 0 3-1 TIME -5 JUSTID
        XCLAIM s g carol 0 3-1 IDLE -5 JUSTID
        SET str x
        XCLAIM str g carol 0 3-1
        XCLAIM str g carol x 3-1
        XPENDING s g
    """)
    masked(diff, "XPENDING", "s", "g", "-", "+", "10", mask=(2,))
    diff("XDEL", "s", "1-1", "3-1")
    diff("XCLAIM", "s", "g", "dave", "0", "1-1", "2-1", "3-1")
    diff("XPENDING", "s", "g")
    masked(diff, "XINFO", "CONSUMERS", "s", "g", mask=(b"idle",))


def test_xclaim_idle_retrycount(diff):
    fill(diff, "s", 3)
    diff("XGROUP", "CREATE", "s", "g", "0")
    diff("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    diff("XCLAIM", "s", "g", "bob", "0", "1-1", "IDLE", "500000", "RETRYCOUNT", "9")
    diff("XCLAIM", "s", "g", "bob", "0", "2-1", "TIME", "1", "JUSTID")
    diff("XCLAIM", "s", "g", "carol", "400000", "1-1", "2-1", "3-1", "JUSTID")
    diff("XPENDING", "s", "g", "IDLE", "400000", "-", "+", "10")
    masked(diff, "XPENDING", "s", "g", "-", "+", "10", mask=(2,))


def test_xautoclaim(diff):
    fill(diff, "s", 10)
    diff("XGROUP", "CREATE", "s", "g", "0")
    diff("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    diff.run("""
        XAUTOCLAIM s g bob 0 0 COUNT 3
        XAUTOCLAIM s g bob 0 4-1 COUNT 2 JUSTID
        XAUTOCLAIM s g bob 0 (4-1 COUNT 2 JUSTID
        XAUTOCLAIM s g bob 100000000 0
        XAUTOCLAIM s g bob 0 9-1
        XAUTOCLAIM s g bob 0 99
        XDEL s 2-1 3-1 6-1
        XAUTOCLAIM s g carol 0 - COUNT 2
        XAUTOCLAIM s g carol 0 - COUNT 4
        XPENDING s g
        XAUTOCLAIM s g carol 0 - JUSTID
        XAUTOCLAIM s g carol x 0
        XAUTOCLAIM s g carol 0 x
        XAUTOCLAIM s g carol 0 (+
        XAUTOCLAIM s g carol 0 (18446744073709551615-18446744073709551615
        XAUTOCLAIM s g carol 0 0 COUNT 0
        XAUTOCLAIM s g carol 0 0 COUNT -1
        XAUTOCLAIM s g carol 0 0 COUNT x
        XAUTOCLAIM s g carol 0 0 COUNT 922337203685477580
        XAUTOCLAIM s g carol 0 0 COUNT 922337203685477581
        XAUTOCLAIM s g carol 0 0 COUNT
        XAUTOCLAIM s g carol 0 0 FOO
        XAUTOCLAIM s nog carol 0 0
        XAUTOCLAIM missing g carol 0 0
        XAUTOCLAIM missing g carol 0 0 FOO
        SET str x
        XAUTOCLAIM str g carol 0 0
        XAUTOCLAIM s g carol -10 0 COUNT 1
    """)
    masked(diff, "XINFO", "CONSUMERS", "s", "g", mask=(b"idle",))


def test_xautoclaim_attempts(diff):
    # COUNT 1 -> 10 attempts: the cursor stops after 10 PEL entries too recent to claim
    fill(diff, "s", 30)
    diff("XGROUP", "CREATE", "s", "g", "0")
    diff("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    diff("XAUTOCLAIM", "s", "g", "bob", "100000000", "0", "COUNT", "1")
    diff("XAUTOCLAIM", "s", "g", "bob", "100000000", "5-1", "COUNT", "2")
    diff("XDEL", "s", *["%d-1" % i for i in range(1, 30, 2)])
    diff("XAUTOCLAIM", "s", "g", "bob", "100000000", "0", "COUNT", "3")
    diff("XAUTOCLAIM", "s", "g", "bob", "0", "0", "COUNT", "3")


# ---------------------------------------------------------------------- XSETID
def test_xsetid(diff):
    diff.run("""
        XSETID missing 1-1
        XADD s 5-5 a 1
        XSETID s 5-4
        XSETID s 5-5
        XSETID s 7
        XINFO STREAM s
        XADD s 7-0 a 1
        XADD s 7-* a 1
        XSETID s x
        XSETID s -
        XSETID s 8 ENTRIESADDED -1
        XSETID s 8 ENTRIESADDED x
        XSETID s 8 ENTRIESADDED 1
        XSETID s 8 ENTRIESADDED 2
        XSETID s 8 MAXDELETEDID 9
        XSETID s 8 MAXDELETEDID x
        XSETID s 8 MAXDELETEDID 8
        XSETID s 8 FOO 1
        XSETID s 8 ENTRIESADDED
        XINFO STREAM s
        XSETID s 9 ENTRIESADDED 100 MAXDELETEDID 3-3
        XINFO STREAM s
        XDEL s 5-5 7-1
        XSETID s 1 ENTRIESADDED 0
        XINFO STREAM s
        XSETID s 0-0
        XINFO STREAM s
        SET str x
        XSETID str 1
        XSETID str x
    """)


# ---------------------------------------------------------------------- events, encoding
def test_type_and_encoding(diff):
    diff.run("""
        XADD s 1-1 a 1
        TYPE s
        OBJECT ENCODING s
        XDEL s 1-1
        TYPE s
        OBJECT ENCODING s
        COPY s t
        XINFO STREAM t
        RENAME s u
        XLEN u
        DEL t
        SCAN 0 TYPE stream
        SCAN 0 TYPE string
    """)


def test_copy_is_deep(diff):
    fill(diff, "s", 5)
    diff("XGROUP", "CREATE", "s", "g", "0")
    diff("XREADGROUP", "GROUP", "g", "c", "COUNT", "3", "STREAMS", "s", ">")
    diff("COPY", "s", "t")
    diff("XACK", "t", "g", "1-1")
    diff("XDEL", "t", "5-1")
    diff("XADD", "t", "9-1", "f", "v")
    diff("XPENDING", "s", "g")
    diff("XPENDING", "t", "g")
    diff("XINFO", "STREAM", "s")
    diff("XINFO", "STREAM", "t")
    diff("XINFO", "GROUPS", "t")


def test_keyspace_events(diff, events):
    diff.run("""
        XADD s 1-1 a 1
        XADD s 2-1 a 1
        XADD s MAXLEN 1 3-1 a 1
        XADD s MAXLEN 5 4-1 a 1
        XTRIM s MAXLEN 1
        XTRIM s MAXLEN 1
        XDEL s 4-1
        XDEL s 4-1
        XGROUP CREATE s g $
        XGROUP CREATE s g $
        XGROUP CREATE new g $ MKSTREAM
        XGROUP CREATECONSUMER s g c
        XGROUP CREATECONSUMER s g c
        XGROUP SETID s g 0
        XADD s 5-1 a 1
        XREADGROUP GROUP g c2 STREAMS s >
        XREADGROUP GROUP g c3 STREAMS s 0
        XCLAIM s g c4 0 5-1 JUSTID
        XAUTOCLAIM s g c5 0 0 JUSTID
        XGROUP DELCONSUMER s g c
        XGROUP DELCONSUMER s g nobody
        XGROUP DESTROY s g
        XGROUP DESTROY s g
        XSETID s 10-1
        XADD s NOMKSTREAM 11-1 a 1
        XADD nope NOMKSTREAM 11-1 a 1
        DEL s
    """)
    got = [m[3] for m in events.collect()]
    for name in (
        b"xadd",
        b"xtrim",
        b"xdel",
        b"xgroup-create",
        b"xgroup-createconsumer",
        b"xgroup-setid",
        b"xgroup-delconsumer",
        b"xgroup-destroy",
        b"xsetid",
        b"del",
    ):
        assert name in got


# ---------------------------------------------------------------------- transactions
def test_multi_exec(diff):
    diff.run("""
        MULTI
        XADD s 1-1 a 1
        XREAD BLOCK 0 STREAMS s $
        XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        XRANGE s - +
        EXEC
        XGROUP CREATE s g $
        MULTI
        XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        XADD s 2-1 a 1
        XREADGROUP GROUP g c BLOCK 0 STREAMS s >
        EXEC
    """)


def test_watch_xadd_xsetid(diff):
    d2 = conn_pair(diff)
    try:
        diff("XADD", "s", "1-1", "a", "1")
        diff("WATCH", "s")
        send_both(d2, "XSETID", "s", "5-5")
        read_both(d2)
        diff("MULTI")
        diff("XLEN", "s")
        diff("EXEC")
        diff("WATCH", "s")
        send_both(d2, "XADD", "s", "6-1", "a", "1")
        read_both(d2)
        diff("MULTI")
        diff("XLEN", "s")
        diff("EXEC")
        diff("WATCH", "s")
        send_both(d2, "XGROUP", "CREATE", "s", "g", "0")
        read_both(d2)
        diff("MULTI")
        diff("XLEN", "s")
        diff("EXEC")
    finally:
        for c in d2:
            c.close()


# ---------------------------------------------------------------------- blocking
def test_xread_block_served_by_xadd(diff):
    blocked = conn_pair(diff)
    try:
        diff("XADD", "s", "1-1", "a", "1")
        send_both(blocked, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        nothing_pending(blocked)
        diff("XADD", "s", "2-1", "a", "2")
        read_both(blocked)
        send_both(blocked, "XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "missing", "s", "$", "$")
        nothing_pending(blocked)
        diff("XADD", "missing", "1-5", "x", "y")
        read_both(blocked)
        # an explicit old ID is served at once
        send_both(blocked, "XREAD", "BLOCK", "0", "STREAMS", "s", "0")
        read_both(blocked)
        send_both(blocked, "XREAD", "BLOCK", "0", "STREAMS", "s", "5-0")
        nothing_pending(blocked)
        diff("XADD", "s", "3-1", "a", "3")
        nothing_pending(blocked)
        diff("XADD", "s", "6-1", "a", "6")
        read_both(blocked)
    finally:
        for c in blocked:
            c.close()


def test_xread_block_timeout_and_resp3(diff):
    blocked = conn_pair(diff)
    try:
        send_both(blocked, "XREAD", "BLOCK", "100", "STREAMS", "s", "$")
        read_both(blocked)
        for c in blocked:
            c.call("HELLO", "3")
        send_both(blocked, "XREAD", "BLOCK", "100", "STREAMS", "s", "$")
        read_both(blocked)
        send_both(blocked, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        nothing_pending(blocked)
        diff("XADD", "s", "1-1", "a", "1")
        read_both(blocked)
    finally:
        for c in blocked:
            c.close()


def test_xread_block_key_deleted_and_recreated(diff):
    blocked = conn_pair(diff)
    try:
        diff("XADD", "s", "5-1", "a", "1")
        send_both(blocked, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        nothing_pending(blocked)
        diff("DEL", "s")
        nothing_pending(blocked)
        diff("SET", "s", "x")
        nothing_pending(blocked)
        diff("DEL", "s")
        diff("XADD", "s", "3-1", "a", "1")
        nothing_pending(blocked)
        diff("XADD", "s", "6-1", "a", "1")
        read_both(blocked)
    finally:
        for c in blocked:
            c.close()


def test_xreadgroup_block(diff):
    blocked = conn_pair(diff)
    other = conn_pair(diff)
    try:
        diff("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        send_both(blocked, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", ">")
        send_both(
            other,
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "COUNT",
            "1",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        )
        nothing_pending(blocked)
        diff("XADD", "s", "1-1", "a", "1")
        read_both(blocked)
        nothing_pending(other)
        diff("MULTI")
        diff("XADD", "s", "2-1", "a", "2")
        diff("XADD", "s", "3-1", "a", "3")
        diff("EXEC")
        read_both(other)
        diff("XPENDING", "s", "g")
        diff("XINFO", "GROUPS", "s")
        # history IDs never block
        send_both(blocked, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "s", "0")
        read_both(blocked)
        # NOACK: 3-1 was left undelivered (bob read COUNT 1), then nothing is left
        send_both(
            blocked, "XREADGROUP", "GROUP", "g", "carol", "NOACK", "BLOCK", "0", "STREAMS", "s", ">"
        )
        read_both(blocked)
        send_both(
            blocked, "XREADGROUP", "GROUP", "g", "carol", "NOACK", "BLOCK", "0", "STREAMS", "s", ">"
        )
        nothing_pending(blocked)
        diff("XADD", "s", "4-1", "a", "4")
        read_both(blocked)
        diff("XPENDING", "s", "g")
        diff("XINFO", "GROUPS", "s")
    finally:
        for c in blocked + other:
            c.close()


def test_xreadgroup_block_key_deleted(diff):
    blocked = conn_pair(diff)
    reader = conn_pair(diff)
    try:
        diff("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        send_both(blocked, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        send_both(reader, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        nothing_pending(blocked)
        diff("DEL", "s")
        read_both(blocked)
        nothing_pending(reader)
        diff("XADD", "s", "1-1", "a", "1")
        read_both(reader)
        # overwritten by another type
        diff("XGROUP", "CREATE", "s", "g2", "$")
        send_both(blocked, "XREADGROUP", "GROUP", "g2", "c", "BLOCK", "0", "STREAMS", "s", ">")
        nothing_pending(blocked)
        diff("SET", "s", "x")
        read_both(blocked)
        # deleted inside MULTI and recreated
        diff("DEL", "s")
        diff("XGROUP", "CREATE", "s", "g3", "$", "MKSTREAM")
        send_both(blocked, "XREADGROUP", "GROUP", "g3", "c", "BLOCK", "0", "STREAMS", "s", ">")
        nothing_pending(blocked)
        diff("MULTI")
        diff("DEL", "s")
        diff("XADD", "s", "1-1", "a", "1")
        diff("EXEC")
        read_both(blocked)
        # renamed away
        diff("XGROUP", "CREATE", "s", "g4", "$")
        send_both(blocked, "XREADGROUP", "GROUP", "g4", "c", "BLOCK", "0", "STREAMS", "s", ">")
        nothing_pending(blocked)
        diff("RENAME", "s", "t")
        read_both(blocked)
        # expired
        diff("XGROUP", "CREATE", "t", "g5", "$")
        send_both(blocked, "XREADGROUP", "GROUP", "g5", "c", "BLOCK", "0", "STREAMS", "t", ">")
        nothing_pending(blocked)
        diff("PEXPIRE", "t", "50")
        time.sleep(0.3)
        diff("EXISTS", "t")
        read_both(blocked)
    finally:
        for c in blocked + reader:
            c.close()


def test_xreadgroup_block_group_destroyed(diff):
    blocked = conn_pair(diff)
    try:
        diff("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        send_both(blocked, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        nothing_pending(blocked)
        diff("XGROUP", "DESTROY", "s", "g")
        read_both(blocked)
        diff("XGROUP", "CREATE", "s", "g", "$")
        send_both(blocked, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        nothing_pending(blocked)
        diff("XGROUP", "SETID", "s", "g", "0")
        nothing_pending(blocked)
        diff("XADD", "s", "1-1", "a", "1")
        read_both(blocked)
    finally:
        for c in blocked:
            c.close()


def test_xread_block_many_clients_order(diff):
    clients = [conn_pair(diff) for _ in range(4)]
    try:
        diff("XADD", "s", "1-1", "a", "1")
        send_both(clients[0], "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        send_both(clients[1], "XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "0")
        send_both(clients[2], "XREAD", "BLOCK", "0", "STREAMS", "t", "s", "$", "$")
        send_both(clients[3], "XREAD", "BLOCK", "0", "STREAMS", "s", "9-9")
        read_both(clients[1])
        nothing_pending(clients[0])
        diff("XADD", "s", "2-1", "a", "2", "b", "3")
        for pair in clients[:1] + clients[2:3]:
            read_both(pair)
        nothing_pending(clients[3])
        diff("XADD", "s", "10-1", "a", "2")
        read_both(clients[3])
    finally:
        for pair in clients:
            for c in pair:
                c.close()


def test_xread_block_client_unblock(diff):
    blocked = conn_pair(diff)
    try:
        ids = [c.call("CLIENT", "ID") for c in blocked]
        send_both(blocked, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
        nothing_pending(blocked)
        a = diff.ref.call("CLIENT", "UNBLOCK", ids[0][1:-2])
        b = diff.our.call("CLIENT", "UNBLOCK", ids[1][1:-2])
        assert a == b
        read_both(blocked)
        send_both(blocked, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        read_both(blocked)
        diff("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        send_both(blocked, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        nothing_pending(blocked)
        a = diff.ref.call("CLIENT", "UNBLOCK", ids[0][1:-2], "ERROR")
        b = diff.our.call("CLIENT", "UNBLOCK", ids[1][1:-2], "ERROR")
        assert a == b
        read_both(blocked)
    finally:
        for c in blocked:
            c.close()


# ---------------------------------------------------------------------- random workload
def test_random_workload(diff, nodeconf):
    """A seeded mix of stream writes and reads compared reply by reply."""
    nodeconf(diff, "stream-node-max-entries", "8")
    rnd = random.Random(2024)
    ms = 0
    live = []
    diff("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    for step in range(1500):
        op = rnd.random()
        if op < 0.45:
            ms += rnd.choice((0, 1, 1, 2, 1000))
            seq = "*" if rnd.random() < 0.5 else str(rnd.randint(0, 3))
            nf = rnd.randint(1, 3)
            fields = []
            for k in range(nf):
                fields += [rnd.choice(("a", "b", "c%d" % k)), str(rnd.randint(-300, 300))]
            args = ["XADD", "s"]
            r = rnd.random()
            if r < 0.05:
                args += ["MAXLEN", rnd.choice(("~", "=")), str(rnd.randint(0, 60))]
            elif r < 0.08:
                args += ["MINID", "~", "%d" % max(ms - rnd.randint(0, 50), 0)]
            reply = diff(*(args + ["%d-%s" % (ms, seq)] + fields))
            if reply[:1] == b"$":
                live.append(reply.split(b"\r\n")[1])
        elif op < 0.55 and live:
            victims = rnd.sample(live, min(len(live), rnd.randint(1, 3)))
            diff("XDEL", "s", *victims)
            for v in victims:
                live.remove(v)
        elif op < 0.6:
            diff("XTRIM", "s", "MAXLEN", rnd.choice(("~", "=")), str(rnd.randint(10, 80)))
            live = [e[0] for e in parse(diff("XRANGE", "s", "-", "+"))]
        elif op < 0.65:
            diff(
                "XTRIM",
                "s",
                "MINID",
                rnd.choice(("~", "=")),
                "%d-%d" % (max(ms - rnd.randint(0, 40), 0), rnd.randint(0, 3)),
            )
            live = [e[0] for e in parse(diff("XRANGE", "s", "-", "+"))]
        elif op < 0.72:
            a = "%d" % max(ms - rnd.randint(0, 30), 0)
            b = "%d" % max(ms - rnd.randint(0, 30), 0)
            cmd = rnd.choice(("XRANGE", "XREVRANGE"))
            args = [cmd, "s", a, b]
            if rnd.random() < 0.5:
                args[2] = "(" + args[2]
            if rnd.random() < 0.5:
                args += ["COUNT", str(rnd.randint(0, 5))]
            diff(*args)
        elif op < 0.8:
            diff(
                "XREADGROUP",
                "GROUP",
                "g",
                rnd.choice(("c1", "c2", "c3")),
                "COUNT",
                str(rnd.randint(1, 4)),
                "STREAMS",
                "s",
                ">",
            )
        elif op < 0.85:
            pend = parse(diff("XPENDING", "s", "g"))
            if pend[0]:
                diff("XACK", "s", "g", pend[1], pend[2])
        elif op < 0.9:
            diff(
                "XREADGROUP",
                "GROUP",
                "g",
                rnd.choice(("c1", "c2", "c3")),
                "COUNT",
                str(rnd.randint(0, 3)),
                "STREAMS",
                "s",
                "0",
            )
        elif op < 0.93:
            diff(
                "XAUTOCLAIM",
                "s",
                "g",
                rnd.choice(("c1", "c4")),
                "0",
                "0",
                "COUNT",
                str(rnd.randint(1, 5)),
                "JUSTID",
            )
        elif op < 0.96:
            diff("XINFO", "STREAM", "s")
            diff("XINFO", "GROUPS", "s")
        else:
            diff(
                "XREAD",
                "COUNT",
                str(rnd.randint(1, 5)),
                "STREAMS",
                "s",
                "%d" % max(ms - rnd.randint(0, 30), 0),
            )
    diff("XINFO", "STREAM", "s")
    diff("XPENDING", "s", "g")


def test_blocked_clients_and_keyspace_moves(diff):
    """RENAME onto a waited key serves XREAD; FLUSHALL/SWAPDB/MOVE fail XREADGROUP waiters."""
    xread = conn_pair(diff)
    group = conn_pair(diff)
    try:
        diff("XADD", "src", "7-1", "a", "1")
        send_both(xread, "XREAD", "BLOCK", "0", "STREAMS", "dst", "$")
        nothing_pending(xread)
        diff("RENAME", "src", "dst")
        read_both(xread)
        for cmd in (
            ["FLUSHALL"],
            ["SWAPDB", "0", "1"],
            ["MOVE", "s", "1"],
            ["FLUSHDB"],
            ["UNLINK", "s"],
            ["EXPIRE", "s", "0"],
        ):
            diff("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
            send_both(group, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
            send_both(xread, "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
            nothing_pending(group)
            diff(*cmd)
            read_both(group)
            nothing_pending(xread)
            diff("SELECT", "1")
            diff("FLUSHDB")
            diff("SELECT", "0")
            diff("DEL", "s")
            diff("XADD", "s", "1-1", "a", "1")
            read_both(xread)
            diff("DEL", "s")
    finally:
        for c in xread + group:
            c.close()


def test_random_group_workload(diff, nodeconf):
    """Consumer groups under a seeded mix of reads, claims, acks and edits."""
    nodeconf(diff, "stream-node-max-entries", "5")
    rnd = random.Random(77)
    for i in range(1, 80):
        diff("XADD", "s", "%d-%d" % (i, rnd.randint(0, 2)), "f", str(i))
    for g in ("g1", "g2"):
        diff("XGROUP", "CREATE", "s", g, "0")
    consumers = ("alice", "bob", "carol", "dave")
    ms = 80
    for step in range(600):
        g = rnd.choice(("g1", "g2"))
        cons = rnd.choice(consumers)
        op = rnd.random()
        if op < 0.25:
            args = ["XREADGROUP", "GROUP", g, cons, "COUNT", str(rnd.randint(1, 6))]
            if rnd.random() < 0.2:
                args.append("NOACK")
            diff(*(args + ["STREAMS", "s", rnd.choice((">", ">", "0", "20"))]))
        elif op < 0.35:
            ids = ["%d-%d" % (rnd.randint(1, ms), rnd.randint(0, 2)) for _ in range(3)]
            diff("XACK", "s", g, *ids)
        elif op < 0.45:
            ids = ["%d-%d" % (rnd.randint(1, ms), rnd.randint(0, 2)) for _ in range(3)]
            extra = rnd.choice(
                ([], ["JUSTID"], ["FORCE"], ["FORCE", "JUSTID"], ["RETRYCOUNT", "3", "JUSTID"])
            )
            diff("XCLAIM", "s", g, cons, "0", *(ids + extra))
        elif op < 0.55:
            diff(
                "XAUTOCLAIM",
                "s",
                g,
                cons,
                "0",
                "%d" % rnd.randint(0, ms),
                "COUNT",
                str(rnd.randint(1, 5)),
                *(["JUSTID"] if rnd.random() < 0.5 else []),
            )
        elif op < 0.6:
            diff("XGROUP", "SETID", "s", g, "%d" % rnd.randint(0, ms))
        elif op < 0.63:
            diff("XGROUP", "DELCONSUMER", "s", g, cons)
        elif op < 0.73:
            ms += 1
            diff("XADD", "s", "%d-1" % ms, "f", str(ms))
        elif op < 0.8:
            diff("XDEL", "s", "%d-%d" % (rnd.randint(1, ms), rnd.randint(0, 2)))
        elif op < 0.83:
            diff("XTRIM", "s", "MINID", rnd.choice(("~", "=")), str(rnd.randint(0, ms // 2)))
        elif op < 0.9:
            diff("XPENDING", "s", g)
            masked(diff, "XPENDING", "s", g, "-", "+", "50", mask=(2,))
        elif op < 0.95:
            diff("XINFO", "GROUPS", "s")
            masked(diff, "XINFO", "CONSUMERS", "s", g, mask=(b"idle",))
        else:
            masked(diff, "XINFO", "STREAM", "s", "FULL", "COUNT", "0", mask=(b"seen-time", 2, 1))
    masked(diff, "XINFO", "STREAM", "s", "FULL", "COUNT", "0", mask=(b"seen-time", 2, 1))


def test_dump_restore(diff, nodeconf):
    """DUMP payloads are Redis's own bytes; each server RESTOREs the other's."""
    nodeconf(diff, "stream-node-max-entries", "6")
    fill(diff, "s", 40)
    diff("XDEL", "s", "3-1", "7-1", "8-1", "9-1", "10-1", "11-1", "12-1", "39-1")
    diff("XTRIM", "s", "MINID", "5")
    diff("XGROUP", "CREATE", "s", "g", "$")
    diff("XGROUP", "CREATE", "s", "h", "7", "ENTRIESREAD", "2")
    diff("XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM")
    diff("XSETID", "empty", "10-10", "ENTRIESADDED", "12", "MAXDELETEDID", "9-9")
    for key in ("s", "empty"):
        payload = diff("DUMP", key)
        diff("RESTORE", key + "-copy", "0", parse(payload))
        diff("XINFO", "STREAM", key + "-copy", "FULL")
        diff("XINFO", "STREAM", key + "-copy")
        diff("DUMP", key + "-copy")
    diff("XADD", "s-copy", "50-1", "f", "v")
    diff("XINFO", "STREAM", "s-copy")
    diff("RESTORE", "s", "0", b"\x13garbage")
    payload = parse(diff("DUMP", "s"))
    bad = payload[:20] + b"\x00" + payload[21:]
    diff("RESTORE", "bad", "0", bad)


def test_resp3_shapes(diff3):
    diff3.run("""
        XADD s NOMKSTREAM 1-1 a 1
        XRANGE s - +
        XADD s 1-1 a 1
        XADD s 2-1 a 2 b 3
        XRANGE s - + COUNT 0
        XREVRANGE s + - COUNT 1
        XLEN s
        XGROUP CREATE s g $
        XPENDING s g
        XPENDING s g - + 10
        XREADGROUP GROUP g c STREAMS s >
        XREADGROUP GROUP g c STREAMS s >
        XREADGROUP GROUP g c BLOCK 10 STREAMS s >
        XREADGROUP GROUP g c STREAMS s 0
        XPENDING s g
        XCLAIM s g d 0 1-1 JUSTID
        XCLAIM s g d 0 2-1
        XDEL s 2-1
        XREADGROUP GROUP g d STREAMS s 0
        XAUTOCLAIM s g e 0 0
        XAUTOCLAIM s g e 0 0 JUSTID
        XACK s g 1-1
        XGROUP HELP
        XINFO HELP
        XINFO GROUPS s
        XINFO STREAM s
        XSETID s 5-5
        XTRIM s MAXLEN 0
        XINFO STREAM s
        XREAD STREAMS s 0
        XREAD COUNT 1 BLOCK 10 STREAMS s $
    """)
    masked(diff3, "XINFO", "CONSUMERS", "s", "g", mask=(b"idle",))
    masked(diff3, "XINFO", "STREAM", "s", "FULL", mask=(b"seen-time", 2, 1))


def test_c_string_arguments(diff):
    """Redis reads IDs and special words as C strings: a NUL ends them."""
    diff("XADD", "s", "5-1", "f", "v")
    diff("XREAD", "STREAMS", "s", b"$\x00junk")
    diff("XREAD", "STREAMS", "s", b"0\x00junk")
    diff("XGROUP", "CREATE", "s", "g", b"$\x00x")
    diff("XGROUP", "SETID", "s", "g", b"$\x00")
    diff("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", b">\x00")
    diff("XTRIM", "s", b"MAXLEN\x00x", "0")
    diff("XINFO", "GROUPS", "s")


def test_xread_block_same_key_twice(diff):
    blocked = conn_pair(diff)
    try:
        diff("XADD", "s", "5-1", "a", "1")
        send_both(blocked, "XREAD", "BLOCK", "0", "STREAMS", "s", "s", "$", "0")
        read_both(blocked)
        send_both(blocked, "XREAD", "BLOCK", "0", "STREAMS", "s", "s", "$", "9")
        nothing_pending(blocked)
        diff("XADD", "s", "6-1", "a", "1")
        read_both(blocked)
    finally:
        for c in blocked:
            c.close()
