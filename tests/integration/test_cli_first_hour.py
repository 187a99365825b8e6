"""What a new user meets in the CLI's first hour: no silent green on an empty region, the
inventory found through the stack, and errors that name their cause."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_aws import seed
from local_aws.stack import LocalStack
from ses_pool_enforcer.cli import main
from tests.integration.test_cli import POLICY, Run, write

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "50")

    def run(*args: str) -> Run:
        status = main(list(args))
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    seed.create_pool("marketing")
    seed.create_set("mkt-a", pool="marketing")
    return stack


NO_SETS = (
    "error: no configuration sets in account 123456789012, region eu-west-1: is this the "
    "account and region you meant (--region, AWS_PROFILE)? Pass --allow-empty if it has none\n"
)


@pytest.mark.parametrize("command", [["plan", "POLICY"], ["report", "--live"]])
def test_zero_sets_in_the_region_is_an_error_not_a_green_build(
    cli: Any, account: LocalStack, tmp_path: Path, command: list[str]
) -> None:
    # Given sets in us-east-1 and a policy stored in eu-west-1, where there are none
    seed.put_policy(POLICY, region="eu-west-1")
    args = [write(tmp_path, POLICY) if a == "POLICY" else a for a in command]

    # When the command looks in eu-west-1
    result = cli("--region", "eu-west-1", *args)

    # Then it fails, naming the account and region, rather than "no changes"
    assert (result.status, result.err) == (1, NO_SETS)
    assert "No changes" not in result.out

    # And --allow-empty says the account really has none
    allowed = cli("--region", "eu-west-1", *args, "--allow-empty")
    assert allowed.status == 0, allowed.err
    if command[0] == "plan":
        assert "No changes: all 0 configuration sets keep their outcome." in allowed.out


def stack_with_outputs(name: str, outputs: dict[str, str]) -> None:
    """A deployed stack as the CLI sees it: its outputs."""
    boto3.client("cloudformation").create_stack(
        StackName=name,
        TemplateBody=json.dumps(
            {
                "Resources": {
                    "P": {
                        "Type": "AWS::SSM::Parameter",
                        "Properties": {"Type": "String", "Value": "x", "Name": f"/{name}"},
                    }
                },
                "Outputs": {k: {"Value": v} for k, v in outputs.items()},
            }
        ),
    )


def test_report_finds_the_inventory_through_the_stack(
    cli: Any, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployed stack named otherwise, and a shell that knows no table
    monkeypatch.delenv("INVENTORY_TABLE")
    monkeypatch.delenv("IDENTITY_TABLE")
    stack_with_outputs(
        "team-enforcer",
        {"InventoryTableName": stack.inventory_table, "IdentityTableName": stack.identity_table},
    )
    # (and no event or sweep has recorded a set yet)

    # When report is given the stack
    result = cli("report", "--stack", "team-enforcer")

    # Then it reads that stack's inventory, and says it is empty rather than "0 sets" alone
    assert result.status == 0
    assert result.out.startswith(
        f"Compliance report: 0 configuration sets (inventory {stack.inventory_table})."
    )
    assert "warning: the inventory ses-pool-enforcer-inventory is empty" in result.err

    # And a stack that does not exist is named, with what to do
    missing = cli("report", "--stack", "nope")
    assert (missing.status, missing.err) == (
        1,
        "error: no stack nope in us-east-1: deploy it (sam deploy), start local AWS with its "
        "stack (make local-aws), or pass --region\n",
    )


def test_a_missing_table_is_named(cli: Any, stack: LocalStack) -> None:
    result = cli("report", "--inventory-table", "ses-pool-enforcer-inventroy")
    assert (result.status, result.err) == (
        1,
        "error: no table ses-pool-enforcer-inventroy in region us-east-1: check its name (the "
        "stack's outputs: aws cloudformation describe-stacks) and --region\n",
    )


# --------------------------------------------------------------------------- documents


def test_a_yaml_typo_names_the_file_line_and_column_with_a_caret(cli: Any, tmp_path: Path) -> None:
    path = write(
        tmp_path, 'version: 1\nrules:\n  - id: m\n    match: {names: ["mkt-*"]\n    pool: p\n'
    )
    result = cli("validate", path)
    assert result.status == 1
    assert result.out.splitlines()[:3] == [
        f"error: {path}:5:5: neither JSON nor YAML: expected ',' or '}}', but got '<scalar>'",
        "      pool: p",
        "      ^",
    ]


def test_a_cloudformation_template_is_named_as_such(cli: Any, tmp_path: Path) -> None:
    result = cli("validate", str(ROOT / "template.yaml"))
    assert result.status == 1
    assert result.out.startswith(
        "error: policy is a CloudFormation template (it uses the tags !Ref, !Sub...), not a "
        "policy document\n"
    )

    # And one written without short-form tags (JSON, say) is recognised by its keys
    plain = cli("validate", write(tmp_path, '{"AWSTemplateFormatVersion": "2010-09-09"}'))
    assert plain.out.startswith(
        "error: policy is a CloudFormation template (it has AWSTemplateFormatVersion), not a "
        "policy document\n"
    )


def test_unknown_fields_get_a_suggestion_and_bad_values_are_quoted(
    cli: Any, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "version: 1\nmode: enforce\nrules:\n"
        "  - {id: m, match: {name: [mkt-*]}, pool: marketing pool}\n",
    )
    result = cli("validate", path)
    assert result.status == 1
    assert "error: rules[0].match.name: unknown field (did you mean 'names'?)" in result.out
    assert (
        "error: rules[0].pool: String should match pattern '^[A-Za-z0-9_-]{1,64}$', got "
        "'marketing pool'" in result.out
    )


def test_validate_says_when_mode_is_left_out(cli: Any, tmp_path: Path) -> None:
    # Given a policy with no mode: audit, so it will never move anything
    path = write(tmp_path, "version: 1\nrules:\n  - {id: m, match: {names: [mkt-*]}, pool: p}\n")

    # When it is validated, then it is valid, with a warning that says so
    result = cli("validate", path)
    assert result.status == 0
    assert result.out.startswith(
        "warning: mode: not set, so it is audit: rule m will report sets on the wrong pool and "
        "never move one; write 'mode: enforce' to enforce (or 'mode: audit' to say so)\n"
    )
    # And a document that says its mode gets no such warning
    said = cli("validate", write(tmp_path, "mode: audit\n" + Path(path).read_text()))
    assert "mode:" not in said.out
