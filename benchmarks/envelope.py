"""Grade one submission inside Gradescope's default envelope: half a core and 768 MB for the grader
and its worker together (issue 19, goal 3: within 10 minutes).

    sudo GRADER_DATA_DIR=../shared/data/mnist-ci python benchmarks/envelope.py [submissions/sample] [--cpus 0.5] [--memory-mb 768]

Needs cgroup v1 memory and cpu controllers writable (root on this machine). This process moves
itself into a new cgroup with that CPU quota and memory limit (swap included), and
$GRADER_CGROUP_PARENT makes the workers' own cgroups children of it, so the kernel bounds and counts
both. Prints the wall time, the CPU seconds charged to the envelope, the peak of its memory counter
(page cache included: under the limit the kernel reclaims cache first), the peak of its anonymous
memory (sampled 10 times a second), how often it hit the limit and whether anything was OOM-killed.
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import cgroup  # noqa: E402
from grader.grade import grade  # noqa: E402

MB = 1 << 20


def read(path: Path) -> str:
    return path.read_text().strip()


def stat(folder: Path) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in read(folder / "memory.stat").splitlines())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("submission", nargs="?", default=str(ROOT / "submissions" / "sample"))
    ap.add_argument("--rubric", default="pa2")
    ap.add_argument("--cpus", type=float, default=0.5)
    ap.add_argument("--memory-mb", type=int, default=768)
    args = ap.parse_args(argv)
    name = f"grader-envelope-{os.getpid()}"
    memory, cpu = cgroup.ROOT / "memory" / name, cgroup.ROOT / "cpu" / name
    cpuacct = cgroup.ROOT / "cpuacct" / name
    if not (cgroup.ROOT / "memory" / "cgroup.procs").exists() or not (cgroup.ROOT / "cpu" / "cgroup.procs").exists():
        print("this needs cgroup v1 memory and cpu controllers under /sys/fs/cgroup", file=sys.stderr)
        return 2
    folders = [memory, cpu] + ([cpuacct] if (cgroup.ROOT / "cpuacct" / "cgroup.procs").exists() else [])
    for folder in folders:
        folder.mkdir()
    (memory / "memory.limit_in_bytes").write_text(str(args.memory_mb * MB))
    if (memory / "memory.memsw.limit_in_bytes").exists():
        (memory / "memory.memsw.limit_in_bytes").write_text(str(args.memory_mb * MB))
    (cpu / "cpu.cfs_period_us").write_text(str(cgroup.CPU_PERIOD_US))
    (cpu / "cpu.cfs_quota_us").write_text(str(int(args.cpus * cgroup.CPU_PERIOD_US)))
    for folder in folders:
        (folder / "cgroup.procs").write_text(str(os.getpid()))
    os.environ[cgroup.PARENT_ENV] = f"{name}/workers"

    peak_anon, done = [0], threading.Event()

    def sample():
        while not done.wait(0.1):
            try:
                s = stat(memory)
                peak_anon[0] = max(peak_anon[0], s.get("total_rss", 0) + s.get("total_shmem", 0))
            except OSError:
                pass

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        report = grade(args.submission, assignment=args.rubric)
    finally:
        wall = time.monotonic() - started
        done.set()
        sampler.join()
        used_cpu = int(read(cpuacct / "cpuacct.usage")) / 1e9 if cpuacct in folders else float("nan")
        peak = int(read(memory / "memory.max_usage_in_bytes")) / MB
        failcnt = int(read(memory / "memory.failcnt"))
        oom = next((int(line.split()[1]) for line in read(memory / "memory.oom_control").splitlines()
                    if line.startswith("oom_kill ")), 0)
        for folder in folders:  # back to the root group, then remove ours (the workers' are gone)
            (folder.parent / "cgroup.procs").write_text(str(os.getpid()))
        for folder in folders:
            for child in sorted(folder.rglob("*"), reverse=True):
                if child.is_dir():
                    child.rmdir()
            folder.rmdir()
    print(f"{args.submission} ({args.rubric}) in {args.cpus:g} cores and {args.memory_mb} MB: "
          f"score {report.score:.1f} / {report.max_score:g} (+{report.extra_score:g} extra), restarts "
          f"{report.sandbox.get('restarts')}")
    print(f"wall {wall:.1f} s ({wall / 60:.1f} min; goal 10 min), CPU charged {used_cpu:.1f} s")
    print(f"memory: peak counter {peak:.0f} MB (page cache included), peak anonymous {peak_anon[0] / MB:.0f} MB, "
          f"limit hit {failcnt} times, OOM kills {oom}")
    errors = [c.id for c in report.checks if c.status == "error"]
    print(f"checks in error: {', '.join(errors) if errors else 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
