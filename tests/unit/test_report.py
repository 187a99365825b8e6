"""Issue 3: the compliance report, pure: counts, the ratio, the full JSON and CSV, and a
summary that fits one SNS message whatever the account's size."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.report import (
    NO_POOL,
    NO_RULE,
    RATIO_DEFINITION,
    SNS_BUDGET,
    SNS_MESSAGE_LIMIT,
    Entry,
    Links,
    Report,
    build_report,
    envelope_bytes,
    fit_summary,
    render_summary,
    to_csv,
    to_json,
)
from ses_pool_enforcer.report_html import to_html
from tests.report_page import entry

NOW = dt.datetime(2026, 11, 26, 15, 30, tzinfo=dt.UTC)
LINKS = Links(
    json_uri="s3://reports-bucket/reports/2026-11-26/sweep-1.json",
    csv_uri="s3://reports-bucket/reports/2026-11-26/sweep-1.csv",
    json_console_url="https://s3.console.aws.amazon.com/s3/object/reports-bucket?prefix=a.json",
    csv_console_url="https://s3.console.aws.amazon.com/s3/object/reports-bucket?prefix=a.csv",
)


def report_of(entries: list[Entry]) -> Report:
    return build_report(
        entries,
        sweep_id="sweep-1",
        trigger="schedule",
        started_at="2026-11-26T12:00:00+00:00",
        finished_at=NOW.isoformat(),
    )


def sns_envelope(text: str, document: dict[str, object]) -> int:
    """The size of the publish the alert adapter makes (MessageStructure=json)."""
    body = json.dumps(document, default=str, sort_keys=True)
    message = {"default": text, "email": text, "email-json": body, "sqs": body,
               "lambda": body, "http": body, "https": body}  # fmt: skip
    return len(json.dumps(message).encode())


MIXED = [
    entry("mkt-a", Outcome.COMPLIANT),
    entry("mkt-b", Outcome.REMEDIATED, current="marketing"),
    entry("tx-a", Outcome.VIOLATION, "receipts", "transactional"),
    entry("legacy-a", Outcome.EXEMPT, None, None, "transactional"),
    entry("misc-a", Outcome.UNMANAGED, None, None),
    entry("list-a", Outcome.ERROR, "lists", "lists", "ses-default-dedicated-pool"),
    entry("mkt-c", Outcome.FLAPPING),
]


def test_counts_per_outcome_rule_and_pool() -> None:
    # Given one set of each outcome
    # When the report is built
    report = report_of(MIXED)

    # Then every outcome is counted, zero or not, deleted sets never
    assert report.counts == {
        "compliant": 1, "remediated": 1, "violation": 1, "exempt": 1,
        "unmanaged": 1, "error": 1, "flapping": 1,
    }  # fmt: skip
    assert report.total == 7
    # And per rule and per required pool, each row says how many sets and of what outcome
    assert report.by_rule["marketing"] == {
        "sets": 3, "compliant": 1, "remediated": 1, "flapping": 1,
    }  # fmt: skip
    assert report.by_rule[NO_RULE] == {"sets": 2, "exempt": 1, "unmanaged": 1}
    assert report.by_pool["transactional"] == {"sets": 1, "violation": 1}
    assert report.by_pool[NO_POOL] == {"sets": 2, "exempt": 1, "unmanaged": 1}
    assert report.by_current_pool == {
        "marketing": 5, "ses-default-dedicated-pool": 1, "transactional": 1,
    }  # fmt: skip
    # And entries are in name order, the non-compliant by severity then name
    assert [e.configuration_set for e in report.entries] == sorted(
        e.configuration_set for e in MIXED
    )
    assert [e.configuration_set for e in report.non_compliant()] == ["list-a", "mkt-c", "tx-a"]


def test_the_compliance_ratio_counts_remediated_and_exempt_sets_and_ignores_unmanaged_ones() -> (
    None
):
    # Given one set of each outcome: 6 managed, 3 of them compliant, remediated or exempt
    report = report_of(MIXED)

    # Then the ratio is 3 / 6, as the documented definition says
    assert report.managed == 6 and report.compliant == 3
    assert report.compliance_ratio == 0.5
    assert "(compliant + remediated + exempt) / managed" in RATIO_DEFINITION
    summary = render_summary(report, LINKS)
    assert "Compliance:    50.00% (3 of 6 managed sets" in summary.text
    assert "Compliance ratio = (compliant + remediated + exempt) / managed" in summary.text
    assert summary.document["compliance_ratio_definition"] == RATIO_DEFINITION


def test_with_no_managed_set_the_ratio_is_undefined_not_perfect() -> None:
    # Given only unmanaged sets, and an empty account
    unmanaged = report_of([entry("misc-a", Outcome.UNMANAGED, None, None)])
    empty = report_of([])

    # Then the ratio is undefined and said to be so
    assert unmanaged.compliance_ratio is None and empty.compliance_ratio is None
    assert "compliance report: n/a compliant, 0 non-compliant" in render_summary(empty, None).title


def test_the_full_report_holds_every_set_as_json_and_csv() -> None:
    # Given a set whose reason has commas, quotes and a line break
    tricky = entry("mkt-z", Outcome.ERROR, reason='pool "x", missing,\nnot moved')
    report = report_of([*MIXED, tricky])

    # When the full report is rendered
    document = json.loads(to_json(report))
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))

    # Then both hold every set with every field, absent ones empty in the CSV
    assert len(document["sets"]) == len(rows) == 8
    assert document["counts"] == report.counts
    assert document["compliance_ratio_definition"] == RATIO_DEFINITION
    by_name = {row["configuration_set"]: row for row in rows}
    assert by_name["mkt-z"]["reason"] == 'pool "x", missing,\nnot moved'
    assert by_name["misc-a"]["rule_id"] == "" and by_name["misc-a"]["outcome"] == "unmanaged"
    assert by_name["mkt-a"]["checked_at"] == NOW.isoformat()
    # And it is stored under the day the sweep finished
    assert report.key("csv") == "reports/2026-11-26/sweep-1.csv"


def test_an_inventory_row_becomes_an_entry_whatever_it_lacks() -> None:
    # Given inventory rows as DynamoDB holds them: absent attributes are simply missing
    row = {"configuration_set": "misc-a", "outcome": "unmanaged", "checked_at": "t"}

    # Then the entry has nothing where the row had nothing
    assert Entry.from_row(row) == Entry("misc-a", "unmanaged", checked_at="t")


def test_a_small_report_lists_every_non_compliant_set_and_links_the_full_report() -> None:
    # Given a report with three non-compliant sets
    summary = fit_summary(report_of(MIXED), LINKS)

    # Then all three are listed, none left out, and the full report is linked
    assert summary.listed == 3 and summary.document["non_compliant_not_listed"] == 0
    assert "more: see the full report" not in summary.text
    assert "error      list-a: on ses-default-dedicated-pool, required lists" in summary.text
    assert LINKS.json_uri in summary.text and LINKS.csv_console_url in summary.text
    assert summary.document["report"]["json_uri"] == LINKS.json_uri
    assert summary.attributes == {"outcome": "report"}
    assert len(summary.title) < 100


def test_the_summary_of_10000_non_compliant_sets_fits_one_sns_message() -> None:
    # Given the worst case: 10,000 sets, all non-compliant, 64-character names, long reasons
    entries = [
        entry(
            f"{i:064d}",
            Outcome.VIOLATION if i % 2 else Outcome.ERROR,
            rule=f"rule-{i % 100:03d}-" + "r" * 50,
            expected="p" * 64,
            current="q" * 64,
            reason="x" * 400,
        )
        for i in range(10_000)
    ]
    report = report_of(entries)

    # When its summary is fitted
    summary = fit_summary(report, LINKS)

    # Then it fits one SNS message, as the alert adapter would send it, with room to spare
    assert envelope_bytes(summary) <= SNS_BUDGET
    assert sns_envelope(summary.text, summary.document) <= envelope_bytes(summary)
    assert envelope_bytes(summary) < SNS_MESSAGE_LIMIT
    # And it lists what it can and says how many more there are
    assert 0 < summary.listed < 10_000
    assert summary.document["non_compliant_not_listed"] == 10_000 - summary.listed
    assert f"... and {10_000 - summary.listed:,} more: see the full report" in summary.text
    assert summary.document["non_compliant_total"] == 10_000
    assert "compliance report: 0.00% compliant, 10,000 non-compliant" in summary.title


outcomes = st.sampled_from([o for o in Outcome if o is not Outcome.DELETED])
entries_strategy = st.lists(
    st.builds(
        entry,
        st.text("abcdefgh-", min_size=1, max_size=8),
        outcomes,
        st.sampled_from(["a", "b", None]),
        st.sampled_from(["marketing", "transactional", None]),
    ),
    max_size=60,
    unique_by=lambda e: e.configuration_set,
)


@settings(max_examples=60, deadline=None)
@given(entries_strategy)
def test_every_breakdown_adds_up_to_the_total(entries: list[Entry]) -> None:
    report = report_of(entries)

    assert sum(report.counts.values()) == report.total == len(entries)
    for table in (report.by_rule, report.by_pool):
        assert sum(row["sets"] for row in table.values()) == report.total
        for row in table.values():
            assert row["sets"] == sum(n for key, n in row.items() if key != "sets")
    assert sum(report.by_current_pool.values()) == report.total
    summary = fit_summary(report, LINKS)
    assert summary.listed == len(report.non_compliant()) == summary.document["non_compliant_total"]
    ratio = report.compliance_ratio
    assert ratio is None or 0.0 <= ratio <= 1.0


def test_the_policy_version_is_in_every_form_of_the_report() -> None:
    # Given a report judged under policy version 7, with two earlier sweeps
    report = build_report(
        MIXED,
        sweep_id="sweep-3",
        trigger="policy-change",
        started_at="2026-11-26T12:00:00+00:00",
        finished_at=NOW.isoformat(),
        policy_version="7",
        trend=[("sweep-1", "2026-11-24T12:00:00+00:00", 0.25), ("sweep-2", "x", None)],
    )

    # When it is rendered in full and as a summary
    document = json.loads(to_json(report))
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    summary = render_summary(report, LINKS)

    # Then each says which version judged the sets
    assert document["policy_version"] == "7" == summary.document["policy_version"]
    assert {row["policy_version"] for row in rows} == {"7"}
    assert "Judged under policy version 7." in summary.text
    # And the full JSON and the summary text carry the earlier sweeps, oldest first
    assert document["trend"] == [
        {
            "sweep_id": "sweep-1",
            "finished_at": "2026-11-24T12:00:00+00:00",
            "compliance_ratio": 0.25,
        },
        {"sweep_id": "sweep-2", "finished_at": "x", "compliance_ratio": None},
    ]
    assert "Earlier sweeps: 25.00%, n/a (oldest first)" in summary.text


def test_without_a_policy_version_or_history_the_report_says_unknown() -> None:
    # Given a report built as before issue 11
    report = report_of(MIXED)

    # Then the version is unknown everywhere, and no trend is claimed
    assert report.policy_version is None and report.trend is None
    assert json.loads(to_json(report))["trend"] is None
    assert {row["policy_version"] for row in csv.DictReader(io.StringIO(to_csv(report)))} == {""}
    assert "Judged under policy version unknown." in render_summary(report, None).text


def test_the_summary_links_the_html_page_when_it_was_stored() -> None:
    # Given links that include the HTML page
    links = Links(
        **{**LINKS.__dict__, "html_uri": "s3://b/r.html", "html_console_url": "https://c/r.html"}
    )

    # When the summary is rendered
    summary = render_summary(report_of(MIXED), links)

    # Then the page is linked beside the JSON and CSV
    assert "  HTML: s3://b/r.html\n        https://c/r.html" in summary.text
    assert summary.document["report"]["html_uri"] == "s3://b/r.html"


def test_what_the_sweep_notes_is_in_every_form_of_the_report() -> None:
    # Given a report with a note about the sweep itself (Security Hub not enabled)
    note = "Security Hub is not enabled in account 123456789012, region us-east-1: ..."
    report = build_report(
        MIXED,
        sweep_id="sweep-1",
        trigger="schedule",
        started_at="2026-11-26T12:00:00+00:00",
        finished_at=NOW.isoformat(),
        notes=[note],
    )

    # When it is rendered in full, as a summary and as the page
    document = json.loads(to_json(report))
    summary = render_summary(report, LINKS)
    page = to_html(report)

    # Then each says it
    assert document["notes"] == [note] == summary.document["notes"]
    assert f"Note:          {note}" in summary.text
    assert f'<p class="note">{note}</p>' in page
    # And a report with nothing to note says nothing
    assert json.loads(to_json(report_of(MIXED)))["notes"] == []
    assert "Note:" not in render_summary(report_of(MIXED), LINKS).text
