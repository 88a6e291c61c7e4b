"""The arithmetic of `stats` and `diff`: one pass over a window of stored values computes every
sum at once, compiled by numba and run without the GIL (so threads share it across cores).

Imported only when values are read: numba's import and the first compilation cost about a
second, which the header commands must never pay. The compiled kernels are cached on disk
(cache=True: next to this file; when that folder is not writable, in the user's cache folder,
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
windows merge by Chan et al.'s pairwise update (inspector.stats.Acc).

Speed. The fast kernels assume finite values and let LLVM reorder the sums into SIMD lanes
(fastmath reassoc); min and max run on the float bits as integers (a sign-magnitude float maps
to a two's-complement integer of the same order), which vectorise where float min/max with
NaN rules do not. A NaN or Inf makes a sum non-finite (a square of a float32 never overflows
float64), and only then does the window go through the checked kernel, which looks at every
value. The checked kernels are the reference semantics; the fast ones must agree with them.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from contextlib import contextmanager

import numpy as np


def _ensure_cache_dir() -> None:
    """A writable folder for numba's cache, set before numba is imported: where this package's
    folder is read-only (a system install) numba would try its user-wide folder and, if that is
    not writable either, refuse cache=True with an error at import."""
    if os.environ.get("NUMBA_CACHE_DIR") or os.access(os.path.dirname(__file__), os.W_OK):
        return
    home_cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    user = getattr(os, "getuid", lambda: "user")()
    for folder in (os.path.join(home_cache, "inspector", "numba"),
                   os.path.join(tempfile.gettempdir(), f"inspector-numba-{user}")):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            os.environ["NUMBA_CACHE_DIR"] = folder
            return


_ensure_cache_dir()


@contextmanager
def _without_scipy():
    """numba imports scipy when it is imported (to check its version) and again when it loads
    its array functions (to look for scipy's BLAS, used only by np.convolve's inner product,
    which then runs as a plain loop); together 1 s of a 1.6 s `stats` call on a small file
    here. The kernels use neither: `import scipy` fails meanwhile, unless scipy is already
    imported, when it costs nothing."""
    blocked = "scipy" not in sys.modules
    if blocked:
        sys.modules["scipy"] = None  # `import scipy...` raises ImportError
    try:
        yield
    finally:
        if blocked:
            del sys.modules["scipy"]


with _without_scipy():
    from llvmlite import ir
    from numba import njit, types
    from numba.core.registry import cpu_target
    from numba.extending import intrinsic, overload

    cpu_target.typing_context.refresh()  # numba's registries now, not at the first call
    cpu_target.target_context.refresh()

# Reassociation (SIMD lanes) and fused multiply-add only: no assumption about NaN or Inf.
FAST = {"reassoc", "contract", "nsz"}
JIT = {"nogil": True, "cache": True}


@intrinsic
def _float_of_bits(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def _bits_of_float(typingctx, value):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(types.float32), codegen


@intrinsic
def _bits_of_double(typingctx, value):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _double_of_bits(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


def decode(raw, k, how):
    """raw[k] as float64 (see the module's `how`)."""


@overload(decode, inline="always")
def _decode(raw, k, how):
    if isinstance(how, types.NoneType):
        return lambda raw, k, how: np.float64(raw[np.uint64(k)])
    if isinstance(how, types.Array):
        return lambda raw, k, how: np.float64(how[np.uint64(raw[np.uint64(k)])])
    if isinstance(how, types.Integer):
        return lambda raw, k, how: np.float64(
            _float_of_bits(np.int32(raw[np.uint64(k)]) << np.int32(16)))
    return None


def order_key(raw, k, how):
    """raw[k] (F32, BF16, F16, FP8) as a signed integer of its own width, in the order of the floats:
    a sign-magnitude float's bits with the magnitude bits flipped when negative. Integer
    min and max vectorise (float ones, with their NaN rules, do not), 8 lanes for BF16."""


@overload(order_key, inline="always")
def _order_key(raw, k, how):
    if isinstance(how, types.NoneType):  # F32
        def key32(raw, k, how):
            bits = _bits_of_float(raw[np.uint64(k)])
            return bits ^ ((bits >> np.int32(31)) & np.int32(0x7FFFFFFF))
        return key32
    if isinstance(how, types.Array):  # F16, FP8: the bits of the float32 the table gives
        def key_table(raw, k, how):
            bits = _bits_of_float(how[np.uint64(raw[np.uint64(k)])])
            return bits ^ ((bits >> np.int32(31)) & np.int32(0x7FFFFFFF))
        return key_table
    if isinstance(how, types.Integer):  # BF16: the stored 16 bits
        def key16(raw, k, how):
            bits = raw[np.uint64(k)]
            return np.int16(bits ^ ((bits >> np.int16(15)) & np.int16(0x7FFF)))
        return key16
    return None


def from_key(key, how):
    """The float64 value of an order_key (the map is its own inverse)."""


@overload(from_key, inline="always")
def _from_key(key, how):
    if isinstance(how, (types.NoneType, types.Array)):
        return lambda key, how: np.float64(
            _float_of_bits(key ^ ((key >> np.int32(31)) & np.int32(0x7FFFFFFF))))
    if isinstance(how, types.Integer):
        return lambda key, how: np.float64(_float_of_bits(
            np.int32(np.int16(key ^ ((key >> np.int16(15)) & np.int16(0x7FFF)))) << np.int32(16)))
    return None


def _one_run(rows: int, cols: int, stride: int) -> tuple[int, int]:
    """A window whose rows follow one another (stride == cols: a whole tensor, a block of its
    rows) as one run of values: the kernels' inner loop then runs over all of it, which LLVM
    vectorises half again as fast as row after row (fp32 stats here: 6.3 GB/s against 4.1)."""
    return (1, rows * cols) if stride == cols else (rows, cols)


# --- stats: count, NaN, Inf, zeros, shift, sum(x - shift), sum((x - shift)^2), min, max ---

@njit(fastmath=FAST, **JIT)
def _moments_fast(raw, how, first, rows, cols, stride):
    """F32, BF16, F16 and FP8 windows: (zeros, shift, s, q, min, max), valid only when s and q are
    finite (else some value was NaN or Inf)."""
    shift = decode(raw, first, how)
    s = 0.0
    q = 0.0
    zeros = 0.0
    lo = hi = order_key(raw, first, how)
    for r in range(rows):
        base = first + r * stride
        for j in range(cols):
            key = order_key(raw, base + j, how)
            lo = min(lo, key)
            hi = max(hi, key)
            x = decode(raw, base + j, how)
            zeros += 1.0 if x == 0 else 0.0
            d = x - shift
            s += d
            q += d * d
    return zeros, shift, s, q, from_key(lo, how), from_key(hi, how)


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


def moments(raw, how, first: int, rows: int, cols: int, stride: int) -> tuple:
    """(NaN, Inf, zeros, shift, s, q, min, max) of a window: s and q are the sums of x - shift
    and (x - shift)^2 over its finite values, min and max theirs (inf, -inf when none)."""
    if rows * cols == 0:
        return 0, 0, 0, 0.0, 0.0, 0.0, np.inf, -np.inf
    rows, cols = _one_run(rows, cols, stride)
    if how is not None or raw.dtype == np.float32:  # 16- and 8-bit floats, F32
        zeros, shift, s, q, lo, hi = _moments_fast(raw, how, first, rows, cols, stride)
        if math.isfinite(s) and math.isfinite(q):
            return 0, 0, int(zeros), shift, s, q, lo, hi
    return _moments_checked(raw, how, first, rows, cols, stride)


# --- diff: changed, sum a^2, b^2, (b - a)^2, a b, max |b - a|, NaN/Inf on one side ---

@njit(fastmath=FAST, **JIT)
def _compare_fast(ra, ha, rb, hb, first, rows, cols, stride, tolerance):
    """(changed, aa, bb, dd, ab, max |b - a|), valid only when aa and bb are finite (else some
    value was NaN or Inf). The largest change is taken on the bits of |b - a| as an int64 (the
    order of non-negative doubles): exact, and it vectorises."""
    aa = 0.0
    bb = 0.0
    dd = 0.0
    ab = 0.0
    changed = 0.0
    largest = np.int64(0)
    for r in range(rows):
        base = first + r * stride
        for j in range(cols):
            a = decode(ra, base + j, ha)
            b = decode(rb, base + j, hb)
            d = b - a  # exact in float64 for values of 32 bits or fewer
            m = abs(d)
            changed += 1.0 if m > tolerance else 0.0
            largest = max(largest, _bits_of_double(m))
            aa += a * a
            bb += b * b
            dd += d * d
            ab += a * b
    return changed, aa, bb, dd, ab, _double_of_bits(largest)


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
    rows, cols = _one_run(rows, cols, stride)
    changed, aa, bb, dd, ab, largest = _compare_fast(ra, ha, rb, hb, first, rows, cols, stride,
                                                     tolerance)
    if math.isfinite(aa) and math.isfinite(bb) and math.isfinite(dd):
        return int(changed), aa, bb, dd, ab, largest, 0
    return _compare_checked(ra, ha, rb, hb, first, rows, cols, stride, tolerance)
