"""Issue 12: the report bucket holds the identities' CSV beside the sweep's JSON, CSV and
HTML, where the report has identities, and nothing more where it has none."""

from __future__ import annotations

import csv
import io
import json

import boto3

from local_aws.stack import LocalStack
from ses_pool_enforcer.adapters.reports import ReportStore
from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.report import IdentityEntry, Report, build_report, fit_summary
from tests.report_page import NOW, entry, identity

SWEEP = "20261126T153000Z-abcdef12"


def report_of(identities: list[IdentityEntry] | None) -> Report:
    return build_report(
        [entry("mkt-a", Outcome.COMPLIANT), entry("tx-a", Outcome.VIOLATION)],
        sweep_id=SWEEP,
        trigger="schedule",
        started_at=NOW.isoformat(),
        finished_at=NOW.isoformat(),
        policy_version="7",
        identities=identities,
    )


def stored(bucket: str) -> dict[str, dict[str, str]]:
    """Every object in the bucket: its content type, encryption and body."""
    s3 = boto3.client("s3", region_name="us-east-1")
    objects = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        got = s3.get_object(Bucket=bucket, Key=item["Key"])
        objects[item["Key"]] = {
            "type": got["ContentType"],
            "encryption": got.get("ServerSideEncryption", ""),
            "body": got["Body"].read().decode(),
        }
    return objects


def test_a_report_with_identities_stores_their_csv_beside_the_others_and_links_it(
    stack: LocalStack,
) -> None:
    # Given a report with two identities, one on a set in violation
    report = report_of(
        [
            identity("news.example.com", Outcome.COMPLIANT, default="tx-a"),
            identity("b@news.example.com", Outcome.VIOLATION, default=None),
        ]
    )

    # When it is stored and summarised as the sweep does
    links = ReportStore(stack.report_bucket).store(report)
    summary = fit_summary(report, links)

    # Then the identities' CSV lies beside the three others, encrypted, typed as CSV
    objects = stored(stack.report_bucket)
    day = "reports/2026-11-26"
    assert sorted(objects) == [
        f"{day}/{SWEEP}-identities.csv",
        f"{day}/{SWEEP}.csv",
        f"{day}/{SWEEP}.html",
        f"{day}/{SWEEP}.json",
    ]
    identities = objects[f"{day}/{SWEEP}-identities.csv"]
    assert identities["type"] == "text/csv; charset=utf-8"
    assert identities["encryption"] == "AES256"
    rows = list(csv.DictReader(io.StringIO(identities["body"])))
    assert [(r["identity"], r["outcome"], r["policy_version"]) for r in rows] == [
        ("b@news.example.com", "violation", "7"),
        ("news.example.com", "compliant", "7"),
    ]
    # And the JSON holds them too, and the summary links their CSV
    assert json.loads(objects[f"{day}/{SWEEP}.json"]["body"])["identities"]["total"] == 2
    assert links.identities_csv_uri == f"s3://{stack.report_bucket}/{day}/{SWEEP}-identities.csv"
    assert links.identities_csv_console_url is not None
    assert "-identities.csv" in links.identities_csv_console_url
    assert links.identities_csv_uri in summary.text
    assert summary.document["report"]["identities_csv_uri"] == links.identities_csv_uri


def test_a_report_without_identities_stores_the_three_files_it_always_did(
    stack: LocalStack,
) -> None:
    # Given a deployment that does not look at identities
    report = report_of(None)

    # When its report is stored
    links = ReportStore(stack.report_bucket).store(report)

    # Then there is no identities file, and no link to one
    assert sorted(stored(stack.report_bucket)) == [
        f"reports/2026-11-26/{SWEEP}.{extension}" for extension in ("csv", "html", "json")
    ]
    assert links.identities_csv_uri is None and links.identities_csv_console_url is None
