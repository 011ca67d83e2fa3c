"""A script queued in MULTI makes the EXEC a write when it declares it may write
(a shebang without no-writes): EXEC on a read-only replica is then refused as a
whole (unit/scripting 'no-writes shebang flag on replica'); a script without a
shebang runs and fails at its write."""

import time

import pytest
import redis

from vermilion.embed import start_server
from vermilion.scripting import AVAILABLE

pytestmark = pytest.mark.skipif(
    not AVAILABLE, reason="Lua scripting needs the optional 'lupa' package"
)


def test_exec_of_writing_script_on_replica():
    master = start_server()
    replica = start_server()
    try:
        m = redis.Redis(port=master.port)
        r = redis.Redis(port=replica.port)
        m.set("x", "some value")
        rr = redis.Redis(port=replica.port, single_connection_client=True)
        rr2 = redis.Redis(port=replica.port, single_connection_client=True)
        for c in (rr, rr2):
            c.execute_command("MULTI")
        rr.execute_command("EVAL", "#!lua\nreturn 1", "0")
        rr2.execute_command("EVAL", "redis.call('set','x',1)\nreturn 1", "1", "x")
        r.replicaof("127.0.0.1", master.port)
        deadline = time.time() + 30
        while r.info("replication")["master_link_status"] != "up":
            assert time.time() < deadline, "the replica never connected"
            time.sleep(0.1)
        with pytest.raises(redis.ResponseError) as e:
            rr.execute_command("EXEC")
        assert str(e.value) == (
            "Transaction discarded because of: READONLY You can't write against a read only "
            "replica."
        )
        (err,) = rr2.execute_command("EXEC")  # (the script ran: its error is its reply)
        assert isinstance(err, redis.exceptions.ReadOnlyError)  # (READONLY, stripped)
        assert str(err).startswith("You can't write against a read only replica. script: ")
        rr.execute_command("MULTI")
        rr.execute_command("EVAL", "#!lua flags=no-writes\nreturn redis.call('get','x')", "1", "x")
        assert rr.execute_command("EXEC") == [b"some value"]
        for c in (m, r, rr, rr2):
            c.close()
    finally:
        replica.stop()
        master.stop()
