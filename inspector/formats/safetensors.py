"""Safetensors headers, read with struct and json: no torch, no tensor bytes.

Layout of the file: 8 bytes little-endian header length N, N bytes of JSON, then the data region.
Each JSON entry names dtype, shape and [begin, end) offsets into the data region. The checks
mirror the safetensors library's own: a capped header, known dtypes, sizes that agree with the
offsets, offsets that tile the data region without overlap, and data as long as promised.
"""

from __future__ import annotations

import json
import os
import reprlib
import struct
from math import prod
from pathlib import Path

from inspector.errors import CheckpointError
from inspector.formats.base import TensorInfo

# Same cap as the safetensors library: a larger header is refused before it is read.
MAX_HEADER_BYTES = 100_000_000

DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}


def read_header(path: str | Path) -> tuple[list[TensorInfo], dict]:
    """Tensor headers and `__metadata__` of one safetensors file."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                raise CheckpointError(path, f"file is {size} bytes, shorter than the 8-byte"
                                            " header length of a safetensors file")
            (n,) = struct.unpack("<Q", f.read(8))
            if n > MAX_HEADER_BYTES:
                raise CheckpointError(path, f"header length {n:,} bytes is over the"
                                            f" {MAX_HEADER_BYTES:,}-byte limit: not a safetensors"
                                            " file, or a corrupt one")
            if 8 + n > size:
                raise CheckpointError(path, f"header length {n:,} bytes runs past the end of the"
                                            f" file ({size:,} bytes): truncated or not safetensors")
            raw = f.read(n)
    except OSError as e:
        raise CheckpointError(path, f"cannot read: {e.strerror or e}") from e
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(path, f"header is not JSON ({e})") from e
    except RecursionError as e:  # `[[[[...` nested deeper than the parser's stack
        raise CheckpointError(path, "header is not safetensors JSON: nested too deeply") from e
    if not isinstance(header, dict):
        raise CheckpointError(path, f"header is JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise CheckpointError(path, "__metadata__ is not an object")
    data_start = 8 + n
    tensors = [_tensor(path, name, entry, data_start) for name, entry in header.items()]
    _check_offsets(path, tensors, size - data_start, data_start)
    return tensors, metadata


def _tensor(path: str, name: str, entry: object, data_start: int) -> TensorInfo:
    if not _is_text(name):
        raise CheckpointError(path, f"tensor name {name!r} is not valid Unicode (a lone"
                                    " surrogate escape)")
    if not isinstance(entry, dict):
        raise CheckpointError(path, f"tensor '{name}': entry is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        raise CheckpointError(path, f"tensor '{name}': unknown dtype {reprlib.repr(dtype)}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise CheckpointError(path, f"tensor '{name}': shape {reprlib.repr(shape)} is not a list of"
                                    " non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(map(_is_count, offsets))
            or offsets[0] > offsets[1]):
        raise CheckpointError(path, f"tensor '{name}': data_offsets {reprlib.repr(offsets)} is not"
                                    " [begin, end] with 0 <= begin <= end")
    begin, end = offsets
    expected = prod(shape) * DTYPE_BYTES[dtype]
    if end - begin != expected:
        raise CheckpointError(path, f"tensor '{name}': {dtype} {reprlib.repr(shape)} needs"
                                    f" {_count(expected)} bytes but data_offsets span"
                                    f" {_count(end - begin)}")
    return TensorInfo(name=name, dtype=dtype, shape=tuple(shape), nbytes=end - begin, file=path,
                      offset=data_start + begin)


def _is_text(s: str) -> bool:
    """JSON's \\uXXXX escapes can spell lone surrogates, which no UTF-8 output can print (the
    safetensors library's parser refuses them too)."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _count(n: int) -> str:
    """A byte count for a message; a corrupt shape's product can outgrow int -> str itself."""
    return f"{n:,}" if n < 10**30 else "over 10^30"


def _is_count(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _check_offsets(path: str, tensors: list[TensorInfo], data_len: int, data_start: int) -> None:
    position = 0
    for t in sorted(tensors, key=lambda t: (t.offset, t.nbytes)):
        begin = t.offset - data_start
        if begin < position:
            raise CheckpointError(path, f"tensor '{t.name}': data_offsets overlap the tensor"
                                        " before it")
        if begin > position:
            raise CheckpointError(path, f"tensor '{t.name}': a gap of {_count(begin - position)} bytes"
                                        " before its data_offsets")
        position = begin + t.nbytes
    if position > data_len:
        raise CheckpointError(path, f"data is {data_len:,} bytes but the header promises"
                                    f" {_count(position)}: the file is truncated")
