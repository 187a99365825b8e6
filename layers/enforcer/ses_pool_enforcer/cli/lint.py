"""Lint: what is valid but probably not what the author meant. Pure: no I/O, no clock.

Every warning here is provable: a rule is called shadowed only when every set it could
match is certainly matched first by earlier rules. When in doubt, stay silent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from ses_pool_enforcer.adapters.policy_store import ADVANCED_TIER_BYTES, STANDARD_TIER_BYTES
from ses_pool_enforcer.evaluation import ANY_VALUE, Undecidable, in_scope
from ses_pool_enforcer.model import UNKNOWN_LANE, Lane
from ses_pool_enforcer.policy import Match, Policy, PolicyError, Scope
from ses_pool_enforcer.pools import SPECIAL_POOLS

EXPIRY_HORIZON_DAYS = 14
WILDCARDS = frozenset("*?[")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    message: str
    path: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def schema_findings(error: PolicyError) -> list[Finding]:
    """The validation errors, one per line, each already naming its field path."""
    return [Finding(Severity.ERROR, line) for line in error.errors]


# --------------------------------------------------------------------------- shadowing


def _literal_prefix(glob: str) -> str:
    """The characters before the first wildcard: every name the glob matches starts so."""
    for index, char in enumerate(glob):
        if char in WILDCARDS:
            return glob[:index]
    return glob


def glob_covers(earlier: str, later: str) -> bool:
    """True only if every name ``later`` matches is certainly matched by ``earlier``:
    identical globs; a literal ``later`` that ``earlier`` matches; or ``earlier`` of the
    form ``PREFIX*`` (``*`` itself included) and ``later`` starting with that prefix
    before any wildcard."""
    if earlier == later:
        return True
    if not WILDCARDS.intersection(later):
        return fnmatchcase(later, earlier)
    head = earlier[:-1]
    if earlier.endswith("*") and not WILDCARDS.intersection(head):
        return _literal_prefix(later).startswith(head)
    return False


def tags_implied(earlier: Mapping[str, str] | None, later: Mapping[str, str] | None) -> bool:
    """True if every set satisfying ``later``'s tag conditions satisfies ``earlier``'s."""
    if not earlier:
        return True
    if later is None:
        return False
    return all(
        key in later and (wanted == ANY_VALUE or later[key] == wanted)
        for key, wanted in earlier.items()
    )


def scope_implied(earlier: Scope, later: Scope) -> bool:
    """True if every lane inside ``later``'s scope is certainly inside ``earlier``'s: each
    key ``earlier`` gives, ``later`` gives too, within it. (An OU of ``later`` below one of
    ``earlier``'s would also be inside, but that takes the organization to know.)"""
    if earlier.accounts is not None and not (
        later.accounts is not None and set(later.accounts) <= set(earlier.accounts)
    ):
        return False
    if earlier.organizational_units is not None and not (
        later.organizational_units is not None
        and set(later.organizational_units) <= set(earlier.organizational_units)
    ):
        return False
    return earlier.regions is None or (
        later.regions is not None
        and all(any(glob_covers(e, g) for e in earlier.regions) for g in later.regions)
    )


def covers(earlier: Match, later: Match, glob: str | None) -> bool:
    """Does ``earlier`` match every set that ``later`` matches through ``glob`` (one of
    its names, or None when ``later`` has no names), in every lane ``later`` applies in?"""
    if not tags_implied(earlier.tags, later.tags) or not scope_implied(earlier, later):
        return False
    if earlier.names is None:
        return True
    # A rule without names matches every name, as the glob "*" does.
    return any(glob_covers(e, glob or "*") for e in earlier.names)


def shadowed_rules(policy: Policy) -> list[Finding]:
    findings: list[Finding] = []
    for index, rule in enumerate(policy.rules):
        earlier = list(enumerate(policy.rules[:index]))
        globs: list[str | None] = list(rule.match.names) if rule.match.names else [None]
        first_cover = [
            next((i for i, e in earlier if covers(e.match, rule.match, glob)), None)
            for glob in globs
        ]
        if all(i is not None for i in first_cover):
            by = sorted({i for i in first_cover if i is not None})
            names = ", ".join(f"rules[{i}] ({policy.rules[i].id})" for i in by)
            findings.append(
                Finding(
                    Severity.WARNING,
                    f"rule {rule.id!r} can never apply: every set it matches is matched "
                    f"first by {names}",
                    f"rules[{index}]",
                )
            )
            continue
        for k, (glob, i) in enumerate(zip(globs, first_cover, strict=True)):
            if i is not None:
                findings.append(
                    Finding(
                        Severity.WARNING,
                        f"{glob!r} can never decide: every set it matches is matched first by "
                        f"rules[{i}] ({policy.rules[i].id})",
                        f"rules[{index}].match.names[{k}]",
                    )
                )
    return findings


# --------------------------------------------------------------------------- dates, size


def exemption_findings(
    policy: Policy, today: dt.date, horizon_days: int = EXPIRY_HORIZON_DAYS
) -> list[Finding]:
    findings: list[Finding] = []
    for index, exemption in enumerate(policy.exemptions):
        left = (exemption.expires - today).days
        where = f"exemptions[{index}]"
        glob = exemption.configuration_set or exemption.identity
        if left < 0:
            message = f"{glob!r} expired on {exemption.expires}: it no longer applies"
        elif left == 0:
            message = f"{glob!r} expires today ({exemption.expires} is its last day)"
        elif left <= horizon_days:
            message = f"{glob!r} expires in {left} day{'s' * (left > 1)} ({exemption.expires})"
        else:
            continue
        findings.append(Finding(Severity.WARNING, message, where))
    return findings


def document_size(policy: Policy) -> int:
    """Bytes of the canonical JSON that SSM stores."""
    return len(policy.to_json().encode())


def tier(size: int) -> str:
    """The SSM parameter tier a document of ``size`` bytes needs."""
    if size <= STANDARD_TIER_BYTES:
        return "standard"
    return "advanced" if size <= ADVANCED_TIER_BYTES else "too large for SSM"


def size_findings(policy: Policy) -> list[Finding]:
    size = document_size(policy)
    if size > ADVANCED_TIER_BYTES:
        return [
            Finding(
                Severity.ERROR,
                f"the document is {size} bytes as stored (canonical JSON); an SSM parameter "
                f"holds at most {ADVANCED_TIER_BYTES}",
            )
        ]
    if size > STANDARD_TIER_BYTES:
        return [
            Finding(
                Severity.WARNING,
                f"the document is {size} bytes as stored (canonical JSON), over the "
                f"{STANDARD_TIER_BYTES}-byte standard tier: it needs an advanced parameter "
                "(charged monthly; a parameter cannot go back to standard)",
            )
        ]
    return []


def lint(policy: Policy, today: dt.date) -> list[Finding]:
    """Everything that can be said without looking at the account."""
    return [
        *mode_findings(policy),
        *shadowed_rules(policy),
        *exemption_findings(policy, today),
        *size_findings(policy),
    ]


def mode_findings(policy: Policy) -> list[Finding]:
    """``mode`` left out: audit, so the rules without a mode of their own never move a set."""
    if "mode" in policy.model_fields_set:
        return []
    silent = [f"rule {r.id}" for r in policy.rules if r.mode is None]
    if policy.default is not None and policy.default.mode is None:
        silent.append("the default")
    if not silent:
        return []
    every = len(silent) == len(policy.rules) + (policy.default is not None)
    named = ", ".join(silent[:3]) + (f" and {len(silent) - 3} more" if len(silent) > 3 else "")
    return [
        Finding(
            Severity.WARNING,
            "not set, so it is audit: "
            f"{'every rule' if every and len(silent) > 1 else named} will report sets on the "
            "wrong pool and never move one; write 'mode: enforce' to enforce (or "
            "'mode: audit' to say so)",
            "mode",
        )
    ]


# --------------------------------------------------------------------------- the account


def live_findings(
    policy: Policy,
    set_names: Collection[str],
    dedicated_pools: Collection[str],
    identities: Collection[str] = (),
    lane: Lane = UNKNOWN_LANE,
) -> list[Finding]:
    """Globs that match no existing set or identity; dedicated pools that do not exist.
    A rule or exemption scoped away from ``lane`` (another account or region) is not
    checked against this account's sets and pools: they are not its."""
    findings: list[Finding] = []

    def elsewhere(scope: Scope) -> bool:
        try:
            return not in_scope(scope, lane, "")
        except Undecidable:
            return False

    folded = [identity.lower() for identity in identities]

    def unmatched(glob: str, where: str) -> None:
        if not any(fnmatchcase(name, glob) for name in set_names):
            findings.append(
                Finding(Severity.WARNING, f"{glob!r} matches no configuration set", where)
            )

    def no_identity(glob: str, where: str) -> None:
        if not any(fnmatchcase(name, glob.lower()) for name in folded):
            findings.append(Finding(Severity.WARNING, f"{glob!r} matches no identity", where))

    def missing(pool: str, where: str, what: str) -> None:
        if pool not in SPECIAL_POOLS and pool not in dedicated_pools:
            findings.append(
                Finding(
                    Severity.WARNING,
                    f"dedicated pool {pool!r} does not exist: {what} would be reported as "
                    "errors, not moved",
                    where,
                )
            )

    for index, rule in enumerate(policy.rules):
        if elsewhere(rule.match):
            continue
        for k, glob in enumerate(rule.match.names or ()):
            unmatched(glob, f"rules[{index}].match.names[{k}]")
        missing(rule.pool, f"rules[{index}].pool", "the sets it matches")
    if policy.default is not None:
        missing(policy.default.pool, "default.pool", "sets that match no rule")
    for index, identity_rule in enumerate(policy.identities or []):
        if elsewhere(identity_rule.match):
            continue
        for k, glob in enumerate(identity_rule.match.identities or ()):
            no_identity(glob, f"identities[{index}].match.identities[{k}]")
        if identity_rule.configuration_set is not None:
            unmatched(identity_rule.configuration_set, f"identities[{index}].configuration_set")
    for index, exemption in enumerate(policy.exemptions):
        if elsewhere(exemption):
            continue
        if exemption.configuration_set is not None:
            unmatched(exemption.configuration_set, f"exemptions[{index}].configuration_set")
        if exemption.identity is not None:
            no_identity(exemption.identity, f"exemptions[{index}].identity")
    return findings


def missing_pool_findings(
    policy: Policy, dedicated_pools: Collection[str], lane: Lane = UNKNOWN_LANE
) -> list[Finding]:
    """Of :func:`live_findings`, the dedicated pools the policy names that do not exist."""
    found = live_findings(policy, (), dedicated_pools, (), lane)
    return [f for f in found if (f.path or "").endswith(".pool")]
