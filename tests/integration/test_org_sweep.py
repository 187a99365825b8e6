"""Organization mode, the sweep: one lane per (account, region), run side by side by the
state machine's Map on moto's own engine; each lane on its own budget, lock and
checkpoint; a member whose role cannot be assumed is one alert and one entry in the
organization report, and every other lane is swept."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from functions.sweep import app
from local_aws import faults, seed, sfn
from local_aws.stack import LocalStack, received_alerts
from tests.conftest import reset_process_caches
from tests.support import MARKETING_POLICY, marketing_account

HUB = "123456789012"
REGIONS = ("us-east-1", "eu-west-1")
ROLE = "ses-pool-enforcer-member"


@pytest.fixture
def org(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # Given a hub governing an OU of three member accounts in two regions, one of whose
    # member role is missing
    organizations = boto3.client("organizations", region_name="us-east-1")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    unit = organizations.create_organizational_unit(ParentId=root, Name="email")
    email = unit["OrganizationalUnit"]["Id"]
    accounts: dict[str, str] = {}
    for name in ("shop", "news", "broken"):
        account = organizations.create_account(AccountName=name, Email=f"{name}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        organizations.move_account(
            AccountId=account, SourceParentId=root, DestinationParentId=email
        )
        accounts[name] = account
    monkeypatch.setenv("ORGANIZATION_ID", organization["Id"])
    monkeypatch.setenv("MEMBER_ROLE_NAME", ROLE)
    monkeypatch.setenv("MEMBER_REGIONS", ",".join(REGIONS))
    monkeypatch.setenv("MEMBER_OUS", email)
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "50")
    reset_process_caches()
    marketing_account(MARKETING_POLICY)
    seed.create_set("mkt-hub", pool="transactional")
    for name in ("shop", "news", "broken"):
        with seed.as_account(accounts[name]):
            for region in REGIONS:
                seed.create_pool("marketing", region=region)
                seed.create_pool("transactional", region=region)
                for n in range(3):
                    seed.create_set(f"mkt-{name}-{n}", pool="transactional", region=region)
    faults.role_missing(accounts["broken"], ROLE)
    return accounts


def pools(account: str, region: str, names: list[str]) -> list[str | None]:
    with seed.as_account(account):
        return [seed.delivery_options(n, region=region).get("SendingPoolName") for n in names]


def test_the_sweep_covers_every_lane_and_a_broken_member_is_one_alert_and_one_entry(
    org: dict[str, str], stack: LocalStack
) -> None:
    # When the scheduled sweep runs
    execution = sfn.run_sweep(app.handler, {"trigger": "schedule"})

    # Then it succeeds: the hub's lane and the two good members' four lanes are enforced
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.entered("Start") == 1 + 3 * 2  # the hub's lane and each member's
    assert seed.delivery_options("mkt-hub").get("SendingPoolName") == "marketing"
    for name in ("shop", "news"):
        for region in REGIONS:
            names = [f"mkt-{name}-{n}" for n in range(3)]
            assert pools(org[name], region, names) == ["marketing"] * 3, (name, region)
    # And nothing was touched in the member whose role cannot be assumed
    for region in REGIONS:
        names = [f"mkt-broken-{n}" for n in range(3)]
        assert pools(org["broken"], region, names) == ["transactional"] * 3
    # And each lane kept its own SES budget
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=stack.state_table)
    budgets = {i["id"]["S"] for i in items["Items"] if i["id"]["S"].startswith("ses-budget")}
    assert budgets == {"ses-budget"} | {
        f"ses-budget#{org[n]}#{r}" for n in ("shop", "news") for r in REGIONS
    }

    alerts = received_alerts(stack)
    # And each move's alert names the member account by its id, name and region
    moved = [a["alert"] for a in alerts if a["alert"].get("outcome") == "remediated"]
    assert len(moved) == 1 + 2 * 2 * 3
    assert {(m["account"], m["account_name"], m["region"]) for m in moved} == {
        (HUB, None, "us-east-1"),
        *((org[n], n, r) for n in ("shop", "news") for r in REGIONS),
    }
    # And one error alert names the broken account, however many regions it has
    errors = [a for a in alerts if a["alert"].get("outcome") == "error"]
    assert [e["alert"]["account"] for e in errors] == [org["broken"]]
    # And one organization report (no report a lane), with every account and region
    reports = [a for a in alerts if a["alert"].get("kind") == "organization-report"]
    assert [a for a in alerts if a["attributes"].get("outcome") == "report"] == reports
    [report] = reports
    accounts: dict[str, Any] = report["alert"]["accounts"]
    assert set(accounts) == {HUB, *org.values()}
    for name in ("shop", "news"):
        entry = accounts[org[name]]
        assert entry["name"] == name
        assert set(entry["regions"]) == set(REGIONS)
        assert all(r["status"] == "swept" and r["total"] == 3 for r in entry["regions"].values())
        assert entry["compliance_ratio"] == 1.0
    broken = accounts[org["broken"]]["regions"]
    assert {r: v["status"] for r, v in broken.items()} == dict.fromkeys(REGIONS, "unreachable")
    assert accounts[org["broken"]]["compliance_ratio"] is None
    assert "1 lanes not swept" not in report["subject"] and "2 lanes not swept" in report["subject"]


def test_a_single_account_deployment_has_one_lane_and_its_own_report(stack: LocalStack) -> None:
    # Given no organization: the deployment as it always was
    marketing_account(MARKETING_POLICY)
    seed.create_set("mkt-hub", pool="transactional")

    execution = sfn.run_sweep(app.handler, {"trigger": "schedule"})

    # Then one lane is swept and its own compliance report is the one alert
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.entered("Start") == 1
    assert execution.output["lanes"] == 1 and execution.output["report"]["total"] == 1
    [remediated, report] = received_alerts(stack)
    assert remediated["alert"]["outcome"] == "remediated"
    assert report["attributes"]["outcome"] == "report"
    assert report["alert"].get("kind") != "organization-report"


class LaneCrashed(Exception):
    """A lane's step dying (its Lambda timed out, an outage in that account)."""


def test_a_lane_that_fails_keeps_its_checkpoint_and_the_others_are_swept(
    org: dict[str, str], stack: LocalStack
) -> None:
    shop = {"account": org["shop"], "region": "eu-west-1"}

    def handler(payload: dict[str, Any], context: Any) -> dict[str, Any]:
        lane = (payload.get("sweep") or {}).get("lane")
        if (
            payload["action"] == "step"
            and lane
            and lane["account"] == shop["account"]
            and (lane["region"] == shop["region"])
        ):
            raise LaneCrashed("shop's eu-west-1 step died")
        result: dict[str, Any] = app.handler(payload, context)
        return result

    # When one member lane's steps keep failing
    execution = sfn.run_sweep(handler, {"trigger": "schedule"})

    # Then every other lane was swept, and the execution fails with that lane's error
    assert execution.status == "FAILED"
    assert execution.error == "LaneCrashed" and "eu-west-1 step died" in (execution.cause or "")
    assert pools(org["shop"], "us-east-1", [f"mkt-shop-{n}" for n in range(3)]) == ["marketing"] * 3
    assert pools(org["news"], "eu-west-1", [f"mkt-news-{n}" for n in range(3)]) == ["marketing"] * 3
    assert (
        pools(org["shop"], "eu-west-1", [f"mkt-shop-{n}" for n in range(3)])
        == ["transactional"] * 3
    )
    # And that lane's checkpoint stays for the next execution; the others finished theirs
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=stack.state_table)
    checkpoints = {
        i["id"]["S"] for i in items["Items"] if i["id"]["S"].startswith("sweep#checkpoint")
    }
    assert checkpoints == {f"sweep#checkpoint#{org['shop']}#eu-west-1"}
