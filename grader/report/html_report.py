"""The student's feedback page: one self-contained ``index.html`` (inline CSS, figures embedded
as base64 PNG, no scripts from elsewhere, no network fetches).

It shows what the terminal report shows (the checks per group, "what to fix", totals) plus
pictures where they say more than numbers (see grader/report/figures.py). All text that came from
a submission is escaped with ``html.escape``; hidden checks appear only as "N hidden checks,
M points".
"""

from __future__ import annotations

import base64
import html
from itertools import groupby
from pathlib import Path

from grader.report import figures as fig
from grader.report.student_view import cases_text, problems, student_view
from grader.results import CheckResult, Report, group_of

MARK = {"passed": "✔", "failed": "✘", "error": "!", "skipped": "–"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px}
header{background:#fff;border-radius:10px;padding:18px 22px;box-shadow:0 1px 3px #0002;margin-bottom:18px}
h1{font-size:1.5em;margin:0 0 6px} h2{font-size:1.15em;margin:22px 0 8px}
.meta{color:#5a6272;font-size:.9em}
.score{font-size:1.6em;font-weight:700;margin-top:10px}
.counts span{margin-right:14px;font-weight:600}
table{border-collapse:collapse;width:100%;table-layout:fixed;background:#fff;border-radius:10px;overflow:hidden;box-shadow:0 1px 3px #0002}
th,td{text-align:left;padding:7px 12px;border-bottom:1px solid #e7e9ee;vertical-align:top;font-size:.93em}
th{background:#eef0f4;font-weight:600}
td.id{font-family:ui-monospace,"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
td.pts{text-align:right;white-space:nowrap}
.passed{color:#17803d}.failed{color:#c0262d}.error{color:#a21caf}.skipped{color:#a16207}
.tag{font-size:.75em;background:#fde68a;color:#713f12;border-radius:4px;padding:1px 5px;margin-left:6px}
section.fix{background:#fff7f7;border:1px solid #f3c4c6;border-radius:10px;padding:4px 18px 12px}
section.fix pre,details pre{white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid #eee;border-radius:6px;padding:10px;font-size:.85em}
figure{background:#fff;border-radius:10px;box-shadow:0 1px 3px #0002;padding:12px;margin:0 16px 16px 0;vertical-align:top;display:inline-block;max-width:100%}
figure img{max-width:100%;height:auto;display:block} figcaption{color:#5a6272;font-size:.88em;margin-top:6px}
.note{color:#5a6272;font-style:italic}
.hidden-row td{color:#5a6272;font-style:italic}
.warn{color:#92400e}
"""


def _e(value) -> str:
    """Submission-made text, escaped for HTML (lone surrogates shown as \\udcxx, never an encode error)."""
    return html.escape(str(value).encode("utf-8", "backslashreplace").decode("utf-8"), quote=True)


def _img(png: bytes, alt: str) -> str:
    return (f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">')


def _points(c: CheckResult) -> str:
    return f"{c.score:g}/{c.max_score:g}" if c.max_score else ""


def _row(c: CheckResult) -> str:
    first = c.message.splitlines()[0] if c.message else ""
    cases = cases_text(c)
    extra = '<span class="tag">extra credit</span>' if c.extra else ""
    result = _e(first) + (f' <span class="note">({_e(cases)})</span>' if cases else "")
    return (f'<tr><td class="id">{_e(c.id)}{extra}</td><td class="{c.status}">{MARK[c.status]}</td>'
            f'<td class="pts">{_points(c)}</td><td class="{"" if c.ok else c.status}">{result}</td></tr>')


def _table(title: str, rows: list[str]) -> str:
    return (f"<h2>{_e(title)}</h2><table><colgroup><col style=\"width:32%\"><col style=\"width:4%\">"
            f"<col style=\"width:8%\"><col></colgroup><thead><tr><th>check</th><th></th><th>points</th><th>result</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def mnist_test_images(data_dir=None) -> fig.ImageLoader:
    """A loader of MNIST test images by index (None when the data or an index is not available)."""
    def load(indices: list[int]):
        from reference import data

        try:
            x, _ = data.load_mnist("test", data_dir=data_dir, indices=indices)
        except (data.DataError, IndexError, OSError, ValueError):
            return None
        return x[:, 0]
    return load


def _figures(checks: list[CheckResult], images: fig.ImageLoader | None) -> list[str]:
    out = []
    for c in checks:
        if not isinstance(c.figures, dict):
            continue
        try:
            drawn = fig.draw(c.id.split(".")[-1], c.figures, images)
        except fig.FigureError as exc:
            out.append(f'<p class="note">{_e(c.id)}: no picture ({_e(exc)}).</p>')
            continue
        if drawn:
            caption, png = drawn
            out.append(f"<figure>{_img(png, c.id + ': ' + caption)}"
                       f"<figcaption><b>{_e(c.id)}</b>: {_e(caption)}</figcaption></figure>")
    return out


def _accuracy_notes(checks: list[CheckResult]) -> list[str]:
    out = []
    for c in checks:
        if c.id.endswith(".accuracy") and isinstance(c.figures, dict) and "measured" in c.figures:
            r, m = c.figures.get("reported"), c.figures.get("measured")
            try:
                text = f"reported {float(r):.2%}, measured by the grader {float(m):.2%}" if r is not None \
                    else f"measured by the grader {float(m):.2%}"
            except (TypeError, ValueError):
                continue
            out.append(f"<li><b>{_e(c.id)}</b>: {_e(text)}</li>")
    return out


def render(report: Report, images: fig.ImageLoader | None = None) -> str:
    """The page as a string. ``images`` loads MNIST test images by index for the top-3 grid and
    the CAM overlays; without it those pictures fall back to what needs no images."""
    view = student_view(report)
    t = view.totals
    parts = [f"<header><h1>Feedback for {_e(report.submission)}</h1>",
             f'<div class="meta">rubric {_e(report.rubric)} · seed {report.seed} · graded in '
             f"{report.seconds:.1f} s{' · grader ' + _e(report.grader_version) if report.grader_version else ''}</div>",
             f'<div class="score" id="score">{_e(t.line)}</div>']
    counts = {s: sum(c.status == s for c in view.checks) for s in MARK}
    parts.append('<div class="counts">' + "".join(f'<span class="{s}">{n} {s}</span>'
                                                   for s, n in counts.items() if n) + "</div></header>")
    fix = problems(view.checks)
    if fix:
        parts.append('<section class="fix" id="what-to-fix"><h2>What to fix</h2>'
                     + "".join(f'<h3 class="{c.status}">{_e(c.id)}</h3><pre>{_e(c.message)}</pre>' for c in fix)
                     + "</section>")
    for group, items in groupby(view.checks, key=lambda c: group_of(c.id)):
        parts.append(_table(group, [_row(c) for c in items]))
    if view.hidden:
        h = view.hidden
        parts.append(_table("hidden checks", [
            f'<tr class="hidden-row"><td class="id">hidden</td><td class="{"passed" if h.passed == h.count else "failed"}">'
            f'{MARK["passed" if h.passed == h.count else "failed"]}</td><td class="pts">{h.score:g}/{h.max_score:g}</td>'
            f"<td>{_e(h.line)}: they count in your score; their details are not shown.</td></tr>"]))
    pictures = _figures(view.checks, images)
    notes = _accuracy_notes(view.checks)
    if pictures or notes:
        parts.append('<h2>Figures</h2><div id="figures">' + "".join(pictures) + "</div>")
        if notes:
            parts.append("<ul>" + "".join(notes) + "</ul>")
    if report.warnings:
        parts.append("<h2>Warnings</h2><ul>" + "".join(f'<li class="warn">{_e(w)}</li>' for w in report.warnings)
                     + "</ul>")
    body = "".join(parts)
    # CSP: nothing may be fetched and no script runs; images only from data: URLs, styles only inline
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Feedback: {_e(report.submission)}</title><style>{CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def write(report: Report, directory, images: fig.ImageLoader | None = None) -> Path:
    """Write ``index.html`` into ``directory`` (created if needed); returns the file's path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    page = out / "index.html"
    page.write_text(render(report, images), encoding="utf-8")
    return page
