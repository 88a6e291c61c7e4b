"""GGUF files (llama.cpp): the header walked with struct (gguf_bounds), no numpy, no torch.

GGUF lists a tensor's dims fastest-varying first (ggml's ne[0] is the row length), so a PyTorch
(out, in) weight is stored as [in, out]; the dims are reversed here and everything downstream sees
PyTorch order. Quantized tensors (Q4_1, Q8_0, ...) pack blocks of values with their scales: a tensor
reports its elements (numel, what the model has) and its real bytes on disk, which differ; the
block sizes are the gguf package's own table.

No tensor bytes are read. The key-value metadata is kept in `Checkpoint.metadata`; long arrays
(the tokenizer's vocabulary, merges and scores) are summarised as {"array": TYPE, "length": n}
rather than decoded.
"""

from __future__ import annotations

import os
from pathlib import Path

from inspector.errors import CheckpointError
from inspector.files.guard import note_read
from inspector.formats.base import TensorInfo
from inspector.formats.gguf_bounds import Header, read_header, tensor_size, type_name

MAGIC = b"GGUF"

# GGUF metadata (prefixed by `{general.architecture}.`) -> the Hugging Face config.json key that
# means the same, so that a GGUF can be read as a spec by inspector.spec.config_json. Mirrors what
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
    # A mixture of experts' routing: E experts, k a token, their MLP's width and the shared
    # expert's (Qwen2-MoE), as llama.cpp's converter writes them. (The families' key tables read
    # num_local_experts as num_experts.)
    "expert_count": "num_local_experts",
    "expert_used_count": "num_experts_per_tok",
    "expert_feed_forward_length": "moe_intermediate_size",
    "expert_shared_feed_forward_length": "shared_expert_intermediate_size",
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
    header = read_header(path)
    return tensors_of(path, header, size), header.metadata


def tensors_of(where: str, header: Header, size: int) -> list[TensorInfo]:
    """The header's tensors in PyTorch order, each checked to lie inside the file."""
    out = []
    for entry in header.tensors:
        if any(d >= 2**63 for d in entry.dims):  # ggml's ne[] is int64_t, as are torch's sizes
            raise CheckpointError(where, f"tensor '{entry.name}': dims {list(entry.dims)} do not"
                                         " fit 64-bit signed integers")
        _, nbytes = tensor_size(where, entry)
        offset = header.data_start + entry.offset
        if offset + nbytes > size:
            raise CheckpointError(where, f"tensor '{entry.name}': data ends at byte"
                                         f" {offset + nbytes:,} but the file has {size:,}:"
                                         " truncated or corrupt")
        out.append(TensorInfo(name=entry.name, dtype=type_name(entry),
                              shape=tuple(reversed(entry.dims)), nbytes=nbytes, file=where,
                              offset=offset))
    return out


# A state-space model's sizes, under the names of each config that has them (Mamba's,
# Jamba's); a config ignores the names it does not have.
SSM_KEYS = {
    "ssm.state_size": ("state_size", "mamba_d_state"),
    "ssm.conv_kernel": ("conv_kernel", "mamba_d_conv"),
    "ssm.time_step_rank": ("time_step_rank", "mamba_dt_rank"),
}


def transformers_config(config: dict, metadata: dict) -> dict:
    """hf_config's dict for a model no family module reads (the transformers path builds it
    from this): the model_type transformers names llama.cpp's architecture by, the experts'
    count under the key most configs read, a state-space model's sizes, and no size the
    converter writes as 0 for "unused" (Mamba's feed_forward_length)."""
    from inspector.families.gguf_names import model_type_of_gguf_arch

    arch = config["model_type"]
    out = {k: v for k, v in config.items() if v != 0 or isinstance(v, bool)}
    out["model_type"] = model_type_of_gguf_arch(arch)
    if "num_local_experts" in out:
        out.setdefault("num_experts", out["num_local_experts"])
    for gguf_key, hf_keys in SSM_KEYS.items():
        value = metadata.get(f"{arch}.{gguf_key}")
        if isinstance(value, int) and not isinstance(value, bool):
            out.update(dict.fromkeys(hf_keys, value))
    inner = metadata.get(f"{arch}.ssm.inner_size")
    if isinstance(inner, int) and out.get("hidden_size"):
        if out["model_type"] in ("mamba", "mamba2", "falcon_mamba"):
            out["intermediate_size"] = inner  # their MLP-less blocks' inner width
        out.update(dict.fromkeys(("expand", "mamba_expand"), inner // out["hidden_size"]))
    return out


def hf_config(metadata: dict, tensor_names: list[str]) -> dict | None:
    """The GGUF's metadata as a Hugging Face config.json dict, or None without an architecture or any size.

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
    if len(config) == 1:  # no size said (a file written without llama.cpp's keys): the tensors
        return None       # say the shape, not the family's defaults
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
