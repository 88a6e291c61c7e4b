"""What every reader returns: tensor headers (name, dtype, shape, where the bytes are) and the
checkpoint they came from. No tensor data is read to build these."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import NamedTuple

from inspector.errors import CheckpointError
from inspector.files.guard import note_read


class TensorInfo(NamedTuple):
    """One stored tensor's header. A named tuple, not a dataclass: a header may hold 150,000 of
    them and a tuple is made 5x as fast (its `_replace` is dataclasses.replace)."""
    name: str
    dtype: str  # safetensors' names (F32, F16, BF16, I64, ...) or GGUF's (Q4_1, Q8_0, ...)
    shape: tuple[int, ...]  # PyTorch order (GGUF's reversed dims are turned around by its reader)
    nbytes: int
    file: str
    offset: int = -1  # absolute offset of the first byte in `file`; -1 when not addressable
    storage: object = None  # equal for tensors that share one storage (a tied .bin)

    @property
    def numel(self) -> int:
        return prod(self.shape)


@dataclass
class Checkpoint:
    source: str  # what the user named: a file, a folder or a hub id
    format: str  # safetensors | safetensors-sharded | pytorch | gguf
    tensors: list[TensorInfo]
    files: list[str] = field(default_factory=list)
    config: dict | None = None  # the config.json beside the weights, when there is one
    metadata: dict = field(default_factory=dict)  # format metadata (GGUF key-values, __metadata__)
    origin: dict | None = None  # a hub repo read remotely: repo_id, revision, commit, safetensors

    @property
    def nbytes(self) -> int:
        """Bytes of tensor data, a storage named twice (a tied .bin) counted once."""
        seen: set = set()
        total = 0
        for t in self.tensors:
            if t.storage is not None:
                if t.storage in seen:
                    continue
                seen.add(t.storage)
            total += t.nbytes
        return total


def first_bytes(path: str | Path, n: int) -> bytes:
    """The first `n` bytes of a file (fewer when it is shorter), by which a reader knows its
    format before parsing it; an unreadable file is a CheckpointError naming it."""
    note_read(path)  # every reader starts here: what it reads is never written over
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise CheckpointError(path, f"cannot read: {e.strerror or e}") from e
