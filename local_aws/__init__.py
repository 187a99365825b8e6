"""Local AWS for tests, benchmarks and the demo: moto plus the SES v2 gaps it lacks.

Test and tooling code only; Lambda code (``layers/...``) must never import it.
"""

from local_aws import config, dynamodb, faults, securityhub, sesv2, sfn
from local_aws.sesv2 import (
    SPECIAL_POOL_NAMES,
    ThrottleStats,
    call_counts,
    lane_call_counts,
    lane_throttle_stats,
    list_tenants_as_documented,
    reset,
    set_special_pools_listed,
    set_tenant_sending_status,
    set_throttle,
    set_throttle_every,
    throttle_stats,
    throttled_counts,
)
from local_aws.sfn import MOTO_CONFIG


def install() -> None:
    """Every extension: SES v2 as SES behaves, Config's evaluations kept, Security Hub's
    findings imported as Security Hub does, DynamoDB transactions at a cost that does not grow
    with the table, Step Functions' Lambda tasks run in process,
    and faults and one-at-a-time requests for all services. Call it before ``mock_aws``
    starts (with ``config=MOTO_CONFIG``) or the local server serves."""
    faults.install()
    dynamodb.install()
    sesv2.install()
    config.install()
    securityhub.install()
    sfn.install()


__all__ = [
    "MOTO_CONFIG",
    "SPECIAL_POOL_NAMES",
    "ThrottleStats",
    "call_counts",
    "install",
    "lane_call_counts",
    "lane_throttle_stats",
    "list_tenants_as_documented",
    "reset",
    "set_special_pools_listed",
    "set_tenant_sending_status",
    "set_throttle",
    "set_throttle_every",
    "throttle_stats",
    "throttled_counts",
]
