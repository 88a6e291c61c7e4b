"""What a checkpoint's weights take in memory: the bytes it stores, read from the headers. A
quantized checkpoint's packed integers, scales, zero points and group indices are all stored
bytes, so they are all counted (the hub and fit calculators that count a 4-bit repo's packed
words as parameters, or MLX's U32 words at 4 bytes a parameter, get these wrong); a storage
named twice (a tied .bin) is counted once.
"""

from __future__ import annotations

from pathlib import Path

from inspector.errors import UsageError
from inspector.spec.schema import Spec


def names_a_checkpoint(source: str) -> bool:
    """A file or folder of weights, or a hub id, as against a spec (a shipped name, a YAML file,
    a config.json)."""
    from inspector.formats.hub import parse
    from inspector.spec.loading import shipped_names

    path = Path(source)
    if path.exists():
        return path.is_dir() or path.name.endswith(".index.json") or path.suffix.lower() not in (
            ".yaml", ".yml", ".json")
    return source not in shipped_names() and parse(source) is not None


def stored_bytes(checkpoint) -> dict:
    """Bytes of tensor data in all (as Checkpoint.nbytes) and by stored dtype."""
    seen: set = set()
    by_dtype: dict[str, int] = {}
    for t in checkpoint.tensors:
        if t.storage is not None:
            if t.storage in seen:
                continue
            seen.add(t.storage)
        by_dtype[t.dtype] = by_dtype.get(t.dtype, 0) + t.nbytes
    return {"bytes": sum(by_dtype.values()), "tensors": len(checkpoint.tensors),
            "by_dtype": dict(sorted(by_dtype.items(), key=lambda kv: -kv[1]))}


def checkpoint_weights(source: str, spec: Spec | None) -> tuple[int, str, Spec, list[str]]:
    """A checkpoint's stored bytes, how they were counted, the spec its cache is computed from
    (its config.json, GGUF metadata, else `spec`) and warnings where `spec` disagrees."""
    from inspector.checkpoint.inspection import inspect_source

    inspection = inspect_source(source, spec)
    if inspection.spec is None:
        raise UsageError(source, "nothing in the files says its layers and heads (no config.json"
                                 " or GGUF metadata): give --spec for the KV cache")
    stored = stored_bytes(inspection.decoupled.checkpoint)
    dtypes = ", ".join(f"{name} {size:,}" for name, size in stored["by_dtype"].items())
    quantized = inspection.decoupled.quantization
    said = f"; {quantized.label}, its scales and indices included" if quantized else ""
    how = f"the bytes its {stored['tensors']:,} tensors store ({dtypes}){said}"
    return stored["bytes"], how, inspection.spec, inspection.warnings
