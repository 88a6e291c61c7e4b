"""What the family modules share: the naming helpers every layout table uses, and the names,
config keys, defaults and rotary settings Llama set down and most decoder families kept (a family
built with `family(...)` is Llama's block as much changed as it says).

Llama's own families (Llama, Mistral) and its multimodal composites are in families.llama.
"""

from inspector.families.base import STANDARD_KEYS, Family
from inspector.vocab.layout import Layout, Rule
from inspector.vocab.words import KEPT_ROPE_TYPES, ROPE_SCALING_KEYS

# A block's prefix in canonical names (L) and in the names Llama stores (M).
L = "layers.{i}"
M = "model.layers.{i}"


def linear(stored: str, canonical: str) -> tuple[Rule, Rule]:
    """A linear layer's weight and (optional) bias."""
    return (Rule(f"{stored}.weight", (f"{canonical}.weight",)),
            Rule(f"{stored}.bias", (f"{canonical}.bias",)))


# A norm's weight and (optional) bias name the same way as a linear layer's.
norm = linear

# Llama's attention projections, kept by every family that took its names.
ATTENTION = (
    *linear(f"{M}.self_attn.q_proj", f"{L}.attn.query"),
    *linear(f"{M}.self_attn.k_proj", f"{L}.attn.key"),
    *linear(f"{M}.self_attn.v_proj", f"{L}.attn.value"),
    *linear(f"{M}.self_attn.o_proj", f"{L}.attn.output"),
)

LLAMA_LAYOUT = Layout(
    name="llama",
    family="llama",  # shown when only the names tell (many families share them; Llama first)
    rotary_inv_freq_is_full_head=True,
    rules=(
        Rule("model.embed_tokens.weight", ("embed.weight",)),
        *norm(f"{M}.input_layernorm", f"{L}.attn_norm"),  # biases: StableLM's LayerNorm
        *ATTENTION,
        Rule(f"{M}.self_attn.q_norm.weight", (f"{L}.attn.q_norm.weight",)),  # Qwen 3
        Rule(f"{M}.self_attn.k_norm.weight", (f"{L}.attn.k_norm.weight",)),
        Rule(f"{M}.self_attn.rotary_emb.inv_freq", what="rotary-frequency"),  # older transformers
        Rule("model.rotary_emb.inv_freq", what="rotary-frequency"),
        *norm(f"{M}.post_attention_layernorm", f"{L}.mlp_norm"),
        *linear(f"{M}.mlp.gate_proj", f"{L}.mlp.gate"),  # biases: mlp_bias true
        *linear(f"{M}.mlp.up_proj", f"{L}.mlp.up"),
        *linear(f"{M}.mlp.down_proj", f"{L}.mlp.down"),
        *norm("model.norm", "final_norm"),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

CONFIG_KEYS = {
    **STANDARD_KEYS,
    "n_kv_heads": "num_key_value_heads",
    "d_head": "head_dim",
    "norm_eps": "rms_norm_eps",
    "rope_theta": "rope_theta",
}

# LlamaConfig's defaults (Llama 2 7B's sizes, context 2048).
DEFAULTS = {"vocab_size": 32000, "n_ctx": 2048, "d_model": 4096, "n_layers": 32, "n_heads": 32,
            "d_ff": 11008, "norm_eps": 1e-6,
            "activation": "silu", "gated_mlp": True, "norm": "rmsnorm", "norm_placement": "pre",
            "position": "rotary", "tied_embeddings": False, "biases": False}

# config key -> the bias kinds it switches on (LlamaConfig: attention_bias, mlp_bias).
BIAS_KEYS = {"attention_bias": ("qkv", "attn_output"), "mlp_bias": ("mlp",)}


def read_rope(config: dict, data: dict) -> None:
    """Rotary settings: transformers >= 5 writes them inside rope_parameters, older files at top
    level (rope_theta, partial_rotary_factor) or in rope_scaling (Llama 3.1's llama3 type,
    linear, yarn; dynamic and longrope kept so that build refuses them rather than rotate as if
    unscaled)."""
    rope = config.get("rope_parameters") or config.get("rope_scaling")
    rope = rope if isinstance(rope, dict) else {}
    if "rope_theta" not in data and rope.get("rope_theta"):
        data["rope_theta"] = rope["rope_theta"]
    fraction = rope.get("partial_rotary_factor", config.get("partial_rotary_factor"))
    if fraction is not None:
        data["rotary_fraction"] = fraction
    kind = rope.get("rope_type", rope.get("type"))
    if kind == "llama3":
        data["rope_scaling"] = {key: rope.get(key) for key in ROPE_SCALING_KEYS}
    elif kind == "linear":  # positions / factor (every frequency divided by it)
        data["rope_scaling"] = {"rope_type": "linear", "factor": rope.get("factor")}
    elif kind in KEPT_ROPE_TYPES:  # yarn (built), dynamic NTK and longrope (build refuses)
        data["rope_scaling"] = {"rope_type": kind, **{
            k: v for k, v in rope.items()
            if k not in ("type", "rope_type", "rope_theta", "partial_rotary_factor")}}


def write_rope(spec, config: dict) -> None:
    """The inverse of read_rope, in transformers >= 5's rope_parameters (the config class folds a
    top-level partial_rotary_factor into it). The fraction is always written: GLM-4's and
    StableLM's config classes rotate a share of each head unless told otherwise."""
    config["partial_rotary_factor"] = spec.rotary_fraction
    if spec.rope_scaling is not None:
        config["rope_parameters"] = {**spec.rope_scaling, "rope_theta": spec.rope_theta}


def family(name: str, hf_class: str, **changes) -> Family:
    """A family with Llama's names and block, as much changed as `changes` says."""
    fields = {"layouts": (LLAMA_LAYOUT,), "config_keys": CONFIG_KEYS, "defaults": DEFAULTS,
              "bias_keys": BIAS_KEYS, "read_config": read_rope, "write_config": write_rope,
              "gguf_arch": name,
              "gguf_rotary_permuted": True, **changes}
    return Family(name=name, hf_class=hf_class, **fields)
