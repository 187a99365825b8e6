"""A declared set judged before deploy, by the enforcer's own ``evaluate``.

What a file cannot tell (a generated name, a tag or pool known only at deploy) is
decided only when the policy's answer does not depend on it; otherwise the set is
reported as unresolved, never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from ses_pool_enforcer.evaluation import (
    ANY_SET,
    Undecidable,
    evaluate,
    evaluate_identity,
    in_scope,
    matches,
    pool_shortfalls,
)
from ses_pool_enforcer.iac.declared import DeclaredIdentity, DeclaredSet, Unresolved
from ses_pool_enforcer.iac.patterns import every_match, has_hole, shown, some_match
from ses_pool_enforcer.model import (
    UNKNOWN_LANE,
    ConfigurationSet,
    Decision,
    Identity,
    IdentityDecision,
    Lane,
    Outcome,
    PoolState,
    Tenant,
)
from ses_pool_enforcer.policy import Match, Policy, Rule, Scope
from ses_pool_enforcer.pools import SPECIAL_POOLS

NO_POOL = ""  # stands for a pool the file does not decide: equal to no pool name


class Check(StrEnum):
    """What can be wrong with a declared set: the SARIF rules."""

    WRONG_POOL = "wrong-pool"
    UNDEFINED_POOL = "undefined-pool"
    UNRESOLVED = "unresolved"
    WRONG_DEFAULT_SET = "wrong-default-set"
    POOL_HEALTH = "pool-health"


@dataclass(frozen=True)
class Finding:
    check: Check
    message: str


@dataclass(frozen=True)
class Verdict:
    declared: DeclaredSet
    decision: Decision | None
    """``evaluate``'s decision; None when it depends on what the file does not decide."""
    findings: tuple[Finding, ...]

    @property
    def result(self) -> str:
        """The first finding's check, else the decision's outcome (compliant, exempt,
        unmanaged)."""
        if self.findings:
            return self.findings[0].check.value
        assert self.decision is not None
        return self.decision.outcome.value


@dataclass(frozen=True)
class IdentityVerdict:
    declared: DeclaredIdentity
    decision: IdentityDecision | None
    findings: tuple[Finding, ...]

    @property
    def result(self) -> str:
        if self.findings:
            return self.findings[0].check.value
        assert self.decision is not None
        return self.decision.outcome.value


def judge_identity(
    policy: Policy, declared: DeclaredIdentity, now: dt.datetime, lane: Lane = UNKNOWN_LANE
) -> IdentityVerdict:
    """An identity's default set judged by the policy's ``identities`` rules, by the
    enforcer's own ``evaluate_identity``; unresolved when the answer depends on what the
    file leaves to the deploy."""
    if isinstance(declared.name, Unresolved):
        why = f"identity unknown ({declared.name.reason}); an identity rule may match"
        return IdentityVerdict(declared, None, (Finding(Check.UNRESOLVED, why),))
    current = declared.configuration_set
    decision = evaluate_identity(
        policy,
        Identity(declared.name, UNKNOWN_SET if isinstance(current, Unresolved) else current),
        now,
        lane=lane,
    )
    if decision.outcome is Outcome.ERROR:
        hint = "; pass --account and --region to judge it where it will be deployed"
        return IdentityVerdict(declared, None, (Finding(Check.UNRESOLVED, decision.reason + hint),))
    depends = decision.outcome not in (Outcome.EXEMPT, Outcome.UNMANAGED) and (
        decision.required != ANY_SET
    )
    if isinstance(current, Unresolved) and depends:
        why = (
            f"default configuration set unknown ({current.reason}); the policy requires "
            f"{decision.required} (identity rule {decision.rule_id})"
        )
        return IdentityVerdict(declared, None, (Finding(Check.UNRESOLVED, why),))
    findings: tuple[Finding, ...] = ()
    if decision.outcome in (Outcome.REMEDIATED, Outcome.VIOLATION):
        on = f"default configuration set {current}" if current else "no default configuration set"
        required = decision.required if decision.required != ANY_SET else "one"
        message = f"{on}; the policy requires {required} (identity rule {decision.rule_id})"
        findings = (Finding(Check.WRONG_DEFAULT_SET, message),)
    return IdentityVerdict(declared, decision, findings)


UNKNOWN_SET = "\ue000configuration set\ue001"
"""Stands for a default set the file does not decide (matched by no set name)."""


def judge(
    policy: Policy,
    declared: DeclaredSet,
    defined_pools: Collection[str],
    now: dt.datetime,
    *,
    account_checked: bool = False,
    lane: Lane = UNKNOWN_LANE,
    pool_modes: Mapping[str, str] | None = None,
    live_pools: Mapping[str, PoolState] | None = None,
) -> Verdict:
    """``defined_pools``: those the checked files declare, and the account's if
    ``account_checked``; ``live_pools``: the state of the account's pools as read
    (``check --live``), whose IPs and warm-up are judged too; ``lane``: the account and
    region the set is bound for, as far as the caller knows them (a rule scoped by what
    it does not know leaves the set unresolved). A set the file leaves a choice open for
    is judged once per choice: the verdict stands when every choice gives it, else the
    set is unresolved and the choices that disagree are named."""
    if not declared.alternatives:
        return _with_condition(
            _judge(
                policy, declared, defined_pools, now, account_checked, lane, pool_modes, live_pools
            )
        )
    judged = [
        (
            alternative.assumption,
            _judge(
                policy,
                replace(
                    declared,
                    name=alternative.name,
                    pool=alternative.pool,
                    tags=alternative.tags,
                    alternatives=(),
                ),
                defined_pools,
                now,
                account_checked,
                lane,
                pool_modes,
                live_pools,
            ),
        )
        for alternative in declared.alternatives
    ]
    outcomes = {_outcome(verdict) for _, verdict in judged}
    when: dict[Finding, list[str]] = {}
    for assumption, verdict in judged:
        for finding in verdict.findings:
            if finding.check is not Check.UNRESOLVED or len(outcomes) == 1:
                when.setdefault(finding, []).append(assumption)
    findings = [
        finding
        if len(assumptions) == len(judged)
        else replace(finding, message=f"{finding.message} (when {' or '.join(assumptions)})")
        for finding, assumptions in when.items()
    ]
    if len(outcomes) == 1:
        first = judged[0][1]
        return _with_condition(Verdict(declared, first.decision, tuple(findings)))
    disagree = "; ".join(
        f"{assumption}: {_outcome_text(verdict)}" for assumption, verdict in judged
    )
    unresolved = Finding(Check.UNRESOLVED, f"the verdict depends on the parameters: {disagree}")
    return _with_condition(
        Verdict(
            declared,
            None,
            (unresolved, *(f for f in findings if f.check is not Check.WRONG_POOL)),
        )
    )


def _outcome(verdict: Verdict) -> tuple[str, str | None, str | None]:
    decision = verdict.decision
    return (
        verdict.result,
        decision.expected_pool if decision else None,
        decision.rule_id if decision else None,
    )


def _outcome_text(verdict: Verdict) -> str:
    if verdict.findings:
        return f"{verdict.findings[0].check.value} ({verdict.findings[0].message})"
    assert verdict.decision is not None
    return f"{verdict.result} (on {verdict.declared.pool})"


def _with_condition(verdict: Verdict) -> Verdict:
    """Each finding on a resource with a Condition says so: it holds when the set exists;
    and a finding that a parameter's Default decided says which."""
    condition, defaults = verdict.declared.condition, verdict.declared.defaults
    if (condition is None and defaults is None) or not verdict.findings:
        return verdict
    note = ""
    if defaults is not None:
        note += f" (conditions decided by the Default {defaults}: pass --parameter to judge others)"
    if condition is not None:
        note += f" (the resource has Condition {condition}: created only when it is true)"
    return replace(
        verdict, findings=tuple(replace(f, message=f.message + note) for f in verdict.findings)
    )


def _judge(
    policy: Policy,
    declared: DeclaredSet,
    defined_pools: Collection[str],
    now: dt.datetime,
    account_checked: bool,
    lane: Lane,
    pool_modes: Mapping[str, str] | None = None,
    live_pools: Mapping[str, PoolState] | None = None,
) -> Verdict:
    findings: list[Finding] = []
    pool = declared.pool
    if isinstance(pool, str) and pool not in SPECIAL_POOLS and pool not in defined_pools:
        where = (
            "neither in the checked files nor in the account"
            if account_checked
            else "in none of the checked files (--live also looks in the account)"
        )
        findings.append(Finding(Check.UNDEFINED_POOL, f"pool {pool} is declared {where}"))
    unknown = depends_on_unknown(policy, declared.name, declared.tags, now, lane)
    if unknown is not None:
        return Verdict(declared, None, (Finding(Check.UNRESOLVED, unknown), *findings))
    cs = ConfigurationSet(
        name=declared.name if isinstance(declared.name, str) else declared.resource,
        pool=pool if isinstance(pool, str) else NO_POOL,
        tags=declared.tags if not isinstance(declared.tags, Unresolved) else {},
        # As the files associate it; before deploy no tenant is known DISABLED.
        tenants=None
        if declared.tenants is None
        else tuple(Tenant(name) for name in declared.tenants),
    )
    decision = evaluate(policy, cs, now, lane=lane)
    target = decision.needs_pool_state
    if target is not None:
        # Before deploy a pool is its declared scaling mode at most: its IPs come later,
        # unless --live read the pool in the account (the template's mode still wins).
        live = (live_pools or {}).get(target)
        mode = (pool_modes or {}).get(target, live.scaling_mode if live else None)
        state = PoolState(target, mode, live.ips if live else None)
        decision = evaluate(policy, cs, now, lane=lane, pools={target: state})
        rule = next((r for r in policy.rules if r.id == decision.rule_id), policy.default)
        short = pool_shortfalls(rule.pool_health, state) if rule and rule.pool_health else []
        if short:  # the template's own pool, whether or not the set is already on it
            said = "is, in the account," if live else "is declared"
            why = f"pool {target} {said} {state.describe()}: {'; '.join(short)}"
            findings.insert(0, Finding(Check.POOL_HEALTH, f"{why} (rule {decision.rule_id})"))
            return Verdict(declared, decision, tuple(findings))
    if decision.outcome is Outcome.ERROR:  # a scoped rule the lane does not decide
        hint = "; pass --account and --region to judge it where it will be deployed"
        return Verdict(
            declared, None, (Finding(Check.UNRESOLVED, decision.reason + hint), *findings)
        )
    if decision.outcome in (Outcome.REMEDIATED, Outcome.VIOLATION):
        findings.insert(0, _off_policy(declared, decision))
    return Verdict(declared, decision, tuple(findings))


def _off_policy(declared: DeclaredSet, decision: Decision) -> Finding:
    audit = ", audit mode: reported, not moved" if decision.outcome is Outcome.VIOLATION else ""
    required = f"the policy requires {decision.expected_pool} (rule {decision.rule_id}{audit})"
    if isinstance(declared.pool, Unresolved):
        return Finding(Check.UNRESOLVED, f"pool unknown ({declared.pool.reason}); {required}")
    if declared.fixed_pool is not None:
        return Finding(Check.WRONG_POOL, f"{declared.fixed_pool}; {required}")
    fight = (
        ""
        if audit
        else "; deployed as written, the enforcer would move it and the next deploy move it back"
    )
    return Finding(Check.WRONG_POOL, f"on {declared.pool}; {required}{fight}")


def depends_on_unknown(
    policy: Policy,
    name: str | Unresolved,
    tags: Mapping[str, str] | Unresolved,
    now: dt.datetime,
    lane: Lane = UNKNOWN_LANE,
) -> str | None:
    """Why ``evaluate``'s answer depends on a name or tags the file does not decide, or
    None when it does not: every exemption and rule before the deciding one is known
    not to match, and the deciding one is known to. Exemptions and rules scoped away
    from ``lane`` are known not to match."""
    today = now.astimezone(dt.UTC).date()
    if isinstance(name, Unresolved) and any(
        today <= e.expires and _may_apply(e, lane) for e in policy.exemptions
    ):
        return f"name unknown ({name.reason}); an exemption may cover it"
    if isinstance(name, str) and has_hole(name):
        for exemption in policy.exemptions:
            glob = exemption.configuration_set
            if glob is None or today > exemption.expires or not _may_apply(exemption, lane):
                continue
            if some_match(name, glob) and not every_match(name, glob):
                return (
                    f"name {shown(name)} is known at deploy; the exemption for {glob!r} "
                    "covers some of its values"
                )
    for rule in policy.rules:
        if not _may_apply(rule.match, lane):
            continue
        by_name, by_tags = _by_name(rule, name), _by_tags(rule, tags)
        if by_name is False or by_tags is False:
            continue
        if isinstance(by_name, Unresolved):
            return f"name unknown ({by_name.reason}); rule {rule.id} may match"
        if isinstance(by_tags, Unresolved):
            return f"tags unknown ({by_tags.reason}); rule {rule.id} may match"
        return None  # this rule decides, whatever the file leaves open
    return None


def _may_apply(scope: Scope, lane: Lane) -> bool:
    """False only when ``lane`` is known to be outside ``scope``."""
    try:
        return in_scope(scope, lane, "")
    except Undecidable:
        return True


def _by_name(rule: Rule, name: str | Unresolved) -> bool | Unresolved:
    """Whether the rule's globs match: True without globs, the Unresolved if unknown."""
    if rule.match.names is None:
        return True
    if isinstance(name, Unresolved):
        return name
    if has_hole(name):
        if any(every_match(name, glob) for glob in rule.match.names):
            return True
        if not any(some_match(name, glob) for glob in rule.match.names):
            return False
        return Unresolved(
            f"{shown(name)} is known at deploy, and some of its values match "
            f"{', '.join(rule.match.names)}"
        )
    return matches(Match(names=rule.match.names), name, {})


def _by_tags(rule: Rule, tags: Mapping[str, str] | Unresolved) -> bool | Unresolved:
    if rule.match.tags is None:
        return True
    if isinstance(tags, Unresolved):
        return tags
    return matches(Match(tags=rule.match.tags), "", tags)
