"""The full compliance report in S3, as JSON, CSV and a self-contained HTML page,
encrypted at rest (SSE-S3)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from ses_pool_enforcer.adapters.aws import client
from ses_pool_enforcer.report import Links, Report, to_csv, to_json
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
        """Write ``reports/<date>/<sweep_id>.json``, ``.csv`` and ``.html``; a retried
        sweep finish overwrites the same keys."""
        bodies = {"json": to_json(report), "csv": to_csv(report), "html": to_html(report)}
        keys = {extension: report.key(extension) for extension in bodies}
        for extension, body in bodies.items():
            self._s3.put_object(
                Bucket=self.bucket,
                Key=keys[extension],
                Body=body.encode(),
                ContentType=CONTENT_TYPES[extension],
                ServerSideEncryption="AES256",
            )
        region = str(self._s3.meta.region_name)
        return Links(
            json_uri=f"s3://{self.bucket}/{keys['json']}",
            csv_uri=f"s3://{self.bucket}/{keys['csv']}",
            json_console_url=console_url(self.bucket, keys["json"], region),
            csv_console_url=console_url(self.bucket, keys["csv"], region),
            html_uri=f"s3://{self.bucket}/{keys['html']}",
            html_console_url=console_url(self.bucket, keys["html"], region),
        )
