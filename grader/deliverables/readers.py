"""Bounded readers of the handed-in deliverable files (parent side: nothing is unpickled here).

Every reader checks the file's size before reading it and the shape of what it parsed, and
raises :class:`ReadError` naming the file and the format expected; no reader raises anything
else for bad input, so one broken file costs only its own check.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import numpy.lib.format as npy_format

from grader.deliverables.contract import FORMATS

#: Size caps (bytes) per kind of file, checked with stat before a byte is read.
MAX_JSON_BYTES = 1 << 20
MAX_CSV_BYTES = 4 << 20
MAX_NPY_BYTES = 8 << 20
#: Structure caps.
MAX_JSON_DEPTH = 16
MAX_CSV_ROWS = 10_000
MAX_CSV_COLUMNS = 64
MAX_NPY_ELEMENTS = 1 << 16


class ReadError(ValueError):
    """A deliverable that could not be read: the message names the file and what was expected."""


def _size(path: Path, cap: int, what: str) -> int:
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ReadError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    if size > cap:
        raise ReadError(f"{path.name}: {size:,} bytes is too large for {what} (at most {cap:,} bytes are read)")
    return size


def _read_bytes(path: Path, cap: int, what: str) -> bytes:
    _size(path, cap, what)
    try:
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except OSError as exc:
        raise ReadError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > cap:  # grew since stat, or a special file
        raise ReadError(f"{path.name}: larger than {cap:,} bytes, too large for {what}")
    return data


def json_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text (outside strings), in one linear pass."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def read_json(path: Path, what: str, cap: int = MAX_JSON_BYTES):
    """Parsed JSON of at most ``cap`` bytes and ``MAX_JSON_DEPTH`` levels (NaN/Infinity refused)."""
    data = _read_bytes(path, cap, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(f"{path.name}: not UTF-8 text (byte {exc.start}); expected {what}") from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise ReadError(f"{path.name}: nested more than {MAX_JSON_DEPTH} levels deep; expected {what}")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ReadError(f"{path.name}: not valid JSON ({str(exc)[:120]}); expected {what}") from None


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value


def read_csv_rows(path: Path, what: str, cap: int = MAX_CSV_BYTES) -> list[list[str]]:
    """The rows of a small CSV (size, row and column counts capped), blank lines dropped."""
    data = _read_bytes(path, cap, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(f"{path.name}: not UTF-8 text (byte {exc.start}); expected {what}") from None
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else "\t" if sample.count("\t") > sample.count(",") else ","
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            if not any(c.strip() for c in row):
                continue
            if len(row) > MAX_CSV_COLUMNS:
                raise ReadError(f"{path.name}: a row has {len(row)} columns (at most {MAX_CSV_COLUMNS}); expected {what}")
            rows.append([c.strip() for c in row])
            if len(rows) > MAX_CSV_ROWS:
                raise ReadError(f"{path.name}: more than {MAX_CSV_ROWS} rows; expected {what}")
    except csv.Error as exc:
        raise ReadError(f"{path.name}: not a readable CSV ({exc}); expected {what}") from None
    return rows


def read_npy(path: Path, what: str, max_elements: int = MAX_NPY_ELEMENTS) -> np.ndarray:
    """A numeric ``.npy`` array: its header is checked (dtype, size) before the data is read."""
    size = _size(path, MAX_NPY_BYTES, what)
    try:
        with open(path, "rb") as f:
            version = npy_format.read_magic(f)
            reader = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = reader(f)
            if dtype.hasobject or dtype.kind not in "biuf":
                raise ReadError(f"{path.name}: holds {dtype} values, not numbers; expected {what}")
            count = math.prod(shape)
            if count > max_elements or count * dtype.itemsize > size:
                raise ReadError(f"{path.name}: shape {shape} is too large or does not match the file; expected {what}")
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except ReadError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        raise ReadError(f"{path.name}: not a readable .npy file ({str(exc)[:120]}); expected {what}") from None


def _as_matrix(rows: list[list[str]], path: Path, what: str) -> np.ndarray:
    """Numbers of a CSV table; a header row and an index column (pandas' to_csv) are dropped."""
    if rows and any(_number(c) is None for c in rows[0] if c):
        rows = rows[1:]
    if rows and all(len(r) == len(rows[0]) for r in rows) and len(rows[0]) == len(rows) + 1:
        if all(_number(r[0]) == i for i, r in enumerate(rows)):
            rows = [r[1:] for r in rows]
    values = []
    for i, row in enumerate(rows, 1):
        numbers = [_number(c) for c in row]
        if any(n is None for n in numbers):
            raise ReadError(f"{path.name}: row {i} has a cell that is not a number; expected {what}")
        values.append(numbers)
    if not values or len({len(r) for r in values}) != 1:
        raise ReadError(f"{path.name}: rows of different lengths (or none); expected {what}")
    return np.asarray(values, dtype=np.float64)


def read_confusion(path: Path) -> np.ndarray:
    """The handed-in confusion matrix (CSV or .npy) as float64; shape is judged later."""
    what = FORMATS["confusion"]
    if path.suffix == ".npy":
        m = read_npy(path, what).astype(np.float64)
    else:
        m = _as_matrix(read_csv_rows(path, what, cap=1 << 20), path, what)
    if m.ndim != 2:
        raise ReadError(f"{path.name}: a {m.ndim}-D array; expected {what}")
    return m


def _float_list(value, name: str, path: Path, what: str, limit: int = MAX_CSV_ROWS) -> list[float]:
    if not isinstance(value, list) or len(value) > limit:
        raise ReadError(f"{path.name}: '{name}' must be a list of at most {limit} numbers; expected {what}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ReadError(f"{path.name}: '{name}' holds {type(v).__name__} {str(v)[:30]!r}, not a number; expected {what}")
        out.append(float(v))
    return out


def read_top3(path: Path) -> dict:
    """``{"among": str, "index": int (10, 3), "prob": float (10, 3)}`` from top3.json."""
    what = FORMATS["top3"]
    data = read_json(path, what)
    if not isinstance(data, dict) or "index" not in data or "prob" not in data:
        raise ReadError(f"{path.name}: needs the keys 'index' and 'prob'; expected {what}")
    among = data.get("among", "all")
    if among not in ("all", "class", "label"):
        raise ReadError(f"{path.name}: 'among' is {str(among)[:30]!r}; it must be \"all\" or \"class\"")
    arrays = {}
    for key in ("index", "prob"):
        rows = data[key]
        if not isinstance(rows, list) or len(rows) != 10 or not all(isinstance(r, list) and len(r) == 3 for r in rows):
            raise ReadError(f"{path.name}: '{key}' must be 10 rows of 3 numbers; expected {what}")
        arrays[key] = np.asarray([_float_list(r, key, path, what) for r in rows], dtype=np.float64)
    index = arrays["index"]
    if not np.all(index == np.round(index)):
        raise ReadError(f"{path.name}: 'index' holds numbers that are not whole image indices")
    return {"among": "class" if among == "label" else among, "index": index.astype(np.int64), "prob": arrays["prob"]}


_TRAIN_KEYS = ("train_loss", "train", "loss", "training_loss")
_VALID_KEYS = ("valid_loss", "valid", "val_loss", "validation_loss", "validation", "test_loss")


def read_loss(path: Path) -> dict[str, list[float]]:
    """``{"train": [...], "valid": [...]}`` per epoch from loss.csv or loss.json."""
    what = FORMATS["loss"]
    if path.suffix == ".json":
        data = read_json(path, what)
        if not isinstance(data, dict):
            raise ReadError(f"{path.name}: a JSON object is expected; {what}")
        lowered = {str(k).lower(): v for k, v in data.items()}
        found = {}
        for name, keys in (("train", _TRAIN_KEYS), ("valid", _VALID_KEYS)):
            key = next((k for k in keys if k in lowered), None)
            if key is None:
                raise ReadError(f"{path.name}: no '{keys[0]}' list; expected {what}")
            found[name] = _float_list(lowered[key], key, path, what)
        return found
    rows = read_csv_rows(path, what)
    if not rows:
        raise ReadError(f"{path.name}: empty; expected {what}")
    header = [c.lower() for c in rows[0]]
    columns = {}
    for name, keys in (("train", _TRAIN_KEYS), ("valid", _VALID_KEYS)):
        col = next((header.index(k) for k in keys if k in header), None)
        if col is None:
            raise ReadError(f"{path.name}: the header {rows[0][:6]} has no '{keys[0]}' column; expected {what}")
        columns[name] = col
    found = {"train": [], "valid": []}
    for line, row in enumerate(rows[1:], 2):
        for name, col in columns.items():
            cell = row[col] if col < len(row) else ""
            if cell == "":
                continue  # a shorter column (valid logged less often) is judged, not a read error
            value = _number(cell)
            if value is None:
                raise ReadError(f"{path.name}, line {line}: {cell[:30]!r} is not a number; expected {what}")
            found[name].append(value)
    return found


def read_metrics(path: Path) -> float:
    """The reported test accuracy as a fraction (a percentage above 1 is divided by 100)."""
    what = FORMATS["metrics"]
    data = read_json(path, what)
    value = data.get("test_accuracy") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ReadError(f"{path.name}: no number under 'test_accuracy'; expected {what}")
    if 1 < value <= 100:
        value = value / 100
    if not 0 <= value <= 1:
        raise ReadError(f"{path.name}: test_accuracy {value} is not a fraction in [0, 1]")
    return float(value)


def read_cam(path: Path) -> np.ndarray:
    """The handed-in CAM as a 2-D float64 map (a leading axis of length 1 is dropped)."""
    what = FORMATS["cam"]
    cam = read_npy(path, what).astype(np.float64)
    while cam.ndim > 2 and cam.shape[0] == 1:
        cam = cam[0]
    if cam.ndim != 2 or min(cam.shape) < 1:
        raise ReadError(f"{path.name}: shape {cam.shape}; expected {what}")
    if not np.all(np.isfinite(cam)):
        raise ReadError(f"{path.name}: holds NaN or infinite values")
    return cam


def read_cam_sample(path: Path, n_test: int = 10_000) -> tuple[int, int]:
    """(test image index, class) from sample.json."""
    what = FORMATS["cam_sample"]
    data = read_json(path, what)
    if not isinstance(data, dict):
        raise ReadError(f"{path.name}: a JSON object is expected; {what}")
    index, cls = data.get("index"), data.get("class")
    for name, value, top in (("index", index, n_test), ("class", cls, 10)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < top:
            raise ReadError(f"{path.name}: '{name}' must be a whole number in [0, {top}), not {str(value)[:30]}")
    return index, cls
