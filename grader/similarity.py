"""Similarity across a batch's submissions, with copydetect (winnowed fingerprints, as MOSS).

Every submission's code (its .py files and its notebooks' code cells, read as data: nothing is
run) is gathered into a folder of its own, code every student was given (``--boilerplate``) is
left out, and each pair of submissions is compared file by file. Pairs above the threshold are
written as CSV (with the matching line ranges) and as copydetect's HTML report.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from grader import tree
from grader.gradebook import atomic_write

MAX_FILE = 5 * 1024 * 1024


class SimilarityError(Exception):
    """The similarity report cannot be made (bad boilerplate folder): shown without a traceback."""


@dataclass
class Pair:
    """Two submissions whose code matches: the most similar of their file pairs."""

    a: str
    b: str
    similarity: float      # the larger of the two shares of matching code
    file_a: str
    file_b: str
    share_a: float
    share_b: float
    tokens: int            # overlapping tokens
    lines_a: str           # matching regions, e.g. "12-30; 41-44"
    lines_b: str


def _notebook_code(path: str) -> str | None:
    """A notebook's code cells joined (JSON read as data; magics and shell lines left out)."""
    try:
        data = json.loads(Path(path).read_bytes()[:MAX_FILE * 10])
        cells = data.get("cells", []) if isinstance(data, dict) else []
        out = []
        for cell in cells:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                src = cell.get("source", "")
                src = "".join(src) if isinstance(src, list) else str(src)
                out.append("\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("!", "%"))))
        return "\n\n".join(out)
    except (OSError, ValueError, TypeError):
        return None


def gather(sid: str, root: Path, dest: Path) -> int:
    """Copy one submission's code into ``dest/<sid>/`` as flat .py files; how many were written."""
    folder = dest / sid
    folder.mkdir(parents=True)
    n = 0
    for entry in tree.walk(root, prune=("__pycache__", ".ipynb_checkpoints")):
        if entry.kind != "file" or not entry.rel.endswith((".py", ".ipynb")):
            continue
        try:
            if Path(entry.path).stat().st_size > MAX_FILE * (10 if entry.rel.endswith(".ipynb") else 1):
                continue
            code = Path(entry.path).read_text(encoding="utf-8", errors="replace") if entry.rel.endswith(".py") \
                else _notebook_code(entry.path)
        except OSError:
            continue
        if code:
            flat = re.sub(r"[^A-Za-z0-9_.-]", "_", entry.rel.replace("/", "__"))
            (folder / (flat if flat.endswith(".py") else flat + ".py")).write_text(code, encoding="utf-8")
            n += 1
    return n


def _lines(code: str, slices) -> str:
    """Character slices (copydetect's [starts, ends]) as 1-based line ranges."""
    starts = [0] + [i + 1 for i, ch in enumerate(code) if ch == "\n"]

    def line_of(pos: int) -> int:
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    ranges = []
    for s, e in zip(slices[0], slices[1]):
        a, b = line_of(int(s)), line_of(max(int(s), int(e) - 1))
        ranges.append(f"{a}-{b}" if b > a else str(a))
    return "; ".join(ranges)


def run(submissions: list[tuple[str, Path]], out: Path, boilerplate: Path | None = None,
        threshold: float = 0.5) -> list[Pair]:
    """Compare every pair of submissions; write ``out/similarity.csv`` and ``out/similarity.html``."""
    from copydetect import CopyDetector

    if boilerplate is not None and not Path(boilerplate).is_dir():
        raise SimilarityError(f"--boilerplate {boilerplate}: no such folder (give the folder of the code every "
                              f"student was given, e.g. the textbook's common/)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grader-similarity-") as tmp:
        code, plate = Path(tmp) / "code", Path(tmp) / "boilerplate"
        code.mkdir()
        for sid, root in submissions:
            gather(sid, root, code)
        dirs = [str(code / sid) for sid, _ in submissions]
        plate_dirs = []
        if boilerplate is not None:
            gather("given", Path(boilerplate), plate)
            plate_dirs = [str(plate / "given")]
        detector = CopyDetector(test_dirs=dirs, ref_dirs=dirs, boilerplate_dirs=plate_dirs, extensions=["py"],
                                display_t=threshold, ignore_leaf=True, autoopen=False, silent=True,
                                out_file=str(out / "similarity.html"))
        with warnings.catch_warnings():  # copydetect's own use of a deprecated importlib API
            warnings.simplefilter("ignore", DeprecationWarning)
            detector.run()
            pairs = _pairs(detector, code, threshold)
            if pairs:
                detector.generate_html_report()
            else:
                atomic_write(out / "similarity.html", f"<html><body><p>No pair of submissions is more than "
                                                      f"{threshold:.0%} similar.</p></body></html>\n")
    _write_csv(pairs, out / "similarity.csv")
    return pairs


def _pairs(detector, code: Path, threshold: float) -> list[Pair]:
    """The most similar file pair of every two submissions above ``threshold``, most similar first."""
    best: dict[tuple[str, str], Pair] = {}
    for i, fa in enumerate(detector.test_files):
        for j, fb in enumerate(detector.ref_files):
            sa, sb = (float(x) for x in detector.similarity_matrix[i, j])
            if sa < 0 or max(sa, sb) <= threshold:  # -1: not compared (same submission)
                continue
            ida, idb = Path(fa).relative_to(code).parts[0], Path(fb).relative_to(code).parts[0]
            if ida == idb:
                continue
            if ida > idb:
                continue  # each unordered pair once (the matrix holds both directions)
            key = (fa, fb) if (fa, fb) in detector.slice_matrix else (fb, fa)
            slices = detector.slice_matrix.get(key)
            if slices is None:
                continue
            sl_a, sl_b = (slices[0], slices[1]) if key == (fa, fb) else (slices[1], slices[0])
            pair = Pair(ida, idb, round(max(sa, sb), 3), Path(fa).name.replace("__", "/"),
                        Path(fb).name.replace("__", "/"), round(sa, 3), round(sb, 3),
                        int(detector.token_overlap_matrix[i, j]),
                        _lines(detector.file_data[fa].raw_code, sl_a), _lines(detector.file_data[fb].raw_code, sl_b))
            if (ida, idb) not in best or pair.similarity > best[(ida, idb)].similarity:
                best[(ida, idb)] = pair
    return sorted(best.values(), key=lambda p: (-p.similarity, p.a, p.b))


def _write_csv(pairs: list[Pair], path: Path) -> None:
    import io

    buf = io.StringIO()
    fields = ["a", "b", "similarity", "file_a", "file_b", "share_a", "share_b", "tokens", "lines_a", "lines_b"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for p in pairs:
        writer.writerow({f: getattr(p, f) for f in fields})
    atomic_write(path, buf.getvalue())
