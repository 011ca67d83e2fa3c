"""SCRIPT DEBUG SYNC on a TLS connection is refused: the debugging session reads
and writes the client's socket itself, below the TLS layer (Redis's goes through
its connection layer; ours would send clear text into a TLS stream)."""

import os
import sys

import pytest

from vermilion.scripting import AVAILABLE

pytestmark = pytest.mark.skipif(
    not AVAILABLE, reason="Lua scripting needs the optional 'lupa' package"
)


def test_script_debug_refused_over_tls():
    # (the TLS probes' helpers: certificates, both servers spawned with tls-port)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "security"))
    tls = pytest.importorskip("test_tls")
    pair = tls.TLSPair()
    try:
        port = pair.tls_port["vermilion"]
        reply = tls.tls_call(port, "SCRIPT", "DEBUG", "SYNC")
        assert reply == b"-ERR SCRIPT DEBUG is not supported on this connection (TLS)\r\n"
        assert tls.tls_call(port, "EVAL", "return 1", "0") == b":1\r\n"
    finally:
        pair.stop()
