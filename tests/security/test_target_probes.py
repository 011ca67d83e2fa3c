"""Probes that need no restart and crash neither server: each runs against
redis-server and Vermilion in turn (``target``), or against any server with
``tests/security/run.sh HOST PORT``, and asserts the safe outcome itself."""

import pytest

from probe import outcome


def _eval(target, script, *args):
    return outcome(target, "EVAL", script, len(args), *args)


def test_lua_scripts_cannot_change_what_other_scripts_see(target):
    for attack in (
        "local _, r = pairs(redis) r.sha1hex = function() return 'hijacked' end",
        "rawset(redis, 'sha1hex', function() return 'hijacked' end)",
        "getmetatable('').__index = {upper = function() return 'hijacked' end}",
        "local _, s = pairs(string) s.upper = function() return 'hijacked' end",
    ):
        r = _eval(target, attack)
        assert r.startswith(b"-"), (attack, r)
    assert _eval(target, "return redis.sha1hex('x')") == (
        b"$40\r\n11f6ad8ec52a2984abaafd7c3b516503785c2072\r\n"
    )
    assert _eval(target, "return ('x'):upper()") == b"$1\r\nX\r\n"


@pytest.mark.parametrize(
    "script",
    [
        "return {unpack({1,2,3}, -2147483648, 2147483647)}",
        "return {unpack({1,2,3}, 0, 2147483647)}",
    ],
)
def test_lua_unpack_ranges_are_errors(target, script):
    r = _eval(target, script)
    assert r.startswith(b"-") and b"too many results to unpack" in r, r
    assert outcome(target, "PING") == b"+PONG\r\n"


@pytest.mark.parametrize(
    "name",
    [
        "debug",
        "io",
        "os.execute",
        "loadfile",
        "dofile",
        "require",
        "python",
        "newproxy",
        "setfenv",
        "getfenv",
    ],
)
def test_lua_dangerous_globals_are_absent(target, name):
    r = _eval(target, "return type(%s)" % name)
    assert r in (b"$3\r\nnil\r\n",) or r.startswith(b"-"), (name, r)


def test_lua_bytecode_is_refused(target):
    r = _eval(target, "return loadstring(string.dump(function() return 1 end))")
    assert r.startswith(b"-") or r == b"$-1\r\n", r


def test_exec_with_arguments_ends_the_transaction(target):
    c = target.conn()
    try:
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("EXEC", "x").startswith(b"-EXECABORT")
        assert c.call("PING") == b"+PONG\r\n"  # not queued: the MULTI is over
    finally:
        c.close()


def test_resp3_values_in_a_request_are_protocol_errors(target):
    c = target.conn()
    try:
        c.send(b"*1\r\n%1\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n")
        assert c.read_reply() == b"-ERR Protocol error: expected '$', got '%'\r\n"
        assert c.is_closed()
    finally:
        c.close()
    assert outcome(target, "PING") == b"+PONG\r\n"
