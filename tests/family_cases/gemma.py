"""Gemma, Gemma 2, Gemma 3 (text), and Mistral's sliding window. Roles written from
transformers' modeling_gemma.py, modeling_gemma2.py and modeling_gemma3.py.

The forward test runs 12 tokens, so a sliding_window of 4 cuts every local layer's view."""

from family_cases import FamilyCase
from family_cases.base_families import LLAMA_CONFIG, LLAMA_ROLES

M = "model.layers.{i}"

# GemmaDecoderLayer: Llama's names (post_attention_layernorm is the MLP's input norm, as in
# Llama); GemmaForCausalLM ties lm_head to embed_tokens, so no lm_head is stored.
GEMMA_ROLES = {k: v for k, v in LLAMA_ROLES.items() if k != "lm_head.weight"}

# Gemma2DecoderLayer: input_layernorm and post_attention_layernorm (on attention's OUTPUT)
# around attention, pre_ and post_feedforward_layernorm around the MLP.
GEMMA2_ROLES = {**GEMMA_ROLES, f"{M}.pre_feedforward_layernorm.weight": ("norm",),
                f"{M}.post_feedforward_layernorm.weight": ("norm",)}

# Gemma3Attention: q_norm and k_norm (Gemma3RMSNorm over head_dim).
GEMMA3_ROLES = {**GEMMA2_ROLES, f"{M}.self_attn.q_norm.weight": ("norm",),
                f"{M}.self_attn.k_norm.weight": ("norm",)}

# 4 query heads, 2 key/value heads of 16 (d_model 32: Gemma 2 and 3 check 32 % 4), untied off.
SMALL = {k: v for k, v in LLAMA_CONFIG.items() if k != "tie_word_embeddings"}
# Layer 0 local over 4 tokens, layer 1 global; query_pre_attn_scalar apart from head_dim.
SLIDING = {"sliding_window": 4, "query_pre_attn_scalar": 24}

CASES = (
    # Gemma 2B's multi-query attention: one key/value head.
    FamilyCase("gemma", {**SMALL, "num_key_value_heads": 1}, GEMMA_ROLES, tied=True),
    # Soft caps small enough to bite on scrambled weights (the released 50 and 30 would not).
    FamilyCase("gemma2", {**SMALL, **SLIDING, "attn_logit_softcapping": 2.0,
                          "final_logit_softcapping": 3.0}, GEMMA2_ROLES, tied=True),
    # One local layer to one global (sliding_window_pattern 2, as hub files give it); the
    # global layer's rotary theta 1e6 with linear scaling by 8 (Gemma 3 4B's), the local's 1e4.
    FamilyCase("gemma3_text", {**SMALL, **SLIDING, "sliding_window_pattern": 2,
                               "rope_scaling": {"rope_type": "linear", "factor": 8.0}},
               GEMMA3_ROLES, tied=True),
    # Mistral 7B v0.1's sliding window (4096 there): every layer sees its last 4 tokens.
    FamilyCase("mistral", {**LLAMA_CONFIG, "sliding_window": 4}, LLAMA_ROLES,
               id="mistral-sliding"),
)
