"""List commands against redis-server 7.0, byte for byte (t_list.c).

Blocking commands are covered here for their immediate (non-blocking) behaviour,
errors, MULTI and their replies once served; tests/commands/test_blocking.py has
the multi-client scenarios.
"""

import time

import pytest

from support import RawConn
from vermilion.core.table import COMMANDS


def need(*names):
    """Skip until the other families this test leans on are implemented."""
    missing = [
        n for n in names if n.encode() not in COMMANDS and n.split("|")[0].encode() not in COMMANDS
    ]
    for n in names:
        if "|" in n:
            top, sub = n.split("|")
            cmd = COMMANDS.get(top.encode())
            if cmd is None or not cmd.subcommands or sub.encode() not in cmd.subcommands:
                missing.append(n)
    if missing:
        pytest.skip("needs %s" % ", ".join(sorted(set(missing))))


# --------------------------------------------------------------------- pushes
def test_push_and_range(diff):
    diff.run("""
    LPUSH l a
    LPUSH l b c d
    RPUSH l x y z
    LRANGE l 0 -1
    LLEN l
    RPUSH l 1 2 3 -4 0001 3.5 18446744073709551616 -9223372036854775808
    LRANGE l 0 -1
    LLEN nolist
    """)


def test_pushx(diff):
    diff.run("""
    LPUSHX l a
    RPUSHX l a b
    LLEN l
    RPUSH l x
    LPUSHX l a b
    RPUSHX l c d
    LRANGE l 0 -1
    SET s v
    LPUSHX s a
    RPUSHX s a
    """)


def test_push_wrongtype_and_arity(diff):
    diff.run("""
    SET s v
    LPUSH s a
    RPUSH s a
    LPUSH l
    RPUSH l
    LPUSHX l
    LLEN s
    LLEN
    LLEN a b
    """)


def test_binary_and_empty_elements(diff):
    diff("RPUSH", "l", b"", b"\x00\xff\r\n", b"a" * 1000)
    diff("LRANGE", "l", 0, -1)
    diff("LPOS", "l", b"\x00\xff\r\n")
    diff("LREM", "l", 0, b"")
    diff("LRANGE", "l", 0, -1)


# ----------------------------------------------------------------------- pops
def test_pop_single(diff):
    diff.run("""
    RPUSH l a b c
    LPOP l
    RPOP l
    LPOP l
    LPOP l
    RPOP l
    LLEN l
    SET s v
    LPOP s
    RPOP s
    """)


def test_pop_count(diff):
    diff.run("""
    RPUSH l a b c d e
    LPOP l 2
    RPOP l 2
    LPOP l 0
    RPOP l 0
    LPOP l 10
    LPOP l 0
    LPOP l 1
    RPOP l 5
    RPUSH l a
    RPOP l 100
    LPOP l -1
    LPOP l abc
    RPOP l -5
    RPOP l 1.5
    LPOP l 1 2
    RPOP l 1 2 3
    SET s v
    LPOP s 0
    LPOP s 1
    LPOP s -1
    """)


def test_pop_count_resp3(diff3):
    diff3.run("""
    LPOP l 1
    RPOP l 0
    LPOP l
    RPUSH l a b
    LPOP l 0
    RPOP l 5
    """)


def test_pop_count_huge(diff):
    diff.run("""
    RPUSH l a b c
    LPOP l 9223372036854775807
    RPUSH l a b c
    RPOP l 9223372036854775807
    LPOP l 9223372036854775808
    """)


# --------------------------------------------------------------- LRANGE/LINDEX
def test_lrange_indexes(diff):
    diff("RPUSH", "l", *[str(i) for i in range(20)])
    for start, stop in [
        (0, 0),
        (0, -1),
        (-1, -1),
        (-3, -1),
        (5, 2),
        (-100, 3),
        (3, 100),
        (-100, -50),
        (19, 19),
        (20, 25),
        (-20, -20),
        (-21, 0),
        (2, -18),
        (0, -21),
        ("-9223372036854775808", "9223372036854775807"),
        (10, 15),
        (13, 18),
        (1, 18),
    ]:
        diff("LRANGE", "l", start, stop)
    diff.run("""
    LRANGE l a 1
    LRANGE l 1 b
    LRANGE l 1.0 2
    LRANGE nolist 0 -1
    LRANGE nolist a b
    SET s v
    LRANGE s 0 -1
    LRANGE s a 0
    """)


def test_lrange_long_list_tail(diff):
    diff("RPUSH", "l", *[str(i) for i in range(1000)])
    diff("LRANGE", "l", 990, 999)
    diff("LRANGE", "l", -5, -1)
    diff("LRANGE", "l", 400, 420)
    diff("LRANGE", "l", 600, 620)


def test_lrange_asked_again_around_every_write(diff):
    """The same LRANGEs before and after each kind of write (Vermilion keeps a
    list's last LRANGE reply until the list changes): the replies must follow."""
    diff("RPUSH", "l", "a", "b", "c", "d", "e")
    writes = [
        ("LPUSH", "l", "x"),
        ("RPUSH", "l", "y"),
        ("LSET", "l", "1", "z"),
        ("LINSERT", "l", "BEFORE", "b", "w"),
        ("LREM", "l", "1", "z"),
        ("LPOP", "l"),
        ("RPOP", "l"),
        ("LPUSHX", "l", "p"),
        ("RPUSHX", "l", "q"),
        ("LTRIM", "l", "1", "-1"),
        ("LMOVE", "l", "l", "LEFT", "RIGHT"),
        ("RPOPLPUSH", "l", "l"),
        ("LMOVE", "l", "other", "RIGHT", "LEFT"),
        ("LPOP", "l", "2"),
        ("LMPOP", "1", "l", "RIGHT", "COUNT", "1"),
        ("SORT", "l", "ALPHA", "STORE", "l"),
        ("COPY", "l", "copy"),
        ("LPUSH", "copy", "c1"),
        ("RENAME", "l", "l2"),
        ("RENAME", "l2", "l"),
        ("DEL", "l"),
        ("RPUSH", "l", "n1", "n2", "n3", "n4", "n5"),
    ]
    for w in writes:
        for key in ("l", "copy"):
            # (0, 2) is asked last before the write and first after it: the reply
            # kept for it must not outlive a write that changed those elements
            for start, stop in ((0, 2), (0, -1), (1, -2), (-3, -1), (0, 2)):
                diff("LRANGE", key, start, stop)
        diff(*w)
    diff("LRANGE", "l", 0, -1)
    diff("LRANGE", "copy", 0, -1)
    # a list rebuilt from RESTORE, and a MULTI that changes the list between reads
    diff("RPUSH", "r", "1", "2", "3")
    diff("LRANGE", "r", 0, -1)
    dump = diff.ref.call("DUMP", "r")
    assert dump[:1] == b"$"
    payload = dump.split(b"\r\n", 1)[1][:-2]
    diff("RESTORE", "r", "0", payload, "REPLACE")
    diff("LRANGE", "r", 0, -1)
    diff.run("""
    MULTI
    LRANGE r 0 -1
    RPUSH r 4
    LRANGE r 0 -1
    LSET r 0 one
    LRANGE r 0 -1
    EXEC
    """)


def test_lindex(diff):
    diff.run("""
    RPUSH l a b c
    LINDEX l 0
    LINDEX l 2
    LINDEX l 3
    LINDEX l -1
    LINDEX l -3
    LINDEX l -4
    LINDEX l 9223372036854775807
    LINDEX l -9223372036854775808
    LINDEX l x
    LINDEX l 1.5
    LINDEX nolist 0
    LINDEX nolist x
    SET s v
    LINDEX s 0
    LINDEX s x
    """)


def test_lindex_resp3(diff3):
    diff3.run("""
    LINDEX nolist 0
    RPUSH l a
    LINDEX l 5
    LINDEX l 0
    """)


def test_lset(diff):
    diff.run("""
    LSET nolist 0 x
    LSET nolist x x
    RPUSH l a b c
    LSET l 0 x
    LSET l -1 z
    LSET l 1 y
    LRANGE l 0 -1
    LSET l 3 q
    LSET l -4 q
    LSET l x q
    LSET l 9223372036854775807 q
    SET s v
    LSET s 0 x
    LSET s x x
    """)


# ------------------------------------------------------------------- LINSERT
def test_linsert(diff):
    diff.run("""
    LINSERT nolist BEFORE a x
    LINSERT nolist middle a x
    RPUSH l a b c b
    LINSERT l BEFORE b x
    LINSERT l after b y
    LINSERT l AfTeR c z
    LINSERT l before a first
    LINSERT l before nope w
    LINSERT l middle a w
    LRANGE l 0 -1
    SET s v
    LINSERT s before a b
    LINSERT s middle a b
    """)


# ---------------------------------------------------------------------- LREM
def test_lrem(diff):
    diff.run("""
    RPUSH l a b a c a b a
    LREM l 2 a
    LRANGE l 0 -1
    LREM l -1 b
    LRANGE l 0 -1
    LREM l 0 a
    LRANGE l 0 -1
    LREM l 0 nope
    LREM l 0 c
    LLEN l
    LREM l 0 b
    LLEN l
    LREM nolist 0 a
    LREM nolist x a
    LREM l x a
    RPUSH l x y x y x
    LREM l -2 x
    LRANGE l 0 -1
    LREM l -9223372036854775808 y
    LRANGE l 0 -1
    SET s v
    LREM s 0 a
    LREM s x a
    """)


def test_lrem_many(diff):
    diff("RPUSH", "l", *(["a", "b", "c"] * 200))
    diff("LREM", "l", 100, "a")
    diff("LREM", "l", -150, "b")
    diff("LRANGE", "l", 0, -1)
    diff("LREM", "l", 0, "c")
    diff("LRANGE", "l", 0, -1)


# --------------------------------------------------------------------- LTRIM
def test_ltrim(diff):
    for start, stop in [
        (0, -1),
        (1, -2),
        (0, 0),
        (-1, -1),
        (5, 3),
        (-100, 100),
        (3, 100),
        (100, 200),
        (-3, -2),
        (0, -100),
    ]:
        diff(
            "DEL" if "del" in [k.decode() for k in COMMANDS] else "LTRIM",
            "l",
            *(() if "del" in [k.decode() for k in COMMANDS] else (1, 0)),
        )
        diff("RPUSH", "l", *"abcdefghij")
        diff("LTRIM", "l", start, stop)
        diff("LRANGE", "l", 0, -1)
    diff.run("""
    LTRIM nolist 0 1
    LTRIM nolist a 1
    LTRIM l a 1
    LTRIM l 0 b
    SET s v
    LTRIM s 0 1
    """)


def test_ltrim_large(diff):
    diff("RPUSH", "l", *[str(i) for i in range(3000)])
    diff("LTRIM", "l", 1000, 1009)
    diff("LRANGE", "l", 0, -1)
    diff("RPUSH", "m", *[str(i) for i in range(3000)])
    diff("LTRIM", "m", 5, -5)
    diff("LLEN", "m")
    diff("LRANGE", "m", 0, 3)
    diff("LRANGE", "m", -3, -1)


# ---------------------------------------------------------------------- LPOS
def test_lpos(diff):
    diff.run("""
    RPUSH l a b c 1 2 3 c c
    LPOS l c
    LPOS l c RANK 2
    LPOS l c RANK -1
    LPOS l c RANK -3
    LPOS l c RANK 4
    LPOS l c COUNT 0
    LPOS l c COUNT 2
    LPOS l c COUNT 2 RANK 2
    LPOS l c COUNT 0 RANK -1
    LPOS l c COUNT 0 MAXLEN 3
    LPOS l c MAXLEN 2
    LPOS l c MAXLEN 3
    LPOS l c RANK -1 MAXLEN 2
    LPOS l c RANK -1 MAXLEN 1
    LPOS l nope
    LPOS l nope COUNT 1
    LPOS l c rank 1 count 1 maxlen 0
    LPOS l c RANK 0
    LPOS l c RANK x
    LPOS l c COUNT -1
    LPOS l c COUNT x
    LPOS l c MAXLEN -1
    LPOS l c MAXLEN x
    LPOS l c RANK
    LPOS l c FOO 1
    LPOS l c COUNT 1 RANK 0
    LPOS nolist a
    LPOS nolist a COUNT 1
    LPOS nolist a RANK 0
    LPOS l c RANK -9223372036854775808
    LPOS l c RANK -9223372036854775808 COUNT 2
    LPOS l c RANK 9223372036854775807
    LPOS l c COUNT 9223372036854775807
    SET s v
    LPOS s a
    LPOS s a COUNT 1
    LPOS s a RANK 0
    """)


def test_lpos_resp3(diff3):
    diff3.run("""
    LPOS nolist a
    LPOS nolist a COUNT 1
    RPUSH l a
    LPOS l b
    LPOS l a COUNT 5
    """)


# --------------------------------------------------------------- LMOVE & co.
def test_lmove(diff):
    diff.run("""
    RPUSH src a b c
    LMOVE src dst LEFT RIGHT
    LMOVE src dst RIGHT LEFT
    LMOVE src dst left left
    LRANGE dst 0 -1
    LLEN src
    LMOVE src dst LEFT LEFT
    LMOVE dst dst RIGHT LEFT
    LRANGE dst 0 -1
    LMOVE dst dst LEFT LEFT
    LMOVE dst dst middle LEFT
    LMOVE dst dst LEFT middle
    LMOVE nolist dst middle LEFT
    SET s v
    LMOVE dst s LEFT LEFT
    LMOVE s dst LEFT LEFT
    LRANGE dst 0 -1
    LMOVE nolist s LEFT LEFT
    """)


def test_rpoplpush(diff):
    diff.run("""
    RPUSH src a b c
    RPOPLPUSH src dst
    RPOPLPUSH src dst
    RPOPLPUSH src src
    LRANGE src 0 -1
    RPOPLPUSH src dst
    LRANGE dst 0 -1
    RPOPLPUSH src dst
    RPOPLPUSH nolist dst
    SET s v
    RPOPLPUSH dst s
    RPOPLPUSH s dst
    LRANGE dst 0 -1
    """)


def test_rpoplpush_single_element_self(diff):
    diff.run("""
    RPUSH l a
    RPOPLPUSH l l
    LRANGE l 0 -1
    LMOVE l l LEFT RIGHT
    LRANGE l 0 -1
    """)


def test_lmove_resp3(diff3):
    diff3.run("""
    LMOVE nolist dst LEFT LEFT
    RPOPLPUSH nolist dst
    """)


# --------------------------------------------------------------------- LMPOP
def test_lmpop(diff):
    diff.run("""
    LMPOP 2 a b LEFT
    RPUSH b 1 2 3 4 5
    LMPOP 2 a b LEFT
    LMPOP 2 a b RIGHT COUNT 2
    LMPOP 2 a b left count 10
    LMPOP 1 b LEFT
    RPUSH a x y
    LMPOP 2 a b RIGHT COUNT 1
    LMPOP 1 a RIGHT count 1 COUNT 1
    LMPOP 0 a LEFT
    LMPOP -1 a LEFT
    LMPOP x a LEFT
    LMPOP 2 a LEFT
    LMPOP 3 a b LEFT
    LMPOP 1 a MIDDLE
    LMPOP 1 a LEFT COUNT
    LMPOP 1 a LEFT COUNT 0
    LMPOP 1 a LEFT COUNT -1
    LMPOP 1 a LEFT COUNT x
    LMPOP 1 a LEFT FOO 1
    LMPOP 1 a LEFT COUNT 1 COUNT 2
    LMPOP 9223372036854775807 a LEFT
    LMPOP 1 a
    SET s v
    LMPOP 2 a s LEFT
    LMPOP 2 s a LEFT
    LMPOP 2 nolist s LEFT
    """)


def test_lmpop_resp3(diff3):
    diff3.run("""
    LMPOP 1 a LEFT
    RPUSH a x y z
    LMPOP 1 a RIGHT COUNT 2
    """)


# ------------------------------------------------------ blocking: no blocking
def test_blocking_pops_with_data(diff):
    diff.run("""
    RPUSH a 1 2 3
    RPUSH b x
    BLPOP nolist a b 0
    BRPOP nolist a b 0
    BRPOP b a 1
    BLPOP b a 0.5
    BLPOP a b 0.01
    LLEN a
    """)


def test_blocking_errors(diff):
    diff.run("""
    BLPOP a -1
    BLPOP a x
    BLPOP a inf
    BLPOP a -inf
    BLPOP a nan
    BLPOP a 1e400
    BLPOP a 9.3e15
    BLPOP a ""
    BLPOP a " 1"
    BLPOP a 1_0
    BLPOP a 0x
    BLPOP a 1.18e4932
    BLPOP a 1.19e4932
    BLPOP a 1e999999999
    BLPOP a 0x1p99999999
    BLPOP a 1e-4960
    BLPOP a 0X1P+99999
    BLPOP a 9223372036854775808
    BLPOP a -9223372036854775809
    BLPOP a 9223372036854776
    BLMOVE a b LEFT RIGHT -1
    BLMOVE a b LEFT RIGHT x
    BLMOVE a b MIDDLE RIGHT x
    BLMOVE a b LEFT MIDDLE x
    BRPOPLPUSH a b -1
    BRPOPLPUSH a b x
    BLMPOP -1 1 a LEFT
    BLMPOP x 1 a LEFT
    BLMPOP 0 0 a LEFT
    BLMPOP x 0 a LEFT
    BLMPOP x 1 a MIDDLE
    BLMPOP x 1 a LEFT COUNT 0
    BLMPOP 0 2 a LEFT
    BLPOP a
    BLMPOP 0 1 a
    """)


def test_blocking_wrongtype(diff):
    diff.run("""
    SET s v
    RPUSH l a
    BLPOP s l 0
    BLPOP nolist s 0
    BLPOP l s 0
    BRPOP s 0
    BLMOVE s l LEFT LEFT 0
    RPUSH l a
    BLMOVE l s LEFT LEFT 0
    LLEN l
    BRPOPLPUSH s l 0
    BRPOPLPUSH l s 0
    BLMPOP 0 2 nolist s LEFT
    BLMPOP 0 2 l s LEFT
    BLMPOP 0 2 s l LEFT
    """)


def test_blmove_and_blmpop_with_data(diff):
    diff.run("""
    RPUSH src a b c d e
    BLMOVE src dst RIGHT LEFT 0
    BLMOVE src dst left right 0
    BRPOPLPUSH src dst 0
    LRANGE dst 0 -1
    BLMPOP 0 2 nolist src LEFT COUNT 5
    BLMPOP 0.1 1 dst RIGHT
    BLMPOP 0 1 dst RIGHT COUNT 1
    LRANGE dst 0 -1
    """)


def test_blocking_timeouts_reply(diff):
    diff("BLPOP", "a", "b", "0.01")
    diff("BRPOP", "a", "0.01")
    diff("BLMOVE", "a", "b", "LEFT", "LEFT", "0.01")
    diff("BRPOPLPUSH", "a", "b", "0.01")
    diff("BLMPOP", "0.01", "2", "a", "b", "LEFT")
    diff("BLMPOP", "0.01", "1", "a", "RIGHT", "COUNT", "3")
    diff("BLPOP", "a", "1e-400")
    diff("BLPOP", "a", "0x1p-10")


def test_blocking_timeouts_reply_resp3(diff3):
    diff3("BLPOP", "a", "0.01")
    diff3("BLMOVE", "a", "b", "LEFT", "LEFT", "0.01")
    diff3("BLMPOP", "0.01", "1", "a", "LEFT")


def test_blocking_in_multi(diff):
    diff.run("""
    MULTI
    BLPOP a 0
    BRPOP a b 0
    BLMOVE a b LEFT LEFT 0
    BRPOPLPUSH a b 0
    BLMPOP 0 1 a LEFT
    RPUSH a x y z
    BLPOP a 0
    BLMOVE a b LEFT LEFT 0
    BLMPOP 0 1 a LEFT COUNT 5
    BLPOP a 0
    EXEC
    LRANGE b 0 -1
    MULTI
    BLPOP a -1
    BLPOP a x
    EXEC
    """)


def test_blocking_in_multi_resp3(diff3):
    diff3.run("""
    MULTI
    BLPOP a 0
    BLMOVE a b LEFT LEFT 0
    BLMPOP 0 1 a LEFT
    EXEC
    """)


# ---------------------------------------------------- blocked, then served
def _blocked_pair(real_redis, shared_vermilion):
    return (RawConn("127.0.0.1", real_redis.port), RawConn("127.0.0.1", shared_vermilion.port))


def _send_both(pair, *args):
    for conn in pair:
        conn.send_command(*args)


def _read_both(pair):
    a, b = (conn.read_reply() for conn in pair)
    assert b == a, "redis %r vs vermilion %r" % (a, b)
    return a


@pytest.fixture
def blocked(real_redis, shared_vermilion, diff):
    conns = []

    def make():
        pair = _blocked_pair(real_redis, shared_vermilion)
        conns.append(pair)
        return pair

    yield make
    for pair in conns:
        for conn in pair:
            conn.close()


def _sleep_for_block():
    time.sleep(0.05)


def test_served_blpop_brpop(diff, blocked):
    p1 = blocked()
    p2 = blocked()
    _send_both(p1, "BLPOP", "a", "b", "0")
    _sleep_for_block()
    _send_both(p2, "BRPOP", "b", "a", "0")
    _sleep_for_block()
    diff("RPUSH", "b", "1", "2", "3")
    assert _read_both(p1) == b"*2\r\n$1\r\nb\r\n$1\r\n1\r\n"
    _read_both(p2)
    diff("LRANGE", "b", 0, -1)


def test_served_blmpop(diff, blocked):
    p1 = blocked()
    _send_both(p1, "BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2")
    _sleep_for_block()
    diff("RPUSH", "b", "1", "2", "3")
    _read_both(p1)
    diff("LRANGE", "b", 0, -1)


def test_served_blmove_and_brpoplpush(diff, blocked):
    p1 = blocked()
    p2 = blocked()
    _send_both(p1, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    _sleep_for_block()
    _send_both(p2, "BRPOPLPUSH", "src", "dst", "0")
    _sleep_for_block()
    diff("RPUSH", "src", "a", "b", "c")
    _read_both(p1)
    _read_both(p2)
    diff("LRANGE", "src", 0, -1)
    diff("LRANGE", "dst", 0, -1)


def test_served_blmove_wrongtype_destination(diff, blocked):
    p1 = blocked()
    p2 = blocked()
    diff("SET", "dst", "x")
    _send_both(p1, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    _sleep_for_block()
    _send_both(p2, "BLPOP", "src", "0")
    _sleep_for_block()
    diff("RPUSH", "src", "a")
    assert _read_both(p1).startswith(b"-WRONGTYPE")
    _read_both(p2)
    diff("LLEN", "src")


def test_served_reply_resp3(diff, blocked):
    p1 = blocked()
    for conn in p1:
        conn.call("HELLO", "3") if b"hello" in COMMANDS else pytest.skip("needs hello")
    _send_both(p1, "BLMPOP", "0", "1", "a", "LEFT", "COUNT", "5")
    _sleep_for_block()
    diff("RPUSH", "a", "x", "y")
    _read_both(p1)
    _send_both(p1, "BLPOP", "a", "0.01")
    _read_both(p1)


def test_tiny_negative_timeout_blocks_forever(diff, blocked):
    # Redis: ceill(-0.001L * 1000) is -0, i.e. no timeout at all.
    p1 = blocked()
    _send_both(p1, "BRPOP", "a", "-0.001")
    time.sleep(0.3)
    diff("RPUSH", "a", "1")
    _read_both(p1)


def test_pipelined_after_blocking(diff, blocked):
    p1 = blocked()
    for conn in p1:
        conn.send(
            b"*3\r\n$5\r\nBLPOP\r\n$1\r\na\r\n$1\r\n0\r\n"
            b"*2\r\n$4\r\nLLEN\r\n$1\r\na\r\n"
            b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n"
        )
    _sleep_for_block()
    diff("RPUSH", "a", "1", "2")
    for _ in range(3):
        _read_both(p1)


def test_timeout_then_next_command(diff, blocked):
    p1 = blocked()
    for conn in p1:
        conn.send(
            b"*3\r\n$5\r\nBLPOP\r\n$1\r\na\r\n$4\r\n0.05\r\n"
            b"*3\r\n$5\r\nRPUSH\r\n$1\r\na\r\n$1\r\nz\r\n"
        )
    _read_both(p1)
    _read_both(p1)
    diff("LRANGE", "a", 0, -1)


def test_multi_exec_isolation(diff, blocked):
    p1 = blocked()
    _send_both(p1, "BLPOP", "a", "0")
    _sleep_for_block()
    diff.run("""
    MULTI
    RPUSH a x
    LPOP a
    EXEC
    MULTI
    RPUSH a y z
    RPUSH a w
    LPOP a
    EXEC
    """)
    _read_both(p1)
    diff("LRANGE", "a", 0, -1)


def test_lpush_del_does_not_wake(diff, blocked):
    need("del")
    p1 = blocked()
    _send_both(p1, "BLPOP", "a", "0.3")
    _sleep_for_block()
    diff.run("""
    MULTI
    LPUSH a x
    DEL a
    SET a foo
    EXEC
    """)
    _read_both(p1)


def test_blocked_key_becomes_string_stays_blocked(diff, blocked):
    need("del")
    p1 = blocked()
    _send_both(p1, "BLPOP", "a", "0")
    _sleep_for_block()
    diff("SET", "a", "str")
    _sleep_for_block()
    diff("DEL", "a")
    diff("RPUSH", "a", "v")
    _read_both(p1)


def test_client_unblock_errors(diff):
    diff.run("""
    CLIENT UNBLOCK 999999
    CLIENT UNBLOCK 999999 TIMEOUT
    CLIENT UNBLOCK 999999 ERROR
    CLIENT UNBLOCK 999999 FOO
    CLIENT UNBLOCK x
    CLIENT UNBLOCK x FOO
    CLIENT UNBLOCK 1 TIMEOUT extra
    CLIENT UNBLOCK
    """)


def _client_id(conn, server=None):
    return int(conn.call("CLIENT", "ID")[1:-2])


def test_client_unblock_timeout_and_error(diff, blocked):
    need("client|id")
    p1 = blocked()
    ids = [_client_id(conn) for conn in p1]
    _send_both(p1, "BLPOP", "a", "0")
    _sleep_for_block()
    a = diff.ref.call("CLIENT", "UNBLOCK", ids[0])
    b = diff.our.call("CLIENT", "UNBLOCK", ids[1])
    assert a == b == b":1\r\n"
    _read_both(p1)
    _send_both(p1, "BLMOVE", "a", "b", "LEFT", "LEFT", "0")
    _sleep_for_block()
    a = diff.ref.call("CLIENT", "UNBLOCK", ids[0], "ERROR")
    b = diff.our.call("CLIENT", "UNBLOCK", ids[1], "error")
    assert a == b == b":1\r\n"
    _read_both(p1)
    a = diff.ref.call("CLIENT", "UNBLOCK", ids[0])
    b = diff.our.call("CLIENT", "UNBLOCK", ids[1])
    assert a == b == b":0\r\n"


def test_object_encoding(diff):
    need("object|encoding", "config|set")
    diff.run("""
    RPUSH l a
    OBJECT ENCODING l
    CONFIG SET list-max-listpack-size 2
    RPUSH m a b c d e
    OBJECT ENCODING m
    CONFIG SET list-max-listpack-size -2
    """)


def _set_events(diff, shared_vermilion, flags):
    cmd = COMMANDS.get(b"config")
    if cmd is not None and cmd.subcommands and b"set" in cmd.subcommands:
        diff("CONFIG", "SET", "notify-keyspace-events", flags)
    else:  # until CONFIG SET lands: the same setting, applied in-process
        diff.ref.call("CONFIG", "SET", "notify-keyspace-events", flags)
        shared_vermilion.server.config.set("notify-keyspace-events", flags)


def test_keyspace_events(diff, blocked, real_redis, shared_vermilion):
    need("psubscribe", "del")
    subs = blocked()
    for conn in subs:
        conn.call("PSUBSCRIBE", "__key*__:*")
    _set_events(diff, shared_vermilion, "KEA")
    try:
        diff.run("""
        RPUSH l a b c d e f
        LPUSH l z
        LPUSHX l y
        RPUSHX l x
        LPUSHX nolist y
        LPOP l
        RPOP l 2
        LSET l 0 q
        LINSERT l BEFORE q p
        LINSERT l BEFORE nope p
        LREM l 1 p
        LREM l 1 nope
        LTRIM l 1 -1
        LTRIM l 0 -1
        LMOVE l l2 LEFT RIGHT
        RPOPLPUSH l2 l3
        LMPOP 1 l LEFT COUNT 1
        BLPOP l 0
        BLMOVE l l4 RIGHT LEFT 0
        BLMPOP 0 1 l RIGHT
        LTRIM l3 1 0
        RPUSH z 1
        RPOP z
        RPUSH z 1 2
        LPOP z 5
        RPUSH m 1 1
        LREM m 0 1
        """)
        # Events of blocked clients being served.
        waiters = [blocked() for _ in range(3)]
        _send_both(waiters[0], "BLPOP", "w1", "0")
        _sleep_for_block()
        _send_both(waiters[1], "BLMOVE", "w2", "w3", "RIGHT", "LEFT", "0")
        _sleep_for_block()
        _send_both(waiters[2], "BLMPOP", "0", "1", "w3", "LEFT", "COUNT", "5")
        _sleep_for_block()
        diff("RPUSH", "w1", "a", "b")
        diff("RPUSH", "w2", "c")
        for pair in waiters:
            _read_both(pair)
        diff("PING")
        subs_replies = []
        for conn in subs:
            conn.send_command("PING")  # not allowed in RESP2 psubscribe: both answer alike
        # Collect every event each server sent, until the PING answer.
        for conn in subs:
            got = []
            while True:
                rep = conn.read_reply()
                if not rep.startswith(b"*4\r\n"):
                    break
                got.append(rep)
            subs_replies.append(got)
        assert subs_replies[0] and subs_replies[1] == subs_replies[0]
    finally:
        _set_events(diff, shared_vermilion, "")


def test_random_operations_match_redis(diff):
    """A few thousand random list operations, replies compared one by one."""
    import random

    rnd = random.Random(7015)
    keys = ["k1", "k2", "k3"]
    vals = ["a", "b", "c", "1", "10", "", "x" * 70]
    idx = lambda: str(rnd.randint(-12, 12))  # noqa: E731
    ops = [
        lambda: ("LPUSH", rnd.choice(keys), *rnd.choices(vals, k=rnd.randint(1, 4))),
        lambda: ("RPUSH", rnd.choice(keys), *rnd.choices(vals, k=rnd.randint(1, 4))),
        lambda: ("LPOP", rnd.choice(keys)),
        lambda: ("RPOP", rnd.choice(keys), str(rnd.randint(0, 4))),
        lambda: ("LRANGE", rnd.choice(keys), idx(), idx()),
        lambda: ("LINDEX", rnd.choice(keys), idx()),
        lambda: ("LSET", rnd.choice(keys), idx(), rnd.choice(vals)),
        lambda: (
            "LINSERT",
            rnd.choice(keys),
            rnd.choice(["BEFORE", "AFTER"]),
            rnd.choice(vals),
            rnd.choice(vals),
        ),
        lambda: ("LREM", rnd.choice(keys), str(rnd.randint(-3, 3)), rnd.choice(vals)),
        lambda: ("LTRIM", rnd.choice(keys), idx(), idx()),
        lambda: (
            "LPOS",
            rnd.choice(keys),
            rnd.choice(vals),
            "RANK",
            rnd.choice(["1", "2", "-1", "-2"]),
            "COUNT",
            str(rnd.randint(0, 3)),
            "MAXLEN",
            str(rnd.randint(0, 8)),
        ),
        lambda: (
            "LMOVE",
            rnd.choice(keys),
            rnd.choice(keys),
            rnd.choice(["LEFT", "RIGHT"]),
            rnd.choice(["LEFT", "RIGHT"]),
        ),
        lambda: ("RPOPLPUSH", rnd.choice(keys), rnd.choice(keys)),
        lambda: (
            "LMPOP",
            "2",
            rnd.choice(keys),
            rnd.choice(keys),
            rnd.choice(["LEFT", "RIGHT"]),
            "COUNT",
            str(rnd.randint(1, 3)),
        ),
        lambda: ("BLPOP", *rnd.sample(keys, 2), "0.001"),
        lambda: ("LLEN", rnd.choice(keys)),
    ]
    for _ in range(3000):
        diff(*rnd.choice(ops)())
    for k in keys:
        diff("LRANGE", k, 0, -1)


# ------------------------------------------- elements kept in their bulk form
# RList stores each element as its RESP bulk ($<len>\r\n<element>\r\n): these
# check the lengths where the header grows, elements that look like RESP, and
# every path an element leaves by (replies, moves, scripts, SORT, searches).
_EDGE = [
    b"",
    b"x",
    b"123456789",
    b"1234567890",
    b"$3\r\nabc\r\n",
    b"\r\n",
    b"*1\r\n",
    b"\x00\xff",
    b"a" * 99,
    b"b" * 100,
    b"c" * 4095,
    b"d" * 4096,
    b"e" * 70000,
    b"-5",
    b"3.5",
]


def test_bulk_form_edges(diff):
    diff("RPUSH", "l", *_EDGE)
    diff("LPUSH", "l", *_EDGE[::-1])
    diff("LRANGE", "l", 0, -1)
    diff("LRANGE", "l", -3, -1)
    diff("LRANGE", "l", 5, 20)
    for i in (0, 4, 11, -1, -7):
        diff("LINDEX", "l", i)
    for e in (b"$3\r\nabc\r\n", b"\r\n", b"d" * 4096, b"", b"nope"):
        diff("LPOS", "l", e, "COUNT", 0)
        diff("LPOS", "l", e, "RANK", -1)
        diff("LPOS", "l", e, "RANK", 2, "MAXLEN", 20)
    diff("LINSERT", "l", "BEFORE", b"\r\n", b"$-1\r\n")
    diff("LINSERT", "l", "AFTER", b"e" * 70000, b"")
    diff("LSET", "l", 3, b"*2\r\n")
    diff("LREM", "l", -1, b"x")
    diff("LREM", "l", 1, b"")
    diff("LREM", "l", 0, b"c" * 4095)
    diff("LRANGE", "l", 0, -1)
    diff("LMOVE", "l", "m", "LEFT", "RIGHT")
    diff("RPOPLPUSH", "l", "m")
    diff("LMOVE", "m", "m", "RIGHT", "LEFT")
    diff("LRANGE", "m", 0, -1)
    diff("LPOP", "l")
    diff("RPOP", "l")
    diff("LPOP", "l", 3)
    diff("RPOP", "l", 3)
    diff("LMPOP", 2, "nokey", "l", "RIGHT", "COUNT", 2)
    diff("BLPOP", "l", 0)
    diff("BRPOP", "l", 0)
    diff("BLMPOP", 0, 1, "l", "LEFT", "COUNT", 2)
    diff("BLMOVE", "l", "m", "RIGHT", "RIGHT", 0)
    diff("LTRIM", "l", 1, -2)
    diff("LRANGE", "l", 0, -1)
    diff("LLEN", "l")
    diff("LRANGE", "m", 0, -1)


def test_bulk_form_in_multi_and_sort(diff):
    diff("RPUSH", "l", b"10", b"\r\n9", b"$1\r\n2\r\n", b"", b"x" * 5000)
    diff("MULTI")
    diff("LPOP", "l")
    diff("LRANGE", "l", 0, -1)
    diff("RPOPLPUSH", "l", "m")
    diff("LPOP", "l", 2)
    diff("EXEC")
    diff("RPUSH", "n", 3, 1, 2, 10, -1)
    diff("SORT", "n")
    diff("SORT", "n", "DESC", "LIMIT", 1, 3)
    diff("SORT", "n", "BY", "nosort", "DESC", "LIMIT", 1, 3)
    diff("SORT", "n", "STORE", "s")
    diff("LRANGE", "s", 0, -1)
    diff("SORT", "l", "ALPHA", "STORE", "s")
    diff("LRANGE", "s", 0, -1)
    diff("LPOS", "s", b"\r\n9")
    diff("COPY", "s", "t")
    diff("RPOP", "t")
    diff("LRANGE", "s", 0, -1)
    diff("DUMP", "s")


def _scripts_popping(d):
    d("RPUSH", "l", b"a", b"\r\n", b"", b"$2\r\nzz\r\n", b"1" * 200, b"7")
    for script in (
        "return redis.call('lpop', KEYS[1])",
        "return redis.call('rpop', KEYS[1], 2)",
        "return redis.call('lrange', KEYS[1], 0, -1)",
        "return redis.call('rpoplpush', KEYS[1], KEYS[1])",
        "return {redis.call('lmove', KEYS[1], KEYS[1], 'LEFT', 'RIGHT')}",
        "return redis.call('lmpop', 1, KEYS[1], 'LEFT')",
        "return redis.call('blpop', KEYS[1], 0)",
        "return type(redis.call('lpop', KEYS[1]))",
        "return redis.call('lpop', KEYS[1])",
    ):
        d("EVAL", script, 1, "l")
    d("LRANGE", "l", 0, -1)


def test_bulk_form_from_scripts(diff):
    _scripts_popping(diff)


def test_bulk_form_from_scripts_resp3(diff3):
    _scripts_popping(diff3)
