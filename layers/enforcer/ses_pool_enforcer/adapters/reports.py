"""The full compliance report in S3, as JSON, CSV and a self-contained HTML page, and,
where the report has identities, their CSV beside them; encrypted at rest (SSE-S3)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.report import (
    IDENTITIES_PART,
    Links,
    Report,
    to_csv,
    to_identities_csv,
    to_json,
)
from ses_pool_enforcer.report_html import to_html

CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


def console_url(bucket: str, key: str, region: str) -> str:
    query = urlencode({"region": region, "bucketType": "general", "prefix": key})
    return f"https://s3.console.aws.amazon.com/s3/object/{quote(bucket)}?{query}"


class ReportStore:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self._s3 = client("s3")

    def store(self, report: Report) -> Links:
        """Write ``reports/<date>/<sweep_id>.json``, ``.csv`` and ``.html``, and
        ``<sweep_id>-identities.csv`` where the report has identities; a retried sweep
        finish overwrites the same keys."""
        files = {
            report.key("json"): to_json(report),
            report.key("csv"): to_csv(report),
            report.key("html"): to_html(report),
        }
        identities = to_identities_csv(report)
        identities_key = report.key("csv", IDENTITIES_PART)
        if identities is not None:
            files[identities_key] = identities
        for key, body in files.items():
            self._s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body.encode(),
                ContentType=CONTENT_TYPES[key.rsplit(".", 1)[1]],
                ServerSideEncryption="AES256",
            )
        region = str(self._s3.meta.region_name)

        def uri(key: str) -> str:
            return f"s3://{self.bucket}/{key}"

        def console(key: str) -> str:
            return console_url(self.bucket, key, region)

        stored = identities is not None
        return Links(
            json_uri=uri(report.key("json")),
            csv_uri=uri(report.key("csv")),
            json_console_url=console(report.key("json")),
            csv_console_url=console(report.key("csv")),
            html_uri=uri(report.key("html")),
            html_console_url=console(report.key("html")),
            identities_csv_uri=uri(identities_key) if stored else None,
            identities_csv_console_url=console(identities_key) if stored else None,
        )
