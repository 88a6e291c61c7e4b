"""A stored tensor's values, block by block, straight from the file: never the whole tensor in
memory, never torch.

A tensor is seen as a matrix (rows, cols): cols is its last dim (a 1-D tensor is one row), so a
fused part or an attention head is a rectangle of it. `blocks` cuts it into pieces of at most
about `max_values` values: whole rows when a row fits, else pieces of one row. `raw` gives a
block's bytes as a numpy view of the file, mapped once per run (`Files`), with how
inspector.values.kernels turns them into values; nothing is copied or converted ahead of the kernels,
which read each byte once. Memory stays at the pages being read, whatever the checkpoint's size.

Why one map per file and not pread into a buffer (the previous design): a pread copies every
block once more before the arithmetic reads it. With the fused kernels, GPT-2 124M in fp32 (page
cache warm, one thread, 2-core VM) went through at 5.3-5.9 GB/s from one map per file, and
3.6-4.0 GB/s by pread into a reused buffer. (Mapping afresh per block was slower still: a new
map takes a page fault per 64 KB.)

Conversions are exact: BF16 is the top half of a float32 (its bits shifted up), F16 and FP8 go
through a table of every bit pattern, integers and F64 become float64 (inspector.values.kernels).
GGUF's quantized blocks (Q4_1, Q8_0, ...) are dequantized by the `gguf` package, row by row,
exactly as llama.cpp defines them.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from inspector.errors import CheckpointError
from inspector.formats.base import TensorInfo
from inspector.formats.dtypes import DTYPES, FLOAT

# Stored dtype -> numpy dtype the raw bytes are viewed as (inspector.formats.dtypes names it).
RAW = {d.name: getattr(np, d.numpy_view) for d in DTYPES if d.numpy_view}


def _how(name: str):
    """How inspector.values.kernels turns a float viewed as its bit patterns into values (see its
    docstring), made when first asked: BF16 is the high half of a float32, its bits shifted up;
    F16 and FP8 go through a table of every bit pattern. Both exact."""
    return (lambda: 16) if name == "BF16" else (lambda: float_table(name))


# Only floats numpy has no type for; the rest (floats, integers, booleans) are cast.
HOW = {d.name: _how(d.name) for d in DTYPES
       if d.kind == FLOAT and d.numpy_view and not d.numpy_view.startswith("float")}


@dataclass(frozen=True)
class Block:
    """Values [start, stop) in flat (row-major) order: whole rows, or one piece of one row."""
    start: int
    stop: int
    cols: int  # the matrix's row length, to see a whole-row block as 2-D

    @property
    def row(self) -> int:
        return self.start // self.cols

    @property
    def whole_rows(self) -> bool:
        return self.start % self.cols == 0 and (self.stop - self.start) % self.cols == 0


def matrix(info: TensorInfo) -> tuple[int, int]:
    """(rows, cols) of the tensor seen as a matrix: cols is the last dim."""
    if not info.shape:
        return 1, 1
    cols = info.shape[-1]
    return (info.numel // cols if cols else 0), cols


def check_readable(info: TensorInfo) -> None:
    """Refuse, in one line, a tensor whose values this module cannot read."""
    if info.offset < 0:
        raise CheckpointError(info.file, f"tensor '{info.name}': its bytes are not addressable"
                                         " in the file (a pickled .bin); values are read from"
                                         " safetensors or GGUF files only")
    if info.dtype not in RAW:
        _quant(info)  # raises for a dtype that is neither plain nor a GGUF quantization


def blocks(info: TensorInfo, max_values: int) -> list[Block]:
    rows, cols = matrix(info)
    if rows == 0 or cols == 0:
        return []
    unit = _quant(info)[0] if info.dtype not in RAW else 1  # quantized: cut at whole blocks
    if cols <= max_values:
        step = max_values // cols * cols
        return [Block(s, min(s + step, rows * cols), cols) for s in range(0, rows * cols, step)]
    piece = max(unit, max_values // unit * unit)
    return [Block(r * cols + s, r * cols + min(s + piece, cols), cols)
            for r in range(rows) for s in range(0, cols, piece)]


def raw(info: TensorInfo, mapped: Mapped, block: Block) -> tuple[np.ndarray, Any]:
    """The block's stored values as inspector.values.kernels reads them, and how to read them: a
    view of the mapped file (no copy) for plain dtypes; float32 values for GGUF's quantized
    blocks, dequantized by the gguf package."""
    begin, length = _span(info, block)
    if begin + length > mapped.data.size:  # e.g. a file cut short after its header was written
        raise CheckpointError(info.file, f"tensor '{info.name}': the file ends at byte"
                                         f" {mapped.data.size:,}, inside the tensor's data")
    data = mapped.data[begin:begin + length]
    if info.dtype not in RAW:
        values = _dequantize(info, data, block)
        values.flags.writeable = False  # one array type for the kernels: all read-only
        return values, None
    return data.view(RAW[info.dtype]), HOW.get(info.dtype, lambda: None)()


def release(info: TensorInfo, mapped: Mapped, block: Block) -> None:
    """Done with a block: its pages leave this process's memory (they stay in the page cache,
    and a neighbouring block that shares an edge page maps it again). Without this the resident
    size would grow to the size of the files read."""
    if mapped.map is None or not hasattr(mapped.map, "madvise"):
        return
    begin, length = _span(info, block)
    start = begin - begin % mmap.PAGESIZE
    mapped.map.madvise(mmap.MADV_DONTNEED, start, min(begin + length, mapped.data.size) - start)


def _span(info: TensorInfo, block: Block) -> tuple[int, int]:
    """(first byte, number of bytes) of a block in its file."""
    if info.dtype not in RAW:
        per_block, size, _ = _quant(info)
        if block.start % per_block or (block.stop - block.start) % per_block:
            raise CheckpointError(info.file, f"tensor '{info.name}': row length {block.cols} is"
                                             f" not a whole number of {info.dtype} blocks")
        return (info.offset + block.start // per_block * size,
                (block.stop - block.start) // per_block * size)
    itemsize = np.dtype(RAW[info.dtype]).itemsize
    return info.offset + block.start * itemsize, (block.stop - block.start) * itemsize


FP8_LAYOUTS = {"F8_E4M3": (4, 7), "F8_E5M2": (5, 15)}  # (exponent bits, bias)


@cache
def float_table(dtype: str) -> np.ndarray:
    """float32 value of every bit pattern of a 16- or 8-bit float: F16 from numpy's own
    conversion; FP8 as OCP defines it (E4M3 'fn' has no infinities and one NaN per sign; E5M2 is
    IEEE-like)."""
    if dtype == "F16":
        return np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    exp_bits, bias = FP8_LAYOUTS[dtype]
    man_bits = 7 - exp_bits
    out = np.empty(256, np.float32)
    for byte in range(256):
        sign = -1.0 if byte & 0x80 else 1.0
        e, m = (byte >> man_bits) & ((1 << exp_bits) - 1), byte & ((1 << man_bits) - 1)
        top = (1 << exp_bits) - 1
        if dtype == "F8_E4M3" and e == top and m == (1 << man_bits) - 1:
            out[byte] = np.nan
        elif dtype == "F8_E5M2" and e == top:
            out[byte] = sign * np.inf if m == 0 else np.nan
        elif e == 0:
            out[byte] = sign * m * 2.0 ** (1 - bias - man_bits)
        else:
            out[byte] = sign * (1 + m / (1 << man_bits)) * 2.0 ** (e - bias)
    return out


def _quant(info: TensorInfo) -> tuple[int, int, object]:
    """(values per block, bytes per block, GGMLQuantizationType) of a GGUF quantized dtype."""
    try:
        from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

        qtype = GGMLQuantizationType[info.dtype]
        block, size = GGML_QUANT_SIZES[qtype]
    except (ImportError, KeyError) as e:
        raise CheckpointError(info.file, f"tensor '{info.name}': cannot read values of dtype"
                                         f" {info.dtype}") from e
    return block, size, qtype


def _dequantize(info: TensorInfo, raw: np.ndarray, block: Block) -> np.ndarray:
    from gguf.quants import dequantize

    per_block, size, qtype = _quant(info)
    # gguf dequantizes rows of whole blocks; one row per matrix row (or the piece of one row).
    row_bytes = (block.cols if block.whole_rows else block.stop - block.start) // per_block * size
    try:
        values = dequantize(raw.reshape(-1, row_bytes), qtype)
    except NotImplementedError as e:
        raise CheckpointError(info.file, f"tensor '{info.name}': the gguf package cannot"
                              f" dequantize {info.dtype}") from e
    return np.ascontiguousarray(values, dtype=np.float32).reshape(-1)


@dataclass(frozen=True)
class Mapped:
    """A file mapped read-only (`map`; None for an empty file) and seen as bytes (`data`)."""
    map: mmap.mmap | None
    data: np.ndarray


class Files:
    """The files a run reads, each mapped once and shared by the threads; unmapped together."""

    def __init__(self) -> None:
        self.maps: dict[str, Mapped] = {}

    def mapped(self, path: str) -> Mapped:
        if path not in self.maps:
            try:
                with open(path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
            except OSError as e:
                raise CheckpointError(path, f"cannot read: {e.strerror or e}") from e
            if m is not None and hasattr(m, "madvise"):  # read ahead generously when cold
                m.madvise(mmap.MADV_SEQUENTIAL)
            data = np.frombuffer(m, np.uint8) if m is not None else np.empty(0, np.uint8)
            self.maps[path] = Mapped(m, data)
        return self.maps[path]

    def close(self) -> None:
        maps, self.maps = self.maps, {}
        for mapped in maps.values():
            if mapped.map is not None:
                try:
                    mapped.map.close()
                except BufferError:  # a view still lives somewhere: unmapped when it goes
                    pass
