"""Issue 4: the CLI's lint (pure): shadowed rules, exemption expiry, document size, and
the checks against an account's set and pool names."""

from __future__ import annotations

import datetime as dt
import json
from fnmatch import fnmatchcase

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ses_pool_enforcer.cli.lint import (
    Finding,
    Severity,
    document_size,
    exemption_findings,
    glob_covers,
    lint,
    live_findings,
    schema_findings,
    shadowed_rules,
    size_findings,
    tags_implied,
    tier,
)
from ses_pool_enforcer.evaluation import matching_rule
from ses_pool_enforcer.model import ConfigurationSet
from ses_pool_enforcer.policy import Policy, PolicyError, parse_policy

TODAY = dt.date(2026, 11, 26)


def _rules(*rules: str) -> Policy:
    """A policy from rule bodies written as YAML flow mappings (ids r0, r1, ...)."""
    lines = ["version: 1", "rules:"]
    for index, rule in enumerate(rules):
        lines.append(f"  - {{id: r{index}, pool: p, {rule.strip()[1:-1]}}}")
    return parse_policy("\n".join(lines))


def _paths(findings: list[Finding]) -> list[str | None]:
    return [f.path for f in findings]


# --------------------------------------------------------------------------- globs


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("mkt-*", "mkt-*"),  # identical
        ("mkt-*", "mkt-weekly"),  # a literal the earlier glob matches
        ("mkt-?eekly", "mkt-weekly"),
        ("*", "anything-*"),  # "*" matches every name
        ("*", "[ab]?"),
        ("mkt-*", "mkt-weekly-*"),  # every match of the later glob starts with "mkt-"
        ("mkt-*", "mkt-[ab]*"),
        ("mkt-*", "mkt-"),
    ],
)
def test_a_glob_covers_what_it_provably_matches(earlier: str, later: str) -> None:
    assert glob_covers(earlier, later)


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("mkt-*", "tx-*"),
        ("mkt-weekly", "mkt-*"),  # narrower than the later glob
        ("mkt-*", "mkt"),
        ("mkt-*", "*-mkt-*"),
        ("*-weekly", "mkt-weekly-*"),  # true for some names only
        ("mkt-?", "mkt-??"),
        ("m*t-*", "mkt-weekly-*"),  # provable, but not by the simple rules: stay silent
        ("MKT-*", "mkt-weekly"),  # case-sensitive, as the enforcer matches
        ("mkt-[ab]", "mkt-?"),
    ],
)
def test_a_glob_does_not_cover_what_it_may_miss(earlier: str, later: str) -> None:
    assert not glob_covers(earlier, later)


GLOB_CHARS = st.sampled_from(["a", "b", "-", "*", "?", "[ab]", "[!a]"])
NAMES = st.text(alphabet="ab-", max_size=6)


@given(
    earlier=st.lists(GLOB_CHARS, min_size=1, max_size=5).map("".join),
    later=st.lists(GLOB_CHARS, min_size=1, max_size=5).map("".join),
    names=st.lists(NAMES, min_size=1, max_size=30),
)
def test_glob_covers_is_sound(earlier: str, later: str, names: list[str]) -> None:
    # Whenever coverage is claimed, no name matches the later glob but not the earlier.
    if glob_covers(earlier, later):
        for name in names:
            assert not fnmatchcase(name, later) or fnmatchcase(name, earlier)


# --------------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    ("earlier", "later", "implied"),
    [
        (None, None, True),
        (None, {"stream": "marketing"}, True),
        ({"stream": "marketing"}, None, False),
        ({"stream": "marketing"}, {"stream": "marketing"}, True),
        ({"stream": "marketing"}, {"stream": "marketing", "team": "growth"}, True),
        ({"stream": "marketing", "team": "growth"}, {"stream": "marketing"}, False),
        ({"stream": "*"}, {"stream": "marketing"}, True),
        ({"stream": "*"}, {"stream": "*"}, True),
        ({"stream": "marketing"}, {"stream": "*"}, False),
        ({"stream": "marketing"}, {"stream": "bulk"}, False),
    ],
)
def test_tag_conditions_implied(
    earlier: dict[str, str] | None, later: dict[str, str] | None, implied: bool
) -> None:
    assert tags_implied(earlier, later) is implied


# --------------------------------------------------------------------------- rules


def test_a_rule_behind_a_broader_glob_is_shadowed() -> None:
    # Given a later rule for one marketing set, behind a rule for all of them
    policy = _rules("{match: {names: [mkt-*]}}", "{match: {names: [mkt-weekly]}}")

    # When it is linted
    [finding] = shadowed_rules(policy)

    # Then the later rule is named, with the rule that hides it
    assert finding.severity is Severity.WARNING
    assert finding.path == "rules[1]"
    assert "'r1' can never apply" in finding.message
    assert "rules[0] (r0)" in finding.message


def test_a_later_rule_with_more_tag_conditions_is_still_shadowed() -> None:
    policy = _rules(
        "{match: {names: ['mkt-*'], tags: {stream: marketing}}}",
        "{match: {names: [mkt-weekly], tags: {stream: marketing, team: growth}}}",
    )
    assert _paths(shadowed_rules(policy)) == ["rules[1]"]


def test_an_earlier_rule_with_a_tag_condition_does_not_shadow_a_rule_without_it() -> None:
    # A set named mkt-weekly without the tag reaches the second rule.
    policy = _rules(
        "{match: {names: ['mkt-*'], tags: {stream: marketing}}}",
        "{match: {names: [mkt-weekly]}}",
    )
    assert shadowed_rules(policy) == []


@pytest.mark.parametrize(
    "earlier",
    [
        "{match: {names: ['*'], accounts: ['111122223333']}}",
        "{match: {names: ['*'], regions: [eu-*]}}",
        "{match: {organizational_units: [ou-ab12-prod0001]}}",
    ],
)
def test_a_scoped_rule_does_not_shadow_an_unscoped_one(earlier: str) -> None:
    # Issue 9: a set of another account, region or OU reaches the second rule.
    assert shadowed_rules(_rules(earlier, "{match: {names: [mkt-weekly]}}")) == []


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{match: {names: ['*']}}", "{match: {names: [a], accounts: ['111122223333']}}"),
        (
            "{match: {names: ['*'], accounts: ['111122223333', '444455556666']}}",
            "{match: {names: [a], accounts: ['444455556666']}}",
        ),
        ("{match: {regions: ['eu-*']}}", "{match: {regions: [eu-west-1, eu-central-*]}}"),
        (
            "{match: {organizational_units: [ou-ab12-prod0001, r-ab12]}}",
            "{match: {names: [a], organizational_units: [r-ab12]}}",
        ),
    ],
)
def test_a_rule_inside_an_earlier_scope_is_shadowed(earlier: str, later: str) -> None:
    assert _paths(shadowed_rules(_rules(earlier, later))) == ["rules[1]"]


def test_a_rule_partly_outside_an_earlier_scope_is_not_shadowed() -> None:
    policy = _rules(
        "{match: {names: ['*'], accounts: ['111122223333']}}",
        "{match: {names: [a], accounts: ['111122223333', '444455556666']}}",
    )
    assert shadowed_rules(policy) == []
    regions = _rules("{match: {regions: [eu-west-1]}}", "{match: {regions: ['eu-*']}}")
    assert shadowed_rules(regions) == []


def test_a_tags_only_rule_is_shadowed_by_a_rule_for_every_name_with_fewer_tags() -> None:
    by_tags = _rules("{match: {tags: {stream: '*'}}}", "{match: {tags: {stream: bulk}}}")
    by_names = _rules("{match: {names: ['*']}}", "{match: {tags: {stream: bulk}}}")
    named_later = _rules("{match: {tags: {stream: bulk}}}", "{match: {names: [x]}}")
    assert _paths(shadowed_rules(by_tags)) == ["rules[1]"]
    assert _paths(shadowed_rules(by_names)) == ["rules[1]"]  # "*" matches every name
    assert shadowed_rules(named_later) == []


def test_a_rule_covered_by_several_earlier_rules_together_is_shadowed() -> None:
    policy = _rules(
        "{match: {names: ['mkt-*']}}",
        "{match: {names: ['tx-*']}}",
        "{match: {names: [mkt-weekly, tx-receipts]}}",
    )
    [finding] = shadowed_rules(policy)
    assert finding.path == "rules[2]"
    assert "rules[0] (r0), rules[1] (r1)" in finding.message


def test_one_unreachable_glob_of_a_reachable_rule_is_named() -> None:
    policy = _rules("{match: {names: ['mkt-*']}}", "{match: {names: [mkt-daily, newsletter]}}")
    [finding] = shadowed_rules(policy)
    assert finding.path == "rules[1].match.names[0]"
    assert "'mkt-daily' can never decide" in finding.message


def test_disjoint_and_overlapping_rules_are_not_shadowed() -> None:
    policy = _rules(
        "{match: {names: ['mkt-*']}}",
        "{match: {names: ['tx-*']}}",
        "{match: {names: ['*-weekly']}}",  # overlaps mkt-*, but tx-weekly reaches it
        "{match: {names: ['mkt-weekly']}}",  # shadowed by rules[0]
    )
    assert _paths(shadowed_rules(policy)) == ["rules[3]"]


GLOBS = st.lists(st.sampled_from(["a", "b", "-", "*", "?"]), min_size=1, max_size=4).map("".join)
TAGS = st.dictionaries(st.sampled_from(["k1", "k2"]), st.sampled_from(["a", "b", "*"]), max_size=2)


@st.composite
def matches(draw: st.DrawFn) -> dict[str, object]:
    names = draw(st.none() | st.lists(GLOBS, min_size=1, max_size=3))
    tags = draw(TAGS if names is None else st.none() | TAGS)
    match: dict[str, object] = {}
    if names is not None:
        match["names"] = names
    if tags:
        match["tags"] = tags
    return match or {"names": ["*"]}


@given(
    first=st.lists(matches(), min_size=1, max_size=3),
    last=matches(),
    sets=st.lists(st.tuples(st.text(alphabet="ab-", max_size=5), TAGS), min_size=1, max_size=20),
)
def test_a_rule_called_shadowed_never_decides_for_any_set(
    first: list[dict[str, object]], last: dict[str, object], sets: list[tuple[str, dict[str, str]]]
) -> None:
    rules = [*first, last]
    policy = Policy.model_validate(
        {
            "version": 1,
            "rules": [{"id": f"r{i}", "match": m, "pool": "p"} for i, m in enumerate(rules)],
        }
    )
    last_id = f"r{len(first)}"
    if any(f.path == f"rules[{len(first)}]" for f in shadowed_rules(policy)):
        for name, tags in sets:
            rule = matching_rule(policy, ConfigurationSet(name=name, pool="p", tags=tags))
            assert rule is None or rule.id != last_id


# --------------------------------------------------------------------------- exemptions


def _exemptions(*expires: dt.date) -> Policy:
    return Policy.model_validate(
        {
            "version": 1,
            "exemptions": [
                {"configuration_set": f"legacy-{i}", "reason": "OPS-42", "expires": e.isoformat()}
                for i, e in enumerate(expires)
            ],
        }
    )


def test_exemptions_expired_or_expiring_within_14_days_are_warned_about() -> None:
    policy = _exemptions(
        TODAY - dt.timedelta(days=1),
        TODAY,
        TODAY + dt.timedelta(days=1),
        TODAY + dt.timedelta(days=14),
        TODAY + dt.timedelta(days=15),
    )
    findings = exemption_findings(policy, TODAY)
    assert [(f.path, f.severity) for f in findings] == [
        (f"exemptions[{i}]", Severity.WARNING) for i in range(4)
    ]
    assert "expired on 2026-11-25" in findings[0].message
    assert "expires today" in findings[1].message
    assert "expires in 1 day (2026-11-27)" in findings[2].message
    assert "expires in 14 days" in findings[3].message


# --------------------------------------------------------------------------- size


def _sized(rule_count: int) -> Policy:
    return Policy.model_validate(
        {
            "version": 1,
            "rules": [
                {
                    "id": f"rule-{i:03}",
                    "description": "x" * 80,
                    "match": {"names": [f"set-{i:03}-*"]},
                    "pool": "marketing",
                }
                for i in range(rule_count)
            ],
        }
    )


def test_the_size_is_measured_on_the_canonical_json() -> None:
    policy = _sized(3)
    assert document_size(policy) == len(
        json.dumps(json.loads(policy.to_json()), separators=(",", ":"))
    )


def test_a_document_over_4_kb_warns_and_one_over_8_kb_is_an_error() -> None:
    small, medium, large = _sized(10), _sized(40), _sized(80)
    assert document_size(small) <= 4096 < document_size(medium) <= 8192 < document_size(large)

    assert size_findings(small) == []
    [warning] = size_findings(medium)
    [error] = size_findings(large)

    assert warning.severity is Severity.WARNING and "advanced" in warning.message
    assert error.severity is Severity.ERROR and "at most 8192" in error.message
    assert (tier(document_size(small)), tier(document_size(medium))) == ("standard", "advanced")
    assert tier(document_size(large)) == "too large for SSM"


def test_lint_gathers_every_offline_check() -> None:
    policy = Policy.model_validate(
        {
            **_sized(40).model_dump(exclude_none=True),
            "rules": [
                *_sized(40).model_dump(exclude_none=True)["rules"],
                {"id": "late", "match": {"names": ["set-001-x"]}, "pool": "p"},
            ],
            "exemptions": [{"configuration_set": "a", "reason": "r", "expires": "2026-11-30"}],
        }
    )
    assert _paths(lint(policy, TODAY)) == ["rules[40]", "exemptions[0]", None]


def test_schema_errors_become_findings_that_name_the_field() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy("version: 1\nrules: [{id: a, match: {names: [x]}, pool: 'bad pool'}]")
    [finding] = schema_findings(caught.value)
    assert finding.severity is Severity.ERROR
    assert str(finding).startswith("rules[0].pool: ")


# --------------------------------------------------------------------------- the account


def test_live_checks_name_unmatched_globs_and_missing_dedicated_pools() -> None:
    policy = parse_policy(
        """
        version: 1
        default: {pool: fallback}
        rules:
          - {id: mkt, match: {names: [mkt-*, promo-*]}, pool: marketing}
          - {id: bulk, match: {tags: {stream: bulk}}, pool: ses-shared-pool}
          - {id: none, match: {names: [x]}, pool: ses-default-dedicated-pool}
        exemptions:
          - {configuration_set: legacy-*, reason: OPS-42, expires: 2027-01-31}
        """
    )
    findings = live_findings(policy, ["mkt-weekly", "x"], {"marketing"})
    assert _paths(findings) == [
        "rules[0].match.names[1]",
        "default.pool",
        "exemptions[0].configuration_set",
    ]
    assert "'promo-*' matches no configuration set" in findings[0].message
    assert "dedicated pool 'fallback' does not exist" in findings[1].message


def test_live_checks_skip_the_special_pools() -> None:
    policy = parse_policy(
        """
        version: 1
        default: {pool: ses-default-dedicated-pool}
        rules: [{id: a, match: {names: ['*']}, pool: ses-shared-pool}]
        """
    )
    assert live_findings(policy, ["anything"], set()) == []
