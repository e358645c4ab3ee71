"""One back-off rule for every loop that talks to Exchange (SPEC G3, G9).

Exponential growth from `base` with a `cap`, and jitter so that many loops failing at the same moment (every
listener group after a CAS restart, every sync job after an outage) do not come back at the same moment
either. The jitter is "equal jitter": the delay lies in [d/2, d] for the un-jittered d, so a failing loop
never retries faster than half its schedule (the request-rate bound of G9 holds), yet no two loops stay in step.

A server's own hint (BackOffMilliseconds of ErrorServerBusy, Retry-After of a 503/429) is a floor, never a
ceiling: Sundial waits at least as long as the server asks (G3) and never less than its own schedule, so a
server that answers "busy, retry in 0 ms" forever cannot make Sundial storm it (the field report of issue 12:
22.6 requests per second for 3 mailboxes).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field


def backoff_delay(failures: int, base: float, cap: float, hint: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait after the `failures`-th failure in a row (1 = the first)."""
    if failures <= 0:
        return max(hint or 0.0, 0.0)
    step = min(cap, base * 2 ** min(failures - 1, 60))
    jittered = step / 2 + (rng or random).uniform(0.0, step / 2)
    return max(jittered, hint or 0.0)


@dataclass
class Backoff:
    """The failure count of one loop. `failed(hint)` returns the delay to wait; `succeeded()` resets it."""

    base: float = 1.0
    cap: float = 300.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def failed(self, hint: float | None = None) -> float:
        self.failures += 1
        return backoff_delay(self.failures, self.base, self.cap, hint, self.rng)

    def succeeded(self) -> None:
        self.failures = 0

    def peek(self) -> float:
        """The un-jittered delay the next failure would start from (for reasons shown to admins)."""
        return min(self.cap, self.base * 2 ** min(self.failures, 60))
