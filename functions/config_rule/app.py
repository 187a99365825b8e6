"""Config rule function: AWS Config invokes it on the rule's schedule; every set in the
enforcer's inventory becomes an evaluation (``PutEvaluations``), with no SES call.

A failure raises: Config shows it in the rule's evaluation status, and the next
scheduled run reports every set again.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ses_pool_enforcer.config import get_settings
from ses_pool_enforcer.config_rule import handle
from ses_pool_enforcer.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, get_settings())
