"""Issue 12: the report's identities section, pure: counts and a ratio of their own, the
non-compliant identities, those with no default configuration set and those whose
default set is on the wrong pool, in the JSON, a CSV of their own and the SNS summary."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.report import (
    IDENTITY_CSV_COLUMNS,
    IDENTITY_RATIO_DEFINITION,
    RATIO_DEFINITION,
    SNS_BUDGET,
    SNS_MESSAGE_LIMIT,
    Entry,
    IdentityEntry,
    Links,
    WrongPoolDefault,
    envelope_bytes,
    fit_summary,
    render_summary,
    to_csv,
    to_identities_csv,
    to_json,
)
from tests.report_page import NOW, entry, identity, report_of

LINKS = Links(
    json_uri="s3://reports-bucket/reports/2026-11-26/sweep-1.json",
    csv_uri="s3://reports-bucket/reports/2026-11-26/sweep-1.csv",
    json_console_url="https://s3.console.aws.amazon.com/s3/object/reports-bucket?prefix=a.json",
    csv_console_url="https://s3.console.aws.amazon.com/s3/object/reports-bucket?prefix=a.csv",
    identities_csv_uri="s3://reports-bucket/reports/2026-11-26/sweep-1-identities.csv",
    identities_csv_console_url="https://s3.console.aws.amazon.com/s3/object/b?prefix=i.csv",
)

SETS = [
    entry("mkt-a", Outcome.COMPLIANT),
    entry("mkt-b", Outcome.REMEDIATED, current="marketing"),
    entry("tx-a", Outcome.VIOLATION, "receipts", "transactional"),
    entry("legacy-a", Outcome.EXEMPT, None, None, "transactional"),
    entry("misc-a", Outcome.UNMANAGED, None, None),
    entry("list-a", Outcome.ERROR, "lists", "lists", "ses-default-dedicated-pool"),
    entry("mkt-c", Outcome.FLAPPING, current="transactional"),
]

IDENTITIES = [
    identity("news.example.com", Outcome.COMPLIANT, default="mkt-a"),
    identity("promo.example.com", Outcome.REMEDIATED, default="mkt-b"),
    identity("old.example.com", Outcome.EXEMPT, default="legacy-a", required=None, rule=None),
    identity("misc@example.com", Outcome.UNMANAGED, default=None, required=None, rule=None),
    identity("tx.example.com", Outcome.COMPLIANT, default="tx-a", required="tx-a"),
    identity("b@news.example.com", Outcome.VIOLATION, default=None, reason="no default"),
    identity("a@news.example.com", Outcome.VIOLATION, default="misc-a", reason="not mkt-*"),
    identity("lists.example.com", Outcome.ERROR, default="gone", reason="gone is deleted"),
    identity("flap.example.com", Outcome.FLAPPING, default="mkt-c"),
    identity("x@lists.example.com", Outcome.COMPLIANT, default="list-a", required="any"),
]


def test_identities_are_counted_per_outcome_with_a_ratio_of_their_own() -> None:
    # Given ten identities: 1 unmanaged, 9 managed, 5 of those compliant, remediated or exempt
    # When the report is built with them
    report = report_of(SETS, IDENTITIES)

    # Then every outcome is counted, zero or not
    section = report.identities
    assert section is not None
    assert section.counts == {
        "compliant": 3, "remediated": 1, "violation": 2, "exempt": 1,
        "unmanaged": 1, "error": 1, "flapping": 1,
    }  # fmt: skip
    assert section.total == 10
    # And their ratio is defined as the sets' is: 5 of 9 managed identities
    assert (section.managed, section.compliant) == (9, 5)
    assert section.compliance_ratio == 5 / 9
    assert "(compliant + remediated + exempt) / managed identities" in IDENTITY_RATIO_DEFINITION
    assert "identities never count in the sets' ratio" in IDENTITY_RATIO_DEFINITION
    # And identities are in name order
    assert [e.identity for e in section.entries] == sorted(e.identity for e in IDENTITIES)


def test_identities_leave_the_sets_ratio_and_counts_as_they_were() -> None:
    # Given the same sets, reported with and without identities
    without = report_of(SETS, None)
    with_them = report_of(SETS, IDENTITIES)

    # Then the sets' numbers are the same: identities never count in them
    assert with_them.compliance_ratio == without.compliance_ratio == 0.5
    assert (with_them.total, with_them.managed, with_them.counts) == (
        without.total, without.managed, without.counts,
    )  # fmt: skip


def test_with_no_managed_identity_their_ratio_is_undefined() -> None:
    # Given only an unmanaged identity, and a deployment that found none
    unmanaged = report_of(SETS, [identity("misc@example.com", Outcome.UNMANAGED)]).identities
    empty = report_of(SETS, []).identities

    # Then the ratio is undefined, not perfect; an empty list is a section, not None
    assert unmanaged is not None and unmanaged.compliance_ratio is None
    assert empty is not None and empty.compliance_ratio is None and empty.total == 0
    assert (
        "Compliance:    n/a (0 of 0 managed identities"
        in render_summary(report_of(SETS, []), None).text
    )


def test_the_non_compliant_identities_come_by_severity_then_name() -> None:
    # Given identities in violation, error and flapping among compliant ones
    section = report_of(SETS, IDENTITIES).identities
    assert section is not None

    # Then error first, then flapping, then violations by name, each with its reason
    assert [(e.identity, e.outcome, e.reason) for e in section.non_compliant()] == [
        ("lists.example.com", "error", "gone is deleted"),
        ("flap.example.com", "flapping", "why"),
        ("a@news.example.com", "violation", "not mkt-*"),
        ("b@news.example.com", "violation", "no default"),
    ]


def test_identities_with_no_default_configuration_set_are_listed_whatever_their_outcome() -> None:
    # Given an unmanaged and a non-compliant identity without a default set
    section = report_of(SETS, IDENTITIES).identities
    assert section is not None

    # Then both are listed, in name order
    assert [e.identity for e in section.without_default] == [
        "b@news.example.com",
        "misc@example.com",
    ]


def test_identities_whose_default_set_is_on_the_wrong_pool_name_the_set_and_its_pools() -> None:
    # Given identities whose default is each kind of set: compliant, remediated, exempt,
    # unmanaged, not in the report, and one set in violation, error and flapping each
    section = report_of(SETS, IDENTITIES).identities
    assert section is not None

    # Then exactly those on a violation, error or flapping set are listed, worst set first,
    # with the pool the set is on and the one the policy requires
    assert section.wrong_pool_defaults == (
        WrongPoolDefault(
            "x@lists.example.com", "list-a", "error", "ses-default-dedicated-pool", "lists"
        ),
        WrongPoolDefault("flap.example.com", "mkt-c", "flapping", "transactional", "marketing"),
        WrongPoolDefault("tx.example.com", "tx-a", "violation", "marketing", "transactional"),
    )


def test_an_identity_inventory_row_becomes_an_entry_whatever_it_lacks() -> None:
    # Given rows as the identity inventory returns them: absent attributes missing
    bare = {"identity": "misc@example.com", "outcome": "unmanaged", "checked_at": "t"}
    full = {
        "identity": "news.example.com",
        "outcome": "violation",
        "default_configuration_set": "tx-a",
        "required": "mkt-*",
        "rule_id": "newsletters",
        "reason": "not mkt-*",
        "checked_at": "t",
        "policy_version": "7",
    }

    # Then the entry has nothing where the row had nothing, and everything else as written
    assert IdentityEntry.from_row(bare) == IdentityEntry("misc@example.com", "unmanaged", None,
                                                         checked_at="t")  # fmt: skip
    assert IdentityEntry.from_row(full) == IdentityEntry(
        "news.example.com", "violation", "tx-a", "mkt-*", "newsletters", "not mkt-*", "t"
    )


def test_without_identities_the_report_says_nothing_about_them() -> None:
    # Given a deployment that does not look at identities
    report = report_of(SETS, None)

    # When the report is rendered every way, with the links of what was stored
    links = Links(LINKS.json_uri, LINKS.csv_uri, LINKS.json_console_url, LINKS.csv_console_url)
    summary = render_summary(report, links)

    # Then no form of it mentions identities
    assert report.identities is None and to_identities_csv(report) is None
    assert "identities" not in json.loads(to_json(report))
    assert "identit" not in summary.text.lower() and "identit" not in summary.title
    assert "identities" not in summary.document
    assert not [key for key in summary.document["report"] if "identit" in key]
    assert "identit" not in to_csv(report)


def test_the_full_json_holds_every_identity_and_the_three_lists() -> None:
    # Given the report with identities
    report = report_of(SETS, IDENTITIES)

    # When it is rendered as JSON
    document = json.loads(to_json(report))["identities"]

    # Then it holds the counts, the ratio and its definition, and every identity
    assert document["counts"] == report.identities.counts  # type: ignore[union-attr]
    assert document["compliance_ratio"] == 5 / 9 and document["managed"] == 9
    assert document["compliance_ratio_definition"] == IDENTITY_RATIO_DEFINITION
    assert len(document["entries"]) == document["total"] == 10
    assert document["entries"][0] == {
        "identity": "a@news.example.com", "outcome": "violation",
        "default_configuration_set": "misc-a", "required": "mkt-*", "rule_id": "newsletters",
        "reason": "not mkt-*", "checked_at": NOW.isoformat(),
    }  # fmt: skip
    # And the three lists, in the report's order
    assert document["non_compliant"][:2] == ["lists.example.com", "flap.example.com"]
    assert document["non_compliant_total"] == 4
    assert document["without_default"] == ["b@news.example.com", "misc@example.com"]
    assert [d["identity"] for d in document["wrong_pool_defaults"]] == [
        "x@lists.example.com", "flap.example.com", "tx.example.com",
    ]  # fmt: skip
    assert document["wrong_pool_defaults"][2] == {
        "identity": "tx.example.com", "configuration_set": "tx-a", "set_outcome": "violation",
        "current_pool": "marketing", "expected_pool": "transactional",
    }  # fmt: skip


def test_the_identities_csv_is_a_table_of_its_own_beside_the_sets_csv() -> None:
    # Given an identity whose reason has commas, quotes and a line break
    tricky = identity("q@example.com", Outcome.ERROR, reason='set "x", gone,\nnot sent')
    report = report_of(SETS, [*IDENTITIES, tricky], policy_version="7")

    # When its identities are rendered as CSV
    text = to_identities_csv(report)
    assert text is not None
    rows = list(csv.DictReader(io.StringIO(text)))

    # Then every identity is a row, every field a column, absent ones empty
    assert tuple(text.splitlines()[0].split(",")) == IDENTITY_CSV_COLUMNS
    assert len(rows) == 11
    by_name = {row["identity"]: row for row in rows}
    assert by_name["q@example.com"]["reason"] == 'set "x", gone,\nnot sent'
    assert by_name["misc@example.com"]["default_configuration_set"] == ""
    assert by_name["misc@example.com"]["rule_id"] == ""
    assert by_name["x@lists.example.com"]["required"] == "any"
    assert {row["policy_version"] for row in rows} == {"7"}
    # And the sets' CSV is as it was, and the file lives beside it
    assert len(list(csv.DictReader(io.StringIO(to_csv(report))))) == 7
    assert report.key("csv", "identities") == "reports/2026-11-26/sweep-1-identities.csv"
    assert report.key("csv") == "reports/2026-11-26/sweep-1.csv"


def test_identities_of_several_lanes_name_their_lane_and_their_own_lanes_sets() -> None:
    # Given the same set name non-compliant in one lane and compliant in another, and an
    # identity in each lane whose default set has that name
    def lane(item: Entry | IdentityEntry, account: str) -> Entry | IdentityEntry:
        return replace(item, account=account, region="eu-west-1")

    sets = [
        lane(entry("mkt-a", Outcome.VIOLATION, current="transactional"), "111122223333"),
        lane(entry("mkt-a", Outcome.COMPLIANT), "444455556666"),
    ]
    identities = [
        lane(identity("news.example.com", Outcome.COMPLIANT, default="mkt-a"), account)
        for account in ("444455556666", "111122223333")
    ]

    # When the report is built and rendered
    report = report_of(sets, identities)
    document = json.loads(to_json(report))["identities"]
    text = to_identities_csv(report)
    assert text is not None

    # Then the identities are in lane order, each naming its lane first, and only the one
    # whose own lane's mkt-a is non-compliant has its default set on the wrong pool
    assert [(e["account"], e["identity"]) for e in document["entries"]] == [
        ("111122223333", "news.example.com"),
        ("444455556666", "news.example.com"),
    ]
    assert list(document["entries"][0])[:3] == ["account", "region", "identity"]
    assert document["wrong_pool_defaults"] == [
        {
            "account": "111122223333", "region": "eu-west-1", "identity": "news.example.com",
            "configuration_set": "mkt-a", "set_outcome": "violation",
            "current_pool": "transactional", "expected_pool": "marketing",
        }
    ]  # fmt: skip
    assert tuple(text.splitlines()[0].split(",")) == ("account", "region", *IDENTITY_CSV_COLUMNS)
    assert text.splitlines()[1].startswith("111122223333,eu-west-1,news.example.com,")


def test_the_summary_counts_identities_and_lists_the_non_compliant_ones() -> None:
    # Given the report with identities
    report = report_of(SETS, IDENTITIES)

    # When its summary is fitted
    summary = fit_summary(report, LINKS)
    document = summary.document["identities"]

    # Then the text counts them, lists each kind, and links their CSV
    assert "  Compliance:    55.56% (5 of 9 managed identities compliant" in summary.text
    assert "  Non-compliant: 4\n" in summary.text
    assert (
        "  Identities:    10 (1 unmanaged, 2 without a default configuration set, 3 whose "
        "default set is on the wrong pool)\n"
    ) in summary.text
    assert "\n  flapping             1\n" in summary.text.split("Identities by outcome")[1]
    assert (
        "Non-compliant identities (4 of 4 listed)\n"
        "  error      lists.example.com: default gone, required mkt-* (rule newsletters): "
        "gone is deleted\n"
    ) in summary.text
    # And the two other lists are counted (above), listed only in the full report
    assert "tx.example.com" not in summary.text and "misc@example.com" not in summary.text
    assert f"  CSV of the identities: {LINKS.identities_csv_uri}\n" in summary.text
    assert summary.text.rstrip().endswith(
        IDENTITY_RATIO_DEFINITION[:1].upper() + IDENTITY_RATIO_DEFINITION[1:] + "."
    )
    assert RATIO_DEFINITION[1:] + ".\n" in summary.text
    # And the title adds them to the sets' count
    assert summary.title.endswith("3 non-compliant (+4 identities)")
    # And the document holds the same, nothing left out
    assert [e["identity"] for e in document["non_compliant"]] == [
        "lists.example.com", "flap.example.com", "a@news.example.com", "b@news.example.com",
    ]  # fmt: skip
    assert document["non_compliant_not_listed"] == 0
    assert (document["without_default_total"], document["wrong_pool_defaults_total"]) == (2, 3)
    assert summary.document["report"]["identities_csv_uri"] == LINKS.identities_csv_uri


def test_a_summary_of_10000_sets_and_10000_identities_all_non_compliant_fits_one_message() -> None:
    # Given the worst case: 10,000 sets and 10,000 identities, all non-compliant, long
    # names and reasons, half the identities without a default, half on a wrong-pool set
    sets = [
        entry(f"{i:064d}", Outcome.VIOLATION if i % 2 else Outcome.ERROR,
              rule=f"rule-{i % 100:03d}-" + "r" * 50, expected="p" * 64, current="q" * 64,
              reason="x" * 400)
        for i in range(10_000)
    ]  # fmt: skip
    identities = [
        identity(f"{i:050d}@{'d' * 60}.example.com", Outcome.VIOLATION if i % 3 else Outcome.ERROR,
                 default=f"{i:064d}" if i % 2 else None, required="m" * 64,
                 rule=f"rule-{i % 100:03d}-" + "r" * 50, reason="y" * 400)
        for i in range(10_000)
    ]  # fmt: skip
    report = report_of(sets, identities)

    # When its summary is fitted
    summary = fit_summary(report, LINKS)
    document = summary.document["identities"]

    # Then it fits one SNS message, with room to spare
    assert envelope_bytes(summary) <= SNS_BUDGET < SNS_MESSAGE_LIMIT
    assert len(summary.title) < 100
    assert summary.title.endswith("10,000 non-compliant (+10,000 identities)")
    # And it lists some of each kind and says how many more there are
    shown = len(document["non_compliant"])
    assert 0 < shown < 10_000
    assert document["non_compliant_not_listed"] == 10_000 - shown
    assert f"... and {10_000 - shown:,} more: see the full report" in summary.text
    assert document["non_compliant_total"] == 10_000
    assert (document["without_default_total"], document["wrong_pool_defaults_total"]) == (
        5_000, 5_000,
    )  # fmt: skip


outcomes = st.sampled_from([o for o in Outcome if o is not Outcome.DELETED])
set_names = st.sampled_from(["a", "b", "c", "d", None])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.builds(entry, st.sampled_from("abc"), outcomes), unique_by=lambda e: e.
             configuration_set),
    st.lists(st.builds(identity, st.text("xyz@.", min_size=1, max_size=6), outcomes, set_names),
             max_size=40, unique_by=lambda e: e.identity),
)  # fmt: skip
def test_the_identity_lists_agree_with_the_entries(
    sets: list[Entry], identities: list[IdentityEntry]
) -> None:
    section = report_of(sets, identities).identities
    assert section is not None

    assert sum(section.counts.values()) == section.total == len(identities)
    assert len(section.non_compliant()) == sum(1 for e in identities if e.non_compliant)
    assert {e.identity for e in section.without_default} == {
        e.identity for e in identities if e.default_configuration_set is None
    }
    bad_sets = {s.configuration_set for s in sets if s.non_compliant}
    assert {d.identity for d in section.wrong_pool_defaults} == {
        e.identity for e in identities if e.default_configuration_set in bad_sets
    }
    ratio = section.compliance_ratio
    assert ratio is None or 0.0 <= ratio <= 1.0


def test_the_table_of_an_account_without_sets_still_lists_its_identities() -> None:
    from ses_pool_enforcer.cli.report_cmd import render_table

    # Given a report with no configuration set but a non-compliant identity
    text = render_table(report_of([], [identity("b@news.example.com", Outcome.VIOLATION)]))

    # Then the table form says so, and lists the identity
    assert text.startswith("Compliance report: 0 configuration sets")
    assert "Identities: 1" in text and "b@news.example.com" in text
