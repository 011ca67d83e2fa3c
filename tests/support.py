"""Test support shared by every test module: raw RESP connections, a throwaway
redis-server, and the differential runner. Import with ``from support import ...``
(tests/ is on sys.path via the root conftest).
"""

import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RawConn:
    """A raw RESP connection: send commands, read back exact reply bytes."""

    def __init__(self, host, port, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def send_command(self, *args):
        args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.send(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[: i + 2], self.buf[i + 2 :]
        return line

    def read_reply(self):
        """One complete reply, as raw bytes."""
        line = self._line()
        t = line[:1]
        if t in b"$=!":
            n = int(line[1:-2])
            if n < 0:
                return line
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[: n + 2], self.buf[n + 2 :]
            return line + data
        if t in b"*~>%|":
            n = int(line[1:-2])
            if n < 0:
                return line
            if t in b"%|":
                n *= 2
            return line + b"".join(self.read_reply() for _ in range(n))
        return line

    def call(self, *args):
        self.send_command(*args)
        return self.read_reply()

    def is_closed(self, timeout=1.0):
        """True if the server closed the connection within ``timeout`` seconds."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
            return data == b""
        except socket.timeout:
            return False
        except (ConnectionError, OSError):
            return True

    def close(self):
        self.sock.close()


REDIS_SERVER = shutil.which("redis-server")


class RealRedis:
    """A throwaway redis-server 7.0 on a free port."""

    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="vermilion-ref-")
        self.port = free_port()
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
                "--enable-debug-command",
                "yes",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Differ:
    """Run the same commands on redis-server and Vermilion; compare raw replies."""

    def __init__(self, ref_port, our_port):
        self.ref = RawConn("127.0.0.1", ref_port)
        self.our = RawConn("127.0.0.1", our_port)

    def __call__(self, *args):
        """Send one command to both; assert identical bytes; return them."""
        a = self.ref.call(*args)
        b = self.our.call(*args)
        assert b == a, "reply to %r differs:\n redis:     %r\n vermilion: %r" % (args, a, b)
        return a

    def raw(self, data, replies=1):
        """Send raw bytes to both and compare the next ``replies`` replies."""
        self.ref.send(data)
        self.our.send(data)
        out = []
        for _ in range(replies):
            a = self.ref.read_reply()
            b = self.our.read_reply()
            assert b == a, "reply to %r differs:\n redis:     %r\n vermilion: %r" % (data, a, b)
            out.append(a)
        return out

    def run(self, script):
        """Several commands: a list of arg tuples, or text with one command per line."""
        if isinstance(script, str):
            import shlex

            script = [
                shlex.split(line)
                for line in script.strip().splitlines()
                if line.strip() and not line.strip().startswith("#")
            ]
        return [self(*cmd) for cmd in script]

    def close(self):
        self.ref.close()
        self.our.close()
