"""Output buffer limits (``client-output-buffer-limit``), as networking.c enforces them.

A client that does not read what it is sent makes the server hold its replies.
Redis bounds that per client class with three numbers: a *hard* limit (close the
client as soon as its pending output reaches it) and a *soft* limit with a
duration (close it once its pending output has stayed at or above the soft limit
for longer than that many seconds). ``0`` disables a limit. Classes: ``normal``,
``replica`` (``slave``) and ``pubsub`` (a client subscribed to anything);
MONITOR clients and masters count as normal. Defaults: ``normal 0 0 0``,
``replica 256mb 64mb 60``, ``pubsub 32mb 8mb 60``.

Pending output here is what the transport could not hand to the kernel yet
plus replies not yet written (``Client.output_size``). Redis checks after every
reply it buffers; we check where output can grow without bound, so the hard
limit acts at once and no reply is copied into a buffer that is about to be
dropped:

* the dispatcher checks after each *big* reply (``table.BIG_REPLY`` bytes or more: a
  pipeline of GETs of large values grows by megabytes per command);
* ``Client.flush`` checks *before* writing whenever the transport is over its
  high-water mark or the write itself is big, counting what it is about to add;
* ``RedisProtocol.pause_writing`` checks when the kernel buffer fills;
* the cron re-checks the clients over a soft limit, since the soft limit can be
  exceeded for too long without any new write.

Backpressure: a client whose transport backs up normally stops being read
until it drains, which bounds its output without any limit. A client whose
class has a *hard* limit is read on, like Redis: it reaches the limit and is
disconnected, instead of sitting at the high-water mark until the soft limit's
timer fires.

A client that has not authenticated while the server requires it may not hold
more than :data:`UNAUTH_LIMIT` bytes of output at all (CVE-2025-21605).

A client over its limit is disconnected at once, its pending output dropped,
and the server logs Redis's warning with the client's CLIENT LIST line.
"""

import time

from .bootstrap import on_server_init
from .client import client_type, TYPE_PUBSUB, TYPE_REPLICA
from .config import parse_memory

# Output a client may accumulate before it authenticates (the fix of CVE-2025-21605
# that Redis 7.0.15's security releases, Debian's among them, carry): replies to a
# client that cannot run anything are only errors, and one that does not read
# them must not make the server hold megabytes for it.
UNAUTH_LIMIT = 1024

_CLASS = {"normal": 0, "slave": 1, "replica": 1, "pubsub": 2}
_DEFAULT = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"


def parse_limits(value, base=None):
    """Config text -> [(hard, soft, soft_seconds)] for normal, replica, pubsub.

    Classes not named keep their ``base`` (or default) limits. The value has been
    validated by the configuration layer; units (``32mb``) are accepted too.
    """
    limits = list(base) if base is not None else parse_limits(_DEFAULT, [(0, 0, 0)] * 3)
    parts = value.split()
    for j in range(0, len(parts) - 3, 4):
        cls = _CLASS.get(parts[j].lower())
        if cls is not None:
            limits[cls] = (
                parse_memory(parts[j + 1]),
                parse_memory(parts[j + 2]),
                int(parts[j + 3]),
            )
    return limits


# CLIENT LIST's line lives with the CLIENT command (commands/client_cmds.py),
# which hands it over when it is imported.
describe_client = None


def set_client_describer(describe):
    global describe_client
    describe_client = describe


class OutputLimits:
    def __init__(self, server):
        self.server = server
        self.limits = parse_limits(server.config.get("client-output-buffer-limit") or "")
        self.soft_since = {}  # client -> unix time it was first seen over its soft limit

    def configure(self, value):
        self.limits = parse_limits(value, self.limits)

    def _class(self, c):
        t = client_type(c)
        if t == TYPE_PUBSUB:
            return 2
        if t == TYPE_REPLICA:
            return 1
        return 0

    def hard_limit(self, c):
        """The hard limit of c's class (0: none); UNAUTH_LIMIT before AUTH."""
        if not c.authenticated and self.server.auth_required():
            return UNAUTH_LIMIT
        return self.limits[self._class(c)][0]

    def reached(self, c, used):
        """checkClientOutputBufferLimits: True if ``c`` must be closed now."""
        if used > UNAUTH_LIMIT and not c.authenticated and self.server.auth_required():
            return True  # CVE-2025-21605: a client that has not authenticated yet
        cls = self._class(c)
        hard, soft, soft_seconds = self.limits[cls]
        if cls == 1 and hard:
            # a replica's hard limit is at least repl-backlog-size: what a partial
            # resync may send it (checkClientOutputBufferLimits)
            hard = max(hard, self.server.repl.backlog_size)
        if hard and used >= hard:
            return True
        if soft and used >= soft:
            now = int(time.time())
            since = self.soft_since.get(c)
            if since is None:
                self.soft_since[c] = now
                return False
            return now - since > soft_seconds
        self.soft_since.pop(c, None)
        return False

    def check(self, c, from_cron=False, adding=0):
        """Close ``c`` if its output (plus ``adding`` bytes about to be written)
        is over its class's limits; True if it was closed."""
        if c.closed or c.transport is None:
            self.soft_since.pop(c, None)
            return False
        used = c.output_size() + adding
        if not used or not self.reached(c, used):
            return False
        self.soft_since.pop(c, None)
        info = describe_client(c).decode("utf-8", "surrogateescape")
        c.free()
        c.close_after_reply = True  # the dispatcher stops running its pipeline
        if from_cron:
            self.server.log_warning(
                "Client %s closed for overcoming of output buffer limits." % info
            )
        else:
            self.server.log_warning(
                "Client %s scheduled to be closed ASAP for overcoming of "
                "output buffer limits." % info
            )
        return True

    def cron(self):
        if self.soft_since:
            for c in list(self.soft_since):
                self.check(c, from_cron=True)

    def forget(self, c):
        self.soft_since.pop(c, None)


@on_server_init
def _init(server):
    lim = server.output_limits = OutputLimits(server)
    server.output_limit_handler = lim.check
    server.config.hooks["client-output-buffer-limit"] = lim.configure
    server.add_cron_hook(lim.cron)
    server.add_client_gone_hook(lim.forget)
