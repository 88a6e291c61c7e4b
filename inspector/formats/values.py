"""A stored tensor's values as numpy, block by block: never the whole file, never torch.

A tensor is seen as a matrix (rows, cols): cols is its last dim (a 1-D tensor is one row), so a
fused part or an attention head is a rectangle of it. `blocks` cuts it into pieces of at most
about `max_values` values: whole rows when a row fits, else pieces of one row. `read` fetches the
bytes of one piece at the tensor's offset with one pread into a buffer the caller reuses
(`Scratch`), and views or converts them as float. Memory stays at a few blocks per thread
whatever the size of the checkpoint, and threads read pieces side by side (pread and numpy's
loops release the GIL).

Why pread and not a memory map: both read the page cache, but a map takes a page fault per 64 KB
touched and a fresh map per block or tensor, while a reused buffer takes none. On the 2-core VM
this was built on, GPT-2 124M in fp32 went through at 2.4-2.9 GB/s mapped block by block and
4.4-4.8 GB/s by pread into one buffer (one thread, page cache warm; mapping whole tensors was no
faster than blocks).

Conversions are exact: BF16 is the top half of a float32 (numpy has no bfloat16, so its bits are
shifted up), F16 and FP8 go through a table of every bit pattern, integers and F64 become
float64. GGUF's quantized blocks (Q4_1, Q8_0, ...) are dequantized by the `gguf` package, row by
row, exactly as llama.cpp defines them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import numpy as np

from inspector.errors import CheckpointError
from inspector.formats.base import TensorInfo

# Stored dtype -> numpy dtype the raw bytes are viewed as.
RAW = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16,
    "F8_E4M3": np.uint8, "F8_E5M2": np.uint8,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}
FLOAT32_OUT = ("F32", "F16", "BF16", "F8_E4M3", "F8_E5M2")  # the rest widen to float64


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


def read(info: TensorInfo, fd: int, block: Block, scratch: Scratch | None = None
         ) -> np.ndarray:
    """The block's values as float (float32; float64 for F64 and integers): 2-D (rows, cols) for
    a whole-row block, 1-D for a piece of a row. With `scratch` the result lives in the
    scratch's arrays, valid until the next read with the same scratch; without, it is new."""
    quantized = info.dtype not in RAW
    if quantized:
        per_block, size, _ = _quant(info)
        if block.start % per_block or (block.stop - block.start) % per_block:
            raise CheckpointError(info.file, f"tensor '{info.name}': row length {block.cols} is"
                                             f" not a whole number of {info.dtype} blocks")
        begin = info.offset + block.start // per_block * size
        length = (block.stop - block.start) // per_block * size
    else:
        raw_dtype = np.dtype(RAW[info.dtype])
        begin = info.offset + block.start * raw_dtype.itemsize
        length = (block.stop - block.start) * raw_dtype.itemsize
    raw = scratch.get("raw", np.uint8, length) if scratch else np.empty(length, np.uint8)
    _pread(fd, raw, begin, info)
    if quantized:
        return _shaped(_dequantize(info, raw, block), block)
    count = block.stop - block.start
    out = (scratch.get("values", np.float32, count)
           if scratch and info.dtype in FLOAT32_OUT and info.dtype != "F32" else None)
    return _shaped(to_float(raw.view(raw_dtype), info.dtype, out), block)


def _pread(fd: int, buffer: np.ndarray, offset: int, info: TensorInfo) -> None:
    view, done = memoryview(buffer), 0
    while done < len(view):
        try:
            n = os.preadv(fd, [view[done:]], offset + done)
        except OSError as e:
            raise CheckpointError(info.file, f"tensor '{info.name}': cannot read: {e}") from e
        if n == 0:  # e.g. the file shrank since its header was read
            raise CheckpointError(info.file, f"tensor '{info.name}': the file ends at byte"
                                             f" {offset + done:,}, inside the tensor's data")
        done += n


class Scratch:
    """Arrays one thread reuses from block to block: fresh memory costs a page fault per page
    (in a VM especially), which at a few MB a block would cost more than the arithmetic."""

    def __init__(self, least: int = 1 << 20) -> None:
        self.least = least
        self.arrays: dict[tuple[str, np.dtype], np.ndarray] = {}

    def get(self, name: str, dtype, size: int) -> np.ndarray:
        key = (name, np.dtype(dtype))
        array = self.arrays.get(key)
        if array is None or array.size < size:
            array = self.arrays[key] = np.empty(max(size, self.least), dtype)
        return array[:size]


def _shaped(flat: np.ndarray, block: Block) -> np.ndarray:
    return flat.reshape(-1, block.cols) if block.whole_rows else flat


def to_float(raw: np.ndarray, dtype: str, out: np.ndarray | None = None) -> np.ndarray:
    """Stored values -> float32 (float64 for F64 and integer dtypes); F32 and F64 as they are.
    `out`, a float32 array of raw's size, receives the float32 conversions."""
    if dtype in ("F32", "F64"):
        return raw
    if dtype == "BF16":  # bfloat16 is the high half of a float32: shift, exact
        wide = out.view(np.uint32) if out is not None else np.empty(raw.size, np.uint32)
        np.copyto(wide, raw)  # widen, then shift in place: 1.3x np.left_shift(..., dtype=)
        wide <<= 16
        return wide.view(np.float32)
    if dtype in ("F16", "F8_E4M3", "F8_E5M2"):  # a table of every bit pattern: exact, and
        bits = raw.view(np.uint16 if dtype == "F16" else np.uint8)  # 2x numpy's float16 cast
        return np.take(float_table(dtype), bits, out=out)
    return raw.astype(np.float64)


@cache
def float_table(dtype: str) -> np.ndarray:
    """float32 value of every bit pattern of a 16- or 8-bit float: F16 from numpy's own
    conversion; FP8 as OCP defines it (E4M3 'fn' has no infinities and one NaN per sign; E5M2 is
    IEEE-like)."""
    if dtype == "F16":
        return np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
    exp_bits, bias = (4, 7) if dtype == "F8_E4M3" else (5, 15)
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


class Files:
    """Open file descriptors for the files a run reads, closed together."""

    def __init__(self) -> None:
        self.fds: dict[str, int] = {}

    def fd(self, path: str) -> int:
        if path not in self.fds:
            try:
                self.fds[path] = fd = os.open(path, os.O_RDONLY)
            except OSError as e:
                raise CheckpointError(path, f"cannot read: {e.strerror or e}") from e
            if hasattr(os, "posix_fadvise"):  # read ahead generously when the cache is cold
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        return self.fds[path]

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()

