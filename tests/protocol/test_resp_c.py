"""The compiled batch parser (vermilion/protocol/_resp_c.pyx) against the Python reader.

``parse_batch`` takes the plain multibulk requests of a read and stops at the first
one it is not sure about; the readers hand the rest to their Python path. So for
any stream, however split, a reader with it must give the same commands, the same
protocol error and the same pending bytes as without it. These tests are skipped
(saying so) where the module was not built.
"""

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from vermilion.protocol import reader as reader_mod
from vermilion.protocol.bulk import BIG_ARG
from vermilion.protocol.reader import (
    DEFAULT_MAX_BULK_LEN,
    HAVE_C,
    HAVE_HIREDIS,
    HiredisReader,
    PyReader,
    make_reader,
)

from test_reader import NO_C, encode

pytestmark = pytest.mark.skipif(not HAVE_C, reason=NO_C)

if HAVE_C:
    from vermilion.protocol._resp_c import BULK_CAP, parse_batch

MAXB = DEFAULT_MAX_BULK_LEN


def test_takes_plain_requests_and_stops_at_a_partial_one():
    req = encode([b"SET", b"key", b"value"])
    data = req * 3 + req[:-3]
    assert parse_batch(data, 0, MAXB) == ([[b"SET", b"key", b"value"]] * 3, 3 * len(req))
    assert parse_batch(req * 2, len(req), MAXB) == ([[b"SET", b"key", b"value"]], 2 * len(req))
    assert parse_batch(b"*1\r\n$0\r\n\r\n", 0, MAXB) == ([[b""]], 10)
    assert parse_batch(b"", 0, MAXB) == ([], 0)
    binary = bytes(range(256))
    assert parse_batch(encode([binary, b"\r\n"]), 0, MAXB)[0] == [[binary, b"\r\n"]]


@pytest.mark.parametrize(
    "unusual",
    [
        b'ECHO "a b"\r\n',  # inline with quotes, NUL, \v or \f: sdssplitargs' own rules
        b"ECHO 'a'\r\n",
        b"PI\x00NG\r\n",
        b"PI\x0bNG\r\n",
        b"PI\x0cNG\r\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"*01\r\n$1\r\na\r\n",  # leading zero: string2ll refuses it
        b"*+1\r\n$1\r\na\r\n",
        b"* 1\r\n$1\r\na\r\n",
        b"*1\n$1\r\na\r\n",
        b"*1\rx$1\r\na\r\n",  # (Redis does not check the \n: the Python reader's call)
        b"*1000000\r\n" + b"$1\r\na\r\n" * 10,  # seven digits
        b"*2\r\n$1\r\na\r\n",  # more elements than the bytes could hold
        b"*1\r\n:1\r\n",
        b"*1\r\n+OK\r\n",
        b"*1\r\n*1\r\n$1\r\na\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$01\r\na\r\n",
        b"*1\r\n$1\r\nab\r\n",  # payload not followed by CRLF
        b"*1\r\n$1\r\na\n\n",
        b"*1\r\n$2000000000\r\n",
        b"*1\r\n$%d\r\n%s\r\n" % (BIG_ARG, b"x" * BIG_ARG),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk",  # partial
    ],
)
def test_stops_at_what_it_is_not_sure_about(unusual):
    head = encode([b"PING"]) * 2
    got, stop = parse_batch(head + unusual + encode([b"PING"]), 0, MAXB)
    assert got == [[b"PING"]] * 2 and stop == len(head)


def test_plain_inline_lines():
    data = b"PING\r\nSET k v\n  \r\n\r\nGET  a\tb\r\rc\r\n" + encode([b"PING"])
    assert parse_batch(data, 0, MAXB) == (
        [[b"PING"], [b"SET", b"k", b"v"], [b"GET", b"a", b"b", b"c"], [b"PING"]],
        len(data),
    )
    # a line whose newline is not in the read yet is left for later
    assert parse_batch(b"PING\r\nPIN", 0, MAXB) == ([[b"PING"]], 6)
    assert parse_batch(b"PING", 0, MAXB) == ([], 0)


def test_max_bulk_and_the_cap():
    assert BULK_CAP < BIG_ARG  # big bulks stay protocol/bulk.py's
    data = encode([b"abcd"])
    assert parse_batch(data, 0, 4) == ([[b"abcd"]], len(data))
    assert parse_batch(data, 0, 3) == ([], 0)
    assert parse_batch(data, 0, 2**63 - 1) == ([[b"abcd"]], len(data))  # (CONFIG's maximum)
    assert parse_batch(data, 0, -1) == ([], 0)
    big = encode([b"x" * BULK_CAP])
    assert parse_batch(big, 0, MAXB)[1] == len(big)
    assert parse_batch(encode([b"x" * (BULK_CAP + 1)]), 0, MAXB) == ([], 0)


def test_odd_arguments_never_raise():
    assert parse_batch(bytearray(encode([b"PING"])), 0, MAXB) == ([], 0)
    assert parse_batch(encode([b"PING"]), -5, MAXB) == ([], -5)
    assert parse_batch(encode([b"PING"]), 100, MAXB) == ([], 100)


# Pieces of a stream: plain requests (the C parser's) and everything it leaves to
# Python: inline requests, odd headers, RESP3 elements, partial requests, garbage.
_plain = st.lists(st.binary(max_size=12), min_size=1, max_size=4).map(encode)
_longer = st.integers(4000, 9000).map(lambda n: encode([b"SET", b"k", b"v" * n]))
_odd = st.sampled_from(
    [
        b"PING\r\n",
        b"SET k v\n",
        b'ECHO "a b"\r\n',
        b'SET "a\r\n',
        b"\r\n",
        b"   \r\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"*01\r\n$1\r\na\r\n",
        b"*+1\r\n$1\r\na\r\n",
        b"*1\rx$1\r\na\r\n",
        b"*1\n$1\r\na\r\n",
        b"*1\r\n$1\r\nab\r\n",
        b"*1\r\n$01\r\na\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$2000000000\r\n",
        b"*2000000000\r\n",
        b"*3000000000\r\n",
        b"*x\r\n",
        b"*1\r\n:5\r\n",
        b"*1\r\n+PING\r\n",
        b"*1\r\n=8\r\ntxt:PING\r\n",
        b"*2\r\n$3\r\nGET\r\n~1\r\n$1\r\na\r\n",
        b"*1\r\n*1\r\n$1\r\na\r\n",
        b"*2\r\n$3\r\nGET\r\n",  # the start of a request another piece continues
        b"$3\r\nabc\r\n",
        b"*12\r\n" + b"$1\r\na\r\n" * 12,
        b"*11\r\n" + b"$1\r\na\r\n" * 11,  # over the unauthenticated limit
        b"*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n",
        b"*1\r\n$20000\r\n" + b"y" * 20000 + b"\r\n",
    ]
)
# inline lines made of words, blanks and the bytes that send a line the long way
_inline = st.lists(
    st.sampled_from([b"a", b"SET", b"\t", b" ", b"\r", b"'", b'"', b"\\", b"\x00", b"\x0b"]),
    max_size=6,
).map(lambda ps: b"".join(ps) + b"\r\n")
_piece = st.one_of(_plain, _plain, _plain, _odd, _inline, _longer, st.binary(max_size=16))


@settings(max_examples=500, deadline=None)
@given(st.lists(_piece, max_size=6), st.binary(max_size=40))
def test_what_it_takes_the_python_reader_takes_the_same(pieces, blob):
    # whatever it consumes, the pure-Python reader reads as the same requests,
    # ending on a boundary with nothing pending
    data = b"".join(pieces) + blob
    got, stop = parse_batch(data, 0, MAXB)
    assert 0 <= stop <= len(data)
    py = PyReader()
    assert py.feed(data[:stop]) == got
    assert py.error is None and py.pending() == 0
    assert all(cmd and all(a.__class__ is bytes for a in cmd) for cmd in got)


def _feed_all(make, chunks, unauth):
    """Feed ``chunks`` as the connection does (netio): commands, error, and the
    reader's pending()/big_bulk() after each read."""
    r = make()
    r.unauth = unauth
    out, seen = [], []
    for ch in chunks:
        out.extend(r.feed(ch))
        while r.more and r.error is None:
            r.more = False
            out.extend(r.feed(b""))
        seen.append((r.pending(), r.big_bulk()))
        if r.error:
            break
    return out, r.error, seen


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_piece, min_size=1, max_size=8),
    st.data(),
    st.sampled_from([DEFAULT_MAX_BULK_LEN, DEFAULT_MAX_BULK_LEN, 3, 10, 20000]),
    st.sampled_from([False, False, False, True]),
)
def test_with_and_without_it_the_readers_agree(pieces, data, max_bulk_len, unauth):
    """Random valid and invalid streams, split at random points: the same commands
    and the same protocol error with the compiled parser and without it, in both
    readers (and, for the Python reader, the same pending bytes after every read)."""
    stream = b"".join(pieces)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=6))))
    chunks = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)]) if stream[a:b]]
    py = _feed_all(lambda: PyReader(max_bulk_len, use_c=False), chunks, unauth)
    py_c = _feed_all(lambda: PyReader(max_bulk_len, use_c=True), chunks, unauth)
    assert py_c == py
    if HAVE_HIREDIS:
        hi = _feed_all(lambda: HiredisReader(max_bulk_len, use_c=False), chunks, unauth)
        hi_c = _feed_all(lambda: HiredisReader(max_bulk_len, use_c=True), chunks, unauth)
        assert hi_c[:2] == hi[:2]
        assert hi[:2] == py[:2]


def test_readers_use_it_only_when_asked():
    assert PyReader()._batch is None
    assert PyReader(use_c=True)._batch is parse_batch
    assert make_reader(use_hiredis=False)._batch is None  # embed's pure_python
    # where it is built, the default is the Python reader with it (see make_reader)
    default = make_reader()
    assert type(default) is PyReader and default._batch is parse_batch
    assert make_reader(use_c=False)._batch is None
    if HAVE_HIREDIS:
        assert type(make_reader(use_c=False)) is HiredisReader
        asked = make_reader(use_hiredis=True)
        assert type(asked) is HiredisReader and asked._batch is parse_batch
        assert HiredisReader()._batch is parse_batch
        assert HiredisReader(use_c=False)._batch is None


def test_without_the_module_the_readers_are_as_before(monkeypatch):
    monkeypatch.setattr(reader_mod, "parse_batch", None)
    monkeypatch.setattr(reader_mod, "HAVE_C", False)
    assert make_reader()._batch is None
    assert make_reader(use_c=True)._batch is None
    assert reader_mod.PyReader(use_c=True)._batch is None


def test_the_environment_can_turn_it_off():
    code = "from vermilion.protocol import reader; print(reader.parse_batch, reader.HAVE_C)"
    env = dict(os.environ, VERMILION_NO_RESP_C="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["None", "False"], out.stderr
