"""validate_array / validate_scalar: clean copies out, clear messages for the student otherwise."""
import numpy as np
import pytest

from grader.validate import InvalidOutput, validate_array, validate_scalar


def test_returns_a_float64_base_ndarray_copy():
    src = np.ma.masked_array(np.arange(6, dtype=np.float32).reshape(2, 3))
    out = validate_array("x", src, shape=(2, 3))
    assert type(out) is np.ndarray and out.dtype == np.float64
    out[0, 0] = 99
    assert src[0, 0] == 0


def test_int_and_bool_inputs_and_int_kind():
    np.testing.assert_array_equal(validate_array("m", np.array([True, False])), [1.0, 0.0])
    out = validate_array("labels", np.array([1.0, 2.0]), dtype_kind="i")
    assert out.dtype == np.int64
    with pytest.raises(InvalidOutput, match="non-integer"):
        validate_array("labels", np.array([1.5]), dtype_kind="i")


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(InvalidOutput) as err:
        validate_array("layers.convolution.forward", np.zeros((2, 3)), shape=(2, 3, 4, 4))
    assert str(err.value) == "layers.convolution.forward: returned shape (2, 3) but expected (2, 3, 4, 4)"
    validate_array("x", np.zeros((5, 3)), shape=(None, 3))
    with pytest.raises(InvalidOutput, match=r"\(5,\) but expected \(4,\)"):
        validate_array("x", np.zeros(5), shape=(4,))


def test_zero_d_where_an_array_is_expected():
    with pytest.raises(InvalidOutput, match="is a 0-d scalar, expected an array of shape"):
        validate_array("out", np.float64(1.0), shape=(2, 2))


def test_nan_and_inf_are_counted():
    with pytest.raises(InvalidOutput, match="contains NaN at 3 positions"):
        validate_array("dx", np.array([np.nan, 1, np.nan, np.nan]))
    with pytest.raises(InvalidOutput, match="infinity at 1 position$"):
        validate_array("dx", np.array([np.inf, 1]))
    assert np.isnan(validate_array("dx", np.array([np.nan]), finite=False)).all()


@pytest.mark.parametrize("value, match", [
    (np.array([{"a": 1}], dtype=object), "dtype object is not a number"),
    (np.array(["a"]), "is not a number"),
    (np.array([1j]), "complex is not a number"),
    (None, "nothing was returned"),
])
def test_non_numbers_are_refused(value, match):
    with pytest.raises(InvalidOutput, match=match):
        validate_array("out", value)


def test_too_many_elements():
    with pytest.raises(InvalidOutput, match="more than"):
        validate_array("out", np.zeros(11), max_elements=10)


def test_scalar():
    assert validate_scalar("loss", np.array(2.5)) == 2.5
    assert validate_scalar("loss", np.array([[2.5]])) == 2.5
    assert validate_scalar("loss", 3) == 3.0
    for bad, match in [(np.array(np.nan), "finite"), (float("inf"), "finite"), (np.ones(3), "single number"),
                       (True, "bool"), (None, "nothing")]:
        with pytest.raises(InvalidOutput, match=match):
            validate_scalar("loss", bad)
