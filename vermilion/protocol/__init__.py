"""The RESP protocol, sans I/O: :mod:`.reader` frames requests, :mod:`.encoder` spells replies."""

from .reader import PyReader, HiredisReader, make_reader, HAVE_HIREDIS, parse_ll, split_args  # noqa: F401
from .encoder import (  # noqa: F401
    Raw,
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
    QUEUED,
    PONG,
    EMPTY_ARRAY,
    INTS,
    ZERO,
    ONE,
    encode,
    error_bytes,
    format_double,
)
