"""BERT as transformers and the hub store it (BertModel; `bert.` prefixed inside task heads).

An encoder: no unembedding. Post-norm: each block's norms sit after the residual adds.
"""

from inspector.families.base import Family
from inspector.layout import Layout, Rule

L = "layers.{i}"
B = "encoder.layer.{i}"

RULES = (
    Rule("embeddings.word_embeddings.weight", ("embed.weight",)),
    Rule("embeddings.position_embeddings.weight", ("pos.weight",)),
    Rule("embeddings.token_type_embeddings.weight", ("token_type.weight",)),
    Rule("embeddings.LayerNorm.weight", ("embed_norm.weight",)),
    Rule("embeddings.LayerNorm.bias", ("embed_norm.bias",)),
    Rule("embeddings.position_ids", what="position-index"),  # arange(n_ctx), I64
    Rule("embeddings.token_type_ids", what="token-type-index"),  # zeros some versions saved
    Rule(f"{B}.attention.self.query.weight", (f"{L}.attn.query.weight",)),
    Rule(f"{B}.attention.self.query.bias", (f"{L}.attn.query.bias",)),
    Rule(f"{B}.attention.self.key.weight", (f"{L}.attn.key.weight",)),
    Rule(f"{B}.attention.self.key.bias", (f"{L}.attn.key.bias",)),
    Rule(f"{B}.attention.self.value.weight", (f"{L}.attn.value.weight",)),
    Rule(f"{B}.attention.self.value.bias", (f"{L}.attn.value.bias",)),
    Rule(f"{B}.attention.output.dense.weight", (f"{L}.attn.output.weight",)),
    Rule(f"{B}.attention.output.dense.bias", (f"{L}.attn.output.bias",)),
    Rule(f"{B}.attention.output.LayerNorm.weight", (f"{L}.attn_norm.weight",)),
    Rule(f"{B}.attention.output.LayerNorm.bias", (f"{L}.attn_norm.bias",)),
    Rule(f"{B}.intermediate.dense.weight", (f"{L}.mlp.up.weight",)),
    Rule(f"{B}.intermediate.dense.bias", (f"{L}.mlp.up.bias",)),
    Rule(f"{B}.output.dense.weight", (f"{L}.mlp.down.weight",)),
    Rule(f"{B}.output.dense.bias", (f"{L}.mlp.down.bias",)),
    Rule(f"{B}.output.LayerNorm.weight", (f"{L}.mlp_norm.weight",)),
    Rule(f"{B}.output.LayerNorm.bias", (f"{L}.mlp_norm.bias",)),
    Rule("pooler.dense.weight", ("pooler.weight",)),
    Rule("pooler.dense.bias", ("pooler.bias",)),
)

# Checkpoints converted from Google's TensorFlow BERT (the original bert-base-uncased
# pytorch_model.bin) call the LayerNorm parameters gamma and beta; transformers renames them on load.
LEGACY_NORM_NAMES = tuple(
    Rule(rule.pattern.replace("LayerNorm.weight", "LayerNorm.gamma")
         .replace("LayerNorm.bias", "LayerNorm.beta"), rule.targets)
    for rule in RULES if ".LayerNorm." in rule.pattern
)

BERT_LAYOUT = Layout(
    name="bert",
    prefixes=("", "bert."),
    has_lm_head=False,
    rules=RULES + LEGACY_NORM_NAMES,
)

CONFIG_KEYS = {
    "vocab_size": "vocab_size",
    "n_ctx": "max_position_embeddings",
    "d_model": "hidden_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "d_ff": "intermediate_size",
    "norm_eps": "layer_norm_eps",
    "type_vocab_size": "type_vocab_size",
}

BERT = Family(
    name="bert", hf_class="BertModel", layouts=(BERT_LAYOUT,), config_keys=CONFIG_KEYS,
    defaults={"architecture": "encoder", "activation": "gelu", "norm": "layernorm",
              "norm_placement": "post", "embedding_norm": True, "final_norm": False,
              "position": "learned", "pooler": True, "type_vocab_size": 2,
              "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True,
                         "pooler": True}},
    tie_key=None,  # BertModel has no unembedding; the config's tie is for task heads
    gguf_arch="bert",
)

FAMILIES = (BERT,)
