"""Running Vermilion inside a Python program or a test suite.

Two ways, both giving a real server on real sockets:

* :func:`start_server` starts one on its own thread with its own event loop and
  returns when it accepts connections::

      with vermilion.start_server() as srv:          # free port on 127.0.0.1
          r = redis.Redis(host=srv.host, port=srv.port)

* :func:`serve` starts one on the asyncio loop you are already running::

      srv = await vermilion.embed.serve(port=0)
      ...
      await srv.aclose()

  or, as a context manager, ``async with await vermilion.embed.serve() as srv:``.

Options are Redis configuration parameters (``save=""``, ``requirepass="x"``,
``unixsocket="/tmp/v.sock"``, or a dict via ``config=``); a refused one raises
:class:`ConfigError` naming the option and the value. Embedded servers default to
``save ""`` (no snapshots), port 0 (a free port) and a private working directory
in ``/tmp`` that is removed when the server stops, or when it fails to start.
Both handles have ``host``, ``port``, ``unixsocket`` and ``url`` (``redis://host:port/0``,
or ``unix:///path`` for a server on a unix socket only), which redis-py's
``from_url`` takes as it is.

Both also have ``clock``, the time the server's data sees, which a test can move
(``srv.clock.advance(10)``, ``freeze()``, ``unfreeze()``, ``set(ts)``, ``reset()``;
see :mod:`vermilion.keyspace.clock`): TTLs, active expiry, blocking timeouts,
OBJECT IDLETIME/FREQ, stream IDs and TIME follow it. An :class:`EmbeddedServer`'s
clock runs each change on the server's thread and returns when it is done (the
keys now expired deleted, the timed-out blocked clients answered).
"""

import asyncio
import concurrent.futures
import contextlib
import os
import shutil
import tempfile
import threading
from typing import Any, Iterator, Mapping

from .core.config import Config, ConfigError, canonical
from .acl import check_user_directive  # noqa: F401  (importing acl registers it with the config parser)
from .server.server import Server


def _make_config(
    port: int,
    host: str | None,
    unixsocket: str | None,
    config: Mapping[str, Any] | None,
    options: dict[str, Any],
) -> Config:
    """The Config for an embedded server. Owns a fresh temporary ``dir`` unless one is
    given (``cfg.owned_dir``); a refused option raises ConfigError naming it, and
    removes that directory first."""
    cfg = Config()
    values = {"save": "", "port": str(port or 0), "bind": host, "loglevel": "warning"}
    if unixsocket:
        values["unixsocket"] = unixsocket
        if port == 0 and host is None:
            values["port"] = "0"
    values.update({k.replace("_", "-"): v for k, v in options.items()})
    if config:
        values.update(config)
    if not values.get("dir"):
        # An embedded server gets a private working directory unless told otherwise,
        # so it never loads or overwrites a dump.rdb/AOF lying in the caller's cwd.
        values["dir"] = tempfile.mkdtemp(prefix="vermilion-")
        cfg.owned_dir = values["dir"]
    try:
        for k, v in values.items():
            if v is None:
                continue
            if isinstance(v, bool):
                v = "yes" if v else "no"
            try:
                cfg.set(canonical(k), str(v), apply=False)
            except ConfigError as e:
                # Config.set gives Redis's reason only ("argument must be a memory
                # value"); a caller passing a dozen keyword arguments needs the name
                raise _named(e, k, v) from None
    except BaseException:
        _remove_dir(getattr(cfg, "owned_dir", None))
        raise
    return cfg


def _named(e: ConfigError, name: str, value: Any) -> ConfigError:
    """The ConfigError ``e`` with the option and value in front of Redis's reason;
    ``option`` and ``value`` attributes carry them too."""
    named = ConfigError("%s=%r: %s" % (name, value, e.msg), e.line, e.lineno)
    named.option = name
    named.value = value
    return named


def _build(cfg: Config) -> Server:
    from .commands import load_all  # the whole server, only when one is built

    load_all()
    server = Server(cfg)
    return server


def _add_modules(cfg: Config, modules: Any) -> None:
    """``modules=["a.py", ("b.py", "arg1", ...)]``: loadmodule directives."""
    for m in modules or ():
        single = isinstance(m, (str, bytes)) or hasattr(m, "__fspath__")
        entry = [os.fsdecode(m)] if single else [os.fsdecode(x) for x in m]
        cfg.extra.setdefault("loadmodule", []).append(entry)


def _build_embedded(cfg: Config, port: int, unixsocket: str | None) -> Server:
    try:
        server = _build(cfg)
    except SystemExit as e:  # a module failed to load (commands/modules.py: ModuleLoadError)
        _remove_dir(getattr(cfg, "owned_dir", None))
        raise ConfigError(str(e.code)) from None
    except BaseException:
        _remove_dir(getattr(cfg, "owned_dir", None))
        raise
    server.ephemeral_port = port == 0
    return server


# Where a client reaches a server listening on a wildcard address
_WILDCARD = {"*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::*": "::1", "::": "::1"}


class _Handle:
    """What both handles share: where the server listens."""

    server: Server

    @property
    def host(self) -> str:
        binds = (self.server.config.get("bind") or "").split()
        host = binds[0].lstrip("-") if binds else "127.0.0.1"
        return _WILDCARD.get(host, host)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def unixsocket(self) -> str | None:
        return self.server.unixsocket

    @property
    def url(self) -> str:
        """``redis://host:port/0`` (TCP first), else ``unix:///path/to.sock``."""
        if self.server.port:
            host = self.host
            if ":" in host:
                host = "[%s]" % host
            return "redis://%s:%d/0" % (host, self.port)
        return "unix://%s" % self.unixsocket

    def __repr__(self) -> str:
        return "<%s %s>" % (type(self).__name__, self.url)


class ThreadClock:
    """``EmbeddedServer.clock``: the server's :class:`~vermilion.keyspace.clock.Clock`,
    used from any thread. Each change runs on the server's own thread, and returns
    once the server has caught up; reading it (``time()``, ``moved``) is direct."""

    def __init__(self, handle: "EmbeddedServer") -> None:
        self._handle = handle

    def _run(self, name: str, *args: Any) -> float:
        handle = self._handle
        fn = getattr(handle.server.clock, name)
        if threading.get_ident() == handle.thread.ident:
            return fn(*args)  # already on the server's thread (a hook, an in-process call)
        done: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(fn(*args))
            except BaseException as e:
                done.set_exception(e)

        handle.loop.call_soon_threadsafe(run)
        return done.result(timeout=30)

    def advance(self, seconds: Any) -> float:
        """Let ``seconds`` (number or timedelta) pass at once; returns the new time."""
        return self._run("advance", seconds)

    def freeze(self, at: Any = None) -> float:
        """Stop the clock (now, or at ``at``: Unix seconds or a datetime)."""
        return self._run("freeze", at)

    def unfreeze(self) -> float:
        """Let a frozen clock run again from where it stands."""
        return self._run("unfreeze")

    resume = unfreeze

    def set(self, when: Any) -> float:
        """Jump to ``when`` (Unix seconds or a datetime); a frozen clock stays frozen."""
        return self._run("set", when)

    def reset(self) -> float:
        """Real time again."""
        return self._run("reset")

    def time(self) -> float:
        """The clock's time, in seconds since the epoch."""
        return self._handle.server.clock.time()

    @property
    def moved(self) -> bool:
        return self._handle.server.clock.moved

    @property
    def frozen(self) -> bool:
        return self._handle.server.clock.frozen

    def __repr__(self) -> str:
        return repr(self._handle.server.clock)


class EmbeddedServer(_Handle):
    """Handle on a server running in a background thread."""

    def __init__(
        self, server: Server, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.server = server
        self.loop = loop
        self.thread = thread
        self.clock = ThreadClock(self)

    def stop(self, timeout: float = 10) -> None:
        """Stop the server (no final save), wait for its thread, remove its private
        directory. Quiet: Redis's two shutdown log lines are for an operator, not for
        a program stopping its own server."""
        if self.thread.is_alive():
            try:
                self.loop.call_soon_threadsafe(_quiet_shutdown, self.server)
            except RuntimeError:
                pass  # the loop closed meanwhile: the server stopped itself (SHUTDOWN)
            self.thread.join(timeout)
        _remove_owned_dir(self.server)

    def __enter__(self) -> "EmbeddedServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    port: int = 0,
    host: str | None = "127.0.0.1",
    unixsocket: str | None = None,
    config: Mapping[str, Any] | None = None,
    pure_python: bool = False,
    modules: Any = (),
    **options: Any,
) -> EmbeddedServer:
    """Start a server on its own thread; returns an :class:`EmbeddedServer`.

    ``pure_python=True`` runs it without the optional accelerators (stdlib asyncio
    instead of uvloop, the Python RESP reader instead of hiredis): the fallbacks
    every installation without them uses, and which the tests check behave the same.
    ``modules``: Python modules to load (paths, or ``(path, arg, ...)`` tuples), as
    ``--loadmodule`` does; one that fails raises ConfigError.
    """
    cfg = _make_config(port, host, unixsocket, config, options)
    _add_modules(cfg, modules)
    server = _build_embedded(cfg, port, unixsocket)
    if pure_python:
        server.use_hiredis = False
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop() if pure_python else _new_loop()
        asyncio.set_event_loop(loop)
        holder["loop"] = loop

        async def main() -> None:
            try:
                with _without_routine_lines(server):
                    await server.start()
            except BaseException as e:
                for srv in server.listeners:  # a TCP listener opened before a later one failed
                    srv.close()
                failure.append(e)
                ready.set()
                return
            ready.set()
            await server.stopped

        try:
            loop.run_until_complete(main())
            loop.run_until_complete(asyncio.sleep(0))
        finally:
            loop.close()

    holder: dict[str, asyncio.AbstractEventLoop] = {}
    thread = threading.Thread(target=run, name="vermilion-%s" % (port or unixsocket), daemon=True)
    thread.start()
    ready.wait()
    if failure:
        thread.join()
        _remove_owned_dir(server)
        raise failure[0]
    return EmbeddedServer(server, holder["loop"], thread)


class AsyncServer(_Handle):
    """Handle on a server running on the caller's event loop (see :func:`serve`)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        # the server's own Clock: it runs on this loop, so calls from the loop's
        # thread change it directly
        self.clock = server.clock

    async def aclose(self) -> None:
        """Stop the server (no final save), quietly, and remove its private directory."""
        server = self.server
        if not server.stopping:
            _quiet_shutdown(server)
        for srv in server.listeners:
            await srv.wait_closed()
        await asyncio.sleep(0)  # the clients' connection_lost callbacks
        _remove_owned_dir(server)

    async def __aenter__(self) -> "AsyncServer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def serve(
    port: int = 0,
    host: str | None = "127.0.0.1",
    unixsocket: str | None = None,
    config: Mapping[str, Any] | None = None,
    modules: Any = (),
    **options: Any,
) -> AsyncServer:
    """Start a server on the running event loop; returns an :class:`AsyncServer`
    (``await srv.aclose()``, or ``async with await serve() as srv:``); ``modules``
    as for :func:`start_server`."""
    cfg = _make_config(port, host, unixsocket, config, options)
    _add_modules(cfg, modules)
    server = _build_embedded(cfg, port, unixsocket)
    try:
        with _without_routine_lines(server):
            await server.start()
    except BaseException:
        for srv in server.listeners:  # the TCP listener opened before the unix socket failed
            srv.close()
        _remove_owned_dir(server)
        raise
    return AsyncServer(server)


# Redis's routine start and shutdown lines, which an embedding program did not ask
# to see (anything else the server logs, a failing AOF flush for one, still shows)
_ROUTINE_LINES = frozenset(
    ("Server initialized", "User requested shutdown...", "Redis is now ready to exit, bye bye...")
)


@contextlib.contextmanager
def _without_routine_lines(server: Server) -> Iterator[None]:
    log = server.log

    def quiet_log(level: int, msg: str) -> None:
        if msg not in _ROUTINE_LINES:
            log(level, msg)

    server.log = quiet_log  # type: ignore[method-assign]  # (an instance override)
    try:
        yield
    finally:
        del server.log  # back to the class's method


def _quiet_shutdown(server: Server) -> None:
    """request_shutdown without its routine log lines."""
    with _without_routine_lines(server):
        server.request_shutdown(False)


def _remove_owned_dir(server: Server) -> None:
    _remove_dir(getattr(server.config, "owned_dir", None))


def _remove_dir(path: str | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # optional accelerator (the fast extra)

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


__all__ = ["start_server", "serve", "EmbeddedServer", "ConfigError"]
