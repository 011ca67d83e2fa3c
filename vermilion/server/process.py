"""The process around the server: its pid file, its file-descriptor limit, its ports.

A Redis server is also a Unix process, and a few of its parameters speak to the
operating system rather than to the data:

* ``pidfile`` (createPidFile / removePidFile): when this server owns the process
  (``Config.process_owner``: the CLI, not an embedded server sharing a test
  process), the process id is written there at start-up and the file is removed
  once a shutdown is certain (one of ``server.hooks_on_shutdown``).
* ``maxclients`` (adjustOpenFilesLimit): every client is a file descriptor, so
  raising ``maxclients`` raises ``RLIMIT_NOFILE`` to fit it plus 32 descriptors
  Redis keeps for itself. When the system refuses, CONFIG SET answers Redis's
  "try with N" error and the old value stays.
* ``port`` and ``bind`` (changeListenPort / changeBindAddr): CONFIG SET of either
  listens on the new TCP addresses *before* closing the old ones, keeping a
  listener whose address did not change; if any new address cannot be bound,
  nothing changes and CONFIG SET answers Redis's error. TLS listeners belong to
  :mod:`vermilion.server.tls` and are left alone; so is the unix socket.

The hook below attaches all three to every server (the server module imports
this one, so a server always has them).
"""

import asyncio
import errno
import os
import resource
import socket

from ..core.bootstrap import on_server_init
from ..core.config import ConfigError


@on_server_init
def _init(server):
    cfg = server.config

    def maxclients(value):
        adjust_open_files(server, int(value))
        server.maxclients = int(value)

    pidfile = cfg.get("pidfile")
    if pidfile and cfg.process_owner:
        write_pidfile(server, pidfile)
    cfg.add_hook("maxclients", maxclients)
    cfg.add_hook(
        "port",
        lambda v: rebind(
            server,
            int(v),
            cfg.get("bind").split(),
            "Unable to listen on this port. Check server logs.",
        ),
    )
    cfg.add_hook(
        "bind",
        lambda v: rebind(server, server.port, v.split(), "Failed to bind to specified addresses."),
    )
    # (the tls-* parameters are applied by vermilion/server/tls.py)


def write_pidfile(server, path):
    """createPidFile / removePidFile: the process id while the server runs."""
    try:
        with open(path, "w") as fh:
            fh.write("%d\n" % os.getpid())
    except OSError as e:
        server.log_warning("Failed to write PID file: %s" % e.strerror)
        return

    def remove(save):
        server.log_notice("Removing the pid file.")
        try:
            os.unlink(path)
        except OSError:
            pass

    server.hooks_on_shutdown.append(remove)


def rebind(server, port, binds, error):
    """changeListenPort / changeBindAddr: listen on the new TCP addresses, keeping the
    listeners already on one of them (a failure leaves everything as it was), then
    close the listeners that are no longer wanted."""
    loop = server.loop
    if loop is None:
        return  # not started yet: start() will listen with the configured values
    tcp = (socket.AF_INET, socket.AF_INET6)
    existing = {}
    tls = server.tls_listeners  # kept by vermilion/server/tls.py
    for srv in server.listeners:
        if srv.sockets and srv.sockets[0].family in tcp and srv not in tls:
            name = srv.sockets[0].getsockname()
            existing[(name[0], name[1])] = srv
    keep = set()
    socks = []
    try:
        for addr in binds if port else ():
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            host = {"*": "0.0.0.0", "::*": "::"}.get(host, host)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                ip = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4][0]
            except (OSError, UnicodeError):
                ip = host
            if (ip, port) in existing:
                keep.add((ip, port))
                continue
            s = socket.socket(family, socket.SOCK_STREAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host, port))
                s.listen(server.config.get_int("tcp-backlog"))
                s.setblocking(False)
            except OSError as e:
                s.close()
                if optional or (
                    family == socket.AF_INET6
                    and e.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL)
                ):
                    continue
                server.log_warning("Failed listening on %s:%d: %s" % (host, port, e.strerror))
                raise
            socks.append(s)
    except (OSError, OverflowError):
        for s in socks:
            s.close()
        raise ConfigError(error)
    for key, srv in existing.items():
        if key not in keep:
            srv.close()
            server.listeners.remove(srv)

    def started(fut):
        if fut.exception() is None:
            server.listeners.append(fut.result())

    for s in socks:
        asyncio.ensure_future(
            loop.create_server(server.make_protocol, sock=s), loop=loop
        ).add_done_callback(started)
    server.port = port


def adjust_open_files(server, maxclients):
    """adjustOpenFilesLimit: raise RLIMIT_NOFILE to fit maxclients + 32 reserved fds."""
    need = maxclients + 32
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    target = need if hard == resource.RLIM_INFINITY else min(need, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    except (OSError, ValueError):
        pass
    if soft < need:
        raise ConfigError(
            "The operating system is not able to handle the specified number "
            "of clients, try with %d" % max(1, soft - 32)
        )
