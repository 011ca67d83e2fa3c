"""The I/O layer: one ``asyncio.Protocol`` per connection, nothing more.

It moves bytes: what the socket delivers is fed to the client's RESP reader, the
commands that come out are executed in order, and everything they answered is
written back with a single ``transport.write`` at the end of the event-loop
step, after every readable client was served (see core/client.py). It also
applies backpressure:
when the kernel buffer toward a client is full (``pause_writing``) we stop
reading from that client until it drains, so a client that pipelines without
reading cannot make us buffer without bound.

A client blocked in BLPOP (or postponed by CLIENT PAUSE) keeps the rest of its
pipeline in ``c.pending``; :func:`resume` runs it once the client is free again,
exactly as Redis processes a client's query buffer after unblocking it.

Admission
---------
Before a connection becomes a client it passes two gates, in Redis's order:
``maxclients`` and then *protected mode* (:func:`accept_denied`). Protected
mode is Redis's safety net for the default configuration: while
``protected-mode`` is ``yes`` and the default user needs no password, only a
*local* client may talk to the server, a unix-socket client or a TCP peer whose
address is exactly ``127.0.0.1`` or ``::1``. Anyone else gets one ``-DENIED``
line explaining how to open the server up, and the connection is closed. Since
7.0 an explicit ``bind`` changes nothing (6.x skipped the check when ``bind``
was given); what opens the server is ``CONFIG SET protected-mode no`` or a
password for the default user (``requirepass``, ``ACL SETUSER default >pw`` or
``resetpass``), which the check reads at every accept, so a change made at run
time applies to the next connection. A TLS connection is judged after its
handshake, as Redis's clientAcceptHandler runs after connAccept.
"""

import asyncio
import socket
import time

from ..core.dispatch import execute_batch, execute_one, resume, protocol_error  # noqa: F401  (resume re-exported)
from ..core.client import Client

_monotonic = time.monotonic

# Redis's islocalClient(): the peer's address, as inet_ntop writes it, is one of
# these two strings. 127.0.0.2 or ::ffff:127.0.0.1 are not "local" to Redis, and
# erring on the refusing side is the safe direction, so neither are they here.
_LOCAL_PEERS = frozenset(("127.0.0.1", "::1"))

PROTECTED_MODE_DENIED = (
    b"-DENIED Redis is running in protected mode because protected "
    b"mode is enabled and no password is set for the default user. "
    b"In this mode connections are only accepted from the loopback interface. "
    b"If you want to connect from external computers to Redis you "
    b"may adopt one of the following solutions: "
    b"1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface "
    b"by connecting to Redis from the same host the server is "
    b"running, however MAKE SURE Redis is not publicly accessible "
    b"from internet if you do so. Use CONFIG REWRITE to make this "
    b"change permanent. "
    b"2) Alternatively you can just disable the protected mode by "
    b"editing the Redis configuration file, and setting the protected "
    b"mode option to 'no', and then restarting the server. "
    b"3) If you started the server manually just for testing, restart "
    b"it with the '--protected-mode no' option. "
    b"4) Setup a an authentication password for the default user. "
    b"NOTE: You only need to do one of the above things in order for "
    b"the server to start accepting connections from the outside.\r\n"
)


def is_local_peer(sock_or_peer):
    """Redis's islocalClient() for a socket, a ``getpeername()`` result, or None.

    A unix socket (an ``AF_UNIX`` socket object, a ``str``/``bytes`` path, the
    empty peername unix sockets report, or None) is local; a TCP peer is local
    when its address is exactly ``127.0.0.1`` or ``::1``.
    """
    peer = sock_or_peer
    if isinstance(peer, socket.socket):
        if peer.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        try:
            peer = peer.getpeername()
        except OSError:
            return False  # already gone: nothing local about it
    if peer is None or isinstance(peer, (str, bytes)):
        return True
    return peer[0] in _LOCAL_PEERS


def protected_mode_applies(server):
    """protected-mode is on and the default user has the ``nopass`` flag."""
    if server.config.values.get("protected-mode") != "yes":
        return False
    acl = server.acl
    if acl is not None:
        return acl.default_nopass()
    return not server.requirepass


def accept_denied(server, sock_or_peer):
    """Protected mode's verdict on a new connection: the bytes to write before
    closing it, or None when it may proceed.

    ``sock_or_peer`` is the accepted socket or its peer address (see
    :func:`is_local_peer`). This is the one place the rule lives: the event-loop
    accept path (:meth:`RedisProtocol.connection_made`) and any other code that
    accepts connections itself (``vermilion/server/blocked.py``, which serves
    new connections during a busy script) call it, then count
    ``server.stats_rejected_conn``, write the bytes and close, without creating
    a client (or forget the one created, as connection_made does).
    """
    if protected_mode_applies(server) and not is_local_peer(sock_or_peer):
        return PROTECTED_MODE_DENIED
    return None


class RedisProtocol(asyncio.Protocol):
    __slots__ = ("server", "client", "transport", "_write_paused")

    def __init__(self, server):
        self.server = server
        self.client = None
        self.transport = None
        self._write_paused = False

    def connection_made(self, transport):
        server = self.server
        self.transport = transport
        c = Client(server, transport, self)
        self.client = c
        sock = transport.get_extra_info("socket")
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        if sock is not None:
            c.fd = sock.fileno()
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    if server.tcp_keepalive > 0:
                        _keepalive(sock, server.tcp_keepalive)
                except OSError:
                    pass
            else:
                c.is_unix = True
        c.addr = _fmt_addr(peer, c.is_unix, server)
        c.laddr = _fmt_addr(local, c.is_unix, server)
        if len(server.clients) >= server.maxclients:
            server.stats_rejected_conn += 1
            transport.write(b"-ERR max number of clients reached\r\n")
            transport.close()
            c.closed = True
            return
        denied = accept_denied(server, None if c.is_unix else peer)
        if denied is not None:
            server.stats_rejected_conn += 1
            transport.write(denied)
            transport.close()
            c.closed = True
            return
        server.clients[c.id] = c
        server.stats_connections += 1

    def data_received(self, data):
        c = self.client
        if c.closed or c.close_after_reply:
            return
        c.tot_net_in += len(data)
        c.last_interaction = _monotonic()
        reader = c.reader
        if c.special or reader.unauth:
            # authRequired(): the reader refuses long requests until AUTH
            reader.unauth = not c.authenticated and self.server.auth_required()
        cmds = reader.feed(data)
        if c.pending is None and c.blocked is None:
            # the usual case: run what arrived; keep the rest if a command blocks
            if cmds:
                if len(cmds) == 1:  # (a client that does not pipeline)
                    execute_one(c, cmds[0])
                else:
                    i = execute_batch(c, cmds)
                    if i < len(cmds) and not c.close_after_reply:
                        c.pending = cmds[i:]
            while reader.more and c.pending is None and not c.close_after_reply:
                # the reader stopped after an AUTH/HELLO: the rest is read with the
                # client's new authentication state
                reader.more = False
                reader.unauth = not c.authenticated and self.server.auth_required()
                cmds = reader.feed(b"")
                if cmds:
                    i = execute_batch(c, cmds)
                    if i < len(cmds) and not c.close_after_reply:
                        c.pending = cmds[i:]
            if reader.error is not None:
                if c.pending is None and not c.close_after_reply:
                    protocol_error(c)
            elif reader.pending():
                self._check_query_limit(c)
            if c.out:
                self.server.schedule_flush(c)  # (written at the end of the loop step)
            return
        # Blocked or paused: keep the commands in order for resume(), which also
        # answers a protocol error once they have run.
        if cmds:
            if c.pending is None:
                c.pending = cmds
            else:
                c.pending.extend(cmds)
        if reader.error is None:
            self._check_query_limit(c)

    def _check_query_limit(self, c):
        server = self.server
        if server.client_eviction.limit:
            # a request still being read grows the query buffer: Redis updates the
            # client's memory after each read and may evict it before the next one
            server.client_eviction.after_read(c)
            if c.closed:
                return
        if c.reader.pending() > server.client_query_buffer_limit:
            self.server.log_warning(
                "Closing client that reached max query buffer length: id=%d addr=%s "
                "(qbuf initial bytes: ...)" % (c.id, c.addr)
            )
            c.out.clear()
            c.close_after_reply = True
            self.transport.close()

    def connection_lost(self, exc):
        c = self.client
        if c is None:
            return
        c.closed = True
        self.server.client_gone(c)

    # Backpressure: the kernel buffer toward the client is full. Like Redis, we go
    # on reading the client: its replies pile up in its output buffer, which counts
    # in used_memory (so maxmemory evicts keys, or maxmemory-clients the client)
    # and which client-output-buffer-limit bounds.
    def pause_writing(self):
        self._write_paused = True
        c = self.client
        if c is not None:
            self.server.check_output_limits(c)

    def resume_writing(self):
        self._write_paused = False
        self.resume_if_possible()

    def resume_if_possible(self):
        c = self.client
        if c is not None and c.paused_reading and not self._write_paused and not c.closed:
            c.paused_reading = False
            try:
                self.transport.resume_reading()
            except Exception:
                pass

    def eof_received(self):
        return False


def _keepalive(sock, interval):
    """anetKeepAlive: first probe after ``interval`` s, then every interval/3 s, 3 probes."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_KEEPIDLE"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, interval)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(interval // 3, 1))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)


def _fmt_addr(addr, is_unix, server):
    if is_unix:
        return "%s:0" % (addr or server.unixsocket or "")
    if not addr:
        return "?:0"
    host, port = addr[0], addr[1]
    if ":" in host:
        return "%s:%d" % (host, port)
    return "%s:%d" % (host, port)
