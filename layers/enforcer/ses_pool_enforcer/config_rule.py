"""The AWS Config custom rule: Config invokes the rule's function on its schedule; the
function reads the inventory the enforcer keeps (no SES call) and reports every set as
COMPLIANT, NON_COMPLIANT or NOT_APPLICABLE with the invocation's result token."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import AWSConfigRuleEvent

from ses_pool_enforcer.adapters.config import ConfigEvaluations
from ses_pool_enforcer.adapters.inventory import Inventory
from ses_pool_enforcer.compliance.config_rule import MAX_BATCH, evaluations
from ses_pool_enforcer.config import Settings, SettingsError
from ses_pool_enforcer.observability import logger, metrics
from ses_pool_enforcer.report import Entry


class EvaluationsRefused(RuntimeError):
    """Config did not accept some evaluations: the run fails, visibly, in the rule's
    status; the next scheduled run sends every set again."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def notified_at(invocation: AWSConfigRuleEvent, now: dt.datetime) -> dt.datetime:
    """When Config triggered this run: the timestamp for sets the inventory holds no
    time for."""
    try:
        text = json.loads(invocation.raw_invoking_event)["notificationCreationTime"]
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return now


def handle(
    event: Mapping[str, Any], settings: Settings, clock: Callable[[], dt.datetime] = _now
) -> dict[str, Any]:
    if not settings.inventory_table:
        raise SettingsError("INVENTORY_TABLE is not set: the Config rule reports the inventory")
    invocation = AWSConfigRuleEvent(dict(event))
    entries = [Entry.from_row(row) for row in Inventory(settings.inventory_table).rows()]
    found = evaluations(entries, notified_at(invocation, clock()))
    failed = ConfigEvaluations().put(invocation.result_token, found)

    counts = Counter(e.compliance.value for e in found)
    for compliance, count in counts.items():
        metrics.add_metric(
            name=f"ConfigEvaluations_{compliance}", unit=MetricUnit.Count, value=count
        )
    result = {
        "evaluated": len(found),
        "calls": max(1, -(-len(found) // MAX_BATCH)),
        "counts": dict(sorted(counts.items())),
        "failed": len(failed),
    }
    logger.info("config rule evaluated the inventory", extra=result)
    if failed:
        metrics.add_metric(name="ConfigEvaluationsFailed", unit=MetricUnit.Count, value=len(failed))
        raise EvaluationsRefused(f"Config refused {len(failed)} evaluations: {failed[:3]}")
    return result
