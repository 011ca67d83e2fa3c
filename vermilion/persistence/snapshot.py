"""Snapshots on disk: SAVE, BGSAVE, ``save`` rules, loading at startup, the fork child.

One :class:`Snapshot` per server, at ``server.snapshot`` (created by the
``@on_server_init`` hook below). It owns the *child process* used by both
BGSAVE and BGREWRITEAOF (like Redis, at most one child at a time).

**Saving.** :meth:`Snapshot.save` writes ``temp-<pid>.rdb`` in ``dir``, fsyncs
it, renames it over ``dir``/``dbfilename`` and fsyncs the directory, so a crash
at any point leaves either the old or the new file, never a torn one.
:meth:`Snapshot.bgsave` does the same in a child made with ``os.fork()``: the
child sees a frozen copy of the keyspace (copy-on-write) and writes it while
the parent keeps serving; the parent reaps it from the cron (``waitpid`` with
``WNOHANG``, ``hz`` times a second) and updates LASTSAVE and the dirty counter
from the moment of the fork. On platforms without ``fork`` (Windows) BGSAVE
saves synchronously before answering "Background saving started": same files,
same replies, but the server pauses while it writes.

**Save rules** (``save 3600 1 300 100 ...``) are checked from the cron:
a BGSAVE starts when at least *changes* writes happened and *seconds* passed
since the last save (after a failed BGSAVE, not sooner than 5 s later).

**Startup.** The startup hook loads ``appendonly`` files (see
:mod:`vermilion.persistence.aof`) or else the RDB file, logs
"DB loaded from disk", and refuses to start (:class:`LoadFailed`, logged) on a
corrupt or truncated file.

**Shutdown.** :meth:`Snapshot.on_shutdown` is one of the server's
``shutdown_savers`` (see ``Server.finish_shutdown``): it kills a running child
(removing its temp file), flushes and fsyncs the AOF, and saves when ``save``
rules exist (or when SHUTDOWN SAVE asked for it; never with SHUTDOWN NOSAVE).
A failing final save *refuses* the shutdown, like Redis: the server keeps
running with its data and SHUTDOWN answers an error, unless FORCE was given.
So does an AOF still waiting for its first rewrite.

**Loading while serving.** A big file takes a while to load, and the event
loop is stuck in the loader meanwhile. Like Redis, the loaders stop every
``loading-process-events-interval-bytes`` of RDB (every 1024 commands of AOF)
and let :mod:`vermilion.server.blocked` serve the clients: new connections are
accepted, ``INFO persistence`` shows ``loading:1`` and the progress
(``loading_loaded_bytes``, ``loading_loaded_perc``, ``loading_eta_seconds``...),
commands without the ``loading`` flag answer ``-LOADING``, and SHUTDOWN or
SIGTERM stop the server cleanly (without saving half a dataset). The
``key-load-delay`` parameter (microseconds per key, negative for "one
microsecond every -N keys") slows loading down, for tests.
:func:`start_loading` / :func:`stop_loading` bracket every load.

**Refusals.** While data loads, commands without the ``loading`` flag answer
``-LOADING`` (the listeners open before the data is read). While BGSAVE fails
and ``stop-writes-on-bgsave-error`` is on (with save rules), or while the AOF
cannot be written, writes and PING answer ``-MISCONF ...`` like Redis
(``server.disk_error`` holds the text).

**Reloading.** :meth:`Snapshot.reload` loads the RDB file back into the running
server, emptying it first (:func:`empty_data`) or merging; DEBUG RELOAD and
DEBUG LOADAOF (commands/debug.py) are built from it, :meth:`Snapshot.save`,
and the AOF's own loader.

Functions (for the scripting module)
------------------------------------
RDB files and AOF bases carry FUNCTION libraries. If the scripting module sets
``server.function_codes`` (a callable returning the source code, bytes, of
every library), saves include them (RDB opcode FUNCTION2; ``FUNCTION LOAD``
commands in a command-format AOF base); if it sets
``server.function_restore(codes, replace)``, libraries found while loading are
handed to it (otherwise they are skipped with a warning); it raises ValueError
when a library cannot be added without ``replace``, which fails the load.
Emptying the dataset (DEBUG RELOAD, DEBUG LOADAOF) also drops the libraries
(``server.function_libraries.flush()``), like Redis's emptyData: a library loaded
after the last save does not survive DEBUG RELOAD.

INFO persistence
----------------
``server.info_persistence()`` returns the section's ``name:value`` lines in
Redis's order (the INFO helper joins them). The underlying server attributes,
kept current by this module:

=================================  ==========================================
``server.dirty_at_last_save``       ``server.dirty`` when the last save began
                                    (rdb_changes_since_last_save is
                                    ``server.dirty - server.dirty_at_last_save``)
``server.lastsave``                 rdb_last_save_time (unix seconds)
``server.rdb_bgsave_in_progress``   0/1
``server.rdb_last_bgsave_status``   "ok" / "err"
``server.rdb_last_bgsave_time_sec`` duration of the last BGSAVE, -1 if none
``server.rdb_saves``                number of saves started
``server.rdb_last_load_keys_loaded``, ``server.rdb_last_load_keys_expired``
``server.loading``                  0/1 while loading data
``server.loading_start_time``,      the progress of the load in progress
``server.loading_total_bytes``,     (set by :func:`start_loading` and the
``server.loading_loaded_bytes``,    loaders' progress callbacks)
``server.loading_rdb_used_mem``
``server.aof_enabled``              0/1 (AOF on or waiting for its first rewrite)
``server.aof_rewrite_in_progress``  0/1
``server.aof_rewrite_scheduled``    0/1
``server.aof_last_rewrite_time_sec``, ``server.aof_last_bgrewrite_status``
``server.aof_rewrites``, ``server.aof_last_write_status``
``server.aof_current_size``, ``server.aof_base_size`` (bytes, AOF on only)
``server.disk_error``               the MISCONF text while writes are refused
=================================  ==========================================

A fork child (BGSAVE, AOF rewrite) reports through a pipe, like Redis's child
info pipe: 16-byte records of (keys written, its Private_Dirty bytes). The
parent reads the latest when INFO asks (current_save_keys_processed,
current_fork_perc, current_cow_size/peak/age).
"""

import contextlib
import errno
import gc
import os
import random
import signal
import time

from ..core.bootstrap import on_server_init
from . import rdb as rdbmod

CHILD_NONE = None
CHILD_RDB = "rdb"
CHILD_AOF = "aof"
BGSAVE_RETRY_DELAY = 5
AOF_WAIT_REWRITE = 2  # aof.AOF_WAIT_REWRITE (aof.py imports this module)
LOADING_ERROR = "LOADING Redis is loading the dataset in memory"
HAS_FORK = hasattr(os, "fork")
# From this many keys a save's checksum is computed by a helper process on
# another core (rdb.write_rdb's parallel_crc): below it the fork costs about
# what it saves.
PARALLEL_CRC_KEYS = 50000
# A load or a SAVE that takes longer than this logs its progress this often (issue
# #15: the log of a big load or SAVE says how far it got; Redis logs nothing then).
PROGRESS_LOG_SECONDS = 5.0


class ShutdownWhileLoading(SystemExit):
    """SHUTDOWN or SIGTERM arrived while the dataset was loading: the server stopped
    cleanly (nothing saved) and the process exits with status 0, like Redis's exit(0)
    from inside the loader."""

    def __init__(self):
        super().__init__(0)


class LoadFailed(SystemExit):
    """The data on disk cannot be loaded: the server must not start (exit status 1).

    A :class:`SystemExit` so that ``vermilion`` exits with a message; embedded
    callers (``start_server``) receive it as the startup failure.
    """

    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


class _NoGC:
    """Python's cyclic GC off while a snapshot is written or parsed.

    Saving builds and drops millions of short-lived tuples and lists, loading
    builds millions of long-lived values: either triggers collections whose
    full passes walk the whole keyspace again and again (measured: an eighth of
    a SAVE of 370k keys). Neither makes reference cycles, so nothing is lost by
    collecting later, as Redis (no GC at all) never pays this."""

    def __init__(self, freeze=False):
        self.freeze = freeze

    def __enter__(self):
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.freeze and exc[0] is None:
            gc.freeze()  # (see Snapshot.freeze_after_startup_load)
        if self.was:
            gc.enable()


def fsync_dir(path):
    """fsync the directory holding ``path`` (makes a rename durable)."""
    d = os.path.dirname(os.path.abspath(path))
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, tmp, write):
    """``write(fh)`` into ``tmp``, fsync, rename over ``path``, fsync the directory.

    On any failure the temp file is removed and the exception propagates; ``path``
    is then untouched (the old file, if any, stays complete). An OSError carries
    ``stage``: "open", "rename", or the step of a write error as rdbSave names it
    ("rdbSaveRio", "fflush", "fsync", "fclose"): Redis logs each differently.
    """
    stage = "open"
    try:
        with open(tmp, "wb", buffering=1 << 20) as fh:
            stage = "rdbSaveRio"
            write(fh)
            stage = "fflush"
            fh.flush()
            stage = "fsync"
            os.fsync(fh.fileno())
            stage = "fclose"
        stage = "rename"
        os.replace(tmp, path)
    except BaseException as e:
        if isinstance(e, OSError):
            e.stage = stage
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path)


def _cwd_or_unknown(server):
    """The "server root dir" of Redis's save errors (Redis chdirs to ``dir``)."""
    d = server_dir(server)
    return d if os.path.isdir(d) else "unknown"


def server_dir(server):
    """The ``dir`` parameter as an absolute path (Redis chdirs there; we join paths)."""
    d = server.config.get("dir") or ""
    return os.path.abspath(d) if d else os.getcwd()


@contextlib.contextmanager
def _insist_on_exit(server, path):
    """While a shutdown caused by a signal saves in the foreground (the event loop,
    and its signal handling, wait), a second SIGINT ends the process at once and
    removes the half-written temp file, as sigShutdownHandler does ("You
    insist..."). Nothing to do outside the main thread (an embedded server)."""
    if server.shutdown_asap is None:
        yield
        return

    def insist(sig, frame):
        server.log_warning("You insist... exiting now.")
        Snapshot._remove_temp(path, os.getpid())
        os._exit(1)

    try:
        old = signal.signal(signal.SIGINT, insist)
    except (ValueError, OSError, RuntimeError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old if old is not None else signal.SIG_DFL)


class Snapshot:
    def __init__(self, server):
        self.server = server
        self.child_pid = None
        self.child_type = CHILD_NONE
        self.child_start = 0.0
        self.child_done = None  # fn(ok, bysignal) run when the child exits
        # INFO's current_save_keys_processed/total: the child reports the keys it
        # has written through a pipe (Redis's child info pipe); read when asked
        self.progress_fd = None  # the parent's end (non-blocking)
        self.child_report_fd = None  # the child's end, in the child
        self.keys_total = 0
        self.keys_processed = 0
        # INFO's current_cow_size/peak/age: the child's Private_Dirty memory, read by
        # the child and sent with the key count (sendChildInfoGeneric)
        self.cow = 0
        self.cow_peak = 0
        self.cow_updated = 0.0
        self.bgsave_scheduled = False
        self.lastbgsave_try = 0
        self.save_start = -1
        # Set by the standalone server (__main__), whose tune_gc freezes what exists
        # once it has started: the RDB loaded at startup is then frozen at the end
        # of the load instead, before the GC is back on. Otherwise its first
        # collections (the next allocation's, then tune_gc's gc.collect()) walk
        # every loaded value, a tenth of the load. The loader makes no cycles, so
        # the collection skipped has nothing to find. Never for an embedded
        # server: freezing would hide the host program's objects from the GC.
        self.freeze_after_startup_load = False
        s = server
        s.dirty_at_last_save = 0
        s.rdb_bgsave_in_progress = 0
        s.rdb_last_bgsave_status = "ok"
        s.rdb_last_bgsave_time_sec = -1
        s.rdb_saves = 0
        s.rdb_last_load_keys_loaded = 0
        s.rdb_last_load_keys_expired = 0
        s.loading_start_time = 0
        s.loading_total_bytes = 0
        s.loading_loaded_bytes = 0
        s.loading_rdb_used_mem = 0
        s.loading_caller = None

    # ------------------------------------------------------------------ paths
    def rdb_path(self):
        return os.path.join(server_dir(self.server), self.server.config.get("dbfilename"))

    def limits(self):
        return rdbmod.Limits(self.server.config)

    # ----------------------------------------------------------------- saving
    def write_rdb(self, path, aof_base=False, progress=None):
        """Write the dataset to ``path`` via a temp file + fsync + rename. Raises OSError.
        ``progress(keys_written)`` is called every few thousand keys."""
        server = self.server
        fl = server.function_codes
        functions = fl() if fl is not None else ()
        tmp = os.path.join(os.path.dirname(path), "temp-%d.rdb" % os.getpid())
        nkeys = sum(len(db.data) for db in server.dbs)
        delay = server.config.get_int("rdb-key-save-delay")
        # rdb-key-save-delay (tests): debugDelay after every key, as rdbSaveKeyValuePair
        key_callback = (lambda: LoadProgress._key_load_delay(delay)) if delay else None
        # rdbPopulateSaveInfo: the replication layer's (stream_db, replid, offset), or
        # None; an AOF base never carries them
        rsi = getattr(server, "repl_save_info", None)
        repl_info = rsi() if rsi is not None and not aof_base else None
        with _NoGC():
            atomic_write(
                path,
                tmp,
                lambda fh: rdbmod.write_rdb(
                    fh,
                    server.dbs,
                    self.limits(),
                    aof_base=aof_base,
                    used_mem=rdbmod.used_memory_estimate(),
                    functions=functions,
                    key_callback=key_callback,
                    progress=progress,
                    parallel_crc=nkeys >= PARALLEL_CRC_KEYS,
                    repl_info=repl_info,
                ),
            )

    def save(self, record_error=True):
        """SAVE: a synchronous snapshot. True on success (errors are logged).

        ``record_error`` False (the final save of a shutdown, like Redis's rdbSave)
        leaves rdb_last_bgsave_status alone when it fails: a refused shutdown must
        not turn into MISCONF errors for the writes that follow.
        """
        server = self.server
        server.rdb_saves += 1
        dirty = server.dirty
        path = self.rdb_path()
        try:
            self.write_rdb(path, progress=_save_progress_logger(server))
        except OSError as e:
            self._log_save_error(e)
            if record_error:
                server.rdb_last_bgsave_status = "err"
                update_disk_error(server)
            return False
        server.log_notice("DB saved on disk")
        server.dirty_at_last_save = dirty
        server.lastsave = int(time.time())
        server.rdb_last_bgsave_status = "ok"
        update_disk_error(server)
        return True

    def _log_save_error(self, e):
        """rdbSave's log line for a failed save (the parent's SAVE or the child's)."""
        server = self.server
        tmp = "temp-%d.rdb" % os.getpid()
        stage = getattr(e, "stage", "rdbSaveRio")
        why = e.strerror or str(e)
        if stage == "open":
            server.log_warning(
                "Failed opening the temp RDB file %s (in server root dir "
                "%s) for saving: %s" % (tmp, _cwd_or_unknown(server), why)
            )
        elif stage == "rename":
            server.log_warning(
                "Error moving temp DB file %s on the final destination %s "
                "(in server root dir %s): %s"
                % (tmp, server.config.get("dbfilename"), _cwd_or_unknown(server), why)
            )
        else:
            server.log_warning("Write error saving DB on disk(%s): %s" % (stage, why))

    def bgsave(self):
        """Start a BGSAVE child. True if started (or done, without fork)."""
        server = self.server
        if self.child_pid is not None:
            return False
        server.rdb_saves += 1
        self.lastbgsave_try = int(time.time())
        dirty_before = server.dirty
        path = self.rdb_path()
        if not HAS_FORK:
            # Documented fallback: no fork, save in the foreground.
            self.save_start = time.time()
            ok = self._save_now(path)
            self._rdb_done(ok, 0, dirty_before, time.time() - self.save_start)
            return True

        def child():
            try:
                self.write_rdb(path, progress=self.child_progress())
            except OSError as e:
                self._log_save_error(e)  # the child says why, as Redis's does
                raise
            server.log_notice("DB saved on disk")

        def done(ok, bysignal):
            self._rdb_done(ok, bysignal, dirty_before, time.time() - self.save_start)

        if not self.fork_child(CHILD_RDB, child, done):
            server.rdb_last_bgsave_status = "err"
            return False
        self.save_start = time.time()
        server.rdb_bgsave_in_progress = 1
        server.log_notice("Background saving started by pid %d" % self.child_pid)
        return True

    def _save_now(self, path):
        try:
            self.write_rdb(path)
            return True
        except OSError as e:
            self._log_save_error(e)
            return False

    def _rdb_done(self, ok, bysignal, dirty_before, elapsed):
        server = self.server
        server.rdb_bgsave_in_progress = 0
        server.rdb_last_bgsave_time_sec = int(elapsed)
        if ok:
            server.log_notice("Background saving terminated with success")
            server.dirty_at_last_save = dirty_before
            server.lastsave = int(time.time())
            server.rdb_last_bgsave_status = "ok"
        elif not bysignal:
            server.log_warning("Background saving error")
            server.rdb_last_bgsave_status = "err"
        else:
            server.log_warning("Background saving terminated by signal %d" % bysignal)
            self._remove_temp(self.rdb_path(), self._last_child_pid)
            if bysignal != signal.SIGUSR1:
                server.rdb_last_bgsave_status = "err"
        update_disk_error(server)

    @staticmethod
    def _remove_temp(path, pid):
        if pid:
            try:
                os.unlink(os.path.join(os.path.dirname(path), "temp-%d.rdb" % pid))
            except OSError:
                pass

    # ------------------------------------------------------------ the child
    _last_child_pid = None

    def fork_child(self, kind, work, done):
        """Fork a child running ``work()``; ``done(ok, bysignal)`` runs when it exits."""
        server = self.server
        try:
            rfd, wfd = os.pipe()
        except OSError:
            rfd = wfd = None
        total = sum(len(db.data) for db in server.dbs)
        try:
            pid = os.fork()
        except OSError as e:
            server.log_warning("Can't save in background: fork: %s" % e.strerror)
            if rfd is not None:
                os.close(rfd)
                os.close(wfd)
            return False
        server.stat_total_forks += 1  # INFO's total_forks
        if pid == 0:
            code = 1
            try:
                _child_setup()
                server.pid = os.getpid()  # its log lines: "<child pid>:C ..."
                server.update_oom_score(2)  # (OOM_BGCHILD: the first to go)
                server.log_role = "C"
                if rfd is not None:
                    os.close(rfd)
                    os.set_blocking(wfd, False)
                self.child_report_fd = wfd
                work()
                code = 0
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        self.child_pid = pid
        self._last_child_pid = pid
        self._close_progress()
        if rfd is not None:
            os.close(wfd)
            os.set_blocking(rfd, False)
            self.progress_fd = rfd
        self.keys_total = total
        self.keys_processed = 0
        self.child_type = kind
        self.child_start = time.time()
        self.child_done = done
        return True

    def report_progress(self, keys, cow=0):
        """In the child: tell the parent how many keys are written and the child's
        copy-on-write size (one 16-byte record, atomic on a pipe; never blocks)."""
        fd = self.child_report_fd
        if fd is not None:
            try:
                os.write(fd, keys.to_bytes(8, "little") + cow.to_bytes(8, "little"))
            except OSError:
                pass

    def child_progress(self):
        """In a BGSAVE / AOF rewrite child: the writer's ``progress(keys)`` callback,
        telling the parent (INFO's current_save_keys_processed, current_fork_perc)
        and logging a "Saving the dataset" line every PROGRESS_LOG_SECONDS."""
        log = _save_progress_logger(self.server)
        report = self.report_progress
        # Reading smaps costs: like sendChildInfoGeneric, the next reading waits
        # CHILD_COW_DUTY_CYCLE times what the last one took
        state = [0.0, 0]  # when to read next (monotonic), the last reading

        def progress(keys):
            now = time.monotonic()
            if now >= state[0]:
                state[1] = private_dirty()
                done = time.monotonic()
                state[0] = done + (done - now) * _COW_DUTY_CYCLE
            report(keys, state[1])
            log(keys)

        return progress

    def save_progress(self):
        """(keys processed, keys total) of the running child, as INFO shows them."""
        fd = self.progress_fd
        if fd is not None:
            last = b""
            try:
                while True:
                    b = os.read(fd, 4096)
                    if not b:
                        break
                    last = (last + b)[-32:]
            except BlockingIOError:
                pass
            except OSError:
                pass
            n = len(last) // 16 * 16
            if n:
                self.keys_processed = int.from_bytes(last[n - 16 : n - 8], "little")
                cow = int.from_bytes(last[n - 8 : n], "little")
                if cow != self.cow or not self.cow_updated:
                    self.cow_updated = time.time()
                self.cow = cow
                self.cow_peak = max(self.cow_peak, cow)
        if self.child_pid is None:
            return 0, 0
        return self.keys_processed, self.keys_total

    def _close_progress(self):
        if self.progress_fd is not None:
            try:
                os.close(self.progress_fd)
            except OSError:
                pass
            self.progress_fd = None
        self.keys_total = self.keys_processed = 0
        self.cow = self.cow_peak = 0
        self.cow_updated = 0.0

    def check_child(self):
        """Reap the child if it exited (cron). Returns True if one finished."""
        pid = self.child_pid
        if pid is None:
            return False
        try:
            wpid, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            # Reaped by someone else (a waitpid(-1) child watcher): judge by the file.
            wpid, status = pid, 0
        if wpid == 0:
            return False
        if os.WIFSIGNALED(status):
            ok, bysignal = False, os.WTERMSIG(status)
        else:
            ok, bysignal = os.WEXITSTATUS(status) == 0, 0
        done = self.child_done
        self.child_pid = None
        self.child_type = CHILD_NONE
        self.child_done = None
        self._close_progress()
        if done is not None:
            try:
                done(ok, bysignal)
            except Exception:
                self.server.log_exception("child completion")
        return True

    def wait_child(self, timeout=None):
        """Block until the child exits (SHUTDOWN, tests, DEBUG). True if it finished."""
        deadline = None if timeout is None else time.time() + timeout
        while self.child_pid is not None:
            if self.check_child():
                return True
            if deadline is not None and time.time() > deadline:
                return False
            time.sleep(0.005)
        return True

    def kill_child(self):
        """Kill the child with SIGUSR1 (not an error) and reap it now."""
        pid = self.child_pid
        if pid is None:
            return
        kind = self.child_type
        try:
            os.kill(pid, signal.SIGUSR1)
        except OSError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        done = self.child_done
        self.child_pid = None
        self.child_type = CHILD_NONE
        self.child_done = None
        self._close_progress()
        if kind == CHILD_RDB:
            self.server.rdb_bgsave_in_progress = 0
            self._remove_temp(self.rdb_path(), pid)
        if done is not None:
            try:
                done(False, signal.SIGUSR1)
            except Exception:
                self.server.log_exception("child kill")

    def has_child(self):
        return self.child_pid is not None

    # ------------------------------------------------------------------ cron
    def cron(self):
        server = self.server
        if self.child_pid is not None:
            self.check_child()
            if self.child_pid is not None:
                return
        now = int(time.time())
        if self.bgsave_scheduled and (
            now - self.lastbgsave_try > BGSAVE_RETRY_DELAY or server.rdb_last_bgsave_status == "ok"
        ):
            self.bgsave_scheduled = False
            if self.bgsave():
                return
        rules = self.save_rules()
        if rules:
            changes = server.dirty - server.dirty_at_last_save
            for secs, need in rules:
                if (
                    changes >= need
                    and now - server.lastsave > secs
                    and (
                        now - self.lastbgsave_try > BGSAVE_RETRY_DELAY
                        or server.rdb_last_bgsave_status == "ok"
                    )
                ):
                    server.log_notice("%d changes in %d seconds. Saving..." % (need, secs))
                    self.bgsave()
                    return
        aof = server.aof
        if aof is not None:
            aof.cron_maybe_rewrite()

    def save_rules(self):
        v = (self.server.config.get("save") or "").split()
        out = []
        for i in range(0, len(v) - 1, 2):
            try:
                out.append((int(v[i]), int(v[i + 1])))
            except ValueError:
                pass
        return out

    # --------------------------------------------------------------- loading
    def load_file(self, path, flush=True, allow_dup=False, expire_keys=True):
        """Load an RDB file into the server. Raises RdbError/OSError."""
        buf = rdbmod.read_file(path)
        return self.load_bytes(buf, flush, allow_dup, expire_keys)

    def load_bytes(self, buf, flush=True, allow_dup=False, expire_keys=True, base=0):
        """Load an RDB image; clients are served every
        ``loading-process-events-interval-bytes`` (``base``: where the image starts
        in the bytes the current load counts, for an AOF's RDB base)."""
        server = self.server
        limits = self.limits()
        outer = server.loading
        if not outer:
            start_loading(server, len(buf))
        progress = LoadProgress(server, base)
        try:
            with _NoGC():
                res = rdbmod.load_rdb(
                    buf,
                    limits,
                    ndbs=len(server.dbs),
                    expire_keys=expire_keys,
                    verify_checksum=limits.checksum,
                    log=server.log,
                    allow_dup=allow_dup,
                    events=progress.rdb_event,
                    progress=progress.step,
                    parallel_crc=True,
                )
                install(server, res, flush, allow_dup or flush)
        finally:
            if not outer:
                stop_loading(server)
        server.rdb_last_load_keys_loaded = res.keys_loaded
        server.rdb_last_load_keys_expired = res.keys_expired
        if res.empty_skipped:
            server.log_warning(
                "Done loading RDB, keys loaded: %d, keys expired: %d, "
                "empty keys skipped: %d." % (res.keys_loaded, res.keys_expired, res.empty_skipped)
            )
        else:
            server.log_notice(
                "Done loading RDB, keys loaded: %d, keys expired: %d."
                % (res.keys_loaded, res.keys_expired)
            )
        return res

    def reload(self, flush=True, merge=False):
        """Load the RDB file back into the running server (DEBUG RELOAD): the whole
        file is parsed first, then the dataset is emptied (``flush``) and the keys
        installed; without ``flush`` a key already in memory is an error unless
        ``merge``. Raises RdbError/OSError (the dataset untouched when the file
        cannot be read or parsed)."""
        server = self.server
        buf = rdbmod.read_file(self.rdb_path())
        limits = self.limits()
        with _NoGC():
            res = rdbmod.load_rdb(
                buf,
                limits,
                ndbs=len(server.dbs),
                verify_checksum=limits.checksum,
                log=server.log,
                allow_dup=merge,
                parallel_crc=True,
            )
            if flush:
                empty_data(server)
            install(server, res, True, merge or flush)
        server.rdb_last_load_keys_loaded = res.keys_loaded
        server.rdb_last_load_keys_expired = res.keys_expired
        return res

    def load_at_startup(self):
        """Startup hook: AOF if ``appendonly yes``, else the RDB file if it exists.

        SIGTERM/SIGINT are caught meanwhile (the loop's handlers come later, and
        could not run anyway): the loader acts on them between chunks.
        """
        server = self.server
        wb = server.while_blocked
        wb.catch_signals()
        try:
            self._load_at_startup()
        finally:
            wb.release_signals()
            server.loading = 0
            server.set_special("loading", False)

    def _load_at_startup(self):
        server = self.server
        server.loading = 0  # the loaders set it while they actually load
        t0 = time.time()
        aof = server.aof
        if aof is not None and server.config.get("appendonly") == "yes":
            aof.load_at_startup()
            aof.open_on_start()
            server.dirty_at_last_save = server.dirty
            return
        path = self.rdb_path()
        if not os.path.exists(path):
            return
        # a replica keeps the keys that expired while it was down, for its master's
        # DELs to remove (rdbLoad's iAmMaster(): a replicaof line, or in cluster
        # mode nodes.conf, read before, says this node is a replica)
        cluster = server.cluster
        replica = (
            server.is_replica
            or bool(server.config.get("replicaof"))
            or (cluster is not None and cluster.myself.is_replica)
        )
        try:
            with _NoGC(freeze=self.freeze_after_startup_load):
                res = self.load_file(path, expire_keys=not replica)
        except rdbmod.RdbError as e:
            if getattr(e, "doing", None) == "read-object-value":
                # A corrupt value: rdbReportCorruptRDB logs it, runs
                # redis-check-rdb on the file (its report to the log) and exits.
                import io  # (only here: a corrupt RDB stops the start-up)

                server.log_warning(
                    "Internal error in RDB reading offset %d, function at rdb.c:0 -> %s"
                    % (getattr(e, "offset", 0), e)
                )
                report = io.StringIO()
                server.check_rdb_report(path, report)
                server.log_raw(3, report.getvalue())
                server.log_warning("Terminating server after rdb file reading failure.")
                raise LoadFailed("Fatal error loading the DB %s: %s. Exiting." % (path, e))
            msg = "Fatal error loading the DB %s: %s. Exiting." % (path, e)
            server.log_warning(msg)
            raise LoadFailed(msg)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return
            msg = "Fatal error loading the DB %s: %s. Exiting." % (path, e.strerror)
            server.log_warning(msg)
            raise LoadFailed(msg)
        server.dirty_at_last_save = server.dirty
        server.log_notice("DB loaded from disk: %.3f seconds" % (time.time() - t0))
        # loadDataFromDisk: restore the replication ID / offset from the aux fields
        restore = getattr(server, "repl_restore_from_rdb", None)
        if restore is not None:
            restore(res.aux, res.expired_names)

    # ------------------------------------------------------------- shutdown
    def on_shutdown(self, save, force=False):
        """finishShutdown's persistence steps. False refuses the shutdown (logged):
        the final save failed, or the AOF has not been written once yet; FORCE
        exits anyway."""
        server = self.server
        aof = server.aof
        if self.child_pid is not None:
            kind = self.child_type
            if kind == CHILD_RDB:
                server.log_warning("There is a child saving an .rdb. Killing it!")
            else:
                if aof is not None and aof.state == AOF_WAIT_REWRITE:
                    # the AOF being written is the only copy the AOF will have
                    if not force:
                        server.log_warning("Writing initial AOF, can't exit.")
                        return False
                    server.log_warning("Writing initial AOF. Exit anyway.")
                server.log_warning("There is a child rewriting the AOF. Killing it!")
            self.kill_child()
        if aof is not None and aof.state != 0:
            server.log_notice("Calling fsync() on the AOF file.")
            aof.on_shutdown()
        if save is False:
            return True
        if save or self.save_rules():
            server.log_notice("Saving the final RDB snapshot before exiting.")
            with _insist_on_exit(server, self.rdb_path()):
                saved = self.save(record_error=False)
            if not saved:
                if force:
                    server.log_warning("Error trying to save the DB. Exit anyway.")
                else:
                    server.log_warning("Error trying to save the DB, can't exit.")
                    return False
        return True

    # ------------------------------------------------------------------ INFO
    def info_lines(self):
        server = self.server
        now = time.time()
        rdb_child = self.child_type == CHILD_RDB
        aof = server.aof
        aof_child = self.child_type == CHILD_AOF
        keys_done, keys_total = self.save_progress()
        fork_perc = keys_done * 100.0 / keys_total if keys_total else 0.0
        lines = [
            "loading:%d" % server.loading,
            "async_loading:%d" % getattr(server, "async_loading", 0),
            "current_cow_peak:%d" % self.cow_peak,
            "current_cow_size:%d" % self.cow,
            "current_cow_size_age:%d"
            % (int(now - self.cow_updated) if self.cow_updated and self.child_pid else 0),
            "current_fork_perc:%.2f" % fork_perc,
            "current_save_keys_processed:%d" % keys_done,
            "current_save_keys_total:%d" % keys_total,
            "rdb_changes_since_last_save:%d" % (server.dirty - server.dirty_at_last_save),
            "rdb_bgsave_in_progress:%d" % (1 if rdb_child else 0),
            "rdb_last_save_time:%d" % server.lastsave,
            "rdb_last_bgsave_status:%s" % server.rdb_last_bgsave_status,
            "rdb_last_bgsave_time_sec:%d" % server.rdb_last_bgsave_time_sec,
            "rdb_current_bgsave_time_sec:%d" % (int(now - self.save_start) if rdb_child else -1),
            "rdb_saves:%d" % server.rdb_saves,
            "rdb_last_cow_size:0",
            "rdb_last_load_keys_expired:%d" % server.rdb_last_load_keys_expired,
            "rdb_last_load_keys_loaded:%d" % server.rdb_last_load_keys_loaded,
        ]
        if aof is not None:
            lines += aof.info_lines(aof_child, now)
        lines += ["module_fork_in_progress:0", "module_fork_last_cow_size:0"]
        if aof is not None and aof.state != 0:
            lines += aof.info_lines_enabled()
        if server.loading:
            lines += loading_info_lines(server)
        return lines


def _child_setup():
    """In the fork child: no GC (saves copy-on-write), default signal handlers."""
    gc.disable()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass


def install(server, res, flush=True, allow_dup=True):
    """Put the keys of a LoadResult into the server's databases.

    A key already in memory is replaced when ``allow_dup``; otherwise it is an
    error (Redis panics: "Duplicated key found in RDB file"), detected before
    anything changes.
    """
    if not allow_dup:
        for dbid, (data, _) in res.dbs.items():
            if dbid < len(server.dbs):
                existing = server.dbs[dbid].data
                if existing:
                    for k in data:
                        if k in existing:
                            raise rdbmod.RdbError(
                                "RDB has duplicated key '%s' in DB %d"
                                % (k.decode("utf-8", "replace"), dbid)
                            )
    # the libraries first, as they come before the keys in the file: a library
    # already loaded fails the load unless ``allow_dup`` (rdbFunctionLoad)
    fr = server.function_restore
    if res.functions:
        if fr is not None:
            try:
                fr(res.functions, replace=allow_dup)
            except ValueError as e:
                raise rdbmod.RdbError("Failed loading library, %s" % e)
        else:
            server.log_warning(
                "The RDB file contains %d function libraries; functions are "
                "not available, they were skipped" % len(res.functions)
            )
    for dbid, (data, expires) in res.dbs.items():
        if dbid >= len(server.dbs):
            continue
        db = server.dbs[dbid]
        if flush and not db.data:
            db.data = data
        else:
            for k, v in data.items():
                if k in db.data:
                    db.delete(k)
                db.data[k] = v
        for k, when in expires.items():
            db.set_expire(k, when)


def empty_data(server, functions=True):
    """emptyData(): drop every key of every database and, unless ``functions`` is
    False (EMPTYDB_NOFUNCTIONS), every function library."""
    removed = 0
    for db in server.dbs:
        db.signal_all()
        removed += db.clear()
    server.replica_expire_keys.clear()  # (flushSlaveKeysWithExpireList)
    if functions:
        libs = server.function_libraries
        if libs is not None:
            libs.flush()
    return removed


MISCONF_RDB = (
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable "
    "to persist to disk. Commands that may modify the data set are disabled, because "
    "this instance is configured to report errors during writes if RDB snapshotting "
    "fails (stop-writes-on-bgsave-error option). Please check the Redis logs for "
    "details about the RDB error."
)


def update_disk_error(server):
    """writeCommandsDeniedByDiskError: refuse writes (MISCONF) while saving fails.

    Sets ``server.disk_error`` to the error text or None, and keeps the
    dispatcher's slow path on while there is one (where :func:`_disk_error_check`
    runs).
    """
    msg = None
    if (
        server.config.get("stop-writes-on-bgsave-error") == "yes"
        and server.rdb_last_bgsave_status == "err"
        and server.snapshot.save_rules()
    ):
        msg = MISCONF_RDB
    else:
        aof = server.aof
        if aof is not None and aof.state != 0:
            err = aof.write_error()
            if err is not None:
                msg = "MISCONF Errors writing to the AOF file: %s" % err
    if msg != server.disk_error:
        server.disk_error = msg
        server.set_special("disk-error", msg is not None)


def _loading_check(c, cmd, argv):
    """While data loads, commands not flagged "loading" get LOADING (an EXEC too when
    it would run one: processCommand's is_denyloading_command)."""
    server = c.server
    if not server.loading or c is server.loading_client:
        return None
    if not cmd.loading:
        return LOADING_ERROR
    if cmd.fullname == "exec" and c.multi and any(not q.loading for q, _ in c.multi):
        return LOADING_ERROR
    return None


# ------------------------------------------------------------------ loading
def start_loading(server, total_bytes):
    """startLoading: the dataset is being loaded; INFO shows the progress, and
    commands without the ``loading`` flag are refused until :func:`stop_loading`."""
    server.loading = 1
    server.loading_start_time = int(time.time())
    server.loading_total_bytes = total_bytes
    server.loading_loaded_bytes = 0
    server.loading_rdb_used_mem = 0
    server.rdb_last_load_keys_loaded = 0
    server.rdb_last_load_keys_expired = 0
    server.set_special("loading", True)
    # the client that asked for the load (DEBUG LOADAOF): its next command must wait
    caller = server.current_client
    server.loading_caller = caller if caller is not None and caller.conn is not None else None


def stop_loading(server):
    server.loading = 0
    server.loading_caller = None
    server.set_special("loading", False)


class LoadProgress:
    """The loaders' progress callback (rdbLoadProgressCallback + key-load-delay).

    :meth:`step` is called by the RDB parser when its position reaches the
    threshold the previous call returned: it records the position, sleeps
    ``key-load-delay`` (tests use it to make loading slow), and every
    ``loading-process-events-interval-bytes`` serves the clients
    (:mod:`vermilion.server.blocked`). :meth:`command` is the AOF replay's
    counterpart: the clients are served every 1024 commands. A shutdown decided
    meanwhile (SHUTDOWN, SIGTERM) ends the load with :class:`ShutdownWhileLoading`.
    """

    def __init__(self, server, base=0):
        self.server = server
        self.base = base
        cfg = server.config
        self.interval = max(1024, cfg.get_int("loading-process-events-interval-bytes"))
        self.delay = cfg.get_int("key-load-delay")
        self.next_events = base + self.interval
        # the progress line of the log: on a grid from the start of the load
        self.next_log = server.loading_start_time + PROGRESS_LOG_SECONDS

    def step(self, pos, res=None):
        """Returns the position of the next call (the parser only compares).
        ``res``: the RDB parser's LoadResult so far (INFO shows its key counts)."""
        server = self.server
        pos += self.base
        server.loading_loaded_bytes = pos
        if res is not None:
            server.rdb_last_load_keys_loaded = res.keys_loaded
            server.rdb_last_load_keys_expired = res.keys_expired
        delay = self.delay
        if delay:
            self._key_load_delay(delay)
        if time.time() >= self.next_log:
            self.log_progress()
        if pos >= self.next_events:
            self.next_events = (pos // self.interval + 1) * self.interval
            self.serve()
        if delay:
            return pos - self.base + 1  # once per record
        return self.next_events - self.base

    def command(self, pos, serve):
        """The AOF replay ran a command ending at ``pos`` (called after every
        command while key-load-delay is set, else every 1024th): Redis's loader
        serves the clients every 1024 commands, whatever their size."""
        self.server.loading_loaded_bytes = pos + self.base
        if self.delay:
            self._key_load_delay(self.delay)
        if serve:
            if time.time() >= self.next_log:
                self.log_progress()
            self.serve()

    def log_progress(self):
        """One log line on the load's progress (every PROGRESS_LOG_SECONDS)."""
        server = self.server
        now = time.time()
        start = server.loading_start_time
        self.next_log = (
            start + (int((now - start) / PROGRESS_LOG_SECONDS) + 1) * PROGRESS_LOG_SECONDS
        )
        perc, eta = loading_progress(server)
        keys = server.rdb_last_load_keys_loaded or sum(len(db.data) for db in server.dbs)
        total = server.loading_total_bytes
        server.log_notice(
            "Loading the dataset: %.2f%% (%s of %s, %d keys), about %d seconds left"
            % (perc, _mb(server.loading_loaded_bytes), _mb(total), keys, eta)
        )

    @staticmethod
    def _key_load_delay(delay):
        """key-load-delay: microseconds per record, or (negative) a 1 us sleep
        once every -delay records on average, as debugDelay does."""
        if delay > 0:
            time.sleep(delay / 1e6)
        elif random.randrange(-delay) == 0:
            time.sleep(1e-6)

    def serve(self):
        server = self.server
        if server.loop is None:
            return
        # vermilion/server/blocked.py: one turn of "the event loop"
        server.while_blocked.process(protect=server.loading_caller)
        if server.stopping:
            raise ShutdownWhileLoading()

    def rdb_event(self, kind, pos, *args):
        if kind == "aux" and args[0] == b"used-mem":
            try:
                self.server.loading_rdb_used_mem = int(args[1])
            except ValueError:
                pass


def loading_progress(server):
    """(percent loaded, seconds left) of the load in progress, as Redis's INFO
    computes loading_loaded_perc and loading_eta_seconds."""
    total = server.loading_total_bytes
    loaded = server.loading_loaded_bytes
    used = server.loading_rdb_used_mem
    perc = 0.0
    remaining = 1
    if total:
        perc = loaded * 100.0 / total
        remaining = total - loaded
    elif used:
        perc = min(loaded * 100.0 / used, 99.99)
        remaining = max(used - loaded, 1)
    elapsed = int(time.time()) - server.loading_start_time
    eta = 1 if elapsed == 0 else (elapsed * remaining) // (loaded + 1)
    return perc, eta


def loading_info_lines(server):
    """INFO persistence's progress lines while loading (the ETA as Redis computes it)."""
    perc, eta = loading_progress(server)
    return [
        "loading_start_time:%d" % server.loading_start_time,
        "loading_total_bytes:%d" % server.loading_total_bytes,
        "loading_rdb_used_mem:%d" % server.loading_rdb_used_mem,
        "loading_loaded_bytes:%d" % server.loading_loaded_bytes,
        "loading_loaded_perc:%.2f" % perc,
        "loading_eta_seconds:%d" % eta,
    ]


def _mb(n):
    return "%.1f MB" % (n / (1024 * 1024))


_COW_DUTY_CYCLE = 100  # (CHILD_COW_DUTY_CYCLE)


def private_dirty():
    """zmalloc_get_private_dirty(-1): this process's Private_Dirty bytes (the pages
    a fork child no longer shares with its parent), 0 where /proc cannot tell."""
    try:
        with open("/proc/self/smaps_rollup", "rb") as fh:
            data = fh.read()
    except OSError:
        return 0
    total = 0
    for line in data.split(b"\n"):
        if line.startswith(b"Private_Dirty:"):
            total += int(line.split()[1]) * 1024
    return total


def _save_progress_logger(server):
    """SAVE's ``progress(keys_written)`` callback: a log line every
    PROGRESS_LOG_SECONDS while a long SAVE runs (nothing for a short one)."""
    total = sum(len(db.data) for db in server.dbs)
    start = time.time()
    state = [start + PROGRESS_LOG_SECONDS]

    def progress(keys):
        now = time.time()
        if now >= state[0] and keys < total:  # (the end says "DB saved on disk")
            state[0] = now + PROGRESS_LOG_SECONDS
            perc = keys * 100.0 / total if total else 100.0
            left = (now - start) * (total - keys) / keys if keys else 0
            server.log_notice(
                "Saving the dataset: %.2f%% (%d of %d keys), about %d seconds left"
                % (perc, keys, total, left)
            )

    return progress


def _disk_error_check(c, cmd, argv):
    msg = c.server.disk_error
    if msg is None:
        return None
    name = cmd.fullname
    if (
        cmd.is_write
        or name == "ping"
        or (name == "exec" and c.multi and any(q.is_write for q, _ in c.multi))
    ):
        if "M" in (c.flags_extra or ""):  # our master's stream: applied anyway
            return None
        return msg
    return None


@on_server_init
def _init(server):
    snap = Snapshot(server)
    server.snapshot = snap
    server.info_persistence = snap.info_lines
    server.extra_checks = tuple(server.extra_checks) + (_loading_check, _disk_error_check)
    # Listeners open before the startup hook loads the data: a client that gets in
    # first must see LOADING, not an empty dataset.
    if server.config.get("appendonly") == "yes" or os.path.exists(snap.rdb_path()):
        server.loading = 1
        server.set_special("loading", True)
    server.add_cron_hook(snap.cron)
    server.add_cron_hook(lambda: update_disk_error(server))
    for name in ("stop-writes-on-bgsave-error", "save"):
        server.config.add_hook(name, lambda v: update_disk_error(server))
    server.add_startup_hook(snap.load_at_startup)
    server.shutdown_savers.append(snap.on_shutdown)
