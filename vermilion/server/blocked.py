"""Serving clients while the event loop is stuck: Redis's processEventsWhileBlocked.

Vermilion serves every connection from one asyncio event loop. Two things keep
that loop from turning for a long time, on purpose:

* a **slow script** (``EVAL "while true do end" 0``): Lua runs to completion
  inside one command, and the loop only gets control back when it returns;
* **loading the dataset** at startup (a multi-gigabyte RDB or AOF): the
  loaders run inside ``Server.start()``, before the loop ever serves anyone.

Redis has the same problem and the same answer. Its long operations call
``processEventsWhileBlocked()`` from time to time (every 100000 Lua
instructions once a script is past ``busy-reply-threshold``, every
``loading-process-events-interval-bytes`` of an RDB, every 1024 commands of an
AOF), which runs the event loop's file events *without waiting*: new
connections are accepted, clients' input is read and their commands run, and
replies are written. The commands then meet processCommand's usual checks, so
during a busy script everything but ``SCRIPT KILL``, ``FUNCTION KILL`` and
``SHUTDOWN NOSAVE`` is answered ``-BUSY``, and during loading everything not
flagged ``loading`` is answered ``-LOADING``. That is how an operator can stop a
runaway script, or watch ``INFO persistence`` while a big file loads.

Our loop cannot be re-entered (asyncio forbids running a loop that is running),
so :meth:`WhileBlocked.process` does by hand what one turn of the loop would do:

One non-blocking ``poll()`` takes a snapshot of every client's socket and
every listening socket, then the events it reported are handled in this order:

1. **Read.** What is readable is read with ``os.read`` and fed to the client's protocol
   (``data_received``), which parses and runs the commands as it always does.
   A client that is in the middle of a command (the script's caller, whose
   reply is not written yet: Redis's *protected* client) is not read from.
2. **Accept.** Each listening socket (``server.listeners``, asyncio ``Server``
   objects) is accepted from directly, through a duplicate of its descriptor.
   An accepted socket gets a :class:`RedisProtocol` like any other, through the
   same ``connection_made`` (so ``maxclients``, protected mode and the socket
   options apply exactly as usual), but over a small stand-in transport,
   :class:`BlockedTransport`, which writes straight to the non-blocking socket.
   The connection is a real client from that moment (CLIENT LIST shows it,
   its commands run, its replies go out). Once the loop turns again the socket
   is handed to it with ``loop.connect_accepted_socket``; the protocol then
   *adopts* the loop's transport (:class:`_LateProtocol`): same Client, same
   id, same state, and any output the stand-in could not send yet goes first.
3. **Write.** Replies written with ``transport.write`` leave at once when the
   kernel buffer has room (both asyncio and uvloop try to send immediately);
   replies queued for "the end of this loop step" (pub/sub messages, unblocked
   clients) are flushed here, since that step is far away.

Up to four rounds run while they find work, like Redis's four
``aeProcessEvents(AE_DONT_WAIT)`` iterations. Then :meth:`_cron` does the part of
``whileBlockedCron`` that matters here: a SIGTERM/SIGINT received during
loading shuts the server down (without saving: half a dataset must never
overwrite the file it came from).

TLS connections are left to the loop (their bytes need the loop's TLS layer):
they are neither read nor accepted here, and wait for the operation to end.
"""

import os
import select
import signal
import socket

from .netio import RedisProtocol

_READ_CHUNK = 1 << 16
_ROUNDS = 4


class BlockedTransport:
    """The transport of a connection accepted while the loop is blocked.

    Just enough of ``asyncio.Transport`` for :class:`RedisProtocol` and
    :class:`~vermilion.core.client.Client`: ``write`` sends on the
    non-blocking socket and keeps what the kernel refused for later;
    ``close`` writes what it can, closes the socket and tells the protocol.
    """

    def __init__(self, sock, protocol):
        self.sock = sock
        self.protocol = protocol
        self.fd = sock.fileno()
        self.buf = bytearray()
        self.closing = False
        self.handed = False  # the loop owns the socket now
        self.reading = True
        try:
            peer = sock.getpeername()
        except OSError:
            peer = None
        try:
            local = sock.getsockname()
        except OSError:
            local = None
        self.extra = {"socket": sock, "peername": peer, "sockname": local}

    # -- asyncio.Transport's surface
    def get_extra_info(self, name, default=None):
        return self.extra.get(name, default)

    def write(self, data):
        if self.closing or not data:
            return
        if self.buf:
            self.buf += data
            self.send_pending()
            return
        try:
            n = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            self._lost()
            return
        if n < len(data):
            self.buf += memoryview(data)[n:]

    def send_pending(self):
        """Send what an earlier write could not; False once the socket is gone."""
        while self.buf and not self.closing:
            try:
                n = self.sock.send(self.buf)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                self._lost()
                return False
            del self.buf[:n]
        return not self.closing

    def get_write_buffer_size(self):
        return len(self.buf)

    def set_write_buffer_limits(self, high=None, low=None):
        pass

    def pause_reading(self):
        self.reading = False

    def resume_reading(self):
        self.reading = True

    def is_reading(self):
        return self.reading and not self.closing

    def is_closing(self):
        return self.closing

    def close(self):
        if self.closing:
            return
        if self.buf:
            self.send_pending()  # a best effort: the error reply before a rejection
        self._lost()

    def abort(self):
        self.buf.clear()
        self._lost()

    def _lost(self):
        if self.closing:
            return
        self.closing = True
        self.buf.clear()
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            self.protocol.connection_lost(None)
        except Exception:
            self.protocol.server.log_exception("closing a connection accepted while blocked")


class _LateProtocol(RedisProtocol):
    """A RedisProtocol whose first transport was a :class:`BlockedTransport`.

    The first ``connection_made`` is the ordinary one (it creates the Client);
    the second comes from ``loop.connect_accepted_socket`` and only swaps the
    transport under the existing Client.
    """

    __slots__ = ()

    def connection_made(self, transport):
        if self.client is None:
            RedisProtocol.connection_made(self, transport)
            return
        old = self.transport
        self.transport = transport
        c = self.client
        c.transport = transport
        if old is not None and old.buf:
            transport.write(bytes(old.buf))
            old.buf.clear()
        if c.paused_reading:
            transport.pause_reading()


class WhileBlocked:
    """``server.while_blocked``: the state of processEventsWhileBlocked for one server."""

    def __init__(self, server):
        self.server = server
        self.depth = 0
        self.in_progress = set()  # clients whose input is being handled (no re-entry)
        self.accepting = {}  # listener fd -> a socket object for accept()
        self.late = []  # BlockedTransports not handed to the loop yet
        self.handover_scheduled = False
        self.shutdown_signal = None  # SIGTERM/SIGINT seen while loading
        self.saved_handlers = None

    # ------------------------------------------------------------ the turn
    def process(self, protect=None):
        """Accept, read and write for every connection, without waiting.

        ``protect``: a client that must not be read from now (the one whose
        command is running: its next command would run in the middle of it).
        """
        server = self.server
        saved_current = server.current_client
        self.depth += 1
        try:
            for _ in range(_ROUNDS):
                n = self._one_round(protect)
                self._write()
                if not n or server.stopping:
                    break
            self._cron()
        finally:
            self.depth -= 1
            server.current_client = saved_current

    def _one_round(self, protect):
        """One ``poll()`` over the clients and the listeners, then the events it
        reported: input first, new connections after. Like one epoll_wait in
        Redis, events that arrive meanwhile wait for the next round, so a client
        that closed and reconnected is gone before its new connection counts
        against maxclients."""
        clients = self._readable_clients(protect)
        listeners = self._listening_sockets()
        if not clients and not listeners:
            return 0
        try:
            p = select.poll()
            for fd in clients:
                p.register(fd, select.POLLIN)
            for fd in listeners:
                p.register(fd, select.POLLIN)
            ready = p.poll(0)
        except (OSError, ValueError):
            return 0
        n = 0
        accept = []
        for fd, _ in ready:
            c = clients.get(fd)
            if c is not None:
                n += self._read(c)
            elif fd in listeners:
                accept.append(listeners[fd])
        for lsock in accept:
            n += self._accept(lsock)
        return n

    def _readable_clients(self, protect):
        """fd -> client for every connection this turn may read from."""
        fds = {}
        in_progress = self.in_progress
        for c in list(self.server.clients.values()):
            if (
                c is protect
                or c.closed
                or c.conn is None
                or c.fd < 0
                or c.paused_reading
                or c.close_after_reply
                or c in in_progress
            ):
                continue
            tr = c.transport
            if tr is None:
                continue
            if tr.__class__ is BlockedTransport:
                if not tr.reading or tr.closing:
                    continue
            elif tr.get_extra_info("sslcontext") is not None:
                continue  # TLS: the loop's TLS layer must see these bytes
            fds[c.fd] = c
        return fds

    def _listening_sockets(self):
        """fd -> socket object to accept() from, for every plain listener."""
        server = self.server
        out = {}
        if server.stopping:
            return out
        for srv in list(server.listeners):
            if _is_tls(server, srv):
                continue
            try:
                socks = srv.sockets or ()
            except Exception:
                continue
            for ls in socks:
                lsock = self._listening_socket(ls)
                if lsock is not None:
                    out[lsock.fileno()] = lsock
        return out

    def _accept(self, lsock):
        n = 0
        while not self.server.stopping:
            try:
                sock, _ = lsock.accept()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self.server.log_warning("Accepting client connection: %s" % e.strerror)
                break
            n += 1
            self._new_connection(sock)
        return n

    def _listening_socket(self, ls):
        try:
            fd = ls.fileno()
        except (OSError, ValueError):
            return None
        if fd < 0:
            return None
        s = self.accepting.get(fd)
        if s is None:
            try:
                s = socket.socket(ls.family, ls.type, fileno=os.dup(fd))
                s.setblocking(False)
            except OSError:
                return None
            self.accepting[fd] = s
        return s

    def _new_connection(self, sock):
        server = self.server
        try:
            sock.setblocking(False)
        except OSError:
            sock.close()
            return
        proto = _LateProtocol(server)
        tr = BlockedTransport(sock, proto)
        proto.connection_made(tr)  # maxclients, protected mode, socket options
        c = proto.client
        if c is None or tr.closing or c.closed:
            tr.close()
            return
        self.late.append(tr)
        if server.loop is not None and not self.handover_scheduled:
            self.handover_scheduled = True
            server.loop.call_soon(self._hand_over)

    def _read(self, c):
        """Read what one client sent and feed it to its protocol; 1 if anything happened."""
        if c.closed:
            return 0
        try:
            data = os.read(c.fd, _READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            data = b""
        if not data:
            # EOF: a connection of our own is closed now; one the loop owns is
            # forgotten now (Redis frees it in this turn: a replica that left no
            # longer counts for a script waiting on it), its transport closed
            # by the loop when it runs again (connection_lost: nothing left to do)
            if c.transport.__class__ is BlockedTransport:
                c.transport.close()
                return 1
            c.closed = True
            self.server.client_gone(c)
            return 1
        in_progress = self.in_progress
        in_progress.add(c)
        try:
            c.conn.data_received(data)
        except Exception:
            self.server.log_exception("serving a client while blocked")
        finally:
            in_progress.discard(c)
        return 1

    def _write(self):
        # beforeSleep's handleClientsWithPendingWrites: what waits for the end of
        # this loop step (pub/sub messages, ...) cannot wait that long
        self.server.flush_pending_replies()
        for tr in self.late:
            if tr.buf:
                tr.send_pending()

    def _hand_over(self):
        """The loop runs again: it takes over the connections accepted meanwhile."""
        self.handover_scheduled = False
        late = self.late
        self.late = []
        loop = self.server.loop
        for tr in late:
            if tr.closing:
                continue
            tr.handed = True
            loop.create_task(self._connect(loop, tr))

    async def _connect(self, loop, tr):
        proto = tr.protocol
        if tr.closing:
            return  # closed between the hand-over and now (QUIT, CLIENT KILL)
        try:
            await loop.connect_accepted_socket(lambda: proto, tr.sock)
        except Exception as e:
            self.server.log_warning("Error handing a connection to the event loop: %s" % e)
            tr.handed = False
            tr.close()

    def close(self):
        """Shutdown: drop the duplicate listening descriptors."""
        for s in self.accepting.values():
            try:
                s.close()
            except OSError:
                pass
        self.accepting.clear()

    # ------------------------------------------------------- signals, cron
    def _cron(self):
        """whileBlockedCron: a shutdown signal received during loading is acted on here."""
        server = self.server
        sig = self.shutdown_signal
        if sig is None or not server.loading or server.stopping:
            return
        self.shutdown_signal = None
        if server.prepare_shutdown(save=False, now=True, origin="signal-loading"):
            return
        server.log_warning(
            "SIGTERM received but errors trying to shut down the server, "
            "check the logs for more information"
        )

    def catch_signals(self):
        """While loading (the loop's signal handlers are not installed and would not
        run anyway): remember SIGTERM/SIGINT to act on them between chunks."""
        if self.saved_handlers is not None:
            return
        saved = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                saved[sig] = signal.signal(sig, self._on_signal)
            except (ValueError, OSError, RuntimeError):
                pass  # not the main thread (an embedded server): nothing to do
        self.saved_handlers = saved

    def release_signals(self):
        """Loading is over: the previous handlers come back, and a signal that
        arrived after the last chunk is handed to the server's own handling
        (shutdown_asap, which the cron acts on, as Redis's serverCron does)."""
        saved = self.saved_handlers
        self.saved_handlers = None
        if saved:
            for sig, handler in saved.items():
                try:
                    signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
                except (ValueError, OSError, RuntimeError):
                    pass
        sig = self.shutdown_signal
        self.shutdown_signal = None
        server = self.server
        if sig is not None and not server.stopping:
            server.shutdown_asap = sig  # the cron runs it, as after any signal

    def _on_signal(self, sig, frame):
        server = self.server
        if self.shutdown_signal is not None and sig == signal.SIGINT:
            # a second Ctrl+C: the user really wants out, now
            server.log_warning("You insist... exiting now.")
            os._exit(1)
        server.log_warning("Received shutdown signal during loading, scheduling shutdown.")
        self.shutdown_signal = sig


def _is_tls(server, srv):
    """Is this listener a TLS one? (asyncio keeps its context on the Server; the TLS
    listeners also register themselves in ``server.tls_listeners`` when they exist)"""
    if getattr(srv, "_ssl_context", None) is not None:
        return True
    tls = server.tls_listeners
    return bool(tls) and srv in tls


def process_events_while_blocked(server, protect=None):
    """Run one turn of "the event loop" for ``server`` while it is blocked."""
    wb = server.while_blocked
    wb.process(protect)
