"""A sweep reads the pools and tenants once, not once per step, on local AWS: the real sweep
function step by step, the real event function between steps, SES counted, the view kept
in the report bucket, and the grants read from the template."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from functions.sweep import app
from local_aws import call_counts, faults, seed
from local_aws.replay import LambdaContext, sample_event
from local_aws.stack import LocalStack
from ses_pool_enforcer import sweep
from ses_pool_enforcer.adapters.inventory import Inventory
from ses_pool_enforcer.adapters.state import note_view_changed
from tests import granted
from tests.conftest import reset_process_caches
from tests.support import invoke as deliver
from tests.support import s3_object

REGION, ACCOUNT = "us-east-1", "123456789012"
TENANTS = ("acme-eu", "acme-us", "globex")
POLICY = """
version: 1
mode: enforce
rules:
  - id: bulk
    match: {names: ["bulk-*"]}
    pool: bulk
    pool_health: {min_ips: 1, min_warmup_percent: 90}
  - id: acme
    match: {tenants: ["acme-*"]}
    pool: acme
default:
  pool: ses-default-dedicated-pool
"""
VIEW_CALLS = (
    "ListDedicatedIpPools",
    "GetDedicatedIps",
    "GetDedicatedIpPool",
    "ListTenants",
    "ListTenantResources",
    "ListResourceTenants",
    "GetTenant",
)


@dataclass
class CountdownContext(LambdaContext):
    """An invocation with time for ``sets`` more sets (a step asks for the remaining
    time before each set; then less than its safety margin is left)."""

    sets: int = 0

    def get_remaining_time_in_millis(self) -> int:
        self.sets -= 1
        return 900_000 if self.sets >= 0 else 59_000


def set_arn(name: str) -> str:
    return f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{name}"


def step(state: dict[str, Any], sets: int, *, fresh: bool = True) -> dict[str, Any]:
    """One step of the sweep function with time for ``sets`` sets, in a fresh process (a
    later step of a real sweep is often another Lambda process) unless not ``fresh``."""
    if fresh:
        reset_process_caches()
    result: dict[str, Any] = app.handler(
        {"action": "step", "sweep": state}, CountdownContext(sets=sets)
    )
    return result


def view_calls(before: dict[str, int]) -> dict[str, int]:
    now = call_counts()
    spent = {op: now.get(op, 0) - before.get(op, 0) for op in VIEW_CALLS}
    return {op: n for op, n in spent.items() if n}


def pool_of(name: str) -> str:
    return str(seed.delivery_options(name).get("SendingPoolName", "ses-default-dedicated-pool"))


def rows(stack: LocalStack) -> dict[str, dict[str, str]]:
    return {r["configuration_set"]: r for r in Inventory(stack.inventory_table).rows()}


@pytest.fixture
def account(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    # Given a warm "bulk" pool, an "acme" pool, three tenants, the policy above, and a
    # budget that keeps the test quick
    monkeypatch.setenv("ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "50")
    reset_process_caches()
    ses = seed.sesv2()
    for pool in ("bulk", "acme"):
        seed.create_pool(pool)
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="bulk")
    for tenant in TENANTS:
        ses.create_tenant(TenantName=tenant)
    seed.put_policy(POLICY)
    return stack


def tenant_sets(count: int) -> list[str]:
    """``count`` sets on the default pool, the i-th of tenant TENANTS[i % 3]."""
    ses = seed.sesv2()
    names = [f"t-{i:02d}" for i in range(count)]
    for index, name in enumerate(names):
        seed.create_set(name)
        ses.create_tenant_resource_association(
            TenantName=TENANTS[index % 3], ResourceArn=set_arn(name)
        )
    return names


def start(execution: str) -> dict[str, Any]:
    result: dict[str, Any] = app.handler(
        {"action": "start", "execution": execution, "input": {"trigger": "manual"}},
        LambdaContext(),
    )
    return result


def test_a_sweep_of_several_steps_reads_pools_and_tenants_once_and_each_step_judges_by_them(
    account: LocalStack,
) -> None:
    # Given 24 sets of three tenants and 6 bulk sets, all on the default pool
    names = tenant_sets(24)
    for index in range(6):
        seed.create_set(f"bulk-{index}")
    before = call_counts()

    # When a sweep runs in four steps of about 8 sets (one warm process: each step reads
    # the view back all the same)
    with granted.recording() as calls:
        state = start("exec-view")
        steps = 0
        while not state["done"]:
            state = step(state, 8, fresh=False)
            steps += 1
        finished = app.handler({"action": "finish", "sweep": state}, LambdaContext())

    # Then the pools and tenants were read once for the whole sweep: the pool list, the
    # health-asked pool's IPs, ListTenants and one ListTenantResources per tenant
    assert steps >= 4
    assert view_calls(before) == {
        "ListDedicatedIpPools": 1,
        "GetDedicatedIps": 1,
        "ListTenants": 1,
        "ListTenantResources": 3,
    }
    # And every step judged by them: acme's sets on acme, globex's on the default pool,
    # the bulk sets on the (healthy) bulk pool
    assert {n: pool_of(n) for n in names} == {
        n: "ses-default-dedicated-pool" if i % 3 == 2 else "acme" for i, n in enumerate(names)
    }
    assert {pool_of(f"bulk-{i}") for i in range(6)} == {"bulk"}
    counts = {k: n for k, n in finished["report"]["counts"].items() if n}
    assert counts == {"remediated": 22, "compliant": 8}
    assert rows(account)["t-23"]["tenants"] == "globex"
    # And the view is kept in the report bucket, under the sweep's id
    kept = json.loads(s3_object(f"s3://{account.report_bucket}/sweeps/{state['sweep_id']}.json"))
    assert set(kept["tenants"]) == set(TENANTS)
    assert kept["states"]["bulk"]["ips"] == [["192.0.2.1", "DONE", 100]]
    # And the sweep's role grants keeping it and reading it back
    assert {"s3:PutObject", "s3:GetObject"} <= calls.own.actions
    assert not granted.refused(calls.own, "SweepFunctionRole", set(), account)


def test_a_tenant_association_heard_during_a_sweep_makes_it_read_the_tenants_again(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 30 sets of three tenants, and a sweep whose first step judged 10 of them (a
    # view read again as soon as it is stale: the share of the budget is no object here)
    monkeypatch.setattr(sweep, "VIEW_REREAD_SHARE", 1e9)
    names = tenant_sets(30)
    before = call_counts()
    state = step(start("exec-fresh"), 10)
    assert state["processed"] == 10 and not state["done"]

    # When globex's set t-20 is associated with acme-eu too, and its CloudTrail record
    # reaches the event function, which moves it to acme
    seed.sesv2().create_tenant_resource_association(
        TenantName="acme-eu", ResourceArn=set_arn("t-20")
    )
    event = sample_event("create_tenant_resource_association.json", configuration_set="t-20")
    with granted.recording() as calls:
        assert deliver(event) == {"batchItemFailures": []}
    assert pool_of("t-20") == "acme"
    # (noting the change for the sweep is a call the event function may make)
    assert not granted.refused(calls.own, "EventFunctionRole", set(), account)
    first = view_calls(before)
    before = call_counts()

    # And the sweep goes on to the end
    while not state["done"]:
        state = step(state, 8)

    # Then its next step read the pools and tenants again (not the view read before the
    # change), and t-20 stays where its tenant's rule and the event put it
    assert pool_of("t-20") == "acme"
    assert rows(account)["t-20"]["rule_id"] == "acme"
    assert rows(account)["t-20"]["tenants"] == "acme-eu,globex"
    # (before: the first step's read, and the event's own look at t-20: its tenants, their
    # statuses, whether acme exists)
    assert first == {
        "ListDedicatedIpPools": 1,
        "GetDedicatedIps": 1,
        "ListTenants": 2,
        "ListTenantResources": 3,
        "ListResourceTenants": 1,
        "GetDedicatedIpPool": 1,
    }
    assert view_calls(before) == {
        "ListDedicatedIpPools": 1,
        "GetDedicatedIps": 1,
        "ListTenants": 1,
        "ListTenantResources": 3,
    }
    # And every other set is where its tenant's rule says
    assert all(
        pool_of(n) == ("ses-default-dedicated-pool" if i % 3 == 2 else "acme")
        for i, n in enumerate(names)
        if n != "t-20"
    )


def test_a_set_change_heard_during_a_sweep_leaves_its_view_as_read(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 30 sets of three tenants, and a sweep whose first step judged 10 of them (a
    # view read again as soon as it is stale)
    monkeypatch.setattr(sweep, "VIEW_REREAD_SHARE", 1e9)
    tenant_sets(30)
    state = step(start("exec-set-change"), 10)
    assert state["processed"] == 10 and not state["done"]

    # When a set's delivery options change (no pool or tenant changed), and its CloudTrail
    # record reaches the event function
    event = sample_event("put_delivery_options_v2.json", configuration_set="t-20")
    assert deliver(event) == {"batchItemFailures": []}
    before = call_counts()

    # And the sweep goes on to the end
    while not state["done"]:
        state = step(state, 8)

    # Then no later step read the pools or tenants again: only their changes make a
    # sweep's view stale
    assert view_calls(before) == {}


def test_without_a_report_bucket_each_step_reads_its_own_view(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment with no report bucket (a local run), and 24 sets of three tenants
    monkeypatch.delenv("REPORT_BUCKET")
    tenant_sets(24)
    before = call_counts()

    # When a sweep runs in steps of 10 sets
    state = start("exec-no-bucket")
    steps = 0
    while not state["done"]:
        state = step(state, 10)
        steps += 1

    # Then each step read the tenants for itself (nowhere to keep them), and judged by them
    assert view_calls(before)["ListTenants"] == steps == 3
    assert pool_of("t-00") == "acme"


def bulk_sets(count: int) -> list[str]:
    """``count`` sets on the default pool that the bulk rule sends to bulk."""
    names = [f"bulk-{i:02d}" for i in range(count)]
    for name in names:
        seed.create_set(name)
    return names


def ip_moved_out_of_bulk() -> None:
    """Someone moves bulk's only IP to acme, and its CloudTrail record reaches the event
    function (which fans out to the sets the inventory expects on bulk)."""
    seed.sesv2().put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="acme")
    event = sample_event("put_dedicated_ip_in_pool.json", fresh_id=True)
    event["detail"]["requestParameters"] = {"ip": "192.0.2.1", "destinationPoolName": "acme"}
    assert deliver(event) == {"batchItemFailures": []}


def test_a_pool_emptied_between_two_steps_is_read_again_before_a_set_is_moved_onto_it(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 30 sets the bulk rule sends to bulk (its one IP warm: healthy), and a sweep
    # whose first step moved 10 of them
    monkeypatch.setattr(sweep, "VIEW_REREAD_SHARE", 1e9)
    names = bulk_sets(30)
    state = step(start("exec-pool"), 10)
    assert {pool_of(n) for n in names[:10]} == {"bulk"}

    # When bulk's IP is moved out, and the event function hears it
    ip_moved_out_of_bulk()
    writes = call_counts().get("PutConfigurationSetDeliveryOptions", 0)

    # And the sweep goes on
    while not state["done"]:
        state = step(state, 10)

    # Then it read the pool again: no other set was moved onto the emptied pool, each is
    # an error that says why
    assert call_counts().get("PutConfigurationSetDeliveryOptions", 0) == writes
    assert {pool_of(n) for n in names[10:]} == {"ses-default-dedicated-pool"}
    assert {rows(account)[n]["outcome"] for n in names[10:]} == {"error"}
    assert "target pool bulk is not ready" in rows(account)["bulk-29"]["reason"]


def test_a_change_heard_in_the_middle_of_a_step_is_read_at_its_next_checkpoint(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 30 sets the bulk rule sends to bulk, a sweep that checkpoints every 5 sets,
    # and bulk's IP moved out (and heard) while the sweep reads its first set
    monkeypatch.setattr(sweep, "CHECKPOINT_EVERY_SETS", 5)
    monkeypatch.setattr(sweep, "VIEW_REREAD_SHARE", 1e9)
    names = bulk_sets(30)
    faults.after("sesv2", "GetConfigurationSet", ip_moved_out_of_bulk)

    # When the sweep runs in one step
    state = step(start("exec-mid"), 100)
    assert state["done"]

    # Then the sets judged before its first checkpoint went by the view read at its start
    # (the pool healthy), and every set after it by the view read again there
    assert [n for n in names if pool_of(n) == "bulk"] == names[:5]
    assert {rows(account)[n]["outcome"] for n in names[5:]} == {"error"}


def test_an_execution_that_resumes_a_dead_one_s_sweep_reads_the_view_again(
    account: LocalStack,
) -> None:
    # Given a sweep whose execution died after its first step (its view kept)
    tenant_sets(24)
    before = call_counts()
    dead = step(start("exec-dead"), 10)
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=account.state_table,
        Key={"id": {"S": "sweep#lock"}},
        UpdateExpression="SET lease_until = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )

    # When the next execution resumes it, in steps of 10 sets
    state = start("exec-next")
    assert state["status"] == "resumed" and state["sweep_id"] == dead["sweep_id"]
    while not state["done"]:
        state = step(state, 10)

    # Then it read the pools and tenants once more (what the dead one read may be hours
    # old), not once per step
    assert view_calls(before)["ListTenants"] == 2
    assert view_calls(before)["ListTenantResources"] == 6


def test_changes_heard_sooner_than_the_budget_allows_a_read_wait_for_it(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a sweep that may spend only a sliver of its budget reading the view again,
    # checkpointing every 5 sets, and a change heard before each of its reads of a set
    monkeypatch.setattr(sweep, "CHECKPOINT_EVERY_SETS", 5)
    monkeypatch.setattr(sweep, "VIEW_REREAD_SHARE", 1e-9)
    tenant_sets(30)
    table = account.state_table
    faults.after(
        "sesv2",
        "GetConfigurationSet",
        lambda: note_view_changed(table, "", time.time()),
        times=30,
    )
    before = call_counts()

    # When the sweep runs
    state = step(start("exec-burst"), 100)

    # Then it read the view once, not at each of its six checkpoints
    assert state["done"]
    assert view_calls(before)["ListTenants"] == 1
