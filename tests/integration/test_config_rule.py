"""Issue 11: the AWS Config custom rule's function on local AWS: it reads the inventory
(no SES call), and reports every set to Config with the invocation's result token, in
batches of at most 100."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.config_rule import app
from local_aws import call_counts, seed
from local_aws import config as local_config
from local_aws.replay import LambdaContext
from local_aws.stack import LocalStack
from ses_pool_enforcer.model import Outcome
from tests import granted

EVENT = Path(__file__).resolve().parents[2] / "events" / "config_rule_scheduled_notification.json"
RULE = "ses-pool-enforcer-pool-policy"
CHECKED = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)


def invocation(rule: str = RULE) -> dict[str, Any]:
    """What Config sends the rule's function: the sample event, with a token it issued."""
    event: dict[str, Any] = copy.deepcopy(json.loads(EVENT.read_text()))
    event["resultToken"] = local_config.issue_result_token(rule)
    return event


def record(
    stack: LocalStack,
    name: str,
    outcome: Outcome,
    reason: str = "why",
    pool: str = "marketing",
    checked: dt.datetime = CHECKED,
) -> None:
    """An inventory entry as the enforcer leaves it."""
    seed.inventory_entry(
        stack.inventory_table,
        name,
        outcome=outcome.value,
        current_pool=pool,
        expected_pool=pool,
        rule_id="marketing",
        reason=reason,
        checked_at=checked.isoformat(),
    )


def evaluations(rule: str = RULE) -> dict[str, dict[str, Any]]:
    """What Config now holds for the rule, by set name."""
    config, found, token = boto3.client("config"), {}, None
    while True:
        page = config.get_compliance_details_by_config_rule(
            ConfigRuleName=rule, **({"NextToken": token} if token else {})
        )
        for result in page["EvaluationResults"]:
            qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            assert qualifier["ResourceType"] == "AWS::SES::ConfigurationSet"
            found[qualifier["ResourceId"]] = result
        token = page.get("NextToken")
        if not token:
            return found


def test_every_set_in_the_inventory_is_reported_to_config(stack: LocalStack) -> None:
    # Given one set of each outcome in the inventory
    for outcome in Outcome:
        if outcome is not Outcome.DELETED:
            record(stack, f"set-{outcome.value}", outcome, f"{outcome.value} because")
    ses_calls_before = sum(call_counts().values())

    # When Config invokes the rule's function
    result = app.handler(invocation(), LambdaContext())

    # Then Config holds one evaluation per set, by name, with the documented compliance
    found = evaluations()
    assert {name: r["ComplianceType"] for name, r in found.items()} == {
        "set-compliant": "COMPLIANT", "set-remediated": "COMPLIANT", "set-exempt": "COMPLIANT",
        "set-violation": "NON_COMPLIANT", "set-error": "NON_COMPLIANT",
        "set-flapping": "NON_COMPLIANT", "set-unmanaged": "NOT_APPLICABLE",
    }  # fmt: skip
    # And each says why, dated by when the enforcer checked the set
    violation = found["set-violation"]
    assert violation["Annotation"] == "violation: violation because"
    ordering = violation["EvaluationResultIdentifier"]["OrderingTimestamp"]
    assert ordering == CHECKED
    # And it took one call, and no SES call at all
    assert local_config.put_evaluation_calls() == [7]
    assert sum(call_counts().values()) == ses_calls_before
    assert result == {
        "evaluated": 7,
        "calls": 1,
        "counts": {"COMPLIANT": 3, "NON_COMPLIANT": 3, "NOT_APPLICABLE": 1},
        "failed": 0,
    }


def test_every_call_of_the_rule_function_is_granted_by_the_template(stack: LocalStack) -> None:
    # Given a set in the inventory
    record(stack, "mkt-weekly", Outcome.VIOLATION)

    # When Config invokes the rule's function, every request recorded (moto checks no
    # policy: a call the template does not grant fails only in AWS)
    with granted.recording() as calls:
        app.handler(invocation(), LambdaContext())
    assert list(evaluations()) == ["mkt-weekly"]

    # Then the rule function's role grants each call: the inventory's scan and the
    # evaluations delivered
    assert {"dynamodb:Scan", "config:PutEvaluations"} <= calls.own.actions
    assert not granted.refused(calls.own, "ConfigRuleFunctionRole", set(), stack)


def test_more_than_100_sets_go_in_batches_of_at_most_100(stack: LocalStack) -> None:
    # Given 250 sets in the inventory, every tenth of them in violation
    for i in range(250):
        record(stack, f"set-{i:03d}", Outcome.VIOLATION if i % 10 == 0 else Outcome.COMPLIANT)

    # When the rule runs
    result = app.handler(invocation(), LambdaContext())

    # Then three calls carried all 250, none over Config's limit of 100
    assert local_config.put_evaluation_calls() == [100, 100, 50]
    found = evaluations()
    assert len(found) == 250 == result["evaluated"]
    assert sum(r["ComplianceType"] == "NON_COMPLIANT" for r in found.values()) == 25


def test_a_later_run_updates_what_config_holds(stack: LocalStack) -> None:
    # Given a run that found a violation
    record(stack, "tx-reset", Outcome.VIOLATION)
    app.handler(invocation(), LambdaContext())

    # When the enforcer later finds it remediated, and the rule runs again
    record(
        stack,
        "tx-reset",
        Outcome.REMEDIATED,
        "moved",
        "transactional",
        CHECKED + dt.timedelta(days=1),
    )
    app.handler(invocation(), LambdaContext())

    # Then Config holds the set as compliant
    assert evaluations()["tx-reset"]["ComplianceType"] == "COMPLIANT"


def test_an_empty_inventory_still_completes_the_run(stack: LocalStack) -> None:
    result = app.handler(invocation(), LambdaContext())
    assert local_config.put_evaluation_calls() == [0]
    assert result["evaluated"] == 0 and evaluations() == {}


def test_without_an_inventory_table_the_run_fails_with_the_reason(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ses_pool_enforcer.config import SettingsError, get_settings

    monkeypatch.delenv("INVENTORY_TABLE")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="INVENTORY_TABLE is not set"):
        app.handler(invocation(), LambdaContext())
