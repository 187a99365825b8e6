"""Policy tests: cases that pin what a policy decides for given sets, as ``conftest
verify`` and ``cfn-guard test`` do for theirs. Pure: no boto3, no I/O, no clock.

A cases file, YAML or JSON::

    policy: policy.yaml            # optional: relative to this file; --policy overrides
    cases:
      - name: receipts are only reported   # optional
        set: {name: tx-password-reset, pool: marketing, tags: {team: payments}}
        expect: {outcome: violation, rule: receipts, pool: transactional}
        date: 2027-06-01           # optional: judge as of this UTC day (exemptions expire)

Every model forbids unknown keys. New optional fields (a set's ``account`` and
``region``, once policies can scope by them) are added without breaking a file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ses_pool_enforcer import documents
from ses_pool_enforcer.evaluation import evaluate
from ses_pool_enforcer.model import ConfigurationSet, Decision, Lane
from ses_pool_enforcer.policy import POOL_NAME_PATTERN, Policy, describe_errors
from ses_pool_enforcer.pools import normalise_pool

Name = Annotated[str, StringConstraints(min_length=1)]
PoolName = Annotated[str, StringConstraints(pattern=POOL_NAME_PATTERN)]
# error: the policy cannot decide the set (a rule scoped by what the case does not give).
ExpectedOutcome = Literal["compliant", "remediated", "violation", "exempt", "unmanaged", "error"]
NOON = dt.time(12, tzinfo=dt.UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseSet(_Strict):
    """The configuration set as ``GetConfigurationSet`` would show it."""

    name: Name
    tags: dict[Name, str] = Field(default_factory=dict)
    pool: PoolName | None = Field(
        default=None, description="Its pool now; absent means no pool (the default pool)."
    )
    # Where it lives, for rules scoped by accounts, organizational_units or regions; what
    # a scoped rule needs and the case does not give leaves the set undecided (error).
    account: Name | None = None
    region: Name | None = None
    organizational_units: list[Name] | None = Field(
        default=None, description="Every OU above the set's account, and the root's id."
    )


class Expectation(_Strict):
    outcome: ExpectedOutcome
    rule: Name | None = Field(default=None, description="The deciding rule's id, or 'default'.")
    pool: PoolName | None = Field(default=None, description="The pool the policy requires.")


class Case(_Strict):
    name: str | None = None
    set: CaseSet
    expect: Expectation
    date: dt.date | None = Field(default=None, description="Judge as of this UTC day.")

    def label(self, index: int) -> str:
        return self.name or f"cases[{index}] {self.set.name}"


class CasesFile(_Strict):
    policy: Name | None = None
    cases: list[Case] = Field(min_length=1)


class CasesError(ValueError):
    """The cases file is unreadable or invalid; each error names its field."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


def parse_cases(text: str) -> CasesFile:
    try:
        data: Any = documents.load(text)
    except documents.DuplicateKey as exc:
        raise CasesError(str(exc)) from exc
    except documents.NotADocument as exc:
        raise CasesError(f"cases file is {exc}") from exc
    if not isinstance(data, dict):
        raise CasesError("cases file must be a mapping with 'cases' (and optionally 'policy')")
    try:
        return CasesFile.model_validate(data)
    except ValidationError as exc:
        errors = describe_errors(exc, CasesFile)
        raise CasesError("invalid cases file: " + "; ".join(errors), errors) from exc


@dataclass(frozen=True)
class CaseResult:
    label: str
    decision: Decision
    differences: list[str]

    @property
    def passed(self) -> bool:
        return not self.differences


def run_case(policy: Policy, case: Case, index: int, today: dt.date) -> CaseResult:
    """``evaluate`` on the case's set, compared with what the case expects."""
    now = dt.datetime.combine(case.date or today, NOON)
    cs = ConfigurationSet(case.set.name, normalise_pool(case.set.pool), tags=case.set.tags)
    where = case.set
    units = None if where.organizational_units is None else frozenset(where.organizational_units)
    lane = Lane(where.account, where.region, units, "not given in the case")
    decision = evaluate(policy, cs, now, lane=lane)
    expect = case.expect
    compared = [
        ("outcome", expect.outcome, decision.outcome.value),
        ("rule", expect.rule, decision.rule_id),
        ("pool", expect.pool, decision.expected_pool),
    ]
    differences = [
        f"{field}: expected {wanted}, got {got or 'none'}"
        for field, wanted, got in compared
        if wanted is not None and wanted != got
    ]
    return CaseResult(case.label(index), decision, differences)
