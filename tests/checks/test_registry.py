"""The registry of check kinds: one entry per kind, the defaults and the schema come from it, every
layer's cases, reference and diagnoses sit in one LAYERS entry, and network kinds run on evidence."""

import numpy as np
import pytest

from grader.checks import diagnose, registry
from grader.checks.layers import LAYERS
from grader.checks.registry import LayerKind, NetworkContext, NetworkKind, register
from grader.plan import DEFAULT_POINTS, NETWORK_CHECKS
from grader.results import passed
from grader.rubric import schema


def test_defaults_come_from_the_registry():
    assert DEFAULT_POINTS == {"forward": 1.0, "backward": 1.0, "gradcheck": 1.0, "architecture": 1.0, "logits": 1.0,
                              "gradient": 2.0, "initial_loss": 0.5, "trajectory": 1.0, "training": 1.5,
                              "confusion_matrix": 1.0, "top3": 1.0, "loss_log": 1.0, "accuracy": 1.0, "cam": 1.0}
    assert NETWORK_CHECKS == ("architecture", "logits", "gradient", "gradcheck", "initial_loss", "trajectory",
                              "training")
    assert [k.name for k in registry.layer_kinds()] == ["forward", "backward", "gradcheck"]
    # the deliverable kinds are registered but off unless a rubric lists them
    assert schema()["$defs"]["network_check"]["enum"] == list(NETWORK_CHECKS) + [
        "confusion_matrix", "top3", "loss_log", "accuracy", "cam"]
    assert registry.network_kind("cam").applies("three_layer_nn") is False


def test_every_layer_is_one_entry_with_cases_reference_and_diagnoses():
    for key, spec in LAYERS.items():
        assert spec.key == key and spec.cases and spec.title
        case = spec.cases[0]
        inputs = {"W": np.ones(case.W), "b": np.zeros(case.W[0] if key == "convolution" else case.W[1])} if case.W else {}
        assert type(spec.reference(case, inputs)).__name__ == spec.title
        for d in spec.forward_diagnoses + spec.backward_diagnoses:
            assert getattr(diagnose, d.__name__) is d
    assert diagnose.padding_in_backward in LAYERS["convolution"].backward_diagnoses


def test_describe_says_where_a_check_lives():
    text = registry.describe("layers.convolution.backward")
    assert "grader/checks/layers.py:judge_backward" in text and "LAYERS['convolution']" in text
    assert "diagnose.py:padding_in_backward" in text and "5 cases" in text
    assert "grader/checks/training.py:check_trajectory" in registry.describe("lenet.trajectory")
    assert "check_architecture" in registry.describe("two_layer_cnn.architecture")
    with pytest.raises(KeyError, match="not a check id"):
        registry.describe("layers.conv.backward")


def test_a_kind_is_registered_once_and_names_are_checked(monkeypatch):
    monkeypatch.setattr(registry, "NETWORK_KINDS", dict(registry.NETWORK_KINDS))
    with pytest.raises(ValueError, match="registered twice"):
        register(NetworkKind("logits", 1.0, None))
    with pytest.raises(ValueError, match="lower-case"):
        register(NetworkKind("Top3", 1.0, None))
    with pytest.raises(ValueError, match="share their points"):
        register(NetworkKind("forward", 3.0, None))  # also a layer kind, worth 1 there
    with pytest.raises(KeyError, match="unknown network check 'nope'; the network checks are: architecture"):
        registry.network_kind("nope")


def test_a_new_network_kind_is_one_registration(monkeypatch):
    """What a new kind needs: one registration, run on the network evidence, with its default points."""
    monkeypatch.setattr(registry, "NETWORK_KINDS", dict(registry.NETWORK_KINDS))
    seen = []

    def sparkle(ctx: NetworkContext):
        seen.append((ctx.key, ctx.evidence, ctx.root))
        return passed(f"{ctx.key}.sparkle", "fine")

    register(NetworkKind("sparkle", 2.0, sparkle, "a made-up kind", default_on=False))
    assert registry.default_points()["sparkle"] == 2.0
    assert "sparkle" not in registry.default_network_checks()  # opt-in: rubrics name it
    assert schema()["$defs"]["network_check"]["enum"][-1] == "sparkle"
    result = registry.network_kind("sparkle").run(NetworkContext(session=None, key="lenet", seed=1, evidence="ev"))
    assert result.id == "lenet.sparkle" and seen == [("lenet", "ev", None)]


def test_check_ids_of_a_plan():
    ids = registry.check_ids(("relu",), ("lenet",), ("architecture", "gradient"))
    assert ids == ["integrity", "load", "layers.relu.forward", "layers.relu.backward", "layers.relu.gradcheck",
                   "lenet.architecture", "lenet.gradient"]
    assert all(isinstance(k, LayerKind) for k in registry.layer_kinds())
