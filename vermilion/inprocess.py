"""redis-py connections that reach a Vermilion server in the same process without a
socket.

::

    import vermilion.inprocess
    r = vermilion.inprocess.client()                 # a redis.Redis, no socket
    r = vermilion.inprocess.client(srv)              # the server start_server() returned
    ar = vermilion.inprocess.async_client(srv)       # a redis.asyncio.Redis

The idea: a socket client is two byte streams and an accept. Here the accept is
:meth:`RedisProtocol.connection_made <vermilion.server.netio.RedisProtocol>` called
with a transport of our own (:class:`_Link`), so each redis-py connection is one
:class:`~vermilion.core.client.Client` in ``server.clients`` with all the state a
socket client has (MULTI, WATCH, SELECT, CLIENT SETNAME, subscriptions, tracking,
blocked pops) and the server's own checks (maxclients, AUTH, output limits, CLIENT
KILL, shutdown closing it). The request stream is what redis-py packs, handed to
``RedisProtocol.data_received`` on the server's event-loop thread (one
``call_soon_threadsafe`` per burst of writes); the reply stream is whatever the
server writes to the transport, at once or later (an unblocked BLPOP, a pub/sub
message), put in a queue that redis-py's own parser reads through a small
socket-like object (:class:`_Socket`). Nothing is parsed twice and the server runs
the same code as for a socket, so replies are the same bytes.

The asyncio connection feeds the replies to an ``asyncio.StreamReader``, which is
what redis-py's asyncio parsers read. When the server runs on the same event loop
as the client (:func:`vermilion.embed.serve`), requests are run directly, with no
thread hop at all.

What differs from a socket: the connection has no file descriptor, so while the
server's loop is held by a busy script or a load, an in-process client waits
(Redis's processEventsWhileBlocked serves sockets only: it cannot answer -BUSY to
this client, nor run its SCRIPT KILL); its ``CLIENT LIST`` address is ``?:0``. A
synchronous in-process client cannot be used on the server's own event-loop
thread (it would wait for itself); use the asyncio one there.
"""

import asyncio
import atexit
import concurrent.futures
import errno
import inspect
import queue
import socket
import threading

import redis
import redis.asyncio
import redis.asyncio.connection
import redis.connection
from redis.exceptions import ConnectionError

from .server.netio import RedisProtocol

try:  # redis-py's hiredis parser, which polls a file descriptor in can_read
    from redis._parsers import _HiredisParser
    from redis._parsers.socket import SERVER_CLOSED_CONNECTION_ERROR
except ImportError:  # pragma: no cover (a redis-py that moved them: its default parser stands)
    _HiredisParser = None  # type: ignore[misc, assignment]
    SERVER_CLOSED_CONNECTION_ERROR = "Connection closed by server."

try:  # redis-py 6+: RESP3 connections look up their host's address for "maintenance
    # notifications" (cluster endpoint moves), a DNS query for a name that is not one
    from redis.maint_notifications import MaintNotificationsConfig
except ImportError:  # pragma: no cover (redis-py 5)
    MaintNotificationsConfig = None  # type: ignore[misc, assignment]

__all__ = [
    "client",
    "async_client",
    "default_server",
    "InProcessConnection",
    "InProcessAsyncConnection",
]


def _target(server):
    """(Server, its event loop, a handle with ``url``) for an EmbeddedServer, an
    AsyncServer or a Server."""
    srv = getattr(server, "server", server)
    loop = getattr(server, "loop", None) or getattr(srv, "loop", None)
    if loop is None or not hasattr(srv, "clients"):
        raise TypeError(
            "expected a server from vermilion.start_server() or "
            "vermilion.embed.serve(), got %r" % (server,)
        )
    return srv, loop


def _describe(server):
    srv = getattr(server, "server", server)
    port = getattr(srv, "port", 0)
    return "in-process:%s" % (port or getattr(srv, "unixsocket", "") or "")


# ------------------------------------------------------------- server side
class _Link:
    """One in-process connection, as the server sees it: the transport of its
    Client (``write``, ``close``, ``abort``, ...), and the door requests come in by.

    ``on_data(bytes)`` and ``on_eof()`` hand the reply stream to the client side;
    they are called on the server's thread. Everything here that touches the
    server runs on that thread too; :meth:`send` and :meth:`hang_up` may be called
    from any thread.
    """

    __slots__ = (
        "server",
        "loop",
        "proto",
        "on_data",
        "on_eof",
        "closed",
        "gone",
        "direct",
        "_lock",
        "_inbox",
        "_scheduled",
        "__weakref__",
    )

    def __init__(self, server, loop, on_data, on_eof, direct=False):
        self.server = server
        self.loop = loop
        self.proto = None
        self.on_data = on_data
        self.on_eof = on_eof
        self.closed = False  # the server closed it (or saw the client go)
        self.gone = False  # the client hung up
        self.direct = direct  # the client runs on the server's loop: no thread hop
        self._lock = threading.Lock()
        self._inbox = []
        self._scheduled = False

    # -- the accept (server thread)
    def open(self):
        server = self.server
        if server.stopping or server.stopped is None or server.stopped.done():
            raise ConnectionRefusedError(errno.ECONNREFUSED, "the server is not running")
        proto = RedisProtocol(server)
        self.proto = proto
        proto.connection_made(self)  # maxclients and the rest, as for a socket

    # -- requests (any thread)
    def send(self, data):
        if self.gone:
            raise OSError(errno.EBADF, "Bad file descriptor")
        if self.closed:
            return  # like a socket whose peer closed: the read that follows sees EOF
        if self.direct:
            self.proto.data_received(data)
            return
        with self._lock:
            self._inbox.append(data)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the server's loop is closed: the server is gone
            self.closed = True
            self.on_eof()

    def _deliver(self):
        with self._lock:
            chunks = self._inbox
            self._inbox = []
            self._scheduled = False
        if self.closed:
            return
        self.proto.data_received(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def hang_up(self):
        """The client closed its end (any thread): the server forgets the client."""
        if self.gone:
            return
        self.gone = True
        if self.direct:
            self._lost()
            return
        try:
            self.loop.call_soon_threadsafe(self._lost)
        except RuntimeError:
            pass

    def _lost(self):
        if self.closed:
            return
        self.closed = True
        if self.proto is not None:
            self.proto.connection_lost(None)

    # -- asyncio.Transport's surface, as Client and RedisProtocol use it (server thread)
    def write(self, data):
        if self.closed or not data:
            return
        if data.__class__ is not bytes:
            data = bytes(data)
        self.on_data(data)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.on_eof()
        # as an asyncio transport does once it has closed: the server forgets the client
        self.loop.call_soon(self.proto.connection_lost, None)

    abort = close

    def is_closing(self):
        return self.closed

    def get_write_buffer_size(self):
        return 0

    def get_extra_info(self, name, default=None):
        return default

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


def _open_from_thread(link, timeout):
    """Open ``link`` on the server's thread and wait for it; raises what a socket
    connect would (ConnectionRefusedError, socket.timeout)."""
    loop = link.loop
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise RuntimeError(
            "a synchronous in-process client cannot run on the server's "
            "own event loop (it would wait for itself): use "
            "vermilion.inprocess.async_client there"
        )
    done = _open_on(loop, link)
    waited = 0.0
    while True:
        try:
            return done.result(0.25)
        except concurrent.futures.TimeoutError:
            waited += 0.25
            if loop.is_closed() or not loop.is_running():
                raise ConnectionRefusedError(
                    errno.ECONNREFUSED, "the server is not running"
                ) from None
            if timeout is not None and waited >= timeout:
                raise socket.timeout("timed out") from None


def _open_on(loop, link):
    """Open ``link`` on the server's event loop (another thread's); a
    concurrent Future for the outcome. A loop that no longer runs refuses."""
    done = concurrent.futures.Future()

    def run():
        try:
            link.open()
            done.set_result(None)
        except BaseException as e:
            done.set_exception(e)

    try:
        loop.call_soon_threadsafe(run)
    except RuntimeError:
        raise ConnectionRefusedError(errno.ECONNREFUSED, "the server is not running") from None
    return done


# -------------------------------------------------------- sync client side
_EOF = None  # in the reply queue: the server closed the connection


class _Socket:
    """The client's end, for redis-py's parsers: ``sendall``, ``recv``,
    ``recv_into`` and ``settimeout`` behave as a socket's do (a timeout raises
    ``socket.timeout``, a non-blocking read with nothing there ``BlockingIOError``,
    the server's close reads as b"")."""

    def __init__(self, server, loop, timeout=None):
        self._q = q = queue.SimpleQueue()
        self._left = None  # what the last read did not take
        self._eof = False
        self._timeout = timeout
        self._closed = False
        put = q.put
        self._link = _Link(server, loop, put, lambda: put(_EOF))

    def connect(self, timeout):
        _open_from_thread(self._link, timeout)

    # -- writing
    def sendall(self, data):
        if self._closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        self._link.send(data if data.__class__ is bytes else bytes(data))

    # -- reading
    def _get(self, timeout):
        q = self._q
        if timeout is None:
            return q.get()
        try:
            if timeout <= 0:
                return q.get(False)
            return q.get(True, timeout)
        except queue.Empty:
            if timeout <= 0:
                raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable") from None
            raise socket.timeout("timed out") from None

    def _take(self, size):
        chunk = self._left
        if chunk is None:
            if self._eof:
                return b""
            chunk = self._get(self._timeout)
            if chunk is _EOF:
                self._eof = True
                return b""
        if len(chunk) > size:
            chunk = memoryview(chunk)
            self._left = chunk[size:]
            return chunk[:size]
        self._left = None
        return chunk

    def recv(self, bufsize, flags=0):
        return bytes(self._take(bufsize))

    def recv_into(self, buffer, nbytes=0, flags=0):
        chunk = self._take(nbytes or len(buffer))
        n = len(chunk)
        buffer[:n] = chunk
        return n

    def readable(self, timeout):
        """Data or EOF can be read now, or within ``timeout`` (None: wait)."""
        if self._left is not None or self._eof:
            return True
        try:
            chunk = self._get(timeout)
        except (BlockingIOError, socket.timeout):
            return False
        if chunk is _EOF:
            self._eof = True
        else:
            self._left = chunk
        return True

    def at_eof(self):
        return self._left is None and self._eof

    # -- the rest of a socket's surface that redis-py touches
    def settimeout(self, timeout):
        self._timeout = timeout

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        self._timeout = None if flag else 0.0

    def setsockopt(self, *args):
        pass

    def getsockname(self):
        return ("in-process", 0)

    def fileno(self):
        return -1

    def shutdown(self, how):
        self._link.hang_up()

    def close(self):
        self._closed = True
        self._link.hang_up()

    def __del__(self):
        # a connection dropped without disconnect(): the server sees it go, as it
        # would see a garbage-collected socket close
        try:
            self._link.hang_up()
        except Exception:
            pass


if _HiredisParser is not None:

    class _InProcessHiredisParser(_HiredisParser):
        """redis-py's hiredis parser, asking the in-process socket whether a reply
        is there instead of polling a file descriptor it does not have."""

        def can_read(self, timeout=0):
            if not self._reader:
                raise ConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
            if self._reader.has_data():
                return True
            sock = self._sock
            if not sock.readable(timeout):
                return False
            if sock.at_eof():
                raise ConnectionError(SERVER_CLOSED_CONNECTION_ERROR)
            return True


# What a Redis() built for a host and port puts in the connection kwargs that a
# connection without a socket has no use for
_SOCKET_ONLY = (
    "host",
    "port",
    "path",
    "socket_keepalive",
    "socket_keepalive_options",
    "socket_type",
    "connection_class",
)


class InProcessConnection(redis.connection.AbstractConnection):
    """A redis-py connection to a Vermilion server of this process, without a socket.

    ``server`` is what :func:`vermilion.start_server` (or :func:`vermilion.embed.serve`)
    returned, or None for :func:`default_server`. The other arguments are
    redis-py's connection arguments (db, password, username, decode_responses,
    protocol, socket_timeout, client_name, ...).
    """

    def __init__(self, server=None, **kwargs):
        if server is None:
            server = default_server()
        self._vermilion = server
        self._target = _target(server)
        for name in _SOCKET_ONLY:
            kwargs.pop(name, None)
        parser = kwargs.get("parser_class", redis.connection.DefaultParser)
        if _HiredisParser is not None and parser is _HiredisParser:
            kwargs["parser_class"] = _InProcessHiredisParser
        _no_endpoint(kwargs, redis.connection.AbstractConnection)
        super().__init__(**kwargs)

    # where redis-py reports from (errors, observability)
    host = "in-process"
    port = 0

    def repr_pieces(self):
        pieces = [("server", _describe(self._vermilion)), ("db", self.db)]
        if self.client_name:
            pieces.append(("client_name", self.client_name))
        return pieces

    def _connect(self):
        server, loop = self._target
        sock = _Socket(server, loop, self.socket_timeout)
        sock.connect(self.socket_connect_timeout)
        return sock

    def _host_error(self):
        return _describe(self._vermilion)

    def get_resolved_ip(self):
        return None  # no address (redis-py would ask DNS for the host's)


# ----------------------------------------------------- asyncio client side
class _AsyncWriter:
    """The StreamWriter redis-py's asyncio connection writes to."""

    def __init__(self, link):
        self._link = link
        self._closed = False

    def write(self, data):
        if self._closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        self._link.send(data if data.__class__ is bytes else bytes(data))

    def writelines(self, chunks):
        chunks = list(chunks)
        self.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    async def drain(self):
        return None

    def can_write_eof(self):
        return False

    def is_closing(self):
        return self._closed

    def close(self):
        self._closed = True
        self._link.hang_up()

    async def wait_closed(self):
        return None

    def get_extra_info(self, name, default=None):
        return default

    def __del__(self):
        try:
            self._link.hang_up()
        except Exception:
            pass


def _threadsafe(loop, fn):
    """fn(*args) on ``loop`` from another thread; nothing if that loop is closed (the
    client's test has ended)."""

    def call(*args):
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass

    return call


class InProcessAsyncConnection(redis.asyncio.connection.AbstractConnection):
    """The asyncio counterpart of :class:`InProcessConnection`."""

    def __init__(self, server=None, **kwargs):
        if server is None:
            server = default_server()
        self._vermilion = server
        self._target = _target(server)
        for name in _SOCKET_ONLY:
            kwargs.pop(name, None)
        _no_endpoint(kwargs, redis.asyncio.connection.AbstractConnection)
        super().__init__(**kwargs)

    host = "in-process"
    port = 0

    def repr_pieces(self):
        pieces = [("server", _describe(self._vermilion)), ("db", self.db)]
        if self.client_name:
            pieces.append(("client_name", self.client_name))
        return pieces

    async def _connect(self):
        server, server_loop = self._target
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**16)
        if loop is server_loop:
            link = _Link(server, server_loop, reader.feed_data, reader.feed_eof, direct=True)
            link.open()
        else:
            link = _Link(
                server,
                server_loop,
                _threadsafe(loop, reader.feed_data),
                _threadsafe(loop, reader.feed_eof),
            )
            done = _open_on(server_loop, link)
            await asyncio.wait_for(asyncio.wrap_future(done), self.socket_connect_timeout)
        self._reader = reader
        self._writer = _AsyncWriter(link)

    def _host_error(self):
        return _describe(self._vermilion)

    def get_resolved_ip(self):
        return None


# ------------------------------------------------------------------ API
_default: list = []  # [the process's default server], made on first use
_default_lock = threading.Lock()


def default_server():
    """The process's shared in-process server, started on first use (a real
    :func:`vermilion.start_server` server: it also listens on a free port of
    127.0.0.1) and stopped at exit."""
    with _default_lock:
        if not _default or not _default[0].thread.is_alive():
            from .embed import start_server  # start-up cost: only when asked for

            handle = start_server()
            if not _default:
                atexit.register(_stop_default)
            _default[:] = [handle]
        return _default[0]


def _stop_default():
    if _default:
        _default.pop().stop()


_TAKES_MAINT: dict = {}  # connection class -> whether it takes maint_notifications_config


def _no_endpoint(kwargs, connection_class):
    """Maintenance notifications off, as redis-py turns them off for unix sockets: no
    endpoint can move, and looking one up would query DNS for "in-process"."""
    if MaintNotificationsConfig is None:
        return
    takes = _TAKES_MAINT.get(connection_class)
    if takes is None:  # (inspect.signature costs 0.1 ms: once per class)
        takes = _TAKES_MAINT[connection_class] = (
            "maint_notifications_config" in inspect.signature(connection_class.__init__).parameters
        )
    if takes:
        kwargs["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)


_KWARGS_CACHE: dict = {}  # (client class, its keyword arguments) -> connection kwargs


def _connection_kwargs(redis_kwargs, cls, connection_class):
    """The connection arguments redis-py's client builds from its own keyword
    arguments (retry defaults, driver info, ...), minus the socket's; a
    ``parser_class`` (a connection argument the client does not take) is kept.
    Worked out by building a client (0.1-0.2 ms), once for each set of arguments."""
    parser = redis_kwargs.pop("parser_class", None)
    parts = [cls]
    for name, value in sorted(redis_kwargs.items()):
        try:
            hash(value)
            parts.append((name, value))
        except TypeError:  # (redis-py 8's DriverInfo): the object itself, kept alive below
            parts.append((name, "id", id(value)))
    key = tuple(parts)
    entry = _KWARGS_CACHE.get(key)
    if entry is None:
        made = dict(cls(**redis_kwargs).connection_pool.connection_kwargs)
        if len(_KWARGS_CACHE) > 100:
            _KWARGS_CACHE.clear()
        entry = _KWARGS_CACHE[key] = (made, list(redis_kwargs.values()))
    kw = dict(entry[0])  # (a retry policy in it: each connection copies its own)
    for name in _SOCKET_ONLY:
        kw.pop(name, None)
    kw.pop("maint_notifications_config", None)
    _no_endpoint(kw, connection_class)
    if parser is not None:
        kw["parser_class"] = parser
    return kw


def client(server=None, single_connection_client=False, **redis_kwargs):
    """A ``redis.Redis`` whose connections reach ``server`` (what
    :func:`vermilion.start_server` returned; None: :func:`default_server`) in
    process. ``redis_kwargs`` are ``redis.Redis``'s (db, password, decode_responses,
    protocol, socket_timeout, max_connections, ...), with its defaults, and
    ``parser_class`` (redis-py's parser; the default is hiredis when installed)."""
    if server is None:
        server = default_server()
    _target(server)
    kw = _connection_kwargs(redis_kwargs, redis.Redis, redis.connection.AbstractConnection)
    pool = redis.ConnectionPool(connection_class=InProcessConnection, server=server, **kw)
    r = redis.Redis(connection_pool=pool, single_connection_client=single_connection_client)
    r.auto_close_connection_pool = True  # close() hangs up, as a Redis(host, port) does
    return r


def async_client(server=None, single_connection_client=False, **redis_kwargs):
    """A ``redis.asyncio.Redis`` whose connections reach ``server`` in process; on the
    server's own event loop (:func:`vermilion.embed.serve`) requests run directly."""
    if server is None:
        server = default_server()
    _target(server)
    kw = _connection_kwargs(
        redis_kwargs, redis.asyncio.Redis, redis.asyncio.connection.AbstractConnection
    )
    pool = redis.asyncio.ConnectionPool(
        connection_class=InProcessAsyncConnection, server=server, **kw
    )
    r = redis.asyncio.Redis(connection_pool=pool, single_connection_client=single_connection_client)
    r.auto_close_connection_pool = True
    return r
