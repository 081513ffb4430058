"""Run a submission's code in a sandboxed worker process and talk to it (the parent side).

The worker (``grader/worker``) is copied with the submission into a fresh temporary directory and
started under bubblewrap when it works here: no network, a read-only view of the machine, the
grader's own code, the reference, the rubrics, the data and other students' work hidden, a
private ``/tmp`` holding the submission copy, all capabilities dropped, a pid namespace. Without
bubblewrap it falls back to ``unshare --net`` (network cut) and, as root, to uid ``nobody``
(writable: only the copy and world-writable places); failing that, rlimits only.
``Sandbox.isolation`` says which was used and ``Sandbox.notes`` what that means.

Memory: ``memory_mb`` bounds the memory of the worker's whole process tree: a cgroup where the
machine has cgroups (``grader.cgroup``), and always a watchdog thread that polls ``/proc`` (PSS
plus what the worker wrote to its tmpfs mounts) and kills the tree past it. ``RLIMIT_AS`` is only
a backstop against one huge allocation: the self-check measures the address space the libraries
reserve (``VmPeak`` after importing torch and convolving: ~760 MB for the CPU wheel, ~3.3 GB for
the CUDA wheel, while RSS is ~225 MB) and the limit is that plus twice ``memory_mb``; a fixed
multiple of ``memory_mb`` left the CUDA build unable to map its libraries.

Fork bombs: as root ``RLIMIT_NPROC`` is ignored (and inside a user namespace it would count
per uid), so it is set only when the worker runs as ``nobody``. The defences are the cgroup's
``pids.max``, the watchdog counting the worker's process tree (kills past ``max_processes``), bubblewrap's pid
namespace (killing its pid 1 takes every process in it down) and, on timeout or close, killing
the process group and every descendant found in ``/proc``.

Hangs: a request ends at its timeout, or earlier once the worker's whole process tree has used no
CPU time for ``idle_timeout`` seconds: a call that sleeps or waits on something that never comes
(a deadlock, a child that ignores it) is stopped then instead of holding the grading for the
full call timeout; a call that computes, itself or in child processes, is never cut by this.
"""

from __future__ import annotations

import errno
import fcntl
import importlib.util
import os
import resource
import select
import shutil
import signal
import site
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader import THREAD_VARIABLES
from grader import cgroup as cgroups
from grader import tree
from grader.worker import protocol

MB = 1024 * 1024
NOBODY = 65534
ISOLATION_MODES = ("auto", "bwrap", "unshare", "none")
_WORKER_DIR = Path(__file__).resolve().parent / "worker"
_BOOTSTRAP = """\
import os, sys
_copy = os.environ.pop("GRADEWORKER_COPY", None)
if _copy:  # under bubblewrap: the working copy lives on the sandbox's size-limited /tmp
    import shutil
    shutil.copytree(_copy, "/tmp/submission", symlinks=True)
    os.chdir("/tmp/submission")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _gradeworker.main import run
run()
"""


@dataclass
class Limits:
    """Resource limits of one submission's worker."""

    memory_mb: int = 1024         # memory of the worker's process tree (cgroup, and the watchdog's PSS)
    cpu_seconds: int = 300        # RLIMIT_CPU per worker process (SIGXCPU, then SIGKILL 5 s later)
    file_size_mb: int = 64        # RLIMIT_FSIZE
    open_files: int = 256         # RLIMIT_NOFILE
    call_timeout: float = 30.0    # seconds per request unless the caller says otherwise
    idle_timeout: float = 10.0    # seconds a request may go on while the worker's tree uses no CPU (0: never)
    load_timeout: float = 60.0    # seconds to import the submission (import torch alone takes seconds)
    train_timeout: float = 120.0  # seconds per training request (used by grade())
    total_timeout: float = 600.0  # seconds for the whole submission, across calls and restarts
    output_kb: int = 64           # captured stdout and stderr, each
    max_message_mb: int = 256     # largest reply accepted from the worker
    max_processes: int = 64       # processes in the worker's tree (RLIMIT_NPROC too, as nobody)
    copy_file_mb: int = 50        # submission files larger than this are not copied
    copy_total_mb: int = 200      # copying stops once the submission reaches this size
    tmp_mb: int = 256             # what the worker may write: its private /tmp (bwrap), its copy (otherwise)
    shm_mb: int = 64              # size of /dev/shm under bubblewrap
    threads: int = 1              # BLAS/OpenMP threads of the worker: the grader computes beside it on the other core
    cpus: float = 0.0             # cores' worth of CPU time for the worker's tree (cgroup CPU quota; 0: no quota)


# ---------------------------------------------------------------- errors

class WorkerError(Exception):
    """A request got no answer because of the worker (timeout, death, garbage); see subclasses."""


class WorkerTimeout(WorkerError):
    """The request took too long; the worker was killed."""


class WorkerDied(WorkerError):
    """The worker exited or was killed by a signal while serving a request."""

    def __init__(self, message: str, returncode: int | None = None, signal_name: str | None = None):
        super().__init__(message)
        self.returncode = returncode
        self.signal_name = signal_name


class WorkerProtocolError(WorkerError):
    """The worker sent something that is not a valid reply; it was killed."""


class SandboxUnavailable(RuntimeError):
    """The isolation mode that was asked for cannot work on this machine."""


class GraderEnvironmentError(RuntimeError):
    """The grader's own installation cannot run the worker (its self-check failed): no score
    may be given, since every failure would be the grader's, not the student's."""


class StudentError(Exception):
    """The student's code raised an exception (an ``ok: false`` reply); the worker lives on."""

    def __init__(self, type: str, message: str, traceback: str = "", where: str = ""):
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message
        self.traceback = traceback
        self.where = where


# ---------------------------------------------------------------- isolation probes

_PROBES: dict[str, tuple[list[str] | None, str]] = {}
_PROBE_LOCK = threading.Lock()


_IDENTIFY = "import numpy, sys; print(sys.base_prefix, sys.version)"


def _quietly(cmd: list[str]) -> subprocess.CompletedProcess:
    """Run a probe command with a minimal environment, output captured, at most a minute."""
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})


def _run_probe(cmd: list[str], expect: str | None = None) -> str | None:
    """None if ``cmd`` succeeds (and prints ``expect``, when given), else why not."""
    try:
        done = _quietly(cmd)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        return err[-1] if err else f"exit code {done.returncode}"
    if expect is not None and done.stdout.decode(errors="replace").strip() != expect:
        # e.g. nobody cannot reach a virtualenv's base interpreter, and another Python answers
        return f"another interpreter answered ({done.stdout.decode(errors='replace').strip()[:120]!r})"
    return None


def _identity(python: str) -> str | None:
    """What ``python`` says it is (base prefix and version), run directly by this process."""
    try:
        done = _quietly([python, "-s", "-c", _IDENTIFY])
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode(errors="replace").strip() if done.returncode == 0 else None


def worker_python() -> str:
    """The interpreter the worker runs: ``$GRADER_WORKER_PYTHON``, else the grader's own."""
    return os.environ.get("GRADER_WORKER_PYTHON") or sys.executable


def interpreter_paths(python: str) -> list[Path]:
    """What the worker's interpreter needs to see wherever it lives (a virtualenv under /tmp or
    inside a hidden folder): its folder, and this Python's prefixes and site-packages."""
    paths = [Path(python).parent, Path(os.path.realpath(python)).parent, Path(sys.prefix), Path(sys.base_prefix),
             *map(Path, site.getsitepackages())]
    if (Path(python).parent.parent / "pyvenv.cfg").exists():  # a virtualenv's python finds its prefix there
        paths.append(Path(python).parent.parent)
    out: list[Path] = []
    for p in paths:
        p = Path(os.path.abspath(p))
        if p.exists() and p not in out:
            out.append(p)
    return out


def _bwrap_base(shm_mb: int = 64) -> list[str]:
    return ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--size", str(shm_mb * MB), "--tmpfs", "/dev/shm"]


def _rebind(covered: list[Path], python: str) -> list[str]:
    """``--ro-bind`` arguments that show the interpreter again inside folders covered by a tmpfs."""
    out = []
    for p in interpreter_paths(python):
        if any(c == p or c in p.parents for c in covered):
            out += ["--ro-bind", str(p), str(p)]
    return out


def probe(mode: str) -> tuple[list[str] | None, str]:
    """``(command prefix, note)`` for ``mode`` ("bwrap" or "unshare"), or ``(None, why not)``.

    Probed once per process: each probe starts Python with numpy the way the worker will.
    """
    with _PROBE_LOCK:
        if mode not in _PROBES:
            _PROBES[mode] = _probe_bwrap() if mode == "bwrap" else _probe_unshare()
        return _PROBES[mode]


def _probe_bwrap() -> tuple[list[str] | None, str]:
    if shutil.which("bwrap") is None:
        return None, "bubblewrap (bwrap) not found"
    python = worker_python()
    why = _run_probe(_bwrap_base() + ["--tmpfs", "/tmp"] + _rebind([Path("/tmp")], python)
                     + ["--", python, "-s", "-c", "import numpy"])
    if why:
        return None, f"bubblewrap does not work here ({why})"
    return ["bwrap"], "bubblewrap: no network, read-only system, grader files hidden, private /tmp"


def _probe_unshare() -> tuple[list[str] | None, str]:
    if shutil.which("unshare") is None:
        return None, "unshare not found"
    check = [worker_python(), "-s", "-c", _IDENTIFY]
    expect = _identity(worker_python())
    prefix = None
    for candidate in (["unshare", "--net", "--"], ["unshare", "--user", "--map-root-user", "--net", "--"]):
        if _run_probe(candidate + ["/bin/true"]) is None:
            prefix = candidate
            break
    if prefix is None:
        return None, "unshare --net is not permitted here"
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return prefix, "network cut via unshare"
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs"]
    if _run_probe(prefix + drop + ["--"] + check, expect) is None:
        return prefix + drop + ["--"], "network cut via unshare; runs as nobody (writes only to its copy and /tmp)"
    # Python lives where nobody cannot read it (e.g. /root/.pyenv): keep only the right to read.
    reader = ["--inh-caps=-all,+dac_read_search", "--ambient-caps=+dac_read_search",
              "--bounding-set=-all,+dac_read_search"]
    if _run_probe(prefix + drop + reader + ["--"] + check, expect) is None:
        return (prefix + drop + reader + ["--"],
                "network cut via unshare; runs as nobody with CAP_DAC_READ_SEARCH because Python is not "
                "readable by nobody (it can read any file but writes only to its copy and /tmp)")
    return prefix, "network cut via unshare; could not drop to nobody: the worker runs as root"


# ---------------------------------------------------------------- processes

def _process_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (ppid, resident pages, CPU clock ticks) for every process visible in /proc; the ticks
    are utime + stime + cutime + cstime: its own CPU time and that of the children it reaped."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                rest = f.read().rsplit(b")", 1)[1].split()
            table[int(name)] = (int(rest[1]), int(rest[21]), sum(map(int, rest[11:15])))
        except (OSError, IndexError, ValueError):
            continue
    return table


def _pss(pids) -> int:
    """Bytes of memory the processes really hold: the proportional set size, which counts pages
    that forked children share once (summed RSS counts them in every child)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue
    return total


def _tasks_of(uid: int) -> int:
    """How many threads (what RLIMIT_NPROC counts) processes of ``uid`` have right now."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            info = dict(line.split(":", 1) for line in Path(f"/proc/{name}/status").read_text().splitlines()
                        if line.startswith(("Uid:", "Threads:")))
            if int(info["Uid"].split()[0]) == uid:
                total += int(info["Threads"])
        except (OSError, KeyError, ValueError):
            continue
    return total


def _tree(root: int, table: dict[int, tuple[int, int, int]] | None = None) -> list[int]:
    """``root`` and its descendants, parents before children."""
    table = _process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_) in table.items():
        children.setdefault(ppid, []).append(pid)
    order, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        order.append(pid)
        todo.extend(children.get(pid, []))
    return order


def _signal_tree(root: int, sig: int) -> int:
    """Send ``sig`` to ``root``'s process group and every descendant; how many were found."""
    pids = _tree(root)
    try:
        os.killpg(root, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    return len(pids)


def _signal_name(returncode: int, isolation: str) -> str | None:
    signo = -returncode if returncode < 0 else None
    if isolation == "bwrap" and returncode > 128:  # bwrap exits with 128 + the child's signal
        signo = returncode - 128
    try:
        return signal.Signals(signo).name if signo else None
    except ValueError:
        return None


# ---------------------------------------------------------------- copying

def copy_submission(src: Path, dst: Path, max_file: int, max_total: int) -> list[str]:
    """Copy regular files of ``src`` into ``dst`` without following symlinks; warnings.

    The walk (``grader.tree``) is iterative and bounded: names that are not UTF-8 and folders
    nested too deep are left out and listed, so the worker only ever sees names it can handle.
    """
    warnings: list[str] = []
    total = 0
    dst.mkdir(parents=True)
    for entry in tree.walk(src, warnings, prune=("__pycache__",)):  # bytecode could differ from the source
        target = dst / entry.rel
        if entry.kind == "link":
            warnings.append(f"{entry.rel}: a symbolic link; not copied")
        elif entry.kind == "dir":
            target.mkdir()
        elif entry.kind == "other":
            warnings.append(f"{entry.rel}: not a regular file; not copied")
        elif not entry.rel.endswith((".pyc", ".pyo")):
            try:
                size = os.stat(entry.path, follow_symlinks=False).st_size
            except OSError as exc:
                warnings.append(f"{entry.rel}: cannot be read ({exc.strerror}); not copied")
                continue
            if size > max_file:
                warnings.append(f"{entry.rel}: {size / MB:.1f} MB is larger than the {max_file / MB:.0f} MB limit; "
                                f"not copied")
                continue
            if total + size > max_total:
                warnings.append(f"the submission is larger than {max_total / MB:.0f} MB: files from {entry.rel} on "
                                f"were not copied")
                break
            try:
                _copy_file(entry.path, target)
            except OSError as exc:
                warnings.append(f"{entry.rel}: cannot be read ({exc.strerror}); not copied")
                continue
            total += size
    return warnings


def _copy_file(src: str, dst: Path) -> None:
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fin:
        if not stat.S_ISREG(os.fstat(fin.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        with open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout)


def _rmtree(path: Path) -> None:
    """Remove ``path`` even if the student made files read-only."""
    def fix(func, p, _exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            if not os.path.islink(p):
                os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)


# ---------------------------------------------------------------- output capture

class _Capture:
    """The first ``limit`` bytes of a stream; the rest counted and dropped."""

    def __init__(self, limit: int):
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0
        self.lock = threading.Lock()
        self.reading = threading.Lock()  # held by the drain thread from read() to add()
        self.fd: int | None = None       # the pipe being drained, None once closed

    def settle(self, wait: float = 0.5) -> None:
        """Wait (briefly) until everything already in the pipe has been added: the worker flushes
        its output before replying, so after a reply this makes the output complete."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self.reading:
                if self.fd is None:
                    return
                try:
                    pending = struct.unpack("i", fcntl.ioctl(self.fd, termios.FIONREAD, b"\0" * 4))[0]
                except OSError:
                    return
            if pending == 0:
                return
            time.sleep(0.005)

    def add(self, chunk: bytes) -> None:
        with self.lock:
            room = self.limit - len(self.data)
            self.data += chunk[:max(room, 0)]
            self.dropped += max(len(chunk) - max(room, 0), 0)

    @property
    def full(self) -> bool:
        return len(self.data) >= self.limit

    def text(self) -> str:
        with self.lock:
            out = self.data.decode("utf-8", errors="replace")
            if self.dropped:
                out += f"\n... {self.dropped} bytes truncated"
            return out


#: Bytes the pipe from the worker's stdout / stderr may buffer (Linux's default is 64 KB): a
#: flooding worker then waits for the grader's drain thread far less often.
PIPE_BYTES = 1 << 20


def _drain(fd: int, capture: _Capture, stop: threading.Event) -> None:
    """Read ``fd`` until EOF (or ``stop``), so a flooding worker never blocks on a full pipe.
    Once the capture is full the rest is spliced into /dev/null inside the kernel, uncopied."""
    capture.fd = fd
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                if stop.is_set():
                    return
                continue
            with capture.reading:
                if capture.full and hasattr(os, "splice"):
                    moved = os.splice(fd, sink, PIPE_BYTES)
                    with capture.lock:
                        capture.dropped += moved
                    if not moved:
                        return
                    continue
                chunk = os.read(fd, PIPE_BYTES)
                capture.add(chunk)
            if not chunk:
                return
    except OSError:
        return
    finally:
        os.close(sink)
        with capture.reading:
            capture.fd = None
            os.close(fd)


class _Expired(Exception):
    pass


class _Idle(Exception):
    pass


def _tree_cpu_ticks(root: int) -> int:
    """CPU clock ticks used by ``root``'s process tree (see ``_process_table``)."""
    table = _process_table()
    return sum(table[pid][2] for pid in _tree(root, table) if pid in table)


class _IdleClock:
    """Says when a process tree has gone ``seconds`` without using CPU time (a tick or two of noise
    aside): the difference between a call that computes slowly and one that sleeps."""

    def __init__(self, root: int, seconds: float):
        self.root = root
        self.seconds = seconds
        self.ticks = _tree_cpu_ticks(root)
        self.since = time.monotonic()

    def check(self) -> None:
        ticks = _tree_cpu_ticks(self.root)
        # working; or fewer ticks: a child's time left the tree (reaped outside it, or auto-reaped)
        if ticks - self.ticks >= 2 or ticks < self.ticks:
            self.ticks, self.since = ticks, time.monotonic()
        elif time.monotonic() - self.since > self.seconds:
            raise _Idle


class _DeadlineReader:
    """A file-like ``readinto`` over a pipe fd that gives up at ``deadline``, or (``idle``) once the
    worker has used no CPU for a while."""

    def __init__(self, fd: int, deadline: float, idle: _IdleClock | None = None):
        self.fd = fd
        self.deadline = deadline
        self.idle = idle

    def readinto(self, view) -> int:
        while True:
            left = max(0.0, self.deadline - time.monotonic())
            ready, _, _ = select.select([self.fd], [], [], left if self.idle is None else min(left, 0.5))
            if ready:
                break
            if time.monotonic() >= self.deadline:
                raise _Expired
            self.idle.check()
        data = os.read(self.fd, min(len(view), 1 << 20))
        view[:len(data)] = data
        return len(data)


# ---------------------------------------------------------------- the sandbox

_SELFCHECKS: dict[tuple, dict] = {}  # configuration -> what its self-check found (once per process)
_CGROUP_PROBE: dict[str, bool] = {}


def torch_build(found: dict) -> str:
    """"CPU build" or "CUDA 12.8 build", from a self-check's answer."""
    return f"CUDA {found['torch_cuda']} build" if found.get("torch_cuda") else "CPU build"


def _tmpfs_used(pids: list[int]) -> int:
    """Bytes written to the sandbox's own tmpfs mounts (/tmp, /dev/shm), seen through a sandboxed
    process's root: they hold memory that no process's RSS shows."""
    host = {os.stat(m).st_dev for m in ("/tmp", "/dev/shm") if os.path.exists(m)}
    for pid in pids:
        total, seen = 0, False
        for mount in ("tmp", "dev/shm"):
            try:
                path = f"/proc/{pid}/root/{mount}"
                if os.stat(path).st_dev in host:
                    continue
                st = os.statvfs(path)
            except OSError:
                continue
            total += (st.f_blocks - st.f_bfree) * st.f_frsize
            seen = True
        if seen:
            return total
    return 0


def _folder_size(root: Path, cap: int = 20000) -> int:
    """Bytes in the files under ``root`` (at most ``cap`` entries looked at: bounded work)."""
    total, todo, seen = 0, [str(root)], 0
    while todo and seen < cap:
        try:
            with os.scandir(todo.pop()) as it:
                for entry in it:
                    seen += 1
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            todo.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


class Sandbox:
    """One submission's worker: a temp copy, a sandboxed process, requests with time limits.

    Use as a context manager. After a timeout, a death or a protocol error the worker is gone
    (``alive`` is False); :meth:`restart` starts a fresh one on a fresh copy.
    """

    def __init__(self, submission_dir, limits: Limits | None = None, hide=(), isolation: str = "auto"):
        self.submission_dir = Path(submission_dir).resolve()
        self.limits = limits or Limits()
        self.python = worker_python()
        self.environment: dict = {}  # what the self-check found: versions, torch build, reserved address space
        self.cgroup: cgroups.Cgroup | None = None
        self._address_space_mb: int | None = None  # RLIMIT_AS: None = unlimited (the self-check's own worker)
        self.extra_hide = [Path(p) for p in hide]
        self.progress: str | None = None  # the last progress note of the current request
        requested = isolation if isolation != "auto" else os.environ.get("GRADER_ISOLATION", "auto")
        if requested not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATION_MODES)}, not {requested!r}")
        self.requested = requested
        self.isolation = "none"
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.tmp: Path | None = None
        self.hidden: list[Path] = []
        self._prefix: list[str] = []
        self._as_nobody = False
        self._proc: subprocess.Popen | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._kill_reason: str | None = None
        self._served = 0
        self.peak_rss_mb = 0.0  # largest resident memory of the worker's tree seen by the watchdog
        self._req_w = self._rep_r = -1
        self._deadline = float("inf")
        self._stdout = _Capture(self.limits.output_kb * 1024)
        self._stderr = _Capture(self.limits.output_kb * 1024)
        self._closed = False

    # -- lifecycle

    def __enter__(self) -> "Sandbox":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> bool:
        try:
            self.close()
        except Exception:
            pass
        return False

    def start(self) -> None:
        """Copy the submission and the worker code, choose the isolation, start the worker."""
        self._deadline = time.monotonic() + self.limits.total_timeout
        self.tmp = Path(tempfile.mkdtemp(prefix="grader-"))
        os.chmod(self.tmp, 0o755)
        self.warnings += self._copy()
        runtime = self.tmp / "runtime" / "_gradeworker"
        runtime.mkdir(parents=True)
        for src in sorted(_WORKER_DIR.glob("*.py")):
            shutil.copyfile(src, runtime / src.name)
        (self.tmp / "runtime" / "_gradeworker_main.py").write_text(_BOOTSTRAP)
        self._choose_isolation()
        self._own_copy()
        self._selfcheck()
        self._spawn()

    def _selfcheck(self) -> None:
        """Prove, before any student code runs, that a worker can import numpy and torch, allocate
        and convolve under these limits; learn the address space the libraries reserve. Once per
        process and configuration. Raises GraderEnvironmentError if it cannot."""
        key = (self.isolation, tuple(self._prefix), self.python, self.limits.memory_mb, self.limits.threads,
               self.limits.tmp_mb, self.limits.shm_mb, tuple(self.hidden))
        found = _SELFCHECKS.get(key)
        if found is None:
            found = self.run_selfcheck()
            _SELFCHECKS[key] = found
        self.environment = found
        self._address_space_mb = found["reserved_mb"] + 2 * self.limits.memory_mb
        cg = ("cgroup memory and task limits" + (f" and a CPU quota of {self.limits.cpus:g} cores" if self.limits.cpus else "")
              if self.cgroup_supported() else "no cgroups here: memory limited by the watchdog and RLIMIT_AS")
        self.notes.append(f"worker self-check passed: {self.python} (Python {found['python']}), numpy {found['numpy']}, "
                          f"torch {found['torch']} ({torch_build(found)}); libraries reserve {found['reserved_mb']} MB "
                          f"of address space, so RLIMIT_AS is {self._address_space_mb} MB; {cg}")

    def run_selfcheck(self, alloc_mb: int = 32) -> dict:
        """Run the self-check in a worker of its own (no address-space limit until the check sets
        it); the worker is stopped afterwards. Raises GraderEnvironmentError with what failed."""
        saved = self._address_space_mb
        self._address_space_mb = None
        try:
            self._spawn()
            header, _ = self.request("selfcheck", {"alloc_mb": int(alloc_mb),
                                                   "address_space_extra_mb": 2 * self.limits.memory_mb},
                                     timeout=max(60.0, self.limits.call_timeout))
        except (WorkerError, StudentError) as exc:
            detail = exc.message if isinstance(exc, StudentError) else str(exc)
            raise GraderEnvironmentError(
                f"the grader's worker cannot run on this installation ({self.isolation} isolation, "
                f"{self.limits.memory_mb} MB, Python {self.python}): {detail}. This is not the submission's fault: "
                f"no score was given. Fix the grader's environment (see the README: installing the CPU build "
                f"of torch) or raise --memory-mb, then grade again.") from None
        finally:
            self._shutdown_worker()
            self._address_space_mb = saved
        try:
            return {"python": str(header["python"]), "numpy": str(header["numpy"]), "torch": str(header["torch"]),
                    "torch_cuda": None if header.get("torch_cuda") is None else str(header["torch_cuda"]),
                    "reserved_mb": int(header["reserved_mb"])}
        except (KeyError, TypeError, ValueError) as exc:
            raise GraderEnvironmentError(f"the worker's self-check gave an unreadable answer ({exc})") from None

    @staticmethod
    def cgroup_supported() -> bool:
        """Whether this process can create cgroups (probed once)."""
        if "ok" not in _CGROUP_PROBE:
            probe_group = cgroups.create(64, 64)
            _CGROUP_PROBE["ok"] = probe_group is not None
            if probe_group is not None:
                probe_group.remove()
        return _CGROUP_PROBE["ok"]

    def _copy(self) -> list[str]:
        """Copy the submission into the sandbox folder; returns the warnings (files left out)."""
        return copy_submission(self.submission_dir, self.tmp / "submission",
                               self.limits.copy_file_mb * MB, self.limits.copy_total_mb * MB)

    def _own_copy(self) -> None:
        """Under the unshare fallback the worker runs as nobody: give it its copy."""
        if self._as_nobody:
            for folder, dirs, files in os.walk(self.tmp / "submission"):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                    os.chown(name, NOBODY, NOBODY, follow_symlinks=False)

    def _choose_isolation(self) -> None:
        order = ["bwrap", "unshare", "none"] if self.requested == "auto" else [self.requested]
        skipped = []
        for mode in order:
            if mode == "none":
                self.isolation, self._prefix = "none", []
                break
            prefix, note = probe(mode)
            if prefix is not None:
                self.isolation, self._prefix = mode, prefix
                self.notes.append(note)
                break
            if self.requested != "auto":
                raise SandboxUnavailable(f"isolation {mode!r} was asked for but {note}")
            skipped.append(note)
        self.notes[:0] = skipped
        self._as_nobody = self.isolation == "unshare" and any(a.startswith("--reuid") for a in self._prefix)
        if self.isolation == "bwrap":
            self.hidden = self._hidden_paths()
        else:
            self.notes.append("the grader's and reference files are visible to the submission "
                              "(only bubblewrap can hide them)")
        if self.isolation == "none":
            self.notes.append("no isolation: network and file system are open to the submission; rlimits only")

    def _hidden_paths(self) -> list[Path]:
        """The folders to cover with an empty read-only tmpfs inside the sandbox."""
        grader_dir = Path(__file__).resolve().parent
        wanted = [grader_dir, self.submission_dir.parent, *self.extra_hide]
        spec = importlib.util.find_spec("reference")
        if spec is not None and spec.origin:
            wanted.append(Path(spec.origin).resolve().parent)
        if (grader_dir.parent / "pyproject.toml").exists():
            wanted += [grader_dir.parent, grader_dir.parent / "rubrics"]
        if os.environ.get("GRADER_DATA_DIR"):
            wanted.append(Path(os.environ["GRADER_DATA_DIR"]))
        if os.environ.get("GRADER_RUBRICS_DIR"):
            wanted.append(Path(os.environ["GRADER_RUBRICS_DIR"]))
        wanted.append(Path.home() / ".cache" / "grader")
        # the interpreter is shown again inside a hidden folder (see _rebind); "/" and the copy are not hideable
        protected = {Path("/"), self.tmp.resolve()}
        hidden: list[Path] = []
        for path in wanted:
            path = path.resolve()
            if not path.exists() or path in hidden:
                continue
            if path == Path("/tmp") or Path("/tmp") in path.parents:
                continue  # the sandbox's /tmp is a fresh tmpfs: already invisible
            clash = [p for p in protected if p == path or path in p.parents]
            if clash:
                self.notes.append(f"{path} is not hidden: it contains {clash[0]}, which the worker needs")
                continue
            hidden.append(path)
        # a folder inside another hidden one is hidden already (and cannot be mounted on)
        return sorted(p for p in hidden if not any(q in p.parents for q in hidden))

    def _command(self, req_r: int, rep_w: int) -> tuple[list[str], str]:
        """The worker's command line and the directory to start it in."""
        lim = self.limits
        if self.isolation == "bwrap":
            # The copy is bound read-only and copied by the bootstrap onto the size-limited /tmp,
            # so what the worker writes is bounded (and counted as memory) and gone with it.
            runtime = "/tmp/runtime"
            cmd = _bwrap_base(lim.shm_mb) + ["--size", str(lim.tmp_mb * MB), "--tmpfs", "/tmp"]
            folders = [p for p in self.hidden if p.is_dir()]
            for path in self.hidden:
                if path.is_dir():
                    cmd += ["--size", str(64 * 1024), "--tmpfs", str(path)]
                else:
                    cmd += ["--ro-bind", "/dev/null", str(path)]
            cmd += _rebind([Path("/tmp"), *folders], self.python)
            for path in folders:
                cmd += ["--remount-ro", str(path)]
            cmd += ["--ro-bind", str(self.tmp / "submission"), "/tmp/.submission",
                    "--ro-bind", str(self.tmp / "runtime"), runtime, "--chdir", "/tmp", "--"]
            start_dir = str(self.tmp)
        else:
            runtime, cwd = str(self.tmp / "runtime"), str(self.tmp / "submission")
            cmd = list(self._prefix)
            start_dir = cwd
        # Not -I: its -E would drop PYTHONHASHSEED (deterministic set order in student code); the
        # environment is built from scratch below, so -s -P -B give the rest of -I's isolation.
        cmd += [self.python, "-s", "-P", "-B", f"{runtime}/_gradeworker_main.py",
                "--requests-fd", str(req_r), "--replies-fd", str(rep_w),
                "--max-bytes", str(lim.max_message_mb * MB)]
        return cmd, start_dir

    def _environment(self) -> dict[str, str]:
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
        for var in THREAD_VARIABLES:
            env[var] = str(self.limits.threads)
        env["OMP_WAIT_POLICY"] = "PASSIVE"  # idle OpenMP threads sleep: they share the cores with the grader's
        if self.isolation == "bwrap":
            env["GRADEWORKER_COPY"] = "/tmp/.submission"
        return env

    def _rlimits(self) -> list[tuple[int, tuple[int, int]]]:
        lim = self.limits
        space = resource.RLIM_INFINITY if self._address_space_mb is None else self._address_space_mb * MB
        out = [(resource.RLIMIT_AS, (space, space)),  # backstop above the libraries' reservation; module doc
               (resource.RLIMIT_CPU, (lim.cpu_seconds, lim.cpu_seconds + 5)),
               (resource.RLIMIT_FSIZE, (lim.file_size_mb * MB,) * 2),
               (resource.RLIMIT_NOFILE, (lim.open_files,) * 2),
               (resource.RLIMIT_CORE, (0, 0))]
        if self._as_nobody:
            # RLIMIT_NPROC counts every task of the uid, other submissions' workers included
            allowed = _tasks_of(NOBODY) + lim.max_processes
            out.append((resource.RLIMIT_NPROC, (allowed, allowed)))
        return out

    def _spawn(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        cmd, start_dir = self._command(req_r, rep_w)
        limits = self._rlimits()
        overhead = 3 if self.isolation == "bwrap" else 1
        self.cgroup = cgroups.create(self.limits.memory_mb, 4 * self.limits.max_processes + 16 + overhead,
                                     self.limits.cpus)
        procs = [os.fsencode(f) for f in (self.cgroup.procs_files if self.cgroup else [])]

        def preexec() -> None:  # setrlimit and joining the cgroup: plain syscalls, safe after fork
            for path in procs:
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, b"0")  # "0" means the writing process itself
                finally:
                    os.close(fd)
            for which, value in limits:
                resource.setrlimit(which, value)

        self._stop = threading.Event()
        self._kill_reason = None
        self._served = 0
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, cwd=start_dir, env=self._environment(),
                                          pass_fds=(req_r, rep_w), start_new_session=True, preexec_fn=preexec)
        finally:
            os.close(req_r)
            os.close(rep_w)
        self._req_w, self._rep_r = req_w, rep_r
        os.set_blocking(req_w, False)
        out_fd, err_fd = os.dup(self._proc.stdout.fileno()), os.dup(self._proc.stderr.fileno())
        for fd in (out_fd, err_fd):
            try:
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            except (OSError, AttributeError):
                pass  # the default size works, only more slowly under a flood
        self._proc.stdout.close()
        self._proc.stderr.close()
        self._threads = [threading.Thread(target=_drain, args=(out_fd, self._stdout, self._stop), daemon=True),
                         threading.Thread(target=_drain, args=(err_fd, self._stderr, self._stop), daemon=True),
                         threading.Thread(target=self._watch, args=(self._proc, self._stop), daemon=True)]
        for t in self._threads:
            t.start()

    def _watch(self, proc: subprocess.Popen, stop: threading.Event) -> None:
        """Kill the worker's tree when it has too many processes or too much resident memory."""
        overhead = 3 if self.isolation == "bwrap" else 1  # bwrap's own processes
        copy = self.tmp / "submission"
        tick = 0
        while not stop.wait(0.2) and proc.poll() is None:
            table = _process_table()
            pids = _tree(proc.pid, table)
            rss, written = self._held(pids, table)
            rss += written
            self.peak_rss_mb = max(self.peak_rss_mb, rss / MB)
            tick += 1
            if len(pids) > self.limits.max_processes + overhead:
                self._kill_reason = f"it started more than {self.limits.max_processes} processes"
            elif rss > self.limits.memory_mb * MB and (len(pids) == 1 or _pss(pids) + written
                                                       > self.limits.memory_mb * MB):
                self._kill_reason = f"it used more than the memory limit of {self.limits.memory_mb} MB"
            elif self.isolation != "bwrap" and tick % 5 == 0 and _folder_size(copy) > self.limits.tmp_mb * MB:
                self._kill_reason = f"it wrote more than the {self.limits.tmp_mb} MB its working copy may hold"
            else:
                continue
            self._kill(proc)
            return

    def _kill(self, proc: subprocess.Popen | None = None, grace: float = 0.0) -> None:
        """Stop the worker's whole tree (SIGTERM first if ``grace``), and reap it."""
        proc = proc or self._proc
        if proc is None:
            return
        if grace and proc.poll() is None:
            _signal_tree(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        for _ in range(20):  # a fork bomb may add processes while we kill
            if _signal_tree(proc.pid, signal.SIGKILL) <= 1 and proc.poll() is not None:
                break
            time.sleep(0.01)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def _shutdown_worker(self, grace: float = 0.0) -> None:
        """Close the pipes, kill and reap the worker, join the threads."""
        proc = self._proc
        if proc is not None:
            if grace and proc.poll() is None and self._req_w >= 0:
                os.close(self._req_w)  # EOF: a healthy worker leaves its loop and exits
                self._req_w = -1
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    pass
            self._kill(proc, grace=grace)
        for fd in (self._req_w, self._rep_r):
            if fd >= 0:
                os.close(fd)
        self._req_w = self._rep_r = -1
        self._stop.set()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(2)
        self._threads = []
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def restart(self) -> None:
        """A fresh worker on a fresh copy of the submission (after a timeout, crash, ...)."""
        if self.tmp is None or self._closed:
            raise WorkerError("the sandbox is closed")
        self._shutdown_worker()
        if time.monotonic() >= self._deadline:
            raise WorkerTimeout(f"the submission's total time limit of {self.limits.total_timeout:g} s is used up")
        # A fresh copy: whatever the last worker wrote, deleted or rewrote in its copy is gone.
        # (Under bubblewrap the host copy is read-only to the worker and copied afresh at start.)
        if self.isolation != "bwrap":
            _rmtree(self.tmp / "submission")
            self._copy()  # its warnings were reported with the first copy
            self._own_copy()
        self._spawn()

    def close(self) -> None:
        """Stop the worker (SIGTERM, then SIGKILL), and delete the temporary copy."""
        if self._closed:
            return
        self._closed = True
        try:
            self._shutdown_worker(grace=0.5)
        finally:
            self._proc = None
            if self.tmp is not None and self.tmp.exists():
                _rmtree(self.tmp)

    def _held(self, pids: list[int], table: dict[int, tuple[int, int, int]]) -> tuple[int, int]:
        """Bytes the worker's tree holds: (summed RSS, files written to its own tmpfs mounts, which
        no RSS shows; bubblewrap only, elsewhere /tmp is the host's)."""
        rss = sum(table.get(p, (0, 0, 0))[1] for p in pids) * os.sysconf("SC_PAGE_SIZE")
        return rss, _tmpfs_used(pids[1:]) if self.isolation == "bwrap" else 0

    def memory_now_mb(self) -> float:
        """What the worker's process tree holds right now (RSS plus its tmpfs files), in MB."""
        if self._proc is None or self._proc.poll() is not None:
            return 0.0
        table = _process_table()
        return sum(self._held(_tree(self._proc.pid, table), table)) / MB

    def recheck(self, alloc_mb: int) -> None:
        """After a failure that looks like the grader's (an allocation or library mapping that should
        have fitted): stop the worker and replay the allocation in a self-check worker without
        student code. Raises GraderEnvironmentError if that fails too; else the failure was the
        submission's. The next request starts a fresh worker."""
        self._shutdown_worker()
        self.run_selfcheck(alloc_mb=max(32, int(alloc_mb)))

    @property
    def address_space_mb(self) -> int | None:
        """The worker's RLIMIT_AS in MB: the libraries' measured reservation plus twice memory_mb."""
        return self._address_space_mb

    @property
    def alive(self) -> bool:
        """True while the worker can take requests."""
        return self._proc is not None and self._proc.poll() is None and self._rep_r >= 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def output(self) -> str:
        """What the student's code printed (bounded; decoded with errors replaced)."""
        self._stdout.settle()
        self._stderr.settle()
        out, err = self._stdout.text(), self._stderr.text()
        return out + (f"\n[stderr]\n{err}" if err else "")

    # -- talking

    def request(self, op: str, header: dict | None = None, arrays: dict[str, np.ndarray] | None = None,
                timeout: float | None = None) -> tuple[dict, dict[str, np.ndarray]]:
        """Send one request and wait for its reply; ``(header, arrays)`` of an ``ok`` reply.

        Raises ``StudentError`` for an ``ok: false`` reply, ``WorkerTimeout`` / ``WorkerDied`` /
        ``WorkerProtocolError`` when there is no reply (the worker is then dead: see ``restart``).
        """
        if not self.alive:
            raise WorkerDied("the worker is not running (restart() starts a new one)")
        limit = self.limits.call_timeout if timeout is None else float(timeout)
        left = self._deadline - time.monotonic()
        if left <= 0:
            self._shutdown_worker()
            raise WorkerTimeout(f"the submission's total time limit of {self.limits.total_timeout:g} s is used up")
        wait = min(limit, left)
        deadline = time.monotonic() + wait
        message = dict(header or {})
        message["op"] = op
        data = protocol.encode(message, arrays or {})
        self.progress = None
        try:
            self._send(data, deadline)
            idle = self.limits.idle_timeout
            reader = _DeadlineReader(self._rep_r, deadline,
                                     _IdleClock(self._proc.pid, idle) if 0 < idle < wait else None)
            while True:
                reply, out = protocol.read_message(reader, self.limits.max_message_mb * MB)
                if "ok" in reply or "progress" not in reply:
                    break
                self.progress = str(reply["progress"])[:500]  # where the request is; see worker.main.progress
        except _Expired:
            self._shutdown_worker()
            total = " (the submission's total time limit)" if wait < limit else ""
            raise WorkerTimeout(f"'{op}' timed out after {wait:g} s{total}; the worker was stopped") from None
        except _Idle:
            self._shutdown_worker()
            raise WorkerTimeout(f"'{op}' timed out: the worker used no CPU time for {self.limits.idle_timeout:g} s "
                                "(it sleeps, or waits for something that never comes); it was stopped") from None
        except (BrokenPipeError, protocol.EndOfStream):
            raise self._death(op) from None
        except protocol.ProtocolError as exc:
            if self._wait_exit(1.0) is not None:
                raise self._death(op) from None
            self._shutdown_worker()
            raise WorkerProtocolError(f"'{op}': the worker sent a malformed reply ({exc}); it was stopped") from None
        self._served += 1
        if reply.get("ok") is True:
            return reply, out
        err = reply.get("error")
        if reply.get("ok") is False and isinstance(err, dict):
            return self._raise_student(err)
        self._shutdown_worker()
        raise WorkerProtocolError(f"'{op}': the worker's reply has neither ok: true nor an error; it was stopped")

    @staticmethod
    def _raise_student(err: dict):
        text = {k: str(err.get(k, ""))[:10000] for k in ("type", "message", "traceback", "where")}
        raise StudentError(text["type"] or "Exception", text["message"], text["traceback"], text["where"])

    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self._req_w], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise _Expired
            try:
                view = view[os.write(self._req_w, view[:1 << 20]):]
            except BlockingIOError:
                continue

    def _wait_exit(self, seconds: float) -> int | None:
        try:
            return self._proc.wait(seconds)
        except subprocess.TimeoutExpired:
            return None

    def _death(self, op: str) -> WorkerError:
        """The error to raise when the worker stopped answering during ``op``."""
        code = self._wait_exit(2.0)
        reason = self._kill_reason
        if not reason and self.cgroup is not None and self.cgroup.oom_kills():
            reason = f"it used more than the memory limit of {self.limits.memory_mb} MB"
        self._shutdown_worker()
        if code is None:
            return WorkerProtocolError(f"'{op}': the worker closed its reply channel without exiting; it was stopped")
        name = _signal_name(code, self.isolation)
        mem = self.limits.memory_mb
        if reason:
            what, hint = "was stopped", f"{reason}"
        elif name:
            what = f"was killed by {name}"
            hint = {"SIGKILL": f"most likely the memory limit of {mem} MB (the kernel kills a process that runs "
                               "out of memory)",
                    "SIGSEGV": "a segmentation fault: C code (ctypes, an extension) read invalid memory, or an "
                               f"allocation failed at the memory limit of {mem} MB",
                    "SIGABRT": f"aborted; often an allocation that failed at the memory limit of {mem} MB",
                    "SIGBUS": f"a bus error; often memory exhaustion (limit {mem} MB)",
                    "SIGXCPU": f"the CPU time limit of {self.limits.cpu_seconds} s was used up",
                    "SIGXFSZ": f"it wrote a file larger than {self.limits.file_size_mb} MB"}.get(name, "")
        else:
            last = (self._stderr.text().strip().splitlines() or [""])[-1] if code else ""
            what = f"exited with code {code}" + ("" if self._served else " before its first reply")
            hint = last[:300] or "the code called os._exit() or ended the interpreter"
        return WorkerDied(f"the worker {what} during '{op}'" + (f": {hint}" if hint else ""),
                          returncode=code, signal_name=name)
