"""The rich terminal report: one table per group of checks, then what to fix, then totals.

It is student-facing: hidden checks appear only as one line, "N hidden checks, M points" (no ids,
messages or figures); extra credit is shown beside the score. The JSON report has everything.

Everything that comes from a submission (file names, messages, warnings, output) is printed as
plain ``Text``, never parsed as rich markup: a file named ``PA2 [/] copy.py`` is just a name.
"""

from __future__ import annotations

from itertools import groupby

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.report.student_view import problems as fix_list, student_view
from grader.results import Report, group_of


def _clean(value) -> str:
    """``value`` as text any terminal can take: lone surrogates (from bytes that were not UTF-8) escaped."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _text(value, style: str | None = None) -> Text:
    """Submission-made text as plain ``Text``: printed literally, never parsed as markup."""
    return Text(_clean(value), style=style)


STYLE = {"passed": "green", "failed": "red", "error": "magenta", "skipped": "yellow"}
MARK = {"passed": "✔", "failed": "✘", "error": "!", "skipped": "–"}


def _points(c) -> str:
    """The points cell: earned/max, the cases a partial-credit check passed, '+' for extra credit."""
    if not c.max_score:
        return ""
    text = f"{c.score:g}/{c.max_score:g}"
    cases = c.figures.get("cases")
    if c.partial and isinstance(cases, dict) and c.status != "passed":
        text += f" ({cases.get('passed')}/{cases.get('total')} cases)"
    return ("+" if c.extra else "") + text


def render_files(report: Report, console: Console, shown: int = 3) -> None:
    """What was imported, which statements failed, and which top-level statements were left out."""
    if not report.files:
        return
    table = Table(title="files", title_justify="left", expand=True)
    table.add_column("file", no_wrap=True)
    table.add_column("", width=2)
    table.add_column("not run (top-level code the grader leaves out, statements that failed)")
    for f in report.files:
        ok = f.get("status") == "ok"
        cell = Text()
        for s in f.get("failed", []):  # all of them: each may cost a check
            cell.append(_clean(f"{_place(s.get('cell'), s.get('cell_line') or s['line'])}: {s['text'][:50]}: "
                               f"not run: {s['error']}" + (f" ({s['resolution']})" if s.get("resolution") else "")
                               + "\n"), style="red")
        dropped = f.get("dropped", [])
        where = [f"{_place(d.get('cell'), d.get('cell_line') or d['line'])}"
                 f" ({d['kind']}): {d['text'].strip().splitlines()[0][:50] if d['text'].strip() else ''}" for d in dropped[:shown]]
        if len(dropped) > shown:
            where.append(f"... and {len(dropped) - shown} more")
        cell.append(_clean("\n".join(where)))
        clean = ok and not f.get("failed")
        table.add_row(_text(f.get("path")), Text("✔" if clean else "✘", style="green" if clean else "red"),
                      cell if ok else _text(f.get("error"), style="red"))
    console.print(table)


def _place(cell, line) -> str:
    return f"{'cell ' + str(cell) + ' ' if cell is not None else ''}line {line}"


def render(report: Report, console: Console, show_output: bool = False, show_hidden: bool = False) -> None:
    """Print the report for a person: a student fixing code or, with ``show_hidden``, an instructor
    reviewing one (hidden checks listed like the others; otherwise only their count and points)."""
    view = student_view(report)
    checks = report.checks if show_hidden else view.checks
    box = report.sandbox
    console.print(Panel.fit(
        f"[bold]{escape(_clean(report.submission))}[/]   rubric {escape(_clean(report.rubric))}   seed {report.seed}\n"
        f"sandbox: {escape(_clean(box.get('isolation')))}"
        + (f" ({escape(_clean('; '.join(box.get('notes', []))))})" if box.get("notes") else "")
        + (f"   worker restarts: {box['restarts']}" if box.get("restarts") else ""),
        title="grade"))
    render_files(report, console)
    for group, items in groupby(checks, key=lambda c: group_of(c.id)):
        table = Table(title=group, title_justify="left", show_lines=False, expand=True)
        table.add_column("check", no_wrap=True)
        table.add_column("", width=2)
        table.add_column("points", justify="right", no_wrap=True)
        table.add_column("result", overflow="fold")  # a file path too long for the column wraps, never "…"
        for c in items:
            first = c.message.splitlines()[0] if c.message else ""
            table.add_row(_text(c.id), Text(MARK[c.status], style=STYLE[c.status]), _points(c),
                          _text(first, style=None if c.status == "passed" else STYLE[c.status]))
        console.print(table)
    if view.hidden and not show_hidden:
        console.print(Text(view.hidden.line + " (their details are not shown)", style="dim"))
    problems = fix_list(checks)
    if problems:
        console.print(Panel(Group(*[Text.assemble((f"{c.id}\n", "bold " + STYLE[c.status]), _clean(c.message) + "\n")
                                    for c in problems]), title="what to fix", title_align="left"))
    for w in report.warnings:
        console.print(Text.assemble(("warning:", "yellow"), " ", _clean(w)))
    if report.output and show_output:
        console.print(Panel(_text(report.output), title="your program's output (truncated)", title_align="left"))
    elif report.output:
        console.print(f"[dim]your code printed {len(report.output)} characters (shown with --show-output)[/]")
    counts = {s: sum(c.status == s for c in checks) for s in MARK}
    console.print(f"[bold]{view.totals.line}[/]   "
                  + "  ".join(f"[{STYLE[s]}]{n} {s}[/]" for s, n in counts.items() if n)
                  + f"   ({report.seconds:.1f} s)")
