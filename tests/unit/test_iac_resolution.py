"""Issue 10: how far a template decides a value before deploy (intrinsic functions), and
where each key of a JSON or YAML document is written."""

from __future__ import annotations

from typing import Any

import pytest

from ses_pool_enforcer.iac.cfn_yaml import load_yaml
from ses_pool_enforcer.iac.cloudformation import Template
from ses_pool_enforcer.iac.declared import Position, Unresolved
from ses_pool_enforcer.iac.json_positions import json_positions
from ses_pool_enforcer.iac.patterns import hole, shown

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "dev"}, "Team": {"Type": "String"}},
    "Mappings": {"Pools": {"prod": {"Marketing": "marketing"}, "dev": {"Marketing": "mkt-dev"}}},
    "Resources": {
        "Pool": {"Type": "AWS::SES::DedicatedIpPool", "Properties": {"PoolName": "marketing"}},
        "Unnamed": {"Type": "AWS::SES::DedicatedIpPool"},
        "Topic": {"Type": "AWS::SNS::Topic"},
    },
}


def resolve(value: Any, **parameters: str) -> str | Unresolved:
    return Template(TEMPLATE, parameters).resolve(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Pool"}, "marketing"),
        ({"Fn::GetAtt": ["Pool", "PoolName"]}, "marketing"),
        ({"Ref": "Stage"}, "dev"),
        ({"Fn::Sub": "mkt-${Stage}"}, "mkt-dev"),
        ({"Fn::Sub": "${Pool}-${Stage}"}, "marketing-dev"),
        ({"Fn::Sub": ["${Prefix}-weekly", {"Prefix": {"Ref": "Pool"}}]}, "marketing-weekly"),
        ({"Fn::Sub": "cost-${!Literal}"}, "cost-${Literal}"),
        ({"Fn::Join": ["-", ["mkt", {"Ref": "Stage"}]]}, "mkt-dev"),
        ({"Fn::Select": [1, ["a", {"Ref": "Pool"}]]}, "marketing"),
        ({"Fn::FindInMap": ["Pools", {"Ref": "Stage"}, "Marketing"]}, "mkt-dev"),
    ],
)
def test_what_the_template_decides_resolves(value: Any, expected: str) -> None:
    assert resolve(value) == expected


def test_given_parameters_win_over_defaults_and_fill_pseudo_parameters() -> None:
    assert resolve({"Fn::Sub": "mkt-${Stage}"}, Stage="prod") == "mkt-prod"
    assert resolve({"Fn::Sub": "${AWS::Region}-mail"}, **{"AWS::Region": "eu-west-1"}) == (
        "eu-west-1-mail"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"Ref": "Unnamed"}, "pool Unnamed has no PoolName: CloudFormation generates one"),
        ({"Ref": "Topic"}, "Ref to Topic (AWS::SNS::Topic) is known at deploy"),
        ({"Ref": "Nowhere"}, "Ref to Nowhere, which the template does not declare"),
        ({"Fn::GetAtt": ["Topic", "TopicName"]}, "Fn::GetAtt Topic.TopicName is known at deploy"),
        (
            {"Fn::If": ["IsProd", "a", "b"]},
            "Fn::If on condition IsProd: condition IsProd is not declared",
        ),
        ({"Fn::ImportValue": "shared-pool"}, "Fn::ImportValue is evaluated at deploy"),
        ({"Fn::Lookup": "x"}, "unknown intrinsic function Fn::Lookup"),
        ({"Fn::Select": [5, ["a"]]}, "Fn::Select index 5 is outside the list"),
        (
            {"Fn::FindInMap": ["Pools", "test", "Marketing"]},
            "Fn::FindInMap: no 'test' in the mapping",
        ),
        (["a", "b"], "not a string: ['a', 'b']"),
    ],
)
def test_what_only_a_deploy_decides_is_unresolved(value: Any, reason: str) -> None:
    assert resolve(value) == Unresolved(reason)


def test_a_parameter_or_pseudo_parameter_with_no_value_is_a_hole_in_the_text() -> None:
    # A free parameter or a pseudo parameter leaves a hole that globs are judged against
    assert shown(str(resolve({"Fn::Join": ["-", [{"Ref": "Team"}, "digest"]]}))) == (
        "${Team}-digest"
    )
    assert resolve({"Fn::Sub": "${AWS::StackName}-mail"}) == hole("AWS::StackName") + "-mail"
    assert resolve({"Ref": "Team"}) == hole("Team")


def test_short_form_tags_read_as_their_long_forms() -> None:
    # When YAML with short-form tags is loaded
    data, _ = load_yaml(
        "a: !Ref Pool\n"
        "b: !GetAtt Pool.PoolName\n"
        'c: !Sub ["${X}", {X: !Ref Stage}]\n'
        "d: !If [IsProd, !Ref Pool, !Ref AWS::NoValue]\n"
        "e: 2010-09-09\n"
    )

    # Then each is its long form, and a date stays text as CloudFormation reads it
    assert data == {
        "a": {"Ref": "Pool"},
        "b": {"Fn::GetAtt": ["Pool", "PoolName"]},
        "c": {"Fn::Sub": ["${X}", {"X": {"Ref": "Stage"}}]},
        "d": {"Fn::If": ["IsProd", {"Ref": "Pool"}, {"Ref": "AWS::NoValue"}]},
        "e": "2010-09-09",
    }


def test_yaml_keys_are_located_by_the_loader_marks() -> None:
    _, positions = load_yaml("Resources:\n  # a comment\n  Set:\n    Type: X\n  Other: {Type: Y}\n")

    assert positions[("Resources", "Set")] == Position(3, 3)
    assert positions[("Resources", "Set", "Type")] == Position(4, 5)
    assert positions[("Resources", "Other", "Type")] == Position(5, 11)


def test_json_keys_and_items_are_located_in_characters() -> None:
    # Given JSON with escapes, nesting, an empty container and a non-ASCII name
    text = '{"a\\"b": [1, {"k": []}],\n "é": {"x": "y,}"},\n  "z": [[], "w"]}'

    # When its positions are found
    positions = json_positions(text, 200)

    # Then every key and array item is where it is written
    assert positions[('a"b',)] == Position(1, 2)
    assert positions[('a"b', 0)] == Position(1, 11)
    assert positions[('a"b', 1)] == Position(1, 14)
    assert positions[('a"b', 1, "k")] == Position(1, 15)
    assert positions[("é",)] == Position(2, 2)
    assert positions[("é", "x")] == Position(2, 8)
    assert positions[("z",)] == Position(3, 3)
    assert positions[("z", 0)] == Position(3, 9)
    assert positions[("z", 1)] == Position(3, 13)
