"""Reading JUnit XML: both roots, nested suites, counts from the cases, the slowest cases, and bad input
(not XML, not JUnit, a DOCTYPE) as one-line JUnitErrors, never expanded entities or a traceback."""

from pathlib import Path

import pytest

from conveyor.stages.junit import JUnitError, parse_xml, read_junit, summarise

PHPUNIT = b"""<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="Shop" tests="6" failures="1" errors="1" skipped="1" time="1.9">
    <testsuite name="CartTest" file="tests/CartTest.php" tests="3">
      <testcase name="testAdd" class="CartTest" classname="CartTest" time="0.250"/>
      <testcase name="testRemove" classname="CartTest" time="1.125">
        <failure type="PHPUnit\\Framework\\ExpectationFailedException">expected 2 &lt; 3</failure>
      </testcase>
      <testcase name="testEmpty" classname="CartTest" time="0.001"><skipped/></testcase>
    </testsuite>
    <testsuite name="OrderTest" tests="3">
      <testcase name="testTotal" classname="OrderTest" time="0.5"/>
      <testcase name="testTax" classname="OrderTest" time="0.020"><error message="boom">trace</error></testcase>
      <testcase name="testShip" classname="OrderTest"/>
    </testsuite>
  </testsuite>
</testsuites>
"""


def test_nested_phpunit_suites_are_counted_from_their_cases() -> None:
    summary = summarise(parse_xml(PHPUNIT))
    assert summary.counts() == "tests 6, failures 1, errors 1, skipped 1"
    assert [case.display() for case in summary.slowest()] == [
        "CartTest::testRemove 1.125s",
        "OrderTest::testTotal 0.500s",
        "CartTest::testAdd 0.250s",
    ]
    assert summary.lines() == [
        "tests 6, failures 1, errors 1, skipped 1",
        "slowest: CartTest::testRemove 1.125s, OrderTest::testTotal 0.500s, CartTest::testAdd 0.250s",
        "failed: CartTest::testRemove, OrderTest::testTax",
    ]


def test_a_single_testsuite_root_and_fewer_than_three_cases(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text('<testsuite name="s"><testcase name="only" time="0.1"/><testcase name="other"/></testsuite>')
    summary = read_junit(path)
    assert summary.counts() == "tests 2, failures 0, errors 0, skipped 0"
    assert summary.lines() == ["tests 2, failures 0, errors 0, skipped 0", "slowest: only 0.100s, other 0.000s"]


def test_an_empty_suite_has_no_slowest_line() -> None:
    assert summarise(parse_xml(b"<testsuites/>")).lines() == ["tests 0, failures 0, errors 0, skipped 0"]


@pytest.mark.parametrize(("raw", "seconds"), [("", 0.0), ("abc", 0.0), ("nan", 0.0), ("-1", 0.0), ("1,234.5", 1234.5)])
def test_odd_times_count_as_zero_or_are_read_like_phpunit_writes_them(raw: str, seconds: float) -> None:
    summary = summarise(parse_xml(f'<testsuite><testcase name="t" time="{raw}"/></testsuite>'.encode()))
    assert summary.cases[0].seconds == seconds


def test_many_failures_are_named_up_to_five() -> None:
    cases = "".join(f'<testcase name="t{i}"><failure/></testcase>' for i in range(7))
    lines = summarise(parse_xml(f"<testsuite>{cases}</testsuite>".encode())).lines()
    assert lines[-1] == "failed: t0, t1, t2, t3, t4 and 2 more"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "no element found"),
        (b"<testsuites><testsuite></testsuites>", "line 1 column 26: mismatched tag"),
        (b"not xml at all", "syntax error"),
        (b"<html><body/></html>", "its root is <html>, not <testsuites> or <testsuite>"),
    ],
)
def test_what_is_not_junit_is_one_line_naming_the_file(tmp_path: Path, data: bytes, problem: str) -> None:
    path = tmp_path / "junit.xml"
    path.write_bytes(data)
    with pytest.raises(JUnitError) as caught:
        read_junit(path, "reports/unit/junit.xml")
    message = str(caught.value)
    assert message.startswith("reports/unit/junit.xml is not valid JUnit XML: ")
    assert problem in message and "\n" not in message


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<testsuite><testcase name="&lol2;"/></testsuite>
"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE t [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<testsuite><testcase name="&secret;"/></testsuite>
"""


@pytest.mark.parametrize("data", [LAUGHS, EXTERNAL, b'<!DOCTYPE testsuite SYSTEM "junit.dtd"><testsuite/>'])
def test_a_doctype_is_refused_never_expanded(data: bytes) -> None:
    with pytest.raises(JUnitError, match="declares a DOCTYPE, which is refused"):
        parse_xml(data, "junit.xml")


def test_an_undeclared_entity_is_an_error_and_the_five_xml_entities_are_text() -> None:
    with pytest.raises(JUnitError, match="undefined entity"):
        parse_xml(b'<testsuite><testcase name="&nope;"/></testsuite>')
    root = parse_xml(b'<testsuite><testcase name="a &lt;&amp;&gt; &quot;b&apos;"/></testsuite>')
    assert summarise(root).cases[0].name == "a <&> \"b'"


def test_a_missing_file_is_a_junit_error(tmp_path: Path) -> None:
    with pytest.raises(JUnitError, match="cannot be read"):
        read_junit(tmp_path / "nope.xml")
