"""The decision for one set: ``evaluate(policy, configuration_set, now, lane=...) ->
Decision``.

Pure: no boto3, no I/O, no clock. Order: exemptions, then rules (first match wins),
then the default; a set that reaches none of them is unmanaged.

The lane (model.Lane) is the account and region the set lives in and the account's
organizational units: a rule or an exemption with scope keys (accounts,
organizational_units, regions) applies only where all of them hold. When one depends on
what the lane does not know (the OUs, when Organizations cannot be read), the set is not
decided at all (an ``error``, no write): skipping to a later rule or the default could
move a set the skipped rule would have kept. The same holds for a rule or exemption that
names tenants when the set's tenants were not read.

A rule (or the default) may ask more of its target than a name: ``pool_health`` (a set is
not moved onto a pool that falls short: an ``error`` saying why), a
``shared_pool_delivery_mode`` (written in the same call as the pool), and whether a
DISABLED tenant's sets are moved (``disabled_tenants``; by default they are reported).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from fnmatch import fnmatchcase

from ses_pool_enforcer.model import (
    DISABLED,
    UNKNOWN_LANE,
    Action,
    ConfigurationSet,
    Decision,
    Identity,
    IdentityDecision,
    Lane,
    Outcome,
    PoolState,
    Tenant,
)
from ses_pool_enforcer.policy import (
    DefaultRule,
    DisabledTenants,
    Exemption,
    IdentityMatch,
    IdentityRule,
    Match,
    Mode,
    Policy,
    PoolHealth,
    Rule,
    Scope,
)

ANY_VALUE = "*"
DEFAULT_RULE_ID = "default"
SHARED_POOL_DELIVERY_MODE = "SharedPoolDeliveryMode"


class Undecidable(Exception):
    """Whether a rule or an exemption applies depends on what the lane does not know."""

    def __init__(self, message: str, rule_id: str | None = None) -> None:
        super().__init__(message)
        self.rule_id = rule_id


def in_scope(scope: Scope, lane: Lane, what: str, rule_id: str | None = None) -> bool:
    """Whether ``lane`` is within ``scope``: its account one of ``accounts``, its region
    matching one of the ``regions`` globs, its account in one of the
    ``organizational_units`` or below. A key that is absent does not narrow. Raises
    Undecidable when the answer depends on something the lane does not know (what is
    known and false already answers no)."""
    unknown: list[str] = []
    if scope.accounts is not None:
        if lane.account is None:
            unknown.append("accounts, and the account is unknown")
        elif lane.account not in scope.accounts:
            return False
    if scope.regions is not None:
        if lane.region is None:
            unknown.append("regions, and the region is unknown")
        elif not any(fnmatchcase(lane.region, glob) for glob in scope.regions):
            return False
    if scope.organizational_units is not None:
        if lane.organizational_units is None:
            where = f"account {lane.account}" if lane.account else "the account"
            unknown.append(
                f"organizational_units, and where {where} sits in the organization is "
                f"unknown ({lane.unknown_because})"
            )
        elif lane.organizational_units.isdisjoint(scope.organizational_units):
            return False
    if unknown:
        raise Undecidable(f"{what} names {'; and '.join(unknown)}", rule_id)
    return True


def _tenant_matches(globs: list[str] | None, tenants: tuple[Tenant, ...] | None) -> bool | None:
    """Whether one of ``tenants`` matches one of ``globs`` (True when no globs are given);
    None when the tenants were not read."""
    if globs is None:
        return True
    if tenants is None:
        return None
    return any(fnmatchcase(tenant.name, glob) for tenant in tenants for glob in globs)


def _tenants_unknown(what: str, rule_id: str | None) -> Undecidable:
    return Undecidable(f"{what} names tenants, and its tenants were not read", rule_id)


def matches(
    match: Match,
    name: str,
    tags: Mapping[str, str],
    lane: Lane = UNKNOWN_LANE,
    *,
    what: str = "the rule",
    rule_id: str | None = None,
    tenants: tuple[Tenant, ...] | None = None,
) -> bool:
    """Whether a set named ``name`` with ``tags`` and ``tenants``, in ``lane``, matches:
    names, tags, tenants and scope must all hold. Raises Undecidable (see ``in_scope``)
    only when what is known holds and the rest is not known (the lane's OUs, or the
    tenants when the rule names tenants and they were not read)."""
    if match.names is not None and not any(fnmatchcase(name, glob) for glob in match.names):
        return False
    if match.tags is not None:
        for key, wanted in match.tags.items():
            if key not in tags or (wanted != ANY_VALUE and tags[key] != wanted):
                return False
    of_tenant = _tenant_matches(match.tenants, tenants)
    if of_tenant is False or not in_scope(match, lane, what, rule_id):
        return False
    if of_tenant is None:
        raise _tenants_unknown(what, rule_id)
    return True


def _exemption_name(exemption: Exemption) -> str:
    if exemption.tenant is not None:
        return f"the exemption for tenant {exemption.tenant!r}"
    return f"the exemption for {exemption.configuration_set or exemption.identity!r}"


def _tenant_exempt(
    exemption: Exemption, tenants: tuple[Tenant, ...] | None, today: dt.date, lane: Lane
) -> bool:
    """Whether a tenant exemption covers a set or identity with ``tenants``. Raises
    Undecidable when it applies (date, scope) and the tenants were not read."""
    if exemption.tenant is None or today > exemption.expires:
        return False
    what = _exemption_name(exemption)
    covers = _tenant_matches([exemption.tenant], tenants)
    if covers is False or not in_scope(exemption, lane, what):
        return False
    if covers is None:
        raise _tenants_unknown(what, None)
    return True


def active_exemption(
    policy: Policy,
    name: str,
    now: dt.datetime,
    lane: Lane = UNKNOWN_LANE,
    tenants: tuple[Tenant, ...] | None = None,
) -> Exemption | None:
    """The first exemption that covers ``name`` (or one of its ``tenants``) in ``lane`` on
    ``now``'s UTC date, expiry day included. Raises Undecidable when one whose glob matches
    may or may not apply."""
    today = now.astimezone(dt.UTC).date()
    for exemption in policy.exemptions:
        glob = exemption.configuration_set
        if (
            glob is not None
            and today <= exemption.expires
            and fnmatchcase(name, glob)
            and in_scope(exemption, lane, _exemption_name(exemption))
        ) or _tenant_exempt(exemption, tenants, today, lane):
            return exemption
    return None


def matching_rule(policy: Policy, cs: ConfigurationSet, lane: Lane = UNKNOWN_LANE) -> Rule | None:
    """The first rule that matches ``cs`` in ``lane``. Raises Undecidable when a rule
    before any that matches may or may not match: never a later rule in its place."""
    return next(
        (
            rule
            for rule in policy.rules
            if matches(
                rule.match,
                cs.name,
                cs.tags,
                lane,
                what=f"rule {rule.id!r}",
                rule_id=rule.id,
                tenants=cs.tenants,
            )
        ),
        None,
    )


def _undecided(exc: Undecidable) -> str:
    return f"not decided: {exc}; nothing is changed until it can be"


def pool_shortfalls(health: PoolHealth, state: PoolState) -> list[str]:
    """How ``state`` falls short of ``health`` (empty: it does not). A MANAGED pool meets
    ``min_ips`` and ``min_warmup_percent``: SES scales and warms its IPs itself. A pool
    with no IPs has none warm. Before deploy (``state.ips`` None) only the scaling mode a
    template declares is judged."""
    short: list[str] = []
    before_deploy = state.ips is None  # what a template says of a pool: its mode at most
    if before_deploy and state.scaling_mode is None:
        return short
    if health.scaling_mode is not None and state.scaling_mode != health.scaling_mode.value:
        short.append(
            f"scaling mode {state.scaling_mode or 'unknown'}, {health.scaling_mode.value} required"
        )
    if state.managed or state.ips is None:
        return short
    if health.min_ips is not None and len(state.ips) < health.min_ips:
        short.append(f"{len(state.ips)} IPs, at least {health.min_ips} required")
    if health.min_warmup_percent is not None:
        coldest = state.coldest()
        if coldest is None:
            short.append(f"no IP to be {health.min_warmup_percent} % warm")
        elif coldest < health.min_warmup_percent:
            short.append(
                f"coldest IP {coldest} % warm, at least {health.min_warmup_percent} % required"
            )
    return short


def evaluate(
    policy: Policy,
    cs: ConfigurationSet,
    now: dt.datetime,
    *,
    lane: Lane = UNKNOWN_LANE,
    enforcement: Mode = Mode.ENFORCE,
    pools: Mapping[str, PoolState] | None = None,
) -> Decision:
    """Decide what ``cs``, in ``lane``, must use. ``enforcement=AUDIT`` (a
    deployment-wide dry run) turns every reassignment into a reported violation.
    ``pools``: the state of pools read so far; a rule with ``pool_health`` whose target is
    not among them gives an ``error`` naming the pool to read (``needs_pool_state``)."""
    try:
        exemption = active_exemption(policy, cs.name, now, lane, cs.tenants)
        rule = matching_rule(policy, cs, lane) if exemption is None else None
    except Undecidable as exc:
        return Decision(Outcome.ERROR, Action.NONE, None, exc.rule_id, _undecided(exc))
    if exemption is not None:
        return Decision(
            Outcome.EXEMPT,
            Action.NONE,
            None,
            None,
            f"exempt until {exemption.expires.isoformat()}: {exemption.reason}",
        )

    target: Rule | DefaultRule
    if rule is not None:
        target, rule_id, mode = rule, rule.id, rule.mode or policy.mode
    elif policy.default is not None:
        target, rule_id = policy.default, DEFAULT_RULE_ID
        mode = policy.default.mode or policy.mode
    else:
        return Decision(Outcome.UNMANAGED, Action.NONE, None, None, "no rule and no default")
    pool = target.pool

    state: PoolState | None = None
    short: list[str] = []
    if target.pool_health is not None:
        state = (pools or {}).get(pool)
        if state is None:
            return Decision(
                Outcome.ERROR,
                Action.NONE,
                pool,
                rule_id,
                f"not decided: the state of pool {pool} (its scaling mode and IPs) was not "
                "read; nothing is changed until it can be",
                needs_pool_state=pool,
            )
        short = pool_shortfalls(target.pool_health, state)
    ready = (
        f"; pool {pool} is not ready ({state.describe()}: {'; '.join(short)})"
        if state and short
        else ""
    )

    changes: dict[str, str] = {}
    wanted = target.shared_pool_delivery_mode
    current_mode = cs.options.get(SHARED_POOL_DELIVERY_MODE)
    if wanted is not None and current_mode != wanted.value:
        changes[SHARED_POOL_DELIVERY_MODE] = wanted.value

    def decided(outcome: Outcome, action: Action, reason: str) -> Decision:
        options = changes if action is Action.REASSIGN else {}
        return Decision(outcome, action, pool, rule_id, reason, options, state)

    if cs.pool == pool and not changes:
        return decided(Outcome.COMPLIANT, Action.NONE, f"on {pool}{ready}")
    wrong = [f"on {cs.pool}, expected {pool}"] if cs.pool != pool else [f"on {pool}"]
    if changes:
        wrong.append(f"{SHARED_POOL_DELIVERY_MODE} {current_mode or 'unset'}, expected {wanted}")
    problem = ", ".join(wrong)
    if mode is Mode.AUDIT or enforcement is Mode.AUDIT:
        why = "rule is in audit mode" if mode is Mode.AUDIT else "deployment is in audit mode"
        return decided(Outcome.VIOLATION, Action.NONE, f"{problem} ({why}){ready}")
    # Only a document that speaks of tenants holds DISABLED ones back: without it, every
    # set is decided as before tenants existed.
    disabled = [t.name for t in cs.tenants or () if t.sending_status == DISABLED]
    if (
        disabled
        and target.disabled_tenants is not DisabledTenants.ENFORCE
        and policy.names_tenants()
    ):
        return decided(
            Outcome.VIOLATION,
            Action.NONE,
            f"{problem}; not moved: its tenant {', '.join(disabled)} is DISABLED (SES stopped "
            "its sending): reported only, unless the rule says disabled_tenants: enforce",
        )
    if short and cs.pool != pool:
        return decided(
            Outcome.ERROR,
            Action.NONE,
            f"not moved: target pool {pool} is not ready ({state.describe() if state else ''}: "
            f"{'; '.join(short)}); on {cs.pool}",
        )
    if cs.pool == pool:
        done = f"{SHARED_POOL_DELIVERY_MODE} changed from {current_mode or 'unset'} to {wanted}"
    else:
        done = f"moved from {cs.pool} to {pool}"
        if changes:
            done += f" with {SHARED_POOL_DELIVERY_MODE} {wanted}"
    return decided(Outcome.REMEDIATED, Action.REASSIGN, done)


def pipeline_of(policy: Policy, rule_id: str | None, *arns: str | None) -> str | None:
    """The IaC principal glob (the rule's list, else the document's) that one of
    ``arns`` (the caller's identity, the role its session came from) matches."""
    rule = next((r for r in policy.rules if r.id == rule_id), None)
    globs = (
        rule.iac_principals
        if rule is not None and rule.iac_principals is not None
        else (policy.iac_principals or [])
    )
    for glob in globs:
        if any(arn and fnmatchcase(arn, glob) for arn in arns):
            return glob
    return None


# --------------------------------------------------------------------------- identities

GLOB_CHARACTERS = frozenset("*?[")
ANY_SET = "any"


def identity_matches(
    match: IdentityMatch,
    identity: Identity,
    lane: Lane = UNKNOWN_LANE,
    *,
    what: str = "the identity rule",
    rule_id: str | None = None,
) -> bool:
    """Identities (domains and addresses) are not case-sensitive; tags are. The scope as
    for sets (``in_scope``)."""
    name = identity.name.lower()
    if match.identities is not None and not any(
        fnmatchcase(name, glob.lower()) for glob in match.identities
    ):
        return False
    if match.tags is not None:
        for key, wanted in match.tags.items():
            if key not in identity.tags or (wanted != ANY_VALUE and identity.tags[key] != wanted):
                return False
    of_tenant = _tenant_matches(match.tenants, identity.tenants)
    if of_tenant is False or not in_scope(match, lane, what, rule_id):
        return False
    if of_tenant is None:
        raise _tenants_unknown(what, rule_id)
    return True


def identity_exemption(
    policy: Policy, identity: Identity, now: dt.datetime, lane: Lane = UNKNOWN_LANE
) -> Exemption | None:
    today = now.astimezone(dt.UTC).date()
    name = identity.name.lower()
    for exemption in policy.exemptions:
        glob = exemption.identity
        if (
            glob is not None
            and today <= exemption.expires
            and fnmatchcase(name, glob.lower())
            and in_scope(exemption, lane, _exemption_name(exemption))
        ) or _tenant_exempt(exemption, identity.tenants, today, lane):
            return exemption
    return None


def matching_identity_rule(
    policy: Policy, identity: Identity, lane: Lane = UNKNOWN_LANE
) -> IdentityRule | None:
    return next(
        (
            rule
            for rule in policy.identities or []
            if identity_matches(
                rule.match, identity, lane, what=f"identity rule {rule.id!r}", rule_id=rule.id
            )
        ),
        None,
    )


def evaluate_identity(
    policy: Policy,
    identity: Identity,
    now: dt.datetime,
    *,
    lane: Lane = UNKNOWN_LANE,
    default_exists: bool = True,
    enforcement: Mode = Mode.ENFORCE,
) -> IdentityDecision:
    """Decide which default configuration set ``identity`` must have.
    ``default_exists``: whether its current default still exists (a deleted set leaves
    its identities naming it, and their mail then fails to send, whatever the policy)."""
    current = identity.configuration_set
    if current is not None and not default_exists:
        return IdentityDecision(
            Outcome.ERROR,
            Action.NONE,
            None,
            None,
            None,
            f"its default configuration set {current} does not exist: mail from it that "
            "names no configuration set fails to send",
        )
    try:
        exemption = identity_exemption(policy, identity, now, lane)
        rule = matching_identity_rule(policy, identity, lane) if exemption is None else None
    except Undecidable as exc:
        return IdentityDecision(
            Outcome.ERROR, Action.NONE, None, None, exc.rule_id, _undecided(exc)
        )
    if exemption is not None:
        reason = f"exempt until {exemption.expires.isoformat()}: {exemption.reason}"
        return IdentityDecision(Outcome.EXEMPT, Action.NONE, None, None, None, reason)
    if rule is None:
        return IdentityDecision(
            Outcome.UNMANAGED, Action.NONE, None, None, None, "no identity rule matches"
        )
    on = f"default configuration set {current}" if current else "no default configuration set"
    if rule.default_configuration_set is not None:
        if current is not None:
            return IdentityDecision(Outcome.COMPLIANT, Action.NONE, ANY_SET, None, rule.id, on)
        return IdentityDecision(
            Outcome.VIOLATION,
            Action.NONE,
            ANY_SET,
            None,
            rule.id,
            "no default configuration set: its mail that names none goes out of "
            "ses-default-dedicated-pool, outside the pool policy (the rule names no one set "
            "to assign: reported, not changed)",
        )
    required = rule.configuration_set
    assert required is not None  # the model requires one of the two
    if GLOB_CHARACTERS & set(required):
        if current is not None and fnmatchcase(current, required):
            return IdentityDecision(Outcome.COMPLIANT, Action.NONE, required, None, rule.id, on)
        return IdentityDecision(
            Outcome.VIOLATION,
            Action.NONE,
            required,
            None,
            rule.id,
            f"{on}, expected one matching {required} (a glob names no one set: reported, "
            "not changed)",
        )
    if current == required:
        return IdentityDecision(Outcome.COMPLIANT, Action.NONE, required, None, rule.id, on)
    mode = rule.mode or policy.mode
    if mode is Mode.AUDIT or enforcement is Mode.AUDIT:
        why = "rule is in audit mode" if mode is Mode.AUDIT else "deployment is in audit mode"
        return IdentityDecision(
            Outcome.VIOLATION,
            Action.NONE,
            required,
            None,
            rule.id,
            f"{on}, expected {required} ({why})",
        )
    # As for sets: only a document that speaks of tenants holds DISABLED ones back.
    disabled = [t.name for t in identity.tenants or () if t.sending_status == DISABLED]
    if disabled and rule.disabled_tenants is not DisabledTenants.ENFORCE and policy.names_tenants():
        return IdentityDecision(
            Outcome.VIOLATION,
            Action.NONE,
            required,
            None,
            rule.id,
            f"{on}, expected {required}; not changed: its tenant {', '.join(disabled)} is "
            "DISABLED (SES stopped its sending): reported only, unless the rule says "
            "disabled_tenants: enforce",
        )
    return IdentityDecision(
        Outcome.REMEDIATED,
        Action.REASSIGN,
        required,
        required,
        rule.id,
        f"default configuration set changed from {current or 'none'} to {required}",
    )
