"""Replication over TLS with a real redis-server 7.0, in both directions.

With ``tls-replication yes`` a replica dials its master's TLS port with its
client context (its ``tls-client-cert-file`` when set, else its server
certificate; the master's certificate checked against the CA) and announces its
own ``tls-port`` in REPLCONF listening-port. A master needs nothing special:
a replica arriving on the TLS listener is a client like any other.

* Vermilion replicates a TLS-only redis-server master (``port 0``), which
  requires client certificates (``tls-auth-clients yes``);
* a redis-server replicates a Vermilion master through Vermilion's TLS port;
* without ``tls-replication`` the link to a TLS port never comes up, and a
  replica whose CA does not know the master's certificate refuses the master.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import redis

from support import REDIS_SERVER, free_port
from vermilion.embed import start_server
from replhelp import wait_for, link_up, dataset
from test_master import populate
from security.tlscerts import certs

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


class TLSRedis:
    """A redis-server with a TLS port (and a plain one for the test to look with,
    unless ``plain=False``)."""

    def __init__(self, *extra, plain=True):
        c = certs()
        self.dir = tempfile.mkdtemp(prefix="vermilion-tlsrepl-")
        self.port = free_port() if plain else 0
        self.tls_port = free_port()
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
                "--logfile",
                "redis.log",
                "--repl-diskless-sync-delay",
                "0",
                "--tls-port",
                str(self.tls_port),
                "--tls-cert-file",
                c["redis_crt"],
                "--tls-key-file",
                c["redis_key"],
                "--tls-ca-cert-file",
                c["ca"],
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start:\n" + self.log())
                time.sleep(0.05)

    def client(self, **kw):
        c = certs()
        if self.port:
            return redis.Redis(port=self.port, **kw)
        return redis.Redis(
            port=self.tls_port,
            ssl=True,
            ssl_certfile=c["client_crt"],
            ssl_keyfile=c["client_key"],
            ssl_ca_certs=c["ca"],
            ssl_check_hostname=False,
            **kw,
        )

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log")) as fh:
                return fh.read()
        except OSError:
            return ""

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def ours_with_tls(**options):
    c = certs()
    opts = dict(
        tls_port=free_port(),
        tls_cert_file=c["redis_crt"],
        tls_key_file=c["redis_key"],
        tls_ca_cert_file=c["ca"],
    )
    opts.update(options)
    return start_server(**opts)


def tls_dataset(client):
    """dataset() through a given client (a TLS-only server has no plain port):
    every key of db 0..15 with a canonical value (sets sorted, not DUMPed)."""
    out = {}
    x = client.execute_command
    for db in range(16):
        x("SELECT", db)
        for key in client.scan_iter(count=1000):
            t = client.type(key)
            if t == b"string":
                v = client.get(key)
            elif t == b"list":
                v = tuple(client.lrange(key, 0, -1))
            elif t == b"set":
                v = tuple(sorted(client.smembers(key)))
            elif t == b"zset":
                v = tuple(client.zrange(key, 0, -1, withscores=True))
            elif t == b"hash":
                v = tuple(sorted(client.hgetall(key).items()))
            else:
                v = tuple((i, tuple(sorted(f.items()))) for i, f in client.xrange(key))
            out[(db, key)] = (t, v, client.pttl(key) > 0)
    x("SELECT", 0)
    return out


def test_vermilion_replicates_a_tls_redis_master():
    master = TLSRedis("--port", "0", "--tls-auth-clients", "yes", plain=False)
    ours = ours_with_tls(tls_replication="yes")
    try:
        m = master.client(single_connection_client=True)
        populate(m)
        r = redis.Redis(port=ours.port)
        assert r.execute_command("REPLICAOF", "127.0.0.1", master.tls_port) == b"OK"
        wait_for(lambda: link_up(r), what="link up over TLS")
        mine = redis.Redis(port=ours.port, single_connection_client=True)
        assert tls_dataset(mine) == tls_dataset(m)
        m.set("after", "1")
        m.execute_command("INCRBYFLOAT", "after", "2.5")
        wait_for(lambda: r.get("after") == b"3.5", what="the live stream")
        assert m.execute_command("WAIT", 1, 5000) == 1
        # the master lists us at our TLS port (REPLCONF listening-port)
        slave = m.info("replication")["slave0"]
        assert int(slave["port"]) == int(r.config_get("tls-port")["tls-port"])
    finally:
        ours.stop()
        master.stop()


def test_vermilion_replica_presents_its_client_certificate():
    c = certs()
    master = TLSRedis("--tls-auth-clients", "yes")
    ours = ours_with_tls(
        tls_replication="yes",
        tls_client_cert_file=c["client_crt"],
        tls_client_key_file=c["client_key"],
    )
    try:
        r = redis.Redis(port=ours.port)
        master.client().set("k", "v")
        r.execute_command("REPLICAOF", "127.0.0.1", master.tls_port)
        wait_for(lambda: link_up(r), what="link up with the client certificate")
        assert r.get("k") == b"v"
    finally:
        ours.stop()
        master.stop()


def test_without_tls_replication_the_link_stays_down():
    master = TLSRedis("--tls-auth-clients", "no")
    ours = ours_with_tls()  # tls-replication no: a plain link
    try:
        r = redis.Redis(port=ours.port)
        r.execute_command("REPLICAOF", "127.0.0.1", master.tls_port)
        time.sleep(2.5)
        assert not link_up(r)
        # and it comes up once the link is TLS
        r.config_set("tls-replication", "yes")
        r.execute_command("REPLICAOF", "NO", "ONE")
        r.execute_command("REPLICAOF", "127.0.0.1", master.tls_port)
        wait_for(lambda: link_up(r), what="link up after tls-replication yes")
    finally:
        ours.stop()
        master.stop()


def test_replica_refuses_a_master_its_ca_does_not_know():
    c = certs()
    master = TLSRedis("--tls-auth-clients", "no")
    # our CA is the rogue one: the master's certificate does not verify
    ours = ours_with_tls(tls_replication="yes", tls_ca_cert_file=c["rogue_crt"])
    try:
        r = redis.Redis(port=ours.port)
        r.execute_command("REPLICAOF", "127.0.0.1", master.tls_port)
        time.sleep(2.5)
        assert not link_up(r)
    finally:
        ours.stop()
        master.stop()


def test_redis_replicates_a_tls_vermilion_master():
    ours = ours_with_tls(tls_auth_clients="yes", repl_diskless_sync_delay="0")
    tls_port = int(redis.Redis(port=ours.port).config_get("tls-port")["tls-port"])
    m = redis.Redis(port=ours.port, single_connection_client=True)
    populate(m)
    replica = TLSRedis("--tls-replication", "yes")
    try:
        rr = redis.Redis(port=replica.port)
        rr.execute_command("REPLICAOF", "127.0.0.1", tls_port)
        wait_for(lambda: link_up(rr), timeout=15, what="redis-server's link up over TLS")
        assert dataset(replica.port) == dataset(ours.port)
        m.set("live", "x")
        m.execute_command("LPUSH", "list", "z")
        assert m.execute_command("WAIT", 1, 5000) == 1
        assert rr.get("live") == b"x"
        assert rr.lrange("list", 0, 0) == [b"z"]
        slave = m.info("replication")["slave0"]
        assert int(slave["port"]) == replica.tls_port  # it announced its TLS port
        assert "Connecting to MASTER 127.0.0.1:%d" % tls_port in replica.log()
    finally:
        replica.stop()
        ours.stop()


def test_redis_replica_without_a_trusted_certificate_is_refused():
    c = certs()
    ours = ours_with_tls(tls_auth_clients="yes")
    tls_port = int(redis.Redis(port=ours.port).config_get("tls-port")["tls-port"])
    replica = TLSRedis(
        "--tls-replication",
        "yes",
        "--tls-client-cert-file",
        c["rogue_crt"],
        "--tls-client-key-file",
        c["rogue_key"],
    )
    try:
        rr = redis.Redis(port=replica.port)
        rr.execute_command("REPLICAOF", "127.0.0.1", tls_port)
        time.sleep(2.5)
        assert not link_up(rr)
        assert redis.Redis(port=ours.port).info("replication")["connected_slaves"] == 0
    finally:
        replica.stop()
        ours.stop()
