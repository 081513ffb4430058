"""MNIST on disk: IDX files (gzipped or raw), checksums, where the data lives, subsets.

The grader never needs a network: the data comes from the folder the user names
(``--data-dir``), from ``$GRADER_DATA_DIR``, from the cache folder, or else from the small
subset built into the package (``reference/mnist``: the official test set and the first 6000
training images). Every file is checked
against the official MNIST checksums (content SHA-256, stable across re-compression, or the
official gzip MD5) and against the folder's own ``SHA256SUMS`` when there is one, so that
stand-ins such as the CI subset and other datasets in the same format also load.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np

ENV_VAR = "GRADER_DATA_DIR"
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

#: file name prefix of each split
SPLITS = {"train": "train", "test": "t10k"}

#: The official MNIST files: SHA-256 of the decompressed IDX bytes (stable when a mirror
#: re-compresses) and MD5 of the official .gz file.
KNOWN_SUMS = {
    "train-images-idx3-ubyte": {
        "sha256": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "gz_md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
    "train-labels-idx1-ubyte": {
        "sha256": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "gz_md5": "d53e105ee54ea40749a09fcbcd1e9432"},
    "t10k-images-idx3-ubyte": {
        "sha256": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "gz_md5": "9fb629c4189551a2d022fa330f9573f3"},
    "t10k-labels-idx1-ubyte": {
        "sha256": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "gz_md5": "ec29112dd5afa0611ce80d1b7f02629c"},
}
MNIST_FILES = tuple(f"{name}.gz" for name in KNOWN_SUMS)

#: IDX type code -> big-endian NumPy dtype
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

HOW_TO_PROVIDE = (
    "Put the four MNIST files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in one folder and pass it with "
    f"--data-dir FOLDER, or set {ENV_VAR}=FOLDER, or copy them to {{cache}}. "
    "With a network, `grade --download-mnist` fetches and verifies them.")


class DataError(Exception):
    """The data cannot be used: the message says which file, what is wrong and what to do."""


class MissingDataError(DataError):
    """The data folder or one of its files is not there."""


class ChecksumError(DataError):
    """A data file is not the file its name promises (corrupt, truncated or replaced)."""


# --------------------------------------------------------------------------- where the data lives

#: The built-in subset (installed with the package): the official test set, 6000 training images.
BUILTIN_DIR = Path(__file__).resolve().parent / "mnist"


def describe_data_dir(path: Path) -> str:
    """One line for the report: where the MNIST files came from."""
    if Path(path).resolve() == BUILTIN_DIR:
        return (f"MNIST: the built-in subset ({BUILTIN_DIR}: the official test set and the first 6000 "
                "training images; give --data-dir for the full set)")
    return f"MNIST: {path}"


def cache_dir() -> Path:
    """The per-user cache folder for MNIST: ``$XDG_CACHE_HOME/grader/mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "grader" / "mnist"


def find_data_dir(explicit=None) -> Path:
    """The MNIST folder: ``explicit`` (--data-dir), else ``$GRADER_DATA_DIR``, else the cache, else
    the built-in subset.

    A folder that was named but does not exist is an error rather than a silent fallback.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_dir():
            return path
        raise MissingDataError(f"the data folder {path} (given with --data-dir) does not exist. "
                               + HOW_TO_PROVIDE.format(cache=cache_dir()))
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if path.is_dir():
            return path
        raise MissingDataError(f"the data folder {path} (from {ENV_VAR}) does not exist. "
                               + HOW_TO_PROVIDE.format(cache=cache_dir()))
    cache = cache_dir()
    if cache.is_dir():
        return cache
    if BUILTIN_DIR.is_dir():
        return BUILTIN_DIR
    raise MissingDataError(
        "MNIST was not found. Looked in:\n"
        "  - the --data-dir option: not given\n"
        f"  - the {ENV_VAR} environment variable: not set\n"
        f"  - the cache folder {cache}: does not exist\n"
        f"  - the built-in subset {BUILTIN_DIR}: not installed\n"
        + HOW_TO_PROVIDE.format(cache=cache))


# --------------------------------------------------------------------------- IDX files

def _read_bytes(path: Path, name: str | None = None) -> tuple[bytes, bytes]:
    """(file bytes, IDX bytes), gunzipped when the name (default: the path's) ends in .gz."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MissingDataError(f"{path}: file not found. " + HOW_TO_PROVIDE.format(cache=cache_dir())) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror}); check the file's permissions") from None
    if not (name or path.name).endswith(".gz"):
        return raw, raw
    try:
        return raw, gzip.decompress(raw)
    except EOFError:
        problem = "the gzip stream ends early (the file is truncated, e.g. an interrupted download)"
    except gzip.BadGzipFile:
        problem = "it is not a gzip file although its name ends in .gz"
    except (OSError, zlib.error) as exc:
        problem = f"the gzip data is corrupt ({exc})"
    raise DataError(f"{path}: {problem}. Delete the file and download it again, "
                    "or point --data-dir at a good copy.")


def _parse_idx(data: bytes, path) -> np.ndarray:
    """The array in an IDX byte string; ``path`` only names the file in errors."""
    fix = "Delete the file and download it again, or point --data-dir at a good copy."
    if len(data) < 4:
        raise DataError(f"{path}: {len(data)} bytes is too short for an IDX file "
                        f"(at least a 4-byte header is expected). {fix}")
    zero, code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or code not in IDX_DTYPES or ndim == 0:
        raise DataError(f"{path}: not an IDX file: magic number 0x{data[:4].hex()} (expected "
                        "0x0000 followed by a type code 08/09/0B/0C/0D/0E and the number of "
                        f"dimensions). {fix}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: the header promises {ndim} dimensions but the file ends after "
                        f"{len(data)} bytes. {fix}")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[code])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        what = "truncated" if found < expected else "longer than its header says"
        raise DataError(f"{path}: the file is {what}: its header says {' x '.join(map(str, dims))} "
                        f"{dtype.name} values ({expected} bytes) but {found} bytes follow. {fix}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` or raw), shape and dtype from its header.

    uint8 data is returned as a read-only view of the file's bytes (no copy).
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path)[1], path)


def write_idx(path, array) -> Path:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in .gz), e.g. a small dataset.

    The dtype must be one IDX can hold (uint8, int8, int16, int32, float32, float64).
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("=").str: k for k, v in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("=").str)
    if code is None:
        raise ValueError(f"IDX cannot store {array.dtype}; use one of uint8, int8, int16, int32, float32, float64")
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(IDX_DTYPES[code]).tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    return path


# --------------------------------------------------------------------------- checksums

def read_sha256sums(path) -> dict[str, str]:
    """File name -> SHA-256 from a ``sha256sum``-format file (``HEX  name`` or ``HEX *name``)."""
    path = Path(path)
    sums = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataError(f"{path}, line {number}: expected `<64 hex digits>  <file name>` "
                            f"(the output of sha256sum), found {line!r}. Fix or delete that line.")
        sums[Path(parts[1].lstrip("*")).name] = parts[0].lower()
    return sums


def _base_name(name: str) -> str:
    return name[:-3] if name.endswith(".gz") else name


def _stamp(path: Path):
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


_verified: set = set()   # (path, size, mtime, SHA256SUMS stamp, strict) already checked


def verify_file(path, raw: bytes | None = None, content: bytes | None = None, *, strict=False,
                sha256sums: dict[str, str] | None = None, name: str | None = None) -> None:
    """Raise ChecksumError unless the file matches a known checksum for its name.

    A file listed in its folder's ``SHA256SUMS`` (or in ``sha256sums``) must match that entry.
    Otherwise an official MNIST file name must match the official content SHA-256 or gzip MD5.
    A file with no known sum passes, unless ``strict``. Results are cached per
    (path, size, mtime) within the process. ``raw``/``content`` avoid re-reading the file;
    ``name`` is the name to check under (a download still in its temporary file).
    """
    path = Path(path)
    name = name or path.name
    sums_file = path.parent / "SHA256SUMS"
    key = (str(path.resolve()), name, _stamp(path), _stamp(sums_file), strict, repr(sha256sums))
    if key in _verified:
        return
    if raw is None:
        raw, content = _read_bytes(path, name)
    listed = dict(sha256sums or {})
    if not listed and sums_file.is_file():
        listed = read_sha256sums(sums_file)
    fix = ("Delete the file and download it again (`grade --download-mnist`), or point --data-dir "
           "at a folder with a good copy.")
    if name in listed:
        actual = hashlib.sha256(raw).hexdigest()
        if actual != listed[name]:
            raise ChecksumError(f"{path}: checksum mismatch with {sums_file}: expected SHA-256 "
                                f"{listed[name]}, found {actual}. The file is corrupt or was "
                                f"replaced. {fix}")
    elif _base_name(name) in KNOWN_SUMS:
        known = KNOWN_SUMS[_base_name(name)]
        md5_ok = name.endswith(".gz") and hashlib.md5(raw).hexdigest() == known["gz_md5"]
        if not md5_ok:
            if content is None:
                content = _read_bytes(path, name)[1]
            actual = hashlib.sha256(content).hexdigest()
            if actual != known["sha256"]:
                raise ChecksumError(
                    f"{path}: this is not the official MNIST {_base_name(name)}: expected content "
                    f"SHA-256 {known['sha256']}, found {actual}. If this folder holds another "
                    f"dataset on purpose, list its files in a SHA256SUMS file there. {fix}")
    elif strict:
        raise ChecksumError(f"{path}: no checksum is known for this file (it is neither an official "
                            f"MNIST file nor listed in {sums_file}); add it to SHA256SUMS "
                            "(`sha256sum *.gz > SHA256SUMS`) or load without strict checking.")
    _verified.add(key)


# --------------------------------------------------------------------------- datasets

def _find_file(directory: Path, prefix: str, kind: str) -> Path:
    """``<prefix>-<kind>-idx*-ubyte[.gz]``: the MNIST names first, then any IDX rank."""
    rank = "idx3" if kind == "images" else "idx1"
    candidates = [directory / f"{prefix}-{kind}-{rank}-ubyte.gz", directory / f"{prefix}-{kind}-{rank}-ubyte"]
    candidates += sorted(directory.glob(f"{prefix}-{kind}-idx*-ubyte*"))
    for path in candidates:
        if path.is_file():
            return path
    raise MissingDataError(f"{candidates[0]}: file not found (no {prefix}-{kind} file in {directory}). "
                           + HOW_TO_PROVIDE.format(cache=cache_dir()))


def _load_verified(path: Path, strict: bool) -> np.ndarray:
    raw, content = _read_bytes(path)
    verify_file(path, raw, content, strict=strict)
    return _parse_idx(content, path)


def load_dataset(data_dir, kind="train", indices=None, dtype=np.float64, strict=False):
    """(images (N, C, H, W) in [0, 1], labels int64) from ``<prefix>-images/labels`` IDX files.

    ``kind`` is "train" or "test" (file prefixes train- and t10k-) or a prefix itself.
    Shapes come from the IDX headers, so any image size and class count works. Only the
    images at ``indices`` are converted to float (all of them when None): the full MNIST
    training set as float64 is 376 MB.
    """
    directory = Path(data_dir)
    prefix = SPLITS.get(kind, kind)
    image_path = _find_file(directory, prefix, "images")
    label_path = _find_file(directory, prefix, "labels")
    labels = _load_verified(label_path, strict)
    images = _load_verified(image_path, strict)
    if labels.ndim != 1:
        raise DataError(f"{label_path}: labels must be one-dimensional, the header says shape "
                        f"{labels.shape}. Check that the images and labels files are not swapped.")
    if images.ndim not in (3, 4):
        raise DataError(f"{image_path}: images must be N x H x W (or N x C x H x W), the header "
                        f"says shape {images.shape}. Check that the images and labels files are not swapped.")
    if len(images) != len(labels):
        raise DataError(f"{image_path} holds {len(images)} images but {label_path} holds "
                        f"{len(labels)} labels; the two files come from different sets. Replace "
                        "both with files of the same release.")
    if images.ndim == 3:
        images = images[:, None]
    if indices is not None:
        indices = np.asarray(indices, dtype=np.intp).reshape(-1)
        if indices.size and (indices.min() < -len(labels) or indices.max() >= len(labels)):
            raise IndexError(f"indices must lie in [0, {len(labels)}) for {image_path}")
        images, labels = images[indices], labels[indices]
    x = images.astype(dtype)
    if images.dtype == np.uint8:
        x /= 255
    return x, labels.astype(np.int64)


def _idx_count(path: Path) -> int:
    """The first dimension in an IDX header, read without decompressing the whole file."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = f.read(8)
    except (EOFError, OSError, zlib.error):
        head = b""
    if len(head) < 8 or head[:2] != b"\0\0" or head[2] not in IDX_DTYPES:
        _read_bytes(path)   # raises the full explanation for a broken gzip file
        _parse_idx(head, path)
    return int.from_bytes(head[4:8], "big")


def load_labels(kind="train", data_dir=None, strict=False) -> np.ndarray:
    """All labels of a split (int64), e.g. to choose a subset before loading its images.

    Cheap: the images file is only opened to check that its count agrees.
    """
    directory = find_data_dir(data_dir)
    prefix = SPLITS.get(kind, kind)
    label_path = _find_file(directory, prefix, "labels")
    image_path = _find_file(directory, prefix, "images")
    labels = _load_verified(label_path, strict)
    count = _idx_count(image_path)
    if labels.ndim != 1 or count != len(labels):
        raise DataError(f"{image_path} holds {count} images but {label_path} holds {labels.shape} "
                        "labels; the two files come from different sets. Replace both with files "
                        "of the same release.")
    return labels.astype(np.int64)


def load_mnist(kind="train", data_dir=None, indices=None, dtype=np.float64, strict=False):
    """MNIST ``kind`` ("train" or "test") as (images (N, 1, 28, 28) in [0, 1], labels int64).

    The folder is found by :func:`find_data_dir`; see :func:`load_dataset` for ``indices``.
    """
    if kind not in SPLITS:
        raise ValueError(f"kind must be 'train' or 'test', not {kind!r}")
    return load_dataset(find_data_dir(data_dir), kind, indices=indices, dtype=dtype, strict=strict)


def stratified_subset(labels, n, seed=0) -> np.ndarray:
    """``n`` indices into ``labels`` with the class proportions preserved, in a seeded order.

    Each class gets round(n * its share), adjusted by the largest rounding errors so the
    counts sum to ``n``; members are drawn with ``np.random.default_rng(seed)``. The order is
    shuffled (so batches mix classes) but fixed by the inputs.
    """
    labels = np.asarray(labels).reshape(-1)
    n = int(n)
    if not 0 <= n <= len(labels):
        raise ValueError(f"cannot take {n} of {len(labels)} samples")
    classes, counts = np.unique(labels, return_counts=True)
    exact = n * counts / max(len(labels), 1)
    quota = np.minimum(np.round(exact).astype(np.int64), counts)
    while quota.sum() < n:      # hand out the missing ones where rounding down hurt most
        room = np.where(quota < counts, exact - quota, -np.inf)
        quota[np.argmax(room)] += 1
    while quota.sum() > n:      # take back where rounding up went furthest
        excess = np.where(quota > 0, quota - exact, -np.inf)
        quota[np.argmax(excess)] -= 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=q, replace=False)
              for c, q in zip(classes, quota)]
    picked = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    return rng.permutation(picked).astype(np.int64)


# --------------------------------------------------------------------------- download

def download_mnist(dest=None, base_url=MNIST_URL, files=MNIST_FILES, sha256sums=None, timeout=60.0) -> Path:
    """Fetch ``files`` from ``base_url`` into ``dest`` (default: the cache folder), verified.

    Each file is downloaded to a temporary file in ``dest``, checked (official MNIST sums, or
    ``sha256sums`` {name: SHA-256 of the file}; a file with no known sum is refused), and only
    then renamed into place, so an interrupted or tampered download never looks like data.
    Files already present and valid are kept. Works with file:// URLs.
    """
    dest = Path(dest) if dest is not None else cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    for name in files:
        target = dest / name
        if target.is_file():
            try:
                verify_file(target, strict=True, sha256sums=sha256sums)
                continue
            except DataError:
                pass  # a broken copy is replaced below
        url = base_url + name
        handle, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=dest)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(handle, "wb") as out:
                try:
                    with urllib.request.urlopen(url, timeout=timeout) as response:
                        shutil.copyfileobj(response, out)
                except (urllib.error.URLError, OSError) as exc:
                    raise DataError(f"{url}: download failed ({getattr(exc, 'reason', exc)}). Check "
                                    "the network or the URL, or copy the files by hand and use "
                                    "--data-dir.") from None
            # checked under its real name (the checksum tables are keyed by it) before the rename
            try:
                raw, content = _read_bytes(tmp, name)
                verify_file(tmp, raw, content, name=name, strict=True, sha256sums=sha256sums)
            except DataError as exc:
                raise type(exc)(f"{url}: the download was rejected and not kept: {exc}") from None
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return dest
