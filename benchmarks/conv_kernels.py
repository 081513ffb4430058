"""Forward+backward time of the NumPy Convolution and Pooling on the PA2 shapes, next to torch.

    nice -n 10 python benchmarks/conv_kernels.py [--repeat 3]
    nice -n 10 python benchmarks/conv_kernels.py --threads 1        # one thread each, as the grader runs them
    nice -n 10 python benchmarks/conv_kernels.py --buffer-mb 16     # another im2col chunk size

For each layer: reference.layers.Convolution (float64), torch conv2d via autograd in float64
and float32 (input and weights require grad, as inside a network), and one NumPy matmul
with the same FLOP count as the three GEMMs of forward+backward (the BLAS ceiling); then
2x2/2 max pooling (reference.layers.Pooling against torch max_pool2d) on the conv outputs
the PA2 variants pool. Prints the best-of-``repeat`` times, the ratios to torch float64, the
share of the machine's float64 matmul rate the convolutions reach (the goal of issue 19:
ratio < 1 for each shape, >= 30 % over the three) and the peak RSS of the process.
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's reference, not an installed one
from grader import THREAD_VARIABLES  # noqa: E402
from reference import layers  # noqa: E402
from reference.layers import Convolution, Pooling  # noqa: E402

# (label, input (N, C, H, W), pool (ph, pw, stride)): 2x2/2 max pooling after the first two convs.
POOLS = [
    ("pool 2x2/2 on 20x24x24", (100, 20, 24, 24), (2, 2, 2)),
    ("pool 2x2/2 on 40x15x15", (100, 40, 15, 15), (2, 2, 2)),
]

# (label, input (N, C, H, W), filters (FN, C, FH, FW)): the PA2 3-layer CNN, batch 100.
SHAPES = [
    ("conv1 1->20@5x5 on 28x28", (100, 1, 28, 28), (20, 1, 5, 5)),
    ("conv2 20->40@10x10 on 24x24", (100, 20, 24, 24), (40, 20, 10, 10)),
    ("conv3 40->80@10x10 on 15x15", (100, 40, 15, 15), (80, 40, 10, 10)),
]


def best_time(fn, repeat):
    """Smallest wall time of ``repeat`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def numpy_conv(x, W, b, dout):
    layer = Convolution(W, b)
    return lambda: (layer.forward(x), layer.backward(dout))


def torch_conv(x, W, b, dout, dtype):
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    Wt = torch.tensor(W, dtype=dtype, requires_grad=True)
    bt = torch.tensor(b, dtype=dtype, requires_grad=True)
    dt = torch.tensor(dout, dtype=dtype)

    def run():
        out = F.conv2d(xt, Wt, bt)
        out.backward(dt)
    return run


def numpy_pool(x, pool, dout):
    layer = Pooling(*pool)
    return lambda: (layer.forward(x), layer.backward(dout))


def torch_pool(x, pool, dout):
    xt = torch.tensor(x, requires_grad=True)
    dt = torch.tensor(dout)

    def run():
        F.max_pool2d(xt, pool[:2], stride=pool[2]).backward(dt)
    return run


def matmul_same_flops(flops):
    """A square float64 matmul doing ``flops`` floating-point operations (2 n^3)."""
    n = max(1, round((flops / 2) ** (1 / 3)))
    rng = np.random.default_rng(0)
    a, c = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    return lambda: a @ c


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int,
                        help="threads of both libraries (the grader's workers use 1; default: as installed)")
    parser.add_argument("--torch-threads", type=int, help="torch's threads only (NumPy's: OPENBLAS_NUM_THREADS)")
    parser.add_argument("--buffer-mb", type=float, help="the convolution's im2col chunk (reference.layers."
                        f"COL_BUFFER_BYTES, default {layers.COL_BUFFER_BYTES / 2**20:g} MB)")
    args = parser.parse_args()
    if args.threads:
        wanted = {var: str(args.threads) for var in THREAD_VARIABLES}
        if any(os.environ.get(var) != value for var, value in wanted.items()):
            # OpenBLAS reads its thread count when NumPy is imported: start again with it set.
            os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **wanted})
        torch.set_num_threads(args.threads)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if args.buffer_mb:
        layers.COL_BUFFER_BYTES = int(args.buffer_mb * 2**20)
    rng = np.random.default_rng(0)
    print(f"torch threads {torch.get_num_threads()}, OPENBLAS_NUM_THREADS "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, im2col chunk "
          f"{layers.COL_BUFFER_BYTES / 2**20:g} MB, numpy {np.__version__}, torch {torch.__version__}")
    header = (f"{'layer':30s} {'GFLOP':>6s} {'numpy':>8s} {'torch64':>8s} {'torch32':>8s} "
              f"{'matmul':>8s} {'np/t64':>7s} {'np/t32':>7s} {'np/mm':>6s}")
    print(header)
    cases = []
    for label, x_shape, w_shape in SHAPES:
        N, C, H, W_ = x_shape
        FN, _, FH, FW = w_shape
        out_shape = (N, FN, H - FH + 1, W_ - FW + 1)
        x = rng.random(x_shape)
        W = 0.01 * rng.standard_normal(w_shape)
        dout = rng.standard_normal(out_shape)
        # forward, dW and dx are each one GEMM of 2 * N*OH*OW * C*FH*FW * FN flops.
        flops = 3 * 2 * N * out_shape[2] * out_shape[3] * C * FH * FW * FN
        cases.append((label, x, W, np.zeros(FN), dout, flops))
    # NumPy first, so the peak RSS it leaves is the NumPy convolution's alone.
    baseline_rss = peak_rss_mb()
    t_numpy = [best_time(numpy_conv(x, W, b, dout), args.repeat) for _, x, W, b, dout, _ in cases]
    numpy_rss = peak_rss_mb()
    total_64 = 0.0
    t_mm_all = []
    for (label, x, W, b, dout, flops), t_np in zip(cases, t_numpy):
        t_64 = best_time(torch_conv(x, W, b, dout, torch.float64), args.repeat)
        total_64 += t_64
        t_32 = best_time(torch_conv(x, W, b, dout, torch.float32), args.repeat)
        t_mm = best_time(matmul_same_flops(flops), args.repeat)
        t_mm_all.append(t_mm)
        print(f"{label:30s} {flops / 1e9:6.2f} {t_np:7.3f}s {t_64:7.3f}s {t_32:7.3f}s "
              f"{t_mm:7.3f}s {t_np / t_64:7.2f} {t_np / t_32:7.2f} {t_np / t_mm:6.2f}")
    flops_all = sum(case[-1] for case in cases)
    rate_mm = flops_all / sum(t_mm_all)
    print(f"all three layers: numpy {sum(t_numpy):.3f}s, torch float64 {total_64:.3f}s, "
          f"ratio {sum(t_numpy) / total_64:.2f}")
    print(f"float64 rate: matmul {rate_mm / 1e9:.1f} GFLOP/s (the same-FLOP matmuls above), "
          f"numpy conv {flops_all / sum(t_numpy) / 1e9:.1f} GFLOP/s = {flops_all / sum(t_numpy) / rate_mm:.0%} of it, "
          f"torch float64 {flops_all / total_64 / 1e9:.1f} GFLOP/s = {flops_all / total_64 / rate_mm:.0%}")
    print(f"{'pooling (forward + backward)':30s} {'':6s} {'numpy':>8s} {'torch64':>8s} {'np/t64':>7s}")
    for label, x_shape, pool in POOLS:
        x = rng.random(x_shape)
        out_shape = x_shape[:2] + tuple((n - pool[0]) // pool[2] + 1 for n in x_shape[2:])
        dout = rng.standard_normal(out_shape)
        t_np = best_time(numpy_pool(x, pool, dout), args.repeat)
        t_64 = best_time(torch_pool(x, pool, dout), args.repeat)
        print(f"{label:30s} {'':6s} {t_np * 1e3:6.1f}ms {t_64 * 1e3:6.1f}ms {t_np / t_64:7.2f}")
    print(f"peak RSS: {baseline_rss:.0f} MB before any convolution (torch imported, inputs built), "
          f"{numpy_rss:.0f} MB after the NumPy runs, {peak_rss_mb():.0f} MB after torch too")


def peak_rss_mb():
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
