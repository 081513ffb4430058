"""Batch grading speed: a class of 20 submissions (correct, buggy, hostile) with 1 and 2 workers,
and a batch killed with SIGKILL half-way and resumed. Prints wall times and ratios.

    python benchmarks/batch.py [--n 20] [--keep DIR]

The rubric is reduced to the ReLU layer (forward, backward, gradcheck) so that the run takes
minutes: what is measured is the batch machinery (one process and one sandbox per submission,
parallel workers, resume), not the checks. Goals on 2 cores: 2 workers < 0.6x the time of 1;
the resume after a kill < 0.7x the full run.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUBRIC = """\
name: relu-benchmark
layers: [relu]
networks: []
limits: {call_timeout: 5, load_timeout: 15, total_timeout: 60}
"""

RELU = '''\
import numpy as np


class Relu:
    """ReLU ({who})."""

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout = dout.copy()
        dout[{mask}] = 0
        return dout
'''

HOSTILE = {
    "memory_hog": "\n_f = Relu.forward\nRelu.forward = lambda self, x: (np.ones((1 << 33,)), _f(self, x))[1]\n",
    "output_flood": "\n_f = Relu.forward\nRelu.forward = lambda self, x: (print('x' * 50_000_000), _f(self, x))[1]\n",
    "hang_in_backward": "\nimport time\nRelu.backward = lambda self, dout: time.sleep(3600)\n",
    "exit_at_import": "\nimport os\nos._exit(0)\n",
}


def make_class(folder: Path, n: int) -> None:
    """n submissions: a fifth hostile (one of each attack in turn), a quarter buggy, the rest correct."""
    hostile = list(HOSTILE)
    for i in range(n):
        sid = f"s{i:03d}"
        sub = folder / sid
        sub.mkdir(parents=True)
        kind = "hostile" if i % 5 == 4 else "buggy" if i % 4 == 1 else "correct"
        code = RELU.format(who=sid, mask="~self.mask" if kind == "buggy" else "self.mask")
        if kind == "hostile":
            code += HOSTILE[hostile[(i // 5) % len(hostile)]]
        (sub / "layers.py").write_text(code)


def batch(folder: Path, out: Path, rubric: Path, workers: int, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", "--batch", str(folder), "--out", str(out),
                             "--rubric", str(rubric), "--workers", str(workers), "-q"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


def timed(folder, out, rubric, workers) -> float:
    started = time.monotonic()
    proc = batch(folder, out, rubric, workers)
    _, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"batch failed: {err}")
    return time.monotonic() - started


def statuses(out: Path) -> dict[str, int]:
    with open(out / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


def rows_but_seconds(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--keep", type=Path, help="keep the class and gradebooks in this folder")
    args = ap.parse_args()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="grader-bench-batch-"))
    shutil.rmtree(tmp / "class", ignore_errors=True)
    for name in ("out1", "out2", "out-kill"):
        shutil.rmtree(tmp / name, ignore_errors=True)
    make_class(tmp / "class", args.n)
    rubric = tmp / "rubric.yaml"
    rubric.write_text(RUBRIC)

    t1 = timed(tmp / "class", tmp / "out1", rubric, 1)
    print(f"1 worker : {t1:6.1f} s for {args.n} submissions ({t1 / args.n:.1f} s each) {statuses(tmp / 'out1')}",
          flush=True)
    t2 = timed(tmp / "class", tmp / "out2", rubric, 2)
    print(f"2 workers: {t2:6.1f} s  = {t2 / t1:.2f}x the time of 1 (goal < 0.6)", flush=True)

    out = tmp / "out-kill"
    proc = batch(tmp / "class", out, rubric, 2, start_new_session=True)
    while sum(1 for _ in out.glob("*/result.json")) < args.n // 2:
        if proc.poll() is not None:
            sys.exit("the batch ended before it was killed")
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    done = sum(1 for _ in out.glob("*/result.json"))
    tr = timed(tmp / "class", out, rubric, 2)
    print(f"resume   : {tr:6.1f} s after a SIGKILL with {done}/{args.n} finished = {tr / t2:.2f}x the full "
          f"2-worker run (goal < 0.7)", flush=True)
    print(f"resumed gradebook rows identical to the uninterrupted run's (seconds aside): "
          f"{rows_but_seconds(out) == rows_but_seconds(tmp / 'out2')}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
