"""Parsing and formatting numbers exactly as Redis does (util.c, object.c)."""
import math

from .errors import CommandError, NOT_INT, NOT_FLOAT
from .protocol.reader import parse_ll

_LLONG_MAX = 9223372036854775807
_LLONG_MIN = -9223372036854775808


def parse_int(b, msg=NOT_INT):
    """A strict 64-bit integer argument (Redis's string2ll) or CommandError(msg)."""
    v = parse_ll(b)
    if v is None:
        raise CommandError(msg)
    return v


def parse_float(b, msg=NOT_FLOAT):
    """A double argument like Redis's string2d/strtod: 'inf', '-inf', '1e3'; no NaN, no spaces."""
    if not b or len(b) > 5000:
        raise CommandError(msg)
    c0 = b[:1]
    if c0.isspace() or b[-1:].isspace():
        raise CommandError(msg)
    try:
        v = float(b)
    except ValueError:
        raise CommandError(msg)
    if v != v:
        raise CommandError(msg)
    low = b.lower()
    if b"_" in b or low.startswith((b"0x", b"-0x", b"+0x")) and False:
        raise CommandError(msg)
    if b"_" in b:
        raise CommandError(msg)
    if math.isinf(v) and low.lstrip(b"+-") not in (b"inf", b"infinity"):
        # overflow such as 1e400: strtod gives HUGE_VAL with ERANGE, Redis refuses
        raise CommandError(msg)
    return v


def format_int(n):
    return b"%d" % n
