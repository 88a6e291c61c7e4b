"""The common windows of `stats` and `diff` by numpy alone: F32, BF16 and F16 values, all finite.

Why numpy here and numba only behind it: numba's import costs about half a second of CPU a
process (0.52 s here, before any kernel runs), more than the arithmetic of a few GB of weights.
A window is widened chunk by chunk (CHUNK values, a few hundred KB, in the core's cache) into a
float64 buffer of this thread's, and each sum is one numpy call on it: min and max on the
float32 values, zeros by a comparison, sum(x - shift) by np.add.reduce and the sums of squares
and products by BLAS dots of 8,192 values (_dot). Every value and product is exact
in float64, as in the numba kernels; only the order of the float64 additions differs, so the
sums agree with theirs to the last bits (1e-15 relative), and every figure `stats` and `diff`
print (6 significant digits in tables) is the same.

A window holding a NaN or an Inf, or of another dtype, returns None: the caller hands it to
the numba kernels (inspector.values.kernels.stats, .diff), which look at each value.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

CHUNK = 1 << 17  # values per step: 512 KB of float32 and 1 MB of float64, in L2 and L3
ROW = 1 << 13  # values per BLAS dot (_dot)

_buffers = threading.local()


def _scratch(name: str, dtype, size: int) -> np.ndarray:
    """A buffer of this thread's, reused from window to window."""
    held = getattr(_buffers, name, None)
    if held is None or held.size < size:
        held = np.empty(size, dtype)
        setattr(_buffers, name, held)
    return held


def handles(raw: np.ndarray, how) -> bool:
    """Whether this module reads raw (viewed as inspector.values.blocks gives it)."""
    if how is None:
        return raw.dtype == np.float32
    if isinstance(how, int):
        return how == 16
    return raw.dtype.itemsize == 2  # F16 (its table is not needed: numpy has float16)


def _matrix(raw: np.ndarray, first: int, rows: int, cols: int, stride: int) -> np.ndarray:
    """The window as a (rows, cols) view of raw, no copy; one row when rows follow each other."""
    if stride == cols or rows == 1:
        return raw[first:first + rows * cols].reshape(1, rows * cols)
    step = raw.strides[0]
    return as_strided(raw[first:], shape=(rows, cols), strides=(stride * step, step),
                      writeable=False)


def _pieces(matrix: np.ndarray):
    """The matrix in pieces of about CHUNK values: groups of whole rows, or pieces of a row."""
    rows, cols = matrix.shape
    if cols >= CHUNK:
        for r in range(rows):
            for c in range(0, cols, CHUNK):
                yield matrix[r, c:c + CHUNK]
        return
    group = CHUNK // cols
    for r in range(0, rows, group):
        yield matrix[r:r + group]


def _float32(piece: np.ndarray, how) -> np.ndarray:
    """A piece's values as float32 (exact): F32 as it is; BF16's 16 bits widened to an int32 and
    shifted to its top half (the sign-extended bits fall off the top), in a buffer of this
    thread's: a third faster than writing them into every other half of a zeroed buffer; F16
    widened by numpy."""
    if how is None:
        return piece
    n = piece.size
    if isinstance(how, int):
        bits = _scratch("bits", np.int32, CHUNK)[:n].reshape(piece.shape)
        np.copyto(bits, piece)
        np.left_shift(bits, 16, out=bits)
        return bits.view(np.float32)
    out = _scratch("halves", np.float32, CHUNK)[:n].reshape(piece.shape)
    np.copyto(out, piece.view(np.float16))
    return out


def _widened(values: np.ndarray, name: str, shift: float = 0.0) -> np.ndarray:
    """values - shift in float64 (exact for float32 values and a float32 shift of the same
    scale; as the numba kernels compute it), in this thread's buffer `name`."""
    out = _scratch(name, np.float64, CHUNK)[:values.size]  # flat: einsum's fastest loop
    np.copyto(out.reshape(values.shape), values)
    if shift:
        np.subtract(out, shift, out=out)
    return out


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """sum(a * b) of two flat float64 arrays, in rows of ROW values, each a BLAS dot: OpenBLAS
    keeps a dot of 10,000 values or fewer on the calling thread (a longer one goes to its own
    threads, which fight the engine's for the cores), and BLAS runs twice as fast as
    np.einsum here."""
    n = a.size
    whole = n - n % ROW
    total = float(np.vecdot(a[:whole].reshape(-1, ROW), b[:whole].reshape(-1, ROW)).sum()) \
        if whole else 0.0
    return total + float(np.dot(a[whole:], b[whole:])) if whole < n else total


def moments(raw: np.ndarray, how, first: int, rows: int, cols: int, stride: int):
    """(0, 0, zeros, shift, s, q, min, max) of a window of finite values, as
    inspector.values.kernels.moments; None when a value is NaN or Inf."""
    matrix = _matrix(raw, first, rows, cols, stride)
    shift = float(_float32(matrix[:1, :1], how)[0, 0])
    zeros = 0
    s = q = 0.0
    lo, hi = math.inf, -math.inf
    for piece in _pieces(matrix):
        x = _float32(piece, how)
        lo = min(lo, float(np.minimum.reduce(x, axis=None)))
        hi = max(hi, float(np.maximum.reduce(x, axis=None)))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None  # a NaN (min and max propagate it) or an Inf
        if lo <= 0.0 <= hi:  # (a comparison into a buffer, then a count of bytes: twice as
            # fast as np.count_nonzero of the floats)
            is_zero = _scratch("zero", np.bool_, CHUNK)[:x.size].reshape(x.shape)
            zeros += int(np.count_nonzero(np.equal(x, 0, out=is_zero)))
        d = _widened(x, "d", shift)
        s += float(np.add.reduce(d, axis=None))
        q += _dot(d, d)
    return 0, 0, zeros, shift, s, q, lo, hi


def compare(ra, ha, rb, hb, first: int, rows: int, cols: int, stride: int, tolerance: float):
    """(changed, aa, bb, dd, ab, max |b - a|, 0) of the same window of two tensors of finite
    values, as inspector.values.kernels.compare; None when a value is NaN or Inf."""
    ma = _matrix(ra, first, rows, cols, stride)
    mb = _matrix(rb, first, rows, cols, stride)
    changed = 0
    aa = bb = dd = ab = largest = 0.0
    for pa, pb in zip(_pieces(ma), _pieces(mb)):
        a = _widened(_float32(pa, ha), "a")
        b = _widened(_float32(pb, hb), "b")
        aa += _dot(a, a)
        bb += _dot(b, b)
        if not (math.isfinite(aa) and math.isfinite(bb)):
            return None
        d = _scratch("d", np.float64, CHUNK)[:a.size]
        np.subtract(b, a, out=d)  # exact in float64 for values of 32 bits or fewer
        dd += _dot(d, d)
        ab += _dot(a, b)
        np.abs(d, out=d)
        largest = max(largest, float(np.maximum.reduce(d, axis=None)))
        over = _scratch("zero", np.bool_, CHUNK)[:d.size]
        changed += int(np.count_nonzero(np.greater(d, tolerance, out=over)))
    return changed, aa, bb, dd, ab, largest, 0
