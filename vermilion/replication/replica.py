"""The replica side of replication: our link to a master (Redis 7.0's replication.c,
replica half: connectWithMaster, syncWithMaster, readSyncBulkPayload).

``REPLICAOF host port`` (or ``replicaof`` in the configuration) starts an
asyncio task that connects to the master and runs the handshake Redis runs::

    PING                              -> +PONG (or an auth error we tolerate)
    AUTH [masteruser] masterauth      (when masterauth is set)
    REPLCONF listening-port <port>
    REPLCONF capa eof capa psync2
    PSYNC <replid> <offset+1>         (PSYNC ? -1 the first time)

A ``+FULLRESYNC <replid> <offset>`` is followed by the RDB payload, either
``$<len>\\r\\n<bytes>`` or, diskless, ``$EOF:<40-byte mark>\\r\\n<bytes><mark>``;
we drop every key and load it with our RDB loader. A ``+CONTINUE [<replid>]``
resumes the stream where we left it. Then the master's command stream is
executed by the *master client* (``flags=M`` in CLIENT LIST, no replies, not
subject to ``replica-read-only``), one command at a time so that our
processed offset (``slave_repl_offset``, what ``REPLCONF ACK`` reports every
second and on ``REPLCONF GETACK``) is exact. A lost link is retried every
second with a partial resynchronisation request.

With ``tls-replication yes`` the link is a TLS connection made with the client
context of vermilion/server/tls.py, and we announce our ``tls-port`` as the
listening port; everything above the connection is unchanged.
"""

import asyncio
import os
import time
from collections import deque

from ..persistence.aof import encode_command
from .master import encode, error_replies, log_error_reply
from ..util import repr_bytes
from ..core.client import Client
from ..core.config import DENY_LOADING, LOOKUP as CONFIG_LOOKUP

# bytes of argv as a RESP multibulk: how the master encoded it in the stream
from ..protocol.encoder import request_size as command_size
from ..persistence import rdb as rdbmod
from ..persistence.rdb import RdbError
from ..persistence.snapshot import empty_data, install, start_loading, stop_loading
from ..core.dispatch import execute_batch, resolve
from ..errors import CommandError
from ..server.pause import PAUSE_ALL, PAUSE_OFF, may_replicate
from ..keyspace.blocking import disconnect_all_blocked

READONLY = "READONLY You can't write against a read only replica."
LOADING = "LOADING Redis is loading the dataset in memory"
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."

STATE_NONE = "none"
STATE_CONNECT = "connect"
STATE_CONNECTING = "connecting"
STATE_TRANSFER = "sync"
STATE_CONNECTED = "connected"


class LinkError(Exception):
    pass


class ReplicaLink:
    def __init__(self, server):
        self.server = server
        self.host = None
        self.port = 0
        self.state = STATE_NONE
        self.task = None
        self.client = None  # the master client while connected
        self.writer = None
        self.master_replid = None  # the master's replication ID we follow
        self.reploff = 0  # processed offset (slave_repl_offset)
        self.read_reploff = 0  # read offset (slave_read_repl_offset)
        self.last_io = 0.0
        self.down_since = 0
        self.killed_link = False  # our master client was killed here (CLIENT KILL)
        self.last_ack = 0.0
        self.transfer_size = -1
        self.master_db = 0
        self.transfer_read = 0
        self.read_only = server.config.get("replica-read-only") != "no"
        server.config.add_hook("replica-read-only", lambda v: setattr(self, "read_only", v != "no"))
        self.serve_stale = server.config.get("replica-serve-stale-data") != "no"
        server.config.add_hook(
            "replica-serve-stale-data", lambda v: setattr(self, "serve_stale", v != "no")
        )
        self.restored = None  # (replid, offset, stream_db) from the RDB loaded at startup
        self.leftover = b""  # stream bytes read together with the end of an $EOF: RDB
        self.unapplied = deque()  # stream commands read but held back (CLIENT PAUSE)
        server.async_loading = 0  # swapdb: the old data is served while the new one loads
        server.repl_save_info = self.save_info
        server.repl_restore_from_rdb = self.restore_from_rdb
        server.add_startup_hook(self._startup)
        server.add_cron_hook(self.cron)

    def _startup(self):
        v = self.server.config.get("replicaof") or ""
        if v:
            host, port = v.rsplit(" ", 1)
            self.set_master(host, int(port), at_startup=True)

    # ------------------------------------------- the RDB's replication info
    def save_info(self):
        """rdbPopulateSaveInfo: (repl-stream-db, repl-id, repl-offset) for an RDB
        saved now, or None when there is no replication history worth keeping."""
        server = self.server
        if self.host is None:
            repl = server.repl
            if repl.backlog is None:
                return None  # not in a replication chain: a replica would full sync
            # no write since the last full sync (seldb -1): 0 is safe, the next
            # write starts with a SELECT
            return (max(repl.seldb, 0), server.replid, server.master_repl_offset)
        if self.master_replid is None:
            return None  # neither a master client nor a cached one
        db = self.client.db.id if self.client is not None else self.master_db
        return (db, self.master_replid, self.reploff)

    def restore_from_rdb(self, aux, expired=()):
        """loadDataFromDisk: the RDB loaded at startup had replication info. A replica
        keeps it as its cached master (its first PSYNC may continue); a master keeps
        the ID as its second one, so that its old replicas may continue, and feeds
        its new backlog a DEL (UNLINK with lazyfree-lazy-expire) for each key
        ``expired`` while loading (rdbLoad's RDBFLAGS_FEED_REPL: (dbid, key) pairs),
        so that those replicas drop them too."""
        server = self.server
        replid = aux.get(b"repl-id")
        if replid is None or len(replid) != 40:
            return
        try:
            offset = int(aux.get(b"repl-offset", b"-1"))
            stream_db = int(aux.get(b"repl-stream-db", b"-1"))
        except ValueError:
            return
        if offset == -1 or stream_db == -1:
            return
        replid = replid.decode("ascii", "replace")
        if self.host is not None or server.config.get("replicaof"):
            server.replid = replid
            server.master_repl_offset = offset
            self.restored = (replid, offset, stream_db)
            if self.host is not None:  # REPLICAOF already applied: use it now
                self._use_restored()
        else:
            repl = server.repl
            server.replid2 = replid
            repl.second_replid_offset = offset + 1
            server.master_repl_offset += offset
            if repl.backlog is None:
                repl._start_backlog()
            repl.no_replicas_since = time.time()
            if expired:
                lazy = server.config.get("lazyfree-lazy-expire") == "yes"
                name = b"UNLINK" if lazy else b"DEL"
                for dbid, key in expired:
                    repl.feed(dbid, [[name, bytes(key)]])

    def _use_restored(self):
        replid, offset, stream_db = self.restored
        self.restored = None
        self.server.log_notice(
            "Before turning into a replica, using my own master parameters to "
            "synthesize a cached master: I may be able to synchronize with the new "
            "master with just a partial transfer."
        )
        self.master_replid = replid
        self.reploff = self.read_reploff = offset
        self.master_db = stream_db

    # ---------------------------------------------------------- commands
    def connected(self):
        return self.state == STATE_CONNECTED

    def set_master(self, host, port, at_startup=False):
        """replicationSetMaster (or, ``at_startup``, a ``replicaof`` in the
        configuration: a cached master only when the RDB gave one)."""
        server = self.server
        was_master = self.host is None
        self._drop_link()
        self.host = host
        self.port = port
        server.config.values["replicaof"] = "%s %d" % (host, port)  # CONFIG GET replicaof
        if was_master:
            disconnect_all_blocked(server)
            server.repl.become_replica()
            if at_startup:
                self.master_replid = None
                if self.restored is not None:
                    server.next_client_id()
                    self._use_restored()
            else:
                # replicationCacheMasterUsingMyself: our own history may continue.
                # Redis creates a cached master client for it, which takes a client id.
                server.next_client_id()
                server.log_notice(
                    "Before turning into a replica, using my own master parameters to "
                    "synthesize a cached master: I may be able to synchronize with the "
                    "new master with just a partial transfer."
                )
                self.master_replid = server.replid
                self.reploff = self.read_reploff = server.master_repl_offset
                self.master_db = 0
        self.state = STATE_CONNECT
        self.down_since = 0
        server.is_replica = True
        server.set_special("replica", True)
        server.update_oom_score()  # (a replica's OOM score class)
        self._start_task()

    def unset_master(self):
        """replicationUnsetMaster (REPLICAOF NO ONE)."""
        server = self.server
        self._drop_link()
        self.host = None
        self.port = 0
        server.config.values["replicaof"] = ""
        self.state = STATE_NONE
        server.is_replica = False
        server.set_special("replica", False)
        server.update_oom_score()
        server.master_repl_offset = self.reploff
        server.repl.promote()

    def on_shutdown(self, save):
        self._drop_link()

    def _start_task(self):
        loop = self.server.loop
        if loop is not None:
            self.task = loop.create_task(self._run(self.host, self.port))

    def _drop_link(self):
        if self.task is not None:
            self.task.cancel()
            self.task = None
        self._close_master()

    def _close_master(self):
        c = self.client
        self.client = None
        self.unapplied.clear()  # read, never applied: a PSYNC asks for it again
        if c is not None:
            self.master_db = c.db.id  # the cached master's db: a PSYNC continues there
            c.closed = True
            self.server.client_gone(c)
        w = self.writer
        self.writer = None
        if w is not None:
            try:
                w.close()
            except Exception:
                pass

    def client_gone(self, c):
        if c is self.client and self.writer is not None:
            # CLIENT KILL TYPE master: drop the link; the task reconnects, and a
            # PSYNC continues the stream in the db the master client had selected
            # (replicationCacheMaster keeps that client, its db included)
            self.master_db = c.db.id
            self.client = None
            self.unapplied.clear()
            if self.state == STATE_CONNECTED:
                # replicationHandleMasterDisconnection: the link is down from now
                # (not from when the task notices, maybe after a DEBUG SLEEP)
                self.down_since = int(time.time())
                self.state = STATE_CONNECT
                self.killed_link = True
            try:
                self.writer.close()
            except Exception:
                pass

    # ------------------------------------------------------------- checks
    def check_command(self, c, cmd, argv, is_write, stale=None):
        """processCommand's replica checks: writes on a read-only replica, then
        stale data while the link is down (replica-serve-stale-data no). ``stale``:
        a script's own answer to "may it run on a stale replica" (None: the
        command's flag)."""
        if c is self.client:
            return None
        if self.server.async_loading:
            err = self._async_loading_check(cmd, argv)
            if err is not None:
                return err
        if self.read_only and is_write:
            return READONLY
        if (
            not self.serve_stale
            and self.state != STATE_CONNECTED
            and (
                not (cmd.stale if stale is None else stale)
                or (cmd.fullname == "exec" and c.multi and not all(q.stale for q, _ in c.multi))
            )
        ):
            return MASTERDOWN
        return None

    @staticmethod
    def _async_loading_check(cmd, argv):
        """processCommand during async loading: commands flagged no-async-loading
        (REPLICAOF, SAVE, BGSAVE...) and CONFIG SET of a parameter that cannot change
        while loading get LOADING."""
        if "no_async_loading" in cmd.flags:
            return LOADING
        if cmd.fullname == "config|set":
            for i in range(2, len(argv), 2):
                p = CONFIG_LOOKUP.get(argv[i].decode("utf-8", "replace").lower())
                if p is not None and p.flags & DENY_LOADING:
                    return LOADING
        return None

    # ------------------------------------------------------------ the link
    async def _run(self, host, port):
        server = self.server
        while self.host == host and self.port == port:
            try:
                await self._session(host, port)
            except asyncio.CancelledError:
                raise
            except (OSError, LinkError, asyncio.IncompleteReadError, ValueError) as e:
                if self.state == STATE_CONNECTED or self.killed_link:
                    server.log_notice("Connection with master lost.")
                else:
                    server.log_warning("Error condition on socket for SYNC: %s" % e)
            except Exception:
                server.log_exception("replication link")
            if self.state == STATE_CONNECTED:
                self.down_since = int(time.time())  # a working link was lost
            self.killed_link = False
            self._close_master()
            self.state = STATE_CONNECT
            await asyncio.sleep(1)

    async def _session(self, host, port):
        server = self.server
        self.leftover = b""
        cfg = server.config
        server.log_notice("Connecting to MASTER %s:%d" % (host, port))
        self.state = STATE_CONNECTING
        self.last_io = time.time()  # repl-timeout counts from here while connecting
        opts = self._tls_options()
        source = cfg.get("bind-source-addr")
        try:
            # bind-source-addr: the link leaves from that address, best effort
            # (anetTcpNonBlockBestEffortBindConnect: if it cannot be bound, any)
            reader, writer = await asyncio.open_connection(
                host, port, local_addr=(source, 0) if source else None, **opts
            )
        except OSError:
            if not source:
                raise
            reader, writer = await asyncio.open_connection(host, port, **opts)
        self.writer = writer
        server.log_notice("MASTER <-> REPLICA sync started")

        async def call(*args):
            writer.write(
                encode_command([a if isinstance(a, bytes) else str(a).encode() for a in args])
            )
            line = await reader.readline()
            if not line:
                raise LinkError("connection closed by master")
            self.last_io = time.time()
            return line.rstrip(b"\r\n")

        reply = await call("PING")
        if reply.startswith(b"-") and not reply.startswith(
            (b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted")
        ):
            raise LinkError("Error reply to PING from master: '%s'" % reply.decode())
        auth = cfg.get("masterauth")
        if auth:
            user = cfg.get("masteruser")
            reply = await (call("AUTH", user, auth) if user else call("AUTH", auth))
            if reply.startswith(b"-"):
                raise LinkError("Unable to AUTH to MASTER: %s" % reply.decode())
        reply = await call("REPLCONF", "listening-port", self._listening_port())
        if reply.startswith(b"-"):
            server.log_notice(
                "(Non critical) Master does not understand REPLCONF "
                "listening-port: %s" % reply.decode()
            )
        announce_ip = cfg.get("replica-announce-ip")
        if announce_ip:
            reply = await call("REPLCONF", "ip-address", announce_ip)
            if reply.startswith(b"-"):
                server.log_notice(
                    "(Non critical) Master does not understand REPLCONF "
                    "ip-address: %s" % reply.decode()
                )
        reply = await call("REPLCONF", "capa", "eof", "capa", "psync2")
        if reply.startswith(b"-"):
            server.log_notice(
                "(Non critical) Master does not understand REPLCONF capa: %s" % reply.decode()
            )
        if self.master_replid:
            psync_id, psync_off = self.master_replid, self.reploff + 1
            server.log_notice(
                "Trying a partial resynchronization (request %s:%d)." % (psync_id, psync_off)
            )
        else:
            psync_id, psync_off = "?", -1
            server.log_notice("Partial resynchronization not possible (no cached master)")
        # (a master handing over its role asks the target to take it: FAILOVER)
        suffix = server.failover.psync_suffix
        writer.write(encode_command([b"PSYNC", psync_id.encode(), b"%d" % psync_off] + suffix))
        line = await self._read_line(reader)
        accepted = line.startswith((b"+FULLRESYNC", b"+CONTINUE"))
        if suffix and not server.failover.psync_done(accepted):
            return  # aborted (and logged): we are a master again, the link is gone
        if line.startswith(b"+FULLRESYNC"):
            parts = line.split()
            replid, offset = parts[1].decode(), int(parts[2])
            server.log_notice("Full resync from master: %s:%d" % (replid, offset))
            # (the cached master, our old history, is kept until the RDB is about to
            # be loaded: a transfer cut short leaves it for the next PSYNC)
            res = await self._full_sync(reader, replid)
            try:
                self.master_db = int(res.aux.get(b"repl-stream-db", b"0"))
            except ValueError:
                self.master_db = 0
            self.master_replid = replid
            server.replid = replid
            server.replid2 = "0" * 40
            server.repl.second_replid_offset = -1
            self.reploff = self.read_reploff = offset
            server.repl.attach_to_master(True)
        elif line.startswith(b"+CONTINUE"):
            parts = line.split()
            changed = False
            if len(parts) > 1:
                new = parts[1].decode()
                if new != self.master_replid:
                    # the master changed ID (it was promoted): keep the old one as ID2
                    server.replid2 = self.master_replid
                    server.repl.second_replid_offset = self.reploff + 1
                    self.master_replid = new
                    changed = True
            server.replid = self.master_replid
            server.repl.attach_to_master(False)
            if changed:
                server.repl.disconnect_replicas()  # they must learn the new ID
            server.log_notice("Successful partial resynchronization with master.")
        else:
            raise LinkError(
                "Unexpected reply to PSYNC from master: %s" % line.decode("utf-8", "replace")
            )
        server.master_repl_offset = self.reploff
        self._make_master_client(writer)
        self._watch_eof(writer)
        self.state = STATE_CONNECTED
        self.down_since = 0
        server.log_notice(
            "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization."
            if line.startswith(b"+CONTINUE")
            else "MASTER <-> REPLICA sync: Finished with success"
        )
        self.send_ack()
        await self._stream(reader)

    def _watch_eof(self, writer):
        """The link is down the moment the master's connection ends (Redis frees the
        master client as its read returns 0), not when this task wakes up to read
        it: a client's request handled in the same turn of the event loop must see
        it down already. So the stream protocol's end-of-connection callbacks mark
        it (the stream read before the end is still applied by the task)."""
        proto = writer.transport.get_protocol()

        def lost():
            if self.writer is writer and self.state == STATE_CONNECTED:
                # replicationHandleMasterDisconnection
                self.down_since = int(time.time())
                self.state = STATE_CONNECT
                self.killed_link = True  # ("Connection with master lost." once read)

        eof_received, connection_lost = proto.eof_received, proto.connection_lost

        def on_eof():
            lost()
            return eof_received()

        def on_lost(exc):
            lost()
            return connection_lost(exc)

        proto.eof_received = on_eof
        proto.connection_lost = on_lost

    def _tls_options(self):
        """open_connection's TLS arguments: with ``tls-replication yes`` the link is
        TLS (connCreateTLS), through the client context vermilion/server/tls.py
        built (our tls-client-* certificate, else our server one; the master's
        certificate is checked against our CA, its host name is not, as in Redis)."""
        server = self.server
        if server.config.get("tls-replication") != "yes":
            return {}
        tls = server.tls
        ctx = tls.client_ctx if tls is not None else None
        if ctx is None:
            raise LinkError("tls-replication is yes but TLS is not configured")
        # server_hostname "": no SNI and no name to check (Redis sends none either)
        return {"ssl": ctx, "server_hostname": ""}

    def _listening_port(self):
        """REPLCONF listening-port: the announced port, else where the master can
        reach us the way it reaches us now (our TLS port on a TLS link)."""
        cfg = self.server.config
        announced = cfg.get_int("replica-announce-port")
        if announced:
            return announced
        if cfg.get("tls-replication") == "yes" and cfg.get_int("tls-port"):
            return cfg.get_int("tls-port")
        return self.server.port

    async def _read_line(self, reader):
        """A reply line, skipping the newlines a master sends to keep us waiting."""
        while True:
            line = await reader.readline()
            if not line:
                raise LinkError("connection closed by master")
            self.last_io = time.time()
            line = line.rstrip(b"\r\n")
            if line:
                return line

    async def _full_sync(self, reader, replid):
        """readSyncBulkPayload: the RDB that follows +FULLRESYNC, and its loading.

        repl-diskless-load ``disabled`` (or ``on-empty-db`` with keys in memory): the
        old data is served while the payload arrives; then it is written as our
        dbfilename, the data flushed and the payload loaded (LOADING meanwhile).
        ``on-empty-db`` on an empty dataset: LOADING from the first byte. ``swapdb``:
        the old data stays until the new one is loaded, and if the transfer fails it
        is what we keep; when the master's ID is ours (the same history) clients are
        served the old data meanwhile (async_loading), else they get LOADING.
        """
        server = self.server
        self.state = STATE_TRANSFER
        head = await self._read_line(reader)
        if head.startswith(b"-"):
            raise LinkError(
                "MASTER aborted replication with an error: %s" % head[1:].decode("utf-8", "replace")
            )
        if not head.startswith(b"$"):
            raise LinkError("Bad protocol from MASTER, the first byte is not '$'")
        self.transfer_read = 0
        mark = None
        if head.startswith(b"$EOF:"):
            mark = head[5:]
            if len(mark) != 40:
                raise LinkError("Bad EOF mark from MASTER")
            self.transfer_size = 0
            server.log_notice(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to %s"
                % ("socket" if self._diskless_load() else "disk")
            )
        else:
            self.transfer_size = int(head[1:])
            server.log_notice(
                "MASTER <-> REPLICA sync: receiving %d bytes from master to %s"
                % (self.transfer_size, "socket" if self._diskless_load() else "disk")
            )
        mode = server.config.get("repl-diskless-load")
        diskless = self._diskless_load()
        swap = diskless and mode == "swapdb"
        async_load = swap and server.replid == replid
        if diskless:
            self._discard_cached_master()
            if not swap:
                server.log_notice("MASTER <-> REPLICA sync: Flushing old data")
                empty_data(server)
            server.log_notice("MASTER <-> REPLICA sync: Loading DB in memory")
            if async_load:
                server.async_loading = 1
                server.loading_start_time = int(time.time())
            else:
                start_loading(server, self.transfer_size)
        ok = False
        try:
            payload = await self._read_payload(reader, mark)
            if not diskless:
                self._store_payload(payload)
                self._discard_cached_master()
                server.log_notice("MASTER <-> REPLICA sync: Flushing old data")
                empty_data(server)
                server.log_notice("MASTER <-> REPLICA sync: Loading DB in memory")
                res = server.snapshot.load_bytes(
                    payload, flush=True, allow_dup=True, expire_keys=False
                )
            elif swap:
                res = self._parse(payload)
                server.log_notice("MASTER <-> REPLICA sync: Swapping active DB with loaded DB")
                empty_data(server)
                install(server, res, True, True)
                server.log_notice("MASTER <-> REPLICA sync: Discarding old DB in background")
            else:
                res = server.snapshot.load_bytes(
                    payload, flush=True, allow_dup=True, expire_keys=False
                )
            ok = True
        except (OSError, LinkError, asyncio.IncompleteReadError, RdbError) as e:
            if diskless and not isinstance(e, RdbError):
                # the RDB was being loaded from the socket: a short read
                # (rdbReportReadError at rdb.c's eoferr label)
                server.log_warning(
                    "Internal error in RDB reading offset %d, function at rdb.c:3240 -> "
                    "Unexpected EOF reading RDB file" % self.transfer_read
                )
            if diskless:
                server.log_warning(
                    "Failed trying to load the MASTER synchronization DB from socket: %s" % e
                )
                if swap:
                    server.log_notice(
                        "MASTER <-> REPLICA sync: Discarding temporary DB in background"
                    )
                else:
                    empty_data(server)  # the half-loaded data goes
            if isinstance(e, RdbError):
                raise LinkError(str(e))
            raise
        finally:
            if diskless:
                if async_load:
                    server.async_loading = 0
                elif server.loading:
                    stop_loading(server)
        if ok and diskless:
            server.rdb_last_load_keys_loaded = res.keys_loaded
            server.rdb_last_load_keys_expired = res.keys_expired
        server.dirty += 1
        return res

    def _discard_cached_master(self):
        """replicationAttachToNewMaster's replicationDiscardCachedMaster: the RDB is
        about to be loaded, so the old history (what a PSYNC would continue) is gone."""
        if self.master_replid is not None:
            self.server.log_notice("Discarding previously cached master state.")
            self.master_replid = None

    def _diskless_load(self):
        """useDisklessLoad."""
        mode = self.server.config.get("repl-diskless-load")
        return mode == "swapdb" or (
            mode == "on-empty-db" and not any(len(db.data) for db in self.server.dbs)
        )

    async def _read_payload(self, reader, mark):
        server = self.server
        if mark is not None:
            chunks = bytearray()
            while True:
                data = await reader.read(65536)
                if not data:
                    raise LinkError("connection closed during the RDB transfer")
                start = max(0, len(chunks) - 40)
                chunks += data
                self.transfer_read += len(data)
                self.last_io = time.time()
                if server.loading:
                    server.loading_loaded_bytes = self.transfer_read
                i = chunks.find(mark, start)
                if i >= 0:
                    # whatever came after the mark is already the command stream
                    self.leftover = bytes(chunks[i + 40 :])
                    return bytes(chunks[:i])
        size = self.transfer_size
        chunks = bytearray()
        while len(chunks) < size:
            data = await reader.read(min(1 << 20, size - len(chunks)))
            if not data:
                raise LinkError("connection closed during the RDB transfer")
            chunks += data
            self.transfer_read += len(data)
            self.last_io = time.time()
            if server.loading:
                server.loading_loaded_bytes = self.transfer_read
        return bytes(chunks)

    def _store_payload(self, payload):
        """A disk-based load keeps the master's RDB as our dbfilename, as Redis does
        (a temp file renamed over it)."""
        server = self.server
        snap = server.snapshot
        path = snap.rdb_path()
        tmp = os.path.join(
            os.path.dirname(path), "temp-%d.%d.rdb" % (int(time.time()), os.getpid())
        )
        try:
            with open(tmp, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as e:
            server.log_warning(
                "Failed trying to rename the temp DB into %s in MASTER <-> REPLICA "
                "synchronization: %s" % (server.config.get("dbfilename"), e.strerror or e)
            )
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def _parse(self, payload):
        """The payload parsed aside (swapdb's temporary databases)."""
        server = self.server
        limits = server.snapshot.limits()
        return rdbmod.load_rdb(
            payload,
            limits,
            ndbs=len(server.dbs),
            expire_keys=False,
            verify_checksum=limits.checksum,
            log=server.log,
            allow_dup=True,
        )

    def _make_master_client(self, writer):
        server = self.server
        c = Client(server)
        c.authenticated = True
        c.flags_extra = "M"
        sock = writer.get_extra_info("socket")
        peer = writer.get_extra_info("peername")
        local = writer.get_extra_info("sockname")
        if sock is not None:
            c.fd = sock.fileno()
        if peer:
            c.addr = "%s:%d" % (peer[0], peer[1])
        if local:
            c.laddr = "%s:%d" % (local[0], local[1])
        if 0 < self.master_db < len(server.dbs):
            c.select(self.master_db)
        server.clients[c.id] = c
        self.client = c

    async def _stream(self, reader):
        while True:
            data = self.leftover
            if data:
                self.leftover = b""
            else:
                data = await reader.read(65536)
            if not data:
                raise LinkError("connection closed by master")
            c = self.client
            if c is None:
                raise LinkError("master client killed")
            self.last_io = time.time()
            c.last_interaction = time.monotonic()
            c.tot_net_in += len(data)
            self.read_reploff += len(data)
            cmds = c.reader.feed(data)
            if c.reader.error is not None:
                raise LinkError("Protocol error from master: %s" % c.reader.error)
            if cmds:
                self.unapplied.extend(cmds)
                self.apply_stream()

    def apply_stream(self):
        """Apply what the master streamed, in order, until CLIENT PAUSE holds a
        command back (processCommand postpones the master client too).

        Held back, the stream waits here, still read from the socket
        (slave_read_repl_offset grows) but neither applied nor counted in
        slave_repl_offset nor passed on to our backlog and sub-replicas, which only
        get what was applied (commandProcessed); the cron tries again, so it goes on
        once the pause is over."""
        c = self.client
        q = self.unapplied
        if c is None:
            q.clear()
            return
        repl = self.server.repl
        while q:
            argv = q[0]
            if self._held_back(c, argv):
                return
            q.popleft()
            execute_batch(c, [argv])
            if c.blocked is not None:
                # parked all the same (a script the pause check could not judge):
                # resume() runs it when the pause ends, the rest behind it, all
                # counted now as before
                rest = [argv] + list(q)
                q.clear()
                c.pending = (c.pending or []) + rest[1:]
                for a in rest:
                    self.reploff += command_size(a)
                    repl.proxy(encode(a))
                return
            if c.out:
                # a master gets no replies; an error among them is logged
                # (afterErrorReply) before the command reaches our backlog
                self._log_errors(c)
                c.out.clear()
            self.reploff += command_size(argv)
            # our backlog and sub-replicas get it verbatim (master_repl_offset
            # advances with it)
            repl.proxy(encode(argv))
            if c is not self.client:
                q.clear()  # the command dropped the link
                return

    def _held_back(self, c, argv):
        """Would CLIENT PAUSE postpone this command of the master client? (the
        dispatcher's postpone_check without parking it)."""
        if c.blocked is not None or c.pending:
            return True  # parked earlier: what it holds goes first (resume())
        p = self.server.client_pause
        if p.kind == PAUSE_OFF:
            return False
        if p.end < int(time.time() * 1000):
            p.update()  # (a pause whose time is over ends here)
            if p.kind == PAUSE_OFF:
                return False
        if p.kind == PAUSE_ALL:
            return True
        try:
            cmd = resolve(argv, c.server.renames)
        except CommandError:
            return False
        return may_replicate(c, cmd, argv)

    def _log_errors(self, c):
        """afterErrorReply for the master client: an error our master's stream got
        here means the datasets diverge (or a bug), so it is logged with the command
        and the end of the backlog (showLatestBacklog), and counted in
        unexpected_error_replies. (propagation-error-behavior's panic modes are not
        applied: the replica goes on, as with ``ignore``.)"""
        server = self.server
        logged = False
        for text in error_replies(c.out):
            log_error_reply(server, c, text, "master", "replica")
            logged = True
        repl = server.repl
        if logged and repl is not None and repl.backlog:
            tail = bytes(repl.backlog[-min(256, repl.histlen()) :])
            server.log_warning("Latest backlog is: '%s'" % repr_bytes(tail).decode("latin-1"))

    def send_ack(self):
        """replicationSendAck: REPLCONF ACK <processed offset>."""
        w = self.writer
        if w is not None and self.client is not None:
            self.last_ack = time.monotonic()
            w.write(encode_command([b"REPLCONF", b"ACK", b"%d" % self.reploff]))

    def cron(self):
        if self.unapplied:
            self.apply_stream()  # held back by a pause that may be over now
        if self.host is not None and self.state != STATE_NONE:
            self._check_timeout()
        if self.state == STATE_CONNECTED and time.monotonic() - self.last_ack >= 1:
            self.send_ack()

    def _check_timeout(self):
        """replicationCron's repl-timeout checks: a handshake, an RDB transfer or an
        established link with nothing read from the master for that long."""
        state = self.state
        if state == STATE_CONNECT or self.task is None:
            return
        timeout = self.server.config.get_int("repl-timeout")
        if time.time() - self.last_io <= timeout:
            return
        server = self.server
        if state == STATE_CONNECTING:
            server.log_warning("Timeout connecting to the MASTER...")
        elif state == STATE_TRANSFER:
            server.log_warning(
                "Timeout receiving bulk data from MASTER... If the problem persists try "
                "to set the 'repl-timeout' parameter in redis.conf to a larger value."
            )
        else:
            server.log_warning("MASTER timeout: no data nor PING received...")
            self.down_since = int(time.time())
        # cancelReplicationHandshake / freeClient(master): a new attempt right away
        self._drop_link()
        self.state = STATE_CONNECT
        self._start_task()

    # ---------------------------------------------------------- reporting
    def info_lines(self):
        up = self.state == STATE_CONNECTED
        now = time.time()
        lines = [
            "master_host:%s" % self.host,
            "master_port:%d" % self.port,
            "master_link_status:%s" % ("up" if up else "down"),
            "master_last_io_seconds_ago:%d"
            % (int(now - self.last_io) if self.client is not None else -1),
            "master_sync_in_progress:%d" % (1 if self.state == STATE_TRANSFER else 0),
            "slave_read_repl_offset:%d" % (self.read_reploff if self.master_replid else 1),
            "slave_repl_offset:%d" % (self.reploff if self.master_replid else 1),
        ]
        if not up:
            lines.append(
                "master_link_down_since_seconds:%d"
                % (int(now - self.down_since) if self.down_since else -1)
            )
        cfg = self.server.config
        lines += [
            "slave_priority:%d" % cfg.get_int("replica-priority"),
            "slave_read_only:%d" % (1 if self.read_only else 0),
            "replica_announced:%d" % (1 if cfg.get("replica-announced") != "no" else 0),
        ]
        return lines

    def role_reply(self):
        state = self.state
        if state == STATE_CONNECTING:
            state = "handshake" if self.writer is not None else state
        return [
            b"slave",
            self.host.encode(),
            self.port,
            state.encode(),
            self.reploff if self.client is not None else -1,
        ]
