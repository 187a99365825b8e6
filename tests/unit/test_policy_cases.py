"""Issue 10: policy tests: the cases file's strict schema, and each case decided by
``evaluate`` and compared with what it expects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ses_pool_enforcer.policy import parse_policy
from ses_pool_enforcer.policy_cases import CasesError, parse_cases, run_case

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "fixtures" / "cases"
EXAMPLE_POLICY = parse_policy((ROOT / "examples" / "policy.yaml").read_text())
TODAY = dt.date(2026, 11, 26)


def test_the_examples_cases_all_hold_for_the_example_policy() -> None:
    cases = parse_cases((ROOT / "examples" / "policy.tests.yaml").read_text())

    results = [run_case(EXAMPLE_POLICY, c, i, TODAY) for i, c in enumerate(cases.cases)]

    assert cases.policy == "policy.yaml"
    assert [r.differences for r in results] == [[]] * len(results)


def test_a_case_that_no_longer_holds_names_each_difference() -> None:
    # Given cases written for an older policy
    cases = parse_cases((CASES / "drifted.tests.yaml").read_text())

    # When they are run against the example policy
    results = [run_case(EXAMPLE_POLICY, c, i, TODAY) for i, c in enumerate(cases.cases)]

    # Then only what differs is reported, each with what was expected and what came
    assert [r.label for r in results] == [
        "receipts are moved back to the transactional pool",
        "cases[1] mkt-weekly",
        "cases[2] ops-alerts",
    ]
    assert results[0].differences == ["outcome: expected remediated, got violation"]
    assert results[1].differences == [
        "outcome: expected remediated, got violation",
        "rule: expected marketing, got default",
        "pool: expected marketing, got ses-default-dedicated-pool",
    ]
    assert results[2].passed


def test_a_case_is_judged_on_its_date() -> None:
    # Given the same legacy set on the exemption's last day and the day after
    cases = parse_cases(
        "cases:\n"
        "  - {set: {name: legacy-billing, pool: marketing}, date: 2027-12-31,"
        " expect: {outcome: exempt}}\n"
        "  - {set: {name: legacy-billing, pool: marketing}, date: 2028-01-01,"
        " expect: {outcome: exempt}}\n"
    )

    first, second = (run_case(EXAMPLE_POLICY, c, i, TODAY) for i, c in enumerate(cases.cases))

    assert first.passed
    assert second.differences == ["outcome: expected exempt, got violation"]


def test_without_a_date_a_case_is_judged_today() -> None:
    cases = parse_cases("cases: [{set: {name: legacy-billing}, expect: {outcome: exempt}}]")

    before = run_case(EXAMPLE_POLICY, cases.cases[0], 0, dt.date(2027, 12, 31))
    after = run_case(EXAMPLE_POLICY, cases.cases[0], 0, dt.date(2028, 1, 1))

    assert (before.passed, after.passed) == (True, False)


def test_unknown_keys_are_refused_with_their_field_named() -> None:
    with pytest.raises(CasesError) as raised:
        parse_cases((CASES / "typo.tests.yaml").read_text())

    assert raised.value.errors == [
        "cases[1].set.acount: unknown field (did you mean 'account'?)",
        "cases[1].expect.rul: unknown field (did you mean 'rule'?)",
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("cases: []", "cases: List should have at least 1 item after validation, not 0"),
        ("policy: p.yaml", "cases: Field required"),
        (
            "cases: [{set: {name: a}, expect: {outcome: erorr}}]",
            "cases[0].expect.outcome: Input should be 'compliant', 'remediated', 'violation', "
            "'exempt', 'unmanaged' or 'error'",
        ),
        ("cases: [{set: {name: a}}]", "cases[0].expect: Field required"),
        (
            "cases: [{set: {name: a, pool: 'not a pool'}, expect: {outcome: compliant}}]",
            "cases[0].set.pool: String should match pattern '^[A-Za-z0-9_-]{1,64}$', got "
            "'not a pool'",
        ),
        (
            "cases: [{set: {name: a}, date: 2027-02-30, expect: {outcome: compliant}}]",
            "cases[0].date: Input should be a valid date or datetime, day value is outside "
            "expected range",
        ),
    ],
)
def test_an_invalid_cases_file_names_the_field(text: str, error: str) -> None:
    with pytest.raises(CasesError) as raised:
        parse_cases(text)

    assert raised.value.errors == [error]


@pytest.mark.parametrize("text", ["- a\n- b\n", "cases: [unclosed\n"])
def test_what_is_not_a_cases_mapping_is_refused(text: str) -> None:
    with pytest.raises(CasesError, match="cases file"):
        parse_cases(text)


def test_a_case_may_say_where_its_set_lives_for_scoped_rules() -> None:
    # Given a rule for one OU and the root's id, and cases in and out of it
    policy = parse_policy(
        "version: 1\nmode: enforce\nrules:\n"
        "  - {id: prod, match: {names: [mkt-*], organizational_units: [ou-ab12-prod0001],"
        " regions: [eu-*]}, pool: marketing}\n"
        "default: {pool: ses-shared-pool}\n"
    )
    cases = parse_cases(
        """
cases:
  - set: {name: mkt-a, pool: marketing, account: '111122223333', region: eu-west-1,
          organizational_units: [ou-ab12-prodeu01, ou-ab12-prod0001, r-ab12]}
    expect: {outcome: compliant, rule: prod}
  - set: {name: mkt-a, pool: marketing, region: us-east-1,
          organizational_units: [ou-ab12-prod0001, r-ab12]}
    expect: {outcome: remediated, rule: default}
  - set: {name: mkt-a, pool: marketing, region: eu-west-1}
    expect: {outcome: compliant, rule: prod}
"""
    )
    today = dt.date(2026, 11, 26)

    # When each is run
    results = [run_case(policy, case, i, today) for i, case in enumerate(cases.cases)]

    # Then the lane decides, and a case that does not give the OUs the rule needs fails
    # with the reason, not with a guess
    assert [r.passed for r in results] == [True, True, False]
    assert results[2].differences == ["outcome: expected compliant, got error"]
    assert "not given in the case" in results[2].decision.reason


def test_a_case_may_expect_that_the_policy_cannot_decide() -> None:
    # Given a rule scoped by region, and a case that does not say where its set lives
    policy = parse_policy(
        "version: 1\nmode: enforce\nrules:\n"
        "  - {id: eu, match: {names: [mkt-*], regions: [eu-*]}, pool: marketing}\n"
    )
    cases = parse_cases(
        "cases:\n"
        "  - set: {name: mkt-a, pool: marketing}\n    expect: {outcome: error}\n"
        "  - set: {name: mkt-a, pool: marketing, region: eu-west-1}\n"
        "    expect: {outcome: error}\n"
    )

    # When each is run
    results = [run_case(policy, c, i, dt.date(2026, 12, 6)) for i, c in enumerate(cases.cases)]

    # Then "error" is an outcome a case can pin: the first holds, the second (decided) fails
    assert [r.passed for r in results] == [True, False]
    assert results[1].differences == ["outcome: expected error, got compliant"]
