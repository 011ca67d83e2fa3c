"""Errors are values the client sees.

A command that cannot do what it was asked raises :class:`CommandError` with
Redis's exact text; the dispatcher turns it into an error reply (``-ERR ...``)
and counts it in INFO errorstats under its first word. Nothing a client sends
may raise anything else out of the dispatcher.

The messages Redis uses in many places live here, spelt once.
"""


class CommandError(Exception):
    """An error reply. ``str(exc)`` is the full text after the ``-``."""

    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INT = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
NO_SUCH_KEY = "ERR no such key"
OUT_OF_RANGE = "ERR index out of range"
OVERFLOW = "ERR increment or decrement would overflow"
NAN_INCR = "ERR increment would produce NaN or Infinity"
TIMEOUT_NEG = "ERR timeout is negative"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
INVALID_EXPIRE = "ERR invalid expire time in '%s' command"
SAME_OBJECT = "ERR source and destination objects are the same"
DB_OUT_OF_RANGE = "ERR DB index is out of range"
NOAUTH = "NOAUTH Authentication required."
BUSYKEY = "BUSYKEY Target key name already exists."


def wrong_type():
    return CommandError(WRONGTYPE)


def syntax_error():
    return CommandError(SYNTAX)


def wrong_arity(name):
    return CommandError("ERR wrong number of arguments for '%s' command" % name)


def subcommand_syntax_error(argv):
    """Redis's addReplySubcommandSyntaxError: a sub-command with the wrong arguments.
    The names are C strings there, so they end at a NUL byte."""

    def text(b):
        return b.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    return CommandError(
        "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try %s HELP."
        % (text(argv[1]), text(argv[0]).upper())
    )


class Redirect(str):
    """A cluster redirection's error text (MOVED, ASK, CROSSSLOT, TRYAGAIN,
    CLUSTERDOWN: cluster/route.py). An EXEC refused with one is discarded and
    answered with it as it is, not with EXECABORT (processCommand)."""
