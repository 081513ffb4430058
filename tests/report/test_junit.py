"""JUnit XML: valid by the Jenkins xUnit junit-10.xsd, one testcase per visible check, points in properties."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

xmlschema = pytest.importorskip("xmlschema", reason="xmlschema is in the test extra: pip install -e '.[test]'")

from grader.report import junit  # noqa: E402
from tests.report.sample_reports import layers_only_report, sample_report  # noqa: E402

SCHEMA = xmlschema.XMLSchema(str(Path(__file__).with_name("junit-10.xsd")))


@pytest.mark.parametrize("make", [sample_report, layers_only_report])
def test_reports_validate_against_the_published_junit_xsd(make):
    SCHEMA.validate(junit.dumps(make()))


def test_the_xsd_rejects_what_it_should():
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate('<testsuites><testsuite name="x"><testcase name="a"/></testsuite></testsuites>')


def test_one_testcase_per_check_with_outcomes_and_points():
    root = ET.fromstring(junit.dumps(sample_report()))
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert len(cases) == 12  # 11 visible checks + the hidden summary
    assert cases["layers.convolution.backward"].find("failure") is not None
    assert cases["layers.softmax.forward"].find("error") is not None
    assert cases["layers.pooling.forward"].find("skipped") is not None
    assert cases["layers.affine.forward"].find("failure") is None
    assert cases["2 hidden checks, 1/3 points"].find("failure") is not None
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["layers.convolution.backward.score"] == "0.5"
    assert props["layers.convolution.backward.max_score"] == "1"
    assert props["score"] == "11.5" and props["max_score"] == "13" and props["extra_max"] == "3"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("12", "3", "1", "1")


def test_characters_xml_cannot_hold_are_escaped_not_fatal():
    report = layers_only_report()
    report.checks[1].status, report.checks[1].message = "failed", "bad \x00 byte \udcb0 <&>"
    text = junit.dumps(report)
    SCHEMA.validate(text)
    failure = ET.fromstring(text).find("testsuite").findall("testcase")[1].find("failure")
    assert failure.get("message") == "bad \\u0000 byte \\udcb0 <&>"
