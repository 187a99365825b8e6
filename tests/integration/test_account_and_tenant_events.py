"""The event function on local AWS hearing the calls that change what a set's pool or
tenants mean without naming the set: the account's automatic IP warm-up, its shared pool
delivery mode, a tenant's deletion; and a tenant's status when ListTenants leaves it out."""

from __future__ import annotations

import json
from typing import Any

import pytest

import local_aws
from local_aws import call_counts, seed
from local_aws.replay import sample_event
from local_aws.stack import LocalStack
from ses_pool_enforcer.adapters.inventory import IDENTITIES, Inventory
from ses_pool_enforcer.adapters.state import StateTable
from tests import granted
from tests.conftest import reset_process_caches
from tests.integration.test_pool_lifecycle import drain_work_queue
from tests.support import invoke

REGION, ACCOUNT = "us-east-1", "123456789012"
POLICY = """
version: 1
mode: enforce
rules:
  - id: bulk
    match: {names: ["bulk-*"]}
    pool: bulk
    pool_health: {min_warmup_percent: 90}
  - id: sized
    match: {names: ["sized-*"]}
    pool: sized
    pool_health: {min_ips: 1}
  - id: eu
    match: {names: ["eu-*"]}
    pool: ses-shared-pool
    shared_pool_delivery_mode: REGIONAL
  - id: acme
    match: {tenants: ["acme-*"]}
    pool: acme
identities:
  - id: acme-senders
    match: {tenants: ["acme-*"]}
    configuration_set: acme-default
exemptions:
  - tenant: globex
    reason: OPS-51 onboarding
    expires: 2099-12-31
default:
  pool: ses-default-dedicated-pool
"""


def arn(kind: str, name: str) -> str:
    return f"arn:aws:ses:{REGION}:{ACCOUNT}:{kind}/{name}"


def row(stack: LocalStack, name: str) -> dict[str, str]:
    return next(
        r for r in Inventory(stack.inventory_table).rows() if r["configuration_set"] == name
    )


def identity_row(stack: LocalStack, name: str) -> dict[str, str]:
    rows = Inventory(stack.identity_table, IDENTITIES).rows()
    return next(r for r in rows if r["identity"] == name)


def created(name: str) -> dict[str, Any]:
    return sample_event("create_configuration_set_v2.json", configuration_set=name, fresh_id=True)


def queued_names(stack: LocalStack) -> tuple[list[str], list[str]]:
    """The work the event function queued, as (names, bodies)."""
    bodies = drain_work_queue(stack)
    names = [json.loads(b).get("configuration_set") or json.loads(b)["identity"] for b in bodies]
    return sorted(names), bodies


def deleted_tenant(name: str) -> dict[str, Any]:
    event = sample_event("delete_tenant.json", fresh_id=True)
    event["detail"]["requestParameters"]["tenantName"] = name
    return event


@pytest.fixture
def account(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    # Given pools bulk (one IP, 10 % warm), sized and acme, and the policy above
    monkeypatch.setenv("ACCOUNT_ID", ACCOUNT)
    reset_process_caches()
    ses = seed.sesv2()
    for pool in ("bulk", "sized", "acme"):
        seed.create_pool(pool)
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="bulk")
    ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.1", WarmupPercentage=10)
    seed.put_policy(POLICY)
    return stack


def test_the_account_s_automatic_warm_up_re_judges_the_sets_waiting_for_a_warm_pool(
    account: LocalStack,
) -> None:
    # Given two sets refused a move onto bulk (10 % warm), one bound for sized (no IPs:
    # its rule asks no warm-up), and an EU set
    for name in ("bulk-a", "bulk-b", "sized-a", "eu-a"):
        seed.create_set(name)
    invoke(*(created(n) for n in ("bulk-a", "bulk-b", "sized-a", "eu-a")))
    assert row(account, "bulk-a")["outcome"] == "error"
    drain_work_queue(account)
    stale_before = StateTable(account.state_table).view_changed_at()

    # When the account's automatic warm-up is switched, and its record arrives
    with granted.recording() as calls:
        invoke(sample_event("put_account_dedicated_ip_warmup_attributes.json", fresh_id=True))
    assert not granted.refused(calls.own, "EventFunctionRole", set(), account)

    # Then exactly the sets bound for a pool whose rule asks a warm-up are looked at again
    names, bodies = queued_names(account)
    assert names == ["bulk-a", "bulk-b"]
    # And a running sweep would read the pools again
    assert StateTable(account.state_table).view_changed_at() > stale_before

    # When they are looked at after the IP is warm
    seed.sesv2().put_dedicated_ip_warmup_attributes(Ip="192.0.2.1", WarmupPercentage=95)
    invoke(*bodies)

    # Then they move: the fan-out made the pool's state be read afresh
    assert seed.delivery_options("bulk-a")["SendingPoolName"] == "bulk"
    assert row(account, "bulk-b")["outcome"] == "remediated"


def test_the_account_s_shared_pool_delivery_mode_re_judges_the_sets_a_mode_rule_governs(
    account: LocalStack,
) -> None:
    # Given an EU set the eu rule put on the shared pool with mode REGIONAL, and a bulk set
    for name in ("eu-a", "bulk-a"):
        seed.create_set(name)
    invoke(created("eu-a"), created("bulk-a"))
    assert seed.delivery_options("eu-a")["SharedPoolDeliveryMode"] == "REGIONAL"
    drain_work_queue(account)
    reads = call_counts().get("GetConfigurationSet", 0)

    # When the account's shared pool delivery mode changes, and its record arrives
    invoke(sample_event("put_account_delivery_attributes.json", fresh_id=True))

    # Then the sets bound for the shared pool by a rule asking a mode are looked at
    # again (and only they: the record names no set)
    names, bodies = queued_names(account)
    assert names == ["eu-a"]
    invoke(*bodies)
    assert call_counts().get("GetConfigurationSet", 0) - reads == 1
    # And the set keeps its own mode, which overrides the account's: compliant
    assert row(account, "eu-a")["outcome"] == "compliant"


def test_a_deleted_tenant_s_sets_and_identities_are_judged_again_exempt_ones_included(
    account: LocalStack,
) -> None:
    # Given a set of tenant globex (exempt by tenant), a set and an identity of acme-eu
    # (moved and given its default set by the tenant rules), and an unrelated set
    ses = seed.sesv2()
    for tenant in ("globex", "acme-eu"):
        ses.create_tenant(TenantName=tenant)
    for name in ("g1", "a1", "other", "acme-default"):
        seed.create_set(name)
    seed.create_identity("news.acme.example")
    ses.create_tenant_resource_association(
        TenantName="globex", ResourceArn=arn("configuration-set", "g1")
    )
    ses.create_tenant_resource_association(
        TenantName="acme-eu", ResourceArn=arn("configuration-set", "a1")
    )
    ses.create_tenant_resource_association(
        TenantName="acme-eu", ResourceArn=arn("identity", "news.acme.example")
    )
    invoke(
        created("g1"),
        created("a1"),
        created("other"),
        sample_event("create_email_identity.json", identity="news.acme.example", fresh_id=True),
    )
    assert row(account, "g1")["outcome"] == "exempt"
    assert seed.delivery_options("a1")["SendingPoolName"] == "acme"
    assert identity_row(account, "news.acme.example")["outcome"] == "remediated"
    drain_work_queue(account)

    # When globex is deleted (SES drops its associations), and its record arrives
    ses.delete_tenant(TenantName="globex")
    with granted.recording() as calls:
        invoke(deleted_tenant("globex"))
    assert not granted.refused(calls.own, "EventFunctionRole", set(), account)

    # Then its exempt set is judged again, no longer exempt
    row_g1 = row(account, "g1")
    assert (row_g1["outcome"], row_g1["rule_id"]) == ("compliant", "default")
    assert row_g1.get("tenants", "") == ""  # (read, and none left)

    # When acme-eu is deleted too
    ses.delete_tenant(TenantName="acme-eu")
    invoke(deleted_tenant("acme-eu"))

    # Then its set goes back to the default pool and its identity is judged again; the
    # unrelated set was never looked at again
    assert seed.delivery_options("a1").get("SendingPoolName") is None
    assert row(account, "a1")["rule_id"] == "default"
    assert identity_row(account, "news.acme.example")["outcome"] == "unmanaged"
    assert row(account, "other")["checked_at"] < row(account, "a1")["checked_at"]


def test_a_tenant_s_status_is_asked_of_get_tenant_when_list_tenants_leaves_it_out(
    account: LocalStack,
) -> None:
    # Given SES answering ListTenants as the API reference documents its entries (no
    # SendingStatus), and a set of tenant acme-eu, which SES has DISABLED
    local_aws.list_tenants_as_documented()
    ses = seed.sesv2()
    ses.create_tenant(TenantName="acme-eu")
    seed.create_set("a1")
    ses.create_tenant_resource_association(
        TenantName="acme-eu", ResourceArn=arn("configuration-set", "a1")
    )
    local_aws.set_tenant_sending_status("acme-eu", "DISABLED")
    assert "SendingStatus" not in ses.list_tenants()["Tenants"][0]
    before = call_counts().get("GetTenant", 0)

    # When its event arrives
    with granted.recording() as calls:
        invoke(created("a1"))
    assert not granted.refused(calls.own, "EventFunctionRole", set(), account)

    # Then the status came from GetTenant, and the disabled tenant's set is reported, not moved
    assert call_counts().get("GetTenant", 0) - before == 1
    record = row(account, "a1")
    assert record["outcome"] == "violation"
    assert "its tenant acme-eu is DISABLED" in record["reason"]
    assert seed.delivery_options("a1").get("SendingPoolName") is None
