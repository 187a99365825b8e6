"""What the report tests share: inventory entries (sets and identities) made in one
line, and the HTML compliance report read back as a person (or a test) would, without a
browser: chart segments and totals, texts by id, the rows of each table, and the page's
script and style elements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html.parser import HTMLParser

from ses_pool_enforcer.model import Outcome, OutcomeRecord
from ses_pool_enforcer.report import Entry, IdentityEntry, Report, build_report

NOW = dt.datetime(2026, 11, 26, 15, 30, tzinfo=dt.UTC)


def entry(
    name: str,
    outcome: Outcome,
    rule: str | None = "marketing",
    expected: str | None = "marketing",
    current: str | None = "marketing",
    reason: str = "why",
) -> Entry:
    return Entry.from_record(OutcomeRecord(name, outcome, current, expected, rule, reason, NOW))


def identity(
    name: str,
    outcome: Outcome,
    default: str | None = "mkt-a",
    required: str | None = "mkt-*",
    rule: str | None = "newsletters",
    reason: str = "why",
) -> IdentityEntry:
    return IdentityEntry(name, outcome.value, default, required, rule, reason, NOW.isoformat())


def report_of(
    sets: Iterable[Entry], identities: Iterable[IdentityEntry] | None, **extra: object
) -> Report:
    """The report of sweep-1, finished at NOW, of these sets and identities."""
    fields: dict[str, object] = {
        "sweep_id": "sweep-1",
        "trigger": "schedule",
        "started_at": "2026-11-26T12:00:00+00:00",
        "finished_at": NOW.isoformat(),
        "identities": identities,
        **extra,
    }
    return build_report(sets, **fields)  # type: ignore[arg-type]


class Page(HTMLParser):
    """What a reader (or a browser) gets from the page: chart segments, texts by id,
    each table's rows by the table's id, and every script and style element."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, dict[str, int]]] = {}
        self.totals: dict[str, dict[str, int]] = {}
        self.texts: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.tags: list[str] = []
        self._chart: str | None = None
        self._group: str | None = None
        self._id: str | None = None
        self._cell: list[str] | None = None
        self._in: str | None = None
        self._table: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if tag == "svg" and "id" in a:
            self._chart = a["id"]
            self.charts[self._chart] = {}
            self.totals[self._chart] = {}
        elif tag == "g" and "data-group" in a and self._chart:
            self._group = a["data-group"]
            self.charts[self._chart][self._group] = {}
            self.totals[self._chart][self._group] = int(a["data-total"])
        elif tag == "rect" and self._chart and self._group is not None:
            self.charts[self._chart][self._group][a["data-outcome"]] = int(a["data-count"])
        elif tag == "table":
            self._table = a.get("id")
        elif tag == "tr" and self._in == "tbody" and self._table:
            self.tables.setdefault(self._table, []).append([])
        elif tag == "td" and self._in == "tbody" and self._table:
            self._cell = []
        elif tag in ("tbody", "script", "style"):
            self._in = tag
            if tag != "tbody":
                self._cell = []
        if "id" in a and tag not in ("svg",):
            self._id = a["id"]
            self.texts[self._id] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        elif tag == "g":
            self._group = None
        elif tag == "td" and self._cell is not None and self._table in self.tables:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag in ("script", "style") and self._cell is not None:
            (self.scripts if tag == "script" else self.styles).append("".join(self._cell))
            self._cell, self._in = None, None
        elif tag == "tbody":
            self._in = None
        if self._id is not None and tag in ("dd", "p", "h2", "h3"):
            self._id = None

    @property
    def rows(self) -> list[list[str]]:
        """The non-compliant sets' rows."""
        return self.tables.get("non-compliant-table", [])

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._id is not None:
            self.texts[self._id] += data
