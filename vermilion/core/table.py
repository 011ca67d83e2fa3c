"""The command table and the dispatcher: how a command travels from argv to reply.

**The table.** Every command Vermilion knows is one :class:`Command`. What Redis
publishes about a command (arity, flags, key specs, ACL categories, tips,
sub-commands, the COMMAND DOCS text) is data, recorded once from the reference
server in ``spec.json`` (see ``tools/gen_command_table.py``). A family module binds
its implementation to an entry with ``@command("get")`` (``@command("config|get")``
for a sub-command). Only bound commands are in the table, so an unimplemented
command gets Redis's unknown-command error, never a half answer. The dispatcher,
COMMAND, ACL categories, MULTI and scripting all read the same entries.

**The dispatcher.** :func:`execute` is Redis's ``processCommand`` + ``call``: look up
the command, check arity, authentication, the client's state (MULTI queueing,
RESP2 pub/sub context), run the function, encode its return value into the
client's output list, and account for it (INFO commandstats/errorstats, slowlog,
propagation to the AOF and MONITOR). A command signals failure by raising
:class:`~vermilion.errors.CommandError`; anything else it raises is a bug, which
is logged and answered with an error reply, so no request can take the server down.

The hot path (``GET``/``SET``/``INCR`` on a plain connection) is: one dict lookup,
one arity test, one attribute test for "anything special about this client or
server", the call, and a type-dispatched append of the reply.
"""
import json
import os
import time

from ..errors import CommandError
from ..protocol.encoder import (Raw, Status, Map, Set, QUEUED, INTS, encode, error_bytes,
                                drop_replies)

# Replies at least this long are checked against client-output-buffer-limit as they
# are added (core/limits.py), not only when the batch is written.
BIG_REPLY = 1 << 16

_perf = time.perf_counter_ns

# Commands that run at once even inside MULTI (the rest are queued).
_MULTI_PASSTHROUGH = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))


class Command:
    __slots__ = ("name", "fullname", "func", "arity", "flags", "first_key", "last_key",
                 "step", "acl", "tips", "key_specs", "subcommands", "parent", "docs",
                 "info", "index", "is_write", "is_readonly", "denyoom", "admin", "noscript",
                 "no_auth", "pubsub", "loading", "stale", "no_multi", "blocking",
                 "allow_busy", "skip_monitor", "skip_slowlog", "movablekeys", "fast",
                 "keys_fn", "acl_bits", "may_replicate", "protected", "plain", "argcs",
                 "_info_cache")

    def __init__(self, fullname, info, docs, parent=None):
        self.fullname = fullname
        self.name = fullname.split("|")[-1]
        self.parent = parent
        self.info = info
        self.docs = docs
        self.func = None
        self.arity = info[1]
        flags = [f["+"] for f in info[2]["~"]]
        self.flags = flags
        self.first_key, self.last_key, self.step = info[3], info[4], info[5]
        self.acl = [a["+"] for a in info[6]["~"]]
        self.tips = info[7]
        self.key_specs = info[8]
        self.subcommands = None
        self.index = -1
        fs = set(flags)
        self.is_write = "write" in fs
        self.is_readonly = "readonly" in fs
        self.denyoom = "denyoom" in fs
        self.admin = "admin" in fs
        self.noscript = "noscript" in fs
        self.no_auth = "no_auth" in fs
        self.pubsub = "pubsub" in fs
        self.loading = "loading" in fs
        self.stale = "stale" in fs
        self.no_multi = "no_multi" in fs
        self.blocking = "blocking" in fs
        self.allow_busy = "allow_busy" in fs
        self.skip_monitor = "skip_monitor" in fs
        self.skip_slowlog = "skip_slowlog" in fs
        self.movablekeys = "movablekeys" in fs
        self.fast = "fast" in fs
        self.may_replicate = "may_replicate" in fs
        self.protected = fullname in ("debug", "module")
        self.keys_fn = None
        self.acl_bits = 0
        # Argument counts the hot path accepts without the slow path's arity error:
        # the exact count, or for variadic commands a generous range of them.
        ar = self.arity
        self.argcs = frozenset((ar,)) if ar > 0 else frozenset(range(-ar, -ar + 64))
        # "plain": nothing for the dispatcher to check beyond arity (see execute()).
        self.plain = not (self.protected or self.no_multi or fullname in _MULTI_PASSTHROUGH)
        self._info_cache = {}

    def __repr__(self):
        return "<Command %s>" % self.fullname

    def info_reply(self, resp):
        """COMMAND INFO's entry for this command, pre-encoded per protocol."""
        r = self._info_cache.get(resp)
        if r is None:
            info = list(self.info)
            if self.subcommands is not None:
                info[9] = [Raw(s.info_reply(resp)) for s in self.subcommands.values()]
            r = self._info_cache[resp] = Raw(encode(from_json(info), resp))
        return r


def from_json(v):
    """spec.json's tagged values -> reply values (see tools/gen_command_table.py)."""
    if isinstance(v, list):
        return [from_json(x) for x in v]
    if isinstance(v, dict):
        if "+" in v:
            return Status(v["+"])
        if "%" in v:
            return Map(from_json(x) for x in v["%"])
        if "~" in v:
            return Set(from_json(x) for x in v["~"])
    if isinstance(v, str):
        return v.encode()
    return v


_SPEC = None


def spec():
    global _SPEC
    if _SPEC is None:
        with open(os.path.join(os.path.dirname(__file__), "spec.json")) as fh:
            _SPEC = json.load(fh)
    return _SPEC


COMMANDS: dict = {}        # lower-case name (bytes) -> Command, bound commands only
ALL_COMMANDS: list = []    # every bound Command and sub-command, by index (for stats)
_LOOKUP: dict = {}         # exact argv[0] spelling -> Command: skips .lower() on the hot path


def _register(fullname):
    parts = fullname.split("|")
    top = parts[0]
    entry = spec().get(top)
    if entry is None:
        raise KeyError("no such command in spec.json: %s" % top)
    cmd = COMMANDS.get(top.encode())
    if cmd is None:
        cmd = Command(top, entry["info"], entry["docs"])
        cmd.index = len(ALL_COMMANDS)
        ALL_COMMANDS.append(cmd)
        COMMANDS[top.encode()] = cmd
    if len(parts) == 1:
        return cmd
    if cmd.subcommands is None:
        cmd.subcommands = {}
        cmd.plain = False
    sub = cmd.subcommands.get(parts[1].encode())
    if sub is None:
        subinfo = next((s for s in entry["info"][9] if s[0] == fullname), None)
        if subinfo is None:
            raise KeyError("no such sub-command in spec.json: %s" % fullname)
        subdocs = None
        if entry["docs"]:
            d = entry["docs"]["%"]
            for k, v in zip(d[0::2], d[1::2]):
                if k == "subcommands":
                    sd = v["%"]
                    subdocs = dict(zip(sd[0::2], sd[1::2])).get(fullname)
        sub = Command(fullname, subinfo, subdocs, parent=cmd)
        sub.index = len(ALL_COMMANDS)
        ALL_COMMANDS.append(sub)
        cmd.subcommands[parts[1].encode()] = sub
    return sub


def command(fullname, keys=None):
    """Bind the decorated ``func(client, argv)`` to the command ``fullname``.

    ``keys``, when given, is ``func(argv) -> list of key indexes`` for commands whose
    keys cannot be read from the key specs alone (movable keys).
    """
    def deco(func):
        cmd = _register(fullname)
        cmd.func = func
        if keys is not None:
            cmd.keys_fn = keys
        return func
    return deco


def lookup(name):
    """The Command for a (case-insensitive) name, or None."""
    cmd = _LOOKUP.get(name)
    if cmd is None:
        cmd = COMMANDS.get(name.lower())
        if cmd is not None and len(_LOOKUP) < 4096:
            _LOOKUP[name] = cmd
    return cmd


def lookup_argv(argv):
    """The command or sub-command ``argv`` names, or None (for COMMAND INFO/GETKEYS, ACL)."""
    cmd = lookup(argv[0])
    if cmd is not None and cmd.subcommands is not None and len(argv) > 1:
        return cmd.subcommands.get(argv[1].lower())
    return cmd


# ----------------------------------------------------------------- key positions
def get_keys(cmd, argv):
    """Indexes of the keys in ``argv`` according to the command's key specs."""
    if cmd.keys_fn is not None:
        return cmd.keys_fn(argv)
    out = []
    argc = len(argv)
    for ks in cmd.key_specs["~"] if isinstance(cmd.key_specs, dict) else cmd.key_specs:
        spec_ = dict(zip(ks["%"][0::2], ks["%"][1::2]))
        bs = dict(zip(spec_["begin_search"]["%"][0::2], spec_["begin_search"]["%"][1::2]))
        bsspec = bs["spec"]["%"]
        bsspec = dict(zip(bsspec[0::2], bsspec[1::2]))
        if bs["type"] == "index":
            first = bsspec["index"]
        elif bs["type"] == "keyword":
            kw = bsspec["keyword"].encode().lower()
            start = bsspec["startfrom"]
            rng = range(start, argc) if start > 0 else range(argc + start, 0, -1)
            first = None
            for i in rng:
                if argv[i].lower() == kw:
                    first = i + 1
                    break
            if first is None:
                continue
        else:
            continue
        fk = dict(zip(spec_["find_keys"]["%"][0::2], spec_["find_keys"]["%"][1::2]))
        fkspec = fk["spec"]["%"]
        fkspec = dict(zip(fkspec[0::2], fkspec[1::2]))
        if fk["type"] == "range":
            last = fkspec["lastkey"]
            step = fkspec["keystep"]
            limit = fkspec["limit"]
            if last >= 0:
                last = first + last
            else:
                if limit <= 1:
                    last = argc + last
                else:
                    last = first + (argc - first) // limit + last
            for i in range(first, min(last, argc - 1) + 1, step):
                out.append(i)
        elif fk["type"] == "keynum":
            try:
                n = int(argv[first + fkspec["keynumidx"]])
            except (IndexError, ValueError):
                continue
            start = first + fkspec["firstkey"]
            for j in range(n):
                i = start + j * fkspec["keystep"]
                if i < argc:
                    out.append(i)
    return out


# -------------------------------------------------------------------- dispatcher
def _args_preview(argv):
    """`'a' 'b' ` as in Redis's unknown-command error (args truncated to 128 bytes)."""
    parts = []
    size = 0
    for a in argv:
        if size >= 128:
            break
        s = a[:128 - size]
        size += len(s)
        parts.append("'%s' " % s.decode("utf-8", "replace"))
    return "".join(parts)


def _sanitize(b):
    return b.decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")


def unknown_command_error(argv):
    return ("ERR unknown command '%.128s', with args beginning with: %s"
            % (_sanitize(argv[0]), _args_preview(argv[1:])))


def resolve(c, argv):
    """Find the (sub)command for argv and check arity; raise CommandError if none."""
    cmd = lookup(argv[0])
    if cmd is None:
        raise CommandError(unknown_command_error(argv))
    if cmd.subcommands is not None:
        if len(argv) == 1:
            if cmd.func is None:
                raise CommandError("ERR wrong number of arguments for '%s' command" % cmd.fullname)
        else:
            sub = cmd.subcommands.get(argv[1].lower())
            if sub is None:
                if cmd.func is None:
                    raise CommandError("ERR unknown subcommand '%.128s'. Try %s HELP."
                                       % (_sanitize(argv[1]), cmd.fullname.upper()))
            else:
                cmd = sub
    ar = cmd.arity
    n = len(argv)
    if (ar > 0 and n != ar) or n < -ar:
        raise CommandError("ERR wrong number of arguments for '%s' command" % cmd.fullname)
    return cmd


def execute(c, argv):
    """Run one request for client ``c``; its reply is appended to ``c.out``."""
    execute_batch(c, (argv,))


def execute_batch(c, cmds, start=0):
    """Run cmds[start:] for client ``c`` until it blocks or must close.

    This is the hot path, so Redis's ``call()`` is inlined here for the common case
    (a plain command, a client and server in no special state): look up, check
    arity, call, encode, count. Everything else goes through :func:`_execute_slow`.
    Time is read once per command: each command's duration runs from the end of
    the previous one (parsing of a pipelined batch is done before the loop).
    Returns the index of the first command not run (len(cmds) when all ran).
    """
    server = c.server
    server.current_client = c
    out = c.out
    append = out.append
    stats = server.cmdstats
    get = _LOOKUP.get
    perf = _perf
    n = len(cmds)
    i = start
    t_prev = perf()
    while i < n:
        argv = cmds[i]
        i += 1
        cmd = get(argv[0])
        if (cmd is None or not cmd.plain or c.special or server.special
                or len(argv) not in cmd.argcs):
            _execute_slow(c, argv)
            t_prev = perf()
        else:
            c.cmd = cmd
            dirty = server.dirty
            try:
                r = cmd.func(c, argv)
            except CommandError as e:
                server.count_error(e.msg)
                append(error_bytes(e.msg))
                stats[cmd.index][3] += 1
            except Exception as e:  # a bug: never let it escape to the connection
                _internal_error(c, cmd, e)
            else:
                t = r.__class__
                if t is Raw:
                    append(r)
                    if len(r) >= BIG_REPLY:
                        _big_reply(c)
                elif t is bytes:
                    if len(r) < BIG_REPLY:
                        append(b"$%d\r\n%s\r\n" % (len(r), r))
                    else:
                        # header, value, CRLF: the value itself is not copied here
                        append(b"$%d\r\n" % len(r))
                        append(r)
                        append(b"\r\n")
                        _big_reply(c)
                elif t is int:
                    append(INTS[r] if 0 <= r < 10000 else b":%d\r\n" % r)
                elif r is None:
                    append(b"$-1\r\n" if c.resp == 2 else b"_\r\n")
                elif r is not NO_REPLY:
                    r = encode(r, c.resp)
                    append(r)
                    if len(r) >= BIG_REPLY:
                        _big_reply(c)
            t = perf()
            dt = t - t_prev
            t_prev = t
            st = stats[cmd.index]
            st[0] += 1
            st[1] += dt
            if c.propagate is not None or (server.dirty != dirty and cmd.is_write):
                if server.persistence is not None:
                    server.propagate_command(c, argv)
                else:
                    c.propagate = None
            if server.monitors or server.ready_keys or dt > server.slowlog_threshold_ns:
                _after_call(c, cmd, argv, dt)
        if c.blocked is not None or c.close_after_reply:
            break
    server.current_client = None
    return i


def _big_reply(c):
    """A big reply was just added: client-output-buffer-limit acts now, as Redis
    checks after each reply (a pipeline of large GETs must not build up hundreds
    of megabytes before the batch's single write)."""
    c.server.output_limits.check(c)


def _after_call(c, cmd, argv, dt):
    server = c.server
    if server.monitors and not (cmd.skip_monitor or cmd.admin):
        server.feed_monitors(c, argv)  # admin commands are never shown (call() in server.c)
    if dt > server.slowlog_threshold_ns and not cmd.skip_slowlog:
        st = c.blocked
        if st is None:
            server.slowlog_add(c, argv, dt)
        elif hasattr(st, "defer_slowlog"):
            st.defer_slowlog(argv, dt)  # blocked.c: logged once it is unblocked
    lat = server.latency_threshold_ns   # latency-monitor-threshold (commands/introspection.py)
    if lat and dt >= lat:
        server.latency.command_done(cmd, dt)
    if server.ready_keys:
        server.serve_blocked()


def _internal_error(c, cmd, e):
    server = c.server
    server.log_exception("command %s" % cmd.fullname)
    msg = "ERR internal error in '%s': %s" % (cmd.fullname, type(e).__name__)
    server.count_error(msg)
    server.cmdstats[cmd.index][3] += 1
    c.out.append(error_bytes(msg))


def _call(c, cmd, argv):
    """Redis's ``call()`` for the slow path: run, encode, account, propagate."""
    server = c.server
    dirty = server.dirty
    t0 = _perf()
    try:
        r = cmd.func(c, argv)
    except CommandError as e:
        server.count_error(e.msg)
        server.cmdstats[cmd.index][3] += 1
        c.out.append(error_bytes(e.msg))
    except Exception as e:
        _internal_error(c, cmd, e)
    else:
        if r is not NO_REPLY:
            if r.__class__ is not Raw:
                r = encode(r, c.resp)
            c.out.append(r)
            if len(r) >= BIG_REPLY:
                _big_reply(c)
    dt = _perf() - t0
    st = server.cmdstats[cmd.index]
    st[0] += 1
    st[1] += dt
    if c.propagate is not None or (server.dirty != dirty and cmd.is_write):
        if server.persistence is not None:
            server.propagate_command(c, argv)
        else:
            c.propagate = None
    if c.tracking is not None or server.tracking_state.pending:
        tracking_after_command(c, cmd, argv)
    _after_call(c, cmd, argv, dt)


NO_REPLY = object()  # a command that answers later (blocking) or not at all returns this

# Client-side caching's hook after each call (commands/tracking.py sets it: the
# table knows nothing of the feature, the feature registers with the table).
tracking_after_command = None


def set_tracking_hook(fn):
    global tracking_after_command
    tracking_after_command = fn


def _execute_slow(c, argv):
    """Every check of Redis's processCommand, for clients or servers in a special state."""
    mark = len(c.out)
    if c.reply_off:
        c.reply_off_mark = mark
    if _process_command(c, argv) is _PARKED:
        return  # its reply and resetClient() come when it really runs
    if c.reply_off or c.reply_skip or c.reply_skip_next:
        # CLIENT REPLY OFF|SKIP (networking.c resetClient): drop this command's answer,
        # rejections included. With OFF, only what was added while it was on: a
        # CLIENT REPLY OFF/ON run by EXEC switches in the middle of EXEC's reply.
        if c.reply_skip:
            drop_replies(c.out, mark)
        elif c.reply_off:
            drop_replies(c.out, max(mark, c.reply_off_mark))
        c.reply_skip = False
        if c.reply_skip_next:
            c.reply_skip = True
            c.reply_skip_next = False
        c.update_special()


_PARKED = object()


def _process_command(c, argv):
    """Look up, check, queue or call (returns _PARKED if CLIENT PAUSE holds it)."""
    server = c.server
    try:
        cmd = resolve(c, argv)
    except CommandError as e:
        if argv[0].lower() in (b"post", b"host:"):
            security_warning(c)  # HTTP sent to Redis: no reply, connection dropped
            return None
        c.cmd = lookup_argv(argv)  # Redis keeps the command found even when arity fails
        _reject(c, argv, e.msg)
        return None
    c.cmd = cmd
    err = server.check_command(c, cmd, argv)
    if err is not None:
        _reject(c, argv, err)
        return None
    tr = server.tracking
    if tr is not None and tr.max_keys and len(tr.table) > tr.max_keys:
        tr.limit_used_slots()  # tracking-table-max-keys, checked before each command
    postpone = server.postpone_check
    if postpone is not None and postpone(c, cmd, argv):
        return _PARKED  # CLIENT PAUSE: argv runs again when the client is released
    if c.multi is not None and cmd.fullname not in _MULTI_PASSTHROUGH:
        c.multi.append((cmd, argv))
        c.out.append(QUEUED)
        return None
    _call(c, cmd, argv)
    c.cmd = cmd  # EXEC ran others: CLIENT LIST shows the command the client sent
    return None


def _reject(c, argv, err):
    """rejectCommand: whatever processCommand refuses (unknown command, arity, auth,
    ACL, OOM, ...) flags the client's transaction; a refused EXEC (c.cmd is EXEC,
    with or without MULTI) instead ends the transaction there and then, with
    execCommandAbort's EXECABORT, so the client's next commands are not queued."""
    server = c.server
    if c.multi is not None:
        c.dirty_exec = True
    cmd = c.cmd
    if cmd is not None:
        server.cmdstats[cmd.index][2] += 1  # rejected_calls
        if cmd.fullname == "exec":
            c.discard_transaction()
            # Redis formats its own refusals without the "ERR " that addReplyError
            # adds later (rejectCommandFormat); coded ones (NOAUTH, OOM...) keep theirs.
            if err.startswith("ERR "):
                err = err[4:]
            err = "EXECABORT Transaction discarded because of: " + err
            if server.monitors:
                server.feed_monitors(c, argv)
    server.count_error(err)
    c.out.append(error_bytes(err))


def security_warning(c):
    """securityWarningCommand: POST / Host: lines are HTTP, likely cross-protocol scripting.

    The connection is dropped with whatever it had not been sent yet, and the event
    is logged at most once a minute.
    """
    server = c.server
    now = time.time()
    last = getattr(server, "_security_warning_logged", 0)
    if abs(now - last) > 60:
        server.log_warning("Possible SECURITY ATTACK detected. It looks like somebody is "
                           "sending POST or Host: commands to Redis. This is likely due to an "
                           "attacker attempting to use Cross Protocol Scripting to compromise "
                           "your Redis instance. Connection aborted.")
        server._security_warning_logged = now
    c.out.clear()
    c.close_after_reply = True   # stop the pipeline here
    if c.transport is not None and not c.closed:
        c.transport.abort()


# ------------------------------------------------- a client's pipeline, in order
def run_commands(c, cmds, start=0):
    """Execute cmds[start:] for client c; keep the rest if it blocks."""
    i = execute_batch(c, cmds, start)
    if i < len(cmds) and not c.close_after_reply:
        c.pending = cmds[i:]
    else:
        c.pending = None


def resume(c):
    """Run what a client pipelined while it was blocked or paused."""
    if c.closed or c.blocked is not None:
        return
    pending = c.pending
    c.pending = None
    if pending:
        run_commands(c, pending)
    if c.pending is None and c.reader.error is not None and not c.close_after_reply:
        protocol_error(c)
    c.flush()
    if c.pending is None and c.paused_reading and c.conn is not None:
        c.conn.resume_if_possible()


def protocol_error(c):
    c.out.append(error_bytes("ERR " + c.reader.error))
    c.close_after_reply = True
    c.server.log_verbose("Protocol error (%s) from client: id=%d addr=%s"
                         % (c.reader.error, c.id, c.addr))


def stats_rows(server):
    """(name, calls, usec, rejected, failed) for INFO commandstats, in table order."""
    for cmd in ALL_COMMANDS:
        st = server.cmdstats[cmd.index]
        if st[0] or st[2] or st[3]:
            yield cmd.fullname, st[0], st[1] // 1000, st[2], st[3]
