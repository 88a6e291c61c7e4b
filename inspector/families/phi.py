"""Microsoft's Phi models as transformers stores them: Phi-1, Phi-1.5 and Phi-2 (`phi`,
PhiForCausalLM) and Phi-3 / Phi-3.5 mini (`phi3`, Phi3ForCausalLM).

Phi: a parallel block under ONE LayerNorm, x + attn(ln(x)) + mlp(ln(x)) (PhiDecoderLayer's
input_layernorm feeds both); biases on every linear layer, lm_head included; rotary on the first
partial_rotary_factor of each head (0.5 unless config.json says, Phi-2 0.4) in halves; a gelu_new
MLP fc1 / fc2; final_layernorm with a bias; with qk_layernorm, a LayerNorm (weight and bias) over
each head's queries and keys before rotary.

Phi-3: Llama's block and RMSNorms, but query, key and value fused in `qkv_proj` (query rows, then
key, then value) and gate and up in `gate_up_proj` (gate rows first: Phi3MLP's chunk(2)), no
biases; every layer attends over the last sliding_window tokens when the config names one.
Phi-3's longrope rotary (the 128k and 3.5 models) changes no tensor: kept in the spec so that
counting works and building refuses (inspector.vocab.words.UNBUILT_ROPE_TYPES).

llama.cpp converts both without reordering query and key rows (architectures phi2 and phi3).
"""

from inspector.families.base import Family
from inspector.families.helpers import (
    CONFIG_KEYS,
    DEFAULTS,
    L,
    M,
    family,
    linear,
    norm,
    read_rope,
    write_rope,
)
from inspector.families.starcoder2 import read_window
from inspector.families.starcoder2 import write_config as write_window
from inspector.vocab.layout import Layout, Rule

PHI_LAYOUT = Layout(
    name="phi",
    rules=(
        Rule("model.embed_tokens.weight", ("embed.weight",)),
        *norm(f"{M}.input_layernorm", f"{L}.attn_norm"),  # the one norm of the block
        *linear(f"{M}.self_attn.q_proj", f"{L}.attn.query"),
        *linear(f"{M}.self_attn.k_proj", f"{L}.attn.key"),
        *linear(f"{M}.self_attn.v_proj", f"{L}.attn.value"),
        *norm(f"{M}.self_attn.q_layernorm", f"{L}.attn.q_norm"),  # qk_layernorm true
        *norm(f"{M}.self_attn.k_layernorm", f"{L}.attn.k_norm"),
        *linear(f"{M}.self_attn.dense", f"{L}.attn.output"),
        Rule("model.rotary_emb.inv_freq", what="rotary-frequency"),
        *linear(f"{M}.mlp.fc1", f"{L}.mlp.up"),
        *linear(f"{M}.mlp.fc2", f"{L}.mlp.down"),
        *norm("model.final_layernorm", "final_norm"),
        *linear("lm_head", "unembed"),
    ),
)

# PhiConfig's defaults (Phi-1.5's sizes) where config.json is silent.
PHI_DEFAULTS = {"vocab_size": 51200, "n_ctx": 2048, "d_model": 2048, "n_layers": 24,
                "n_heads": 32, "d_ff": 8192, "norm_eps": 1e-5, "activation": "gelu_tanh",
                "norm": "layernorm", "position": "rotary", "rotary_fraction": 0.5,
                "residual": "parallel", "shared_block_norm": True, "tied_embeddings": False,
                "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True,
                           "unembedding": True}}


def read_phi(config: dict, data: dict) -> None:
    read_rope(config, data)
    if config.get("qk_layernorm"):  # PhiAttention's q_layernorm / k_layernorm: per head
        data["qk_norm"] = "head"


def write_phi(spec, config: dict) -> None:
    write_rope(spec, config)
    config["qk_layernorm"] = spec.qk_norm == "head"


PHI = Family(name="phi", hf_class="PhiForCausalLM", layouts=(PHI_LAYOUT,),
             config_keys={**CONFIG_KEYS, "norm_eps": "layer_norm_eps"}, defaults=PHI_DEFAULTS,
             read_config=read_phi, write_config=write_phi, gguf_arch="phi2")

PHI3_LAYOUT = Layout(
    name="phi3",
    rules=(
        Rule("model.embed_tokens.weight", ("embed.weight",)),
        Rule(f"{M}.input_layernorm.weight", (f"{L}.attn_norm.weight",)),
        Rule(f"{M}.self_attn.qkv_proj.weight",
             (f"{L}.attn.query.weight", f"{L}.attn.key.weight", f"{L}.attn.value.weight"),
             split_axis=0, split_sizes=("attn_width", "kv_width", "kv_width")),
        Rule(f"{M}.self_attn.o_proj.weight", (f"{L}.attn.output.weight",)),
        Rule("model.rotary_emb.inv_freq", what="rotary-frequency"),
        Rule(f"{M}.post_attention_layernorm.weight", (f"{L}.mlp_norm.weight",)),
        Rule(f"{M}.mlp.gate_up_proj.weight", (f"{L}.mlp.gate.weight", f"{L}.mlp.up.weight"),
             split_axis=0),
        Rule(f"{M}.mlp.down_proj.weight", (f"{L}.mlp.down.weight",)),
        Rule("model.norm.weight", ("final_norm.weight",)),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

# Phi3Config's defaults (Phi-3 mini's sizes) where config.json is silent.
PHI3_DEFAULTS = {**DEFAULTS, "vocab_size": 32064, "n_ctx": 4096, "d_model": 3072, "n_layers": 32,
                 "n_heads": 32, "d_ff": 8192, "norm_eps": 1e-5}

# The names transformers gives Phi-3's longrope (older config.json files: su, and yarn, which
# Phi3Config also reads as longrope).
LONGROPE_NAMES = ("longrope", "su", "yarn")


def read_phi3(config: dict, data: dict) -> None:
    read_rope(config, data)
    read_window(config, data)
    rope = config.get("rope_parameters") or config.get("rope_scaling")
    rope = rope if isinstance(rope, dict) else {}
    if rope.get("rope_type", rope.get("type")) in LONGROPE_NAMES:
        data["rope_scaling"] = {"rope_type": "longrope",
                                **{k: v for k, v in rope.items() if k not in
                                   ("type", "rope_type", "rope_theta", "partial_rotary_factor")}}


def write_phi3(spec, config: dict) -> None:
    write_rope(spec, config)
    write_window(spec, config)


PHI3 = family("phi3", "Phi3ForCausalLM", layouts=(PHI3_LAYOUT,), defaults=PHI3_DEFAULTS,
              bias_keys={}, read_config=read_phi3, write_config=write_phi3,
              gguf_rotary_permuted=False)

FAMILIES = (PHI, PHI3)
