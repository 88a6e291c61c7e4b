"""The kernels of `stats`: count, NaN, Inf, zeros, shift, sum(x - shift), sum((x - shift)^2),
min and max of a window, fast (SIMD, finite values assumed) and checked (each value looked at,
the reference). inspector.values.kernels says how and why."""

from __future__ import annotations

import math

import numpy as np

from inspector.values.kernels.primitives import (
    FAST,
    JIT,
    decode,
    float_of_bits,
    fmax32,
    fmin32,
    kernel_key,
    njit,
    one_run,
    overload,
    pair_bits,
    sixteen_lanes,
    types,
    value32,
    wide_vectors,
)


@njit(fastmath=FAST, inline="always", **JIT)
def _row_moments_one_by_one(raw, how, base, cols, shift, lo, hi):
    zeros = np.int32(0)
    s = 0.0
    q = 0.0
    for j in range(cols):
        v = value32(raw, base + j, how)
        lo = fmin32(lo, v)
        hi = fmax32(hi, v)
        zeros = np.int32(zeros + np.int32(v == np.float32(0)))
        d = np.float64(v) - shift
        s += d
        q += d * d
    return zeros, s, q, lo, hi


def _row_moments(raw, how, base, cols, shift, lo, hi):
    """(zeros, s, q, lo, hi) of the `cols` values from raw[base] (F32, BF16, F16, FP8), finite
    values assumed: zeros counted in int32 lanes (an int64 or float64 count would halve the lanes
    of the whole loop), min and max on float32 lanes, sums of x - shift in float64."""


@overload(_row_moments, inline="always")
def _row_moments_impl(raw, how, base, cols, shift, lo, hi):
    if not (isinstance(how, types.Integer) and raw.layout == "C"):  # pairs need contiguity
        return lambda raw, how, base, cols, shift, lo, hi: _row_moments_one_by_one(
            raw, how, base, cols, shift, lo, hi)

    def row_bf16(raw, how, base, cols, shift, lo, hi):
        # Two values per 32-bit load: each half made a float32 by a shift or a mask. One value
        # per 16-bit load ran at a third of the speed on data not in cache (2.6 GB/s against
        # 7.0 here; the widening loads, vpmovzxwd, held the loop back).
        zeros = np.int32(0)
        s = 0.0
        q = 0.0
        for i in range(cols // 2):
            w = pair_bits(raw, np.uint64(base + 2 * i))
            v1 = float_of_bits(w << np.int32(16))
            v2 = float_of_bits(w & np.int32(-65536))
            lo = fmin32(lo, fmin32(v1, v2))
            hi = fmax32(hi, fmax32(v1, v2))
            zeros = np.int32(zeros + np.int32(v1 == np.float32(0)) + np.int32(v2 == np.float32(0)))
            d1 = np.float64(v1) - shift
            d2 = np.float64(v2) - shift
            s += d1 + d2
            q += d1 * d1 + d2 * d2
        last_zeros, last_s, last_q, lo, hi = _row_moments_one_by_one(  # an odd row's last value
            raw, how, base + cols - cols % 2, cols % 2, shift, lo, hi)
        return zeros + last_zeros, s + last_s, q + last_q, lo, hi
    return row_bf16


@njit(fastmath=FAST, **JIT)
def _moments_fast(raw, how, first, rows, cols, stride):
    """F32, BF16, F16 and FP8 windows: (zeros, shift, s, q, min, max), valid only when s and q are
    finite (else some value was NaN or Inf). cols < 2^31 (one_run)."""
    wide_vectors()
    v0 = value32(raw, first, how)
    shift = np.float64(v0)
    s = 0.0
    q = 0.0
    zeros = 0
    lo = hi = v0
    for r in range(rows):
        row_zeros, row_s, row_q, lo, hi = _row_moments(raw, how, first + r * stride, cols,
                                                       shift, lo, hi)
        zeros += row_zeros
        s += row_s
        q += row_q
    return zeros, shift, s, q, np.float64(lo), np.float64(hi)


@njit(**JIT)
def _moments_checked(raw, how, first, rows, cols, stride):
    """Any window: (NaN, Inf, zeros, shift, s, q, min, max) over the finite values, each value
    looked at (the reference the fast kernel must agree with)."""
    nan = 0
    inf = 0
    zeros = 0
    shift = np.nan
    s = 0.0
    q = 0.0
    lo = np.inf
    hi = -np.inf
    for r in range(rows):
        base = first + r * stride
        for j in range(cols):
            x = decode(raw, base + j, how)
            if np.isnan(x):
                nan += 1
                continue
            if x == np.inf or x == -np.inf:
                inf += 1
                continue
            if x == 0:
                zeros += 1
            if np.isnan(shift):  # the first finite value: the shift of a stable sum
                shift = x
            d = x - shift
            s += d
            q += d * d
            lo = min(lo, x)  # (x is finite here: NaN was counted above)
            hi = max(hi, x)
    return nan, inf, zeros, (0.0 if np.isnan(shift) else shift), s, q, lo, hi


@njit(fastmath=FAST, **JIT)
def _moments_fast_many(raw, how, windows):
    """_moments_fast of several windows of one block at once, as rows of a float64 array
    (zeros, shift, s, q, min, max), taking row r of every window before row r + 1: the fused
    parts (and heads) of a block cut its rows across, so the block is read once, in order,
    instead of once per part at a stride (GPT-2's c_attn here: fp32 4.5 GB/s against 4.1-4.5,
    BF16 3.9-4.2 against 3.2-3.4)."""
    wide_vectors()
    count = windows.shape[0]
    out = np.zeros((count, 6))
    lo = np.empty(count, np.float32)
    hi = np.empty(count, np.float32)
    most = 0
    for g in range(count):
        v0 = value32(raw, windows[g, 0], how)
        out[g, 1] = v0
        lo[g] = hi[g] = v0
        most = max(most, windows[g, 1])
    for r in range(most):
        for g in range(count):
            if r < windows[g, 1]:
                zeros, s, q, lo[g], hi[g] = _row_moments(
                    raw, how, windows[g, 0] + r * windows[g, 3], windows[g, 2], out[g, 1], lo[g],
                    hi[g])
                out[g, 0] += zeros
                out[g, 2] += s
                out[g, 3] += q
    for g in range(count):
        out[g, 4] = lo[g]
        out[g, 5] = hi[g]
    return out


def moments_many(raw, how, windows: list[tuple[int, int, int, int]]) -> list[tuple]:
    """moments() of each window (first, rows, cols, stride) of one block, in one pass over it
    where the windows share their rows."""
    if (len(windows) == 1 or not (how is not None or raw.dtype == np.float32)
            or any(rows * cols == 0 for _, rows, cols, _ in windows)):
        return [moments(raw, how, *w) for w in windows]
    fast = sixteen_lanes(_moments_fast_many, kernel_key(_moments_fast_many, raw, how), raw, how,
                          np.array(windows, dtype=np.int64).reshape(-1, 4))
    out = []
    for (first, rows, cols, stride), (zeros, shift, s, q, lo, hi) in zip(windows, fast.tolist()):
        if math.isfinite(s) and math.isfinite(q):
            out.append((0, 0, int(zeros), shift, s, q, lo, hi))
        else:
            out.append(_moments_checked(raw, how, first, rows, cols, stride))
    return out


def moments(raw, how, first: int, rows: int, cols: int, stride: int) -> tuple:
    """(NaN, Inf, zeros, shift, s, q, min, max) of a window: s and q are the sums of x - shift
    and (x - shift)^2 over its finite values, min and max theirs (inf, -inf when none)."""
    if rows * cols == 0:
        return 0, 0, 0, 0.0, 0.0, 0.0, np.inf, -np.inf
    rows, cols = one_run(rows, cols, stride)
    if how is not None or raw.dtype == np.float32:  # 16- and 8-bit floats, F32
        zeros, shift, s, q, lo, hi = sixteen_lanes(_moments_fast, kernel_key(_moments_fast, raw, how),
                                                    raw, how, first, rows, cols, stride)
        if math.isfinite(s) and math.isfinite(q):
            return 0, 0, int(zeros), shift, s, q, lo, hi
    return _moments_checked(raw, how, first, rows, cols, stride)
