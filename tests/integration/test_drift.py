"""Drift across the organization from AWS Config: an organization aggregator's recorded
pools name the suspects (no SES call), each is queued in its lane, and the event
consumers re-read it live before any write."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest

from functions.on_event import app as on_event
from functions.sweep import app as sweep_app
from local_aws import config as config_extension
from local_aws import faults, seed
from local_aws.event_source import drain
from local_aws.replay import LambdaContext
from local_aws.sesv2 import call_counts
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters.aggregator import Aggregator
from ses_pool_enforcer.drift import find_drift
from ses_pool_enforcer.runtime import get_runtime
from tests import granted
from tests.conftest import reset_process_caches
from tests.integration.test_sweep import metrics_emitted
from tests.support import MARKETING_POLICY, marketing_account

HUB = "123456789012"
HOME, OTHER, FAR = "us-east-1", "eu-west-1", "ap-south-1"
ROLE = "ses-pool-enforcer-member"
AGGREGATOR = "org-aggregator"

# (account name, region) -> {set: recorded pool}; "hub" is the hub's own account.
SETS: dict[tuple[str, str], dict[str, str | None]] = {
    ("hub", HOME): {"mkt-hub-bad": "transactional", "mkt-hub-ok": "marketing", "misc": None},
    ("hub", OTHER): {"mkt-hub-eu-bad": None, "tx-hub-eu": "transactional"},
    ("shop", HOME): {"mkt-shop-bad": "transactional", "tx-shop": "transactional"},
    ("shop", OTHER): {"mkt-shop-eu": "marketing", "tx-shop-eu-audit": "marketing"},
    ("news", OTHER): {"mkt-news-bad": "ses-shared-pool", "mkt-news-ok": "marketing"},
    # a region the hub does not govern: recorded by Config, never queued
    ("news", FAR): {"mkt-news-far-bad": "transactional"},
}
DRIFTED = {
    ("hub", HOME, "mkt-hub-bad"),
    ("hub", OTHER, "mkt-hub-eu-bad"),
    ("shop", HOME, "mkt-shop-bad"),
    ("news", OTHER, "mkt-news-bad"),
}
AUDITED = {("shop", OTHER, "tx-shop-eu-audit")}  # a violation of an audit rule: read, not moved


@pytest.fixture
def org(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # Given a hub governing two members in two regions, and an organization aggregator
    organizations = boto3.client("organizations", region_name=HOME)
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
    accounts = {"hub": HUB}
    for name in ("shop", "news"):
        accounts[name] = organizations.create_account(
            AccountName=name, Email=f"{name}@example.com"
        )["CreateAccountStatus"]["AccountId"]
    boto3.client("config", region_name=HOME).put_configuration_aggregator(
        ConfigurationAggregatorName=AGGREGATOR,
        OrganizationAggregationSource={
            "RoleArn": f"arn:aws:iam::{HUB}:role/config-aggregator",
            "AllAwsRegions": True,
        },
    )
    monkeypatch.setenv("ORGANIZATION_ID", organization["Id"])
    monkeypatch.setenv("MEMBER_ROLE_NAME", ROLE)
    monkeypatch.setenv("MEMBER_REGIONS", f"{HOME},{OTHER}")
    monkeypatch.setenv("CONFIG_AGGREGATOR_NAME", AGGREGATOR)
    reset_process_caches()
    marketing_account(MARKETING_POLICY)
    for (name, region), sets in SETS.items():
        with seed.as_account(accounts[name]):
            if (name, region) != ("hub", HOME):
                seed.create_pool("marketing", region=region)
                seed.create_pool("transactional", region=region)
            for set_name, pool in sets.items():
                seed.create_set(set_name, pool=pool, tls_policy="REQUIRE", region=region)
    return accounts


def lane_of(accounts: dict[str, str], name: str, region: str) -> dict[str, str] | None:
    if (name, region) == ("hub", HOME):
        return None
    return {"account": accounts[name], "region": region}


def queued(stack: LocalStack) -> list[dict[str, Any]]:
    """Every message on the work queue, left there (made visible again)."""
    sqs = boto3.client("sqs", region_name=HOME)
    bodies: list[dict[str, Any]] = []
    handles: list[str] = []
    while messages := sqs.receive_message(
        QueueUrl=stack.work_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30
    ).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in messages]
        handles += [m["ReceiptHandle"] for m in messages]
    for handle in handles:
        sqs.change_message_visibility(
            QueueUrl=stack.work_queue_url, ReceiptHandle=handle, VisibilityTimeout=0
        )
    return bodies


def pool_of(account: str, region: str, name: str) -> str | None:
    with seed.as_account(account):
        return seed.delivery_options(name, region=region).get("SendingPoolName")


def writes() -> int:
    return call_counts().get("PutConfigurationSetDeliveryOptions", 0)


def ses_calls() -> int:
    return sum(call_counts().values())


def run_drift() -> dict[str, Any]:
    answer: dict[str, Any] = sweep_app.handler({"action": "drift"}, LambdaContext())
    return answer


def test_drifted_sets_are_queued_in_their_lanes_and_nothing_else(
    org: dict[str, str], stack: LocalStack
) -> None:
    # Given Config has recorded every set; When the drift check runs
    before = ses_calls()
    result = run_drift()

    # Then every set whose recorded pool is not its required one is queued, in its lane
    expected = {
        (s, json.dumps(lane_of(org, a, r), sort_keys=True)) for a, r, s in DRIFTED | AUDITED
    }
    found = {
        (q["configuration_set"], json.dumps(q.get("lane"), sort_keys=True)) for q in queued(stack)
    }
    assert found == expected
    # And the set in the region the hub does not govern is skipped and counted
    assert result["recorded"] == sum(len(s) for s in SETS.values())
    assert result["suspects"] == result["queued"] == len(DRIFTED | AUDITED)
    assert (result["skipped_lanes"], result["skipped_sets"]) == (1, 1)
    assert (result["pages"], result["config_calls"]) == (1, 1)
    # And the finder made no SES call at all
    assert ses_calls() == before
    assert [c.limit for c in config_extension.select_calls()] == [100]


def test_accounts_outside_the_member_ous_are_skipped(
    org: dict[str, str], stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the hub governs an OU that holds shop only (the aggregator records the whole
    # organization: news is recorded, but not governed)
    organizations = boto3.client("organizations", region_name=HOME)
    root = organizations.list_roots()["Roots"][0]["Id"]
    unit = organizations.create_organizational_unit(ParentId=root, Name="email")
    email = unit["OrganizationalUnit"]["Id"]
    organizations.move_account(
        AccountId=org["shop"], SourceParentId=root, DestinationParentId=email
    )
    monkeypatch.setenv("MEMBER_OUS", email)
    reset_process_caches()

    result = run_drift()

    # Then only the hub's own lane and shop's suspects are queued
    governed = {
        (a, r, s) for a, r, s in DRIFTED | AUDITED if a == "shop" or (a, r) == ("hub", HOME)
    }
    found = {q["configuration_set"] for q in queued(stack)}
    assert found == {s for _, _, s in governed}
    # And news's lanes (OTHER, FAR) and the hub's OTHER are skipped and counted
    assert (result["skipped_lanes"], result["skipped_sets"]) == (3, 2 + 1 + 2)
    assert result["queued"] == len(governed)


def test_every_call_of_the_drift_check_is_granted_by_the_template(
    org: dict[str, str], stack: LocalStack
) -> None:
    # When the drift check runs, every request its clients send recorded (moto checks no
    # policy: a call the template does not grant fails only in AWS)
    with granted.recording() as calls:
        result = run_drift()
    assert result["queued"] == len(DRIFTED | AUDITED)

    # Then the sweep function's role, as a hub with an aggregator deploys it, grants each
    # call: the aggregator's query and the suspects queued among them
    assert {"config:SelectAggregateResourceConfig", "sqs:SendMessage"} <= calls.own.actions
    assert not granted.refused(calls.own, "SweepFunctionRole", {"HasDriftCheck", "IsHub"}, stack)
    # And it acted in no member account
    assert not calls.member


def test_draining_the_queue_moves_exactly_the_drifted_sets(
    org: dict[str, str], stack: LocalStack
) -> None:
    run_drift()

    # When the event consumer drains the queue
    before = writes()
    stats = drain(stack.work_queue_url, on_event.handler)

    # Then exactly the drifted sets were moved, in their own accounts and regions, TLS kept
    assert stats.failures == 0
    assert writes() - before == len(DRIFTED)
    for (name, region), sets in SETS.items():
        for set_name, pool in sets.items():
            now = pool_of(org[name], region, set_name)
            assert now == ("marketing" if (name, region, set_name) in DRIFTED else pool), set_name
    with seed.as_account(org["shop"]):
        assert seed.delivery_options("mkt-shop-bad")["TlsPolicy"] == "REQUIRE"
    outcomes = sorted(a["alert"]["outcome"] for a in received_alerts(stack))
    assert outcomes == ["remediated"] * len(DRIFTED) + ["violation"]


def test_a_stale_recording_is_re_read_and_not_written(
    org: dict[str, str], stack: LocalStack
) -> None:
    # Given Config recorded mkt-shop-bad on the wrong pool, and someone moved it back since
    config_extension.record()
    with seed.as_account(org["shop"]):
        seed.set_pool("mkt-shop-bad", "marketing")
    # (every other drifted set put right too, so that only doubt is left)
    for name, region, set_name in DRIFTED - {("shop", HOME, "mkt-shop-bad")}:
        with seed.as_account(org[name]):
            seed.set_pool(set_name, "marketing", region=region)

    # When the drift check runs on that recording and the queue is drained
    result = run_drift()
    reads_before, writes_before = call_counts().get("GetConfigurationSet", 0), writes()
    drain(stack.work_queue_url, on_event.handler)

    # Then the suspects were queued, read live, and nothing was written
    assert result["suspects"] == len(DRIFTED | AUDITED)
    assert call_counts().get("GetConfigurationSet", 0) - reads_before == len(DRIFTED | AUDITED)
    assert writes() == writes_before
    assert pool_of(org["shop"], HOME, "mkt-shop-bad") == "marketing"


def test_a_set_looked_at_since_the_recording_costs_no_read(
    org: dict[str, str], stack: LocalStack
) -> None:
    # Given Config's recording a minute ago, then a look at every suspect (drained once)
    config_extension.record(at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    run_drift()
    drain(stack.work_queue_url, on_event.handler)

    # When the next check finds the same (stale) recording
    reads = call_counts().get("GetConfigurationSet", 0)
    again = run_drift()
    drain(stack.work_queue_url, on_event.handler)

    # Then its suspects are queued but covered by the looks since: no SES read
    assert again["queued"] == len(DRIFTED | AUDITED)
    assert call_counts().get("GetConfigurationSet", 0) == reads


@pytest.mark.parametrize(
    "failure",
    ["AccessDeniedException", "NoSuchConfigurationAggregatorException"],
)
def test_an_unreadable_aggregator_is_one_alert_and_nothing_queued(
    org: dict[str, str],
    stack: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    # Given the aggregator cannot be read (denied, or not there: the real extension answers)
    if failure == "AccessDeniedException":
        faults.fail("config", "SelectAggregateResourceConfig", code=failure, status=400, times=2)
    else:
        monkeypatch.setenv("CONFIG_AGGREGATOR_NAME", "no-such-aggregator")
        reset_process_caches()

    # When the drift check runs, twice (the schedule's next run, in the same process)
    result = run_drift()
    again = run_drift()

    # Then each is an error logged and counted, nothing is queued, and one alert is sent
    assert result["status"] == again["status"] == "failed" and failure in result["error"]
    assert result["queued"] == again["queued"] == 0
    assert queued(stack) == []
    assert len([r for r in caplog.records if "drift check failed" in r.getMessage()]) == 2
    assert metrics_emitted(capsys.readouterr().out)["DriftCheckFailed"] == [1.0, 1.0]
    [alert] = received_alerts(stack)
    assert alert["alert"]["outcome"] == "error" and failure in alert["alert"]["reason"]


def test_more_than_a_page_of_sets_is_read_page_by_page(
    org: dict[str, str], stack: LocalStack
) -> None:
    # Given 250 more sets in the shop's home lane, three of them drifted
    with seed.as_account(org["shop"]):
        for n in range(250):
            pool = "transactional" if n in (0, 120, 249) else "marketing"
            seed.create_set(f"mkt-bulk-{n:03d}", pool=pool)

    # When the drift check runs
    result = run_drift()

    # Then it read every page, 100 sets a call, and queued the drifted ones among them
    total = 250 + sum(len(s) for s in SETS.values())
    assert result["recorded"] == total
    assert result["pages"] == result["config_calls"] == -(-total // 100)
    assert [c.limit for c in config_extension.select_calls()] == [100] * result["pages"]
    names = {q["configuration_set"] for q in queued(stack)}
    assert {"mkt-bulk-000", "mkt-bulk-120", "mkt-bulk-249"} <= names
    assert result["queued"] == len(DRIFTED | AUDITED) + 3


def test_no_aggregator_configured_is_off(stack: LocalStack) -> None:
    assert run_drift()["status"] == "off"
    assert config_extension.select_calls() == []


def test_find_drift_counts_calls_on_the_adapter(org: dict[str, str], stack: LocalStack) -> None:
    aggregator = Aggregator(AGGREGATOR)
    result = find_drift(get_runtime(), aggregator)
    assert aggregator.calls == result.config_calls == 1
