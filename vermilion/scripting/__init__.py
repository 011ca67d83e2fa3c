"""Lua scripting: EVAL scripts and FUNCTION libraries (Redis's eval.c, script.c,
script_lua.c, function_lua.c).

* :mod:`.engine` - the interpreters (via the optional ``lupa`` package, Lua 5.1
  like Redis), the run context of a script, ``redis.call``, slow-script handling.
* :mod:`.prelude` - the Lua side: sandbox, read-only globals, the ``redis``
  API, RESP <-> Lua conversions.
* :mod:`.libs` - ``bit``, ``cjson``, ``cmsgpack`` and ``struct`` for Lua.

The commands live in :mod:`vermilion.commands.scripting` (EVAL*, SCRIPT) and
:mod:`vermilion.commands.functions` (FUNCTION, FCALL*). Without lupa those
commands answer :data:`~.engine.NOT_AVAILABLE`.
"""
from .engine import AVAILABLE, NOT_AVAILABLE, LUA_VERSION, Scripting  # noqa: F401


def state(server):
    """The server's :class:`Scripting` (created with the server, see ensure())."""
    st = server.__dict__.get("scripting")
    if st is None:
        st = ensure(server)
    return st


def ensure(server):
    """Create the per-server scripting state once (both command modules call this
    from their ``@on_server_init`` hook, whichever runs first)."""
    st = server.__dict__.get("scripting")
    if st is None:
        st = Scripting(server)
        server.scripting = st
        server.scripts = st.scripts            # INFO memory: number_of_cached_scripts
        server.lua = st                        # INFO memory: a Lua VM exists, as in Redis
        server.extra_checks = tuple(server.extra_checks) + (st.busy_check,)
    return st
