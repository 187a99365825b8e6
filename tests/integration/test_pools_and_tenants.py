"""The event function on local AWS with a policy that asks its pools' health, the shared
pool's delivery mode, and speaks of tenants: what is written, what is refused and why,
and what it costs in SES calls."""

from __future__ import annotations

from typing import Any

import pytest

import local_aws
from functions.sweep import app as sweep_function
from local_aws import call_counts, seed, sfn
from local_aws.replay import sample_event
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters.inventory import Inventory
from tests import granted
from tests.conftest import reset_process_caches
from tests.integration.test_pool_lifecycle import drain_work_queue
from tests.support import invoke, ses_writes

REGION, ACCOUNT = "us-east-1", "123456789012"
POLICY = """
version: 1
mode: enforce
rules:
  - id: bulk
    match: {names: ["bulk-*"]}
    pool: bulk
    pool_health: {min_ips: 2, min_warmup_percent: 90}
  - id: eu
    match: {names: ["eu-*"]}
    pool: ses-shared-pool
    shared_pool_delivery_mode: REGIONAL
  - id: acme
    match: {tenants: ["acme-*"]}
    pool: acme
default:
  pool: ses-default-dedicated-pool
"""


def set_arn(name: str) -> str:
    return f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{name}"


def outcome(stack: LocalStack, name: str) -> dict[str, Any]:
    return next(
        r for r in Inventory(stack.inventory_table).rows() if r["configuration_set"] == name
    )


def created(name: str) -> dict[str, Any]:
    return sample_event("create_configuration_set_v2.json", configuration_set=name, fresh_id=True)


@pytest.fixture
def account(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    # Given a "bulk" pool with one warm IP and one 10 % warm, an "acme" pool, the policy
    monkeypatch.setenv("ACCOUNT_ID", ACCOUNT)
    reset_process_caches()
    ses = seed.sesv2()
    for pool in ("bulk", "acme"):
        seed.create_pool(pool)
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="bulk")
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.2", DestinationPoolName="bulk")
    ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.2", WarmupPercentage=10)
    seed.put_policy(POLICY)
    return stack


def test_a_set_bound_for_a_warming_pool_is_not_moved_until_the_pool_is_warm(
    account: LocalStack,
) -> None:
    # Given two sets the bulk rule wants on "bulk", both elsewhere
    for name in ("bulk-a", "bulk-b"):
        seed.create_set(name, pool="acme", tls_policy="REQUIRE")
    writes, reads = ses_writes(), call_counts().get("GetDedicatedIps", 0)

    # When their events arrive
    with granted.recording() as calls:
        assert invoke(created("bulk-a"), created("bulk-b")) == {"batchItemFailures": []}
    assert "ses:GetDedicatedIps" in calls.own.actions
    assert not granted.refused(calls.own, "EventFunctionRole", set(), account)

    # Then neither is written, each is an error that names the pool's state, and the
    # pool was read once for both
    assert ses_writes() == writes
    assert seed.delivery_options("bulk-a")["SendingPoolName"] == "acme"
    record = outcome(account, "bulk-a")
    assert record["outcome"] == "error"
    assert record["reason"].startswith(
        "not moved: target pool bulk is not ready (STANDARD, 2 IPs, coldest 10 % warm: "
        "coldest IP 10 % warm, at least 90 % required)"
    )
    assert call_counts().get("GetDedicatedIps", 0) - reads == 1
    # And the record holds the pool's state as fields too, for reports and the alert
    assert (record["pool_scaling_mode"], record["pool_ips"], record["pool_coldest_warmup"]) == (
        "STANDARD",
        "2",
        "10",
    )
    alerts = received_alerts(account)
    assert {a["alert"]["configuration_set"] for a in alerts} == {"bulk-a", "bulk-b"}
    assert [a["alert"].get("target_pool_state") for a in alerts] == [
        {"scaling_mode": "STANDARD", "ips": 2, "coldest_warmup_percent": 10}
    ] * 2

    # When the IP is warm, and the cached state has aged out (a fresh process)
    seed.sesv2().put_dedicated_ip_warmup_attributes(Ip="192.0.2.2", WarmupPercentage=100)
    reset_process_caches()
    invoke(created("bulk-a"))

    # Then the set moves, its TLS kept
    assert seed.delivery_options("bulk-a") == {"SendingPoolName": "bulk", "TlsPolicy": "REQUIRE"}
    assert outcome(account, "bulk-a")["outcome"] == "remediated"


def test_the_shared_pool_s_delivery_mode_is_written_with_the_pool_in_one_call(
    account: LocalStack,
) -> None:
    # Given an EU set on a dedicated pool, its shared-pool mode GLOBAL, TLS required
    ses = seed.sesv2()
    seed.create_set("eu-news", pool="acme", tls_policy="REQUIRE", max_delivery_seconds=600)
    ses.put_configuration_set_delivery_options(
        ConfigurationSetName="eu-news",
        SendingPoolName="acme",
        TlsPolicy="REQUIRE",
        MaxDeliverySeconds=600,
        SharedPoolDeliveryMode="GLOBAL",
    )
    writes = ses_writes()

    # When its event arrives
    invoke(created("eu-news"))

    # Then one write set the pool and the mode, and kept every other option
    assert ses_writes() - writes == 1
    assert seed.delivery_options("eu-news") == {
        "SendingPoolName": "ses-shared-pool",
        "SharedPoolDeliveryMode": "REGIONAL",
        "TlsPolicy": "REQUIRE",
        "MaxDeliverySeconds": 600,
    }

    # When it comes again: nothing to write
    invoke(created("eu-news"))
    assert ses_writes() - writes == 1
    assert outcome(account, "eu-news")["outcome"] == "compliant"


def test_a_tenant_s_sets_follow_the_tenant_rule_and_a_disabled_tenant_s_are_reported(
    account: LocalStack,
) -> None:
    # Given two sets of tenant acme-eu, one of tenant globex, all on the default pool
    ses = seed.sesv2()
    ses.create_tenant(TenantName="acme-eu")
    ses.create_tenant(TenantName="globex")
    for name, tenant in (("s1", "acme-eu"), ("s2", "acme-eu"), ("s3", "globex")):
        seed.create_set(name)
        ses.create_tenant_resource_association(TenantName=tenant, ResourceArn=set_arn(name))

    # When s1 and s3 are looked at
    with granted.recording() as calls:
        invoke(created("s1"), created("s3"))

    # Then s1 follows its tenant's rule, s3 (another tenant) the default
    assert seed.delivery_options("s1")["SendingPoolName"] == "acme"
    assert outcome(account, "s1")["rule_id"] == "acme"
    assert outcome(account, "s3")["rule_id"] == "default"
    # And each record names its tenants; a rule without pool_health reads no pool state
    assert (outcome(account, "s1")["tenants"], outcome(account, "s3")["tenants"]) == (
        "acme-eu",
        "globex",
    )
    assert "pool_ips" not in outcome(account, "s1")
    assert call_counts().get("ListResourceTenants", 0) == 2
    # And every call, the tenant reads among them, is one the event function may make
    assert {"ses:ListResourceTenants", "ses:ListTenants"} <= calls.own.actions
    assert not granted.refused(calls.own, "EventFunctionRole", set(), account)

    # When SES disables the tenant, and s2 is looked at
    local_aws.set_tenant_sending_status("acme-eu", "DISABLED")
    reset_process_caches()
    writes = ses_writes()
    invoke(created("s2"))

    # Then it is reported, not moved
    assert ses_writes() == writes
    record = outcome(account, "s2")
    assert record["outcome"] == "violation"
    assert "its tenant acme-eu is DISABLED" in record["reason"]


def test_a_sweep_reads_each_pool_once_and_each_tenant_once_never_per_set(
    account: LocalStack,
) -> None:
    # Given twelve sets of three tenants and six bulk sets, the bulk pool warm
    ses = seed.sesv2()
    ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.2", WarmupPercentage=100)
    for tenant in ("acme-eu", "acme-us", "globex"):
        ses.create_tenant(TenantName=tenant)
    for index in range(12):
        seed.create_set(f"t-{index}")
        tenant = ("acme-eu", "acme-us", "globex")[index % 3]
        ses.create_tenant_resource_association(TenantName=tenant, ResourceArn=set_arn(f"t-{index}"))
    for index in range(6):
        seed.create_set(f"bulk-{index}")
    before = call_counts()

    # When a sweep runs
    with granted.recording() as calls:
        execution = sfn.run_sweep(sweep_function.handler, {"trigger": "manual"})

    # Then every set was judged: the acme tenants' sets moved, the bulk sets moved
    assert execution.status == "SUCCEEDED", execution.cause
    assert all(
        seed.delivery_options(f"t-{i}").get("SendingPoolName", "ses-default-dedicated-pool")
        == ("ses-default-dedicated-pool" if i % 3 == 2 else "acme")
        for i in range(12)
    )
    assert all(seed.delivery_options(f"bulk-{i}")["SendingPoolName"] == "bulk" for i in range(6))
    # And the tenants cost one ListTenants and one ListTenantResources per tenant, the
    # pool's health one GetDedicatedIps: nothing per set (one step here)
    spent = {op: call_counts().get(op, 0) - before.get(op, 0) for op in call_counts()}
    assert spent.get("ListTenants") == 1
    assert spent.get("ListTenantResources") == 3
    assert spent.get("ListResourceTenants", 0) == 0
    assert spent.get("GetDedicatedIps") == 1
    # And the sweep's role grants every call it made
    assert {"ses:ListTenants", "ses:ListTenantResources"} <= calls.own.actions
    assert not granted.refused(calls.own, "SweepFunctionRole", set(), account)


# ---------------------------------------------------------------- events that change a pool


def test_an_ip_s_warm_up_re_judges_the_sets_waiting_for_that_pool(account: LocalStack) -> None:
    # Given bulk sets refused by a sweep (the pool warming), and an unrelated set
    for index in range(3):
        seed.create_set(f"bulk-{index}")
    seed.create_set("other")
    execution = sfn.run_sweep(sweep_function.handler, {"trigger": "manual"})
    assert execution.status == "SUCCEEDED", execution.cause
    assert outcome(account, "bulk-0")["outcome"] == "error"
    received_alerts(account)

    # When the cold IP is warmed, and its CloudTrail record arrives (it names the IP only)
    seed.sesv2().put_dedicated_ip_warmup_attributes(Ip="192.0.2.2", WarmupPercentage=95)
    invoke(sample_event("put_dedicated_ip_warmup_attributes.json", fresh_id=True))
    queued = drain_work_queue(account)
    invoke(*queued)

    # Then exactly the sets bound for a pool with pool_health were looked at again, and
    # moved: the fan-out forgot the pool's cached state
    assert len(queued) == 3
    assert all(seed.delivery_options(f"bulk-{i}")["SendingPoolName"] == "bulk" for i in range(3))
    assert outcome(account, "bulk-0")["outcome"] == "remediated"


def test_a_tenant_association_event_re_judges_its_set(account: LocalStack) -> None:
    # Given a set on the default pool, then associated with tenant acme-eu
    ses = seed.sesv2()
    seed.create_set("mkt-weekly")
    ses.create_tenant(TenantName="acme-eu")
    ses.create_tenant_resource_association(TenantName="acme-eu", ResourceArn=set_arn("mkt-weekly"))

    # When the association's CloudTrail record arrives
    invoke(sample_event("create_tenant_resource_association.json", fresh_id=True))

    # Then the set is judged by the tenant's rule
    assert seed.delivery_options("mkt-weekly")["SendingPoolName"] == "acme"
    assert outcome(account, "mkt-weekly")["rule_id"] == "acme"
