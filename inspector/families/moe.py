"""Mixtures of experts on Llama's block: Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE.

Each MoE layer's MLP is a router (`mlp.gate`, a Linear(d, E) that scores the experts), E routed
experts of which a token passes through k (softmax over the scores, the top k, renormalised to
sum to 1 where `norm_topk_prob` says: always in Mixtral), and in Qwen2-MoE a shared expert every
token passes through, scaled by sigmoid(shared_expert_gate(x)).

transformers >= 5 stores a layer's experts as two 3-D tensors, `experts.gate_up_proj` [E, 2 ff,
d] (gate's rows, then up's) and `experts.down_proj` [E, d, ff]; the checkpoints on the hub store
one tensor per expert: Mixtral's `block_sparse_moe.experts.{e}.w1` (gate), `w3` (up), `w2`
(down), Qwen's and OLMoE's `mlp.experts.{e}.gate_proj` / `up_proj` / `down_proj`. One layout
reads both. Dense layers among MoE layers (Qwen's `mlp_only_layers`, and `decoder_sparse_step`)
keep Llama's `mlp.gate_proj` / `up_proj` / `down_proj`.

llama.cpp stacks each layer's experts into one tensor a projection (`ffn_gate_exps` [E, ff, d],
...): families.gguf_names reads the per-expert rules so. Its converter writes Mixtral as a Llama
(architecture "llama", query and key rows permuted for rotary; its `expert_count` tells it from
one), the others under their own architectures, unpermuted.
"""

from inspector.families.helpers import (
    CONFIG_KEYS,
    DEFAULTS,
    LLAMA_LAYOUT,
    L,
    M,
    family,
    read_rope,
    write_rope,
)
from inspector.vocab.layout import Layout, Rule

E = f"{L}.mlp.experts.{{e}}"


def expert(stored: str, canonical: str) -> Rule:
    return Rule(f"{stored}.weight", (f"{canonical}.weight",))


MOE_LAYOUT = Layout(
    name="llama-moe",
    family="mixtral",  # shown when only the names tell
    rotary_inv_freq_is_full_head=True,
    rules=(
        *LLAMA_LAYOUT.rules,  # attention, norms, dense layers' MLPs
        Rule(f"{M}.mlp.gate.weight", (f"{L}.mlp.router.weight",)),
        Rule(f"{M}.mlp.experts.gate_up_proj", (f"{E}.gate.weight", f"{E}.up.weight"),
             split_axis=0, experts=True),
        Rule(f"{M}.mlp.experts.down_proj", (f"{E}.down.weight",), experts=True),
        # one tensor per expert, as the hub's checkpoints have them
        expert(f"{M}.mlp.experts.{{e}}.gate_proj", f"{E}.gate"),
        expert(f"{M}.mlp.experts.{{e}}.up_proj", f"{E}.up"),
        expert(f"{M}.mlp.experts.{{e}}.down_proj", f"{E}.down"),
        Rule(f"{M}.block_sparse_moe.gate.weight", (f"{L}.mlp.router.weight",)),
        expert(f"{M}.block_sparse_moe.experts.{{e}}.w1", f"{E}.gate"),
        expert(f"{M}.block_sparse_moe.experts.{{e}}.w3", f"{E}.up"),
        expert(f"{M}.block_sparse_moe.experts.{{e}}.w2", f"{E}.down"),
        # Qwen2-MoE's shared expert and its gate
        expert(f"{M}.mlp.shared_expert.gate_proj", f"{L}.mlp.shared.gate"),
        expert(f"{M}.mlp.shared_expert.up_proj", f"{L}.mlp.shared.up"),
        expert(f"{M}.mlp.shared_expert.down_proj", f"{L}.mlp.shared.down"),
        expert(f"{M}.mlp.shared_expert_gate", f"{L}.mlp.shared_gate"),
    ),
)

# (transformers 5 writes num_local_experts for every one of them; older files num_experts)
ROUTING = {"n_experts": ("num_experts", "num_local_experts"),
           "experts_per_token": "num_experts_per_tok",
           "d_ff_expert": "moe_intermediate_size",
           "norm_topk_prob": "norm_topk_prob"}


def read_qwen_moe(config: dict, data: dict) -> None:
    """Qwen's dense layers: those in mlp_only_layers, and those whose number + 1 is not a
    multiple of decoder_sparse_step (Qwen2MoeDecoderLayer's rule)."""
    read_rope(config, data)
    only = config.get("mlp_only_layers") or []
    step = config.get("decoder_sparse_step") or 1
    n_layers = data.get("n_layers")
    if isinstance(n_layers, int) and isinstance(step, int) and step > 0:
        data["dense_layers"] = [i for i in range(n_layers)
                                if i in only or (i + 1) % step != 0]
    shared = config.get("shared_expert_intermediate_size")
    if shared is not None:  # (Qwen2-MoE always has one: a gated shared expert)
        data["d_ff_shared"] = shared


def write_qwen_moe(spec, config: dict) -> None:
    write_rope(spec, config)
    config["mlp_only_layers"] = list(spec.dense_layers)
    config["decoder_sparse_step"] = 1
    if spec.d_ff_shared:
        config["shared_expert_intermediate_size"] = spec.d_ff_shared


MOE = {"layouts": (MOE_LAYOUT,), "gguf_rotary_permuted": False}

# MixtralConfig's defaults: Mixtral 8x7B's sizes, rope_theta 1e6; every layer an MoE layer.
# (llama.cpp's Llama converter: rotary-permuted, as family() has it)
MIXTRAL = family("mixtral", "MixtralForCausalLM", layouts=(MOE_LAYOUT,), gguf_arch="llama",
                 bias_keys={},
                 config_keys={**CONFIG_KEYS, **ROUTING,
                              "n_experts": ("num_local_experts", "num_experts")},
                 defaults={**DEFAULTS, "n_ctx": 131072, "d_ff": 14336, "n_kv_heads": 8,
                           "norm_eps": 1e-5, "rope_theta": 1e6, "n_experts": 8,
                           "experts_per_token": 2, "norm_topk_prob": True})

QWEN_SIZES = {"vocab_size": 151936, "n_ctx": 32768, "d_model": 2048, "n_layers": 24}
QWEN2_MOE = family("qwen2_moe", "Qwen2MoeForCausalLM", **MOE, gguf_arch="qwen2moe",
                   config_keys={**CONFIG_KEYS, **ROUTING},
                   bias_keys={"qkv_bias": ("qkv",)},
                   read_config=read_qwen_moe, write_config=write_qwen_moe,
                   defaults={**DEFAULTS, **QWEN_SIZES, "n_heads": 16, "n_kv_heads": 16,
                             "d_ff": 5632, "n_experts": 60, "experts_per_token": 4,
                             "d_ff_expert": 1408, "biases": {"qkv": True},
                             "d_ff_shared": 5632, "shared_expert_gate": True})
QWEN3_MOE = family("qwen3_moe", "Qwen3MoeForCausalLM", **MOE, gguf_arch="qwen3moe",
                   config_keys={**CONFIG_KEYS, **ROUTING},
                   bias_keys={"attention_bias": ("qkv", "attn_output")},
                   read_config=read_qwen_moe, write_config=write_qwen_moe,
                   defaults={**DEFAULTS, **QWEN_SIZES, "n_heads": 32, "n_kv_heads": 4,
                             "d_ff": 6144, "n_experts": 128, "experts_per_token": 8,
                             "d_ff_expert": 768, "qk_norm": "head"})
# OLMoE: OLMo 2's full-width q/k norms (before the heads are split), every layer an MoE layer.
OLMOE = family("olmoe", "OlmoeForCausalLM", **MOE, gguf_arch="olmoe",
               config_keys={**CONFIG_KEYS, **ROUTING, "clip_qkv": "clip_qkv"},
               bias_keys={"attention_bias": ("qkv", "attn_output")},
               defaults={**DEFAULTS, "vocab_size": 50304, "n_ctx": 4096, "d_model": 2048,
                         "n_layers": 16, "n_heads": 16, "d_ff": 2048, "norm_eps": 1e-5,
                         "n_experts": 64, "experts_per_token": 8, "qk_norm": "full"})

FAMILIES = (MIXTRAL, QWEN2_MOE, QWEN3_MOE, OLMOE)
