"""Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET."""
from ..errors import CommandError
from ..protocol.encoder import OK, PONG, Map, Raw
from .table import command

_RESP3_PONG_SUBSCRIBED = None


@command("ping")
def ping(c, argv):
    if len(argv) > 2:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    if c.resp == 2 and (c.subscriptions or c.psubscriptions or c.ssubscriptions):
        return [b"pong", argv[1] if len(argv) == 2 else b""]
    if len(argv) == 2:
        return argv[1]
    return PONG


@command("echo")
def echo(c, argv):
    return argv[1]


@command("quit")
def quit_(c, argv):
    c.close_after_reply = True
    return OK


@command("select")
def select(c, argv):
    from ..util import parse_int
    try:
        dbid = parse_int(argv[1])
    except CommandError:
        raise CommandError("ERR value is not an integer or out of range")
    if dbid < 0 or dbid >= len(c.server.dbs):
        raise CommandError("ERR DB index is out of range")
    c.select(dbid)
    return OK
