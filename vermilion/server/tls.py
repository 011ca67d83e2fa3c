"""TLS: the ``tls-*`` parameters turned into ``ssl.SSLContext`` objects and listeners.

Redis speaks TLS through one OpenSSL context built from its ``tls-*`` parameters
(src/tls.c, tlsConfigure). We build the same thing with the standard ``ssl``
module, and asyncio does the rest: a listener created with ``ssl=context``
hands our protocol (vermilion/server/netio.py) a transport that encrypts
and decrypts, so above the transport a TLS client is a client like any other.

Two contexts
------------
:func:`build_contexts` makes a *server* context (what the TLS listener uses)
and a *client* context (what our replica link uses to reach a TLS master).
Like Redis:

* ``tls-cert-file`` and ``tls-key-file`` are required; the key may be
  encrypted with ``tls-key-file-pass``;
* a CA (``tls-ca-cert-file`` or ``tls-ca-cert-dir``) is required as soon as
  peers are verified: ``tls-auth-clients`` other than ``no``, ``tls-replication``
  or ``tls-cluster``;
* ``tls-protocols`` is a space-separated subset of TLSv1 TLSv1.1 TLSv1.2
  TLSv1.3 (default TLSv1.2 and TLSv1.3); ``tls-ciphers`` and
  ``tls-ciphersuites`` select the TLS 1.2 ciphers and TLS 1.3 suites;
  ``tls-prefer-server-ciphers``, ``tls-dh-params-file`` and the session cache
  (``tls-session-caching``, ``-size``, ``-timeout``) tune the server side;
* the client context presents ``tls-client-cert-file``/``tls-client-key-file``
  when both are set, else the server's own certificate; it always verifies the
  master's certificate against the CA, but not its host name (Redis 7.0 does
  not either: replicas are usually addressed by IP).

``tls-auth-clients`` is not part of the build: Redis reads it at each accept,
so a CONFIG SET of it only changes the server context's ``verify_mode``, which
OpenSSL copies into every connection it starts from then on.

What the ``ssl`` module cannot say
----------------------------------
Python's ``ssl`` has no call for TLS 1.3 cipher suites nor for the session
cache's mode, size and timeout. OpenSSL has, and the ``SSL_CTX`` behind an
``SSLContext`` is reachable: :class:`_LibSSL` finds the libssl that ``_ssl``
loaded and the context pointer that CPython keeps right after the object
header, checks the pointer by asking OpenSSL for the context's options (which
must equal ``ctx.options``) and only then calls ``SSL_CTX_set_ciphersuites``
and friends. On an interpreter where that check cannot be made the parameters
that need it are refused with a log line when they differ from the defaults
(which are OpenSSL's own defaults, so nothing is lost in the usual case).

Reloading
---------
Redis re-runs tlsConfigure when a ``tls-*`` parameter changes (CONFIG SET
answers ``Unable to update TLS configuration. Check server logs.`` and keeps
the old context when the new one cannot be built) and reopens the listener when
``tls-port`` changes. An asyncio server keeps the context it was created with,
so :class:`TLSListeners` owns the bound listening sockets itself and serves
each through an asyncio server created on a duplicate of the socket: a new
context means a new asyncio server on the same sockets (the kernel's accept
queue is shared, no connection is lost), then the old one is closed.
Established connections keep the context they started with, as in Redis.

A refused handshake
-------------------
A client without an acceptable certificate, or one speaking plain text to the
TLS port, never becomes a connection our protocol sees: the SSL transport drops
it during the handshake. Redis logs each such refusal ("Error accepting a client
connection: ..."); so do we, through the server context's ``sslobject_class``,
an SSLObject whose handshake logs its failure (asyncio and uvloop both build
their SSL objects with ``wrap_bio``, which returns that class).

The cost
--------
Nothing here runs on the plain-TCP path: a plain listener's connections never
touch this module, and the per-command path (netio.py, client.py) only
calls ``transport.write``/``data_received``, whatever the transport is. A TLS
connection pays for the encryption inside the SSL transport, nothing more.
"""

import os
import socket
import ssl
import sys
import warnings

from ..core.config import ConfigError

UPDATE_FAILED = "Unable to update TLS configuration. Check server logs."
LISTEN_FAILED = "Unable to listen on this port. Check server logs."

_PROTOCOLS = (
    ("tlsv1", ssl.TLSVersion.TLSv1),
    ("tlsv1.1", ssl.TLSVersion.TLSv1_1),
    ("tlsv1.2", ssl.TLSVersion.TLSv1_2),
    ("tlsv1.3", ssl.TLSVersion.TLSv1_3),
)
_NO_FLAG = {
    ssl.TLSVersion.TLSv1: ssl.OP_NO_TLSv1,
    ssl.TLSVersion.TLSv1_1: ssl.OP_NO_TLSv1_1,
    ssl.TLSVersion.TLSv1_2: ssl.OP_NO_TLSv1_2,
    ssl.TLSVersion.TLSv1_3: ssl.OP_NO_TLSv1_3,
}
_DEFAULT_PROTOCOLS = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)

# OpenSSL's own defaults, which are also Redis's: no call is needed for them.
_DEFAULT_CACHE_SIZE = 20480
_DEFAULT_CACHE_TIMEOUT = 300

_VERIFY = {"no": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "yes": ssl.CERT_REQUIRED}

# What build_contexts reads (tls-auth-clients only for its CA check: a change of
# it alone is applied to the live context, see TLS._apply_auth_clients).
_BUILD_PARAMS = (
    "tls-cert-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-client-key-file-pass",
    "tls-dh-params-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-protocols",
    "tls-ciphers",
    "tls-ciphersuites",
    "tls-prefer-server-ciphers",
    "tls-session-caching",
    "tls-session-cache-size",
    "tls-session-cache-timeout",
    "tls-replication",
    "tls-cluster",
    "tls-auth-clients",
)


class TLSError(Exception):
    """The context cannot be built; ``str(e)`` is the line Redis logs."""


def tls_wanted(cfg):
    """Redis configures TLS at start-up (and on a tls-* change) only when it is used."""
    return (
        cfg.get_int("tls-port") != 0
        or cfg.get("tls-replication") == "yes"
        or cfg.get("tls-cluster") == "yes"
    )


def parse_protocols(text):
    """parseProtocolsConfig: the TLS versions named in ``tls-protocols``."""
    if not text:
        return _DEFAULT_PROTOCOLS
    names = dict(_PROTOCOLS)
    out = []
    for word in text.split(" "):  # sdssplitlen on one space: "a  b" has an empty word
        v = names.get(word.lower())
        if v is None:
            raise TLSError(
                "Invalid tls-protocols specified. Use a combination of "
                "'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."
            )
        if v not in out:
            out.append(v)
    return tuple(sorted(out))


def _restrict_protocols(ctx, versions):
    """Allow ``versions`` the way Redis does: ``SSL_OP_NO_TLSv1_x`` for each version
    not named, and no bounds of our own.

    The floor stays where the platform puts it: Python's TLS contexts start at
    TLS 1.2, as Debian's OpenSSL policy (``MinProtocol = TLSv1.2``) makes Redis's
    start. So "TLSv1 TLSv1.2" means TLS 1.2 on both servers here; setting an
    explicit floor of TLS 1.0 would instead leave OpenSSL a hole at 1.1 and only
    TLS 1.0 below it, which the security level then refuses.
    """
    # (Python deprecates the OP_NO_ flags in favour of min/max bounds, which
    # cannot express Redis's sets; the flags still work.)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for _, v in _PROTOCOLS:
            if v not in versions:
                ctx.options |= _NO_FLAG[v]


def _password(text):
    """The key-file password callback: never let OpenSSL prompt on a terminal."""

    def give():
        if not text:
            raise TLSError("no password")  # an encrypted key without tls-key-file-pass
        return text.encode()

    return give


def _base_context(cfg, protocols, client):
    """createSSLContext: what the server and client contexts share."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT if client else ssl.PROTOCOL_TLS_SERVER)
    if client:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.options |= ssl.OP_NO_COMPRESSION
    _restrict_protocols(ctx, protocols)
    prefix = "tls-client-" if client else "tls-"
    cert, key = cfg.get(prefix + "cert-file"), cfg.get(prefix + "key-file")
    try:
        ctx.load_cert_chain(cert, key, password=_password(cfg.get(prefix + "key-file-pass")))
    except (ssl.SSLError, OSError, TLSError) as e:
        # (Redis loads the certificate, then the key, and names the failing file)
        what = _which_failed(cert)
        raise TLSError(
            "Failed to load %s: %s: %s" % (what, cert if what == "certificate" else key, _reason(e))
        )
    ca_file, ca_dir = cfg.get("tls-ca-cert-file"), cfg.get("tls-ca-cert-dir")
    if ca_file or ca_dir:
        try:
            ctx.load_verify_locations(cafile=ca_file or None, capath=ca_dir or None)
        except (ssl.SSLError, OSError) as e:
            raise TLSError("Failed to configure CA certificate(s) file/directory: %s" % _reason(e))
    ciphers = cfg.get("tls-ciphers")
    if ciphers:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise TLSError("Failed to configure ciphers: %s" % ciphers)
    suites = cfg.get("tls-ciphersuites")
    if suites:
        lib = _LibSSL.get()
        if lib is None or not lib.set_ciphersuites(ctx, suites):
            raise TLSError("Failed to configure ciphersuites: %s" % suites)
    return ctx


def _which_failed(cert):
    """Redis's two messages: a certificate that does not load, or else the key."""
    try:
        with open(cert, "rb") as f:
            if b"-----BEGIN CERTIFICATE-----" in f.read():
                return "private key"
    except OSError:
        pass
    return "certificate"


def _reason(e):
    if isinstance(e, ssl.SSLError) and e.reason:
        return e.reason
    return getattr(e, "strerror", None) or str(e)


def build_contexts(cfg):
    """tlsConfigure: ``(server_context, client_context)`` or TLSError.

    Never changes anything on failure: the caller swaps the pair in only when
    both were built.
    """
    if not cfg.get("tls-cert-file"):
        raise TLSError("No tls-cert-file configured!")
    if not cfg.get("tls-key-file"):
        raise TLSError("No tls-key-file configured!")
    if (
        (
            cfg.get("tls-auth-clients") != "no"
            or cfg.get("tls-cluster") == "yes"
            or cfg.get("tls-replication") == "yes"
        )
        and not cfg.get("tls-ca-cert-file")
        and not cfg.get("tls-ca-cert-dir")
    ):
        raise TLSError(
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when "
            "tls-cluster, tls-replication or tls-auth-clients are enabled!"
        )
    protocols = parse_protocols(cfg.get("tls-protocols"))
    srv = _base_context(cfg, protocols, client=False)
    srv.verify_mode = _VERIFY.get(cfg.get("tls-auth-clients"), ssl.CERT_REQUIRED)
    if cfg.get("tls-prefer-server-ciphers") == "yes":
        srv.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        # (Python turns it on by default; Redis leaves OpenSSL's default, off)
        srv.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    srv.options |= ssl.OP_SINGLE_DH_USE | getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    dh = cfg.get("tls-dh-params-file")
    if dh:
        if not os.path.exists(dh):
            raise TLSError("Failed to load %s: No such file or directory" % dh)
        try:
            srv.load_dh_params(dh)
        except (ssl.SSLError, OSError, ValueError) as e:
            raise TLSError("Failed to load DH params file: %s: %s" % (dh, _reason(e)))
    _session_cache(srv, cfg)
    if cfg.get("tls-client-cert-file") and cfg.get("tls-client-key-file"):
        cli = _base_context(cfg, protocols, client=True)
    else:
        cli = _server_as_client(cfg, protocols)
    return srv, cli


def _server_as_client(cfg, protocols):
    """Without a client certificate Redis dials out with its server context: the
    same certificate, the same CA, verifying the peer. _base_context(client=True)
    reads the tls-client-* files, so here they name the server's own."""
    view = _Overlay(
        cfg,
        {
            "tls-client-cert-file": cfg.get("tls-cert-file"),
            "tls-client-key-file": cfg.get("tls-key-file"),
            "tls-client-key-file-pass": cfg.get("tls-key-file-pass"),
        },
    )
    return _base_context(view, protocols, client=True)


class _Overlay:
    """A read-only view of a Config with a few values replaced."""

    def __init__(self, cfg, values):
        self.cfg = cfg
        self.values = values

    def get(self, name):
        if name in self.values:
            return self.values[name]
        return self.cfg.get(name)


def _session_cache(ctx, cfg):
    caching = cfg.get("tls-session-caching") == "yes"
    size = cfg.get_int("tls-session-cache-size")
    timeout = cfg.get_int("tls-session-cache-timeout")
    if caching and size == _DEFAULT_CACHE_SIZE and timeout == _DEFAULT_CACHE_TIMEOUT:
        return  # OpenSSL's defaults for a server context: nothing to call
    lib = _LibSSL.get()
    if lib is None:
        raise TLSError(
            "tls-session-caching/-size/-timeout other than the defaults need "
            "OpenSSL calls this Python cannot make (see vermilion/server/tls.py)"
        )
    lib.session_cache(ctx, caching, size, timeout)


class _LibSSL:
    """The few OpenSSL calls Python's ssl module has no method for (see the module
    docstring). ``get()`` is None when they cannot be made safely."""

    _instance = False
    SSL_CTRL_SET_SESS_CACHE_SIZE = 42
    SSL_CTRL_SET_SESS_CACHE_MODE = 44
    SSL_SESS_CACHE_OFF = 0
    SSL_SESS_CACHE_SERVER = 2

    @classmethod
    def get(cls):
        if cls._instance is False:
            try:
                cls._instance = cls()
            except Exception:
                cls._instance = None
        return cls._instance

    def __init__(self):
        # The SSL_CTX pointer right after the object header is how CPython's _ssl
        # has laid out its context object from 3.0 to 3.13; on anything else we
        # do not read memory we cannot vouch for.
        if sys.implementation.name != "cpython" or not (3, 7) <= sys.version_info < (3, 14):
            raise RuntimeError("the SSLContext layout is only known for CPython 3.7-3.13")
        path = None
        with open("/proc/self/maps") as f:  # the libssl _ssl is linked with
            for line in f:
                name = line.rsplit(None, 1)[-1]
                if "/libssl.so" in name:
                    path = name
                    break
        if path is None:
            raise RuntimeError("libssl is not loaded")
        import ctypes  # start-up cost: only once a TLS context is configured

        self.ctypes = ctypes
        lib = ctypes.CDLL(path)
        lib.SSL_CTX_get_options.restype = ctypes.c_uint64
        lib.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_set_ciphersuites.restype = ctypes.c_int
        lib.SSL_CTX_set_ciphersuites.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.SSL_CTX_ctrl.restype = ctypes.c_long
        lib.SSL_CTX_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
        lib.SSL_CTX_set_timeout.restype = ctypes.c_long
        lib.SSL_CTX_set_timeout.argtypes = [ctypes.c_void_p, ctypes.c_long]
        lib.SSL_CTX_set_session_id_context.restype = ctypes.c_int
        lib.SSL_CTX_set_session_id_context.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_uint,
        ]
        self.lib = lib
        # prove the pointer on a throwaway context with an unusual option set
        probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        probe.options |= ssl.OP_NO_TICKET
        if self._ptr(probe) is None:
            raise RuntimeError("cannot locate SSL_CTX")

    def _ptr(self, ctx):
        """The SSL_CTX* CPython stores right after the object header, checked."""
        addr = id(ctx) + object.__basicsize__
        ptr = self.ctypes.c_void_p.from_address(addr).value
        if not ptr or self.lib.SSL_CTX_get_options(ptr) != int(ctx.options):
            return None
        return ptr

    def set_ciphersuites(self, ctx, suites):
        ptr = self._ptr(ctx)
        return ptr is not None and self.lib.SSL_CTX_set_ciphersuites(ptr, suites.encode()) == 1

    def session_cache(self, ctx, caching, size, timeout):
        ptr = self._ptr(ctx)
        if ptr is None:
            raise TLSError("cannot configure the TLS session cache")
        lib = self.lib
        if caching:
            lib.SSL_CTX_ctrl(
                ptr, self.SSL_CTRL_SET_SESS_CACHE_MODE, self.SSL_SESS_CACHE_SERVER, None
            )
            lib.SSL_CTX_ctrl(ptr, self.SSL_CTRL_SET_SESS_CACHE_SIZE, size, None)
            lib.SSL_CTX_set_timeout(ptr, timeout)
            lib.SSL_CTX_set_session_id_context(ptr, b"redis", 5)
        else:
            lib.SSL_CTX_ctrl(ptr, self.SSL_CTRL_SET_SESS_CACHE_MODE, self.SSL_SESS_CACHE_OFF, None)


def _logging_sslobject(server):
    """The SSLObject class of the server context: a failed handshake is logged as
    Redis logs it ("Error accepting a client connection: ..."), which asyncio
    would not (the failure never reaches our protocol). Only the handshake is
    wrapped; reads and writes are the plain SSLObject's."""

    class AcceptedSSLObject(ssl.SSLObject):
        def do_handshake(self):
            try:
                return super().do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise
            except ssl.SSLError as e:
                # OpenSSL's "<library> routines::<reason>", without the error code
                what = (
                    ("%s routines::%s" % (e.library, e.reason.lower().replace("_", " ")))
                    if e.library and e.reason
                    else str(e)
                )
                server.log_warning("Error accepting a client connection: %s" % what)
                raise

    return AcceptedSSLObject


# ------------------------------------------------------------------ listeners
def bind_sockets(server, port, reuse=None):
    """``[((host, port), socket), ...]``: the listening sockets for ``port`` on
    every ``bind`` address (listenToPort).

    Synchronous, so CONFIG SET tls-port knows at once whether the port could be
    bound. ``-addr`` entries and an unavailable IPv6 are skipped as for the plain
    listeners. ``reuse`` maps ``(host, port)`` to a socket already listening
    there (a CONFIG SET bind that keeps some addresses): it is taken over
    instead of bound again, which would fail while it listens.
    """
    cfg = server.config
    reuse = dict(reuse or {})
    socks = []
    fresh = []
    try:
        for addr in (cfg.get("bind") or "").split():
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            host = {"*": "0.0.0.0", "::*": "::"}.get(host, host)
            kept = reuse.pop((host, port), None)
            if kept is not None:
                socks.append(((host, port), kept))
                continue
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                s = socket.socket(family, socket.SOCK_STREAM)
            except OSError:
                if optional or family == socket.AF_INET6:
                    continue
                raise
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host, port))
                s.listen(cfg.get_int("tcp-backlog"))
                s.setblocking(False)
            except OSError as e:
                s.close()
                if optional or (e.errno in (97, 99) and family == socket.AF_INET6):
                    continue
                raise
            fresh.append(s)
            socks.append(((host, port), s))
    except OSError:
        for s in fresh:
            s.close()
        raise
    return socks


class TLS:
    """``server.tls``: the current contexts, the TLS listeners, the config hooks.

    ``server_ctx``/``client_ctx`` are None until TLS is configured (Redis's
    isTlsConfigured). The asyncio servers accepting TLS connections are listed
    in ``server.listeners`` like the plain ones (so shutdown closes them) and in
    ``server.tls_listeners`` (so code that accepts by hand, blocked.py, can tell
    them apart: their bytes need the loop's TLS layer).
    """

    def __init__(self, server, protocol_factory):
        self.server = server
        self.factory = protocol_factory
        self.server_ctx = None
        self.client_ctx = None
        self.socks = []  # [((host, port), socket)]: the bound listening sockets
        self.aservers = []  # the asyncio servers accepting on duplicates of them
        self.port = 0
        server.tls_listeners = []
        cfg = server.config
        for name in _BUILD_PARAMS:
            if name != "tls-auth-clients":
                cfg.add_hook(name, self._apply_cfg)
        cfg.add_hook("tls-port", self._apply_port)
        cfg.add_hook("tls-auth-clients", self._apply_auth_clients)
        # changeBindAddr moves the TLS listener with the plain ones (which the
        # "bind" hook registered before this one has moved already)
        cfg.add_hook("bind", lambda _v: self._apply_port(self.port) if self.port else None)
        # our own listening sockets outlive the asyncio servers shutdown closes
        server.hooks_on_shutdown.append(lambda _save: self.close())

    # ------------------------------------------------------------ contexts
    def configure(self):
        """tlsConfigure: build both contexts and swap them in, or log and raise TLSError."""
        try:
            srv, cli = build_contexts(self.server.config)
        except TLSError as e:
            self.server.log_warning(str(e))
            raise
        srv.sslobject_class = self._accepted_class
        self.server_ctx, self.client_ctx = srv, cli

    @property
    def _accepted_class(self):
        cls = self.__dict__.get("_accepted")
        if cls is None:
            cls = self._accepted = _logging_sslobject(self.server)
        return cls

    def _apply_cfg(self, _value):
        """applyTlsCfg: rebuild when TLS is in use; new connections get the result.

        One CONFIG SET naming several tls-* parameters runs this once per name
        (Redis runs its apply function once): a rebuild from exactly the values
        just built from, in the same turn of the loop, is skipped.
        """
        cfg = self.server.config
        if not tls_wanted(cfg):
            return
        snapshot = tuple(cfg.get(n) for n in _BUILD_PARAMS)
        if snapshot == self._just_built:
            return
        try:
            self.configure()
        except TLSError:
            raise ConfigError(UPDATE_FAILED)
        self._just_built = snapshot
        self.server.loop.call_soon(self._forget_build)
        if self.socks:
            self.server.loop.create_task(self._serve())

    _just_built = None

    def _forget_build(self):
        self._just_built = None

    def _apply_port(self, value):
        """applyTLSPort: configure TLS if it never was, then move the listener."""
        port = int(value)
        if self.server_ctx is None:
            try:
                self.configure()
            except TLSError:
                raise ConfigError(UPDATE_FAILED)
        old = dict(self.socks)
        try:
            socks = bind_sockets(self.server, port, old) if port else []
        except OSError as e:
            self.server.log_warning(
                "Could not create server TCP listening socket *:%d: %s" % (port, e.strerror or e)
            )
            raise ConfigError(LISTEN_FAILED)
        self.socks, self.port = socks, port
        self.server.loop.create_task(self._serve())
        kept = [s for _, s in socks]
        for s in old.values():
            if s not in kept:
                s.close()

    def _apply_auth_clients(self, value):
        """tls-auth-clients is read at each accept (connCreateAcceptedTLS): the
        context's verify mode is what OpenSSL copies into each new connection."""
        if self.server_ctx is not None:
            self.server_ctx.verify_mode = _VERIFY.get(value, ssl.CERT_REQUIRED)

    # ----------------------------------------------------------- listeners
    async def listen(self, port):
        """Listen on ``port`` with the configured context (OSError when it cannot)."""
        self.socks, self.port = bind_sockets(self.server, port), port
        await self._serve()

    async def _serve(self):
        """Accept on the bound sockets with the current context; the asyncio servers
        of the previous context stop accepting (their connections go on). The
        kernel's accept queue belongs to the socket, so nothing waiting is lost."""
        server = self.server
        new = []
        for _, s in self.socks:
            new.append(
                await server.loop.create_server(
                    self.factory,
                    sock=s.dup(),
                    ssl=self.server_ctx,
                    backlog=server.config.get_int("tcp-backlog"),
                )
            )
        old, self.aservers = self.aservers, new
        for srv in old:
            srv.close()
            if srv in server.listeners:
                server.listeners.remove(srv)
        server.listeners.extend(new)
        server.tls_listeners = list(new)

    def close(self):
        for srv in self.aservers:
            srv.close()
        for _, s in self.socks:
            s.close()
        self.aservers, self.socks = [], []
