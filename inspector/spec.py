"""Spec: a frozen description of one transformer, loaded from YAML and validated.

The schema is a table (FIELDS) so that validation, defaults and the error for an unknown key all
read from one place. A spec describes the architecture only; the layout of a checkpoint on disk is
the business of the family modules (`inspector.families`).
"""

from __future__ import annotations

import os
import reprlib
from dataclasses import dataclass, field
from pathlib import Path

from inspector.errors import SpecError
from inspector.guard import note_read
from inspector.jsonfile import read_json

SPEC_DIR = Path(__file__).resolve().parent / "specs"

REQUIRED = object()

# Which layers carry an additive bias. Missing keys mean "no bias".
# `head`: a task head's own layers (the masked-LM transform: BERT's has a bias, ModernBERT's not);
# `router`: a mixture of experts' router (gpt-oss's has a bias).
BIAS_KINDS = ("qkv", "attn_output", "mlp", "norm", "unembedding", "pooler", "head", "router")

# name: (type, default, allowed values or None). Types are checked exactly (bool is not an int).
FIELDS: dict[str, tuple[type | tuple[type, ...], object, tuple | None]] = {
    "name": (str, REQUIRED, None),
    "family": (str, REQUIRED, None),  # a name in the family registry (checked below)
    "source": (str, REQUIRED, None),
    # encoder-decoder: an encoder's blocks, then n_decoder_layers decoder blocks that also attend
    # to the encoder's output (cross-attention), numbered after the encoder's (T5).
    "architecture": (str, "decoder", ("decoder", "encoder", "encoder-decoder")),
    "vocab_size": (int, None, None),  # required, except of an image model (patch_size)
    "n_ctx": (int, REQUIRED, None),  # longest sequence: rows of a learned position table
    "d_model": (int, REQUIRED, None),
    "n_layers": (int, REQUIRED, None),
    "n_decoder_layers": (int, None, None),  # an encoder-decoder's decoder blocks; default n_layers
    "n_heads": (int, REQUIRED, None),
    "d_head": (int, None, None),  # default d_model / n_heads; may differ (GPT-3 13B's reading)
    "n_kv_heads": (int, None, None),  # default n_heads; fewer means grouped-query attention
    "d_ff": (int, REQUIRED, None),
    # A mixture of experts: each MoE layer's MLP is n_experts routed experts of d_ff_expert, of
    # which a router picks experts_per_token for each token, plus shared experts (of d_ff_shared
    # in all) every token passes through. Layers in dense_layers keep a dense MLP of d_ff
    # (DeepSeek's first layers, Qwen's mlp_only_layers).
    "n_experts": (int, 0, None),
    "experts_per_token": (int, None, None),
    "d_ff_expert": (int, None, None),
    "d_ff_shared": (int, 0, None),
    "shared_expert_gate": (bool, False, None),  # Qwen2-MoE: sigmoid(Linear(d, 1)) x shared
    "dense_layers": (list, None, None),
    "norm_topk_prob": (bool, False, None),  # the k chosen weights renormalised to sum to 1
    # Multi-head latent attention (DeepSeek-V2/V3), on where kv_lora_rank is given: keys and
    # values come up from one latent of kv_lora_rank per token (kv_down, then key_up/value_up
    # per head), queries through a latent of q_lora_rank (absent: one query projection); each
    # query and key head is qk_nope_head_dim unrotated + qk_rope_head_dim rotated dims (the
    # rotated key part one for all heads, from kv_down), each value head v_head_dim.
    "q_lora_rank": (int, None, None),
    "kv_lora_rank": (int, None, None),
    "qk_nope_head_dim": (int, None, None),
    "qk_rope_head_dim": (int, None, None),
    "v_head_dim": (int, None, None),
    # gpt-oss: a learned logit per head that joins each query's softmax as a key of value zero
    # (an attention sink), one parameter per head in each layer.
    "attention_sinks": (bool, False, None),
    "activation": (str, "gelu_tanh", ("gelu", "gelu_tanh", "relu", "silu")),
    # gpt-oss's clamped SwiGLU, where swiglu_limit is given: gate clamped to at most the limit,
    # up to +-limit, then gate x sigmoid(swiglu_alpha x gate) x (up + 1).
    "swiglu_limit": ((int, float), None, None),
    "swiglu_alpha": ((int, float), 1.0, None),
    "gated_mlp": (bool, False, None),  # SwiGLU-style: down(act(gate(x)) * up(x))
    "norm": (str, "layernorm", ("layernorm", "rmsnorm")),
    # pre: x + f(norm(x)) (GPT-2, Llama); post: norm(x + f(x)) (BERT); sandwich: x +
    # post_norm(f(norm(x))) (Gemma 2, GLM-4); output: x + post_norm(f(x)), no norm before (OLMo 2).
    "norm_placement": (str, "pre", ("pre", "post", "sandwich", "output")),
    "norm_params": (bool, True, None),  # False: norms with no weight at all (OLMo's LayerNorm)
    # Gemma: every norm's gain is 1 + weight (weights stored as offsets from 1, zero-initialised),
    # applied in fp32 before casting back: a checkpoint's norm values mean something else.
    "norm_unit_offset": (bool, False, None),
    # A norm of each head's queries and keys (Qwen 3, Gemma 3: `head`, d_head wide) or of the
    # whole projection (OLMo 2: `full`, n_heads x d_head and n_kv_heads x d_head wide).
    "qk_norm": (str, "none", ("none", "head", "per_head", "full")),
    # sequential: attention, then MLP; parallel: x + attn(norm(x)) + mlp(norm'(x)) (GPT-J, Phi,
    # GPT-NeoX); shared_block_norm: one norm feeds both (GPT-J, Phi, Falcon, Cohere).
    "residual": (str, "sequential", ("sequential", "parallel")),
    "shared_block_norm": (bool, False, None),
    "norm_eps": ((int, float), 1e-5, None),
    "final_norm": (bool, True, None),  # a norm after the last block (GPT-2 ln_f, Llama model.norm)
    "embedding_norm": (bool, False, None),  # a norm right after the embeddings (BERT)
    # False: the first block has no attention norm, the embedding norm feeding it already
    # (ModernBERT's layer 0 attn_norm is an Identity; it stores nothing).
    "first_attn_norm": (bool, True, None),
    # alibi: no position table; each head's scores get slope x (key - query) (BLOOM; Press et
    # al. 2022).
    # relative: no position table at the input; the first block of each stack holds a
    # [relative_buckets, n_heads] table of biases added to every layer's scores by the bucket of
    # (key - query), log-spaced up to relative_max_distance (T5; Raffel et al. 2020).
    "position": (str, "learned", ("learned", "sinusoidal", "rotary", "alibi", "relative", "none")),
    "relative_buckets": (int, 32, None),
    "relative_max_distance": (int, 128, None),
    "rope_theta": ((int, float), 10000.0, None),
    # The rotary base of the "local" layers where it differs from the dense layers' rope_theta
    # (ModernBERT: 160,000 global, 10,000 local; Gemma 3's rope_local_base_freq 10,000 beside
    # 1,000,000); those layers take no rope_scaling. None: rope_theta everywhere.
    "local_rope_theta": ((int, float), None, None),
    # The row of a learned position table that position 0 reads: RoBERTa and OPT keep the
    # first two rows unused (RoBERTa's padding index + 1), so their tables hold n_ctx rows of
    # which n_ctx - 2 are reachable.
    "position_offset": (int, 0, None),
    # Positions do not advance over padding (RoBERTa: its padding token is position_offset - 1).
    "positions_skip_padding": (bool, False, None),
    # Rotary's variants; they change the forward pass, no tensor. The share of each head's
    # dimensions rotated (GLM-4 0.5, StableLM 0.25; the rest pass through), pairs (2j, 2j+1)
    # rotated instead of (j, j + half) (GLM-4, Cohere), and the layers that rotate at all
    # (SmolLM3's no_rope_layers: 1 rotary, 0 none; absent: every layer).
    "rotary_fraction": ((int, float), 1.0, None),
    "rotary_interleaved": (bool, False, None),
    "rotary_layers": (list, None, None),
    # Llama 3.1's frequency scaling (rope_type llama3): factor, low_freq_factor,
    # high_freq_factor, original_max_position_embeddings, as config.json's rope_parameters.
    "rope_scaling": (dict, None, None),
    # Scalars of the forward pass (Granite's muP multipliers, Cohere's logit scale, OLMo's
    # clipping): embeddings x embedding_multiplier, each sublayer's output x residual_multiplier
    # before it is added, attention scores x attention_scale (absent: 1/sqrt(d_head)), logits x
    # logit_scale, queries, keys and values clamped to +-clip_qkv.
    "embedding_multiplier": ((int, float), 1.0, None),
    "residual_multiplier": ((int, float), 1.0, None),
    "attention_scale": ((int, float), None, None),
    "logit_scale": ((int, float), 1.0, None),
    "clip_qkv": ((int, float), None, None),
    # Gemma: embeddings x sqrt(d_model), a factor transformers rounds to the model's dtype first
    # (bf16 makes sqrt(3072) 55.5), so it is said by name, not as an embedding_multiplier.
    "embedding_scale": (str, "none", ("none", "sqrt_d_model")),
    # Gemma 2's soft caps, cap x tanh(x / cap): on attention scores (after attention_scale,
    # before the mask) and on the final logits.
    "attention_softcap": ((int, float), None, None),
    "logit_softcap": ((int, float), None, None),
    "type_vocab_size": (int, 0, None),  # BERT token-type (segment) embeddings
    # An image model (ViT): the input is an image_size x image_size picture of num_channels,
    # cut into patch_size x patch_size patches by a convolution (the embedding, with a bias),
    # after a learned [CLS] vector; n_ctx = (image_size // patch_size)^2 + 1 positions.
    "patch_size": (int, None, None),
    "image_size": (int, None, None),
    "num_channels": (int, 3, None),
    "pooler": (bool, False, None),  # BERT pooler: dense + tanh on the first token
    # BERT's pretraining heads: masked-LM (dense + activation + norm, then the unembedding,
    # tied to the embedding, with a bias) and next-sentence (2 classes from the pooled token).
    "mlm_head": (bool, False, None),
    "nsp_head": (bool, False, None),
    "biases": ((bool, dict), False, None),
    "tied_embeddings": (bool, False, None),
    "attention_pattern": (list, ["dense"], None),  # cycled over layers: dense | local
    # Tokens a "local" layer sees: a decoder's look back over the last local_window (GPT-3); an
    # encoder's see local_window // 2 on each side (ModernBERT's local_attention, |q - k| <= w/2).
    "local_window": (int, None, None),
    # What the source itself printed (its table row, its parameter count `n_params`), kept beside
    # the reading this spec takes so that `count` can say where the two part.
    "published": (dict, None, None),
    "notes": (str, "", None),
}

POSITIVE = ("vocab_size", "n_ctx", "d_model", "n_layers", "n_decoder_layers", "n_heads", "d_head",
            "n_kv_heads", "d_ff", "local_window", "patch_size", "image_size", "num_channels",
            "local_rope_theta", "attention_softcap", "logit_softcap", "relative_buckets",
            "relative_max_distance", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
            "qk_rope_head_dim", "v_head_dim")

# Every per-layer table has a row per layer, so a corrupt or hostile n_layers of 10**9 would run
# for hours. Far past any published model (DeepNet's 1,000 layers); counting 10,000 takes ~1 s.
MAX_LAYERS = 10_000


@dataclass(frozen=True)
class Spec:
    name: str
    family: str
    source: str
    vocab_size: int
    n_ctx: int
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    architecture: str = "decoder"
    n_decoder_layers: int = 0  # 0 unless an encoder-decoder
    n_experts: int = 0
    experts_per_token: int | None = None
    d_ff_expert: int | None = None
    d_ff_shared: int = 0
    shared_expert_gate: bool = False
    dense_layers: tuple = ()
    norm_topk_prob: bool = False
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    attention_sinks: bool = False
    d_head: int = 0
    n_kv_heads: int = 0
    activation: str = "gelu_tanh"
    swiglu_limit: float | None = None
    swiglu_alpha: float = 1.0
    gated_mlp: bool = False
    norm: str = "layernorm"
    norm_placement: str = "pre"
    norm_params: bool = True
    norm_unit_offset: bool = False
    qk_norm: str = "none"
    residual: str = "sequential"
    shared_block_norm: bool = False
    norm_eps: float = 1e-5
    final_norm: bool = True
    embedding_norm: bool = False
    first_attn_norm: bool = True
    position: str = "learned"
    rope_theta: float = 10000.0
    local_rope_theta: float | None = None
    relative_buckets: int = 32
    relative_max_distance: int = 128
    position_offset: int = 0
    positions_skip_padding: bool = False
    rotary_fraction: float = 1.0
    rotary_interleaved: bool = False
    rotary_layers: list | None = None
    rope_scaling: dict | None = None
    embedding_multiplier: float = 1.0
    residual_multiplier: float = 1.0
    attention_scale: float | None = None
    logit_scale: float = 1.0
    clip_qkv: float | None = None
    embedding_scale: str = "none"
    attention_softcap: float | None = None
    logit_softcap: float | None = None
    type_vocab_size: int = 0
    patch_size: int | None = None
    image_size: int | None = None
    num_channels: int = 3
    pooler: bool = False
    mlm_head: bool = False
    nsp_head: bool = False
    biases: frozenset = field(default_factory=frozenset)
    tied_embeddings: bool = False
    attention_pattern: tuple = ("dense",)
    local_window: int | None = None
    published: dict = field(default_factory=dict)
    notes: str = ""
    path: str = ""  # where it was loaded from, for messages

    def has_bias(self, kind: str) -> bool:
        return kind in self.biases

    @property
    def attn_width(self) -> int:
        """Width of the concatenated query heads: n_heads x d_head."""
        return self.n_heads * self.d_head

    @property
    def kv_width(self) -> int:
        return self.n_kv_heads * self.d_head

    @property
    def key_up_width(self) -> int:
        """Latent attention: the unrotated keys' rows of kv_up, n_heads x qk_nope_head_dim."""
        return self.n_heads * (self.qk_nope_head_dim or 0)

    @property
    def value_up_width(self) -> int:
        """Latent attention: the values' rows of kv_up, n_heads x v_head_dim."""
        return self.n_heads * (self.v_head_dim or 0)

    @property
    def output_width(self) -> int:
        """What the attention output projection reads: the heads' values side by side."""
        return self.value_up_width if self.kv_lora_rank else self.attn_width

    @property
    def has_unembedding(self) -> bool:
        """A decoder's (an encoder-decoder's too), or an encoder's masked-LM head's."""
        return self.architecture != "encoder" or self.mlm_head

    def is_moe_layer(self, layer: int) -> bool:
        return self.n_experts > 0 and layer not in self.dense_layers

    @property
    def expert_width(self) -> int:
        return self.d_ff_expert or self.d_ff

    def layer_attention(self, layer: int) -> str:
        return self.attention_pattern[layer % len(self.attention_pattern)]

    def warnings(self) -> list[str]:
        """Things that are legal but surprising, said aloud rather than hidden."""
        out = []
        for key, said in self.published.items():
            if key != "n_params" and getattr(self, key) != said:
                out.append(f"{self.name}: the source gives {key} {said}, this spec takes"
                           f" {getattr(self, key)} (see the spec's notes: {self.notes.strip()})")
        if self.attn_width != self.d_model and not self.kv_lora_rank:  # (latent: by design)
            out.append(
                f"{self.name}: n_heads x d_head = {self.n_heads} x {self.d_head} = {self.attn_width:,}"
                f" differs from d_model {self.d_model:,}; attention projects {self.d_model:,} ->"
                f" {self.attn_width:,} -> {self.d_model:,}"
            )
        return out


def _where(origin: str) -> str:
    return origin or "spec"


def _check_type(key: str, value: object, expected) -> str | None:
    types = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool) and bool not in types:
        return f"'{key}' must be {_type_names(types)}, got {value!r}"
    if not isinstance(value, types):  # the value shortened: a spec's list may be 100,000 long
        return (f"'{key}' must be {_type_names(types)}, got {type(value).__name__}"
                f" {reprlib.repr(value)}")
    return None


def _type_names(types: tuple) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             dict: "a mapping", list: "a list"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _biases(value: object, problems: list[str]) -> frozenset:
    if isinstance(value, bool):
        return frozenset(BIAS_KINDS) if value else frozenset()
    kinds = set()
    for kind, on in value.items():
        if kind not in BIAS_KINDS:
            problems.append(f"unknown key 'biases.{kind}'{_suggest(kind, BIAS_KINDS)}")
        elif not isinstance(on, bool):
            problems.append(f"'biases.{kind}' must be true or false, got {reprlib.repr(on)}")
        elif on:
            kinds.add(kind)
    return frozenset(kinds)


def _suggest(key: str, valid) -> str:
    import difflib  # only for a mistake: a name to suggest

    close = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def spec_from_dict(data: object, origin: str = "") -> Spec:
    """Validate a mapping and build a Spec. All problems are gathered into one SpecError line."""
    where = _where(origin)
    if not isinstance(data, dict):
        raise SpecError(where, f"a spec must be a mapping of keys to values, got {type(data).__name__}")
    problems: list[str] = []
    values: dict[str, object] = {}
    for key in data:
        if key not in FIELDS:
            problems.append(f"unknown key '{key}'{_suggest(key, FIELDS)}")
    for key, (expected, default, choices) in FIELDS.items():
        if key not in data or data[key] is None:
            if default is REQUIRED:
                problems.append(f"missing key '{key}'")
            values[key] = default
            continue
        value = data[key]
        problem = _check_type(key, value, expected)
        if problem:
            problems.append(problem)
            values[key] = default if default is not REQUIRED else None
            continue
        if choices and value not in choices:
            problems.append(f"'{key}' must be one of {', '.join(choices)}; got"
                            f" {reprlib.repr(value)}")
        values[key] = value
    for key in POSITIVE:
        value = values.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
            problems.append(f"'{key}' must be positive, got {value}")
    for key in ("n_layers", "n_decoder_layers"):
        n_layers = values.get(key)
        if isinstance(n_layers, int) and n_layers > MAX_LAYERS:
            shown = f"{n_layers:,}" if n_layers < 10**30 else "over 10^30"
            problems.append(f"'{key}' is {shown}, more than the {MAX_LAYERS:,} this tool counts")
    if values.get("n_decoder_layers") and values.get("architecture") != "encoder-decoder":
        problems.append("'n_decoder_layers' is for architecture: encoder-decoder only")
    if isinstance(values.get("position_offset"), int) and values["position_offset"] < 0:
        problems.append(f"'position_offset' must be 0 or more, got {values['position_offset']}")
    if isinstance(values.get("type_vocab_size"), int) and values["type_vocab_size"] < 0:
        problems.append(f"'type_vocab_size' must be 0 or more, got {values['type_vocab_size']}")
    biases = _biases(values["biases"], problems) if values["biases"] is not None else frozenset()
    pattern = values["attention_pattern"] or ["dense"]
    if not all(kind in ("dense", "local") for kind in pattern):
        problems.append("'attention_pattern' entries must be dense or local, got"
                        f" {reprlib.repr(pattern)}")
    elif "local" in pattern and not values.get("local_window"):
        problems.append("'attention_pattern' has local layers but 'local_window' is not given")
    _check_heads(values, problems)
    _check_rotary(values, problems)
    _check_experts(values, problems)
    _check_latent(values, problems)
    _check_input(values, problems)
    _check_family(values.get("family"), problems)
    for key in values.get("published") or {}:
        if key != "n_params" and key not in FIELDS:
            problems.append(f"unknown key 'published.{key}'{_suggest(key, FIELDS)}")
    if values.get("nsp_head") and not values.get("pooler"):
        problems.append("'nsp_head' classifies the pooled token: it needs 'pooler: true'")
    if values.get("norm") == "rmsnorm" and "norm" in biases:
        problems.append("'biases.norm' cannot be true with norm: rmsnorm (RMSNorm has no bias)")
    if values.get("norm_unit_offset") and values.get("norm") != "rmsnorm":
        problems.append("'norm_unit_offset' is Gemma's RMSNorm gain (1 + weight): it needs"
                        " norm: rmsnorm")
    if problems:
        raise SpecError(where, "; ".join(problems))
    d_head = values["d_head"] or values["d_model"] // values["n_heads"]
    encoder_decoder = values["architecture"] == "encoder-decoder"
    return Spec(
        **{k: v for k, v in values.items() if k not in ("d_head", "n_kv_heads", "biases",
                                                       "attention_pattern", "published",
                                                       "dense_layers", "n_decoder_layers")},
        dense_layers=tuple(values["dense_layers"] or ()),
        n_decoder_layers=(values["n_decoder_layers"] or values["n_layers"]) if encoder_decoder
        else 0,
        d_head=d_head,
        n_kv_heads=values["n_kv_heads"] or values["n_heads"],
        biases=biases,
        attention_pattern=tuple(pattern),
        published=dict(values["published"] or {}),
        path=origin,
    )


# Llama 3.1's rope_parameters, rope_type llama3 (transformers' _compute_llama3_parameters).
ROPE_SCALING_KEYS = ("rope_type", "factor", "low_freq_factor", "high_freq_factor",
                     "original_max_position_embeddings")
# Rotary scalings kept as config.json gives them: they change no tensor, so counting needs
# nothing of them, but inspector's model does not compute them (Phi-3's longrope: short and long
# per-frequency factors, switched by sequence length; dynamic NTK: theta grown with the sequence
# past the trained context), so building such a spec refuses.
UNBUILT_ROPE_TYPES = ("longrope", "dynamic")
# Scalings whose keys vary from config to config (yarn's mscale, mscale_all_dim, truncate,
# attention_factor): kept as config.json gives them, as the unbuilt ones are.
KEPT_ROPE_TYPES = (*UNBUILT_ROPE_TYPES, "yarn")
# Linear scaling (rope_type linear, Gemma 3's global layers): every frequency divided by factor.
LINEAR_ROPE_KEYS = ("rope_type", "factor")
ROPE_TYPES = {"llama3": ROPE_SCALING_KEYS, "linear": LINEAR_ROPE_KEYS}


def _check_rotary(values: dict, problems: list[str]) -> None:
    fraction = values.get("rotary_fraction")
    if isinstance(fraction, (int, float)) and not 0 < fraction <= 1:
        problems.append(f"'rotary_fraction' must be in (0, 1], got {fraction}")
    layers = values.get("rotary_layers")
    if layers is not None:
        if any(flag not in (0, 1) or isinstance(flag, float) for flag in layers):
            problems.append(f"'rotary_layers' entries must be 1 (rotary) or 0 (none), got {layers!r}")
        elif isinstance(values.get("n_layers"), int) and len(layers) != values["n_layers"]:
            problems.append(f"'rotary_layers' has {len(layers)} entries for"
                            f" {values['n_layers']} layers")
    scaling = values.get("rope_scaling")
    if scaling is not None and scaling.get("rope_type") == "yarn":
        if not all(isinstance(scaling.get(k), (int, float)) and scaling[k] > 0
                   for k in ("factor", "original_max_position_embeddings")):
            problems.append("'rope_scaling' of rope_type yarn needs positive factor and"
                            f" original_max_position_embeddings; got {scaling!r}")
    elif scaling is not None and scaling.get("rope_type") not in UNBUILT_ROPE_TYPES:
        keys = ROPE_TYPES.get(scaling.get("rope_type"))
        if keys is None or set(scaling) != set(keys):
            problems.append("'rope_scaling' must give rope_type: llama3 and exactly "
                            + ", ".join(ROPE_SCALING_KEYS[1:])
                            + f", or rope_type: linear and factor; got {scaling!r}")
        elif not all(isinstance(scaling[k], (int, float)) and not isinstance(scaling[k], bool)
                     and scaling[k] > 0 for k in keys[1:]):
            problems.append(f"'rope_scaling' values must be positive numbers, got {scaling!r}")


def _check_experts(values: dict, problems: list[str]) -> None:
    experts, k = values.get("n_experts"), values.get("experts_per_token")
    if not isinstance(experts, int) or isinstance(experts, bool):
        return
    if experts < 0:
        problems.append(f"'n_experts' must be 0 or more, got {experts}")
    elif experts and not (isinstance(k, int) and 0 < k <= experts):
        problems.append(f"'experts_per_token' must be from 1 to n_experts ({experts}) in a"
                        f" mixture of experts, got {reprlib.repr(k)}")
    for key in ("d_ff_expert", "d_ff_shared"):
        if isinstance(values.get(key), int) and values[key] < 0:
            problems.append(f"'{key}' must be 0 or more, got {values[key]}")
    dense = values.get("dense_layers") or []
    n_layers = values.get("n_layers")
    limit = n_layers if isinstance(n_layers, int) and not isinstance(n_layers, bool) else None
    if any(not isinstance(i, int) or isinstance(i, bool) or i < 0
           or (limit is not None and i >= limit) for i in dense):
        problems.append(f"'dense_layers' must list layer numbers from 0 to n_layers - 1, got"
                        f" {reprlib.repr(dense)}")


def _check_latent(values: dict, problems: list[str]) -> None:
    """Latent attention needs every head width it names."""
    if values.get("kv_lora_rank") is None:
        return
    missing = [key for key in ("qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
               if values.get(key) is None]
    if missing:
        problems.append(f"'kv_lora_rank' (latent attention) needs {', '.join(missing)}")


def _check_input(values: dict, problems: list[str]) -> None:
    """Token ids need a vocabulary; an image, its size, and as many positions as patches + 1."""
    patch, image, n_ctx = values.get("patch_size"), values.get("image_size"), values.get("n_ctx")
    if patch is None:
        if values.get("vocab_size") is None:
            problems.append("missing key 'vocab_size'")
        return
    if not isinstance(image, int) or not isinstance(patch, int) or image <= 0 or patch <= 0:
        problems.append("'patch_size' needs 'image_size' (an image model's input)")
    elif isinstance(n_ctx, int) and n_ctx != (image // patch) ** 2 + 1:
        problems.append(f"'n_ctx' must be the {(image // patch) ** 2} patches of a {image}-pixel"
                        f" image in {patch}-pixel patches + 1 ([CLS]), got {n_ctx}")


def _check_family(family: object, problems: list[str]) -> None:
    from inspector.families import spec_family_names

    names = spec_family_names()
    if isinstance(family, str) and family not in names:
        problems.append(f"'family' must be one of {', '.join(names)}; got {family!r}"
                        f"{_suggest(family, names)}")


def _check_heads(values: dict, problems: list[str]) -> None:
    d_model, n_heads = values.get("d_model"), values.get("n_heads")
    if not all(isinstance(v, int) and v > 0 for v in (d_model, n_heads)):
        return
    if not values.get("d_head") and d_model % n_heads:
        problems.append(
            f"n_heads {n_heads} does not divide d_model {d_model}; give d_head explicitly"
        )
    n_kv = values.get("n_kv_heads")
    if isinstance(n_kv, int) and n_kv > 0 and n_heads % n_kv:
        problems.append(f"n_kv_heads {n_kv} does not divide n_heads {n_heads}")


def load_spec(name_or_path: str) -> Spec:
    """A shipped spec by name (`gpt2-124m`), a YAML spec file, or a hub config.json."""
    path = Path(name_or_path)
    if not path.is_file():
        shipped = SPEC_DIR / f"{name_or_path}.yaml"
        if shipped.is_file():
            path = shipped
        elif path.suffix in (".yaml", ".yml", ".json") or "/" in name_or_path:
            raise SpecError(name_or_path, "no such spec file")
        else:
            raise SpecError(
                name_or_path,
                f"not a shipped spec{_suggest(name_or_path, shipped_names())};"
                f" shipped: {', '.join(shipped_names())}",
            )
    if path.suffix == ".json":
        from inspector.hf_config import spec_from_config

        return spec_from_config(read_json(path, SpecError), origin=str(path))
    return spec_from_dict(_read_yaml(path), origin=str(path))


# A spec is a page of YAML; its bounds are checked before the work: the file's size, and the
# nodes the document expands to once every alias is followed (a "billion laughs" of nested
# aliases is a few hundred bytes that expand to 10^9 nodes).
MAX_YAML_BYTES = 1024 * 1024
MAX_YAML_NODES = 100_000


def _read_yaml(path: Path) -> object:
    import yaml

    note_read(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_YAML_BYTES:
                raise SpecError(path, f"{size:,} bytes, over the {MAX_YAML_BYTES:,}-byte limit"
                                      " for a spec file")
            text = f.read(MAX_YAML_BYTES + 1).decode("utf-8")
        if len(text) > MAX_YAML_BYTES:
            raise SpecError(path, f"over the {MAX_YAML_BYTES:,}-byte limit for a spec file")
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            try:
                nodes = _expanded_nodes(node)
            except RecursionError as e:
                raise SpecError(path, f"{e}: a recursive document is not a spec") from e
            if nodes > MAX_YAML_NODES:
                shown = f"{nodes:,}" if nodes < 10**30 else "over 10^30"
                raise SpecError(path, f"YAML aliases expand to {shown} nodes, more than the"
                                      f" {MAX_YAML_NODES:,} read")
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(path, f"cannot read: {e}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        # A ReaderError (a control character) has a reason, not a problem; str() spans lines.
        why = getattr(e, "problem", None) or getattr(e, "reason", None) or e
        raise SpecError(path, f"not valid YAML{at}: {why}") from e
    except (ValueError, OverflowError) as e:  # PyYAML converts a scalar it cannot hold:
        # an integer of 5,000 digits, an escape "\U80010000" past the last code point
        raise SpecError(path, f"not a usable YAML value: {e}") from e
    except RecursionError as e:
        raise SpecError(path, "not a spec: YAML nested too deeply") from e


def _expanded_nodes(root) -> int:
    """Nodes of the document with every alias followed: each node counted once per path to it.
    Aliases make the node graph a DAG (the composer refuses a recursive one), so this is a
    memoised sum over it, linear in the nodes actually written."""
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # on the path being expanded: an alias to one is a cycle
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = (node.value if isinstance(node, yaml.SequenceNode)
                    else [n for pair in node.value for n in pair])
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            open_nodes.discard(id(node))
            continue
        if id(node) in open_nodes:  # reached again below itself (PyYAML composes `&a [*a]`)
            raise RecursionError("a YAML alias refers to a node that holds it")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def shipped_specs() -> list[Spec]:
    return [load_spec(name) for name in shipped_names()]

