"""Pub/Sub and keyspace notifications against redis-server, byte for byte."""

import pytest

from support import RawConn


def both(real_redis, shared_vermilion):
    return [("redis", real_redis.port), ("vermilion", shared_vermilion.port)]


def run_on_both(real_redis, shared_vermilion, fn):
    results = {}
    for name, port in both(real_redis, shared_vermilion):
        results[name] = fn(port)
    assert results["vermilion"] == results["redis"]
    return results["redis"]


def test_subscribe_publish_unsubscribe(real_redis, shared_vermilion):
    def scenario(port):
        sub, pub = RawConn("127.0.0.1", port), RawConn("127.0.0.1", port)
        out = []
        sub.send_command("SUBSCRIBE", "a", "b", "a")
        out += [sub.read_reply() for _ in range(3)]
        sub.send_command("PSUBSCRIBE", "n*", "x?[yz]")
        out += [sub.read_reply() for _ in range(2)]
        out.append(pub.call("PUBLISH", "a", "hello"))
        out.append(sub.read_reply())
        out.append(pub.call("PUBLISH", "news", "n1"))
        out.append(sub.read_reply())
        out.append(pub.call("PUBLISH", "xay", "both?"))
        out.append(sub.read_reply())
        out.append(pub.call("PUBLISH", "nobody", "x"))
        out.append(pub.call("PUBSUB", "NUMSUB", "a", "b", "c"))
        out.append(pub.call("PUBSUB", "NUMPAT"))
        out.append(sub.call("PING"))
        out.append(sub.call("PING", "x"))
        out.append(sub.call("GET", "k"))
        sub.send_command("UNSUBSCRIBE", "b")
        out.append(sub.read_reply())
        sub.send_command("UNSUBSCRIBE")  # the rest (only 'a' is left: order is fixed)
        out.append(sub.read_reply())
        sub.send_command("PUNSUBSCRIBE", "n*")
        out.append(sub.read_reply())
        sub.send_command("PUNSUBSCRIBE")
        out.append(sub.read_reply())
        out.append(sub.call("GET", "k"))
        sub.close()
        pub.close()
        return out

    run_on_both(real_redis, shared_vermilion, scenario)


def test_resp3_pushes_and_commands_while_subscribed(real_redis, shared_vermilion):
    def scenario(port):
        sub, pub = RawConn("127.0.0.1", port), RawConn("127.0.0.1", port)
        sub.call("HELLO", "3")
        out = [sub.call("SUBSCRIBE", "ch")]
        out.append(sub.call("SET", "k", "v"))
        out.append(pub.call("PUBLISH", "ch", "m"))
        out.append(sub.read_reply())
        out.append(sub.call("PING"))
        out.append(sub.call("UNSUBSCRIBE", "ch"))
        out.append(sub.call("UNSUBSCRIBE"))
        sub.call("DEL", "k")
        return out

    run_on_both(real_redis, shared_vermilion, scenario)


def test_subscribe_inside_multi(real_redis, shared_vermilion):
    def scenario(port):
        c = RawConn("127.0.0.1", port)
        out = [c.call("MULTI"), c.call("SUBSCRIBE", "q"), c.call("EXEC")]
        return out

    run_on_both(real_redis, shared_vermilion, scenario)


def test_sharded(real_redis, shared_vermilion):
    def scenario(port):
        sub, pub = RawConn("127.0.0.1", port), RawConn("127.0.0.1", port)
        out = [sub.call("SSUBSCRIBE", "s1")]
        out.append(pub.call("SPUBLISH", "s1", "hi"))
        out.append(sub.read_reply())
        out.append(pub.call("PUBSUB", "SHARDCHANNELS"))
        out.append(pub.call("PUBSUB", "SHARDNUMSUB", "s1", "s2"))
        out.append(sub.call("SUNSUBSCRIBE"))
        return out

    run_on_both(real_redis, shared_vermilion, scenario)


def test_pubsub_help_and_errors(diff):
    diff("PUBSUB", "HELP")
    diff("PUBSUB", "NOPE")
    diff("PUBSUB", "CHANNELS", "a", "b")
    diff("PUBLISH", "a")


@pytest.mark.parametrize("flags", ["KEA", "Kg$", "El", "KEx", "gK"])
def test_keyspace_notifications(real_redis, shared_vermilion, flags):
    def scenario(port):
        admin, sub = RawConn("127.0.0.1", port), RawConn("127.0.0.1", port)
        admin.call("FLUSHALL")
        cfg = admin.call("CONFIG", "SET", "notify-keyspace-events", flags)
        shown = admin.call("CONFIG", "GET", "notify-keyspace-events")
        sub.call("PSUBSCRIBE", "__key*__:*")
        admin.call("SET", "k", "v")
        admin.call("DEL", "k")
        admin.call("DEL", "k")
        admin.call("SET", "e", "1", "PX", "1")
        import time

        time.sleep(0.05)
        admin.call("GET", "e")
        admin.call("CONFIG", "SET", "notify-keyspace-events", "")
        admin.call("PUBLISH", "__keyspace@0__:end", "end")
        msgs = []
        while True:
            m = sub.read_reply()
            if b"end" in m:
                break
            msgs.append(m)
        return [cfg, shown] + msgs

    run_on_both(real_redis, shared_vermilion, scenario)


def test_new_key_events(real_redis, shared_vermilion):
    """The 'n' class: one 'new' event when a key is created, none when overwritten."""

    def scenario(port):
        admin, sub = RawConn("127.0.0.1", port), RawConn("127.0.0.1", port)
        admin.call("FLUSHALL")
        admin.call("CONFIG", "SET", "notify-keyspace-events", "KEn")
        sub.call("PSUBSCRIBE", "*")
        admin.call("SET", "k1", "v")
        admin.call("SET", "k1", "v2")
        admin.call("LPUSH", "l1", "a")
        admin.call("HSET", "h1", "f", "v")
        admin.call("CONFIG", "SET", "notify-keyspace-events", "")
        admin.call("PUBLISH", "end", "end")
        msgs = []
        while True:
            m = sub.read_reply()
            if b"end" in m:
                break
            msgs.append(m)
        return msgs

    run_on_both(real_redis, shared_vermilion, scenario)
