"""ACL against redis-server 7.0.15, byte for byte.

Two things are not byte-comparable and are normalised, nothing else:

* Redis walks its command table in hash order, and the hash seed is random per
  process: ``ACL CAT <category>`` and the single-command part of a rule string
  (``+get +set`` or ``+set +get``) come out in a different order from one
  redis-server to the next. :func:`norm` sorts exactly those parts.
* ACL LOG's ``age-seconds`` and ``client-info`` (time and connection details).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

import pytest

from support import RawConn, RealRedis, REDIS_SERVER, free_port
from test_networking import closed_within
from vermilion.embed import start_server

# --------------------------------------------------------------- normalising
_RULES = re.compile(rb"[+-]@all(?: [+-][^ )\r\n]+)*")


def _sort_rules(m):
    toks = m.group(0).split(b" ")
    cats = [t for t in toks if t[1:2] == b"@"]
    singles = sorted(t for t in toks if t[1:2] != b"@")
    return b" ".join(cats + singles)


_HELLO_ID = re.compile(rb"(\$2\r\nid\r\n):\d+\r\n")


def norm(reply):
    """A reply with every command-rule string's single-command rules sorted (and
    HELLO's client id masked)."""
    return _HELLO_ID.sub(rb"\1:ID\r\n", _RULES.sub(_sort_rules, reply))


def parse(data, i=0):
    """One RESP reply -> (python value, next index). Bulk strings stay bytes."""
    end = data.index(b"\r\n", i)
    t, body = data[i : i + 1], data[i + 1 : end]
    i = end + 2
    if t in b"$=":
        n = int(body)
        if n < 0:
            return None, i
        return data[i : i + n], i + n + 2
    if t in b"*~%>":
        n = int(body)
        if n < 0:
            return None, i
        if t == b"%":
            n *= 2
        out = []
        for _ in range(n):
            v, i = parse(data, i)
            out.append(v)
        return out, i
    if t == b":":
        return int(body), i
    if t == b"_":
        return None, i
    if t == b",":
        return float(body), i
    return (t + body), i


def value(reply):
    return parse(reply)[0]


# ------------------------------------------------------------------ fixtures
class Duo:
    """A redis-server and a Vermilion; connections come in (redis, vermilion) pairs."""

    def __init__(self, ref_port, our_port):
        self.ports = (ref_port, our_port)
        self.conns = []
        self.admin = self.connect()

    def connect(self, ping=True):
        """A new connection pair; by default it has been served once (a PING), so the
        servers know the client before the test goes on with other connections."""
        c = Pair(RawConn("127.0.0.1", self.ports[0]), RawConn("127.0.0.1", self.ports[1]))
        self.conns.append(c)
        if ping:
            c.ref.call("PING")
            c.our.call("PING")
        return c

    def __call__(self, *args):
        return self.admin(*args)

    def run(self, script, conn=None):
        import shlex

        conn = conn or self.admin
        return [
            conn(*shlex.split(line))
            for line in script.strip().splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]

    def close(self):
        for c in self.conns:
            c.close()


class Pair:
    def __init__(self, ref, our):
        self.ref, self.our = ref, our

    def both(self, *args):
        return self.ref.call(*args), self.our.call(*args)

    def __call__(self, *args):
        """Send to both; assert identical (normalised) replies; return redis's."""
        a, b = self.both(*args)
        assert norm(b) == norm(a), "reply to %r differs:\n redis:     %r\n vermilion: %r" % (
            args,
            a,
            b,
        )
        return a

    def send(self, *args):
        self.ref.send_command(*args)
        self.our.send_command(*args)

    def read(self):
        a, b = self.ref.read_reply(), self.our.read_reply()
        assert norm(b) == norm(a), "reply differs:\n redis:     %r\n vermilion: %r" % (a, b)
        return a

    def closed(self):
        a, b = closed_within(self.ref.sock), closed_within(self.our.sock)
        assert a == b, "connection closed: redis %s, vermilion %s" % (a, b)
        return a

    def close(self):
        self.ref.close()
        self.our.close()


@contextmanager
def fresh(*redis_args, **our_options):
    """A new redis-server and a new Vermilion with the same configuration."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    ref = RealRedis(*redis_args)
    ours = start_server(**our_options)
    duo = Duo(ref.port, ours.port)
    try:
        yield duo
    finally:
        duo.close()
        ours.stop()
        ref.stop()


@pytest.fixture(scope="module")
def servers():
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    ref = RealRedis()
    ours = start_server(enable_debug_command="yes")
    yield ref.port, ours.port
    ours.stop()
    ref.stop()


@pytest.fixture
def duo(servers):
    """A shared pair of servers, cleaned of users, log and data after each test.
    (Tests that change the default user use :func:`fresh` servers instead.)"""
    d = Duo(*servers)
    d("FLUSHALL")
    yield d
    users = value(d.admin.ref.call("ACL", "USERS"))
    extra = [u for u in users if u != b"default"]
    if extra:
        d("ACL", "DELUSER", *extra)
    d("ACL", "LOG", "RESET")
    d.close()


def as_user(duo, name, password="pw"):
    """A new connection pair authenticated as ``name``."""
    c = duo.connect()
    assert c("AUTH", name, password) == b"+OK\r\n"
    return c


# ------------------------------------------------------------ SETUSER / LIST
def test_default_user(duo):
    duo.run("""
        ACL LIST
        ACL USERS
        ACL WHOAMI
        ACL GETUSER default
    """)


def test_setuser_rules_and_describe(duo):
    duo.run("""
        ACL SETUSER u1
        ACL LIST
        ACL GETUSER u1
        ACL SETUSER u1 on >p1 >p2 >p1 ~k* ~k* +get +set +@hash -hdel
        ACL LIST
        ACL GETUSER u1
        ACL SETUSER u1 <p2 %R~r* %W~w* %RW~rw* %R~w* %r~lower %Wr~wr
        ACL GETUSER u1
        ACL LIST
        ACL SETUSER u1 resetkeys ~a allkeys
        ACL GETUSER u1
        ACL SETUSER u1 resetkeys &ch1 &ch2 &ch1
        ACL GETUSER u1
        ACL LIST
        ACL SETUSER u1 allchannels
        ACL LIST
        ACL SETUSER u1 resetchannels resetpass
        ACL LIST
        ACL SETUSER u1 nopass
        ACL GETUSER u1
        ACL SETUSER u1 >again
        ACL GETUSER u1
        ACL SETUSER u1 #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
        ACL GETUSER u1
        ACL SETUSER u1 !5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
        ACL GETUSER u1
        ACL SETUSER u1 off skip-sanitize-payload
        ACL LIST
        ACL SETUSER u1 sanitize-payload ON
        ACL LIST
        ACL SETUSER u1 reset
        ACL LIST
        ACL GETUSER u1
        ACL SETUSER u2 On NoPass AllKeys AllChannels AllCommands
        ACL LIST
        ACL SETUSER u2 NoCommands ResetKeys ResetChannels
        ACL LIST
        ACL USERS
    """)


@pytest.mark.parametrize(
    "rules",
    [
        "+@all",
        "+@all -@dangerous",
        "+@all -get -set -config|set",
        "+@all -@keyspace -@admin +keys",
        "-@all +@read",
        "-@all +@read -@keyspace +acl|whoami",
        "-@all +@slow",
        "-@all +@fast",
        "-@all +@fast +@slow",
        "-@all +@write -@string",
        "-@all +@string +@hash +@list +@set +@sortedset",
        "-@all +@connection +@transaction +@scripting",
        "-@all +@pubsub +@blocking",
        "-@all +client",
        "-@all +client -client|kill",
        "-@all +config|get +config|set",
        "-@all +select|0 +select|1 +SELECT|1 +debug|object",
        "+@all -select +select|0",
        "-@all +select|0 +select",
        "-@all +select|0 +@connection",
        "-@all +@all",
        "allcommands -@all",
        "+@all -@all +get",
        "+@all -get +get",
        "-@all +geoadd +xadd +eval +fcall",
        "-@all +@geo +@stream +@hyperloglog +@bitmap",
        "-@all +@admin -@dangerous",
        "-@all +@dangerous +@admin +@keyspace +@read +@write",
    ],
)
def test_command_rule_compaction(duo, rules):
    """ACL LIST / GETUSER print the command bitmap as Redis's best-fit rule string."""
    duo("ACL", "SETUSER", "c1", "reset", *rules.split())
    duo("ACL", "LIST")
    duo("ACL", "GETUSER", "c1")
    duo("ACL", "SETUSER", "c1", "(" + rules + ")")
    duo("ACL", "GETUSER", "c1")


_CATEGORIES = [
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
]


@pytest.mark.parametrize("cat", _CATEGORIES)
def test_single_category_describes_as_itself(duo, cat):
    duo("ACL", "SETUSER", "additive", "reset", "+@all", "-@" + cat)
    duo("ACL", "GETUSER", "additive")
    duo("ACL", "SETUSER", "restrictive", "reset", "-@all", "+@" + cat)
    duo("ACL", "GETUSER", "restrictive")
    duo("ACL", "SETUSER", "two", "reset", "-@all", "+@" + cat, "+@connection", "-ping")
    duo("ACL", "GETUSER", "two")


def test_subcommand_rules_engulfed(duo):
    duo.run("""
        ACL SETUSER bob +memory|doctor
        ACL GETUSER bob
        ACL SETUSER bob +memory
        ACL GETUSER bob
        ACL SETUSER bob +@all +client|id
        ACL GETUSER bob
        ACL SETUSER alice +@all -memory|doctor
        ACL GETUSER alice
        ACL SETUSER alice +@all -memory
        ACL GETUSER alice
        ACL SETUSER alice -@all
        ACL GETUSER alice
        ACL SETUSER n reset +@all ~* -@string +incr -debug +debug|digest
        ACL GETUSER n
        ACL SETUSER n reset +@string -incr +acl +debug|digest +debug|segfault
        ACL GETUSER n
        ACL SETUSER n reset -debug +debug|a +debug|b +debug|c
        ACL GETUSER n
        ACL SETUSER n -debug
        ACL GETUSER n
        ACL SETUSER n +@all -client +client|id +client|setname
        ACL GETUSER n
        ACL SETUSER n -@all +acl +config -config|set
        ACL GETUSER n
        ACL SETUSER scripter on nopass +readonly
        ACL DRYRUN scripter EVAL_RO "" 0
        ACL DRYRUN scripter FCALL_RO "" 0
        ACL DRYRUN scripter readonly
    """)


def test_subcommand_enforcement(duo):
    duo(
        "ACL",
        "SETUSER",
        "n",
        "on",
        ">pw",
        "~*",
        "+@all",
        "-client",
        "+client|id",
        "+client|setname",
        "-config|set",
        "-memory",
    )
    u = as_user(duo, "n")
    duo.run(
        """
        CLIENT SETNAME foo
        CLIENT KILL TYPE master
        CLIENT NOSUCH
        CONFIG GET maxmemory-policy
        CONFIG SET maxmemory-policy noeviction
        MEMORY DOCTOR
        MEMORY NOSUCH
    """,
        u,
    )


def test_setuser_errors(duo):
    duo.run("""
        ACL SETUSER u1 ~k*
        ACL SETUSER u1 %~x
        ACL SETUSER u1 %
        ACL SETUSER u1 %R
        ACL SETUSER u1 %RR~x
        ACL SETUSER u1 %X~a
        ACL SETUSER u1 %RWX~a
        ACL SETUSER u1 allkeys ~foo
        ACL SETUSER u1 allkeys %R~foo
        ACL SETUSER u1 allchannels &foo
        ACL SETUSER u1 +nosuch
        ACL SETUSER u1 -nosuch
        ACL SETUSER u1 +@nosuch
        ACL SETUSER u1 -@nosuch
        ACL SETUSER u1 +config|get|x
        ACL SETUSER u1 +config|nosuch
        ACL SETUSER u1 -config|nosuch
        ACL SETUSER u1 -get|x
        ACL SETUSER u1 +config|
        ACL SETUSER u1 +select|
        ACL SETUSER u1 +
        ACL SETUSER u1 -
        ACL SETUSER u1 <nopw
        ACL SETUSER u1 !nohash
        ACL SETUSER u1 #abc
        ACL SETUSER u1 #5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8
        ACL SETUSER u1 !5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
        ACL SETUSER u1 garbage
        ACL SETUSER u1 on garbage off
        ACL SETUSER u1 "~a b"
        ACL SETUSER u1 "&a b"
        ACL SETUSER u1 "bad name"
        ACL SETUSER "bad name"
        ACL SETUSER "tab\tname"
        ACL SETUSER u1 (~x
        ACL SETUSER u1 (~x +get
        ACL SETUSER u1 on (
        ACL SETUSER u1 "(~x garbage)"
        ACL SETUSER u1 "(allkeys ~x)"
        ACL LIST
    """)


def test_failed_setuser_changes_nothing(duo):
    duo.run("""
        ACL SETUSER u1 on >pw ~a +get
        ACL SETUSER u1 off ~b +set +nosuch
        ACL LIST
        ACL SETUSER newuser on +nosuch
        ACL USERS
    """)


def test_selectors(duo):
    duo.run("""
        ACL SETUSER s1 on nopass ~a* +get (~b* +set) "(%R~c* &ch +@hash)"
        ACL LIST
        ACL GETUSER s1
        ACL SETUSER s1 "(~d" "+get" "-get)"
        ACL LIST
        ACL SETUSER s1 ()
        ACL GETUSER s1
        ACL SETUSER s1 clearselectors
        ACL LIST
        ACL SETUSER s1 "(~x \\"+get)"
        ACL GETUSER s1
        ACL SETUSER s1 reset
        ACL LIST
    """)
    duo("ACL", "SETUSER", "s2", "(~a +get", "(~b", "+set)")
    duo("ACL", "LIST")


def test_deluser_and_users(duo):
    duo.run("""
        ACL DELUSER nosuch
        ACL SETUSER b
        ACL SETUSER a
        ACL SETUSER c
        ACL SETUSER B
        ACL USERS
        ACL LIST
        ACL DELUSER default
        ACL DELUSER a default
        ACL USERS
        ACL DELUSER a b nosuch b
        ACL USERS
        ACL GETUSER a
        ACL GETUSER nosuch
    """)


def test_cat(duo):
    duo("ACL", "CAT")
    for cat in [
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
        "READ",
    ]:
        a, b = duo.admin.both("ACL", "CAT", cat)
        assert sorted(value(b)) == sorted(value(a)), cat
    duo.run("""
        ACL CAT nosuch
        ACL CAT @read
        ACL CAT read extra
    """)


def test_genpass(duo):
    for args in [(), ("1",), ("4",), ("5",), ("255",), ("256",), ("4096",)]:
        a, b = duo.admin.both("ACL", "GENPASS", *args)
        assert len(value(b)) == len(value(a))
        assert re.fullmatch(rb"[0-9a-f]*", value(b))
    duo.run("""
        ACL GENPASS 0
        ACL GENPASS -1
        ACL GENPASS 4097
        ACL GENPASS x
        ACL GENPASS 1 2
    """)


def test_help_and_errors(duo):
    duo.run("""
        ACL HELP
        ACL help
        ACL HELP x
        ACL NOSUCH
        ACL
        ACL WHOAMI x
        ACL LIST x
        ACL USERS x
        ACL GETUSER
        ACL GETUSER a b
        ACL DELUSER
        ACL SETUSER
        ACL DRYRUN u
        ACL DRYRUN u get
        ACL LOAD
        ACL SAVE
        ACL LOAD x
        ACL LOG x
        ACL LOG 1 2
        ACL LOG -1
        ACL LOG 0
    """)


def test_dryrun(duo):
    duo.run("""
        ACL SETUSER d on nopass ~k* %R~r* +get +set +publish +subscribe &ch* +config|get
        ACL DRYRUN nosuch get x
        ACL DRYRUN d get k1
        ACL DRYRUN d get x1
        ACL DRYRUN d set k1 v
        ACL DRYRUN d set r1 v
        ACL DRYRUN d get r1
        ACL DRYRUN d mget k1 x
        ACL DRYRUN d del k1
        ACL DRYRUN d nosuchcmd
        ACL DRYRUN d nosuchcmd a b
        ACL DRYRUN d config
        ACL DRYRUN d config nosub
        ACL DRYRUN d config get maxmemory
        ACL DRYRUN d config set maxmemory 1
        ACL DRYRUN d get
        ACL DRYRUN d get a b
        ACL DRYRUN d publish ch1 hi
        ACL DRYRUN d publish other hi
        ACL DRYRUN d subscribe ch1 other
        ACL DRYRUN d ping
        ACL DRYRUN d auth a b
        ACL DRYRUN d geoadd k 1 2 m
        ACL DRYRUN default flushall
        ACL LOG
    """)


def test_flexible_selector_syntax(duo):
    duo("ACL", "SETUSER", "sel", "(~key1 +get )", "( ~key2 +get )", "( ~key3 +get)", "(~key4 +get)")
    duo("ACL", "SETUSER", "sel", "(~key5", "+get", ")", "(", "~key6", "+get", ")")
    duo("ACL", "GETUSER", "sel")
    duo.run("""
        ACL SETUSER bad " () "
        ACL SETUSER bad (
        ACL SETUSER bad )
        ACL SETUSER bad on (this-is-invalid)
        ACL SETUSER bad on "(&* &fail)"
        ACL GETUSER bad
        ACL SETUSER rw %R~foo %W~foo %RW~bar
        ACL GETUSER rw
    """)


DRYRUNS = """
    GET read
    GET write
    SET write v
    SET read v
    SET rw v GET
    SET write v GET
    GETDEL rw
    GETDEL read
    GETEX read
    BITFIELD read GET u8 0
    BITFIELD read SET u8 0 1
    BITFIELD write SET u8 0 1
    BITFIELD rw INCRBY u8 0 1 GET u8 0
    BITFIELD_RO read GET u8 0
    MIGRATE whatever whatever rw 0 500
    MIGRATE whatever whatever read 0 500
    MIGRATE whatever whatever write 0 500
    MIGRATE whatever whatever "" 0 5000 KEYS rw
    MIGRATE whatever whatever "" 0 5000 KEYS read
    MIGRATE whatever whatever "" 0 5000 AUTH KEYS KEYS rw
    MIGRATE whatever whatever "" 0 5000 AUTH KEYS KEYS read
    MIGRATE whatever whatever "" 0 5000 AUTH2 KEYS 123 KEYS write
    MIGRATE whatever whatever "" 0 5000 AUTH2 USER KEYS KEYS rw
    SORT read STORE write
    SORT read STORE read
    SORT write STORE write
    SORT_RO read
    EVAL "" 1 rw1
    EVAL "" 1 read
    EVAL_RO "" 1 read
    EVAL "" 0 read
    EVAL "" -1 read
    EVAL "" 3 rw rw
    EVAL "" 3 rw read
    FCALL f 1 read
    FCALL_RO f 1 read
    GEORADIUS read longitude latitude radius M STOREDIST write
    GEORADIUS read1 longitude latitude radius M STOREDIST read2
    GEORADIUS write1 longitude latitude radius M STORE write2
    GEORADIUS_RO read 0 0 1 M
    GEOSEARCHSTORE write read FROMMEMBER m BYRADIUS 1 M
    HEXISTS read foo
    HEXISTS write foo
    HEXISTS nothing foo
    HSTRLEN write foo
    SISMEMBER write foo
    SINTERCARD 2 read read
    SINTERCARD 2 write read
    ZCOUNT write 0 1
    PFCOUNT read read
    PFCOUNT write read
    ZINTERCARD 2 read read
    ZINTERCARD 2 nothing read
    TOUCH write
    EXISTS nothing
    MEMORY USAGE write
    TYPE rw
    STRLEN write
    XLEN nothing
    LMOVE read write LEFT RIGHT
    LMOVE write read LEFT RIGHT
    BLMPOP 0 2 read write LEFT
    LMPOP 2 rw write LEFT
    ZUNIONSTORE write 2 read rw
    ZUNIONSTORE read 2 read rw
    ZRANGESTORE write read 0 -1
    XREAD STREAMS read write 0 0
    XREAD COUNT 1 STREAMS rw 0
    XREADGROUP GROUP g c STREAMS read 0
    XREADGROUP GROUP g c STREAMS rw 0
    RENAME read write
    RENAME rw write
    COPY read write
    COPY rw read
    OBJECT ENCODING nothing
    DEBUG OBJECT read
    DUMP read
    RESTORE write 0 x
    WATCH nothing
    UNLINK write
    DEL read
    SMOVE read write m
    SINTERSTORE write read rw
    SETRANGE read 0 x
    PUBLISH ch x
"""


def test_dryrun_key_flags(duo):
    duo("ACL", "SETUSER", "command-test", "+@all", "%R~read*", "%W~write*", "%RW~rw*")
    duo.run(DRYRUNS.replace("\n    ", "\n    ACL DRYRUN command-test "))
    duo.run("""
        ACL SETUSER test-channels +@all resetchannels &channel
        ACL DRYRUN test-channels spublish channel foo
        ACL DRYRUN test-channels ssubscribe channel
        ACL DRYRUN test-channels sunsubscribe
        ACL DRYRUN test-channels sunsubscribe otherchannel
        ACL DRYRUN test-channels spublish otherchannel foo
        ACL DRYRUN test-channels ssubscribe otherchannel foo
        ACL DRYRUN test-channels psubscribe chan*
        ACL DRYRUN test-channels psubscribe channel
        ACL DRYRUN test-channels punsubscribe x
        ACL SETUSER test-dry-run +@all ~v*
        ACL DRYRUN test-dry-run SET v v
        ACL DRYRUN test-dry-run SET v
        ACL DRYRUN test-dry-run SET
        ACL DRYRUN test-dry-run CONFIG
        ACL DRYRUN test-dry-run CONFIG GET
    """)


def test_log_object_with_selectors(duo):
    duo("ACL", "SETUSER", "als", "on", "nopass", "+mget", "~key", "(+mget ~key ~otherkey)")
    u = duo.connect()
    u("AUTH", "als", "x")
    for args in [
        ("GET", "key"),
        ("MGET", "otherkey", "someotherkey"),
        ("MGET", "key", "otherkey", "someotherkey"),
    ]:
        u(*args)
        same_log(duo, "1")


# --------------------------------------------------------------- enforcement
def test_command_permissions(duo):
    duo(
        "ACL",
        "SETUSER",
        "u",
        "on",
        ">pw",
        "~*",
        "&*",
        "+@all",
        "-set",
        "-config|set",
        "-@dangerous",
    )
    u = as_user(duo, "u")
    for args in [
        ("GET", "k"),
        ("SET", "k", "v"),
        ("config", "SET", "maxmemory", "0"),
        ("CONFIG", "GET", "maxmemory"),
        ("FLUSHALL",),
        ("KEYS", "*"),
        ("ACL", "WHOAMI"),
        ("ACL", "LIST"),
        ("PING",),
        ("AUTH", "u", "pw"),
        ("HELLO",),
        ("nosuchcmd",),
        ("GET",),
        ("CONFIG", "nosuch"),
    ]:
        u(*args)
    duo("ACL", "SETUSER", "u", "+set")
    u("SET", "k", "v")
    duo("ACL", "SETUSER", "u", "-@all")
    u("PING")
    u("AUTH", "u", "pw")
    u("ACL", "WHOAMI")


def test_first_arg_permissions(duo):
    duo(
        "ACL",
        "SETUSER",
        "u",
        "on",
        ">pw",
        "~*",
        "-@all",
        "+select|0",
        "+select|2",
        "+debug|object",
        "+get",
    )
    u = as_user(duo, "u")
    for args in [
        ("SELECT", "0"),
        ("SELECT", "1"),
        ("SELECT", "2"),
        ("select", "00"),
        ("GET", "k"),
        ("SET", "k", "v"),
    ]:
        u(*args)


def test_key_permissions(duo):
    duo("ACL", "SETUSER", "u", "on", ">pw", "+@all", "~all*", "%R~read*", "%W~write*")
    u = as_user(duo, "u")
    script = """
        SET all1 v
        GET all1
        SET read1 v
        GET read1
        SET write1 v
        GET write1
        APPEND write1 x
        STRLEN write1
        EXISTS write1
        DEL write1
        DEL read1
        MGET all1 read1
        MGET all1 write1
        MSET all1 a write1 b
        MSET all1 a read1 b
        COPY all1 write2
        COPY read1 all2
        COPY write1 all2
        RENAME all1 write3
        LPUSH write4 a
        LPUSH read4 a
        LRANGE write4 0 -1
        LMOVE all5 write5 LEFT RIGHT
        LMOVE write5 all5 LEFT RIGHT
        SORT all1
        SORT read1
        SORT all1 STORE write9
        SORT all1 STORE read9
        SORT_RO read1
        SINTERSTORE write6 all6 read6
        SINTERSTORE all6 write6
        OBJECT ENCODING read1
        OBJECT ENCODING write1
        TYPE write1
        TTL write1
        EXPIRE write1 10
        SET other v
        GET other
        DBSIZE
        FLUSHDB
    """
    duo.run(script, u)


def test_sort_by_and_get_need_full_key_access(duo):
    duo("RPUSH", "l", "2", "1")
    duo("ACL", "SETUSER", "u", "on", ">pw", "+@all", "~l", "~w*", "%R~r*")
    duo("ACL", "SETUSER", "full", "on", ">pw", "+@all", "%R~*", "~l")
    u = as_user(duo, "u")
    duo.run(
        """
        SORT l
        SORT l BY nosort
        SORT l BY w_*
        SORT l GET #
        SORT l GET w_*
        SORT_RO l BY r_*
        SORT l LIMIT 0 1 GET # BY w*
        SORT l STORE w1
        SORT l STORE r1
    """,
        u,
    )
    f = as_user(duo, "full")
    duo.run(
        """
        SORT l BY w_*
        SORT l GET # GET w_*
        SORT_RO l BY r_* GET #
    """,
        f,
    )


def test_key_pattern_edge_cases(duo):
    duo("ACL", "SETUSER", "u", "on", ">pw", "+@all", "%RW~", "%R~*", "~[ab]?")
    u = as_user(duo, "u")
    duo.run(
        """
        GET x
        SET x v
        SET a1 v
        SET c1 v
        GET ""
        SET "" v
    """,
        u,
    )


def test_channel_permissions(duo):
    duo("ACL", "SETUSER", "u", "on", ">pw", "~*", "+@all", "resetchannels", "&news.*", "&lit[eral]")
    u = as_user(duo, "u")
    duo.run(
        """
        PUBLISH news.1 hi
        PUBLISH sport hi
        PUBLISH lit[eral] x
        PUBLISH lite x
        SPUBLISH news.1 hi
        SPUBLISH other hi
        PUBSUB CHANNELS
        PUBSUB NUMSUB other
        UNSUBSCRIBE other
        PUNSUBSCRIBE other*
    """,
        u,
    )
    for args in [
        ("SUBSCRIBE", "other"),
        ("SUBSCRIBE", "news.2", "other"),
        ("PSUBSCRIBE", "news.*x"),
        ("PSUBSCRIBE", "lit[eral]"),
        ("SSUBSCRIBE", "other"),
        ("PSUBSCRIBE", "news.*"),
    ]:
        c = as_user(duo, "u")
        c(*args)
    same_log(duo)


def test_acl_is_checked_before_the_subscribed_context(duo):
    duo("ACL", "SETUSER", "u", "on", ">pw", "~*", "&*", "+@all", "-get")
    u = as_user(duo, "u")
    u("SUBSCRIBE", "ch")
    u("GET", "x")  # NOPERM first, like processCommand
    u("SET", "x", "y")  # then the RESP2 subscribed-context error
    u("PING")


def test_channels_follow_acl_pubsub_default(duo):
    try:
        duo.run("""
            CONFIG SET acl-pubsub-default allchannels
            ACL SETUSER p1
            ACL LIST
            ACL SETUSER p1 reset
            ACL LIST
            ACL SETUSER p2 "(~x)"
            ACL LIST
            CONFIG SET acl-pubsub-default resetchannels
            ACL SETUSER p3
            ACL SETUSER p1 reset
            ACL LIST
        """)
    finally:
        duo("CONFIG", "SET", "acl-pubsub-default", "resetchannels")


def test_selectors_enforced(duo):
    duo(
        "ACL",
        "SETUSER",
        "u",
        "on",
        ">pw",
        "~a*",
        "+get",
        "(~b* +set)",
        "(%R~c* +@read)",
        "(&ch +publish)",
    )
    u = as_user(duo, "u")
    duo.run(
        """
        GET a1
        GET b1
        SET b1 v
        SET a1 v
        GET c1
        SET c1 v
        STRLEN c1
        STRLEN a1
        PUBLISH ch x
        PUBLISH other x
        MGET a1 c1
        MGET a1 b1
        HSET b1 f v
        ACL WHOAMI
    """,
        u,
    )
    same_log(duo)


def test_multi_queue_and_exec_recheck(duo):
    duo("ACL", "SETUSER", "u", "on", ">pw", "~k*", "+@all", "&ch")
    u = as_user(duo, "u")
    duo.run(
        """
        MULTI
        SET k1 v
        SET x1 v
        EXEC
        MULTI
        SET k1 v
        GET k1
        PUBLISH ch m
    """,
        u,
    )
    duo("ACL", "SETUSER", "u", "-get", "resetkeys", "~k2", "resetchannels")
    u("EXEC")
    same_log(duo)
    duo("ACL", "SETUSER", "u", "+@all", "~*")
    u("MULTI")
    u("GET", "k1")
    duo("ACL", "SETUSER", "u", "-exec")
    u("EXEC")
    u("DISCARD")


def test_acl_log(duo):
    duo("ACL", "SETUSER", "u", "on", ">pw", "~k*", "&ch", "+get", "+publish", "+multi", "+exec")
    u = as_user(duo, "u")
    for args in [
        ("GET", "x"),
        ("GET", "x"),
        ("GET", "y"),
        ("SET", "k", "v"),
        ("SET", "k", "v"),
        ("PUBLISH", "other", "m"),
        ("AUTH", "u", "bad"),
        ("AUTH", "nosuch", "bad"),
        ("auth", "u", "bad"),
        ("MULTI",),
        ("GET", "x"),
        ("EXEC",),
        ("HELLO", "3", "AUTH", "u", "bad"),
    ]:
        u(*args)
    same_log(duo)
    same_log(duo, "2")
    duo.run("""
        ACL LOG 0
        ACL LOG RESET
        ACL LOG
        ACL LOG reset
    """)


def same_log(duo, *args):
    a, b = duo.admin.both("ACL", "LOG", *args)
    assert _log(b) == _log(a)
    return _log(a)


def _log(reply):
    """ACL LOG entries with the time and connection details left out."""
    out = []
    for entry in value(reply):
        d = dict(zip(entry[0::2], entry[1::2]))
        assert float(d.pop(b"age-seconds")) < 60
        info = d.pop(b"client-info")
        assert b" user=" in info and info.startswith(b"id=")
        out.append(d)
    return out


def test_resp3_shapes(duo):
    duo("HELLO", "3")
    duo("ACL", "SETUSER", "r3", "on", ">pw", "~k*", "+get", "(~x +set)", "(&ch +publish)")
    duo.run("""
        ACL GETUSER r3
        ACL GETUSER default
        ACL GETUSER nosuch
        ACL LIST
        ACL CAT
        ACL LOG
        ACL DRYRUN r3 get x
        ACL WHOAMI
    """)
    u = as_user(duo, "r3")
    u("GET", "x")
    u("AUTH", "r3", "bad")
    a, b = duo.admin.both("ACL", "LOG")
    assert a.startswith(b"*2\r\n%7\r\n") and b.startswith(b"*2\r\n%7\r\n")
    assert _log(b) == _log(a)
    duo("HELLO", "2")


def test_acllog_max_len(duo):
    try:
        duo("CONFIG", "SET", "acllog-max-len", "2")
        duo("ACL", "SETUSER", "u", "on", ">pw", "+get")
        u = as_user(duo, "u")
        for key in ("a", "b", "c", "d"):
            u("GET", key)
        same_log(duo)
    finally:
        duo("CONFIG", "SET", "acllog-max-len", "128")


# ------------------------------------------------------------ authentication
def test_auth_as_users(duo):
    duo.run("""
        ACL SETUSER a on >pw1 >pw2 ~* +@all
        ACL SETUSER off1 off >pw ~* +@all
        ACL SETUSER np on nopass ~* +@all
        ACL SETUSER nopw on ~* +@all
    """)
    c = duo.connect()
    duo.run(
        """
        AUTH pw1
        AUTH a pw1
        ACL WHOAMI
        AUTH a pw2
        AUTH a wrong
        ACL WHOAMI
        AUTH off1 pw
        AUTH nosuch pw
        AUTH np anything
        ACL WHOAMI
        AUTH nopw ""
        AUTH nopw x
        AUTH a pw1 extra
        HELLO 2 AUTH a wrong
        HELLO 2 AUTH off1 pw
        ACL WHOAMI
        HELLO 3 AUTH a pw2 SETNAME named
        ACL WHOAMI
        CLIENT GETNAME
        RESET
        ACL WHOAMI
    """,
        c,
    )


def test_hello_auth_when_default_has_no_commands():
    with fresh() as duo:
        duo.run("""
            ACL SETUSER secure-user >supass on +@all
            ACL SETUSER default -@all
        """)
        c = duo.connect()
        duo.run(
            """
            HELLO 2
            AUTH secure-user supass
            ACL WHOAMI
            HELLO 2 AUTH secure-user supass
        """,
            c,
        )
        c2 = duo.connect()
        c2("HELLO", "3", "AUTH", "secure-user", "supass")
        c2("ACL", "WHOAMI")


def test_disabled_user_keeps_its_connections(duo):
    duo("ACL", "SETUSER", "a", "on", ">pw", "~*", "+@all")
    u = as_user(duo, "a")
    duo("ACL", "SETUSER", "a", "off", "resetpass")
    u("PING")
    u("ACL", "WHOAMI")
    u("AUTH", "a", "pw")
    u("ACL", "WHOAMI")


def test_deluser_kills_connections(duo):
    duo("ACL", "SETUSER", "a", "on", ">pw", "~*", "+@all")
    u1 = as_user(duo, "a")
    u2 = as_user(duo, "a")
    u1("ACL", "DELUSER", "a")
    assert u1.closed()
    assert u2.closed()


def test_client_kill_user_and_list(duo):
    duo("ACL", "SETUSER", "a", "on", ">pw", "~*", "+@all")
    duo("ACL", "SETUSER", "b", "on", ">pw", "~*", "+@all")
    u1 = as_user(duo, "a")
    u2 = as_user(duo, "b")
    for pair in (duo.admin.ref, duo.admin.our):
        listing = pair.call("CLIENT", "LIST")
        assert listing.count(b" user=a ") == 1 and listing.count(b" user=b ") == 1
        assert listing.count(b" user=default ") == 1
    duo.run("""
        CLIENT KILL USER nosuch
        CLIENT KILL USER a
        CLIENT KILL USER a
    """)
    assert u1.closed()
    u2("ACL", "WHOAMI")
    duo("CLIENT", "KILL", "USER", "b", "SKIPME", "no")
    assert u2.closed()


def test_pubsub_clients_killed_when_channels_revoked(duo):
    duo("ACL", "SETUSER", "p", "on", ">pw", "~*", "+@all", "resetchannels", "&a", "&b*")
    s1 = as_user(duo, "p")
    s1("SUBSCRIBE", "a")
    s2 = as_user(duo, "p")
    s2("PSUBSCRIBE", "b*")
    s3 = as_user(duo, "p")
    s3("SUBSCRIBE", "bx")
    duo("ACL", "SETUSER", "p", "&c")  # a superset: nobody goes
    for s in (s1, s2, s3):
        s("PING")
    duo("ACL", "SETUSER", "p", "resetchannels", "&a", "&bx")
    s1("PING")
    assert s2.closed()
    s3("PING")
    duo("ACL", "SETUSER", "p", "resetchannels", "&b*")
    assert s1.closed()
    s3("PING")


def test_requirepass_is_the_default_password():
    with fresh() as duo:
        c = duo.connect()
        duo.run("""
            CONFIG SET requirepass secret
            ACL LIST
            ACL GETUSER default
        """)
        c2 = duo.connect()
        duo.run(
            """
            GET x
            AUTH wrong
            AUTH secret
            GET x
            AUTH default secret
        """,
            c2,
        )
        c("GET", "x")
        duo.run("""
            ACL SETUSER default >other
            CONFIG GET requirepass
            ACL LIST
            CONFIG SET requirepass ""
            ACL LIST
        """)
        c3 = duo.connect()
        c3("AUTH", "x")
        c3("GET", "x")


def test_default_user_restricted_and_off():
    with fresh() as duo:
        duo.run("""
            ACL SETUSER default -flushall -@dangerous resetkeys ~k*
            ACL LIST
        """)
        c = duo.connect()
        duo.run(
            """
            GET k1
            GET x
            FLUSHALL
            ACL WHOAMI
        """,
            c,
        )
        duo.run("""
            ACL SETUSER default +@all ~*
            ACL SETUSER u on >pw ~* +@all
            ACL SETUSER default off
        """)
        c2 = duo.connect()
        duo.run(
            """
            GET x
            AUTH x
            HELLO 3
            AUTH default x
            AUTH u pw
            GET x
            RESET
            GET x
        """,
            c2,
        )
        c("GET", "x")
        duo.run("""
            ACL SETUSER default on resetpass
        """)
        c4 = duo.connect()
        c4("GET", "x")
        c4("AUTH", "x")
        duo("ACL", "SETUSER", "default", "nopass")
        c4("GET", "x")


def test_hello_without_auth_when_required():
    with fresh("--requirepass", "pw", requirepass="pw") as duo:
        c = duo.connect()
        c("HELLO")
        c("HELLO", "3", "AUTH", "default", "wrong")
        c("ACL", "WHOAMI")
        assert duo.admin("AUTH", "pw") == b"+OK\r\n"
        same_log(duo)


# --------------------------------------------------------------- LOAD / SAVE
@contextmanager
def with_aclfiles(text):
    """Two ACL files with the same content and servers using them."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    d = tempfile.mkdtemp(prefix="vermilion-acl-")
    paths = [os.path.join(d, "redis.acl"), os.path.join(d, "vermilion.acl")]
    for p in paths:
        with open(p, "w") as fh:
            fh.write(text)
    ref = RealRedis("--aclfile", paths[0])
    ours = start_server(aclfile=paths[1])
    duo = Duo(ref.port, ours.port)
    try:
        yield duo, paths
    finally:
        duo.close()
        ours.stop()
        ref.stop()
        shutil.rmtree(d, ignore_errors=True)


def _write_both(paths, text):
    for p in paths:
        with open(p, "w") as fh:
            fh.write(text)


def _load(duo, paths):
    """ACL LOAD on both; the error text names each server's own file."""
    a, b = duo.admin.both("ACL", "LOAD")
    assert b.replace(paths[1].encode(), b"FILE") == a.replace(paths[0].encode(), b"FILE")
    return a


def test_aclfile_load_and_save():
    text = (
        "user alice on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
        " ~k* &ch -@all +get +@hash\n\nuser bob off resetchannels -@all\n"
    )
    with with_aclfiles(text) as (duo, paths):
        duo.run("""
            ACL LIST
            AUTH alice password
            ACL WHOAMI
            GET x
        """)
        duo("AUTH", "default", "x")
        c = duo.connect()
        duo.run(
            """
            ACL SETUSER carol on >pw ~* +@all
            ACL SETUSER default -flushall
            ACL SAVE
        """,
            c,
        )
        with open(paths[0], "rb") as fa, open(paths[1], "rb") as fb:
            assert norm(fb.read()) == norm(fa.read())
        u = as_user(duo, "carol")
        _write_both(paths, "user carol on >pw ~* +@all\nuser default on nopass ~* +@all\n")
        _load(duo, paths)
        assert u.closed()  # every connection of a non-default user is dropped
        c("ACL", "LIST")
        c("GET", "x")
        _write_both(paths, "user dave on nopass\n")
        _load(duo, paths)
        c("ACL", "LIST")


@pytest.mark.parametrize(
    "text",
    [
        "user alice on +nosuch\n",
        "user alice on garbage\n",
        "user alice on garbage ~a allkeys ~b\n",
        "user alice on +nosuch +@nosuch garbage\n",
        "# a comment\nuser alice\n",
        "alice on\n",
        "user\n",
        "user alice\nuser alice\n",
        "user alice (~x\n",
        "user alice\tb on\n",
        "User alice on\n",
        "user alice on ~a  ~b\r\nuser bob\n",
        "user alice \"on\"\n",
    ],
)
def test_aclfile_load_errors(text):
    with with_aclfiles("user default on nopass ~* &* +@all\n") as (duo, paths):
        duo("ACL", "SETUSER", "keep", "on", "nopass")
        _write_both(paths, text)
        _load(duo, paths)
        duo("ACL", "LIST")


def test_aclfile_missing():
    with with_aclfiles("") as (duo, paths):
        duo("ACL", "LIST")
        for p in paths:
            os.unlink(p)
        a, b = duo.admin.both("ACL", "LOAD")
        assert b.replace(paths[1].encode(), b"F") == a.replace(paths[0].encode(), b"F")


# --------------------------------------------------------------- config file
def _start_vermilion_cli(conf, port):
    env = dict(
        os.environ,
        PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "vermilion", conf, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def _wait_port(port, proc, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            RawConn("127.0.0.1", port, timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def test_user_directives_in_config_file():
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    d = tempfile.mkdtemp(prefix="vermilion-aclconf-")
    confs = [os.path.join(d, "redis.conf"), os.path.join(d, "vermilion.conf")]
    for conf in confs:
        with open(conf, "w") as fh:
            fh.write(
                "save \"\"\nappendonly no\n"
                "user alice on >pw ~k* +get (~x +set)\n"
                "# a comment\n"
                "user default on nopass ~* &* +@all -flushall\n"
                "user bob off\n"
            )
    rport, vport = free_port(), free_port()
    ref = subprocess.Popen(
        [REDIS_SERVER, confs[0], "--port", str(rport), "--dir", d],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ours = _start_vermilion_cli(confs[1], vport)
    try:
        assert _wait_port(rport, ref) and _wait_port(vport, ours)
        duo = Duo(rport, vport)
        duo.run("""
            ACL LIST
            FLUSHALL
            ACL SETUSER carol on >pw2 +@hash -hdel &ch
            ACL DELUSER bob
            CONFIG REWRITE
            AUTH alice pw
            GET k1
            SET x v
            GET x
        """)
        duo.close()
        texts = []
        for conf, port in zip(confs, (rport, vport)):
            with open(conf, "rb") as fh:  # the user lines, rewritten in place or added
                texts.append(
                    [
                        norm(line)
                        for line in fh.read().splitlines()
                        if line.startswith(b"user ") or line.startswith(b"#")
                    ]
                )
        assert texts[1] == texts[0]
    finally:
        for p in (ref, ours):
            p.terminate()
            p.wait(10)
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize(
    "text",
    [
        "user alice on garbage\n",
        "user alice on ~a allkeys ~b\n",
        "user alice on #abc\n",
        "user alice on\nuser alice off\n",
        "user alice (~x\n",
        "acl-pubsub-default allchannels\nuser alice &foo\n",
        "user alice on <nopass\n",
    ],
)
def test_bad_user_directives_refused_like_redis(text, tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    env = dict(
        os.environ,
        PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    ref = subprocess.run([REDIS_SERVER, str(conf)], capture_output=True, cwd=tmp_path, timeout=20)
    our = subprocess.run(
        [sys.executable, "-m", "vermilion", str(conf)],
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=20,
    )
    assert ref.returncode == 1 and our.returncode == 1
    assert our.stderr == ref.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "user alice on +nosuch\n",
            b"Error loading ACL rule '+nosuch' for the user named "
            b"'alice': Unknown command or category name in ACL",
        ),
        ('user "bad name" on\n', b"Spaces not allowed in ACL usernames"),
    ],
)
def test_users_that_cannot_be_loaded_stop_the_server(text, message, tmp_path):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    env = dict(
        os.environ,
        PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    outs = []
    for cmd in ([REDIS_SERVER], [sys.executable, "-m", "vermilion"]):
        p = subprocess.run(
            cmd + [str(conf), "--port", str(free_port())],
            capture_output=True,
            cwd=tmp_path,
            env=env,
            timeout=20,
        )
        assert p.returncode == 1
        lines = [line.split(b" # ", 1)[1] for line in p.stdout.splitlines() if b" # " in line]
        outs.append([line for line in lines if b"ACL" in line or b"Spaces" in line])
    assert outs[1] == outs[0]
    assert outs[0][0] == message
