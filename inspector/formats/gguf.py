"""GGUF files (llama.cpp), read with the `gguf` package's GGUFReader: numpy only, no torch.

GGUF lists a tensor's dims fastest-varying first (ggml's ne[0] is the row length), so a PyTorch
(out, in) weight is stored as [in, out]; the dims are reversed here and everything downstream sees
PyTorch order. Quantized tensors (Q4_1, Q8_0, ...) pack blocks of values with their scales: a tensor
reports its elements (numel, what the model has) and its real bytes on disk, which differ.

The reader memory-maps the file and builds views, so no tensor bytes are read. The key-value
metadata is kept in `Checkpoint.metadata`; long arrays (the tokenizer's vocabulary, merges and
scores) are summarised as {"array": TYPE, "length": n} rather than copied.
"""

from __future__ import annotations

import os
import warnings
from math import prod
from pathlib import Path

from inspector.errors import CheckpointError
from inspector.formats.base import TensorInfo
from inspector.formats.gguf_bounds import check_bounds
from inspector.guard import note_read

MAGIC = b"GGUF"
LONGEST_KEPT_ARRAY = 64  # arrays up to this length are kept whole in the metadata

# GGUF metadata (prefixed by `{general.architecture}.`) -> the Hugging Face config.json key that
# means the same, so that a GGUF can be read as a spec by inspector.hf_config. Mirrors what
# transformers does when it loads a GGUF (integrations/ggml.py).
HF_KEYS = {
    "block_count": "num_hidden_layers",
    "context_length": "max_position_embeddings",
    "embedding_length": "hidden_size",
    "feed_forward_length": "intermediate_size",
    "attention.head_count": "num_attention_heads",
    "attention.head_count_kv": "num_key_value_heads",
    "attention.key_length": "head_dim",
    "attention.layer_norm_rms_epsilon": "rms_norm_eps",
    "rope.freq_base": "rope_theta",
    "vocab_size": "vocab_size",
}


def read_gguf(path: str | Path) -> tuple[list[TensorInfo], dict]:
    """Tensor headers (PyTorch order) and metadata of one GGUF file."""
    path = str(path)
    note_read(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
        size = os.path.getsize(path)
    except OSError as e:
        raise CheckpointError(path, f"cannot read: {e.strerror or e}") from e
    if magic != MAGIC:
        raise CheckpointError(path, f"not a GGUF file: it starts with {magic!r}, not {MAGIC!r}")
    from gguf import GGUFReader

    check_bounds(path)  # GGUFReader trusts its counts: a corrupt one would make it loop forever
    try:
        with warnings.catch_warnings():  # numpy's overflow warnings: stderr carries one line
            warnings.simplefilter("ignore")
            reader = GGUFReader(path)
    except (ValueError, IndexError, KeyError, OverflowError, OSError) as e:
        # The reader slices and reshapes a memory map: a short file fails there.
        raise CheckpointError(path, f"GGUF header or tensor table cannot be read ({e}): the file"
                                    f" ({size:,} bytes) is truncated or corrupt") from e
    tensors = [_tensor(path, t, size) for t in reader.tensors]
    try:
        metadata = _metadata(reader)
    except (ValueError, IndexError) as e:  # e.g. a string value that is not UTF-8
        raise CheckpointError(path, f"GGUF metadata cannot be read ({e}): corrupt") from e
    return tensors, metadata


def _tensor(path: str, t, size: int) -> TensorInfo:
    shape = tuple(int(d) for d in reversed(t.shape.tolist()))
    nbytes, offset = int(t.n_bytes), int(t.data_offset)
    if any(d >= 2**63 for d in shape):  # ggml's ne[] is int64_t, as are torch's and numpy's sizes
        raise CheckpointError(path, f"tensor '{t.name}': dims {list(t.shape)} do not fit 64-bit"
                                    " signed integers")
    if prod(shape) != int(t.n_elements):
        raise CheckpointError(path, f"tensor '{t.name}': dims {list(t.shape)} hold {prod(shape):,}"
                                    f" elements but the header says {int(t.n_elements):,}")
    if offset + nbytes > size:
        raise CheckpointError(path, f"tensor '{t.name}': data ends at byte {offset + nbytes:,}"
                                    f" but the file has {size:,}: truncated")
    return TensorInfo(name=t.name, dtype=t.tensor_type.name, shape=shape, nbytes=nbytes,
                      file=path, offset=offset)


def _metadata(reader) -> dict:
    from gguf import GGUFValueType

    out: dict = {}
    for key, field in reader.fields.items():
        if field.types and field.types[0] == GGUFValueType.ARRAY and \
                len(field.data) > LONGEST_KEPT_ARRAY:
            item = field.types[-1].name if len(field.types) > 1 else "ARRAY"
            out[key] = {"array": item, "length": len(field.data)}
            continue
        value = field.contents()
        out[key] = value.item() if hasattr(value, "item") else value
    return out


def hf_config(metadata: dict, tensor_names: list[str]) -> dict | None:
    """The GGUF's metadata as a Hugging Face config.json dict, or None without an architecture.

    GGUF says nothing of tied embeddings; llama.cpp writes `output.weight` only when the model has
    its own unembedding, so its absence means tied.
    """
    arch = metadata.get("general.architecture")
    if not isinstance(arch, str):
        return None
    config: dict = {"model_type": arch}
    for gguf_key, hf_key in HF_KEYS.items():
        value = metadata.get(f"{arch}.{gguf_key}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            config[hf_key] = value
    if "vocab_size" not in config:
        tokens = metadata.get("tokenizer.ggml.tokens")
        if isinstance(tokens, dict):
            config["vocab_size"] = tokens["length"]
        elif isinstance(tokens, list):
            config["vocab_size"] = len(tokens)
    config["tie_word_embeddings"] = "output.weight" not in tensor_names
    if isinstance(metadata.get("general.name"), str):
        config["_name_or_path"] = metadata["general.name"]
    return config
