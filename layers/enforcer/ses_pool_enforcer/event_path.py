"""The event path: a batch of queued messages in, the sets they name reconciled once each.

A message is an EventBridge event carrying a CloudTrail record, or a ``reconcile``
request (work put back for later, or fanned out by a pool change). The batch is read
first and its work grouped by set: ten events about one set cost one look. Then each
set goes to the reconciler with the time left: a set held by another worker, or one
for which no SES call slot is free before the deadline, goes back on the queue as a new
message (its receive count does not grow, so it never reaches the dead-letter queue
for waiting). Anything unusable is logged, counted and dropped; AWS failures fail only
the messages of their set, which SQS retries.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from pydantic import ValidationError

from ses_pool_enforcer.adapters import aws, state
from ses_pool_enforcer.adapters.inventory import LeaseLost
from ses_pool_enforcer.adapters.policy_store import PolicyUnavailable
from ses_pool_enforcer.events import (
    SWEEP_VIEW_CHANGES,
    Change,
    Ignored,
    SesCloudTrailEvent,
    Target,
    change_from,
)
from ses_pool_enforcer.model import Kind, Outcome
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.observability import logger, metrics
from ses_pool_enforcer.policy import PolicyError
from ses_pool_enforcer.reconciler import Busy, Coalesced
from ses_pool_enforcer.runtime import ForeignLane, Runtime
from ses_pool_enforcer.work import RECONCILE_KIND, BadRequest, LaneKey, Work

SAFETY_SECONDS = 10.0  # no set is started this close to Lambda's timeout
MAX_WAIT_SECONDS = 10.0  # the longest a worker sleeps for the slot that starts a look
DEFER_JITTER_SECONDS = 2.0
# SQS stamps a message by its own clock: a claim made this much after the stamp is
# surely after the change the message reports (AWS clocks agree to a millisecond).
CLOCK_SKEW_SECONDS = 0.25
POLICY_ALERT_SECONDS = 300.0


class Context(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass
class _Set:
    """The work for one set gathered from a batch, and the messages that carried it."""

    work: Work
    message_ids: list[str] = field(default_factory=list)


def handle_batch(
    records: Iterable[Mapping[str, Any]], runtime: Runtime, context: Context | None = None
) -> list[str]:
    """Reconcile what ``records`` (SQS messages, as Lambda delivers them) ask; returns the
    ids of the messages to retry."""
    clock = runtime.clock
    remaining = context.get_remaining_time_in_millis() / 1000 if context else 900.0
    deadline = clock.time() + remaining - SAFETY_SECONDS
    failed: list[str] = []
    sets: dict[tuple[LaneKey | None, Kind, str], _Set] = {}
    for record in records:
        message_id = str(record.get("messageId", ""))
        logger.set_correlation_id(message_id)
        try:
            for work in _read(record, runtime):
                if work.not_before is not None and work.not_before > clock.time():
                    # Not merged with due work: it would be looked at early, or delay it.
                    _put_back(runtime, work, work.not_before, "not yet due")
                    continue
                held = sets.get(work.key)
                if held is None:
                    sets[work.key] = _Set(work, [message_id])
                else:
                    held.work = held.work.merged(work)
                    held.message_ids.append(message_id)
        except (Ignored, BadRequest) as why:
            logger.warning("event ignored", extra={"cause": str(why)})
            metrics.add_metric(name="EventIgnored", unit=MetricUnit.Count, value=1)
        except Exception:
            logger.exception("message not handled; it will be retried")
            failed.append(message_id)
    logger.set_correlation_id(None)

    unreachable: set[LaneKey | None] = set()
    for (lane, kind, name), held in sets.items():
        logger.append_keys(**{kind.value.replace("-", "_"): name}, **_lane_keys(lane))
        try:
            now = clock.time()
            if now >= deadline:
                _put_back(runtime, held.work, now, "out of time")
                continue
            for pool in held.work.fresh_pools:
                if lane is None:
                    runtime.pools.forget(pool)
                elif lane in runtime.lanes:
                    runtime.lanes[lane][0].pools.forget(pool)
            if lane in unreachable:
                continue
            in_lane = _lane_runtime(runtime, lane)
            if in_lane is None:  # its member role cannot be assumed: alerted
                unreachable.add(lane)
                continue
            # A reconciler per look, its policy through the cache: at most
            # PolicyCacheSeconds old when the set is judged, however long the batch.
            reconciler = in_lane.reconciler(kind=kind)
            # A set is started only if its read's slot comes soon; once read, its write
            # may wait until the deadline.
            result = reconciler.reconcile(
                held.work, start_by=min(deadline, now + MAX_WAIT_SECONDS), finish_by=deadline
            )
            if isinstance(result, Busy):
                _put_back(runtime, held.work, result.retry_at, result.why)
            elif isinstance(result, Coalesced):
                logger.info("already looked at since", extra={"messages": len(held.message_ids)})
        except aws.SessionRefused as exc:
            if lane is None:  # (only a member role's session raises it)
                raise
            # The role was deleted or stripped while this warm process still held its
            # session: the lane is unreachable, as if AssumeRole had failed (one alert an
            # account, no write); its messages are not retried, the sweep looks again.
            runtime.forget_lane(lane)
            unreachable.add(lane)
            from ses_pool_enforcer import lanes  # (organization mode only, as below)

            lanes.unreachable(runtime, lane, str(exc), trigger="event")
        except LeaseLost:
            # Another worker holds the set now (ours lapsed): it pays what we owed; our
            # work waits for it as a new message, not toward the dead-letter queue.
            logger.warning("lost the set to another worker")
            if runtime.queue is None:
                failed.extend(held.message_ids)
            else:
                _put_back(runtime, held.work, clock.time(), "held by another worker")
        except PolicyUnavailable as exc:
            # Transient: every remaining message goes back to the queue. Say so once in a
            # while, not per event.
            logger.error("policy unavailable; messages will be retried", extra={"cause": str(exc)})
            metrics.add_metric(name="PolicyUnavailable", unit=MetricUnit.Count, value=1)
            _alert_policy_unavailable(runtime, exc)
            failed.extend(i for s in list(sets.values()) for i in s.message_ids)
            break
        except Exception:
            logger.exception("not reconciled; its messages will be retried")
            failed.extend(held.message_ids)
        finally:
            logger.remove_keys(["configuration_set", "identity", "account", "region"])
    return list(dict.fromkeys(failed))


def _read(record: Mapping[str, Any], runtime: Runtime) -> list[Work]:
    """The work one SQS message asks for (a pool change fans out here, at once)."""
    try:
        data = json.loads(str(record.get("body", "")))
    except ValueError as exc:
        raise Ignored(f"message body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise Ignored("message body is not a JSON object")
    attributes = record.get("attributes") or {}
    redelivered = int(attributes.get("ApproximateReceiveCount", "1") or 1) > 1

    if data.get("kind") == RECONCILE_KIND:
        work = Work.from_message(data)
        # A message delivered again: whoever claimed the set for it may have died
        # before looking, so no earlier look may stand in for this one.
        return [replace(work, observed_at=None) if redelivered else work]

    try:
        event = SesCloudTrailEvent.model_validate(data)
    except ValidationError as exc:
        raise Ignored(
            f"not a CloudTrail event from EventBridge: {exc.error_count()} errors"
        ) from exc
    change = change_from(event)
    logger.append_keys(event_name=change.trigger.event_name, event_id=change.trigger.event_id)
    try:
        lane = runtime.lane_of(change.trigger.account, change.trigger.region)
    except ForeignLane as exc:
        raise Ignored(str(exc)) from exc
    if lane is not None:  # the alert names the member account as people know it
        trigger = replace(change.trigger, account_name=runtime.organization.name_of(lane[0]))
        change = replace(change, trigger=trigger)
    if change.trigger.event_name in SWEEP_VIEW_CHANGES and runtime.settings.state_table:
        # A running sweep's view of the pools and tenants predates this: its next
        # checkpoint reads them again.
        state.note_view_changed(
            runtime.settings.state_table, "#".join(lane or ()), runtime.clock.time()
        )
    if change.target is Target.POOL:
        in_lane = _lane_runtime(runtime, lane)
        if in_lane is not None:
            fan_out_pool_change(change.name, change.trigger, in_lane, lane)
        return []
    if change.target is Target.TENANT:
        in_lane = _lane_runtime(runtime, lane)
        return [] if in_lane is None else tenant_members(change.name, change.trigger, in_lane, lane)
    if change.target in (Target.POOL_IPS, Target.ACCOUNT):
        in_lane = _lane_runtime(runtime, lane)
        if in_lane is not None:
            for pool in sorted(_pools_to_judge_again(change, in_lane)):
                fan_out_pool_change(pool, change.trigger, in_lane, lane)
        return []
    sent = attributes.get("SentTimestamp")
    observed_at = None if redelivered or sent is None else int(sent) / 1000 + CLOCK_SKEW_SECONDS
    observations = (change.observation,) if change.observation is not None else ()
    kind = Kind.IDENTITY if change.target is Target.IDENTITY else Kind.CONFIGURATION_SET
    found = [Work(change.name, change.trigger, observed_at, observations, kind=kind, lane=lane)]
    if change.trigger.event_name == "DeleteConfigurationSet":
        in_lane = _lane_runtime(runtime, lane)
        if in_lane is not None:
            found += identities_using(change.name, change.trigger, in_lane, lane)
    return found


def _lane_keys(lane: LaneKey | None) -> dict[str, str]:
    return {} if lane is None else {"account": lane[0], "region": lane[1]}


def _lane_runtime(runtime: Runtime, lane: LaneKey | None) -> Runtime | None:
    """``lane``'s runtime, or None when its member role cannot be assumed (missing,
    denied, deleted): an error alert for that account, at most once in a while (none if
    the account is governed no more), and no write there. Other lanes carry on; the
    sweep looks at the account again."""
    try:
        return runtime.for_lane(lane)
    except ClientError as exc:
        # Organization mode only: a single-account deployment never imports the lanes.
        from ses_pool_enforcer import lanes

        cause = lanes.unreachable_cause(exc)
        if cause is None or lane is None:
            raise
        lanes.unreachable(runtime, lane, cause, trigger="event")
        return None


def _put_back(runtime: Runtime, work: Work, at: float, why: str) -> None:
    """Queue ``work`` again, to be seen at ``at`` (plus jitter): a new message, so the
    wait does not count toward the dead-letter queue."""
    if runtime.queue is None:
        raise RuntimeError(f"{work.name} must wait ({why}) and no work queue is configured")
    delay = max(0.0, at - runtime.clock.time()) + random.uniform(0, DEFER_JITTER_SECONDS)  # noqa: S311
    again = replace(work, deferrals=work.deferrals + 1)
    runtime.queue.send([again], delay)
    # (how often this work was put back: a set that keeps going back is starved)
    logger.info(
        "put back for later",
        extra={"why": why, "delay": round(delay, 3), "deferrals": again.deferrals},
    )
    metrics.add_metric(name="WorkDeferred", unit=MetricUnit.Count, value=1)


def _alert_policy_unavailable(runtime: Runtime, exc: PolicyUnavailable) -> None:
    now = runtime.clock.time()
    if now - runtime.policy_alerted_at < POLICY_ALERT_SECONDS:
        return
    runtime.policy_alerted_at = now
    text = (
        f"The enforcer cannot read its policy: {exc}\n\n"
        "No configuration set is changed while the policy cannot be read. Events are kept "
        "in the queue and retried; those that keep failing reach the dead-letter queue.\n"
    )
    runtime.alerts.publish(
        "[ses-pool-enforcer] error: policy unavailable, enforcement paused",
        text,
        {"outcome": Outcome.ERROR.value, "reason": str(exc), "trigger": "event"},
        {"outcome": Outcome.ERROR.value},
    )


def _pools_to_judge_again(change: Change, runtime: Runtime) -> set[str]:
    """The pools whose sets an IP's move or warm-up (every pool a rule asks health of:
    the record names the IP's new pool at most, never the one it left), the account's
    automatic warm-up (the pools a rule asks a warm-up of) or its shared pool delivery
    mode (the shared pool, when a rule asks a mode of it) may change the decision of."""
    snapshot = runtime.policy()
    if isinstance(snapshot, PolicyError):
        logger.info("no valid policy: nothing to judge again", extra={"cause": str(snapshot)})
        return set()
    policy = snapshot.policy
    event_name = change.trigger.event_name
    if event_name == "PutAccountDedicatedIpWarmupAttributes":
        return policy.pools_with_warmup_health()
    if event_name == "PutAccountDeliveryAttributes":
        return policy.pools_with_shared_pool_mode()
    health = policy.pools_with_health()
    named = change.name if change.trigger.event_name == "PutDedicatedIpInPool" else None
    return health | ({named} if named in policy.pools() else set())


def fan_out_pool_change(
    pool: str, trigger: Trigger, runtime: Runtime, lane: LaneKey | None = None
) -> int:
    """A pool appeared or vanished: queue every set whose rule points at it, each to be
    looked at afresh (whatever an earlier look concluded about the pool)."""
    runtime.pools.forget(pool)
    if runtime.inventory is None or runtime.queue is None:
        logger.warning(
            "pool changed but no inventory or queue to find its sets", extra={"pool": pool}
        )
        return 0
    names = runtime.inventory.sets_expecting(pool)
    runtime.queue.send([Work(name, trigger, fresh_pools=(pool,), lane=lane) for name in names])
    logger.info("pool change fanned out", extra={"pool": pool, "sets": len(names)})
    metrics.add_metric(name="PoolChangeSetsQueued", unit=MetricUnit.Count, value=len(names))
    return len(names)


def tenant_members(
    tenant: str, trigger: Trigger, runtime: Runtime, lane: LaneKey | None = None
) -> list[Work]:
    """A tenant was deleted: every set and identity whose last look found it associated
    with that tenant is looked at again, whatever leaned on it (a rule matching by
    tenant, an exemption by tenant, ``disabled_tenants``). SES no longer lists the
    tenant's resources, so the inventory's rows say which they were (read whole: a
    tenant is rarely deleted)."""
    found: list[Work] = []
    for inventory, kind in (
        (runtime.inventory, Kind.CONFIGURATION_SET),
        (runtime.identities, Kind.IDENTITY),
    ):
        if inventory is None:
            continue
        key = inventory.layout.key
        found += [
            Work(row[key], trigger, kind=kind, lane=lane)
            for row in inventory.rows()
            if tenant in row.get("tenants", "").split(",")
        ]
    logger.info("tenant deleted", extra={"tenant": tenant, "looked_at_again": len(found)})
    metrics.add_metric(name="TenantChangeQueued", unit=MetricUnit.Count, value=len(found))
    return found


def identities_using(
    configuration_set: str, trigger: Trigger, runtime: Runtime, lane: LaneKey | None = None
) -> list[Work]:
    """A set was deleted: the identities whose default it was are now broken. Each is
    looked at afresh (an error alert names it, whatever the policy says)."""
    if runtime.identities is None:
        return []
    names = runtime.identities.indexed(configuration_set)
    if names:
        logger.info(
            "identities lost their default configuration set",
            extra={"configuration_set": configuration_set, "identities": len(names)},
        )
    return [Work(name, trigger, kind=Kind.IDENTITY, lane=lane) for name in names]
