"""DeepSeek-V3 (multi-head latent attention, routed and shared experts, dense first layers) and
gpt-oss (attention sinks, biases everywhere, experts stored (in, out) with gate and up columns
interleaved). Roles written from transformers' modeling code (DeepseekV3Attention, DeepseekV3MoE,
GptOssAttention, GptOssExperts) and the choices inspector/families/deepseek.py and gpt_oss.py
explain: kv_a_proj_with_mqa is `key`, kv_b_proj's rows per head key then value, a sink `output`.
inspector does not build latent attention: DeepSeek's forward and build skip."""

from family_cases import FamilyCase

M = "model.layers.{i}"
EXPERTS = 4

LATENT = {
    f"{M}.self_attn.q_a_proj.weight": ("query",),
    f"{M}.self_attn.q_a_layernorm.weight": ("norm",),
    f"{M}.self_attn.q_b_proj.weight": ("query",),
    f"{M}.self_attn.kv_a_proj_with_mqa.weight": ("key",),
    f"{M}.self_attn.kv_a_layernorm.weight": ("norm",),
    f"{M}.self_attn.kv_b_proj.weight": ("key", "value"),
    f"{M}.self_attn.o_proj.weight": ("output",),
}
COMMON = {"model.embed_tokens.weight": ("embedding",),
          f"{M}.input_layernorm.weight": ("norm",),
          f"{M}.post_attention_layernorm.weight": ("norm",),
          "model.norm.weight": ("norm",), "lm_head.weight": ("unembedding",)}
DENSE = {f"{M}.mlp.{p}_proj.weight": (p,) for p in ("gate", "up", "down")}
ROUTED = {f"{M}.mlp.gate.weight": ("router",),
          **{f"{M}.mlp.experts.{e}.{p}_proj.weight": (p,)
             for e in range(EXPERTS) for p in ("gate", "up", "down")},
          **{f"{M}.mlp.shared_experts.{p}_proj.weight": (p,) for p in ("gate", "up", "down")}}


def at_layer(roles: dict, layer: int) -> dict:
    return {k.replace("{i}", str(layer)): v for k, v in roles.items()}


DEEPSEEK_CONFIG = {"vocab_size": 120, "hidden_size": 32, "intermediate_size": 40,
                   "moe_intermediate_size": 16, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 4, "q_lora_rank": 24,
                   "kv_lora_rank": 16, "qk_nope_head_dim": 8, "qk_rope_head_dim": 4,
                   "v_head_dim": 6, "n_routed_experts": EXPERTS, "n_shared_experts": 2,
                   "num_experts_per_tok": 2, "n_group": 2, "topk_group": 1,
                   "first_k_dense_replace": 1, "max_position_embeddings": 64}
NOT_BUILT = ("inspector's model does not compute multi-head latent attention: `build` refuses"
             " (counts, roles and check are exact)")

GPT_OSS_ROLES = {
    **COMMON,
    **{f"{M}.self_attn.{p}_proj.{k}": (role,)
       for p, role in (("q", "query"), ("k", "key"), ("v", "value"), ("o", "output"))
       for k in ("weight", "bias")},
    f"{M}.self_attn.sinks": ("output",),
    f"{M}.mlp.router.weight": ("router",), f"{M}.mlp.router.bias": ("router",),
    f"{M}.mlp.experts.gate_up_proj": ("gate", "up") * EXPERTS,
    f"{M}.mlp.experts.gate_up_proj_bias": ("gate", "up") * EXPERTS,
    f"{M}.mlp.experts.down_proj": ("down",) * EXPERTS,
    f"{M}.mlp.experts.down_proj_bias": ("down",) * EXPERTS,
}

CASES = (
    # layer 0 dense (first_k_dense_replace 1), layer 1 routed + 2 shared experts
    FamilyCase("deepseek_v3", DEEPSEEK_CONFIG,
               {**COMMON, **LATENT, **at_layer(DENSE, 0), **at_layer(ROUTED, 1)},
               buffers=("model.layers.1.mlp.gate.e_score_correction_bias",),
               changed={"kv_lora_rank": 12}, forward=False, build=False, notes=NOT_BUILT),
    # no query latent (q_proj), attention biases, every layer routed
    FamilyCase("deepseek_v3", {**DEEPSEEK_CONFIG, "q_lora_rank": None, "attention_bias": True,
                               "first_k_dense_replace": 0},
               {**COMMON, **{k: v for k, v in LATENT.items() if ".q_" not in k}, **ROUTED,
                f"{M}.self_attn.q_proj.weight": ("query",),
                f"{M}.self_attn.kv_a_proj_with_mqa.bias": ("key",),
                f"{M}.self_attn.o_proj.bias": ("output",)},
               buffers=(f"{M}.mlp.gate.e_score_correction_bias",),
               changed={"qk_rope_head_dim": 6}, forward=False, build=False, notes=NOT_BUILT,
               id="deepseek_v3_q_proj"),
    FamilyCase("gpt_oss", {"vocab_size": 120, "hidden_size": 32, "intermediate_size": 24,
                           "num_hidden_layers": 2, "num_attention_heads": 4,
                           "num_key_value_heads": 2, "head_dim": 8,
                           "num_local_experts": EXPERTS, "num_experts_per_tok": 2,
                           "sliding_window": 4, "max_position_embeddings": 64,
                           "swiglu_limit": 0.5},  # small, so that the clamps bite
               GPT_OSS_ROLES, changed={"num_local_experts": 3}),
)
