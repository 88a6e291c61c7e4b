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
    "index_num_heads": 2,  # (at most the query heads of a key head)
    "num_kv_shared_layers": 0,  # (Gemma 3n: layers that reuse an earlier layer's cache)
    "unpadded_vocab_size": 200,  # (at most vocab_size)
    # (a tower's adapter from its width to the language model's: both shrunk to 64)
    **dict.fromkeys(("adapter_in_dim", "adapter_out_dim", "adapter_input_size"), 64),
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


def small_config(model_type: str, kinds: bool = False) -> dict:
    """The config.json of a small model of `model_type`. `kinds`: its per-layer lists of
    layer kinds keep one layer of each kind (where the first layers alone do not build)."""
    from transformers import AutoConfig

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = AutoConfig.for_model(model_type).to_dict()
        config = AutoConfig.for_model(model_type, **_overrides(default, kinds)).to_dict()
    config["model_type"] = model_type
    return config


def _overrides(default: dict, kinds: bool = False) -> dict:
    """The shrunk values of a config dict (sub-configs shrunk the same way): a size never
    grown (ZAYA routes to one expert), per-layer lists cut (`kinds`: keeping each kind of layer
    where two can: OLMo-Hybrid needs an attention layer), per-layer configs of the layers
    kept."""
    layers = next((default[k] for k in ("num_hidden_layers", "n_layer", "n_layers",
                                        "num_layers") if isinstance(default.get(k), int)), None)
    overrides = {k: min(v, default[k]) if default[k] > 0 else v for k, v in SMALL.items()
                 if k in default and isinstance(default[k], int)
                 and not isinstance(default[k], bool)}
    for key, value in default.items():
        if layers and layers > 1 and isinstance(value, list) and len(value) == layers:
            overrides[key] = _cut_layers(value) if kinds else value[:LAYERS]
        elif layers and layers > 1 and isinstance(value, str) and len(value) == layers \
                and "pattern" in key:  # (not a word: BigBird's attention_type "block_sparse")
            overrides[key] = value[:LAYERS]
        elif key == "per_layer_config" and isinstance(value, dict):
            overrides[key] = {k: v for k, v in value.items()
                              if not str(k).isdigit() or int(k) < LAYERS}
        elif isinstance(value, dict) and "model_type" in value:
            overrides[key] = {**value, **_overrides(value, kinds)}
        elif key.endswith("_token_id") and isinstance(value, int) and value >= 256:
            overrides[key] = 1
        elif key.endswith("_token_id") and isinstance(value, list):
            overrides[key] = [v if not isinstance(v, int) or v < 256 else 1 for v in value]
    _dependent_sizes(default, overrides)
    if "is_decoder" in default:
        overrides["is_decoder"] = True
    return overrides


def _cut_layers(value: list) -> list:
    """The first LAYERS entries of a per-layer list; of a list of layer kinds that has no
    more kinds than LAYERS, one layer of each kind (in order of first appearance)."""
    kinds = list(dict.fromkeys(value)) if all(isinstance(v, str) for v in value) else []
    if kinds and len(kinds) <= LAYERS and len(set(value[:LAYERS])) < len(kinds):
        return kinds + value[:LAYERS - len(kinds)]
    return value[:LAYERS]


def _dependent_sizes(default: dict, overrides: dict) -> None:
    """Sizes a config requires to agree, kept agreeing: Mamba-2's hidden_size x expand =
    num_heads x head_dim; Reformer's axial position widths add up to hidden_size; Dory's
    blocks and sections add up to its layers; as many key/value heads as query heads."""
    keys = ("hidden_size", "expand", "num_heads", "head_dim")
    if all(isinstance(default.get(k), int) for k in keys) and \
            default["hidden_size"] * default["expand"] == default["num_heads"] * default["head_dim"]:
        hidden = overrides.get("hidden_size", default["hidden_size"])
        head_dim = overrides.get("head_dim", default["head_dim"])
        overrides["num_heads"] = hidden * default["expand"] // head_dim
    if isinstance(default.get("axial_pos_embds_dim"), (list, tuple)):  # (Reformer: its sum)
        hidden = overrides.get("hidden_size", default.get("hidden_size"))
        overrides["axial_pos_embds_dim"] = [hidden // 2, hidden - hidden // 2]
    types = default.get("layer_types")
    if isinstance(types, list) and "mlp" in types and "num_hidden_layers" in overrides:
        # (Dory's released layout: a layer is an attention block then an mlp block, and the
        # layer counts count blocks)
        overrides["num_hidden_layers"] = 2 * LAYERS
        overrides["layer_types"] = types[:2 * LAYERS]
    if isinstance(default.get("n_recurrent_layers"), int) and "num_hidden_layers" in overrides:
        # (Dory: input, recurrent and output layers add up to the layers)
        overrides.update(n_input_layers=0, n_output_layers=0,
                         n_recurrent_layers=overrides["num_hidden_layers"])
    heads = overrides.get("num_attention_heads")
    if heads and default.get("num_key_value_heads") == default.get("num_attention_heads"):
        overrides["num_key_value_heads"] = heads  # (Dots3 requires as many as queries)


def save_hole_checkpoint(model_type: str, folder):
    """A small `model_type` built on the meta device and written by its own save_pretrained,
    with the safetensors writer swapped for one that writes the header and a hole (real stored
    names and shapes, no values). Returns the model (on meta)."""
    import transformers.modeling_utils as modeling
    from safetensors.torch import _TYPES

    from inspector.building.hole_files import write_hole_safetensors

    names = {dtype: name for name, dtype in _TYPES.items()}

    def write(tensors, filename, metadata=None):
        write_hole_safetensors(filename, {name: (names[t.dtype], list(t.shape))
                                          for name, t in tensors.items()}, metadata)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = _small_model(model_type, False)
        except Exception as first:  # noqa: BLE001  (the first layers alone may not build)
            try:
                model = _small_model(model_type, True)
            except Exception:  # noqa: BLE001  (a layer of each kind failed too: the first error)
                raise first from None
        writer, modeling.safe_save_file = modeling.safe_save_file, write
        try:
            model.save_pretrained(folder)
        finally:
            modeling.safe_save_file = writer
    return model


def _small_model(model_type: str, kinds: bool):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    hf_config = type(AutoConfig.for_model(model_type)).from_dict(small_config(model_type, kinds))
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(hf_config)
