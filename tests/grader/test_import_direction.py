"""Data flows one way (docs/architecture.md): no module imports a later room, wherever the import
is written (a function-level import is still an import), and no two modules import each other."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The rooms in the order data flows through them; a module may import its own room or an earlier one.
ROOMS = (
    ("package", ("grader", "grader.templates")),  # the version; the students' helper (imports nothing of ours)
    ("reference", ("reference",)),
    ("worker", ("grader.worker",)),
    ("sandbox", ("grader.tree", "grader.cgroup", "grader.sandbox", "grader.validate", "grader.replies",
                 "grader.integrity", "grader.session")),
    ("results", ("grader.results",)),
    ("checks", ("grader.checks", "grader.deliverables")),
    ("score", ("grader.scoring", "grader.plan", "grader.rubric")),
    ("report", ("grader.report",)),
    ("entry", ("grader.grade", "grader.cli", "grader.__main__", "grader.gradescope_package", "grader.autograder",
               "grader.batch", "grader.batch_job", "grader.gradebook", "grader.ci", "grader.similarity")),
)
#: Import loops tolerated: none (issue 15 opened the last ones); keep it empty.
KNOWN_LOOPS: set = set()


def room(module: str) -> int:
    best = None
    for i, (_, prefixes) in enumerate(ROOMS):
        for p in prefixes:
            if module == p or module.startswith(p + "."):
                if best is None or len(p) > best[1]:
                    best = (i, len(p))
    assert best is not None, f"{module} belongs to no room: add it to ROOMS (and docs/architecture.md)"
    return best[0]


def modules() -> dict[str, Path]:
    out = {}
    for package in ("grader", "reference"):
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imports(name, path, set(modules())) for name, path in modules().items()}


def test_no_module_imports_a_later_room():
    backwards = [f"{a} ({ROOMS[room(a)][0]}) imports {b} ({ROOMS[room(b)][0]})"
                 for a, targets in GRAPH.items() for b in targets
                 if b != "grader" and room(b) > room(a)]
    assert backwards == []


def test_the_worker_and_the_reference_stay_self_contained():
    for a, targets in GRAPH.items():
        if a.startswith("grader.worker"):
            assert all(t.startswith("grader.worker") for t in targets), (a, targets)
        if a.startswith("reference"):
            assert all(t.startswith("reference") for t in targets), (a, targets)


def test_no_import_loops_beyond_the_known_ones():
    loops = set()
    for a, targets in GRAPH.items():
        for b in targets:
            if _reaches(b, a):
                loops.add(frozenset({a, b}))
    assert {loop for loop in loops if not any(loop <= k or loop == k for k in KNOWN_LOOPS)} == set()


def _reaches(start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo += GRAPH.get(node, ())
    return False


def test_the_opened_loops_stay_open():
    assert not _reaches("grader.plan", "grader.rubric")  # the rubric builds plans; plans never read rubrics
    assert not _reaches("grader.checks.diagnose", "grader.checks.layers")  # layers list their diagnoses
    assert not any(t.startswith("grader.checks.registry") for a, ts in GRAPH.items()
                   if a.startswith("grader.checks.") and a != "grader.checks.registry" for t in ts)
