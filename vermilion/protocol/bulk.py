"""Receiving a big argument with one copy, not two.

A 512 MB ``SET`` arrives as thousands of socket reads. The obvious way to turn
them into one ``bytes`` argument, gathering the pieces and joining them, holds
the pieces *and* the joined value at the same moment: twice the value's size at
the peak. Redis avoids that for big arguments (``PROTO_MBULK_BIG_ARG``): once it
knows the length it allocates the final string and reads straight into it.

:class:`BulkBuilder` does the same. It allocates the final ``bytes`` object of
the announced length up front (``PyBytes_FromStringAndSize(NULL, n)``, the
C-API's documented way to build a bytes object in place) and copies each piece
into it as it arrives; the pieces are freed one by one, so the peak is the value
plus one read. Nobody else can see the object until the builder hands it over,
and its hash is not computed before then, so filling it in place is safe.

That needs CPython's object layout, reached through ``ctypes``. Elsewhere (or if
the self-check at first use fails) the builder fills a ``bytearray`` and copies
it into ``bytes`` at the end: same result, twice the peak.
"""

import sys

BIG_ARG = 256 * 1024  # arguments this long are built in place

_native = None  # None: not probed yet; False: unavailable; else the tools


def _probe():
    """ctypes helpers for in-place building, or False (imported on first big
    argument only: ctypes is not needed by a server that never sees one)."""
    if sys.implementation.name != "cpython":
        return False
    try:
        import ctypes  # start-up cost: only once a big argument arrives

        new = ctypes.pythonapi.PyBytes_FromStringAndSize
        new.restype = ctypes.py_object
        new.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
        offset = sys.getsizeof(b"") - 1  # the header before ob_sval
        memmove = ctypes.memmove
        probe = new(None, 5)
        src = b"hello"
        memmove(id(probe) + offset, id(src) + offset, 5)
        if probe != b"hello" or hash(probe) != hash(b"hello"):
            return False
        return new, offset, memmove
    except Exception:  # no ctypes, a different layout: use the fallback
        return False


class BulkBuilder:
    """An argument of ``size`` bytes followed by its CRLF, filled piece by piece."""

    __slots__ = ("size", "got", "_value", "_addr", "_memmove", "_offset")

    def __init__(self, size):
        global _native
        if _native is None:
            _native = _probe()
        self.size = size
        self.got = 0  # bytes consumed so far, the CRLF included
        if _native:
            new, self._offset, self._memmove = _native
            self._value = new(None, size)
            self._addr = id(self._value) + self._offset
        else:
            self._value = bytearray(size)
            self._addr = None

    def feed(self, data, start=0):
        """Take what belongs to this argument from ``data[start:]``; returns the
        position in ``data`` just after what was taken."""
        want = self.size + 2 - self.got
        end = min(len(data), start + want)
        copy_end = min(end, start + max(self.size - self.got, 0))
        n = copy_end - start
        if n > 0:
            if self._addr is not None and data.__class__ is bytes:
                self._memmove(self._addr + self.got, id(data) + self._offset + start, n)
            else:
                self._value[self.got : self.got + n] = data[start:copy_end]
        self.got += end - start
        return end

    @property
    def done(self):
        return self.got >= self.size + 2

    def value(self):
        v = self._value
        self._value = None
        return v if v.__class__ is bytes else bytes(v)
