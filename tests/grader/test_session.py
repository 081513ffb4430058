"""grader/session.py on a fake sandbox: a file whose import hangs is left out and the rest
reloaded, a dead worker is replaced (and the submission reloaded) before the next call, a load that
failed is not retried per check, and a worker out of memory is replaced."""

import pytest

from grader import sandbox as sb
from grader.session import MAX_LEFT_OUT, Session, describe_failure

INVENTORY = {"files": [{"path": "a.py", "kind": "py", "status": "ok"}],
             "layers": {"relu": {"family": "class", "symbol": "Relu", "module": "a"}}, "networks": {}, "warnings": []}


class FakeSandbox:
    """Answers requests from a script: each entry is a reply header, or an exception to raise."""

    def __init__(self, script, hang_on=()):
        self.script = list(script)
        self.hang_on = set(hang_on)  # files whose import kills the worker while it is being imported
        self.limits = sb.Limits()
        self.alive = True
        self.progress = ""
        self.requests, self.restarts = [], 0

    def request(self, op, header=None, arrays=None, timeout=None):
        self.requests.append((op, dict(header or {})))
        if op == "load":
            for path in sorted(self.hang_on - set(header["skip"])):
                self.progress = f"importing {path}"
                self.alive = False
                raise sb.WorkerTimeout(f"timed out after {timeout} s")
            return dict(INVENTORY), {}
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            if isinstance(step, sb.WorkerError):
                self.alive = False
            raise step
        return step, {}

    def restart(self):
        self.restarts += 1
        self.alive = True
        self.progress = ""

    def memory_now_mb(self):
        return 2000.0  # near the limit: a MemoryError is the submission's own

    def recheck(self, alloc_mb):
        raise AssertionError("not expected")


def ops(box):
    return [op for op, _ in box.requests]


def test_a_file_whose_import_hangs_is_left_out_and_the_rest_loaded():
    box = FakeSandbox([], hang_on={"slow.py"})
    session = Session(box)
    assert session.load() == INVENTORY
    assert list(session.left_out) == ["slow.py"] and "left out" in session.left_out["slow.py"]
    assert session.restarts == 1 and box.restarts == 1
    assert box.requests[-1] == ("load", {"manifest": None, "skip": session.left_out})
    assert session.load_error is None and session.has_layer("relu")


def test_loading_gives_up_after_leaving_out_too_many_files():
    hanging = {f"f{i}.py" for i in range(MAX_LEFT_OUT + 1)}
    session = Session(FakeSandbox([], hang_on=hanging))
    session.load()
    assert len(session.left_out) == MAX_LEFT_OUT
    assert "timed out" in session.load_error and session.inventory == {}


def test_a_dead_worker_is_replaced_and_the_submission_reloaded_before_the_next_call():
    box = FakeSandbox([sb.WorkerDied("the worker died (SIGSEGV)"), {"pid": 2}])
    session = Session(box)
    session.load()
    with pytest.raises(sb.WorkerError):
        session.call("ping")
    header, _ = session.call("ping")
    assert header == {"pid": 2}
    assert ops(box) == ["load", "ping", "load", "ping"] and session.restarts == 1


def test_a_failed_load_is_not_paid_again_for_every_check():
    class Broken(FakeSandbox):
        def request(self, op, header=None, arrays=None, timeout=None):
            self.requests.append((op, header))
            raise sb.StudentError("SyntaxError", "invalid syntax", where="a.py line 3")

    box = Broken([])
    session = Session(box)
    session.load()
    assert session.load_error == "your code raised SyntaxError: invalid syntax (a.py line 3)"
    for _ in range(3):
        with pytest.raises(sb.WorkerError, match="could not be loaded"):
            session.call("ping")
    assert ops(box) == ["load"]


def test_out_of_memory_replaces_the_worker_before_the_next_call():
    box = FakeSandbox([sb.StudentError("MemoryError", "Unable to allocate 50.0 GiB"), {"pid": 3}])
    session = Session(box)
    session.load()
    with pytest.raises(sb.StudentError):
        session.call("ping")
    assert box.restarts == 0  # the worker is alive: replaced only when needed
    session.call("ping")
    assert box.restarts == 1 and ops(box) == ["load", "ping", "load", "ping"]


def test_a_reply_of_the_wrong_shape_restarts_the_worker():
    box = FakeSandbox([{"handle": 1, "param_names": 5}, {"pid": 4}])
    session = Session(box)
    session.load()
    from grader.replies import BadReply

    with pytest.raises(BadReply):
        session.call("net_new", {"net": "lenet"})
    session.call("ping")
    assert box.restarts == 1


def test_describe_failure_speaks_to_the_student():
    assert describe_failure(sb.StudentError("ValueError", "bad shape")) == "your code raised ValueError: bad shape"
    assert describe_failure(sb.WorkerTimeout("timed out after 3 s")) == "timed out after 3 s"
