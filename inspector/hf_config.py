"""A Hugging Face `config.json` read as a Spec: one key table per model_type."""

from __future__ import annotations

from inspector.errors import SpecError
from inspector.spec import Spec, spec_from_dict

# spec key <- config key, per model_type. A tuple lists alternatives, first present wins.
KEYS = {
    "gpt2": {
        "vocab_size": "vocab_size",
        "n_ctx": ("n_positions", "n_ctx"),
        "d_model": "n_embd",
        "n_layers": "n_layer",
        "n_heads": "n_head",
        "d_ff": "n_inner",
        "norm_eps": "layer_norm_epsilon",
        "tied_embeddings": "tie_word_embeddings",
    },
    "llama": {
        "vocab_size": "vocab_size",
        "n_ctx": "max_position_embeddings",
        "d_model": "hidden_size",
        "n_layers": "num_hidden_layers",
        "n_heads": "num_attention_heads",
        "n_kv_heads": "num_key_value_heads",
        "d_head": "head_dim",
        "d_ff": "intermediate_size",
        "norm_eps": "rms_norm_eps",
        "rope_theta": "rope_theta",
        "tied_embeddings": "tie_word_embeddings",
    },
    "bert": {
        "vocab_size": "vocab_size",
        "n_ctx": "max_position_embeddings",
        "d_model": "hidden_size",
        "n_layers": "num_hidden_layers",
        "n_heads": "num_attention_heads",
        "d_ff": "intermediate_size",
        "norm_eps": "layer_norm_eps",
        "type_vocab_size": "type_vocab_size",
    },
}

# What the family fixes, and the defaults transformers applies when the key is absent.
FIXED = {
    "gpt2": {"family": "gpt2", "activation": "gelu_tanh", "norm": "layernorm",
             "norm_placement": "pre", "position": "learned", "tied_embeddings": True,
             "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True}},
    "llama": {"family": "llama", "activation": "silu", "gated_mlp": True, "norm": "rmsnorm",
              "norm_placement": "pre", "position": "rotary", "tied_embeddings": False,
              "biases": False},
    "bert": {"family": "bert", "architecture": "encoder", "activation": "gelu",
             "norm": "layernorm", "norm_placement": "post", "embedding_norm": True,
             "final_norm": False, "position": "learned", "pooler": True, "type_vocab_size": 2,
             "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True,
                        "pooler": True}},
}

ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu",
               "relu": "relu", "silu": "silu", "swish": "silu"}

# Model types that share Llama's tensor names and block.
ALIASES = {"mistral": "llama"}


def spec_from_config(config: object, origin: str = "config.json", name: str | None = None) -> Spec:
    if not isinstance(config, dict):
        raise SpecError(origin, "config.json must hold a JSON object")
    model_type = config.get("model_type")
    kind = ALIASES.get(model_type, model_type) if isinstance(model_type, str) else None
    if kind not in KEYS:
        raise SpecError(
            origin,
            f"model_type {model_type!r} is not supported; supported: {', '.join(sorted(KEYS))}",
        )
    data = dict(FIXED[kind])
    for key, config_keys in KEYS[kind].items():
        for config_key in (config_keys if isinstance(config_keys, tuple) else (config_keys,)):
            if config.get(config_key) is not None:
                data[key] = config[config_key]
                break
    if kind == "gpt2" and "d_ff" not in data and isinstance(data.get("d_model"), int):
        data["d_ff"] = 4 * data["d_model"]  # GPT-2's n_inner: null means 4 x n_embd
    act = config.get("activation_function") or config.get("hidden_act")
    if act is not None:
        data["activation"] = ACTIVATIONS.get(act, act) if isinstance(act, str) else act
    if kind == "llama":
        # transformers >= 5 writes rope_theta inside rope_parameters (older files: at top level).
        rope = config.get("rope_parameters")
        if "rope_theta" not in data and isinstance(rope, dict) and rope.get("rope_theta"):
            data["rope_theta"] = rope["rope_theta"]
        biases = {"qkv": bool(config.get("attention_bias")), "mlp": bool(config.get("mlp_bias"))}
        biases["attn_output"] = biases["qkv"]
        data["biases"] = biases
    data["name"] = name or config.get("_name_or_path") or model_type
    data["source"] = f"config.json ({origin})"
    return spec_from_dict(data, origin=origin)
