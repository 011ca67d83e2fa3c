"""Helpers shared by the keyspace tests (tests/differential/test_keys.py,
test_expire.py, tests/commands/test_keys.py, test_expire.py): RESP parsing of
unordered replies, CONFIG SET on both servers, keyspace-event capture, running
code on an embedded server's loop, and skipping while another family's commands
are missing."""

import concurrent.futures

import pytest


def array(raw):
    """Parse a flat RESP array of bulk strings (or a nested SCAN reply) into lists."""
    pos = 0

    def parse():
        nonlocal pos
        end = raw.index(b"\r\n", pos)
        t, body = raw[pos : pos + 1], raw[pos + 1 : end]
        pos = end + 2
        if t == b"$":
            n = int(body)
            if n < 0:
                return None
            v = raw[pos : pos + n]
            pos += n + 2
            return v
        if t in b"*~":
            return [parse() for _ in range(int(body))]
        return raw[pos - len(body) - 3 : pos]

    return parse()


def both_sorted(diff, *args):
    """Send a command whose array reply is unordered; compare it sorted."""
    a = array(diff.ref.call(*args))
    b = array(diff.our.call(*args))
    assert sorted(b) == sorted(a), args
    return sorted(a)


def needs(*names):
    """Skip, with the reason, while a command another family provides is not bound."""
    from vermilion.core.table import COMMANDS

    missing = [n for n in names if n.encode() not in COMMANDS]
    if missing:
        pytest.skip("needs %s (not implemented yet)" % ", ".join(missing))


def config_set(diff, server, name, value):
    """CONFIG SET on both servers (directly on ours while CONFIG SET is not bound)."""
    assert diff.ref.call("CONFIG", "SET", name, value) == b"+OK\r\n"
    r = diff.our.call("CONFIG", "SET", name, value)
    if r != b"+OK\r\n":
        srv = server.server
        on_loop(server, lambda: srv.config.set(name, value))


@pytest.fixture
def events(diff, shared_vermilion):
    """Keyspace events enabled on both servers and captured (import it to use it)."""
    config_set(diff, shared_vermilion, "notify-keyspace-events", "KEA")
    ev = Events(diff)
    yield ev
    ev.close()
    config_set(diff, shared_vermilion, "notify-keyspace-events", "")


class Events:
    """A PSUBSCRIBE to keyspace events on both servers, compared in order."""

    def __init__(self, diff):
        raw_conn = type(diff.ref)  # conftest's RawConn, without importing conftest
        self.ref = raw_conn("127.0.0.1", diff.ref.sock.getpeername()[1])
        self.our = raw_conn("127.0.0.1", diff.our.sock.getpeername()[1])
        self.diff = diff
        for c in (self.ref, self.our):
            c.send_command("PSUBSCRIBE", "__key*__:*", "sentinel*")
            c.read_reply()
            c.read_reply()

    def collect(self):
        """Every event since the last call, from both; asserts they are the same."""
        out = []
        for conn, cmd in ((self.ref, self.diff.ref), (self.our, self.diff.our)):
            cmd.call("PUBLISH", "sentinel", "x")
            msgs = []
            while True:
                m = array(conn.read_reply())
                if m[2] == b"sentinel":
                    break
                msgs.append(m)
            out.append(msgs)
        assert out[1] == out[0]
        return out[0]

    def close(self):
        self.ref.close()
        self.our.close()


def on_loop(srv, fn):
    """Run ``fn()`` on an embedded server's event-loop thread; return its result."""
    fut = concurrent.futures.Future()

    def run():
        try:
            fut.set_result(fn())
        except BaseException as e:  # noqa: BLE001 - handed back to the test thread
            fut.set_exception(e)

    srv.server.loop.call_soon_threadsafe(run)
    return fut.result(30)


def set_active_expire(diff, server, on):
    """DEBUG SET-ACTIVE-EXPIRE on both servers (ours directly while DEBUG is not bound),
    so a test about lazy expiry is not raced by the active cycle."""
    flag = "1" if on else "0"
    assert diff.ref.call("DEBUG", "SET-ACTIVE-EXPIRE", flag) == b"+OK\r\n"
    if diff.our.call("DEBUG", "SET-ACTIVE-EXPIRE", flag) != b"+OK\r\n":
        srv = server.server
        on_loop(server, lambda: setattr(srv, "active_expire_enabled", bool(on)))


@pytest.fixture
def lazy_only(diff, shared_vermilion):
    """Active expiry off on both servers for the test (import it to use it)."""
    set_active_expire(diff, shared_vermilion, False)
    yield
    set_active_expire(diff, shared_vermilion, True)
