"""The common windows of `stats` and `diff` by numpy alone: F32, BF16 and F16 values, all finite.

Why numpy here and numba only behind it: numba's import costs about half a second of CPU a
process (0.52 s here, before any kernel runs), more than the arithmetic of a few GB of weights.
A window is widened chunk by chunk (CHUNK values, a few hundred KB, in the core's cache) into a
float64 buffer of this thread's, and each sum is one numpy call on it: min and max on the
float32 values (BF16 and F16: on their 16-bit patterns, _half_extremes), zeros by a comparison,
sum(x - shift) by np.add.reduce and the sums of squares and products by BLAS dots of 8,192
values (_dot). Every value and product is exact in float64, as in the numba kernels; only the
order of the float64 additions differs, so the sums agree with theirs to the last bits (1e-15
relative), and every figure `stats` and `diff` print (6 significant digits in tables) is the
same. Where the float64 passes can be spared they are: a centred window's sums run around 0
(_centred: no subtraction), and pieces of `diff` whose stored values are equal give b's sums
from a's (compare).

A window holding a NaN or an Inf, or of another dtype, returns None: the caller hands it to
the numba kernels (inspector.values.kernels.stats, .diff), which look at each value.
"""

from __future__ import annotations

import math
import struct
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


def _float32(piece: np.ndarray, how, name: str = "bits") -> np.ndarray:
    """A piece's values as float32 (exact): F32 as it is; BF16's 16 bits widened to an int32 and
    shifted to its top half (the sign-extended bits fall off the top), in a buffer of this
    thread's (`name`: a comparison holds both sides at once): a third faster than writing them
    into every other half of a zeroed buffer; F16 widened by numpy."""
    if how is None:
        return piece
    n = piece.size
    if isinstance(how, int):
        bits = _scratch(name, np.int32, CHUNK)[:n].reshape(piece.shape)
        np.copyto(bits, piece)
        np.left_shift(bits, 16, out=bits)
        return bits.view(np.float32)
    out = _scratch(name + "16", np.float32, CHUNK)[:n].reshape(piece.shape)
    np.copyto(out, piece.view(np.float16))
    return out


def _bf16_value(pattern: int) -> float:
    """The float a BF16 bit pattern (0 to 0xFFFF) holds."""
    return struct.unpack("<f", struct.pack("<I", pattern << 16))[0]


def _f16_value(pattern: int) -> float:
    """The float an F16 bit pattern (0 to 0xFFFF) holds."""
    return struct.unpack("<e", struct.pack("<H", pattern))[0]


# 16-bit floats: (first NaN or Inf pattern of the positive half, the value of a pattern)
HALVES = {True: (0x7F80, _bf16_value), False: (0x7C00, _f16_value)}  # BF16 or not (F16)


def _half_extremes(bits: np.ndarray, bf16: bool) -> tuple[float, float, int] | None:
    """(min, max, zeros) of a piece of BF16 or F16 values, read on their 16-bit patterns (sign
    and magnitude): as signed integers the largest is the largest non-negative value, as
    unsigned ones the largest is the most negative value, so two integer reductions over 2
    bytes a value (numpy's fastest loops, several times faster than float32 ones) find both, and
    whether a NaN or an Inf (the patterns from `inf` of each sign) is there: None then. Zeros
    are the patterns 0 and 0x8000 (-0.0, the smallest int16)."""
    inf, value = HALVES[bf16]
    signed, unsigned = bits.view(np.int16), bits.view(np.uint16)
    top = int(np.maximum.reduce(signed, axis=None))
    bottom = int(np.maximum.reduce(unsigned, axis=None))
    if top >= inf or bottom >= 0x8000 | inf:
        return None
    one_sided = top < 0 or bottom < 0x8000  # all negative, or none: the nearest to +0 is needed
    nearest = int(np.minimum.reduce(unsigned, axis=None)) if one_sided else 0
    hi = value(top if top >= 0 else nearest)
    lo = value(bottom if bottom >= 0x8000 else nearest)
    zeros = 0
    if lo <= 0.0 <= hi:
        zeros = bits.size - int(np.count_nonzero(signed))
        if int(np.minimum.reduce(signed, axis=None)) == -0x8000:  # a -0.0 (rare): counted apart
            is_negative_zero = _scratch("zero", np.bool_, CHUNK)[:bits.size].reshape(bits.shape)
            zeros += int(np.count_nonzero(np.equal(signed, -0x8000, out=is_negative_zero)))
    return lo, hi, zeros


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
    first_value = float(_float32(matrix[:1, :1], how)[0, 0])
    shift = None  # of the sums below: 0 (_centred) or the first value, chosen at the first piece
    zeros = 0
    s = q = 0.0
    lo, hi = math.inf, -math.inf
    for piece in _pieces(matrix):
        found, x = _extremes_and_values(piece, how)
        if found is None:
            return None  # a NaN or an Inf
        lo, hi, zeros = min(lo, found[0]), max(hi, found[1]), zeros + found[2]
        if shift is None:  # the first piece: around 0 when it straddles 0 and is centred
            shift = 0.0 if found[0] < 0.0 < found[1] else first_value
            piece_s, piece_q = _sums(x, shift)
            if shift == 0.0 and not _centred(piece_s, piece_q, x.size, first_value):
                shift = first_value
                piece_s, piece_q = _sums(x, shift)
        else:
            piece_s, piece_q = _sums(x, shift)
        s += piece_s
        q += piece_q
    if shift != first_value:  # from sums around 0 to sums around the first value
        n = rows * cols
        s, q = s - n * first_value, q - 2.0 * first_value * s + n * first_value * first_value
    return 0, 0, zeros, first_value, s, q, lo, hi


def _extremes_and_values(piece: np.ndarray, how) -> tuple:
    """((min, max, zeros) or None for a NaN or an Inf, float32 values) of a piece: 16-bit
    floats' extremes from their bits, before they are widened; float32's from its values."""
    if how is None:
        return _extremes(piece), piece
    found = _half_extremes(piece, isinstance(how, int))
    return found, (_float32(piece, how) if found is not None else None)


def _sums(x: np.ndarray, shift: float) -> tuple[float, float]:
    """(sum(x - shift), sum((x - shift)^2)) of float32 values, in float64 (exact terms)."""
    d = _widened(x, "d", shift)
    return float(np.add.reduce(d, axis=None)), _dot(d, d)


CENTRED = 100.0


def _centred(s: float, q: float, n: int, first_value: float) -> bool:
    """Whether a window's sums may run around 0, sparing the subtraction of the shift (a
    pass over the float64 values, a fifth of the arithmetic): when its first piece (a sixteenth
    of a block or more) has mean^2 + first_value^2 <= CENTRED x its variance, as the weights of
    a matrix (mean near 0). Then M2 = q - s mean, and the move to sums around the first value,
    lose at most about CENTRED x 1e-16 relative to rounding, far below the 6 digits shown;
    the rest of the window can only add variance (the law of total variance) or a mean far
    from 0, which adds at least as much variance. Else (norm scales near 1), around the first
    value, as the numba kernels: no cancellation whatever the mean."""
    m2 = q - s * s / n
    return m2 > 0.0 and s * s / n + n * first_value * first_value <= CENTRED * m2


def _extremes(x: np.ndarray) -> tuple[float, float, int] | None:
    """(min, max, zeros) of a piece of float32 values; None when a value is NaN (min and max
    propagate it) or Inf."""
    lo = float(np.minimum.reduce(x, axis=None))
    hi = float(np.maximum.reduce(x, axis=None))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    zeros = 0
    if lo <= 0.0 <= hi:  # (a comparison into a buffer, then a count of bytes: twice as fast
        # as np.count_nonzero of the floats)
        is_zero = _scratch("zero", np.bool_, CHUNK)[:x.size].reshape(x.shape)
        zeros = int(np.count_nonzero(np.equal(x, 0, out=is_zero)))
    return lo, hi, zeros


def compare(ra, ha, rb, hb, first: int, rows: int, cols: int, stride: int, tolerance: float):
    """(changed, aa, bb, dd, ab, max |b - a|, 0) of the same window of two tensors of finite
    values, as inspector.values.kernels.compare; None when a value is NaN or Inf."""
    ma = _matrix(ra, first, rows, cols, stride)
    mb = _matrix(rb, first, rows, cols, stride)
    # Pieces whose stored values are equal (a copy, a frozen layer) change nothing: b's sums
    # are a's, to the bit (the same products added in the same order), and the difference is 0.
    same = ra.dtype == rb.dtype and _same_decoding(ha, hb) and tolerance >= 0
    changed = 0
    aa = bb = dd = ab = largest = 0.0
    for pa, pb in zip(_pieces(ma), _pieces(mb)):
        a = _widened(_float32(pa, ha), "a")
        if same and _equal(pa, pb):
            part = _dot(a, a)
            aa, bb, ab = aa + part, bb + part, ab + part
            if not math.isfinite(aa):
                return None
            continue
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


def _same_decoding(ha, hb) -> bool:
    """Whether two sides' stored values become numbers the same way (inspector.values.kernels)."""
    return ha is hb or (isinstance(ha, int) and isinstance(hb, int) and ha == hb)


def _equal(pa: np.ndarray, pb: np.ndarray) -> bool:
    """Whether two pieces hold the same stored values (as numbers for F32: -0.0 equals 0.0, a
    NaN nothing; as bits for 16-bit floats), by a comparison into a buffer of this thread's."""
    differ = _scratch("zero", np.bool_, CHUNK)[:pa.size].reshape(pa.shape)
    return not np.not_equal(pa, pb, out=differ).any()
