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
  grade submissions/sample --gradescope results.json --junit junit.xml --html feedback/
                                                 the student-facing reports (see "Report formats")
  grade gradescope-package --assignment pa2 -o autograder.zip
                                                 the zip to upload to a Gradescope programming assignment

Rubrics: --assignment NAME reads NAME.yaml from the folder $GRADER_RUBRICS_DIR, else from
  {rubrics}
and --rubric FILE reads any rubric file instead. A rubric lists the graded layers and networks,
the points per check and optional sandbox limits and training budget; the limit flags
(--call-timeout, --timeout, --memory-mb) win over the rubric's limits.

Deliverables (when the rubric has a `deliverables:` section; README, "Deliverables"): per network
  results/<network>/weights.npz, confusion.csv, top3.json, loss.csv (or TensorBoard events),
  metrics.json, and results/cam/<network>.npy + results/cam/sample.json; checked for consistency,
  and against the handed-in weights run on the 10000 test images.

MNIST is looked up in --data-dir, then $GRADER_DATA_DIR, then ~/.cache/grader/mnist.
Without it, only the training checks are skipped.

exit codes: 0 graded (whatever the score), 2 usage error (missing submission, unknown
assignment, invalid rubric), 3 grader error: the grader's own installation cannot run the
worker (its self-check failed: no score is given, fix the environment and grade again) or an
internal error. `grade --version` names the torch build and the sandbox this machine uses.
"""


def build_parser() -> argparse.ArgumentParser:
    from grader.rubric import available_rubrics, rubrics_dir

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
    p.add_argument("--gradescope", metavar="FILE", help="write Gradescope's results.json to FILE (with --batch: OUT/<id>/results.json, any value)")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report to FILE (one testcase per check; with --batch: OUT/<id>/junit.xml)")
    p.add_argument("--html", metavar="DIR", help="write the student's feedback page DIR/index.html (with --batch: OUT/<id>/html/)")
    p.add_argument("--show-hidden", action="store_true",
                   help="list hidden checks in the terminal report too (for instructors)")
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
    from grader import batch, ci

    batch.add_arguments(p)
    ci.add_arguments(p)
    return p


def limit_overrides(args) -> dict:
    """The limit flags that were given (field of grader.sandbox.Limits -> value): they win over
    the rubric's limits, which win over the defaults."""
    return {k: v for k, v in {"call_timeout": args.call_timeout, "total_timeout": args.timeout,
                              "memory_mb": args.memory_mb}.items() if v is not None}


def package_main(argv: list[str]) -> int:
    """``grade gradescope-package``: build the autograder zip for Gradescope."""
    from grader import gradescope_package
    from grader.rubric import RubricError

    p = argparse.ArgumentParser(prog="grade gradescope-package",
                                description="Build the autograder zip a Gradescope programming assignment takes.")
    p.add_argument("--assignment", "-a", default="pa2", metavar="NAME", help="the rubric NAME.yaml (default: pa2)")
    p.add_argument("--rubric", metavar="FILE", type=Path, help="a rubric file (overrides --assignment)")
    p.add_argument("--output", "-o", type=Path, default=Path("autograder.zip"), help="the zip to write")
    args = p.parse_args(argv)
    err = Console(stderr=True)
    try:
        rubric = args.rubric or gradescope_package.rubric_file(args.assignment)
        out = gradescope_package.build(rubric, args.output)
    except (gradescope_package.PackageError, RubricError, OSError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return 2
    err.print(f"wrote {escape(str(out))}: upload it as the autograder of a Gradescope programming assignment "
              "(base image Ubuntu 24.04)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["gradescope-package"]:
        return package_main(argv[1:])
    if argv[:1] == ["ci-template"]:
        from grader import ci

        return ci.template_main(argv[1:])
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
    from grader import batch, ci

    if args.submission is None and args.batch is None:
        parser.error("give a submission folder to grade (or --batch DIR, --write-helper DIR or --download-mnist)")
    if args.submission is not None and batch.looks_like_batch(args.submission):
        err.print(batch.batch_hint(args.submission), markup=False, highlight=False, soft_wrap=True)
        return 2
    from grader.grade import GradeError, grade
    from grader.report import outputs, terminal
    from grader.rubric import get_plan, load_rubric
    from grader.sandbox import GraderEnvironmentError

    try:
        plan = load_rubric(args.rubric) if args.rubric is not None else get_plan(args.assignment)
        if args.batch is not None:
            return batch.main(args, plan, limit_overrides(args), err)
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
    if args.ci:
        report = ci.visible(report)  # hidden checks never reach CI output, in any format
    try:
        outputs.write(report, json=args.json, gradescope_file=args.gradescope, junit_file=args.junit,
                      html_dir=args.html, data_dir=args.data_dir)
    except OSError as exc:
        err.print(f"[red]error:[/] could not write a report: {escape(str(exc))}", soft_wrap=True)
        return 2
    if not args.quiet and args.json != "-":
        terminal.render(report, Console(), show_output=args.show_output, show_hidden=args.show_hidden and not args.ci)
    if args.ci:
        return ci.finish(report, plan, args, err)
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
