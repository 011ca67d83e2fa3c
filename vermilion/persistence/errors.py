"""The one exception every persistence decoder raises on bad input."""


class CorruptError(ValueError):
    """The bytes are not a valid encoding (truncated, wrong checksum, bad structure).

    ``str(exc)`` is a human-readable reason, worded like Redis's own
    ``rdbReportCorruptRDB`` messages where one exists.
    """
