"""A busy script sees a replica leave (unit/scripting 'not enough good replicas
state change during long script'): while the loop is stuck in the script, a
closed connection is forgotten at once (Redis frees it in
processEventsWhileBlocked), so INFO shows the replica gone and a write that
min-replicas-to-write refused goes through."""

import threading
import time

import pytest
import redis

from vermilion.embed import start_server
from vermilion.scripting import AVAILABLE

pytestmark = pytest.mark.skipif(
    not AVAILABLE, reason="Lua scripting needs the optional 'lupa' package"
)

SCRIPT = """
redis.call('set','x',"script value")
for i = 1, 300000 do
    local info = redis.call('info','replication')
    if (string.match(info, "connected_slaves:0")) then
        redis.call('set','x',info)
        return 1
    end
end
return 0
"""


def test_replica_leaving_during_busy_script():
    master = start_server()
    replica = start_server()
    try:
        m = redis.Redis(port=master.port)
        r = redis.Redis(port=replica.port)
        m.set("x", "pre-script value")
        m.config_set("min-replicas-to-write", 1)
        m.config_set("lua-time-limit", 10)
        r.replicaof("127.0.0.1", master.port)
        deadline = time.time() + 30
        while m.info("replication").get("min_slaves_good_slaves") != 1:
            assert time.time() < deadline, "the replica never connected"
            time.sleep(0.1)
        out = {}
        runner = redis.Redis(port=master.port)

        def run():
            try:
                out["r"] = runner.eval(SCRIPT, 1, "x")
            except Exception as e:
                out["r"] = e

        t = threading.Thread(target=run)
        t.start()
        deadline = time.time() + 30
        while True:
            try:
                m.ping()
            except redis.BusyLoadingError:
                break
            except redis.ResponseError as e:
                if str(e).startswith("BUSY"):
                    break
                raise
            assert time.time() < deadline and "r" not in out, str(out.get("r").args)
            time.sleep(0.05)
        r.replicaof("no", "one")
        t.join(60)
        assert out.get("r") == 1
        assert b"connected_slaves:0" in m.get("x")
        for c in (m, r, runner):
            c.close()
    finally:
        replica.stop()
        master.stop()
