"""DEBUG: the test suites' toolbox (debug.c).

Only reachable when ``enable-debug-command`` allows it (the dispatcher refuses it
otherwise, like Redis). The sub-commands that clients and test suites use are
implemented faithfully: SLEEP, SET-ACTIVE-EXPIRE, PROTOCOL (every RESP2/RESP3
reply type), OBJECT, DIGEST / DIGEST-VALUE, POPULATE, ERROR, LOG, CHANGE-REPL-ID,
HTSTATS / HTSTATS-KEY, QUICKLIST-PACKED-THRESHOLD, PAUSE-CRON, REPLYBUFFER ...
RELOAD (save, empty, load the RDB file back) and LOADAOF (flush the AOF, empty,
replay it) are built here from the persistence machinery
(:meth:`~vermilion.persistence.snapshot.Snapshot.reload`, the AOF's loader).

The dataset digest is SHA1-based like Redis's and order-independent where the
data is (keys, set members, hash fields): two datasets with the same content
have the same digest, any change changes it. The numbers differ from Redis's,
whose digest depends on its encodings' byte layout.
"""

import os
import signal
import random
import time

from ..errors import CommandError, NO_SUCH_KEY, subcommand_syntax_error
from ..protocol.encoder import OK, Bool, BigNumber, Map, Push, Raw, Set, Status, Verbatim, encode
from ..core.config import memtoull
from ..util import atoi, parse_int
from .server_cmds import help_reply
from ..core.table import command
import re
from .keys import encoding_of
from ..keyspace import lru
from ..globmatch import match
from ..persistence.rdb import encode_value
from ..persistence.rdb import Limits
import sys
from ..persistence.rdb import RdbError
from ..persistence.snapshot import LOADING_ERROR, LoadFailed, empty_data
from ..server.querybuf import PEAK_RESET_DEFAULT

_HELP = [
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
]


def strtod(b):
    """C's strtod() on the longest valid prefix (0.0 when there is none)."""
    m = re.match(rb"\s*([+-]?(?:inf(?:inity)?|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))", b, re.I)
    if not m:
        return 0.0
    try:
        return float(m.group(1))
    except ValueError:
        return 0.0


# ------------------------------------------------------------------- digests
def _sha(*parts):
    import hashlib  # start-up cost: OpenSSL's digests, for DEBUG DIGEST only

    h = hashlib.sha1()
    for p in parts:
        h.update(len(p).to_bytes(8, "little"))
        h.update(p)
    return h.digest()


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


ZERO_DIGEST = bytes(20)


def value_digest(v):
    """A 20-byte digest of one value: element order counts only where Redis's does."""
    cls = v.__class__
    if cls is bytes or cls is bytearray:
        return _sha(b"string", bytes(v))
    name = cls.__name__
    if name == "RList":
        import hashlib  # start-up cost: OpenSSL's digests, for DEBUG DIGEST only

        h = hashlib.sha1(b"list")
        for item in v:
            h.update(len(item).to_bytes(8, "little"))
            h.update(item)
        return h.digest()
    if name == "RSet" or name == "PackedSet":
        d = _sha(b"set")
        for m in v:
            d = _xor(d, _sha(b"m", m))
        return d
    if name == "RHash" or name == "PackedHash":
        d = _sha(b"hash")
        for f, val in v.items():
            d = _xor(d, _sha(b"f", f, val))
        return d
    if name == "ZSet" or name == "PackedZSet":
        d = _sha(b"zset")
        for m, s in v.items():
            d = _xor(d, _sha(b"z", m, b"%.17g" % s))
        return d
    try:
        t, payload = encode_value(v)
        return _sha(b"%d" % t, payload)
    except Exception:
        return _sha(name.encode(), repr(v).encode())


def key_digest(db, key, v):
    d = _sha(b"key", key, value_digest(v))
    when = db.expires.get(key)
    if when is not None:
        d = _sha(d, b"!!expire!!", b"%d" % when)
    return d


def dataset_digest(server):
    """DEBUG DIGEST: 40 zeros for an empty dataset, else a digest of every key."""
    final = ZERO_DIGEST
    for db in server.dbs:
        if not db.data:
            continue
        d = ZERO_DIGEST
        for key, v in list(db.data.items()):
            d = _xor(d, key_digest(db, key, v))
        final = _xor(final, _sha(b"db", b"%d" % db.id, d))
    return final


# ------------------------------------------------------------------- helpers
def _object_line(c, key, v):
    db = c.db
    enc = encoding_of(v).decode()
    try:
        serlen = len(encode_value(v, Limits(c.server.config))[1])
    except Exception:
        serlen = 0
    try:
        idle = lru.idle_seconds(db, key)
    except Exception:
        idle = 0
    clock = getattr(db, "lru_clock", -1)
    if clock is None or clock < 0:
        clock = int(time.time())
    extra = ""
    if enc == "quicklist":
        fill = c.server.config.get_int("list-max-listpack-size")
        n = len(v)
        per = fill if fill > 0 else 128
        nodes = max(1, (n + per - 1) // per)
        size = sum(len(x) + 2 for x in v)
        extra = (
            " ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d "
            "ql_uncompressed_size:%d"
            % (nodes, n / nodes, fill, c.server.config.get_int("list-compress-depth") != 0, size)
        )
    return (
        "Value at:0x%x refcount:1 encoding:%s serializedlength:%d lru:%d "
        "lru_seconds_idle:%d%s"
        % (_address(db, key, v, enc), enc, serlen, (clock - idle) & 0xFFFFFF, idle, extra)
    )


def _address(db, key, v, enc):
    """The "at:" of DEBUG OBJECT: where the value lives. Redis's INCR family
    rewrites an int-encoded string in place (same robj) unless it is one of the
    shared integers 0..9999, while here a new ``bytes`` replaces the old one; the
    place that stays is the key's slot, so an int-encoded value reports an address
    derived from its key and database (unit/type/incr.tcl "INCR can modify objects
    in-place")."""
    if enc == "int" and not (v.__class__ is bytes and len(v) <= 4 and v.isdigit()):
        return 0x7F0000000000 + ((hash((db.id, key)) & 0xFFFFFFFFFF) << 3)
    return id(v)


def _dict_stats(n):
    """dictGetStats' text for a table of n entries (a chain-free table: Python dicts
    use open addressing)."""
    out = "Hash table 0 stats (main hash table):\n"
    if n == 0:
        return out + "No stats available for empty dictionaries\n"
    size = 4
    while size < n:
        size *= 2
    empty = size - n
    return out + (
        " table size: %d\n number of elements: %d\n different slots: %d\n"
        " max chain length: 1\n avg chain length (counted): 1.00\n"
        " avg chain length (computed): 1.00\n Chain length distribution:\n"
        "   0: %d (%.2f%%)\n   1: %d (%.2f%%)\n"
        % (size, n, n, empty, empty * 100.0 / size, n, n * 100.0 / size)
    )


def _crash(c, what):
    server = c.server
    if not server.config.process_owner:
        raise CommandError(
            "ERR DEBUG %s would take down the process hosting this embedded server; refused" % what
        )
    server.log_warning("------------------------------------------------")
    server.log_warning("!!! Software Failure. Press left mouse button to continue")
    server.log_warning("Guru Meditation: DEBUG %s #debug.c" % what)
    os._exit(1)


def _clusterlink_kill(c, argv):
    """DEBUG CLUSTERLINK KILL <to|from|all> <node-id>: freeClusterLink on that
    node's outbound (to), inbound (from) or both links."""
    st = getattr(c.server, "cluster", None)
    if st is None:
        raise CommandError("ERR Debug option only available for cluster mode enabled setup!")
    n = st.lookup(argv[4])
    if n is None:
        raise CommandError("ERR Unknown node %s" % argv[4].decode("utf-8", "replace"))
    direction = argv[3].lower()
    links = {b"from": (n.inbound_link,), b"to": (n.link,), b"all": (n.link, n.inbound_link)}
    if direction not in links:
        # (Redis replies the error and then +OK as well)
        raise CommandError("ERR Unknown direction %s" % argv[3].decode("utf-8", "replace"))
    for link in links[direction]:
        if link is not None:
            link.free()
    return OK


def _lookup_or_nokey(c, key):
    v = c.db.data.get(key)
    if v is None:
        raise CommandError(NO_SUCH_KEY)
    return v


# ------------------------------------------------------------------- command
@command("debug")
def debug(c, argv):
    n = len(argv)
    sub = argv[1].lower()
    server = c.server
    if n == 2 and sub == b"help":
        return help_reply(argv[0], _HELP)
    if sub == b"segfault":
        # debug.c writes to a read-only page: the process dies of SIGSEGV, after
        # sigsegvHandler's crash report (the Tcl harness waits for it)
        if not c.server.config.process_owner:
            raise CommandError(
                "ERR DEBUG SEGFAULT would take down the process hosting this embedded server; refused"
            )
        c.server.crash_by_signal(signal.SIGSEGV, 2)  # si_code SEGV_ACCERR
    if sub == b"panic":
        _crash(c, "PANIC")
    if sub == b"assert":
        _crash(c, "ASSERT")
    if sub == b"oom":
        _crash(c, "OOM")
    if sub in (b"restart", b"crash-and-recover"):
        if n >= 3:
            parse_int(argv[2])
        raise CommandError("ERR failed to restart the server. Check server logs.")
    if sub == b"log" and n == 3:
        server.log_warning("DEBUG LOG: %s" % argv[2].decode("utf-8", "replace"))
        return OK
    if sub == b"leak" and n == 3:
        return OK
    if sub == b"reload":
        return debug_reload(c, argv)
    if sub == b"loadaof":
        return debug_loadaof(c, argv)
    if sub == b"drop-cluster-packet-filter" and n == 3:
        packet_type = parse_int(argv[2])
        bus = getattr(server, "cluster_bus", None)
        if bus is not None:
            bus.drop_packet_filter = packet_type
        return OK
    if sub == b"object" and n == 3:
        v = _lookup_or_nokey(c, argv[2])
        return Status(_object_line(c, argv[2], v))
    if sub == b"sdslen" and n == 3:
        key = argv[2]
        v = _lookup_or_nokey(c, key)
        if v.__class__ not in (bytes, bytearray):
            raise CommandError("ERR Not an sds encoded string.")
        return Status(
            "key_sds_len:%d, key_sds_avail:0, key_zmalloc: %d, val_sds_len:%d, "
            "val_sds_avail:%d, val_zmalloc: %d"
            % (
                len(key),
                sys.getsizeof(key),
                len(v),
                (sys.getsizeof(v) - len(v) - 33) if v.__class__ is bytearray else 0,
                sys.getsizeof(v),
            )
        )
    if sub in (b"listpack", b"quicklist") and (n == 3 or (sub == b"quicklist" and n == 4)):
        v = _lookup_or_nokey(c, argv[2])
        if encoding_of(v) != sub:
            raise CommandError("ERR Not a %s encoded object." % sub.decode())
        print("{%s %r}" % (sub.decode(), list(v.items()) if hasattr(v, "items") else list(v)))
        return Status("%s structure printed on stdout" % sub.decode().capitalize())
    if sub == b"populate" and 3 <= n <= 5:
        return _populate(c, argv)
    if sub == b"digest" and n == 2:
        return Status(dataset_digest(server).hex())
    if sub == b"digest-value" and n >= 2:
        out = []
        for key in argv[2:]:
            v = c.db.data.get(key)
            out.append(Status((value_digest(v) if v is not None else ZERO_DIGEST).hex()))
        return out
    if sub == b"protocol" and n == 3:
        return _protocol(c, argv[2])
    if sub == b"sleep" and n == 3:
        secs = strtod(argv[2])
        usec = int(secs * 1000000)
        if usec > 0:
            time.sleep(usec / 1000000)
        return OK
    if sub == b"set-active-expire" and n == 3:
        server.active_expire_enabled = bool(atoi(argv[2]))
        return OK
    if sub == b"quicklist-packed-threshold" and n == 3:
        sz = memtoull(argv[2].decode("utf-8", "surrogateescape"))
        if sz is None or sz > (1 << 32) - (1 << 20):
            raise CommandError(
                "ERR argument must be a memory value bigger than 1 and smaller than 4gb"
            )
        server.quicklist_packed_threshold = sz or (1 << 30)
        return OK
    if sub == b"set-skip-checksum-validation" and n == 3:
        server.skip_checksum_validation = bool(atoi(argv[2]))
        return OK
    if sub == b"aof-flush-sleep" and n == 3:
        server.aof_flush_sleep = atoi(argv[2])
        return OK
    if sub == b"replicate" and n >= 3:
        # replicationFeedSlaves: the command goes to the replicas (and the backlog)
        # as is, in the stream's current db; a replica passes on only its master's
        repl = server.repl
        if repl is not None and repl.backlog is not None and not server.is_replica:
            repl.feed_raw(list(argv[2:]))
        return OK
    if sub == b"error" and n == 3:
        msg = argv[2].replace(b"\r", b" ").replace(b"\n", b" ")
        return Raw(b"-" + msg + b"\r\n")  # a raw error: not counted in errorstats
    if sub == b"structsize" and n == 2:
        return (
            b"bits:64 robj:16 dictentry:24 sdshdr5:1 sdshdr8:3 sdshdr16:5 sdshdr32:9 sdshdr64:17 "
        )
    if sub == b"htstats" and n == 3:
        dbid = parse_int(argv[2])
        if dbid < 0 or dbid >= len(server.dbs):
            raise CommandError("ERR Out of range database")
        db = server.dbs[dbid]
        text = (
            "[Dictionary HT]\n"
            + _dict_stats(len(db.data))
            + "[Expires HT]\n"
            + _dict_stats(len(db.expires))
        )
        return Verbatim(text.encode())
    if sub == b"htstats-key" and n == 3:
        v = _lookup_or_nokey(c, argv[2])
        enc = encoding_of(v)
        if enc not in (b"hashtable", b"skiplist"):
            raise CommandError(
                "ERR The value stored at the specified key is not represented using an hash table"
            )
        return Verbatim(_dict_stats(len(v)).encode())
    if sub == b"change-repl-id" and n == 2:
        server.log_warning("Changing replication IDs after receiving DEBUG change-repl-id")
        server.replid = "%040x" % random.getrandbits(160)
        server.replid2 = "0" * 40
        return OK
    if sub in (b"stringmatch-test", b"stringmatch-len") and n == 2:
        _stringmatch_fuzz()
        return Status("Apparently Redis did not crash: test passed")
    if sub == b"set-disable-deny-scripts" and n == 3:
        server.script_disable_deny_script = bool(atoi(argv[2]))
        return OK
    if sub == b"config-rewrite-force-all" and n == 2:
        cfg = server.config
        try:
            if not cfg.config_file:
                raise OSError(2, "No such file or directory")
            cfg.rewrite(force_all=True)
        except OSError as e:
            raise CommandError("ERR CONFIG-REWRITE-FORCE-ALL failed: %s" % e.strerror)
        return OK
    if sub == b"client-eviction" and n == 2:
        if server.config.get_number("maxmemory-clients") == 0:
            raise CommandError("ERR maxmemory-clients is disabled.")
        return Verbatim(b"bucket          0 - 32767: tot-mem: 0, clients: 0\n")
    if sub == b"pause-cron" and n == 3:
        server.cron_paused = bool(atoi(argv[2]))
        return OK
    if sub == b"replybuffer" and n == 4:
        what = argv[2].lower()
        if what == b"peak-reset-time":
            v = argv[3].lower()
            if v == b"never":
                server.reply_peak_reset = None
            elif v == b"reset":
                server.reply_peak_reset = PEAK_RESET_DEFAULT
            else:  # (a negative time is "never" too: the cron tests >= 0)
                ms = parse_int(argv[3])
                server.reply_peak_reset = ms / 1000.0 if ms >= 0 else None
        elif what == b"resizing":
            server.reply_buffer_resizing = bool(atoi(argv[3]))  # CLIENT LIST's rbs
        else:
            raise subcommand_syntax_error(argv)
        return OK
    if sub == b"clusterlink" and n == 5 and argv[2].lower() == b"kill":
        return _clusterlink_kill(c, argv)
    raise subcommand_syntax_error(argv)


def _populate(c, argv):
    n = len(argv)
    msg = "ERR value is out of range, must be positive"
    count = parse_int(argv[2], msg)
    if count < 0:
        raise CommandError(msg)
    size = 0
    if n == 5:
        size = parse_int(argv[4], msg)
        if size < 0:
            raise CommandError(msg)
    prefix = argv[3] if n >= 4 else b"key"
    db = c.db
    data = db.data
    for j in range(count):
        key = (b"%s:%d" % (prefix, j))[:127]  # Redis formats into a 128-byte buffer
        if key in data and db.lookup(key) is not None:
            continue
        val = b"value:%d" % j
        if size:
            val = (val + bytes(max(0, size - len(val))))[:size]
        db.add(key, val)
    return OK


def _protocol(c, name):
    name = name.lower()
    resp = c.resp
    if name == b"string":
        return b"Hello World"
    if name == b"integer":
        return 12345
    if name == b"double":
        return Raw(b",3.141\r\n" if resp == 3 else b"$5\r\n3.141\r\n")
    if name == b"bignum":
        return BigNumber(1234567999999999999999999999999999999)
    if name == b"null":
        return None
    if name == b"array":
        return [0, 1, 2]
    if name == b"set":
        return Set([0, 1, 2])
    if name == b"map":
        return Map([0, Bool(False), 1, Bool(True), 2, Bool(False)])
    if name == b"attrib":
        tail = encode(b"Some real reply following the attribute", resp)
        if resp >= 3:
            return Raw(b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n" + tail)
        return Raw(tail)
    if name == b"push":
        if resp < 3:
            raise CommandError("ERR RESP2 is not supported by this command")
        return Raw(
            encode(Push([b"server-cpu-usage", 42]), 3)
            + encode(b"Some real reply following the push reply", 3)
        )
    if name == b"true":
        return Bool(True)
    if name == b"false":
        return Bool(False)
    if name == b"verbatim":
        return Verbatim(b"This is a verbatim\nstring")
    raise CommandError(
        "ERR Wrong protocol type name. Please use one of the following: "
        "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|"
        "true|false"
    )


def _stringmatch_fuzz():
    """Random patterns against random strings: the matcher must never raise or hang."""
    rnd = random.Random()
    alphabet = b"*?[]^-\\ab"
    for _ in range(1000):
        pat = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 32)))
        s = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 32)))
        match(pat, s, rnd.random() < 0.5)


__all__ = ["debug", "dataset_digest", "value_digest"]


# ------------------------------------------------------------- RELOAD, LOADAOF
def debug_reload(c, argv):
    """DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, empty, load back. Returns the reply."""
    server = c.server
    if server.loading:
        raise CommandError(LOADING_ERROR)  # not in the middle of another load
    snap = server.snapshot
    flush = save = True
    merge = False
    for opt in argv[2:]:
        o = opt.lower()
        if o == b"merge":
            merge = True
        elif o == b"noflush":
            flush = False
        elif o == b"nosave":
            save = False
        else:
            raise CommandError(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options."
            )
    if save and not snap.save():
        raise CommandError("ERR")
    try:
        snap.reload(flush, merge)
    except (RdbError, OSError) as e:
        server.log_warning("Error trying to load the RDB dump: %s" % e)
        raise CommandError("ERR Error trying to load the RDB dump")
    server.log_warning("DB reloaded by DEBUG RELOAD")
    return OK


def debug_loadaof(c, argv):
    """DEBUG LOADAOF: flush the AOF, empty the dataset, load the AOF files back."""
    server = c.server
    if server.loading:
        raise CommandError(LOADING_ERROR)  # not in the middle of another load
    aof = server.aof
    if aof.state != 0:
        aof.flush(force=True)
    empty_data(server)
    try:
        aof.load_at_startup()
    except LoadFailed as e:
        raise CommandError("ERR Error loading the AOF: %s" % e.msg)
    server.dirty_at_last_save = server.dirty
    server.log_warning("Append Only File loaded by DEBUG LOADAOF")
    return OK
