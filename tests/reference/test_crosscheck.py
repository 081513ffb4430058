"""NumPy and torch agree on every named network, and a real difference is caught."""

import pytest
import torch

from reference import crosscheck
from reference.crosscheck import (TOLERANCE, VARIANTS, CrosscheckRow, crosscheck_all,
                                  crosscheck_network)
from reference.networks import NETWORKS, two_layer_cnn


@pytest.fixture(scope="module")
def rows():
    return crosscheck_all()


def test_every_network_is_crosschecked(rows):
    assert {name for _, name, _ in VARIANTS} == set(NETWORKS)
    assert [row.name for row in rows] == [row_name for row_name, _, _ in VARIANTS]


def test_numpy_and_torch_agree(rows):
    for row in rows:
        assert row.logits <= TOLERANCE, row
        assert row.loss <= TOLERANCE, row
        assert row.gradients <= TOLERANCE, row


def test_a_perturbed_torch_weight_is_caught():
    def nudge_first_conv(module):
        with torch.no_grad():
            next(module.parameters())[0, 0, 0, 0] += 1e-6

    row = crosscheck_network("perturbed", two_layer_cnn(), perturb=nudge_first_conv)
    assert row.logits > TOLERANCE
    assert row.gradients > TOLERANCE


def test_main_exits_1_on_a_mismatch(monkeypatch, capsys):
    bad = CrosscheckRow("broken", logits=1e-3, loss=0.0, gradients=0.0, worst_param="W1")
    monkeypatch.setattr(crosscheck, "crosscheck_all", lambda: [bad])
    assert crosscheck.main() == 1
    assert "broken" in capsys.readouterr().out
