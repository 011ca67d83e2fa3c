"""Which node answers a request: MOVED, ASK, CROSSSLOT, TRYAGAIN, CLUSTERDOWN.

In cluster mode, before a command with keys runs, Redis's ``getNodeByQuery``
decides whether this node may serve it. All its keys must hash to one slot
(else ``-CROSSSLOT``); the slot must be served (else ``-CLUSTERDOWN Hash slot not
served``) and by us, or the client is sent to the owner with ``-MOVED slot
host:port``. While a slot moves between two nodes, keys that are already gone
from the old owner are asked for at the new one (``-ASK``); the new owner serves
them only to a client that said ``ASKING`` first; a multi-key request that finds
some keys on each side gets ``-TRYAGAIN``. A replica serves reads of its
master's slots to a client that sent ``READONLY``. When the cluster is down, a
node refuses everything (or only writes, with ``cluster-allow-reads-when-down``).

Commands sent by our master, or replayed from the AOF, are never redirected:
they must be obeyed. :func:`check` is the dispatcher's hook; scripts ask
:func:`node_for_query` for each ``redis.call``.
"""

from __future__ import annotations

from typing import Any

from ..errors import Redirect
from ..core.keyspecs import specs_of
from ..keyspace.blocking import BlockState, unblock
from ..protocol.encoder import ErrorReply
from .slots import key_hash_slot
from .state import CLUSTER_OK, ClusterState, Node

REDIR_NONE = 0
REDIR_CROSS_SLOT = 1
REDIR_UNSTABLE = 2
REDIR_ASK = 3
REDIR_MOVED = 4
REDIR_DOWN_STATE = 5
REDIR_DOWN_UNBOUND = 6
REDIR_DOWN_RO_STATE = 7

_SHARD_PUBSUB = frozenset(("ssubscribe", "sunsubscribe", "spublish"))


def key_positions(cmd: Any, argv: list) -> list[int]:
    """Redis 7.0's getKeysFromCommand, which cluster routing uses: the command's
    getkeys procedure, else its legacy (first, last, step) key range. Unlike the
    key specs this counts SPUBLISH's shard channel as a key."""
    native = specs_of(cmd).native
    if native is not None:
        return [pos for pos, _ in native(argv)]
    first = cmd.first_key
    if first <= 0:
        return []
    last = cmd.last_key
    if last < 0:
        last += len(argv)
    if last >= len(argv) or last < first:
        return []  # a variadic command with too few arguments: it reports that itself
    return list(range(first, last + 1, cmd.step))


def has_key_specs(cmd: Any) -> bool:
    """processCommand redirects only commands with key specs (or movable keys)."""
    return bool(specs_of(cmd).specs)


def _logically_expired(server: Any, db: Any, key: bytes) -> bool:
    """expireIfNeeded with EXPIRE_AVOID_DELETE_EXPIRED: the key's TTL passed
    (nothing expires while loading)."""
    if not db.expires or server.expiry_paused:
        return False
    when = db.expires.get(key)
    return when is not None and when <= db.now()


_SCRIPT_CMDS = frozenset(("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"))


def _is_write(server: Any, c: Any, cmd: Any, argv: list) -> bool:
    """getCommandFlags' CMD_WRITE: a script or function that declared flags is a
    write unless it declared no-writes (scriptFlagsToCmdFlags)."""
    if cmd.fullname in _SCRIPT_CMDS:
        may_write = getattr(server, "script_may_write", None)
        if may_write is not None:
            w = may_write(c, cmd, argv)
            if w is not None:
                return w
    return cmd.is_write


def node_for_query(
    st: ClusterState, c: Any, cmd: Any, argv: list, multi: list | None = None
) -> tuple[Node | None, int, int]:
    """getNodeByQuery: (node, slot, error code). ``multi`` is the queued
    commands when ``cmd`` is EXEC."""
    me = st.myself
    if cmd.fullname == "exec":
        if multi is None:
            return me, 0, REDIR_NONE
        requests = multi
    else:
        requests = [(cmd, argv)]
    is_shard = cmd.fullname in _SHARD_PUBSUB
    firstkey = None
    slot = 0
    n = None
    multiple_keys = False
    migrating = importing = False
    missing = existing = 0
    db = st.server.dbs[0]
    for mcmd, margv in requests:
        for pos in key_positions(mcmd, margv):
            key = margv[pos]
            thisslot = key_hash_slot(key)
            if firstkey is None:
                firstkey = key
                slot = thisslot
                n = st.slots[slot]
                if n is None:
                    return None, slot, REDIR_DOWN_UNBOUND
                if n is me and slot in st.migrating_slots_to:
                    migrating = True
                elif slot in st.importing_slots_from:
                    importing = True
            elif key != firstkey:
                if slot != thisslot:
                    return None, slot, REDIR_CROSS_SLOT
                multiple_keys = True
            if (migrating or importing) and not is_shard:
                # lookupKeyReadWithFlags(NOTOUCH|NOEXPIRE...): a logically expired
                # key counts as missing (it is not deleted here)
                if key in db.data and not _logically_expired(st.server, db, key):
                    existing += 1
                else:
                    missing += 1
    if n is None:
        return me, -1, REDIR_NONE  # no keys
    server = st.server
    is_write = any(_is_write(server, c, m, a) for m, a in requests)
    if st.state != CLUSTER_OK:
        if is_shard:
            if not st.cfg_yes("cluster-allow-pubsubshard-when-down"):
                return None, slot, REDIR_DOWN_STATE
        elif not st.cfg_yes("cluster-allow-reads-when-down"):
            return None, slot, REDIR_DOWN_STATE
        elif is_write:
            return None, slot, REDIR_DOWN_RO_STATE
    if (migrating or importing) and cmd.fullname == "migrate":
        return me, slot, REDIR_NONE
    if migrating and missing:
        if existing:
            return None, slot, REDIR_UNSTABLE
        return st.migrating_slots_to[slot], slot, REDIR_ASK
    if importing and (c.asking or "asking" in cmd.flags):
        if multiple_keys and missing:
            return None, slot, REDIR_UNSTABLE
        return me, slot, REDIR_NONE
    if (c.readonly or is_shard) and not is_write and me.is_replica and me.replicaof is n:
        return me, slot, REDIR_NONE
    return n, slot, (REDIR_MOVED if n is not me else REDIR_NONE)


def endpoint(st: ClusterState, n: Node) -> str:
    """getPreferredEndpoint (cluster-preferred-endpoint-type)."""
    kind = st.server.config.get("cluster-preferred-endpoint-type")
    if kind == "hostname":
        return n.hostname or "?"
    if kind == "unknown-endpoint":
        return ""
    return n.ip


def redirect_text(st: ClusterState, c: Any, n: Node | None, slot: int, code: int) -> str:
    """clusterRedirectClient's error text."""
    if code == REDIR_CROSS_SLOT:
        return "CROSSSLOT Keys in request don't hash to the same slot"
    if code == REDIR_UNSTABLE:
        return "TRYAGAIN Multiple keys request during rehashing of slot"
    if code == REDIR_DOWN_STATE:
        return "CLUSTERDOWN The cluster is down"
    if code == REDIR_DOWN_RO_STATE:
        return "CLUSTERDOWN The cluster is down and only accepts read commands"
    if code == REDIR_DOWN_UNBOUND:
        return "CLUSTERDOWN Hash slot not served"
    assert n is not None
    use_pport = st.server.config.get("tls-cluster") == "yes" and not getattr(c, "is_tls", False)
    port = n.pport if use_pport and n.pport else n.port
    return "%s %d %s:%d" % ("ASK" if code == REDIR_ASK else "MOVED", slot, endpoint(st, n), port)


def check(c: Any, cmd: Any, argv: list) -> str | None:
    """The dispatcher's cluster check (processCommand): None, or a :class:`Redirect`."""
    st = c.server.cluster
    if c.obey or c.flags_extra == "M" or c is c.server.loading_client:
        return None  # mustObeyClient: our master, the AOF
    if not cmd.movablekeys and cmd.fullname != "exec" and not has_key_specs(cmd):
        return None
    n, slot, code = node_for_query(st, c, cmd, argv, c.multi if cmd.fullname == "exec" else None)
    if n is st.myself:
        return None
    return Redirect(redirect_text(st, c, n, slot, code))


def redirect_blocked_clients(server: Any) -> int:
    """clusterRedirectBlockedClientIfNeeded, which Redis's clientsCron runs for
    every blocked client: a client blocked on keys (BLPOP, BZPOPMIN, XREAD...)
    whose slot this node no longer serves (and does not import) is unblocked
    with -MOVED (or -CLUSTERDOWN when the slot is unassigned or the cluster is
    down). Returns how many were unblocked."""
    if not server.blocked_clients:
        return 0
    st = server.cluster
    me = st.myself
    done = 0
    for c in list(server.clients.values()):
        bs = c.blocked
        if bs.__class__ is not BlockState:
            continue
        if st.state != CLUSTER_OK:
            unblock(c, ErrorReply(redirect_text(st, c, None, 0, REDIR_DOWN_STATE)))
            done += 1
            continue
        if not bs.keys:
            continue
        slot = key_hash_slot(bs.keys[0])
        n = st.slots[slot]
        cmd = bs.cmd
        if (
            c.readonly
            and not (cmd is not None and cmd.is_write)
            and me.is_replica
            and me.replicaof is n
        ):
            n = me
        if n is not me and slot not in st.importing_slots_from:
            if n is None:
                text = redirect_text(st, c, None, 0, REDIR_DOWN_UNBOUND)
            else:
                text = redirect_text(st, c, n, slot, REDIR_MOVED)
            unblock(c, ErrorReply(text))
            done += 1
    return done
