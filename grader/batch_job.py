"""`python -m grader.batch_job JOB.json`: grade one submission of a batch in a process of its own.

The batch starts one of these per submission, so whatever happens while grading it (a hang in
the grader's own side, a crash, a memory hog) costs that process and nothing else. It writes the
JSON report to the job's ``report`` path (atomically) and exits 0; 3 when the grader's own
environment cannot grade (no report); 2 for a bad job (no report). SIGTERM (the batch's budget,
or the batch itself dying) ends it through ``SystemExit`` so the sandbox's worker tree is killed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from grader import THREAD_VARIABLES


def _stop(signum, _frame):
    raise SystemExit(128 + signum)


def _share_the_cores(cpus) -> None:
    """This grading's BLAS/OpenMP threads: its fair share of the cores (the batch's ``cpus``), set
    before numpy and torch load. With a pool per core in every one of N gradings at once, threads
    spin for cores the other gradings hold. A user's setting wins."""
    if isinstance(cpus, (int, float)) and cpus >= 1:
        for var in THREAD_VARIABLES:
            os.environ.setdefault(var, str(int(cpus)))


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop)
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    _share_the_cores((job.get("limit_overrides") or {}).get("cpus"))
    from grader.gradebook import atomic_write
    from grader.grade import GradeError, grade
    from grader.report import json_report
    from grader.rubric import load_rubric
    from grader.sandbox import GraderEnvironmentError

    try:
        plan = load_rubric(job["rubric"])
        report = grade(job["submission"], assignment=plan, data_dir=job.get("data_dir"), seed=job.get("seed"),
                       isolation=job.get("isolation", "auto"), limit_overrides=job.get("limit_overrides") or {})
    except GraderEnvironmentError as exc:
        print(f"grader error: {exc}", file=sys.stderr)
        return 3
    except (GradeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # the batch's names, not the paths this process happened to read (a dask worker's temporary copy)
    report.submission = job.get("display", report.submission)
    report.rubric = job.get("rubric_display", report.rubric)
    atomic_write(Path(job["report"]), json_report.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
