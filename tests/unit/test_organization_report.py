"""The organization report at thousands of accounts, pure: one line a lane, summed per
account, the worst accounts first; its SNS summary fits one message (256 KB) with a
subject under 100 characters and links to the full report; its JSON, CSV and HTML hold
every lane; a Distributed Map's results file is read one execution at a time."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest

from local_aws.sfn import Child
from ses_pool_enforcer.adapters.alerts import SUBJECT_LIMIT
from ses_pool_enforcer.adapters.reports import json_array
from ses_pool_enforcer.lanes import lane_result
from ses_pool_enforcer.organization import (
    OrganizationReport,
    fit_summary,
    lane_of,
    to_csv,
    to_html,
    to_json,
)
from ses_pool_enforcer.report import SNS_MESSAGE_LIMIT, envelope_bytes

HOME = ("123456789012", "us-east-1")
REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "eu-central-1")
LINKS = {
    "json_uri": "s3://reports/reports/2026-12-06/organization-x.json",
    "csv_uri": "s3://reports/reports/2026-12-06/organization-x.csv",
    "html_uri": "s3://reports/reports/2026-12-06/organization-x.html",
}


def swept(account: str, region: str, managed: int, compliant: int) -> dict[str, Any]:
    """A lane's result as its Finish answers it."""
    counts = {"compliant": compliant, "violation": managed - compliant, "unmanaged": 1}
    return {
        "status": "finished",
        "lane": {"account": account, "region": region, "name": f"name-of-{account}"},
        "report": {
            "total": managed + 1,
            "managed": managed,
            "compliance_ratio": compliant / managed if managed else None,
            "counts": counts,
        },
        "report_uri": f"s3://reports/reports/2026-12-06/{account}-{region}.json",
    }


def organization(accounts: int) -> OrganizationReport:
    """``accounts`` x 4 regions: every account 100 sets a lane, account n compliant at
    (n % 100) %; account 7 unreachable everywhere; account 11 failed in one region."""
    report = OrganizationReport("arn:aws:states:us-east-1:1:execution:sweep:x", "2026-12-06T20:00")
    for n in range(accounts):
        account = f"{100000000000 + n}"
        for region in REGIONS:
            if n == 7:
                result: dict[str, Any] = {
                    "status": "unreachable",
                    "lane": {"account": account, "region": region, "name": "broken"},
                    "reason": "AccessDenied",
                }
            elif n == 11 and region == "eu-west-1":
                result = {
                    "status": "failed",
                    "lane": {"account": account, "region": region, "name": "crashed"},
                    "error": {"Error": "LaneCrashed", "Cause": "boom"},
                }
            else:
                result = swept(account, region, 100, 100 - (n % 100))
            report.add(lane_of(result, HOME))
    return report


def test_the_summary_of_a_thousand_accounts_fits_one_message_worst_first_with_links() -> None:
    # Given 1,000 accounts in 4 regions (4,000 lanes)
    report = organization(1_000)

    # When its SNS summary is made
    summary = fit_summary(report, LINKS)

    # Then it fits one SNS message, and its subject SNS's limit
    assert envelope_bytes(summary) <= SNS_MESSAGE_LIMIT
    assert len(summary.title) <= SUBJECT_LIMIT
    assert "5 lanes not swept" in summary.title and "1000 accounts" in summary.title
    # And it lists the worst accounts first: the unreachable one, the failed one, then by
    # compliance ratio, lowest first; the rest are counted, the full report linked
    listed = list(summary.document["accounts"])
    assert listed[:2] == ["100000000007", "100000000011"]
    ratios = [summary.document["accounts"][a]["compliance_ratio"] for a in listed[2:]]
    assert ratios == sorted(ratios) and ratios[0] == pytest.approx(0.01)
    assert 0 < len(listed) < 1_000
    assert summary.document["accounts_not_listed"] == 1_000 - len(listed)
    assert summary.document["report"] == LINKS
    assert LINKS["html_uri"] in summary.text
    assert summary.text.index("100000000007") < summary.text.index("100000000011")


def test_a_small_organization_is_summarised_whole() -> None:
    report = organization(12)
    summary = fit_summary(report, LINKS)
    assert len(summary.document["accounts"]) == 12
    assert summary.document["accounts_not_listed"] == 0
    assert summary.document["lanes"] == 48 and summary.document["lanes_not_swept"] == 5


def test_the_full_report_holds_every_lane_as_json_csv_and_html() -> None:
    report = organization(1_000)

    document = json.loads(to_json(report))
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    html = to_html(report)

    assert document["lanes"] == 4_000 and len(document["accounts"]) == 1_000
    assert next(iter(document["accounts"])) == "100000000007"
    assert len(rows) == 4_000 and rows[0]["account"] == "100000000007"
    assert {r["status"] for r in rows} == {"swept", "unreachable", "failed"}
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["reason"] == "LaneCrashed: boom"
    assert html.count("<tr class=") == 4_000


def test_an_account_s_ratio_weighs_its_regions_by_their_managed_sets() -> None:
    report = OrganizationReport("x", "2026-12-06T20:00")
    report.add(lane_of(swept("1", "us-east-1", 300, 300), HOME))
    report.add(lane_of(swept("1", "eu-west-1", 100, 0), HOME))
    assert report.accounts["1"].compliance_ratio == pytest.approx(0.75)
    assert report.compliance_ratio == pytest.approx(0.75)


def test_a_results_file_is_read_one_execution_at_a_time_whatever_the_chunks() -> None:
    # Given a ResultWriter file (a JSON array of executions, some text not ASCII)
    records = [
        {"Status": "SUCCEEDED", "Output": json.dumps({"lane": {"name": f"é-{n}"}, "n": n})}
        for n in range(50)
    ]
    text = json.dumps(records, ensure_ascii=False, indent=1).encode()

    # When it arrives in chunks of any size, split anywhere (inside a UTF-8 character too)
    for size in (1, 2, 3, 7, 64, 1 << 20):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]

        # Then every execution comes out whole, in order
        assert list(json_array(chunks)) == records


@pytest.mark.parametrize("text", [b'{"a": 1}', b"[1, 2]", b'[{"a": 1}'])
def test_a_results_file_that_is_not_an_array_of_objects_is_refused(text: bytes) -> None:
    with pytest.raises(ValueError, match="results file"):
        list(json_array([text]))


def test_a_child_that_failed_is_a_failed_lane_named_by_its_input() -> None:
    # Given the record a ResultWriter writes for a child execution that failed (one that
    # was stopped, or timed out: its own Catch could not end it)
    lane = {"account": "100000000011", "region": "eu-west-1", "name": "crashed"}
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    child = Child(3, {"lane": lane, "input": {}}, now, now, "FAILED", None, "States.Timeout", "")
    record = child.record(
        "arn:aws:states:us-east-1:1:mapRun:sweep/lanes:u",
        "arn:aws:states:us-east-1:1:stateMachine:sweep/lanes",
    )

    # When the summary reads it
    result = lane_result(record)

    # Then it is that lane, failed, with the child's error
    assert result["status"] == "failed" and result["lane"] == lane
    assert result["error"]["Error"] == "States.Timeout"
    line = lane_of(result, HOME)
    assert (line.account, line.region, line.status) == (lane["account"], "eu-west-1", "failed")
