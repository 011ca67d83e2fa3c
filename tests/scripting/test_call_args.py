"""redis.call / redis.pcall with many arguments, and the line their errors name.

lupa's C closure for a Python callable takes at most 7997 arguments and builds
their tuple quadratically, so the API functions are Lua functions that pass
many arguments as one table (prelude.lua, api_call); user code does not
tail-call them (keep_frames), so `return redis.call(...)` errors still name the
caller's line. Compared byte for byte with redis-server.
"""

import time

import pytest

from vermilion.scripting import AVAILABLE

pytestmark = pytest.mark.skipif(
    not AVAILABLE, reason="Lua scripting needs the optional 'lupa' package"
)

MASSIVE = """local a = {}
for i=1,7999 do
    a[i] = 1
end
return redis.call("lpush", "l", unpack(a))"""


@pytest.fixture
def d(diff):
    diff("SCRIPT", "FLUSH")
    diff("FUNCTION", "FLUSH")
    return diff


def test_unpack_with_massive_arguments(d):
    d("EVAL", MASSIVE, "0")
    d("LLEN", "l")
    d("EVAL", MASSIVE.replace("redis.call", "redis.pcall"), "0")
    d("LLEN", "l")


@pytest.mark.parametrize("n", [79, 80, 81, 200, 7997, 7998, 7999])
def test_argument_counts_around_the_limits(d, n):
    script = (
        "local a = {} for i = 1, %d do a[i] = 'v' .. i end "
        "return redis.call('rpush', KEYS[1], unpack(a))" % n
    )
    d("EVAL", script, "1", "k")
    d("LRANGE", "k", "0", "2")
    d("LRANGE", "k", "-2", "-1")


@pytest.mark.parametrize(
    "script",
    [
        # a nil or a table among many arguments: the error names its kind
        "local a = {} for i = 1, 500 do a[i] = 'x' end a[300] = nil "
        "return redis.call('rpush', 'k', unpack(a, 1, 500))",
        "local a = {} for i = 1, 500 do a[i] = i end a[7] = {} "
        "return redis.pcall('rpush', 'k', unpack(a))",
        "local a = {} for i = 1, 500 do a[i] = i + 0.5 end "
        "return redis.call('rpush', 'k', unpack(a))",
        "local a = {} for i = 1, 300 do a[i] = 'x' end return redis.call('get', unpack(a))",
        "local a = {} for i = 1, 300 do a[i] = 'x' end return redis.pcall('get', unpack(a))",
    ],
)
def test_many_arguments_errors(d, script):
    d("EVAL", script, "0")
    d("LRANGE", "k", "0", "-1")


ERROR_LINES = [
    "return redis.call('incr', 'str')",
    "\n\nreturn redis.call('incr', 'str')\n\n",
    "local x = redis.call('incr', 'str')\nreturn x",
    "local function f()\n  return redis.call('incr', 'str')\nend\nlocal y = f()\nreturn y",
    "local function f()\n  return redis.call('nosuchcommand')\nend\nreturn f()",
    "if true then\n  return redis.call('incr', 'str')\nend\nreturn 1",
    "local a = {} for i = 1, 200 do a[i] = 'x' end\nreturn redis.call('get', unpack(a))",
    "local t = {call = function() return 1 end}\nreturn t.call()",
    "return redis.pcall('incr', 'str')",
    "local ok, e = pcall(redis.call, 'incr', 'str')\nreturn e",
]


@pytest.mark.parametrize("script", ERROR_LINES)
def test_error_names_the_callers_line(d, script):
    d("SET", "str", "abc")
    d("EVAL", script, "0")


@pytest.mark.parametrize("body", ERROR_LINES[:7])
def test_error_names_the_callers_line_in_a_function(d, body):
    d("SET", "str", "abc")
    code = "#!lua name=lib\nredis.register_function('f', function(keys, args)\n%s\nend)" % body
    d("FUNCTION", "LOAD", "REPLACE", code)
    d("FCALL", "f", "0")


BUILTIN_ERRORS = [
    "return unpack({}, 1, 1e8)",
    "return unpack()",
    "return setmetatable(1, {})",
    "return getmetatable()",
    "return table.insert(1, 2)",
    "return coroutine.create(1)",
    "return coroutine.wrap(redis.call)",
    "return rawget(1)",
    "return rawset({})",
    "return next()",
    "return pairs(nil)",
    "return loadstring()",
    "return string.find(1)",
    "return string.gsub('x', 'x', true)",
    "return math.random(1, 2, 3)",
    "local x = 1\nreturn collectgarbage('bogus')",
]


@pytest.mark.parametrize("body", BUILTIN_ERRORS)
def test_builtin_errors_name_the_line(d, body):
    """The sandbox's checked builtins are Lua functions (Redis's are C): a
    tail call of one keeps the caller's frame too, in EVAL and in FCALL."""
    d("EVAL", body, "0")
    d("EVAL", "local y = 0\n" + body, "0")
    code = "#!lua name=lib\nredis.register_function('f', function(keys, args)\n%s\nend)" % body
    d("FUNCTION", "LOAD", "REPLACE", code)
    d("FCALL", "f", "0")


def test_tail_recursion_stays_a_tail_call(d):
    # only tail calls of a `.call`/`.pcall` field are made plain calls: a
    # tail-recursive function must still run in constant stack
    script = (
        "local function loop(n) if n == 0 then return 'done' end return loop(n - 1) end "
        "return loop(100000)"
    )
    d("EVAL", script, "0")


def test_many_arguments_cost_linear_time(shared_vermilion):
    """lupa builds a callback's argument tuple by concatenation (quadratic):
    7000 arguments must cost about ten times what 700 do, not fifty."""
    import redis

    c = redis.Redis(port=shared_vermilion.port)

    def best(n):
        args = [str(i) for i in range(n)]
        script = "return redis.call('rpush', 'cost', unpack(ARGV))"
        times = []
        for _ in range(7):
            c.delete("cost")
            t = time.perf_counter()
            c.eval(script, 0, *args)
            times.append(time.perf_counter() - t)
        return min(times)

    small, large = best(700), best(7000)
    c.close()
    # (linear: about 8 times; the quadratic tuple: 30 to 75 times)
    assert large < 20 * small, (small, large)
