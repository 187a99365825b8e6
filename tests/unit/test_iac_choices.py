"""What a template leaves open until deploy, judged over every value it can take:
conditions decided from the parameters given or their defaults, Fn::If resolved, a
parameter's AllowedValues each judged, names with a hole (a pseudo parameter, a free
parameter) matched against the policy's globs for all their values, SSM-typed
parameters never read as their path, Fn::ForEach expanded, PinpointEmail sets read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ses_pool_enforcer.iac.declared import Unresolved
from ses_pool_enforcer.iac.patterns import every_match, hole, some_match
from ses_pool_enforcer.iac.sources import scan_file
from ses_pool_enforcer.iac.verdict import Verdict, judge
from ses_pool_enforcer.policy import parse_policy

CHOICES = Path(__file__).resolve().parents[1] / "fixtures" / "iac" / "choices"
POLICY = parse_policy((CHOICES / "policy.yaml").read_text())
NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)


def verdicts(fixture: str, **parameters: str) -> dict[str, Verdict]:
    scan = scan_file(str(CHOICES / fixture), parameters)
    return {s.resource: judge(POLICY, s, scan.pools, NOW) for s in scan.sets}


def messages(verdict: Verdict) -> str:
    return " | ".join(f.message for f in verdict.findings)


def test_an_if_on_delivery_options_is_never_read_as_no_pool_with_confidence() -> None:
    # Given DeliveryOptions: !If [IsProd, {SendingPoolName: marketing}, AWS::NoValue], and
    # Stage with AllowedValues [dev, prod] and no default
    newsletter = verdicts("if-delivery-options.yaml")["Newsletter"]

    # Then the verdict depends on Stage, and the values that disagree are named
    assert newsletter.result == "unresolved"
    assert "Stage=dev: wrong-pool (on ses-default-dedicated-pool" in messages(newsletter)
    assert "Stage=prod: compliant (on marketing)" in messages(newsletter)


@pytest.mark.parametrize(
    ("stage", "result", "pool"),
    [("prod", "compliant", "marketing"), ("dev", "wrong-pool", "ses-default-dedicated-pool")],
)
def test_a_given_parameter_decides_the_condition(stage: str, result: str, pool: str) -> None:
    newsletter = verdicts("if-delivery-options.yaml", Stage=stage)["Newsletter"]

    assert (newsletter.result, newsletter.declared.pool) == (result, pool)
    assert "Default" not in messages(newsletter)  # a given value, not a Default, decided


def test_a_condition_on_a_free_parameter_is_judged_for_each_value_it_compares_and_any_other() -> (
    None
):
    # Given IsProd: !Equals [!Ref Env, prod] and Env with no default nor AllowedValues
    free = verdicts("open-names.yaml")["FreeIf"]

    # Then Env=prod and "any other Env" are both judged, and disagree
    assert free.result == "unresolved"
    assert "Env=prod: compliant (on marketing)" in messages(free)
    assert "Env=another value: wrong-pool (on ses-default-dedicated-pool" in messages(free)


def test_an_if_whose_branches_agree_is_decided() -> None:
    digest = verdicts("if-delivery-options.yaml")["Digest"]

    assert (digest.result, digest.declared.name) == ("compliant", "digest-marketing")


def test_a_name_every_value_of_which_matches_one_rule_is_judged() -> None:
    # ${AWS::StackName}-marketing against *-marketing; ${Env}-ses-config-set against
    # *-ses-config-set (and never *-marketing)
    judged = verdicts("open-names.yaml")

    assert judged["StackSet"].result == "compliant"
    assert judged["EnvSet"].result == "compliant"
    assert judged["EnvSet"].decision is not None
    assert judged["EnvSet"].decision.rule_id == "config"


def test_an_ssm_parameter_is_never_read_as_its_path() -> None:
    judged = verdicts("open-names.yaml")

    # The pool it names is known at deploy: unresolved, never "on /mail/pools/marketing"
    assert judged["FromSsm"].result == "unresolved"
    assert "/mail/pools/marketing) at deploy: pass --parameter PoolFromSsm" in messages(
        judged["FromSsm"]
    )
    assert judged["NamedBySsm"].declared.name == hole("SetFromSsm")
    assert judged["NamedBySsm"].result == "unresolved"
    # Given its value, it is judged
    given = verdicts("open-names.yaml", PoolFromSsm="marketing")["FromSsm"]
    assert given.result == "compliant"


def test_a_resource_condition_is_named_in_its_finding_and_a_false_one_skips_the_set() -> None:
    # Env is free: ProdOnly exists when Env=prod; Pinpoint (NotProd) otherwise
    judged = verdicts("open-names.yaml")
    assert judged["ProdOnly"].result == "wrong-pool"
    assert "Condition IsProd: created only when it is true" in messages(judged["ProdOnly"])

    # Given Env=prod, the Pinpoint set is not created: skipped, and said so
    scan = scan_file(str(CHOICES / "open-names.yaml"), {"Env": "prod"})
    assert "Pinpoint" not in {s.resource for s in scan.sets}
    assert scan.notes == [
        "Resources.Pinpoint: not created: its Condition NotProd is false with the parameters given"
    ]


def test_a_pinpoint_email_set_is_read_like_an_ses_set() -> None:
    pinpoint = verdicts("open-names.yaml")["Pinpoint"]

    assert (pinpoint.declared.name, pinpoint.declared.pool) == (
        "pinpoint-marketing",
        "ses-shared-pool",
    )
    assert pinpoint.result == "wrong-pool"


def test_for_each_is_expanded_and_a_loop_it_cannot_expand_is_reported() -> None:
    scan = scan_file(str(CHOICES / "for-each.yaml"), {})

    assert {s.resource: s.name for s in scan.sets} == {
        "weeklySet": "weekly-marketing",
        "dailySet": "daily-marketing",
    }
    assert scan.notes == [
        "Resources.Fn::ForEach::Unknown: not checked: its collection Fn::Split is "
        "evaluated at deploy"
    ]
    # Given the list, the loop follows it
    scan = scan_file(str(CHOICES / "for-each.yaml"), {"Streams": "promo"})
    assert [s.name for s in scan.sets] == ["promo-marketing"]


@pytest.mark.parametrize(
    ("pattern", "glob", "every", "some"),
    [
        (hole("AWS::StackName") + "-marketing", "*-marketing", True, True),
        (hole("AWS::StackName") + "-marketing", "mkt-*", False, True),  # "mkt-x-marketing"
        ("newsletter-" + hole("Env"), "newsletter-*", True, True),
        ("newsletter-" + hole("Env"), "promo-*", False, False),
        ("newsletter-" + hole("Env"), "newsletter-?", False, True),
        (hole("Env") + "-ses-config-set", "*-marketing", False, False),
        ("a" + hole("X") + "b", "a*b", True, True),
        ("a" + hole("X") + "b", "a[xy]b", False, True),
        ("plain", "pl*", True, True),
        ("plain", "x*", False, False),
    ],
)
def test_a_glob_matches_every_value_of_a_name_some_or_none(
    pattern: str, glob: str, every: bool, some: bool
) -> None:
    assert (every_match(pattern, glob), some_match(pattern, glob)) == (every, some)


def test_conditions_combine_with_and_or_not(tmp_path: Path) -> None:
    # Given conditions built from Equals with And, Or, Not and Condition
    template = tmp_path / "t.yaml"
    template.write_text(
        "Parameters:\n"
        "  Stage: {Type: String, Default: prod}\n"
        "  Region: {Type: String, Default: eu-west-1}\n"
        "Conditions:\n"
        "  IsProd: !Equals [!Ref Stage, prod]\n"
        "  InEu: !Or [!Equals [!Ref Region, eu-west-1], !Equals [!Ref Region, eu-central-1]]\n"
        "  ProdInEu: !And [!Condition IsProd, !Condition InEu]\n"
        "  Elsewhere: !Not [!Condition ProdInEu]\n"
        "Resources:\n"
        "  S:\n"
        "    Type: AWS::SES::ConfigurationSet\n"
        "    Properties:\n"
        "      Name: !If [ProdInEu, eu-marketing, !If [Elsewhere, other, never]]\n"
    )

    # Then each decides from the defaults, and from given values
    assert [s.name for s in scan_file(str(template), {}).sets] == ["eu-marketing"]
    assert [s.name for s in scan_file(str(template), {"Region": "us-east-1"}).sets] == ["other"]
    undeclared = tmp_path / "u.yaml"
    undeclared.write_text(
        "Resources:\n  S:\n    Type: AWS::SES::ConfigurationSet\n"
        "    Properties: {Name: !If [Nowhere, a, b]}\n"
    )
    (declared,) = scan_file(str(undeclared), {}).sets
    assert declared.name == Unresolved(
        "Fn::If on condition Nowhere: condition Nowhere is not declared"
    )


def test_a_pool_named_by_an_open_parameter_is_declared_under_each_of_its_values() -> None:
    # Given PoolName !Sub "mkt-${Stage}" and Stage with AllowedValues [dev, prod]
    verdict = verdicts("pool-per-stage.yaml")["Set"]

    # Then each stage's set finds its stage's pool: wrong pool, never undefined
    assert verdict.result == "wrong-pool"
    assert [f.check.value for f in verdict.findings] == ["wrong-pool", "wrong-pool"]
    assert "on mkt-dev" in verdict.findings[0].message
    assert verdict.findings[0].message.endswith("(when Stage=dev)")


def test_a_condition_on_text_built_around_an_open_value_is_not_decided(tmp_path: Path) -> None:
    # Given a condition comparing "${Env}-eu" (Env free) with a text
    template = tmp_path / "t.yaml"
    template.write_text(
        "Parameters:\n  Env: {Type: String}\n"
        'Conditions:\n  ProdEu: !Equals [!Sub "${Env}-eu", prod-eu]\n'
        "Resources:\n  S:\n    Type: AWS::SES::ConfigurationSet\n"
        "    Properties: {Name: !If [ProdEu, a-marketing, b]}\n"
    )

    # Then the If is unresolved, never guessed either way
    (declared,) = scan_file(str(template), {}).sets
    assert declared.name == Unresolved(
        "Fn::If on condition ProdEu: Fn::Equals on ${Env}-eu and prod-eu: decided at deploy"
    )
