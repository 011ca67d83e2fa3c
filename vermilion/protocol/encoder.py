"""Turning command results into RESP bytes: the reply half of the protocol.

Command functions return plain Python values and the encoder decides, per
client, how each is spelt on the wire. RESP2 (the default) and RESP3 (after
``HELLO 3``) differ only in a few types: RESP3 has maps, sets, doubles, a single
null, booleans, verbatim strings and out-of-band pushes, which RESP2 flattens into
arrays and bulk strings.

=====================  ===========================  =====================
Python value           RESP2                        RESP3
=====================  ===========================  =====================
``bytes``/bytearray    ``$3\\r\\nfoo``                 same
``int``                ``:42``                      same
``None``               ``$-1``                      ``_``
``NULL_ARRAY``         ``*-1``                      ``_``
``list``/``tuple``     ``*N``                       same
``Status("OK")``       ``+OK``                      same
``float``              bulk ``%.17g``               ``,%.17g``
``dict``/``Map``       flat ``*2N``                 ``%N``
``Set``/``set``        ``*N``                       ``~N``
``Push``               ``*N``                       ``>N``
``ErrorReply``         ``-ERR ...``                 same
``Bool``               ``:1``/``:0``                ``#t``/``#f``
``Verbatim``           bulk                         ``=N\\r\\ntxt:...``
``Raw``                the bytes as they are (pre-encoded, protocol-free)
``NO_REPLY``           nothing (the command answers later, or wrote its reply itself)
=====================  ===========================  =====================

``Raw`` is the hot path's friend: constant replies (``+OK``, small integers) are
encoded once at import time and appended to the output as they are.
"""

import math
from typing import Any, Callable, Sequence


class Raw(bytes):
    """Bytes that are already a complete RESP reply."""

    __slots__ = ()


class Pushed(Raw):
    """Pre-encoded pub/sub or tracking data that CLIENT REPLY OFF/SKIP does not
    silence (Redis's CLIENT_PUSHING flag): see :func:`drop_replies`."""

    __slots__ = ()


def drop_replies(out: list, start: int) -> None:
    """Remove the replies in ``out[start:]`` (CLIENT REPLY OFF/SKIP), keeping Pushed data."""
    kept = [b for b in out[start:] if b.__class__ is Pushed]
    out[start:] = kept


class Status(str):
    """A simple string reply (``+OK``)."""

    __slots__ = ()


class ErrorReply(str):
    """An error reply used as a value (inside EXEC's array, for instance)."""

    __slots__ = ()


class Map(list):
    """A map given as a flat [k1, v1, k2, v2, ...] list (keeps order and duplicates)."""

    __slots__ = ()


class Set(list):
    """A set reply (RESP3 ``~``), an array in RESP2."""

    __slots__ = ()


class Push(list):
    """An out-of-band push (RESP3 ``>``), an array in RESP2."""

    __slots__ = ()


class Bool:
    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = bool(value)


class Verbatim:
    __slots__ = ("fmt", "text")

    def __init__(self, text: bytes, fmt: bytes = b"txt") -> None:
        self.text = text
        self.fmt = fmt


class BigNumber(int):
    __slots__ = ()


class _NullArray:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"


NULL_ARRAY = _NullArray()


# A command that answers later (a blocked BLPOP), has written its own reply (EXEC,
# SUBSCRIBE), or never answers returns this instead of a value.
class _NoReply:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_REPLY"


NO_REPLY = _NoReply()

OK = Raw(b"+OK\r\n")
QUEUED = Raw(b"+QUEUED\r\n")
PONG = Raw(b"+PONG\r\n")
EMPTY_ARRAY = Raw(b"*0\r\n")
NULL_BULK2 = b"$-1\r\n"
# Integer replies 0..INT_REPLIES-1 built once (the dispatcher formats the rest):
# counts, lengths and flags are mostly small. Not Redis's 10000 shared integers,
# which are about values: 10000 replies cost 2 ms of start-up and 0.7 MB.
INT_REPLIES = 1024
INTS = [Raw(b":%d\r\n" % i) for i in range(INT_REPLIES)]
ZERO = INTS[0]
ONE = INTS[1]
# Bulk string headers ``$<n>\r\n`` for n < BULK_HEADS_MAX, built once. A bulk
# reply is added to the output as three pieces (header, the value itself, CRLF),
# which the single join of the client's write copies once: cheaper than
# formatting ``b"$%d\r\n%s\r\n"`` (a new object, the value copied into it) for
# every reply, the GET-shaped replies' largest cost after the lookup.
BULK_HEADS_MAX = 4096
BULK_HEADS = [b"$%d\r\n" % i for i in range(BULK_HEADS_MAX)]
CRLF = b"\r\n"


def format_double(d: float) -> bytes:
    """Redis's ``%.17g`` spelling of a double, with ``inf``/``-inf``."""
    if d != d:
        return b"nan"
    if math.isinf(d):
        return b"inf" if d > 0 else b"-inf"
    return b"%.17g" % d


def encode(value: Any, resp: int = 2) -> bytes:
    """Encode one reply value to bytes."""
    out: list[bytes] = []
    _encode(value, resp, out.append)
    return b"".join(out)


def _encode(v: Any, resp: int, w: Callable[[bytes], Any]) -> None:
    t = v.__class__
    if t is bytes:
        n = len(v)
        w(BULK_HEADS[n] if n < BULK_HEADS_MAX else b"$%d\r\n" % n)
        w(v)
        w(CRLF)
    elif t is bytearray:  # (copied now: the value may change before the write)
        w(b"$%d\r\n%s\r\n" % (len(v), v))
    elif t is int:
        w(b":%d\r\n" % v)
    elif t is Raw:
        w(v)
    elif v is None:
        w(b"$-1\r\n" if resp == 2 else b"_\r\n")
    elif t is list or t is tuple:
        w(b"*%d\r\n" % len(v))
        for x in v:
            tx = x.__class__  # the common elements without a call each
            if tx is bytes:
                n = len(x)
                w(BULK_HEADS[n] if n < BULK_HEADS_MAX else b"$%d\r\n" % n)
                w(x)
                w(CRLF)
            elif tx is int:
                w(b":%d\r\n" % x)
            else:
                _encode(x, resp, w)
    elif t is float:
        s = format_double(v)
        if resp == 2:
            w(b"$%d\r\n%s\r\n" % (len(s), s))
        else:
            w(b",%s\r\n" % s)
    elif t is Status:
        w(b"+%s\r\n" % v.encode())
    elif t is ErrorReply:
        w(b"-%s\r\n" % v.encode())
    elif t is dict or t is Map:
        items = v.items() if t is dict else zip(v[0::2], v[1::2])
        n = len(v) if t is dict else len(v) // 2
        if resp == 2:
            w(b"*%d\r\n" % (2 * n))
        else:
            w(b"%%%d\r\n" % n)
        for k, x in items:
            _encode(k, resp, w)
            _encode(x, resp, w)
    elif t is Set or t is set or t is frozenset:
        w(b"%s%d\r\n" % (b"*" if resp == 2 else b"~", len(v)))
        for x in v:
            _encode(x, resp, w)
    elif t is Push:
        w(b"%s%d\r\n" % (b"*" if resp == 2 else b">", len(v)))
        for x in v:
            _encode(x, resp, w)
    elif v is NULL_ARRAY:
        w(b"*-1\r\n" if resp == 2 else b"_\r\n")
    elif t is Bool:
        if resp == 2:
            w(b":1\r\n" if v.value else b":0\r\n")
        else:
            w(b"#t\r\n" if v.value else b"#f\r\n")
    elif t is Verbatim:
        if resp == 2:
            w(b"$%d\r\n%s\r\n" % (len(v.text), v.text))
        else:
            w(b"=%d\r\n%s:%s\r\n" % (len(v.text) + 4, v.fmt, v.text))
    elif t is BigNumber:
        w(b"(%d\r\n" % v if resp == 3 else b"$%d\r\n%d\r\n" % (len(str(int(v))), v))
    elif t is str:
        b = v.encode()
        w(b"$%d\r\n%s\r\n" % (len(b), b))
    elif t is bool:
        w(b":1\r\n" if v else b":0\r\n")
    elif isinstance(v, int):
        w(b":%d\r\n" % v)
    elif isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        w(b"$%d\r\n%s\r\n" % (len(b), b))
    else:
        raise TypeError("cannot encode reply of type %s" % t.__name__)


def error_bytes(msg: str) -> bytes:
    """``-ERR ...\\r\\n`` with newlines in the message made safe, as Redis does."""
    if "\r" in msg or "\n" in msg:
        msg = msg.replace("\r", " ").replace("\n", " ")
    return b"-%s\r\n" % msg.encode("utf-8", "surrogateescape")


def request_size(argv: Sequence[bytes]) -> int:
    """Bytes the multibulk request ``argv`` takes on the wire (``*N`` header and
    one ``$len`` bulk per argument): what it occupied in a query buffer."""
    n = 3 + len(str(len(argv)))
    for a in argv:
        la = len(a)
        n += la + 5 + len(str(la))
    return n
