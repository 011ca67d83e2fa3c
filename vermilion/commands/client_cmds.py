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
``tot-mem`` the sum plus the fixed per-client overhead Redis reports.

Flags: other features mark a client by their own state (``c.multi``,
``c.blocked``, ``c.tracking``...). A replication module marks replica and master
links with ``c.flags_extra`` containing ``S`` or ``M``: those are shown first and
decide the client type (``TYPE replica|master``) for LIST, KILL and the output
buffer limits.

**CLIENT PAUSE.** While a pause is active ``server.special`` is set, so every
command goes through the dispatcher's slow path, where ``server.postpone_check``
(:func:`_postpone_check`) parks the clients whose command must wait: ALL pauses
every command, WRITE those that may write or replicate (write commands,
PUBLISH, PFCOUNT, EVAL/EVALSHA/FCALL unless the script declares ``no-writes``,
and an EXEC whose queue holds any of those), exactly Redis 7.0's
``is_may_replicate_command``. A parked client is blocked (``c.blocked`` is a
:class:`Postponed`, ``flags=b`` in CLIENT LIST, counted in ``blocked_clients``);
its command and whatever it pipelines after wait in order. When the pause ends
(CLIENT UNPAUSE or its deadline) each parked client re-runs its command, in
the order they were parked. Replicas and MONITOR clients are never paused.
While paused, keys are not expired (lookups see them as missing) like Redis.

EVALSHA and FCALL refer to a script the scripting module knows: it may set
``server.script_may_write = fn(c, cmd, argv) -> bool | None`` to say whether
that script may write (None: unknown, treated as a write as Redis does).
"""
import time

from ..errors import CommandError, SYNTAX, subcommand_syntax_error
from ..protocol.encoder import OK, Status, Verbatim, drop_replies, request_size
from ..core import limits
from ..core.bootstrap import on_server_init
from ..core.client import (  # noqa: F401  (client_type is re-exported)
    TYPE_NORMAL, TYPE_REPLICA, TYPE_PUBSUB, TYPE_MASTER, client_type)
from ..util import parse_int
from .connection import set_client_name
from ..core.table import command
from ..core.dispatch import resume
from ..protocol.encoder import NO_REPLY
from ..util import LLONG_MAX as _LLONG_MAX

_time = time.time
_monotonic = time.monotonic

# -------------------------------------------------------------------- types
_TYPE_BY_NAME = {b"normal": TYPE_NORMAL, b"slave": TYPE_REPLICA, b"replica": TYPE_REPLICA,
                 b"pubsub": TYPE_PUBSUB, b"master": TYPE_MASTER}


def _type_arg(b):
    t = _TYPE_BY_NAME.get(b.lower())
    if t is None:
        raise CommandError("ERR Unknown client type '%s'" % _text(b))
    return t


def _text(b):
    return b.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


# ----------------------------------------------------------- CLIENT INFO line
_REPLY_CHUNK = 16384   # Redis's static reply buffer and reply list block size
_CLIENT_OVERHEAD = 768  # what Redis's tot-mem counts besides buffers (sizeof client...)


# ------------------------------------------------- query buffer (a model of Redis's)
# Redis's qbuf-free and the query-buffer part of tot-mem describe an sds string that
# readQueryFromClient grows and clientsCronResizeQueryBuffer shrinks. We hold no such
# buffer (the reader keeps only an unparsed tail), so each client gets a model of it,
# moved by what we can see: bytes read since the last look (a burst of at least
# PROTO_MBULK_BIG_ARG stands for a big argument, which Redis reads into a buffer of its
# own size and keeps for the next one), the unparsed tail, and the idle time.
_IOBUF_LEN = 16384          # PROTO_IOBUF_LEN
_BIG_ARG = 32768            # PROTO_MBULK_BIG_ARG
_RESIZE_THRESHOLD = 32768   # PROTO_RESIZE_THRESHOLD


def _je_size(n):
    """jemalloc's size class for an n-byte allocation (4 classes per power of two)."""
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) & ~15
    step = 1 << ((n - 1).bit_length() - 3)
    return (n + step - 1) // step * step


def _sds_hdr(n):
    return 3 if n < 256 else 5 if n < 65536 else 9


def _sds_usable(n):
    """sdsalloc() of a string made with room for n bytes (the allocator's usable size)."""
    h = _sds_hdr(n)
    return _je_size(h + n + 1) - h - 1


class QueryBuf:
    __slots__ = ("alloc", "peak", "seen")

    def __init__(self):
        self.alloc = 0   # sdsalloc(c->querybuf)
        self.peak = 0    # c->querybuf_peak
        self.seen = 0    # c.tot_net_in when last looked at


def _qbuf(c):
    """The client's query buffer model, brought up to date with what it read."""
    models = c.server.query_bufs
    qb = models.get(c)
    if qb is None:
        qb = QueryBuf()
        if c.transport is not None:   # connection-less clients are never "gone"
            models[c] = qb
    delta = c.tot_net_in - qb.seen
    if delta > 0:
        qb.seen = c.tot_net_in
        if delta >= _BIG_ARG:
            # a big argument: read into a buffer of its size, and a new one of that
            # size kept for the next ("we'll see another one likely")
            qb.alloc = _sds_usable(delta)
        elif qb.alloc < _IOBUF_LEN:
            qb.alloc = _sds_usable(_IOBUF_LEN)   # the non-greedy first allocation
        qb.peak = max(qb.peak, min(delta, qb.alloc))
    used = c.reader.pending() if c.reader is not None else 0
    if used > qb.alloc:
        qb.alloc = used
    return qb


def _resize_query_buffer(c, now):
    """clientsCronResizeQueryBuffer for the model."""
    qb = _qbuf(c)
    used = c.reader.pending() if c.reader is not None else 0
    if qb.alloc - used > 4096:
        if now - c.last_interaction >= 3:          # idle for more than 2 seconds
            qb.alloc = used
        elif qb.alloc > _RESIZE_THRESHOLD and qb.alloc // 2 > qb.peak:
            qb.alloc = max(used, qb.peak)
    qb.peak = used


class _QueryBufCron:
    """Visits every client about once a second, like clientsCron (at least 5 a tick)."""

    def __init__(self, server):
        self.server = server
        self.todo = []

    def __call__(self):
        server = self.server
        clients = server.clients
        if not clients:
            return
        n = max(5, len(clients) // server.hz)
        if not self.todo:
            self.todo = list(clients.values())
        batch, self.todo = self.todo[-n:], self.todo[:-n]
        now = _monotonic()
        for c in batch:
            if not c.closed and c.id in clients:
                _resize_query_buffer(c, now)


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
        cur = c.blocked.argv      # kept for its re-run; what follows it is unread
        for later in c.pending or ():
            qbuf += request_size(later)
    argv_mem = sum(len(a) for a in cur) if cur is not None else 0
    qb = _qbuf(c)
    alloc = max(qb.alloc, qbuf)
    qfree = alloc - qbuf
    multi_mem = 0
    if c.multi is not None:
        for _cmd, qargv in c.multi:
            multi_mem += sum(len(a) for a in qargv) + 8 * len(qargv)
    unsent = 0                 # what the kernel did not take yet (Redis: write handler on)
    if c.transport is not None:
        try:
            unsent = c.transport.get_write_buffer_size()
        except Exception:
            unsent = 0
    pending_out = unsent + sum(len(b) for b in c.out)
    obl = min(pending_out, _REPLY_CHUNK)
    omem = pending_out - obl
    oll = (omem + _REPLY_CHUNK - 1) // _REPLY_CHUNK
    age = int(now) - int(c.ctime)
    rbs = _REPLY_CHUNK if age < 1 else 1024
    qmem = _je_size(_sds_hdr(alloc) + alloc + 1)
    tot = (_CLIENT_OVERHEAD + qmem + rbs + omem + multi_mem
           + (argv_mem + 8 * len(cur) if cur is not None else 0))
    idle = int(_monotonic() - c.last_interaction)
    t = c.tracking
    redir = getattr(t, "redirect", 0) if t is not None else -1
    events = "rw" if unsent else "r"
    return ("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d "
            "psub=%d ssub=%d multi=%d qbuf=%d qbuf-free=%d argv-mem=%d multi-mem=%d "
            "rbs=%d rbp=%d obl=%d oll=%d omem=%d tot-mem=%d events=%s cmd=%s user=%s "
            "redir=%d resp=%d" % (
                c.id, c.addr, c.laddr, c.fd,
                (c.name or b"").decode("utf-8", "surrogateescape"),
                age, max(idle, 0), _flags(c), c.db.id, len(c.subscriptions),
                len(c.psubscriptions), len(c.ssubscriptions),
                len(c.multi) if c.multi is not None else -1,
                qbuf, qfree, argv_mem, multi_mem, rbs, 0, obl, oll, omem, tot, events,
                c.cmd.fullname if c.cmd is not None else "NULL", c.user or "(superuser)",
                redir, c.resp)).encode("utf-8", "surrogateescape")


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
PAUSE_OFF, PAUSE_WRITE, PAUSE_ALL = 0, 1, 2
_MAY_REPLICATE = frozenset(("pfcount", "publish", "spublish", "eval", "evalsha", "fcall"))
_SCRIPT_CMDS = frozenset(("eval", "evalsha", "fcall"))
_KIND_NAMES = {PAUSE_OFF: None, PAUSE_WRITE: "write", PAUSE_ALL: "all"}


class Postponed:
    """``c.blocked`` of a client parked by CLIENT PAUSE: the command to run again."""
    __slots__ = ("argv",)

    def __init__(self, argv):
        self.argv = argv


class ClientPause:
    """The server's pause: its kind, its deadline, and the clients parked by it."""

    def __init__(self, server):
        self.server = server
        self.kind = PAUSE_OFF
        self.end = 0              # ms since the epoch
        self.parked = []          # clients in the order they were postponed
        self.timer = None

    def pause(self, end, kind):
        """pauseClients: the most restrictive kind and the furthest end win."""
        if self.kind == PAUSE_OFF:
            self.kind, self.end = kind, end
        else:
            self.kind = max(self.kind, kind)
            self.end = max(self.end, end)
        self.update()

    def unpause(self):
        self.kind = PAUSE_OFF
        self.end = 0
        self.update()

    def update(self):
        """Expire the pause if its time has passed; publish the state; free clients."""
        server = self.server
        if self.kind != PAUSE_OFF and self.end < int(_time() * 1000):
            self.kind = PAUSE_OFF
            self.end = 0
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        server.pause_kind = _KIND_NAMES[self.kind]
        server.pause_until = self.end
        if self.kind != PAUSE_OFF:
            server.set_special("client-pause", True)
            if server.loop is not None:
                delay = (self.end - _time() * 1000) / 1000.0 + 0.001
                # a very long pause re-arms its timer once a day
                self.timer = server.loop.call_later(min(max(delay, 0.0), 86400.0), self.update)
        else:
            server.set_special("client-pause", False)
            self.release()

    def release(self):
        """unblockPostponedClients: parked clients run their command again, in order."""
        parked = self.parked
        if not parked:
            return
        self.parked = []
        server = self.server
        for c in parked:
            st = c.blocked
            if st.__class__ is not Postponed:
                continue
            c.blocked = None
            server.blocked_clients -= 1
            c.pending = [st.argv] + c.pending if c.pending else [st.argv]
            if server.loop is not None and not c.closed:
                server.loop.call_soon(resume, c)

    def park(self, c, argv):
        c.blocked = Postponed(argv)
        self.server.blocked_clients += 1
        self.parked.append(c)

    def forget(self, c):
        """A parked client disconnected."""
        if c.blocked.__class__ is Postponed:
            c.blocked = None
            self.server.blocked_clients -= 1
            try:
                self.parked.remove(c)
            except ValueError:
                pass


def _eval_may_write(body):
    """evalGetCommandFlags for a script body: False only for ``#!lua flags=no-writes``."""
    if not body.startswith(b"#!"):
        return True  # no shebang: EVAL's own flags (may replicate)
    nl = body.find(b"\n")
    if nl < 0:
        return True
    parts = body[:nl].split()
    if not parts or parts[0] != b"#!lua":
        return True
    flags = set()
    known = (b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster",
             b"allow-cross-slot-keys")
    for p in parts[1:]:
        if p.startswith(b"flags="):
            for f in p[6:].split(b","):
                if f not in known:
                    return True
                flags.add(f)
        else:
            return True
    return b"no-writes" not in flags


def may_replicate(c, cmd, argv):
    """is_may_replicate_command of processCommand for this command (and EXEC's queue)."""
    if cmd.is_write:
        return True
    name = cmd.fullname
    if name in _MAY_REPLICATE:
        if name in _SCRIPT_CMDS:
            hook = getattr(c.server, "script_may_write", None)
            if hook is not None:
                r = hook(c, cmd, argv)
                if r is not None:
                    return r
            if name == "eval":
                return _eval_may_write(argv[1])
        return True
    if name == "exec" and c.multi:
        for qcmd, qargv in c.multi:
            if may_replicate(c, qcmd, qargv):
                return True
    return False


def _postpone_check(c, cmd, argv):
    server = c.server
    p = server.client_pause
    if p.kind == PAUSE_OFF:
        return False
    if p.end < int(_time() * 1000):
        p.update()
        if p.kind == PAUSE_OFF:
            return False
    if c.monitor or "S" in c.flags_extra:
        return False
    if p.kind == PAUSE_WRITE and not may_replicate(c, cmd, argv):
        return False
    p.park(c, argv)
    return True


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
        end -= 1 << 64   # Redis's mstime() + timeout overflows: the pause is already over
    c.server.client_pause.pause(end, kind)
    return OK


@command("client|unpause")
def client_unpause(c, argv):
    c.server.client_pause.unpause()
    return OK


@on_server_init
def _init(server):
    server.client_pause = ClientPause(server)
    server.postpone_check = _postpone_check
    server.add_client_gone_hook(server.client_pause.forget)
    server.query_bufs = {}     # client -> QueryBuf (CLIENT LIST qbuf-free, tot-mem)
    server.add_client_gone_hook(lambda c: server.query_bufs.pop(c, None))
    server.add_cron_hook(_QueryBufCron(server))


limits.set_client_describer(client_info)
