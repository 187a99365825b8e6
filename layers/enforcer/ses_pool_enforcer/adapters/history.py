"""The last sweeps' compliance, for the report's trend: one item, ``report#history``, in
the state table, holding the newest ``KEEP`` points (sweep, finish time, ratio, counts,
policy version). One GetItem reads the whole trend; adding a point is one conditional
UpdateItem. Why here and not in the reports in S3: ``docs/design/report-history.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.report import Report, TrendPoint

HISTORY_ID = "report#history"
KEEP = 30
ATTEMPTS = 3  # only one sweep finishes at a time: a lost race is all but impossible


@dataclass(frozen=True)
class HistoryPoint:
    sweep_id: str
    finished_at: str
    compliance_ratio: float | None
    counts: Mapping[str, int] = field(default_factory=dict)
    policy_version: str | None = None

    @classmethod
    def of(cls, report: Report) -> HistoryPoint:
        return cls(
            report.sweep_id,
            report.finished_at,
            report.compliance_ratio,
            dict(report.counts),
            report.policy_version,
        )

    def trend_point(self) -> TrendPoint:
        return TrendPoint(self.sweep_id, self.finished_at, self.compliance_ratio)


def _to_item(point: HistoryPoint) -> dict[str, Any]:
    ratio = point.compliance_ratio
    value: dict[str, Any] = {
        "sweep_id": {"S": point.sweep_id},
        "finished_at": {"S": point.finished_at},
        "ratio": {"NULL": True} if ratio is None else {"N": repr(ratio)},
        "counts": {"M": {k: {"N": str(n)} for k, n in point.counts.items()}},
    }
    if point.policy_version is not None:
        value["policy_version"] = {"S": point.policy_version}
    return {"M": value}


def _from_item(item: Mapping[str, Any]) -> HistoryPoint:
    value = item["M"]
    ratio = value.get("ratio", {})
    return HistoryPoint(
        sweep_id=value["sweep_id"]["S"],
        finished_at=value["finished_at"]["S"],
        compliance_ratio=float(ratio["N"]) if "N" in ratio else None,
        counts={k: int(n["N"]) for k, n in value.get("counts", {}).get("M", {}).items()},
        policy_version=value.get("policy_version", {}).get("S"),
    )


class ReportHistory:
    def __init__(self, table: str, keep: int = KEEP, lane: str = "") -> None:
        """``lane``: a member lane's "<account>#<region>" (its own trend); "" for the
        deployment's own."""
        self.table = table
        self.keep = keep
        self._ddb = client("dynamodb")
        self.item_id = f"{HISTORY_ID}#{lane}" if lane else HISTORY_ID

    def _read(self) -> tuple[list[HistoryPoint], int]:
        item = self._ddb.get_item(
            TableName=self.table, Key={"id": {"S": self.item_id}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return [], 0
        points = [_from_item(p) for p in item.get("points", {}).get("L", [])]
        return points, int(item.get("revision", {}).get("N", "0"))

    def points(self) -> list[HistoryPoint]:
        """The recorded sweeps, oldest first."""
        return self._read()[0]

    def trend(self, excluding: str | None = None) -> tuple[TrendPoint, ...]:
        """The recorded sweeps as the report's trend, leaving out ``excluding`` (the
        sweep being reported, if a retried finish recorded it already)."""
        return tuple(p.trend_point() for p in self.points() if p.sweep_id != excluding)

    def record(self, point: HistoryPoint) -> bool:
        """Add ``point``, keeping the newest ``keep``. A sweep already recorded (a retried
        finish) is not added again: returns False."""
        for _ in range(ATTEMPTS):
            points, revision = self._read()
            if any(p.sweep_id == point.sweep_id for p in points):
                return False
            kept = [*points, point][-self.keep :]
            values: dict[str, Any] = {
                ":points": {"L": [_to_item(p) for p in kept]},
                ":next": {"N": str(revision + 1)},
            }
            if revision:
                condition = "revision = :seen"
                values[":seen"] = {"N": str(revision)}
            else:
                condition = "attribute_not_exists(id)"
            try:
                self._ddb.update_item(
                    TableName=self.table,
                    Key={"id": {"S": self.item_id}},
                    UpdateExpression="SET points = :points, revision = :next",
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                )
                return True
            except self._ddb.exceptions.ConditionalCheckFailedException:
                continue  # someone wrote in between: read again
        raise RuntimeError(f"the report history in {self.table} kept changing; not recorded")
