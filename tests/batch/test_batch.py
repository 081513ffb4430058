"""Batch grading: a gradebook written as results arrive, resumed after kill -9, one submission
never affecting another, unchanged submissions not graded again, and a dask cluster."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import batch
from grader.rubric import load_rubric

from .conftest import make_batch, relu_source, write_submission

ROOT = Path(__file__).resolve().parents[2]


def rows(out: Path) -> dict[str, dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


def without_seconds(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "seconds"}


def cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "grader", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, rubric_file):
    """One uninterrupted batch of alice, bob (correct), carol (buggy) and dave (hostile), 2 workers."""
    root = tmp_path_factory.mktemp("full")
    folder, out = make_batch(root / "class", hostile=True), root / "out"
    proc = cli("--batch", folder, "--out", out, "--rubric", rubric_file, "--workers", 2,
               "--gradescope", "x", "--junit", "x", "--html", "x")
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    return folder, out, stderr


def test_student_facing_reports_are_written_per_submission(full_run):
    import jsonschema
    from grader.report import gradescope

    _, out, _ = full_run
    for sid in ("alice", "carol"):
        results = json.loads((out / sid / "results.json").read_text())
        jsonschema.validate(results, gradescope.schema())
        assert results["score"] == float(rows(out)[sid]["score"])
        assert "<testsuite" in (out / sid / "junit.xml").read_text()
        assert "layers.relu" in (out / sid / "html" / "index.html").read_text()


def test_gradebook_has_a_row_per_student_with_points_and_the_first_fix(full_run):
    _, out, _ = full_run
    book = rows(out)
    assert list(book) == ["alice", "bob", "carol", "dave"]
    assert list(book["alice"]) == ["id", "score", "max_score", "extra", "status", "seconds", "layers", "first_fix"]
    assert book["alice"]["status"] == "graded" and book["alice"]["score"] == "3" and book["alice"]["max_score"] == "3"
    assert book["alice"]["first_fix"] == ""
    assert book["carol"]["score"] == "1" and book["carol"]["layers"] == "1"  # forward passes, backward and gradcheck fail
    assert book["carol"]["first_fix"].startswith("layers.relu.backward")
    for sid in book:
        report = json.loads((out / sid / "report.json").read_text())
        assert report["submission"].endswith(sid) and report["score"] == float(book[sid]["score"])


def test_a_hostile_submission_costs_only_its_own_checks(full_run):
    _, out, stderr = full_run
    book = rows(out)
    assert book["dave"]["status"] == "graded"
    dave = {c["id"]: c for c in json.loads((out / "dave" / "report.json").read_text())["checks"]}
    assert dave["layers.relu.forward"]["status"] == "error"
    assert book["alice"]["score"] == book["bob"]["score"] == "3"  # same as graded alone (the next test)
    assert "checks failed most" in stderr and "layers.relu.backward" in stderr
    assert "isolation: each submission graded by its own process" in stderr


def test_resume_after_sigkill_regrades_only_unfinished_and_rows_match(tmp_path, full_run, rubric_file):
    _, full_out, _ = full_run
    folder, out = make_batch(tmp_path / "class"), tmp_path / "out"
    proc = cli("--batch", folder, "--out", out, "--rubric", rubric_file, "--workers", 1, start_new_session=True)
    deadline = time.monotonic() + 300
    while not any((out / sid / "result.json").exists() for sid in ("alice", "bob", "carol")):
        assert proc.poll() is None and time.monotonic() < deadline, "the batch ended before it could be killed"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)  # the batch only: its grading children must notice and stop
    proc.communicate()
    finished = {sid: (out / sid / "result.json").read_bytes() for sid in ("alice", "bob", "carol")
                if (out / sid / "result.json").exists()}
    assert 1 <= len(finished) < 3
    assert set(rows(out)) == set(finished)  # the gradebook holds exactly what was finished

    again = cli("--batch", folder, "--out", out, "--rubric", rubric_file, "--workers", 2)
    _, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr
    assert f"{len(finished)} submissions finished before and unchanged" in stderr
    assert f"{3 - len(finished)} graded now" in stderr
    for sid, record in finished.items():
        assert (out / sid / "result.json").read_bytes() == record  # not graded again, not rewritten
    full = rows(full_out)
    resumed = rows(out)
    assert list(resumed) == ["alice", "bob", "carol"]
    for sid in resumed:
        assert without_seconds(resumed[sid]) == without_seconds(full[sid])


def test_unchanged_submissions_are_not_graded_again_and_a_changed_one_is(tmp_path, full_run, rubric_file):
    folder0, out0, _ = full_run
    folder, out = tmp_path / "class", tmp_path / "out"
    shutil.copytree(folder0, folder)
    shutil.copytree(out0, out)
    before = rows(out)
    plan = load_rubric(rubric_file)
    options = batch.BatchOptions(rubric=rubric_file, workers=1)
    # the report paths name the other folder: the fingerprint is of content, not of where it is
    result = batch.run_batch(folder, out, plan, options)
    assert result.graded == [] and result.skipped == ["alice", "bob", "carol", "dave"]
    assert rows(out) == before
    write_submission(folder, "carol", relu_source("carol"))  # carol fixes her backward
    result = batch.run_batch(folder, out, plan, options)
    assert result.graded == ["carol"]
    after = rows(out)
    assert after["carol"]["score"] == "3" and after["carol"]["first_fix"] == ""
    assert {k: after[k] for k in ("alice", "bob", "dave")} == {k: before[k] for k in ("alice", "bob", "dave")}


def fake_runner(log):
    """Outcomes without grading: each job 'graded' with a report whose score is its id's length."""
    def run(jobs):
        for sid, job in jobs:
            log.append(sid)
            report = {"submission": job["display"], "score": float(len(sid)), "max_score": 9.0,
                      "checks": [{"id": "layers.relu.forward", "status": "passed", "score": float(len(sid))}]}
            yield sid, {"status": "graded", "seconds": 0.1, "final": True, "reason": "", "report": json.dumps(report)}
    return run


def test_regrade_forces_every_submission_and_options_change_the_fingerprint(tmp_path, rubric_file):
    folder, out = make_batch(tmp_path / "class"), tmp_path / "out"
    plan = load_rubric(rubric_file)
    log: list[str] = []
    opts = batch.BatchOptions(rubric=rubric_file)
    batch.run_batch(folder, out, plan, opts, runner=fake_runner(log))
    batch.run_batch(folder, out, plan, opts, runner=fake_runner(log))
    assert log == ["alice", "bob", "carol"]
    batch.run_batch(folder, out, plan, batch.BatchOptions(rubric=rubric_file, regrade=True), runner=fake_runner(log))
    assert log[3:] == ["alice", "bob", "carol"]
    batch.run_batch(folder, out, plan, batch.BatchOptions(rubric=rubric_file, seed=7), runner=fake_runner(log))
    assert log[6:] == ["alice", "bob", "carol"]
    assert rows(out)["alice"]["score"] == "5" and rows(out)["alice"]["layers"] == "5"


def test_a_grader_side_failure_is_graded_again_by_the_next_run(tmp_path, rubric_file):
    folder, out = make_batch(tmp_path / "class"), tmp_path / "out"
    plan = load_rubric(rubric_file)

    def broken(jobs):
        for sid, _ in jobs:
            yield sid, {"status": "error", "seconds": 1.0, "final": sid != "bob", "reason": "boom", "report": None}
    batch.run_batch(folder, out, plan, batch.BatchOptions(rubric=rubric_file), runner=broken)
    assert rows(out)["bob"]["first_fix"] == "boom" and rows(out)["bob"]["score"] == ""
    log: list[str] = []
    batch.run_batch(folder, out, plan, batch.BatchOptions(rubric=rubric_file), runner=fake_runner(log))
    assert log == ["bob"]


def test_budget_stops_a_grading_that_never_ends_and_leaves_no_process(tmp_path):
    started = time.monotonic()
    hang = [sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
                                  "'import time; time.sleep(600)']); time.sleep(600)"]
    outcome = batch.run_job({"submission": str(tmp_path)}, budget=1.5, command=hang)
    assert outcome["status"] == "timeout" and "1.5 s" in outcome["reason"] and outcome["report"] is None
    assert time.monotonic() - started < 30
    import psutil
    assert not [p for p in psutil.Process().children(recursive=True) if "time.sleep(600)" in " ".join(p.cmdline())]


def test_grade_on_a_folder_of_submissions_says_how_to_batch_grade(tmp_path):
    folder = make_batch(tmp_path / "class")
    proc = cli(folder)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "looks like a folder of 3 submissions" in stderr and f"grade --batch {folder} --out" in stderr
    assert not batch.looks_like_batch(ROOT / "submissions" / "sample")  # common/ + pa2/ is one submission


def test_dask_cluster_gives_the_same_gradebook(tmp_path, full_run, rubric_file):
    distributed = pytest.importorskip("distributed")
    _, full_out, _ = full_run
    folder, out = tmp_path / "class", tmp_path / "out"
    write_submission(folder, "alice", relu_source("alice"))
    write_submission(folder, "carol", relu_source("carol", buggy=True))
    plan = load_rubric(rubric_file)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        options = batch.BatchOptions(rubric=rubric_file, scheduler=cluster.scheduler_address)
        result = batch.run_batch(folder, out, plan, options)
        assert sorted(result.graded) == ["alice", "carol"]
        again = batch.run_batch(folder, out, plan, options)  # resume works the same on a cluster
        assert again.graded == []
    full, got = rows(full_out), rows(out)
    for sid in ("alice", "carol"):
        assert without_seconds(got[sid]) == without_seconds(full[sid])
    report = json.loads((out / "alice" / "report.json").read_text())
    assert report["submission"] == str(folder / "alice") and report["rubric"] == str(rubric_file)


def test_each_grading_of_a_local_batch_sizes_its_thread_pools_to_its_share_of_the_cores(monkeypatch):
    """Two gradings on two cores: one BLAS/OpenMP thread each (a pool per core in each oversubscribes
    the machine); a user's own setting is left alone."""
    from grader import batch_job

    variables = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    for var in variables:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    batch_job._share_the_cores(batch.fair_share(2))
    assert [os.environ[v] for v in variables] == ["1", "1", "3"]
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    batch_job._share_the_cores(None)  # a dask job: no share given, nothing set
    assert "OPENBLAS_NUM_THREADS" not in os.environ
