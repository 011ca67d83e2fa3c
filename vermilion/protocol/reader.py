"""Turning a byte stream into commands: the request half of RESP.

A Redis client speaks in *requests*. Almost always a request is a RESP array of
bulk strings (``*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n``); a human at a telnet
prompt may also type an *inline* request, a line split like a shell command line
(``SET k "a b"``).  The first byte of each request decides which it is.

This module knows nothing of sockets. A reader is fed bytes, however they were
split by the network, and hands back complete commands (``list[bytes]``). When
the stream breaks the protocol, the reader hands back the commands before the
bad one and records the error text Redis would send (``reader.error``); the
connection then replies with it and closes, exactly like Redis.

Two readers behave identically:

* :class:`PyReader`, pure Python, modelled on Redis's own ``processMultibulkBuffer``
  and ``processInlineBuffer``: it keeps its place inside a half-received request, so a
  value arriving in thousands of pieces is never re-scanned.
* :class:`HiredisReader`, which lets the C parser of the ``hiredis`` package frame
  the stream (several times faster) and falls back to :class:`PyReader` whenever
  the stream does something hiredis would accept but Redis would not, or that
  hiredis cannot parse (an inline command). On such a fallback the Python reader
  re-reads the bytes since the last request boundary, so its answer is the exact one.

Both take a shortcut where the optional compiled module ``_resp_c`` was built
(``setup.py``, Cython): at a request boundary, one C call (``parse_batch``) returns
every complete plain multibulk request of the read, and stops at the first request
it is not sure about; the rest of the read goes down the usual path, exactly as if
it had arrived alone. Where it is built, :func:`make_reader` hands out the Python
reader with it: hiredis then has nothing left to speed up. Without the module (or
with ``VERMILION_NO_RESP_C=1`` in the environment, or ``use_c=False``) the readers
are what they were; the tests run every reader with and without it and compare.
"""

PROTO_INLINE_MAX_SIZE = 64 * 1024
DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024
_INT_MAX = 2**31 - 1

try:  # pragma: no cover - depends on the environment
    import hiredis as _hiredis
except ImportError:  # pragma: no cover
    _hiredis = None  # type: ignore[assignment]  # the optional accelerator is absent

HAVE_HIREDIS = _hiredis is not None

import importlib as _importlib  # noqa: E402
import os as _os  # noqa: E402

try:  # pragma: no cover - depends on the build (setup.py)
    # (by name: "from ._resp_c import parse_batch" would read, to the import-cycle
    # check, which sees only .py modules, as this module importing its own package)
    parse_batch = _importlib.import_module("._resp_c", __package__).parse_batch
except ImportError:  # pragma: no cover
    parse_batch = None
if _os.environ.get("VERMILION_NO_RESP_C"):  # pragma: no cover - forces the fallback
    parse_batch = None

HAVE_C = parse_batch is not None

import itertools as _itertools  # noqa: E402
import re as _re  # noqa: E402

from ..util import parse_ll  # noqa: E402  (Redis's string2ll, re-exported)

from .bulk import BulkBuilder, BIG_ARG  # noqa: E402

# What the hiredis-backed reader must not let hiredis decide (see HiredisReader.feed):
# a multibulk header of a million arguments or more, and a line starting with a
# RESP3 type that hiredis turns into ``bytes`` (``+`` simple, ``=`` verbatim, ``(``
# big number), which would pass for a bulk argument where Redis refuses the request,
# or into a container that is not a list (``%`` map, ``~`` set, ``>`` push, ``|``
# attribute). A bulk payload may contain these bytes too: such a chunk merely goes
# to the Python reader, which is slower but gives the exact answer. (Big bulks are
# caught where a half-received request is vetted: see HiredisReader.feed.) The other
# types hiredis knows (``:`` integers, ``-`` errors, ``*`` nested arrays, ...) come
# back as objects that are not ``bytes``, which the batch check after parsing
# refuses. The scans run on every
# read, so each is a fast scan: a literal-prefix regex, and the RESP3 one only when
# the chunk holds one of those type bytes at all (``translate`` deleting every other
# byte is the quickest test for that: one C pass, no Python per byte; one regex
# with both alternatives would be several times slower than the two).
_big_array = _re.compile(rb"\*\d{7}").search
_typed_element = _re.compile(rb"\n[+=(%~>|]").search
_NOT_TYPE_BYTES = bytes(b for b in range(256) if b not in b"+=(%~>|")


def _suspect(data):
    """Does this chunk hold what hiredis must not parse? (None when not)"""
    if _big_array(data) is not None:
        return True
    if data.translate(None, _NOT_TYPE_BYTES) and _typed_element(data) is not None:
        return True
    return None


# Every argument hiredis returned is exactly ``bytes`` (not an int, a nested array,
# None or an error object): one pass in C over the batch's arguments, their types
# checked against a set (cheaper than calling bytes.__len__ on each).
_only_bytes = frozenset((bytes,)).issuperset
_map = map
_chain = _itertools.chain.from_iterable


def _valid_prefix(cmds):
    """How many of ``cmds`` are well-formed requests (non-empty lists of bytes)."""
    for i, cmd in enumerate(cmds):
        if cmd.__class__ is not list or not cmd:
            return i
        for a in cmd:
            if a.__class__ is not bytes:
                return i
    return len(cmds)


_ESCAPES = {110: 10, 114: 13, 116: 9, 98: 8, 97: 7}  # \n \r \t \b \a
_HEX = b"0123456789abcdefABCDEF"
_TOKEN_END = (32, 10, 13, 9)
_BLANK = (32, 9, 10, 11, 12, 13)


def split_args(line):
    """Split an inline request like Redis's ``sdssplitargs``; None if quotes are unbalanced."""
    if _long_way(line) is None:
        # no quote, no C string end, no \v or \f (blanks between arguments but not
        # ends of one, to sdssplitargs): the arguments are what bytes.split() gives
        return line.split()
    return split_quoted(line)


_long_way = _re.compile(b"[\"'\0\x0b\x0c]").search


def split_quoted(line):
    """:func:`split_args` the long way, byte by byte: quotes, escapes, a NUL."""
    nul = line.find(b"\0")
    if nul >= 0:  # Redis works on a C string here
        line = line[:nul]
    out = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _BLANK:
            i += 1
        if i >= n:
            return out
        cur = bytearray()
        inq = insq = False
        while True:
            c = line[i] if i < n else 0
            if inq:
                if (
                    c == 92
                    and i + 3 < n + 0
                    and line[i + 1] == 120
                    and line[i + 2] in _HEX
                    and line[i + 3] in _HEX
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    e = line[i]
                    cur.append(_ESCAPES.get(e, e))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in _BLANK:
                        return None
                    i += 1
                    break
                elif i >= n:
                    return None
                else:
                    cur.append(c)
            elif insq:
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _BLANK:
                        return None
                    i += 1
                    break
                elif i >= n:
                    return None
                else:
                    cur.append(c)
            else:
                if i >= n or c in _TOKEN_END:
                    break
                if c == 34:
                    inq = True
                elif c == 39:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        out.append(bytes(cur))


# Debian's CVE fix in 7.0.15 (networking.c): before a client authenticates, a
# request may have at most 10 arguments of at most 16 KB each.
UNAUTH_MULTIBULK = 10
UNAUTH_BULK = 16384
_AUTH_NAMES = (b"auth", b"hello")


class PyReader:
    """Pure-Python request reader (see the module docstring); ``use_c=True`` lets the
    compiled batch parser take the plain requests, where it was built."""

    __slots__ = (
        "_batch",
        "_buf",
        "_pos",
        "_chunks",
        "_chunked",
        "_need",
        "_args",
        "_args_len",
        "_left",
        "_bulk",
        "_builder",
        "error",
        "max_bulk_len",
        "unauth",
        "more",
    )

    def __init__(self, max_bulk_len=DEFAULT_MAX_BULK_LEN, use_c=False):
        self._batch = parse_batch if use_c else None  # the compiled shortcut, or None
        self.unauth = False  # the client has not authenticated (see UNAUTH_* below)
        self.more = False  # stopped after an AUTH/HELLO: feed(b"") parses the rest
        self._buf = b""
        self._pos = 0
        self._chunks = []  # pieces waiting until a known-long bulk is complete
        self._chunked = 0
        self._need = 0  # bytes the buffer must hold before parsing again
        self._args = None  # arguments of a half-read multibulk request
        self._args_len = 0  # their total size (counts toward the query buffer limit)
        self._left = 0  # arguments still to read for it
        self._bulk = -1  # length of the bulk being read, -1 before its header
        self._builder = None  # a big bulk being received in place (protocol/bulk.py)
        self.error = None  # Redis's error text once the stream is broken
        self.max_bulk_len = max_bulk_len

    def pending(self):
        """Bytes received but not yet turned into commands."""
        n = len(self._buf) - self._pos + self._chunked + self._args_len
        return n + self._builder.got if self._builder is not None else n

    def big_bulk(self):
        """The length of the big argument being received (0: none): Redis makes its
        query buffer that big as soon as it reads the argument's header."""
        if self._builder is not None:
            return self._builder.size
        return self._bulk if self._left and self._bulk >= 32768 else 0  # PROTO_MBULK_BIG_ARG

    def feed(self, data):
        if (
            self._batch is not None
            and self._args is None
            and self._pos >= len(self._buf)
            and not self.unauth
            and self.error is None
        ):
            # On a request boundary with nothing kept: the compiled parser takes the
            # plain requests of the read in one call, _parse() what it leaves.
            out, stop = self._batch(data, 0, self.max_bulk_len)
            if stop == len(data):
                return out
            self._buf = data
            self._pos = stop
            return out + self._parse()
        if self.error is not None:
            return []
        if self._builder is not None:
            b = self._builder
            pos = b.feed(data)
            if not b.done:
                return []
            self._builder = None
            out = self._big_bulk_done(b)
            self._buf = data
            self._pos = pos
            return out + self._parse()
        if self._need:
            self._chunks.append(data)
            self._chunked += len(data)
            if len(self._buf) - self._pos + self._chunked < self._need:
                return []
            data = b"".join(self._chunks)
            self._chunks = []
            self._chunked = 0
            self._need = 0
        if self._pos < len(self._buf):
            self._buf = self._buf[self._pos :] + data
        else:
            self._buf = data
        self._pos = 0
        return self._parse()

    def _big_bulk_done(self, b):
        """A big bulk is complete: it is the next argument (and maybe the last)."""
        args = self._args
        args.append(b.value())
        self._args_len += b.size
        self._bulk = -1
        self._left -= 1
        if self._left:
            return []
        self._args = None
        self._args_len = 0
        return [args]

    def _fail(self, msg, out):
        self.error = msg
        self._buf = b""
        self._pos = 0
        return out

    def _parse(self):
        buf = self._buf
        pos = self._pos
        n = len(buf)
        out = []
        batch = self._batch if not self.unauth else None
        while pos < n:
            if self._args is None:
                if batch is not None:
                    # On a request boundary: the compiled parser takes the plain
                    # requests (and plain inline lines) from here; where it stops,
                    # the code below goes on.
                    got, stop = batch(buf, pos, self.max_bulk_len)
                    if stop != pos:
                        out += got
                        pos = stop
                        continue
                if buf[pos] != 42:  # not '*': inline request
                    nl = buf.find(b"\n", pos)
                    if nl < 0:
                        if n - pos > PROTO_INLINE_MAX_SIZE:
                            return self._fail("Protocol error: too big inline request", out)
                        break
                    end = nl - 1 if nl > pos and buf[nl - 1] == 13 else nl
                    args = split_args(buf[pos:end])
                    if args is None:
                        self._pos = pos
                        return self._fail("Protocol error: unbalanced quotes in request", out)
                    pos = nl + 1
                    if args:
                        out.append(args)
                        if self.unauth and args[0].lower() in _AUTH_NAMES:
                            self._pos = pos
                            self.more = True
                            return out
                    continue
                nl = buf.find(b"\r", pos)
                if nl < 0:
                    if n - pos > PROTO_INLINE_MAX_SIZE:
                        return self._fail("Protocol error: too big mbulk count string", out)
                    break
                if nl > n - 2:
                    break
                count = parse_ll(buf[pos + 1 : nl])
                if count is None or count > _INT_MAX:
                    return self._fail("Protocol error: invalid multibulk length", out)
                if count > UNAUTH_MULTIBULK and self.unauth:
                    return self._fail("Protocol error: unauthenticated multibulk length", out)
                pos = nl + 2
                if count <= 0:
                    continue
                self._args = []
                self._left = count
                self._bulk = -1
            args = self._args
            while self._left:
                if self._bulk < 0:
                    nl = buf.find(b"\r", pos)
                    if nl < 0:
                        if n - pos > PROTO_INLINE_MAX_SIZE:
                            return self._fail("Protocol error: too big bulk count string", out)
                        break
                    if nl > n - 2:
                        break
                    if buf[pos] != 36:  # '$'
                        return self._fail(
                            "Protocol error: expected '$', got '%s'" % chr(buf[pos]), out
                        )
                    ln = parse_ll(buf[pos + 1 : nl])
                    if ln is None or ln < 0 or ln > self.max_bulk_len:
                        return self._fail("Protocol error: invalid bulk length", out)
                    if ln > UNAUTH_BULK and self.unauth:
                        return self._fail("Protocol error: unauthenticated bulk length", out)
                    pos = nl + 2
                    self._bulk = ln
                    if ln >= BIG_ARG:
                        # Received in place, piece by piece (protocol/bulk.py).
                        b = BulkBuilder(ln)
                        pos = b.feed(buf, pos)
                        if not b.done:
                            self._builder = b
                            self._buf = b""
                            self._pos = 0
                            return out
                        args.append(b.value())
                        self._args_len += ln
                        self._bulk = -1
                        self._left -= 1
                        continue
                ln = self._bulk
                if n - pos < ln + 2:
                    break
                args.append(buf[pos : pos + ln])
                self._args_len += ln
                pos += ln + 2
                self._bulk = -1
                self._left -= 1
            if self._left:
                # Half a request: wait for more. A long bulk is gathered in pieces
                # and joined once, so a big value costs O(size), not O(size^2).
                if self._bulk > 4096:
                    self._need = self._bulk + 2
                break
            out.append(args)
            self._args = None
            self._args_len = 0
            if self.unauth and args[0].lower() in _AUTH_NAMES:
                self.more = True  # the next request is vetted as authenticated, maybe
                break
        self._pos = pos
        return out


class HiredisReader:
    """Request reader that frames with hiredis and falls back to :class:`PyReader`."""

    __slots__ = (
        "_reader",
        "_since",
        "_since_len",
        "_since_count",
        "_py",
        "error",
        "max_bulk_len",
        "_tail",
        "unauth",
        "_big",
        "_batch",
    )

    # Beyond this many bytes since the last request boundary we stop keeping them:
    # a fallback then cannot replay, so the error text becomes a generic one.
    SINCE_LIMIT = 1 << 20

    def __init__(self, max_bulk_len=DEFAULT_MAX_BULK_LEN, use_c=True):
        self._batch = parse_batch if use_c else None  # the compiled shortcut, or None
        self._reader = _hiredis.Reader()
        self._since = []  # chunks fed since the last request boundary (None: unknown)
        self._since_len = 0
        self._since_count = 0  # commands hiredis returned out of those chunks
        self._py = None  # the Python reader, once it has taken over
        self._tail = b""  # the end of the previous chunk (a header may straddle)
        self.error = None
        self.max_bulk_len = max_bulk_len
        self.unauth = False  # before AUTH the Python reader checks the Debian limits
        self._big = 0  # the big argument of a half-received request (big_bulk)

    @property
    def more(self):
        return self._py is not None and self._py.more

    @more.setter
    def more(self, v):
        if self._py is not None:
            self._py.more = v

    def pending(self):
        if self._py is not None:
            return self._py.pending()
        return self._since_len

    def big_bulk(self):
        if self._py is not None:
            return self._py.big_bulk()
        return self._big if self._since_len else 0  # (as _vet_partial's probe saw it)

    def feed(self, data):
        if self._py is not None or self._since_len or not data.startswith(b"*") or self.unauth:
            return self._feed_general(data)
        # The common case, kept short: a read that starts on a request boundary.
        batch = self._batch
        if batch is not None:
            # The compiled parser takes every plain request in one call; where it
            # stops (a request boundary) the rest is read as if it came alone.
            out, stop = batch(data, 0, self.max_bulk_len)
            if stop == len(data):
                return out
            if stop:
                rest = data[stop:]
                if rest[:1] == b"*":
                    return out + self._feed_hiredis(rest)
                return out + self._feed_general(rest)
        return self._feed_hiredis(data)

    def _feed_hiredis(self, data):
        """feed() at a request boundary, with a read starting with ``*``: hiredis."""
        if _big_array(data) is not None or (
            data.translate(None, _NOT_TYPE_BYTES) and _typed_element(data) is not None
        ):
            self._since = [data]
            self._since_len = len(data)
            return self._fallback([])
        reader = self._reader
        reader.feed(data)
        out = []
        append = out.append
        gets = reader.gets
        has_data = reader.has_data
        try:
            cmd = gets()
            while cmd is not False:
                append(cmd)
                if not has_data():
                    break
                cmd = gets()
            else:
                cmd = None  # (the read ends inside a request)
            if out and (not _only_bytes(_map(type, _chain(out))) or [] in out):
                raise TypeError
        except Exception:
            self._since = [data]
            self._since_len = len(data)
            return self._fallback(out[: _valid_prefix(out)])
        if len(data) > self.max_bulk_len and self._over_limit(out) >= 0:
            self._since = [data]
            self._since_len = len(data)
            return self._fallback(out)
        if cmd is not None:
            return out  # it ended exactly on a request boundary
        self._since = [data]
        self._since_len = len(data)
        self._since_count = len(out)
        self._tail = data[-12:]
        return self._vet_partial(out)

    def _feed_general(self, data):
        """feed() when the Python reader has the stream, a request is half-received,
        or the read does not start a RESP request (inline, or empty)."""
        if self._py is not None:
            py = self._py
            py.unauth = self.unauth
            if py.pending() == 0 and py.error is None and data[:1] == b"*" and not self.unauth:
                self._py = None  # back on a request boundary: hiredis again
            else:
                out = py.feed(data)
                self.error = py.error
                return out
        if self._since_len == 0 and self._since is not None and (data[:1] != b"*" or self.unauth):
            # A request that is not RESP (inline), or a client that has not
            # authenticated yet: the Python reader's job.
            self._py = py = PyReader(self.max_bulk_len, self._batch is not None)
            py.unauth = self.unauth
            out = py.feed(data)
            self.error = py.error
            return out
        since = self._since
        at_boundary = self._since_len == 0
        if since is not None:
            since.append(data)
        self._since_len += len(data)
        if _suspect(data) is not None or (
            not at_boundary and _suspect(self._tail + data[:12]) is not None
        ):
            # hiredis allocates an array's list as soon as it reads the header (and
            # freeing a list of 10^9 slots stalls everyone for seconds): requests
            # with a huge argument count are the Python reader's, as in Redis; so
            # are elements hiredis would hand back as bytes without being bulks.
            # (A header can straddle two reads only inside a half-received request.)
            self._tail = b""
            return self._fallback([])
        self._tail = data[-12:]
        reader = self._reader
        reader.feed(data)
        out = []
        append = out.append
        gets = reader.gets
        has_data = reader.has_data
        boundary = False
        try:
            cmd = gets()
            while cmd is not False:
                append(cmd)
                if not has_data():
                    # (only right after a whole request does has_data() say where
                    # we are: a partial header may already be consumed)
                    boundary = True
                    break
                cmd = gets()
        except Exception:
            # ProtocolError, and what hiredis raises building RESP3 values no request
            # may hold (a map keyed by an array: TypeError): Redis's answer to those
            # is the Python reader's protocol error.
            return self._fallback(out[: _valid_prefix(out)])
        if out:
            # Every request must be a non-empty array of bulk strings. One C pass
            # checks the whole batch: every argument's type must be bytes (not an
            # integer, an error, a nested array; a top-level non-array cannot be
            # iterated: TypeError), and an empty array compares equal to [].
            try:
                bad = not _only_bytes(_map(type, _chain(out))) or [] in out
            except TypeError:
                bad = True
            if bad:
                return self._fallback(out[: _valid_prefix(out)])
            if self._since_len > self.max_bulk_len and self._over_limit(out) >= 0:
                return self._fallback(out)
        if boundary:
            # The batch ended exactly on a request boundary.
            self._since = []
            self._since_len = 0
            self._since_count = 0
            return out
        if since is not None:
            self._since_count += len(out)
            if self._since_len > self.SINCE_LIMIT:
                self._since = None
            elif self._since_len > 0:
                return self._vet_partial(out)
        return out

    def _over_limit(self, out):
        """The index of the first request in ``out`` with a bulk longer than
        proto-max-bulk-len, or -1. hiredis does not check that limit (the Python
        reader does, as Redis); a bulk over it can only be in a read longer than it,
        which the hot paths test first: never at the default 512 MB."""
        limit = self.max_bulk_len
        for k, req in enumerate(out):
            if max(map(len, req)) > limit:
                return k
        return -1

    def _vet_partial(self, out):
        """Half a request is waiting: let the strict reader vet its headers now, so
        an absurd length is refused at once, not after 512 MB."""
        probe = PyReader(self.max_bulk_len, self._batch is not None)
        got = probe.feed(b"".join(self._since))
        self._big = probe.big_bulk()
        if probe.error is not None or len(got) > self._since_count or probe._builder is not None:
            # (a big bulk is on its way: the Python reader receives it in
            # place, where hiredis would keep its buffer and then a copy)
            self._since_count -= len(out)
            return self._fallback(out)
        return out

    def _fallback(self, out):
        """Hand the stream to the Python reader, replaying from the last boundary;
        ``out``, the requests hiredis read well, stops before any the Python reader
        refuses for a bulk over proto-max-bulk-len (see _over_limit)."""
        k = self._over_limit(out)
        if k >= 0:
            out = out[:k]
        py = PyReader(self.max_bulk_len, self._batch is not None)
        py.unauth = self.unauth
        self._py = py
        self._reader = _hiredis.Reader()
        if self._since is None:
            py.error = self.error = "Protocol error: invalid multibulk length"
            return out
        skip = self._since_count + len(out)
        replay = py.feed(b"".join(self._since))
        self._since = []
        self._since_len = 0
        self._since_count = 0
        self.error = py.error
        return out + replay[skip:]


def make_reader(max_bulk_len=DEFAULT_MAX_BULK_LEN, use_hiredis=None, use_c=None):
    """The fastest reader available (or the one asked for).

    ``use_c``, the compiled batch parser where it was built, defaults to on unless
    ``use_hiredis`` is False, which asks for the pure-Python reader (``embed``'s
    ``pure_python``). Where it was built, the fastest is :class:`PyReader` with it:
    as fast as hiredis's reader with it on reads that end on a request boundary,
    several times faster on those that do not (hiredis's reader re-vets a request
    received in pieces at every read); ``use_hiredis=True`` still gets the latter."""
    if use_c is None:
        use_c = use_hiredis is not False
    use_c = bool(use_c and HAVE_C)
    if use_hiredis is None:
        use_hiredis = HAVE_HIREDIS and not use_c
    if use_hiredis and HAVE_HIREDIS:
        return HiredisReader(max_bulk_len, use_c)
    return PyReader(max_bulk_len, use_c)
