"""Test certificates for the TLS tests, made with the ``openssl`` command.

The same set Redis's utils/gen-test-certs.sh makes for its own test suite: a
self-signed CA, a server-only and a client-only certificate (key usage
restricted), a generic one usable both ways, and DH parameters; plus a second,
unrelated CA with a client certificate (a client the server must not trust) and
an encrypted copy of the generic key. Generated once per test session into a
temporary directory; :func:`certs` returns the paths, or skips the test when
``openssl`` is missing.
"""

import atexit
import os
import shutil
import subprocess
import tempfile

_CACHE = {}

_EXT = """[ server_cert ]
keyUsage = digitalSignature, keyEncipherment
nsCertType = server

[ client_cert ]
keyUsage = digitalSignature, keyEncipherment
nsCertType = client
"""

KEY_PASS = "s3cret"


def _run(*args, cwd):
    subprocess.run(
        ["openssl", *args],
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _make_ca(d, name):
    _run("genrsa", "-out", name + ".key", "2048", cwd=d)
    _run(
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-sha256",
        "-key",
        name + ".key",
        "-days",
        "3650",
        "-subj",
        "/O=Vermilion Test/CN=%s Authority" % name,
        "-out",
        name + ".crt",
        cwd=d,
    )


def _make_cert(d, ca, name, cn, ext=None):
    _run("genrsa", "-out", name + ".key", "2048", cwd=d)
    _run(
        "req",
        "-new",
        "-sha256",
        "-subj",
        "/O=Vermilion Test/CN=" + cn,
        "-key",
        name + ".key",
        "-out",
        name + ".csr",
        cwd=d,
    )
    args = [
        "x509",
        "-req",
        "-sha256",
        "-in",
        name + ".csr",
        "-CA",
        ca + ".crt",
        "-CAkey",
        ca + ".key",
        "-CAcreateserial",
        "-days",
        "365",
        "-out",
        name + ".crt",
    ]
    if ext:
        args += ["-extfile", "openssl.cnf", "-extensions", ext]
    _run(*args, cwd=d)


def certs():
    """{"dir", "ca", "server_crt", "server_key", "client_crt", "client_key",
    "redis_crt", "redis_key", "redis_key_enc", "dh", "rogue_crt", "rogue_key"}"""
    if _CACHE:
        return _CACHE
    if shutil.which("openssl") is None:
        import pytest

        pytest.skip(
            "the openssl command is not installed (apt-get install -y openssl): "
            "the TLS tests generate their certificates with it"
        )
    d = tempfile.mkdtemp(prefix="vermilion-tls-")
    atexit.register(shutil.rmtree, d, True)
    with open(os.path.join(d, "openssl.cnf"), "w") as f:
        f.write(_EXT)
    _make_ca(d, "ca")
    _make_cert(d, "ca", "server", "Server-only", "server_cert")
    _make_cert(d, "ca", "client", "Client-only", "client_cert")
    _make_cert(d, "ca", "redis", "Generic-cert")
    _make_ca(d, "rogue-ca")
    _make_cert(d, "rogue-ca", "rogue", "Rogue-client")
    _run(
        "rsa",
        "-aes256",
        "-in",
        "redis.key",
        "-out",
        "redis-enc.key",
        "-passout",
        "pass:" + KEY_PASS,
        cwd=d,
    )
    # (a small group keeps this fast; the server only needs to load it)
    _run("dhparam", "-out", "redis.dh", "1024", cwd=d)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    _CACHE.update(
        {
            "dir": d,
            "ca": p("ca.crt"),
            "server_crt": p("server.crt"),
            "server_key": p("server.key"),
            "client_crt": p("client.crt"),
            "client_key": p("client.key"),
            "redis_crt": p("redis.crt"),
            "redis_key": p("redis.key"),
            "redis_key_enc": p("redis-enc.key"),
            "dh": p("redis.dh"),
            "rogue_crt": p("rogue.crt"),
            "rogue_key": p("rogue.key"),
        }
    )
    return _CACHE


def server_args(c, port, *extra):
    """The options both servers get to listen for TLS on ``port``."""
    return [
        "--tls-port",
        str(port),
        "--tls-cert-file",
        c["redis_crt"],
        "--tls-key-file",
        c["redis_key"],
        "--tls-ca-cert-file",
        c["ca"],
        *extra,
    ]
