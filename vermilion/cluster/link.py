"""The cluster bus's connections (Redis's clusterLink), over asyncio.

Every pair of nodes talks over two TCP connections: the one each node opened to
the other's bus port (``node.link``, outbound) and the one the other opened to us
(``node.inbound_link``). A link only moves bytes: it frames the stream into
packets with :class:`~.bus.BusReader` and hands each one to the gossip engine
(:mod:`.gossip`), and it queues what the engine sends. A broken stream (a bad
signature, an I/O error) frees the link; the engine's cron opens a new outbound
link to a node that has none, as ``clusterCron`` does.

An outbound link exists from the moment the connection is attempted, so the
cron does not try twice; it is freed if the connection fails.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from .bus import BusError, BusReader

# frames decoded per data_received call before yielding to the loop is not
# limited: Redis also processes every complete packet it has read.


def _mstime() -> int:
    return int(time.time() * 1000)


class Link(asyncio.Protocol):
    """One bus connection. ``node`` is None for an inbound link until the peer
    says who it is."""

    def __init__(self, engine: Any, node: Any, inbound: bool) -> None:
        self.engine = engine
        self.node = node
        self.inbound = inbound
        self.ctime = _mstime()
        self.transport: asyncio.Transport | None = None
        self.reader = BusReader()
        self.freed = False
        self.pending: list[bytes] = []  # queued before the connection is made
        self.peer_ip = ""
        self.local_ip = ""
        self.conn_task: asyncio.Task | None = None
        if not inbound:
            node.link = self

    # ------------------------------------------------------------ asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.freed:
            transport.close()
            return
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.peer_ip = _ip_text(peer[0]) if peer else ""
        self.local_ip = _ip_text(local[0]) if local else ""
        if self.pending:
            for data in self.pending:
                transport.write(data)  # type: ignore[attr-defined]
            self.pending = []
        if self.inbound:
            self.engine.log_verbose(
                "Accepting cluster node connection from %s:%d"
                % (self.peer_ip, peer[1] if peer else 0)
            )
            self.engine.inbound_links.add(self)
        else:
            self.engine.link_connected(self)

    def data_received(self, data: bytes) -> None:
        if self.freed:
            return
        reader = self.reader
        reader.feed(data)
        engine = self.engine
        try:
            for frame in reader.frames():
                engine.process_frame(self, frame)
                if self.freed:
                    return
        except BusError:
            engine.log_warning("Bad message length or signature received from Cluster bus.")
            self.free()

    def connection_lost(self, exc: Exception | None) -> None:
        self.free()

    # ------------------------------------------------------------ sending
    def send(self, data: bytes) -> None:
        if self.freed:
            return
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.write(data)

    @property
    def send_buffer_used(self) -> int:
        t = self.transport
        if t is None:
            return sum(len(d) for d in self.pending)
        return t.get_write_buffer_size()

    def free(self) -> None:
        """freeClusterLink: close it and unhook it from its node."""
        if self.freed:
            return
        self.freed = True
        node = self.node
        if node is not None:
            if node.link is self:
                node.link = None
            elif node.inbound_link is self:
                node.inbound_link = None
        self.engine.inbound_links.discard(self)
        if self.conn_task is not None and not self.conn_task.done():
            self.conn_task.cancel()
        if self.transport is not None:
            self.transport.close()


def _ip_text(ip: str) -> str:
    """Redis prints IPv4-mapped IPv6 peers as the plain IPv4 address."""
    if ip.startswith("::ffff:") and "." in ip:
        return ip[7:]
    return ip


async def connect(link: Link, ip: str, port: int) -> None:
    """Open ``link`` (outbound) to ip:port; free it if that fails."""
    engine = link.engine
    loop = asyncio.get_running_loop()
    try:
        source = engine.server.config.get("bind-source-addr")
        try:
            # bind-source-addr, best effort as for the replication link
            await loop.create_connection(
                lambda: link, ip, port, local_addr=(source, 0) if source else None
            )
        except OSError:
            if not source:
                raise
            await loop.create_connection(lambda: link, ip, port)
    except (OSError, asyncio.CancelledError, ValueError) as e:
        node = link.node
        if not link.freed and node is not None:
            engine.log_verbose(
                "Connection with Node %s at %s:%d failed: %s"
                % (node.name, ip, port, getattr(e, "strerror", None) or e)
            )
            # a node we cannot even connect to counts as not answering our ping
            if node.ping_sent == 0:
                node.ping_sent = _mstime()
        link.free()
