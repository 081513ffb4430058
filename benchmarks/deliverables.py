"""What the deliverable checks add to grading one submission: the same submission graded with the
rubric's plan and with the same plan minus the deliverable kinds, alternately, in one process.

    GRADER_DATA_DIR=../shared/data/mnist-ci python benchmarks/deliverables.py [submissions/sample] [--rubric pa2] [--rounds 2]

Prints per grading: wall seconds, the machine's busy CPU seconds (all processes, from /proc/stat:
the worker runs in another pid namespace), the grader's peak RSS and the worker's peak memory; then
the median difference with minus without (issue 16's goal: at most 15 s on 2 cores, worker and
grader under 768 MB). Run on a quiet machine: the load average is printed.
"""

import argparse
import dataclasses
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.deliverables import CHECKS  # noqa: E402
from grader.grade import grade  # noqa: E402
from grader.rubric import get_plan  # noqa: E402


def busy_cpu() -> float:
    """CPU seconds the whole machine spent not idle since boot (user + nice + system + irq)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def timed(submission: str, plan) -> dict:
    cpu, wall = busy_cpu(), time.monotonic()
    report = grade(submission, assignment=plan)
    return {"wall": time.monotonic() - wall, "cpu": busy_cpu() - cpu, "score": report.score,
            "worker_mb": (report.sandbox or {}).get("peak_memory_mb"),
            "grader_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("submission", nargs="?", default=str(ROOT / "submissions" / "sample"))
    ap.add_argument("--rubric", default="pa2")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    full = get_plan(args.rubric)
    bare = dataclasses.replace(full, network_checks=tuple(c for c in full.network_checks if c not in CHECKS))
    print(f"{args.submission} ({args.rubric}), {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    rows = {"with": [], "without": []}
    for r in range(args.rounds):
        for name, plan in (("without", bare), ("with", full)):
            row = timed(args.submission, plan)
            rows[name].append(row)
            print(f"round {r + 1} {name:>7} deliverables: {row['wall']:6.1f} s wall, {row['cpu']:6.1f} s busy CPU, "
                  f"score {row['score']:.1f}, grader peak RSS {row['grader_mb']:.0f} MB, worker peak "
                  f"{row['worker_mb']} MB, load {os.getloadavg()[0]:.1f}")
    for what in ("wall", "cpu"):
        added = statistics.median(w[what] for w in rows["with"]) - statistics.median(w[what] for w in rows["without"])
        print(f"deliverables add (median with - median without): {added:.1f} s {'wall' if what == 'wall' else 'busy CPU'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
