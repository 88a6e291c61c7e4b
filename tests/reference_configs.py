"""Small configs of every causal-LM model type transformers ships: its default config
(AutoConfig.for_model) with the sizes that exist in it shrunk, per-layer lists cut to the new
layer count. Used by tests/test_every_architecture.py."""

from __future__ import annotations

import warnings

LAYERS = 2
# Config keys (where the default config has them) -> the small value.
SMALL = {
    **dict.fromkeys(("num_hidden_layers", "n_layer", "n_layers", "num_layers", "decoder_layers",
                     "num_decoder_layers"), LAYERS),
    **dict.fromkeys(("hidden_size", "n_embd", "d_model", "dim", "embed_dim", "model_dim",
                     "word_embed_proj_dim"), 64),
    **dict.fromkeys(("intermediate_size", "n_inner", "ffn_dim", "d_ff", "ffn_hidden_size",
                     "decoder_ffn_dim", "inner_hidden_size", "hidden_dim"), 128),
    **dict.fromkeys(("num_attention_heads", "n_head", "n_heads", "num_heads",
                     "decoder_attention_heads"), 4),
    **dict.fromkeys(("num_key_value_heads", "n_kv_heads", "num_kv_heads", "multi_query_group_num",
                     "num_key_value_groups"), 2),
    "head_dim": 16,
    "rotary_dim": 8,  # (at most head_dim)
    **dict.fromkeys(("vocab_size", "n_vocab"), 256),
    **dict.fromkeys(("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts",
                     "n_experts"), 4),
    **dict.fromkeys(("num_experts_per_tok", "moe_topk", "top_k", "num_experts_per_token"), 2),
    **dict.fromkeys(("moe_intermediate_size", "expert_intermediate_size",
                     "shared_expert_intermediate_size", "moe_ffn_hidden_size"), 32),
    "first_k_dense_replace": 1,
    "q_lora_rank": 32, "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 8,
    "v_head_dim": 16,
}


def small_config(model_type: str) -> dict:
    """The config.json of a small model of `model_type`."""
    from transformers import AutoConfig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = AutoConfig.for_model(model_type).to_dict()
        config = AutoConfig.for_model(model_type, **_overrides(default)).to_dict()
    config["model_type"] = model_type
    return config


def _overrides(default: dict) -> dict:
    """The shrunk values of a config dict (sub-configs shrunk the same way)."""
    if True:
        layers = next((default[k] for k in ("num_hidden_layers", "n_layer", "n_layers",
                                            "num_layers") if isinstance(default.get(k), int)),
                      None)
        overrides = {k: v for k, v in SMALL.items() if k in default
                     and isinstance(default[k], int) and not isinstance(default[k], bool)}
        for key, value in default.items():  # per-layer lists and patterns, cut
            if layers and isinstance(value, (list, str)) and len(value) == layers and layers > 1:
                overrides[key] = value[:LAYERS]
            elif isinstance(value, dict) and "model_type" in value:
                overrides[key] = {**value, **_overrides(value)}
            elif key.endswith("_token_id") and isinstance(value, int) and value >= 256:
                overrides[key] = 1
            elif key.endswith("_token_id") and isinstance(value, list):
                overrides[key] = [v if not isinstance(v, int) or v < 256 else 1 for v in value]
        if "is_decoder" in default:
            overrides["is_decoder"] = True
    return overrides


def save_hole_checkpoint(model_type: str, folder):
    """A small `model_type` built on the meta device and written by its own save_pretrained,
    with the safetensors writer swapped for one that writes the header and a hole (real stored
    names and shapes, no values). Returns the model (on meta)."""
    import torch
    import transformers.modeling_utils as modeling
    from safetensors.torch import _TYPES
    from transformers import AutoConfig, AutoModelForCausalLM

    from inspector.building.hole_files import write_hole_safetensors

    names = {dtype: name for name, dtype in _TYPES.items()}

    def write(tensors, filename, metadata=None):
        write_hole_safetensors(filename, {name: (names[t.dtype], list(t.shape))
                                          for name, t in tensors.items()}, metadata)

    config = small_config(model_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hf_config = type(AutoConfig.for_model(model_type)).from_dict(config)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(hf_config)
        writer, modeling.safe_save_file = modeling.safe_save_file, write
        try:
            model.save_pretrained(folder)
        finally:
            modeling.safe_save_file = writer
    return model
