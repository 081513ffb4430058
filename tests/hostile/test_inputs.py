"""Submissions that are broken as files rather than as code: nothing at all, links out of the
folder, a file too big to copy. Each is graded with a clear message and nothing else lost."""

import json
import os
import subprocess
import sys
from pathlib import Path

from grader.grade import grade
from grader.report import json_report
from tests.hostile.conftest import LIMITS, PLAN, ROOT, materialise, not_passed
from tests.samples import copy_numpy_sample
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


# ------------------------------------------------------------------ names and folders the grader's own
# process must survive (it walks the folder for the seed, the integrity scan and the copy, and
# writes names into the terminal and JSON reports): graded end to end through the CLI.

RUBRIC = "name: names\nlayers: [relu]\nnetworks: []\n"
CP949 = "가정".encode("cp949")  # b'\xb0\xa1\xc1\xa4': not UTF-8


def grade_cli(sub, tmp_path):
    """``python -m grader SUB --rubric R --json J``: (exit code, terminal output, JSON report)."""
    rubric = tmp_path / "names.yaml"
    rubric.write_text(RUBRIC)
    out = subprocess.run([sys.executable, "-m", "grader", os.fsencode(sub), "--rubric", rubric,
                          "--json", tmp_path / "report.json", "--call-timeout", "10"],
                         capture_output=True, cwd=ROOT, env=dict(os.environ, COLUMNS="200"), timeout=300)
    text = (out.stdout + out.stderr).decode("utf-8", "replace")
    report = json.loads((tmp_path / "report.json").read_text()) if out.returncode == 0 else None
    return out.returncode, text, report


def assert_graded(report, text):
    """Every check of the small rubric passed; the JSON report follows its schema."""
    json_report.validate(report)
    assert {c["id"]: c["status"] for c in report["checks"]} == {
        "integrity": "passed", "load": "passed", "layers.relu.forward": "passed",
        "layers.relu.backward": "passed", "layers.relu.gradcheck": "passed"}, text
    assert "score 3 / 3" in text, text  # the terminal report was printed to the end


def test_names_that_are_not_utf8_are_left_out_and_listed(tmp_path):
    """A zip made on Korean Windows: CP949 file and folder names, unpacked as raw bytes."""
    sub = tmp_path / "sub"
    copy_numpy_sample(sub)
    raw = os.fsencode(sub)
    with open(raw + b"/" + CP949 + b".py", "w") as f:
        f.write("raise SystemExit('a file with a CP949 name was imported')\n")
    os.mkdir(raw + b"/" + CP949)
    with open(raw + b"/" + CP949 + b"/layers.py", "w") as f:
        f.write("raise SystemExit('a folder with a CP949 name was imported')\n")
    code, text, report = grade_cli(sub, tmp_path)
    assert code == 0, text
    assert_graded(report, text)
    skipped = [w for w in report["warnings"] if "not valid UTF-8" in w]
    assert sorted(w.split(":")[0] for w in skipped) == ["\\xb0\\xa1\\xc1\\xa4", "\\xb0\\xa1\\xc1\\xa4.py"], skipped
    assert all("rename it" in w and "Not graded" in w for w in skipped)
    assert "not valid UTF-8" in text


def test_a_thousand_nested_folders_are_cut_off_and_listed(tmp_path):
    sub = tmp_path / "sub"
    copy_numpy_sample(sub)
    os.chdir(sub)  # build the chain relative to the folder: 1,100 levels of d/
    try:
        for _ in range(1100):
            os.mkdir("d")
            os.chdir("d")
        Path("deep.py").write_text("raise SystemExit('a file 1,100 folders deep was imported')\n")
    finally:
        os.chdir(ROOT)
    try:
        code, text, report = grade_cli(sub, tmp_path)
        assert code == 0, text
        assert_graded(report, text)
        assert [w for w in report["warnings"] if "nested" in w] == [
            "/".join(["d"] * 33) + ": folders nested more than 32 deep; not graded"], report["warnings"]
    finally:
        remove_chain(sub / "d")


def remove_chain(top: Path) -> None:
    """Delete a folder chain too deep for a recursive rmtree, from the bottom up."""
    os.chdir(top)
    depth = 1
    while os.path.isdir("d"):
        os.chdir("d")
        depth += 1
    for name in os.listdir("."):
        os.unlink(name)
    for _ in range(depth - 1):
        os.chdir("..")
        os.rmdir("d")
    os.chdir(ROOT)
    top.rmdir()


def test_names_holding_rich_markup_are_printed_as_they_are(tmp_path):
    """`PA2 [/] copy.py`, a file whose import fails and a link with markup in their names: the
    terminal report prints them literally instead of failing on them."""
    sub = tmp_path / "sub"
    copy_numpy_sample(sub)
    (sub / "PA2 [").mkdir()  # '/' cannot be in a name: a folder "PA2 [" holding "] copy.py"
    (sub / "PA2 [" / "] copy.py").write_text("X = 1\n")
    (sub / "[bold red]broken[").mkdir()
    (sub / "[bold red]broken[" / "].py").write_text("def f(:\n")
    (sub / "[link=mailto:x]ln").symlink_to(tmp_path)
    code, text, report = grade_cli(sub, tmp_path)
    assert code == 0, text
    assert "PA2 [/] copy.py" in text and "[bold red]broken[/].py" in text, text
    assert "[link=mailto:x]ln: a symbolic link; not copied" in text, text
    assert {c["id"]: c["status"] for c in report["checks"]}["load"] == "failed"
