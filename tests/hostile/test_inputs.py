"""Submissions that are broken as files rather than as code: nothing at all, links out of the
folder, a file too big to copy. Each is graded with a clear message and nothing else lost."""

import os

from grader.grade import grade
from tests.hostile.conftest import LIMITS, PLAN, ROOT, materialise, not_passed
from tests.hostile.test_hostile import assert_outcome


def grade_plain(sub):
    return grade(sub, assignment=PLAN, seed=11, limits=LIMITS)


def test_empty_folder_fails_every_check_with_one_clear_message(tmp_path):
    (tmp_path / "empty").mkdir()
    report = grade_plain(tmp_path / "empty")
    by_id = report.by_id()
    assert by_id["load"].status == "failed"
    assert by_id["load"].message == "no Python files or notebooks were found in the submission"
    assert report.score == 0 and by_id["integrity"].status == "passed"
    assert "no Affine layer was found" in by_id["layers.affine.forward"].message
    assert {c.status for c in report.checks if c.id.startswith(("layers.", "two_layer_cnn."))} == {"failed"}


def test_symlinks_out_of_the_folder_are_not_followed(world):
    """A link to the grader's rubrics and one to a Python file outside: neither is copied."""
    sub = materialise("read_answers", world["sub"], GRADER_ROOT=ROOT, OUTSIDE=world["outside"], SUBMISSION=world["sub"])
    (sub / "rubrics").symlink_to(ROOT / "rubrics")
    (world["outside"] / "answers.py").write_text("class Pooling:\n    pass\n")
    (sub / "answers.py").symlink_to(world["outside"] / "answers.py")
    report = grade_plain(sub)
    assert not_passed(report) == {}  # the linked Pooling stub did not replace the real one
    assert any("rubrics: a symbolic link; not copied" in w for w in report.warnings), report.warnings
    assert any("answers.py: a symbolic link; not copied" in w for w in report.warnings), report.warnings
    assert "LEAKED" not in report.output


def test_a_2_gb_file_is_left_out_with_a_warning(world):
    sub = materialise("non_utf8", world["sub"])
    with open(sub / "weights.npy", "wb") as f:  # sparse: 2 GB on paper, nothing on disk
        f.truncate(2 * 1024**3)
    report = grade_plain(sub)
    assert_outcome(report, {})
    assert any("weights.npy: 2048.0 MB is larger than the 50 MB limit; not copied" in w for w in report.warnings)
    assert os.path.getsize(sub / "weights.npy") == 2 * 1024**3
