"""Keep a student module's definitions, drop the top-level code that trains, plots or downloads.

Students submit scripts, not libraries: next to ``class SimpleConvNet`` sits
``(x_train, t_train), (x_test, t_test) = load_mnist(...)`` and ``trainer.train()``. The grader
needs the definitions without running the rest, so each module is filtered before import.

What is kept at the top level (anything inside a kept ``def``/``class`` is kept verbatim):

- ``import``/``from ... import`` and ``try`` blocks that contain imports (their bodies and
  handlers filtered by these same rules), e.g. ``try: import torch / except ImportError: ...``;
- ``def``/``async def``/``class`` with their decorators, and the module docstring;
- assignments (plain, annotated, augmented) whose value is *cheap* (see below);
- ``sys.path.append/insert/extend(...)`` calls (DLFS code does ``sys.path.append(os.pardir)``
  to import its siblings);
- ``if`` statements whose test is cheap (``if torch.cuda.is_available(): ...``), with their
  bodies filtered; ``if __name__ == "__main__":`` is always dropped.

Everything else at the top level is dropped: expression statements (prints, plots, training
calls, ``drive.mount(...)``), loops, ``with`` blocks, ``del``/``assert``/``raise``, and
assignments from expensive calls (``net = SimpleConvNet()``, ``data = load_mnist()``).
A kept assignment or ``if`` that reads a name only a dropped statement defined is dropped too
(kind ``"depends_on_dropped"``), so the module still imports; a kept *function* that reads
such a name fails only if it is called.

A *cheap* expression is built from literals, names, attributes, subscripts, containers,
operators, f-strings, lambdas and comprehensions of cheap parts, and calls to
:data:`CHEAP_CALLS` (builtins that build values, ``collections``/``typing`` factories,
``os.path.*``, ``pathlib.Path``, ``torch.device``/``torch.cuda.is_available``, NumPy dtypes,
``np.array`` of literals, ``math.*``) or to a few value methods (:data:`CHEAP_METHODS`, e.g.
``Path(__file__).resolve()``). Layer constructors (``nn.Conv2d(...)``, ``Affine(W, b)``) are
*not* cheap: they allocate and draw random numbers, and the grader builds networks itself.

Line numbers are preserved: dropped statements become blank lines, or ``pass`` where a line
is shared with a kept statement or a block would otherwise be empty, so a traceback from a
kept function points at the student's own line.
"""

from __future__ import annotations

import ast
import re

#: Dotted callee names (as written in the source) whose calls are cheap and side-effect free.
CHEAP_CALLS = frozenset("""
dict list tuple set frozenset int float str bool bytes complex range len min max abs round sorted
reversed zip enumerate slice object getattr hasattr isinstance issubclass type repr format divmod
pow sum any all map filter iter chr ord
namedtuple collections.namedtuple OrderedDict collections.OrderedDict defaultdict
collections.defaultdict deque collections.deque Counter collections.Counter
NamedTuple typing.NamedTuple TypeVar typing.TypeVar field dataclasses.field
Path pathlib.Path PurePath pathlib.PurePath
os.getcwd os.getenv os.environ.get os.sep.join os.path.join os.path.dirname os.path.abspath
os.path.basename os.path.exists os.path.isdir os.path.isfile os.path.realpath
os.path.expanduser os.path.normpath os.path.split os.path.splitext
torch.device torch.cuda.is_available torch.backends.mps.is_available torch.get_default_dtype
torch.cuda.device_count
np.float64 np.float32 np.float16 np.int64 np.int32 np.int8 np.uint8 np.dtype np.array
np.asarray np.sqrt np.exp np.log
numpy.float64 numpy.float32 numpy.int64 numpy.int32 numpy.uint8 numpy.dtype numpy.array
numpy.asarray numpy.sqrt numpy.exp numpy.log
math.sqrt math.exp math.log math.ceil math.floor math.pow
""".split())

#: Methods that are cheap when called on a cheap receiver (``Path(__file__).resolve()``).
CHEAP_METHODS = frozenset("""
resolve absolute joinpath with_name with_suffix format join split rsplit strip lstrip rstrip
replace lower upper startswith endswith get keys values items copy
""".split())

#: Callees whose expression statements are kept: they make sibling modules importable.
KEPT_CALLS = frozenset({"sys.path.append", "sys.path.insert", "sys.path.extend"})


class SourceError(ValueError):
    """A source file could not be decoded or parsed; says where and why."""

    def __init__(self, filename, line: int | None, col: int | None, message: str):
        self.filename, self.line, self.col, self.msg = str(filename), line, col, message
        where = f"{filename}" + (f", line {line}" if line else "") + (f", column {col}" if col else "")
        super().__init__(f"{message} ({where})")


# ----------------------------------------------------------------------------- decoding

_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def decode_source(data: bytes, filename="<source>") -> tuple[str, list[str]]:
    """Bytes -> text: UTF-8, else the PEP 263 coding cookie, else latin-1 (with a warning).

    A coding cookie in the text is rewritten to ``utf-8`` (same line), because the filtered text
    is written back as UTF-8.
    """
    warnings: list[str] = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
        for line in data.splitlines()[:2]:
            m = _COOKIE.match(line)
            if m:
                try:
                    text = data.decode(m.group(1).decode("ascii"))
                except (LookupError, UnicodeDecodeError):
                    text = None
                break
        if text is None:
            text = data.decode("latin-1")
            warnings.append(f"{filename}: not valid UTF-8 and no usable coding cookie; read as latin-1 "
                            f"(non-ASCII characters in strings and comments may look wrong)")
    return _neutralize_cookie(normalize_newlines(text)), warnings


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR become LF: the filter counts lines by LF, as the tokenizer counts any of them."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _neutralize_cookie(text: str) -> str:
    lines = text.split("\n", 2)
    for i in range(min(2, len(lines))):
        m = _COOKIE.match(lines[i].encode("utf-8", "surrogatepass"))
        if m:
            lines[i] = lines[i].replace(m.group(1).decode("ascii"), "utf-8", 1)
    return "\n".join(lines)


def read_source(path) -> tuple[str, list[str]]:
    """Read a .py file as text (see :func:`decode_source`)."""
    with open(path, "rb") as f:
        return decode_source(f.read(), path)


# ----------------------------------------------------------------------------- IPython lines

_SHELL = re.compile(r"^\s*(!|[\w.,\s\[\]()]+=\s*!)")
_MAGIC = re.compile(r"^\s*%")


def strip_ipython_lines(source: str) -> tuple[str, list[dict]]:
    """Blank ``!shell`` and ``%magic`` lines (IPython syntax Python cannot parse)."""
    lines = source.split("\n")
    dropped = []
    for i, line in enumerate(lines):
        kind = "shell" if _SHELL.match(line) else "magic" if _MAGIC.match(line) else None
        if kind:
            dropped.append({"line": i + 1, "kind": kind, "text": _short(line)})
            indent = line[: len(line) - len(line.lstrip())]
            lines[i] = indent + "pass" if indent else ""
    return "\n".join(lines), dropped


# ----------------------------------------------------------------------------- filtering

def filter_source(source: str, filename="<submission>",
                  dropped_names: set[str] | None = None) -> tuple[str, list[dict]]:
    """Drop top-level code that does work; keep definitions. Returns (kept_source, dropped).

    ``dropped`` lists ``{"line", "kind", "text"}`` per dropped statement (1-based line of its
    first line). Raises :class:`SourceError` (line, column, message) if the source does not
    parse, even after blanking IPython ``!``/``%`` lines, or is too deeply nested to filter.
    ``dropped_names`` (updated in place) carries the names dropped statements bound from one
    notebook cell to the next.
    """
    pre_dropped: list[dict] = []
    try:
        tree = ast.parse(source, filename=str(filename))
    except SyntaxError as exc:
        stripped, pre_dropped = strip_ipython_lines(source)
        if not pre_dropped:
            raise SourceError(filename, exc.lineno, exc.offset, f"SyntaxError: {exc.msg}") from None
        try:
            tree = ast.parse(stripped, filename=str(filename))
        except SyntaxError as exc2:
            raise SourceError(filename, exc2.lineno, exc2.offset, f"SyntaxError: {exc2.msg}") from None
        source = stripped
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        raise SourceError(filename, None, None, f"cannot parse: {exc}") from None
    f = _Filter(source, dropped_names)
    try:
        f.block(tree.body, top=True)
    except RecursionError:  # a 5,000-term expression parses but is too deep for the filter's walk
        raise SourceError(filename, None, None, "cannot parse: an expression is nested too deeply") from None
    return f.render(), sorted(pre_dropped + f.dropped, key=lambda d: d["line"])


class _Filter:
    def __init__(self, source: str, dropped_names: set[str] | None = None):
        # ast columns are UTF-8 byte offsets, so edit bytes (student comments are often Korean)
        self.lines = [ln.encode("utf-8", "surrogatepass") for ln in source.split("\n")]
        self.dropped: list[dict] = []
        self.edits: list[tuple[ast.stmt, bool]] = []  # (statement, replace it with ``pass``)
        self.dropped_names: set[str] = set() if dropped_names is None else dropped_names

    # -- decisions

    def block(self, body: list[ast.stmt], top: bool = False) -> int:
        """Filter a statement list (recording edits); returns how many statements were kept."""
        kept = 0
        for i, node in enumerate(body):
            kind = self.classify(node)
            if kind is None:
                kept += 1
                self.dropped_names -= _bound_names(node)
            else:
                # inside a block a ``pass`` keeps it non-empty; at the top level only where a line
                # is shared with a kept statement
                self.drop(node, kind, needs_pass=not top or self._shares_line(node, body, i))
        return kept

    def classify(self, node: ast.stmt) -> str | None:
        """None to keep the statement, else the kind of dropped statement."""
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return None
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            if node.value is None:  # ``x: int``
                return None
            if not _cheap(node.value):
                return "assignment"
            return "depends_on_dropped" if self._reads_dropped(node.value) else None
        if isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return None  # docstring
            if isinstance(node.value, ast.Call) and _dotted(node.value.func) in KEPT_CALLS:
                return "depends_on_dropped" if self._reads_dropped(node.value) else None
            return "expression"
        if isinstance(node, ast.If):
            return self._classify_if(node)
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            if not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(node)):
                return "try"
            for body in [node.body, *[h.body for h in node.handlers], node.orelse, node.finalbody]:
                if body:
                    self.block(body)
            return None
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            return "loop"
        if isinstance(node, (ast.With, ast.AsyncWith)):
            return "with"
        return "statement"

    def _classify_if(self, node: ast.If) -> str | None:
        """Keep an if/elif/else chain whose tests are all cheap, with filtered bodies."""
        tests, bodies = [], []
        branch: ast.If | None = node
        while branch is not None:
            tests.append(branch.test)
            bodies.append(branch.body)
            orelse, branch = branch.orelse, None
            if len(orelse) == 1 and isinstance(orelse[0], ast.If) and self._is_elif(orelse[0]):
                branch = orelse[0]
            elif orelse:
                bodies.append(orelse)
        if any(_is_main_guard(t) for t in tests):
            return "main_guard"
        if not all(_cheap(t) for t in tests):
            return "if"
        if any(self._reads_dropped(t) for t in tests):
            return "depends_on_dropped"
        kept = sum(self.block(body) for body in bodies)
        return None if kept else "if"

    def _is_elif(self, node: ast.If) -> bool:
        return self.lines[node.lineno - 1][node.col_offset:].startswith(b"elif")

    def _reads_dropped(self, expr: ast.AST) -> bool:
        return bool(_loaded_names(expr) & self.dropped_names)

    def drop(self, node: ast.stmt, kind: str, needs_pass: bool) -> None:
        first, last = _first_line(node), node.end_lineno
        # a compound statement dropped after its body was filtered: its inner edits are moot
        self.edits = [(n, p) for n, p in self.edits if not (first <= n.lineno <= last)]
        self.dropped = [d for d in self.dropped if not (first <= d["line"] <= last)]
        self.dropped_names |= _bound_names(node)
        line = self.lines[first - 1]
        text = line[_first_col(node, self.lines): node.end_col_offset if last == first else None]
        text = text.decode("utf-8", "replace")
        self.dropped.append({"line": first, "kind": kind, "text": _short(text)})
        self.edits.append((node, needs_pass))

    def _shares_line(self, node: ast.stmt, body: list[ast.stmt], i: int) -> bool:
        first = _first_line(node)
        if self.lines[first - 1][: node.col_offset].strip():
            return True  # ``a = 1; plt.show()``
        return i + 1 < len(body) and _first_line(body[i + 1]) == node.end_lineno

    # -- rendering

    def render(self) -> str:
        lines = self.lines
        for node, needs_pass in sorted(self.edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
            l1, c1 = _first_line(node), _first_col(node, lines)
            l2, c2 = node.end_lineno, node.end_col_offset
            head, tail = lines[l1 - 1][:c1], lines[l2 - 1][c2:]
            filler = b"pass" if needs_pass else b""
            if l1 == l2:
                # keep what follows on the line (``; b = 2`` or a comment) in its column
                rest = b" " * max(1, c2 - c1 - len(filler)) + tail if tail.strip() else b""
                lines[l1 - 1] = (head + filler + rest) if (filler or rest) else b""
            else:
                lines[l1 - 1] = head + filler if filler else b""
                for j in range(l1, l2 - 1):
                    lines[j] = b""
                rest = tail.strip()
                if rest.startswith(b";"):
                    rest = rest[1:].strip()
                indent = re.match(rb"[ \t]*", head).group(0)
                lines[l2 - 1] = indent + rest if rest else b""
            if not lines[l1 - 1].strip():
                lines[l1 - 1] = b""
        return "\n".join(ln.decode("utf-8", "surrogatepass") for ln in lines)


# ----------------------------------------------------------------------------- helpers

def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno] + [d.lineno for d in decorators])


def _first_col(node: ast.stmt, lines) -> int:
    decorators = getattr(node, "decorator_list", None) or []
    if decorators and min(d.lineno for d in decorators) < node.lineno:
        line = lines[_first_line(node) - 1]
        return line.index(b"@")
    return node.col_offset


def _short(text: str, limit: int = 120) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and any(
        isinstance(n, ast.Name) and n.id == "__name__" for n in [test.left, *test.comparators]))


def _cheap(node: ast.AST | None) -> bool:
    """True if evaluating the expression does no real work (see the module docstring)."""
    if node is None:
        return True
    if isinstance(node, (ast.Constant, ast.Name)):
        return True
    if isinstance(node, ast.Lambda):
        a = node.args
        return all(_cheap(d) for d in a.defaults + [d for d in a.kw_defaults if d is not None])
    if isinstance(node, ast.Call):
        name = _dotted(node.func)
        if name in CHEAP_CALLS or (name and name.startswith("os.path.")):
            ok = True
        elif isinstance(node.func, ast.Attribute) and node.func.attr in CHEAP_METHODS:
            ok = _cheap(node.func.value)
        else:
            return False
        return ok and all(_cheap(a) for a in node.args) and all(_cheap(k.value) for k in node.keywords)
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        gens = [p for g in node.generators for p in [g.iter, *g.ifs]]
        return all(_cheap(e) for e in elts + gens)
    if isinstance(node, (ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Set, ast.Dict,
                         ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.JoinedStr,
                         ast.FormattedValue, ast.Starred)):
        return all(_cheap(child) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))
    return False


def _loaded_names(expr: ast.AST) -> set[str]:
    """Global names an expression reads when evaluated (not inside lambda bodies)."""
    names: set[str] = set()
    local: set[str] = set()

    def visit(node):
        if isinstance(node, ast.Lambda):
            for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                visit(d)
            return
        if isinstance(node, ast.comprehension):
            local.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(expr)
    return names - local


def _bound_names(node: ast.stmt) -> set[str]:
    """Top-level names a statement binds."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    targets: list[ast.AST] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
        targets = [node.target]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
    names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)) \
            or type(node).__name__ == "TryStar":
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                names |= _bound_names(child)
        for h in getattr(node, "handlers", []):
            for child in h.body:
                names |= _bound_names(child)
    names |= {n.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr) for n in [n.target]}
    return names
