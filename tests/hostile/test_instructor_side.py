"""Bad inputs on the instructor's side: a data folder with a missing, truncated or altered MNIST
file. The training checks are skipped with a message naming the file and the fix; every check
that does not need MNIST is still graded. (Broken rubric files: tests/grader/test_rubric.py.)"""

import gzip
import hashlib
import shutil

import pytest

from grader.grade import grade
from grader.plan import Plan
from tests.hostile.conftest import LIMITS

PLAN = Plan("data", layers=("relu",), networks=("two_layer_cnn",), network_checks=("architecture", "trajectory"))


@pytest.fixture
def data_copy(tmp_path, data_dir):
    folder = tmp_path / "mnist"
    shutil.copytree(data_dir, folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder


def rewrite_gz(path, change):
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(change(raw)))


def missing(folder):
    (folder / "train-images-idx3-ubyte.gz").unlink()


def resum(folder):
    """An instructor's own SHA256SUMS over the files as they are now (``sha256sum *.gz``)."""
    lines = [f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}" for f in sorted(folder.glob("*.gz"))]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def truncated(folder):
    rewrite_gz(folder / "train-labels-idx1-ubyte.gz", lambda raw: raw[:1000])
    resum(folder)  # the sums agree: the IDX reader itself must notice


def altered(folder):
    rewrite_gz(folder / "train-labels-idx1-ubyte.gz", lambda raw: raw[:100] + bytes([(raw[100] + 1) % 10]) + raw[101:])


def not_idx(folder):
    rewrite_gz(folder / "t10k-labels-idx1-ubyte.gz", lambda raw: b"<html>Not Found</html>")
    resum(folder)


@pytest.mark.parametrize("damage, texts", [
    (missing, ["train-images-idx3-ubyte.gz: file not found", "--data-dir FOLDER", "GRADER_DATA_DIR"]),
    (truncated, ["train-labels-idx1-ubyte.gz", "truncated"]),
    (altered, ["train-labels-idx1-ubyte.gz: checksum mismatch", "SHA256SUMS", "download it again"]),
    (not_idx, ["t10k-labels-idx1-ubyte.gz", "magic"]),
], ids=["missing", "truncated", "checksum", "not_idx"])
def test_bad_mnist_skips_only_the_training_checks_and_names_the_file(damage, texts, data_copy, numpy_sample):
    damage(data_copy)
    report = grade(numpy_sample, assignment=PLAN, data_dir=data_copy, limits=LIMITS)
    status = {c.id: c.status for c in report.checks}
    assert status == {"integrity": "passed", "load": "passed", "layers.relu.forward": "passed",
                      "layers.relu.backward": "passed", "layers.relu.gradcheck": "passed",
                      "two_layer_cnn.architecture": "passed", "two_layer_cnn.trajectory": "skipped"}
    (warning,) = [w for w in report.warnings if w.startswith("training checks skipped")]
    for text in texts:
        assert text in warning, warning


def test_a_missing_data_folder_is_named(tmp_path, numpy_sample):
    report = grade(numpy_sample, assignment=PLAN, data_dir=tmp_path / "nowhere", limits=LIMITS)
    assert report.by_id()["two_layer_cnn.trajectory"].status == "skipped"
    assert any(f"{tmp_path / 'nowhere'} (given with --data-dir) does not exist" in w for w in report.warnings)
