"""SES v2 access: read a set in one call, reassign it without losing its other
delivery options, list sets and pools by looping on ``NextToken``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from ses_pool_enforcer.adapters.aws import WRITE_CONFIG, client, error_code
from ses_pool_enforcer.adapters.budget import Budget
from ses_pool_enforcer.clock import SYSTEM, Clock
from ses_pool_enforcer.model import ConfigurationSet, Identity
from ses_pool_enforcer.pools import DEFAULT_POOL, SPECIAL_POOLS, normalise_pool

NOT_FOUND = "NotFoundException"
LIST_PAGE_SIZE = 1000
POOL_OPTION = "SendingPoolName"
PUT_DELIVERY_OPTIONS = "PutConfigurationSetDeliveryOptions"
BUDGET_HOOK = "ses-pool-enforcer-budget"


class WriteRefused(RuntimeError):
    """A write asked of a read-only (audit) deployment: a bug upstream, never sent."""


class Ses:
    def __init__(
        self,
        sesv2: Any | None = None,
        budget: Budget | None = None,
        *,
        read_only: bool = False,
        writer: Any | None = None,
    ) -> None:
        self._client = sesv2 if sesv2 is not None else client("sesv2")
        # The writes' client: timeouts and attempts bounded (aws.WRITE_CONFIG), so that a
        # write cannot land after the lease it began under.
        if writer is None:
            writer = client("sesv2", WRITE_CONFIG) if sesv2 is None else sesv2
        self._writer = writer
        self.budget = budget
        self.read_only = read_only
        if budget is not None:
            # Every HTTP attempt, retries included, spends from the budget; once per
            # client (clients are shared), whatever the number of Ses built on it.
            for each in {id(self._client): self._client, id(writer): writer}.values():
                each.meta.events.register(
                    "before-send.sesv2", budget.acquire, unique_id=BUDGET_HOOK
                )
        # The delivery options a Put accepts, from the service model itself: whatever SES
        # adds later is read and sent back too, never silently reset.
        members = self._client.meta.service_model.operation_model(PUT_DELIVERY_OPTIONS)
        self.put_options = frozenset(members.input_shape.members) - {"ConfigurationSetName"}

    def get_configuration_set(self, name: str) -> ConfigurationSet | None:
        """The set as SES holds it now, or None if it does not exist."""
        try:
            answer = self._client.get_configuration_set(ConfigurationSetName=name)
        except ClientError as exc:
            if error_code(exc) == NOT_FOUND:
                return None
            raise
        delivery = answer.get("DeliveryOptions") or {}
        return ConfigurationSet(
            name=answer.get("ConfigurationSetName", name),
            pool=normalise_pool(delivery.get(POOL_OPTION)),
            options={k: v for k, v in delivery.items() if k != POOL_OPTION},
            tags={t["Key"]: t.get("Value", "") for t in answer.get("Tags") or []},
        )

    def reassign(
        self, cs: ConfigurationSet, pool: str, options: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Put ``cs`` on ``pool``. The call overwrites the delivery options, so every
        other option read with ``cs`` (or given in ``options``) is sent back unchanged;
        the default pool is spelled by sending no pool name. Returns what was sent."""
        if self.read_only:
            raise WriteRefused(f"audit deployment: {cs.name} not moved to {pool}")
        sent = self.delivery_request(cs, pool, options)
        self._writer.put_configuration_set_delivery_options(ConfigurationSetName=cs.name, **sent)
        return sent

    def delivery_request(
        self, cs: ConfigurationSet, pool: str, options: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """What ``reassign`` sends to put ``cs`` on ``pool`` (without the set's name)."""
        sent: dict[str, Any] = {
            key: value
            for key, value in (cs.options if options is None else options).items()
            if key in self.put_options and value is not None
        }
        if pool != DEFAULT_POOL:
            sent[POOL_OPTION] = pool
        return sent

    def configuration_set_pages(
        self, next_token: str | None = None, page_size: int = LIST_PAGE_SIZE
    ) -> Iterator[tuple[list[str], str | None]]:
        """Pages of set names with the token that fetches the page after each one."""
        return self._pages(
            self._client.list_configuration_sets,
            lambda answer: list(answer.get("ConfigurationSets", [])),
            next_token,
            page_size,
        )

    @staticmethod
    def _pages(
        list_call: Callable[..., Any],
        names_of: Callable[[Any], list[str]],
        next_token: str | None,
        page_size: int,
    ) -> Iterator[tuple[list[str], str | None]]:
        """A sesv2 list call's pages of names, each with the token of the page after it."""
        while True:
            kwargs: dict[str, Any] = {"PageSize": page_size}
            if next_token:
                kwargs["NextToken"] = next_token
            answer = list_call(**kwargs)
            next_token = answer.get("NextToken") or None
            yield names_of(answer), next_token
            if next_token is None:
                return

    def list_configuration_sets(self) -> Iterator[str]:
        for names, _ in self.configuration_set_pages():
            yield from names

    # ------------------------------------------------------------------ identities

    def get_email_identity(self, name: str) -> Identity | None:
        """The identity and its default configuration set, or None if it does not exist."""
        try:
            answer = self._client.get_email_identity(EmailIdentity=name)
        except ClientError as exc:
            if error_code(exc) == NOT_FOUND:
                return None
            raise
        return Identity(
            name=name,
            configuration_set=answer.get("ConfigurationSetName") or None,
            tags={t["Key"]: t.get("Value", "") for t in answer.get("Tags") or []},
        )

    def set_default_configuration_set(self, identity: str, configuration_set: str) -> None:
        """Make ``configuration_set`` the default of ``identity``. (Never called without
        one: that would remove the identity's default.)"""
        if self.read_only:
            raise WriteRefused(f"audit deployment: {identity} not given {configuration_set}")
        self._writer.put_email_identity_configuration_set_attributes(
            EmailIdentity=identity, ConfigurationSetName=configuration_set
        )

    def identity_pages(
        self, next_token: str | None = None, page_size: int = LIST_PAGE_SIZE
    ) -> Iterator[tuple[list[str], str | None]]:
        """Pages of identity names with the token that fetches the page after each one."""
        return self._pages(
            self._client.list_email_identities,
            lambda answer: [i["IdentityName"] for i in answer.get("EmailIdentities", [])],
            next_token,
            page_size,
        )

    def list_identities(self) -> Iterator[str]:
        for names, _ in self.identity_pages():
            yield from names

    def configuration_set_exists(self, name: str) -> bool:
        return self.get_configuration_set(name) is not None

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
    """Answers "does this pool exist?" for the reconciler.

    "Yes" is remembered for ``ttl`` seconds (pools are rarely deleted, and SES keeps a
    deleted pool's name on its sets, so a stale yes costs a failed write at worst). "No"
    is remembered for ``negative_ttl`` seconds only, then asked again: a pool created a
    moment ago must not leave its sets judged "pool does not exist". A sweep lists the
    pools once per step (``listed``) and answers from that list.
    """

    def __init__(
        self,
        ses: Ses,
        known: set[str] | None = None,
        ttl: float = 300.0,
        negative_ttl: float = 30.0,
        clock: Clock = SYSTEM,
    ) -> None:
        self._ses = ses
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        now = clock.time()
        self._answers: dict[str, tuple[bool, float]] = {p: (True, now) for p in known or ()}
        self._listed_at = now if known is not None else None

    @classmethod
    def listed(cls, ses: Ses, clock: Clock = SYSTEM) -> PoolDirectory:
        return cls(ses, ses.list_dedicated_pools(), ttl=float("inf"), clock=clock)

    def exists(self, pool: str) -> bool:
        if pool in SPECIAL_POOLS:
            return True
        now = self._clock.time()
        answer, at = self._answers.get(pool, (False, self._listed_at))
        if at is not None and now - at < (self._ttl if answer else self._negative_ttl):
            return answer
        answer = self._ses.pool_exists(pool)
        self._answers[pool] = (answer, now)
        return answer

    def forget(self, pool: str) -> None:
        """A pool was created or deleted: ask SES again next time."""
        self._answers[pool] = (False, -float("inf"))
