"""Client-side caching (CLIENT TRACKING) against redis-server, byte for byte."""

from support import RawConn


def scenario_both(real_redis, shared_vermilion, fn):
    res = []
    for port in (real_redis.port, shared_vermilion.port):
        res.append(fn(port))
    assert res[1] == res[0]


def test_default_mode_resp3(real_redis, shared_vermilion):
    def fn(port):
        a, b = RawConn("127.0.0.1", port), RawConn("127.0.0.1", port)
        a.call("FLUSHALL")
        a.call("HELLO", "3")
        out = [a.call("CLIENT", "TRACKING", "on"), a.call("SET", "k", "1"), a.call("GET", "k")]
        out.append(b.call("SET", "k", "2"))
        out.append(a.read_reply())  # the invalidation push
        out.append(b.call("SET", "k", "3"))  # not read again: no message
        out.append(a.call("GET", "k"))
        out.append(a.call("SET", "k", "4"))  # own write: reply first, then the push
        out.append(a.read_reply())
        out.append(a.call("CLIENT", "TRACKINGINFO"))
        out.append(a.call("CLIENT", "GETREDIR"))
        out.append(a.call("GET", "k"))
        out.append(b.call("FLUSHALL"))
        out.append(a.read_reply())
        out.append(a.call("CLIENT", "TRACKING", "off"))
        out.append(a.call("CLIENT", "TRACKINGINFO"))
        return out

    scenario_both(real_redis, shared_vermilion, fn)


def test_redirect_resp2(real_redis, shared_vermilion):
    def fn(port):
        a, r = RawConn("127.0.0.1", port), RawConn("127.0.0.1", port)
        a.call("FLUSHALL")
        rid = int(r.call("CLIENT", "ID")[1:-2])
        out = [r.call("SUBSCRIBE", "__redis__:invalidate")]
        out.append(a.call("CLIENT", "TRACKING", "on", "REDIRECT", str(rid)))
        a.call("GET", "x")
        a.call("MGET", "y", "z")
        a.call("SET", "y", "1")
        out.append(r.read_reply())
        out.append(a.call("CLIENT", "GETREDIR") == (":%d\r\n" % rid).encode())
        return out

    scenario_both(real_redis, shared_vermilion, fn)


def test_bcast_noloop_optin(real_redis, shared_vermilion):
    def fn(port):
        a, b = RawConn("127.0.0.1", port), RawConn("127.0.0.1", port)
        a.call("FLUSHALL")
        a.call("HELLO", "3")
        out = [a.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:")]
        b.call("MSET", "user:2", "x", "user:1", "y", "other", "z")
        out.append(a.call("PING"))
        out.append(a.read_reply())
        out.append(a.call("CLIENT", "TRACKING", "on", "PREFIX", "x"))
        out.append(a.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "use"))
        out.append(a.call("CLIENT", "TRACKING", "off"))
        out.append(a.call("CLIENT", "TRACKING", "on", "OPTIN", "NOLOOP"))
        out.append(a.call("GET", "k1"))
        out.append(a.call("CLIENT", "CACHING", "yes"))
        out.append(a.call("GET", "k2"))
        out.append(a.call("CLIENT", "CACHING", "no"))
        b.call("SET", "k1", "1")
        b.call("SET", "k2", "1")
        out.append(a.read_reply())
        out.append(a.call("CLIENT", "TRACKING", "on", "OPTOUT"))
        out.append(a.call("CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"))
        out.append(a.call("CLIENT", "TRACKING", "maybe"))
        out.append(a.call("CLIENT", "TRACKING", "on", "REDIRECT", "999999"))
        return out

    scenario_both(real_redis, shared_vermilion, fn)
