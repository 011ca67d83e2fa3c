"""The server: its state, its timers, and the checks every command passes.

One :class:`Server` is one Redis instance: databases, connected clients,
configuration, statistics. Several can live in one process (the pytest fixture
starts one per test), so nothing here is global.

Time-driven work happens in :meth:`Server.cron`, called ``hz`` times a second
like Redis's ``serverCron``: the active expiry cycle, idle-client timeouts,
``save`` rules, and the incremental freeing of large values deleted earlier
(:meth:`lazyfree`), which is what keeps a DEL of a million-element set from
stalling everyone else.

When something must hold the loop for long (a script past
``busy-reply-threshold``, loading a big dataset), it calls
``server.while_blocked.process()`` from time to time, Redis's
processEventsWhileBlocked (:mod:`vermilion.server.blocked`): connections are
still accepted and answered (``-BUSY``, ``-LOADING``, SCRIPT KILL, SHUTDOWN).

**Stopping** is Redis's prepareForShutdown / finishShutdown / cancelShutdown
(:meth:`Server.prepare_shutdown`): SHUTDOWN, SIGTERM/SIGINT and embedding
programs all go through it. A master with lagging replicas first waits for
them (``shutdown-timeout``, writes paused); then the ``shutdown_savers``
(persistence) may still refuse: when the final save fails the server logs it
and keeps running with its data, unless FORCE says otherwise.
"""

import asyncio
import collections
import os
import random
import signal
import socket
import sys
import time
import traceback

from ..keyspace.db import Database
from ..keyspace.clock import Clock
from ..keyspace import expire as expire_mod
from ..keyspace import evict as _evict  # noqa: F401  (maxmemory, server.memory)
from ..util import repr_bytes
from ..version import REDIS_VERSION
from ..core.config import Config
from .tls import TLS, TLSError, tls_wanted
from .blocked import WhileBlocked
from ..core.dispatch import resume, new_stats
from ..core.table import FAST_LOOKUP, renames
from ..core.bootstrap import INIT_HOOKS
from .netio import RedisProtocol
from .process import set_oom_score_adj
from .pause import PAUSE_WRITE

_LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3}
_LEVEL_CHAR = ".-*#"

# The start-up banner redis-server prints (redisAsciiArt) when the log goes to a
# terminal or ``always-show-logo yes``: tools and Redis's own test harness wait
# for its " PID: <pid>" line before they talk to the server. Drawn line by line
# (art, then the text beside it) and padded to Redis's widths, so the bytes are
# the ones redis-server 7.0.15 writes.
_LOGO_ROWS = (
    (r"                _._                                                  ", ""),
    (r"           _.-``__ ''-._                                             ", ""),
    (r"      _.-``    `.  `_.  ''-._           ", "Redis {version} ({sha}/{dirty}) {bits} bit"),
    (r"  .-`` .-```.  ```\/    _.,_ ''-._                                  ", ""),
    (r" (    '      ,       .-`  | `,    )     ", "Running in {mode} mode"),
    (r" |`-._`-...-` __...-.``-._|'` _.-'|     ", "Port: {port}"),
    (r" |    `-._   `._    /     _.-'    |     ", "PID: {pid}"),
    (r"  `-._    `-._  `-./  _.-'    _.-'                                   ", ""),
    (r" |`-._`-._    `-.__.-'    _.-'_.-'|                                  ", ""),
    (r" |    `-._`-._        _.-'_.-'    |           https://redis.io       ", ""),
    (r"  `-._    `-._`-.__.-'_.-'    _.-'                                   ", ""),
    (r" |`-._`-._    `-.__.-'    _.-'_.-'|                                  ", ""),
    (r" |    `-._`-._        _.-'_.-'    |                                  ", ""),
    (r"  `-._    `-._`-.__.-'_.-'    _.-'                                   ", ""),
    (r"      `-._    `-.__.-'    _.-'                                       ", ""),
    (r"          `-._        _.-'                                           ", ""),
    (r"              `-.__.-'                                               ", ""),
)


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _bound_socket(host, port, family):
    """The socket create_server(host=..., reuse_address=True) binds for a numeric
    address, bound here the same way (SO_REUSEADDR, IPV6_V6ONLY, and its error on
    a failed bind), or None for a name. Given a host, asyncio and uvloop resolve it
    first, encoding it with the idna codec: unicodedata and stringprep (0.45 MB)
    for every server, and for uvloop a getaddrinfo on its thread pool."""
    try:
        socket.inet_pton(family, host)
    except (OSError, ValueError):
        return None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        addr = (host, port)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            addr = (host, port, 0, 0)
        try:
            sock.bind(addr)
        except OSError as err:
            raise OSError(
                err.errno,
                "error while attempting to bind on address %r: %s" % (addr, err.strerror.lower()),
            ) from None
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def ascii_logo(version, port, pid, mode="standalone", sha="00000000", dirty=0, bits=64):
    """redisAsciiArt()'s text: the banner, a blank line after it."""
    fields = dict(version=version, sha=sha, dirty=dirty, bits=bits, mode=mode, port=port, pid=pid)
    return "".join(art + text.format(**fields) + "\n" for art, text in _LOGO_ROWS) + "\n"


class _FeedSinks:
    """``server.persistence``: the sink propagated writes are fed to (``feed(dbid, cmds)``).

    The AOF sets it to itself or None; other consumers (replication) register
    with :meth:`Server.set_feed_sink`. While no other consumer is registered the
    attribute is the AOF itself (or None): a server without replicas feeds
    exactly as before; otherwise it is a :class:`FeedFanout`. The descriptor has
    no ``__get__``, so a read finds the value in the instance dict with no call
    (CPython 3.11 does not specialise it: ~13 ns more per read, and the
    dispatcher reads it only after a write).
    """

    def __set__(self, server, value):
        if value.__class__ is FeedFanout:
            value = value.aof  # restoring a value read earlier (AOF loading)
        server.__dict__["_aof_sink"] = value
        server._combine_sinks()


class FeedFanout:
    """The sinks while any besides the AOF is registered: each gets every write, AOF
    first. ``aof`` is the AOF's own sink (or None), what ``persistence = x`` restores."""

    __slots__ = ("aof", "sinks")

    def __init__(self, aof, sinks):
        self.aof = aof
        self.sinks = sinks

    def feed(self, dbid, cmds):
        for s in self.sinks:
            s.feed(dbid, cmds)


def _net_error(e: OSError) -> str:
    """The reason in a listening error, as anet's server.neterr spells it
    ("Address already in use"): uvloop's own message names the address too."""
    return os.strerror(e.errno) if e.errno else str(e)


class UnixSocketError(OSError):
    """The unix socket could not be opened (logged as Redis logs it): the process
    exits 1 (__main__), an embedding program gets this OSError."""


class Server:
    persistence = _FeedSinks()

    def set_feed_sink(self, name, sink):
        """Add (or with None remove) a named consumer of propagated writes."""
        extra = dict(self.__dict__.get("_extra_sinks") or {})
        if sink is None:
            extra.pop(name, None)
        else:
            extra[name] = sink
        self.__dict__["_extra_sinks"] = extra
        self._combine_sinks()

    def _combine_sinks(self):
        aof = self.__dict__.get("_aof_sink")
        extra = self.__dict__.get("_extra_sinks")
        if not extra:
            self.__dict__["persistence"] = aof
            return
        sinks = ([aof] if aof is not None else []) + list(extra.values())
        self.__dict__["persistence"] = FeedFanout(aof, sinks)

    def __init__(self, config=None):
        self.config = config if config is not None else Config()
        cfg = self.config
        self.pid = os.getpid()
        self.run_id = "%040x" % random.getrandbits(160)
        self.start_time = time.time()
        self.start_monotonic = time.monotonic()
        self._client_id = 0
        self.clients = {}
        self.dbs = [Database(self, i) for i in range(cfg.get_int("databases"))]
        self.clock = Clock(self)  # the data's time, which a test may move (keyspace/clock.py)
        self.cmdstats = new_stats()  # CommandStats by Command.index (core/dispatch.py)
        self.run_totals = self.cmdstats[0].runs  # (shared by them all)
        self.errorstats = {}
        self.dirty = 0
        self.frozen_ms = 0
        self.expiry_paused = False
        self.active_expire_enabled = True
        self.notify_flags = 0
        self.tracking = None  # set by commands/tracking.py (invalidate_key/all, pending)
        self.current_client = None  # the client whose commands are running (NOLOOP, pending)
        self.executing = True  # invalidations for the current client wait for its reply
        self.ready_keys = []
        self.monitors = []
        self.slowlog = collections.deque()
        self.slowlog_id = 0
        self.special = False
        self.loop = None
        self.listeners = []
        self.lastsave = int(time.time())
        self.stopping = False
        self.stopped = None
        self.pubsub = None
        self.persistence = None
        self.use_hiredis = None
        self.ephemeral_port = False  # port 0 means "pick a free port" (embedding), not "no TCP"
        self.lazyfree_queue = collections.deque()
        self.lazyfree_pending = 0
        self.lazyfreed_objects = 0
        self._flush_set = []
        self._flush_scheduled = False
        self._cron_handle = None
        self.cron_loops = 0
        self.logfile = None
        self.unixsocket = None
        self.pause_until = 0
        self.pause_kind = None
        self.stats_expired_keys = 0
        self.stats_evicted_keys = 0
        self.stats_connections = 0
        self.stats_rejected_conn = 0
        self.stats_keyspace_hits = 0
        self.stats_keyspace_misses = 0
        self.stats_get_misses = 0  # GET's own misses: see server/stats.py keyspace_counts
        self.stats_expired_stale_perc = 0.0
        self.stats_total_error_replies = 0
        self.stats_unexpected_error_replies = 0
        self.blocked_clients = 0
        self.hooks_on_shutdown = []  # fn(save): cleanup once the shutdown is certain
        self.shutdown_savers = []  # fn(save, force) -> False to refuse the shutdown
        self.shutdown_asap = None  # the signal (SIGTERM/SIGINT) that asked to stop
        self.shutdown_deadline = 0  # monotonic time: waiting for replicas until then
        self.shutdown_opts = None  # (save, force) of the shutdown in progress
        self.shutdown_waiters = []  # SHUTDOWN clients waiting for the outcome
        self._shutdown_unpause = None
        # ---- Features' state, created here with its default so that every reader
        # reads it plainly; a feature's @on_server_init hook replaces the default
        # with its own object (and keeps the value current).
        # INFO stats counters nothing increments yet (0, as in an idle Redis)
        self.stats_evicted_clients = 0
        self.stats_expired_time_cap_reached_count = 0
        self.stats_expire_cycle_time_used_ms = 0
        self.stats_dump_payload_sanitizations = 0
        self.stats_total_reads_processed = 0
        self.stats_total_writes_processed = 0
        self.stat_fork_time = 0
        self.stat_total_forks = 0
        self.resetstat_hooks = ()  # fn(): CONFIG RESETSTAT also resets these (evict.py)
        # persistence (persistence/snapshot.py, persistence/aof.py)
        self.snapshot = None  # the Snapshot (SAVE, BGSAVE, the fork child)
        self.aof = None  # the AOF
        self.loading = 0  # 1 while a dataset loads (start/stop_loading)
        self.loading_client = None  # the AOF replay's fake client (exempt from LOADING)
        self.disk_error = None  # the MISCONF text while writes are refused
        # replication (commands/replication.py)
        self.repl = None  # ReplMaster: replicas, backlog, offsets
        # scripting and functions (scripting/, commands/scripting.py, functions.py)
        self.scripting = None  # the Scripting state (scripting.ensure())
        self.scripts = {}  # sha -> script (INFO number_of_cached_scripts)
        self.lua = None  # a Lua VM exists (INFO used_memory_lua)
        self.script_may_write = None  # fn(c, cmd, argv) -> bool | None (CLIENT PAUSE WRITE)
        self.script_denyoom = None  # fn(c, cmd, argv) -> bool (maxmemory's -OOM)
        self.script_allow_stale = None  # fn(c, cmd, argv) -> bool | None (a stale replica)
        self.script_disable_deny_script = False  # DEBUG SET-DISABLE-DENY-SCRIPTS
        self.function_codes = None  # fn() -> library sources (RDB, AOF, full sync)
        self.function_restore = None  # fn(codes, replace) (loading libraries)
        self.function_libraries = None  # the FUNCTION libraries
        # client-side caching (commands/tracking.py)
        self.tracking_state = None
        # keyspace (keyspace/evict.py, keyspace/scan.py)
        self.object_set_lru_lfu = None  # fn(...) for RESTORE/OBJECT's IDLETIME and FREQ
        self._scan_state = None  # keyspace/scan.py's ScanState, made at first SCAN
        # cluster mode (cluster/mode.py; cluster-enabled yes)
        self.cluster = None  # the ClusterState: nodes, slots, epochs
        self.cluster_bus = None  # the gossip engine and its links
        # TLS (server/tls.py; made by start())
        self.tls = None
        self.tls_listeners = []
        self.while_blocked = WhileBlocked(self)
        self.apply_config()
        self.expire_cycle = expire_mod.ActiveExpire(self)
        # rename-command (core/table.py's renames): the names this server answers
        # to, and its own fast-path cache when it has any (the shared one otherwise)
        self.renames = renames(self.config.extra.get("rename-command", ()))
        self.fast_lookup = {} if self.renames else FAST_LOOKUP
        # a writable replica's own keys with a TTL (slaveKeysWithExpire): key ->
        # bitmap of databases; see keyspace/expire.py
        self.replica_expire_keys: dict = {}
        for fn in INIT_HOOKS:
            fn(self)

    # --------------------------------------------------------------- config
    def apply_config(self):
        """Read the configuration values the hot path needs into attributes."""
        cfg = self.config
        self.port = cfg.get_int("port")
        self.maxclients = cfg.get_int("maxclients")
        self.proto_max_bulk_len = cfg.get_int("proto-max-bulk-len")
        self.client_query_buffer_limit = cfg.get_int("client-query-buffer-limit")
        self.tcp_keepalive = cfg.get_int("tcp-keepalive")
        self.timeout = cfg.get_int("timeout")
        self.hz = max(1, min(500, cfg.get_int("hz")))
        self.requirepass = cfg.get("requirepass") or ""
        self.security_warning_logged = 0.0  # last "Possible SECURITY ATTACK" log line
        # call() does its rarer work (slowlog, latency monitor) for commands slower
        # than after_call_ns, the lower of the two thresholds (see the properties).
        self._latency_threshold_ns = 0
        self._slowlog_threshold_ns = 1 << 62
        self.after_call_ns = 1 << 62
        slower = cfg.get_int("slowlog-log-slower-than")
        self.slowlog_threshold_ns = (1 << 62) if slower < 0 else slower * 1000
        self.slowlog_max_len = cfg.get_int("slowlog-max-len")
        self.loglevel = _LEVELS.get(cfg.get("loglevel"), 2)
        self.unixsocket = cfg.get("unixsocket") or None
        hooks = cfg.hooks
        hooks["maxclients"] = lambda v: setattr(self, "maxclients", int(v))
        hooks["proto-max-bulk-len"] = lambda v: setattr(self, "proto_max_bulk_len", int(v))
        hooks["client-query-buffer-limit"] = lambda v: setattr(
            self, "client_query_buffer_limit", int(v)
        )
        hooks["tcp-keepalive"] = lambda v: setattr(self, "tcp_keepalive", int(v))
        hooks["timeout"] = lambda v: setattr(self, "timeout", int(v))
        hooks["hz"] = lambda v: setattr(self, "hz", max(1, min(500, int(v))))
        hooks["requirepass"] = self._set_requirepass
        hooks["slowlog-log-slower-than"] = lambda v: setattr(
            self, "slowlog_threshold_ns", (1 << 62) if int(v) < 0 else int(v) * 1000
        )
        hooks["slowlog-max-len"] = self._set_slowlog_max_len
        hooks["loglevel"] = lambda v: setattr(self, "loglevel", _LEVELS.get(v, 2))

    def _set_requirepass(self, v):
        self.requirepass = v

    def _set_slowlog_max_len(self, v):
        self.slowlog_max_len = int(v)
        while len(self.slowlog) > self.slowlog_max_len:
            self.slowlog.pop()

    def auth_required(self):
        """authRequired(): do new connections start unauthenticated? (the default user
        has a password or is off: vermilion/acl.py answers when it is loaded)"""
        acl = self.acl
        return acl.default_needs_auth() if acl is not None else bool(self.requirepass)

    acl = None  # the ACL users and log (vermilion/acl.py's AclState)
    new_client_acl = None  # the default user when its rules restrict anything

    def next_client_id(self):
        self._client_id += 1
        return self._client_id

    # -------------------------------------------------------------- logging
    log_role = "M"  # the log's role letter: "C" in a fork child (snapshot.fork_child)

    def log(self, level, msg):
        if level < self.loglevel:
            return
        now = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now))
        role = self.log_role
        if role == "M" and self.is_replica:
            role = "S"  # serverLog's role char: a replica's lines say S
        line = "%d:%s %s.%03d %s %s\n" % (
            self.pid,
            role,
            stamp,
            int(now * 1000) % 1000,
            _LEVEL_CHAR[level],
            msg,
        )
        self._write_log(line)

    def log_raw(self, level, text):
        """serverLogRaw with LL_RAW: the text as it is, no pid/time/level prefix."""
        if level < self.loglevel:
            return
        self._write_log(text)

    def _write_log(self, text):
        """To the logfile, or stdout without one; a log that cannot be written is
        not a reason to stop serving."""
        logfile = self.config.get("logfile")
        try:
            if logfile:
                with open(logfile, "a") as fh:
                    fh.write(text)
            else:
                sys.stdout.write(text)
                sys.stdout.flush()
        except OSError:
            pass

    def show_logo(self):
        """redisAsciiArt(): the banner when the log is a terminal or ``always-show-logo
        yes``, else one line with the mode and port (after the listeners are open, so a
        port that was busy is reported without a PID line, as the Tcl harness expects)."""
        cfg = self.config
        port = self.port or cfg.get_int("tls-port")
        logfile = cfg.get("logfile")
        show = cfg.get("always-show-logo") == "yes" or (
            not logfile and cfg.get("syslog-enabled") != "yes" and _isatty(sys.stdout)
        )
        mode = "cluster" if self.cluster is not None else "standalone"
        if show:
            self.log_raw(2, ascii_logo(REDIS_VERSION, port, os.getpid(), mode=mode))
        else:
            self.log_notice("Running mode=%s, port=%d." % (mode, port))

    def log_warning(self, msg):
        self.log(3, msg)

    def log_notice(self, msg):
        self.log(2, msg)

    def log_verbose(self, msg):
        self.log(1, msg)

    def log_exception(self, what):
        self.log(3, "Unexpected exception in %s:\n%s" % (what, traceback.format_exc()))

    # ------------------------------------------------------ command checks
    def check_command(self, c, cmd, argv):
        """processCommand's checks after lookup/arity. Returns an error text or None."""
        if cmd.protected:
            if not self._protected_allowed(c, cmd):
                return (
                    "ERR %s command not allowed. If the %s option is set to \"local\", "
                    "you can run it from a local connection, otherwise you need to set "
                    "this option in the configuration file, and then restart the server."
                    % (
                        cmd.fullname.upper(),
                        "enable-debug-command"
                        if cmd.fullname == "debug"
                        else "enable-module-command",
                    )
                )
        if not c.authenticated and not cmd.no_auth and self.auth_required():
            # authRequired(): a client that connected while a password was required
            # needs none once requirepass is cleared (and needs it again if set again)
            return "NOAUTH Authentication required."
        if c.multi is not None and cmd.no_multi:
            return "ERR Command not allowed inside a transaction"
        if c.acl is not None:
            err = c.acl.check(c, cmd, argv)  # the user's ACL rules (vermilion/acl.py)
            if err is not None:
                return err
        if self.cluster_check is not None:
            # cluster mode: MOVED, ASK, CROSSSLOT... (cluster/route.py)
            err = self.cluster_check(c, cmd, argv)
            if err is not None:
                return err
        if self.maxmemory_check is not None:
            # maxmemory > 0: evict, then -OOM for denyoom commands (keyspace/evict.py)
            err = self.maxmemory_check(c, cmd, argv)
            if err is not None:
                return err
        if (
            c.resp == 2
            and (c.subscriptions or c.psubscriptions or c.ssubscriptions)
            and cmd.fullname not in _SUBSCRIBED_OK
        ):
            return (
                "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                "PING / QUIT / RESET are allowed in this context" % cmd.fullname
            )
        extra = self.extra_checks
        if extra:
            for fn in extra:
                err = fn(c, cmd, argv)
                if err is not None:
                    return err
        return None

    extra_checks = ()
    cluster_check = None  # fn(c, cmd, argv) -> redirect error or None, in cluster mode
    maxmemory_check = None  # fn(c, cmd, argv) -> error or None, set while maxmemory > 0

    def used_memory(self):
        """Redis's used_memory: this server's estimated bytes (vermilion/core/memory.py)."""
        return self.memory.used()

    # fn(c, cmd, argv) -> bool, asked by the dispatcher after every check passed:
    # True means the command must wait (CLIENT PAUSE). The hook parks the client
    # itself (sets c.blocked and keeps argv to run it again: commands/client_cmds.py).
    postpone_check = None

    def _protected_allowed(self, c, cmd):
        name = "enable-debug-command" if cmd.fullname == "debug" else "enable-module-command"
        v = self.config.get(name)
        if v == "yes":
            return True
        if v == "local":
            return c.is_unix or c.addr.startswith("127.") or c.addr.startswith("::1")
        return False

    def count_error(self, msg):
        prefix = msg.split(" ", 1)[0]
        self.stats_total_error_replies += 1
        if len(self.errorstats) < 128 or prefix in self.errorstats:
            self.errorstats[prefix] = self.errorstats.get(prefix, 0) + 1

    # --------------------------------------------- hooks filled by features
    def propagate_command(self, c, argv):
        """A write happened: feed the AOF (persistence) with argv or c.propagate.

        Inside EXEC (or a script) the writes are collected in ``propagate_buffer``
        and fed at the end, wrapped in MULTI/EXEC when there is more than one,
        like Redis 7.0's also_propagate (see :func:`flush_propagation`).
        """
        if c.propagate is not None:
            cmds = c.propagate
            c.propagate = None
        else:
            cmds = (argv,)
        if not cmds:
            return
        buf = self.propagate_buffer
        if buf is not None:
            buf.append((c.db.id, cmds))
            return
        p = self.persistence
        if p is not None:
            p.feed(c.db.id, cmds)

    propagate_buffer = None  # a list while EXEC/a script collects its effects

    def force_replication(self, c, argv):
        """Send ``argv`` to the replicas only, never the AOF (PUBLISH: Redis's
        forceCommandPropagation(c, PROPAGATE_REPL))."""
        repl = self.repl
        if repl is not None and repl.backlog is not None:
            repl.feed(c.db.id, (argv,))

    def begin_propagation_group(self):
        """Start collecting writes (EXEC, EVAL); returns a token for the matching end."""
        if self.propagate_buffer is not None:
            return False  # nested: the outer group wraps everything
        self.propagate_buffer = []
        return True

    def end_propagation_group(self, token):
        if not token:
            return
        buf = self.propagate_buffer
        self.propagate_buffer = None
        p = self.persistence
        if p is None or not buf:
            return
        ops = sum(len(cmds) for _, cmds in buf)
        if ops > 1:
            p.feed(buf[0][0], ([b"MULTI"],))
        for dbid, cmds in buf:
            p.feed(dbid, cmds)
        if ops > 1:
            p.feed(buf[-1][0], ([b"EXEC"],))

    def propagate_expire(self, db, key):
        p = self.persistence
        if p is not None:
            lazy = self.config.get("lazyfree-lazy-expire") == "yes"
            p.feed(db.id, ([b"UNLINK" if lazy else b"DEL", key],))

    def feed_monitors(self, c, argv):
        """MONITOR's line: +<time> [<db> <addr>] "arg" ... (args quoted like sdscatrepr)."""
        now = time.time()
        if c.is_script:
            origin = "lua"  # MONITOR shows a script's commands as [db lua]
        elif c.is_unix:
            origin = "unix:%s" % (self.unixsocket or "")
        else:
            origin = c.addr
        line = b"+%.6f [%d %s] %s\r\n" % (
            now,
            c.db.id,
            origin.encode(),
            b" ".join(repr_bytes(a) for a in argv),
        )
        for m in list(self.monitors):
            m.write_now(line)  # a monitor sees its own commands too, like Redis

    def slowlog_add(self, c, argv, dt_ns):
        entry_id = self.slowlog_id  # slowlog_entry_id++: the first entry is 0, as in Redis
        self.slowlog_id = entry_id + 1
        args = []
        n = len(argv)
        for i, a in enumerate(argv[:32]):
            if i == 31 and n > 32:
                args.append(b"... (%d more arguments)" % (n - 31))
                break
            if len(a) > 128:
                a = a[:128] + b"... (%d more bytes)" % (len(a) - 128)
            args.append(a)
        self.slowlog.appendleft(
            (
                entry_id,
                int(time.time()),
                dt_ns // 1000,
                args,
                c.addr.encode(),
                (c.name or b""),
            )
        )
        while len(self.slowlog) > self.slowlog_max_len:
            self.slowlog.pop()

    def serve_blocked(self):
        """Keys got data: let blocking.py hand it to waiting clients."""
        ready = self.ready_keys
        self.ready_keys = []
        handler = self.blocking_handler
        if handler is not None:
            handler(ready)

    blocking_handler = None

    def notify_keyspace_event(self, kind, event, key, dbid):
        fn = self.keyspace_event_handler
        if fn is not None:
            fn(kind, event, key, dbid)

    keyspace_event_handler = None

    def check_output_limits(self, c):
        fn = self.output_limit_handler
        if fn is not None:
            fn(c)

    output_limit_handler = None

    def client_gone(self, c):
        """A connection closed: forget the client everywhere (once; later calls do nothing)."""
        if self.clients.pop(c.id, None) is None:
            return
        if c.blocked.__class__ is ShutdownWait:
            self._forget_shutdown_waiter(c)
        for fn in self.client_gone_hooks:
            try:
                fn(c)
            except Exception:
                self.log_exception("client cleanup")
        self.remove_monitor(c)

    client_gone_hooks = ()

    def add_client_gone_hook(self, fn):
        self.client_gone_hooks = tuple(self.client_gone_hooks) + (fn,)

    def set_special(self, reason, on):
        """Turn one server-wide reason for the dispatcher's slow path on or off.

        ``self.special`` (every command takes the slow path) holds while any reason
        does, so features (CLIENT PAUSE, ...) never clear each other's.
        """
        reasons = self.__dict__.setdefault("_special_reasons", set())
        if on:
            reasons.add(reason)
        else:
            reasons.discard(reason)
        self.special = bool(reasons)

    # ----------------------------------------------------------- lazy free
    LAZYFREE_THRESHOLD = 64
    LAZYFREE_STEP = 20000

    def lazyfree(self, value):
        """Release a value's memory; a large one piece by piece from the cron."""
        size = _free_effort(value)
        if size > self.LAZYFREE_THRESHOLD:
            self.lazyfree_queue.append(value)
            self.lazyfree_pending += 1
            if self.loop is not None:
                self.loop.call_soon(self._lazyfree_step)

    def _lazyfree_step(self):
        """Free at most LAZYFREE_STEP elements, then yield to clients."""
        budget = self.LAZYFREE_STEP
        q = self.lazyfree_queue
        while q and budget > 0:
            v = q[0]
            budget -= _free_some(v, budget)
            if _free_effort(v) == 0 or budget > 0:
                q.popleft()
                self.lazyfree_pending -= 1
                self.lazyfreed_objects += 1
        if q and self.loop is not None:
            self.loop.call_soon(self._lazyfree_step)

    # -------------------------------------------------------------- output
    def schedule_flush(self, c):
        self._flush_set.append(c)
        if not self._flush_scheduled and self.loop is not None:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush_all)

    def _flush_all(self):
        self._flush_scheduled = False
        pending = self._flush_set
        self._flush_set = []
        for c in pending:
            if c.out:
                c.flush()
                if c.close_after_reply and not c.out and not c.closed:
                    # its last reply went (QUIT, a protocol error...): the client is
                    # gone now, as Redis frees it in beforeSleep, before reading
                    # anything more (connection_lost comes a loop step later)
                    c.closed = True
                    self.client_gone(c)

    def flush_pending_replies(self):
        """Write now what waits for the end of this loop step (the loop is blocked:
        see blocked.py); the step's own flush then finds nothing to do."""
        if self._flush_set:
            self._flush_all()

    def update_oom_score(self, process_class=None):
        """setOOMScoreAdj (server/process.py): after a role change, or in a fork
        child (process.OOM_BGCHILD)."""
        set_oom_score_adj(self, process_class)

    def check_rdb_report(self, path, out):
        """redis-check-rdb's report on the RDB file ``path``, written to ``out``
        (rdbReportCorruptRDB runs it when a corrupt value stops the start-up)."""
        from ..check_rdb import check  # (only then)

        check(path, out)

    # ---------------------------------------------------------------- cron
    def cron(self):
        try:
            if self.cron_paused:
                return  # DEBUG PAUSE-CRON 1 (the timer keeps running)
            self.cron_loops += 1
            if (
                self.active_expire_enabled
                and not self.expiry_paused
                and not self.pause_kind
                and not self.is_replica
            ):
                self.expire_cycle.run(slow=True)
            elif self.replica_expire_keys and self.active_expire_enabled and self.is_replica:
                expire_mod.expire_replica_keys(self)
            if self.timeout > 0 and self.cron_loops % self.hz == 0:
                self._close_idle_clients()
            if self.shutdown_asap is not None and not self.shutdown_deadline:
                self.shutdown_on_signal()  # SIGTERM/SIGINT: prepareForShutdown
            if self.shutdown_deadline and (
                time.monotonic() >= self.shutdown_deadline or self._replicas_in_sync()
            ):
                self.finish_shutdown()  # the replicas caught up, or shutdown-timeout passed
            for fn in self.cron_hooks:
                fn()
        except Exception:
            self.log_exception("cron")
        finally:
            if not self.stopping and self.loop is not None:
                self._cron_handle = self.loop.call_later(1.0 / self.hz, self.cron)

    cron_hooks = ()
    cron_paused = False
    is_replica = False  # REPLICAOF host port: keys expire only by the master's DEL
    loading = 0  # 1 while the dataset loads (persistence/snapshot.py)

    @property
    def slowlog_threshold_ns(self):
        """slowlog-log-slower-than in ns (1 << 62 when the slowlog is off)."""
        return self._slowlog_threshold_ns

    @slowlog_threshold_ns.setter
    def slowlog_threshold_ns(self, ns):
        self._slowlog_threshold_ns = ns
        self._set_after_call_ns()

    @property
    def latency_threshold_ns(self):
        """latency-monitor-threshold in ns; 0 = monitor off."""
        return self._latency_threshold_ns

    @latency_threshold_ns.setter
    def latency_threshold_ns(self, ns):
        self._latency_threshold_ns = ns
        self._set_after_call_ns()

    def _set_after_call_ns(self):
        """call() does its rarer work when a command took longer than after_call_ns:
        the lower threshold of the slowlog and the latency monitor (samples are
        taken at dt >= threshold, slowlog entries at dt > threshold), or always
        (-1) while a client is in MONITOR. Called whenever one of those changes."""
        if self.monitors:
            self.after_call_ns = -1
            return
        lat = self._latency_threshold_ns
        slow = self._slowlog_threshold_ns
        self.after_call_ns = min(slow, lat - 1) if lat else slow

    def add_monitor(self, c):
        self.monitors.append(c)
        self._set_after_call_ns()

    def remove_monitor(self, c):
        if c in self.monitors:
            self.monitors.remove(c)
            self._set_after_call_ns()

    # Called by Client.flush before a client's replies are written (the AOF uses it to
    # write and, with appendfsync always, fsync the pending writes first).
    before_reply_hook = None

    def add_cron_hook(self, fn):
        self.cron_hooks = tuple(self.cron_hooks) + (fn,)

    def _close_idle_clients(self):
        now = time.monotonic()
        for c in list(self.clients.values()):
            if (
                c.blocked is None
                and not c.subscriptions
                and not c.psubscriptions
                and not c.ssubscriptions
                and not c.monitor
                and now - c.last_interaction > self.timeout
            ):
                self.log_verbose("Closing idle client")
                c.close()

    # ------------------------------------------------------- start / stop
    async def start(self):
        """Open the listeners and start the timers on the running loop."""
        self.loop = asyncio.get_running_loop()
        self.stopped = self.loop.create_future()
        cfg = self.config
        # TLS is configured before anything listens, as initServer does: a bad
        # certificate stops the start (vermilion/server/tls.py)
        self.tls = TLS(self, lambda: RedisProtocol(self))
        if tls_wanted(cfg):
            try:
                self.tls.configure()
            except TLSError:
                self.log_warning("Failed to configure TLS. Check logs for more info.")
                raise SystemExit(1)
        port = self.port
        binds = (cfg.get("bind") or "").split()
        if port or self.ephemeral_port:
            for addr in binds:
                optional = addr.startswith("-")
                host = addr[1:] if optional else addr
                if host == "*":
                    host = "0.0.0.0"
                elif host == "::*":
                    host = "::"
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                try:
                    sock = _bound_socket(host, port, family)
                    if sock is not None:
                        srv = await self.loop.create_server(
                            lambda: RedisProtocol(self),
                            sock=sock,
                            backlog=cfg.get_int("tcp-backlog"),
                        )
                    else:
                        srv = await self.loop.create_server(
                            lambda: RedisProtocol(self),
                            host=host,
                            port=port,
                            reuse_address=True,
                            backlog=cfg.get_int("tcp-backlog"),
                            family=family,
                        )
                except OSError as e:
                    if optional or (e.errno in (97, 99) and ":" in host):
                        continue  # IPv6 not available, like Redis's "-::*"
                    # listenToPort's line (anetTcpServer's "bind: ..." error); the
                    # caller then says "Failed listening on port N (TCP), aborting."
                    self.log_warning(
                        "Warning: Could not create server TCP listening socket %s:%d: bind: %s"
                        % (addr.lstrip("-"), port, _net_error(e))
                    )
                    raise
                self.listeners.append(srv)
                if port == 0 or self.port == 0:
                    self.port = srv.sockets[0].getsockname()[1]
                    port = self.port
                    cfg.values["port"] = str(self.port)
        tls_port = cfg.get_int("tls-port")
        if tls_port:
            try:
                await self.tls.listen(tls_port)
            except OSError as e:
                self.log_warning(
                    "Warning: Could not create server TCP listening socket *:%d: bind: %s"
                    % (tls_port, _net_error(e))
                )
                self.log_warning("Failed listening on port %d (TLS), aborting." % tls_port)
                raise SystemExit(1)
        if self.unixsocket:
            try:
                os.unlink(self.unixsocket)
            except OSError:
                pass
            try:
                srv = await self.loop.create_unix_server(
                    lambda: RedisProtocol(self), path=self.unixsocket
                )
            except OSError as e:
                msg = "Failed opening Unix socket: bind: %s" % _net_error(e)
                self.log_warning(msg)
                raise UnixSocketError(e.errno, msg) from None
            perm = cfg.get("unixsocketperm")
            if perm and perm != "0":
                os.chmod(self.unixsocket, int(perm, 8))
            self.listeners.append(srv)
        if not self.listeners:
            self.log_warning("Configured to not listen anywhere, exiting.")
            raise SystemExit(1)
        if self.cluster_bus is not None:
            cport = cfg.get_int("cluster-port") or (port + 10000)
            try:
                await self.cluster_bus.listen(cport, binds)
            except OSError:
                # (the Tcl harness matches this line)
                self.log_warning("Failed listening on port %d (cluster), aborting." % cport)
                raise SystemExit(1)
        metrics_port = cfg.get_int("metrics-port")
        if metrics_port:
            await self._start_metrics(metrics_port, binds)
        self.show_logo()
        self.log_warning("Server initialized")
        for fn in self.startup_hooks:
            fn()
        self._cron_handle = self.loop.call_later(1.0 / self.hz, self.cron)
        self.log_notice("Ready to accept connections")

    startup_hooks = ()

    async def _start_metrics(self, port, binds):
        """``metrics-port``: Prometheus text on HTTP GET /metrics (server/metrics.py)."""
        from . import metrics  # start-up cost: imported only when metrics are on

        try:
            await metrics.start(self, port, binds)
        except OSError as e:
            self.log_warning(
                "Could not create metrics listening socket *:%d: %s" % (port, e.strerror or e)
            )
            self.log_warning("Failed listening on port %d (metrics), aborting." % port)
            raise SystemExit(1)

    def make_protocol(self):
        """A new connection's protocol object (listeners opened later use it too)."""
        return RedisProtocol(self)

    def add_startup_hook(self, fn):
        self.startup_hooks = tuple(self.startup_hooks) + (fn,)

    # ------------------------------------------------------------ shutdown
    # A shutdown (SHUTDOWN, SIGTERM/SIGINT, an embedding program) goes through
    # Redis's three steps. prepare_shutdown (prepareForShutdown) logs the
    # request and, when replicas lag behind and neither NOW nor shutdown-timeout
    # 0 says otherwise, pauses writes and waits for them (the cron finishes the
    # job when they caught up or the timeout passed). finish_shutdown
    # (finishShutdown) runs the steps that may still refuse it, the
    # ``shutdown_savers``: persistence kills its child, flushes the AOF and
    # writes the final RDB, and a failed save refuses the shutdown unless FORCE.
    # Refused, the server keeps running with its data, the SHUTDOWN clients get
    # "-ERR Errors trying to SHUTDOWN. Check logs." and a SIGTERM is forgotten
    # (cancel_shutdown). Accepted, the ``hooks_on_shutdown`` clean up (pid file,
    # replication link), the listeners and clients close and ``stopped`` resolves.
    SHUTDOWN_ERROR = "ERR Errors trying to SHUTDOWN. Check logs."

    def request_shutdown(self, save=None):
        """Stop serving now, whatever happens (for embedding programs and tests):
        no waiting for replicas, and a failed final save does not keep it running.
        ``save`` True/False forces/forbids the final snapshot."""
        return self.prepare_shutdown(save, now=True, force=True)

    def prepare_shutdown(self, save=None, now=False, force=False, origin=None):
        """prepareForShutdown. True once the server is stopping; False when the
        shutdown failed (logged, the server keeps running) or waits for replicas."""
        if self.stopping or self.shutdown_deadline:
            return False
        if self.loading:
            save = False  # half a dataset must never overwrite the file it came from
        self.shutdown_opts = (save, force)
        self.log_warning("User requested shutdown...")
        timeout = self.config.get_int("shutdown-timeout")
        if not now and timeout != 0 and not self._replicas_in_sync():
            self.shutdown_deadline = time.monotonic() + timeout
            repl = self.repl
            if repl is not None:
                repl.request_ack()
            self._pause_writes_for_shutdown()
            self.log_notice("Waiting for replicas before shutting down.")
            return False
        return self.finish_shutdown()

    def _replicas_in_sync(self):
        """isReadyToShutdown: every replica acknowledged our whole stream."""
        repl = self.repl
        if repl is None or not repl.replicas:
            return True
        offset = self.master_repl_offset
        return all(r.ack_off == offset for r in repl.replicas.values())

    def _pause_writes_for_shutdown(self):
        """pauseClients(PAUSE_DURING_SHUTDOWN, WRITE): no new writes the replicas
        would have to catch up with. A CLIENT PAUSE already set is restored after."""
        p = self.client_pause
        self._shutdown_unpause = (p.kind, p.end)
        p.pause((1 << 63) - 1, max(p.kind, PAUSE_WRITE))

    def _unpause_after_shutdown(self):
        saved = self._shutdown_unpause
        self._shutdown_unpause = None
        p = self.client_pause
        if saved is None:
            return
        p.kind, p.end = saved
        p.update()

    def finish_shutdown(self):
        """finishShutdown: True when the server is stopping, False if it refused."""
        save, force = self.shutdown_opts or (None, False)
        self.shutdown_deadline = 0
        repl = self.repl
        if repl is not None and repl.replicas:
            offset = self.master_repl_offset
            lagging = 0
            now = time.time()
            for r in repl.replicas.values():
                if r.ack_off != offset:
                    lagging += 1
                    self.log_warning(
                        "Lagging replica %s:%d reported offset %d behind master, lag=%d, "
                        "state=%s."
                        % (
                            r.address(),
                            r.listening_port,
                            offset - r.ack_off,
                            int(now - r.ack_time) if r.state == "online" else 0,
                            r.state,
                        )
                    )
            n = len(repl.replicas)
            self.log_notice("%d of %d replicas are in sync when shutting down." % (n - lagging, n))
        for fn in self.shutdown_savers:
            try:
                ok = fn(save, force)
            except Exception:
                self.log_exception("shutdown")
                ok = force
            if ok is False:
                self.log_warning(
                    "Errors trying to shut down the server. Check the logs for more information."
                )
                self.cancel_shutdown()
                return False
        self.stopping = True
        for fn in self.hooks_on_shutdown:
            try:
                fn(save)
            except Exception:
                self.log_exception("shutdown hook")
        for srv in self.listeners:
            srv.close()
        self.while_blocked.close()
        self.log_warning("Redis is now ready to exit, bye bye...")
        waiters = self.shutdown_waiters
        self.shutdown_waiters = []
        for c in waiters:
            c.blocked = None
        for c in list(self.clients.values()):
            c.close()
        if self._cron_handle is not None:
            self._cron_handle.cancel()
        if self.unixsocket:
            try:
                os.unlink(self.unixsocket)
            except OSError:
                pass
        if self.stopped is not None and not self.stopped.done():
            self.stopped.set_result(True)
        return True

    def cancel_shutdown(self):
        """cancelShutdown: back to serving; the SHUTDOWN clients get the error."""
        self.shutdown_asap = None
        self.shutdown_opts = None
        self.shutdown_deadline = 0
        waiters = self.shutdown_waiters
        self.shutdown_waiters = []
        for c in waiters:
            if c.blocked.__class__ is ShutdownWait:
                c.blocked = None
                self.blocked_clients -= 1
                self.count_error(self.SHUTDOWN_ERROR)
                if c.cmd is not None and c.cmd.index >= 0:
                    self.cmdstats[c.cmd.index].failed += 1
                c.write_now(b"-%s\r\n" % self.SHUTDOWN_ERROR.encode())
                if c.pending and self.loop is not None:
                    self.loop.call_soon(resume, c)
        self._unpause_after_shutdown()

    def abort_shutdown(self):
        """SHUTDOWN ABORT: True if a shutdown was in progress (or requested by a signal)."""
        if self.shutdown_deadline:
            self.cancel_shutdown()
        elif self.shutdown_asap is not None:
            self.shutdown_asap = None
        else:
            return False
        self.log_notice("Shutdown manually aborted.")
        return True

    def wait_for_shutdown(self, c):
        """The SHUTDOWN client waits for the outcome (Redis's BLOCKED_SHUTDOWN): no
        reply if the server stops, the error if it refuses, later if it waits."""
        c.blocked = ShutdownWait()
        self.blocked_clients += 1
        self.shutdown_waiters.append(c)

    def _forget_shutdown_waiter(self, c):
        if c.blocked.__class__ is ShutdownWait:
            c.blocked = None
            self.blocked_clients -= 1
            try:
                self.shutdown_waiters.remove(c)
            except ValueError:
                pass

    async def serve_forever(self):
        await self.start()
        await self.stopped
        for srv in self.listeners:
            await srv.wait_closed() if hasattr(srv, "wait_closed") else None

    def install_signal_handlers(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self.loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):
                pass
        if self.config.get("crash-log-enabled") != "no":
            # setupSigSegvAction: a SIGABRT someone sends is logged as Redis's crash
            # report before the process dies of it. (Not SIGSEGV/SIGBUS/SIGFPE/SIGILL: a
            # real fault in C code would return into the faulting instruction forever
            # from a Python-level handler.)
            try:
                self.loop.add_signal_handler(signal.SIGABRT, self.crash_by_signal, signal.SIGABRT)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def crash_by_signal(self, sig, si_code=0):
        """sigsegvHandler: bugReportStart, the 'crashed by signal' line, the stack
        (Python's), bugReportEnd, then death by the same signal (SA_RESETHAND + kill)."""
        self.log_raw(3, "\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===\n")
        self.log_warning(
            "Redis %s crashed by signal: %d, si_code: %d" % (REDIS_VERSION, sig, si_code)
        )
        self.log_raw(
            3,
            "\n------ STACK TRACE ------\n\nBacktrace (Python, main thread):\n"
            + "".join(traceback.format_stack()[:-1]),
        )
        self.log_raw(
            3,
            "\n=== REDIS BUG REPORT END. Make sure to include from START to END. ===\n\n"
            "       Please report the crash by opening an issue on github:\n\n"
            "           http://github.com/redis/redis/issues\n\n"
            "  If a Redis module was involved, please open in the module's repo instead.\n\n"
            "  Suspect RAM error? Use redis-server --test-memory to verify it.\n\n"
            "  Some other issues could be detected by redis-server --check-system\n",
        )
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)

    def _on_signal(self, sig):
        """sigShutdownHandler: note the request; the cron runs the shutdown (as
        serverCron does) with the shutdown-on-sigterm / shutdown-on-sigint flags."""
        if self.shutdown_asap is not None and sig == signal.SIGINT:
            # Ctrl+C twice: quit at once, without saving or waiting for replicas
            self.log_warning("You insist... exiting now.")
            try:
                os.unlink(
                    os.path.join(
                        os.path.abspath(self.config.get("dir") or "."), "temp-%d.rdb" % os.getpid()
                    )
                )
            except OSError:
                pass
            os._exit(1)
        name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
        self.log_warning("Received %s scheduling shutdown..." % name)
        self.shutdown_asap = sig  # serverCron acts on it (so DEBUG PAUSE-CRON delays it)

    def shutdown_on_signal(self):
        sig = self.shutdown_asap
        if sig is None or self.shutdown_deadline or self.stopping:
            return  # SHUTDOWN ABORT came first, or a shutdown is already under way
        name = "sigterm" if sig == signal.SIGTERM else "sigint"
        flags = (self.config.get("shutdown-on-" + name) or "").split()
        save = True if "save" in flags else False if "nosave" in flags else None
        if not self.prepare_shutdown(save, now="now" in flags, force="force" in flags):
            if not self.shutdown_deadline:
                self.shutdown_asap = None  # refused (logged): keep serving


class ShutdownWait:
    """``c.blocked`` of a client whose SHUTDOWN waits for the outcome."""

    __slots__ = ()


_SUBSCRIBED_OK = frozenset(
    (
        "subscribe",
        "unsubscribe",
        "psubscribe",
        "punsubscribe",
        "ssubscribe",
        "sunsubscribe",
        "ping",
        "quit",
        "reset",
    )
)


def _free_effort(v):
    """How many elements freeing ``v`` costs (0 for a flat object)."""
    t = v.__class__
    if t is bytes or t is bytearray or t is int:
        return 0
    try:
        return len(v)
    except TypeError:
        return 0


def _free_some(v, budget):
    """Drop up to ``budget`` elements of a container; returns how many were dropped."""
    free = getattr(v, "free_some", None)
    if free is not None:
        return free(budget)
    n = min(budget, len(v))
    if isinstance(v, dict):
        pop = v.popitem
        for _ in range(n):
            pop()
    elif isinstance(v, (set,)):
        pop = v.pop
        for _ in range(n):
            pop()
    elif isinstance(v, list):
        del v[-n:]
    elif isinstance(v, collections.deque):
        pop = v.pop
        for _ in range(n):
            pop()
    else:
        clear = getattr(v, "clear", None)
        if clear is not None:
            clear()
        return max(n, 1)
    return max(n, 1)
