"""Configuration: every parameter of Redis 7.0, with its default, type and effect.

``config_defaults.json`` lists the 190-odd parameters ``CONFIG GET *`` answers
on Redis 7.0.15 with their default values. Each parameter has a *kind* that
validates and normalises a new value the way Redis does (``yes``/``no``,
integers with memory units such as ``1gb``, enums, ...). A parameter with an
effect in Vermilion has an *apply* hook that updates the running server; the
others are accepted, stored and reported, and the README lists them.

The same object reads redis.conf files and ``--name value`` command-line
options, so a configuration Redis accepts is accepted here with the same errors.
"""
import json
import os
import re

_HERE = os.path.dirname(__file__)

with open(os.path.join(_HERE, "config_defaults.json")) as _fh:
    DEFAULTS = json.load(_fh)

# Old names Redis still accepts; CONFIG GET answers under both.
ALIASES = {
    "slaveof": "replicaof",
    "slave-serve-stale-data": "replica-serve-stale-data",
    "slave-read-only": "replica-read-only",
    "slave-priority": "replica-priority",
    "slave-announce-ip": "replica-announce-ip",
    "slave-announce-port": "replica-announce-port",
    "slave-lazy-flush": "replica-lazy-flush",
    "slave-ignore-maxmemory": "replica-ignore-maxmemory",
    "min-slaves-to-write": "min-replicas-to-write",
    "min-slaves-max-lag": "min-replicas-max-lag",
    "repl-ping-slave-period": "repl-ping-replica-period",
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "list-max-ziplist-size": "list-max-listpack-size",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
}

ENUMS = {
    "loglevel": ("debug", "verbose", "notice", "warning"),
    "supervised": ("upstart", "systemd", "auto", "no"),
    "syslog-facility": ("user", "local0", "local1", "local2", "local3", "local4",
                        "local5", "local6", "local7"),
    "maxmemory-policy": ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                         "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"),
    "appendfsync": ("always", "everysec", "no"),
    "repl-diskless-load": ("disabled", "on-empty-db", "swapdb"),
    "oom-score-adj": ("no", "yes", "relative", "absolute"),
    "acl-pubsub-default": ("allchannels", "resetchannels"),
    "sanitize-dump-payload": ("no", "yes", "clients"),
    "enable-protected-configs": ("no", "yes", "local"),
    "enable-debug-command": ("no", "yes", "local"),
    "enable-module-command": ("no", "yes", "local"),
    "cluster-preferred-endpoint-type": ("ip", "hostname", "unknown-endpoint"),
    "propagation-error-behavior": ("ignore", "panic", "panic-on-replicas"),
    "shutdown-on-sigint": ("default", "save", "nosave", "now", "force"),
    "shutdown-on-sigterm": ("default", "save", "nosave", "now", "force"),
}

# Parameters that only a config file or the command line may set (CONFIG SET refuses).
IMMUTABLE = frozenset("""
daemonize io-threads io-threads-do-reads always-show-logo syslog-enabled syslog-ident
syslog-facility supervised pidfile logfile unixsocket unixsocketperm databases
aclfile cluster-enabled cluster-config-file disable-thp set-proc-title
enable-protected-configs enable-debug-command enable-module-command
""".split())

_MEM_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000 ** 2, "mb": 1024 ** 2,
              "g": 1000 ** 3, "gb": 1024 ** 3}
_MEM_RE = re.compile(r"^(-?\d+)([a-z]*)$")

# Integer parameters whose value may carry a memory unit.
MEMORY_PARAMS = frozenset("""
maxmemory proto-max-bulk-len client-query-buffer-limit repl-backlog-size
auto-aof-rewrite-min-size hash-max-listpack-value zset-max-listpack-value
stream-node-max-bytes active-defrag-ignore-bytes maxmemory-clients
""".split())


class ConfigError(Exception):
    pass


def parse_memory(s):
    m = _MEM_RE.match(s.lower())
    if not m or m.group(2) not in _MEM_UNITS:
        raise ConfigError("argument must be a memory value")
    return int(m.group(1)) * _MEM_UNITS[m.group(2)]


def canonical(name):
    name = name.lower()
    return ALIASES.get(name, name)


class Config:
    """Current parameter values (as strings, the way CONFIG GET reports them)."""

    def __init__(self):
        self.values = {k: v for k, v in DEFAULTS.items() if k not in ALIASES}
        self.hooks = {}      # name -> fn(value_str) applying it to the running server
        self.validators = {}  # name -> fn(value_str) -> normalised str, raising ConfigError
        self.extra = {}       # directives that are not parameters (rename-command, user, ...)
        self.config_file = None

    def names(self):
        """Every name CONFIG GET answers to, aliases included."""
        return list(self.values) + list(ALIASES)

    def get(self, name):
        return self.values.get(canonical(name))

    def __contains__(self, name):
        return canonical(name) in self.values

    def normalise(self, name, value):
        """Validate ``value`` for ``name`` as Redis would; return the stored spelling."""
        v = self.validators.get(name)
        if v is not None:
            return v(value)
        if name in ENUMS:
            lv = value.lower()
            if lv not in ENUMS[name]:
                raise ConfigError("argument(s) must be one of the following: "
                                  + ", ".join(ENUMS[name]))
            return lv
        default = DEFAULTS.get(name, "")
        if default in ("yes", "no"):
            lv = value.lower()
            if lv not in ("yes", "no"):
                raise ConfigError("argument must be 'yes' or 'no'")
            return lv
        if name in MEMORY_PARAMS:
            return str(parse_memory(value))
        if re.fullmatch(r"-?\d+", default or "x"):
            try:
                return str(int(value))
            except ValueError:
                raise ConfigError("argument couldn't be parsed into an integer")
        return value

    def set(self, name, value, apply=True):
        name = canonical(name)
        if name not in self.values:
            raise ConfigError("Unknown option or number of arguments for CONFIG SET - '%s'" % name)
        norm = self.normalise(name, value)
        old = self.values[name]
        self.values[name] = norm
        hook = self.hooks.get(name)
        if hook is not None and apply:
            try:
                hook(norm)
            except ConfigError:
                self.values[name] = old
                raise
        return norm

    def get_int(self, name):
        return int(self.values[canonical(name)])

    def get_bool(self, name):
        return self.values[canonical(name)] == "yes"


def parse_config_text(text):
    """redis.conf syntax -> list of (name, [args]) in file order."""
    from ..protocol.reader import split_args
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        args = split_args(line.encode())
        if args is None:
            raise ConfigError("Unbalanced quotes in configuration line (line %d)" % lineno)
        if not args:
            continue
        out.append((args[0].decode().lower(), [a.decode("utf-8", "surrogateescape") for a in args[1:]], lineno))
    return out


# Directives that take several arguments, joined with spaces as CONFIG GET shows them.
MULTI_ARG = frozenset(("save", "bind", "client-output-buffer-limit", "oom-score-adj-values",
                       "latency-tracking-info-percentiles"))


def apply_directives(config, directives, source="config file"):
    """Apply (name, args, lineno) directives; raise ConfigError with Redis's wording."""
    saves = None
    for name, args, lineno in directives:
        cname = canonical(name)
        if cname == "include":
            for path in args:
                with open(path) as fh:
                    apply_directives(config, parse_config_text(fh.read()), path)
            continue
        if cname in ("rename-command", "user", "loadmodule"):
            config.extra.setdefault(cname, []).append(args)
            continue
        if cname not in config.values:
            raise ConfigError("Bad directive or wrong number of arguments", name, args, lineno)
        if cname == "save":
            if saves is None:
                saves = []
            if args == [""] or not args:
                saves = []
            else:
                saves.extend(args)
            value = " ".join(saves)
        elif cname in MULTI_ARG:
            value = " ".join(args)
        else:
            if len(args) != 1:
                raise ConfigError("Bad directive or wrong number of arguments", name, args, lineno)
            value = args[0]
        try:
            config.set(cname, value, apply=False)
        except ConfigError as e:
            raise ConfigError(str(e.args[0]), name, args, lineno)


def config_from_argv(argv):
    """redis-server's command line: [config-file] [--name value ...]."""
    config = Config()
    directives = []
    i = 0
    if argv and not argv[0].startswith("--"):
        path = argv[0]
        i = 1
        if path == "-":
            import sys
            text = sys.stdin.read()
        else:
            try:
                with open(path) as fh:
                    text = fh.read()
            except OSError as e:
                raise ConfigError("Fatal error, can't open config file '%s': %s"
                                  % (path, e.strerror))
        config.config_file = os.path.abspath(path) if path != "-" else None
        directives.extend(parse_config_text(text))
    name = None
    args = []
    for a in argv[i:]:
        if a.startswith("--") and len(a) > 2 and not (name == "save" and a == "--"):
            if name is not None:
                directives.append((name, args, 0))
            name = a[2:].lower()
            args = []
        elif name is None:
            raise ConfigError("Bad directive or wrong number of arguments", a, [], 0)
        else:
            args.append(a)
    if name is not None:
        if name == "save" and not args:
            args = [""]
        directives.append((name, args, 0))
    apply_directives(config, directives)
    return config
