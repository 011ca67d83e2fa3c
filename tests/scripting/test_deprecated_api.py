"""lua-enable-deprecated-api (Debian's redis-server 7.0.15 has it with its
CVE-2025-46818 fix): an immutable, hidden config, off by default; when on,
scripts get setfenv, getfenv and newproxy. Compared byte for byte with a
redis-server started with the same setting."""

import pytest

from vermilion.embed import start_server
from vermilion.scripting import AVAILABLE
from support import REDIS_SERVER, Differ, RealRedis

pytestmark = [
    pytest.mark.skipif(not AVAILABLE, reason="Lua scripting needs the optional 'lupa' package"),
    pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed"),
]

SCRIPTS = [
    "local f = function() return 1 end setfenv(f, {}) return 0",
    "local f = function() return 1 end getfenv(f) return 0",
    "getmetatable(newproxy(true)).__gc = function() return 1 end return 0",
    "return type(getfenv(1))",
    "return getfenv(0) == _G",
    "local f = function() return x end setfenv(f, {x = 'here'}) return f()",
    "return type(newproxy(false))",
    "return getmetatable(newproxy(false))",
]


@pytest.fixture(scope="module", params=["no", "yes"])
def pair(request):
    ref = RealRedis("--lua-enable-deprecated-api", request.param)
    ours = start_server(lua_enable_deprecated_api=request.param)
    d = Differ(ref.port, ours.port)
    yield d
    d.close()
    ours.stop()
    ref.stop()


def test_config_is_hidden_and_immutable(pair):
    pair("CONFIG", "GET", "lua-enable-deprecated-api")
    pair("CONFIG", "SET", "lua-enable-deprecated-api", "yes")
    pair("CONFIG", "GET", "lua-*")


@pytest.mark.parametrize("script", SCRIPTS)
def test_deprecated_functions(pair, script):
    pair("EVAL", script, "0")


def test_environment_of_ours_cannot_change():
    """The environment functions reach user code only (not checked against
    redis-server: Redis's own C functions have no such wall)."""
    srv = start_server(lua_enable_deprecated_api="yes")
    try:
        import redis

        c = redis.Redis(port=srv.port)
        for script in [
            "setfenv(0, {})",
            "setfenv(redis.call, {})",
            "setfenv(unpack, {})",
            "setfenv(2, {})",
        ]:
            with pytest.raises(redis.ResponseError, match="cannot change environment"):
                c.eval(script, 0)
        assert c.eval("return getfenv(redis.call) == _G and getfenv(unpack) == _G", 0) == 1
        assert c.eval("return redis.call('ping')", 0) == b"PONG"
        c.close()
    finally:
        srv.stop()
