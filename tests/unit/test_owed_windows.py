"""The write windows a set's item keeps besides its last (owed.windows_kept): bounded by
age (the event queue's retention: no later record can come) and by count."""

from __future__ import annotations

from ses_pool_enforcer.adapters.inventory import LastWrite
from ses_pool_enforcer.owed import WINDOW_KEPT_SECONDS, WINDOWS_KEPT, windows_kept
from tests.infrastructure.test_template import load_template

NOW = 2_000_000_000.0


def window(written_at: float) -> LastWrite:
    return LastWrite(written_at - 1.0, written_at, {"TlsPolicy": "OPTIONAL"})


def test_windows_a_late_record_can_still_need_are_kept_oldest_first() -> None:
    # Given three windows, an hour, a day and a minute old, oldest first
    windows = [window(NOW - 86_400), window(NOW - 3_600), window(NOW - 60)]

    # When another write begins now
    kept = windows_kept(windows, NOW)

    # Then all are kept, in order
    assert kept == windows


def test_a_window_older_than_the_event_queue_keeps_a_record_is_dropped() -> None:
    # Given a window written just past the queue's retention, and one just within it
    old, recent = window(NOW - WINDOW_KEPT_SECONDS - 1), window(NOW - WINDOW_KEPT_SECONDS)

    # Then only the one a record still on the queue could fall in is kept
    assert windows_kept([old, recent], NOW) == [recent]


def test_at_most_the_newest_windows_are_kept() -> None:
    # Given more windows than are kept, a minute apart
    windows = [window(NOW - 60 * n) for n in range(WINDOWS_KEPT + 5, 0, -1)]

    # Then the newest WINDOWS_KEPT, oldest first
    kept = windows_kept(windows, NOW)
    assert len(kept) == WINDOWS_KEPT == 16
    assert kept == windows[-WINDOWS_KEPT:]


def test_windows_are_kept_as_long_as_the_event_queue_keeps_a_record() -> None:
    # Given the event queue's retention (template.yaml): no CloudTrail record comes later
    queue = load_template()["Resources"]["EventQueue"]["Properties"]

    # Then a window is kept exactly that long, not a second less or more
    assert int(queue["MessageRetentionPeriod"]) == WINDOW_KEPT_SECONDS
