"""Redis's own Sentinel (``redis-sentinel`` 7.0) monitoring Vermilion (issue #11).

Real processes only: three ``redis-sentinel`` processes with quorum 2, a master
and two replicas started with ``python3 -m vermilion`` (or redis-server, for
the mixed setups), each from a config file so that the ``CONFIG REWRITE`` that
Sentinel sends inside its ``MULTI``/``SLAVEOF``/``CONFIG REWRITE``/``CLIENT KILL
TYPE normal|pubsub``/``EXEC`` transaction has a file to rewrite.

What Sentinel needs from a monitored server (sentinel.c): ``CLIENT SETNAME``,
``PING`` (``-BUSY`` makes it send ``SCRIPT KILL``), ``INFO`` (run_id, role,
slaveN lines, master_host/port, master_link_status,
master_link_down_since_seconds, slave_priority, slave_repl_offset,
replica_announced), ``PUBLISH``/``SUBSCRIBE`` on ``__sentinel__:hello`` (how the
sentinels find each other) and the reconfiguration transaction above.

Scenarios: discovery (SENTINEL REPLICAS/SENTINELS/CKQUORUM, the sentinels'
connection names, the hello channel); kill -9 of the master under a load of
writes each acknowledged by ``WAIT 1 0``, none of them lost by the failover,
redis-py's ``Sentinel.master_for`` following; the old master restarted and
turned into a replica (SLAVEOF + CONFIG REWRITE, kept across another restart);
``SENTINEL FAILOVER`` demoting a live master; a Vermilion master with a
Vermilion and a redis-server replica (replica-priority, requirepass and an ACL
sentinel user) failing over twice; a redis-server master with Vermilion
replicas; a busy script killed by Sentinel's SCRIPT KILL.

Timing: down-after-milliseconds 2000 (see DOWN_AFTER), failover-timeout 4000,
and ``SENTINEL DEBUG info-period 1000 publish-period 500`` so that discovery
and the conversion of a restarted old master into a replica take seconds, not
tens of seconds. Ports: sentinels in 26000-26999, servers in 27000-27999.
"""

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import redis
from redis.sentinel import Sentinel

from support import RawConn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REDIS_SERVER = shutil.which("redis-server")
REDIS_SENTINEL = shutil.which("redis-sentinel")
if REDIS_SENTINEL is not None:
    SENTINEL_CMD = [REDIS_SENTINEL]
    SENTINEL_FLAG = []
elif REDIS_SERVER is not None:
    SENTINEL_CMD = [REDIS_SERVER]
    SENTINEL_FLAG = ["--sentinel"]
else:
    SENTINEL_CMD = None

pytestmark = pytest.mark.skipif(
    SENTINEL_CMD is None,
    reason="redis-sentinel (or redis-server --sentinel) is not installed: "
    "apt-get install redis-sentinel",
)

NAME = "mymaster"
# down-after-milliseconds: 2000, not 1000. After a switch Sentinel reuses the
# master's link object for the promoted replica (sentinelResetMaster): the
# "ping pending since" clock restarts at the switch but the reconnection
# throttle (last_reconn_time, one attempt per second, left over from retrying
# the dead master) does not, so the first connection to the new master may come
# up to ~1.1 s after the switch. With 1000 ms that sometimes flags the new master
# SDOWN before its first PONG, and the stale is-master-down-by-addr replies of the
# previous ODOWN (kept up to 5 s) turn it into an immediate ODOWN and a second
# failover. Redis's own sentinel tests use 2000 ms as well.
DOWN_AFTER = 2000  # ms
FAILOVER_TIMEOUT = 4000  # ms
# kill -9 to the sentinels agreeing on the promoted replica: down-after plus the
# ODOWN poll, the random start delay (up to 1 s), the vote, SLAVEOF NO ONE, the
# promotion seen in INFO and the other replica's reconfiguration
FAILOVER_DEADLINE = DOWN_AFTER / 1000 + 12

# the minimal ACL user for Sentinel from the Redis docs (sentinel.md, "Redis
# Access Control List authentication")
SENTINEL_USER = (
    "user sentinel-user on >sentpass allchannels +multi +slaveof +ping +exec "
    "+subscribe +config|rewrite +role +publish +info +client|setname +client|kill "
    "+script|kill"
)
AUTH_SERVER_CONF = ["requirepass secret", "masterauth secret", SENTINEL_USER]
AUTH_SENTINEL_CONF = ["auth-user %s sentinel-user", "auth-pass %s sentpass"]

_used_ports = set()


def _port(lo, hi):
    """A free port in [lo, hi) not handed out before by this module."""
    for _ in range(200):
        p = random.randrange(lo, hi)
        if p in _used_ports:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        _used_ports.add(p)
        return p
    raise RuntimeError("no free port in %d-%d" % (lo, hi))


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while True:
        try:
            v = cond()
        except (redis.RedisError, OSError):
            v = None
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(0.05)


def _wait_listening(port, proc, what, timeout=30, password=None):
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError("%s exited with %s" % (what, proc.returncode))
        try:
            c = redis.Redis(port=port, socket_timeout=2, password=password)
            c.ping()
            c.close()
            return
        except redis.BusyLoadingError:
            pass
        except (redis.RedisError, OSError):
            pass
        if time.time() > deadline:
            raise AssertionError("%s did not start on port %d" % (what, port))
        time.sleep(0.05)


class Server:
    """A Vermilion (``python3 -m vermilion``) or redis-server process started from
    its own config file, so CONFIG REWRITE works and a restart keeps the port."""

    def __init__(self, kind, replicaof=None, extra=(), password=None):
        self.kind = kind
        self.password = password
        self.port = _port(27000, 28000)
        self.dir = tempfile.mkdtemp(prefix="vermilion-sentinel-srv-")
        self.conf = os.path.join(self.dir, "server.conf")
        lines = [
            "port %d" % self.port,
            "bind 127.0.0.1",
            'dir "%s"' % self.dir,
            'save ""',
            "appendonly no",
            'logfile "server.log"',
            "repl-diskless-sync-delay 0",
            *extra,
        ]
        if replicaof is not None:
            lines.append("replicaof 127.0.0.1 %d" % replicaof)
        with open(self.conf, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        self.proc = None
        self.spawn()

    def spawn(self):
        if self.kind == "redis":
            cmd = [REDIS_SERVER, self.conf]
        else:
            cmd = [sys.executable, "-m", "vermilion", self.conf]
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            cmd, cwd=self.dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def wait_up(self):
        _wait_listening(
            self.port, self.proc, "%s on %d" % (self.kind, self.port), password=self.password
        )

    def start(self):
        self.spawn()
        self.wait_up()

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def client(self, **kw):
        kw.setdefault("socket_timeout", 5)
        return redis.Redis(port=self.port, password=self.password, **kw)

    def role(self):
        c = self.client()
        try:
            return c.execute_command("ROLE")
        finally:
            c.close()

    def follows(self, master_port):
        """ROLE says replica of 127.0.0.1:master_port with the link connected."""
        r = self.role()
        return (
            r[0] == b"slave"
            and int(r[2]) == master_port
            and r[3] == b"connected"
            and self.info("replication").get("master_link_status") == "up"
        )

    def info(self, section=None):
        c = self.client()
        try:
            return c.info(section) if section else c.info()
        finally:
            c.close()

    def config_text(self):
        with open(self.conf) as fh:
            return fh.read()

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as fh:
                return fh.read()
        except OSError:
            return ""

    def stop(self):
        if self.alive:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelProc:
    """One redis-sentinel 7.0 process monitoring ``masters`` [(name, port, quorum)]."""

    def __init__(self, masters, extra=()):
        self.port = _port(26000, 27000)
        self.dir = tempfile.mkdtemp(prefix="vermilion-sentinel-")
        self.conf = os.path.join(self.dir, "sentinel.conf")
        lines = [
            "port %d" % self.port,
            "bind 127.0.0.1",
            'dir "%s"' % self.dir,
            'logfile "sentinel.log"',
        ]
        for name, port, quorum in masters:
            lines += [
                "sentinel monitor %s 127.0.0.1 %d %d" % (name, port, quorum),
                "sentinel down-after-milliseconds %s %d" % (name, DOWN_AFTER),
                "sentinel failover-timeout %s %d" % (name, FAILOVER_TIMEOUT),
                "sentinel parallel-syncs %s 1" % name,
            ]
            lines += ["sentinel " + (x % name) for x in extra]
        with open(self.conf, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(
            SENTINEL_CMD + [self.conf] + SENTINEL_FLAG,
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(self.port, self.proc, "redis-sentinel on %d" % self.port)
        c = self.client()
        # timing only: INFO every second (not 10 s) and hello every 0.5 s (not 2 s);
        # a replica reporting role:master is converted after 4 publish periods
        c.execute_command("SENTINEL", "DEBUG", "info-period", 1000, "publish-period", 500)
        self.myid = c.execute_command("SENTINEL", "MYID").decode()
        c.close()

    def client(self):
        return redis.Redis(port=self.port, socket_timeout=5)

    def cmd(self, *args):
        c = self.client()
        try:
            return c.execute_command(*args)
        finally:
            c.close()

    def master(self, name=NAME):
        return _pairs(self.cmd("SENTINEL", "MASTER", name))

    def replicas(self, name=NAME):
        return [_pairs(r) for r in self.cmd("SENTINEL", "REPLICAS", name)]

    def sentinels(self, name=NAME):
        return [_pairs(r) for r in self.cmd("SENTINEL", "SENTINELS", name)]

    def master_port(self, name=NAME):
        addr = self.cmd("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
        return int(addr[1])

    def log(self):
        try:
            with open(os.path.join(self.dir, "sentinel.log")) as fh:
                return fh.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _pairs(reply):
    """A SENTINEL MASTER/REPLICAS/SENTINELS entry (a flat list, or a dict when
    redis-py already paired it) as {str: str}."""
    items = reply.items() if isinstance(reply, dict) else zip(*[iter(reply)] * 2)
    return {_s(k): _s(v) for k, v in items}


def _s(v):
    return v.decode() if isinstance(v, bytes) else v


class Setup:
    """A master of ``master_kind``, replicas of ``replica_kinds`` and three
    sentinels with quorum 2."""

    def __init__(self, master_kind, replica_kinds, **kw):
        self.servers = []
        self.sentinels = []
        try:
            self._start(master_kind, replica_kinds, **kw)
        except BaseException:
            print(self.dump_logs())
            self.stop()
            raise

    def _start(
        self, master_kind, replica_kinds, sentinels=3, quorum=2, server_extra=(), auth=False
    ):
        sentinel_extra = ()
        self.password = None
        if auth:
            server_extra = [*server_extra, *AUTH_SERVER_CONF]
            sentinel_extra = AUTH_SENTINEL_CONF
            self.password = "secret"
        kw = dict(extra=server_extra, password=self.password)
        self.master = self._add(Server(master_kind, **kw))
        self.master.wait_up()
        # a replica kind may be (kind, [extra config lines])
        self.replicas = []
        for k in replica_kinds:
            k, more = (k, []) if isinstance(k, str) else k
            r = Server(
                k, replicaof=self.master.port, extra=[*server_extra, *more], password=self.password
            )
            self.replicas.append(self._add(r))
        for r in self.replicas:
            r.wait_up()
        for r in self.replicas:
            wait_for(lambda: r.follows(self.master.port), 20, "%s replica in sync" % r.kind)
        for _ in range(sentinels):
            self.sentinels.append(
                SentinelProc([(NAME, self.master.port, quorum)], extra=sentinel_extra)
            )

    def _add(self, s):
        self.servers.append(s)
        return s

    def by_port(self, port):
        return next(s for s in self.servers if s.port == port)

    def sentinel_addrs(self):
        return [("127.0.0.1", s.port) for s in self.sentinels]

    def wait_discovered(self, replicas=None, timeout=20):
        """Every sentinel lists the live replicas (no s_down / disconnected flag)
        and the other sentinels."""
        if replicas is None:
            replicas = self.replicas
        want = sorted(r.port for r in replicas)

        def ok():
            for s in self.sentinels:
                seen = sorted(int(r["port"]) for r in s.replicas() if r["flags"] == "slave")
                if seen != want:
                    return False
                if len([x for x in s.sentinels() if x["flags"] == "sentinel"]) != (
                    len(self.sentinels) - 1
                ):
                    return False
            return True

        wait_for(ok, timeout, "sentinels to discover replicas %s and each other" % want)

    def wait_failover(self, old_port, timeout=FAILOVER_DEADLINE):
        """Every sentinel reports the same new master, which says role:master,
        and no failover in progress (the leader keeps failover_in_progress until
        the other replicas are reconfigured)."""

        def agreed():
            masters = [s.master() for s in self.sentinels]
            ports = {int(m["port"]) for m in masters}
            if len(ports) != 1 or any(m["flags"] != "master" for m in masters):
                return None
            port = ports.pop()
            if port == old_port:
                return None
            if self.by_port(port).role()[0] != b"master":
                return None
            return port

        return wait_for(agreed, timeout, "the sentinels to fail over from %d" % old_port)

    def dump_logs(self):
        out = []
        for s in self.sentinels:
            out.append("---- sentinel %d\n%s" % (s.port, s.log()[-4000:]))
        for s in self.servers:
            out.append("---- %s %d\n%s" % (s.kind, s.port, s.log()[-3000:]))
        return "\n".join(out)

    def stop(self):
        for s in self.sentinels:
            s.stop()
        for s in self.servers:
            s.stop()


@pytest.fixture
def make_setup(request):
    made = []

    def make(*args, **kw):
        st = Setup(*args, **kw)
        made.append(st)
        return st

    failed_before = request.session.testsfailed
    yield make
    # the call phase's report is logged before the teardown: on a failure, show
    # the sentinels' and servers' logs
    failed = request.session.testsfailed > failed_before
    for st in made:
        if failed:
            print(st.dump_logs())
        st.stop()


class Writer(threading.Thread):
    """Writes k:0..k:n-1 through redis-py's Sentinel client, each SET followed
    by ``WAIT 1 0``; a key counts as acknowledged only when WAIT says at least
    one replica has it. Errors (master gone, READONLY, timeouts) retry the
    same key after a short pause; the client re-asks the sentinels."""

    def __init__(self, sentinel_addrs, n, deadline, password=None):
        super().__init__(daemon=True)
        self.sentinel = Sentinel(sentinel_addrs, socket_timeout=2)
        self.password = password
        self.n = n
        self.deadline = deadline
        self.acked = []
        self.errors = 0
        self.masters = set()

    def run(self):
        m = self.sentinel.master_for(NAME, socket_timeout=3, password=self.password)
        i = 0
        while i < self.n and time.time() < self.deadline:
            key = "k:%d" % i
            try:
                m.set(key, i)
                n = m.execute_command("WAIT", 1, 0)
                self.masters.add(m.connection_pool.master_address)
            except (redis.RedisError, OSError):
                self.errors += 1
                time.sleep(0.05)
                continue
            if n >= 1:
                self.acked.append(key)
            i += 1
        m.close()


def missing_keys(server, keys):
    c = server.client()
    try:
        missing = []
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            for k, v in zip(chunk, c.mget(chunk)):
                if v is None:
                    missing.append(k)
        return missing
    finally:
        c.close()


# ---------------------------------------------------------------- scenarios


class TestVermilionOnly:
    """A Vermilion master with two Vermilion replicas."""

    def test_discovery_failover_and_rejoin(self, make_setup):
        st = make_setup("vermilion", ["vermilion", "vermilion"])
        master = st.master

        # (a) discovery: replicas from the master's INFO, sentinels from the hello channel
        st.wait_discovered()
        run_id = master.info("server")["run_id"]
        for s in st.sentinels:
            m = s.master()
            assert m["flags"] == "master"
            assert m["runid"] == run_id
            assert int(m["num-slaves"]) == 2
            assert int(m["num-other-sentinels"]) == 2
            assert m["role-reported"] == "master"
            for r in s.replicas():
                assert r["master-link-status"] == "ok"
                assert int(r["master-port"]) == master.port
                assert r["role-reported"] == "slave"
                assert int(r["slave-priority"]) == 100
                assert len(r["runid"]) == 40
            assert sorted(int(x["port"]) for x in s.sentinels()) == sorted(
                o.port for o in st.sentinels if o is not s
            )
            assert s.cmd("SENTINEL", "CKQUORUM", NAME) == (
                b"OK 3 usable Sentinels. Quorum and failover authorization can be reached"
            )
        c = master.client()
        names = {cl["name"] for cl in c.client_list()}
        for s in st.sentinels:
            assert "sentinel-%s-cmd" % s.myid[:8] in names
            assert "sentinel-%s-pubsub" % s.myid[:8] in names
        assert c.pubsub_numsub("__sentinel__:hello") == [(b"__sentinel__:hello", 3)]
        c.close()
        for r in st.replicas:
            assert r.client().pubsub_numsub("__sentinel__:hello")[0][1] == 3

        # (b) kill -9 of the master under a WAIT-acknowledged write load
        writer = Writer(st.sentinel_addrs(), 2000, time.time() + 60)
        writer.start()
        wait_for(lambda: len(writer.acked) >= 400, 20, "400 acknowledged writes")
        master.kill9()
        t0 = time.time()
        new_port = st.wait_failover(master.port)
        took = time.time() - t0
        print("failover (Vermilion -> Vermilion) in %.1fs" % took)
        assert new_port in [r.port for r in st.replicas]
        new_master = st.by_port(new_port)
        other = next(r for r in st.replicas if r.port != new_port)
        wait_for(lambda: other.follows(new_port), 10, "the other replica to follow the new master")
        took_all = time.time() - t0
        assert took_all < FAILOVER_DEADLINE, took_all

        writer.join(60)
        assert not writer.is_alive()
        assert len(writer.acked) == 2000, (len(writer.acked), writer.errors)
        assert ("127.0.0.1", new_port) in writer.masters
        missing = missing_keys(new_master, writer.acked)
        assert not missing, "%d acknowledged writes lost: %s" % (len(missing), missing[:10])
        # the reconfigured replica converges on the new master's data set
        nm = new_master.client()
        oc = other.client()
        wait_for(
            lambda: (
                oc.info("replication")["slave_repl_offset"]
                == nm.info("replication")["master_repl_offset"]
            ),
            10,
            "the other replica to catch up",
        )
        assert oc.dbsize() == nm.dbsize()
        assert not missing_keys(other, writer.acked)
        # Sentinel's MULTI/SLAVEOF/CONFIG REWRITE/CLIENT KILL/EXEC rewrote the configs
        assert re.search(r"^replicaof 127\.0\.0\.1 %d$" % new_port, other.config_text(), re.M)
        assert not re.search(r"^replicaof ", new_master.config_text(), re.M)
        for s in st.sentinels:
            assert s.master()["flags"] == "master"

        # (d) the old master comes back: Sentinel turns it into a replica
        master.start()
        wait_for(lambda: master.follows(new_port), 20, "the old master to become a replica")
        assert re.search(r"^replicaof 127\.0\.0\.1 %d$" % new_port, master.config_text(), re.M)
        assert not missing_keys(master, writer.acked)
        st.replicas = [r for r in st.servers if r.port != new_port]
        st.wait_discovered()
        for s in st.sentinels:
            m = s.master()
            assert int(m["port"]) == new_port and m["flags"] == "master"
            assert s.cmd("SENTINEL", "CKQUORUM", NAME).startswith(b"OK 3 usable")
        assert "+convert-to-slave" in "".join(s.log() for s in st.sentinels)
        # a restart keeps the rewritten role
        master.kill9()
        master.start()
        wait_for(lambda: master.follows(new_port), 20, "the old master to follow again")

        # (e) SENTINEL FAILOVER with the master alive: the promoted replica and
        # then the demoted master get MULTI/SLAVEOF/CONFIG REWRITE/CLIENT KILL
        # TYPE normal|pubsub/EXEC; normal and pub/sub clients are disconnected
        st.wait_discovered()
        probe = RawConn("127.0.0.1", new_port)
        assert probe.call("PING") == b"+PONG\r\n"
        sub = RawConn("127.0.0.1", new_port)
        sub.call("SUBSCRIBE", "news")
        assert st.sentinels[0].cmd("SENTINEL", "FAILOVER", NAME) == b"OK"
        third = st.wait_failover(new_port)
        assert third in [r.port for r in st.replicas]
        wait_for(lambda: new_master.follows(third), 20, "the demoted master to follow")
        assert probe.is_closed(5) and sub.is_closed(5)
        for srv in st.servers:
            if srv.port != third:
                wait_for(lambda: srv.follows(third), 10, "%d to follow %d" % (srv.port, third))
                text = srv.config_text()
                assert re.search(r"^replicaof 127\.0\.0\.1 %d$" % third, text, re.M)
        assert not re.search(r"^replicaof ", st.by_port(third).config_text(), re.M)
        assert not missing_keys(st.by_port(third), writer.acked)


class TestMixed:
    def test_vermilion_master_with_vermilion_and_redis_replicas(self, make_setup):
        """Two failovers in a row: the first promotes one of the replicas and
        reconfigures the other to follow it; killing that one promotes the
        other, so a Vermilion and a redis-server replica are both promoted.
        The Vermilion replica has the better (lower) replica-priority, so it
        goes first: Sentinel read slave_priority from its INFO. With
        requirepass on the servers and the sentinels authenticating as the
        minimal ACL user that the Redis docs give for Sentinel."""
        if REDIS_SERVER is None:
            pytest.skip("redis-server is not installed")
        st = make_setup(
            "vermilion",
            [("vermilion", ["replica-priority 10"]), ("redis", ["replica-priority 20"])],
            auth=True,
        )
        st.wait_discovered()
        for s in st.sentinels:
            prio = {int(r["port"]): int(r["slave-priority"]) for r in s.replicas()}
            assert prio == {st.replicas[0].port: 10, st.replicas[1].port: 20}
        m = st.master.client()
        for i in range(200):
            m.set("a:%d" % i, i)
        assert m.execute_command("WAIT", 2, 5000) == 2
        m.close()

        st.master.kill9()
        first = st.wait_failover(st.master.port)
        assert first == st.replicas[0].port
        second = st.replicas[1]
        wait_for(lambda: second.follows(first), 10, "the redis-server replica to follow")
        promoted = [st.by_port(first).kind]
        c = st.by_port(first).client()
        for i in range(200, 300):
            c.set("a:%d" % i, i)
        assert c.execute_command("WAIT", 1, 5000) == 1
        c.close()
        st.replicas = [second]
        st.wait_discovered()

        st.by_port(first).kill9()
        final = st.wait_failover(first)
        assert final == second.port
        promoted.append(second.kind)
        assert promoted == ["vermilion", "redis"]
        keys = ["a:%d" % i for i in range(300)]
        assert not missing_keys(second, keys)
        sentinel = Sentinel(st.sentinel_addrs(), socket_timeout=2)
        assert sentinel.discover_master(NAME) == ("127.0.0.1", second.port)
        mc = sentinel.master_for(NAME, socket_timeout=2, password="secret")
        mc.set("after", "1")
        assert mc.get("after") == b"1"
        mc.close()

    def test_redis_master_with_vermilion_replicas(self, make_setup):
        if REDIS_SERVER is None:
            pytest.skip("redis-server is not installed")
        st = make_setup("redis", ["vermilion", "vermilion"])
        st.wait_discovered()
        for s in st.sentinels:
            assert s.cmd("SENTINEL", "CKQUORUM", NAME).startswith(b"OK 3 usable")
        writer = Writer(st.sentinel_addrs(), 1000, time.time() + 60)
        writer.start()
        wait_for(lambda: len(writer.acked) >= 300, 20, "300 acknowledged writes")
        st.master.kill9()
        t0 = time.time()
        new_port = st.wait_failover(st.master.port)
        new_master = st.by_port(new_port)
        assert new_master.kind == "vermilion"
        other = next(r for r in st.replicas if r.port != new_port)
        wait_for(lambda: other.follows(new_port), 10, "the other replica to follow")
        print("failover (redis-server -> Vermilion) in %.1fs" % (time.time() - t0))
        writer.join(60)
        assert len(writer.acked) == 1000, (len(writer.acked), writer.errors)
        assert not missing_keys(new_master, writer.acked)

        # the old redis-server master rejoins as a replica of the Vermilion master
        st.master.start()
        wait_for(lambda: st.master.follows(new_port), 20, "the old master to become a replica")
        assert not missing_keys(st.master, writer.acked)


def test_busy_script_killed_by_sentinel(make_setup):
    """A master busy in a read-only script answers PING with -BUSY; once it is
    subjectively down Sentinel sends SCRIPT KILL (sentinelPingReplyCallback).
    A single sentinel with quorum 2 never reaches ODOWN, so no failover."""
    st = make_setup("vermilion", [], sentinels=1, server_extra=["busy-reply-threshold 100"])
    s = st.sentinels[0]
    wait_for(lambda: s.master()["flags"] == "master", 10, "the master to be seen")
    result = {}

    def busy():
        c = st.master.client(socket_timeout=30)
        t = time.time()
        try:
            c.eval("while true do end", 0)
        except redis.ResponseError as e:
            result["error"] = str(e)
        result["took"] = time.time() - t
        c.close()

    th = threading.Thread(target=busy, daemon=True)
    th.start()
    # (generous: on a loaded machine the sentinel's PINGs and its SCRIPT KILL are slow)
    th.join(DOWN_AFTER / 1000 + 30)
    assert not th.is_alive(), "the script was not killed"
    assert "Script killed by user with SCRIPT KILL" in result["error"], result
    assert result["took"] >= DOWN_AFTER / 1000 * 0.9
    wait_for(lambda: s.master()["flags"] == "master", 10, "the master to be up again")
    assert st.master.client().ping()
