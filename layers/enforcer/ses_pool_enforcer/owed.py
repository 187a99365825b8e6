"""What a set is owed, in one place: the effects an outcome owes, recorded with it, and
paid by whoever holds the set next if the process that owed them dies.

* **owe**: an effect becomes an ``Intent`` on the set's item, written in the same
  request as what causes it: a move's intent before the write (phase "move"), an
  outcome's alert and Security Hub finding with the outcome itself (phase "notify").
  A move's intent carries the finding the move will owe, too.
* **pay**: the alert is sent and the finding imported, then the intent cleared (with
  the set let go, or not).
* **what is owed** (``settle``): a holder that finds an intent finishes it. "move": the
  set on the intended pool means the move happened (recorded, counted, alerted, its
  finding imported); otherwise it never did and the intent is dropped. "alert" (a move
  recorded) and "notify": only the alert and the finding are owed.

The one window left: a kill between SNS (or Security Hub) taking the effect and the
intent being cleared repeats it on the retry, under the same ``alert_id`` (the same
finding, with the same ``UpdatedAt``: Security Hub keeps one) (docs/design/work-queue.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
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


# The write windows kept on a set's item besides its last: a person's change inside any of
# them, whose CloudTrail record comes late, is still found lost and put back
# (conflicts.py). A record can come as late as the event queue keeps a message (14 days,
# MessageRetentionPeriod in template.yaml): an older window can no longer matter. At most
# WINDOWS_KEPT of them, the newest: the flap guard allows few moves an hour, so that many
# reach back hours at least, and the item stays small (a window is a few hundred bytes).
WINDOWS_KEPT = 16
WINDOW_KEPT_SECONDS = 14 * 86_400

Send = Callable[[Notice], None]
# Imports a Security Hub finding now (adapters/security_hub: never raises; a refusal is
# logged and counted, and the next sweep's finish sends it again).
Publish = Callable[[dict[str, Any]], object]


def outcome(
    record: OutcomeRecord,
    trigger: Trigger,
    now: float,
    *,
    alert: bool,
    finding: dict[str, Any] | None = None,
) -> Intent | None:
    """What ``record`` owes, to be recorded with it (phase "notify": no move): its alert
    (``alert``) and its Security Hub finding (``finding``, when its compliance changed);
    None when it owes neither."""
    if not alert and finding is None:
        return None
    token = uuid.uuid4().hex
    told = notice(record, trigger, alert_id=token).to_dict() if alert else {}
    return Intent(
        token=token,
        phase="notify",
        from_pool=record.current_pool or "",
        to_pool=record.expected_pool or "",
        notice={"record": record.to_dict(), **told},
        read_at=now,
        finding=finding,
    )


def move(
    moved: OutcomeRecord,
    trigger: Trigger,
    from_pool: str | None,
    read_at: float,
    options: Mapping[str, Any],
    finding: dict[str, Any] | None = None,
) -> Intent:
    """A move about to be made to ``moved.current_pool``, and the alert (and the Security
    Hub finding, when the move changes the set's compliance) it will owe."""
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
        finding=finding,
    )


def windows_kept(windows: Sequence[LastWrite], now: float) -> list[LastWrite]:
    """Of a set's write windows (oldest first), the ones a late record can still need
    once another write begins ``now``: written in the last WINDOW_KEPT_SECONDS, at most
    the newest WINDOWS_KEPT."""
    recent = [w for w in windows if w.written_at >= now - WINDOW_KEPT_SECONDS]
    return recent[-WINDOWS_KEPT:]


def pay(
    ledger: Ledger,
    claim: Claim,
    intent: Intent,
    send: Send,
    publish: Publish | None,
    *,
    release: bool,
) -> None:
    """Send the alert ``intent`` owes and import its finding, then mark it paid (and let
    the set go, if ``release``)."""
    if "title" in intent.notice:  # (an outcome may owe only its finding)
        send(Notice.from_dict(intent.notice))
    if intent.finding is not None and publish is not None:
        publish(intent.finding)
    ledger.clear_intent(claim, intent.token, release=release)


def settle(
    ledger: Ledger,
    claim: Claim,
    previous: Previous,
    position: str | None,
    send: Send,
    publish: Publish | None,
    *,
    now: float,
    flap: FlapGuard | None,
    sweep_id: str | None,
    options: Mapping[str, Any] | None = None,
) -> OutcomeRecord | None:
    """Finish what a previous holder of the set left, the set now at ``position`` (None:
    gone): the record it moved the set to (its alert now sent), or None when no move is
    owed (it never happened, or only an outcome's alert was, now sent)."""
    intent = previous.intent
    if intent is None:
        return None
    if intent.phase == "notify":
        logger.info("paying what a previous attempt owed", extra={"set": claim.name})
        metrics.add_metric(name="OwedEffectFinished", unit=MetricUnit.Count, value=1)
        pay(ledger, claim, intent, send, publish, release=False)
        return None
    moved = OutcomeRecord.from_dict(intent.notice["record"])
    if intent.phase == "move":
        if not _landed(intent, position, options):
            logger.info("an owed move never happened", extra={"set": claim.name})
            ledger.drop_intent(claim)
            return None
        moves = list(previous.moves)
        if flap is not None and intent.from_pool != intent.to_pool:  # (a restore is no move)
            moves = flap.after_move(previous.moves, intent.read_at, None)
        written = LastWrite(intent.read_at, now, intent.options)
        ledger.finish_move(claim, moved, intent, moves, written, sweep_id)
    logger.info("finishing a move a previous attempt made", extra={"set": claim.name})
    metrics.add_metric(name="OwedEffectFinished", unit=MetricUnit.Count, value=1)
    pay(ledger, claim, intent, send, publish, release=False)
    return moved


def _landed(intent: Intent, position: str | None, options: Mapping[str, Any] | None) -> bool:
    """Whether the write of a "move" intent happened, the set now at ``position`` with
    delivery ``options`` (None: not known). A pool move shows by the pool; a restore (an
    option put back, the pool unchanged) only by the set holding every option it sent."""
    if position != intent.to_pool:
        return False
    if intent.from_pool != intent.to_pool or options is None:
        return True
    return all(options.get(option) == value for option, value in intent.options.items())
