"""Tiny TensorBoard event files written with the ``tensorboard`` package's own writer (no torch, no
TensorFlow): torch ``SummaryWriter``-style legacy values and TF2-style tensor summaries."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter


def write(folder: Path, steps: list[tuple[int, list]]) -> Path:
    """One event file in ``folder``; ``steps`` = [(step, [Summary.Value, ...]), ...]."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(folder))
    for step, values in steps:
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=values)))
    writer.close()
    return next(folder.glob("*tfevents*"))


def legacy_scalar(tag: str, value: float):
    """What torch's ``add_scalar`` writes: a ``simple_value``."""
    return summary_pb2.Summary.Value(tag=tag, simple_value=value)


def _plugin(name: str):
    return summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=name))


def tf2_scalar(tag: str, value: float):
    """What TF2's ``tf.summary.scalar`` (and Keras' callback) writes: a 0-d float tensor, plugin scalars."""
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                    float_val=[value])
    return summary_pb2.Summary.Value(tag=tag, metadata=_plugin("scalars"), tensor=tensor)


def png(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def legacy_image(tag: str, images: list[np.ndarray]):
    """What torch's ``add_images`` writes for N grayscale digits: one RGB grid, side by side."""
    grid = np.concatenate(images, axis=1)
    rgb = np.repeat(grid[:, :, None], 3, axis=2)
    image = summary_pb2.Summary.Image(height=grid.shape[0], width=grid.shape[1], colorspace=3, encoded_image_string=png(rgb))
    return summary_pb2.Summary.Value(tag=tag, image=image)


def tf2_images(tag: str, images: list[np.ndarray]):
    """What TF2's ``tf.summary.image(max_outputs=3)`` writes: [width, height, png, png, png] strings."""
    h, w = images[0].shape
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING,
                                    string_val=[str(w).encode(), str(h).encode()] + [png(i) for i in images])
    tensor.tensor_shape.dim.add(size=2 + len(images))
    return summary_pb2.Summary.Value(tag=tag, metadata=_plugin("images"), tensor=tensor)
