"""CRC-64/Jones, the checksum of RDB files and DUMP payloads (Redis's crc64.c).

Parameters: polynomial 0xad93d23594c935a9, reflected input and output, initial
value 0 (or the running CRC), no final xor. ``crc64(0, b"123456789")`` is
``0xe9c6d914c4b8d9ca``.

Three speeds, chosen by input size:

* short inputs (DUMP payloads of small keys): the classic one-table loop;
* medium inputs: "slicing by 8", eight tables, one loop turn per 8 bytes;
* large inputs (RDB files): *lanes*. The buffer is cut into ``K`` equal chunks
  whose CRCs are computed side by side, one byte of every chunk per step. The K
  running states are kept as eight "byte planes" (plane j holds byte j of every
  state), so a step is a handful of C-speed operations over K-byte buffers:
  ``bytes.translate`` does the table lookups of all lanes at once and big-int
  XOR combines planes. The chunk CRCs are then joined with the CRC's linearity:
  ``crc(A + B) = shift(crc(A), len(B)) ^ crc(B)``, where ``shift(v, n)`` (the
  effect of n zero bytes) is a fixed GF(2) matrix applied with 8 table lookups.
"""

import os
import signal

POLY = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9 bit-reflected
_MASK = 0xFFFFFFFFFFFFFFFF


def _make_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ POLY if c & 1 else c >> 1
        t.append(c)
    return t


T0 = _make_table()
# Slicing-by-8 tables: TS[k][b] = CRC state after byte b followed by k zero bytes.
TS = [T0]
for _k in range(1, 8):
    _prev = TS[-1]
    TS.append([(_prev[b] >> 8) ^ T0[_prev[b] & 0xFF] for b in range(256)])
del _k, _prev
# Byte-plane translate tables: PLANE[j] maps an index byte to byte j of T0[index].
PLANE = [bytes((T0[b] >> (8 * j)) & 0xFF for b in range(256)) for j in range(8)]

_SMALL = 64
_LANE_MIN = 768


def _crc_bytewise(crc, data):
    t = T0
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def _crc_slice8(crc, data):
    n = len(data)
    end8 = n - (n & 7)
    t0, t1, t2, t3, t4, t5, t6, t7 = TS
    mv = memoryview(data)
    frm = int.from_bytes
    # Whole 8-byte words: fold the state into the word, look up all 8 bytes.
    for i in range(0, end8, 8):
        v = crc ^ frm(mv[i : i + 8], "little")
        crc = (
            t7[v & 0xFF]
            ^ t6[(v >> 8) & 0xFF]
            ^ t5[(v >> 16) & 0xFF]
            ^ t4[(v >> 24) & 0xFF]
            ^ t3[(v >> 32) & 0xFF]
            ^ t2[(v >> 40) & 0xFF]
            ^ t1[(v >> 48) & 0xFF]
            ^ t0[v >> 56]
        )
    if end8 != n:
        crc = _crc_bytewise(crc, mv[end8:])
    return crc


# ---------------------------------------------------------------- GF(2) algebra
# A 64x64 matrix is a list of 64 column ints: column i is the image of bit i.


def _mat_apply(m, v):
    out = 0
    i = 0
    while v:
        if v & 1:
            out ^= m[i]
        v >>= 1
        i += 1
    return out


def _mat_mul(a, b):
    """a * b (apply b first)."""
    return [_mat_apply(a, col) for col in b]


def _one_zero_byte():
    # State transition for one zero byte: s -> T0[s & 0xff] ^ (s >> 8).
    return [T0[(1 << i) & 0xFF] ^ ((1 << i) >> 8) for i in range(64)]


_POW2 = [_one_zero_byte()]  # _POW2[k] = operator for 2**k zero bytes


def _shift_matrix(n):
    """Operator adding n zero bytes to a CRC state."""
    result = None
    k = 0
    while n:
        while len(_POW2) <= k:
            p = _POW2[-1]
            _POW2.append(_mat_mul(p, p))
        if n & 1:
            result = _POW2[k] if result is None else _mat_mul(_POW2[k], result)
        n >>= 1
        k += 1
    if result is None:
        result = [1 << i for i in range(64)]
    return result


def _byte_tables(m):
    """8 tables of 256 entries so that apply(m, v) = XOR_j tab[j][byte j of v]."""
    tabs = []
    for j in range(8):
        cols = m[8 * j : 8 * j + 8]
        tab = [0] * 256
        for b in range(1, 256):
            low = b & -b
            tab[b] = tab[b ^ low] ^ cols[low.bit_length() - 1]
        tabs.append(tab)
    return tabs


def shift(crc, n):
    """The CRC state after feeding n zero bytes (crc64_combine's building block)."""
    if not crc or not n:
        return crc
    return _mat_apply(_shift_matrix(n), crc)


def combine(crc_a, crc_b, len_b):
    """crc64 of A+B from crc64(A), crc64(B) and len(B)."""
    return shift(crc_a, len_b) ^ crc_b


_TABLE_CACHE: dict = {}


def _pow2_tables(e):
    """Byte tables of the operator "2**e zero bytes" (cached)."""
    t = _TABLE_CACHE.get(e)
    if t is None:
        t = _TABLE_CACHE[e] = _byte_tables(_shift_matrix(1 << e))
    return t


def _crc_lanes(crc, data):
    n = len(data)
    # Lane length: a power of two near sqrt(n/3) balances the per-step cost
    # (~length Python steps) against the per-lane join cost (~n/length steps).
    e = max(4, (int((n / 3) ** 0.5)).bit_length() - 1)
    length = 1 << e
    k = n >> e  # number of lanes
    body = k << e
    if type(data) is not bytes:
        data = bytes(data)
    frm = int.from_bytes
    p0, p1, p2, p3, p4, p5, p6, p7 = PLANE
    # Planes as little-endian ints: byte i of plane j = byte j of lane i's state.
    # Lane 0 starts from the incoming crc, the others from 0.
    s0, s1, s2, s3, s4, s5, s6, s7 = ((crc >> (8 * j)) & 0xFF for j in range(8))
    for i in range(length):
        idx = (s0 ^ frm(data[i:body:length], "little")).to_bytes(k, "little")
        s0 = frm(idx.translate(p0), "little") ^ s1
        s1 = frm(idx.translate(p1), "little") ^ s2
        s2 = frm(idx.translate(p2), "little") ^ s3
        s3 = frm(idx.translate(p3), "little") ^ s4
        s4 = frm(idx.translate(p4), "little") ^ s5
        s5 = frm(idx.translate(p5), "little") ^ s6
        s6 = frm(idx.translate(p6), "little") ^ s7
        s7 = frm(idx.translate(p7), "little")
    planes = [s.to_bytes(k, "little") for s in (s0, s1, s2, s3, s4, s5, s6, s7)]
    # Join the lanes left to right: acc = shift(acc, length) ^ lane.
    q0, q1, q2, q3, q4, q5, q6, q7 = _pow2_tables(e)
    acc = 0
    for x in zip(*planes):
        a = acc
        acc = (
            q0[a & 0xFF]
            ^ q1[(a >> 8) & 0xFF]
            ^ q2[(a >> 16) & 0xFF]
            ^ q3[(a >> 24) & 0xFF]
            ^ q4[(a >> 32) & 0xFF]
            ^ q5[(a >> 40) & 0xFF]
            ^ q6[(a >> 48) & 0xFF]
            ^ q7[a >> 56]
        ) ^ frm(bytes(x), "little")
    if body != n:
        acc = _crc_slice8(acc, memoryview(data)[body:])
    return acc


try:  # anycrc (the ``fast`` extra): the same CRC in C, CRC-64/REDIS in its catalogue
    import anycrc as _anycrc

    _c_crc = _anycrc.Model("CRC64-REDIS").calc
except Exception:  # absent, or a version without the model
    _c_crc = None


def crc64(crc, data):
    """Continue the CRC-64/Jones ``crc`` over ``data`` (bytes-like)."""
    if _c_crc is not None:
        return _c_crc(data, crc)
    n = len(data)
    if n < _SMALL:
        return _crc_bytewise(crc, data)
    if n < _LANE_MIN:
        return _crc_slice8(crc, data)
    return _crc_lanes(crc, data)


__all__ = ["crc64", "combine", "shift", "PrefixCrcs", "StreamCrc"]


# ------------------------------------------------------------ on the other core
# A CRC over a whole RDB costs about a fifth of a save or a load here (Redis's C
# does it in a few milliseconds). It depends on nothing but the bytes, so a
# forked helper computes it on another core while the caller encodes or parses:
# the caller's wall time loses the CRC, its CPU time does not change. Both
# helpers fall back to computing in place when there is no fork or the helper
# fails, so the result never depends on them.

_CHUNK = 1 << 20
_HAS_FORK = hasattr(os, "fork")
# With the C CRC (anycrc) a helper costs more than it saves: none is started
# (tests turn them on to check them).
HELPERS = _c_crc is None


def _child_exit_quietly():
    """In a helper child: default signal dispositions (a signal meant for the
    server must not run its handlers here) and no wakeup fd (shared with the
    parent's event loop)."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGCHLD):
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass


def _read_exact(fd, n):
    parts = []
    while n:
        b = os.read(fd, n)
        if not b:
            break
        parts.append(b)
        n -= len(b)
    return b"".join(parts)


def _reap(pid):
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class PrefixCrcs:
    """CRCs of the prefixes of ``buf`` at every multiple of 1 MiB, computed by a
    forked helper while the caller parses ``buf``; :meth:`crc_upto` gives the
    CRC of ``buf[:n]`` from the last checkpoint at or below ``n`` plus the rest
    computed in place. Where the RDB ends is only known once it is parsed (an AOF
    with an RDB preamble goes on after it), hence checkpoints, not one CRC."""

    def __init__(self, buf):
        self.buf = buf
        self.pid = None
        self.fd = None
        if not _HAS_FORK or len(buf) < 4 * _CHUNK or not HELPERS:
            return
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            return
        if pid == 0:  # the helper
            code = 1
            try:
                _child_exit_quietly()
                os.close(r)
                mv = memoryview(buf)
                crc = 0
                for start in range(0, len(buf) - _CHUNK + 1, _CHUNK):
                    crc = crc64(crc, mv[start : start + _CHUNK])
                    os.write(w, crc.to_bytes(8, "little"))
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        self.pid = pid
        self.fd = r

    def crc_upto(self, n):
        """crc64(0, buf[:n])."""
        crc = done = 0
        if self.fd is not None:
            want = n // _CHUNK
            got = _read_exact(self.fd, 8 * want)
            if len(got) >= 8:
                k = len(got) // 8
                crc = int.from_bytes(got[8 * (k - 1) : 8 * k], "little")
                done = k * _CHUNK
            self.close()
        return crc64(crc, memoryview(self.buf)[done:n])

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            # closing the pipe ends a helper still writing (EPIPE); kill it anyway
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            _reap(self.pid)
            self.pid = None


class StreamCrc:
    """The running CRC of bytes :meth:`feed` to it, kept by a forked helper
    reading them from a pipe (set to 1 MiB where Linux allows, so a feed rarely
    waits). :meth:`result` ends the helper and returns the CRC; if the helper
    failed it is computed again from ``refeed()``, an iterable of the same bytes
    (the file written so far), or None when there is none."""

    def __init__(self):
        self.pid = None
        self.fd = None
        self.res_fd = None
        self.ok = False
        if not _HAS_FORK or not HELPERS:
            return
        r, w = os.pipe()
        rr, rw = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (r, w, rr, rw):
                os.close(fd)
            return
        if pid == 0:  # the helper
            code = 1
            try:
                _child_exit_quietly()
                os.close(w)
                os.close(rr)
                crc = 0
                pending = bytearray()
                while True:
                    b = os.read(r, _CHUNK)
                    if not b:
                        break
                    pending += b
                    if len(pending) >= _CHUNK:
                        crc = crc64(crc, bytes(pending))
                        pending = bytearray()
                crc = crc64(crc, bytes(pending))
                os.write(rw, crc.to_bytes(8, "little"))
                code = 0
            finally:
                os._exit(code)
        os.close(r)
        os.close(rw)
        try:
            import fcntl  # late: Unix only, like fork

            fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), _CHUNK)
        except (ImportError, OSError):
            pass
        self.pid = pid
        self.fd = w
        self.res_fd = rr
        self.ok = True

    def feed(self, data):
        if self.ok:
            try:
                mv = memoryview(data)
                while mv:
                    n = os.write(self.fd, mv)
                    mv = mv[n:]
            except OSError:
                self.ok = False

    def result(self, refeed=None):
        crc = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            if self.ok:
                got = _read_exact(self.res_fd, 8)
                if len(got) == 8:
                    crc = int.from_bytes(got, "little")
            os.close(self.res_fd)
            self.res_fd = None
            _reap(self.pid)
            self.pid = None
        if crc is None and refeed is not None:
            crc = 0
            for chunk in refeed():
                crc = crc64(crc, chunk)
        return crc
