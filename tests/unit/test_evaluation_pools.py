"""``evaluate`` with what a rule asks of its target pool (``pool_health``,
``shared_pool_delivery_mode``) and of tenants (``match.tenants``, tenant exemptions,
``disabled_tenants``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ses_pool_enforcer.evaluation import evaluate, evaluate_identity, pool_shortfalls
from ses_pool_enforcer.model import (
    Action,
    ConfigurationSet,
    DedicatedIp,
    Identity,
    Outcome,
    PoolState,
    Tenant,
)
from ses_pool_enforcer.policy import Policy, parse_policy

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def _ips(*percentages: int) -> tuple[DedicatedIp, ...]:
    return tuple(
        DedicatedIp(f"192.0.2.{i}", "DONE" if p >= 100 else "IN_PROGRESS", p)
        for i, p in enumerate(percentages, start=1)
    )


WARM = PoolState("bulk", "STANDARD", _ips(100, 100))
WARMING = PoolState("bulk", "STANDARD", _ips(100, 10))
EMPTY = PoolState("bulk", "STANDARD", ())
MANAGED = PoolState("bulk", "MANAGED", ())


def _bulk_rule(health: str, *, mode: str = "enforce") -> Policy:
    return parse_policy(
        f"""
        version: 1
        mode: {mode}
        rules:
          - id: bulk
            match: {{names: ["bulk-*"]}}
            pool: bulk
            pool_health: {health}
        """
    )


# --- pool_health -------------------------------------------------------------------------


def test_a_move_onto_a_warming_pool_is_not_written_and_says_why() -> None:
    # Given a rule that wants its pool 90 % warm, and a pool with a 10 % IP
    policy = _bulk_rule("{min_warmup_percent: 90}")

    # When a set elsewhere is judged
    decision = evaluate(
        policy, ConfigurationSet("bulk-news", "ses-shared-pool"), NOW, pools={"bulk": WARMING}
    )

    # Then it is not moved, and the reason names the pool's state and the shortfall
    assert (decision.outcome, decision.action) == (Outcome.ERROR, Action.NONE)
    assert decision.reason == (
        "not moved: target pool bulk is not ready (STANDARD, 2 IPs, coldest 10 % warm: "
        "coldest IP 10 % warm, at least 90 % required); on ses-shared-pool"
    )
    assert decision.pool_state == WARMING


def test_a_move_onto_a_pool_that_meets_its_health_is_written() -> None:
    policy = _bulk_rule("{min_warmup_percent: 90, min_ips: 2, scaling_mode: STANDARD}")
    decision = evaluate(
        policy, ConfigurationSet("bulk-news", "ses-shared-pool"), NOW, pools={"bulk": WARM}
    )
    assert (decision.outcome, decision.action) == (Outcome.REMEDIATED, Action.REASSIGN)
    assert decision.reason == "moved from ses-shared-pool to bulk"


@pytest.mark.parametrize(
    ("health", "state", "shortfall"),
    [
        ("{min_ips: 3}", WARM, "2 IPs, at least 3 required"),
        ("{min_ips: 1}", EMPTY, "0 IPs, at least 1 required"),
        ("{scaling_mode: MANAGED}", WARM, "scaling mode STANDARD, MANAGED required"),
        ("{min_warmup_percent: 50}", EMPTY, "no IP to be 50 % warm"),
    ],
    ids=["too-few-ips", "no-ips", "not-managed", "nothing-warm"],
)
def test_each_pool_health_field_stops_a_move(health: str, state: PoolState, shortfall: str) -> None:
    # Given a rule asking one thing of its pool, and a pool that falls short of it
    policy = _bulk_rule(health)

    # When
    decision = evaluate(policy, ConfigurationSet("bulk-a", "other"), NOW, pools={"bulk": state})

    # Then
    assert decision.outcome is Outcome.ERROR
    assert shortfall in decision.reason


def test_a_managed_pool_meets_ips_and_warm_up_since_ses_handles_both() -> None:
    policy = _bulk_rule("{min_ips: 2, min_warmup_percent: 100}")
    decision = evaluate(policy, ConfigurationSet("bulk-a", "other"), NOW, pools={"bulk": MANAGED})
    assert decision.outcome is Outcome.REMEDIATED
    assert pool_shortfalls(policy.rules[0].pool_health, MANAGED) == []  # type: ignore[arg-type]


def test_a_pool_whose_state_was_not_read_is_not_decided_and_named() -> None:
    # Given a rule with pool_health, and no state of its pool
    policy = _bulk_rule("{min_ips: 1}")

    # When
    decision = evaluate(policy, ConfigurationSet("bulk-a", "other"), NOW)

    # Then nothing is written, and the caller learns which pool to read
    assert (decision.outcome, decision.action) == (Outcome.ERROR, Action.NONE)
    assert decision.needs_pool_state == "bulk"


def test_a_set_already_on_a_pool_that_falls_short_stays_compliant_and_says_so() -> None:
    policy = _bulk_rule("{min_warmup_percent: 90}")
    decision = evaluate(policy, ConfigurationSet("bulk-a", "bulk"), NOW, pools={"bulk": WARMING})
    assert decision.outcome is Outcome.COMPLIANT
    assert decision.reason.startswith("on bulk; pool bulk is not ready (STANDARD, 2 IPs")


def test_in_audit_mode_the_violation_also_says_the_pool_is_not_ready() -> None:
    policy = _bulk_rule("{min_warmup_percent: 90}", mode="audit")
    decision = evaluate(policy, ConfigurationSet("bulk-a", "other"), NOW, pools={"bulk": WARMING})
    assert decision.outcome is Outcome.VIOLATION
    assert "pool bulk is not ready" in decision.reason


def test_the_default_s_pool_health_is_held_too() -> None:
    policy = parse_policy(
        "version: 1\nmode: enforce\ndefault: {pool: bulk, pool_health: {min_ips: 3}}"
    )
    decision = evaluate(policy, ConfigurationSet("any", "other"), NOW, pools={"bulk": WARM})
    assert (decision.outcome, decision.rule_id) == (Outcome.ERROR, "default")


# --- shared_pool_delivery_mode -------------------------------------------------------------

SHARED = """
    version: 1
    mode: {mode}
    rules:
      - id: eu
        match: {{names: ["eu-*"]}}
        pool: ses-shared-pool
        shared_pool_delivery_mode: REGIONAL
"""


def test_the_delivery_mode_is_fixed_in_the_same_write_as_the_pool() -> None:
    # Given a set on a dedicated pool whose shared-pool mode is GLOBAL
    policy = parse_policy(SHARED.format(mode="enforce"))
    cs = ConfigurationSet(
        "eu-news", "marketing", {"TlsPolicy": "REQUIRE", "SharedPoolDeliveryMode": "GLOBAL"}
    )

    # When
    decision = evaluate(policy, cs, NOW)

    # Then one move carries both
    assert (decision.outcome, decision.action) == (Outcome.REMEDIATED, Action.REASSIGN)
    assert decision.expected_pool == "ses-shared-pool"
    assert decision.options == {"SharedPoolDeliveryMode": "REGIONAL"}
    assert decision.reason == (
        "moved from marketing to ses-shared-pool with SharedPoolDeliveryMode REGIONAL"
    )


@pytest.mark.parametrize("current", [None, "GLOBAL", "ACCOUNT"])
def test_a_set_on_the_shared_pool_with_another_mode_is_remediated(current: str | None) -> None:
    policy = parse_policy(SHARED.format(mode="enforce"))
    options = {} if current is None else {"SharedPoolDeliveryMode": current}
    decision = evaluate(policy, ConfigurationSet("eu-a", "ses-shared-pool", options), NOW)
    assert (decision.outcome, decision.action) == (Outcome.REMEDIATED, Action.REASSIGN)
    assert decision.options == {"SharedPoolDeliveryMode": "REGIONAL"}
    assert decision.reason == (
        f"SharedPoolDeliveryMode changed from {current or 'unset'} to REGIONAL"
    )


def test_a_set_with_the_mode_required_is_compliant_and_in_audit_reported() -> None:
    enforce = parse_policy(SHARED.format(mode="enforce"))
    audit = parse_policy(SHARED.format(mode="audit"))
    right = ConfigurationSet("eu-a", "ses-shared-pool", {"SharedPoolDeliveryMode": "REGIONAL"})
    wrong = ConfigurationSet("eu-a", "ses-shared-pool", {"SharedPoolDeliveryMode": "GLOBAL"})
    assert evaluate(enforce, right, NOW).outcome is Outcome.COMPLIANT
    reported = evaluate(audit, wrong, NOW)
    assert (reported.outcome, reported.action, reported.options) == (
        Outcome.VIOLATION,
        Action.NONE,
        {},
    )
    assert "SharedPoolDeliveryMode GLOBAL, expected REGIONAL" in reported.reason


# --- tenants -------------------------------------------------------------------------------

ACME = (Tenant("acme-eu"),)
TENANTS = """
    version: 1
    mode: enforce
    rules:
      - id: acme
        match: {tenants: ["acme-*"]}
        pool: acme
    default: {pool: shared-dedicated}
"""


def test_match_tenants_picks_the_sets_of_a_matching_tenant() -> None:
    policy = parse_policy(TENANTS)
    of_acme = evaluate(policy, ConfigurationSet("a", "x", tenants=ACME), NOW)
    of_other = evaluate(policy, ConfigurationSet("a", "x", tenants=(Tenant("globex"),)), NOW)
    of_none = evaluate(policy, ConfigurationSet("a", "x", tenants=()), NOW)
    assert (of_acme.rule_id, of_acme.expected_pool) == ("acme", "acme")
    assert of_other.rule_id == of_none.rule_id == "default"


def test_a_rule_naming_tenants_is_not_decided_when_the_tenants_were_not_read() -> None:
    decision = evaluate(parse_policy(TENANTS), ConfigurationSet("a", "x"), NOW)
    assert (decision.outcome, decision.action, decision.rule_id) == (
        Outcome.ERROR,
        Action.NONE,
        "acme",
    )
    assert "rule 'acme' names tenants, and its tenants were not read" in decision.reason


def test_a_tenant_exemption_covers_the_tenant_s_sets_and_identities() -> None:
    policy = parse_policy(
        TENANTS
        + """
    identities:
      - id: ids
        match: {identities: ["*"]}
        configuration_set: acme-set
    exemptions:
      - tenant: acme-*
        reason: OPS-9 onboarding
        expires: 2027-01-31
    """
    )
    cs = evaluate(policy, ConfigurationSet("a", "x", tenants=ACME), NOW)
    identity = evaluate_identity(policy, Identity("news.example.com", tenants=ACME), NOW)
    other = evaluate_identity(policy, Identity("news.example.com", tenants=()), NOW)
    assert cs.outcome is identity.outcome is Outcome.EXEMPT
    assert other.outcome is Outcome.REMEDIATED


def test_identity_rules_match_tenants() -> None:
    policy = parse_policy(
        """
        version: 1
        mode: enforce
        identities:
          - id: acme-ids
            match: {tenants: ["acme-*"]}
            configuration_set: acme-set
        """
    )
    hit = evaluate_identity(policy, Identity("a.example.com", tenants=ACME), NOW)
    miss = evaluate_identity(policy, Identity("a.example.com", tenants=()), NOW)
    assert (hit.rule_id, miss.outcome) == ("acme-ids", Outcome.UNMANAGED)


def test_a_disabled_tenant_s_set_is_reported_not_moved_unless_the_rule_says_enforce() -> None:
    # Given a set of a DISABLED tenant, off its pool
    disabled = (Tenant("acme-eu", "DISABLED"),)
    cs = ConfigurationSet("a", "x", tenants=disabled)

    # When judged by a rule that says nothing, and by one that says enforce
    reported = evaluate(parse_policy(TENANTS), cs, NOW)
    moved = evaluate(
        parse_policy(
            TENANTS.replace("pool: acme", "pool: acme\n        disabled_tenants: enforce")
        ),
        cs,
        NOW,
    )

    # Then
    assert (reported.outcome, reported.action) == (Outcome.VIOLATION, Action.NONE)
    assert "its tenant acme-eu is DISABLED" in reported.reason
    assert (moved.outcome, moved.action) == (Outcome.REMEDIATED, Action.REASSIGN)
    reinstated = ConfigurationSet("a", "x", tenants=(Tenant("acme-eu", "REINSTATED"),))
    assert evaluate(parse_policy(TENANTS), reinstated, NOW).outcome is Outcome.REMEDIATED


def test_a_disabled_tenant_s_identity_is_reported_not_given_its_set_unless_enforce() -> None:
    # Given an identity of a DISABLED tenant without its required default set
    rule = """
        version: 1
        mode: enforce
        identities:
          - id: acme-ids
            match: {tenants: ["acme-*"]}
            configuration_set: acme-set
        """
    disabled = Identity("a.example.com", tenants=(Tenant("acme-eu", "DISABLED"),))

    # When judged by a rule that says nothing, and by one that says enforce
    reported = evaluate_identity(parse_policy(rule), disabled, NOW)
    enforce = rule.replace("acme-set\n", "acme-set\n            disabled_tenants: enforce\n")
    given = evaluate_identity(parse_policy(enforce), disabled, NOW)

    # Then the first reports it and writes nothing, the second gives it its set
    assert (reported.outcome, reported.action) == (Outcome.VIOLATION, Action.NONE)
    assert "its tenant acme-eu is DISABLED" in reported.reason
    assert (given.outcome, given.action) == (Outcome.REMEDIATED, Action.REASSIGN)
    # And an ENABLED or REINSTATED tenant's identity is given its set either way
    reinstated = Identity("a.example.com", tenants=(Tenant("acme-eu", "REINSTATED"),))
    assert evaluate_identity(parse_policy(rule), reinstated, NOW).outcome is Outcome.REMEDIATED


def test_an_identity_rule_asking_to_report_disabled_tenants_makes_the_document_read_them() -> None:
    policy = parse_policy(
        """
        version: 1
        mode: enforce
        identities:
          - id: all
            match: {identities: ["*"]}
            configuration_set: s
            disabled_tenants: report
        """
    )
    assert policy.names_tenants()


def test_a_document_without_the_new_fields_needs_no_tenants_and_no_pool_state() -> None:
    # Given a v1 document that names no tenant and no pool health
    policy = parse_policy(
        "version: 1\nmode: enforce\nrules: [{id: r, match: {names: [a]}, pool: p}]"
    )

    # Then it reads no tenants, and decides a set with or without them alike
    assert not policy.names_tenants()
    plain = evaluate(policy, ConfigurationSet("a", "x"), NOW)
    with_disabled = evaluate(
        policy, ConfigurationSet("a", "x", tenants=(Tenant("t", "DISABLED"),)), NOW
    )
    assert plain == with_disabled
    assert (plain.outcome, plain.needs_pool_state, plain.options) == (Outcome.REMEDIATED, None, {})


def test_the_pools_and_tenants_example_in_docs_policy_md_is_valid() -> None:
    # Given the example of docs/policy.md's "Pools and tenants"
    text = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text()
    section = text.split("## Pools and tenants", 1)[1]
    policy = parse_policy(section.split("```yaml\n", 1)[1].split("```", 1)[0])

    # Then every field it shows is there
    bulk, eu, acme = policy.rules
    assert bulk.pool_health is not None and bulk.pool_health.min_warmup_percent == 90
    assert eu.shared_pool_delivery_mode == "REGIONAL"
    assert acme.match.tenants == ["acme-*"] and acme.disabled_tenants == "enforce"
    assert policy.exemptions[0].tenant == "globex" and policy.names_tenants()
