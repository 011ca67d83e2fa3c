"""Corrupt DUMP payloads with a valid checksum: RESTORE answers an error or
restores something consistent, and the server never crashes.

redis-server 7.0.15 (``sanitize-dump-payload no``, its default) trusts a payload
whose CRC matches, and some of these crash it; Vermilion must answer every one
and stay consistent: the restored key can be read back whole (DUMP, DEBUG
DIGEST-VALUE, a full read by type) and a guard key is intact.
"""

import random
import struct

from probe import Spawned, outcome
from vermilion.persistence.crc64 import crc64

READ_BACK = {
    b"+string": ("GET",),
    b"+list": ("LRANGE", 0, -1),
    b"+set": ("SMEMBERS",),
    b"+zset": ("ZRANGE", 0, -1, "WITHSCORES"),
    b"+hash": ("HGETALL",),
    b"+stream": ("XRANGE", "-", "+"),
}

SEEDS = [
    ("RPUSH", "k", *["e%d" % i for i in range(20)]),
    ("RPUSH", "k", *["x" * 70 for _ in range(300)]),
    ("HSET", "k", *[x for i in range(20) for x in ("f%d" % i, "v%d" % i)]),
    ("HSET", "k", *[x for i in range(200) for x in ("f%d" % i, "v" * 70)]),
    ("SADD", "k", *range(50)),
    ("SADD", "k", *["m%d" % i for i in range(50)]),
    ("ZADD", "k", *[x for i in range(30) for x in (i * 1.5, "m%d" % i)]),
    ("ZADD", "k", *[x for i in range(200) for x in (i, "m" * 70 + str(i))]),
    ("XADD", "k", "*", "a", "1", "b", "2"),
    ("SET", "k", "hello world " * 5),
    ("PFADD", "k", *range(100)),
]


def _payload(server, seed):
    c = server.conn()
    c.call("DEL", "k")
    c.call(*seed)
    if seed[0] == "XADD":
        for i in range(20):
            c.call("XADD", "k", "*", "f", str(i))
        c.call("XGROUP", "CREATE", "k", "g", "0")
        c.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "5", "STREAMS", "k", ">")
    reply = c.call("DUMP", "k")
    c.close()
    n = int(reply[1 : reply.index(b"\r\n")])
    return reply[reply.index(b"\r\n") + 2 :][:n]


def _corrupt(payload, rng):
    body = bytearray(payload[:-8])
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(1, len(body) - 2)  # keep the type byte and RDB version
        body[i] = rng.randrange(256)
    return bytes(body) + struct.pack("<Q", crc64(0, bytes(body)))


def test_corrupt_restore_payloads_never_crash():
    rng = random.Random(7015)
    ours = Spawned("vermilion")
    try:
        payloads = [_corrupt(_payload(ours, seed), rng) for seed in SEEDS for _ in range(20)]
        guard = ours.conn()
        guard.call("SET", "guard", "intact")
        for p in payloads:
            r = outcome(ours, "RESTORE", "r", 0, p, "REPLACE")
            assert isinstance(r, bytes), (r, p)
            assert r == b"+OK\r\n" or r.startswith(b"-"), r
            if r == b"+OK\r\n":
                t = outcome(ours, "TYPE", "r")
                read = READ_BACK.get(t.strip())
                if read:
                    assert isinstance(outcome(ours, read[0], "r", *read[1:]), bytes)
                assert isinstance(outcome(ours, "DUMP", "r"), bytes)
                assert isinstance(outcome(ours, "DEBUG", "DIGEST-VALUE", "r"), bytes)
            assert ours.alive(), "crashed on %r" % p
        assert guard.call("GET", "guard") == b"$6\r\nintact\r\n"
    finally:
        ours.stop()
    # the same payloads against redis-server, for the record: it may crash, or
    # hang (no answer within 5 s: restarted, so one hang costs 5 s, not the rest)
    crashes = hangs = 0
    ref = Spawned("redis")
    try:
        for p in payloads:
            replies = [outcome(ref, "RESTORE", "r", 0, p, "REPLACE", timeout=5)]
            if replies[0] == b"+OK\r\n":
                t = outcome(ref, "TYPE", "r", timeout=5)
                read = READ_BACK.get(t.strip()) if isinstance(t, bytes) else None
                if read:
                    replies.append(outcome(ref, read[0], "r", *read[1:], timeout=5))
            if not ref.alive():
                crashes += 1
            elif all(isinstance(r, bytes) for r in replies):
                continue
            else:
                hangs += 1
            ref.stop()
            ref = Spawned("redis")
    finally:
        ref.stop()
    print(
        "redis-server crashed on %d and hung on %d of %d corrupt payloads; Vermilion on none"
        % (crashes, hangs, len(payloads))
    )
