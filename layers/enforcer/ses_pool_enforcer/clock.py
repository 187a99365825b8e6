"""Time, read in one place: every deadline, lease, budget slot and timestamp comes from a
``Clock``, so that tests and the burst benchmark can run the same code on a clock of
their own (frozen, or faster than real time). Pure: no AWS."""

from __future__ import annotations

import datetime as dt
import time


class Clock:
    """Wall-clock seconds since the epoch, and sleeping. The system's by default."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), dt.UTC)


SYSTEM = Clock()
