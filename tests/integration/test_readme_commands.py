"""The README's shell blocks run as written, in order, as a new user runs them: against
local AWS started with its stack (``make local-aws``), from a shell of their own.

A block preceded by ``<!-- readme-test: skip REASON -->`` is not run (it needs an AWS
account, or is tested elsewhere), and one preceded by ``<!-- readme-test: exit N -->``
must end with that status."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<mark>[^>]*?) -->\n)?```sh\n(?P<code>.*?)```", re.S)
FUNCTION_SETTINGS = ("POLICY_PARAMETER", "INVENTORY_TABLE", "IDENTITY_TABLE", "STATE_TABLE")


@dataclass(frozen=True)
class Block:
    code: str
    mark: str | None

    @property
    def skipped(self) -> bool:
        return bool(self.mark and self.mark.startswith("skip"))

    @property
    def status(self) -> int:
        found = re.fullmatch(r"exit (\d+)", self.mark or "")
        return int(found.group(1)) if found else 0


def blocks() -> list[Block]:
    text = (ROOT / "README.md").read_text()
    return [Block(m["code"], m["mark"]) for m in BLOCK.finditer(text)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def local_aws_server() -> Iterator[str]:
    """``make local-aws``: local AWS with the stack deployed, in a process of its own."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "local_aws.server", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if line.startswith("In another shell"):
                break
        else:
            pytest.fail("local AWS did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_every_skipped_block_says_why() -> None:
    for block in blocks():
        if block.skipped:
            assert len(block.mark or "") > len("skip "), block.code


def test_the_readme_commands_run_as_written(local_aws_server: str, tmp_path: Path) -> None:
    # Given a shell as the README sets it up: the endpoint and credentials exported, the
    # .venv's commands on PATH, none of the functions' settings
    env = {k: v for k, v in os.environ.items() if k not in FUNCTION_SETTINGS}
    env.update(
        AWS_ENDPOINT_URL=local_aws_server, AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )  # fmt: skip
    env.pop("AWS_REGION", None)
    # The README's commands run in the clone, where `python -m` finds local_aws; this test
    # runs them in a directory of its own (the files they write stay out of the clone).
    env["PYTHONPATH"] = str(ROOT)
    ran = 0
    # When each block that can run locally runs, in order, in one working directory
    for block in blocks():
        if block.skipped:
            continue
        done = subprocess.run(
            ["bash", "-e", "-c", block.code], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        # Then it ends as the README says, without a traceback
        assert done.returncode == block.status, f"{block.code}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        ran += 1
        # And the comments that promise a set's pool keep their promise, in order
        promised = re.findall(r"# (mkt-weekly: \w+)", block.code)
        shown = [line for line in done.stdout.splitlines() if line.startswith("mkt-weekly: ")]
        assert shown == promised, f"{block.code}\n{done.stdout}"
    assert ran >= 4
