"""The sandboxed worker: calls, errors, crashes, time limits, output, isolation, clean-up.

Every behaviour is checked under bubblewrap (when installed) and under the forced
``unshare`` fallback; a few bwrap-only assertions (hidden folders, read-only system) are
skipped without it.
"""
import importlib.util
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from grader import sandbox as sb
from grader.sandbox import Limits, Sandbox, StudentError, WorkerDied, WorkerProtocolError, WorkerTimeout

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = FIXTURES / "hostile"
HAVE_BWRAP = shutil.which("bwrap") is not None
needs_bwrap = pytest.mark.skipif(not HAVE_BWRAP, reason="bubblewrap (bwrap) is not installed")
MODES = [pytest.param("bwrap", marks=needs_bwrap), "unshare"]


def text(s: str) -> np.ndarray:
    return np.frombuffer(s.encode(), dtype=np.uint8)


def call(box, function, *args, timeout=None):
    return box.request("call", {"module": "hostile", "function": function},
                       {f"a{i}": np.asarray(a) for i, a in enumerate(args)}, timeout=timeout)[1]


@pytest.fixture(params=MODES)
def mode(request):
    if request.param == "unshare" and sb.probe("unshare")[0] is None:
        pytest.skip(f"unshare fallback unavailable: {sb.probe('unshare')[1]}")
    return request.param


def open_box(mode, submission=HOSTILE, **limits):
    box = Sandbox(submission, Limits(**{"call_timeout": 20, **limits}), isolation=mode)
    box.__enter__()
    assert box.isolation == mode
    return box


def zombies() -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            rest = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(rest[1]) == os.getpid() and rest[0] == b"Z":
            found.append(int(pid))
    return found


def processes_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_ping_and_call(mode):
    with open_box(mode) as box:
        header, arrays = box.request("ping")
        assert header["ok"] is True and isinstance(header["pid"], int) and arrays == {}
        out = call(box, "add", np.ones(3), np.arange(3.0))
        np.testing.assert_array_equal(out["out0"], [1, 2, 3])
        out = call(box, "pair", np.ones((2, 2)))
        assert out["out0"] == 4 and out["out1"].shape == (2, 2)
        assert call(box, "nothing") == {}
        with pytest.raises(StudentError, match="not numbers") as err:
            call(box, "not_numbers")
        assert err.value.type == "TypeError"
        assert "hostile imported" in box.output()


def test_monkeypatching_json_numpy_and_os_does_not_break_replies(mode):
    with open_box(mode) as box:
        assert call(box, "sabotage")["out0"] == 7
        assert box.request("ping")[0]["ok"]
        np.testing.assert_array_equal(call(box, "add", np.ones(2), np.ones(2))["out0"], [2, 2])


def test_student_exits_and_interrupts_are_error_replies(mode):
    with open_box(mode) as box:
        for function, kind in [("call_sys_exit", "SystemExit"), ("raise_system_exit", "SystemExit"),
                               ("raise_keyboard_interrupt", "KeyboardInterrupt")]:
            with pytest.raises(StudentError) as err:
                call(box, function)
            assert err.value.type == kind
            assert "hostile.py" in err.value.where and "_gradeworker" not in err.value.traceback
            assert box.request("ping")[0]["ok"]


def test_sys_exit_at_import_is_an_error_reply(mode):
    with open_box(mode, FIXTURES / "exit_at_import") as box:
        with pytest.raises(StudentError) as err:
            box.request("import_module", {"path": "main.py"})
        assert err.value.type == "SystemExit" and err.value.message == "3"
        assert box.request("ping")[0]["ok"] and box.alive
        assert "about to exit" in box.output()


def test_timeout_kills_the_worker_and_restart_works(mode):
    with open_box(mode) as box:
        first = box.request("ping")[0]["pid"]
        started = time.monotonic()
        with pytest.raises(WorkerTimeout, match="timed out after 1 s"):
            call(box, "loop_forever", timeout=1)
        assert time.monotonic() - started < 5
        assert not box.alive
        with pytest.raises(WorkerDied):
            box.request("ping")
        box.restart()
        assert box.request("ping")[0]["ok"]
        np.testing.assert_array_equal(call(box, "add", 1.0, 2.0)["out0"], 3.0)
        if mode == "unshare":
            assert box.request("ping")[0]["pid"] != first


def test_a_call_that_sleeps_is_stopped_once_idle_not_at_its_timeout(mode):
    with open_box(mode, idle_timeout=1) as box:
        started = time.monotonic()
        with pytest.raises(WorkerTimeout, match="used no CPU time for 1 s"):
            call(box, "sleep_forever", timeout=20)
        assert time.monotonic() - started < 5
        assert not box.alive
        box.restart()
        np.testing.assert_array_equal(call(box, "add", 1.0, 2.0)["out0"], 3.0)


def test_the_idle_limit_spares_calls_that_compute_themselves_or_in_a_child(mode):
    with open_box(mode, idle_timeout=1) as box:
        started = time.monotonic()
        assert call(box, "compute_for", 2.5, timeout=20)["out0"]
        assert call(box, "wait_for_computing_child", 2.5, timeout=20)["out0"]
        assert time.monotonic() - started >= 5  # each ran its full time, past the idle limit
        assert box.alive


def test_os_exit_is_worker_died_and_restart_works(mode):
    with open_box(mode) as box:
        with pytest.raises(WorkerDied, match="exited with code 0") as err:
            call(box, "hard_exit")
        assert err.value.returncode == 0
        box.restart()
        assert box.request("ping")[0]["ok"]


def test_segfault_is_worker_died_sigsegv(mode):
    with open_box(mode) as box:
        with pytest.raises(WorkerDied, match="SIGSEGV") as err:
            call(box, "segfault")
        assert err.value.signal_name == "SIGSEGV"


def test_memory_bomb_fails_quickly_with_a_memory_hint(mode):
    with open_box(mode, memory_mb=1024) as box:
        started = time.monotonic()
        try:
            call(box, "memory_bomb")
        except StudentError as exc:
            assert exc.type == "MemoryError"
        except WorkerDied as exc:
            assert "memory" in str(exc)
        else:
            pytest.fail("the memory bomb returned")
        assert time.monotonic() - started < 15


def test_fork_bomb_is_stopped(mode):
    with open_box(mode, max_processes=8) as box:
        try:
            call(box, "fork_many", timeout=15)
        except StudentError as exc:  # RLIMIT_NPROC as nobody: fork fails
            assert exc.type == "BlockingIOError"
        except WorkerDied as exc:    # the watchdog counted the tree
            assert "processes" in str(exc)


def test_no_network(mode):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        with open_box(mode) as box:
            with pytest.raises(StudentError) as err:
                call(box, "connect", server.getsockname()[1])
            assert err.value.type in ("ConnectionRefusedError", "OSError", "TimeoutError")
        with pytest.raises(BlockingIOError):
            server.accept()


def test_original_submission_cannot_be_written(mode, tmp_path):
    sub = tmp_path / "student"
    shutil.copytree(HOSTILE, sub)
    original = (sub / "hostile.py").read_text()
    with open_box(mode, sub) as box:
        with pytest.raises(StudentError):
            call(box, "write_text", text(str(sub / "hostile.py")))
        call(box, "write_text", text("scratch.txt"))  # its own copy is writable
        assert call(box, "read_text", text("scratch.txt"))["out0"].tobytes() == b"overwritten by the student"
        if mode == "bwrap":  # the working copy lives on the sandbox's own size-limited /tmp
            assert not (box.tmp / "submission" / "scratch.txt").exists()
    assert (sub / "hostile.py").read_text() == original
    assert not (sub / "scratch.txt").exists()


def test_environment_is_scrubbed(mode, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with open_box(mode) as box:
        env = call(box, "environment")["out0"].tobytes().decode()
    names = {line.split("=", 1)[0] for line in env.splitlines()}
    assert "GRADER_SECRET_TOKEN" not in names and "AWS_SECRET_ACCESS_KEY" not in names
    assert {"PATH", "HOME", "LANG", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MPLBACKEND"} <= names


def test_close_kills_children_that_ignore_sigterm_and_removes_the_copy(mode):
    marker = f"stubborn-{os.getpid()}-{time.monotonic_ns()}"
    box = open_box(mode)
    call(box, "stubborn_child", text(marker))
    call(box, "make_mess")
    for _ in range(50):
        if processes_with(marker):
            break
        time.sleep(0.05)
    assert processes_with(marker)
    tmp = box.tmp
    started = time.monotonic()
    box.__exit__(None, None, None)
    assert time.monotonic() - started < 5
    assert processes_with(marker) == []
    assert not tmp.exists()
    assert zombies() == []


def test_garbage_on_the_reply_channel_is_a_protocol_error(mode):
    with open_box(mode) as box:
        with pytest.raises(WorkerProtocolError):
            call(box, "corrupt_replies")
        assert not box.alive
        box.restart()
        assert box.request("ping")[0]["ok"]


@needs_bwrap
def test_bwrap_hides_grader_files_and_system_is_read_only():
    reference = Path(importlib.util.find_spec("reference").origin).parent / "layers.py"
    secret_dir = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="grader-test-secret-"))
    try:
        (secret_dir / "answers.txt").write_text("42")
        with Sandbox(HOSTILE, Limits(call_timeout=20), hide=[secret_dir], isolation="bwrap") as box:
            assert box.isolation == "bwrap" and secret_dir in box.hidden
            for path in (reference, secret_dir / "answers.txt", Path(sb.__file__)):
                with pytest.raises(StudentError, match="No such file"):
                    call(box, "read_text", text(str(path)))
            for target in (secret_dir.parent / "grader-test-planted", secret_dir / "planted"):
                with pytest.raises(StudentError, match="Read-only file system"):
                    call(box, "write_text", text(str(target)))
            call(box, "write_text", text("/tmp/scratch"))  # the private /tmp is writable
            assert call(box, "read_text", text("/etc/hostname")) is not None  # system stays readable
        assert not (secret_dir.parent / "grader-test-planted").exists()
    finally:
        shutil.rmtree(secret_dir)


def test_stdout_flood_is_truncated_and_times_out_cleanly():
    rss = lambda: int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    before = rss()
    with Sandbox(HOSTILE, Limits(output_kb=16)) as box:
        started = time.monotonic()
        with pytest.raises(WorkerTimeout, match="timed out after 3 s"):
            call(box, "flood", timeout=3)
        assert time.monotonic() - started < 6
        out = box.output()
    assert "bytes truncated" in out
    assert len(out) < 2 * 16 * 1024 + 200
    assert rss() - before < 64 * 1024 * 1024


def test_total_time_limit_spans_calls_and_restarts(mode):
    with open_box(mode):
        pass  # the self-check (once per process; importing torch takes ~2 s) is not what the 2 s measure
    with open_box(mode, total_timeout=2) as box:
        with pytest.raises(WorkerTimeout, match="total time limit"):
            call(box, "loop_forever", timeout=10)
        with pytest.raises(WorkerTimeout, match="total time limit"):
            box.restart()


def test_symlinks_and_special_files_are_not_copied(tmp_path):
    sub = tmp_path / "student"
    sub.mkdir()
    (sub / "ok.py").write_text("x = 1\n")
    (sub / "big.bin").write_bytes(b"0" * 2048)
    (sub / "stolen.txt").symlink_to("/etc/passwd")
    (sub / "elsewhere").symlink_to(tmp_path)
    os.mkfifo(sub / "pipe")
    (sub / "__pycache__").mkdir()
    (sub / "__pycache__" / "ok.cpython-311.pyc").write_bytes(b"forged")
    dst = tmp_path / "copy"
    warnings = sb.copy_submission(sub, dst, max_file=1024, max_total=10**6)
    assert sorted(p.name for p in dst.iterdir()) == ["ok.py"]
    joined = "\n".join(warnings)
    for name in ("stolen.txt", "elsewhere", "pipe", "big.bin"):
        assert name in joined


def test_isolation_can_be_forced_by_environment(monkeypatch):
    if sb.probe("unshare")[0] is None:
        pytest.skip("unshare fallback unavailable")
    monkeypatch.setenv("GRADER_ISOLATION", "unshare")
    with Sandbox(HOSTILE) as box:
        assert box.isolation == "unshare" and box.notes
        assert box.request("ping")[0]["ok"]
