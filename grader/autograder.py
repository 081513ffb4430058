"""What Gradescope's ``run_autograder`` does: grade ``<root>/submission`` with the packaged rubric
and write ``<root>/results/results.json``.

``root`` is ``/autograder`` on Gradescope; ``$GRADER_AUTOGRADER_ROOT`` moves it (tests run a whole
simulated tree under a temporary folder). The student sees results.json only; the instructor also
sees the autograder's stdout, which gets the full report, hidden checks included.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT_VARIABLE = "GRADER_AUTOGRADER_ROOT"


def autograder_root() -> Path:
    return Path(os.environ.get(ROOT_VARIABLE) or "/autograder")


def _write(results_dir: Path, data: dict) -> Path:
    from grader.report import gradescope

    gradescope.validate(data)
    results_dir.mkdir(parents=True, exist_ok=True)
    out = results_dir / "results.json"
    out.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return out


def run(root: Path | None = None) -> int:
    """Grade the submission under ``root`` (default: $GRADER_AUTOGRADER_ROOT or /autograder).
    Always writes results.json, also when grading is impossible (then with score 0 and why)."""
    from rich.console import Console

    from grader.grade import GradeError, grade
    from grader.report import gradescope, json_report, terminal
    from grader.rubric import load_rubric
    from grader.sandbox import GraderEnvironmentError

    root = Path(root) if root is not None else autograder_root()
    source, submission, results_dir = root / "source", root / "submission", root / "results"
    try:
        plan = load_rubric(source / "rubric.yaml")
        report = grade(submission, assignment=plan, isolation=os.environ.get("GRADER_ISOLATION", "auto"))
    except GraderEnvironmentError as exc:
        print(f"grader error (the autograder's environment, not the submission): {exc}")
        _write(results_dir, gradescope.failure_results(
            "The autograder could not run on this submission because of a problem on the course's side; "
            "your instructor has been shown the details. Please let them know."))
        return 3
    except (GradeError, ValueError) as exc:  # no submission folder, a broken packaged rubric
        print(f"error: {exc}")
        _write(results_dir, gradescope.failure_results(f"The autograder could not grade this submission: {exc}"))
        return 2
    _write(results_dir, gradescope.results(report))
    # stdout is the instructor's view (stdout_visibility is "hidden"): everything, hidden checks too
    terminal.render(report, Console(file=sys.stdout, width=160, color_system=None), show_hidden=True)
    print("instructor JSON report:")
    print(json_report.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(run())
