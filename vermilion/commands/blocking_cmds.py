"""CLIENT UNBLOCK (networking.c): end another client's blocking command early."""
from ..errors import CommandError
from ..keyspace import blocking
from ..util import parse_int
from .table import command


@command("client|unblock")
def client_unblock(c, argv):
    if len(argv) > 4:
        raise CommandError("ERR unknown subcommand or wrong number of arguments for "
                           "'%.128s'. Try CLIENT HELP." % argv[1].decode("utf-8", "replace"))
    error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason == b"error":
            error = True
        elif reason != b"timeout":
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    client_id = parse_int(argv[2])
    return blocking.unblock_by_id(c.server, client_id, error)
