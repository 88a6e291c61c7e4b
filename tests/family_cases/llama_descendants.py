"""Qwen 2/3, Granite, SmolLM3, OLMo, OLMo 2, GLM-4, Cohere, StableLM, and Llama 3.1's rotary
scaling: Llama's descendants. Roles written from each model's modeling code in transformers."""

from family_cases import FamilyCase
from family_cases.base_families import LLAMA_CONFIG, LLAMA_ROLES

M = "model.layers.{i}"


def without(roles: dict, *names: str) -> dict:
    return {k: v for k, v in roles.items() if k not in names}


# head_dim left to d_model / n_heads where the config class has no head_dim key of its own.
PLAIN = {k: v for k, v in LLAMA_CONFIG.items() if k != "head_dim"}
NO_NORMS = without(LLAMA_ROLES, f"{M}.input_layernorm.weight",
                   f"{M}.post_attention_layernorm.weight", "model.norm.weight")
QKV_BIASES = {f"{M}.self_attn.{p}_proj.bias": (role,)
              for p, role in (("q", "query"), ("k", "key"), ("v", "value"))}
QK_NORMS = {f"{M}.self_attn.q_norm.weight": ("norm",), f"{M}.self_attn.k_norm.weight": ("norm",)}
NORM_BIASES = {f"{M}.input_layernorm.bias": ("norm",), f"{M}.post_attention_layernorm.bias":
               ("norm",), "model.norm.bias": ("norm",)}

# OLMo 2: post_attention_layernorm is the attention OUTPUT's norm (no input norms at all).
OLMO2_ROLES = {**without(LLAMA_ROLES, f"{M}.input_layernorm.weight"), **QK_NORMS,
               f"{M}.post_feedforward_layernorm.weight": ("norm",)}

# GLM-4: four norms a block, gate and up fused (gate's rows first: Glm4MLP's chunk(2)).
GLM4_ROLES = {**without(LLAMA_ROLES, f"{M}.mlp.gate_proj.weight", f"{M}.mlp.up_proj.weight"),
              **QKV_BIASES,
              f"{M}.mlp.gate_up_proj.weight": ("gate", "up"),
              f"{M}.post_self_attn_layernorm.weight": ("norm",),
              f"{M}.post_mlp_layernorm.weight": ("norm",)}

# Llama 3.1's rope_parameters (meta-llama/Llama-3.1-8B config.json), at a context this small
# model's rotary actually crosses: wavelengths 2 pi / inv_freq span 6 to ~60,000 positions for
# d_head 16 and theta 500,000, so original 64 / high 4 = 16 and 64 / low 1 = 64 cut them into the
# three bands (kept, blended, divided by 8).
LLAMA3_ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
               "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}

CASES = (
    FamilyCase("llama", {**LLAMA_CONFIG, "max_position_embeddings": 512,
                         "rope_parameters": LLAMA3_ROPE}, LLAMA_ROLES, id="llama3-rope"),
    FamilyCase("llama", {**LLAMA_CONFIG, "rope_parameters": {"rope_type": "linear",
                                                            "factor": 4.0,
                                                            "rope_theta": 10000.0}},
               LLAMA_ROLES, id="llama-linear-rope"),
    FamilyCase("qwen2", PLAIN, {**LLAMA_ROLES, **QKV_BIASES}),
    # Qwen2.5's long-context recipe: yarn over 4 x the trained context
    FamilyCase("qwen2", {**PLAIN, "max_position_embeddings": 256,
                         "rope_parameters": {"rope_type": "yarn", "factor": 4.0,
                                             "original_max_position_embeddings": 64,
                                             "rope_theta": 10000.0}},
               {**LLAMA_ROLES, **QKV_BIASES}, id="qwen2-yarn-rope"),
    FamilyCase("qwen3", LLAMA_CONFIG, {**LLAMA_ROLES, **QK_NORMS}),
    FamilyCase("granite", {**LLAMA_CONFIG, "embedding_multiplier": 12.0,
                           "residual_multiplier": 0.22, "attention_multiplier": 0.015625,
                           "logits_scaling": 8.0}, LLAMA_ROLES),
    # no_rope_layer_interval 2: layer 1 of 2 attends without rotary. (SmolLM3Config's default
    # pad_token_id 128004 is past this vocabulary.)
    FamilyCase("smollm3", {**LLAMA_CONFIG, "tie_word_embeddings": True,
                           "no_rope_layer_interval": 2, "pad_token_id": None},
               without(LLAMA_ROLES, "lm_head.weight"), tied=True),
    FamilyCase("olmo", {**PLAIN, "clip_qkv": 0.5}, NO_NORMS),
    FamilyCase("olmo2", LLAMA_CONFIG, OLMO2_ROLES),
    FamilyCase("glm4", {**LLAMA_CONFIG, "pad_token_id": None}, GLM4_ROLES),  # default 151329
    FamilyCase("cohere", {**LLAMA_CONFIG, "tie_word_embeddings": True, "logit_scale": 0.25},
               without(LLAMA_ROLES, f"{M}.post_attention_layernorm.weight", "lm_head.weight"),
               tied=True),
    # Command-R+: use_qk_norm, a LayerNorm gain per head, q_norm (heads, d_head) and k_norm
    # (kv heads, d_head) (CohereAttention), applied before rotary
    FamilyCase("cohere", {**LLAMA_CONFIG, "tie_word_embeddings": True, "logit_scale": 0.25,
                          "use_qk_norm": True},
               {**without(LLAMA_ROLES, f"{M}.post_attention_layernorm.weight", "lm_head.weight"),
                **QK_NORMS}, tied=True, changed={"use_qk_norm": False}, id="cohere-qk-norm"),
    FamilyCase("stablelm", PLAIN, {**LLAMA_ROLES, **NORM_BIASES}),
    FamilyCase("stablelm", {**PLAIN, "use_parallel_residual": True, "use_qkv_bias": True},
               {**without(LLAMA_ROLES, f"{M}.post_attention_layernorm.weight"), **QKV_BIASES,
                f"{M}.input_layernorm.bias": ("norm",), "model.norm.bias": ("norm",)},
               id="stablelm-parallel"),
)
