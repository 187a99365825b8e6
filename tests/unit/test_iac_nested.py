"""Nested stacks: followed when their template is on this disk (``TemplateURL`` or SAM's
``Location`` as a path, as ``sam build`` reads them), else reported as not checked:
never a silent pass."""

from __future__ import annotations

from pathlib import Path

from ses_pool_enforcer.iac.sources import scan_path

NESTED = Path(__file__).resolve().parents[1] / "fixtures" / "iac" / "nested"


def test_a_local_nested_template_is_read_with_the_parameters_its_parent_passes() -> None:
    # When the parent is read
    scans = scan_path(str(NESTED / "parent.yaml"), {"Stage": "dev", "AWS::Region": "eu-west-1"})

    # Then both local nested templates are read, the first with the parent's SetName
    assert [(Path(s.source).name, [d.name for d in s.sets]) for s in scans] == [
        ("parent.yaml", []),
        ("mail.yaml", ["dev-marketing"]),
        ("notifications.yaml", ["notifications-marketing"]),
    ]
    assert scans[1].pools == {"marketing"}


def test_a_nested_stack_that_cannot_be_read_is_named_as_not_checked() -> None:
    (parent, *_) = scan_path(str(NESTED / "parent.yaml"), {})

    assert parent.notes == [
        "Resources.Shared (nested stack): not checked: its template is at "
        "https://s3.amazonaws.com/example-bucket/shared-mail.yaml: check that template itself",
        f"Resources.Missing (nested stack): not checked: no file {NESTED / 'stacks' / 'gone.yaml'}",
        "Resources.FromRepository (nested stack): not checked: a Serverless Application "
        "Repository application",
    ]
