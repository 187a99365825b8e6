"""What a set is owed, in one place: the effects an outcome owes, recorded with it, and
paid by whoever holds the set next if the process that owed them dies.

* **owe**: an effect becomes an ``Intent`` on the set's item, written in the same
  request as what causes it: a move's intent before the write (phase "move"), an
  outcome's alert with the outcome itself (phase "notify").
* **pay**: the alert is sent, then the intent cleared (with the set let go, or not).
* **what is owed** (``settle``): a holder that finds an intent finishes it. "move": the
  set on the intended pool means the move happened (recorded, counted, alerted);
  otherwise it never did and the intent is dropped. "alert" (a move recorded) and
  "notify": only the alert is owed.

The one window left: a kill between SNS taking the alert and the intent being cleared
repeats the alert on the retry, under the same ``alert_id`` (docs/design/work-queue.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from ses_pool_enforcer.adapters.inventory import Claim, Intent, LastWrite, Previous
from ses_pool_enforcer.flapping import FlapGuard, Move
from ses_pool_enforcer.model import OutcomeRecord
from ses_pool_enforcer.notices import Notice, Trigger, notice
from ses_pool_enforcer.observability import logger, metrics


class Ledger(Protocol):
    """Where intents live (adapters/inventory.Inventory)."""

    def finish_move(
        self,
        claim: Claim,
        record: OutcomeRecord,
        intent: Intent,
        moves: list[Move],
        last_write: LastWrite,
        sweep_id: str | None = None,
    ) -> None: ...

    def clear_intent(self, claim: Claim, token: str, *, release: bool) -> None: ...

    def drop_intent(self, claim: Claim) -> None: ...


Send = Callable[[Notice], None]


def alert(record: OutcomeRecord, trigger: Trigger, now: float) -> Intent:
    """The alert ``record`` owes, to be recorded with it (phase "notify": no move)."""
    token = uuid.uuid4().hex
    owed = notice(record, trigger, alert_id=token)
    return Intent(
        token=token,
        phase="notify",
        from_pool=record.current_pool or "",
        to_pool=record.expected_pool or "",
        notice={"record": record.to_dict(), **owed.to_dict()},
        read_at=now,
    )


def move(
    moved: OutcomeRecord,
    trigger: Trigger,
    from_pool: str | None,
    read_at: float,
    options: Mapping[str, Any],
) -> Intent:
    """A move about to be made to ``moved.current_pool``, and the alert it will owe."""
    token = uuid.uuid4().hex
    owed = notice(moved, trigger, alert_id=token)
    return Intent(
        token=token,
        phase="move",
        from_pool=from_pool or "",
        to_pool=moved.current_pool or "",
        notice={"record": moved.to_dict(), **owed.to_dict()},
        read_at=read_at,
        options=dict(options),
    )


def pay(ledger: Ledger, claim: Claim, intent: Intent, send: Send, *, release: bool) -> None:
    """Send the alert ``intent`` owes, then mark it paid (and let the set go, if
    ``release``)."""
    send(Notice.from_dict(intent.notice))
    ledger.clear_intent(claim, intent.token, release=release)


def settle(
    ledger: Ledger,
    claim: Claim,
    previous: Previous,
    position: str | None,
    send: Send,
    *,
    now: float,
    flap: FlapGuard | None,
    sweep_id: str | None,
    found: Callable[[OutcomeRecord, Mapping[str, str]], None],
) -> OutcomeRecord | None:
    """Finish what a previous holder of the set left, the set now at ``position`` (None:
    gone): the record it moved the set to (its alert now sent), or None when no move is
    owed (it never happened, or only an outcome's alert was, now sent)."""
    intent = previous.intent
    if intent is None:
        return None
    if intent.phase == "notify":
        logger.info("sending an alert a previous attempt owed", extra={"set": claim.name})
        metrics.add_metric(name="OwedEffectFinished", unit=MetricUnit.Count, value=1)
        pay(ledger, claim, intent, send, release=False)
        return None
    moved = OutcomeRecord.from_dict(intent.notice["record"])
    if intent.phase == "move":
        if position != intent.to_pool:
            logger.info("an owed move never happened", extra={"set": claim.name})
            ledger.drop_intent(claim)
            return None
        moves = list(previous.moves)
        if flap is not None:
            moves = flap.after_move(previous.moves, intent.read_at, None)
        written = LastWrite(intent.read_at, now, intent.options)
        ledger.finish_move(claim, moved, intent, moves, written, sweep_id)
        found(moved, previous.row)
    logger.info("finishing a move a previous attempt made", extra={"set": claim.name})
    metrics.add_metric(name="OwedEffectFinished", unit=MetricUnit.Count, value=1)
    pay(ledger, claim, intent, send, release=False)
    return moved
