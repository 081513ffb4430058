"""JUnit XML for CI systems: one ``<testcase>`` per visible check, as the Jenkins xUnit plugin's
``junit-10.xsd`` defines the format (the schema the tests validate against).

That schema has no ``<properties>`` inside a testcase, so points go into the suite's
``<properties>``: ``score``, ``max_score``, ``extra_score``, ``extra_max`` for the whole run and
``<check id>.score`` / ``<check id>.max_score`` per check. A failed check is a ``<failure>``, an
error an ``<error>``, a skipped check ``<skipped>``. Hidden checks are one testcase
"N hidden checks, M points" without ids or messages.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.report.student_view import cases_text, student_view
from grader.results import Report, group_of

# characters XML 1.0 cannot carry at all (control characters, lone surrogates, U+FFFE/U+FFFF)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value) -> str:
    """Submission-made text as XML-safe text: characters XML forbids become \\uXXXX escapes
    (ElementTree escapes <, & and quotes itself)."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", str(value))


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else ""


def junit_tree(report: Report) -> ET.ElementTree:
    view = student_view(report)
    t = view.totals
    failures = sum(c.status == "failed" for c in view.checks)
    errors = sum(c.status == "error" for c in view.checks)
    skipped = sum(c.status == "skipped" for c in view.checks)
    n_tests = len(view.checks) + (1 if view.hidden else 0)
    if view.hidden and view.hidden.passed < view.hidden.count:
        failures += 1
    seconds = f"{max(report.seconds, 0.0):.3f}"
    root = ET.Element("testsuites", name="grader", tests=str(n_tests), failures=str(failures),
                      errors=str(errors), time=seconds)
    suite = ET.SubElement(root, "testsuite", name=_xml_text(report.submission), tests=str(n_tests),
                          failures=str(failures), errors=str(errors), skipped=str(skipped), time=seconds)
    props = ET.SubElement(suite, "properties")

    def prop(name: str, value) -> None:
        ET.SubElement(props, "property", name=_xml_text(name), value=_xml_text(value))

    prop("rubric", report.rubric)
    prop("seed", report.seed)
    for name, value in (("score", t.score), ("max_score", t.max_score),
                        ("extra_score", t.extra_score), ("extra_max", t.extra_max)):
        prop(name, f"{value:g}")
    for c in view.checks:
        prop(f"{c.id}.score", f"{c.score:g}")
        prop(f"{c.id}.max_score", f"{c.max_score:g}")
    if view.hidden:
        prop("hidden.score", f"{view.hidden.score:g}")
        prop("hidden.max_score", f"{view.hidden.max_score:g}")

    for c in view.checks:
        case = ET.SubElement(suite, "testcase", name=_xml_text(c.id), classname=_xml_text(group_of(c.id)))
        detail = "\n".join(x for x in (cases_text(c), c.message) if x)
        if c.status == "failed":
            ET.SubElement(case, "failure", type=_xml_text(c.diagnosis or "check failed"),
                          message=_xml_text(_first_line(c.message))).text = _xml_text(detail)
        elif c.status == "error":
            ET.SubElement(case, "error", type="error", message=_xml_text(_first_line(c.message))).text = \
                _xml_text(detail)
        elif c.status == "skipped":
            ET.SubElement(case, "skipped", message=_xml_text(_first_line(c.message)))
        elif detail:
            ET.SubElement(case, "system-out").text = _xml_text(detail)
    if view.hidden:
        h = view.hidden
        case = ET.SubElement(suite, "testcase", name=h.line, classname="hidden")
        if h.passed < h.count:
            ET.SubElement(case, "failure", type="hidden checks",
                          message=f"{h.count - h.passed} of {h.count} hidden checks did not pass")
    return ET.ElementTree(root)


def dumps(report: Report) -> str:
    tree = junit_tree(report)
    ET.indent(tree)
    return ET.tostring(tree.getroot(), encoding="unicode", xml_declaration=True)


def write(report: Report, path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(dumps(report) + "\n")
