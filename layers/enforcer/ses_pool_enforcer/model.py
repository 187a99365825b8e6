"""What the enforcer knows about a set and what it concluded. Pure data, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    COMPLIANT = "compliant"
    REMEDIATED = "remediated"
    VIOLATION = "violation"
    EXEMPT = "exempt"
    UNMANAGED = "unmanaged"
    ERROR = "error"
    FLAPPING = "flapping"
    DELETED = "deleted"  # the set no longer exists: leaves the inventory, never alerted


class Kind(StrEnum):
    """What a record is about: the queue's keys are a kind and a name."""

    CONFIGURATION_SET = "configuration-set"
    IDENTITY = "identity"


ALERTING_OUTCOMES = frozenset(
    {Outcome.REMEDIATED, Outcome.VIOLATION, Outcome.ERROR, Outcome.FLAPPING}
)
NON_COMPLIANT_OUTCOMES = frozenset({Outcome.VIOLATION, Outcome.ERROR, Outcome.FLAPPING})


DISABLED = "DISABLED"  # a tenant's SendingStatus when SES stopped its sending


@dataclass(frozen=True)
class Tenant:
    """An SES tenant a set or identity is associated with, and its ``SendingStatus``
    (ENABLED, REINSTATED, DISABLED)."""

    name: str
    sending_status: str = "ENABLED"


@dataclass(frozen=True)
class DedicatedIp:
    """One IP of a pool as ``GetDedicatedIps`` returned it."""

    ip: str
    warmup_status: str  # IN_PROGRESS, DONE, NOT_APPLICABLE (managed pools)
    warmup_percentage: int  # 0-100; -1 in managed pools


@dataclass(frozen=True)
class PoolState:
    """What a dedicated pool is now: its scaling mode (None when not read: a pool with no
    IPs shows none) and its IPs with their warm-up."""

    name: str
    scaling_mode: str | None
    # None: not known (a template checked before deploy declares a pool, never its IPs)
    ips: tuple[DedicatedIp, ...] | None = ()

    @property
    def managed(self) -> bool:
        return self.scaling_mode == "MANAGED"

    def coldest(self) -> int | None:
        """The lowest warm-up percentage among IPs SES does not warm itself."""
        warming = [
            ip.warmup_percentage for ip in self.ips or () if ip.warmup_status != "NOT_APPLICABLE"
        ]
        return min(warming) if warming else None

    def describe(self) -> str:
        """``STANDARD, 2 IPs, coldest 10 % warm``: for reasons, reports and alerts."""
        mode = self.scaling_mode or "scaling mode unknown"
        if self.ips is None:
            return f"{mode}, IPs not known before deploy"
        if self.managed:
            return f"{mode}, {len(self.ips)} IPs (warmed by SES)"
        if not self.ips:
            return f"{mode}, no IPs"
        count = f"{len(self.ips)} IP{'s' if len(self.ips) != 1 else ''}"
        return f"{mode}, {count}, coldest {self.coldest()} % warm"


@dataclass(frozen=True)
class ConfigurationSet:
    """A snapshot of one set as ``GetConfigurationSet`` returned it, pool normalised.

    ``options`` holds every other delivery option SES returned (``TlsPolicy``,
    ``MaxDeliverySeconds``, ``SharedPoolDeliveryMode``, ...), spelled as the API spells
    them: a reassignment sends each of them back unchanged."""

    name: str
    pool: str
    options: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    # The tenants it is associated with; None when not read (the policy names no tenant).
    tenants: tuple[Tenant, ...] | None = None


@dataclass(frozen=True)
class Identity:
    """A snapshot of one sending identity (a domain or an address) as
    ``GetEmailIdentity`` returned it: the default configuration set its mail uses when
    the mail names none."""

    name: str
    configuration_set: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    tenants: tuple[Tenant, ...] | None = None  # as for a set


@dataclass(frozen=True)
class Lane:
    """Where the sets being judged live: an account and a region, and where that account
    sits in the organization (``organizational_units``: the ids of every OU above it and
    the root's; None when unknown, ``unknown_because`` saying why). A rule scoped by
    something the lane does not know is not decided (evaluation.Undecidable)."""

    account: str | None = None
    region: str | None = None
    organizational_units: frozenset[str] | None = None
    unknown_because: str = "not read"


# Nothing known: what pure callers (policy tests, pre-deploy checks) judge in. A policy
# without scope keys decides exactly as before; a scoped rule is undecidable, not skipped.
UNKNOWN_LANE = Lane()


class Action(StrEnum):
    NONE = "none"
    REASSIGN = "reassign"


@dataclass(frozen=True)
class Decision:
    """What the policy says about one set. ``outcome`` is final unless ``action`` is
    REASSIGN, in which case it is the outcome once the reassignment succeeds."""

    outcome: Outcome
    action: Action
    expected_pool: str | None
    rule_id: str | None
    reason: str
    # Delivery options the policy requires, written with the pool in the same call
    # (SharedPoolDeliveryMode); every other option is sent back as read.
    options: Mapping[str, str] = field(default_factory=dict, hash=False)
    # The target pool's state, when the rule asks for its health (None: not asked, or
    # not read: then ``needs_pool_state`` names the pool to read and decide again).
    pool_state: PoolState | None = None
    needs_pool_state: str | None = None


@dataclass(frozen=True)
class IdentityDecision:
    """What the policy says about one identity. ``required`` is the rule's
    requirement as written (a set name, a glob, or "any"); ``target`` the set to make its
    default when ``action`` is REASSIGN."""

    outcome: Outcome
    action: Action
    required: str | None
    target: str | None
    rule_id: str | None
    reason: str


@dataclass(frozen=True)
class OutcomeRecord:
    """The result of reconciling one set (or identity): what reports, alerts and the
    inventory hold. For an identity (``kind``), ``configuration_set`` is the identity's
    name and the pools are its default configuration sets: current, required (as the
    rule writes it: a name, a glob or "any") and previous."""

    configuration_set: str
    outcome: Outcome
    current_pool: str | None
    expected_pool: str | None
    rule_id: str | None
    reason: str
    checked_at: dt.datetime
    previous_pool: str | None = None
    policy_version: int | None = None  # the SSM parameter version the set was judged by
    kind: Kind = Kind.CONFIGURATION_SET
    # The target pool's state when it was read (only when the rule asks its health):
    # scaling mode, IP count, lowest warm-up percentage among the IPs SES does not warm.
    pool_scaling_mode: str | None = None
    pool_ips: int | None = None
    pool_coldest_warmup: int | None = None
    # The names of the set's (or identity's) tenants, when read (the policy names tenants).
    tenants: tuple[str, ...] | None = None

    def with_pool(self, state: PoolState | None) -> OutcomeRecord:
        """This record carrying ``state``'s figures (unchanged when None)."""
        if state is None:
            return self
        return replace(
            self,
            pool_scaling_mode=state.scaling_mode,
            pool_ips=None if state.ips is None else len(state.ips),
            pool_coldest_warmup=state.coldest(),
        )

    def pool_state(self) -> dict[str, Any] | None:
        """The target pool's state as read (only the figures known), or None."""
        state = {
            "scaling_mode": self.pool_scaling_mode,
            "ips": self.pool_ips,
            "coldest_warmup_percent": self.pool_coldest_warmup,
        }
        known = {k: v for k, v in state.items() if v is not None}
        return known or None

    def pool_summary(self) -> str | None:
        """``STANDARD, 2 IPs, coldest 10 % warm``: the target pool's state for people."""
        if self.pool_state() is None:
            return None
        parts = [self.pool_scaling_mode or "scaling mode unknown"]
        if self.pool_ips is not None:
            parts.append(f"{self.pool_ips} IP{'' if self.pool_ips == 1 else 's'}")
        if self.pool_coldest_warmup is not None:
            parts.append(f"coldest {self.pool_coldest_warmup} % warm")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        data["kind"] = self.kind.value
        data["checked_at"] = self.checked_at.isoformat()
        # Absent, not null, when not read: a policy without pool health or tenants
        # writes the records it always wrote.
        for name in OPTIONAL_FIELDS:
            if data[name] is None:
                del data[name]
        if self.tenants is not None:
            data["tenants"] = list(self.tenants)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutcomeRecord:
        values = dict(data)
        values["outcome"] = Outcome(values["outcome"])
        values["kind"] = Kind(values.get("kind", Kind.CONFIGURATION_SET.value))
        values["checked_at"] = dt.datetime.fromisoformat(values["checked_at"])
        if values.get("tenants") is not None:
            values["tenants"] = tuple(values["tenants"])
        return cls(**values)


# The record's fields written only when known (see OutcomeRecord.to_dict).
OPTIONAL_FIELDS = ("pool_scaling_mode", "pool_ips", "pool_coldest_warmup", "tenants")
