"""Issue 9, item 3: a rule's or an exemption's scope (accounts, organizational_units,
regions). Additive to format v1: every document without these keys parses as before and
decides the same in every lane."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from ses_pool_enforcer.evaluation import evaluate, evaluate_identity
from ses_pool_enforcer.model import UNKNOWN_LANE, ConfigurationSet, Identity, Lane
from ses_pool_enforcer.policy import Policy, PolicyError, parse_policy
from tests.unit.test_policy import policy_documents

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
ACCOUNT = "111122223333"
OU = "ou-ab12-cdefgh12"
ROOT_ID = "r-ab12"


def _errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value.errors


def _rule(match: str) -> str:
    return f"version: 1\nrules: [{{id: a, match: {match}, pool: p}}]"


# --- valid ------------------------------------------------------------------------------


def test_a_match_may_name_accounts_organizational_units_and_regions() -> None:
    # Given a rule scoped by every key, next to names and tags
    text = _rule(
        f"{{names: [mkt-*], tags: {{stream: marketing}}, accounts: ['{ACCOUNT}', '000011112222'], "
        f"organizational_units: [{OU}, {ROOT_ID}], regions: [eu-*, us-east-1]}}"
    )

    # When it is parsed
    match = parse_policy(text).rules[0].match

    # Then every key is kept as written
    assert match.accounts == [ACCOUNT, "000011112222"]
    assert match.organizational_units == [OU, ROOT_ID]
    assert match.regions == ["eu-*", "us-east-1"]
    assert match.names == ["mkt-*"]


@pytest.mark.parametrize(
    "match",
    [
        f"{{accounts: ['{ACCOUNT}']}}",
        f"{{organizational_units: [{OU}]}}",
        "{regions: ['eu-*']}",
    ],
)
def test_a_match_with_only_scope_keys_is_valid(match: str) -> None:
    # Given a match naming where, and no names or tags (every set there)
    # When it is parsed, Then it is accepted
    assert parse_policy(_rule(match)).rules[0].match.scoped()


def test_exemptions_and_identity_rules_take_the_same_scope() -> None:
    policy = parse_policy(
        f"""
version: 1
identities:
  - id: news
    match: {{identities: [news.example.com], accounts: ['{ACCOUNT}'], regions: [eu-*]}}
    configuration_set: mkt-news
  - id: anywhere-in-ou
    match: {{organizational_units: [{OU}]}}
    default_configuration_set: required
exemptions:
  - {{configuration_set: legacy-*, reason: OPS-42, expires: 2027-01-31,
      accounts: ['{ACCOUNT}'], organizational_units: [{OU}], regions: [us-east-1]}}
"""
    )
    assert policy.exemptions[0].accounts == [ACCOUNT]
    assert policy.exemptions[0].organizational_units == [OU]
    assert policy.identities is not None
    assert policy.identities[0].match.regions == ["eu-*"]
    assert policy.names_organizational_units() and policy.names_accounts()


def test_the_policy_says_which_scope_it_needs_to_know() -> None:
    accounts = parse_policy(_rule(f"{{accounts: ['{ACCOUNT}']}}"))
    regions = parse_policy(_rule("{regions: [eu-*]}"))
    ous = parse_policy(
        "version: 1\nexemptions: [{configuration_set: x, reason: r, expires: 2027-01-01, "
        f"organizational_units: [{OU}]}}]"
    )
    assert (accounts.names_accounts(), accounts.names_organizational_units()) == (True, False)
    assert (regions.names_accounts(), regions.names_organizational_units()) == (False, False)
    assert (ous.names_accounts(), ous.names_organizational_units()) == (True, True)


# --- invalid ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        (
            "{accounts: ['12345']}",
            "rules[0].match.accounts: '12345' is not an AWS account id (12 digits)",
        ),
        (
            "{accounts: ['1111222233334']}",
            "rules[0].match.accounts: '1111222233334' is not an AWS account id (12 digits)",
        ),
        (
            "{accounts: ['arn:aws:iam::111122223333:root']}",
            "'arn:aws:iam::111122223333:root' is not an AWS account id",
        ),
        (
            f"{{accounts: [{ACCOUNT}]}}",  # YAML reads it as a number
            f"rules[0].match.accounts: account id {ACCOUNT} must be a quoted string: '{ACCOUNT}'",
        ),
        ("{accounts: []}", "rules[0].match.accounts: List should have at least 1 item"),
        (
            "{organizational_units: [ou-1]}",
            "rules[0].match.organizational_units: 'ou-1' is not an organizational unit id "
            "(ou-xxxx-xxxxxxxx) or a root id (r-xxxx)",
        ),
        ("{organizational_units: [OU-AB12-CDEFGH12]}", "'OU-AB12-CDEFGH12' is not an"),
        ("{organizational_units: [o-ab12cdefgh]}", "'o-ab12cdefgh' is not an"),
        (
            "{regions: [EU-*]}",
            "rules[0].match.regions: 'EU-*' is not a region or a glob on region names",
        ),
        ("{regions: ['eu west']}", "'eu west' is not a region"),
        ("{account: ['111122223333']}", "rules[0].match.account: unknown field"),
    ],
)
def test_bad_scope_values_are_refused_naming_field_and_value(match: str, expected: str) -> None:
    errors = _errors_of(_rule(match))
    assert any(expected in line for line in errors), errors


def test_an_exemption_scope_is_validated_the_same_way() -> None:
    errors = _errors_of(
        "version: 1\nexemptions: [{configuration_set: x, reason: r, expires: 2027-01-01, "
        "accounts: ['1']}]"
    )
    assert errors == ["exemptions[0].accounts: '1' is not an AWS account id (12 digits)"]


# --- every version 1 document keeps its meaning ----------------------------------------

DOCUMENTS = [
    ROOT / "examples" / "policy.yaml",
    ROOT / "examples" / "policy.json",
    ROOT / "demo" / "policy.yaml",
    ROOT / "tests" / "fixtures" / "iac" / "policy.yaml",
    ROOT / "tests" / "fixtures" / "iac" / "policy-by-tag.yaml",
]
LANES = [
    UNKNOWN_LANE,
    Lane(ACCOUNT, "eu-west-1", frozenset({OU, ROOT_ID})),
    Lane("999988887777", "us-east-1", None, "AccessDenied"),
]
SETS = [
    ConfigurationSet(name, pool, tags=tags)
    for name in ("mkt-news", "newsletter", "tx-receipts", "legacy-app", "ops", "list-a")
    for pool in ("marketing", "transactional", "ses-default-dedicated-pool")
    for tags in ({}, {"stream": "marketing"}, {"stream": "bulk", "tier": "bulk"})
]


def _scope_keys(data: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(data, dict):
        found |= {"accounts", "organizational_units", "regions"} & set(data)
        for value in data.values():
            found |= _scope_keys(value)
    elif isinstance(data, list):
        for value in data:
            found |= _scope_keys(value)
    return found


def _decides_alike_in_every_lane(policy: Policy) -> None:
    for cs in SETS:
        decisions = {evaluate(policy, cs, NOW, lane=lane) for lane in LANES}
        assert len(decisions) == 1, (cs, decisions)
    for identity in (Identity("news.example.com", "mkt-news"), Identity("a@b.c")):
        answers = {evaluate_identity(policy, identity, NOW, lane=lane) for lane in LANES}
        assert len(answers) == 1, (identity, answers)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_committed_v1_document_parses_unscoped_and_decides_alike_everywhere(
    path: Path,
) -> None:
    # Given a document written before scope existed
    policy = parse_policy(path.read_text())

    # Then it carries no scope, stores the same canonical JSON (no new keys), and its
    # decisions do not depend on the lane
    assert not any(scope.scoped() for scope in policy.scopes())
    assert not _scope_keys(json.loads(policy.to_json()))
    assert not policy.names_accounts() and not policy.names_organizational_units()
    _decides_alike_in_every_lane(policy)


@given(policy_documents())
def test_any_generated_v1_document_decides_alike_in_every_lane(document: dict[str, Any]) -> None:
    _decides_alike_in_every_lane(parse_policy(json.dumps(document)))
