"""The event path: one queued message in, the sets it names reconciled.

A message is an EventBridge event carrying a CloudTrail record, or a ``reconcile``
request that a pool event fanned out. Anything unusable is logged, counted and dropped
(retrying it cannot help); AWS failures propagate so the queue retries the message.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.events import Ignored, SesCloudTrailEvent, Target, work_from
from ses_pool_enforcer.model import OutcomeRecord
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.observability import logger, metrics
from ses_pool_enforcer.runtime import Runtime

RECONCILE_KIND = "reconcile"
SQS_BATCH = 10


def reconcile_request(name: str, trigger: Trigger) -> dict[str, Any]:
    return {"kind": RECONCILE_KIND, "configuration_set": name, "trigger": asdict(trigger)}


def handle_message(body: str, runtime: Runtime) -> list[OutcomeRecord]:
    try:
        return _handle(body, runtime)
    except Ignored as why:
        logger.warning("event ignored", extra={"cause": str(why)})
        metrics.add_metric(name="EventIgnored", unit=MetricUnit.Count, value=1)
        return []


def _handle(body: str, runtime: Runtime) -> list[OutcomeRecord]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise Ignored(f"message body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise Ignored("message body is not a JSON object")

    if data.get("kind") == RECONCILE_KIND:
        name = data.get("configuration_set")
        if not isinstance(name, str) or not name:
            raise Ignored("reconcile request without a configuration_set")
        try:
            trigger = Trigger(**data.get("trigger") or {"source": "request"})
        except TypeError as exc:
            raise Ignored(f"reconcile request with a bad trigger: {exc}") from exc
        return [runtime.reconciler().reconcile(name, trigger)]

    try:
        event = SesCloudTrailEvent.model_validate(data)
    except ValidationError as exc:
        raise Ignored(
            f"not a CloudTrail event from EventBridge: {exc.error_count()} errors"
        ) from exc
    work = work_from(event)
    logger.set_correlation_id(work.trigger.event_id)
    logger.append_keys(event_name=work.trigger.event_name, target=work.name)
    if work.target is Target.POOL:
        fan_out_pool_change(work.name, work.trigger, runtime)
        return []
    return [runtime.reconciler().reconcile(work.name, work.trigger)]


def fan_out_pool_change(pool: str, trigger: Trigger, runtime: Runtime) -> int:
    """A pool appeared or vanished: queue every set whose rule points at it."""
    runtime.pools.forget(pool)
    if runtime.inventory is None or not runtime.settings.work_queue_url:
        logger.warning(
            "pool changed but no inventory or queue to find its sets", extra={"pool": pool}
        )
        return 0
    names = runtime.inventory.sets_expecting(pool)
    sqs = client("sqs")
    for start in range(0, len(names), SQS_BATCH):
        batch = names[start : start + SQS_BATCH]
        answer = sqs.send_message_batch(
            QueueUrl=runtime.settings.work_queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps(reconcile_request(n, trigger))}
                for i, n in enumerate(batch)
            ],
        )
        if answer.get("Failed"):
            raise RuntimeError(f"could not queue {len(answer['Failed'])} sets for pool {pool}")
    logger.info("pool change fanned out", extra={"pool": pool, "sets": len(names)})
    metrics.add_metric(name="PoolChangeSetsQueued", unit=MetricUnit.Count, value=len(names))
    return len(names)
