"""Progress where a user waits (issue #15, item 10): a long load and a long SAVE log
how far they got every PROGRESS_LOG_SECONDS; INFO shows the loading_* fields."""

import re

import pytest
import redis

from vermilion.persistence import snapshot


@pytest.fixture
def fast_progress(monkeypatch):
    monkeypatch.setattr(snapshot, "PROGRESS_LOG_SECONDS", 0.1)


def _fill(r, n):
    with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.set("key:%d" % i, "v" * 20)
        p.execute()


def test_long_save_logs_its_progress(tmp_path, vermilion_factory, fast_progress):
    log = tmp_path / "log"
    srv = vermilion_factory(dir=str(tmp_path), save="", logfile=str(log), loglevel="notice")
    r = redis.Redis(host=srv.host, port=srv.port)
    n = 20000
    _fill(r, n)
    r.config_set("rdb-key-save-delay", 20)  # about half a second
    assert r.save()
    r.config_set("rdb-key-save-delay", 0)
    lines = [ln for ln in log.read_text().splitlines() if "Saving the dataset:" in ln]
    assert lines, log.read_text()
    got = [
        re.search(
            r"Saving the dataset: ([\d.]+)% \((\d+) of (\d+) keys\), about \d+ seconds left", ln
        )
        for ln in lines
    ]
    assert all(got), lines
    assert all(int(m.group(3)) == n and 0 < int(m.group(2)) <= n for m in got)
    percents = [float(m.group(1)) for m in got]
    assert percents == sorted(percents)
    assert "DB saved on disk" in log.read_text()


def test_short_save_logs_no_progress(tmp_path, vermilion_factory):
    log = tmp_path / "log"
    srv = vermilion_factory(dir=str(tmp_path), save="", logfile=str(log), loglevel="notice")
    r = redis.Redis(host=srv.host, port=srv.port)
    _fill(r, 100)
    assert r.save()
    assert "Saving the dataset:" not in log.read_text()


def test_long_load_logs_its_progress(tmp_path, vermilion_factory, fast_progress):
    n = 20000
    first = vermilion_factory(dir=str(tmp_path), save="")
    r = redis.Redis(host=first.host, port=first.port)
    _fill(r, n)
    assert r.save()
    first.stop()
    log = tmp_path / "log"
    # key-load-delay: microseconds per key, so that the load lasts about half a second
    srv = vermilion_factory(
        dir=str(tmp_path), save="", logfile=str(log), loglevel="notice", key_load_delay=25
    )
    text = log.read_text()
    lines = [ln for ln in text.splitlines() if "Loading the dataset:" in ln]
    assert lines, text
    pat = re.compile(
        r"Loading the dataset: ([\d.]+)% \(([\d.]+) MB of ([\d.]+) MB, (\d+) keys\), "
        r"about \d+ seconds left"
    )
    got = [pat.search(ln) for ln in lines]
    assert all(got), lines
    percents = [float(m.group(1)) for m in got]
    keys = [int(m.group(4)) for m in got]
    assert percents == sorted(percents) and 0 < percents[-1] < 100
    assert keys == sorted(keys) and 0 < keys[-1] < n
    assert text.index("Loading the dataset:") < text.index("Done loading RDB")
    r = redis.Redis(host=srv.host, port=srv.port)
    assert r.dbsize() == n
    info = r.info("persistence")
    assert info["loading"] == 0
