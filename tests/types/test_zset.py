"""ZSet (vermilion/types/zset.py) against a naive model: a plain sorted list.

Random operation sequences (hypothesis) run on both; after every step the
blocked index must hold exactly the model's elements, in order, and every rank,
score-range and lex-range question must get the model's answer. Small block
sizes are patched in so that splits and merges happen constantly.
"""

import math
import random
from bisect import bisect_left

import pytest
from hypothesis import given, settings, strategies as st

from vermilion.types import zset as zmod
from vermilion.types.zset import ZSet, parse_lex_bound, lex_empty


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(zmod, "_LOAD", 4)
    monkeypatch.setattr(zmod, "_SPLIT", 8)
    monkeypatch.setattr(zmod, "_MERGE", 2)
    monkeypatch.setattr(zmod, "_HEAD", 3)


members = st.binary(min_size=0, max_size=3)
scores = st.one_of(
    st.integers(-5, 5).map(float), st.sampled_from([math.inf, -math.inf, 0.5, -0.0, 1e300])
)

ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), scores, members),
        st.tuples(st.just("rem"), members),
        st.tuples(st.just("popmin"), st.integers(1, 6)),
        st.tuples(st.just("popmin"), st.just(1)),  # (ZPOPMIN's own path, ZSet.pop_first)
        st.tuples(st.just("popmax"), st.integers(1, 6)),
        st.tuples(st.just("delrank"), st.integers(0, 40), st.integers(0, 40)),
    ),
    max_size=120,
)


def pairs(r):
    """A (scores, members) range as (score, member) tuples."""
    scores, members = r
    assert len(scores) == len(members)
    return list(zip(scores, members))


def check(zs, model):
    assert list(zs) == model
    assert [(s, m) for m, s in zs.items()] == model
    assert len(zs) == len(model)
    assert zs.dict == {m: s for s, m in model}
    assert len(zs._scores) == len(zs._members) == len(zs._max_s) == len(zs._max_m)
    for sc, mb, ms, mm in zip(zs._scores, zs._members, zs._max_s, zs._max_m):
        assert sc and len(sc) == len(mb) and (sc[-1], mb[-1]) == (ms, mm)
    for r, (s, m) in enumerate(model):
        assert zs.rank(m) == r
        assert zs.at(r) == (s, m)
    n = len(model)
    for a in range(0, n + 1, 3):
        for b in range(a, n + 2, 2):
            assert pairs(zs.range(a, min(b, n))) == model[a : min(b, n)]
            assert pairs(zs.rev_range(a, min(b, n))) == model[::-1][a : min(b, n)]


@settings(max_examples=300, deadline=None)
@given(ops)
def test_random_operations(ops):
    zs = ZSet(listpack=False)
    model = []
    for op in ops:
        if op[0] == "add":
            _, s, m = op
            old = zs.score(m)
            if old is None:
                zs.insert(m, s)
            else:
                zs.update(m, old, s)
                model.remove((old, m))
            model.insert(bisect_left(model, (s, m)), (s, m))
        elif op[0] == "rem":
            old = zs.score(op[1])
            assert zs.remove(op[1]) == (old is not None)
            if old is not None:
                model.remove((old, op[1]))
        elif op[0] == "popmin":
            k = min(op[1], len(model))
            assert pairs(zs.pop_first(op[1])) == model[:k]
            del model[:k]
        elif op[0] == "popmax":
            k = min(op[1], len(model))
            assert pairs(zs.pop_last(op[1])) == model[::-1][:k]
            del model[len(model) - k :]
        elif op[0] == "delrank":
            a, b = sorted(op[1:])
            b = min(b, len(model))
            a = min(a, b)
            assert pairs(zs.delete_range(a, b)) == model[a:b]
            del model[a:b]
        check(zs, model)


def test_popmin_one_at_a_time():
    """ZPOPMIN's path: the first block is cut to _HEAD elements and popped from,
    with inserts (some below the current minimum) in between."""
    rnd = random.Random(3)
    zs = ZSet(listpack=False)
    model = []
    for i in range(60):
        s, m = float(rnd.randint(-20, 20)), b"m%d" % i
        zs.insert(m, s)
        model.insert(bisect_left(model, (s, m)), (s, m))
    check(zs, model)
    for step in range(200):
        if model and step % 5:
            assert pairs(zs.pop_first(1)) == model[:1]
            del model[:1]
        else:
            s, m = float(rnd.randint(-25, 25)), b"n%d" % step
            zs.insert(m, s)
            model.insert(bisect_left(model, (s, m)), (s, m))
        check(zs, model)
    assert not model and not zs._members


bounds = st.tuples(st.sampled_from([-math.inf, -1.0, 0.0, 0.5, 2.0, math.inf]), st.booleans())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(members, scores, max_size=40), bounds, bounds)
def test_score_span(d, lo, hi):
    zs = ZSet.from_dict(dict(d), listpack=False)
    model = sorted((s, m) for m, s in d.items())
    (a, aex), (b, bex) = lo, hi
    want = [
        x for x in model if (x[0] > a if aex else x[0] >= a) and (x[0] < b if bex else x[0] <= b)
    ]
    first, stop = zs.score_span(a, aex, b, bex)
    assert model[first:stop] == want


lexb = st.one_of(
    st.sampled_from([b"-", b"+"]),
    st.tuples(st.sampled_from([b"[", b"("]), members).map(lambda t: t[0] + t[1]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(members, unique=True, max_size=40), lexb, lexb)
def test_lex_span_equal_scores(ms, lo, hi):
    zs = ZSet.from_dict({m: 1.0 for m in ms}, listpack=False)
    model = sorted(ms)
    lo, hi = parse_lex_bound(lo), parse_lex_bound(hi)
    gte, lte = zmod.lex_gte(lo), zmod.lex_lte(hi)
    want = [m for m in model if gte(m) and lte(m)]
    first, stop = zs.lex_span(lo, hi)
    assert [m for _, m in list(zs)[first:stop]] == want
    # the listpack-style scan agrees on sorted members
    start = zs.lex_scan_start(lo, hi, False)
    if want and not lex_empty(lo, hi):
        assert start == first
    rstart = zs.lex_scan_start(lo, hi, True)
    if want and not lex_empty(lo, hi):
        assert rstart == stop - 1


def test_free_some_and_copy():
    zs = ZSet.from_dict({b"m%d" % i: float(i) for i in range(100)}, listpack=False)
    c = zs.copy()
    freed = 0
    while len(zs):
        freed += zs.free_some(7)
    assert freed >= 100 and len(zs) == 0
    assert len(c) == 100 and c.rank(b"m50") == 50


def test_listpack_keeps_no_negative_zero():
    zs = ZSet()
    zs.insert(b"a", -0.0)
    assert math.copysign(1, zs.score(b"a")) == 1
    zs2 = ZSet(listpack=False)
    zs2.insert(b"a", -0.0)
    assert math.copysign(1, zs2.score(b"a")) == -1
    zs2.shrink_encoding(128, 64)
    assert zs2.listpack and math.copysign(1, zs2.score(b"a")) == 1
