"""Parsing and formatting numbers exactly as Redis does (util.c, object.c).

Redis reads numbers with the C library: ``string2ll`` (strict decimal 64-bit
integers), ``string2d`` (``strtod`` on the whole argument) and ``string2ld``
(``strtold``, the x87 80-bit *long double*). Python's ``int()`` and ``float()``
accept other spellings (``1_000``, surrounding blanks, ``nan``) and refuse some
that ``strtod`` takes (hex floats such as ``0x1p3``), so the grammar is
re-implemented here and only the value computation is left to Python.

Long doubles (INCRBYFLOAT, HINCRBYFLOAT) are emulated exactly: a finite long
double is a pair ``(m, e)`` of Python ints meaning ``m * 2**e`` with ``|m| < 2**64``
(the 64-bit significand of the x87 format), rounded half-to-even like the FPU;
infinities are the floats ``inf``/``-inf`` and a NaN is ``nan``. Arithmetic on
those pairs is exact before the final rounding, so results are bit-identical
to Redis's, and :func:`ld_format_human` prints them like ``"%.17Lf"`` followed
by Redis's trimming of trailing zeros.
"""

import math
import re

from .errors import CommandError, NOT_INT, NOT_FLOAT

LLONG_MAX = 9223372036854775807
LLONG_MIN = -9223372036854775808


# The canonical spellings of small integers, looked up before parsing: indexes,
# counts and ranges (LRANGE 0 99, ZRANGE 0 -1) are nearly always among them.
_SMALL_INTS = {b"%d" % i: i for i in range(-100, 1024)}
_small_int = _SMALL_INTS.get


def parse_ll(s):
    """Redis's ``string2ll``: strict decimal, no spaces, no '+', no leading zeros."""
    try:
        v = _small_int(s)
    except TypeError:  # a bytearray (an APPENDed value): not hashable
        v = None
    if v is not None:
        return v
    n = len(s)
    if n == 0 or n >= 21:
        return None
    c = s[0]
    if c == 48:  # '0'
        return 0 if n == 1 else None
    if c == 45:  # '-'
        if n == 1 or not (49 <= s[1] <= 57):
            return None
    elif not (49 <= c <= 57):
        return None
    if n > 1 and not s[1:].isdigit():
        return None
    v = int(s)
    if v > 9223372036854775807 or v < -9223372036854775808:
        return None
    return v


def atoll(b):
    """C's atoll(): leading blanks, a sign, digits; anything else ends the number
    (0 when there are no digits). Where Redis uses atoi/atoll, not string2ll."""
    s = b.lstrip(b" \t\n\r\f\v")
    i = 1 if s[:1] in (b"+", b"-") else 0
    j = i
    while j < len(s) and 48 <= s[j] <= 57:
        j += 1
    return int(s[:j]) if j > i else 0


def atoi(b):
    """C's atoi(): atoll() wrapped to a 32-bit int, as the C conversion does here."""
    return (atoll(b) + 2**31) % 2**32 - 2**31


def repr_bytes(s):
    """Redis's sdscatrepr: a double-quoted, escaped rendering of binary data."""
    out = bytearray(b'"')
    for ch in s:
        if ch == 92 or ch == 34:
            out += b"\\" + bytes((ch,))
        elif ch == 10:
            out += b"\\n"
        elif ch == 13:
            out += b"\\r"
        elif ch == 9:
            out += b"\\t"
        elif ch == 7:
            out += b"\\a"
        elif ch == 8:
            out += b"\\b"
        elif 32 <= ch < 127:
            out.append(ch)
        else:
            out += b"\\x%02x" % ch
    out += b'"'
    return bytes(out)


MAX_LONG_DOUBLE_CHARS = 5 * 1024  # string2ld refuses inputs this long or longer


# ------------------------------------------------------------------ integers
def parse_int(b, msg=NOT_INT):
    """A strict 64-bit integer argument (Redis's string2ll) or CommandError(msg)."""
    v = parse_ll(b)
    if v is None:
        raise CommandError(msg)
    return v


def format_int(n):
    return b"%d" % n


def int_to_bytes(n):
    """``b"%d" % n`` for ints of any size (Python refuses >4300 digits in one go)."""
    if n.bit_length() < 13000:
        return b"%d" % n
    if n < 0:
        return b"-" + int_to_bytes(-n)
    hi, lo = divmod(n, _POW10_3900)
    return int_to_bytes(hi) + b"%03900d" % lo


_POW10_3900 = 10**3900


def _digits_to_int(s):
    """int(s) for a decimal digit string of any length."""
    if len(s) <= 4000:
        return int(s) if s else 0
    k = len(s) - 3900
    return _digits_to_int(s[:k]) * _POW10_3900 + int(s[k:])


# ------------------------------------------------------- strtod's grammar
# Decimal: [sign] (digits [. digits*] | . digits) [(e|E) [sign] digits]
_DEC = re.compile(rb"([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?").fullmatch
# Hex: [sign] 0x (hexdigits [. hexdigits*] | . hexdigits) [(p|P) [sign] digits]
_HEX = re.compile(
    rb"([+-]?)0[xX](?:([0-9a-fA-F]+)(?:\.([0-9a-fA-F]*))?|\.([0-9a-fA-F]+))"
    rb"(?:[pP]([+-]?\d+))?"
).fullmatch
_INF_WORDS = (b"inf", b"infinity")


def _inf_sign(b):
    """+1/-1 if ``b`` spells an infinity as strtod accepts it, else 0."""
    if len(b) > 9:
        return 0
    low = b.lower()
    sign = 1
    if low[:1] in (b"+", b"-"):
        sign = -1 if low[:1] == b"-" else 1
        low = low[1:]
    return sign if low in _INF_WORDS else 0


def string2d(b):
    """Redis's string2d: the double ``b`` spells, or None.

    Like ``strtod`` over the whole argument: decimal and hex (``0x1p3``) forms,
    ``inf``/``infinity`` in any case, an optional sign; no blanks, no NaN, and a
    value that overflows or underflows to zero is refused (a subnormal is kept).
    """
    m = _DEC(b)
    if m is not None:
        v = float(b)
        if v != 0.0:
            if v - v == 0.0:  # finite
                return v
            return None  # overflow: strtod's HUGE_VAL + ERANGE
        _s, ip, fp, fp2, _e = m.groups()
        if (ip or b"").strip(b"0") or (fp or fp2 or b"").strip(b"0"):
            return None  # underflow to zero
        return v
    if b[:1] in b"iI+-" and b:
        s = _inf_sign(b)
        if s:
            return math.inf if s > 0 else -math.inf
    r = _parse_hex(b, 53, -1074, 1024)
    if r is None:
        return None
    neg, q, e = r
    v = math.ldexp(float(q), e)
    return -v if neg else v


def parse_float(b, msg=NOT_FLOAT):
    """A double argument exactly as Redis's string2d reads it, or CommandError(msg)."""
    v = string2d(b)
    if v is None:
        raise CommandError(msg)
    return v


def _parse_hex(b, bits, emin, emax):
    """A hex float (``0x1.8p3``) rounded to ``bits`` bits: (negative, q, e) or None.

    None when ``b`` is not a hex float or its value overflows (>= 2**emax) or
    underflows to zero; a zero mantissa gives q == 0.
    """
    m = _HEX(b)
    if m is None:
        return None
    sign, ip, fp, fp2, ex = m.groups()
    neg = sign == b"-"
    frac = fp if fp is not None else (fp2 or b"")
    digits = ((ip or b"") + frac).lstrip(b"0")
    if not digits:
        return neg, 0, 0
    mant = int(digits, 16)
    p = (int(ex) if ex else 0) - 4 * len(frac)
    top = mant.bit_length() + p
    if top > emax + 1 or top < emin - 2:
        return None
    if p >= 0:
        q, e = _round_ratio(mant << p, 1, bits, emin)
    else:
        q, e = _round_ratio(mant, 1 << -p, bits, emin)
    if q == 0 or q.bit_length() + e > emax:
        return None
    return neg, q, e


def _round_ratio(num, den, bits, emin):
    """Round num/den (both > 0) to ``bits`` significant bits, half to even.

    Returns (q, e) with num/den ~= q * 2**e; ``e`` never goes below ``emin`` (the
    exponent of the smallest subnormal), so tiny values lose precision exactly
    like IEEE subnormals.
    """
    e = num.bit_length() - den.bit_length() - bits
    if e < emin:
        e = emin
    while True:
        if e >= 0:
            d = den << e
            q, r = divmod(num, d)
        else:
            d = den
            q, r = divmod(num << -e, den)
        n = q.bit_length()
        if n > bits:
            e += 1
        elif n < bits and e > emin:
            e -= 1
        else:
            break
    r2 = r << 1
    if r2 > d or (r2 == d and q & 1):
        q += 1
        if q.bit_length() > bits:
            q >>= 1
            e += 1
    return q, e


# ------------------------------------------------------------ long double
_LD_BITS = 64  # x87 extended precision significand
_LD_EMIN = -16445  # exponent of the smallest subnormal (2**-16445)
_LD_EMAX = 16384  # values >= 2**16384 overflow to infinity
LD_ZERO = (0, 0)


def _ld_round(s, e):
    """The long double nearest to s * 2**e (s, e ints), or +/-inf on overflow."""
    if s == 0:
        return LD_ZERO
    neg = s < 0
    if neg:
        s = -s
    if s.bit_length() <= _LD_BITS and e >= _LD_EMIN:
        q, e2 = s, e
    elif e >= 0:
        q, e2 = _round_ratio(s << e, 1, _LD_BITS, _LD_EMIN)
    else:
        q, e2 = _round_ratio(s, 1 << -e, _LD_BITS, _LD_EMIN)
    if q.bit_length() + e2 > _LD_EMAX:
        return -math.inf if neg else math.inf
    if q == 0:
        return LD_ZERO
    return (-q if neg else q), e2


def string2ld(b):
    """Redis's string2ld (strtold): a long double (see module doc), or None."""
    n = len(b)
    if n == 0 or n >= MAX_LONG_DOUBLE_CHARS:
        return None
    m = _DEC(b)
    if m is not None:
        sign, ip, fp, fp2, ex = m.groups()
        frac = fp if fp is not None else (fp2 or b"")
        digits = ((ip or b"") + frac).lstrip(b"0")
        if not digits:
            return LD_ZERO
        exp10 = (int(ex) if ex else 0) - len(frac)
        stripped = digits.rstrip(b"0")
        exp10 += len(digits) - len(stripped)
        digits = stripped
        mag = exp10 + len(digits)  # value in [10**(mag-1), 10**mag)
        if mag - 1 > 4933:
            return None  # overflow (ERANGE, HUGE_VAL)
        if mag < -4952:
            return None  # underflow to zero (ERANGE)
        d = _digits_to_int(digits)
        if exp10 >= 0:
            num, den = d * 10**exp10, 1
        else:
            num, den = d, 10**-exp10
        q, e = _round_ratio(num, den, _LD_BITS, _LD_EMIN)
        if q == 0 or q.bit_length() + e > _LD_EMAX:
            return None
        return (-q if sign == b"-" else q), e
    if b[:1] in b"iI+-":
        s = _inf_sign(b)
        if s:
            return math.inf if s > 0 else -math.inf
    r = _parse_hex(b, _LD_BITS, _LD_EMIN, _LD_EMAX)
    if r is None:
        return None
    neg, q, e = r
    return (-q if neg else q), e


def ld_from_int(n):
    """A 64-bit integer as a long double (exact: the significand has 64 bits)."""
    return (n, 0)


def ld_add(a, b):
    """a + b in long double arithmetic (one rounding, like the FPU)."""
    if a.__class__ is float or b.__class__ is float:
        fa = a if a.__class__ is float else 0.0
        fb = b if b.__class__ is float else 0.0
        return fa + fb
    (m1, e1), (m2, e2) = a, b
    if m1 == 0:
        return b
    if m2 == 0:
        return a
    if e1 < e2:
        return _ld_round(m1 + (m2 << (e2 - e1)), e1)
    return _ld_round((m1 << (e1 - e2)) + m2, e2)


def ld_is_finite(v):
    return v.__class__ is not float


def ld_format_human(v):
    """Redis's ld2string(LD_STR_HUMAN): ``"%.17Lf"`` minus trailing zeros, "-0" -> "0"."""
    if v.__class__ is float:
        if v != v:
            return b"nan" if math.copysign(1.0, v) > 0 else b"-nan"
        return b"inf" if v > 0 else b"-inf"
    m, e = v
    neg = m < 0
    if neg:
        m = -m
    if e >= 0:
        out = int_to_bytes(m << e)
    else:
        k = -e
        q, r = divmod(m * 100000000000000000, 1 << k)  # 10**17
        r2 = r << 1
        if r2 > (1 << k) or (r2 == (1 << k) and q & 1):
            q += 1
        ip, fp = divmod(q, 100000000000000000)
        if fp:
            out = int_to_bytes(ip) + (b".%017d" % fp).rstrip(b"0")
        else:
            out = int_to_bytes(ip)
    if neg and out != b"0":
        return b"-" + out
    return out


def ld_to_float(v):
    """The double nearest to a long double (for callers that then work in doubles)."""
    if v.__class__ is float:
        return v
    m, e = v
    if m == 0:
        return 0.0
    neg = m < 0
    if neg:
        m = -m
    if e >= 0:
        q, e2 = _round_ratio(m << e, 1, 53, -1074)
    else:
        q, e2 = _round_ratio(m, 1 << -e, 53, -1074)
    if q.bit_length() + e2 > 1024:
        return -math.inf if neg else math.inf
    f = math.ldexp(float(q), e2)
    return -f if neg else f
