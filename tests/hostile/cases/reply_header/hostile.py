"""Writes a reply of the right framing and valid JSON but the wrong shape onto the worker's
reply channel, so the grader takes it for the real one: at import ({{KIND}} = files, layers:
the 'load' reply) or when the network is built (param_names: the 'net_new' reply)."""
import json
import os
import struct

import pa2.networks as networks

KIND = "{{KIND}}"


def send(header):
    head = json.dumps(dict(header, arrays=[])).encode()
    payload = struct.pack(">I", len(head)) + head
    for name in os.listdir("/proc/self/fd"):
        try:
            if int(name) > 2 and os.readlink(f"/proc/self/fd/{name}").startswith("pipe:"):
                os.write(int(name), struct.pack(">Q", len(payload)) + payload)
        except OSError:
            pass


LOAD = {"ok": True, "files": [], "layers": {}, "networks": {}, "warnings": []}
original_init = networks.TwoLayerCNN.__init__


def init(self, *args, **kwargs):
    if KIND == "param_names":
        send({"ok": True, "handle": 1, "param_names": 5, "layout": "numpy"})
    original_init(self, *args, **kwargs)


class Patch:  # a class body runs at import (top-level statements would be left out)
    networks.TwoLayerCNN.__init__ = init
    if KIND == "files":
        send(dict(LOAD, files=5))
    if KIND == "layers":
        send(dict(LOAD, layers={"affine": 5}))
