"""GPT-NeoX (EleutherAI 2022; Pythia) as transformers stores it (GPTNeoXForCausalLM).

query_key_value fused per head, "(h three d)"; rotary on the first partial_rotary_factor (older
configs: rotary_pct) of each head; a parallel block with two norms, x + attn(ln1(x)) +
mlp(ln2(x)) (use_parallel_residual; false: sequential); separate embed_in and lm_head (older
checkpoints: embed_out). Checkpoints written by older transformers hold per-layer buffers:
the causal mask `attention.bias`, `attention.masked_bias` and `rotary_emb.inv_freq`.
"""

from inspector.families.base import STANDARD_KEYS, Family
from inspector.families.helpers import linear, read_rope
from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"

GPT_NEOX_LAYOUT = Layout(
    name="gpt_neox",
    prefixes=("", "gpt_neox."),
    rules=(
        Rule("embed_in.weight", ("embed.weight",)),
        *linear(f"{L}.input_layernorm", f"{L}.attn_norm"),
        *linear(f"{L}.post_attention_layernorm", f"{L}.mlp_norm"),
        *(Rule(f"{L}.attention.query_key_value.{kind}",
               tuple(f"{L}.attn.{part}.{kind}" for part in ("query", "key", "value")),
               split_axis=0, head_interleaved=True) for kind in ("weight", "bias")),
        *linear(f"{L}.attention.dense", f"{L}.attn.output"),
        Rule(f"{L}.attention.bias", what="causal-mask"),
        Rule(f"{L}.attention.masked_bias", what="mask-fill"),
        Rule(f"{L}.attention.rotary_emb.inv_freq", what="rotary-frequency"),
        Rule("rotary_emb.inv_freq", what="rotary-frequency"),
        *linear(f"{L}.mlp.dense_h_to_4h", f"{L}.mlp.up"),
        *linear(f"{L}.mlp.dense_4h_to_h", f"{L}.mlp.down"),
        *linear("final_layer_norm", "final_norm"),
        Rule("embed_out.weight", ("unembed.weight",)),  # what save_pretrained writes
        Rule("lm_head.weight", ("unembed.weight",)),  # the module's name in transformers 5
    ),
)

CONFIG_KEYS = {
    **STANDARD_KEYS,
    "norm_eps": "layer_norm_eps",
    "rope_theta": ("rope_theta", "rotary_emb_base"),  # older configs: top level
}

# GPTNeoXConfig's defaults (GPT-NeoX-20B's sizes).
DEFAULTS = {"vocab_size": 50432, "d_model": 6144, "n_layers": 44, "n_heads": 64, "d_ff": 24576,
            "n_ctx": 2048, "activation": "gelu", "norm": "layernorm", "position": "rotary",
            "rotary_fraction": 0.25, "residual": "parallel", "tied_embeddings": False,
            "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True}}

def read_config(config: dict, data: dict) -> None:
    read_rope(config, data)
    rope = config.get("rope_parameters")
    for fraction in ((rope or {}).get("partial_rotary_factor") if isinstance(rope, dict) else None,
                     config.get("partial_rotary_factor"), config.get("rotary_pct")):
        if fraction is not None:
            data["rotary_fraction"] = fraction
            break
    if not config.get("use_parallel_residual", True):
        data["residual"] = "sequential"

def write_config(spec, config: dict) -> None:
    del config["rope_theta"]  # transformers 5 reads both from rope_parameters
    config["rope_parameters"] = {"rope_type": "default", "rope_theta": spec.rope_theta,
                                 "partial_rotary_factor": spec.rotary_fraction}
    config["use_parallel_residual"] = spec.residual == "parallel"

GPT_NEOX = Family(name="gpt_neox", hf_class="GPTNeoXForCausalLM", layouts=(GPT_NEOX_LAYOUT,),
                  config_keys=CONFIG_KEYS, defaults=DEFAULTS,
                  bias_keys={"attention_bias": ("qkv", "attn_output")},
                  read_config=read_config, write_config=write_config, gguf_arch="gptneox")

FAMILIES = (GPT_NEOX,)
