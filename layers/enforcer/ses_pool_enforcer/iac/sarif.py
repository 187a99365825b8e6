"""Findings as SARIF 2.1.0, the format GitHub code scanning shows on a pull request:
one result per finding, at the line and column of the resource in its file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ses_pool_enforcer.iac.declared import DeclaredIdentity, DeclaredSet
from ses_pool_enforcer.iac.verdict import Check, IdentityVerdict, Verdict

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL = "ses-pool-enforcer"


@dataclass(frozen=True)
class RuleText:
    name: str
    level: str
    short: str
    help: str


RULES = {
    Check.WRONG_POOL: RuleText(
        "ConfigurationSetOnWrongPool",
        "error",
        "The configuration set is on a pool the policy does not allow",
        "Set DeliveryOptions.SendingPoolName (CloudFormation) or "
        "delivery_options.sending_pool_name (Terraform) to the pool the policy requires; "
        "otherwise the enforcer moves the set after every deploy, and the next deploy "
        "moves it back.",
    ),
    Check.UNDEFINED_POOL: RuleText(
        "SendingPoolNotDefined",
        "error",
        "The configuration set names a dedicated IP pool that does not exist",
        "Declare the pool (AWS::SES::DedicatedIpPool, aws_sesv2_dedicated_ip_pool) in a "
        "checked file or create it in the account (checked with --live): SES refuses a "
        "set on a pool that does not exist.",
    ),
    Check.WRONG_DEFAULT_SET: RuleText(
        "IdentityDefaultSetOffPolicy",
        "error",
        "The identity's default configuration set is not the one the policy requires",
        "Set ConfigurationSetAttributes.ConfigurationSetName of the AWS::SES::EmailIdentity "
        "to the set the policy's identity rule requires: mail that names no configuration "
        "set goes out with the identity's default.",
    ),
    Check.UNRESOLVED: RuleText(
        "PoolDecisionUnresolved",
        "warning",
        "The policy's decision depends on a value known only at deploy",
        "Give the value in the template (a Name, a literal pool, literal tags) or pass "
        "--parameter Key=Value, so that the pool can be checked before deploy.",
    ),
    Check.POOL_HEALTH: RuleText(
        "TargetPoolFallsShort",
        "error",
        "The pool the policy requires is declared with another scaling mode",
        "Declare the pool (AWS::SES::DedicatedIpPool's ScalingMode, "
        "aws_sesv2_dedicated_ip_pool's scaling_mode) with the scaling mode the rule's "
        "pool_health requires: the enforcer does not move a set onto a pool that falls "
        "short of it.",
    ),
}


def artifact_uri(source: str, base: Path) -> str:
    """The file relative to ``base`` (the working directory, which code scanning maps
    to the repository root); outside it, an absolute file URI."""
    path = Path(source).resolve()
    try:
        return quote(path.relative_to(base.resolve()).as_posix())
    except ValueError:
        return path.as_uri()


def _location(declared: DeclaredSet | DeclaredIdentity, base: Path) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(declared.source, base)}}
    if declared.position is not None:
        physical["region"] = {
            "startLine": declared.position.line,
            "startColumn": declared.position.column,
        }
    return {"physicalLocation": physical}


def to_sarif(
    verdicts: Iterable[Verdict | IdentityVerdict], *, version: str, base: Path
) -> dict[str, Any]:
    checks = list(RULES)
    results = [
        {
            "ruleId": finding.check.value,
            "ruleIndex": checks.index(finding.check),
            "level": RULES[finding.check].level,
            "message": {"text": f"{verdict.declared.label}: {finding.message}"},
            "locations": [_location(verdict.declared, base)],
        }
        for verdict in verdicts
        for finding in verdict.findings
    ]
    rules = [
        {
            "id": check.value,
            "name": text.name,
            "shortDescription": {"text": text.short},
            "help": {"text": text.help},
            "defaultConfiguration": {"level": text.level},
        }
        for check, text in RULES.items()
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL,
                        "version": version,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
