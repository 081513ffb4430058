"""Turn a student's Jupyter/Colab notebook into module source the grader can import.

Only code cells are used. Per cell, before the usual top-level filtering
(:func:`source_filter.filter_source`):

- ``!shell`` lines (``!pip install ...``, ``files = !ls``) and ``%line`` magics are dropped;
- a cell magic drops the whole cell (``%%bash``, ``%%writefile``, ``%%html``, ...), except the
  magics whose body is ordinary Python run once (``%%time``, ``%%timeit``, ``%%capture``):
  there only the magic line goes and the body is filtered like any other cell, so a class
  defined under ``%%time`` is kept while the training it times is still dropped;
- Colab-only lines: ``from google.colab import ...``, ``drive.mount(...)``,
  ``files.upload()``/``files.download(...)``, and ``get_ipython()`` calls;
- ``%run other.ipynb`` (or ``.py``) at the top level becomes ``from other import *``: the
  submission's own notebooks are importable modules already;
- a cell whose first line is indented is dedented (IPython runs it);
- a cell that does not parse even so (half-written code), cannot be compiled (a 5,000-term
  expression) or whose source is not text is dropped whole, with a warning.

Saved outputs are dropped before anything else, and each cell is filtered and compiled on its
own, so the generated module always compiles. The cells are joined with a ``# %% [cell i]`` marker line before each, so the generated
module's line numbers map back to (cell, line): :class:`LineMap`.
"""

from __future__ import annotations

import __future__
import json
import keyword
import re
import warnings as _warnings
from dataclasses import dataclass, field

from .source_filter import SourceError, filter_source, normalize_newlines, strip_ipython_lines

#: Code cells may hold this much source text in all (saved outputs are dropped first and do not count).
MAX_CODE_BYTES = 5 * 1024 * 1024
#: Line 1 of every converted notebook (or its ``from __future__`` imports, gathered from the cells).
HEADER = "# converted from a notebook by the grader"
_FUTURE = re.compile(r"^from\s+__future__\s+import\s+([\w\s,()]+?)\s*(#.*)?$")
_RUN = re.compile(r"^%run\s+(?:-\w+\s+)*(\"[^\"]+\"|'[^']+'|\S+\.(?:ipynb|py))\s*$")

#: Cell magics whose body is plain Python executed once.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})

_COLAB = re.compile(
    r"^\s*(from\s+google\.colab(\.\w+)*\s+import\b|import\s+google\.colab\b"
    r"|([\w.]+\s*=\s*)?(drive\.(mount|flush_and_unmount)|files\.(upload|download))\s*\("
    r"|([\w.]+\s*=\s*)?get_ipython\(\))")


class NotebookError(ValueError):
    """A notebook file could not be read; the message names the file and the reason."""


@dataclass
class LineMap:
    """Generated-module line -> (cell index, 1-based line in that cell)."""

    cells: dict[int, tuple[int, int]] = field(default_factory=dict)

    def where(self, line: int | None) -> str:
        """'cell 3, line 7' for a line of the generated module (or 'line N' if unmapped)."""
        if line in self.cells:
            cell, cell_line = self.cells[line]
            return f"cell {cell}, line {cell_line}"
        return f"line {line}"


def read_notebook(path) -> tuple[dict, dict[int, str]]:
    """The notebook as nbformat v4 without outputs, and {cell index: why it is unusable}.

    Saved outputs (plots, printed logs) are dropped before nbformat sees the notebook, so a
    figure-heavy Colab file costs its code, not its pictures. A cell that is not an object or
    whose source is not text is blanked here and reported, so it cannot sink the notebook.
    """
    import nbformat

    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path}: not a valid notebook (not UTF-8 text: {exc})") from None
    except ValueError as exc:
        raise NotebookError(f"{path}: not a valid notebook (the file is not JSON: {exc})") from None
    except RecursionError:
        raise NotebookError(f"{path}: not a valid notebook (its JSON is nested too deeply)") from None
    bad = _strip_cells(data)
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            return nbformat.reads(json.dumps(data), as_version=4), bad
    except nbformat.NBFormatError as exc:
        raise NotebookError(f"{path}: unsupported notebook format ({exc}); save it again with "
                            f"Jupyter or Colab (nbformat 4)") from None
    except Exception as exc:  # jsonschema ValidationError, KeyError on malformed JSON, ...
        raise NotebookError(f"{path}: not a valid notebook ({type(exc).__name__}: {exc})") from None


def _strip_cells(data) -> dict[int, str]:
    """Drop outputs and attachments in place; blank cells nbformat would choke on."""
    if not isinstance(data, dict):
        return {}
    cells = data.get("cells")
    if not isinstance(cells, list):  # nbformat 3 keeps them in worksheets
        sheets = data.get("worksheets")
        cells = [c for w in sheets if isinstance(w, dict) for c in (w.get("cells") or [])] \
            if isinstance(sheets, list) else []
    bad: dict[int, str] = {}
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            if isinstance(data.get("cells"), list):
                data["cells"][i] = {"cell_type": "raw", "metadata": {}, "source": ""}
            bad[i] = "it is not a cell object"
            continue
        if "outputs" in cell:
            cell["outputs"] = []
        cell.pop("attachments", None)
        key = "input" if "input" in cell and "source" not in cell else "source"
        text = cell.get(key)
        if not (isinstance(text, str) or (isinstance(text, list) and all(isinstance(t, str) for t in text))):
            if cell.get("cell_type") == "code":
                bad[i] = f"its source is {type(text).__name__ if not isinstance(text, list) else 'a list of non-text items'}, not text"
            cell[key] = ""
    return bad


def notebook_to_source(path) -> tuple[str, list[dict], list[str]]:
    """Read a notebook and return (module source, dropped, warnings).

    ``dropped`` entries are ``{"line", "kind", "text", "cell", "cell_line"}``: ``line`` in the
    generated module, ``cell`` the 0-based index among all cells, ``cell_line`` 1-based.
    """
    source, dropped, warnings, _ = convert(path)
    return source, dropped, warnings


def convert(path) -> tuple[str, list[dict], list[str], LineMap]:
    """:func:`notebook_to_source` plus the line map (for reporting errors by cell).

    Each code cell is cleaned, filtered and compiled on its own; a cell that fails any step is
    left out alone (reported as ``syntax_error`` or ``bad_cell``), so the module always compiles.
    """
    nb, bad = read_notebook(path)
    cells = nb.get("cells", [])
    code = sum(len(c.get("source") or "") for c in cells if c.get("cell_type") == "code")
    if code > MAX_CODE_BYTES:
        raise NotebookError(f"{path}: its code cells hold {code / 2**20:.1f} MB of text, more than the "
                            f"{MAX_CODE_BYTES // 2**20} MB the grader reads (outputs do not count)")
    out = [HEADER]
    line_map = LineMap()
    report: list[dict] = []
    warnings: list[str] = []
    futures: set[str] = set()
    dropped_names: set[str] = set()  # shared by the cells: a later cell may read an earlier cell's data
    for index, cell in enumerate(cells):
        if index in bad:
            warnings.append(f"{path}: cell {index} was left out: {bad[index]}")
            report.append({"line": len(out) + 1, "kind": "bad_cell", "text": bad[index], "cell": index,
                           "cell_line": 1})
            continue
        if cell.get("cell_type") != "code":
            continue
        lines = normalize_newlines(cell.get("source") or "").split("\n")
        out.append(f"# %% [cell {index}]")
        base = len(out)  # generated line number of the cell's line 1 is base + 1
        kept, dropped, problem = _convert_cell(lines, f"{path} cell {index}", dropped_names, futures)
        if problem is not None:
            kind, why = problem
            warnings.append(f"{path}: cell {index} {why}; it was skipped")
            dropped = [{"kind": kind, "cell_line": 1, "text": lines[0][:120].strip()}]
            kept = [""] * len(lines)
        report += [dict(d, line=base + d["cell_line"], cell=index) for d in dropped]
        for i, line in enumerate(kept):
            out.append(line)
            line_map.cells[base + i + 1] = (index, i + 1)
    if futures:
        out[0] = f"from __future__ import {', '.join(sorted(futures))}"
    source = "\n".join(out) + "\n"
    _check_compiles(source, path, line_map)
    report = [{k: d[k] for k in ("line", "kind", "text", "cell", "cell_line")} for d in report]
    return source, sorted(report, key=lambda d: d["line"]), warnings, line_map


def _convert_cell(lines: list[str], name: str, dropped_names: set[str], futures: set[str]):
    """One cell -> (kept lines, dropped, None) or (None, [], (kind, why)) when it must be left out."""
    kept, dropped = _clean_cell(lines)
    if kept is None:
        return [""] * len(lines), dropped, None
    names_before = set(dropped_names)
    try:
        text, filtered = filter_source("\n".join(kept), name, dropped_names)
        text = _hoist_futures(text, futures)
        compile(text, name, "exec", dont_inherit=True, flags=_future_flags(futures))
    except SourceError as exc:
        kind = "syntax_error" if exc.msg.startswith("SyntaxError") else "bad_cell"
        where = f"line {exc.line}: " if exc.line else ""
        why = "does not parse" if kind == "syntax_error" else "cannot be read"
        dropped_names.clear()
        dropped_names.update(names_before)
        return None, [], (kind, f"{why} ({where}{exc.msg.removeprefix('SyntaxError: ')})")
    except Exception as exc:  # SyntaxError, ValueError, RecursionError, MemoryError from compile()
        dropped_names.clear()
        dropped_names.update(names_before)
        line = f"line {exc.lineno}: " if isinstance(exc, SyntaxError) and exc.lineno else ""
        return None, [], ("bad_cell", f"cannot be compiled ({line}{type(exc).__name__}: {exc})")
    dropped += [{"kind": d["kind"], "cell_line": d["line"], "text": d["text"]} for d in filtered]
    return text.split("\n"), dropped, None


def _dedent(lines: list[str]) -> list[str]:
    """IPython runs a cell whose first line is indented (it removes that indent): do the same."""
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), None)
    if first is None or not first[:1].isspace():
        return lines
    indent = first[: len(first) - len(first.lstrip())]
    return [ln[len(indent):] if ln.startswith(indent) else ln for ln in lines]


def _hoist_futures(text: str, futures: set[str]) -> str:
    """Blank ``from __future__ import ...`` lines (they go to the module's first line)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = _FUTURE.match(line)
        if m:
            futures.update(n.strip() for n in m.group(1).strip("() ").split(",") if n.strip())
            lines[i] = ""
    return "\n".join(lines)


def _future_flags(futures: set[str]) -> int:
    flags = 0
    for name in futures:
        feature = getattr(__future__, name, None)
        flags |= getattr(feature, "compiler_flag", 0)
    return flags


def _check_compiles(source: str, path, line_map: LineMap) -> None:
    """The cells compiled one by one; the whole must too (a guard: say where if it ever does not)."""
    try:
        compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise NotebookError(f"{path}: the grader's conversion of this notebook does not compile "
                            f"({exc.msg}, {line_map.where(exc.lineno)}); please report this") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise NotebookError(f"{path}: cannot be compiled ({type(exc).__name__}: {exc})") from None


def module_stem(stem: str) -> str:
    """The module name a notebook (or a file run with ``%run``) is imported under."""
    stem = re.sub(r"\W", "_", stem)
    if not stem or stem[0].isdigit() or keyword.iskeyword(stem):
        stem = "nb_" + stem
    return stem


def _run_magic(line: str) -> str | None:
    """``%run other.ipynb`` at the top level -> ``from other import *`` (the submission's own file)."""
    m = _RUN.match(line)
    if not m:
        return None
    target = m.group(1).strip("\"'")
    stem = re.split(r"[\\/]", target)[-1].rsplit(".", 1)[0]
    return f"from {module_stem(stem)} import *" if stem else None


def _clean_cell(lines: list[str]) -> tuple[list[str] | None, list[dict]]:
    """Drop IPython/Colab lines of one cell; None for a cell dropped whole (a cell magic)."""
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].strip()[2:].split()[0] if lines[first].strip()[2:] else ""
        if magic not in PYTHON_CELL_MAGICS:
            return None, [{"kind": "cell_magic", "cell_line": first + 1, "text": lines[first].strip()[:120]}]
        dropped = [{"kind": "cell_magic", "cell_line": first + 1, "text": lines[first].strip()[:120]}]
        lines = lines[:first] + [""] + lines[first + 1:]
    else:
        dropped = []
    lines = [_run_magic(ln) or ln for ln in _dedent(lines)]
    text, ipy = strip_ipython_lines("\n".join(lines))
    lines = text.split("\n")
    dropped += [{"kind": d["kind"], "cell_line": d["line"], "text": d["text"]} for d in ipy]
    for i, line in enumerate(lines):
        if _COLAB.match(line):
            kind = "ipython" if "get_ipython" in line else "colab"
            dropped.append({"kind": kind, "cell_line": i + 1, "text": line.strip()[:120]})
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = indent + "pass" if indent else ""
    return lines, dropped
