"""The list type and list commands: model checks and what byte comparison can't show.

RList's own operations are checked against a plain Python list with hypothesis;
the commands are checked on a live server against the same model for long lists
(where the nearer-end strategies of LRANGE/LTRIM/LREM kick in), and for the
behaviours that are about Vermilion itself (encoding reporting, lazy freeing).
"""
import random

import pytest
from hypothesis import given, strategies as st

from support import RawConn
from vermilion.types.list import RList

elements = st.lists(st.sampled_from([b"a", b"b", b"c", b"", b"10"]), max_size=60)


@given(elements, st.integers(0, 70), st.integers(0, 70))
def test_range_matches_slicing(items, start, stop):
    lst = RList(items)
    n = len(items)
    if n == 0:
        return
    start = min(start, n - 1)
    stop = min(max(stop, start), n - 1)
    assert lst.range(start, stop) == items[start:stop + 1]


@given(elements, st.integers(0, 70), st.integers(0, 70))
def test_trim_matches_slicing(items, ltrim, rtrim):
    n = len(items)
    ltrim = min(ltrim, n)
    rtrim = min(rtrim, n - ltrim)
    lst = RList(items)
    lst.trim(ltrim, rtrim)
    assert list(lst) == items[ltrim:n - rtrim]


@given(elements, st.integers(0, 70))
def test_pop_n(items, count):
    lst = RList(items)
    assert lst.pop_left_n(count) == items[:count]
    assert list(lst) == items[count:]
    lst = RList(items)
    assert lst.pop_right_n(count) == items[::-1][:count]
    assert list(lst) == items[:max(len(items) - count, 0)]


def test_free_some_and_encoding():
    lst = RList([b"x"] * 50000)
    assert lst.free_some(20000) == 20000
    assert len(lst) == 30000
    assert lst.free_some(10 ** 9) == 30000
    assert len(lst) == 0
    assert lst.free_some(10) == 1          # never reports 0 work (lazyfree budget)
    assert RList().object_encoding() == b"quicklist"


def _array(reply):
    """Decode a flat RESP2 array of bulk strings (or integers)."""
    assert reply[:1] == b"*"
    lines = reply.split(b"\r\n")
    n = int(lines[0][1:])
    out = []
    i = 1
    while len(out) < n:
        if lines[i][:1] == b"$":
            out.append(lines[i + 1])
            i += 2
        else:
            out.append(int(lines[i][1:]))
            i += 1
    return out


def test_long_list_against_model(server):
    """Index arithmetic near both ends of a long list, checked against a Python list."""
    conn = RawConn(server.host, server.port)
    rnd = random.Random(1)
    model = [b"%d" % (i % 37) for i in range(5000)]
    for i in range(0, 5000, 500):
        conn.call("RPUSH", "l", *model[i:i + 500])
    for _ in range(300):
        a, b = rnd.randint(-5100, 5100), rnd.randint(-5100, 5100)
        n = len(model)
        s, e = (a + n if a < 0 else a), (b + n if b < 0 else b)
        s = max(s, 0)
        expect = model[s:e + 1] if s <= e and s < n else []
        assert _array(conn.call("LRANGE", "l", a, b)) == expect
    # LREM from the tail with many matches, then from the head.
    assert conn.call("LREM", "l", -100, b"5") == b":100\r\n"
    positions = [i for i, x in enumerate(model) if x == b"5"]
    for i in reversed(positions[-100:]):
        del model[i]
    assert conn.call("LREM", "l", 40, b"7") == b":40\r\n"
    positions = [i for i, x in enumerate(model) if x == b"7"]
    for i in reversed(positions[:40]):
        del model[i]
    assert _array(conn.call("LRANGE", "l", 0, -1)) == model
    # LPOS with COUNT and MAXLEN from both ends.
    got = _array(conn.call("LPOS", "l", b"3", "COUNT", 0, "RANK", -2, "MAXLEN", 2000))
    n = len(model)
    expect = [n - 1 - i for i, x in enumerate(reversed(model)) if x == b"3" and i < 2000][1:]
    assert got == expect
    # LTRIM keeping a middle slice (rebuild path) and a wide one (pop path).
    assert conn.call("LTRIM", "l", 100, -100) == b"+OK\r\n"
    model = model[100:len(model) - 99]
    assert conn.call("LTRIM", "l", 1000, 1100) == b"+OK\r\n"
    model = model[1000:1101]
    assert _array(conn.call("LRANGE", "l", 0, -1)) == model
    conn.close()


@pytest.mark.parametrize("fill", ["-2", "-5", "3", "1"])
def test_encoding_is_always_quicklist(server, fill):
    """Redis 7.0 has no listpack-encoded lists, whatever list-max-listpack-size says."""
    conn = RawConn(server.host, server.port)
    if conn.call("CONFIG", "SET", "list-max-listpack-size", fill) != b"+OK\r\n":
        pytest.skip("CONFIG SET list-max-listpack-size not available yet")
    conn.call("RPUSH", "l", "a")
    assert conn.call("OBJECT", "ENCODING", "l") == b"$9\r\nquicklist\r\n"
    conn.call("RPUSH", "l", *["x" * 100] * 200)
    assert conn.call("OBJECT", "ENCODING", "l") == b"$9\r\nquicklist\r\n"
    conn.close()


def test_emptied_lists_leave_the_keyspace(server):
    conn = RawConn(server.host, server.port)
    cases = [
        ("LPOP", "k"), ("RPOP", "k", "5"), ("LREM", "k", "0", "v"), ("LTRIM", "k", "1", "0"),
        ("LMOVE", "k", "other", "LEFT", "LEFT"), ("RPOPLPUSH", "k", "other"),
        ("LMPOP", "1", "k", "LEFT"), ("BLPOP", "k", "0"), ("BLMPOP", "0", "1", "k", "RIGHT"),
        ("BLMOVE", "k", "other", "RIGHT", "LEFT", "0"),
    ]
    for cmd in cases:
        conn.call("RPUSH", "k", "v")
        conn.call(*cmd)
        assert conn.call("EXISTS", "k") == b":0\r\n", cmd
        assert b"k" not in server.server.dbs[0].data
    conn.close()
