"""Layer checks on in-process layers: the reference passes, each planted mistake fails the
right check with the right diagnosis."""

import numpy as np
import pytest

from grader.checks import layers
from reference import layers as ref
from tests.checks.fakes import FakeSession


def run(key, **overrides):
    ev = layers.collect(FakeSession(**overrides), key, seed=123)
    return {r.id.split(".")[-1]: r for r in layers.judge(ev)}


@pytest.mark.parametrize("key", ["affine", "relu", "lrelu", "convolution", "pooling", "softmax", "flatten"])
def test_reference_layers_pass_every_check(key):
    results = run(key)
    assert {k: r.status for k, r in results.items()} == {"forward": "passed", "backward": "passed", "gradcheck": "passed"}
    assert results["forward"].figures["max_rel_error"] < 1e-12


def test_missing_layer_fails_with_manifest_hint():
    results = run("convolution", convolution=None)
    assert all(r.status == "failed" and r.diagnosis == "missing" for r in results.values())
    assert "grader.toml" in results["forward"].message
    assert "see layers.convolution.forward" in results["backward"].message


class FlippedConv(ref.Convolution):
    def forward(self, x):
        self.W = self.W[:, :, ::-1, ::-1].copy()
        return super().forward(x)


class NotAveragedSoftmax(ref.SoftmaxWithLoss):
    def backward(self, dout=1):
        return super().backward(dout) * self.y.shape[0] if hasattr(self, "y") else super().backward(dout)


class NoBiasGradAffine(ref.Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.db = np.zeros_like(self.db)
        return dx


class MaskFromDoutRelu(ref.Relu):
    def backward(self, dout):
        return dout * (dout > 0)


class SlopeOneLeaky(ref.LeakyRelu):
    def backward(self, dout):
        return dout.copy()


class TransposedAffine(ref.Affine):
    def backward(self, dout):
        super().backward(dout)
        return (dout @ self.W).reshape(self.x_shape) if hasattr(self, "x_shape") else dout @ self.W


def test_flipped_kernel_is_named_and_gradcheck_fails():
    results = run("convolution", convolution=FlippedConv)
    assert results["forward"].status == "failed"
    assert results["forward"].diagnosis == "flipped_kernel"
    assert "cross-correlation" in results["forward"].message


def test_not_averaged_softmax_backward():
    results = run("softmax", softmax=NotAveragedSoftmax)
    assert results["forward"].status == "passed"
    assert results["backward"].status == "failed" and results["backward"].diagnosis == "not_averaged"
    assert results["gradcheck"].status == "failed"


def test_missing_bias_gradient():
    results = run("affine", affine=NoBiasGradAffine)
    assert results["forward"].status == "passed"
    assert results["backward"].diagnosis == "missing_bias_gradient"
    assert "db" in results["gradcheck"].message


def test_relu_mask_from_dout():
    results = run("relu", relu=MaskFromDoutRelu)
    assert results["backward"].diagnosis == "relu_mask_wrong"
    assert results["gradcheck"].status == "failed"


def test_leaky_relu_slope():
    results = run("lrelu", lrelu=SlopeOneLeaky)
    assert results["backward"].diagnosis == "lrelu_slope"
    assert "alpha = 0.1" in results["backward"].message


def test_wrong_forward_with_consistent_backward_blames_the_forward():
    class ScaledAffine(ref.Affine):
        def forward(self, x):
            return 2 * super().forward(x)

        def backward(self, dout):
            dx = super().backward(2 * dout)
            return dx

    results = run("affine", affine=ScaledAffine)
    assert results["forward"].status == "failed"
    assert results["gradcheck"].status == "passed"
    assert results["backward"].diagnosis == "forward_wrong"


def test_exception_in_student_code_is_an_error_not_a_crash():
    class Broken(ref.Relu):
        def forward(self, x):
            raise RuntimeError("boom")

    class RaisingSession(FakeSession):
        def call(self, op, header, arrays, timeout=None):
            from grader.sandbox import StudentError
            try:
                return super().call(op, header, arrays, timeout)
            except RuntimeError as exc:
                raise StudentError("RuntimeError", str(exc), "") from None

    ev = layers.collect(RaisingSession(relu=Broken), "relu", seed=1)
    results = layers.judge(ev)
    assert [r.status for r in results] == ["error", "error", "error"]
    assert "boom" in results[0].message
