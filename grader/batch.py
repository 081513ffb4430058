"""Grade a whole class: every child folder of DIR is one submission, graded into a gradebook.

Each submission is graded by a process of its own (``python -m grader.batch_job``) with a
wall-clock budget, so a submission that hangs, crashes or floods costs its own budget and nothing
else; inside it the sandbox isolates the student's code as for one submission (bubblewrap, a
cgroup per worker where the machine has cgroups). Results are written by this process only, as
each is known (:mod:`grader.gradebook`), so a batch killed with ``kill -9`` resumes where it
stopped. ``--scheduler`` sends the same jobs to a dask.distributed cluster instead of local
processes; the results come back here and are written the same way.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import grader
from grader import gradebook as gb
from grader import tree

#: Memory one grading needs at its peak (the worker's limit is 1024 MB; a typical peak is ~500 MB
#: plus the grader's own process): the default worker count keeps this much free per worker.
MB_PER_GRADING = 768
#: Seconds a submission may take beyond the sandbox's own total timeout (start-up, self-check, report).
BUDGET_MARGIN = 120.0
CODE_SUFFIXES = (".py", ".ipynb")


class BatchError(Exception):
    """A problem with the batch itself (no such folder, nothing to grade): shown without a traceback."""


# ---------------------------------------------------------------- finding submissions

def find_submissions(folder: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """(student id, folder) for every child folder, sorted by id; and what was left out, with why."""
    skipped: list[str] = []
    found = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        raise BatchError(f"{folder}: cannot be read ({exc.strerror}); give the folder that holds one "
                         f"folder per submission") from None
    for e in entries:
        if e.name.startswith(".") or e.name == "__pycache__":
            continue
        if not tree.is_utf8(e.name):
            skipped.append(f"{tree.printable(e.name)}: the name is not valid UTF-8; rename the folder")
        elif e.is_symlink():
            skipped.append(f"{e.name}: a symbolic link, not followed")
        elif e.is_dir(follow_symlinks=False):
            found.append((e.name, Path(e.path)))
        elif e.name.endswith(CODE_SUFFIXES):
            skipped.append(f"{e.name}: a file directly in the batch folder; put each submission in a folder "
                           f"named by the student id")
    return found, skipped


def _has_code(folder: Path) -> bool:
    return any(e.kind == "file" and e.rel.endswith(CODE_SUFFIXES)
               for e in tree.walk(folder, max_depth=4, max_entries=2000, prune=("__pycache__",)))


def looks_like_batch(folder: Path) -> bool:
    """True when ``folder`` looks like a folder of submissions rather than one submission: no code
    of its own, at least two child folders with code, none of them a package or imported by a
    sibling (the textbook layout ``common/`` + ``pa2/`` is one submission)."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    try:
        children = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return False
    if any(e.is_file(follow_symlinks=False) and e.name.endswith(CODE_SUFFIXES) for e in children):
        return False
    code = [Path(e.path) for e in children if e.is_dir(follow_symlinks=False) and not e.name.startswith((".", "_"))
            and _has_code(Path(e.path))]
    if len(code) < 2 or any((c / "__init__.py").exists() for c in code):
        return False
    names = {c.name for c in code if c.name.isidentifier()}
    pattern = re.compile(r"^\s*(?:from|import)\s+(" + "|".join(map(re.escape, names)) + r")\b", re.M) if names else None
    for child in code:
        for e in tree.walk(child, max_depth=4, max_entries=500):
            if pattern and e.kind == "file" and e.rel.endswith(CODE_SUFFIXES):
                try:
                    with open(e.path, encoding="utf-8", errors="replace") as f:
                        if pattern.search(f.read(1_000_000)):
                            return False
                except OSError:
                    continue
    return True


def batch_hint(folder: Path) -> str:
    """What `grade DIR` says when DIR is a folder of submissions."""
    subs, _ = find_submissions(folder)
    shown = ", ".join(sid for sid, _ in subs[:3]) + (", …" if len(subs) > 3 else "")
    return (f"{folder} looks like a folder of {len(subs)} submissions ({shown}), not one submission. "
            f"Grade them all into a gradebook with:\n  grade --batch {folder} --out gradebook\n"
            f"or grade one of them with: grade {Path(folder) / subs[0][0]}")


def default_workers() -> int:
    """Gradings the machine affords at once: one per core, within the memory free for them."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    by_memory = cores if available is None else available // MB_PER_GRADING
    return max(1, min(cores, by_memory))


# ---------------------------------------------------------------- one submission, in its own process

def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the batch dies (even by kill -9), so no grading is orphaned."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the job's process group (its sandbox cleans up), then SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - limit))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def run_job(job: dict[str, Any], budget: float, command: list[str] | None = None) -> dict[str, Any]:
    """Grade one submission in a child process within ``budget`` seconds: an outcome
    ``{status, seconds, reason, final, report}`` (``report``: the JSON text, or None).
    ``command`` replaces ``python -m grader.batch_job`` (tests); the job file's path is appended."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grader-batch-") as tmp:
        job = {**job, "report": str(Path(tmp) / "report.json")}
        (Path(tmp) / "job.json").write_text(json.dumps(job))
        stderr = Path(tmp) / "stderr.txt"
        with open(stderr, "wb") as err:
            argv = command or [sys.executable, "-m", "grader.batch_job"]
            proc = subprocess.Popen([*argv, str(Path(tmp) / "job.json")],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True, preexec_fn=_die_with_parent)
            try:
                code = proc.wait(budget)
            except subprocess.TimeoutExpired:
                _stop(proc)
                return {"status": "timeout", "seconds": round(time.monotonic() - started, 1), "final": True,
                        "reason": f"took more than {budget:g} s (the batch's budget per submission); stopped",
                        "report": None}
            finally:
                if proc.poll() is None:
                    _stop(proc)
        seconds = round(time.monotonic() - started, 1)
        report = Path(job["report"])
        if code == 0 and report.is_file():
            return {"status": "graded", "seconds": seconds, "final": True, "reason": "",
                    "report": report.read_text(encoding="utf-8")}
        why = _tail(stderr) or (f"the grading process was killed by signal {-code}" if code < 0
                                else f"the grading process exited with code {code}")
        # 3: the grader's own environment failed (not the student's doing): graded again next run
        return {"status": "error", "seconds": seconds, "final": code != 3, "reason": why, "report": None}


def pack(root: Path, limit_mb: int = 200) -> bytes:
    """A submission's files as a tar.gz (bounded walk, no links) for a cluster worker."""
    buf = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for entry in tree.walk(root, prune=("__pycache__",)):
            if entry.kind not in ("file", "dir"):
                continue
            if entry.kind == "file":
                total += os.path.getsize(entry.path)
                if total > limit_mb * 1024 * 1024:
                    break
            tar.add(entry.path, arcname=entry.rel, recursive=False)
    return buf.getvalue()


def remote_job(job: dict[str, Any], archive: bytes, rubric_text: str, budget: float) -> dict[str, Any]:
    """:func:`run_job` on a cluster worker: the submission and rubric arrive as bytes."""
    with tempfile.TemporaryDirectory(prefix="grader-remote-") as tmp:
        sub = Path(tmp) / "submission"
        sub.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(sub, filter="data")  # no absolute paths, no links out, no devices
        rubric = Path(tmp) / "rubric.yaml"
        rubric.write_text(rubric_text, encoding="utf-8")
        return run_job({**job, "submission": str(sub), "rubric": str(rubric)}, budget)


# ---------------------------------------------------------------- the batch

@dataclass
class BatchOptions:
    """How to grade every submission (the same options as for one) and how to run the batch."""

    rubric: Path                      # the rubric file (an --assignment's rubrics/<name>.yaml)
    data_dir: str | None = None
    seed: int | None = None
    isolation: str = "auto"
    limit_overrides: dict[str, Any] = field(default_factory=dict)
    budget: float | None = None       # wall-clock seconds per submission (default: total timeout + margin)
    workers: int | None = None
    regrade: bool = False
    scheduler: str | None = None      # a dask.distributed scheduler address
    formats: tuple[str, ...] = ()     # student-facing reports per submission: gradescope, junit, html

    def fingerprint_options(self) -> dict[str, Any]:
        """The options that change a grade (a different value grades every submission again)."""
        return {"data_dir": self.data_dir, "seed": self.seed, "isolation": self.isolation,
                "limits": self.limit_overrides, "budget": self.budget}


@dataclass
class BatchResult:
    book: gb.Gradebook
    graded: list[str]     # graded by this run
    skipped: list[str]    # finished before, unchanged: not graded again
    left_out: list[str]   # entries of DIR that are not submissions


def budget_for(plan, options: BatchOptions) -> float:
    if options.budget:
        return float(options.budget)
    total = options.limit_overrides.get("total_timeout", plan.limits.get("total_timeout", 600.0))
    return float(total) + BUDGET_MARGIN


def groups_of(plan) -> list[str]:
    """The points columns of the gradebook: ``layers`` and each graded network."""
    return (["layers"] if plan.layers else []) + list(plan.networks)


Runner = Callable[[list[tuple[str, dict[str, Any]]]], Iterator[tuple[str, dict[str, Any]]]]


def local_runner(workers: int, budget: float) -> Runner:
    """Run jobs as child processes of this one, ``workers`` at a time; yield outcomes as they finish."""
    def run(jobs):
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade") as pool:
            futures = {pool.submit(run_job, job, budget): sid for sid, job in jobs}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
    return run


def dask_runner(address: str, budget: float, rubric_text: str, paths: dict[str, Path]) -> Runner:
    """Send jobs to a dask.distributed cluster; the outcomes come back to this process."""
    def run(jobs):
        from distributed import Client, as_completed as dask_completed

        try:
            client = Client(address, timeout=30)
        except (OSError, TimeoutError) as exc:
            raise BatchError(f"cannot reach the dask scheduler at {address}: {exc}; start one with "
                             f"`dask scheduler` and workers with `dask worker {address}`") from None
        try:
            futures = {}
            for sid, job in jobs:
                fut = client.submit(remote_job, job, pack(paths[sid]), rubric_text, budget, pure=False,
                                    key=f"grade-{sid}-{time.monotonic_ns()}")
                futures[fut] = sid
            for fut in dask_completed(list(futures)):
                try:
                    outcome = fut.result()
                except Exception as exc:  # the worker died or lost the task: that submission errors
                    outcome = {"status": "error", "seconds": 0.0, "final": False, "report": None,
                               "reason": f"the cluster could not grade it: {type(exc).__name__}: {exc}"}
                yield futures[fut], outcome
        finally:
            client.close()
    return run


def run_batch(folder: Path, out: Path, plan, options: BatchOptions, console=None,
              runner: Runner | None = None) -> BatchResult:
    """Grade every submission in ``folder`` that is not finished (or all with ``regrade``) into ``out``.

    ``runner`` turns jobs into outcomes (default: local processes, or the dask cluster of
    ``options.scheduler``); the results are written here either way."""
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise BatchError(f"{folder}: no such folder (give the folder that holds one folder per submission)")
    subs, left_out = find_submissions(folder)
    if not subs:
        raise BatchError(f"{folder} holds no submission folders: put each student's files in a folder "
                         f"named by the student id")
    if out.resolve() == folder.resolve() or folder.resolve() in out.resolve().parents:
        raise BatchError(f"--out {out} is inside the batch folder {folder}: it would be graded as a submission; "
                         f"choose a folder outside it")
    rubric_text = Path(options.rubric).read_text(encoding="utf-8")
    book = gb.Gradebook(out, [sid for sid, _ in subs], groups_of(plan))
    for stale in out.glob("**/.*.part"):  # half-written files of a batch that was killed
        stale.unlink(missing_ok=True)
    budget = budget_for(plan, options)
    fps = {sid: gb.fingerprint(gb.content_digest(path), rubric_text, options.fingerprint_options(),
                               grader.__version__) for sid, path in subs}
    todo = [(sid, path) for sid, path in subs if options.regrade or not book.is_done(sid, fps[sid])]
    skipped = [sid for sid, _ in subs if sid not in {t for t, _ in todo}]
    book.write_csv()
    overrides = dict(options.limit_overrides)
    if "cpus" not in overrides and not options.scheduler:
        overrides["cpus"] = fair_share(options.workers or default_workers())
    jobs = [(sid, {"submission": str(path), "display": str(path), "rubric": str(options.rubric),
                   "rubric_display": plan.source, "data_dir": options.data_dir, "seed": options.seed,
                   "isolation": options.isolation, "limit_overrides": overrides})
            for sid, path in todo]
    if runner is not None:
        pass
    elif options.scheduler:
        runner = dask_runner(options.scheduler, budget, rubric_text, dict(subs))
    else:
        runner = local_runner(options.workers or default_workers(), budget)
    graded = []
    with _progress(console, len(jobs), len(skipped)) as advance:
        for sid, outcome in runner(jobs) if jobs else ():
            report = outcome.get("report")
            sandbox = {}
            if report:
                sandbox = {k: v for k, v in json.loads(report).get("sandbox", {}).items() if k in ("isolation", "notes")}
            if report and options.formats:  # before the record: a record marks the submission finished
                write_formats(json.loads(report), out / sid, options.formats, options.data_dir)
            book.write(gb.Record(id=sid, status=outcome["status"], seconds=outcome["seconds"],
                                 fingerprint=fps[sid], reason=outcome.get("reason", ""),
                                 final=outcome.get("final", True), sandbox=sandbox), report)
            graded.append(sid)
            advance(sid, outcome["status"])
    return BatchResult(book, graded, skipped, left_out)


def fair_share(workers: int) -> float:
    """Cores' worth of CPU each submission's worker may use when ``workers`` grade at once (a cgroup
    quota where the machine has cgroups): a busy-looping submission cannot slow the others."""
    return max(1.0, round((os.cpu_count() or 1) / max(1, workers), 2))


#: The student-facing formats a batch can write per submission, and their file names in OUT/<id>/.
FORMATS = {"gradescope": "results.json", "junit": "junit.xml", "html": "html"}


def write_formats(report_data: dict, folder: Path, formats, data_dir) -> None:
    """OUT/<id>/results.json, junit.xml and html/ from the report the batch collected (rendered by
    the client, so a dask cluster's reports get them too)."""
    from grader.report import outputs
    from grader.results import Report

    folder.mkdir(parents=True, exist_ok=True)
    paths = {f: str(folder / FORMATS[f]) if f in formats else None for f in FORMATS}
    outputs.write(Report.from_dict(report_data), gradescope_file=paths["gradescope"], junit_file=paths["junit"],
                  html_dir=paths["html"], data_dir=data_dir)


class _progress:
    """A rich progress bar with the ETA on the console (nothing when no console is given)."""

    def __init__(self, console, total: int, skipped: int):
        self.console, self.total, self.skipped = console, total, skipped
        self.bar = None

    def __enter__(self):
        if self.console is None:
            return lambda sid, status: None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        if self.skipped:
            self.console.print(f"{self.skipped} submissions finished before and unchanged: not graded again "
                               f"(--regrade grades them anyway)")
        self.bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            TextColumn("{task.fields[last]}"), console=self.console)
        self.bar.start()
        task = self.bar.add_task("grading", total=self.total, last="")

        def advance(sid, status):
            self.bar.update(task, advance=1, last=f"{tree.printable(sid)}: {status}")
        return advance

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


# ---------------------------------------------------------------- the summary

def render_summary(result: BatchResult, console) -> None:
    """Print the end-of-batch summary: counts, score distribution, checks failed most, problems."""
    from rich.table import Table
    from rich.text import Text

    s = gb.summarize(result.book)
    console.print(f"[bold]{len(result.book.ids)} submissions[/]: "
                  + ", ".join(f"{n} {k}" for k, n in sorted(s.counts.items()))
                  + f"; {len(result.graded)} graded now, {len(result.skipped)} unchanged and not graded again")
    for note in result.left_out:
        console.print(Text(f"left out: {note}", style="yellow"))
    hist = gb.histogram(s.scores, s.max_score)
    if hist:
        table = Table(title="score distribution", title_justify="left")
        table.add_column("score")
        table.add_column("students", justify="right")
        table.add_column("")
        for band, n in hist:
            table.add_row(band, str(n), "█" * n)
        console.print(table)
    if s.failed_checks:
        table = Table(title="checks failed most", title_justify="left")
        table.add_column("check")
        table.add_column("failed or error", justify="right")
        for check, n in s.failed_checks:
            table.add_row(Text(check), str(n))
        console.print(table)
    if s.problems:
        table = Table(title="not graded", title_justify="left")
        table.add_column("student")
        table.add_column("status")
        table.add_column("why")
        for sid, status, why in s.problems:
            table.add_row(Text(tree.printable(sid)), status, Text(why))
        console.print(table)
    iso = isolation_note(result.book)
    if iso:
        console.print(Text(iso, style="dim"))
    console.print(f"gradebook: {result.book.out / 'gradebook.csv'}")


def isolation_note(book: gb.Gradebook) -> str:
    """How submissions were kept apart, from the sandbox notes of the graded ones."""
    for sid in book.ids:
        rec = book.record(sid)
        if rec and rec.sandbox:
            notes = " ".join(rec.sandbox.get("notes", []))
            cg = "a cgroup per worker (memory, tasks)" if "cgroup" in notes else \
                "no cgroups on this machine (watchdog and rlimits only)"
            return (f"isolation: each submission graded by its own process with a wall-clock budget; "
                    f"sandbox {rec.sandbox.get('isolation')}, {cg}")
    return ""


def main(args, plan, limit_overrides: dict, err) -> int:
    """`grade --batch DIR --out OUT`: the CLI's call (exit 0 when the batch ran, 2 for a bad batch)."""
    if args.out is None:
        err.print("[red]error:[/] --batch needs --out FOLDER (where gradebook.csv and the reports go)")
        return 2
    options = BatchOptions(rubric=Path(plan.source), data_dir=str(args.data_dir) if args.data_dir else None,
                           seed=args.seed, isolation=args.isolation, limit_overrides=limit_overrides,
                           budget=args.budget, workers=args.workers, regrade=args.regrade,
                           scheduler=args.scheduler,
                           formats=tuple(f for f, on in (("gradescope", args.gradescope), ("junit", args.junit),
                                                         ("html", args.html)) if on))
    try:
        result = run_batch(args.batch, args.out, plan, options, console=None if args.quiet else err)
    except BatchError as exc:
        err.print(_error_text(exc))
        return 2
    if args.similarity:
        from grader import similarity

        try:
            pairs = similarity.run(find_submissions(args.batch)[0], Path(args.out) / "similarity",
                                   boilerplate=args.boilerplate, threshold=args.similarity_threshold)
        except similarity.SimilarityError as exc:
            err.print(_error_text(exc))
            return 2
        if not args.quiet:
            err.print(f"similarity: {len(pairs)} pairs above {args.similarity_threshold:g} "
                      f"({Path(args.out) / 'similarity' / 'similarity.html'})")
    if not args.quiet:
        render_summary(result, err)
    return 0


def _error_text(exc) -> Any:
    """An error for the terminal: its text printed literally (paths may hold rich markup)."""
    from rich.text import Text

    return Text.assemble(("error:", "red"), " ", str(exc))


def add_arguments(parser) -> None:
    """The batch options of `grade`."""
    g = parser.add_argument_group("batch grading (a whole class)")
    g.add_argument("--batch", metavar="DIR", type=Path,
                   help="grade every child folder of DIR (one per student, named by the student id)")
    g.add_argument("--out", metavar="OUT", type=Path, help="where gradebook.csv and OUT/<id>/report.json go")
    g.add_argument("--workers", type=int, metavar="N",
                   help=f"submissions graded at once (default: one per core, within {MB_PER_GRADING} MB "
                        f"of free memory each)")
    g.add_argument("--regrade", action="store_true", help="grade again submissions that are finished and unchanged")
    g.add_argument("--budget", type=float, metavar="SECONDS",
                   help=f"wall-clock seconds one submission may take, grader included (default: the total "
                        f"timeout + {BUDGET_MARGIN:g})")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="grade on a dask.distributed cluster (e.g. tcp://host:8786) instead of this machine")
    g.add_argument("--similarity", action="store_true",
                   help="also write a similarity report of the submissions (OUT/similarity/)")
    g.add_argument("--boilerplate", metavar="DIR", type=Path,
                   help="code every student was given (e.g. the textbook's common/): left out of the similarity")
    g.add_argument("--similarity-threshold", type=float, default=0.5, metavar="FRACTION",
                   help="list pairs whose similarity is above this (default 0.5)")
