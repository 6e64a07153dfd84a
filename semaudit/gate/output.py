"""Gate output: the ``check --json`` document and the JUnit XML report of a ``GateResult``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from semaudit.gate.evaluate import GateResult

__all__ = ["CHECK_SCHEMA_VERSION", "result_to_dict", "to_json", "to_junit"]

CHECK_SCHEMA_VERSION = 1


def result_to_dict(result: GateResult, *, config: str | None = None) -> dict[str, Any]:
    """The ``check --json`` document (schema ``CHECK_SCHEMA_VERSION``, see docs/ci.md).

    ``status`` is PASS, WARN, FAIL, or SKIP when every result was skipped (nothing checked).
    """
    return {
        "schema_version": CHECK_SCHEMA_VERSION,
        "kind": "semaudit-check",
        "status": result.status,
        "passed": result.passed,
        "warn_only": result.warn_only,
        "allow_skipped": result.allow_skipped,
        "evaluated": result.evaluated,
        "audit": result.audit,
        "baseline": result.baseline,
        "config": config,
        "counts": result.counts(),
        "thresholds": result.thresholds.to_dict(),
        "not_configured": list(result.not_configured),
        "results": [o.to_dict() for o in result.outcomes],
    }


def to_json(result: GateResult, *, config: str | None = None) -> str:
    return json.dumps(result_to_dict(result, config=config), indent=2, allow_nan=False) + "\n"


def to_junit(result: GateResult, *, name: str = "semaudit check") -> str:
    """JUnit XML: one test case per (rule, subject); FAIL → failure, SKIP → skipped.

    WARN cases pass and carry their message in ``system-out``. Test cases are named
    ``classname = semaudit.<rule>``, ``name = <class>`` (or ``dataset``).
    """
    counts = result.counts()
    attrs = {
        "name": name,
        "tests": str(len(result.outcomes)),
        "failures": str(counts["FAIL"]),
        "errors": "0",
        "skipped": str(counts["SKIP"]),
        "time": "0",
    }
    suites = ET.Element("testsuites", attrs)
    suite = ET.SubElement(suites, "testsuite", attrs)
    properties = ET.SubElement(suite, "properties")
    for key, value in (("audit", result.audit), ("baseline", result.baseline or "")):
        ET.SubElement(properties, "property", {"name": key, "value": value})
    for outcome in result.outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"semaudit.{outcome.rule}",
                "name": outcome.class_name if outcome.class_name is not None else "dataset",
                "time": "0",
            },
        )
        if outcome.status == "FAIL":
            failure = ET.SubElement(case, "failure", {"message": outcome.message, "type": "FAIL"})
            failure.text = outcome.message
        elif outcome.status == "SKIP":
            ET.SubElement(case, "skipped", {"message": outcome.message})
        elif outcome.status == "WARN":
            ET.SubElement(case, "system-out").text = f"WARN: {outcome.message}"
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
