"""The organization report's HTML page with thousands of lanes, in a real browser (Debian's
headless Chromium, driven by Playwright): it renders offline without a console error or a
request, shows 100 lanes a page (the worst accounts first), filters as the reader types,
sorts by a column both ways, and pages through what matches.

Skipped where /usr/bin/chromium or the playwright package is missing, as the report
page's own browser test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ses_pool_enforcer.organization import PAGE_ROWS, lane_of, to_html
from tests.browser.test_report_page import ARGS, CHROMIUM, pytestmark  # noqa: F401
from tests.unit.test_organization_report import HOME, organization

HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def opened(browser: Any, tmp_path: Path) -> Iterator[tuple[Any, dict[str, list[str]]]]:
    """A 1,000-account organization (4,000 lanes) opened from a file, with one account
    whose name is hostile markup, and everything the browser said or fetched."""
    report = organization(1_000)
    report.add(
        lane_of(
            {
                "status": "unreachable",
                "lane": {"account": "999999999999", "region": "us-east-1", "name": HOSTILE},
                "reason": HOSTILE,
            },
            HOME,
        )
    )
    path = tmp_path / "organization.html"
    path.write_text(to_html(report), encoding="utf-8")
    seen: dict[str, list[str]] = {"errors": [], "requests": [], "dialogs": []}
    page = browser.new_page()
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    yield page, seen
    page.close()


def visible(page: Any, index: int) -> list[str]:
    """The text of column ``index`` (1-based) in the rows shown."""
    return [
        str(t)
        for t in page.locator(
            f"#lanes tbody tr:not([hidden]) td:nth-child({index})"
        ).all_inner_texts()
    ]


def test_the_page_shows_a_page_of_the_worst_lanes_without_errors_or_requests(
    opened: Any,
) -> None:
    page, seen = opened

    # Then nothing went wrong, nothing was fetched, no script of the account's ran
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert seen["requests"] == [page.url]
    assert page.locator("img").count() == 0
    # And one page of lanes shows, the worst accounts first: the most lanes not swept
    # (unreachable in 4 regions), then one each, the lower compliance ratio first (a
    # failed region and 89 % in the others, before nothing managed at all)
    accounts = visible(page, 1)
    assert len(accounts) == PAGE_ROWS
    assert accounts[:9] == ["100000000007"] * 4 + ["100000000011"] * 4 + ["999999999999"]
    assert HOSTILE in visible(page, 2)
    assert page.locator("#shown").inner_text() == "4001 of 4001 lanes match; page 1 of 41"


def test_typing_filters_the_lanes_and_the_pager_walks_what_matches(opened: Any) -> None:
    page, _ = opened

    # When the reader types an account's id and a region
    page.locator("#filter").fill("100000000042 eu-west")

    # Then only that lane shows
    assert visible(page, 1) == ["100000000042"] and visible(page, 3) == ["eu-west-1"]
    assert page.locator("#shown").inner_text() == "1 of 4001 lanes match; page 1 of 1"

    # When the filter is a status: every lane not swept, on one page
    page.locator("#filter").fill("unreachable")
    assert set(visible(page, 4)) == {"unreachable"} and len(visible(page, 4)) == 5

    # When it is cleared and the reader pages on, then back
    page.locator("#filter").fill("")
    first = visible(page, 1)
    page.locator("#pager [data-go=next]").click()
    second = visible(page, 1)
    assert len(second) == PAGE_ROWS and second != first
    assert page.locator("#shown").inner_text().endswith("page 2 of 41")
    page.locator("#pager [data-go=previous]").click()
    assert visible(page, 1) == first
    assert page.locator("#pager [data-go=previous]").is_disabled()


def test_clicking_compliance_sorts_every_lane_both_ways(opened: Any) -> None:
    page, _ = opened
    header = page.locator("#lanes th", has_text="Compliance")

    # When Compliance is clicked: the least compliant lanes first (those without a ratio,
    # -1 as their sort key, before them)
    header.locator("button").click()
    ratios = visible(page, 7)
    assert ratios[:6] == ["n/a"] * 6 and ratios[6] == "1.00%"
    assert header.get_attribute("aria-sort") == "ascending"
    assert page.locator("#shown").inner_text().endswith("page 1 of 41")

    # When it is clicked again: the most compliant first
    header.locator("button").click()
    assert visible(page, 7)[0] == "100.00%"
    assert header.get_attribute("aria-sort") == "descending"
