"""One version everywhere, a license that matches, and application metadata SAR accepts.

The version's one source is ``ses_pool_enforcer.__version__`` (pyproject reads it); every other
place a user meets a version must say the same (docs/releasing.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from ses_pool_enforcer import __version__

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$")


def application() -> dict[str, Any]:
    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    return dict(template["Metadata"]["AWS::ServerlessRepo::Application"])


def test_the_version_is_semantic_and_pyproject_reads_it_from_the_package() -> None:
    assert SEMVER.match(__version__)
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert "version" not in PYPROJECT["project"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "ses_pool_enforcer.__version__"}


def test_the_installed_package_and_the_cli_say_the_same_version() -> None:
    assert metadata.version("ses-pool-enforcer") == __version__
    cli = Path(sys.executable).parent / "ses-pool-enforcer"
    done = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"ses-pool-enforcer {__version__}"


def test_the_template_publishes_the_same_version_from_its_tag() -> None:
    app = application()
    assert app["SemanticVersion"] == __version__
    assert app["SourceCodeUrl"].endswith(f"/tree/v{__version__}")
    assert app["HomePageUrl"] == PYPROJECT["project"]["urls"]["Homepage"]


@pytest.mark.parametrize("path", ["docs/ci.md", "docs/cli.md", ".pre-commit-hooks.yaml"], ids=str)
def test_every_documented_pin_names_this_version(path: str) -> None:
    # Given the pre-commit `rev:` and the Action's `@v...` that users copy
    text = (ROOT / path).read_text()
    pins = re.findall(r"rev:\s*v?(\S+)", text) + re.findall(r"ses-pool-enforcer@v(\S+)", text)
    assert pins, f"{path} documents no pinned version"
    assert set(pins) == {__version__}, f"{path} pins {sorted(set(pins))}, not {__version__}"


def test_the_changelog_has_a_dated_section_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(
        rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M
    )
    assert re.search(rf"^\[{re.escape(__version__)}\]: \S+", changelog, re.M)  # its link


def test_the_license_is_the_one_pyproject_and_the_template_declare() -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert application()["SpdxLicenseId"] == "Apache-2.0"
    assert application()["LicenseUrl"] == "LICENSE"


def test_the_application_metadata_is_what_sar_accepts() -> None:
    # The limits of the AWS SAM Developer Guide, "AWS SAM template Metadata section properties"
    # (serverless-sam-template-publishing-applications-metadata-properties): intrinsic
    # functions are not supported there, so every value is a plain string.
    app = application()
    assert re.fullmatch(r"[a-zA-Z0-9\-]+", app["Name"]) and len(app["Name"]) <= 140
    assert 1 <= len(app["Description"]) <= 256
    assert re.fullmatch(r"^[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?$", app["Author"])
    assert len(app["Labels"]) <= 10
    for label in app["Labels"]:
        assert re.fullmatch(r"^[a-zA-Z0-9+\-_:/@]+$", label) and len(label) <= 127
    for key in ("ReadmeUrl", "LicenseUrl"):
        assert (ROOT / app[key]).is_file()
    assert all(isinstance(value, str | list) for value in app.values())


def test_the_wheel_ships_only_the_enforcer_package() -> None:
    found = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    assert found == {"where": ["layers/enforcer"], "include": ["ses_pool_enforcer*"]}
