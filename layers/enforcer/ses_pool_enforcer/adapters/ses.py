"""SES v2 access: read a set in one call, reassign it without losing its other
delivery options, list sets and pools by looping on ``NextToken``; a pool's state (its
IPs and their warm-up) and the tenants of a set or identity, cached."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from ses_pool_enforcer.adapters.aws import WRITE_CONFIG, client, error_code, partition
from ses_pool_enforcer.adapters.budget import Budget
from ses_pool_enforcer.clock import SYSTEM, Clock
from ses_pool_enforcer.model import (
    ConfigurationSet,
    DedicatedIp,
    Identity,
    Kind,
    Lane,
    PoolState,
    Tenant,
)
from ses_pool_enforcer.policy import Policy, PolicyError
from ses_pool_enforcer.pools import DEFAULT_POOL, SPECIAL_POOLS, normalise_pool

NOT_FOUND = "NotFoundException"
NOT_APPLICABLE = "NOT_APPLICABLE"  # an IP's WarmupStatus in a MANAGED pool (and only there)
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
        self._given_writer = writer if writer is not None else sesv2
        self.budget = budget
        self.read_only = read_only
        self._spending(self._client)
        # The delivery options a Put accepts, from the service model itself: whatever SES
        # adds later is read and sent back too, never silently reset.
        members = self._client.meta.service_model.operation_model(PUT_DELIVERY_OPTIONS)
        self.put_options = frozenset(members.input_shape.members) - {"ConfigurationSetName"}

    @cached_property
    def _writer(self) -> Any:
        """The writes' client: timeouts and attempts bounded (aws.WRITE_CONFIG), so that a
        write cannot land after the lease it began under. Built on the first write: most
        looks write nothing, and a cold start need not build it."""
        writer = self._given_writer
        if writer is None:
            writer = client("sesv2", WRITE_CONFIG)
        self._spending(writer)
        return writer

    def _spending(self, sesv2: Any) -> None:
        """Every HTTP attempt of ``sesv2``, retries included, spends from the budget; once
        per client (clients are shared: ``unique_id``), whatever the number of Ses on it."""
        if self.budget is not None:
            sesv2.meta.events.register(
                "before-send.sesv2", self.budget.acquire, unique_id=BUDGET_HOOK
            )

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

    def pool_state(self, pool: str) -> PoolState | None:
        """A dedicated pool's IPs with their warm-up, and its scaling mode; None if it does
        not exist. One ``GetDedicatedIps`` (per 1000 IPs): an IP's ``WarmupStatus`` says the
        mode (NOT_APPLICABLE in MANAGED pools only, as the API reference says), so
        ``GetDedicatedIpPool`` is asked only of a pool with no IP."""
        ips: list[DedicatedIp] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"PoolName": pool, "PageSize": LIST_PAGE_SIZE}
            if token:
                kwargs["NextToken"] = token
            try:
                answer = self._client.get_dedicated_ips(**kwargs)
            except ClientError as exc:
                if error_code(exc) == NOT_FOUND:
                    return None
                raise
            ips += [
                DedicatedIp(
                    ip["Ip"], ip.get("WarmupStatus", ""), int(ip.get("WarmupPercentage", 0))
                )
                for ip in answer.get("DedicatedIps", [])
            ]
            token = answer.get("NextToken") or None
            if token is None:
                break
        if ips:
            managed = any(ip.warmup_status == NOT_APPLICABLE for ip in ips)
            return PoolState(pool, "MANAGED" if managed else "STANDARD", tuple(ips))
        try:
            described = self._client.get_dedicated_ip_pool(PoolName=pool)["DedicatedIpPool"]
        except ClientError as exc:
            if error_code(exc) == NOT_FOUND:
                return None
            raise
        return PoolState(pool, described.get("ScalingMode") or None, ())

    def resource_tenants(self, arn: str) -> list[str] | None:
        """Names of the tenants ``arn`` is associated with (``ListResourceTenants``); None
        if the resource does not exist."""
        names: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"ResourceArn": arn, "PageSize": LIST_PAGE_SIZE}
            if token:
                kwargs["NextToken"] = token
            try:
                answer = self._client.list_resource_tenants(**kwargs)
            except ClientError as exc:
                if error_code(exc) == NOT_FOUND:
                    return None
                raise
            names += [t["TenantName"] for t in answer.get("ResourceTenants", [])]
            token = answer.get("NextToken") or None
            if token is None:
                return names

    def tenant_statuses(self) -> dict[str, str]:
        """Every tenant's ``SendingStatus``: ``ListTenants`` (1000 a page)."""
        statuses: dict[str, str] = {}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"PageSize": LIST_PAGE_SIZE}
            if token:
                kwargs["NextToken"] = token
            answer = self._client.list_tenants(**kwargs)
            for tenant in answer.get("Tenants", []):
                # (The botocore model lists SendingStatus in each entry; the API
                # reference's page does not: ask GetTenant rather than guess.)
                name = tenant["TenantName"]
                statuses[name] = tenant.get("SendingStatus") or self.tenant_status(name)
            token = answer.get("NextToken") or None
            if token is None:
                break
        return statuses

    def tenant_status(self, tenant: str) -> str:
        """One tenant's ``SendingStatus`` (``GetTenant``); a tenant gone is not DISABLED."""
        try:
            answer = self._client.get_tenant(TenantName=tenant)
        except ClientError as exc:
            if error_code(exc) == NOT_FOUND:
                return "ENABLED"
            raise
        return str(answer["Tenant"].get("SendingStatus") or "ENABLED")

    def tenant_resources(self, tenant: str) -> list[str]:
        """ARNs of the resources associated with ``tenant`` (``ListTenantResources``);
        none if the tenant is gone."""
        arns: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"TenantName": tenant, "PageSize": LIST_PAGE_SIZE}
            if token:
                kwargs["NextToken"] = token
            try:
                answer = self._client.list_tenant_resources(**kwargs)
            except ClientError as exc:
                if error_code(exc) == NOT_FOUND:
                    return arns
                raise
            arns += [r["ResourceArn"] for r in answer.get("TenantResources", [])]
            token = answer.get("NextToken") or None
            if token is None:
                return arns

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
        state_ttl: float = 300.0,
        states: Mapping[str, PoolState | None] | None = None,
    ) -> None:
        self._ses = ses
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._state_ttl = state_ttl
        now = clock.time()
        self._answers: dict[str, tuple[bool, float]] = {p: (True, now) for p in known or ()}
        self._listed_at = now if known is not None else None
        self._states: dict[str, tuple[PoolState | None, float]] = {
            pool: (state, now) for pool, state in (states or {}).items()
        }

    @classmethod
    def listed(
        cls,
        ses: Ses,
        clock: Clock = SYSTEM,
        pools: set[str] | None = None,
        states: Mapping[str, PoolState | None] | None = None,
    ) -> PoolDirectory:
        """For a scan of every set (a sweep, the CLI): the pools listed once (or as
        ``pools`` lists them), each pool's state read once (or as ``states`` holds it)."""
        listed = ses.list_dedicated_pools() if pools is None else pools
        return cls(
            ses, listed, ttl=float("inf"), clock=clock, state_ttl=float("inf"), states=states
        )

    def state(self, pool: str) -> PoolState | None:
        """The pool's state (None: it does not exist), read at most once per ``state_ttl``
        seconds: a sweep's step reads each pool once, the event path keeps it a few
        minutes (the events that change it make it read again: ``forget``)."""
        now = self._clock.time()
        cached = self._states.get(pool)
        if cached is not None and now - cached[1] < self._state_ttl:
            return cached[0]
        state = self._ses.pool_state(pool)
        self._states[pool] = (state, now)
        self._answers[pool] = (state is not None, now)
        return state

    def state_age(self, pool: str) -> float | None:
        """Seconds since the pool's state was read (None: never)."""
        cached = self._states.get(pool)
        return None if cached is None else self._clock.time() - cached[1]

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

    def holds(self, pool: str) -> bool:
        """Whether a set SES shows on ``pool`` is on a pool that exists, asking SES only
        when in doubt. SES refuses a pool that does not exist when a set is put on it, so
        the set's pool existed then; only a deletion since makes it dangle, and a deletion
        is heard: its event is fanned out to the pool's sets (``forget``, and the work
        names the pool) and a sweep lists the pools. So: from the listing when there is
        one (free), SES when the last answer was "no" or the pool was ``forget``-ed, and
        otherwise yes, with no call (docs/design/cold-start.md)."""
        answer = self._answers.get(pool)
        if self._listed_at is None and (answer is None or answer[0]):
            return True
        return self.exists(pool)

    def forget(self, pool: str) -> None:
        """A pool was created, deleted or changed (its IPs, their warm-up, its scaling
        mode): ask SES again next time."""
        self._answers[pool] = (False, -float("inf"))
        self._states.pop(pool, None)


class TenantDirectory:
    """The tenants of a set or identity, with their ``SendingStatus``.

    Which call is cheaper depends on the count: ``ListResourceTenants`` costs one call per
    set; ``ListTenantResources`` one per tenant, answering for every set at once. The
    event path looks at one set, so it asks ``ListResourceTenants`` for it; a sweep's step
    looks at thousands of sets of far fewer tenants, so ``listed`` reads every tenant's
    resources once (``ListTenants`` plus one ``ListTenantResources`` per tenant). The
    statuses (one ``ListTenants`` for up to 1000 tenants) are kept ``ttl`` seconds.
    """

    def __init__(
        self,
        ses: Ses,
        clock: Clock = SYSTEM,
        ttl: float = 300.0,
        by_resource: dict[str, list[str]] | None = None,
        statuses: dict[str, str] | None = None,
    ) -> None:
        self._ses = ses
        self._clock = clock
        self._ttl = ttl
        self._by_resource = by_resource
        self._statuses = statuses
        self._statuses_at = clock.time() if statuses is not None else -float("inf")

    @classmethod
    def listed(cls, ses: Ses, clock: Clock = SYSTEM) -> TenantDirectory:
        """Every tenant's resources, read now: ``ListTenants`` and one
        ``ListTenantResources`` per tenant."""
        statuses = ses.tenant_statuses()
        return cls.of(ses, statuses, {t: ses.tenant_resources(t) for t in statuses}, clock)

    @classmethod
    def of(
        cls,
        ses: Ses,
        statuses: Mapping[str, str],
        resources: Mapping[str, list[str]],
        clock: Clock = SYSTEM,
    ) -> TenantDirectory:
        """The directory of tenants listed earlier: each tenant's status and resources."""
        by_resource: dict[str, list[str]] = {}
        for tenant in sorted(resources):
            for arn in resources[tenant]:
                by_resource.setdefault(arn, []).append(tenant)
        return cls(ses, clock, float("inf"), by_resource, dict(statuses))

    def tenants_of(self, kind: Kind, name: str, lane: Lane) -> tuple[Tenant, ...] | None:
        """The tenants of set (or identity) ``name`` in ``lane``; None when unknown (the
        lane's account or region is unknown, or the resource vanished)."""
        if lane.account is None or lane.region is None:
            return None
        resource = "identity" if kind is Kind.IDENTITY else "configuration-set"
        arn = f"arn:{partition(lane.region)}:ses:{lane.region}:{lane.account}:{resource}/{name}"
        if self._by_resource is not None:
            names: list[str] | None = self._by_resource.get(arn, [])
        else:
            names = self._ses.resource_tenants(arn)
        if names is None:
            return None
        statuses = self._current_statuses()
        if any(n not in statuses for n in names) and self._by_resource is None:
            statuses = self._current_statuses(refresh=True)  # a tenant newer than the list
        return tuple(Tenant(n, statuses.get(n, "ENABLED")) for n in sorted(names))

    def _current_statuses(self, *, refresh: bool = False) -> dict[str, str]:
        now = self._clock.time()
        if refresh or self._statuses is None or now - self._statuses_at >= self._ttl:
            self._statuses, self._statuses_at = self._ses.tenant_statuses(), now
        return self._statuses


def tenants_for(ses: Ses, *policies: Policy | PolicyError | None) -> TenantDirectory | None:
    """For a scan of every set (the CLI's plan and live report): every tenant's resources
    read once, when one of ``policies`` names tenants; else None (no tenant call)."""
    if any(isinstance(p, Policy) and p.names_tenants() for p in policies):
        return TenantDirectory.listed(ses)
    return None
