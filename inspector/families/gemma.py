"""Gemma, Gemma 2 and Gemma 3 (text) (Google), as transformers 5 builds them.

Gemma keeps Llama's names and pre-norm block, and changes what the values mean: embeddings are
multiplied by sqrt(d_model) (a factor transformers rounds to the model's dtype), every RMSNorm's
gain is 1 + weight (stored as offsets from 1), the gated MLP's activation is tanh-approximated
GELU, head_dim is its own key and the unembedding is tied.

Gemma 2 norms each sublayer's input and output (`sandwich`: input_layernorm and
post_attention_layernorm around attention, the latter on its OUTPUT; pre_ and
post_feedforward_layernorm around the MLP), so it has its own layout. Attention scores are scaled
by query_pre_attn_scalar ** -0.5 and soft-capped (attn_logit_softcapping), the logits too
(final_logit_softcapping); layers alternate sliding-window (`local`) and global (`dense`)
attention, per layer_types.

Gemma 3 adds an RMSNorm (1 + weight) of each head's queries and keys, turns its local layers at a
rotary theta of their own (rope_local_base_freq; rope_parameters["sliding_attention"]) and may
scale its global layers' frequencies (linear); five local layers to one global by default, no soft
caps. transformers' Gemma 3 never applies attn_logit_softcapping, so a config that sets it is
refused rather than counted as a model transformers does not run.

llama.cpp (convert_hf_to_gguf.py) does not permute their query and key rows for rotary, and
stores every norm weight plus 1 (the gain itself), which loading undoes.
"""

import reprlib

from inspector.families.base import Composite, tower_parts
from inspector.families.helpers import ATTENTION, CONFIG_KEYS, DEFAULTS, L, M, family
from inspector.vocab.layout import Layout, Rule
from inspector.vocab.words import MAX_LAYERS, ROPE_TYPES

GEMMA2_LAYOUT = Layout(
    name="gemma2",
    requires=(f"{M}.pre_feedforward_layernorm.weight",),  # OLMo 2 stores all the other names
    rules=(
        Rule("model.embed_tokens.weight", ("embed.weight",)),
        Rule(f"{M}.input_layernorm.weight", (f"{L}.attn_norm.weight",)),
        *ATTENTION,
        Rule(f"{M}.self_attn.q_norm.weight", (f"{L}.attn.q_norm.weight",)),  # Gemma 3
        Rule(f"{M}.self_attn.k_norm.weight", (f"{L}.attn.k_norm.weight",)),
        Rule(f"{M}.post_attention_layernorm.weight", (f"{L}.attn_post_norm.weight",)),
        Rule(f"{M}.pre_feedforward_layernorm.weight", (f"{L}.mlp_norm.weight",)),
        Rule(f"{M}.mlp.gate_proj.weight", (f"{L}.mlp.gate.weight",)),
        Rule(f"{M}.mlp.up_proj.weight", (f"{L}.mlp.up.weight",)),
        Rule(f"{M}.mlp.down_proj.weight", (f"{L}.mlp.down.weight",)),
        Rule(f"{M}.post_feedforward_layernorm.weight", (f"{L}.mlp_post_norm.weight",)),
        Rule("model.norm.weight", ("final_norm.weight",)),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

# Where Gemma's block departs from Llama's (the first two: no config key says otherwise).
GEMMA_BLOCK = {"norm_unit_offset": True, "embedding_scale": "sqrt_d_model",
               "activation": "gelu_tanh", "tied_embeddings": True}
# rope_theta is read and written with the rest of rope_parameters (read_rope, write_rope).
KEYS = {k: v for k, v in CONFIG_KEYS.items() if k != "rope_theta"}
# GemmaConfig's defaults (Gemma 7B's sizes).
GEMMA_DEFAULTS = {**DEFAULTS, **GEMMA_BLOCK, "vocab_size": 256000, "n_ctx": 8192, "d_model": 3072,
                  "n_layers": 28, "n_heads": 16, "n_kv_heads": 16, "d_head": 256, "d_ff": 24576}
# Gemma2Config's (Gemma 2 2B's sizes): every other layer local, the local one first.
GEMMA2_DEFAULTS = {**GEMMA_DEFAULTS, "norm_placement": "sandwich", "d_model": 2304,
                   "n_layers": 26, "n_heads": 8, "n_kv_heads": 4, "d_ff": 9216,
                   "attention_scale": 256 ** -0.5, "attention_pattern": ["local", "dense"],
                   "local_window": 4096, "attention_softcap": 50.0, "logit_softcap": 30.0}
# Gemma3TextConfig's: five local layers to a global one, rotary theta 1e6 (global) and 1e4
# (local), a q/k norm per head, no soft caps.
GEMMA3_DEFAULTS = {**GEMMA2_DEFAULTS, "vocab_size": 262208, "n_ctx": 131072,
                   "attention_pattern": ["local"] * 5 + ["dense"], "qk_norm": "head",
                   "rope_theta": 1_000_000.0, "local_rope_theta": 10_000.0,
                   "attention_softcap": None, "logit_softcap": None}
GEMMA2_KEYS = {**KEYS, "local_window": "sliding_window", "attention_softcap":
               "attn_logit_softcapping", "logit_softcap": "final_logit_softcapping"}
GEMMA3_KEYS = {k: v for k, v in GEMMA2_KEYS.items() if k != "attention_softcap"}

# config.json's layer_types -> the spec's attention kinds, and back.
LAYER_TYPES = {"sliding_attention": "local", "full_attention": "dense"}
CONFIG_LAYER_TYPES = {kind: name for name, kind in LAYER_TYPES.items()}


def section(config: dict, key: str) -> dict:
    """A config.json entry that holds an object ({} when absent or null)."""
    value = config.get(key)
    if value is None or isinstance(value, dict):
        return value or {}
    raise ValueError(f"{key} must be an object, got {reprlib.repr(value)}")  # read_config's error


def rope_scaling(params: dict, where: str) -> dict | None:
    """A rope_parameters entry's frequency scaling as the spec's rope_scaling (None: default)."""
    kind = params.get("rope_type", params.get("type", "default"))
    if kind == "default":
        return None
    if not isinstance(kind, str) or kind not in ROPE_TYPES:
        raise ValueError(f"{where}rope_type {kind!r} is not supported (default, "
                         + ", ".join(ROPE_TYPES) + ")")
    return {"rope_type": kind, **{key: params.get(key) for key in ROPE_TYPES[kind][1:]}}


def read_rope(config: dict, data: dict) -> None:
    """One rotary for every layer, as rope_parameters (transformers 5), or rope_theta and
    rope_scaling at the top (older files). Gemma's rotary turns the whole head: transformers
    ignores a partial_rotary_factor here."""
    params = section(config, "rope_scaling") or section(config, "rope_parameters")
    data["rope_theta"] = params.get("rope_theta") or config.get("rope_theta") or 10000.0
    data["rope_scaling"] = rope_scaling(params, "")


def write_rope(spec, config: dict) -> None:
    config["rope_parameters"] = {**(spec.rope_scaling or {"rope_type": "default"}),
                                 "rope_theta": spec.rope_theta}


def read_gemma(config: dict, data: dict) -> None:
    refuse_bidirectional(config)
    read_rope(config, data)
    if data["activation"] == "gelu":  # GemmaConfig reads early hub files' "gelu" as tanh GELU
        data["activation"] = "gelu_tanh"


def refuse_bidirectional(config: dict) -> None:
    if config.get("use_bidirectional_attention"):
        raise ValueError("use_bidirectional_attention (an encoder's mask) is not supported")


def read_gemma2(config: dict, data: dict) -> None:
    refuse_bidirectional(config)
    read_rope(config, data)
    read_pattern(config, data, default_period=2)
    read_block(config, data)


def read_block(config: dict, data: dict) -> None:
    """query_pre_attn_scalar as the scores' scale, and soft caps a config.json sets to null."""
    scalar = config.get("query_pre_attn_scalar") or 256
    if not isinstance(scalar, (int, float)) or isinstance(scalar, bool) or scalar <= 0:
        raise ValueError(f"query_pre_attn_scalar must be a positive number, got {scalar!r}")
    data["attention_scale"] = scalar ** -0.5
    for field, key in (("attention_softcap", "attn_logit_softcapping"),
                       ("logit_softcap", "final_logit_softcapping")):
        if key in config and config[key] is None:
            data[field] = None


def read_pattern(config: dict, data: dict, default_period: int) -> None:
    """layer_types, or (absent) a local layer every layer but each `period`-th, as the shortest
    cycle of attention kinds that repeats to it."""
    n_layers = data["n_layers"]
    if not isinstance(n_layers, int) or not 0 < n_layers <= MAX_LAYERS:
        return  # the spec's validation says what is wrong with it
    types = config.get("layer_types")
    if types is None:
        period = config.get("sliding_window_pattern") or default_period
        if not isinstance(period, int) or period < 1:
            raise ValueError(f"sliding_window_pattern must be a positive integer, got {period!r}")
        types = ["full_attention" if (i + 1) % period == 0 else "sliding_attention"
                 for i in range(n_layers)]
    if not isinstance(types, list) or len(types) != n_layers \
            or any(not isinstance(t, str) or t not in LAYER_TYPES for t in types):
        raise ValueError(f"layer_types must give sliding_attention or full_attention for each of"
                         f" the {n_layers} layers, got {reprlib.repr(types)}")
    kinds = [LAYER_TYPES[t] for t in types]
    data["attention_pattern"] = next(kinds[:k] for k in range(1, len(kinds) + 1)
                                     if all(kinds[i] == kinds[i % k] for i in range(len(kinds))))
    if config.get("sliding_window", 4096) is None:
        if "local" in kinds:
            raise ValueError("layer_types has sliding_attention layers but sliding_window is null")
        data["local_window"] = None


def write_gemma2(spec, config: dict) -> None:
    write_rope(spec, config)
    write_block(spec, config)


def write_block(spec, config: dict) -> None:
    config["layer_types"] = [CONFIG_LAYER_TYPES[spec.layer_attention(i)]
                             for i in range(spec.n_layers)]
    scale = spec.attention_scale if spec.attention_scale is not None else spec.d_head ** -0.5
    scalar = scale ** -2
    config["query_pre_attn_scalar"] = round(scalar) if abs(scalar - round(scalar)) < 1e-6 \
        else scalar  # an integer in every released config


def read_gemma3(config: dict, data: dict) -> None:
    """Gemma 3's rotary is one per layer kind: rope_parameters {sliding_attention: ...,
    full_attention: ...} (transformers 5), or rope_theta, rope_local_base_freq and rope_scaling
    (the global layers') at the top (older files). Local layers must be unscaled."""
    refuse_bidirectional(config)
    if config.get("attn_logit_softcapping") is not None:
        raise ValueError("attn_logit_softcapping is set, but transformers' Gemma 3 never"
                         " applies it; not supported")
    rope = section(config, "rope_parameters")
    if "full_attention" in rope or "sliding_attention" in rope:
        full, local = section(rope, "full_attention"), section(rope, "sliding_attention")
    else:
        full = {**rope, **section(config, "rope_scaling")}
        local = {"rope_theta": config.get("rope_local_base_freq")}
    data["rope_theta"] = full.get("rope_theta") or config.get("rope_theta") or 1_000_000.0
    data["rope_scaling"] = rope_scaling(full, "full_attention: ")
    data["local_rope_theta"] = local.get("rope_theta") or 10_000.0
    if rope_scaling(local, "sliding_attention: ") is not None:
        raise ValueError("scaled rotary on sliding_attention layers is not supported")
    read_pattern(config, data, default_period=6)
    read_block(config, data)


def write_gemma3(spec, config: dict) -> None:
    local_theta = spec.local_rope_theta if spec.local_rope_theta is not None else spec.rope_theta
    config["rope_parameters"] = {
        "full_attention": {**(spec.rope_scaling or {"rope_type": "default"}),
                           "rope_theta": spec.rope_theta},
        "sliding_attention": {"rope_type": "default", "rope_theta": local_theta}}
    write_block(spec, config)


# llama.cpp's converter: query and key rows as transformers has them, norm weights plus 1.
GGUF = {"gguf_rotary_permuted": False, "gguf_norm_offset": 1.0}

GEMMA = family("gemma", "GemmaForCausalLM", config_keys=KEYS, defaults=GEMMA_DEFAULTS,
               read_config=read_gemma, write_config=write_rope, **GGUF)
GEMMA2 = family("gemma2", "Gemma2ForCausalLM", layouts=(GEMMA2_LAYOUT,), config_keys=GEMMA2_KEYS,
                defaults=GEMMA2_DEFAULTS, activation_key="hidden_activation",
                read_config=read_gemma2, write_config=write_gemma2, **GGUF)
GEMMA3 = family("gemma3_text", "Gemma3ForCausalLM", layouts=(GEMMA2_LAYOUT,),
                config_keys=GEMMA3_KEYS, defaults=GEMMA3_DEFAULTS,
                activation_key="hidden_activation", read_config=read_gemma3,
                write_config=write_gemma3, gguf_arch="gemma3", **GGUF)

FAMILIES = (GEMMA, GEMMA2, GEMMA3)

# Gemma 3's multimodal model: a SigLIP vision tower (with its attention-pooling head), a
# projector (a norm and one matrix), and a Gemma 3 text model.
COMPOSITES = (Composite("gemma3", "gemma3_text",
                        tower_parts("vision_tower", "multi_modal_projector")),)
