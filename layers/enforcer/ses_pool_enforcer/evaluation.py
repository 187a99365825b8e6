"""The decision for one set: ``evaluate(policy, configuration_set, now) -> Decision``.

Pure: no boto3, no I/O, no clock. Order: exemptions, then rules (first match wins),
then the default; a set that reaches none of them is unmanaged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from fnmatch import fnmatchcase

from ses_pool_enforcer.model import (
    Action,
    ConfigurationSet,
    Decision,
    Identity,
    IdentityDecision,
    Outcome,
)
from ses_pool_enforcer.policy import (
    Exemption,
    IdentityMatch,
    IdentityRule,
    Match,
    Mode,
    Policy,
    Rule,
)

ANY_VALUE = "*"
DEFAULT_RULE_ID = "default"


def matches(match: Match, name: str, tags: Mapping[str, str]) -> bool:
    if match.names is not None and not any(fnmatchcase(name, glob) for glob in match.names):
        return False
    if match.tags is not None:
        for key, wanted in match.tags.items():
            if key not in tags or (wanted != ANY_VALUE and tags[key] != wanted):
                return False
    return True


def active_exemption(policy: Policy, name: str, now: dt.datetime) -> Exemption | None:
    """The first exemption that covers ``name`` on ``now``'s UTC date, expiry day included."""
    today = now.astimezone(dt.UTC).date()
    for exemption in policy.exemptions:
        glob = exemption.configuration_set
        if glob is not None and today <= exemption.expires and fnmatchcase(name, glob):
            return exemption
    return None


def matching_rule(policy: Policy, cs: ConfigurationSet) -> Rule | None:
    return next((rule for rule in policy.rules if matches(rule.match, cs.name, cs.tags)), None)


def evaluate(
    policy: Policy,
    cs: ConfigurationSet,
    now: dt.datetime,
    *,
    enforcement: Mode = Mode.ENFORCE,
) -> Decision:
    """Decide what ``cs`` must use. ``enforcement=AUDIT`` (a deployment-wide dry run)
    turns every reassignment into a reported violation."""
    exemption = active_exemption(policy, cs.name, now)
    if exemption is not None:
        return Decision(
            Outcome.EXEMPT,
            Action.NONE,
            None,
            None,
            f"exempt until {exemption.expires.isoformat()}: {exemption.reason}",
        )

    rule = matching_rule(policy, cs)
    if rule is not None:
        rule_id, pool, mode = rule.id, rule.pool, rule.mode or policy.mode
    elif policy.default is not None:
        rule_id, pool = DEFAULT_RULE_ID, policy.default.pool
        mode = policy.default.mode or policy.mode
    else:
        return Decision(Outcome.UNMANAGED, Action.NONE, None, None, "no rule and no default")

    if cs.pool == pool:
        return Decision(Outcome.COMPLIANT, Action.NONE, pool, rule_id, f"on {pool}")
    if mode is Mode.AUDIT or enforcement is Mode.AUDIT:
        why = "rule is in audit mode" if mode is Mode.AUDIT else "deployment is in audit mode"
        return Decision(
            Outcome.VIOLATION, Action.NONE, pool, rule_id, f"on {cs.pool}, expected {pool} ({why})"
        )
    return Decision(
        Outcome.REMEDIATED, Action.REASSIGN, pool, rule_id, f"moved from {cs.pool} to {pool}"
    )


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


def identity_matches(match: IdentityMatch, identity: Identity) -> bool:
    """Identities (domains and addresses) are not case-sensitive; tags are."""
    name = identity.name.lower()
    if match.identities is not None and not any(
        fnmatchcase(name, glob.lower()) for glob in match.identities
    ):
        return False
    if match.tags is not None:
        for key, wanted in match.tags.items():
            if key not in identity.tags or (wanted != ANY_VALUE and identity.tags[key] != wanted):
                return False
    return True


def identity_exemption(policy: Policy, identity: Identity, now: dt.datetime) -> Exemption | None:
    today = now.astimezone(dt.UTC).date()
    name = identity.name.lower()
    for exemption in policy.exemptions:
        glob = exemption.identity
        if glob is not None and today <= exemption.expires and fnmatchcase(name, glob.lower()):
            return exemption
    return None


def matching_identity_rule(policy: Policy, identity: Identity) -> IdentityRule | None:
    return next(
        (rule for rule in policy.identities or [] if identity_matches(rule.match, identity)),
        None,
    )


def evaluate_identity(
    policy: Policy,
    identity: Identity,
    now: dt.datetime,
    *,
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
    exemption = identity_exemption(policy, identity, now)
    if exemption is not None:
        reason = f"exempt until {exemption.expires.isoformat()}: {exemption.reason}"
        return IdentityDecision(Outcome.EXEMPT, Action.NONE, None, None, None, reason)
    rule = matching_identity_rule(policy, identity)
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
    return IdentityDecision(
        Outcome.REMEDIATED,
        Action.REASSIGN,
        required,
        required,
        rule.id,
        f"default configuration set changed from {current or 'none'} to {required}",
    )
