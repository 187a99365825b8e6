"""Wiring: the objects a warm Lambda process (or the CLI) builds once from settings."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ses_pool_enforcer.adapters import aws
from ses_pool_enforcer.adapters.alerts import Alerts
from ses_pool_enforcer.adapters.budget import LocalBudget, SharedBudget
from ses_pool_enforcer.adapters.inventory import IDENTITIES, SETS, Inventory, SeenInSweep
from ses_pool_enforcer.adapters.organizations import Organization
from ses_pool_enforcer.adapters.policy_store import PolicySnapshot, load_policy, read_ahead
from ses_pool_enforcer.adapters.ses import PoolDirectory, Ses, TenantDirectory
from ses_pool_enforcer.adapters.work_queue import WorkQueue
from ses_pool_enforcer.clock import SYSTEM, Clock
from ses_pool_enforcer.config import Settings, SettingsError, Switch, get_settings
from ses_pool_enforcer.flapping import FlapGuard
from ses_pool_enforcer.model import Kind
from ses_pool_enforcer.policy import Mode, PolicyError
from ses_pool_enforcer.reconciler import Reconciler
from ses_pool_enforcer.work import LaneKey

if TYPE_CHECKING:  # imported when the deployment switches Security Hub on (_findings)
    from ses_pool_enforcer.adapters.reports import ReportStore  # when a sweep reports
    from ses_pool_enforcer.adapters.security_hub import SecurityHubFindings

ROLE_SESSION_NAME = "ses-pool-enforcer"
# A member lane's clients are built again this long before its credentials expire.
CREDENTIALS_MARGIN_SECONDS = 300.0


class ForeignLane(ValueError):
    """A record of an account or region this deployment does not govern."""


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    ses: Ses
    pools: PoolDirectory
    inventory: Inventory | None
    alerts: Alerts
    queue: WorkQueue | None
    flap: FlapGuard
    findings: SecurityHubFindings | None = None  # None: SecurityHub=disabled
    tenants: TenantDirectory | None = None  # the tenants of sets, when a policy names them
    identities: Inventory | None = None  # the identity inventory
    _reports: ReportStore | None = None  # report_store(), built on first use
    # This process's lane: account (ACCOUNT_ID, else STS), region, the account's OUs; each
    # read only when a policy's scope needs it.
    organization: Organization = field(default_factory=Organization)
    policy_alerted_at: float = float("-inf")  # when "policy unavailable" was last alerted
    drift_alerted_at: float = float("-inf")  # when "drift check failed" was last alerted
    # Member lanes (organization mode), built on first use and again before their
    # credentials expire: (runtime, good until).
    lanes: dict[LaneKey, tuple[Runtime, float]] = field(default_factory=dict)
    lane_alerted_at: dict[str, float] = field(default_factory=dict)  # account -> when
    departed_at: dict[str, float] = field(default_factory=dict)  # account -> when found gone

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = SYSTEM) -> Runtime:
        rate = settings.ses_calls_per_second
        # The deployment shares one budget through the state table; without one (a local
        # run), each process keeps to the budget on its own.
        budget = (
            SharedBudget(settings.state_table, rate, clock=clock)
            if settings.state_table
            else LocalBudget(rate, clock)
        )
        # An audit deployment cannot write to SES, whatever any document says.
        ses = Ses(budget=budget, read_only=settings.enforcement_mode is Mode.AUDIT)
        alerts = Alerts(settings.alert_topic_arn, settings.alert_fallback_queue_url)
        return cls(
            settings=settings,
            clock=clock,
            ses=ses,
            # A consumer never trusts a remembered "no such pool": it may have just been made.
            pools=PoolDirectory(ses, negative_ttl=0.0, clock=clock),
            inventory=Inventory(settings.inventory_table) if settings.inventory_table else None,
            alerts=alerts,
            queue=WorkQueue(settings.work_queue_url, clock) if settings.work_queue_url else None,
            flap=FlapGuard(settings.flap_threshold, settings.flap_window_seconds),
            findings=_findings(settings, alerts, clock),
            identities=(
                Inventory(settings.identity_table, IDENTITIES) if settings.identity_table else None
            ),
            organization=Organization(settings.account_id, clock),
            tenants=TenantDirectory(ses, clock),
        )

    def report_store(self) -> ReportStore | None:
        """The report bucket (REPORT_BUCKET; an organization's lanes and their results
        too), or None without one. Built, and its module imported, on first use: the
        event path never reports."""
        if self._reports is None and self.settings.report_bucket:
            from ses_pool_enforcer.adapters.reports import ReportStore

            self._reports = ReportStore(self.settings.report_bucket)
        return self._reports

    def lane_of(self, account: str | None, region: str | None) -> LaneKey | None:
        """The lane a record of ``account`` and ``region`` names: None for this
        deployment's own, the pair for a member lane it governs. Raises ForeignLane for
        any other (a forwarding rule wider than this deployment)."""
        home_account, home_region = self.settings.account_id, aws.region()
        account, region = account or home_account, region or home_region
        if account == home_account and region == home_region:
            return None
        if account and region and self.settings.governs(account, region):
            return account, region
        if not self.settings.member_role_name and account != home_account:
            raise ForeignLane(
                f"event from account {account}; this deployment governs {home_account}"
            )
        regions = ", ".join(sorted({r for r in (home_region, *self.settings.member_regions) if r}))
        raise ForeignLane(f"event from region {region}; this deployment governs {regions}")

    def for_lane(self, lane: LaneKey | None) -> Runtime:
        """The runtime for ``lane``: this one for the deployment's own, else the member
        lane's (its SES on the member role, its own call budget, its inventory entries).
        Raises ClientError when the member role cannot be assumed."""
        if lane is None:
            return self
        now = self.clock.time()
        built = self.lanes.get(lane)
        if built is None or built[1] - now < CREDENTIALS_MARGIN_SECONDS:
            built = self._member(*lane)
            self.lanes[lane] = built
        return built[0]

    def forget_lane(self, lane: LaneKey) -> None:
        """Drop ``lane``'s runtime (its role session was refused): the next look at the
        lane assumes the role again, and learns whether it still can."""
        self.lanes.pop(lane, None)

    def _member(self, account: str, region: str) -> tuple[Runtime, float]:
        settings = self.settings
        if account == settings.account_id:
            assumed = aws.own(account, region)  # the hub's own account in another region
        elif settings.member_role_name:
            assumed = aws.assume(account, region, settings.member_role_name, ROLE_SESSION_NAME)
        else:  # never the hub's own credentials under another account's name
            raise ForeignLane(f"account {account}: no member role to act there (MEMBER_ROLE_NAME)")
        rate = settings.ses_calls_per_second
        # SES's limit is per account and region: so is each lane's budget.
        budget = (
            SharedBudget(settings.state_table, rate, lane=f"{account}#{region}", clock=self.clock)
            if settings.state_table
            else LocalBudget(rate, self.clock)
        )
        ses = Ses(
            assumed.client("sesv2"),
            budget,
            read_only=self.ses.read_only,
            writer=assumed.client("sesv2", aws.WRITE_CONFIG),
        )
        member = replace(
            self,
            ses=ses,
            pools=PoolDirectory(ses, negative_ttl=0.0, clock=self.clock),
            tenants=TenantDirectory(ses, self.clock),
            inventory=(
                Inventory(settings.inventory_table, SETS.in_lane(account, region))
                if settings.inventory_table
                else None
            ),
            identities=(
                Inventory(settings.identity_table, IDENTITIES.in_lane(account, region))
                if settings.identity_table
                else None
            ),
            findings=None,  # Security Hub findings: the hub's own lane only
            organization=Organization(account, self.clock, region=region),
            lanes={},
            lane_alerted_at={},
        )
        return member, assumed.expires_at

    def policy(
        self, version: int | None = None, max_age: int | None = None
    ) -> PolicySnapshot | PolicyError:
        """The policy (at most ``max_age`` seconds old, by default PolicyCacheSeconds;
        exactly ``version`` if given), or why there is none to enforce. SSM failures
        worth a retry (PolicyUnavailable) propagate."""
        age = self.settings.policy_cache_seconds if max_age is None else max_age
        try:
            return load_policy(self.settings.policy_parameter, age, version)
        except PolicyError as exc:
            return exc

    def reconciler(
        self,
        *,
        policy: PolicySnapshot | PolicyError | None = None,
        pools: PoolDirectory | None = None,
        sweep_id: str | None = None,
        kind: Kind = Kind.CONFIGURATION_SET,
        tenants: TenantDirectory | None = None,
    ) -> Reconciler:
        snapshot = self.policy() if policy is None else policy
        identity = kind is Kind.IDENTITY
        judged = snapshot if isinstance(snapshot, PolicyError) else snapshot.policy
        return Reconciler(
            ses=self.ses,
            pools=pools or self.pools,
            policy=judged,
            policy_version=None if isinstance(snapshot, PolicyError) else snapshot.version,
            enforcement=self.settings.enforcement_mode,
            inventory=self.identities if identity else self.inventory,
            alerts=self.alerts,
            flap=self.flap,
            wakeups=self.queue,
            findings=self.findings,
            sweep_id=sweep_id,
            kind=kind,
            # An identity's default set: a sweep trusts the sets it saw; events ask SES.
            sets=(
                SeenInSweep(self.inventory, sweep_id)
                if identity and self.inventory is not None and sweep_id is not None
                else None
            ),
            lane=self.organization.lane(judged),
            tenants=tenants or self.tenants,
            clock=self.clock,
        )


def _findings(settings: Settings, alerts: Alerts, clock: Clock) -> SecurityHubFindings | None:
    """The Security Hub sink, when the deployment asks for findings: for the account the
    template names and the region the functions run in (no call to find either)."""
    if settings.security_hub is not Switch.ENABLED:
        return None
    from ses_pool_enforcer.adapters.security_hub import SecurityHubFindings
    from ses_pool_enforcer.compliance.security_hub import Product

    region = aws.region()
    if not settings.account_id or not region:
        raise SettingsError(
            "SECURITY_HUB=enabled needs ACCOUNT_ID and a region (AWS_REGION): "
            "the template sets both"
        )
    return SecurityHubFindings(
        Product(settings.account_id, region, aws.partition(region)), alerts, clock
    )


_building = threading.Lock()
_frozen = False


@contextmanager
def _long_lived() -> Iterator[None]:
    """No garbage collection while building what lives as long as the process: the
    clients' models are tens of thousands of objects, which the collector's passes would
    walk again and again. The first time in a process (its cold start), what was built is
    then frozen, so that no later pass walks it; later builds (tests, a CLI run) are not,
    lest frozen garbage outlive them (docs/design/cold-start.md)."""
    global _frozen
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not _frozen:
            gc.freeze()
            _frozen = True
        if collecting:
            gc.enable()


_built: Runtime | None = None


def get_runtime(*, read_policy_ahead: bool = False) -> Runtime:
    """The process's runtime, built once (a lock, for local runs with several threads).
    ``read_policy_ahead``: for a function whose first look reads the cached policy (the
    event function; a sweep reads its own version), the read begins first, and waits for
    SSM while the other clients are built."""
    global _built
    with _building:
        if _built is None:
            settings = get_settings()
            with _long_lived():
                if read_policy_ahead:
                    read_ahead(settings.policy_parameter, settings.policy_cache_seconds)
                _built = Runtime.from_settings(settings)
        return _built


def forget_runtime() -> None:
    """What a fresh process starts with: no runtime yet (tests)."""
    global _built
    _built = None
