"""CLUSTER, ASKING, READONLY, READWRITE: a node's cluster commands (cluster.c).

Everything here reads or changes the node's :class:`~vermilion.cluster.state.ClusterState`
(``server.cluster``, None unless ``cluster-enabled yes``) and leaves the
conversation with other nodes to the gossip engine (``server.cluster_bus``):
CLUSTER MEET only creates a node in handshake, which the engine's cron then
connects to; slot changes are saved and spread by the next pings.
"""

from ..cluster import mode, route
from ..cluster.slots import CLUSTER_SLOTS, key_hash_slot
from ..cluster.state import (
    CLUSTER_OK,
    MYSELF,
    TODO_FSYNC_CONFIG,
    TODO_SAVE_CONFIG,
    TODO_UPDATE_STATE,
    MF_TIMEOUT,
    mstime,
)
from ..core.bootstrap import on_server_init
from ..core.table import command
from ..errors import NOT_INT, SYNTAX, CommandError, subcommand_syntax_error
from ..protocol.encoder import OK, Map, Raw, Status, Verbatim
from ..util import parse_ll

DISABLED = "ERR This instance has cluster support disabled"


def _state(c):
    st = c.server.cluster
    if st is None:
        raise CommandError(DISABLED)
    return st


def _ll(b, msg=NOT_INT):
    v = parse_ll(b)
    if v is None:
        raise CommandError(msg)
    return v


def _slot(b):
    """getSlotOrReply."""
    v = parse_ll(b)
    if v is None or not 0 <= v < CLUSTER_SLOTS:
        raise CommandError("ERR Invalid or out of range slot")
    return v


def _node(st, b, fmt="ERR Unknown node %s"):
    n = st.lookup(b)
    if n is None:
        raise CommandError(fmt % b.decode("utf-8", "replace"))
    return n


def _use_pport(c):
    return c.server.config.get("tls-cluster") == "yes" and not getattr(c, "is_tls", False)


HELP = [
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
]


@command("cluster|help")
def cluster_help(c, argv):
    _state(c)
    return [Status(x) for x in HELP]


@command("cluster|meet")
def cluster_meet(c, argv):
    st = _state(c)
    if len(argv) not in (4, 5):
        raise subcommand_syntax_error(argv)
    port = parse_ll(argv[3])
    if port is None:
        raise CommandError(
            "ERR Invalid TCP base port specified: %s" % argv[3].decode("utf-8", "replace")
        )
    if len(argv) == 5:
        cport = parse_ll(argv[4])
        if cport is None:
            raise CommandError(
                "ERR Invalid TCP bus port specified: %s" % argv[4].decode("utf-8", "replace")
            )
    else:
        cport = port + 10000
    err = st.start_handshake(argv[2].decode("utf-8", "replace"), port, cport)
    if err == "EINVAL":
        raise CommandError(
            "ERR Invalid node address specified: %s:%s"
            % (argv[2].decode("utf-8", "replace"), argv[3].decode("utf-8", "replace"))
        )
    return OK


@command("cluster|nodes")
def cluster_nodes(c, argv):
    st = _state(c)
    return Verbatim(st.nodes_description(0, _use_pport(c)).encode())


@command("cluster|myid")
def cluster_myid(c, argv):
    return _state(c).myself.name.encode()


def _replica_available(c, n):
    """isReplicaAvailable: not failed, and it has replicated something."""
    if n.failed:
        return False
    off = n.repl_offset
    if n.flags & MYSELF:
        from ..cluster.gossip import replica_offset  # start-up cost: gossip, cluster mode only

        off = replica_offset(c.server)
    return off != 0


def _node_entry(c, st, n):
    """addNodeToNodeReply: [endpoint, port, id, {ip/hostname}]."""
    kind = c.server.config.get("cluster-preferred-endpoint-type")
    if kind == "ip":
        ep = n.ip.encode()
    elif kind == "hostname":
        ep = (n.hostname or "?").encode()
    else:
        ep = None
    port = n.pport if _use_pport(c) and n.pport else n.port
    extra = Map()
    if kind != "ip":
        extra += [b"ip", n.ip.encode()]
    if kind != "hostname" and n.hostname:
        extra += [b"hostname", n.hostname.encode()]
    return [ep, port, n.name.encode(), extra]


def _slot_runs(st):
    """(owner, start, end) for every run of consecutive slots with one owner."""
    out = []
    owner = None
    start = 0
    slots = st.slots
    for i in range(CLUSTER_SLOTS + 1):
        n = slots[i] if i < CLUSTER_SLOTS else None
        if n is not owner:
            if owner is not None:
                out.append((owner, start, i - 1))
            owner = n
            start = i
    return out


@command("cluster|slots")
def cluster_slots(c, argv):
    st = _state(c)
    out = []
    for n, a, b in _slot_runs(st):
        entry = [a, b, _node_entry(c, st, n)]
        for r in n.replicas:
            if _replica_available(c, r):
                entry.append(_node_entry(c, st, r))
        out.append(entry)
    return out


def _shard_node(c, st, n):
    """addNodeDetailsToShardReply."""
    tls = c.server.config.get("tls-cluster") == "yes"
    m = Map()
    m += [b"id", n.name.encode()]
    plain = n.pport if tls else n.port
    if plain:
        m += [b"port", plain]
    if tls and n.port:
        m += [b"tls-port", n.port]
    m += [b"ip", n.ip.encode(), b"endpoint", route.endpoint(st, n).encode()]
    if n.hostname:
        m += [b"hostname", n.hostname.encode()]
    if n.flags & MYSELF:
        from ..cluster.gossip import replica_offset  # start-up cost: gossip, cluster mode only

        off = replica_offset(c.server) if n.is_replica else c.server.master_repl_offset
    else:
        off = n.repl_offset
    if n.failed:
        health = b"fail"
    elif n.is_replica and off == 0:
        health = b"loading"
    else:
        health = b"online"
    m += [
        b"role",
        b"replica" if n.is_replica else b"master",
        b"replication-offset",
        off,
        b"health",
        health,
    ]
    return m


@command("cluster|shards")
def cluster_shards(c, argv):
    st = _state(c)
    runs: dict = {}
    for n, a, b in _slot_runs(st):
        runs.setdefault(n, []).extend((a, b))
    out = []
    for n in st.nodes.values():
        if not n.is_master:
            continue
        members = [n] + list(n.replicas)
        out.append(
            Map([b"slots", runs.get(n, []), b"nodes", [_shard_node(c, st, m) for m in members]])
        )
    return out


@command("cluster|flushslots")
def cluster_flushslots(c, argv):
    st = _state(c)
    if c.server.dbs[0].data:
        raise CommandError("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
    st.del_node_slots(st.myself)
    st.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    return OK


def _check_assignments(st, marks, delete, a, b):
    """checkSlotAssignmentsOrReply."""
    for slot in range(a, b + 1):
        if delete and st.slots[slot] is None:
            raise CommandError("ERR Slot %d is already unassigned" % slot)
        if not delete and st.slots[slot] is not None:
            raise CommandError("ERR Slot %d is already busy" % slot)
        if slot in marks:
            raise CommandError("ERR Slot %d specified multiple times" % slot)
        marks.add(slot)


def _update_slots(st, marks, delete):
    """clusterUpdateSlots."""
    for j in sorted(marks):
        st.importing_slots_from.pop(j, None)
        if delete:
            st.del_slot(j)
        else:
            st.add_slot(st.myself, j)
    st.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)


def _addslots(c, argv, delete):
    st = _state(c)
    slots = [_slot(a) for a in argv[2:]]
    marks: set = set()
    for s in slots:
        _check_assignments(st, marks, delete, s, s)
    _update_slots(st, marks, delete)
    return OK


@command("cluster|addslots")
def cluster_addslots(c, argv):
    return _addslots(c, argv, False)


@command("cluster|delslots")
def cluster_delslots(c, argv):
    return _addslots(c, argv, True)


def _addslotsrange(c, argv, delete):
    st = _state(c)
    if len(argv) % 2 == 1:
        raise CommandError(
            "ERR wrong number of arguments for '%s' command"
            % ("cluster|" + argv[1].decode().lower())
        )
    marks: set = set()
    for i in range(2, len(argv), 2):
        a = _slot(argv[i])
        b = _slot(argv[i + 1])
        if a > b:
            raise CommandError(
                "ERR start slot number %d is greater than end slot number %d" % (a, b)
            )
        _check_assignments(st, marks, delete, a, b)
    _update_slots(st, marks, delete)
    return OK


@command("cluster|addslotsrange")
def cluster_addslotsrange(c, argv):
    return _addslotsrange(c, argv, False)


@command("cluster|delslotsrange")
def cluster_delslotsrange(c, argv):
    return _addslotsrange(c, argv, True)


@command("cluster|setslot")
def cluster_setslot(c, argv):
    st = _state(c)
    me = st.myself
    if me.is_replica:
        raise CommandError("ERR Please use SETSLOT only with masters.")
    slot = _slot(argv[2])
    action = argv[3].lower()
    n_args = len(argv)
    if action == b"migrating" and n_args == 5:
        if st.slots[slot] is not me:
            raise CommandError("ERR I'm not the owner of hash slot %d" % slot)
        n = _node(st, argv[4], "ERR I don't know about node %s")
        if n.is_replica:
            raise CommandError("ERR Target node is not a master")
        st.migrating_slots_to[slot] = n
    elif action == b"importing" and n_args == 5:
        if st.slots[slot] is me:
            raise CommandError("ERR I'm already the owner of hash slot %d" % slot)
        n = _node(st, argv[4], "ERR I don't know about node %s")
        if n.is_replica:
            raise CommandError("ERR Target node is not a master")
        st.importing_slots_from[slot] = n
    elif action == b"stable" and n_args == 4:
        st.importing_slots_from.pop(slot, None)
        st.migrating_slots_to.pop(slot, None)
    elif action == b"node" and n_args == 5:
        n = _node(st, argv[4])
        if n.is_replica:
            raise CommandError("ERR Target node is not a master")
        keys = st.count_keys_in_slot(slot)
        if st.slots[slot] is me and n is not me and keys:
            raise CommandError(
                "ERR Can't assign hashslot %d to a different node while I still hold keys "
                "for this hash slot." % slot
            )
        # the last key left: the slot is no longer migrating
        if keys == 0 and slot in st.migrating_slots_to:
            del st.migrating_slots_to[slot]
        was_mine = st.slots[slot] is me
        st.del_slot(slot)
        st.add_slot(n, slot)
        if (
            was_mine
            and n is not me
            and me.numslots == 0
            and st.cfg_yes("cluster-allow-replica-migration")
        ):
            c.server.log_warning(
                "Configuration change detected. Reconfiguring myself as a replica of %s" % n.name
            )
            st.set_master(n)
            st.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
        # importing done: take a new config epoch so our claim wins everywhere
        if n is me and slot in st.importing_slots_from:
            if st.bump_epoch_without_consensus():
                c.server.log_warning("configEpoch updated after importing slot %d" % slot)
            del st.importing_slots_from[slot]
            st.broadcast_pong_all()
    else:
        raise CommandError(
            "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP"
        )
    st.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
    return OK


@command("cluster|bumpepoch")
def cluster_bumpepoch(c, argv):
    st = _state(c)
    bumped = st.bump_epoch_without_consensus()
    return Raw(b"+%s %d\r\n" % (b"BUMPED" if bumped else b"STILL", st.myself.config_epoch))


def info_text(st):
    """CLUSTER INFO's body."""
    from ..cluster import bus as wire  # start-up cost: the bus format, cluster mode only

    assigned = ok = pfail = fail = 0
    for n in st.slots:
        if n is None:
            continue
        assigned += 1
        if n.failed:
            fail += 1
        elif n.timed_out:
            pfail += 1
        else:
            ok += 1
    me = st.myself
    myepoch = (
        me.replicaof.config_epoch
        if (me.is_replica and me.replicaof is not None)
        else me.config_epoch
    )
    lines = [
        "cluster_state:%s" % ("ok" if st.state == CLUSTER_OK else "fail"),
        "cluster_slots_assigned:%d" % assigned,
        "cluster_slots_ok:%d" % ok,
        "cluster_slots_pfail:%d" % pfail,
        "cluster_slots_fail:%d" % fail,
        "cluster_known_nodes:%d" % len(st.nodes),
        "cluster_size:%d" % st.size,
        "cluster_current_epoch:%d" % st.current_epoch,
        "cluster_my_epoch:%d" % myepoch,
    ]
    for i, v in enumerate(st.stats_sent):
        if v:
            lines.append("cluster_stats_messages_%s_sent:%d" % (wire.TYPE_NAMES[i], v))
    lines.append("cluster_stats_messages_sent:%d" % sum(st.stats_sent))
    for i, v in enumerate(st.stats_received):
        if v:
            lines.append("cluster_stats_messages_%s_received:%d" % (wire.TYPE_NAMES[i], v))
    lines.append("cluster_stats_messages_received:%d" % sum(st.stats_received))
    lines.append("total_cluster_links_buffer_limit_exceeded:%d" % st.links_buffer_limit_exceeded)
    return "".join(line + "\r\n" for line in lines)


@command("cluster|info")
def cluster_info(c, argv):
    return Verbatim(info_text(_state(c)).encode())


@command("cluster|saveconfig")
def cluster_saveconfig(c, argv):
    st = _state(c)
    if st.save_config(True):
        return OK
    raise CommandError("ERR error saving the cluster node config: %s" % st.last_save_error)


@command("cluster|keyslot")
def cluster_keyslot(c, argv):
    _state(c)
    return key_hash_slot(argv[2])


@command("cluster|countkeysinslot")
def cluster_countkeysinslot(c, argv):
    st = _state(c)
    slot = _ll(argv[2])
    if not 0 <= slot < CLUSTER_SLOTS:
        raise CommandError("ERR Invalid slot")
    return st.count_keys_in_slot(slot)


@command("cluster|getkeysinslot")
def cluster_getkeysinslot(c, argv):
    st = _state(c)
    slot = _ll(argv[2])
    maxkeys = _ll(argv[3])
    if not 0 <= slot < CLUSTER_SLOTS or maxkeys < 0:
        raise CommandError("ERR Invalid slot or number of keys")
    return st.keys_in_slot(slot, maxkeys)


@command("cluster|forget")
def cluster_forget(c, argv):
    st = _state(c)
    n = _node(st, argv[2])
    if n is st.myself:
        raise CommandError("ERR I tried hard but I can't forget myself...")
    if st.myself.is_replica and st.myself.replicaof is n:
        raise CommandError("ERR Can't forget my master!")
    st.blacklist_add(n)
    st.del_node(n)
    st.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    return OK


@command("cluster|replicate")
def cluster_replicate(c, argv):
    st = _state(c)
    n = _node(st, argv[2])
    me = st.myself
    if n is me:
        raise CommandError("ERR Can't replicate myself")
    if n.is_replica:
        raise CommandError("ERR I can only replicate a master, not a replica.")
    if me.is_master and (me.numslots != 0 or c.server.dbs[0].data):
        raise CommandError("ERR To set a master the node must be empty and without assigned slots.")
    st.set_master(n)
    st.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    return OK


def _replicas(c, argv):
    st = _state(c)
    n = _node(st, argv[2])
    if n.is_replica:
        raise CommandError("ERR The specified node is not a master")
    return [st.node_description(r, _use_pport(c)).encode() for r in n.replicas]


@command("cluster|replicas")
def cluster_replicas(c, argv):
    return _replicas(c, argv)


@command("cluster|slaves")
def cluster_slaves(c, argv):
    return _replicas(c, argv)


@command("cluster|count-failure-reports")
def cluster_count_failure_reports(c, argv):
    st = _state(c)
    return st.failure_reports_count(_node(st, argv[2]))


@command("cluster|failover")
def cluster_failover(c, argv):
    st = _state(c)
    force = takeover = False
    if len(argv) == 3:
        opt = argv[2].lower()
        if opt == b"force":
            force = True
        elif opt == b"takeover":
            takeover = force = True
        else:
            raise CommandError(SYNTAX)
    elif len(argv) != 2:
        raise subcommand_syntax_error(argv)
    me = st.myself
    if me.is_master:
        raise CommandError("ERR You should send CLUSTER FAILOVER to a replica")
    if me.replicaof is None:
        raise CommandError("ERR I'm a replica but my master is unknown to me")
    if not force and (me.replicaof.failed or me.replicaof.link is None):
        raise CommandError("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
    st.reset_manual_failover()
    st.mf_end = mstime() + MF_TIMEOUT
    engine = c.server.cluster_bus
    if takeover:
        # no election: take a new epoch ourselves and the master's slots
        c.server.log_warning("Taking over the master (user request).")
        st.bump_epoch_without_consensus()
        engine.failover_replace_your_master()
    elif force:
        c.server.log_warning("Forced failover user request accepted.")
        st.mf_can_start = 1
    else:
        c.server.log_warning("Manual failover user request accepted.")
        if me.replicaof.link is not None:
            from ..cluster import bus as wire  # start-up cost: the bus format, cluster mode only

            engine.send(me.replicaof.link, engine.header(wire.MFSTART))
    return OK


@command("cluster|set-config-epoch")
def cluster_set_config_epoch(c, argv):
    st = _state(c)
    epoch = _ll(argv[2])
    if epoch < 0:
        raise CommandError("ERR Invalid config epoch specified: %d" % epoch)
    if len(st.nodes) > 1:
        raise CommandError(
            "ERR The user can assign a config epoch only when the node does not know any other node."
        )
    if st.myself.config_epoch != 0:
        raise CommandError("ERR Node config epoch is already non-zero")
    st.myself.config_epoch = epoch
    c.server.log_warning("configEpoch set to %d via CLUSTER SET-CONFIG-EPOCH" % epoch)
    if st.current_epoch < epoch:
        st.current_epoch = epoch
    st.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    return OK


@command("cluster|reset")
def cluster_reset(c, argv):
    st = _state(c)
    hard = False
    if len(argv) == 3:
        opt = argv[2].lower()
        if opt == b"hard":
            hard = True
        elif opt != b"soft":
            raise CommandError(SYNTAX)
    if st.myself.is_master and c.db.data:
        raise CommandError("ERR CLUSTER RESET can't be called with master nodes containing keys")
    st.reset(hard)
    return OK


@command("cluster|links")
def cluster_links(c, argv):
    st = _state(c)
    out = []
    for n in st.nodes.values():
        for link in (n.link, n.inbound_link):
            if link is None:
                continue
            used = link.send_buffer_used
            out.append(
                Map(
                    [
                        b"direction",
                        b"from" if link.inbound else b"to",
                        b"node",
                        n.name.encode(),
                        b"create-time",
                        link.ctime,
                        b"events",
                        b"r" + (b"w" if used else b""),
                        b"send-buffer-allocated",
                        used,
                        b"send-buffer-used",
                        used,
                    ]
                )
            )
    return out


@command("asking")
def asking(c, argv):
    _state(c)
    c.asking = True
    c.update_special()  # the next command takes the slow path, which resets it
    return OK


@command("readonly")
def readonly(c, argv):
    _state(c)
    c.readonly = True
    return OK


@command("readwrite")
def readwrite(c, argv):
    _state(c)
    c.readonly = False
    return OK


@on_server_init
def _init(server):
    if mode.enabled(server):
        mode.setup(server)
