"""pytest plugin: a real Vermilion server for each test, fresh and empty, in about
0.2 ms.

Enabled automatically when Vermilion is installed (entry point ``vermilion``).
Fixtures:

* ``vermilion_server`` -- an :class:`~vermilion.embed.EmbeddedServer` (``host``,
  ``port``, ``url``) on a free port of 127.0.0.1, empty and with its start-up
  configuration;
* ``vermilion_client`` -- a ``redis.Redis`` connected to it;
* ``vermilion_async_client`` -- a ``redis.asyncio.Redis`` for it, which connects
  in the event loop of the test that first uses it (pytest-asyncio, anyio or
  ``asyncio.run`` alike);
* ``vermilion_inprocess_client`` and ``vermilion_inprocess_async_client`` -- the
  same two clients talking to the same server without a socket
  (:mod:`vermilion.inprocess`: each redis-py connection is a client of the server,
  its requests run on the server's thread);
* ``vermilion_clock`` -- ``vermilion_server.clock``, the time the server's data
  sees, which the test moves: ``advance(seconds)``, ``freeze()``, ``unfreeze()``,
  ``set(ts)``, ``reset()`` (:mod:`vermilion.keyspace.clock`). Every test starts
  with it at real time.

The clients need redis-py: ``pip install "vermilion[client]"``.

Pass configuration with the ``vermilion_config`` marker::

    @pytest.mark.vermilion_config(requirepass="secret")
    def test_auth(vermilion_client): ...

How it is fast, and why each test still sees a fresh server:

* One server per session, started by the first test that asks for it. Before each
  test a reset brings it back to what a new server is, in one batch of commands
  run on the server's thread: the clients killed (their subscriptions, MULTI,
  WATCH, tracking, MONITOR and blocked calls go with them), CLIENT
  UNPAUSE, every configuration parameter the last test changed set back (found by
  comparing the configuration with its start values), FLUSHALL, SCRIPT FLUSH,
  FUNCTION FLUSH, CONFIG RESETSTAT, SLOWLOG/LATENCY/ACL LOG RESET, the ACL back
  to the default user alone, active expiry back on, the clock back to real time
  (``vermilion_server.clock``, which a test may have moved). When that cannot be
  done (a test shut the server down) the server is replaced by a new one.
* A ``vermilion_config`` marker whose parameters CONFIG SET accepts is applied to
  the shared server (the next reset undoes it); one naming a parameter fixed at
  start-up (``databases``, ``unixsocket``, ...) gets a server of its own.
* Importing this module costs nothing but pytest itself, which pytest has loaded
  already: pytest imports every installed plugin at start-up, including in
  projects that never use these fixtures, so the server is imported in the
  fixture, by the first test that needs it.
* pytest marks every top-level package of a plugin's distribution for assertion
  rewriting: every one of Vermilion's ~90 modules would be parsed and recompiled
  at import (0.7 s on each run that has no cached bytecode), and the server under
  test would run pytest's rewritten code. This module narrows the mark to itself.
* The reset runs on the server's own thread as the AOF loader runs commands: a
  client without a connection, so the test's CLIENT LIST, INFO clients and CLIENT
  KILL counts see its own connections only.
"""

import sys

import pytest


def _rewrite_only_this_module():
    """Replace the mark pytest put on the whole ``vermilion`` package by one on this
    module. Uses the assertion-rewriting hook's set of marked names (a private
    attribute, there since pytest 3); should it change, pytest's default stands."""
    for hook in sys.meta_path:
        marked = getattr(hook, "_must_rewrite", None)
        if isinstance(marked, set) and "vermilion" in marked:
            marked.discard("vermilion")
            marked.add(__name__)
            cache = getattr(hook, "_marked_for_rewrite_cache", None)
            if isinstance(cache, dict):
                cache.clear()


_rewrite_only_this_module()

CLIENT_NEEDED = 'the vermilion_client fixtures need redis-py: pip install "vermilion[client]"'


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "vermilion_config(**params): Redis configuration for the vermilion_server fixture",
    )


# ------------------------------------------------------------------ reset
def _parse(buf, pos):
    """One RESP2 reply from ``buf`` at ``pos``: (value, next pos); errors come back
    as :class:`_Error`."""
    end = buf.index(b"\r\n", pos)
    kind, line, nxt = buf[pos : pos + 1], buf[pos + 1 : end], end + 2
    if kind == b"+" or kind == b":":
        return line, nxt
    if kind == b"-":
        return _Error(line), nxt
    n = int(line)
    if n < 0:
        return None, nxt
    if kind == b"$":
        return buf[nxt : nxt + n], nxt + n + 2
    items = []
    for _ in range(n):
        item, nxt = _parse(buf, nxt)
        items.append(item)
    return items, nxt


class _Error(bytes):
    """An error reply."""


class _ResetFailed(Exception):
    pass


# The reset every test gets, after the CONFIG SET that restores changed parameters.
# Order matters: clients first (a paused or blocked one would hold the rest up),
# then the data, then the counters the commands above moved.
_RESET = [
    c.split()
    for c in (
        b"CLIENT KILL TYPE normal",
        b"CLIENT KILL TYPE pubsub",
        b"CLIENT KILL TYPE replica",
        b"CLIENT UNPAUSE",
        b"FLUSHALL SYNC",
        b"SCRIPT FLUSH SYNC",
        b"FUNCTION FLUSH SYNC",
        b"SLOWLOG RESET",
        b"LATENCY RESET",
        b"ACL LOG RESET",
        b"ACL LIST",
        b"CONFIG RESETSTAT",
    )
]
_RESETSTAT = _RESET[-1]

# What ACL SETUSER needs to give the default user its start-up rules back without
# "reset" (which would add the sanitize-payload flag a new server does not show)
_DEFAULT_USER = (
    b"ACL SETUSER default on resetpass nopass resetkeys ~* resetchannels &* clearselectors +@all"
).split()


def _run_in_server(handle, cmds):
    """Run ``cmds`` (lists of bytes) on the server's own thread, as its AOF loader
    does: a client without a connection, which CLIENT LIST does not show and ACL
    rules do not stop (a test may have locked the default user out). Returns the
    replies."""
    import concurrent.futures  # start-up cost: the plugin imports only what pytest needs

    server = handle.server
    done = concurrent.futures.Future()

    def run():
        try:
            from .core.client import Client  # start-up cost: the server loads with
            from .core.dispatch import execute_one  # the first fixture, not with the plugin

            c = getattr(server, "_pytest_client", None)
            if c is None:
                c = server._pytest_client = Client(server)
                c.authenticated = True
                c.update_special()
            replies = []
            for argv in cmds:
                execute_one(c, list(argv))
                out = b"".join(c.out)
                c.out.clear()
                replies.append(_parse(out, 0)[0] if out else None)
            done.set_result(replies)
        except BaseException as e:
            done.set_exception(e)

    handle.loop.call_soon_threadsafe(run)
    return done.result(timeout=30)


class _Shared:
    """The session's server."""

    def __init__(self):
        self.handle = None
        self.start_config = None
        self.start_acl = None

    # A marker's parameters that CONFIG SET cannot take make their own server;
    # these are embed options, not configuration parameters
    EMBED_ONLY = frozenset(("host", "port", "unixsocket", "config", "pure_python"))

    def server(self):
        """The shared server, reset to a fresh one's state."""
        if self.handle is None or not self.handle.thread.is_alive():
            self._start()
            return self.handle
        try:
            self._reset()
        except (RuntimeError, OSError, _ResetFailed):
            self._restart()
        return self.handle

    def _start(self):
        # start-up cost: the server's modules load here, for the first test that
        # uses a fixture, never when pytest imports the plugin
        from .embed import start_server  # (see above)

        self.handle = start_server()
        self.start_config = dict(self.handle.server.config.values)
        self.start_acl = _run_in_server(self.handle, [[b"ACL", b"LIST"]])[0]

    def _restart(self):
        self.stop()
        self._start()

    def stop(self):
        if self.handle is not None:
            self.handle.stop()
            self.handle = None

    def _config_changes(self):
        now = self.handle.server.config.values
        if now == self.start_config:
            return None
        args = [b"CONFIG", b"SET"]
        for name, value in self.start_config.items():
            if now.get(name) != value:
                args += [name.encode(), value.encode()]
        return args

    def _reset(self):
        server = self.handle.server
        if server.clock.moved:
            self.handle.clock.reset()  # first: the reset's own commands see real time
        cmds = []
        restore = self._config_changes()
        if restore is not None:
            cmds.append(restore)
        if not server.active_expire_enabled:
            cmds.append([b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1"])
        cmds += _RESET
        replies = _run_in_server(self.handle, cmds)
        errors = [r for r in replies if isinstance(r, _Error)]
        if errors:
            raise _ResetFailed(errors[0].decode(errors="replace"))
        if replies[-2] != self.start_acl:
            self._reset_acl(replies[-2])

    def _reset_acl(self, acl):
        users = [line.split(b" ", 2)[1] for line in acl]
        others = [u for u in users if u != b"default"]
        cmds = [_DEFAULT_USER]
        if others:
            cmds.append([b"ACL", b"DELUSER"] + others)
        cmds += [[b"ACL", b"LIST"], _RESETSTAT]  # the counters the fix moved
        replies = _run_in_server(self.handle, cmds)
        if any(isinstance(r, _Error) for r in replies) or replies[-2] != self.start_acl:
            raise _ResetFailed("the ACL could not be set back: %r" % (replies[-2],))

    def configure(self, params):
        """CONFIG SET the marker's parameters on the shared server; False when one of
        them cannot be set at run time (the test then gets a server of its own)."""
        args = [b"CONFIG", b"SET"]
        for k, v in params.items():
            if isinstance(v, bool):
                v = "yes" if v else "no"
            args += [k.replace("_", "-").encode(), b"" if v is None else str(v).encode()]
        reply = _run_in_server(self.handle, [args])[0]
        if isinstance(reply, _Error):
            if b"immutable" in reply or b"protected" in reply:
                return False
            raise pytest.UsageError("vermilion_config%r: %s" % (params, reply.decode()))
        return True


@pytest.fixture(scope="session")
def _vermilion_shared():
    shared = _Shared()
    yield shared
    shared.stop()


@pytest.fixture
def vermilion_server(request, _vermilion_shared):
    marker = request.node.get_closest_marker("vermilion_config")
    params = dict(marker.kwargs) if marker else {}
    if not params or not _vermilion_shared.EMBED_ONLY.intersection(params):
        srv = _vermilion_shared.server()
        if not params or _vermilion_shared.configure(params):
            yield srv
            return
    from .embed import start_server  # start-up cost: loaded by the first test that needs it

    own = start_server(**params)
    try:
        yield own
    finally:
        own.stop()


_DRIVER_INFO: list = []  # [redis-py DriverInfo or None], made on first use


@pytest.fixture
def vermilion_clock(vermilion_server):
    return vermilion_server.clock


def _client_kwargs(srv):
    kw = {}
    if not _DRIVER_INFO:
        try:
            from redis.driver_info import DriverInfo  # optional: only in redis-py 8

            # made once: redis-py 8 reads its version from the package metadata in
            # every Redis() that is not given one (0.4 ms, more than the reset)
            _DRIVER_INFO.append(DriverInfo())
        except ImportError:  # redis-py before 8 reads it once, at import
            _DRIVER_INFO.append(None)
    if _DRIVER_INFO[0] is not None:
        kw["driver_info"] = _DRIVER_INFO[0]
    password = srv.server.config.get("requirepass")
    if password:
        kw["password"] = password
    if srv.port:
        kw["host"], kw["port"] = srv.host, srv.port
    else:
        kw["unix_socket_path"] = srv.unixsocket
    return kw


@pytest.fixture
def vermilion_client(vermilion_server):
    try:
        import redis  # optional: only the client fixtures need redis-py
    except ImportError:
        pytest.fail(CLIENT_NEEDED, pytrace=False)
    client = redis.Redis(**_client_kwargs(vermilion_server))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def vermilion_async_client(vermilion_server):
    try:
        import redis.asyncio  # optional: only the client fixtures need redis-py
    except ImportError:
        pytest.fail(CLIENT_NEEDED, pytrace=False)
    client = redis.asyncio.Redis(**_client_kwargs(vermilion_server))
    yield client
    _close_async(client)


def _inprocess_kwargs(srv):
    kw = _client_kwargs(srv)
    for name in ("host", "port", "unix_socket_path"):
        kw.pop(name, None)
    return kw


@pytest.fixture
def vermilion_inprocess_client(vermilion_server):
    try:
        from . import inprocess  # optional: only the client fixtures need redis-py
    except ImportError:
        pytest.fail(CLIENT_NEEDED, pytrace=False)
    client = inprocess.client(vermilion_server, **_inprocess_kwargs(vermilion_server))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def vermilion_inprocess_async_client(vermilion_server):
    try:
        from . import inprocess  # optional: only the client fixtures need redis-py
    except ImportError:
        pytest.fail(CLIENT_NEEDED, pytrace=False)
    client = inprocess.async_client(vermilion_server, **_inprocess_kwargs(vermilion_server))
    yield client
    _close_async(client)


def _close_async(client):
    """Close an asyncio client from synchronous teardown code. Its connections
    belong to the event loop of the test, usually closed by now: their sockets are
    closed directly (the server's side goes with the next reset anyway), then
    aclose() runs on a loop of its own for what is left."""
    import asyncio  # start-up cost: only the async fixtures need it

    pool = client.connection_pool
    conns = list(getattr(pool, "_available_connections", ())) + list(
        getattr(pool, "_in_use_connections", ())
    )
    for conn in conns:
        transport = getattr(getattr(conn, "_writer", None), "transport", None)
        loop = getattr(transport, "_loop", None)
        if transport is None or loop is None or not loop.is_closed():
            continue
        sock = getattr(transport, "_sock", None)
        if sock is not None:
            sock.close()
            transport._sock = None  # closed: its __del__ has nothing to warn about
        conn._writer = conn._reader = None
    try:
        asyncio.run(client.aclose())
    except RuntimeError:  # a connection of a loop still open elsewhere
        pass
