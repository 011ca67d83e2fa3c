"""vermilion.globmatch against a line-by-line model of Redis's stringmatchlen, and
against redis-server itself (KEYS with many patterns over one key set)."""

import random

import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from vermilion import globmatch as glob


# ---------------------------------------------------------------- reference
def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


def _sc(b):
    """A byte as C's (signed) char."""
    return b - 256 if b >= 128 else b


def ref_match(pattern, string, nocase=False):
    """A direct model of util.c stringmatchlen: pointer arithmetic over a
    NUL-terminated pattern, the same checks in the same order."""
    P = pattern + b"\0"  # sds strings are NUL-terminated; Redis may read it
    skip = [False]

    def impl(p, plen, s, slen, nesting=0):
        if nesting > 1000:  # protection against abusive patterns
            return False
        while plen and slen:
            c = P[p]
            if c == 42:  # '*'
                while plen and P[p + 1] == 42:
                    p += 1
                    plen -= 1
                if plen == 1:
                    return True
                while slen:
                    if impl(p + 1, plen - 1, s, slen, nesting + 1):
                        return True
                    if skip[0]:
                        return False
                    s += 1
                    slen -= 1
                skip[0] = True
                return False
            elif c == 63:  # '?'
                s += 1
                slen -= 1
            elif c == 91:  # '['
                p += 1
                plen -= 1
                neg = P[p] == 94
                if neg:
                    p += 1
                    plen -= 1
                m = False
                while True:
                    if P[p] == 92 and plen >= 2:
                        p += 1
                        plen -= 1
                        if P[p] == string[s]:
                            m = True
                    elif P[p] == 93:
                        break
                    elif plen == 0:
                        p -= 1
                        plen += 1
                        break
                    elif plen >= 3 and P[p + 1] == 45:
                        start, end, ch = _sc(P[p]), _sc(P[p + 2]), _sc(string[s])
                        if start > end:
                            start, end = end, start
                        if nocase:
                            start, end, ch = _lower(start), _lower(end), _lower(ch)
                        p += 2
                        plen -= 2
                        if start <= ch <= end:
                            m = True
                    else:
                        if not nocase:
                            if P[p] == string[s]:
                                m = True
                        elif _lower(P[p]) == _lower(string[s]):
                            m = True
                    p += 1
                    plen -= 1
                if neg:
                    m = not m
                if not m:
                    return False
                s += 1
                slen -= 1
            else:
                if c == 92 and plen >= 2:
                    p += 1
                    plen -= 1
                if not nocase:
                    if P[p] != string[s]:
                        return False
                elif _lower(P[p]) != _lower(string[s]):
                    return False
                s += 1
                slen -= 1
            p += 1
            plen -= 1
            if slen == 0:
                while P[p] == 42:
                    p += 1
                    plen -= 1
                break
        return plen == 0 and slen == 0

    return impl(0, len(pattern), 0, len(string))


# ------------------------------------------------------------------- cases
CASES = [
    (b"", b"", True),
    (b"", b"a", False),
    (b"*", b"", False),
    (b"**", b"", False),
    (b"*", b"abc", True),
    (b"a*", b"a", True),
    (b"a*", b"", False),
    (b"*a", b"a", True),
    (b"h?llo", b"hello", True),
    (b"h?llo", b"hllo", False),
    (b"h*llo", b"heeeello", True),
    (b"h[ae]llo", b"hallo", True),
    (b"h[ae]llo", b"hillo", False),
    (b"h[^e]llo", b"hallo", True),
    (b"h[^e]llo", b"hello", False),
    (b"h[a-b]llo", b"hbllo", True),
    (b"h[b-a]llo", b"hallo", True),
    (b"[", b"[", False),
    (b"[", b"a", False),
    (b"[^", b"x", True),
    (b"[^", b"", False),
    (b"[abc", b"b", True),
    (b"[abc", b"d", False),
    (b"[]", b"]", False),
    (b"[^]", b"x", True),
    (b"[]a]", b"]a]", False),
    (b"[a-]", b"^", True),
    (b"[a-]", b"-", False),
    (b"\\*", b"*", True),
    (b"\\*", b"a", False),
    (b"a\\", b"a\\", True),
    (b"[\\]]", b"]", True),
    (b"[\\", b"\\", True),
    (b"[a\\", b"\\", True),
    (b"[a-\xff]", b"\xff", True),
    (b"[a-\xff]", b"\x00", True),
    (b"[a-\xff]", b"b", False),
    (b"[a-\xff]", b"\x80", False),
    (b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", b"a" * 40, False),
    (b"*a*b*c*", b"xxaxxbxxcxx", True),
    (b"*a*b*c*", b"xxaxxcxxbxx", False),
    (b"*\x00*", b"a\x00b", True),
    (b"?", b"\n", True),
    (b"*", b"\n", True),
]


@pytest.mark.parametrize("pattern,s,expected", CASES)
def test_cases(pattern, s, expected):
    assert ref_match(pattern, s) == expected
    assert glob.match(pattern, s) == expected
    assert bool(glob.compile(pattern).filter([s])) == expected


NOCASE = [
    (b"HELLO", b"hello", True),
    (b"h[A-Z]llo", b"hello", True),
    (b"[Z-a]", b"z", False),
    (b"[Z-a]", b"Z", False),
    (b"[\\A]", b"a", False),
    (b"[\\A]", b"A", True),
    (b"\\A", b"a", True),
    (b"*LLO", b"hello", True),
    (b"[^A]", b"a", False),
]


@pytest.mark.parametrize("pattern,s,expected", NOCASE)
def test_nocase(pattern, s, expected):
    assert ref_match(pattern, s, True) == expected
    assert glob.match(pattern, s, nocase=True) == expected


def test_long_nested_stars_are_fast():
    import time

    pat = b"*a" * 30 + b"*b"
    t = time.perf_counter()
    assert not glob.match(pat, b"a" * 5000)
    assert glob.match(pat, b"a" * 5000 + b"b")
    assert time.perf_counter() - t < 1.0


def test_nesting_limit():
    # stringmatchlen gives up past 1000 nested '*': such a pattern matches nothing,
    # at once (Redis's "very long nested loops" regression test: 50000 '*?').
    import time

    t = time.perf_counter()
    assert not glob.match(b"*?" * 50000, b"a" * 50000)
    assert glob.compile(b"*?" * 50000).filter([b"a" * 50000, b"b"]) == []
    assert time.perf_counter() - t < 1.0
    key = b"a" * 1001
    assert not glob.match(b"*a" * 1001, key)  # 1001 nested stars
    assert glob.match(b"*a" * 1000, key)
    assert glob.match(b"*a" * 1000 + b"*", key)  # a final '*' does not nest
    assert glob.match(b"a*" * 1001, key)
    assert glob.match(b"*" * 5000 + b"a" * 1001, key)  # a run of '*' is one


_ALPHA = b"ab*?[]^-\\\x00\xffA"
pattern_st = st.lists(st.sampled_from(list(_ALPHA)), max_size=10).map(bytes)
subject_st = st.lists(st.sampled_from(list(b"ab*?[]^-\\\x00\xffAB")), max_size=10).map(bytes)


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(pattern_st, subject_st, st.booleans())
def test_against_reference(pattern, s, nocase):
    expected = ref_match(pattern, s, nocase)
    assert glob.match(pattern, s, nocase) == expected
    assert bool(glob.compile(pattern, nocase).filter([s])) == expected


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=8), st.binary(max_size=8), st.booleans())
def test_against_reference_any_bytes(pattern, s, nocase):
    assert glob.match(pattern, s, nocase) == ref_match(pattern, s, nocase)


def test_compile_cached_and_filter_order():
    g = glob.compile(b"k*")
    assert glob.compile(b"k*") is g
    assert glob.compile(bytearray(b"k*")) is g
    assert glob.compile_pattern(b"k*")(b"k1")
    assert g.filter([b"k1", b"x", b"k2", b"", b"k"]) == [b"k1", b"k2", b"k"]
    assert glob.compile(b"*").filter([b"", b"a"]) == [b"a"]
    assert glob.compile(b"*b*").filter([b"abc", b"", b"b", b"a"]) == [b"abc", b"b"]


def test_keys_speed_million():
    import time

    keys = [b"key:%d" % i for i in range(1000000)]
    for pat in (b"key:1*", b"*99", b"*:5*", b"key:[12]?", b"k?y:*7"):
        g = glob.compile(pat)
        t = time.perf_counter()
        g.filter(keys)
        assert time.perf_counter() - t < 2.0, pat


# ------------------------------------------------- against redis-server (KEYS)
def _keys(conn, pattern):
    """KEYS over a raw connection -> sorted list of names."""
    raw = conn.call(b"KEYS", pattern)
    assert raw.startswith(b"*"), raw
    n, _, rest = raw.partition(b"\r\n")
    out = []
    for _ in range(int(n[1:])):
        hdr, _, rest = rest.partition(b"\r\n")
        ln = int(hdr[1:])
        out.append(rest[:ln])
        rest = rest[ln + 2 :]
    return sorted(out)


def test_keys_patterns_against_redis(diff):
    rnd = random.Random(7)
    alpha = b"abAB*?[]^-\\\xff\x00x"
    names = {b"", b"a", b"A", b"[", b"]", b"\\", b"*", b"?", b"-", b"^", b"\xff", b"\x00"}
    while len(names) < 300:
        names.add(bytes(rnd.choice(b"abAB[]^-\\\xffx\x00*?") for _ in range(rnd.randint(1, 6))))
    pipe = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\n1\r\n" % (len(k), k) for k in names)
    diff.raw(pipe, replies=len(names))
    patterns = {b"*", b"", b"[", b"[^", b"[]", b"[^]", b"\\", b"[a-]", b"[a-\xff]", b"[\\"}
    while len(patterns) < 1500:
        patterns.add(bytes(rnd.choice(alpha) for _ in range(rnd.randint(1, 7))))
    for pat in sorted(patterns):
        ref = _keys(diff.ref, pat)
        ours = _keys(diff.our, pat)
        assert ours == ref, pat
        assert ours == sorted(k for k in names if pat == b"*" or ref_match(pat, k)), pat


def test_nesting_limit_against_redis(diff):
    key = b"a" * 1001
    diff("SET", key, "1")
    for pat in (b"*a" * 1001, b"*a" * 1000, b"*a" * 1000 + b"*", b"a*" * 1001, b"*?" * 1001):
        assert _keys(diff.our, pat) == _keys(diff.ref, pat), pat[:10]
        diff("SCAN", "0", "MATCH", pat, "COUNT", "100")
    diff("FLUSHALL")
    diff("SET", b"a" * 50000, "1")
    diff("KEYS", b"*?" * 50000)
    diff("SCAN", "0", "MATCH", b"*?" * 50000)


def test_keys_single_key_byte_identical(diff):
    diff("SET", "hello", "1")
    for pat in (
        "h?llo",
        "h*",
        "*llo",
        "h[a-f]llo",
        "h[^e]llo",
        "[",
        "*",
        "hello",
        "HELLO",
        "h\\ello",
        "*l*l*",
        "x*",
    ):
        diff("KEYS", pat)
