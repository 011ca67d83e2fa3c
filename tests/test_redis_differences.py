"""Small differences from redis-server 7.0.15 that were fixed (issue #15, item 7), each
checked against the text or behaviour redis-server 7.0.15 shows."""

import io
import os
import subprocess
import sys
import time

import pytest
import redis

from vermilion import memtest
from vermilion.embed import start_server
from vermilion.persistence import snapshot
from support import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT)


def _vermilion(*args, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "vermilion", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
    )


# ------------------------------------------------------------------ SLOWLOG ids
def test_slowlog_ids_start_at_zero():
    """slowlog_entry_id starts at 0 in Redis: the CONFIG SET that turns the slowlog on
    is entry 0, the next command entry 1; SLOWLOG RESET does not restart the ids."""
    with start_server() as s:
        r = redis.Redis(host=s.host, port=s.port)
        r.config_set("slowlog-log-slower-than", 0)
        r.set("a", "b")
        assert [e["id"] for e in r.slowlog_get(10)] == [1, 0]
        r.slowlog_reset()
        r.ping()
        assert [e["id"] for e in r.slowlog_get(10)] == [4, 3]  # 2: SLOWLOG GET


# ------------------------------------------------------ CONFIG SET appendonly
def test_config_set_appendonly_error_text_and_log(tmp_path):
    (tmp_path / "appendonlydir").write_text("")  # not a directory: the AOF cannot start
    log = tmp_path / "log"
    with start_server(dir=str(tmp_path), logfile=str(log), loglevel="notice") as s:
        r = redis.Redis(host=s.host, port=s.port, decode_responses=True)
        with pytest.raises(redis.ResponseError) as ei:
            r.config_set("appendonly", "yes")
        assert str(ei.value) == (
            "CONFIG SET failed (possibly related to argument 'appendonly') - "
            "Unable to turn on AOF. Check server logs."
        )
        assert r.config_get("appendonly") == {"appendonly": "no"}
        lines = [ln.split(" ", 6)[-1] for ln in log.read_text().splitlines()]
        i = lines.index("Can't open or create append-only dir appendonlydir: Not a directory")
        assert lines[i + 1 : i + 3] == [
            "Redis needs to enable the AOF but can't trigger a background AOF rewrite "
            "operation. Check the above logs for more info about the error.",
            "Failed applying new configuration. Possibly related to new appendonly "
            "setting. Restoring previous settings.",
        ]


# ------------------------------------------------------------- save errors
def _wait_bgsave(r):
    deadline = time.time() + 30
    while r.info("persistence")["rdb_bgsave_in_progress"] and time.time() < deadline:
        time.sleep(0.02)


@pytest.mark.skipif(not snapshot.HAS_FORK, reason="BGSAVE needs fork")
def test_bgsave_child_logs_why_it_failed(tmp_path):
    """Redis's child logs the rdbSave error (with the temp file and the server's
    directory) as "<child pid>:C", then the parent "Background saving error"."""
    log = tmp_path / "log"
    with start_server(dir=str(tmp_path), logfile=str(log), loglevel="notice") as s:
        (tmp_path / "dump.rdb").mkdir()  # the rename over it fails
        r = redis.Redis(host=s.host, port=s.port)
        r.set("k", "v")
        r.bgsave()
        _wait_bgsave(r)
        text = log.read_text()
        started = [ln for ln in text.splitlines() if "Background saving started by pid" in ln]
        pid = int(started[0].rsplit(" ", 1)[1])
        child = [ln for ln in text.splitlines() if ln.startswith("%d:C " % pid)]
        assert len(child) == 1 and child[0].endswith(
            "# Error moving temp DB file temp-%d.rdb on the final destination dump.rdb "
            "(in server root dir %s): Is a directory" % (pid, tmp_path)
        )
        assert text.index(child[0]) < text.index("Background saving error")
        (tmp_path / "dump.rdb").rmdir()
        r.bgsave()
        _wait_bgsave(r)
        text = log.read_text()
        assert any(
            ln.split(" ", 1)[0].endswith(":C") and ln.endswith("* DB saved on disk")
            for ln in text.splitlines()
        )
        assert "Background saving terminated with success" in text


def test_save_write_error_names_the_step(tmp_path, monkeypatch):
    """rdbSave's "Write error saving DB on disk(<step>): <error>"."""

    def full_disk(fh, *args, **kwargs):
        raise OSError(28, os.strerror(28))

    monkeypatch.setattr(snapshot.rdbmod, "write_rdb", full_disk)
    log = tmp_path / "log"
    with start_server(dir=str(tmp_path), logfile=str(log), loglevel="notice") as s:
        r = redis.Redis(host=s.host, port=s.port)
        with pytest.raises(redis.ResponseError):
            r.save()
        assert "# Write error saving DB on disk(rdbSaveRio): No space left on device" in (
            log.read_text()
        )
        assert not [p for p in os.listdir(tmp_path) if p.startswith("temp-")]


# ----------------------------------------------- a failed load said once
def test_load_failure_is_reported_once(tmp_path):
    with start_server(dir=str(tmp_path)) as s:
        r = redis.Redis(host=s.host, port=s.port)
        r.set("k", "v")
        r.save()
    data = bytearray((tmp_path / "dump.rdb").read_bytes())
    data[-1] ^= 0xFF  # a CRC error
    (tmp_path / "dump.rdb").write_bytes(bytes(data))
    p = _vermilion("--port", str(free_port()), "--dir", str(tmp_path))
    assert p.returncode == 1
    out = p.stdout + p.stderr
    assert out.count("RDB CRC error") == 1, out  # the log line only (was also on stderr)
    assert "Wrong RDB checksum expected" in p.stdout
    assert p.stderr == ""


# ------------------------------------------------------------- --test-memory
def test_test_memory_passes_and_prints_like_redis():
    p = _vermilion("--test-memory", "1", timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(
        "\nYour memory passed this test.\n"
        "Please if you are still in doubt use the following two tools:\n"
        "1) memtest86: http://www.memtest86.com/\n"
        "2) memtester: http://pyropus.ca/software/memtester/\n"
    )
    for title in ("Addressing test", "Random fill", "Solid fill", "Checkerboard fill"):
        assert "\x1b[H\x1b[2K%s [1]\n" % title in p.stdout
        assert "\x1b[H\x1b[2K%s [50]\n" % title in p.stdout
    assert "\x1b[H\x1b[2KCompare [50]\n" in p.stdout
    assert "Please keep the test running several minutes per GB of memory." in p.stdout


def test_test_memory_needs_its_argument():
    p = _vermilion("--test-memory")
    assert p.returncode == 1
    assert p.stderr.startswith("Please specify the amount of memory to test in megabytes.\n")


def test_test_memory_cannot_allocate():
    err = io.StringIO()
    assert memtest.memtest(-1, 1, out=io.StringIO(), err=err) == 1
    assert err.getvalue().startswith("Unable to allocate ")


def test_memtest_finds_a_difference():
    buf = bytearray(1 << 20)
    screen = memtest.Screen(io.StringIO())
    memtest._fill(buf, screen, memtest._pages(memtest.ONES, memtest.ZEROS), "S")
    memtest._compare(buf, screen)  # the halves agree
    assert buf[:4096] == memtest.ONES and buf[4096:8192] == memtest.ZEROS
    buf[len(buf) // 2 + 12345] ^= 0x10  # one bit flips in the second half
    with pytest.raises(memtest.MemoryErrorFound, match=r"\*\*\* MEMORY ERROR DETECTED: "):
        memtest._compare(buf, screen)
    memtest._addressing(buf, screen)  # written and read back: consistent
