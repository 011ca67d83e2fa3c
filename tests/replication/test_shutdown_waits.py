"""What integration/shutdown's "waits for replica then fails" needs besides the
replication buffers (see test_replica_replies.py for those): a slow initial AOF
rewrite (``rdb-key-save-delay`` applies to the rewrite's RDB preamble, as Redis's
rdbSaveKeyValuePair sleeps in any child) makes SHUTDOWN fail with "Writing initial
AOF, can't exit" (the AOF being written is the only copy it will have) until
SHUTDOWN ... FORCE. It runs against Vermilion and, when installed, redis-server.
"""

import time

import pytest
import redis

from support import REDIS_SERVER
from replhelp import wait_for
from test_restart_psync import Proc

KINDS = ["vermilion"] + (["redis"] if REDIS_SERVER is not None else [])


@pytest.mark.parametrize("kind", KINDS)
def test_shutdown_refused_while_the_initial_aof_is_slowly_written(kind):
    node = Proc(kind)
    try:
        c = node.client()
        c.set("k", "1")
        c.config_set("rdb-key-save-delay", "30000000")  # 30 s for the one key
        c.config_set("appendonly", "yes")
        wait_for(lambda: c.info("persistence")["aof_rewrite_in_progress"] == 1, 10, "the rewrite")
        time.sleep(0.5)
        with pytest.raises(redis.ResponseError, match="Errors trying to SHUTDOWN. Check logs"):
            c.shutdown()
        assert "Writing initial AOF, can't exit." in node.log()
        assert c.info("persistence")["aof_rewrite_in_progress"] == 1  # still slow
        try:
            c.shutdown(nosave=True, force=True)
        except redis.ConnectionError:
            pass
        node.proc.wait(20)
    finally:
        node.stop()
