"""Issue 8: a burst of events while a sweep runs, at SES's real budget of one call per
second, through two concurrent consumers with enforced deadlines (the clock runs ten
times faster). The full 1,000-event figure is ``python -m benchmarks.burst``."""

from __future__ import annotations

import os

import pytest

from benchmarks.burst import run

BURST = int(os.environ.get("BURST_EVENTS", "150"))


@pytest.mark.slow
def test_a_burst_during_a_sweep_ends_compliant_with_no_timeout_no_dead_letter_one_alert_each(
    local_aws: None,
) -> None:
    # Given sets created on the wrong pool, their creation events queued at once, a
    # scheduled sweep starting over the same sets, two consumers and one SES call/s

    # When everything has run its course
    figures = run(events=BURST, rate=1.0, scale=10.0, consumers=2, timeout=60.0)

    # Then no invocation outlived its timeout, nothing reached the dead-letter queue
    stats = figures["mapping"]
    assert stats.timeouts == 0
    assert stats.errors == []
    assert figures["dead_letters"] == 0
    assert figures["left_in_queue"] == 0
    assert figures["sweep"]["status"] == "SUCCEEDED"
    # And every set is on its pool with its TLS policy kept, its owners told once
    assert figures["on_marketing"] == BURST
    assert figures["tls_kept"] == BURST
    assert figures["alerted_once"] == BURST
    # And the account's budget was kept: never more than one SES call a second
    sent = sum(figures["ses_sent"].values())
    assert sent <= figures["virtual_seconds"] * 1.0 + 1
