"""The one exception every persistence decoder raises on bad input.

Redis validates a DUMP payload or RDB value in two depths: a shallow check that
always runs (headers, sizes, anything it must read to build the object) and a
deep one (every entry of a listpack or intset, duplicates, PEL consumers) that
only runs with ``sanitize-dump-payload yes``. With shallow checks alone Redis
accepts a payload whose corruption is inside, and fails an assertion (or
panics) later, when a command walks the bad entry. Our decoders must build
Python objects, so they always look at every entry; an error that only the
deep check would have found carries ``deep_only = True``, so that RESTORE can
tell the two apart. Without deep sanitization such a value is salvaged (the
decoder keeps what is sound of it, as Redis keeps it all, and the error carries
it as ``salvage``): RESTORE stores that and logs the report Redis writes when it
trips over the damage. With deep sanitization it is refused, as by Redis.
"""


class CorruptError(ValueError):
    """The bytes are not a valid encoding (truncated, wrong checksum, bad structure).

    ``str(exc)`` is a human-readable reason, worded like Redis's own
    ``rdbReportCorruptRDB`` messages where one exists.
    """

    deep_only = False  # found by a check Redis makes only in deep sanitization
    # What Redis logs when it trips over the corruption later (with shallow
    # sanitization): "assert" (serverAssert) or "panic" (serverPanic).
    redis_failure = "assert"
