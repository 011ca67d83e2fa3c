"""The master side of replication (Redis 7.0's replication.c, master half).

A replica connects like any client, sends ``REPLCONF listening-port``/``capa``
and then ``PSYNC <replid> <offset>`` (or the old ``SYNC``). We answer either

* ``+CONTINUE <replid>`` and the part of the backlog it misses, when it asks
  for our replication ID (or the previous one, up to where it was valid) and
  an offset still inside the backlog; or
* ``+FULLRESYNC <replid> <offset>``, then ``$<len>\\r\\n`` and an RDB snapshot
  of the dataset produced in memory at that very point of the stream.

From then on every propagated write reaches the replica exactly as it is fed
to the AOF: :meth:`ReplMaster.feed` is registered as a feed sink
(``server.set_feed_sink``), encodes the commands once (a ``SELECT`` whenever
the database changes), appends them to the backlog, advances
``master_repl_offset`` and queues the bytes on every replica's connection.

The backlog is a bytearray holding at least the last ``repl-backlog-size``
bytes of the stream (it is trimmed when it reaches twice that, so appending
stays cheap); offsets follow Redis: ``master_repl_offset`` counts every byte
ever streamed and the first byte of the backlog has offset
``master_repl_offset - histlen + 1``.

Replicas report progress with ``REPLCONF ACK <offset>`` (every second, and
when we ask with ``REPLCONF GETACK *``). WAIT blocks a client until enough
replicas acknowledged the offset of its own last write.
"""

import io
import os
import socket
import time

from ..core import limits
from ..persistence.aof import encode_command
from ..persistence import rdb as rdbmod
from ..persistence.snapshot import CHILD_RDB, HAS_FORK, LoadProgress
from ..keyspace.blocking import unblock

STATE_ONLINE = "online"
STATE_WAIT_BGSAVE = "wait_bgsave"
STATE_WAIT_BGSAVE_START = "wait_bgsave"
# a streamed RDB: stop reading the child's pipe while a replica has more than
# PIPE_HIGH bytes unsent, read again below PIPE_LOW
PIPE_HIGH = 4 << 20
PIPE_LOW = 1 << 20  # INFO shows both as wait_bgsave


def new_replid():
    return "%040x" % int.from_bytes(os.urandom(20), "big")


_FMT = [b"*%d\r\n" % n + b"$%d\r\n%s\r\n" * n for n in range(8)]
_FMT2, _FMT3, _FMT4 = _FMT[2], _FMT[3], _FMT[4]


def encode(argv):
    """encode_command (RESP multibulk) with one formatting operation for short argvs,
    the common case of the stream; anything unusual goes to the AOF's encoder."""
    try:
        n = len(argv)
        if n == 3:
            a, b, c = argv
            return _FMT3 % (len(a), a, len(b), b, len(c), c)
        if n == 2:
            a, b = argv
            return _FMT2 % (len(a), a, len(b), b)
        if n == 4:
            a, b, c, d = argv
            return _FMT4 % (len(a), a, len(b), b, len(c), c, len(d), d)
    except TypeError:
        pass
    return encode_command(argv)


def error_replies(chunks):
    """The error replies among output chunks, as the text Redis's afterErrorReply
    logs: an ``ERR`` error without its code (addReplyError added it), any other
    with its ``-CODE``."""
    for b in chunks:
        if b[:1] == b"-":
            text = bytes(b).split(b"\r\n", 1)[0].decode("utf-8", "replace")
            yield text[5:] if text.startswith("-ERR ") else text


def log_error_reply(server, c, text, to, frm):
    """afterErrorReply for a replication link: an error sent to a master or a
    replica (the other side never reads it) is rare and hints at a bug or a
    divergence, so it is logged, with the command that caused it."""
    cmd = c.cmd.fullname if c.cmd is not None else "<unknown>"
    server.log_warning(
        "== CRITICAL == This %s is sending an error to its %s: '%s' after processing "
        "the command '%s'" % (frm, to, text[:4096], cmd)
    )
    server.stats_unexpected_error_replies += 1


def select_bytes(dbid):
    s = b"%d" % dbid
    return b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(s), s)


class Replica:
    """What the master knows about one replica connection (CLIENT_SLAVE fields)."""

    __slots__ = (
        "client",
        "listening_port",
        "ip",
        "capa",
        "ack_off",
        "ack_time",
        "state",
        "pending",
        "rdb_only",
        "functions_only",
        "eof",
        "wait_since",
        "stream_db",
        "psync",
        "start_on_ack",
        "fd_dup",
        "queued",
        "sent",
        "progress_time",
    )

    def __init__(self, client):
        self.client = client
        self.listening_port = 0
        self.ip = None
        self.capa = set()
        self.ack_off = 0
        self.ack_time = time.time()
        self.state = STATE_ONLINE
        self.pending = None  # the stream, held back while its RDB is being made
        self.rdb_only = False  # REPLCONF rdb-only 1: the RDB, then goodbye (redis-cli --rdb)
        # REPLCONF rdb-filter-only functions: an RDB of the functions alone
        # (redis-cli --functions-rdb; SLAVE_REQ_RDB_EXCLUDE_DATA)
        self.functions_only = False
        self.eof = None  # the EOF mark while its RDB streams diskless ($EOF:<mark>)
        self.wait_since = 0.0  # waiting for a diskless sync to start (repl-diskless-sync-delay)
        self.stream_db = None
        self.psync = True
        # after a diskless ($EOF:) transfer the stream waits for the replica's first
        # REPLCONF ACK, so that it never reads past the EOF mark into the stream
        self.start_on_ack = False
        self.fd_dup = -1  # our own handle on its socket while a fork child shares it
        # a streamed RDB's progress, for repl-timeout: bytes queued, bytes gone, when
        self.queued = 0
        self.sent = 0
        self.progress_time = 0.0

    def address(self):
        if self.ip:
            return self.ip
        addr = self.client.addr
        return addr.rsplit(":", 1)[0]


class ReplMaster:
    def __init__(self, server):
        self.server = server
        cfg = server.config
        self.backlog = None  # bytearray once the first replica attached
        self.backlog_size = max(cfg.get_number("repl-backlog-size"), 16 * 1024)
        self.seldb = -1  # the database the stream has SELECTed
        self.replicas = {}  # client -> Replica (only after PSYNC/SYNC)
        self.conf = {}  # client -> Replica: REPLCONF seen, not yet synced
        self.woff = {}  # client id -> master_repl_offset after its last write
        self.waiting = []  # clients blocked in WAIT: [client, offset, numreplicas]
        self.getack_scheduled = False
        self.second_replid_offset = -1
        self.last_ping = time.monotonic()
        self.no_replicas_since = time.time()  # repl-backlog-ttl counts from here
        self.min_replicas = 0  # min-replicas-to-write while the rule is on
        self.full_syncs = 0
        self.child_syncs = 0  # full syncs whose RDB a forked child made
        self.partial_ok = 0
        self.partial_err = 0
        cfg.add_hook("repl-backlog-size", self._set_backlog_size)
        server.resetstat_hooks += (self._reset_stats,)

    def _reset_stats(self):
        """CONFIG RESETSTAT (resetServerStats): sync_full, sync_partial_ok/err."""
        self.full_syncs = self.partial_ok = self.partial_err = 0

    def _set_backlog_size(self, value):
        self.backlog_size = max(int(value), 16 * 1024)
        self._trim()

    # ------------------------------------------------------------- stream
    def feed(self, dbid, cmds):
        """A feed sink (like AOF.feed): stream these writes to the replicas."""
        server = self.server
        if server.is_replica:
            return  # a replica's sub-replicas get its master's stream (proxy())
        if dbid != self.seldb:
            self.seldb = dbid
            data = select_bytes(dbid) + b"".join([encode(a) for a in cmds])
        elif len(cmds) == 1:
            data = encode(cmds[0])
        else:
            data = b"".join([encode(a) for a in cmds])
        self._append(data)
        c = server.current_client
        if c is not None:
            self.woff[c.id] = server.master_repl_offset

    def proxy(self, data):
        """A replica passes on what its master streamed (already applied), verbatim."""
        self._append(data)

    def feed_raw(self, argv):
        """Stream a command without changing the SELECTed db (PING, REPLCONF GETACK)."""
        self._append(encode(argv))

    def _append(self, data):
        server = self.server
        self.backlog += data
        server.master_repl_offset += len(data)
        for r in self.replicas.values():
            if r.pending is None:
                r.client.out.append(data)
            else:
                r.pending.append(data)
        if len(self.backlog) > self.trim_at:
            self._trim()  # (after the replicas got it: they may need all of it)
        if not self.flush_scheduled and self.replicas:
            loop = server.loop
            if loop is not None:
                self.flush_scheduled = True
                loop.call_soon(self._flush_replicas)

    flush_scheduled = False

    def _flush_replicas(self):
        """One write per replica per turn of the event loop, however many writes."""
        self.flush_scheduled = False
        for r in self.replicas.values():
            c = r.client
            if c.out and not c.closed:
                c.flush()

    # The backlog and the replicas share one replication buffer in Redis 7.0: a block
    # goes only once neither the backlog (its last repl-backlog-size bytes) nor a
    # replica (what it has not been sent yet) needs it. So the backlog keeps at least
    # what the slowest replica still needs, and its history (repl_backlog_histlen,
    # what a PSYNC may continue from) can outgrow repl-backlog-size meanwhile.
    trim_at = 0  # trim when the bytearray grows past this (amortised: see _trim)

    def _needed(self):
        """The most stream bytes a replica has not been sent yet (a replica waiting
        for its RDB: all of the stream since the RDB's point)."""
        need = 0
        for r in self.replicas.values():
            if r.pending is not None:
                n = sum(len(b) for b in r.pending)
            else:
                n = r.client.output_size()
            if n > need:
                need = n
        return need

    def _trim(self):
        b = self.backlog
        if b is None:
            return
        keep = self.backlog_size
        if self.replicas and len(b) > keep:
            keep = max(keep, self._needed())
        if len(b) > keep:
            del b[: len(b) - keep]
        # next time after another repl-backlog-size of stream (at least twice the
        # size), so that appending stays cheap however much replicas hold back
        self.trim_at = max(2 * self.backlog_size, len(b) + self.backlog_size)

    def histlen(self):
        b = self.backlog
        if b is None:
            return 0
        keep = self.backlog_size
        if self.replicas and len(b) > keep:
            keep = max(keep, self._needed())
        return min(len(b), keep)

    def first_byte_offset(self):
        if self.backlog is None:
            return 0
        return self.server.master_repl_offset - self.histlen() + 1

    def _ensure_backlog(self):
        """createReplicationBacklog: the first replica gets a fresh replication ID."""
        if self.backlog is not None:
            return
        server = self.server
        server.replid = new_replid()
        server.replid2 = "0" * 40
        self.second_replid_offset = -1
        self._start_backlog()

    def _start_backlog(self):
        self.backlog = bytearray()
        self.seldb = -1
        self.server.set_feed_sink("repl", self)
        self._ensure_cron()

    def _ensure_cron(self):
        if not self.cron_added:
            self.cron_added = True
            self.server.add_cron_hook(self.cron)

    cron_added = False
    last_newline = 0.0

    def become_replica(self):
        """REPLICAOF host port: our replicas must resync (with our master's data,
        once we have it), and our own writes stop feeding the stream."""
        self.disconnect_replicas()
        self.conf.clear()
        self.server.set_feed_sink("repl", None)
        self.seldb = -1

    def attach_to_master(self, new_history):
        """The link to our master is up: the backlog continues its stream (a fresh
        one after a full resync, whose replicas must resync too)."""
        if new_history or self.backlog is None:
            self.disconnect_replicas()
            self.backlog = bytearray()

    def promote(self):
        """REPLICAOF NO ONE (shiftReplicationId): a new history starts at our offset;
        replicas of our old master may still PSYNC with its ID up to that offset."""
        server = self.server
        server.replid2 = server.replid
        self.second_replid_offset = server.master_repl_offset + 1
        server.replid = new_replid()
        if self.backlog is None:
            self._start_backlog()
        else:  # the backlog goes on: our replicas may continue
            self.seldb = -1
            self.server.set_feed_sink("repl", self)

    # --------------------------------------------------------------- sync
    def replica_for(self, c):
        r = self.replicas.get(c) or self.conf.get(c)
        if r is None:
            r = self.conf[c] = Replica(c)
        return r

    def is_replica(self, c):
        return c in self.replicas

    def sync(self, c, psync, replid=None, offset=None):
        """PSYNC/SYNC from ``c``: a partial resync if possible, else a full one."""
        server = self.server
        r = self.replica_for(c)
        self.conf.pop(c, None)
        server.log_notice(
            "Replica %s:%d asks for synchronization" % (r.address(), r.listening_port)
        )
        self.replicas[c] = r
        if "S" not in c.flags_extra:
            c.flags_extra = c.flags_extra + "S"
            c.update_special()  # a replica's requests take the checked path
        r.ack_time = time.time()
        if psync and self._try_partial(c, r, replid, offset):
            self.partial_ok += 1
        else:
            if psync and replid != "?":
                self.partial_err += 1
            self._ensure_backlog()
            self.full_syncs += 1
            link = server.repl_link
            # a replica's stream goes on without a SELECT: tell the replica its db
            r.stream_db = (
                link.client.db.id if server.is_replica and link.client is not None else None
            )
            r.psync = psync
            if self._diskless(r) and self._sync_delay() > 0:
                # repl-diskless-sync-delay: wait for more replicas to share the child
                # (their FULLRESYNC is answered when it starts)
                r.state = STATE_WAIT_BGSAVE_START
                r.pending = []
                r.wait_since = time.monotonic()
                self._ensure_cron()  # a replica's backlog may not have added it
                self._maybe_start_pending()
                return
            self._full_sync(r)
        if r.pending is None or r.start_on_ack:
            self._put_online(r)

    def replica_replied(self, c, mark):
        """A replica's command answered something (the dispatcher asks for every
        command of a replica, whose link takes the slow path).

        The link carries the stream to the replica and never a reply: a replica
        only sends REPLCONF ACK, which has none. So a command that answers anything
        (a rogue client that sent SYNC and then PING, or a read refused with
        "Replica can't interact with the keyspace") is not answered: the replica is
        logged and dropped, as networking.c's _addReplyToBufferOrList and
        addReplyDeferredLen do for a CLIENT_TYPE_SLAVE client
        (logInvalidUseAndFreeClientAsync); an error reply is also logged as
        afterErrorReply does. ``c.out[mark:]`` is the reply."""
        server = self.server
        reply = c.out[mark:]
        del c.out[mark:]
        cmd = c.cmd.fullname if c.cmd is not None else "<unknown>"
        server.log_warning(
            "Replica generated a reply to command '%s', disconnecting it: %s"
            % (cmd, limits.describe_client(c).decode("utf-8", "replace"))
        )
        for text in error_replies(reply):
            log_error_reply(server, c, text, "replica", "master")
        # freeClientAsync: what was queued before this reply still goes, then it closes
        c.close_after_reply = True
        c.close()

    def _diskless(self, r):
        """A diskless transfer ($EOF:<mark>, streamed while the child writes it):
        repl-diskless-sync yes and a replica that understands it (capa eof)."""
        return self.server.config.get("repl-diskless-sync") == "yes" and "eof" in r.capa

    def _sync_delay(self):
        return self.server.config.get_int("repl-diskless-sync-delay")

    def _full_sync(self, r):
        """+FULLRESYNC and the RDB for ``r`` (made in a child if possible)."""
        server = self.server
        c = r.client
        stream_db = r.stream_db
        if getattr(r, "psync", True):
            c.out.append(
                b"+FULLRESYNC %s %d\r\n" % (server.replid.encode(), server.master_repl_offset)
            )
        # (a functions-only RDB is small and shares no child with the others)
        if r.functions_only or not self._rdb_in_child(r, stream_db):
            payload = self.rdb_payload(stream_db, data=not r.functions_only)
            if self._diskless(r):
                mark = new_replid().encode()
                c.out.append(b"$EOF:%s\r\n" % mark)
                c.out.append(payload)
                c.out.append(mark)
                r.pending = []
                r.start_on_ack = True
            else:
                c.out.append(b"$%d\r\n" % len(payload))
                c.out.append(payload)
            server.log_notice(
                "Synchronization with replica %s:%d succeeded" % (r.address(), r.listening_port)
            )
        if stream_db is None:
            self.seldb = -1  # the stream that follows starts with a SELECT

    def _maybe_start_pending(self):
        """replicationStartPendingFork: start the diskless sync of the replicas waiting
        for it once the oldest waited repl-diskless-sync-delay seconds, or once
        repl-diskless-sync-max-replicas of them are waiting."""
        waiting = [r for r in self.replicas.values() if r.state == STATE_WAIT_BGSAVE_START]
        if not waiting:
            return
        if self.child is not None:
            return  # after the running transfer (_child_finish calls us again)
        delay = self._sync_delay()
        oldest = min(r.wait_since for r in waiting)
        most = self.server.config.get_int("repl-diskless-sync-max-replicas")
        if time.monotonic() - oldest < delay and not (most and len(waiting) >= most):
            return
        for r in waiting:
            r.pending = None
            r.state = STATE_ONLINE
            self._full_sync(r)
            if r.pending is None or r.start_on_ack:
                self._put_online(r)
            # (no command is being answered here: an RDB made in memory, and the
            # close of an rdb-only replica, are written now)
            r.client.flush()

    def _try_partial(self, c, r, replid, offset):
        server = self.server
        if self.backlog is None or replid is None:
            return False
        if replid != server.replid and not (
            replid == server.replid2 and offset <= self.second_replid_offset
        ):
            return False
        first = self.first_byte_offset()
        if offset < first or offset > server.master_repl_offset + 1:
            return False
        if "psync2" in r.capa:
            c.out.append(b"+CONTINUE %s\r\n" % server.replid.encode())
        else:
            c.out.append(b"+CONTINUE\r\n")
        missing = server.master_repl_offset + 1 - offset
        if missing:
            c.out.append(bytes(self.backlog[len(self.backlog) - missing :]))
        server.log_notice(
            "Partial resynchronization request from %s:%d accepted. Sending "
            "%d bytes of backlog starting from offset %d."
            % (r.address(), r.listening_port, missing, offset)
        )
        return True

    # ------------------------------------------------ RDB in a forked child
    child = None  # [offset, stream_db, replicas waiting, chunks, eof, exit status]

    def _rdb_in_child(self, r, stream_db):
        """Make the RDB for ``r`` in a forked child (its stream waits in r.pending).

        A replica arriving while such a child runs, with nothing written since it
        started, shares its RDB. False when there is no fork or another child runs:
        the caller makes the RDB in memory right away.
        """
        server = self.server
        snap = server.snapshot
        ch = self.child
        if ch is not None and snap.child_pid is not None:
            if ch[0] == server.master_repl_offset and ch[1] == stream_db:
                self._wait_for_child(r, ch)
                return True
            return False
        if not HAS_FORK or snap.child_pid is not None or server.loop is None:
            return False
        rfd, wfd = os.pipe()
        fl = server.function_codes
        repl_info = self._repl_info(stream_db)
        delay = server.config.get_int("rdb-key-save-delay")
        parent = os.getpid()

        def slow_key():
            # rdb-key-save-delay (tests): a slow child, as rdbSaveKeyValuePair's
            # debugDelay; a child whose parent died (killed) stops there
            LoadProgress._key_load_delay(delay)
            if os.getppid() != parent:
                os._exit(1)

        key_callback = slow_key if delay else None

        def work():
            os.close(rfd)
            with os.fdopen(wfd, "wb", buffering=1 << 20) as fh:
                rdbmod.write_rdb(
                    fh,
                    server.dbs,
                    snap.limits(),
                    used_mem=rdbmod.used_memory_estimate(),
                    functions=fl() if fl is not None else (),
                    repl_info=repl_info,
                    key_callback=key_callback,
                )

        ch = [server.master_repl_offset, stream_db, [], [], False, None]
        if not snap.fork_child(CHILD_RDB, work, lambda ok, sig: self._child_exit(ch, ok)):
            os.close(rfd)
            os.close(wfd)
            return False
        os.close(wfd)
        # the child inherited this replica's socket: closing ours would not end the
        # connection while it runs, so keep a handle to shut it down (client_gone)
        if r.client.fd >= 0:
            try:
                r.fd_dup = os.dup(r.client.fd)
            except OSError:
                r.fd_dup = -1
        server.log_notice("Starting BGSAVE for SYNC with target: replicas sockets")
        server.log_notice("Background RDB transfer started by pid %d" % snap.child_pid)
        self.child_syncs += 1
        self.child = ch
        os.set_blocking(rfd, False)
        server.loop.add_reader(rfd, self._child_readable, ch, rfd)
        self._wait_for_child(r, ch)
        return True

    def _put_online(self, r):
        """replicaPutOnline; an rdb-only replica is closed once its RDB is written."""
        if r.rdb_only:
            self.replicas.pop(r.client, None)
            r.client.close_after_reply = True
            self.server.log_notice(
                "RDB transfer completed, rdb only replica (%s:%d) should "
                "be disconnected asap" % (r.address(), r.listening_port)
            )
            return False
        r.state = STATE_ONLINE
        r.ack_time = time.time()  # repl-timeout counts from here (replicaPutOnline)
        return True

    def _wait_for_child(self, r, ch):
        r.state = STATE_WAIT_BGSAVE
        r.pending = []
        ch[2].append(r)
        if self._diskless(r):
            # streamed as the child writes it: what it wrote so far, then the rest
            r.eof = new_replid().encode()
            c = r.client
            c.write_now(b"$EOF:%s\r\n" % r.eof)
            r.queued = r.sent = 0
            r.progress_time = time.time()
            for data in ch[3]:
                c.write_now(data)
                r.queued += len(data)

    def _child_readable(self, ch, rfd):
        while True:
            try:
                data = os.read(rfd, 1 << 20)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                break
            ch[3].append(data)
            slow = False
            for r in ch[2]:
                if r.eof is not None and self.replicas.get(r.client) is r:
                    r.client.write_now(data)
                    r.queued += len(data)
                    if r.client.output_size() > PIPE_HIGH:
                        slow = True
            if slow:
                # rdbPipeWriteHandler: the child goes at the pace of the slowest
                # streaming replica (the cron resumes reading once it drained)
                self.server.loop.remove_reader(rfd)
                self.pipe_paused = (ch, rfd)
                return
        self.server.loop.remove_reader(rfd)
        os.close(rfd)
        ch[4] = True
        if any(r.eof is not None for r in ch[2]):
            up = sum(1 for r in ch[2] if self.replicas.get(r.client) is r)
            self.server.log_warning(
                "Diskless rdb transfer, done reading from pipe, %d replicas still up." % up
            )
        self._child_finish(ch)

    pipe_paused = None  # (child, pipe fd) while a streaming replica is behind

    def _resume_pipe(self):
        ch, rfd = self.pipe_paused
        for r in ch[2]:
            if (
                r.eof is not None
                and self.replicas.get(r.client) is r
                and r.client.output_size() > PIPE_LOW
            ):
                return
        self.pipe_paused = None
        self.server.loop.add_reader(rfd, self._child_readable, ch, rfd)
        self._child_readable(ch, rfd)

    def _child_exit(self, ch, ok):
        ch[5] = ok
        self._child_finish(ch)

    def _child_finish(self, ch):
        """Both the pipe's end and the child's exit seen: hand the RDB out."""
        if not ch[4] or ch[5] is None:
            return
        if self.child is ch:
            self.child = None
            loop = self.server.loop
            if loop is not None:
                loop.call_soon(self._maybe_start_pending)
        server = self.server
        payload = b"".join(ch[3])
        ch[3] = None
        if not ch[5]:
            server.log_warning("Background RDB transfer for replicas failed")
        for r in ch[2]:
            self._release_fd(r, False)
            c = r.client
            if self.replicas.get(c) is not r:
                continue
            if not ch[5]:
                c.close()
                continue
            if r.eof is not None:
                c.write_now(r.eof)
                r.eof = None
                r.start_on_ack = True  # r.pending waits for its first REPLCONF ACK
                self._put_online(r)
                server.log_notice(
                    "Streamed RDB transfer with replica %s:%d succeeded (socket). Waiting "
                    "for REPLCONF ACK from replica to enable streaming"
                    % (r.address(), r.listening_port)
                )
                continue
            pending = r.pending
            r.pending = None
            c.write_now(b"$%d\r\n" % len(payload))
            c.write_now(payload)
            if self._put_online(r):
                for data in pending:
                    c.write_now(data)
            server.log_notice(
                "Synchronization with replica %s:%d succeeded" % (r.address(), r.listening_port)
            )

    def _repl_info(self, stream_db):
        """rdbPopulateSaveInfo for the RDB of a full sync: (repl-stream-db, repl-id,
        repl-offset). A replica gets the db its master's stream has selected
        (``stream_db``); a master's own stream starts again with a SELECT."""
        server = self.server
        if stream_db is None:
            stream_db = max(self.seldb, 0)
        return (stream_db, server.replid, server.master_repl_offset)

    def rdb_payload(self, stream_db=None, data=True):
        """The dataset as an RDB, made in memory (what a diskless BGSAVE would send),
        with the replication info aux fields (rdbSaveInfoAuxFields); a replica
        selects repl-stream-db for the stream that follows. ``data`` False: the
        functions alone."""
        server = self.server
        fl = server.function_codes
        functions = fl() if fl is not None else ()
        fh = io.BytesIO()
        rdbmod.write_rdb(
            fh,
            server.dbs if data else [],
            server.snapshot.limits(),
            used_mem=rdbmod.used_memory_estimate(),
            functions=functions,
            repl_info=self._repl_info(stream_db),
        )
        return fh.getvalue()

    # ---------------------------------------------------------------- acks
    def ack(self, c, offset):
        r = self.replicas.get(c)
        if r is None:
            return
        if offset > r.ack_off:
            r.ack_off = offset
        r.ack_time = time.time()
        if r.start_on_ack:
            # the replica loaded its diskless RDB: the stream held back goes now,
            # once this REPLCONF ACK is done (written during it, the stream would
            # look like a reply to it: replica_replied); what the stream gains in
            # between still queues in r.pending, in order
            r.start_on_ack = False
            loop = self.server.loop
            if loop is not None:
                loop.call_soon(self._start_stream, r)
            else:
                self._start_stream(r)
        if self.waiting:
            self.serve_waiting()

    def _start_stream(self, r):
        """replicaStartCommandStream: send what was held back, then stream."""
        pending = r.pending
        r.pending = None
        if pending and not r.client.closed:
            for data in pending:
                r.client.write_now(data)

    def count_acks(self, offset):
        n = 0
        for r in self.replicas.values():
            if r.state == STATE_ONLINE and r.ack_off >= offset:
                n += 1
        return n

    def request_ack(self):
        """replicationRequestAckFromSlaves: one GETACK before the loop sleeps."""
        if self.getack_scheduled:
            return
        loop = self.server.loop
        if loop is None:
            self.send_getack()
            return
        self.getack_scheduled = True
        loop.call_soon(self.send_getack)

    def send_getack(self):
        self.getack_scheduled = False
        if self.replicas:
            self.feed_raw([b"REPLCONF", b"GETACK", b"*"])

    def serve_waiting(self):
        still = []
        for entry in self.waiting:
            c, offset, num = entry
            st = c.blocked
            if st is None or c.closed:
                continue
            n = self.count_acks(offset)
            if n >= num:
                unblock(c, n)
            else:
                st.timeout_reply = n  # what a timeout (or CLIENT UNBLOCK) answers
                still.append(entry)
        self.waiting = still

    # ---------------------------------------------------------- lifecycle
    @staticmethod
    def _release_fd(r, shutdown):
        fd = r.fd_dup
        if fd < 0:
            return
        r.fd_dup = -1
        if shutdown:
            try:
                s = socket.socket(fileno=fd)
            except OSError:
                os.close(fd)
                return
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        else:
            os.close(fd)

    def client_gone(self, c):
        self.conf.pop(c, None)
        r = self.replicas.pop(c, None)
        if r is not None:
            t = c.transport
            if t is not None and c.fd >= 0 and not t.is_closing():
                # freed here (CLIENT KILL, a timeout), not closed by the peer: like
                # freeClient, end the connection now, so the replica sees its link
                # down before anything we answer next (the transport's own close
                # comes a loop turn later; its socket object cannot shut down)
                try:
                    s = socket.socket(fileno=os.dup(c.fd))
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    finally:
                        s.close()
                except OSError:
                    pass
            self._release_fd(r, True)  # a fork child still holds it: really end it
            ch = self.child
            if (
                ch is not None
                and r in ch[2]
                and not ch[4]
                and not any(self.replicas.get(x.client) is x for x in ch[2])
            ):
                # nobody waits for this RDB any more. A diskless one is useless; one
                # for repl-diskless-sync no stands for Redis's BGSAVE to disk, which
                # is only killed when no save rule would want it (unlinkClient)
                if r.eof is not None:
                    self.server.log_warning(
                        "Diskless rdb transfer, last replica dropped, killing fork child."
                    )
                    self.server.snapshot.kill_child()
                elif not self.server.config.get("save").strip():
                    self.server.snapshot.kill_child()
            if not self.replicas:
                self.no_replicas_since = time.time()
            self.server.log_notice(
                "Connection with replica %s:%d lost." % (r.address(), r.listening_port)
            )
        self.woff.pop(c.id, None)

    def cron(self):
        """replicationCron: PING the replicas every repl-ping-replica-period seconds."""
        server = self.server
        self._maybe_start_pending()
        now = time.monotonic()
        if now - self.last_newline >= 1:
            # replicationCron: a newline every second to the replicas waiting for
            # their RDB to start (or to be written), so their link does not time out
            self.last_newline = now
            for r in self.replicas.values():
                if r.state == STATE_WAIT_BGSAVE and r.eof is None:
                    r.client.write_now(b"\n")
        self._drop_timedout_replicas()
        self._limit_waiting_replicas()
        b = self.backlog
        if b is not None and len(b) > self.backlog_size:
            self._trim()  # what replicas held back and no longer need goes
        if self.pipe_paused is not None:
            self._resume_pipe()
        if server.is_replica:
            return  # a replica passes on its master's PINGs instead
        if not self.replicas and self.backlog is not None:
            ttl = server.config.get_int("repl-backlog-ttl")
            if ttl and time.time() - self.no_replicas_since > ttl:
                self._free_backlog(ttl)
                return
        now = time.monotonic()
        period = self.server.config.get_int("repl-ping-replica-period")
        if now - self.last_ping >= period:
            self.last_ping = now
            if self.replicas:
                self.feed_raw([b"PING"])

    def _limit_waiting_replicas(self):
        """client-output-buffer-limit for a replica waiting for its RDB: the stream
        held for it counts as its output (Redis: the shared buffer it references)."""
        limits = self.server.output_limits
        for r in list(self.replicas.values()):
            if r.pending:
                limits.check(r.client, from_cron=True, adding=sum(len(b) for b in r.pending))

    def _drop_timedout_replicas(self):
        """replicationCron: an online replica whose last REPLCONF ACK is older than
        repl-timeout is disconnected (old SYNC replicas send none: exempt)."""
        if not self.replicas:
            return
        timeout = self.server.config.get_int("repl-timeout")
        now = time.time()
        for r in list(self.replicas.values()):
            if r.eof is not None:
                # a streamed RDB: the replica must keep reading it
                sent = r.queued - r.client.output_size()
                if sent > r.sent or sent >= r.queued:
                    r.sent = sent
                    r.progress_time = now
                elif now - r.progress_time > timeout:
                    self.server.log_warning(
                        "Disconnecting timedout replica (full sync): %s:%d"
                        % (r.address(), r.listening_port)
                    )
                    # freeClient: gone now, what it did not read dropped (a close
                    # would wait for a stopped replica to read it, for ever)
                    r.client.free()
                continue
            if r.state != STATE_ONLINE or not r.psync or r.rdb_only:
                continue
            if now - r.ack_time > timeout:
                self.server.log_warning(
                    "Disconnecting timedout replica (streaming sync): %s:%d"
                    % (r.address(), r.listening_port)
                )
                r.client.free()

    def _free_backlog(self, ttl):
        """repl-backlog-ttl passed without replicas: free the backlog, and start a new
        history (our offset stops moving, so the old ID must not be continued)."""
        server = self.server
        server.replid = new_replid()
        server.replid2 = "0" * 40
        self.second_replid_offset = -1
        self.backlog = None
        server.set_feed_sink("repl", None)
        server.log_notice(
            "Replication backlog freed after %d seconds without connected replicas." % ttl
        )

    def disconnect_replicas(self):
        for c in list(self.replicas):
            c.close()

    # ---------------------------------------------------------------- info
    def buffer_memory(self):
        """Redis's ``server.repl_buffer_mem``: the one replication buffer the backlog
        and every replica's output share (replication.c's repl buffer blocks). A block
        stays while the backlog or a replica still needs it, so the shared buffer spans
        from the oldest byte anyone needs to the end of the stream: the backlog's
        length, or what the slowest replica has not been sent yet, whichever is more.
        (A replica still waiting for its RDB holds the stream in ``pending``; its
        socket's queue then holds the RDB, which Redis does not count here.)"""
        if self.backlog is None:
            return 0
        return max(self.histlen(), self._needed())

    def memory_split(self):
        """(mem_replication_backlog, mem_clients_slaves) as getMemoryOverheadData
        splits the shared buffer: beyond repl-backlog-size, with replicas connected,
        it is the replicas' memory."""
        total = self.buffer_memory()
        if self.replicas and total > self.backlog_size:
            return self.backlog_size, total - self.backlog_size
        return total, 0

    def info_lines(self):
        lines = []
        now = time.time()
        for i, r in enumerate(self.replicas.values()):
            lines.append(
                "slave%d:ip=%s,port=%d,state=%s,offset=%d,lag=%d"
                % (i, r.address(), r.listening_port, r.state, r.ack_off, int(now - r.ack_time))
            )
        return lines

    def role_entries(self):
        return [
            [r.address().encode(), b"%d" % r.listening_port, b"%d" % r.ack_off]
            for r in self.replicas.values()
            if r.state == STATE_ONLINE
        ]

    def good_replicas(self):
        """min_slaves_good_slaves: online replicas whose last ACK is recent enough."""
        max_lag = self.server.config.get_int("min-replicas-max-lag")
        now = time.time()
        return sum(
            1
            for r in self.replicas.values()
            if r.state == STATE_ONLINE and now - r.ack_time <= max_lag
        )
