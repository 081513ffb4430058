"""Rubric files: the shipped ones reproduce the assignments' checks; the schema's enums follow the
code; every mistake in a rubric is a RubricError naming file, line and fix; a rubric's limits reach
the sandbox, and explicit arguments and CLI flags beat them."""

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from grader import grade as grade_module
from grader.checks import layers as layer_checks
from grader.checks import networks as net_checks
from grader.checks.training import TrainingBudget
from grader.grade import grade
from grader.checks import registry
from grader.plan import DEFAULT_POINTS, NETWORK_CHECKS, Plan
from grader.report import json_report
from grader.rubric import RubricError, available_rubrics, get_plan, load_rubric, schema
from grader.sandbox import Limits
from grader.worker import discover

ROOT = Path(__file__).resolve().parents[2]
RUBRICS = ROOT / "rubrics"

#: What the assignments graded before rubric files (the former built-in plans), field by field.
EXPECTED = {
    "pa1": dict(layers=("affine", "relu", "lrelu", "softmax"),
                networks=("three_layer_nn", "three_layer_nn_lrelu", "three_layer_nn_torch", "three_layer_nn_lrelu_torch"),
                optional_layers=("convolution", "pooling", "flatten")),
    "pa2": dict(layers=("affine", "relu", "convolution", "softmax"),
                networks=("two_layer_cnn", "three_layer_cnn", "two_layer_cnn_torch", "three_layer_cnn_torch",
                          "three_layer_nn"),
                optional_layers=("lrelu", "pooling", "flatten")),
    "hw7": dict(layers=("affine", "relu", "convolution", "pooling", "softmax"),
                networks=("simple_convnet", "one_conv_net", "lenet"),
                optional_layers=("lrelu", "flatten")),
}


# ---------------------------------------------------------------- shipped rubrics

@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_rubric_validates_and_reproduces_the_assignment(name):
    path = RUBRICS / f"{name}.yaml"
    jsonschema.validate(yaml.safe_load(path.read_text()), schema())
    plan = load_rubric(path)
    assert plan.name == name and plan.source == str(path)
    for field, value in EXPECTED[name].items():
        assert getattr(plan, field) == value, field
    # PA2 also grades the deliverables (its handout asks for them); the others are code only
    deliverables = ("confusion_matrix", "top3", "loss_log", "accuracy", "cam") if name == "pa2" else ()
    assert plan.network_checks == NETWORK_CHECKS + deliverables
    # PA2's CAM is +30% extra credit (rubrics/pa2.yaml says how 4.95 is computed); the rest are defaults
    assert plan.points == (dict(DEFAULT_POINTS, cam=4.95) if name == "pa2" else DEFAULT_POINTS)
    assert plan.limits == {} and plan.training == {}
    if name == "pa1":  # every check of the PyTorch twins is extra credit, and nothing else is
        for check_id in (f"{n}.{k}" for n in plan.networks for k in plan.network_checks):
            assert plan.weight(check_id).extra == check_id.split(".")[0].endswith("_torch"), check_id
            assert plan.weight(check_id).points == DEFAULT_POINTS[check_id.split(".")[1]], check_id
    assert path.read_text().startswith("#")  # the comment header explaining the fields


def test_get_plan_reads_the_repository_rubrics():
    assert available_rubrics() == ["hw7", "pa1", "pa2"]
    assert get_plan("pa2") == load_rubric(RUBRICS / "pa2.yaml")


def test_get_plan_follows_the_environment_and_lists_what_exists(tmp_path, monkeypatch):
    (tmp_path / "quiz.yaml").write_text("name: quiz\nlayers: [relu]\nnetworks: []\nlimits: {call_timeout: 5}\n")
    monkeypatch.setenv("GRADER_RUBRICS_DIR", str(tmp_path))
    plan = get_plan("quiz")
    assert plan.layers == ("relu",) and plan.limits == {"call_timeout": 5.0}
    assert plan.source == str(tmp_path / "quiz.yaml")
    with pytest.raises(RubricError, match=r"unknown assignment 'pa2': there is no pa2.yaml in .*; choose one of: quiz"):
        get_plan("pa2")
    with pytest.raises(RubricError, match="choose one of: quiz"):
        get_plan("../rubrics/pa2")  # names, not paths (those go through --rubric FILE)
    monkeypatch.setenv("GRADER_RUBRICS_DIR", str(tmp_path / "missing"))
    with pytest.raises(RubricError, match="does not exist; set \\$GRADER_RUBRICS_DIR"):
        get_plan("quiz")


def test_a_plan_made_in_code_is_built_in_and_overrides_nothing():
    plan = Plan("bugs", layers=("relu",), networks=(), network_checks=("architecture",))
    assert plan.source == "built-in:bugs" and plan.limits == {} and plan.training == {}


# ---------------------------------------------------------------- the schema follows the code

def test_schema_enums_equal_the_codes_keys():
    defs = schema()["$defs"]
    assert set(defs["layer"]["enum"]) == set(layer_checks.CASES) == set(discover.LAYER_KEYS)
    assert set(defs["network"]["enum"]) == set(net_checks.NETWORKS) == set(discover.NETWORK_KEYS)
    # every registered network kind may be listed; the default list is the kinds that are on by default
    assert tuple(defs["network_check"]["enum"]) == tuple(k.name for k in registry.network_kinds())
    assert NETWORK_CHECKS == tuple(k for k in defs["network_check"]["enum"] if registry.network_kind(k).default_on)
    assert set(schema()["properties"]["points"]["properties"]) == set(DEFAULT_POINTS)


def test_schema_file_lists_the_registrys_kinds():
    """schema() fills the check-kind enums from the registry; the file on disk says the same, so that
    a reader (or an editor validating a rubric) sees the real lists. After registering a kind, add it here:
    grader/schemas/rubric.schema.json $defs.network_check.enum and properties.points.properties."""
    on_disk = json.loads((ROOT / "grader" / "schemas" / "rubric.schema.json").read_text())
    assert on_disk["$defs"]["network_check"]["enum"] == [k.name for k in registry.network_kinds()]
    assert list(on_disk["properties"]["points"]["properties"]) == list(registry.kind_names())
    assert on_disk == schema()


@pytest.mark.parametrize("section, cls", [("limits", Limits), ("training", TrainingBudget)])
def test_schema_settings_equal_the_dataclass_fields_and_types(section, cls):
    props = schema()["properties"][section]["properties"]
    assert schema()["properties"][section]["additionalProperties"] is False
    fields = {f.name: f.type for f in dataclasses.fields(cls)}
    assert set(props) == set(fields)
    for name, annotation in fields.items():
        assert props[name]["type"] == {"int": "integer", "float": "number"}[str(annotation)], name
        assert "minimum" in props[name] or "exclusiveMinimum" in props[name], name
        # the defaults are valid values
        jsonschema.validate({"name": "x", "layers": [], "networks": [], section: {name: getattr(cls(), name)}},
                            schema())


# ---------------------------------------------------------------- broken rubrics

GOOD = "name: pa2\nlayers: [affine, relu]\nnetworks:\n  - two_layer_cnn\n  - three_layer_cnn\n"
BROKEN = {
    # name: (text, line, the expected message after "FILE, line N")
    "yaml_syntax": ("name: pa2\nlayers: [affine, relu\nnetworks: []\n", 3,
                    ", column 9: YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow sequence "
                    "that starts on line 2, column 9); close the list with ']'"),
    "unknown_network": (GOOD + "  - two_layer_cn\n", 6,
                        " (networks[2]): 'two_layer_cn' is not a known network (did you mean 'two_layer_cnn'?); "
                        "use one of: three_layer_nn, three_layer_nn_lrelu, two_layer_cnn,"),
    "points_wrong_type": (GOOD + "points:\n  gradient: two\n", 7,
                          " (points.gradient): 'two' is text, but gradient must be a number; e.g. gradient: 2"),
    "unknown_limit": (GOOD + "limits:\n  call_timeout: 3\n  call_timout: 4\n", 8,
                      " (limits.call_timout): unknown key 'call_timout' in limits (did you mean 'call_timeout'?); "
                      "the sandbox limits are: memory_mb, cpu_seconds,"),
    "negative_timeout": (GOOD + "limits:\n  call_timeout: -1\n", 7,
                         " (limits.call_timeout): '-1' is out of range: call_timeout must be more than 0; "
                         "e.g. call_timeout: 30"),
    "empty_file": ("# only a comment\n", 1,
                   ": the file is empty (or only comments); a rubric needs at least name, layers and networks, "
                   "e.g. name: pa2,"),
    "top_level_list": ("- name: pa2\n- layers: []\n", 1,
                       ": the rubric is a list, but it must be a mapping of 'key: value' lines; remove the '- ' "
                       "in front of the keys"),
    "missing_networks": ("name: pa2\nlayers: [affine]\n", 1,
                         ": the rubric has no 'networks'; add a line like: networks: [three_layer_nn]"),
    "duplicate_key": (GOOD + "networks: []\n", 6,
                      " (networks): 'networks' appears twice (also on line 3); keep one"),
    "float_written_as_text": (GOOD + "training:\n  lr: 1e-3\n", 7,
                              " (training.lr): '1e-3' is read as text, not a number"),
    "layer_listed_twice": ("name: pa2\nlayers: [affine, relu, affine]\nnetworks: []\n", 2,
                           " (layers[2]): 'affine' is listed twice in layers; list it once"),
    "required_and_optional": (GOOD + "optional_layers: [pooling, relu]\n", 6,
                              " (optional_layers[1]): 'relu' is in both layers and optional_layers; keep it in one"),
    "whole_number": (GOOD + "limits: {memory_mb: 1.5}\n", 6,
                     " (limits.memory_mb): '1.5' is not a whole number; e.g. memory_mb: 1024"),
    "tab_indent": ("name: pa2\nlayers: []\nnetworks: []\nlimits:\n\tcall_timeout: 3\n", 5,
                   ", column 1: YAML syntax error: found character '\\t' that cannot start any token"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_rubric_names_file_line_and_fix(case, tmp_path):
    text, line, expected = BROKEN[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith(f"{path}, line {line}{expected}"), message
    assert "\n" not in message  # one problem, one line
    assert info.value.problems[0].line == line


def test_several_problems_are_reported_together_in_file_order(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(GOOD + "limits:\n  call_timeout: 0\npoints: {gradient: -2}\n")
    with pytest.raises(RubricError) as info:
        load_rubric(path)
    lines = str(info.value).splitlines()
    assert [p.line for p in info.value.problems] == [7, 8]
    assert lines[0].startswith(f"{path}, line 7 (limits.call_timeout): '0' is out of range")
    assert lines[1].startswith(f"{path}, line 8 (points.gradient): '-2' is out of range: gradient must be at least 0")


def test_unusable_files_are_explained(tmp_path):
    with pytest.raises(RubricError, match=r"nope.yaml: no such rubric file; give the path of a .yaml rubric"):
        load_rubric(tmp_path / "nope.yaml")
    with pytest.raises(RubricError, match="is a folder, not a rubric file"):
        load_rubric(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes(b"name: pa2\nlayers: [caf\xe9]\n")
    with pytest.raises(RubricError, match=r"latin1.yaml, line 2: is not UTF-8 text \(byte 0xe9\); save the rubric as UTF-8"):
        load_rubric(tmp_path / "latin1.yaml")


def test_rubric_settings_become_the_plans_overrides(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(GOOD + "points: {gradient: 3}\nlimits: {call_timeout: 3, memory_mb: 2048}\n"
                           "training: {steps: 8, lr: 1}\nnetwork_checks: [architecture, logits]\n")
    plan = load_rubric(path)
    assert plan.points == {**DEFAULT_POINTS, "gradient": 3.0}
    assert plan.limits == {"call_timeout": 3.0, "memory_mb": 2048}
    assert plan.training == {"steps": 8, "lr": 1.0} and isinstance(plan.training["lr"], float)
    assert plan.network_checks == ("architecture", "logits")


# ---------------------------------------------------------------- precedence (no worker started)

class _Stop(Exception):
    pass


@pytest.fixture
def captured(monkeypatch):
    """grade() up to the sandbox: what limits, hidden paths and training budget it would use."""
    seen = {}

    class FakeSandbox:
        def __init__(self, root, limits, hide=(), isolation="auto"):
            seen.update(limits=limits, hide=tuple(hide))
            raise _Stop

    def fake_data(data_dir, seed, budget):
        seen["budget"] = budget
        return None, "not needed"

    monkeypatch.setattr(grade_module.sb, "Sandbox", FakeSandbox)
    monkeypatch.setattr(grade_module, "load_training_data", fake_data)
    return seen


def _run(tmp_path, plan, **kw):
    (tmp_path / "sub").mkdir(exist_ok=True)
    with pytest.raises(_Stop):
        grade(tmp_path / "sub", assignment=plan, seed=0, **kw)


def test_rubric_limits_and_budget_beat_the_defaults(tmp_path, captured):
    plan = Plan("r", layers=(), networks=("three_layer_nn",), limits={"call_timeout": 3.0, "memory_mb": 2048},
                training={"steps": 4}, source=str(tmp_path / "r.yaml"))
    _run(tmp_path, plan)
    assert captured["limits"] == Limits(call_timeout=3.0, memory_mb=2048)
    assert captured["budget"] == TrainingBudget(steps=4)
    assert (tmp_path / "r.yaml").resolve() in captured["hide"]  # the student cannot read the rubric


def test_explicit_arguments_and_flags_beat_the_rubric(tmp_path, captured):
    plan = Plan("r", layers=(), networks=("three_layer_nn",), limits={"call_timeout": 3.0, "memory_mb": 2048},
                training={"steps": 4})
    _run(tmp_path, plan, limit_overrides={"call_timeout": 1.5})
    assert captured["limits"] == Limits(call_timeout=1.5, memory_mb=2048)  # the flag wins, the rest stays
    assert not any(p.suffix == ".yaml" for p in captured["hide"])  # a built-in plan has no file
    _run(tmp_path, plan, limits=Limits(total_timeout=60), budget=TrainingBudget(steps=2),
         limit_overrides={"memory_mb": 512})
    assert captured["limits"] == Limits(total_timeout=60, memory_mb=512)
    assert captured["budget"] == TrainingBudget(steps=2)


# ---------------------------------------------------------------- end to end through the sandbox

SLOW_RELU = """\
import time


class Relu:
    def forward(self, x):
        time.sleep(10)
        return x

    def backward(self, dout):
        return dout
"""


@pytest.fixture
def slow_submission(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "layers.py").write_text(SLOW_RELU)
    rubric = tmp_path / "slow.yaml"
    rubric.write_text("name: slow\nlayers: [relu]\nnetworks: []\nlimits:\n  call_timeout: 3\n")
    return sub, rubric


def test_rubric_call_timeout_reaches_the_sandbox(slow_submission):
    sub, rubric = slow_submission
    report = grade(sub, assignment=load_rubric(rubric))
    forward = report.by_id()["layers.relu.forward"]
    assert forward.status == "error"
    assert "timed out after 3 s" in forward.message, forward.message
    assert report.rubric == str(rubric)
    json_report.validate(json_report.report_dict(report))


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_cli_flag_beats_the_rubric(slow_submission):
    sub, rubric = slow_submission
    out = run_cli(sub, "--rubric", rubric, "--call-timeout", "1.5", "--json", "-")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    forward = next(c for c in data["checks"] if c["id"] == "layers.relu.forward")
    assert "timed out after 1.5 s" in forward["message"] and "after 3 s" not in forward["message"]
    assert data["rubric"] == str(rubric)


# ---------------------------------------------------------------- CLI

def test_cli_broken_rubric_is_a_usage_error_without_traceback(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(GOOD + "  - two_layer_cn\n")
    out = run_cli("submissions/sample", "--rubric", broken, "--assignment", "pa1")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert (f"error: {broken}, line 6 (networks[2]): 'two_layer_cn' is not a known network "
            f"(did you mean 'two_layer_cnn'?)") in out.stderr


def test_cli_yaml_syntax_error_and_unknown_assignment(tmp_path):
    (tmp_path / "syntax.yaml").write_text(BROKEN["yaml_syntax"][0])
    out = run_cli(ROOT / "submissions" / "sample", "--rubric", "syntax.yaml", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "error: syntax.yaml, line 3, column 9: YAML syntax error" in out.stderr
    out = run_cli("submissions/sample", "--assignment", "pa9")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "unknown assignment 'pa9'" in out.stderr and "choose one of: hw7, pa1, pa2" in out.stderr


def test_cli_help_says_where_rubrics_come_from():
    out = run_cli("--help")
    assert out.returncode == 0
    assert "--rubric FILE" in out.stdout and "GRADER_RUBRICS_DIR" in out.stdout
    assert str(RUBRICS) in out.stdout and "available: hw7, pa1, pa2" in out.stdout


def test_the_mnist_folder_is_hidden_however_it_was_found(tmp_path, captured, monkeypatch):
    """--data-dir, $GRADER_DATA_DIR and the cache all hold the test labels: all are hidden."""
    given, from_env = tmp_path / "given", tmp_path / "env"
    given.mkdir()
    from_env.mkdir()
    monkeypatch.setenv("GRADER_DATA_DIR", str(from_env))
    plan = Plan("r", layers=(), networks=("three_layer_nn",))
    _run(tmp_path, plan, data_dir=given)
    assert given.resolve() in captured["hide"] and from_env.resolve() in captured["hide"]
    from reference.data import cache_dir
    assert cache_dir().resolve() in captured["hide"]
