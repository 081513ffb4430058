"""Tries to forge a report, overwrite the grader's files and outputs, and delete files outside
its copy; writes inside its own copy (allowed). Prints what worked."""
import os
import shutil


def attempt(what, action):
    try:
        action()
        return f"WROTE {what}"
    except OSError as exc:
        return f"refused {what}: {type(exc).__name__}"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


FAKE = '{"score": 100, "max_score": 100, "checks": []}'


class Vandal:
    for what, action in [
        ("fake report", lambda: write("{{OUTSIDE}}/report.json", FAKE)),
        ("new file outside", lambda: write("{{OUTSIDE}}/results.json", FAKE)),
        ("delete outside", lambda: os.remove("{{OUTSIDE}}/sentinel.txt")),
        ("original submission", lambda: write("{{SUBMISSION}}/hostile.py", "# replaced\n")),
        ("delete original submission", lambda: shutil.rmtree("{{SUBMISSION}}/common")),
        ("grader code", lambda: write("{{GRADER_ROOT}}/grader/plan.py", "POINTS = 1000\n")),
        ("rubric", lambda: write("{{GRADER_ROOT}}/rubrics/pa2.yaml", "points: {}\n")),
        ("system", lambda: write("/etc/grader-was-here", "x")),
        ("own copy", lambda: write("results.json", FAKE)),
    ]:
        print(attempt(what, action))
