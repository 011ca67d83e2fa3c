"""The append-only file, Redis 7.0's multi-part layout (aof.c), byte compatible.

Files live in ``dir``/``appenddirname`` (``appendonlydir``), named after
``appendfilename`` (``appendonly.aof``)::

    appendonly.aof.1.base.rdb     snapshot at the last rewrite (RDB with aof-base=1,
                                  or .base.aof: commands, when aof-use-rdb-preamble no)
    appendonly.aof.1.incr.aof     the writes since, as RESP commands
    appendonly.aof.manifest       "file appendonly.aof.1.base.rdb seq 1 type b\\n"
                                  "file appendonly.aof.1.incr.aof seq 1 type i\\n"

**Feeding.** While the AOF is on, ``server.persistence`` is the :class:`AOF`
and the dispatcher calls :meth:`AOF.feed` with each write's propagated form; a
``SELECT`` is emitted whenever the database changes. The bytes wait in a
buffer that :meth:`AOF.flush` writes (one ``write``) before any reply leaves:
:meth:`AOF.before_reply` is ``server.before_reply_hook`` (set while the AOF is
on), which ``Client.flush`` calls before ``transport.write``. With
``appendfsync always`` the replies of the clients that wrote wait for a group
commit at the next turn of the event loop (one write + one fdatasync for all of
them, like Redis's beforeSleep), so every acknowledged write is on disk;
``everysec`` fsyncs once a second on a background thread (Redis's bio); ``no``
leaves it to the OS.

**Rewrite** (BGREWRITEAOF, automatic growth rule, ``appendonly yes`` at
runtime): a new incr file is opened and recorded in the manifest *before* the
fork, so every write from then on lands there; the child only writes the new
base (``temp-rewriteaof-bg-<pid>.aof`` in ``dir``). When it succeeds the parent
renames it to the next base name, marks the old base and incr files as
history, persists the manifest atomically (temp file, fsync, rename) and
deletes the history files. Nothing written during the rewrite can be lost,
and a crash at any point leaves a consistent manifest.

**Loading** reads the manifest, then the base (RDB or commands; an old
single-file ``appendonly.aof`` in ``dir`` is migrated into the directory like
Redis does) and the incr files, replaying commands through the dispatcher with
a fake client. A truncated last command (power loss) is cut off when
``aof-load-truncated yes``; any other damage stops startup with Redis's message.
"""

import errno
import os
import queue
import signal
import threading
import time

from ..core.bootstrap import on_server_init
from ..util import atoll, repr_bytes
from . import rdb as rdbmod
from .snapshot import (
    CHILD_AOF,
    LoadFailed,
    LoadProgress,
    atomic_write,
    fsync_dir,
    server_dir,
    start_loading,
    stop_loading,
    update_disk_error,
)
from ..types.list import RList
from ..types.hash import RHash, PackedHash
from ..types.set import RSet, PackedSet
from ..types.zset import ZSet, PackedZSet
from .rdb_stream import rewrite_commands as stream_commands
from ..core.client import Client
from ..core import table
from ..core.dispatch import execute_one
from ..protocol.reader import split_args
from ..core.config import ConfigError

AOF_OFF = 0
AOF_ON = 1
AOF_WAIT_REWRITE = 2

REWRITE_ITEMS_PER_CMD = 64
_TEMP_PREFIX = "temp-"


class AofError(Exception):
    pass


# ===================================================================== manifest
class Manifest:
    """The list of AOF files (aofManifest)."""

    def __init__(self):
        self.base = None  # (name, seq)
        self.incrs = []  # [(name, seq)]
        self.history = []  # [(name, seq)]
        self.curr_base_seq = 0
        self.curr_incr_seq = 0

    def copy(self):
        m = Manifest()
        m.base = self.base
        m.incrs = list(self.incrs)
        m.history = list(self.history)
        m.curr_base_seq = self.curr_base_seq
        m.curr_incr_seq = self.curr_incr_seq
        return m

    def dumps(self):
        lines = []
        if self.base:
            lines.append(_line(self.base, "b"))
        lines += [_line(h, "h") for h in self.history]
        lines += [_line(i, "i") for i in self.incrs]
        return "".join(lines)

    @classmethod
    def parse(cls, text):
        """aofLoadManifestFromFile; raises AofError(message, line)."""
        m = cls()
        maxseq = 0
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        if not lines or text == "":
            raise AofError("Found an empty AOF manifest", None)
        for raw in lines:
            if raw.startswith("#"):
                continue
            if len(raw) > 1024:
                raise AofError("The AOF manifest file contains too long line", raw)
            line = raw.strip(" \t\r\n")
            if not line:
                raise AofError("Invalid AOF manifest file format", line)
            argv = split_args(line.encode("utf-8", "surrogateescape"))
            if argv is None or len(argv) < 6 or len(argv) % 2:
                raise AofError("Invalid AOF manifest file format", line)
            name = None
            seq = 0
            ftype = None
            for i in range(0, len(argv), 2):
                k = argv[i].lower()
                v = argv[i + 1]
                if k == b"file":
                    name = v.decode("utf-8", "surrogateescape")
                    if "/" in name:
                        raise AofError("File can't be a path, just a filename", line)
                elif k == b"seq":
                    seq = atoll(v)
                elif k == b"type":
                    ftype = v[:1].decode("latin-1")
            if not name or not seq or not ftype:
                raise AofError("Invalid AOF manifest file format", line)
            if ftype == "b":
                if m.base is not None:
                    raise AofError("Found duplicate base file information", line)
                m.base = (name, seq)
                m.curr_base_seq = seq
            elif ftype == "h":
                m.history.append((name, seq))
            elif ftype == "i":
                if seq <= maxseq:
                    raise AofError("Found a non-monotonic sequence number", line)
                m.incrs.append((name, seq))
                m.curr_incr_seq = seq
                maxseq = seq
            else:
                raise AofError("Unknown AOF file type", line)
        return m

    def new_base(self, filename, preamble):
        """Next base name; the current base becomes history."""
        if self.base is not None:
            self.history.insert(0, self.base)
        self.curr_base_seq += 1
        name = "%s.%d.base.%s" % (filename, self.curr_base_seq, "rdb" if preamble else "aof")
        self.base = (name, self.curr_base_seq)
        return name

    def new_incr(self, filename):
        self.curr_incr_seq += 1
        name = "%s.%d.incr.aof" % (filename, self.curr_incr_seq)
        self.incrs.append((name, self.curr_incr_seq))
        return name

    def last_incr(self, filename):
        if not self.incrs:
            return self.new_incr(filename)
        return self.incrs[-1][0]

    def mark_rewritten_incrs_as_history(self, keep_last):
        """After a rewrite: every incr file but the one being written becomes history."""
        if not self.incrs:
            return
        keep = self.incrs[-1:] if keep_last else []
        moved = self.incrs[:-1] if keep_last else self.incrs
        for item in reversed(moved):
            self.history.insert(0, item)
        self.incrs = keep


def _line(item, t):
    name, seq = item
    if _needs_repr(name):
        name = _repr(name)
    return "file %s seq %d type %s\n" % (name, seq, t)


def _needs_repr(s):
    return any(c in s for c in " \"'\\\r\n\t\a\b") or any(ord(c) < 32 or ord(c) > 126 for c in s)


def _repr(s):
    return repr_bytes(s.encode("utf-8", "surrogateescape")).decode("latin-1")


# =================================================================== encoding
def _arg(a):
    t = a.__class__
    if t is bytes:
        return a
    if t is int:
        return b"%d" % a
    if t is str:
        return a.encode()
    if t is float:
        return b"%.17g" % a
    return bytes(a)


def encode_command(argv):
    """RESP multibulk, as catAppendOnlyGenericCommand writes it."""
    parts = [b"*%d\r\n" % len(argv)]
    for a in argv:
        if a.__class__ is not bytes:
            a = _arg(a)
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def _select(dbid):
    s = b"%d" % dbid
    return b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(s), s)


# Keys per chunk the rewrite yields: plain strings (most keys) are formatted into
# a list with one %-operation each and the list joined once per chunk.
_REWRITE_CHUNK = 1024
_SET_CMD = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
_PEXPIREAT_CMD = b"*3\r\n$9\r\nPEXPIREAT\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"


def rewrite_commands(dbs, functions=(), timestamp=None, key_callback=None, progress=None):
    """The commands rebuilding ``dbs`` (rewriteAppendOnlyFileRio), as a chunk iterator.

    ``key_callback()`` runs after each key (rdb-key-save-delay), ``progress(keys)``
    every 1024 keys (the child's report to the parent, as sendChildInfo)."""
    nkeys = 0
    if timestamp is not None:
        yield b"#TS:%d\r\n" % timestamp
    for code in functions:
        yield encode_command([b"FUNCTION", b"LOAD", code])
    set_cmd = _SET_CMD
    for dbid, db in enumerate(dbs):
        data = db.data
        if not data:
            continue
        expires = db.expires
        yield _select(dbid)
        out = []
        app = out.append
        ext = out.extend
        for key, v in data.items():
            t = v.__class__
            if t is bytes:
                app(set_cmd % (len(key), key, len(v), v))
            elif t is bytearray:
                app(set_cmd % (len(key), key, len(v), bytes(v)))
            elif t is RList:
                ext(_rpush_batched(key, v))
            elif t is RSet or t is PackedSet:
                members = v.ordered() if hasattr(v, "ordered") else list(v)
                ext(_batched(b"SADD", key, members, 1))
            elif t is ZSet or t is PackedZSet:
                flat = []
                for m, s in v.items():
                    flat.append(
                        b"%.17g" % s
                        if s == s and abs(s) != float("inf")
                        else (b"inf" if s > 0 else b"-inf")
                    )
                    flat.append(m)
                ext(_batched(b"ZADD", key, flat, 2))
            elif t is RHash or t is PackedHash:
                flat = [x for kv in v.items() for x in kv]
                ext(_batched(b"HMSET", key, flat, 2))
            elif getattr(t, "type_name", None) == "stream":
                ext(_rewrite_stream(key, v))
            else:
                raise AofError("Can't rewrite a value of type %s" % t.__name__)
            if expires:
                when = expires.get(key)
                if when is not None:
                    w = b"%d" % when
                    app(_PEXPIREAT_CMD % (len(key), key, len(w), w))
            if key_callback is not None:
                key_callback()
            nkeys += 1
            if not nkeys & (_REWRITE_CHUNK - 1):
                yield b"".join(out)
                out.clear()
                if progress is not None:
                    progress(nkeys)
        if out:
            yield b"".join(out)


def _rewrite_stream(key, st):
    """rewriteStreamObject (XADD..., XSETID, XGROUP CREATE, XCLAIM / CREATECONSUMER)."""
    for argv in stream_commands(key, st):
        yield encode_command(argv)


def _batched(cmd, key, flat, width):
    per = REWRITE_ITEMS_PER_CMD * width
    for i in range(0, len(flat), per):
        yield encode_command([cmd, key] + flat[i : i + per])


def _rpush_batched(key, lst):
    """A list's RPUSH commands: the list keeps its elements as RESP bulks, which
    are these commands' arguments byte for byte (encode_command's spelling)."""
    bulks = list(lst.bulks())
    head = b"$5\r\nRPUSH\r\n$%d\r\n%s\r\n" % (len(key), key)
    per = REWRITE_ITEMS_PER_CMD
    for i in range(0, len(bulks), per):
        part = bulks[i : i + per]
        yield b"*%d\r\n%s%s" % (len(part) + 2, head, b"".join(part))


# ===================================================================== bio
class Bio:
    """A background thread for fsync/close jobs (Redis's bio.c), started lazily."""

    def __init__(self):
        self.q = None
        self.pending = 0
        self.lock = threading.Lock()
        self.fsync_error = None

    def _run(self):
        while True:
            job, fd = self.q.get()
            try:
                if job in ("fsync", "fsync_close"):
                    try:
                        os.fsync(fd)
                        self.fsync_error = None
                    except OSError as e:
                        self.fsync_error = e
                if job in ("close", "fsync_close"):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            finally:
                with self.lock:
                    self.pending -= 1

    def submit(self, job, fd):
        if self.q is None:
            self.q = queue.SimpleQueue()
            threading.Thread(target=self._run, name="vermilion-bio-aof", daemon=True).start()
        with self.lock:
            self.pending += 1
        self.q.put((job, fd))

    def drain(self, timeout=5.0):
        deadline = time.time() + timeout
        while self.pending and time.time() < deadline:
            time.sleep(0.001)


# ===================================================================== the AOF
class AOF:
    def __init__(self, server):
        self.server = server
        cfg = server.config
        self.state = AOF_ON if cfg.get("appendonly") == "yes" else AOF_OFF
        self.fd = -1
        self.buf = []
        self.selected_db = -1
        self.manifest = Manifest()
        self.fsync_policy = cfg.get("appendfsync") or "everysec"
        self.last_fsync = 0
        self.current_size = 0
        self.base_size = 0
        self.last_incr_size = 0
        self.last_incr_fsync_offset = 0
        self.rewrite_scheduled = False
        self.rewrite_time_start = -1
        self.rewrite_time_last = -1
        self.lastbgrewrite_status = "ok"
        self.last_write_status = "ok"
        self.last_write_error = None
        self.rewrites = 0
        self.consecutive_failures = 0
        self.delayed_fsync = 0
        self.loading = False
        self.load_offset = 0  # bytes of the AOF files loaded before the current one
        self._deferred = []  # clients waiting for the group commit
        self._commit_scheduled = False
        self._committing = False
        self.timestamps = cfg.get("aof-timestamp-enabled") == "yes"
        self.cur_timestamp = 0
        self.bio = Bio()
        self._next_rewrite_delay = 0
        self._next_rewrite_time = 0
        self._sync_attrs()

    # ------------------------------------------------------------ config
    @property
    def filename(self):
        return self.server.config.get("appendfilename") or "appendonly.aof"

    @property
    def dirname(self):
        return os.path.join(server_dir(self.server), self.dir_name())

    def dir_name(self):
        """appenddirname as configured (Redis's messages name it relative to ``dir``)."""
        return self.server.config.get("appenddirname") or "appendonlydir"

    def _create_dir(self):
        """dirCreateIfMissing: mkdir, and an existing non-directory is ENOTDIR."""
        try:
            os.mkdir(self.dirname, 0o755)
        except FileExistsError:
            if not os.path.isdir(self.dirname):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))

    def path(self, name):
        return os.path.join(self.dirname, name)

    def _sync_attrs(self):
        s = self.server
        s.aof_enabled = 1 if self.state != AOF_OFF else 0
        s.aof_rewrite_in_progress = 1 if s_child(s) == CHILD_AOF else 0
        s.aof_rewrite_scheduled = 1 if self.rewrite_scheduled else 0
        s.aof_last_rewrite_time_sec = self.rewrite_time_last
        s.aof_last_bgrewrite_status = self.lastbgrewrite_status
        s.aof_rewrites = self.rewrites
        s.aof_last_write_status = self.last_write_status
        s.aof_current_size = self.current_size
        s.aof_base_size = self.base_size

    def set_appendonly(self, value):
        """CONFIG SET appendonly yes|no."""
        if value == "yes" and self.state == AOF_OFF:
            if not self.start():
                # updateAppendonly's error, and config.c's line for a failed apply
                self.server.log_warning(
                    "Failed applying new configuration. Possibly related to new "
                    "appendonly setting. Restoring previous settings."
                )
                raise ConfigError("Unable to turn on AOF. Check server logs.")
        elif value == "no" and self.state != AOF_OFF:
            self.stop()
        update_disk_error(self.server)

    def write_error(self):
        """The strerror of a failing AOF write or background fsync, or None."""
        if self.last_write_status == "err":
            return self.last_write_error or "Unknown error"
        e = self.bio.fsync_error
        if e is not None:
            return e.strerror
        return None

    def set_fsync(self, value):
        self.fsync_policy = value

    # ------------------------------------------------------------ feeding
    def feed(self, dbid, cmds):
        if self.loading:
            return
        state = self.state
        if state != AOF_ON and not (
            state == AOF_WAIT_REWRITE and s_child(self.server) == CHILD_AOF
        ):
            return
        buf = self.buf
        if self.timestamps:
            now = int(time.time())
            if now > self.cur_timestamp:
                self.cur_timestamp = now
                buf.append(b"#TS:%d\r\n" % now)
        if dbid != self.selected_db:
            buf.append(_select(dbid))
            self.selected_db = dbid
        for argv in cmds:
            buf.append(encode_command(argv))

    def before_reply(self, c=None):
        """server.before_reply_hook: the AOF is written before any reply goes out.

        ``everysec``/``no``: write the buffer now (one ``write``), answer False.
        ``always``: the writes must also be fsynced first. Rather than one fsync per
        client, the client's reply is deferred (answer True) and a group commit runs
        at the next turn of the event loop: one write + one fdatasync for every
        client that wrote meanwhile, then their replies go out (Redis does the same
        in beforeSleep).
        """
        if not self.buf and (
            self.fsync_policy != "always" or self.last_incr_fsync_offset == self.last_incr_size
        ):
            return False
        if self.fsync_policy != "always" or self._committing or c is None:
            self.flush()
            return False
        self._deferred.append(c)
        if not self._commit_scheduled:
            loop = self.server.loop
            if loop is None:
                self._deferred.pop()
                self.flush()
                return False
            self._commit_scheduled = True
            loop.call_soon(self._group_commit)
        return True

    def _group_commit(self):
        self._commit_scheduled = False
        self._committing = True
        try:
            self.flush()
            deferred = self._deferred
            self._deferred = []
            for c in deferred:
                c.flush()
        finally:
            self._committing = False

    def flush(self, force=False):
        """flushAppendOnlyFile: write the buffer; fsync per appendfsync."""
        if self.fd < 0:
            return
        if self.buf:
            data = b"".join(self.buf)
            self.buf = []
            try:
                _write_all(self.fd, data)
            except OSError as e:
                self.server.log_warning("Error writing to the AOF file: %s" % e.strerror)
                self.last_write_status = "err"
                self.last_write_error = e.strerror
                if self.fsync_policy == "always":
                    self.server.log_warning(
                        "Can't recover from AOF write error when the AOF fsync policy is "
                        "'always'. Exiting..."
                    )
                    raise SystemExit(1)
                self.buf = [data]
                return
            if self.last_write_status == "err":
                self.server.log_warning("AOF write error looks solved, Redis can write again.")
                self.last_write_status = "ok"
            self.current_size += len(data)
            self.last_incr_size += len(data)
        policy = self.fsync_policy
        if (
            self.server.config.get("no-appendfsync-on-rewrite") == "yes"
            and s_child(self.server) is not None
        ):
            return
        if policy == "always":
            if self.last_incr_fsync_offset != self.last_incr_size:
                try:
                    _fdatasync(self.fd)
                except OSError as e:
                    self.server.log_warning(
                        "Can't persist AOF for fsync error when the AOF "
                        "fsync policy is 'always': %s. Exiting..." % e.strerror
                    )
                    raise SystemExit(1)
                self.last_incr_fsync_offset = self.last_incr_size
                self.last_fsync = int(time.time())
        elif policy == "everysec":
            now = int(time.time())
            if now > self.last_fsync and self.last_incr_fsync_offset != self.last_incr_size:
                if not self.bio.pending:
                    self.bio.submit("fsync", self.fd)
                    self.last_incr_fsync_offset = self.last_incr_size
                self.last_fsync = now

    # ------------------------------------------------------------ cron
    def cron(self):
        if self.state != AOF_OFF and self.fd >= 0:
            self.flush()
        self._sync_attrs()

    def cron_maybe_rewrite(self):
        """Scheduled and automatic rewrites (called by the snapshot cron, no child running)."""
        server = self.server
        if self.rewrite_scheduled and not self._limited():
            self.rewrite_background()
            return
        if self.state != AOF_ON:
            return
        cfg = server.config
        perc = cfg.get_int("auto-aof-rewrite-percentage")
        min_size = cfg.get_int("auto-aof-rewrite-min-size")
        if perc and self.current_size > min_size:
            base = self.base_size or 1
            growth = (self.current_size * 100 // base) - 100
            if growth >= perc and not self._limited():
                server.log_notice("Starting automatic rewriting of AOF on %d%% growth" % growth)
                self.rewrite_background()

    def _limited(self):
        """aofRewriteLimited: back off after 3 consecutive failures (1, 2, 4 ... 60 min)."""
        if self.consecutive_failures < 3:
            self._next_rewrite_delay = 0
            self._next_rewrite_time = 0
            return False
        now = time.time()
        if self._next_rewrite_time:
            if now < self._next_rewrite_time:
                return True
            self._next_rewrite_time = 0
            return False
        self._next_rewrite_delay = min(60, self._next_rewrite_delay * 2 or 1)
        self._next_rewrite_time = now + self._next_rewrite_delay * 60
        self.server.log_warning(
            "Background AOF rewrite has repeatedly failed and triggered "
            "the limit, will retry in %d minutes" % self._next_rewrite_delay
        )
        return True

    # ------------------------------------------------------------ manifest I/O
    def persist_manifest(self, m):
        d = self.dirname
        name = self.filename + ".manifest"
        tmp = os.path.join(d, _TEMP_PREFIX + name)
        data = m.dumps().encode("utf-8", "surrogateescape")
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(d, name))
        fsync_dir(os.path.join(d, name))

    def load_manifest(self):
        """aofLoadManifestFromDisk: an empty manifest if the directory or file is missing."""
        path = os.path.join(self.dirname, self.filename + ".manifest")
        if not os.path.isdir(self.dirname) or not os.path.exists(path):
            return Manifest()
        try:
            with open(path, "rb") as fh:
                text = fh.read().decode("utf-8", "surrogateescape")
        except OSError as e:
            raise self._fatal(
                "Fatal error: can't open the AOF manifest file %s for reading: %s"
                % (path, e.strerror)
            )
        try:
            return Manifest.parse(text)
        except AofError as e:
            msg, line = e.args
            log = self.server.log_warning
            log("\n*** FATAL AOF MANIFEST FILE ERROR ***\n")
            if line is not None:
                log(">>> '%s'\n" % line)
            log("%s\n" % msg)
            raise LoadFailed("FATAL AOF MANIFEST FILE ERROR: %s" % msg)

    def _make_dir_or_die(self):
        try:
            self._create_dir()
        except OSError as e:
            raise self._fatal(
                "Can't open or create append-only dir %s: %s" % (self.dir_name(), e.strerror)
            )

    def _fatal(self, msg):
        self.server.log_warning(msg)
        return LoadFailed(msg)

    # ------------------------------------------------------------ start/stop
    def open_on_start(self):
        """aofOpenIfNeededOnServerStart: base file if the dataset has none, open the incr."""
        if self.state != AOF_ON:
            return
        server = self.server
        self._make_dir_or_die()
        m = self.manifest
        if m.base is None and not m.incrs:
            preamble = server.config.get("aof-use-rdb-preamble") == "yes"
            name = m.new_base(self.filename, preamble)
            try:
                self.write_base(self.path(name), preamble)
            except OSError as e:
                raise self._fatal("Write error writing append only file on disk: %s" % e.strerror)
            server.log_notice("Creating AOF base file %s on server start" % name)
        had_incr = bool(m.incrs)
        name = m.last_incr(self.filename)
        try:
            self.fd = os.open(self.path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self.persist_manifest(m)
        except OSError as e:
            raise self._fatal("Can't open the append-only file %s: %s" % (name, e.strerror))
        self.last_incr_size = os.fstat(self.fd).st_size
        self.last_incr_fsync_offset = self.last_incr_size
        if not self.current_size:
            self.current_size = self._files_size()
            self.base_size = self._size(m.base[0]) if m.base else 0
        server.log_notice(
            "%s AOF incr file %s on server start" % ("Opening" if had_incr else "Creating", name)
        )
        server.persistence = self
        server.before_reply_hook = self.before_reply
        self._sync_attrs()

    def start(self):
        """startAppendOnly (CONFIG SET appendonly yes): rewrite first, then ON."""
        server = self.server
        self.state = AOF_WAIT_REWRITE
        snap = server.snapshot
        if snap.has_child() and snap.child_type != CHILD_AOF:
            self.rewrite_scheduled = True
            server.log_warning(
                "AOF was enabled but there is already another background "
                "operation. An AOF background was scheduled to start when "
                "possible."
            )
        elif server.current_client is not None and server.current_client.in_exec:
            self.rewrite_scheduled = True
            server.log_warning(
                "AOF was enabled during a transaction. An AOF background was "
                "scheduled to start when possible."
            )
        else:
            if snap.child_type == CHILD_AOF:
                snap.kill_child()
            if not self.rewrite_background():
                self.state = AOF_OFF
                server.log_warning(
                    "Redis needs to enable the AOF but can't trigger a "
                    "background AOF rewrite operation. Check the above logs "
                    "for more info about the error."
                )
                self._sync_attrs()
                return False
        server.persistence = self
        server.before_reply_hook = self.before_reply
        self.last_fsync = int(time.time())
        self.last_write_status = "ok"
        self._sync_attrs()
        return True

    def stop(self):
        """stopAppendOnly (CONFIG SET appendonly no)."""
        server = self.server
        self.flush(force=True)
        self.bio.drain()  # no background fsync may touch the fd once closed
        if self.fd >= 0:
            try:
                os.fsync(self.fd)
            except OSError as e:
                server.log_warning("Fail to fsync the AOF file: %s" % e.strerror)
            os.close(self.fd)
        self.fd = -1
        self.selected_db = -1
        self.state = AOF_OFF
        self.rewrite_scheduled = False
        self.last_incr_size = 0
        self.last_incr_fsync_offset = 0
        if server.snapshot.child_type == CHILD_AOF:
            server.log_notice("Killing running AOF rewrite child: %d" % server.snapshot.child_pid)
            server.snapshot.kill_child()
        self.buf = []
        server.persistence = None
        server.before_reply_hook = None
        deferred, self._deferred = self._deferred, []
        for c in deferred:  # everything is on disk now: release their replies
            c.flush()
        self._sync_attrs()

    def on_shutdown(self):
        if self.state != AOF_OFF and self.fd >= 0:
            self.flush(force=True)
            try:
                os.fsync(self.fd)
            except OSError:
                pass
            self.bio.drain()

    # ------------------------------------------------------------ rewrite
    def write_base(self, path, preamble, progress=None):
        """rewriteAppendOnlyFile: the dataset as an RDB (aof-base) or as commands.
        ``progress(keys_written)`` is called every few thousand keys."""
        server = self.server
        fl = server.function_codes
        functions = fl() if fl is not None else ()
        tmp = os.path.join(os.path.dirname(path), "temp-rewriteaof-%d.aof" % os.getpid())

        delay = server.config.get_int("rdb-key-save-delay")
        key_callback = (lambda: LoadProgress._key_load_delay(delay)) if delay else None

        def write(fh):
            if preamble:
                rdbmod.write_rdb(
                    fh,
                    server.dbs,
                    server.snapshot.limits(),
                    aof_base=True,
                    used_mem=rdbmod.used_memory_estimate(),
                    functions=functions,
                    # rdb-key-save-delay (tests): a slow rewrite, as rdbSaveKeyValuePair
                    key_callback=key_callback,
                    progress=progress,
                )
                return
            ts = int(time.time()) if server.config.get("aof-timestamp-enabled") == "yes" else None
            pending = []
            size = 0
            for chunk in rewrite_commands(server.dbs, functions, ts, key_callback, progress):
                pending.append(chunk)
                size += len(chunk)
                if size >= 1 << 20:
                    fh.write(b"".join(pending))
                    pending = []
                    size = 0
            fh.write(b"".join(pending))

        atomic_write(path, tmp, write)

    def open_new_incr(self):
        """openNewIncrAofForAppend: the file that receives writes during the rewrite."""
        if self.state == AOF_OFF:
            return True
        temp_m = None
        if self.state == AOF_WAIT_REWRITE:
            name = _TEMP_PREFIX + self.filename + ".incr"
        else:
            temp_m = self.manifest.copy()
            name = temp_m.new_incr(self.filename)
        try:
            fd = os.open(
                self.path(name), os.O_WRONLY | os.O_TRUNC | os.O_CREAT | os.O_APPEND, 0o644
            )
        except OSError as e:
            self.server.log_warning("Can't open the append-only file %s: %s" % (name, e.strerror))
            return False
        if temp_m is not None:
            try:
                self.persist_manifest(temp_m)
            except OSError as e:
                self.server.log_warning("Can't persist the AOF manifest: %s" % e.strerror)
                os.close(fd)
                return False
        self.server.log_notice("Creating AOF incr file %s on background rewrite" % name)
        if self.fd >= 0:
            self.bio.submit("fsync_close", self.fd)
            self.last_fsync = int(time.time())
        self.fd = fd
        self.last_incr_size = 0
        self.last_incr_fsync_offset = 0
        if temp_m is not None:
            self.manifest = temp_m
        return True

    def rewrite_background(self):
        """rewriteAppendOnlyFileBackground. True if the child started."""
        server = self.server
        snap = server.snapshot
        if snap.has_child():
            return False
        try:
            self._create_dir()
        except OSError as e:
            server.log_warning(
                "Can't open or create append-only dir %s: %s" % (self.dir_name(), e.strerror)
            )
            self.lastbgrewrite_status = "err"
            return False
        self.selected_db = -1
        self.flush(force=True)
        if not self.open_new_incr():
            self.lastbgrewrite_status = "err"
            return False
        self.rewrites += 1
        preamble = server.config.get("aof-use-rdb-preamble") == "yes"
        sdir = server_dir(server)

        def work():
            self.write_base(
                os.path.join(sdir, "temp-rewriteaof-bg-%d.aof" % os.getpid()),
                preamble,
                snap.child_progress(),
            )

        if not snap.fork_child(CHILD_AOF, work, None):
            self.lastbgrewrite_status = "err"
            return False
        pid = snap.child_pid
        snap.child_done = lambda ok, bysignal: self.rewrite_done(ok, bysignal, pid, sdir, preamble)
        server.log_notice("Background append only file rewriting started by pid %d" % pid)
        self.rewrite_scheduled = False
        self.rewrite_time_start = time.time()
        self._sync_attrs()
        return True

    def rewrite_done(self, ok, bysignal, pid, sdir, preamble):
        """backgroundRewriteDoneHandler."""
        server = self.server
        tmpfile = os.path.join(sdir, "temp-rewriteaof-bg-%d.aof" % pid)
        if ok:
            server.log_notice("Background AOF rewrite terminated with success")
            temp_m = self.manifest.copy()
            new_base = temp_m.new_base(self.filename, preamble)
            new_base_path = self.path(new_base)
            new_incr_path = None
            try:
                os.replace(tmpfile, new_base_path)
            except OSError as e:
                server.log_warning(
                    "Error trying to rename the temporary AOF base file %s "
                    "into %s: %s" % (tmpfile, new_base_path, e.strerror)
                )
                self._rewrite_failed()
                return self._rewrite_cleanup(tmpfile)
            server.log_notice(
                "Successfully renamed the temporary AOF base file %s into %s"
                % (os.path.basename(tmpfile), new_base)
            )
            if self.state == AOF_WAIT_REWRITE:
                temp_incr = self.path(_TEMP_PREFIX + self.filename + ".incr")
                new_incr = temp_m.new_incr(self.filename)
                new_incr_path = self.path(new_incr)
                try:
                    os.replace(temp_incr, new_incr_path)
                except OSError as e:
                    server.log_warning(
                        "Error trying to rename the temporary AOF incr file %s "
                        "into %s: %s" % (temp_incr, new_incr_path, e.strerror)
                    )
                    _unlink(new_base_path)
                    self._rewrite_failed()
                    return self._rewrite_cleanup(tmpfile)
                server.log_notice(
                    "Successfully renamed the temporary AOF incr file %s into %s"
                    % (_TEMP_PREFIX + self.filename + ".incr", new_incr)
                )
            temp_m.mark_rewritten_incrs_as_history(keep_last=self.fd >= 0)
            try:
                self.persist_manifest(temp_m)
            except OSError as e:
                server.log_warning("Can't persist the AOF manifest: %s" % e.strerror)
                _unlink(new_base_path)
                if new_incr_path:
                    _unlink(new_incr_path)
                self._rewrite_failed()
                return self._rewrite_cleanup(tmpfile)
            self.manifest = temp_m
            if self.state != AOF_OFF:
                self.current_size = self._size(new_base) + self.last_incr_size
                self.base_size = self.current_size
            self.delete_history()
            self.lastbgrewrite_status = "ok"
            self.consecutive_failures = 0
            server.log_notice("Background AOF rewrite finished successfully")
            if self.state == AOF_WAIT_REWRITE:
                self.state = AOF_ON
        elif not bysignal:
            self._rewrite_failed()
            server.log_warning("Background AOF rewrite terminated with error")
        else:
            if bysignal != signal.SIGUSR1:  # killed on purpose: not an error
                self._rewrite_failed()
            server.log_warning("Background AOF rewrite terminated by signal %d" % bysignal)
        self._rewrite_cleanup(tmpfile)

    def _rewrite_failed(self):
        self.lastbgrewrite_status = "err"
        self.consecutive_failures += 1

    def _rewrite_cleanup(self, tmpfile):
        _unlink(tmpfile)
        # aofRemoveTempFile: the child's own temp file, if it died while writing
        _unlink(tmpfile.replace("temp-rewriteaof-bg-", "temp-rewriteaof-"))
        if self.state == AOF_WAIT_REWRITE:
            # aofDelTempIncrAofFile: the writes it holds are dropped with the buffer;
            # the rewrite that is scheduled next starts a fresh one
            self.buf = []
            name = _TEMP_PREFIX + self.filename + ".incr"
            self.server.log_notice("Removing the temp incr aof file %s in the background" % name)
            _unlink(self.path(name))
        if self.rewrite_time_start != -1:
            self.rewrite_time_last = int(time.time() - self.rewrite_time_start)
        self.rewrite_time_start = -1
        if self.state == AOF_WAIT_REWRITE:
            self.rewrite_scheduled = True
        self._sync_attrs()

    def delete_history(self):
        """aofDelHistoryFiles (unless aof-disable-auto-gc)."""
        m = self.manifest
        if not m.history or self.server.config.get("aof-disable-auto-gc") == "yes":
            return
        for name, _ in m.history:
            self.server.log_notice("Removing the history file %s in the background" % name)
            _unlink(self.path(name))
        m.history = []
        try:
            self.persist_manifest(m)
        except OSError:
            pass

    def _size(self, name):
        try:
            return os.path.getsize(self.path(name))
        except OSError:
            return 0

    def _files_size(self):
        m = self.manifest
        total = self._size(m.base[0]) if m.base else 0
        return total + sum(self._size(n) for n, _ in m.incrs)

    # ------------------------------------------------------------ loading
    def load_at_startup(self):
        """loadAppendOnlyFiles for startup (or DEBUG LOADAOF): fatal errors -> LoadFailed."""
        server = self.server
        t0 = time.time()
        m = self.load_manifest()
        old_style = os.path.join(server_dir(server), self.filename)
        if os.path.exists(old_style):
            if (
                not os.path.isdir(self.dirname)
                or (m.base is None and not m.incrs)
                or (
                    m.base is not None
                    and not m.incrs
                    and m.base[0] == self.filename
                    and not os.path.exists(self.path(self.filename))
                )
            ):
                m = self._upgrade(m, old_style)
        self.manifest = m
        self.delete_history()
        if m.base is None and not m.incrs:
            return False
        files = ([m.base[0]] if m.base else []) + [n for n, _ in m.incrs]
        total = 0
        for name in files:
            try:
                total += os.path.getsize(self.path(name))
            except OSError as e:
                raise self._fatal("The append log file %s doesn't exist: %s" % (name, e.strerror))
        if total == 0:
            return False
        saved = _save_stats(server)
        prev_persistence = server.persistence
        server.persistence = None
        self.loading = True
        start_loading(server, total)
        paused = server.expiry_paused
        server.expiry_paused = True
        self.load_offset = 0
        try:
            for i, name in enumerate(files):
                last = i == len(files) - 1
                t1 = time.time()
                status = self.load_file(name, is_base=(m.base is not None and i == 0), last=last)
                if status in ("ok", "truncated"):
                    server.log_notice(
                        "DB loaded from %s file %s: %.3f seconds"
                        % (
                            "base" if m.base is not None and i == 0 else "incr",
                            name,
                            time.time() - t1,
                        )
                    )
                self.load_offset += self._size(name)
        finally:
            server.expiry_paused = paused
            self.loading = False
            stop_loading(server)
            server.persistence = prev_persistence
            _restore_stats(server, saved)
        self.current_size = total
        self.base_size = self._size(m.base[0]) if m.base else 0
        server.dirty_at_last_save = server.dirty
        server.log_notice("DB loaded from append only file: %.3f seconds" % (time.time() - t0))
        self._sync_attrs()
        return True

    def _upgrade(self, m, old_style):
        """aofUpgradePrepare: move an old single-file AOF into the AOF directory."""
        server = self.server
        self._make_dir_or_die()
        m = Manifest() if m is None else m
        m.base = (self.filename, 1)
        m.curr_base_seq = 1
        try:
            self.persist_manifest(m)
            os.replace(old_style, self.path(self.filename))
        except OSError as e:
            raise self._fatal(
                "Error trying to move the old AOF file %s into dir %s: %s"
                % (self.filename, self.dirname, e.strerror)
            )
        server.log_notice(
            "Successfully migrated an old-style AOF file (%s) into the AOF "
            "directory (%s)." % (self.filename, self.dirname)
        )
        return m

    def load_file(self, name, is_base, last):
        """loadSingleAppendOnlyFile: 'ok', 'empty' or 'truncated'; fatal -> LoadFailed."""
        server = self.server
        path = self.path(name)
        try:
            with open(path, "rb") as fh:
                buf = fh.read()
        except OSError as e:
            raise self._fatal(
                "Fatal error: can't open the append log file %s for reading: %s"
                % (name, e.strerror)
            )
        if not buf:
            return "empty"
        pos = 0
        if buf[:5] == b"REDIS":
            server.log_notice(
                "Reading RDB base file on AOF loading..."
                if is_base
                else "Reading RDB preamble from AOF file..."
            )
            try:
                res = server.snapshot.load_bytes(
                    buf, flush=False, expire_keys=False, base=self.load_offset
                )
            except rdbmod.RdbError as e:
                raise self._fatal(
                    "Error reading the RDB base file %s, AOF loading aborted: %s" % (name, e)
                )
            pos = res.end
            if pos < len(buf):
                server.log_notice("Reading the remaining AOF tail...")
        status, valid_up_to = replay(server, buf, pos, name, LoadProgress(server, self.load_offset))
        if status == "ok":
            return "ok"
        if status == "format":
            raise self._fatal(
                "Bad file format reading the append only file %s: make a backup "
                "of your AOF file, then use ./redis-check-aof --fix "
                "<filename.manifest>" % name
            )
        if status.startswith("unknown:"):
            raise self._fatal(
                "Unknown command '%s' reading the append only file %s" % (status[8:], name)
            )
        # truncated
        if server.config.get("aof-load-truncated") == "yes":
            log = server.log_warning
            log("!!! Warning: short read while loading the AOF file %s!!!" % name)
            log("!!! Truncating the AOF %s at offset %d !!!" % (name, valid_up_to))
            try:
                os.truncate(path, valid_up_to)
            except OSError as e:
                log("Error truncating the AOF file %s: %s" % (name, e.strerror))
            else:
                if not last:
                    raise self._fatal("Fatal error: the truncated file is not the last file")
                log("AOF %s loaded anyway because aof-load-truncated is enabled" % name)
                return "truncated"
        raise self._fatal(
            "Unexpected end of file reading the append only file %s. You can: "
            "1) Make a backup of your AOF file, then use ./redis-check-aof --fix "
            "<filename.manifest>. 2) Alternatively you can set the "
            "'aof-load-truncated' configuration option to yes and restart the "
            "server." % name
        )

    # ------------------------------------------------------------ INFO
    def info_lines(self, aof_child, now):
        return [
            "aof_enabled:%d" % (1 if self.state != AOF_OFF else 0),
            "aof_rewrite_in_progress:%d" % (1 if aof_child else 0),
            "aof_rewrite_scheduled:%d" % (1 if self.rewrite_scheduled else 0),
            "aof_last_rewrite_time_sec:%d" % self.rewrite_time_last,
            "aof_current_rewrite_time_sec:%d"
            % (int(now - self.rewrite_time_start) if aof_child else -1),
            "aof_last_bgrewrite_status:%s" % self.lastbgrewrite_status,
            "aof_rewrites:%d" % self.rewrites,
            "aof_rewrites_consecutive_failures:%d" % self.consecutive_failures,
            "aof_last_write_status:%s"
            % ("ok" if self.last_write_status == "ok" and self.bio.fsync_error is None else "err"),
            "aof_last_cow_size:0",
        ]

    def info_lines_enabled(self):
        return [
            "aof_current_size:%d" % self.current_size,
            "aof_base_size:%d" % self.base_size,
            "aof_pending_rewrite:%d" % (1 if self.rewrite_scheduled else 0),
            "aof_buffer_length:%d" % sum(len(b) for b in self.buf),
            "aof_pending_bio_fsync:%d" % self.bio.pending,
            "aof_delayed_fsync:%d" % self.delayed_fsync,
        ]


def s_child(server):
    snap = server.snapshot
    return None if snap is None else snap.child_type


def _write_all(fd, data):
    mv = memoryview(data)
    while mv:
        n = os.write(fd, mv)
        mv = mv[n:]


_fdatasync = getattr(os, "fdatasync", os.fsync)


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _save_stats(server):
    return (
        [s.as_tuple() for s in server.cmdstats],
        dict(server.errorstats),
        server.stats_total_error_replies,
        list(server.slowlog),
    )


def _restore_stats(server, saved):
    cmdstats, errorstats, total_err, slowlog = saved
    for i, s in enumerate(cmdstats):
        server.cmdstats[i].restore(s)
    server.errorstats.clear()
    server.errorstats.update(errorstats)
    server.stats_total_error_replies = total_err
    server.slowlog.clear()
    server.slowlog.extend(slowlog)


# ===================================================================== replay
def parse_commands(buf, pos=0):
    """Yield (argv, end_offset) from RESP multibulk text; annotations ('#...') skipped.

    Ends with ('truncated', offset) or ('format', offset) on bad input.
    """
    n = len(buf)
    find = buf.find
    while pos < n:
        c = buf[pos]
        if c == 35:  # '#': annotation line
            e = find(b"\n", pos)
            if e < 0:
                yield "truncated", pos
                return
            pos = e + 1
            continue
        if c != 42:  # '*'
            yield "format", pos
            return
        e = find(b"\n", pos)
        if e < 0:
            yield "truncated", pos
            return
        argc = atoll(buf[pos + 1 : e])
        if argc < 1:
            yield "format", pos
            return
        p = e + 1
        argv = []
        for _ in range(argc):
            if p >= n:
                yield "truncated", pos
                return
            if buf[p] != 36:  # '$'
                e = find(b"\n", p)
                yield ("truncated" if e < 0 else "format"), pos
                return
            e = find(b"\n", p)
            if e < 0:
                yield "truncated", pos
                return
            ln = atoll(buf[p + 1 : e])
            start = e + 1
            end = start + ln
            if end + 2 > n:
                yield "truncated", pos
                return
            argv.append(buf[start:end])
            p = end + 2
        yield argv, p
        pos = p


def replay(server, buf, pos, name, progress=None):
    """Run the commands of an AOF body with a fake client. Returns (status, valid_up_to).

    ``progress`` (a snapshot.LoadProgress) hears of the position every 1024
    commands (every command with key-load-delay), like Redis's loader: it serves
    the clients meanwhile.
    """
    # imported here: the command table imports the replication package, which
    # imports this module (the planned import-cycle cleanup removes the need)
    c = Client(server)
    c.authenticated = True
    c.update_special()
    server.loading_client = c
    try:
        return _replay(server, c, buf, pos, name, progress)
    finally:
        server.loading_client = None


def _replay(server, c, buf, pos, name, progress=None):
    valid_up_to = pos
    valid_before_multi = pos
    in_multi = False
    delay = progress is not None and progress.delay
    n = 0
    for item, end in parse_commands(buf, pos):
        if progress is not None:
            n += 1
            if delay or not n & 1023:
                progress.command(end, not n & 1023)
        if item == "truncated":
            if in_multi:
                valid_up_to = valid_before_multi
            return "truncated", valid_up_to
        if item == "format":
            return "format", valid_up_to
        argv = item
        cmd = table.lookup_argv(argv, server.renames)
        if cmd is None:
            return "unknown:" + argv[0].decode("utf-8", "replace"), valid_up_to
        top = table.lookup_in(server.renames, argv[0])
        if top is not None and top.fullname == "multi":
            valid_before_multi = valid_up_to
        execute_one(c, argv)
        c.out.clear()
        in_multi = c.multi is not None
        valid_up_to = end
    if in_multi:
        server.log_warning("Revert incomplete MULTI/EXEC transaction in AOF file %s" % name)
        c.multi = None
        c.update_special()
        return "truncated", valid_before_multi
    return "ok", valid_up_to


@on_server_init
def _init(server):
    aof = AOF(server)
    server.aof = aof
    cfg = server.config
    # after snapshot's hook (MISCONF state), which set_appendonly refreshes itself
    cfg.hooks["appendonly"] = aof.set_appendonly
    cfg.add_hook("appendfsync", aof.set_fsync)
    cfg.add_hook("aof-timestamp-enabled", lambda v: setattr(aof, "timestamps", v == "yes"))
    # updateAofAutoGCEnabled: turning auto gc back on deletes the history now
    cfg.add_hook("aof-disable-auto-gc", lambda v: aof.delete_history() if v == "no" else None)
    # the reply hook only while the AOF is on: no cost on the hot path otherwise
    server.before_reply_hook = aof.before_reply if aof.state != AOF_OFF else None
    server.add_cron_hook(aof.cron)
