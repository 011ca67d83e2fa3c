"""redis.set_repl: a script's writes go to the AOF, the replicas, both or
neither, as chosen (unit/scripting 'Test selective replication of certain
Redis commands from Lua'): a real master with an AOF and a real replica."""

import time

import pytest
import redis

from vermilion.embed import start_server
from vermilion.scripting import AVAILABLE

pytestmark = pytest.mark.skipif(
    not AVAILABLE, reason="Lua scripting needs the optional 'lupa' package"
)

SCRIPT = """
redis.call('set','a','1');
redis.set_repl(redis.REPL_NONE);
redis.call('set','b','2');
redis.set_repl(redis.REPL_AOF);
redis.call('set','c','3');
redis.set_repl(redis.REPL_REPLICA);
redis.call('set','e','5');
redis.set_repl(redis.REPL_ALL);
redis.call('set','d','4');
"""


@pytest.mark.parametrize("kind", ["eval", "fcall"])
def test_selective_replication(tmp_path, kind):
    master = start_server(
        dir=str(tmp_path),
        appendonly="yes",
        aof_use_rdb_preamble="no",
        enable_debug_command="yes",
    )
    replica = start_server()
    try:
        m = redis.Redis(port=master.port)
        r = redis.Redis(port=replica.port)
        r.replicaof("127.0.0.1", master.port)
        deadline = time.time() + 30
        while r.info("replication")["master_link_status"] != "up":
            assert time.time() < deadline, "the replica never connected"
            time.sleep(0.1)
        if kind == "eval":
            m.eval(SCRIPT, 0)
        else:
            m.function_load(
                "#!lua name=t\nredis.register_function('f', function()\n%s\nend)" % SCRIPT
            )
            m.fcall("f", 0)
        m.set("done", "1")
        deadline = time.time() + 30
        while r.get("done") is None:
            assert time.time() < deadline, "the replica never got the writes"
            time.sleep(0.1)
        assert r.mget("a", "b", "c", "d", "e") == [b"1", None, None, b"4", b"5"]
        assert m.mget("a", "b", "c", "d", "e") == [b"1", b"2", b"3", b"4", b"5"]
        m.execute_command("DEBUG", "LOADAOF")
        assert m.mget("a", "b", "c", "d", "e") == [b"1", None, b"3", b"4", None]
        m.close()
        r.close()
    finally:
        replica.stop()
        master.stop()
