"""EVAL scripts (eval.c): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT.

A script is compiled once and cached by the SHA1 of its body (EVAL caches what
it runs; SCRIPT LOAD caches without running; SCRIPT FLUSH forgets them all and
starts a fresh interpreter). A first line ``#!lua flags=...`` declares script
flags (``no-writes``, ``allow-oom``, ...); it is removed before compiling, its
newline kept so line numbers stay right. Scripts without it run in
"compatibility mode" (may write, even from EVAL_RO only reads are refused).

The run itself, ``redis.call`` and the Lua sandbox are in :mod:`vermilion.scripting`.
"""

from ..errors import CommandError, NOT_INT
from ..protocol.encoder import OK, INTS
from ..protocol.reader import split_args
from ..core.bootstrap import on_server_init
from .. import scripting as _scripting
from ..scripting.library import cstr
from ..scripting.ldb import Ldb, fork_session
from ..scripting.engine import (
    NOSCRIPT,
    F_EVAL_COMPAT,
    F_NO_WRITES,
    F_ALLOW_OOM,
    F_ALLOW_STALE,
    FLAG_BY_NAME,
    sha1hex,
    AVAILABLE,
    NOT_AVAILABLE,
)
from ..core.table import command
from ..util import parse_int
from .server_cmds import help_reply

_SCRIPT_HELP = (
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
)


class Script:
    __slots__ = ("sha", "body", "flags", "fn", "name")

    def __init__(self, sha, body, flags, fn):
        self.sha = sha
        self.body = body
        self.flags = flags
        self.fn = fn
        self.name = sha.decode()  # (the run's name in messages)


def shebang_flags(body):
    """evalExtractShebangFlags: (flags, length of the shebang line); ValueError(msg)."""
    if not body.startswith(b"#!"):
        return F_EVAL_COMPAT, 0
    nl = body.find(b"\n")
    if nl < 0:
        raise ValueError("Invalid script shebang")
    parts = split_args(body[:nl])
    if not parts:
        raise ValueError("Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise ValueError("Unexpected engine in script shebang: %s" % cstr(parts[0]))
    flags = 0
    for p in parts[1:]:
        if p.startswith(b"flags="):
            spec = p[6:]
            for f in spec.split(b",") if spec else ():
                v = FLAG_BY_NAME.get(f)
                if v is None:
                    raise ValueError("Unexpected flag in script shebang: %s" % cstr(f))
                flags |= v
        else:
            raise ValueError("Unknown lua shebang option: %s" % cstr(p))
    return flags, nl


def create_script(st, body):
    """luaCreateFunction: the cached Script for ``body``, compiling it if new."""
    sha = sha1hex(body)
    script = st.scripts.get(sha)
    if script is not None:
        return script
    try:
        flags, shebang_len = shebang_flags(body)
    except ValueError as e:
        raise CommandError("ERR " + str(e))
    engine = st.eval_engine
    try:
        fn = engine.compile(body[shebang_len:], b"@user_script")
    except ValueError as e:
        raise CommandError("ERR Error compiling script (new function): %s" % e)
    script = Script(sha, body, flags, fn)
    st.scripts[sha] = script
    return script


# numkeys as clients usually spell it
_SMALL_NUMKEYS = {b"%d" % i: i for i in range(32)}


def _numkeys(argv):
    n = _SMALL_NUMKEYS.get(argv[2])
    if n is None:
        n = parse_int(argv[2], NOT_INT)
    if n > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if n < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return n


def _eval(c, argv, evalsha, ro):
    server = c.server
    if server.monitors:
        server.feed_monitors(c, argv)  # before the commands the script runs
    if not AVAILABLE:
        raise CommandError(NOT_AVAILABLE)
    st = server.scripting or _scripting.state(server)
    if st.ldb_clients and c.id in st.ldb_clients:  # SCRIPT DEBUG SYNC
        if evalsha:
            raise CommandError("ERR Please use EVAL instead of EVALSHA for debugging")
        return _eval_debugging(st, c, argv, ro)
    if evalsha:
        # (a 40-digit lower-case sha, as clients send them, is found at once)
        script = st.scripts.get(argv[1])
        if script is None:
            if len(argv[1]) != 40:
                raise CommandError(NOSCRIPT)
            numkeys = _numkeys(argv)
            script = st.scripts.get(argv[1].lower())
            if script is None:
                raise CommandError(NOSCRIPT)
        else:
            numkeys = _numkeys(argv)
    else:
        numkeys = _numkeys(argv)
        script = create_script(st, argv[1])
    return st.execute(
        c, argv, st.eval_engine, script.fn, script.name, numkeys, script.flags, ro, True, script.sha
    )


def _eval_debugging(st, c, argv, ro):
    """evalGenericCommandWithDebugging: the session (ldb.py) wraps the EVAL; the
    client is closed after its reply."""
    ldb = st.ldb_clients.pop(c.id)
    if ldb.forked:  # SCRIPT DEBUG YES: the session runs in a child
        return fork_session(c, lambda: _eval_debugging_run(st, c, argv, ro, ldb, True))
    return _eval_debugging_run(st, c, argv, ro, ldb, False)


def _eval_debugging_run(st, c, argv, ro, ldb, forked):
    ldb.forked = forked
    engine = st.eval_engine
    raw = st._config_values.get("busy-reply-threshold") or "0"
    ldb.begin(c, argv[1], engine, int(raw) if raw.isdigit() else 0)
    st.ldb = ldb
    engine.ldb_begin()
    try:
        numkeys = _numkeys(argv)
        script = create_script(st, argv[1])
        return st.execute(
            c, argv, engine, script.fn, script.name, numkeys, script.flags, ro, True, script.sha
        )
    finally:
        engine.ldb_finish()
        st.ldb = None
        ldb.end(c)


@command("eval")
def eval_(c, argv):
    return _eval(c, argv, False, False)


@command("eval_ro")
def eval_ro(c, argv):
    return _eval(c, argv, False, True)


@command("evalsha")
def evalsha(c, argv):
    # _eval's EVALSHA path, inline: the common case (a lower-case sha that is
    # cached, a small numkeys spelt plainly) is the hot path of scripted clients
    server = c.server
    st = server.scripting
    if server.monitors or st is None or not AVAILABLE:
        return _eval(c, argv, True, False)
    script = st.scripts.get(argv[1])
    n = _SMALL_NUMKEYS.get(argv[2])
    if script is None or n is None or n > len(argv) - 3:
        return _eval(c, argv, True, False)
    return st.execute(
        c, argv, st.eval_engine, script.fn, script.name, n, script.flags, False, True, script.sha
    )


@command("evalsha_ro")
def evalsha_ro(c, argv):
    return _eval(c, argv, True, True)


# ------------------------------------------------------------------- SCRIPT
@command("script|help")
def script_help(c, argv):
    return help_reply(argv[0], _SCRIPT_HELP)


@command("script|flush")
def script_flush(c, argv):
    if len(argv) == 3 and argv[2].lower() in (b"sync", b"async"):
        pass
    elif len(argv) != 2:
        raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    _scripting.state(c.server).reset_eval()
    return OK


@command("script|exists")
def script_exists(c, argv):
    scripts = _scripting.state(c.server).scripts
    return [INTS[1] if a.lower() in scripts else INTS[0] for a in argv[2:]]


@command("script|load")
def script_load(c, argv):
    if not AVAILABLE:
        raise CommandError(NOT_AVAILABLE)
    st = _scripting.state(c.server)
    return create_script(st, argv[2]).sha


@command("script|kill")
def script_kill(c, argv):
    return _scripting.state(c.server).kill(c, True)


@command("script|debug")
def script_debug(c, argv):
    if c.out:  # clientHasPendingReplies: the replies of this pipeline wait
        raise CommandError("ERR SCRIPT DEBUG must be called outside a pipeline")
    mode = argv[2].lower()
    st = _scripting.state(c.server)
    if _forget_ldb_client not in c.server.client_gone_hooks:
        c.server.add_client_gone_hook(_forget_ldb_client)  # (one leaving before its EVAL)
    if mode == b"no":
        st.ldb_clients.pop(c.id, None)
        return OK
    if mode == b"sync" or mode == b"yes":
        tr = c.transport
        if tr is None or tr.get_extra_info("sslcontext") is not None:
            # (the session reads and writes the socket itself: no TLS layer there)
            raise CommandError("ERR SCRIPT DEBUG is not supported on this connection (TLS)")
        st.ldb_clients[c.id] = Ldb(forked=mode == b"yes")  # ldbEnable
        return OK
    raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")


def _forget_ldb_client(c):
    st = c.server.scripting
    if st is not None:
        st.ldb_clients.pop(c.id, None)


# -------------------------------------------------- flags for processCommand
def _declared_flags(c, cmd, argv):
    """evalGetCommandFlags / fcallGetCommandFlags: the flags the script or function
    named by ``argv`` declared (a cached script, else EVAL's shebang), or None when
    unknown or undeclared (no shebang: the command's own flags apply)."""
    st = _scripting.state(c.server)
    name = cmd.fullname
    flags = None
    if name in ("eval", "eval_ro", "evalsha", "evalsha_ro"):
        if len(argv) < 2:
            return None
        if name.startswith("evalsha"):
            if len(argv[1]) != 40:
                return None
            script = st.scripts.get(argv[1].lower())
            if script is None:
                return None
            flags = script.flags
        else:
            script = st.scripts.get(sha1hex(argv[1]))
            if script is not None:
                flags = script.flags
            else:
                try:
                    flags = shebang_flags(argv[1])[0]
                except ValueError:
                    return None
    elif name in ("fcall", "fcall_ro"):
        fn = st.libraries.find_function(argv[1]) if st.libraries is not None else None
        if fn is None or len(argv) < 2:
            return None
        flags = fn.flags
    else:
        return None
    if flags & F_EVAL_COMPAT:
        return None
    return flags


def script_may_write(c, cmd, argv):
    """For CLIENT PAUSE WRITE & co: False when the script declared no-writes, True
    when it may write, None unknown."""
    flags = _declared_flags(c, cmd, argv)
    if flags is None:
        return None
    return not flags & F_NO_WRITES


def script_allow_stale(c, cmd, argv):
    """May this script run on a stale replica (processCommand's CMD_STALE)? A
    script or function that declared flags: only with ``allow-stale``. A script
    without a shebang: no (what redis-server 7.0.15 answers: MASTERDOWN, though
    COMMAND INFO lists EVAL as stale). None when the script is unknown (EVALSHA
    then answers NOSCRIPT, FCALL 'Function not found', as Redis does)."""
    flags = _declared_flags(c, cmd, argv)
    if flags is not None:
        return bool(flags & F_ALLOW_STALE)
    if cmd.fullname in ("eval", "eval_ro") and len(argv) > 1:
        # no shebang; a bad one keeps EVAL's flags and errors when run, as in Redis
        return None if argv[1].startswith(b"#!") else False
    if cmd.fullname in ("evalsha", "evalsha_ro") and len(argv) > 1:
        st = _scripting.state(c.server)
        return False if st.scripts.get(argv[1].lower()) is not None else None
    return None


def script_denyoom(c, cmd, argv):
    """scriptFlagsToCmdFlags' CMD_DENYOOM, asked by maxmemory's check (keyspace/evict.py):
    a script or function that declared flags, neither ``allow-oom`` nor ``no-writes``,
    is refused up front over maxmemory. Without a shebang the script runs and its
    first write meets the limit inside (``scriptVerifyOOM``). Asked for EXEC: did the
    MULTI queue such a script (judged when it was queued, like Redis)?"""
    if cmd.fullname == "exec":
        return _scripting.state(c.server).exec_denyoom(c)
    flags = _declared_flags(c, cmd, argv)
    return flags is not None and not flags & (F_ALLOW_OOM | F_NO_WRITES)


@on_server_init
def _init(server):
    _scripting.ensure(server)
    server.script_may_write = script_may_write
    server.script_allow_stale = script_allow_stale
    server.script_denyoom = script_denyoom
