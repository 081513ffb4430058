"""The `grade` command: help that teaches, JSON on stdout, clear usage errors and exit codes."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT, **kw)


def test_help_explains_data_lookup_and_exit_codes():
    out = run("--help")
    assert out.returncode == 0
    assert "GRADER_DATA_DIR" in out.stdout and "exit codes" in out.stdout and "--json" in out.stdout


def test_missing_submission_is_a_usage_error_without_traceback():
    out = run("no/such/folder")
    assert out.returncode == 2
    assert "no such file or folder" in out.stderr and "Traceback" not in out.stderr


def test_json_to_stdout_is_the_report(tmp_path):
    out = run("tests/submissions/correct_functional", "--json", "-")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    from grader.report import json_report
    json_report.validate(data)
    assert data["checks"][0]["id"] == "integrity"
    assert {c["id"] for c in data["checks"] if c["status"] == "passed"} >= {"layers.convolution.backward"}


def test_terminal_report_names_the_failing_check_and_the_fix():
    out = run("tests/submissions/correct_functional", "--assignment", "hw7")
    assert out.returncode == 0
    assert "simple_convnet.architecture" in out.stdout and "grader.toml" in out.stdout
    assert "score" in out.stdout
