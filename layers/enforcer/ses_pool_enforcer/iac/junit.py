"""The check as JUnit XML, for CI systems that show test reports: one test suite per
file, one test case per configuration set (or identity), a failure per one with findings."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from xml.etree import ElementTree as ET

from ses_pool_enforcer.iac.verdict import IdentityVerdict, Verdict

SUITES = "ses-pool-enforcer check"


def to_junit(verdicts: Iterable[Verdict | IdentityVerdict]) -> str:
    ordered = sorted(verdicts, key=lambda v: v.declared.source)
    root = ET.Element("testsuites", name=SUITES)
    total = failed = 0
    for source, group in groupby(ordered, key=lambda v: v.declared.source):
        cases = list(group)
        failures = sum(1 for v in cases if v.findings)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=source,
            tests=str(len(cases)),
            failures=str(failures),
            errors="0",
            skipped="0",
        )
        for verdict in cases:
            suite.append(_case(verdict))
        total, failed = total + len(cases), failed + failures
    root.set("tests", str(total))
    root.set("failures", str(failed))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _case(verdict: Verdict | IdentityVerdict) -> ET.Element:
    declared = verdict.declared
    case = ET.Element("testcase", classname=declared.source, name=declared.label)
    case.set("file", declared.source)
    if declared.position is not None:
        case.set("line", str(declared.position.line))
    if verdict.findings:
        first = verdict.findings[0]
        failure = ET.SubElement(case, "failure", type=first.check.value, message=first.message)
        failure.text = "\n".join(f"{f.check.value}: {f.message}" for f in verdict.findings)
    elif verdict.decision is not None:
        out = ET.SubElement(case, "system-out")
        out.text = f"{verdict.decision.outcome.value}: {verdict.decision.reason}"
    return case
