"""Progress of the fork children (issue #15 item 5): an AOF rewrite reports the keys
it has written to INFO like BGSAVE does (current_save_keys_processed/_total, with
current_fork_perc computed from them as Redis's INFO does), in both base formats,
and a long BGSAVE or rewrite logs "Saving the dataset" lines from the child."""

import re
import time

import pytest
import redis

from vermilion.persistence import snapshot
from vermilion.persistence.snapshot import HAS_FORK

pytestmark = pytest.mark.skipif(not HAS_FORK, reason="no fork: nothing runs in the background")

N = 20000


def _fill(r):
    with r.pipeline(transaction=False) as p:
        for i in range(N):
            p.set("k%d" % i, i)
        p.execute()


def _watch(r, flag):
    """INFO persistence every 20 ms until ``flag`` goes to 0: the (processed,
    total, perc) triples seen."""
    seen = []
    deadline = time.time() + 90
    while time.time() < deadline:
        info = r.info("persistence")
        if not info[flag]:
            return seen
        seen.append(
            (
                info["current_save_keys_processed"],
                info["current_save_keys_total"],
                info["current_fork_perc"],
            )
        )
        time.sleep(0.02)
    raise AssertionError("the child did not finish")


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_aof_rewrite_progress_in_info(tmp_path, vermilion_factory, preamble):
    srv = vermilion_factory(dir=str(tmp_path), save="")
    r = redis.Redis(host=srv.host, port=srv.port)
    _fill(r)
    r.config_set("aof-use-rdb-preamble", preamble)
    r.config_set("rdb-key-save-delay", 50)  # about a second
    r.bgrewriteaof()
    seen = _watch(r, "aof_rewrite_in_progress")
    r.config_set("rdb-key-save-delay", 0)
    assert r.info("persistence")["aof_last_bgrewrite_status"] == "ok"
    assert all(total == N for _, total, _ in seen), seen
    assert any(0 < k < N for k, _, _ in seen), seen
    for k, total, perc in seen:
        assert abs(perc - round(k * 100.0 / total, 2)) < 0.006
    info = r.info("persistence")
    assert info["current_save_keys_total"] == 0 and info["current_fork_perc"] == 0


def test_bgsave_child_logs_its_progress(tmp_path, vermilion_factory, monkeypatch):
    monkeypatch.setattr(snapshot, "PROGRESS_LOG_SECONDS", 0.1)
    log = tmp_path / "log"
    srv = vermilion_factory(dir=str(tmp_path), save="", logfile=str(log), loglevel="notice")
    r = redis.Redis(host=srv.host, port=srv.port)
    _fill(r)
    r.config_set("rdb-key-save-delay", 30)
    r.bgsave()
    _watch(r, "rdb_bgsave_in_progress")
    r.config_set("rdb-key-save-delay", 0)
    text = log.read_text()
    pat = re.compile(r"^(\d+):C .*Saving the dataset: ([\d.]+)% \((\d+) of (\d+) keys\)")
    got = [m for m in map(pat.search, text.splitlines()) if m]
    assert got, text
    child = re.search(r"Background saving started by pid (\d+)", text).group(1)
    assert all(m.group(1) == child and int(m.group(4)) == N for m in got)
    assert [float(m.group(2)) for m in got] == sorted(float(m.group(2)) for m in got)
