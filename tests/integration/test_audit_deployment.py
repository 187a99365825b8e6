"""Issue 8: a deployment in audit mode (EnforcementMode=audit) never writes to SES,
whatever the policy document says: through events, a pool's fan-out, a restored option
and a full sweep, every set on the wrong pool is a reported violation."""

from __future__ import annotations

from typing import Any

import pytest

from functions.sweep import app as sweep_function
from local_aws import call_counts, seed, sfn
from local_aws.event_source import drain
from local_aws.replay import sample_event
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters.inventory import Inventory
from ses_pool_enforcer.adapters.ses import Ses, WriteRefused
from ses_pool_enforcer.model import ConfigurationSet
from tests.conftest import reset_process_caches
from tests.support import invoke

# Every rule says enforce; the deployment says audit.
POLICY = """
version: 1
mode: enforce
default: {pool: transactional}
rules:
  - {id: marketing, match: {names: ["mkt-*"]}, pool: marketing}
  - {id: lists, match: {names: ["list-*"]}, pool: lists}
"""


@pytest.fixture
def audited(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    monkeypatch.setenv("ENFORCEMENT_MODE", "audit")
    reset_process_caches()
    seed.create_pool("marketing")
    seed.create_pool("transactional")
    seed.put_policy(POLICY)
    for name in ("mkt-a", "mkt-b", "list-a", "other"):
        seed.create_set(name, pool="ses-shared-pool")
    return stack


def enforcer_writes(before: int) -> int:
    return call_counts().get("PutConfigurationSetDeliveryOptions", 0) - before


def test_an_audit_deployment_reports_every_wrong_pool_and_never_writes(
    audited: LocalStack,
) -> None:
    before = call_counts().get("PutConfigurationSetDeliveryOptions", 0)

    # When events arrive about the sets (a creation, a retag, a delivery options call)
    invoke(sample_event("create_configuration_set_v2.json", configuration_set="mkt-a"))
    invoke(sample_event("tag_resource.json", configuration_set="other", fresh_id=True))
    invoke(sample_event("put_delivery_options_v2.json", configuration_set="mkt-b", fresh_id=True))
    # And the pool the lists rule waits for is created: its sets are fanned out
    seed.create_pool("lists")
    invoke(sample_event("create_dedicated_ip_pool.json", pool="lists"))
    drain(
        audited.work_queue_url,
        lambda event, context: invoke(*[r["body"] for r in event["Records"]]),
    )
    # And a full sweep runs
    execution = sfn.run_sweep(sweep_function.handler, {"trigger": "manual"})

    # Then nothing was written to SES
    assert execution.status == "SUCCEEDED", execution.cause
    assert enforcer_writes(before) == 0
    assert seed.delivery_options("mkt-a")["SendingPoolName"] == "ses-shared-pool"
    # And every set is a violation that says why it was not moved
    rows = {r["configuration_set"]: r for r in Inventory(audited.inventory_table).rows()}
    assert {name: row["outcome"] for name, row in rows.items()} == {
        "mkt-a": "violation",
        "mkt-b": "violation",
        "list-a": "violation",
        "other": "violation",
    }
    assert all("deployment is in audit mode" in row["reason"] for row in rows.values())
    alerts: list[dict[str, Any]] = received_alerts(audited)
    outcomes = {a["attributes"]["outcome"] for a in alerts}
    assert outcomes <= {"violation", "report"} and "violation" in outcomes


def test_the_ses_adapter_of_an_audit_deployment_refuses_a_write_without_sending_it(
    audited: LocalStack,
) -> None:
    # Given the SES adapter an audit deployment builds
    before = call_counts().get("PutConfigurationSetDeliveryOptions", 0)
    ses = Ses(read_only=True)

    # When something asks it to move a set, then it refuses, and SES never hears of it
    with pytest.raises(WriteRefused):
        ses.reassign(ConfigurationSet("mkt-a", "ses-shared-pool"), "marketing")
    assert enforcer_writes(before) == 0
