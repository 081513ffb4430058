"""``grade gradescope-package``: the autograder zip Gradescope takes.

Layout (Gradescope's specification: ``setup.sh`` and ``run_autograder`` at the root of the zip,
unpacked into ``/autograder/source``):

    setup.sh           apt: Python, venv, bubblewrap; pip only (no conda): CPU torch, then the
                       pinned requirements, then the grader itself
    run_autograder     runs grader.autograder on /autograder/submission
    rubric.yaml        the assignment's rubric
    requirements.txt   exact pins of every runtime dependency, as installed where the zip was built
    constraints.txt    the repository's pins (the CPU torch)
    grader-src/        the grader's source tree (grader/, reference/ with the built-in MNIST)

Use an Ubuntu 24.04 base image on Gradescope: the grader needs Python >= 3.11.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import stat
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
#: what of the repository the zip carries as the grader's source
SOURCE_PARTS = ("pyproject.toml", "README.md", "constraints.txt", "grader", "reference")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once while building the autograder image. pip only, no conda: the
# versions are pinned in requirements.txt and stay pinned whatever conda's channels do.
set -euo pipefail
SOURCE=/autograder/source
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip bubblewrap
python3 -m venv /autograder/venv
PIP="/autograder/venv/bin/pip"
"$PIP" install --no-cache-dir --upgrade pip
# the CPU build of torch first, from PyTorch's CPU index (PyPI's default wheel pulls CUDA)
"$PIP" install --no-cache-dir "torch=={torch}" --index-url {torch_index}
"$PIP" install --no-cache-dir -r "$SOURCE/requirements.txt" -c "$SOURCE/constraints.txt"
"$PIP" install --no-cache-dir --no-deps "$SOURCE/grader-src"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission, from /autograder. It grades
# $ROOT/submission and writes $ROOT/results/results.json.
#   GRADER_AUTOGRADER_ROOT    the /autograder folder (tests point it at a simulated tree)
#   GRADER_AUTOGRADER_PYTHON  the interpreter (default: the venv setup.sh made)
set -uo pipefail
ROOT="${GRADER_AUTOGRADER_ROOT:-/autograder}"
PYTHON="${GRADER_AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
export GRADER_AUTOGRADER_ROOT="$ROOT"
# the packaged source first, so this zip's grader is the one that runs
export PYTHONPATH="$ROOT/source/grader-src${PYTHONPATH:+:$PYTHONPATH}"
cd "$ROOT"
exec "$PYTHON" -m grader.autograder
"""


class PackageError(ValueError):
    """The zip cannot be built (no such rubric, the grader's source is not at hand)."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements() -> list[str]:
    """``name==version`` for every runtime dependency in pyproject.toml and theirs in turn, as
    installed here; torch is left out (setup.sh installs it from the CPU index)."""
    import tomllib

    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    env = {**default_environment(), "extra": ""}
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(text) for text in project.get("dependencies", [])]
    pins: dict[str, str] = {}
    while todo:
        req = todo.pop()
        name = _canonical(req.name)
        if name in pins or (req.marker is not None and not req.marker.evaluate(env)):
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise PackageError(f"{req.name} (a dependency of the grader) is not installed here, so its "
                               "version cannot be pinned; install the grader with its dependencies first") from None
        pins[name] = dist.version
        todo.extend(Requirement(text) for text in dist.requires or [])
    pins.pop("torch", None)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def torch_pin() -> str:
    """The torch version of constraints.txt (the CPU build), without a local suffix."""
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and _canonical(line.split("==", 1)[0].strip()) == "torch":
            return line.split("==", 1)[1].strip()
    raise PackageError(f"{REPO_ROOT / 'constraints.txt'} pins no torch version (expected a line torch==X.Y.Z)")


def _executable(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    return info


def build(rubric: Path, output: Path) -> Path:
    """Write the autograder zip for ``rubric`` (a rubric file) to ``output``; returns ``output``."""
    from grader.rubric import load_rubric

    rubric = Path(rubric)
    load_rubric(rubric)  # a broken rubric fails here, with its line, not on Gradescope
    missing = [p for p in SOURCE_PARTS if not (REPO_ROOT / p).exists()]
    if missing:
        raise PackageError(f"the grader's source tree at {REPO_ROOT} lacks {', '.join(missing)}; build the "
                           "package from a checkout of the grader (an installed wheel does not carry it)")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP_SH.replace("{torch}", torch_pin()).replace("{torch_index}", TORCH_INDEX)),
                           ("run_autograder", RUN_AUTOGRADER)):
            z.writestr(_executable(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))), text)
        z.write(rubric, "rubric.yaml")
        z.writestr("requirements.txt", "\n".join(pinned_requirements()) + "\n")
        z.write(REPO_ROOT / "constraints.txt", "constraints.txt")
        for part in SOURCE_PARTS:
            path = REPO_ROOT / part
            files = [path] if path.is_file() else sorted(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
            for f in files:
                z.write(f, f"grader-src/{f.relative_to(REPO_ROOT).as_posix()}")
    return output


def rubric_file(assignment: str) -> Path:
    """The rubric file of a named assignment (what --assignment NAME grades with)."""
    from grader.rubric import available_rubrics, rubrics_dir

    path = rubrics_dir() / f"{assignment}.yaml"
    if not path.is_file():
        raise PackageError(f"no rubric {path} for assignment {assignment!r} (available: "
                           f"{', '.join(available_rubrics()) or 'none'}); or give --rubric FILE")
    return path
