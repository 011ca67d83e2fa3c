"""Functions (functions.c): FUNCTION LOAD|DELETE|FLUSH|LIST|DUMP|RESTORE|STATS|KILL|HELP,
FCALL and FCALL_RO.

A library is Lua code whose first line names it (``#!lua name=mylib``) and
which registers functions with ``redis.register_function``; FCALL runs one of
them with its KEYS and ARGV as arguments. The registry is
:class:`vermilion.scripting.library.Libraries`; the run is shared with EVAL
(:meth:`vermilion.scripting.engine.Scripting.execute`).

FUNCTION DUMP is Redis's payload: one ``FUNCTION2`` RDB record (opcode 245 and
the library code as an RDB string) per library, the RDB version (2 bytes) and a
CRC-64 (8 bytes), so dumps move between Vermilion and Redis both ways.
"""

from ..errors import CommandError, subcommand_syntax_error
from ..protocol.encoder import OK, Map, Set, Status
from ..core.bootstrap import on_server_init
from .. import scripting as _scripting
from ..scripting.engine import FLAG_NAMES, AVAILABLE, NOT_AVAILABLE, BUSY_EVAL
from ..scripting.library import Libraries, LibraryError
from ..core.table import command
from .server_cmds import help_reply
from ..persistence.rdb import enc_string, RDB_VERSION, OP_FUNCTION2, Limits
from ..persistence.crc64 import crc64
from ..persistence.rdb import verify_dump_payload, Reader, OP_FUNCTION, RdbError
from ..util import parse_int
from ..globmatch import match
import time

_FUNCTION_HELP = (
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored "
    "using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a "
    "restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a "
    "chance of failure",
    "      in case of functions name collision with another library).",
)


def _libs(c):
    return _scripting.state(c.server).libraries


def _load_timeout(c):
    """FUNCTION LOAD's 500 ms budget; none for our master or the AOF (mustObeyClient)."""
    server = c.server
    if "M" in (c.flags_extra or "") or server.loading:
        return None
    return 0.5


# ------------------------------------------------------------------ FUNCTION
@command("function|load")
def function_load(c, argv):
    replace = False
    i = 2
    n = len(argv)
    while i < n - 1:
        a = argv[i]
        i += 1
        if a.lower() == b"replace":
            replace = True
            continue
        raise CommandError("ERR Unknown option given: %s" % a.decode("utf-8", "surrogateescape"))
    if not AVAILABLE:
        raise CommandError(NOT_AVAILABLE)
    try:
        name = _libs(c).create(argv[i], replace, _load_timeout(c))
    except LibraryError as e:
        raise CommandError("ERR %s" % e)
    c.server.dirty += 1
    return name


@command("function|delete")
def function_delete(c, argv):
    if not _libs(c).delete(argv[2]):
        raise CommandError("ERR Library not found")
    c.server.dirty += 1
    return OK


@command("function|flush")
def function_flush(c, argv):
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    if not (len(argv) == 2 or argv[2].lower() in (b"sync", b"async")):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    _libs(c).flush()
    c.server.dirty += 1
    return OK


def _flags_reply(flags):
    return Set(Status(name) for f, name in FLAG_NAMES if flags & f)


@command("function|list")
def function_list(c, argv):
    with_code = False
    pattern = None
    i = 2
    n = len(argv)
    while i < n:
        a = argv[i]
        if not with_code and a.lower() == b"withcode":
            with_code = True
            i += 1
            continue
        if pattern is None and a.lower() == b"libraryname":
            if i >= n - 1:
                raise CommandError("ERR library name argument was not given")
            pattern = argv[i + 1]
            i += 2
            continue
        raise CommandError("ERR Unknown argument %s" % a.decode("utf-8", "surrogateescape"))
    out = []
    for lib in _libs(c).values():
        if pattern is not None and not match(pattern, lib.name, True):
            continue
        funcs = [
            Map([b"name", f.name, b"description", f.desc, b"flags", _flags_reply(f.flags)])
            for f in lib.functions.values()
        ]
        entry = [b"library_name", lib.name, b"engine", lib.engine, b"functions", funcs]
        if with_code:
            entry += [b"library_code", lib.code]
        out.append(Map(entry))
    return out


@command("function|stats")
def function_stats(c, argv):
    st = _scripting.state(c.server)
    run = st.run
    if run is not None and run.eval_mode:
        raise CommandError(BUSY_EVAL)
    if run is None:
        running = None
    else:
        running = Map(
            [
                b"name",
                run.funcname.encode() if isinstance(run.funcname, str) else run.funcname,
                b"command",
                list(run.caller_argv or ()),
                b"duration_ms",
                int((time.monotonic() - run.start) * 1000),
            ]
        )
    libs = st.libraries
    return Map(
        [
            b"running_script",
            running,
            b"engines",
            Map(
                [
                    b"LUA",
                    Map([b"libraries_count", len(libs), b"functions_count", libs.function_count()]),
                ]
            ),
        ]
    )


@command("function|kill")
def function_kill(c, argv):
    return _scripting.state(c.server).kill(c, False)


@command("function|help")
def function_help(c, argv):
    return help_reply(argv[0], _FUNCTION_HELP)


# -------------------------------------------------------------- DUMP/RESTORE
@command("function|dump")
def function_dump(c, argv):
    compress = Limits(c.server.config).compress
    parts = []
    for lib in _libs(c).values():
        parts.append(bytes((OP_FUNCTION2,)))
        parts.append(enc_string(lib.code, compress))
    parts.append(RDB_VERSION.to_bytes(2, "little"))
    body = b"".join(parts)
    return body + crc64(0, body).to_bytes(8, "little")


@command("function|restore")
def function_restore(c, argv):
    if len(argv) > 4:
        raise subcommand_syntax_error(argv)
    policy = b"append"
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in (b"append", b"replace", b"flush"):
            raise CommandError(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
            )
    data = argv[2]
    ok, _ver = verify_dump_payload(data, getattr(c.server, "skip_checksum_validation", False))
    if not ok:
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    if not AVAILABLE:
        raise CommandError(NOT_AVAILABLE)
    st = _scripting.state(c.server)
    tmp = Libraries(st)
    r = Reader(data)  # like Redis's rio: a record may read into the 10-byte footer
    try:
        while len(data) - r.pos > 10:
            try:
                t = r.byte()
            except RdbError:
                raise LibraryError("can not read data type")
            if t != OP_FUNCTION2 and t != OP_FUNCTION:
                raise LibraryError("given type is not a function")
            if t == OP_FUNCTION:
                try:
                    name = r.string()
                    engine = r.string()
                    if r.len():
                        r.string()
                    blob = r.string()
                except RdbError:
                    raise LibraryError("failed loading the given functions payload")
                code = b"#!%s name=%s\n%s" % (engine, name, blob)
            else:
                try:
                    code = r.string()
                except RdbError:
                    raise LibraryError("Failed loading library payload")
            tmp.create(code, replace=False, timeout=None)
        libs = st.libraries
        if policy == b"flush":
            libs.libraries = tmp.libraries
            libs.functions = tmp.functions
        else:
            libs.join(tmp, policy == b"replace")
    except LibraryError as e:
        raise CommandError("ERR %s" % e)
    c.server.dirty += 1
    return OK


# --------------------------------------------------------------------- FCALL
def _fcall(c, argv, ro):
    server = c.server
    if server.monitors:
        server.feed_monitors(c, argv)
    if not AVAILABLE:
        raise CommandError(NOT_AVAILABLE)
    st = _scripting.state(server)
    fn = st.libraries.find_function(argv[1])
    if fn is None:
        raise CommandError("ERR Function not found")
    try:
        numkeys = parse_int(argv[2])
    except CommandError:
        raise CommandError("ERR Bad number of keys provided")
    if numkeys > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return st.execute(
        c,
        argv,
        st.function_engine,
        fn.callback,
        fn.name.decode("utf-8", "replace"),
        numkeys,
        fn.flags,
        ro,
        False,
        fn.name,
    )


@command("fcall")
def fcall(c, argv):
    return _fcall(c, argv, False)


@command("fcall_ro")
def fcall_ro(c, argv):
    return _fcall(c, argv, True)


@on_server_init
def _init(server):
    st = _scripting.ensure(server)
    st.libraries = Libraries(st)
    # persistence (snapshot.py): the library codes to save, libraries found loading;
    # INFO memory counts function_libraries (len() and .values()[i].functions)
    server.function_codes = st.libraries
    server.function_restore = st.libraries.restore
    server.function_libraries = st.libraries
