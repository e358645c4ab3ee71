"""G3/G9: the one back-off rule shared by every loop that talks to Exchange."""
from __future__ import annotations

import random

import pytest

from portal.engine.backoff import Backoff, backoff_delay


@pytest.mark.parametrize("failures, low, high", [(1, 0.5, 1.0), (2, 1.0, 2.0), (4, 4.0, 8.0), (9, 128.0, 256.0),
                                                 (10, 150.0, 300.0), (60, 150.0, 300.0), (500, 150.0, 300.0)])
def test_g9_delay_grows_exponentially_within_equal_jitter_and_stops_at_the_cap(failures, low, high):
    rng = random.Random(failures)
    delays = [backoff_delay(failures, 1.0, 300.0, rng=rng) for _ in range(200)]
    assert low <= min(delays) and max(delays) <= high


def test_g9_jitter_spreads_loops_that_failed_together():
    delays = {round(backoff_delay(5, 1.0, 300.0, rng=random.Random(seed)), 6) for seed in range(50)}
    assert len(delays) > 40  # fifty loops failing at once do not all come back at the same instant


def test_g3_server_hint_is_a_floor_never_a_ceiling():
    rng = random.Random(1)
    assert backoff_delay(1, 1.0, 300.0, hint=45.0, rng=rng) == 45.0  # wait as long as the server asks
    assert backoff_delay(8, 1.0, 300.0, hint=0.0, rng=rng) >= 64.0  # "retry in 0 ms" cannot shorten the schedule
    assert backoff_delay(30, 1.0, 300.0, hint=900.0, rng=rng) == 900.0  # a longer hint beats the cap


def test_g9_success_resets_the_schedule():
    b = Backoff(base=1.0, cap=10.0, rng=random.Random(3))
    first = [b.failed() for _ in range(6)]
    assert first[0] <= 1.0 and 5.0 <= first[-1] <= 10.0
    assert b.peek() == 10.0
    b.succeeded()
    assert b.failures == 0 and b.failed() <= 1.0
