"""The cluster bus conversation: what nodes tell each other, and what we do about it.

This is the talking half of Redis's cluster.c. Every node pings a few others
every second and answers every ping with a pong; both carry the sender's
*header* (its name, role, epochs, replication offset and the bitmap of slots its
master serves) and a *gossip section* about a few other nodes it knows. From that
alone each node learns the whole cluster, and keeps learning:

* **Joining.** ``CLUSTER MEET ip port`` creates a node in ``handshake`` under a
  random name; our MEET reaches it, it answers with a PONG carrying its real
  name, and we rename the node. Nodes it gossips about are then met the same way.
* **Slots.** A master's claim in the header is accepted when its config epoch is
  newer than the current owner's (:meth:`~.state.ClusterState.update_slots_config_with`);
  a node that claims stale slots gets an UPDATE message with the newer claim.
* **Failure detection.** A node that does not answer a ping within
  ``cluster-node-timeout`` is ``fail?`` (PFAIL) for us; gossip carries that
  opinion, and a PFAIL node that a majority of masters report becomes ``fail``,
  which a FAIL message tells everyone at once.
* **Failover.** The replicas of a failed master wait a delay that grows with
  their rank (how far behind they are), then ask the masters for a vote
  (FAILOVER_AUTH_REQUEST) in a new epoch. A master grants one vote per epoch; a
  replica with a majority takes over its master's slots and tells everyone with
  a pong. ``CLUSTER FAILOVER`` runs the same election after pausing the master
  (MFSTART) so the replica catches up first, or skips it (FORCE, TAKEOVER).
* **Replica migration.** A replica of a master with many replicas moves to an
  orphaned master (``cluster-migration-barrier``).

The engine runs on events: packets from :mod:`.link` arrive in
:meth:`ClusterBus.process_frame`, and :meth:`ClusterBus.cron` runs ten times a
second. Packets are built and parsed by the sans-IO codec in :mod:`.bus`, which
speaks Redis 7.0's wire format byte for byte, so redis-server nodes and ours are
peers in one cluster.
"""

from __future__ import annotations

import asyncio
import math
import random
import socket
import time
from typing import Any

from . import bus as wire
from .bus import BusError, GossipEntry, HostnameExt, Message
from .link import Link, connect
from .state import (
    bit_positions,
    CANT_FAILOVER_DATA_AGE,
    CANT_FAILOVER_EXPIRED,
    CANT_FAILOVER_NONE,
    CANT_FAILOVER_RELOG_PERIOD,
    CANT_FAILOVER_WAITING_DELAY,
    CANT_FAILOVER_WAITING_VOTES,
    CLUSTER_OK,
    FAIL,
    HANDSHAKE,
    MASTER,
    MEET,
    MF_PAUSE_MULT,
    MF_TIMEOUT,
    MIGRATE_TO,
    MYSELF,
    NOADDR,
    NOFAILOVER,
    PFAIL,
    SLAVE,
    SLAVE_MIGRATION_DELAY,
    TODO_FSYNC_CONFIG,
    TODO_HANDLE_FAILOVER,
    TODO_HANDLE_MANUALFAILOVER,
    TODO_SAVE_CONFIG,
    TODO_UPDATE_STATE,
    ClusterState,
    Node,
    mstime,
    valid_name,
)

_CANT_FAILOVER_TEXT = {
    CANT_FAILOVER_DATA_AGE: "Disconnected from master for longer than allowed. Please check "
    "the 'cluster-replica-validity-factor' configuration option.",
    CANT_FAILOVER_WAITING_DELAY: "Waiting the delay before I can start a new failover.",
    CANT_FAILOVER_EXPIRED: "Failover attempt expired.",
    CANT_FAILOVER_WAITING_VOTES: "Waiting for votes, but majority still not reached.",
}


def _name(b: bytes) -> str:
    return b.decode("ascii", "replace")


def replica_offset(server: Any) -> int:
    """replicationGetSlaveOffset: the master client's offset, else the cached
    master's, else 0 (during a full sync, so CLUSTER SHARDS says "loading")."""
    link = server.repl_link
    if link.client is not None or link.master_replid is not None:
        return link.reploff
    return 0


class ClusterBus:
    """The gossip engine of one node: links, packets, cron, elections."""

    def __init__(self, state: ClusterState) -> None:
        self.state = state
        self.server = state.server
        self.inbound_links: set[Link] = set()
        self.listeners: list[Any] = []
        self.iteration = 0
        self.pings_sent = 0
        self.drop_packet_filter = -1  # DEBUG DROP-CLUSTER-PACKET-FILTER
        state.send_fail = self.send_fail
        state.broadcast_pong_all = lambda: self.broadcast_pong(False)
        state.failover_step = self._before_sleep_failover

    # ------------------------------------------------------------ logging
    def log_warning(self, msg: str) -> None:
        self.server.log_warning(msg)

    def log_notice(self, msg: str) -> None:
        self.server.log_notice(msg)

    def log_verbose(self, msg: str) -> None:
        self.server.log_verbose(msg)

    # ------------------------------------------------------------ listening
    async def listen(self, cport: int, binds: list[str]) -> None:
        loop = asyncio.get_running_loop()
        for addr in binds:
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            if host == "*":
                host = "0.0.0.0"
            elif host == "::*":
                host = "::"
            try:
                srv = await loop.create_server(
                    lambda: Link(self, None, True),
                    host=host,
                    port=cport,
                    reuse_address=True,
                    family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                )
            except OSError as e:
                if optional or (e.errno in (97, 99) and ":" in host):
                    continue
                raise
            self.listeners.append(srv)

    def close(self) -> None:
        for srv in self.listeners:
            srv.close()
        self.listeners = []
        for n in self.state.nodes.values():
            if n.link is not None:
                n.link.free()
            if n.inbound_link is not None:
                n.inbound_link.free()
        for link in list(self.inbound_links):
            link.free()

    # ------------------------------------------------------------ sending
    def send(self, link: Link | None, msg: Message) -> None:
        """clusterSendMessage."""
        if link is None:
            return
        link.send(wire.encode(msg))
        if msg.type < wire.MSG_TYPE_COUNT:
            self.state.stats_sent[msg.type] += 1

    def broadcast(self, msg: Message) -> None:
        """clusterBroadcastMessage: to every node we have a link to."""
        data = wire.encode(msg)
        for n in list(self.state.nodes.values()):
            if n.flags & (MYSELF | HANDSHAKE) or n.link is None:
                continue
            n.link.send(data)
            self.state.stats_sent[msg.type] += 1

    def header(self, type_: int) -> Message:
        """clusterBuildMessageHdr: who we are, as every packet says it."""
        st = self.state
        me = st.myself
        master = me.replicaof if (me.is_replica and me.replicaof is not None) else me
        port, pport, cport = st.announced_ports()
        server = self.server
        if me.is_replica:
            offset = replica_offset(server)
        else:
            offset = server.master_repl_offset
        mflags = 0
        if me.is_master and st.mf_end:
            mflags |= wire.MF_PAUSED
        return Message(
            type=type_,
            sender=me.name.encode(),
            current_epoch=st.current_epoch,
            config_epoch=master.config_epoch,
            offset=offset,
            myslots=bytes(master.slots),
            slaveof=me.replicaof.name.encode() if me.replicaof is not None else wire.NULL_NAME,
            myip=(server.config.get("cluster-announce-ip") or "")[:45],
            port=port,
            pport=pport,
            cport=cport,
            flags=me.flags,
            state=st.state,
            mflags=mflags,
        )

    def gossip_entry(self, n: Node) -> GossipEntry:
        return GossipEntry(
            nodename=n.name.encode(),
            ping_sent=(n.ping_sent // 1000) & 0xFFFFFFFF,
            pong_received=(n.pong_received // 1000) & 0xFFFFFFFF,
            ip=n.ip,
            port=n.port,
            cport=n.cport,
            flags=n.flags,
            pport=n.pport,
        )

    def send_ping(self, link: Link | None, type_: int) -> None:
        """clusterSendPing: a PING, PONG or MEET with a gossip section."""
        if link is None:
            return
        st = self.state
        self.pings_sent += 1
        nodes = list(st.nodes.values())
        freshnodes = len(nodes) - 2
        wanted = max(3, int(math.floor(len(nodes) / 10)))
        wanted = min(wanted, freshnodes)
        if not link.inbound and type_ == wire.PING:
            link.node.ping_sent = mstime()
        msg = self.header(type_)
        gossip = msg.gossip
        maxiter = wanted * 3
        me = st.myself
        while freshnodes > 0 and len(gossip) < wanted and maxiter > 0:
            maxiter -= 1
            n = random.choice(nodes)
            if n is me or n.flags & PFAIL:
                continue
            if n.flags & (HANDSHAKE | NOADDR) or (n.link is None and n.numslots == 0):
                freshnodes -= 1  # (not quite right, as in Redis, but saves CPU)
                continue
            if n.last_in_ping_gossip == self.pings_sent:
                continue
            gossip.append(self.gossip_entry(n))
            n.last_in_ping_gossip = self.pings_sent
            freshnodes -= 1
        # every PFAIL node goes in, so failure reports spread fast
        pfail_wanted = st.stats_pfail_nodes
        if pfail_wanted:
            for n in nodes:
                if pfail_wanted <= 0:
                    break
                if n.flags & (HANDSHAKE | NOADDR) or not n.flags & PFAIL:
                    continue
                gossip.append(self.gossip_entry(n))
                pfail_wanted -= 1
        if me.hostname:
            msg.extensions.append(HostnameExt(me.hostname))
        self.send(link, msg)

    def broadcast_pong(self, local_replicas_only: bool) -> None:
        """clusterBroadcastPong: tell everyone (or our master's replicas) our config."""
        me = self.state.myself
        for n in list(self.state.nodes.values()):
            if n.link is None or n is me or n.in_handshake:
                continue
            if local_replicas_only:
                if not (
                    n.is_replica
                    and n.replicaof is not None
                    and (n.replicaof is me or n.replicaof is me.replicaof)
                ):
                    continue
            self.send_ping(n.link, wire.PONG)

    def send_fail(self, name: str) -> None:
        msg = self.header(wire.FAIL)
        msg.about = name.encode()
        self.broadcast(msg)

    def send_update(self, link: Link | None, n: Node) -> None:
        """clusterSendUpdate: tell a node with stale slots who owns them now."""
        if link is None:
            return
        msg = self.header(wire.UPDATE)
        msg.update_nodename = n.name.encode()
        msg.update_config_epoch = n.config_epoch
        notc = self.state.owner_not_claiming_slot
        msg.update_slots = bytes(a & ~b & 0xFF for a, b in zip(n.slots, notc))
        self.send(link, msg)

    def propagate_publish(self, channel: bytes, message: bytes, sharded: bool) -> None:
        """clusterPropagatePublish: PUBLISH goes to every node, SPUBLISH to our shard."""
        if not sharded:
            msg = self.header(wire.PUBLISH)
            msg.channel, msg.message = channel, message
            self.broadcast(msg)
            return
        me = self.state.myself
        primary = me if me.is_master else me.replicaof
        if primary is None:
            return
        msg = self.header(wire.PUBLISHSHARD)
        msg.channel, msg.message = channel, message
        for n in [primary] + list(primary.replicas):
            if n.flags & (MYSELF | HANDSHAKE):
                continue
            self.send(n.link, msg)

    # ------------------------------------------------------------ connecting
    def link_connected(self, link: Link) -> None:
        """clusterLinkConnectHandler: our first packet on a new outbound link."""
        node = link.node
        old_ping_sent = node.ping_sent
        self.send_ping(link, wire.MEET if node.flags & MEET else wire.PING)
        if old_ping_sent:
            # a reconnection must not reset the failure detector's clock
            node.ping_sent = old_ping_sent
        node.flags &= ~MEET

    def _connect(self, node: Node) -> None:
        link = Link(self, node, False)
        link.conn_task = asyncio.ensure_future(connect(link, node.ip, node.cport))

    # ------------------------------------------------------------ receiving
    def process_frame(self, link: Link, frame: bytes) -> None:
        st = self.state
        type_ = int.from_bytes(frame[12:14], "big") if len(frame) >= 14 else -1
        if 0 <= type_ < wire.MSG_TYPE_COUNT:
            st.stats_received[type_] += 1
        if type_ == self.drop_packet_filter:
            self.log_warning("Dropping packet that matches debug drop filter")
            return
        try:
            msg = wire.decode(frame)
        except BusError as e:
            self.log_warning("Received invalid cluster bus packet: %s" % e)
            return
        try:
            self.process_packet(link, msg)
        except Exception:
            self.server.log_exception("cluster bus packet")

    def _sender_of(self, link: Link, msg: Message) -> Node | None:
        """getNodeFromLinkAndMsg: the sender, binding an inbound link to it."""
        if link.node is not None and not link.node.in_handshake:
            return link.node
        sender = self.state.lookup(msg.sender)
        if sender is not None and link.node is None and link.inbound:
            if sender.inbound_link is not None and sender.inbound_link is not link:
                sender.inbound_link.free()
            sender.inbound_link = link
            link.node = sender
        return sender

    def _peer_ip(self, link: Link, announced: str) -> str:
        """nodeIp2String: the announced ip, else the address the packet came from."""
        return announced if announced else link.peer_ip

    def update_address_if_needed(self, node: Node, link: Link, msg: Message) -> bool:
        """nodeUpdateAddressIfNeeded: a known node speaks from a new address."""
        if link is node.link:
            return False
        ip = self._peer_ip(link, msg.myip)
        if (
            node.port == msg.port
            and node.cport == msg.cport
            and node.pport == msg.pport
            and ip == node.ip
        ):
            return False
        node.ip, node.port, node.pport, node.cport = ip, msg.port, msg.pport, msg.cport
        if node.link is not None:
            node.link.free()
        node.flags &= ~NOADDR
        self.log_warning("Address updated for node %s, now %s:%d" % (node.name, node.ip, node.port))
        me = self.state.myself
        if me.is_replica and me.replicaof is node:
            self.state.on_set_master(node.ip, node.port)
        return True

    def process_packet(self, link: Link, msg: Message) -> None:
        """clusterProcessPacket."""
        st = self.state
        me = st.myself
        type_ = msg.type
        now = mstime()
        flags = msg.flags
        sender_current_epoch = sender_config_epoch = 0
        sender = self._sender_of(link, msg)
        if sender is not None:
            sender.data_received = now
        if sender is not None and not sender.in_handshake:
            sender_current_epoch = msg.current_epoch
            sender_config_epoch = msg.config_epoch
            if sender_current_epoch > st.current_epoch:
                st.current_epoch = sender_current_epoch
            if sender_config_epoch > sender.config_epoch:
                sender.config_epoch = sender_config_epoch
                st.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
            sender.repl_offset = msg.offset
            sender.repl_offset_time = now
            if (
                st.mf_end
                and me.is_replica
                and me.replicaof is sender
                and msg.mflags & wire.MF_PAUSED
                and st.mf_master_offset == -1
            ):
                st.mf_master_offset = sender.repl_offset
                st.do_before_sleep(TODO_HANDLE_MANUALFAILOVER)
                self.log_warning(
                    "Received replication offset for paused master manual failover: %d"
                    % st.mf_master_offset
                )

        if type_ in (wire.PING, wire.MEET):
            if (type_ == wire.MEET or not me.ip) and not self.server.config.get(
                "cluster-announce-ip"
            ):
                ip = link.local_ip
                if ip and ip != me.ip:
                    me.ip = ip
                    self.log_warning("IP address for this node updated to %s" % me.ip)
                    st.do_before_sleep(TODO_SAVE_CONFIG)
            if sender is None and type_ == wire.MEET:
                n = Node(None, HANDSHAKE)
                n.ip = self._peer_ip(link, msg.myip)
                n.port, n.pport, n.cport = msg.port, msg.pport, msg.cport
                st.add_node(n)
                st.do_before_sleep(TODO_SAVE_CONFIG)
                self.process_gossip(msg, link)
            self.send_ping(link, wire.PONG)

        if type_ in (wire.PING, wire.PONG, wire.MEET):
            if not link.inbound:
                if link.node.in_handshake:
                    if sender is not None:
                        self.log_verbose(
                            "Handshake: we already know node %s, updating the address if needed."
                            % sender.name
                        )
                        if self.update_address_if_needed(sender, link, msg):
                            st.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                        st.del_node(link.node)  # the handshake node was a duplicate
                        return
                    st.rename_node(link.node, _name(msg.sender))
                    link.node.flags &= ~HANDSHAKE
                    link.node.flags |= flags & (MASTER | SLAVE)
                    st.do_before_sleep(TODO_SAVE_CONFIG)
                elif link.node.name.encode() != msg.sender:
                    # the address now belongs to another node: forget it
                    node = link.node
                    node.flags |= NOADDR
                    node.ip = ""
                    node.port = node.pport = node.cport = 0
                    link.free()
                    st.do_before_sleep(TODO_SAVE_CONFIG)
                    return
            if sender is not None:
                sender.flags = (sender.flags & ~NOFAILOVER) | (flags & NOFAILOVER)
            if (
                sender is not None
                and type_ == wire.PING
                and not sender.in_handshake
                and self.update_address_if_needed(sender, link, msg)
            ):
                st.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
            if not link.inbound and type_ == wire.PONG:
                node = link.node
                node.pong_received = now
                node.ping_sent = 0
                if node.timed_out:
                    node.flags &= ~PFAIL
                    st.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                elif node.failed:
                    st.clear_failure_if_needed(node)
            # role changes
            if sender is not None:
                if msg.slaveof == wire.NULL_NAME:
                    st.set_node_as_master(sender)
                else:
                    master = st.lookup(msg.slaveof)
                    if sender.is_master:
                        st.del_node_slots(sender)
                        sender.flags &= ~(MASTER | MIGRATE_TO)
                        sender.flags |= SLAVE
                        st.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                    if master is not None and sender.replicaof is not master:
                        if sender.replicaof is not None:
                            sender.replicaof.remove_replica(sender)
                        master.add_replica(sender)
                        sender.replicaof = master
                        st.do_before_sleep(TODO_SAVE_CONFIG)
            # slots
            sender_master = None
            dirty_slots = False
            if sender is not None:
                sender_master = sender if sender.is_master else sender.replicaof
                if sender_master is not None:
                    dirty_slots = bytes(sender_master.slots) != msg.myslots
            if sender is not None and sender.is_master and dirty_slots:
                st.update_slots_config_with(sender, sender_config_epoch, msg.myslots)
            if sender is not None and dirty_slots:
                # the slots it claims that someone else holds (bitmaps as ints: only
                # those are visited)
                others = int.from_bytes(msg.myslots, "little") & ~int.from_bytes(
                    sender.slots, "little"
                )
                for j in bit_positions(others):
                    owner = st.slots[j]
                    if owner is sender or st.slot_unclaimed(j):
                        continue
                    if owner.config_epoch > sender_config_epoch:  # type: ignore[union-attr]
                        self.log_verbose(
                            "Node %s has old slots configuration, sending an UPDATE "
                            "message about %s" % (sender.name, owner.name)  # type: ignore[union-attr]
                        )
                        self.send_update(sender.link, owner)  # type: ignore[arg-type]
                        break
            if (
                sender is not None
                and me.is_master
                and sender.is_master
                and sender_config_epoch == me.config_epoch
            ):
                st.handle_config_epoch_collision(sender)
            if sender is not None:
                self.process_gossip(msg, link)
                self.process_extensions(msg, sender)

        elif type_ == wire.FAIL:
            if sender is not None:
                failing = st.lookup(msg.about)
                if failing is not None and not failing.flags & (FAIL | MYSELF):
                    self.log_notice(
                        "FAIL message received from %s about %s"
                        % (_name(msg.sender), _name(msg.about))
                    )
                    failing.flags |= FAIL
                    failing.fail_time = now
                    failing.flags &= ~PFAIL
                    st.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
            else:
                self.log_notice(
                    "Ignoring FAIL message from unknown node %s about %s"
                    % (_name(msg.sender), _name(msg.about))
                )

        elif type_ in (wire.PUBLISH, wire.PUBLISHSHARD):
            if sender is None:
                return
            self.server.pubsub.publish(msg.channel, msg.message, sharded=type_ == wire.PUBLISHSHARD)

        elif type_ == wire.FAILOVER_AUTH_REQUEST:
            if sender is None:
                return
            self.send_failover_auth_if_needed(sender, msg)

        elif type_ == wire.FAILOVER_AUTH_ACK:
            if sender is None:
                return
            # a vote counts from a master with slots, for this election's epoch
            if (
                sender.is_master
                and sender.numslots > 0
                and sender_current_epoch >= st.failover_auth_epoch
            ):
                st.failover_auth_count += 1
                st.do_before_sleep(TODO_HANDLE_FAILOVER)

        elif type_ == wire.MFSTART:
            if sender is None or sender.replicaof is not me:
                return
            st.reset_manual_failover()
            st.mf_end = now + MF_TIMEOUT
            st.mf_replica = sender
            st.pause_writes(now + MF_TIMEOUT * MF_PAUSE_MULT)
            self.log_warning("Manual failover requested by replica %s." % sender.name)
            # the paused master's offset reaches the replica in this ping
            self.send_ping(link, wire.PING)

        elif type_ == wire.UPDATE:
            if sender is None:
                return
            about = st.lookup(msg.update_nodename)
            if about is None or about.config_epoch >= msg.update_config_epoch:
                return
            if about.is_replica:
                st.set_node_as_master(about)
            about.config_epoch = msg.update_config_epoch
            st.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
            st.update_slots_config_with(about, msg.update_config_epoch, msg.update_slots)

        elif type_ == wire.MODULE:
            return  # no modules: nothing listens
        else:
            self.log_warning("Received unknown packet type: %d" % type_)

    def process_gossip(self, msg: Message, link: Link) -> None:
        """clusterProcessGossipSection."""
        st = self.state
        me = st.myself
        sender = link.node if link.node is not None else st.lookup(msg.sender)
        server_ms = mstime()
        for g in msg.gossip:
            flags = g.flags
            node = st.lookup(g.nodename)
            if node is not None:
                if sender is not None and sender.is_master and node is not me:
                    if flags & (FAIL | PFAIL):
                        if st.add_failure_report(node, sender):
                            self.log_verbose(
                                "Node %s reported node %s as not reachable."
                                % (sender.name, node.name)
                            )
                        st.mark_failing_if_needed(node)
                    elif st.del_failure_report(node, sender):
                        self.log_verbose(
                            "Node %s reported node %s is back online." % (sender.name, node.name)
                        )
                # someone else got a pong from it recently: our failure
                # detector need not ping it to know it is alive
                if (
                    not flags & (FAIL | PFAIL)
                    and node.ping_sent == 0
                    and st.failure_reports_count(node) == 0
                ):
                    pongtime = g.pong_received * 1000
                    if pongtime <= server_ms + 500 and pongtime > node.pong_received:
                        node.pong_received = pongtime
                # a failing node that gossip shows at a new address: reconnect there
                if (
                    node.flags & (FAIL | PFAIL)
                    and not flags & NOADDR
                    and not flags & (FAIL | PFAIL)
                    and (
                        node.ip.lower() != g.ip.lower()
                        or node.port != g.port
                        or node.cport != g.cport
                    )
                ):
                    if node.link is not None:
                        node.link.free()
                    node.ip, node.port, node.pport, node.cport = g.ip, g.port, g.pport, g.cport
                    node.flags &= ~NOADDR
            else:
                name = _name(g.nodename)
                if sender is not None and not flags & NOADDR and not st.blacklisted(name):
                    if not valid_name(name):
                        continue
                    n = Node(name, flags)
                    n.ip, n.port, n.pport, n.cport = g.ip, g.port, g.pport, g.cport
                    st.add_node(n)

    def process_extensions(self, msg: Message, sender: Node) -> None:
        """clusterProcessPingExtensions: 7.0 knows only the hostname."""
        hostname = ""
        for ext in msg.extensions:
            if isinstance(ext, HostnameExt):
                hostname = ext.hostname
        if hostname != sender.hostname:
            sender.hostname = hostname

    # ------------------------------------------------------------ failover
    def send_failover_auth_if_needed(self, node: Node, request: Message) -> None:
        """clusterSendFailoverAuthIfNeeded: our vote, if this request deserves it."""
        st = self.state
        me = st.myself
        master = node.replicaof
        req_current = request.current_epoch
        req_config = request.config_epoch
        force_ack = request.mflags & wire.MF_FORCEACK
        if me.is_replica or me.numslots == 0:
            return
        if req_current < st.current_epoch:
            self.log_warning(
                "Failover auth denied to %s: reqEpoch (%d) < curEpoch(%d)"
                % (node.name, req_current, st.current_epoch)
            )
            return
        if st.last_vote_epoch == st.current_epoch:
            self.log_warning(
                "Failover auth denied to %s: already voted for epoch %d"
                % (node.name, st.current_epoch)
            )
            return
        if node.is_master or master is None or (not master.failed and not force_ack):
            if node.is_master:
                self.log_warning("Failover auth denied to %s: it is a master node" % node.name)
            elif master is None:
                self.log_warning("Failover auth denied to %s: I don't know its master" % node.name)
            else:
                self.log_warning("Failover auth denied to %s: its master is up" % node.name)
            return
        now = mstime()
        timeout = st.node_timeout
        if now - master.voted_time < timeout * 2:
            self.log_warning(
                "Failover auth denied to %s: can't vote about this master before %d milliseconds"
                % (node.name, timeout * 2 - (now - master.voted_time))
            )
            return
        claimed = request.myslots
        for j in range(wire.CLUSTER_SLOTS):
            if not claimed[j >> 3] & (1 << (j & 7)):
                continue
            if st.slot_unclaimed(j) or st.slots[j].config_epoch <= req_config:  # type: ignore[union-attr]
                continue
            self.log_warning(
                "Failover auth denied to %s: slot %d epoch (%d) > reqEpoch (%d)"
                % (node.name, j, st.slots[j].config_epoch, req_config)  # type: ignore[union-attr]
            )
            return
        st.last_vote_epoch = st.current_epoch
        master.voted_time = now
        st.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
        if node.link is not None:
            self.send(node.link, self.header(wire.FAILOVER_AUTH_ACK))
        self.log_warning("Failover auth granted to %s for epoch %d" % (node.name, st.current_epoch))

    def replica_rank(self) -> int:
        """clusterGetSlaveRank: how many replicas of our master are ahead of us."""
        me = self.state.myself
        master = me.replicaof
        if master is None:
            return 0
        myoffset = self.server.repl_link.reploff
        return sum(
            1
            for r in master.replicas
            if r is not me and not r.cant_failover and r.repl_offset > myoffset
        )

    def log_cant_failover(self, reason: int) -> None:
        st = self.state
        now = time.time()
        if (
            reason == st.cant_failover_reason
            and now - st.cant_failover_logged < CANT_FAILOVER_RELOG_PERIOD
        ):
            return
        st.cant_failover_reason = reason
        me = st.myself
        # right after the master fails, not being able to fail over is expected
        if (
            me.replicaof is not None
            and me.replicaof.failed
            and mstime() - me.replicaof.fail_time < st.node_timeout + 5000
        ):
            return
        st.cant_failover_logged = now
        self.log_warning(
            "Currently unable to failover: %s"
            % _CANT_FAILOVER_TEXT.get(reason, "Unknown reason code.")
        )

    def failover_replace_your_master(self) -> None:
        """clusterFailoverReplaceYourMaster: take the old master's slots and say so."""
        st = self.state
        me = st.myself
        old = me.replicaof
        if me.is_master or old is None:
            return
        st.set_node_as_master(me)
        st.on_unset_master()
        for j in old.slot_list():
            st.del_slot(j)
            st.add_slot(me, j)
        st.update_state()
        st.save_config_or_die(True)
        self.broadcast_pong(False)
        st.reset_manual_failover()

    def handle_replica_failover(self) -> None:
        """clusterHandleSlaveFailover: one step of an election, called often."""
        st = self.state
        me = st.myself
        now = mstime()
        auth_age = now - st.failover_auth_time
        needed = st.size // 2 + 1
        manual = st.mf_end != 0 and st.mf_can_start
        st.todo &= ~TODO_HANDLE_FAILOVER
        timeout = st.node_timeout
        auth_timeout = max(timeout * 2, 2000)
        auth_retry = auth_timeout * 2
        no_failover = st.cfg_yes("cluster-replica-no-failover")
        if (
            me.is_master
            or me.replicaof is None
            or (not me.replicaof.failed and not manual)
            or (no_failover and not manual)
            or me.replicaof.numslots == 0
        ):
            st.cant_failover_reason = CANT_FAILOVER_NONE
            return
        link = self.server.repl_link
        if link.connected():
            data_age = int((time.time() - link.last_io) * 1000)
        else:
            data_age = int((time.time() - (link.down_since or time.time())) * 1000)
        if data_age > timeout:
            data_age -= timeout
        factor = st.cfg_int("cluster-replica-validity-factor")
        if factor and data_age > st.cfg_int("repl-ping-replica-period") * 1000 + timeout * factor:
            if not manual:
                self.log_cant_failover(CANT_FAILOVER_DATA_AGE)
                return
        if auth_age > auth_retry:
            st.failover_auth_time = now + 500 + random.randrange(500)
            st.failover_auth_count = 0
            st.failover_auth_sent = 0
            st.failover_auth_rank = self.replica_rank()
            st.failover_auth_time += st.failover_auth_rank * 1000
            if st.mf_end:
                st.failover_auth_time = now
                st.failover_auth_rank = 0
                st.do_before_sleep(TODO_HANDLE_FAILOVER)
            self.log_warning(
                "Start of election delayed for %d milliseconds (rank #%d, offset %d)."
                % (st.failover_auth_time - now, st.failover_auth_rank, link.reploff)
            )
            self.broadcast_pong(True)
            return
        if st.failover_auth_sent == 0 and st.mf_end == 0:
            newrank = self.replica_rank()
            if newrank > st.failover_auth_rank:
                added = (newrank - st.failover_auth_rank) * 1000
                st.failover_auth_time += added
                st.failover_auth_rank = newrank
                self.log_warning(
                    "Replica rank updated to #%d, added %d milliseconds of delay."
                    % (newrank, added)
                )
        if now < st.failover_auth_time:
            self.log_cant_failover(CANT_FAILOVER_WAITING_DELAY)
            return
        if auth_age > auth_timeout:
            self.log_cant_failover(CANT_FAILOVER_EXPIRED)
            return
        if st.failover_auth_sent == 0:
            st.current_epoch += 1
            st.failover_auth_epoch = st.current_epoch
            self.log_warning("Starting a failover election for epoch %d." % st.current_epoch)
            req = self.header(wire.FAILOVER_AUTH_REQUEST)
            if st.mf_end:
                req.mflags |= wire.MF_FORCEACK
            self.broadcast(req)
            st.failover_auth_sent = 1
            st.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
            return
        if st.failover_auth_count >= needed:
            self.log_warning("Failover election won: I'm the new master.")
            if me.config_epoch < st.failover_auth_epoch:
                me.config_epoch = st.failover_auth_epoch
                self.log_warning(
                    "configEpoch set to %d after successful failover" % me.config_epoch
                )
            self.failover_replace_your_master()
        else:
            self.log_cant_failover(CANT_FAILOVER_WAITING_VOTES)

    def handle_manual_failover(self) -> None:
        """clusterHandleManualFailover: start once we processed the paused master's offset."""
        st = self.state
        if st.mf_end == 0 or st.mf_can_start or st.mf_master_offset == -1:
            return
        if st.mf_master_offset == self.server.repl_link.reploff:
            st.mf_can_start = 1
            self.log_warning("All master replication stream processed, manual failover can start.")
            st.do_before_sleep(TODO_HANDLE_FAILOVER)
            return
        st.do_before_sleep(TODO_HANDLE_MANUALFAILOVER)

    def _before_sleep_failover(self, flags: int) -> None:
        me = self.state.myself
        if flags & TODO_HANDLE_MANUALFAILOVER:
            if me.is_replica:
                self.handle_manual_failover()
                self.handle_replica_failover()
        elif flags & TODO_HANDLE_FAILOVER:
            self.handle_replica_failover()

    def handle_replica_migration(self, max_replicas: int) -> None:
        """clusterHandleSlaveMigration: move to an orphaned master if we are spare."""
        st = self.state
        me = st.myself
        if st.state != CLUSTER_OK:
            return
        mymaster = me.replicaof
        if mymaster is None:
            return
        ok = sum(1 for r in mymaster.replicas if not r.failed and not r.timed_out)
        if ok <= st.cfg_int("cluster-migration-barrier"):
            return
        candidate = me
        target = None
        now = mstime()
        for n in st.nodes.values():
            okr = 0
            orphaned = True
            if n.is_replica or n.failed:
                orphaned = False
            if not n.flags & MIGRATE_TO:
                orphaned = False
            if n.is_master:
                okr = n.non_failing_replicas()
            if okr > 0:
                orphaned = False
            if orphaned:
                if target is None and n.numslots > 0:
                    target = n
                if not n.orphaned_time:
                    n.orphaned_time = now
            else:
                n.orphaned_time = 0
            if okr == max_replicas:
                for r in n.replicas:
                    if r.name < candidate.name:
                        candidate = r
        if (
            target is not None
            and candidate is me
            and now - target.orphaned_time > SLAVE_MIGRATION_DELAY
        ):
            self.log_warning("Migrating to orphaned master %s" % target.name)
            st.set_master(target)

    # ------------------------------------------------------------ cron
    def cron(self) -> None:
        """clusterCron, ten times a second."""
        st = self.state
        me = st.myself
        self.iteration += 1
        st.update_myself_announced()
        timeout = st.node_timeout
        handshake_timeout = max(timeout, 1000)
        now = mstime()
        st.stats_pfail_nodes = 0
        limit = st.cfg_int("cluster-link-sendbuf-limit")
        for n in list(st.nodes.values()):
            if limit:
                for link in (n.link, n.inbound_link):
                    if link is not None and link.send_buffer_used > limit:
                        self.log_warning(
                            "Freeing cluster link(%s node %s, used memory: %d) due to exceeding "
                            "send buffer memory limit."
                            % ("from" if link.inbound else "to", n.name, link.send_buffer_used)
                        )
                        link.free()
                        st.links_buffer_limit_exceeded += 1
            if n.flags & (MYSELF | NOADDR):
                continue
            if n.flags & PFAIL:
                st.stats_pfail_nodes += 1
            if n.in_handshake and now - n.ctime > handshake_timeout:
                st.del_node(n)
                continue
            if n.link is None:
                self._connect(n)
        # every second, ping a random node among the least recently ponged of five
        if self.iteration % 10 == 0:
            nodes = list(st.nodes.values())
            best = None
            for _ in range(5):
                n = random.choice(nodes)
                if n.link is None or n.ping_sent != 0 or n.flags & (MYSELF | HANDSHAKE):
                    continue
                if best is None or best.pong_received > n.pong_received:
                    best = n
            if best is not None:
                self.send_ping(best.link, wire.PING)
        orphaned_masters = max_replicas = this_replicas = 0
        update_state = False
        for n in list(st.nodes.values()):
            now = mstime()
            if n.flags & (MYSELF | NOADDR | HANDSHAKE):
                continue
            if me.is_replica and n.is_master and not n.failed:
                okr = n.non_failing_replicas()
                if okr == 0 and n.numslots > 0 and n.flags & MIGRATE_TO:
                    orphaned_masters += 1
                max_replicas = max(max_replicas, okr)
                if me.replicaof is n:
                    this_replicas = okr
            ping_delay = now - n.ping_sent
            data_delay = now - n.data_received
            # a link that stopped answering: reconnect, maybe the other side is fine
            if (
                n.link is not None
                and now - n.link.ctime > timeout
                and n.ping_sent
                and ping_delay > timeout / 2
                and data_delay > timeout / 2
            ):
                n.link.free()
            if n.link is not None and n.ping_sent == 0 and now - n.pong_received > timeout / 2:
                self.send_ping(n.link, wire.PING)
                continue
            if st.mf_end and me.is_master and st.mf_replica is n and n.link is not None:
                self.send_ping(n.link, wire.PING)
                continue
            if n.ping_sent == 0:
                continue
            node_delay = min(ping_delay, data_delay)
            if node_delay > timeout and not n.flags & (PFAIL | FAIL):
                n.flags |= PFAIL
                update_state = True
        # a replica whose master is known follows it (after a restart, say)
        link = self.server.repl_link
        if (
            me.is_replica
            and link.host is None
            and me.replicaof is not None
            and me.replicaof.has_addr
        ):
            st.on_set_master(me.replicaof.ip, me.replicaof.port)
        if st.mf_end and st.mf_end < mstime():
            self.log_warning("Manual failover timed out.")
            st.reset_manual_failover()
        if me.is_replica:
            self.handle_manual_failover()
            self.handle_replica_failover()
            if (
                orphaned_masters
                and max_replicas >= 2
                and this_replicas == max_replicas
                and st.cfg_yes("cluster-allow-replica-migration")
            ):
                self.handle_replica_migration(max_replicas)
        if update_state or st.state != CLUSTER_OK:
            st.update_state()
