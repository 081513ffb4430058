"""`grade`: the command line. Thin: parses options, calls grader.grade.grade, renders the report."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape

EPILOG = """\
examples:
  grade submissions/sample                       grade one submission (PA2 checks)
  grade submissions/sample --data-dir ~/mnist    use MNIST from a folder of IDX .gz files
  grade path/to/PA1.ipynb --assignment pa1       a notebook (its folder is graded)
  grade submissions/sample --json report.json    also write the JSON report (- for stdout)
  grade submissions/sample --rubric my.yaml      checks and points from a rubric file

Rubrics: --assignment NAME reads NAME.yaml from the folder $GRADER_RUBRICS_DIR, else from
  {rubrics}
and --rubric FILE reads any rubric file instead. A rubric lists the graded layers and networks,
the points per check and optional sandbox limits and training budget; the limit flags
(--call-timeout, --timeout, --memory-mb) win over the rubric's limits.

MNIST is looked up in --data-dir, then $GRADER_DATA_DIR, then ~/.cache/grader/mnist.
Without it, only the training checks are skipped.

exit codes: 0 graded (whatever the score), 2 usage error (missing submission, unknown
assignment, invalid rubric), 3 grader error: the grader's own installation cannot run the
worker (its self-check failed: no score is given, fix the environment and grade again) or an
internal error. `grade --version` names the torch build and the sandbox this machine uses.
"""


def build_parser() -> argparse.ArgumentParser:
    from grader.plan import available_rubrics, rubrics_dir

    names = ", ".join(available_rubrics()) or "none found"
    p = argparse.ArgumentParser(
        prog="grade", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG.format(rubrics=rubrics_dir()),
        description="Grade a student's from-scratch MNIST networks: every layer's forward and backward, "
                    "every network's gradient and a brief training run, in a sandbox.")
    p.add_argument("submission", type=Path, nargs="?", help="a submission folder (Python files and/or notebooks)")
    p.add_argument("--assignment", "-a", default="pa2", metavar="NAME",
                   help=f"which assignment's checks to run: the rubric NAME.yaml (available: {names}; "
                        f"default: pa2)")
    p.add_argument("--rubric", metavar="FILE", type=Path,
                   help="a rubric file to grade with (overrides --assignment)")
    p.add_argument("--data-dir", type=Path, help="folder with the four MNIST IDX .gz files")
    p.add_argument("--json", metavar="FILE", help="write the JSON report to FILE ('-' for stdout)")
    p.add_argument("--seed", type=int, help="seed of the check inputs (default: derived from the submission)")
    p.add_argument("--isolation", default="auto", choices=["auto", "bwrap", "unshare", "none"],
                   help="sandbox mechanism (default: bubblewrap when available)")
    p.add_argument("--call-timeout", type=float, help="seconds one call into student code may take")
    p.add_argument("--timeout", type=float, help="seconds the whole submission may take")
    p.add_argument("--memory-mb", type=int, help="memory limit of the student's worker process")
    p.add_argument("--show-output", action="store_true", help="show what the student's code printed")
    p.add_argument("--quiet", "-q", action="store_true", help="no terminal report (use with --json)")
    p.add_argument("--version", action="store_true",
                   help="print the grader's version, Python, numpy, the torch build and the sandbox in use, and exit")
    p.add_argument("--download-mnist", action="store_true",
                   help="download MNIST (needs a network) into --data-dir or the cache dir, verify its "
                        "checksums, and exit")
    p.add_argument("--write-helper", metavar="DIR", type=Path,
                   help="copy write_results.py (writes the results/ files the grader reads) into DIR, and exit")
    return p


def limit_overrides(args) -> dict:
    """The limit flags that were given (field of grader.sandbox.Limits -> value): they win over
    the rubric's limits, which win over the defaults."""
    return {k: v for k, v in {"call_timeout": args.call_timeout, "total_timeout": args.timeout,
                              "memory_mb": args.memory_mb}.items() if v is not None}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    err = Console(stderr=True)
    if args.version:
        return version(args.isolation, err)
    if args.download_mnist:
        return download(args.data_dir, err)
    if args.write_helper is not None:
        from grader.templates import copy_writer

        print(copy_writer(args.write_helper))
        return 0
    if args.submission is None:
        parser.error("give a submission folder to grade (or --download-mnist)")
    from grader.grade import GradeError, grade
    from grader.plan import get_plan
    from grader.report import json_report, terminal
    from grader.rubric import load_rubric
    from grader.sandbox import GraderEnvironmentError

    try:
        plan = load_rubric(args.rubric) if args.rubric is not None else get_plan(args.assignment)
        options = dict(assignment=plan, data_dir=args.data_dir, seed=args.seed, isolation=args.isolation,
                       limit_overrides=limit_overrides(args))
        if args.quiet or args.json == "-":
            report = grade(args.submission, **options)
        else:
            with err.status("grading…") as status:
                report = grade(args.submission, progress=lambda msg: status.update(f"grading: {msg}…"), **options)
    except GraderEnvironmentError as exc:
        err.print(f"[red]grader error:[/] {escape(str(exc))}", soft_wrap=True)
        return 3
    except (GradeError, ValueError) as exc:  # RubricError is a ValueError
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)  # rubric messages hold [a, b] and line breaks
        return 2
    except KeyboardInterrupt:
        err.print("[red]interrupted[/]")
        return 130
    except Exception as exc:  # a grader bug: say so plainly, keep the traceback for the bug report
        import traceback

        err.print(f"[red]internal error in the grader (please report it):[/] {type(exc).__name__}: {exc}")
        err.print(traceback.format_exc(), markup=False, highlight=False)
        return 3
    if args.json == "-":
        sys.stdout.write(json_report.dumps(report) + "\n")
    elif args.json:
        Path(args.json).write_text(json_report.dumps(report) + "\n")
    if not args.quiet and args.json != "-":
        terminal.render(report, Console(), show_output=args.show_output)
    return 0


def version(isolation: str, err: Console) -> int:
    """--version: what grades here. Runs the worker's self-check, so a broken install shows now."""
    import grader
    from grader import sandbox as sb

    print(f"grader {grader.__version__}")
    try:
        with tempfile.TemporaryDirectory(prefix="grader-version-") as empty, \
                sb.Sandbox(empty, isolation=isolation) as box:
            env = box.environment
            print(f"python {env['python']} ({box.python})")
            print(f"numpy {env['numpy']}")
            print(f"torch {env['torch']} ({sb.torch_build(env)})")
            print(f"sandbox {box.isolation}: {box.notes[-2] if len(box.notes) > 1 else ''}")
            print(f"limits: cgroups {'yes' if box.cgroup_supported() else 'no'}, address space "
                  f"{box.address_space_mb} MB (libraries reserve {env['reserved_mb']} MB)")
    except (sb.GraderEnvironmentError, sb.SandboxUnavailable) as exc:
        err.print(f"[red]grader error:[/] {escape(str(exc))}", soft_wrap=True)
        return 3
    return 0


def download(data_dir, err: Console) -> int:
    """--download-mnist: fetch the four files with checksum verification."""
    from reference import data

    try:
        dest = data.download_mnist(data_dir)
    except (data.DataError, OSError) as exc:
        err.print(f"[red]error:[/] {exc}")
        return 2
    err.print(f"MNIST is ready in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
