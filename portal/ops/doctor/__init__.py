"""The connection doctor (O5): every step one by one, timed, within a strict total time; each failure one
sentence and the command that fixes it (fixes.py). Used by `flask sundial doctor` and the Check connection
button. It sends the stored password at most once (one sign-in), and never when it is known to be rejected."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .fixes import fix_for
from .network import NotApplicable

TITLES = {
    "dns": "DNS", "tcp": "TCP connection", "tls": "TLS certificate chain", "schemes": "Sign-in schemes offered",
    "extended_protection": "Extended Protection", "signin": "Sign-in", "build": "Build and version",
    "calendar": "Service account's calendar", "rights": "Staff mailbox rights", "throttling": "Throttling",
    "subscribe": "Streaming notifications",
}


@dataclass
class Step:
    name: str
    ok: bool | None  # None: skipped (not applicable, or an earlier step failed)
    sentence: str
    fix: str = ""
    seconds: float = 0.0

    @property
    def title(self) -> str:
        return TITLES.get(self.name, self.name)


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok is not False for s in self.steps)

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def lines(self) -> list[str]:
        out = []
        for s in self.steps:
            mark = {True: "ok  ", False: "FAIL", None: "skip"}[s.ok]
            out.append(f"{mark} {s.title:<28} {s.seconds * 1000:6.0f} ms  {s.sentence}")
            if s.fix:
                out.append(f"     fix: {s.fix}")
        out.append("All checks passed." if self.ok else "Some checks failed; see the fixes above.")
        return out


class Clock:
    """The doctor's total time budget: each step gets what is left (at least 0.5 s, at most `per_step`)."""

    def __init__(self, total: float, per_step: float = 10.0):
        self.deadline = time.monotonic() + total
        self.per_step = per_step

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def timeout(self) -> float:
        return max(0.5, min(self.per_step, self.left()))


def run_step(report: Report, clock: Clock, name: str, fn: Callable[[float], str], **fix_values) -> Step:
    """Run one step; an exception becomes a failed step with its table sentence and fix."""
    if clock.left() <= 0:
        step = Step(name, None, "Not run: the check ran out of time.")
        report.steps.append(step)
        return step
    started = time.monotonic()
    try:
        step = Step(name, True, fn(clock.timeout()))
    except NotApplicable as exc:
        step = Step(name, None, str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure becomes one sentence
        why = getattr(exc, "sentence", None) or f"{type(exc).__name__}: {exc}"
        values = {**fix_values, **getattr(exc, "values", {})}
        sentence, fix = fix_for(name, type(exc).__name__, why=why, **values)
        step = Step(name, False, sentence, fix)
        step.error = exc
    step.seconds = time.monotonic() - started
    report.steps.append(step)
    return step


def skip(report: Report, name: str, why: str) -> None:
    report.steps.append(Step(name, None, why))


def run_doctor_for_integration(sample: int = 5) -> Report:
    """The doctor for the stored integration (app context)."""
    from .exchange import run_doctor

    return run_doctor(sample=sample)
