"""The server's clock: the time its data sees, which a test can move.

Every time a client can observe goes through one :class:`Clock` per server
(``server.clock``): key expiry (lazy and active), TTL/PTTL/EXPIRETIME and the
times SET EX, EXPIRE and GETEX compute, TIME, stream IDs and the idle times of
stream consumers and pending entries, the access clocks behind OBJECT IDLETIME
and OBJECT FREQ (LFU decay), and the deadlines of blocking commands (BLPOP,
BZPOPMIN, XREAD BLOCK, WAIT, ...). A test moves it::

    srv.clock.advance(10)       # ten seconds pass for the data, at once
    srv.clock.freeze()          # time stands still until advanced or unfrozen
    srv.clock.set(1700000000)   # jump to a Unix time
    srv.clock.reset()           # real time again

After each change the server catches up as if the time had really passed
(:data:`CHANGE_HOOKS`, run on the server's thread): the cached access clock is
refreshed, an active-expiry cycle deletes the keys now due, and blocked clients
whose deadline has passed get their timeout reply.

What stays real: durations the server measures about itself (SLOWLOG, the
latency monitor, INFO commandstats, cron and timers' scheduling, CLIENT PAUSE,
client idle times and the ``timeout`` parameter, replication heartbeats, save
points). Those are about the process, not the data, and a test that jumps an
hour must not see its own connections closed as idle.

Cost when nobody moves it: nothing. The clock's ``time`` is ``time.time`` itself
until it is moved, and so is each :class:`~.db.Database`'s ``time`` slot, which
the hot readers call (``Database.now`` on a key with a TTL, XADD, the TTL
family): the same single C call they made before the clock existed. Moving the
clock installs Python functions computing the virtual time in both places, for
this server only; :meth:`Clock.reset` puts ``time.time`` back.

A clock's methods change the server, so they run on the server's own thread
(its event loop); :class:`vermilion.embed.EmbeddedServer`'s ``clock`` carries
each call there and waits for it.
"""

import math
import time

_time = time.time
_time_ns = time.time_ns

# fn(server): what must catch up after the clock changed (registered at import by
# keyspace/lru.py, keyspace/expire.py, keyspace/blocking.py), in registration order.
CHANGE_HOOKS: list = []


def on_clock_change(fn):
    CHANGE_HOOKS.append(fn)
    return fn


def _real_ms():
    return int(_time() * 1000)


def _real_us():
    return _time_ns() // 1000


def _seconds_ns(seconds):
    """A duration (seconds as int/float, or a timedelta) in integer nanoseconds."""
    if hasattr(seconds, "total_seconds"):  # a timedelta (datetime is not imported at start-up)
        return (seconds.days * 86400 + seconds.seconds) * 10**9 + seconds.microseconds * 1000
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("seconds must be a number or a timedelta, not %s" % type(seconds).__name__)
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise ValueError("seconds must be finite")
    if isinstance(seconds, int):
        return seconds * 10**9
    # the decimal the float was written as (1700000000.25 is not 1700000000.249999)
    from decimal import Decimal  # start-up cost: only a test moving the clock needs it

    return int(Decimal(repr(seconds)) * 10**9)


def _timestamp_ns(when):
    """A point in time (Unix seconds as int/float, or a datetime; naive means local
    time, as datetime.timestamp() reads it) in integer nanoseconds."""
    if hasattr(when, "timestamp"):  # a datetime
        return round(when.timestamp() * 1e6) * 1000
    return _seconds_ns(when)


class Clock:
    """One server's clock (``server.clock``). Read it with :meth:`time` (seconds,
    float), :meth:`ms` or :meth:`us` (integers); move it, on the server's thread,
    with :meth:`advance`, :meth:`freeze`, :meth:`unfreeze`, :meth:`set` and
    :meth:`reset`. ``moved`` and ``frozen`` say what state it is in."""

    def __init__(self, server):
        self.server = server
        self.offset_ns = 0  # virtual - real, while running
        self.frozen_ns = None  # the virtual time while frozen
        self.moved = False
        self._install()

    @property
    def frozen(self):
        return self.frozen_ns is not None

    def now_ns(self):
        """The clock's time in integer nanoseconds since the epoch."""
        f = self.frozen_ns
        return f if f is not None else _time_ns() + self.offset_ns

    def _virtual_time(self):
        f = self.frozen_ns
        return (f if f is not None else _time_ns() + self.offset_ns) / 1e9

    def _virtual_ms(self):
        return int(self._virtual_time() * 1000)  # the formula Database.now uses

    def _virtual_us(self):
        return self.now_ns() // 1000

    # ---------------------------------------------------------------- moving
    def advance(self, seconds):
        """Let ``seconds`` (a number or a timedelta; negative goes back) pass at once.
        Returns the clock's new time."""
        ns = _seconds_ns(seconds)
        if self.frozen_ns is not None:
            self.frozen_ns += ns
        else:
            self.offset_ns += ns
        return self._changed()

    def freeze(self, at=None):
        """Stop the clock, at its current time or at ``at`` (Unix seconds or a
        datetime). Returns the frozen time."""
        self.frozen_ns = self.now_ns() if at is None else _timestamp_ns(at)
        return self._changed()

    def unfreeze(self):
        """Let a frozen clock run again from where it stands (it stays moved)."""
        if self.frozen_ns is not None:
            self.offset_ns = self.frozen_ns - _time_ns()
            self.frozen_ns = None
        return self._changed()

    resume = unfreeze

    def set(self, when):
        """Jump to ``when`` (Unix seconds or a datetime); a frozen clock stays frozen."""
        ns = _timestamp_ns(when)
        if self.frozen_ns is not None:
            self.frozen_ns = ns
        else:
            self.offset_ns = ns - _time_ns()
        return self._changed()

    def reset(self):
        """Real time again (what a new server has)."""
        was = self.moved
        self.offset_ns = 0
        self.frozen_ns = None
        if was:
            self._changed()
        return self.time()

    # ------------------------------------------------------------- internals
    def _install(self):
        """Point the readers at time.time (unmoved) or at the virtual clock."""
        self.moved = moved = self.frozen_ns is not None or self.offset_ns != 0
        if moved:
            self.time, self.ms, self.us = self._virtual_time, self._virtual_ms, self._virtual_us
        else:
            self.time, self.ms, self.us = _time, _real_ms, _real_us
        for db in self.server.dbs:
            db.time = self.time

    def _changed(self):
        self._install()
        server = self.server
        for fn in CHANGE_HOOKS:
            fn(server)
        return self.time()

    def __repr__(self):
        state = "frozen" if self.frozen else ("moved" if self.moved else "real")
        return "<Clock %s %.6f>" % (state, self.time())
