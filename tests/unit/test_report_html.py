"""Issue 11: the HTML compliance report, pure and without a browser: what the charts say,
escaping of whatever the account holds, the empty account, and the size of a large one.
(tests/browser/test_report_page.py opens it in Chromium.)"""

from __future__ import annotations

import base64
import hashlib
import re
import time

from ses_pool_enforcer.model import Outcome
from ses_pool_enforcer.report import CLI_SWEEP_ID, Entry, Report, build_report
from ses_pool_enforcer.report_html import CONTENT_SECURITY_POLICY, MAX_CHART_ROWS, to_html
from tests.report_page import NOW, Page, entry


def report_of(entries: list[Entry], **extra: object) -> Report:
    fields: dict[str, object] = {
        "sweep_id": "sweep-1",
        "trigger": "schedule",
        "started_at": "2026-11-26T12:00:00+00:00",
        "finished_at": NOW.isoformat(),
        **extra,
    }
    return build_report(entries, **fields)  # type: ignore[arg-type]


MIXED = [
    entry("mkt-a", Outcome.COMPLIANT),
    entry("mkt-b", Outcome.REMEDIATED),
    entry("tx-a", Outcome.VIOLATION, "receipts", "transactional"),
    entry("legacy-a", Outcome.EXEMPT, None, None, "transactional"),
    entry("misc-a", Outcome.UNMANAGED, None, None),
    entry("list-a", Outcome.ERROR, "lists", "lists", "ses-default-dedicated-pool"),
    entry("mkt-c", Outcome.FLAPPING),
]


def test_the_charts_carry_the_reports_counts_per_outcome_rule_and_pool() -> None:
    # Given a report with one set of each outcome
    report = report_of(MIXED, policy_version="7")

    # When it is rendered and read back
    page = Page(to_html(report))

    # Then every bar segment is the report's count, chart by chart
    assert page.charts["by-rule"] == {
        rule: {o: n for o, n in row.items() if o != "sets"} for rule, row in report.by_rule.items()
    }
    assert page.charts["by-pool"] == {
        pool: {o: n for o, n in row.items() if o != "sets"} for pool, row in report.by_pool.items()
    }
    assert page.totals["by-rule"] == {rule: row["sets"] for rule, row in report.by_rule.items()}
    assert page.charts["by-outcome"] == {o: {o: n} for o, n in report.counts.items() if n}
    # And the ratio, the policy version and the non-compliant sets, most severe first
    assert page.texts["ratio"] == "50.00%"
    assert page.texts["policy-version"] == "7"
    assert [row[:2] for row in page.rows] == [
        ["list-a", "error"], ["mkt-c", "flapping"], ["tx-a", "violation"],
    ]  # fmt: skip


def test_hostile_names_and_reasons_stay_text() -> None:
    # Given names, rules, pools and reasons that are markup, or try to end an attribute
    hostile = '<script>alert("x")</script>'
    breakout = '"><img src=x onerror=alert(1)>'
    report = report_of(
        [
            entry(hostile, Outcome.VIOLATION, rule=breakout, expected=hostile, reason=breakout),
            entry("</style><b>", Outcome.ERROR, rule="</svg>", current="</table>"),
        ],
        sweep_id="</title><script>alert(2)</script>",
        policy_version="<i>7</i>",
    )

    # When the page is rendered
    text = to_html(report)
    page = Page(text)

    # Then none of it became markup: one script (the page's own), no img, no b, no i
    assert text.count("<script") == 1 and len(page.scripts) == 1
    assert not {"img", "b", "i"} & set(page.tags)
    assert "<script>alert" not in text and "onerror=alert(1)>" not in text
    # And all of it reads as the text it was
    assert [hostile, "violation"] == page.rows[1][:2]
    assert page.rows[1][5] == breakout
    assert page.texts["policy-version"] == "<i>7</i>"
    assert breakout in page.charts["by-rule"]


def test_only_the_pages_own_script_and_style_may_run_and_nothing_may_load() -> None:
    # Given a rendered page
    text = to_html(report_of(MIXED))
    page = Page(text)

    # Then its policy allows exactly its own script and style, by hash, and loads nothing
    def digest(body: str) -> str:
        return "sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()

    assert f"script-src '{digest(page.scripts[0])}'" in CONTENT_SECURITY_POLICY
    assert f"style-src '{digest(page.styles[0])}'" in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert f'content="{CONTENT_SECURITY_POLICY}"' in text
    # And it names nothing outside itself
    assert not re.search(r"(src|href)=", text)
    assert "http://" not in text.replace("http://www.w3.org", "")


def test_an_empty_account_renders_a_page_that_says_so() -> None:
    # Given a report of no sets and no history
    page_text = to_html(report_of([]))
    page = Page(page_text)

    # Then the page is whole and says there is nothing, rather than failing or drawing 0%
    assert page.texts["ratio"] == "n/a"
    assert "No set is managed (0 sets in all): the ratio is undefined." in page_text
    assert "No outcomes to show." in page_text and "No rules to show." in page_text
    assert page.texts["policy-version"] == "not recorded"
    assert "Every managed set is compliant, remediated or exempt." in page_text
    assert "No sweep history was found" in page.texts["trend-note"]
    assert page_text.rstrip().endswith("</html>")


def test_the_trend_shows_earlier_sweeps_then_this_one_and_a_gap_where_none_was_managed() -> None:
    # Given three earlier sweeps, one of which managed no set
    trend = [
        ("s1", "2026-11-23T12:00:00+00:00", 0.25),
        ("s2", "2026-11-24T12:00:00+00:00", None),
        ("s3", "2026-11-25T12:00:00+00:00", 0.75),
    ]

    # When the report is rendered with them, and the first report with an empty history
    text = to_html(report_of(MIXED, trend=trend))
    first = to_html(report_of(MIXED, trend=()))

    # Then each sweep with a ratio is a point, in order, this one last and marked
    points = re.findall(
        r'<circle class="(point[^"]*)"[^>]*data-sweep="([^"]+)" data-ratio="([^"]+)"', text
    )
    assert points == [
        ("point", "s1", "0.25"),
        ("point", "s3", "0.75"),
        ("point current", "sweep-1", "0.5"),
    ]
    assert "This sweep and the 3 before it." in text
    assert text.count("<polyline") == 1  # s3 to this one; s1 stands alone before the gap
    assert "No earlier sweep is recorded yet: the trend starts with this one." in first


def test_many_rules_are_drawn_worst_first_up_to_a_limit() -> None:
    # Given more rules than a chart draws, one of them with violations
    entries = [entry(f"s-{i}", Outcome.COMPLIANT, rule=f"rule-{i:03d}") for i in range(60)]
    entries.append(entry("bad", Outcome.VIOLATION, rule="rule-059"))

    # When rendered
    page = Page(to_html(report_of(entries)))

    # Then the chart draws the limit, the rule with problems first, and says what it left out
    groups = list(page.charts["by-rule"])
    assert len(groups) == MAX_CHART_ROWS and groups[0] == "rule-059"
    assert f"{MAX_CHART_ROWS} of 60 rules shown" in to_html(report_of(entries))


def test_a_10000_set_report_is_a_few_megabytes_and_quick_to_render() -> None:
    # Given 10,000 sets, one in ten non-compliant, 64-character names and typical reasons
    outcomes = [Outcome.COMPLIANT] * 8 + [Outcome.VIOLATION, Outcome.ERROR]
    entries = [
        entry(
            f"set-{i:060d}",
            outcomes[i % 10],
            rule=f"rule-{i % 25:02d}",
            expected=f"pool-{i % 8}",
            current=f"pool-{(i + 1) % 8}",
            reason=f"on pool-{(i + 1) % 8}, expected pool-{i % 8} (rule is in audit mode)",
        )
        for i in range(10_000)
    ]
    report = report_of(entries, trend=[(f"s{i}", f"2026-10-{i + 1:02d}", 0.9) for i in range(30)])

    # When rendered
    began = time.perf_counter()
    text = to_html(report)
    seconds = time.perf_counter() - began

    # Then every non-compliant set is in the table, and the page stays small and quick
    assert len(Page(text).rows) == 2_000
    size = len(text.encode())
    assert size < 1_500_000, size
    assert seconds < 2.0, seconds


def test_a_cli_report_says_so_bars_carry_their_counts_and_times_have_no_microseconds() -> None:
    # Given a report the CLI made (not a sweep), 100 compliant and 1 violation on one rule,
    # finished at a time with microseconds
    entries = [entry(f"mkt-{i:03}", Outcome.COMPLIANT) for i in range(100)]
    entries.append(entry("tx-a", Outcome.VIOLATION, "marketing", "marketing"))
    report = report_of(
        entries,
        sweep_id=CLI_SWEEP_ID,
        trigger="inventory ses-pool-enforcer-inventory",
        finished_at="2026-12-06T20:52:23.123456+00:00",
    )

    # When it is rendered
    text = to_html(report)
    page = Page(text)

    # Then the header says who made it, not "Sweep cli"
    assert "<dt>Made by</dt>" in text and "<dt>Sweep</dt>" not in text
    assert page.texts["sweep-id"] == "the CLI (ses-pool-enforcer report)"
    assert "<dt>Source</dt><dd>inventory ses-pool-enforcer-inventory</dd>" in text
    # And the wide segment shows its count inside the bar, the narrow one in its tooltip
    assert re.search(r'<text class="count" [^>]*>100</text>', text)
    assert not re.search(r'<text class="count" [^>]*>1</text>', text)
    assert "marketing: 1 violation</title>" in text
    # And the times are to the second, in UTC
    assert "2026-12-06 20:52:23 UTC" in text and "20:52:23.123456" not in text
