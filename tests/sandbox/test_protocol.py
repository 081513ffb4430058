"""Message framing: round trips, and every kind of malformed message is refused without unpickling."""
import io
import json
import pathlib
import pickle
import struct

import numpy as np
import pytest

from grader.worker.protocol import EndOfStream, ProtocolError, decode_payload, encode, read_message, write_message


def roundtrip(header, arrays, max_bytes=1 << 30):
    buf = io.BytesIO()
    write_message(buf, header, arrays)
    buf.seek(0)
    return read_message(buf, max_bytes)


def frame(head_bytes: bytes, body: bytes = b"", head_len: int | None = None) -> bytes:
    """A message built by hand (to make it wrong on purpose)."""
    head_len = len(head_bytes) if head_len is None else head_len
    payload = struct.pack(">I", head_len) + head_bytes + body
    return struct.pack(">Q", len(payload)) + payload


def npy(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def test_round_trip_keeps_values_dtypes_shapes_and_order():
    arrays = {"x": np.random.default_rng(0).normal(size=(2, 3, 4)), "empty": np.zeros((0, 5)),
              "scalar": np.array(3.5), "ints": np.arange(6, dtype=np.int32).reshape(2, 3),
              "mask": np.array([True, False]), "fortran": np.asfortranarray(np.ones((3, 2)))}
    header, out = roundtrip({"op": "x", "nested": {"a": [1, 2.5, "é"]}}, arrays)
    assert header["op"] == "x" and header["nested"] == {"a": [1, 2.5, "é"]}
    assert list(out) == list(arrays)
    for name, arr in arrays.items():
        assert out[name].dtype == arr.dtype and out[name].shape == arr.shape
        np.testing.assert_array_equal(out[name], arr)
    assert [a["name"] for a in header["arrays"]] == list(arrays)


def test_messages_follow_each_other_on_one_stream():
    buf = io.BytesIO()
    write_message(buf, {"n": 1}, {"a": np.ones(2)})
    write_message(buf, {"n": 2})
    buf.seek(0)
    assert read_message(buf)[0]["n"] == 1
    assert read_message(buf)[0]["n"] == 2
    with pytest.raises(EndOfStream):
        read_message(buf)


def test_object_arrays_and_nan_headers_cannot_be_encoded():
    with pytest.raises(ProtocolError, match="object"):
        encode({}, {"o": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ProtocolError):
        encode({"loss": float("nan")})


def test_truncated_message_is_refused():
    data = encode({"op": "x"}, {"a": np.ones(10)})
    for cut in (3, 10, len(data) - 1):
        with pytest.raises(ProtocolError, match="end of stream"):
            read_message(io.BytesIO(data[:cut]))


def test_size_limit_is_enforced_before_reading_the_body():
    class Stream(io.BytesIO):
        reads = 0

        def readinto(self, b):
            Stream.reads += 1
            return super().readinto(b)

    stream = Stream(struct.pack(">Q", 1 << 40))
    with pytest.raises(ProtocolError, match="larger than the limit"):
        read_message(stream, max_bytes=1 << 20)
    assert Stream.reads == 1


@pytest.mark.parametrize("message, match", [
    (frame(b'{"arrays": []}', head_len=10_000), "past the end"),
    (frame(b'{"arrays": [], "x": NaN}'), "not valid JSON"),
    (frame(b'{"arrays": [], "x": Infinity}'), "not valid JSON"),
    (frame(b"{'arrays': []}"), "not valid JSON"),
    (frame(b'[1, 2]'), "JSON object"),
    (frame(b"\xff\xfe"), "not valid JSON"),
    (frame(b'{"arrays": [{"name": "a", "nbytes": 5}]}', b"abc"), "add up"),
    (frame(b'{"arrays": [{"name": "a", "nbytes": 1.5}]}', b"a"), "bad entry"),
    (frame(b'{"arrays": [{"name": "a", "nbytes": -1}]}'), "bad entry"),
    (frame(b'{"arrays": "nope"}'), "must be a list"),
    (frame(b'{"arrays": []}', b"trailing"), "add up"),
    (frame(b"[" * 100_000 + b"]" * 100_000), "not valid JSON"),
])
def test_malformed_messages_raise_protocol_error(message, match):
    with pytest.raises(ProtocolError, match=match):
        read_message(io.BytesIO(message))


def test_npy_header_promising_more_data_than_sent_is_refused_without_allocating():
    blob = npy(np.zeros(4))
    forged = blob.replace(b"(4,)", b"(10000000000000,)".ljust(4))
    head = json.dumps({"arrays": [{"name": "a", "nbytes": len(forged)}]}).encode()
    with pytest.raises(ProtocolError, match="promises"):
        read_message(io.BytesIO(frame(head, forged)))


class _Touch:
    """Unpickling this creates the marker file: proof that something was unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def test_pickles_are_never_loaded(tmp_path):
    marker = tmp_path / "unpickled"
    evil = _Touch(str(marker))
    blobs = {
        "raw pickle": pickle.dumps(evil),
        "object npy": npy(np.array([evil, 1], dtype=object), allow_pickle=True),
        "pickle behind npy magic": b"\x93NUMPY" + pickle.dumps(evil),
    }
    for label, blob in blobs.items():
        head = json.dumps({"arrays": [{"name": "a", "nbytes": len(blob)}]}).encode()
        with pytest.raises(ProtocolError):
            read_message(io.BytesIO(frame(head, blob)))
        with pytest.raises(ProtocolError):
            decode_payload(frame(head, blob)[8:])
    # the test's own pickles do work, so the marker's absence means nothing was unpickled
    assert not marker.exists()
    pickle.loads(pickle.dumps(evil))
    assert marker.exists()


def test_npz_zip_is_not_an_array():
    buf = io.BytesIO()
    np.savez(buf, a=np.ones(3))
    blob = buf.getvalue()
    head = json.dumps({"arrays": [{"name": "a", "nbytes": len(blob)}]}).encode()
    with pytest.raises(ProtocolError, match="not .npy"):
        read_message(io.BytesIO(frame(head, blob)))
