"""The compliance report of a sweep: built from the inventory, rendered for people (an
SNS summary that fits one message for any account size) and in full (JSON and CSV).
Where the deployment looks at sending identities too, the report gains an identities
section, built from the identity inventory's rows the same way.

Pure: no boto3, no I/O, no clock.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, TypeVar

from ses_pool_enforcer.model import NON_COMPLIANT_OUTCOMES, Outcome, OutcomeRecord

COMPLIANT_OUTCOMES = frozenset({Outcome.COMPLIANT, Outcome.REMEDIATED, Outcome.EXEMPT})
REPORTED_OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome if o is not Outcome.DELETED)
RATIO_DEFINITION = (
    "compliance ratio = (compliant + remediated + exempt) / managed sets; managed = every "
    "set except the unmanaged ones (no rule and no default applies to them); undefined "
    "when no set is managed"
)
# Identities have a ratio of their own: the sets' ratio above stays about sets only, so
# it reads the same with or without identities.
IDENTITY_RATIO_DEFINITION = (
    "identity compliance ratio = (compliant + remediated + exempt) / managed identities; "
    "managed = every identity except the unmanaged ones (no identity rule applies to "
    "them); undefined when no identity is managed; identities never count in the sets' ratio"
)
NO_RULE = "(no rule)"
NO_POOL = "(none)"
ENTRY_COLUMNS = (
    "configuration_set",
    "outcome",
    "current_pool",
    "expected_pool",
    "rule_id",
    "reason",
    "checked_at",
)
# The policy version is the same on every row: a last column keeps the CSV one plain
# table for spreadsheets and csv readers (a comment line above the header would not).
CSV_COLUMNS = (*ENTRY_COLUMNS, "policy_version")
IDENTITY_COLUMNS = (
    "identity",
    "outcome",
    "default_configuration_set",
    "required",
    "rule_id",
    "reason",
    "checked_at",
)
IDENTITY_CSV_COLUMNS = (*IDENTITY_COLUMNS, "policy_version")
# Identities go in a CSV file of their own (``<sweep>-identities.csv``): one row kind per
# file keeps each a plain table whose header names every column.
IDENTITIES_PART = "identities"
# The listed sets come first by severity, then by name.
CLI_SWEEP_ID = "cli"  # the sweep_id of a report the CLI made, not a sweep
SEVERITY = {Outcome.ERROR.value: 0, Outcome.FLAPPING.value: 1, Outcome.VIOLATION.value: 2}

# SNS takes 262,144 bytes per publish, attributes and subject included; the alert
# envelope carries the text twice and the JSON document five times (one per protocol).
SNS_MESSAGE_LIMIT = 262_144
SNS_BUDGET = 240_000
LISTED_STEPS = (100, 50, 25, 10, 5, 0)
TABLE_ROW_STEPS = (50, 20, 5)
REASON_WIDTH = 120

T = TypeVar("T")
# Columns a report has only when some entry knows them (see Entry).
POOL_STATE_COLUMNS = ("pool_scaling_mode", "pool_ips", "pool_coldest_warmup")
TENANTS_COLUMN = "tenants"
NO_TENANT = "(no tenant)"


def _tenants(stored: str | None) -> tuple[str, ...] | None:
    """An inventory row's comma-joined tenants (None: not read)."""
    return None if stored is None else tuple(t for t in stored.split(",") if t)


def _number(text: str | None) -> int | None:
    return None if text is None or text == "" else int(text)


@dataclass(frozen=True)
class Entry:
    """One set's latest outcome, as the inventory holds it."""

    configuration_set: str
    outcome: str
    current_pool: str | None = None
    expected_pool: str | None = None
    rule_id: str | None = None
    reason: str = ""
    checked_at: str = ""
    # The lane of a report over several (the CLI's --account, --all-accounts); None in a
    # lane's own report, whose JSON and CSV then have no such fields.
    account: str | None = None
    region: str | None = None
    # The target pool's state when the rule asked its health, and the set's tenants when
    # the policy names tenants: None (absent from JSON and CSV) otherwise.
    pool_scaling_mode: str | None = None
    pool_ips: int | None = None
    pool_coldest_warmup: int | None = None
    tenants: tuple[str, ...] | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> Entry:
        tenants = row.get("tenants")
        return cls(
            configuration_set=row["configuration_set"],
            outcome=row.get("outcome", Outcome.ERROR.value),
            current_pool=row.get("current_pool") or None,
            expected_pool=row.get("expected_pool") or None,
            rule_id=row.get("rule_id") or None,
            reason=row.get("reason", ""),
            checked_at=row.get("checked_at", ""),
            pool_scaling_mode=row.get("pool_scaling_mode") or None,
            pool_ips=_number(row.get("pool_ips")),
            pool_coldest_warmup=_number(row.get("pool_coldest_warmup")),
            tenants=_tenants(tenants),
        )

    @classmethod
    def from_record(cls, record: OutcomeRecord) -> Entry:
        return cls(
            configuration_set=record.configuration_set,
            outcome=record.outcome.value,
            current_pool=record.current_pool,
            expected_pool=record.expected_pool,
            rule_id=record.rule_id,
            reason=record.reason,
            checked_at=record.checked_at.isoformat(),
            pool_scaling_mode=record.pool_scaling_mode,
            pool_ips=record.pool_ips,
            pool_coldest_warmup=record.pool_coldest_warmup,
            tenants=record.tenants,
        )

    @property
    def non_compliant(self) -> bool:
        return self.outcome in NON_COMPLIANT_OUTCOMES


@dataclass(frozen=True)
class IdentityEntry:
    """One sending identity's latest outcome, as the identity inventory holds it.
    ``required`` is the rule's requirement as written: a set name, a glob, or "any"."""

    identity: str
    outcome: str
    default_configuration_set: str | None = None
    required: str | None = None
    rule_id: str | None = None
    reason: str = ""
    checked_at: str = ""
    # Its lane, as an Entry's: None in a lane's own report.
    account: str | None = None
    region: str | None = None
    # Its tenants when the policy names tenants, as a set's: None (absent) otherwise.
    tenants: tuple[str, ...] | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> IdentityEntry:
        return cls(
            identity=row["identity"],
            outcome=row.get("outcome", Outcome.ERROR.value),
            default_configuration_set=row.get("default_configuration_set") or None,
            required=row.get("required") or None,
            rule_id=row.get("rule_id") or None,
            reason=row.get("reason", ""),
            checked_at=row.get("checked_at", ""),
            tenants=_tenants(row.get("tenants")),
        )

    @property
    def non_compliant(self) -> bool:
        return self.outcome in NON_COMPLIANT_OUTCOMES


@dataclass(frozen=True)
class WrongPoolDefault:
    """An identity whose default configuration set is one the policy would move: the
    set's own entry is non-compliant (on the wrong pool and not moved), so the identity's
    mail that names no set leaves from ``current_pool`` instead of ``expected_pool``."""

    identity: str
    configuration_set: str
    set_outcome: str
    current_pool: str | None
    expected_pool: str | None
    # The lane of both (an identity's default set is one of its own lane's sets).
    account: str | None = None
    region: str | None = None


class Tally:
    """Counts per outcome and the compliance ratio over them, defined alike for sets
    (``RATIO_DEFINITION``) and identities (``IDENTITY_RATIO_DEFINITION``)."""

    entries: tuple[Any, ...]
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return len(self.entries)

    @property
    def managed(self) -> int:
        return self.total - self.counts.get(Outcome.UNMANAGED.value, 0)

    @property
    def compliant(self) -> int:
        return sum(self.counts.get(o.value, 0) for o in COMPLIANT_OUTCOMES)

    @property
    def compliance_ratio(self) -> float | None:
        return self.compliant / self.managed if self.managed else None


@dataclass(frozen=True)
class IdentitySection(Tally):
    """The report's identities: every one in name order, counts per outcome, those
    without a default configuration set, and those whose default set is on the wrong
    pool (worst set outcome first, then by set and identity)."""

    entries: tuple[IdentityEntry, ...]
    counts: dict[str, int]
    without_default: tuple[IdentityEntry, ...]
    wrong_pool_defaults: tuple[WrongPoolDefault, ...]

    def non_compliant(self) -> list[IdentityEntry]:
        found = [e for e in self.entries if e.non_compliant]
        return sorted(found, key=lambda e: (SEVERITY.get(e.outcome, 9), e.identity))


class TrendPoint(NamedTuple):
    """One earlier sweep's compliance, for the report's trend."""

    sweep_id: str
    finished_at: str
    compliance_ratio: float | None


@dataclass(frozen=True)
class Report(Tally):
    sweep_id: str
    trigger: str
    started_at: str
    finished_at: str
    entries: tuple[Entry, ...]
    counts: dict[str, int]
    by_rule: dict[str, dict[str, int]]
    by_pool: dict[str, dict[str, int]]
    by_current_pool: dict[str, int]
    removed: int = 0
    # The policy version the sets were judged under; None where it is not known.
    policy_version: str | None = None
    # Earlier sweeps, oldest first, this one excluded; None where no history was found,
    # () where there is none yet.
    trend: tuple[TrendPoint, ...] | None = None
    # The sending identities; None where the deployment does not look at them (the
    # report then says nothing about identities).
    identities: IdentitySection | None = None
    # What the reader should know about the sweep itself (e.g. Security Hub not enabled).
    notes: tuple[str, ...] = ()

    def non_compliant(self) -> list[Entry]:
        found = [e for e in self.entries if e.non_compliant]
        return sorted(found, key=lambda e: (SEVERITY.get(e.outcome, 9), e.configuration_set))

    def key(self, extension: str, part: str | None = None) -> str:
        """Where the full report lives in the report bucket; ``part`` names a file of
        its own beside it (``<sweep>-identities.csv``)."""
        name = f"{self.sweep_id}-{part}" if part else self.sweep_id
        return f"reports/{self.finished_at[:10]}/{name}.{extension}"


def _table(entries: Iterable[Entry], key_of: Any) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {}
    for entry in entries:
        table.setdefault(key_of(entry), Counter())[entry.outcome] += 1
    return {
        key: {"sets": sum(c.values()), **{o: c[o] for o in REPORTED_OUTCOMES if c[o]}}
        for key, c in sorted(table.items())
    }


def _counts(outcomes: Iterable[str]) -> dict[str, int]:
    """Every reported outcome, zero or not, then any other outcome found."""
    counted = Counter(outcomes)
    counts = {o: counted.get(o, 0) for o in REPORTED_OUTCOMES}
    counts.update({o: n for o, n in counted.items() if o not in counts})
    return counts


def _identity_section(
    identities: Iterable[IdentityEntry], sets: Iterable[Entry]
) -> IdentitySection:
    ordered = tuple(sorted(identities, key=lambda e: (e.account or "", e.region or "", e.identity)))
    # Keyed by lane too: a default set is one of the identity's own lane's sets.
    non_compliant_sets = {
        (e.account, e.region, e.configuration_set): e for e in sets if e.non_compliant
    }
    wrong_pool = [
        WrongPoolDefault(
            e.identity,
            s.configuration_set,
            s.outcome,
            s.current_pool,
            s.expected_pool,
            e.account,
            e.region,
        )
        for e in ordered
        if e.default_configuration_set is not None
        and (s := non_compliant_sets.get((e.account, e.region, e.default_configuration_set)))
        is not None
    ]
    wrong_pool.sort(key=lambda d: (SEVERITY.get(d.set_outcome, 9), d.configuration_set, d.identity))
    return IdentitySection(
        entries=ordered,
        counts=_counts(e.outcome for e in ordered),
        without_default=tuple(e for e in ordered if e.default_configuration_set is None),
        wrong_pool_defaults=tuple(wrong_pool),
    )


def build_report(
    entries: Iterable[Entry],
    *,
    sweep_id: str,
    trigger: str,
    started_at: str,
    finished_at: str,
    removed: int = 0,
    policy_version: str | None = None,
    trend: Iterable[tuple[str, str, float | None]] | None = None,
    notes: Iterable[str] = (),
    identities: Iterable[IdentityEntry] | None = None,
) -> Report:
    """``identities``: the identity inventory's entries; None where the deployment does
    not look at identities."""
    ordered = tuple(
        sorted(entries, key=lambda e: (e.account or "", e.region or "", e.configuration_set))
    )
    return Report(
        sweep_id=sweep_id,
        trigger=trigger,
        started_at=started_at,
        finished_at=finished_at,
        entries=ordered,
        counts=_counts(e.outcome for e in ordered),
        by_rule=_table(ordered, lambda e: e.rule_id or NO_RULE),
        by_pool=_table(ordered, lambda e: e.expected_pool or NO_POOL),
        by_current_pool=dict(sorted(Counter(e.current_pool or NO_POOL for e in ordered).items())),
        removed=removed,
        policy_version=policy_version,
        trend=None if trend is None else tuple(TrendPoint(*point) for point in trend),
        notes=tuple(notes),
        identities=None if identities is None else _identity_section(identities, ordered),
    )


# --------------------------------------------------------------------------- full report


def _overview(report: Report) -> dict[str, Any]:
    return {
        "kind": "compliance-report",
        "sweep_id": report.sweep_id,
        "trigger": report.trigger,
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "policy_version": report.policy_version,
        "total": report.total,
        "managed": report.managed,
        "compliance_ratio": report.compliance_ratio,
        "compliance_ratio_definition": RATIO_DEFINITION,
        "counts": report.counts,
        "non_compliant_total": sum(1 for e in report.entries if e.non_compliant),
        "removed_from_inventory": report.removed,
        "notes": list(report.notes),
    }


def _identity_overview(section: IdentitySection) -> dict[str, Any]:
    return {
        "total": section.total,
        "managed": section.managed,
        "compliance_ratio": section.compliance_ratio,
        "compliance_ratio_definition": IDENTITY_RATIO_DEFINITION,
        "counts": section.counts,
        "non_compliant_total": sum(1 for e in section.entries if e.non_compliant),
        "without_default_total": len(section.without_default),
        "wrong_pool_defaults_total": len(section.wrong_pool_defaults),
    }


def to_json(report: Report) -> str:
    document = {
        **_overview(report),
        "by_rule": report.by_rule,
        "by_pool": report.by_pool,
        "by_current_pool": report.by_current_pool,
        **({"by_tenant": by_tenant(report.entries)} if _has_tenants(report.entries) else {}),
        "trend": None if report.trend is None else [p._asdict() for p in report.trend],
        "sets": [_entry(e) for e in report.entries],
    }
    if (section := report.identities) is not None:
        document["identities"] = {
            **_identity_overview(section),
            "non_compliant": [e.identity for e in section.non_compliant()],
            "without_default": [e.identity for e in section.without_default],
            "wrong_pool_defaults": [_entry(d) for d in section.wrong_pool_defaults],
            "entries": [_entry(e) for e in section.entries],
        }
    return json.dumps(document, indent=1, sort_keys=False)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, tuple):  # a set's tenants
        return ";".join(value)
    return value


def _csv(columns: tuple[str, ...], entries: Iterable[object], version: str | None) -> str:
    """One row per entry, absent values empty, the policy version in a last column."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*columns, "policy_version"))
    for entry in entries:
        writer.writerow([*(_cell(getattr(entry, c)) for c in columns), version or ""])
    return out.getvalue()


def _has_pool_state(entries: Iterable[Entry]) -> bool:
    return any(e.pool_scaling_mode is not None or e.pool_ips is not None for e in entries)


def _has_tenants(entries: Iterable[Entry | IdentityEntry]) -> bool:
    return any(e.tenants is not None for e in entries)


def by_tenant(entries: Iterable[Entry]) -> dict[str, dict[str, int]]:
    """Counts by outcome per tenant: a set of several tenants counts under each, a set
    read with none under ``(no tenant)``; sets whose tenants were not read are left out."""
    table: dict[str, Counter[str]] = {}
    for entry in entries:
        if entry.tenants is None:
            continue
        for tenant in entry.tenants or (NO_TENANT,):
            table.setdefault(tenant, Counter())[entry.outcome] += 1
    return {
        key: {"sets": sum(c.values()), **{o: c[o] for o in REPORTED_OUTCOMES if c[o]}}
        for key, c in sorted(table.items())
    }


LANE_COLUMNS = ("account", "region")


def in_lanes(report: Report) -> bool:
    """Whether the report's entries (sets or identities) name their lanes (a report over
    several lanes)."""
    identities = report.identities.entries if report.identities is not None else ()
    return any(e.account is not None for e in report.entries) or any(
        e.account is not None for e in identities
    )


def _entry(entry: Entry | IdentityEntry | WrongPoolDefault) -> dict[str, Any]:
    """An entry as JSON: its lane first when it names one, else exactly the lane's own
    report's fields."""
    data = asdict(entry)
    lane = {k: data.pop(k) for k in LANE_COLUMNS}
    for name in (*POOL_STATE_COLUMNS, TENANTS_COLUMN):  # absent, not null, when not read
        if name in data and data[name] is None:
            del data[name]
    if data.get(TENANTS_COLUMN) is not None:
        data[TENANTS_COLUMN] = list(data[TENANTS_COLUMN])
    return {**lane, **data} if entry.account is not None else data


def to_csv(report: Report) -> str:
    columns = (*LANE_COLUMNS, *ENTRY_COLUMNS) if in_lanes(report) else ENTRY_COLUMNS
    if _has_pool_state(report.entries):
        columns = (*columns, *POOL_STATE_COLUMNS)
    if _has_tenants(report.entries):
        columns = (*columns, TENANTS_COLUMN)
    return _csv(columns, report.entries, report.policy_version)


def to_identities_csv(report: Report) -> str | None:
    """The identities as a CSV of their own; None where the report has no identities."""
    if report.identities is None:
        return None
    columns = (*LANE_COLUMNS, *IDENTITY_COLUMNS) if in_lanes(report) else IDENTITY_COLUMNS
    if _has_tenants(report.identities.entries):
        columns = (*columns, TENANTS_COLUMN)
    return _csv(columns, report.identities.entries, report.policy_version)


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Links:
    """Where the full report was stored."""

    json_uri: str
    csv_uri: str
    json_console_url: str
    csv_console_url: str
    html_uri: str | None = None
    html_console_url: str | None = None
    identities_csv_uri: str | None = None
    identities_csv_console_url: str | None = None


@dataclass(frozen=True)
class Summary:
    title: str
    text: str
    document: dict[str, Any]
    listed: int
    attributes: dict[str, str] = field(default_factory=lambda: {"outcome": "report"})


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2%}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _render_table(
    title: str, table: Mapping[str, Mapping[str, int]], rows: int, lines: list[str]
) -> None:
    columns = [o for o in REPORTED_OUTCOMES if any(r.get(o) for r in table.values())]
    width = min(40, max([len(k) for k in table] + [len(title)]))
    lines.append(f"{title:<{width}}  {'sets':>7}" + "".join(f"  {c:>10}" for c in columns))
    for key, row in list(table.items())[:rows]:
        lines.append(
            f"{_clip(key, width):<{width}}  {row['sets']:>7,}"
            + "".join(f"  {row.get(c, 0):>10,}" for c in columns)
        )
    if len(table) > rows:
        lines.append(f"... and {len(table) - rows:,} more rows in the full report")
    lines.append("")


def render_summary(
    report: Report, links: Links | None, listed: int = 100, table_rows: int = 50
) -> Summary:
    """The SNS message: a readable text and a JSON document, with at most ``listed``
    non-compliant sets and ``table_rows`` rows per table."""
    bad = report.non_compliant()
    shown = bad[:listed]
    ratio = report.compliance_ratio
    title = (
        f"[ses-pool-enforcer] compliance report: {_percent(ratio)} compliant, "
        f"{len(bad):,} non-compliant"
    )
    section = report.identities
    bad_identities = section.non_compliant() if section is not None else []
    if bad_identities and len(more := f"{title} (+{len(bad_identities):,} identities)") < 100:
        title = more

    lines = [
        f"Compliance report of sweep {report.sweep_id} (trigger: {report.trigger})",
        f"Started {report.started_at}, finished {report.finished_at}.",
        f"Judged under policy version {report.policy_version or 'unknown'}.",
        "",
        f"Compliance:    {_percent(ratio)} ({report.compliant:,} of {report.managed:,} "
        "managed sets compliant, remediated or exempt)",
        f"Non-compliant: {len(bad):,}",
        f"Sets:          {report.total:,} ({report.counts.get('unmanaged', 0):,} unmanaged)",
    ]
    lines += [f"Note:          {note}" for note in report.notes]
    if report.trend:
        earlier = ", ".join(_percent(p.compliance_ratio) for p in report.trend[-5:])
        lines.append(f"Earlier sweeps: {earlier} (oldest first)")
    if report.removed:
        lines.append(f"Removed:       {report.removed:,} sets no longer exist")
    lines += ["", "Sets by outcome"]
    lines += [f"  {o:<12} {n:>9,}" for o, n in report.counts.items()]
    lines.append("")
    _render_table("By rule", report.by_rule, table_rows, lines)
    _render_table("By required pool", report.by_pool, table_rows, lines)
    current = {pool: {"sets": n} for pool, n in report.by_current_pool.items()}
    _render_table("By current pool", current, table_rows, lines)

    _render_list(
        "Non-compliant sets",
        bad,
        lambda e: (
            f"{e.outcome:<10} {e.configuration_set}: on {e.current_pool or '-'}, "
            f"required {e.expected_pool or '-'} (rule {e.rule_id or '-'}): "
            f"{_clip(e.reason, REASON_WIDTH)}"
        ),
        listed,
        lines,
    )
    if section is not None:
        _render_identities(section, bad_identities, listed, lines)
    if links is not None:
        lines += [
            "Full report (every set):",
            f"  JSON: {links.json_uri}",
            f"        {links.json_console_url}",
            f"  CSV:  {links.csv_uri}",
            f"        {links.csv_console_url}",
        ]
        if links.html_uri is not None:
            lines += [f"  HTML: {links.html_uri}", f"        {links.html_console_url}"]
        if links.identities_csv_uri is not None:
            lines += [
                f"  CSV of the identities: {links.identities_csv_uri}",
                f"        {links.identities_csv_console_url}",
            ]
        lines.append("")
    else:
        lines += ["The full report was not stored: no report bucket is configured.", ""]
    lines.append(RATIO_DEFINITION[:1].upper() + RATIO_DEFINITION[1:] + ".")
    if section is not None:
        lines.append(IDENTITY_RATIO_DEFINITION[:1].upper() + IDENTITY_RATIO_DEFINITION[1:] + ".")

    def rows(table: Mapping[str, Any]) -> dict[str, Any]:
        return dict(list(table.items())[:table_rows])

    document: dict[str, Any] = {
        **_overview(report),
        "by_rule": rows(report.by_rule),
        "by_pool": rows(report.by_pool),
        "by_current_pool": rows(report.by_current_pool),
        "tables_truncated": any(
            len(t) > table_rows for t in (report.by_rule, report.by_pool, report.by_current_pool)
        ),
        "non_compliant": [
            {
                "configuration_set": e.configuration_set,
                "outcome": e.outcome,
                "current_pool": e.current_pool,
                "expected_pool": e.expected_pool,
                "rule_id": e.rule_id,
            }
            for e in shown
        ],
        "non_compliant_not_listed": len(bad) - len(shown),
        "report": _links_document(links),
    }
    if section is not None:
        document["identities"] = _identities_document(section, bad_identities, listed)
    return Summary(title, "\n".join(lines) + "\n", document, len(shown))


def _links_document(links: Links | None) -> dict[str, str | None] | None:
    """The links; those of the identities CSV only where it was stored."""
    if links is None:
        return None
    stored = links.identities_csv_uri is not None
    return {k: v for k, v in asdict(links).items() if stored or not k.startswith("identities_")}


def _render_identities(
    section: IdentitySection, bad: list[IdentityEntry], listed: int, lines: list[str]
) -> None:
    lines += [
        "Identities",
        f"  Compliance:    {_percent(section.compliance_ratio)} ({section.compliant:,} of "
        f"{section.managed:,} managed identities compliant, remediated or exempt)",
        f"  Non-compliant: {len(bad):,}",
        f"  Identities:    {section.total:,} ({section.counts.get('unmanaged', 0):,} unmanaged, "
        f"{len(section.without_default):,} without a default configuration set, "
        f"{len(section.wrong_pool_defaults):,} whose default set is on the wrong pool)",
        "",
        "Identities by outcome",
    ]
    lines += [f"  {o:<12} {n:>9,}" for o, n in section.counts.items()]
    lines.append("")
    _render_list(
        "Non-compliant identities",
        bad,
        lambda e: (
            f"{e.outcome:<10} {e.identity}: default {e.default_configuration_set or '-'}, "
            f"required {e.required or '-'} (rule {e.rule_id or '-'}): "
            f"{_clip(e.reason, REASON_WIDTH)}"
        ),
        listed,
        lines,
    )


def _render_list(
    title: str, items: Sequence[T], line: Callable[[T], str], listed: int, lines: list[str]
) -> None:
    """The first ``listed`` items, a line each, and how many more the full report has."""
    if not items:
        return
    shown = items[:listed]
    lines.append(f"{title} ({len(shown):,} of {len(items):,} listed)")
    lines += [f"  {line(item)}" for item in shown]
    if len(items) > len(shown):
        lines.append(f"  ... and {len(items) - len(shown):,} more: see the full report")
    lines.append("")


def _identities_document(
    section: IdentitySection, bad: list[IdentityEntry], listed: int
) -> dict[str, Any]:
    return {
        **_identity_overview(section),
        "non_compliant": [
            {
                "identity": e.identity,
                "outcome": e.outcome,
                "default_configuration_set": e.default_configuration_set,
                "required": e.required,
                "rule_id": e.rule_id,
            }
            for e in bad[:listed]
        ],
        "non_compliant_not_listed": max(0, len(bad) - listed),
    }


def envelope_bytes(summary: Summary) -> int:
    """An upper bound of the SNS publish size of ``summary`` sent as an alert: the text
    for two protocols, the JSON document for five, subject and attributes."""
    text = len(json.dumps(summary.text))  # ensure_ascii: characters == bytes
    body = len(json.dumps(json.dumps(summary.document, default=str, sort_keys=True)))
    attributes = sum(len(k) + len(v) + 16 for k, v in summary.attributes.items())
    return 2 * text + 5 * body + len(summary.title.encode()) + attributes + 256


def fit_summary(report: Report, links: Links | None, budget: int = SNS_BUDGET) -> Summary:
    """The most detailed summary that fits one SNS message, for any account size."""
    summary = None
    for table_rows in TABLE_ROW_STEPS:
        for listed in LISTED_STEPS:
            summary = render_summary(report, links, listed, table_rows)
            if envelope_bytes(summary) <= budget:
                return summary
    assert summary is not None
    raise ValueError(f"report summary needs {envelope_bytes(summary)} bytes even when minimal")
