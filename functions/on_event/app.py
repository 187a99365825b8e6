"""Event function: CloudTrail records of SES calls, buffered in SQS, reconciled one by one.

Partial batch response: a message whose set could not be reconciled for a transient
reason (SES or SSM failing) is retried by SQS and, in the end, kept in the dead-letter
queue; the rest of the batch is done.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ses_pool_enforcer.event_path import handle_message
from ses_pool_enforcer.observability import logger, metrics
from ses_pool_enforcer.runtime import get_runtime

# All-failed batches are reported item by item too, so SQS counts each receive.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    handle_message(record.body, get_runtime(), lambda_context)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
