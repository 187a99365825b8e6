"""Event function: the work queue's consumer. CloudTrail records of SES calls (and
reconcile requests put back for later), grouped by set, each set reconciled once.

Partial batch response: a message whose set could not be reconciled for a transient
reason (SES or SSM failing) is retried by SQS and, in the end, kept in the dead-letter
queue; work that only had to wait goes back as a new message and is not counted.
"""

import gc

# No garbage collection while the modules load: they make hundreds of thousands of objects
# and the collector's passes keep walking them, an eighth of a cold start's CPU. What they
# made is then frozen: it lives as long as the process, so no later pass walks it again
# (docs/design/cold-start.md).
_collecting = gc.isenabled()
gc.disable()
try:
    from typing import Any

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from ses_pool_enforcer.event_path import handle_batch
    from ses_pool_enforcer.observability import logger, metrics
    from ses_pool_enforcer.runtime import get_runtime
finally:
    gc.freeze()
    if _collecting:
        gc.enable()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed = handle_batch(event.get("Records") or [], get_runtime(read_policy_ahead=True), context)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
