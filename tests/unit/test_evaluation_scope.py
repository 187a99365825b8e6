"""Issue 9, item 3: ``evaluate`` in a lane. A scoped rule or exemption applies only in
its accounts, regions and organizational units (or below); when that depends on what the
lane does not know, the set is not decided: an error, never a later rule."""

from __future__ import annotations

import datetime as dt

import pytest

from ses_pool_enforcer.evaluation import evaluate, evaluate_identity, matching_rule
from ses_pool_enforcer.model import UNKNOWN_LANE, Action, ConfigurationSet, Identity, Lane, Outcome
from ses_pool_enforcer.policy import parse_policy

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
HERE = "111122223333"
ELSEWHERE = "444455556666"
ROOT = "r-ab12"
PROD = "ou-ab12-prod0001"  # under the root
PROD_EU = "ou-ab12-prodeu01"  # under PROD
SANDBOX = "ou-ab12-sandbox1"  # under the root
# An account in PROD_EU: its ancestry is every OU above it and the root.
IN_PROD_EU = Lane(HERE, "eu-west-1", frozenset({PROD_EU, PROD, ROOT}))


def _policy(rules: str, exemptions: str = "[]", default: str = "") -> str:
    return f"version: 1\nmode: enforce\n{default}rules: {rules}\nexemptions: {exemptions}\n"


def _set(name: str = "mkt-news", pool: str = "shared") -> ConfigurationSet:
    return ConfigurationSet(name, pool)


def _rule_id(text: str, lane: Lane, cs: ConfigurationSet | None = None) -> str | None:
    return evaluate(parse_policy(text), cs or _set(), NOW, lane=lane).rule_id


FALLBACK = "{id: everywhere, match: {names: ['*']}, pool: fallback}"


@pytest.mark.parametrize(
    ("accounts", "expected"),
    [
        ([HERE], "scoped"),
        ([ELSEWHERE, HERE], "scoped"),  # any of them
        ([ELSEWHERE], "everywhere"),
    ],
)
def test_accounts_any_of(accounts: list[str], expected: str) -> None:
    listed = ", ".join(f"'{a}'" for a in accounts)
    text = _policy(
        f"[{{id: scoped, match: {{names: [mkt-*], accounts: [{listed}]}}, pool: p}}, {FALLBACK}]"
    )
    assert _rule_id(text, IN_PROD_EU) == expected


@pytest.mark.parametrize(
    ("regions", "region", "matched"),
    [
        ("[eu-*]", "eu-west-1", True),
        ("[eu-*]", "us-east-1", False),
        ("[us-east-1, 'eu-central-?']", "eu-central-1", True),
        ("[us-east-1, 'eu-central-?']", "eu-central-12", False),
        ("['eu-west-[12]']", "eu-west-2", True),
        ("['eu-west-[12]']", "eu-west-3", False),
        ("[eu-west-1]", "eu-west-10", False),  # a glob matches the whole name
    ],
)
def test_regions_any_of_globs(regions: str, region: str, matched: bool) -> None:
    text = _policy(f"[{{id: scoped, match: {{regions: {regions}}}, pool: p}}, {FALLBACK}]")
    lane = Lane(HERE, region, frozenset({ROOT}))
    assert _rule_id(text, lane) == ("scoped" if matched else "everywhere")


@pytest.mark.parametrize(
    ("ous", "matched"),
    [
        (f"[{PROD_EU}]", True),  # the account's own OU
        (f"[{PROD}]", True),  # an OU above it: "in that OU or below"
        (f"[{ROOT}]", True),  # the root holds every account
        (f"[{SANDBOX}]", False),  # a sibling OU
        (f"[{SANDBOX}, {PROD}]", True),  # any of them
    ],
)
def test_organizational_units_match_the_ou_or_below(ous: str, matched: bool) -> None:
    text = _policy(f"[{{id: scoped, match: {{organizational_units: {ous}}}, pool: p}}, {FALLBACK}]")
    assert _rule_id(text, IN_PROD_EU) == ("scoped" if matched else "everywhere")


def test_an_account_directly_under_a_parent_ou_is_not_in_its_child() -> None:
    # Given an account directly in PROD (not in PROD_EU below it)
    in_prod = Lane(HERE, "eu-west-1", frozenset({PROD, ROOT}))
    text = _policy(
        f"[{{id: scoped, match: {{organizational_units: [{PROD_EU}]}}, pool: p}}, {FALLBACK}]"
    )
    # Then a rule for the child OU does not apply to it
    assert _rule_id(text, in_prod) == "everywhere"


def test_every_given_key_must_hold_together_with_names_and_tags() -> None:
    rules = (
        f"[{{id: scoped, match: {{names: [mkt-*], tags: {{stream: marketing}}, "
        f"accounts: ['{HERE}'], regions: [eu-*], organizational_units: [{PROD}]}}, pool: p}}, "
        f"{FALLBACK}]"
    )
    text = _policy(rules)
    tagged = ConfigurationSet("mkt-news", "shared", tags={"stream": "marketing"})
    assert _rule_id(text, IN_PROD_EU, tagged) == "scoped"
    # each condition failing alone is enough to skip the rule
    assert _rule_id(text, IN_PROD_EU, _set()) == "everywhere"  # tags
    assert _rule_id(text, IN_PROD_EU, ConfigurationSet("tx-a", "s", tags=tagged.tags)) == (
        "everywhere"
    )
    for lane in (
        Lane(ELSEWHERE, "eu-west-1", IN_PROD_EU.organizational_units),
        Lane(HERE, "us-east-1", IN_PROD_EU.organizational_units),
        Lane(HERE, "eu-west-1", frozenset({SANDBOX, ROOT})),
    ):
        assert _rule_id(text, lane, tagged) == "everywhere", lane


def test_an_exemption_scoped_to_another_account_does_not_apply_here() -> None:
    exemptions = (
        f"[{{configuration_set: mkt-*, reason: OPS-1, expires: 2027-01-31, "
        f"accounts: ['{ELSEWHERE}']}}]"
    )
    text = _policy("[{id: marketing, match: {names: [mkt-*]}, pool: marketing}]", exemptions)
    here = evaluate(parse_policy(text), _set(), NOW, lane=IN_PROD_EU)
    there = evaluate(parse_policy(text), _set(), NOW, lane=Lane(ELSEWHERE, "eu-west-1"))
    assert (here.outcome, here.action, here.rule_id) == (
        Outcome.REMEDIATED,
        Action.REASSIGN,
        "marketing",
    )
    assert there.outcome is Outcome.EXEMPT


def test_an_exemption_scoped_by_region_and_ou() -> None:
    exemptions = (
        f"[{{configuration_set: mkt-*, reason: OPS-1, expires: 2027-01-31, regions: [eu-*], "
        f"organizational_units: [{PROD}]}}]"
    )
    policy = parse_policy(_policy(f"[{FALLBACK}]", exemptions))
    assert evaluate(policy, _set(), NOW, lane=IN_PROD_EU).outcome is Outcome.EXEMPT
    us = Lane(HERE, "us-east-1", IN_PROD_EU.organizational_units)
    assert evaluate(policy, _set(), NOW, lane=us).rule_id == "everywhere"


# --- unknown: not decided, never a later rule or the default ----------------------------

UNKNOWN_OUS = Lane(HERE, "eu-west-1", None, "organizations:ListParents refused: AccessDenied")


def test_unknown_ancestry_makes_an_ou_rule_an_error_not_a_later_rule() -> None:
    # Given an OU rule before a rule and a default that would also match
    text = _policy(
        f"[{{id: prod-marketing, match: {{names: [mkt-*], organizational_units: [{PROD}]}}, "
        f"pool: marketing}}, {FALLBACK}]",
        default="default: {pool: ses-default-dedicated-pool}\n",
    )

    # When the account's OUs cannot be read
    decision = evaluate(parse_policy(text), _set(), NOW, lane=UNKNOWN_OUS)

    # Then the set is not decided: an error naming the rule and the cause, and no move
    assert decision.outcome is Outcome.ERROR
    assert decision.action is Action.NONE
    assert decision.expected_pool is None
    assert decision.rule_id == "prod-marketing"
    assert "rule 'prod-marketing' names organizational_units" in decision.reason
    assert f"account {HERE}" in decision.reason
    assert "organizations:ListParents refused: AccessDenied" in decision.reason
    assert "not decided" in decision.reason


def test_unknown_ancestry_does_not_matter_where_names_or_known_keys_already_say_no() -> None:
    text = _policy(
        f"[{{id: tx-prod, match: {{names: [tx-*], organizational_units: [{PROD}]}}, pool: tx}}, "
        f"{{id: other-account, match: {{accounts: ['{ELSEWHERE}'], organizational_units: "
        f"[{PROD}]}}, pool: tx}}, {FALLBACK}]"
    )
    # mkt-news is not tx-*, and this is not the other account: both rules certainly do not
    # match, whatever the OUs
    assert _rule_id(text, UNKNOWN_OUS) == "everywhere"


def test_an_earlier_certain_match_decides_before_an_unknown_ou_rule() -> None:
    text = _policy(
        f"[{FALLBACK}, {{id: prod, match: {{organizational_units: [{PROD}]}}, pool: p}}]"
    )
    assert _rule_id(text, UNKNOWN_OUS) == "everywhere"


def test_unknown_ancestry_makes_a_matching_ou_exemption_an_error() -> None:
    exemptions = (
        f"[{{configuration_set: mkt-*, reason: OPS-1, expires: 2027-01-31, "
        f"organizational_units: [{PROD}]}}]"
    )
    decision = evaluate(
        parse_policy(_policy(f"[{FALLBACK}]", exemptions)), _set(), NOW, lane=UNKNOWN_OUS
    )
    assert (decision.outcome, decision.action) == (Outcome.ERROR, Action.NONE)
    assert "the exemption for 'mkt-*' names organizational_units" in decision.reason


def test_an_unknown_account_or_region_is_not_guessed_either() -> None:
    text = _policy(
        f"[{{id: here, match: {{accounts: ['{HERE}'], regions: [eu-*]}}, pool: p}}, {FALLBACK}]"
    )
    decision = evaluate(parse_policy(text), _set(), NOW, lane=UNKNOWN_LANE)
    assert decision.outcome is Outcome.ERROR
    assert "accounts, and the account is unknown" in decision.reason
    assert "regions, and the region is unknown" in decision.reason


def test_matching_rule_raises_rather_than_return_a_later_rule() -> None:
    from ses_pool_enforcer.evaluation import Undecidable

    text = _policy(
        f"[{{id: prod, match: {{organizational_units: [{PROD}]}}, pool: p}}, {FALLBACK}]"
    )
    with pytest.raises(Undecidable) as caught:
        matching_rule(parse_policy(text), _set(), UNKNOWN_OUS)
    assert caught.value.rule_id == "prod"


# --- identities -------------------------------------------------------------------------

IDENTITY_POLICY = f"""
version: 1
mode: enforce
identities:
  - id: prod-news
    match: {{identities: [news.example.com], organizational_units: [{PROD}]}}
    configuration_set: mkt-news
  - id: eu-only
    match: {{regions: [eu-*], accounts: ['{HERE}']}}
    default_configuration_set: required
exemptions:
  - {{identity: "*.example.org", reason: OPS-2, expires: 2027-01-31, accounts: ['{ELSEWHERE}']}}
"""


def test_identity_rules_are_scoped_the_same_way() -> None:
    policy = parse_policy(IDENTITY_POLICY)
    news = Identity("news.example.com", None)
    assert evaluate_identity(policy, news, NOW, lane=IN_PROD_EU).rule_id == "prod-news"
    sandbox = Lane(HERE, "eu-west-1", frozenset({SANDBOX, ROOT}))
    assert evaluate_identity(policy, news, NOW, lane=sandbox).rule_id == "eu-only"
    us = Lane(HERE, "us-east-1", frozenset({SANDBOX, ROOT}))
    assert evaluate_identity(policy, news, NOW, lane=us).outcome is Outcome.UNMANAGED
    # the exemption is for another account's identities
    org = Identity("a.example.org", None)
    assert evaluate_identity(policy, org, NOW, lane=sandbox).outcome is Outcome.VIOLATION


def test_an_identity_ou_rule_with_unknown_ancestry_is_an_error() -> None:
    decision = evaluate_identity(
        parse_policy(IDENTITY_POLICY), Identity("news.example.com"), NOW, lane=UNKNOWN_OUS
    )
    assert (decision.outcome, decision.action, decision.rule_id) == (
        Outcome.ERROR,
        Action.NONE,
        "prod-news",
    )
    assert "identity rule 'prod-news' names organizational_units" in decision.reason
