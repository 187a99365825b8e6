"""The organization report: one row per lane (account, region) from the lanes' results,
summed per account, for thousands of lanes. The rows are built from the lanes' results
one at a time (a lane's result carries its report's counts, never its sets), so the
report holds a short row a lane and nothing more.

* ``OrganizationReport.add``: one lane's result (its finish, or why it was not swept).
* ``to_json``, ``to_csv``, ``to_html``: the full report, written to S3 beside the lanes'.
* ``fit_summary``: the SNS message: the worst accounts first, as many as fit one message
  (SNS's 256 KB), a subject under 100 characters, links to the full report.

Pure: no boto3, no I/O. Standard library only.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

from ses_pool_enforcer import __version__
from ses_pool_enforcer.report import SNS_BUDGET, Summary, envelope_bytes
from ses_pool_enforcer.report_html import SCRIPT, STYLE, _digest

SWEPT = "swept"
CSV_COLUMNS = (
    "account",
    "name",
    "region",
    "status",
    "reason",
    "total",
    "managed",
    "compliance_ratio",
    "counts",
    "report_uri",
)
ACCOUNTS_STEPS = (1000, 500, 200, 100, 50, 20, 10, 0)  # accounts listed in the SNS summary


@dataclass
class Lane:
    """One lane's line in the report."""

    account: str
    name: str
    region: str
    status: str  # swept, or why not: unreachable, departed, failed, stopped, busy, ...
    reason: str = ""
    total: int | None = None
    managed: int = 0
    compliance_ratio: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    report_uri: str | None = None

    def region_document(self) -> dict[str, Any]:
        """The lane as the report's ``accounts.<id>.regions.<region>`` tells it."""
        if self.status != SWEPT:
            return {"status": self.status, "reason": self.reason}
        return {
            "status": SWEPT,
            "total": self.total,
            "managed": self.managed,
            "compliance_ratio": self.compliance_ratio,
            "counts": self.counts,
            "report_uri": self.report_uri,
        }


@dataclass
class Account:
    name: str
    lanes: dict[str, Lane] = field(default_factory=dict)  # by region

    @property
    def managed(self) -> int:
        return sum(lane.managed for lane in self.lanes.values() if _ratio(lane) is not None)

    @property
    def compliance_ratio(self) -> float | None:
        rated = [
            (lane.managed, r) for lane in self.lanes.values() if (r := _ratio(lane)) is not None
        ]
        managed = sum(n for n, _ in rated)
        return sum(n * r for n, r in rated) / managed if managed else None

    @property
    def not_swept(self) -> int:
        return sum(1 for lane in self.lanes.values() if lane.status != SWEPT)

    def document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "regions": {r: lane.region_document() for r, lane in sorted(self.lanes.items())},
            "managed": self.managed,
            "compliance_ratio": self.compliance_ratio,
        }


def _ratio(lane: Lane) -> float | None:
    ratio = lane.compliance_ratio
    return float(ratio) if isinstance(ratio, (int, float)) else None


def lane_of(result: Mapping[str, Any], home: tuple[str, str]) -> Lane:
    """A lane's result (what its iteration ended with) as its report line."""
    where = result.get("lane")
    if isinstance(where, Mapping):
        account, region = str(where.get("account")), str(where.get("region"))
        name = str(where.get("name") or "")
    else:
        account, region, name = home[0], home[1], "hub"
    report = result.get("report")
    status = str(result.get("status") or "")
    if not isinstance(report, Mapping):
        reason = result.get("error") or result.get("reason") or status
        if isinstance(reason, Mapping):  # a caught error: {"Error", "Cause"}
            reason = f"{reason.get('Error')}: {reason.get('Cause')}"
        return Lane(account, name, region, status or "no report", str(reason))
    counts = report.get("counts")
    return Lane(
        account,
        name,
        region,
        SWEPT,
        total=int(report.get("total") or 0),
        managed=int(report.get("managed") or 0),
        compliance_ratio=report.get("compliance_ratio"),
        counts={str(k): int(v) for k, v in counts.items()} if isinstance(counts, Mapping) else {},
        report_uri=result.get("report_uri"),
    )


@dataclass
class OrganizationReport:
    execution: str
    finished_at: str
    accounts: dict[str, Account] = field(default_factory=dict)
    removed: list[dict[str, Any]] = field(default_factory=list)

    def add(self, lane: Lane) -> None:
        self.accounts.setdefault(lane.account, Account(lane.name)).lanes[lane.region] = lane

    @property
    def lanes(self) -> int:
        return sum(len(a.lanes) for a in self.accounts.values())

    @property
    def not_swept(self) -> int:
        return sum(a.not_swept for a in self.accounts.values())

    @property
    def compliance_ratio(self) -> float | None:
        rated = [
            (a.managed, r) for a in self.accounts.values() if (r := a.compliance_ratio) is not None
        ]
        managed = sum(n for n, _ in rated)
        return sum(n * r for n, r in rated) / managed if managed else None

    def worst_first(self) -> list[tuple[str, Account]]:
        """Accounts with lanes not swept first (the most such first), then by compliance
        ratio, lowest first; accounts with nothing managed last."""

        def badness(item: tuple[str, Account]) -> tuple[int, float, str]:
            ratio = item[1].compliance_ratio
            return (-item[1].not_swept, 2.0 if ratio is None else ratio, item[0])

        return sorted(self.accounts.items(), key=badness)

    def headline(self) -> str:
        ratio = self.compliance_ratio
        return f"{ratio:.2%} compliant" if ratio is not None else "nothing managed"

    def title(self) -> str:
        unswept = self.not_swept
        return (
            f"[ses-pool-enforcer] organization report: {self.headline()}, "
            f"{len(self.accounts)} accounts" + (f", {unswept} lanes not swept" if unswept else "")
        )


def to_json(report: OrganizationReport) -> str:
    return json.dumps(
        {
            "kind": "organization-report",
            "execution": report.execution,
            "finished_at": report.finished_at,
            "compliance_ratio": report.compliance_ratio,
            "lanes": report.lanes,
            "lanes_not_swept": report.not_swept,
            "accounts": {a: acc.document() for a, acc in report.worst_first()},
            "removed": report.removed,
        },
        indent=1,
        sort_keys=False,
    )


def to_csv(report: OrganizationReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for account, entry in report.worst_first():
        for region, lane in sorted(entry.lanes.items()):
            writer.writerow(
                [
                    account,
                    entry.name,
                    region,
                    lane.status,
                    lane.reason,
                    "" if lane.total is None else lane.total,
                    lane.managed if lane.status == SWEPT else "",
                    "" if lane.compliance_ratio is None else lane.compliance_ratio,
                    ";".join(f"{k}={n}" for k, n in sorted(lane.counts.items())),
                    lane.report_uri or "",
                ]
            )
    return out.getvalue()


# ------------------------------------------------------------------ SNS summary


def _line(account: str, entry: Account, region: str, lane: Lane) -> str:
    if lane.status != SWEPT:
        return f"{account} {entry.name:<20} {region:<15} {lane.status}"
    counts = ", ".join(f"{n} {k}" for k, n in sorted(lane.counts.items()))
    return f"{account} {entry.name:<20} {region:<15} {lane.total} sets: {counts}"


def render_summary(
    report: OrganizationReport, links: Mapping[str, str] | None, listed: int
) -> Summary:
    """The SNS summary with the ``listed`` worst accounts (every account when they fit)."""
    ranked = report.worst_first()
    shown = ranked[:listed]
    more = len(ranked) - len(shown)
    lines = [
        f"{report.lanes} lanes (account, region) in {len(report.accounts)} accounts: "
        f"{report.headline()}.",
        *(
            [f"The {len(shown)} worst accounts first; every lane is in the full report."]
            if more
            else []
        ),
        "",
        *(
            _line(account, entry, region, lane)
            for account, entry in shown
            for region, lane in sorted(entry.lanes.items())
        ),
        *([f"... and {more} more accounts (see the full report)"] if more else []),
    ]
    if report.removed:
        lines += [
            "",
            "Governed no more (the account left the organization or the member OUs, "
            "or the region left MEMBER_REGIONS); their entries were removed:",
            *(f"{r['account']} {r['region']:<15} {r['entries']} entries" for r in report.removed),
        ]
    if links:
        lines += ["", "Full report:", *(f"  {k}: {v}" for k, v in links.items())]
    document: dict[str, Any] = {
        "kind": "organization-report",
        "compliance_ratio": report.compliance_ratio,
        "lanes": report.lanes,
        "lanes_not_swept": report.not_swept,
        "accounts": {a: entry.document() for a, entry in shown},
        "accounts_not_listed": more,
        "removed": report.removed,
        "report": dict(links) if links else None,
    }
    return Summary(report.title()[:99], "\n".join(lines) + "\n", document, len(shown))


def fit_summary(
    report: OrganizationReport, links: Mapping[str, str] | None, budget: int = SNS_BUDGET
) -> Summary:
    """The most detailed summary that fits one SNS message, whatever the organization's size."""
    summary = None
    for listed in (len(report.accounts), *ACCOUNTS_STEPS):
        summary = render_summary(report, links, listed)
        if envelope_bytes(summary) <= budget:
            return summary
    assert summary is not None
    raise ValueError(
        f"organization summary needs {envelope_bytes(summary)} bytes even when minimal"
    )


# ------------------------------------------------------------------ HTML

# Filters the lanes table as the reader types (rows whose text holds every word) and pages
# it, PAGE_ROWS rows at a time, after the sort script (report_html's) has ordered it.
FILTER_SCRIPT = """
(function () {
  "use strict";
  var table = document.getElementById("lanes");
  var input = document.getElementById("filter");
  var status = document.getElementById("shown");
  var pager = document.getElementById("pager");
  var size = parseInt(table.getAttribute("data-page-rows"), 10);
  var page = 0;
  function matching() {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    return Array.prototype.filter.call(table.tBodies[0].rows, function (row) {
      var text = row.textContent.toLowerCase();
      return words.every(function (w) { return text.indexOf(w) >= 0; });
    });
  }
  function show() {
    var rows = matching();
    var pages = Math.max(1, Math.ceil(rows.length / size));
    page = Math.min(page, pages - 1);
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) { row.hidden = true; });
    rows.slice(page * size, (page + 1) * size).forEach(function (row) { row.hidden = false; });
    status.textContent = rows.length + " of " + table.tBodies[0].rows.length +
      " lanes match; page " + (page + 1) + " of " + pages;
    pager.querySelector("[data-go=previous]").disabled = page === 0;
    pager.querySelector("[data-go=next]").disabled = page >= pages - 1;
  }
  input.addEventListener("input", function () { page = 0; show(); });
  pager.addEventListener("click", function (event) {
    var go = event.target.getAttribute("data-go");
    if (go === "next") { page += 1; } else if (go === "previous") { page -= 1; } else { return; }
    show();
  });
  Array.prototype.forEach.call(table.tHead.querySelectorAll("button"), function (button) {
    button.addEventListener("click", function () { page = 0; show(); });
  });
  show();
})();
"""
PAGE_ROWS = 100
ORG_STYLE = STYLE + (
    "#filter { font: inherit; padding: .3rem .5rem; width: 24rem; max-width: 100%; }\n"
    "#pager { margin: .5rem 0; display: flex; gap: 1rem; align-items: center; }\n"
    "tr.not-swept td { background: #fff4e5; }\n"
)
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src '{_digest(ORG_STYLE)}'; "
    f"script-src '{_digest(SCRIPT)}' '{_digest(FILTER_SCRIPT)}'; "
    "base-uri 'none'; form-action 'none'"
)
COLUMNS = (
    ("Account", ""),
    ("Name", ""),
    ("Region", ""),
    ("Status", ""),
    ("Sets", "number"),
    ("Managed", "number"),
    ("Compliance", "number"),
    ("Outcomes", ""),
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2%}"


def _sort_key(ratio: float | None) -> int:
    """A ratio as the sort script compares it (whole numbers, numerically): no ratio
    before 0 %, which is before 100 %."""
    return 0 if ratio is None else 1 + round(ratio * 1_000_000)


def _rows(report: OrganizationReport) -> Iterable[str]:
    for account, entry in report.worst_first():
        for region, lane in sorted(entry.lanes.items()):
            ratio = _ratio(lane)
            swept = lane.status == SWEPT
            counts = ", ".join(f"{n} {k}" for k, n in sorted(lane.counts.items()))
            yield (
                f'<tr class="{"swept" if swept else "not-swept"}">'
                f"<td>{_e(account)}</td><td>{_e(entry.name)}</td><td>{_e(region)}</td>"
                f'<td title="{_e(lane.reason)}">{_e(lane.status)}</td>'
                f'<td class="number">{"" if lane.total is None else lane.total}</td>'
                f'<td class="number">{lane.managed if swept else ""}</td>'
                f'<td class="number" data-sort="{_sort_key(ratio)}">'
                f"{_percent(ratio)}</td>"
                f"<td>{_e(counts or lane.reason)}</td></tr>"
            )


def to_html(report: OrganizationReport) -> str:
    """One self-contained page: the headline, and every lane in one table, worst accounts
    first, sortable by any column, filtered as the reader types, PAGE_ROWS rows a page."""
    head = "".join(
        f'<th scope="col" aria-sort="none" class="{cls}"><button type="button">{name}</button></th>'
        for name, cls in COLUMNS
    )
    ratio = report.compliance_ratio
    title = f"SES pool compliance of the organization: {_percent(ratio)}"
    removed = "".join(
        f"<li>{_e(r['account'])} {_e(r['region'])}: {_e(r['entries'])} entries removed</li>"
        for r in report.removed
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{ORG_STYLE}</style>
</head>
<body>
<header>
<h1>SES pool compliance: the organization</h1>
<dl class="meta">
<dt>Execution</dt><dd id="execution">{_e(report.execution)}</dd>
<dt>Finished</dt><dd>{_e(report.finished_at)}</dd>
</dl>
</header>
<main>
<p class="ratio" id="ratio" data-ratio="{"" if ratio is None else repr(ratio)}">
{_percent(ratio)}</p>
<p id="headline">{report.lanes:,} lanes (account, region) in {len(report.accounts):,} accounts;
{report.not_swept:,} not swept.</p>
<h2>Lanes</h2>
<p class="note">The worst accounts first (lanes not swept, then the lowest compliance).
Click a column header to sort by it; type to filter (every word must match).</p>
<p><label for="filter">Filter </label><input id="filter" type="search"
 placeholder="account, name, region, status"></p>
<div id="pager"><button type="button" data-go="previous">Previous</button>
<span id="shown" role="status"></span><button type="button" data-go="next">Next</button></div>
<table id="lanes" class="sortable" data-page-rows="{PAGE_ROWS}"><thead><tr>{head}</tr></thead>
<tbody>{"".join(_rows(report))}</tbody></table>
{f"<h2>Governed no more</h2><ul id='removed'>{removed}</ul>" if removed else ""}
</main>
<footer><p>Made by ses-pool-enforcer {_e(__version__)}. Every lane's own report (each set)
is linked from the JSON and CSV reports.</p></footer>
<script>{SCRIPT}</script>
<script>{FILTER_SCRIPT}</script>
</body>
</html>
"""
