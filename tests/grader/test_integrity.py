"""The parent-side integrity scan finds attempts to reach the grader's code or answers."""

import json

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
