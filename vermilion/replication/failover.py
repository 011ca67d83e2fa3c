"""FAILOVER: a master hands its role to one of its replicas (replication.c, 6.2+).

The coordinated failover has three states, shown in INFO replication as
``master_failover_state``:

* ``no-failover``;
* ``waiting-for-sync``: FAILOVER was accepted. Writes are paused (so the
  replication stream stops growing) and the cron waits until a replica (the one
  named with ``TO host port``, or any) has acknowledged the whole stream;
* ``failover-in-progress``: that replica caught up (or ``FORCE`` and the
  ``TIMEOUT`` passed): this master becomes its replica and sends it
  ``PSYNC <replid> <offset> FAILOVER``, which the replica answers by turning
  itself into a master first. A ``+CONTINUE`` or ``+FULLRESYNC`` ends the
  failover; an error aborts it (and we become a master again).

``FAILOVER ABORT`` (or ``TIMEOUT`` without ``FORCE``) goes back to the start
and releases the paused writes. The receiving side (``PSYNC ... FAILOVER``
sent to a replica) is in :func:`accept_failover_psync`.
"""

from __future__ import annotations

import time
from typing import Any

from ..core import limits  # (describe_client: CLIENT LIST's line for a client)
from ..server.pause import PAUSE_WRITE

NO_FAILOVER = "no-failover"
WAIT_FOR_SYNC = "waiting-for-sync"
IN_PROGRESS = "failover-in-progress"

_FOREVER_MS = 1 << 62


def _mstime() -> int:
    return int(time.time() * 1000)


class Failover:
    """The server's failover state (server.failover_state & co in Redis)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.state = NO_FAILOVER
        self.end_time = 0
        self.force = False
        self.host: str | None = None
        self.port = 0

    # ------------------------------------------------------------ the command
    def start(self, host: str | None, port: int, timeout_ms: int, force: bool) -> None:
        """failoverCommand after its checks: pause writes and wait for a replica."""
        server = self.server
        if host is not None:
            self.host, self.port = host, port
            server.log_notice("FAILOVER requested to %s:%d." % (host, port))
        else:
            server.log_notice("FAILOVER requested to any replica.")
        if timeout_ms:
            self.end_time = _mstime() + timeout_ms
        self.force = force
        self.state = WAIT_FOR_SYNC
        server.client_pause.pause(_FOREVER_MS, PAUSE_WRITE)

    def clear(self) -> None:
        """clearFailoverState: back to no-failover, writes released."""
        was = self.state
        self.end_time = 0
        self.force = False
        self.host = None
        self.port = 0
        self.state = NO_FAILOVER
        if was != NO_FAILOVER:
            self.server.client_pause.unpause()

    def abort(self, err: str) -> None:
        """abortFailover."""
        if self.state == NO_FAILOVER:
            return
        server = self.server
        if self.host is not None:
            server.log_notice("FAILOVER to %s:%d aborted: %s" % (self.host, self.port, err))
        else:
            server.log_notice("FAILOVER to any replica aborted: %s" % err)
        if self.state == IN_PROGRESS:
            server.repl_link.unset_master()
        self.clear()

    # ------------------------------------------------------------ the cron
    def update(self) -> None:
        """updateFailoverStatus: has the target (or any replica) caught up?"""
        if self.state != WAIT_FOR_SYNC:
            return
        server = self.server
        now = _mstime()
        if self.end_time and self.end_time <= now:
            if self.force:
                server.log_notice(
                    "FAILOVER to %s:%d time out exceeded, failing over." % (self.host, self.port)
                )
                self._go()
            else:
                self.abort("Replica never caught up before timeout")
            return
        offset = server.master_repl_offset
        replica = None
        if self.host is not None:
            replica = find_replica(server, self.host, self.port)
        else:
            for r in server.repl.replicas.values():
                if r.ack_off == offset:
                    self.host, self.port = r.address(), r.listening_port
                    replica = r
                    break
        if replica is not None and replica.ack_off == offset:
            server.log_notice(
                "Failover target %s:%d is synced, failing over." % (self.host, self.port)
            )
            self._go()

    def _go(self) -> None:
        self.state = IN_PROGRESS
        self.server.repl_link.set_master(self.host, self.port)

    # ------------------------------------------------------------ the PSYNC
    @property
    def psync_suffix(self) -> list[bytes]:
        """What syncWithMaster adds to its PSYNC while we hand over our role."""
        return [b"FAILOVER"] if self.state == IN_PROGRESS else []

    def psync_done(self, accepted: bool) -> bool:
        """The target answered our PSYNC: the failover is over (or aborted).
        Returns False when the link must not go on (aborted)."""
        if self.state != IN_PROGRESS:
            return True
        if accepted:
            self.clear()
            return True
        self.abort("Failover target rejected psync request")
        return False


def find_replica(server: Any, host: str, port: int) -> Any:
    """findReplica: the replica announcing (or connected from) host, on port."""
    for r in server.repl.replicas.values():
        if r.address().lower() == host.lower() and r.listening_port == port:
            return r
    return None


def accept_failover_psync(c: Any, argv: list) -> str | None:
    """syncCommand's ``PSYNC replid offset FAILOVER``: our master hands over its
    role; we become a master first if the replication ID is the one we follow.
    Returns an error text, or None to go on with the PSYNC as a master."""
    server = c.server
    replid = argv[1].decode("utf-8", "replace")
    server.log_warning("Failover request received for replid %s." % replid)
    link = server.repl_link
    if link.host is None:
        return "ERR PSYNC FAILOVER can't be sent to a master."
    if replid.lower() != server.replid.lower():
        return "ERR PSYNC FAILOVER replid must match my replid."
    link.unset_master()
    describe = limits.describe_client
    info = describe(c).decode("utf-8", "replace") if describe is not None else ""
    server.log_notice("MASTER MODE enabled (failover request from '%s')" % info)
    return None
