"""Loss curves and top-3 images from a TensorBoard run folder, read with the ``tensorboard``
package's own record reader and compat layers (torch ``SummaryWriter`` and TF2/Keras summaries).

Bounded: at most :data:`MAX_FILES` event files of :data:`MAX_FILE_BYTES` each; a record that is
garbage or cut short is a :class:`~grader.deliverables.readers.ReadError` naming the file and the
byte where reading stopped, never a silent partial read.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import numpy as np

from grader.deliverables.readers import ReadError

MAX_FILES = 20
MAX_FILE_BYTES = 32 << 20
MAX_TOTAL_BYTES = 64 << 20
MAX_EVENTS = 200_000
MAX_IMAGE_PIXELS = 1 << 20
#: Per-record overhead of the TFRecord framing: length (8) + its CRC (4) + data CRC (4).
RECORD_OVERHEAD = 16

TRAIN_TAGS = ("train_loss", "loss/train", "train/loss", "training_loss", "loss_train")
VALID_TAGS = ("valid_loss", "val_loss", "loss/valid", "loss/val", "loss/validation", "valid/loss",
              "validation_loss", "loss_valid", "test_loss")
#: Keras' TensorBoard callback: one run folder per split, the tag epoch_loss in each.
KERAS_SPLITS = {"train": "train", "validation": "valid", "valid": "valid", "val": "valid"}


def event_files(folder: Path) -> list[tuple[str, Path]]:
    """(split, file) for the event files in ``folder`` ("" split) and its Keras split folders."""
    found: list[tuple[str, Path]] = []
    places = [("", folder)] + [(split, folder / sub) for sub, split in KERAS_SPLITS.items()]
    for split, place in places:
        try:
            names = sorted(p for p in place.iterdir() if "tfevents" in p.name and p.is_file() and not p.is_symlink())
        except OSError:
            continue
        found += [(split, p) for p in names]
        if len(found) > MAX_FILES:
            raise ReadError(f"{folder.name}/: more than {MAX_FILES} TensorBoard event files; keep one run per network")
    total = 0
    for _, p in found:
        size = p.stat().st_size
        total += size
        if size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
            raise ReadError(f"{p.name}: TensorBoard logs larger than {MAX_FILE_BYTES >> 20} MB per file / "
                            f"{MAX_TOTAL_BYTES >> 20} MB in all are not read")
    return found


def read_events(path: Path):
    """The events of one file, through tensorboard's reader and its data/dataclass compat layers."""
    from google.protobuf.message import DecodeError
    from tensorboard import data_compat, dataclass_compat
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto import event_pb2

    logging.getLogger("tensorboard").setLevel(logging.CRITICAL)  # its warnings would reach the report's stderr
    size = path.stat().st_size
    consumed, events, metadata = 0, [], {}
    try:
        for record in RawEventFileLoader(str(path)).Load():
            consumed += len(record) + RECORD_OVERHEAD
            event = event_pb2.Event.FromString(record)
            for migrated in dataclass_compat.migrate_event(data_compat.migrate_event(event), metadata):
                events.append(migrated)
            if len(events) > MAX_EVENTS:
                raise ReadError(f"{path.name}: more than {MAX_EVENTS} TensorBoard events")
    except ReadError:
        raise
    except (DecodeError, ValueError, OSError, RuntimeError) as exc:
        raise ReadError(f"{path.name}: TensorBoard record at byte {consumed} cannot be decoded ({str(exc)[:100]})") from None
    if consumed != size:
        raise ReadError(f"{path.name}: TensorBoard event file is corrupt or truncated: records end at byte "
                        f"{consumed} of {size} (a garbage or cut-off record); write it again with SummaryWriter "
                        f"and close() the writer")
    return events


def _scalar(value) -> float | None:
    """The number of a scalar summary value (simple_value migrated to a 0-d tensor), else None."""
    from tensorboard.util import tensor_util

    if value.metadata.plugin_data.plugin_name != "scalars" or not value.HasField("tensor"):
        return None
    dims = [d.size for d in value.tensor.tensor_shape.dim]
    if any(d != 1 for d in dims):  # a forged shape must not make make_ndarray fill gigabytes
        return None
    try:
        return float(np.asarray(tensor_util.make_ndarray(value.tensor)).reshape(-1)[0])
    except (ValueError, TypeError, IndexError):
        return None


def read_losses(folder: Path) -> dict[str, list[float]]:
    """``{"train": [...], "valid": [...]}`` ordered by step, from a run folder."""
    files = event_files(folder)
    if not files:
        raise ReadError(f"{folder.name}/: no TensorBoard event files (events.out.tfevents.*)")
    series: dict[str, dict[int, float]] = {"train": {}, "valid": {}}
    for split, path in files:
        for event in read_events(path):
            for value in event.summary.value:
                tag = value.tag.lower()
                name = split if split and tag in ("epoch_loss", "loss") else \
                    "train" if tag in TRAIN_TAGS else "valid" if tag in VALID_TAGS else None
                if name is None:
                    continue
                number = _scalar(value)
                if number is not None:
                    series[name][int(event.step)] = number
    if not series["train"] or not series["valid"]:
        missing = [n for n in ("train", "valid") if not series[n]]
        raise ReadError(f"{folder.name}/: the TensorBoard logs have no {' / '.join(m + '_loss' for m in missing)} "
                        f"scalars (tags read: train_loss, valid_loss, or Keras' epoch_loss under train/ and validation/)")
    return {n: [s[k] for k in sorted(s)] for n, s in series.items()}


def _decode_png(blob: bytes, width: int, height: int) -> np.ndarray | None:
    """A grayscale image as uint8 (H, W), or None when it cannot be decoded within the pixel cap."""
    from PIL import Image

    if width * height > MAX_IMAGE_PIXELS:
        return None
    try:
        with Image.open(io.BytesIO(blob)) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                return None
            return np.asarray(img.convert("L"), dtype=np.uint8)
    except Exception:  # PIL raises many kinds for a broken image; any of them means "not an image"
        return None


def tiles(image: np.ndarray, size: int = 28) -> list[np.ndarray]:
    """28x28 tiles of an image that is one MNIST digit or a row/grid of them (blank tiles dropped)."""
    h, w = image.shape
    if h % size or w % size:
        return []
    out = [image[r:r + size, c:c + size] for r in range(0, h, size) for c in range(0, w, size)]
    return [t for t in out if t.any()]


def scaled(images: np.ndarray) -> np.ndarray:
    """Images (N, ...) as int32 rows scaled so each image's maximum is 255 (a logged image may have
    been normalised to [0, 1] and back); int32, since 255 * 255 overflows int16."""
    rows = np.asarray(images).reshape(len(images), -1).astype(np.int32)
    return rows * 255 // np.maximum(rows.max(axis=1, keepdims=True), 1)


def match_test_image(tile: np.ndarray, test_scaled: np.ndarray, tol: int = 3) -> int | None:
    """Index of the test image with the same pixels (both scaled by :func:`scaled`), or None."""
    t = scaled(tile[None])[0]
    diff = np.abs(test_scaled - t).max(axis=1)
    best = int(diff.argmin())
    return best if diff[best] <= tol else None


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE]-?\d+)?")


def read_top3_images(folder: Path, test_u8: np.ndarray) -> dict:
    """Top-3 from TensorBoard images: per tag, the first number is the class and the next three the
    probabilities; the image (one digit per tag step, or three side by side) is matched to the test set."""
    files = event_files(folder)
    found: dict[int, dict] = {}
    test_scaled = None
    for _, path in files:
        for event in read_events(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "images" or not value.HasField("tensor"):
                    continue
                numbers = _NUMBER.findall(value.tag)
                if not numbers or not numbers[0].isdigit() or not 0 <= int(numbers[0]) < 10:
                    continue
                cls = int(numbers[0])
                strings = list(value.tensor.string_val)
                try:
                    width, height = int(strings[0]), int(strings[1])
                except (IndexError, ValueError):
                    continue
                entry = found.setdefault(cls, {"index": [], "prob": [float(n) for n in numbers[1:4]]})
                for blob in strings[2:]:
                    image = _decode_png(blob, width, height)
                    for tile in ([] if image is None else tiles(image)):
                        test_scaled = scaled(test_u8) if test_scaled is None else test_scaled
                        entry["index"].append(match_test_image(tile, test_scaled))
    complete = {c: e for c, e in found.items() if len(e["index"]) >= 3}
    if len(complete) < 10:
        raise ReadError(f"{folder.name}/: TensorBoard top-3 images found for classes {sorted(complete)} only "
                        f"(tag: the class, then the three probabilities; three 28x28 images per class)")
    unmatched = [c for c, e in complete.items() if None in e["index"][:3]]
    if unmatched:
        raise ReadError(f"{folder.name}/: TensorBoard top-3 images of classes {unmatched} match no test image "
                        f"pixel for pixel (log the unnormalised 28x28 test images)")
    index = np.asarray([complete[c]["index"][:3] for c in range(10)], dtype=np.int64)
    probs = [complete[c]["prob"] for c in range(10)]
    prob = np.asarray(probs, dtype=np.float64) if all(len(p) == 3 for p in probs) else None
    return {"among": "all", "index": index, "prob": prob, "source": "tensorboard images"}
