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

import numpy as np

import grader
from grader import integrity, sandbox as sb, tree
from grader.checks import layers as layer_checks
from grader.checks import networks as net_checks
from grader.checks import training as train_checks
from grader.plan import Plan, get_plan
from grader.results import CheckResult, Report, error, failed, passed
from grader.session import Session

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
    from reference import data as mnist

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


def load_result(session: Session) -> CheckResult:
    """`load`: did every file of the submission import, and what was left out."""
    if session.load_error:
        return error("load", f"your submission could not be loaded: {session.load_error}")
    files = session.inventory.get("files", [])
    broken = [f for f in files if f.get("status") != "ok"]
    dropped = sum(len(f.get("dropped", [])) for f in files)
    note = f"; {dropped} top-level statements (training, plotting, shell lines) were not run" if dropped else ""
    if not files:
        return failed("load", "no Python files or notebooks were found in the submission")
    if broken:
        lines = "\n  - ".join(f"{f['path']}: {f.get('error')}" for f in broken)
        return failed("load", f"{len(broken)} of {len(files)} files failed to import (checks that need them "
                              f"will fail):\n  - {lines}", files=len(files), dropped=dropped)
    return passed("load", f"{len(files)} file{'s' if len(files) != 1 else ''} imported{note}",
                  files=len(files), dropped=dropped)


def integrity_result(violations: list[integrity.Violation]) -> CheckResult:
    if not violations:
        return passed("integrity", "no attempt to reach the grader's code or answers")
    lines = "\n  - ".join(map(str, violations[:10]))
    return failed("integrity", f"integrity violation: the submission tries to reach the grader's code or answers "
                               f"(those files are hidden from it; reported to the instructor):\n  - {lines}",
                  diagnosis="integrity", violations=[str(v) for v in violations])


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
    data = None
    if plan.networks and {"trajectory", "training"} & set(plan.network_checks):
        say("loading MNIST for the training checks")
        data, data_problem = load_training_data(data_dir, seed, budget)
        if data_problem:
            warnings.append(f"training checks skipped: {data_problem}")

    say("starting the sandbox")
    rubric_file = () if plan.source.startswith("built-in:") else (plan.source,)  # hidden from the student
    with sb.Sandbox(root, limits, hide=rubric_file, isolation=isolation) as box:
        session = Session(box)
        say("importing the submission")
        session.load()
        checks.append(load_result(session))
        timeout = limits.call_timeout
        for key in plan.layers + tuple(k for k in plan.optional_layers if session.has_layer(k)):
            say(f"checking layer {key}")
            checks += layer_checks.judge(layer_checks.collect(session, key, seed, timeout=timeout))
        for key in plan.networks:
            say(f"checking network {key}")
            checks += network_checks(session, key, seed, data, budget, limits, say, plan.network_checks)
        sandbox_info = {"isolation": box.isolation, "notes": list(box.notes), "restarts": session.restarts,
                        "peak_memory_mb": round(box.peak_rss_mb)}
        output = box.output()
        files = session.inventory.get("files", [])
        warnings += list(session.inventory.get("warnings", []))
        warnings += list(getattr(box, "warnings", []))

    for c in checks:
        c.max_score = plan.points_for(c.id)
        c.score = c.max_score if c.status == "passed" else 0.0
    return Report(submission=tree.printable(str(submission)), rubric=plan.source, checks=checks, seed=seed,
                  sandbox=sandbox_info, files=files, warnings=warnings, output=output,
                  seconds=round(time.monotonic() - started, 3), grader_version=grader.__version__)


def network_checks(session: Session, key: str, seed: int, data, budget, limits: sb.Limits,
                   say: Progress, wanted: tuple[str, ...]) -> list[CheckResult]:
    """The plan's checks of one network, in order; later ones reuse what the architecture check learnt."""
    t = limits.call_timeout
    arch, ev = net_checks.check_architecture(session, key, seed, timeout=t)
    images = None if data is None else (data.x_valid[:16], data.t_valid[:16])  # small: textbook im2col is ~4 MB per image
    train_timeout = max(t, limits.train_timeout)
    later = {
        "logits": lambda: net_checks.check_logits(session, ev, seed, timeout=t),
        "gradient": lambda: net_checks.check_gradient(session, ev, seed, timeout=t),
        "gradcheck": lambda: net_checks.check_gradcheck(session, ev, seed, timeout=t),
        "initial_loss": lambda: net_checks.check_initial_loss(session, ev, seed, images=images, timeout=t),
        "trajectory": lambda: train_checks.check_trajectory(session, ev, seed, data, budget, timeout=train_timeout),
        "training": lambda: train_checks.check_own_training(session, ev, seed, data, budget, timeout=train_timeout),
    }
    results = [arch]
    for name in wanted:
        if name in later:
            if name == "trajectory":
                say(f"training network {key} briefly")
            results.append(later[name]())
    return results
