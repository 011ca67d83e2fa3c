"""CONFIG, INFO, COMMAND, DEBUG, SLOWLOG, LATENCY, MEMORY and the small server
commands, against redis-server 7.0, byte for byte where the reply is deterministic.

Replies that carry per-server values (times, addresses, memory figures) are parsed
and compared field by field; every parameter changed on the shared servers is put
back by the ``restore`` fixture.
"""

import re
import time

import pytest

from keyspace_helpers import array


def value_of(raw):
    """The value of a single-parameter CONFIG GET reply."""
    return array(raw)[1]


@pytest.fixture
def restore(diff):
    """Remember parameters before a test changes them; put them back afterwards."""
    saved = {}

    def remember(*names):
        for n in names:
            if n not in saved:
                saved[n] = (
                    value_of(diff.ref.call("CONFIG", "GET", n)),
                    value_of(diff.our.call("CONFIG", "GET", n)),
                )

    yield remember
    for n, (ref, our) in saved.items():
        diff.ref.call("CONFIG", "SET", n, ref)
        diff.our.call("CONFIG", "SET", n, our)


# Parameters whose value legitimately differs between the two test servers.
SERVER_SPECIFIC = {
    "port",
    "bind",
    "dir",
    "logfile",
    "pidfile",
    "daemonize",
    "loglevel",
    "client-output-buffer-limit",
}


def all_parameter_names(diff):
    return [n.decode() for n in array(diff.ref.call("CONFIG", "GET", "*"))[0::2]]


# ===================================================================== CONFIG GET
def test_config_get_every_parameter_matches(diff):
    names = all_parameter_names(diff)
    assert len(names) == 192
    for n in names:
        if n not in SERVER_SPECIFIC:
            diff("CONFIG", "GET", n)


def test_config_get_star_lists_the_same_names(diff):
    ref = array(diff.ref.call("CONFIG", "GET", "*"))
    our = array(diff.our.call("CONFIG", "GET", "*"))
    assert sorted(ref[0::2]) == sorted(our[0::2])


def test_config_get_patterns_and_aliases(diff):
    for args in (
        ("maxmemory-policy",),
        ("MAXMEMORY-POLICY",),
        ("hash-max-ziplist-entries",),
        ("slave-read-only",),
        ("nonexistent",),
        ("maxmemory-policy", "MAXMEMORY-policy"),
        ("rdb-key-save-delay",),
        ("key-load-delay",),
    ):
        diff("CONFIG", "GET", *args)
    for args in (
        ("maxmemory*",),
        ("MAXMEM*",),
        ("*ziplist*",),
        ("hash-max-*",),
        ("maxmemory", "maxmemory*"),
        ("*max*", "hz"),
        ("rdb-key*",),
        ("[hz]z",),
        ("repl-ping-?????-period",),
        ("nomatch*",),
    ):
        ref = array(diff.ref.call("CONFIG", "GET", *args))
        our = array(diff.our.call("CONFIG", "GET", *args))
        assert sorted(zip(ref[0::2], ref[1::2])) == sorted(zip(our[0::2], our[1::2])), args


def test_config_get_resp3_is_a_map(diff3):
    diff3("CONFIG", "GET", "maxmemory-policy")
    diff3("CONFIG", "GET", "nonexistent")


def test_config_get_arity(diff):
    diff("CONFIG", "GET")
    diff("CONFIG")
    diff("CONFIG", "NOSUCH")


# ===================================================================== CONFIG SET
def test_config_set_same_value_for_every_parameter(diff, restore):
    """Setting each parameter to its current value: OK, or the same refusal."""
    for n in all_parameter_names(diff):
        if n in SERVER_SPECIFIC or n in ("appendonly", "save"):
            continue
        restore(n)
        cur = value_of(diff.ref.call("CONFIG", "GET", n))
        diff("CONFIG", "SET", n, cur)


BAD_VALUES = [
    "abc",
    "-1",
    "99999999999999999999999",
    "1k",
    "1%",
    "",
    "0",
    "yes",
    "1gb",
    "0777",
    "-99999999999999",
    "1 2",
    "+5",
    " 5",
    "5 ",
    "0x10",
]
# Parameters whose accepted odd values would disturb the shared servers.
RISKY = {
    "maxmemory",
    "maxmemory-clients",
    "maxclients",
    "timeout",
    "client-query-buffer-limit",
    "proto-max-bulk-len",
    "latency-monitor-threshold",
    "slowlog-log-slower-than",
    "requirepass",
    "masterauth",
    "masteruser",
    "appendonly",
    "save",
    "hz",
    "oom-score-adj",
    "oom-score-adj-values",
    "databases",
    "io-threads",
    "notify-keyspace-events",
    "tcp-keepalive",
    "lazyfree-lazy-user-flush",
}


def test_config_set_invalid_values_same_errors(diff, restore):
    for n in all_parameter_names(diff):
        if n in SERVER_SPECIFIC or n in RISKY:
            continue
        restore(n)
        cur = (
            value_of(diff.ref.call("CONFIG", "GET", n)),
            value_of(diff.our.call("CONFIG", "GET", n)),
        )
        for v in BAD_VALUES:
            diff("CONFIG", "SET", n, v)
            diff("CONFIG", "GET", n)
            diff.ref.call("CONFIG", "SET", n, cur[0])
            diff.our.call("CONFIG", "SET", n, cur[1])


def test_config_set_numbers_bounds_and_units(diff, restore):
    restore(
        "maxmemory-samples",
        "hz",
        "maxmemory",
        "slowlog-max-len",
        "maxclients",
        "active-defrag-cycle-min",
        "list-max-listpack-size",
        "proto-max-bulk-len",
        "maxmemory-clients",
        "repl-backlog-size",
        "stream-node-max-bytes",
    )
    diff.run("""
        CONFIG SET maxmemory-samples 0
        CONFIG SET maxmemory-samples 2147483648
        CONFIG SET maxmemory-samples 7
        CONFIG GET maxmemory-samples
        CONFIG SET hz 0
        CONFIG GET hz
        CONFIG SET hz 100000
        CONFIG GET hz
        CONFIG SET hz -1
        CONFIG SET maxmemory 1GB
        CONFIG GET maxmemory
        CONFIG SET maxmemory 10mb
        CONFIG GET maxmemory
        CONFIG SET maxmemory 2k
        CONFIG GET maxmemory
        CONFIG SET maxmemory 0
        CONFIG SET maxmemory -5
        CONFIG SET maxmemory 5x
        CONFIG SET maxclients 0
        CONFIG SET maxclients 4294967296
        CONFIG SET maxclients -1
        CONFIG SET slowlog-max-len -1
        CONFIG SET active-defrag-cycle-min 100
        CONFIG SET list-max-listpack-size -2147483649
        CONFIG SET list-max-listpack-size -5
        CONFIG GET list-max-listpack-size
        CONFIG SET proto-max-bulk-len 1000
        CONFIG SET proto-max-bulk-len 1mb
        CONFIG GET proto-max-bulk-len
        CONFIG SET maxmemory-clients 50%
        CONFIG GET maxmemory-clients
        CONFIG SET maxmemory-clients 101%
        CONFIG SET maxmemory-clients -1
        CONFIG SET maxmemory-clients 0
        CONFIG SET repl-backlog-size 1k
        CONFIG GET repl-backlog-size
        CONFIG SET repl-backlog-size 0
        CONFIG SET stream-node-max-bytes 4kb
        CONFIG GET stream-node-max-bytes
    """)


def test_config_set_bool_enum_and_string_kinds(diff, restore):
    restore(
        "activerehashing",
        "maxmemory-policy",
        "appendfsync",
        "oom-score-adj",
        "shutdown-on-sigterm",
        "acl-pubsub-default",
        "replica-announce-ip",
    )
    diff.run("""
        CONFIG SET activerehashing maybe
        CONFIG SET activerehashing NO
        CONFIG GET activerehashing
        CONFIG SET maxmemory-policy nope
        CONFIG SET maxmemory-policy ALLKEYS-LRU
        CONFIG GET maxmemory-policy
        CONFIG SET appendfsync sometimes
        CONFIG SET oom-score-adj relative
        CONFIG GET oom-score-adj
        CONFIG SET oom-score-adj absolute
        CONFIG GET oom-score-adj
        CONFIG SET oom-score-adj no
        CONFIG SET shutdown-on-sigterm "now save"
        CONFIG GET shutdown-on-sigterm
        CONFIG SET shutdown-on-sigterm "save nosave"
        CONFIG SET shutdown-on-sigterm "force now nosave"
        CONFIG GET shutdown-on-sigterm
        CONFIG SET shutdown-on-sigterm ""
        CONFIG SET shutdown-on-sigterm default
        CONFIG GET shutdown-on-sigterm
        CONFIG SET acl-pubsub-default allchannels
        CONFIG GET acl-pubsub-default
        CONFIG SET activedefrag yes
        CONFIG SET replica-announce-ip "1.2.3.4"
        CONFIG GET replica-announce-ip
        CONFIG SET replica-announce-ip ""
        CONFIG GET replica-announce-ip
        CONFIG SET cluster-announce-hostname "bad_host"
        CONFIG SET proc-title-template "{nosuch}"
        CONFIG SET proc-title-template "{title"
        CONFIG SET proc-title-template "{title}"
        CONFIG SET proc-title-template "{title} {listen-addr} {server-mode}"
    """)


def test_config_set_special_parameters(diff, restore):
    restore(
        "client-output-buffer-limit",
        "oom-score-adj-values",
        "notify-keyspace-events",
        "latency-tracking-info-percentiles",
        "save",
    )
    diff.run("""
        CONFIG SET save "100 10 5"
        CONFIG SET save "100  10"
        CONFIG SET save "0 10"
        CONFIG SET save "10 -1"
        CONFIG SET save "abc 1"
        CONFIG SET save "900 1 300 10"
        CONFIG GET save
        CONFIG SET save ""
        CONFIG GET save
        CONFIG SET client-output-buffer-limit "normal 1 2"
        CONFIG SET client-output-buffer-limit "master 1 2 3"
        CONFIG SET client-output-buffer-limit "normal 1x 2 3"
        CONFIG SET client-output-buffer-limit "normal 1 2 -1"
        CONFIG SET client-output-buffer-limit ""
        CONFIG SET oom-score-adj-values "1 2"
        CONFIG SET oom-score-adj-values "1 2 3000"
        CONFIG SET oom-score-adj-values "0 100 900"
        CONFIG GET oom-score-adj-values
        CONFIG SET oom-score-adj-values "0 200 800"
        CONFIG SET notify-keyspace-events KEA
        CONFIG GET notify-keyspace-events
        CONFIG SET notify-keyspace-events "gKx$"
        CONFIG GET notify-keyspace-events
        CONFIG SET notify-keyspace-events "Em"
        CONFIG GET notify-keyspace-events
        CONFIG SET notify-keyspace-events "Q"
        CONFIG SET notify-keyspace-events ""
        CONFIG GET notify-keyspace-events
        CONFIG SET latency-tracking-info-percentiles "50 99.99 100.0"
        CONFIG GET latency-tracking-info-percentiles
        CONFIG SET latency-tracking-info-percentiles "abc"
        CONFIG SET latency-tracking-info-percentiles "101"
        CONFIG GET latency-tracking-info-percentiles
        CONFIG SET latency-tracking-info-percentiles ""
        CONFIG GET latency-tracking-info-percentiles
        CONFIG SET latency-tracking-info-percentiles "50 99 99.9"
    """)
    # client-output-buffer-limit: one class at a time, units
    ref_before = value_of(diff.ref.call("CONFIG", "GET", "client-output-buffer-limit"))
    our_before = value_of(diff.our.call("CONFIG", "GET", "client-output-buffer-limit"))
    for conn, before in ((diff.ref, ref_before), (diff.our, our_before)):
        assert (
            conn.call(
                "CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 2kb 7 replica 1 2 3"
            )
            == b"+OK\r\n"
        )
        got = value_of(conn.call("CONFIG", "GET", "client-output-buffer-limit"))
        assert got == b"normal 0 0 0 slave 1 2 3 pubsub 1048576 2048 7"
        conn.call("CONFIG", "SET", "client-output-buffer-limit", before)


def test_config_set_immutable_protected_and_unknown(diff):
    diff.run("""
        CONFIG SET daemonize yes
        CONFIG SET databases 5
        CONFIG SET unixsocket /tmp/x
        CONFIG SET dir /tmp
        CONFIG SET dbfilename x.rdb
        CONFIG SET replicaof "no one"
        CONFIG SET slaveof "no one"
        CONFIG SET enable-debug-command no
        CONFIG SET nosuch 1
        CONFIG SET NoSuch 1
        CONFIG SET maxmemory-policy
        CONFIG SET maxmemory-policy noeviction hz
        CONFIG SET
    """)


def test_config_set_several_is_atomic(diff, restore):
    restore("maxmemory-samples", "hz", "hash-max-listpack-entries", "lfu-log-factor")
    diff.run("""
        CONFIG SET maxmemory-samples 11 lfu-log-factor 12
        CONFIG GET maxmemory-samples
        CONFIG GET lfu-log-factor
        CONFIG SET maxmemory-samples 5 hz abc
        CONFIG GET maxmemory-samples
        CONFIG SET maxmemory-samples 6 nosuch 1
        CONFIG SET nosuch 1 daemonize yes
        CONFIG SET daemonize yes nosuch 1
        CONFIG SET maxmemory-samples 6 daemonize yes
        CONFIG GET maxmemory-samples
        CONFIG SET hz 11 hz 12
        CONFIG SET hz 11 HZ 12
        CONFIG SET hash-max-ziplist-entries 5 hash-max-listpack-entries 6
        CONFIG GET hash-max-listpack-entries
        CONFIG SET hash-max-ziplist-entries abc
        CONFIG SET hash-max-listpack-entries abc
        CONFIG SET hz 12 maxmemory-samples 0
        CONFIG GET hz
    """)


def test_config_set_sensitive_values_are_redacted_in_slowlog(diff, restore):
    restore("slowlog-log-slower-than", "masterauth")
    for conn in (diff.ref, diff.our):
        conn.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        conn.call("SLOWLOG", "RESET")
        conn.call("CONFIG", "SET", "masterauth", "secret", "hz", "10")
    ref = array(diff.ref.call("SLOWLOG", "GET", "1"))[0]
    our = array(diff.our.call("SLOWLOG", "GET", "1"))[0]
    assert ref[3] == our[3] == [b"CONFIG", b"SET", b"masterauth", b"(redacted)", b"hz", b"10"]
    for conn in (diff.ref, diff.our):
        conn.call("CONFIG", "SET", "masterauth", "")


def test_config_help_resetstat_rewrite(diff):
    diff("CONFIG", "HELP")
    diff("CONFIG", "HELP", "extra")
    diff("CONFIG", "RESETSTAT")
    diff("CONFIG", "RESETSTAT", "x")
    diff("CONFIG", "REWRITE")


# ============================================================================ INFO
def sections(text):
    """INFO text -> {section: [(field, value), ...]} in order."""
    out = {}
    cur = None
    for line in text.decode().split("\r\n"):
        if line.startswith("# "):
            cur = out.setdefault(line[2:], [])
        elif line:
            k, _, v = line.partition(":")
            cur.append((k, v))
    return out


def info_text(raw):
    return array(raw) if raw.startswith(b"$") else raw


def test_info_sections_and_fields_match_redis(diff):
    ref = sections(array(diff.ref.call("INFO", "everything")))
    our = sections(array(diff.our.call("INFO", "everything")))
    assert list(our) == list(ref)
    for name in ref:
        ref_fields = [k for k, _ in ref[name]]
        our_fields = [k for k, _ in our[name]]
        if name == "Server":
            assert our_fields == ref_fields + ["vermilion_version"]
        elif name in ("Commandstats", "Errorstats", "Latencystats", "Keyspace"):
            continue
        else:
            assert our_fields == ref_fields, name


def test_info_default_all_and_section_selection(diff):
    for args in (
        (),
        ("default",),
        ("all",),
        ("everything",),
        ("server", "clients"),
        ("SERVER",),
        ("commandstats",),
        ("modules",),
        ("module_list",),
        ("cluster", "keyspace", "cluster"),
        ("all", "cluster"),
        ("default", "cpu"),
    ):
        ref = sections(array(diff.ref.call("INFO", *args)))
        our = sections(array(diff.our.call("INFO", *args)))
        assert list(our) == list(ref), args
    diff("INFO", "nosuch")
    diff("INFO", "cluster")
    diff("INFO", "CLUSTER", "nosuch")
    diff("INFO", "modules")


def test_info_resp3_is_verbatim(diff3):
    diff3("INFO", "cluster")
    diff3("INFO", "nosuch")


def test_info_keyspace_and_errorstats(diff):
    diff.run("""
        SELECT 3
        SET a 1
        SET b 2
        SELECT 0
        SET c 3
        CONFIG RESETSTAT
        NOSUCHCOMMAND
        GET
        LPUSH c x
        SET
        INCR c
        INFO keyspace
        INFO errorstats
    """)
    diff("FLUSHALL")


def test_info_commandstats_counts(diff):
    for conn in (diff.ref, diff.our):
        conn.call("CONFIG", "RESETSTAT")
        conn.call("SET", "k", "v")
        conn.call("GET", "k")
        conn.call("GET", "k")
        conn.call("INCR", "k")
        conn.call("GET")
    ref = sections(array(diff.ref.call("INFO", "commandstats")))["Commandstats"]
    our = sections(array(diff.our.call("INFO", "commandstats")))["Commandstats"]

    def counts(fields):
        out = {}
        for k, v in fields:
            kv = dict(x.split("=") for x in v.split(","))
            out[k] = (kv["calls"], kv["rejected_calls"], kv["failed_calls"])
        return out

    assert counts(our) == counts(ref)
    assert counts(ref)["cmdstat_get"] == ("2", "1", "0")
    assert counts(ref)["cmdstat_incr"] == ("1", "0", "1")


def test_info_stats_after_resetstat(diff):
    for conn in (diff.ref, diff.our):
        conn.call("CONFIG", "RESETSTAT")
    for conn in (diff.ref, diff.our):
        fields = dict(sections(array(conn.call("INFO", "stats")))["Stats"])
        assert fields["total_commands_processed"] == "1"  # the CONFIG RESETSTAT itself
        assert fields["total_error_replies"] == "0"
        assert fields["keyspace_hits"] == "0"
        assert fields["total_connections_received"] == "0"


# ========================================================================= COMMAND
def bound_commands():
    from vermilion.core.table import COMMANDS

    return sorted(n.decode() for n in COMMANDS)


def test_command_info_matches_for_every_implemented_command(diff):
    from vermilion.core.table import COMMANDS

    for name, cmd in sorted(COMMANDS.items()):
        if not cmd.subcommands:
            diff("COMMAND", "INFO", name.decode())
            continue
        # Containers: Redis lists sub-commands in hash order; ours lists the implemented ones.
        ref = array(diff.ref.call("COMMAND", "INFO", name))[0]
        our = array(diff.our.call("COMMAND", "INFO", name))[0]
        assert our[:9] == ref[:9], name
        assert {tuple(map(repr, s)) for s in our[9]} <= {tuple(map(repr, s)) for s in ref[9]}
        for sub in cmd.subcommands.values():
            diff("COMMAND", "INFO", sub.fullname)
    diff("COMMAND", "INFO", "get", "nosuch", "set")
    diff("COMMAND", "INFO", "config|get")
    diff("COMMAND", "INFO", "CONFIG|GET")
    diff("COMMAND", "INFO", "get|x")


def test_command_info_resp3(diff3):
    diff3("COMMAND", "INFO", "get", "nosuch", "config|set")


def test_command_docs(diff, diff3):
    for name in ("get", "set", "zadd", "config|get", "nosuch"):
        diff("COMMAND", "DOCS", name)
        diff3("COMMAND", "DOCS", name)
    diff("COMMAND", "DOCS", "get", "nosuch", "incr")


def test_command_count_and_list_cover_implemented_commands(diff):
    ours = array(diff.our.call("COMMAND", "LIST"))
    ref = set(array(diff.ref.call("COMMAND", "LIST")))
    assert set(ours) <= ref
    assert {c.encode() for c in bound_commands()} <= set(ours)
    count = int(diff.our.call("COMMAND", "COUNT")[1:-2])
    assert count == len(bound_commands())
    assert len(array(diff.our.call("COMMAND"))) == count


def test_command_list_filters(diff):
    for args in (
        ("FILTERBY", "PATTERN", "config*"),
        ("FILTERBY", "pattern", "*GET*"),
        ("FILTERBY", "ACLCAT", "keyspace"),
        ("FILTERBY", "aclcat", "nosuchcat"),
        ("FILTERBY", "MODULE", "nosuch"),
    ):
        ref = set(array(diff.ref.call("COMMAND", "LIST", *args)))
        our = set(array(diff.our.call("COMMAND", "LIST", *args)))
        implemented = {x for x in ref if x.split(b"|")[0].decode() in bound_commands()}
        assert our <= ref, args
        assert {
            x for x in implemented if x in set(array(diff.our.call("COMMAND", "LIST")))
        } == our, args
    diff("COMMAND", "LIST", "FILTERBY")
    diff("COMMAND", "LIST", "FILTERBY", "PATTERN")
    diff("COMMAND", "LIST", "FILTERBY", "NOSUCH", "x")
    diff("COMMAND", "LIST", "extra")


GETKEYS_CASES = [
    ("get", "a"),
    ("set", "a", "b"),
    ("set", "a", "b", "GET"),
    ("mset", "a", "1", "b", "2"),
    ("mget", "a", "b", "c"),
    ("del", "a", "b"),
    ("rename", "a", "b"),
    ("lpush", "l", "x"),
    ("lmove", "a", "b", "LEFT", "RIGHT"),
    ("blpop", "a", "b", "0"),
    ("zunionstore", "d", "2", "a", "b"),
    ("zunionstore", "d", "0", "a"),
    ("zunionstore", "d", "x", "a"),
    ("zinter", "2", "a", "b"),
    ("zdiff", "1", "a"),
    ("sort", "a"),
    ("sort", "a", "STORE", "d"),
    ("sort", "a", "BY", "w*", "STORE", "d"),
    ("sort", "a", "LIMIT", "0", "1", "STORE", "d", "STORE", "e"),
    ("sort_ro", "a", "BY", "x"),
    ("bitfield", "a", "GET", "u8", "0"),
    ("bitfield", "a", "SET", "u8", "0", "1"),
    ("bitfield", "a", "INCRBY"),
    ("bitop", "AND", "d", "a", "b"),
    ("pfmerge", "d", "a"),
    ("eval", "return 1", "0"),
    ("eval", "return 1", "2", "a", "b"),
    ("evalsha", "x", "1", "a"),
    ("lmpop", "2", "a", "b", "LEFT"),
    ("blmpop", "0", "1", "a", "LEFT"),
    ("zmpop", "1", "a", "MIN"),
    ("sintercard", "2", "a", "b"),
    ("sintercard", "0", "a"),
    ("xread", "STREAMS", "a", "b", "0", "0"),
    ("xread", "COUNT", "1", "STREAMS", "a", "0"),
    ("xread", "STREAMS", "a"),
    ("xreadgroup", "GROUP", "g", "c", "STREAMS", "a", ">"),
    ("georadius", "a", "0", "0", "1", "km", "STORE", "d"),
    ("migrate", "h", "1", "k", "0", "5"),
    ("migrate", "h", "1", "", "0", "5", "KEYS", "a", "b"),
    ("object", "encoding", "a"),
    ("memory", "usage", "a"),
    ("debug", "object", "a"),
    ("ping",),
    ("config", "get", "x"),
    ("nosuch", "a"),
    ("get",),
    ("get", "a", "b"),
    ("lpush", "l"),
    ("zadd", "z", "1", "m"),
    ("hset", "h", "f", "v"),
    ("expire", "a", "1"),
    ("copy", "a", "b"),
    ("smove", "a", "b", "m"),
    ("object",),
    ("object", "nosuch", "a"),
    ("pubsub", "channels"),
    ("command", "info"),
]


def test_command_getkeys_and_flags(diff):
    for case in GETKEYS_CASES:
        top = case[0]
        if top != "nosuch" and top not in bound_commands():
            continue
        diff("COMMAND", "GETKEYS", *case)
        diff("COMMAND", "GETKEYSANDFLAGS", *case)
    diff("COMMAND", "GETKEYS")
    diff("COMMAND", "GETKEYSANDFLAGS")


def test_command_getkeysandflags_resp3(diff3):
    diff3("COMMAND", "GETKEYSANDFLAGS", "set", "a", "b")
    diff3("COMMAND", "GETKEYSANDFLAGS", "get", "a")


def test_command_help_and_errors(diff):
    diff("COMMAND", "HELP")
    diff("COMMAND", "NOSUCH")
    diff("COMMAND", "COUNT", "x")
    diff("COMMAND", "HELP", "x")


# ========================================================================== DEBUG
def test_debug_protocol_resp2(diff):
    for t in (
        "string",
        "integer",
        "double",
        "bignum",
        "null",
        "array",
        "set",
        "map",
        "attrib",
        "push",
        "verbatim",
        "true",
        "false",
        "nosuch",
        "STRING",
    ):
        diff("DEBUG", "PROTOCOL", t)


def test_debug_protocol_resp3(diff3):
    for t in (
        "string",
        "integer",
        "double",
        "bignum",
        "null",
        "array",
        "set",
        "map",
        "verbatim",
        "true",
        "false",
        "nosuch",
    ):
        diff3("DEBUG", "PROTOCOL", t)
    # attrib and push are followed by a real reply
    for t, n in (("attrib", 1), ("push", 2)):
        diff3.raw(b"*3\r\n$5\r\nDEBUG\r\n$8\r\nPROTOCOL\r\n$%d\r\n%s\r\n" % (len(t), t.encode()), n)


def test_debug_error_log_and_misc(diff):
    diff("DEBUG", "ERROR", "LOADING fake")
    diff("DEBUG", "ERROR", "WRONG message\r\nwith newlines")
    diff("DEBUG", "ERROR", "")
    diff("DEBUG", "LOG", "hello from the tests")
    diff("DEBUG", "SLEEP", "0")
    diff("DEBUG", "SLEEP", "0.01")
    diff("DEBUG", "SLEEP", "abc")
    diff("DEBUG", "STRUCTSIZE")
    diff("DEBUG", "STRINGMATCH-TEST")
    diff("DEBUG", "NOSUCH")
    diff("DEBUG", "OBJECT")
    diff("DEBUG", "OBJECT", "a", "b")
    diff("DEBUG", "LEAK", "x")
    diff("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "-1")
    diff("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "abc")
    diff("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0")
    diff("DEBUG", "AOF-FLUSH-SLEEP", "0")
    diff("DEBUG", "REPLICATE", "SET", "x", "y")
    diff("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "NEVER")
    diff("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "RESET")
    diff("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "abc")
    diff("DEBUG", "REPLYBUFFER", "RESIZING", "1")
    diff("DEBUG", "REPLYBUFFER", "NOSUCH", "1")
    diff("DEBUG", "CLUSTERLINK", "KILL", "all", "abc")
    diff("DEBUG", "RELOAD", "NOSUCH")
    diff("DEBUG", "RESTART", "abc")


def test_debug_help_matches_except_jemalloc_lines(diff):
    ref = [x for x in array(diff.ref.call("DEBUG", "HELP"))]
    our = array(diff.our.call("DEBUG", "HELP"))
    jemalloc = [
        b"+MALLCTL <key> [<val>]\r\n",
        b"+    Get or set a malloc tuning integer.\r\n",
        b"+MALLCTL-STR <key> [<val>]\r\n",
        b"+    Get or set a malloc tuning string.\r\n",
    ]
    assert our == [x for x in ref if x not in jemalloc]


def test_debug_populate(diff):
    diff.run("""
        DEBUG POPULATE 10
        DBSIZE
        GET key:0
        GET key:9
        DEBUG POPULATE 5 pre 20
        GET pre:3
        STRLEN pre:3
        DEBUG POPULATE 3 short 3
        GET short:2
        SET key:2 mine
        DEBUG POPULATE 12
        GET key:2
        GET key:11
        DBSIZE
        DEBUG POPULATE -1
        DEBUG POPULATE abc
        DEBUG POPULATE 1 p -5
        DEBUG POPULATE 1 p x
        DEBUG POPULATE 0
        DEBUG POPULATE 1 a 1 extra
    """)


def test_debug_object_like_redis(diff):
    diff.run("""
        SET s hello
        SET n 12345
        SET big 0123456789012345678901234567890123456789012345
        RPUSH l a b c
        SADD si 1 2 3
        SADD ss a b c
        HSET h f v
        ZADD z 1 a
    """)
    pat = re.compile(
        rb"^\+Value at:0x[0-9a-f]+ refcount:\d+ encoding:(\S+) "
        rb"serializedlength:(\d+) lru:\d+ lru_seconds_idle:(\d+)(.*)\r\n$"
    )
    for key in ("s", "n", "big", "l", "si", "ss", "h", "z"):
        ref = pat.match(diff.ref.call("DEBUG", "OBJECT", key))
        our = pat.match(diff.our.call("DEBUG", "OBJECT", key))
        assert ref and our, key
        assert our.group(1) == ref.group(1), key  # encoding
        assert our.group(2) == ref.group(2), key  # serialized length
        assert our.group(4).split()[:1] == ref.group(4).split()[:1] or key == "l", key
    diff("DEBUG", "OBJECT", "nosuch")


def test_debug_object_address_kept_by_in_place_changes(diff):
    """DEBUG OBJECT's "at:" stays put when Redis changes the object in place: INCR
    of an int-encoded string outside the shared integers, a push to a list
    (unit/type/incr.tcl "INCR can modify objects in-place")."""
    at = re.compile(rb"at:(0x[0-9a-f]+) ")

    def addr(side, key):
        return at.search(side.call("DEBUG", "OBJECT", key)).group(1)

    for side in (diff.ref, diff.our):
        side.call("SET", "foo", "20000")
        side.call("INCR", "foo")
        old = addr(side, "foo")
        side.call("INCR", "foo")
        side.call("INCRBY", "foo", "7")
        assert addr(side, "foo") == old
        side.call("RPUSH", "l", "a")
        old = addr(side, "l")
        side.call("RPUSH", "l", "b")
        assert addr(side, "l") == old


def test_debug_digest_empty_and_missing(diff):
    diff("DEBUG", "DIGEST")
    diff("DEBUG", "DIGEST-VALUE", "nosuch", "nosuch2")
    diff("DEBUG", "DIGEST-VALUE")
    diff("DEBUG", "DIGEST", "extra")


def test_debug_htstats(diff):
    diff("DEBUG", "HTSTATS", "0")
    diff("DEBUG", "HTSTATS", "99")
    diff("DEBUG", "HTSTATS", "-1")
    diff("DEBUG", "HTSTATS", "abc")
    diff("SET", "s", "v")
    diff("DEBUG", "HTSTATS-KEY", "s")
    diff("DEBUG", "HTSTATS-KEY", "nosuch")
    diff("RPUSH", "l", "a")
    diff("DEBUG", "HTSTATS-KEY", "l")
    diff("DEBUG", "SDSLEN", "l")
    diff("DEBUG", "SDSLEN", "nosuch")
    diff("DEBUG", "LISTPACK", "s")
    diff("DEBUG", "QUICKLIST", "s")
    diff("DEBUG", "LISTPACK", "nosuch")


def test_debug_settings_commands(diff):
    diff.run("""
        DEBUG SET-ACTIVE-EXPIRE 0
        DEBUG SET-ACTIVE-EXPIRE 1
        DEBUG QUICKLIST-PACKED-THRESHOLD 100
        DEBUG QUICKLIST-PACKED-THRESHOLD 5gb
        DEBUG QUICKLIST-PACKED-THRESHOLD abc
        DEBUG QUICKLIST-PACKED-THRESHOLD 0
        DEBUG PAUSE-CRON 0
        DEBUG SET-DISABLE-DENY-SCRIPTS 0
        DEBUG CHANGE-REPL-ID
        DEBUG CLIENT-EVICTION
    """)


# ===================================================================== SLOWLOG
def test_slowlog(diff, restore):
    restore("slowlog-log-slower-than", "slowlog-max-len")
    diff.run("""
        SLOWLOG HELP
        SLOWLOG RESET
        SLOWLOG GET -2
        SLOWLOG GET abc
        SLOWLOG GET 1 2
        SLOWLOG LEN x
        SLOWLOG NOSUCH
    """)
    for conn in (diff.ref, diff.our):
        conn.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
        conn.call("SLOWLOG", "RESET")
        conn.call("CLIENT", "SETNAME", "slowpoke")
        conn.call("SET", "foo", "x" * 200)
        conn.call("RPUSH", "l", *[str(i) for i in range(40)])
        conn.call("CLIENT", "SETNAME", "")
    for args in (
        ("SLOWLOG", "GET", "-1"),
        ("SLOWLOG", "GET"),
        ("SLOWLOG", "GET", "2"),
        ("SLOWLOG", "GET", "0"),
    ):
        ref = array(diff.ref.call(*args))
        our = array(diff.our.call(*args))
        assert [e[3] for e in our] == [e[3] for e in ref]  # arguments
        assert [e[5] for e in our] == [e[5] for e in ref]  # client names
        assert [int(e[0][1:-2]) - int(ref[-1][0][1:-2]) for e in ref] == [
            int(e[0][1:-2]) - int(our[-1][0][1:-2]) for e in our
        ]  # ids
        assert all(e[4] == our[0][4] for e in our)  # client address
    diff("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    diff("SLOWLOG", "RESET")
    diff("SLOWLOG", "LEN")
    diff("SLOWLOG", "GET")


# ===================================================================== LATENCY
def test_latency_without_events(diff, restore):
    restore("latency-monitor-threshold")
    diff.run("""
        CONFIG SET latency-monitor-threshold 0
        LATENCY RESET
        LATENCY LATEST
        LATENCY HISTORY command
        LATENCY GRAPH command
        LATENCY DOCTOR
        LATENCY RESET nosuch
        LATENCY HELP
        LATENCY HISTOGRAM nosuch
        LATENCY NOSUCH
        LATENCY HISTORY
        LATENCY LATEST x
    """)


def test_latency_command_event(diff, restore):
    restore("latency-monitor-threshold")
    for conn in (diff.ref, diff.our):
        conn.call("LATENCY", "RESET")
        conn.call("CONFIG", "SET", "latency-monitor-threshold", "100")
        conn.call("DEBUG", "SLEEP", "0.15")
    for conn in (diff.ref, diff.our):
        latest = array(conn.call("LATENCY", "LATEST"))
        assert len(latest) == 1
        event, when, last, worst = latest[0]
        assert event == b"command"
        assert abs(int(when[1:-2]) - time.time()) < 5
        assert 150 <= int(last[1:-2]) < 1000
        history = array(conn.call("LATENCY", "HISTORY", "command"))
        assert len(history) == 1
        graph = array(conn.call("LATENCY", "GRAPH", "command"))
        assert graph.startswith(b"command - high ")
        assert b"Dave, I have observed latency spikes" in array(conn.call("LATENCY", "DOCTOR"))
        assert conn.call("LATENCY", "RESET", "command") == b":1\r\n"
        assert conn.call("LATENCY", "LATEST") == b"*0\r\n"


def test_latency_histogram_shape(diff):
    for conn in (diff.ref, diff.our):
        conn.call("CONFIG", "RESETSTAT")
        conn.call("SET", "a", "b")
        conn.call("SET", "a", "b")
        h = array(conn.call("LATENCY", "HISTOGRAM", "set", "get"))
        assert h[0] == b"set"
        assert h[1][0:2] == [b"calls", b":2\r\n"]
        assert h[1][2] == b"histogram_usec"
        buckets = h[1][3]
        assert buckets and int(buckets[-1][1:-2]) == 2


# ====================================================================== MEMORY
def test_memory_errors_and_missing(diff):
    diff.run("""
        MEMORY HELP
        MEMORY USAGE nosuch
        SET k v
        MEMORY USAGE k SAMPLES -1
        MEMORY USAGE k SAMPLES abc
        MEMORY USAGE k SAMPLES
        MEMORY USAGE k NOSUCH
        MEMORY PURGE
        MEMORY NOSUCH
        MEMORY STATS x
        MEMORY DOCTOR
    """)


def test_memory_usage_is_a_plausible_number(diff):
    diff.run("""
        SET small v
        RPUSH list a b c d e f g
    """)
    diff.our.call("SET", "large", "x" * 10000)
    for key, low, high in ((b"small", 20, 500), (b"large", 10000, 12000), (b"list", 40, 5000)):
        n = int(diff.our.call("MEMORY", "USAGE", key)[1:-2])
        assert low <= n <= high, (key, n)
    assert int(diff.our.call("MEMORY", "USAGE", "list", "SAMPLES", "0")[1:-2]) > 0


def test_memory_stats_keys_match(diff):
    diff("SET", "k", "v")
    ref = array(diff.ref.call("MEMORY", "STATS"))
    our = array(diff.our.call("MEMORY", "STATS"))
    assert our[0::2] == ref[0::2]


# ================================================================ small commands
def test_time_role_lolwut(diff):
    ref = array(diff.ref.call("TIME"))
    our = array(diff.our.call("TIME"))
    assert abs(int(ref[0]) - int(our[0])) <= 1 and 0 <= int(our[1]) < 1000000
    diff.run("""
        ROLE
        LOLWUT
        LOLWUT VERSION abc
        LOLWUT VERSION 7
        TIME x
        ROLE x
    """)


def test_replicaof_failover_shutdown_errors(diff):
    diff.run("""
        REPLICAOF NO ONE
        SLAVEOF no one
        REPLICAOF host abc
        REPLICAOF host 70000
        REPLICAOF host -1
        FAILOVER
        FAILOVER ABORT
        FAILOVER TIMEOUT -1
        FAILOVER TIMEOUT abc
        FAILOVER TO host abc
        FAILOVER FORCE FORCE
        FAILOVER NOSUCH
        FAILOVER TO h 1 TIMEOUT 5 FORCE
        SHUTDOWN NOSUCH
        SHUTDOWN SAVE NOSAVE
        SHUTDOWN ABORT NOW
        SHUTDOWN ABORT
    """)


def test_module_acl_function_probes(diff):
    diff.run("""
        MODULE LIST
        MODULE HELP
        ACL WHOAMI
        ACL USERS
        ACL LIST
        FUNCTION FLUSH
        FUNCTION FLUSH ASYNC
        FUNCTION LIST
    """)
