"""The full compliance report in S3, as JSON, CSV and a self-contained HTML page, and,
where the report has identities, their CSV beside them; encrypted at rest (SSE-S3).

An organization sweep of many lanes keeps its lanes here too: the list its Distributed
Map reads (``put_lanes``), the lanes' results its ResultWriter writes under
``reports/lane-results/`` (``lane_results`` reads them back one at a time), and the
organization report (``store_organization``). A sweep keeps its view of the pools and
tenants here too (``sweeps/``, adapters/sweep_view.py), read by each of its steps."""

from __future__ import annotations

import codecs
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from botocore.exceptions import ClientError

from ses_pool_enforcer import organization
from ses_pool_enforcer.adapters.aws import client, error_code
from ses_pool_enforcer.adapters.sweep_view import SweepView, key_of
from ses_pool_enforcer.report import (
    IDENTITIES_PART,
    Links,
    Report,
    to_csv,
    to_identities_csv,
    to_json,
)
from ses_pool_enforcer.report_html import to_html

LANES = "reports/lanes"  # an organization sweep's lanes; the results: reports/lane-results
RESULT_STATUSES = ("SUCCEEDED", "FAILED", "PENDING")  # a ResultWriter manifest's files
CHUNK_BYTES = 1 << 20

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
            self._put(key, body)
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

    def _put(self, key: str, body: str) -> None:
        self._s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body.encode(),
            ContentType=CONTENT_TYPES[key.rsplit(".", 1)[1]],
            ServerSideEncryption="AES256",
        )

    def keep_view(self, view: SweepView) -> None:
        """Keep a sweep's view of the pools and tenants for its later steps."""
        self._put(view.key(), view.to_json())

    def view(self, sweep_id: str) -> SweepView | None:
        """The view a step of ``sweep_id`` kept, or None if none was (or it expired)."""
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key_of(sweep_id))["Body"]
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        return SweepView.from_json(body.read())

    def put_lanes(self, execution: str, lanes: list[dict[str, Any]]) -> dict[str, str]:
        """Write the lanes of ``execution`` (its ARN) as one JSON array, for the Distributed
        Map's ItemReader (``reports/lanes/<execution name>.json``); answer where it is."""
        key = f"{LANES}/{execution.rsplit(':', 1)[-1]}.json"
        self._put(key, json.dumps(lanes, separators=(",", ":")))
        return {"bucket": self.bucket, "key": key}

    def lane_results(self, written: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every child execution a Distributed Map's ResultWriter wrote, one at a time:
        ``written`` is the Map's output (``ResultWriterDetails``: the manifest's bucket and
        key); the manifest lists the results files by status, each a JSON array of
        executions (ExecutionArn, Input, Output or Error and Cause, Status, ...), read in
        chunks, so that no more than one execution's record is decoded at once."""
        details = written.get("ResultWriterDetails")
        if not isinstance(details, Mapping):
            raise ValueError(f"not a ResultWriter's output: {sorted(written)}")
        manifest = json.loads(
            self._s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read()
        )
        bucket = manifest.get("DestinationBucket") or details["Bucket"]
        for status in RESULT_STATUSES:
            for entry in manifest.get("ResultFiles", {}).get(status, []):
                body = self._s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"]
                yield from json_array(body.iter_chunks(CHUNK_BYTES))

    def store_organization(self, report: organization.OrganizationReport) -> dict[str, str]:
        """Write the organization report as JSON, CSV and HTML under
        ``reports/<date>/organization-<execution name>``; answer their locations."""
        day = report.finished_at[:10] or dt.date.today().isoformat()
        stem = f"reports/{day}/organization-{report.execution.rsplit(':', 1)[-1]}"
        region = str(self._s3.meta.region_name)
        links: dict[str, str] = {}
        for extension, body in (
            ("json", organization.to_json(report)),
            ("csv", organization.to_csv(report)),
            ("html", organization.to_html(report)),
        ):
            key = f"{stem}.{extension}"
            self._put(key, body)
            links[f"{extension}_uri"] = f"s3://{self.bucket}/{key}"
            links[f"{extension}_console_url"] = console_url(self.bucket, key, region)
        return links


def json_array(chunks: Iterable[bytes]) -> Iterator[Any]:
    """The elements (objects) of a JSON array whose text arrives in ``chunks``, each
    decoded as soon as it is whole. Raises ValueError on anything but an array."""
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")()
    buffer, started = "", False
    for chunk in chunks:
        buffer += text.decode(chunk)
        while True:
            buffer = buffer.lstrip()
            if not started:
                if not buffer:
                    break
                if buffer[0] != "[":
                    raise ValueError("a results file is not a JSON array")
                buffer, started = buffer[1:], True
                continue
            if buffer.startswith(","):
                buffer = buffer[1:]
                continue
            if buffer.startswith("]"):
                return
            if not buffer.startswith("{"):
                if buffer:
                    raise ValueError(f"a results file holds a non-object: {buffer[:40]!r}")
                break
            try:
                item, end = decoder.raw_decode(buffer)
            except json.JSONDecodeError:
                break  # the object goes on in the next chunk
            yield item
            buffer = buffer[end:]
    raise ValueError("a results file ends before its array does")
