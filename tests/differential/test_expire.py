"""EXPIRE family, TTL family and PERSIST against redis-server 7.0 (expire.c), and
expiry itself: lazy (on lookup) and active (keys nobody reads are reclaimed)."""

import time

from keyspace_helpers import events, lazy_only, needs  # noqa: F401 (fixtures)


FAR = 4102444800  # 2100-01-01 in seconds
FAR_MS = FAR * 1000


def test_expire_basic(diff):
    diff.run(
        """
        EXPIRE nothere 100
        PEXPIRE nothere 100
        EXPIREAT nothere %d
        PEXPIREAT nothere %d
        SET k v
        TTL k
        PTTL k
        EXPIRETIME k
        PEXPIRETIME k
        EXPIRE k 100
        TTL k
        EXPIRETIME nothere
        PEXPIRETIME nothere
        TTL nothere
        PTTL nothere
        EXPIREAT k %d
        EXPIRETIME k
        PEXPIRETIME k
        PEXPIREAT k %d
        EXPIRETIME k
        PEXPIRETIME k
        PERSIST k
        PERSIST k
        PERSIST nothere
        TTL k
        GET k
    """
        % (FAR, FAR_MS, FAR, FAR_MS + 1499)
    )


def test_ttl_rounding(diff):
    # TTL rounds the remaining milliseconds to the nearest second.
    diff.run(
        """
        SET a v
        PEXPIRE a 100400
        TTL a
        SET b v
        PEXPIRE b 100700
        TTL b
        SET c v
        PEXPIREAT c %d
        EXPIRETIME c
        SET d v
        PEXPIREAT d %d
        EXPIRETIME d
    """
        % (FAR_MS + 499, FAR_MS + 500)
    )


def test_expire_in_the_past_deletes(diff):
    diff.run("""
        SET a v
        EXPIRE a 0
        EXISTS a
        SET a v
        EXPIRE a -100
        EXISTS a
        SET a v
        PEXPIRE a -1
        EXISTS a
        SET a v
        EXPIREAT a 1
        EXISTS a
        SET a v
        PEXPIREAT a 0
        EXISTS a
        SET a v
        EXPIREAT a -9223372036854775
        EXISTS a
    """)


def test_expire_errors(diff):
    diff.run("""
        SET k v
        EXPIRE k abc
        EXPIRE k 1.5
        EXPIRE k ""
        EXPIRE k 9223372036854775808
        EXPIRE k 9223372036854776
        EXPIRE k -9223372036854776
        EXPIRE k 9223372036854775
        PEXPIRE k 9223372036854775807
        EXPIREAT k 9223372036854776
        EXPIREAT k -9223372036854776
        PEXPIRE k -9223372036854775808
        EXPIRE k 100 FOO
        EXPIRE k abc FOO
        EXPIRE k 100 NX XX
        EXPIRE k 100 NX GT
        EXPIRE k 100 LT NX
        EXPIRE k 100 GT LT
        EXPIRE k 100 XX GT LT
        EXPIRE k 100 NX XX GT LT
        PEXPIRE k 100 foo
        EXPIREAT k 100 bar
        PEXPIREAT k 100 nx xx
        EXPIRE
        EXPIRE k
        TTL
        TTL a b
        PERSIST
        PERSIST a b
        EXPIRETIME
        PEXPIRETIME a b
        EXPIRE nothere abc
        EXPIRE nothere 10 FOO
        EXPIRE nothere 9223372036854776
        TTL k
    """)


def test_expire_overflow_unsupported_option_text(diff):
    diff("SET", "k", "v")
    diff("EXPIRE", "k", "100", "x\r\ny")
    diff("EXPIRE", "k", "100", "")
    diff("EXPIRE", "k", "100", b"\xff\xfe")


def test_expire_at_llong_max(diff):
    diff.run("""
        SET k v
        PEXPIREAT k 9223372036854775807
        PEXPIRETIME k
        EXPIRETIME k
        EXPIREAT k 9223372036854775
        PEXPIRETIME k
    """)


def test_expire_flags(diff):
    diff.run(
        """
        SET k v
        EXPIREAT k %(a)d XX
        TTL k
        EXPIREAT k %(a)d GT
        TTL k
        EXPIREAT k %(a)d LT
        EXPIRETIME k
        PERSIST k
        EXPIREAT k %(a)d NX
        EXPIRETIME k
        EXPIREAT k %(b)d NX
        EXPIRETIME k
        EXPIREAT k %(b)d XX
        EXPIRETIME k
        EXPIREAT k %(a)d GT
        EXPIRETIME k
        EXPIREAT k %(c)d GT
        EXPIRETIME k
        EXPIREAT k %(c)d GT
        EXPIREAT k %(c)d LT
        EXPIREAT k %(d)d LT
        EXPIRETIME k
        EXPIREAT k %(a)d lt
        EXPIRETIME k
        EXPIREAT k %(b)d xx gt
        EXPIRETIME k
        EXPIREAT k %(a)d xx lt
        EXPIRETIME k
        EXPIREAT k %(b)d nx nx
        EXPIRETIME k
        PERSIST k
        EXPIREAT k 1 LT
        EXISTS k
        SET k v
        EXPIRE k -1 GT
        EXISTS k
        EXPIRE k 100 XX
        EXPIRE k -1 XX
        EXISTS k
    """
        % dict(a=FAR, b=FAR + 100, c=FAR + 200, d=FAR - 100)
    )


def test_expire_on_collections(diff):
    needs("rpush", "hset")
    diff.run(
        """
        RPUSH l a b
        EXPIREAT l %d
        EXPIRETIME l
        HSET h f v
        PEXPIREAT h %d
        PEXPIRETIME h
        PERSIST h
        PEXPIRETIME h
    """
        % (FAR, FAR_MS)
    )


def test_set_clears_ttl_and_keepttl(diff):
    needs("append", "incr")
    diff.run(
        """
        SET k v
        EXPIREAT k %d
        SET k w
        TTL k
        EXPIREAT k %d
        SET k x KEEPTTL
        EXPIRETIME k
        APPEND k y
        EXPIRETIME k
        INCR n
        EXPIREAT n %d
        INCR n
        EXPIRETIME n
    """
        % (FAR, FAR, FAR)
    )


def test_lazy_expiry(diff, lazy_only):
    diff.run("""
        SET a v
        PEXPIRE a 20
        SET b v
        PEXPIRE b 20
        SET c v
        PEXPIRE c 20
        SET d v
        PEXPIRE d 20
        SET e v
        PEXPIRE e 20
        TTL a
        EXISTS a
    """)
    time.sleep(0.05)
    diff.run("""
        GET a
        TTL b
        PTTL c
        EXPIRE d 100
        PERSIST e
        EXISTS a b c d e
        EXPIRETIME a
    """)


def test_expire_events(diff, events):
    diff.run(
        """
        SET k v
        EXPIRE k 100
        EXPIRE k 200 NX
        PEXPIRE k 100000
        EXPIREAT k %d
        PEXPIREAT k %d
        PERSIST k
        PERSIST k
        EXPIRE k -1
        EXPIRE k 10
        SET k v
        PEXPIRE k 10
    """
        % (FAR, FAR_MS)
    )
    ev = events.collect()
    kinds = [m[2].split(b":", 1)[1] for m in ev if m[2].startswith(b"__keyevent@")]
    assert b"del" in kinds and b"persist" in kinds and b"expire" in kinds
    time.sleep(0.05)
    diff("GET", "k")
    ev = events.collect()
    assert [m[2].split(b":", 1)[1] for m in ev if m[2].startswith(b"__keyevent@")] == [b"expired"]


def test_active_expiry_reclaims_unread_keys(diff):
    for i in range(30):
        diff("SET", "temp:%d" % i, "v", "PX", "30")
    diff("SET", "keep", "v")
    diff("DBSIZE")
    deadline = time.time() + 5
    while time.time() < deadline:
        time.sleep(0.1)
        ref = diff.ref.call("DBSIZE")
        ours = diff.our.call("DBSIZE")
        if ref == ours == b":1\r\n":
            break
    assert diff.ref.call("DBSIZE") == b":1\r\n"
    assert diff.our.call("DBSIZE") == b":1\r\n"
    diff("KEYS", "*")


def test_active_expiry_events(diff, events):
    diff("SET", "t", "v", "PX", "20")
    events.collect()
    time.sleep(0.6)  # no read: only the active cycle can reclaim it
    ev = events.collect()
    assert [m[2].split(b":", 1)[1] for m in ev if m[2].startswith(b"__keyevent@")] == [b"expired"]
    diff("DBSIZE")


def test_multi_expire(diff):
    needs("multi", "exec")
    diff.run(
        """
        SET k v
        MULTI
        EXPIREAT k %d
        TTL nothere
        PERSIST k
        EXPIRE k 0
        EXISTS k
        EXEC
    """
        % FAR
    )
