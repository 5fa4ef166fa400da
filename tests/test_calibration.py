"""A fast version of benchmarks/bench_calibration.py: the fail-closed rule neither cries wolf on a
fair tool nor misses an adverse impact ratio of 0.7 (groups of 500). Fewer seeds and looser bounds
than the benchmark's 5 % / 95 % targets, still tight enough to fail on a broken rule (a rule that
failed on the interval instead of the point, or judged the wrong side, would miss them widely)."""
from __future__ import annotations

import pytest

from benchmarks.bench_calibration import fail_rates


@pytest.mark.slow
def test_no_disparity_rarely_fails_and_an_air_of_0_7_almost_always_does() -> None:
    false_alarm, _ = fail_rates(seeds=60, group_size=500, air=1.0)
    assert false_alarm <= 0.10
    caught, caught_by_four_fifths = fail_rates(seeds=60, group_size=500, air=0.7)
    assert caught >= 0.90
    assert caught_by_four_fifths >= 0.80  # the civil-rights benchmark alone, not only equalized odds
