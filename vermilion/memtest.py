"""``vermilion --test-memory <megabytes>``: redis-server's memory test (memtest.c).

Allocates the given amount of memory and runs Redis's 50 passes over it, each an
addressing test (every word holds a value unique to its position, written then
read back), then random, solid (all ones / all zeros pages) and checkerboard
(0xaa.../0x55... pages) fills of both halves, each half compared with the other
four times. The screen shows what Redis's does: a progress bar of letters (A, R,
S, C, =) over a field of dots, redrawn for each step, and in the end "Your memory
passed this test." (exit 0), or the first difference found (exit 1).

The work is done by memcpy/memcmp-speed buffer operations on 512 KB chunks, not a
Python loop per word, so a gigabyte takes minutes, as with Redis. Python cannot
write a word's own address as Redis's addressing test does; each word holds
``(chunk << 32) | index``, which is as unique per position.
"""

import os
import random
import sys
from array import array

CHUNK_WORDS = 0x10000  # memtest.c updates its progress every 0x10000 words
WORD = 8
ONES = b"\xff" * 4096
ZEROS = b"\x00" * 4096
ONEZERO = b"\xaa" * 4096  # ULONG_ONEZERO
ZEROONE = b"\x55" * 4096  # ULONG_ZEROONE


class MemoryErrorFound(Exception):
    pass


class Screen:
    """memtest_progress_start/step/end on ``out``."""

    def __init__(self, out):
        self.out = out
        try:
            cols, rows = os.get_terminal_size(out.fileno())
        except (OSError, AttributeError, ValueError):
            cols, rows = 80, 20
        self.cols, self.rows = cols, rows
        self.printed = 0
        self.full = cols * (rows - 3)

    def start(self, title, npass):
        w = self.out.write
        w("\x1b[H\x1b[2J")  # cursor home, clear screen
        w("." * (self.cols * (self.rows - 2)))
        w("Please keep the test running several minutes per GB of memory.\n")
        w("Also check http://www.memtest86.com/ and http://pyropus.ca/software/memtester/")
        w("\x1b[H\x1b[2K")  # cursor home, clear the line
        w("%s [%d]\n" % (title, npass))
        self.printed = 0
        self.out.flush()

    def step(self, curr, size, ch):
        chars = curr * self.full // size if size else 0
        if chars > self.printed:
            self.out.write(ch * (chars - self.printed))
            self.printed = chars
            self.out.flush()

    def end(self):
        self.out.write("\x1b[H\x1b[2J")


def _addressing(buf, screen):
    words = len(buf) // WORD
    template = array("Q", range(CHUNK_WORDS)).tobytes()
    nchunks = (words + CHUNK_WORDS - 1) // CHUNK_WORDS

    def chunk(k):
        n = min(CHUNK_WORDS, words - k * CHUNK_WORDS)
        b = bytearray(template[: n * WORD])
        for i in range(4):  # the chunk number in each word's high 32 bits
            b[4 + i :: WORD] = bytes(((k >> (8 * i)) & 0xFF,)) * n
        return b

    for k in range(nchunks):
        b = chunk(k)
        buf[k * CHUNK_WORDS * WORD : k * CHUNK_WORDS * WORD + len(b)] = b
        screen.step(k * CHUNK_WORDS, words * 2, "A")
    for k in range(nchunks):
        b = chunk(k)
        lo = k * CHUNK_WORDS * WORD
        if buf[lo : lo + len(b)] != b:
            got = memoryview(buf)[lo : lo + len(b)].cast("Q")
            want = memoryview(b).cast("Q")
            j = next(i for i in range(len(want)) if got[i] != want[i])
            raise MemoryErrorFound(
                "\n*** MEMORY ADDRESSING ERROR: word %d contains %d\n"
                % (k * CHUNK_WORDS + j, got[j])
            )
        screen.step(k * CHUNK_WORDS + words, words * 2, "A")


def _fill(buf, screen, make, ch):
    """Both halves get the same bytes, ``make(offset, size)`` for each chunk."""
    half = len(buf) // 2
    step = CHUNK_WORDS * WORD
    for lo in range(0, half, step):
        n = min(step, half - lo)
        b = make(lo, n)
        buf[lo : lo + n] = b
        buf[half + lo : half + lo + n] = b
        screen.step(lo + n, half, ch)


def _pages(even, odd):
    """memtest_fill_value's layout: 4 KB pages alternate v2 (even) and v1 (odd)."""
    pair = even + odd

    def make(lo, n):
        reps = (n + 2 * 4096 - 1) // (2 * 4096) + 1
        start = lo % (2 * 4096)
        return (pair * reps)[start : start + n]

    return make


def _compare(buf, screen):
    half = len(buf) // 2
    step = CHUNK_WORDS * WORD
    for lo in range(0, half, step):
        n = min(step, half - lo)
        if buf[lo : lo + n] != buf[half + lo : half + lo + n]:
            a = memoryview(buf)[lo : lo + n].cast("Q")
            b = memoryview(buf)[half + lo : half + lo + n].cast("Q")
            j = next(i for i in range(len(a)) if a[i] != b[i])
            raise MemoryErrorFound(
                "\n*** MEMORY ERROR DETECTED: %#x != %#x (%d)\n" % (a[j], b[j], a[j])
            )
        screen.step(lo + n, half, "=")


def memtest_test(buf, passes, screen):
    """memtest_test: ``passes`` rounds over ``buf``; raises MemoryErrorFound."""

    def compare_times(npass, times=4):
        for _ in range(times):
            screen.start("Compare", npass)
            _compare(buf, screen)
            screen.end()

    for npass in range(1, passes + 1):
        screen.start("Addressing test", npass)
        _addressing(buf, screen)
        screen.end()
        screen.start("Random fill", npass)
        _fill(buf, screen, lambda lo, n: random.randbytes(n), "R")
        screen.end()
        compare_times(npass)
        screen.start("Solid fill", npass)
        _fill(buf, screen, _pages(ONES, ZEROS), "S")
        screen.end()
        compare_times(npass)
        screen.start("Checkerboard fill", npass)
        _fill(buf, screen, _pages(ZEROONE, ONEZERO), "C")
        screen.end()
        compare_times(npass)


def memtest(megabytes, passes=50, out=None, err=None):
    """redis-server --test-memory: the exit status (0 passed, 1 failed or no memory)."""
    out = out or sys.stdout
    err = err or sys.stderr
    size = megabytes * 1024 * 1024
    try:
        if size < 0:
            raise MemoryError
        buf = bytearray(size)
    except MemoryError:
        err.write("Unable to allocate %d megabytes: %s" % (megabytes % 2**64, os.strerror(12)))
        return 1
    screen = Screen(out)
    try:
        memtest_test(buf, passes, screen)
    except MemoryErrorFound as e:
        out.write(str(e))
        out.flush()
        return 1
    out.write("\nYour memory passed this test.\n")
    out.write("Please if you are still in doubt use the following two tools:\n")
    out.write("1) memtest86: http://www.memtest86.com/\n")
    out.write("2) memtester: http://pyropus.ca/software/memtester/\n")
    out.flush()
    return 0
