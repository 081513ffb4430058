"""Wall time of grading the slowest hostile cases, next to the clean sample they are laid over.

    nice -n 10 python benchmarks/hostile.py [--plan hostile|pa2] [--cases output_flood,...] [-v]

Each case of tests/hostile/cases is the sample submission with the case's files laid over it
(as the hostile tests build it) and is graded once through the sandbox. ``--plan hostile`` (the
default) grades with the hostile tests' plan and limits (every layer, two_layer_cnn without
training, 4 s per call); ``--plan pa2`` with the full PA2 rubric and its default limits. The
case ``sample`` is the clean submission: the time a correct one takes. Goal (issue 19): each
case costs at most one call timeout plus the sample's time, under 45 s. Prints per case the
seconds, the worker restarts, the checks that did not pass and (``-v``) when each phase began.
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import sandbox as sb  # noqa: E402
from grader.grade import grade  # noqa: E402
from grader.plan import Plan  # noqa: E402

SAMPLE = ROOT / "submissions" / "sample"
CASES = ROOT / "tests" / "hostile" / "cases"
SLOW = ("sample", "output_flood", "ignore_sigterm", "fork_bomb", "memory_bomb", "print_forever", "loop_in_backward")

#: The hostile tests' plan and limits (tests/hostile/conftest.py), restated so this script stands alone.
HOSTILE_PLAN = Plan("hostile", layers=("affine", "relu", "convolution", "pooling", "softmax"),
                    networks=("two_layer_cnn",), network_checks=("architecture", "logits", "gradient"))
HOSTILE_LIMITS = sb.Limits(call_timeout=4, load_timeout=20, total_timeout=240, memory_mb=700)


def materialise(case: str, dest: Path) -> Path:
    """The sample with the case's files laid over it; ``{{NAME}}`` placeholders get harmless values."""
    shutil.copytree(SAMPLE, dest)
    if case == "sample":
        return dest
    values = {"GRADER_ROOT": str(ROOT), "OUTSIDE": str(dest.parent / "outside"), "SUBMISSION": str(dest),
              "MARKER": f"HOSTILE-BENCH-{case}", "PORT": "0", "HOST_IP": "127.0.0.1", "KIND": ""}
    (dest.parent / "outside").mkdir(exist_ok=True)
    for path in sorted((CASES / case).rglob("*")):
        if path.is_file():
            target = dest / path.relative_to(CASES / case)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = path.read_bytes()
            for name, value in values.items():
                data = data.replace(f"{{{{{name}}}}}".encode(), value.encode())
            target.write_bytes(data)
    return dest


def grade_case(case: str, plan_name: str, verbose: bool) -> tuple[float, object, list]:
    """Grade one case; (seconds, report, [(seconds since start, progress message)])."""
    timeline = []
    start = time.monotonic()

    def progress(message):
        timeline.append((time.monotonic() - start, message))

    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmp:
        sub = materialise(case, Path(tmp) / "sub")
        if plan_name == "hostile":
            report = grade(sub, assignment=HOSTILE_PLAN, seed=11, limits=HOSTILE_LIMITS, progress=progress)
        else:
            report = grade(sub, assignment="pa2", progress=progress)
    return time.monotonic() - start, report, timeline


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", choices=("hostile", "pa2"), default="hostile")
    parser.add_argument("--cases", default=",".join(SLOW), help="comma-separated case names ('sample' = clean)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print when each phase began")
    args = parser.parse_args(argv)
    timeout = HOSTILE_LIMITS.call_timeout if args.plan == "hostile" else sb.Limits().call_timeout
    print(f"plan {args.plan}, call timeout {timeout:g} s; the machine may be shared: figures are wall seconds")
    print(f"{'case':20s} {'seconds':>8s} {'restarts':>8s}  not passed")
    for case in args.cases.split(","):
        seconds, report, timeline = grade_case(case, args.plan, args.verbose)
        bad = sorted(f"{c.id}={c.status}" for c in report.checks if c.status != "passed")
        print(f"{case:20s} {seconds:8.1f} {report.sandbox.get('restarts', 0):8d}  {', '.join(bad) or '-'}",
              flush=True)
        if args.verbose:
            for i, (at, message) in enumerate(timeline):
                until = timeline[i + 1][0] if i + 1 < len(timeline) else seconds
                print(f"    {at:6.1f} s  +{until - at:5.1f} s  {message}")


if __name__ == "__main__":
    main()
