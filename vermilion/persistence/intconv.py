"""Which strings Redis stores as integers inside its compact encodings.

Listpacks, ziplists, intsets and RDB integer-encoded strings all accept a
string as an integer only if it is the canonical decimal spelling of a 64-bit
signed value (Redis's ``string2ll``/``lpStringToInt64``): no sign "+", no
leading zeros, no "-0", no spaces, at most 20 characters. Anything else stays a
string, so the round trip string -> integer -> string is always exact.
"""

import re

_CANON = re.compile(rb"(?:0|-?[1-9][0-9]{0,19})\Z")
I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1


def str_to_int(s):
    """The int ``s`` spells canonically, or None."""
    if 0 < len(s) <= 20 and _CANON.match(s):
        v = int(s)
        if I64_MIN <= v <= I64_MAX:
            return v
    return None
