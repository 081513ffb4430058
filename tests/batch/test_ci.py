"""CI mode on a student's repository: exit codes, step summary, annotations, the workflow template."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from grader import ci
from grader.results import CheckResult, Report

from .conftest import RUBRIC, relu_source, write_submission

ROOT = Path(__file__).resolve().parents[2]


def student_repo(tmp_path: Path, buggy: bool) -> Path:
    repo = write_submission(tmp_path, "repo", relu_source("student", buggy=buggy))
    (repo / "rubric.yaml").write_text(RUBRIC)
    return repo


def github_env(tmp_path: Path, repo: Path) -> dict:
    summary = tmp_path / "summary.md"
    return {**os.environ, "GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(repo),
            "GITHUB_STEP_SUMMARY": str(summary), "PYTHONPATH": str(ROOT)}


def test_workflow_template_runs_its_grade_step_and_fails_below_the_bar(tmp_path):
    out = subprocess.run([sys.executable, "-m", "grader", "ci-template", "--rubric", "rubric.yaml",
                          "--fail-under", "100%"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    workflow = yaml.safe_load(out.stdout)
    steps = workflow["jobs"]["grade"]["steps"]
    install = next(s["run"] for s in steps if "Install the grader" in s.get("name", ""))
    assert "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in install
    command = shlex.split(next(s["run"] for s in steps if s.get("name") == "Grade"))
    assert command[0] == "grade" and "--ci" in command
    repo = student_repo(tmp_path, buggy=True)
    env = github_env(tmp_path, repo)
    run = subprocess.run([sys.executable, "-m", "grader", *command[1:]], capture_output=True, text=True,
                         cwd=repo, env=env, timeout=600)
    assert run.returncode == 1, run.stderr
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert "## grader: 1 / 3 points" in summary and "The bar is not met" in summary
    assert "`layers.relu.backward` | ❌" in summary and "is advice" in summary
    line = next(i for i, text in enumerate((repo / "layers.py").read_text().splitlines(), 1) if "class Relu" in text)
    assert f"::error file=layers.py,line={line},title=layers.relu.backward::" in run.stdout
    assert "layers.relu.forward::" not in run.stdout  # it passed


def test_a_submission_that_meets_the_bar_exits_0(tmp_path):
    repo = student_repo(tmp_path, buggy=False)
    env = github_env(tmp_path, repo)
    run = subprocess.run([sys.executable, "-m", "grader", ".", "--rubric", "rubric.yaml", "--ci", "--fail-under", "3",
                          "--require", "layers.relu.*", "-q"], capture_output=True, text=True, cwd=repo, env=env,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    assert "::error" not in run.stdout and "The bar is met" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def report_with_hidden() -> Report:
    shown = CheckResult("layers.relu.forward", "failed", "out is wrong", score=0.0, max_score=1.0)
    secret = CheckResult("layers.relu.secret_case", "failed", "the hidden case", score=0.0, max_score=5.0)
    secret.hidden = True  # the rubric's hidden checks (CheckResult.hidden)
    return Report(submission="s", rubric="r", checks=[shown, secret], seed=0)


def test_hidden_checks_never_reach_ci_output(tmp_path):
    report = ci.visible(report_with_hidden())
    assert [c.id for c in report.checks] == ["layers.relu.forward"] and report.max_score == 1.0
    text = ci.step_summary(report, ci.shortfalls(report, 1.0, ["layers.*"])) + "\n".join(ci.annotations(report, tmp_path))
    assert "secret" not in text and "hidden case" not in text and "layers.relu.forward" in text


def test_bar_in_points_or_percent_and_required_checks():
    report = ci.visible(report_with_hidden())
    assert ci.parse_bar("80%", 10.0) == 8.0 and ci.parse_bar("4", 10.0) == 4.0
    assert ci.shortfalls(report, 0.0, []) == []
    assert ci.shortfalls(report, 1.0, []) == ["score 0 is below the bar of 1 (of 1)"]
    assert ci.shortfalls(report, None, ["layers.relu.*", "lenet.gradient"]) == [
        "required check layers.relu.forward failed", "required check lenet.gradient did not run"]
