"""One connected client: its protocol reader, its output, and its state.

A :class:`Client` is what every command function receives first. It carries the
selected database (``c.db``), the protocol version (``c.resp``), and the
per-connection state that commands read and change: the MULTI queue, WATCHed
keys, subscriptions, blocking state, CLIENT REPLY mode, tracking.

Replies are appended to ``c.out`` (a list of bytes) and written with one
``transport.write`` per client at the end of the current event-loop step
(``server.schedule_flush``), after every client that had something to read has
been served, as Redis writes in ``beforeSleep``
(handleClientsWithPendingWrites). Writing each client's replies as soon as its
read was handled cost the kernel a third more time per request at
``redis-benchmark -P 16 -c 50``: each write wakes the reader on the other side
while the server still has reads to do.

``c.special`` summarises "this client needs the dispatcher's slow path" (in
MULTI, not authenticated, subscribed in RESP2, reply suppression, ...). Code
that changes any of those calls :meth:`update_special`.
"""

import time

from ..protocol.reader import make_reader

BIG_WRITE = 1 << 16  # a write this big is checked against the output limits first


# getClientType's classes (client-output-buffer-limit, CLIENT LIST/KILL TYPE)
TYPE_NORMAL, TYPE_REPLICA, TYPE_PUBSUB, TYPE_MASTER = 0, 1, 2, 3


def client_type(c):
    """getClientType: master, replica (not MONITOR), pubsub (subscribed) or normal."""
    extra = c.flags_extra
    if extra:
        if "M" in extra:
            return TYPE_MASTER
        if "S" in extra:
            return TYPE_REPLICA
    if c.subscriptions or c.psubscriptions or c.ssubscriptions:
        return TYPE_PUBSUB
    return TYPE_NORMAL


class Client:
    __slots__ = (
        "server",
        "id",
        "transport",
        "reader",
        "out",
        "db",
        "resp",
        "name",
        "lib_name",
        "lib_ver",
        "authenticated",
        "user",
        "multi",
        "dirty_cas",
        "dirty_exec",
        "watched",
        "cmd",
        "last_cmd",
        "propagate",
        "special",
        "reply_off",
        "reply_skip",
        "reply_skip_next",
        "close_after_reply",
        "closed",
        "blocked",
        "pending",
        "subscriptions",
        "psubscriptions",
        "ssubscriptions",
        "monitor",
        "flags_extra",
        "ctime",
        "last_interaction",
        "addr",
        "laddr",
        "fd",
        "conn",
        "is_unix",
        "tracking",
        "no_evict",
        "paused_reading",
        "unblock_reason",
        "argv",
        "in_exec",
        "killed",
        "tot_net_in",
        "tot_net_out",
        "rb_size",
        "rb_peak",
        "rb_peak_reset",
        "tot_cmds",
        "unsafe_flush",
        "no_touch",
        "reply_off_mark",
        "acl",
        "is_script",
        "propagate_to",
        "asking",
        "readonly",
        "obey",
    )

    def __init__(self, server, transport=None, conn=None):
        self.server = server
        self.id = server.next_client_id()
        self.transport = transport
        self.conn = conn
        self.reader = make_reader(server.proto_max_bulk_len, server.use_hiredis)
        self.out = []
        self.db = server.dbs[0]
        self.resp = 2
        self.name = None
        self.lib_name = None
        self.lib_ver = None
        self.authenticated = not server.auth_required()
        self.user = "default"
        # The ACL user (vermilion/acl.py) whose rules every command must pass, or None
        # when it may run anything; connection-less clients (AOF loading) are never checked.
        self.acl = server.new_client_acl if transport is not None else None
        self.multi = None  # list of (cmd, argv) while in MULTI
        self.dirty_cas = False  # a WATCHed key changed
        self.dirty_exec = False  # an error while queueing: EXEC aborts
        self.watched = []  # (db, key) pairs
        self.cmd = None
        self.last_cmd = None
        self.argv = None
        self.propagate = None  # set by a command to propagate something else than argv
        # Where this client's writes go instead of the AOF and replicas: a script's
        # client collects them, to be sent wrapped in MULTI/EXEC when it ends.
        self.propagate_to = None
        self.is_script = False  # the client scripts run their redis.call()s with
        self.special = False
        self.reply_off = False
        self.reply_skip = False
        self.reply_skip_next = False
        self.reply_off_mark = 0  # CLIENT REPLY OFF: replies from out[mark:] are dropped
        self.close_after_reply = False
        self.closed = False
        self.blocked = None  # blocking state object while blocked
        self.pending = None  # commands read but not yet run (while blocked/paused)
        self.subscriptions = set()
        self.psubscriptions = set()
        self.ssubscriptions = set()
        self.monitor = False
        self.flags_extra = ""
        self.ctime = time.time()
        self.last_interaction = time.monotonic()  # same clock as netio.py's updates
        self.addr = "?:0"
        self.laddr = "?:0"
        self.fd = -1
        self.is_unix = False
        self.tracking = None
        self.no_evict = False
        self.no_touch = False
        self.paused_reading = False
        self.unblock_reason = None
        self.in_exec = False
        self.killed = False
        self.tot_net_in = 0
        self.tot_net_out = 0
        # The reply buffer Redis would hold (CLIENT LIST rbs/rbp, tot-mem): its
        # size, the most it held since the peak was last reset, and when that was
        # (server/querybuf.py's cron resizes it as clientsCronResizeOutputBuffer)
        self.rb_size = 16384  # PROTO_REPLY_CHUNK_BYTES
        self.rb_peak = 0
        self.rb_peak_reset = self.last_interaction
        self.tot_cmds = 0
        self.unsafe_flush = False
        self.asking = False  # ASKING: the next command may use an importing slot
        self.readonly = False  # READONLY: a cluster replica serves its reads
        self.obey = False  # mustObeyClient: never redirected (our master, the AOF)
        self.update_special()

    def update_special(self):
        self.special = bool(
            self.multi is not None
            or not self.authenticated
            or self.reply_off
            or self.tracking is not None
            or self.monitor
            or self.reply_skip
            or self.reply_skip_next
            or self.acl is not None
            or self.asking
            or "S" in self.flags_extra  # a replica: checked, and its replies refused
            or (
                self.resp == 2
                and (self.subscriptions or self.psubscriptions or self.ssubscriptions)
            )
        )

    # ------------------------------------------------------------ MULTI/WATCH
    def unwatch_all(self):
        """unwatchAllKeys: forget every WATCHed key (and the CAS failure)."""
        for db, key in self.watched:
            clients = db.watched.get(key)
            if clients is not None:
                clients.pop(self, None)
                if not clients:
                    del db.watched[key]
                    if not db.watched:
                        db.update_quiet()
        self.watched = []
        self.dirty_cas = False

    def discard_transaction(self):
        """discardTransaction: leave MULTI, drop what was queued, unwatch."""
        self.multi = None
        self.dirty_exec = False
        self.unwatch_all()
        self.update_special()

    @property
    def subscribed_count(self):
        return len(self.subscriptions) + len(self.psubscriptions)

    def select(self, dbid):
        self.db = self.server.dbs[dbid]

    # ----------------------------------------------------------------- output
    def write_now(self, data):
        """Send bytes outside the request/reply cycle (pushes, unblocked replies)."""
        if self.closed:
            return
        self.out.append(data)
        self.server.schedule_flush(self)

    def flush(self):
        out = self.out
        if not out:
            return
        if self.closed or self.transport is None:
            out.clear()
            return
        hook = self.server.before_reply_hook
        if hook is not None and hook(self):
            # The AOF must reach the disk first (appendfsync always): it flushes
            # this client again after one group fsync for every waiting client.
            return
        data = b"".join(out)  # (one reply: the object itself, no copy)
        out.clear()
        n = len(data)
        conn = self.conn
        if (
            n >= BIG_WRITE or (conn is not None and conn._write_paused)
        ) and self.server.output_limits.check(self, adding=n):
            # client-output-buffer-limit, counted before the bytes are buffered
            return
        self.tot_net_out += n
        if n > self.rb_peak:  # (what Redis's static reply buffer held: at most its size)
            self.rb_peak = n if n < self.rb_size else self.rb_size
        self.transport.write(data)
        if self.paused_reading:
            # Output piling up past the transport's mark: client-output-buffer-limit.
            self.server.check_output_limits(self)
        if self.close_after_reply:
            self.transport.close()

    def free(self):
        """freeClient for a connection other than the running one: gone now,
        output dropped."""
        if self.closed:
            return
        self.killed = True
        self.closed = True
        self.out.clear()
        self.server.client_gone(self)
        if self.transport is not None:
            self.transport.abort()

    def close(self):
        if self.transport is not None and not self.closed:
            self.flush()
            self.transport.close()

    def output_size(self):
        size = 0
        if self.transport is not None:
            try:
                size = self.transport.get_write_buffer_size()
            except Exception:
                size = 0
        return size + sum(len(b) for b in self.out)
