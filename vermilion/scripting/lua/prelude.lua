-- prelude.lua: the Lua side of Vermilion's scripting engine - the sandbox
-- scripts run in and the `redis` API.
--
-- Loaded by vermilion/scripting/prelude.py, which reads this file once, at
-- import, into LUA_PRELUDE. vermilion/scripting/engine.py (LuaEngine) runs it
-- once in each fresh Lua state (EVAL has one, FUNCTION another, like Redis's
-- two interpreters) as the chunk "=vermilion", after libs.lua. It receives P,
-- a table of Python callables; MODE, "eval" or "function"; and LIBS, the
-- function libs.lua returns. It returns the functions the Python side drives:
-- compile a script, run it, load a function library, and small helpers (build
-- an error table, parse a RESP reply into Lua values, find the user's position
-- for an error message). The text is handed to Lua as it is: "vermilion:N:" in
-- an error raised from this code names line N of this file.

local P, MODE, LIBS = ...

-- ------------------------------------------------------------ captured builtins
local type, error, tostring, tonumber, select = type, error, tostring, tonumber, select
local next, pairs, ipairs = next, pairs, ipairs
local rawget, rawset, rawequal = rawget, rawset, rawequal
local setmetatable, getmetatable = setmetatable, getmetatable
local unpack, pcall, xpcall = unpack, pcall, xpcall
local setfenv, getfenv, loadstring, load = setfenv, getfenv, loadstring, load
local newproxy, assert, collectgarbage, gcinfo = newproxy, assert, collectgarbage, gcinfo
local string, table, math, coroutine, debug = string, table, math, coroutine, debug
local LUA_VERSION = _VERSION
local sfmt, sfind, ssub, sbyte, sgsub, slower, srep =
  string.format, string.find, string.sub, string.byte, string.gsub, string.lower, string.rep
local tconcat, tinsert = table.concat, table.insert
local huge = math.huge
local getinfo, sethook, dgetmetatable = debug.getinfo, debug.sethook, debug.getmetatable
local co_resume, co_create = coroutine.resume, coroutine.create
local co_wrap, co_yield = coroutine.wrap, coroutine.yield
local THREAD_G = _G
-- C functions. Redis's API functions are C functions: a Lua error they raise
-- leaves the calling Lua frame on the stack, even after `return redis.call(...)`
-- (a tail call), so the error handler can report the user's line. Lua functions
-- would be replaced by a tail call, so every API function that can fail is a
-- Python callable here, made a C closure with lupa's python.as_function (see
-- `expose`). Python raises vermilion.scripting.engine.ScriptError; the Lua error
-- value is then the wrapped exception, which `unwrap` turns back into the table
-- or string wherever a script could see it (error handler, pcall, xpcall,
-- coroutine.resume). Library functions written in Lua (cjson, cmsgpack, struct:
-- libs.lua) are called through a Python *trampoline* for the same reason.
--
-- Python callables become real C closures (type "function", called without a
-- __call metamethod), like Redis's C API functions
local as_function = THREAD_G.python.as_function
-- lupa keeps using the thread's globals (it looks up debug.traceback there), so
-- they stay as they are; scripts never see them (getfenv is wrapped), and what
-- could reach outside the sandbox is removed.
for _, name in ipairs({"python", "os", "io", "package", "require", "module", "dofile",
                       "loadfile", "print"}) do
  THREAD_G[name] = nil
end

local py_unwrap, py_tramp = P.unwrap, P.trampoline

-- From here on this chunk sees no globals: a typo here fails loudly instead of
-- reading the user's environment, and getfenv() on our closures reveals nothing.
setfenv(1, setmetatable({}, {
  __index = function(_, k) error("vermilion prelude: unknown global " .. tostring(k), 2) end,
  __newindex = function(_, k) error("vermilion prelude: global assignment " .. tostring(k), 2) end,
}))

local INTERNAL_SOURCE = "=vermilion"

-- -------------------------------------------------------------- read-only walls
-- Redis protects its Lua globals with a patch to the Lua VM (read-only tables).
-- Stock Lua 5.1 has no such thing, so the same walls are built from
-- metatables: every table a script can reach from its globals (string, redis,
-- cjson, the globals themselves, ...) is an empty *proxy* whose __index is the
-- real table and whose __newindex raises "Attempt to modify a readonly table".
-- The real table must never reach a script, or it could be written to and every
-- later script would see the change: the builtins that could reach behind a
-- proxy see through it for reading and refuse writes (rawget reads the real
-- table, rawset, setmetatable and table.insert refuse, pairs/next iterate the
-- real table but hand out the proxy itself as the iterated table: see the
-- sandbox below). The one table all strings share, the string metatable, is
-- shown by getmetatable("") as a read-only view (the metatables of the other
-- basic types are nil: CVE-2025-46818's fix in Redis makes them read-only). A
-- missing global raises "Script attempted to access nonexistent global variable
-- 'x'". Nothing else is shared: KEYS/ARGV are new tables for each run, and
-- collector settings a script changes (collectgarbage("stop"), "setpause",
-- "setstepmul") are restored when it ends.
local RO = "Attempt to modify a readonly table"
local ro_real = setmetatable({}, {__mode = "k"})     -- proxy -> real table
local ro_meta = setmetatable({}, {__mode = "k"})     -- proxy -> what getmetatable shows
local function ro_newindex() error(RO, 2) end

local function readonly(real, index)
  local proxy = {}
  setmetatable(proxy, {__index = index or real, __newindex = ro_newindex})
  ro_real[proxy] = real
  return proxy
end

local function nonexistent(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end

-- a Lua string as C code sees it (up to the first NUL)
local function cstr(s)
  local z = sfind(s, "\0", 1, true)
  if z then return ssub(s, 1, z - 1) end
  return s
end

-- luaPushErrorBuff: "-CODE msg" or "msg" -> {err = "CODE msg"}
local function err_table(buf)
  buf = cstr(buf)
  local code, msg
  if sbyte(buf, 1) == 45 then
    local sp = sfind(buf, " ", 1, true)
    if sp then code, msg = ssub(buf, 2, sp - 1), ssub(buf, sp + 1)
    else code, msg = "ERR", ssub(buf, 2) end
  else
    code, msg = "ERR", buf
  end
  msg = sgsub(sgsub(msg, "^[\r\n]+", ""), "[\r\n]+$", "")
  return {err = code .. " " .. msg}
end

local function cmd_err_table(buf)
  local t = err_table(buf)
  t.ignore_error_stats_update = true
  return t
end

local function unwrap(e)
  if type(e) == "userdata" then return py_unwrap(e) end
  return e
end

-- luaL_where(L, 1) as seen from a Python callable: the user's "src:line: "
local function where()
  local level = 2
  while true do
    local i = getinfo(level, "Sl")
    if not i then return "" end
    if i.what ~= "C" and i.source ~= INTERNAL_SOURCE then
      if i.currentline > 0 then return i.short_src .. ":" .. i.currentline .. ": " end
      return ""
    end
    level = level + 1
  end
end

-- ------------------------------------------------------------- RESP -> Lua
-- Replies cross the border once each way: a command reply that is not a plain
-- string/integer is handed over as RESP bytes and parsed here into Lua values
-- (Redis's RESP->Lua conversion); a script's result is encoded into RESP bytes
-- for the caller further down (Lua -> RESP).
local parse
parse = function(s, pos)
  local t = sbyte(s, pos)
  local e = sfind(s, "\r\n", pos, true)
  local line, nxt = ssub(s, pos + 1, e - 1), e + 2
  if t == 36 then                          -- $ bulk
    local n = tonumber(line)
    if n < 0 then return false, nxt end
    return ssub(s, nxt, nxt + n - 1), nxt + n + 2
  elseif t == 58 then                      -- : integer
    return tonumber(line), nxt
  elseif t == 42 then                      -- * array
    local n = tonumber(line)
    if n < 0 then return false, nxt end
    local a = {}
    for i = 1, n do a[i], nxt = parse(s, nxt) end
    return a, nxt
  elseif t == 43 then                      -- + status
    return {ok = line}, nxt
  elseif t == 45 then                      -- - error
    return cmd_err_table("-" .. line), nxt
  elseif t == 37 then                      -- % map
    local n = tonumber(line)
    local m = {}
    for _ = 1, n do
      local k, v
      k, nxt = parse(s, nxt)
      v, nxt = parse(s, nxt)
      if k ~= nil then m[k] = v end
    end
    return {map = m}, nxt
  elseif t == 126 then                     -- ~ set
    local n = tonumber(line)
    local m = {}
    for _ = 1, n do
      local k
      k, nxt = parse(s, nxt)
      if k ~= nil then m[k] = true end
    end
    return {set = m}, nxt
  elseif t == 95 then                      -- _ null
    return nil, nxt
  elseif t == 35 then                      -- # boolean
    return line == "t", nxt
  elseif t == 44 then                      -- , double
    return {double = tonumber(line)}, nxt
  elseif t == 40 then                      -- ( big number
    return {big_number = line}, nxt
  elseif t == 61 then                      -- = verbatim
    local n = tonumber(line)
    local body = ssub(s, nxt, nxt + n - 1)
    return {verbatim_string = {format = ssub(body, 1, 3), string = ssub(body, 5)}}, nxt + n + 2
  elseif t == 124 then                     -- | attribute: skipped
    local n = tonumber(line)
    for _ = 1, 2 * n do local _v; _v, nxt = parse(s, nxt) end
    return parse(s, nxt)
  elseif t == 62 then                      -- > push (as an array)
    local n = tonumber(line)
    local a = {}
    for i = 1, n do a[i], nxt = parse(s, nxt) end
    return a, nxt
  end
  error("vermilion: cannot parse reply type " .. tostring(t))
end

local function parse_reply(s)
  return (parse(s, 1))
end

-- ------------------------------------------------------------- the busy hook
-- One hook function watches every thread a script runs on. Lua 5.1 keeps a
-- debug hook per thread (coroutine), and a coroutine inherits only the C side of
-- its creator's hook, not the Lua function behind it, so a coroutine would run
-- unwatched: each coroutine arms itself whenever it starts or comes back from a
-- yield (see the coroutine wrappers below). `hook_mode` says what the hook does
-- now; a hook left on a coroutine by an earlier run (threads outlive runs: a
-- library may keep one in an upvalue) is re-armed or does nothing, it never
-- stops a later run by itself.
--
-- The hook watches runs (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE, through
-- Python's lua_interrupt) and library loads (FUNCTION LOAD's timeout). Once a
-- run is stopped, every line of user code fails again (Redis's re-armed line
-- hook), so pcall cannot swallow the kill; an xpcall handler is not called for
-- it (Lua runs handlers of an error raised from a hook with hooks off: an
-- endless handler hangs redis-server; see sandbox_xpcall), and an error table
-- is read with the hook still on (its metamethods are user code; see run).
local HOOK_COUNT = 100000
local KILLED = "ERR Script killed by user with SCRIPT KILL..."
local LOAD_TIMEOUT = "ERR FUNCTION LOAD timeout"
local py_interrupt, py_load_timeout = P.interrupt, P.load_timeout
local H_OFF, H_RUN, H_LOAD, H_STOP = 0, 1, 2, 3
local hook_mode = H_OFF
local stop_msg = KILLED        -- the error user code meets once stopped

local hook
-- the Lua debugger's line hook while a session runs (SCRIPT DEBUG SYNC: see
-- ldb_hook below and vermilion/scripting/ldb.py); it replaces the busy hook
local ldb_on, ldb_hook = false, nil
-- install the hook for the current mode on thread `co` (the running one if nil)
local function arm(co)
  if ldb_on then
    if co then sethook(co, ldb_hook, "l", HOOK_COUNT) else sethook(ldb_hook, "l", HOOK_COUNT) end
    return
  end
  local mode = hook_mode
  if co then
    if mode == H_OFF then sethook(co)
    elseif mode == H_STOP then sethook(co, hook, "l", 1000)
    else sethook(co, hook, "", HOOK_COUNT) end
  else
    if mode == H_OFF then sethook()
    elseif mode == H_STOP then sethook(hook, "l", 1000)
    else sethook(hook, "", HOOK_COUNT) end
  end
end

hook = function()
  local mode = hook_mode
  if mode == H_RUN then
    if not py_interrupt() then return end
    hook_mode, stop_msg = H_STOP, KILLED
  elseif mode == H_LOAD then
    if not py_load_timeout() then return end
    hook_mode, stop_msg = H_STOP, LOAD_TIMEOUT
  elseif mode == H_OFF then
    return
  end
  -- Stopped: from now on every line of user code fails (Redis re-arms its hook
  -- on each line after a kill), so a pcall that catches the error is stopped
  -- again at its next line; our own frames finish what they do first.
  arm()
  local i = getinfo(2, "S")
  if i and i.source == INTERNAL_SOURCE then return end
  error({err = stop_msg})
end

-- start watching (a run or a library load); `on` false: nothing to watch
-- (threshold 0). The count hook stays installed on the main thread between
-- runs (an EVALSHA would otherwise pay two sethook calls): with hook_mode H_OFF
-- it returns at once, every HOOK_COUNT instructions. Only a stopped run's line
-- hook is taken back to the count hook when it ends.
local main_armed = false
local function hook_start(mode, on)
  if on then hook_mode = mode else hook_mode = H_OFF end
  if not main_armed then
    sethook(hook, "", HOOK_COUNT)
    main_armed = true
  end
end
local function hook_stop()
  if hook_mode == H_STOP then sethook(hook, "", HOOK_COUNT) end
  hook_mode = H_OFF
end

-- ----------------------------------------------------------- the sandbox
-- Crash guards. The bundled Lua 5.1 cannot be patched, so the inputs that crash
-- it are refused at the entry points: unpack checks its range before the C
-- function overflows it (CVE-2025-46817); chunks of 2 GB or more, which
-- overflow the lexer's ints (CVE-2025-46819), are not compiled; binary chunks
-- are never loaded (text_chunk); string patterns with more than 40000
-- quantified items, which overflow the C stack in lstrlib's recursive matcher
-- (redis-server crashes), fail with "pattern too complex". CVE-2025-49844 (the
-- parser's chunk name freed by a collection during parsing) cannot happen here:
-- every chunk name reaches loadstring as a Lua string already on the stack.
-- Error objects of any type (error({}), error(nil), ... which crash
-- redis-server) become error replies (error_handler, finish_run).
local user_env            -- the globals proxy scripts run in
local error_handler       -- the error handler of a run (below)
local REAL_UG = {}        -- what the proxy shows

local function argerr(n, fname, msg)
  error(sfmt("bad argument #%d to '%s' (%s)", n, fname, msg), 3)
end
-- Some builtins are Lua functions here (they check what the C original does
-- not), and `return f(x)` *tail-calls* a Lua function: the caller's frame is
-- replaced and its line is lost, where a C builtin's error would name it. When
-- it was the EVAL chunk itself that made the tail call (`return unpack()`),
-- the line is the chunk's last line, where such a return statement stands
-- unless it is inside a block; deeper tail calls get no position.
local main_chunk           -- the EVAL chunk running now (nil for FCALL)
local chunk_last_line = setmetatable({}, {__mode = "k"})
local function main_tail_call(level)
  -- is the frame at `level` (of our caller) a tail call made by the EVAL chunk?
  level = level + 1
  local i = getinfo(level, "S")
  if not i or i.what ~= "tail" or not main_chunk then return false end
  while true do
    level = level + 1
    i = getinfo(level, "S")
    if not i then return true end
    if i.what ~= "C" and i.source ~= INTERNAL_SOURCE then return false end
  end
end
local function main_where()
  local line = chunk_last_line[main_chunk]
  if not line then return "" end
  return getinfo(main_chunk, "S").short_src .. ":" .. line .. ": "
end

-- luaL_argerror as a C builtin would report it, from the wrapper standing in
-- for it (called by the wrapper itself): the name the caller used ('?' from
-- pcall), the position of the caller's line
local function argerr_as(n, msg, fname)
  local i = getinfo(2, "n")
  if main_tail_call(3) then
    error(main_where() .. sfmt("bad argument #%d to '%s' (%s)", n, fname, msg), 0)
  end
  local name = i and i.name
  if not name then
    local c = getinfo(3, "S")   -- tail-called: C would know the name; pcall: '?'
    name = (c and c.what == "tail") and fname or "?"
  elseif i.namewhat == "method" then   -- s:find(x): self is not counted
    n = n - 1
    if n == 0 then error(sfmt("calling '%s' on bad self (%s)", name, msg), 3) end
  end
  error(sfmt("bad argument #%d to '%s' (%s)", n, name, msg), 3)
end
-- luaL_error from such a wrapper (called by the wrapper itself)
local function error_as(msg)
  if main_tail_call(3) then error(main_where() .. msg, 0) end
  error(msg, 3)
end
local function typename(n, argc, v)
  if n > argc then return "no value" end
  return type(v)
end

-- Redis's pcall: an error table with an "err" string becomes that string.
local function pcall_result(ok, ...)
  if ok then return ok, ... end
  local e = unwrap((...))
  if type(e) == "table" then
    local m = e.err
    local tm = type(m)
    if tm == "string" or tm == "number" then return false, m end
  end
  return false, e
end
local function sandbox_pcall(...)
  if select("#", ...) == 0 then return nil end   -- Redis's pcall() answers nil
  return pcall_result(pcall(...))
end
local function sandbox_xpcall(f, handler)
  return xpcall(f, function(e)
    -- Once the script is stopped its handler gets no say: an error raised from
    -- the hook runs the handler with hooks off (Lua 5.1), so an endless handler
    -- could never be stopped (redis-server hangs there).
    if hook_mode == H_STOP then return e end
    return handler(unwrap(e))
  end)
end
local function resume_result(ok, ...)
  if ok then return ok, ... end
  return false, unwrap((...))
end
local function sandbox_resume(co, ...)
  return resume_result(co_resume(co, ...))
end

-- Coroutines: the body arms the hook on its own thread when it starts, and
-- after every yield (a coroutine may have been suspended under another mode,
-- even in another run: a library can keep one in an upvalue).
local function armed_body(f)
  return function(...)
    arm()
    return f(...)
  end
end
-- Lua functions of this chunk standing in for C functions (redis.call): not
-- "Lua functions" to coroutine.create/wrap, as the C originals are not
local c_like = setmetatable({}, {__mode = "k"})
local function is_lua_function(f)
  return type(f) == "function" and getinfo(f, "S").what ~= "C" and not c_like[f]
end
local function sandbox_co_create(...)
  local f = ...
  if not is_lua_function(f) then argerr(1, "create", "Lua function expected") end
  return co_create(armed_body(f))
end
local function sandbox_co_wrap(...)
  local f = ...
  if not is_lua_function(f) then argerr(1, "wrap", "Lua function expected") end
  return co_wrap(armed_body(f))
end
local function after_yield(...)
  arm()
  return ...
end
local function sandbox_yield(...)
  return after_yield(co_yield(...))
end

-- unpack: the bundled Lua 5.1 computes the number of results as an int, and a
-- range wider than INT_MAX (unpack({}, -2^31, 2^31-1)) overflows it and writes
-- past the Lua stack (CVE-2025-46817). The range is checked here first, with
-- the bounds converted as C converts them (double -> int64 -> int), and the
-- errors are the C function's. (Only a tail call, `return unpack(bad)`, differs:
-- the caller's frame is gone, so the error cannot name its line; see
-- tail_position below.)
local TWO32, TWO31, TWO63 = 2 ^ 32, 2 ^ 31, 2 ^ 63
local mfloor, mceil = math.floor, math.ceil
local function c_int(x)
  if x ~= x or x >= TWO63 or x < -TWO63 then return 0 end
  if x >= 0 then x = mfloor(x) else x = mceil(x) end
  x = x % TWO32                    -- exact: TWO32 is a power of two
  if x >= TWO31 then x = x - TWO32 end
  return x
end
local MAXCSTACK = 8000             -- LUAI_MAXCSTACK: lua_checkstack's limit
local function sandbox_unpack(...)
  local argc = select("#", ...)
  local t, i, e = ...
  if type(t) ~= "table" then argerr_as(1, "table expected, got " .. typename(1, argc, t), "unpack") end
  local ni, ne = 1, nil
  if i ~= nil then
    ni = tonumber(i)
    if ni == nil then argerr_as(2, "number expected, got " .. type(i), "unpack") end
  end
  if e == nil then
    ne = #t
  else
    ne = tonumber(e)
    if ne == nil then argerr_as(3, "number expected, got " .. type(e), "unpack") end
  end
  ni, ne = c_int(ni), c_int(ne)
  -- (the C function's own check, without its overflow: `argc` slots are taken)
  if ni <= ne and ne - ni + 1 > MAXCSTACK - argc then error_as("too many results to unpack") end
  return unpack(...)
end

-- collectgarbage: "stop", "setpause" and "setstepmul" change the collector of
-- the whole interpreter; they are undone when the script ends (gc_reset).
local GC_OPTIONS = {stop = true, restart = true, collect = true, count = true, step = true,
                    setpause = true, setstepmul = true}
local gc_touched = false
local function sandbox_collectgarbage(...)
  local opt, n = ...
  if opt == nil then opt = "collect" end
  local to = type(opt)
  if to ~= "string" and to ~= "number" then argerr_as(1, "string expected, got " .. to, "collectgarbage") end
  opt = tostring(opt)
  if not GC_OPTIONS[opt] then argerr_as(1, "invalid option '" .. opt .. "'", "collectgarbage") end
  if n ~= nil and tonumber(n) == nil then argerr_as(2, "number expected, got " .. type(n), "collectgarbage") end
  if opt == "stop" or opt == "setpause" or opt == "setstepmul" then gc_touched = true end
  return collectgarbage(...)
end
local function gc_reset()
  gc_touched = false
  collectgarbage("restart")
  collectgarbage("setpause", 200)
  collectgarbage("setstepmul", 200)
end

local function sandbox_rawset(...)
  local argc = select("#", ...)
  local t, k, v = ...
  if type(t) ~= "table" then argerr(1, "rawset", "table expected, got " .. typename(1, argc, t)) end
  if argc < 2 then argerr(2, "rawset", "value expected") end
  if argc < 3 then argerr(3, "rawset", "value expected") end
  if ro_real[t] then error(RO, 0) end
  rawset(t, k, v)
  return t
end
local function sandbox_rawget(...)
  local argc = select("#", ...)
  local t, k = ...
  if type(t) ~= "table" then argerr(1, "rawget", "table expected, got " .. typename(1, argc, t)) end
  if argc < 2 then argerr(2, "rawget", "value expected") end
  local real = ro_real[t]
  if real then return rawget(real, k) end
  return rawget(t, k)
end
local function sandbox_next(...)
  local argc = select("#", ...)
  local t, k = ...
  if type(t) ~= "table" then argerr(1, "next", "table expected, got " .. typename(1, argc, t)) end
  local real = ro_real[t]
  if real then return next(real, k) end
  return next(t, k)
end
local function sandbox_pairs(...)
  local argc = select("#", ...)
  local t = ...
  if type(t) ~= "table" then argerr(1, "pairs", "table expected, got " .. typename(1, argc, t)) end
  -- a read-only table is iterated through its proxy: the real table never
  -- reaches the script (it could be written to)
  if ro_real[t] then return sandbox_next, t, nil end
  return next, t, nil
end
local function sandbox_setmetatable(...)
  local argc = select("#", ...)
  local t, mt = ...
  if type(t) ~= "table" then
    argerr(1, "setmetatable", "table expected, got " .. typename(1, argc, t))
  end
  if mt ~= nil and type(mt) ~= "table" then argerr(2, "setmetatable", "nil or table expected") end
  local cur = dgetmetatable(t)
  if cur ~= nil and rawget(cur, "__metatable") ~= nil then
    error("cannot change a protected metatable", 2)
  end
  if ro_real[t] then error(RO, 0) end
  return setmetatable(t, mt)
end
-- the metatables of the basic types are shared by every script: strings show
-- a read-only view of theirs (the others have none); userdata (cjson.null,
-- and nothing else a script can hold) show none
local string_meta_view
-- userdata made by newproxy (lua-enable-deprecated-api, below): the only
-- userdata whose metatable a script is shown
local proxies = setmetatable({}, {__mode = "k"})
local function sandbox_getmetatable(...)
  if select("#", ...) == 0 then argerr(1, "getmetatable", "value expected") end
  local t = ...
  local tt = type(t)
  if tt == "table" then
    if ro_real[t] then return ro_meta[t] end
    return getmetatable(t)
  elseif tt == "string" then
    return string_meta_view
  elseif tt == "userdata" and proxies[t] then
    return getmetatable(t)
  end
  return nil
end
local function sandbox_table_insert(...)
  local argc = select("#", ...)
  local t, pos = ...
  if type(t) ~= "table" then argerr_as(1, "table expected, got " .. typename(1, argc, t), "insert") end
  if ro_real[t] then error(RO, 0) end
  if argc == 3 then
    if tonumber(pos) == nil then argerr_as(2, "number expected, got " .. type(pos), "insert") end
  elseif argc ~= 2 then
    error_as("wrong number of arguments to 'insert'")
  end
  return tinsert(...)
end
-- Redis never loads precompiled chunks (its f_parser always parses text).
-- The bundled lexer keeps line numbers and long-bracket levels ("[====[") in
-- ints: a chunk of 2 GB or more can overflow them and read out of bounds
-- (CVE-2025-46819), so such a chunk is refused before the lexer sees it.
local MAX_CHUNK = 0x7fff0000
local function text_chunk(code, name)
  if sbyte(code, 1) == 27 then
    local src = name and sgsub(name, "^[=@]", "") or ('[string "' .. code .. '"]')
    return nil, src .. ":1: unexpected symbol near 'char(27)'"
  end
  if #code >= MAX_CHUNK then
    local src = name and sgsub(name, "^[=@]", "") or "?"
    return nil, src .. ": chunk too large to compile (2 GB or more)"
  end
  local f, err = loadstring(code, name)
  if f then setfenv(f, user_env) end
  return f, err
end
local function sandbox_loadstring(...)
  local code, name = ...
  if type(code) ~= "string" and type(code) ~= "number" then
    argerr(1, "loadstring", "string expected, got " .. typename(1, select("#", ...), code))
  end
  code = tostring(code)
  return text_chunk(code, name ~= nil and tostring(name) or code)
end
-- load(reader): Lua's load parses in protected mode, so whatever goes wrong in
-- the reader comes back as `nil, error`, passed through the error handler in
-- force (a run's: the table Redis's handler makes; none while FUNCTION LOAD
-- runs the library's code). The error never escapes as a raw value.
local function load_failure(e)
  if hook_mode == H_LOAD then return nil, unwrap(e) end
  return nil, error_handler(e)
end
local function sandbox_load(reader, name)
  if type(reader) ~= "function" then
    argerr(1, "load", "function expected, got " .. type(reader))
  end
  local parts, n = {}, 0
  while true do
    local ok, piece = pcall(reader)
    if not ok then
      local f, e = load_failure(piece)   -- (not a tail call: the handler looks up the stack)
      return f, e
    end
    if piece == nil or piece == "" then break end
    local tp = type(piece)
    if tp == "number" then
      piece = tostring(piece)
    elseif tp ~= "string" then
      local f, e = load_failure(where() .. "reader function must return a string")
      return f, e
    end
    n = n + 1
    parts[n] = piece
  end
  return text_chunk(tconcat(parts), name ~= nil and tostring(name) or "=(load)")
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

local function expose(obj)   -- a Python callable made visible to scripts
  return as_function(obj)
end


-- String patterns: the bundled lstrlib matches recursively, one C frame per
-- quantified item, without the depth limit later Lua versions have: a pattern
-- of 200000 "a?" on a long subject overflows the C stack and kills the
-- process (redis-server too). string.find/match/gmatch/gsub refuse a pattern
-- with more than MAX_PATTERN_ITEMS quantifiers ("pattern too complex", Lua
-- 5.2's words); a pattern that short cannot have that many, so it is counted
-- only when longer.
--
-- These wrappers call the C functions last (a tail call keeps their frame
-- below the C function), so an error the C function raises itself - a
-- malformed pattern - would carry *their* position. They are therefore built
-- from a chunk whose line information is stripped (strip_lines): such errors
-- carry no position prefix at all; the error handler still names the user's
-- line. The argument checks are done here first, with the C messages.
local MAX_PATTERN_ITEMS = 40000
local function too_complex(p)
  if #p <= MAX_PATTERN_ITEMS then return false end
  local _, n = sgsub(p, "[%?%*%+%-%(]", "")
  return n > MAX_PATTERN_ITEMS
end

-- A Lua 5.1 binary chunk without line information (lundump.c's layout; ints
-- and size_t as the header says, little-endian as on every host we run on).
local function strip_lines(bin)
  local isize, ssize = sbyte(bin, 8), sbyte(bin, 9)
  local sub_zero = srep("\0", isize)
  assert(sbyte(bin, 7) == 1 and sbyte(bin, 11) == 8, "unexpected bytecode format")
  local out, n = {ssub(bin, 1, 12)}, 1
  local pos = 13
  local function int(size)
    local v, mul = 0, 1
    for k = 0, size - 1 do v = v + sbyte(bin, pos + k) * mul; mul = mul * 256 end
    return v
  end
  local function copy_bytes(len)
    n = n + 1; out[n] = ssub(bin, pos, pos + len - 1)
    pos = pos + len
  end
  local function copy_string() local len = int(ssize); copy_bytes(ssize + len) end
  local function copy_array(each)     -- int count + items
    local count = int(isize)
    copy_bytes(isize)
    for _ = 1, count do each() end
  end
  local func
  func = function()
    copy_string()                     -- source
    copy_bytes(2 * isize + 4)         -- linedefined, lastlinedefined, 4 bytes
    local code = int(isize); copy_bytes(isize + 4 * code)
    copy_array(function()             -- constants
      local t = sbyte(bin, pos); copy_bytes(1)
      if t == 1 then copy_bytes(1) elseif t == 3 then copy_bytes(8)
      elseif t == 4 then copy_string() end
    end)
    copy_array(func)                  -- nested functions
    local lines = int(isize)          -- line info: dropped
    pos = pos + isize + 4 * lines
    n = n + 1; out[n] = sub_zero
    copy_array(function() copy_string(); copy_bytes(2 * isize) end)   -- locals
    copy_array(copy_string)           -- upvalue names
  end
  func()
  return tconcat(out, "", 1, n)
end

-- User code keeps its frame under the API functions that are Lua functions
-- here but C functions in Redis: redis.call and redis.pcall (api_call), and the
-- sandbox's checked builtins (unpack, setmetatable, table.insert, ...). `return
-- redis.call(...)` would *tail-call* them: the caller's frame would be replaced
-- and an error could no longer name its line, which Redis's C function does. In
-- the compiled chunk, a TAILCALL whose function register was loaded by the
-- nearest instruction writing it, a GETTABLE with one of the constant keys
-- FIELDS or a GETGLOBAL of one of GLOBALS, becomes a CALL (the RETURN after it
-- already returns every result: Lua 5.1's verifier accepts the pair). Other
-- tail calls are left alone (a tail-recursive Lua function must not grow the
-- stack). `bin` is string.dump's output (the layout read as in strip_lines);
-- nil when nothing matches.
local OP_GETGLOBAL, OP_GETTABLE, OP_JMP, OP_EQ, OP_LT, OP_LE, OP_TAILCALL =
  5, 6, 22, 23, 24, 25, 29
local FIELDS, GLOBALS = {}, {}
for _, k in ipairs({"call", "pcall", "insert", "create", "wrap", "resume", "yield", "find",
                    "match", "gmatch", "gsub", "random", "randomseed"}) do
  FIELDS[k] = true
end
for _, k in ipairs({"unpack", "pcall", "xpcall", "setmetatable", "getmetatable", "rawset",
                    "rawget", "pairs", "next", "loadstring", "load", "collectgarbage",
                    "getfenv", "setfenv"}) do
  GLOBALS[k] = true
end
local function keep_frames(bin)
  local isize, ssize = sbyte(bin, 8), sbyte(bin, 9)
  local pos = 13
  local patch = {}                    -- byte offsets of TAILCALLs to rewrite
  local function int(size)
    local v, mul = 0, 1
    for k = 0, size - 1 do v = v + sbyte(bin, pos + k) * mul; mul = mul * 256 end
    pos = pos + size
    return v
  end
  local function skip_string() local len = int(ssize); pos = pos + len end
  local func
  func = function()
    skip_string()                     -- source
    pos = pos + 2 * isize + 4         -- linedefined, lastlinedefined, 4 bytes
    local ncode = int(isize)
    local code_at = pos
    pos = pos + 4 * ncode
    local consts = {}                 -- constant index (0-based) -> string
    local nk = int(isize)
    for k = 0, nk - 1 do
      local t = sbyte(bin, pos); pos = pos + 1
      if t == 1 then pos = pos + 1 elseif t == 3 then pos = pos + 8
      elseif t == 4 then
        local len = int(ssize)
        if len > 0 then consts[k] = ssub(bin, pos, pos + len - 2) end
        pos = pos + len
      end
    end
    local function op_a(j)            -- opcode and A of instruction j (0-based)
      local at = code_at + 4 * j
      local b0, b1 = sbyte(bin, at, at + 1)
      return b0 % 64, (b0 - b0 % 64) / 64 + (b1 % 64) * 4
    end
    for j = 0, ncode - 1 do
      local op, a = op_a(j)
      if op == OP_TAILCALL then
        for i = j - 1, 0, -1 do
          local op2, a2 = op_a(i)
          if a2 == a and op2 ~= OP_JMP and op2 ~= OP_EQ and op2 ~= OP_LT and op2 ~= OP_LE then
            local at = code_at + 4 * i
            if op2 == OP_GETTABLE then
              local b1, b2 = sbyte(bin, at + 1, at + 2)
              local c = (b1 - b1 % 64) / 64 + (b2 % 128) * 4   -- C: bits 14..22
              local key = c >= 256 and consts[c - 256]
              if key and FIELDS[key] then patch[#patch + 1] = code_at + 4 * j end
            elseif op2 == OP_GETGLOBAL then
              local b1, b2, b3 = sbyte(bin, at + 1, at + 3)
              local key = consts[(b1 - b1 % 64) / 64 + b2 * 4 + b3 * 1024]   -- Bx: 14..31
              if key and GLOBALS[key] then patch[#patch + 1] = code_at + 4 * j end
            end
            break
          end
        end
      end
    end
    local nf = int(isize)
    for _ = 1, nf do func() end       -- nested functions
    local nline = int(isize)          -- line info
    pos = pos + 4 * nline
    local nloc = int(isize)
    for _ = 1, nloc do skip_string(); pos = pos + 2 * isize end
    local nup = int(isize)
    for _ = 1, nup do skip_string() end
  end
  func()
  if not patch[1] then return nil end
  local out, n, from = {}, 0, 1
  for _, at in ipairs(patch) do
    n = n + 1; out[n] = ssub(bin, from, at - 1)
    n = n + 1; out[n] = string.char(sbyte(bin, at) - 1)   -- TAILCALL (29) -> CALL (28)
    from = at + 1
  end
  n = n + 1; out[n] = ssub(bin, from)
  return tconcat(out, "", 1, n)
end

local STRING_WRAPPERS = [==[
local sfind, smatch, sgmatch, sgsub, argerr_as, too_complex, error_as, type, tonumber, select = ...
-- (the checks return the message: argerr_as must be called by the wrapper itself)
local function str_bad(v, n, argc)
  local t = type(v)
  if t ~= "string" and t ~= "number" then return "string expected, got " .. (n > argc and "no value" or t) end
end
local function int_bad(v)
  if v ~= nil and tonumber(v) == nil then return "number expected, got " .. type(v) end
end
local function find(...)
  local argc = select("#", ...)
  local s, p, init = ...
  local m = str_bad(s, 1, argc) if m then argerr_as(1, m, "find") end
  m = str_bad(p, 2, argc) if m then argerr_as(2, m, "find") end
  m = int_bad(init) if m then argerr_as(3, m, "find") end
  if too_complex(p .. "") then error_as("pattern too complex") end
  return sfind(...)
end
local function match(...)
  local argc = select("#", ...)
  local s, p, init = ...
  local m = str_bad(s, 1, argc) if m then argerr_as(1, m, "match") end
  m = str_bad(p, 2, argc) if m then argerr_as(2, m, "match") end
  m = int_bad(init) if m then argerr_as(3, m, "match") end
  if too_complex(p .. "") then error_as("pattern too complex") end
  return smatch(...)
end
local function gmatch(...)
  local argc = select("#", ...)
  local s, p = ...
  local m = str_bad(s, 1, argc) if m then argerr_as(1, m, "gmatch") end
  m = str_bad(p, 2, argc) if m then argerr_as(2, m, "gmatch") end
  if too_complex(p .. "") then error_as("pattern too complex") end
  return sgmatch(...)
end
local function gsub(...)
  local argc = select("#", ...)
  local s, p, repl, max = ...
  local m = str_bad(s, 1, argc) if m then argerr_as(1, m, "gsub") end
  m = str_bad(p, 2, argc) if m then argerr_as(2, m, "gsub") end
  m = int_bad(max) if m then argerr_as(4, m, "gsub") end
  local tr = type(repl)
  if tr ~= "string" and tr ~= "number" and tr ~= "function" and tr ~= "table" then
    argerr_as(3, "string/function/table expected", "gsub")
  end
  if too_complex(p .. "") then error_as("pattern too complex") end
  return sgsub(...)
end
return find, match, gmatch, gsub
]==]
local function string_wrappers()
  local f = assert(loadstring(STRING_WRAPPERS, INTERNAL_SOURCE))
  f = assert(loadstring(strip_lines(string.dump(f)), INTERNAL_SOURCE))
  return f(string.find, string.match, string.gmatch, string.gsub, argerr_as, too_complex,
           error_as, type, tonumber, select)
end

local string_real = copy(string)
string_real.find, string_real.match, string_real.gmatch, string_real.gsub = string_wrappers()
local table_real = copy(table)
table_real.insert = sandbox_table_insert
local math_real = copy(math)
math_real.random = expose(P.random)
math_real.randomseed = expose(P.randomseed)
local coroutine_real = copy(coroutine)
coroutine_real.resume = sandbox_resume
coroutine_real.create = sandbox_co_create
coroutine_real.wrap = sandbox_co_wrap
coroutine_real.yield = sandbox_yield

local function status_reply(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return err_table("wrong number or type of arguments")
  end
  return {ok = s}
end
local function error_reply(...)
  local e = ...
  if select("#", ...) ~= 1 or type(e) ~= "string" then
    return err_table("wrong number or type of arguments")
  end
  if sbyte(e, 1) ~= 45 then e = "-" .. e end
  return err_table(e)
end

-- redis.call / redis.pcall. lupa's C closure for a Python callable takes at
-- most 7997 arguments (it inserts the callable below them, then wants two free
-- slots under lua_checkstack's LUAI_MAXCSTACK, 8000), while a script may pass
-- 8001 (the command, a key and unpack() of 7999 values); and it builds the
-- Python tuple one `+=` at a time, quadratic: 5000 arguments cost 17 ms. So
-- the API function is a Lua function handing a few arguments on as they are,
-- more as one table (read in one pass by Python: 0.5 ms for 5000). It is not
-- tail-called by user code (keep_frames, below): the caller's frame stays
-- under it, and the error handler skips its frame as it skips the C
-- function's, so errors name the caller's line as Redis's do.
local CALL_ARGS_DIRECT = 80
local function api_call(direct, packed)
  local f = function(...)
    if select("#", ...) <= CALL_ARGS_DIRECT then return direct(...) end
    return packed(select("#", ...), {...})
  end
  c_like[f] = true
  return f
end

local redis_real = {
  call = api_call(expose(P.call), expose(P.call_packed)),
  pcall = api_call(expose(P.pcall), expose(P.pcall_packed)),
  log = expose(P.log),
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION_NUM = P.version_num,
  REDIS_VERSION = P.version,
  setresp = expose(P.setresp),
  sha1hex = expose(P.sha1hex),
  error_reply = error_reply,
  status_reply = status_reply,
  set_repl = expose(P.set_repl),
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  acl_check_cmd = expose(P.acl_check_cmd),
}
local ldb_repr          -- (the debugger's rendering of a value, below)
if MODE == "eval" then
  local py_ldb_breakpoint, py_ldb_debug = P.ldb_breakpoint, P.ldb_debug
  -- redis.breakpoint(): stop at the next line, in a debugging session
  redis_real.breakpoint = function() return py_ldb_breakpoint() end
  -- redis.debug(...): its arguments in the debugger's console
  redis_real.debug = function(...)
    if not ldb_on then return end
    local parts = {}
    for j = 1, select("#", ...) do parts[j] = ldb_repr((select(j, ...))) end
    py_ldb_debug(tconcat(parts, ", "))
  end
  redis_real.replicate_commands = function() return true end
end

local string_proxy = readonly(string_real)
local string_meta = getmetatable("")
string_meta.__index = string_proxy
string_meta_view = readonly(string_meta)

-- The globals scripts see are those of the reference redis-server 7.0.15
-- build: the Lua 5.1 base library without getfenv, setfenv, newproxy, print,
-- dofile, loadfile (nor os, io, package, debug), plus string, table, math,
-- coroutine, redis, bit, cjson, cmsgpack, struct (the last four below).
REAL_UG.string = string_proxy
REAL_UG.table = readonly(table_real)
REAL_UG.math = readonly(math_real)
REAL_UG.coroutine = readonly(coroutine_real)
REAL_UG.redis = readonly(redis_real)
REAL_UG.xpcall = sandbox_xpcall
REAL_UG.tostring = tostring
REAL_UG.setmetatable = sandbox_setmetatable
REAL_UG.next = sandbox_next
REAL_UG.assert = assert
REAL_UG.tonumber = tonumber
REAL_UG.rawequal = rawequal
REAL_UG.collectgarbage = sandbox_collectgarbage
REAL_UG.getmetatable = sandbox_getmetatable
REAL_UG.rawset = sandbox_rawset
REAL_UG.pcall = sandbox_pcall
REAL_UG.type = type
REAL_UG.select = select
REAL_UG.unpack = sandbox_unpack
REAL_UG.gcinfo = gcinfo
REAL_UG.pairs = sandbox_pairs
REAL_UG.rawget = sandbox_rawget
REAL_UG.loadstring = sandbox_loadstring
REAL_UG.ipairs = ipairs
REAL_UG._VERSION = LUA_VERSION
REAL_UG.load = sandbox_load
REAL_UG.error = error

-- lua-enable-deprecated-api (the config Debian's 7.0.15 gets with its
-- CVE-2025-46818 fix; immutable, off by default): setfenv, getfenv and newproxy
-- become globals. The environment functions reach user code only: the
-- environment of a C function, of ours (they stand in for C functions), or of
-- the thread (level 0) reads as the globals scripts see and cannot be changed.
local function user_function(f)
  local i = getinfo(f, "S")
  return i.what ~= "C" and i.source ~= INTERNAL_SOURCE
end
-- lbaselib.c's getfunc() seen from the wrapper (two levels below the caller's
-- level 1): the function, 0 for the thread, or nil and luaL's error message
local function fenv_func(f, opt, fname)
  if type(f) == "function" then return f end
  local level
  if f == nil and opt then
    level = 1
  else
    level = tonumber(f)
    if level == nil then
      return nil, sfmt("bad argument #1 to '%s' (number expected, got %s)", fname,
                       f == nil and "no value" or type(f))
    end
    level = c_int(level)
  end
  if level < 0 then
    return nil, sfmt("bad argument #1 to '%s' (level must be non-negative)", fname)
  end
  if level == 0 then return 0 end
  local i = getinfo(level + 2, "f")
  if not i then return nil, sfmt("bad argument #1 to '%s' (invalid level)", fname) end
  if not i.func then
    return nil, sfmt("no function environment for tail call at level %d", level)
  end
  return i.func
end
local function sandbox_getfenv(...)
  local f, err = fenv_func((...), true, "getfenv")
  if not f then error(err, 2) end
  if f == 0 or not user_function(f) then return user_env end
  return getfenv(f)
end
local function sandbox_setfenv(...)
  local f, t = ...
  if type(t) ~= "table" then
    error(sfmt("bad argument #2 to 'setfenv' (table expected, got %s)",
               select("#", ...) < 2 and "no value" or type(t)), 2)
  end
  local fn, err = fenv_func(f, false, "setfenv")
  if not fn then error(err, 2) end
  if fn == 0 or not user_function(fn) then
    error("'setfenv' cannot change environment of given object", 2)
  end
  return setfenv(fn, t)
end
if P.deprecated_api then
  REAL_UG.getfenv = sandbox_getfenv
  REAL_UG.setfenv = sandbox_setfenv
  REAL_UG.newproxy = function(...)
    local p = newproxy(...)
    proxies[p] = true
    return p
  end
end

-- bit is Python; cjson, cmsgpack, struct are Lua (libs.py), called through
-- trampolines so that they behave as C functions.
local function safe(f) return function(...) return pcall(f, ...) end end
local bit_real = {}
for name, fn in pairs(P.bit) do bit_real[name] = expose(fn) end
REAL_UG.bit = readonly(bit_real)
if LIBS then
  local libs = LIBS(P)
  for libname, lib in pairs(libs) do
    local real = {}
    for k, v in pairs(lib) do
      if type(v) == "function" then real[k] = expose(py_tramp(safe(v), k)) else real[k] = v end
    end
    REAL_UG[libname] = readonly(real)
  end
end

-- --------------------------------------------------------- error handler
-- Errors travel as tables {err = "CODE message"} (err_table); the handler adds
-- source/line of the user code that failed (frames of this chunk, whose source
-- is "=vermilion", are skipped, as if our wrappers were C functions).
error_handler = function(err)
  err = unwrap(err)
  local level = 2
  local i = getinfo(level, "nSl")
  if i and i.what == "C" then
    level = level + 1
    i = getinfo(level, "nSl")
  end
  while i and i.source == INTERNAL_SOURCE do
    level = level + 1
    i = getinfo(level, "nSl")
    if i and i.what == "C" then
      level = level + 1
      i = getinfo(level, "nSl")
    end
  end
  if type(err) ~= "table" then
    err = {err = "ERR " .. tostring(err)}
  end
  if i and i.what == "tail" and main_tail_call(level) then
    err.source = getinfo(main_chunk, "S").source
    err.line = chunk_last_line[main_chunk] or -1
  elseif i then
    err.source = i.source
    err.line = i.currentline
  end
  return err
end

local user_env_mt = {__index = REAL_UG, __newindex = ro_newindex}
user_env = setmetatable({}, user_env_mt)
ro_real[user_env] = REAL_UG
ro_meta[user_env] = readonly({__index = nonexistent})
REAL_UG._G = user_env
if MODE == "eval" then
  REAL_UG.__redis__err__handler = error_handler
end
setmetatable(REAL_UG, {__index = nonexistent, __newindex = ro_newindex})

-- ----------------------------------------------------- Lua -> RESP (reply)
-- A script's result is encoded here into RESP bytes for the caller (Redis's
-- Lua->RESP conversion).
local null2, null3 = "$-1\r\n", "_\r\n"
local encode
local function map_chars(s)
  return (sgsub(s, "[\r\n]", " "))
end

-- errors met inside arrays are counted by the caller: collected in `errs`;
-- nesting deeper than Redis's Lua stack allows ends in an error reply, like Redis
local MAX_DEPTH = 7995
encode = function(v, out, n, cresp, sresp, errs, depth)
  local t = type(v)
  if t == "string" then
    n = n + 1; out[n] = "$" .. #v .. "\r\n"
    n = n + 1; out[n] = v
    n = n + 1; out[n] = "\r\n"
    return n
  elseif t == "number" then
    n = n + 1; out[n] = sfmt(":%d\r\n", v)
    return n
  elseif t == "boolean" then
    n = n + 1
    if sresp == 2 then
      if v then out[n] = ":1\r\n" else out[n] = (cresp == 2) and null2 or null3 end
    elseif cresp == 3 then
      out[n] = v and "#t\r\n" or "#f\r\n"
    else
      out[n] = v and ":1\r\n" or ":0\r\n"
    end
    return n
  elseif t ~= "table" then
    n = n + 1; out[n] = (cresp == 2) and null2 or null3
    return n
  end
  if depth >= MAX_DEPTH then
    n = n + 1; out[n] = "-ERR reached lua stack limit\r\n"
    errs[#errs + 1] = "-ERR reached lua stack limit"
    errs[#errs + 1] = false
    return n
  end
  depth = depth + 1
  local f = rawget(v, "err")
  if type(f) == "string" then
    local s = map_chars(sgsub("-" .. cstr(f), "[\r\n]+$", ""))
    n = n + 1; out[n] = s .. "\r\n"
    errs[#errs + 1] = s
    errs[#errs + 1] = rawget(v, "ignore_error_stats_update") == true
    return n
  end
  f = rawget(v, "ok")
  if type(f) == "string" then
    n = n + 1; out[n] = "+" .. map_chars(cstr(f)) .. "\r\n"
    return n
  end
  f = rawget(v, "double")
  if type(f) == "number" then
    local s
    if f == huge then s = "inf" elseif f == -huge then s = "-inf" else s = sfmt("%.17g", f) end
    n = n + 1
    if cresp == 2 then out[n] = "$" .. #s .. "\r\n" .. s .. "\r\n" else out[n] = "," .. s .. "\r\n" end
    return n
  end
  f = rawget(v, "big_number")
  if type(f) == "string" then
    local s = map_chars(f)
    n = n + 1
    if cresp == 2 then out[n] = "$" .. #s .. "\r\n" .. s .. "\r\n" else out[n] = "(" .. s .. "\r\n" end
    return n
  end
  f = rawget(v, "verbatim_string")
  if type(f) == "table" then
    local fmt, str = rawget(f, "format"), rawget(f, "string")
    if type(fmt) == "string" and type(str) == "string" then
      n = n + 1
      if cresp == 2 then
        out[n] = "$" .. #str .. "\r\n" .. str .. "\r\n"
      else
        fmt = ssub(fmt .. "   ", 1, 3)
        out[n] = "=" .. (#str + 4) .. "\r\n" .. fmt .. ":" .. str .. "\r\n"
      end
      return n
    end
  end
  f = rawget(v, "map")
  if type(f) == "table" then
    n = n + 1
    local hdr, count = n, 0
    for k, x in next, f do
      n = encode(k, out, n, cresp, sresp, errs, depth)
      n = encode(x, out, n, cresp, sresp, errs, depth)
      count = count + 1
    end
    out[hdr] = (cresp == 2) and ("*" .. (2 * count) .. "\r\n") or ("%" .. count .. "\r\n")
    return n
  end
  f = rawget(v, "set")
  if type(f) == "table" then
    n = n + 1
    local hdr, count = n, 0
    for k in next, f do
      n = encode(k, out, n, cresp, sresp, errs, depth)
      count = count + 1
    end
    out[hdr] = (cresp == 2) and ("*" .. count .. "\r\n") or ("~" .. count .. "\r\n")
    return n
  end
  n = n + 1
  local hdr, j = n, 1
  while true do
    local x = rawget(v, j)
    if x == nil then break end
    n = encode(x, out, n, cresp, sresp, errs, depth)
    j = j + 1
  end
  out[hdr] = "*" .. (j - 1) .. "\r\n"
  return n
end

-- -------------------------------------------------------------- running
-- luaExtractErrorInformation: msg, source, line, ignore_stats
local function error_info(res)
  res = unwrap(res)
  local tr = type(res)
  if tr == "string" or tr == "number" then return "ERR " .. tostring(res) end
  if tr ~= "table" then return nil end
  local msg, source, line = res.err, res.source, res.line
  local tm = type(msg)
  if tm ~= "string" and tm ~= "number" then msg = nil else msg = tostring(msg) end
  if type(source) ~= "string" and type(source) ~= "number" then source = nil end
  if type(line) ~= "string" and type(line) ~= "number" then line = nil end
  local ign = res.ignore_error_stats_update
  return msg, source and tostring(source), line and tostring(line), type(ign) == "boolean" and ign
end

-- finish_run -> true, resp_bytes[, nested_errors] | false, message, ignore_stats[, returned]
local function finish_run(ok, res, cresp, sresp, funcname)
  if not ok then
    if type(res) ~= "table" then
      local m = "execution failure"
      if type(res) == "string" or type(res) == "number" then m = tostring(res) end
      return false, "ERR Error running script " .. funcname .. ", " .. ssub(m, 1, 100), false
    end
    local msg, source, line, ign = error_info(res)
    if msg == nil then msg = "ERR unknown error" end
    msg = cstr(msg)
    if line and source then
      msg = msg .. " script: " .. funcname .. ", on " .. source .. ":" .. line .. "."
    end
    return false, msg, ign
  end
  if type(res) == "table" then
    local e = rawget(res, "err")
    if type(e) == "string" then
      return false, "-" .. cstr(e), rawget(res, "ignore_error_stats_update") == true, true
    end
  end
  local out, errs = {}, {}
  local n = encode(res, out, 0, cresp, sresp, errs, 0)
  if errs[1] then return true, tconcat(out, "", 1, n), errs end
  return true, tconcat(out, "", 1, n)
end

-- The RESP version of the script's replies (redis.setresp): 2 when a run
-- starts; the Python side's setresp sets it here too (set_script_resp).
local script_resp = 2
local function set_script_resp(r) script_resp = r end

-- run(fn, ctl, funcname, ...): one EVAL/FCALL. ctl packs three small numbers
-- (each argument lupa converts costs): hook_on + 2 * cresp + 8 * (nkeys + 1),
-- hook_on 1 when the busy hook watches the run (busy-reply-threshold > 0), cresp
-- the caller's RESP version. With nkeys >= 0, KEYS and ARGV come as the
-- arguments after funcname (nkeys keys, then the arguments) and are made into
-- tables here, which for the usual few arguments is cheaper than two tables
-- built from Python (lupa's table_from); with nkeys -1 they come as two tables
-- instead (nil: empty). KEYS and ARGV are new tables for each run.
-- run -> s (a string result: the caller sends it as a bulk string)
--      | nil (nil, or false under RESP2: the caller's null)
--      | true, resp_bytes[, nested_errors]
--      | false, message, ignore_stats[, returned]
local globals_set = false     -- KEYS and ARGV are in REAL_UG (an EVAL ran)
local function run(fn, ctl, funcname, ...)
  local hook_on = ctl % 2 == 1
  ctl = (ctl - ctl % 2) / 2
  local cresp = ctl % 4
  local nkeys = (ctl - cresp) / 4 - 1
  local keys, argv
  if nkeys == 0 then
    keys, argv = {}, {...}
  elseif nkeys > 0 then
    keys = {...}
    local n = #keys      -- (strings only: no holes)
    if nkeys == n then
      argv = {}
    else
      argv = {}
      for i = nkeys + 1, n do
        argv[i - nkeys] = keys[i]
        keys[i] = nil
      end
    end
  else
    keys, argv = ...
    keys, argv = keys or {}, argv or {}
  end
  if MODE == "eval" then
    if globals_set then   -- (present keys: no __newindex)
      REAL_UG.KEYS, REAL_UG.ARGV = keys, argv
    else
      rawset(REAL_UG, "KEYS", keys)
      rawset(REAL_UG, "ARGV", argv)
      globals_set = true
    end
  end
  script_resp = 2
  -- hook_start(H_RUN, hook_on), inline
  if hook_on then hook_mode = H_RUN else hook_mode = H_OFF end
  if not main_armed then
    sethook(hook, "", HOOK_COUNT)
    main_armed = true
  end
  if ldb_on then sethook(ldb_hook, "l", HOOK_COUNT) end
  local ok, res
  if MODE == "eval" then
    main_chunk = fn
    ok, res = xpcall(fn, error_handler)
  else
    ok, res = xpcall(function() return fn(keys, argv) end, error_handler)
  end
  if ok then
    -- the plain results: reading them runs no user code (no pcall needed)
    local t = type(res)
    if t == "string" or t == "nil" or t == "number" or (t == "boolean" and script_resp == 2) then
      if hook_mode == H_STOP then hook_stop() else hook_mode = H_OFF end
      main_chunk = nil
      if gc_touched then gc_reset() end
      if t == "string" then return res end
      if t == "number" then return true, sfmt(":%d\r\n", res) end
      if res then return true, ":1\r\n" end
      return nil
    end
  end
  -- Reading an error table may run its metamethods (user code): the hook stays
  -- on until the outcome is known, and whatever goes wrong there is an error
  -- reply, never an error thrown at the server.
  local done, r1, r2, r3, r4 = pcall(finish_run, ok, res, cresp, script_resp, funcname)
  local stopped = hook_mode == H_STOP
  hook_stop()
  main_chunk = nil
  if gc_touched then gc_reset() end   -- collectgarbage("stop") ends with the script
  if not done then
    return false, stopped and stop_msg or "ERR Error running script " .. funcname
      .. ", error while reading its error", false
  end
  return r1, r2, r3, r4
end

-- ------------------------------------------------------ the Lua debugger
-- (SCRIPT DEBUG SYNC; the session itself is Python's: vermilion/scripting/ldb.py)
local ldb_api = {}          -- (for the Python side: see the returned table)
do
local py_ldb_line, py_ldb_log, py_ldb_log_maxlen, py_ldb_source_line =
  P.ldb_line, P.ldb_log, P.ldb_log_maxlen, P.ldb_source_line
ldb_hook = function(event)
  local i = getinfo(2, "Sl")
  if not i then return end
  local msg = py_ldb_line(event == "count", i.currentline,
                          sfind(i.short_src, "user_script", 1, true) ~= nil)
  if msg then error(err_table(msg)) end
end

-- ldbCatStackValueRec: a value as the debugger shows it
local REPR_ESC = {["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\r"] = "\\r",
                  ["\t"] = "\\t", ["\a"] = "\\a", ["\b"] = "\\b"}
local function crepr(s)
  return '"' .. sgsub(s, '[%z\1-\31"\\\127-\255]', function(c)
    return REPR_ESC[c] or sfmt("\\x%02x", sbyte(c))
  end) .. '"'
end
local LDB_MAX_DEPTH = 10               -- LUA_MINSTACK / 2
local function repr_rec(v, level)
  if level == LDB_MAX_DEPTH then return "<max recursion level reached! Nested table?>" end
  level = level + 1
  local t = type(v)
  if t == "string" then return crepr(v)
  elseif t == "boolean" then return v and "true" or "false"
  elseif t == "number" then return sfmt("%g", v)
  elseif t == "nil" then return "nil"
  elseif t == "table" then
    local expected, is_array = 1, true
    local r1, r2 = {}, {}
    for k, val in next, v do
      if is_array and (type(k) ~= "number" or k ~= expected) then is_array = false end
      r1[#r1 + 1] = repr_rec(val, level)
      r2[#r2 + 1] = "[" .. repr_rec(k, level) .. "]=" .. repr_rec(val, level)
      expected = expected + 1
    end
    return "{" .. tconcat(is_array and r1 or r2, "; ") .. "}"
  end
  local addr = sgsub(tostring(v), "^[^:]*: ", "")
  if t == "function" or t == "userdata" or t == "thread" then
    return '"' .. t .. "@" .. addr .. '"'
  end
  return '"<unknown-lua-type>"'
end
ldb_repr = function(v) return repr_rec(v, 0) end

-- the frames of user code, innermost first: their levels as seen by our caller
local function user_levels()
  local out = {}
  local level = 3
  while true do
    local i = getinfo(level, "S")
    if not i then return out end
    if sfind(i.short_src, "user_script", 1, true) then out[#out + 1] = level - 1 end
    level = level + 1
  end
end
local function ldb_print(name)
  local levels = user_levels()
  if name == nil then        -- ldbPrintAll: the current function's locals
    local vars = 0
    local level = levels[1]
    if level then
      local j = 1
      while true do
        local n, v = debug.getlocal(level, j)
        if n == nil then break end
        if not sfind(n, "(*temporary)", 1, true) then
          py_ldb_log_maxlen("<value> " .. n .. " = " .. ldb_repr(v))
          vars = vars + 1
        end
        j = j + 1
      end
    end
    if vars == 0 then py_ldb_log("No local variables in the current context.") end
    return
  end
  for _, level in ipairs(levels) do
    local j = 1
    while true do
      local n, v = debug.getlocal(level, j)
      if n == nil then break end
      if n == name then py_ldb_log_maxlen("<value> " .. ldb_repr(v)) return end
      j = j + 1
    end
  end
  if name == "ARGV" or name == "KEYS" then
    py_ldb_log_maxlen("<value> " .. ldb_repr(rawget(REAL_UG, name)))
  else
    py_ldb_log("No such variable.")
  end
end
local function ldb_trace()
  local levels = user_levels()
  for k, level in ipairs(levels) do
    local i = getinfo(level, "nl")
    py_ldb_log(sfmt("%s %s:", k == 1 and "In" or "From", i.name or "top level"))
    py_ldb_source_line(i.currentline)
  end
  if not levels[1] then py_ldb_log("<error> Can't retrieve Lua stack.") end
end
local function ldb_error_text(e)
  e = unwrap(e)
  if type(e) == "table" then e = rawget(e, "err") end
  if type(e) ~= "string" and type(e) ~= "number" then return "(null)" end
  return tostring(e)
end
local function ldb_eval(code)
  local f = loadstring("return " .. code, "@ldb_eval")
  if not f then
    local e
    f, e = loadstring(code, "@ldb_eval")
    if not f then py_ldb_log("<error> " .. e) return end
  end
  setfenv(f, user_env)
  local ok, r = pcall(f)
  if not ok then py_ldb_log("<error> " .. ldb_error_text(r)) return end
  py_ldb_log_maxlen("<retval> " .. ldb_repr(r))
end
local function ldb_redis(args)
  pcall(redis_real.call, unpack(args))
end
ldb_api.ldb_begin = function() ldb_on = true end
ldb_api.ldb_finish = function()
  ldb_on = false
  sethook(hook, "", HOOK_COUNT)
end
ldb_api.ldb_print, ldb_api.ldb_trace = ldb_print, ldb_trace
ldb_api.ldb_eval, ldb_api.ldb_redis = ldb_eval, ldb_redis
end

local function compile(code, chunkname)
  local f, err = text_chunk(code, chunkname)
  if not f then return nil, err end
  if sfind(code, "return", 1, true) then    -- (a tail call is a return statement)
    local done, patched = pcall(keep_frames, string.dump(f))
    if done and patched then
      f = assert(loadstring(patched, chunkname))
      setfenv(f, user_env)
    end
  end
  -- the line of the last token (see main_tail_call)
  local last = #code
  while last > 0 do
    local b = sbyte(code, last)
    if b ~= 32 and (b < 9 or b > 13) then break end
    last = last - 1
  end
  local line, pos = 1, 1
  while true do
    local nl = sfind(code, "\n", pos, true)
    if not nl or nl > last then break end
    line, pos = line + 1, nl + 1
  end
  chunk_last_line[f] = line
  return f
end

-- ------------------------------------------------------ function libraries
local load_api
if MODE == "function" then
  local load_redis = {
    register_function = expose(P.register_function),
    log = redis_real.log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION_NUM = P.version_num,
    REDIS_VERSION = P.version,
  }
  setmetatable(load_redis, {__index = nonexistent})
  local api_real = setmetatable({redis = readonly(load_redis)}, {__index = nonexistent})
  load_api = api_real
end

local function load_error(res)
  return "Error registering functions: " .. tostring((error_info(res)))
end

-- load_library(code) -> true | false, message
local function load_library(code)
  local f, err = compile(code, "@user_function")
  if not f then return false, "Error compiling function: " .. err end
  user_env_mt.__index = load_api
  hook_start(H_LOAD, true)
  local ok, res = pcall(f)
  local msg
  if not ok then
    -- (error_info may run the error table's metamethods: still watched)
    local done
    done, msg = pcall(load_error, res)
    if not done then msg = "Error registering functions: " .. stop_msg end
  end
  hook_stop()
  user_env_mt.__index = REAL_UG
  if gc_touched then gc_reset() end
  if not ok then return false, msg end
  return true
end

-- the arguments register_function got: reads the named-arguments table
local function named_args(t)
  local name, callback, desc, flags
  for k, v in next, t do
    if type(k) ~= "string" and type(k) ~= "number" then
      return nil, "named argument key given to redis.register_function is not a string"
    end
    local key = slower(tostring(k))
    if key == "function_name" then
      if type(v) ~= "string" and type(v) ~= "number" then
        return nil, "function_name argument given to redis.register_function must be a string"
      end
      name = tostring(v)
    elseif key == "description" then
      if type(v) ~= "string" and type(v) ~= "number" then
        return nil, "description argument given to redis.register_function must be a string"
      end
      desc = tostring(v)
    elseif key == "callback" then
      if type(v) ~= "function" then
        return nil, "callback argument given to redis.register_function must be a function"
      end
      callback = v
    elseif key == "flags" then
      if type(v) ~= "table" then
        return nil, "flags argument to redis.register_function must be a table representing function flags"
      end
      flags = {}
      local j = 1
      while true do
        local fl = v[j]
        if fl == nil then break end
        if type(fl) ~= "string" and type(fl) ~= "number" then return nil, "unknown flag given" end
        flags[j] = tostring(fl)
        j = j + 1
      end
    else
      return nil, "unknown argument given to redis.register_function"
    end
  end
  if name == nil then return nil, "redis.register_function must get a function name argument" end
  if callback == nil then return nil, "redis.register_function must get a callback argument" end
  return name, callback, desc, flags
end

return {
  compile = compile,
  run = run,
  set_script_resp = set_script_resp,
  load_library = load_library,
  parse = parse_reply,
  err = err_table,
  cmd_err = cmd_err_table,
  status = function(s) return {ok = s} end,
  where = where,
  named_args = named_args,
  is_function = function(v) return type(v) == "function" end,
  ldb = ldb_api,
}
