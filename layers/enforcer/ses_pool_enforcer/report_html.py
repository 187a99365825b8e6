"""The compliance report as one self-contained HTML page, for people: the ratio and its
trend over the last sweeps, outcomes per rule and per required pool, and the
non-compliant sets in a table sortable by any column; where the report has identities,
a section of their own (their ratio, outcomes, and three sortable tables: the
non-compliant ones, those whose default set is on the wrong pool, those with none).

Everything is inline (CSS, SVG charts, a small script) and a Content-Security-Policy
forbids loading anything else, so the page works offline, from S3 or as an email
attachment, and text from the account (set, rule and pool names, reasons) can never
run as code. Every chart number is in the page as text and as ``data-*`` attributes.

Pure: no boto3, no I/O, no clock. Standard library only.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from string import Template

from ses_pool_enforcer import __version__
from ses_pool_enforcer.report import (
    CLI_SWEEP_ID,
    IDENTITY_RATIO_DEFINITION,
    NO_TENANT,
    RATIO_DEFINITION,
    REPORTED_OUTCOMES,
    SEVERITY,
    Entry,
    IdentitySection,
    Report,
    TrendPoint,
    by_tenant,
    in_lanes,
)

MAX_CHART_ROWS = 40  # rules or pools drawn; the JSON report holds them all
LABEL_CHARS = 36
BAR_WIDTH = 520
ROW_HEIGHT = 22
SEGMENT_LABEL_WIDTH = 9  # SVG units a digit of a count needs inside its bar segment

# Colour-blind-safe (Okabe-Ito), darkest for the outcomes that need action.
COLOURS = {
    "compliant": "#009E73",
    "remediated": "#56B4E9",
    "exempt": "#0072B2",
    "unmanaged": "#BBBBBB",
    "violation": "#E69F00",
    "flapping": "#CC79A7",
    "error": "#D55E00",
}

STYLE = """
:root { color-scheme: light; --ink: #1b1f24; --muted: #59636e; --line: #d0d7de; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1.5rem; color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); margin: 0; }
.meta dt { display: inline; font-weight: 600; }
.meta dd { display: inline; margin: 0 1.2rem 0 .3rem; }
.ratio { font-size: 3rem; font-weight: 700; line-height: 1.1; margin: 1rem 0 0; }
.note { color: var(--muted); }
svg { width: 100%; height: auto; display: block; }
#trend-chart { max-width: 40rem; }
svg.bars { max-width: 52rem; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  fill: var(--ink); }
svg .axis { stroke: var(--line); }
svg text.count { fill: var(--ink); stroke: #fff; stroke-width: 3px; paint-order: stroke;
  font-weight: 600; }
svg .trend-line { fill: none; stroke: #0072B2; stroke-width: 2; }
svg .point { fill: #0072B2; }
svg .point.current { fill: #D55E00; }
.legend { list-style: none; padding: 0; margin: .25rem 0 .5rem; display: flex;
  flex-wrap: wrap; gap: .3rem 1rem; }
.legend span { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem;
  vertical-align: -1px; border-radius: 2px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
td.number, th.number { text-align: right; }
thead th { position: sticky; top: 0; background: #f6f8fa; }
th button { all: unset; cursor: pointer; font-weight: 600; }
th button:focus-visible { outline: 2px solid #0072B2; }
th[aria-sort=ascending] button::after { content: " \\25B2"; }
th[aria-sort=descending] button::after { content: " \\25BC"; }
.outcome { font-weight: 600; white-space: nowrap; }
footer { margin-top: 2rem; color: var(--muted); font-size: .85rem; }
@media print { thead th { position: static; } th button::after { content: ""; } }
"""
for _outcome, _colour in COLOURS.items():
    STYLE += (
        f".legend .{_outcome} {{ background: {_colour}; }} "
        f"svg rect.{_outcome} {{ fill: {_colour}; }}\n"
    )

# Sorts the table whose header button was clicked, by that column, toggling the
# direction; a cell's data-sort (if any) is its sort key, else its text.
SCRIPT = """
(function () {
  "use strict";
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  function key(row, column) {
    var cell = row.cells[column];
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (header, column) {
      header.querySelector("button").addEventListener("click", function () {
        var ascending = header.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (other) {
          other.setAttribute("aria-sort", "none");
        });
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var order = collator.compare(key(a, column), key(b, column));
          return ascending ? order : -order;
        });
        var sorted = document.createDocumentFragment();
        rows.forEach(function (row) { sorted.appendChild(row); });
        body.appendChild(sorted);
      });
    });
  });
  var filter = document.getElementById("tenant-filter");
  if (filter) {
    filter.addEventListener("change", function () {
      var wanted = filter.value, shown = 0;
      var rows = document.querySelectorAll("#non-compliant-table tbody tr");
      Array.prototype.forEach.call(rows, function (row) {
        var tenants = (row.getAttribute("data-tenants") || "").split(" ");
        row.hidden = wanted !== "" && tenants.indexOf(wanted) < 0;
        if (!row.hidden) { shown += 1; }
      });
      document.getElementById("tenant-shown").textContent = shown + " of " + rows.length + " shown";
    });
  }
})();
"""


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


# Only this page's own style and script may apply; nothing may be fetched.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src '{_digest(STYLE)}'; script-src '{_digest(SCRIPT)}'; "
    "base-uri 'none'; form-action 'none'"
)

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="$csp">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$style</style>
</head>
<body>
<header>
<h1>SES pool compliance report</h1>
<dl class="meta">
<dt>$made_by_label</dt><dd id="sweep-id">$sweep_id</dd>
<dt>$source_label</dt><dd>$trigger</dd>
<dt>Finished</dt><dd>$finished_at</dd>
<dt>Policy version</dt><dd id="policy-version">$policy_version</dd>
</dl>
$notes
</header>
<main>
<section id="compliance" aria-labelledby="compliance-title">
<h2 id="compliance-title">Compliance</h2>
<p class="ratio" id="ratio" data-ratio="$ratio_value">$ratio</p>
<p>$ratio_sentence</p>
$trend
</section>
<section id="outcomes" aria-labelledby="outcomes-title">
<h2 id="outcomes-title">Sets by outcome</h2>
$legend
$outcome_chart
</section>
<section aria-labelledby="by-rule-title">
<h2 id="by-rule-title">Outcomes per rule</h2>
$rule_chart
</section>
<section aria-labelledby="by-pool-title">
<h2 id="by-pool-title">Outcomes per required pool</h2>
$pool_chart
</section>
$tenants<section aria-labelledby="non-compliant-title">
<h2 id="non-compliant-title">Non-compliant sets ($non_compliant_count)</h2>
$non_compliant
</section>$identities
</main>
<footer>
<p>$definition.</p>
<p>Started $started_at, finished $finished_at. Every set, with every field, is in the
JSON and CSV reports of the same sweep. Made by ses-pool-enforcer $version.</p>
</footer>
<script>$script</script>
</body>
</html>
""")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _when(stamp: str) -> str:
    """An ISO 8601 time as ``2026-12-06 20:52:23 UTC`` (no microseconds to wrap a cell);
    anything else as given."""
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return f"{when:%Y-%m-%d %H:%M:%S}" + (" UTC" if when.tzinfo is not None else "")


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2%}"


def _clip(text: str, width: int = LABEL_CHARS) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# --------------------------------------------------------------------------- trend


def _trend(report: Report) -> str:
    if report.trend is None:
        return (
            '<p class="note" id="trend-note">No sweep history was found, so the trend '
            "over earlier sweeps is not shown.</p>"
        )
    points = [
        *report.trend,
        TrendPoint(report.sweep_id, report.finished_at, report.compliance_ratio),
    ]
    note = (
        "No earlier sweep is recorded yet: the trend starts with this one."
        if not report.trend
        else f"This sweep and the {len(report.trend)} before it."
    )
    return (
        f'<p class="note" id="trend-note">{note}</p>\n'
        + _trend_chart(points)
        + "\n"
        + _trend_table(points)
    )


def _trend_chart(points: Sequence[TrendPoint]) -> str:
    width, height, left, top, bottom = 640, 180, 44, 12, 28
    plot_w, plot_h = width - left - 16, height - top - bottom
    step = plot_w / max(1, len(points) - 1)

    def y(ratio: float) -> float:
        return top + (1 - ratio) * plot_h

    parts = [
        f'<svg id="trend-chart" viewBox="0 0 {width} {height}" role="img" '
        'aria-labelledby="trend-chart-title">',
        '<title id="trend-chart-title">Compliance ratio of the last sweeps</title>',
    ]
    for level in (0.0, 0.5, 1.0):
        parts.append(
            f'<line class="axis" x1="{left}" x2="{width - 16}" y1="{y(level):.1f}" '
            f'y2="{y(level):.1f}"/><text x="{left - 6}" y="{y(level) + 4:.1f}" '
            f'text-anchor="end">{level:.0%}</text>'
        )
    segment: list[str] = []
    circles = []
    for index, point in enumerate(points):
        x = left + index * step if len(points) > 1 else left + plot_w / 2
        if point.compliance_ratio is None:  # no managed set: a gap, not a zero
            if len(segment) > 1:
                parts.append(f'<polyline class="trend-line" points="{" ".join(segment)}"/>')
            segment = []
            continue
        segment.append(f"{x:.1f},{y(point.compliance_ratio):.1f}")
        current = " current" if index == len(points) - 1 else ""
        circles.append(
            f'<circle class="point{current}" cx="{x:.1f}" cy="{y(point.compliance_ratio):.1f}" '
            f'r="4" data-sweep="{_e(point.sweep_id)}" data-ratio="{point.compliance_ratio!r}">'
            f"<title>{_e(point.finished_at[:16])} ({_e(point.sweep_id)}): "
            f"{_percent(point.compliance_ratio)}</title></circle>"
        )
    if len(segment) > 1:
        parts.append(f'<polyline class="trend-line" points="{" ".join(segment)}"/>')
    parts += circles
    parts.append(
        f'<text x="{left}" y="{height - 8}">{_e(points[0].finished_at[:10])}</text>'
        f'<text x="{width - 16}" y="{height - 8}" text-anchor="end">'
        f"{_e(points[-1].finished_at[:10])}</text></svg>"
    )
    return "".join(parts)


def _trend_table(points: Sequence[TrendPoint]) -> str:
    rows = "".join(
        f"<tr><td>{_e(_when(p.finished_at))}</td><td>{_e(p.sweep_id)}</td>"
        f'<td class="number">{_percent(p.compliance_ratio)}</td></tr>'
        for p in reversed(points)
    )
    return (
        '<details><summary>The trend as a table</summary><table id="trend-table"><thead><tr>'
        '<th>Finished</th><th>Sweep</th><th class="number">Compliance</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></details>"
    )


# --------------------------------------------------------------------------- bars


def _legend(outcomes: Iterable[str]) -> str:
    items = "".join(f'<li><span class="{o}"></span>{o}</li>' for o in outcomes)
    return f'<ul class="legend">{items}</ul>'


def _outcome_chart(
    counts: Mapping[str, int], chart: str = "by-outcome", title: str = "Sets per outcome"
) -> str:
    rows = [(outcome, {"sets": n, outcome: n}) for outcome, n in counts.items()]
    return _bars(chart, title, rows, "outcomes")


def _ordered(table: Mapping[str, Mapping[str, int]]) -> list[tuple[str, Mapping[str, int]]]:
    """Rows that need attention first: most non-compliant sets, then most sets."""

    def bad(row: Mapping[str, int]) -> int:
        return sum(row.get(outcome, 0) for outcome in SEVERITY)

    return sorted(table.items(), key=lambda item: (-bad(item[1]), -item[1]["sets"], item[0]))


def _bars(chart: str, title: str, rows: Sequence[tuple[str, Mapping[str, int]]], noun: str) -> str:
    """Stacked horizontal bars, one per row (``sets`` and a count per outcome), each
    segment with its count in a title and in ``data-count``."""
    if not rows:
        return f'<p class="note">No {noun} to show.</p>'
    shown = rows[:MAX_CHART_ROWS]
    widest = max(row["sets"] for _, row in shown) or 1
    label_w, height = 250, len(shown) * ROW_HEIGHT + 4
    width = label_w + BAR_WIDTH + 70
    parts = [
        f'<svg id="{chart}" class="bars" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart}-title"><title id="{chart}-title">{_e(title)}</title>'
    ]
    for index, (name, row) in enumerate(shown):
        y = index * ROW_HEIGHT + 2
        parts.append(
            f'<g data-group="{_e(name)}" data-total="{row["sets"]}">'
            f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">'
            f"<title>{_e(name)}</title>{_e(_clip(name))}</text>"
        )
        x = float(label_w)
        for outcome in REPORTED_OUTCOMES:
            count = row.get(outcome, 0)
            if not count:
                continue
            w = BAR_WIDTH * count / widest
            parts.append(
                f'<rect class="{outcome}" x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" '
                f'height="{ROW_HEIGHT - 6}" data-outcome="{outcome}" data-count="{count}">'
                f"<title>{_e(name)}: {count:,} {outcome}</title></rect>"
            )
            if w >= SEGMENT_LABEL_WIDTH * len(f"{count:,}"):  # the count fits inside
                parts.append(
                    f'<text class="count" x="{x + w / 2:.1f}" y="{y + 14}" '
                    f'text-anchor="middle" aria-hidden="true">{count:,}</text>'
                )
            x += w
        parts.append(f'<text class="total" x="{x + 6:.1f}" y="{y + 14}">{row["sets"]:,}</text></g>')
    parts.append("</svg>")
    if len(rows) > len(shown):
        parts.append(
            f'<p class="note">{len(shown)} of {len(rows):,} {noun} shown, those with the most '
            "non-compliant sets first; the JSON report has them all.</p>"
        )
    return "".join(parts)


# --------------------------------------------------------------------------- table

COLUMNS = ("Set", "Outcome", "Current pool", "Expected pool", "Rule", "Reason", "Checked at")
IDENTITY_COLUMNS = (
    "Identity",
    "Outcome",
    "Default set",
    "Required",
    "Rule",
    "Reason",
    "Checked at",
)
WRONG_POOL_COLUMNS = ("Identity", "Default set", "Set outcome", "Current pool", "Expected pool")
NO_DEFAULT_COLUMNS = ("Identity", "Outcome", "Required", "Rule")
# A report over several lanes (the CLI's --account, --all-accounts) starts each row with
# its lane, as its table, CSV and JSON forms do.
LANE_COLUMNS = ("Account", "Region")
SORT_NOTE = '<p class="note">Click a column header to sort by it; click again to reverse.</p>'


def _sortable(table: str, columns: Iterable[str], rows: str) -> str:
    """A table the page's script sorts by the column whose header is clicked."""
    head = "".join(
        f'<th scope="col" aria-sort="none"><button type="button">{c}</button></th>' for c in columns
    )
    return (
        f'<table id="{table}" class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _lane_cells(entry: object, lanes: bool) -> str:
    """The row's account and region cells in a report over several lanes, else none."""
    if not lanes:
        return ""
    return "".join(f"<td>{_e(getattr(entry, k) or '-')}</td>" for k in ("account", "region"))


def _outcome_cell(outcome: str) -> str:
    """An outcome that sorts by severity, most severe first."""
    return f'<td class="outcome" data-sort="{SEVERITY.get(outcome, 9)}">{_e(outcome)}</td>'


def _pool_state(entry: Entry) -> str:
    """The target pool's state as read, for a cell: ``STANDARD, 2 IPs, coldest 10 % warm``."""
    parts = [entry.pool_scaling_mode or "scaling mode unknown"]
    if entry.pool_ips is not None:
        parts.append(f"{entry.pool_ips} IP{'' if entry.pool_ips == 1 else 's'}")
    if entry.pool_coldest_warmup is not None:
        parts.append(f"coldest {entry.pool_coldest_warmup} % warm")
    return ", ".join(parts) if entry.pool_scaling_mode or entry.pool_ips is not None else "-"


def _non_compliant(report: Report) -> str:
    bad = report.non_compliant()
    if not bad:
        return '<p id="all-compliant">Every managed set is compliant, remediated or exempt.</p>'
    lanes = in_lanes(report)
    # Columns only a report that knows them has: the target pool's state, the tenants.
    pools = any(e.pool_scaling_mode is not None or e.pool_ips is not None for e in bad)
    tenants = any(e.tenants is not None for e in report.entries)
    rows = "".join(
        f"<tr{_tenants_attribute(e) if tenants else ''}>{_lane_cells(e, lanes)}"
        f"<td>{_e(e.configuration_set)}</td>{_outcome_cell(e.outcome)}"
        f"<td>{_e(e.current_pool or '-')}</td><td>{_e(e.expected_pool or '-')}</td>"
        f"<td>{_e(e.rule_id or '-')}</td><td>{_e(e.reason)}</td>"
        f"<td>{_e(_when(e.checked_at))}</td>"
        + (f"<td>{_e(_pool_state(e))}</td>" if pools else "")
        + (f"<td>{_e(', '.join(e.tenants or ()) or '-')}</td>" if tenants else "")
        + "</tr>"
        for e in bad
    )
    columns = (*LANE_COLUMNS, *COLUMNS) if lanes else COLUMNS
    columns = (
        *columns,
        *(("Target pool state",) if pools else ()),
        *(("Tenants",) if tenants else ()),
    )
    return SORT_NOTE + _sortable("non-compliant-table", columns, rows)


def _tenants_attribute(entry: Entry) -> str:
    return f' data-tenants="{_e(" ".join(entry.tenants or ()))}"'


def _tenants(report: Report) -> str:
    """Outcomes per tenant, and a filter of the non-compliant sets by tenant: only in a
    report whose sets' tenants were read (the policy names tenants)."""
    if not any(e.tenants is not None for e in report.entries):
        return ""
    table = by_tenant(report.entries)
    options = "".join(
        f'<option value="{_e(name)}">{_e(name)}</option>' for name in table if name != NO_TENANT
    )
    return (
        '<section aria-labelledby="by-tenant-title">'
        '<h2 id="by-tenant-title">Outcomes per tenant</h2>'
        + _bars("by-tenant", "Outcomes per tenant", _ordered(table), "tenants")
        + '<p><label for="tenant-filter">Show the non-compliant sets of </label>'
        '<select id="tenant-filter"><option value="">every tenant</option>'
        f'{options}</select> <span id="tenant-shown" aria-live="polite"></span></p>'
        "</section>\n"
    )


# --------------------------------------------------------------------------- identities


def _identity_tables(section: IdentitySection, lanes: bool) -> list[str]:
    """The three lists, each a heading and a sortable table, or a line saying it is empty;
    ``lanes``: each row starts with its account and region."""
    bad = section.non_compliant()
    # A Tenants column where the identities' tenants were read, as for the sets.
    tenants = any(e.tenants is not None for e in section.entries)
    non_compliant = "".join(
        f"<tr>{_lane_cells(e, lanes)}<td>{_e(e.identity)}</td>{_outcome_cell(e.outcome)}"
        f"<td>{_e(e.default_configuration_set or '-')}</td><td>{_e(e.required or '-')}</td>"
        f"<td>{_e(e.rule_id or '-')}</td><td>{_e(e.reason)}</td>"
        f"<td>{_e(_when(e.checked_at))}</td>"
        + (f"<td>{_e(', '.join(e.tenants or ()) or '-')}</td>" if tenants else "")
        + "</tr>"
        for e in bad
    )
    wrong_pool = "".join(
        f"<tr>{_lane_cells(d, lanes)}<td>{_e(d.identity)}</td><td>{_e(d.configuration_set)}</td>"
        f"{_outcome_cell(d.set_outcome)}<td>{_e(d.current_pool or '-')}</td>"
        f"<td>{_e(d.expected_pool or '-')}</td></tr>"
        for d in section.wrong_pool_defaults
    )
    no_default = "".join(
        f"<tr>{_lane_cells(e, lanes)}<td>{_e(e.identity)}</td>{_outcome_cell(e.outcome)}"
        f"<td>{_e(e.required or '-')}</td><td>{_e(e.rule_id or '-')}</td></tr>"
        for e in section.without_default
    )
    lists = (
        ("non-compliant-identities", "Non-compliant identities", bad,
         (*IDENTITY_COLUMNS, *(("Tenants",) if tenants else ())),
         non_compliant, "Every managed identity is compliant, remediated or exempt."),
        ("wrong-pool-defaults", "Identities whose default set is on the wrong pool",
         section.wrong_pool_defaults, WRONG_POOL_COLUMNS, wrong_pool,
         "No identity's default set is on the wrong pool."),
        ("without-default", "Identities without a default configuration set",
         section.without_default, NO_DEFAULT_COLUMNS, no_default,
         "Every identity has a default configuration set."),
    )  # fmt: skip
    parts = [SORT_NOTE] if any(items for _, _, items, *_ in lists) else []
    for table, title, items, columns, rows, empty in lists:
        columns = (*LANE_COLUMNS, *columns) if lanes else columns
        parts.append(f'<h3 id="{table}-title">{title} ({len(items):,})</h3>')
        parts.append(_sortable(f"{table}-table", columns, rows) if items else f"<p>{empty}</p>")
    return parts


def _identities(report: Report) -> str:
    """The identities section; nothing where the report has no identities."""
    section = report.identities
    if section is None:
        return ""
    ratio = section.compliance_ratio
    sentence = (
        f"{section.compliant:,} of {section.managed:,} managed identities are compliant, "
        f"remediated or exempt; {section.total:,} identities in all, "
        f"{section.counts.get('unmanaged', 0):,} of them unmanaged."
        if ratio is not None
        else f"No identity is managed ({section.total:,} in all): their ratio is undefined."
    )
    counts = {o: n for o, n in section.counts.items() if n}
    definition = IDENTITY_RATIO_DEFINITION[:1].upper() + IDENTITY_RATIO_DEFINITION[1:]
    parts = [
        '\n<section id="identities" aria-labelledby="identities-title">',
        '<h2 id="identities-title">Identities</h2>',
        '<p class="note">Mail that names no configuration set uses its sending identity\'s '
        "default set, so it leaves from that set's pool (from ses-default-dedicated-pool "
        "when the identity has none).</p>",
        f'<p class="ratio" id="identity-ratio" data-ratio="{"" if ratio is None else repr(ratio)}">'
        f"{_percent(ratio)}</p>",
        f'<p id="identity-ratio-sentence">{_e(sentence)}</p>',
        _legend(o for o in REPORTED_OUTCOMES if counts.get(o)),
        _outcome_chart(counts, "identities-by-outcome", "Identities per outcome"),
        *_identity_tables(section, in_lanes(report)),
        f'<p class="note" id="identities-definition">{_e(definition)}. Every identity, '
        "with every field, is in the JSON report and the identities CSV of the same sweep.</p>",
        "</section>",
    ]
    return "\n".join(parts)


# --------------------------------------------------------------------------- page


def to_html(report: Report) -> str:
    """The whole page, UTF-8 text."""
    ratio = report.compliance_ratio
    sentence = (
        f"{report.compliant:,} of {report.managed:,} managed sets are compliant, remediated "
        f"or exempt; {report.total:,} sets in all, "
        f"{report.counts.get('unmanaged', 0):,} of them unmanaged."
        if ratio is not None
        else f"No set is managed ({report.total:,} sets in all): the ratio is undefined."
    )
    by_cli = report.sweep_id == CLI_SWEEP_ID
    return PAGE.substitute(
        csp=CONTENT_SECURITY_POLICY,
        title=_e(
            f"SES pool compliance {_percent(ratio)}: "
            + ("report by the CLI" if by_cli else f"sweep {report.sweep_id}")
        ),
        style=STYLE,
        script=SCRIPT,
        made_by_label="Made by" if by_cli else "Sweep",
        source_label="Source" if by_cli else "Trigger",
        sweep_id="the CLI (ses-pool-enforcer report)" if by_cli else _e(report.sweep_id),
        trigger=_e(report.trigger),
        started_at=_e(_when(report.started_at)),
        finished_at=_e(_when(report.finished_at)),
        policy_version=_e(report.policy_version or "not recorded"),
        notes="".join(f'<p class="note">{_e(note)}</p>' for note in report.notes),
        ratio=_percent(ratio),
        ratio_value="" if ratio is None else repr(ratio),
        ratio_sentence=_e(sentence),
        trend=_trend(report),
        legend=_legend(o for o in REPORTED_OUTCOMES if report.counts.get(o)),
        outcome_chart=_outcome_chart({o: n for o, n in report.counts.items() if n}),
        rule_chart=_bars("by-rule", "Outcomes per rule", _ordered(report.by_rule), "rules"),
        pool_chart=_bars(
            "by-pool", "Outcomes per required pool", _ordered(report.by_pool), "pools"
        ),
        tenants=_tenants(report),
        non_compliant_count=f"{len(report.non_compliant()):,}",
        non_compliant=_non_compliant(report),
        identities=_identities(report),
        definition=_e(RATIO_DEFINITION[:1].upper() + RATIO_DEFINITION[1:]),
        version=_e(__version__),
    )
