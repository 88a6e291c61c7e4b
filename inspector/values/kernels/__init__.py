"""The arithmetic of `stats` and `diff`: one pass over a window of stored values computes every
sum at once, compiled by numba and run without the GIL (so threads share it across cores).

Imported only when values are read: numba's import and the first compilation cost about a
second, which the header commands must never pay. The compiled kernels are cached on disk
(cache=True: next to these files; when that folder is not writable, in the user's cache folder,
else in the temp folder; NUMBA_CACHE_DIR overrides them), so a later run loads them instead of
compiling them again.

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
windows merge by Chan et al.'s pairwise update (inspector.values.stats.Acc).

Speed. The fast kernels assume finite values and let LLVM reorder the sums into SIMD lanes
(fastmath reassoc), on 512-bit vectors where the CPU has them (_wide_vectors); min and max are
taken on the float32 values by llvm.minnum/maxnum flagged no-NaN (vminps/vmaxps), counts in
int32 lanes: every lane of the loop as narrow as its value allows. A NaN or Inf makes a sum
non-finite (a square of a float32 never overflows float64), and only then does the window go
through the checked kernel, which looks at every value. The checked kernels are the reference
semantics; the fast ones must agree with them.
"""

from inspector.values.kernels.diff import compare, compare_many
from inspector.values.kernels.stats import moments, moments_many

__all__ = ["compare", "compare_many", "moments", "moments_many"]
