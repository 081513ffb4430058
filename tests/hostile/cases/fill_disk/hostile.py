"""Fills its working copy with 2 GB of files (each under the per-file size limit) in
Pooling.backward: without a quota on the copy, a batch could fill the grader's disk."""
import common.layers as layers


def backward(self, dout):
    block = b"\1" * (16 * 1024**2)
    for i in range(64):
        with open(f"filler{i}.bin", "wb") as f:
            for _ in range(2):
                f.write(block)
    return dout


class Patch:
    layers.Pooling.backward = backward
