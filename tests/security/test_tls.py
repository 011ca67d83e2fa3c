"""TLS: redis-server 7.0.15 and Vermilion with the same certificates and tls-* options.

Each probe starts both servers with a TLS listener (``tls-port``; most with no
plain port at all, ``port 0``) and the certificates of tlscerts.py, talks to
them with Python's ``ssl`` module, ``redis-cli --tls`` and redis-py
``ssl=True``, and asserts Vermilion does what Redis does: who is let in
(``tls-auth-clients yes``/``optional``/``no``, a certificate from another CA),
which protocol versions and cipher suites are accepted, what CONFIG SET of a
``tls-*`` parameter answers and what it changes for the next connection, the
fatal start-up errors, and that the unix socket stays plain.
"""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from probe import Spawned, KINDS
from support import free_port
from tlscerts import certs, server_args, KEY_PASS
from test_protected_mode import EXTERNAL, needs_external

CLOSED = "closed"


# ------------------------------------------------------------------ helpers
def client_ctx(cert=None, key=None, ca="ca", minv=None, maxv=None, suites=None):
    c = certs()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if ca:
        ctx.load_verify_locations(c[ca] if ca in c else ca)
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(c[cert], c[key])
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    return ctx


def _resp(args):
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def _read_reply(s, buf=b""):
    """One RESP reply (simple types, bulk strings, flat arrays) from TLS socket s."""

    def fill(b):
        d = s.recv(1 << 16)
        if not d:
            raise ConnectionError("closed")
        return b + d

    while b"\r\n" not in buf:
        buf = fill(buf)
    line, _, rest = buf.partition(b"\r\n")
    if line[:1] == b"$" and int(line[1:]) >= 0:
        n = int(line[1:])
        while len(rest) < n + 2:
            rest = fill(rest)
        return line + b"\r\n" + rest[: n + 2], rest[n + 2 :]
    if line[:1] == b"*" and int(line[1:]) > 0:
        out = line + b"\r\n"
        for _ in range(int(line[1:])):
            item, rest = _read_reply(s, rest)
            out += item
        return out, rest
    return line + b"\r\n", rest


def tls_call(port, *cmd, ctx=None, host="127.0.0.1", info=None):
    """Connect over TLS, send one command: the reply bytes or "closed"."""
    ctx = ctx or client_ctx("client_crt", "client_key")
    try:
        raw = socket.create_connection((host, port), timeout=5)
    except OSError:
        return "refused"
    try:
        s = ctx.wrap_socket(raw, server_hostname=None)
        if info is not None:
            info["version"] = s.version()
            info["cipher"] = s.cipher()[0]
            info["cert"] = s.getpeercert()
            info["sock"] = s
        s.sendall(_resp(cmd))
        return _read_reply(s)[0]
    except (ssl.SSLError, ConnectionError, OSError):
        return CLOSED
    finally:
        if info is None or "sock" not in info:
            raw.close()


def wait_tls(server, port, timeout=20):
    deadline = time.time() + timeout
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(
                "%s exited with %s:\n%s" % (server.kind, server.proc.returncode, server.log())
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


class TLSPair:
    """redis-server and Vermilion, TLS only (port 0) unless ``plain`` is given."""

    def __init__(self, *extra, plain=False, bind="127.0.0.1", wait=True):
        c = certs()
        self.servers = {}
        self.tls_port = {}
        for k in KINDS:
            tp = free_port()
            args = list(server_args(c, tp, *extra))
            if not plain:
                args = ["--port", "0"] + args
            s = Spawned(k, *args, bind=bind, wait=False)
            self.servers[k] = s
            self.tls_port[k] = tp
        if wait:
            for k, s in self.servers.items():
                wait_tls(s, self.tls_port[k])

    def each(self, fn):
        """{kind: fn(server, tls_port)}."""
        return {k: fn(s, self.tls_port[k]) for k, s in self.servers.items()}

    def same(self, fn):
        got = self.each(fn)
        assert got["vermilion"] == got["redis"], got
        return got["redis"]

    def call(self, *cmd, ctx=None):
        return self.same(lambda s, p: tls_call(p, *cmd, ctx=ctx))

    def stop(self):
        for s in self.servers.values():
            s.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture(scope="module")
def pair():
    with TLSPair("--tls-auth-clients", "yes") as p:
        yield p


# ------------------------------------------------------------------- probes
def test_tls_port_with_port_0_serves_tls(pair):
    assert pair.call("PING") == b"+PONG\r\n"
    assert pair.call("CONFIG", "GET", "port") == b"*2\r\n$4\r\nport\r\n$1\r\n0\r\n"

    # a plain-text client on the TLS port is cut off (no reply in clear)
    def plain(s, p):
        c = socket.create_connection(("127.0.0.1", p), timeout=5)
        try:
            c.sendall(b"PING\r\n")
            data = c.recv(100)
            return CLOSED if not data.startswith(b"+") else data
        except OSError:
            return CLOSED
        finally:
            c.close()

    assert pair.same(plain) == CLOSED


def test_auth_clients_yes_needs_a_trusted_certificate(pair):
    assert pair.call("PING", ctx=client_ctx()) == CLOSED  # no certificate
    time.sleep(0.2)
    for k, s in pair.servers.items():  # both log why, in OpenSSL's words
        assert (
            "Error accepting a client connection: " in s.log()
            and "routines::peer did not return a certificate" in s.log()
        ), k
    assert pair.call("PING", ctx=client_ctx("rogue_crt", "rogue_key")) == CLOSED  # other CA
    assert pair.call("PING", ctx=client_ctx("redis_crt", "redis_key")) == b"+PONG\r\n"


def test_client_must_trust_the_server(pair):
    # a client with another CA refuses the server's certificate
    assert (
        pair.call("PING", ctx=client_ctx("client_crt", "client_key", ca=certs()["rogue_crt"]))
        == CLOSED
    )


def test_auth_clients_set_at_run_time(pair):
    try:
        assert pair.call("CONFIG", "SET", "tls-auth-clients", "optional") == b"+OK\r\n"
        assert pair.call("PING", ctx=client_ctx()) == b"+PONG\r\n"
        assert pair.call("PING", ctx=client_ctx("rogue_crt", "rogue_key")) == CLOSED
        assert pair.call("PING") == b"+PONG\r\n"
        assert pair.call("CONFIG", "SET", "tls-auth-clients", "no") == b"+OK\r\n"
        assert pair.call("PING", ctx=client_ctx()) == b"+PONG\r\n"
    finally:
        pair.call("CONFIG", "SET", "tls-auth-clients", "yes")
    assert pair.call("PING", ctx=client_ctx()) == CLOSED


def test_redis_cli_tls(pair):
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.skip("redis-cli is not installed")
    c = certs()

    def run(s, p, *more):
        out = subprocess.run(
            [cli, "-p", str(p), "--tls", "--cacert", c["ca"], *more, "SET", "k", "v"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return out.stdout.strip() or CLOSED

    assert (
        pair.same(lambda s, p: run(s, p, "--cert", c["client_crt"], "--key", c["client_key"]))
        == "OK"
    )
    assert pair.same(lambda s, p: run(s, p)) == CLOSED


def test_redis_py_ssl(pair):
    import redis

    c = certs()

    def use(s, p):
        r = redis.Redis(
            port=p,
            ssl=True,
            ssl_certfile=c["client_crt"],
            ssl_keyfile=c["client_key"],
            ssl_ca_certs=c["ca"],
            ssl_check_hostname=False,
        )
        try:
            big = os.urandom(1 << 20)  # a value many TLS records long
            r.set("big", big)
            pipe = r.pipeline(transaction=False)
            for i in range(2000):
                pipe.incr("n")
            last = pipe.execute()[-1]
            return (r.get("big") == big, last == int(r.get("n")), r.ping())
        finally:
            r.close()

    assert pair.same(use) == (True, True, True)


def test_config_set_errors_and_reloads():
    c = certs()
    d = c["dir"]
    with TLSPair("--tls-auth-clients", "yes") as pair:
        fail = (
            b"-ERR CONFIG SET failed (possibly related to argument '%s') - "
            b"Unable to update TLS configuration. Check server logs.\r\n"
        )
        cases = [
            (("tls-cert-file", "/nonexistent"), fail % b"tls-cert-file"),
            (("tls-key-file", c["server_key"]), fail % b"tls-key-file"),  # not the cert's key
            (("tls-protocols", "TLSv1.2 SSLv3"), fail % b"tls-protocols"),
            (("tls-ciphers", "NO-SUCH-CIPHER"), fail % b"tls-ciphers"),
            (("tls-ciphersuites", "NO_SUCH_SUITE"), fail % b"tls-ciphersuites"),
            (("tls-dh-params-file", "/nonexistent"), fail % b"tls-dh-params-file"),
            (("tls-dh-params-file", c["ca"]), fail % b"tls-dh-params-file"),
            (("tls-dh-params-file", c["dh"]), fail % b"tls-dh-params-file"),  # 1024 bits: too small
            (("tls-ca-cert-file", ""), fail % b"tls-ca-cert-file"),  # auth-clients yes needs a CA
            (("tls-key-file", c["redis_key_enc"]), fail % b"tls-key-file"),  # no password
            (
                ("tls-key-file-pass", "wrong", "tls-key-file", c["redis_key_enc"]),
                fail % b"tls-key-file-pass",
            ),
            (("tls-key-file-pass", KEY_PASS, "tls-key-file", c["redis_key_enc"]), b"+OK\r\n"),
            (("tls-key-file-pass", "", "tls-key-file", c["redis_key"]), b"+OK\r\n"),
            (("tls-protocols", "TLSv1.3"), b"+OK\r\n"),
            (("tls-protocols", "TLSv1 TLSv1.2"), b"+OK\r\n"),  # a hole: no TLSv1.1
            (("tls-protocols", "tlsv1.2  tlsv1.3"), fail % b"tls-protocols"),  # empty word
            (("tls-protocols", ""), b"+OK\r\n"),
            (("tls-ciphers", "ECDHE-RSA-AES128-GCM-SHA256"), b"+OK\r\n"),
            (("tls-ciphers", ""), b"+OK\r\n"),
            (("tls-ciphersuites", "TLS_AES_128_GCM_SHA256"), b"+OK\r\n"),
            (("tls-ciphersuites", ""), b"+OK\r\n"),
            (("tls-session-caching", "no"), b"+OK\r\n"),
            (
                (
                    "tls-session-caching",
                    "yes",
                    "tls-session-cache-size",
                    "100",
                    "tls-session-cache-timeout",
                    "60",
                ),
                b"+OK\r\n",
            ),
            (("tls-prefer-server-ciphers", "yes"), b"+OK\r\n"),
            (("tls-auth-clients", "no", "tls-ca-cert-file", ""), b"+OK\r\n"),
            (("tls-replication", "yes"), fail % b"tls-replication"),  # needs a CA again
            (("tls-ca-cert-dir", d, "tls-replication", "yes"), b"+OK\r\n"),
            (
                (
                    "tls-ca-cert-dir",
                    "",
                    "tls-replication",
                    "no",
                    "tls-ca-cert-file",
                    c["ca"],
                    "tls-auth-clients",
                    "yes",
                ),
                b"+OK\r\n",
            ),
        ]
        for args, want in cases:
            got = pair.call("CONFIG", "SET", *args, ctx=client_ctx("client_crt", "client_key"))
            assert got == want, (args, got)
        # after all that, TLS still serves
        assert pair.call("PING") == b"+PONG\r\n"


def _ffdhe(d):
    """A 2048-bit DH group (RFC 7919) in the PKCS#3 file format both servers read."""
    path = os.path.join(d, "ffdhe2048.dh")
    if not os.path.exists(path):
        r = subprocess.run(
            [
                "openssl",
                "genpkey",
                "-genparam",
                "-algorithm",
                "DH",
                "-pkeyopt",
                "group:ffdhe2048",
                "-out",
                path,
            ],
            capture_output=True,
        )
        if r.returncode != 0:
            pytest.skip("this openssl cannot write the ffdhe2048 group")
    return path


def test_dh_params_file_allows_dhe_ciphers():
    c = certs()
    dh = _ffdhe(c["dir"])
    with TLSPair(
        "--tls-auth-clients", "no", "--tls-protocols", "TLSv1.2", "--tls-dh-params-file", dh
    ) as pair:
        ctx = client_ctx()
        ctx.set_ciphers("DHE-RSA-AES128-GCM-SHA256")
        info = {}
        got = pair.same(
            lambda s, p: (
                tls_call(p, "PING", ctx=ctx, info=info),
                info.pop("cipher"),
                info.pop("sock").close(),
            )[:2]
        )
        assert got == (b"+PONG\r\n", "DHE-RSA-AES128-GCM-SHA256")


def test_new_certificate_reaches_new_connections_only():
    c = certs()
    with TLSPair("--tls-auth-clients", "no") as pair:

        def subject(s, p):
            info = {}
            reply = tls_call(p, "PING", ctx=client_ctx(), info=info)
            info["sock"].close()
            return reply, dict(x[0] for x in info["cert"]["subject"])["commonName"]

        held = {}

        def hold(s, p):
            info = {}
            ctx = client_ctx()
            tls_call(p, "PING", ctx=ctx, info=info)
            held[s.kind] = info["sock"]

        pair.each(hold)
        assert pair.same(subject) == (b"+PONG\r\n", "Generic-cert")
        assert (
            pair.call(
                "CONFIG",
                "SET",
                "tls-cert-file",
                c["server_crt"],
                "tls-key-file",
                c["server_key"],
                ctx=client_ctx(),
            )
            == b"+OK\r\n"
        )
        assert pair.same(subject) == (b"+PONG\r\n", "Server-only")
        # the connection made before the reload goes on
        for k, s in held.items():
            s.sendall(_resp(["PING"]))
            assert _read_reply(s)[0] == b"+PONG\r\n", k
            s.close()


def test_protocol_versions():
    with TLSPair("--tls-auth-clients", "no", "--tls-protocols", "TLSv1.3") as pair:
        old = client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
        assert pair.call("PING", ctx=old) == CLOSED
        info = {}
        assert pair.same(
            lambda s, p: (
                tls_call(p, "PING", ctx=client_ctx(), info=info),
                info.pop("version"),
                info.pop("sock").close(),
            )[:2]
        ) == (b"+PONG\r\n", "TLSv1.3")
        assert (
            pair.call("CONFIG", "SET", "tls-protocols", "TLSv1.2", ctx=client_ctx()) == b"+OK\r\n"
        )
        assert pair.call("PING", ctx=client_ctx(minv=ssl.TLSVersion.TLSv1_3)) == CLOSED
        assert pair.call("PING", ctx=old) == b"+PONG\r\n"
        # a hole in the set: the platform's floor (TLS 1.2 here) decides, alike
        assert (
            pair.call("CONFIG", "SET", "tls-protocols", "TLSv1 TLSv1.2", ctx=client_ctx())
            == b"+OK\r\n"
        )
        info = {}
        assert pair.same(
            lambda s, p: (
                tls_call(p, "PING", ctx=client_ctx(), info=info),
                info.pop("version"),
                info.pop("sock").close(),
            )[:2]
        ) == (b"+PONG\r\n", "TLSv1.2")


def test_ciphersuites_and_ciphers_are_enforced():
    with TLSPair(
        "--tls-auth-clients",
        "no",
        "--tls-ciphersuites",
        "TLS_CHACHA20_POLY1305_SHA256",
        "--tls-ciphers",
        "ECDHE-RSA-AES256-GCM-SHA384",
    ) as pair:

        def negotiated(ctx):
            def fn(s, p):
                info = {}
                r = tls_call(p, "PING", ctx=ctx, info=info)
                if "sock" in info:
                    info["sock"].close()
                return r, info.get("cipher")

            return pair.same(fn)

        assert negotiated(client_ctx()) == (b"+PONG\r\n", "TLS_CHACHA20_POLY1305_SHA256")
        v12 = client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
        assert negotiated(v12) == (b"+PONG\r\n", "ECDHE-RSA-AES256-GCM-SHA384")
        v12.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
        assert negotiated(v12)[0] == CLOSED


def test_session_resumption():
    with TLSPair("--tls-auth-clients", "no", "--tls-protocols", "TLSv1.2") as pair:

        def resumed(s, p):
            ctx = client_ctx()
            raw = socket.create_connection(("127.0.0.1", p), timeout=5)
            a = ctx.wrap_socket(raw)
            a.sendall(_resp(["PING"]))
            _read_reply(a)
            sess = a.session
            a.close()
            raw = socket.create_connection(("127.0.0.1", p), timeout=5)
            b = ctx.wrap_socket(raw, session=sess)
            b.sendall(_resp(["PING"]))
            _read_reply(b)
            r = b.session_reused
            b.close()
            return r

        assert pair.same(resumed) is True
        # (session tickets still resume with the server cache off, on both)
        pair.call("CONFIG", "SET", "tls-session-caching", "no", ctx=client_ctx())
        pair.same(resumed)


def test_tls_port_moves_at_run_time():
    with TLSPair("--tls-auth-clients", "no") as pair:
        new = {k: free_port() for k in KINDS}
        got = pair.each(
            lambda s, p: tls_call(p, "CONFIG", "SET", "tls-port", new[s.kind], ctx=client_ctx())
        )
        assert got == {"redis": b"+OK\r\n", "vermilion": b"+OK\r\n"}
        time.sleep(0.2)
        for k, s in pair.servers.items():
            assert tls_call(new[k], "PING", ctx=client_ctx()) == b"+PONG\r\n", k
            assert tls_call(pair.tls_port[k], "PING", ctx=client_ctx()) == "refused", k
        # a port in use is refused with Redis's text, and the old port keeps serving
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        try:
            got = {
                k: tls_call(
                    new[k], "CONFIG", "SET", "tls-port", busy.getsockname()[1], ctx=client_ctx()
                )
                for k in KINDS
            }
            assert (
                got["vermilion"]
                == got["redis"]
                == (
                    b"-ERR CONFIG SET failed (possibly related to argument 'tls-port') - "
                    b"Unable to listen on this port. Check server logs.\r\n"
                )
            ), got
        finally:
            busy.close()
        for k in KINDS:
            assert tls_call(new[k], "PING", ctx=client_ctx()) == b"+PONG\r\n", k


def test_tls_port_at_run_time_on_a_plain_server():
    c = certs()
    servers = {k: Spawned(k) for k in KINDS}
    try:

        def admin(*cmd):
            out = {}
            for k, s in servers.items():
                conn = s.conn()
                try:
                    out[k] = conn.call(*cmd)
                finally:
                    conn.close()
            assert out["vermilion"] == out["redis"], (cmd, out)
            return out["redis"]

        port = {k: free_port() for k in KINDS}
        # no certificate yet: TLS cannot be configured
        got = {k: s.conn().call("CONFIG", "SET", "tls-port", port[k]) for k, s in servers.items()}
        assert got["vermilion"] == got["redis"], got
        assert got["redis"].startswith(
            b"-ERR CONFIG SET failed (possibly related to "
            b"argument 'tls-port') - Unable to update TLS"
        )
        # the files alone do nothing while TLS is unused (not even a check)
        assert admin("CONFIG", "SET", "tls-cert-file", "/nonexistent") == b"+OK\r\n"
        assert (
            admin(
                "CONFIG",
                "SET",
                "tls-cert-file",
                c["redis_crt"],
                "tls-key-file",
                c["redis_key"],
                "tls-ca-cert-file",
                c["ca"],
            )
            == b"+OK\r\n"
        )
        got = {k: s.conn().call("CONFIG", "SET", "tls-port", port[k]) for k, s in servers.items()}
        assert got == {"redis": b"+OK\r\n", "vermilion": b"+OK\r\n"}
        time.sleep(0.2)
        for k in KINDS:
            assert tls_call(port[k], "PING") == b"+PONG\r\n", k
    finally:
        for s in servers.values():
            s.stop()


def test_unix_socket_stays_plain():
    c = certs()
    d = tempfile.mkdtemp(prefix="vermilion-tls-unix-")
    servers = {}
    try:
        for k in KINDS:
            tp = free_port()
            servers[k] = Spawned(
                k,
                "--port",
                "0",
                *server_args(c, tp),
                "--unixsocket",
                os.path.join(d, k + ".sock"),
                wait=False,
            )
            wait_tls(servers[k], tp)
        for k in KINDS:
            u = socket.socket(socket.AF_UNIX)
            u.settimeout(5)
            u.connect(os.path.join(d, k + ".sock"))
            u.sendall(b"PING\r\n")
            assert u.recv(100) == b"+PONG\r\n", k
            u.close()
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(d, ignore_errors=True)


@needs_external
def test_protected_mode_applies_over_tls():
    with TLSPair("--tls-auth-clients", "no", bind="* -::*") as pair:
        reply = pair.same(lambda s, p: tls_call(p, "PING", ctx=client_ctx(), host=EXTERNAL))
        assert reply.startswith(b"-DENIED Redis is running in protected mode")
        assert pair.call("PING", ctx=client_ctx()) == b"+PONG\r\n"


@pytest.mark.parametrize("case", ["no-cert", "bad-cert", "no-ca", "bad-protocols"])
def test_fatal_start_up_errors(case):
    c = certs()
    extra = {
        "no-cert": ["--tls-cert-file", ""],
        "bad-cert": ["--tls-cert-file", "/nonexistent"],
        "no-ca": ["--tls-ca-cert-file", ""],
        "bad-protocols": ["--tls-protocols", "TLSv9"],
    }[case]
    out = {}
    for k in KINDS:
        s = Spawned(k, "--port", "0", *server_args(c, free_port()), *extra, wait=False)
        try:
            s.proc.wait(20)
            out[k] = (
                s.proc.returncode,
                "Failed to configure TLS. Check logs for more info." in s.log(),
            )
        finally:
            s.stop()
    assert out["vermilion"] == out["redis"] == (1, True), out


def test_encrypted_key_at_start_up():
    c = certs()
    with TLSPair(
        "--tls-auth-clients",
        "no",
        "--tls-key-file",
        c["redis_key_enc"],
        "--tls-key-file-pass",
        KEY_PASS,
    ) as pair:
        assert pair.call("PING", ctx=client_ctx()) == b"+PONG\r\n"


def test_client_list_and_info_over_tls(pair):
    """A TLS client is an ordinary client above the transport."""

    def fields(s, p):
        r = tls_call(p, "CLIENT", "INFO")
        text = r.split(b"\r\n")[1].decode()
        kv = dict(x.split("=", 1) for x in text.split() if "=" in x)
        return kv["laddr"].endswith(":%d" % p), kv["fd"] != "-1", kv["cmd"]

    assert pair.same(fields) == (True, True, "client|info")


@needs_external
def test_config_set_bind_moves_the_tls_listener():
    with TLSPair("--tls-auth-clients", "no", bind="127.0.0.1") as pair:
        outside = lambda s, p: tls_call(p, "PING", ctx=client_ctx(), host=EXTERNAL)  # noqa
        inside = lambda s, p: tls_call(p, "PING", ctx=client_ctx())  # noqa
        assert pair.same(outside) == "refused"
        assert (
            pair.call("CONFIG", "SET", "bind", "127.0.0.1 " + EXTERNAL, ctx=client_ctx())
            == b"+OK\r\n"
        )
        time.sleep(0.2)
        assert pair.same(outside).startswith(b"-DENIED")
        assert pair.same(inside) == b"+PONG\r\n"
        assert pair.call("CONFIG", "SET", "bind", EXTERNAL, ctx=client_ctx()) == b"+OK\r\n"
        time.sleep(0.2)
        assert pair.same(inside) == "refused"
        assert pair.same(outside).startswith(b"-DENIED")


def test_no_listener_at_all_is_fatal():
    out = {}
    for k in KINDS:
        s = Spawned(k, "--port", "0", wait=False)
        try:
            s.proc.wait(20)
            out[k] = (s.proc.returncode, "Configured to not listen anywhere, exiting." in s.log())
        finally:
            s.stop()
    assert out["vermilion"] == out["redis"] == (1, True), out
