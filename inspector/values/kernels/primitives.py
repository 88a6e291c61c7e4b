"""What the kernels are made of: numba imported (its cache in a writable folder, scipy kept
out), how a stored value becomes a number (`decode`, `value32`), LLVM's min and max without NaN
rules, 512-bit vectors and 16 lanes where the CPU has them, and the key of a compiled kernel.
inspector.values.kernels says why each is so.

numba's cache (cache=True) checks the file of each cached kernel (stats.py, diff.py) for changes,
not the files it inlines from: after editing this one, clear the kernels' __pycache__ (or touch
stats.py and diff.py) so that no kernel compiled from the old version is loaded. An installed
package replaces every file at once, so only a working copy can meet this.
"""

from __future__ import annotations

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

    # njit for stats.py and diff.py: numba is imported here only, after the cache folder is set
    from numba import njit, types  # noqa: F401
    from numba.core.registry import cpu_target
    from numba.extending import intrinsic, overload

    cpu_target.typing_context.refresh()  # numba's registries now, not at the first call
    cpu_target.target_context.refresh()

# Reassociation (SIMD lanes) and fused multiply-add only: no assumption about NaN or Inf.
FAST = {"reassoc", "contract", "nsz"}
JIT = {"nogil": True, "cache": True}


@intrinsic
def float_of_bits(typingctx, bits):
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
            float_of_bits(np.int32(raw[np.uint64(k)]) << np.int32(16)))
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
        return lambda raw, k, how: float_of_bits(np.int32(raw[np.uint64(k)]) << np.int32(16))
    return None


@intrinsic
def pair_bits(typingctx, raw, k):
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


fmin32 = _min_max_intrinsic("llvm.minnum", 32)
fmax32 = _min_max_intrinsic("llvm.maxnum", 32)
fmax64 = _min_max_intrinsic("llvm.maxnum", 64)


@intrinsic
def wide_vectors(typingctx):
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


def one_run(rows: int, cols: int, stride: int) -> tuple[int, int]:
    """A window whose rows follow one another (stride == cols: a whole tensor, a block of its
    rows) as one run of values: the kernels' inner loop then runs over all of it, which LLVM
    vectorises half again as fast as row after row (fp32 stats here: 6.3 GB/s against 4.1).
    A run stays under 2^31 values: the kernels count within a row in int32."""
    return (1, rows * cols) if stride == cols and rows * cols < 1 << 31 else (rows, cols)


_compiled: set = set()
_compiling = threading.Lock()


def sixteen_lanes(kernel, key: tuple, *args):
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


def kernel_key(kernel, *arrays_and_hows) -> tuple:
    return (kernel, *((x.dtype.str, x.flags.writeable, x.flags.c_contiguous)
                      if isinstance(x, np.ndarray) else type(x) for x in arrays_and_hows))
