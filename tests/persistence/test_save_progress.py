"""BGSAVE's progress in INFO (current_save_keys_processed / _total), reported by
the child through a pipe as Redis's child info pipe does (issue #15)."""

import time

import pytest
import redis

from vermilion.persistence.snapshot import HAS_FORK


@pytest.mark.skipif(not HAS_FORK, reason="BGSAVE runs in the foreground without fork")
def test_bgsave_progress_in_info(tmp_path, vermilion_factory):
    srv = vermilion_factory(dir=str(tmp_path), save="")
    r = redis.Redis(host=srv.host, port=srv.port)
    n = 20000
    with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.set("k%d" % i, i)
        p.execute()
    assert r.info("persistence")["current_save_keys_total"] == 0
    r.config_set("rdb-key-save-delay", 50)  # 20k keys: about a second
    r.bgsave()
    seen = set()
    deadline = time.time() + 60
    while time.time() < deadline:
        info = r.info("persistence")
        if not info["rdb_bgsave_in_progress"]:
            break
        assert info["current_save_keys_total"] == n
        seen.add(info["current_save_keys_processed"])
        time.sleep(0.02)
    assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
    assert any(0 < k < n for k in seen), seen
    info = r.info("persistence")
    assert info["current_save_keys_processed"] == 0 and info["current_save_keys_total"] == 0
    r.config_set("rdb-key-save-delay", 0)
    assert r.save()
