"""MIGRATE and RESTORE-ASKING (cluster.c).

MIGRATE moves keys to another server the way Redis 7.0 does: the values are
serialized as DUMP payloads (:func:`vermilion.persistence.rdb.dump_payload`),
sent as one pipeline of ``RESTORE key ttl payload [REPLACE]`` (``RESTORE-ASKING``
when cluster mode is on), preceded by ``AUTH`` and ``SELECT`` when needed, and the
replies are read one line each. Keys the target acknowledged are deleted here
(unless COPY) and the command is propagated as ``DEL`` of those keys.

Like Redis, the whole exchange is synchronous: the server blocks while MIGRATE
talks to the target, with ``timeout`` milliseconds for each step (syncio.c):
connecting, each 64 KB chunk written, each byte read. The emulation is close on
purpose, since the error a client sees depends on it: a connect that does not
complete in time is not an error by itself (connSocketBlockingConnect), so a
refused or black-holed target fails when writing; a line longer than 1023 bytes
is read in pieces; an empty line counts as an I/O error.

Connections are cached by ``host:port`` (as typed) with the db last selected
through them, so consecutive MIGRATEs to one target share a socket and SELECT
only when the db changes; a cron hook closes those idle for more than 10 s
(migrateCloseTimedoutSockets), and at most 64 are kept. On an I/O error the
cached socket is closed and, unless it was a timeout or a reply had already been
read, the whole exchange is retried once on a fresh connection.

RESTORE-ASKING is RESTORE (in :mod:`.persistence`) with the ``asking`` flag.
"""

import errno
import random
import select
import socket
import time

from ..core.bootstrap import on_server_init
from ..core.table import command
from ..errors import CommandError, SYNTAX
from ..keyspace.db import NOTIFY_GENERIC
from ..persistence import rdb
from ..protocol.encoder import OK, Status
from ..util import parse_int
from .persistence import restore

command("restore-asking")(restore)

CACHE_ITEMS = 64  # MIGRATE_SOCKET_CACHE_ITEMS
CACHE_TTL = 10  # MIGRATE_SOCKET_CACHE_TTL: seconds idle before the cron closes it
RESOLUTION = 10  # SYNCIO__RESOLUTION: the shortest wait, in ms
CHUNK = 64 * 1024  # the pipeline is written in chunks of this size
LINE_MAX = 1023  # syncReadLine into a 1024-byte buffer
REDACTED = b"(redacted)"
NOKEY = Status("NOKEY")
_SEND_FLAGS = getattr(socket, "MSG_NOSIGNAL", 0)


class _SyncError(Exception):
    """A synchronous read or write failed; ``timeout`` as errno == ETIMEDOUT."""

    def __init__(self, timeout):
        super().__init__()
        self.timeout = timeout


class _CachedSocket:
    __slots__ = ("sock", "last_dbid", "last_use", "buf")

    def __init__(self, sock):
        self.sock = sock
        self.last_dbid = -1
        self.last_use = int(time.time())
        self.buf = bytearray()  # bytes read past the last line (Redis reads byte by byte)


def _now_ms():
    return int(time.monotonic() * 1000)


def _wait(sock, events, ms):
    """aeWait: block until ``sock`` is ready for ``events`` or ``ms`` pass."""
    p = select.poll()
    p.register(sock.fileno(), events)
    try:
        return p.poll(ms)
    except InterruptedError:
        return []


def _atoi(b):
    """C's atoi on the port argument (leading blanks, a sign, digits)."""
    s = b.lstrip(b" \t\n\v\f\r")
    sign = 1
    if s[:1] in (b"+", b"-"):
        sign = -1 if s[:1] == b"-" else 1
        s = s[1:]
    n = 0
    for ch in s:
        if not 48 <= ch <= 57:
            break
        n = n * 10 + ch - 48
    n = max(-(2**63), min(2**63 - 1, sign * n))  # strtol saturates,
    n &= 0xFFFFFFFF  # then the int conversion keeps the low 32 bits
    return n - (1 << 32) if n >= 1 << 31 else n


def _connect(host, port, timeout):
    """connBlockingConnect: a non-blocking connect, then wait ``timeout`` ms for it.

    None only if no socket could even start connecting (an unresolvable host, a
    bad port); a connect still pending or refused is found out by the first write.
    """
    host = host.split(b"\0", 1)[0]
    try:
        infos = socket.getaddrinfo(host, str(_atoi(port)), 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        return None
    for family, socktype, proto, _name, addr in infos:
        try:
            s = socket.socket(family, socktype, proto)
        except OSError:
            continue
        try:
            s.setblocking(False)
            err = s.connect_ex(addr)
        except OSError:
            err = -1
        if err in (0, errno.EINPROGRESS):
            break
        s.close()
    else:
        return None
    _wait(s, select.POLLOUT, timeout)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    return s


def _sync_write(sock, data, timeout):
    """syncWrite: all of ``data`` within ``timeout`` ms, or _SyncError."""
    view = memoryview(data)
    start = _now_ms()
    remaining = timeout
    while True:
        wait = remaining if remaining > RESOLUTION else RESOLUTION
        try:
            n = sock.send(view, _SEND_FLAGS)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            raise _SyncError(False)
        else:
            view = view[n:]
        if not len(view):
            return
        _wait(sock, select.POLLOUT, wait)
        elapsed = _now_ms() - start
        if elapsed >= timeout:
            raise _SyncError(True)
        remaining = timeout - elapsed


def _fill(cs, timeout):
    """syncRead of at least one byte into ``cs.buf`` within ``timeout`` ms."""
    sock = cs.sock
    start = _now_ms()
    remaining = timeout
    while True:
        wait = remaining if remaining > RESOLUTION else RESOLUTION
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            raise _SyncError(False)
        else:
            if not data:
                raise _SyncError(False)  # short read: the peer closed
            cs.buf += data
            return
        _wait(sock, select.POLLIN, wait)
        elapsed = _now_ms() - start
        if elapsed >= timeout:
            raise _SyncError(True)
        remaining = timeout - elapsed


def _read_line(cs, timeout):
    """syncReadLine with a 1024-byte buffer: a line without its CR LF (at most
    1023 bytes; a longer one is returned in pieces). An empty line is an error,
    as MIGRATE treats a read of 0 bytes."""
    buf = cs.buf
    while True:
        i = buf.find(b"\n", 0, LINE_MAX)
        if i >= 0:
            line = bytes(buf[:i])
            del buf[: i + 1]
            if line.endswith(b"\r"):
                line = line[:-1]
            break
        if len(buf) >= LINE_MAX:
            line = bytes(buf[:LINE_MAX])
            del buf[:LINE_MAX]
            break
        _fill(cs, timeout)
    if not line:
        raise _SyncError(False)
    return line


# ------------------------------------------------------------- the cache
def _get_socket(server, name, host, port, timeout):
    """migrateGetSocket: the cached connection to ``name`` or a new one (None if
    it cannot be created)."""
    cache = server.migrate_cached_sockets
    cs = cache.get(name)
    if cs is not None:
        cs.last_use = int(time.time())
        return cs
    if len(cache) >= CACHE_ITEMS:
        victim = random.choice(list(cache))
        _close(cache.pop(victim))
    sock = _connect(host, port, timeout)
    if sock is None:
        return None
    cs = cache[name] = _CachedSocket(sock)
    return cs


def _close(cs):
    try:
        cs.sock.close()
    except OSError:
        pass


def _close_socket(server, name):
    """migrateCloseSocket: forget the cached connection (the next MIGRATE reconnects)."""
    cs = server.migrate_cached_sockets.pop(name, None)
    if cs is not None:
        _close(cs)


class _Cron:
    """migrateCloseTimedoutSockets, once a second from the server cron."""

    def __init__(self, server):
        self.server = server
        self.last = 0.0

    def __call__(self):
        cache = self.server.migrate_cached_sockets
        if not cache:
            return
        t = time.monotonic()
        if t - self.last < 1.0:
            return
        self.last = t
        now = int(time.time())
        for name, cs in list(cache.items()):
            if now - cs.last_use > CACHE_TTL:
                del cache[name]
                _close(cs)


@on_server_init
def _init(server):
    server.migrate_cached_sockets = {}  # b"host:port" -> _CachedSocket
    server.add_cron_hook(_Cron(server))


# ------------------------------------------------------------- MIGRATE
def _bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


@command("migrate")
def migrate(c, argv):
    copy = replace = False
    username = password = None
    first_key, num_keys = 3, 1
    n = len(argv)
    j = 6
    while j < n:
        opt = argv[j].lower()
        more = n - 1 - j
        if opt == b"copy":
            copy = True
        elif opt == b"replace":
            replace = True
        elif opt == b"auth":
            if not more:
                raise CommandError(SYNTAX)
            j += 1
            password = argv[j]
            argv[j] = REDACTED
        elif opt == b"auth2":
            if more < 2:
                raise CommandError(SYNTAX)
            username, password = argv[j + 1], argv[j + 2]
            argv[j + 1] = argv[j + 2] = REDACTED
            j += 2
        elif opt == b"keys":
            if argv[3]:
                raise CommandError(
                    "ERR When using MIGRATE KEYS option, the key argument"
                    " must be set to the empty string"
                )
            first_key = j + 1
            num_keys = n - j - 1
            break
        else:
            raise CommandError(SYNTAX)
        j += 1
    timeout = parse_int(argv[5])
    dbid = parse_int(argv[4])
    if timeout <= 0:
        timeout = 1000

    # The keys that exist (lookupKeyRead); none at all is not an error.
    db = c.db
    keys = []
    values = []
    for key in argv[first_key : first_key + num_keys]:
        v = db.lookup_read(key)
        if v is not None:
            keys.append(key)
            values.append(v)
    if not keys:
        return NOKEY

    server = c.server
    host, port = argv[1], argv[2]
    name = host + b":" + port
    restore_cmd = b"RESTORE-ASKING" if server.config.get("cluster-enabled") == "yes" else b"RESTORE"
    limits = server.snapshot.limits()
    may_retry = True
    while True:  # try_again
        write_error = False
        cs = _get_socket(server, name, host, port, timeout)
        if cs is None:
            raise CommandError("IOERR error or timeout connecting to the client")

        parts = []
        if password is not None:
            if username is not None:
                parts.append(b"*3\r\n$4\r\nAUTH\r\n" + _bulk(username) + _bulk(password))
            else:
                parts.append(b"*2\r\n$4\r\nAUTH\r\n" + _bulk(password))
        do_select = cs.last_dbid != dbid
        if do_select:
            parts.append(b"*2\r\n$6\r\nSELECT\r\n" + _bulk(b"%d" % dbid))
        # The RESTOREs, skipping keys that expired since the lookup.
        now = int(db.time() * 1000)
        kept_keys = []
        kept_values = []
        for key, v in zip(keys, values):
            ttl = 0
            when = db.get_expire(key)
            if when != -1:
                ttl = when - now
                if ttl < 0:
                    continue
                if ttl < 1:
                    ttl = 1
            kept_keys.append(key)
            kept_values.append(v)
            parts.append(b"*5\r\n" if replace else b"*4\r\n")
            parts.append(_bulk(restore_cmd))
            parts.append(_bulk(key))
            parts.append(_bulk(b"%d" % ttl))
            parts.append(_bulk(rdb.dump_payload(v, limits)))
            if replace:
                parts.append(b"$7\r\nREPLACE\r\n")
        keys, values = kept_keys, kept_values
        buf = b"".join(parts)
        del parts

        err = None
        try:
            for pos in range(0, len(buf), CHUNK):
                _sync_write(cs.sock, buf[pos : pos + CHUNK], timeout)
        except _SyncError as e:
            write_error = True
            err = e
        if err is None:
            try:
                auth_reply = _read_line(cs, timeout) if password is not None else b""
                select_reply = _read_line(cs, timeout) if do_select else b""
            except _SyncError as e:
                err = e
        if err is None:
            target_error = None
            socket_error = None
            deleted = []
            j = 0
            for j, key in enumerate(keys):
                try:
                    line = _read_line(cs, timeout)
                except _SyncError as e:
                    socket_error = e
                    break
                if auth_reply[:1] == b"-" or select_reply[:1] == b"-" or line[:1] == b"-":
                    if target_error is None:
                        cs.last_dbid = -1  # the selected db is no longer known
                        if auth_reply[:1] == b"-":
                            line = auth_reply
                        elif select_reply[:1] == b"-":
                            line = select_reply
                        target_error = "ERR Target instance replied with error: " + line[1:].decode(
                            "utf-8", "surrogateescape"
                        )
                elif not copy:
                    db.delete(key)
                    db.notify(NOTIFY_GENERIC, "del", key)
                    server.dirty += 1
                    deleted.append(key)
            else:
                j = len(keys)
            if (
                target_error is None
                and socket_error is not None
                and j == 0
                and may_retry
                and not socket_error.timeout
            ):
                err = socket_error  # nothing was processed: retry on a new connection
            else:
                if socket_error is not None:
                    _close_socket(server, name)
                if deleted:
                    c.propagate = [[b"DEL"] + deleted]  # MIGRATE is replicated as DEL
                if target_error is not None:
                    raise CommandError(target_error)
                if socket_error is None:
                    cs.last_dbid = dbid
                    return OK
                may_retry = False
                err = socket_error
        # socket_err: close the cached socket; retry once unless it timed out.
        _close_socket(server, name)
        if not err.timeout and may_retry:
            may_retry = False
            continue
        raise CommandError(
            "IOERR error or timeout %s to target instance"
            % ("writing" if write_error else "reading")
        )
