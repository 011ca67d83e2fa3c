"""The Lua debugger, synchronous mode (SCRIPT DEBUG SYNC): whole sessions over
raw sockets, compared byte for byte with redis-server (each session ends with
the EVAL's reply and the connection closed)."""

import socket

import pytest

from vermilion.scripting import AVAILABLE

pytestmark = pytest.mark.skipif(
    not AVAILABLE, reason="Lua scripting needs the optional 'lupa' package"
)


def _cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class _Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                raise EOFError
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            data = self.s.recv(65536)
            if not data:
                raise EOFError
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n + 2 :]
        return out

    def reply(self):
        line = self._line()
        kind = line[:1]
        if kind == b"*":
            return [self.reply() for _ in range(int(line[1:]))]
        if kind == b"$":
            n = int(line[1:])
            return None if n < 0 else self._exact(n)
        return line

    def rest(self):
        """Every reply until the server closes the connection (at each further
        stop, the session is told to continue)."""
        out = []
        while True:
            try:
                r = self.reply()
            except (EOFError, ConnectionResetError):
                return out
            out.append(r)
            if isinstance(r, list) and any(x.startswith(b"+* Stopped") for x in r):
                self.s.sendall(_cmd("c"))


def session(port, script, commands, keys=()):
    c = _Conn(port)
    try:
        c.s.sendall(_cmd("SCRIPT", "DEBUG", "SYNC"))
        out = [c.reply()]
        c.s.sendall(_cmd("EVAL", script, str(len(keys)), *keys, "arg1"))
        out.append(c.reply())
        for i, cmd in enumerate(commands):
            c.s.sendall(cmd if isinstance(cmd, bytes) else _cmd(*cmd))
            if i == len(commands) - 1:
                break
            out.append(c.reply())
        out.extend(c.rest())
        return out
    finally:
        c.s.close()  # (a session left open would hold the server)


SCRIPT = """local a = 1
local b = {1, 2, 'x', true}
redis.debug(a, b, nil, 'q"\\n')
redis.call('set', KEYS[1], 'v')
local function f(x)
  local y = x * 2
  redis.breakpoint()
  return y
end
local r = f(21)
return {r, redis.call('get', KEYS[1])}"""

SESSIONS = [
    [("s",), ("p",), ("p", "b"), ("p", "KEYS"), ("p", "ARGV"), ("p", "nope"), ("s",), ("c",)],
    [
        ("n",),
        ("n",),
        ("n",),
        ("r", "incr", "dbg"),
        ("r", "get", "dbg"),
        ("r", "hgetall", "dbg"),
        ("r", "nosuchcmd"),
        ("c",),
    ],
    [
        ("b", "6"),
        ("b",),
        ("b", "-6"),
        ("b", "-7"),
        ("b", "99"),
        ("b", "x"),
        ("b", "0"),
        ("b",),
        ("c",),
    ],
    [("l",), ("l", "8"), ("l", "8", "1"), ("w",), ("h",), ("c",)],
    [("b", "6"), ("c",), ("t",), ("p",), ("p", "x"), ("c",), ("p", "y"), ("s",)],
    [
        ("e", "1 + 1"),
        ("e", "x x"),
        ("e", "error('boom')"),
        ("e", "redis.call('ping')"),
        ("e", "{1, 'a'}"),
        ("c",),
    ],
    [
        ("m",),
        ("m", "10"),
        ("r", "set", "big", "x" * 200),
        ("r", "get", "big"),
        ("m", "0"),
        ("r", "get", "big"),
        ("c",),
    ],
    [("hello\0world",), ("'hello\0'",), ("s",), ("a",)],
    [b"*101\r\n$5\r\nredis\r\n" + b"$4\r\ntest\r\n" * 100, ("c",)],
    [("s",), ("s",), ("s",), ("s",), ("s",), ("s",), ("s",), ("s",), ("s",), ("s",), ("s",)],
]


@pytest.mark.parametrize("commands", SESSIONS)
def test_sessions(real_redis, shared_vermilion, commands):
    for port in (real_redis.port, shared_vermilion.port):
        c = _Conn(port)
        c.s.sendall(_cmd("DEL", "k1", "dbg", "big"))
        c.reply()
        c.s.close()
    ref = session(real_redis.port, SCRIPT, commands, keys=("k1",))
    ours = session(shared_vermilion.port, SCRIPT, commands, keys=("k1",))
    assert ours == ref


def test_client_gone_lets_the_script_finish(real_redis, shared_vermilion):
    """The client leaves mid-session: the script runs to its end (its write is
    kept), and the server answers other clients again."""
    for port in (real_redis.port, shared_vermilion.port):
        c = _Conn(port)
        c.s.sendall(_cmd("SCRIPT", "DEBUG", "SYNC"))
        assert c.reply() == b"+OK"
        c.s.sendall(_cmd("EVAL", "redis.call('set', 'gone', 'yes')\nreturn 1", "0"))
        assert c.reply()[0].startswith(b"+* Stopped at 1")
        c.s.close()
        c = _Conn(port)
        c.s.sendall(_cmd("GET", "gone"))
        assert c.reply() == b"yes"
        c.s.sendall(_cmd("DEL", "gone"))
        c.reply()
        c.s.close()


@pytest.mark.parametrize(
    "commands",
    [
        [("SCRIPT", "DEBUG", "SYNC"), ("EVALSHA", "a" * 40, "0")],
        [("SCRIPT", "DEBUG", "SYNC"), ("SCRIPT", "DEBUG", "NO"), ("EVAL", "return 1", "0")],
        [("SCRIPT", "DEBUG", "MAYBE")],
        [("SCRIPT", "DEBUG", "SYNC"), ("EVAL", "return (", "0")],
    ],
)
def test_around_sessions(real_redis, shared_vermilion, commands):
    outs = []
    for port in (real_redis.port, shared_vermilion.port):
        c = _Conn(port)
        out = []
        for cmd in commands:
            c.s.sendall(_cmd(*cmd))
            out.append(c.reply())
        c.s.close()
        outs.append(out)
    assert outs[1] == outs[0]


def test_script_debug_in_a_pipeline(real_redis, shared_vermilion):
    outs = []
    for port in (real_redis.port, shared_vermilion.port):
        c = _Conn(port)
        c.s.sendall(b"PING\r\nSCRIPT DEBUG SYNC\r\nSCRIPT DEBUG NO\r\n")
        outs.append([c.reply() for _ in range(3)])
        c.s.close()
    assert outs[1] == outs[0]
    assert outs[0][1].startswith(b"-ERR SCRIPT DEBUG must be called outside a pipeline")


def _forked_session(port, commands, subscriber_port=None):
    """SCRIPT DEBUG YES: the session runs in a child; the server serves others
    meanwhile, and what the script wrote or published is gone with the child."""
    sub = None
    if subscriber_port is not None:
        sub = _Conn(subscriber_port)
        sub.s.sendall(_cmd("SUBSCRIBE", "ldbch"))
        sub.reply()
    c = _Conn(port)
    other = _Conn(port)
    try:
        c.s.sendall(_cmd("SCRIPT", "DEBUG", "YES"))
        out = [c.reply()]
        c.s.sendall(_cmd("EVAL", FORKED_SCRIPT, "0"))
        out.append(c.reply())
        other.s.sendall(_cmd("PING"))
        out.append(other.reply())  # (served while the session waits)
        for cmd in commands:
            c.s.sendall(_cmd(*cmd))
            out.append(c.reply())
        c.s.sendall(_cmd("c"))
        out.extend(c.rest())
        other.s.sendall(_cmd("GET", "forked"))
        out.append(other.reply())
        if sub is not None:
            sub.s.settimeout(0.5)
            try:
                out.append(sub.s.recv(100))
            except socket.timeout:
                out.append("nothing published")
        return out
    finally:
        c.s.close()
        other.s.close()
        if sub is not None:
            sub.s.close()


FORKED_SCRIPT = """redis.call('set', 'forked', 'yes')
redis.call('publish', 'ldbch', 'from the child')
return redis.call('get', 'forked')"""


@pytest.mark.parametrize("commands", [[("s",), ("r", "get", "forked")], [("s",), ("s",)], []])
def test_forked_sessions(real_redis, shared_vermilion, commands):
    outs = []
    for port in (real_redis.port, shared_vermilion.port):
        c = _Conn(port)
        c.s.sendall(_cmd("DEL", "forked"))
        c.reply()
        c.s.close()
        outs.append(_forked_session(port, commands, subscriber_port=port))
    assert outs[1] == outs[0]
    assert outs[0][-2] is None and outs[0][-1] == "nothing published"
