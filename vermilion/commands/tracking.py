"""Client-side caching (tracking.c): CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO.

A client that turns tracking on is promised a message whenever a key it may
have cached changes. Two modes, as in Redis:

* **Default mode.** The server remembers which clients *read* which keys (the
  keys of every read-only command they run: ``core/keyspecs.py``), in one table
  shared by all databases: key -> {client id}. When a key is modified
  (``Database.signal``), each client in its entry gets an ``invalidate`` message
  and the entry is forgotten: a client is told once, until it reads the key again.
  OPTIN/OPTOUT narrow which reads are remembered (``CLIENT CACHING yes|no`` just
  before the read).
* **Broadcast mode (BCAST).** Nothing is remembered per client; every modified
  key that starts with one of the client's prefixes is reported. Keys are
  collected per prefix and sent in one message per prefix at the end of the
  event-loop step, sorted like Redis's radix tree.

Messages go out as RESP3 pushes (``>2 invalidate [keys]``) or, for a RESP2 client
that redirected to another connection subscribed to ``__redis__:invalidate``, as
Pub/Sub messages on that channel. A FLUSHDB/FLUSHALL invalidates everything with
a null. When the client that did the write is itself the one to be told, the
message is delayed until after its reply, exactly like Redis's pending keys.
NOLOOP skips keys the client modified itself.
"""

import random

from ..errors import CommandError, SYNTAX
from ..protocol.encoder import OK, Map, Push, Pushed, encode
from ..core.bootstrap import on_server_init
from ..core.table import command
from ..core.keyspecs import key_positions
from ..core.dispatch import set_tracking_hook
from ..protocol.encoder import Set
from ..util import parse_int

CHANNEL = b"__redis__:invalidate"


class TrackingState:
    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "caching", "prefixes", "broken")

    def __init__(self):
        self.redirect = 0
        self.bcast = False
        self.optin = False
        self.optout = False
        self.noloop = False
        self.caching = False
        self.prefixes = []
        self.broken = False


class Tracking:
    def __init__(self, server):
        self.server = server
        self.table = {}  # key -> {client id: None}
        self.prefixes = {}  # prefix -> [ {client: None}, {key: last writer client} ]
        self.pending = []  # (client, key or None) to tell the current client after its reply
        self.clients = 0
        self._bcast_scheduled = False
        self.max_keys = 0  # tracking-table-max-keys (0: no limit)
        self._limit_rounds = 0  # times in a row the table stayed over the limit

    # -------------------------------------------------------- remembering
    def remember(self, c, cmd, argv):
        st = c.tracking
        if (st.optin and not st.caching) or (st.optout and st.caching):
            return
        if cmd.pubsub:
            return
        for i in key_positions(cmd, argv):
            self.table.setdefault(argv[i], {})[c.id] = None

    # ------------------------------------------------------- invalidation
    def invalidate_key(self, key):
        server = self.server
        current = server.current_client
        if self.prefixes:
            for prefix, (clients, keys) in self.prefixes.items():
                if key.startswith(prefix):
                    keys[key] = current
            self._schedule_broadcast()
        ids = self.table.pop(key, None)
        if not ids:
            return
        for cid in ids:
            target = server.clients.get(cid)
            if target is None or target.tracking is None or target.tracking.bcast:
                continue
            if target.tracking.noloop and target is current:
                continue
            if target is current and server.executing:
                self.pending.append((target, key))
            else:
                self.send(target, key)

    def invalidate_all(self):
        """FLUSHDB/FLUSHALL: every tracking client is told "everything" (a null)."""
        if not self.clients:
            return
        server = self.server
        current = server.current_client
        for c in list(server.clients.values()):
            if c.tracking is not None:
                if c is current and server.executing:
                    self.pending.append((c, None))
                else:
                    self.send(c, None)
        self.table.clear()

    def send(self, c, key, keys=None):
        """One invalidation message: ``key`` (None: all keys) or a list ``keys``."""
        st = c.tracking
        target = c
        redirected = False
        if st is not None and st.redirect:
            target = self.server.clients.get(st.redirect)
            if target is None:
                st.broken = True
                if c.resp > 2:
                    c.write_now(Pushed(encode(Push([b"tracking-redir-broken", st.redirect]), 3)))
                return
            redirected = True
        payload = keys if keys is not None else (None if key is None else [key])
        if target.resp > 2:
            target.write_now(Pushed(encode(Push([b"invalidate", payload]), 3)))
        elif redirected and (target.subscriptions or target.psubscriptions):
            target.write_now(Pushed(encode(Push([b"message", CHANNEL, payload]), 2)))

    # ------------------------------------------------------------ table limit
    def limit_used_slots(self):
        """trackingLimitUsedSlots: while the table holds more than tracking-table-max-keys
        keys, forget random ones (their clients are told, as if the key changed), with
        an effort that grows each time a run leaves the table still over the limit."""
        table = self.table
        max_keys = self.max_keys
        if not max_keys or len(table) <= max_keys:
            self._limit_rounds = 0
            return
        effort = 100 * (self._limit_rounds + 1)
        clients = self.server.clients
        for key in random.sample(list(table), min(effort, len(table))):
            for cid in table.pop(key):
                target = clients.get(cid)
                if target is not None and target.tracking is not None and not target.tracking.bcast:
                    self.send(target, key)
            if len(table) <= max_keys:
                self._limit_rounds = 0
                return
        self._limit_rounds += 1

    def cron(self):
        if self.clients:
            self.limit_used_slots()

    def flush_pending(self, c):
        pending = self.pending
        self.pending = []
        for target, key in pending:
            if not target.closed:
                self.send(target, key)

    def _schedule_broadcast(self):
        if not self._bcast_scheduled and self.server.loop is not None:
            self._bcast_scheduled = True
            self.server.loop.call_soon(self.broadcast)

    def broadcast(self):
        self._bcast_scheduled = False
        for prefix, entry in self.prefixes.items():
            clients, keys = entry
            if not keys:
                continue
            ordered = sorted(keys)
            for c in list(clients):
                if c.tracking is not None and c.tracking.noloop:
                    mine = [k for k in ordered if keys[k] is not c]
                    if mine:
                        self.send(c, None, mine)
                else:
                    self.send(c, None, ordered)
            entry[1] = {}

    # ------------------------------------------------------ enable/disable
    def enable(self, c, redirect, bcast, optin, optout, noloop, prefixes):
        if c.tracking is None:
            self.clients += 1
            self.server.tracking = self
            for db in self.server.dbs:
                db.update_quiet()
            st = c.tracking = TrackingState()
        else:
            st = c.tracking
        st.redirect = redirect
        st.bcast = bcast
        st.optin = optin
        st.optout = optout
        st.noloop = noloop
        st.broken = False
        if bcast:
            for p in prefixes or [b""]:
                entry = self.prefixes.setdefault(p, [{}, {}])
                if c not in entry[0]:
                    entry[0][c] = None
                    st.prefixes.append(p)
        c.update_special()

    def disable(self, c):
        st = c.tracking
        if st is None:
            return
        for p in st.prefixes:
            entry = self.prefixes.get(p)
            if entry is not None:
                entry[0].pop(c, None)
                if not entry[0]:
                    del self.prefixes[p]
        c.tracking = None
        self.clients -= 1
        if self.clients == 0:
            self.server.tracking = None
            self.table.clear()
            for db in self.server.dbs:
                db.update_quiet()
        c.update_special()


@on_server_init
def _init(server):
    tr = Tracking(server)
    server.tracking_state = tr
    # server.tracking is what Database.signal calls: None while nobody tracks, so
    # writes pay nothing for this feature until a client turns it on.
    server.add_client_gone_hook(tr.disable)
    server.add_cron_hook(tr.cron)

    def apply_max_keys(value):
        tr.max_keys = int(value)

    server.config.add_hook("tracking-table-max-keys", apply_max_keys)
    apply_max_keys(server.config.get_int("tracking-table-max-keys"))


# Read-only scripts are tracked through the commands they run, not their declared keys
# (call() in server.c).
_RO_SCRIPTS = frozenset(("eval_ro", "evalsha_ro", "fcall_ro"))


def after_command(c, cmd, argv):
    """Dispatcher hook for tracking clients: remember read keys, deliver pending."""
    tr = c.server.tracking_state
    st = c.tracking
    if st is not None:
        if cmd.is_readonly and not st.bcast and cmd.fullname not in _RO_SCRIPTS:
            tr.remember(c, cmd, argv)
        if c.multi is None and cmd.fullname != "client|caching":
            st.caching = False
    if tr.pending and not c.in_exec:
        tr.flush_pending(c)


# ------------------------------------------------------------------ commands
@command("client|tracking")
def client_tracking(c, argv):
    redirect = 0
    bcast = optin = optout = noloop = False
    prefixes = []
    server = c.server
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        more = n - 1 - j
        if opt == b"redirect" and more:
            j += 1
            if redirect != 0:
                raise CommandError("ERR A client can only redirect to a single other client")
            redirect = parse_int(argv[j])
            if redirect not in server.clients:
                raise CommandError("ERR The client ID you want redirect to does not exist")
        elif opt == b"bcast":
            bcast = True
        elif opt == b"optin":
            optin = True
        elif opt == b"optout":
            optout = True
        elif opt == b"noloop":
            noloop = True
        elif opt == b"prefix" and more:
            j += 1
            prefixes.append(argv[j])
        else:
            raise CommandError(SYNTAX)
        j += 1
    mode = argv[2].lower()
    tr = server.tracking_state
    if mode == b"on":
        if not bcast and prefixes:
            raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
        st = c.tracking
        if st is not None and st.bcast != bcast:
            raise CommandError(
                "ERR You can't switch BCAST mode on/off before disabling tracking for "
                "this client, and then re-enabling it with a different mode."
            )
        if bcast and (optin or optout):
            raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
        if optin and optout:
            raise CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
        if st is not None and ((optin and st.optout) or (optout and st.optin)):
            raise CommandError(
                "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for "
                "this client, and then re-enabling it with a different mode."
            )
        if bcast:
            _check_prefixes(c, prefixes)
        tr.enable(c, redirect, bcast, optin, optout, noloop, prefixes)
    elif mode == b"off":
        tr.disable(c)
    else:
        raise CommandError(SYNTAX)
    return OK


def _check_prefixes(c, prefixes):
    existing = c.tracking.prefixes if c.tracking is not None else []
    for i, p in enumerate(prefixes):
        for q in existing:
            if p.startswith(q) or q.startswith(p):
                raise CommandError(
                    "ERR Prefix '%s' overlaps with an existing prefix '%s'. Prefixes for a "
                    "single client must not overlap."
                    % (p.decode("utf-8", "replace"), q.decode("utf-8", "replace"))
                )
        for q in prefixes[i + 1 :]:
            if p.startswith(q) or q.startswith(p):
                raise CommandError(
                    "ERR Prefix '%s' overlaps with another provided prefix '%s'. Prefixes "
                    "for a single client must not overlap."
                    % (p.decode("utf-8", "replace"), q.decode("utf-8", "replace"))
                )


@command("client|caching")
def client_caching(c, argv):
    st = c.tracking
    if st is None:
        raise CommandError(
            "ERR CLIENT CACHING can be called only when the client is in "
            "tracking mode with OPTIN or OPTOUT mode enabled"
        )
    opt = argv[2].lower()
    if opt == b"yes":
        if not st.optin:
            raise CommandError(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
            )
    elif opt == b"no":
        if not st.optout:
            raise CommandError(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
            )
    else:
        raise CommandError(SYNTAX)
    st.caching = True
    return OK


@command("client|getredir")
def client_getredir(c, argv):
    return c.tracking.redirect if c.tracking is not None else -1


@command("client|trackinginfo")
def client_trackinginfo(c, argv):
    st = c.tracking
    flags = [b"on" if st is not None else b"off"]
    if st is not None:
        if st.bcast:
            flags.append(b"bcast")
        if st.optin:
            flags.append(b"optin")
            if st.caching:
                flags.append(b"caching-yes")
        if st.optout:
            flags.append(b"optout")
            if st.caching:
                flags.append(b"caching-no")
        if st.noloop:
            flags.append(b"noloop")
        if st.broken:
            flags.append(b"broken_redirect")
    return Map(
        [
            b"flags",
            Set(flags),
            b"redirect",
            st.redirect if st is not None else -1,
            b"prefixes",
            sorted(st.prefixes) if st is not None else [],
        ]
    )


set_tracking_hook(after_command)
