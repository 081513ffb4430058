"""Without bubblewrap the grader falls back to ``unshare`` (own network namespace, rlimits, uid
nobody). The defences that do not need bubblewrap hold; the one that does (hiding the grader's
files) is reported as missing rather than assumed."""

import pytest

from grader import sandbox as sb
from tests.hostile.conftest import ROOT, grade_hostile, grade_network_case
from tests.hostile.test_hostile import EXPECTED, assert_outcome

pytestmark = pytest.mark.skipif(sb.probe("unshare")[0] is None,
                                reason=f"unshare fallback unavailable here: {sb.probe('unshare')[1]}")


# The protocol defences (crafted messages, garbage arrays) do not depend on the isolation mode.
@pytest.mark.parametrize("case", ["loop_in_backward", "os_exit_at_import", "memory_creep", "fork_bomb",
                                  "write_outside"])
def test_defence_holds_without_bubblewrap(case, world):
    report = grade_hostile(case, world, isolation="unshare")
    assert report.sandbox["isolation"] == "unshare"
    assert_outcome(report, EXPECTED[case])
    if case == "write_outside":
        assert [line for line in report.output.splitlines() if line.startswith("WROTE")] == ["WROTE own copy"]


def test_network_is_cut_without_bubblewrap(world):
    report = grade_network_case(world, isolation="unshare")
    assert report.sandbox["isolation"] == "unshare"


def test_visible_grader_files_are_reported_not_assumed_hidden(world):
    report = grade_hostile("read_answers", world, isolation="unshare")
    assert any("grader's and reference files are visible to the submission" in n for n in report.sandbox["notes"])
    # the parent's answers are still never in the worker: what it can read is code, not this run's inputs
    assert f"LEAKED {ROOT}/reference/layers.py" in report.output
