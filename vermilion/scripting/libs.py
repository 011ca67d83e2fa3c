"""The Lua libraries Redis bundles: ``bit``, ``cjson``, ``cmsgpack``, ``struct``.

Redis links four C libraries into its Lua (lua_bit.c, lua_cjson.c,
lua_cmsgpack.c, lua_struct.c). lupa's Lua has none of them: ``bit`` is Python
(in :mod:`.engine`), the other three are written in Lua, against the same
behaviour, in ``lua/libs.lua`` next to this module, with a few Python helpers
(``P``) for what Lua 5.1 cannot do exactly (32-bit integer operations,
IEEE-754 packing). The file is read once, at import, into :data:`LUA_LIBS`.
The chunk returns a function that the prelude (:mod:`.prelude`) calls with its
helpers; it returns the library tables (the prelude wraps them read-only).
"""

from importlib.resources import files

LUA_LIBS = (files(__package__) / "lua" / "libs.lua").read_text(encoding="utf-8")
