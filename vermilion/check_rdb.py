"""``python -m vermilion.check_rdb FILE``: check an RDB file, like ``redis-check-rdb``.

Parses the whole file with Vermilion's loader (every encoding, every value,
the CRC-64 at the end), printing what ``redis-check-rdb`` prints::

    [offset 0] Checking RDB file dump.rdb
    [offset 27] AUX FIELD redis-ver = '7.0.15'
    [offset 82] Selecting DB ID 0
    [offset 143] Checksum OK
    [offset 143] \\o/ RDB looks OK! \\o/
    [info] 3 keys read
    [info] 0 expires
    [info] 0 already expired

and, on damage, ``--- RDB ERROR DETECTED ---`` with the offset, what was being
read and the key. Exit status 0 when the file is sound, 1 otherwise. Module
values of the self-describing kind (type 7) are walked and accepted; streams
are reported as not supported by Vermilion.

A big file takes a while: when stderr is a terminal (or with ``--progress``) a
progress line goes to stderr, ``[progress] 45.2% (123.4 MB of 273.0 MB, 1234567
keys)``, redrawn in place twice a second on a terminal and cleared at the end;
elsewhere written as lines every 2 seconds and once at the end. ``--no-progress``
turns it off. The report on stdout is the same either way.
"""

import sys
import time

from .persistence import rdb

DOING_TYPES = {
    0: "string",
    1: "list-linked",
    2: "set-hashtable",
    3: "zset-v1",
    4: "hash-hashtable",
    5: "zset-v2",
    6: "module-value",
    7: "module-value",
    9: "hash-zipmap",
    10: "list-ziplist",
    11: "set-intset",
    12: "zset-ziplist",
    13: "hash-ziplist",
    14: "quicklist",
    15: "stream",
    16: "hash-listpack",
    17: "zset-listpack",
    18: "quicklist-v2",
    19: "stream",
}


class Progress:
    """The ``[progress]`` line on ``stream``: redrawn in place on a terminal (every
    ``interval`` seconds, cleared by :meth:`done`), else one line per ``interval``
    and a last one when the file is read."""

    STEP = 1 << 20  # the parser calls back every this many bytes

    def __init__(self, stream, total, tty=None, interval=None):
        self.stream = stream
        self.total = total
        self.tty = _isatty(stream) if tty is None else tty
        self.interval = (0.5 if self.tty else 2.0) if interval is None else interval
        self.next = time.monotonic() + self.interval
        self.shown = False

    def line(self, pos, keys):
        perc = pos * 100.0 / self.total if self.total else 100.0
        return "[progress] %.1f%% (%.1f MB of %.1f MB, %d keys)" % (
            perc,
            pos / 1048576,
            self.total / 1048576,
            keys,
        )

    def __call__(self, pos, res):
        now = time.monotonic()
        if now >= self.next:
            self.next = now + self.interval
            self.write(self.line(pos, res.keys_read))
        return pos + self.STEP

    def write(self, text):
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown = True

    def done(self, pos, keys):
        if self.tty:
            if self.shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
        else:
            self.write(self.line(pos, keys))


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def check(path, out=None, progress=None):
    """Check ``path``; write the report to ``out`` (stdout). Returns the exit status.
    ``progress``: a stream for the progress line (see :class:`Progress`), or a
    :class:`Progress` factory ``fn(total_bytes)``, or None."""
    out = out or sys.stdout

    def say(offset, msg):
        out.write("[offset %d] %s\n" % (offset, msg))

    def info(keys, expires, expired):
        out.write(
            "[info] %d keys read\n[info] %d expires\n[info] %d already expired\n"
            % (keys, expires, expired)
        )

    def events(kind, offset, *args):
        if kind == "aux":
            k, v = args
            say(
                offset,
                "AUX FIELD %s = '%s'"
                % (k.decode("utf-8", "replace"), v.decode("utf-8", "replace")),
            )
        elif kind == "select":
            say(offset, "Selecting DB ID %d" % args[0])

    say(0, "Checking RDB file %s" % path)
    try:
        with open(path, "rb") as fh:
            buf = fh.read()
    except OSError as e:
        out.write("--- RDB ERROR DETECTED ---\n")
        say(0, "Cannot open file %s: %s" % (path, e.strerror))
        return 1
    meter = None
    if progress is not None:
        meter = progress(len(buf)) if callable(progress) else Progress(progress, len(buf))
    try:
        res = rdb.load_rdb(
            buf,
            rdb.DEFAULT_LIMITS,
            ndbs=1 << 30,
            expire_keys=False,
            check_mode=True,
            events=events,
            progress=meter,
        )
    except rdb.RdbError as e:
        if meter is not None:
            p = getattr(e, "partial", None)
            meter.done(getattr(e, "offset", 0), p.keys_read if p is not None else 0)
        out.write("--- RDB ERROR DETECTED ---\n")
        say(getattr(e, "offset", 0), str(e))
        out.write("[additional info] While doing: %s\n" % getattr(e, "doing", "start"))
        key = getattr(e, "key", None)
        if key is not None:
            out.write("[additional info] Reading key '%s'\n" % key.decode("utf-8", "replace"))
        t = getattr(e, "rdbtype", None)
        if t is not None:
            out.write(
                "[additional info] Reading type %d (%s)\n" % (t, DOING_TYPES.get(t, "unknown"))
            )
        p = getattr(e, "partial", None)
        if p is not None:
            info(p.keys_read, p.expires, p.already_expired)
        else:
            info(0, 0, 0)
        return 1
    if meter is not None:
        meter.done(res.end, res.keys_read)
    if res.version >= 5:
        if res.checksum == 0:
            say(res.end, "RDB file was saved with checksum disabled: no check performed.")
        else:
            say(res.end, "Checksum OK")
    if res.end != len(buf):
        say(res.end, "%d bytes after the end of the RDB (ignored)" % (len(buf) - res.end))
    say(res.end, "\\o/ RDB looks OK! \\o/")
    info(res.keys_read, res.expires, res.already_expired)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    show = None  # by default: when stderr is a terminal
    if "--progress" in argv or "--no-progress" in argv:
        show = "--progress" in argv and "--no-progress" not in argv
        argv = [a for a in argv if a not in ("--progress", "--no-progress")]
    if len(argv) != 1:
        sys.stderr.write(
            "Usage: python -m vermilion.check_rdb [--progress|--no-progress] <rdb-file-name>\n"
        )
        return 1
    if argv[0] in ("-v", "--version"):
        from .version import __version__, REDIS_VERSION  # only for --version

        print("vermilion check_rdb %s (RDB of Redis %s)" % (__version__, REDIS_VERSION))
        return 0
    if show is None:
        show = _isatty(sys.stderr)
    return check(argv[0], progress=sys.stderr if show else None)


if __name__ == "__main__":
    sys.exit(main())
