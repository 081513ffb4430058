"""The worker package's imports: self-contained, and one way (no loop, at any depth of a function)."""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from grader.worker import main

WORKER = Path(main.__file__).resolve().parent


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(sibling modules, absolute top-level packages) imported anywhere in the file."""
    siblings, absolute = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                siblings.add(node.module.split(".")[0])
            else:
                siblings.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            absolute.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            absolute.update(a.name.split(".")[0] for a in node.names)
    return siblings, absolute


GRAPH = {p.stem: imports(p) for p in sorted(WORKER.glob("*.py")) if p.stem != "__init__"}


def test_worker_modules_import_each_other_one_way():
    graph = {name: sib for name, (sib, _) in GRAPH.items()}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import loop inside grader/worker: {' -> '.join(exc.args[1])}")
    assert order.index("channel") < order.index("ops") < order.index("main")
    assert "main" not in set().union(*graph.values())  # nothing reaches back into the request loop


def test_the_worker_never_imports_the_grader_or_the_reference():
    for name, (_, absolute) in GRAPH.items():
        assert not absolute & {"grader", "reference"}, name


def test_op_table_refuses_an_op_served_twice():
    assert set(main.OPS) >= {"ping", "load", "net_new"}
    with pytest.raises(ValueError, match="worker ops defined twice: ping"):
        main.op_table(main.BUILTIN_OPS, {"ping": None})
