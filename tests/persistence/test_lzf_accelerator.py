"""LZF's optional C accelerator (python-lzf) and the pure-Python codec give the same
bytes (issue #15 item 5: SAVE speed).

``lzf.compress`` hands the matching loop to python-lzf when it is installed; the
pure-Python loop ``lzf._compress`` is what runs without it. Both must produce the
same stream for every input and budget, also when many inputs go through the C
compressor one after the other (its hash table is not cleared between calls), so
that RDB files and DUMP payloads do not depend on what is installed. The decoders
must agree on valid streams and refuse the same garbage.
"""

import random

import pytest
from hypothesis import given, settings, strategies as st

from vermilion.persistence import lzf
from vermilion.persistence.errors import CorruptError

pytestmark = pytest.mark.skipif(
    lzf._c_compress is None, reason="python-lzf is not installed (the 'lzf' extra)"
)

_repetitive = st.lists(
    st.sampled_from([b"a", b"ab", b"abc", b"hello ", b"\x00" * 7, b"xyz" * 9, b"0123456789"]),
    max_size=400,
).map(b"".join)
_mixed = st.builds(
    lambda parts: b"".join(parts),
    st.lists(st.one_of(st.binary(max_size=40), _repetitive), max_size=12),
)
_inputs = st.one_of(st.binary(min_size=2, max_size=3000), _repetitive, _mixed)


def _both(data, budget):
    n = len(data)
    return lzf._c_compress(data, budget - 1), lzf._compress(data, n, budget)


@settings(max_examples=400, deadline=None)
@given(_inputs)
def test_c_loop_gives_the_python_loops_bytes(data):
    n = len(data)
    for budget in (n - 4, n - 1, n, n + 8, n + n // 32 + 2):
        if n > 1 and budget > 1:
            c, py = _both(data, budget)
            assert c == py


def test_c_loop_many_calls_in_a_row():
    """Stale hash slots left by earlier inputs never change the output."""
    rnd = random.Random(15)
    alphabets = [b"ab", b"abcdefgh", b"hello world ", bytes(range(256)), b"\x00\x01"]
    for _ in range(4000):
        n = rnd.randint(2, 1200)
        alpha = rnd.choice(alphabets)
        if rnd.random() < 0.5:
            data = bytes(rnd.choice(alpha) for _ in range(n))
        else:  # a block repeated with changes: long back references
            block = bytes(rnd.choice(alpha) for _ in range(rnd.randint(1, 60)))
            data = bytearray((block * (n // len(block) + 1))[:n])
            for _ in range(rnd.randint(0, 5)):
                data[rnd.randrange(n)] = rnd.randrange(256)
            data = bytes(data)
        budget = rnd.choice([n - 4, n - 1, n + 8])
        if budget > 1:
            c, py = _both(data, budget)
            assert c == py, (data, budget)


@settings(max_examples=300, deadline=None)
@given(_inputs)
def test_compress_same_with_and_without_the_accelerator(data):
    """The public entry point, prechecks included, in both configurations."""
    n = len(data)
    saved = lzf._c_compress
    try:
        fast = [lzf.compress(data, b) for b in (n - 4, n, None)]
        lzf._c_compress = None
        slow = [lzf.compress(data, b) for b in (n - 4, n, None)]
    finally:
        lzf._c_compress = saved
    assert fast == slow


@settings(max_examples=300, deadline=None)
@given(_inputs)
def test_decoders_agree_on_valid_streams(data):
    c = lzf.compress(data)
    if c is not None:
        assert lzf.decompress(c, len(data)) == data
        assert lzf._decompress(c, len(data)) == data


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 600))
def test_decoders_refuse_the_same_garbage(blob, n):
    def run(f):
        try:
            return f(blob, n)
        except CorruptError:
            return "refused"

    assert run(lzf.decompress) == run(lzf._decompress)
