"""``evaluate``: every rule of the policy format, on one configuration set at a time."""

from __future__ import annotations

import datetime as dt
from fnmatch import fnmatchcase

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ses_pool_enforcer.evaluation import (
    DEFAULT_RULE_ID,
    evaluate,
    evaluate_identity,
    pipeline_of,
)
from ses_pool_enforcer.model import (
    Action,
    ConfigurationSet,
    Decision,
    Identity,
    IdentityDecision,
    Outcome,
)
from ses_pool_enforcer.policy import Mode, Policy, parse_policy
from ses_pool_enforcer.pools import DEFAULT_POOL, SHARED_POOL, normalise_pool

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def _set(name: str, pool: str | None = None, **tags: str) -> ConfigurationSet:
    return ConfigurationSet(name=name, pool=normalise_pool(pool), tags=tags)


def _one_rule(match: str, *, pool: str = "marketing", mode: str = "enforce") -> Policy:
    return parse_policy(
        f"""
        version: 1
        mode: {mode}
        rules:
          - id: the-rule
            match: {match}
            pool: {pool}
        """
    )


def _matches(policy: Policy, cs: ConfigurationSet) -> bool:
    return evaluate(policy, cs, NOW).rule_id is not None


# --- rule order ------------------------------------------------------------------------


def test_first_matching_rule_decides() -> None:
    # Given two rules that both match "mkt-news", to different pools
    policy = parse_policy(
        """
        version: 1
        mode: enforce
        rules:
          - {id: first, match: {names: ["mkt-*"]}, pool: marketing}
          - {id: second, match: {names: ["*-news"]}, pool: newsletters}
        """
    )

    # When the set is evaluated
    decision = evaluate(policy, _set("mkt-news"), NOW)

    # Then the first rule decides
    assert (decision.rule_id, decision.expected_pool) == ("first", "marketing")


def test_later_rule_applies_when_earlier_ones_do_not_match() -> None:
    # Given two rules, the first of which does not match "tx-receipts"
    policy = parse_policy(
        """
        version: 1
        mode: enforce
        rules:
          - {id: marketing, match: {names: ["mkt-*"]}, pool: marketing}
          - {id: receipts, match: {names: ["tx-*"]}, pool: transactional}
        """
    )

    # When the set is evaluated
    decision = evaluate(policy, _set("tx-receipts"), NOW)

    # Then the second rule decides
    assert (decision.rule_id, decision.expected_pool) == ("receipts", "transactional")


# --- name globs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "name", "expected"),
    [
        ("mkt-*", "mkt-news", True),
        ("mkt-*", "mkt-", True),
        ("mkt-*", "xmkt-news", False),
        ("newsletter", "newsletter", True),
        ("newsletter", "newsletter-2", False),
        ("newsletter", "Newsletter", False),
        ("tx-?", "tx-a", True),
        ("tx-?", "tx-ab", False),
        ("tx-?", "tx-", False),
        ("mkt-*", "MKT-a", False),
        ("MKT-*", "mkt-a", False),
        ("[ab]-*", "a-x", True),
        ("[ab]-*", "c-x", False),
        ("*", "anything", True),
    ],
)
def test_name_globs_are_shell_style_and_case_sensitive(
    glob: str, name: str, expected: bool
) -> None:
    # Given a rule matching one glob
    policy = _one_rule(f'{{names: ["{glob}"]}}')

    # When a set with that name is evaluated
    matched = _matches(policy, _set(name))

    # Then it matches exactly when the shell-style, case-sensitive glob does
    assert matched is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("mkt-a", True), ("newsletter", True), ("tx-a", True), ("promo", False)],
)
def test_any_of_several_globs_may_match(name: str, expected: bool) -> None:
    # Given a rule listing three globs
    policy = _one_rule('{names: ["mkt-*", "newsletter", "tx-?"]}')

    # When a set is evaluated
    matched = _matches(policy, _set(name))

    # Then one matching glob is enough
    assert matched is expected


# --- tags -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"stream": "marketing"}, True),
        ({"stream": "marketing", "team": "growth"}, True),
        ({"stream": "Marketing"}, False),
        ({"stream": "marketing-eu"}, False),
        ({"stream": ""}, False),
        ({"Stream": "marketing"}, False),
        ({}, False),
    ],
)
def test_tag_must_be_present_with_exactly_this_value(tags: dict[str, str], expected: bool) -> None:
    # Given a rule matching the tag stream=marketing
    policy = _one_rule("{tags: {stream: marketing}}")

    # When a set carrying some tags is evaluated
    matched = _matches(policy, _set("any-name", **tags))

    # Then it matches only on the exact key and value
    assert matched is expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [({"stream": "marketing"}, True), ({"stream": ""}, True), ({"team": "x"}, False), ({}, False)],
)
def test_star_tag_value_means_any_value_but_present(tags: dict[str, str], expected: bool) -> None:
    # Given a rule matching stream="*"
    policy = _one_rule('{tags: {stream: "*"}}')

    # When a set is evaluated
    matched = _matches(policy, _set("any-name", **tags))

    # Then any value matches, but the tag must be there
    assert matched is expected


def test_every_listed_tag_must_hold() -> None:
    # Given a rule listing two tags
    policy = _one_rule("{tags: {stream: marketing, team: growth}}")

    # When sets carrying both, or only one, are evaluated
    both = _matches(policy, _set("a", stream="marketing", team="growth"))
    one = _matches(policy, _set("b", stream="marketing"))

    # Then only the set carrying both matches
    assert (both, one) == (True, False)


@pytest.mark.parametrize(
    ("name", "tags", "expected"),
    [
        ("mkt-a", {"stream": "marketing"}, True),
        ("mkt-a", {}, False),
        ("mkt-a", {"stream": "bulk"}, False),
        ("tx-a", {"stream": "marketing"}, False),
    ],
)
def test_names_and_tags_together_must_both_hold(
    name: str, tags: dict[str, str], expected: bool
) -> None:
    # Given a rule with both names and tags
    policy = _one_rule('{names: ["mkt-*"], tags: {stream: marketing}}')

    # When a set is evaluated
    matched = _matches(policy, _set(name, **tags))

    # Then it matches only when its name and its tags both do
    assert matched is expected


# --- default rule and modes ------------------------------------------------------------


def test_default_rule_applies_to_sets_matching_no_rule_with_its_own_mode() -> None:
    # Given an enforcing document whose default is in audit mode
    policy = parse_policy(
        """
        version: 1
        mode: enforce
        default: {pool: ses-default-dedicated-pool, mode: audit}
        rules:
          - {id: marketing, match: {names: ["mkt-*"]}, pool: marketing}
        """
    )

    # When a set matching no rule, on the shared pool, is evaluated
    decision = evaluate(policy, _set("ops-alerts", SHARED_POOL), NOW)

    # Then the default decides, in its own (audit) mode
    assert decision == Decision(
        Outcome.VIOLATION,
        Action.NONE,
        DEFAULT_POOL,
        DEFAULT_RULE_ID,
        decision.reason,
    )
    assert decision.rule_id == "default"
    assert "audit" in decision.reason


def test_default_rule_inherits_the_document_mode() -> None:
    # Given an enforcing document whose default names no mode
    policy = parse_policy("version: 1\nmode: enforce\ndefault: {pool: transactional}")

    # When a set on another pool is evaluated
    decision = evaluate(policy, _set("ops-alerts", "marketing"), NOW)

    # Then it is reassigned to the default pool
    assert (decision.outcome, decision.action) == (Outcome.REMEDIATED, Action.REASSIGN)
    assert (decision.expected_pool, decision.rule_id) == ("transactional", "default")


def test_rule_mode_overrides_the_document_mode() -> None:
    # Given an enforcing document with one rule in audit mode and one without a mode
    policy = parse_policy(
        """
        version: 1
        mode: enforce
        rules:
          - {id: receipts, match: {names: ["tx-*"]}, pool: transactional, mode: audit}
          - {id: marketing, match: {names: ["mkt-*"]}, pool: marketing}
        """
    )

    # When a stray set of each is evaluated
    receipts = evaluate(policy, _set("tx-a", SHARED_POOL), NOW)
    marketing = evaluate(policy, _set("mkt-a", SHARED_POOL), NOW)

    # Then the audit rule reports, the other reassigns
    assert (receipts.outcome, receipts.action) == (Outcome.VIOLATION, Action.NONE)
    assert (marketing.outcome, marketing.action) == (Outcome.REMEDIATED, Action.REASSIGN)


def test_rule_in_enforce_mode_overrides_an_auditing_document() -> None:
    # Given an auditing document with one rule in enforce mode
    policy = parse_policy(
        """
        version: 1
        mode: audit
        rules:
          - {id: marketing, match: {names: ["mkt-*"]}, pool: marketing, mode: enforce}
        """
    )

    # When a stray set is evaluated
    decision = evaluate(policy, _set("mkt-a"), NOW)

    # Then the rule's own mode wins: it is reassigned
    assert (decision.outcome, decision.action) == (Outcome.REMEDIATED, Action.REASSIGN)


def test_auditing_document_reports_a_violation() -> None:
    # Given a document in audit mode (or with no mode: audit is the default)
    for mode_line in ("mode: audit\n", ""):
        policy = parse_policy(
            f'version: 1\n{mode_line}rules: [{{id: r, match: {{names: ["*"]}}, pool: marketing}}]'
        )

        # When a set on the wrong pool is evaluated
        decision = evaluate(policy, _set("mkt-a", "transactional"), NOW)

        # Then it is a violation, and nothing is done
        assert decision.outcome is Outcome.VIOLATION
        assert decision.action is Action.NONE
        assert decision.expected_pool == "marketing"
        assert "transactional" in decision.reason and "marketing" in decision.reason


def test_enforcing_rule_reassigns_a_stray_set() -> None:
    # Given an enforcing rule
    policy = _one_rule('{names: ["mkt-*"]}')

    # When a set on the default pool is evaluated
    decision = evaluate(policy, _set("mkt-a"), NOW)

    # Then it is to be moved to the rule's pool
    assert decision == Decision(
        Outcome.REMEDIATED,
        Action.REASSIGN,
        "marketing",
        "the-rule",
        f"moved from {DEFAULT_POOL} to marketing",
    )


def test_deployment_dry_run_turns_remediation_into_violation() -> None:
    # Given an enforcing rule, and a deployment running in audit (dry-run) mode
    policy = _one_rule('{names: ["mkt-*"]}')

    # When a stray set is evaluated
    decision = evaluate(policy, _set("mkt-a"), NOW, enforcement=Mode.AUDIT)

    # Then it is only reported, and the reason says why
    assert (decision.outcome, decision.action) == (Outcome.VIOLATION, Action.NONE)
    assert decision.expected_pool == "marketing"
    assert "deployment is in audit mode" in decision.reason


def test_deployment_dry_run_leaves_compliant_sets_compliant() -> None:
    # Given a deployment in audit mode and a set already on its pool
    policy = _one_rule('{names: ["mkt-*"]}')

    # When it is evaluated
    decision = evaluate(policy, _set("mkt-a", "marketing"), NOW, enforcement=Mode.AUDIT)

    # Then it is compliant
    assert decision.outcome is Outcome.COMPLIANT


# --- compliance -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["enforce", "audit"])
def test_set_already_on_its_pool_is_compliant(mode: str) -> None:
    # Given a rule, in either mode
    policy = _one_rule('{names: ["mkt-*"]}', mode=mode)

    # When a set already on the rule's pool is evaluated
    decision = evaluate(policy, _set("mkt-a", "marketing"), NOW)

    # Then it is compliant and nothing is done
    assert decision == Decision(
        Outcome.COMPLIANT, Action.NONE, "marketing", "the-rule", "on marketing"
    )


@pytest.mark.parametrize("spelling", [None, "", DEFAULT_POOL])
def test_default_pool_rule_against_each_spelling_of_the_default_pool(spelling: str | None) -> None:
    # Given a rule requiring the default pool, and a set whose answer spells it some way
    policy = _one_rule('{names: ["*"]}', pool=DEFAULT_POOL)
    cs = _set("tx-a", spelling)

    # When it is evaluated
    decision = evaluate(policy, cs, NOW)

    # Then the normalised pool is recognised: compliant
    assert cs.pool == DEFAULT_POOL
    assert decision.outcome is Outcome.COMPLIANT


def test_default_pool_rule_moves_a_set_off_a_dedicated_pool() -> None:
    # Given a rule requiring the default pool
    policy = _one_rule('{names: ["*"]}', pool=DEFAULT_POOL)

    # When a set on a dedicated pool is evaluated
    decision = evaluate(policy, _set("tx-a", "marketing"), NOW)

    # Then it is to be moved to the default pool
    assert (decision.action, decision.expected_pool) == (Action.REASSIGN, DEFAULT_POOL)


# --- exemptions -------------------------------------------------------------------------

EXEMPTED = """
version: 1
mode: enforce
default: {pool: transactional}
rules:
  - {id: legacy, match: {names: ["legacy-*"]}, pool: marketing}
exemptions:
  - {configuration_set: legacy-*, reason: OPS-42 migration, expires: 2027-01-31}
"""


def test_exemption_applies_before_any_rule() -> None:
    # Given an enforcing rule and an exemption covering the same set
    policy = parse_policy(EXEMPTED)

    # When the set, on the wrong pool, is evaluated before the expiry
    decision = evaluate(policy, _set("legacy-app", SHARED_POOL), NOW)

    # Then it is exempt, untouched, and the reason gives the ticket and the expiry
    assert (decision.outcome, decision.action) == (Outcome.EXEMPT, Action.NONE)
    assert (decision.expected_pool, decision.rule_id) == (None, None)
    assert "OPS-42 migration" in decision.reason
    assert "2027-01-31" in decision.reason


def test_exemption_glob_covers_only_matching_sets() -> None:
    # Given an exemption for legacy-*
    policy = parse_policy(EXEMPTED)

    # When a set outside the glob is evaluated
    decision = evaluate(policy, _set("Legacy-app", SHARED_POOL), NOW)

    # Then the exemption does not cover it (globs are case-sensitive): the default applies
    assert (decision.outcome, decision.rule_id) == (Outcome.REMEDIATED, "default")


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2027, 1, 31, 0, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2027, 1, 31, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(2027, 1, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    ],
)
def test_exemption_still_applies_on_its_expiry_day(now: dt.datetime) -> None:
    # Given an exemption expiring 2027-01-31
    policy = parse_policy(EXEMPTED)

    # When the set is evaluated at any moment of that UTC day
    decision = evaluate(policy, _set("legacy-app", SHARED_POOL), now)

    # Then it is still exempt
    assert decision.outcome is Outcome.EXEMPT


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2027, 2, 1, 0, 0, 0, tzinfo=dt.UTC),
        dt.datetime(2028, 1, 1, tzinfo=dt.UTC),
    ],
)
def test_exemption_no_longer_applies_the_day_after(now: dt.datetime) -> None:
    # Given an exemption expiring 2027-01-31
    policy = parse_policy(EXEMPTED)

    # When the set is evaluated from the next UTC day on
    decision = evaluate(policy, _set("legacy-app", SHARED_POOL), now)

    # Then its rule is enforced
    assert (decision.outcome, decision.rule_id) == (Outcome.REMEDIATED, "legacy")
    assert decision.expected_pool == "marketing"


@pytest.mark.parametrize(
    ("now", "outcome"),
    [
        # 01:00 on 1 February in UTC+2 is 23:00 on 31 January UTC: still exempt
        (dt.datetime(2027, 2, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), "exempt"),
        # 20:00 on 31 January in UTC-5 is 01:00 on 1 February UTC: expired
        (dt.datetime(2027, 1, 31, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "remediated"),
    ],
    ids=["east of utc", "west of utc"],
)
def test_exemption_date_is_the_utc_date(now: dt.datetime, outcome: str) -> None:
    # Given an exemption expiring 2027-01-31
    policy = parse_policy(EXEMPTED)

    # When `now` carries another timezone offset
    decision = evaluate(policy, _set("legacy-app", SHARED_POOL), now)

    # Then the expiry is compared with the UTC date, not the local one
    assert decision.outcome == outcome


def test_exempt_even_when_no_rule_matches() -> None:
    # Given a document with an exemption but no rule and no default
    policy = parse_policy(
        "version: 1\nexemptions: [{configuration_set: '*', reason: freeze, expires: 2027-01-31}]"
    )

    # When any set is evaluated
    decision = evaluate(policy, _set("anything"), NOW)

    # Then it is exempt rather than unmanaged
    assert decision.outcome is Outcome.EXEMPT


def test_first_active_exemption_is_reported() -> None:
    # Given an expired exemption followed by an active one for the same set
    policy = parse_policy(
        """
        version: 1
        exemptions:
          - {configuration_set: legacy-*, reason: OPS-1 old, expires: 2026-01-31}
          - {configuration_set: legacy-*, reason: OPS-2 new, expires: 2027-06-30}
        """
    )

    # When the set is evaluated
    decision = evaluate(policy, _set("legacy-app"), NOW)

    # Then the active one is the reason
    assert decision.outcome is Outcome.EXEMPT
    assert "OPS-2 new" in decision.reason and "2027-06-30" in decision.reason


# --- unmanaged --------------------------------------------------------------------------


def test_unmanaged_when_no_rule_and_no_default() -> None:
    # Given rules that do not match the set, and no default
    policy = _one_rule('{names: ["mkt-*"]}')

    # When the set is evaluated
    decision = evaluate(policy, _set("ops-alerts", SHARED_POOL), NOW)

    # Then it is unmanaged: reported, never touched
    assert decision == Decision(
        Outcome.UNMANAGED, Action.NONE, None, None, "no rule and no default"
    )


def test_empty_policy_leaves_every_set_unmanaged() -> None:
    # Given the smallest valid policy
    policy = parse_policy("version: 1")

    # When a set is evaluated, in either deployment mode
    decisions = {evaluate(policy, _set("x", "p"), NOW, enforcement=m).outcome for m in Mode}

    # Then it is unmanaged
    assert decisions == {Outcome.UNMANAGED}


# --- properties -------------------------------------------------------------------------

PROPERTY_POLICY = parse_policy(
    """
    version: 1
    mode: enforce
    default: {pool: ses-default-dedicated-pool, mode: audit}
    rules:
      - {id: marketing, match: {names: ["mkt-*", "newsletter"], tags: {stream: marketing}},
         pool: marketing}
      - {id: receipts, match: {names: ["tx-*"]}, pool: transactional, mode: audit}
      - {id: any-bulk, match: {tags: {stream: "*", tier: bulk}}, pool: ses-shared-pool}
      - {id: short, match: {names: ["?"]}, pool: marketing}
    exemptions:
      - {configuration_set: "legacy-*", reason: OPS-42, expires: 2027-01-31}
    """
)
PROPERTY_POLICY_WITHOUT_DEFAULT = PROPERTY_POLICY.model_copy(update={"default": None})

_NAMES = st.one_of(
    st.sampled_from(["mkt-a", "newsletter", "tx-1", "legacy-app", "MKT-a", "x", "", "ops"]),
    st.builds(
        "".join,
        st.lists(
            st.sampled_from(["mkt", "tx", "legacy", "-", "*", "?", "a", "Z", "é"]), max_size=6
        ),
    ),
    st.text(max_size=20),
)
_TAGS = st.dictionaries(
    st.sampled_from(["stream", "tier", "Stream", "team"]) | st.text(max_size=5),
    st.sampled_from(["marketing", "bulk", "*", "", "Marketing"]) | st.text(max_size=5),
    max_size=4,
)
_POOLS = st.sampled_from(
    [None, "", DEFAULT_POOL, SHARED_POOL, "marketing", "transactional", "other"]
)
_NOWS = st.datetimes(
    min_value=dt.datetime(2026, 1, 1),
    max_value=dt.datetime(2028, 12, 31),
    timezones=st.sampled_from(
        [dt.UTC, dt.timezone(dt.timedelta(hours=14)), dt.timezone(dt.timedelta(hours=-12))]
    ),
)


def _first_matching_rule_id(policy: Policy, cs: ConfigurationSet) -> str | None:
    """An independent oracle: the format's matching rules, spelled out."""
    for rule in policy.rules:
        names = rule.match.names
        tags = rule.match.tags or {}
        if names is not None and not any(fnmatchcase(cs.name, glob) for glob in names):
            continue
        if all(key in cs.tags and value in ("*", cs.tags[key]) for key, value in tags.items()):
            return rule.id
    return None


@given(
    policy=st.sampled_from([PROPERTY_POLICY, PROPERTY_POLICY_WITHOUT_DEFAULT]),
    name=_NAMES,
    tags=_TAGS,
    pool=_POOLS,
    now=_NOWS,
    enforcement=st.sampled_from(list(Mode)),
)
def test_evaluation_is_total_and_consistent(
    policy: Policy,
    name: str,
    tags: dict[str, str],
    pool: str | None,
    now: dt.datetime,
    enforcement: Mode,
) -> None:
    # Given any set, at any moment, in either deployment mode
    cs = ConfigurationSet(name=name, pool=normalise_pool(pool), tags=tags)

    # When it is evaluated
    decision = evaluate(policy, cs, now, enforcement=enforcement)

    # Then evaluation never raises, and the decision follows the format's rules
    exempt = now.astimezone(dt.UTC).date() <= dt.date(2027, 1, 31) and fnmatchcase(name, "legacy-*")
    rule_id = _first_matching_rule_id(policy, cs)
    assert decision.outcome in {
        Outcome.COMPLIANT,
        Outcome.REMEDIATED,
        Outcome.VIOLATION,
        Outcome.EXEMPT,
        Outcome.UNMANAGED,
    }
    if exempt:
        assert decision.outcome is Outcome.EXEMPT
        return
    if rule_id is None and policy.default is None:
        assert decision.outcome is Outcome.UNMANAGED
        assert (decision.rule_id, decision.expected_pool) == (None, None)
        return
    assert decision.rule_id == (rule_id or DEFAULT_RULE_ID)
    expected_pool = (
        policy.default.pool
        if rule_id is None and policy.default
        else next(r.pool for r in policy.rules if r.id == rule_id)
    )
    assert decision.expected_pool == expected_pool
    rule_mode = (
        policy.default.mode
        if rule_id is None and policy.default
        else next(r.mode for r in policy.rules if r.id == rule_id)
    )
    enforced = (rule_mode or policy.mode) is Mode.ENFORCE and enforcement is Mode.ENFORCE
    if cs.pool != expected_pool:
        assert decision.outcome is (Outcome.REMEDIATED if enforced else Outcome.VIOLATION)
    assert (decision.outcome is Outcome.COMPLIANT) == (cs.pool == expected_pool)
    assert (decision.action is Action.REASSIGN) == (decision.outcome is Outcome.REMEDIATED)
    if enforcement is Mode.AUDIT:
        assert decision.action is Action.NONE


# --------------------------------------------------------------------------- IaC principals


PIPELINES = """
version: 1
iac_principals: ["arn:aws:iam::*:role/cdk-*-cfn-exec-role-*", "arn:aws:iam::*:user/deployer"]
rules:
  - {id: marketing, match: {names: ["mkt-*"]}, pool: marketing}
  - {id: lists, match: {names: ["list-*"]}, pool: lists, iac_principals: ["*:role/terraform-ci"]}
  - {id: quiet, match: {names: ["q-*"]}, pool: lists, iac_principals: []}
"""


@pytest.mark.parametrize(
    ("rule_id", "arns", "expected"),
    [
        # an assumed-role session matches through the role it was issued by
        (
            "marketing",
            (
                "arn:aws:sts::1:assumed-role/cdk-x-cfn-exec-role-1-eu/AWSCloudFormation",
                "arn:aws:iam::1:role/cdk-x-cfn-exec-role-1-eu",
            ),
            "arn:aws:iam::*:role/cdk-*-cfn-exec-role-*",
        ),
        ("marketing", ("arn:aws:iam::1:user/deployer", None), "arn:aws:iam::*:user/deployer"),
        (
            "marketing",
            ("arn:aws:sts::1:assumed-role/Admin/alice", "arn:aws:iam::1:role/Admin"),
            None,
        ),
        # a rule's own list replaces the document's, an empty one included
        ("lists", ("arn:aws:iam::1:user/deployer", None), None),
        ("lists", ("x", "arn:aws:iam::1:role/terraform-ci"), "*:role/terraform-ci"),
        ("quiet", ("arn:aws:iam::1:user/deployer", None), None),
        # the default pool's decision and unmanaged sets use the document's list
        ("default", ("arn:aws:iam::1:user/deployer", None), "arn:aws:iam::*:user/deployer"),
        (None, (None, None), None),
    ],
)
def test_a_deploy_pipeline_is_recognised_by_its_role(
    rule_id: str | None, arns: tuple[str | None, ...], expected: str | None
) -> None:
    assert pipeline_of(parse_policy(PIPELINES), rule_id, *arns) == expected


# --------------------------------------------------------------------------- identities


IDENTITIES = """
version: 1
mode: enforce
identities:
  - id: news
    match: {identities: ["news.example.com", "*@news.example.com"]}
    configuration_set: mkt-news
  - id: growth
    match: {tags: {team: growth}}
    configuration_set: mkt-*
  - id: receipts
    match: {identities: ["*@shop.example.com"]}
    configuration_set: tx-receipts
    mode: audit
  - id: everyone
    match: {identities: ["*.example.com"]}
    default_configuration_set: required
exemptions:
  - identity: legacy.example.com
    reason: OPS-7 migration
    expires: 2099-12-31
"""


def decide_identity(
    name: str,
    configuration_set: str | None = None,
    tags: dict[str, str] | None = None,
    *,
    default_exists: bool = True,
    enforcement: Mode = Mode.ENFORCE,
) -> IdentityDecision:
    return evaluate_identity(
        parse_policy(IDENTITIES),
        Identity(name, configuration_set, tags or {}),
        NOW,
        default_exists=default_exists,
        enforcement=enforcement,
    )


def test_an_identity_without_the_named_default_set_gets_it_in_enforce_mode() -> None:
    decision = decide_identity("news.example.com", "tx-receipts")
    assert (decision.outcome, decision.action, decision.target) == (
        Outcome.REMEDIATED,
        Action.REASSIGN,
        "mkt-news",
    )
    assert decision.rule_id == "news"
    assert "from tx-receipts to mkt-news" in decision.reason


def test_identities_match_whatever_their_case() -> None:
    decision = decide_identity("Alice@NEWS.Example.com", "mkt-news")
    assert (decision.outcome, decision.rule_id) == (Outcome.COMPLIANT, "news")


def test_a_glob_requirement_is_reported_never_assigned() -> None:
    assert decide_identity("x@other.org", "mkt-weekly", {"team": "growth"}).outcome is (
        Outcome.COMPLIANT
    )
    decision = decide_identity("x@other.org", "tx-receipts", {"team": "growth"})
    assert (decision.outcome, decision.action, decision.target) == (
        Outcome.VIOLATION,
        Action.NONE,
        None,
    )
    assert "a glob names no one set" in decision.reason


def test_an_audit_rule_or_deployment_reports_instead_of_assigning() -> None:
    rule = decide_identity("orders@shop.example.com", "mkt-news")
    assert (rule.outcome, rule.action) == (Outcome.VIOLATION, Action.NONE)
    assert "rule is in audit mode" in rule.reason
    deployment = decide_identity("news.example.com", None, enforcement=Mode.AUDIT)
    assert (deployment.outcome, deployment.action) == (Outcome.VIOLATION, Action.NONE)
    assert "deployment is in audit mode" in deployment.reason


def test_required_means_any_default_set_but_one() -> None:
    assert decide_identity("ops.example.com", "anything").outcome is Outcome.COMPLIANT
    missing = decide_identity("ops.example.com", None)
    assert (missing.outcome, missing.action) == (Outcome.VIOLATION, Action.NONE)
    assert "no default configuration set" in missing.reason


def test_exempt_and_unmanaged_identities() -> None:
    exempt = decide_identity("LEGACY.example.com", None)
    assert exempt.outcome is Outcome.EXEMPT and "OPS-7" in exempt.reason
    assert decide_identity("someone@gmail.com", None).outcome is Outcome.UNMANAGED


def test_a_default_set_that_no_longer_exists_is_an_error_whatever_the_policy_says() -> None:
    for name in ("news.example.com", "legacy.example.com", "someone@gmail.com"):
        decision = decide_identity(name, "deleted-set", default_exists=False)
        assert decision.outcome is Outcome.ERROR, name
        assert "deleted-set does not exist" in decision.reason
