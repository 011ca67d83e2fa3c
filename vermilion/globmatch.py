"""Glob-style matching exactly as Redis's ``stringmatchlen`` (util.c).

Used by KEYS, SCAN/HSCAN/SSCAN/ZSCAN MATCH, PSUBSCRIBE, CONFIG GET and ACL
channel patterns. The syntax:

* ``*`` any run of bytes (runs of ``*`` count as one), ``?`` any one byte;
* ``[abc]`` one of the bytes, ``[^abc]`` any byte but those, ``[a-z]`` a range;
  a reversed range ``[z-a]`` is the same as ``[a-z]``; inside brackets ``\\x``
  is the byte ``x`` (compared case-sensitively even in ``nocase`` mode);
* ``\\x`` outside brackets is the literal ``x``; a ``\\`` ending the pattern is a
  literal backslash;
* everything else is itself.

Redis's quirks are kept, because clients see them:

* an unterminated class ``[abc`` still matches one byte among ``a``, ``b``, ``c``
  (``[`` alone never matches, ``[^`` alone matches any one byte);
* ``]`` right after ``[`` (or ``[^``) closes an empty class: ``[]`` never matches,
  ``[^]`` matches any byte;
* ``[a-]`` is a range from ``a`` to ``]`` (the ``-`` is taken as a range before
  the ``]`` is seen);
* range ends are compared as *signed* chars, as C does on x86: ``[a-\\xff]`` is
  the range ``\\xff`` (-1) .. ``a``;
* ``nocase`` folds ASCII letters only (C's ``tolower`` in the "C" locale); in a
  range, both ends are folded after ordering them, so ``[Z-a]`` matches nothing
  in ``nocase`` mode;
* ``*`` can never match across the end: the pattern ``*`` does not match the
  empty string (KEYS and SCAN special-case the pattern ``*`` before calling us);
* stringmatchlen recurses once per ``*`` and gives up past 1000 levels (its guard
  against abusive patterns): a pattern with more than 1000 runs of ``*`` that
  are followed by something matches nothing at all (a final ``*`` matches at
  once, without recursing, so it does not count).

How it is fast: a pattern is parsed once into tokens (a literal byte, ``?``,
a byte class or ``*``; parsing depends on the pattern only), and the tokens
become a Python ``re`` (every token but ``*`` is one byte wide, so the
translation is exact). Patterns with two or more ``*`` put each segment between
stars in an atomic group: the leftmost match of a fixed-width segment is always
the best one, so nothing is ever retried, which keeps Redis's guarantee that
``a*a*a*...*b`` against ``aaaa...`` answers at once. The common shapes (an exact
name, ``prefix*``, ``*suffix``, ``*infix*``, ``*``) skip ``re`` altogether.

API::

    match(pattern, s, nocase=False) -> bool
    p = compile(pattern, nocase=False)   # cached
    p.match(s)          # truthy / falsy
    p.filter(iterable)  # list of the matching items, fastest for KEYS-style scans
"""

import functools
import re

__all__ = ["match", "compile", "compile_pattern", "Glob"]

try:
    re.compile(b"(?>a)")
    _ATOMIC = True
except re.error:  # Python < 3.11: no atomic groups; segments are searched one by one
    _ATOMIC = False

# Token kinds.
_LIT = 0  # (kind, byte)
_ANY = 1  # (kind, None): ?
_CLASS = 2  # (kind, frozenset of byte values)
_STAR = 3  # (kind, None)

_SPECIAL = frozenset(b"*?[\\")

# stringmatchlen_impl's "if (nesting > 1000) return 0;"
_MAX_NESTING = 1000


def _signed(b):
    return b - 256 if b >= 128 else b


def _lower(b):
    """C tolower() in the "C" locale, on a (possibly negative) char value."""
    return b + 32 if 65 <= b <= 90 else b


def _class_members(items, negate, nocase):
    """The bytes (0..255) a bracket class accepts; ``items`` from the parser.

    Linear in the number of items (a pattern may hold a huge class): literals mark
    their byte, and ranges are added to a difference array over the signed-char
    values their ends are compared in (after folding, with ``nocase``)."""
    hit = [False] * 256  # by byte value
    span = [0] * 257  # difference array over (folded) signed value + 128
    ranges = False
    for kind, a, b in set(items):
        if kind == "esc":
            hit[a] = True
        elif kind == "lit":
            hit[a] = True
            if nocase and 65 <= (a & ~32) <= 90:
                hit[a ^ 32] = True
        else:
            start, end = _signed(a), _signed(b)
            if start > end:
                start, end = end, start
            if nocase:
                start, end = _lower(start), _lower(end)
            if start <= end:
                span[start + 128] += 1
                span[end + 129] -= 1
                ranges = True
    if ranges:
        inside = []
        run = 0
        for v in range(256):
            run += span[v]
            inside.append(run > 0)
        for c in range(256):
            sc = _signed(c)
            if inside[(_lower(sc) if nocase else sc) + 128]:
                hit[c] = True
    return frozenset(c for c in range(256) if hit[c] != negate)


def _tokenize(pattern, nocase):
    """Split a pattern into tokens, following stringmatchlen's parse exactly."""
    toks = []
    n = len(pattern)
    i = 0
    while i < n:
        ch = pattern[i]
        if ch == 42:  # '*'
            if not toks or toks[-1][0] != _STAR:
                toks.append((_STAR, None))
            i += 1
        elif ch == 63:  # '?'
            toks.append((_ANY, None))
            i += 1
        elif ch == 91:  # '['
            i += 1
            negate = i < n and pattern[i] == 94  # '^'
            if negate:
                i += 1
            items = []
            while True:
                if i < n and pattern[i] == 92 and n - i >= 2:  # '\\' escape
                    items.append(("esc", pattern[i + 1], None))
                    i += 2
                elif i < n and pattern[i] == 93:  # ']'
                    i += 1
                    break
                elif i >= n:
                    # Unterminated: Redis backs up one byte and stops; the class
                    # ends with the pattern.
                    break
                elif n - i >= 3 and pattern[i + 1] == 45:  # 'a-z'
                    items.append(("range", pattern[i], pattern[i + 2]))
                    i += 3
                else:
                    items.append(("lit", pattern[i], None))
                    i += 1
            toks.append((_CLASS, _class_members(items, negate, nocase)))
        elif ch == 92 and n - i >= 2:  # '\\x'
            toks.append((_LIT, pattern[i + 1]))
            i += 2
        else:
            toks.append((_LIT, ch))
            i += 1
    return toks


def _byte_re(b):
    return b"\\x%02x" % b


def _set_re(members):
    """A regex for one byte in ``members``."""
    if not members:
        return b"(?!)"
    if len(members) == 256:
        return b"."
    if len(members) == 1:
        return _byte_re(next(iter(members)))
    out = []
    vals = sorted(members)
    start = prev = vals[0]
    for v in vals[1:] + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        if start == prev:
            out.append(_byte_re(start))
        else:
            out.append(_byte_re(start) + b"-" + _byte_re(prev))
        if v is not None:
            start = prev = v
    return b"[" + b"".join(out) + b"]"


def _tok_re(tok, nocase):
    kind, arg = tok
    if kind == _LIT:
        if nocase and (65 <= arg <= 90 or 97 <= arg <= 122):
            lo = arg | 32
            return b"[" + _byte_re(lo - 32) + _byte_re(lo) + b"]"
        return _byte_re(arg)
    if kind == _ANY:
        return b"."
    return _set_re(arg)


def _literal(toks):
    """The bytes of a token run made of exact literals only, or None."""
    if all(k == _LIT for k, _ in toks):
        return bytes(a for _, a in toks)
    return None


class Glob:
    """A compiled pattern. ``match(s)`` is a fast callable returning truthy/falsy."""

    __slots__ = ("pattern", "nocase", "match", "_kind", "_arg", "_rx")

    def __init__(self, pattern, nocase=False):
        self.pattern = pattern
        self.nocase = nocase
        self._rx = None
        toks = _tokenize(pattern, nocase)
        stars = [i for i, t in enumerate(toks) if t[0] == _STAR]
        kind = arg = None
        nested = len(stars) - (1 if stars and stars[-1] == len(toks) - 1 else 0)
        if nested > _MAX_NESTING:
            kind = "never"
        elif toks and len(stars) == len(toks):
            kind = "nonempty"  # '*': anything but the empty string
        elif not nocase:
            if not stars:
                lit = _literal(toks)
                if lit is not None:
                    kind, arg = "exact", lit
            elif len(stars) == 1 and stars[0] == len(toks) - 1:
                lit = _literal(toks[:-1])
                if lit is not None:
                    kind, arg = "prefix", lit
            elif len(stars) == 1 and stars[0] == 0:
                lit = _literal(toks[1:])
                if lit is not None:
                    kind, arg = "suffix", lit
            elif len(stars) == 2 and stars == [0, len(toks) - 1]:
                lit = _literal(toks[1:-1])
                if lit is not None:
                    kind, arg = "infix", lit
        self._kind = kind
        self._arg = arg
        if kind == "never":
            self.match = _never
        elif kind == "exact":
            self.match = arg.__eq__
        elif kind == "nonempty":
            self.match = len
        elif kind == "prefix":
            self.match = functools.partial(_startswith, arg)
        elif kind == "suffix":
            self.match = functools.partial(_endswith, arg)
        elif kind == "infix":
            self.match = functools.partial(_contains, arg)
        else:
            self._kind = "re"
            self.match = _build_re(toks, nocase)

    def filter(self, items):
        """The items of ``items`` that match, in order (a list)."""
        kind, arg = self._kind, self._arg
        if kind == "exact":
            return [k for k in items if k == arg]
        if kind == "prefix":
            return [k for k in items if k.startswith(arg)]
        if kind == "suffix":
            return [k for k in items if k.endswith(arg)]
        if kind == "infix":
            return [k for k in items if arg in k]
        if kind == "nonempty":
            return [k for k in items if k]
        if kind == "never":
            return []
        m = self.match
        return [k for k in items if m(k)]

    def __repr__(self):
        return "Glob(%r%s)" % (self.pattern, ", nocase=True" if self.nocase else "")


def _never(s):
    return False


def _startswith(p, s):
    return s.startswith(p)


def _endswith(p, s):
    return s.endswith(p)


def _contains(p, s):
    return p in s


def _build_re(toks, nocase):
    """A matcher from ``re`` for tokens that are not one of the simple shapes.

    Every token but ``*`` matches exactly one byte, so a pattern that has at
    least one non-star token can never match the empty string, in Redis as here.
    """
    segs = [[]]
    for t in toks:
        if t[0] == _STAR:
            segs.append([])
        else:
            segs[-1].append(t)
    if len(segs) == 1:
        return re.compile(b"".join(_tok_re(t, nocase) for t in segs[0]), re.S).fullmatch
    rx = [b"".join(_tok_re(t, nocase) for t in seg) for seg in segs]
    first, middle, last = rx[0], rx[1:-1], rx[-1]
    if _ATOMIC or not middle:
        body = first + b"".join(b"(?>.*?" + m + b")" for m in middle) + b".*" + last
        return re.compile(body, re.S).fullmatch
    # Python < 3.11 has no atomic groups: find each middle segment leftmost in turn.
    rfirst = re.compile(first, re.S).match
    rmid = [re.compile(m, re.S).search for m in middle]
    rlast = re.compile(last, re.S).fullmatch
    lastw = len(segs[-1])

    def m(s):
        mo = rfirst(s)
        if mo is None:
            return False
        pos = mo.end()
        end = len(s) - lastw
        if end < pos:
            return False
        for search in rmid:
            mo = search(s, pos, end)
            if mo is None:
                return False
            pos = mo.end()
        return rlast(s, end) is not None

    return m


@functools.lru_cache(maxsize=1024)
def _compile_cached(pattern, nocase):
    return Glob(pattern, nocase)


def compile(pattern, nocase=False):  # noqa: A001 (mirrors re.compile)
    """The compiled :class:`Glob` for ``pattern`` (cached)."""
    if pattern.__class__ is not bytes:
        pattern = bytes(pattern)
    return _compile_cached(pattern, bool(nocase))


def match(pattern, s, nocase=False):
    """True if ``s`` matches the glob ``pattern`` (both bytes), like stringmatchlen."""
    return bool(compile(pattern, nocase).match(s))


def compile_pattern(pattern, nocase=False):
    """The fast match callable for ``pattern`` (``compile(pattern, nocase).match``)."""
    return compile(pattern, nocase).match
