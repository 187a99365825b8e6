"""Issue 10: what SAM, CDK and Terraform files declare: sets, pools, and where each set
is written. Fixtures under tests/fixtures/iac are shaped as the tools write them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ses_pool_enforcer.iac.declared import DeclaredSet, IacError, Position, Unresolved
from ses_pool_enforcer.iac.patterns import hole
from ses_pool_enforcer.iac.sources import scan_file, scan_path
from ses_pool_enforcer.pools import DEFAULT_POOL, SHARED_POOL

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iac"
SAM = FIXTURES / "sam" / "template.yaml"
CDK = FIXTURES / "cdk.out"
PLAN = FIXTURES / "terraform" / "plan.json"


def position_of(path: Path, text: str) -> Position:
    """Where ``text`` first appears in the file: 1-based line and column."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return Position(number, line.index(text) + 1)
    raise AssertionError(f"{text!r} not in {path}")


def by_resource(sets: list[DeclaredSet]) -> dict[str, DeclaredSet]:
    return {s.resource: s for s in sets}


# --------------------------------------------------------------------------- SAM


def test_a_sam_template_declares_its_sets_and_pools_with_short_form_tags_resolved() -> None:
    # When the SAM template is read with no parameters given
    (scan,) = scan_path(str(SAM), {})
    sets = by_resource(scan.sets)

    # Then both pools are known: one literal, one from a parameter's Default
    assert scan.kind == "CloudFormation template"
    assert scan.pools == {"marketing", "transactional"}
    # !Ref to a pool beside the set resolves to its PoolName
    assert sets["MarketingWeeklySet"].name == "mkt-weekly"
    assert sets["MarketingWeeklySet"].pool == "marketing"
    assert sets["MarketingWeeklySet"].tags == {"stream": "marketing"}
    # !Sub with a parameter's Default
    assert sets["MarketingDailySet"].name == "mkt-daily-dev"
    assert sets["MarketingDailySet"].pool == "transactional"
    # SendingPoolName: !Ref AWS::NoValue: no pool, the default pool
    assert sets["OpsAlertsSet"].pool == DEFAULT_POOL
    assert sets["BulkImportSet"].pool == SHARED_POOL


def test_what_only_a_deploy_decides_is_unresolved_with_its_reason() -> None:
    # When the SAM template is read
    (scan,) = scan_path(str(SAM), {})
    sets = by_resource(scan.sets)

    # Then a parameter with no default is a hole in the name, a condition is decided
    # by the parameter's default (Stage=dev: no pool), a generated name is not guessed
    assert sets["DigestSet"].name == hole("Team") + "-digest"
    assert sets["NewsletterSet"].pool == DEFAULT_POOL
    assert sets["BulkImportSet"].name == Unresolved(
        "no Name: CloudFormation generates one at deploy"
    )


def test_parameters_given_override_defaults_and_fill_the_missing() -> None:
    # When the template is read with Team given and the receipts pool renamed
    (scan,) = scan_path(str(SAM), {"Team": "mkt", "ReceiptsPoolName": "receipts"})
    sets = by_resource(scan.sets)

    # Then the name and the pool follow the parameters
    assert sets["DigestSet"].name == "mkt-digest"
    assert sets["ReceiptsSet"].pool == "receipts"
    assert scan.pools == {"marketing", "receipts"}


def test_each_set_is_located_at_its_logical_id() -> None:
    (scan,) = scan_path(str(SAM), {})
    sets = by_resource(scan.sets)

    assert sets["ReceiptsSet"].position == position_of(SAM, "ReceiptsSet:")
    assert sets["OpsAlertsSet"].position == position_of(SAM, "OpsAlertsSet:")


# --------------------------------------------------------------------------- CDK


def test_a_cdk_assembly_is_read_through_its_manifest() -> None:
    # When the cdk.out folder is read
    scans = scan_path(str(CDK), {})

    # Then the stack template the manifest names is read (not the asset manifest)
    assert [Path(s.source).name for s in scans] == ["MailStack.template.json"]
    (scan,) = scans
    sets = by_resource(scan.sets)
    assert scan.kind == "CDK template"
    assert scan.pools == {"marketing"}  # the other pool's name is generated
    weekly = sets["WeeklyNewsletterConfigurationSet5D1E0F6A"]
    assert (weekly.name, weekly.pool) == ("mkt-weekly", "marketing")
    assert weekly.construct == "MailStack/WeeklyNewsletter/ConfigurationSet"
    # Fn::Join over a parameter's Default
    assert sets["ReceiptsConfigurationSet9A4C2B7E"].name == "tx-receipts-prod"
    bulk = sets["BulkImportConfigurationSet0C6F3D85"]
    assert bulk.tags == {"stream": "bulk", "team": "data"}
    assert bulk.pool == DEFAULT_POOL  # no DeliveryOptions
    assert sets["WarmupConfigurationSetE7B91A24"].pool == Unresolved(
        "pool WarmupPoolD2E8A6B1 has no PoolName: CloudFormation generates one"
    )


def test_json_templates_locate_a_set_at_its_logical_id_key() -> None:
    template = CDK / "MailStack.template.json"
    scan = scan_file(str(template), {})
    sets = by_resource(scan.sets)

    assert sets["BulkImportConfigurationSet0C6F3D85"].position == position_of(
        template, '"BulkImportConfigurationSet0C6F3D85"'
    )


def test_a_stage_is_followed_to_its_assembly_and_nested_stacks() -> None:
    # When a cdk.out whose stacks live in a Stage's assembly is read
    scans = scan_path(str(FIXTURES / "cdk-stage.out"), {})

    # Then the stage's stack and its nested stack's template are both read
    assert [Path(s.source).name for s in scans] == [
        "ProdMailStack.template.json",
        "ProdMailStackPools1A2B3C4D.nested.template.json",
    ]
    assert [len(s.sets) for s in scans] == [1, 0]
    assert scans[1].pools == {"transactional"}


def test_a_folder_without_a_manifest_gives_its_template_files(tmp_path: Path) -> None:
    # Given a folder holding a copy of the stack template and no manifest
    (tmp_path / "MailStack.template.json").write_text((CDK / "MailStack.template.json").read_text())
    (tmp_path / "notes.json").write_text("{}")

    # When it is read
    scans = scan_path(str(tmp_path), {})

    # Then only the template is
    assert [Path(s.source).name for s in scans] == ["MailStack.template.json"]
    assert len(scans[0].sets) == 4


# --------------------------------------------------------------------------- Terraform


def test_a_terraform_plan_declares_v2_and_v1_sets_and_skips_what_it_deletes() -> None:
    # When the plan is read
    scan = scan_file(str(PLAN), {})
    sets = by_resource(scan.sets)

    # Then every set it keeps is there, module ones included, the deleted one is not
    assert scan.kind == "Terraform plan"
    assert sorted(sets) == [
        "aws_ses_configuration_set.newsletter",
        "aws_sesv2_configuration_set.bulk",
        "aws_sesv2_configuration_set.digest",
        "aws_sesv2_configuration_set.promo",
        "aws_sesv2_configuration_set.receipts",
        "aws_sesv2_configuration_set.weekly",
        "module.alerts.aws_sesv2_configuration_set.ops",
    ]
    # the pools it creates or keeps; the one named only after apply is not among them
    assert scan.pools == {"marketing", "transactional"}
    weekly = sets["aws_sesv2_configuration_set.weekly"]
    assert (weekly.name, weekly.pool) == ("mkt-weekly", "marketing")
    # tags_all: the provider's default_tags included
    assert weekly.tags == {"stream": "marketing", "env": "prod", "managed_by": "terraform"}
    assert sets["aws_sesv2_configuration_set.receipts"].pool == "marketing"  # after, not before
    assert sets["module.alerts.aws_sesv2_configuration_set.ops"].pool == DEFAULT_POOL


def test_values_known_only_after_apply_are_unresolved() -> None:
    scan = scan_file(str(PLAN), {})
    sets = by_resource(scan.sets)

    assert sets["aws_sesv2_configuration_set.digest"].name == Unresolved(
        "configuration_set_name is known only after apply"
    )
    assert sets["aws_sesv2_configuration_set.promo"].pool == Unresolved(
        "delivery_options[0].sending_pool_name is known only after apply"
    )


def test_a_v1_set_sends_from_the_default_pool_and_says_why() -> None:
    scan = scan_file(str(PLAN), {})
    newsletter = by_resource(scan.sets)["aws_ses_configuration_set.newsletter"]

    assert newsletter.name == "mkt-newsletter"
    assert newsletter.pool == DEFAULT_POOL
    assert newsletter.fixed_pool is not None
    assert "cannot carry a pool" in newsletter.fixed_pool


def test_a_plan_set_is_located_at_its_address_key() -> None:
    # Terraform writes the plan on one line: the column tells the entries apart
    scan = scan_file(str(PLAN), {})
    receipts = by_resource(scan.sets)["aws_sesv2_configuration_set.receipts"]

    text = PLAN.read_text()
    changes = text.index('"resource_changes":')
    column = text.index('"address":"aws_sesv2_configuration_set.receipts"', changes) + 1
    assert receipts.position == Position(1, column)


def test_a_state_is_read_from_its_values() -> None:
    # When `terraform show -json` of a state is read: values only, a module's nested
    scan = scan_file(str(FIXTURES / "terraform" / "state.json"), {})

    # Then the module's set is there, on its pool, and the pool is declared
    (declared,) = scan.sets
    assert scan.kind == "Terraform state"
    assert declared.resource == "module.mail.aws_sesv2_configuration_set.weekly"
    assert (declared.name, declared.pool, declared.tags) == ("mkt-weekly", "marketing", {})
    assert scan.pools == {"marketing"}


def test_a_plan_of_another_provider_declares_nothing() -> None:
    scan = scan_file(str(FIXTURES / "terraform" / "plan-google.json"), {})

    assert scan.sets == []
    assert scan.pools == set()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        (
            "release-notes.txt",
            "release-notes.txt: not JSON or YAML: line 2, column 1: found character '\\t'",
        ),
        (
            "unknown-tag.yaml",
            "unknown-tag.yaml: not JSON or YAML: line 8, column 26: unknown tag '!Lookup' "
            "(not a CloudFormation intrinsic function)",
        ),
        (
            "deployment.yaml",
            "deployment.yaml: neither a CloudFormation template (no Resources) nor a "
            "Terraform plan (no format_version)",
        ),
    ],
)
def test_what_is_not_a_template_or_a_plan_is_one_line_naming_the_file(
    fixture: str, message: str
) -> None:
    with pytest.raises(IacError) as raised:
        scan_file(str(FIXTURES / "bad" / fixture), {})

    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_an_unknown_long_form_intrinsic_is_unresolved_not_an_error() -> None:
    scan = scan_file(str(FIXTURES / "bad" / "unknown-intrinsic.json"), {})

    (promo,) = scan.sets
    assert promo.pool == Unresolved("unknown intrinsic function Fn::Lookup")


def test_a_template_with_no_ses_resources_declares_nothing() -> None:
    scan = scan_file(str(FIXTURES / "bad" / "no-ses.yaml"), {})

    assert (scan.sets, scan.pools) == ([], set())


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("duplicate-key.yaml", "line 6: duplicate key 'WeeklySet'"),
        ("duplicate-key.json", "duplicate key 'WeeklySet'"),
    ],
)
def test_a_key_written_twice_is_refused_rather_than_guessed(fixture: str, message: str) -> None:
    with pytest.raises(IacError, match=message):
        scan_file(str(FIXTURES / "bad" / fixture), {})


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IacError, match=r"no manifest\.json and no \*\.template\.json"):
        scan_path(str(tmp_path), {})


def test_a_binary_file_is_an_error_naming_it(tmp_path: Path) -> None:
    binary = tmp_path / "plan.out"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00tfplan")

    with pytest.raises(IacError, match=r"plan\.out: not JSON or YAML: the file is not UTF-8"):
        scan_file(str(binary), {})


def test_the_construct_path_comes_from_the_manifest_when_the_template_has_none(
    tmp_path: Path,
) -> None:
    # Given an assembly synthesized without aws:cdk:path metadata in its template
    assembly = tmp_path / "cdk.out"
    shutil.copytree(CDK, assembly)
    template = assembly / "MailStack.template.json"
    data = json.loads(template.read_text())
    for resource in data["Resources"].values():
        resource.pop("Metadata", None)
    template.write_text(json.dumps(data, indent=1))

    # When it is read
    (scan, *_) = scan_path(str(assembly), {})

    # Then each set still carries the construct its author knows, from the manifest
    sets = by_resource(scan.sets)
    assert sets["WeeklyNewsletterConfigurationSet5D1E0F6A"].construct == (
        "MailStack/WeeklyNewsletter/ConfigurationSet"
    )


def test_a_manifest_naming_a_missing_template_says_so(tmp_path: Path) -> None:
    assembly = tmp_path / "cdk.out"
    shutil.copytree(CDK, assembly)
    (assembly / "MailStack.template.json").unlink()

    with pytest.raises(IacError) as raised:
        scan_path(str(assembly), {})

    assert "names MailStack.template.json as stack MailStack's template, and the folder " in (
        str(raised.value)
    )
    assert str(raised.value).endswith("has no such file: run cdk synth again")


def test_a_declared_pool_s_scaling_mode_is_read_standard_when_absent() -> None:
    from ses_pool_enforcer.iac.cloudformation import scan

    template = {
        "Resources": {
            "Bulk": {
                "Type": "AWS::SES::DedicatedIpPool",
                "Properties": {"PoolName": "bulk", "ScalingMode": "MANAGED"},
            },
            "Plain": {"Type": "AWS::SES::DedicatedIpPool", "Properties": {"PoolName": "plain"}},
        }
    }
    found = scan("template.yaml", template, {}, {})
    assert found.pool_modes == {"bulk": "MANAGED", "plain": "STANDARD"}
