"""The SES call budget: at most ``rate`` calls per second, kept by this process alone
(``LocalBudget``) or by the whole deployment (``SharedBudget``).

Rate-limited at the source: a caller says by when it must have its slot (``within``);
a slot later than that is refused with ``BudgetExhausted`` instead of slept for, so a
worker never waits for a call it could not make before its deadline. The work goes
back to the queue for later, and the slot stays free for someone who can use it.

A slot can also be taken together with a set's claim, in one DynamoDB transaction
(``SharedBudget.request``): the claim and the first SES call of a look then cost one
write, and neither is taken without the other. The slot is then ``prepaid``: the SES
call that uses it takes no second one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.clock import SYSTEM, Clock
from ses_pool_enforcer.observability import logger, metrics


class BudgetExhausted(Exception):
    """No slot before the caller's limit. ``retry_at`` is when one might be free.

    Deliberately not a botocore error: raised from the before-send hook, it ends the
    SES call at once instead of being retried."""

    def __init__(self, retry_at: float) -> None:
        super().__init__(f"no SES call slot before the deadline; next free about {retry_at:.3f}")
        self.retry_at = retry_at


@dataclass(frozen=True)
class SlotRequest:
    """One attempt to take ``slot`` (and leave ``following`` as the budget's next free
    slot): a DynamoDB Update, alone or in a transaction."""

    slot: float
    following: str
    update: dict[str, Any]


class Budget(Protocol):
    """What spends the budget: ``acquire`` before every SES request (retries included)."""

    calls: int
    waited: float
    interval: float  # seconds between two calls

    def acquire(self, **_: Any) -> None: ...

    def within(self, not_after: float | None) -> contextlib.AbstractContextManager[None]: ...

    def prepaid(self, slot: float) -> contextlib.AbstractContextManager[None]: ...

    def request(self, seen: str | None, *, guess: bool = True) -> SlotRequest | None: ...

    def taken(self, request: SlotRequest) -> None: ...

    def reserve(self) -> float: ...


class _PerThread:
    """The caller's limit and prepaid slot, per thread (a sweep step and a consumer's
    invocation each run on one thread), and the sleeping common to both budgets."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._local = threading.local()
        self.calls = 0
        self.waited = 0.0

    @property
    def not_after(self) -> float | None:
        value: float | None = getattr(self._local, "not_after", None)
        return value

    @contextlib.contextmanager
    def within(self, not_after: float | None) -> Iterator[None]:
        """SES calls inside the block get a slot no later than ``not_after`` or raise
        BudgetExhausted (None: wait as long as it takes)."""
        before = self.not_after
        self._local.not_after = not_after
        try:
            yield
        finally:
            self._local.not_after = before

    @contextlib.contextmanager
    def prepaid(self, slot: float) -> Iterator[None]:
        """The next SES call in the block uses ``slot``, already taken (with a claim)."""
        self._local.prepaid = slot
        try:
            yield
        finally:
            self._local.prepaid = None

    def _take_prepaid(self) -> float | None:
        slot: float | None = getattr(self._local, "prepaid", None)
        self._local.prepaid = None
        return slot

    def _wait_for(self, slot: float) -> None:
        self.calls += 1
        now = self._clock.time()
        if slot > now:
            self.waited += slot - now
            self._clock.sleep(slot - now)


class LocalBudget(_PerThread):
    """Calls spaced ``1/rate`` seconds apart within this process (the CLI, local runs)."""

    def __init__(self, rate: float, clock: Clock = SYSTEM) -> None:
        super().__init__(clock)
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def request(self, seen: str | None, *, guess: bool = True) -> SlotRequest | None:
        """A process-local budget cannot join a claim's transaction."""
        return None

    def taken(self, request: SlotRequest) -> None:
        return None

    def reserve(self) -> float:
        """Take the next slot (now or later), or BudgetExhausted past the limit."""
        with self._lock:
            slot = max(self._clock.time(), self._next)
            limit = self.not_after
            if limit is not None and slot > limit:
                raise BudgetExhausted(slot)
            self._next = slot + self.interval
            return slot

    def acquire(self, **_: Any) -> None:
        slot = self._take_prepaid()
        self._wait_for(self.reserve() if slot is None else slot)


class SharedBudget(_PerThread):
    """One budget for every process of the deployment (event consumers, the sweep): each
    call reserves the next free slot on a clock kept in the state table (item
    ``ses-budget#<lane>``, attribute ``next_at``), by compare-and-set.

    An idle budget costs one conditional write per call ("next_at is in the past: take
    now"); a contended one, two (the failed write returns the current ``next_at``, and
    the second write takes the slot after it only if nobody moved it meanwhile).
    """

    # Each lost race reveals a later next_at (it only moves forward), so the loop ends:
    # with a slot, or past the caller's limit. The cap only guards against a bug.
    ATTEMPTS = 1000
    # Each caller holds at most one slot ahead of now, and the deployment has few callers
    # at once (two consumers, a sweep's steps, each lane's own). A next_at further ahead
    # than this many intervals was set by a clock running ahead of ours (or is not a
    # number at all): it is taken over from now, not waited for, so no lane stalls.
    MAX_PENDING = 64

    def __init__(self, table: str, rate: float, lane: str = "", clock: Clock = SYSTEM) -> None:
        super().__init__(clock)
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.table = table
        self.item = f"ses-budget#{lane}" if lane else "ses-budget"
        self.interval = 1.0 / rate
        self._ddb: Any = client("dynamodb")
        self._wrote: str | None = None  # the next_at this process last set

    def request(self, seen: str | None, *, guess: bool = True) -> SlotRequest:
        """The write that takes the next slot, given the ``next_at`` last seen (None: an
        idle budget, or, with ``guess``, the one this process left if it is still ahead).
        Raises BudgetExhausted when that slot is later than the caller's limit."""
        now = self._clock.time()
        if guess and seen is None and self._wrote is not None and float(self._wrote) > now:
            seen = self._wrote  # right unless another process took a slot since
        slot = now if seen is None else max(now, float(seen))
        if slot > now + self.interval * self.MAX_PENDING:
            logger.warning(
                "SES budget's next slot too far ahead; taken from now",
                extra={"next_at": seen, "now": now},
            )
            metrics.add_metric(name="BudgetRepaired", unit=MetricUnit.Count, value=1)
            slot = now
        limit = self.not_after
        if limit is not None and slot > limit:
            raise BudgetExhausted(slot)
        following = repr(slot + self.interval)
        values: dict[str, Any] = {
            ":next": {"N": following},
            ":exp": {"N": str(int(now) + 86_400)},
        }
        if seen is None:  # (a next_at that is not a number is no slot anyone holds)
            condition = (
                "attribute_not_exists(next_at) OR NOT attribute_type(next_at, :number)"
                " OR next_at <= :now"
            )
            values[":now"] = {"N": repr(now)}
            values[":number"] = {"S": "N"}
        else:
            condition = "next_at = :seen"  # the compare-and-set
            values[":seen"] = {"N": seen}
        return SlotRequest(
            slot,
            following,
            {
                "TableName": self.table,
                "Key": {"id": {"S": self.item}},
                "UpdateExpression": "SET next_at = :next, expiration = :exp",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        )

    def taken(self, request: SlotRequest) -> None:
        """``request`` went through (alone or with a claim)."""
        self._wrote = request.following

    @staticmethod
    def seen_in(item: dict[str, Any] | None) -> str | None:
        """The ``next_at`` a refused request found (from the failure's ALL_OLD item);
        None when there is none yet."""
        seen = (item or {}).get("next_at", {}).get("N")
        return str(seen) if seen is not None else None

    def reserve(self) -> float:
        """Take the next slot on its own (not with a claim); may be in the future."""
        seen: str | None = None
        for attempt in range(self.ATTEMPTS):
            request = self.request(seen, guess=attempt == 0)
            try:
                self._ddb.update_item(**request.update)
            except self._ddb.exceptions.ConditionalCheckFailedException as exc:
                seen = self.seen_in(exc.response.get("Item"))
                continue
            self.taken(request)
            return request.slot
        raise RuntimeError(f"no budget slot after {self.ATTEMPTS} attempts: {self.item} is broken")

    def acquire(self, **_: Any) -> None:
        slot = self._take_prepaid()
        self._wait_for(self.reserve() if slot is None else slot)
