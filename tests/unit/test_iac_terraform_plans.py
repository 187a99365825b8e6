"""Terraform plans as terraform 1.11.4 and the AWS provider 5.100.0 write them: the
provider plans ``tags_all`` as unknown whenever ``tags`` is null, and apply then writes
the provider's ``default_tags`` alone ({} without them). The committed plans under
tests/fixtures/iac/real/terraform were made from the configurations beside them; where
terraform and the provider mirror are installed, the tests make the plans afresh."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ses_pool_enforcer.iac.declared import Unresolved
from ses_pool_enforcer.iac.sources import scan_file
from ses_pool_enforcer.iac.terraform import default_tags, scan
from ses_pool_enforcer.iac.verdict import judge
from ses_pool_enforcer.policy import parse_policy

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "fixtures" / "iac" / "real" / "terraform"
EXAMPLE_POLICY = parse_policy((ROOT / "examples" / "policy.yaml").read_text())
NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
PROVIDER_MIRROR = Path("/opt/tf-plugins")
# What a careful reader of each configuration expects of examples/policy.yaml.
EXPECTED = {
    "untagged": {
        "aws_sesv2_configuration_set.newsletter": ({}, "marketing", "wrong-pool"),
        "aws_sesv2_configuration_set.notifications": (
            {},
            "ses-default-dedicated-pool",
            "compliant",
        ),
        "aws_sesv2_configuration_set.receipts": (
            {"team": "billing"},
            "ses-default-dedicated-pool",
            "wrong-pool",  # tx-* must be on transactional
        ),
    },
    "default-tags": {
        # default_tags alone: stream=bulk, so bulk-by-tag puts it on the shared pool
        "aws_sesv2_configuration_set.promotions": (
            {"stream": "bulk", "team": "growth"},
            "ses-default-dedicated-pool",
            "wrong-pool",
        ),
        # its own stream=marketing overrides the default; digest matches no name glob
        "aws_sesv2_configuration_set.digest": (
            {"stream": "marketing", "team": "growth"},
            "ses-shared-pool",
            "wrong-pool",
        ),
    },
}


def _verdicts(plan: Path) -> dict[str, tuple[object, object, str]]:
    scan = scan_file(str(plan), {})
    return {
        s.resource: (
            s.tags,
            s.pool,
            judge(EXAMPLE_POLICY, s, scan.pools | {"marketing"}, NOW).result,
        )
        for s in scan.sets
    }


@pytest.mark.parametrize("configuration", sorted(EXPECTED))
def test_a_committed_real_plan_is_judged_as_its_configuration_reads(configuration: str) -> None:
    # Given a plan terraform wrote for the configuration beside it
    plan = REAL / f"{configuration}.plan.json"

    # When its sets are judged against the project's example policy
    verdicts = _verdicts(plan)

    # Then untagged sets are judged on the tags apply writes, never left unresolved
    assert verdicts == EXPECTED[configuration]


def _terraform_missing() -> str | None:
    if shutil.which("terraform") is None:
        return "terraform is not installed"
    if not PROVIDER_MIRROR.is_dir():
        return f"no provider mirror at {PROVIDER_MIRROR}"
    return None


@pytest.mark.skipif(_terraform_missing() is not None, reason=str(_terraform_missing()))
@pytest.mark.parametrize("configuration", sorted(EXPECTED))
def test_a_plan_made_now_by_terraform_is_judged_the_same(
    configuration: str, tmp_path: Path
) -> None:
    # Given the configuration planned by the installed terraform and provider mirror,
    # with fake credentials: -refresh=false reads nothing from AWS
    plan = _plan_now(configuration, tmp_path)

    # When judged; Then as the committed plan is
    assert _verdicts(plan) == EXPECTED[configuration]


def test_default_tags_that_are_an_expression_leave_untagged_sets_unresolved() -> None:
    # Given a provider whose default_tags the plan shows only as references
    plan = {
        "configuration": {
            "provider_config": {
                "aws": {
                    "name": "aws",
                    "expressions": {"default_tags": [{"tags": {"references": ["local.tags"]}}]},
                }
            }
        }
    }

    # Then the tags apply will write are not known
    assert isinstance(default_tags(plan), Unresolved)


def test_a_plan_without_its_configuration_leaves_unknown_tags_unresolved() -> None:
    assert isinstance(default_tags({"resource_changes": []}), Unresolved)


def test_an_email_identity_in_a_plan_declares_its_default_set() -> None:
    scan = scan_file(str(REAL / "untagged.plan.json"), {})

    assert [(i.resource, i.name, i.configuration_set) for i in scan.identities] == [
        ("aws_sesv2_email_identity.news", "news.example.com", "newsletter")
    ]


HEALTH = parse_policy(
    "version: 1\nmode: enforce\nrules:\n"
    "  - id: offers\n    match: {names: ['*-offers']}\n    pool: bulk-managed\n"
    "    pool_health: {scaling_mode: MANAGED}\n"
    "  - id: bulk\n    match: {names: ['bulk-*']}\n    pool: bulk\n"
    "    pool_health: {scaling_mode: MANAGED}\n"
)


def _health_verdicts(plan: Path) -> dict[str, str]:
    scan = scan_file(str(plan), {})
    return {
        s.resource: judge(HEALTH, s, scan.pools, NOW, pool_modes=scan.pool_modes).result
        for s in scan.sets
    }


def _plan_now(configuration: str, tmp_path: Path) -> Path:
    """The configuration planned by the installed terraform and provider mirror."""
    work = tmp_path / configuration
    shutil.copytree(REAL / configuration, work)
    rc = tmp_path / "terraformrc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{ path = "{PROVIDER_MIRROR}" }}\n}}\n'
    )
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1"}
    for command in (
        ["terraform", "init", "-input=false", "-no-color"],
        ["terraform", "plan", "-refresh=false", "-input=false", "-no-color", "-out=plan.out"],
    ):
        subprocess.run(command, cwd=work, env=env, check=True, capture_output=True, timeout=120)
    shown = subprocess.run(
        ["terraform", "show", "-json", "plan.out"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    plan = tmp_path / "plan.json"
    plan.write_bytes(shown.stdout)
    return plan


def test_a_terraform_pool_s_scaling_mode_is_judged_as_cloudformation_s_is() -> None:
    # Given a plan with a pool whose scaling_mode is omitted (the provider plans it as
    # unknown; the API makes it STANDARD) and one declared MANAGED
    scan = scan_file(str(REAL / "pools.plan.json"), {})
    assert scan.pool_modes == {"bulk": "STANDARD", "bulk-managed": "MANAGED"}

    # Then the set bound for the STANDARD pool is a pool-health finding, the other complies
    assert _health_verdicts(REAL / "pools.plan.json") == {
        "aws_sesv2_configuration_set.bulk_news": "pool-health",
        "aws_sesv2_configuration_set.bulk_offers": "compliant",
    }


def test_a_scaling_mode_the_plan_cannot_show_is_left_open() -> None:
    # Given the same plan, the omitted scaling_mode written as an expression instead
    data = json.loads((REAL / "pools.plan.json").read_text())
    for config in data["configuration"]["root_module"]["resources"]:
        if config["address"] == "aws_sesv2_dedicated_ip_pool.bulk":
            config["expressions"]["scaling_mode"] = {"references": ["var.mode"]}
    assert scan("pools.plan.json", data, {}).pool_modes == {"bulk-managed": "MANAGED"}


@pytest.mark.skipif(_terraform_missing() is not None, reason=str(_terraform_missing()))
def test_a_pool_plan_made_now_by_terraform_is_judged_the_same(tmp_path: Path) -> None:
    assert _health_verdicts(_plan_now("pools", tmp_path)) == _health_verdicts(
        REAL / "pools.plan.json"
    )
