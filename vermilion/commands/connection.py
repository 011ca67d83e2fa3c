"""Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET.

These change the state of the connection itself (protocol version, selected
database, authentication, name) rather than the keyspace. Behaviour follows
Redis 7.0.15's server.c (pingCommand, echoCommand, selectCommand), acl.c
(authCommand) and networking.c (helloCommand, resetCommand).

Authentication checks the ACL users (vermilion/acl.py): ``AUTH <password>`` is
the ``default`` user (whose password ``requirepass`` sets), ``AUTH <user> <pass>``
and ``HELLO ... AUTH <user> <pass>`` any user that is on and has that password
(or ``nopass``). A failure is answered with WRONGPASS and recorded in ACL LOG.

Passwords never reach MONITOR or SLOWLOG: like Redis's
``redactClientCommandArgument``, AUTH and HELLO AUTH overwrite the password
arguments of their ``argv`` with ``(redacted)`` as soon as they have read them,
and the dispatcher shows monitors/slowlog that same ``argv`` after the call.
"""

from ..version import REDIS_VERSION
from ..errors import CommandError, SYNTAX, DB_OUT_OF_RANGE, NOT_INT
from ..protocol.encoder import OK, PONG, Map, Status
from ..util import parse_int
from ..core.table import command

REDACTED = b"(redacted)"
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
NAME_CHARSET = "ERR Client names cannot contain spaces, newlines or special characters."
_HELLO_NOAUTH = (
    "NOAUTH HELLO must be called with the client already authenticated, "
    "otherwise the HELLO AUTH <user> <pass> option can be used to "
    "authenticate the client and select the RESP protocol version at the "
    "same time"
)
_RESET = Status("RESET")


# ------------------------------------------------------------------ helpers
def authenticate(c, username, password, argv):
    """ACLAuthenticateUser: True, or False after logging the failure in ACL LOG."""
    return c.server.acl.authenticate(c, username, password, argv)


def set_client_name(c, name):
    """clientSetNameOrReply: '' clears the name; only printable ASCII without spaces."""
    if not name:
        c.name = None
        return
    for ch in name:
        if ch < 33 or ch > 126:
            raise CommandError(NAME_CHARSET)
    c.name = bytes(name)


def _text(b):
    """An argument shown inside an error message (%s: stops at a NUL like C)."""
    return b.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


# ----------------------------------------------------------------- commands
@command("ping")
def ping(c, argv):
    if len(argv) == 1 and not c.special:
        return PONG  # (not special: not a RESP2 subscriber, who gets an array)
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
    dbid = parse_int(argv[1], NOT_INT)
    if dbid < -2147483648 or dbid > 2147483647:
        raise CommandError(
            "ERR value is out of range, value must between -2147483648 and 2147483647"
        )
    if c.server.config.get("cluster-enabled") == "yes" and dbid != 0:
        raise CommandError("ERR SELECT is not allowed in cluster mode")
    if dbid < 0 or dbid >= len(c.server.dbs):
        raise CommandError(DB_OUT_OF_RANGE)
    c.select(dbid)
    return OK


@command("auth")
def auth(c, argv):
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    if len(argv) == 2:
        password = argv[1]
        argv[1] = REDACTED
        if c.server.acl.default_nopass():
            raise CommandError(
                "ERR AUTH <password> called without any password configured "
                "for the default user. Are you sure your configuration is "
                "correct?"
            )
        username = b"default"
    else:
        username, password = argv[1], argv[2]
        argv[1] = argv[2] = REDACTED
    if not authenticate(c, username, password, argv):
        raise CommandError(WRONGPASS)
    return OK


@command("hello")
def hello(c, argv):
    ver = 0
    n = len(argv)
    j = 1
    if n >= 2:
        ver = parse_int(argv[1], "ERR Protocol version is not an integer or out of range")
        if ver < 2 or ver > 3:
            raise CommandError("NOPROTO unsupported protocol version")
        j = 2
    while j < n:
        more = n - 1 - j
        opt = argv[j].lower()
        if opt == b"auth" and more >= 2:
            username, password = argv[j + 1], argv[j + 2]
            argv[j + 1] = argv[j + 2] = REDACTED
            if not authenticate(c, username, password, argv):
                raise CommandError(WRONGPASS)
            j += 3
        elif opt == b"setname" and more:
            set_client_name(c, argv[j + 1])
            j += 2
        else:
            raise CommandError("ERR Syntax error in HELLO option '%s'" % _text(argv[j]))
    if not c.authenticated:
        raise CommandError(_HELLO_NOAUTH)
    if ver:
        c.resp = ver
        c.update_special()
    server = c.server
    mode = b"cluster" if server.config.get("cluster-enabled") == "yes" else b"standalone"
    role = b"replica" if server.is_replica else b"master"
    return Map(
        [
            b"server",
            b"redis",
            b"version",
            REDIS_VERSION.encode(),
            b"proto",
            c.resp,
            b"id",
            c.id,
            b"mode",
            mode,
            b"role",
            role,
            b"modules",
            [],
        ]
    )


@command("reset")
def reset(c, argv):
    """clearClientConnectionState: the connection looks newly made (but keeps its id)."""
    reset_connection_state(c)
    return _RESET


def reset_connection_state(c):
    server = c.server
    if c.monitor:
        c.monitor = False
        server.remove_monitor(c)
    if c.tracking is not None:
        server.tracking_state.disable(c)
    c.select(0)
    c.resp = 2
    server.acl.set_client_default(c)
    if c.multi is not None or c.watched or c.dirty_cas:
        c.discard_transaction()
    if server.pubsub is not None:
        server.pubsub.drop_client(c)
    c.name = None
    c.reply_off = False
    c.reply_skip_next = False
    c.asking = c.readonly = False
    c.update_special()
