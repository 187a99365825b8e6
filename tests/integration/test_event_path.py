"""Issue 2: the event function, end to end on local AWS: SQS batch in, SES changed,
alerts out through SNS, the inventory updated."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from functions.on_event import app
from local_aws import call_counts, faults, seed
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.pools import DEFAULT_POOL
from tests.integration.test_sweep import metrics_emitted
from tests.support import invoke, marketing_account, ses_writes, shift_clock

POLICY = """
version: 1
mode: enforce
rules:
  - id: marketing
    match: {names: ["mkt-*", "newsletter-*"], tags: {stream: marketing}}
    pool: marketing
  - id: marketing-by-name
    match: {names: ["mkt-*"]}
    pool: marketing
  - id: receipts
    match: {names: ["tx-*"]}
    pool: transactional
    mode: audit
  - id: bulk-tagged
    match: {tags: {stream: bulk}}
    pool: ses-default-dedicated-pool
  - id: newsletters-tagged
    match: {tags: {stream: marketing}}
    pool: marketing
  - id: lists
    match: {names: ["list-*"]}
    pool: lists-pool-not-created
exemptions:
  - configuration_set: legacy-*
    reason: OPS-42 migration
    expires: 2026-12-31
"""


@pytest.fixture
def account(stack: LocalStack) -> LocalStack:
    # Given an account with two dedicated pools and the policy above
    marketing_account(POLICY)
    return stack


def test_a_set_created_in_the_wrong_pool_is_moved_and_keeps_tls_and_max_delivery(
    account: LocalStack,
) -> None:
    # Given a marketing set created on the transactional pool with TLS required
    seed.create_set(
        "mkt-weekly", pool="transactional", tls_policy="REQUIRE", max_delivery_seconds=600
    )

    # When its CreateConfigurationSet event arrives
    result = invoke(
        sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly")
    )

    # Then it is on the marketing pool, TLS and max delivery time unchanged
    assert result == {"batchItemFailures": []}
    assert seed.delivery_options("mkt-weekly") == {
        "SendingPoolName": "marketing",
        "TlsPolicy": "REQUIRE",
        "MaxDeliverySeconds": 600,
    }
    # And one remediation alert names the actor and the event
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "remediated"
    assert alert["alert"]["previous_pool"] == "transactional"
    assert alert["alert"]["current_pool"] == "marketing"
    assert alert["alert"]["rule_id"] == "marketing-by-name"
    assert alert["alert"]["actor"].endswith("assumed-role/EmailPlatformAdmin/alice")
    assert alert["alert"]["event_id"]
    # (the alert's id, the same if a retry ever has to send it again, for subscribers to
    # drop a repeat)
    assert alert["attributes"] == {
        "outcome": "remediated",
        "configuration_set": "mkt-weekly",
        "alert_id": alert["alert"]["alert_id"],
    }
    assert len(alert["alert"]["alert_id"]) == 32
    assert len(alert["subject"]) < 100 and "mkt-weekly" in alert["subject"]


def test_a_move_sends_back_every_delivery_option_it_read(account: LocalStack) -> None:
    # Given a set on the wrong pool with every delivery option SES has set
    seed.create_set("mkt-weekly", pool="transactional", tls_policy="REQUIRE")
    seed.sesv2().put_configuration_set_delivery_options(
        ConfigurationSetName="mkt-weekly",
        SendingPoolName="transactional",
        TlsPolicy="REQUIRE",
        MaxDeliverySeconds=900,
        SharedPoolDeliveryMode="REGIONAL",
    )
    write = faults.after("sesv2", "PutConfigurationSetDeliveryOptions", lambda: None)

    # When its event arrives
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"))

    # Then the write named each of them as it was, and only the pool changed
    [sent] = write.bodies
    assert sent == {
        "SendingPoolName": "marketing",
        "TlsPolicy": "REQUIRE",
        "MaxDeliverySeconds": 900,
        "SharedPoolDeliveryMode": "REGIONAL",
    }
    assert seed.delivery_options("mkt-weekly") == {**sent}


def test_a_set_under_an_audit_rule_is_reported_not_moved(account: LocalStack) -> None:
    # Given a receipts set (audit rule) sitting on the marketing pool
    seed.create_set("tx-receipts", pool="marketing", tls_policy="REQUIRE")

    # When someone's PutConfigurationSetDeliveryOptions event arrives
    invoke(sample_event("put_delivery_options_v2.json", configuration_set="tx-receipts"))

    # Then nothing is written and one violation alert says what is expected
    assert ses_writes() == 0
    assert seed.delivery_options("tx-receipts")["SendingPoolName"] == "marketing"
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "violation"
    assert alert["alert"]["expected_pool"] == "transactional"
    assert alert["alert"]["current_pool"] == "marketing"
    assert "audit" in alert["alert"]["reason"]


def test_a_rule_for_the_default_pool_leaves_the_set_with_no_pool_association(
    account: LocalStack,
) -> None:
    # Given a bulk-tagged set on the marketing pool, with its TLS and delivery settings
    seed.create_set(
        "bulk-import",
        pool="marketing",
        tls_policy="REQUIRE",
        max_delivery_seconds=900,
        tags={"stream": "bulk"},
    )

    # When its creation event arrives
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="bulk-import"))

    # Then the set carries no pool (the default dedicated pool), other options kept
    assert seed.delivery_options("bulk-import") == {
        "TlsPolicy": "REQUIRE",
        "MaxDeliverySeconds": 900,
    }
    [alert] = received_alerts(account)
    assert alert["alert"]["current_pool"] == DEFAULT_POOL


def test_an_exempt_set_is_left_alone_until_its_exemption_expires_then_enforced(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a legacy set exempt until 2026-12-31, on the wrong pool for rule marketing-by-name
    seed.create_set("legacy-mkt", pool="transactional", tags={"stream": "marketing"})
    event = sample_event("create_configuration_set_v2.json", configuration_set="legacy-mkt")
    shift_clock(monkeypatch, dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC))

    # When its event arrives on the last day of the exemption
    invoke(event)

    # Then it is not touched and nobody is alerted
    assert ses_writes() == 0
    assert received_alerts(account) == []

    # When the same kind of event arrives the day after the exemption expired
    shift_clock(monkeypatch, dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.UTC))
    invoke(sample_event("tag_resource.json", configuration_set="legacy-mkt", fresh_id=True))

    # Then the tag rule applies and the set is moved
    assert seed.delivery_options("legacy-mkt")["SendingPoolName"] == "marketing"
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "remediated"


def test_a_rule_whose_pool_does_not_exist_gives_an_error_alert_and_no_write(
    account: LocalStack,
) -> None:
    # Given a list-* set; its rule names a pool nobody created
    seed.create_set("list-members", pool="marketing")

    # When its creation event arrives
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="list-members"))

    # Then nothing is written and an error alert names the missing pool
    assert ses_writes() == 0
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "error"
    assert "lists-pool-not-created does not exist" in alert["alert"]["reason"]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (
            "version: 1\nrules:\n  - id: a\n    match: {names: [x]}\n"
            "    pool: p\n    colour: red\n",
            "rules[0].colour",
        ),
        ("version: 1\nmode: enforcing\n", "mode"),
        (
            "version: 1\nexemptions:\n  - configuration_set: a\n    reason: ''\n"
            "    expires: 2027-01-01\n",
            "exemptions[0].reason",
        ),
    ],
)
def test_an_invalid_policy_gives_an_error_naming_the_field_and_no_write(
    account: LocalStack, document: str, field: str
) -> None:
    # Given a set on the wrong pool, and an invalid policy stored in SSM
    seed.create_set("mkt-weekly", pool="transactional")
    seed.put_policy(document)

    # When its event arrives
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"))

    # Then nothing is written, and the error alert names the field at fault
    assert ses_writes() == 0
    [alert] = received_alerts(account)
    assert alert["alert"]["outcome"] == "error"
    assert field in alert["alert"]["reason"]
    assert "policy not enforced" in alert["alert"]["reason"]


def test_the_enforcers_own_reassignment_event_causes_no_write_and_no_alert(
    account: LocalStack,
) -> None:
    # Given a set the enforcer has just moved (its creation event handled)
    seed.create_set("mkt-weekly", pool="transactional", tls_policy="REQUIRE")
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"))
    assert ses_writes() == 1
    received_alerts(account)

    # When the CloudTrail record of the enforcer's own write comes back
    result = invoke(
        sample_event("put_delivery_options_by_enforcer.json", configuration_set="mkt-weekly")
    )

    # Then it causes no second write and no alert
    assert result == {"batchItemFailures": []}
    assert ses_writes() == 1
    assert received_alerts(account) == []


def test_a_v1_create_event_is_handled_like_a_v2_one(account: LocalStack) -> None:
    # Given a set created through the SES v1 API on the wrong pool
    seed.create_set("mkt-legacy-v1", pool="transactional")

    # When its v1-shaped event arrives (configurationSet.name)
    invoke(sample_event("create_configuration_set_v1.json"))

    # Then it is moved as a v2 event would have it moved
    assert seed.delivery_options("mkt-legacy-v1")["SendingPoolName"] == "marketing"


def test_an_event_with_upper_case_keys_is_read(account: LocalStack) -> None:
    # Given a receipts set on the wrong pool, and an event spelled ConfigurationSetName
    seed.create_set("tx-receipts", pool="marketing")

    # When it arrives
    invoke(sample_event("put_delivery_options_upper_case_keys.json"))

    # Then the set is found and reported
    [alert] = received_alerts(account)
    assert alert["alert"]["configuration_set"] == "tx-receipts"


def test_an_event_for_a_set_deleted_since_gives_no_crash_and_no_write(account: LocalStack) -> None:
    # Given an event about a set that no longer exists, recorded in the inventory
    # When it arrives
    result = invoke(sample_event("create_configuration_set_v2.json", configuration_set="gone"))

    # Then nothing fails, nothing is written, nobody is alerted
    assert result == {"batchItemFailures": []}
    assert ses_writes() == 0
    assert received_alerts(account) == []


def test_a_tag_that_a_rule_matches_moves_the_set(account: LocalStack) -> None:
    # Given an untagged newsletter set on the transactional pool: no rule matches it yet
    seed.create_set("newsletter-weekly", pool="transactional")
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="newsletter-weekly"))
    assert ses_writes() == 0

    # When someone tags it stream=marketing and the TagResource event arrives
    seed.tag_set("newsletter-weekly", {"stream": "marketing"})
    invoke(sample_event("tag_resource.json"))

    # Then the first rule (names and tags) now matches and the set is moved
    assert seed.delivery_options("newsletter-weekly")["SendingPoolName"] == "marketing"
    [alert] = received_alerts(account)
    assert alert["alert"]["rule_id"] == "marketing"


@pytest.mark.parametrize(
    "body",
    [
        {
            **sample_event("tag_resource.json"),
            "detail": {
                **sample_event("tag_resource.json")["detail"],
                "requestParameters": {
                    "resourceArn": "arn:aws:ses:us-east-1:123456789012:contact-list/news"
                },
            },
        },
        sample_event("put_delivery_options_failed.json"),
        sample_event("parameter_store_change.json"),
        "not json at all",
        {"detail-type": "AWS API Call via CloudTrail", "detail": {}},
        {"kind": "reconcile"},
    ],
    ids=["other-tag", "failed-call", "foreign-event", "not-json", "no-detail", "bad-request"],
)
def test_events_that_name_no_set_are_dropped_with_a_log_line(
    account: LocalStack,
    body: dict[str, Any] | str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an event that names no configuration set
    # When it arrives
    result = invoke(body)

    # Then it is not retried, nothing is written, and the log says why it was dropped,
    # and one dropped event is counted
    assert result == {"batchItemFailures": []}
    assert ses_writes() == 0
    assert call_counts().get("GetConfigurationSet", 0) == 0
    assert "event ignored" in caplog.text
    assert metrics_emitted(capsys.readouterr().out)["EventIgnored"] == [1.0]


def _from(event: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    # As a forwarding rule delivers it: the record names the lane its call was made in.
    event["detail"]["recipientAccountId"] = account
    event["detail"]["awsRegion"] = region
    return event


@pytest.mark.parametrize(
    ("lane_account", "lane_region", "cause"),
    [
        ("210987654321", "us-east-1", "event from account 210987654321"),
        ("123456789012", "eu-west-1", "event from region eu-west-1"),
    ],
    ids=["another-account", "another-region"],
)
def test_an_event_from_another_account_or_region_never_touches_this_one(
    account: LocalStack,
    caplog: pytest.LogCaptureFixture,
    lane_account: str,
    lane_region: str,
    cause: str,
) -> None:
    # Given a set here on the wrong pool, and a pool that sets here are expected on
    seed.create_set("mkt-weekly", pool="transactional")
    seed.inventory_entry(account.inventory_table, "mkt-weekly", expected_pool="marketing")
    events = [
        _from(
            sample_event("create_configuration_set_v2.json", configuration_set="mkt-weekly"),
            lane_account,
            lane_region,
        ),
        _from(
            sample_event("delete_dedicated_ip_pool.json", pool="marketing", fresh_id=True),
            lane_account,
            lane_region,
        ),
    ]

    # When records of another lane's calls arrive (a forwarding rule wider than it should be)
    result = app.handler(sqs_event(events), LambdaContext())

    # Then the same-named set here is neither read nor moved, and the log names the lane
    assert result == {"batchItemFailures": []}
    assert ses_writes() == 0
    assert call_counts().get("GetConfigurationSet", 0) == 0
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "transactional"
    causes = [getattr(r, "cause", "") for r in caplog.records if r.getMessage() == "event ignored"]
    assert len(causes) == 2
    assert all(c.startswith(cause) for c in causes)


def test_a_batch_with_a_transient_failure_reports_only_that_message(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two sets, one of which SES will refuse to read (a transient fault)
    seed.create_set("mkt-a", pool="transactional")
    seed.create_set("mkt-b", pool="transactional")
    from ses_pool_enforcer.adapters.ses import Ses

    real = Ses.get_configuration_set

    def flaky(self: Ses, name: str) -> Any:
        if name == "mkt-b":
            raise ConnectionError("SES unreachable")
        return real(self, name)

    monkeypatch.setattr(Ses, "get_configuration_set", flaky)
    events = [
        sample_event("create_configuration_set_v2.json", configuration_set=n, fresh_id=True)
        for n in ("mkt-a", "mkt-b")
    ]

    # When both arrive in one batch
    result = app.handler(sqs_event(events), LambdaContext())

    # Then the good one is done and only the failed one goes back to the queue
    assert len(result["batchItemFailures"]) == 1
    assert seed.delivery_options("mkt-a")["SendingPoolName"] == "marketing"
    assert seed.delivery_options("mkt-b")["SendingPoolName"] == "transactional"


def test_a_message_whose_reading_fails_fails_alone_and_the_rest_of_the_batch_is_done(
    account: LocalStack,
) -> None:
    # Given a pool's deletion, whose fan-out must read the inventory, and a set created on the
    # wrong pool, in one batch; and the inventory's query failing past the SDK's retries
    seed.create_set("mkt-a", pool="transactional")
    faults.fail("dynamodb", "Query", times=10, code="InternalServerError")
    events = [
        sample_event("delete_dedicated_ip_pool.json", pool="marketing", fresh_id=True),
        sample_event("create_configuration_set_v2.json", configuration_set="mkt-a", fresh_id=True),
    ]
    batch = sqs_event(events)

    # When the batch is handled
    result = app.handler(batch, LambdaContext())

    # Then only the deletion's message goes back to the queue (its fan-out is retried), and
    # the set is still moved: one message read badly does not fail the batch
    assert result == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    assert seed.delivery_options("mkt-a")["SendingPoolName"] == "marketing"
