"""Seconds and peak memory the deliverable checks add to grading (python benchmarks/deliverables.py).

Plants correct deliverables (seeded reference weights) for the PA2 networks in a copy of
submissions/sample, grades it with and without the deliverables section and prints the difference.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "deliverables"))

from grader.grade import grade  # noqa: E402
from grader.plan import Plan  # noqa: E402
import planting  # noqa: E402

NUMPY_NETS = ("two_layer_cnn", "three_layer_cnn", "three_layer_nn")


def main() -> None:
    nets = tuple(sys.argv[1:]) or NUMPY_NETS
    x, t = planting.test_data()
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "sub"
        shutil.copytree(ROOT / "submissions" / "sample", sub)
        for key in nets:
            started = time.monotonic()
            planting.plant(sub, key, planting.seeded_network(key.replace("_torch", "")), x, t)
            print(f"planted {key} in {time.monotonic() - started:.1f} s")
        timings = {}
        for label, section in (("without", None), ("with", {})):
            plan = Plan(name="bench", layers=(), networks=nets, network_checks=("architecture", "logits"),
                        deliverables=section)
            started = time.monotonic()
            report = grade(sub, assignment=plan)
            timings[label] = time.monotonic() - started
            print(f"{label} deliverables: {timings[label]:.1f} s, peak worker memory "
                  f"{report.sandbox.get('peak_memory_mb')} MB")
            for c in report.checks:
                if c.id.split(".")[-1] in ("confusion_matrix", "top3", "loss_log", "accuracy", "cam"):
                    print(f"  {c.id}: {c.status}  {c.message[:150]}")
        print(f"deliverable checks added {timings['with'] - timings['without']:.1f} s for {', '.join(nets)}")


if __name__ == "__main__":
    main()
