"""GPT-2, Llama, Mistral and BERT: the families the toolkit started with."""

from family_cases import FamilyCase

GPT2_ROLES = {
    "transformer.wte.weight": ("embedding",),
    "transformer.wpe.weight": ("position",),
    "transformer.h.{i}.ln_1.weight": ("norm",), "transformer.h.{i}.ln_1.bias": ("norm",),
    "transformer.h.{i}.attn.c_attn.weight": ("query", "key", "value"),
    "transformer.h.{i}.attn.c_attn.bias": ("query", "key", "value"),
    "transformer.h.{i}.attn.c_proj.weight": ("output",),
    "transformer.h.{i}.attn.c_proj.bias": ("output",),
    "transformer.h.{i}.ln_2.weight": ("norm",), "transformer.h.{i}.ln_2.bias": ("norm",),
    "transformer.h.{i}.mlp.c_fc.weight": ("up",), "transformer.h.{i}.mlp.c_fc.bias": ("up",),
    "transformer.h.{i}.mlp.c_proj.weight": ("down",), "transformer.h.{i}.mlp.c_proj.bias": ("down",),
    "transformer.ln_f.weight": ("norm",), "transformer.ln_f.bias": ("norm",),
}

LLAMA_ROLES = {
    "model.embed_tokens.weight": ("embedding",),
    "model.layers.{i}.input_layernorm.weight": ("norm",),
    "model.layers.{i}.self_attn.q_proj.weight": ("query",),
    "model.layers.{i}.self_attn.k_proj.weight": ("key",),
    "model.layers.{i}.self_attn.v_proj.weight": ("value",),
    "model.layers.{i}.self_attn.o_proj.weight": ("output",),
    "model.layers.{i}.post_attention_layernorm.weight": ("norm",),
    "model.layers.{i}.mlp.gate_proj.weight": ("gate",),
    "model.layers.{i}.mlp.up_proj.weight": ("up",),
    "model.layers.{i}.mlp.down_proj.weight": ("down",),
    "model.norm.weight": ("norm",),
    "lm_head.weight": ("unembedding",),
}

LLAMA_CONFIG = {"vocab_size": 120, "hidden_size": 32, "intermediate_size": 80,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "head_dim": 16, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
                "tie_word_embeddings": False}

BERT_ROLES = {
    "embeddings.word_embeddings.weight": ("embedding",),
    "embeddings.position_embeddings.weight": ("position",),
    "embeddings.token_type_embeddings.weight": ("token_type",),
    "embeddings.LayerNorm.weight": ("norm",), "embeddings.LayerNorm.bias": ("norm",),
    **{f"encoder.layer.{{i}}.attention.self.{p}.{k}": (role,)
       for p, role in (("query", "query"), ("key", "key"), ("value", "value"))
       for k in ("weight", "bias")},
    "encoder.layer.{i}.attention.output.dense.weight": ("output",),
    "encoder.layer.{i}.attention.output.dense.bias": ("output",),
    "encoder.layer.{i}.attention.output.LayerNorm.weight": ("norm",),
    "encoder.layer.{i}.attention.output.LayerNorm.bias": ("norm",),
    "encoder.layer.{i}.intermediate.dense.weight": ("up",),
    "encoder.layer.{i}.intermediate.dense.bias": ("up",),
    "encoder.layer.{i}.output.dense.weight": ("down",),
    "encoder.layer.{i}.output.dense.bias": ("down",),
    "encoder.layer.{i}.output.LayerNorm.weight": ("norm",),
    "encoder.layer.{i}.output.LayerNorm.bias": ("norm",),
    "pooler.dense.weight": ("pooler",), "pooler.dense.bias": ("pooler",),
}

CASES = (
    FamilyCase("gpt2", {"vocab_size": 100, "n_embd": 32, "n_layer": 2, "n_head": 4,
                        "n_positions": 16}, GPT2_ROLES, tied=True,
               changed={"n_inner": 40}),
    FamilyCase("llama", LLAMA_CONFIG, LLAMA_ROLES),
    FamilyCase("mistral", {**LLAMA_CONFIG, "sliding_window": None}, LLAMA_ROLES),
    FamilyCase("bert", {"vocab_size": 90, "hidden_size": 32, "num_hidden_layers": 2,
                        "num_attention_heads": 4, "intermediate_size": 64,
                        "max_position_embeddings": 40, "type_vocab_size": 2},
               BERT_ROLES, auto_class="AutoModel", output="last_hidden_state"),
)
