"""Probes of the Lua sandbox (issue #13 items 1-3), run against redis-server 7.0.15
and Vermilion.

Each probe sends the same commands to both servers and compares the outcomes
(reply bytes, "closed", "crashed (exit N)"). The rule, :func:`at_least_as_safe`:
where redis-server answers, Vermilion answers the same bytes; where
redis-server crashes or hangs, Vermilion answers an error and stays up.

Three families:

* **isolation** - a script must not change what a later script sees: the
  read-only tables reached through ``pairs``/``next``/``rawget``, the string
  metatable, globals, FUNCTION libraries; nothing of lupa's ``python`` module may
  be reachable (no Python object in any value a script can hold);
* **memory safety** - inputs that crash the bundled Lua 5.1 (``unpack``'s range,
  CVE-2025-46817; lexer, CVE-2025-46819; parser, CVE-2025-49844; GC at
  interpreter reset, CVE-2024-46981; odd error objects, which crash redis-server
  itself);
* **killability** - SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE stop loops in
  coroutines, in xpcall handlers, under pcall, in error-table metamethods.

Probes that may crash or hang a server start their own processes.
"""

import re
import socket
import time

import pytest

from probe import Spawned, outcome, is_error

KINDS = ("redis", "vermilion")


def at_least_as_safe(r, v, server=None):
    """Vermilion's outcome ``v`` against redis-server's ``r``."""
    if isinstance(r, bytes):
        assert v == r, "redis answered %r, vermilion %r" % (r, v)
    else:
        assert is_error(v), "redis: %r; vermilion should answer an error, got %r" % (r, v)
    if server is not None:
        assert server.alive(), "vermilion died"


def run_both(pair, *cmds):
    """Send each command to both servers in turn; the outcomes of the last one."""
    out = {}
    for kind in KINDS:
        for cmd in cmds:
            out[kind] = outcome(pair[kind], *cmd)
    return out["redis"], out["vermilion"]


def ev(script, *args):
    return ("EVAL", script, "0") + args


# ------------------------------------------------------------------ isolation
# (the first script tries to change shared state; the second looks)
HIJACKS = [
    (
        "local _, r = pairs(redis) r.sha1hex = function() return 'hijacked' end",
        "return redis.sha1hex('x')",
    ),
    (
        "local _, r = pairs(redis) rawset(r, 'sha1hex', function() return 'hijacked' end)",
        "return redis.sha1hex('x')",
    ),
    ("local f, r = pairs(redis) local k = f(r) r[k] = 1", "return type(redis.call)"),
    (
        "local k, v = next(redis) redis[k] = nil",
        "local n = 0 for _ in pairs(redis) do n = n + 1 end return n",
    ),
    (
        "local _, s = pairs(string) s.upper = function() return 'hijacked' end",
        "return ('x'):upper()",
    ),
    (
        "getmetatable('').__index = function() return function() return 'hijacked' end end",
        "return ('x'):upper()",
    ),
    ("getmetatable('').__add = function() return 'hijacked' end", "return 'a' + 1"),
    (
        "rawset(getmetatable(''), '__index', {upper = function() return 'hijacked' end})",
        "return ('x'):upper()",
    ),
    (
        "setmetatable(getmetatable(''), {__index = function() return 'hijacked' end})",
        "return ('x').nothing",
    ),
    ("local _, mt = pairs(getmetatable('')) mt.__index = {}", "return ('x'):upper()"),
    ("local _, g = pairs(_G) g.redis = {}", "return type(redis.call)"),
    ("rawset(_G, 'shared', 1)", "return shared"),
    ("setmetatable(_G, nil)", "return nonexistent_global"),
    ("getmetatable(_G).__index = function() return 'hijacked' end", "return nonexistent_global"),
    ("local _, t = pairs(table) t.insert = nil", "local t = {} table.insert(t, 1) return #t"),
    ("table.insert(string, function() end)", "return string[1]"),
    ("local _, c = pairs(cjson) c.encode = nil", "return cjson.encode({1})"),
    ("local _, b = pairs(bit) b.band = nil", "return bit.band(3, 1)"),
    ("local _, m = pairs(math) m.floor = nil", "return math.floor(1.5)"),
    ("local _, c = pairs(coroutine) c.create = nil", "return type(coroutine.create)"),
    ("local _, s = pairs(struct) s.pack = nil", "return type(struct.pack)"),
    ("local _, c = pairs(cmsgpack) c.pack = nil", "return type(cmsgpack.pack)"),
    ("os = {}", "return type(os)"),
    ("getmetatable(1).__index = 1", "return 1"),
    ("getmetatable(nil).__index = 1", "return 1"),
    ("getmetatable(true).__index = 1", "return 1"),
    ("getmetatable(function() end).__index = 1", "return 1"),
    ("getmetatable(coroutine.create(function() end)).__index = 1", "return 1"),
]


@pytest.mark.parametrize("attack,look", HIJACKS)
def test_no_state_shared_between_scripts(pair, attack, look):
    for kind in KINDS:
        outcome(pair[kind], "SCRIPT", "FLUSH")
    r1, v1 = run_both(pair, ev(attack))
    at_least_as_safe(r1, v1, pair["vermilion"])
    r2, v2 = run_both(pair, ev(look))
    at_least_as_safe(r2, v2, pair["vermilion"])


LIB_ATTACK = """#!lua name=attacker
local _, r = pairs(redis)
pcall(function() r.register_function = nil end)
redis.register_function('attack', function()
  local _, rr = pairs(redis)
  rr.call = function() return 'hijacked' end
end)
redis.register_function('attack2', function()
  getmetatable('').__index = function() return function() return 'hijacked' end end
end)
"""
LIB_VICTIM = """#!lua name=victim
redis.register_function('victim', function() return {redis.call('PING'), ('x'):upper()} end)
"""


def test_function_libraries_do_not_share_state(pair):
    for kind in KINDS:
        outcome(pair[kind], "FUNCTION", "FLUSH")
    for cmd in (
        ("FUNCTION", "LOAD", LIB_ATTACK),
        ("FUNCTION", "LOAD", LIB_VICTIM),
        ("FCALL", "attack", "0"),
        ("FCALL", "attack2", "0"),
        ("FCALL", "victim", "0"),
    ):
        r, v = run_both(pair, cmd)
        at_least_as_safe(r, v, pair["vermilion"])
    assert b"hijacked" not in outcome(pair["vermilion"], "FCALL", "victim", "0")
    for kind in KINDS:
        outcome(pair[kind], "FUNCTION", "FLUSH")


def test_library_load_code_cannot_touch_globals(pair):
    code = "#!lua name=l1\nlocal _, r = pairs(redis) r.register_function = nil"
    r, v = run_both(pair, ("FUNCTION", "LOAD", code))
    at_least_as_safe(r, v, pair["vermilion"])
    code = "#!lua name=l2\ngetmetatable('').__index = {}"
    r, v = run_both(pair, ("FUNCTION", "LOAD", code))
    at_least_as_safe(r, v, pair["vermilion"])


# The globals a sandbox must not have (Redis 7.0.15 with the CVE-2025-46818
# fix: getfenv/setfenv/newproxy are gone too), and lupa's python module.
@pytest.mark.parametrize(
    "name",
    [
        "debug",
        "getfenv",
        "setfenv",
        "newproxy",
        "module",
        "require",
        "dofile",
        "loadfile",
        "io",
        "os",
        "print",
        "python",
        "package",
        "_ENV",
        "jit",
        "ffi",
        "load_library",
    ],
)
def test_missing_globals(pair, name):
    r, v = run_both(pair, ev("return type(%s)" % name))
    at_least_as_safe(r, v, pair["vermilion"])
    r, v = run_both(pair, ev("return type(_G['%s'])" % name))
    at_least_as_safe(r, v, pair["vermilion"])
    r, v = run_both(pair, ev("return type(rawget(_G, '%s'))" % name))
    at_least_as_safe(r, v, pair["vermilion"])


# Every way an error object or a callback argument reaches a script: what the
# script holds is a Lua value (a table here), never a Python object.
PYTHON_LEAKS = [
    "local ok, e = pcall(redis.call, 'nosuchcommand') return type(e)",
    "local ok, e = pcall(redis.call) return type(e)",
    "local ok, e = pcall(function() redis.call('nosuchcommand') end) return type(e)",
    "local ok, e = pcall(coroutine.wrap(function() redis.call('nosuchcommand') end)) return type(e)",
    "local co = coroutine.create(function() redis.call('nosuchcommand') end) "
    "local ok, e = coroutine.resume(co) return type(e)",
    "return xpcall(function() redis.call('nosuchcommand') end, function(e) return type(e) end)",
    "local ok, e = pcall(string.gsub, 'a', 'a', function() redis.call('nosuchcommand') end) return type(e)",
    "local ok, e = pcall(table.sort, {1, 2, 3}, function() redis.call('nosuchcommand') end) return type(e)",
    "local ok, e = pcall(load, function() redis.call('nosuchcommand') end) return type(e)",
    "local ok, e = pcall(cjson.decode, '[') return type(e)",
    "local ok, e = pcall(struct.pack, 'i17', 1) return type(e)",
    "local ok, e = pcall(bit.band, {}) return type(e)",
    "local ok, e = pcall(math.random, 'x') return type(e)",
    "local ok, e = pcall(redis.setresp, 9) return type(e)",
    "local ok, e = pcall(redis.call, 'nosuchcommand') return getmetatable(e)",
    "local ok, e = pcall(redis.call, 'nosuchcommand') return tostring(e.err)",
    "local t = {} for _, v in pairs(redis) do t[#t + 1] = type(v) end table.sort(t) return t",
    "return {type(redis.call), type(bit.band), type(cjson.encode), type(math.random)}",
    "return {pcall(function() return redis.call.__class__ end)}",
    "return {pcall(function() return cjson.null.__class__ end)}",
    "return type(getmetatable(cjson.null))",
    "return {unpack({redis.call, redis.pcall})} == nil",
    "local t = {unpack({redis.call})} return type(t[1])",
]


@pytest.mark.parametrize("script", PYTHON_LEAKS)
def test_no_python_object_reachable(pair, script):
    r, v = run_both(pair, ev(script))
    at_least_as_safe(r, v, pair["vermilion"])
    assert b"python" not in v.lower() and b"<" not in v, v


# rawset/rawget/setmetatable/getmetatable/loadstring/load/string.dump: the
# builtins that could reach behind the read-only walls
BUILTINS = [
    "return rawget(redis, 'call') == redis.call",
    "return rawget(_G, 'redis') == redis",
    "return rawget(getmetatable(''), '__index') == string",
    "rawset(redis, 'call', 1)",
    "rawset(string, 'x', 1)",
    "rawset(_G, 'x', 1)",
    "setmetatable(redis, {})",
    "setmetatable(string, {})",
    "return getmetatable(redis)",
    "return getmetatable(string)",
    "return getmetatable(_G) == nil",
    "return getmetatable('').__index == string",
    "return getmetatable('') == getmetatable('x')",
    "return type(string.dump)",
    "return {loadstring(string.dump(function() return 1 end))}",
    "return {loadstring('\\27Lua')}",
    "return {loadstring('\\27LuaQ\\0\\1\\4\\8\\4\\8\\0')}",
    "local parts = {string.dump(function() return 1 end)} "
    "return {load(function() return table.remove(parts) end)}",
    "local f = loadstring('x = 1') return {pcall(f)}",
    "local f = loadstring('return _G') return f() == _G",
    "return {pcall(setfenv)}",
    "local t = setmetatable({}, {__metatable = 1}) return getmetatable(t)",
    "local t = setmetatable({}, {__metatable = 1}) setmetatable(t, {})",
    "return collectgarbage('count') > 0",
    "return {pcall(collectgarbage, 'x')}",
    "collectgarbage('x')",
    "return _G._G == _G",
    "_G.x = 1",
    "x = 1",
]


@pytest.mark.parametrize("script", BUILTINS)
def test_builtins(pair, script):
    r, v = run_both(pair, ev(script))
    at_least_as_safe(r, v, pair["vermilion"])


def test_collector_settings_end_with_the_script(pair):
    """Safer than redis-server: collectgarbage("stop")/"setpause" outlive the script
    there (a script can leave the collector off for every later one); here the
    settings are restored when the script ends."""
    v = pair["vermilion"]
    assert outcome(v, *ev("collectgarbage('stop') return 1")) == b":1\r\n"
    assert outcome(v, *ev("return collectgarbage('setpause', 150)")) == b":200\r\n"
    assert outcome(v, *ev("return collectgarbage('setpause', 150)")) == b":200\r\n"
    grow = (
        "local t = {} for i = 1, 20000 do t[i] = {i} end t = nil "
        "local before = collectgarbage('count') "
        "for i = 1, 20000 do local x = {i} end "
        "return collectgarbage('count') < before + 2000"
    )
    assert outcome(v, *ev(grow)) == b":1\r\n"


# ------------------------------------------------------------- memory safety
UNPACK = [
    "return {unpack({1, 2, 3}, -2147483648, 2147483647)}",
    "return {unpack({1, 2, 3}, -2, 2147483647)}",
    "return {unpack({1, 2, 3}, 0, 2147483647)}",
    "return {unpack({1, 2, 3}, -2147483648, 0)}",
    "return {unpack({1, 2, 3}, -2147483648, -2147483646)}",
    "return {unpack({1, 2, 3}, 2147483646, 2147483647)}",
    "return {unpack({1, 2, 3}, 1, 1e9)}",
    "return {unpack({1, 2, 3}, -1e9, 1e9)}",
    "return {unpack({1, 2, 3}, 1e300, 1e300)}",
    "return {unpack({1, 2, 3}, -1e300, 1e300)}",
    "return {unpack({1, 2, 3}, 0/0, 1e10)}",
    "return {unpack({1, 2, 3}, 4294967297, 4294967298)}",
    "return {unpack({1, 2, 3}, '-2147483648', '2147483647')}",
    "return #{unpack({}, 1, 7997)}",
    "return #{unpack({}, 1, 7998)}",
    "return #{unpack({}, 1, 7996, 5)}",
    "return #{unpack({}, 1, 7997, 5)}",
    "return {pcall(unpack, {}, 1, 1e9)}",
    "return {pcall(unpack, {}, -2147483648, 2147483647)}",
    "return unpack()",
    "return unpack({}, 'x')",
    "return unpack({}, 1, {})",
    "local x = unpack(nil)",
    "return {pcall(unpack)}",
    "return {unpack({1, 2, 3}, 2)}",
    "return {unpack({1, 2, 3}, '2', 3.9)}",
    "local t = {} t[2147483647] = 1 return {unpack(t, 2147483647, 2147483647)}",
    "local t = {} t[-2147483648] = 1 return {unpack(t, -2147483648, -2147483648)}",
    "return {pcall(table.concat, {}, '', -2147483648, 2147483647)}",
    "return {pcall(string.rep, 'x', -1)}",
    "return {pcall(string.byte, 'abc', -2147483648, 2147483647)}",
    "return {pcall(string.sub, 'abc', -2147483648, 2147483647)}",
    "return {pcall(select, -2147483648, 1)}",
    "return {pcall(string.format, '%2147483647d', 1)}",
    "return {pcall(table.insert, {}, 2147483647, 1)}",
    "return {pcall(table.remove, {}, -2147483648)}",
    "local n = 0 local function f() n = n + 1 local co = coroutine.wrap(f) co() end "
    "local ok = pcall(f) return ok",
]


@pytest.mark.parametrize("script", UNPACK)
def test_integer_ranges(pair, script):
    r, v = run_both(pair, ev(script))
    at_least_as_safe(r, v, pair["vermilion"])


# CVE-2025-46819 (lexer) and CVE-2025-49844 (parser): the inputs that can be sent
# at a reasonable size. (The overflows themselves need a 2 GB chunk, which
# Vermilion refuses before compiling: see prelude.py's text_chunk.)
LEXER = [
    "return #loadstring('return [' .. string.rep('=', 100000) .. '[x]' .. string.rep('=', 100000) .. ']')()",
    "return {loadstring('return [' .. string.rep('=', 100000) .. '[x]')}",
    "return {loadstring('[==')}",
    "return {loadstring('--[==')}",
    "return {loadstring('x = [=[')}",
    "return {loadstring('return ]=]')}",
    "return {loadstring(string.rep('\\n', 100000) .. '[=')}",
    "return {loadstring(string.rep('\\n', 100000))}",
    "return {loadstring('\\n\\n\\n[=', '=' .. string.rep('n', 1000))}",
    "return {loadstring('x', string.rep('@', 100000))}",
    "collectgarbage('setpause', 1) collectgarbage('setstepmul', 100000) "
    "local n = 0 for i = 1, 300 do local f = loadstring('local a = {' .. string.rep('\"s' .. i .. '\",', 200) .. '} return #a', "
    "'chunk' .. i .. string.rep('y', 40)) n = n + f() end return n",
    "collectgarbage('setpause', 1) local n = 0 for i = 1, 200 do "
    "local f, e = loadstring(string.rep('x', i) .. ' = = ', 'name' .. i) if e then n = n + 1 end end return n",
]


@pytest.mark.parametrize("script", LEXER)
def test_lexer_and_parser(pair, script):
    r, v = run_both(pair, ev(script))
    at_least_as_safe(r, v, pair["vermilion"])


# The bundled lstrlib recurses once per quantified pattern item with no depth
# limit: redis-server dies of a C stack overflow on the first of these.
PATTERNS = [
    "return string.find(string.rep('a', 300000), string.rep('a?', 300000))",
    "local ok, e = pcall(string.match, string.rep('a', 300000), string.rep('a?', 300000)) error(e)",
    "local n = 0 for _ in string.gmatch(string.rep('a', 300000), string.rep('a-', 300000) .. '$') "
    "do n = n + 1 end return n",
    "return string.gsub(string.rep('a', 300000), string.rep('a?', 300000), 'x')",
    "return string.find(string.rep('a', 40000), string.rep('a?', 40000))",
    "return {string.find('hello world', 'o w')}",
    "return string.gsub('hello', 'l', 'L')",
    "return string.find(nil, 'x')",
    "local x = ('x'):find({}) return x",
    "return string.find('x')",
    "return string.find('x', 'x', {})",
    "return {pcall(string.find, 'x', '%')}",
    "return string.gsub('x', 'x', true)",
    "return string.gmatch('x', {})",
    "return string.gsub('abc', '%w', function(c) return c:upper() end)",
    "return string.gsub('abc', '%w', {a = 1})",
    "return {string.match('key:val', '(%w+):(%w+)')}",
]


@pytest.mark.parametrize("script", PATTERNS)
def test_patterns(script):
    out = {}
    for kind in KINDS:
        with Spawned(kind) as s:
            out[kind] = outcome(s, *ev(script))
            if kind == "vermilion":
                assert s.alive() and outcome(s, "PING") == b"+PONG\r\n"
    at_least_as_safe(out["redis"], out["vermilion"])


@pytest.mark.parametrize(
    "script",
    ["x = [==[", "return [=", "--[==[ x", "return ]]", "\x1bLua", "return 'x" + "\n" * 1000],
)
def test_compile_errors(pair, script):
    r, v = run_both(pair, ev(script))
    at_least_as_safe(r, v, pair["vermilion"])
    r, v = run_both(pair, ("FUNCTION", "LOAD", "#!lua name=lex\n" + script))
    at_least_as_safe(r, v, pair["vermilion"])


def test_interpreter_reset_with_live_objects(pair):
    """CVE-2024-46981: SCRIPT FLUSH / FUNCTION FLUSH close an interpreter that
    still holds suspended coroutines, closures and userdata."""
    lib = (
        "#!lua name=gc\nlocal co = coroutine.create(function() while true do "
        "coroutine.yield(cjson.null) end end)\n"
        "redis.register_function('gc', function() return tostring(select(2, "
        "coroutine.resume(co)) == cjson.null) end)"
    )
    keep = (
        "local t = {} for i = 1, 100 do local co = coroutine.create(function() "
        "coroutine.yield(cjson.null) end) coroutine.resume(co) t[i] = co end "
        "return #t"
    )
    for kind in KINDS:
        outcome(pair[kind], "FUNCTION", "FLUSH")
    for _ in range(3):
        for cmd in (
            ev(keep),
            ("SCRIPT", "FLUSH"),
            ("SCRIPT", "FLUSH", "ASYNC"),
            ("FUNCTION", "LOAD", lib),
            ("FCALL", "gc", "0"),
            ("FUNCTION", "FLUSH"),
            ("FUNCTION", "LOAD", lib),
            ("FCALL", "gc", "0"),
            ("FUNCTION", "FLUSH", "ASYNC"),
            ev(keep),
        ):
            r, v = run_both(pair, cmd)
            at_least_as_safe(r, v, pair["vermilion"])


# Error objects of every type: redis-server 7.0.15 crashes on most of these
# (error({}) dereferences a missing "err"); Vermilion answers an error.
ODD_ERRORS = [
    "error({})",
    "error()",
    "error(nil)",
    "error(true)",
    "error(false)",
    "error(12)",
    "error(function() end)",
    "error(coroutine.create(function() end))",
    "error(cjson.null)",
    "error({err = {}})",
    "error({err = 1.5})",
    "error({err = true})",
    "error({err = 'x', source = {}, line = {}})",
    "error({err = 'x', line = 'y'})",
    "error(setmetatable({}, {__index = function() return 'x' end}))",
    "error(setmetatable({}, {__index = function() error('inner') end}))",
    "error(setmetatable({}, {__newindex = function() error('inner') end}))",
    "error(setmetatable({err = 'x'}, {__tostring = function() return {} end}))",
    "return {err = {}}",
    "return {err = 1}",
    "return {{err = {}}}",
    "return {pcall(error, {})}",
    "return {pcall(error)}",
    "return {xpcall(function() error({}) end, function(e) return e end)}",
    "local co = coroutine.wrap(function() error({}) end) co()",
    "local co = coroutine.wrap(function() error() end) co()",
    "return redis.error_reply({})",
    "return redis.status_reply({})",
]


@pytest.mark.parametrize("script", ODD_ERRORS)
def test_odd_error_objects(script):
    out = {}
    for kind in KINDS:
        with Spawned(kind) as s:
            out[kind] = outcome(s, *ev(script))
            alive = s.alive() and outcome(s, "PING") == b"+PONG\r\n"
            if kind == "vermilion":
                assert alive, "vermilion died on %r: %r" % (script, out[kind])
    at_least_as_safe(addresses(out["redis"]), addresses(out["vermilion"]))


def addresses(reply):
    """Pointers printed by tostring differ between processes (and cjson.null is a
    light userdata, "(nil)", in redis-server, a full userdata here)."""
    if not isinstance(reply, bytes):
        return reply
    return re.sub(rb"(?:0x[0-9a-f]+|\(nil\))", b"ADDR", reply)


# ---------------------------------------------------------------- killability
def busy_probe(kind, cmds, stop=("SCRIPT", "KILL"), setup=()):
    """Start a slow script (busy-reply-threshold 100 ms), wait for -BUSY, send
    ``stop``; return (the script's reply, stop's reply, PING's outcome after)."""
    s = Spawned(kind, "--busy-reply-threshold", "100")
    try:
        for cmd in setup:
            outcome(s, *cmd)
        c = s.conn(timeout=10)
        c.send_command(*cmds)
        # (generous: the first EVAL builds the Lua runtime, which a loaded CI
        # machine has been seen to take seconds over; the loop ends at -BUSY)
        deadline = time.time() + 20
        while time.time() < deadline:
            p = outcome(s, "PING", timeout=2)
            if isinstance(p, bytes) and p.startswith(b"-BUSY"):
                break
            time.sleep(0.05)
        else:
            return "never busy", None, None
        # (2 s is plenty for a kill to land; redis-server's hangs are for good)
        k = outcome(s, *stop, timeout=2)
        c.sock.settimeout(2)
        try:
            reply = c.read_reply()
        except (socket.timeout, OSError):
            reply = "no reply (still running)" if s.alive() else "closed"
        time.sleep(0.1)
        if stop[0] == "SHUTDOWN":
            try:
                s.proc.wait(5)
            except Exception:
                pass
            return reply, k, ("exited %s" % s.exit_status()) if not s.alive() else "still running"
        ping = outcome(s, "PING", timeout=2)
        return reply, k, ping
    finally:
        s.stop()


LOOPS = [
    "local co = coroutine.wrap(function() while true do end end) co()",
    "local co = coroutine.create(function() while true do end end) return {coroutine.resume(co)}",
    "local co = coroutine.wrap(function() coroutine.yield() while true do end end) co() co()",
    "local co = coroutine.wrap(function() local inner = coroutine.wrap(function() "
    "while true do end end) inner() end) co()",
    "while true do pcall(function() while true do end end) end",
    "local f = coroutine.wrap(function() while true do pcall(function() while true do end end) end end) f()",
    "return xpcall(function() error('x') end, function() while true do end end)",
    "return xpcall(function() while true do end end, function() while true do end end)",
    "while true do xpcall(function() while true do end end, function() while true do end end) end",
    "error(setmetatable({}, {__index = function() while true do end end}))",
    "local t = setmetatable({}, {__index = function() while true do end end}) return t.x",
    "while true do local ok = pcall(coroutine.wrap(function() while true do end end)) end",
    "local s = string.gsub('aaa', 'a', function() while true do end end)",
    "table.sort({3, 2, 1}, function() while true do end end)",
]


def _check_stop(script, res):
    r_reply, r_kill, r_ping = res["redis"]
    v_reply, v_kill, v_ping = res["vermilion"]
    assert v_ping == b"+PONG\r\n", (script, res)
    assert isinstance(v_reply, bytes), (script, res)
    if isinstance(r_reply, bytes) and r_ping == b"+PONG\r\n":
        assert v_reply == r_reply and v_kill == r_kill, (script, res)


@pytest.mark.parametrize("script", LOOPS)
def test_script_kill(script):
    res = {kind: busy_probe(kind, ev(script)) for kind in KINDS}
    _check_stop(script, res)


@pytest.mark.parametrize("script", LOOPS[:4] + LOOPS[6:8])
def test_function_kill(script):
    lib = "#!lua name=busy\nredis.register_function('busy', function() %s end)" % script
    res = {
        kind: busy_probe(
            kind,
            ("FCALL", "busy", "0"),
            stop=("FUNCTION", "KILL"),
            setup=[("FUNCTION", "LOAD", lib)],
        )
        for kind in KINDS
    }
    _check_stop(script, res)


@pytest.mark.parametrize("script", [LOOPS[0], LOOPS[6], LOOPS[4]])
def test_shutdown_nosave_stops_the_script(script):
    res = {kind: busy_probe(kind, ev(script), stop=("SHUTDOWN", "NOSAVE")) for kind in KINDS}
    assert res["vermilion"][2] == "exited 0", res


def test_coroutine_kept_by_a_library_is_watched():
    """A coroutine created and suspended by one FCALL (kept in the library's
    upvalue), resumed by a later one: it must be watched in the later run too."""
    lib = (
        "#!lua name=keep\nlocal co\n"
        "redis.register_function('prime', function() co = coroutine.wrap(function() "
        "coroutine.yield() while true do end end) co() return 1 end)\n"
        "redis.register_function('resume', function() co() end)"
    )
    res = {
        kind: busy_probe(
            kind,
            ("FCALL", "resume", "0"),
            stop=("FUNCTION", "KILL"),
            setup=[("FUNCTION", "LOAD", lib), ("FCALL", "prime", "0")],
        )
        for kind in KINDS
    }
    _check_stop("keep", res)


@pytest.mark.parametrize(
    "body",
    [
        "local co = coroutine.wrap(function() while true do end end) co()",
        "xpcall(function() while true do end end, function() while true do end end)",
        "while true do pcall(function() while true do end end) end",
    ],
)
def test_function_load_timeout(pair, body):
    r, v = run_both(pair, ("FUNCTION", "LOAD", "#!lua name=slow\n" + body))
    at_least_as_safe(r, v, pair["vermilion"])
