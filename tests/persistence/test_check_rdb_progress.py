"""``python -m vermilion.check_rdb``: a progress line on stderr for big files (issue
#15, item 10), the report on stdout unchanged."""

import io
import os
import subprocess
import sys

import redis

from vermilion import check_rdb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _dump(tmp_path, vermilion_factory, n=30000):
    srv = vermilion_factory(dir=str(tmp_path), save="")
    r = redis.Redis(host=srv.host, port=srv.port)
    with r.pipeline(transaction=False) as p:
        for i in range(n):
            p.set("key:%d" % i, "x" * 100)
        p.execute()
    assert r.save()
    return str(tmp_path / "dump.rdb")


def test_progress_lines_then_the_same_report(tmp_path, vermilion_factory, monkeypatch):
    path = _dump(tmp_path, vermilion_factory)
    plain = io.StringIO()
    assert check_rdb.check(path, plain) == 0
    monkeypatch.setattr(check_rdb.Progress, "STEP", 64 * 1024)
    out, err = io.StringIO(), io.StringIO()
    meters = lambda total: check_rdb.Progress(err, total, tty=False, interval=0)  # noqa: E731
    assert check_rdb.check(path, out, progress=meters) == 0
    assert out.getvalue() == plain.getvalue()  # stdout: redis-check-rdb's report only
    lines = err.getvalue().splitlines()
    assert len(lines) > 5 and all(ln.startswith("[progress] ") for ln in lines)
    assert lines[-1].startswith("[progress] 100.0% (") and lines[-1].endswith(", 30000 keys)")
    keys = [int(ln.rsplit(", ", 1)[1].split()[0]) for ln in lines]
    assert keys == sorted(keys) and 0 < keys[len(keys) // 2] < 30000


def test_progress_on_a_terminal_is_redrawn_and_cleared(tmp_path, vermilion_factory, monkeypatch):
    path = _dump(tmp_path, vermilion_factory, n=5000)
    monkeypatch.setattr(check_rdb.Progress, "STEP", 16 * 1024)
    err = io.StringIO()
    meters = lambda total: check_rdb.Progress(err, total, tty=True, interval=0)  # noqa: E731
    assert check_rdb.check(path, io.StringIO(), progress=meters) == 0
    text = err.getvalue()
    assert "\n" not in text and text.startswith("\r[progress] ")
    assert text.endswith("\r\x1b[K")  # the line is gone when the report is printed


def test_command_line_options(tmp_path, vermilion_factory):
    path = _dump(tmp_path, vermilion_factory, n=1000)
    env = dict(os.environ, PYTHONPATH=ROOT)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "vermilion.check_rdb", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    p = run("--progress", path)
    assert p.returncode == 0 and "RDB looks OK" in p.stdout
    assert p.stderr.splitlines()[-1].startswith("[progress] 100.0%")
    p = run(path)  # stderr is a pipe: no progress unless asked
    assert p.returncode == 0 and p.stderr == ""
    p = run("--no-progress", path)
    assert p.returncode == 0 and p.stderr == ""
    p = run("--progress")
    assert p.returncode == 1 and "Usage:" in p.stderr
