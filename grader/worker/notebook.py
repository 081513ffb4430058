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
- a cell that does not parse even so (half-written code) is dropped whole, with a warning.

The cells are joined with a ``# %% [cell i]`` marker line before each, so the generated
module's line numbers map back to (cell, line): :class:`LineMap`.
"""

from __future__ import annotations

import ast
import re
import warnings as _warnings
from dataclasses import dataclass, field

from .source_filter import SourceError, filter_source, strip_ipython_lines

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


def read_notebook(path):
    """The notebook as nbformat v4, or NotebookError naming the file."""
    import nbformat

    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            return nbformat.read(str(path), as_version=4)
    except nbformat.reader.NotJSONError as exc:
        raise NotebookError(f"{path}: not a valid notebook (the file is not JSON: {exc})") from None
    except nbformat.NBFormatError as exc:
        raise NotebookError(f"{path}: unsupported notebook format ({exc}); save it again with "
                            f"Jupyter or Colab (nbformat 4)") from None
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path}: not a valid notebook (not UTF-8 text: {exc})") from None
    except Exception as exc:  # jsonschema ValidationError, KeyError on malformed JSON, ...
        raise NotebookError(f"{path}: not a valid notebook ({type(exc).__name__}: {exc})") from None


def notebook_to_source(path) -> tuple[str, list[dict], list[str]]:
    """Read a notebook and return (module source, dropped, warnings).

    ``dropped`` entries are ``{"line", "kind", "text", "cell", "cell_line"}``: ``line`` in the
    generated module, ``cell`` the 0-based index among all cells, ``cell_line`` 1-based.
    """
    source, dropped, warnings, _ = convert(path)
    return source, dropped, warnings


def convert(path) -> tuple[str, list[dict], list[str], LineMap]:
    """:func:`notebook_to_source` plus the line map (for reporting errors by cell)."""
    nb = read_notebook(path)
    out: list[str] = []
    line_map = LineMap()
    pre_dropped: list[dict] = []
    warnings: list[str] = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        text = cell.get("source", "")
        if isinstance(text, list):
            text = "".join(text)
        lines = text.split("\n")
        out.append(f"# %% [cell {index}]")
        base = len(out)  # generated line number of the cell's line 1 is base + 1
        kept, dropped = _clean_cell(lines)
        for d in dropped:
            d.update(line=base + d["cell_line"], cell=index)
        pre_dropped += dropped
        if kept is not None:
            try:
                ast.parse("\n".join(kept))
            except SyntaxError as exc:
                warnings.append(f"{path}: cell {index} does not parse (line {exc.lineno}: {exc.msg}); it was skipped")
                pre_dropped = [d for d in pre_dropped if d.get("cell") != index]
                pre_dropped.append({"line": base + 1, "kind": "syntax_error", "text": lines[0][:120].strip(),
                                    "cell": index, "cell_line": 1})
                kept = None
        if kept is None:
            kept = [""] * len(lines)
        for i, line in enumerate(kept):
            out.append(line)
            line_map.cells[base + i + 1] = (index, i + 1)
    source = "\n".join(out) + "\n"
    try:
        source, dropped = filter_source(source, path)
    except SourceError as exc:  # cells parse alone but not together (e.g. an unclosed block)
        raise NotebookError(f"{path}: {exc.msg} ({line_map.where(exc.line)})") from None
    for d in dropped:
        d["cell"], d["cell_line"] = line_map.cells.get(d["line"], (None, None))
    report = [{k: d[k] for k in ("line", "kind", "text", "cell", "cell_line")} for d in pre_dropped + dropped]
    return source, sorted(report, key=lambda d: d["line"]), warnings, line_map


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
