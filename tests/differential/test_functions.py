"""FUNCTION and FCALL against redis-server, byte for byte."""

import pytest

from vermilion.scripting import AVAILABLE

pytestmark = pytest.mark.skipif(
    not AVAILABLE, reason="Lua scripting needs the optional 'lupa' package"
)


@pytest.fixture
def d(diff):
    diff("FUNCTION", "FLUSH")
    yield diff
    diff("FUNCTION", "FLUSH")


@pytest.fixture
def d3(diff3):
    diff3("FUNCTION", "FLUSH")
    yield diff3
    diff3("FUNCTION", "FLUSH")


def lib(name, body):
    return "#!lua name=%s\n%s" % (name, body)


LIB1 = lib(
    "lib1",
    """
redis.register_function('f1', function(keys, args) return {keys[1], args[1], #keys, #args} end)
redis.register_function{function_name='ro', callback=function(keys, args)
  return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}
redis.register_function('w', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function('err', function(keys, args) return redis.call('incr', keys[1]) end)
redis.register_function('boom', function() error('boom') end)
redis.register_function('glob', function() return x end)
redis.register_function('setg', function() x = 1 end)
redis.register_function('libs', function() return {string.format('%d', 5), cjson.encode({1}),
  math.floor(2.5), type(KEYS), type(redis.register_function), type(redis.setresp)} end)
""",
)


# function order inside a library is Redis's dict order (hash-seeded), so
# FUNCTION LIST is compared on one-function libraries only
SINGLE = lib(
    "lib1",
    """
redis.register_function{function_name='only', callback=function(keys, args)
  return redis.call('get', keys[1]) end, flags={'no-writes', 'allow-oom'}, description='d e'}
""",
)


def test_load_and_call(d):
    d("FUNCTION", "LOAD", LIB1)
    d("SET", "k", "abc")
    for cmd in [
        ("FCALL", "f1", "1", "k", "a"),
        ("FCALL", "F1", "1", "k", "a"),
        ("FCALL", "f1", "0"),
        ("FCALL", "f2", "0"),
        ("FCALL", "f1", "x"),
        ("FCALL", "f1", "-1"),
        ("FCALL", "f1", "3", "a"),
        ("FCALL", "f1", "99999999999999999999"),
        ("FCALL", "ro", "1", "k"),
        ("FCALL_RO", "ro", "1", "k"),
        ("FCALL_RO", "w", "1", "k", "v"),
        ("FCALL", "w", "1", "k", "v"),
        ("FCALL", "err", "1", "k"),
        ("FCALL", "boom", "0"),
        ("FCALL", "glob", "0"),
        ("FCALL", "setg", "0"),
        ("FCALL", "libs", "0"),
        ("FCALL_RO", "nosuch", "0"),
        ("FCALL", "f1"),
        ("GET", "k"),
    ]:
        d(*cmd)


def test_read_only_functions(d):
    d(
        "FUNCTION",
        "LOAD",
        lib(
            "rolib",
            """
redis.register_function{function_name='rw', callback=function(keys)
  return redis.call('set', keys[1], 'x') end, flags={'no-writes'}}
redis.register_function{function_name='rp', callback=function(keys)
  return redis.pcall('set', keys[1], 'x') end, flags={'no-writes'}}
redis.register_function{function_name='pub', callback=function(keys)
  return redis.call('publish', 'c', 'x') end, flags={'no-writes'}}
redis.register_function{function_name='all', callback=function(keys)
  return redis.call('set', keys[1], 'y') end,
  flags={'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}}
""",
        ),
    )
    for cmd in [
        ("FCALL", "rw", "1", "k"),
        ("FCALL_RO", "rw", "1", "k"),
        ("FCALL", "rp", "1", "k"),
        ("FCALL_RO", "pub", "0"),
        ("FCALL", "all", "1", "k"),
        ("FCALL_RO", "all", "1", "k"),
        ("GET", "k"),
    ]:
        d(*cmd)


LOAD_ERRORS = [
    "x",
    "#!lua",
    "#!lua\n",
    "#!lua name=\n",
    "#!lua name=a-b\n",
    "#!lua name=a name=b\n",
    "#!lua foo=a\n",
    "#!lua NAME=abc\n",
    "#!py name=abc\n",
    "#!lua name=abc2\nreturn 1",
    "#!lua name=abc3\nx x",
    "#!lua name=abc3\nerror('boom')",
    "#!lua name=abc3\nstring.format('x')",
    "#!lua name=abc3\nredis.call('ping')",
    "#!lua name=abc3\nredis.register_function('g1', function() return 1 end)\n"
    "redis.register_function('g1', function() return 1 end)",
    "#!lua name=abc3\nredis.register_function('g-1', function() return 1 end)",
    "#!lua name=abc3\nredis.register_function('', function() return 1 end)",
    "#!lua name=abc3\nredis.register_function()",
    "#!lua name=abc3\nredis.register_function(1,2,3)",
    "#!lua name=abc3\nredis.register_function('x', 1)",
    "#!lua name=abc3\nredis.register_function({}, function() end)",
    "#!lua name=abc3\nredis.register_function(1)",
    "#!lua name=abc3\nredis.register_function({})",
    "#!lua name=abc3\nredis.register_function({function_name='x'})",
    "#!lua name=abc3\nredis.register_function({callback=function() end})",
    "#!lua name=abc3\nredis.register_function({function_name='x', callback=function() end, "
    "flags={'foo'}})",
    "#!lua name=abc3\nredis.register_function({function_name='x', callback=function() end, "
    "flags='no-writes'})",
    "#!lua name=abc3\nredis.register_function({function_name='x', callback=function() end, foo=1})",
    "#!lua name=abc3\nredis.register_function({function_name='x', callback=1})",
    "#!lua name=abc3\nredis.register_function({function_name={}, callback=function() end})",
    "#!lua name=abc3\nredis.register_function({function_name='x', description={}, "
    "callback=function() end})",
    "#!lua name=abc3\nredis.register_function({[1]='x'})",
    "#!lua name=abc3\nredis.register_function({[true]='x'})",
    "#!lua name=abc3\nredis.register_function({function_name='x', callback=function() end, "
    "flags={{}}})",
    "#!lua name=abc3\nlocal x = redis.setresp",
    "#!lua name=abc3\nlocal x = KEYS",
    "#!lua name=abc3\nx = 1",
    "#!lua name=abc3\nredis.log(redis.LOG_WARNING, 'loading')\n"
    "redis.register_function('lg', function() return redis.REDIS_VERSION end)",
    "#!lua name=abc3\nredis.register_function('lf', function() return 1 end)\nerror('late')",
    "#!lua name=abc3 \"unbalanced\n",
    "#!lua name=lib1\nredis.register_function('other', function() return 1 end)",
    "#!lua name=lib9\nredis.register_function('f1', function() return 1 end)",
    "#!lua name=lib9\nredis.register_function('F1', function() return 1 end)",
    "#!LUA name=upper\nredis.register_function('up', function() return 1 end)",
    "#!lua name=numname\nredis.register_function{function_name=12, callback=function() "
    "return 1 end, description=3}",
    "#!lua name=casekeys\nredis.register_function{FUNCTION_NAME='ck', CallBack=function() "
    "return 1 end}",
]


@pytest.mark.parametrize("code", LOAD_ERRORS)
def test_load_errors_and_edge_cases(d, code):
    d("FUNCTION", "LOAD", "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)")
    d("FUNCTION", "LOAD", code)
    d("FUNCTION", "LOAD", "REPLACE", code)
    d("FUNCTION", "STATS")


def test_load_options(d):
    code = lib("opt", "redis.register_function('o', function() return 1 end)")
    for args in [
        ("LOAD", code),
        ("LOAD", code),
        ("LOAD", "REPLACE", code),
        ("LOAD", "replace", "REPLACE", code),
        ("LOAD", "foo", code),
        ("LOAD", "replace"),
        ("LOAD", "replace", "replace"),
        ("LOAD",),
        ("LOAD", "REPLACE", "x", code),
    ]:
        d("FUNCTION", *args)


def test_list_delete_flush_stats(d):
    d("FUNCTION", "LOAD", SINGLE)
    for args in [
        ("LIST",),
        ("LIST", "WITHCODE"),
        ("LIST", "LIBRARYNAME", "lib*"),
        ("LIST", "libraryname", "nomatch"),
        ("LIST", "LIBRARYNAME"),
        ("LIST", "WITHCODE", "WITHCODE"),
        ("LIST", "foo"),
        ("LIST", "LIBRARYNAME", "lib1", "LIBRARYNAME", "x"),
        ("LIST", "withcode", "libraryname", "lib1"),
        ("STATS",),
        ("STATS", "x"),
        ("DELETE", "nosuch"),
        ("DELETE", "LIB1"),
        ("DELETE", "lib1"),
        ("DELETE", "lib1"),
        ("DELETE",),
        ("LIST",),
        ("STATS",),
        ("FLUSH", "x"),
        ("FLUSH", "sync", "x"),
        ("FLUSH", "ASYNC"),
        ("FLUSH", "sync"),
        ("FLUSH",),
        ("HELP",),
        ("HELP", "x"),
        ("KILL",),
        ("KILL", "x"),
        ("NOSUCH",),
        ("DUMP",),
        ("DUMP", "x"),
        ("RESTORE",),
        ("RESTORE", "x"),
        ("RESTORE", "x", "y"),
        ("RESTORE", "x", "y", "z"),
    ]:
        d("FUNCTION", *args)
    d("FUNCTION")
    d("FCALL")
    d("FCALL_RO", "x")


def test_list_resp3(d3):
    d3("FUNCTION", "LOAD", SINGLE)
    d3("FUNCTION", "LIST")
    d3("FUNCTION", "LIST", "WITHCODE")
    d3("FUNCTION", "STATS")
    d3("FUNCTION", "LOAD", LIB1.replace("lib1", "lib2"))
    d3("FCALL", "libs", "0")


def test_flags_listed_in_order(d):
    d(
        "FUNCTION",
        "LOAD",
        lib(
            "fl",
            """
redis.register_function{function_name='a', callback=function() return 1 end,
  flags={'allow-cross-slot-keys', 'no-cluster', 'allow-stale', 'allow-oom', 'no-writes'}}
""",
        ),
    )
    d("FUNCTION", "LIST")


def test_dump_restore(d):
    code = lib("dumped", "redis.register_function('df', function() return 'restored' end)")
    d("FUNCTION", "LOAD", code)
    dump = d("FUNCTION", "DUMP")
    payload = dump.split(b"\r\n", 1)[1][:-2]
    d("FUNCTION", "RESTORE", payload)
    d("FUNCTION", "RESTORE", payload, "APPEND")
    d("FUNCTION", "RESTORE", payload, "REPLACE")
    d("FCALL", "df", "0")
    d("FUNCTION", "FLUSH")
    d("FUNCTION", "RESTORE", payload)
    d("FCALL", "df", "0")
    d("FUNCTION", "LOAD", lib("other", "redis.register_function('df2', function() return 2 end)"))
    d("FUNCTION", "RESTORE", payload, "FLUSH")
    d("FUNCTION", "LIST")
    d("FUNCTION", "RESTORE", payload, "BAD")
    d("FUNCTION", "RESTORE", payload[:-1] + bytes([payload[-1] ^ 1]))
    d("FUNCTION", "RESTORE", payload[:5])
    # a function name clash with another library
    d("FUNCTION", "FLUSH")
    d("FUNCTION", "LOAD", lib("clash", "redis.register_function('df', function() return 3 end)"))
    d("FUNCTION", "RESTORE", payload)
    d("FUNCTION", "RESTORE", payload, "REPLACE")
    d("FUNCTION", "LIST")
    # an empty dump
    d("FUNCTION", "FLUSH")
    empty = d("FUNCTION", "DUMP").split(b"\r\n", 1)[1][:-2]
    d("FUNCTION", "RESTORE", empty)
    d("FUNCTION", "LIST")


def test_restore_bad_payloads(d):
    from vermilion.persistence.crc64 import crc64

    def payload(body):
        body = body + (10).to_bytes(2, "little")
        return body + crc64(0, body).to_bytes(8, "little")

    good = lib("pl", "redis.register_function('plf', function() return 1 end)").encode()
    for body in [
        b"\x00",
        b"\xf5",
        b"\xf5\x05abc",
        bytes([0xF5, len(good)]) + good,
        bytes([0xF5, len(good)]) + good + bytes([0xF5, len(good)]) + good,
        bytes([0xF5, 3]) + b"abc",
        b"\x01\x02",
        bytes([0xF6, 2])
        + b"pl"
        + bytes([3])
        + b"LUA"
        + b"\x00"
        + bytes([50])
        + b"redis.register_function('old', function() return 1 end)"[:50],
    ]:
        d("FUNCTION", "FLUSH")
        d("FUNCTION", "RESTORE", payload(body))
        d("FUNCTION", "LIST")
    d("FUNCTION", "RESTORE", payload(b"")[:-1])
    newer = b"\xf5" + (99).to_bytes(2, "little")
    d("FUNCTION", "RESTORE", newer + crc64(0, newer).to_bytes(8, "little"))


def test_function_runtime_errors_name_the_function(d):
    d(
        "FUNCTION",
        "LOAD",
        lib(
            "errs",
            """
redis.register_function('e1', function() error('x') end)
redis.register_function('e2', function() return redis.call('nosuch') end)
redis.register_function('e3', function()
  local t = nil
  return t.x
end)
redis.register_function('e4', function() return redis.error_reply('MY err') end)
redis.register_function('e5', function() return {err='plain'} end)
""",
        ),
    )
    for f in ("e1", "e2", "e3", "e4", "e5"):
        d("FCALL", f, "0")


def test_fcall_in_multi_and_keys(d):
    d("FUNCTION", "LOAD", LIB1)
    d("MULTI")
    d("FCALL", "w", "1", "mk", "mv")
    d("FCALL", "f1", "2", "a", "b", "c")
    d("FCALL", "nosuch", "0")
    d("EXEC")
    d("GET", "mk")


def test_functions_share_globals_protection(d):
    d(
        "FUNCTION",
        "LOAD",
        lib(
            "gl",
            """
local counter = 0
redis.register_function('count', function() counter = counter + 1 return counter end)
redis.register_function('g', function() return type(_G) end)
redis.register_function('loadstr', function() return loadstring('return 7')() end)
redis.register_function('resp3', function(keys)
  redis.setresp(3)
  return redis.call('hgetall', keys[1])
end)
""",
        ),
    )
    d("HSET", "h", "a", "1")
    for cmd in [
        ("FCALL", "count", "0"),
        ("FCALL", "count", "0"),
        ("FCALL", "g", "0"),
        ("FCALL", "loadstr", "0"),
        ("FCALL", "resp3", "1", "h"),
    ]:
        d(*cmd)


# ---------------------------------------------- cases from Redis's functions.tcl
def test_functions_tcl_cases(d):
    d(
        "FUNCTION",
        "LOAD",
        """#!lua name=lib1
            local lib = redis
            lib.register_function('f1', function ()
                lib.redis = redis
                lib.math = math
                return {ok='OK'}
            end)

            lib.register_function('f2', function ()
                lib.register_function('f1', function ()
                    lib.redis = redis
                    lib.math = math
                    return {ok='OK'}
                end)
            end)
        """,
    )
    d("FCALL", "f1", "0")
    d("FCALL", "f2", "0")
    d("FUNCTION", "LOAD", "#!lua name=lib2\n            redis.math.random()\n")
    d("FUNCTION", "LOAD", "#!lua name=lib2\n            redis.redis.call('ping')\n")
    d("FUNCTION", "FLUSH")
    d(
        "FUNCTION",
        "LOAD",
        """#!lua name=lib
            redis.register_function(
                'f1',
                function(keys, args)
                    redis.register_function(
                        'f2',
                        function(key, args)
                            return 2
                        end
                    )
                    return 1
                end
            )
        """,
    )
    d("FCALL", "f1", "0")
    d("FUNCTION", "FLUSH")
    for code in [
        "#! name=test\n redis.register_function('foo', function() return 1 end)",
        "#!lua name=\"foo\"\n redis.register_function('foo', function() return 1 end)",
        "#!lua name=test1\n redis.register_function('f1', function()\n"
        " mt = getmetatable(_G)\n original_globals = mt.__index\n"
        " original_globals['redis'] = function() return 1 end\n end)",
        "#!lua name=test2\n mt = getmetatable(_G)\n",
        "#!lua name=test3\n return math.random()\n",
        "#!lua name=test3\n return redis.setresp(3)\n",
        "#!lua name=test3\n return redis.set_repl(redis.REPL_NONE)\n",
        "#!lua name=test4\n local function ping() return redis.call('ping') end\n"
        " redis.register_function('p', function(keys, args) return ping() end)",
        "#!lua name=test5\nredis.register_function('v', function() "
        "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM} end)\n"
        "local v = redis.REDIS_VERSION",
    ]:
        d("FUNCTION", "LOAD", code)
    d("FCALL", "f1", "0")
    d("FCALL", "p", "0")
    d("FCALL", "v", "0")
    d("FCALL", "foo", "0")


# ---------------------------------------------------------------- maxmemory
OOM_LIB = lib(
    "oomlib",
    """
redis.register_function('w', function(k, a) return redis.call('set', k[1], 'v') end)
redis.register_function('dw', function(k, a) redis.call('del', k[1]) return redis.call('set', k[1], 'v') end)
redis.register_function('pw', function(k, a) return redis.pcall('lpush', k[1], 'v') end)
redis.register_function{function_name='ro', callback=function(k, a)
  return redis.call('get', k[1]) end, flags={'no-writes'}}
redis.register_function{function_name='rw', callback=function(k, a)
  return redis.call('set', k[1], 'v') end, flags={'no-writes'}}
redis.register_function{function_name='oom', callback=function(k, a)
  return redis.call('set', k[1], 'v') end, flags={'allow-oom'}}
redis.register_function{function_name='stale', callback=function(k, a)
  return 1 end, flags={'allow-stale'}}
""",
)


@pytest.mark.parametrize("fn", ["w", "dw", "pw", "ro", "rw", "oom", "stale", "nosuch"])
@pytest.mark.parametrize("cmd", ["FCALL", "FCALL_RO"])
def test_fcall_over_maxmemory(d, shared_vermilion, cmd, fn):
    """Functions always declare flags: over maxmemory 1 those without allow-oom or
    no-writes are refused before they run, like Redis; errorstats alike."""
    from keyspace_helpers import config_set

    d("FUNCTION", "LOAD", OOM_LIB)
    d("SET", "fk", "1")
    d("CONFIG", "RESETSTAT")
    config_set(d, shared_vermilion, "maxmemory", "1")
    try:
        d(cmd, fn, "1", "fk")
        d(cmd, fn, "1", "fk")
        d("FUNCTION", "LOAD", "REPLACE", OOM_LIB)
        d("FUNCTION", "DELETE", "oomlib")  # not denyoom
        d(cmd, fn, "1", "fk")
        info = [conn.call("INFO", "errorstats") for conn in (d.ref, d.our)]
        assert info[0] == info[1]
    finally:
        config_set(d, shared_vermilion, "maxmemory", "0")
    d("GET", "fk")
    d("DEL", "fk")


# ---------------------------------------------------------------- DEBUG RELOAD
RELOAD_LIBS = [
    lib("rl1", "redis.register_function('rf1', function() return 1 end)"),
    lib("rl2", "redis.register_function('rf2', function() return 2 end)"),
    lib("rl1", "redis.register_function('rf1b', function() return 11 end)"),
]


@pytest.fixture
def pair(tmp_path):
    """A redis-server and a Vermilion of their own (DEBUG RELOAD writes dump.rdb)."""
    from support import Differ, RealRedis, REDIS_SERVER
    from vermilion.embed import start_server

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    ref = RealRedis()
    srv = start_server(dir=str(tmp_path), enable_debug_command="yes")
    d = Differ(ref.port, srv.port)
    yield d
    d.close()
    srv.stop()
    ref.stop()


def _libs(d):
    for name in ("rl1", "rl2"):
        d("FUNCTION", "LIST", "LIBRARYNAME", name)
    for fn in ("rf1", "rf1b", "rf2"):
        d("FCALL", fn, "0")


def test_debug_reload_drops_functions_loaded_after_save(pair):
    """emptyData before loading the dump: a library loaded after the last save is
    gone after DEBUG RELOAD NOSAVE (and kept by a plain DEBUG RELOAD, which saves)."""
    d = pair
    d("FUNCTION", "LOAD", RELOAD_LIBS[0])
    d("SET", "a", "1")
    d("SAVE")
    d("FUNCTION", "LOAD", RELOAD_LIBS[1])
    d("SET", "b", "2")
    d("DEBUG", "RELOAD", "NOSAVE")
    _libs(d)
    d("MGET", "a", "b")
    # MERGE without NOFLUSH still empties first
    d("FUNCTION", "LOAD", RELOAD_LIBS[1])
    d("DEBUG", "RELOAD", "MERGE", "NOSAVE")
    _libs(d)
    # a plain DEBUG RELOAD saves first: both survive
    d("FUNCTION", "LOAD", RELOAD_LIBS[1])
    d("DEBUG", "RELOAD")
    _libs(d)
    d("FUNCTION", "DELETE", "rl2")
    d("SAVE")


def test_debug_reload_noflush_keeps_functions(pair):
    """NOFLUSH keeps the libraries in memory: the dump's library of the same name
    fails the load (keys after it are not loaded) unless MERGE replaces it."""
    d = pair
    d("FUNCTION", "LOAD", RELOAD_LIBS[0])
    d("SET", "a", "1")
    d("SAVE")
    d("FLUSHALL")  # keys only: libraries stay
    d("FUNCTION", "LOAD", RELOAD_LIBS[1])
    d("DEBUG", "RELOAD", "NOFLUSH", "NOSAVE")
    _libs(d)
    d("DBSIZE")
    d("FUNCTION", "LOAD", "REPLACE", RELOAD_LIBS[2])
    _libs(d)
    d("DEBUG", "RELOAD", "NOFLUSH", "MERGE", "NOSAVE")
    _libs(d)
    d("GET", "a")


def test_debug_loadaof_drops_functions(pair):
    """DEBUG LOADAOF empties the libraries too, then the AOF brings back its own."""
    d = pair
    d("CONFIG", "SET", "appendonly", "yes")
    for conn in (d.ref, d.our):  # wait for the AOF rewrite that appendonly yes starts
        import time

        deadline = time.time() + 10
        while b"aof_rewrite_in_progress:0" not in conn.call(
            "INFO", "persistence"
        ) or b"aof_rewrite_scheduled:0" not in conn.call("INFO", "persistence"):
            assert time.time() < deadline
            time.sleep(0.05)
    d("FUNCTION", "LOAD", RELOAD_LIBS[0])
    d("SET", "a", "1")
    d("DEBUG", "LOADAOF")
    _libs(d)
    d("GET", "a")
