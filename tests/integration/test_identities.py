"""Issue 12: sending identities on the work queue, end to end on local AWS: identity
events in, default configuration sets assigned or reported, a deleted set's identities
alerted, the sweep and the report covering identities, at a known cost in SES calls."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from functions.sweep import app as sweep_app
from local_aws import call_counts, faults, seed, sfn
from local_aws.replay import LambdaContext, sample_event
from local_aws.sfn import Execution
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters.inventory import IDENTITIES, Inventory
from ses_pool_enforcer.reconciler import LEASE_SECONDS
from tests import granted
from tests.conftest import reset_process_caches
from tests.integration.test_pool_lifecycle import drain_work_queue
from tests.support import invoke, marketing_account, s3_object, shift_clock

POLICY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
  - id: receipts-pool
    match: {names: ["tx-*"]}
    pool: transactional
    mode: audit
identities:
  - id: newsletters
    match: {identities: ["news.example.com", "*@news.example.com"]}
    configuration_set: mkt-news
  - id: growth
    match: {tags: {team: growth}}
    configuration_set: mkt-*
  - id: receipts
    match: {identities: ["shop.example.com"]}
    configuration_set: tx-receipts
    mode: audit
  - id: lists
    match: {identities: ["lists.example.com"]}
    configuration_set: mkt-lists-not-created
  - id: everyone-else
    match: {identities: ["*.example.com", "*@*.example.com"]}
    default_configuration_set: required
exemptions:
  - identity: legacy.example.com
    reason: OPS-7 migration
    expires: 2099-12-31
"""

CREATE = "create_email_identity.json"
PUT_DEFAULT = "put_email_identity_configuration_set_attributes.json"


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    # Given the marketing and transactional pools, the sets identities may use, and the
    # policy above
    marketing_account(POLICY)
    seed.create_set("mkt-news", pool="marketing")
    seed.create_set("mkt-offers", pool="marketing")
    seed.create_set("tx-receipts", pool="transactional")
    return stack


def identity_rows(stack: LocalStack) -> dict[str, dict[str, str]]:
    return {
        row["identity"]: row for row in Inventory(stack.identity_table, layout=IDENTITIES).rows()
    }


def identity_alerts(stack: LocalStack) -> list[dict[str, Any]]:
    return [a for a in received_alerts(stack) if "identity" in a["attributes"]]


def event_about(identity: str, file: str = CREATE) -> dict[str, Any]:
    return sample_event(file, identity=identity, fresh_id=True)


def ses_calls(operation: str) -> int:
    return call_counts().get(operation, 0)


def default_writes() -> int:
    return ses_calls("PutEmailIdentityConfigurationSetAttributes")


# --------------------------------------------------------------------------- events


def test_an_identity_created_without_its_required_default_set_is_given_it(
    account: LocalStack,
) -> None:
    # Given a newsletter domain created with no default configuration set
    seed.create_identity("news.example.com")

    # When its CreateEmailIdentity event arrives
    result = invoke(event_about("news.example.com"))

    # Then the rule's set is its default now, and one alert says so, naming the actor
    assert result == {"batchItemFailures": []}
    assert seed.default_set("news.example.com") == "mkt-news"
    [alert] = identity_alerts(account)
    assert alert["attributes"]["outcome"] == "remediated"
    assert alert["attributes"]["identity"] == "news.example.com"
    document = alert["alert"]
    assert document["kind"] == "identity"
    assert document["current_configuration_set"] == "mkt-news"
    assert document["previous_configuration_set"] is None
    assert document["required_configuration_set"] == "mkt-news"
    assert document["rule_id"] == "newsletters"
    assert document["actor"].endswith("assumed-role/EmailPlatformAdmin/alice")
    assert document["event_name"] == "CreateEmailIdentity"
    assert "news.example.com given its required default configuration set" in alert["subject"]
    # And the identity inventory holds the outcome, by the identity table's own names
    row = identity_rows(account)["news.example.com"]
    assert row["outcome"] == "remediated"
    assert row["default_configuration_set"] == "mkt-news"
    assert row["required"] == "mkt-news"


def test_an_identity_whose_default_is_changed_away_is_set_back(account: LocalStack) -> None:
    # Given an address that someone points at the receipts set
    seed.create_identity("editor@news.example.com", configuration_set="mkt-news")
    seed.set_default("editor@news.example.com", "tx-receipts")

    # When the PutEmailIdentityConfigurationSetAttributes event arrives
    invoke(event_about("editor@news.example.com", PUT_DEFAULT))

    # Then its default is the newsletter set again, and the alert tells both
    assert seed.default_set("editor@news.example.com") == "mkt-news"
    [alert] = identity_alerts(account)
    assert alert["alert"]["previous_configuration_set"] == "tx-receipts"
    assert alert["alert"]["current_configuration_set"] == "mkt-news"
    assert alert["alert"]["event_name"] == "PutEmailIdentityConfigurationSetAttributes"


def test_an_identity_on_its_required_set_is_compliant_and_nothing_is_written(
    account: LocalStack,
) -> None:
    seed.create_identity("news.example.com", configuration_set="mkt-news")

    invoke(event_about("news.example.com", PUT_DEFAULT))

    assert default_writes() == 0
    assert identity_alerts(account) == []
    assert identity_rows(account)["news.example.com"]["outcome"] == "compliant"


def test_a_glob_rule_reports_and_never_assigns(account: LocalStack) -> None:
    # Given an identity tagged for the growth rule, whose default is the receipts set
    seed.create_identity(
        "promo.example.org", configuration_set="tx-receipts", tags={"team": "growth"}
    )

    # When its event arrives
    invoke(event_about("promo.example.org"))

    # Then nothing is written (a glob names no one set), and the alert says why
    assert default_writes() == 0
    assert seed.default_set("promo.example.org") == "tx-receipts"
    [alert] = identity_alerts(account)
    assert alert["attributes"]["outcome"] == "violation"
    assert alert["alert"]["required_configuration_set"] == "mkt-*"
    assert "glob" in alert["alert"]["reason"]


def test_a_glob_rule_is_met_by_any_set_it_matches(account: LocalStack) -> None:
    seed.create_identity(
        "promo.example.org", configuration_set="mkt-offers", tags={"team": "growth"}
    )

    invoke(event_about("promo.example.org"))

    assert identity_alerts(account) == []
    assert identity_rows(account)["promo.example.org"]["outcome"] == "compliant"


def test_required_means_any_default_set_and_is_never_assigned(account: LocalStack) -> None:
    # Given two identities under the catch-all rule: one with a default, one without
    seed.create_identity("support.example.com", configuration_set="tx-receipts")
    seed.create_identity("ops@billing.example.com")

    # When their events arrive
    invoke(event_about("support.example.com"), event_about("ops@billing.example.com"))

    # Then the one with a default complies, the other is reported and left as it is
    rows = identity_rows(account)
    assert rows["support.example.com"]["outcome"] == "compliant"
    assert rows["ops@billing.example.com"]["outcome"] == "violation"
    assert rows["ops@billing.example.com"]["required"] == "any"
    assert default_writes() == 0
    assert seed.default_set("ops@billing.example.com") is None
    [alert] = identity_alerts(account)
    assert alert["attributes"]["identity"] == "ops@billing.example.com"


def test_an_audit_rule_reports_and_writes_nothing(account: LocalStack) -> None:
    seed.create_identity("shop.example.com", configuration_set="mkt-news")

    invoke(event_about("shop.example.com"))

    assert default_writes() == 0
    assert seed.default_set("shop.example.com") == "mkt-news"
    [alert] = identity_alerts(account)
    assert alert["attributes"]["outcome"] == "violation"
    assert alert["alert"]["required_configuration_set"] == "tx-receipts"


def test_a_required_set_that_does_not_exist_is_an_error_not_a_write(account: LocalStack) -> None:
    seed.create_identity("lists.example.com")

    invoke(event_about("lists.example.com"))

    assert default_writes() == 0
    [alert] = identity_alerts(account)
    assert alert["attributes"]["outcome"] == "error"
    assert "mkt-lists-not-created does not exist" in alert["alert"]["reason"]


def test_an_exempt_identity_is_left_alone(account: LocalStack) -> None:
    seed.create_identity("legacy.example.com")

    invoke(event_about("legacy.example.com"))

    assert default_writes() == 0
    assert identity_alerts(account) == []
    assert identity_rows(account)["legacy.example.com"]["outcome"] == "exempt"


def test_a_v1_verify_domain_identity_event_is_reconciled_too(account: LocalStack) -> None:
    seed.create_identity("news.example.com")

    invoke(sample_event("verify_domain_identity_v1.json", identity="news.example.com"))

    assert seed.default_set("news.example.com") == "mkt-news"


def test_tagging_an_identity_reconciles_it_under_its_new_tags(account: LocalStack) -> None:
    # Given an identity no rule matched, now tagged for the growth rule
    seed.create_identity("promo.example.org", configuration_set="tx-receipts")
    seed.sesv2().tag_resource(
        ResourceArn="arn:aws:ses:us-east-1:123456789012:identity/promo.example.org",
        Tags=[{"Key": "team", "Value": "growth"}],
    )

    # When the TagResource event arrives
    invoke(sample_event("tag_resource_identity.json", identity="promo.example.org"))

    # Then the growth rule judges it
    row = identity_rows(account)["promo.example.org"]
    assert (row["outcome"], row["rule_id"]) == ("violation", "growth")


def test_a_deleted_identity_leaves_the_inventory_without_an_alert(account: LocalStack) -> None:
    seed.create_identity("news.example.com", configuration_set="mkt-news")
    invoke(event_about("news.example.com"))
    assert "news.example.com" in identity_rows(account)

    seed.sesv2().delete_email_identity(EmailIdentity="news.example.com")
    invoke(event_about("news.example.com", "delete_email_identity.json"))

    assert "news.example.com" not in identity_rows(account)
    assert identity_alerts(account) == []


def test_deleting_a_set_alerts_each_identity_that_used_it_as_default(account: LocalStack) -> None:
    # Given two identities whose default is tx-receipts, known to the enforcer (one is
    # unmanaged: no rule matches it), and one on another set
    seed.create_identity("shop.example.com", configuration_set="tx-receipts")
    seed.create_identity("orders@shop.example.net", configuration_set="tx-receipts")
    seed.create_identity("news.example.com", configuration_set="mkt-news")
    invoke(*(event_about(n) for n in ("shop.example.com", "orders@shop.example.net")))
    invoke(event_about("news.example.com"))
    assert identity_rows(account)["orders@shop.example.net"]["outcome"] == "unmanaged"

    # When tx-receipts is deleted
    seed.sesv2().delete_configuration_set(ConfigurationSetName="tx-receipts")
    invoke(sample_event("delete_configuration_set.json", configuration_set="tx-receipts"))

    # Then an error alert names each identity that used it, whatever the policy says
    alerts = {a["attributes"]["identity"]: a for a in identity_alerts(account)}
    assert set(alerts) == {"shop.example.com", "orders@shop.example.net"}
    for alert in alerts.values():
        assert alert["attributes"]["outcome"] == "error"
        assert alert["alert"]["current_configuration_set"] == "tx-receipts"
        assert "tx-receipts" in alert["alert"]["reason"]
        assert alert["alert"]["event_name"] == "DeleteConfigurationSet"
    # And no default was removed or replaced (SES still names the deleted set)
    assert default_writes() == 0
    assert seed.default_set("shop.example.com") == "tx-receipts"


def test_a_change_to_a_set_that_still_exists_looks_at_none_of_its_identities(
    account: LocalStack,
) -> None:
    # Given an identity whose default is tx-receipts, known to the enforcer
    seed.create_identity("shop.example.com", configuration_set="tx-receipts")
    invoke(event_about("shop.example.com"))
    reads = ses_calls("GetEmailIdentity")
    alerts = len(identity_alerts(account))

    # When tx-receipts' delivery options change (an event whose name sorts after
    # DeleteConfigurationSet: only a deletion breaks an identity's default)
    invoke(sample_event("put_delivery_options_v2.json", configuration_set="tx-receipts"))

    # Then the set is looked at, and its identity neither read nor alerted
    assert ses_calls("GetConfigurationSet") >= 1
    assert ses_calls("GetEmailIdentity") == reads
    assert len(identity_alerts(account)) == alerts


def test_an_unreadable_identity_is_retried_and_nothing_is_written(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an identity whose reads fail, every attempt the SDK makes
    seed.create_identity("news.example.com")
    faults.fail("sesv2", "GetEmailIdentity", times=3, code="InternalFailure")

    # When its event arrives
    result = invoke(event_about("news.example.com"))

    # Then the message is given back for a retry and nothing was assigned
    assert len(result["batchItemFailures"]) == 1
    assert default_writes() == 0
    assert seed.default_set("news.example.com") is None

    # And SQS's retry, once the failed attempt's hold has run out, assigns it
    shift_clock(monkeypatch, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LEASE_SECONDS + 1))
    assert invoke(event_about("news.example.com")) == {"batchItemFailures": []}
    assert seed.default_set("news.example.com") == "mkt-news"


def test_every_call_of_the_event_function_is_granted_by_the_template(account: LocalStack) -> None:
    # Given a set to move, an identity to give its default set, an identity (known to
    # the enforcer) on tx-receipts, and the marketing pool's sets
    seed.create_set("mkt-misplaced", pool="transactional")
    seed.create_identity("news.example.com")
    seed.create_identity("shop.example.com", configuration_set="tx-receipts")

    # When their events arrive, then tx-receipts and the marketing pool are deleted and
    # the work the pool's deletion queued comes back, every request recorded (moto
    # checks no policy: a call the template does not grant fails only in AWS)
    with granted.recording() as calls:
        created = sample_event(
            "create_configuration_set_v2.json", configuration_set="mkt-misplaced"
        )
        invoke(created, event_about("news.example.com"), event_about("shop.example.com"))
        seed.sesv2().delete_configuration_set(ConfigurationSetName="tx-receipts")
        invoke(sample_event("delete_configuration_set.json", configuration_set="tx-receipts"))
        seed.delete_pool("marketing")
        invoke(sample_event("delete_dedicated_ip_pool.json", pool="marketing"))
        queued = drain_work_queue(account)
        assert any("mkt-misplaced" in body for body in queued)
        assert invoke(*queued) == {"batchItemFailures": []}
    assert seed.default_set("news.example.com") == "mkt-news"
    alerts = {
        a["attributes"].get("identity"): a["attributes"]["outcome"]
        for a in identity_alerts(account)
    }
    assert alerts["shop.example.com"] == "error"

    # Then the event function's role grants each call: the move, the identity's default,
    # the lookups of a deleted set's identities and a deleted pool's sets, the queued work
    assert {
        "ses:PutConfigurationSetDeliveryOptions",
        "ses:PutEmailIdentityConfigurationSetAttributes",
        "dynamodb:Query",
        "sqs:SendMessage",
    } <= calls.own.actions
    assert not granted.refused(calls.own, "EventFunctionRole", set(), account)
    assert not calls.member


# --------------------------------------------------------------------------- sweep


def invoke_sweep(payload: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    result: dict[str, Any] = sweep_app.handler(payload, context or LambdaContext())
    return result


def run_sweep() -> Execution:
    return sfn.run_sweep(sweep_app.handler, {"trigger": "manual"})


def test_the_sweep_walks_identities_after_the_sets_and_reports_them(account: LocalStack) -> None:
    # Given identities in each state, that no event told the enforcer about, one of them
    # using a set that is on the wrong pool (an audit rule leaves it there)
    seed.create_set("tx-promos", pool="marketing")
    seed.create_identity("news.example.com")  # to assign
    seed.create_identity("shop.example.com", configuration_set="mkt-news")  # audit
    seed.create_identity("support.example.com", configuration_set="tx-receipts")  # compliant
    seed.create_identity("promo@support.example.com", configuration_set="tx-promos")
    seed.create_identity("ops@billing.example.com")  # no default
    seed.create_identity("legacy.example.com")  # exempt
    seed.create_identity("someone@elsewhere.org")  # unmanaged

    # When a sweep runs
    execution = run_sweep()

    # Then it succeeded and assigned the newsletter default
    assert execution.status == "SUCCEEDED", execution.cause
    assert seed.default_set("news.example.com") == "mkt-news"
    assert default_writes() == 1
    # And every identity has an outcome in the identity inventory
    outcomes = {name: row["outcome"] for name, row in identity_rows(account).items()}
    assert outcomes == {
        "news.example.com": "remediated",
        "shop.example.com": "violation",
        "support.example.com": "compliant",
        "promo@support.example.com": "compliant",
        "ops@billing.example.com": "violation",
        "legacy.example.com": "exempt",
        "someone@elsewhere.org": "unmanaged",
    }
    # And the stored report has an identities section, counted apart from the sets
    assert execution.output["report"]["total"] == 4  # the four sets
    report = json.loads(s3_object(execution.output["report_uri"]))
    section = report["identities"]
    assert section["total"] == 7
    assert section["counts"]["remediated"] == 1
    assert section["counts"]["violation"] == 2
    assert section["counts"]["compliant"] == 2
    assert section["counts"]["exempt"] == section["counts"]["unmanaged"] == 1
    assert sorted(section["non_compliant"]) == ["ops@billing.example.com", "shop.example.com"]
    assert sorted(section["without_default"]) == [
        "legacy.example.com",
        "ops@billing.example.com",
        "someone@elsewhere.org",
    ]
    [wrong] = section["wrong_pool_defaults"]
    assert wrong["identity"] == "promo@support.example.com"
    assert (wrong["configuration_set"], wrong["current_pool"]) == ("tx-promos", "marketing")
    # And the summary alert carries the identities' counts
    [summary] = [a for a in received_alerts(account) if a["attributes"].get("outcome") == "report"]
    assert summary["alert"]["identities"]["total"] == 7


def test_what_a_sweep_costs_per_identity_in_ses_calls(account: LocalStack) -> None:
    # Given 30 identities: 20 on an existing set, 10 with none
    for n in range(20):
        seed.create_identity(f"n{n:02}@news.example.com", configuration_set="mkt-news")
    for n in range(10):
        seed.create_identity(f"x{n:02}.example.org")

    # When a sweep runs
    before = dict(call_counts())
    execution = run_sweep()
    assert execution.status == "SUCCEEDED", execution.cause
    used = {k: v - before.get(k, 0) for k, v in call_counts().items() if v != before.get(k, 0)}

    # Then each identity cost one read, the listing one page, and checking that the
    # default sets exist cost nothing: the sweep had just seen every set
    assert used["GetEmailIdentity"] == 30
    assert used["ListEmailIdentities"] == 1
    assert used["GetConfigurationSet"] == 3  # the three sets, once each
    assert "PutEmailIdentityConfigurationSetAttributes" not in used


def test_a_sweep_paused_among_the_identities_resumes_there_not_at_the_sets(
    account: LocalStack,
) -> None:
    # Given 30 identities, and a sweep whose first step runs out of time after the three
    # sets and ten identities
    from tests.integration.test_sweep import CountdownContext

    for n in range(30):
        seed.create_identity(f"n{n:02}@news.example.com", configuration_set="mkt-news")
    before = dict(call_counts())
    start = {"action": "start", "execution": "exec-phase", "input": {"trigger": "manual"}}
    state = sweep_app.handler(start, LambdaContext())
    state = sweep_app.handler({"action": "step", "sweep": state}, CountdownContext(sets=13))
    assert state["processed"] == 13 and not state["done"]

    # When the next step runs in a fresh process (the checkpoint is all it knows)
    reset_process_caches()
    state = sweep_app.handler({"action": "step", "sweep": state}, LambdaContext())

    # Then it went on among the identities: no set read or listed again
    assert state["done"] and state["processed"] == 33
    used = {k: v - before.get(k, 0) for k, v in call_counts().items() if v != before.get(k, 0)}
    assert (used["GetConfigurationSet"], used["ListConfigurationSets"]) == (3, 1)
    assert used["GetEmailIdentity"] == 30


def test_a_set_deleted_unseen_breaks_its_identities_in_the_same_sweep(
    account: LocalStack,
) -> None:
    # Given a sweep that knows tx-receipts and the identity that uses it
    seed.create_identity("support.example.com", configuration_set="tx-receipts")
    assert run_sweep().status == "SUCCEEDED"
    assert identity_rows(account)["support.example.com"]["outcome"] == "compliant"

    # When tx-receipts is deleted and its event is lost, and the next sweep runs
    seed.sesv2().delete_configuration_set(ConfigurationSetName="tx-receipts")
    reset_process_caches()
    assert run_sweep().status == "SUCCEEDED"

    # Then that sweep already calls the identity broken: the old inventory row of the
    # set is not taken for proof that it exists
    row = identity_rows(account)["support.example.com"]
    assert row["outcome"] == "error"
    [alert] = [a for a in identity_alerts(account) if a["attributes"]["outcome"] == "error"]
    assert alert["attributes"]["identity"] == "support.example.com"


def test_every_call_of_a_sweep_is_granted_by_the_template(account: LocalStack) -> None:
    # Given a set to move and an identity to give its default set, no event seen
    seed.create_set("mkt-misplaced", pool="transactional")
    seed.create_identity("news.example.com")

    # When a sweep runs, every request its clients send recorded (moto checks no policy:
    # a call the template does not grant fails only in AWS)
    with granted.recording() as calls:
        execution = run_sweep()
    assert execution.status == "SUCCEEDED", execution.cause
    assert seed.delivery_options("mkt-misplaced")["SendingPoolName"] == "marketing"
    assert seed.default_set("news.example.com") == "mkt-news"

    # Then the sweep function's role grants each call: the moves, the identity's default
    # and the report stored in S3 among them
    assert {
        "ses:PutConfigurationSetDeliveryOptions",
        "ses:PutEmailIdentityConfigurationSetAttributes",
        "s3:PutObject",
    } <= calls.own.actions
    assert not granted.refused(calls.own, "SweepFunctionRole", set(), account)
    assert not calls.member


SETS_ONLY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*"]}
    pool: marketing
"""


def test_a_policy_without_identities_costs_a_sweep_no_identity_call(account: LocalStack) -> None:
    # Given a policy that says nothing of identities, and an identity
    seed.put_policy(SETS_ONLY)
    seed.create_identity("news.example.com")

    # When a sweep runs
    execution = run_sweep()

    # Then no identity was listed or read, and the report has no identities section
    assert execution.status == "SUCCEEDED", execution.cause
    assert ses_calls("ListEmailIdentities") == ses_calls("GetEmailIdentity") == 0
    report = json.loads(s3_object(execution.output["report_uri"]))
    assert "identities" not in report


def test_an_empty_identities_list_asks_for_the_broken_default_checks_alone(
    account: LocalStack,
) -> None:
    # Given a policy with no identity rules but an empty identities list, and an
    # identity whose default set was deleted
    seed.put_policy(SETS_ONLY + "identities: []\n")
    seed.create_identity("support.example.com", configuration_set="tx-receipts")
    seed.sesv2().delete_configuration_set(ConfigurationSetName="tx-receipts")

    # When a sweep runs
    execution = run_sweep()

    # Then the identity is read and reported broken
    assert execution.status == "SUCCEEDED", execution.cause
    row = identity_rows(account)["support.example.com"]
    assert row["outcome"] == "error"
    [alert] = identity_alerts(account)
    assert "tx-receipts does not exist" in alert["alert"]["reason"]
