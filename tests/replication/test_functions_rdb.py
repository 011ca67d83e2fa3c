"""redis-cli --functions-rdb (REPLCONF rdb-filter-only functions): the RDB a
master sends is its functions without its data, and redis-cli --rdb gets both;
each file is loaded by a real redis-server to check (redis-cli.tcl 'Dumping an
RDB - functions only')."""

import shutil
import time
import subprocess

import pytest
import redis

from support import REDIS_SERVER, RealRedis
from test_restart_psync import Proc

LIB = "#!lua name=lib1\nredis.register_function('func1', function() return 123 end)"


@pytest.mark.skipif(
    REDIS_SERVER is None or shutil.which("redis-cli") is None,
    reason="needs redis-cli and redis-server (the files are loaded by redis-server)",
)
@pytest.mark.parametrize("functions_only", [True, False])
def test_cli_rdb_dump(tmp_path, functions_only):
    master = Proc("vermilion")
    try:
        m = master.client()
        m.execute_command("DEBUG", "POPULATE", "1000", "key", "10")
        m.function_load(LIB)
        path = tmp_path / "dump.rdb"
        flag = "--functions-rdb" if functions_only else "--rdb"
        out = subprocess.run(
            ["redis-cli", "-p", str(master.port), flag, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Transfer finished with success" in out.stdout + out.stderr
    finally:
        master.stop()
    ref = RealRedis("--dbfilename", "dump.rdb", "--dir", str(tmp_path))
    try:
        r = redis.Redis(port=ref.port)
        assert r.dbsize() == (0 if functions_only else 1000)
        assert r.fcall("func1", 0) == 123
    finally:
        ref.stop()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="needs redis-cli")
def test_cli_replica_gets_the_stream_after_its_ack():
    """redis-cli --replica after a diskless sync: writes made before its first
    REPLCONF ACK wait for it and then flow; the ACK is not taken for a command
    that answered (the replica is kept)."""
    master = Proc("vermilion", "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
    cli = None
    try:
        m = master.client()
        cli = subprocess.Popen(
            ["redis-cli", "-p", str(master.port), "--replica"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2000):  # during and after the transfer
            m.set("test-key", "test-value-%d" % i)
        deadline = time.time() + 15
        while m.info("replication").get("connected_slaves") != 1 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        assert m.info("replication").get("connected_slaves") == 1, master.log()[-2000:]
        m.execute_command("CLIENT", "KILL", "TYPE", "slave")
        out, _ = cli.communicate(timeout=10)
        assert '"test-value-1999"' in out
        assert "Server closed the connection" in out
        assert "generated a reply" not in master.log()
    finally:
        if cli is not None and cli.poll() is None:
            cli.kill()
        master.stop()
