"""The query buffer Redis would hold: a model for CLIENT LIST's ``qbuf-free`` and ``tot-mem``.

Redis reads each client's requests into an sds string, the *query buffer*, that
readQueryFromClient grows and clientsCronResizeQueryBuffer shrinks; CLIENT LIST
reports its free space (``qbuf-free``) and counts its allocation in ``tot-mem``.
Vermilion holds no such buffer (the RESP reader keeps only an unparsed tail), so
each client gets a :class:`QueryBuf`, a model of Redis's moved by what we can
see:

* the bytes read since the last look (``c.tot_net_in``): a first read allocates
  ``PROTO_IOBUF_LEN`` (16 KiB, rounded up to the allocator's size class like
  jemalloc's); a burst of at least ``PROTO_MBULK_BIG_ARG`` (32 KiB) stands for a
  big argument, which Redis reads into a buffer of exactly its size and keeps
  for the next one;
* the header of a big argument still being received (``reader.big_bulk()``):
  Redis makes room for all of it at once, so a half-read 1 MB argument already
  costs 1 MB (what maxmemory-clients counts), and the cron does not trim the
  buffer below it;
* the unparsed tail: the buffer is at least that big;
* the idle time: like clientsCron, :class:`QueryBufCron` visits every client
  about once a second and shrinks the model of an idle client to what it holds,
  and of a busy one to its recent peak when that is less than half of it.

:func:`query_buffer` brings a client's model up to date and returns it; the
models live in ``server.query_bufs`` (client -> QueryBuf), created with the
server by the hook below and dropped when the client goes.
"""

import time

from ..core.bootstrap import on_server_init

_monotonic = time.monotonic

IOBUF_LEN = 16384  # PROTO_IOBUF_LEN
BIG_ARG = 32768  # PROTO_MBULK_BIG_ARG
RESIZE_THRESHOLD = 32768  # PROTO_RESIZE_THRESHOLD


def je_size(n):
    """jemalloc's size class for an n-byte allocation (4 classes per power of two)."""
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) & ~15
    step = 1 << ((n - 1).bit_length() - 3)
    return (n + step - 1) // step * step


def sds_hdr(n):
    return 3 if n < 256 else 5 if n < 65536 else 9


def sds_usable(n):
    """sdsalloc() of a string made with room for n bytes (the allocator's usable size)."""
    h = sds_hdr(n)
    return je_size(h + n + 1) - h - 1


def sds_mem(alloc):
    """What an sds string with ``alloc`` bytes of room costs the allocator."""
    return je_size(sds_hdr(alloc) + alloc + 1)


class QueryBuf:
    __slots__ = ("alloc", "peak", "seen")

    def __init__(self):
        self.alloc = 0  # sdsalloc(c->querybuf)
        self.peak = 0  # c->querybuf_peak
        self.seen = 0  # c.tot_net_in when last looked at


def query_buffer(c):
    """The client's query buffer model, brought up to date with what it read."""
    models = c.server.query_bufs
    qb = models.get(c)
    if qb is None:
        qb = QueryBuf()
        if c.transport is not None:  # connection-less clients are never "gone"
            models[c] = qb
    delta = c.tot_net_in - qb.seen
    if delta > 0:
        qb.seen = c.tot_net_in
        if delta >= BIG_ARG:
            # a big argument: read into a buffer of its size, and a new one of that
            # size kept for the next ("we'll see another one likely")
            qb.alloc = sds_usable(delta)
        elif qb.alloc < IOBUF_LEN:
            qb.alloc = sds_usable(IOBUF_LEN)  # the non-greedy first allocation
        qb.peak = max(qb.peak, min(delta, qb.alloc))
    reader = c.reader
    if reader is None:
        return qb
    big = reader.big_bulk()
    if big and qb.alloc < big + 2:
        # a big argument's header was read: Redis makes room for all of it at once
        qb.alloc = sds_usable(big + 2)
    used = reader.pending()
    if used > qb.alloc:
        qb.alloc = used
    return qb


def resize_query_buffer(c, now):
    """clientsCronResizeQueryBuffer for the model."""
    qb = query_buffer(c)
    used = c.reader.pending() if c.reader is not None else 0
    big = c.reader.big_bulk() if c.reader is not None else 0
    if qb.alloc - used > 4096:
        if now - c.last_interaction >= 3:  # idle for more than 2 seconds
            qb.alloc = used
        elif qb.alloc > RESIZE_THRESHOLD and qb.alloc // 2 > qb.peak:
            # not below a big argument being read (c->bulklen)
            qb.alloc = max(used, qb.peak, big)
    qb.peak = max(used, big)


REPLY_MIN = 1024  # PROTO_REPLY_MIN_BYTES
REPLY_CHUNK = 16384  # PROTO_REPLY_CHUNK_BYTES: the static reply buffer, a reply list block
PEAK_RESET_DEFAULT = 5.0  # REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME, seconds


def resize_reply_buffer(c, now, reset):
    """clientsCronResizeOutputBuffer for the model of the client's reply buffer
    (``c.rb_size``; ``c.rb_peak`` is the most a write held, set by Client.flush):
    shrink it to its peak (at least 1 KiB) when the peak is under half of it,
    double it (at most 16 KiB) when the peak filled it; the peak restarts every
    ``reset`` seconds (None: never), so an idle client's buffer shrinks."""
    size = c.rb_size
    peak = c.rb_peak
    new = 0
    if size // 2 >= REPLY_MIN and peak < size // 2:
        new = max(REPLY_MIN, peak + 1)
    elif size * 2 < REPLY_CHUNK * 2 and peak == size:
        new = min(REPLY_CHUNK, size * 2)
    if reset is not None and now - c.rb_peak_reset >= reset:
        c.rb_peak = 0  # (nothing waits in it between commands: bufpos is 0)
        c.rb_peak_reset = now
    if new:
        c.rb_size = new


class QueryBufCron:
    """Visits every client about once a second, like clientsCron (at least 5 a tick)."""

    def __init__(self, server):
        self.server = server
        self.todo = []

    def __call__(self):
        server = self.server
        clients = server.clients
        if not clients:
            return
        n = max(5, len(clients) // server.hz)
        if not self.todo:
            self.todo = list(clients.values())
        batch, self.todo = self.todo[-n:], self.todo[:-n]
        now = _monotonic()
        resizing = server.reply_buffer_resizing
        reset = server.reply_peak_reset
        for c in batch:
            if not c.closed and c.id in clients:
                resize_query_buffer(c, now)
                if resizing:
                    resize_reply_buffer(c, now, reset)


@on_server_init
def _init(server):
    server.query_bufs = {}  # client -> QueryBuf (CLIENT LIST qbuf-free, tot-mem)
    # DEBUG REPLYBUFFER PEAK-RESET-TIME, seconds (None: never)
    server.reply_peak_reset = PEAK_RESET_DEFAULT
    server.add_client_gone_hook(lambda c: server.query_bufs.pop(c, None))
    server.add_cron_hook(QueryBufCron(server))
