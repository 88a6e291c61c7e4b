"""The arithmetic of `stats` and `diff`: one pass over a window of stored values computes every
sum at once.

Two implementations of the same sums. The common windows (F32, BF16, F16, every value finite)
go through numpy (inspector.values.kernels.arrays), which costs a process nothing to start,
in runs of under NUMPY_BELOW bytes (numpy_for).
The rest (a NaN or an Inf, integers, F64, FP8, GGUF's dequantized blocks) go through kernels
compiled by numba and run without the GIL (.stats, .diff), imported only when a window needs
them: numba's import costs about half a second a process, more than the arithmetic of a few GB
(inspector.values.kernels.arrays says why numpy first).

numba's kernels are cached on disk (cache=True: next to these files; when that folder is not
writable, in the user's cache folder, else in the temp folder; NUMBA_CACHE_DIR overrides them),
so a later run loads them instead of compiling them again.

A window is a rectangle of a stored tensor seen as a matrix: `rows` runs of `cols` values,
`stride` values apart, the first at `first` of the raw array `raw` (a view of the file's bytes,
never a copy). How the stored values become numbers, `how`:
  None     raw is numbers already (F32, F64, integers): cast to float64, exact.
  16       raw holds the top 16 bits of float32s (BF16, as int16), exact. (The shift is
           fixed in the code: by a variable amount it would not vectorise.)
  an array raw holds bit patterns, the array their float32 values (F16, FP8): exact.

Exactness. Every value widens to float64, where a float32 (and so every 16- and 8-bit float)
and its square are exact, and sums run in float64. Sums are taken around a shift (the window's
first finite value): sum(x - c) and sum((x - c)^2) give the mean and M2 = sum((x - mean)^2)
without the cancellation of sum(x^2) - n mean^2 when |mean| >> std (norm scales near 1), and
windows merge by Chan et al.'s pairwise update (inspector.values.stats.Acc). The two
implementations add in different orders (numpy pairwise, numba in SIMD lanes): their sums agree
to about 1e-15 relative, their counts, shifts, minima and maxima exactly.

Speed (numba). The fast kernels assume finite values and let LLVM reorder the sums into SIMD
lanes (fastmath reassoc), on 512-bit vectors where the CPU has them (_wide_vectors); min and max
are taken on the float32 values by llvm.minnum/maxnum flagged no-NaN (vminps/vmaxps), counts in
int32 lanes: every lane of the loop as narrow as its value allows. A NaN or Inf makes a sum
non-finite (a square of a float32 never overflows float64), and only then does the window go
through the checked kernel, which looks at every value. The checked kernels are the reference
semantics; the fast ones must agree with them.
"""

from __future__ import annotations

import numpy as np

from inspector.values.kernels import arrays

__all__ = ["compare", "compare_many", "moments", "moments_many", "numpy_for"]

# Runs reading fewer bytes than this go through numpy (see inspector.values.kernels.arrays for
# its speed): here numpy takes 0.3 s of CPU a GB of float32 (0.45-0.6 s before its passes were
# cut) and numba's kernels 0.1 s after its 0.5 s start-up, so numpy costs less CPU up to about
# 2.5 GB and less time on two cores up to more; the bound stays where it was set, so a checkpoint
# keeps its path. The choice depends on the bytes alone, so a run's figures never depend on timing.
NUMPY_BELOW = 2_000_000_000


def numpy_for(nbytes: int) -> bool:
    """Whether a run that reads `nbytes` goes through numpy first."""
    return nbytes < NUMPY_BELOW


def moments(raw, how, first: int, rows: int, cols: int, stride: int,
            numpy: bool = True) -> tuple:
    """(NaN, Inf, zeros, shift, s, q, min, max) of a window: s and q are the sums of x - shift
    and (x - shift)^2 over its finite values, min and max theirs (inf, -inf when none)."""
    if rows * cols == 0:
        return 0, 0, 0, 0.0, 0.0, 0.0, np.inf, -np.inf
    if numpy and arrays.handles(raw, how):
        found = arrays.moments(raw, how, first, rows, cols, stride)
        if found is not None:
            return found
    from inspector.values.kernels import stats  # numba: only for the windows numpy leaves

    return stats.moments(raw, how, first, rows, cols, stride)


def moments_many(raw, how, windows: list[tuple[int, int, int, int]],
                 numpy: bool = True) -> list[tuple]:
    """moments() of each window (first, rows, cols, stride) of one block."""
    if numpy and arrays.handles(raw, how):
        return [moments(raw, how, *w) for w in windows]
    from inspector.values.kernels import stats

    return stats.moments_many(raw, how, windows)


def compare(ra, ha, rb, hb, first: int, rows: int, cols: int, stride: int,
            tolerance: float, numpy: bool = True) -> tuple:
    """(changed, aa, bb, dd, ab, max |b - a|, nonfinite) of the same window of two tensors."""
    if rows * cols == 0:
        return 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0
    if numpy and arrays.handles(ra, ha) and arrays.handles(rb, hb):
        found = arrays.compare(ra, ha, rb, hb, first, rows, cols, stride, tolerance)
        if found is not None:
            return found
    from inspector.values.kernels import diff

    return diff.compare(ra, ha, rb, hb, first, rows, cols, stride, tolerance)


def compare_many(ra, ha, rb, hb, windows: list[tuple[int, int, int, int]],
                 tolerance: float, numpy: bool = True) -> list[tuple]:
    """compare() of each window (first, rows, cols, stride) of one block."""
    if numpy and arrays.handles(ra, ha) and arrays.handles(rb, hb):
        return [compare(ra, ha, rb, hb, *w, tolerance) for w in windows]
    from inspector.values.kernels import diff

    return diff.compare_many(ra, ha, rb, hb, windows, tolerance)
