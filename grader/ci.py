"""`grade SUBMISSION --ci`: the grader as a CI step on a student's own repository.

A student controls their own CI, so what it says is advice; the instructor's batch is the grade.
CI mode leaves hidden checks out of everything it prints, exits 1 when the bar (``--fail-under``,
required checks) is not met, writes a GitHub Actions step summary when ``$GITHUB_STEP_SUMMARY``
is set and ``::error file=…,line=…::`` annotations at the class or function that failed (found by
parsing the student's files with :mod:`ast`: parsing is not executing). ``grade ci-template``
prints a workflow that runs it.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import fnmatch
import os
import sys
import tomllib
from pathlib import Path

from grader import tree
from grader.results import Report
from grader.worker.aliases import (FUNCTIONAL_LAYERS, LAYER_ALIASES, NETWORK_ALIASES, TORCH_NETWORKS,
                                   normalize)

ADVICE = ("This score comes from your own CI, which you control: it is advice. "
          "The instructor's batch grading is the grade.")


def add_arguments(parser) -> None:
    """The CI options of `grade`."""
    g = parser.add_argument_group("CI on a student's repository")
    g.add_argument("--ci", action="store_true",
                   help="CI mode: exit 1 when the bar is not met, GitHub step summary and annotations, "
                        "no hidden checks in the output")
    g.add_argument("--fail-under", metavar="SCORE",
                   help="with --ci: fail when the score is below SCORE points, or SCORE%% of the maximum (e.g. 80%%)")
    g.add_argument("--require", action="append", default=[], metavar="CHECK",
                   help="with --ci: a check id (or pattern such as 'layers.*.forward') that must pass; repeatable")


def visible(report: Report) -> Report:
    """The report without its hidden checks (their points too): what CI may show."""
    return dataclasses.replace(report, checks=report.visible_checks())


def parse_bar(text: str | None, max_score: float) -> float | None:
    """``--fail-under`` as points: ``40`` is 40 points, ``80%`` is 80 % of the maximum."""
    if text is None:
        return None
    raw = text.strip()
    try:
        if raw.endswith("%"):
            return float(raw[:-1]) / 100.0 * max_score
        return float(raw)
    except ValueError:
        raise ValueError(f"--fail-under {text!r}: give points (40) or a percentage of the maximum (80%)") from None


def shortfalls(report: Report, bar: float | None, required: list[str]) -> list[str]:
    """Why the bar is not met (empty: it is)."""
    out = []
    if bar is not None and report.score < bar - 1e-9:
        out.append(f"score {report.score:g} is below the bar of {bar:g} (of {report.max_score:g})")
    ids = {c.id: c for c in report.checks}
    for pattern in required:
        matched = [c for cid, c in ids.items() if fnmatch.fnmatchcase(cid, pattern)]
        if not matched:
            out.append(f"required check {pattern} did not run")
        out += [f"required check {c.id} {c.status}" for c in matched if c.status != "passed"]
    return out


# ---------------------------------------------------------------- where the student's code is

def _candidates(check_id: str) -> set[str]:
    """Normalized class/function names that a check id is about (handout names and aliases)."""
    parts = check_id.split(".")
    if parts[0] == "layers" and len(parts) > 1:
        key = parts[1]
        names = list(LAYER_ALIASES.get(key, [])) + [n for pair in FUNCTIONAL_LAYERS.get(key, []) for n in pair if n]
    else:
        key = TORCH_NETWORKS.get(parts[0], parts[0])
        names = list(NETWORK_ALIASES.get(key, []))
    return {normalize(n) for n in names}


def _manifest_names(root: Path) -> dict[str, str]:
    """Key -> class/function name from the submission's grader.toml (read as data, never run)."""
    path = root / "grader.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")[:100_000])
    except (OSError, ValueError):
        return {}
    out = {}
    for section in ("layers", "networks"):
        for key, value in (data.get(section) or {}).items():
            symbol = value.get("symbol") or value.get("forward") if isinstance(value, dict) else value
            if isinstance(symbol, str):
                out[key] = symbol.rsplit(":", 1)[-1].split(".")[-1]
    return out


def definitions(root: Path) -> list[tuple[str, int, str]]:
    """(file, line, name) of every class and function defined in the submission's .py files."""
    out = []
    for entry in tree.walk(root, prune=("__pycache__",)):
        if entry.kind != "file" or not entry.rel.endswith(".py"):
            continue
        try:
            if os.path.getsize(entry.path) > 5 * 1024 * 1024:
                continue
            module = ast.parse(Path(entry.path).read_bytes())
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(module):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((entry.rel, node.lineno, node.name))
    return out


def locate(check_id: str, defs: list[tuple[str, int, str]], manifest: dict[str, str],
           report: Report) -> tuple[str | None, int | None]:
    """The file and line a failed check points at in the submission (None when unknown)."""
    parts = check_id.split(".")
    if check_id == "load":
        for f in report.files:
            if f.get("status") != "ok":
                return f.get("path"), None
            for s in f.get("failed", []):
                return f.get("path"), (s.get("line") if f.get("kind") == "py" else None)
        return None, None
    key = parts[1] if parts[0] == "layers" and len(parts) > 1 else parts[0]
    wanted = {normalize(manifest[key])} if key in manifest else _candidates(check_id)
    for rel, line, name in defs:
        if normalize(name) in wanted:
            return rel, line
    return None, None


# ---------------------------------------------------------------- GitHub output

def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _shown_path(root: Path, rel: str) -> str:
    """The file as GitHub wants it: relative to the repository ($GITHUB_WORKSPACE, else the cwd)."""
    full = (root / rel).resolve()
    base = Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd()).resolve()
    try:
        return full.relative_to(base).as_posix()
    except ValueError:
        return full.as_posix()


def annotations(report: Report, root: Path) -> list[str]:
    """One ``::error`` workflow command per failed or errored check, at the code it is about."""
    defs, manifest = definitions(root), _manifest_names(root)
    out = []
    for c in report.checks:
        if c.status not in ("failed", "error"):
            continue
        rel, line = locate(c.id, defs, manifest, report)
        props = [f"title={_escape_property(tree.printable(c.id))}"]
        if rel:
            props.insert(0, f"file={_escape_property(_shown_path(root, rel))}")
            if line:
                props.insert(1, f"line={line}")
        message = (c.message or c.status).strip()
        out.append(f"::error {','.join(props)}::{_escape_data(tree.printable(message))}")
    return out


def _cell(text: str) -> str:
    return tree.printable(text).replace("|", "\\|").replace("\n", " ").strip()


def step_summary(report: Report, problems: list[str]) -> str:
    """The Markdown of a GitHub Actions step summary: the score, the bar, every visible check."""
    mark = {"passed": "✅", "failed": "❌", "error": "❗", "skipped": "➖"}
    lines = [f"## grader: {report.score:g} / {report.max_score:g} points", ""]
    if problems:
        lines += ["**The bar is not met:**", ""] + [f"- {_cell(p)}" for p in problems]
    else:
        lines.append("**The bar is met.**")
    lines += ["", "| check | | points | result |", "|---|---|---:|---|"]
    for c in report.checks:
        first = (c.message or "").strip().splitlines()
        points = f"{c.score:g}/{c.max_score:g}" if c.max_score else ""
        lines.append(f"| `{_cell(c.id)}` | {mark[c.status]} | {points} | {_cell(first[0][:200] if first else '')} |")
    fix = next((c for c in report.checks if c.status in ("failed", "error")), None)
    if fix is not None:
        lines += ["", f"### What to fix first: `{_cell(fix.id)}`", "", "```", tree.printable(fix.message), "```"]
    lines += ["", f"> {ADVICE}", ""]
    return "\n".join(lines)


def finish(report: Report, plan, args, err) -> int:
    """After grading in CI mode: annotations, step summary, and the exit code (1: bar not met)."""
    required = list(getattr(plan, "required", ()) or ()) + list(args.require)
    try:
        bar = parse_bar(args.fail_under, report.max_score)
    except ValueError as exc:
        err.print(f"error: {exc}", markup=False)
        return 2
    problems = shortfalls(report, bar, required)
    root = Path(args.submission)
    root = root.parent if root.is_file() else root
    for line in annotations(report, root):
        sys.stdout.write(line + "\n")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(step_summary(report, problems))
    if problems:
        err.print("CI: the bar is not met: " + "; ".join(problems), markup=False, highlight=False)
    else:
        err.print("CI: the bar is met", markup=False, highlight=False)
    err.print(ADVICE, markup=False, highlight=False)
    return 1 if problems else 0


# ---------------------------------------------------------------- the workflow for student repositories

TEMPLATE = """\
# GitHub Actions workflow: grade this repository with the course's grader on every push.
# Generated by `grade ci-template`. The score it shows is advice (you control this CI);
# the instructor's batch grading is the grade.
name: grade
on: [push, pull_request, workflow_dispatch]
jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "{python}"
      - name: Install bubblewrap (the grader's sandbox)
        run: |
          sudo apt-get update -q && sudo apt-get install -y -q bubblewrap
          # Ubuntu 24.04 blocks unprivileged user namespaces for bubblewrap unless allowed
          sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 || true
      - name: Install the grader with the CPU build of torch
        run: |
          pip install torch=={torch} --index-url https://download.pytorch.org/whl/cpu
          pip install "{source}"
      - name: Grade
        run: {command}
"""


def template(assignment: str | None, rubric: str | None, fail_under: str | None, require: list[str],
             source: str, torch: str, python: str, submission: str = ".") -> str:
    """The workflow file (YAML text) for a student repository."""
    command = ["grade", submission] + (["--rubric", rubric] if rubric else ["--assignment", assignment or "pa2"])
    command.append("--ci")
    if fail_under:
        command += ["--fail-under", fail_under]
    for r in require:
        command += ["--require", r]
    quoted = " ".join(a if all(ch.isalnum() or ch in "-_./%*" for ch in a) else "'" + a.replace("'", "'\\''") + "'"
                      for a in command)
    return TEMPLATE.format(python=python, torch=torch, source=source, command=quoted)


def pinned_torch() -> str:
    """The torch version of the grader's constraints.txt (the CPU pin), else the tested one."""
    path = Path(__file__).resolve().parents[1] / "constraints.txt"
    try:
        for line in path.read_text().splitlines():
            if line.strip().lower().startswith("torch=="):
                return line.split("==", 1)[1].split("+")[0].split(";")[0].strip()
    except OSError:
        pass
    return "2.13.0"


def template_main(argv: list[str]) -> int:
    """`grade ci-template`: print the workflow for student repositories."""
    p = argparse.ArgumentParser(prog="grade ci-template",
                                description="Print a GitHub Actions workflow that grades a student's repository "
                                            "(save it as .github/workflows/grade.yml).")
    p.add_argument("--assignment", "-a", default="pa2", help="the assignment to grade (default pa2)")
    p.add_argument("--rubric", help="a rubric file in the student's repository (instead of --assignment)")
    p.add_argument("--fail-under", help="fail the job below this score (points, or 80%%)")
    p.add_argument("--require", action="append", default=[], help="a check that must pass (repeatable)")
    p.add_argument("--source", default="git+https://github.com/YOUR-COURSE/grader.git",
                   help="where pip installs the grader from (a git URL or a package name)")
    p.add_argument("--python", default="3.11", help="Python version of the job (default 3.11)")
    p.add_argument("--submission", default=".", help="the folder to grade, relative to the repository (default .)")
    args = p.parse_args(argv)
    sys.stdout.write(template(args.assignment, args.rubric, args.fail_under, args.require, args.source,
                              pinned_torch(), args.python, args.submission))
    return 0
