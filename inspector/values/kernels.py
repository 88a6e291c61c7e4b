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
windows merge by Chan et al.'s pairwise update (inspector.values.stats.Acc).

Speed. The fast kernels assume finite values and let LLVM reorder the sums into SIMD lanes
(fastmath reassoc), on 512-bit vectors where the CPU has them (_wide_vectors); min and max are
taken on the float32 values by llvm.minnum/maxnum flagged no-NaN (vminps/vmaxps), counts in
int32 lanes: every lane of the loop as narrow as its value allows. A NaN or Inf makes a sum
non-finite (a square of a float32 never overflows float64), and only then does the window go
through the checked kernel, which looks at every value. The checked kernels are the reference
semantics; the fast ones must agree with them.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from functools import cache

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
    from llvmlite import binding as llvm
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


def value32(raw, k, how):
    """raw[k] (F32, BF16, F16, FP8) as a float32, exact: every one of these formats is a subset
    of float32. Min and max are taken on these (float32 lanes: 16 to a 512-bit register)."""


@overload(value32, inline="always")
def _value32(raw, k, how):
    if isinstance(how, types.NoneType):  # F32
        return lambda raw, k, how: raw[np.uint64(k)]
    if isinstance(how, types.Array):  # F16, FP8: the float32 the table gives
        return lambda raw, k, how: how[np.uint64(raw[np.uint64(k)])]
    if isinstance(how, types.Integer):  # BF16: the stored 16 bits are the float32's top half
        return lambda raw, k, how: _float_of_bits(np.int32(raw[np.uint64(k)]) << np.int32(16))
    return None


@intrinsic
def _pair_bits(typingctx, raw, k):
    """raw[k] and raw[k + 1] of an int16 array (two BF16 values) as one int32, raw[k] in the low
    half (x86 is little-endian), by one 32-bit load however k is aligned."""
    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        where = builder.bitcast(builder.gep(array.data, [args[1]]), ir.IntType(32).as_pointer())
        return builder.load(where, align=2)
    return types.int32(raw, types.uint64), codegen


def _min_max_intrinsic(name: str, width: int):
    """llvm.minnum / llvm.maxnum on floats of `width` bits, with the no-NaN flag on this one
    call only: LLVM then reduces them in SIMD lanes (vminps/vmaxps), which numba's min and max,
    with their NaN rules, never do. Only the fast kernels use them, whose results are thrown
    away when a NaN or Inf is present (the sums tell), so the flag never changes an answer."""
    float_type = ir.FloatType() if width == 32 else ir.DoubleType()
    numba_type = types.float32 if width == 32 else types.float64

    @intrinsic
    def min_or_max(typingctx, a, b):
        def codegen(context, builder, signature, args):
            fnty = ir.FunctionType(float_type, [float_type, float_type])
            fn = builder.module.declare_intrinsic(f"{name}.f{width}", fnty=fnty)
            return builder.call(fn, args, fastmath=("nnan", "nsz"))
        return numba_type(numba_type, numba_type), codegen
    return min_or_max


_fmin32 = _min_max_intrinsic("llvm.minnum", 32)
_fmax32 = _min_max_intrinsic("llvm.maxnum", 32)
_fmax64 = _min_max_intrinsic("llvm.maxnum", 64)


@intrinsic
def _wide_vectors(typingctx):
    """Marks the function being compiled "prefer-vector-width"="512". On CPUs with AVX-512, LLVM
    otherwise keeps to 256-bit vectors (a tuning default), and these loops, which widen each
    float32 to a float64, then run on half-width registers: fp32 stats here went from 17 to 24
    GB/s on data in cache. Without AVX-512 the attribute changes nothing. llvmlite's
    FunctionAttributes knows only enum attributes by name, so the string attribute is added to
    the set as it is written in the IR; if a future llvmlite refuses, the attribute is left out
    (slower, same results)."""
    def codegen(context, builder, signature, args):
        try:
            set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        except (AttributeError, TypeError):
            pass
        return context.get_dummy_value()
    return types.none(), codegen


def _one_run(rows: int, cols: int, stride: int) -> tuple[int, int]:
    """A window whose rows follow one another (stride == cols: a whole tensor, a block of its
    rows) as one run of values: the kernels' inner loop then runs over all of it, which LLVM
    vectorises half again as fast as row after row (fp32 stats here: 6.3 GB/s against 4.1).
    A run stays under 2^31 values: the kernels count within a row in int32."""
    return (1, rows * cols) if stride == cols and rows * cols < 1 << 31 else (rows, cols)


_compiled: set = set()
_compiling = threading.Lock()


def _sixteen_lanes(kernel, key: tuple, *args):
    """kernel(*args), where the call that compiles a fast kernel for a new `key` (its argument
    types) does so with LLVM's loop vectorizer held to 16 lanes (--force-vector-width=16, set
    for that compilation only). Its cost model stops at 8 lanes for loops that widen float32s
    to float64s, where 16 take a whole 512-bit register of float32s: fewer instructions for the
    same bytes, and fp32 stats on data not in cache went from 9.6-10 to 13-14 GB/s here (from
    numba's cache the kernel loads as compiled). The option is LLVM's, for the whole process:
    it is set under a lock, around that one call, and reset at once (whatever else numba
    compiles meanwhile is vectorised at 16 lanes where legal: its speed may change, never its
    results)."""
    if key in _compiled:
        return kernel(*args)
    with _compiling:
        if _host_avx512():
            llvm.set_option("", "--force-vector-width=16")
        try:
            result = kernel(*args)
        finally:
            llvm.set_option("", "--force-vector-width=0")
        _compiled.add(key)
    return result


@cache
def _host_avx512() -> bool:
    """Whether numba compiles for this CPU and it has AVX-512. With 256-bit registers or fewer
    (or a CPU named to numba, as for a portable cache), 16 lanes would spill registers: LLVM's
    own choice is left alone."""
    from numba.core import config

    if config.CPU_NAME or config.CPU_FEATURES:
        return False
    try:
        return bool(llvm.get_host_cpu_features().get("avx512f", False))
    except RuntimeError:  # llvmlite cannot tell on this platform
        return False


def _key(kernel, *arrays_and_hows) -> tuple:
    return (kernel, *((x.dtype.str, x.flags.writeable, x.flags.c_contiguous)
                      if isinstance(x, np.ndarray) else type(x) for x in arrays_and_hows))


# --- stats: count, NaN, Inf, zeros, shift, sum(x - shift), sum((x - shift)^2), min, max ---

@njit(fastmath=FAST, inline="always", **JIT)
def _row_moments_one_by_one(raw, how, base, cols, shift, lo, hi):
    zeros = np.int32(0)
    s = 0.0
    q = 0.0
    for j in range(cols):
        v = value32(raw, base + j, how)
        lo = _fmin32(lo, v)
        hi = _fmax32(hi, v)
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
            w = _pair_bits(raw, np.uint64(base + 2 * i))
            v1 = _float_of_bits(w << np.int32(16))
            v2 = _float_of_bits(w & np.int32(-65536))
            lo = _fmin32(lo, _fmin32(v1, v2))
            hi = _fmax32(hi, _fmax32(v1, v2))
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
    finite (else some value was NaN or Inf). cols < 2^31 (_one_run)."""
    _wide_vectors()
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
    _wide_vectors()
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
    fast = _sixteen_lanes(_moments_fast_many, _key(_moments_fast_many, raw, how), raw, how,
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
    rows, cols = _one_run(rows, cols, stride)
    if how is not None or raw.dtype == np.float32:  # 16- and 8-bit floats, F32
        zeros, shift, s, q, lo, hi = _sixteen_lanes(_moments_fast, _key(_moments_fast, raw, how),
                                                    raw, how, first, rows, cols, stride)
        if math.isfinite(s) and math.isfinite(q):
            return 0, 0, int(zeros), shift, s, q, lo, hi
    return _moments_checked(raw, how, first, rows, cols, stride)


# --- diff: changed, sum a^2, b^2, (b - a)^2, a b, max |b - a|, NaN/Inf on one side ---

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
        largest = _fmax64(largest, m)
        aa += a * a
        bb += b * b
        dd += d * d
        ab += a * b
    return changed, aa, bb, dd, ab, largest


@njit(fastmath=FAST, **JIT)
def _compare_fast(ra, ha, rb, hb, first, rows, cols, stride, tolerance):
    """(changed, aa, bb, dd, ab, max |b - a|), valid only when aa and bb are finite (else some
    value was NaN or Inf). cols < 2^31 (_one_run)."""
    _wide_vectors()
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
    _wide_vectors()
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
    rows, cols = _one_run(rows, cols, stride)
    changed, aa, bb, dd, ab, largest = _sixteen_lanes(
        _compare_fast, _key(_compare_fast, ra, ha, rb, hb), ra, ha, rb, hb, first, rows, cols,
        stride, tolerance)
    if math.isfinite(aa) and math.isfinite(bb) and math.isfinite(dd):
        return int(changed), aa, bb, dd, ab, largest, 0
    return _compare_checked(ra, ha, rb, hb, first, rows, cols, stride, tolerance)


def compare_many(ra, ha, rb, hb, windows: list[tuple[int, int, int, int]],
                 tolerance: float) -> list[tuple]:
    """compare() of each window (first, rows, cols, stride) of one block, in one pass over it."""
    if len(windows) == 1 or any(rows * cols == 0 for _, rows, cols, _ in windows):
        return [compare(ra, ha, rb, hb, *w, tolerance) for w in windows]
    fast = _sixteen_lanes(_compare_fast_many, _key(_compare_fast_many, ra, ha, rb, hb), ra, ha,
                          rb, hb, np.array(windows, dtype=np.int64).reshape(-1, 4), tolerance)
    out = []
    for (first, rows, cols, stride), (changed, aa, bb, dd, ab, largest) in zip(windows,
                                                                               fast.tolist()):
        if math.isfinite(aa) and math.isfinite(bb) and math.isfinite(dd):
            out.append((int(changed), aa, bb, dd, ab, largest, 0))
        else:
            out.append(_compare_checked(ra, ha, rb, hb, first, rows, cols, stride, tolerance))
    return out
