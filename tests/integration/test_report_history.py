"""Issue 11: the sweep's HTML report beside the JSON and CSV, and the trend it draws
from the history of earlier sweeps kept in the state table, on local AWS."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from functions.sweep import app
from local_aws import seed, sfn
from local_aws.replay import LambdaContext
from local_aws.sfn import Execution
from local_aws.stack import LocalStack, received_alerts
from ses_pool_enforcer.adapters.history import HISTORY_ID, HistoryPoint, ReportHistory
from ses_pool_enforcer.adapters.state import StateTable
from tests.conftest import reset_process_caches
from tests.report_page import Page
from tests.support import marketing_account


def invoke(payload: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = app.handler(payload, LambdaContext())
    return result


def run_sweep(trigger: str = "manual") -> Execution:
    return sfn.run_sweep(app.handler, {"trigger": trigger})


def s3_get(uri: str) -> dict[str, Any]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    answer: dict[str, Any] = boto3.client("s3").get_object(Bucket=bucket, Key=key)
    answer["Text"] = answer["Body"].read().decode()
    return answer


def report_messages(stack: LocalStack) -> list[dict[str, Any]]:
    return [a["alert"] for a in received_alerts(stack) if a["attributes"]["outcome"] == "report"]


@pytest.fixture
def account(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    # Given two pools, the marketing policy (receipts audited), and four sets: one
    # compliant, one to move, one audited violation, one unmanaged
    monkeypatch.setenv("SES_CALLS_PER_SECOND", "50")
    reset_process_caches()
    marketing_account()
    seed.create_set("mkt-ok", pool="marketing")
    seed.create_set("mkt-moved", pool="transactional")
    seed.create_set("tx-wrong", pool="marketing")
    seed.create_set("misc", pool="marketing")
    return stack


def test_the_sweep_stores_an_html_page_beside_the_json_and_csv_and_links_it(
    account: LocalStack,
) -> None:
    # When a sweep runs
    execution = run_sweep("schedule")

    # Then the page is stored beside the JSON, as HTML, and the summary links it
    assert execution.status == "SUCCEEDED", execution.cause
    [summary] = report_messages(account)
    links = summary["report"]
    assert links["html_uri"] == links["json_uri"].removesuffix(".json") + ".html"
    assert links["html_console_url"].startswith("https://s3.console.aws.amazon.com/s3/object/")
    stored = s3_get(links["html_uri"])
    assert stored["ContentType"] == "text/html; charset=utf-8"
    assert stored["ServerSideEncryption"] == "AES256"
    # And its charts hold the sweep's counts, and its table the one non-compliant set
    page = Page(stored["Text"])
    counts = {o: n for o, n in summary["counts"].items() if n}
    assert counts == {"compliant": 1, "remediated": 1, "violation": 1, "unmanaged": 1}
    assert page.charts["by-outcome"] == {o: {o: n} for o, n in counts.items()}
    assert page.charts["by-rule"]["receipts"] == {"violation": 1}
    assert [row[0] for row in page.rows] == ["tx-wrong"]
    assert page.texts["ratio"] == "66.67%"
    # And, the first sweep on record, it says the trend starts here
    assert "No earlier sweep is recorded yet" in page.texts["trend-note"]


def test_each_sweep_adds_one_point_and_the_next_report_draws_the_trend(
    account: LocalStack,
) -> None:
    # Given a first sweep
    first = run_sweep("schedule")
    report_messages(account)
    # And a set moved back to the wrong pool behind the enforcer's back (no event)
    seed.set_pool("mkt-ok", "transactional")

    # When a second sweep runs
    second = run_sweep("manual")

    # Then the history holds both sweeps, oldest first, with their ratios and counts
    history = ReportHistory(account.state_table).points()
    assert [p.sweep_id for p in history] == [
        first.output["sweep_id"],
        second.output["sweep_id"],
    ]
    assert [p.compliance_ratio for p in history] == [pytest.approx(2 / 3)] * 2
    assert history[1].counts["remediated"] == 1 and history[1].counts["compliant"] == 1
    # And the second report's JSON, summary and page carry the first as the trend
    [summary] = report_messages(account)
    full = json.loads(s3_get(summary["report"]["json_uri"])["Text"])
    assert [p["sweep_id"] for p in full["trend"]] == [first.output["sweep_id"]]
    page = s3_get(summary["report"]["html_uri"])["Text"]
    assert f'data-sweep="{first.output["sweep_id"]}"' in page
    assert "This sweep and the 1 before it." in page


def test_a_retried_finish_records_its_sweep_once(
    account: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a finish that dies after reporting, before it lets go of the checkpoint
    delete = StateTable.delete_checkpoint
    failures = [1]

    def dies_once(self: StateTable, sweep_id: str) -> None:
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("the invocation died after the report")
        delete(self, sweep_id)

    monkeypatch.setattr(StateTable, "delete_checkpoint", dies_once)

    # When the sweep runs and the state machine retries the finish
    execution = run_sweep()

    # Then the sweep succeeded, the finish reported twice, and the history has it once
    assert execution.status == "SUCCEEDED", execution.cause
    assert failures == [0]
    assert len(report_messages(account)) == 2
    assert [p.sweep_id for p in ReportHistory(account.state_table).points()] == [
        execution.output["sweep_id"]
    ]


def test_the_history_keeps_the_newest_30_sweeps_in_one_item(stack: LocalStack) -> None:
    # Given 35 sweeps recorded one after the other, each twice
    history = ReportHistory(stack.state_table)
    for i in range(35):
        point = HistoryPoint(f"sweep-{i:02d}", f"2026-11-{i % 28 + 1:02d}", i / 35, {"error": i})
        assert history.record(point) is True
        assert history.record(point) is False

    # Then the newest 30 are kept, oldest first, each once, in one item
    points = history.points()
    assert [p.sweep_id for p in points] == [f"sweep-{i:02d}" for i in range(5, 35)]
    assert points[-1] == HistoryPoint("sweep-34", "2026-11-07", 34 / 35, {"error": 34})
    assert history.trend(excluding="sweep-34")[-1].sweep_id == "sweep-33"
    item = boto3.client("dynamodb").get_item(
        TableName=stack.state_table, Key={"id": {"S": HISTORY_ID}}
    )["Item"]
    assert item["revision"] == {"N": "35"}


def test_a_point_without_a_ratio_or_version_reads_back_as_it_was(stack: LocalStack) -> None:
    # Given a sweep that managed no set, and one judged under a known policy version
    history = ReportHistory(stack.state_table)
    history.record(HistoryPoint("empty", "2026-11-01", None, {}))
    history.record(HistoryPoint("v7", "2026-11-02", 1.0, {"compliant": 3}, "7"))

    # Then both read back unchanged
    assert history.points() == [
        HistoryPoint("empty", "2026-11-01", None, {}),
        HistoryPoint("v7", "2026-11-02", 1.0, {"compliant": 3}, "7"),
    ]
