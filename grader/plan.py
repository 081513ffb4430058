"""Which checks run for an assignment and what each is worth.

A built-in default per assignment until rubric files arrive (rubrics/*.yaml will produce
the same :class:`Plan`); checks never decide points, the plan does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The checks run on every network, in order (later ones reuse what architecture learnt).
NETWORK_CHECKS = ("architecture", "logits", "gradient", "gradcheck", "initial_loss", "trajectory", "training")

#: Points per check kind (the last part of a check id).
DEFAULT_POINTS = {
    "forward": 1.0, "backward": 1.0, "gradcheck": 1.0,
    "architecture": 1.0, "logits": 1.0, "gradient": 2.0, "initial_loss": 0.5,
    "trajectory": 1.0, "training": 1.5,
}


@dataclass(frozen=True)
class Plan:
    """The checks of one assignment: graded layers and networks, optional layers, points."""

    name: str
    layers: tuple[str, ...]
    networks: tuple[str, ...]
    optional_layers: tuple[str, ...] = ()   # checked when present, worth no points
    network_checks: tuple[str, ...] = NETWORK_CHECKS
    points: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_POINTS))

    def points_for(self, check_id: str) -> float:
        """Points of a check id; optional layers, load and integrity are informational (0)."""
        parts = check_id.split(".")
        if parts[0] == "layers" and parts[1] in self.optional_layers:
            return 0.0
        return self.points.get(parts[-1], 0.0) if len(parts) > 1 else 0.0


PLANS: dict[str, Plan] = {
    "pa1": Plan("pa1", layers=("affine", "relu", "lrelu", "softmax"),
                networks=("three_layer_nn", "three_layer_nn_lrelu"),
                optional_layers=("convolution", "pooling", "flatten")),
    "pa2": Plan("pa2", layers=("affine", "relu", "convolution", "softmax"),
                networks=("two_layer_cnn", "three_layer_cnn", "two_layer_cnn_torch", "three_layer_cnn_torch",
                          "three_layer_nn"),
                optional_layers=("lrelu", "pooling", "flatten")),
    "hw7": Plan("hw7", layers=("affine", "relu", "convolution", "pooling", "softmax"),
                networks=("simple_convnet", "one_conv_net", "lenet"),
                optional_layers=("lrelu", "flatten")),
}


def get_plan(name: str) -> Plan:
    """The built-in plan of an assignment, or a clear error listing the known ones."""
    try:
        return PLANS[name]
    except KeyError:
        raise ValueError(f"unknown assignment {name!r}: choose one of {', '.join(PLANS)}") from None
