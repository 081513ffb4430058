"""The worker's reply channel: the fd that replies and progress notes are written to.

Its own module so that both the request loop (:mod:`.main`) and the ops (:mod:`.ops`) can write to
it without importing each other. Functions are bound once, at import (before any student code):
a submission that monkeypatches ``os`` must not break replies.
"""

from __future__ import annotations

import os

from . import protocol

_os_write = os.write
_encode = protocol.encode
_REPLY_FD: list[int | None] = [None]


def open_channel(fd: int) -> None:
    """Send progress notes to ``fd`` from now on (the request loop calls this once)."""
    _REPLY_FD[0] = fd


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (os.write may write fewer)."""
    view = memoryview(data)
    while view:
        n = _os_write(fd, view)
        view = view[n:]


def progress(text: str) -> None:
    """Tell the parent what the current request is doing (``{"progress": text}``, no ``ok``), so
    that if the request never finishes, the parent knows where it hung (e.g. which file)."""
    if _REPLY_FD[0] is not None:
        write_all(_REPLY_FD[0], _encode({"progress": text}, {}))
