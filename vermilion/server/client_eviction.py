"""Client memory and client eviction (``maxmemory-clients``), as networking.c does them.

**A client's memory** (getClientMemoryUsage) is what Redis would allocate for it:
the query buffer (its allocation, modelled by :mod:`vermilion.server.querybuf`),
the reply buffer and the reply list (unsent output), the arguments of the command
it is running, the queued MULTI commands, its watched keys, pub/sub channels and
patterns and tracking prefixes (pointer overheads only, as in Redis), plus the
client struct. :func:`memory_fields` computes it once for both CLIENT LIST's
memory fields and eviction, so the ``tot-mem`` a test sums is the figure the
eviction compares with the limit.

**Eviction** (evictClients): when normal and pub/sub clients together use at
least the limit (bytes, or a percentage of ``maxmemory``; never less than
128 KiB), the evictable ones are freed, largest first, until the total is below
it. A client with CLIENT NO-EVICT on, our master and our replicas are never
evicted (their memory still counts). Redis keeps clients in log2 size buckets
and checks before every command, after reads and in beforeSleep; we compute the
sizes instead. Like Redis we keep each client's last figure and their total: a
client's own figure is brought up to date before each of its commands while the
limit is set (a check on the dispatcher's slow path) and when a read leaves an
incomplete request in its query buffer; all of them, and the eviction, when
that total reaches the limit, when the limit changes, on CLIENT LIST (which
visits everyone anyway) and from the cron (output queued for a client by
another one's command, e.g. tracking redirection, is seen there).

A running command's arguments count for the client running it, like Redis's
``c->argv``; for a client that cannot be evicted they do not (Redis updates such
a client's figure only from clientsCron, between its commands).
"""

from ..core import limits
from ..core.bootstrap import on_server_init
from ..core.client import client_type, TYPE_NORMAL, TYPE_PUBSUB
from .querybuf import REPLY_CHUNK, query_buffer, sds_mem

CLIENT_STRUCT = 1024 + 768  # zmalloc_size(c) plus what the allocator rounds in
MIN_LIMIT = 128 * 1024  # getClientEvictionLimit's floor
WATCH_OVERHEAD = 24 + 16  # sizeof(listNode) + sizeof(watchedKey)
PATTERN_OVERHEAD = 24  # sizeof(listNode)
CHANNEL_OVERHEAD = 24  # sizeof(dictEntry), plus a pointer per hash slot
PREFIX_OVERHEAD = 4 * 8 * 2  # rax nodes per prefix * sizeof(raxNode) * sizeof(raxNode*)


def _dict_mem(n):
    if not n:
        return 0
    slots = 4
    while slots < n:
        slots <<= 1
    return n * CHANNEL_OVERHEAD + slots * 8


def memory_fields(c, cur=None, qbuf=None):
    """CLIENT LIST's memory fields of client ``c``: (qbuf, qbuf-free, argv-mem,
    multi-mem, rbs, obl, oll, omem, tot-mem, unsent).

    ``cur`` is the command ``c`` is running (its arguments), ``qbuf`` the bytes in
    its query buffer when not just its reader's unparsed ones."""
    if qbuf is None:
        qbuf = c.reader.pending() if c.reader is not None else 0
    qb = query_buffer(c)
    alloc = max(qb.alloc, qbuf)
    argv_mem = 0
    argv_tot = 0
    if cur is not None:
        argv_mem = sum(len(a) for a in cur)
        argv_tot = argv_mem + 8 * len(cur)
    multi_mem = 0
    if c.multi is not None:
        for _cmd, qargv in c.multi:
            multi_mem += sum(len(a) for a in qargv) + 8 * len(qargv)
    unsent = 0  # what the kernel did not take yet (Redis: write handler on)
    if c.transport is not None:
        try:
            unsent = c.transport.get_write_buffer_size()
        except Exception:
            unsent = 0
    pending_out = unsent + sum(len(b) for b in c.out)
    obl = min(pending_out, REPLY_CHUNK)
    omem = pending_out - obl
    oll = (omem + REPLY_CHUNK - 1) // REPLY_CHUNK
    rbs = c.rb_size
    extra = 0
    if c.watched:
        extra += len(c.watched) * WATCH_OVERHEAD
    if c.psubscriptions:
        extra += len(c.psubscriptions) * PATTERN_OVERHEAD
    if c.subscriptions:
        extra += _dict_mem(len(c.subscriptions))
    if c.ssubscriptions:
        extra += _dict_mem(len(c.ssubscriptions))
    t = c.tracking
    if t is not None and t.prefixes:
        extra += len(t.prefixes) * PREFIX_OVERHEAD
    tot = CLIENT_STRUCT + sds_mem(alloc) + rbs + omem + multi_mem + argv_tot + extra
    return qbuf, alloc - qbuf, argv_mem, multi_mem, rbs, obl, oll, omem, tot, unsent


def client_memory(c, cur=None):
    """getClientMemoryUsage: the ``tot-mem`` of client ``c`` running ``cur``."""
    return memory_fields(c, cur)[8]


class ClientEviction:
    """maxmemory-clients: the limit and evictClients (see the module docstring)."""

    def __init__(self, server):
        self.server = server
        self.limit = 0
        self.mem = {}  # client -> its memory when last looked at (counted clients)
        self.total = 0  # their sum (stat_clients_type_memory normal + pubsub)

    def configure(self, _value=None):
        server = self.server
        cfg = server.config
        n = cfg.get_number("maxmemory-clients")
        if n < 0:  # a percentage of maxmemory
            n = cfg.get_int("maxmemory") * -n // 100
        if n > 0:
            n = max(n, MIN_LIMIT)
        self.limit = n
        server.set_special("maxmemory-clients", n > 0)
        checks = tuple(f for f in server.extra_checks if f is not self.check)
        server.extra_checks = checks + ((self.check,) if n > 0 else ())
        self.evict()

    def update(self, c, argv=None):
        """updateClientMemUsage for one client: O(1), so it can run per command."""
        mem = self.mem
        old = mem.get(c, 0)
        if c.closed or client_type(c) not in (TYPE_NORMAL, TYPE_PUBSUB):
            n = 0
        else:
            n = memory_fields(c, None if c.no_evict else argv)[8]
        if n:
            mem[c] = n
        else:
            mem.pop(c, None)
        self.total += n - old

    def check(self, c, cmd, argv):
        """Before a command (processCommand's evictClients): may evict ``c`` itself."""
        self.update(c, argv)
        if self.total >= self.limit:
            self.evict(c, argv)
            if c.closed:
                c.close_after_reply = True
                return "ERR client evicted"  # never sent: the connection is gone
        return None

    def after_read(self, c):
        """A read left a request half-received: its query buffer grew."""
        self.update(c)
        if self.total >= self.limit:
            self.evict()

    def forget(self, c):
        self.total -= self.mem.pop(c, 0)

    def evict(self, current=None, argv=None):
        """evictClients, with every client's figure brought up to date first."""
        self.mem = mem = {}
        self.total = 0
        limit = self.limit
        if limit <= 0:
            return
        server = self.server
        sizes = []
        total = 0
        for cl in list(server.clients.values()):
            if cl.closed or cl.close_after_reply or cl.transport is None:
                continue
            if client_type(cl) not in (TYPE_NORMAL, TYPE_PUBSUB):
                continue
            no_evict = cl.no_evict
            try:
                n = memory_fields(cl, argv if cl is current and not no_evict else None)[8]
            except Exception:
                continue
            mem[cl] = n
            total += n
            if not no_evict:
                sizes.append((n, cl.id, cl))
        if total >= limit:
            sizes.sort(key=lambda e: (-e[0], e[1]))
            for n, _, cl in sizes:
                if total < limit:
                    break
                info = describe(cl)
                server.log_notice("Evicting client: %s" % info)
                cl.free()  # (its client-gone hook drops it from self.mem)
                server.stats_evicted_clients += 1
                total -= n
            else:
                if total >= limit:
                    server.log_warning("Over client maxmemory after evicting all evictable clients")
        self.total = sum(self.mem.values())


def describe(c):
    return limits.describe_client(c).decode("utf-8", "surrogateescape")


@on_server_init
def _init(server):
    server.reply_buffer_resizing = True  # DEBUG REPLYBUFFER RESIZING
    ev = server.client_eviction = ClientEviction(server)
    server.config.add_hook("maxmemory-clients", ev.configure)
    server.config.add_hook("maxmemory", ev.configure)
    ev.configure()
    server.add_cron_hook(ev.evict)
    server.add_client_gone_hook(ev.forget)
