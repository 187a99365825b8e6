"""Organization mode past INLINE_LANES: the lanes listed in S3, each lane a child execution
of the sweep's Distributed Map (read with ItemReader, results written with ResultWriter),
the organization report paged from the result files and written to S3 as JSON, CSV and
HTML, its SNS summary within SNS's limits."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import boto3
import pytest

from functions.sweep import app
from local_aws import sfn
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer import lanes
from tests import granted
from tests.integration.test_org_sweep import REGIONS, LaneCrashed, pools
from tests.integration.test_org_sweep import org as org

S3 = boto3.client


@pytest.fixture
def distributed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an organization past the inline Map's lanes (7 here: the hub's and six members')
    monkeypatch.setattr(lanes, "INLINE_LANES", 2)


def s3_json(bucket: str, key: str) -> Any:
    return json.loads(
        S3("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
    )


def s3_text(uri: str) -> str:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = S3("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"]
    return str(body.read().decode())


def test_lanes_past_the_inline_map_run_on_the_distributed_map_and_are_reported(
    org: dict[str, str], stack: LocalStack, distributed: None
) -> None:
    # When the scheduled sweep runs
    execution = sfn.run_sweep(app.handler, {"trigger": "schedule"})

    # Then it succeeds through the Distributed Map, its lanes read from S3
    assert execution.status == "SUCCEEDED", execution.cause
    assert "Each lane, distributed" in execution.states and "Each lane" not in execution.states
    listed = next(
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in execution.history
        if e.get("stateExitedEventDetails", {}).get("name") == "Lanes"
    )
    assert "lanes" not in listed and listed["lane_count"] == 7
    where = listed["lanes_at"]
    assert where["bucket"] == stack.report_bucket
    assert len(s3_json(where["bucket"], where["key"])) == 7
    # And every good lane is enforced; the broken member is untouched
    for name in ("shop", "news"):
        for region in REGIONS:
            names = [f"mkt-{name}-{n}" for n in range(3)]
            assert pools(org[name], region, names) == ["marketing"] * 3
    assert (
        pools(org["broken"], "eu-west-1", [f"mkt-broken-{n}" for n in range(3)])
        == ["transactional"] * 3
    )
    # And each lane was a child with a history of its own; the parent's stays small
    [run] = [
        r
        for r in sfn.map_runs()
        if r.arn.startswith(execution.arn.replace(":execution:", ":mapRun:").rsplit(":", 1)[0])
    ]
    assert len(run.children) == 7 and all(c.status == "SUCCEEDED" for c in run.children)
    assert 0 < run.largest_history < 100 and len(execution.history) < 40
    # And the results are where the ResultWriter put them, as AWS lays them out
    output = execution.output
    assert output["lanes"] == 7 and output["unreachable"] == 2 and output["failed"] == 0
    assert "accounts" not in output
    report = output["organization_report"]
    document = json.loads(s3_text(report["json_uri"]))
    assert document["lanes"] == 7 and document["lanes_not_swept"] == 2
    assert set(document["accounts"]) == {"123456789012", *org.values()}
    assert next(iter(document["accounts"])) == org["broken"]  # the worst account first
    rows = list(csv.DictReader(io.StringIO(s3_text(report["csv_uri"]))))
    assert len(rows) == 7
    assert {r["status"] for r in rows if r["account"] == org["broken"]} == {"unreachable"}
    assert '<table id="lanes"' in s3_text(report["html_uri"])
    # And one organization report on SNS, which links the full report
    [alert] = [a for a in received_alerts(stack) if a["alert"].get("kind") == "organization-report"]
    assert alert["alert"]["report"] == report
    assert "2 lanes not swept" in alert["subject"]
    assert set(alert["alert"]["accounts"]) == set(document["accounts"])


def test_every_call_of_a_distributed_sweep_is_granted_by_the_templates(
    org: dict[str, str], stack: LocalStack, distributed: None
) -> None:
    # When the organization's sweep runs on the Distributed Map, every request recorded
    with granted.recording() as calls:
        execution = sfn.run_sweep(app.handler, {"trigger": "schedule"})
    assert execution.status == "SUCCEEDED", execution.cause

    # Then the sweep function's role grants what it adds: the lanes written to S3, the
    # lanes' results read back, the organization report written
    assert {"s3:PutObject", "s3:GetObject"} <= calls.own.actions
    assert not granted.refused(calls.own, "SweepFunctionRole", {"IsHub"}, stack)


def test_a_lane_that_fails_on_the_distributed_map_is_reported_and_the_others_are_swept(
    org: dict[str, str], stack: LocalStack, distributed: None
) -> None:
    shop = {"account": org["shop"], "region": "eu-west-1"}

    def handler(payload: dict[str, Any], context: Any) -> dict[str, Any]:
        lane = (payload.get("sweep") or {}).get("lane")
        if (
            payload["action"] == "step"
            and lane
            and (lane["account"], lane["region"])
            == (
                shop["account"],
                shop["region"],
            )
        ):
            raise LaneCrashed("shop's eu-west-1 step died")
        result: dict[str, Any] = app.handler(payload, context)
        return result

    # When one member lane's steps keep failing
    execution = sfn.run_sweep(handler, {"trigger": "schedule"})

    # Then every other lane was swept, and the execution fails with that lane's error
    assert execution.status == "FAILED"
    assert execution.error == "LaneCrashed" and "eu-west-1 step died" in (execution.cause or "")
    assert pools(org["news"], "eu-west-1", [f"mkt-news-{n}" for n in range(3)]) == ["marketing"] * 3
    assert (
        pools(org["shop"], "eu-west-1", [f"mkt-shop-{n}" for n in range(3)])
        == ["transactional"] * 3
    )
    # And the organization report names the lane as failed, with its error
    [alert] = [a for a in received_alerts(stack) if a["alert"].get("kind") == "organization-report"]
    region = alert["alert"]["accounts"][org["shop"]]["regions"]["eu-west-1"]
    assert region["status"] == "failed" and "LaneCrashed" in region["reason"]
    assert "3 lanes not swept" in alert["subject"]  # and broken's two, unreachable
