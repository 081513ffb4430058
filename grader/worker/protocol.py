"""Framing of the messages between the grader and its sandboxed worker (both sides use it).

One message = 8-byte big-endian payload length + payload. Payload = 4-byte big-endian header
length + UTF-8 JSON header + the arrays' ``.npy`` bytes, concatenated in the order of
``header["arrays"] = [{"name": str, "nbytes": int}, ...]``.

Nothing is ever unpickled or eval'd: JSON goes through a fixed ``json.JSONDecoder`` (NaN and
Infinity rejected) and arrays through ``np.load(..., allow_pickle=False)`` after their ``.npy``
header has been checked against the bytes actually sent. Standard library + numpy only.
"""

from __future__ import annotations

import io
import json
import math
import struct

import numpy as np
import numpy.lib.format as npy_format

# Bound once at import, so that student code monkeypatching json / numpy / struct later in the
# worker cannot break (or spy on) the framing.
_pack_u64 = struct.Struct(">Q").pack
_unpack_u64 = struct.Struct(">Q").unpack
_pack_u32 = struct.Struct(">I").pack
_unpack_u32 = struct.Struct(">I").unpack
_BytesIO = io.BytesIO
_np_save = np.save
_np_load = np.load
_np_asarray = np.asarray
_np_dtype = np.dtype
_ndarray = np.ndarray
_read_magic = npy_format.read_magic
_read_header = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
_prod = math.prod

NPY_MAGIC = b"\x93NUMPY"
LENGTH_BYTES = 8
HEADER_LENGTH_BYTES = 4
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class ProtocolError(Exception):
    """A message that is malformed, truncated, too large or cannot be encoded."""


class EndOfStream(ProtocolError, EOFError):
    """The stream ended cleanly before a new message began (the other side closed it)."""


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in a message header")


# bound methods: patching json.JSONEncoder.encode / JSONDecoder.decode later changes nothing here
_json_encode = json.JSONEncoder(allow_nan=False, ensure_ascii=True, separators=(",", ":")).encode
_json_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


def encode(header: dict, arrays: dict | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of one message: ``header`` (JSON-able dict) plus named arrays as ``.npy``.

    An array larger than ``max_bytes`` is refused before it is written out (a zero-stride view
    of terabytes is cheap to make and would exhaust memory when materialised)."""
    if not isinstance(header, dict):
        raise ProtocolError(f"a message header must be a dict, not {type(header).__name__}")
    blobs, listing = [], []
    for name, value in (arrays or {}).items():
        if not isinstance(name, str):
            raise ProtocolError(f"array names must be strings, not {type(name).__name__}")
        blob = _array_bytes(name, value, max_bytes)
        blobs.append(blob)
        listing.append({"name": name, "nbytes": len(blob)})
    head = dict(header)
    head["arrays"] = listing
    try:
        head_bytes = _json_encode(head).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"message header cannot be sent as JSON: {exc}") from None
    payload_len = HEADER_LENGTH_BYTES + len(head_bytes) + sum(map(len, blobs))
    return b"".join([_pack_u64(payload_len), _pack_u32(len(head_bytes)), head_bytes, *blobs])


def _array_bytes(name: str, value, max_bytes: int) -> bytes:
    try:
        arr = _np_asarray(value)
    except Exception as exc:
        raise ProtocolError(f"array {name!r} cannot be converted to a NumPy array: {exc}") from None
    if arr.dtype.hasobject:
        raise ProtocolError(f"array {name!r} has dtype object (not numbers) and cannot be sent")
    if arr.nbytes > max_bytes:
        raise ProtocolError(f"array {name!r} of shape {arr.shape} holds {arr.nbytes / 2**20:.0f} MB, more than "
                            f"the {max_bytes / 2**20:.0f} MB a reply may carry")
    buf = _BytesIO()
    try:
        _np_save(buf, arr, allow_pickle=False)
    except Exception as exc:
        raise ProtocolError(f"array {name!r} cannot be sent: {exc}") from None
    return buf.getvalue()


def write_message(fileobj, header: dict, arrays: dict | None = None) -> None:
    """Encode and write one message to a binary file object, then flush it."""
    data = encode(header, arrays)
    fileobj.write(data)
    flush = getattr(fileobj, "flush", None)
    if flush is not None:
        flush()


def _read_exact(fileobj, n: int, what: str) -> bytes:
    """Exactly ``n`` bytes (short reads are retried); EOF before that is a ProtocolError."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    readinto = getattr(fileobj, "readinto", None)
    while got < n:
        if readinto is not None:
            k = readinto(view[got:])
        else:
            chunk = fileobj.read(n - got)
            k = len(chunk) if chunk else 0
            view[got:got + k] = chunk or b""
        if not k:
            if got == 0 and what == "length":
                raise EndOfStream("end of stream before a message")
            raise ProtocolError(f"end of stream in the middle of a message ({what}: {got} of {n} bytes)")
        got += k
    return bytes(buf)


def read_message(fileobj, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[dict, dict[str, np.ndarray]]:
    """Read one message; returns ``(header, arrays)``.

    Raises ``EndOfStream`` (a ProtocolError) on a clean end of stream before a message,
    ``ProtocolError`` on anything else that is wrong (size above ``max_bytes``, truncation, bad JSON, bad array data).
    """
    (payload_len,) = _unpack_u64(_read_exact(fileobj, LENGTH_BYTES, "length"))
    if payload_len > max_bytes:
        raise ProtocolError(f"message of {payload_len} bytes is larger than the limit of {max_bytes} bytes")
    if payload_len < HEADER_LENGTH_BYTES:
        raise ProtocolError(f"message of {payload_len} bytes is too short to hold a header")
    return decode_payload(_read_exact(fileobj, payload_len, "payload"))


def decode_payload(payload: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """Split and check a payload (everything after the 8-byte length)."""
    if len(payload) < HEADER_LENGTH_BYTES:
        raise ProtocolError("message too short to hold a header")
    (head_len,) = _unpack_u32(payload[:HEADER_LENGTH_BYTES])
    body_start = HEADER_LENGTH_BYTES + head_len
    if body_start > len(payload):
        raise ProtocolError(f"header length {head_len} runs past the end of the message ({len(payload)} bytes)")
    try:
        header = _json_decode(payload[HEADER_LENGTH_BYTES:body_start].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"message header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError(f"message header must be a JSON object, not {type(header).__name__}")
    listing = header.get("arrays", [])
    if not isinstance(listing, list):
        raise ProtocolError("message header 'arrays' must be a list")
    entries = []
    for item in listing:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str)
                and type(item.get("nbytes")) is int and item["nbytes"] >= 0):
            raise ProtocolError(f"bad entry in 'arrays': {str(item)[:200]}")
        entries.append((item["name"], item["nbytes"]))
    names = [n for n, _ in entries]
    if len(set(names)) != len(names):
        raise ProtocolError("duplicate array names in one message")
    body_len = len(payload) - body_start
    if sum(nb for _, nb in entries) != body_len:
        raise ProtocolError(f"array sizes add up to {sum(nb for _, nb in entries)} bytes but the message "
                            f"carries {body_len} bytes of array data")
    arrays: dict[str, np.ndarray] = {}
    pos = body_start
    for name, nbytes in entries:
        arrays[name] = _decode_array(name, payload[pos:pos + nbytes])
        pos += nbytes
    return header, arrays


def _decode_array(name: str, blob: bytes) -> np.ndarray:
    """One ``.npy`` blob -> array, after checking that its header matches its size."""
    if not blob.startswith(NPY_MAGIC):
        raise ProtocolError(f"array {name!r} is not .npy data")
    buf = _BytesIO(blob)
    try:
        version = _read_magic(buf)
        reader = _read_header.get(version)
        if reader is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, _fortran, dtype = reader(buf)
    except Exception as exc:
        raise ProtocolError(f"array {name!r} has a bad .npy header: {exc}") from None
    dtype = _np_dtype(dtype)
    if dtype.hasobject:
        raise ProtocolError(f"array {name!r} has dtype object, which is never loaded")
    expected = buf.tell() + _prod(shape) * dtype.itemsize
    if expected != len(blob):
        raise ProtocolError(f"array {name!r}: its .npy header promises {expected} bytes but {len(blob)} were sent")
    buf.seek(0)
    try:
        arr = _np_load(buf, allow_pickle=False)
    except Exception as exc:
        raise ProtocolError(f"array {name!r} cannot be loaded: {exc}") from None
    if type(arr) is not _ndarray:
        raise ProtocolError(f"array {name!r} did not load as a plain array")
    return arr
