"""Seconds and peak memory the deliverable checks add to grading (python benchmarks/deliverables.py [net ...]).

Plants correct deliverables (seeded reference weights; the torch twins get them as their own
state_dict) for the PA2 networks in a copy of submissions/sample, grades it with and without the
deliverables section, and prints the seconds each network's deliverable checks took (wall and the
grader's own CPU), the total difference, the load average (the machine is shared) and peak memory.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "deliverables"))

import grader.grade as grade_mod  # noqa: E402
import grader.deliverables.checks as checks_mod  # noqa: E402
from grader.deliverables import CHECKS  # noqa: E402
from grader.plan import Plan  # noqa: E402
import planting  # noqa: E402

PA2_NETS = ("three_layer_nn", "two_layer_cnn", "three_layer_cnn", "two_layer_cnn_torch", "three_layer_cnn_torch")
#: The sample's torch classes of the framework twins.
TORCH_CLASSES = {"two_layer_cnn_torch": "TorchTwoLayerCNN", "three_layer_cnn_torch": "TorchThreeLayerCNN"}


def _sample_torch_module(key: str):
    spec = importlib.util.spec_from_file_location("sample_torch_networks", ROOT / "submissions/sample/pa2/torch_networks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, TORCH_CLASSES[key])()


def _timed_deliverables(timings: dict):
    """deliverables.checks.deliverable_checks wrapped to record (wall s, grader CPU s) per network."""
    inner = checks_mod.deliverable_checks

    def wrapper(session, key, *args, **kwargs):
        wall, cpu = time.monotonic(), time.process_time()
        out = inner(session, key, *args, **kwargs)
        timings[key] = (time.monotonic() - wall, time.process_time() - cpu)
        return out

    return inner, wrapper


def main() -> None:
    nets = tuple(sys.argv[1:]) or PA2_NETS
    print(f"load average at start: {' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    x, t = planting.test_data()
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "sub"
        shutil.copytree(ROOT / "submissions" / "sample", sub)
        for key in nets:
            started = time.monotonic()
            net = planting.seeded_network(key.replace("_torch", ""))
            saved = planting.torch_state_dict(_sample_torch_module(key), net) if key in TORCH_CLASSES else None
            planting.plant(sub, key, net, x, t, saved=saved)
            print(f"planted {key} in {time.monotonic() - started:.1f} s")
        totals, per_net = {}, {}
        inner, wrapper = _timed_deliverables(per_net)
        checks_mod.deliverable_checks = wrapper
        try:
            for label, kinds in (("without", ()), ("with", CHECKS)):
                plan = Plan(name="bench", layers=(), networks=nets, network_checks=("architecture", "logits", *kinds),
                            deliverables={})
                started = time.monotonic()
                report = grade_mod.grade(sub, assignment=plan)
                totals[label] = time.monotonic() - started
                print(f"{label} deliverables: {totals[label]:.1f} s, peak worker memory "
                      f"{report.sandbox.get('peak_memory_mb')} MB")
                for c in report.checks:
                    if c.id.split(".")[-1] in ("confusion_matrix", "top3", "loss_log", "accuracy", "cam"):
                        print(f"  {c.id}: {c.status}  {c.message[:140]}")
        finally:
            checks_mod.deliverable_checks = inner
        print("per network (wall s / grader CPU s):")
        for key, (wall, cpu) in per_net.items():
            print(f"  {key:24s} {wall:6.1f} / {cpu:5.1f}")
        parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"deliverable checks added {totals['with'] - totals['without']:.1f} s for {', '.join(nets)} "
              f"(sum per network {sum(w for w, _ in per_net.values()):.1f} s); grader peak RSS {parent_mb:.0f} MB "
              f"(includes planting)")
    print(f"load average at end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
