"""CLIENT sub-commands (networking.c clientCommand) and client pausing.

Here: CLIENT HELP, ID, INFO, LIST, SETNAME, GETNAME, KILL, PAUSE, UNPAUSE,
REPLY, NO-EVICT. (UNBLOCK lives with blocking operations; TRACKING, CACHING,
GETREDIR and TRACKINGINFO in tracking.py.) Redis 7.0 has neither CLIENT
SETINFO nor CLIENT NO-TOUCH: the dispatcher answers its unknown-subcommand error.

**CLIENT LIST / INFO lines.** :func:`client_info` writes Redis 7.0's exact
field list. Identity and state fields are the real ones (id, addresses, fd,
name, age, idle, flags, db, subscriptions, MULTI length, last command, user,
tracking redirection, protocol). Redis's memory fields describe its C buffers;
ours are derived from what we do hold, with Redis's accounting rules:
``qbuf`` is the current request as it stood in the query buffer plus unread
bytes, ``argv-mem`` the bytes of the arguments of the running command,
``multi-mem`` the queued commands' arguments plus a pointer each, ``obl``/``oll``/
``omem`` the unsent output (a 16 KiB static buffer, then 16 KiB list blocks),
``tot-mem`` the sum plus the client struct and the pointer overheads of its
watched keys, channels, patterns and tracking prefixes. They are computed by
:func:`vermilion.server.client_eviction.memory_fields`, the figures
``maxmemory-clients`` evicts by.

Flags: other features mark a client by their own state (``c.multi``,
``c.blocked``, ``c.tracking``...). A replication module marks replica and master
links with ``c.flags_extra`` containing ``S`` or ``M``: those are shown first and
decide the client type (``TYPE replica|master``) for LIST, KILL and the output
buffer limits.

The memory fields' query-buffer part comes from a model of Redis's buffer kept
by :mod:`vermilion.server.querybuf`.

**CLIENT PAUSE / UNPAUSE** parse their arguments here; the pause itself (its
kind and deadline, the parked clients, which commands may write) is
:mod:`vermilion.server.pause`. A client parked by it is shown with ``flags=b``,
and its held command is still "in its query buffer".
"""

import time

from ..errors import CommandError, SYNTAX, subcommand_syntax_error
from ..protocol.encoder import OK, Status, Verbatim, drop_replies, request_size
from ..core import limits
from ..core.client import (  # noqa: F401  (client_type is re-exported)
    TYPE_NORMAL,
    TYPE_REPLICA,
    TYPE_PUBSUB,
    TYPE_MASTER,
    client_type,
)
from ..util import parse_int
from .connection import set_client_name
from ..core.table import command
from ..protocol.encoder import NO_REPLY
from ..util import LLONG_MAX as _LLONG_MAX
from ..server.pause import PAUSE_WRITE, PAUSE_ALL, Postponed
from ..server.client_eviction import memory_fields

_time = time.time
_monotonic = time.monotonic

# -------------------------------------------------------------------- types
_TYPE_BY_NAME = {
    b"normal": TYPE_NORMAL,
    b"slave": TYPE_REPLICA,
    b"replica": TYPE_REPLICA,
    b"pubsub": TYPE_PUBSUB,
    b"master": TYPE_MASTER,
}


def _type_arg(b):
    t = _TYPE_BY_NAME.get(b.lower())
    if t is None:
        raise CommandError("ERR Unknown client type '%s'" % _text(b))
    return t


def _text(b):
    return b.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


# ----------------------------------------------------------- CLIENT INFO line
def _flags(c):
    f = []
    extra = c.flags_extra
    if c.monitor:
        f.append("O")
    elif extra and "S" in extra:
        f.append("S")
    if extra and "M" in extra:
        f.append("M")
    if c.subscriptions or c.psubscriptions or c.ssubscriptions:
        f.append("P")
    if c.multi is not None:
        f.append("x")
    if c.blocked is not None:
        f.append("b")
    t = c.tracking
    if t is not None:
        f.append("t")
        if getattr(t, "broken", False):
            f.append("R")
        if getattr(t, "bcast", False):
            f.append("B")
    if c.dirty_cas:
        f.append("d")
    if c.close_after_reply:
        f.append("c")
    if c.killed:
        f.append("A")
    if c.is_unix:
        f.append("U")
    if c.no_evict:
        f.append("e")
    return "".join(f) or "N"


def client_info(c, me=None, argv=None):
    """catClientInfoString: one CLIENT LIST line (no newline) for client ``c``.

    ``me``/``argv`` are the client running CLIENT LIST/INFO and its arguments: its
    own request is still "in its query buffer" while it runs, as in Redis.
    """
    now = _time()
    qbuf = c.reader.pending() if c.reader is not None else 0
    cur = None
    if c is me:
        cur = argv
        qbuf += request_size(argv)
    elif c.blocked is not None and c.blocked.__class__ is Postponed:
        cur = c.blocked.argv  # kept for its re-run; what follows it is unread
        for later in c.pending or ():
            qbuf += request_size(later)
    qbuf, qfree, argv_mem, multi_mem, rbs, obl, oll, omem, tot, unsent = memory_fields(c, cur, qbuf)
    age = int(now) - int(c.ctime)
    idle = int(_monotonic() - c.last_interaction)
    t = c.tracking
    redir = getattr(t, "redirect", 0) if t is not None else -1
    events = "rw" if unsent else "r"
    return (
        "id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d "
        "psub=%d ssub=%d multi=%d qbuf=%d qbuf-free=%d argv-mem=%d multi-mem=%d "
        "rbs=%d rbp=%d obl=%d oll=%d omem=%d tot-mem=%d events=%s cmd=%s user=%s "
        "redir=%d resp=%d"
        % (
            c.id,
            c.addr,
            c.laddr,
            c.fd,
            (c.name or b"").decode("utf-8", "surrogateescape"),
            age,
            max(idle, 0),
            _flags(c),
            c.db.id,
            len(c.subscriptions),
            len(c.psubscriptions),
            len(c.ssubscriptions),
            len(c.multi) if c.multi is not None else -1,
            qbuf,
            qfree,
            argv_mem,
            multi_mem,
            rbs,
            c.rb_peak,
            obl,
            oll,
            omem,
            tot,
            events,
            c.cmd.fullname if c.cmd is not None else "NULL",
            c.user or "(superuser)",
            redir,
            c.resp,
        )
    ).encode("utf-8", "surrogateescape")


# ------------------------------------------------------------------ killing
def free_client(c):
    """freeClient for a connection other than the running one: gone now, output dropped."""
    c.free()


# ----------------------------------------------------------------- commands
_HELP = [
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "HELP",
    "    Prints this help.",
]
_HELP_REPLY = [Status(line) for line in _HELP]


@command("client|help")
def client_help(c, argv):
    return _HELP_REPLY


@command("client|id")
def client_id(c, argv):
    return c.id


@command("client|info")
def client_info_cmd(c, argv):
    return Verbatim(client_info(c, c, argv) + b"\n")


@command("client|list")
def client_list(c, argv):
    n = len(argv)
    clients = c.server.clients
    ev = c.server.client_eviction
    if ev.limit:
        # everyone is visited anyway: bring every figure up to date and evict, so no
        # listed tot-mem is over maxmemory-clients (Redis updates them on each write)
        ev.evict(c, argv)
    out = []
    if n == 4 and argv[2].lower() == b"type":
        want = _type_arg(argv[3])
        for cl in list(clients.values()):
            if client_type(cl) == want:
                out.append(client_info(cl, c, argv))
    elif n > 3 and argv[2].lower() == b"id":
        ids = [parse_int(a, "ERR Invalid client ID") for a in argv[3:]]
        for cid in ids:
            cl = clients.get(cid)
            if cl is not None:
                out.append(client_info(cl, c, argv))
    elif n != 2:
        raise CommandError(SYNTAX)
    else:
        for cl in list(clients.values()):
            out.append(client_info(cl, c, argv))
    return Verbatim(b"".join(line + b"\n" for line in out))


@command("client|setname")
def client_setname(c, argv):
    set_client_name(c, argv[2])
    return OK


@command("client|getname")
def client_getname(c, argv):
    return c.name


@command("client|reply")
def client_reply(c, argv):
    mode = argv[2].lower()
    if mode == b"on":
        if c.reply_off:
            drop_replies(c.out, c.reply_off_mark)  # replies made while it was off (in EXEC)
        c.reply_off = False
        c.reply_skip = False
        c.update_special()
        return OK
    if mode == b"off":
        if not c.reply_off:
            c.reply_off_mark = len(c.out)
        c.reply_off = True
    elif mode == b"skip":
        if not c.reply_off:
            c.reply_skip_next = True
    else:
        raise CommandError(SYNTAX)
    c.update_special()
    return NO_REPLY


@command("client|no-evict")
def client_no_evict(c, argv):
    mode = argv[2].lower()
    if mode == b"on":
        c.no_evict = True
    elif mode == b"off":
        c.no_evict = False
    else:
        raise CommandError(SYNTAX)
    return OK


@command("client|kill")
def client_kill(c, argv):
    n = len(argv)
    addr = laddr = user = None
    ctype = None
    cid = 0
    skipme = True
    if n == 3:
        addr = argv[2]
        skipme = False  # the old form may kill the caller itself
    else:
        i = 2
        while i < n:
            opt = argv[i].lower()
            if i + 1 >= n:
                raise CommandError(SYNTAX)
            val = argv[i + 1]
            if opt == b"id":
                cid = parse_int(val, "ERR client-id should be greater than 0")
                if cid < 1:
                    raise CommandError("ERR client-id should be greater than 0")
            elif opt == b"type":
                ctype = _type_arg(val)
            elif opt == b"addr":
                addr = val
            elif opt == b"laddr":
                laddr = val
            elif opt == b"user":
                if c.server.acl.get(val) is None:
                    raise CommandError("ERR No such user '%s'" % _text(val))
                user = val.decode("utf-8", "surrogateescape")
            elif opt == b"skipme":
                lv = val.lower()
                if lv == b"yes":
                    skipme = True
                elif lv == b"no":
                    skipme = False
                else:
                    raise CommandError(SYNTAX)
            else:
                raise CommandError(SYNTAX)
            i += 2
    addr_s = addr.decode("utf-8", "surrogateescape") if addr is not None else None
    laddr_s = laddr.decode("utf-8", "surrogateescape") if laddr is not None else None
    killed = 0
    close_me = False
    for cl in list(c.server.clients.values()):
        if addr_s is not None and cl.addr != addr_s:
            continue
        if laddr_s is not None and cl.laddr != laddr_s:
            continue
        if ctype is not None and client_type(cl) != ctype:
            continue
        if cid and cl.id != cid:
            continue
        if user is not None and cl.user != user:
            continue
        if cl is c:
            if skipme:
                continue
            close_me = True
        else:
            free_client(cl)
        killed += 1
    if close_me:
        c.close_after_reply = True
    if n == 3:
        if not killed:
            raise CommandError("ERR No such client")
        return OK
    return killed


# ------------------------------------------------------------- CLIENT PAUSE
@command("client|pause")
def client_pause(c, argv):
    n = len(argv)
    if n > 4:
        raise subcommand_syntax_error(argv)
    kind = PAUSE_ALL
    if n == 4:
        mode = argv[3].lower()
        if mode == b"write":
            kind = PAUSE_WRITE
        elif mode != b"all":
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    ms = parse_int(argv[2], "ERR timeout is not an integer or out of range")
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    end = ms + int(_time() * 1000) if ms > 0 else 0
    if end > _LLONG_MAX:
        end -= 1 << 64  # Redis's mstime() + timeout overflows: the pause is already over
    c.server.client_pause.pause(end, kind)
    return OK


@command("client|unpause")
def client_unpause(c, argv):
    c.server.client_pause.unpause()
    return OK


limits.set_client_describer(client_info)
