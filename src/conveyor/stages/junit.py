"""JUnit XML, read safely and summed up: the counts GitLab shows (tests, failures, errors, skipped) and the
slowest cases. Both roots are accepted, `<testsuites>` and `<testsuite>`, with suites nested to any depth
(PHPUnit nests a suite per class): the counts come from the `<testcase>` elements themselves.

The file comes out of a job's container, so it is parsed with expat directly and a document type
declaration (the only way to declare entities) is refused rather than expanded."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree
from xml.parsers import expat

from conveyor.errors import ConveyorError

ROOTS = ("testsuites", "testsuite")
OUTCOMES = ("failure", "error", "skipped")
SLOWEST = 3


class JUnitError(ConveyorError):
    """A report is not JUnit XML (or declares a DOCTYPE, which is refused)."""


class _Refused(Exception):
    """Raised inside expat's handlers to stop at a DOCTYPE."""


@dataclass(frozen=True)
class Case:
    name: str
    seconds: float
    outcome: str = ""  # "", or the first of failure, error, skipped found in the case

    def display(self) -> str:
        return f"{self.name} {self.seconds:.3f}s"


@dataclass(frozen=True)
class Summary:
    cases: tuple[Case, ...]

    def count(self, outcome: str) -> int:
        return sum(1 for case in self.cases if case.outcome == outcome)

    def counts(self) -> str:
        """`tests 4, failures 1, errors 0, skipped 0`."""
        return f"tests {len(self.cases)}, " + ", ".join(f"{_plural(o)} {self.count(o)}" for o in OUTCOMES)

    def failed(self) -> tuple[Case, ...]:
        return tuple(case for case in self.cases if case.outcome in ("failure", "error"))

    def slowest(self, most: int = SLOWEST) -> tuple[Case, ...]:
        """The `most` slowest cases, slowest first (ties in file order)."""
        return tuple(sorted(self.cases, key=lambda case: -case.seconds)[:most])

    def lines(self, most_failed: int = 5) -> list[str]:
        """What `inv test` prints for a job: the counts, the slowest cases, the failed ones (the first few)."""
        found = [self.counts()]
        if slow := self.slowest():
            found.append("slowest: " + ", ".join(case.display() for case in slow))
        if failed := self.failed():
            more = f" and {len(failed) - most_failed} more" if len(failed) > most_failed else ""
            found.append("failed: " + ", ".join(case.name for case in failed[:most_failed]) + more)
        return found


def read_junit(path: Path, shown: str = "") -> Summary:
    """The summary of the JUnit file at `path` (named `shown` in errors); JUnitError when it is not JUnit."""
    shown = shown or str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise JUnitError(f"{shown} cannot be read ({error.strerror})") from None
    return summarise(parse_xml(data, shown), shown)


def parse_xml(data: bytes, source: object = "the report") -> ElementTree.Element:
    """The element tree of `data`; no DOCTYPE, no entities beyond XML's own five."""
    builder = ElementTree.TreeBuilder()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused:
        raise JUnitError(f"{source} is not valid JUnit XML: it declares a DOCTYPE, which is refused") from None
    except expat.ExpatError as error:
        raise JUnitError(f"{source} is not valid JUnit XML: {_expat_problem(error)}") from None
    return builder.close()


def summarise(root: ElementTree.Element, source: object = "the report") -> Summary:
    if root.tag not in ROOTS:
        raise JUnitError(f"{source} is not valid JUnit XML: its root is <{root.tag}>, not <testsuites> or <testsuite>")
    return Summary(tuple(_case(element) for element in root.iter("testcase")))


def _case(element: ElementTree.Element) -> Case:
    name = element.get("name", "?")
    classname = element.get("classname", "")
    outcome = next((child.tag for child in element if child.tag in OUTCOMES), "")
    shown = f"{classname}::{name}" if classname else name
    return Case(name=shown, seconds=_seconds(element.get("time")), outcome=outcome)


def _seconds(raw: str | None) -> float:
    """A case's time; 0 when absent or unreadable (some writers leave it out)."""
    try:
        seconds = float((raw or "0").replace(",", ""))
    except ValueError:
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


def _refuse_doctype(*_: object) -> None:
    raise _Refused


def _expat_problem(error: expat.ExpatError) -> str:
    return f"line {error.lineno} column {error.offset + 1}: {expat.ErrorString(error.code)}"


def _plural(outcome: str) -> str:
    return {"failure": "failures", "error": "errors"}.get(outcome, outcome)
