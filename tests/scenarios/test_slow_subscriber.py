"""A subscriber that stops reading while a publisher floods (issue: pub/sub limits).

Vermilion runs in its own process here so its resident memory can be read from
/proc: the default ``client-output-buffer-limit pubsub 32mb 8mb 60`` must cut the
slow subscriber off, the publisher must never be slowed to a halt, and the memory
the server held for the subscriber must be given back.
"""

import os
import socket
import subprocess
import sys
import time

import pytest
import redis

from support import free_port


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc to read RSS")
def test_flooded_slow_subscriber_is_disconnected_and_memory_returns(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vermilion",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
            "--loglevel",
            "warning",
            "--logfile",
            str(tmp_path / "log"),
        ]
    )
    try:
        pub = redis.Redis(port=port, protocol=2)
        for _ in range(100):
            try:
                pub.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        # Warm up allocator pools with a normal burst, then take the baseline.
        pub.set("warm", b"x" * 1000)
        before = rss_mb(proc.pid)

        sub = socket.create_connection(("127.0.0.1", port))
        sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sub.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n")
        time.sleep(0.2)
        msg = b"m" * 65536
        t0 = time.time()
        peak = before
        delivered = []
        for i in range(2000):  # 128 MB offered: 4x the hard limit
            delivered.append(pub.publish("ch", msg))
            if i % 50 == 0:
                peak = max(peak, rss_mb(proc.pid))
            if delivered[-1] == 0:
                break
        elapsed = time.time() - t0
        assert delivered[0] == 1
        assert delivered[-1] == 0, "the slow subscriber was never disconnected"
        assert elapsed < 30, "the publisher was slowed down by the subscriber"
        # Cut off at the hard limit: the server never held much more than 32 MB for it.
        assert peak - before < 32 + 40, (before, peak)
        # The memory comes back once the cron trims the heap (hz 10); with other
        # work running on the machine that can take a few of its ticks.
        deadline = time.time() + 5.0
        while True:
            time.sleep(0.25)
            after = rss_mb(proc.pid)
            if after - before < 12 or time.time() > deadline:
                break
        assert after - before < 12, (
            "memory not returned: before %.1f MB, peak %.1f MB, after %.1f MB"
            % (before, peak, after)
        )
        print(
            "slow subscriber: RSS before %.1f MB, peak %.1f MB, after %.1f MB; %d messages published in %.2f s"
            % (before, peak, after, len(delivered), elapsed)
        )
        assert pub.execute_command("PUBSUB", "NUMSUB", "ch") == [b"ch", 0]
        sub.close()
    finally:
        proc.terminate()
        proc.wait(10)
