"""Spec: a frozen description of one transformer, loaded from YAML and validated.

The schema is a table (FIELDS) so that validation, defaults and the error for an unknown key all
read from one place. A spec describes the architecture only; the layout of a checkpoint on disk is
the business of the family modules (`inspector.families`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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



@dataclass(frozen=True)
class Spec:
    """One transformer's architecture: FIELDS checked and defaulted by
    inspector.spec.validation. (A docstring of its own also spares dataclass writing one from
    the signature of 80 fields at every start.)"""
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

    def attends(self, layer: int) -> bool:
        """Whether the layer has attention (every layer a family describes; the transformers
        path's state-space and linear-attention layers do not)."""
        return True

    def warnings(self) -> list[str]:
        """Things that are legal but surprising, said aloud rather than hidden."""
        out = []
        for key, said in self.published.items():
            if key != "n_params" and getattr(self, key) != said:
                out.append(f"{self.name}: the source gives {key} {said}, this spec takes"
                           f" {getattr(self, key)} (see the spec's notes: {self.notes.strip()})")
        # Attention as wide as the stream, unless the family's config.json gives head_dim (Qwen3,
        # Gemma, gpt-oss are built wider or narrower: no mistake) or attention is latent (MLA).
        if self.attn_width != self.d_model and not self.kv_lora_rank \
                and not _family_says_d_head(self.family):
            out.append(
                f"{self.name}: n_heads x d_head = {self.n_heads} x {self.d_head} = {self.attn_width:,}"
                f" differs from d_model {self.d_model:,}; attention projects {self.d_model:,} ->"
                f" {self.attn_width:,} -> {self.d_model:,}"
            )
        return out


def _family_says_d_head(name: str) -> bool:
    """Whether the family's config.json has a key for d_head (head_dim): where it has none
    (GPT-2, GPT-3), a width apart from d_model / n_heads is a spec's own reading, worth a word."""
    from inspector import families

    facts = families.spec_facts(name)
    return facts is not None and facts["config_gives_d_head"]
