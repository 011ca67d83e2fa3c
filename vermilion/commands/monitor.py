"""MONITOR: stream every command the server runs to a client (replication.c, server.c).

After MONITOR a client receives, for each command executed by anyone (itself
included), one status line ``+<unix time.usec> [<db> <addr>] "arg" "arg" ...``
(``[<db> unix:<path>]`` for a Unix-socket client, ``[<db> lua]`` for a command a
script runs), written by ``Server.feed_monitors`` after the command's own reply.
What Redis shows, we show:

* commands are fed after they ran, so a command that failed inside its
  implementation (WRONGTYPE...) appears, one rejected before running (unknown
  command, wrong arity, NOAUTH) does not;
* administrative commands (CONFIG, CLIENT LIST, DEBUG, MONITOR...) and commands
  flagged ``skip_monitor`` (EVAL, EXEC's bookkeeping is not one of them) never appear;
* MULTI appears when issued, the queued commands when EXEC runs them, then EXEC;
* AUTH and HELLO AUTH passwords appear as ``"(redacted)"`` (see connection.py);
* the database shown is the one selected after the command (``SELECT 3`` shows 3).

A monitor is a replica in Redis's eyes: it is never paused by CLIENT PAUSE, is
not closed for being idle, and it may not touch the keyspace (reads, writes and
PUBLISH answer "Replica can't interact with the keyspace"); PING, QUIT, RESET,
CLIENT ... still work. RESET ends monitoring. Inside MULTI/EXEC, MONITOR is
refused like in Redis (a transaction's client may not block).
"""

from ..errors import CommandError
from ..protocol.encoder import OK
from ..core.bootstrap import on_server_init
from ..server.pause import may_replicate
from ..core.table import command
from ..protocol.encoder import NO_REPLY


@command("monitor")
def monitor(c, argv):
    if c.in_exec:
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if c.monitor or "S" in c.flags_extra:
        return NO_REPLY  # already a monitor (or a replica): ignored, no reply at all
    c.monitor = True
    c.server.add_monitor(c)
    c.update_special()
    return OK


def _replica_keyspace_check(c, cmd, argv):
    """processCommand: a replica (a monitor is one) may not read, write or publish."""
    if (c.monitor or "S" in c.flags_extra) and (cmd.is_readonly or may_replicate(c, cmd, argv)):
        return "ERR Replica can't interact with the keyspace"
    return None


@on_server_init
def _init(server):
    server.extra_checks = tuple(server.extra_checks) + (_replica_keyspace_check,)
