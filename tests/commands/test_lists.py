"""The list type and list commands: model checks and what byte comparison can't show.

RList's own operations are checked against a plain Python list with hypothesis;
the commands are checked on a live server against the same model for long lists
(where the nearer-end strategies of LRANGE/LTRIM/LREM kick in), and for the
behaviours that are about Vermilion itself (encoding reporting, lazy freeing).
"""

import random
import sys
from contextlib import contextmanager

import pytest
from hypothesis import given, settings, strategies as st

from support import RawConn
from vermilion.protocol.encoder import encode
from vermilion.types import list as list_type
from vermilion.types.list import RList

elements = st.lists(st.sampled_from([b"a", b"b", b"c", b"", b"10"]), max_size=60)

# Where an RList changes form (types/list.py: packed up to SMALL elements, a deque
# beyond, a deque packed again at SMALL // 2 or fewer): the default, and thresholds
# under which these tests' lists cross it both ways again and again (0: every list
# that holds anything is a deque).
thresholds = st.sampled_from([list_type.SMALL, 0, 1, 3, 8])


@contextmanager
def small(n):
    saved = list_type.SMALL, list_type._SHRINK
    list_type.SMALL, list_type._SHRINK = n, n // 2
    try:
        yield
    finally:
        list_type.SMALL, list_type._SHRINK = saved


def _container_fits(lst):
    """A packed list never holds more than SMALL elements, nor a bulk of 256 bytes
    or more (a deque may hold fewer: only a bulk removal packs one again), and
    its lengths add up to its bulks."""
    if not lst.packed:
        return True
    q = lst._q
    return (
        len(lst) <= list_type.SMALL and len(q) <= list_type.PACKED_BYTES and sum(lst._n) == len(q)
    )


@given(elements, st.integers(0, 70), st.integers(0, 70), thresholds)
def test_range_matches_slicing(items, start, stop, t):
    with small(t):
        lst = RList(items)
    n = len(items)
    if n == 0:
        return
    start = min(start, n - 1)
    stop = min(max(stop, start), n - 1)
    assert lst.range(start, stop) == items[start : stop + 1]


@given(elements, st.integers(0, 70), st.integers(0, 70), thresholds)
def test_trim_matches_slicing(items, ltrim, rtrim, t):
    n = len(items)
    ltrim = min(ltrim, n)
    rtrim = min(rtrim, n - ltrim)
    with small(t):
        lst = RList(items)
        lst.trim(ltrim, rtrim)
        assert list(lst) == items[ltrim : n - rtrim]
        assert _container_fits(lst)


@given(elements, st.integers(0, 70), thresholds)
def test_pop_n(items, count, t):
    with small(t):
        lst = RList(items)
        assert lst.pop_left_n(count) == items[:count]
        assert list(lst) == items[count:]
        lst = RList(items)
        assert lst.pop_right_n(count) == items[::-1][:count]
        assert list(lst) == items[: max(len(items) - count, 0)]


binary = st.lists(
    st.binary(max_size=20)
    | st.sampled_from([b"$3\r\nabc\r\n", b"\r\n", b"a" * 4095, b"b" * 4096, b"c" * 9000]),
    max_size=30,
)


@given(st.binary(max_size=300) | st.integers(0, 20000).map(lambda n: b"z" * n))
def test_bulk_form_round_trip(x):
    b = list_type.encode(x)
    assert b == encode(x)
    assert list_type.decode(b) == x
    assert list_type.encode(bytearray(x)) == b and list_type.encode(memoryview(x)) == b


@given(binary, st.integers(0, 40), st.integers(0, 40), thresholds)
def test_replies_match_the_encoder(items, start, count, t):
    """The pre-encoded replies are the encoder's spelling of the elements, in
    RESP2 and RESP3 alike; the elements read back byte for byte."""
    with small(t):
        _replies_match_the_encoder(items, start, count)


def _replies_match_the_encoder(items, start, count):
    lst = RList(items)
    assert list(lst) == items and list(reversed(lst)) == items[::-1]
    assert [lst[i] for i in range(-len(items), len(items))] == items + items
    assert [list_type.decode(b) for b in lst.bulks()] == items
    if items:
        start = min(start, len(items) - 1)
        stop = min(start + count, len(items) - 1)
        for resp in (2, 3):
            assert lst.range_reply(start, stop) == encode(items[start : stop + 1], resp)
    copy = lst.copy()
    assert lst.pop_left_reply(count) == encode(items[:count])
    assert list(lst) == items[count:]
    assert copy.pop_right_reply(count) == encode(items[::-1][:count])
    assert list(copy) == items[: max(len(items) - count, 0)]
    copy = RList(items)
    if len(items) > 1:
        assert copy.pop_left_bulk() == encode(items[0])
        assert copy.pop_right() == items[-1]
        assert copy.pop_left() == items[1] if len(items) > 2 else not copy


@given(
    elements,
    st.sampled_from([b"a", b"b", b"", b"zz"]),
    st.booleans(),
    st.integers(0, 70),
    thresholds,
)
def test_matches_and_delete(items, x, from_tail, limit, t):
    with small(t):
        _matches_and_delete(items, x, from_tail, limit)


def _matches_and_delete(items, x, from_tail, limit):
    lst = RList(items)
    scanned = items[::-1] if from_tail else items
    want = [i for i, e in enumerate(scanned[: limit or None]) if e == x]
    assert list(lst.matches(x, from_tail, limit or None)) == want
    heads = sorted(len(items) - 1 - p for p in want) if from_tail else want
    lst.delete_positions(heads)
    assert list(lst) == [e for i, e in enumerate(items) if i not in set(heads)]
    lst = RList(items)
    if x in items:
        assert lst.index(x) == items.index(x)
        lst.insert(lst.index(x), b"new")
        lst[0] = b"first"
        model = list(items)
        model.insert(items.index(x), b"new")
        model[0] = b"first"
        assert list(lst) == model


# Every method that changes an RList; each must drop the kept LRANGE reply.
_CHANGES = [
    "push_left",
    "push_right",
    "extend_left",
    "extend_right",
    "push_left_bulk",
    "push_right_bulk",
    "pop_left",
    "pop_right",
    "pop_left_bulk",
    "pop_right_bulk",
    "pop_left_n",
    "pop_right_reply",
    "setitem",
    "insert",
    "delete_positions",
    "trim",
    "free_some",
    "clear",
]


def _change(name, lst, m, x, k):
    """Apply change ``name`` (element ``x``, count ``k``) to RList ``lst`` and to
    the model list ``m`` alike."""
    n = len(m)
    if name == "push_left" or name == "push_left_bulk":
        lst.push_left(x) if name == "push_left" else lst.push_left_bulk(list_type.encode(x))
        m.insert(0, x)
    elif name == "push_right" or name == "push_right_bulk":
        lst.push_right(x) if name == "push_right" else lst.push_right_bulk(list_type.encode(x))
        m.append(x)
    elif name == "extend_left":
        lst.extend_left([x, b"e"])
        m[:0] = [b"e", x]
    elif name == "extend_right":
        lst.extend_right([x, b"e"])
        m += [x, b"e"]
    elif name.startswith("pop_") and n == 0:
        pass
    elif name in ("pop_left", "pop_left_bulk"):
        getattr(lst, name)()
        del m[0]
    elif name in ("pop_right", "pop_right_bulk"):
        getattr(lst, name)()
        del m[-1]
    elif name == "pop_left_n":
        lst.pop_left_n(k)
        del m[:k]
    elif name == "pop_right_reply" or name == "free_some":
        getattr(lst, name)(k)
        del m[max(n - k, 0) :]
    elif name == "setitem":
        if n:
            lst[k % n] = x
            m[k % n] = x
    elif name == "insert":
        lst.insert(k, x)
        m.insert(k, x)
    elif name == "delete_positions":
        positions = list(range(0, min(k, n), 2))
        lst.delete_positions(positions)
        for i in reversed(positions):
            del m[i]
    elif name == "trim":
        ltrim = min(1, n)
        rtrim = min(k, n - ltrim)
        lst.trim(ltrim, rtrim)
        m[:] = m[ltrim : n - rtrim]
    elif name == "clear":
        lst.clear()
        m.clear()
    else:
        raise AssertionError(name)


@settings(max_examples=500, deadline=None)
@given(
    elements,
    st.lists(
        st.tuples(
            st.sampled_from(_CHANGES),
            st.sampled_from([b"zz", b"y", b"a", b""]),
            st.integers(0, 6),
        ),
        min_size=1,
        max_size=25,
    ),
    thresholds,
)
def test_kept_range_reply_follows_every_change(items, changes, t):
    """LRANGE's kept reply (range_reply answers a range asked again from what it
    kept) is dropped by every change: after each one, the ranges asked before it
    answer what the model list holds now. (A push or pop at the tail alone cannot
    make a kept range wrong, since a range still in bounds after it holds the same
    elements, nor can ``clear``, after which only a push refills the list; so this
    cannot tell whether push_right, push_right_bulk, extend_right, pop_right,
    pop_right_bulk, free_some and clear drop it. They do.)"""
    with small(t):
        _kept_range_reply_follows_every_change(items, changes)


def _kept_range_reply_follows_every_change(items, changes):
    lst = RList(items)
    model = list(items)
    asked = []  # the ranges asked after the last change; the last one is kept

    def check(name):
        n = len(model)
        # the range kept before the change first (when it still fits), then others,
        # the last one small so that it fits after most changes
        for start, stop in asked[-1:] + [(0, n - 1), (n // 2, n - 1), (0, min(2, n - 1))]:
            if 0 <= start <= stop < n:
                want = encode(model[start : stop + 1])
                assert lst.range_reply(start, stop) == want, name
                assert lst.range_reply(start, stop) == want, name
                asked.append((start, stop))

    check("start")
    for name, x, k in changes:
        _change(name, lst, model, x, k)
        assert list(lst) == model, name
        assert _container_fits(lst), name
        check(name)


def test_kept_replies_are_bounded_and_do_not_keep_lists_alive():
    import gc
    import weakref

    with small(0):  # (only a deque keeps its reply: a packed list's is one slice)
        lists = [RList([b"%d" % i, b"x"]) for i in range(list_type.SENT_LISTS + 10)]
    for lst in lists:
        assert lst.range_reply(0, 1) is lst.range_reply(0, 1)  # (kept: the same object)
    kept = [lst for lst in lists if lst._sent is not None]
    assert len(kept) == list_type.SENT_LISTS and kept == lists[10:]  # the oldest forgot
    assert lists[0].range_reply(0, 1) == encode([b"0", b"x"])  # (built again, kept again)
    assert lists[10]._sent is None and lists[0]._sent is not None
    # a reply over SENT_BYTES is not kept
    big = RList([b"y" * 1000] * (list_type.SENT_BYTES // 1000 + 1))
    assert big.range_reply(0, len(big) - 1) is not big.range_reply(0, len(big) - 1)
    # a list that keeps a reply is freed like any other
    ref = weakref.ref(lists[-1])
    del lists, kept, lst
    gc.collect()
    assert ref() is None


def test_a_list_reusing_a_freed_lists_id_is_the_newest_to_keep_a_reply():
    """The registry of kept replies is keyed by id(); a list freed while keeping one
    leaves its (dead) entry behind, and CPython hands its memory, so its id, to the
    next object of that size. The new list must go last in the registry's order,
    not take the dead entry's place (where it would be the next to forget)."""
    list_type._SENT.clear()
    with small(0):  # (deques: see the test above)
        lists = [RList([b"%d" % i, b"x"]) for i in range(list_type.SENT_LISTS)]
        for lst in lists:
            lst.range_reply(0, 1)
        dead = id(lists[5])
        lists[5] = None
        new = RList([b"n", b"x"])
    if id(new) != dead:
        pytest.skip("the allocator did not hand the freed list's memory to the new list")
    new.range_reply(0, 1)
    assert list(list_type._SENT)[-1] == id(new)
    assert len(list_type._SENT) == list_type.SENT_LISTS
    # the dead entry made the room: no live list forgot its reply
    assert all(lst._sent is not None for lst in lists if lst is not None)


def test_short_lists_are_packed():
    """A list of at most SMALL elements with bulks under 256 bytes is packed: its
    bulks in one bytes object and their lengths in another (an empty deque alone
    takes 760 bytes, so many short lists took five times redis-server's memory);
    past SMALL it becomes a deque, and a deque that a bulk removal leaves with
    SMALL // 2 elements or fewer is packed again."""
    small_n = list_type.SMALL
    lst = RList([b"x"] * 5)
    # an empty list's two bytes objects, plus 5 bulks of 7 bytes and 5 lengths
    assert lst.packed and sys.getsizeof(lst) == sys.getsizeof(RList()) + 5 * 7 + 5 < 200
    for _ in range(small_n - 5):
        lst.push_left(b"y")
    assert lst.packed and len(lst) == small_n
    lst.push_right(b"z")
    assert not lst.packed and sys.getsizeof(lst) > 700
    lst.pop_left()
    assert not lst.packed  # (a single pop does not look)
    lst.trim(0, len(lst) - small_n // 2)
    assert lst.packed and list(lst) == [b"y"] * (small_n // 2)
    for grow, shrink in [
        (lambda q: q.extend_left([b"a"] * small_n), lambda q: q.pop_left_n(small_n)),
        (lambda q: q.extend_right([b"a"] * small_n), lambda q: q.pop_right_reply(small_n)),
        (lambda q: [q.insert(1, b"a") for _ in range(small_n)], lambda q: q.trim(small_n, 0)),
        (
            lambda q: [q.push_right_bulk(b"$1\r\na\r\n") for _ in range(small_n)],
            lambda q: q.delete_positions(list(range(small_n // 2, len(q)))),
        ),
    ]:
        grow(lst)
        assert not lst.packed, grow
        shrink(lst)
        assert lst.packed and len(lst) <= small_n // 2, shrink
        assert set(lst) <= {b"a", b"y"}


def test_a_bulk_of_256_bytes_is_not_packed():
    """A packed list's lengths are one byte each: an element whose bulk takes 256
    bytes or more (a 248-byte element: ``$248``, CRLF, the element, CRLF) makes
    the list a deque however it arrives, and a deque holding one is not packed
    again."""
    fits, too_long = b"f" * 247, b"t" * 248
    assert len(list_type.encode(fits)) == 255 and len(list_type.encode(too_long)) == 256
    assert RList([fits] * 3).packed and not RList([fits, too_long]).packed
    for push in (
        lambda q: q.push_left(too_long),
        lambda q: q.push_right(too_long),
        lambda q: q.extend_left([b"a", too_long]),
        lambda q: q.extend_right([too_long]),
        lambda q: q.insert(1, too_long),
        lambda q: q.push_left_bulk(list_type.encode(too_long)),
        lambda q: q.push_right_bulk(list_type.encode(too_long)),
        lambda q: q.__setitem__(0, too_long),
    ):
        lst = RList([fits, b"b"])
        push(lst)
        assert not lst.packed and too_long in list(lst), push
        lst.trim(0, 0)  # a bulk removal, but the long bulk is still there
        assert not lst.packed and _container_fits(lst)


def test_a_packed_list_holds_at_most_packed_bytes():
    """A push that would take a packed list's bulks past PACKED_BYTES (8 KB, what a
    push or pop at the head copies at most) makes it a deque, whatever the push;
    LTRIM packs it again once it fits."""
    x = b"x" * 200  # a 206-byte bulk: 39 of them fit in 8 KB, 40 do not
    per = len(list_type.encode(x))
    fit = list_type.PACKED_BYTES // per
    assert RList([x] * fit).packed and not RList([x] * (fit + 1)).packed
    for push in (
        lambda q: q.push_left(x),
        lambda q: q.push_right(x),
        lambda q: q.push_left_bulk(list_type.encode(x)),
        lambda q: q.push_right_bulk(list_type.encode(x)),
        lambda q: q.extend_left([x]),
        lambda q: q.extend_right([x]),
        lambda q: q.insert(3, x),
    ):
        lst = RList([x] * fit)
        push(lst)
        assert not lst.packed and list(lst) == [x] * (fit + 1), push
        lst.trim(0, fit + 1 - list_type._SHRINK // 2)  # (well under SMALL // 2 elements)
        assert lst.packed and _container_fits(lst) and list(lst) == [x] * (list_type._SHRINK // 2)


def test_copy_is_independent_and_pushes_return_lengths():
    lst = RList([b"a"])
    assert lst.push_left(b"b") == 2 and lst.push_right(b"c") == 3
    assert lst.extend_left([b"1", b"2"]) == 5 and lst.extend_right([b"3"]) == 6
    dup = lst.copy()
    dup.pop_left()
    dup[0] = b"x"
    assert list(lst) == [b"2", b"1", b"b", b"a", b"c", b"3"]
    assert list(dup) == [b"x", b"b", b"a", b"c", b"3"]
    other = RList()
    other.push_right_bulk(lst.pop_right_bulk())
    assert list(other) == [b"3"] and repr(other) == "RList([b'3'])"


def test_free_some_and_encoding():
    lst = RList([b"x"] * 50000)
    assert lst.free_some(20000) == 20000
    assert len(lst) == 30000
    assert lst.free_some(10**9) == 30000
    assert len(lst) == 0
    assert lst.free_some(10) == 1  # never reports 0 work (lazyfree budget)
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
        conn.call("RPUSH", "l", *model[i : i + 500])
    for _ in range(300):
        a, b = rnd.randint(-5100, 5100), rnd.randint(-5100, 5100)
        n = len(model)
        s, e = (a + n if a < 0 else a), (b + n if b < 0 else b)
        s = max(s, 0)
        expect = model[s : e + 1] if s <= e and s < n else []
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
    model = model[100 : len(model) - 99]
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
        ("LPOP", "k"),
        ("RPOP", "k", "5"),
        ("LREM", "k", "0", "v"),
        ("LTRIM", "k", "1", "0"),
        ("LMOVE", "k", "other", "LEFT", "LEFT"),
        ("RPOPLPUSH", "k", "other"),
        ("LMPOP", "1", "k", "LEFT"),
        ("BLPOP", "k", "0"),
        ("BLMPOP", "0", "1", "k", "RIGHT"),
        ("BLMOVE", "k", "other", "RIGHT", "LEFT", "0"),
    ]
    for cmd in cases:
        conn.call("RPUSH", "k", "v")
        conn.call(*cmd)
        assert conn.call("EXISTS", "k") == b":0\r\n", cmd
        assert b"k" not in server.server.dbs[0].data
    conn.close()
