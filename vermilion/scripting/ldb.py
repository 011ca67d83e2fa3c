"""The Lua debugger (LDB) in synchronous mode: ``SCRIPT DEBUG SYNC``, then EVAL.

As in Redis's eval.c, the session runs inside the EVAL: the server serves no one
else while it lasts. A line hook on the script (prelude.lua's ``ldb_hook``) asks
:meth:`Ldb.line` at every line of user code whether to stop; a stop sends the
log lines gathered so far to the client (one array of status strings, written
straight to its socket) and reads the debugger's commands from that socket,
blocking, until one of them (step, continue) lets the script go on. The commands
that need the Lua state (print, eval, redis, trace) are run by prelude.lua's
ldb_* functions. When the client goes away the script runs on without stops.
When the script ends, ``<endsession>`` is sent, then the EVAL's reply, and the
connection is closed (the end of a session, for the client).

``SCRIPT DEBUG YES`` runs the same session in a forked child (:func:`fork_session`),
as Redis does: the server goes on serving the others, the child's writes die with
it (nothing it does reaches the AOF, the replicas or another client: it closes
their sockets and the feeds first), and the parent closes its side of the
connection at once.
"""

import errno
import os
import select
import signal
import threading
import time

from ..errors import CommandError
from ..protocol.encoder import NO_REPLY, encode, error_bytes
from ..util import atoi, repr_bytes

MAX_LEN_DEFAULT = 256  # LDB_MAX_LEN_DEFAULT: replies and values shown, trimmed
BREAKPOINTS_MAX = 64
CLIENT_GONE = True  # Ldb.repl: the client closed the connection

HELP = [
    b"Redis Lua debugger help:",
    b"[h]elp               Show this help.",
    b"[s]tep               Run current line and stop again.",
    b"[n]ext               Alias for step.",
    b"[c]ontinue           Run till next breakpoint.",
    b"[l]ist               List source code around current line.",
    b"[l]ist [line]        List source code around [line].",
    b"                     line = 0 means: current position.",
    b"[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    b"                     to show before/after [line].",
    b"[w]hole              List all source code. Alias for 'list 1 1000000'.",
    b"[p]rint              Show all the local variables.",
    b"[p]rint <var>        Show the value of the specified variable.",
    b"                     Can also show global vars KEYS and ARGV.",
    b"[b]reak              Show all breakpoints.",
    b"[b]reak <line>       Add a breakpoint to the specified line.",
    b"[b]reak -<line>      Remove breakpoint from the specified line.",
    b"[b]reak 0            Remove all breakpoints.",
    b"[t]race              Show a backtrace.",
    b"[e]val <code>        Execute some Lua code (in a different callframe).",
    b"[r]edis <cmd>        Execute a Redis command.",
    b"[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
    b"                     Specifying zero as <len> means unlimited.",
    b"[a]bort              Stop the execution of the script. In sync",
    b"                     mode dataset changes will be retained.",
    b"",
    b"Debugger functions you can call from Lua scripts:",
    b"redis.debug()        Produce logs in the debugger console.",
    b"redis.breakpoint()   Stop execution like if there was a breakpoint in the",
    b"                     next line of code.",
]


def _string2l(b):
    """string2l: a strict decimal long, or None."""
    if not b or len(b) > 20 or b != b.strip() or b.startswith(b"+"):
        return None
    if b == b"0":
        return 0
    s = b[1:] if b[:1] == b"-" else b
    if not s.isdigit() or s[:1] == b"0":
        return None
    return int(b)


class Ldb:
    """One client's debugger state, from SCRIPT DEBUG YES/SYNC (ldbEnable) to the
    end of its session."""

    def __init__(self, forked=False):
        self.forked = forked
        self.step = True
        self.bp = []
        self.luabp = False
        self.cbuf = b""
        self.maxlen = MAX_LEN_DEFAULT
        self.maxlen_hint_sent = False
        self.logs = []
        self.src = []
        self.currentline = -1
        self.fd = -1
        self.start = 0.0
        self.engine = None
        self.threshold_ms = 5000

    # ------------------------------------------------------------ session
    def begin(self, c, source, engine, threshold_ms):
        """ldbStartSession (sync): the script's lines, the client's socket."""
        c.flush()  # (what was answered before goes first)
        sock = c.transport.get_extra_info("socket") if c.transport is not None else None
        self.fd = sock.fileno() if sock is not None else -1
        src = source.rstrip(b"\r\n")
        self.src = src.split(b"\n") if src else []
        self.engine = engine
        self.threshold_ms = threshold_ms or 5000
        self.start = time.monotonic()
        if not self.forked:
            c.server.log_warning("Redis synchronous debugging eval session started")

    def end(self, c):
        """ldbEndSession: <endsession>; the client is closed after the reply."""
        self.log(b"<endsession>")
        self.send()
        if not self.forked:
            c.server.log_warning("Redis synchronous debugging eval session ended")
        c.close_after_reply = True
        self.engine = None

    # ---------------------------------------------------------------- logs
    def log(self, entry):
        self.logs.append(entry)

    def log_maxlen(self, entry):
        if self.maxlen and len(entry) > self.maxlen:
            self.logs.append(entry[: self.maxlen] + b" ...")
            if not self.maxlen_hint_sent:
                self.maxlen_hint_sent = True
                self.logs.append(
                    b"<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming."
                )
        else:
            self.logs.append(entry)

    def send(self):
        """ldbSendLogs: the logs as an array of status strings, consumed."""
        out = [b"*%d\r\n" % len(self.logs)]
        for entry in self.logs:
            out.append(b"+" + entry.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n")
        self.logs = []
        self._write(b"".join(out))

    def _write(self, data):
        # (errors are not checked: the next read finds the connection gone)
        fd = self.fd
        deadline = time.monotonic() + 5  # connSendTimeout(ldb.conn, 5000)
        while data and fd >= 0:
            try:
                n = os.write(fd, data)
                data = data[n:]
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                select.select([], [fd], [], left)
            except OSError:
                return

    def source_line(self, lnum):
        """ldbLogSourceLine."""
        idx = lnum - 1
        line = self.src[idx] if 0 <= idx < len(self.src) else b"<out of range source code line>"
        bp = lnum in self.bp
        current = self.currentline == lnum
        prefix = b"->#" if current and bp else b"-> " if current else b"  #" if bp else b"   "
        self.log(b"%s%-3d %s" % (prefix, lnum, line))

    def list(self, around, context):
        for j in range(1, len(self.src) + 1):
            if around != 0 and abs(around - j) > context:
                continue
            self.source_line(j)

    # ------------------------------------------------------------ the hook
    def line(self, is_count, line, user):
        """luaLdbLineHook: None to go on, or an error for the script."""
        if not user:  # (our own Lua code: redis.debug, the sandbox's builtins, ...)
            return None
        self.currentline = line
        bp = line in self.bp or self.luabp
        timeout = False
        if is_count and not self.step and not bp:
            if (time.monotonic() - self.start) * 1000 < self.threshold_ms:
                return None
            timeout = True
            self.step = True
        if self.step or bp:
            if bp:
                reason = b"redis.breakpoint() called" if self.luabp else b"break point"
            elif timeout:
                reason = b"timeout reached, infinite loop?"
            else:
                reason = b"step over"
            self.step = self.luabp = False
            self.log(b"* Stopped at %d, stop reason = %s" % (line, reason))
            self.source_line(line)
            self.send()
            r = self.repl()
            if r is CLIENT_GONE:
                if timeout:
                    return b"timeout during Lua debugging with client closing connection"
            elif r is not None:
                return r
            self.start = time.monotonic()
        return None

    # ------------------------------------------------------------ the REPL
    def _parse(self):
        """ldbReplParseCommand: (argv, None), (None, None) for more, (None, err)."""
        buf = self.cbuf
        if not buf:
            return None, None
        p = buf.find(b"*")
        if p < 0:
            return None, b"protocol error"
        e = buf.find(b"\r\n", p)
        if e < 0:
            return None, None
        argc = atoi(buf[p + 1 : e])
        if argc <= 0 or argc > 1024:
            return None, b"protocol error"
        p = e + 2
        argv = []
        while len(argv) < argc:
            if p >= len(buf):
                return None, None
            if buf[p : p + 1] != b"$":
                return None, b"protocol error"
            e = buf.find(b"\r\n", p)
            if e < 0:
                return None, None
            n = atoi(buf[p + 1 : e])
            if n <= 0 or n > 1024:
                return None, b"protocol error"
            p = e + 2
            if p + n + 2 > len(buf):
                return None, None
            argv.append(buf[p : p + n])
            p += n
            if buf[p : p + 2] != b"\r\n":
                return None, b"protocol error"
            p += 2
        return argv, None

    def _read(self):
        fd = self.fd
        if fd < 0:
            return b""
        while True:
            try:
                select.select([fd], [], [])
                return os.read(fd, 1024)
            except BlockingIOError:
                continue
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                return b""

    def repl(self):
        """ldbRepl: None (go on), CLIENT_GONE, or an error for the script."""
        engine = self.engine
        while True:
            while True:
                argv, err = self._parse()
                if argv is not None:
                    break
                if err is not None:
                    return err
                data = self._read()
                if not data:
                    # the client is gone: the script runs on without stops
                    self.step = False
                    self.bp = []
                    return CLIENT_GONE
                self.cbuf += data
                if len(self.cbuf) > 1 << 20:
                    self.cbuf = b""
                    return b"max client buffer reached"
            self.cbuf = b""
            argc = len(argv)
            name = argv[0].lower()
            if name in (b"h", b"help"):
                self.logs.extend(HELP)
                self.send()
            elif name in (b"s", b"step", b"n", b"next"):
                self.step = True
                return None
            elif name in (b"c", b"continue"):
                return None
            elif name in (b"t", b"trace"):
                engine.ldb_trace()
                self.send()
            elif name in (b"m", b"maxlen"):
                self._maxlen(argv)
                self.send()
            elif name in (b"b", b"break"):
                self._break(argv)
                self.send()
            elif name in (b"e", b"eval"):
                engine.ldb_eval(b" ".join(argv[1:]))
                self.send()
            elif name in (b"a", b"abort"):
                return b"script aborted for user request"
            elif argc > 1 and name in (b"r", b"redis"):
                self.step = True  # (redis.call logs the command and its reply)
                try:
                    engine.ldb_redis(engine.runtime.table_from(argv[1:]))
                finally:
                    self.step = False
                self.send()
            elif name in (b"p", b"print"):
                engine.ldb_print(argv[1] if argc == 2 else None)
                self.send()
            elif name in (b"l", b"list"):
                around, ctx = self.currentline, 5
                if argc > 1:
                    num = atoi(argv[1])
                    if num > 0:
                        around = num
                if argc > 2:
                    ctx = atoi(argv[2])
                self.list(around, ctx)
                self.send()
            elif name in (b"w", b"whole"):
                self.list(1, 1000000)
                self.send()
            else:
                self.log(
                    b"<error> Unknown Redis Lua debugger command or wrong number of arguments."
                )
                self.send()

    def _maxlen(self, argv):
        if len(argv) == 2:
            n = atoi(argv[1])
            self.maxlen_hint_sent = True
            if n != 0 and n <= 60:
                n = 60
            self.maxlen = n
        if self.maxlen:
            self.log(b"<value> replies are truncated at %d bytes." % self.maxlen)
        else:
            self.log(b"<value> replies are unlimited.")

    def _break(self, argv):
        if len(argv) == 1:
            if not self.bp:
                self.log(b"No breakpoints set. Use 'b <line>' to add one.")
                return
            self.log(b"%d breakpoints set:" % len(self.bp))
            for line in self.bp:
                self.source_line(line)
            return
        for arg in argv[1:]:
            line = _string2l(arg)
            if line is None:
                self.log(b"Invalid argument:'%s'" % arg)
            elif line == 0:
                self.bp = []
                self.log(b"All breakpoints removed.")
            elif line > 0:
                if len(self.bp) == BREAKPOINTS_MAX:
                    self.log(b"Too many breakpoints set.")
                elif 0 < line <= len(self.src):
                    if line not in self.bp:
                        self.bp.append(line)
                    self.list(line, 1)
                else:
                    self.log(b"Wrong line number.")
            elif -line in self.bp:
                self.bp.remove(-line)
                self.log(b"Breakpoint removed.")
            else:
                self.log(b"No breakpoint in the specified line.")

    # ------------------------------------------------ redis.call, logged
    def log_call(self, argv):
        parts = [b"<redis>"]
        for j, a in enumerate(argv):
            if j == 10:
                parts.append(b" ... (%d more)" % (len(argv) - j - 1))
                break
            parts.append(b" " + a)
        self.log(b"".join(parts))

    def log_reply(self, value):
        self.log_maxlen(b"<reply> " + human(value))


def fork_session(c, run):
    """ldbStartSession's fork (SCRIPT DEBUG YES): the child runs ``run()`` (the
    debugging EVAL), writes its reply and exits; the parent closes its side of
    the connection (freeClientAsync) and answers nothing."""
    server = c.server
    try:
        pid = os.fork()
    except OSError as e:
        raise CommandError(
            "ERR Fork() failed: can't run EVAL in debugging mode: %s" % e.strerror
        ) from None
    if pid:
        threading.Thread(target=_reap, args=(pid,), daemon=True).start()
        tr = c.transport
        if tr is not None:
            tr.close()  # (a close, no shutdown: the child's copy stays connected)
        return NO_REPLY
    code = 1
    try:
        _child_setup(server, c)
        server.log_warning("Redis forked for debugging eval")
        try:
            data = encode(run(), c.resp)
        except CommandError as e:
            data = error_bytes(e.msg)
        fd = _client_fd(c)
        if fd >= 0:
            os.set_blocking(fd, True)
            try:
                os.write(fd, data)
            except OSError:
                pass
        server.log_warning("Lua debugging session child exiting")
        code = 0
    finally:
        os._exit(code)


def _client_fd(c):
    sock = c.transport.get_extra_info("socket") if c.transport is not None else None
    return sock.fileno() if sock is not None else -1


def _child_setup(server, c):
    """In the child: SIGTERM/SIGINT ignored (the parent's), no signal wakeups into
    the parent's loop, and nothing that could reach anyone but the debugging
    client: every other connection and listening socket closed, the AOF and
    replication feeds cut."""
    server.pid = os.getpid()  # its log lines: "<child pid>:C ..."
    server.log_role = "C"
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):
            pass
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    keep = _client_fd(c)
    for other in list(server.clients.values()):
        fd = getattr(other, "fd", -1)
        if other is not c and fd is not None and fd >= 0 and fd != keep:
            try:
                os.close(fd)
            except OSError:
                pass
    for srv in list(getattr(server, "listeners", ()) or ()):
        for ls in getattr(srv, "sockets", None) or ():
            try:
                os.close(ls.fileno())
            except (OSError, ValueError):
                pass
    sd = server.__dict__
    sd["_extra_sinks"] = {}
    server.persistence = None  # (the AOF's sink; the replicas' went above)
    sd["persistence"] = None


def _reap(pid):
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass


def human(v):
    """ldbRedisProtocolToHuman, from the value redis.call gave the script."""
    t = v.__class__
    if t is bytes:
        return repr_bytes(v)
    if t is int:
        return b"%d" % v
    if t is float:
        return b"%d" % v if v == int(v) else repr(v).encode()
    if v is None or v is False:
        return b"NULL"
    if v is True:
        return b"#true"
    if t is dict:  # (an error reply, from Scripting._ldb_log_error)
        return repr_bytes(b"-" + v[b"err"])
    try:  # a Lua table: a status, an error, a double or an array
        ok = v[b"ok"]
        if ok is not None:
            return repr_bytes(b"+" + ok)
        err = v[b"err"]
        if err is not None:
            return repr_bytes(b"-" + err)
        d = v[b"double"]
        if d is not None:
            return b"(double) " + (b"%.17g" % d)
        return b"[" + b",".join(human(x) for x in v.values()) + b"]"
    except Exception:
        return b"?"
