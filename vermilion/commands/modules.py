"""Modules: server-side commands and data types written in Python.

What Redis modules are to redis-server (a shared library with
``RedisModule_OnLoad``), a Python file with an ``on_load(module, args)`` function
is to Vermilion. It is loaded by ``--loadmodule path.py [args...]`` (or the
``loadmodule`` directive of a config file), ``MODULE LOAD path.py [args...]`` (with
``enable-module-command``), or ``vermilion.start_server(modules=[...])``::

    def on_load(module, args):
        module.init("hello", ver=1)

        @module.command("hello.set", arity=3, flags="write deny-oom fast",
                        first_key=1, last_key=1, step=1)
        def hello_set(ctx, argv):
            ctx.set(argv[1], argv[2])
            return OK

The public names are re-exported by :mod:`vermilion.module` (``Module``,
``Context``, ``ModuleType``, ``ReplyError``, ``OK``, ``Status``, ...).

**Commands** go into the one command table (core/table.py) as
:class:`~vermilion.core.table.Command` objects, so everything that reads the
table treats them like the built-ins: the dispatcher (arity, ACL, OOM, MULTI,
CLIENT PAUSE, replica and cluster checks), COMMAND INFO/LIST/COUNT/GETKEYS/DOCS
(with the ``module`` flag and ``group: module``), ACL rules and categories, Lua's
``redis.call``, INFO commandstats, MONITOR and the slowlog. A command flagged
``write`` that changed the dataset (``server.dirty``) is propagated verbatim to
the AOF and the replicas, unless it says what to propagate instead
(:meth:`Context.replicate`). Flags take Redis's module spellings
(``write readonly admin deny-oom deny-script allow-loading pubsub blocking
allow-stale no-monitor no-slowlog fast no-auth may-replicate getkeys-api
no-mandatory-keys allow-busy``) or COMMAND INFO's (``denyoom``, ``noscript``...).
Keys are given as Redis's ``firstkey, lastkey, keystep`` (one key spec with the
RW/access/update flags, as RM_CreateCommand makes) or as key specs, and
``getkeys=fn(argv)`` covers syntaxes no spec describes. ACL categories are the
implicit ones of the flags (``@write``, ``@read``, ``@fast``/``@slow``, ...) plus
any given.

**Data types** (:meth:`Module.create_type`): a 9-character name, an encoding
version and the Python class of the values, with ``rdb_save(io, value)`` and
``rdb_load(io, encver)`` callbacks. TYPE answers the name, and RDB files, DUMP
payloads, DEBUG RELOAD, full syncs and AOF preambles carry the values as Redis's
RDB_TYPE_MODULE_2 record (persistence/rdb_module.py).

Modules, like the command table, are per process: every server of a process
(embedding) sees the commands of a module any of them loaded.
"""

import importlib.util
import os
import sys
import weakref
from typing import Any, Callable

from ..acl import CATEGORIES, _CAT_INDEX, _Entry, universe
from ..core import keyspecs, table
from ..core.bootstrap import on_server_init
from ..core.dispatch import CommandStats
from ..core.table import Command, command
from ..errors import CommandError, WRONGTYPE
from ..keyspace import db as dbmod
from ..persistence import rdb_module
from ..protocol.encoder import OK, Map, Status

__all__ = [
    "Module",
    "ModuleType",
    "Context",
    "ReplyError",
    "ModuleLoadError",
    "load_module",
    "unload_module",
    "MODULES",
]

ReplyError = CommandError  # raise ReplyError("ERR ...") answers that error


class ModuleLoadError(SystemExit):
    """A module given at start-up failed to load: the server aborts (exit 1),
    as redis-server does; embed.py turns it into a ConfigError."""


class _LoadFailed(Exception):
    """A load failed; the message is the reason logged."""


MODULES: dict = {}  # module name -> Module, in load order
_SERVERS: "weakref.WeakSet[Any]" = weakref.WeakSet()
UNREGISTER_HOOKS: list = []  # fn(Command): caches of others keyed by a command's name
_ACL_NEXT_BIT = [0]  # the next ACL bit for a module command (above the universe's)
_LOADED_FILES = [0]

# Redis's module command flags (commandFlagsFromString) -> COMMAND INFO's names;
# "may_replicate" and "getkeys" are not shown by COMMAND INFO.
_FLAG_NAMES = {
    "write": "write",
    "readonly": "readonly",
    "admin": "admin",
    "deny-oom": "denyoom",
    "denyoom": "denyoom",
    "deny-script": "noscript",
    "noscript": "noscript",
    "allow-loading": "loading",
    "loading": "loading",
    "pubsub": "pubsub",
    "random": None,  # deprecated, ignored
    "blocking": "blocking",
    "allow-stale": "stale",
    "stale": "stale",
    "no-monitor": "skip_monitor",
    "skip_monitor": "skip_monitor",
    "no-slowlog": "skip_slowlog",
    "skip_slowlog": "skip_slowlog",
    "fast": "fast",
    "no-auth": "no_auth",
    "no_auth": "no_auth",
    "may-replicate": "may_replicate",
    "may_replicate": "may_replicate",
    "getkeys-api": "getkeys",
    "no-mandatory-keys": "no_mandatory_keys",
    "no_mandatory_keys": "no_mandatory_keys",
    "allow-busy": "allow_busy",
    "allow_busy": "allow_busy",
    "no-multi": "no_multi",
    "no_multi": "no_multi",
}
# addReplyFlagsForCommand's order
_FLAG_ORDER = (
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
)
_FULL_ACCESS = ("RW", "access", "update")  # CMD_KEY_FULL_ACCESS

# RM_NotifyKeyspaceEvent's classes, by name
NOTIFY = {
    "generic": dbmod.NOTIFY_GENERIC,
    "string": dbmod.NOTIFY_STRING,
    "list": dbmod.NOTIFY_LIST,
    "set": dbmod.NOTIFY_SET,
    "hash": dbmod.NOTIFY_HASH,
    "zset": dbmod.NOTIFY_ZSET,
    "expired": dbmod.NOTIFY_EXPIRED,
    "evicted": dbmod.NOTIFY_EVICTED,
    "stream": dbmod.NOTIFY_STREAM,
    "key_miss": dbmod.NOTIFY_KEY_MISS,
    "module": dbmod.NOTIFY_MODULE,
    "new": dbmod.NOTIFY_NEW,
}


def _split(words: Any) -> list:
    if not words:
        return []
    if isinstance(words, str):
        return words.split()
    return list(words)


# ===================================================================== context
class Context:
    """What a module command gets (RedisModuleCtx): the calling client's database,
    reads and writes of keys, replies and errors, notifications, replication.

    Reply by returning a value: ``bytes``/``str`` (bulk), ``int``, ``float``
    (double), ``None`` (null), a list/tuple (array), ``dict``/:class:`Map`,
    :class:`Status` (``+text``), ``OK``. Fail by raising ``ReplyError("ERR ...")``
    (the text is sent as it is, so start it with an error code as Redis does).
    """

    __slots__ = ("client", "module", "argv")

    def __init__(self, client: Any, module: "Module", argv: list) -> None:
        self.client = client
        self.module = module
        self.argv = argv  # the command as it came, argv[0] its name

    @property
    def server(self) -> Any:
        return self.client.server

    @property
    def db(self) -> Any:
        """The client's selected database (keyspace/db.py's Database)."""
        return self.client.db

    # ---- reading
    def get(self, key: bytes) -> Any:
        """The value at ``key`` (bytes for a string, a module type's object, ...)
        or None; an expired key is deleted first. A read (RM_OpenKey READ): it
        counts in keyspace_hits/keyspace_misses."""
        return self.client.db.lookup_read(key)

    def get_string(self, key: bytes) -> bytes | None:
        """A string value, None if missing; WRONGTYPE for any other type."""
        v = self.client.db.lookup_read(key)
        if v is None:
            return None
        if v.__class__ is bytearray:
            return bytes(v)
        if v.__class__ is not bytes:
            raise CommandError(WRONGTYPE)
        return v

    def get_value(self, key: bytes, cls: type) -> Any:
        """The value at ``key`` if it is a ``cls`` (a module type's class), None if
        missing; WRONGTYPE if the key holds anything else."""
        return self.client.db.lookup_type(key, cls)

    def exists(self, key: bytes) -> bool:
        return self.client.db.lookup_read_notouch(key) is not None  # RM_KeyExists

    def pttl(self, key: bytes) -> int:
        """Milliseconds the key has left, -1 without a TTL, -2 if missing."""
        db = self.client.db
        if db.lookup_notouch(key) is None:
            return -2
        when = db.get_expire(key)
        return -1 if when == -1 else max(0, when - db.now())

    def now_ms(self) -> int:
        """The server's clock in ms (frozen while a script or EXEC runs, and moved
        by a test's clock), the time the data sees."""
        return self.client.db.now()

    # ---- writing (each marks the dataset dirty: a write command propagates)
    def set(self, key: bytes, value: Any, keepttl: bool = False) -> None:
        """Store ``value`` (bytes/str for a string, or a module type's object);
        any TTL goes unless ``keepttl``."""
        if isinstance(value, str):
            value = value.encode()
        elif value.__class__ is not bytes and getattr(value, "rdb_module_type", None) is None:
            raise TypeError("a key holds bytes or a module data type's value")
        db = self.client.db
        db.set(key, value, keepttl)
        db.signal(key)
        self.client.server.dirty += 1

    def delete(self, key: bytes) -> bool:
        """Delete a key; True if it existed."""
        db = self.client.db
        if db.lookup_notouch(key) is None:
            return False
        db.delete(key)
        self.client.server.dirty += 1
        return True

    def pexpireat(self, key: bytes, when_ms: int) -> bool:
        """Give an existing key an absolute expiry (ms); False if it is missing."""
        db = self.client.db
        if db.lookup_notouch(key) is None:
            return False
        db.set_expire(key, int(when_ms))
        db.signal(key)
        self.client.server.dirty += 1
        return True

    def pexpire(self, key: bytes, ms: int) -> bool:
        return self.pexpireat(key, self.client.db.now() + int(ms))

    def persist(self, key: bytes) -> bool:
        db = self.client.db
        if db.lookup_notouch(key) is None or not db.persist(key):
            return False
        db.signal(key)
        self.client.server.dirty += 1
        return True

    def modified(self, key: bytes) -> None:
        """A value was changed in place (RM_SignalModifiedKey): WATCH and client
        caches see it, and the command counts as a write."""
        self.client.db.signal(key)
        self.client.server.dirty += 1

    # ---- notifications, replication, logging
    def notify(self, event: str, key: bytes, kind: str = "module") -> None:
        """A keyspace notification (RM_NotifyKeyspaceEvent): ``kind`` is a class
        of notify-keyspace-events ("module" = d, "generic" = g, "string" = $...)."""
        self.client.db.notify(NOTIFY[kind], event, key)

    def replicate(self, *argv: Any) -> None:
        """Propagate this command to the AOF and the replicas (RM_Replicate)
        instead of the command itself; call it once per command to send."""
        args = [a if isinstance(a, bytes) else str(a).encode() for a in argv]
        c = self.client
        if c.propagate is None:
            c.propagate = []
        c.propagate.append(args)

    def replicate_verbatim(self) -> None:
        """Propagate the command as it came (RM_ReplicateVerbatim), even if it
        changed nothing."""
        c = self.client
        if c.propagate is None:
            c.propagate = []
        c.propagate.append(list(self.argv))

    def log(self, msg: str, level: str = "notice") -> None:
        """A line in the server's log, prefixed with the module's name like Redis."""
        self.module.log(msg, level, self.client.server)


# ===================================================================== modules
class ModuleType:
    """A module data type (RedisModuleType): a 9-character ``name``, an encoding
    version, the Python class of its values and their RDB callbacks."""

    def __init__(
        self,
        module: "Module",
        name: str,
        encver: int,
        cls: type,
        rdb_save: Callable,
        rdb_load: Callable,
    ) -> None:
        self.module = module
        self.name = name
        self.encver = encver
        self.id = rdb_module.encode_id(name, encver)
        self.cls = cls
        self.rdb_save = rdb_save
        self.rdb_load = rdb_load

    @property
    def module_name(self) -> str:
        return self.module.name or ""

    def __repr__(self) -> str:
        return "<ModuleType %s encver %d>" % (self.name, self.encver)


class Module:
    """The object ``on_load(module, args)`` receives (RedisModuleCtx at load)."""

    def __init__(self, path: str, args: list) -> None:
        self.path = path
        self.args = args
        self.name: str | None = None
        self.ver = 1
        self.commands: list = []
        self.types: list = []
        self.on_unload: Callable | None = None
        self.server: Any = None  # the server that loaded it

    def init(self, name: str, ver: int = 1) -> None:
        """RedisModule_Init: the module's name (MODULE LIST, MODULE UNLOAD) and version."""
        if not name or " " in name:
            raise ValueError("invalid module name %r" % name)
        if name in MODULES:
            raise _LoadFailed("a module named '%s' is already loaded" % name)
        self.name = name
        self.ver = int(ver)

    def log(self, msg: str, level: str = "notice", server: Any = None) -> None:
        server = server or self.server
        if server is None:
            return
        line = "<%s> %s" % (self.name, msg)
        if level == "warning":
            server.log_warning(line)
        else:
            server.log_notice(line)

    # ---------------------------------------------------------- commands
    def command(
        self,
        name: str,
        func: Callable | None = None,
        *,
        arity: int = -1,
        flags: Any = "",
        first_key: int = 0,
        last_key: int = 0,
        step: int = 0,
        key_specs: list | None = None,
        getkeys: Callable | None = None,
        acl_categories: Any = "",
        tips: Any = (),
        summary: str | None = None,
        since: str | None = None,
        complexity: str | None = None,
    ) -> Any:
        """Register the command ``name`` (RedisModule_CreateCommand); used as a
        decorator, or with ``func``. ``func(ctx, argv)`` gets a :class:`Context`
        and the arguments as bytes (``argv[0]`` is the command's name).

        ``arity``: Redis's (N exactly, -N at least). ``flags``: a string or list
        of Redis's module flags. Keys: ``first_key``/``last_key``/``step``
        (``last_key`` -1 = the last argument), or ``key_specs``, a list of dicts::

            {"flags": "RW update", "index": 1, "range": (lastkey, keystep, limit)}
            {"flags": "RO access", "keyword": "KEYS", "startfrom": 1,
             "keynum": (keynumidx, firstkey, keystep)}

        ``getkeys(argv) -> [positions]`` when no spec can tell (sets movablekeys).
        ``acl_categories``: e.g. "string" or "@string" (on top of the implicit ones).
        """
        if func is None:
            return lambda f: self.command(
                name,
                f,
                arity=arity,
                flags=flags,
                first_key=first_key,
                last_key=last_key,
                step=step,
                key_specs=key_specs,
                getkeys=getkeys,
                acl_categories=acl_categories,
                tips=tips,
                summary=summary,
                since=since,
                complexity=complexity,
            )
        fullname = name.lower()
        if not fullname or any(ch in fullname for ch in " |\r\n\t"):
            raise ValueError("invalid command name %r" % name)
        if table.COMMANDS.get(fullname.encode()) is not None:
            raise _LoadFailed("command name '%s' is busy" % name)
        cmd = _build_command(
            self,
            fullname,
            func,
            arity,
            flags,
            first_key,
            last_key,
            step,
            key_specs,
            getkeys,
            acl_categories,
            tips,
            summary,
            since,
            complexity,
        )
        _register(cmd, getkeys)
        self.commands.append(cmd)
        return func

    create_command = command

    # -------------------------------------------------------------- types
    def create_type(
        self,
        name: str,
        encver: int,
        cls: type,
        rdb_save: Callable | None = None,
        rdb_load: Callable | None = None,
    ) -> ModuleType:
        """Register a data type (RedisModule_CreateDataType): ``name`` is 9
        characters of ``A-Z a-z 0-9 - _``, ``encver`` 0..1023, ``cls`` the class
        of its values. ``rdb_save(io, value)`` writes the value with
        ``io.save_unsigned/save_signed/save_string/save_double/save_float``;
        ``rdb_load(io, encver)`` reads it back with the ``io.load_*`` twins and
        returns the value (``encver``: the version it was saved with). Both
        default to ``cls.rdb_save`` / ``cls.rdb_load`` (static or class methods)."""
        rdb_save = rdb_save or getattr(cls, "rdb_save", None)
        rdb_load = rdb_load or getattr(cls, "rdb_load", None)
        if rdb_save is None or rdb_load is None:
            raise ValueError("a module data type needs rdb_save and rdb_load")
        mid = rdb_module.encode_id(name, encver)
        if not mid:
            raise ValueError(
                "invalid module type name %r / encver %r: 9 characters of A-Z a-z 0-9 - _, "
                "encver 0..1023" % (name, encver)
            )
        if mid >> 10 in rdb_module.MODULE_TYPES:
            raise _LoadFailed("a data type named '%s' is already registered" % name)
        if getattr(cls, "rdb_module_type", None) is not None:
            raise ValueError("class %s is already a module data type" % cls.__name__)
        mt = ModuleType(self, name, encver, cls, rdb_save, rdb_load)
        setattr(cls, "type_name", name)  # TYPE, SCAN TYPE (commands/keys.py's type_name)
        setattr(cls, "rdb_module_type", mt)  # RDB, DUMP (persistence/rdb.py's encode_value)
        if not hasattr(cls, "object_encoding"):
            setattr(cls, "object_encoding", _raw_encoding)  # OBJECT ENCODING: "raw", as Redis
        rdb_module.MODULE_TYPES[mid >> 10] = mt
        self.types.append(mt)
        return mt


def _raw_encoding(self: Any) -> bytes:
    return b"raw"


def _implicit_categories(fl: set) -> set:
    """setImplicitACLCategories."""
    cats = set()
    if "write" in fl:
        cats.add("write")
    if "readonly" in fl:
        cats.add("read")
    if "admin" in fl:
        cats.update(("admin", "dangerous"))
    if "pubsub" in fl:
        cats.add("pubsub")
    if "fast" in fl:
        cats.add("fast")
    if "blocking" in fl:
        cats.add("blocking")
    if "fast" not in fl:
        cats.add("slow")
    return cats


def _tag_set(names: Any) -> dict:
    return {"~": [{"+": n} for n in names]}


def _key_spec(flags: Any, bs: tuple, fk: tuple, notes: str | None = None) -> tuple:
    """One key spec in spec.json's tagged form, and its parsed parts."""
    fl = set(_split(flags))
    bad = fl - set(keyspecs.KEY_FLAG_ORDER)
    if bad:
        raise ValueError("unknown key spec flags: %s" % " ".join(sorted(bad)))
    items: list = []
    if notes:
        items += ["notes", notes]
    items += ["flags", _tag_set(f for f in keyspecs.KEY_FLAG_ORDER if f in fl)]
    if bs[0] == "index":
        bspec = {"%": ["index", int(bs[1])]}
    else:
        bspec = {"%": ["keyword", bs[1], "startfrom", int(bs[2])]}
    items += ["begin_search", {"%": ["type", bs[0], "spec", bspec]}]
    if fk[0] == "range":
        fspec = {"%": ["lastkey", int(fk[1]), "keystep", int(fk[2]), "limit", int(fk[3])]}
    else:
        fspec = {"%": ["keynumidx", int(fk[1]), "firstkey", int(fk[2]), "keystep", int(fk[3])]}
    items += ["find_keys", {"%": ["type", fk[0], "spec", fspec]}]
    return {"%": items}, fl, bs, fk


def _parse_key_spec(d: dict) -> tuple:
    if "keyword" in d:
        bs: tuple = ("keyword", str(d["keyword"]), int(d.get("startfrom", 1)))
    else:
        bs = ("index", int(d.get("index", 1)))
    if "keynum" in d:
        k = tuple(d["keynum"]) + (0, 1, 1)[len(tuple(d["keynum"])) :]
        fk: tuple = ("keynum", k[0], k[1], k[2])
    else:
        r = tuple(d.get("range", (0, 1, 0)))
        r = r + (0, 1, 0)[len(r) :]
        fk = ("range", r[0], r[1], r[2])
    return _key_spec(d.get("flags", _FULL_ACCESS), bs, fk, d.get("notes"))


def _legacy_range(specs: list) -> tuple:
    """populateCommandLegacyRangeSpec: (first, last, step, movablekeys)."""
    if not specs:
        return 0, 0, 0, False
    if len(specs) == 1 and specs[0][2][0] == "index" and specs[0][3][0] == "range":
        _, fl, bs, fk = specs[0]
        first = bs[1]
        last = fk[1] + first if fk[1] >= 0 else fk[1]
        return first, last, fk[2], "incomplete" in fl
    movable = False
    first, last, prev = 1 << 31, 0, 0
    for _, fl, bs, fk in specs:
        if bs[0] != "index" or fk[0] != "range":
            movable = True
            continue
        if fk[2] != 1 or (prev and prev != bs[1] - 1):
            movable = True
            continue
        if "incomplete" in fl:
            movable = True
        first = min(first, bs[1])
        abs_last = fk[1] + bs[1] if fk[1] >= 0 else fk[1]
        last = max(last & 0xFFFFFFFF, abs_last & 0xFFFFFFFF)
        last = last - (1 << 32) if last >= 1 << 31 else last
        prev = last
    if first == 1 << 31:
        return 0, 0, 0, True
    return first, last, 1, movable


def _build_command(
    module: Module,
    fullname: str,
    func: Callable,
    arity: int,
    flags: Any,
    first_key: int,
    last_key: int,
    step: int,
    key_specs: list | None,
    getkeys: Callable | None,
    acl_categories: Any,
    tips: Any,
    summary: str | None,
    since: str | None,
    complexity: str | None,
) -> Command:
    fl = set()
    for f in _split(flags):
        n = _FLAG_NAMES.get(f.lower(), "?")
        if n == "?":
            raise ValueError("unknown command flag %r" % f)
        if n is not None:
            fl.add(n)
    if getkeys is not None:
        fl.add("getkeys")
    if key_specs is not None:
        specs = [_parse_key_spec(d) for d in key_specs]
    elif first_key:
        kf = _FULL_ACCESS + (("variable_flags",) if "getkeys" in fl else ())
        lk = last_key if last_key < 0 else last_key - first_key
        specs = [_key_spec(kf, ("index", first_key), ("range", lk, step or 1, 0))]
    else:
        specs = []
    first, last, kstep, movable = _legacy_range(specs)
    if "getkeys" in fl or movable:
        fl.add("movablekeys")
    fl.add("module")
    cats = _implicit_categories(fl)
    for cat in _split(acl_categories):
        cat = cat.lstrip("@").lower()
        if cat not in _CAT_INDEX:
            raise ValueError("unknown ACL category %r" % cat)
        cats.add(cat)
    info = [
        fullname,
        int(arity),
        _tag_set(f for f in _FLAG_ORDER if f in fl),
        first,
        last,
        kstep,
        _tag_set("@" + c for c in CATEGORIES if c in cats),
        {"~": list(_split(tips))},
        {"~": [s[0] for s in specs]},
        {"~": []},
    ]
    docs: list = []
    if summary:
        docs += ["summary", summary]
    if since:
        docs += ["since", since]
    docs += ["group", "module"]
    if complexity:
        docs += ["complexity", complexity]
    docs += ["module", module.name or ""]
    cmd = Command(fullname, info, {"%": docs})
    cmd.module = module
    cmd.may_replicate = "may_replicate" in fl
    cmd.protected = False

    def run(c: Any, argv: list, _func: Callable = func, _module: Module = module) -> Any:
        return _func(Context(c, _module, argv), argv)

    run.__name__ = "module_" + fullname.replace(".", "_").replace("-", "_")
    cmd.func = run
    return cmd


def _register(cmd: Command, getkeys: Callable | None) -> None:
    """The command into the table, the ACL universe, every server's stats."""
    if getkeys is not None:
        flags: frozenset = frozenset()

        def native(argv: list) -> list:
            return [(int(p), flags) for p in getkeys(argv)]

        keyspecs.NATIVE_GETKEYS[cmd.fullname] = native
    table.add_command(cmd)
    for server in list(_SERVERS):
        stats = server.cmdstats
        while len(stats) < len(table.ALL_COMMANDS):
            stats.append(CommandStats())
    _acl_add(cmd)


def _unregister(cmd: Command) -> None:
    table.remove_command(cmd)
    keyspecs.NATIVE_GETKEYS.pop(cmd.fullname, None)
    keyspecs._PARSED.pop(cmd, None)
    for server in list(_SERVERS):
        if cmd.index < len(server.cmdstats):
            server.cmdstats[cmd.index].reset()
    _acl_remove(cmd)
    for hook in UNREGISTER_HOOKS:
        hook(cmd)


# ------------------------------------------------------------------- ACL
# acl.py's universe gives each command of spec.json a bit, and the bit after the
# last one is "future commands" (set only by +@all / allcommands). A module
# command gets a bit above that one, and, as Redis's +@all sets every bit of its
# bitmap, each selector that has the future bit gets the new command's bit too.
def _each_selector() -> Any:
    for server in list(_SERVERS):
        state = getattr(server, "acl", None)
        if state is None:
            continue
        for user in state.users.values():
            user._descr = None
            for sel in user.selectors:
                yield sel


def _acl_add(cmd: Command) -> None:
    u = universe()
    if not _ACL_NEXT_BIT[0]:
        _ACL_NEXT_BIT[0] = u.count + 1
    bit = 1 << _ACL_NEXT_BIT[0]
    _ACL_NEXT_BIT[0] += 1
    e: Any = _Entry()
    e.fullname = cmd.fullname
    e.bit = e.mask = bit
    e.parent = None
    e.subs = []
    e.cats = tuple(_CAT_INDEX[a["+"][1:]] for a in cmd.info[6]["~"])
    e.cmd = cmd
    cmd.acl_bits = bit
    u.by_name[cmd.fullname.lower().encode()] = e
    u.order.append(e)
    u.entries.append(e)
    for j in e.cats:
        u.cat_mask[j] |= bit
        u.cat_apply[j] |= bit
        u.cat_count[j] += 1
    u.commands_mask |= bit
    u.all |= bit
    for sel in _each_selector():
        if sel.allowed & u.future:
            sel.allowed |= bit


def _acl_remove(cmd: Command) -> None:
    u = universe()
    e = u.by_name.get(cmd.fullname.lower().encode())
    if e is None or e.cmd is not cmd:
        return
    bit = e.bit
    del u.by_name[cmd.fullname.lower().encode()]
    u.order.remove(e)
    u.entries.remove(e)
    for j in e.cats:
        u.cat_mask[j] &= ~bit
        u.cat_apply[j] &= ~bit
        u.cat_count[j] -= 1
    u.commands_mask &= ~bit
    u.all &= ~bit
    for sel in _each_selector():
        sel.allowed &= ~bit
        if sel.firstargs:
            sel.firstargs.pop(bit, None)


# ================================================================ load/unload
def _import_file(path: str) -> Any:
    _LOADED_FILES[0] += 1
    stem = os.path.splitext(os.path.basename(path))[0]
    modname = "vermilion_modules.%s_%d" % (
        "".join(ch if ch.isalnum() else "_" for ch in stem),
        _LOADED_FILES[0],
    )
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise _LoadFailed("not a Python file")
    pymod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = pymod
    try:
        spec.loader.exec_module(pymod)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return pymod


def load_module(server: Any, path: str, args: Any = ()) -> "Module":
    """moduleLoad: import ``path``, run its ``on_load(module, args)``. Raises
    ReplyError (Redis's MODULE LOAD error) after logging the reason."""
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    path = str(path)
    if not os.path.isfile(path):
        server.log_warning(
            "Module %s failed to load: %s: cannot open shared object file: "
            "No such file or directory" % (path, path)
        )
        raise CommandError("ERR Error loading the extension. Please check the server logs.")
    mod = Module(path, args)
    mod.server = server
    try:
        pymod = _import_file(path)
        on_load = getattr(pymod, "on_load", None) or getattr(pymod, "RedisModule_OnLoad", None)
        if on_load is None:
            server.log_warning(
                "Module %s does not export RedisModule_OnLoad() symbol. Module not loaded." % path
            )
            raise CommandError("ERR Error loading the extension. Please check the server logs.")
        r = on_load(mod, list(args))
        if r is False:
            raise _LoadFailed("on_load returned False")
        if mod.name is None:
            mod.init(os.path.splitext(os.path.basename(path))[0])
    except CommandError:
        _rollback(mod)
        raise
    except BaseException as e:
        _rollback(mod)
        if isinstance(e, (KeyboardInterrupt, SystemExit)) and not isinstance(e, _LoadFailed):
            raise
        server.log_warning(
            "Module %s initialization failed. Module not loaded: %s: %s"
            % (path, type(e).__name__, e)
        )
        raise CommandError(
            "ERR Error loading the extension. Please check the server logs."
        ) from None
    for cmd in mod.commands:  # (docs were built before init() named it)
        cmd._docs["%"][-1] = mod.name
    MODULES[mod.name] = mod
    server.log_notice("Module '%s' loaded from %s" % (mod.name, path))
    return mod


def _rollback(mod: Module) -> None:
    for cmd in mod.commands:
        _unregister(cmd)
    mod.commands = []
    for mt in mod.types:
        _drop_type(mt)
    mod.types = []


def _drop_type(mt: ModuleType) -> None:
    rdb_module.MODULE_TYPES.pop(mt.id >> 10, None)
    for attr in ("type_name", "rdb_module_type"):
        try:
            delattr(mt.cls, attr)
        except AttributeError:
            pass


def unload_module(server: Any, name: str) -> None:
    """moduleUnload: Redis's refusals, then ``on_unload``, then its commands go."""
    mod = MODULES.get(name)
    if mod is None:
        raise CommandError("ERR Error unloading module: no such module with that name")
    if mod.types:
        raise CommandError(
            "ERR Error unloading module: the module exports one or more module-side data "
            "types, can't unload"
        )
    if mod.on_unload is not None:
        try:
            if mod.on_unload() is False:
                raise CommandError("ERR Error unloading module: operation not possible.")
        except CommandError:
            raise
        except Exception:
            server.log_exception("module %s on_unload" % name)
            raise CommandError("ERR Error unloading module: operation not possible.") from None
    for cmd in mod.commands:
        _unregister(cmd)
    del MODULES[name]
    server.log_notice("Module %s unloaded" % name)


def info_lines() -> list:
    """INFO modules' lines (genModulesInfoString)."""
    return [
        "module:name=%s,ver=%d,api=1,filters=0,usedby=[],using=[],options=[]" % (m.name, m.ver)
        for m in MODULES.values()
    ]


# ============================================================ start-up
@on_server_init
def _init(server: Any) -> None:
    """Track the server (stats, ACL), then load the ``loadmodule`` directives
    before any data is loaded, as redis-server's moduleLoadFromQueue."""
    _SERVERS.add(server)
    stats = server.cmdstats
    while len(stats) < len(table.ALL_COMMANDS):
        stats.append(CommandStats())
    for entry in server.config.extra.get("loadmodule", ()):
        path, margs = entry[0], list(entry[1:])
        loaded = next(
            (m for m in MODULES.values() if os.path.abspath(m.path) == os.path.abspath(path)),
            None,
        )
        if loaded is not None:
            continue  # another server of this process loaded it: commands are per process
        try:
            load_module(server, path, margs)
        except CommandError:
            server.log_warning("Can't load module from %s: server aborting" % path)
            raise ModuleLoadError(
                "Can't load module from %s: server aborting (see the log)" % path
            ) from None


# ================================================================ MODULE
_MODULE_HELP = [
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and "
    "optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
]


def _protected_check(c: Any) -> None:
    """MODULE LOAD/LOADEX/UNLOAD are PROTECTED: enable-module-command decides."""
    if not c.server._protected_allowed(c, table.COMMANDS[b"module"]):
        raise CommandError(
            'ERR MODULE command not allowed. If the enable-module-command option is set to "local", '
            "you can run it from a local connection, otherwise you need to set this option "
            "in the configuration file, and then restart the server."
        )


@command("module|help")
def module_help(c: Any, argv: list) -> Any:
    out = [Status("MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")]
    out.extend(Status(x) for x in _MODULE_HELP)
    out += [Status("HELP"), Status("    Prints this help.")]
    return out


@command("module|list")
def module_list(c: Any, argv: list) -> Any:
    out = []
    for m in MODULES.values():
        out.append(
            Map(
                [
                    b"name",
                    m.name.encode(),
                    b"ver",
                    m.ver,
                    b"path",
                    m.path.encode(),
                    b"args",
                    list(m.args),
                ]
            )
        )
    return out


@command("module|load")
def module_load(c: Any, argv: list) -> Any:
    _protected_check(c)
    load_module(c.server, argv[2].decode("utf-8", "surrogateescape"), argv[3:])
    return OK


@command("module|loadex")
def module_loadex(c: Any, argv: list) -> Any:
    _protected_check(c)
    args: list = []
    i = 3
    while i < len(argv):
        a = argv[i].lower()
        if a == b"config" and i + 2 < len(argv):
            c.server.log_warning(
                "Module Configurations were not set, likely a missing LoadConfigs call. "
                "Unloading the module."
            )
            raise CommandError("ERR Error loading the extension. Please check the server logs.")
        if a == b"args":
            args = list(argv[i + 1 :])
            break
        raise CommandError("ERR Error loading the extension. Please check the server logs.")
    load_module(c.server, argv[2].decode("utf-8", "surrogateescape"), args)
    return OK


@command("module|unload")
def module_unload(c: Any, argv: list) -> Any:
    _protected_check(c)
    unload_module(c.server, argv[2].decode("utf-8", "surrogateescape"))
    return OK
