"""SES v2 access: read a set in one call, reassign it without losing its other
delivery options, list sets and pools by looping on ``NextToken``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from ses_pool_enforcer.adapters.aws import client, error_code
from ses_pool_enforcer.adapters.pacing import Budget
from ses_pool_enforcer.model import ConfigurationSet
from ses_pool_enforcer.pools import DEFAULT_POOL, SPECIAL_POOLS, normalise_pool

NOT_FOUND = "NotFoundException"
LIST_PAGE_SIZE = 1000


class Ses:
    def __init__(self, sesv2: Any | None = None, pacer: Budget | None = None) -> None:
        self._client = sesv2 if sesv2 is not None else client("sesv2")
        self.pacer = pacer
        if pacer is not None:
            # Every HTTP attempt, retries included, spends from the budget.
            self._client.meta.events.register("before-send.sesv2", pacer.acquire)

    def get_configuration_set(self, name: str) -> ConfigurationSet | None:
        """The set as SES holds it now, or None if it does not exist."""
        try:
            answer = self._client.get_configuration_set(ConfigurationSetName=name)
        except ClientError as exc:
            if error_code(exc) == NOT_FOUND:
                return None
            raise
        options = answer.get("DeliveryOptions") or {}
        return ConfigurationSet(
            name=answer.get("ConfigurationSetName", name),
            pool=normalise_pool(options.get("SendingPoolName")),
            tls_policy=options.get("TlsPolicy"),
            max_delivery_seconds=options.get("MaxDeliverySeconds"),
            tags={t["Key"]: t.get("Value", "") for t in answer.get("Tags") or []},
        )

    def reassign(self, cs: ConfigurationSet, pool: str) -> None:
        """Put ``cs`` on ``pool``. The call overwrites all delivery options, so the
        TLS policy and maximum delivery time read with ``cs`` are sent back unchanged;
        the default pool is spelled by sending no pool name."""
        options: dict[str, Any] = {"ConfigurationSetName": cs.name}
        if cs.tls_policy is not None:
            options["TlsPolicy"] = cs.tls_policy
        if cs.max_delivery_seconds is not None:
            options["MaxDeliverySeconds"] = cs.max_delivery_seconds
        if pool != DEFAULT_POOL:
            options["SendingPoolName"] = pool
        self._client.put_configuration_set_delivery_options(**options)

    def configuration_set_pages(
        self, next_token: str | None = None, page_size: int = LIST_PAGE_SIZE
    ) -> Iterator[tuple[list[str], str | None]]:
        """Pages of set names with the token that fetches the page after each one."""
        while True:
            kwargs: dict[str, Any] = {"PageSize": page_size}
            if next_token:
                kwargs["NextToken"] = next_token
            answer = self._client.list_configuration_sets(**kwargs)
            next_token = answer.get("NextToken") or None
            yield list(answer.get("ConfigurationSets", [])), next_token
            if next_token is None:
                return

    def list_configuration_sets(self) -> Iterator[str]:
        for names, _ in self.configuration_set_pages():
            yield from names

    def list_dedicated_pools(self) -> set[str]:
        """Names of the account's dedicated pools (the two reserved names excluded)."""
        pools: set[str] = set()
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"PageSize": LIST_PAGE_SIZE}
            if token:
                kwargs["NextToken"] = token
            answer = self._client.list_dedicated_ip_pools(**kwargs)
            pools.update(answer.get("DedicatedIpPools", []))
            token = answer.get("NextToken") or None
            if token is None:
                return pools - SPECIAL_POOLS

    def pool_exists(self, pool: str) -> bool:
        if pool in SPECIAL_POOLS:
            return True
        try:
            self._client.get_dedicated_ip_pool(PoolName=pool)
        except ClientError as exc:
            if error_code(exc) == NOT_FOUND:
                return False
            raise
        return True


class PoolDirectory:
    """Answers "does this pool exist?" for the reconciler. The event path asks SES once
    per pool and remembers the answer for ``ttl`` seconds; a sweep lists the pools once
    and answers from memory."""

    def __init__(
        self,
        ses: Ses,
        known: set[str] | None = None,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ses = ses
        self._ttl = ttl
        self._clock = clock
        self._complete = known is not None
        self._answers: dict[str, tuple[bool, float]] = {p: (True, clock()) for p in known or ()}

    @classmethod
    def listed(cls, ses: Ses) -> PoolDirectory:
        return cls(ses, ses.list_dedicated_pools(), ttl=float("inf"))

    def exists(self, pool: str) -> bool:
        if pool in SPECIAL_POOLS:
            return True
        cached = self._answers.get(pool)
        if cached is not None and self._clock() - cached[1] < self._ttl:
            return cached[0]
        if self._complete:
            return False
        answer = self._ses.pool_exists(pool)
        self._answers[pool] = (answer, self._clock())
        return answer

    def forget(self, pool: str) -> None:
        """A pool was created or deleted: ask SES again next time."""
        self._answers.pop(pool, None)
        if self._complete:
            self._complete = False
