"""Every check kind in one table: what runs it, what it needs, what it is worth by default.

A check id is ``layers.<layer>.<kind>`` for a layer kind (forward, backward, gradcheck) and
``<net>.<kind>`` for a network kind (architecture, logits, ...). Adding a kind is one
``register(...)`` line below plus its default points; the rubric schema's enums, the default
points and the default list of network checks all come from this table.

Where a layer kind lives: :data:`LAYERS` (``grader.checks.layers.LAYERS``) holds each layer's
cases, reference constructor and diagnoses; the judge is the kind's ``judge`` (:data:`LAYER_KINDS`).
``describe("layers.convolution.backward")`` says all of it in words.

Network kinds are called as ``kind.run(ctx)`` with a :class:`NetworkContext`, after
``<net>.architecture`` (:func:`grader.checks.networks.check_architecture`) produced the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from grader import deliverables
from grader.checks import layers, networks, training
from grader.checks.layers import LAYERS, LayerEvidence, LayerSpec
from grader.checks.networks import NetEvidence
from grader.checks.training import TrainingBudget, TrainingData
from grader.results import CheckResult


@dataclass(frozen=True)
class NetworkContext:
    """What a network check may read: the worker session, the architecture check's evidence, the
    check seed, the MNIST subset and budget, timeouts, and the submission folder and plan."""

    session: Any
    key: str
    seed: int
    evidence: NetEvidence
    data: TrainingData | None = None
    budget: TrainingBudget = TrainingBudget()
    timeout: float | None = None          # per call into student code
    train_timeout: float | None = None    # per training call
    images: tuple | None = None           # a few held-out (images, labels) for initial_loss; labels never cross
    root: Path | None = None              # the submission folder (handed-in files live there)
    plan: Any = None                      # the grader.plan.Plan being graded (rubric settings)
    data_dir: Any = None                  # the MNIST folder option (deliverables are judged on the full test set)
    earlier: list = field(default_factory=list)  # this network's results so far (later kinds may read them)
    shared: dict = field(default_factory=dict)   # work several kinds share (e.g. one test-set evaluation)


@dataclass(frozen=True)
class LayerKind:
    """A check run on every graded layer: ``judge(evidence) -> CheckResult`` (pure)."""

    name: str
    points: float
    judge: Callable[[LayerEvidence], CheckResult]
    doc: str = ""

    scope = "layer"


@dataclass(frozen=True)
class NetworkKind:
    """A check run on every graded network: ``run(ctx) -> CheckResult``.

    ``needs_data``: it trains or evaluates on MNIST (the data is loaded only when a plan has one);
    ``progress``: what the progress line says before it runs (``{key}`` is the network);
    ``default_on``: part of a plan's network checks when the rubric does not list them.
    ``run`` is None for ``architecture`` alone: it produces the evidence the others read.
    ``prepare(ctx) -> bool``: called after each earlier check of the network until it returns True,
    to start work in the background that ``run`` collects later (the deliverables' test-set pass
    runs while the training checks use the worker).
    """

    name: str
    points: float
    run: Callable[[NetworkContext], CheckResult] | None
    doc: str = ""
    needs_data: bool = False
    progress: str = ""
    default_on: bool = True
    source: Callable | None = None  # the function ``run`` calls, for describe()
    applies: Callable[[str], bool] | None = None  # networks it makes sense for (None: all)
    prepare: Callable[[NetworkContext], bool] | None = None

    scope = "network"


Kind = LayerKind | NetworkKind
#: The kinds by name, in the order their checks run. A name (the last part of a check id) may be
#: both a layer and a network kind (``gradcheck``): rubric points are per name, so both share them.
LAYER_KINDS: dict[str, LayerKind] = {}
NETWORK_KINDS: dict[str, NetworkKind] = {}


def register(kind: Kind) -> Kind:
    """Add a check kind; its name is new in its scope and lower-case (it ends its check ids)."""
    table, other = ((LAYER_KINDS, NETWORK_KINDS) if isinstance(kind, LayerKind) else (NETWORK_KINDS, LAYER_KINDS))
    if kind.name in table:
        raise ValueError(f"{kind.scope} check kind {kind.name!r} is registered twice")
    if not kind.name.isidentifier() or kind.name != kind.name.lower():
        raise ValueError(f"check kind {kind.name!r}: use lower-case letters, digits and '_'")
    if kind.name in other and other[kind.name].points != kind.points:
        raise ValueError(f"check kind {kind.name!r}: a layer and a network kind of one name share their "
                         f"points; give both the same default")
    table[kind.name] = kind
    return kind


# ----------------------------------------------------------------------------- the kinds

register(LayerKind("forward", 1.0, layers.judge_forward, "output vs the reference on seeded cases"))
register(LayerKind("backward", 1.0, layers.judge_backward, "dx, dW, db vs the reference for the same dout"))
register(LayerKind("gradcheck", 1.0, layers.judge_gradcheck,
                   "the backward vs finite differences of the student's own forward"))

register(NetworkKind("architecture", 1.0, None, "parameter shapes vs the handout (produces the evidence)"))
register(NetworkKind("logits", 1.0, lambda c: networks.check_logits(c.session, c.evidence, c.seed, timeout=c.timeout),
                     "reference weights in, reference logits and loss out", source=networks.check_logits))
register(NetworkKind("gradient", 2.0,
                     lambda c: networks.check_gradient(c.session, c.evidence, c.seed, timeout=c.timeout),
                     "whole-network gradient vs the reference, traced to a layer", source=networks.check_gradient))
register(NetworkKind("gradcheck", 1.0,
                     lambda c: networks.check_gradcheck(c.session, c.evidence, c.seed, timeout=c.timeout),
                     "whole-network gradient vs finite differences of the student's loss",
                     source=networks.check_gradcheck))
register(NetworkKind("initial_loss", 0.5,
                     lambda c: networks.check_initial_loss(c.session, c.evidence, c.seed, images=c.images,
                                                           timeout=c.timeout),
                     "a fresh init starts near ln 10", source=networks.check_initial_loss))
register(NetworkKind("trajectory", 1.0,
                     lambda c: training.check_trajectory(c.session, c.evidence, c.seed, c.data, c.budget,
                                                         timeout=c.train_timeout),
                     "SGD from the reference's weights follows the reference's losses",
                     needs_data=True, progress="training network {key} briefly", source=training.check_trajectory))
register(NetworkKind("training", 1.5,
                     lambda c: training.check_own_training(c.session, c.evidence, c.seed, c.data, c.budget,
                                                           timeout=c.train_timeout),
                     "own init, brief training lowers the held-out loss", needs_data=True,
                     source=training.check_own_training))


# Deliverables (grader/deliverables): what the student handed in, judged for consistency and against
# the model; one test-set evaluation per network serves all five. Off unless the rubric lists them.
for _name, _doc in (("confusion_matrix", "the handed-in 10x10 test-set confusion matrix"),
                    ("top3", "the handed-in top-3 scoring test images per class"),
                    ("loss_log", "the handed-in train/valid loss per epoch"),
                    ("accuracy", "the handed-in test accuracy"),
                    ("cam", "the handed-in Class Activation Map of the shared sample")):
    register(NetworkKind(_name, 1.0, lambda c, _n=_name: deliverables.run_kind(c, _n), _doc, default_on=False,
                         progress="checking the deliverables of {key}" if _name == "confusion_matrix" else "",
                         source=deliverables.deliverable_checks, applies=deliverables.applies(_name),
                         prepare=deliverables.prepare if _name == "confusion_matrix" else None))


# ----------------------------------------------------------------------------- views

def layer_kinds() -> tuple[LayerKind, ...]:
    return tuple(LAYER_KINDS.values())


def network_kinds() -> tuple[NetworkKind, ...]:
    return tuple(NETWORK_KINDS.values())


def kind_names() -> tuple[str, ...]:
    """Every kind name once (what a rubric's ``points:`` may name), layer kinds first."""
    return tuple(dict.fromkeys([*LAYER_KINDS, *NETWORK_KINDS]))


def network_kind(name: str) -> NetworkKind:
    """The network kind called ``name``; a KeyError naming the known ones otherwise."""
    kind = NETWORK_KINDS.get(name)
    if kind is None:
        raise KeyError(f"unknown network check {name!r}; the network checks are: "
                       f"{', '.join(k.name for k in network_kinds())}")
    return kind


def default_points() -> dict[str, float]:
    """Points per kind when a rubric says nothing."""
    return {k.name: k.points for k in (*LAYER_KINDS.values(), *NETWORK_KINDS.values())}


def default_network_checks() -> tuple[str, ...]:
    """The network checks of a plan whose rubric does not list them, in order."""
    return tuple(k.name for k in network_kinds() if k.default_on)


def check_ids(layer_keys, network_keys, network_checks) -> list[str]:
    """Every check id a plan with these layers, networks and network checks can produce."""
    ids = ["integrity", "load"]
    ids += [f"layers.{layer}.{k.name}" for layer in layer_keys for k in layer_kinds()]
    checks = ("architecture",) + tuple(n for n in network_checks if n != "architecture")
    ids += [f"{net}.{name}" for net in network_keys for name in checks]
    return ids


def _where(fn: Callable) -> str:
    module = getattr(fn, "__module__", "?")
    return f"{module.replace('.', '/')}.py:{getattr(fn, '__qualname__', fn)}"


def describe(check_id: str) -> str:
    """Where a check lives, in words: its judge, and for a layer its cases, reference and diagnoses."""
    parts = check_id.split(".")
    if parts[0] == "layers" and len(parts) == 3 and parts[1] in LAYERS and parts[2] in LAYER_KINDS:
        kind = LAYER_KINDS[parts[2]]
        spec: LayerSpec = LAYERS[parts[1]]
        diagnoses = {"forward": spec.forward_diagnoses, "backward": spec.backward_diagnoses}.get(kind.name, ())
        return (f"{check_id}: judged by {_where(kind.judge)} on the {len(spec.cases)} cases of "
                f"grader/checks/layers.py LAYERS[{spec.key!r}] (reference: LAYERS[{spec.key!r}].reference, "
                f"reference/layers.py {spec.title})"
                + (f"; diagnoses: {', '.join('grader/checks/diagnose.py:' + d.__name__ for d in diagnoses)}"
                   if diagnoses else ""))
    if len(parts) == 2 and parts[1] in NETWORK_KINDS and parts[0] in networks.NETWORKS:
        kind = NETWORK_KINDS[parts[1]]
        how = _where(networks.check_architecture if kind.run is None else (kind.source or kind.run))
        return f"{check_id}: {kind.doc}; run by {how}"
    raise KeyError(f"{check_id!r} is not a check id (e.g. layers.convolution.backward, two_layer_cnn.gradient)")
