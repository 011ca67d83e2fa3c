"""The command table: what Vermilion knows about each command.

Every command Vermilion knows is one :class:`Command`. What Redis publishes about
a command (arity, flags, key specs, ACL categories, tips, sub-commands, the
COMMAND DOCS text) is data, recorded once from the reference server in
``spec.json`` (see ``tools/gen_command_table.py``). A family module binds its
implementation to an entry with ``@command("get")`` (``@command("config|get")``
for a sub-command). Only bound commands are in the table, so an unimplemented
command gets Redis's unknown-command error, never a half answer. The dispatcher
(:mod:`.dispatch`), COMMAND, ACL categories, MULTI, scripting and client-side
caching all read the same entries.
"""

import json
import os
import sys
from typing import Any, Callable

from ..protocol.encoder import Raw, Status, Map, Set, encode

# Commands that run at once even inside MULTI (the rest are queued).
MULTI_PASSTHROUGH = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))


_DATA_CATS = frozenset(
    (
        "@keyspace",
        "@read",
        "@write",
        "@string",
        "@list",
        "@hash",
        "@set",
        "@sortedset",
        "@stream",
        "@bitmap",
        "@hyperloglog",
        "@geo",
    )
)
_STATEFUL_CATS = frozenset(
    ("@admin", "@dangerous", "@pubsub", "@transaction", "@connection", "@scripting")
)
_PURE_EXTRA = frozenset(("ping", "echo", "time", "lastsave", "keys", "sort", "sort_ro"))
# O(1) like the @fast commands, though Redis does not flag them so; and MSET and
# MSETNX, O(N) in their pairs but at most 32 pairs on the hot path (Command.argcs
# stops at 64 arguments beyond the arity; a longer MSET is timed on its own).
_BATCH_TIMED_EXTRA = frozenset(("set", "setex", "psetex", "mset", "msetnx"))
_ARGCS: dict = {}  # arity -> the argument counts it accepts (Command.argcs)


class Command:
    __slots__ = (
        "name",
        "fullname",
        "func",
        "arity",
        "flags",
        "first_key",
        "last_key",
        "step",
        "acl",
        "tips",
        "key_specs",
        "subcommands",
        "parent",
        "_docs",
        "info",
        "index",
        "is_write",
        "is_readonly",
        "denyoom",
        "admin",
        "noscript",
        "no_auth",
        "pubsub",
        "loading",
        "stale",
        "no_multi",
        "blocking",
        "allow_busy",
        "skip_monitor",
        "skip_slowlog",
        "movablekeys",
        "fast",
        "acl_bits",
        "may_replicate",
        "protected",
        "plain",
        "argcs",
        "cluster_key",
        "pure",
        "batch_timed",
        "module",
        "_info_cache",
    )

    def __init__(
        self, fullname: str, info: list, docs: Any = None, parent: "Command | None" = None
    ) -> None:
        self.fullname = fullname
        self.name = fullname.split("|")[-1]
        self.parent = parent
        self.info = info
        self._docs = docs  # None: read from docs.json when COMMAND DOCS first asks
        self.func: Callable | None = None  # bound by @command
        self.arity = info[1]
        flags = [f["+"] for f in info[2]["~"]]
        self.flags = flags
        self.first_key, self.last_key, self.step = info[3], info[4], info[5]
        self.acl = [a["+"] for a in info[6]["~"]]
        self.tips = info[7]
        self.key_specs = info[8]
        self.subcommands = None
        self.index = -1
        fs = set(flags)
        self.is_write = "write" in fs
        self.is_readonly = "readonly" in fs
        self.denyoom = "denyoom" in fs
        self.admin = "admin" in fs
        self.noscript = "noscript" in fs
        self.no_auth = "no_auth" in fs
        self.pubsub = "pubsub" in fs
        self.loading = "loading" in fs
        self.stale = "stale" in fs
        self.no_multi = "no_multi" in fs
        self.blocking = "blocking" in fs
        self.allow_busy = "allow_busy" in fs
        self.skip_monitor = "skip_monitor" in fs
        self.skip_slowlog = "skip_slowlog" in fs
        self.movablekeys = "movablekeys" in fs
        self.fast = "fast" in fs
        self.may_replicate = "may_replicate" in fs
        self.protected = fullname in ("debug", "module")
        self.acl_bits = 0
        # Argument counts the hot path accepts without the slow path's arity error:
        # the exact count, or for variadic commands a generous range of them.
        ar = self.arity
        argcs = _ARGCS.get(ar)
        if argcs is None:  # one shared set per arity (a few dozen, not one per command)
            argcs = frozenset((ar,)) if ar > 0 else frozenset(range(-ar, -ar + 64))
            _ARGCS[ar] = argcs
        self.argcs = argcs
        # "plain": nothing for the dispatcher to check beyond arity (see execute()).
        self.plain = not (self.protected or self.no_multi or fullname in MULTI_PASSTHROUGH)
        # "pure": a data command (or a harmless one), which cannot change what the
        # dispatcher's loop keeps in locals between commands: the client's and the
        # server's special flags, maxmemory, the AOF/replica sink, the slowlog and
        # MONITOR thresholds (see dispatch.execute_batch).
        cats = set(self.acl)
        self.pure = self.plain and (
            fullname in _PURE_EXTRA or bool(cats & _DATA_CATS and not cats & _STATEFUL_CATS)
        )
        # Counted, not timed on its own, inside a run of cheap commands
        # (dispatch.execute_batch): Redis's @fast data commands, and SET.
        self.batch_timed = self.pure and (self.fast or fullname in _BATCH_TIMED_EXTRA)
        # In cluster mode: 0 = no keys, 1 = its one key is argv[1], None = ask
        # cluster/route.py (set by cluster/mode.py from the key specs).
        self.cluster_key: int | None = None
        self.module: Any = None  # the Python module that registered it (commands/modules.py)
        self._info_cache: dict[int, Raw] = {}

    @property
    def docs(self) -> Any:
        """COMMAND DOCS's text for this command (spec.json's tagged form), or None."""
        d = self._docs
        if d is None:
            d = self._docs = docs_of(self.fullname) or {}
        return d or None

    def __repr__(self) -> str:
        return "<Command %s>" % self.fullname

    def info_reply(self, resp: int) -> Raw:
        """COMMAND INFO's entry for this command, pre-encoded per protocol."""
        r = self._info_cache.get(resp)
        if r is None:
            info = list(self.info)
            if self.subcommands is not None:
                info[9] = [Raw(s.info_reply(resp)) for s in self.subcommands.values()]
            r = self._info_cache[resp] = Raw(encode(from_json(info), resp))
        return r


def from_json(v: Any) -> Any:
    """spec.json's tagged values -> reply values (see tools/gen_command_table.py)."""
    if isinstance(v, list):
        return [from_json(x) for x in v]
    if isinstance(v, dict):
        if "+" in v:
            return Status(v["+"])
        if "%" in v:
            return Map(from_json(x) for x in v["%"])
        if "~" in v:
            return Set(from_json(x) for x in v["~"])
    if isinstance(v, str):
        return v.encode()
    return v


_SPEC = None
_DOCS = None


def _shared_leaves() -> Callable[[dict], dict]:
    """A json object hook that returns one shared dict for each repeated leaf of
    spec.json: a flag or category (``{"+": "write"}``, thousands of them, a few
    dozen distinct) and the empty set (``{"~": []}``). The table is read, never
    changed in place, so sharing them is invisible; it halves what spec.json
    costs in memory (1.65 -> 0.94 MB) for about a millisecond of start-up."""
    memo: dict = {}
    get = memo.get

    def hook(d: dict) -> dict:
        if len(d) != 1:
            return d
        v = d.get("+")
        if v is not None:
            r = get(v)
            if r is None:
                d["+"] = sys.intern(v)
                r = memo[v] = d
            return r
        if d.get("~", 0) == []:
            r = get(None)
            if r is None:
                r = memo[None] = d
            return r
        return d

    return hook


def spec() -> dict:
    """spec.json: every Redis 7.0.15 command's COMMAND INFO entry, by name."""
    global _SPEC
    if _SPEC is None:
        with open(os.path.join(os.path.dirname(__file__), "spec.json")) as fh:
            _SPEC = json.load(fh, object_hook=_shared_leaves())
    return _SPEC


def docs_of(fullname: str) -> Any:
    """A command's COMMAND DOCS entry from docs.json, read on first use: the docs
    are a third of the table and only COMMAND DOCS reads them."""
    global _DOCS
    if _DOCS is None:
        with open(os.path.join(os.path.dirname(__file__), "docs.json")) as fh:
            _DOCS = json.load(fh)
    top, _, sub = fullname.partition("|")
    d = _DOCS.get(top)
    if not sub or not d:
        return d
    for k, v in zip(d["%"][0::2], d["%"][1::2]):
        if k == "subcommands":
            sd = v["%"]
            return dict(zip(sd[0::2], sd[1::2])).get(fullname)
    return None


COMMANDS: dict = {}  # lower-case name (bytes) -> Command, bound commands only
ALL_COMMANDS: list = []  # every bound Command and sub-command, by index (for stats)
_LOOKUP: dict = {}  # exact argv[0] spelling -> Command: skips .lower() on the hot path
FAST_LOOKUP: dict = {}  # the same for plain commands only: the dispatcher's fast path
BATCH_TIMED: set = set()  # bound commands with Command.batch_timed (dispatch.execute_batch)


def _register(fullname: str) -> Command:
    parts = fullname.split("|")
    top = parts[0]
    entry = spec().get(top)
    if entry is None:
        raise KeyError("no such command in spec.json: %s" % top)
    cmd = COMMANDS.get(top.encode())
    if cmd is None:
        cmd = Command(top, entry["info"])
        cmd.index = len(ALL_COMMANDS)
        ALL_COMMANDS.append(cmd)
        COMMANDS[top.encode()] = cmd
    if len(parts) == 1:
        return cmd
    if cmd.subcommands is None:
        cmd.subcommands = {}
        cmd.plain = False
        for name in [k for k, v in FAST_LOOKUP.items() if v is cmd]:
            del FAST_LOOKUP[name]  # (looked up before its sub-commands were bound)
    sub = cmd.subcommands.get(parts[1].encode())
    if sub is None:
        subinfo = next((s for s in entry["info"][9] if s[0] == fullname), None)
        if subinfo is None:
            raise KeyError("no such sub-command in spec.json: %s" % fullname)
        sub = Command(fullname, subinfo, parent=cmd)
        sub.index = len(ALL_COMMANDS)
        ALL_COMMANDS.append(sub)
        cmd.subcommands[parts[1].encode()] = sub
    return sub


def command(fullname: str) -> Callable[[Callable], Callable]:
    """Bind the decorated ``func(client, argv)`` to the command ``fullname``.

    Where its keys are is not said here: the key specs in spec.json say it, read by
    :mod:`.keyspecs` (with db.c's native procedures where specs are not enough).
    """

    def deco(func: Callable) -> Callable:
        cmd = _register(fullname)
        cmd.func = func
        if cmd.batch_timed:
            BATCH_TIMED.add(cmd)
        return func

    return deco


def add_command(cmd: Command) -> None:
    """Put a command built at run time (a module's, see commands/modules.py) in the
    table, beside the built-ins: same lookups, same stats index scheme."""
    key = cmd.fullname.lower().encode()
    if key in COMMANDS:
        raise KeyError("command already exists: %s" % cmd.fullname)
    cmd.index = len(ALL_COMMANDS)
    ALL_COMMANDS.append(cmd)
    COMMANDS[key] = cmd


def remove_command(cmd: Command) -> None:
    """Take a run-time command out of the table (MODULE UNLOAD). Its index stays
    used in ALL_COMMANDS (servers' stats are indexed by it), unbound."""
    key = cmd.fullname.lower().encode()
    if COMMANDS.get(key) is cmd:
        del COMMANDS[key]
    for cache in (_LOOKUP, FAST_LOOKUP):
        for name in [k for k, v in cache.items() if v is cmd]:
            del cache[name]


def lookup(name: bytes) -> Command | None:
    """The Command for a (case-insensitive) name, or None."""
    cmd = _LOOKUP.get(name)
    if cmd is None:
        cmd = COMMANDS.get(name.lower())
        if cmd is not None and len(_LOOKUP) < 4096:
            _LOOKUP[name] = cmd
            if cmd.plain:
                FAST_LOOKUP[name] = cmd
    return cmd


def lookup_in(names: dict, name: bytes) -> Command | None:
    """:func:`lookup` through a server's ``rename-command`` map (see :func:`renames`)."""
    low = name.lower()
    if low in names:
        return names[low]
    return lookup(name)


def renames(pairs: list) -> dict:
    """The ``rename-command OLD NEW`` directives, in order, as a map of lower-case
    names: the old name to None (gone), the new one to the command ("" as NEW only
    removes it). Each server keeps its own map, the table stays as it is: the
    dispatcher, scripts, the AOF and the replication stream look names up through
    it; ACL rules and COMMAND keep the real names, as in Redis. Raises ValueError
    with Redis's message for a name that is not a command or is taken."""
    names: dict = {}
    for old, new in pairs:
        old = old.encode() if isinstance(old, str) else old
        new = new.encode() if isinstance(new, str) else new
        cmd = lookup_in(names, old)
        if cmd is None:
            raise ValueError("No such command in rename-command")
        names[old.lower()] = None
        if new:
            if lookup_in(names, new) is not None:
                raise ValueError("Target command name already exists")
            names[new.lower()] = cmd
    return names


def lookup_argv(argv: list, names: dict | None = None) -> Command | None:
    """The command or sub-command ``argv`` names, or None (for COMMAND INFO/GETKEYS,
    ACL); ``names``: a server's rename-command map."""
    cmd = lookup_in(names, argv[0]) if names else lookup(argv[0])
    if cmd is not None and cmd.subcommands is not None and len(argv) > 1:
        return cmd.subcommands.get(argv[1].lower())
    return cmd
