"""make template: the application metadata as `sam publish` reads it, run in the tools venv.

Uses the SAM CLI's own vendored Serverless Application Repository parser (what `sam publish`
calls) on template.yaml, so a field it would refuse fails here first, offline.
"""

from __future__ import annotations

import sys
from pathlib import Path

from samcli.vendor.serverlessrepo.parser import get_app_metadata, parse_template

ROOT = Path(__file__).resolve().parents[1]

template = parse_template((ROOT / "template.yaml").read_text())
metadata = get_app_metadata(template)
metadata.validate(["author", "description", "name"])  # what creating the application needs
metadata.validate(["semantic_version"])  # what publishing a version needs
for local in (metadata.license_url, metadata.readme_url):
    if not (ROOT / local).is_file():
        sys.exit(f"AWS::ServerlessRepo::Application names {local}, which does not exist")
print(f"SAR metadata: {metadata.name} {metadata.semantic_version} ({metadata.spdx_license_id})")
