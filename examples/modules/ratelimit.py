"""ratelimit: a GCRA rate limiter for Vermilion, written in Python.

The command is redis-cell's ``CL.THROTTLE``; its state is a module data type,
``gcra-cell``, saved in RDB files as Redis's module-type record.

Load it::

    vermilion --loadmodule examples/modules/ratelimit.py
    # or, in a config file:  loadmodule /path/to/examples/modules/ratelimit.py
    # or, with enable-module-command yes:  MODULE LOAD /path/to/ratelimit.py

Commands:

``CL.THROTTLE key max_burst count period [quantity]``
    Allow ``count`` actions per ``period`` seconds, with bursts of up to
    ``max_burst + 1``; take ``quantity`` (default 1) now. Replies, as redis-cell:
    ``[limited (0/1), limit (max_burst + 1), remaining, retry_after (s, -1 when
    allowed), reset_after (s)]``. The key expires once the limiter is full again.

``CL.INFO key``
    ``[tat_ms, allowed, denied]`` of a limiter (tat: its theoretical arrival time,
    in Unix ms), or nil.

``CL.SET key tat_ms allowed denied [PXAT ms]``
    Set a limiter's state: what CL.THROTTLE propagates to the AOF and the
    replicas, so that they get the same state whatever their clock says.

GCRA (the generic cell rate algorithm) keeps one timestamp per key, the TAT: a
request of quantity q at time ``now`` is allowed when ``max(tat, now) + q*T -
(max_burst + 1)*T <= now`` (T = period/count), and then moves the TAT there.
"""

from vermilion.module import NOT_INT, OK, ReplyError

TYPE_NAME = "gcra-cell"  # a module type name is 9 characters
ENCVER = 1


class Cell:
    """One limiter's state: the value stored at its key."""

    __slots__ = ("tat", "allowed", "denied")

    def __init__(self, tat=0, allowed=0, denied=0):
        self.tat = tat  # theoretical arrival time, Unix ms
        self.allowed = allowed
        self.denied = denied

    def __repr__(self):
        return "Cell(tat=%d, allowed=%d, denied=%d)" % (self.tat, self.allowed, self.denied)

    # RDB: three integers, each behind its RDB_MODULE_OPCODE_UINT
    @staticmethod
    def rdb_save(io, cell):
        io.save_signed(cell.tat)
        io.save_unsigned(cell.allowed)
        io.save_unsigned(cell.denied)

    @staticmethod
    def rdb_load(io, encver):
        if encver != ENCVER:
            return None  # a version we cannot read: the load fails with Redis's text
        return Cell(io.load_signed(), io.load_unsigned(), io.load_unsigned())


def _int(b, minimum=0):
    try:
        v = int(b)
    except ValueError:
        raise ReplyError(NOT_INT) from None
    if v < minimum:
        raise ReplyError("ERR invalid argument: %s must be >= %d" % (b.decode(), minimum))
    return v


def throttle(ctx, argv):
    key = argv[1]
    burst = _int(argv[2])
    count = _int(argv[3], 1)
    period = _int(argv[4], 1)
    quantity = _int(argv[5]) if len(argv) > 5 else 1
    if len(argv) > 6:
        raise ReplyError("ERR wrong number of arguments for 'cl.throttle' command")
    now = ctx.now_ms()
    cell = ctx.get_value(key, Cell)  # WRONGTYPE if the key holds something else
    emission = period * 1000.0 / count  # ms between two actions at the steady rate
    tolerance = emission * (burst + 1)
    increment = emission * quantity
    tat = max(cell.tat if cell is not None else now, now)
    new_tat = tat + increment
    diff = now - (new_tat - tolerance)
    retry_after = -1
    if diff < 0:
        limited = 1
        if increment <= tolerance:
            retry_after = -diff
        ttl = tat - now
    else:
        limited = 0
        ttl = new_tat - now
    nxt = tolerance - ttl
    remaining = int(nxt // emission) if nxt > -emission else 0
    if cell is None:
        cell = Cell(now)
    if limited:
        cell.denied += 1
    else:
        cell.tat = int(new_tat)
        cell.allowed += 1
    expire_at = max(cell.tat, now + 1)
    ctx.set(key, cell)
    ctx.pexpireat(key, expire_at)
    # the effect, not the command: a replica or the AOF gets the same state
    ctx.replicate(b"CL.SET", key, cell.tat, cell.allowed, cell.denied, b"PXAT", expire_at)
    ctx.notify("cl.throttle", key)  # a keyspace event of class "d" (module)
    return [
        limited,
        burst + 1,
        remaining,
        -1 if retry_after < 0 else int(-(-retry_after // 1000)),
        int(-(-ttl // 1000)) if ttl > 0 else 0,
    ]


def info(ctx, argv):
    cell = ctx.get_value(argv[1], Cell)
    if cell is None:
        return None
    return [cell.tat, cell.allowed, cell.denied]


def set_cell(ctx, argv):
    key = argv[1]
    cell = Cell(_int(argv[2], -(1 << 62)), _int(argv[3]), _int(argv[4]))
    pxat = None
    if len(argv) == 7 and argv[5].lower() == b"pxat":
        pxat = _int(argv[6])
    elif len(argv) != 5:
        raise ReplyError("ERR syntax error")
    old = ctx.get(key)
    if old is not None and not isinstance(old, Cell):
        raise ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value")
    ctx.set(key, cell)
    if pxat is not None:
        ctx.pexpireat(key, pxat)
    ctx.notify("cl.set", key)
    return OK


def on_load(module, args):
    """Called by the server when the module loads (RedisModule_OnLoad)."""
    module.init("ratelimit", ver=1)
    module.create_type(TYPE_NAME, ENCVER, Cell)
    module.command(
        "cl.throttle",
        throttle,
        arity=-5,
        flags="write deny-oom fast",
        first_key=1,
        last_key=1,
        step=1,
        summary="Rate-limit an action with GCRA (redis-cell's CL.THROTTLE)",
        since="1.0.0",
        complexity="O(1)",
    )
    module.command(
        "cl.info",
        info,
        arity=2,
        flags="readonly fast",
        key_specs=[{"flags": "RO access", "index": 1}],
        summary="A rate limiter's state: TAT (ms), allowed, denied",
    )
    module.command(
        "cl.set",
        set_cell,
        arity=-5,
        flags="write deny-oom fast",
        key_specs=[{"flags": "OW update", "index": 1}],
        summary="Set a rate limiter's state (what CL.THROTTLE propagates)",
    )
