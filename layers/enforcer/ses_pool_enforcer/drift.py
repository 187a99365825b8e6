"""Drift across the organization in minutes: AWS Config names the suspects, the work
queue re-reads them live.

Where Config records ``AWS::SES::ConfigurationSet`` through an organization aggregator,
one query (``SelectAggregateResourceConfig``, 100 sets a call) returns every set's
recorded pool and tags in every account and region, and costs no SES call. Each recorded
set is judged in its lane by the same ``evaluate`` the reconciler uses; a set whose
recorded pool is not the one it must use is a *suspect*, and a ``reconcile`` work item
for it goes on the work queue, in its lane. The event consumers then read it live, within
that lane's SES budget, and act on what SES says, never on what Config recorded (it may
be minutes old): a suspect already put right is read and not written.

Nothing here writes to SES or reads it; the paced full sweep still verifies every set.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from ses_pool_enforcer.adapters.aggregator import Aggregator, RecordedSet
from ses_pool_enforcer.adapters.organizations import member_accounts
from ses_pool_enforcer.evaluation import evaluate
from ses_pool_enforcer.model import Action, ConfigurationSet, Lane, Outcome
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.observability import logger, metrics
from ses_pool_enforcer.policy import Policy, PolicyError
from ses_pool_enforcer.runtime import ForeignLane, Runtime
from ses_pool_enforcer.work import LaneKey, Work

TRIGGER_SOURCE = "drift"
# Config's clock and ours: a look begun this long after the recording surely saw it.
CLOCK_SKEW_SECONDS = 1.0
ALERT_SECONDS = 3600.0
SUSPECT_OUTCOMES = frozenset({Outcome.REMEDIATED, Outcome.VIOLATION})


@dataclass
class DriftResult:
    status: str = "done"  # done | failed | no-policy | off
    recorded: int = 0
    suspects: int = 0
    queued: int = 0
    skipped_lanes: int = 0  # lanes this deployment does not govern
    skipped_sets: int = 0  # ... and the recorded sets in them
    config_calls: int = 0
    pages: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_suspect(policy: Policy, recorded: RecordedSet, lane: Lane, now: dt.datetime) -> bool:
    """Whether the recorded pool is not the one the policy requires (the set would be
    moved, or reported in audit mode)."""
    snapshot = ConfigurationSet(recorded.name, recorded.pool, {}, recorded.tags)
    decision = evaluate(policy, snapshot, now, lane=lane)
    return decision.action is Action.REASSIGN or decision.outcome in SUSPECT_OUTCOMES


def _members(runtime: Runtime) -> frozenset[str] | None:
    """The active accounts of MEMBER_OUS (an organization aggregator also records the
    organization's other accounts), or None: no OUs to read (not a hub), or they cannot
    be read, and the consumers sort the suspects of accounts that left (lanes.departed)."""
    if not runtime.settings.member_role_name or not runtime.settings.member_ous:
        return None
    try:
        return frozenset(member_accounts(runtime.settings.member_ous))
    except (ClientError, BotoCoreError) as exc:
        logger.warning("member accounts unknown: suspects not filtered", extra={"cause": str(exc)})
        return None


def _governed(lane: LaneKey | None, members: frozenset[str] | None) -> LaneKey | None:
    """``lane``, unless its account is not one of the member OUs' accounts."""
    if lane is not None and members is not None and lane[0] not in members:
        raise ForeignLane(f"account {lane[0]} is not an active account of MEMBER_OUS")
    return lane


def find_drift(runtime: Runtime, aggregator: Aggregator) -> DriftResult:
    """Page through what ``aggregator`` recorded; queue a reconcile for every suspect, in
    its lane. Nothing is queued unless every page was read."""
    result = DriftResult()
    snapshot = runtime.policy()
    if isinstance(snapshot, PolicyError):
        logger.error("drift check skipped: no valid policy", extra={"cause": str(snapshot)})
        result.status, result.error = "no-policy", str(snapshot)
        return result
    policy = snapshot.policy
    now = runtime.clock.now()
    members = _members(runtime)
    lanes: dict[tuple[str, str], LaneKey | ForeignLane | None] = {}
    found: list[Work] = []
    try:
        for page in aggregator.pages():
            result.pages += 1
            for recorded in page:
                result.recorded += 1
                where = (recorded.account, recorded.region)
                if where not in lanes:
                    try:
                        lanes[where] = _governed(runtime.lane_of(*where), members)
                    except ForeignLane as exc:
                        lanes[where] = exc
                lane = lanes[where]
                if isinstance(lane, ForeignLane):
                    result.skipped_sets += 1
                    continue
                if not is_suspect(policy, recorded, _judged_in(runtime, policy, where), now):
                    continue
                result.suspects += 1
                observed = (
                    None
                    if recorded.captured_at is None
                    else recorded.captured_at + CLOCK_SKEW_SECONDS
                )
                # observed_at: a look begun after Config's recording already saw it.
                trigger = Trigger(
                    source=TRIGGER_SOURCE,
                    account=where[0],
                    region=where[1],
                    account_name=None if lane is None else runtime.organization.name_of(where[0]),
                )
                found.append(
                    Work(
                        recorded.name,
                        trigger,
                        observed_at=observed,
                        lane=lane,
                    )
                )
    except (ClientError, BotoCoreError) as exc:
        result.config_calls = aggregator.calls
        return _failed(runtime, aggregator, result, exc)
    result.config_calls = aggregator.calls
    result.skipped_lanes = sum(isinstance(v, ForeignLane) for v in lanes.values())
    if runtime.queue is None:
        raise RuntimeError("the drift check needs the work queue (WORK_QUEUE_URL)")
    runtime.queue.send(found)
    result.queued = len(found)
    logger.info("drift check done", extra=result.to_dict())
    metrics.add_metric(name="DriftSuspects", unit=MetricUnit.Count, value=result.suspects)
    metrics.add_metric(name="DriftQueued", unit=MetricUnit.Count, value=result.queued)
    metrics.add_metric(name="DriftConfigCalls", unit=MetricUnit.Count, value=result.config_calls)
    if result.skipped_lanes:
        logger.warning(
            "recorded sets in lanes this deployment does not govern were skipped",
            extra={"lanes": result.skipped_lanes, "sets": result.skipped_sets},
        )
    return result


def _judged_in(runtime: Runtime, policy: Policy, where: tuple[str, str]) -> Lane:
    """The lane a recorded set is judged in: its account and region, and the account's
    OUs when the policy names some (remembered by the organization adapter)."""
    account, region = where
    if not policy.names_organizational_units():
        return Lane(account, region, None, "not read: the policy names no OU")
    units, why = runtime.organization.ancestry(account)
    return Lane(account, region, units, why)


def _failed(
    runtime: Runtime, aggregator: Aggregator, result: DriftResult, exc: Exception
) -> DriftResult:
    """The aggregator could not be read: an error log, a metric and an alert (at most one
    an hour per process); nothing queued (the events and the sweep still enforce)."""
    logger.error(
        "drift check failed: the Config aggregator could not be read",
        extra={"aggregator": aggregator.name, "cause": str(exc)},
    )
    metrics.add_metric(name="DriftCheckFailed", unit=MetricUnit.Count, value=1)
    result.status, result.error = "failed", str(exc)
    # A check every few minutes: say so once an hour (per process), not every time.
    now = runtime.clock.time()
    if now - runtime.drift_alerted_at < ALERT_SECONDS:
        return result
    runtime.drift_alerted_at = now
    text = (
        f"The drift check could not read the AWS Config aggregator {aggregator.name}: {exc}\n\n"
        "Nothing was queued by this check. Events and the scheduled sweep still enforce "
        "every set; check that the aggregator exists in this account and region and that "
        "the sweep function may call config:SelectAggregateResourceConfig on it.\n"
    )
    runtime.alerts.publish(
        "[ses-pool-enforcer] error: drift check failed",
        text,
        {
            "outcome": Outcome.ERROR.value,
            "reason": f"Config aggregator {aggregator.name} unreadable: {exc}",
            "trigger": TRIGGER_SOURCE,
        },
        {"outcome": Outcome.ERROR.value},
    )
    return result


def handle(runtime: Runtime) -> dict[str, Any]:
    """The sweep function's ``drift`` action (an EventBridge schedule)."""
    name = runtime.settings.config_aggregator_name
    if not name:
        logger.warning("drift check asked for, but CONFIG_AGGREGATOR_NAME is not set")
        return DriftResult(status="off").to_dict()
    return find_drift(runtime, Aggregator(name)).to_dict()
