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

* ``proc-title-template`` and ``set-proc-title`` (redisSetProcTitle): the
  command line ``ps`` shows becomes the expanded template, by default
  ``<title> <listen-addr> <server-mode>`` (``vermilion 127.0.0.1:6379``;
  ``{title}`` is the program as started, or $VERMILION_ARGV0 when a wrapper
  script names itself there). Set at start-up and again when the template, the
  port or the bind address changes. Rewriting the command line needs the C
  library ``setproctitle`` (the ``fast`` extra); without it the title stays, as
  on a Redis built without USE_SETPROCTITLE.

* ``oom-score-adj`` and ``oom-score-adj-values`` (setOOMScoreAdj): on Linux the
  kernel's OOM killer is told, through /proc/self/oom_score_adj, which process
  to sacrifice first: a master (first value), a replica (second) or a fork child
  saving or rewriting (third); ``relative`` (or ``yes``) adds the value to the
  score the process had when the server first took control of it, ``absolute``
  writes it as it is, ``no`` gives that first score back. Applied at start-up,
  on CONFIG SET, when the role changes and in every fork child.

The hook below attaches all of them to every server (the server module imports
this one, so a server always has them).
"""

import asyncio
import errno
import os
import resource
import socket
import sys

from ..core.bootstrap import on_server_init
from ..core.config import ConfigError, expand_proc_title


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

    def port(v):
        rebind(
            server,
            int(v),
            cfg.get("bind").split(),
            "Unable to listen on this port. Check server logs.",
        )
        set_proc_title(server)

    def bind(v):
        rebind(server, server.port, v.split(), "Failed to bind to specified addresses.")
        set_proc_title(server)

    cfg.add_hook("port", port)
    cfg.add_hook("bind", bind)

    def oom(v):
        if not set_oom_score_adj(server):
            raise ConfigError("Failed to set current oom_score_adj. Check server logs.")

    cfg.add_hook("oom-score-adj", oom)
    cfg.add_hook("oom-score-adj-values", oom)
    server.startup_hooks = tuple(server.startup_hooks) + (lambda: set_oom_score_adj(server),)
    cfg.add_hook("proc-title-template", lambda v: set_proc_title(server))
    cfg.add_hook("set-proc-title", lambda v: set_proc_title(server))
    server.startup_hooks = tuple(server.startup_hooks) + (lambda: set_proc_title(server),)
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


# ---------------------------------------------------------------- the title
def proc_title(server, title=None):
    """The expanded proc-title-template (redisSetProcTitle's string)."""
    cfg = server.config
    if title is None:
        title = os.environ.get("VERMILION_ARGV0") or sys.argv[0]
    port = server.port
    tls_port = cfg.get_int("tls-port")
    unixsocket = cfg.get("unixsocket") or ""
    if port or tls_port:
        binds = (cfg.get("bind") or "").split()
        listen = "%s:%d" % (binds[0] if binds else "*", port or tls_port)
    else:
        listen = "unixsocket:%s" % unixsocket
    return expand_proc_title(
        cfg.get("proc-title-template"),
        {
            "title": title,
            "listen-addr": listen,
            "server-mode": "[cluster]" if server.cluster is not None else "",
            "config-file": cfg.config_file or "-",
            "port": "%d" % port,
            "tls-port": "%d" % tls_port,
            "unixsocket": unixsocket,
        },
    )


def set_proc_title(server, title=None):
    """Show the title in ``ps`` when this server owns its process."""
    cfg = server.config
    if not cfg.process_owner or cfg.get("set-proc-title") != "yes":
        return
    try:
        import setproctitle  # (optional; only a server owning its process needs it)
    except ImportError:
        return
    text = proc_title(server, title)
    if text:
        setproctitle.setproctitle(text)


# ------------------------------------------------------------ the OOM score
OOM_MASTER, OOM_REPLICA, OOM_BGCHILD = 0, 1, 2
_OOM_PATH = "/proc/self/oom_score_adj"


def set_oom_score_adj(server, process_class=None):
    """setOOMScoreAdj for this process as a master, a replica (``None``: as the
    server is now) or a fork child (OOM_BGCHILD). False when /proc refused
    (logged). Only a server that owns its process touches it."""
    cfg = server.config
    if not cfg.process_owner or not os.path.exists(_OOM_PATH):
        return True
    if process_class is None:
        process_class = OOM_REPLICA if server.is_replica else OOM_MASTER
    mode = cfg.get("oom-score-adj")
    if mode != "no":
        if getattr(server, "oom_score_base", None) is None:
            try:
                with open(_OOM_PATH) as fh:
                    server.oom_score_base = int(fh.read().strip() or 0)
            except (OSError, ValueError) as e:
                server.log_warning("Unable to read oom_score_adj: %s" % getattr(e, "strerror", e))
                return False
        val = int(cfg.get("oom-score-adj-values").split()[process_class])
        if mode != "absolute":
            val += server.oom_score_base
        val = max(-1000, min(1000, val))
    elif getattr(server, "oom_score_base", None) is not None:
        val = server.oom_score_base  # handed back: the score before we took it
        server.oom_score_base = None
    else:
        return True
    try:
        with open(_OOM_PATH, "w") as fh:
            fh.write("%d\n" % val)
    except OSError as e:
        server.log_warning("Unable to write oom_score_adj: %s" % e.strerror)
        return False
    return True
