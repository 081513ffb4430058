"""A cgroup per worker, where the machine has cgroups: the kernel enforces memory and task limits.

The watchdog in ``grader.sandbox`` polls the worker's memory five times a second; a cgroup makes
the same limit exact and immediate, and counts what the watchdog cannot see (tmpfs pages the worker
writes, e.g. ``/dev/shm``). ``pids.max`` bounds the tasks (threads count) even for root, where
``RLIMIT_NPROC`` does not bind. Both cgroup v2 (one unified tree) and v1 (one tree per controller)
are supported; without write access to either, :func:`create` returns None and the watchdog and
rlimits are the only limits (the report says so).
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
#: The folder (under each controller's root on v1, under the unified root on v2) the workers' cgroups
#: are made in; $GRADER_CGROUP_PARENT names another, e.g. a cgroup that bounds the whole grading
#: (benchmarks/envelope.py nests the workers in a 768 MB, half-a-core one this way).
PARENT_ENV = "GRADER_CGROUP_PARENT"
_counter = itertools.count()


def parent_name() -> str:
    name = os.environ.get(PARENT_ENV, "").strip("/")
    return name if name and ".." not in name.split("/") else "grader"


class Cgroup:
    """One worker's cgroup (a folder per controller on v1, one folder on v2)."""

    def __init__(self, folders: dict[str, Path], version: int):
        self.folders = folders  # controller ("memory", "pids") -> its folder
        self.version = version

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a new process writes its pid into (once per folder)."""
        return sorted({str(f / "cgroup.procs") for f in self.folders.values()})

    def oom_kills(self) -> int:
        """How many times the kernel killed a process of this cgroup for exceeding its memory."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.folders["memory"] / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError, KeyError):
            pass
        return 0

    def remove(self) -> None:
        """Delete the folders (after the worker's processes are gone; retried briefly)."""
        for folder in set(self.folders.values()):
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _sweep(parent: Path) -> None:
    """Remove cgroups left by grader processes that are gone (killed with -9)."""
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for folder in entries:
        owner = folder.name.split("-", 1)[0]
        if folder.is_dir() and owner.isdigit() and not Path(f"/proc/{owner}").exists():
            try:
                folder.rmdir()
            except OSError:
                pass


#: CFS period for a CPU quota (the kernel's default, 100 ms).
CPU_PERIOD_US = 100_000


def create(memory_mb: int, max_tasks: int, cpus: float = 0.0) -> Cgroup | None:
    """A new cgroup limited to ``memory_mb`` of memory, ``max_tasks`` tasks and (``cpus`` > 0) that
    many cores' worth of CPU time, or None. A controller the machine lacks is left out."""
    name = f"{os.getpid()}-{next(_counter)}"
    try:
        if (ROOT / "cgroup.controllers").exists():
            return _create_v2(name, memory_mb, max_tasks, cpus)
        return _create_v1(name, memory_mb, max_tasks, cpus)
    except OSError:
        return None


def _quota(cpus: float) -> int:
    return max(1000, int(cpus * CPU_PERIOD_US))


def _create_v1(name: str, memory_mb: int, max_tasks: int, cpus: float = 0.0) -> Cgroup | None:
    folders = {}
    for controller in ("memory", "pids") + (("cpu",) if cpus > 0 else ()):
        base = ROOT / controller
        if not (base / "cgroup.procs").exists():
            continue
        parent = base / parent_name()
        parent.mkdir(parents=True, exist_ok=True)
        _sweep(parent)
        folder = parent / name
        folder.mkdir()
        folders[controller] = folder
    if "memory" not in folders:
        Cgroup(folders, 1).remove()
        return None
    memory = folders["memory"]
    _write(memory / "memory.limit_in_bytes", str(memory_mb * 1024 * 1024))
    if (memory / "memory.memsw.limit_in_bytes").exists():  # swap too, where the kernel accounts it
        _write(memory / "memory.memsw.limit_in_bytes", str(memory_mb * 1024 * 1024))
    if "pids" in folders:
        _write(folders["pids"] / "pids.max", str(max_tasks))
    if "cpu" in folders:
        _write(folders["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write(folders["cpu"] / "cpu.cfs_quota_us", str(_quota(cpus)))
    return Cgroup(folders, 1)


def _create_v2(name: str, memory_mb: int, max_tasks: int, cpus: float = 0.0) -> Cgroup | None:
    parent = ROOT / parent_name()
    parent.mkdir(parents=True, exist_ok=True)
    enabled = (ROOT / "cgroup.subtree_control").read_text().split()
    if "memory" not in enabled:
        return None
    try:
        _write(parent / "cgroup.subtree_control", "+memory" + (" +pids" if "pids" in enabled else "")
               + (" +cpu" if cpus > 0 and "cpu" in enabled else ""))
    except OSError:
        return None
    _sweep(parent)
    folder = parent / name
    folder.mkdir()
    _write(folder / "memory.max", str(memory_mb * 1024 * 1024))
    if (folder / "memory.swap.max").exists():
        _write(folder / "memory.swap.max", "0")
    if (folder / "pids.max").exists():
        _write(folder / "pids.max", str(max_tasks))
    if cpus > 0 and (folder / "cpu.max").exists():
        _write(folder / "cpu.max", f"{_quota(cpus)} {CPU_PERIOD_US}")
    return Cgroup({"memory": folder, "pids": folder, **({"cpu": folder} if cpus > 0 else {})}, 2)
