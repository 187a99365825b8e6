"""The SES call budget: at most ``rate`` calls per second, from this process (``Pacer``)
or from the whole deployment (``SharedPacer``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from ses_pool_enforcer.adapters.aws import client


class Budget(Protocol):
    """What spends the budget: ``acquire`` before every SES request (retries included)."""

    calls: int
    waited: float

    def acquire(self, **_: Any) -> None: ...


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


class SharedPacer:
    """The same budget shared by every process of the deployment (event consumers, the
    sweep): each call reserves the next free slot on a clock kept in the state table
    (item ``ses-budget``), with a conditional write, and waits for it.

    Two DynamoDB calls per SES call buy a budget the account can rely on: SES's own limit
    is per account, not per process.
    """

    ITEM = "ses-budget"
    ATTEMPTS = 10

    def __init__(
        self,
        table: str,
        rate: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.table = table
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._ddb: Any = client("dynamodb")
        self._local = Pacer(rate, clock, sleep)  # if the table is too contended to answer
        self.calls = 0
        self.waited = 0.0

    def _reserve(self, now: float) -> float | None:
        """The slot this call gets, or None when another process took it first."""
        key = {"id": {"S": self.ITEM}}
        item = self._ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        last = float(item["next_at"]["N"]) if item else None
        slot = max(now, last or 0.0)
        values = {":next": {"N": repr(slot + self.interval)}, ":exp": {"N": str(int(now) + 86_400)}}
        if last is None:
            condition = "attribute_not_exists(next_at)"
        else:
            condition = "next_at = :last"
            values[":last"] = item["next_at"]
        try:
            self._ddb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET next_at = :next, expiration = :exp",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return None
        return slot

    def acquire(self, **_: Any) -> None:
        for _attempt in range(self.ATTEMPTS):
            now = self._clock()
            slot = self._reserve(now)
            if slot is not None:
                self.calls += 1
                if slot > now:
                    self.waited += slot - now
                    self._sleep(slot - now)
                return
        self._local.acquire()
        self.calls += 1
