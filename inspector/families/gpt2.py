"""GPT-2 as transformers and the hub store it, and GPT-3, which kept GPT-2's block and names.

Two forms: new transformers writes a `transformer.` prefix and no masks; the file published on
the hub has no prefix and a [1, 1, n_ctx, n_ctx] causal mask `h.N.attn.bias` per layer. Both store
Conv1D weights as (in, out), and fuse query, key and value into one `c_attn`.
"""

from inspector.families.base import Family
from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"

GPT2_LAYOUT = Layout(
    name="gpt2",
    prefixes=("", "transformer."),
    rules=(
        Rule("wte.weight", ("embed.weight",)),
        Rule("wpe.weight", ("pos.weight",)),
        Rule("h.{i}.ln_1.weight", (f"{L}.attn_norm.weight",)),
        Rule("h.{i}.ln_1.bias", (f"{L}.attn_norm.bias",)),
        Rule("h.{i}.attn.c_attn.weight",
             (f"{L}.attn.query.weight", f"{L}.attn.key.weight", f"{L}.attn.value.weight"),
             split_axis=1, transposed=True),
        Rule("h.{i}.attn.c_attn.bias",
             (f"{L}.attn.query.bias", f"{L}.attn.key.bias", f"{L}.attn.value.bias"), split_axis=0),
        Rule("h.{i}.attn.c_proj.weight", (f"{L}.attn.output.weight",), transposed=True),
        Rule("h.{i}.attn.c_proj.bias", (f"{L}.attn.output.bias",)),
        Rule("h.{i}.attn.bias", what="causal-mask"),  # published checkpoints only
        Rule("h.{i}.attn.masked_bias", what="mask-fill"),  # -10000, older transformers saved it
        Rule("h.{i}.ln_2.weight", (f"{L}.mlp_norm.weight",)),
        Rule("h.{i}.ln_2.bias", (f"{L}.mlp_norm.bias",)),
        Rule("h.{i}.mlp.c_fc.weight", (f"{L}.mlp.up.weight",), transposed=True),
        Rule("h.{i}.mlp.c_fc.bias", (f"{L}.mlp.up.bias",)),
        Rule("h.{i}.mlp.c_proj.weight", (f"{L}.mlp.down.weight",), transposed=True),
        Rule("h.{i}.mlp.c_proj.bias", (f"{L}.mlp.down.bias",)),
        Rule("ln_f.weight", ("final_norm.weight",)),
        Rule("ln_f.bias", ("final_norm.bias",)),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

CONFIG_KEYS = {
    "vocab_size": "vocab_size",
    "n_ctx": ("n_positions", "n_ctx"),
    "d_model": "n_embd",
    "n_layers": "n_layer",
    "n_heads": "n_head",
    "d_ff": "n_inner",
    "norm_eps": "layer_norm_epsilon",
}

DEFAULTS = {"vocab_size": 50257, "n_ctx": 1024, "d_model": 768, "n_layers": 12, "n_heads": 12,
            "activation": "gelu_tanh", "norm": "layernorm", "norm_placement": "pre",
            "position": "learned", "tied_embeddings": True,
            "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True}}


def read_config(config: dict, data: dict) -> None:
    if "d_ff" not in data and isinstance(data.get("d_model"), int):
        data["d_ff"] = 4 * data["d_model"]  # GPT-2's n_inner: null means 4 x n_embd


GPT2 = Family(name="gpt2", hf_class="GPT2LMHeadModel", layouts=(GPT2_LAYOUT,),
              config_keys=CONFIG_KEYS, defaults=DEFAULTS, activation_key="activation_function",
              read_config=read_config, gguf_arch="gpt2")
# GPT-3 (Brown et al. 2020) has no config.json of its own: its specs write GPT-2's.
GPT3 = Family(name="gpt3", hf_class="GPT2LMHeadModel", layouts=(GPT2_LAYOUT,),
              config_keys=CONFIG_KEYS, defaults=DEFAULTS, model_type="gpt2",
              activation_key="activation_function", read_config=read_config, spec_only=True)

FAMILIES = (GPT2, GPT3)
