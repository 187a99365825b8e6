"""Sweep function: one action of the reconciliation sweep that SweepStateMachine drives.

``{"action": "start", "execution": ..., "input": {...}}`` takes the sweep lock (or answers
busy), ``{"action": "step", "sweep": {...}}`` reconciles sets until the step's time is up,
``{"action": "finish", "sweep": {...}}`` reports and releases the lock; ``{"action": "drift"}``
(its own schedule) asks the Config aggregator for suspects and queues them. Errors propagate:
the state machine retries the step, which resumes from the checkpoint.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ses_pool_enforcer.observability import logger, metrics
from ses_pool_enforcer.runtime import get_runtime
from ses_pool_enforcer.sweep import handle


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context.get_remaining_time_in_millis, get_runtime())
