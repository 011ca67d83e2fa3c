"""The security probe kit: the same probe, run against redis-server and Vermilion.

Every probe in ``tests/security/`` talks to a *server process*, never to an
in-process object: a probe that crashes the server (a Lua segfault, a corrupt
payload) must show up as a dead process with its exit status, exactly as it
would in production. :class:`Spawned` starts either server as a child process
on a free loopback port, in its own scratch directory, with extra
``--name value`` options; ``outcome()`` reduces a probe to what matters for
safety: the reply bytes, or ``"closed"``, or ``"crashed (exit N)"``.

A probe is written once and run for ``kind in ("redis", "vermilion")``; the test
asserts that Vermilion's outcome is *at least as safe* as Redis's (same reply
where Redis is safe, an error where Redis crashes). ``tests/security/run.sh
HOST PORT`` runs the probes that need no restart against any running server.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from support import RawConn, free_port, REDIS_SERVER  # noqa: E402

KINDS = ("redis", "vermilion")


def vermilion_argv():
    return [sys.executable, "-m", "vermilion"]


# Every Spawned of this process, so the session can stop the ones a test left
# running (a test that starts two servers and fails on the second: see conftest.py).
STARTED = []


class Spawned:
    """A redis-server or Vermilion child process on a free loopback port."""

    def __init__(self, kind, *extra, port=None, wait=True, dir=None, bind="127.0.0.1"):
        if kind == "redis" and REDIS_SERVER is None:
            import pytest

            pytest.skip(
                "redis-server is not installed (apt-get install redis-server): "
                "the probes compare with it"
            )
        self.kind = kind
        self.own_dir = dir is None
        self.dir = dir or tempfile.mkdtemp(prefix="vermilion-probe-")
        self.port = free_port() if port is None else port
        argv = [REDIS_SERVER] if kind == "redis" else vermilion_argv()
        argv += [
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.dir,
            "--enable-debug-command",
            "yes",
        ]
        if bind is not None:
            argv += ["--bind", bind]
        argv += [str(a) for a in extra]
        self.argv = argv
        self.log_path = os.path.join(self.dir, "server.log")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir)
        STARTED.append(self)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=20, host="127.0.0.1"):
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "%s exited with %s:\n%s" % (self.kind, self.proc.returncode, self.log())
                )
            try:
                socket.create_connection((host, self.port), timeout=1).close()
                return
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.03)

    def conn(self, timeout=10, host="127.0.0.1"):
        return RawConn(host, self.port, timeout=timeout)

    def alive(self):
        return self.proc.poll() is None

    def exit_status(self):
        rc = self.proc.poll()
        if rc is None:
            return None
        return 128 - rc if rc < 0 else rc  # -11 -> 139 as a shell prints it

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self in STARTED:
            STARTED.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def outcome(server, *cmd, timeout=10):
    """Send one command on a new connection: its reply bytes, ``"closed"``, or
    ``"crashed (exit N)"`` when the server process died."""
    try:
        c = server.conn(timeout=timeout)
    except OSError:
        return "crashed (exit %s)" % server.exit_status() if not server.alive() else "refused"
    try:
        return c.call(*cmd)
    except (ConnectionError, OSError):
        time.sleep(0.2)
        if not server.alive():
            return "crashed (exit %s)" % server.exit_status()
        return "closed"
    finally:
        c.close()


def wait_until(fn, timeout=15, interval=0.05):
    """Poll ``fn`` until it returns something true (returned), or fail."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)


def is_error(reply):
    return isinstance(reply, bytes) and reply[:1] == b"-"
