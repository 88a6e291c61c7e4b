"""Phi-1/1.5/2 (`phi`) and Phi-3 mini (`phi3`). Roles written from transformers'
modeling_phi.py and modeling_phi3.py."""

from family_cases import FamilyCase

M = "model.layers.{i}"


def _linear(stored: str, role: str) -> dict:
    """nn.Linear or nn.LayerNorm with its bias (every one of Phi's has one)."""
    return {f"{stored}.weight": (role,), f"{stored}.bias": (role,)}


# PhiForCausalLM: one input_layernorm feeds attention and MLP (parallel block); q/k/v_proj and
# dense, fc1 and fc2, final_layernorm and lm_head all carry a bias.
PHI_ROLES = {
    "model.embed_tokens.weight": ("embedding",),
    **_linear(f"{M}.input_layernorm", "norm"),
    **_linear(f"{M}.self_attn.q_proj", "query"),
    **_linear(f"{M}.self_attn.k_proj", "key"),
    **_linear(f"{M}.self_attn.v_proj", "value"),
    **_linear(f"{M}.self_attn.dense", "output"),
    **_linear(f"{M}.mlp.fc1", "up"),
    **_linear(f"{M}.mlp.fc2", "down"),
    **_linear("model.final_layernorm", "norm"),
    **_linear("lm_head", "unembedding"),
}
# qk_layernorm: PhiAttention's q_layernorm and k_layernorm, LayerNorms over each head.
PHI_QK_NORMS = {**_linear(f"{M}.self_attn.q_layernorm", "norm"),
                **_linear(f"{M}.self_attn.k_layernorm", "norm")}
# PhiConfig's default partial_rotary_factor 0.5: rotary on 4 of each head's 8 dims.
PHI_CONFIG = {"vocab_size": 100, "hidden_size": 32, "intermediate_size": 48,
              "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 32}

# Phi3ForCausalLM: Llama's names, but qkv_proj (query rows, key rows, value rows) and
# gate_up_proj (gate rows, then up), no biases.
PHI3_ROLES = {
    "model.embed_tokens.weight": ("embedding",),
    f"{M}.input_layernorm.weight": ("norm",),
    f"{M}.self_attn.qkv_proj.weight": ("query", "key", "value"),
    f"{M}.self_attn.o_proj.weight": ("output",),
    f"{M}.post_attention_layernorm.weight": ("norm",),
    f"{M}.mlp.gate_up_proj.weight": ("gate", "up"),
    f"{M}.mlp.down_proj.weight": ("down",),
    "model.norm.weight": ("norm",),
    "lm_head.weight": ("unembedding",),
}
# Phi3Config's default pad_token_id 32000 is past this vocabulary.
PHI3_CONFIG = {"vocab_size": 100, "hidden_size": 32, "intermediate_size": 48,
               "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 32,
               "pad_token_id": None}

CASES = (
    FamilyCase("phi", PHI_CONFIG, PHI_ROLES),
    # Phi-2's share of rotary (0.4 of 10 dims: 4), queries and keys normed per head, and a tied
    # lm_head, whose bias is still its own.
    FamilyCase("phi", {**PHI_CONFIG, "hidden_size": 40, "partial_rotary_factor": 0.4,
                       "qk_layernorm": True, "tie_word_embeddings": True},
               {**{k: v for k, v in PHI_ROLES.items() if k != "lm_head.weight"}, **PHI_QK_NORMS},
               tied=True, changed={"qk_layernorm": False}, id="phi-qk-norm-tied"),
    FamilyCase("phi3", PHI3_CONFIG, PHI3_ROLES),
    # Two key/value heads (qkv_proj's parts unequal: 32, 16, 16 rows), rotary on half of each
    # head, and a sliding window of 4 tokens, shorter than the 12 the forward check feeds.
    FamilyCase("phi3", {**PHI3_CONFIG, "num_key_value_heads": 2, "partial_rotary_factor": 0.5,
                        "sliding_window": 4},
               PHI3_ROLES, changed={"num_key_value_heads": 4}, id="phi3-gqa-sliding"),
)
