"""The worker's request loop: read a request, run the op, write a reply, repeat until EOF.

Runs inside the sandbox, started by ``grader.sandbox`` as ``python -s -P -B
<runtime>/_gradeworker_main.py --requests-fd R --replies-fd W --max-bytes N``: a bootstrap that
puts ``<runtime>`` (holding this package as ``_gradeworker``) on ``sys.path`` and calls
:func:`run`. That is ``-I`` without ``-E``: the parent builds the environment from scratch, and
``-E`` would drop its ``PYTHONHASHSEED=0``. The fds may also come from ``GRADEWORKER_FDS="R,W"``.
The working directory is the submission's root. fds 1 and 2 belong to the student's output:
the protocol never uses them.

Every request is handled inside ``try/except BaseException``: anything student code raises
(``SystemExit`` and ``KeyboardInterrupt`` included) becomes an ``ok: false`` reply and the loop
goes on. ``os._exit`` or a crash just ends the process; the parent copes.
"""

from __future__ import annotations

import importlib
import io
import os
import resource
import sys
import traceback

import numpy as np

from . import model_eval, ops, protocol
from .channel import open_channel, write_all as _write_all
from .file_import import import_file
from .guard import ROOT
from .guard import restore_builtins as _restore_builtins
from .selfcheck import op_selfcheck
from .tolerant import explain_name_error as _explain_name_error

# Bound once: student code that monkeypatches os, io, sys or numpy must not break replies.
_os_close = os.close
_os_dup2 = os.dup2
_FileIO = io.FileIO
_encode = protocol.encode
_read_message = protocol.read_message
_ProtocolError = protocol.ProtocolError
_EndOfStream = protocol.EndOfStream
_asarray = np.asarray
_stdout, _stderr = sys.stdout, sys.stderr

# encoded in advance: the reply of last resort must not depend on anything student code can break
_UNREPORTABLE = _encode({"ok": False, "error": {"type": "WorkerError", "traceback": "", "where": "",
                                                "message": "the error could not be reported (was json, numpy "
                                                           "or the worker modified by the submission?)"}}, {})
MAX_MESSAGE = 2000
MAX_TRACEBACK = 8000
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} characters cut]"


def _safe_str(value) -> str:
    try:
        return str(value)
    except BaseException:  # a student's exception with a broken __str__
        return "<unprintable>"


def error_info(exc: BaseException) -> dict:
    """``{"type", "message", "traceback", "where"}`` for an exception, bounded in length, with
    the worker's own frames left out so the student sees only their code."""
    try:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if not f.filename.startswith(_PACKAGE_DIR) and not f.filename.startswith("<frozen importlib")]
        text = "".join(traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc))
        own = [f for f in frames if f.filename.startswith(ROOT + os.sep)]
        where = f"{os.path.relpath(own[-1].filename, ROOT)}, line {own[-1].lineno}, in {own[-1].name}" if own else ""
    except BaseException:
        text, where = "", ""
    try:  # a name a failed top-level statement would have bound: say which statement
        hint = _explain_name_error(exc)
    except BaseException:
        hint = None
    message = _safe_str(exc) + (f" ({hint})" if hint else "")
    return {"type": _clip(_safe_str(getattr(type(exc), "__name__", "Exception")), 200),
            "message": _clip(message, MAX_MESSAGE),
            "traceback": _clip(text, MAX_TRACEBACK), "where": where}


# ---------------------------------------------------------------- built-in ops

def op_ping(header: dict, arrays: dict) -> tuple[dict, dict]:
    """Liveness check."""
    return {"pid": os.getpid()}, {}


def module_name_for(relpath: str) -> str:
    """``"sub/layers.py"`` -> ``"sub.layers"``: the name a student's own imports would use."""
    parts = os.path.normpath(relpath).split(os.sep)
    parts[-1] = os.path.splitext(parts[-1])[0]
    if all(p.isidentifier() for p in parts):
        return ".".join(parts)
    return "_submission_" + "_".join("".join(c if c.isalnum() else "_" for c in p) for p in parts)


def op_import_module(header: dict, arrays: dict) -> tuple[dict, dict]:
    """Run one ``.py`` file of the submission (path relative to its root) as a module."""
    rel = header.get("path")
    if not isinstance(rel, str) or not rel.endswith(".py"):
        raise ValueError(f"import_module needs a relative path to a .py file, got {rel!r}")
    path = os.path.realpath(os.path.join(ROOT, rel))
    if not path.startswith(ROOT + os.sep):
        raise ValueError(f"{rel!r} is outside the submission")
    name = module_name_for(os.path.relpath(path, ROOT))
    import_file(name, path)
    return {"module": name}, {}


def op_call(header: dict, arrays: dict) -> tuple[dict, dict]:
    """``module.function(*arrays)``; results come back as ``out0, out1, ...``."""
    name, func_name = header.get("module"), header.get("function")
    if not isinstance(name, str) or not isinstance(func_name, str):
        raise ValueError("call needs 'module' and 'function' names")
    module = sys.modules.get(name) or importlib.import_module(name)
    target = module
    for part in func_name.split("."):
        target = getattr(target, part)
    order = [a["name"] for a in header.get("arrays", [])]
    result = target(*[arrays[n].copy() for n in order])
    if result is None:
        results = ()
    elif isinstance(result, tuple):
        results = result
    else:
        results = (result,)
    out = {}
    for i, value in enumerate(results):
        arr = _asarray(value)
        if arr.dtype.hasobject:
            raise TypeError(f"{func_name} returned a value (#{i}) that is not numbers "
                            f"({type(value).__name__}); it cannot be sent back")
        out[f"out{i}"] = arr
    return {}, out


BUILTIN_OPS = {"ping": op_ping, "import_module": op_import_module, "call": op_call, "selfcheck": op_selfcheck}


def op_table(*tables: dict) -> dict:
    """The union of op tables; an op name served by two modules is an error, not a silent override."""
    merged: dict = {}
    for table in tables:
        clash = sorted(set(merged) & set(table))
        if clash:
            raise ValueError(f"worker ops defined twice: {', '.join(clash)}")
        merged.update(table)
    return merged


#: Every op the worker serves. A new op module (one ``OPS`` dict, one line per op) is one more argument.
OPS = op_table(BUILTIN_OPS, ops.OPS, model_eval.OPS)


# ---------------------------------------------------------------- loop

def handle(header: dict, arrays: dict) -> bytes:
    """Run one request and return the encoded reply (an error reply if anything goes wrong)."""
    try:
        op = header.get("op")
        handler = OPS.get(op) if isinstance(op, str) else None
        if handler is None:
            raise LookupError(f"unknown op {op!r}; known: {', '.join(sorted(OPS))}")
        reply, out = handler(header, arrays)
        reply = dict(reply or {})
        reply["ok"] = True
        return _encode(reply, out, _REPLY_LIMIT[0])
    except BaseException as exc:  # SystemExit, KeyboardInterrupt from student code too
        try:
            return _encode({"ok": False, "error": error_info(exc)}, {})
        except BaseException:
            return _UNREPORTABLE


def _flush_student_output() -> None:
    for stream in (sys.stdout, sys.stderr, _stdout, _stderr):
        try:
            stream.flush()
        except BaseException:
            pass


_REPLY_LIMIT = [protocol.DEFAULT_MAX_BYTES]  # what the parent accepts (--max-bytes)


def _parse_args(argv: list[str]) -> tuple[int, int, int]:
    opts = dict(zip(argv[0::2], argv[1::2]))
    if "--requests-fd" in opts:
        rfd, wfd = int(opts["--requests-fd"]), int(opts["--replies-fd"])
    else:
        rfd, wfd = (int(x) for x in os.environ["GRADEWORKER_FDS"].split(","))
    return rfd, wfd, int(opts.get("--max-bytes", protocol.DEFAULT_MAX_BYTES))


def _move_high(fds: list[int]) -> list[int]:
    """Dup the protocol fds to the top of the fd table (not inherited by the student's children)
    and close the originals, so a student closing or reusing low fds does not hit them."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = min(soft if soft != resource.RLIM_INFINITY else 1024, 1024) - 1
    if top - len(fds) < 10:
        return fds
    moved = []
    for i, fd in enumerate(fds):
        target = top - i
        _os_dup2(fd, target, inheritable=False)
        _os_close(fd)
        moved.append(target)
    return moved


def run(argv: list[str] | None = None) -> None:
    """Serve requests until the parent closes the requests pipe."""
    rfd, wfd, max_bytes = _parse_args(sys.argv[1:] if argv is None else argv)
    _REPLY_LIMIT[0] = max_bytes
    rfd, wfd = _move_high([rfd, wfd])
    open_channel(wfd)
    sys.argv = [os.path.join(ROOT, "submission")]
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)  # so the student's files can import each other
    requests = _FileIO(rfd, "rb", closefd=False)
    while True:
        try:
            header, arrays = _read_message(requests, max_bytes)
        except _EndOfStream:
            break
        except _ProtocolError as exc:
            _write_all(wfd, _encode({"ok": False, "error": {"type": "ProtocolError", "message": str(exc),
                                                            "traceback": "", "where": ""}}, {}))
            break  # the stream is out of step: nothing after this can be trusted
        reply = handle(header, arrays)
        _restore_builtins()
        _flush_student_output()
        _write_all(wfd, reply)
    _flush_student_output()


if __name__ == "__main__":
    run()
