"""Local AWS for tests, benchmarks and the demo: moto plus the SES v2 gaps it lacks.

Test and tooling code only; Lambda code (``layers/...``) must never import it.
"""

from local_aws import config, faults, securityhub, sesv2
from local_aws.sesv2 import (
    SPECIAL_POOL_NAMES,
    ThrottleStats,
    call_counts,
    reset,
    set_special_pools_listed,
    set_throttle,
    set_throttle_every,
    throttle_stats,
)


def install() -> None:
    """Every extension: SES v2 as SES behaves, Config's evaluations kept, Security Hub's
    findings imported as Security Hub does, and faults and one-at-a-time requests for all
    services. Call it before ``mock_aws`` starts or the local server serves."""
    faults.install()
    sesv2.install()
    config.install()
    securityhub.install()


__all__ = [
    "SPECIAL_POOL_NAMES",
    "ThrottleStats",
    "call_counts",
    "install",
    "reset",
    "set_special_pools_listed",
    "set_throttle",
    "set_throttle_every",
    "throttle_stats",
]
