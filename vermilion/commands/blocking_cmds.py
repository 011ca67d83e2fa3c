"""CLIENT UNBLOCK (networking.c): end another client's blocking command early."""

from ..errors import CommandError, subcommand_syntax_error
from ..keyspace import blocking
from ..util import parse_int
from ..core.table import command


@command("client|unblock")
def client_unblock(c, argv):
    if len(argv) > 4:
        raise subcommand_syntax_error(argv)
    error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason == b"error":
            error = True
        elif reason != b"timeout":
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    client_id = parse_int(argv[2])
    return blocking.unblock_by_id(c.server, client_id, error)
