"""Where the wall time of grading one submission goes: per phase, per worker op, parent vs worker CPU.

    nice -n 10 python benchmarks/grade_profile.py [submissions/sample] [--rubric pa2]

Grades the submission once, as ``python -m grader`` would (the full PA2 plan by default), and
prints:
  * one row per phase (the messages of grade()'s progress callback): wall seconds, the grader's
    own CPU seconds and the worker's (every process below this one: live ones from /proc,
    finished ones from RUSAGE_CHILDREN), so "waiting" is wall minus both;
  * one row per worker request op: how many, and the wall seconds the grader waited for them;
  * the sandbox's own steps: the self-check worker, starting workers, (re)loading the
    submission, the reference's golden outputs computed in the grader while the worker idles.
The figures choose what to overlap or cache next (issue 19, goal 2). The machine may be shared.
"""

import argparse
import collections
import functools
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import sandbox as sb, session as session_module  # noqa: E402
from grader.checks import layers as layer_checks, networks as net_checks, training as train_checks  # noqa: E402
from grader.grade import grade  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def descendants_cpu() -> float:
    """CPU seconds (user + system) of every live process below this one, from /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    rest = f.read().rsplit(b")", 1)[1].split()
                table[int(name)] = (int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK)
            except (OSError, IndexError, ValueError):
                continue
    children = collections.defaultdict(list)
    for pid, (ppid, _) in table.items():
        children[ppid].append(pid)
    total, todo = 0.0, list(children[os.getpid()])
    while todo:
        pid = todo.pop()
        total += table[pid][1]
        todo += children[pid]
    return total


def cpu_now() -> tuple[float, float]:
    """(grader CPU seconds, worker CPU seconds) so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, done.ru_utime + done.ru_stime + descendants_cpu()


class Timer:
    """Wall seconds and calls accumulated per label by wrapped functions."""

    def __init__(self):
        self.seconds = collections.Counter()
        self.calls = collections.Counter()

    def wrap(self, owner, name, label=None):
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            key = label(*args, **kwargs) if callable(label) else (label or name)
            start = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] += time.monotonic() - start
                self.calls[key] += 1
        setattr(owner, name, timed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", nargs="?", default=str(ROOT / "submissions" / "sample"))
    parser.add_argument("--rubric", default="pa2")
    args = parser.parse_args(argv)

    steps, ops = Timer(), Timer()
    ops.wrap(sb.Sandbox, "request", label=lambda self, op, *a, **k: op)
    steps.wrap(sb.Sandbox, "run_selfcheck", "self-check worker (once per process)")
    steps.wrap(sb.Sandbox, "_spawn", "starting a worker (spawn only)")
    steps.wrap(sb.Sandbox, "restart", "restarting a worker")
    steps.wrap(session_module.Session, "load", "loading the submission (request included)")
    steps.wrap(layer_checks, "golden_outputs", "reference golden outputs of the layer cases (grader)")
    steps.wrap(net_checks, "reference_network", "building reference networks (grader)")
    steps.wrap(train_checks, "reference_runs", "reference training runs for the trajectory check (grader)")
    steps.wrap(train_checks, "reference_sgd", "reference SGD steps beside the student's (grader)")

    phases = []  # (message, wall at start, grader CPU, worker CPU)
    start = time.monotonic()

    def progress(message):
        phases.append((message, time.monotonic(), *cpu_now()))

    phases.append(("(before the first progress message)", start, *cpu_now()))
    report = grade(args.submission, assignment=args.rubric, progress=progress)
    phases.append(("(end)", time.monotonic(), *cpu_now()))
    wall = phases[-1][1] - start

    print(f"{args.submission} ({args.rubric}): score {report.score:g}/{sum(c.max_score for c in report.checks):g}, "
          f"{wall:.1f} s wall, peak worker memory {report.sandbox.get('peak_memory_mb')} MB, "
          f"restarts {report.sandbox.get('restarts')}; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} (the machine may be shared)")
    print(f"\n{'phase (progress message)':52s} {'wall':>7s} {'grader':>7s} {'worker':>7s} {'waiting':>8s}")
    for (message, t0, g0, w0), (_, t1, g1, w1) in zip(phases, phases[1:]):
        dt, dg, dw = t1 - t0, g1 - g0, w1 - w0
        print(f"{message[:52]:52s} {dt:6.1f}s {dg:6.1f}s {dw:6.1f}s {max(dt - dg - dw, 0):7.1f}s")
    total_g, total_w = phases[-1][2] - phases[0][2], phases[-1][3] - phases[0][3]
    print(f"{'all':52s} {wall:6.1f}s {total_g:6.1f}s {total_w:6.1f}s {max(wall - total_g - total_w, 0):7.1f}s"
          f"  (CPU {100 * (total_g + total_w) / wall:.0f} % of one core)")
    print(f"\n{'worker request op':30s} {'calls':>5s} {'waited':>8s}")
    for op, seconds in ops.seconds.most_common():
        print(f"{op:30s} {ops.calls[op]:5d} {seconds:7.1f}s")
    print(f"\n{'step':60s} {'calls':>5s} {'wall':>7s}")
    for label, seconds in steps.seconds.most_common():
        print(f"{label:60s} {steps.calls[label]:5d} {seconds:6.1f}s")


if __name__ == "__main__":
    main()
