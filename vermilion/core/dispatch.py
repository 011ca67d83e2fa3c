"""The dispatcher: how a request becomes a reply (Redis's processCommand and call()).

Everything a client sends comes here one network read's worth of requests at a
time: :func:`execute_one` for a read that holds a single request (a client that
does not pipeline), :func:`execute_batch` for several (and :func:`run_commands`
for what a blocked or paused client pipelined meanwhile). For each request there
are two questions, asked in this order:

**May it run?** (:func:`process_command`, Redis's ``processCommand``.) Look the
command up, check its arity, then everything about the client and the server
that can refuse or delay it: authentication, ACL, OOM, a disk error, a busy
script, loading, a replica's rules, MULTI (queue it instead), CLIENT PAUSE (park
it). The checks live in ``Server.check_command``; a refusal is answered with
Redis's error text and flags a MULTI transaction (:func:`reject`).

**Run it** (:func:`call`, Redis's ``call()``.) Run the command function, turn its
return value into RESP in the client's output, and account for it: INFO
commandstats (named counters in :class:`CommandStats`), errorstats, propagation
of a write to the AOF and replicas, MONITOR, the slowlog, the latency monitor and
client-side caching. EXEC runs each queued command through :func:`call`, and so
does ``redis.call`` from a script, so there is exactly one place where a command
runs and is counted.

The fast path. Most requests are plain commands from a client and a server in
no special state: nothing of the first question can refuse them. Rather than
asking every check every time, the state that could matter is folded into two
flags kept up to date where it changes (``Client.special``: in MULTI, not
authenticated, ACL-restricted, subscribed in RESP2, reply suppression, tracking,
MONITOR; ``Server.special``: loading, paused, maxmemory, a busy script, a disk
error, a replica). A request takes the fast path when both flags are clear, the
command is "plain" (no sub-commands, not MULTI/EXEC's own, nothing protected)
and its argument count is one the command accepts; then it is one dict lookup,
a few attribute tests, and :func:`call`. When, besides, nothing takes writes (no
AOF, no replica), there is no maxmemory, no cluster and no low slowlog/latency
threshold (checked once per batch), a run of cheap commands goes through a
shorter loop still (:func:`_run_plain`): looked up, run, answered, counted once
when the run ends.

A command signals failure by raising :class:`~vermilion.errors.CommandError`;
anything else it raises is a bug, which is logged and answered with an error
reply, so no request can take the server down.
"""

import time
from operator import length_hint
from typing import Any, Callable, Iterator, Sequence

from ..errors import CommandError, Redirect
from ..protocol.encoder import (
    BULK_HEADS,
    BULK_HEADS_MAX,
    CRLF,
    Raw,
    QUEUED,
    INTS,
    INT_REPLIES,
    NO_REPLY,
    ErrorReply,
    encode,
    error_bytes,
    drop_replies,
)
from ..cluster.slots import key_hash_slot
from .client import Client
from .table import (
    ALL_COMMANDS,
    BATCH_TIMED,
    MULTI_PASSTHROUGH,
    Command,
    lookup,
    lookup_argv,
    lookup_in,
)

Argv = list  # list[bytes]: one request, the command name first

# Replies at least this long are checked against client-output-buffer-limit as they
# are added (core/limits.py), not only when the batch is written.
BIG_REPLY = 1 << 16

_perf = time.perf_counter_ns


class RunTotals:
    """A server's totals over the untimed runs of cheap commands (see
    :func:`execute_batch`): their time, and how many commands they held."""

    __slots__ = ("ns", "n")

    def __init__(self) -> None:
        self.ns = 0
        self.n = 0


class CommandStats:
    """One command's INFO commandstats counters (Redis's per-command fields).

    ``calls``/``ns`` count the calls timed one by one; ``run_calls`` the calls
    made inside an untimed run (:func:`execute_batch`), each of which is given
    the average time of a command in those runs (the server's
    :class:`RunTotals`) when read. Read the totals with :meth:`total_calls` and
    :meth:`total_ns`."""

    __slots__ = ("calls", "ns", "rejected", "failed", "run_calls", "runs")

    def __init__(self, runs: RunTotals | None = None) -> None:
        self.calls = 0  # calls timed on their own
        self.ns = 0  # their total time, ns (INFO shows usec)
        self.rejected = 0  # rejected_calls: refused before running (processCommand)
        self.failed = 0  # failed_calls: ran and answered an error
        self.run_calls = 0  # calls made inside untimed runs
        self.runs = runs if runs is not None else RunTotals()

    def total_calls(self) -> int:
        return self.calls + self.run_calls

    def total_ns(self) -> int:
        k = self.run_calls
        runs = self.runs
        return self.ns + runs.ns * k // runs.n if k and runs.n else self.ns

    def reset(self) -> None:
        self.calls = self.ns = self.rejected = self.failed = self.run_calls = 0
        self.runs.ns = self.runs.n = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.total_calls(), self.total_ns(), self.rejected, self.failed)

    def restore(self, t: Sequence[int]) -> None:
        self.calls, self.ns, self.rejected, self.failed = t
        self.run_calls = 0


def new_stats() -> list[CommandStats]:
    """A server's counters: one :class:`CommandStats` per command, by ``Command.index``
    (sharing the server's :class:`RunTotals`)."""
    runs = RunTotals()
    return [CommandStats(runs) for _ in ALL_COMMANDS]


def stats_rows(server: Any) -> Iterator[tuple[str, int, int, int, int]]:
    """(name, calls, usec, rejected, failed) for INFO commandstats, in table order."""
    for cmd in ALL_COMMANDS:
        st = server.cmdstats[cmd.index]
        calls = st.total_calls()
        if calls or st.rejected or st.failed:
            yield cmd.fullname, calls, st.total_ns() // 1000, st.rejected, st.failed


# ------------------------------------------------------------ a client's requests
def run_commands(c: Client, cmds: list[Argv], start: int = 0) -> None:
    """Execute cmds[start:] for client c; keep the rest if it blocks."""
    i = execute_batch(c, cmds, start)
    if i < len(cmds) and not c.close_after_reply:
        c.pending = cmds[i:]
    else:
        c.pending = None


def execute_batch(c: Client, cmds: Sequence[Argv], start: int = 0) -> int:
    """Run cmds[start:] for client ``c`` until it blocks or must close.

    Returns the index of the first command not run (len(cmds) when all ran).

    This loop is the hot path, so for a plain command it does :func:`call`'s steps
    itself, in the same order (run, reply, count, propagate, the rarer work); call()
    stays the definition, and anything unusual is handed to the same helpers it
    uses.

    What decides the path and the extra work (the client's and the server's
    special flags, maxmemory, the AOF/replication sink, the slowlog/latency/MONITOR
    threshold) is read into locals once, and read again only after a command that
    could change it: one that is not ``Command.pure`` (a data command, which
    cannot), the slow path, or serving blocked clients.

    Timing. Reading the clock and adding up nanoseconds cost a cheap command
    (GET, INCR, PING) as much as a sixth of its whole cost, so the cheap ones
    (``Command.batch_timed``: Redis's ``@fast`` data commands, and SET) are not
    timed one by one: each is counted (``CommandStats.run_calls``, exact at once)
    and a run of them is timed as a whole, its time going to the server's
    :class:`RunTotals`: in INFO commandstats each of them is given the average
    time of a command in those runs (the time of a batch split evenly between
    its commands). A run whose time passes the slowlog/latency threshold has its
    time split the same way, and each share over the threshold is logged.
    Every other command is timed on its own, and every command is while that
    threshold is under ``PRECISE_NS`` (MONITOR, ``slowlog-log-slower-than 0``, a
    low latency threshold), where each one's own time matters.
    """
    server = c.server
    if len(cmds) - start < RUN_MIN:
        if len(cmds) - start == 1:
            execute_one(c, cmds[start])
            return start + 1
    elif (
        not c.special
        and not server.special
        and server.maxmemory_check is None
        and server.persistence is None
        and server.cluster is None
        and server.after_call_ns >= PRECISE_NS
        and server.fast_lookup.get(cmds[start][0]) in BATCH_TIMED
    ):
        # the common case: the short loop, as far as it can go
        start = _run_plain(c, cmds, start)
        if start == len(cmds) or c.blocked is not None or c.close_after_reply:
            return start
    return _execute_general(c, cmds, start)


def _execute_general(c: Client, cmds: Sequence[Argv], start: int) -> int:
    """:func:`execute_batch`'s general loop, for any request in any state."""
    server = c.server
    server.current_client = c
    get = server.fast_lookup.get  # plain commands only (table.FAST_LOOKUP, or see resolve)
    out = c.out
    append = out.append
    stats = server.cmdstats
    perf = _perf
    n = len(cmds)
    seq = cmds if start == 0 else cmds[start:]
    it = iter(seq)
    special = c.special or server.special
    maxmemory_check = server.maxmemory_check
    persistence = server.persistence
    after_ns = server.after_call_ns
    # (a batch of one or two commands is cheaper to time command by command)
    runs_pay = len(seq) >= RUN_MIN
    untimed = BATCH_TIMED if runs_pay and after_ns >= PRECISE_NS else _NONE
    cluster = server.cluster  # cluster mode: each command's slot must be ours
    dirty = 0
    k = 0  # commands in the current untimed run
    t0 = t_run = perf()  # t_run: when the current run started (or the last command ended)
    for argv in it:
        cmd = get(argv[0])
        if (
            special
            or cmd is None
            or len(argv) not in cmd.argcs
            or (cluster is not None and not _cluster_local(cluster, cmd, argv))
        ):
            if k:  # the run ends before this command
                _end_run(c, seq, len(seq) - length_hint(it) - 1, k, perf() - t_run)
                k = 0
            if persistence is None:
                c.propagate = None  # (not for a sink this command might switch on)
            _process_slow(c, argv)
            if c.blocked is not None or c.close_after_reply:
                break
            out = c.out
            append = out.append
            special = c.special or server.special
            maxmemory_check = server.maxmemory_check
            persistence = server.persistence
            after_ns = server.after_call_ns
            untimed = BATCH_TIMED if runs_pay and after_ns >= PRECISE_NS else _NONE
            t_run = perf()
            continue
        c.cmd = cmd
        if maxmemory_check is not None:
            # the one processCommand check that can refuse a plain command from a
            # client in no special state: evict, or -OOM (keyspace/evict.py)
            err = maxmemory_check(c, cmd, argv)
            if err is not None:
                if k:  # the run ends before this command
                    _end_run(c, seq, len(seq) - length_hint(it) - 1, k, perf() - t_run)
                    k = 0
                reject(c, argv, err)
                t_run = perf()
                continue
        if persistence is not None:
            dirty = server.dirty
        if cmd in untimed:
            stats[cmd.index].run_calls += 1
            k += 1  # (so k is 0 after the call exactly when it is timed)
        else:
            if k:  # the run ends before this command, which starts now
                t0 = perf()
                _end_run(c, seq, len(seq) - length_hint(it) - 1, k, t0 - t_run)
                k = 0
            else:
                t0 = t_run  # (its time runs from the end of the command before)
        try:
            r = cmd.func(c, argv)
        except CommandError as e:
            r = _failed(server, cmd, e.msg)
        except Exception as e:  # a bug: never let it escape to the connection
            r = _internal_error(c, cmd, e)
        t = r.__class__
        if t is Raw:
            append(r)
            if len(r) >= BIG_REPLY and _big_reply(c):
                r = NO_REPLY  # closed: stop after the accounting (see the end)
        elif t is bytes:
            n_r = len(r)
            append(BULK_HEADS[n_r] if n_r < BULK_HEADS_MAX else b"$%d\r\n" % n_r)
            append(r)
            append(CRLF)
            if n_r >= BIG_REPLY and _big_reply(c):
                r = NO_REPLY
        elif t is int:
            append(INTS[r] if 0 <= r < INT_REPLIES else b":%d\r\n" % r)
        elif r is None:
            append(b"$-1\r\n" if c.resp == 2 else b"_\r\n")
        elif t is ErrorReply:
            append(error_bytes(r))
        elif r is not NO_REPLY:
            r = encode(r, c.resp)
            append(r)
            if len(r) >= BIG_REPLY and _big_reply(c):
                r = NO_REPLY
        if not k:
            t_run = perf()
            dt = t_run - t0
            st = stats[cmd.index]
            st.calls += 1
            st.ns += dt
        if persistence is not None:  # the AOF or a replica takes writes
            if c.propagate is not None or (cmd.is_write and server.dirty != dirty):
                server.propagate_command(c, argv)
        if not k and dt > after_ns:  # (-1 while a client is in MONITOR)
            _after_call(c, cmd, argv, dt)
        if server.ready_keys:
            if k:  # the run ends with this command
                _end_run(c, seq, len(seq) - length_hint(it), k, perf() - t_run)
                k = 0
            server.serve_blocked()
            t_run = perf()
            cmd = None  # (read the locals again, below)
        if r is NO_REPLY and (c.blocked is not None or c.close_after_reply):
            break
        if cmd is None or not cmd.pure:
            # this command could have changed what the locals hold
            if persistence is None:
                c.propagate = None  # (asked for while nothing took writes)
            special = c.special or server.special
            maxmemory_check = server.maxmemory_check
            persistence = server.persistence
            after_ns = server.after_call_ns
            untimed = BATCH_TIMED if runs_pay and after_ns >= PRECISE_NS else _NONE
    if k:  # the run ends with the batch (or with the command that blocked)
        dt = perf() - t_run
        runs = server.run_totals  # (_end_run's common case, written out)
        runs.ns += dt
        runs.n += k
        if dt > after_ns:
            _end_run(c, seq, len(seq) - length_hint(it), k, dt, False)
    if persistence is None:
        c.propagate = None
    server.current_client = None
    return n - length_hint(it)


def execute_one(c: Client, argv: Argv) -> None:
    """One request on its own (a client that does not pipeline: most of them).

    A plain command from a client and a server in no special state, with no
    maxmemory and no cluster, is :func:`call` and no more: nothing else of the
    batch loop applies to a single request. Anything else goes through
    :func:`_execute_general`, as it would in a batch. The command is consumed
    either way, even if it blocks or closes the client (there is no rest to keep).
    """
    server = c.server
    cmd = server.fast_lookup.get(argv[0])
    if (
        cmd is None
        or len(argv) not in cmd.argcs
        or c.special
        or server.special
        or server.maxmemory_check is not None
        or server.cluster is not None
    ):
        _execute_general(c, (argv,), 0)
        return
    server.current_client = c
    c.cmd = cmd
    call(c, cmd, argv)
    if server.ready_keys:
        server.serve_blocked()
    server.current_client = None


def _run_plain(c: Client, cmds: Sequence[Argv], start: int) -> int:
    """:func:`execute_batch`'s loop for the state nearly every batch is in, chosen
    once per batch: a client and a server in no special state, no maxmemory, no
    AOF or replica taking writes, not a cluster, no slowlog/latency threshold
    under ``PRECISE_NS``. Then a cheap command (``Command.batch_timed``, always
    ``pure``: it cannot change any of that) needs none of the general loop's
    per-command tests: it is looked up, counted, run and answered, and the run
    is timed as a whole. The loop stops before the first request that is
    anything else (unknown, another arity, not a cheap command), after a command
    that woke blocked clients, blocked or closed the client; it returns the index
    of the first request not run, and :func:`execute_batch` goes on from there.
    Its steps are the general loop's (run, reply, count), written out again: a
    shared helper called per command would cost what this loop saves.
    """
    server = c.server
    server.current_client = c
    get = server.fast_lookup.get
    untimed = BATCH_TIMED
    append = c.out.append
    ran: list[Command] = []  # counted when the run ends
    ran_append = ran.append
    t_run = _perf()
    for argv in cmds if start == 0 else cmds[start:]:
        cmd = get(argv[0])
        if cmd not in untimed or len(argv) not in cmd.argcs:
            break  # (None is not in it)
        c.cmd = cmd
        ran_append(cmd)
        try:
            r = cmd.func(c, argv)
        except CommandError as e:
            r = _failed(server, cmd, e.msg)
        except Exception as e:  # a bug: never let it escape to the connection
            r = _internal_error(c, cmd, e)
        t = r.__class__
        if t is bytes:
            n = len(r)
            append(BULK_HEADS[n] if n < BULK_HEADS_MAX else b"$%d\r\n" % n)
            append(r)
            append(CRLF)
            if n >= BIG_REPLY and _big_reply(c):
                break
        elif t is Raw:
            append(r)
            if len(r) >= BIG_REPLY and _big_reply(c):
                break
        elif t is int:
            append(INTS[r] if 0 <= r < INT_REPLIES else b":%d\r\n" % r)
        elif r is None:
            append(b"$-1\r\n" if c.resp == 2 else b"_\r\n")
        elif t is ErrorReply:
            append(error_bytes(r))
        elif r is NO_REPLY:
            if c.blocked is not None or c.close_after_reply:
                break
        else:
            r = encode(r, c.resp)
            append(r)
            if len(r) >= BIG_REPLY and _big_reply(c):
                break
        if server.ready_keys:
            break  # (execute_batch serves the blocked clients, then goes on)
    dt = _perf() - t_run
    k = len(ran)
    if k:
        stats = server.cmdstats
        first = ran[0]
        if ran.count(first) == k:  # (a run of one command: the usual case)
            stats[first.index].run_calls += k
        else:
            counts: dict[Command, int] = {}
            for cmd in ran:
                counts[cmd] = counts.get(cmd, 0) + 1
            for cmd, n in counts.items():
                stats[cmd.index].run_calls += n
        runs = server.run_totals
        runs.ns += dt
        runs.n += k
        if dt > server.after_call_ns:
            _end_run(c, cmds, start + k, k, dt, False)
        if server.ready_keys:
            server.serve_blocked()
    c.propagate = None  # (asked for while nothing took writes)
    server.current_client = None
    return start + k


# While the slowlog/latency threshold is under this (ns), every command is timed
# on its own (see execute_batch); and in a batch of fewer than RUN_MIN commands.
PRECISE_NS = 1_000_000
RUN_MIN = 3
_NONE: frozenset = frozenset()


def _end_run(c: Client, seq: Sequence[Argv], end: int, k: int, ns: int, count: bool = True) -> None:
    """An untimed run ends: its ``k`` commands, ``seq[end - k:end]``, took ``ns``
    in all. Add it to the server's :class:`RunTotals` (unless ``count`` is false:
    the caller did); if it took longer than the slowlog/latency threshold, each
    command's share is what call() would have measured, and a share over the
    threshold is logged."""
    server = c.server
    if count:
        runs = server.run_totals
        runs.ns += ns
        runs.n += k
    if ns > server.after_call_ns:
        share = ns // k
        if share > server.after_call_ns:
            get = server.fast_lookup.get
            for argv in seq[end - k : end]:
                _after_call(c, get(argv[0]), argv, share)


def _cluster_local(cluster: Any, cmd: Command, argv: Argv) -> bool:
    """Cluster mode's shortcut of getNodeByQuery for the fast path: a command
    without keys, or whose one key (argv[1]) is in a slot we serve while the
    cluster is ok and no slot is being moved, runs here. Anything else takes
    the slow path, where cluster/route.py decides (MOVED, ASK, READONLY...)."""
    ck = cmd.cluster_key
    if ck == 0:
        return True
    if ck is None or cluster.state or cluster.migrating_slots_to or cluster.importing_slots_from:
        return False
    return cluster.slots[key_hash_slot(argv[1])] is cluster.myself


def call(c: Client, cmd: Command, argv: Argv, reply: bool = True) -> Any:
    """Redis's ``call()``: run ``cmd`` for ``c`` and account for it.

    With ``reply`` the result is added to ``c.out`` as RESP; without it (a script's
    ``redis.call``) it is only returned. Returns what the command returned, an
    :class:`ErrorReply` if it failed, or ``NO_REPLY``.
    """
    server = c.server
    dirty = server.dirty
    t0 = _perf()
    try:
        r = cmd.func(c, argv)  # type: ignore[misc]  # (only bound commands are looked up)
    except CommandError as e:
        r = _failed(server, cmd, e.msg)
    except Exception as e:  # a bug: never let it escape to the connection
        r = _internal_error(c, cmd, e)
    if reply and r is not NO_REPLY:
        add_reply(c, r)
    dt = _perf() - t0
    st = server.cmdstats[cmd.index]
    st.calls += 1
    st.ns += dt
    if c.propagate is not None or (server.dirty != dirty and cmd.is_write):
        _propagate(c, argv)
    if dt > server.after_call_ns or c.tracking is not None:
        _after_call(c, cmd, argv, dt)
    return r


def add_reply(c: Client, r: Any) -> None:
    """Append reply value ``r`` to ``c.out`` as RESP (addReply)."""
    t = r.__class__
    out = c.out
    if t is bytes:
        # header, value, CRLF: the value itself is not copied here
        n = len(r)
        out.append(BULK_HEADS[n] if n < BULK_HEADS_MAX else b"$%d\r\n" % n)
        out.append(r)
        out.append(CRLF)
        if n < BIG_REPLY:
            return
    elif t is Raw:  # (+OK and the other pre-encoded replies)
        out.append(r)
        if len(r) < BIG_REPLY:
            return
    elif t is int:
        out.append(INTS[r] if 0 <= r < INT_REPLIES else b":%d\r\n" % r)
        return
    elif r is None:
        out.append(b"$-1\r\n" if c.resp == 2 else b"_\r\n")
        return
    elif t is ErrorReply:
        out.append(error_bytes(r))
        return
    else:
        r = encode(r, c.resp)
        out.append(r)
        if len(r) < BIG_REPLY:
            return
    _big_reply(c)


def _big_reply(c: Client) -> bool:
    """A big reply was just added: client-output-buffer-limit acts now, as Redis
    checks after each reply (a pipeline of large GETs must not build up hundreds
    of megabytes before the batch's single write). True if the client is closed."""
    return c.server.output_limits.check(c)


def _failed(server: Any, cmd: Command, msg: str) -> ErrorReply:
    """A command raised CommandError: count it (errorstats, failed_calls)."""
    server.count_error(msg)
    server.cmdstats[cmd.index].failed += 1
    return ErrorReply(msg)


def _propagate(c: Client, argv: Argv) -> None:
    """A write happened (or the command asked, with c.propagate): feed it on."""
    sink = c.propagate_to
    if sink is not None:
        sink(c, argv)  # a script collects its own effects
    elif c.server.persistence is not None:
        c.server.propagate_command(c, argv)
    else:
        c.propagate = None


def _after_call(c: Client, cmd: Command, argv: Argv, dt: int) -> None:
    """What call() does only sometimes: MONITOR, slowlog, latency, tracking."""
    server = c.server
    if server.monitors and not (cmd.skip_monitor or cmd.admin):
        server.feed_monitors(c, argv)  # admin commands are never shown (call() in server.c)
    if dt > server.slowlog_threshold_ns and not cmd.skip_slowlog:
        st = c.blocked
        if st is None:
            server.slowlog_add(c, argv, dt)
        elif hasattr(st, "defer_slowlog"):
            st.defer_slowlog(argv, dt)  # blocked.c: logged once it is unblocked
    lat = server.latency_threshold_ns  # latency-monitor-threshold
    if lat and dt >= lat:
        server.latency.command_done(cmd, dt)
    hook = tracking_after_command
    if c.tracking is not None and hook is not None:
        hook(c, cmd, argv)  # (commands/tracking.py registers it)


def _internal_error(c: Client, cmd: Command, e: Exception) -> ErrorReply:
    server = c.server
    server.log_exception("command %s" % cmd.fullname)
    msg = "ERR internal error in '%s': %s" % (cmd.fullname, type(e).__name__)
    server.count_error(msg)
    server.cmdstats[cmd.index].failed += 1
    return ErrorReply(msg)


# Client-side caching's hook after each call (commands/tracking.py sets it: the
# dispatcher knows nothing of the feature, the feature registers with it).
tracking_after_command: Callable[[Client, Command, Argv], None] | None = None


def set_tracking_hook(fn: Callable[[Client, Command, Argv], None]) -> None:
    global tracking_after_command
    tracking_after_command = fn


# -------------------------------------------------------------- processCommand
def _process_slow(c: Client, argv: Argv) -> None:
    """Every check of Redis's processCommand, for clients or servers in a special state."""
    mark = len(c.out)
    if c.reply_off:
        c.reply_off_mark = mark
    replica = "S" in c.flags_extra  # (a replica is always special: client.py)
    if process_command(c, argv) is _PARKED:
        return  # its reply and resetClient() come when it really runs
    if replica and len(c.out) > mark:
        # a replica's link carries the stream, never a reply (replication/master.py)
        c.server.repl.replica_replied(c, mark)
        return
    if c.asking and c.multi is None and argv[0].lower() != b"asking":
        c.asking = False  # resetClient: ASKING is good for one command (or one MULTI)
        c.update_special()
    if c.reply_off or c.reply_skip or c.reply_skip_next:
        # CLIENT REPLY OFF|SKIP (networking.c resetClient): drop this command's answer,
        # rejections included. With OFF, only what was added while it was on: a
        # CLIENT REPLY OFF/ON run by EXEC switches in the middle of EXEC's reply.
        if c.reply_skip:
            drop_replies(c.out, mark)
        elif c.reply_off:
            drop_replies(c.out, max(mark, c.reply_off_mark))
        c.reply_skip = False
        if c.reply_skip_next:
            c.reply_skip = True
            c.reply_skip_next = False
        c.update_special()


_PARKED = object()


def process_command(c: Client, argv: Argv) -> object:
    """Look up, check, queue or call (returns _PARKED if CLIENT PAUSE holds it)."""
    server = c.server
    names = server.renames
    try:
        cmd = resolve(argv, names)
    except CommandError as e:
        if argv[0].lower() in (b"post", b"host:"):
            security_warning(c)  # HTTP sent to Redis: no reply, connection dropped
            return None
        c.cmd = lookup_argv(argv)  # Redis keeps the command found even when arity fails
        reject(c, argv, e.msg)
        return None
    c.cmd = cmd
    if names:
        # a renamed server's own fast-path cache, filled as table.lookup fills the
        # shared one: the top-level plain commands found under this spelling
        top = lookup_in(names, argv[0])
        fast = server.fast_lookup
        if top is not None and top.plain and len(fast) < 4096:
            fast[argv[0]] = top
    err = server.check_command(c, cmd, argv)
    if err is not None:
        reject(c, argv, err)
        return None
    tr = server.tracking
    if tr is not None and tr.max_keys and len(tr.table) > tr.max_keys:
        tr.limit_used_slots()  # tracking-table-max-keys, checked before each command
    postpone = server.postpone_check
    if postpone is not None and postpone(c, cmd, argv):
        return _PARKED  # CLIENT PAUSE: argv runs again when the client is released
    if c.multi is not None and cmd.fullname not in MULTI_PASSTHROUGH:
        c.multi.append((cmd, argv))
        c.out.append(QUEUED)
        return None
    call(c, cmd, argv)
    c.cmd = cmd  # EXEC ran others: CLIENT LIST shows the command the client sent
    if server.ready_keys:
        server.serve_blocked()
    return None


def _sanitize(b: bytes) -> str:
    return b.decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")


def _args_preview(argv: Argv) -> str:
    """`'a' 'b' ` as in Redis's unknown-command error (args truncated to 128 bytes)."""
    parts = []
    size = 0
    for a in argv:
        if size >= 128:
            break
        s = a[: 128 - size]
        size += len(s)
        parts.append("'%s' " % s.decode("utf-8", "replace"))
    return "".join(parts)


def unknown_command_error(argv: Argv) -> str:
    return "ERR unknown command '%.128s', with args beginning with: %s" % (
        _sanitize(argv[0]),
        _args_preview(argv[1:]),
    )


def resolve(argv: Argv, names: dict | None = None) -> Command:
    """Find the (sub)command for argv and check arity; raise CommandError if none.

    ``names``: the server's rename-command map (core/table.py's renames)."""
    cmd = lookup_in(names, argv[0]) if names else lookup(argv[0])
    if cmd is None:
        raise CommandError(unknown_command_error(argv))
    if cmd.subcommands is not None:
        if len(argv) == 1:
            if cmd.func is None:
                raise CommandError("ERR wrong number of arguments for '%s' command" % cmd.fullname)
        else:
            sub = cmd.subcommands.get(argv[1].lower())
            if sub is None:
                if cmd.func is None:
                    raise CommandError(
                        "ERR unknown subcommand '%.128s'. Try %s HELP."
                        % (_sanitize(argv[1]), cmd.fullname.upper())
                    )
            else:
                cmd = sub
    ar = cmd.arity
    n = len(argv)
    if (ar > 0 and n != ar) or n < -ar:
        raise CommandError("ERR wrong number of arguments for '%s' command" % cmd.fullname)
    return cmd


def reject(c: Client, argv: Argv, err: str) -> None:
    """rejectCommand: whatever processCommand refuses (unknown command, arity, auth,
    ACL, OOM, ...) flags the client's transaction; a refused EXEC (c.cmd is EXEC,
    with or without MULTI) instead ends the transaction there and then, with
    execCommandAbort's EXECABORT, so the client's next commands are not queued."""
    server = c.server
    if c.multi is not None:
        c.dirty_exec = True
    cmd = c.cmd
    if cmd is not None:
        server.cmdstats[cmd.index].rejected += 1
        if cmd.fullname == "exec":
            c.discard_transaction()
            if err.__class__ is Redirect:
                # a cluster redirect of EXEC is answered as is (processCommand)
                server.count_error(err)
                c.out.append(error_bytes(err))
                return
            # Redis formats its own refusals without the "ERR " that addReplyError
            # adds later (rejectCommandFormat); coded ones (NOAUTH, OOM...) keep theirs.
            if err.startswith("ERR "):
                err = err[4:]
            err = "EXECABORT Transaction discarded because of: " + err
            if server.monitors:
                server.feed_monitors(c, argv)
    server.count_error(err)
    c.out.append(error_bytes(err))


def security_warning(c: Client) -> None:
    """securityWarningCommand: POST / Host: lines are HTTP, likely cross-protocol scripting.

    The connection is dropped with whatever it had not been sent yet, and the event
    is logged at most once a minute.
    """
    server = c.server
    now = time.time()
    if abs(now - server.security_warning_logged) > 60:
        server.log_warning(
            "Possible SECURITY ATTACK detected. It looks like somebody is "
            "sending POST or Host: commands to Redis. This is likely due to an "
            "attacker attempting to use Cross Protocol Scripting to compromise "
            "your Redis instance. Connection aborted."
        )
        server.security_warning_logged = now
    c.out.clear()
    c.close_after_reply = True  # stop the pipeline here
    if c.transport is not None and not c.closed:
        c.transport.abort()


# ------------------------------------------------- after a block, pause or error
def resume(c: Client) -> None:
    """Run what a client pipelined while it was blocked or paused."""
    if c.closed or c.blocked is not None:
        return
    pending = c.pending
    c.pending = None
    if pending:
        run_commands(c, pending)
    if c.pending is None and c.reader.error is not None and not c.close_after_reply:
        protocol_error(c)
    c.flush()
    if c.pending is None and c.paused_reading and c.conn is not None:
        c.conn.resume_if_possible()


def protocol_error(c: Client) -> None:
    """The reader found a broken request: Redis's error reply (counted in
    errorstats like any error reply: addReplyError), then the connection closes."""
    msg = "ERR " + c.reader.error
    c.server.count_error(msg)
    c.out.append(error_bytes(msg))
    c.close_after_reply = True
    c.server.log_verbose(
        "Protocol error (%s) from client: id=%d addr=%s" % (c.reader.error, c.id, c.addr)
    )
