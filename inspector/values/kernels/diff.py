"""The kernels of `diff`: changed, sum a^2, b^2, (b - a)^2, a b, max |b - a| and NaN/Inf on one
side over the same window of two tensors, fast (SIMD, finite values assumed) and checked (each
value looked at, the reference). inspector.values.kernels says how and why."""

from __future__ import annotations

import math

import numpy as np

from inspector.values.kernels.primitives import (
    FAST,
    JIT,
    decode,
    fmax64,
    kernel_key,
    njit,
    one_run,
    sixteen_lanes,
    wide_vectors,
)


@njit(fastmath=FAST, inline="always", **JIT)
def _row_compare(ra, ha, rb, hb, base, cols, tolerance, largest):
    """(changed, aa, bb, dd, ab, largest) of the `cols` values from base, finite values assumed:
    changes counted in int32 lanes, the largest |b - a| by maxnum in float64 lanes."""
    changed = np.int32(0)
    aa = 0.0
    bb = 0.0
    dd = 0.0
    ab = 0.0
    for j in range(cols):
        a = decode(ra, base + j, ha)
        b = decode(rb, base + j, hb)
        d = b - a  # exact in float64 for values of 32 bits or fewer
        m = abs(d)
        changed = np.int32(changed + np.int32(m > tolerance))
        largest = fmax64(largest, m)
        aa += a * a
        bb += b * b
        dd += d * d
        ab += a * b
    return changed, aa, bb, dd, ab, largest


@njit(fastmath=FAST, **JIT)
def _compare_fast(ra, ha, rb, hb, first, rows, cols, stride, tolerance):
    """(changed, aa, bb, dd, ab, max |b - a|), valid only when aa and bb are finite (else some
    value was NaN or Inf). cols < 2^31 (one_run)."""
    wide_vectors()
    changed = 0
    aa = bb = dd = ab = largest = 0.0
    for r in range(rows):
        row_changed, row_aa, row_bb, row_dd, row_ab, largest = _row_compare(
            ra, ha, rb, hb, first + r * stride, cols, tolerance, largest)
        changed += row_changed
        aa += row_aa
        bb += row_bb
        dd += row_dd
        ab += row_ab
    return changed, aa, bb, dd, ab, largest


@njit(fastmath=FAST, **JIT)
def _compare_fast_many(ra, ha, rb, hb, windows, tolerance):
    """_compare_fast of several windows of one block, row r of every window before row r + 1
    (as _moments_fast_many): rows of (changed, aa, bb, dd, ab, max |b - a|)."""
    wide_vectors()
    count = windows.shape[0]
    out = np.zeros((count, 6))
    most = 0
    for g in range(count):
        most = max(most, windows[g, 1])
    for r in range(most):
        for g in range(count):
            if r < windows[g, 1]:
                changed, aa, bb, dd, ab, out[g, 5] = _row_compare(
                    ra, ha, rb, hb, windows[g, 0] + r * windows[g, 3], windows[g, 2], tolerance,
                    out[g, 5])
                out[g, 0] += changed
                out[g, 1] += aa
                out[g, 2] += bb
                out[g, 3] += dd
                out[g, 4] += ab
    return out


@njit(**JIT)
def _compare_checked(ra, ha, rb, hb, first, rows, cols, stride, tolerance):
    """(changed, aa, bb, dd, ab, max |b - a|, nonfinite): values finite on both sides add to the
    sums; NaN at both places and equal Infs are unchanged; any other NaN or Inf is a change,
    counted in `nonfinite` and left out of the sums."""
    aa = 0.0
    bb = 0.0
    dd = 0.0
    ab = 0.0
    changed = 0
    nonfinite = 0
    largest = 0.0
    for r in range(rows):
        base = first + r * stride
        for j in range(cols):
            a = decode(ra, base + j, ha)
            b = decode(rb, base + j, hb)
            if not (np.isfinite(a) and np.isfinite(b)):
                if not (a == b or (np.isnan(a) and np.isnan(b))):
                    nonfinite += 1
                    changed += 1
                continue
            d = b - a
            m = abs(d)
            if m > tolerance:
                changed += 1
            largest = max(largest, m)
            aa += a * a
            bb += b * b
            dd += d * d
            ab += a * b
    return changed, aa, bb, dd, ab, largest, nonfinite


def compare(ra, ha, rb, hb, first: int, rows: int, cols: int, stride: int,
            tolerance: float) -> tuple:
    """(changed, aa, bb, dd, ab, max |b - a|, nonfinite) of the same window of two tensors."""
    if rows * cols == 0:
        return 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0
    rows, cols = one_run(rows, cols, stride)
    changed, aa, bb, dd, ab, largest = sixteen_lanes(
        _compare_fast, kernel_key(_compare_fast, ra, ha, rb, hb), ra, ha, rb, hb, first, rows, cols,
        stride, tolerance)
    if math.isfinite(aa) and math.isfinite(bb) and math.isfinite(dd):
        return int(changed), aa, bb, dd, ab, largest, 0
    return _compare_checked(ra, ha, rb, hb, first, rows, cols, stride, tolerance)


def compare_many(ra, ha, rb, hb, windows: list[tuple[int, int, int, int]],
                 tolerance: float) -> list[tuple]:
    """compare() of each window (first, rows, cols, stride) of one block, in one pass over it."""
    if len(windows) == 1 or any(rows * cols == 0 for _, rows, cols, _ in windows):
        return [compare(ra, ha, rb, hb, *w, tolerance) for w in windows]
    fast = sixteen_lanes(_compare_fast_many, kernel_key(_compare_fast_many, ra, ha, rb, hb), ra, ha,
                          rb, hb, np.array(windows, dtype=np.int64).reshape(-1, 4), tolerance)
    out = []
    for (first, rows, cols, stride), (changed, aa, bb, dd, ab, largest) in zip(windows,
                                                                               fast.tolist()):
        if math.isfinite(aa) and math.isfinite(bb) and math.isfinite(dd):
            out.append((int(changed), aa, bb, dd, ab, largest, 0))
        else:
            out.append(_compare_checked(ra, ha, rb, hb, first, rows, cols, stride, tolerance))
    return out
