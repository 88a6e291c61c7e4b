"""DeepSeek-V3 (DeepseekV3ForCausalLM): multi-head latent attention and a mixture of experts.

Attention (DeepSeek-V2, section 2.1; transformers' DeepseekV3Attention):

  q_a_proj            d -> q_lora_rank                 `attn.q_down`       query
  q_a_layernorm       q_lora_rank                      `attn.q_down_norm`  norm
  q_b_proj            q_lora_rank -> h (nope + rope)   `attn.q_up`         query
  (q_proj             d -> h (nope + rope), where q_lora_rank is null: `attn.query`, query)
  kv_a_proj_with_mqa  d -> kv_lora_rank + rope         `attn.kv_down`      key
  kv_a_layernorm      kv_lora_rank                     `attn.kv_down_norm` norm
  kv_b_proj           kv_lora_rank -> h (nope + v)     `attn.key_up` key, `attn.value_up` value
  o_proj              h v -> d                         `attn.output`       output

Why these roles: the queries' two projections make queries and nothing else. kv_a_proj_with_mqa
makes the latent keys and values are brought up from and, beside it, the rotated part of the key
one for all heads (the "MQA" of its name): the cache holds its output in place of keys, and its
rotated rows are a key outright, so the whole projection is `key` (the latent serves values too,
but only through kv_b_proj, whose value rows are `value`). kv_b_proj's rows alternate per head,
nope key rows then value rows ("(h (nope + v)) rank", its output is viewed [.., h, nope + v] and
split), so it is a fused tensor cut head by head into key rows and value rows. The latent norms
are norms. There are no key/value groups: n_kv_heads is n_heads (config.json's
num_key_value_heads is not read; the head_dim it writes is qk_rope_head_dim, not a head's width).

The MLP: the first first_k_dense_replace layers dense (intermediate_size), the rest n_routed_experts
routed experts of moe_intermediate_size (`mlp.experts.{e}`, or transformers' 3-D gate_up_proj and
down_proj), k = num_experts_per_tok a token, and n_shared_experts shared experts as one MLP of
n_shared x moe_intermediate_size (`mlp.shared_experts` -> `mlp.shared`). The router is
`mlp.gate.weight`; its `e_score_correction_bias` is a persistent buffer (nn.Buffer: in the state
dict, not a parameter), added to the scores only to choose the experts.

The published checkpoint also stores one multi-token-prediction module as `model.layers.{n}.*`,
n = num_hidden_layers (transformers ignores it on loading: _keys_to_ignore_on_load_unexpected):
a whole decoder layer, plus `enorm`, `hnorm` (norms of the next token's embedding and of the
hidden state), `eh_proj` (2d -> d, joining them), `shared_head.norm`, `shared_head.head` (its
unembedding) and its own `embed_tokens`. Those tensors are recognised under `layers.{n}.mtp.*`
(roles norm, norm, head, norm, unembedding, embedding) and the decoder layer under `layers.{n}`;
all of layer n is the MTP module, apart from the main model, whose num_hidden_layers layers the
spec counts (671,026,404,352 for DeepSeek-V3).

Counting is exact; inspector's model does not compute latent attention (nor its rotary on the
qk_rope part alone, interleaved), the sigmoid scores with group-limited top-k (n_group,
topk_group), the correction bias (a buffer its loader would have to fill) or
routed_scaling_factor, nor yarn's mscale_all_dim on the attention scale: `build` refuses a
deepseek_v3 spec (inspector.building.transformer.refuse_unbuilt, on kv_lora_rank).
"""

from inspector.families.base import Family
from inspector.families.helpers import CONFIG_KEYS, DEFAULTS, L, M, linear, norm, read_rope
from inspector.families.moe import MOE_LAYOUT, expert
from inspector.vocab.layout import Layout, Rule
from inspector.vocab.rows import MTP as MTP_COMPONENT
from inspector.vocab.words import KEPT_ROPE_TYPES

A = f"{M}.self_attn"
MTP = f"{L}.mtp"

LATENT_ATTENTION = (
    *linear(f"{A}.q_a_proj", f"{L}.attn.q_down"),
    Rule(f"{A}.q_a_layernorm.weight", (f"{L}.attn.q_down_norm.weight",)),
    *linear(f"{A}.q_b_proj", f"{L}.attn.q_up"),
    *linear(f"{A}.kv_a_proj_with_mqa", f"{L}.attn.kv_down"),
    Rule(f"{A}.kv_a_layernorm.weight", (f"{L}.attn.kv_down_norm.weight",)),
    Rule(f"{A}.kv_b_proj.weight", (f"{L}.attn.key_up.weight", f"{L}.attn.value_up.weight"),
         split_axis=0, split_sizes=("key_up_width", "value_up_width"), head_interleaved=True),
)

DEEPSEEK_LAYOUT = Layout(
    name="deepseek-v3",
    family="deepseek_v3",
    requires=(f"{A}.kv_a_proj_with_mqa.weight",),  # Llama's names and more
    rules=(
        *MOE_LAYOUT.rules,  # embeddings, q_proj/o_proj, norms, dense MLPs, router, experts
        *LATENT_ATTENTION,
        expert(f"{M}.mlp.shared_experts.gate_proj", f"{L}.mlp.shared.gate"),
        expert(f"{M}.mlp.shared_experts.up_proj", f"{L}.mlp.shared.up"),
        expert(f"{M}.mlp.shared_experts.down_proj", f"{L}.mlp.shared.down"),
        Rule(f"{M}.mlp.gate.e_score_correction_bias", what="expert-score correction"),
        # the multi-token-prediction module (layer num_hidden_layers of the published files)
        *norm(f"{M}.enorm", f"{MTP}.enorm"),
        *norm(f"{M}.hnorm", f"{MTP}.hnorm"),
        Rule(f"{M}.eh_proj.weight", (f"{MTP}.eh_proj.weight",)),
        Rule(f"{M}.shared_head.norm.weight", (f"{MTP}.head_norm.weight",)),
        Rule(f"{M}.shared_head.head.weight", (f"{MTP}.unembed.weight",)),
        Rule(f"{M}.embed_tokens.weight", (f"{MTP}.embed.weight",)),
    ),
)

KEYS = {**{k: v for k, v in CONFIG_KEYS.items() if k not in ("n_kv_heads", "d_head")},
        "n_experts": ("n_routed_experts", "num_local_experts"),
        "experts_per_token": "num_experts_per_tok", "d_ff_expert": "moe_intermediate_size",
        "norm_topk_prob": "norm_topk_prob",
        **{k: k for k in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                          "v_head_dim")}}

# DeepseekV3Config's defaults: DeepSeek-V3's own sizes.
DEEPSEEK_DEFAULTS = {**DEFAULTS, "vocab_size": 129280, "n_ctx": 4096, "d_model": 7168,
                     "n_layers": 61, "n_heads": 128, "d_ff": 18432, "n_experts": 256,
                     "experts_per_token": 8, "d_ff_expert": 2048, "norm_topk_prob": True,
                     "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
                     "qk_rope_head_dim": 64, "v_head_dim": 128}
FIRST_K_DENSE, N_SHARED = 3, 1  # DeepseekV3Config's first_k_dense_replace, n_shared_experts


def read_scaled_rope(config: dict, data: dict, theta: float) -> None:
    """rope_theta from rope_parameters (transformers 5) or the top (older files), `theta` where
    neither says; a scaling this model does not compute (yarn) kept as config.json gives it,
    under rope_type, so counting reads it and build refuses it."""
    rope = config.get("rope_parameters") or config.get("rope_scaling")
    rope = rope if isinstance(rope, dict) else {}
    data["rope_theta"] = rope.get("rope_theta") or config.get("rope_theta") or theta
    read_rope(config, data)  # llama3's scaling
    kind = rope.get("rope_type", rope.get("type"))
    if kind in KEPT_ROPE_TYPES:
        data["rope_scaling"] = {"rope_type": kind, **{k: v for k, v in rope.items()
                                                      if k not in ("type", "rope_type",
                                                                   "rope_theta")}}


def write_scaled_rope(spec, config: dict) -> None:
    config["rope_parameters"] = {**(spec.rope_scaling or {"rope_type": "default"}),
                                 "rope_theta": spec.rope_theta}


def read_deepseek(config: dict, data: dict) -> None:
    """The query's and key's head width (nope + rope), the shared experts' width, the dense
    first layers, and a q_lora_rank config.json sets to null (one query projection)."""
    read_scaled_rope(config, data, 10000.0)
    if "q_lora_rank" in config and config["q_lora_rank"] is None:
        data["q_lora_rank"] = None
    nope, rope = data.get("qk_nope_head_dim"), data.get("qk_rope_head_dim")
    if isinstance(nope, int) and isinstance(rope, int):
        data["d_head"] = nope + rope
    data["n_kv_heads"] = data.get("n_heads")
    shared, width = config.get("n_shared_experts", N_SHARED), data.get("d_ff_expert")
    if isinstance(shared, int) and isinstance(width, int):
        data["d_ff_shared"] = (shared or 0) * width
    first = config.get("first_k_dense_replace", FIRST_K_DENSE)
    n_layers = data.get("n_layers")
    if isinstance(first, int) and isinstance(n_layers, int):
        data["dense_layers"] = list(range(min(max(first, 0), n_layers)))


def write_deepseek(spec, config: dict) -> None:
    """The inverse; dense layers must be the first ones (first_k_dense_replace says no other)."""
    write_scaled_rope(spec, config)
    if list(spec.dense_layers) != list(range(len(spec.dense_layers))):
        raise ValueError(f"deepseek_v3 makes its first layers dense, not {spec.dense_layers}")
    config["first_k_dense_replace"] = len(spec.dense_layers)
    config["n_shared_experts"] = spec.d_ff_shared // spec.expert_width
    config["num_key_value_heads"] = spec.n_heads


DEEPSEEK_V3 = Family(
    name="deepseek_v3", hf_class="DeepseekV3ForCausalLM", layouts=(DEEPSEEK_LAYOUT,),
    config_keys=KEYS, defaults=DEEPSEEK_DEFAULTS,
    bias_keys={"attention_bias": ("qkv", "attn_output")},
    read_config=read_deepseek, write_config=write_deepseek,
    # llama.cpp's deepseek2: its stacked experts would read as Mixtral's do, but its latent
    # attention's GGUF tensors are not checked against the converter yet: not read.
    gguf_arch=None,
    # the published checkpoint's layer 61: its multi-token-prediction module
    extra_layers=MTP_COMPONENT,
)

FAMILIES = (DEEPSEEK_V3,)
