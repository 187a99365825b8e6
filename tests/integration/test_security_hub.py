"""Issue 11: findings in AWS Security Hub, end to end on local AWS: events and sweeps
import a finding when a set's compliance changes, a sweep's finish sends the open ones
again and closes the stale ones, and an account without Security Hub gets one alert
while enforcement goes on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.sweep import app as sweep_app
from local_aws import faults, seed, sfn
from local_aws import securityhub as local_hub
from local_aws.replay import sample_event
from local_aws.sfn import Execution
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters import security_hub
from ses_pool_enforcer.adapters.inventory import Inventory
from ses_pool_enforcer.adapters.security_hub import SecurityHubFindings
from ses_pool_enforcer.compliance.security_hub import Product, Status, finding
from ses_pool_enforcer.model import Outcome, OutcomeRecord
from ses_pool_enforcer.observability import metrics
from ses_pool_enforcer.runtime import get_runtime
from tests import granted
from tests.conftest import reset_process_caches
from tests.integration.test_shared_budget import FrozenClock
from tests.integration.test_sweep import metrics_emitted
from tests.support import MARKETING_POLICY, invoke, marketing_account, ses_writes, shift_clock

ACCOUNT = "123456789012"
RETRIES_EXHAUSTED = 3  # the SDK's attempts (adapters/aws.RETRY_CONFIG)

EXEMPTIONS = """
exemptions:
  - configuration_set: tx-legacy
    reason: OPS-42 migration
    expires: 2099-12-31
"""
# The receipts rule enforced instead of audited.
ENFORCED_POLICY = MARKETING_POLICY.replace("    mode: audit\n", "")


PACE = security_hub.IMPORT_INTERVAL_SECONDS  # as deployed


@pytest.fixture(autouse=True)
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local Security Hub has no rate to respect (pacing is tested on its own)."""
    monkeypatch.setattr(security_hub, "IMPORT_INTERVAL_SECONDS", 0.0)
    monkeypatch.setattr(security_hub, "READ_INTERVAL_SECONDS", 0.0)


@pytest.fixture(autouse=True)
def no_metrics_left() -> Iterator[None]:
    """Metrics added outside a handler would be flushed by the next test's handler."""
    yield
    metrics.clear_metrics()


@pytest.fixture
def account(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    # Given a deployment with SecurityHub=enabled, a policy read afresh at every event,
    # and an account with the marketing and transactional pools
    monkeypatch.setenv("SECURITY_HUB", "enabled")
    monkeypatch.setenv("POLICY_CACHE_SECONDS", "0")
    reset_process_caches()
    marketing_account()
    return stack


@pytest.fixture
def hub(account: LocalStack) -> LocalStack:
    # And Security Hub enabled in the account and region
    boto3.client("securityhub").enable_security_hub()
    return account


def findings() -> dict[str, dict[str, Any]]:
    """What Security Hub holds, by configuration set."""
    client, found, token = boto3.client("securityhub"), {}, None
    while True:
        page = client.get_findings(**({"NextToken": token} if token else {}))
        for item in page["Findings"]:
            found[item["Resources"][0]["Details"]["Other"]["ConfigurationSetName"]] = item
        token = page.get("NextToken")
        if not token:
            return found


def event(file: str, name: str) -> dict[str, Any]:
    return sample_event(file, configuration_set=name, fresh_id=True)


def changed(name: str) -> dict[str, Any]:
    """Someone's PutConfigurationSetDeliveryOptions on ``name``."""
    return event("put_delivery_options_v2.json", name)


def run_sweep() -> Execution:
    execution = sfn.run_sweep(sweep_app.handler, {"trigger": "manual"})
    assert execution.status == "SUCCEEDED", execution.cause
    return execution


def hub_alerts(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["alert"].get("kind") == "security-hub-not-enabled"]


# --------------------------------------------------------------------------- findings


def test_an_event_that_finds_a_violation_creates_one_failed_finding(hub: LocalStack) -> None:
    # Given a receipts set (audit rule) on the marketing pool
    seed.create_set("tx-receipts", pool="marketing")

    # When someone's change to it arrives
    assert invoke(changed("tx-receipts")) == {"batchItemFailures": []}

    # Then Security Hub holds one failing finding for the set, in one call
    [(name, item)] = findings().items()
    assert name == "tx-receipts"
    assert (
        item["Id"] == f"arn:aws:ses:us-east-1:{ACCOUNT}:configuration-set/tx-receipts/pool-policy"
    )
    assert item["ProductArn"] == (
        f"arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default"
    )
    assert item["AwsAccountId"] == ACCOUNT
    assert (item["Compliance"], item["RecordState"], item["Workflow"]) == (
        {"Status": "FAILED"},
        "ACTIVE",
        {"Status": "NEW"},
    )
    assert item["Severity"]["Label"] == "MEDIUM"
    assert item["GeneratorId"] == "ses-pool-enforcer/pool-policy/receipts"
    fields = item["ProductFields"]
    assert fields["ses-pool-enforcer/CurrentPool"] == "marketing"
    assert fields["ses-pool-enforcer/RequiredPool"] == "transactional"
    assert fields["ses-pool-enforcer/PolicyVersion"] == "1"
    assert "audit mode" in fields["ses-pool-enforcer/Reason"]
    assert local_hub.import_calls() == [1]

    # When the same violation is seen again by another event
    invoke(changed("tx-receipts"))

    # Then nothing more is imported: the finding already says so
    assert local_hub.import_calls() == [1]


def test_a_second_sweep_updates_the_same_finding_and_adds_no_duplicate(hub: LocalStack) -> None:
    # Given a set in violation, found by a first sweep
    seed.create_set("tx-receipts", pool="marketing")
    run_sweep()
    first = findings()["tx-receipts"]

    # When a second sweep looks at it again
    run_sweep()

    # Then Security Hub still holds one finding for it, created when the problem began and
    # updated by the later look
    assert list(findings()) == ["tx-receipts"]
    second = findings()["tx-receipts"]
    assert second["Id"] == first["Id"]
    assert second["CreatedAt"] == first["CreatedAt"]
    assert second["UpdatedAt"] > first["UpdatedAt"]
    # And the calls: the first sweep's change at its checkpoint, then each finish sends
    # the open finding again (so a lost import is repaired and the finding stays current)
    assert local_hub.import_calls() == [1, 1, 1]


def test_a_set_moved_or_exempted_has_its_finding_passed_and_archived(hub: LocalStack) -> None:
    # Given two receipts sets in violation, each with a failing finding
    seed.create_set("tx-receipts", pool="marketing")
    seed.create_set("tx-legacy", pool="marketing")
    invoke(changed("tx-receipts"), changed("tx-legacy"))
    failing = findings()
    assert {n: f["Compliance"]["Status"] for n, f in failing.items()} == {
        "tx-receipts": "FAILED",
        "tx-legacy": "FAILED",
    }

    # When the policy enforces receipts (so the first is moved) and exempts the second
    seed.put_policy(ENFORCED_POLICY + EXEMPTIONS)
    invoke(changed("tx-receipts"), changed("tx-legacy"))

    # Then both findings pass and are archived, still created when the problem began
    assert seed.delivery_options("tx-receipts")["SendingPoolName"] == "transactional"
    closed = findings()
    for name in ("tx-receipts", "tx-legacy"):
        assert closed[name]["Compliance"] == {"Status": "PASSED"}, name
        assert closed[name]["RecordState"] == "ARCHIVED", name
        assert closed[name]["Severity"]["Label"] == "INFORMATIONAL", name
        assert closed[name]["CreatedAt"] == failing[name]["CreatedAt"], name
    assert closed["tx-receipts"]["ProductFields"]["ses-pool-enforcer/Outcome"] == "remediated"
    assert closed["tx-legacy"]["ProductFields"]["ses-pool-enforcer/Outcome"] == "exempt"
    # (each finding imported as its outcome's owed effect is paid: one call a change)
    assert local_hub.import_calls() == [1, 1, 1, 1]

    # When the exemption is withdrawn: the set is in violation again
    seed.put_policy(MARKETING_POLICY)
    invoke(changed("tx-legacy"))

    # Then its finding fails again, active, as a new problem (created now, not back then)
    reopened = findings()["tx-legacy"]
    assert (reopened["Compliance"]["Status"], reopened["RecordState"]) == ("FAILED", "ACTIVE")
    assert reopened["CreatedAt"] > closed["tx-legacy"]["UpdatedAt"]


def test_a_set_a_person_puts_right_has_its_finding_passed_in_one_import(hub: LocalStack) -> None:
    # Given a receipts set in violation, with its failing finding
    seed.create_set("tx-receipts", pool="marketing")
    invoke(changed("tx-receipts"))
    assert local_hub.import_calls() == [1]

    # When someone moves it to its pool themselves, and their change arrives
    seed.set_pool("tx-receipts", "transactional")
    invoke(changed("tx-receipts"))

    # Then the set is compliant and its finding passed and archived, imported once: as
    # the outcome's owed effect, not again as a deleted set's is
    closed = findings()["tx-receipts"]
    assert (closed["Compliance"]["Status"], closed["RecordState"]) == ("PASSED", "ARCHIVED")
    assert closed["ProductFields"]["ses-pool-enforcer/Outcome"] == "compliant"
    assert local_hub.import_calls() == [1, 1]


def test_a_move_a_failed_look_left_unrecorded_closes_the_finding_when_it_is_finished(
    hub: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a receipts set in violation with its failing finding
    seed.create_set("tx-receipts", pool="marketing")
    invoke(changed("tx-receipts"))
    # And the receipts rule now enforced, with DynamoDB refusing (every retry) the write
    # that records the move, after the intent went through
    seed.put_policy(ENFORCED_POLICY)
    faults.fail(
        "dynamodb",
        "UpdateItem",
        times=RETRIES_EXHAUSTED,
        code="ProvisionedThroughputExceededException",
        status=400,
        skip=1,
        where={"TableName": hub.inventory_table},
    )

    # When the change arrives: the set is moved, but the look fails before recording it
    assert len(invoke(changed("tx-receipts"))["batchItemFailures"]) == 1
    assert seed.delivery_options("tx-receipts")["SendingPoolName"] == "transactional"
    assert findings()["tx-receipts"]["Compliance"]["Status"] == "FAILED"

    # When the next look comes, after the failed one's lease ran out
    faults.clear()
    shift_clock(monkeypatch, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    invoke(changed("tx-receipts"))

    # Then it finishes the move it found owed, and closes the finding
    closed = findings()["tx-receipts"]
    assert (closed["Compliance"]["Status"], closed["RecordState"]) == ("PASSED", "ARCHIVED")
    assert closed["ProductFields"]["ses-pool-enforcer/Outcome"] == "remediated"


def test_a_problem_that_changes_keeps_its_finding_and_its_creation_time(hub: LocalStack) -> None:
    # Given a receipts set in violation, with its finding
    seed.create_set("tx-receipts", pool="marketing")
    invoke(changed("tx-receipts"))
    violation = findings()["tx-receipts"]

    # When its required pool is deleted: the set is now in error (seen by a fresh process,
    # which has not remembered the pool)
    seed.delete_pool("transactional")
    reset_process_caches()
    invoke(changed("tx-receipts"))

    # Then the same finding says so, more severe, created when the first problem began
    error = findings()["tx-receipts"]
    assert error["ProductFields"]["ses-pool-enforcer/Outcome"] == "error"
    assert error["Severity"]["Label"] == "HIGH"
    assert error["CreatedAt"] == violation["CreatedAt"]
    row = {r["configuration_set"]: r for r in Inventory(hub.inventory_table).rows()}
    assert row["tx-receipts"]["problem_since"].startswith(violation["CreatedAt"][:19])


def test_a_problem_whose_rule_was_renamed_updates_its_finding_and_is_not_alerted_again(
    hub: LocalStack,
) -> None:
    # Given a receipts set in violation, alerted, with its finding
    seed.create_set("tx-receipts", pool="marketing")
    invoke(changed("tx-receipts"))
    assert len(received_alerts(hub)) == 1

    # When the rule is renamed (same pools: the same problem) and the set looked at again
    seed.put_policy(MARKETING_POLICY.replace("id: receipts", "id: receipts-audit"))
    result = invoke(changed("tx-receipts"))

    # Then no second alert, but the finding names the new rule (it is owed on its own,
    # recorded with the outcome though the item already held that problem)
    assert result == {"batchItemFailures": []}
    assert received_alerts(hub) == []
    item = findings()["tx-receipts"]
    assert item["GeneratorId"] == "ses-pool-enforcer/pool-policy/receipts-audit"
    assert item["Compliance"] == {"Status": "FAILED"}
    assert local_hub.import_calls() == [1, 1]


def test_a_deleted_set_has_its_finding_closed_and_one_gone_unseen_is_closed_by_the_sweep(
    hub: LocalStack,
) -> None:
    # Given two sets in violation with their findings
    seed.create_set("tx-deleted", pool="marketing")
    seed.create_set("tx-vanished", pool="marketing")
    invoke(changed("tx-deleted"), changed("tx-vanished"))

    # When one is deleted and its DeleteConfigurationSet event arrives
    seed.sesv2().delete_configuration_set(ConfigurationSetName="tx-deleted")
    invoke(event("delete_configuration_set.json", "tx-deleted"))

    # Then its finding is closed
    assert findings()["tx-deleted"]["RecordState"] == "ARCHIVED"
    assert findings()["tx-vanished"]["RecordState"] == "ACTIVE"

    # When the other vanishes without an event, and a sweep runs
    seed.sesv2().delete_configuration_set(ConfigurationSetName="tx-vanished")
    run_sweep()

    # Then the sweep's finish closes its finding too
    gone = findings()["tx-vanished"]
    assert (gone["Compliance"]["Status"], gone["RecordState"]) == ("PASSED", "ARCHIVED")
    assert gone["ProductFields"]["ses-pool-enforcer/Outcome"] == "deleted"


def test_more_than_100_findings_in_one_sweep_go_in_batches_of_at_most_100(
    hub: LocalStack,
) -> None:
    # Given 120 receipts sets in violation
    ses = seed.sesv2()
    for i in range(120):
        ses.create_configuration_set(
            ConfigurationSetName=f"tx-{i:03d}", DeliveryOptions={"SendingPoolName": "marketing"}
        )

    # When a sweep runs
    finished = run_sweep().output

    # Then every set has its failing finding, and no call carried more than 100
    assert len(findings()) == 120
    assert {f["Compliance"]["Status"] for f in findings().values()} == {"FAILED"}
    calls = local_hub.import_calls()
    assert max(calls) <= 100
    # (the steps' changes at each checkpoint, then the finish sends all 120 again)
    assert sum(calls[:-2]) == 120 and calls[-2:] == [100, 20]
    assert finished["security_hub"] == {
        "imported": 120, "refused": 0, "calls": 2, "not_enabled": False, "error": None,
    }  # fmt: skip


def test_a_failed_import_loses_no_outcome_and_the_next_sweep_repairs_security_hub(
    hub: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a receipts set in violation with its failing finding
    seed.create_set("tx-receipts", pool="marketing")
    invoke(changed("tx-receipts"))
    capsys.readouterr()

    # When it is exempted while Security Hub fails every attempt to import the change
    seed.put_policy(MARKETING_POLICY + EXEMPTIONS.replace("tx-legacy", "tx-receipts"))
    faults.fail("securityhub", "BatchImportFindings", times=RETRIES_EXHAUSTED)
    result = invoke(changed("tx-receipts"))

    # Then the event is done (the outcome is recorded), the failure counted, and Security
    # Hub still says FAILED
    assert result == {"batchItemFailures": []}
    assert metrics_emitted(capsys.readouterr().out)["SecurityHubCallFailed"] == [1.0]
    rows = {r["configuration_set"]: r for r in Inventory(hub.inventory_table).rows()}
    assert rows["tx-receipts"]["outcome"] == "exempt"
    assert findings()["tx-receipts"]["Compliance"]["Status"] == "FAILED"

    # When the next sweep runs
    run_sweep()

    # Then its finish finds the stale finding open and closes it
    assert findings()["tx-receipts"]["RecordState"] == "ARCHIVED"


def test_findings_security_hub_refuses_are_logged_and_counted_and_the_rest_imported(
    hub: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the sink, a finding Security Hub takes and one it refuses (no Resources)
    sink = SecurityHubFindings(Product(ACCOUNT, "us-east-1"), get_runtime().alerts)
    good = base_finding("good")
    bad = {**base_finding("bad"), "Resources": []}

    # When both are flushed
    sink.add(good)
    sink.add(bad)
    delivery = sink.flush()

    # Then one is imported, one refused, and the log and a metric say which and why
    assert (delivery.imported, delivery.refused, delivery.calls) == (1, 1, 1)
    assert set(findings()) == {"good"}
    [line] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert line.levelname == "WARNING" and line.__dict__["refused"] == 1
    [why] = line.__dict__["first"]
    assert why["Id"].endswith("configuration-set/bad/pool-policy")
    assert why["ErrorCode"] == "InvalidInput"
    assert metrics.metric_set["SecurityHubFindingsRefused"]["Value"] == [1.0]
    assert delivery.notes() == (
        "Security Hub refused 1 findings (see the sweep function's log); the next sweep "
        "sends them again.",
    )


def base_finding(name: str) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    record = OutcomeRecord(name, Outcome.VIOLATION, "a", "b", "r", "why", now)
    return finding(
        record, Product(ACCOUNT, "us-east-1"), Status.FAILED, created_at=now, updated_at=now
    )


def test_imports_are_paced_to_a_third_of_the_account_rate(
    hub: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the sink at its real pace, on a clock that stands still and records its waits
    monkeypatch.setattr(security_hub, "IMPORT_INTERVAL_SECONDS", PACE)
    clock = FrozenClock()
    sink = SecurityHubFindings(Product(ACCOUNT, "us-east-1"), get_runtime().alerts, clock)

    # When 250 findings are flushed
    delivery = sink.flush(base_finding(f"s{i:03d}") for i in range(250))

    # Then three calls of at most 100, each 0.3 s after the one before: 3.3 calls a
    # second, so three processes at once stay under the account's 10
    assert local_hub.import_calls() == [100, 100, 50]
    assert delivery.imported == 250
    assert [s for s in clock.slept if s > 0] == pytest.approx([0.3, 0.3])


# --------------------------------------------------------------------------- grants


def test_every_call_of_an_event_with_security_hub_is_granted_by_the_template(
    hub: LocalStack,
) -> None:
    # Given a set to move and a receipts set (audit rule) on the marketing pool
    seed.create_set("mkt-weekly", pool="transactional")
    seed.create_set("tx-receipts", pool="marketing")

    # When their changes arrive, then tx-receipts is deleted, every request recorded
    # (moto checks no policy: a call the template does not grant fails only in AWS)
    with granted.recording() as calls:
        assert invoke(changed("mkt-weekly"), changed("tx-receipts")) == {"batchItemFailures": []}
        seed.sesv2().delete_configuration_set(ConfigurationSetName="tx-receipts")
        invoke(event("delete_configuration_set.json", "tx-receipts"))
    assert findings()["tx-receipts"]["RecordState"] == "ARCHIVED"

    # Then the event function's role, as deployed with SecurityHub=enabled, grants each
    # call: the finding opened and closed among them
    assert {"securityhub:BatchImportFindings", "ses:PutConfigurationSetDeliveryOptions"} <= (
        calls.own.actions
    )
    assert not granted.refused(calls.own, "EventFunctionRole", {"HasSecurityHub"}, hub)


def test_every_call_of_a_sweep_with_security_hub_is_granted_by_the_template(
    hub: LocalStack,
) -> None:
    # Given a set to move, a receipts set (audit rule) on the marketing pool, and a
    # finding open for a set that has vanished without an event
    seed.create_set("mkt-weekly", pool="transactional")
    seed.create_set("tx-receipts", pool="marketing")
    seed.create_set("tx-vanished", pool="marketing")
    invoke(changed("tx-vanished"))
    seed.sesv2().delete_configuration_set(ConfigurationSetName="tx-vanished")

    # When a sweep runs, every request recorded
    with granted.recording() as calls:
        run_sweep()
    assert findings()["tx-receipts"]["RecordState"] == "ACTIVE"
    assert findings()["tx-vanished"]["RecordState"] == "ARCHIVED"

    # Then the sweep function's role, as deployed with SecurityHub=enabled, grants each
    # call: the findings imported, and the open ones read at the finish
    assert {"securityhub:BatchImportFindings", "securityhub:GetFindings"} <= calls.own.actions
    assert "ses:ListConfigurationSets" in calls.own.actions  # (the warm process forgotten)
    assert not granted.refused(calls.own, "SweepFunctionRole", {"HasSecurityHub"}, hub)


# --------------------------------------------------------------------------- not enabled


@pytest.mark.parametrize("answer", ["InvalidAccessException", "InvalidAccess in FailedFindings"])
def test_an_account_without_security_hub_gets_one_alert_and_enforcement_goes_on(
    account: LocalStack, answer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given Security Hub not enabled in the account (answering as the parameter says)
    local_hub.answer_not_enabled_in_failed_findings(answer != "InvalidAccessException")
    seed.create_set("mkt-weekly", pool="transactional")
    seed.create_set("tx-receipts", pool="marketing")
    seed.create_set("tx-refunds", pool="marketing")

    # When events find a set to move and a violation, then another violation
    first = invoke(changed("mkt-weekly"), changed("tx-receipts"))
    second = invoke(changed("tx-refunds"))

    # Then enforcement went on: the set was moved, every outcome alerted, nothing retried
    assert first == second == {"batchItemFailures": []}
    assert ses_writes() == 1
    alerts = received_alerts(account)
    outcomes = sorted(
        a["alert"].get("outcome") for a in alerts if "configuration_set" in a["alert"]
    )
    assert outcomes == ["remediated", "violation", "violation"]
    # And one clear error alert about Security Hub, not one per set or per event
    [alert] = hub_alerts(alerts)
    assert alert["attributes"]["outcome"] == "error"
    assert "Security Hub not enabled" in alert["subject"]
    assert alert["alert"]["account"] == ACCOUNT and alert["alert"]["region"] == "us-east-1"
    assert metrics_emitted(capsys.readouterr().out)["SecurityHubNotEnabled"] == [1.0]

    # When a sweep runs in the same process within the hour
    finished = run_sweep().output

    # Then its report notes it, no further alert is sent, and no findings were imported
    later = received_alerts(account)
    [report] = [a for a in later if a["attributes"].get("outcome") == "report"]
    [note] = report["alert"]["notes"]
    assert note.startswith(f"Security Hub is not enabled in account {ACCOUNT}, region us-east-1")
    assert finished["security_hub"]["not_enabled"] is True
    assert hub_alerts(later) == []
    assert local_hub.import_calls() == []


def test_with_security_hub_disabled_nothing_calls_it(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment with the default SecurityHub=disabled, in an account that has it
    boto3.client("securityhub").enable_security_hub()
    marketing_account()
    seed.create_set("tx-receipts", pool="marketing")
    seed.create_set("mkt-weekly", pool="transactional")

    # When events and a sweep find a violation and a set to move
    invoke(changed("tx-receipts"), changed("mkt-weekly"))
    finished = run_sweep().output

    # Then Security Hub is never called
    assert get_runtime().findings is None
    assert local_hub.import_calls() == [] and local_hub.read_calls() == 0
    assert "security_hub" not in finished
    assert findings() == {}
