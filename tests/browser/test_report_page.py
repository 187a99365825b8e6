"""Issue 11: the HTML compliance report in a real browser (Debian's headless Chromium,
driven by Playwright's Python package): it renders offline without a console error or
a request, its charts show the report's numbers, and its table sorts both ways.
Issue 12: so does its identities section.

Skipped, with the reason, where /usr/bin/chromium or the playwright package is missing
(``apt-get install chromium``; ``.ci/run`` installs it when it can)."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ses_pool_enforcer.model import Outcome, OutcomeRecord
from ses_pool_enforcer.report import Entry, IdentityEntry, Report, build_report
from ses_pool_enforcer.report_html import to_html

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no browser: {CHROMIUM} missing (apt-get install chromium)"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="the playwright package is missing (pip install -e '.[dev]')",
    ),
]

NOW = dt.datetime(2026, 11, 26, 15, 30, tzinfo=dt.UTC)
HOSTILE = '<img src=x onerror="alert(1)">'
HOSTILE_IDENTITY = "<script>@x.com"


def entry(name: str, outcome: Outcome, rule: str | None, pool: str | None) -> Entry:
    return Entry.from_record(
        OutcomeRecord(name, outcome, "marketing", pool, rule, f"{name} is {outcome}", NOW)
    )


def identity(name: str, outcome: Outcome, default: str | None) -> IdentityEntry:
    return IdentityEntry(name, outcome.value, default, "mkt-*", "senders", f"{name} is {outcome}")


def sample_report() -> Report:
    entries = [
        entry("mkt-a", Outcome.COMPLIANT, "marketing", "marketing"),
        entry("mkt-b", Outcome.REMEDIATED, "marketing", "marketing"),
        entry("set-10", Outcome.VIOLATION, "receipts", "transactional"),
        entry("set-9", Outcome.VIOLATION, "receipts", "transactional"),
        entry("Alpha", Outcome.FLAPPING, "marketing", "marketing"),
        entry(HOSTILE, Outcome.ERROR, "lists", "lists"),
        entry("legacy-a", Outcome.EXEMPT, None, None),
        entry("misc-a", Outcome.UNMANAGED, None, None),
    ]
    return build_report(
        entries,
        sweep_id="20261126T150000Z-abcdef12",
        trigger="schedule",
        started_at="2026-11-26T15:00:00+00:00",
        finished_at=NOW.isoformat(),
        policy_version="7",
        trend=[(f"s{i}", f"2026-11-{i + 1:02d}T15:00:00+00:00", 0.5 + i / 50) for i in range(12)],
        identities=[
            identity("news.example.com", Outcome.COMPLIANT, "mkt-a"),
            identity("user-10@news.example.com", Outcome.VIOLATION, None),
            identity("user-9@news.example.com", Outcome.VIOLATION, "set-9"),
            identity("Alpha@example.com", Outcome.FLAPPING, "mkt-b"),
            identity(HOSTILE_IDENTITY, Outcome.ERROR, "gone"),
            identity("misc@example.com", Outcome.UNMANAGED, None),
            identity("old.example.com", Outcome.EXEMPT, "Alpha"),
        ],
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def opened(browser: Any, tmp_path: Path) -> Iterator[tuple[Any, Report, dict[str, list[str]]]]:
    """The sample report opened from a file, as an email attachment would be, with
    everything the browser said or fetched."""
    report = sample_report()
    path = tmp_path / "report.html"
    path.write_text(to_html(report), encoding="utf-8")
    seen: dict[str, list[str]] = {"errors": [], "requests": [], "failed": [], "dialogs": []}
    page = browser.new_page()
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    yield page, report, seen
    page.close()


def column(page: Any, index: int, table: str = "non-compliant-table") -> list[str]:
    cells: list[str] = page.locator(f"#{table} tbody tr td:nth-child({index})")
    return [str(text) for text in cells.all_inner_texts()]  # type: ignore[attr-defined]


def test_the_page_renders_offline_without_errors_or_requests(opened: Any) -> None:
    page, report, seen = opened

    # Then the browser reported nothing wrong (a blocked style or script would be a
    # Content-Security-Policy error here), fetched nothing but the file, ran no alert
    assert seen["errors"] == []
    assert seen["failed"] == []
    assert seen["requests"] == [page.url]
    assert seen["dialogs"] == []
    # And the styled page shows the ratio, the policy version and the hostile name as text
    assert page.locator("#ratio").inner_text() == f"{report.compliance_ratio:.2%}" == "42.86%"
    assert page.locator("#policy-version").inner_text() == "7"
    assert HOSTILE in column(page, 1)
    assert page.locator("img").count() == 0
    assert page.locator("#ratio").evaluate("e => getComputedStyle(e).fontWeight") == "700"


@pytest.mark.parametrize("chart", ["by-rule", "by-pool"])
def test_the_charts_show_the_reports_numbers(opened: Any, chart: str) -> None:
    page, report, _ = opened
    table = report.by_rule if chart == "by-rule" else report.by_pool

    # When the drawn bars are read from the rendered page
    drawn = page.evaluate(
        """chart => Array.from(document.querySelectorAll(`#${chart} g[data-group]`)).map(g => ({
            group: g.dataset.group,
            total: g.querySelector("text.total").textContent,
            segments: Array.from(g.querySelectorAll("rect")).map(r => ({
                outcome: r.dataset.outcome, count: Number(r.dataset.count),
                width: r.getBoundingClientRect().width,
                title: r.querySelector("title").textContent}))}))""",
        chart,
    )

    # Then each group's segments are the report's counts, drawn, titled, and totalled
    assert {g["group"]: {s["outcome"]: s["count"] for s in g["segments"]} for g in drawn} == {
        name: {o: n for o, n in row.items() if o != "sets"} for name, row in table.items()
    }
    assert {g["group"]: g["total"] for g in drawn} == {n: str(r["sets"]) for n, r in table.items()}
    for group in drawn:
        for segment in group["segments"]:
            assert segment["width"] > 0
            assert segment["title"] == f"{group['group']}: {segment['count']} {segment['outcome']}"


@pytest.mark.parametrize("chart", ["by-rule", "by-pool"])
def test_a_count_drawn_in_a_bar_fits_inside_its_segment(opened: Any, chart: str) -> None:
    page, _, _ = opened

    # When the counts drawn inside segments are read with their segment's box
    drawn = page.evaluate(
        """chart => Array.from(document.querySelectorAll(`#${chart} text.count`)).map(t => {
            const rect = t.previousElementSibling, a = t.getBoundingClientRect(),
                  b = rect.getBoundingClientRect();
            return {text: t.textContent, count: rect.dataset.count,
                    inside: a.left >= b.left - 0.5 && a.right <= b.right + 0.5};
        })""",
        chart,
    )

    # Then there are some, each the count of the segment it sits in, and inside it
    assert drawn
    for count in drawn:
        assert count["text"].replace(",", "") == count["count"]
        assert count["inside"], count


def test_the_outcome_chart_and_trend_show_the_counts_and_ratios(opened: Any) -> None:
    page, report, _ = opened

    counts = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll("#by-outcome rect"))
            .map(r => [r.dataset.outcome, Number(r.dataset.count)]))"""
    )
    ratios = page.evaluate(
        """() => Array.from(document.querySelectorAll("#trend-chart circle"))
            .map(c => Number(c.dataset.ratio))"""
    )

    assert counts == {o: n for o, n in report.counts.items() if n}
    assert report.trend is not None
    assert ratios == [p.compliance_ratio for p in report.trend] + [report.compliance_ratio]


def test_clicking_a_header_sorts_the_table_and_clicking_again_reverses_it(opened: Any) -> None:
    page, _, _ = opened
    by_set = page.locator("#non-compliant-table th", has_text="Set")
    by_outcome = page.locator("#non-compliant-table th", has_text="Outcome")

    # When the Set header is clicked: names ascend, numbers in them counted as numbers
    by_set.locator("button").click()
    ascending = column(page, 1)
    assert ascending == [HOSTILE, "Alpha", "set-9", "set-10"]
    assert by_set.get_attribute("aria-sort") == "ascending"

    # When it is clicked again: they descend
    by_set.locator("button").click()
    assert column(page, 1) == list(reversed(ascending))
    assert by_set.get_attribute("aria-sort") == "descending"

    # When Outcome is clicked: most severe first, the other header no longer sorted
    by_outcome.locator("button").click()
    assert column(page, 2) == ["error", "flapping", "violation", "violation"]
    assert by_set.get_attribute("aria-sort") == "none"
    by_outcome.locator("button").click()
    assert column(page, 2) == ["violation", "violation", "flapping", "error"]


def test_the_identities_section_shows_their_numbers(opened: Any) -> None:
    page, report, _ = opened
    section = report.identities
    assert section is not None

    # When the identities' chart, ratio and tables are read from the rendered page
    counts = page.evaluate(
        """() => Object.fromEntries(Array.from(
            document.querySelectorAll("#identities-by-outcome rect"))
            .map(r => [r.dataset.outcome, Number(r.dataset.count)]))"""
    )
    widths = page.evaluate(
        """() => Array.from(document.querySelectorAll("#identities-by-outcome rect"))
            .map(r => r.getBoundingClientRect().width)"""
    )

    # Then the chart draws their counts, and their ratio is theirs, not the sets'
    assert counts == {o: n for o, n in section.counts.items() if n}
    assert all(width > 0 for width in widths)
    assert page.locator("#identity-ratio").inner_text() == "33.33%"
    assert page.locator("#ratio").inner_text() == "42.86%"
    # And each list shows its identities, hostile names as text, counted in its heading
    assert column(page, 1, "non-compliant-identities-table") == [
        HOSTILE_IDENTITY, "Alpha@example.com", "user-10@news.example.com",
        "user-9@news.example.com",
    ]  # fmt: skip
    assert column(page, 1, "wrong-pool-defaults-table") == [
        "old.example.com", "user-9@news.example.com",
    ]  # fmt: skip
    assert column(page, 3, "wrong-pool-defaults-table") == ["flapping", "violation"]
    assert column(page, 1, "without-default-table") == [
        "misc@example.com", "user-10@news.example.com",
    ]  # fmt: skip
    assert page.locator("#non-compliant-identities-title").inner_text() == (
        "Non-compliant identities (4)"
    )
    assert page.locator("#wrong-pool-defaults-title").inner_text().endswith("(2)")
    assert page.locator("#without-default-title").inner_text().endswith("(2)")
    assert page.locator("script").count() == 1


def test_clicking_an_identities_header_sorts_that_table_only(opened: Any) -> None:
    page, _, _ = opened
    table = "non-compliant-identities-table"
    by_identity = page.locator(f"#{table} th", has_text="Identity")
    by_outcome = page.locator(f"#{table} th", has_text="Outcome")
    sets_before = column(page, 1)

    # When Identity is clicked: names ascend, numbers in them counted as numbers
    by_identity.locator("button").click()
    ascending = column(page, 1, table)
    assert ascending == [
        HOSTILE_IDENTITY, "Alpha@example.com", "user-9@news.example.com",
        "user-10@news.example.com",
    ]  # fmt: skip
    assert by_identity.get_attribute("aria-sort") == "ascending"

    # When it is clicked again: they descend
    by_identity.locator("button").click()
    assert column(page, 1, table) == list(reversed(ascending))
    assert by_identity.get_attribute("aria-sort") == "descending"

    # When Outcome is clicked twice: most severe first, then last
    by_outcome.locator("button").click()
    assert column(page, 2, table) == ["error", "flapping", "violation", "violation"]
    assert by_identity.get_attribute("aria-sort") == "none"
    by_outcome.locator("button").click()
    assert column(page, 2, table) == ["violation", "violation", "flapping", "error"]
    # And the sets' table did not move
    assert column(page, 1) == sets_before

    # When Outcome is clicked in the table of identities without a default set: by
    # severity (a violation before an unmanaged identity), not alphabetically
    page.locator("#without-default-table th", has_text="Outcome").locator("button").click()
    assert column(page, 2, "without-default-table") == ["violation", "unmanaged"]


def test_a_report_that_knows_tenants_charts_them_and_filters_its_sets_by_tenant(
    browser: Any, tmp_path: Path
) -> None:
    # Given a report whose sets' tenants were read, one waiting on a warming pool
    def tenant_set(name: str, outcome: Outcome, tenants: tuple[str, ...]) -> Entry:
        record = OutcomeRecord(
            name, outcome, "acme", "bulk", "bulk", f"{name} is {outcome}", NOW, tenants=tenants
        )
        return Entry.from_record(record)

    warming = replace(
        tenant_set("a-1", Outcome.ERROR, ("acme",)),
        pool_scaling_mode="STANDARD",
        pool_ips=2,
        pool_coldest_warmup=10,
    )
    report = build_report(
        [
            warming,
            tenant_set("a-2", Outcome.VIOLATION, ("acme", "beta")),
            tenant_set("b-1", Outcome.VIOLATION, ("beta",)),
            tenant_set("n-1", Outcome.COMPLIANT, ()),
        ],
        sweep_id="s",
        trigger="schedule",
        started_at=NOW.isoformat(),
        finished_at=NOW.isoformat(),
    )
    path = tmp_path / "tenants.html"
    path.write_text(to_html(report), encoding="utf-8")
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri(), wait_until="load")

    # Then the tenant chart shows each tenant's count, and the table the pool's state
    groups = page.locator("#by-tenant g[data-group]")
    totals = {g.get_attribute("data-group"): g.get_attribute("data-total") for g in groups.all()}
    assert totals == {"acme": "2", "beta": "2", "(no tenant)": "1"}
    assert "STANDARD, 2 IPs, coldest 10 % warm" in column(page, 8)

    def visible() -> list[str]:
        rows = page.locator("#non-compliant-table tbody tr:not([hidden]) td:nth-child(1)")
        return sorted(str(t) for t in rows.all_inner_texts())

    # When one tenant is chosen: only its sets are shown; when every tenant: all again
    page.select_option("#tenant-filter", "beta")
    assert visible() == ["a-2", "b-1"]
    assert page.locator("#tenant-shown").inner_text() == "2 of 3 shown"
    page.select_option("#tenant-filter", "acme")
    assert visible() == ["a-1", "a-2"]
    page.select_option("#tenant-filter", "")
    assert visible() == ["a-1", "a-2", "b-1"]
    assert errors == []  # the script ran under the page's Content-Security-Policy
    page.close()
