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

Options are Redis configuration parameters (``save=""``, ``requirepass="x"``,
``unixsocket="/tmp/v.sock"``, or a dict via ``config=``). Embedded servers
default to ``save ""`` (no snapshots) and port 0 (a free port).
"""
import asyncio
import shutil
import tempfile
import threading

from .core.config import Config, ConfigError, canonical
from .acl import check_user_directive  # noqa: F401  (importing acl registers it with the config parser)
from .server.server import Server


def _make_config(port, host, unixsocket, config, options):
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
    for k, v in values.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "yes" if v else "no"
        cfg.set(canonical(k), str(v), apply=False)
    return cfg


def _build(cfg):
    from .commands import load_all   # the whole server, only when one is built
    load_all()
    server = Server(cfg)
    return server


def _build_embedded(cfg, port, unixsocket):
    server = _build(cfg)
    server.ephemeral_port = port == 0
    return server


class EmbeddedServer:
    """Handle on a server running in a background thread."""

    def __init__(self, server, loop, thread):
        self.server = server
        self.loop = loop
        self.thread = thread

    @property
    def host(self):
        return self.server.config.get("bind").split()[0].lstrip("-")

    @property
    def port(self):
        return self.server.port

    @property
    def unixsocket(self):
        return self.server.unixsocket

    @property
    def url(self):
        if self.server.port:
            return "redis://%s:%d" % (self.host, self.port)
        return "unix://%s" % self.unixsocket

    def stop(self, timeout=10):
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.server.request_shutdown, False)
            self.thread.join(timeout)
        _remove_owned_dir(self.server)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_server(port=0, host="127.0.0.1", unixsocket=None, config=None,
                 pure_python=False, **options):
    """Start a server on its own thread; returns an :class:`EmbeddedServer`.

    ``pure_python=True`` runs it without the optional accelerators (stdlib asyncio
    instead of uvloop, the Python RESP reader instead of hiredis): the fallbacks
    every installation without them uses, and which the tests check behave the same.
    """
    cfg = _make_config(port, host, unixsocket, config, options)
    server = _build_embedded(cfg, port, unixsocket)
    if pure_python:
        server.use_hiredis = False
    ready = threading.Event()
    failure = []

    def run():
        loop = asyncio.new_event_loop() if pure_python else _new_loop()
        asyncio.set_event_loop(loop)
        holder["loop"] = loop

        async def main():
            try:
                await server.start()
            except BaseException as e:
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

    holder = {}
    thread = threading.Thread(target=run, name="vermilion-%s" % (port or unixsocket), daemon=True)
    thread.start()
    ready.wait()
    if failure:
        thread.join()
        raise failure[0]
    return EmbeddedServer(server, holder["loop"], thread)


class AsyncServer:
    def __init__(self, server):
        self.server = server

    @property
    def port(self):
        return self.server.port

    async def aclose(self):
        self.server.request_shutdown(False)
        await asyncio.sleep(0)
        _remove_owned_dir(self.server)


async def serve(port=0, host="127.0.0.1", unixsocket=None, config=None, **options):
    """Start a server on the running event loop."""
    cfg = _make_config(port, host, unixsocket, config, options)
    server = _build_embedded(cfg, port, unixsocket)
    await server.start()
    return AsyncServer(server)


def _remove_owned_dir(server):
    owned = getattr(server.config, "owned_dir", None)
    if owned:
        shutil.rmtree(owned, ignore_errors=True)


def _new_loop():
    try:
        import uvloop  # optional accelerator (the fast extra)
        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


__all__ = ["start_server", "serve", "EmbeddedServer", "ConfigError"]
