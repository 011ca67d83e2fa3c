"""Blocking operations on keys (Redis's blocked.c): BLPOP and friends.

A client that asks for data a key does not have yet (BLPOP on an empty list,
BZPOPMIN on an empty sorted set, XREAD BLOCK on a stream with nothing new) is
*blocked*: it gets no reply, its later pipelined commands wait, and it is
registered in ``db.blocking[key]`` for each key it waits on. When a write gives
one of those keys data, the writer calls ``db.ready(key)``; after the current
command (or the whole MULTI/EXEC, or script) the dispatcher calls
``server.serve_blocked()``, which lands in this module, and the waiting clients
are served first-blocked-first-served until the key runs out.

API for a blocking command (lists now; sorted sets and streams use the same)
-----------------------------------------------------------------------------

``deadline = parse_timeout(arg)``
    Parse a timeout in seconds (float, like Redis's getTimeoutFromObjectOrReply
    with UNIT_SECONDS) into an absolute deadline in ms, ``0`` meaning forever.
    Raises Redis's "timeout is not a float or out of range" / "timeout is
    negative" errors. ``parse_timeout_ms(arg)`` is the integer-ms variant
    (XREAD BLOCK, WAIT: "timeout is not an integer or out of range").
    Parse it at the point Redis does (error precedence matters).

``if deny_blocking(c): return NULL_ARRAY``
    Inside MULTI/EXEC (``c.in_exec``) or for a client without a connection
    (scripts, AOF loading) a blocking command must not block: it answers what
    Redis answers in that case (the non-blocking form's "nothing" reply).

``return block(c, keys, deadline, serve_fn, timeout_reply=NULL_ARRAY, data=None)``
    Block ``c`` on ``keys`` (duplicates ignored) and return ``NO_REPLY`` from the
    command. ``serve_fn(c, key)`` is called, with the blocked client as ``c``,
    each time ``key`` is signalled ready; it must:

    * return ``None`` if it cannot serve (key missing, wrong type now, nothing
      new): the client stays blocked (a BLPOP whose key became a string keeps
      waiting, exactly like Redis 7.0). It is called even when the key no longer
      exists (so a stream helper can fail XREADGROUP clients of a deleted key);
      keys are served in the order they were signalled, and the clients of a
      key in the order they blocked;
    * otherwise do the work (pop, ``c.server.dirty``, ``c.db.notify``,
      ``c.db.signal`` as Redis does in its serve path), set ``c.propagate`` to
      the non-blocking form(s) to write to the AOF/replicas (list of argv lists),
      and return the reply value (anything the encoder takes; it is encoded in
      the client's protocol);
    * or raise ``CommandError``: the client gets the error and is unblocked
      (BLMOVE whose destination has the wrong type).

    ``timeout_reply`` is what the client gets when the deadline passes or on
    ``CLIENT UNBLOCK id TIMEOUT`` (a null array for lists, zsets, streams).
    ``data`` is free for the command (``c.blocked.data`` in ``serve_fn``): the
    list commands keep (where, count, ...) there.

``unblock(c, reply)``
    End a block from outside (a WAIT-like command with no keys; CLIENT UNBLOCK):
    remove ``c`` from every wait queue, cancel its timer, send ``reply`` (a value,
    or ``ErrorReply``), and run the commands it pipelined meanwhile.

``unblock_by_id(server, client_id, error)``
    CLIENT UNBLOCK: 1 if a blocked client was unblocked, else 0.

``disconnect_all_blocked(server)``
    REPLICAOF turning a master into a replica: every client blocked on keys gets
    ``-UNBLOCKED force unblock ...`` and is disconnected.

``signal_existing_keys(db)``
    SWAPDB (Redis's scanDatabaseForReadyKeys): mark every key that has waiting
    clients and now exists as ready.

Bookkeeping kept here: ``c.blocked`` (a :class:`BlockState` while blocked, else
None), ``server.blocked_clients`` and ``server.clients_in_timeout_table`` (INFO
clients: blocked clients that have a deadline), per-client deadline timers
(``loop.call_later``: sub-second precision, none when the timeout is 0), and
removal of a client from every queue when it disconnects.

Deadlines are on the server's clock (keyspace/clock.py): ``parse_timeout`` adds
the timeout to the real time, and ``block`` moves the deadline onto the clock
when a test has moved it. The timers still run on the event loop, so while the
clock is moved each one checks the clock when it fires (a frozen clock arms
none), and every change of the clock re-arms them all: a client whose deadline
the jump passed gets its timeout reply before ``clock.advance()`` returns.

Serving happens after the command that made the key ready, never in the middle
of EXEC or a script (``server.frozen_ms`` is set then: the keys are kept for the
call that ends the transaction), so ``MULTI; LPUSH k a; LPOP k; EXEC`` serves
nobody, as in Redis.
"""

import math
import re
import time

from ..errors import CommandError, TIMEOUT_NEG, TIMEOUT_NOT_FLOAT
from ..util import parse_ll
from ..protocol.encoder import NULL_ARRAY, ErrorReply, encode, error_bytes
from ..core.bootstrap import on_server_init
from .clock import on_clock_change
from ..util import parse_int
from ..protocol.encoder import NO_REPLY
from ..core.dispatch import resume
from ..util import LLONG_MAX as _LLONG_MAX

_M63 = 1 << 63
_M64 = 1 << 64
_time = time.time
_perf = time.perf_counter_ns

# What strtold accepts (Redis parses the timeout as a long double): decimal or
# hexadecimal floats, inf/infinity; no spaces, no NaN, no underscores.
_FLOAT_RE = re.compile(
    rb"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
    rb"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?"
    rb"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)\Z"
)


class BlockState:
    """What a blocked client waits for (``c.blocked``)."""

    __slots__ = (
        "db",
        "keys",
        "deadline",
        "serve",
        "timeout_reply",
        "timer",
        "cmd",
        "data",
        "slowlog",
    )

    def __init__(self, db, keys, deadline, serve, timeout_reply, cmd, data):
        self.db = db
        self.keys = keys
        self.deadline = deadline
        self.serve = serve
        self.timeout_reply = timeout_reply
        self.timer = None
        self.cmd = cmd
        self.data = data
        self.slowlog = None

    def defer_slowlog(self, argv, call_ns):
        """The dispatcher's slowlog entry for a command that blocked: written once it
        is served or CLIENT UNBLOCKed (never on timeout), as Redis 7.0 does."""
        self.slowlog = (argv, call_ns)


def _account(c, st, serve_ns):
    """updateStatsOnUnblock: command time and the deferred slowlog entry."""
    server = c.server
    if st.cmd is not None:
        server.cmdstats[st.cmd.index].ns += serve_ns
    if st.slowlog is not None:
        argv, call_ns = st.slowlog
        st.slowlog = None
        server.slowlog_add(c, argv, call_ns + serve_ns)


def _now_ms():
    return int(_time() * 1000)


_EXACT = None  # (Fraction, Decimal, LDBL_MAX, LDBL_TINY, 2), see _exact()


def _exact():
    """Exact arithmetic for a timeout that is not a plain integer (rare): decimal
    and fractions are imported then, not by every server at start-up."""
    global _EXACT
    if _EXACT is None:
        from decimal import Decimal  # start-up cost: only a fractional timeout needs it
        from fractions import Fraction  # start-up cost: only a fractional timeout needs it

        _EXACT = (
            Fraction,
            Decimal,
            Fraction(Decimal("1.18973149535723176502e4932")),  # LDBL_MAX
            Fraction(Decimal("1.8225997659412373012e-4951")),  # half the smallest denormal
            Fraction(2),
        )
    return _EXACT


def _long_double(x):
    """Round the exact value ``x`` (a Fraction) to an x87 long double (64-bit mantissa)."""
    if not x:
        return x
    Fraction, _, _, _, _TWO = _exact()
    a = -x if x < 0 else x
    shift = 63 - (a.numerator.bit_length() - a.denominator.bit_length())
    while True:
        scaled = a * _TWO**shift
        if scaled >= _M64:
            shift -= 1
        elif scaled < _M63:
            shift += 1
        else:
            break
    r = Fraction(round(scaled)) / _TWO**shift
    return -r if x < 0 else r


def _to_number(b):
    """The value strtold reads from ``b``, exactly (Fraction), or None for +-inf."""
    if len(b) >= 5120 or not _FLOAT_RE.match(b):
        raise CommandError(TIMEOUT_NOT_FLOAT)
    Fraction, Decimal, _LDBL_MAX, _LDBL_TINY, _TWO = _exact()
    s = b.decode()
    neg = s[0] == "-"
    body = s.lstrip("+-")
    low = body.lower()
    if low.startswith("inf"):
        return None
    if low.startswith("0x"):
        mant, _, exp = low[2:].partition("p")
        whole, _, frac = mant.partition(".")
        digits = int((whole + frac) or "0", 16)
        e2 = int(exp or "0") - 4 * len(frac)
        if digits and not -16500 < e2 + digits.bit_length() < 16500:
            raise CommandError(TIMEOUT_NOT_FLOAT)  # far outside a long double: ERANGE
        v = Fraction(digits) * _TWO**e2 if digits else Fraction(0)
    else:
        d = Decimal(body)
        if d and not -5000 < d.adjusted() < 5000:
            raise CommandError(TIMEOUT_NOT_FLOAT)  # far outside a long double: ERANGE
        v = Fraction(d)
    if v and (v > _LDBL_MAX or v < _LDBL_TINY):
        raise CommandError(TIMEOUT_NOT_FLOAT)  # strtold: ERANGE
    return -v if neg else v


def parse_timeout(arg):
    """A timeout in seconds -> absolute deadline in ms (0 = block forever).

    Redis computes ``(long long) ceill(strtold(arg) * 1000.0)`` in long double
    arithmetic; that is reproduced exactly, rounding included (``-0.001`` gives -0:
    block forever), and so are the out-of-range conversions (``inf``, ``1e400``:
    LLONG_MIN, hence "timeout is negative").
    """
    v = parse_ll(arg)
    if v is not None and -9223372036854775 <= v <= 9223372036854775:
        ms = v * 1000
    else:
        x = _to_number(arg)
        if x is None:
            raise CommandError(TIMEOUT_NEG)
        ms = math.ceil(_long_double(_long_double(x) * 1000))
        if ms > _LLONG_MAX:
            raise CommandError(TIMEOUT_NEG)
    if ms < 0:
        raise CommandError(TIMEOUT_NEG)
    if ms > 0:
        ms += _now_ms()
        if ms > _LLONG_MAX:
            ms = 0  # wraps negative in Redis, a deadline its timer never reaches
    return ms


def parse_timeout_ms(arg):
    """A timeout in integer milliseconds -> absolute deadline in ms (0 = forever)."""
    ms = parse_int(arg, "ERR timeout is not an integer or out of range")
    if ms < 0:
        raise CommandError(TIMEOUT_NEG)
    if ms > 0:
        ms += _now_ms()
        if ms > _LLONG_MAX:
            ms = 0
    return ms


def deny_blocking(c):
    """True when ``c`` may not block (inside EXEC, scripts, connection-less clients)."""
    return c.in_exec or c.conn is None


def block(c, keys, deadline, serve_fn, timeout_reply=NULL_ARRAY, data=None):
    """Block ``c`` on ``keys`` until served, timed out or unblocked; returns NO_REPLY."""
    server = c.server
    db = c.db
    uniq = list(dict.fromkeys(keys))
    st = BlockState(db, uniq, deadline, serve_fn, timeout_reply, c.cmd, data)
    blocking = db.blocking
    for key in uniq:
        q = blocking.get(key)
        if q is None:
            blocking[key] = {c: None}
        else:
            q[c] = None
    c.blocked = st
    server.blocked_clients += 1
    if deadline:
        server.clients_in_timeout_table += 1
        clock = server.clock
        if clock.moved:
            # parse_timeout counted from the real time: count from the clock's
            st.deadline = deadline = deadline - _now_ms() + clock.ms()
            _arm(c, st)
        elif server.loop is not None:
            delay = (deadline - _now_ms()) / 1000.0
            st.timer = server.loop.call_later(max(delay, 0.0), _timed_out, c, st)
    return NO_REPLY


def _arm(c, st):
    """(Re)arm ``st``'s timer for the time left on the moved clock: none while the
    clock is frozen and the deadline is ahead (only moving the clock gets there)."""
    if st.timer is not None:
        st.timer.cancel()
        st.timer = None
    server = c.server
    clock = server.clock
    left = st.deadline - clock.ms()
    if left > 0 and clock.frozen:
        return
    if server.loop is not None:
        st.timer = server.loop.call_later(max(left, 0) / 1000.0, _timed_out, c, st)


@on_clock_change
def _clock_moved(server):
    """Re-arm every deadline on the clock's new time; the ones now past time out
    here, before the clock call returns."""
    clock = server.clock
    now = clock.ms()
    for c in list(server.clients.values()):
        st = c.blocked
        if st.__class__ is BlockState and st.deadline:
            if st.deadline <= now:
                if st.timer is not None:
                    st.timer.cancel()
                _timed_out(c, st)
            else:
                _arm(c, st)


def _release(c):
    """Forget ``c``'s block: wait queues, timer, counters. Returns the old state."""
    st = c.blocked
    if st is None:
        return None
    c.blocked = None
    blocking = st.db.blocking
    for key in st.keys:
        q = blocking.get(key)
        if q is not None:
            q.pop(c, None)
            if not q:
                del blocking[key]
    if st.timer is not None:
        st.timer.cancel()
        st.timer = None
    server = c.server
    server.blocked_clients -= 1
    if st.deadline:
        server.clients_in_timeout_table -= 1
    return st


def _resume_later(c):
    loop = c.server.loop
    if loop is not None:
        loop.call_soon(resume, c)


def _send(c, data):
    if not c.reply_off:
        c.write_now(data)


def unblock(c, reply, _serve_ns=0):
    """Unblock ``c`` with ``reply`` (a reply value or an ErrorReply) and resume it."""
    st = _release(c)
    if st is None:
        return False
    _account(c, st, _serve_ns)
    if reply.__class__ is ErrorReply:
        c.server.count_error(str(reply))
        if st.cmd is not None:
            c.server.cmdstats[st.cmd.index].failed += 1
        _send(c, error_bytes(str(reply)))
    else:
        _send(c, encode(reply, c.resp))
    _resume_later(c)
    return True


def _timed_out(c, st):
    if c.blocked is st:
        if c.server.clock.moved and st.deadline > c.server.clock.ms():
            _arm(c, st)  # the loop's timer ran out, the moved clock's time has not
            return
        st.timer = None
        st.slowlog = None  # Redis 7.0 logs no slowlog entry for a timed-out command
        unblock(c, st.timeout_reply)


def unblock_by_id(server, client_id, error=False):
    """CLIENT UNBLOCK <id> [TIMEOUT|ERROR]: 1 if the client was blocked, else 0."""
    target = server.clients.get(client_id)
    if target is None or target.blocked is None or target.blocked.__class__ is not BlockState:
        return 0
    st = target.blocked
    if error:
        unblock(target, ErrorReply("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
    else:
        unblock(target, st.timeout_reply)
        if st.cmd is not None:
            server.cmdstats[st.cmd.index].failed += 1  # updateStatsOnUnblock(..., had_errors=1)
    return 1


def disconnect_all_blocked(server):
    """REPLICAOF (disconnectAllBlockedClients): clients blocked on keys get an
    -UNBLOCKED error and are disconnected once it is written."""
    msg = (
        "UNBLOCKED force unblock from blocking operation, instance state changed "
        "(master -> replica?)"
    )
    for c in list(server.clients.values()):
        if c.blocked.__class__ is BlockState:
            _release(c)
            c.pending = None
            server.count_error(msg)
            c.close_after_reply = True
            _send(c, error_bytes(msg))


def signal_existing_keys(db):
    """SWAPDB: every key with waiting clients that now exists is ready."""
    for key in list(db.blocking):
        if key in db.data:
            db.ready(key)


def _serve_one(server, c, st, key):
    """Try to serve blocked client ``c`` from ``key``; True if it was unblocked.

    While it is served ``c`` is the current client, as in Redis's
    handleClientsBlockedOnKeys: invalidations of keys it tracks and its command
    touched are sent after its reply (afterCommand), not before.
    """
    prev = server.current_client
    tr = server.tracking_state
    if tr is None:
        return _serve(server, c, st, key)
    saved = tr.pending
    tr.pending = []
    server.current_client = c
    try:
        return _serve(server, c, st, key)
    finally:
        server.current_client = prev
        if tr.pending:
            tr.flush_pending(c)
        tr.pending = saved


def _serve(server, c, st, key):
    t0 = _perf()
    try:
        r = st.serve(c, key)
    except CommandError as e:
        if c.propagate is not None:
            server.propagate_command(c, None)
        unblock(c, ErrorReply(e.msg), _perf() - t0)
        return True
    except Exception as e:  # a bug in a serve function: answer, never crash the caller
        server.log_exception("serving a blocked client")
        c.propagate = None
        unblock(
            c,
            ErrorReply(
                "ERR internal error serving '%s': %s"
                % (st.cmd.fullname if st.cmd else "?", type(e).__name__)
            ),
        )
        return True
    if r is None:
        return False
    if c.propagate is not None:
        server.propagate_command(c, None)
    _release(c)
    _send(c, encode(r, c.resp))
    _account(c, st, _perf() - t0)
    _resume_later(c)
    return True


def handle_ready(server, ready):
    """server.blocking_handler: serve the clients waiting on keys that got data."""
    if server.frozen_ms:
        # Inside EXEC or a script: serve once it is over.
        server.ready_keys[:0] = ready
        return
    while ready:
        seen = set()
        for db, key in ready:
            mark = (db.id, key)
            if mark in seen:
                continue
            seen.add(mark)
            waiting = db.blocking.get(key)
            if not waiting:
                continue
            db.lookup(key)  # expires it if due (and propagates the DEL), like Redis
            for c in list(waiting):
                st = c.blocked
                if st is None or st.__class__ is not BlockState or st.db is not db:
                    continue
                if c not in waiting:
                    continue
                _serve_one(server, c, st, key)
        ready = server.ready_keys
        server.ready_keys = []


def _client_gone(c):
    if c.blocked is not None and c.blocked.__class__ is BlockState:
        _release(c)


@on_server_init
def _init(server):
    server.clients_in_timeout_table = 0
    server.blocking_handler = lambda ready: handle_ready(server, ready)
    server.add_client_gone_hook(_client_gone)
