"""The two pool names SES reserves, and how a configuration set spells "no pool"."""

DEFAULT_POOL = "ses-default-dedicated-pool"
"""Every dedicated IP not in a pool; a set with no pool association sends from it."""

SHARED_POOL = "ses-shared-pool"
"""IPs shared by all SES customers."""

SPECIAL_POOLS = frozenset({DEFAULT_POOL, SHARED_POOL})


def normalise_pool(sending_pool_name: str | None) -> str:
    """One spelling for the default pool: absent, empty, or its reserved name."""
    return sending_pool_name or DEFAULT_POOL
