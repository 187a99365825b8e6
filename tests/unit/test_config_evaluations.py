"""Issue 11: the inventory's outcomes as AWS Config evaluations, pure."""

from __future__ import annotations

import datetime as dt

from ses_pool_enforcer.compliance.config_rule import (
    RESOURCE_TYPE,
    ComplianceType,
    batches,
    evaluate,
)
from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.report import Entry

FALLBACK = dt.datetime(2026, 11, 26, 16, tzinfo=dt.UTC)


def test_each_outcome_has_its_config_compliance() -> None:
    # Given an entry of every outcome the inventory holds, and one it does not know
    expected = {
        "compliant": "COMPLIANT", "remediated": "COMPLIANT", "exempt": "COMPLIANT",
        "violation": "NON_COMPLIANT", "error": "NON_COMPLIANT", "flapping": "NON_COMPLIANT",
        "unmanaged": "NOT_APPLICABLE", "something-new": "NON_COMPLIANT",
    }  # fmt: skip

    # When each is evaluated
    found = {o: evaluate(Entry("s", o), FALLBACK).compliance.value for o in expected}

    # Then each maps as documented, and nothing unknown is called compliant
    assert found == expected
    assert {o.value for o in Outcome} - {"deleted"} <= set(expected)


def test_an_evaluation_names_the_set_dates_it_by_its_check_and_annotates_the_reason() -> None:
    # Given a violation checked at a known time
    entry = Entry(
        "tx-reset", "violation", "marketing", "transactional", "receipts",
        "on marketing, expected transactional (rule is in audit mode)",
        "2026-11-26T12:00:05.123456+00:00",
    )  # fmt: skip

    # When evaluated
    item = evaluate(entry, FALLBACK).to_api()

    # Then it is the API's shape, for the set by name
    assert item == {
        "ComplianceResourceType": RESOURCE_TYPE,
        "ComplianceResourceId": "tx-reset",
        "ComplianceType": "NON_COMPLIANT",
        "OrderingTimestamp": dt.datetime(2026, 11, 26, 12, 0, 5, 123456, tzinfo=dt.UTC),
        "Annotation": "violation: on marketing, expected transactional (rule is in audit mode)",
    }


def test_long_reasons_are_clipped_and_missing_times_fall_back() -> None:
    long_reason = evaluate(Entry("s", "error", reason="x" * 500, checked_at="junk"), FALLBACK)
    naive = evaluate(Entry("s", "compliant", checked_at="2026-11-26T12:00:00"), FALLBACK)

    assert len(long_reason.annotation) == 256 and long_reason.annotation.endswith("…")
    assert long_reason.ordering_timestamp == FALLBACK
    assert naive.ordering_timestamp == dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
    assert naive.annotation == "compliant" and naive.compliance is ComplianceType.COMPLIANT


def test_batches_hold_at_most_100_and_an_empty_run_still_sends_one() -> None:
    assert [len(b) for b in batches(list(range(250)))] == [100, 100, 50]
    assert [len(b) for b in batches(list(range(100)))] == [100]
    assert [list(b) for b in batches([])] == [[]]
