"""Issue 12: the HTML report's identities section, pure and without a browser: its
counts chart, ratio and three tables, escaping of hostile identity names, a page without
identities unchanged, and the size of a large account.
(tests/browser/test_report_page.py opens it in Chromium.)"""

from __future__ import annotations

import re
import time

from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.report import (
    IDENTITY_RATIO_DEFINITION,
)
from ses_pool_enforcer.report_html import CONTENT_SECURITY_POLICY, to_html
from tests.report_page import NOW, Page, entry, identity, report_of

SETS = [
    entry("mkt-a", Outcome.COMPLIANT),
    entry("tx-a", Outcome.VIOLATION, "receipts", "transactional"),
    entry("list-a", Outcome.ERROR, "lists", "lists", "ses-default-dedicated-pool"),
]
IDENTITIES = [
    identity("news.example.com", Outcome.COMPLIANT, default="mkt-a"),
    identity("tx.example.com", Outcome.COMPLIANT, default="tx-a", required="tx-a"),
    identity("x@lists.example.com", Outcome.REMEDIATED, default="list-a"),
    identity("misc@example.com", Outcome.UNMANAGED, default=None, required=None, rule=None),
    identity("other@example.com", Outcome.UNMANAGED, default=None, required=None, rule=None),
    identity("b@news.example.com", Outcome.VIOLATION, default=None, reason="no default"),
    identity("lists.example.com", Outcome.ERROR, default="gone", reason="gone is deleted"),
]


def test_the_identities_section_carries_their_counts_ratio_and_three_lists() -> None:
    # Given a report with seven identities: 5 managed, 3 of them compliant or remediated
    report = report_of(SETS, IDENTITIES)

    # When it is rendered and read back
    page = Page(to_html(report))

    # Then the chart's bars are the identities' counts, and the ratio theirs
    assert page.charts["identities-by-outcome"] == {
        "compliant": {"compliant": 2}, "remediated": {"remediated": 1},
        "violation": {"violation": 1}, "unmanaged": {"unmanaged": 2}, "error": {"error": 1},
    }  # fmt: skip
    assert page.texts["identity-ratio"] == "60.00%"
    assert page.texts["identity-ratio-sentence"] == (
        "3 of 5 managed identities are compliant, remediated or exempt; 7 identities in all, "
        "2 of them unmanaged."
    )
    # And the sets' ratio and chart are the sets' alone
    assert page.texts["ratio"] == "33.33%"
    assert page.charts["by-outcome"] == {o: {o: 1} for o in ("compliant", "violation", "error")}
    # And each list is a table, in the report's order, with its count in its heading (and
    # the time to the second, in UTC: no microseconds to wrap the cell)
    shown = f"{NOW:%Y-%m-%d %H:%M:%S} UTC"
    assert page.tables["non-compliant-identities-table"] == [
        ["lists.example.com", "error", "gone", "mkt-*", "newsletters", "gone is deleted",
         shown],
        ["b@news.example.com", "violation", "-", "mkt-*", "newsletters", "no default",
         shown],
    ]  # fmt: skip
    assert page.texts["non-compliant-identities-title"] == "Non-compliant identities (2)"
    assert page.tables["wrong-pool-defaults-table"] == [
        ["x@lists.example.com", "list-a", "error", "ses-default-dedicated-pool", "lists"],
        ["tx.example.com", "tx-a", "violation", "marketing", "transactional"],
    ]
    assert page.tables["without-default-table"] == [
        ["b@news.example.com", "violation", "mkt-*", "newsletters"],
        ["misc@example.com", "unmanaged", "-", "-"],
        ["other@example.com", "unmanaged", "-", "-"],
    ]
    assert page.texts["without-default-title"] == (
        "Identities without a default configuration set (3)"
    )
    # And the section states how their ratio is defined
    assert IDENTITY_RATIO_DEFINITION[1:] in page.texts["identities-definition"]


def test_hostile_identity_names_and_reasons_stay_text() -> None:
    # Given identity, set, rule names and reasons that are markup, or end an attribute
    hostile = "<script>@x.com"
    breakout = '"><img src=x onerror=alert(1)>'
    report = report_of(
        [entry(breakout, Outcome.VIOLATION, rule="</svg>", current="</table>")],
        [
            identity(hostile, Outcome.VIOLATION, default=breakout, required="<b>", rule=breakout,
                     reason="</style><i>x</i>"),
            identity('"><svg onload=alert(2)>@x.com', Outcome.COMPLIANT, default=None),
        ],
    )  # fmt: skip

    # When the page is rendered
    text = to_html(report)
    page = Page(text)

    # Then none of it became markup: one script (the page's own), no img, b, i
    assert text.count("<script") == 1 and len(page.scripts) == 1
    assert not {"img", "b", "i"} & set(page.tags)
    assert "onerror=alert(1)>" not in text and "onload=alert(2)>" not in text
    # And all of it reads as the text it was
    assert page.tables["non-compliant-identities-table"][0][:4] == [
        hostile, "violation", breakout, "<b>",
    ]  # fmt: skip
    assert page.tables["non-compliant-identities-table"][0][5] == "</style><i>x</i>"
    assert page.tables["wrong-pool-defaults-table"][0][:2] == [hostile, breakout]
    assert page.tables["without-default-table"][0][0] == '"><svg onload=alert(2)>@x.com'
    # And the page's policy is the one every page has
    assert f'content="{CONTENT_SECURITY_POLICY}"' in text


def test_empty_lists_and_no_managed_identity_say_so() -> None:
    # Given identities that are all unmanaged, each with a default set that is compliant
    page_text = to_html(
        report_of(SETS, [identity("misc@example.com", Outcome.UNMANAGED, default="mkt-a")])
    )
    page = Page(page_text)

    # Then the ratio is undefined and each empty list says it is empty, with no table
    assert page.texts["identity-ratio"] == "n/a"
    assert "No identity is managed (1 in all): their ratio is undefined." in page_text
    assert "Every managed identity is compliant, remediated or exempt." in page_text
    assert "No identity's default set is on the wrong pool." in page_text
    assert "Every identity has a default configuration set." in page_text
    assert not {"non-compliant-identities-table", "wrong-pool-defaults-table",
                "without-default-table"} & set(page.tables)  # fmt: skip


def test_a_page_without_identities_has_no_identities_section() -> None:
    # Given a deployment that does not look at identities
    text = to_html(report_of(SETS, None))

    # Then the page says nothing about them, and ends its main part as it always did
    assert "identit" not in text.lower()
    assert "</table>\n</section>\n</main>" in text


def test_10000_sets_and_10000_identities_render_a_page_of_a_few_megabytes_quickly() -> None:
    # Given 10,000 sets and 10,000 identities, one in ten of each non-compliant,
    # one identity in ten without a default set, long names, typical reasons
    outcomes = [Outcome.COMPLIANT] * 8 + [Outcome.VIOLATION, Outcome.ERROR]
    sets = [
        entry(f"set-{i:060d}", outcomes[i % 10], rule=f"rule-{i % 25:02d}",
              expected=f"pool-{i % 8}", current=f"pool-{(i + 1) % 8}",
              reason=f"on pool-{(i + 1) % 8}, expected pool-{i % 8} (rule is in audit mode)")
        for i in range(10_000)
    ]  # fmt: skip
    identities = [
        identity(f"sender-{i:06d}@{'d' * 40}.example.com", outcomes[(i + 3) % 10],
                 default=None if i % 10 == 1 else f"set-{i:060d}", required="mkt-*",
                 rule=f"rule-{i % 25:02d}", reason=f"default set-{i}, expected one matching mkt-*")
        for i in range(10_000)
    ]  # fmt: skip
    report = report_of(sets, identities)

    # When rendered
    began = time.perf_counter()
    text = to_html(report)
    seconds = time.perf_counter() - began

    # Then every identity of each list is in its table, and the page stays small and quick
    page = Page(text)
    assert len(page.tables["non-compliant-identities-table"]) == 2_000
    assert len(page.tables["without-default-table"]) == 1_000
    assert len(page.tables["wrong-pool-defaults-table"]) == 2_000  # default on set 8 or 9 mod 10
    size = len(text.encode())
    assert size < 3_000_000, size
    assert seconds < 3.0, seconds
    assert re.search(r"</section>\n</main>", text)
