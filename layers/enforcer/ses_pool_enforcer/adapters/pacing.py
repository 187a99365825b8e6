"""A call budget: at most ``rate`` SES calls per second from this process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class Pacer:
    """Token bucket with a burst of one: calls are spaced ``1/rate`` seconds apart."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()
        self.calls = 0
        self.waited = 0.0

    def acquire(self, **_: Any) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
            self.calls += 1
        delay = start - now
        if delay > 0:
            self.waited += delay
            self._sleep(delay)
