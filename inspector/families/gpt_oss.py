"""gpt-oss (GptOssForCausalLM): Llama's attention with biases and attention sinks, every layer a
mixture of experts whose experts carry biases, layers alternating sliding-window and full.

transformers' GptOssAttention keeps q/k/v/o with biases and `self_attn.sinks` [n_heads]: a
learned logit per head that joins each query's softmax as one more key whose value is zero, so
it takes a share of the head's attention and scales down what the head hands o_proj. It reads
no token (it is no key projection) and acts on each head's output: its role is `output`
(canonical `attn.sinks`).

The router is `mlp.router` (a Linear(d, E) with a bias: the spec's `router` bias). The experts
are 3-D and stored (in, out), unlike the other families': `experts.gate_up_proj` [E, d, 2 ff]
whose columns alternate gate, up, gate, up (GptOssExperts: gate = gate_up[..., ::2], up =
gate_up[..., 1::2]), `gate_up_proj_bias` [E, 2 ff] alike, `experts.down_proj` [E, ff, d] and
`down_proj_bias` [E, d]: the spec's `mlp` biases. intermediate_size is each expert's width; no
layer is dense.

The router takes the softmax of the top k logits: the softmax of all of them renormalised
over the top k is the same numbers (`norm_topk_prob`). The experts' SwiGLU is clamped
(`swiglu_limit`, `swiglu_alpha`: gate x sigmoid(alpha gate) x (up + 1)); rotary is yarn.
"""

from inspector.families.base import Family
from inspector.families.deepseek import read_scaled_rope, write_scaled_rope
from inspector.families.gemma import CONFIG_LAYER_TYPES, read_pattern
from inspector.families.helpers import CONFIG_KEYS, DEFAULTS, LLAMA_LAYOUT, L, M, linear
from inspector.vocab.layout import Layout, Rule

E = f"{L}.mlp.experts.{{e}}"
X = f"{M}.mlp.experts"


def experts(stored: str, kind: str, targets: tuple[str, ...], **cut) -> Rule:
    """A layer's experts in one tensor; a weight is stored (in, out)."""
    return Rule(f"{X}.{stored}", tuple(f"{E}.{t}.{kind}" for t in targets), experts=True,
                transposed=kind == "weight", **cut)


GPT_OSS_LAYOUT = Layout(
    name="gpt-oss",
    family="gpt_oss",
    requires=(f"{M}.self_attn.sinks",),  # Llama's names and more
    rules=(
        *LLAMA_LAYOUT.rules,  # embeddings, attention (with biases), norms, lm_head
        Rule(f"{M}.self_attn.sinks", (f"{L}.attn.sinks.weight",)),
        *linear(f"{M}.mlp.router", f"{L}.mlp.router"),
        experts("gate_up_proj", "weight", ("gate", "up"), split_axis=1, interleaved=True),
        experts("gate_up_proj_bias", "bias", ("gate", "up"), split_axis=0, interleaved=True),
        experts("down_proj", "weight", ("down",)),
        experts("down_proj_bias", "bias", ("down",)),
    ),
)

KEYS = {**CONFIG_KEYS, "local_window": "sliding_window",
        "n_experts": ("num_local_experts", "num_experts"),
        "experts_per_token": ("num_experts_per_tok", "experts_per_token"),
        "swiglu_limit": "swiglu_limit", "swiglu_alpha": "swiglu_alpha"}

# GptOssConfig's defaults: gpt-oss-120b's sizes, yarn rotary (factor 32 over 4,096 positions);
# the router's softmax over the top k is norm_topk_prob's renormalisation (see above).
GPT_OSS_DEFAULTS = {**DEFAULTS, "vocab_size": 201088, "n_ctx": 131072, "d_model": 2880,
                    "n_layers": 36, "n_heads": 64, "n_kv_heads": 8, "d_head": 64, "d_ff": 2880,
                    "norm_eps": 1e-5, "n_experts": 128, "experts_per_token": 4,
                    "norm_topk_prob": True, "swiglu_limit": 7.0, "swiglu_alpha": 1.702,
                    "attention_sinks": True, "attention_pattern": ["local", "dense"],
                    "local_window": 128, "rope_theta": 150000.0,
                    "rope_scaling": {"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0,
                                     "beta_slow": 1.0, "truncate": False,
                                     "original_max_position_embeddings": 4096},
                    "biases": {"qkv": True, "attn_output": True, "mlp": True, "router": True}}


def read_gpt_oss(config: dict, data: dict) -> None:
    read_scaled_rope(config, data, GPT_OSS_DEFAULTS["rope_theta"])
    read_pattern(config, data, default_period=2)


def write_gpt_oss(spec, config: dict) -> None:
    write_scaled_rope(spec, config)
    config["layer_types"] = [CONFIG_LAYER_TYPES[spec.layer_attention(i)]
                             for i in range(spec.n_layers)]


GPT_OSS = Family(
    name="gpt_oss", hf_class="GptOssForCausalLM", layouts=(GPT_OSS_LAYOUT,),
    config_keys=KEYS, defaults=GPT_OSS_DEFAULTS,
    bias_keys={"attention_bias": ("qkv", "attn_output")},
    read_config=read_gpt_oss, write_config=write_gpt_oss,
)

FAMILIES = (GPT_OSS,)
