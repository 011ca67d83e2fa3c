"""The I/O layer: one ``asyncio.Protocol`` per connection, nothing more.

It moves bytes: what the socket delivers is fed to the client's RESP reader, the
commands that come out are executed in order, and everything they answered is
written back with a single ``transport.write``. It also applies backpressure:
when the kernel buffer toward a client is full (``pause_writing``) we stop
reading from that client until it drains, so a client that pipelines without
reading cannot make us buffer without bound.

A client blocked in BLPOP (or postponed by CLIENT PAUSE) keeps the rest of its
pipeline in ``c.pending``; :func:`resume` runs it once the client is free again,
exactly as Redis processes a client's query buffer after unblocking it.
"""
import asyncio
import socket
import time

from ..commands.table import execute_batch
from ..protocol.encoder import error_bytes
from .client import Client

_monotonic = time.monotonic


def run_commands(c, cmds, start=0):
    """Execute cmds[start:] for client c; keep the rest if it blocks."""
    i = execute_batch(c, cmds, start)
    if i < len(cmds) and not c.close_after_reply:
        c.pending = cmds[i:]
    else:
        c.pending = None


def resume(c):
    """Run what a client pipelined while it was blocked or paused."""
    if c.closed or c.blocked is not None:
        return
    pending = c.pending
    c.pending = None
    if pending:
        run_commands(c, pending)
    if c.pending is None and c.reader.error is not None and not c.close_after_reply:
        protocol_error(c)
    c.flush()
    if c.pending is None and c.paused_reading and c.conn is not None:
        c.conn.resume_if_possible()


def protocol_error(c):
    c.out.append(error_bytes("ERR " + c.reader.error))
    c.close_after_reply = True
    c.server.log_verbose("Protocol error (%s) from client: id=%d addr=%s"
                         % (c.reader.error, c.id, c.addr))


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
        server.clients[c.id] = c
        server.stats_connections += 1

    def data_received(self, data):
        c = self.client
        if c.closed or c.close_after_reply:
            return
        c.tot_net_in += len(data)
        c.last_interaction = _monotonic()
        cmds = c.reader.feed(data)
        if c.pending is not None or c.blocked is not None:
            # Blocked or paused: keep the commands in order for resume().
            if cmds:
                if c.pending is None:
                    c.pending = cmds
                else:
                    c.pending.extend(cmds)
            if c.reader.error is None:
                self._check_query_limit(c)
                return
            if c.blocked is not None:
                return
        elif cmds:
            run_commands(c, cmds)
        if c.reader.error is not None and c.pending is None and not c.close_after_reply:
            protocol_error(c)
        else:
            self._check_query_limit(c)
        if c.out:
            c.flush()

    def _check_query_limit(self, c):
        if c.reader.pending() > self.server.client_query_buffer_limit:
            self.server.log_warning(
                "Closing client that reached max query buffer length: id=%d addr=%s "
                "(qbuf initial bytes: ...)" % (c.id, c.addr))
            c.out.clear()
            c.close_after_reply = True
            self.transport.close()

    def connection_lost(self, exc):
        c = self.client
        if c is None:
            return
        c.closed = True
        self.server.client_gone(c)

    # Backpressure: the kernel buffer toward the client is full.
    def pause_writing(self):
        self._write_paused = True
        c = self.client
        if c is not None and not c.paused_reading:
            c.paused_reading = True
            try:
                self.transport.pause_reading()
            except Exception:
                pass
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
