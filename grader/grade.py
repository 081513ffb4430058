"""Grade one submission: load it in a sandboxed worker, run the plan's checks, score, report.

This is the library entry point the CLI (and tests) call; it never raises for anything a
submission does, only for grader-side problems (missing path, unknown assignment).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path
from typing import Callable


import grader
from grader import deliverables, integrity, sandbox as sb, tree
from grader.checks import layers as layer_checks
from grader.checks import networks as net_checks
from grader.checks import registry
from grader.checks import training as train_checks
from grader.plan import Plan
from grader.results import CheckResult, Report, error, failed, passed
from grader.rubric import get_plan
from grader.session import Session
from reference import data as mnist

Progress = Callable[[str], None]


class GradeError(Exception):
    """A problem on the grader's side (bad path, bad option): shown to the user, no traceback."""


def content_seed(root: Path, salt: str = "") -> int:
    """A seed derived from the submission's files: the same submission always gets the same check
    inputs (so grading is deterministic), but inputs cannot be known before the code is final."""
    h = hashlib.sha256(salt.encode())
    for entry in tree.walk(root, prune=("__pycache__",)):  # bounded; odd names are left out
        if entry.kind != "file":
            continue
        h.update(entry.rel.encode())
        try:
            size = os.stat(entry.path, follow_symlinks=False).st_size
            h.update(str(size).encode())
            if size <= 5 * 1024 * 1024:
                with open(entry.path, "rb") as f:
                    h.update(f.read(5 * 1024 * 1024))
        except OSError:
            continue
    return int.from_bytes(h.digest()[:4], "big")


def load_training_data(data_dir, seed: int, budget: train_checks.TrainingBudget):
    """A seeded stratified MNIST subset for the brief-training checks, or (None, reason)."""
    try:
        directory = mnist.find_data_dir(data_dir)
        n_train = budget.steps * budget.batch_size + budget.trajectory_steps * budget.trajectory_batch
        train_labels = mnist.load_labels("train", directory)
        train_idx = mnist.stratified_subset(train_labels, min(n_train, len(train_labels)), seed)
        x, t = mnist.load_mnist("train", data_dir=directory, indices=train_idx)
        test_labels = mnist.load_labels("test", directory)
        test_idx = mnist.stratified_subset(test_labels, min(budget.held_out, len(test_labels)), seed)
        xv, tv = mnist.load_mnist("test", data_dir=directory, indices=test_idx)
    except mnist.DataError as exc:
        return None, str(exc)
    except Exception as exc:  # a broken data file must not stop the grading of the code
        return None, f"MNIST could not be read: {type(exc).__name__}: {exc}"
    return train_checks.TrainingData(x, t, xv, tv), None


def describe_data(data_dir) -> str:
    """Where the MNIST files in use came from, for the report."""
    try:
        return mnist.describe_data_dir(mnist.find_data_dir(data_dir))
    except mnist.DataError:
        return ""


def load_result(session: Session) -> CheckResult:
    """`load`: did every file of the submission import, which statements failed, what was left out."""
    if session.load_error:
        return error("load", f"your submission could not be loaded: {session.load_error}")
    files = session.inventory.get("files", [])
    broken = [f for f in files if f.get("status") != "ok"]
    dropped = sum(len(f.get("dropped", [])) for f in files)
    statements = [(f["path"], s) for f in files for s in f.get("failed", [])]
    note = f"; {dropped} top-level statements (training, plotting, shell lines) were not run" if dropped else ""
    if not files:
        return failed("load", "no Python files or notebooks were found in the submission")
    problems = [f"{f['path']}: {f.get('error')}" for f in broken]
    problems += [f"{path}, {_where(s)} ({s['text']}): {s['error']}"
                 + (f" ({s['resolution']})" if s.get("resolution") else "") for path, s in statements]
    if broken:
        head = (f"{len(broken)} of {len(files)} files failed to import"
                + (f" and {len(statements)} statements failed" if statements else "")
                + " (checks that need them will fail)")
    elif statements:
        head = (f"{len(files)} file{'s' if len(files) != 1 else ''} loaded with {len(statements)} statement"
                f"{'s' if len(statements) != 1 else ''} that failed (the rest of each file was loaded; "
                f"checks that need their names will say so)")
    else:
        return passed("load", f"{len(files)} file{'s' if len(files) != 1 else ''} imported{note}",
                      files=len(files), dropped=dropped)
    lines = "\n  - ".join(problems)
    return failed("load", f"{head}:\n  - {lines}", files=len(files), dropped=dropped,
                  failed_statements=len(statements))


def _where(statement: dict) -> str:
    if statement.get("cell") is not None:
        return f"cell {statement['cell']}, line {statement['cell_line']}"
    return f"line {statement['line']}"


def integrity_result(violations: list[integrity.Violation]) -> CheckResult:
    if not violations:
        return passed("integrity", "no attempt to reach the grader's code or answers")
    lines = "\n  - ".join(map(str, violations[:10]))
    return failed("integrity", f"integrity violation: the submission tries to reach the grader's code or answers "
                               f"(those files are hidden from it; reported to the instructor):\n  - {lines}",
                  diagnosis="integrity", violations=[str(v) for v in violations])


def hidden_from_student(plan: Plan, data_dir) -> tuple[Path, ...]:
    """Files the sandbox must hide beyond the grader's own: the rubric and the MNIST folder in use
    (however it was found: option, environment variable or cache), since it holds the test labels."""
    hide = [] if plan.source.startswith("built-in:") else [Path(plan.source)]
    for candidate in (data_dir, os.environ.get(mnist.ENV_VAR), mnist.cache_dir()):
        if candidate:
            hide.append(Path(candidate).expanduser())
    try:
        hide.append(mnist.find_data_dir(data_dir))
    except mnist.DataError:
        pass
    return tuple(dict.fromkeys(p.resolve() for p in hide))


def grade(submission: str | Path, *, assignment: str | Plan = "pa2", data_dir=None, seed: int | None = None,
          limits: sb.Limits | None = None, isolation: str = "auto",
          budget: train_checks.TrainingBudget | None = None, progress: Progress | None = None,
          limit_overrides: dict | None = None) -> Report:
    """Grade one submission folder and return its report (scored by the plan).

    Limits and training budget: the defaults, replaced by the plan's (rubric's) ``limits`` and
    ``training`` sections, replaced by explicit ``limits=`` / ``budget=``; ``limit_overrides``
    (the CLI's limit flags, field name -> value) win over all of them.
    """
    started = time.monotonic()
    root = Path(submission)
    if not root.exists():
        raise GradeError(f"{root}: no such file or folder (give the folder of one submission)")
    if root.is_file():
        if root.suffix not in (".py", ".ipynb"):
            raise GradeError(f"{root}: a submission is a folder, a .py file or a .ipynb notebook")
        root = root.parent  # grade the folder holding the file
    plan = assignment if isinstance(assignment, Plan) else get_plan(assignment)
    budget = budget or train_checks.TrainingBudget(**plan.training)
    limits = dataclasses.replace(limits or sb.Limits(**plan.limits), **(limit_overrides or {}))
    seed = content_seed(root) if seed is None else seed
    say = progress or (lambda _msg: None)

    warnings: list[str] = []
    checks: list[CheckResult] = [integrity_result(integrity.scan(root, warnings))]
    data, data_source = None, ""
    if plan.networks and any(registry.network_kind(n).needs_data for n in plan.network_checks):
        say("loading MNIST for the training checks")
        data, data_problem = load_training_data(data_dir, seed, budget)
        if data_problem:
            warnings.append(f"training checks skipped: {data_problem}")
        else:
            data_source = describe_data(data_dir)

    if plan.networks and set(plan.network_checks) & set(deliverables.CHECKS):
        deliverables.warm_up(data_dir)
    say("starting the sandbox")
    with sb.Sandbox(root, limits, hide=hidden_from_student(plan, data_dir), isolation=isolation) as box:
        session = Session(box)
        say("importing the submission")
        session.load()
        checks.append(load_result(session))
        timeout = limits.call_timeout
        for key in plan.layers + tuple(k for k in plan.optional_layers if session.has_layer(k)):
            say(f"checking layer {key}")
            evidence = layer_checks.collect(session, key, seed, timeout=timeout)
            checks += [kind.judge(evidence) for kind in registry.layer_kinds()]
        for key in plan.networks:
            say(f"checking network {key}")
            checks += network_checks(session, key, seed, data, budget, limits, say, plan.network_checks,
                                     root=root, plan=plan, data_dir=data_dir)
        sandbox_info = {"isolation": box.isolation, "notes": list(box.notes), "restarts": session.restarts,
                        "peak_memory_mb": round(box.peak_rss_mb), "torch": box.environment.get("torch", ""),
                        "torch_build": sb.torch_build(box.environment) if box.environment else "",
                        "python": box.environment.get("python", "")}
        output = box.output()
        files = session.inventory.get("files", [])
        warnings += list(session.inventory.get("warnings", []))
        warnings += list(getattr(box, "warnings", []))

    return Report(submission=tree.printable(str(submission)), rubric=plan.source, checks=plan.score(checks), seed=seed,
                  sandbox=sandbox_info, files=files, warnings=warnings, output=output,
                  seconds=round(time.monotonic() - started, 3), grader_version=grader.__version__,
                  data=data_source)


def network_checks(session: Session, key: str, seed: int, data, budget, limits: sb.Limits,
                   say: Progress, wanted: tuple[str, ...], root: Path | None = None,
                   plan: Plan | None = None, data_dir=None) -> list[CheckResult]:
    """The plan's checks of one network, in order: architecture first (it gathers the evidence the
    later ones read), then each named kind of the registry (an unknown name is a KeyError)."""
    kinds = [registry.network_kind(name) for name in wanted if name != "architecture"]
    t = limits.call_timeout
    arch, ev = net_checks.check_architecture(session, key, seed, timeout=t)
    images = None if data is None else (data.x_valid[:16], data.t_valid[:16])  # small: textbook im2col is ~4 MB per image
    ctx = registry.NetworkContext(session=session, key=key, seed=seed, evidence=ev, data=data, budget=budget,
                                  timeout=t, train_timeout=max(t, limits.train_timeout), images=images,
                                  root=root, plan=plan, data_dir=data_dir)
    results = ctx.earlier
    results.append(arch)
    kinds = [k for k in kinds if k.applies is None or k.applies(key)]
    preparing = [k for k in kinds if k.prepare is not None]
    for kind in kinds:
        preparing = [k for k in preparing if not k.prepare(ctx)]
        if kind.progress:
            say(kind.progress.format(key=key))
        results.append(kind.run(ctx))
    return results
