"""The request reader, on its own: every split of the input gives the same result.

Every reader (pure Python and hiredis-backed, each with and without the compiled
batch parser ``_resp_c`` where it was built) is run on the same inputs; they must
produce the same commands and the same protocol error as each other.
"""

import functools

import pytest
from hypothesis import given, settings, strategies as st

from vermilion.protocol.reader import (
    PyReader,
    HiredisReader,
    HAVE_C,
    HAVE_HIREDIS,
    split_args,
    split_quoted,
)

NO_C = (
    "the compiled reader vermilion/protocol/_resp_c is not built (setup.py: Cython and a C compiler)"
    " or is turned off (VERMILION_NO_RESP_C)"
)
NO_HIREDIS = "hiredis is not installed"


def _variant(cls, use_c):
    f = functools.partial(cls, use_c=use_c)
    f.__name__ = "%s%s" % (cls.__name__, "+C" if use_c else "")
    return f


# Every reader, the ones this installation cannot build shown as skipped (with why)
# in the parametrized tests; READERS, for the property tests' loops, those it can.
_ALL = [
    (_variant(PyReader, False), None),
    (_variant(PyReader, True), None if HAVE_C else NO_C),
    (_variant(HiredisReader, False), None if HAVE_HIREDIS else NO_HIREDIS),
    (
        _variant(HiredisReader, True),
        NO_HIREDIS if not HAVE_HIREDIS else None if HAVE_C else NO_C,
    ),
]
READERS = [f for f, why in _ALL if why is None]
EACH_READER = [
    pytest.param(f, id=f.__name__, marks=[pytest.mark.skip(reason=why)] if why else [])
    for f, why in _ALL
]


def feed_all(cls, chunks):
    r = cls()
    out = []
    for ch in chunks:
        out.extend(r.feed(ch))
        if r.error:
            break
    return out, r.error


def encode(cmd):
    return b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in cmd)


@pytest.mark.parametrize("cls", EACH_READER)
def test_multibulk_and_inline(cls):
    data = encode([b"SET", b"k", b"v"]) + b"PING\r\n" + encode([b"GET", b"k"]) + b'ECHO "a b"\n'
    out, err = feed_all(cls, [data])
    assert err is None
    assert out == [[b"SET", b"k", b"v"], [b"PING"], [b"GET", b"k"], [b"ECHO", b"a b"]]


@pytest.mark.parametrize("cls", EACH_READER)
@pytest.mark.parametrize(
    "data,msg",
    [
        (b"*1\r\n:5\r\n", "Protocol error: expected '$', got ':'"),
        (b"*x\r\n", "Protocol error: invalid multibulk length"),
        (b"*3000000000\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n$2000000000\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (b'SET "a\r\n', "Protocol error: unbalanced quotes in request"),
        (b"*1\r\n*1\r\n$1\r\na\r\n", "Protocol error: expected '$', got '*'"),
    ],
)
def test_errors(cls, data, msg):
    out, err = feed_all(cls, [data])
    assert err == msg


@pytest.mark.parametrize("cls", EACH_READER)
def test_empty_requests_are_ignored(cls):
    out, err = feed_all(cls, [b"*0\r\n*-1\r\n\r\n   \r\n" + encode([b"PING"])])
    assert out == [[b"PING"]] and err is None


def test_split_args_like_sdssplitargs():
    assert split_args(b'set k "a\\x41\\n" \'it\\\'s\'') == [b"set", b"k", b"aA\n", b"it's"]
    assert split_args(b'"unbalanced') is None
    assert split_args(b'"a"b') is None
    assert split_args(b"  ") == []


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40) | st.lists(st.sampled_from(b' \t\r\n\x0b\x0cab"\'\\x\0')).map(bytes))
def test_split_args_shortcut_agrees_with_the_long_way(line):
    # split_args takes bytes.split() for a line without quotes or NUL; the byte by
    # byte sdssplitargs must give the same for every line
    assert split_args(line) == split_quoted(line)


commands_st = st.lists(st.lists(st.binary(max_size=20), min_size=1, max_size=5), max_size=6)


@settings(max_examples=300, deadline=None)
@given(commands_st, st.data())
def test_any_split_gives_same_commands(cmds, data):
    stream = b"".join(encode(c) for c in cmds)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks, prev = [], 0
    for c in cuts + [len(stream)]:
        chunks.append(stream[prev:c])
        prev = c
    for cls in READERS:
        out, err = feed_all(cls, [ch for ch in chunks if ch])
        assert err is None and out == cmds


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200), st.data())
def test_garbage_never_raises_and_readers_agree(blob, data):
    cut = data.draw(st.integers(0, len(blob)))
    results = []
    for cls in READERS:
        results.append(feed_all(cls, [blob[:cut], blob[cut:]] if cut else [blob]))
    assert all(r == results[0] for r in results)


@pytest.mark.parametrize("cls", EACH_READER)
@pytest.mark.parametrize(
    "chunks",
    [
        [b"*2000000000\r\n$1\r\na\r\n"],
        [b"*1\r\n$4\r\nPING\r\n*20000", b"00000\r\n$1\r\na\r\n"],  # header split across reads
    ],
)
def test_huge_argument_count_is_cheap(cls, chunks):
    """A multibulk header of 2e9 arguments must not allocate (or later free) a huge list:
    hiredis would, so such requests go to the Python reader. Nothing may take long."""
    import time

    t0 = time.perf_counter()
    r = cls()
    out = []
    for ch in chunks:
        out.extend(r.feed(ch))
    del r
    assert time.perf_counter() - t0 < 0.5
    assert out in ([], [[b"PING"]])


@pytest.mark.parametrize("cls", EACH_READER)
def test_pending_counts_parsed_arguments_of_a_partial_request(cls):
    r = cls()
    r.feed(b"*3\r\n$5\r\nhello\r\n$5\r\nworld\r\n")
    assert r.pending() >= 10


# Elements a client may (wrongly) send inside a request: every RESP3 type, nested.
_resp3_scalar = st.one_of(
    st.binary(max_size=8).map(lambda b: b"$%d\r\n%s\r\n" % (len(b), b)),
    st.sampled_from(
        [
            b"+OK\r\n",
            b"+PING\r\n",
            b"-ERR x\r\n",
            b":12\r\n",
            b"_\r\n",
            b",1.5\r\n",
            b"#t\r\n",
            b"(123\r\n",
            b"=8\r\ntxt:PING\r\n",
            b"!3\r\nabc\r\n",
            b"$-1\r\n",
            b"*-1\r\n",
        ]
    ),
)
_resp3_value = st.recursive(
    _resp3_scalar,
    lambda inner: st.tuples(st.sampled_from(b"*~>%|"), st.lists(inner, max_size=3)).map(
        lambda t: (
            b"%c%d\r\n" % (t[0], len(t[1]) // 2 if t[0] in b"%|" else len(t[1])) + b"".join(t[1])
        )
    ),
    max_leaves=6,
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.lists(st.binary(max_size=6), min_size=1, max_size=3).map(encode),
            st.lists(_resp3_value, min_size=1, max_size=3).map(
                lambda els: b"*%d\r\n" % len(els) + b"".join(els)
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    st.data(),
)
def test_resp3_typed_elements_never_raise_and_readers_agree(requests, data):
    """Requests whose elements are RESP3 values (maps keyed by arrays, simple
    strings, verbatim strings, ...) give the same commands and the same protocol
    error in both readers, however the stream is split; nothing raises."""
    stream = b"".join(requests)
    cut = data.draw(st.integers(0, len(stream)))
    results = [feed_all(cls, [stream[:cut], stream[cut:]] if cut else [stream]) for cls in READERS]
    assert all(r == results[0] for r in results)
    out, err = results[0]
    for cmd in out:
        assert cmd and all(a.__class__ is bytes for a in cmd)


@pytest.mark.parametrize("cls", EACH_READER)
@pytest.mark.parametrize(
    "data,msg",
    [
        (b"*1\r\n%1\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n", "Protocol error: expected '$', got '%'"),
        (b"*1\r\n+PING\r\n", "Protocol error: expected '$', got '+'"),
        (b"*1\r\n=8\r\ntxt:PING\r\n", "Protocol error: expected '$', got '='"),
        (b"*1\r\n(123\r\n", "Protocol error: expected '$', got '('"),
        (b"*2\r\n$3\r\nGET\r\n~1\r\n$1\r\na\r\n", "Protocol error: expected '$', got '~'"),
    ],
)
def test_resp3_elements_are_protocol_errors(cls, data, msg):
    out, err = feed_all(cls, [data])
    assert out == [] and err == msg


@pytest.mark.parametrize("cls", EACH_READER)
@pytest.mark.parametrize("native", [True, False], ids=["in-place", "bytearray-fallback"])
@pytest.mark.parametrize("step", [997, 4096, 65536, None])
def test_big_bulk_is_received_in_place_whatever_the_split(cls, native, step, monkeypatch):
    """Bulks of BIG_ARG bytes or more are built in their final bytes object
    (protocol/bulk.py); the result is the same however the stream is cut, and
    with the pure-Python fallback too."""
    from vermilion.protocol import bulk

    if not native:
        monkeypatch.setattr(bulk, "_native", False)
    v = bytes(range(256)) * (bulk.BIG_ARG // 256 + 3)
    stream = (
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n" % (len(v), v)
        + b"*1\r\n$4\r\nPING\r\n"
        + encode([b"ECHO", v])
    )
    step = step or len(stream)
    r = cls()
    out = []
    for i in range(0, len(stream), step):
        out += r.feed(stream[i : i + step])
        assert r.pending() <= len(stream)
    assert r.error is None and r.pending() == 0
    assert out == [[b"SET", b"k", v], [b"PING"], [b"ECHO", v]]
    assert all(a.__class__ is bytes for cmd in out for a in cmd)
