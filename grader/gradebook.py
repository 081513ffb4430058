"""The batch's gradebook on disk: one folder per student, written so a killed batch can resume.

``OUT/<id>/report.json`` is the grader's report, ``OUT/<id>/result.json`` the batch's record of
the submission (status, seconds, why, and the fingerprint of what was graded); both are written to
a temporary file and renamed, ``result.json`` last, so a record on disk is always complete.
``OUT/gradebook.csv`` is rebuilt from the records after every result. A record whose fingerprint
still matches (same submission content, rubric, options and grader version) is not graded again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader import tree
from grader.results import group_of

STATUSES = ("graded", "error", "timeout")
#: The fixed columns of gradebook.csv; one column per group of checks follows ``seconds``.
COLUMNS = ("id", "score", "max_score", "extra", "status", "seconds")


@dataclass
class Record:
    """What the batch knows about one submission once it is finished."""

    id: str
    status: str              # graded / error / timeout
    seconds: float
    fingerprint: str
    reason: str = ""         # why it errored or timed out ("" when graded)
    final: bool = True       # False: a grader-side failure, graded again by the next run
    sandbox: dict[str, Any] = field(default_factory=dict)  # isolation and notes, for the summary


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers (and a resumed batch) see all of it or none of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def content_digest(root: Path, chunk_mb: int = 50) -> str:
    """SHA-256 of a submission's files (names and bytes; bounded walk, no symlinks followed)."""
    h = hashlib.sha256()
    for entry in tree.walk(root, prune=("__pycache__",)):
        h.update(f"{entry.kind}:{entry.rel}\0".encode())
        if entry.kind != "file":
            continue
        try:
            with open(entry.path, "rb") as f:
                h.update(f.read(chunk_mb * 1024 * 1024))  # larger files are not copied into the sandbox anyway
        except OSError as exc:
            h.update(f"unreadable:{exc.errno}".encode())
    return h.hexdigest()


def fingerprint(submission_digest: str, rubric_text: str, options: dict[str, Any], version: str) -> str:
    """What decides a grade: the submission, the rubric, the grading options and the grader version."""
    h = hashlib.sha256()
    for part in (submission_digest, hashlib.sha256(rubric_text.encode()).hexdigest(),
                 json.dumps(options, sort_keys=True, default=str), version):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


class Gradebook:
    """The OUT folder of a batch: per-student records and reports, and gradebook.csv."""

    def __init__(self, out: Path, ids: list[str], groups: list[str]):
        self.out = Path(out)
        self.ids = ids          # every submission of the batch, in gradebook order
        self.groups = groups    # the groups of checks that get a points column
        self.out.mkdir(parents=True, exist_ok=True)

    def record(self, sid: str) -> Record | None:
        """The finished record of a submission, or None (never graded, or a half-written one)."""
        try:
            data = json.loads((self.out / sid / "result.json").read_text(encoding="utf-8"))
            return Record(**data)
        except (OSError, ValueError, TypeError):
            return None

    def report(self, sid: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.out / sid / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def is_done(self, sid: str, fp: str) -> bool:
        """True when the submission was finished with this fingerprint: it is not graded again."""
        rec = self.record(sid)
        return rec is not None and rec.final and rec.fingerprint == fp and (
            rec.status != "graded" or self.report(sid) is not None)

    def write(self, record: Record, report_json: str | None) -> None:
        """Store one finished submission: its report (if any), then its record, then the CSV."""
        folder = self.out / record.id
        if report_json is not None:
            atomic_write(folder / "report.json", report_json)
        else:
            try:
                (folder / "report.json").unlink()  # a stale report of an earlier grading would mislead
            except FileNotFoundError:
                pass
        atomic_write(folder / "result.json", json.dumps(asdict(record), indent=2, sort_keys=True) + "\n")
        self.write_csv()

    def rows(self) -> list[dict[str, Any]]:
        """One row per finished submission, in the batch's order."""
        rows = []
        for sid in self.ids:
            rec = self.record(sid)
            if rec is not None:
                rows.append(row(rec, self.report(sid) if rec.status == "graded" else None, self.groups))
        return rows

    def write_csv(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=[*COLUMNS, *self.groups, "first_fix"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        atomic_write(self.out / "gradebook.csv", buf.getvalue())


def _num(value: float) -> str:
    return f"{value:g}"


def row(rec: Record, report: dict[str, Any] | None, groups: list[str]) -> dict[str, Any]:
    """The gradebook row of one submission (empty points when it was not graded)."""
    out: dict[str, Any] = {"id": rec.id, "status": rec.status, "seconds": f"{rec.seconds:.1f}",
                           "score": "", "max_score": "", "extra": ""}
    out.update({g: "" for g in groups})
    if report is None:
        out["first_fix"] = rec.reason
        return out
    checks = report.get("checks", [])
    out["score"] = _num(report.get("score", 0.0))
    out["max_score"] = _num(report.get("max_score", 0.0))
    out["extra"] = _num(report.get("extra_score", 0.0)) if "extra_score" in report else ""
    sums: dict[str, float] = {g: 0.0 for g in groups}
    for c in checks:
        g = group_of(c.get("id", ""))
        if g in sums and not c.get("extra"):
            sums[g] += float(c.get("score", 0.0))
    out.update({g: _num(v) for g, v in sums.items()})
    out["first_fix"] = first_fix(checks)
    return out


def first_fix(checks: list[dict[str, Any]]) -> str:
    """The first check that failed or errored, with the first line of its message."""
    for c in checks:
        if c.get("status") in ("failed", "error"):
            first = (c.get("message") or "").strip().splitlines()
            return f"{c.get('id')}: {first[0][:200] if first else c.get('status')}"
    return ""


@dataclass
class Summary:
    """The end-of-batch facts: score distribution, checks failed most, submissions that did not grade."""

    counts: dict[str, int]
    scores: list[float]
    max_score: float
    failed_checks: list[tuple[str, int]]
    problems: list[tuple[str, str, str]]  # (id, status, reason)


def summarize(book: Gradebook) -> Summary:
    counts: Counter = Counter()
    scores, max_score, failing, problems = [], 0.0, Counter(), []
    for sid in book.ids:
        rec = book.record(sid)
        if rec is None:
            counts["unfinished"] += 1
            continue
        counts[rec.status] += 1
        report = book.report(sid) if rec.status == "graded" else None
        if report is None:
            problems.append((sid, rec.status, rec.reason))
            continue
        scores.append(float(report.get("score", 0.0)))
        max_score = max(max_score, float(report.get("max_score", 0.0)))
        failing.update(c["id"] for c in report.get("checks", []) if c.get("status") in ("failed", "error"))
    return Summary(dict(counts), scores, max_score, failing.most_common(10), problems)


def histogram(scores: list[float], max_score: float, bins: int = 5) -> list[tuple[str, int]]:
    """Scores counted in ``bins`` equal bands of the maximum (the last band includes full marks)."""
    if not scores or max_score <= 0:
        return []
    out = []
    for i in range(bins):
        lo, hi = max_score * i / bins, max_score * (i + 1) / bins
        n = sum(lo <= s < hi or (i == bins - 1 and s >= hi) for s in scores)
        out.append((f"{lo:g}–{hi:g}", n))
    return out
