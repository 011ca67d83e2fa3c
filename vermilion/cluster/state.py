"""What a cluster node knows: the nodes, who serves which slot, the epochs.

This is Redis's ``clusterState`` and ``clusterNode`` (cluster.h), and the parts of
cluster.c that change them without talking to anyone: assigning slots, making a
node a replica of another, failure reports, the blacklist of forgotten nodes,
the config epochs, and the ``cluster_state`` (ok or fail) derived from it all.
The conversation with other nodes lives in :mod:`.gossip` (what messages mean)
and :mod:`.link` (the sockets); the commands in :mod:`vermilion.commands.cluster`.

**Nodes.** Each node has a 40-character hex name, an address (ip, client port,
bus port, and for TLS clusters the plaintext port), flags (master or replica,
``myself``, ``fail?`` when we cannot reach it, ``fail`` once a majority of masters
agree, ``handshake`` while we do not know its real name yet...) and, for a
master, the bitmap of slots it serves. ``slots[j]`` is the owner of slot ``j`` as
this node believes it; a slot being resharded is also in ``migrating_slots_to``
(on the old owner) or ``importing_slots_from`` (on the new one).

**Epochs.** ``current_epoch`` is the cluster's logical clock; every master has a
``config_epoch``, the version of its claim on its slots. When two claims
conflict, the higher config epoch wins. Elections and resharding bump epochs;
:meth:`ClusterState.handle_config_epoch_collision` separates two masters that
ended up with the same one.

**nodes.conf.** The node's view is saved in Redis's own format, which is the
``CLUSTER NODES`` output plus a ``vars currentEpoch N lastVoteEpoch M`` line, so a
nodes.conf written by redis-server loads here and ours loads there. Saving
writes a temporary file and renames it over the old one, so a crash leaves
either the old file or the new one, never half of each.

Changes that need the config saved or the state recomputed do not do it at once:
they set ``todo`` flags, and :meth:`ClusterState.before_sleep` (Redis's
``clusterBeforeSleep``) does the work once, after the current batch of events.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import random
import re
import time
from typing import Any, Callable, Iterator

from ..protocol.reader import split_args
from .slots import CLUSTER_SLOTS, key_hash_slot, keys_by_slot

# Node flags, as they travel on the bus (cluster.h CLUSTER_NODE_*).
MASTER = 1
SLAVE = 2
PFAIL = 4
FAIL = 8
MYSELF = 16
HANDSHAKE = 32
NOADDR = 64
MEET = 128
MIGRATE_TO = 256
NOFAILOVER = 512

CLUSTER_OK = 0
CLUSTER_FAIL = 1

# What before_sleep() has to do (CLUSTER_TODO_*).
TODO_HANDLE_FAILOVER = 1
TODO_UPDATE_STATE = 2
TODO_SAVE_CONFIG = 4
TODO_FSYNC_CONFIG = 8
TODO_HANDLE_MANUALFAILOVER = 16

FAIL_REPORT_VALIDITY_MULT = 2  # a failure report lives node-timeout * 2
FAIL_UNDO_TIME_MULT = 2  # a master's FAIL is undone after node-timeout * 2 unserved
MF_TIMEOUT = 5000  # a manual failover must finish in 5 s
MF_PAUSE_MULT = 2  # the master pauses its clients twice as long
SLAVE_MIGRATION_DELAY = 5000
BLACKLIST_TTL = 60  # seconds a forgotten node may not come back by gossip
MAX_REJOIN_DELAY = 5000
MIN_REJOIN_DELAY = 500
WRITABLE_DELAY = 2000

CANT_FAILOVER_NONE = 0
CANT_FAILOVER_DATA_AGE = 1
CANT_FAILOVER_WAITING_DELAY = 2
CANT_FAILOVER_EXPIRED = 3
CANT_FAILOVER_WAITING_VOTES = 4
CANT_FAILOVER_RELOG_PERIOD = 10  # seconds

NULL_NAME = "\0" * 40

_FLAG_NAMES = (
    (MYSELF, "myself"),
    (MASTER, "master"),
    (SLAVE, "slave"),
    (PFAIL, "fail?"),
    (FAIL, "fail"),
    (HANDSHAKE, "handshake"),
    (NOADDR, "noaddr"),
    (NOFAILOVER, "nofailover"),
)
_FLAG_BY_NAME = {name: flag for flag, name in _FLAG_NAMES}


def mstime() -> int:
    return int(time.time() * 1000)


def random_name() -> str:
    return os.urandom(20).hex()


def valid_name(name: str) -> bool:
    """verifyClusterNodeId: 40 characters of [a-z0-9]."""
    return len(name) == 40 and all("a" <= ch <= "z" or "0" <= ch <= "9" for ch in name)


def flags_text(flags: int) -> str:
    """representClusterNodeFlags: "myself,master", or "noflags"."""
    names = [name for flag, name in _FLAG_NAMES if flags & flag]
    return ",".join(names) if names else "noflags"


def bit_positions(x: int) -> Iterator[int]:
    """The positions of the set bits of ``x``, lowest first (slot numbers of a slot
    bitmap read with int.from_bytes(bitmap, "little"))."""
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


_ONES = re.compile("1+")


def bitmap_ranges(bitmap: bytes | bytearray) -> list[tuple[int, int]]:
    """The (start, end) runs of set bits of a slot bitmap, found by a regular
    expression over its bits spelt as text (CLUSTER NODES and nodes.conf print
    every node's ranges, at every save: a loop over 16384 slots is too slow)."""
    x = int.from_bytes(bitmap, "little")
    if not x:
        return []
    bits = format(x, "b")[::-1]  # bit j is character j
    return [(m.start(), m.end() - 1) for m in _ONES.finditer(bits)]


class Node:
    """One node of the cluster as this node sees it (clusterNode)."""

    __slots__ = (
        "name",
        "ctime",
        "config_epoch",
        "flags",
        "slots",
        "numslots",
        "replicas",
        "replicaof",
        "ping_sent",
        "pong_received",
        "data_received",
        "fail_time",
        "voted_time",
        "repl_offset_time",
        "orphaned_time",
        "repl_offset",
        "ip",
        "hostname",
        "port",
        "pport",
        "cport",
        "link",
        "inbound_link",
        "fail_reports",
        "last_in_ping_gossip",
    )

    def __init__(self, name: str | None = None, flags: int = 0) -> None:
        self.name = name if name is not None else random_name()
        self.ctime = mstime()
        self.config_epoch = 0
        self.flags = flags
        self.slots = bytearray(CLUSTER_SLOTS // 8)  # bit (j & 7) of byte j >> 3
        self.numslots = 0
        self.replicas: list[Node] = []
        self.replicaof: Node | None = None
        self.ping_sent = 0
        self.pong_received = 0
        self.data_received = 0
        self.fail_time = 0
        self.voted_time = 0
        self.repl_offset_time = 0
        self.orphaned_time = 0
        self.repl_offset = 0
        self.ip = ""
        self.hostname = ""
        self.port = 0
        self.pport = 0
        self.cport = 0
        self.link: Any = None  # our outbound bus connection to it
        self.inbound_link: Any = None  # its connection to us
        self.fail_reports: dict[Node, int] = {}  # reporting master -> when (ms)
        self.last_in_ping_gossip = 0

    # the nodeIs...() macros
    @property
    def is_master(self) -> bool:
        return bool(self.flags & MASTER)

    @property
    def is_replica(self) -> bool:
        return bool(self.flags & SLAVE)

    @property
    def in_handshake(self) -> bool:
        return bool(self.flags & HANDSHAKE)

    @property
    def has_addr(self) -> bool:
        return not self.flags & NOADDR

    @property
    def timed_out(self) -> bool:
        return bool(self.flags & PFAIL)

    @property
    def failed(self) -> bool:
        return bool(self.flags & FAIL)

    @property
    def cant_failover(self) -> bool:
        return bool(self.flags & NOFAILOVER)

    def has_slot(self, slot: int) -> bool:
        return bool(self.slots[slot >> 3] & (1 << (slot & 7)))

    def slot_list(self) -> list[int]:
        out = []
        for i, byte in enumerate(self.slots):
            if byte:
                base = i << 3
                for b in range(8):
                    if byte & (1 << b):
                        out.append(base + b)
        return out

    def add_replica(self, r: Node) -> bool:
        """clusterNodeAddSlave."""
        if r in self.replicas:
            return False
        self.replicas.append(r)
        self.flags |= MIGRATE_TO
        return True

    def remove_replica(self, r: Node) -> bool:
        """clusterNodeRemoveSlave."""
        try:
            self.replicas.remove(r)
        except ValueError:
            return False
        if not self.replicas:
            self.flags &= ~MIGRATE_TO
        return True

    def non_failing_replicas(self) -> int:
        return sum(1 for r in self.replicas if not r.failed)

    def __repr__(self) -> str:
        return "<Node %s %s:%d %s>" % (self.name, self.ip, self.port, flags_text(self.flags))


class ClusterState:
    """This node's view of the cluster (clusterState) and the changes to it."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.myself: Node = None  # type: ignore[assignment]
        self.current_epoch = 0
        self.state = CLUSTER_FAIL
        self.size = 1
        self.nodes: dict[str, Node] = {}
        self.blacklist: dict[str, float] = {}  # name -> expire (unix seconds)
        self.migrating_slots_to: dict[int, Node] = {}
        self.importing_slots_from: dict[int, Node] = {}
        self.slots: list[Node | None] = [None] * CLUSTER_SLOTS
        self.owner_not_claiming_slot = bytearray(CLUSTER_SLOTS // 8)
        self.failover_auth_time = 0
        self.failover_auth_count = 0
        self.failover_auth_sent = 0
        self.failover_auth_rank = 0
        self.failover_auth_epoch = 0
        self.cant_failover_reason = CANT_FAILOVER_NONE
        self.cant_failover_logged = 0.0
        self.mf_end = 0
        self.mf_replica: Node | None = None
        self.mf_master_offset = -1
        self.mf_can_start = 0
        self.last_vote_epoch = 0
        self.todo = 0
        self.todo_scheduled = False
        self.stats_sent = [0] * 11
        self.stats_received = [0] * 11
        self.stats_pfail_nodes = 0
        self.links_buffer_limit_exceeded = 0
        self.first_update_time = 0
        self.among_minority_time = 0
        self.config_path = ""
        self.lock_fd = -1
        # hooks the server fills: replication and data (see cluster/__init__.py)
        self.on_set_master: Callable[[str, int], None] = lambda ip, port: None
        self.on_unset_master: Callable[[], None] = lambda: None
        self.empty_data: Callable[[], None] = lambda: None
        self.pause_writes: Callable[[int], None] = lambda end: None
        self.unpause: Callable[[], None] = lambda: None
        self.broadcast_pong_all: Callable[[], None] = lambda: None
        self.send_fail: Callable[[str], None] = lambda name: None
        # the gossip engine's election steps (clusterBeforeSleep's failover part)
        self.failover_step: Callable[[int], None] = lambda flags: None

    # ------------------------------------------------------------ settings
    def cfg_int(self, name: str) -> int:
        return self.server.config.get_int(name)

    def cfg_yes(self, name: str) -> bool:
        return self.server.config.get(name) == "yes"

    @property
    def node_timeout(self) -> int:
        return self.cfg_int("cluster-node-timeout")

    def log(self, level: str, msg: str) -> None:
        getattr(self.server, "log_" + level)(msg)

    # ------------------------------------------------------------ nodes
    def lookup(self, name: str | bytes) -> Node | None:
        if isinstance(name, bytes):
            try:
                name = name.decode("ascii")
            except UnicodeDecodeError:
                return None
        if not valid_name(name):
            return None
        return self.nodes.get(name)

    def add_node(self, n: Node) -> None:
        self.nodes[n.name] = n

    def del_node(self, n: Node) -> None:
        """clusterDelNode: unassign its slots, drop its reports, free it."""
        for j, owner in list(self.importing_slots_from.items()):
            if owner is n:
                del self.importing_slots_from[j]
        for j, owner in list(self.migrating_slots_to.items()):
            if owner is n:
                del self.migrating_slots_to[j]
        for j in n.slot_list():
            if self.slots[j] is n:
                self.del_slot(j)
        for other in self.nodes.values():
            if other is not n:
                other.fail_reports.pop(n, None)
        self.free_node(n)

    def free_node(self, n: Node) -> None:
        """freeClusterNode: unlink from its master and replicas, close its links."""
        for r in n.replicas:
            r.replicaof = None
        if n.is_replica and n.replicaof is not None:
            n.replicaof.remove_replica(n)
        self.nodes.pop(n.name, None)
        if n.link is not None:
            n.link.free()
        if n.inbound_link is not None:
            n.inbound_link.free()

    def rename_node(self, n: Node, newname: str) -> None:
        self.nodes.pop(n.name, None)
        n.name = newname
        self.add_node(n)

    def start_handshake(self, ip: str, port: int, cport: int) -> str | None:
        """clusterStartHandshake: None when started, else "EINVAL" or "EAGAIN"."""
        try:
            norm = str(ipaddress.ip_address(ip))
        except ValueError:
            return "EINVAL"
        if not (0 < port <= 65535 and 0 < cport <= 65535):
            return "EINVAL"
        for n in self.nodes.values():
            if (
                n.in_handshake
                and n.ip.lower() == norm.lower()
                and n.port == port
                and n.cport == cport
            ):
                return "EAGAIN"
        n = Node(None, HANDSHAKE | MEET)
        n.ip = norm
        n.port = port
        n.cport = cport
        self.add_node(n)
        return None

    # --------------------------------------------------------- blacklist
    def blacklist_cleanup(self) -> None:
        now = time.time()
        for name, expire in list(self.blacklist.items()):
            if expire < now:
                del self.blacklist[name]

    def blacklist_add(self, n: Node) -> None:
        self.blacklist_cleanup()
        self.blacklist[n.name] = time.time() + BLACKLIST_TTL

    def blacklisted(self, name: str) -> bool:
        self.blacklist_cleanup()
        return name in self.blacklist

    # -------------------------------------------------- failure reports
    def add_failure_report(self, failing: Node, sender: Node) -> bool:
        new = sender not in failing.fail_reports
        failing.fail_reports[sender] = mstime()
        return new

    def cleanup_failure_reports(self, n: Node) -> None:
        maxtime = self.node_timeout * FAIL_REPORT_VALIDITY_MULT
        now = mstime()
        for sender, t in list(n.fail_reports.items()):
            if now - t > maxtime:
                del n.fail_reports[sender]

    def del_failure_report(self, n: Node, sender: Node) -> bool:
        if sender not in n.fail_reports:
            return False
        del n.fail_reports[sender]
        self.cleanup_failure_reports(n)
        return True

    def failure_reports_count(self, n: Node) -> int:
        self.cleanup_failure_reports(n)
        return len(n.fail_reports)

    def mark_failing_if_needed(self, n: Node) -> None:
        """markNodeAsFailingIfNeeded: PFAIL + a majority of masters' reports = FAIL."""
        needed = self.size // 2 + 1
        if not n.timed_out or n.failed:
            return
        failures = self.failure_reports_count(n)
        if self.myself.is_master:
            failures += 1
        if failures < needed:
            return
        self.log("notice", "Marking node %s as failing (quorum reached)." % n.name)
        n.flags &= ~PFAIL
        n.flags |= FAIL
        n.fail_time = mstime()
        self.send_fail(n.name)
        self.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)

    def clear_failure_if_needed(self, n: Node) -> None:
        """clearNodeFailureIfNeeded: a reachable node loses FAIL when it is safe."""
        now = mstime()
        if n.is_replica or n.numslots == 0:
            self.log(
                "notice",
                "Clear FAIL state for node %s: %s is reachable again."
                % (n.name, "replica" if n.is_replica else "master without slots"),
            )
            n.flags &= ~FAIL
            self.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
        if (
            n.is_master
            and n.numslots > 0
            and now - n.fail_time > self.node_timeout * FAIL_UNDO_TIME_MULT
        ):
            self.log(
                "notice",
                "Clear FAIL state for node %s: is reachable again and nobody is "
                "serving its slots after some time." % n.name,
            )
            n.flags &= ~FAIL
            self.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)

    # ------------------------------------------------------------ slots
    def masters_have_replicas(self) -> bool:
        return any(n.replicas for n in self.nodes.values() if not n.is_replica)

    def set_slot_bit(self, n: Node, slot: int) -> bool:
        byte, bit = slot >> 3, 1 << (slot & 7)
        old = bool(n.slots[byte] & bit)
        n.slots[byte] |= bit
        if not old:
            n.numslots += 1
            # a master that gets its first slot is a target for replica migration
            # when other masters have replicas (clusterNodeSetSlotBit)
            if n.numslots == 1 and self.masters_have_replicas():
                n.flags |= MIGRATE_TO
        return old

    def clear_slot_bit(self, n: Node, slot: int) -> bool:
        byte, bit = slot >> 3, 1 << (slot & 7)
        old = bool(n.slots[byte] & bit)
        n.slots[byte] &= ~bit & 0xFF
        if old:
            n.numslots -= 1
        return old

    def add_slot(self, n: Node, slot: int) -> bool:
        if self.slots[slot] is not None:
            return False
        self.set_slot_bit(n, slot)
        self.slots[slot] = n
        return True

    def del_slot(self, slot: int) -> bool:
        n = self.slots[slot]
        if n is None:
            return False
        me = self.myself
        primary = n if n.is_master else n.replicaof
        if primary is not None and (me is primary or me in primary.replicas):
            self.remove_channels_in_slot(slot)
        self.clear_slot_bit(n, slot)
        self.slots[slot] = None
        return True

    def del_node_slots(self, n: Node) -> int:
        deleted = 0
        for j in n.slot_list():
            self.del_slot(j)
            deleted += 1
        return deleted

    def close_all_slots(self) -> None:
        self.migrating_slots_to.clear()
        self.importing_slots_from.clear()

    def slot_unclaimed(self, slot: int) -> bool:
        """isSlotUnclaimed: unowned, or its owner stopped claiming it."""
        return self.slots[slot] is None or bool(
            self.owner_not_claiming_slot[slot >> 3] & (1 << (slot & 7))
        )

    def set_not_claiming(self, slot: int, on: bool) -> None:
        if on:
            self.owner_not_claiming_slot[slot >> 3] |= 1 << (slot & 7)
        else:
            self.owner_not_claiming_slot[slot >> 3] &= ~(1 << (slot & 7)) & 0xFF

    def remove_channels_in_slot(self, slot: int) -> None:
        """removeChannelsInSlot: shard channels of a slot we stop serving."""
        ps = self.server.pubsub
        if not ps.shard:
            return
        for ch in [ch for ch in ps.shard if key_hash_slot(ch) == slot]:
            ps.shard_unsubscribe_all(ch)

    # ------------------------------------------------------------ epochs
    def max_epoch(self) -> int:
        m = max((n.config_epoch for n in self.nodes.values()), default=0)
        return max(m, self.current_epoch)

    def bump_epoch_without_consensus(self) -> bool:
        """clusterBumpConfigEpochWithoutConsensus."""
        me = self.myself
        if me.config_epoch == 0 or me.config_epoch != self.max_epoch():
            self.current_epoch += 1
            me.config_epoch = self.current_epoch
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
            self.log("warning", "New configEpoch set to %d" % me.config_epoch)
            return True
        return False

    def handle_config_epoch_collision(self, sender: Node) -> None:
        """Two masters with one config epoch: the one with the smaller name moves on."""
        me = self.myself
        if sender.config_epoch != me.config_epoch or not sender.is_master or not me.is_master:
            return
        if sender.name <= me.name:
            return
        self.current_epoch += 1
        me.config_epoch = self.current_epoch
        self.save_config_or_die(True)
        self.log(
            "verbose",
            "WARNING: configEpoch collision with node %s. configEpoch set to %d"
            % (sender.name, me.config_epoch),
        )

    # ------------------------------------------------------------ roles
    def set_node_as_master(self, n: Node) -> None:
        """clusterSetNodeAsMaster."""
        if n.is_master:
            return
        if n.replicaof is not None:
            n.replicaof.remove_replica(n)
            if n is not self.myself:
                n.flags |= MIGRATE_TO
        n.flags &= ~SLAVE
        n.flags |= MASTER
        n.replicaof = None
        self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)

    def set_master(self, n: Node) -> None:
        """clusterSetMaster: make this node a replica of ``n``."""
        me = self.myself
        assert n is not me and me.numslots == 0
        if me.is_master:
            me.flags &= ~(MASTER | MIGRATE_TO)
            me.flags |= SLAVE
            self.close_all_slots()
        elif me.replicaof is not None:
            me.replicaof.remove_replica(me)
        me.replicaof = n
        n.add_replica(me)
        self.on_set_master(n.ip, n.port)
        self.reset_manual_failover()

    def reset_manual_failover(self) -> None:
        if self.mf_replica is not None:
            self.unpause()
        self.mf_end = 0
        self.mf_can_start = 0
        self.mf_replica = None
        self.mf_master_offset = -1

    def update_slots_config_with(self, sender: Node, sender_epoch: int, slots: bytes) -> None:
        """clusterUpdateSlotsConfigWith: a master claims slots with some config
        epoch; take the claims that are newer than what we know, and follow our
        slots if they moved away from our master."""
        me = self.myself
        if sender is me:
            self.log("warning", "Discarding UPDATE message about myself.")
            return
        curmaster = me if me.is_master else me.replicaof
        newmaster = None
        dirty_slots = []
        migrated_our_slots = 0
        owners = self.slots
        # The slots as bitmaps in ints (bit j = slot j, Redis's byte order): this runs
        # for every PING whose slots differ from what we know of the sender, so only
        # the slots it claims and does not hold yet are visited one by one.
        claimed = int.from_bytes(slots, "little")
        held = int.from_bytes(sender.slots, "little")
        sender_slots = claimed.bit_count()
        # claimed and held: its claim stands; held and not claimed: the sender stopped
        # claiming it, but stays owner until someone else claims the slot
        # (owner_not_claiming_slot)
        nc = int.from_bytes(self.owner_not_claiming_slot, "little")
        nc = (nc & ~(claimed & held)) | (held & ~claimed)
        self.owner_not_claiming_slot[:] = nc.to_bytes(CLUSTER_SLOTS // 8, "little")
        for j in bit_positions(claimed & ~held):
            if j in self.importing_slots_from:
                continue
            owner = owners[j]
            if self.slot_unclaimed(j) or owner.config_epoch < sender_epoch:  # type: ignore[union-attr]
                if owner is me and sender is not me and self.count_keys_in_slot(j):
                    dirty_slots.append(j)
                if owner is curmaster:
                    newmaster = sender
                    migrated_our_slots += 1
                self.del_slot(j)
                self.add_slot(sender, j)
                self.set_not_claiming(j, False)
                self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
        if (
            newmaster is not None
            and curmaster is not None
            and curmaster.numslots == 0
            and (
                self.cfg_yes("cluster-allow-replica-migration")
                or sender_slots == migrated_our_slots
            )
        ):
            self.log(
                "warning",
                "Configuration change detected. Reconfiguring myself as a replica of %s"
                % sender.name,
            )
            self.set_master(sender)
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
        elif (
            me.replicaof is not None
            and me.replicaof.replicaof is not None
            and me.replicaof.replicaof is not me
        ):
            self.log(
                "warning",
                "I'm a sub-replica! Reconfiguring myself as a replica of grandmaster %s"
                % me.replicaof.replicaof.name,
            )
            self.set_master(me.replicaof.replicaof)
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
        elif dirty_slots:
            for j in dirty_slots:
                self.del_keys_in_slot(j)

    # ------------------------------------------------------------ keys
    def _slot_index(self) -> dict:
        """slot -> keys of db 0, rebuilt when the keyspace changed since last time.

        Redis keeps a per-slot list of keys in every dict entry; here the index is
        built in one pass over the keys (a C CRC per key) and reused until the next
        write, which is what resharding needs: GETKEYSINSLOT, then MIGRATE."""
        db = self.server.dbs[0]
        version = (id(db.data), len(db.data), self.server.dirty)
        if self._index_version != version:
            self._index = keys_by_slot(db.data)
            self._index_version = version
        return self._index

    _index_version: tuple = ()
    _index: dict = {}

    def count_keys_in_slot(self, slot: int) -> int:
        db = self.server.dbs[0]
        if not db.data:
            return 0
        return len(self._slot_index().get(slot, ()))

    def keys_in_slot(self, slot: int, count: int) -> list[bytes]:
        db = self.server.dbs[0]
        if not db.data:
            return []
        return self._slot_index().get(slot, [])[:count]

    def del_keys_in_slot(self, slot: int) -> int:
        """delKeysInSlot: drop a slot's keys we no longer own (propagated as DELs)."""
        server = self.server
        db = server.dbs[0]
        keys = list(self._slot_index().get(slot, ()))
        n = 0
        for k in keys:
            if db.delete(k):
                n += 1
                server.dirty += 1
                server.propagate_expire(db, k)  # a DEL to the AOF and replicas
                db.notify(4, "del", k)  # NOTIFY_GENERIC
        return n

    # ------------------------------------------------------------ state
    def update_state(self) -> None:
        """clusterUpdateState: ok when every slot is served (with
        cluster-require-full-coverage) and a majority of masters is reachable."""
        self.todo &= ~TODO_UPDATE_STATE
        now = mstime()
        if self.first_update_time == 0:
            self.first_update_time = now
        me = self.myself
        # a restarted master waits a little before accepting writes, so it can
        # learn that it was failed over meanwhile
        if (
            me.is_master
            and self.state == CLUSTER_FAIL
            and now - self.first_update_time < WRITABLE_DELAY
        ):
            return
        new_state = CLUSTER_OK
        if self.cfg_yes("cluster-require-full-coverage"):
            for owner in self.slots:
                if owner is None or owner.flags & FAIL:
                    new_state = CLUSTER_FAIL
                    break
        size = 0
        reachable = 0
        for n in self.nodes.values():
            if n.is_master and n.numslots:
                size += 1
                if not n.flags & (FAIL | PFAIL):
                    reachable += 1
        self.size = size
        if reachable < size // 2 + 1:
            new_state = CLUSTER_FAIL
            self.among_minority_time = now
        if new_state != self.state:
            rejoin = min(max(self.node_timeout, MIN_REJOIN_DELAY), MAX_REJOIN_DELAY)
            if new_state == CLUSTER_OK and me.is_master and now - self.among_minority_time < rejoin:
                return
            self.log(
                "warning",
                "Cluster state changed: %s" % ("ok" if new_state == CLUSTER_OK else "fail"),
            )
            self.state = new_state

    def verify_config_with_data(self) -> None:
        """verifyClusterConfigWithData: after loading, keys in slots we do not
        own make us take the slot (unassigned) or import it (owned elsewhere)."""
        me = self.myself
        if me.is_replica:
            return
        update = 0
        index = self._slot_index()
        for j in sorted(index):
            if self.slots[j] is me or j in self.importing_slots_from:
                continue
            update += 1
            if self.slots[j] is None:
                self.log(
                    "warning",
                    "I have keys for unassigned slot %d. Taking responsibility for it." % j,
                )
                self.add_slot(me, j)
            else:
                self.log(
                    "warning",
                    "I have keys for slot %d, but the slot is assigned to another node. "
                    "Setting it to importing state." % j,
                )
                self.importing_slots_from[j] = self.slots[j]  # type: ignore[assignment]
        if update:
            self.save_config_or_die(True)

    def do_before_sleep(self, flags: int) -> None:
        """clusterDoBeforeSleep: remember work for the end of this loop iteration."""
        self.todo |= flags
        if not self.todo_scheduled:
            loop = self.server.loop
            if loop is not None:
                self.todo_scheduled = True
                loop.call_soon(self.before_sleep)

    def before_sleep(self) -> None:
        """clusterBeforeSleep: failover steps, state update and config save, once."""
        self.todo_scheduled = False
        flags = self.todo
        self.todo = 0
        if flags & (TODO_HANDLE_MANUALFAILOVER | TODO_HANDLE_FAILOVER):
            self.failover_step(flags)
        if flags & TODO_UPDATE_STATE:
            self.update_state()
        if flags & TODO_SAVE_CONFIG:
            self.save_config_or_die(bool(flags & TODO_FSYNC_CONFIG))

    # ------------------------------------------------------------ describing
    def node_description(self, n: Node, use_pport: bool = False) -> str:
        """clusterGenNodeDescription: one line of CLUSTER NODES."""
        port = n.pport if use_pport and n.pport else n.port
        addr = "%s:%d@%d" % (n.ip, port, n.cport)
        if n.hostname:
            addr += "," + n.hostname
        master = n.replicaof.name if n.replicaof is not None else "-"
        epoch = n.config_epoch
        if n.is_replica and n.replicaof is not None:
            epoch = n.replicaof.config_epoch
        parts = [
            n.name,
            addr,
            flags_text(n.flags),
            master,
            str(n.ping_sent),
            str(n.pong_received),
            str(epoch),
            "connected" if (n.link is not None or n.flags & MYSELF) else "disconnected",
        ]
        line = " ".join(parts)
        if n.numslots:
            line += "".join(
                " %d" % a if a == b else " %d-%d" % (a, b) for a, b in bitmap_ranges(n.slots)
            )
        if n.flags & MYSELF:
            open_slots = sorted(set(self.migrating_slots_to) | set(self.importing_slots_from))
            for j in open_slots:
                if j in self.migrating_slots_to:
                    line += " [%d->-%s]" % (j, self.migrating_slots_to[j].name)
                else:
                    line += " [%d-<-%s]" % (j, self.importing_slots_from[j].name)
        return line

    def nodes_description(self, filter_flags: int = 0, use_pport: bool = False) -> str:
        """clusterGenNodesDescription: CLUSTER NODES (and the body of nodes.conf)."""
        return "".join(
            self.node_description(n, use_pport) + "\n"
            for n in self.nodes.values()
            if not n.flags & filter_flags
        )

    # ------------------------------------------------------------ nodes.conf
    def lock_config(self, path: str) -> bool:
        """clusterLockConfig: one node per nodes.conf (an flock held while we live)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            self.log("warning", "Can't open %s in order to acquire a lock: %s" % (path, e.strerror))
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (11, 35):  # EWOULDBLOCK
                self.log(
                    "warning",
                    "Sorry, the cluster configuration file %s is already used by a "
                    "different Redis Cluster node. Please make sure that different "
                    "nodes use different cluster configuration files." % path,
                )
            else:
                self.log("warning", "Impossible to lock %s: %s" % (path, e.strerror))
            os.close(fd)
            return False
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
        self.lock_fd = fd
        return True

    def load_config(self, path: str) -> bool:
        """clusterLoadConfig: False when there is no (or an empty) file.

        A corrupt file stops the server, as Redis does: a node must not start
        with a partial view of the cluster it belongs to."""
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return False
        except OSError as e:
            self.log("warning", "Loading the cluster node config from %s: %s" % (path, e.strerror))
            raise SystemExit(1)
        if not text:
            return False
        try:
            self._parse_config(text)
        except (ValueError, IndexError, AssertionError):
            self.log("warning", "Unrecoverable error: corrupted cluster config file.")
            raise SystemExit(1)
        self.log("notice", "Node configuration loaded, I'm %s" % self.myself.name)
        self.current_epoch = max(self.current_epoch, self.max_epoch())
        return True

    def _node_for(self, name: str) -> Node:
        if not valid_name(name):
            raise ValueError(name)
        n = self.nodes.get(name)
        if n is None:
            n = Node(name, 0)
            self.add_node(n)
        return n

    def _parse_config(self, text: str) -> None:
        for raw in text.split("\n"):
            if not raw.strip():
                continue
            argv = split_args(raw.encode())
            if argv is None:
                raise ValueError("unbalanced quotes")
            argv = [a.decode() if isinstance(a, bytes) else a for a in argv]
            if argv[0].lower() == "vars":
                if len(argv) % 2 == 0:
                    raise ValueError("vars")
                for k, v in zip(argv[1::2], argv[2::2]):
                    if k.lower() == "currentepoch":
                        self.current_epoch = int(v)
                    elif k.lower() == "lastvoteepoch":
                        self.last_vote_epoch = int(v)
                    else:
                        self.log("warning", "Skipping unknown cluster config variable '%s'" % k)
                continue
            if len(argv) < 8:
                raise ValueError("short line")
            n = self._node_for(argv[0])
            addr = argv[1]
            if "," in addr:
                addr, n.hostname = addr.split(",", 1)
            else:
                n.hostname = ""
            ip, _, ports = addr.rpartition(":")
            if not _:
                raise ValueError("address")
            n.ip = ip
            port, _, bus = ports.partition("@")
            n.port = int(port or 0)
            n.cport = int(bus) if bus else n.port + 10000
            for fl in argv[2].split(","):
                fl = fl.lower()
                if fl == "myself":
                    assert self.myself is None
                    self.myself = n
                    n.flags |= MYSELF
                elif fl == "fail":
                    n.flags |= FAIL
                    n.fail_time = mstime()
                elif fl == "noflags":
                    pass
                elif fl in _FLAG_BY_NAME:
                    n.flags |= _FLAG_BY_NAME[fl]
                else:
                    raise ValueError("Unknown flag in redis cluster config file")
            if argv[3] != "-":
                master = self._node_for(argv[3])
                n.replicaof = master
                master.add_replica(n)
            if int(argv[4]):
                n.ping_sent = mstime()
            if int(argv[5]):
                n.pong_received = mstime()
            n.config_epoch = 0 if (n.is_replica and n.replicaof is not None) else int(argv[6])
            for spec in argv[8:]:
                if spec.startswith("["):
                    body = spec[1:].rstrip("]")
                    slot_s, rest = body.split("-", 1)
                    slot = int(slot_s)
                    if not 0 <= slot < CLUSTER_SLOTS:
                        raise ValueError("slot")
                    direction, other = rest[0], rest[2:]
                    cn = self._node_for(other)
                    if direction == ">":
                        self.migrating_slots_to[slot] = cn
                    else:
                        self.importing_slots_from[slot] = cn
                    continue
                a, _, b = spec.partition("-")
                start, stop = int(a), int(b) if b else int(a)
                if not (0 <= start < CLUSTER_SLOTS and 0 <= stop < CLUSTER_SLOTS):
                    raise ValueError("slot range")
                for j in range(start, stop + 1):
                    self.add_slot(n, j)
        if self.myself is None:
            raise ValueError("no myself")

    def save_config(self, fsync: bool = True) -> bool:
        """clusterSaveConfig, atomically: write a temporary file, then rename it."""
        self.todo &= ~TODO_SAVE_CONFIG
        if fsync:
            self.todo &= ~TODO_FSYNC_CONFIG
        body = self.nodes_description(HANDSHAKE) + "vars currentEpoch %d lastVoteEpoch %d\n" % (
            self.current_epoch,
            self.last_vote_epoch,
        )
        path = self.config_path
        tmp = "%s.tmp-%d" % (path, os.getpid())
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, body.encode())
                if fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as e:
            self.last_save_error = e.strerror or str(e)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False
        # the lock was on the file we just replaced: take it on the new one
        self.lock_config(path)
        return True

    last_save_error = ""

    def save_config_or_die(self, fsync: bool = True) -> None:
        if not self.save_config(fsync):
            self.log("warning", "Fatal: can't update cluster config file.")
            os._exit(1)

    # ------------------------------------------------------------ reset
    def reset(self, hard: bool) -> None:
        """clusterReset: forget every other node and slot; HARD also renames us."""
        me = self.myself
        if me.is_replica:
            self.set_node_as_master(me)
            self.on_unset_master()
            self.empty_data()
        self.close_all_slots()
        self.reset_manual_failover()
        for j in range(CLUSTER_SLOTS):
            self.del_slot(j)
        for n in list(self.nodes.values()):
            if n is not me:
                self.del_node(n)
        if hard:
            self.current_epoch = 0
            self.last_vote_epoch = 0
            me.config_epoch = 0
            self.log("warning", "configEpoch set to 0 via CLUSTER RESET HARD")
            self.rename_node(me, random_name())
            self.log("notice", "Node hard reset, now I'm %s" % me.name)
        self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)

    # ------------------------------------------------------------ myself
    def announced_ports(self) -> tuple[int, int, int]:
        """deriveAnnouncedPorts: (port, pport, cport) we tell other nodes."""
        cfg = self.server.config
        tls_cluster = cfg.get("tls-cluster") == "yes"
        port = cfg.get_int("tls-port") if tls_cluster else self.server.port
        pport = self.server.port if tls_cluster else 0
        cport = cfg.get_int("cluster-port") or port + 10000
        if tls_cluster and cfg.get_int("cluster-announce-tls-port"):
            port = cfg.get_int("cluster-announce-tls-port")
            pport = cfg.get_int("cluster-announce-port")
        elif cfg.get_int("cluster-announce-port"):
            port = cfg.get_int("cluster-announce-port")
        if cfg.get_int("cluster-announce-bus-port"):
            cport = cfg.get_int("cluster-announce-bus-port")
        return port, pport, cport

    def update_myself_announced(self) -> None:
        """Keep myself's ports, ip, hostname and nofailover flag in line with the config."""
        me = self.myself
        if me is None:
            return
        me.port, me.pport, me.cport = self.announced_ports()
        cfg = self.server.config
        ip = cfg.get("cluster-announce-ip") or ""
        if ip != self._announced_ip:
            self._announced_ip = ip
            me.ip = ip[:45] if ip else ""  # "" = learn it from MEET/PING
        me.hostname = cfg.get("cluster-announce-hostname") or ""
        old = me.flags
        me.flags &= ~NOFAILOVER
        if self.cfg_yes("cluster-replica-no-failover"):
            me.flags |= NOFAILOVER
        if me.flags != old:
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)

    _announced_ip = ""

    def random_node(self) -> Node:
        return random.choice(list(self.nodes.values()))
