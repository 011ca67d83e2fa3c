"""Key specs: where a command's keys are in its arguments, read once, used by all.

Redis 7 describes the keys of every command with *key specs* (``COMMAND INFO``'s
ninth field): where to start looking (``begin_search``: a fixed index, or the
argument after a keyword such as ``STREAMS``) and how to find the keys from
there (``find_keys``: a range, or a count read from the arguments), each with
flags saying what the command does with those keys (``RO``, ``RW``, ``OW``,
``access``, ``insert``, ...). Our spec.json holds them as Redis published them.

:func:`specs_of` turns a command's specs into :class:`KeySpec` objects once, and
:func:`keys_with_flags` (Redis's ``getKeysFromCommandWithSpecs``) walks them for
a given argv. Where the specs cannot say (a spec marked ``incomplete`` or
``variable_flags``, or invalid for this argv), the command's *native getkeys
procedure* decides, as in Redis's db.c: SORT's STORE, MIGRATE's KEYS, EVAL's
numkeys, and the rest of :data:`NATIVE_GETKEYS`.

Everything that needs key positions reads them here: COMMAND GETKEYS and
GETKEYSANDFLAGS, ACL key permissions, and client-side caching.
"""

from typing import Any, Callable

from ..errors import CommandError
from ..util import atoi, parse_int


class KeySpec:
    """One key spec of a command, parsed from spec.json."""

    __slots__ = (
        "flags",
        "bs_type",
        "index",
        "keyword",
        "startfrom",
        "fk_type",
        "lastkey",
        "keystep",
        "limit",
        "keynumidx",
        "firstkey",
    )

    def __init__(self, tagged: dict) -> None:
        d = _kv(tagged)
        self.flags = frozenset(f["+"] for f in d["flags"]["~"])
        bs = _kv(d["begin_search"])
        fk = _kv(d["find_keys"])
        self.bs_type = bs["type"]  # "index", "keyword" or "unknown"
        bss = _kv(bs["spec"])
        self.index = bss.get("index", 0)
        kw = bss.get("keyword")
        self.keyword = kw.encode().lower() if kw is not None else None
        self.startfrom = bss.get("startfrom", 0)
        self.fk_type = fk["type"]  # "range", "keynum" or "unknown"
        fks = _kv(fk["spec"])
        self.lastkey = fks.get("lastkey", 0)
        self.keystep = fks.get("keystep", 1)
        self.limit = fks.get("limit", 0)
        self.keynumidx = fks.get("keynumidx", 0)
        self.firstkey = fks.get("firstkey", 0)

    def __repr__(self) -> str:
        return "<KeySpec %s %s %s>" % (self.bs_type, self.fk_type, sorted(self.flags))


class CommandKeys:
    """What a command's key specs say, once: its specs and how to use them."""

    __slots__ = ("specs", "usable", "has_keys", "native")

    def __init__(self, cmd: Any) -> None:
        ks = cmd.key_specs
        self.specs = [KeySpec(s) for s in (ks["~"] if isinstance(ks, dict) else ks)]
        has_keyspec = any("not_key" not in s.flags for s in self.specs)
        varflags = any("variable_flags" in s.flags for s in self.specs)
        self.usable = has_keyspec and not varflags  # "we prefer key specs if ..."
        self.native = NATIVE_GETKEYS.get(cmd.fullname)
        self.has_keys = has_keyspec or self.native is not None


def _kv(tagged: dict) -> dict:
    items = tagged["%"]
    return dict(zip(items[0::2], items[1::2]))


_PARSED: dict = {}  # Command -> CommandKeys


def specs_of(cmd: Any) -> CommandKeys:
    """The command's :class:`CommandKeys`, parsed on first use."""
    ck = _PARSED.get(cmd)
    if ck is None:
        ck = _PARSED[cmd] = CommandKeys(cmd)
    return ck


def keys_with_flags(cmd: Any, argv: list) -> list[tuple[int, frozenset]]:
    """getKeysFromCommandWithSpecs: [(position, flags)] of the keys in ``argv``."""
    ck = specs_of(cmd)
    if ck.usable:
        r = keys_by_specs(ck.specs, argv)
        if r is not None:
            return r
    native = ck.native
    if native is not None:
        return native(argv)
    return []


def key_positions(cmd: Any, argv: list) -> list[int]:
    """Just the positions of :func:`keys_with_flags` (getKeysFromCommand)."""
    return [pos for pos, _ in keys_with_flags(cmd, argv)]


def has_keys(cmd: Any) -> bool:
    """Does the command take keys at all (COMMAND GETKEYS' "no key arguments")?"""
    return specs_of(cmd).has_keys


def keys_by_specs(specs: list[KeySpec], argv: list) -> list[tuple[int, frozenset]] | None:
    """getKeysUsingKeySpecs: (pos, flags) pairs, or None when a spec is invalid or
    incomplete for this argv (the caller then asks the native procedure)."""
    argc = len(argv)
    out = []
    for ks in specs:
        flags = ks.flags
        if "not_key" in flags:
            continue
        first = 0
        bstype = ks.bs_type
        if bstype == "index":
            first = ks.index
        elif bstype == "keyword":
            startfrom = ks.startfrom
            kw = ks.keyword
            start = startfrom if startfrom > 0 else argc + startfrom
            end = argc - 1 if startfrom > 0 else 1
            i = start
            while i != end:
                if i >= argc or i < 1:
                    break
                if argv[i].lower() == kw:
                    first = i + 1
                    break
                i = i + 1 if start <= end else i - 1
            if not first:
                continue
        else:
            return None
        fktype = ks.fk_type
        step = ks.keystep
        if fktype == "range":
            if ks.lastkey >= 0:
                last = first + ks.lastkey
            elif not ks.limit:
                last = argc + ks.lastkey
            else:
                last = first + ((argc - first) // ks.limit + ks.lastkey)
        elif fktype == "keynum":
            if ks.keynumidx >= argc or first + ks.keynumidx >= argc:
                return None
            try:
                numkeys = parse_int(argv[first + ks.keynumidx])
            except CommandError:
                return None
            if numkeys < 0:
                return None
            first += ks.firstkey
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        for i in range(first, last + 1, step):
            out.append((i, flags))
        if "incomplete" in flags:
            return None
    return out


# ---- the native getkeys procedures of db.c, for commands whose specs are not enough
def _generic(store: int, numidx: int, first: int, step: int) -> Callable[[list], list]:
    def proc(argv: list) -> list:
        argc = len(argv)
        num = atoi(argv[numidx]) if numidx < argc else 0
        if num < 1 or num > (argc - first) // step:
            return []
        out: list = [(first + i * step, frozenset()) for i in range(num)]
        if store:
            out.append((store, frozenset()))
        return out

    return proc


_RO_ACCESS = frozenset(("RO", "access"))

# A key's flags in the order Redis prints them (addReplyFlagsForKeyArgs):
# COMMAND GETKEYSANDFLAGS and module key specs.
KEY_FLAG_ORDER = (
    "RO",
    "RW",
    "OW",
    "RM",
    "access",
    "update",
    "insert",
    "delete",
    "not_key",
    "incomplete",
    "variable_flags",
)
_RW_ACCESS_UPDATE = frozenset(("RW", "access", "update"))


def _sort_keys(argv: list) -> list:
    out = [(1, _RO_ACCESS)]
    store = None
    i = 2
    skips = {b"limit": 2, b"get": 1, b"by": 1}
    while i < len(argv):
        a = argv[i].lower()
        if a in skips:
            i += skips[a]
        elif a == b"store" and i + 1 < len(argv):
            store = i + 1
        i += 1
    if store is not None:
        out.append((store, frozenset(("OW", "update"))))
    return out


def _migrate_keys(argv: list) -> list:
    argc = len(argv)
    first, num = 3, 1
    if argc > 6:
        skips = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
        i = 6
        while i < argc:
            a = argv[i].lower()
            if a == b"keys":
                if argv[3]:
                    num = 0
                else:
                    first = i + 1
                    num = argc - first
                break
            i += skips.get(a, 0) + 1
    flags = frozenset(("RW", "access", "delete"))
    return [(first + i, flags) for i in range(num)]


def _georadius_keys(argv: list) -> list:
    stored = None
    i = 5
    while i < len(argv):
        if argv[i].lower() in (b"store", b"storedist") and i + 1 < len(argv):
            stored = i + 1
            i += 1
        i += 1
    out: list = [(1, frozenset())]
    if stored is not None:
        out.append((stored, frozenset()))
    return out


def _xread_keys(argv: list) -> list:
    streams = -1
    i = 1
    while i < len(argv):
        a = argv[i].lower()
        if a in (b"block", b"count"):
            i += 1
        elif a == b"group":
            i += 2
        elif a == b"noack":
            pass
        elif a == b"streams":
            streams = i
            break
        else:
            break
        i += 1
    num = len(argv) - streams - 1 if streams != -1 else 0
    if streams == -1 or num == 0 or num % 2:
        return []
    num //= 2
    return [(streams + 1 + j, frozenset()) for j in range(num)]


def _set_keys(argv: list) -> list:
    for a in argv[3:]:
        if a.lower() == b"get":
            return [(1, _RW_ACCESS_UPDATE)]
    return [(1, frozenset(("OW", "update")))]


def _bitfield_keys(argv: list) -> list:
    readonly = True
    i = 2
    argc = len(argv)
    while i < argc:
        rem = argc - i - 1
        a = argv[i].lower()
        if a == b"get" and rem >= 2:
            i += 2
        elif a in (b"set", b"incrby") and rem >= 3:
            readonly = False
            break
        elif a == b"overflow" and rem >= 1:
            i += 1
        else:
            readonly = False
            break
        i += 1
    return [(1, _RO_ACCESS if readonly else _RW_ACCESS_UPDATE)]


NATIVE_GETKEYS = {
    "sintercard": _generic(0, 1, 2, 1),
    "zunionstore": _generic(1, 2, 3, 1),
    "zinterstore": _generic(1, 2, 3, 1),
    "zdiffstore": _generic(1, 2, 3, 1),
    "zunion": _generic(0, 1, 2, 1),
    "zinter": _generic(0, 1, 2, 1),
    "zdiff": _generic(0, 1, 2, 1),
    "zintercard": _generic(0, 1, 2, 1),
    "eval": _generic(0, 2, 3, 1),
    "evalsha": _generic(0, 2, 3, 1),
    "eval_ro": _generic(0, 2, 3, 1),
    "evalsha_ro": _generic(0, 2, 3, 1),
    "fcall": _generic(0, 2, 3, 1),
    "fcall_ro": _generic(0, 2, 3, 1),
    "lmpop": _generic(0, 1, 2, 1),
    "blmpop": _generic(0, 2, 3, 1),
    "zmpop": _generic(0, 1, 2, 1),
    "bzmpop": _generic(0, 2, 3, 1),
    "sort": _sort_keys,
    "sort_ro": lambda argv: [(1, _RO_ACCESS)],
    "migrate": _migrate_keys,
    "georadius": _georadius_keys,
    "georadiusbymember": _georadius_keys,
    "xread": _xread_keys,
    "xreadgroup": _xread_keys,
    "set": _set_keys,
    "bitfield": _bitfield_keys,
}
