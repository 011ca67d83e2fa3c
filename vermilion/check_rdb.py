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
"""

import sys

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


def check(path, out=None):
    """Check ``path``; write the report to ``out`` (stdout). Returns the exit status."""
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
    try:
        res = rdb.load_rdb(
            buf, rdb.DEFAULT_LIMITS, ndbs=1 << 30, expire_keys=False, check_mode=True, events=events
        )
    except rdb.RdbError as e:
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
    if len(argv) != 1:
        sys.stderr.write("Usage: python -m vermilion.check_rdb <rdb-file-name>\n")
        return 1
    if argv[0] in ("-v", "--version"):
        from .version import __version__, REDIS_VERSION  # only for --version

        print("vermilion check_rdb %s (RDB of Redis %s)" % (__version__, REDIS_VERSION))
        return 0
    return check(argv[0])


if __name__ == "__main__":
    sys.exit(main())
