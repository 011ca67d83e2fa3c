"""The probe kit itself: both servers answer, and a probe sees a dead server."""

from probe import outcome, Spawned


def test_target_answers_ping(target):
    assert outcome(target, "PING") == b"+PONG\r\n"


def test_outcome_reports_a_dead_server():
    s = Spawned("vermilion")
    try:
        s.proc.kill()
        s.proc.wait(10)
        assert outcome(s, "PING").startswith(("crashed", "refused"))
    finally:
        s.stop()
