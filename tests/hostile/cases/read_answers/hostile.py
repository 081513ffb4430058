"""Tries to read the grader's rubrics, reference code and golden outputs, and the original
submission folder, from paths a determined student could find out. Prints what it got."""
import glob
import os


def attempt(path):
    try:
        if os.path.isdir(path):
            names = os.listdir(path)
            return f"LEAKED {path}: {len(names)} entries" if names else f"empty {path}"
        with open(path, "rb") as f:
            return f"LEAKED {path}: {len(f.read())} bytes"
    except OSError as exc:
        return f"hidden {path}: {type(exc).__name__}"


class Spy:
    root = "{{GRADER_ROOT}}"
    for target in [root + "/rubrics", root + "/reference/layers.py", root + "/grader/checks/compare.py",
                   root + "/reference", "{{SUBMISSION}}", "{{OUTSIDE}}/sentinel.txt",
                   os.path.expanduser("~/.cache/grader")] + glob.glob(root + "/**/golden*", recursive=True):
        print(attempt(target))
