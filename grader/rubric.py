"""Rubric files: ``rubrics/<name>.yaml`` found (:func:`get_plan`), read, validated against
``schemas/rubric.schema.json`` (whose check-kind enums come from :mod:`grader.checks.registry`),
and turned into a :class:`~grader.plan.Plan`.

Everything wrong with a rubric is a :class:`RubricError` whose message names the file, the line,
the place in the rubric (``networks[2]``, ``limits.call_timeout``) and what to write instead;
several problems are reported together, one per line, in file order. The instructor never sees
a traceback for a mistake in a rubric.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

import grader
from grader.checks import registry
from grader.deliverables import settings as deliverable_settings
from grader.checks.training import TrainingBudget
from grader.plan import DEFAULT_POINTS, NETWORK_CHECKS, Plan
from grader.sandbox import Limits
from grader.scoring import FLAGS, Rule

#: Where ``get_plan`` looks for ``<name>.yaml`` when $GRADER_RUBRICS_DIR is not set.
RUBRICS_ENV = "GRADER_RUBRICS_DIR"

EXAMPLE = "name: pa2, layers: [affine, relu, convolution, softmax], networks: [two_layer_cnn]"
#: What a missing required key could look like (shown in the fix).
REQUIRED_EXAMPLES = {"name": "name: pa2", "layers": "layers: [affine, relu, softmax]",
                     "networks": "networks: [three_layer_nn]  (or networks: [] for layers only)"}
#: What the entries of a list are called in messages.
NOUNS = {"layers": "layer", "optional_layers": "layer", "networks": "network", "network_checks": "network check"}
SECTIONS = {"points": "points per check kind", "limits": "sandbox limit", "training": "training budget setting"}
#: What a points entry for a check id or pattern looks like (shown in fixes).
ID_EXAMPLE = '"layers.convolution.*": {points: 2, partial: true}'


class RubricError(ValueError):
    """A rubric file that cannot be used; the message says where and how to fix it."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class Problem:
    line: int | None      # 1-based
    place: str            # e.g. "networks[2]", "" for the whole file
    message: str          # what is wrong; what to write instead
    column: int | None = None  # 1-based, for YAML syntax errors

    def render(self, shown: str) -> str:
        where = (shown + (f", line {self.line}" if self.line else "") + (f", column {self.column}" if self.column else "")
                 + (f" ({self.place})" if self.place else ""))
        return f"{where}: {self.message}"


def schema() -> dict[str, Any]:
    """The rubric schema, its check-kind enums filled from the registry (the file holds the same
    lists for readers; tests/grader/test_rubric.py keeps them equal)."""
    data = json.loads(resources.files("grader").joinpath("schemas/rubric.schema.json").read_text())
    data["$defs"]["network_check"]["enum"] = [k.name for k in registry.network_kinds()]
    data["properties"]["points"]["properties"] = {name: {"$ref": "#/$defs/weight"} for name in registry.kind_names()}
    data["properties"]["deliverables"] = deliverable_settings.SCHEMA
    return data


def rubrics_dir() -> Path:
    """$GRADER_RUBRICS_DIR, else the ``rubrics/`` folder of the grader's checkout."""
    env = os.environ.get(RUBRICS_ENV)
    if env:
        return Path(env)
    return Path(grader.__file__).resolve().parents[1] / "rubrics"


def available_rubrics(directory: Path | None = None) -> list[str]:
    """The assignment names that have a rubric file (``<name>.yaml``) in the rubrics folder."""
    directory = rubrics_dir() if directory is None else directory
    try:
        return sorted(p.stem for p in directory.glob("*.yaml") if p.is_file())
    except OSError:
        return []


def get_plan(name: str) -> Plan:
    """The plan of an assignment from ``<rubrics dir>/<name>.yaml``, or a RubricError listing
    the rubrics that exist."""
    directory = rubrics_dir()
    names = available_rubrics(directory)
    if name not in names:  # also refuses names with a path in them: those are for --rubric FILE
        where = f"${RUBRICS_ENV}={directory}" if os.environ.get(RUBRICS_ENV) else str(directory)
        if not directory.is_dir():
            raise RubricError(f"unknown assignment {name!r}: the rubrics folder {where} does not exist; set "
                              f"${RUBRICS_ENV} to the folder of your rubrics or give one with --rubric FILE")
        if names:
            raise RubricError(f"unknown assignment {name!r}: there is no {name}.yaml in {where}; "
                              f"choose one of: {', '.join(names)} (or give a rubric file with --rubric FILE)")
        raise RubricError(f"unknown assignment {name!r}: {where} has no rubric files (*.yaml); set "
                          f"${RUBRICS_ENV} to the folder of your rubrics or give one with --rubric FILE")
    return load_rubric(directory / f"{name}.yaml")


def load_rubric(path: str | os.PathLike) -> Plan:
    """Read and validate one rubric file; a :class:`RubricError` explains any problem."""
    path = Path(path)
    shown = _shown(path)
    node, data = _read(path, shown)
    problems = _problems(node, data)
    if problems:
        problems.sort(key=lambda p: (p.line or 0, p.place))
        raise RubricError("\n".join(p.render(shown) for p in problems), problems)
    return _plan(node, data, str(path))


# ---------------------------------------------------------------- reading

def _shown(path: Path) -> str:
    """The path as the user best recognises it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) if path.is_absolute() else str(path)
    except (ValueError, OSError):
        return str(path)


def _fail(shown: str, line: int | None, message: str, column: int | None = None) -> RubricError:
    problem = Problem(line, "", message, column)
    return RubricError(problem.render(shown), [problem])


def _read(path: Path, shown: str) -> tuple[yaml.Node, Any]:
    """The composed YAML (for line numbers) and the plain data of one rubric file."""
    if not path.exists():
        raise _fail(shown, None, "no such rubric file; give the path of a .yaml rubric "
                                 "(see rubrics/pa2.yaml for the format)")
    if path.is_dir():
        raise _fail(shown, None, "is a folder, not a rubric file; give a .yaml file inside it")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _fail(shown, None, f"cannot be read ({exc.strerror or exc}); check its permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise _fail(shown, line, f"is not UTF-8 text (byte {raw[exc.start]:#04x}); save the rubric as UTF-8") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(shown, exc) from None
    except yaml.YAMLError as exc:
        raise _fail(shown, None, f"YAML error: {exc}; check the file's syntax") from None
    finally:
        loader.dispose()
    if node is None or data is None:
        raise _fail(shown, 1, f"the file is empty (or only comments); a rubric needs at least "
                              f"name, layers and networks, e.g. {EXAMPLE}")
    if not isinstance(data, dict):
        what = "a list" if isinstance(data, list) else f"a single value ({_text(node, data)})"
        fix = ("remove the '- ' in front of the keys" if isinstance(data, list)
               else "write one 'key: value' per line")
        raise _fail(shown, node.start_mark.line + 1,
                    f"the rubric is {what}, but it must be a mapping of 'key: value' lines; {fix}, "
                    f"e.g. {EXAMPLE}")
    return node, data


def _yaml_error(shown: str, exc: yaml.MarkedYAMLError) -> RubricError:
    """A YAML syntax error with PyYAML's line and column and a hint for the usual causes."""
    problem, context = exc.problem or "", exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    if "could not find expected ':'" in problem and exc.context_mark is not None:
        mark = exc.context_mark  # the line that lacks its ':' is where the key started
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    where = ""
    if context and exc.context_mark is not None and exc.context_mark is not mark:
        where = f" ({context} that starts on line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
    elif context:
        where = f" ({context})"
    return _fail(shown, line, f"YAML syntax error: {problem}{where}; {_yaml_hint(problem, context)}", column)


def _yaml_hint(problem: str, context: str) -> str:
    if "\\t" in problem or "\t" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return ("put each 'key: value' on its own line, with a space after the ':' "
                "(quote a value that contains ': ')")
    if "flow sequence" in context or "']'" in problem:
        return "close the list with ']' and separate its items with ', ', e.g. layers: [affine, relu]"
    if "flow mapping" in context or "'}'" in problem:
        return "close the mapping with '}' and separate its entries with ', '"
    if "could not find expected ':'" in problem:
        return "write this line as 'key: value', or as '- item' inside a list"
    if "another document" in problem or "single document" in context:
        return "a rubric is one YAML document: remove the second '---'"
    if "quoted scalar" in context:
        return "close the quote"
    if "block" in problem or "block" in context or "indent" in problem:
        return ("the indentation is off: keys of one section line up, indented under their section's key "
                "with spaces")
    return "check the indentation (spaces), brackets and quotes of this line and the one before"


# ---------------------------------------------------------------- validating

def _problems(root: yaml.Node, data: dict) -> list[Problem]:
    problems = _duplicate_keys(root, ())
    validator = jsonschema.Draft202012Validator(schema())
    places = set()
    for err in validator.iter_errors(data):
        for problem in _explain(root, err):
            if problem.place not in places:  # one problem per place: "1.5 is not whole" says enough
                places.add(problem.place)
                problems.append(problem)
    if not problems:
        problems += _unknown_ids(root, data)
        both = set(data.get("layers", ())) & set(data.get("optional_layers", ()))
        for i, key in enumerate(data.get("optional_layers", ())):
            if key in both:
                problems.append(_at(root, ("optional_layers", i),
                                    f"{key!r} is in both layers and optional_layers; keep it in one of them "
                                    f"(optional layers are checked when present, for no points)"))
    return problems


def _unknown_ids(root: yaml.Node, data: dict) -> list[Problem]:
    """A points entry for a check id or pattern must match a check this rubric runs."""
    ids = registry.check_ids(tuple(data["layers"]) + tuple(data.get("optional_layers", ())), data["networks"],
                             tuple(data.get("network_checks", NETWORK_CHECKS)))
    out = []
    for key in (data.get("points") or {}):
        rule = Rule(str(key))
        if rule.is_kind or any(rule.matches(i) for i in ids):
            continue
        examples = difflib.get_close_matches(str(key), ids, n=1, cutoff=0.6)
        hint = f" (did you mean {examples[0]!r}?)" if examples else ""
        out.append(_at(root, ("points", key),
                       f"{str(key)!r} matches no check of this rubric{hint}; check ids are "
                       f"layers.<layer>.<forward|backward|gradcheck> for its layers and <network>.<check> for its "
                       f"networks and network checks ('*' stands for any text inside one part), e.g. {ID_EXAMPLE}",
                       key=True))
    return out


def _explain(root: yaml.Node, err: jsonschema.ValidationError) -> list[Problem]:
    """One schema error as problems an instructor can act on (several for unknown keys)."""
    path = tuple(err.absolute_path)
    value, kind = err.instance, err.validator
    name = str(path[-1]) if path else ""
    section = str(path[0]) if path else ""
    if kind in ("anyOf", "oneOf") and err.context:
        # a points entry is a number or a mapping: explain it against the form it was written in
        branch = 1 if isinstance(value, dict) else 0
        chosen = [e for e in err.context if e.relative_schema_path and e.relative_schema_path[0] == branch]
        return [p for e in chosen for p in _explain(root, e)][:1] or [
            _at(root, path, f"{err.message}; see rubrics/pa2.yaml for the format")]
    if kind == "enum":
        noun = NOUNS.get(section, "value")
        options = [str(o) for o in err.validator_value]
        return [_at(root, path, f"{_text_at(root, path, value)} is not a known {noun}{_did_you_mean(value, options)}; "
                                f"use one of: {', '.join(options)}")]
    if kind == "additionalProperties":
        allowed = list(err.schema.get("properties", {}))
        what = f"{SECTIONS[section]}s" if path and section in SECTIONS else "keys"
        also = ""
        if path == ("points",):
            what = "check kinds"
            also = f" (or give a check id or pattern, e.g. {ID_EXAMPLE})"
        elif section == "points":
            what = "fields of a points entry"
        out = []
        for extra in (k for k in value if k not in allowed and not _is_id_key(k, err.schema)):
            where = f"in {'.'.join(map(str, path))}" if path else "in a rubric"
            out.append(_at(root, path + (extra,), f"unknown key {extra!r} {where}{_did_you_mean(extra, allowed)}; "
                                                  f"the {what} are: {', '.join(allowed)}{also}", key=True))
        return out
    if kind == "minProperties":
        return [_at(root, path, f"the points entry for {name!r} is empty; give points and/or "
                                f"{', '.join(FLAGS)}, e.g. {name}: {{points: 2, partial: true}}")]
    if kind == "required":
        out = []
        for missing in (k for k in err.validator_value if k not in value):
            out.append(_at(root, path, f"the rubric has no {missing!r}; add a line like: "
                                       f"{REQUIRED_EXAMPLES.get(missing, missing + ': ...')}"))
        return out
    if kind == "type":
        return [_at(root, path, _type_message(root, path, value, err.validator_value, name))]
    if kind in ("minimum", "exclusiveMinimum", "maximum"):
        bound = err.validator_value
        need = {"minimum": f"at least {bound:g}", "exclusiveMinimum": f"more than {bound:g}",
                "maximum": f"at most {bound:g}"}[kind]
        return [_at(root, path, f"{_text_at(root, path, value)} is out of range: {name} must be {need}; "
                                f"e.g. {name}: {_example(section, name)}")]
    if kind == "uniqueItems":
        seen, out = set(), []
        for i, item in enumerate(value):
            marker = json.dumps(item, sort_keys=True, default=str)
            if marker in seen:
                out.append(_at(root, path + (i,), f"{_text_at(root, path + (i,), item)} is listed twice in "
                                                  f"{name}; list it once"))
            seen.add(marker)
        return out
    if kind == "pattern" and path == ("name",):
        return [_at(root, path, f"{_text_at(root, path, value)} is not a usable name; use letters, digits, "
                                f"'_', '-' and '.' only, e.g. name: pa2")]
    return [_at(root, path, f"{err.message}; see rubrics/pa2.yaml for the format")]


def _is_id_key(key: Any, section_schema: dict) -> bool:
    return any(re.search(p, str(key)) for p in section_schema.get("patternProperties", {}))


def _type_message(root, path, value, expected, name: str) -> str:
    shown = _text_at(root, path, value)
    expected = expected if isinstance(expected, str) else expected[0]
    got = _kind(value)
    if isinstance(value, (list, dict)):
        shown = name  # "limits is a list, but limits must be a mapping"
    if expected in ("number", "integer"):
        whole = "a whole number" if expected == "integer" else "a number"
        example = _example(str(path[0]) if path else "", name)
        if expected == "integer" and isinstance(value, float):
            return f"{shown} is not a whole number; e.g. {name}: {example}"
        if isinstance(value, str) and _looks_like_float(value):
            return (f"{shown} is read as text, not {whole} (YAML reads a number like 1e-3, without a '.', as text); "
                    f"write it as {float(value)!r}")
        return f"{shown} is {got}, but {name} must be {whole}; e.g. {name}: {example}"
    if expected == "array":
        return (f"{shown} is {got}, but {name} must be a list; e.g. {name}: [{shown}] "
                f"(or {name}: [] for none)")
    if expected == "object":
        return (f"{shown} is {got}, but {name} must be a mapping of 'key: value' lines indented under "
                f"'{name}:'")
    if expected == "string":
        return f"{shown} is {got}, but {name} must be text; e.g. {name}: pa2"
    if expected == "boolean":
        return f"{shown} is {got}, but {name} must be true or false; e.g. {name}: true"
    return f"{shown} is {got}, but {name} must be of type {expected}"


def _looks_like_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _example(section: str, name: str) -> str:
    """A sensible value for a numeric setting: its default."""
    if section == "points":
        return f"{DEFAULT_POINTS.get(name, 1.0):g}"
    if section == "limits":
        return f"{getattr(Limits(), name, 1):g}"
    if section == "training":
        return f"{getattr(TrainingBudget(), name, 1):g}"
    return "1"


def _did_you_mean(word: Any, options: list[str]) -> str:
    close = difflib.get_close_matches(str(word), options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------- locating

def _find(root: yaml.Node, path: tuple) -> tuple[yaml.Node, yaml.Node | None, int]:
    """The deepest node along ``path`` (and its key node), and how many steps were found."""
    node, key_node, depth = root, None, 0
    for step in path:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value
                          if isinstance(k, yaml.ScalarNode) and (k.value == str(step))), None)
            if match is None:
                break
            key_node, node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            key_node, node = None, node.value[step]
        else:
            break
        depth += 1
    return node, key_node, depth


def _at(root: yaml.Node, path: tuple, message: str, key: bool = False) -> Problem:
    """A problem at ``path``: its line from the YAML node (the key's line for an unknown key)."""
    node, key_node, depth = _find(root, path)
    mark = (key_node if key and key_node is not None and depth == len(path) else node).start_mark
    return Problem(mark.line + 1, _place(path), message)


def _place(path: tuple) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _text(node: yaml.Node, value: Any) -> str:
    """A value as the instructor wrote it (the scalar's source text), quoted."""
    if isinstance(node, yaml.ScalarNode):
        return repr(node.value)
    if isinstance(value, (list, dict)):
        return _kind(value)
    return repr(value)


def _text_at(root: yaml.Node, path: tuple, value: Any) -> str:
    node, _, depth = _find(root, path)
    return _text(node, value) if depth == len(path) else repr(value)


def _duplicate_keys(node: yaml.Node, path: tuple) -> list[Problem]:
    """PyYAML silently keeps the last of two equal keys; an instructor would not expect that."""
    out = []
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                if k.value in first:
                    out.append(Problem(k.start_mark.line + 1, _place(path + (k.value,)),
                                       f"{k.value!r} appears twice (also on line {first[k.value]}); "
                                       f"keep one (YAML would silently use the last)"))
                else:
                    first[k.value] = k.start_mark.line + 1
            out += _duplicate_keys(v, path + (k.value if isinstance(k, yaml.ScalarNode) else "?",))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _duplicate_keys(item, path + (i,))
    return out


# ---------------------------------------------------------------- building

def _settings(values: dict[str, Any], section: str) -> dict[str, Any]:
    """Limits / training overrides with the types the dataclasses expect (YAML 3 for 3.0 is fine)."""
    props = schema()["properties"][section]["properties"]
    return {k: (int(v) if props[k]["type"] == "integer" else float(v)) for k, v in values.items()}


def _points(root: yaml.Node, entries: dict[str, Any]) -> tuple[dict[str, float], tuple[Rule, ...]]:
    """``points:`` as per-kind numbers (over the defaults) and rules: a kind given as a mapping
    contributes its flags as a rule, every check id or pattern one rule, in file order."""
    kinds, rules = dict(DEFAULT_POINTS), []
    for key, value in entries.items():
        entry = value if isinstance(value, dict) else {"points": value}
        points = float(entry["points"]) if "points" in entry else None
        flags = {f: bool(entry[f]) for f in FLAGS if f in entry}
        line = _at(root, ("points", key), "", key=True).line
        if "." not in key:
            if points is not None:
                kinds[key] = points
            if flags:
                rules.append(Rule(key, None, line=line, **flags))
        else:
            rules.append(Rule(key, points, line=line, **flags))
    return kinds, tuple(rules)


def _plan(root: yaml.Node, data: dict[str, Any], source: str) -> Plan:
    points, rules = _points(root, data.get("points") or {})
    return Plan(
        name=data["name"],
        layers=tuple(data["layers"]),
        networks=tuple(data["networks"]),
        optional_layers=tuple(data.get("optional_layers", ())),
        network_checks=tuple(data.get("network_checks", NETWORK_CHECKS)),
        points=points,
        rules=rules,
        limits=_settings(data.get("limits") or {}, "limits"),
        training=_settings(data.get("training") or {}, "training"),
        deliverables=data.get("deliverables"),
        source=source,
    )
