"""GPT-BigCode, GPT-NeoX, GPT-J, Falcon, OPT, BLOOM and StarCoder 2: decoders with fused
multi-query or per-head qkv, parallel blocks, partial or interleaved rotary, ALiBi, offset
positions. Roles written from transformers' modeling code (modeling_<model_type>.py)."""

from family_cases import FamilyCase
from family_cases.base_families import GPT2_ROLES

# GPT-2's names under nn.Linear storage; c_attn is (query heads, one key head, one value head).
BIGCODE_CONFIG = {"vocab_size": 100, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 16}

CASES = (
    FamilyCase("gpt_bigcode", BIGCODE_CONFIG, GPT2_ROLES, tied=True, changed={"n_inner": 40}),
    FamilyCase("gpt_bigcode", {**BIGCODE_CONFIG, "multi_query": False}, GPT2_ROLES, tied=True,
               changed={"multi_query": True}, id="gpt_bigcode-per-head"),
)


def _linear(stored: str, role: str, bias: bool = True) -> dict:
    """A linear layer's (or LayerNorm's) weight and, when it has one, its bias."""
    return {f"{stored}.weight": (role,), **({f"{stored}.bias": (role,)} if bias else {})}


QKV = ("query", "key", "value")

OPT_ROLES = {
    "model.decoder.embed_tokens.weight": ("embedding",),
    "model.decoder.embed_positions.weight": ("position",),  # n_ctx + 2 rows
    **_linear("model.decoder.layers.{i}.self_attn.q_proj", "query"),
    **_linear("model.decoder.layers.{i}.self_attn.k_proj", "key"),
    **_linear("model.decoder.layers.{i}.self_attn.v_proj", "value"),
    **_linear("model.decoder.layers.{i}.self_attn.out_proj", "output"),
    **_linear("model.decoder.layers.{i}.self_attn_layer_norm", "norm"),
    **_linear("model.decoder.layers.{i}.fc1", "up"),
    **_linear("model.decoder.layers.{i}.fc2", "down"),
    **_linear("model.decoder.layers.{i}.final_layer_norm", "norm"),
    **_linear("model.decoder.final_layer_norm", "norm"),
}
OPT_CONFIG = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "ffn_dim": 48,
              "max_position_embeddings": 16, "num_attention_heads": 4, "word_embed_proj_dim": 32}

BLOOM_ROLES = {
    "transformer.word_embeddings.weight": ("embedding",),
    **_linear("transformer.word_embeddings_layernorm", "norm"),
    **_linear("transformer.h.{i}.input_layernorm", "norm"),
    "transformer.h.{i}.self_attention.query_key_value.weight": QKV,  # "(h three d)"
    "transformer.h.{i}.self_attention.query_key_value.bias": QKV,
    **_linear("transformer.h.{i}.self_attention.dense", "output"),
    **_linear("transformer.h.{i}.post_attention_layernorm", "norm"),
    **_linear("transformer.h.{i}.mlp.dense_h_to_4h", "up"),
    **_linear("transformer.h.{i}.mlp.dense_4h_to_h", "down"),
    **_linear("transformer.ln_f", "norm"),
}


def falcon_roles(norms: tuple[str, ...], bias: bool) -> dict:
    return {
        "transformer.word_embeddings.weight": ("embedding",),
        **{f"transformer.h.{{i}}.{norm}.{kind}": ("norm",) for norm in norms
           for kind in ("weight", "bias")},
        "transformer.h.{i}.self_attention.query_key_value.weight": QKV,
        **({"transformer.h.{i}.self_attention.query_key_value.bias": QKV} if bias else {}),
        **_linear("transformer.h.{i}.self_attention.dense", "output", bias),
        **_linear("transformer.h.{i}.mlp.dense_h_to_4h", "up", bias),
        **_linear("transformer.h.{i}.mlp.dense_4h_to_h", "down", bias),
        **_linear("transformer.ln_f", "norm"),
    }


FALCON_CONFIG = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "max_position_embeddings": 32, "rope_theta": 5000.0}

STARCODER2_ROLES = {
    "model.embed_tokens.weight": ("embedding",),
    **_linear("model.layers.{i}.input_layernorm", "norm"),
    **_linear("model.layers.{i}.self_attn.q_proj", "query"),
    **_linear("model.layers.{i}.self_attn.k_proj", "key"),
    **_linear("model.layers.{i}.self_attn.v_proj", "value"),
    **_linear("model.layers.{i}.self_attn.o_proj", "output"),
    **_linear("model.layers.{i}.post_attention_layernorm", "norm"),
    **_linear("model.layers.{i}.mlp.c_fc", "up"),
    **_linear("model.layers.{i}.mlp.c_proj", "down"),
    **_linear("model.norm", "norm"),
}
STARCODER2_CONFIG = {"vocab_size": 100, "hidden_size": 32, "intermediate_size": 48,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "max_position_embeddings": 64}

CASES += (
    FamilyCase("opt", OPT_CONFIG, OPT_ROLES, tied=True, changed={"ffn_dim": 40}),
    # OPT-350m's post-norm block: no final norm.
    FamilyCase("opt", {**OPT_CONFIG, "do_layer_norm_before": False},
               {k: v for k, v in OPT_ROLES.items() if "decoder.final_layer_norm" not in k},
               tied=True, changed={"ffn_dim": 40}, id="opt-post-norm"),
    FamilyCase("bloom", {"vocab_size": 100, "hidden_size": 32, "n_layer": 2, "n_head": 4},
               BLOOM_ROLES, tied=True, changed={"n_layer": 3}),
    # Falcon 7B: multi-query, one shared norm, parallel block, no biases.
    FamilyCase("falcon", FALCON_CONFIG, falcon_roles(("input_layernorm",), False), tied=True,
               changed={"ffn_hidden_size": 40}),
    # Falcon 40B: two key/value groups, ln_attn and ln_mlp.
    FamilyCase("falcon", {**FALCON_CONFIG, "new_decoder_architecture": True, "num_kv_heads": 2},
               falcon_roles(("ln_attn", "ln_mlp"), False), tied=True,
               changed={"ffn_hidden_size": 40}, id="falcon-40b-style"),
    # Sequential block, a key/value head per query head, biases, untied.
    FamilyCase("falcon", {**FALCON_CONFIG, "multi_query": False, "parallel_attn": False,
                          "bias": True, "tie_word_embeddings": False},
               {**falcon_roles(("input_layernorm", "post_attention_layernorm"), True),
                "lm_head.weight": ("unembedding",)}, changed={"ffn_hidden_size": 40},
               id="falcon-sequential"),
    FamilyCase("starcoder2", STARCODER2_CONFIG, STARCODER2_ROLES, tied=True),
    # A sliding window of 4 tokens, shorter than the 12 the forward check feeds.
    FamilyCase("starcoder2", {**STARCODER2_CONFIG, "sliding_window": 4, "use_bias": False,
                              "tie_word_embeddings": False},
               {**{k: v for k, v in STARCODER2_ROLES.items()
                   if not (k.endswith(".bias") and "norm" not in k)},
                "lm_head.weight": ("unembedding",)}, id="starcoder2-sliding"),
)

GPT_NEOX_ROLES = {
    "gpt_neox.embed_in.weight": ("embedding",),
    **_linear("gpt_neox.layers.{i}.input_layernorm", "norm"),
    **_linear("gpt_neox.layers.{i}.post_attention_layernorm", "norm"),
    "gpt_neox.layers.{i}.attention.query_key_value.weight": QKV,  # "(h three d)"
    "gpt_neox.layers.{i}.attention.query_key_value.bias": QKV,
    **_linear("gpt_neox.layers.{i}.attention.dense", "output"),
    **_linear("gpt_neox.layers.{i}.mlp.dense_h_to_4h", "up"),
    **_linear("gpt_neox.layers.{i}.mlp.dense_4h_to_h", "down"),
    **_linear("gpt_neox.final_layer_norm", "norm"),
    "embed_out.weight": ("unembedding",),  # GPTNeoXForCausalLM's lm_head, saved under this name
}
GPT_NEOX_CONFIG = {"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "intermediate_size": 48,
                   "max_position_embeddings": 32,
                   "rope_parameters": {"rope_theta": 5000.0, "partial_rotary_factor": 0.5,
                                       "rope_type": "default"}}

GPTJ_ROLES = {
    "transformer.wte.weight": ("embedding",),
    **_linear("transformer.h.{i}.ln_1", "norm"),  # one norm feeds attention and MLP
    **_linear("transformer.h.{i}.attn.q_proj", "query", False),
    **_linear("transformer.h.{i}.attn.k_proj", "key", False),
    **_linear("transformer.h.{i}.attn.v_proj", "value", False),
    **_linear("transformer.h.{i}.attn.out_proj", "output", False),
    **_linear("transformer.h.{i}.mlp.fc_in", "up"),
    **_linear("transformer.h.{i}.mlp.fc_out", "down"),
    **_linear("transformer.ln_f", "norm"),
    **_linear("lm_head", "unembedding"),
}

CASES += (
    FamilyCase("gpt_neox", GPT_NEOX_CONFIG, GPT_NEOX_ROLES),
    # Sequential block, no attention biases.
    FamilyCase("gpt_neox", {**GPT_NEOX_CONFIG, "use_parallel_residual": False,
                            "attention_bias": False},
               {k: v for k, v in GPT_NEOX_ROLES.items()
                if not (k.endswith(".bias") and ".attention." in k)}, id="gpt_neox-sequential"),
    # Rotary on 4 of each head's 8 dims, in interleaved pairs.
    FamilyCase("gptj", {"vocab_size": 100, "n_embd": 32, "n_layer": 2, "n_head": 4,
                        "n_positions": 32, "rotary_dim": 4}, GPTJ_ROLES,
               changed={"n_inner": 40}),
)
