"""Safetensors headers, read with struct and json: no torch, no tensor bytes.

Layout of the file: 8 bytes little-endian header length N, N bytes of JSON, then the data region.
Each JSON entry names dtype, shape and [begin, end) offsets into the data region. The checks
mirror the safetensors library's own: a capped header, known dtypes, sizes that agree with the
offsets, offsets that tile the data region without overlap, and data as long as promised.
"""

from __future__ import annotations

import os
import reprlib
import struct
from math import prod
from operator import itemgetter
from pathlib import Path

from inspector.errors import CheckpointError
from inspector.files.bounded_json import parse_json
from inspector.files.guard import note_read
from inspector.formats.base import TensorInfo
from inspector.formats.dtypes import DTYPES

# Same cap as the safetensors library: a larger header is refused before it is read.
MAX_HEADER_BYTES = 100_000_000
# Tensors one header (one file) may hold. Published checkpoints are cut into shards of ~5 GB,
# which hold hundreds to a few thousand tensors (DeepSeek-V3's ~560, Kimi-K2's ~2,200, a
# 512-expert GPTQ MoE's ~6,000); the most in one published checkpoint is ~300,000, in its
# shards. 150,000 in one file keeps `inspect` and `export` of it within 1 GB and seconds. A
# sharded checkpoint's total is bounded by its index (inspector.formats.index.MAX_INDEX_ENTRIES).
# JSON bounds (inspector.files.bounded_json) keep the parse within that before the count is
# known.
MAX_TENSORS = 150_000
# The safetensors library reads shapes and offsets as Rust usize (64 bits) and refuses larger;
# torch and numpy hold sizes in int64, so a dim of 2^63 or more cannot be loaded (nor exported to
# parquet) either.
MAX_COUNT = 2**63

DTYPE_BYTES = {d.name: d.bytes for d in DTYPES}  # the dtypes safetensors knows, and their widths


def read_header(path: str | Path) -> tuple[list[TensorInfo], dict]:
    """Tensor headers and `__metadata__` of one safetensors file."""
    path = str(path)
    note_read(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            n = header_length(path, f.read(8), size)
            raw = f.read(n)
    except OSError as e:
        raise CheckpointError(path, f"cannot read: {e.strerror or e}") from e
    return parse_header(path, raw, size)


def header_length(where: str, first: bytes, size: int) -> int:
    """The JSON header's length, from the file's first 8 bytes, checked against the file's size
    (local, or a remote file's size from its Content-Range)."""
    if size < 8 or len(first) < 8:
        raise CheckpointError(where, f"file is {size} bytes, shorter than the 8-byte header"
                                     " length of a safetensors file")
    (n,) = struct.unpack("<Q", first[:8])
    if n > MAX_HEADER_BYTES:
        raise CheckpointError(where, f"header length {n:,} bytes is over the"
                                     f" {MAX_HEADER_BYTES:,}-byte limit: not a safetensors"
                                     " file, or a corrupt one")
    if 8 + n > size:
        raise CheckpointError(where, f"header length {n:,} bytes runs past the end of the"
                                     f" file ({size:,} bytes): truncated or not safetensors")
    return n


def parse_header(path: str, raw: bytes, size: int) -> tuple[list[TensorInfo], dict]:
    """Tensors and `__metadata__` of the JSON header `raw` of a file of `size` bytes."""
    header = parse_json(raw, path, CheckpointError, "header is not JSON", "the header")
    if not isinstance(header, dict):
        raise CheckpointError(path, f"header is JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise CheckpointError(path, "__metadata__ is not an object")
    for key, value in metadata.items():  # the library reads it as a map of string to string
        if not isinstance(value, str):
            raise CheckpointError(path, f"__metadata__ value of {reprlib.repr(key)} is"
                                        f" {reprlib.repr(value)}, not a string")
    if len(header) > MAX_TENSORS:
        raise CheckpointError(path, f"header holds {len(header):,} tensors, more than the"
                                    f" {MAX_TENSORS:,} read")
    data_start = 8 + len(raw)
    tensors = _tensors(path, header, data_start)
    _check_offsets(path, tensors, size - data_start, data_start)
    return tensors, metadata


def _tensors(path: str, header: dict, data_start: int) -> list[TensorInfo]:
    """Each entry checked and made a TensorInfo, in one loop with no call per tensor (a header
    may hold MAX_TENSORS): types compared with `is`, every count of every entry checked at once
    at the end (a C loop), and the slow path that words the message run only for an entry that
    fails them."""
    tensors: list[TensorInfo] = []
    append, counts = tensors.append, []
    extend = counts.extend
    new, width_of, fields = tuple.__new__, DTYPE_BYTES.get, _FIELDS
    try:
        for name, entry in header.items():
            dtype, shape, offsets = fields(entry)
            width = width_of(dtype)
            if (width is None or type(shape) is not list or type(offsets) is not list
                    or len(offsets) != 2):
                _refuse_entry(path, name, entry)
            extend(shape)
            extend(offsets)
            begin, end = offsets
            # sum() first: it refuses a str or list among the dims (TypeError), which prod()
            # would repeat (["a", 10**9]: a GB string); other non-counts fail the check below
            sum(shape)
            expected = prod(shape) * width
            if end - begin != expected:
                _refuse_size(path, name, entry, dtype, shape, begin, end, expected)
            append(new(TensorInfo, (name, dtype, tuple(shape), expected, path, data_start + begin,
                                    None)))
    except (TypeError, KeyError, ValueError):
        _refuse_entry(path, name, entry)
    if not _counts(counts) or not _is_text("".join(header)):
        for name, entry in header.items():  # find the first entry at fault, and say why
            if not (_is_text(name) and _counts(entry["shape"] + entry["data_offsets"])):
                _refuse_entry(path, name, entry)
    return tensors


def _refuse_size(path: str, name: str, entry: dict, dtype: str, shape: list, begin: int,
                 end: int, expected: int) -> None:
    """A tensor whose data_offsets do not span its dtype and shape (after its counts are checked:
    a negative or non-integer count is said as such first)."""
    if not (_is_text(name) and _counts(shape + entry["data_offsets"])) or begin > end:
        _refuse_entry(path, name, entry)
    raise CheckpointError(path, f"tensor '{name}': {dtype} {reprlib.repr(shape)} needs"
                                f" {_count(expected)} bytes but data_offsets span"
                                f" {_count(end - begin)}")


def _counts(values: list) -> bool:
    """Every item a non-negative int below MAX_COUNT (bool is not an int here)."""
    return not values or (set(map(type, values)) == _INT
                          and min(values) >= 0 and max(values) < MAX_COUNT)


_INT = {int}


def _refuse_entry(path: str, name: str, entry: object) -> None:
    """The CheckpointError for the first thing wrong with an entry that failed the fast checks."""
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
                                    " non-negative integers below 2^63")
    raise CheckpointError(path, f"tensor '{name}': data_offsets {reprlib.repr(offsets)} is not"
                                " [begin, end] with 0 <= begin <= end < 2^63")


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
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < MAX_COUNT


_FIELDS = itemgetter("dtype", "shape", "data_offsets")  # an entry's, in one call
_BY_OFFSET = itemgetter(5, 3)  # TensorInfo's (offset, nbytes), compared in C


def _check_offsets(path: str, tensors: list[TensorInfo], data_len: int, data_start: int) -> None:
    position = 0
    for t in sorted(tensors, key=_BY_OFFSET):
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
