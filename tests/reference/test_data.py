"""reference/data.py: IDX reading, checksums, data-dir discovery, subsets, download."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil

import numpy as np
import pytest

from reference import data
from reference.data import ChecksumError, DataError, MissingDataError

CI_TRAIN_COUNTS = [592, 671, 581, 608, 623, 514, 608, 651, 551, 601]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


def copy_data(src, dst, skip=()):
    """A writable copy of a data folder (the shared one is read-only)."""
    dst.mkdir()
    for path in src.iterdir():
        if path.name not in skip:
            shutil.copyfile(path, dst / path.name)
    return dst


def relist(folder, name):
    """Update SHA256SUMS for a file we changed on purpose (to reach the check after the checksum)."""
    digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    lines = [line for line in (folder / "SHA256SUMS").read_text().splitlines() if not line.endswith(name)]
    (folder / "SHA256SUMS").write_text("\n".join(lines + [f"{digest}  {name}"]) + "\n")


# --------------------------------------------------------------------------- the real files

def test_mnist_ci_loads_with_the_documented_class_counts(data_dir):
    labels = data.load_labels("train", data_dir)
    x, t = data.load_mnist("train", data_dir, indices=np.arange(500))
    assert x.shape == (500, 1, 28, 28) and x.dtype == np.float64 and t.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == 1.0
    np.testing.assert_array_equal(t, labels[:500])
    test_labels = data.load_labels("test", data_dir)
    assert np.bincount(test_labels).tolist() == TEST_COUNTS
    if len(labels) == 6000:  # the CI stand-in; the full set has its own counts
        assert np.bincount(labels).tolist() == CI_TRAIN_COUNTS


def test_full_test_set_has_mnist_statistics(data_dir):
    x, t = data.load_mnist("test", data_dir, dtype=np.float32)
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.float32
    assert abs(x.mean() - 0.1325) < 0.002  # the test set's known pixel mean
    assert len(t) == 10000


def test_indices_select_exactly_those_images(data_dir):
    x_all, t_all = data.load_mnist("test", data_dir, indices=np.arange(20))
    x, t = data.load_mnist("test", data_dir, indices=[7, 3, 3])
    np.testing.assert_array_equal(x, x_all[[7, 3, 3]])
    np.testing.assert_array_equal(t, t_all[[7, 3, 3]])
    with pytest.raises(IndexError):
        data.load_mnist("test", data_dir, indices=[10000])


# --------------------------------------------------------------------------- broken files

def test_missing_file_is_named(data_dir, tmp_path):
    folder = copy_data(data_dir, tmp_path / "d", skip={TEST_LABELS})
    with pytest.raises(MissingDataError) as err:
        data.load_mnist("test", folder)
    assert TEST_LABELS in str(err.value) and str(folder) in str(err.value)
    assert "--data-dir" in str(err.value)


def test_truncated_gzip_is_a_data_error_naming_the_file(data_dir, tmp_path):
    folder = copy_data(data_dir, tmp_path / "d")
    path = folder / TEST_LABELS
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataError) as err:
        data.load_mnist("test", folder)
    message = str(err.value)
    assert str(path) in message and "truncated" in message and "download" in message


def test_not_a_gzip_file(tmp_path):
    path = tmp_path / "x-labels-idx1-ubyte.gz"
    path.write_bytes(b"this is not gzip data at all")
    with pytest.raises(DataError, match="not a gzip file"):
        data.read_idx(path)


def test_wrong_checksum_against_sha256sums(data_dir, tmp_path):
    folder = copy_data(data_dir, tmp_path / "d")
    labels = data.read_idx(folder / TEST_LABELS).copy()
    labels[0] = (labels[0] + 1) % 10  # a valid IDX file, one label changed
    data.write_idx(folder / TEST_LABELS, labels)
    with pytest.raises(ChecksumError) as err:
        data.load_mnist("test", folder)
    message = str(err.value)
    expected = data.read_sha256sums(folder / "SHA256SUMS")[TEST_LABELS]
    actual = hashlib.sha256((folder / TEST_LABELS).read_bytes()).hexdigest()
    assert TEST_LABELS in message and expected in message and actual in message
    assert "download" in message and "--data-dir" in message


def test_a_changed_file_is_verified_again(data_dir, tmp_path):
    folder = copy_data(data_dir, tmp_path / "d")
    data.load_mnist("test", folder, indices=[0])  # verified and cached
    path = folder / TEST_LABELS
    labels = data.read_idx(path).copy()
    labels[:2] = labels[1::-1] if labels[0] != labels[1] else (labels[:2] + 1) % 10
    data.write_idx(path, labels)
    os.utime(path, ns=(1, 1))  # a new mtime even on coarse clocks
    with pytest.raises(ChecksumError):
        data.load_mnist("test", folder, indices=[0])


def test_wrong_magic_number(data_dir, tmp_path):
    folder = copy_data(data_dir, tmp_path / "d")
    path = folder / TEST_LABELS
    content = bytearray(gzip.decompress(path.read_bytes()))
    content[2] = 0x07  # not an IDX type code
    path.write_bytes(gzip.compress(bytes(content)))
    relist(folder, TEST_LABELS)
    with pytest.raises(DataError) as err:
        data.load_mnist("test", folder)
    assert "magic number" in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("change, word", [(-5, "truncated"), (+3, "longer")])
def test_payload_length_must_match_the_header(tmp_path, change, word):
    path = tmp_path / "bad-labels-idx1-ubyte"
    data.write_idx(path, np.arange(10, dtype=np.uint8))
    raw = path.read_bytes()
    path.write_bytes(raw[:change] if change < 0 else raw + b"\0" * change)
    with pytest.raises(DataError) as err:
        data.read_idx(path)
    message = str(err.value)
    assert word in message and "10 bytes" in message and str(path) in message


def test_image_and_label_counts_must_agree(tiny_idx_dataset):
    folder = tiny_idx_dataset.dir
    data.write_idx(folder / "train-labels-idx1-ubyte.gz", tiny_idx_dataset.train[1][:-1])
    relist(folder, "train-labels-idx1-ubyte.gz")
    with pytest.raises(DataError, match="30 images"):
        data.load_dataset(folder, "train")
    with pytest.raises(DataError, match="30 images"):
        data.load_labels("train", folder)


# --------------------------------------------------------------------------- official sums

def test_official_files_need_no_sha256sums(data_dir, tmp_path):
    folder = copy_data(data_dir, tmp_path / "d", skip={"SHA256SUMS"})
    data.load_labels("test", folder)  # official gzip MD5
    # a mirror that re-compresses: the gzip bytes change, the content SHA-256 does not
    raw = gzip.decompress((folder / TEST_LABELS).read_bytes())
    (folder / TEST_LABELS).write_bytes(gzip.compress(raw, compresslevel=1, mtime=12345))
    assert len(data.load_labels("test", folder)) == 10000
    # and the decompressed file works too
    (folder / TEST_LABELS).unlink()
    (folder / "t10k-labels-idx1-ubyte").write_bytes(raw)
    assert len(data.load_labels("test", folder)) == 10000


def test_a_stand_in_under_an_official_name_needs_its_sha256sums(data_dir, tmp_path):
    if len(data.load_labels("train", data_dir)) == 60000:
        pytest.skip("the data folder holds the official training set, not a stand-in")
    folder = copy_data(data_dir, tmp_path / "d", skip={"SHA256SUMS"})
    with pytest.raises(ChecksumError) as err:
        data.load_labels("train", folder)
    assert data.KNOWN_SUMS["train-labels-idx1-ubyte"]["sha256"] in str(err.value)


def test_unknown_files_pass_unless_strict(tiny_idx_dataset):
    folder = tiny_idx_dataset.dir
    (folder / "SHA256SUMS").unlink()
    for kind in ("images-idx3", "labels-idx1"):  # a dataset of its own, under its own names
        (folder / f"t10k-{kind}-ubyte.gz").rename(folder / f"other-{kind}-ubyte.gz")
    x, t = data.load_dataset(folder, "other")
    assert x.shape == (12, 1, 8, 8) and len(t) == 12
    with pytest.raises(ChecksumError, match="no checksum is known"):
        data.load_dataset(folder, "other", strict=True)
    # under an official MNIST name, without SHA256SUMS, it is not MNIST and is refused
    with pytest.raises(ChecksumError, match="not the official MNIST"):
        data.load_dataset(folder, "train")


# --------------------------------------------------------------------------- other datasets

def test_generated_dataset_with_other_size_and_classes(tiny_idx_dataset):
    x, t = data.load_dataset(tiny_idx_dataset.dir, "train", strict=True)
    images, labels = tiny_idx_dataset.train
    assert x.shape == (30, 1, 8, 8)
    np.testing.assert_array_equal(x[:, 0], images / 255.0)
    np.testing.assert_array_equal(t, labels)
    assert set(t.tolist()) == {0, 1, 2}
    x_test, _ = data.load_mnist("test", tiny_idx_dataset.dir)
    assert x_test.shape == (12, 1, 8, 8)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_every_idx_type_round_trips(tmp_path, dtype, name):
    array = (np.arange(60).reshape(3, 4, 5) - 7).astype(dtype)
    back = data.read_idx(data.write_idx(tmp_path / name, array))
    assert back.dtype == np.dtype(dtype) and back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, array)


# --------------------------------------------------------------------------- subsets

def test_stratified_subset_keeps_proportions_and_is_deterministic():
    labels = np.repeat(np.arange(10), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    idx = data.stratified_subset(labels, 1000, seed=3)
    assert len(idx) == 1000 and len(np.unique(idx)) == 1000
    counts = np.bincount(labels[idx], minlength=10)
    assert np.abs(counts - 1000 * np.bincount(labels) / len(labels)).max() <= 1
    np.testing.assert_array_equal(idx, data.stratified_subset(labels, 1000, seed=3))
    assert not np.array_equal(np.sort(idx), np.sort(data.stratified_subset(labels, 1000, seed=4)))


@pytest.mark.parametrize("n", [0, 1, 7, 29, 30])
def test_stratified_subset_sums_to_n(n):
    labels = np.array([0] * 20 + [1] * 7 + [2] * 3)
    idx = data.stratified_subset(labels, n, seed=0)
    assert len(idx) == n and len(set(idx.tolist())) == n
    with pytest.raises(ValueError):
        data.stratified_subset(labels, 31, seed=0)


# --------------------------------------------------------------------------- where the data lives

def test_find_data_dir_order(tmp_path, monkeypatch):
    explicit, env, xdg = tmp_path / "explicit", tmp_path / "env", tmp_path / "xdg"
    explicit.mkdir()
    env.mkdir()
    (xdg / "grader" / "mnist").mkdir(parents=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    monkeypatch.setenv("GRADER_DATA_DIR", str(env))
    assert data.find_data_dir(explicit) == explicit
    assert data.find_data_dir() == env
    monkeypatch.delenv("GRADER_DATA_DIR")
    assert data.find_data_dir() == xdg / "grader" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "no-cache"))
    assert data.find_data_dir() == data.BUILTIN_DIR  # last: the subset installed with the package


def test_the_built_in_subset_is_the_official_test_set_and_6000_training_images():
    images, labels = data.load_mnist("test", data.BUILTIN_DIR)
    assert images.shape == (10000, 1, 28, 28) and len(labels) == 10000
    train = data.load_labels("train", data.BUILTIN_DIR)
    assert len(train) == 6000 and np.bincount(train).tolist() == [592, 671, 581, 608, 623, 514, 608, 651, 551, 601]
    assert "built-in subset" in data.describe_data_dir(data.BUILTIN_DIR)


def test_no_data_anywhere_explains_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(data, "BUILTIN_DIR", tmp_path / "not-installed")
    with pytest.raises(MissingDataError) as err:
        data.find_data_dir()
    message = str(err.value)
    for hint in ("--data-dir", "GRADER_DATA_DIR", str(tmp_path / "empty" / "grader" / "mnist"), "--download-mnist"):
        assert hint in message
    with pytest.raises(MissingDataError, match="does not exist"):
        data.find_data_dir(tmp_path / "nowhere")


# --------------------------------------------------------------------------- download (file:// only)

def test_download_from_a_file_url(data_dir, tmp_path):
    sums = data.read_sha256sums(data_dir / "SHA256SUMS")
    dest = data.download_mnist(tmp_path / "dl", base_url=data_dir.as_uri(), sha256sums=sums)
    assert sorted(p.name for p in dest.iterdir()) == sorted(data.MNIST_FILES)
    assert len(data.load_labels("test", dest)) == 10000
    # official files need no sums; the ones already present are kept
    again = data.download_mnist(dest, base_url=data_dir.as_uri(), files=(TEST_LABELS,))
    assert again == dest


def test_download_rejects_a_tampered_file(data_dir, tmp_path):
    mirror = copy_data(data_dir, tmp_path / "mirror")
    labels = data.read_idx(mirror / TEST_LABELS).copy()
    labels[-1] = (labels[-1] + 1) % 10
    data.write_idx(mirror / TEST_LABELS, labels)
    dest = tmp_path / "dl"
    with pytest.raises(ChecksumError) as err:
        data.download_mnist(dest, base_url=mirror.as_uri(), files=(TEST_LABELS,))
    assert "not kept" in str(err.value)
    assert list(dest.iterdir()) == []  # neither the file nor a partial download


def test_download_failure_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="download failed"):
        data.download_mnist(tmp_path / "dl", base_url=(tmp_path / "nothing").as_uri(), files=(TEST_LABELS,))
