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


# ----------------------------------------------------------------------------- issue 13

from tests.submissions.make_notebook import CORPUS, HERE as SUBMISSIONS  # noqa: E402


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_notebook_converts_to_source_that_compiles(name):
    path = SUBMISSIONS / "notebook_corpus" / f"{name}.ipynb"
    source, dropped, warnings, _ = convert(path)
    compile(source, str(path), "exec", dont_inherit=True)
    assert not [d for d in dropped if d["kind"] in ("syntax_error", "bad_cell")], dropped
    assert warnings == []


def test_corpus_notebooks_keep_their_definitions():
    def run(name):
        namespace = {"__name__": name}
        exec(compile(convert(SUBMISSIONS / "notebook_corpus" / f"{name}.ipynb")[0], name, "exec"), namespace)
        return namespace

    assert run("indented_cells")["f"](1) == 2 and run("indented_cells")["g"](2) == 4
    assert run("non_ascii_names")["손실"](10) == 1.0 and run("non_ascii_names")["Écoute"].π == 3.14
    assert run("cell_magics")["Relu"]().forward(3) == 3 and "im2col" not in run("cell_magics")
    assert run("future_import_later")["f"].__annotations__ == {"x": "Later", "return": "Later"}
    assert run("crlf")["f"](5) == 5 and run("tabs")["T"]().m() == 1


def _write(tmp_path, cells, name="HW.ipynb"):
    path = tmp_path / name
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    return path


def _code(source, **extra):
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source, **extra}


def test_a_broken_cell_is_left_out_alone_and_the_rest_kept(tmp_path):
    deep = "x = " + "+".join(["1"] * 5000)
    path = _write(tmp_path, [_code("def before():\n    return 1"), _code(None), _code([1, 2]), _code(deep),
                             _code("y = 1 \u2010 2"), _code("z = '\0'"), "not a cell", _code("def after():\n    return 2")])
    # how ast.parse refuses the deep cell depends on the recursion limit, which libraries imported by
    # earlier tests in this process may have raised: convert under CPython's default, as a worker starts
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        source, dropped, warnings, _ = convert(path)
    finally:
        sys.setrecursionlimit(before)
    namespace = {}
    exec(compile(source, "HW.py", "exec"), namespace)
    assert namespace["before"]() == 1 and namespace["after"]() == 2
    assert {d["cell"]: d["kind"] for d in dropped} == {1: "bad_cell", 2: "bad_cell", 3: "bad_cell",
                                                       4: "syntax_error", 5: "syntax_error", 6: "bad_cell"}
    assert any("cell 1" in w and "NoneType" in w for w in warnings)
    assert any("cell 3" in w and "recursion depth" in w for w in warnings)
    assert any("cell 4" in w and "invalid character" in w for w in warnings)


def test_run_magic_imports_the_other_notebook(tmp_path):
    path = _write(tmp_path, [_code("%run ./helpers.ipynb\n%run -i 'my utils.ipynb'\ndef f():\n    %run x.ipynb\n    return 1")])
    source, dropped, _, _ = convert(path)
    assert "from helpers import *" in source and "from my_utils import *" in source
    assert "    pass" in source  # an indented %run cannot import *: it is dropped like other magics


def test_saved_outputs_do_not_count_towards_the_size_limit(tmp_path):
    picture = {"output_type": "display_data", "metadata": {},
               "data": {"image/png": "iVBORw0KGgo" + "A" * (3 * 1024 * 1024), "text/plain": "<Figure>"}}
    path = _write(tmp_path, [_code("def f():\n    return 1", outputs=[picture, picture])])
    assert path.stat().st_size > 6 * 1024 * 1024
    source, _, warnings, _ = convert(path)
    assert "def f():" in source and warnings == []


def test_too_much_code_is_refused_with_the_limit(tmp_path):
    path = _write(tmp_path, [_code("x = 1\n" * (1024 * 1024))])
    with pytest.raises(NotebookError, match="code cells hold 6.0 MB of text, more than the 5 MB"):
        convert(path)
