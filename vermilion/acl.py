"""Access control lists (Redis 7.0's acl.c): users, their rules, and the checks.

**Users.** A server holds named users (:class:`User`), always including
``default``, which every new connection starts as. A user has flags (on/off,
nopass, sanitize-payload), SHA-256 password hashes, and one or more selectors: the
*root* selector (the rules written outside parentheses) and any number of extra
ones written as ``(...)``. A command is allowed when any one selector allows it.

**Selectors** (:class:`Selector`) hold what a user may do: a bitmap of allowed
commands (one bit per command and sub-command, plus a "future commands" bit set
only by ``+@all`` / ``allcommands``), first arguments allowed for otherwise
blocked commands (``+select|0``), key patterns each with read/write permissions
(``~k*``, ``%R~k*``, ``%W~k*``) and Pub/Sub channel patterns (``&news.*``).

**The command universe.** ACL rules are about every command Redis 7.0.15 has, not
only the ones Vermilion implements: ``+geoadd`` is accepted, ``ACL CAT geo`` lists
the geo commands, and the way ``ACL LIST`` compacts a set of allowed commands into
categories counts the whole table, so its rule strings are the ones Redis prints.
The universe is read from ``spec.json``; each bound :class:`~vermilion.commands.table.Command`
carries its bit in ``acl_bits``. Redis walks its command dict in hash order, which
changes with every process (``ACL CAT string`` and the order of single-command rules
such as ``+get +set`` differ between two redis-servers); we use spec.json's order.

**Enforcement.** A client whose user may not run everything has ``c.acl`` set to
its :class:`User` (None otherwise), which makes it ``special``: the dispatcher's
fast path stays untouched for unrestricted users, and ``Server.check_command``
asks :meth:`User.check` (processCommand's ACL step), EXEC asks
:meth:`User.check_exec`. Denials go to the ACL LOG.

Passwords are stored as SHA-256 hex digests only, as Redis does.
"""

import os
import time

from .core.bootstrap import on_server_init
from .core.config import DIRECTIVE_CHECKS
from .globmatch import compile as glob_compile
from .core.config import ConfigError
from .core import table
from .core import limits
from .core.keyspecs import keys_with_flags
from .protocol.encoder import Map
from .protocol.reader import split_args

# acl.c's category table: its order is ACL CAT's and the order categories are tried
# when ACL LIST compacts a command bitmap.
CATEGORIES = (
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
)
_CAT_INDEX = {name: i for i, name in enumerate(CATEGORIES)}

# User flags, in the order ACL LIST / GETUSER show them.
U_ON, U_OFF, U_NOPASS, U_SKIP_SANITIZE, U_SANITIZE = 1, 2, 4, 8, 16
_USER_FLAGS = (
    (U_ON, "on"),
    (U_OFF, "off"),
    (U_NOPASS, "nopass"),
    (U_SKIP_SANITIZE, "skip-sanitize-payload"),
    (U_SANITIZE, "sanitize-payload"),
)

# Selector flags.
S_ROOT, S_ALLKEYS, S_ALLCHANNELS, S_ALLCOMMANDS = 1, 2, 4, 8

# Key pattern permissions.
PERM_R, PERM_W = 1, 2
PERM_ALL = PERM_R | PERM_W

# Check results (server.h ACL_DENIED_*), compared by value like Redis does.
ACL_OK, DENIED_CMD, DENIED_KEY, DENIED_AUTH, DENIED_CHANNEL = 0, 1, 2, 3, 4
CTX_TOPLEVEL, CTX_MULTI, CTX_LUA, CTX_MODULE = 0, 1, 2, 3
_REASONS = {
    DENIED_CMD: b"command",
    DENIED_KEY: b"key",
    DENIED_CHANNEL: b"channel",
    DENIED_AUTH: b"auth",
}
_CONTEXTS = {CTX_TOPLEVEL: b"toplevel", CTX_MULTI: b"multi", CTX_LUA: b"lua", CTX_MODULE: b"module"}


class AclError(Exception):
    """An ACL rule that cannot be applied; ``str()`` is Redis's reason text."""


_E_SYNTAX = "Syntax error"
_E_UNKNOWN = "Unknown command or category name in ACL"
_E_ALLKEYS = (
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid "
    "and does not have any effect. Try 'resetkeys' to start with an empty list "
    "of patterns"
)
_E_ALLCHANNELS = (
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not "
    "valid and does not have any effect. Try 'resetchannels' to start with "
    "an empty list of channels"
)
_E_NOPASS = "The password you are trying to remove from the user does not exist"
_E_BADHASH = (
    "The password hash must be exactly 64 characters and contain only lowercase "
    "hexadecimal characters"
)
_E_DUPLICATE = "Duplicate user found. A user can only be defined once in config files"
_E_CHILD = "Allowing first-arg of a subcommand is not supported"


# ------------------------------------------------------------ command universe
class _Entry:
    """One command or sub-command as ACL rules see it."""

    __slots__ = ("fullname", "bit", "mask", "cats", "subs", "cmd", "parent")


class Universe:
    """Every command of spec.json with its ACL bit and categories (built once)."""

    def __init__(self):
        spec = table.spec()
        self.order = []  # top-level entries, in spec.json order
        self.by_name = {}  # lower-case fullname (bytes) -> _Entry
        n = 0
        entries = []
        for name, data in spec.items():
            info = data["info"]
            top = self._entry(name, info, None, None, n)
            n += 1
            entries.append(top)
            self.order.append(top)
            subs = info[9] if isinstance(info[9], list) else []
            top.subs = []
            for sinfo in subs:
                sub = self._entry(sinfo[0], sinfo, None, top, n)
                n += 1
                entries.append(sub)
                top.subs.append(sub)
            top.mask = top.bit
            for sub in top.subs:
                sub.mask = sub.bit
                top.mask |= sub.bit
        self.count = n
        self.future = 1 << n  # set only by +@all / allcommands
        self.commands_mask = (1 << n) - 1  # every real command
        self.all = self.commands_mask | self.future
        self.cat_mask = [0] * len(CATEGORIES)  # commands having the category
        self.cat_apply = [0] * len(CATEGORIES)  # ... plus their sub-commands (+@cat)
        self.cat_count = [0] * len(CATEGORIES)
        for e in entries:
            for j in e.cats:
                self.cat_mask[j] |= e.bit
                self.cat_apply[j] |= e.mask
                self.cat_count[j] += 1
        self.entries = entries

    def _entry(self, fullname, info, docs, parent, n):
        e = _Entry()
        e.fullname = fullname
        e.bit = 1 << n
        e.parent = parent
        e.subs = None
        e.cats = tuple(_CAT_INDEX[a["+"][1:]] for a in info[6]["~"])
        cmd = None
        top = table.COMMANDS.get(fullname.split("|")[0].encode())
        if parent is None:
            cmd = top
        elif top is not None and top.subcommands is not None:
            cmd = top.subcommands.get(fullname.split("|", 1)[1].encode())
        if cmd is None:  # known to Redis, not implemented here: still a valid ACL target
            cmd = table.Command(
                fullname, info, docs, parent=parent.cmd if parent is not None else None
            )
        cmd.acl_bits = e.bit
        e.cmd = cmd
        self.by_name[fullname.lower().encode()] = e
        return e

    def lookup(self, name):
        """ACLLookupCommand: 'get' or 'config|get' (case-insensitive), else None."""
        parts = name.split(b"|")
        if len(parts) > 2:
            return None
        base = self.by_name.get(parts[0].lower()) if b"|" not in parts[0] else None
        if base is None or base.parent is not None:
            return None
        if len(parts) == 1:
            return base
        if not base.subs:
            return None  # strict: 'get|x' is no command
        return self.by_name.get(name.lower())

    def entry_of(self, cmd):
        """The universe entry of a bound (or universe) Command."""
        return self.by_name.get(cmd.fullname.lower().encode())


_UNIVERSE = None


def universe():
    global _UNIVERSE
    if _UNIVERSE is None:
        _UNIVERSE = Universe()
    return _UNIVERSE


def _bits(cmd):
    b = cmd.acl_bits
    if not b:
        e = universe().entry_of(cmd)
        b = e.bit if e is not None else 0
    return b


# ---------------------------------------------------------------- selectors
def _has_spaces(s):
    """ACLStringHasSpaces: C isspace() or NUL anywhere."""
    for ch in s:
        if ch in (32, 9, 10, 11, 12, 13, 0):
            return True
    return False


def _cstr(b):
    nul = b.find(b"\0")
    return b if nul < 0 else b[:nul]


class Selector:
    __slots__ = ("flags", "allowed", "firstargs", "patterns", "channels")

    def __init__(self, flags=0):
        self.flags = flags
        self.allowed = 0
        self.firstargs = None  # {bit: [arg, ...]} for +cmd|arg on commands without subs
        self.patterns = []  # [[pattern, perms], ...]
        self.channels = []  # [pattern, ...]

    def copy(self):
        s = Selector(self.flags)
        s.allowed = self.allowed
        s.firstargs = {k: list(v) for k, v in self.firstargs.items()} if self.firstargs else None
        s.patterns = [list(p) for p in self.patterns]
        s.channels = list(self.channels)
        return s

    # ------------------------------------------------------------ rules
    def _change(self, entry, allow):
        """ACLChangeSelectorPerm: a command and all its sub-commands."""
        if allow:
            self.allowed |= entry.mask
        else:
            self.allowed &= ~entry.mask
            self.flags &= ~S_ALLCOMMANDS
        fa = self.firstargs
        if fa and entry.bit in fa:
            del fa[entry.bit]

    def _category(self, j, allow):
        u = universe()
        if allow:
            self.allowed |= u.cat_apply[j]
        else:
            self.allowed &= ~u.cat_apply[j]
            self.flags &= ~S_ALLCOMMANDS
        fa = self.firstargs
        if fa:
            m = u.cat_mask[j]
            for b in [b for b in fa if b & m]:
                del fa[b]

    def apply(self, op):
        """ACLSetSelector: one rule (bytes). Raises AclError."""
        low = op.lower()
        u = universe()
        if low in (b"allkeys", b"~*"):
            self.flags |= S_ALLKEYS
            self.patterns = []
        elif low == b"resetkeys":
            self.flags &= ~S_ALLKEYS
            self.patterns = []
        elif low in (b"allchannels", b"&*"):
            self.flags |= S_ALLCHANNELS
            self.channels = []
        elif low == b"resetchannels":
            self.flags &= ~S_ALLCHANNELS
            self.channels = []
        elif low in (b"allcommands", b"+@all"):
            self.allowed = u.all
            self.flags |= S_ALLCOMMANDS
            self.firstargs = None
        elif low in (b"nocommands", b"-@all"):
            self.allowed = 0
            self.flags &= ~S_ALLCOMMANDS
            self.firstargs = None
        elif op[:1] in (b"~", b"%"):
            if self.flags & S_ALLKEYS:
                raise AclError(_E_ALLKEYS)
            offset = 1
            if op[:1] == b"%":
                perms = 0
                ok = True
                while offset < len(op):
                    ch = op[offset]
                    if ch in (82, 114) and not perms & PERM_R:  # R
                        perms |= PERM_R
                    elif ch in (87, 119) and not perms & PERM_W:  # W
                        perms |= PERM_W
                    elif ch == 126:  # ~
                        offset += 1
                        break
                    else:
                        ok = False
                        break
                    offset += 1
                if not perms or not ok:
                    raise AclError(_E_SYNTAX)
            else:
                perms = PERM_ALL
            pattern = op[offset:]
            if _has_spaces(pattern):
                raise AclError(_E_SYNTAX)
            for p in self.patterns:
                if p[0] == pattern:
                    p[1] |= perms
                    break
            else:
                self.patterns.append([pattern, perms])
            self.flags &= ~S_ALLKEYS
        elif op[:1] == b"&":
            if self.flags & S_ALLCHANNELS:
                raise AclError(_E_ALLCHANNELS)
            pattern = op[1:]
            if _has_spaces(pattern):
                raise AclError(_E_SYNTAX)
            if pattern not in self.channels:
                self.channels.append(pattern)
            self.flags &= ~S_ALLCHANNELS
        elif op[:1] == b"+" and op[1:2] != b"@":
            name = _cstr(op[1:])
            bar = name.rfind(b"|")
            if bar < 0:
                e = u.lookup(name)
                if e is None:
                    raise AclError(_E_UNKNOWN)
                self._change(e, True)
            else:
                head, sub = name[:bar], name[bar + 1 :]
                e = u.lookup(head)
                if e is None:
                    raise AclError(_E_UNKNOWN)
                if e.parent is not None:
                    raise AclError(_E_CHILD)
                if not sub:
                    raise AclError(_E_SYNTAX)
                if e.subs:
                    e = u.lookup(name)
                    if e is None:
                        raise AclError(_E_UNKNOWN)
                    self._change(e, True)
                else:
                    # +select|0: allow one first argument of an otherwise blocked command
                    if self.firstargs is None:
                        self.firstargs = {}
                    args = self.firstargs.setdefault(e.bit, [])
                    lsub = sub.lower()
                    if not any(a.lower() == lsub for a in args):
                        args.append(sub)
        elif op[:1] == b"-" and op[1:2] != b"@":
            e = u.lookup(_cstr(op[1:]))
            if e is None:
                raise AclError(_E_UNKNOWN)
            self._change(e, False)
        elif op[:1] in (b"+", b"-") and op[1:2] == b"@":
            j = _CAT_INDEX.get(_cstr(op[2:]).lower().decode("latin-1"))
            if j is None:
                raise AclError(_E_UNKNOWN)
            self._category(j, op[:1] == b"+")
        else:
            raise AclError(_E_SYNTAX)

    # --------------------------------------------------------- describing
    def describe_commands(self):
        """ACLDescribeSelectorCommandRules: '+@all -get', '-@all +@hash +set', ..."""
        u = universe()
        allowed = self.allowed
        if allowed & u.future:
            additive = False
            rules = [b"+@all"]
            fake = u.all
        else:
            additive = True
            rules = [b"-@all"]
            fake = 0
        temp = allowed
        applied = [False] * len(CATEGORIES)
        cat_mask, cat_apply, cat_count = u.cat_mask, u.cat_apply, u.cat_count
        while True:
            best = -1
            mindiff = 1 << 62
            maxsame = 0
            for j in range(len(CATEGORIES)):
                if applied[j]:
                    continue
                on = (temp & cat_mask[j]).bit_count()
                off = cat_count[j] - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = j, diff, same
            if best == -1:
                break
            if additive:
                fake |= cat_apply[best]
                temp &= ~cat_apply[best]
                rules.append(b"+@" + CATEGORIES[best].encode())
            else:
                fake &= ~cat_apply[best]
                temp |= cat_apply[best]
                rules.append(b"-@" + CATEGORIES[best].encode())
            applied[best] = True
        fa = self.firstargs
        for e in u.order:
            userbit = allowed & e.bit
            if bool(userbit) != bool(fake & e.bit):
                rules.append((b"+" if userbit else b"-") + e.fullname.encode())
                fake = (fake | e.mask) if userbit else (fake & ~e.mask)
            for s in e.subs:
                sbit = allowed & s.bit
                if bool(sbit) != bool(fake & s.bit):
                    rules.append((b"+" if sbit else b"-") + s.fullname.encode())
                    fake = (fake | s.mask) if sbit else (fake & ~s.mask)
            if not userbit and fa and e.bit in fa:
                for arg in fa[e.bit]:
                    rules.append(b"+" + e.fullname.encode() + b"|" + arg)
        return b" ".join(rules)

    def describe_keys(self):
        if self.flags & S_ALLKEYS:
            return b"~*"
        return b" ".join(_pattern_string(p) for p in self.patterns)

    def describe_channels(self):
        if self.flags & S_ALLCHANNELS:
            return b"&*"
        return b" ".join(b"&" + ch for ch in self.channels)

    def describe(self):
        """ACLDescribeSelector: keys, channels, then command rules."""
        parts = []
        if self.flags & S_ALLKEYS:
            parts.append(b"~*")
        else:
            parts.extend(_pattern_string(p) for p in self.patterns)
        if self.flags & S_ALLCHANNELS:
            parts.append(b"&*")
        else:
            parts.append(b"resetchannels")
            parts.extend(b"&" + ch for ch in self.channels)
        parts.append(self.describe_commands())
        return b" ".join(parts)

    def getuser_fields(self):
        return [
            b"commands",
            self.describe_commands(),
            b"keys",
            self.describe_keys(),
            b"channels",
            self.describe_channels(),
        ]

    # ----------------------------------------------------------- checking
    def allows_everything(self):
        return (
            self.flags & S_ALLKEYS
            and self.flags & S_ALLCHANNELS
            and (
                self.flags & S_ALLCOMMANDS
                or self.allowed & universe().commands_mask == universe().commands_mask
            )
        )

    def check_key(self, key, kflags):
        """ACLSelectorCheckKey: may this selector touch ``key`` the way ``kflags`` says?"""
        if self.flags & S_ALLKEYS:
            return True
        need = 0
        if "access" in kflags:
            need |= PERM_R
        if "insert" in kflags or "delete" in kflags or "update" in kflags:
            need |= PERM_W
        for pattern, perms in self.patterns:
            if perms & need != need:
                continue
            if glob_compile(pattern).match(key):
                return True
        return False

    def check(self, cmd, argv, cache):
        """ACLSelectorCheckCmd -> (result, argument index)."""
        if not self.flags & S_ALLCOMMANDS and not cmd.no_auth:
            bit = _bits(cmd)
            if not self.allowed & bit:
                fa = self.firstargs
                if len(argv) < 2 or not fa or bit not in fa:
                    return DENIED_CMD, 0
                idx = 2 if cmd.parent is not None else 1
                if idx >= len(argv):
                    return DENIED_CMD, 0
                arg = _cstr(argv[idx]).lower()
                if not any(_cstr(a).lower() == arg for a in fa[bit]):
                    return DENIED_CMD, 0
        if not self.flags & S_ALLKEYS:
            keys = cache.get("keys")
            if keys is None:
                keys = cache["keys"] = keys_with_flags(cmd, argv)
            for pos, kflags in keys:
                if not self.check_key(argv[pos], kflags):
                    return DENIED_KEY, pos
        if not self.flags & S_ALLCHANNELS:
            spec = _CHANNEL_CMDS.get(cmd.fullname)
            if spec is not None and spec[0] & (CH_PUBLISH | CH_SUBSCRIBE):
                flags, start, count = spec
                stop = len(argv) if count < 0 else min(start + count, len(argv))
                is_pattern = bool(flags & CH_PATTERN)
                for i in range(start, stop):
                    if not _channel_allowed(self.channels, argv[i], is_pattern):
                        return DENIED_CHANNEL, i
        return ACL_OK, 0


def _pattern_string(p):
    pattern, perms = p
    if perms == PERM_ALL:
        return b"~" + pattern
    if perms == PERM_R:
        return b"%R~" + pattern
    return b"%W~" + pattern


def _channel_allowed(channels, channel, is_pattern):
    """ACLCheckChannelAgainstList: a PSUBSCRIBE pattern must equal an ACL pattern; a
    channel name is matched against the ACL patterns."""
    for pattern in channels:
        if is_pattern:
            if _cstr(pattern) == _cstr(channel):
                return True
        elif glob_compile(pattern).match(channel):
            return True
    return False


# db.c's commands_with_channels: flags, first channel position, count (-1: all the rest)
CH_PUBLISH, CH_SUBSCRIBE, CH_UNSUBSCRIBE, CH_PATTERN = 1, 2, 4, 8
_CHANNEL_CMDS = {
    "subscribe": (CH_SUBSCRIBE, 1, -1),
    "ssubscribe": (CH_SUBSCRIBE, 1, -1),
    "unsubscribe": (CH_UNSUBSCRIBE, 1, -1),
    "sunsubscribe": (CH_UNSUBSCRIBE, 1, -1),
    "psubscribe": (CH_PATTERN | CH_SUBSCRIBE, 1, -1),
    "punsubscribe": (CH_PATTERN | CH_UNSUBSCRIBE, 1, -1),
    "publish": (CH_PUBLISH, 1, 1),
    "spublish": (CH_PUBLISH, 1, 1),
}


def full_key_access(c, argv):
    """May ``c`` read any key with its current command? (SORT's BY and GET options)."""
    u = c.acl
    return u is None or u.has_full_key_access(c.cmd, argv)


# -------------------------------------------------------------------- users
def hash_password(pw):
    import hashlib  # start-up cost: OpenSSL's digests, once a password is set or checked

    return hashlib.sha256(pw).hexdigest().encode()


def _valid_hash(h):
    return len(h) == 64 and all(48 <= ch <= 57 or 97 <= ch <= 102 for ch in h)


def _password_hash(op):
    """The digest a >pass / <pass (cleartext) or #hash / !hash (given) rule names."""
    if op[:1] in (b">", b"<"):
        return hash_password(op[1:])
    h = op[1:]
    if not _valid_hash(h):
        raise AclError(_E_BADHASH)
    return h


class User:
    """An ACL user. ``check``/``check_exec`` are called by the dispatcher for the
    clients authenticated as this user while it is restricted."""

    __slots__ = ("name", "flags", "passwords", "selectors", "_descr", "state")

    def __init__(self, name, state, pubsub_default):
        self.name = name  # bytes
        self.state = state  # the server's AclState
        self.flags = U_OFF
        self.passwords = []  # hex digests (bytes)
        self.selectors = [Selector(S_ROOT | pubsub_default)]
        self._descr = None

    @property
    def root(self):
        return self.selectors[0]

    def copy_from(self, src):
        """ACLCopyUser: take ``src``'s rules (the name stays)."""
        self.flags = src.flags
        self.passwords = list(src.passwords)
        self.selectors = [s.copy() for s in src.selectors]
        self._descr = None

    def apply(self, op, pubsub_default):
        """ACLSetUser: one rule (bytes). Raises AclError."""
        self._descr = None
        if not op:
            return
        low = op.lower()
        if low == b"on":
            self.flags = (self.flags | U_ON) & ~U_OFF
        elif low == b"off":
            self.flags = (self.flags | U_OFF) & ~U_ON
        elif low == b"skip-sanitize-payload":
            self.flags = (self.flags | U_SKIP_SANITIZE) & ~U_SANITIZE
        elif low == b"sanitize-payload":
            self.flags = (self.flags | U_SANITIZE) & ~U_SKIP_SANITIZE
        elif low == b"nopass":
            self.flags |= U_NOPASS
            self.passwords = []
        elif low == b"resetpass":
            self.flags &= ~U_NOPASS
            self.passwords = []
        elif op[:1] in (b">", b"#"):
            h = _password_hash(op)
            if h not in self.passwords:
                self.passwords.append(h)
            self.flags &= ~U_NOPASS
        elif op[:1] in (b"<", b"!"):
            h = _password_hash(op)
            if h not in self.passwords:
                raise AclError(_E_NOPASS)
            self.passwords.remove(h)
        elif op[:1] == b"(" and op[-1:] == b")":
            s = Selector(pubsub_default)
            for rule in split_args(op[1:-1]) or ():
                s.apply(bytes(rule))
            self.selectors.append(s)
        elif low == b"clearselectors":
            del self.selectors[1:]
        elif low == b"reset":
            self.apply(b"resetpass", pubsub_default)
            self.apply(b"resetkeys", pubsub_default)
            self.apply(b"resetchannels", pubsub_default)
            if pubsub_default & S_ALLCHANNELS:
                self.apply(b"allchannels", pubsub_default)
            self.apply(b"off", pubsub_default)
            self.apply(b"sanitize-payload", pubsub_default)
            self.apply(b"clearselectors", pubsub_default)
            self.apply(b"-@all", pubsub_default)
        else:
            self.root.apply(op)

    # ---------------------------------------------------------- describing
    def describe(self):
        """ACLDescribeUser: the rules after 'user <name> ' in ACL LIST."""
        d = self._descr
        if d is None:
            parts = [name.encode() for flag, name in _USER_FLAGS if self.flags & flag]
            parts.extend(b"#" + h for h in self.passwords)
            parts.append(self.root.describe())
            d = b" ".join(parts)
            for s in self.selectors[1:]:
                d += b" (" + s.describe() + b")"
            self._descr = d
        return d

    @property
    def restricted(self):
        """Could any command be refused to this user? (False: skip all checks)."""
        return not any(s.allows_everything() for s in self.selectors)

    # ------------------------------------------------------------ checking
    def permits(self, cmd, argv):
        """ACLCheckAllUserCommandPerm -> (ACL_OK or DENIED_*, argument index)."""
        relevant, last = DENIED_CMD, 0
        cache = {}
        idx = 0
        for s in self.selectors:
            r, i = s.check(cmd, argv, cache)
            if r == ACL_OK:
                return ACL_OK, 0
            if r != DENIED_CMD:
                idx = i
            if r > relevant or (r == relevant and idx > last):
                relevant, last = r, idx
        return relevant, last

    def check(self, c, cmd, argv):
        """processCommand's ACL step: None, or the NOPERM error text (logged)."""
        r, pos = self.permits(cmd, argv)
        if r == ACL_OK:
            return None
        self.state.log_denial(
            c, r, CTX_MULTI if c.multi is not None else CTX_TOPLEVEL, cmd, argv, pos
        )
        if r == DENIED_CMD:
            return "NOPERM this user has no permissions to run the '%s' command" % cmd.fullname
        if r == DENIED_KEY:
            return "NOPERM this user has no permissions to access one of the keys used as arguments"
        return "NOPERM this user has no permissions to access one of the channels used as arguments"

    def check_exec(self, c, cmd, argv):
        """EXEC's check of a queued command (the rules may have changed since)."""
        r, pos = self.permits(cmd, argv)
        if r == ACL_OK:
            return None
        self.state.log_denial(c, r, CTX_MULTI, cmd, argv, pos)
        if r == DENIED_CMD:
            reason = "no permission to execute the command or subcommand"
        elif r == DENIED_KEY:
            reason = "no permission to touch the specified keys"
        else:
            reason = "no permission to access one of the channels used as arguments"
        return (
            "NOPERM ACLs rules changed between the moment the transaction was "
            "accumulated and the EXEC call. This command is no longer allowed for the "
            "following reason: %s" % reason
        )

    def has_full_key_access(self, cmd, argv, kflags=("access",)):
        """ACLUserCheckCmdWithUnrestrictedKeyAccess (SORT BY/GET need it)."""
        need = 0
        if "access" in kflags:
            need |= PERM_R
        if "insert" in kflags or "delete" in kflags or "update" in kflags:
            need |= PERM_W
        cache = {}
        for s in self.selectors:
            r, _ = s.check(cmd, argv, cache)
            if r != ACL_OK:
                continue
            if s.flags & S_ALLKEYS:
                return True
            for pattern, perms in s.patterns:
                if perms & need == need and pattern == b"*":
                    return True
        return False


def merge_selector_args(args):
    """ACLMergeSelectorArguments: join '(a' 'b)' into '(a b)'.

    Returns (merged, None) or (None, index of the unmatched '(' argument)."""
    out = []
    selector = None
    start = -1
    for j, op in enumerate(args):
        if op[:1] == b"(" and op[-1:] != b")":
            selector = op
            start = j
            continue
        if start != -1:
            selector = selector + b" " + _cstr(op)
            if op[-1:] == b")":
                start = -1
                out.append(selector)
            continue
        out.append(op)
    if start != -1:
        return None, start
    return out, None


# --------------------------------------------------------------- server state
ACL_LOG_GROUPING_MS = 60000


class LogEntry:
    __slots__ = ("count", "reason", "context", "object", "username", "ctime", "cinfo")


class AclState:
    """One server's users, its ACL LOG, and the glue to clients and config."""

    def __init__(self, server):
        self.server = server
        self.users = {}
        self.log = []  # newest first
        self.default = self._create(b"default")
        self._make_default(self.default)

    # ------------------------------------------------------------- helpers
    def pubsub_default(self):
        v = self.server.config.get("acl-pubsub-default")
        return S_ALLCHANNELS if v == "allchannels" else 0

    def _create(self, name):
        u = User(name, self, self.pubsub_default())
        self.users[name] = u
        return u

    def new_user(self, name):
        """A user not (yet) in the table."""
        return User(name, self, self.pubsub_default())

    def _make_default(self, u):
        pd = self.pubsub_default()
        for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            u.apply(op, pd)

    def get(self, name):
        return self.users.get(bytes(name))

    def default_nopass(self):
        return bool(self.default.flags & U_NOPASS)

    def default_needs_auth(self):
        """authRequired(): the default user has a password (no nopass) or is off."""
        f = self.default.flags
        return not (f & U_NOPASS) or bool(f & U_OFF)

    def set_client_default(self, c):
        """clientSetDefaultAuth: a new or RESET connection is the default user."""
        c.user = "default"
        f = self.default.flags
        c.authenticated = bool(f & U_NOPASS) and not (f & U_OFF)
        c.acl = self.default if self.default.restricted else None
        c.update_special()

    def _sync_new_client_acl(self):
        self.server.new_client_acl = self.default if self.default.restricted else None

    def user_changed(self, u):
        """A user's rules changed: its clients' fast-path flag follows."""
        acl = u if u.restricted else None
        name = u.name.decode("utf-8", "surrogateescape")
        for c in list(self.server.clients.values()):
            if c.user == name and c.transport is not None and c.acl is not acl:
                c.acl = acl
                c.update_special()
        if u is self.default:
            self._sync_new_client_acl()

    # --------------------------------------------------------- auth
    def check_credentials(self, username, password):
        u = self.users.get(bytes(username))
        if u is None or u.flags & U_OFF:
            return None
        if u.flags & U_NOPASS:
            return u
        h = hash_password(password)
        for p in u.passwords:
            if _consttime_eq(p, h):
                return u
        return None

    def authenticate(self, c, username, password, argv):
        """ACLAuthenticateUser: log the client in as ``username`` or log the failure."""
        u = self.check_credentials(username, password)
        if u is None:
            self.add_log(
                c,
                DENIED_AUTH,
                CTX_MULTI if c.multi is not None else CTX_TOPLEVEL,
                bytes(argv[0]),
                bytes(username),
                argv,
            )
            return False
        c.authenticated = True
        c.user = u.name.decode("utf-8", "surrogateescape")
        c.acl = u if u.restricted else None
        c.update_special()
        return True

    def update_default_password(self, password):
        """ACLUpdateDefaultUserPassword: what requirepass does."""
        u = self.default
        pd = self.pubsub_default()
        u.apply(b"resetpass", pd)
        if password:
            u.apply(b">" + password.encode("utf-8", "surrogateescape"), pd)
        else:
            u.apply(b"nopass", pd)

    # ------------------------------------------------------------- SETUSER
    def set_user(self, name, args):
        """ACLStringSetUser: apply every rule to a copy, then commit. Returns an
        error text (without the ERR prefix) or None."""
        merged, bad = merge_selector_args(args)
        if merged is None:
            return "Unmatched parenthesis in acl selector starting at '%s'." % _text(args[bad])
        existing = self.users.get(name)
        temp = self.new_user(name)
        if existing is not None:
            temp.copy_from(existing)
        pd = self.pubsub_default()
        for op in merged:
            try:
                temp.apply(op, pd)
            except AclError as e:
                return "Error in ACL SETUSER modifier '%s': %s" % (_text(op), e)
        if existing is not None:
            self.kill_pubsub_clients_if_needed(temp, existing)
            u = existing
        else:
            u = self.users[name] = self.new_user(name)
        u.copy_from(temp)
        self.user_changed(u)
        return None

    def kill_pubsub_clients_if_needed(self, new, original):
        """ACLKillPubsubClientsIfNeeded: drop subscribers that lost a channel."""
        if any(s.flags & S_ALLCHANNELS for s in new.selectors):
            return
        upcoming = []
        for s in new.selectors:
            upcoming.extend(s.channels)
        match = True
        for s in original.selectors:
            if s.flags & S_ALLCHANNELS:
                match = False
                break
            if any(ch not in upcoming for ch in s.channels):
                match = False
                break
        if match:
            return
        name = original.name.decode("utf-8", "surrogateescape")
        for c in list(self.server.clients.values()):
            if c.user != name or not (c.subscriptions or c.psubscriptions or c.ssubscriptions):
                continue
            kill = any(not _channel_allowed(upcoming, p, True) for p in c.psubscriptions)
            if not kill:
                kill = any(
                    not _channel_allowed(upcoming, ch, False)
                    for ch in list(c.subscriptions) + list(c.ssubscriptions)
                )
            if kill:
                self._kill_client(c)

    # ------------------------------------------------------------- DELUSER
    def delete_user(self, name):
        u = self.users.pop(bytes(name), None)
        if u is None:
            return False
        self._kill_clients_of(u)
        return True

    def _kill_clients_of(self, u):
        """ACLFreeUserAndKillClients: its connections go (the running one after its reply)."""
        name = u.name.decode("utf-8", "surrogateescape")
        for c in list(self.server.clients.values()):
            if c.user == name:
                c.user = "default"
                c.authenticated = False
                c.acl = None
                c.update_special()
                self._kill_client(c)

    def _kill_client(self, c):
        if c is self.server.current_client:
            c.close_after_reply = True
        else:
            c.free()

    # ---------------------------------------------------------------- LOG
    def log_denial(self, c, reason, context, cmd, argv, pos):
        if reason == DENIED_CMD:
            obj = cmd.fullname.encode()
        else:
            obj = bytes(argv[pos])
        self.add_log(c, reason, context, obj, None, argv)

    def add_log(self, c, reason, context, obj, username, argv=None):
        """addACLLogEntry: a new entry, or a recent similar one counted again."""
        e = LogEntry()
        e.count = 1
        e.reason = reason
        e.context = context
        e.object = obj
        e.username = username if username is not None else c.user.encode("utf-8", "surrogateescape")
        e.ctime = int(time.time() * 1000)
        try:
            e.cinfo = limits.describe_client(c, c, argv)  # CLIENT LIST's line
        except Exception:
            e.cinfo = b""
        log = self.log
        for i, cur in enumerate(log[:10]):
            if (
                cur.reason == e.reason
                and cur.context == e.context
                and abs(cur.ctime - e.ctime) <= ACL_LOG_GROUPING_MS
                and cur.object == e.object
                and cur.username == e.username
            ):
                del log[i]
                log.insert(0, cur)
                cur.cinfo = e.cinfo
                cur.ctime = e.ctime
                cur.count += 1
                return
        log.insert(0, e)
        maxlen = self.server.config.get_int("acllog-max-len")
        if len(log) > maxlen:
            del log[maxlen:]

    def log_reply(self, count):
        now = int(time.time() * 1000)
        out = []
        for e in self.log[:count]:
            out.append(
                Map(
                    [
                        b"count",
                        e.count,
                        b"reason",
                        _REASONS.get(e.reason, b"unknown"),
                        b"context",
                        _CONTEXTS.get(e.context, b"unknown"),
                        b"object",
                        e.object,
                        b"username",
                        e.username,
                        b"age-seconds",
                        (now - e.ctime) / 1000,
                        b"client-info",
                        e.cinfo,
                    ]
                )
            )
        return out

    # --------------------------------------------------------- LIST / SAVE
    def list_lines(self):
        return [b"user " + name + b" " + self.users[name].describe() for name in sorted(self.users)]

    def save(self, filename):
        """ACLSaveToFile: write a temp file, then rename it over the ACL file."""
        data = b"".join(line + b"\n" for line in self.list_lines())
        tmp = "%s.tmp-%d-%d" % (filename, os.getpid(), int(time.time() * 1000))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError as e:
            self.server.log_warning("Opening temp ACL file for ACL SAVE: %s" % e.strerror)
            return False
        try:
            try:
                if os.write(fd, data) != len(data):
                    raise OSError(5, "short write")
            finally:
                os.close(fd)
            os.rename(tmp, filename)
            return True
        except OSError as e:
            self.server.log_warning("Writing ACL file for ACL SAVE: %s" % e.strerror)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return False

    # --------------------------------------------------------------- LOAD
    def load(self, filename):
        """ACLLoadFromFile: all or nothing. Returns None or the error text."""
        try:
            with open(filename, "rb") as fh:
                raw = fh.read()
        except OSError as e:
            return "Error loading ACLs, opening file '%s': %s" % (filename, e.strerror)
        raw = _cstr(raw)
        new_users = {}
        errors = []
        pd = self.pubsub_default()
        for i, line in enumerate(raw.split(b"\n")):
            linenum = i + 1
            line = line.strip(b" \t\r\n")
            if not line:
                continue
            argv = line.split(b" ")
            if argv[0] != b"user" or len(argv) < 2:
                errors.append(
                    "%s:%d should start with user keyword followed by the "
                    "username. " % (filename, linenum)
                )
                continue
            name = argv[1]
            if _has_spaces(name):
                errors.append(
                    "'%s:%d: username '%s' contains invalid characters. "
                    % (filename, linenum, _text(name))
                )
                continue
            if name in new_users:
                errors.append(
                    "WARNING: Duplicate user '%s' found on line %d. " % (_text(name), linenum)
                )
                continue
            u = new_users[name] = User(name, self, pd)
            merged, bad = merge_selector_args(argv[2:])
            if merged is None:
                errors.append(
                    "%s:%d: Unmatched parenthesis in selector definition." % (filename, linenum)
                )
                continue
            syntax_error = False
            for op in merged:
                op = op.strip(b"\t\r\n")
                try:
                    u.apply(op, pd)
                except AclError as e:
                    if str(e) == _E_UNKNOWN:
                        errors.append(
                            "%s:%d: Error in applying operation '%s': %s. "
                            % (filename, linenum, _text(op), e)
                        )
                    elif not syntax_error:
                        errors.append("%s:%d: %s. " % (filename, linenum, e))
                        syntax_error = True
        if errors:
            return (
                "".join(errors) + "WARNING: ACL errors detected, no change to the "
                "previously active ACL rules was performed"
            )
        new_default = new_users.pop(b"default", None)
        if new_default is None:
            new_default = User(b"default", self, pd)
            self._make_default(new_default)
        old = self.users
        old.pop(b"default", None)
        self.default.copy_from(new_default)
        new_users[b"default"] = self.default
        self.users = new_users
        for u in old.values():
            self._kill_clients_of(u)
        self.user_changed(self.default)
        return None

    def load_configured(self, entries):
        """ACLLoadConfiguredUsers: the 'user' lines of the config file (already checked
        by :func:`check_user_directive` while the file was read)."""
        pd = self.pubsub_default()
        for argv in entries:
            argv = [_b(a) for a in argv]
            name = argv[0]
            merged, _ = merge_selector_args(argv[1:])
            if _has_spaces(name):
                self._startup_failure("Spaces not allowed in ACL usernames")
            u = self.users.get(name)
            if u is None:
                u = self._create(name)
            else:
                u.apply(b"reset", pd)
            for op in merged or ():
                try:
                    u.apply(op, pd)
                except AclError as e:
                    self._startup_failure(
                        "Error loading ACL rule '%s' for the user named "
                        "'%s': %s" % (_text(op), _text(name), e)
                    )
            if u.flags & U_OFF:
                self.server.log_notice(
                    "The user '%s' is disabled (there is no 'on' modifier in the user "
                    "description). Make sure this is not a configuration error." % _text(name)
                )
        self.user_changed(self.default)

    def _startup_failure(self, msg, critical=True):
        """Redis logs and exits: we log the same lines and refuse to build the server."""
        self.server.log_warning(msg)
        if critical:
            self.server.log_warning("Critical error while loading ACLs. Exiting.")
        raise AclConfigError(msg)


class AclConfigError(Exception):
    """The users of the configuration cannot be loaded: the server must not start."""


def _b(a):
    return a if isinstance(a, bytes) else a.encode("utf-8", "surrogateescape")


def check_user_directive(config, argv):
    """ACLAppendUserForLoading: a 'user' line of a config file, checked as it is read.

    ``argv`` is the whole line split ('user', name, rules...). Unknown commands are
    let through (reported when the users are loaded), as in Redis. Raises the
    config's ConfigError with Redis's text, which names ``argv[i]`` for the i-th
    *rule* (a Redis quirk kept as is)."""
    argv = [_b(a) for a in argv]
    if any(_b(prev[0]) == argv[1] for prev in config.extra.get("user", ())):
        raise ConfigError("Error in user declaration '%s': %s" % (_text(argv[1]), _E_DUPLICATE))
    merged, bad = merge_selector_args(argv[2:])
    if merged is None:
        raise ConfigError("Error in user declaration '%s': %s" % (_text(argv[bad]), _E_UNKNOWN))
    pd = S_ALLCHANNELS if config.values.get("acl-pubsub-default") == "allchannels" else 0
    fake = User(b"", None, pd)
    for j, op in enumerate(merged):
        try:
            fake.apply(op, pd)
        except AclError as e:
            if str(e) != _E_UNKNOWN:
                raise ConfigError("Error in user declaration '%s': %s" % (_text(argv[j]), e))


def _consttime_eq(a, b):
    import hmac  # start-up cost: it loads OpenSSL's digests; once a password is checked

    return hmac.compare_digest(a, b)


def _text(b):
    """An argument shown in an error (%s: stops at NUL, never raises)."""
    return _cstr(bytes(b)).decode("utf-8", "surrogateescape")


# ------------------------------------------------------------------ wiring
@on_server_init
def _init(server):
    universe()
    state = AclState(server)
    server.acl = state
    cfg = server.config
    state.update_default_password(server.requirepass or "")

    def on_requirepass(v):
        server.requirepass = v
        state.update_default_password(v)
        state.user_changed(state.default)

    cfg.hooks["requirepass"] = on_requirepass
    users = cfg.extra.get("user") or []
    aclfile = cfg.get("aclfile") or ""
    if aclfile and users:
        state._startup_failure(
            "Configuring Redis with users defined in redis.conf and at the same setting an "
            "ACL file path is invalid. This setup is very likely to lead to configuration "
            "errors and security holes, please define either an ACL file or declare users "
            "directly in your redis.conf, but not both.",
            critical=False,
        )
    if users:
        state.load_configured(users)
    if aclfile:
        err = state.load(aclfile)
        if err is not None:
            state._startup_failure(
                "Aborting Redis startup because of ACL errors: %s" % err, critical=False
            )
    state._sync_new_client_acl()
    cfg.rewrite_users = lambda: [
        line[5:].decode("utf-8", "surrogateescape") for line in state.list_lines()
    ]


DIRECTIVE_CHECKS["user"] = check_user_directive
