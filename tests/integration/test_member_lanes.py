"""Organization mode, the event path: a record of an SES call in a member account (as the
member's forwarding rule delivers it to the hub) is enforced in that account, on its
member role, its own call budget and its own inventory entries; a member whose role
cannot be assumed is one error alert, and the others carry on."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from functions.on_event import app
from local_aws import faults, seed
from local_aws.replay import LambdaContext, sample_event, sqs_event
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.notices import Trigger
from ses_pool_enforcer.work import BadRequest, Work
from tests import granted
from tests.conftest import reset_process_caches
from tests.support import MARKETING_POLICY, marketing_account

HUB_REGION = "us-east-1"
MEMBER_REGION = "eu-west-1"
ROLE = "ses-pool-enforcer-member"


@pytest.fixture
def org(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # Given a hub (this account) governing its organization in two regions, and two members
    organizations = boto3.client("organizations", region_name=HUB_REGION)
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
    accounts = {
        name: organizations.create_account(AccountName=name, Email=f"{name}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        for name in ("good", "broken")
    }
    monkeypatch.setenv("ORGANIZATION_ID", organization["Id"])
    monkeypatch.setenv("MEMBER_ROLE_NAME", ROLE)
    monkeypatch.setenv("MEMBER_REGIONS", f"{HUB_REGION},{MEMBER_REGION}")
    reset_process_caches()
    marketing_account(MARKETING_POLICY)
    for account in accounts.values():
        with seed.as_account(account):
            seed.create_pool("marketing", region=MEMBER_REGION)
            seed.create_pool("transactional", region=MEMBER_REGION)
    return accounts


def in_lane(event: dict[str, Any], account: str, region: str = MEMBER_REGION) -> dict[str, Any]:
    # As the member's forwarding rule delivers it: the record names where the call was made.
    event["detail"]["recipientAccountId"] = account
    event["detail"]["awsRegion"] = region
    return event


def created(name: str, account: str, region: str = MEMBER_REGION) -> dict[str, Any]:
    event = sample_event("create_configuration_set_v2.json", configuration_set=name, fresh_id=True)
    return in_lane(event, account, region)


def pool_of(name: str, account: str | None = None, region: str = MEMBER_REGION) -> str | None:
    if account is None:
        return seed.delivery_options(name, region=region).get("SendingPoolName")
    with seed.as_account(account):
        return seed.delivery_options(name, region=region).get("SendingPoolName")


def test_a_set_changed_in_a_member_account_is_enforced_there_and_nowhere_else(
    org: dict[str, str], stack: LocalStack
) -> None:
    good = org["good"]
    # Given a marketing set on the wrong pool in the member, TLS required, and a set of
    # the same name on the wrong pool in the hub's own account
    with seed.as_account(good):
        seed.create_set(
            "mkt-weekly", pool="transactional", tls_policy="REQUIRE", region=MEMBER_REGION
        )
    seed.create_set("mkt-weekly", pool="transactional", region=HUB_REGION)

    # When the member's CreateConfigurationSet record reaches the hub
    result = app.handler(sqs_event([created("mkt-weekly", good)]), LambdaContext())

    # Then the member's set is moved, its TLS kept; the hub's namesake is untouched
    assert result == {"batchItemFailures": []}
    with seed.as_account(good):
        assert seed.delivery_options("mkt-weekly", region=MEMBER_REGION) == {
            "SendingPoolName": "marketing",
            "TlsPolicy": "REQUIRE",
        }
    assert pool_of("mkt-weekly", region=HUB_REGION) == "transactional"
    # And the alert names the account and region it happened in
    [alert] = received_alerts(stack)
    assert alert["alert"]["outcome"] == "remediated"
    assert (alert["alert"]["account"], alert["alert"]["region"]) == (good, MEMBER_REGION)
    assert alert["alert"]["account_name"] == "good"
    # And the lane keeps its own inventory entry and its own SES budget
    ddb = boto3.client("dynamodb", region_name=HUB_REGION)
    keys = {i["configuration_set"]["S"] for i in ddb.scan(TableName=stack.inventory_table)["Items"]}
    assert keys == {f"{good}/{MEMBER_REGION}/mkt-weekly"}
    budgets = {
        i["id"]["S"]
        for i in ddb.scan(TableName=stack.state_table)["Items"]
        if i["id"]["S"].startswith("ses-budget")
    }
    assert budgets == {f"ses-budget#{good}#{MEMBER_REGION}"}


def test_every_call_of_a_member_event_is_granted_by_the_templates(
    org: dict[str, str], stack: LocalStack
) -> None:
    good = org["good"]
    with seed.as_account(good):
        seed.create_set("mkt-weekly", pool="transactional", region=MEMBER_REGION)

    # When a member's record is enforced, every request recorded (moto checks no policy)
    with granted.recording() as calls:
        result = app.handler(sqs_event([created("mkt-weekly", good)]), LambdaContext())
    assert result == {"batchItemFailures": []}
    assert pool_of("mkt-weekly", good) == "marketing"

    # Then the event function's role grants each call on the hub's credentials, and the
    # member role each call made in the member, on the resource it addresses
    assert "sts:AssumeRole" in calls.own.actions
    assert not granted.refused(calls.own, "EventFunctionRole", {"IsHub"}, stack)
    assert "ses:PutConfigurationSetDeliveryOptions" in calls.member.actions
    assert not granted.refused(calls.member, "MemberRole", set(), stack, member=True)


def test_every_call_of_a_member_identity_event_is_granted_by_the_templates(
    org: dict[str, str], stack: LocalStack
) -> None:
    from tests.integration.test_identities import CREATE
    from tests.integration.test_identities import POLICY as IDENTITY_POLICY

    # Given identity rules, and a newsletter domain created in a member with no default set
    seed.put_policy(IDENTITY_POLICY)
    reset_process_caches()
    good = org["good"]
    with seed.as_account(good):
        seed.create_set("mkt-news", pool="marketing", region=MEMBER_REGION)
        seed.create_identity("news.example.com", region=MEMBER_REGION)
    event = in_lane(sample_event(CREATE, identity="news.example.com", fresh_id=True), good)

    # When its record reaches the hub, every request recorded
    with granted.recording() as calls:
        result = app.handler(sqs_event([event]), LambdaContext())

    # Then the member's identity has its default set, through calls both roles grant
    assert result == {"batchItemFailures": []}
    with seed.as_account(good):
        assert seed.default_set("news.example.com", region=MEMBER_REGION) == "mkt-news"
    assert "ses:PutEmailIdentityConfigurationSetAttributes" in calls.member.actions
    assert not granted.refused(calls.member, "MemberRole", set(), stack, member=True)
    assert not granted.refused(calls.own, "EventFunctionRole", {"IsHub"}, stack)


def test_a_member_whose_role_cannot_be_assumed_is_one_alert_and_the_others_carry_on(
    org: dict[str, str], stack: LocalStack
) -> None:
    good, broken = org["good"], org["broken"]
    for account in (good, broken):
        with seed.as_account(account):
            seed.create_set("mkt-a", pool="transactional", region=MEMBER_REGION)
            seed.create_set("mkt-b", pool="transactional", region=MEMBER_REGION)
    # Given the broken member's role is missing (AWS answers AccessDenied)
    faults.role_missing(broken, ROLE)

    # When records from both members arrive, twice over
    events = [created(n, a) for a in (broken, good) for n in ("mkt-a", "mkt-b")]
    first = app.handler(sqs_event(events), LambdaContext())
    second = app.handler(sqs_event([created("mkt-a", broken)]), LambdaContext())

    # Then the good member is enforced, the broken one untouched and not retried
    assert first == second == {"batchItemFailures": []}
    assert [pool_of(n, good) for n in ("mkt-a", "mkt-b")] == ["marketing", "marketing"]
    assert [pool_of(n, broken) for n in ("mkt-a", "mkt-b")] == ["transactional"] * 2
    # And one error alert names the broken account and its region, however many events
    alerts = received_alerts(stack)
    errors = [a for a in alerts if a["alert"]["outcome"] == "error"]
    assert len(errors) == 1
    assert (errors[0]["alert"]["account"], errors[0]["alert"]["region"]) == (broken, MEMBER_REGION)
    assert ROLE in errors[0]["alert"]["reason"] and "AccessDenied" in errors[0]["alert"]["reason"]
    assert sorted(a["alert"]["outcome"] for a in alerts) == ["error", "remediated", "remediated"]


def test_a_member_whose_role_is_deleted_under_a_warm_hub_is_one_alert_and_no_write(
    org: dict[str, str], stack: LocalStack
) -> None:
    good, broken = org["good"], org["broken"]
    for account in (good, broken):
        with seed.as_account(account):
            for name in ("mkt-a", "mkt-b", "mkt-c"):
                seed.create_set(name, pool="transactional", region=MEMBER_REGION)
    # Given a warm hub process that has acted in the broken member (its role's session kept)
    assert app.handler(sqs_event([created("mkt-a", broken)]), LambdaContext()) == {
        "batchItemFailures": []
    }
    assert pool_of("mkt-a", broken) == "marketing"
    received_alerts(stack)  # (that move's alert)
    # And then the member's role is deleted: AWS refuses the session the hub still holds
    # (moto would honour it) and any new AssumeRole
    refused_assume, refused_session = faults.role_deleted(broken, ROLE)

    # When records from both members arrive, and another of the broken member later
    events = [created(n, a) for a in (broken, good) for n in ("mkt-b", "mkt-c")]
    second = app.handler(sqs_event(events), LambdaContext())
    third = app.handler(sqs_event([created("mkt-c", broken)]), LambdaContext())

    # Then the good member is enforced; the broken member is not written to nor retried
    assert second == third == {"batchItemFailures": []}
    assert [pool_of(n, good) for n in ("mkt-b", "mkt-c")] == ["marketing"] * 2
    assert [pool_of(n, broken) for n in ("mkt-b", "mkt-c")] == ["transactional"] * 2
    # And the held session was tried once, then dropped: the next record assumed the role
    # again (and was refused), rather than using the refused session
    assert (refused_session.seen, refused_assume.seen) == (1, 1)
    # And one error alert names the account, as when its role cannot be assumed: no
    # per-set "could not be enforced" alert
    alerts = received_alerts(stack)
    assert sorted(a["alert"]["outcome"] for a in alerts) == ["error", "remediated", "remediated"]
    [error] = [a["alert"] for a in alerts if a["alert"]["outcome"] == "error"]
    assert (error["account"], error["region"]) == (broken, MEMBER_REGION)
    assert ROLE in error["reason"] and "AccessDenied" in error["reason"]
    assert "configuration_set" not in error


def test_an_account_that_left_the_organization_ends_its_work_quietly(
    org: dict[str, str],
    stack: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a hub governing every account of its organization (the root as member OU)
    organizations = boto3.client("organizations", region_name=HUB_REGION)
    monkeypatch.setenv("MEMBER_OUS", organizations.list_roots()["Roots"][0]["Id"])
    reset_process_caches()
    broken = org["broken"]
    gone = organizations.create_account(AccountName="gone", Email="gone@example.com")[
        "CreateAccountStatus"
    ]["AccountId"]
    with seed.as_account(gone):
        seed.create_pool("transactional", region=MEMBER_REGION)
    for account in (broken, gone):
        with seed.as_account(account):
            seed.create_set("mkt-a", pool="transactional", region=MEMBER_REGION)
    # And one account that left the organization (StackSets removed its member role) while
    # a record of its was on the way, and one still a member whose role is missing
    organizations.remove_account_from_organization(AccountId=gone)
    faults.role_missing(gone, ROLE)
    faults.role_missing(broken, ROLE)

    # When both records arrive, every request recorded
    with granted.recording() as calls:
        result = app.handler(
            sqs_event([created("mkt-a", gone), created("mkt-a", broken)]), LambdaContext()
        )

    # Then neither is retried; the member is an error alert, the departed account none
    assert result == {"batchItemFailures": []}
    alerts = [a["alert"] for a in received_alerts(stack)]
    assert [(a["outcome"], a["account"]) for a in alerts] == [("error", broken)]
    ended = [
        r for r in caplog.records if r.getMessage() == "account governed no more: its work ends"
    ]
    assert [getattr(r, "account", None) for r in ended] == [gone]
    with seed.as_account(gone):
        assert seed.delivery_options("mkt-a", region=MEMBER_REGION)["SendingPoolName"] == (
            "transactional"
        )
    # And the event function's role grants the walk of the organization it made. The one
    # request it refuses is the departed account's role: aws:ResourceOrgID holds the hub
    # to roles of its organization, so in AWS that refusal, not the missing role, is what
    # the code handles
    assert "organizations:ListAccountsForParent" in calls.own.actions
    refused = granted.refused(calls.own, "EventFunctionRole", {"IsHub"}, stack)
    assert [(r.action, r.resource.split(":")[4]) for r in refused] == [("sts:AssumeRole", gone)]

    # And more records of either account (in the same warm process, which remembers the
    # departed account) ask the organization nothing more
    with granted.recording(fresh=False) as again:
        app.handler(sqs_event([created("mkt-a", gone), created("mkt-a", broken)]), LambdaContext())
    assert again.counts["sts:AssumeRole"] == 2
    assert again.counts["organizations:ListAccountsForParent"] == 0
    assert received_alerts(stack) == []  # (no new alert)


def test_a_region_the_hub_does_not_govern_is_ignored(
    org: dict[str, str], stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    good = org["good"]
    with seed.as_account(good):
        seed.create_pool("transactional", region="ap-south-1")
        seed.create_set("mkt-weekly", pool="transactional", region="ap-south-1")

    result = app.handler(sqs_event([created("mkt-weekly", good, "ap-south-1")]), LambdaContext())

    assert result == {"batchItemFailures": []}
    assert pool_of("mkt-weekly", good, "ap-south-1") == "transactional"
    causes = [getattr(r, "cause", "") for r in caplog.records if r.getMessage() == "event ignored"]
    assert causes == ["event from region ap-south-1; this deployment governs eu-west-1, us-east-1"]


def test_a_pool_deleted_in_a_member_fans_out_to_that_members_sets_only(
    org: dict[str, str], stack: LocalStack
) -> None:
    good = org["good"]
    # Given a set expecting marketing in the member and one in the hub
    with seed.as_account(good):
        seed.create_set("mkt-weekly", pool="marketing", region=MEMBER_REGION)
    seed.create_set("mkt-weekly", pool="marketing", region=HUB_REGION)
    app.handler(
        sqs_event([created("mkt-weekly", good), created("mkt-weekly", "123456789012", HUB_REGION)]),
        LambdaContext(),
    )

    # When the member deletes its marketing pool
    event = sample_event("delete_dedicated_ip_pool.json", pool="marketing", fresh_id=True)
    app.handler(sqs_event([in_lane(event, good)]), LambdaContext())

    # Then only the member's set is queued for a fresh look, in the member's lane
    sqs = boto3.client("sqs", region_name=HUB_REGION)
    bodies = [
        m["Body"]
        for m in sqs.receive_message(QueueUrl=stack.work_queue_url, MaxNumberOfMessages=10)[
            "Messages"
        ]
    ]
    queued = [json.loads(b) for b in bodies]
    assert [(q["configuration_set"], q.get("lane")) for q in queued] == [
        ("mkt-weekly", {"account": good, "region": MEMBER_REGION})
    ]

    # And when that work is handled by the same warm process, whose member lane is
    # told to forget what it remembered of the pool, the set is looked at (no failure)
    assert app.handler(sqs_event(bodies), LambdaContext()) == {"batchItemFailures": []}
    assert pool_of("mkt-weekly", good) == "marketing"


def test_member_work_put_back_on_the_queue_keeps_its_lane(org: dict[str, str]) -> None:
    # A member's work that waits (budget, holder) is a new message: it must come back for
    # the same account and region, and a lane that names no region is refused, not guessed
    work = Work("mkt-weekly", Trigger(source="event"), lane=(org["good"], MEMBER_REGION))
    again = Work.from_message(json.loads(json.dumps(work.to_message())))
    assert again.lane == (org["good"], MEMBER_REGION)
    assert again.key == work.key != Work("mkt-weekly", Trigger(source="event")).key
    with pytest.raises(BadRequest, match="lane must name an account and a region"):
        Work.from_message({**work.to_message(), "lane": {"account": org["good"], "region": ""}})


def test_a_member_lanes_entries_are_read_from_its_index_not_a_scan_of_every_lane(
    org: dict[str, str], stack: LocalStack
) -> None:
    # Given entries in two member lanes and the hub's own, each claimed as a look claims
    import datetime as dt

    from ses_pool_enforcer.adapters.inventory import SETS, Claim, Inventory
    from ses_pool_enforcer.model import Outcome, OutcomeRecord

    good, broken = org["good"], org["broken"]
    lanes = {
        good: Inventory(stack.inventory_table, SETS.in_lane(good, MEMBER_REGION)),
        broken: Inventory(stack.inventory_table, SETS.in_lane(broken, MEMBER_REGION)),
    }
    for account, inventory in lanes.items():
        for name in ("mkt-a", "mkt-b"):
            claim = inventory.claim(name, "worker", 1.0, 10.0, sweep_id="s1")
            assert isinstance(claim, Claim)
            record = OutcomeRecord(
                name, Outcome.COMPLIANT, "marketing", "marketing", "marketing", "ok",
                dt.datetime.now(dt.UTC),
            )  # fmt: skip
            inventory.release(claim, record)
    # When a finish reads one lane while a Scan of the table would fail
    faults.fail("dynamodb", "Scan", times=100)
    rows = list(lanes[good].rows())
    removed = lanes[good].remove_unseen("s2", 100.0)

    # Then it read its own entries only, through the index, and pruned only those
    assert sorted(r["configuration_set"] for r in rows) == ["mkt-a", "mkt-b"]
    assert removed == 2
    faults.clear()
    assert sorted(r["configuration_set"] for r in lanes[broken].rows()) == ["mkt-a", "mkt-b"]


def test_a_lane_governed_no_more_loses_every_entry_in_batches_and_no_other_lanes(
    org: dict[str, str], stack: LocalStack
) -> None:
    from ses_pool_enforcer.adapters.inventory import SETS, Inventory

    # Given 60 entries of a member lane (more than two batches) and one of another lane
    good, broken = org["good"], org["broken"]
    for n in range(60):
        seed.inventory_entry(stack.inventory_table, f"{good}/{MEMBER_REGION}/mkt-{n}", outcome="ok")
    seed.inventory_entry(stack.inventory_table, f"{broken}/{MEMBER_REGION}/mkt-0", outcome="ok")

    # When the lane is removed
    removed = Inventory(stack.inventory_table, SETS.in_lane(good, MEMBER_REGION)).remove_lane()

    # Then every entry of it is gone, the other lane's stays
    ddb = boto3.client("dynamodb", region_name=HUB_REGION)
    keys = {i["configuration_set"]["S"] for i in ddb.scan(TableName=stack.inventory_table)["Items"]}
    assert removed == 60
    assert keys == {f"{broken}/{MEMBER_REGION}/mkt-0"}
    with pytest.raises(ValueError, match="only a member lane"):
        Inventory(stack.inventory_table, SETS).remove_lane()
