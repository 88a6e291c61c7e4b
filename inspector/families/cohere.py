"""Cohere Command-R (transformers' `cohere`): Llama's names, a parallel block.

CohereDecoderLayer feeds one input_layernorm to both attention and MLP and adds both to the
residual (x + attn(n) + mlp(n)), so there is no post_attention_layernorm. Its norms are LayerNorm
without bias (CohereLayerNorm), rotary turns interleaved pairs (repeat_interleave, not cat), logits
are multiplied by logit_scale, and the embedding is tied by default. use_qk_norm (Command-R+)
gives each head its own q/k norm gain, stored (n_heads, d_head) and (n_kv_heads, d_head): the
spec's qk_norm "per_head", applied over d_head before rotary.
"""

from inspector.families.helpers import CONFIG_KEYS, DEFAULTS, family, read_rope, write_rope

LOGIT_SCALE = 0.0625  # CohereConfig's defaults (as its sizes, rope_theta and the tie)


def read_config(config: dict, data: dict) -> None:
    read_rope(config, data)
    if config.get("use_qk_norm"):  # Command-R+: CohereLayerNorm((heads, d_head)) on q and k
        data["qk_norm"] = "per_head"


def write_config(spec, config: dict) -> None:
    write_rope(spec, config)
    config["use_qk_norm"] = spec.qk_norm == "per_head"


COHERE = family("cohere", "CohereForCausalLM",
                config_keys={**CONFIG_KEYS, "norm_eps": "layer_norm_eps",
                             "logit_scale": "logit_scale"},
                defaults={**DEFAULTS, "norm": "layernorm", "residual": "parallel",
                          "shared_block_norm": True, "rotary_interleaved": True,
                          "tied_embeddings": True, "logit_scale": LOGIT_SCALE,
                          "rope_theta": 500_000.0, "norm_eps": 1e-5, "vocab_size": 256000,
                          "n_ctx": 8192, "d_model": 8192, "n_layers": 40, "n_heads": 64,
                          "d_ff": 22528},
                bias_keys={"attention_bias": ("qkv", "attn_output")}, read_config=read_config,
                write_config=write_config,
                gguf_arch="command-r", gguf_rotary_permuted=False)

FAMILIES = (COHERE,)
