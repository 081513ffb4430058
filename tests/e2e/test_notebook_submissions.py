"""Real-shaped notebooks (issue 13) grade as a student would expect: a failed import costs only
itself, notebooks import each other without extra packages. Training checks are left out of the
plan here (they are covered elsewhere and depend on the seed, not on loading)."""

import dataclasses
import io
from pathlib import Path

from rich.console import Console

from grader.grade import grade
from grader.rubric import get_plan
from grader.report import json_report, terminal

SUBS = Path(__file__).resolve().parents[1] / "submissions"
PLAN = dataclasses.replace(get_plan("pa2"), networks=("two_layer_cnn", "three_layer_cnn"),
                           network_checks=("logits", "gradient", "gradcheck", "initial_loss"))


def not_passed(report, prefix=""):
    return {c.id: c.message for c in report.checks if c.id.startswith(prefix) and c.status != "passed"}


def test_failed_imports_in_a_definitions_cell_cost_only_themselves():
    report = grade(SUBS / "notebook_failed_import", assignment=PLAN)
    json_report.validate(json_report.report_dict(report))
    assert not_passed(report, "layers.") == {}
    assert not_passed(report, "two_layer_cnn.") == {}
    (nb,) = report.files
    failed = {(s["cell"], s["cell_line"]): s for s in nb["failed"]}
    assert set(failed) == {(3, 2), (3, 3), (6, 1), (6, 2)}
    assert {s["error"] for s in nb["failed"]} == {"import failed: No module named 'common'"}
    assert "im2col (this file), col2im (this file)" in failed[3, 3]["resolution"]
    load = report.by_id()["load"]
    assert load.status == "failed" and load.message.startswith("1 file loaded with 4 statements that failed")
    missing = report.by_id()["three_layer_cnn.architecture"].message
    assert ("the statement that would have defined ThreeLayerCNN failed (PA2.ipynb, cell 6, line 1: "
            "from common.networks import ThreeLayerCNN: import failed: No module named 'common')") in missing
    console = Console(file=io.StringIO(), width=200)
    terminal.render_files(report, console)
    assert "not run: import failed: No module named 'common'" in console.file.getvalue()


def test_notebooks_importing_notebooks_need_no_extra_package():
    report = grade(SUBS / "notebooks_importing", assignment=PLAN)
    assert not_passed(report, "layers.") == {}
    assert not_passed(report, "two_layer_cnn.") == {}
    assert report.by_id()["load"].status == "passed"
    assert all(f["status"] == "ok" and not f["failed"] for f in report.files), report.files
    assert any("'import_ipynb' is not needed" in w for w in report.warnings)
    assert "three_layer_cnn" in report.by_id()["three_layer_cnn.architecture"].message  # named as missing
