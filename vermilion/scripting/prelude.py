"""The Lua side of the scripting engine: the sandbox and the ``redis`` API.

The Lua code is ``lua/prelude.lua``, next to this module; it is read once, at
import, into :data:`LUA_PRELUDE`, and :class:`~vermilion.scripting.engine.LuaEngine`
runs it once in each fresh Lua state (EVAL has one, FUNCTION another, like
Redis's two interpreters), after the libraries of :mod:`.libs`. The chunk
receives ``P``, a table of Python callables, and returns the functions the
Python side drives: compile a script, run it, load a function library, and
small helpers (build an error table, parse a RESP reply into Lua values, find
the user's position for an error message).

How the sandbox works is explained in prelude.lua, next to the code that does
it: the globals scripts see (those of the reference redis-server 7.0.15 build),
the read-only walls (metatable proxies standing in for Redis's patched Lua VM),
the busy hook (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE, FUNCTION LOAD's
timeout), the crash guards (the inputs that crash the bundled Lua 5.1 are
refused at the entry points), why every API function that can fail is a
Python callable made a C closure, how errors travel (tables
``{err = "CODE message"}``, raised as
:class:`~vermilion.scripting.engine.ScriptError` on the Python side) and how
replies cross the border (RESP bytes, parsed there into Lua values; a script's
result encoded there into RESP bytes).
"""

from importlib.resources import files

LUA_PRELUDE = (files(__package__) / "lua" / "prelude.lua").read_text(encoding="utf-8")
