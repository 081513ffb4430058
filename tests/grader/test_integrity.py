"""The parent-side integrity scan finds attempts to reach the grader's code or answers."""

import json
import os
import time

from grader import integrity


def test_clean_submission_has_no_violations(tmp_path):
    (tmp_path / "layers.py").write_text("import numpy as np\nfrom common.layers import Affine\n")
    assert integrity.scan(tmp_path) == []


def test_imports_of_grader_packages_are_found_with_file_and_line(tmp_path):
    (tmp_path / "a.py").write_text("import numpy\nfrom reference.layers import Convolution\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("x = 1\n\n  import grader.checks\n")
    (tmp_path / "c.py").write_text("m = importlib.import_module('reference.networks')\n")
    found = {str(v) for v in integrity.scan(tmp_path)}
    assert found == {"a.py:2: imports the grader's reference package",
                     "sub/b.py:3: imports the grader's grader package",
                     "c.py:1: imports the grader's reference package"}


def test_notebook_sources_and_answer_files_are_scanned(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": ["import reference\n", "open('/x/rubrics/pa2.yaml')\n"]}]}
    (tmp_path / "PA2.ipynb").write_text(json.dumps(nb, indent=1))
    whats = sorted(v.what for v in integrity.scan(tmp_path))
    assert whats == ["imports the grader's reference package", "reads the grader's file rubrics/pa2.yaml"]


def test_symlinks_are_not_followed(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("import reference\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "link.py").symlink_to(outside)
    assert integrity.scan(sub) == []


def test_a_file_of_blank_lines_is_scanned_in_linear_time(tmp_path):
    """200,000 blank lines held the old scan (a regex backtracking over newlines) for minutes."""
    (tmp_path / "blank.py").write_text("import reference\n" + "\n" * 200_000 + "x = 1\n")
    (tmp_path / "spaces.py").write_text(" \t\n" * 200_000 + '"import grader\\n"\n' + " \n" * 1000)
    started = time.monotonic()
    found = {str(v) for v in integrity.scan(tmp_path)}
    assert time.monotonic() - started < 10  # a wide margin: it takes well under a second
    assert found == {"blank.py:1: imports the grader's reference package",
                     "spaces.py:200001: imports the grader's grader package"}


def test_what_is_scanned_is_capped_and_the_rest_named(tmp_path, monkeypatch):
    monkeypatch.setattr(integrity, "MAX_SCAN_BYTES", 1000)
    monkeypatch.setattr(integrity, "MAX_TOTAL_BYTES", 1500)
    (tmp_path / "a.py").write_text("import reference\n" + "x = 1\n" * 100)  # 617 bytes
    (tmp_path / "b.py").write_text("import grader\n" + "x = 1\n" * 200)  # 1214 bytes: too big
    (tmp_path / "c.py").write_text("import grader\n" + "x = 1\n" * 150)  # 914: past the total
    notes = []
    found = {str(v) for v in integrity.scan(tmp_path, notes)}
    assert found == {"a.py:1: imports the grader's reference package"}
    assert notes == ["b.py: 1214 bytes, more than the 1000 scanned per file; not scanned",
                     "c.py: the scan stops after 1500 bytes in all; not scanned"]


def test_names_that_are_not_utf8_and_deep_folders_do_not_stop_the_scan(tmp_path):
    (tmp_path / "a.py").write_text("import reference\n")
    with open(os.fsencode(tmp_path) + b"/\xb0\xa1.py", "w") as f:
        f.write("import grader\n")
    deep = tmp_path.joinpath(*["d"] * 40)
    deep.mkdir(parents=True)
    (deep / "deep.py").write_text("import grader\n")
    assert [str(v) for v in integrity.scan(tmp_path)] == ["a.py:1: imports the grader's reference package"]
