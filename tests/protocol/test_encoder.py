"""The reply encoder: RESP2 and RESP3 spellings of every reply type."""

import hiredis
import pytest
from hypothesis import given, strategies as st

from vermilion.protocol.encoder import (
    encode,
    Status,
    ErrorReply,
    Map,
    Set,
    Push,
    Bool,
    Verbatim,
    BigNumber,
    NULL_ARRAY,
    OK,
    format_double,
)


@pytest.mark.parametrize(
    "value,resp2,resp3",
    [
        (b"foo", b"$3\r\nfoo\r\n", b"$3\r\nfoo\r\n"),
        (bytearray(b"ab"), b"$2\r\nab\r\n", b"$2\r\nab\r\n"),
        (42, b":42\r\n", b":42\r\n"),
        (-1, b":-1\r\n", b":-1\r\n"),
        (None, b"$-1\r\n", b"_\r\n"),
        (NULL_ARRAY, b"*-1\r\n", b"_\r\n"),
        ([b"a", 1, None], b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", b"*3\r\n$1\r\na\r\n:1\r\n_\r\n"),
        (Status("OK"), b"+OK\r\n", b"+OK\r\n"),
        (OK, b"+OK\r\n", b"+OK\r\n"),
        (ErrorReply("ERR x"), b"-ERR x\r\n", b"-ERR x\r\n"),
        (1.5, b"$3\r\n1.5\r\n", b",1.5\r\n"),
        (1.1, b"$18\r\n1.1000000000000001\r\n", b",1.1000000000000001\r\n"),
        (float("inf"), b"$3\r\ninf\r\n", b",inf\r\n"),
        (float("-inf"), b"$4\r\n-inf\r\n", b",-inf\r\n"),
        ({b"k": b"v"}, b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n", b"%1\r\n$1\r\nk\r\n$1\r\nv\r\n"),
        (Map([b"k", 1]), b"*2\r\n$1\r\nk\r\n:1\r\n", b"%1\r\n$1\r\nk\r\n:1\r\n"),
        (Set([b"a"]), b"*1\r\n$1\r\na\r\n", b"~1\r\n$1\r\na\r\n"),
        (Push([b"message"]), b"*1\r\n$7\r\nmessage\r\n", b">1\r\n$7\r\nmessage\r\n"),
        (Bool(True), b":1\r\n", b"#t\r\n"),
        (Verbatim(b"hi"), b"$2\r\nhi\r\n", b"=6\r\ntxt:hi\r\n"),
        (
            BigNumber(12345678901234567890),
            b"$20\r\n12345678901234567890\r\n",
            b"(12345678901234567890\r\n",
        ),
    ],
)
def test_spellings(value, resp2, resp3):
    assert encode(value, 2) == resp2
    assert encode(value, 3) == resp3


def test_double_format_matches_printf_17g():
    assert format_double(0.1) == b"0.10000000000000001"
    assert format_double(1e100) == b"1e+100"
    assert format_double(123456789012345678.0) == b"1.2345678901234568e+17"


values = st.recursive(
    st.one_of(st.binary(max_size=30), st.integers(-(2**63), 2**63 - 1), st.none()),
    lambda children: st.lists(children, max_size=5),
    max_leaves=20,
)


@given(values)
def test_resp2_round_trips_through_hiredis(v):
    r = hiredis.Reader()
    r.feed(encode(v, 2))
    assert r.gets() == v


@given(values)
def test_resp3_round_trips_through_hiredis(v):
    r = hiredis.Reader()
    r.feed(encode(v, 3))
    assert r.gets() == v
