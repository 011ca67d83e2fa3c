"""A shutdown must not lose the data it was asked to keep.

When the final RDB cannot be written (the directory vanished, the disk is
full), Redis refuses to exit: SHUTDOWN answers ``-ERR Errors trying to
SHUTDOWN. Check logs.``, a SIGTERM is logged and forgotten, and the server keeps
serving its data until the operator fixes the disk or says FORCE / NOSAVE.
Exiting 0 with the data gone is the failure mode these probes look for. They
also cover the rest of SHUTDOWN's contract: the SAVE / NOSAVE / NOW / FORCE /
ABORT flags, ``shutdown-on-sigterm``, and ``shutdown-timeout`` (a master waits
for lagging replicas, with writes paused, before it exits).

We run as root, so an unwritable directory is no obstacle; the probes make the
save fail by removing the directory (``CONFIG SET dir`` to a fresh one, then
``rmdir``).
"""

import os
import signal
import time

import pytest

from probe import Spawned, outcome, KINDS, wait_until

SHUTDOWN_ERROR = b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
SAVE_REFUSED = "Error trying to save the DB, can't exit."
REFUSED = "Errors trying to shut down the server. Check the logs for more information."


def gone(reply):
    """Closed without a reply, or the process already exited with status 0."""
    return reply in ("closed", "crashed (exit 0)")


def wait_exit(server, timeout=15):
    wait_until(lambda: not server.alive(), timeout)
    return server.exit_status()


def spawn(kind, *args):
    # CONFIG SET dir is a protected config since 7.0
    return Spawned(kind, "--enable-protected-configs", "yes", *args)


def break_dir(server):
    """Point ``dir`` at a directory, then remove it: every save fails from now on."""
    d = os.path.join(server.dir, "data")
    os.mkdir(d)
    assert outcome(server, "CONFIG", "SET", "dir", d) == b"+OK\r\n"
    os.rmdir(d)
    return d


def log_count(server, text):
    return server.log().count(text)


@pytest.mark.parametrize("kind", KINDS)
def test_failed_final_save_keeps_the_server_and_its_data(kind):
    with spawn(kind, "--save", "3600 1") as s:
        assert outcome(s, "SET", "k", "v") == b"+OK\r\n"
        d = break_dir(s)
        assert outcome(s, "SHUTDOWN") == SHUTDOWN_ERROR
        assert s.alive()
        assert outcome(s, "GET", "k") == b"$1\r\nv\r\n"
        # a refused shutdown is not a failed BGSAVE: writes go on (no MISCONF)
        assert outcome(s, "SET", "k2", "v2") == b"+OK\r\n"
        log = s.log()
        assert "User requested shutdown..." in log
        assert "Saving the final RDB snapshot before exiting." in log
        assert "Failed opening the temp RDB file temp-" in log
        assert SAVE_REFUSED in log
        assert REFUSED in log
        assert "bye bye" not in log
        # SHUTDOWN SAVE fails the same way, even without save rules
        assert outcome(s, "CONFIG", "SET", "save", "") == b"+OK\r\n"
        assert outcome(s, "SHUTDOWN", "SAVE") == SHUTDOWN_ERROR
        assert s.alive()
        # the disk is back (Redis chdirs to ``dir``: set it again): now it saves and exits
        os.mkdir(d)
        assert outcome(s, "CONFIG", "SET", "dir", d) == b"+OK\r\n"
        assert gone(outcome(s, "SHUTDOWN", "SAVE"))
        assert wait_exit(s) == 0
        assert os.path.getsize(os.path.join(d, "dump.rdb")) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_sigterm_with_failing_save_is_logged_and_ignored(kind):
    with spawn(kind, "--save", "3600 1") as s:
        assert outcome(s, "SET", "k", "v") == b"+OK\r\n"
        break_dir(s)
        s.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: log_count(s, REFUSED) == 1)
        time.sleep(0.5)
        assert s.alive()
        assert outcome(s, "GET", "k") == b"$1\r\nv\r\n"
        log = s.log()
        assert "Received SIGTERM scheduling shutdown..." in log
        assert SAVE_REFUSED in log
        assert log_count(s, "User requested shutdown...") == 1  # tried once, forgotten
        # a second SIGTERM tries again (and fails again)
        s.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: log_count(s, REFUSED) == 2)
        assert s.alive()


@pytest.mark.parametrize("kind", KINDS)
def test_force_exits_despite_the_failed_save(kind):
    with spawn(kind, "--save", "3600 1") as s:
        assert outcome(s, "SET", "k", "v") == b"+OK\r\n"
        break_dir(s)
        assert gone(outcome(s, "SHUTDOWN", "FORCE"))
        assert wait_exit(s) == 0
        assert "Error trying to save the DB. Exit anyway." in s.log()


@pytest.mark.parametrize("kind", KINDS)
def test_nosave_exits_without_trying(kind):
    with spawn(kind, "--save", "3600 1") as s:
        assert outcome(s, "SET", "k", "v") == b"+OK\r\n"
        break_dir(s)
        assert gone(outcome(s, "SHUTDOWN", "NOSAVE"))
        assert wait_exit(s) == 0
        assert "Saving the final RDB snapshot" not in s.log()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("flags", ["nosave", "force", "default"])
def test_shutdown_on_sigterm_flags(kind, flags):
    with spawn(kind, "--save", "3600 1", "--shutdown-on-sigterm", flags) as s:
        assert outcome(s, "SET", "k", "v") == b"+OK\r\n"
        break_dir(s)
        s.proc.send_signal(signal.SIGTERM)
        if flags == "default":
            wait_until(lambda: REFUSED in s.log())
            assert s.alive()
        else:
            assert wait_exit(s) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_argument_errors(kind):
    with Spawned(kind) as s:
        syntax = b"-ERR syntax error\r\n"
        assert outcome(s, "SHUTDOWN", "SAVE", "NOSAVE") == syntax
        assert outcome(s, "SHUTDOWN", "ABORT", "NOW") == syntax
        assert outcome(s, "SHUTDOWN", "BOGUS") == syntax
        assert outcome(s, "SHUTDOWN", "ABORT") == b"-ERR No shutdown in progress.\r\n"
        c = s.conn()
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("SHUTDOWN") == (b"-ERR Command not allowed inside a transaction\r\n")
        c.close()
        assert s.alive()


# ------------------------------------------------------------ lagging replicas
class FakeReplica:
    """A connection that syncs like a replica, then acknowledges only on demand."""

    def __init__(self, server):
        self.c = server.conn(timeout=20)
        assert self.c.call("REPLCONF", "listening-port", "1") == b"+OK\r\n"
        self.c.send_command("PSYNC", "?", "-1")
        line = self.c._line()
        assert line.startswith(b"+FULLRESYNC"), line
        while True:  # skip the keepalive newlines before the payload
            line = self.c._line()
            if line.startswith(b"$"):
                break
        n = int(line[1:-2])
        while len(self.c.buf) < n:
            self.c._fill()
        self.c.buf = self.c.buf[n:]

    def ack(self, offset):
        self.c.send_command("REPLCONF", "ACK", str(offset))


def master_offset(server):
    raw = outcome(server, "INFO", "replication")
    for line in raw.split(b"\r\n"):
        if line.startswith(b"master_repl_offset:"):
            return int(line.split(b":")[1])
    raise AssertionError(raw)


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_waits_for_a_lagging_replica_and_abort_cancels(kind):
    with Spawned(kind, "--repl-diskless-sync-delay", "0", "--shutdown-timeout", "30") as s:
        rep = FakeReplica(s)
        assert outcome(s, "SET", "k", "v") == b"+OK\r\n"  # the replica never acks it
        waiter = s.conn(timeout=20)
        waiter.send_command("SHUTDOWN")
        wait_until(lambda: "Waiting for replicas before shutting down." in s.log())
        assert s.alive()
        info = outcome(s, "INFO", "server")
        left = int(info.split(b"shutdown_in_milliseconds:")[1].split(b"\r\n")[0])
        assert 0 < left <= 30000
        # writes are paused meanwhile; reads are served
        writer = s.conn(timeout=20)
        writer.send_command("SET", "k", "w")
        assert outcome(s, "GET", "k") == b"$1\r\nv\r\n"
        assert outcome(s, "SHUTDOWN", "ABORT") == b"+OK\r\n"
        assert waiter.read_reply() == SHUTDOWN_ERROR
        assert writer.read_reply() == b"+OK\r\n"  # released by the abort
        assert "Shutdown manually aborted." in s.log()
        assert outcome(s, "GET", "k") == b"$1\r\nw\r\n"
        assert s.alive()
        waiter.close()
        writer.close()
        rep.c.close()


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_exits_once_the_replica_caught_up(kind):
    with Spawned(kind, "--repl-diskless-sync-delay", "0", "--shutdown-timeout", "30") as s:
        rep = FakeReplica(s)
        assert outcome(s, "SET", "k", "v") == b"+OK\r\n"
        waiter = s.conn(timeout=20)
        waiter.send_command("SHUTDOWN")
        wait_until(lambda: "Waiting for replicas before shutting down." in s.log())
        rep.ack(master_offset(s))
        assert wait_exit(s, timeout=10) == 0
        assert "1 of 1 replicas are in sync when shutting down." in s.log()


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_timeout_gives_up_on_a_lagging_replica(kind):
    with Spawned(kind, "--repl-diskless-sync-delay", "0", "--shutdown-timeout", "1") as s:
        rep = FakeReplica(s)
        assert outcome(s, "SET", "k", "v") == b"+OK\r\n"
        t0 = time.time()
        s.proc.send_signal(signal.SIGTERM)
        assert wait_exit(s, timeout=10) == 0
        assert time.time() - t0 >= 0.9
        log = s.log()
        assert "Waiting for replicas before shutting down." in log
        assert "Lagging replica" in log
        assert "0 of 1 replicas are in sync when shutting down." in log
        rep.c.close()


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_now_does_not_wait_for_replicas(kind):
    with Spawned(kind, "--repl-diskless-sync-delay", "0", "--shutdown-timeout", "30") as s:
        rep = FakeReplica(s)
        assert outcome(s, "SET", "k", "v") == b"+OK\r\n"
        assert gone(outcome(s, "SHUTDOWN", "NOW"))
        assert wait_exit(s, timeout=5) == 0
        assert "Waiting for replicas" not in s.log()
        rep.c.close()
