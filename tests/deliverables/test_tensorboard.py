"""TensorBoard deliverables: loss scalars (torch and TF2/Keras layouts) and top-3 images matched to
the test set by pixels, from event files written with tensorboard's own writer."""

from __future__ import annotations

import numpy as np
import pytest

from grader.deliverables import judges, tensorboard_logs
from grader.deliverables.readers import ReadError

from tests.deliverables import tb_writer

TRAIN, VALID = [2.3009, 0.0775, 0.0482], [2.3021, 0.0811, 0.0603]


def test_torch_scalars_are_read_and_a_garbage_record_fails(tmp_path):
    events = tb_writer.write(tmp_path / "run", [(s, [tb_writer.legacy_scalar("train_loss", a),
                                                     tb_writer.legacy_scalar("valid_loss", b)])
                                                for s, (a, b) in enumerate(zip(TRAIN, VALID))])
    log = tensorboard_logs.read_losses(tmp_path / "run")
    assert log["train"] == pytest.approx(TRAIN, abs=1e-6) and log["valid"] == pytest.approx(VALID, abs=1e-6)
    data = events.read_bytes()
    events.write_bytes(data[:40] + b"\xde\xad\xbe\xef" * 8 + data[40:])
    with pytest.raises(ReadError, match="corrupt or truncated"):
        tensorboard_logs.read_losses(tmp_path / "run")
    events.write_bytes(data[:-5])
    with pytest.raises(ReadError, match="corrupt or truncated"):
        tensorboard_logs.read_losses(tmp_path / "run")


def test_tf2_tensor_scalars_in_the_keras_layout(tmp_path):
    for sub, values in (("train", TRAIN), ("validation", VALID)):
        tb_writer.write(tmp_path / "run" / sub, [(s, [tb_writer.tf2_scalar("epoch_loss", v)]) for s, v in enumerate(values)])
    log = tensorboard_logs.read_losses(tmp_path / "run")
    assert log == {"train": pytest.approx(TRAIN, abs=1e-6), "valid": pytest.approx(VALID, abs=1e-6)}


def test_steps_out_of_order_are_sorted_and_a_missing_split_is_named(tmp_path):
    tb_writer.write(tmp_path / "run", [(s, [tb_writer.tf2_scalar("train_loss", v)]) for s, v in ((2, 0.3), (0, 2.3), (1, 0.9))])
    with pytest.raises(ReadError, match="valid_loss"):
        tensorboard_logs.read_losses(tmp_path / "run")
    tb_writer.write(tmp_path / "run2", [(s, [tb_writer.tf2_scalar("train_loss", v), tb_writer.tf2_scalar("val_loss", v)])
                                        for s, v in ((2, 0.3), (0, 2.3), (1, 0.9))])
    assert tensorboard_logs.read_losses(tmp_path / "run2")["train"] == pytest.approx([2.3, 0.9, 0.3])


@pytest.fixture(scope="module")
def test_u8():
    """A stand-in test set: 40 random 28x28 uint8 images (the reader only matches pixels)."""
    images = np.random.default_rng(5).integers(0, 256, (40, 28, 28)).astype(np.uint8)
    images[:, 0, 0] = 255  # max 255, as MNIST digits have
    return images


def _top3_steps(test_u8, value_of, missing=()):
    """One tag per class as seed 001 logged them: '<class> [p1, p2, p3]', images 3c, 3c+1, 3c+2."""
    steps = []
    for c in range(10):
        if c in missing:
            continue
        probs = [0.999 - 0.01 * c, 0.998 - 0.01 * c, 0.997 - 0.01 * c]
        steps.append((0, [value_of(f"{c} {probs}", [test_u8[3 * c + k] for k in range(3)])]))
    return steps


@pytest.mark.parametrize("value_of", [tb_writer.legacy_image, tb_writer.tf2_images], ids=["torch_grid", "tf2_images"])
def test_top3_images_are_matched_to_the_test_set_by_pixels(tmp_path, test_u8, value_of):
    tb_writer.write(tmp_path / "run", _top3_steps(test_u8, value_of))
    top3 = tensorboard_logs.read_top3_images(tmp_path / "run", test_u8)
    assert top3["index"].tolist() == [[3 * c, 3 * c + 1, 3 * c + 2] for c in range(10)]
    assert top3["prob"][7].tolist() == pytest.approx([0.929, 0.928, 0.927])
    # the judge takes them like a top3.json: valid, distinct, sorted
    labels = np.repeat(np.arange(10), 4)
    assert judges.judge_top3("n", top3, labels=labels).ok


def test_top3_images_of_a_missing_class_or_not_from_the_test_set_fail(tmp_path, test_u8):
    tb_writer.write(tmp_path / "run", _top3_steps(test_u8, tb_writer.tf2_images, missing=(4,)))
    with pytest.raises(ReadError, match=r"classes \[0, 1, 2, 3, 5, 6, 7, 8, 9\] only"):
        tensorboard_logs.read_top3_images(tmp_path / "run", test_u8)
    foreign = 255 - test_u8                          # same shapes, other pixels
    tb_writer.write(tmp_path / "run2", _top3_steps(foreign, tb_writer.tf2_images))
    with pytest.raises(ReadError, match="match no test image"):
        tensorboard_logs.read_top3_images(tmp_path / "run2", test_u8)
