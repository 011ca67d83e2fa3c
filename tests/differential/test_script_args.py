"""KEYS/ARGV and the plain results of EVAL, EVALSHA and FCALL against redis-server,
byte for byte, on both sides of the argument count where Vermilion stops passing
KEYS and ARGV to Lua as arguments and passes them as tables (engine._VARARGS_MAX),
and for the results the run hands back without encoding them in Lua."""

import hashlib

import pytest

from vermilion.scripting import AVAILABLE
from vermilion.scripting.engine import _VARARGS_MAX

pytestmark = pytest.mark.skipif(
    not AVAILABLE, reason="Lua scripting needs the optional 'lupa' package"
)

SHOW = (
    "local k, a = {}, {} for i, v in ipairs(KEYS) do k[i] = v end "
    "for i, v in ipairs(ARGV) do a[i] = v end "
    "return {#KEYS, #ARGV, k, a, KEYS[#KEYS], ARGV[#ARGV]}"
)
# a script that changes KEYS/ARGV must not change what the next run sees
MESS = "KEYS[1] = 'changed' ARGV[#ARGV + 1] = 'extra' table.insert(KEYS, 'x') return #KEYS"


def _counts():
    edge = _VARARGS_MAX - 3  # arguments after numkeys on the varargs side
    out = []
    for total in (0, 1, 2, 5, edge - 1, edge, edge + 1, edge + 2, 150):
        for numkeys in sorted({0, 1, total // 2, total - 1, total}):
            if 0 <= numkeys <= total:
                out.append((total, numkeys))
    return out


@pytest.fixture
def d(diff):
    diff("SCRIPT", "FLUSH")
    diff("FUNCTION", "FLUSH")
    yield diff
    diff("FUNCTION", "FLUSH")


@pytest.mark.parametrize("total,numkeys", _counts())
def test_keys_and_argv(d, total, numkeys):
    args = ["a%d" % i for i in range(total)]
    d("EVAL", SHOW, str(numkeys), *args)
    sha = hashlib.sha1(SHOW.encode()).hexdigest()
    d("EVALSHA", sha, str(numkeys), *args)
    d("EVALSHA", sha.upper(), str(numkeys), *args)
    d("EVAL", MESS, str(numkeys), *args)
    d("EVAL", SHOW, str(numkeys), *args)


def test_keys_and_argv_fcall(d):
    d(
        "FUNCTION",
        "LOAD",
        "#!lua name=argslib\n"
        "redis.register_function('show', function(keys, args) return {#keys, #args, "
        "keys[1] or 'none', args[#args] or 'none'} end)\n"
        "redis.register_function('mess', function(keys, args) keys[1] = 'x' "
        "args[#args + 1] = 'y' return #args end)",
    )
    for total, numkeys in _counts():
        args = ["a%d" % i for i in range(total)]
        d("FCALL", "show", str(numkeys), *args)
        d("FCALL", "mess", str(numkeys), *args)
        d("FCALL", "show", str(numkeys), *args)


@pytest.mark.parametrize(
    "script",
    [
        "return 'x'",
        "return ''",
        "return redis.call('get', KEYS[1])",
        "return nil",
        "return",
        "return false",
        "return true",
        "return 7",
        "return -3.7",
        "return 0/0",
        "return 1e300",
        "redis.setresp(3) return false",
        "redis.setresp(3) return true",
        "redis.setresp(3) redis.setresp(2) return false",
        "redis.setresp(3) return 'y'",
    ],
)
@pytest.mark.parametrize("resp", [2, 3])
def test_plain_results(diff, diff3, script, resp):
    d = diff if resp == 2 else diff3
    d("SET", "k", "v")
    d("EVAL", script, "1", "k")
    d("EVAL", script, "1", "nokey")
    sha = hashlib.sha1(script.encode()).hexdigest()
    d("EVALSHA", sha, "1", "k")
    d("MULTI")
    d("EVALSHA", sha, "1", "k")
    d("EVALSHA", sha, "1", "nokey")
    d("EXEC")


def _tracking_transcript(port):
    from support import RawConn

    a, b = RawConn("127.0.0.1", port), RawConn("127.0.0.1", port)
    script = "return redis.call('get', KEYS[1])"
    sha = hashlib.sha1(script.encode()).hexdigest()
    b.call("FLUSHALL")
    b.call("MSET", "t1", "x", "t2", "y", "t3", "w")
    b.call("SCRIPT", "LOAD", script)
    out = [a.call("HELLO", "3")[:1], a.call("CLIENT", "TRACKING", "ON")]
    out.append(a.call("EVALSHA", sha, "1", "t1"))  # tracks t1 (the caller's keys)
    out.append(a.call("EVAL", "return 1", "1", "t2"))  # no read: t2 not tracked
    out.append(b.call("SET", "t1", "z"))
    out.append(b.call("SET", "t2", "z"))
    out.append(a.call("PING"))  # the invalidation comes first
    out.append(a.read_reply())
    out.append(a.call("CLIENT", "TRACKING", "OFF"))
    out.append(a.call("EVALSHA", sha, "1", "t3"))  # not tracking now
    out.append(b.call("SET", "t3", "z"))
    out.append(a.call("PING"))
    return out


def test_tracking_through_scripts(real_redis, shared_vermilion):
    """A tracking client's script reads track the caller's keys (Redis tracks the
    EVAL's own keys at the script's first read); a client not tracking, nothing."""
    assert _tracking_transcript(shared_vermilion.port) == _tracking_transcript(real_redis.port)
