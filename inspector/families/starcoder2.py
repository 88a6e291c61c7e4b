"""StarCoder 2 (BigCode 2024) as transformers stores it: Llama's names for attention and norms,
but LayerNorms with a bias, a plain GELU MLP `c_fc` / `c_proj`, biases on every linear layer
(use_bias), grouped-query rotary attention, and a sliding window on every layer when the config
names one."""

from inspector.families.base import Family
from inspector.families.helpers import CONFIG_KEYS as LLAMA_KEYS
from inspector.families.helpers import linear, read_rope
from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"
M = "model.layers.{i}"

STARCODER2_LAYOUT = Layout(
    name="starcoder2",
    rules=(
        Rule("model.embed_tokens.weight", ("embed.weight",)),
        *linear(f"{M}.input_layernorm", f"{L}.attn_norm"),
        *linear(f"{M}.self_attn.q_proj", f"{L}.attn.query"),
        *linear(f"{M}.self_attn.k_proj", f"{L}.attn.key"),
        *linear(f"{M}.self_attn.v_proj", f"{L}.attn.value"),
        *linear(f"{M}.self_attn.o_proj", f"{L}.attn.output"),
        Rule("model.rotary_emb.inv_freq", what="rotary-frequency"),
        *linear(f"{M}.post_attention_layernorm", f"{L}.mlp_norm"),
        *linear(f"{M}.mlp.c_fc", f"{L}.mlp.up"),
        *linear(f"{M}.mlp.c_proj", f"{L}.mlp.down"),
        *linear("model.norm", "final_norm"),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

CONFIG_KEYS = {**LLAMA_KEYS, "norm_eps": "norm_epsilon"}

# Starcoder2Config's defaults for keys a config.json may leave out.
DEFAULTS = {"vocab_size": 49152, "d_model": 3072, "n_layers": 30, "n_heads": 24, "d_ff": 12288,
            "n_ctx": 4096, "n_kv_heads": 2, "activation": "gelu_tanh", "norm": "layernorm",
            "position": "rotary", "tied_embeddings": True,
            "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True}}


def read_config(config: dict, data: dict) -> None:
    read_rope(config, data)
    read_window(config, data)


def read_window(config: dict, data: dict) -> None:
    window = config.get("sliding_window")
    if window is not None:  # every layer attends over the last sliding_window tokens
        data["attention_pattern"], data["local_window"] = ["local"], window


def write_config(spec, config: dict) -> None:
    local = spec.attention_pattern == ("local",)
    config["sliding_window"] = spec.local_window if local else None


STARCODER2 = Family(name="starcoder2", hf_class="Starcoder2ForCausalLM",
                    layouts=(STARCODER2_LAYOUT,), config_keys=CONFIG_KEYS, defaults=DEFAULTS,
                    bias_keys={"use_bias": ("qkv", "attn_output", "mlp")},
                    read_config=read_config, write_config=write_config,
                    gguf_arch="starcoder2")

FAMILIES = (STARCODER2,)
