"""StableLM (Stability AI; transformers' `stablelm`: StableLM 2, StableLM-3B-4E1T): Llama's
names with LayerNorms that have biases, rotary on the first quarter of each head
(partial_rotary_factor 0.25), optional query/key/value biases (use_qkv_bias) and an optional
parallel block (use_parallel_residual: x + attn(n) + mlp(n), one input_layernorm, no
post_attention_layernorm). qk_layernorm gives each head its own LayerNorm module: not described
here, refused.
"""

from inspector.errors import SpecError
from inspector.families.helpers import CONFIG_KEYS, DEFAULTS, family, read_rope, write_rope


def read_config(config: dict, data: dict) -> None:
    read_rope(config, data)
    if config.get("use_parallel_residual"):
        data.update(residual="parallel", shared_block_norm=True)
    if config.get("qk_layernorm"):
        raise SpecError("config.json", "stablelm qk_layernorm (a LayerNorm module per head) is"
                                       " not supported")


def write_config(spec, config: dict) -> None:
    write_rope(spec, config)
    config["use_parallel_residual"] = spec.residual == "parallel"


STABLELM = family("stablelm", "StableLmForCausalLM",
                  config_keys={**CONFIG_KEYS, "norm_eps": "layer_norm_eps"},
                  # StableLmConfig's defaults: StableLM-3B's sizes, 32 key/value heads
                  defaults={**DEFAULTS, "norm": "layernorm", "biases": {"norm": True},
                            "rotary_fraction": 0.25, "n_kv_heads": 32, "norm_eps": 1e-5,
                            "vocab_size": 50304, "n_ctx": 4096, "d_model": 2560, "d_ff": 6912},
                  bias_keys={"use_qkv_bias": ("qkv",)}, read_config=read_config,
                  write_config=write_config, gguf_rotary_permuted=False)

FAMILIES = (STABLELM,)
