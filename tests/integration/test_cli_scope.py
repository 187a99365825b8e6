"""Issue 9, item 3: ``validate --live`` checks the accounts and OUs a document names
against the organization; ``validate --live`` and ``plan`` judge in the caller's lane."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_aws import faults, seed
from local_aws.stack import LocalStack
from ses_pool_enforcer.cli import main

ELSEWHERE = "444455556666"


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "50")

    def run(*args: str) -> Run:
        status = main(list(args))
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return str(path)


def _organization(stack: LocalStack) -> dict[str, str]:
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    prod = org.create_organizational_unit(ParentId=root, Name="prod")["OrganizationalUnit"]["Id"]
    return {"root": root, "prod": prod}


def test_validate_live_names_accounts_and_ous_the_organization_does_not_hold(
    cli: Any, stack: LocalStack, tmp_path: Path
) -> None:
    # Given an organization, and a document naming ids in it and ids not in it
    ids = _organization(stack)
    seed.create_set("mkt-weekly")
    document = f"""
version: 1
rules:
  - id: here
    match: {{names: ["*"], accounts: ["{stack.account_id}", "{ELSEWHERE}"]}}
    pool: ses-shared-pool
  - id: ous
    match:
      organizational_units: ["{ids["prod"]}", "{ids["root"]}", "ou-zz99-missing1", "r-zz99"]
    pool: ses-shared-pool
"""
    # When it is validated against the account
    result = cli("validate", _write(tmp_path, document), "--live")

    # Then each id the organization lacks is a warning naming its field; the others pass
    assert result.status == 0
    assert f"warning: rules[0].match.accounts[1]: '{ELSEWHERE}' is not in the organization" in (
        result.out
    )
    assert "warning: rules[1].match.organizational_units[2]: 'ou-zz99-missing1'" in result.out
    assert "warning: rules[1].match.organizational_units[3]: 'r-zz99'" in result.out
    assert result.out.count("is not in the organization") == 3


@pytest.mark.parametrize(
    ("organization", "why"),
    [
        (False, "the account is not in an organization"),
        (True, "access denied (only the management account or a delegated administrator"),
    ],
)
def test_validate_live_says_why_ids_could_not_be_checked(
    cli: Any, stack: LocalStack, tmp_path: Path, organization: bool, why: str
) -> None:
    if organization:
        _organization(stack)
        faults.fail("organizations", "DescribeAccount", code="AccessDeniedException", status=400)
    document = f"version: 1\nrules: [{{id: a, match: {{accounts: ['{ELSEWHERE}']}}, pool: p}}]\n"

    result = cli("validate", _write(tmp_path, document), "--live")

    assert result.status == 0
    assert (
        f"warning: accounts and organizational units not checked against the organization: {why}"
        in result.out
    )
    assert "is not in the organization" not in result.out


def test_validate_live_does_not_check_rules_scoped_elsewhere_against_this_account(
    cli: Any, stack: LocalStack, tmp_path: Path
) -> None:
    # Given rules for another account and another region, naming sets and pools that
    # exist there, not here
    document = f"""
version: 1
rules:
  - id: other-account
    match: {{names: ["theirs-*"], accounts: ["{ELSEWHERE}"]}}
    pool: their-pool
  - id: europe
    match: {{names: ["eu-*"], regions: ["eu-*"]}}
    pool: eu-pool
  - id: here
    match: {{names: ["ours-*"], accounts: ["{stack.account_id}"]}}
    pool: our-pool
"""
    result = cli("validate", _write(tmp_path, document), "--live")

    # Then only the rule for this lane is checked here
    assert "theirs-*" not in result.out and "their-pool" not in result.out
    assert "eu-*" not in result.out and "eu-pool" not in result.out
    assert "'ours-*' matches no configuration set" in result.out
    assert "dedicated pool 'our-pool' does not exist" in result.out


def test_plan_judges_in_the_callers_account_and_region(
    cli: Any, stack: LocalStack, tmp_path: Path
) -> None:
    # Given two sets on the shared pool and a document whose rule for them is scoped to
    # this account, another to another account, and one to another region
    seed.create_pool("marketing")
    seed.create_set("mkt-weekly", pool="ses-shared-pool")
    seed.create_set("tx-reset", pool="ses-shared-pool")
    seed.put_policy("version: 1\nrules: []\n")
    document = f"""
version: 1
mode: enforce
rules:
  - id: theirs
    match: {{names: ["mkt-*"], accounts: ["{ELSEWHERE}"]}}
    pool: ses-default-dedicated-pool
  - id: ours
    match: {{names: ["mkt-*"], accounts: ["{stack.account_id}"]}}
    pool: marketing
  - id: europe
    match: {{names: ["tx-*"], regions: ["eu-*"]}}
    pool: marketing
"""
    # When it is planned here (us-east-1)
    result = cli("plan", _write(tmp_path, document), "--format", "json")

    # Then the set this account's rule governs moves; the European rule does not apply here
    plan = json.loads(result.out)
    assert result.status == 2, result.err
    [change] = plan["changes"]
    assert change["configuration_set"] == "mkt-weekly"
    assert change["after"]["rule_id"] == "ours"
