"""Issue 10: ``check`` on SAM, CDK and Terraform files, in process: exit codes, the four
output formats, --parameter, and the policy from a file or SSM, with --live against
local AWS. Fixtures under tests/fixtures/iac are shaped as the tools write them."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jsonschema
import pytest

from local_aws import seed
from local_aws.stack import LocalStack
from ses_pool_enforcer.adapters import aws
from ses_pool_enforcer.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
IAC = FIXTURES / "iac"
POLICY = IAC / "policy.yaml"
SAM = IAC / "sam" / "template.yaml"
CDK = IAC / "cdk.out"
PLAN = IAC / "terraform" / "plan.json"
# The OASIS schema, vendored from oasis-tcs/sarif-spec (sarif-2.1/schema, commit e058381).
SARIF_SCHEMA = json.loads((FIXTURES / "sarif-schema-2.1.0.json").read_text())


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


@pytest.fixture
def check(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """``ses-pool-enforcer check ARGS`` from the repository root (SARIF paths are
    relative to the working directory)."""
    monkeypatch.chdir(ROOT)

    def run(*args: str | Path) -> Run:
        status = main(["check", *map(str, args)])
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building any AWS client fails the test: check reads no AWS unless asked to."""

    @functools.cache
    def refuse() -> Any:
        raise AssertionError("check reached for AWS without --live or --stored")

    monkeypatch.setattr(aws, "_session", refuse)


def rows(table: str) -> dict[str, list[str]]:
    """The table's rows keyed by RESOURCE, the other cells in order."""
    lines = table.split("\n\n")[1].splitlines()
    assert lines[0].split() == ["LOCATION", "RESOURCE", "SET", "POOL", "REQUIRED", "RULE", "RESULT"]
    return {cells[1]: [cells[0], *cells[2:]] for cells in (line.split() for line in lines[1:])}


def line_of(path: Path, text: str) -> tuple[int, int]:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} not in {path}")


def only_line(err: str) -> str:
    """A one-line error, not a traceback."""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err.strip()


# --------------------------------------------------------------------------- table


def test_a_sam_template_with_findings_exits_2_with_a_row_per_set(check: Any, no_aws: None) -> None:
    # When the SAM template is checked against a policy file
    result = check("--policy", POLICY, SAM)

    # Then exit 2, and each set's pool, required pool, rule and result
    assert result.status == 2
    table = rows(result.out)
    sam = str(SAM)
    assert table == {
        "MarketingWeeklySet": [
            f"{sam}:39:3",
            "mkt-weekly",
            "marketing",
            "marketing",
            "marketing",
            "compliant",
        ],
        "MarketingDailySet": [
            f"{sam}:50:3",
            "mkt-daily-dev",
            "transactional",
            "marketing",
            "marketing",
            "wrong-pool",
        ],
        "ReceiptsSet": [
            f"{sam}:57:3",
            "tx-receipts",
            "transactional",
            "transactional",
            "receipts",
            "compliant",
        ],
        "PasswordResetSet": [
            f"{sam}:66:3",
            "tx-password-reset",
            "marketing",
            "transactional",
            "receipts",
            "wrong-pool",
        ],
        "LegacyBillingSet": [
            f"{sam}:73:3",
            "legacy-billing",
            "billing-old",
            "-",
            "-",
            "undefined-pool",
        ],
        # ${Team}-digest: legacy-* (exempt) or mkt-* (a rule) for some teams only
        "DigestSet": [f"{sam}:80:3", "${Team}-digest", "marketing", "-", "-", "unresolved"],
        # !If [IsProd, ...]: Stage defaults to dev, so no pool
        "NewsletterSet": [
            f"{sam}:87:3",
            "mkt-newsletter",
            "ses-default-dedicated-pool",
            "marketing",
            "marketing",
            "wrong-pool",
        ],
        "BulkImportSet": [f"{sam}:94:3", "?", "ses-shared-pool", "-", "-", "unresolved"],
        "OpsAlertsSet": [
            f"{sam}:103:3",
            "ops-alerts",
            "ses-default-dedicated-pool",
            "ses-default-dedicated-pool",
            "default",
            "compliant",
        ],
    }
    assert line_of(SAM, "OpsAlertsSet:") == (103, 3)
    # The newsletter's pool is chosen by IsProd, which Stage's Default decided: said so
    assert (
        f"{sam}:87:3: wrong-pool: NewsletterSet (mkt-newsletter): on ses-default-dedicated-pool; "
        "the policy requires marketing (rule marketing); deployed as written, the enforcer "
        "would move it and the next deploy move it back (conditions decided by the Default "
        "Stage=dev: pass --parameter to judge others)\n" in result.out
    )
    assert (
        f"{sam}:50:3: wrong-pool: MarketingDailySet (mkt-daily-dev): on transactional; the "
        "policy requires marketing (rule marketing); deployed as written, the enforcer "
        "would move it and the next deploy move it back\n" in result.out
    )
    assert result.out.endswith(
        "9 configuration sets in 1 file: 3 compliant, 1 undefined-pool, 2 unresolved, "
        "3 wrong-pool; 6 with findings.\n"
    )


def test_parameters_fill_and_override_the_templates(check: Any, no_aws: None) -> None:
    # When the digest's team is given and the receipts pool is renamed
    result = check(
        "--policy", POLICY, "--parameter", "Team=mkt", "--parameter", "ReceiptsPoolName=tx", SAM
    )

    # Then the digest is named and compliant, and the receipts set is on the wrong pool
    table = rows(result.out)
    assert table["DigestSet"][1:] == [
        "mkt-digest",
        "marketing",
        "marketing",
        "marketing",
        "compliant",
    ]
    assert table["ReceiptsSet"][1:] == [
        "tx-receipts",
        "tx",
        "transactional",
        "receipts",
        "wrong-pool",
    ]


def test_tag_rules_judge_a_set_whose_name_cloudformation_generates(
    check: Any, no_aws: None
) -> None:
    # When the template is checked against rules on tags only
    result = check("--policy", IAC / "policy-by-tag.yaml", SAM)

    # Then the unnamed bulk set is judged by its tags
    assert rows(result.out)["BulkImportSet"][1:] == [
        "?",
        "ses-shared-pool",
        "ses-shared-pool",
        "bulk-by-tag",
        "compliant",
    ]


SCOPED_POLICY = """
version: 1
mode: enforce
rules:
  - id: prod-only
    match: {names: ["mkt-*"], accounts: ["111111111111"]}
    pool: marketing
"""


def test_a_rule_scoped_to_an_account_is_judged_in_the_account_given(
    check: Any, no_aws: None, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(SCOPED_POLICY)

    # Without an account, a set the rule may govern is unresolved, never passed
    unplaced = check("--policy", policy, SAM)
    assert unplaced.status == 2
    assert rows(unplaced.out)["MarketingDailySet"][-1] == "unresolved"
    assert "pass --account and --region" in unplaced.out

    # In the rule's account it is on the wrong pool; in another account, unmanaged
    in_prod = check("--policy", policy, SAM, "--account", "111111111111")
    assert rows(in_prod.out)["MarketingDailySet"][-3:] == ["marketing", "prod-only", "wrong-pool"]
    elsewhere = check("--policy", policy, SAM, "--parameter", "AWS::AccountId=222222222222")
    assert rows(elsewhere.out)["MarketingDailySet"][-1] == "unmanaged"

    # And an account id that is not one is refused, naming it
    bad = check("--policy", policy, SAM, "--account", "12345")
    assert bad.status == 1
    assert "not an AWS account id (12 digits): '12345'" in only_line(bad.err)


def test_a_cdk_assembly_is_checked_with_its_construct_paths(check: Any, no_aws: None) -> None:
    # When the cdk.out folder is checked
    result = check("--policy", POLICY, CDK)

    # Then each set of the stack template, findings named by construct path
    assert result.status == 2
    assert {k: v[-1] for k, v in rows(result.out).items()} == {
        "WeeklyNewsletterConfigurationSet5D1E0F6A": "compliant",
        "ReceiptsConfigurationSet9A4C2B7E": "wrong-pool",
        "BulkImportConfigurationSet0C6F3D85": "wrong-pool",
        "WarmupConfigurationSetE7B91A24": "unresolved",
    }
    assert (
        "wrong-pool: MailStack/BulkImport/ConfigurationSet (bulk-import): on "
        "ses-default-dedicated-pool; the policy requires ses-shared-pool (rule bulk-by-tag)"
        in result.out
    )


def test_a_terraform_plan_is_checked_unknowns_and_v1_sets_included(
    check: Any, no_aws: None
) -> None:
    result = check("--policy", POLICY, PLAN)

    assert result.status == 2
    assert {k: v[-1] for k, v in rows(result.out).items()} == {
        "aws_ses_configuration_set.newsletter": "wrong-pool",
        "aws_sesv2_configuration_set.bulk": "compliant",
        "aws_sesv2_configuration_set.digest": "unresolved",
        "aws_sesv2_configuration_set.promo": "unresolved",
        "aws_sesv2_configuration_set.receipts": "wrong-pool",
        "aws_sesv2_configuration_set.weekly": "compliant",
        "module.alerts.aws_sesv2_configuration_set.ops": "compliant",
    }
    assert (
        "aws_ses_configuration_set.newsletter (mkt-newsletter): an aws_ses_configuration_set "
        "(SES v1) cannot carry a pool, so it sends from ses-default-dedicated-pool" in result.out
    )
    assert "pool unknown (delivery_options[0].sending_pool_name is known only after apply)" in (
        result.out
    )


def test_every_set_complying_exits_0(check: Any, no_aws: None) -> None:
    result = check("--policy", POLICY, IAC / "terraform" / "state.json")

    assert result.status == 0
    assert result.out.endswith("1 configuration set in 1 file: 1 compliant; all comply.\n")


def test_a_pool_declared_in_another_checked_file_counts(check: Any, no_aws: None) -> None:
    # Given the pools in one stack's template and the sets that use them in another
    sets, pools = IAC / "split" / "sets.yaml", IAC / "split" / "pools.yaml"

    # When the sets are checked alone, then with the pools' template
    alone = check("--policy", POLICY, sets)
    together = check("--policy", POLICY, sets, pools)

    # Then alone the pool is undefined; together the set complies
    assert alone.status == 2
    assert "pool marketing is declared in none of the checked files" in alone.out
    assert together.status == 0
    assert together.out.endswith("1 configuration set in 2 files: 1 compliant; all comply.\n")


# --------------------------------------------------------------------------- nothing to check


@pytest.mark.parametrize(
    "path", [IAC / "bad" / "no-ses.yaml", IAC / "terraform" / "plan-google.json"]
)
def test_a_file_without_ses_resources_has_nothing_to_check(
    check: Any, no_aws: None, path: Path
) -> None:
    result = check("--policy", POLICY, path)

    assert result.status == 0
    assert result.out == f"Nothing to check: no SES configuration set in {path}.\n"


def test_nothing_to_check_keeps_machine_output_valid(check: Any, no_aws: None) -> None:
    result = check("--policy", POLICY, "--format", "sarif", IAC / "bad" / "no-ses.yaml")

    assert result.status == 0
    assert json.loads(result.out)["runs"][0]["results"] == []
    assert result.err.startswith("Nothing to check: no SES configuration set in")


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [IAC / "bad" / "release-notes.txt"],
            "release-notes.txt: not JSON or YAML: line 2, column 1: found character '\\t' "
            "that cannot start any token",
        ),
        (
            [IAC / "bad" / "unknown-tag.yaml"],
            "unknown-tag.yaml: not JSON or YAML: line 8, column 26: unknown tag '!Lookup' "
            "(not a CloudFormation intrinsic function)",
        ),
        (
            [IAC / "bad" / "deployment.yaml"],
            "deployment.yaml: neither a CloudFormation template (no Resources) nor a "
            "Terraform plan (no format_version): nothing to read",
        ),
        ([IAC / "missing.yaml"], "no such file: "),
        (["--parameter", "Team", SAM], "argument --parameter: expected KEY=VALUE: 'Team'"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    check: Any, no_aws: None, args: list[Any], message: str
) -> None:
    result = check("--policy", POLICY, *args)

    assert result.status == 1
    assert message in only_line(result.err)
    assert result.out == ""


def test_an_empty_folder_is_an_error(check: Any, no_aws: None, tmp_path: Path) -> None:
    result = check("--policy", POLICY, tmp_path)

    assert result.status == 1
    assert only_line(result.err) == (
        f"error: {tmp_path}: no manifest.json and no *.template.json in this folder: "
        "nothing to read"
    )


def test_an_invalid_policy_is_an_error_naming_its_fields(check: Any, no_aws: None) -> None:
    result = check("--policy", ROOT / "examples" / "invalid-policy.yaml", SAM)

    assert result.status == 1
    line = only_line(result.err)
    assert "invalid-policy.yaml: invalid policy: rules[0].pool: String should match" in line


def test_a_policy_source_is_required(check: Any, no_aws: None) -> None:
    result = check(SAM)

    assert result.status == 1
    assert "one of the arguments --policy --stored is required" in only_line(result.err)


# --------------------------------------------------------------------------- formats


def test_json_gives_each_set_its_decision_and_findings(check: Any, no_aws: None) -> None:
    result = check("--policy", POLICY, "--format", "json", SAM)

    document = json.loads(result.out)
    sets = {s["resource"]: s for s in document["configuration_sets"]}
    assert document["policy"] == str(POLICY)
    assert document["files"] == [
        {
            "path": str(SAM),
            "kind": "CloudFormation template",
            "configuration_sets": 9,
            "pools": ["marketing", "transactional"],
            "not_checked": [],
        }
    ]
    assert document["summary"]["with_findings"] == 6
    assert sets["PasswordResetSet"] | {"findings": None} == {
        "file": str(SAM),
        "line": 66,
        "column": 3,
        "resource": "PasswordResetSet",
        "construct": None,
        "name": "tx-password-reset",
        "pool": "marketing",
        "tags": {},
        "unresolved": {},
        "condition": None,
        "alternatives": [],
        "outcome": "violation",
        "expected_pool": "transactional",
        "rule_id": "receipts",
        "reason": "on marketing, expected transactional (rule is in audit mode)",
        "result": "wrong-pool",
        "findings": None,
    }
    assert sets["BulkImportSet"]["unresolved"] == {
        "name": "no Name: CloudFormation generates one at deploy"
    }
    assert sets["BulkImportSet"]["outcome"] is None


def test_sarif_is_valid_and_points_at_each_resource(check: Any, no_aws: None) -> None:
    # When the three kinds of input are checked as SARIF
    result = check("--policy", POLICY, "--format", "sarif", SAM, CDK, PLAN)

    # Then the log is valid SARIF 2.1.0
    log = json.loads(result.out)
    jsonschema.validate(log, SARIF_SCHEMA)
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ses-pool-enforcer"
    assert [r["id"] for r in driver["rules"]] == [
        "wrong-pool",
        "undefined-pool",
        "wrong-default-set",
        "unresolved",
        "pool-health",
    ]
    # one result per finding, each at its resource, the path relative to the working dir
    assert len(run["results"]) == 6 + 3 + 4
    located = {
        r["message"]["text"].split(":")[0]: (
            r["ruleId"],
            r["level"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"],
        )
        for r in run["results"]
    }
    assert located["PasswordResetSet (tx-password-reset)"] == (
        "wrong-pool",
        "error",
        "tests/fixtures/iac/sam/template.yaml",
        {"startLine": 66, "startColumn": 3},
    )
    assert located["DigestSet (${Team}-digest)"][:2] == ("unresolved", "warning")
    line, column = line_of(CDK / "MailStack.template.json", '"ReceiptsConfigurationSet9A4C2B7E"')
    assert located["MailStack/Receipts/ConfigurationSet (tx-receipts-prod)"][2:] == (
        "tests/fixtures/iac/cdk.out/MailStack.template.json",
        {"startLine": line, "startColumn": column},
    )
    text = PLAN.read_text()
    address = '"address":"aws_sesv2_configuration_set.receipts"'
    column = text.index(address, text.index('"resource_changes"')) + 1
    assert located["aws_sesv2_configuration_set.receipts (tx-receipts)"][3] == {
        "startLine": 1,
        "startColumn": column,
    }
    for r in run["results"]:
        assert driver["rules"][r["ruleIndex"]]["id"] == r["ruleId"]


def test_sarif_names_a_file_outside_the_working_directory_by_its_absolute_uri(
    check: Any, no_aws: None, tmp_path: Path
) -> None:
    outside = tmp_path / "template.json"
    outside.write_text((CDK / "MailStack.template.json").read_text())

    log = json.loads(check("--policy", POLICY, "--format", "sarif", outside).out)

    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert uris == {outside.resolve().as_uri()}


def test_junit_has_a_test_case_per_set_and_a_failure_per_set_with_findings(
    check: Any, no_aws: None
) -> None:
    result = check("--policy", POLICY, "--format", "junit", SAM, PLAN)

    root = ET.fromstring(result.out)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("16", "10")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    sam = suites[str(SAM)]
    assert (sam.get("tests"), sam.get("failures")) == ("9", "6")
    cases = {c.get("name"): c for c in sam.iter("testcase")}
    assert len(cases) == 9
    failure = cases["PasswordResetSet (tx-password-reset)"].find("failure")
    assert failure is not None and failure.get("type") == "wrong-pool"
    assert cases["PasswordResetSet (tx-password-reset)"].get("line") == "66"
    legacy = cases["LegacyBillingSet (legacy-billing)"]
    assert legacy.find("failure") is not None
    ok = cases["OpsAlertsSet (ops-alerts)"]
    assert ok.find("failure") is None
    assert ok.findtext("system-out") == "compliant: on ses-default-dedicated-pool"


def test_output_file_gets_the_report_and_the_log_the_table(
    check: Any, no_aws: None, tmp_path: Path
) -> None:
    # When SARIF is written to a file, as the GitHub Action does
    target = tmp_path / "results.sarif"
    result = check("--policy", POLICY, "--format", "sarif", "-o", target, SAM)

    # Then the file holds the SARIF and standard output the table, for the CI log
    assert result.status == 2
    assert len(json.loads(target.read_text())["runs"][0]["results"]) == 6
    assert "MarketingDailySet" in rows(result.out)


# --------------------------------------------------------------------------- AWS: --stored, --live


def test_the_stored_policy_is_read_from_ssm(check: Any, stack: LocalStack) -> None:
    # Given the fixture policy published
    version = seed.put_policy(POLICY.read_text())

    # When the template is checked against the stored policy
    result = check("--stored", SAM)

    # Then the result is the same as with the file, and the version is named
    assert result.status == 2
    assert f"Checked against /ses-pool-enforcer/policy version {version}." in result.out
    assert rows(result.out) == rows(check("--policy", POLICY, SAM).out)


def test_no_stored_policy_or_an_invalid_one_is_an_error(check: Any, stack: LocalStack) -> None:
    missing = check("--stored", SAM)
    seed.put_policy("version: 1\nmode: enforcing\n")
    invalid = check("--stored", SAM)

    assert (missing.status, invalid.status) == (1, 1)
    assert only_line(missing.err) == (
        "error: no policy stored in /ses-pool-enforcer/policy: nothing to check against"
    )
    assert "mode: Input should be 'enforce' or 'audit'" in only_line(invalid.err)


def test_live_accepts_the_pools_the_account_has(check: Any, local_aws: None) -> None:
    # Given the account has the pool the legacy set names, and not the promotions pool
    seed.create_pool("billing-old")

    # When the template is checked with --live
    result = check("--policy", POLICY, "--live", SAM, IAC / "bad" / "unknown-intrinsic.json")

    # Then the legacy set is exempt, its pool found in the account
    table = rows(result.out)
    assert table["LegacyBillingSet"][-1] == "exempt"
    assert "undefined-pool" not in result.out


def test_live_names_the_account_when_a_pool_is_nowhere(check: Any, local_aws: None) -> None:
    result = check("--policy", POLICY, "--live", SAM)

    assert (
        "pool billing-old is declared neither in the checked files nor in the account" in result.out
    )


def test_live_judges_the_account_s_pool_by_its_ips_and_warm_up(
    check: Any, local_aws: None, tmp_path: Path
) -> None:
    # Given a rule asking its pool two IPs 90 % warm, and "bulk" in the account with one
    # IP 10 % warm; a template declaring a set on "bulk" (not the pool)
    ses = seed.sesv2()
    seed.create_pool("bulk")
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="bulk")
    ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.1", WarmupPercentage=10)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nmode: enforce\nrules:\n  - id: bulk\n    match: {names: ['bulk-*']}\n"
        "    pool: bulk\n    pool_health: {min_ips: 2, min_warmup_percent: 90}\n"
    )
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n  BulkSet:\n    Type: AWS::SES::ConfigurationSet\n    Properties:\n"
        "      Name: bulk-news\n      DeliveryOptions: {SendingPoolName: bulk}\n"
    )

    # When it is checked without and with --live
    before = check("--policy", policy, template)
    live = check("--policy", policy, "--live", "--format", "json", template)

    # Then without --live the pool is nowhere and its IPs unknown (nothing held against
    # them); --live holds the account's pool's IPs against it, and shows the state judged
    assert rows(before.out)["BulkSet"][-1] == "undefined-pool"
    assert "pool-health" not in before.out
    assert live.status == 2
    entry = json.loads(live.out)["configuration_sets"][0]
    assert entry["result"] == "pool-health"
    assert entry["target_pool_state"] == {
        "scaling_mode": "STANDARD",
        "ips": 1,
        "coldest_warmup_percent": 10,
    }
    assert "1 IPs, at least 2 required" in entry["findings"][0]["message"]


def test_the_console_script_prints_no_traceback(tmp_path: Path) -> None:
    # The installed script, in a process of its own, on a file that is not a template
    import subprocess
    import sys

    script = Path(sys.executable).parent / "ses-pool-enforcer"
    done = subprocess.run(
        [script, "check", "--policy", POLICY, IAC / "bad" / "unknown-tag.yaml"],
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


# --------------------------------------------------------------------------- identities, notes

IDENTITIES = IAC / "identities"


def test_identities_are_judged_by_the_identity_rules(check: Any, no_aws: None) -> None:
    # When a template's AWS::SES::EmailIdentity resources are checked against a policy
    # with identity rules
    result = check("--policy", IDENTITIES / "policy.yaml", IDENTITIES / "template.yaml")

    # Then each identity's declared default set is judged, and an off-policy one fails
    assert result.status == 2
    assert (
        "wrong-default-set: Shop (shop.example.com): default configuration set "
        "mkt-newsletter; the policy requires tx-receipts (identity rule shop-mail)"
    ) in result.out
    assert (
        "wrong-default-set: Bare (alerts.example.com): no default configuration set; the "
        "policy requires one (identity rule any-default)"
    ) in result.out
    assert "unresolved: Open: identity unknown (identity ${Domain}" in result.out
    assert result.out.endswith("4 identities: 1 compliant, 1 unresolved, 2 wrong-default-set.\n")

    # And SARIF carries the identity's finding at its resource
    sarif = check(
        "--policy", IDENTITIES / "policy.yaml", "--format", "sarif", IDENTITIES / "template.yaml"
    )
    results = json.loads(sarif.out)["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == [
        "wrong-default-set",
        "wrong-default-set",
        "unresolved",
    ]

    # And JUnit a test case per identity, failed where there is a finding
    junit = check(
        "--policy", IDENTITIES / "policy.yaml", "--format", "junit", IDENTITIES / "template.yaml"
    )
    (suite,) = ET.fromstring(junit.out)
    assert (suite.get("tests"), suite.get("failures")) == ("4", "3")
    assert "Nothing to check" not in junit.err


def test_a_policy_without_identity_rules_does_not_judge_identities(
    check: Any, no_aws: None
) -> None:
    result = check("--policy", POLICY, IDENTITIES / "template.yaml")

    assert result.status == 0
    assert result.out.startswith("No SES configuration set judged in")
    # an identity whose Condition is false is said not to be created, rules or not
    assert "Resources.NotInThisStage: not created: its Condition Never is false" in result.out


def test_what_was_not_checked_is_said_and_nothing_to_check_is_not(
    check: Any, no_aws: None, tmp_path: Path
) -> None:
    # Given a template whose only content is a nested stack on S3
    template = tmp_path / "parent.yaml"
    template.write_text(
        "Resources:\n  Mail:\n    Type: AWS::CloudFormation::Stack\n"
        "    Properties: {TemplateURL: 'https://s3.amazonaws.com/b/mail.yaml'}\n"
    )

    # When checked
    result = check("--policy", POLICY, template)

    # Then it is not "Nothing to check": the nested stack is named as not checked
    assert "Nothing to check" not in result.out
    assert result.out == (
        f"No SES configuration set judged in {template}, but some were not checked.\n\n"
        "Not checked (1):\n"
        f"{template}: Resources.Mail (nested stack): not checked: its template is at "
        "https://s3.amazonaws.com/b/mail.yaml: check that template itself\n"
    )


def test_live_reads_ssm_typed_parameters_as_a_deploy_would(check: Any, local_aws: None) -> None:
    # Given the pool's SSM parameter exists in the account, the set name's does not
    aws.client("ssm").put_parameter(Name="/mail/pools/marketing", Value="marketing", Type="String")
    template = IAC / "choices" / "open-names.yaml"

    # When checked without and with --live
    offline = check("--policy", IAC / "choices" / "policy.yaml", template)
    live = check("--policy", IAC / "choices" / "policy.yaml", "--live", template)

    # Then the path is never the pool; with --live the value read in SSM decides
    assert rows(offline.out)["FromSsm"][2:] == ["?", "marketing", "marketing", "unresolved"]
    assert rows(live.out)["FromSsm"][2:] == ["marketing", "marketing", "marketing", "compliant"]
    # and a parameter SSM does not have stays open
    assert rows(live.out)["NamedBySsm"][-1] == "unresolved"


def test_hostile_input_exits_1_in_one_line_naming_what_was_refused(
    check: Any, no_aws: None, tmp_path: Path
) -> None:
    # Given a 417-byte YAML alias bomb (nine levels of nine aliases)
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb + "Resources: {S: {Type: AWS::SES::ConfigurationSet}}\n")

    # When checked
    result = check("--policy", POLICY, path)

    # Then exit 1, one line, saying what was refused
    assert result.status == 1
    assert "refused: YAML aliases expand this document past 1,000,000 values" in only_line(
        result.err
    )


def test_json_lists_the_alternatives_judged_and_the_condition(check: Any, no_aws: None) -> None:
    result = check(
        "--policy",
        IAC / "choices" / "policy.yaml",
        "--format",
        "json",
        IAC / "choices" / "if-delivery-options.yaml",
    )

    (newsletter,) = [
        s for s in json.loads(result.out)["configuration_sets"] if s["resource"] == "Newsletter"
    ]
    assert newsletter["alternatives"] == [
        {
            "when": "Stage=dev",
            "name": "newsletter-marketing",
            "pool": "ses-default-dedicated-pool",
            "tags": {},
        },
        {"when": "Stage=prod", "name": "newsletter-marketing", "pool": "marketing", "tags": {}},
    ]
    assert newsletter["result"] == "unresolved"


def test_a_pool_declared_with_a_scaling_mode_the_rule_does_not_allow_is_a_finding(
    check: Any, no_aws: None, tmp_path: Path
) -> None:
    # Given a policy asking its pool to be MANAGED, and a template declaring it STANDARD
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nmode: enforce\nrules:\n  - id: bulk\n    match: {names: ['bulk-*']}\n"
        "    pool: bulk\n    pool_health: {scaling_mode: MANAGED, min_ips: 4}\n"
    )
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n"
        "  Bulk:\n    Type: AWS::SES::DedicatedIpPool\n    Properties: {PoolName: bulk}\n"
        "  BulkSet:\n    Type: AWS::SES::ConfigurationSet\n    Properties:\n"
        "      Name: bulk-news\n      DeliveryOptions: {SendingPoolName: bulk}\n"
    )

    # When it is checked, and again with the pool declared MANAGED
    result = check("--policy", policy, template)
    template.write_text(
        template.read_text().replace("{PoolName: bulk}", "{PoolName: bulk, ScalingMode: MANAGED}")
    )
    fixed = check("--policy", policy, template)

    # Then the STANDARD pool is a finding naming the mode (its IPs, unknown before deploy,
    # are not held against it); the MANAGED one complies
    assert result.status == 2
    assert rows(result.out)["BulkSet"][-1] == "pool-health"
    assert "scaling mode STANDARD, MANAGED required" in result.out
    assert fixed.status == 0, fixed.out
    assert rows(fixed.out)["BulkSet"][-1] == "compliant"
