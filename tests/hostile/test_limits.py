"""Limits a submission must not get around: memory hidden in tmpfs files, a working copy that
fills the disk, and the MNIST answers on disk however the grader found them."""

import pytest

from grader import sandbox as sb
from tests.hostile.conftest import LIMITS, grade_hostile, not_passed
from tests.hostile.test_hostile import BACKWARD, assert_outcome, broken

needs_bwrap = pytest.mark.skipif(sb.probe("bwrap")[0] is None, reason=f"bubblewrap: {sb.probe('bwrap')[1]}")


@needs_bwrap
def test_dev_shm_is_small_and_counted(world):
    """2 GB to /dev/shm: the 64 MB tmpfs is full long before, and the memory never left the limit."""
    report = grade_hostile("fill_shm", world)
    assert_outcome(report, broken(BACKWARD, "error", "No space left on device"))
    assert report.sandbox["peak_memory_mb"] < LIMITS.memory_mb


@needs_bwrap
def test_the_working_copy_cannot_fill_the_disk(world):
    """2 GB of files in the copy: it lives on the sandbox's size-limited tmpfs, which fills (or the
    memory limit it counts towards stops the worker); nothing reaches the grader's disk."""
    report = grade_hostile("fill_disk", world)
    assert_outcome(report, broken(BACKWARD, "error", ("No space left on device",
                                                      f"more than the memory limit of {LIMITS.memory_mb} MB")))
    assert not list(world["sub"].glob("filler*"))


@needs_bwrap
def test_the_data_folder_given_with_data_dir_is_hidden(world, data_dir, monkeypatch):
    monkeypatch.delenv("GRADER_DATA_DIR", raising=False)
    report = grade_hostile("read_data", world, data_dir=data_dir, DATA_DIR=data_dir.resolve())
    assert not_passed(report) == {}
    assert "LEAKED" not in report.output
    assert report.output.count("hidden ") == 3, report.output
