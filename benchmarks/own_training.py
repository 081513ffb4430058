"""Own-training budget and criterion: how far the reference networks get, seed by seed, and how far
broken ones get, under the `<net>.training` budget.

    GRADER_DATA_DIR=/work/shared/data/mnist-ci PYTHONPATH=. python benchmarks/own_training.py [--seeds 4] [--nets ...]

For each network of the shipped rubrics (the torch twins share the NumPy factory: same math) it
trains the reference at the handout's init (weight_init_std 0.01) on several seeds, and the same
network with all-zero weights (exact gradient, initial loss ln 10, but symmetric units cannot learn)
and with far-too-large weights (std 1), with the check's SGD (lr, batch) on the check's data, and
prints the held-out "gain" ln 10 - loss after training at each step count, the worst ratio of a
reference gain to another seed's (the margin the criterion has), and the seconds per step.
The criterion in grader/checks/training.py passes a student whose gain is at least
GAIN_FRACTION of the reference run's; a network is judged only if its budget gives the reference a
gain of REFERENCE_MIN_DROP.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from grader.checks import training
from grader.checks.networks import NETWORKS, candidate_options, reference_network
from grader.grade import load_training_data

LN10 = math.log(10.0)
#: Networks of rubrics/pa1.yaml, pa2.yaml, hw7.yaml, one per factory and activation.
NETS = ("three_layer_nn", "three_layer_nn_lrelu", "two_layer_cnn", "three_layer_cnn", "simple_convnet",
        "one_conv_net", "lenet")
INITS = {"handout": 0.01, "zeros": 0.0, "large": 1.0}


def gains(key: str, init: float, seed: int, data, checkpoints: list[int], budget,
          steps: int) -> tuple[list[float], float, float]:
    """ln 10 - held-out loss after each checkpoint's steps, the seconds per SGD step, and the
    held-out accuracy (all held-out images) after the budget's ``steps``."""
    spec = NETWORKS[key]
    net = reference_network(spec.factory, candidate_options(spec, [])[0], seed, init)
    xb, tb = training.batches(data.x, data.t, max(checkpoints), budget.batch_size, seed)
    out, done, spent = [], 0, 0.0
    for stop in checkpoints:
        started = time.perf_counter()
        with np.errstate(all="ignore"):
            training.reference_sgd(net, xb[done:stop], tb[done:stop], budget.lr)
        spent += time.perf_counter() - started
        done = stop
        with np.errstate(all="ignore"):
            loss = training.cross_entropy(net.predict(data.x_valid[:training.LOSS_PROBE]),
                                          data.t_valid[:training.LOSS_PROBE])
        out.append(LN10 - loss if np.isfinite(loss) else -math.inf)
        if stop == steps:
            with np.errstate(all="ignore"):
                accuracy = float(np.mean(np.argmax(net.predict(data.x_valid), axis=1) == data.t_valid))
    return out, spent / done, accuracy


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--seeds", type=int, default=4, help="seeds of the reference at the handout's init")
    parser.add_argument("--broken-seeds", type=int, default=2, help="seeds of each broken init")
    parser.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    parser.add_argument("--max-steps", type=int, default=0, help="cap the longer run (budget x 2) at this many steps; the budget itself always runs")
    args = parser.parse_args(argv)
    budget = training.TrainingBudget()
    data, problem = load_training_data(args.data_dir, 11, budget)
    if problem:
        raise SystemExit(problem)
    print(f"lr {budget.lr}, batch {budget.batch_size}; gain = ln 10 - held-out loss ({training.LOSS_PROBE} test "
          f"images); criterion: student gain >= {training.GAIN_FRACTION} x reference gain, reference drop >= "
          f"{training.REFERENCE_MIN_DROP}")
    print(f"{'network':22} {'init':8} {'steps':>5} {'gain min':>8} {'gain max':>8} {'worst ratio':>11} {'ms/step':>8} {'accuracy':>11}")
    for key in args.nets:
        steps = training.own_training_steps(NETWORKS[key].factory, budget)
        top = max(steps, min(args.max_steps or steps * 2, steps * 2))
        checkpoints = sorted({s for s in (steps // 2, steps, top) if s > 0})
        for name, init in INITS.items():
            n = args.seeds if name == "handout" else args.broken_seeds
            runs = [gains(key, init, 1000 + s, data, checkpoints, budget, steps) for s in range(n)]
            per_step = np.median([r[1] for r in runs]) * 1000
            for i, stop in enumerate(checkpoints):
                g = [r[0][i] for r in runs]
                ratio = min(g) / max(g) if name == "handout" and max(g) > 0 else float("nan")
                acc = [r[2] for r in runs]
                mark = f" {min(acc):5.1%}-{max(acc):5.1%} <- budget" if stop == steps else ""
                print(f"{key:22} {name:8} {stop:5d} {min(g):8.3f} {max(g):8.3f} {ratio:11.2f} {per_step:8.1f}{mark}",
                      flush=True)


if __name__ == "__main__":
    main()
