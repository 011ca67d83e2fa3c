"""Helpers for the cluster tests: real Vermilion and redis-server processes in
cluster mode, each in its own directory, on a port whose bus port (+10000) is
free too."""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _port_free(p):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


def cluster_port():
    """A free port p with p+10000 free as well (p <= 55535, as Redis requires)."""
    for _ in range(200):
        p = random.randint(20000, 29999)
        if _port_free(p) and _port_free(p + 10000):
            return p
    raise RuntimeError("no free port pair")


def wait_for(cond, timeout=20.0, what="condition", interval=0.05):
    deadline = time.time() + timeout
    while True:
        try:
            v = cond()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            v = None
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(interval)


class Node:
    """One cluster node process: kind is "vermilion" or "redis"."""

    def __init__(self, kind, node_timeout=2000, extra=()):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="vermilion-cluster-")
        self.port = cluster_port()
        self.node_timeout = node_timeout
        self.extra = list(extra)
        self.proc = None
        self.start()

    def argv(self):
        args = [
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(self.node_timeout),
            "--dir",
            self.dir,
            "--logfile",
            "server.log",
            "--save",
            "",
            "--appendonly",
            "no",
            "--repl-diskless-sync-delay",
            "0",
        ] + self.extra
        if self.kind == "redis":
            return [REDIS_SERVER] + args
        return [sys.executable, "-m", "vermilion"] + args

    def start(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            self.argv(), cwd=self.dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(lambda: self.client().ping(), 30, "%s node on %d" % (self.kind, self.port))

    def client(self, **kw):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5, **kw)

    @property
    def addr(self):
        return "127.0.0.1:%d" % self.port

    def myid(self):
        return self.client().execute_command("CLUSTER", "MYID").decode()

    def role(self):
        return self.client().execute_command("ROLE")[0].decode()

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as fh:
                return fh.read()
        except OSError:
            return ""


def redis_cli(*args, timeout=300, input_text=None):
    """Run redis-cli; returns (exit status, output)."""
    p = subprocess.run(
        [REDIS_CLI] + list(args),
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return p.returncode, p.stdout + p.stderr


def cluster_ok(nodes):
    """Every live node says cluster_state:ok and knows every node."""
    for n in nodes:
        info = n.client().execute_command("CLUSTER", "INFO")
        if isinstance(info, bytes):
            info = info.decode()
        if "cluster_state:ok" not in info or "cluster_known_nodes:%d" % len(nodes) not in info:
            return False
    return True
