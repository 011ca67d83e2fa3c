"""Configuration: every parameter of Redis 7.0, with its type, bounds, default and effect.

Each parameter is one :class:`Param` in :data:`PARAMS`, declared like Redis's
``standardConfig`` table (config.c): a *kind* (bool, string, enum, numeric or
special), flags (immutable, protected, hidden, sensitive, multi-argument), and
for numbers the bounds and the accepted notations (memory units such as
``1gb``, percentages, octal). The kind validates a new value with Redis's exact
error text and normalises it to the spelling ``CONFIG GET`` answers
(``config_defaults.json`` holds what Redis 7.0.15 answers at startup).

:class:`Config` holds the current values as strings. Features react to changes
through two dictionaries other modules fill:

* ``config.hooks[name] = fn(value)`` applies a new value to the running server;
  raising :class:`ConfigError` refuses it (and a CONFIG SET is rolled back);
* ``config.validators[name] = fn(value) -> value`` adds a check after the
  built-in one.

The same object reads redis.conf text (``include``, ``rename-command``,
``user`` ... directives), the ``--name value`` command line (turned into config
text exactly as redis-server does, so errors name the same line numbers), and
rewrites the file for CONFIG REWRITE keeping comments and unknown lines.
"""

import json
import math
import os
import re
import stat

from ..protocol.reader import split_args
from ..util import LLONG_MAX, parse_ll, repr_bytes
import tempfile
import sys
import glob as _glob

_HERE = os.path.dirname(__file__)

with open(os.path.join(_HERE, "config_defaults.json")) as _fh:
    DEFAULTS = json.load(_fh)

INT_MAX = 2**31 - 1
INT_MIN = -(2**31)
UINT_MAX = 2**32 - 1
LONG_MAX = LLONG_MAX
ULLONG_MAX = 2**64 - 1

# Flags
IMMUTABLE = 1  # only the config file / command line may set it
PROTECTED = 2  # CONFIG SET needs enable-protected-configs
HIDDEN = 4  # CONFIG GET answers it only when named exactly
SENSITIVE = 8  # CONFIG SET redacts its value in the slowlog / MONITOR
MULTI_ARG = 16  # takes several space-separated arguments
DENY_LOADING = 32  # refused while loading the dataset
VOLATILE = 64  # apply even when the value did not change
NULLABLE = 128  # (strings) an empty value means "unset": not rewritten

# Numeric notations
MEMORY = 1
PERCENT = 2
OCTAL = 4


# Checks of multi-argument directives that belong to another module (the ``user``
# directive is parsed by vermilion/acl.py, which registers it here when imported).
DIRECTIVE_CHECKS: dict = {}


class ConfigError(Exception):
    """A refused value. ``str(e)`` is Redis's reason; ``line``/``lineno`` locate
    it in a config file when it comes from one."""

    option: str | None = None  # the option refused, when the caller names it
    value = None  # and the value it was given

    def __init__(self, msg, line=None, lineno=0):
        super().__init__(msg)
        self.msg = msg
        self.line = line
        self.lineno = lineno


class Param:
    __slots__ = (
        "name",
        "alias",
        "kind",
        "flags",
        "default",
        "lo",
        "hi",
        "num",
        "unsigned",
        "choices",
        "check",
    )

    def __init__(
        self,
        name,
        kind,
        flags=0,
        alias=None,
        lo=None,
        hi=None,
        num=0,
        unsigned=False,
        choices=None,
        check=None,
        default=None,
    ):
        self.name = name
        self.alias = alias
        self.kind = kind
        self.flags = flags
        self.lo = lo
        self.hi = hi
        self.num = num
        self.unsigned = unsigned
        self.choices = choices  # enums: ((name, value), ...) in Redis's order
        self.check = check  # extra validation: fn(parsed) -> error text or None
        self.default = default if default is not None else DEFAULTS.get(name, "")


# ------------------------------------------------------------------ checks
def _check_activedefrag(v):
    if v == "yes":
        return (
            "Active defragmentation cannot be enabled: it requires a Redis server "
            "compiled with a modified Jemalloc like the one shipped by default with "
            "the Redis source distribution"
        )
    return None


def _basename_check(what, noun, allow_empty):
    def check(v):
        if not allow_empty and v == "":
            return "%s can't be empty" % what
        if "/" in v or "\\" in v:
            return "%s can't be a path, just a %s" % (what, noun)
        return None

    return check


def _check_hostname(v):
    if len(v) >= 256:  # NET_HOST_STR_LEN
        return "Hostnames must be less than 256 characters"
    for ch in v:
        if not (ch.isascii() and (ch.isalnum() or ch in "-.")):
            return "Hostnames may only contain alphanumeric characters, hyphens or dots"
    return None


_TITLE_VARS = {
    "title": "",
    "listen-addr": "*:6379",
    "server-mode": "",
    "config-file": "-",
    "port": "6379",
    "tls-port": "0",
    "unixsocket": "",
}


def expand_proc_title(template, variables):
    """sdstemplate() + sdstrim: ``{name}`` replaced from ``variables`` and ``{{``
    by a brace; None if a variable is unknown or a ``{`` is left open."""
    out = []
    i, n = 0, len(template)
    while i < n:
        j = template.find("{", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        j += 1
        if j >= n:
            return None
        if template[j] == "{":
            out.append("{")
            i = j + 1
            continue
        k = template.find("}", j)
        if k < 0 or template[j:k] not in variables:
            return None
        out.append(variables[template[j:k]])
        i = k + 1
    return "".join(out).strip(" ")


def _check_proc_title(v):
    """validateProcTitleTemplate: invalid if a variable is unknown, a brace is
    unbalanced, or the result is blank."""
    if not expand_proc_title(v, _TITLE_VARS):
        return "template format is invalid or contains unknown variables"
    return None


def _check_shutdown_flags(v):
    if v & 1 and v & 2:
        return "shutdown options SAVE and NOSAVE can't be used simultaneously"
    return None


# -------------------------------------------------------------- the table
def _bools():
    spec = """
    rdbchecksum I|daemonize I|io-threads-do-reads I|always-show-logo I|protected-mode|
    rdbcompression|rdb-del-sync-files|activerehashing|stop-writes-on-bgsave-error|
    set-proc-title I|dynamic-hz|lazyfree-lazy-eviction|lazyfree-lazy-expire|
    lazyfree-lazy-server-del|lazyfree-lazy-user-del|lazyfree-lazy-user-flush|
    repl-disable-tcp-nodelay|repl-diskless-sync|aof-rewrite-incremental-fsync|
    no-appendfsync-on-rewrite|cluster-require-full-coverage|rdb-save-incremental-fsync|
    aof-load-truncated|aof-use-rdb-preamble|aof-timestamp-enabled|
    cluster-replica-no-failover =cluster-slave-no-failover|replica-lazy-flush =slave-lazy-flush|
    replica-serve-stale-data =slave-serve-stale-data|replica-read-only =slave-read-only|
    replica-ignore-maxmemory =slave-ignore-maxmemory|jemalloc-bg-thread|activedefrag|
    syslog-enabled I|cluster-enabled I|appendonly L|cluster-allow-reads-when-down|
    cluster-allow-pubsubshard-when-down|crash-log-enabled|crash-memcheck-enabled|
    use-exit-on-panic H|disable-thp I|cluster-allow-replica-migration|replica-announced|
    latency-tracking|aof-disable-auto-gc|replica-ignore-disk-write-errors|tls-cluster|
    tls-replication|tls-prefer-server-ciphers|tls-session-caching|lua-enable-deprecated-api I H"""
    out = []
    for item in spec.split("|"):
        words = item.split()
        name, flags, alias = words[0], 0, None
        for w in words[1:]:
            if w.startswith("="):
                alias = w[1:]
            else:
                flags |= {"I": IMMUTABLE, "H": HIDDEN, "L": DENY_LOADING}[w]
        default = "no" if name in ("use-exit-on-panic", "lua-enable-deprecated-api") else None
        out.append(
            Param(
                name,
                "bool",
                flags,
                alias,
                check=_check_activedefrag if name == "activedefrag" else None,
                default=default,
            )
        )
    return out


def _strings():
    N = NULLABLE
    rows = [
        ("aclfile", IMMUTABLE, None),
        ("unixsocket", IMMUTABLE | N, None),
        ("pidfile", IMMUTABLE | N, None),
        ("replica-announce-ip", N, None, "slave-announce-ip"),
        ("masteruser", SENSITIVE | N, None),
        ("cluster-announce-ip", N, None),
        ("cluster-config-file", IMMUTABLE, None),
        ("cluster-announce-hostname", N, _check_hostname),
        ("syslog-ident", IMMUTABLE, None),
        ("dbfilename", PROTECTED, _basename_check("dbfilename", "filename", True)),
        ("appendfilename", IMMUTABLE, _basename_check("appendfilename", "filename", False)),
        ("appenddirname", IMMUTABLE, _basename_check("appenddirname", "dirname", False)),
        ("server_cpulist", IMMUTABLE | N, None),
        ("bio_cpulist", IMMUTABLE | N, None),
        ("aof_rewrite_cpulist", IMMUTABLE | N, None),
        ("bgsave_cpulist", IMMUTABLE | N, None),
        ("ignore-warnings", 0, None),
        ("proc-title-template", 0, _check_proc_title),
        ("bind-source-addr", N, None),
        ("logfile", IMMUTABLE, None),
        ("masterauth", SENSITIVE | N, None),
        ("requirepass", SENSITIVE | N, None),
    ]
    for tls in (
        "cert-file",
        "key-file",
        "client-cert-file",
        "client-key-file",
        "dh-params-file",
        "ca-cert-file",
        "ca-cert-dir",
    ):
        rows.append(("tls-" + tls, VOLATILE | N, None))
    for tls in ("key-file-pass", "client-key-file-pass", "protocols", "ciphers", "ciphersuites"):
        rows.append(("tls-" + tls, N, None))
    return [Param(r[0], "string", r[1], r[3] if len(r) > 3 else None, check=r[2]) for r in rows]


def _enum(*names):
    return tuple((n, i) for i, n in enumerate(names))


def _enums():
    pd = (("no", 0), ("yes", 1), ("local", 2))
    sig = (("default", 0), ("save", 1), ("nosave", 2), ("now", 4), ("force", 8))
    return [
        Param("supervised", "enum", IMMUTABLE, choices=_enum("upstart", "systemd", "auto", "no")),
        Param(
            "syslog-facility",
            "enum",
            IMMUTABLE,
            choices=_enum(
                "user",
                "local0",
                "local1",
                "local2",
                "local3",
                "local4",
                "local5",
                "local6",
                "local7",
            ),
        ),
        Param(
            "repl-diskless-load",
            "enum",
            DENY_LOADING,
            choices=_enum("disabled", "on-empty-db", "swapdb"),
        ),
        Param("loglevel", "enum", choices=_enum("debug", "verbose", "notice", "warning")),
        Param(
            "maxmemory-policy",
            "enum",
            choices=_enum(
                "volatile-lru",
                "volatile-lfu",
                "volatile-random",
                "volatile-ttl",
                "allkeys-lru",
                "allkeys-lfu",
                "allkeys-random",
                "noeviction",
            ),
        ),
        Param("appendfsync", "enum", choices=_enum("everysec", "always", "no")),
        Param(
            "oom-score-adj",
            "enum",
            choices=(("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)),
        ),
        Param("acl-pubsub-default", "enum", choices=_enum("allchannels", "resetchannels")),
        Param("sanitize-dump-payload", "enum", choices=_enum("no", "yes", "clients")),
        Param("enable-protected-configs", "enum", IMMUTABLE, choices=pd),
        Param("enable-debug-command", "enum", IMMUTABLE, choices=pd),
        Param("enable-module-command", "enum", IMMUTABLE, choices=pd),
        Param(
            "cluster-preferred-endpoint-type",
            "enum",
            choices=_enum("ip", "hostname", "unknown-endpoint"),
        ),
        Param(
            "propagation-error-behavior",
            "enum",
            choices=_enum("ignore", "panic", "panic-on-replicas"),
        ),
        Param("shutdown-on-sigint", "enum", MULTI_ARG, choices=sig, check=_check_shutdown_flags),
        Param("shutdown-on-sigterm", "enum", MULTI_ARG, choices=sig, check=_check_shutdown_flags),
        Param("tls-auth-clients", "enum", choices=_enum("no", "yes", "optional")),
    ]


def _numbers():
    I, H = IMMUTABLE, HIDDEN
    rows = [
        # name, alias, flags, lo, hi, notation, unsigned
        ("databases", None, I, 1, INT_MAX),
        ("port", None, 0, 0, 65535),
        ("io-threads", None, I, 1, 128),
        ("auto-aof-rewrite-percentage", None, 0, 0, INT_MAX),
        ("cluster-replica-validity-factor", "cluster-slave-validity-factor", 0, 0, INT_MAX),
        ("list-max-listpack-size", "list-max-ziplist-size", 0, INT_MIN, INT_MAX),
        ("tcp-keepalive", None, 0, 0, INT_MAX),
        ("cluster-migration-barrier", None, 0, 0, INT_MAX),
        ("active-defrag-cycle-min", None, 0, 1, 99),
        ("active-defrag-cycle-max", None, 0, 1, 99),
        ("active-defrag-threshold-lower", None, 0, 0, 1000),
        ("active-defrag-threshold-upper", None, 0, 0, 1000),
        ("lfu-log-factor", None, 0, 0, INT_MAX),
        ("lfu-decay-time", None, 0, 0, INT_MAX),
        ("replica-priority", "slave-priority", 0, 0, INT_MAX),
        ("repl-diskless-sync-delay", None, 0, 0, INT_MAX),
        ("maxmemory-samples", None, 0, 1, INT_MAX),
        ("maxmemory-eviction-tenacity", None, 0, 0, 100),
        ("timeout", None, 0, 0, INT_MAX),
        ("replica-announce-port", "slave-announce-port", 0, 0, 65535),
        ("tcp-backlog", None, I, 0, INT_MAX),
        ("cluster-port", None, I, 0, 65535),
        ("cluster-announce-bus-port", None, 0, 0, 65535),
        ("cluster-announce-port", None, 0, 0, 65535),
        ("cluster-announce-tls-port", None, 0, 0, 65535),
        ("repl-timeout", None, 0, 1, INT_MAX),
        ("repl-ping-replica-period", "repl-ping-slave-period", 0, 1, INT_MAX),
        ("list-compress-depth", None, 0, 0, INT_MAX),
        ("rdb-key-save-delay", None, H, INT_MIN, INT_MAX),
        ("key-load-delay", None, H, INT_MIN, INT_MAX),
        ("active-expire-effort", None, 0, 1, 10),
        ("hz", None, 0, 0, INT_MAX),
        ("min-replicas-to-write", "min-slaves-to-write", 0, 0, INT_MAX),
        ("min-replicas-max-lag", "min-slaves-max-lag", 0, 0, INT_MAX),
        ("watchdog-period", None, H, 0, INT_MAX),
        ("shutdown-timeout", None, 0, 0, INT_MAX),
        ("repl-diskless-sync-max-replicas", None, 0, 0, INT_MAX),
        ("maxclients", None, 0, 1, UINT_MAX, 0, True),
        ("unixsocketperm", None, I, 0, 0o777, OCTAL, True),
        ("socket-mark-id", None, I, 0, UINT_MAX, 0, True),
        ("active-defrag-max-scan-fields", None, 0, 1, LONG_MAX),
        ("slowlog-max-len", None, 0, 0, LONG_MAX),
        ("acllog-max-len", None, 0, 0, LONG_MAX),
        ("busy-reply-threshold", "lua-time-limit", 0, 0, LONG_MAX),
        ("cluster-node-timeout", None, 0, 0, LLONG_MAX),
        ("slowlog-log-slower-than", None, 0, -1, LLONG_MAX),
        ("latency-monitor-threshold", None, 0, 0, LLONG_MAX),
        ("proto-max-bulk-len", None, 0, 1024 * 1024, LONG_MAX, MEMORY),
        ("stream-node-max-entries", None, 0, 0, LLONG_MAX),
        ("repl-backlog-size", None, 0, 1, LLONG_MAX, MEMORY),
        ("maxmemory", None, 0, 0, ULLONG_MAX, MEMORY, True),
        ("cluster-link-sendbuf-limit", None, 0, 0, ULLONG_MAX, MEMORY, True),
        ("hash-max-listpack-entries", "hash-max-ziplist-entries", 0, 0, LONG_MAX, 0, True),
        ("set-max-intset-entries", None, 0, 0, LONG_MAX, 0, True),
        ("zset-max-listpack-entries", "zset-max-ziplist-entries", 0, 0, LONG_MAX, 0, True),
        ("active-defrag-ignore-bytes", None, 0, 1, LLONG_MAX, MEMORY, True),
        ("hash-max-listpack-value", "hash-max-ziplist-value", 0, 0, LONG_MAX, MEMORY, True),
        ("stream-node-max-bytes", None, 0, 0, LONG_MAX, MEMORY, True),
        ("zset-max-listpack-value", "zset-max-ziplist-value", 0, 0, LONG_MAX, MEMORY, True),
        ("hll-sparse-max-bytes", None, 0, 0, LONG_MAX, MEMORY, True),
        ("tracking-table-max-keys", None, 0, 0, LONG_MAX, 0, True),
        ("client-query-buffer-limit", None, 0, 1024 * 1024, LONG_MAX, MEMORY, True),
        ("maxmemory-clients", None, 0, -100, LONG_MAX, MEMORY | PERCENT),
        ("repl-backlog-ttl", None, 0, 0, LONG_MAX),
        ("auto-aof-rewrite-min-size", None, 0, 0, LLONG_MAX, MEMORY),
        ("loading-process-events-interval-bytes", None, H, 1024, INT_MAX),
        ("tls-port", None, 0, 0, 65535),
        ("tls-session-cache-size", None, 0, 0, INT_MAX),
        ("tls-session-cache-timeout", None, 0, 0, INT_MAX),
        # Vermilion's own (not Redis's): hidden, so CONFIG GET * lists only Redis's
        ("metrics-port", None, I | H, 0, 65535),  # Prometheus /metrics, 0 = off
    ]
    hidden_defaults = {
        "metrics-port": "0",
        "rdb-key-save-delay": "0",
        "key-load-delay": "0",
        "watchdog-period": "0",
        "loading-process-events-interval-bytes": "2097152",
    }
    out = []
    for r in rows:
        name, alias, flags, lo, hi = r[:5]
        num = r[5] if len(r) > 5 else 0
        unsigned = r[6] if len(r) > 6 else False
        out.append(
            Param(
                name,
                "number",
                flags,
                alias,
                lo,
                hi,
                num,
                unsigned,
                default=hidden_defaults.get(name),
            )
        )
    return out


def _specials():
    return [
        Param("dir", "special", PROTECTED | DENY_LOADING),
        Param("save", "special", MULTI_ARG),
        Param("client-output-buffer-limit", "special", MULTI_ARG),
        Param("oom-score-adj-values", "special", MULTI_ARG),
        Param("notify-keyspace-events", "special"),
        Param("bind", "special", MULTI_ARG),
        Param("replicaof", "special", IMMUTABLE | MULTI_ARG, alias="slaveof"),
        Param("latency-tracking-info-percentiles", "special", MULTI_ARG),
    ]


PARAMS = {}  # primary name -> Param
LOOKUP = {}  # primary or alias name -> Param
ALIASES = {}  # alias -> primary name
for _p in _bools() + _strings() + _enums() + _numbers() + _specials():
    PARAMS[_p.name] = _p
    LOOKUP[_p.name] = _p
    if _p.alias:
        LOOKUP[_p.alias] = _p
        ALIASES[_p.alias] = _p.name

# Directives a config file may hold that are not parameters.
FILE_DIRECTIVES = frozenset(("include", "rename-command", "user", "loadmodule", "sentinel"))


def canonical(name):
    name = name.lower()
    return ALIASES.get(name, name)


# ------------------------------------------------------------ number parsing
_MEM_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1024**2,
    "g": 1000**3,
    "gb": 1024**3,
}


def memtoull(s):
    """Redis's memtoull(): '1gb' -> 1073741824; None when it is not a memory value."""
    if s.startswith("-"):
        return None
    i = 0
    while i < len(s) and "0" <= s[i] <= "9":
        i += 1
    mul = _MEM_UNITS.get(s[i:].lower())
    if mul is None or i >= 128:
        return None
    digits = s[:i]
    v = int(digits) if digits else 0
    return min(v, ULLONG_MAX) * mul % (ULLONG_MAX + 1)


def parse_memory(s):
    v = memtoull(s)
    if v is None:
        raise ConfigError("argument must be a memory value")
    return v


def string2ll(s):
    """Strict integer like Redis's string2ll (no spaces, no '+', no leading zeros)."""
    return parse_ll(s.encode("utf-8", "surrogateescape"))


def _strtoll(s, base):
    """strtoll() accepting what C does (leading blanks, sign); None if junk follows."""
    t = s.lstrip(" \t\n\r\f\v")
    sign = 1
    if t[:1] in ("+", "-"):
        sign = -1 if t[0] == "-" else 1
        t = t[1:]
    digits = "01234567" if base == 8 else "0123456789"
    i = 0
    while i < len(t) and t[i] in digits:
        i += 1
    if i < len(t):
        return None
    if i == 0:
        return 0 if s == "" else None
    v = sign * int(t[:i], base)
    if v > LLONG_MAX or v < -(2**63):
        return None
    return v


def _c_strtol_prefix(s):
    """strtoll(s, &end, 10) and whether it consumed everything (end == '\\0')."""
    t = s.lstrip(" \t\n\r\f\v")
    j = 0
    if t[:1] in ("+", "-"):
        j = 1
    k = j
    while k < len(t) and "0" <= t[k] <= "9":
        k += 1
    if k == j:
        return 0, s == ""
    v = int(t[:k])
    v = max(-(2**63), min(LLONG_MAX, v))
    return v, k == len(t)


def _format_memory(n):
    """rewriteConfigFormatMemory: 1gb / 64mb / 1kb / plain bytes."""
    if n and n % (1024**3) == 0:
        return "%dgb" % (n // 1024**3)
    if n and n % (1024**2) == 0:
        return "%dmb" % (n // 1024**2)
    if n and n % 1024 == 0:
        return "%dkb" % (n // 1024)
    return "%d" % n


def _fmt_percentile(d):
    """'%f' with trailing zeros (and a bare '.') trimmed, like trimDoubleString."""
    s = "%f" % d
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _parse_c_double(s):
    """string2d: a full strtod() parse; None on junk, spaces or NaN."""
    if not s or s[0].isspace() or s[-1].isspace() or "_" in s:
        return None
    try:
        v = float(s)
    except ValueError:
        if not re.match(r"[+-]?0[xX]", s):
            return None
        try:
            v = float.fromhex(s)  # strtod reads C99 hex floats too
        except (ValueError, OverflowError):
            return None
    if v != v:
        return None
    if math.isinf(v) and s.lower().lstrip("+-") not in ("inf", "infinity"):
        return None
    return v


NOTIFY_ALL = (
    1 << 2 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 10 | 1 << 13
)  # g$lshzxetd (notify.c's NOTIFY_ALL)
_NOTIFY_CHARS = {
    "A": NOTIFY_ALL,
    "g": 1 << 2,
    "$": 1 << 3,
    "l": 1 << 4,
    "s": 1 << 5,
    "h": 1 << 6,
    "z": 1 << 7,
    "x": 1 << 8,
    "e": 1 << 9,
    "K": 1 << 0,
    "E": 1 << 1,
    "t": 1 << 10,
    "m": 1 << 11,
    "d": 1 << 13,
    "n": 1 << 14,
}


def keyspace_events_flags(s):
    """notify-keyspace-events text -> flag bits (Redis's NOTIFY_*), or None."""
    flags = 0
    for ch in s:
        f = _NOTIFY_CHARS.get(ch)
        if f is None:
            return None
        flags |= f
    return flags


def keyspace_events_string(flags):
    """The spelling Redis stores and CONFIG GET shows (keyspaceEventsFlagsToString)."""
    out = []
    if flags & NOTIFY_ALL == NOTIFY_ALL:
        out.append("A")
    else:
        for ch in "g$lshzxetdn":
            if flags & _NOTIFY_CHARS[ch]:
                out.append(ch)
    for ch in "KEm":
        if flags & _NOTIFY_CHARS[ch]:
            out.append(ch)
    return "".join(out)


_OBUF_CLASSES = {"normal": 0, "slave": 1, "replica": 1, "pubsub": 2}
_OBUF_NAMES = ("normal", "slave", "pubsub")


def parse_obuf_limits(value):
    """client-output-buffer-limit text -> [(hard, soft, secs)] * 3 (normal, replica, pubsub)."""
    parts = value.split(" ")
    return [tuple(int(x) for x in parts[i + 1 : i + 4]) for i in range(0, len(parts), 4)]


# ----------------------------------------------------------------- config
class Config:
    """Current parameter values (as strings, the way CONFIG GET reports them)."""

    owned_dir: str | None = None  # a temporary ``dir`` made for an embedded server

    def __init__(self):
        self.values = {name: p.default for name, p in PARAMS.items()}
        self.values["dir"] = os.getcwd()
        self.hooks = {}  # name -> fn(value_str) applying it to the running server
        self.validators = {}  # name -> fn(value_str) -> normalised str, raising ConfigError
        self.extra = {}  # directives that are not parameters (rename-command, user, ...)
        self.config_file = None
        self.process_owner = False  # True in the redis-server process: 'dir' chdir()s
        self.loading = False  # set while the dataset loads (DENY_LOADING params)
        self.rewrite_users = None  # fn() -> ["default on nopass ~* ...", ...] for REWRITE
        self._reading_file = False
        self._save_loaded = False

    # ----------------------------------------------------------- reading
    def names(self):
        """Every name CONFIG GET * answers to (aliases included, hidden ones not)."""
        return [n for n, p in LOOKUP.items() if not p.flags & HIDDEN]

    def get(self, name):
        p = LOOKUP.get(name.lower())
        return None if p is None else self.values[p.name]

    def __contains__(self, name):
        return name.lower() in LOOKUP

    def get_int(self, name):
        return int(self.values[canonical(name)])

    def get_number(self, name):
        """A numeric parameter as an int (a percentage comes back negative, as Redis stores it)."""
        v = self.values[canonical(name)]
        if v.endswith("%"):
            return -int(v[:-1])
        if LOOKUP[canonical(name)].num & OCTAL:
            return int(v, 8)
        return int(v)

    def get_bool(self, name):
        return self.values[canonical(name)] == "yes"

    # ------------------------------------------------------- validating
    def normalise(self, name, value, args=None):
        """Validate ``value`` for ``name`` as Redis would; return the stored spelling.

        ``args``: the already-split arguments of a multi-argument parameter (config
        file); by default ``value`` is split on single spaces like CONFIG SET does.
        """
        p = PARAMS[name]
        if args is None:
            if p.flags & MULTI_ARG:  # sdssplitlen(value, " "): "" is no argument at all
                args = value.split(" ") if value else []
            else:
                args = [value]
        kind = p.kind
        if kind == "bool":
            v = args[0].lower()
            if v not in ("yes", "no"):
                raise ConfigError("argument must be 'yes' or 'no'")
        elif kind == "string":
            v = args[0]
        elif kind == "enum":
            v = self._enum(p, args)
        elif kind == "number":
            v = self._number(p, args[0])
        else:
            v = getattr(self, "_special_" + name.replace("-", "_"))(args)
        if p.check is not None and kind != "enum":
            err = p.check(v)
            if err:
                raise ConfigError(err)
        extra = self.validators.get(name)
        if extra is not None:
            v = extra(v)
        return v

    def _enum(self, p, args):
        bitflags = bool(p.flags & MULTI_ARG)
        value = None
        if args and (bitflags or len(args) == 1):
            value = 0
            for a in args:
                la = a.lower()
                hit = [val for n, val in p.choices if n == la]
                if not hit:
                    value = None
                    break
                value |= hit[0]
        if value is None:
            raise ConfigError(
                "argument(s) must be one of the following: " + ", ".join(n for n, _ in p.choices)
            )
        if p.check is not None:
            err = p.check(value)
            if err:
                raise ConfigError(err)
        for n, val in p.choices:
            if val == value:
                return n
        names = []
        rest = value
        for n, val in p.choices:
            if val and val == rest & val:
                names.append(n)
                rest &= ~val
        return " ".join(names) if names and not rest else "unknown"

    def _number(self, p, s):
        num = p.num
        v = None
        if num & MEMORY:
            v = memtoull(s)
            if v is not None and v > LLONG_MAX:
                v -= ULLONG_MAX + 1  # stored in a long long, like Redis
        if v is None and num & PERCENT and len(s) > 1 and s.endswith("%"):
            pv = string2ll(s[:-1])
            if pv is not None and pv >= 0:
                v = -pv
        if v is None and num & OCTAL:
            v = _strtoll(s, 8)
        if v is None and not num:
            v = string2ll(s)
        if v is None:
            if num & MEMORY and num & PERCENT:
                raise ConfigError("argument must be a memory or percent value")
            if num & MEMORY:
                raise ConfigError("argument must be a memory value")
            if num & OCTAL:
                raise ConfigError("argument couldn't be parsed as an octal number")
            raise ConfigError("argument couldn't be parsed into an integer")
        lo, hi = p.lo, p.hi
        if p.unsigned:
            u = v % (ULLONG_MAX + 1)
            if u > hi or u < lo:
                if num & OCTAL:
                    raise ConfigError("argument must be between %o and %o inclusive" % (lo, hi))
                raise ConfigError("argument must be between %d and %d inclusive" % (lo, hi))
            v = u
        elif num & PERCENT and v < 0:
            if v < lo:
                raise ConfigError("percentage argument must be less or equal to %d" % -lo)
        elif v > hi or v < lo:
            raise ConfigError("argument must be between %d and %d inclusive" % (lo, hi))
        if p.name == "hz":
            v = max(1, min(500, v))
        elif p.name == "repl-backlog-size" and not self._reading_file:
            v = max(v, 16384)  # resizeReplicationBacklog's minimum, applied by CONFIG SET
        if num & PERCENT and v < 0:
            return "%d%%" % -v
        if num & OCTAL:
            return "%o" % v
        return "%d" % v

    # Special parameters: args -> stored string (or ConfigError).
    def _special_dir(self, args):
        if len(args) != 1:
            raise ConfigError("wrong number of arguments")
        path = args[0]
        if self.process_owner:
            try:
                os.chdir(path)
            except OSError as e:
                raise ConfigError(e.strerror)
            return os.getcwd()
        try:
            st = os.stat(path)
        except OSError as e:
            raise ConfigError(e.strerror)
        if not stat.S_ISDIR(st.st_mode):
            raise ConfigError("Not a directory")
        if not os.access(path, os.X_OK):
            raise ConfigError("Permission denied")
        return os.path.abspath(os.path.join(self.values.get("dir") or os.getcwd(), path))

    def _special_save(self, args):
        if len(args) == 1 and args[0] == "":
            args = []
        if len(args) % 2:
            raise ConfigError("Invalid save parameters")
        pairs = []
        for j, a in enumerate(args):
            v, full = _c_strtol_prefix(a)
            if not full or (j % 2 == 0 and v < 1) or (j % 2 == 1 and v < 0):
                raise ConfigError("Invalid save parameters")
            pairs.append(v)
        out = []
        for j in range(0, len(pairs), 2):
            # the seconds are a time_t, the changes an int
            changes = (pairs[j + 1] + 2**31) % 2**32 - 2**31
            out.append("%d %d" % (pairs[j], changes))
        if self._reading_file and self._save_loaded and self.values.get("save") and out:
            return self.values["save"] + " " + " ".join(out)
        if self._reading_file:
            self._save_loaded = True
        return " ".join(out)

    def _special_client_output_buffer_limit(self, args):
        if len(args) % 4:
            raise ConfigError("Wrong number of arguments in buffer limit configuration.")
        limits = parse_obuf_limits(self.values["client-output-buffer-limit"])
        for j in range(0, len(args), 4):
            cls = _OBUF_CLASSES.get(args[j].lower())
            if cls is None:
                raise ConfigError("Invalid client class specified in buffer limit configuration.")
            hard = memtoull(args[j + 1])
            soft = memtoull(args[j + 2])
            secs, full = _c_strtol_prefix(args[j + 3])
            if hard is None or soft is None or secs < 0 or not full:
                raise ConfigError(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                )
            limits[cls] = (hard, soft, secs)
        return " ".join(
            "%s %d %d %d" % (_OBUF_NAMES[i], h, s, t) for i, (h, s, t) in enumerate(limits)
        )

    def _special_oom_score_adj_values(self, args):
        if len(args) != 3:
            raise ConfigError("wrong number of arguments")
        vals = []
        for a in args:
            v, full = _c_strtol_prefix(a)
            if not full or v < -2000 or v > 2000:
                raise ConfigError(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                )
            vals.append(v)
        return " ".join("%d" % v for v in vals)

    def _special_notify_keyspace_events(self, args):
        if len(args) != 1:
            raise ConfigError("wrong number of arguments")
        flags = keyspace_events_flags(args[0])
        if flags is None:
            raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        return keyspace_events_string(flags)

    def _special_bind(self, args):
        if len(args) > 16:
            raise ConfigError("Too many bind addresses specified.")
        if len(args) == 1 and args[0] == "":
            args = []
        return " ".join(args)

    def _special_replicaof(self, args):
        if len(args) != 2:
            raise ConfigError("wrong number of arguments")
        if args[0].lower() == "no" and args[1].lower() == "one":
            return ""
        v, full = _c_strtol_prefix(args[1])
        if v < 0 or v > 65535 or not full:
            raise ConfigError("Invalid master port")
        return "%s %d" % (args[0], v)

    def _special_latency_tracking_info_percentiles(self, args):
        if len(args) == 1 and args[0] == "":
            args = []
        out = []
        for a in args:
            d = _parse_c_double(a)
            if d is None:
                raise ConfigError("Invalid latency-tracking-info-percentiles parameters")
            if d > 100.0 or d < 0.0:
                raise ConfigError(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                )
            out.append(_fmt_percentile(d))
        return " ".join(out)

    # ----------------------------------------------------------- writing
    def add_hook(self, name, fn):
        """Run ``fn(value)`` when parameter ``name`` changes, after the hooks already
        registered for it (several features may care about one parameter)."""
        prev = self.hooks.get(name)
        if prev is None:
            self.hooks[name] = fn
            return

        def both(value):
            prev(value)
            fn(value)

        self.hooks[name] = both

    def set(self, name, value, apply=True):
        """Set one parameter (any spelling); runs its hook when ``apply``."""
        p = LOOKUP.get(name.lower())
        if p is None:
            raise ConfigError("Unknown option or number of arguments for CONFIG SET - '%s'" % name)
        name = p.name
        norm = self.normalise(name, value)
        old = self.values[name]
        self.values[name] = norm
        hook = self.hooks.get(name)
        if hook is not None and apply and (norm != old or p.flags & VOLATILE):
            try:
                hook(norm)
            except ConfigError:
                self.values[name] = old
                raise
        return norm

    def set_many(self, pairs, protected_ok=False):
        """CONFIG SET's semantics for [(name, value), ...]: every pair is checked first,
        then all are set, then applied; any failure leaves every value as it was.
        Raises ConfigError with CONFIG SET's full error text (without "ERR ")."""
        params = []
        for name, value in pairs:
            p = LOOKUP.get(name.lower())
            if p is None:
                raise ConfigError(
                    "Unknown option or number of arguments for CONFIG SET - '%s'" % name
                )
            if p.flags & IMMUTABLE or (p.flags & PROTECTED and not protected_ok):
                raise ConfigError(
                    _set_failed(
                        name,
                        "can't set immutable config"
                        if p.flags & IMMUTABLE
                        else "can't set protected config",
                    )
                )
            if self.loading and p.flags & DENY_LOADING:
                raise ConfigError("LOADING Redis is loading the dataset in memory")
            # an alias and its primary name are distinct entries for Redis
            if any(n.lower() == name.lower() for _, n, _ in params):
                raise ConfigError(_set_failed(name, "duplicate parameter"))
            params.append((p, name, value))
        old = {p.name: self.values[p.name] for p, _, _ in params}
        changed = []
        for p, name, value in params:
            try:
                norm = self.normalise(p.name, value)
            except ConfigError as e:
                self._restore(old)
                raise ConfigError(_set_failed(name.lower(), e.msg))
            if norm != self.values[p.name] or p.flags & VOLATILE:
                if p.name not in changed:
                    changed.append(p.name)
            self.values[p.name] = norm
        applied = []
        for name in changed:
            hook = self.hooks.get(name)
            if hook is None:
                continue
            try:
                applied.append(name)
                hook(self.values[name])
            except ConfigError as e:
                self._restore(old)
                for n in applied:  # restoreBackupConfig: apply the old values again
                    try:
                        self.hooks[n](self.values[n])
                    except ConfigError:
                        pass
                raise ConfigError(
                    _set_failed(name, e.msg)
                    if e.msg
                    else "CONFIG SET failed (possibly related to argument '%s')" % name
                )
        return changed

    def _restore(self, old):
        """Put values back after a failed CONFIG SET (and the working directory)."""
        if self.process_owner and old.get("dir", self.values["dir"]) != self.values["dir"]:
            try:
                os.chdir(old["dir"])
            except OSError:
                pass
        self.values.update(old)

    # -------------------------------------------------------- config file
    def load_text(self, text):
        """Apply redis.conf text (loadServerConfigFromString); ConfigError on a bad line."""
        self._reading_file = True
        try:
            lines = text.split("\n")
            for i, raw in enumerate(lines):
                lineno = i + 1
                line = raw.strip(" \t\r\n")
                if not line or line.startswith("#"):
                    continue
                argv = split_args(line.encode("utf-8", "surrogateescape"))
                if argv is None:
                    raise ConfigError("Unbalanced quotes in configuration line", line, lineno)
                if not argv:
                    continue
                argv = [a.decode("utf-8", "surrogateescape") for a in argv]
                try:
                    self._directive(argv, line)
                except ConfigError as e:
                    raise ConfigError(e.msg, line, lineno)
            logfile = self.values.get("logfile")
            if logfile:
                try:
                    open(logfile, "a").close()
                except OSError as e:
                    raise ConfigError("Can't open the log file: %s" % e.strerror)
        finally:
            self._reading_file = False

    def _directive(self, argv, line):
        name = argv[0].lower()
        p = LOOKUP.get(name)
        if p is not None:
            multi = p.flags & MULTI_ARG
            if not multi and len(argv) != 2:
                raise ConfigError("wrong number of arguments")
            args = argv[1:]
            if multi and len(argv) == 2 and argv[1]:
                args = [
                    a.decode("utf-8", "surrogateescape")
                    for a in (split_args(argv[1].encode("utf-8", "surrogateescape")) or [])
                ]
            value = " ".join(args)
            self.values[p.name] = self.normalise(p.name, value, args)
            return
        if (
            name in ("list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands")
            and len(argv) == 2
        ):
            return  # deprecated, ignored
        if name == "include" and len(argv) == 2:
            self.load_file(argv[1], include=True)
        elif name == "rename-command" and len(argv) == 3:
            pairs = self.extra.setdefault("rename-command", [])
            pairs.append(argv[1:])
            check = DIRECTIVE_CHECKS.get("rename-command")
            if check is not None:
                check(self, pairs)  # a name that is no command, or is taken
        elif name == "user" and len(argv) >= 2:
            check = DIRECTIVE_CHECKS.get("user")
            if check is not None:
                check(self, argv)  # Redis checks the rules as it reads them
            self.extra.setdefault("user", []).append(argv[1:])
        elif name == "loadmodule" and len(argv) >= 2:
            self.extra.setdefault("loadmodule", []).append(argv[1:])
        elif "." in name:
            if len(argv) < 2:
                raise ConfigError("Module config specified without value")
            self.extra.setdefault("module-config", []).append(argv)
        elif name == "sentinel":
            if len(argv) != 1:
                raise ConfigError("sentinel directive while not in sentinel mode")
        else:
            raise ConfigError("Bad directive or wrong number of arguments")

    def load_file(self, path, include=False):
        """Read a config file (a glob pattern reads every match, none is fine)."""
        if any(ch in path for ch in "*?["):
            text = ""
            for f in sorted(_glob.glob(path)):
                text += _read_config_file(f)
        else:
            text = _read_config_file(path)
        if include:
            saved = self._reading_file
            self.load_text(text)
            self._reading_file = saved
        return text

    # -------------------------------------------------------- CONFIG REWRITE
    def rewrite(self, path=None, force_all=False):
        """Rewrite the config file like Redis: keep comments and unknown lines, update
        the lines of changed parameters in place, blank their extra lines, append the
        parameters that differ from their default after a signature line."""
        path = path or self.config_file
        try:
            with open(path, "r", encoding="utf-8", errors="surrogateescape") as fh:
                old = fh.read()
        except FileNotFoundError:
            old = ""
        state = _RewriteState(old, force_all)
        for name, p in PARAMS.items():
            self._rewrite_param(state, p)
        if self.values.get("aclfile"):
            state.mark("user")
        else:
            users = (
                self.rewrite_users() if self.rewrite_users else ["default on nopass ~* &* +@all"]
            )
            for u in users:
                state.line("user", "user " + u, True)
            state.mark("user")
        for args in self.extra.get("loadmodule", ()):
            state.line("loadmodule", "loadmodule " + " ".join(args), True)
        state.mark("loadmodule")
        content = state.content()
        _overwrite(path, content)

    def _rewrite_param(self, state, p):
        name = p.name
        v = self.values[name]
        kind = p.kind
        if kind in ("bool", "enum"):
            state.line(name, "%s %s" % (name, v), v != p.default)
        elif kind == "string":
            if v == "" and p.flags & NULLABLE:
                state.mark(name)
                return
            state.line(
                name,
                "%s %s" % (name, _repr(v)),
                not (p.default == v and not (p.flags & NULLABLE and p.default == "")),
            )
        elif kind == "number":
            n = self.get_number(name)
            d = _number_of(p, p.default)
            if p.num & PERCENT and n < 0:
                text = "%d%%" % -n
            elif p.num & MEMORY:
                text = _format_memory(n)
            elif p.num & OCTAL:
                text = "%o" % n
            else:
                text = "%d" % n
            state.line(name, "%s %s" % (name, text), n != d)
        elif name == "dir":
            state.line(name, "dir " + _repr(v), True)
        elif name == "save":
            if not v:
                state.line(name, 'save ""', True)
            else:
                parts = v.split(" ")
                for j in range(0, len(parts), 2):
                    state.line(name, "save %s %s" % (parts[j], parts[j + 1]), True)
            state.mark(name)
        elif name == "client-output-buffer-limit":
            cur = parse_obuf_limits(v)
            dflt = parse_obuf_limits(p.default)
            for i, (h, s, t) in enumerate(cur):
                cls = "replica" if i == 1 else _OBUF_NAMES[i]
                state.line(
                    name,
                    "%s %s %s %s %d" % (name, cls, _format_memory(h), _format_memory(s), t),
                    (h, s, t) != dflt[i],
                )
        elif name == "oom-score-adj-values":
            state.line(name, "%s %s" % (name, v), v != p.default)
        elif name == "notify-keyspace-events":
            state.line(name, "%s %s" % (name, _repr(v)), v != "")
        elif name == "bind":
            if v == p.default:
                state.mark(name)
            else:
                state.line(name, "bind " + (v if v else '""'), True)
        elif name == "replicaof":
            if not v:
                state.mark(name)
            else:
                state.line(name, "replicaof " + v, True)
        elif name == "latency-tracking-info-percentiles":
            state.line(name, "%s %s" % (name, v if v else '""'), True)


def _number_of(p, text):
    if text.endswith("%"):
        return -int(text[:-1])
    if p.num & OCTAL:
        return int(text, 8)
    return int(text)


def _set_failed(name, reason):
    return "CONFIG SET failed (possibly related to argument '%s') - %s" % (name, reason)


def _repr(s):
    return repr_bytes(s.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")


def _read_config_file(path):
    try:
        with open(path, "r", encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()
    except OSError as e:
        raise ConfigError("Fatal error, can't open config file '%s': %s" % (path, e.strerror))


class _RewriteState:
    SIGNATURE = "# Generated by CONFIG REWRITE"

    def __init__(self, text, force_all):
        self.lines = []
        self.option_lines = {}  # option -> [line indexes] still reusable
        self.rewritten = set()
        self.needs_signature = True
        self.force_all = force_all
        if not text:
            return
        for raw in text.split("\n"):
            line = raw.strip("\r\n\t ")
            if not line or line.startswith("#"):
                if line == self.SIGNATURE:
                    self.needs_signature = False
                self.lines.append(line)
                continue
            argv = split_args(line.encode("utf-8", "surrogateescape"))
            name = argv[0].decode("utf-8", "surrogateescape").lower() if argv else None
            if argv is None or (name not in LOOKUP and name not in FILE_DIRECTIVES):
                self.lines.append("# ??? " + line)
                continue
            name = ALIASES.get(name, name)
            self.option_lines.setdefault(name, []).append(len(self.lines))
            self.lines.append(line)

    def mark(self, option):
        self.rewritten.add(option)

    def line(self, option, text, force):
        self.rewritten.add(option)
        where = self.option_lines.get(option)
        if not where and not force and not self.force_all:
            return
        if where:
            self.lines[where.pop(0)] = text
            if not where:
                del self.option_lines[option]
            return
        if self.needs_signature:
            self.lines.append(self.SIGNATURE)
            self.needs_signature = False
        self.lines.append(text)

    def content(self):
        for option, where in self.option_lines.items():
            if option in self.rewritten:
                for i in where:
                    self.lines[i] = ""
        out = []
        was_empty = False
        for line in self.lines:
            if not line:
                if was_empty:
                    continue
                was_empty = True
            else:
                was_empty = False
            out.append(line + "\n")
        return "".join(out)


def _overwrite(path, content):
    """Replace the file atomically (temp file, fsync, rename), like Redis."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o644 & ~umask)
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ------------------------------------------------------------ command line
def argv_to_config_text(argv):
    """redis-server's command line -> (config file path or None, read stdin?, options text).

    Options become config lines exactly as redis-server builds them: ``--port 7000``
    turns into ``port "7000"`` appended after the file's content."""
    path = None
    j = 0
    if argv and not argv[0].startswith("-"):
        path = argv[0]
        j = 1
    stdin = False
    options = ""
    handled_last = True
    n = len(argv)
    while j < n:
        a = argv[j]
        if a == "-" and (j == 0 or j == n - 1):
            stdin = True
        elif handled_last and a.startswith("--"):
            if options:
                options += "\n"
            options += a[2:] + " "
            parts = split_args(a.encode("utf-8", "surrogateescape")) or []
            if len(parts) == 1:
                handled_last = False
                nxt = argv[j + 1] if j != n - 1 else None
                if a.lower() == "--save" and (nxt is None or nxt.startswith("--")):
                    options += '""'
                    handled_last = True if nxt is not None else handled_last
            else:
                handled_last = True
        else:
            options += (
                repr_bytes(a.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")
                + " "
            )
            handled_last = True
        j += 1
    return path, stdin, options


def config_from_argv(argv, stdin_reader=None):
    """Build a Config from redis-server's command line (raises ConfigError)."""
    config = Config()
    config.process_owner = True
    path, use_stdin, options = argv_to_config_text(list(argv))
    text = ""
    if path is not None:
        text = config.load_file(path)
        config.config_file = os.path.abspath(path)
    if use_stdin:
        text += (stdin_reader or sys.stdin).read()
    if options:
        text += "\n" + options
    config.load_text(text)
    return config
