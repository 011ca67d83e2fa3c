"""Cluster mode on a server: what ``cluster-enabled yes`` switches on.

:func:`setup` runs while the server is built (Redis's ``clusterInit``): it locks
and loads nodes.conf (or creates this node under a fresh random name and saves
it), wires the cluster state to replication, the keyspace and client pauses, and
turns on the dispatcher's cluster check. The server's ``start()`` opens the bus
port (:meth:`ClusterBus.listen`), and :func:`start_cron` runs the gossip
engine's cron every 100 ms, as Redis runs ``clusterCron``.

In cluster mode the dispatcher's fast path serves a command without keys, or
with its one key in a slot this node serves (``Command.cluster_key``, marked
here); everything else goes through the full check in :mod:`.route`.
"""

from __future__ import annotations

import os
from typing import Any

from ..persistence.snapshot import empty_data, server_dir
from ..server.pause import PAUSE_WRITE
from ..core.table import ALL_COMMANDS
from . import route
from .state import MASTER, MYSELF, ClusterState, Node

CRON_PERIOD = 0.1  # seconds, as run_with_period(100) in serverCron


def enabled(server: Any) -> bool:
    return server.config.get("cluster-enabled") == "yes"


def setup(server: Any) -> None:
    """clusterInit."""
    st = ClusterState(server)
    path = server.config.get("cluster-config-file") or "nodes.conf"
    st.config_path = path if os.path.isabs(path) else os.path.join(server_dir(server), path)
    if not st.lock_config(st.config_path):
        raise SystemExit(1)
    if not st.load_config(st.config_path):
        me = Node(None, MYSELF | MASTER)
        st.myself = me
        st.add_node(me)
        server.log_notice("No cluster configuration found, I'm %s" % me.name)
        st.save_config_or_die(True)
    port = server.config.get_int("port")
    if not server.config.get_int("cluster-port") and port > 65535 - 10000:
        server.log_warning(
            "Redis port number too high. Cluster communication port is 10,000 port "
            "numbers higher than your Redis port. Your Redis port number must be 55535 or less."
        )
        raise SystemExit(1)
    st.update_myself_announced()

    # (the replication link is made by a later init hook: look it up when used)
    st.on_set_master = lambda ip, port: server.repl_link.set_master(ip, port)
    st.on_unset_master = lambda: server.repl_link.unset_master()
    st.empty_data = lambda: empty_data(server)

    def pause_writes(end_ms: int) -> None:
        server.client_pause.pause(end_ms, PAUSE_WRITE)

    st.pause_writes = pause_writes
    st.unpause = lambda: server.client_pause.unpause()
    server.cluster = st
    from .gossip import ClusterBus  # start-up cost: the bus and gossip, with cluster-enabled only

    server.cluster_bus = ClusterBus(st)
    # CONFIG SET of the announced endpoints shows in CLUSTER NODES at once (Redis's
    # apply functions: updateClusterAnnouncedPort, updateClusterHostname, ...)
    for name in (
        "cluster-announce-port",
        "cluster-announce-bus-port",
        "cluster-announce-tls-port",
        "cluster-announce-ip",
        "cluster-announce-hostname",
        "cluster-replica-no-failover",
    ):
        server.config.add_hook(name, lambda _value: st.update_myself_announced())
    server.cluster_check = route.check
    _mark_key_shapes()
    server.add_startup_hook(lambda: start_cron(server))
    server.hooks_on_shutdown.append(lambda save: _shutdown(server))


def _mark_key_shapes() -> None:
    """Command.cluster_key for the dispatcher's fast path: 0 for commands without
    keys, 1 when the only key is argv[1]; the rest go through route.check."""
    for cmd in ALL_COMMANDS:  # (sub-commands included)
        # (SET and BITFIELD have a getkeys procedure for their flags, not their
        # positions: their one key is argv[1], like GET's)
        if cmd.movablekeys:
            cmd.cluster_key = None
        elif not route.has_key_specs(cmd):
            cmd.cluster_key = 0
        elif cmd.first_key == 1 and cmd.last_key == 1:
            cmd.cluster_key = 1
        else:
            cmd.cluster_key = None


def start_cron(server: Any) -> None:
    verified = [False]

    def tick() -> None:
        st = server.cluster
        if server.stopping or st is None:
            return
        try:
            if not verified[0] and not server.loading:
                verified[0] = True
                st.verify_config_with_data()
            server.cluster_bus.cron()
            route.redirect_blocked_clients(server)
        except Exception:
            server.log_exception("cluster cron")
        server.loop.call_later(CRON_PERIOD, tick)

    server.loop.call_later(CRON_PERIOD, tick)


def _shutdown(server: Any) -> None:
    st = server.cluster
    if st is None:
        return
    st.save_config(True)
    server.cluster_bus.close()
