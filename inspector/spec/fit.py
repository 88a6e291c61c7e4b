"""Will a model fit in a given memory: its weights, the KV cache and fixed state at a context and
batch, and an overhead the user names, against a size; and the longest context that fits.
Integers only (no torch). The weights' bytes come from the caller: a spec's parameters at a
dtype (`spec_weights` here), or a checkpoint's stored bytes (inspector.checkpoint.stored).

What it leaves out is said with the answer (LEAVES_OUT): activations and the engine's own
buffers grow with the batch and the engine, and the CUDA context with the driver, so no one
number is right for them; --overhead adds what the user knows of their setup.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from inspector.errors import UsageError

if TYPE_CHECKING:  # the CLI imports this module for DTYPE_BITS: the counting comes when asked
    from inspector.spec.schema import Spec

# Bits a value takes in each dtype the options name (weights of a spec, and the KV cache).
DTYPE_BITS = {"fp32": 32, "float32": 32, "fp16": 16, "float16": 16, "bf16": 16, "bfloat16": 16,
              "fp8": 8, "int8": 8, "int4": 4}

# Decimal units as disk and cloud vendors say them, binary ones as nvidia-smi and torch do.
SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
              "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)", re.IGNORECASE)

LEAVES_OUT = ("not counted: activations, the engine's own buffers and the CUDA context (add them"
              " with --overhead SIZE)")


def parse_size(text: str, option: str = "--memory") -> int:
    """Bytes in `24GiB` (2^30), `80GB` (10^9), `1.5TB`, `512MiB` or a plain number of bytes; a
    bare `G` is refused, since it could mean either."""
    m = SIZE.fullmatch(text.strip())
    if m is None or m.group(2).lower() not in SIZE_UNITS:
        raise UsageError(text, f"{option} takes a size such as 24GiB (2^30 bytes), 80GB (10^9"
                               " bytes) or a number of bytes")
    whole, _, decimals = m.group(1).partition(".")
    unit = SIZE_UNITS[m.group(2).lower()]  # exact in integers, whole bytes rounded down
    return int(whole) * unit + int(decimals or 0) * unit // 10 ** len(decimals)


def spec_weights(spec: Spec, dtype: str) -> tuple[int, str]:
    """A spec's weights at `dtype`: every stored parameter once (a tied unembedding too)."""
    from inspector.spec.costs import whole_bytes
    from inspector.spec.describe import spec_rows
    from inspector.vocab.tables import total

    parameters = total(spec_rows(spec))
    bits = DTYPE_BITS[dtype]
    return whole_bytes(parameters, bits), f"{parameters:,} parameters x {bits} bits ({dtype})"


def fit(spec: Spec, memory: int, weights_bytes: int, weights_how: str, *,
        context: int | None = None, batch: int = 1, kv_dtype: str = "bf16",
        overhead: int = 0) -> dict:
    """The document of `inspector fit`: what `spec` holds at `context` tokens (default n_ctx) for
    `batch` sequences, against `memory` bytes, and the longest context that fits."""
    from inspector.spec.costs import cache_kinds, cached_values, state_values, whole_bytes

    if context is None and not spec.n_ctx:  # (Mamba's config gives none: no position limit)
        raise UsageError(spec.name, "the config gives no context length (n_ctx): say --context")
    context = spec.n_ctx if context is None else context
    limit = spec.n_ctx or context  # the longest context asked about
    if not 1 <= context <= limit:
        raise UsageError(spec.name, f"--context {context:,} is outside 1 to the model's n_ctx"
                                    f" {spec.n_ctx:,}")
    kinds, bits = cache_kinds(spec), DTYPE_BITS[kv_dtype]

    def kv_bytes(tokens: int, uncompressed: bool = False) -> int:
        return whole_bytes(batch * cached_values(kinds, tokens, uncompressed), bits)

    state = whole_bytes(batch * state_values(kinds), bits)
    fixed = weights_bytes + state + overhead  # what no context changes
    kv = kv_bytes(context)
    doc = {
        "model": spec.name, "weights_bytes": weights_bytes, "weights_are": weights_how,
        "kv_dtype": kv_dtype, "kv_bits": bits, "context": context, "batch": batch, "n_ctx": spec.n_ctx,
        "kv_cache_kinds": kinds,
        "kv_cache_bytes_per_token": whole_bytes(cached_values(kinds, 1), bits),
        "kv_cache_bytes": kv, "state_bytes": state,
        "state_kinds": [dict(k, bytes=whole_bytes(batch * k["layers"] * k["state_values"], bits))
                        for k in kinds if k["state_values"]], "overhead_bytes": overhead,
        "total_bytes": fixed + kv, "memory_bytes": memory, "fits": fixed + kv <= memory,
        "headroom_bytes": memory - fixed - kv,
        "max_context": longest(lambda tokens: fixed + kv_bytes(tokens) <= memory, limit),
        "leaves_out": LEAVES_OUT,
    }
    if not any(k["values_per_token"] for k in kinds) and spec.architecture != "encoder":  # (the transformers path's mixers only)
        doc["no_cache_because"] = "no layer attends: no keys or values are cached"
    if spec.kv_lora_rank:  # an engine that caches keys and values brought up from the latent
        doc["kv_cache_bytes_up_projected"] = kv_bytes(context, uncompressed=True)
    return doc


def longest(fits, limit: int) -> int:
    """The largest n in 0..limit with fits(n), fits growing no easier with n; 0 when none."""
    if not fits(0):
        return 0
    low, high = 0, limit  # fits(low) holds; the answer lies in low..high
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low
