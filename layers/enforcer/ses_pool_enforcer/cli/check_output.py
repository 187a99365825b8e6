"""`check`'s output: a table for people and JSON for scripts (SARIF and JUnit: ``iac``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ses_pool_enforcer.cli.output import table
from ses_pool_enforcer.iac.declared import DeclaredIdentity, DeclaredSet, Scan, Unresolved
from ses_pool_enforcer.iac.patterns import shown
from ses_pool_enforcer.iac.verdict import IdentityVerdict, Verdict
from ses_pool_enforcer.model import Decision

UNKNOWN = "?"
NONE = "-"


def where(declared: DeclaredSet | DeclaredIdentity) -> str:
    """``template.yaml:12:3``, as compilers and linters write it."""
    if declared.position is None:
        return declared.source
    return f"{declared.source}:{declared.position.line}:{declared.position.column}"


def summary(verdicts: Sequence[Verdict], scans: Sequence[Scan]) -> str:
    files = _plural(len(scans), "file")
    counts = Counter(v.result for v in verdicts)
    with_findings = sum(1 for v in verdicts if v.findings)
    parts = ", ".join(f"{n} {result}" for result, n in sorted(counts.items()))
    verdict = f"{with_findings} with findings" if with_findings else "all comply"
    return f"{_plural(len(verdicts), 'configuration set')} in {files}: {parts}; {verdict}."


def nothing_to_check(scans: Sequence[Scan]) -> str:
    files = ", ".join(s.source for s in scans)
    if any(s.notes for s in scans):
        return f"No SES configuration set judged in {files}, but some were not checked"
    return "Nothing to check: no SES configuration set in " + files


def not_checked(scans: Sequence[Scan]) -> str:
    """What the files declare that was not checked, one line each; empty if nothing."""
    notes = [f"{s.source}: {note}\n" for s in scans for note in s.notes]
    return f"Not checked ({len(notes)}):\n" + "".join(notes) if notes else ""


def to_table(
    verdicts: Sequence[Verdict],
    scans: Sequence[Scan],
    policy_source: str,
    identities: Sequence[IdentityVerdict] = (),
) -> str:
    if not verdicts and not identities:
        return "\n".join(filter(None, [nothing_to_check(scans) + ".\n", not_checked(scans)]))
    rows = [
        [
            where(v.declared),
            v.declared.resource,
            _cell(v.declared.name),
            _cell(v.declared.pool),
            (v.decision.expected_pool if v.decision else None) or NONE,
            (v.decision.rule_id if v.decision else None) or NONE,
            v.result,
        ]
        for v in verdicts
    ]
    parts = [f"Checked against {policy_source}.\n"]
    if rows:
        parts.append(
            table(["location", "resource", "set", "pool", "required", "rule", "result"], rows)
        )
    if identities:
        parts.append(
            table(
                ["location", "resource", "identity", "default set", "required", "rule", "result"],
                [
                    [
                        where(v.declared),
                        v.declared.resource,
                        _cell(v.declared.name),
                        _cell(v.declared.configuration_set or NONE),
                        (v.decision.required if v.decision else None) or NONE,
                        (v.decision.rule_id if v.decision else None) or NONE,
                        v.result,
                    ]
                    for v in identities
                ],
            )
        )
    findings = [
        f"{where(v.declared)}: {f.check.value}: {v.declared.label}: {f.message}\n"
        for v in _judged(verdicts, identities)
        for f in v.findings
    ]
    if findings:
        parts.append(f"Findings ({len(findings)}):\n" + "".join(findings))
    if not_checked(scans):
        parts.append(not_checked(scans))
    if verdicts:
        parts.append(summary(verdicts, scans) + "\n")
    if identities:
        counts = Counter(v.result for v in identities)
        judged = ", ".join(f"{n} {result}" for result, n in sorted(counts.items()))
        parts.append(f"{_plural(len(identities), 'identity', 'identities')}: {judged}.\n")
    return "\n".join(parts)


def to_document(
    verdicts: Sequence[Verdict],
    scans: Sequence[Scan],
    policy_source: str,
    identities: Sequence[IdentityVerdict] = (),
) -> dict[str, Any]:
    return {
        "identities": [
            {
                "file": v.declared.source,
                "line": v.declared.position.line if v.declared.position else None,
                "resource": v.declared.resource,
                "identity": _known(v.declared.name),
                "default_configuration_set": _known(v.declared.configuration_set)
                if v.declared.configuration_set is not None
                else None,
                "required": v.decision.required if v.decision else None,
                "rule_id": v.decision.rule_id if v.decision else None,
                "result": v.result,
                "findings": [{"check": f.check.value, "message": f.message} for f in v.findings],
            }
            for v in identities
        ],
        "policy": policy_source,
        "files": [
            {
                "path": s.source,
                "kind": s.kind,
                "configuration_sets": len(s.sets),
                "pools": sorted(s.pools),
                "not_checked": list(s.notes),
            }
            for s in scans
        ],
        "configuration_sets": [_entry(v) for v in verdicts],
        "summary": {
            "configuration_sets": len(verdicts),
            "with_findings": sum(1 for v in verdicts if v.findings),
            "results": dict(sorted(Counter(v.result for v in verdicts).items())),
        },
    }


def _entry(verdict: Verdict) -> dict[str, Any]:
    declared, decision = verdict.declared, verdict.decision
    return {
        "file": declared.source,
        "line": declared.position.line if declared.position else None,
        "column": declared.position.column if declared.position else None,
        "resource": declared.resource,
        "construct": declared.construct,
        "name": _known(declared.name),
        "pool": _known(declared.pool),
        "tags": None if isinstance(declared.tags, Unresolved) else dict(declared.tags),
        "unresolved": {
            field: value.reason
            for field, value in (
                ("name", declared.name),
                ("pool", declared.pool),
                ("tags", declared.tags),
            )
            if isinstance(value, Unresolved)
        },
        "condition": declared.condition,
        # Only where a file associates the set with tenants (AWS::SES::Tenant).
        **({"tenants": list(declared.tenants)} if declared.tenants is not None else {}),
        "alternatives": [
            {
                "when": a.assumption,
                "name": _known(a.name),
                "pool": _known(a.pool),
                "tags": None if isinstance(a.tags, Unresolved) else dict(a.tags),
            }
            for a in declared.alternatives
        ],
        "outcome": decision.outcome.value if decision else None,
        "expected_pool": decision.expected_pool if decision else None,
        "rule_id": decision.rule_id if decision else None,
        "reason": decision.reason if decision else None,
        # The target pool's state as judged, only where a rule asks its health.
        **_pool_state(decision),
        "result": verdict.result,
        "findings": [{"check": f.check.value, "message": f.message} for f in verdict.findings],
    }


def _pool_state(decision: Decision | None) -> dict[str, Any]:
    state = decision.pool_state if decision else None
    if state is None:
        return {}
    known = {
        "scaling_mode": state.scaling_mode,
        "ips": None if state.ips is None else len(state.ips),
        "coldest_warmup_percent": state.coldest(),
    }
    shown = {k: v for k, v in known.items() if v is not None}
    return {"target_pool_state": shown} if shown else {}


def _judged(
    verdicts: Sequence[Verdict], identities: Sequence[IdentityVerdict]
) -> list[Verdict | IdentityVerdict]:
    return [*verdicts, *identities]


def _cell(value: str | Unresolved) -> str:
    return UNKNOWN if isinstance(value, Unresolved) else shown(value)


def _known(value: str | Unresolved) -> str | None:
    return None if isinstance(value, Unresolved) else shown(value)


def _plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
