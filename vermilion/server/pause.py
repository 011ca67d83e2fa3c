"""CLIENT PAUSE: holding clients back without closing them (networking.c pauseClients).

One :class:`ClientPause` per server (``server.client_pause``, created with the
server by the hook below). A pause has a *kind* and an *end*:

* ``WRITE`` holds back every command that may write or replicate: write
  commands, PUBLISH/SPUBLISH, PFCOUNT (it may rewrite the HyperLogLog),
  EVAL/EVALSHA/FCALL unless the script declares ``no-writes``, and an EXEC whose
  queue holds any of those: exactly Redis 7.0's ``is_may_replicate_command``
  (:func:`may_replicate`);
* ``ALL`` holds back every command.

Pausing again keeps the most restrictive kind and the furthest end. The pause
ends at its deadline (a timer, re-armed once a day for very long pauses) or
with CLIENT UNPAUSE; SHUTDOWN also pauses writes while it waits for lagging
replicas (``Server._pause_writes_for_shutdown``).

**How a client waits.** While a pause is active ``server.special`` is set, so
every command goes through the dispatcher's slow path, where
``server.postpone_check`` (:func:`postpone_check`) *parks* the clients whose
command must wait: ``c.blocked`` becomes a :class:`Postponed` holding the
command (``flags=b`` in CLIENT LIST, counted in ``blocked_clients``), and what
the client pipelines after it waits behind it, in order. When the pause ends
each parked client runs its command again, in the order they were parked
(:meth:`ClientPause.release`). Replicas and MONITOR clients are never paused.
While paused, keys are not expired (lookups see them as missing), as in Redis.

**Scripts.** EVALSHA and FCALL name a script the scripting module knows: it may
set ``server.script_may_write = fn(c, cmd, argv) -> bool | None`` to say whether
that script may write (None: unknown, treated as a write as Redis does). EVAL's
body is read here (:func:`eval_may_write`).

``server.pause_kind`` (None, "write" or "all") and ``server.pause_until`` (ms
since the epoch) publish the state for the rest of the server.
"""

import time

from ..core.bootstrap import on_server_init
from ..core.dispatch import resume

_time = time.time

PAUSE_OFF, PAUSE_WRITE, PAUSE_ALL = 0, 1, 2
_MAY_REPLICATE = frozenset(("pfcount", "publish", "spublish", "eval", "evalsha", "fcall"))
_SCRIPT_CMDS = frozenset(("eval", "evalsha", "fcall"))
_KIND_NAMES = {PAUSE_OFF: None, PAUSE_WRITE: "write", PAUSE_ALL: "all"}


class Postponed:
    """``c.blocked`` of a client parked by CLIENT PAUSE: the command to run again."""

    __slots__ = ("argv",)

    def __init__(self, argv):
        self.argv = argv


class ClientPause:
    """The server's pause: its kind, its deadline, and the clients parked by it."""

    def __init__(self, server):
        self.server = server
        self.kind = PAUSE_OFF
        self.end = 0  # ms since the epoch
        self.parked = []  # clients in the order they were postponed
        self.timer = None

    def pause(self, end, kind):
        """pauseClients: the most restrictive kind and the furthest end win."""
        if self.kind == PAUSE_OFF:
            self.kind, self.end = kind, end
        else:
            self.kind = max(self.kind, kind)
            self.end = max(self.end, end)
        self.update()

    def unpause(self):
        self.kind = PAUSE_OFF
        self.end = 0
        self.update()

    def update(self):
        """Expire the pause if its time has passed; publish the state; free clients."""
        server = self.server
        if self.kind != PAUSE_OFF and self.end < int(_time() * 1000):
            self.kind = PAUSE_OFF
            self.end = 0
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        server.pause_kind = _KIND_NAMES[self.kind]
        server.pause_until = self.end
        if self.kind != PAUSE_OFF:
            server.set_special("client-pause", True)
            if server.loop is not None:
                delay = (self.end - _time() * 1000) / 1000.0 + 0.001
                # a very long pause re-arms its timer once a day
                self.timer = server.loop.call_later(min(max(delay, 0.0), 86400.0), self.update)
        else:
            server.set_special("client-pause", False)
            self.release()

    def release(self):
        """unblockPostponedClients: parked clients run their command again, in order."""
        parked = self.parked
        if not parked:
            return
        self.parked = []
        server = self.server
        for c in parked:
            st = c.blocked
            if st.__class__ is not Postponed:
                continue
            c.blocked = None
            server.blocked_clients -= 1
            c.pending = [st.argv] + c.pending if c.pending else [st.argv]
            if server.loop is not None and not c.closed:
                server.loop.call_soon(resume, c)

    def park(self, c, argv):
        c.blocked = Postponed(argv)
        self.server.blocked_clients += 1
        self.parked.append(c)

    def forget(self, c):
        """A parked client disconnected."""
        if c.blocked.__class__ is Postponed:
            c.blocked = None
            self.server.blocked_clients -= 1
            try:
                self.parked.remove(c)
            except ValueError:
                pass


def eval_may_write(body):
    """evalGetCommandFlags for a script body: False only for ``#!lua flags=no-writes``."""
    if not body.startswith(b"#!"):
        return True  # no shebang: EVAL's own flags (may replicate)
    nl = body.find(b"\n")
    if nl < 0:
        return True
    parts = body[:nl].split()
    if not parts or parts[0] != b"#!lua":
        return True
    flags = set()
    known = (b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster", b"allow-cross-slot-keys")
    for p in parts[1:]:
        if p.startswith(b"flags="):
            for f in p[6:].split(b","):
                if f not in known:
                    return True
                flags.add(f)
        else:
            return True
    return b"no-writes" not in flags


def may_replicate(c, cmd, argv):
    """is_may_replicate_command of processCommand for this command (and EXEC's queue)."""
    if cmd.is_write:
        return True
    name = cmd.fullname
    if name in _MAY_REPLICATE:
        if name in _SCRIPT_CMDS:
            hook = c.server.script_may_write
            if hook is not None:
                r = hook(c, cmd, argv)
                if r is not None:
                    return r
            if name == "eval":
                return eval_may_write(argv[1])
        return True
    if name == "exec" and c.multi:
        for qcmd, qargv in c.multi:
            if may_replicate(c, qcmd, qargv):
                return True
    return False


def postpone_check(c, cmd, argv):
    """``server.postpone_check``: park the client (True) when its command must wait."""
    server = c.server
    p = server.client_pause
    if p.kind == PAUSE_OFF:
        return False
    if p.end < int(_time() * 1000):
        p.update()
        if p.kind == PAUSE_OFF:
            return False
    if c.monitor or "S" in c.flags_extra:
        return False
    if p.kind == PAUSE_WRITE and not may_replicate(c, cmd, argv):
        return False
    p.park(c, argv)
    return True


@on_server_init
def _init(server):
    server.client_pause = ClientPause(server)
    server.postpone_check = postpone_check
    server.add_client_gone_hook(server.client_pause.forget)
