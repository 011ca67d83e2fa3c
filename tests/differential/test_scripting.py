"""EVAL & co. against redis-server, byte for byte: conversions both ways, errors,
the sandbox, the redis.* API, the bundled libraries, SCRIPT, flags."""

import pytest

from vermilion.scripting import AVAILABLE

pytestmark = pytest.mark.skipif(
    not AVAILABLE, reason="Lua scripting needs the optional 'lupa' package"
)


@pytest.fixture
def d(diff):
    diff("SCRIPT", "FLUSH")
    return diff


@pytest.fixture
def d3(diff3):
    diff3("SCRIPT", "FLUSH")
    return diff3


def ev(d, script, *args, keys=()):
    return d("EVAL", script, str(len(keys)), *keys, *args)


# ------------------------------------------------------------- Lua -> reply
LUA_VALUES = [
    "return 1",
    "return -1",
    "return 0",
    "return 3.99",
    "return -3.99",
    "return 1e300",
    "return -1e300",
    "return 0/0",
    "return 1/0",
    "return 2^53 + 1",
    "return 'ciao'",
    "return ''",
    "return true",
    "return false",
    "return nil",
    "return",
    "return {}",
    "return {1,2,3,'ciao',{1,2}}",
    "return {1,2,nil,4}",
    "return {nil, 1}",
    "return {1, false, true, 2}",
    "return {a=1, 2}",
    "return {ok='fine'}",
    "return {ok='a\\r\\nb'}",
    "return {ok=5}",
    "return {err='bad'}",
    "return {err='-bad x'}",
    "return {err=''}",
    "return {err='x\\r\\n'}",
    "return {err='\\nabc'}",
    "return {err={}}",
    "return {err=5}",
    "return {1, {err='x y'}, {ok='z'}}",
    "return {double=3.5}",
    "return {double=1/0}",
    "return {double=-1/0}",
    "return {double=0.1}",
    "return {double='x'}",
    "return {map={a=1}}",
    "return {map={}}",
    "return {set={a=true}}",
    "return {set={}}",
    "return {big_number='123'}",
    "return {big_number='1\\r\\n2'}",
    "return {verbatim_string={format='txt', string='hello'}}",
    "return {verbatim_string={format='markdown', string='hello'}}",
    "return {verbatim_string={format='txt'}}",
    "return {1, {map={k={1,2}}}}",
    "return redis.status_reply('x')",
    "return redis.error_reply('My Error')",
    "return redis.error_reply('-My Error')",
    "return redis.error_reply('')",
    "return redis.error_reply('NOSPACE')",
    "return redis.error_reply()",
    "return redis.status_reply(1)",
    "return {err='ERR \\0 zero'}",
]


@pytest.mark.parametrize("script", LUA_VALUES)
def test_lua_to_resp2(d, script):
    ev(d, script)


@pytest.mark.parametrize("script", LUA_VALUES)
def test_lua_to_resp3(d3, script):
    ev(d3, script)


@pytest.mark.parametrize("script", [s for s in LUA_VALUES if "map" not in s and "set" not in s])
def test_lua_to_resp_with_setresp3(d, script):
    ev(d, "redis.setresp(3) " + script)


@pytest.mark.parametrize("script", [s for s in LUA_VALUES if "map" not in s and "set" not in s])
def test_lua_to_resp3_with_setresp3(d3, script):
    ev(d3, "redis.setresp(3) " + script)


# ------------------------------------------------------------- reply -> Lua
def _describe(expr):
    """A script that shows the Lua value of ``expr`` (type and contents) as a string."""
    return (
        """
local function show(v)
  local t = type(v)
  if t ~= 'table' then return t .. ':' .. tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. '=' .. show(v[k]) end
  return '{' .. table.concat(parts, ',') .. '}'
end
return show(%s)
"""
        % expr
    )


REPLIES = [
    ("SET", "k", "v"),
    ("GET", "k"),
    ("GET", "nokey"),
    ("INCR", "n"),
    ("DEL", "nokey"),
    ("HSET", "h", "f1", "v1", "f2", "v2"),
    ("HGETALL", "h"),
    ("HGET", "h", "nope"),
    ("SADD", "s", "a"),
    ("SMEMBERS", "s"),
    ("ZADD", "z", "1.5", "m"),
    ("ZSCORE", "z", "m"),
    ("ZSCORE", "z", "nope"),
    ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
    ("LPUSH", "l", "a", "b"),
    ("LRANGE", "l", "0", "-1"),
    ("LPOP", "nolist"),
    ("LPOP", "nolist", "2"),
    ("BLPOP", "nolist", "0"),
    ("INCR", "k"),
    ("HINCRBYFLOAT", "h2", "f", "1.5"),
    ("TYPE", "k"),
    ("PING",),
    ("ECHO", "hi"),
    ("EXISTS", "k", "nokey"),
    ("ZRANGE", "nozset", "0", "-1"),
    ("HRANDFIELD", "h", "-5"),
    ("XADD", "x", "1-1", "a", "1"),
    ("XRANGE", "x", "-", "+"),
    ("OBJECT", "ENCODING", "k"),
    ("SET", "k", "v", "GET"),
    ("SET", "k2", "v", "NX", "GET"),
    ("MGET", "k", "nokey"),
]


@pytest.mark.parametrize("resp", [2, 3])
@pytest.mark.parametrize("cmd", REPLIES, ids=[" ".join(c) for c in REPLIES])
def test_reply_to_lua(d, cmd, resp):
    d.run("""
    DEL k n h s z l h2 x k2
    SET k v
    HSET h f1 v1
    SADD s a
    ZADD z 1.5 m
    RPUSH l x
    """)
    args = ", ".join("'%s'" % a for a in cmd)
    ev(d, "redis.setresp(%d) " % resp + _describe("redis.pcall(%s)" % args))
    d.run("""
    DEL k n h s z l h2 x k2
    SET k v
    HSET h f1 v1
    SADD s a
    ZADD z 1.5 m
    RPUSH l x
    """)
    # and back out: the value converted to Lua, returned as is
    ev(d, "redis.setresp(%d) return redis.pcall(%s)" % (resp, args))


def test_reply_to_lua_resp3_caller(d3):
    d3.run("""
    HSET h f1 v1 f2 v2
    SADD s a
    ZADD z 2.5 m
    """)
    for cmd in (
        "'HGETALL', 'h'",
        "'SMEMBERS', 's'",
        "'ZSCORE', 'z', 'm'",
        "'GET', 'nokey'",
        "'ZRANGE', 'z', 0, -1, 'WITHSCORES'",
    ):
        for resp in (2, 3):
            ev(d3, "redis.setresp(%d) return redis.call(%s)" % (resp, cmd))


def test_numbers_as_arguments(d):
    d.run("DEL k")
    ev(d, "redis.call('set', 'k', 3.14) return redis.call('get', 'k')")
    ev(d, "redis.call('set', 'k', 1/3) return redis.call('get', 'k')")
    ev(d, "redis.call('set', 'k', 2^60) return redis.call('get', 'k')")
    ev(d, "redis.call('set', 'k', 1e17) return redis.call('get', 'k')")
    ev(d, "redis.call('set', 'k', 123456789) return redis.call('get', 'k')")
    ev(d, "redis.call('set', 'k', -0.5) return redis.call('get', 'k')")
    ev(d, "redis.call('set', 'k', 1/0) return redis.call('get', 'k')")
    ev(d, "redis.call('set', 'k', -1/0) return redis.call('get', 'k')")
    ev(d, "return redis.call('incrby', 'n', 5)")
    ev(d, "return redis.call('set', 'k', true)")
    ev(d, "return redis.call('set', 'k', nil)")
    ev(d, "return redis.pcall('set', 'k', {})")


def test_keys_and_argv(d):
    ev(d, "return {KEYS[1], ARGV[1], #KEYS, #ARGV}", "a", keys=("k",))
    ev(d, "return {#KEYS, #ARGV}")
    ev(d, "return KEYS", keys=("a", "b", "c"))
    ev(d, "return ARGV", "x", "", "z")
    ev(d, "KEYS[1] = 'changed' return KEYS[1]", keys=("a",))
    ev(d, "return KEYS[1]")


def test_numkeys_errors(d):
    d("EVAL", "return 1", "-1")
    d("EVAL", "return 1", "2", "a")
    d("EVAL", "return 1", "x")
    d("EVAL", "return 1", "0.5")
    d("EVAL", "return 1", "99999999999999999999")
    d("EVAL", "x x", "-1")
    d("EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "x")
    d("EVAL")
    d("EVAL", "return 1")


# ----------------------------------------------------------------- errors
ERROR_SCRIPTS = [
    "x = 5",
    "function f() end",
    "return y",
    "rawset(_G, 'x', 1)",
    "setmetatable(_G, {})",
    "local g = getmetatable(_G)\ng.__index = {}",
    "redis = function() return 1 end",
    "_G = {}",
    "redis.call = function() return 1 end",
    "cjson.encode = function() end",
    "cmsgpack.pack = function() end",
    "bit.lshift = function() end",
    "struct.pack = 1",
    "string.x = 1",
    "math.pi = 3",
    "table.x = 1",
    "loadfile('x')",
    "dofile('x')",
    "print('x')",
    "return os",
    "return io",
    "return require",
    "error('foo')",
    "error({err='MY x'})",
    "error(nil)",
    "error(5)",
    "error('x', 0)",
    "error('x', 2)",
    "local function f() error('x', 2) end\nf()",
    "local t = setmetatable({}, {__index=function() error('inner') end})\nreturn t.x",
    "error('a\\nb')",
    "error('abc\\n')",
    "error({err='abc\\r\\n'})",
    "error({err='abc', source='s', line=5})",
    "error({err='-X y'})",
    "error({err='-'})",
    "return {err='-'}",
    "return {err='--x'}",
    "return redis.call('nosuch')",
    "return redis.call('get')",
    "return redis.call('config')",
    "return redis.call('config', 'nosub')",
    "return redis.call('subscribe','x')",
    "return redis.call('eval', 'return 1', '0')",
    "return redis.call('multi')",
    "return redis.call()",
    "return redis.call({})",
    "return redis.call('get', {})",
    "return redis.call('get', nil)",
    "return redis.call('incr', 'strkey')",
    "return redis.call('lpush', 'strkey', 'x')",
    "redis.call('set', 'w', 1)\nredis.call('incr', 'strkey')",
    "return string.rep()",
    "return 1 + nil",
    "local t = {} t.x.y = 1",
    "return redis.sha1hex()",
    "return redis.sha1hex(1, 2)",
    "return redis.log()",
    "return redis.log(1)",
    "return redis.log('x', 'y')",
    "return redis.log(99, 'x')",
    "return redis.log(-1, 'x')",
    "return redis.setresp()",
    "return redis.setresp(4)",
    "return redis.setresp(2, 3)",
    "return redis.setresp('x')",
    "return redis.set_repl()",
    "return redis.set_repl(7)",
    "return redis.set_repl(-1)",
    "return math.random(0)",
    "return math.random(3, 1)",
    "return math.random(1, 2, 3)",
    "return math.random('x')",
    "return math.randomseed()",
    "return bit.band()",
    "return bit.band(1, 'x')",
    "return bit.tohex({})",
    "return cjson.decode('[1,2')",
    "return cjson.decode()",
    "return cjson.decode('{')",
    "return cjson.encode(function() end)",
    "return cjson.encode({[true]=1})",
    "return cjson.encode({1, 2, [10] = 3})",
    "return cjson.decode('nope')",
    "return cjson.decode('[1] x')",
    "return cmsgpack.pack()",
    "return cmsgpack.unpack('\\217')",
    "return struct.pack('i17', 1)",
    "return struct.pack('z', 1)",
    "return struct.unpack('i', 'ab')",
    "return struct.pack('i')",
    "local t = {} for i = 1, 10 do t = {t} end return cjson.encode(t)",
    "return xyz.abc",
    "local a = nil; return a.b",
    "return #nil",
    "return ('x'):bad()",
    "return tostring()",
    "return tonumber()",
    "local x = pcall()",
    "return unpack()",
    "return ipairs()",
    "local x = pairs()",
    "local x = next()",
    "local x = rawget()",
    "local x = rawset({})",
    "return select()",
    "local x = setmetatable()",
    "local x = getmetatable()",
    "local x = loadstring()",
    "local x = setmetatable({}, 1)",
    "local x = rawset(1, 2, 3)",
    "local x = pairs(1)",
    "local x = rawset({}, nil, 1)",
    "local x = loadstring({})",
    "local t = setmetatable({}, {__metatable = 1}) setmetatable(t, {})",
]


@pytest.mark.parametrize("script", ERROR_SCRIPTS)
def test_errors(d, script):
    d.run("""
    DEL strkey w
    SET strkey abc
    """)
    ev(d, script)
    d("GET", "w")


@pytest.mark.parametrize(
    "script",
    [
        "x x",
        "return (",
        "\x1bLua",
        "return 'unfinished",
        "local 1 = 2",
        "end",
        "#!lua\nx x",
        "#!lua\n\nreturn (",
    ],
)
def test_compile_errors(d, script):
    ev(d, script)
    d("SCRIPT", "LOAD", script)


@pytest.mark.parametrize(
    "script",
    [
        "#!lua flags=foo\nreturn 1",
        "#!lua name=x\nreturn 1",
        "#!py\nreturn 1",
        "#!lua",
        "#!",
        "#!lua flags=\nreturn 1",
        "#!lua flags=no-writes,\nreturn 1",
        "#!lua flags=no-writes,,allow-oom\nreturn 1",
        "#!lua \"flags=no-writes\"\nreturn 1",
        "#!lua 'unbalanced\nreturn 1",
        "#! lua\nreturn 1",
        "#!lua  flags=no-writes  \nreturn 1",
        "#!lua flags=NO-WRITES\nreturn 1",
    ],
)
def test_shebang_errors(d, script):
    ev(d, script)


def test_pcall_semantics(d):
    d.run("SET strkey abc")
    for script in [
        "local ok, e = pcall(redis.call, 'incr', 'strkey') return {tostring(ok), e}",
        "local ok, e = pcall(function() error({err='X y'}) end) return {tostring(ok), e}",
        "local ok, e = pcall(function() error({err=5}) end) return {tostring(ok), type(e)}",
        "local ok, e = pcall(function() error({}) end) return {tostring(ok), type(e)}",
        "local ok, e = pcall(function() error('s') end) return {tostring(ok), e}",
        "return pcall(function() return 1, 2 end)",
        "return {pcall(function() return 1, 2 end)}",
        "local ok, e = pcall(redis.call) return e",
        "local ok, e = pcall(nil) return {tostring(ok), e}",
        "local ok, e = xpcall(function() redis.call('incr', 'strkey') end, "
        "function(e) return type(e) end) return {tostring(ok), e}",
        "local ok, e = xpcall(function() redis.call('incr', 'strkey') end, "
        "function(e) return e.err end) return {tostring(ok), e}",
        "local co = coroutine.create(function() redis.call('incr', 'strkey') end) "
        "local ok, e = coroutine.resume(co) return {tostring(ok), type(e), e.err}",
        "local e = redis.pcall('incr', 'strkey') local t = {} for k, v in pairs(e) do "
        "t[#t+1] = k t[#t+1] = tostring(v) end table.sort(t) return t",
        "local e = redis.pcall('nosuch') local t = {} for k, v in pairs(e) do "
        "t[#t+1] = k t[#t+1] = tostring(v) end table.sort(t) return t",
        "local e = redis.pcall() local t = {} for k, v in pairs(e) do "
        "t[#t+1] = k t[#t+1] = tostring(v) end table.sort(t) return t",
        "return redis.pcall()",
        "return redis.pcall('nosuch')",
        "return redis.pcall({})",
        "return redis.pcall('incr', 'strkey')",
        "return {redis.pcall('incr', 'strkey')}",
        "local ok, e = pcall(error, 'x') return e",
        "local ok, e = pcall(error, {err='Z w'}) return e",
    ]:
        ev(d, script)


def test_error_stats(d):
    d("CONFIG", "RESETSTAT")
    d.run("SET strkey abc")
    ev(d, "return redis.call('incr', 'strkey')")
    ev(d, "return redis.pcall('incr', 'strkey')")
    ev(d, "error('x')")
    ev(d, "return redis.error_reply('MYERR boom')")
    ev(d, "return {err='NOSPACE'}")
    ev(d, "return {1, {err='INNER one'}, redis.pcall('incr', 'strkey')}")
    ev(d, "return redis.call('nosuch')")
    ev(d, "local ok = pcall(redis.call, 'nosuch') return 1")
    for section in ("errorstats",):
        ref = d.ref.call("INFO", section)
        our = d.our.call("INFO", section)
        assert _info_lines(our) == _info_lines(ref)
    for name in ("eval", "incr", "get"):
        ref = _cmdstat(d.ref.call("INFO", "commandstats"), name)
        our = _cmdstat(d.our.call("INFO", "commandstats"), name)
        assert our == ref, name


def _info_lines(reply):
    body = reply.split(b"\r\n", 1)[1]
    return sorted(l for l in body.split(b"\r\n") if l and not l.startswith(b"#"))


def _cmdstat(reply, name):
    for line in reply.split(b"\r\n"):
        if line.startswith(b"cmdstat_%s:" % name.encode()):
            fields = dict(f.split(b"=") for f in line.split(b":", 1)[1].split(b","))
            return {k: v for k, v in fields.items() if k not in (b"usec", b"usec_per_call")}
    return None


# ------------------------------------------------------------- the sandbox
def test_globals(d):
    for script in [
        "return type(_G)",
        "return type(getfenv)",
        "return type(setfenv)",
        "return _VERSION",
        "return type(redis)",
        "return type(string.format)",
        "return type(loadstring)",
        "return type(newproxy)",
        "return type(gcinfo)",
        "return type(coroutine.wrap)",
        "return type(unpack)",
        "return type(__redis__err__handler)",
        "return type(debug)",
        "return type(KEYS)",
        "local n = 0 for k in pairs(_G) do n = n + 1 end return n",
        "local t = {} for k in pairs(_G) do t[#t+1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(redis) do t[#t+1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(string) do t[#t+1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(math) do t[#t+1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(table) do t[#t+1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(bit) do t[#t+1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(cjson) do t[#t+1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(struct) do t[#t+1] = k end table.sort(t) return t",
        "local t = {} for k in pairs(cmsgpack) do t[#t+1] = k end table.sort(t) return t",
        "return rawget(_G, 'redis') == redis",
        "return rawget(_G, 'nope')",
        "return next(redis) ~= nil",
        "return getmetatable(_G) ~= nil",
        "return getmetatable('').__index == string",
        "return ('abc'):upper()",
        "return loadstring('return 1 + 1')()",
        "local f = loadstring('x = 1') return f ~= nil",
        "local f = loadstring('x = 1') f()",
        "return loadstring('x x')",
        "local f = loadstring('return y') return f()",
        "return loadstring('\\27Lua')",
        "local t = setmetatable({}, {__index = function(t, k) return k .. '!' end}) return t.a",
        "return select('#', unpack({1, 2, 3}))",
        "local t = {} table.insert(t, 'a') table.insert(t, 1, 'b') return t",
        "table.insert(string, 'x')",
        "return tostring(nil)",
        "return string.format('%d %s %5.2f', 42, 'x', 3.14159)",
        "return string.format('%.17g', 0.1)",
        "return tostring(1/3)",
        "return tostring(2^63)",
        "return 7 % 3",
        "return math.floor(-3.5)",
        "return math.huge > 0",
        "return string.byte('A')",
        "return string.char(72, 105)",
        "return {string.find('hello world', 'o w')}",
        "return string.gsub('hello', 'l', 'L')",
        "return #'abc'",
        "return coroutine.wrap(function() coroutine.yield(1) end)()",
        "return pcall()",
        "KEYS = 1",
        "ARGV = 1",
    ]:
        ev(d, script)


def test_api_functions_are_functions(d):
    # redis.call & co. are Python callables here (see prelude.py), C functions to Lua
    for script in [
        "return getmetatable(redis.call)",
        "return getmetatable(redis.pcall)",
        "return getmetatable(bit.band)",
        "return getmetatable(cjson.encode)",
        "return type(redis.call)",
        "return type(math.random)",
        "return type(struct.pack)",
        "return redis.call.__class__",
        "return redis.call.x",
        "redis.call.x = 1",
    ]:
        ev(d, script)
    ev(d, "return redis.call('ping')")


# ------------------------------------------------------------- redis.* API
def test_redis_api(d):
    for script in [
        "return redis.sha1hex('')",
        "return redis.sha1hex('Pizza & Mandolino')",
        "return redis.sha1hex(1)",
        "return redis.sha1hex(1.5)",
        "return redis.sha1hex({})",
        "return redis.sha1hex(nil)",
        "return redis.REDIS_VERSION",
        "return redis.REDIS_VERSION_NUM",
        "return redis.breakpoint()",
        "return redis.debug('x')",
        "return redis.replicate_commands()",
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
        "return {redis.REPL_NONE, redis.REPL_AOF, "
        "redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
        "return redis.log(redis.LOG_DEBUG, 'hello', 1, {}, 'x')",
        "return redis.log('0', 'hello')",
        "return redis.set_repl(redis.REPL_ALL)",
        "return redis.setresp(2)",
        "return redis.setresp('3')",
        "return redis.acl_check_cmd('get', 'k')",
        "return redis.acl_check_cmd('nosuch')",
        "return redis.acl_check_cmd()",
        "return redis.acl_check_cmd('config', 'get')",
        "return redis.status_reply('x', 'y')",
        "return redis.error_reply('a\\r\\nb')",
        "return type(redis.status_reply('x'))",
        "return redis.error_reply('x').err",
        "return redis.error_reply('-E').err",
        "return redis.error_reply('E  x').err",
    ]:
        ev(d, script)


def test_math_random_deterministic(d):
    ev(d, "math.randomseed(1) return {math.random(100), math.random(100), math.random(100)}")
    ev(d, "math.randomseed(42) return {math.random(), math.random(5, 10)}")
    ev(d, "math.randomseed(-7) local t = {} for i = 1, 20 do t[i] = math.random(1000) end return t")
    ev(d, "math.randomseed(0) return tostring(math.random())")
    ev(d, "math.randomseed(3.9) return math.random(10)")
    ev(d, "math.randomseed('12') return math.random('7')")


def test_bit(d):
    for script in [
        "return bit.band(5, 3)",
        "return bit.bor(5, 3)",
        "return bit.bxor(5, 3)",
        "return bit.bnot(0)",
        "return bit.tobit(2^32 + 5)",
        "return bit.lshift(1, 31)",
        "return bit.rshift(-1, 28)",
        "return bit.arshift(-256, 4)",
        "return bit.rol(1, 33)",
        "return bit.ror(1, 1)",
        "return bit.bswap(0x12345678)",
        "return bit.tohex(255)",
        "return bit.tohex(255, 2)",
        "return bit.tohex(255, -4)",
        "return bit.tohex(-1, 12)",
        "return bit.band(0xffffffff, -1, 7)",
        "return bit.bor()",
        "return bit.tobit(1.5)",
        "return bit.tobit(2.5)",
        "return bit.tobit(-1.5)",
        "return bit.band('12', 4)",
        "return bit.tohex(1/0)",
        "return bit.lshift(1)",
    ]:
        ev(d, script)


def test_cjson(d):
    for script in [
        "return cjson.encode({1,2,3})",
        "return cjson.encode({a=1})",
        "return cjson.encode({})",
        "return cjson.encode('a\"b\\\\c/\\n\\1\\127')",
        "return cjson.encode(3.14159265358979)",
        "return cjson.encode(1e100)",
        "return cjson.encode(true)",
        "return cjson.encode(cjson.null)",
        "return cjson.encode(nil)",
        "return cjson.encode({1, nil, 3})",
        "return cjson.encode({[1]=1, [2]=2, [4]=4})",
        "return cjson.encode({[1.5]=1})",
        "return cjson.encode({[-1]=1})",
        "return cjson.encode({[5]=1})",
        "return cjson.encode({1, {2, {3, {a={}}}}})",
        "return cjson.encode(1/0)",
        "return cjson.encode(0/0)",
        # encode_invalid_numbers: true prints nan/inf, "null" gives null (set back after)
        "local r = cjson.encode_invalid_numbers(true);"
        " local s = cjson.encode({0/0, -(0/0), 1/0, -1/0, 1.5, [\"k\"]=1/0});"
        " cjson.encode_invalid_numbers(false); return {tostring(r), s}",
        "local r = cjson.encode_invalid_numbers('null'); local s = cjson.encode({0/0, 1/0});"
        " cjson.encode_invalid_numbers('off'); return {tostring(r), s}",
        "return tostring(cjson.encode_invalid_numbers())",
        "return cjson.encode({1, 2, x=3})",
        "return cjson.encode(123456789012345)",
        "return cjson.encode(2^53)",
        "return cjson.encode(0.1)",
        "return cjson.encode(100)",
        "return cjson.encode(1e14)",
        "return cjson.decode('[1,2,3]')",
        "return cjson.decode('{\"a\":[1,{\"b\":2}]}').a[2].b",
        "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\"')",
        "return cjson.decode('\"a\\\\/b\\\\tc\"')",
        "return cjson.decode('  42  ')",
        "return cjson.decode('-1.5e3')",
        "return type(cjson.decode('null'))",
        "return cjson.decode('null') == cjson.null",
        "return cjson.decode('[true,false]')",
        "return cjson.decode('0x10')",
        "return cjson.decode('01')",
        "return cjson.decode('+1')",
        "return cjson.decode('NaN')",
        "return cjson.decode('Infinity')",
        "return cjson.decode('-Infinity')",
        "return cjson.decode('[1,]')",
        "return cjson.decode('{\"a\" 1}')",
        "return cjson.decode('{1:2}')",
        "return cjson.decode('\"\\\\x\"')",
        "return cjson.decode('\"\\\\u12\"')",
        "return cjson.decode('\"\\\\ud800\"')",
        "return cjson.decode('\"abc')",
        "return cjson.decode('')",
        "return cjson.decode(' ')",
        "return cjson.decode('tru')",
        "return cjson.decode(123)",
        "return cjson.decode({})",
        "return cjson.decode('[1]', 2)",
        "return cjson.encode()",
        "return cjson.encode(1, 2)",
        "return cjson.decode(cjson.encode({a={b={c=1}}})).a.b.c",
        "return cjson.encode_keep_buffer()",
        "return {cjson.encode_max_depth()}",
    ]:
        ev(d, script)


def test_cmsgpack(d):
    for script in [
        "return cmsgpack.pack(1)",
        "return cmsgpack.pack(-1)",
        "return cmsgpack.pack(127)",
        "return cmsgpack.pack(128)",
        "return cmsgpack.pack(-33)",
        "return cmsgpack.pack(65536)",
        "return cmsgpack.pack(2^40)",
        "return cmsgpack.pack(-2^40)",
        "return cmsgpack.pack(1.5)",
        "return cmsgpack.pack(0.1)",
        "return cmsgpack.pack(1/0)",
        "return cmsgpack.pack(0/0)",
        "return cmsgpack.pack('abc')",
        "return cmsgpack.pack(string.rep('x', 40))",
        "return cmsgpack.pack(string.rep('x', 300))",
        "return cmsgpack.pack(true, false)",
        "return cmsgpack.pack({1, 2, 3})",
        "return cmsgpack.pack({a=1})",
        "return cmsgpack.pack({})",
        "return cmsgpack.pack({1, nil, 3})",
        "return cmsgpack.pack(nil)",
        "return cmsgpack.pack(function() end)",
        "local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)",
        "local t = {} t = {t} for i = 1, 20 do t = {t} end return cmsgpack.pack(t)",
        "return cmsgpack.unpack(cmsgpack.pack({1, 2, 'x'}))",
        "return {cmsgpack.unpack(cmsgpack.pack(1, 2, 3))}",
        "return cmsgpack.unpack(cmsgpack.pack({a=5})).a",
        "return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))",
        "return cmsgpack.unpack(cmsgpack.pack(-2^40))",
        "return cmsgpack.unpack('\\192')",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 2)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)}",
        "return cmsgpack.unpack('\\193')",
        "return cmsgpack.unpack('\\205\\1')",
        "return cmsgpack.unpack_one('\\1', 5)",
        "return cmsgpack.unpack_one('\\1', -1)",
        "return cmsgpack.unpack_limit('\\1')",
        "return cmsgpack.unpack({})",
        "return cmsgpack.unpack(cmsgpack.pack({[1]=1, [3]=3}))[3]",
    ]:
        ev(d, script)


def test_struct(d):
    for script in [
        "return struct.pack('>I2', 258)",
        "return struct.pack('<i4', -2)",
        "return struct.pack('b', -1)",
        "return struct.pack('BhHlL', 1, 2, 3, 4, 5)",
        "return struct.pack('>d', 1.5)",
        "return struct.pack('<f', 0.1)",
        "return struct.pack('s', 'abc')",
        "return struct.pack('c3', 'abcdef')",
        "return struct.pack('c0', 'abc')",
        "return struct.pack('!4 b i', 1, 2)",
        "return struct.pack('x b', 1)",
        "return {struct.unpack('>I2', '\\1\\2')}",
        "return {struct.unpack('<i4', struct.pack('<i4', -2))}",
        "return {struct.unpack('s', 'abc\\0def')}",
        "return {struct.unpack('c3', 'abcdef')}",
        "return {struct.unpack('b c0', '\\3abcdef')}",
        "return {struct.unpack('>d', struct.pack('>d', 1.5))}",
        "return {struct.unpack('i', struct.pack('i', 7), 1)}",
        "return {struct.unpack('bb', '\\1\\2\\3', 2)}",
        "return struct.size('i4 d c5')",
        "return struct.size('!8 b d')",
        "return struct.size('s')",
        "return struct.size('c0')",
        "return struct.pack('c3', 'ab')",
        "return struct.unpack('s', 'abc')",
        "return struct.unpack('i', 'abcd', 0)",
        "return struct.unpack('c0', 'abc')",
        "return struct.pack('i', 'x')",
        "return struct.pack(1)",
        "return {struct.unpack('>i8', struct.pack('>i8', -2))}",
        "return {struct.unpack('<I3', '\\255\\255\\255')}",
    ]:
        ev(d, script)


# ------------------------------------------------------------------ SCRIPT
def test_script_command(d):
    d.run("""
    SCRIPT LOAD "return 1"
    EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0
    EVALSHA E0E1F9FABFC9D4800C877A703B823AC0578FF8DB 0
    SCRIPT EXISTS e0e1f9fabfc9d4800c877a703b823ac0578ff8db E0E1F9FABFC9D4800C877A703B823AC0578FF8DB x
    EVALSHA ffffffffffffffffffffffffffffffffffffffff 0
    EVALSHA fff 0
    EVALSHA_RO e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0
    SCRIPT HELP
    SCRIPT DEBUG x
    SCRIPT DEBUG no
    SCRIPT FLUSH x
    SCRIPT FLUSH sync x
    SCRIPT FLUSH ASYNC
    SCRIPT EXISTS e0e1f9fabfc9d4800c877a703b823ac0578ff8db
    SCRIPT FLUSH SYNC
    SCRIPT FLUSH
    SCRIPT KILL
    SCRIPT foo
    SCRIPT
    SCRIPT LOAD
    SCRIPT LOAD a b
    SCRIPT EXISTS
    SCRIPT KILL x
    FUNCTION KILL
    """)
    ev(d, "return 'cached by eval'")
    d("EVALSHA", "a42b31dbd1b5cba05bc5ac4ca4fac8dec1ee50bd", "0")
    d("SCRIPT", "EXISTS", "a42b31dbd1b5cba05bc5ac4ca4fac8dec1ee50bd")


def test_script_load_with_shebang_and_errors(d):
    d("SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 1")
    d("SCRIPT", "LOAD", "#!lua flags=bad\nreturn 1")
    d("SCRIPT", "LOAD", "x x")


# ------------------------------------------------------------ flags and RO
def test_read_only_scripts(d):
    d.run("SET k v")
    for cmd in [
        ("EVAL_RO", "return redis.call('get', 'k')", "1", "k"),
        ("EVAL_RO", "return redis.call('set', 'k', 'x')", "1", "k"),
        ("EVAL_RO", "return redis.pcall('set', 'k', 'x')", "1", "k"),
        ("EVAL_RO", "return redis.call('publish', 'ch', 'x')", "0"),
        ("EVAL_RO", "return redis.call('pfcount', 'k')", "0"),
        ("EVAL_RO", "#!lua\nreturn 1", "0"),
        ("EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"),
        ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'k', 'y')", "0"),
        ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"),
        ("EVAL", "#!lua\nreturn redis.call('set', 'k', 'z')", "0"),
        (
            "EVAL",
            "#!lua flags=allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\n"
            "return redis.call('set', 'k', 'w')",
            "0",
        ),
        ("GET", "k"),
    ]:
        d(*cmd)
    sha = d("SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn redis.call('get', 'k')")
    d("EVALSHA_RO", sha.split(b"\r\n")[1].decode(), "0")
    sha = d("SCRIPT", "LOAD", "return redis.call('set', 'k', 'q')")
    d("EVALSHA_RO", sha.split(b"\r\n")[1].decode(), "0")


# --------------------------------------------------- semantics with the server
def test_select_inside_script_does_not_leak(d):
    d.run("""
    SELECT 0
    SET k db0
    SELECT 1
    SET k db1
    SELECT 0
    """)
    ev(d, "redis.call('select', 1) return redis.call('get', 'k')")
    d("GET", "k")
    d("SELECT", "1")
    ev(d, "return redis.call('get', 'k')")
    d("SELECT", "0")
    d.run("""
    SELECT 1
    FLUSHDB
    SELECT 0
    """)


def test_script_in_multi(d):
    d.run("SET k 1")
    d("MULTI")
    d("EVAL", "return redis.call('incr', 'k')", "0")
    d("EVAL", "return redis.call('nosuch')", "0")
    d("EVAL", "x x", "0")
    d("EXEC")
    d("MULTI")
    d("EVAL", "return 1", "-1")
    d("EXEC")


def test_watch_and_scripts(d):
    # a script's write breaks the WATCH of another connection
    ref2 = type(d.ref)("127.0.0.1", d.ref.sock.getpeername()[1])
    our2 = type(d.our)("127.0.0.1", d.our.sock.getpeername()[1])
    try:
        d.run("SET w 1")
        d("WATCH", "w")
        assert ref2.call("EVAL", "redis.call('set', 'w', 2)", "0") == our2.call(
            "EVAL", "redis.call('set', 'w', 2)", "0"
        )
        d("MULTI")
        d("GET", "w")
        d("EXEC")
        # a read-only script does not
        d("WATCH", "w")
        assert ref2.call("EVAL", "return redis.call('get', 'w')", "0") == our2.call(
            "EVAL", "return redis.call('get', 'w')", "0"
        )
        d("MULTI")
        d("GET", "w")
        d("EXEC")
    finally:
        ref2.close()
        our2.close()


def test_time_is_frozen_inside_scripts(d):
    d.run("DEL k")
    ev(
        d,
        "redis.call('set', 'k', 'v', 'px', 1) local t = redis.call('time') "
        "while true do local n = redis.call('time') "
        "if (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > 5000 then break end end "
        "return redis.call('get', 'k')",
    )
    d("GET", "k")


def test_blocking_commands_do_not_block(d):
    d.run("DEL l z x")
    ev(d, "return redis.call('blpop', 'l', 0)")
    ev(d, "return redis.call('brpoplpush', 'l', 'l2', 0)")
    ev(d, "return redis.call('bzpopmin', 'z', 0)")
    ev(d, "return redis.call('blmove', 'l', 'l2', 'left', 'right', 0)")
    ev(d, "return redis.call('xread', 'block', 0, 'streams', 'x', '$')")
    ev(d, "redis.call('rpush', 'l', 'a') return redis.call('blpop', 'l', 0)")


def test_noscript_commands(d):
    for cmd in (
        "'auth', 'x'",
        "'client', 'list'",
        "'watch', 'k'",
        "'exec'",
        "'script', 'load', 'x'",
        "'function', 'list'",
        "'fcall', 'f', 0",
        "'monitor'",
        "'psubscribe', 'x'",
        "'hello'",
        "'quit'",
        "'reset'",
        "'discard'",
        "'unwatch'",
        "'save'",
        "'debug', 'sleep', 0",
        "'evalsha', 'x', 0",
        "'shutdown'",
    ):
        ev(d, "return redis.pcall(%s)" % cmd)


def test_allowed_commands_inside_scripts(d):
    d.run("DEL k")
    for cmd in (
        "'ping'",
        "'echo', 'x'",
        "'select', 0",
        "'dbsize'",
        "'set', 'k', 'v'",
        "'expire', 'k', 100",
        "'ttl', 'k'",
        "'type', 'k'",
        "'publish', 'ch', 'm'",
        "'command', 'count'",
        "'object', 'refcount', 'k'",
        "'info', 'nosuchsection'",
        "'config', 'get', 'maxmemory'",
        "'time'",
    ):
        script = (
            "local r = redis.pcall(%s) if type(r) == 'table' and r.err then "
            "return r end return type(r)" % cmd
        )
        ev(d, script)


def test_large_values(d):
    ev(d, "local t = {} for i = 1, 5000 do t[i] = i end return t")
    ev(d, "return string.rep('x', 100000)")
    d.run("DEL big")
    ev(
        d,
        "for i = 1, 1000 do redis.call('rpush', 'big', i) end "
        "return redis.call('lrange', 'big', 0, -1)",
    )
    d("EVAL", "return #ARGV", "0", *[str(i) for i in range(3000)])
    d.run("DEL big")


def _read_until(sock, end, limit=1 << 20):
    data = b""
    sock.settimeout(10)
    while not data.endswith(end) and len(data) < limit:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    return data


def test_self_referencing_table(d):
    # Redis nests arrays until its Lua stack runs out, then answers an error
    script = b"local t = {} t[1] = t return t"
    req = b"*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(script), script)
    outs = []
    for conn in (d.ref, d.our):
        conn.send(req)
        outs.append(_read_until(conn.sock, b"-ERR reached lua stack limit\r\n"))
    assert outs[1] == outs[0]
    d("PING")


def test_binary_safety(d):
    ev(d, "return ARGV[1]", "a\x00b\xff")
    ev(d, "redis.call('set', 'bin', ARGV[1]) return redis.call('get', 'bin')", "\x00\x01\x02")
    ev(d, "return string.len(ARGV[1])", "\x00\x00")
    ev(d, "return redis.sha1hex(ARGV[1])", "a\x00b")
    d("DEL", "bin")


def test_keyspace_events_from_scripts(diff):
    from support import RawConn

    d = diff
    d("CONFIG", "SET", "notify-keyspace-events", "KEA")
    subs = [
        RawConn("127.0.0.1", d.ref.sock.getpeername()[1]),
        RawConn("127.0.0.1", d.our.sock.getpeername()[1]),
    ]
    try:
        for s in subs:
            s.call("PSUBSCRIBE", "__key*__:*")
        d(
            "EVAL",
            "redis.call('set', 'ek', 1) redis.call('incr', 'ek') "
            "redis.call('expire', 'ek', 100) redis.call('del', 'ek') "
            "redis.call('lpush', 'el', 'a') redis.call('lpop', 'el')",
            "0",
        )
        ref = [subs[0].read_reply() for _ in range(12)]
        our = [subs[1].read_reply() for _ in range(12)]
        assert our == ref
    finally:
        d("CONFIG", "SET", "notify-keyspace-events", "")
        for s in subs:
            s.close()


def test_monitor_sees_script_commands(diff):
    from support import RawConn

    d = diff
    mons = [
        RawConn("127.0.0.1", d.ref.sock.getpeername()[1]),
        RawConn("127.0.0.1", d.our.sock.getpeername()[1]),
    ]
    try:
        for m in mons:
            assert m.call("MONITOR") == b"+OK\r\n"
        d(
            "EVAL",
            "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])",
            "1",
            "mk",
            "mv",
        )
        d("EVAL", "#!lua\nreturn redis.call('ping')", "0")
        outs = []
        for m in mons:
            lines = [m.read_reply() for _ in range(5)]
            outs.append([l.split(b" ", 1)[1] for l in lines])  # drop the timestamp
        assert outs[1][0].startswith(b"[0 127.0.0.1:")
        strip = [[l if b"lua]" in l else l.split(b"]", 1)[1] for l in o] for o in outs]
        assert strip[1] == strip[0]
    finally:
        for m in mons:
            m.close()


def test_slowlog_has_script_commands(d):
    d("CONFIG", "SET", "slowlog-log-slower-than", "0")
    try:
        d("SLOWLOG", "RESET")
        ev(d, "redis.call('set', 'sl', 1) return redis.call('get', 'sl')")
        ref = d.ref.call("SLOWLOG", "GET")
        our = d.our.call("SLOWLOG", "GET")
    finally:
        d("CONFIG", "SET", "slowlog-log-slower-than", "10000")

    def strip(reply):  # id, time and duration differ; command, args, peer, name compared
        import re

        reply = re.sub(rb"\*6\r\n:\d+\r\n:\d+\r\n:\d+\r\n", b"*6\r\n", reply)
        return re.sub(rb"127\.0\.0\.1:\d+", b"ADDR", reply)

    assert strip(our) == strip(ref)


def test_acl_restricted_user_inside_scripts(d):
    from support import RawConn

    d("ACL", "SETUSER", "scriptuser", "on", ">pw", "+@all", "-set", "~k*", "&*")
    conns = [
        RawConn("127.0.0.1", d.ref.sock.getpeername()[1]),
        RawConn("127.0.0.1", d.our.sock.getpeername()[1]),
    ]
    try:
        for script in [
            "return redis.call('set', 'k', 1)",
            "return redis.pcall('set', 'k', 1)",
            "return redis.call('get', 'other')",
            "return redis.pcall('get', 'k1')",
            "return redis.acl_check_cmd('set', 'k', 1)",
            "return redis.acl_check_cmd('get', 'k')",
            "return redis.acl_check_cmd('get', 'zzz')",
        ]:
            outs = []
            for c in conns:
                assert c.call("AUTH", "scriptuser", "pw") == b"+OK\r\n"
                outs.append(c.call("EVAL", script, "0"))
            assert outs[1] == outs[0], script
    finally:
        for c in conns:
            c.close()
        d("ACL", "DELUSER", "scriptuser")


def test_client_tracking_remembers_script_keys(diff):
    from support import RawConn

    d = diff
    conns = [
        RawConn("127.0.0.1", d.ref.sock.getpeername()[1]),
        RawConn("127.0.0.1", d.our.sock.getpeername()[1]),
    ]
    try:
        for c in conns:
            c.call("HELLO", "3")
            c.call("CLIENT", "TRACKING", "on")
        d("SET", "tk", "1")
        ref = conns[0].call("EVAL", "return redis.call('get', KEYS[1])", "1", "tk")
        our = conns[1].call("EVAL", "return redis.call('get', KEYS[1])", "1", "tk")
        assert our == ref
        d("SET", "tk", "2")
        assert conns[1].read_reply() == conns[0].read_reply()
    finally:
        for c in conns:
            c.close()


# ---------------------------------------------- cases from Redis's scripting.tcl
@pytest.mark.parametrize("client_proto", [2, 3])
@pytest.mark.parametrize("lua_resp", [2, 3])
@pytest.mark.parametrize(
    "kind",
    [
        "bignum",
        "map",
        "set",
        "double",
        "null",
        "verbatim",
        "true",
        "false",
        "attrib",
        "array",
        "integer",
        "bulk",
        "status",
        "error",
    ],
)
def test_debug_protocol_through_scripts(request, client_proto, lua_resp, kind):
    dd = request.getfixturevalue("diff3" if client_proto == 3 else "diff")
    dd(
        "EVAL",
        "redis.setresp(%d) return redis.call('debug', 'protocol', '%s')" % (lua_resp, kind),
        "0",
    )
    dd(
        "EVAL",
        "redis.setresp(%d) return redis.pcall('debug', 'protocol', '%s')" % (lua_resp, kind),
        "0",
    )
    dd(
        "EVAL",
        "redis.setresp(%d) local r = redis.call('debug', 'protocol', '%s') "
        "return type(r)" % (lua_resp, kind),
        "0",
    )


def test_scripting_tcl_cases(d):
    d.run("DEL x myset mylist foo key l")
    for script, keys in [
        ("return _G", ()),
        ("local a = {}; setmetatable(a,{__index=function() foo() end}) return a", ()),
        (
            "local a = {}; setmetatable(a,{__index=function() redis.call('set', 'x', '1') end}) "
            "return a",
            (),
        ),
        (
            "local i local x={} redis.call('del','mylist') for i=1,100 do table.insert(x,i) end "
            "redis.call('rpush','mylist',unpack(x)) return redis.call('lrange','mylist',0,-1)",
            ("mylist",),
        ),
        (
            "local value = 9007199254740991 redis.call('set','foo',value) "
            "return redis.call('get','foo')",
            ("foo",),
        ),
        (
            "redis.call('set', 'key', '12039611435714932082') return redis.call('get', 'key')",
            ("key",),
        ),
        (
            "local a = {} for i=1,7990 do a[i] = 1 end return redis.call('lpush', 'l', unpack(a))",
            (),
        ),
        ("return loadstring(string.dump(function() return 1 end))()", ()),
        (
            "for i = 0, 10 do redis.call('SET', 'a{t}', '1') redis.call('MGET', 'a{t}', 'b{t}', "
            "'c{t}') redis.call('EXPIRE', 'a{t}', 0) redis.call('GET', 'a{t}') "
            "redis.call('MGET', 'a{t}', 'b{t}', 'c{t}') end",
            ("a{t}", "b{t}", "c{t}"),
        ),
        ("return 'hello' -- trailing comment", ()),
    ]:
        ev(d, script, keys=keys)
    d.run("""
    DEL myset
    SADD myset 1 2 3 4 10
    """)
    ev(d, "return redis.call('sort',KEYS[1],'desc')", keys=("myset",))
    d.run("""
    DEL myset
    SADD myset a b c d e f g h i l m n o p q r s t u v z aa aaa azz
    """)
    ev(d, "return redis.call('sort',KEYS[1],'by','_')", keys=("myset",))
    d.run("""
    DEL myset
    SADD myset a b c
    """)
    ev(d, "return redis.call('sort',KEYS[1],'by','_','get','#','get','_:*')", keys=("myset",))
    ev(d, "math.randomseed(ARGV[1]); return tostring(math.random())", "10")
    ev(d, "math.randomseed(ARGV[1]); return tostring(math.random())", "20")
    d.run("DEL x myset mylist foo key l a{t}")


def _stats(conn, names):
    info = conn.call("INFO", "all").decode()
    out = {}
    for line in info.split("\r\n"):
        if line.startswith("errorstat_") or line.startswith("total_error_replies"):
            out[line.split(":")[0]] = line.split(":")[1]
        for n in names:
            if line.startswith("cmdstat_%s:" % n):
                fields = dict(f.split("=") for f in line.split(":", 1)[1].split(","))
                out[n] = (fields["calls"], fields["rejected_calls"], fields["failed_calls"])
    return out


@pytest.mark.parametrize(
    "cmd",
    [
        ("EVAL", "return redis.call('select',99)", "0"),
        ("EVAL", "local t = redis.pcall('select',99) return t['err']", "0"),
        ("EVAL_RO", "return redis.call('set','x','y')", "1", "x"),
        ("EVAL_RO", "local t = redis.pcall('set','x','y') return t['err']", "1", "x"),
        (
            "EVAL",
            "return redis.call('GEOADD', 'Sicily', '13.361389', '38.115556', 'Palermo')",
            "1",
            "x",
        ),
        ("EVAL", "return redis.pcall('nosuch')", "0"),
        ("EVAL", "return redis.error_reply('MY err')", "0"),
        ("EVAL", "error('boom')", "0"),
        ("EVAL", "return {1, redis.pcall('select', 99), {err='X y'}}", "0"),
        ("EVAL", "return redis.call('nosuch')", "0"),
        ("EVAL", "x x", "0"),
        ("EVALSHA", "0000000000000000000000000000000000000000", "0"),
    ],
)
def test_consistent_error_reporting(d, cmd):
    """scripting.tcl's "Consistent eval error reporting": errorstats and commandstats."""
    d("SET", "Sicily", "1")
    d("CONFIG", "RESETSTAT")
    d(*cmd)
    names = ["eval", "eval_ro", "evalsha", "set", "select", "geoadd"]
    assert _stats(d.our, names) == _stats(d.ref, names)


# ---------------------------------------------------------------- maxmemory
@pytest.fixture
def mm(d, shared_vermilion):
    """Both servers over ``maxmemory 1`` (noeviction: every check fails), reset after."""
    from keyspace_helpers import config_set

    d("CONFIG", "RESETSTAT")
    config_set(d, shared_vermilion, "maxmemory", "0")
    yield d
    config_set(d, shared_vermilion, "maxmemory", "0")
    d.run("DEL oomk oomk2 oomk3 oomx")


OOM_SCRIPTS = [
    # no shebang: refused at the first write that may grow memory (scriptVerifyOOM)
    "redis.call('set','oomk','v')",
    "return redis.pcall('set','oomk','v')",
    "redis.call('get','oomk') return redis.call('set','oomk','v')",
    "return {pcall(redis.call,'set','oomk','v'), redis.call('get','oomk')}",
    "return redis.call('del','oomk')",
    "return redis.call('expire','oomk', 100)",
    # a write first (not denyoom): the script may go on writing
    "redis.call('del','oomk2') return redis.call('set','oomk2','v')",
    "redis.call('del','oomk2') return redis.call('get','oomk2')",
    "return 5",
    # declared flags: refused up front unless allow-oom or no-writes
    "#!lua\nreturn 1",
    "#!lua flags=allow-stale\nreturn 1",
    "#!lua flags=no-writes\nreturn 1",
    "#!lua flags=no-writes\nreturn redis.call('get','oomk')",
    "#!lua flags=no-writes\nreturn redis.call('set','oomk','v')",
    "#!lua flags=allow-oom\nreturn redis.call('set','oomk3','v')",
    "#!lua flags=allow-oom\nreturn redis.call('lpush','oomk3','v')",
    "#!lua flags=allow-oom,no-writes\nreturn redis.call('get','oomk3')",
    "#!lua flags=bogus\nreturn 1",
]


@pytest.mark.parametrize("script", OOM_SCRIPTS)
@pytest.mark.parametrize("cmd", ["EVAL", "EVAL_RO", "EVALSHA", "EVALSHA_RO"])
def test_maxmemory_scripts(mm, shared_vermilion, script, cmd):
    """script.c's OOM rules against redis-server over maxmemory 1, with the
    errorstats and commandstats they leave."""
    from keyspace_helpers import config_set

    mm("SET", "oomk", "1")
    if cmd.startswith("EVALSHA"):
        mm("SCRIPT", "LOAD", script)
        body = __import__("hashlib").sha1(script.encode()).hexdigest()
    else:
        body = script
    mm("CONFIG", "RESETSTAT")
    config_set(mm, shared_vermilion, "maxmemory", "1")
    mm(cmd, body, "0")
    mm(cmd, body, "0")
    names = ["eval", "eval_ro", "evalsha", "evalsha_ro", "set", "get", "del", "lpush", "expire"]
    assert _stats(mm.our, names) == _stats(mm.ref, names)
    config_set(mm, shared_vermilion, "maxmemory", "0")
    mm("GET", "oomk")


def test_maxmemory_scripts_in_multi(mm, real_redis, shared_vermilion):
    """EXEC over maxmemory: refused when it queued a script that declared flags
    (neither allow-oom nor no-writes); a script the up-front check could not see
    (EVALSHA queued before SCRIPT LOAD) is refused when it starts."""
    from support import RawConn

    others = [RawConn("127.0.0.1", real_redis.port), RawConn("127.0.0.1", shared_vermilion.port)]

    def other(*args):
        replies = [o.call(*args) for o in others]
        assert replies[0] == replies[1]

    sha = __import__("hashlib").sha1(b"#!lua\nreturn 1").hexdigest()
    cases = [
        [("EVALSHA", sha, "0"), ("GET", "oomx")],
        [("EVAL", "#!lua\nreturn 1", "0"), ("EVAL", "return redis.call('set','oomx','y')", "0")],
        [
            ("EVAL", "return redis.call('set','oomx','y')", "0"),
            ("EVAL", "#!lua flags=no-writes\nreturn 1", "0"),
        ],
        [
            ("EVAL", "#!lua flags=allow-oom\nreturn redis.call('set','oomx','y')", "0"),
            ("EVAL", "return redis.call('set','oomx','y')", "0"),
        ],
    ]
    try:
        for queued in cases:
            mm("SCRIPT", "FLUSH")
            mm("MULTI")
            for q in queued:
                mm(*q)
            other("SCRIPT", "LOAD", "#!lua\nreturn 1")
            other("CONFIG", "SET", "maxmemory", "1")
            mm("EXEC")
            other("CONFIG", "SET", "maxmemory", "0")
            mm("GET", "oomx")
        # queued while over the limit: every command is refused, EXEC aborts
        other("CONFIG", "SET", "maxmemory", "1")
        mm("MULTI")
        mm("EVAL", "#!lua flags=no-writes\nreturn 1", "0")
        mm("EXEC")
    finally:
        for o in others:
            o.call("CONFIG", "SET", "maxmemory", "0")
            o.close()
    names = ["eval", "evalsha", "exec", "set", "get"]
    assert _stats(mm.our, names) == _stats(mm.ref, names)
