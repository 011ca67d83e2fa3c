"""Lua scripting: EVAL scripts and FUNCTION libraries (Redis's eval.c, script.c,
script_lua.c, function_lua.c, functions.c).

* :mod:`.engine` - the interpreters (via the optional ``lupa`` package, its Lua
  5.1 build like Redis's), the run context of a script, ``redis.call``, slow
  scripts (BUSY, SCRIPT KILL).
* :mod:`.prelude` - the Lua side: sandbox, read-only globals, the ``redis``
  API, RESP <-> Lua conversions, the error handler.
* :mod:`.libs` - ``cjson``, ``cmsgpack`` and ``struct`` written in Lua (``bit``
  is in engine.py).
* :mod:`.library` - the FUNCTION libraries registry.

The commands live in :mod:`vermilion.commands.scripting` (EVAL*, SCRIPT) and
:mod:`vermilion.commands.functions` (FUNCTION, FCALL*). Without lupa those
commands answer :data:`~.engine.NOT_AVAILABLE` (the rest of the server works).

Where we differ from redis-server 7.0.15, and why
-------------------------------------------------
* Redis patches its Lua (read-only tables, C library functions); lupa's Lua is
  stock, so the walls are metatable proxies and the API functions are Python
  callables (C closures to Lua). lupa cannot pass more than about 7995
  arguments to Python: ``redis.call`` with more (Redis allows up to its Lua
  stack limit, 8000) fails with "not a python object". The builtins wrapped in
  Lua (``rawset``, ``rawget``, ``next``, ``pairs``, ``setmetatable``,
  ``getmetatable``, ``loadstring``, ``load``, ``pcall``, ``xpcall``,
  ``unpack``, ``collectgarbage``, ``table.insert``, ``coroutine.resume``,
  ``create``, ``wrap``, ``yield``, ``string.find``, ``match``, ``gmatch``,
  ``gsub``) lose the user's line when they fail in a tail call
  (``return f(bad)``: the caller's frame is gone; for ``unpack``,
  ``collectgarbage``, ``table.insert`` and the string functions called so by
  the EVAL chunk itself, the chunk's last line is named); a malformed-pattern
  error of the string functions has no position prefix; ``table.remove``/``table.sort`` on a
  library table act on its empty proxy instead of failing.
* Safer than redis-server 7.0.15 (which crashes or hangs on these): error
  objects of any type (``error({})``, ``error(nil)``, error tables whose
  metamethods fail or loop) are answered; a library registering two function
  names equal but for case keeps the first for FCALL; string patterns of more
  than 40000 quantified items fail with "pattern too complex" (a C stack
  overflow in redis-server); an ``xpcall`` whose handler never ends is
  stopped by SCRIPT KILL; collector settings changed by a script
  (``collectgarbage("setpause", ...)``) end with it, so the previous value it
  returns is always the default.
* Lua numbers cross into Python as Python numbers, so ``-0.0`` given to
  ``redis.call``, ``bit``, ``cjson``, ``cmsgpack`` or ``struct`` arrives as 0.
* The Lua debugger (SCRIPT DEBUG YES/SYNC, :mod:`vermilion.scripting.ldb`) works
  as Redis's, but not on TLS connections (its session does its own socket I/O).
* A script past ``busy-reply-threshold`` serves the other *connected* clients
  (BUSY, SCRIPT KILL, ...); connections opened during that time are accepted
  when it ends.
* ``maxmemory`` is obeyed like Redis: a script or function that declared flags
  without ``allow-oom`` or ``no-writes`` is refused with ``-OOM`` before it
  runs (``server.script_denyoom``, asked by :mod:`vermilion.keyspace.evict`;
  at its start if it got past that check, e.g. an EVALSHA queued in MULTI before
  SCRIPT LOAD), and a script without a shebang meets the limit at its first
  ``denyoom`` command unless it already wrote (``scriptVerifyOOM``). Whether
  used memory is over the limit depends on Vermilion's own estimate of it
  (:mod:`vermilion.core.memory`), not on Redis's byte counts. ``redis.set_repl``
  targets are kept per effect (the AOF, the replicas, both), except inside
  MULTI/EXEC, where the effects go to both.
* FUNCTION LIST and FUNCTION DUMP list libraries (and a library's functions) in
  load order; Redis uses its hash order, which changes with every process.
* ``cjson``, ``cmsgpack`` and ``struct`` are reimplementations following
  lua_cjson.c, lua_cmsgpack.c and lua_struct.c (same spellings and errors for
  what the tests compare; of ``cjson``'s configuration functions only the
  sparse-array and depth ones change anything).
"""

from . import engine
from .engine import AVAILABLE, NOT_AVAILABLE, Scripting  # noqa: F401


def __getattr__(name):
    if name == "LUA_VERSION":  # asking loads lupa (see engine._load_lupa)
        return engine.LUA_VERSION
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def state(server):
    """The server's :class:`Scripting` (created with the server, see ensure())."""
    st = server.scripting
    if st is None:
        st = ensure(server)
    return st


def ensure(server):
    """Create the per-server scripting state once (both command modules call this
    from their ``@on_server_init`` hook, whichever runs first)."""
    st = server.scripting
    if st is None:
        st = Scripting(server)
        server.scripting = st
        server.scripts = st.scripts  # INFO memory: number_of_cached_scripts
        server.lua = st  # INFO memory: a Lua VM exists, as in Redis
        server.extra_checks = tuple(server.extra_checks) + (st.busy_check,)
    return st
