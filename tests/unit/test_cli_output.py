"""Issue 4: the CLI's output helpers: tables, CSV, durations and the progress indicator."""

from __future__ import annotations

import io

from ses_pool_enforcer.cli.output import Progress, duration, table


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_table_aligns_its_columns_under_capitalised_headers() -> None:
    text = table(["set", "pool"], [["mkt-weekly", "marketing"], ["tx", "-"]])
    assert text == "SET         POOL\nmkt-weekly  marketing\ntx          -\n"


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (45, 420, 10_000)] == ["45 s", "7 min", "2 h 47 min"]


def test_on_a_terminal_the_bar_is_redrawn_in_place() -> None:
    # Given a progress bar on a terminal
    stream = Terminal()
    progress = Progress(4, "sets", stream)

    # When half the work is done, then all of it
    progress.advance()
    progress.advance()
    half = stream.getvalue().rsplit("\r", 1)[-1]
    progress.advance(2)
    progress.close()

    # Then the bar was redrawn with carriage returns and ends with a newline
    assert half == f"[{'#' * 15}{' ' * 15}] 2/4 sets"
    assert stream.getvalue().endswith(f"\r[{'#' * 30}] 4/4 sets\n")


def test_elsewhere_a_line_is_written_every_interval_and_a_last_one() -> None:
    # Given progress written to a log, every 10 seconds
    stream, clock = io.StringIO(), FakeClock()
    progress = Progress(400, "sets read", stream, interval=10, clock=clock)

    # When 120 sets take 15 seconds, then the rest finish
    for _ in range(120):
        clock.now += 0.125
        progress.advance()
    progress.advance(280)
    progress.close()

    # Then one line per interval, no carriage returns, and the total at the end
    assert stream.getvalue() == "80/400 sets read\n400/400 sets read\n"


def test_a_short_scan_off_a_terminal_writes_nothing() -> None:
    stream = io.StringIO()
    progress = Progress(3, "sets", stream, interval=10, clock=FakeClock())
    progress.advance(3)
    progress.close()
    assert stream.getvalue() == ""
