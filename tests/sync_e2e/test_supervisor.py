"""R4: `make run`'s supervisor restarts a crashed child with a rate limit instead of stopping everything, and
leaves no process behind when it is stopped or killed itself. Real processes, no Redis needed."""
from __future__ import annotations

import os
import signal
import sys

from portal.supervisor import Child, Policy, Supervisor

from .proc_helpers import Supervised, alive, wait_until

SLEEPER = f"{sys.executable} -c 'import time; time.sleep(120)'"
CRASHER = f"{sys.executable} -c 'raise SystemExit(3)'"


def test_r4_supervisor_restarts_a_killed_child_and_leaves_the_others_alone(tmp_path):
    sup = Supervised(tmp_path, dict(os.environ), {"a": SLEEPER, "b": SLEEPER})
    try:
        a, b = sup.pid("a"), sup.pid("b")
        os.kill(a, signal.SIGKILL)
        restarted = wait_until(lambda: (p := int((tmp_path / "a.pid").read_text())) != a and alive(p) and p, 10)
        assert restarted, sup.log()
        assert alive(b) and int((tmp_path / "b.pid").read_text()) == b
        assert sup.proc.poll() is None
        assert "a stopped (killed by signal 9); restarting in" in sup.log()
    finally:
        sup.stop()
    assert not alive(restarted) and not alive(b)


def test_r4_supervisor_backs_off_a_child_that_keeps_crashing(tmp_path):
    """A child exiting at once is restarted after 0.1, 0.2, 0.4, 0.8 … s (with jitter, capped): over 3 s that is
    a handful of starts, not hundreds, and the healthy sibling keeps running."""
    say = []
    crash = Child("crash", [sys.executable, "-c", "raise SystemExit(3)"])
    calm = Child("calm", [sys.executable, "-c", "import time; time.sleep(60)"])
    sup = Supervisor([crash, calm], tmp_path, Policy(base=0.1, cap=2.0), say=lambda m, **_: say.append(m))
    for child in (crash, calm):
        sup.start(child)
    starts, calm_pid = 1, calm.proc.pid
    t = 0.0
    while t < 3.0:  # a simulated clock: each poll is 50 ms later; the crashing child's process is real
        crash.proc.wait(5) if crash.restart_at is None else None
        before = crash.proc
        sup.poll(now=1000 + t)
        starts += crash.proc is not before
        t += 0.05
    try:
        assert 3 <= starts <= 7, say
        assert any("exit code 3" in m for m in say)
        waits = [float(m.split("restarting in ")[1].split(" s")[0]) for m in say if "restarting in" in m]
        assert waits[-1] > waits[0] and max(waits) <= 2.0
        assert calm.proc.pid == calm_pid and calm.proc.poll() is None
    finally:
        sup.stop()


def test_r4_killing_the_supervisor_leaves_no_orphan(tmp_path):
    sup = Supervised(tmp_path, dict(os.environ), {"a": SLEEPER})
    a = sup.pid("a")
    sup.proc.kill()
    sup.proc.wait(5)
    assert wait_until(lambda: not alive(a), 10), "the child outlived its supervisor"
