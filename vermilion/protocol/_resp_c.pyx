# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""A compiled batch parser for the common shape of RESP requests (optional).

Why: a pipelining client sends many requests in one read, and nearly all of them
have one shape, an array of bulk strings (``*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n``).
hiredis frames them fast, but its Python binding hands them back one ``gets()``
call at a time, each followed by a ``has_data()`` call and then a Python pass over
the batch checking every argument is ``bytes``: per request, several Python-level
calls. :func:`parse_batch` does the whole read in one C call and returns every
request as a ``list`` of ``bytes``, built directly from the read's buffer.

It is deliberately narrow. It takes only requests it is certain about: plain
multibulk requests, and plain inline lines (no quote, NUL, ``\\v`` or ``\\f``: their
arguments are the words between spaces, tabs and CRs, as ``sdssplitargs`` gives
them; a blank line is skipped, as Redis skips it). It stops at the start of the
first request it is not sure about: an inline line with any of those bytes or
without its newline in the read, a count or a
length that is not plain digits (no sign, no leading zero) ended by CRLF, a count
of 0 or above 999999, an element that is not ``$``, a bulk longer than
``max_bulk`` or than :data:`BULK_CAP` (big arguments are built in place by
``protocol/bulk.py``), a payload not followed by CRLF, or a request not complete
in this read. It never reports an error: it returns ``(requests, stop)`` and the
caller hands ``data[stop:]``, which starts on a request boundary, to the Python
reader (``reader.py``) exactly as if the read had been split there, so quoted
inline requests, protocol errors, partial requests, big bulks and the unauthenticated
limits keep the one implementation they have. (Whatever it accepts, the Python
reader accepts the same way: the two are compared by the tests in
``tests/protocol``, with every way of splitting the input.)

The module is optional: it is built by ``pip install`` where Cython and a C
compiler exist (``setup.py``), and ``reader.py`` works the same without it.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from libc.string cimport memchr

# Bulks at least this long are not taken here (bulk.BIG_ARG is 256 KiB; a test
# keeps this below it).
BULK_CAP = 256 * 1024 - 1
cdef enum:
    _BULK_CAP = 256 * 1024 - 1
    _COUNT_MAX = 999999  # six digits at most
    _MIN_ELEMENT = 6  # "$0\r\n\r\n": the fewest bytes one element takes


cdef inline Py_ssize_t _number(const unsigned char* buf, Py_ssize_t n, Py_ssize_t* at,
                               Py_ssize_t limit) noexcept:
    """Plain digits (``0`` alone, or no leading zero) then CRLF, at ``*at``: the value,
    with ``*at`` moved past the CRLF; -1 if it is anything else, is over ``limit``,
    or is not all in the buffer."""
    cdef Py_ssize_t p = at[0]
    cdef Py_ssize_t v
    cdef unsigned char c
    if p >= n:
        return -1
    c = buf[p]
    if c == 48:  # '0'
        v = 0
        p += 1
    elif 49 <= c <= 57:
        v = c - 48
        p += 1
        while p < n:
            c = buf[p]
            if c < 48 or c > 57:
                break
            v = v * 10 + (c - 48)
            if v > limit:
                return -1
            p += 1
    else:
        return -1
    if v > limit or p + 1 >= n or buf[p] != 13 or buf[p + 1] != 10:
        return -1
    at[0] = p + 2
    return v


cdef Py_ssize_t _inline(const unsigned char* buf, Py_ssize_t n, Py_ssize_t pos, list out) except -2:
    """The inline request (a line, as redis-cli's prompt or telnet sends it) at
    ``pos``, if it is a plain one: complete (its newline is in the buffer) and free
    of quotes, NUL, \\v and \\f, so that sdssplitargs gives exactly the words
    between spaces, tabs and CRs. Its arguments are appended to ``out`` (none for a
    blank line, which Redis skips) and the offset after its newline returned; -1
    for any other line, left to the Python reader."""
    cdef const unsigned char* nl = <const unsigned char*>memchr(buf + pos, 10, n - pos)
    cdef Py_ssize_t end, p, w
    cdef unsigned char c
    cdef list args
    if nl == NULL:
        return -1
    end = nl - buf
    if end > pos and buf[end - 1] == 13:
        end -= 1  # (a CR before the newline is not part of the line)
    p = pos
    while p < end:
        c = buf[p]
        if c == 34 or c == 39 or c == 0 or c == 11 or c == 12:  # " ' NUL \v \f
            return -1
        p += 1
    args = []
    p = pos
    while p < end:
        c = buf[p]
        if c == 32 or c == 9 or c == 13:
            p += 1
            continue
        w = p
        while p < end:
            c = buf[p]
            if c == 32 or c == 9 or c == 13:
                break
            p += 1
        args.append(PyBytes_FromStringAndSize(<const char*>buf + w, p - w))
    if args:
        out.append(args)
    return (nl - buf) + 1


def parse_batch(data, Py_ssize_t start, long long max_bulk):
    """Every complete plain multibulk request of ``data`` from ``start`` (a request
    boundary): ``(requests, stop)``, ``requests`` a list of lists of ``bytes`` and
    ``stop`` the offset of the first byte not consumed (``len(data)`` when all were).
    Stops, without consuming it, at the first request it does not take (see the
    module docstring); never raises for any input."""
    cdef list out = []
    if not PyBytes_CheckExact(data):
        return out, start
    cdef const unsigned char* buf = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t pos = start
    cdef Py_ssize_t p, count, ln, i
    cdef Py_ssize_t limit = _BULK_CAP if max_bulk > _BULK_CAP else <Py_ssize_t>max_bulk
    cdef list args
    cdef object item
    if pos < 0:
        return out, start
    while pos < n:
        if buf[pos] != 42:  # '*': an inline request, if it is a plain one
            p = _inline(buf, n, pos, out)
            if p < 0:
                break
            pos = p
            continue
        p = pos + 1
        count = _number(buf, n, &p, _COUNT_MAX)
        if count <= 0 or count > (n - p) // _MIN_ELEMENT:
            break  # (an empty or odd count, or more elements than bytes left)
        args = PyList_New(count)  # (slots not yet set are NULL: safe to free)
        i = 0
        while i < count:
            if p >= n or buf[p] != 36:  # '$'
                break
            p += 1
            ln = _number(buf, n, &p, limit)
            if ln < 0 or ln > n - p - 2 or buf[p + ln] != 13 or buf[p + ln + 1] != 10:
                break
            item = PyBytes_FromStringAndSize(<const char*>buf + p, ln)
            Py_INCREF(item)  # PyList_SET_ITEM steals the reference
            PyList_SET_ITEM(args, i, item)
            p += ln + 2
            i += 1
        if i < count:
            break
        out.append(args)
        pos = p
    return out, pos
