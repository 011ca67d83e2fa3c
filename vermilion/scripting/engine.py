"""Running Lua: the interpreters, the script run context, and ``redis.call``.

One :class:`Scripting` per server (``server.scripting``) holds what Redis keeps
in ``eval.c`` + ``script.c`` + ``functions.c``'s globals: two Lua interpreters
(EVAL's and FUNCTION's, created on first use), the EVAL script cache, the
function libraries, the two connection-less clients scripts run their commands
with, and the :class:`ScriptRun` of the script running now.

**A run** (``scriptPrepareForRun`` .. ``scriptResetRun``): the script client
takes the caller's database, user and RESP2; the clock is frozen at the start
(keys expire against the script's start time); every write the script's
commands make is recorded with its database and, when the script ends (even
with an error), fed to ``server.propagate_command``, wrapped in MULTI/EXEC when
there is more than one (Redis 7.0 replicates a script's effects, not the script).

**redis.call** (``scriptCall``): look the command up in our table, check arity,
``noscript``, ACL, writes from read-only scripts, disk errors; run the command
function with the script client; account for it (INFO commandstats/errorstats,
MONITOR as ``[db lua]``, SLOWLOG, client-side caching of the caller's keys);
hand the reply to Lua: strings and integers directly, anything else as RESP
bytes parsed by the Lua side (see prelude.py). Failures are raised as
:class:`ScriptError` carrying the Lua error value.

**Slow scripts** (``busy-reply-threshold``, alias ``lua-time-limit``): a Lua
count hook calls :meth:`Scripting.lua_interrupt` every 100000 instructions.
Past the threshold the run is "timed out": other clients get ``-BUSY`` (only the
``allow-busy`` commands run: SCRIPT KILL, FUNCTION KILL/STATS, SHUTDOWN NOSAVE,
MULTI/WATCH bookkeeping, ...) and SCRIPT KILL / FUNCTION KILL mark the run
killed, which the hook turns into an error. The event loop is stuck in the
script, so the hook runs the server's processEventsWhileBlocked
(:mod:`vermilion.server.blocked`): new connections are accepted, the other
clients' input is read and served, and their replies are written, while the
caller waits for its own reply.
"""

import importlib
import importlib.util
from functools import partial as _partial
import math
import re
import struct
import time

from ..version import REDIS_VERSION
from ..errors import CommandError
from ..keyspace.evict import OOM as _OOM
from ..protocol.encoder import Raw, Status, ErrorReply, encode, error_bytes, OK, NULL_ARRAY
from .prelude import LUA_PRELUDE
from .libs import LUA_LIBS
from ..core.table import lookup, lookup_in
from ..core.client import Client
from ..protocol.encoder import NO_REPLY
from ..core.dispatch import call
from ..cluster.route import REDIR_DOWN_RO_STATE, REDIR_DOWN_STATE, node_for_query
from ..cluster.slots import key_hash_slot
from ..acl import CTX_LUA, DENIED_CMD, DENIED_KEY, DENIED_CHANNEL


def _find(name):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


# Redis embeds Lua 5.1: use lupa's 5.1 build when it ships several. Only found
# here (lupa's package, not its binary module): the first Lua interpreter loads it
# (_load_lupa), so a server that never runs a script does not pay for Lua.
_LUPA_NAME = next((n for n in ("lupa.lua51", "lupa.luajit21") if _find(n)), None)
if _LUPA_NAME is None and _find("lupa") is not None:
    try:  # an older lupa with a single Lua build: usable if that one is 5.1
        import lupa as _only

        if tuple(getattr(_only, "LUA_VERSION", (0, 0)))[:2] == (5, 1):
            _LUPA_NAME = "lupa"  # the prelude needs 5.1 (setfenv, unpack, ...)
    except ImportError:
        pass
_lupa = None  # the binary module once loaded (_load_lupa)
_lua_type = None

AVAILABLE = _LUPA_NAME is not None
NOT_AVAILABLE = (
    "ERR Lua scripting is not available on this server: the 'lupa' package "
    "(Lua 5.1) is not installed (pip install \"vermilion[lua]\")"
)


def _load_lupa():
    """lupa's Lua 5.1 module, imported by the first interpreter made."""
    global _lupa, _lua_type
    if _lupa is None:
        try:
            mod = importlib.import_module(_LUPA_NAME)
        except ImportError:  # found but cannot load (a broken install)
            raise CommandError(NOT_AVAILABLE) from None
        _lua_type = getattr(mod, "lua_type", None)
        _lupa = mod
    return _lupa


def __getattr__(name):
    if name == "LUA_VERSION":  # lupa's Lua version: asking loads lupa
        return getattr(_load_lupa(), "LUA_VERSION", None) if AVAILABLE else None
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = (
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
)

_NOREPLICAS = "NOREPLICAS Not enough good replicas to write."  # (shared.noreplicaserr)
_ROSLAVE = "READONLY You can't write against a read only replica."  # (shared.roslaveerr)

# script flags (script.h)
F_NO_WRITES, F_ALLOW_OOM, F_ALLOW_STALE, F_NO_CLUSTER, F_ALLOW_CROSS_SLOT = 1, 2, 4, 8, 16
F_EVAL_COMPAT = 1 << 31  # EVAL without a shebang
FLAG_NAMES = (
    (F_NO_WRITES, "no-writes"),
    (F_ALLOW_OOM, "allow-oom"),
    (F_ALLOW_STALE, "allow-stale"),
    (F_NO_CLUSTER, "no-cluster"),
    (F_ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
)
FLAG_BY_NAME = {n.encode(): f for f, n in FLAG_NAMES}

PROPAGATE_AOF, PROPAGATE_REPL = 1, 2
_PROPAGATE_ALL = PROPAGATE_AOF | PROPAGATE_REPL
_SCRIPT_COMMANDS = frozenset(("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"))
_MAY_REPLICATE = frozenset(("pfcount", "publish", "spublish", "eval", "evalsha", "fcall"))
_VERSION_NUM = sum(int(p) << (16 - 8 * i) for i, p in enumerate(REDIS_VERSION.split(".")))
_MAX_EXACT = 1 << 53

_monotonic = time.monotonic
# EVAL/FCALL with at most this many arguments pass KEYS and ARGV to Lua as
# arguments (the Lua side makes the tables); more go as tables (Lua's C stack)
_VARARGS_MAX = 64
_UNSET = object()


class ScriptError(Exception):
    """A Lua error raised from Python; ``value`` is the Lua error object."""

    def __init__(self, value):
        Exception.__init__(self, "lua error")
        self.value = value


def sha1hex(b):
    import hashlib  # start-up cost: OpenSSL's digests, at the first script

    return hashlib.sha1(b).hexdigest().encode()


def error_code(msg):
    """The INFO errorstats name of error reply ``-msg`` (afterErrorReply)."""
    sp = msg.find(" ", 0, 31)
    if sp <= 0:
        return "ERR"
    return msg[:sp]


# ------------------------------------------------------- Lua number helpers
def _fmt17(x):
    """A Lua number given to redis.call, spelt like Redis (``%.17g``)."""
    if x.__class__ is int:
        if -100000000000000000 < x < 100000000000000000:
            return b"%d" % x
        x = float(x)
    if x != x:
        return b"-nan" if math.copysign(1.0, x) < 0 else b"nan"
    return b"%.17g" % x


def lua_tostring(x):
    """lua_tolstring of a number (LUA_NUMBER_FMT, ``%.14g``)."""
    if x.__class__ is int and -100000000000000 < x < 100000000000000:
        return b"%d" % x
    x = float(x)
    if x != x:
        return b"-nan" if math.copysign(1.0, x) < 0 else b"nan"
    return b"%.14g" % x


_NUMBER = re.compile(
    rb"[ \t\n\v\f\r]*([-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
    rb"|0[xX][0-9a-fA-F]+|inf(?:inity)?|nan))[ \t\n\v\f\r]*\Z",
    re.I,
)


def lua_tonumber(v):
    """lua_tonumber: a number, a numeric string (strtod-style), else None."""
    t = v.__class__
    if t is int or t is float:
        return v
    if t is bytes:
        m = _NUMBER.match(v)
        if m is None:
            return None
        s = m.group(1)
        low = s.lower()
        if b"0x" in low:
            neg = low.startswith(b"-")
            n = int(low.lstrip(b"+-")[2:], 16)
            return float(-n if neg else n)
        return float(s)
    return None


def _trunc_int(n):
    """(int) cast of a double, as C does it on x86 for out-of-range values."""
    if n != n or n in (math.inf, -math.inf):
        return -2147483648
    i = int(n)
    if i < -2147483648 or i > 2147483647:
        return -2147483648
    return i


def _lua_typename(v, present=True):
    if not present:
        return "no value"
    if v is None:
        return "nil"
    t = v.__class__
    if t is bytes:
        return "string"
    if t is bool:
        return "boolean"
    if t is int or t is float:
        return "number"
    lt = _lua_type(v) if _lua_type is not None else None
    return lt or "userdata"


def _no_attributes(obj, name, is_setting):
    raise AttributeError("access to Python attributes is not allowed from Lua")


class ScriptRun:
    """scriptRunCtx: what one EVAL/FCALL in progress needs to know."""

    __slots__ = (
        "caller",
        "client",
        "funcname",
        "eval_mode",
        "read_only",
        "allow_oom",
        "write_dirty",
        "killed",
        "timedout",
        "start",
        "resp",
        "repl",
        "ops",
        "caller_cmd",
        "caller_argv",
        "tracked",
        "threshold",
        "acl",
        "slot",
        "cross_slot",
    )

    def __init__(self, caller, client, funcname, eval_mode, read_only, allow_oom):
        self.slot = -1  # cluster mode: the slot of the keys the script touched
        self.cross_slot = True  # its keys may be in several slots (no shebang, or the flag)
        self.caller = caller
        self.client = client
        self.funcname = funcname
        self.eval_mode = eval_mode
        self.read_only = read_only
        self.allow_oom = allow_oom
        self.write_dirty = False
        self.killed = False
        self.timedout = False
        self.start = _monotonic()
        self.resp = 2
        self.repl = PROPAGATE_AOF | PROPAGATE_REPL
        self.ops = []
        self.caller_cmd = caller.cmd
        self.caller_argv = None
        self.tracked = False
        self.threshold = 0.0
        self.acl = getattr(caller, "acl", None)


class _Trampoline:
    """A Lua library function called through Python, so that it is a C function
    to Lua (see prelude.py). ``fn`` returns (true, results...) or (false, err)."""

    __slots__ = ("engine", "fn")

    def __init__(self, engine, fn):
        self.engine = engine
        self.fn = fn

    def __call__(self, *args):
        r = self.fn(*args)
        if r.__class__ is tuple:
            if r[0] is True:
                return r[1] if len(r) == 2 else r[1:]
            err = r[1]
            if err.__class__ is bytes:
                err = self.engine.where() + err
            raise ScriptError(err)
        return ()


class LuaEngine:
    """One Lua interpreter with the sandbox and redis API of prelude.py."""

    def __init__(self, scripting, mode):
        self.scripting = scripting
        self.mode = mode
        rt = _load_lupa().LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_no_attributes,
        )
        self.runtime = rt
        self.table_from = rt.table_from
        s = scripting
        bits = rt.table_from({name.encode(): _BitFunction(self, name) for name in _BIT_OPS})
        P = rt.table_from(
            {
                b"call": _partial(s.lua_call, self, True),
                b"pcall": _partial(s.lua_call, self, False),
                b"call_packed": _partial(s.lua_call_packed, self, True),
                b"pcall_packed": _partial(s.lua_call_packed, self, False),
                b"log": self.log,
                b"setresp": self.setresp,
                b"set_repl": self.set_repl,
                b"sha1hex": self.sha1hex,
                b"acl_check_cmd": self.acl_check_cmd,
                b"random": self.random,
                b"randomseed": self.randomseed,
                b"register_function": self.register_function,
                b"unwrap": self.unwrap,
                b"trampoline": self.trampoline,
                b"bit": bits,
                b"interrupt": s.lua_interrupt,
                b"script_resp": s.lua_script_resp,
                b"load_timeout": s.lua_load_timeout,
                b"struct_pack": _struct_pack,
                b"struct_unpack": _struct_unpack,
                b"mp_double": _mp_double,
                b"mp_float_bits": _mp_float_bits,
                b"version": REDIS_VERSION.encode(),
                b"version_num": _VERSION_NUM,
                b"deprecated_api": s.server.config.get("lua-enable-deprecated-api") == "yes",
                b"ldb_line": s.ldb_line,
                b"ldb_log": s.ldb_log,
                b"ldb_log_maxlen": s.ldb_log_maxlen,
                b"ldb_source_line": s.ldb_source_line,
                b"ldb_breakpoint": s.ldb_breakpoint,
                b"ldb_debug": s.ldb_debug,
            }
        )
        libs = rt.execute(LUA_LIBS, name="=vermilion")
        api = rt.execute(LUA_PRELUDE, P, mode.encode(), libs, name="=vermilion")
        self.compile_fn = api[b"compile"]
        self.run_fn = api[b"run"]
        self.set_script_resp = api[b"set_script_resp"]
        self.load_fn = api[b"load_library"]
        self.parse = api[b"parse"]
        self.err = api[b"err"]
        self.cmd_err = api[b"cmd_err"]
        self.status = api[b"status"]
        self.where = api[b"where"]
        self.named_args = api[b"named_args"]
        self.is_function = api[b"is_function"]
        ldb = api[b"ldb"]  # the Lua debugger's side (ldb.py)
        self.ldb_begin = ldb[b"ldb_begin"]
        self.ldb_finish = ldb[b"ldb_finish"]
        self.ldb_print = ldb[b"ldb_print"]
        self.ldb_trace = ldb[b"ldb_trace"]
        self.ldb_eval = ldb[b"ldb_eval"]
        self.ldb_redis = ldb[b"ldb_redis"]

    # ------------------------------------------------------------ driving
    def compile(self, code, chunkname):
        """A Lua function for ``code``; ValueError(message) if it does not compile."""
        r = self.compile_fn(code, chunkname)
        if r.__class__ is tuple:
            if r[0] is None:
                err = r[1]
                raise ValueError(
                    err.decode("utf-8", "surrogateescape") if isinstance(err, bytes) else str(err)
                )
            return r[0]
        return r

    def fail(self, msg, raise_=True):
        """luaPushError(msg) [+ luaError]."""
        e = self.err(msg if isinstance(msg, bytes) else msg.encode())
        if raise_:
            raise ScriptError(e)
        return e

    def trampoline(self, fn, name=None):
        return _Trampoline(self, fn)

    def unwrap(self, e):
        if isinstance(e, ScriptError):
            return e.value
        if isinstance(e, BaseException):
            self.scripting.server.log_warning("Lua: internal error in a Python callback: %r" % (e,))
            return b"internal error: " + type(e).__name__.encode()
        return e

    # ------------------------------------------------------ the redis API
    def call(self, *args):
        return self.scripting.lua_call(self, True, *args)

    def pcall(self, *args):
        return self.scripting.lua_call(self, False, *args)

    def log(self, *args):
        if len(args) < 2:
            self.fail(b"redis.log() requires two arguments or more.")
        n = lua_tonumber(args[0])
        if n is None:
            self.fail(b"First argument must be a number (log level).")
        level = _trunc_int(n)
        if level < 0 or level > 3:
            self.fail(b"Invalid debug level.")
        server = self.scripting.server
        if level < server.loglevel:
            return ()
        parts = []
        for a in args[1:]:
            t = a.__class__
            if t is bytes:
                parts.append(a)
            elif t is int or t is float:
                parts.append(lua_tostring(a))
        server.log(level, b" ".join(parts).decode("utf-8", "replace"))
        return ()

    def setresp(self, *args):
        run = self.scripting.run
        if run is None:
            self.fail(b"redis.setresp can only be called inside a script invocation")
        if len(args) != 1:
            self.fail(b"redis.setresp() requires one argument.")
        n = lua_tonumber(args[0])
        resp = _trunc_int(n) if n is not None else 0
        if resp != 2 and resp != 3:
            self.fail(b"RESP version must be 2 or 3.")
        run.resp = resp
        run.client.resp = resp
        self.set_script_resp(resp)  # (the Lua side encodes the script's result)
        return ()

    def set_repl(self, *args):
        run = self.scripting.run
        if run is None:
            self.fail(b"redis.set_repl can only be called inside a script invocation")
        if len(args) != 1:
            self.fail(b"redis.set_repl() requires two arguments.")
        n = lua_tonumber(args[0])
        flags = _trunc_int(n) if n is not None else 0
        if flags & ~(PROPAGATE_AOF | PROPAGATE_REPL):
            self.fail(
                b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
            )
        run.repl = flags
        return ()

    def sha1hex(self, *args):
        if len(args) != 1:
            self.fail(b"wrong number of arguments")
        s = args[0]
        if s.__class__ is not bytes:
            s = lua_tostring(s) if s.__class__ in (int, float) else b""
        return sha1hex(s)

    def acl_check_cmd(self, *args):
        st = self.scripting
        run = st.run
        if run is None:
            self.fail(b"redis.acl_check_cmd can only be called inside a script invocation")
        argv = st.lua_argv(self, args, True)
        cmd = lookup(argv[0])
        if cmd is not None and cmd.subcommands is not None and len(argv) > 1:
            cmd = cmd.subcommands.get(argv[1].lower())
        if cmd is None:
            self.fail(b"Invalid command passed to redis.acl_check_cmd()")
        acl = getattr(run.caller, "acl", None)
        if acl is None:
            return True
        try:
            r, _ = acl.permits(cmd, argv)
        except Exception:
            return True
        return r == 0

    # math.random / math.randomseed: Redis's redisLrand48 (rand.c)
    def random(self, *args):
        st = self.scripting
        if st.run is None:
            raise ScriptError(
                self.where() + b"math.random can only be called inside a script invocation"
            )
        r = (st.lrand48() % 2147483647) / 2147483647.0
        n = len(args)
        if n == 0:
            return r
        if n == 1:
            u = self._checkint(args, 1, "random")
            if u < 1:
                raise ScriptError(self.where() + b"bad argument #1 to 'random' (interval is empty)")
            return float(math.floor(r * u) + 1)
        if n == 2:
            lo = self._checkint(args, 1, "random")
            u = self._checkint(args, 2, "random")
            if lo > u:
                raise ScriptError(self.where() + b"bad argument #2 to 'random' (interval is empty)")
            return float(math.floor(r * (u - lo + 1)) + lo)
        raise ScriptError(self.where() + b"wrong number of arguments")

    def randomseed(self, *args):
        st = self.scripting
        if st.run is None:
            raise ScriptError(
                self.where() + b"math.randomseed can only be called inside a script invocation"
            )
        st.srand48(self._checkint(args, 1, "randomseed"))
        return ()

    def _checkint(self, args, i, fname):
        present = len(args) >= i
        v = args[i - 1] if present else None
        n = lua_tonumber(v) if present else None
        if n is None:
            raise ScriptError(
                self.where()
                + (
                    "bad argument #%d to '%s' (number expected, got %s)"
                    % (i, fname, _lua_typename(v, present))
                ).encode()
            )
        return _trunc_int(n)

    # ------------------------------------------------ FUNCTION LOAD's API
    def register_function(self, *args):
        st = self.scripting
        ctx = st.load_ctx
        if ctx is None:
            self.fail(b"redis.register_function can only be called on FUNCTION LOAD command")
        n = len(args)
        if n < 1 or n > 2:
            self.fail(b"wrong number of arguments to redis.register_function")
        desc = None
        flag_names = ()
        if n == 1:
            t = args[0]
            if _lua_type is None or _lua_type(t) != "table":
                self.fail(
                    b"calling redis.register_function with a single argument is only "
                    b"applicable to Lua table (representing named arguments)."
                )
            r = self.named_args(t)
            if r[0] is None:
                self.fail(r[1])
            name, callback, desc, flags_t = r[0], r[1], r[2], r[3]
            if flags_t is not None:
                flag_names = list(flags_t.values())
        else:
            name, callback = args
            t = name.__class__
            if t is int or t is float:
                name = lua_tostring(name)
            elif t is not bytes:
                self.fail(b"first argument to redis.register_function must be a string")
            if not self.is_function(callback):
                self.fail(b"second argument to redis.register_function must be a function")
        flags = 0
        for f in flag_names:
            v = FLAG_BY_NAME.get(f.lower()) if f.__class__ is bytes else None
            if v is None:
                self.fail(b"unknown flag given")
            flags |= v
        err = ctx[0].add_function(name, callback, desc, flags)
        if err:
            self.fail(err.encode())
        return ()


_BIT_OPS = (
    "tobit",
    "bnot",
    "band",
    "bor",
    "bxor",
    "lshift",
    "rshift",
    "arshift",
    "rol",
    "ror",
    "bswap",
    "tohex",
)
_MAGIC = 6755399441055744.0
_pack_d = struct.Struct("<d").pack
_unpack_q = struct.Struct("<Q").unpack


class _BitFunction:
    """One function of lua_bit.c: 32-bit operations on Lua numbers."""

    __slots__ = ("engine", "name", "ename")

    def __init__(self, engine, name):
        self.engine = engine
        self.name = name
        self.ename = name.encode()

    def _barg(self, args, i):
        present = len(args) >= i
        v = args[i - 1] if present else None
        n = lua_tonumber(v) if present else None
        if n is None:
            n = 0.0
        try:
            b = _unpack_q(_pack_d(float(n) + _MAGIC))[0] & 0xFFFFFFFF
        except OverflowError:
            b = 0
        if b == 0 and lua_tonumber(v) is None:
            raise ScriptError(
                self.engine.where()
                + (
                    "bad argument #%d to '%s' (number expected, got %s)"
                    % (i, self.name, _lua_typename(v, present))
                ).encode()
            )
        return b

    def __call__(self, *args):
        name = self.name
        b = self._barg(args, 1)
        if name in ("band", "bor", "bxor"):
            for i in range(2, len(args) + 1):
                x = self._barg(args, i)
                if name == "band":
                    b &= x
                elif name == "bor":
                    b |= x
                else:
                    b ^= x
        elif name == "bnot":
            b = ~b & 0xFFFFFFFF
        elif name == "bswap":
            b = int.from_bytes(b.to_bytes(4, "little"), "big")
        elif name == "tohex":
            if len(args) >= 2:
                n = self._barg(args, 2)
                if n & 0x80000000:
                    n -= 0x100000000
            else:
                n = 8
            digits = "0123456789abcdef"
            if n < 0:
                n = -n
                digits = "0123456789ABCDEF"
            if n > 8:
                n = 8
            out = []
            for _ in range(n):
                out.append(digits[b & 15])
                b >>= 4
            return "".join(reversed(out)).encode()
        elif name != "tobit":
            n = self._barg(args, 2) & 31
            if name == "lshift":
                b = (b << n) & 0xFFFFFFFF
            elif name == "rshift":
                b >>= n
            elif name == "arshift":
                sb = b - 0x100000000 if b & 0x80000000 else b
                b = (sb >> n) & 0xFFFFFFFF
            elif name == "rol":
                b = ((b << n) | (b >> (32 - n))) & 0xFFFFFFFF
            elif name == "ror":
                b = ((b << (32 - n)) | (b >> n)) & 0xFFFFFFFF
        return b - 0x100000000 if b & 0x80000000 else b


class Scripting:
    """Per-server scripting state (eval.c's lctx, script.c's curr_run_ctx, functions)."""

    def __init__(self, server):
        names = getattr(server, "renames", None)  # rename-command: redis.call sees it too
        self._lookup = (lambda name: lookup_in(names, name)) if names else lookup
        self._no_reply = NO_REPLY
        self.server = server
        # The connection-less clients Redis creates at startup (client ids 1 and 2).
        self.eval_client = Client(server)
        self.function_client = Client(server)
        for fc in (self.eval_client, self.function_client):
            fc.addr = "?:0"  # getClientPeerId of a connection-less client (SLOWLOG)
            fc.authenticated = True
            fc.is_script = True
            fc.propagate_to = self._collect_write
        self._eval = None
        self._function = None
        self.scripts = {}  # sha (lower-case hex bytes) -> Script
        self.run = None
        self.load_ctx = None  # (library, deadline) while FUNCTION LOAD runs code
        self.libraries = None  # the function libraries (scripting/library.py)
        self.busy = False
        # client id -> its MULTI queue (c.multi) once a script refused over maxmemory
        # was queued there (Redis's mstate.cmd_flags & CMD_DENYOOM, set as queued)
        self.queued_denyoom = {}
        self.rand_x = 0x1234ABCD330E  # redisLrand48's state (rand.c)
        self._spare_run = None  # the ScriptRun reused by the next run
        self._capture_expire_fn = self._capture_expire
        self._config_values = server.config.values
        self._threshold_raw = None  # busy-reply-threshold as last read, parsed
        self._threshold_ms = 0
        self.ldb_clients = {}  # client id -> its Ldb, from SCRIPT DEBUG SYNC (ldb.py)
        self.ldb = None  # the Ldb of the debugging session running now
        self.ldb_rejected = None  # what scriptCall refused last (the debugger logs it)

    # ------------------------------------------------------------ engines
    @property
    def eval_engine(self):
        e = self._eval
        if e is None:
            if not AVAILABLE:
                raise CommandError(NOT_AVAILABLE)
            e = self._eval = LuaEngine(self, "eval")
        return e

    @property
    def function_engine(self):
        e = self._function
        if e is None:
            if not AVAILABLE:
                raise CommandError(NOT_AVAILABLE)
            e = self._function = LuaEngine(self, "function")
        return e

    def reset_eval(self):
        """SCRIPT FLUSH: forget every script; the interpreter starts over."""
        self.scripts.clear()
        self._eval = None

    def lrand48(self):
        x = (self.rand_x * 0x5DEECE66D + 0xB) & 0xFFFFFFFFFFFF
        self.rand_x = x
        return x >> 17

    def srand48(self, seed):
        self.rand_x = ((seed & 0xFFFFFFFF) << 16) | 0x330E

    # ---------------------------------------------------------- running
    def execute(
        self, c, argv, engine, fn, funcname, numkeys, script_flags, ro, eval_mode, fname=None
    ):
        """Run a compiled script for client ``c``; returns the reply value.

        ``argv[3:]`` are the keys (``numkeys`` of them) and then the arguments;
        ``funcname`` names the script in messages (``fname``: the same as bytes).
        The checks of ``scriptPrepareForRun`` on the script's flags come first
        (they raise CommandError), then the run, then ``scriptResetRun``.
        """
        server = self.server
        if script_flags & F_EVAL_COMPAT:  # no shebang: the usual EVAL script
            read_only = ro
            allow_oom = False
        else:
            if script_flags & F_NO_CLUSTER and server.cluster is not None:
                raise CommandError("ERR Can not run script on cluster, 'no-cluster' flag is set.")
            self._check_flags(c, script_flags, ro)
            read_only = ro or bool(script_flags & F_NO_WRITES)
            allow_oom = bool(script_flags & F_ALLOW_OOM)
        fake = self.eval_client if eval_mode else self.function_client
        fake.db = c.db
        fake.resp = 2
        fake.user = c.user
        acl = getattr(c, "acl", _UNSET)
        if acl is _UNSET:
            acl = None
        else:
            fake.acl = acl
        # One run context, reused (scripts do not nest; if one ever did, the inner
        # run would find none spare and make its own)
        run = self._spare_run
        if run is None:
            run = ScriptRun(c, fake, funcname, eval_mode, read_only, allow_oom)
        else:
            self._spare_run = None
            run.caller = c
            run.client = fake
            run.funcname = funcname
            run.eval_mode = eval_mode
            run.read_only = read_only
            run.allow_oom = allow_oom
            run.write_dirty = run.killed = run.timedout = False
            run.start = _monotonic()
            run.resp = 2
            run.repl = PROPAGATE_AOF | PROPAGATE_REPL
            run.caller_cmd = c.cmd
            run.acl = acl
        run.caller_argv = argv
        if server.cluster is not None:
            # the caller's slot, as processCommand's getNodeByQuery left it (c->slot)
            run.slot = key_hash_slot(argv[3]) if numkeys else -1
            run.cross_slot = bool(script_flags & (F_EVAL_COMPAT | F_ALLOW_CROSS_SLOT))
        # (a caller that does not track keys has nothing for the script's reads to do)
        run.tracked = c.tracking is None
        # busy-reply-threshold, parsed again only when its value changed
        raw = self._config_values["busy-reply-threshold"]
        if raw is not self._threshold_raw:
            self._threshold_raw = raw
            self._threshold_ms = int(raw)
        threshold = self._threshold_ms
        run.threshold = threshold / 1000.0
        frozen = server.frozen_ms
        server.frozen_ms = server.clock.ms()  # the data's clock (a test may move it)
        self.run = run
        sd = server.__dict__
        saved_expire = sd.get("propagate_expire")
        sd["propagate_expire"] = self._capture_expire_fn
        if fname is None:
            fname = funcname.encode()
        try:
            # (run's ctl: see prelude.lua)
            ctl = (threshold > 0) + 2 * c.resp
            if len(argv) <= _VARARGS_MAX:
                # KEYS and ARGV are made by Lua from the arguments
                r = engine.run_fn(fn, ctl + 8 * (numkeys + 1), fname, *argv[3:])
            else:
                t = engine.table_from
                r = engine.run_fn(
                    fn,
                    ctl,
                    fname,
                    t(argv[3 : 3 + numkeys]) if numkeys else None,
                    t(argv[3 + numkeys :]) if len(argv) > 3 + numkeys else None,
                )
        finally:
            if saved_expire is None:
                del sd["propagate_expire"]
            else:
                sd["propagate_expire"] = saved_expire
            server.frozen_ms = frozen
            self.run = None
            if run.timedout:
                self._leave_busy(run)
            if run.ops:
                ops = run.ops
                run.ops = []
                self._propagate(c, ops)
            run.caller = run.caller_argv = run.acl = None  # (the spare keeps nothing alive)
            self._spare_run = run
        # the result: a string (bulk) or None (null) as it is, else a tuple
        if r.__class__ is bytes or r is None:
            return r
        return self._reply(c, r)

    def _check_flags(self, c, script_flags, ro):
        """scriptPrepareForRun's checks of a script that declared its flags."""
        server = self.server
        link = server.repl_link
        if (
            link.host is not None
            and not link.serve_stale
            and not link.connected()
            and not script_flags & F_ALLOW_STALE
        ):
            raise CommandError(
                "MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' "
                "and 'allow-stale' flag is not set on the script."
            )
        if not script_flags & F_NO_WRITES:
            # a script that may write: not on a read-only replica (unless our master
            # or the AOF runs it), not while the disk fails, not with *_RO
            if link.host is not None and link.read_only and not self._must_obey(c):
                raise CommandError(
                    "READONLY Can not run script with write flag on readonly replica"
                )
            disk = server.disk_error
            if disk is not None and "M" not in (c.flags_extra or ""):
                if disk.startswith("MISCONF Redis is configured to save RDB"):
                    raise CommandError(
                        "MISCONF Redis is configured to save RDB snapshots, but it's "
                        "currently unable to persist to disk. Writable scripts are blocked. "
                        "Use 'no-writes' flag for read only scripts."
                    )
                raise CommandError(
                    "MISCONF Redis is configured to persist data to AOF, but it's currently "
                    "unable to persist to disk. Writable scripts are blocked. Use 'no-writes' "
                    "flag for read only scripts. AOF error: %s" % disk.split(": ", 1)[-1]
                )
            if ro:
                raise CommandError(
                    "ERR Can not execute a script with write flag using *_ro command."
                )
        if (
            not script_flags & (F_ALLOW_OOM | F_NO_WRITES)
            and self._maxmemory()
            and server.pre_command_oom_state
        ):
            # reached when the up-front check let it through (queued in MULTI
            # before the script was known, ...)
            raise CommandError(
                "OOM allow-oom flag is not set on the script, can not run it when used "
                "memory > 'maxmemory'"
            )

    def _reply(self, c, r):
        if r[0]:
            if len(r) > 2 and r[2] is not None:
                self._count_nested_errors(c, r[2])
            return Raw(r[1])
        msg = r[1].decode("utf-8", "surrogateescape")
        ignore = bool(r[2]) if len(r) > 2 else False
        if len(r) > 3 and r[3]:
            # a returned {err=...}: addReplyErrorFormatEx("-%s") trims trailing CR/LF
            msg = msg[1:].rstrip("\r\n")
        return self.reply_error(c, msg, ignore)

    def reply_error(self, c, msg, ignore):
        """Answer error ``-msg`` counted like Redis (``ignore``: counted already)."""
        NO_REPLY = self._no_reply
        server = self.server
        msg = msg.replace("\r", " ").replace("\n", " ")
        cmd = c.cmd
        if not ignore:
            code = error_code(msg)
            if code == msg.split(" ", 1)[0]:
                raise CommandError(msg)  # the dispatcher counts it
            server.count_error(code + " x")
        c.out.append(error_bytes(msg))
        if cmd is not None and cmd.index >= 0:
            server.cmdstats[cmd.index].failed += 1
        return NO_REPLY

    def _count_nested_errors(self, c, errs):
        server = self.server
        vals = list(errs.values())
        counted = False
        cmd = c.cmd
        for i in range(0, len(vals) - 1, 2):
            s = vals[i].decode("utf-8", "surrogateescape")
            if vals[i + 1]:
                if cmd is not None:
                    server.cmdstats[cmd.index].failed += 1
            else:
                server.count_error(error_code(s[1:]) + " x")
                counted = True
        if counted and cmd is not None:
            server.cmdstats[cmd.index].failed += 1

    # ------------------------------------------------------- propagation
    def _collect_write(self, c, argv):
        """The script clients' ``propagate_to``: a write made by ``redis.call`` is
        kept in the run's ops, propagated when the script ends (see execute)."""
        prop = c.propagate
        c.propagate = None
        run = self.run
        if run is not None and run.repl:
            dbid = c.db.id
            # (redis.set_repl's targets: kept with an op only when not both)
            op = (dbid,) if run.repl == _PROPAGATE_ALL else (dbid, run.repl)
            if prop is None:
                run.ops.append(op + (list(argv),))
            else:
                for p in prop:
                    run.ops.append(op + (list(p),))

    def _capture_expire(self, db, key):
        run = self.run
        if run is None:
            type(self.server).propagate_expire(self.server, db, key)
            return
        lazy = self.server.config.get("lazyfree-lazy-expire") == "yes"
        run.ops.append((db.id, [b"UNLINK" if lazy else b"DEL", key]))

    def _propagate(self, c, ops):
        server = self.server
        for op in ops:
            if len(op) == 3:  # redis.set_repl chose targets
                if server.propagate_buffer is None:
                    return self._propagate_targeted(ops)
                ops = [(o[0], o[-1]) for o in ops]  # (inside EXEC: to every target)
                break
        carrier = self.eval_client
        saved_db, saved_prop = carrier.db, carrier.propagate
        dbs = server.dbs
        wrap = len(ops) > 1 and not c.in_exec
        try:
            if wrap:
                carrier.db = dbs[ops[0][0]]
                carrier.propagate = [[b"MULTI"]]
                server.propagate_command(carrier, None)
            for dbid, argv in ops:
                carrier.db = dbs[dbid]
                carrier.propagate = [argv]
                server.propagate_command(carrier, None)
            if wrap:
                carrier.propagate = [[b"EXEC"]]
                server.propagate_command(carrier, None)
        finally:
            carrier.db, carrier.propagate = saved_db, saved_prop

    def _propagate_targeted(self, ops):
        """A script's effects when redis.set_repl sent some to the AOF only or to
        the replicas only: MULTI/EXEC (more than one op) go to both, each op to
        its targets (propagatePendingCommands' propagateNow(..., target))."""
        sd = self.server.__dict__
        aof = sd.get("_aof_sink")
        others = list((sd.get("_extra_sinks") or {}).values())  # the replicas' feed
        wrap = len(ops) > 1
        if wrap:
            for sink in [aof] + others:
                if sink is not None:
                    sink.feed(ops[0][0], ([b"MULTI"],))
        for op in ops:
            target = op[1] if len(op) == 3 else _PROPAGATE_ALL
            if target & PROPAGATE_AOF and aof is not None:
                aof.feed(op[0], (op[-1],))
            if target & PROPAGATE_REPL:
                for sink in others:
                    sink.feed(op[0], (op[-1],))
        if wrap:
            for sink in [aof] + others:
                if sink is not None:
                    sink.feed(ops[-1][0], ([b"EXEC"],))

    # ------------------------------------------------------ redis.call
    def lua_argv(self, engine, args, raise_):
        """luaArgsToRedisArgv: Lua values -> argv (numbers as ``%.17g``)."""
        if not args:
            return engine.fail(
                b"Please specify at least one argument for this redis lib call", raise_
            )
        argv = []
        append = argv.append
        for a in args:
            t = a.__class__
            if t is bytes:
                append(a)
            elif t is int or t is float:
                append(_fmt17(a))
            else:
                return engine.fail(
                    b"Lua redis lib command arguments must be strings or integers", raise_
                )
        return argv

    def lua_call_packed(self, engine, raise_, n, t):
        """``redis.call`` with many arguments: the Lua side (api_call in
        prelude.lua) hands them over as one table of ``n`` values (lupa passes
        thousands of separate arguments slowly, and at most 7997)."""
        args = list(t.values())  # (the array part, in order: one pass)
        if len(args) != n:  # a nil among them (an error, below): keep its place
            args = [t[i] for i in range(1, n + 1)]
        return self.lua_call(engine, raise_, *args)

    def lua_call(self, engine, raise_, *args):
        """scriptCall: ``redis.call`` (``raise_``) or ``redis.pcall`` from Lua.

        Every check of scriptCall is made, in its order; they are arranged so that
        the common call (a known command, right arity, a read, no ACL user, not a
        read-only script) tests a few flags."""
        run = self.run
        if run is None:
            engine.fail(b"redis.call/pcall can only be called inside a script invocation")
        if self.ldb is not None and self.ldb.step:
            return self._ldb_call(engine, raise_, args)
        # Lua strings arrive as bytes; anything else (numbers, bad types, no
        # arguments at all) goes through luaArgsToRedisArgv
        argv = list(args)
        for a in argv:
            if a.__class__ is not bytes:
                argv = self.lua_argv(engine, args, raise_)
                if argv.__class__ is not list:
                    return argv  # redis.pcall's error table
                break
        else:
            if not argv:
                return self.lua_argv(engine, args, raise_)
        cmd = self._lookup(argv[0])
        if cmd is None:
            return self._reject(engine, raise_, None, "Unknown Redis command called from script")
        if cmd.subcommands is not None and len(argv) > 1:
            cmd = cmd.subcommands.get(argv[1].lower())
            if cmd is None:
                return self._reject(
                    engine, raise_, None, "Unknown Redis command called from script"
                )
        n = len(argv)
        if n not in cmd.argcs or cmd.func is None:
            ar = cmd.arity
            if (ar > 0 and n != ar) or n < -ar or cmd.func is None:
                return self._reject(
                    engine, raise_, cmd, "Wrong number of args calling Redis command from script"
                )
        fake = run.client
        fake.cmd = fake.last_cmd = cmd
        if cmd.noscript and not self.server.script_disable_deny_script:
            return self._reject(
                engine, raise_, cmd, "This Redis command is not allowed from script"
            )
        if self.server.is_replica and not cmd.stale:
            link = self.server.repl_link  # scriptVerifyAllowStale
            if not link.serve_stale and not link.connected():
                return self._reject(
                    engine, raise_, cmd, "Can not execute the command on a stale replica"
                )
        acl = run.acl
        if acl is not None:
            err = self._acl_check(run, acl, cmd, argv)
            if err is not None:
                return self._reject(engine, raise_, cmd, err)
        if cmd.is_write:
            if run.read_only:
                return self._reject(
                    engine, raise_, cmd, "Write commands are not allowed from read-only scripts."
                )
            if not run.write_dirty:
                if self.server.is_replica and self.server.repl_link.read_only:
                    if not self._must_obey(run.caller):
                        return self._reject(engine, raise_, cmd, "-" + _ROSLAVE)
                disk = self.server.disk_error
                if disk is not None:
                    return self._reject(engine, raise_, cmd, "-" + disk)
                repl = self.server.repl  # checkGoodReplicasStatus (min-replicas-to-write)
                if repl.min_replicas and not self.server.is_replica:
                    if repl.good_replicas() < repl.min_replicas:
                        return self._reject(engine, raise_, cmd, "-" + _NOREPLICAS)
                if cmd.denyoom and self._script_oom(run):
                    return self._reject(engine, raise_, cmd, "-" + _OOM)
                run.write_dirty = True
        else:
            if run.read_only and cmd.fullname in _MAY_REPLICATE:
                return self._reject(
                    engine, raise_, cmd, "Write commands are not allowed from read-only scripts."
                )
            if cmd.denyoom and not run.write_dirty and self._script_oom(run):
                return self._reject(engine, raise_, cmd, "-" + _OOM)
        if self.server.cluster is not None and not self._must_obey(run.caller):
            err = self._cluster_check(run, fake, cmd, argv)
            if err is not None:
                return self._reject(engine, raise_, cmd, err)
        # call() for the script client
        out = fake.out
        fake.argv = argv
        r = call(fake, cmd, argv, reply=False)
        if cmd.is_readonly and not run.tracked:
            self._track_caller(run)
        # the reply, as Lua sees it (redisProtocolToLuaType)
        if not out:
            t = r.__class__
            if t is bytes:
                return r
            if t is int:
                return r if -_MAX_EXACT <= r <= _MAX_EXACT else float(r)
            if r is None or r is NULL_ARRAY or r is self._no_reply:
                return False if fake.resp == 2 else None
        return self._to_lua(engine, raise_, self._converted(fake, r))

    def _ldb_call(self, engine, raise_, args):
        """redis.call while the debugger steps: the command and its reply (or
        error) are logged (luaRedisGenericCommand's ldbLog calls)."""
        ldb = self.ldb
        argv = []
        for a in args:  # (logged once luaArgsToRedisArgv would accept them)
            t = a.__class__
            if t is bytes:
                argv.append(a)
            elif t is int or t is float:
                argv.append(_fmt17(a))
            else:
                argv = []
                break
        if argv:
            ldb.log_call(argv)
        self.ldb = None
        self.ldb_rejected = None
        try:
            r = self.lua_call(engine, raise_, *args)
        except ScriptError as e:
            self._ldb_log_error(ldb, _ldb_err(e.value))
            raise
        finally:
            self.ldb = ldb
        err = _ldb_err(r) if _lua_type is not None and _lua_type(r) == "table" else None
        if err:
            self._ldb_log_error(ldb, err)
        else:
            ldb.log_reply(r)
        return r

    def _ldb_log_error(self, ldb, err):
        raw = self.ldb_rejected
        if raw is not None:  # scriptCall refused it: the message as it was made
            self.ldb_rejected = None
            ldb.log(b"<error> " + raw.encode("utf-8", "surrogateescape"))
        else:  # the command's error reply
            ldb.log(b"<error> -" + err)
            ldb.log_reply({b"err": err})

    # ------------------------------------------------- debugger callbacks
    def ldb_line(self, is_count, line, user):
        ldb = self.ldb
        return None if ldb is None else ldb.line(is_count, line, user)

    def ldb_log(self, entry):
        if self.ldb is not None:
            self.ldb.log(entry)

    def ldb_log_maxlen(self, entry):
        if self.ldb is not None:
            self.ldb.log_maxlen(entry)

    def ldb_source_line(self, lnum):
        if self.ldb is not None:
            self.ldb.source_line(lnum)

    def ldb_breakpoint(self):
        """redis.breakpoint(): true (and a stop at the next line) in a session."""
        if self.ldb is None:
            return False
        self.ldb.luabp = True
        return True

    def ldb_debug(self, text):
        if self.ldb is not None:
            self.ldb.log(b"<debug> line %d: %s" % (self.ldb.currentline, text))

    def _script_oom(self, run):
        """scriptVerifyOOM: over maxmemory when the script started, its first
        write that may grow memory is refused (later ones can't be: the script
        already changed the dataset)."""
        return (
            not run.allow_oom
            and self._maxmemory()
            and self.server.pre_command_oom_state
            and not self._must_obey(run.caller)
        )

    def _track_caller(self, run):
        """Client-side caching: the caller's keys are tracked at its script's
        first read (the caller's command and arguments, as Redis does)."""
        caller = run.caller
        tst = caller.tracking
        if tst is not None and not tst.bcast:
            run.tracked = True
            tr = self.server.tracking_state
            if tr is not None and run.caller_argv is not None and run.caller_cmd is not None:
                tr.remember(caller, run.caller_cmd, run.caller_argv)

    @staticmethod
    def _to_lua(engine, raise_, r):
        """A converted reply (see _converted) as the Lua value redis.call returns."""
        t = r.__class__
        if t is bytes or t is bool:
            return r
        if t is int:
            return r if -_MAX_EXACT <= r <= _MAX_EXACT else float(r)
        if r is None:
            return None
        if t is tuple:  # (kind, data) from _converted
            kind, data = r
            if kind == 1:
                return engine.status(data)
            if kind == 2:
                e = engine.cmd_err(data)
                if raise_:
                    raise ScriptError(e)
                return e
            return engine.parse(data)
        return r

    def _maxmemory(self):
        ev = self.server.evictor
        return ev is not None and ev.maxmemory > 0

    def _cluster_check(self, run, fake, cmd, argv):
        """scriptVerifyClusterState: the script's keys must be ours, in one slot."""
        st = self.server.cluster
        caller = run.caller
        fake.asking = caller.asking
        fake.readonly = caller.readonly
        n, slot, code = node_for_query(st, fake, cmd, argv)
        if n is not st.myself:
            if code == REDIR_DOWN_RO_STATE:
                return "Script attempted to execute a write command while the cluster is down and readonly"
            if code == REDIR_DOWN_STATE:
                return "Script attempted to execute a command while the cluster is down"
            return "Script attempted to access a non local key in a cluster node"
        if slot != -1 and not run.cross_slot:
            if run.slot == -1:
                run.slot = slot
            elif run.slot != slot:
                return "Script attempted to access keys that do not hash to the same slot"
        return None

    @staticmethod
    def _must_obey(c):
        """mustObeyClient: the AOF loading client, or our master's link."""
        return "M" in (c.flags_extra or "") or (c.conn is None and c is c.server.loading_client)

    def _acl_check(self, run, acl, cmd, argv):
        try:
            r, pos = acl.permits(cmd, argv)
        except Exception:
            return None
        if r == 0:
            return None
        try:
            acl.state.log_denial(run.client, r, CTX_LUA, cmd, argv, pos)
        except Exception:
            pass
        if r == DENIED_CMD:
            why = "can't run this command or subcommand"
        elif r == DENIED_KEY:
            why = "can't access at least one of the keys mentioned in the command arguments"
        elif r == DENIED_CHANNEL:
            why = "can't publish to the channel mentioned in the command"
        else:
            why = "lacking the permissions for the command"
        return "The user executing the script %s" % why

    def _reject(self, engine, raise_, cmd, err):
        """scriptCall's error path: an error reply (counted) and a rejected call."""
        server = self.server
        self.ldb_rejected = err  # (for the debugger's log, when it steps)
        server.count_error((error_code(err[1:]) if err.startswith("-") else "ERR") + " x")
        if cmd is not None:
            server.cmdstats[cmd.index].rejected += 1
        e = engine.cmd_err(err.encode("utf-8", "surrogateescape"))
        if raise_:
            raise ScriptError(e)
        return e

    def _converted(self, fake, r):
        """What the script client's command returned, made a Lua-ready value or
        (kind, data): 1 status, 2 error, 3 RESP to parse (fake.out, if the command
        wrote there, comes first)."""
        NO_REPLY = self._no_reply
        out = fake.out
        if out:
            blob = b"".join(out)
            out.clear()
            if r is not NO_REPLY:
                blob += encode(r, fake.resp)
            return self._blob(blob)
        t = r.__class__
        if t is bytes or t is int:
            return r
        if r is None or r is NULL_ARRAY or r is NO_REPLY:
            return False if fake.resp == 2 else None
        if t is Raw:
            if r is OK:
                return (1, b"OK")
            return self._blob(bytes(r))
        if t is Status:
            return (1, r.encode())
        if t is ErrorReply:
            return (2, ("-" + r).encode("utf-8", "surrogateescape"))
        if t is bytearray:
            return bytes(r)
        return (3, encode(r, fake.resp))

    @staticmethod
    def _blob(blob):
        c0 = blob[:1]
        if c0 == b"-":
            return (2, blob[:-2])
        if blob.count(b"\r\n") == 1:
            if c0 == b":":
                return int(blob[1:-2])
            if c0 == b"+":
                return (1, blob[1:-2])
        return (3, blob)

    # ---------------------------------------------------- other callbacks
    def lua_script_resp(self):
        run = self.run
        return run.resp if run is not None else 2

    def lua_load_timeout(self):
        ctx = self.load_ctx
        return ctx is not None and ctx[1] is not None and _monotonic() > ctx[1]

    # ------------------------------------------------------ slow scripts
    def lua_interrupt(self):
        """The count hook (scriptInterrupt): True kills the running script."""
        run = self.run
        if run is None:
            return False
        if run.timedout:
            self._process_events(run)
            return run.killed or self.server.stopping
        elapsed = _monotonic() - run.start
        if elapsed < run.threshold:
            return False
        server = self.server
        server.log_warning(
            "Slow script detected: still in execution after %d milliseconds. You can try "
            "killing the script using the %s command. Script name is: %s."
            % (
                int(elapsed * 1000),
                "SCRIPT KILL" if run.eval_mode else "FUNCTION KILL",
                run.funcname,
            )
        )
        run.timedout = True
        self.busy = True
        server.set_special("script-busy", True)
        tr = run.caller.transport
        if tr is not None:
            try:
                tr.pause_reading()  # protectClient: the caller waits for its reply
            except Exception:
                pass
        self._process_events(run)
        return run.killed or server.stopping

    def _leave_busy(self, run):
        self.busy = False
        self.server.set_special("script-busy", False)
        c = run.caller
        tr = c.transport
        if tr is not None and not c.closed and not c.paused_reading:
            try:
                tr.resume_reading()
            except Exception:
                pass

    def _process_events(self, run):
        """processEventsWhileBlocked (vermilion/server/blocked.py): accept, serve and
        answer the other clients now; the caller waits for its reply (protected)."""
        self.server.while_blocked.process(protect=run.caller)

    def busy_check(self, c, cmd, argv):
        """processCommand's BUSY step while a timed-out script runs (and, for a
        script queued in MULTI, the note of its flags EXEC's maxmemory check reads)."""
        if c.multi is not None:
            name = cmd.fullname
            if name in _SCRIPT_COMMANDS:
                self._note_queued(c, cmd, argv)
            elif (name == "exec" or name == "discard") and self.queued_denyoom:
                # (maxmemory's check of EXEC has run: the note is not needed any more)
                self.queued_denyoom.pop(c.id, None)
        if not self.busy:
            return None
        run = self.run
        if run is None:
            return None
        if cmd.allow_busy:
            if cmd.fullname == "shutdown" and not any(a.lower() == b"nosave" for a in argv[1:]):
                return BUSY_EVAL if run.eval_mode else BUSY_FUNCTION
            return None
        return BUSY_EVAL if run.eval_mode else BUSY_FUNCTION

    def _note_queued(self, c, cmd, argv):
        q = self.queued_denyoom
        if q.get(c.id) is c.multi:
            return
        hook = self.server.script_denyoom
        if hook is not None and hook(c, cmd, argv):
            if len(q) >= 256:  # forget clients gone in the middle of a MULTI
                clients = self.server.clients
                for cid in [cid for cid in q if cid not in clients]:
                    del q[cid]
            q[c.id] = c.multi

    def exec_denyoom(self, c):
        """Did this client's MULTI queue a script refused over maxmemory?"""
        q = self.queued_denyoom
        return c.multi is not None and q.get(c.id) is c.multi

    def kill(self, c, is_eval):
        """scriptKill (SCRIPT KILL / FUNCTION KILL)."""
        run = self.run
        if run is None:
            raise CommandError("NOTBUSY No scripts in execution right now.")
        if "M" in (run.caller.flags_extra or ""):
            raise CommandError(
                "UNKILLABLE The busy script was sent by a master instance in the context of "
                "replication and cannot be killed."
            )
        if run.write_dirty:
            raise CommandError(
                "UNKILLABLE Sorry the script already executed write commands against the "
                "dataset. You can either wait the script termination or kill the server in "
                "a hard way using the SHUTDOWN NOSAVE command."
            )
        if is_eval and not run.eval_mode:
            raise CommandError(BUSY_FUNCTION)
        if not is_eval and run.eval_mode:
            raise CommandError(BUSY_EVAL)
        run.killed = True
        return OK


# ------------------------------------------------------------ library helpers
# Pure functions the Lua libraries (libs.py) call for what Lua 5.1 cannot do
# exactly: IEEE-754 packing and number spelling.
def _ldb_err(e):
    """The text of a Lua error value (a table with ``err``, or a string)."""
    try:
        if e.__class__ is bytes:
            return e
        m = e[b"err"]
        return m if m.__class__ is bytes else b""
    except Exception:
        return b""


def _struct_pack(fmt, value):
    """One float/double for struct.pack: fmt is b'<f', b'>d', ..."""
    f = fmt.decode()
    try:
        return struct.pack(f, value)
    except (OverflowError, struct.error):
        return struct.pack(f, math.copysign(math.inf, value))


def _struct_unpack(fmt, data):
    return struct.unpack(fmt.decode(), data)[0]


def _mp_double(data):
    """cmsgpack: a big-endian float32 (4 bytes) or float64 (8 bytes)."""
    return struct.unpack(">f" if len(data) == 4 else ">d", data)[0]


def _mp_float_bits(x):
    """cmsgpack: 0xca float32 when the value survives the round trip, else 0xcb."""
    try:
        f = struct.unpack(">f", struct.pack(">f", x))[0]
    except OverflowError:
        f = None
    if f is not None and f == x:
        return b"\xca" + struct.pack(">f", x)
    return b"\xcb" + struct.pack(">d", x)
