"""JUnit XML that both strict readers accept: Jenkins' xunit schema and the Ant JUnit schema.

The two disagree in places, so Weir writes only what both allow:
- <testsuites> carries no attributes (Ant allows none; Jenkins needs none);
- each <testsuite> has name, package, id, tests, failures, errors, skipped, time, a timestamp
  without a time zone and hostname, then <properties>, its testcases, <system-out> and
  <system-err>, in that order (Ant's sequence);
- a <testcase> has name, classname and time, and at most one <failure>, <error> or <skipped>,
  each with a type; its output goes to the suite's <system-out>, as Ant wants it.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

OUTCOMES = ("passed", "failure", "error", "skipped")
# Characters XML 1.0 cannot hold at all, even escaped; a value from the database may have them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Case:
    """One testcase: a check, a model, a migration step, or the reason a run stopped early."""

    name: str
    classname: str
    seconds: float = 0.0
    outcome: str = "passed"  # one of OUTCOMES
    message: str = ""  # the one-line verdict of a failure, error or skip
    details: str = ""  # the long text: failing rows, the error in full


@dataclass
class Suite:
    """One stage of a command (`weir check`, or migrate, build and check of `weir run`)."""

    name: str
    started: datetime
    seconds: float = 0.0
    cases: list[Case] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    output: str = ""  # notes that belong to no failure, e.g. the rows of a warning

    def count(self, outcome: str) -> int:
        """How many of the suite's cases ended in `outcome`."""
        return sum(case.outcome == outcome for case in self.cases)


def render(suites: list[Suite]) -> bytes:
    """Return the suites as one JUnit XML document (UTF-8, with its declaration)."""
    root = ET.Element("testsuites")
    hostname = socket.gethostname() or "localhost"
    for number, suite in enumerate(suites):
        element = ET.SubElement(root, "testsuite", {
            "name": _xml(suite.name),
            "package": "weir",
            "id": str(number),
            "tests": str(len(suite.cases)),
            "failures": str(suite.count("failure")),
            "errors": str(suite.count("error")),
            "skipped": str(suite.count("skipped")),
            "time": _seconds(suite.seconds),
            "timestamp": suite.started.replace(tzinfo=None, microsecond=0).isoformat(),
            "hostname": hostname,
        })
        properties = ET.SubElement(element, "properties")
        for name, value in suite.properties.items():
            ET.SubElement(properties, "property", {"name": _xml(name), "value": _xml(value)})
        for case in suite.cases:
            _add_case(element, case)
        ET.SubElement(element, "system-out").text = _xml(suite.output)
        ET.SubElement(element, "system-err").text = ""
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def write(suites: list[Suite], path: str | Path) -> None:
    """Write the suites to `path`, whole or not at all (a reader never sees half a report)."""
    from runner.reports.files import write_atomically

    write_atomically(Path(path), render(suites))


def _add_case(suite: ET.Element, case: Case) -> None:
    element = ET.SubElement(suite, "testcase", {
        "name": _xml(case.name), "classname": _xml(case.classname), "time": _seconds(case.seconds),
    })
    if case.outcome == "passed":
        return
    if case.outcome not in OUTCOMES:
        raise ValueError(f"unknown JUnit outcome {case.outcome!r}")
    detail = ET.SubElement(element, case.outcome, {"type": case.outcome, "message": _xml(case.message)})
    detail.text = _xml(case.details or case.message)


def _seconds(seconds: float) -> str:
    return f"{max(seconds, 0.0):.3f}"


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
