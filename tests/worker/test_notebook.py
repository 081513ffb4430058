"""Colab/Jupyter notebooks become importable module source; what was left out is reported by cell."""

import json
import sys
import types

import pytest

from grader.worker.notebook import NotebookError, convert, notebook_to_source
from tests.worker.fixtures.isolation import FIXTURES

COLAB = FIXTURES / "colab" / "PA1.ipynb"


def test_colab_notebook_keeps_classes_and_drops_shell_magics_colab_and_training(monkeypatch):
    for name in ("matplotlib", "matplotlib.pyplot"):  # not installed here; discovery stubs it
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    source, dropped, warnings = notebook_to_source(COLAB)
    by_cell = {(d["cell"], d["cell_line"]): d["kind"] for d in dropped}
    assert by_cell == {
        (1, 1): "shell", (1, 2): "magic",                      # !pip install, %matplotlib inline
        (2, 1): "colab", (2, 2): "colab",                      # from google.colab import drive; drive.mount
        (3, 5): "assignment", (3, 6): "depends_on_dropped",    # data loading at top level
        (5, 1): "cell_magic", (5, 3): "assignment", (5, 4): "loop", (5, 6): "expression",  # %%time training
        (6, 1): "cell_magic",                                  # %%bash: the whole cell
        (7, 1): "syntax_error",                                # a cell that does not parse
        (8, 1): "colab", (8, 2): "colab",                      # files.upload()
    }
    assert all(set(d) == {"line", "kind", "text", "cell", "cell_line"} for d in dropped)
    assert any("cell 7" in w for w in warnings)
    namespace = {"__name__": "PA1"}
    exec(compile(source, "PA1.py", "exec"), namespace)
    assert {"Relu", "Affine", "load_data"} <= set(namespace)
    assert namespace["net_hidden"] == 100  # the cheap part of the %%time cell stays
    assert "W" not in namespace and "x_train" not in namespace


def test_generated_lines_map_back_to_cells():
    source, dropped, _, line_map = convert(COLAB)
    lines = source.split("\n")
    for d in dropped:
        if d["kind"] != "syntax_error":
            assert line_map.cells[d["line"]] == (d["cell"], d["cell_line"])
    raise_line = next(i + 1 for i, text in enumerate(lines) if "seven inputs" in text)
    assert line_map.where(raise_line) == "cell 4, line 26"


def test_invalid_json_names_the_file(tmp_path):
    path = tmp_path / "HW1.ipynb"
    path.write_text("{ this is not json")
    with pytest.raises(NotebookError, match="HW1.ipynb.*not JSON"):
        notebook_to_source(path)


def test_unsupported_version_names_the_file(tmp_path):
    path = tmp_path / "future.ipynb"
    path.write_text(json.dumps({"nbformat": 9, "nbformat_minor": 0, "metadata": {}, "cells": []}))
    with pytest.raises(NotebookError, match="future.ipynb.*unsupported notebook format"):
        notebook_to_source(path)


def test_malformed_notebook_names_the_file(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 2, "metadata": {}}))
    with pytest.raises(NotebookError, match="broken.ipynb"):
        notebook_to_source(path)
