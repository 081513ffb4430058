"""`grade gradescope-package`: the zip's content, and its run_autograder run on a simulated
/autograder tree (relocated by GRADER_AUTOGRADER_ROOT, run with this interpreter: no pip install)."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import gradescope_package
from grader.cli import main
from grader.report import gradescope

SUBMISSIONS = Path(__file__).resolve().parents[1] / "submissions"
# layers only: the run grades in seconds (the networks' checks are covered elsewhere)
TINY_RUBRIC = """\
name: tiny
layers: [affine, relu]
networks: []
points: {forward: 1, backward: 2, gradcheck: 1}
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("package")
    rubric = tmp / "tiny.yaml"
    rubric.write_text(TINY_RUBRIC)
    out = tmp / "autograder.zip"
    assert main(["gradescope-package", "--rubric", str(rubric), "-o", str(out)]) == 0
    return out


def unpack(zip_path: Path, root: Path) -> Path:
    """What Gradescope does with the zip: unpack it into <root>/source, copy run_autograder to <root>."""
    source = root / "source"
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            z.extract(info, source)
            if mode := (info.external_attr >> 16) & 0o777:
                (source / info.filename).chmod(mode)
    shutil.copy2(source / "run_autograder", root / "run_autograder")
    return root


def run_autograder(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRADER_AUTOGRADER_ROOT": str(root), "GRADER_AUTOGRADER_PYTHON": sys.executable}
    return subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=280)


def test_the_zip_holds_what_gradescope_needs(package):
    with zipfile.ZipFile(package) as z:
        names = set(z.namelist())
        for name in ("setup.sh", "run_autograder"):
            assert (z.getinfo(name).external_attr >> 16) & 0o111, f"{name} is not executable"
        assert {"setup.sh", "run_autograder", "rubric.yaml", "requirements.txt", "constraints.txt"} <= names
        assert {"grader-src/pyproject.toml", "grader-src/grader/autograder.py", "grader-src/reference/data.py",
                "grader-src/reference/mnist/SHA256SUMS", "grader-src/reference/mnist/t10k-images-idx3-ubyte.gz",
                "grader-src/grader/schemas/gradescope_results.schema.json"} <= names
        assert not any("__pycache__" in n for n in names)
        assert z.read("rubric.yaml").decode() == TINY_RUBRIC
        setup = z.read("setup.sh").decode()
        requirements = z.read("requirements.txt").decode().split()
    torch = gradescope_package.torch_pin()
    assert f'"torch=={torch}" --index-url https://download.pytorch.org/whl/cpu' in setup
    commands = [line for line in setup.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert not any("conda" in line for line in commands) and any(line.startswith("\"$PIP\" install") for line in commands)
    assert '-r "$SOURCE/requirements.txt" -c "$SOURCE/constraints.txt"' in setup
    assert '--no-deps "$SOURCE/grader-src"' in setup
    assert requirements and all(re.fullmatch(r"[a-z0-9-]+==[\w.+-]+", r) for r in requirements), requirements
    pinned = {r.split("==")[0] for r in requirements}
    assert {"numpy", "matplotlib", "rich", "jsonschema", "pyyaml", "nbformat"} <= pinned
    assert "torch" not in pinned  # installed from the CPU index, first


def test_run_autograder_grades_a_submission_in_a_simulated_tree(package, tmp_path):
    root = unpack(package, tmp_path / "autograder")
    shutil.copytree(SUBMISSIONS / "correct_functional", root / "submission")
    done = run_autograder(root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    gradescope.validate(results)
    names = {t["name"] for t in results["tests"]}
    assert {"layers.affine.forward", "layers.relu.backward", "layers.relu.gradcheck"} <= names
    assert results["score"] == 2 * (1 + 2 + 1)  # a correct submission: every layer check's points
    assert all(t.get("status") == "passed" for t in results["tests"]), results["tests"]
    assert "layers.affine.backward" in done.stdout  # the instructor's view is the stdout


def test_run_autograder_without_a_submission_still_writes_results(package, tmp_path):
    root = unpack(package, tmp_path / "autograder")
    done = run_autograder(root)
    assert done.returncode == 2
    results = json.loads((root / "results" / "results.json").read_text())
    gradescope.validate(results)
    assert results["score"] == 0 and "could not grade" in results["output"]


def test_an_unknown_assignment_is_a_usage_error(tmp_path, capsys):
    assert main(["gradescope-package", "--assignment", "nope", "-o", str(tmp_path / "a.zip")]) == 2
    assert "available:" in capsys.readouterr().err
