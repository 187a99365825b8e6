"""Issue 10: a declared set judged before deploy, by ``evaluate`` itself, and never on a
guess about what the file leaves open."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st

from ses_pool_enforcer.evaluation import evaluate
from ses_pool_enforcer.iac.declared import DeclaredSet, Unresolved
from ses_pool_enforcer.iac.verdict import Check, judge
from ses_pool_enforcer.model import ConfigurationSet, DedicatedIp, Lane, Outcome, PoolState
from ses_pool_enforcer.policy import parse_policy
from ses_pool_enforcer.pools import DEFAULT_POOL, SHARED_POOL

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
POOLS = {"marketing", "transactional"}
GENERATED = Unresolved("no Name: CloudFormation generates one at deploy")

POLICY = parse_policy(
    """
    version: 1
    mode: enforce
    rules:
      - {id: marketing, match: {names: ["mkt-*"]}, pool: marketing}
      - {id: receipts, match: {names: ["tx-*"]}, pool: transactional, mode: audit}
      - {id: bulk, match: {tags: {stream: bulk}}, pool: ses-shared-pool}
    exemptions:
      - {configuration_set: legacy-*, reason: OPS-42, expires: 2026-12-31}
    """
)
# The same rules with no exemption in force: a generated name no longer matters to them.
EXPIRED = POLICY.model_copy(
    update={
        "exemptions": [POLICY.exemptions[0].model_copy(update={"expires": dt.date(2026, 1, 1)})]
    }
)


def declared(
    name: str | Unresolved,
    pool: str | Unresolved = DEFAULT_POOL,
    tags: Mapping[str, str] | Unresolved | None = None,
    fixed_pool: str | None = None,
) -> DeclaredSet:
    return DeclaredSet(
        "template.yaml", "Set", None, name, pool, {} if tags is None else tags, fixed_pool
    )


def test_a_set_on_its_pool_complies() -> None:
    verdict = judge(POLICY, declared("mkt-weekly", "marketing"), POOLS, NOW)

    assert verdict.findings == ()
    assert verdict.result == "compliant"
    assert verdict.decision is not None and verdict.decision.rule_id == "marketing"


def test_a_set_on_the_wrong_pool_says_what_the_enforcer_would_do() -> None:
    # When a set of an enforced rule and one of an audit rule are on the wrong pool
    enforced = judge(POLICY, declared("mkt-weekly", "transactional"), POOLS, NOW)
    audited = judge(POLICY, declared("tx-receipts", "marketing"), POOLS, NOW)

    # Then both are wrong-pool findings; the first would be fought over at every deploy
    assert [f.check for f in enforced.findings] == [Check.WRONG_POOL]
    assert enforced.findings[0].message == (
        "on transactional; the policy requires marketing (rule marketing); deployed as "
        "written, the enforcer would move it and the next deploy move it back"
    )
    assert audited.findings[0].message == (
        "on marketing; the policy requires transactional (rule receipts, audit mode: "
        "reported, not moved)"
    )


def test_a_pool_nobody_declares_is_a_finding_but_the_reserved_pools_never_are() -> None:
    # When sets name a pool no checked file declares, and the two reserved pools
    missing = judge(POLICY, declared("legacy-billing", "billing-old"), POOLS, NOW)
    live = judge(
        POLICY, declared("legacy-billing", "billing-old"), POOLS, NOW, account_checked=True
    )
    shared = judge(POLICY, declared("bulk", SHARED_POOL, {"stream": "bulk"}), set(), NOW)
    default = judge(POLICY, declared("ops-alerts"), set(), NOW)

    # Then the undeclared pool is a finding even on an exempt set; the reserved ones not
    assert missing.decision is not None and missing.decision.outcome is Outcome.EXEMPT
    assert [(f.check, f.message) for f in missing.findings] == [
        (
            Check.UNDEFINED_POOL,
            "pool billing-old is declared in none of the checked files (--live also looks "
            "in the account)",
        )
    ]
    assert live.findings[0].message == (
        "pool billing-old is declared neither in the checked files nor in the account"
    )
    assert shared.findings == default.findings == ()


def test_a_generated_name_is_unresolved_while_a_rule_on_names_comes_first() -> None:
    # When a set with a generated name is tagged for the bulk rule, no exemption in force
    verdict = judge(EXPIRED, declared(GENERATED, SHARED_POOL, {"stream": "bulk"}), POOLS, NOW)

    # Then it is unresolved: the marketing rule, before the bulk rule, may match the name
    assert verdict.result == "unresolved"
    assert verdict.findings[0].message == (
        "name unknown (no Name: CloudFormation generates one at deploy); rule marketing may match"
    )


def test_a_generated_name_is_judged_when_only_tag_rules_come_first() -> None:
    # Given tag rules only, and no exemption
    policy = parse_policy(
        """
        version: 1
        mode: enforce
        rules:
          - {id: tx-tagged, match: {names: ["tx-*"], tags: {stream: receipts}}, pool: transactional}
          - {id: bulk, match: {tags: {stream: bulk}}, pool: ses-shared-pool}
        default: {pool: ses-default-dedicated-pool}
        """
    )

    # When sets with generated names are judged
    bulk = judge(policy, declared(GENERATED, DEFAULT_POOL, {"stream": "bulk"}), POOLS, NOW)
    receipts = judge(policy, declared(GENERATED, DEFAULT_POOL, {"stream": "receipts"}), POOLS, NOW)

    # Then the first skips the names rule (its tags do not hold) and is decided by tags;
    # the second could match the names rule: unresolved
    assert bulk.decision is not None and bulk.decision.rule_id == "bulk"
    assert [f.check for f in bulk.findings] == [Check.WRONG_POOL]
    assert receipts.decision is None
    assert "rule tx-tagged may match" in receipts.findings[0].message


def test_an_exemption_in_force_leaves_a_generated_name_undecided() -> None:
    verdict = judge(POLICY, declared(GENERATED, SHARED_POOL, {"stream": "bulk"}), POOLS, NOW)

    assert verdict.decision is None
    assert verdict.findings[0].message == (
        "name unknown (no Name: CloudFormation generates one at deploy); an exemption may cover it"
    )


def test_unknown_tags_matter_only_to_the_rules_that_read_tags() -> None:
    tags = Unresolved("Tags: Fn::If on condition IsProd: decided at deploy")

    by_name = judge(POLICY, declared("mkt-weekly", "marketing", tags), POOLS, NOW)
    by_tags = judge(POLICY, declared("ops-alerts", DEFAULT_POOL, tags), POOLS, NOW)

    assert by_name.result == "compliant"
    assert by_tags.findings[0].message == (
        "tags unknown (Tags: Fn::If on condition IsProd: decided at deploy); rule bulk may match"
    )


def test_an_unknown_pool_matters_only_when_the_set_is_managed() -> None:
    pool = Unresolved("Fn::If on condition IsProd: decided at deploy")

    exempt = judge(POLICY, declared("legacy-billing", pool), POOLS, NOW)
    managed = judge(POLICY, declared("mkt-weekly", pool), POOLS, NOW)
    unmanaged = judge(POLICY, declared("ops-alerts", pool), POOLS, NOW)

    assert exempt.result == "exempt"
    assert unmanaged.result == "unmanaged"
    assert [(f.check, f.message) for f in managed.findings] == [
        (
            Check.UNRESOLVED,
            "pool unknown (Fn::If on condition IsProd: decided at deploy); the policy "
            "requires marketing (rule marketing)",
        )
    ]


def test_a_set_that_cannot_carry_a_pool_says_so() -> None:
    v1 = "an aws_ses_configuration_set (SES v1) cannot carry a pool"

    wrong = judge(POLICY, declared("mkt-news", DEFAULT_POOL, fixed_pool=v1), POOLS, NOW)
    fine = judge(POLICY, declared("ops-alerts", DEFAULT_POOL, fixed_pool=v1), POOLS, NOW)

    assert wrong.findings[0].message == f"{v1}; the policy requires marketing (rule marketing)"
    assert fine.findings == ()


@given(
    name=st.sampled_from(["mkt-weekly", "tx-receipts", "legacy-billing", "ops", "bulk-import"]),
    pool=st.sampled_from([DEFAULT_POOL, SHARED_POOL, "marketing", "transactional"]),
    stream=st.sampled_from([None, "bulk", "marketing"]),
)
def test_a_set_the_file_decides_gets_exactly_evaluates_decision(
    name: str, pool: str, stream: str | None
) -> None:
    tags = {"stream": stream} if stream else {}

    verdict = judge(POLICY, declared(name, pool, tags), POOLS, NOW)

    assert verdict.decision == evaluate(POLICY, ConfigurationSet(name, pool, tags=tags), NOW)


SCOPED = parse_policy(
    """
    version: 1
    mode: enforce
    rules:
      - {id: eu-marketing, match: {names: ["mkt-*"], regions: ["eu-*"]}, pool: marketing-eu}
      - {id: prod-marketing, match: {names: ["mkt-*"], accounts: ["111111111111"]},
         pool: marketing}
      - {id: by-ou, match: {names: ["ou-*"], organizational_units: ["ou-ab12-cd34ef56"]},
         pool: marketing}
    exemptions:
      - {configuration_set: "*", accounts: ["222222222222"], reason: sandbox,
         expires: 2026-12-31}
    """
)
SCOPED_POOLS = {"marketing", "marketing-eu"}


def test_a_scoped_rule_the_check_cannot_place_leaves_the_set_unresolved() -> None:
    # Given no account or region for the sets: the sandbox exemption may or may not apply
    verdict = judge(SCOPED, declared("mkt-weekly", "transactional"), SCOPED_POOLS, NOW)

    # Then the set is unresolved, saying which rule and what to give; never compliant
    assert [f.check for f in verdict.findings] == [Check.UNRESOLVED, Check.UNDEFINED_POOL]
    assert "the exemption for '*' names accounts" in verdict.findings[0].message
    assert "--account and --region" in verdict.findings[0].message


def test_a_known_lane_decides_scoped_rules_in_order() -> None:
    in_eu = Lane("111111111111", "eu-west-1")
    in_us = Lane("111111111111", "us-east-1")
    elsewhere = Lane("333333333333", "us-east-1")
    set_ = declared("mkt-weekly", "marketing")

    # In Europe the first rule wants marketing-eu; in the US the account's rule decides;
    # in another account no rule applies
    eu = judge(SCOPED, set_, SCOPED_POOLS, NOW, lane=in_eu)
    assert [f.check for f in eu.findings] == [Check.WRONG_POOL]
    assert "marketing-eu (rule eu-marketing" in eu.findings[0].message
    us = judge(SCOPED, set_, SCOPED_POOLS, NOW, lane=in_us)
    assert us.findings == () and us.decision is not None
    assert us.decision.rule_id == "prod-marketing"
    other = judge(SCOPED, set_, SCOPED_POOLS, NOW, lane=elsewhere)
    assert other.result == "unmanaged"


def test_an_ou_rule_is_unresolved_without_the_organization_and_an_exemption_is_scoped() -> None:
    lane = Lane("111111111111", "us-east-1", None, "check does not read the organization")
    by_ou = judge(SCOPED, declared("ou-set", "transactional"), SCOPED_POOLS, NOW, lane=lane)
    assert [f.check for f in by_ou.findings] == [Check.UNRESOLVED, Check.UNDEFINED_POOL]
    assert "organizational_units" in by_ou.findings[0].message

    # The sandbox exemption covers its own account only: a generated name in a known lane
    # that no rule is scoped to is unmanaged; in the sandbox the exemption may cover it
    generated = declared(GENERATED)
    assert (
        judge(
            SCOPED,
            generated,
            SCOPED_POOLS,
            NOW,
            lane=Lane("333333333333", "us-east-1", frozenset({"r-ab12"})),
        ).result
        == "unmanaged"
    )
    sandbox = judge(SCOPED, generated, SCOPED_POOLS, NOW, lane=Lane("222222222222", "us-east-1"))
    assert sandbox.result == Check.UNRESOLVED.value
    assert "an exemption may cover it" in sandbox.findings[0].message


# --- pool_health before deploy: the scaling mode a template declares -------------------

HEALTH = parse_policy(
    """
    version: 1
    mode: enforce
    rules:
      - id: bulk
        match: {names: ["bulk-*"]}
        pool: bulk
        pool_health: {scaling_mode: MANAGED, min_ips: 2, min_warmup_percent: 90}
    """
)


def test_a_pool_declared_with_another_scaling_mode_is_a_finding() -> None:
    # Given a set declared on "bulk", and "bulk" declared STANDARD where the rule wants MANAGED
    verdict = judge(
        HEALTH, declared("bulk-a", "bulk"), {"bulk"}, NOW, pool_modes={"bulk": "STANDARD"}
    )

    # Then the check says the pool falls short, naming the mode
    assert [f.check for f in verdict.findings] == [Check.POOL_HEALTH]
    assert "scaling mode STANDARD, MANAGED required" in verdict.findings[0].message


def test_a_pool_declared_as_required_or_not_declared_is_judged_by_its_name_only() -> None:
    # IPs and warm-up exist only once deployed: before deploy they are never held against it
    managed = judge(
        HEALTH, declared("bulk-a", "bulk"), {"bulk"}, NOW, pool_modes={"bulk": "MANAGED"}
    )
    elsewhere = judge(HEALTH, declared("bulk-a", "bulk"), {"bulk"}, NOW)
    assert managed.findings == elsewhere.findings == ()
    assert managed.result == elsewhere.result == "compliant"


def test_a_live_pool_s_ips_and_warm_up_are_judged_and_shown() -> None:
    # Given "bulk" in the account as check --live reads it: MANAGED, or STANDARD with one
    # IP 10 % warm
    managed = PoolState("bulk", "MANAGED", (DedicatedIp("192.0.2.1", "NOT_APPLICABLE", -1),))
    standard = PoolState("bulk", "STANDARD", (DedicatedIp("192.0.2.1", "IN_PROGRESS", 10),))
    set_on_bulk = declared("bulk-a", "bulk")

    # When the set is judged with the live states
    fine = judge(HEALTH, set_on_bulk, {"bulk"}, NOW, live_pools={"bulk": managed})
    short = judge(HEALTH, set_on_bulk, {"bulk"}, NOW, live_pools={"bulk": standard})

    # Then a MANAGED pool meets the rule; a STANDARD one with one cold IP falls short on
    # its mode, its IP count and its warm-up, said of the account's pool
    assert fine.findings == () and fine.result == "compliant"
    assert [f.check for f in short.findings] == [Check.POOL_HEALTH]
    message = short.findings[0].message
    assert message.startswith("pool bulk is, in the account, STANDARD, 1 IP, coldest 10 % warm")
    assert "1 IPs, at least 2 required" in message
    assert "coldest IP 10 % warm, at least 90 % required" in message
    # And the verdict carries the state it was judged by (check's JSON shows it)
    assert short.decision is not None and short.decision.pool_state == standard
    # And a template's declared mode still wins over the account's
    declared_managed = judge(
        HEALTH,
        set_on_bulk,
        {"bulk"},
        NOW,
        pool_modes={"bulk": "MANAGED"},
        live_pools={"bulk": standard},
    )
    assert declared_managed.findings == ()
