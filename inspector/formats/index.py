"""Sharded checkpoints: `*.index.json` maps each tensor to the shard file that holds it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from inspector.errors import CheckpointError
from inspector.files.bounded_json import read_json
from inspector.formats.base import TensorInfo

# Bounds of one index file, sized from the largest published checkpoints: Kimi-K2 (FP8) names
# 139,583 tensors in 13 MB, a 512-expert GPTQ MoE about 300,000; the 1,004,898-tensor checkpoint
# of benchmarks/inputs.py (163 layers of 512 GPTQ experts) 92 MB. Headroom 2.5x over that.
MAX_INDEX_BYTES = 256 << 20
MAX_INDEX_ENTRIES = 2_500_000


def read_index(path: Path, read_shard: Callable[[Path], list[TensorInfo]]) -> tuple[list[TensorInfo], list[str]]:
    """Tensors of every shard the index names, checked against its weight_map."""
    promised_by_shard = shard_names(path, read_index_json(path))
    tensors: list[TensorInfo] = []
    shards = sorted(promised_by_shard)
    for shard in shards:
        shard_path = path.parent / shard
        if not shard_path.is_file():
            raise CheckpointError(path, f"shard '{shard}' named in its weight_map is missing")
        found = read_shard(shard_path)
        check_shard(path.name, shard_path, found, promised_by_shard[shard])
        tensors.extend(found)
    return tensors, [str(path.parent / s) for s in shards]


def read_index_json(path: Path) -> object:
    """An index file's JSON, within the bounds of an index (about one JSON value an entry)."""
    return read_json(path, CheckpointError, "index file", MAX_INDEX_BYTES, 2 * MAX_INDEX_ENTRIES,
                     "an index file")


def shard_names(where: object, index: object) -> dict[str, set[str]]:
    """The index's weight_map grouped as shard file -> the tensor names it promises (grouped
    once: 400 shards x 2,000 names adds up). Shard names are plain file names."""
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointError(where, "has no weight_map object of tensor name -> shard file")
    if len(weight_map) > MAX_INDEX_ENTRIES:
        raise CheckpointError(where, f"weight_map names {len(weight_map):,} tensors, more than the"
                                     f" {MAX_INDEX_ENTRIES:,} read")
    promised_by_shard: dict[str, set[str]] = {}
    for name, file in weight_map.items():
        promised_by_shard.setdefault(file, set()).add(name)
    for shard in promised_by_shard:
        if Path(shard).name != shard or shard in ("", ".", ".."):
            raise CheckpointError(where, f"shard '{shard}' named in its weight_map is missing")
    return promised_by_shard


def check_shard(index_name: str, shard: object, found: list[TensorInfo],
                promised: set[str]) -> None:
    """A shard must hold exactly the tensors the index gives it."""
    names = {t.name for t in found}
    if names != promised:
        extra, missing = sorted(names - promised), sorted(promised - names)
        detail = (f"holds {extra[0]!r} which the weight_map does not give it" if extra
                  else f"lacks {missing[0]!r} which the weight_map says it holds")
        raise CheckpointError(shard, f"disagrees with {index_name}: {detail}"
                                     f" ({len(extra)} extra, {len(missing)} missing)")
