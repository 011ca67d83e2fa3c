"""String commands (t_string.c): GET, SET, INCR and friends."""
from ..errors import CommandError, WRONGTYPE, NOT_INT, OVERFLOW
from ..protocol.encoder import OK
from ..protocol.reader import parse_ll
from .table import command

_STR = (bytes, bytearray)


@command("get")
def get(c, argv):
    v = c.db.lookup(argv[1])
    if v is None:
        return None
    if v.__class__ is bytes:
        return v
    if v.__class__ is bytearray:
        return bytes(v)
    raise CommandError(WRONGTYPE)


@command("set")
def set_(c, argv):
    if len(argv) == 3:
        c.db.set(argv[1], argv[2])
        c.server.dirty += 1
        return OK
    raise CommandError("ERR syntax error")


def _incr(c, key, by):
    db = c.db
    v = db.lookup(key)
    if v is None:
        n = by
    else:
        if v.__class__ is not bytes and v.__class__ is not bytearray:
            raise CommandError(WRONGTYPE)
        cur = parse_ll(bytes(v))
        if cur is None:
            raise CommandError(NOT_INT)
        n = cur + by
        if n > 9223372036854775807 or n < -9223372036854775808:
            raise CommandError(OVERFLOW)
    db.data[key] = b"%d" % n
    db.signal(key)
    c.server.dirty += 1
    return n


@command("incr")
def incr(c, argv):
    return _incr(c, argv[1], 1)
