"""Encoders beyond BERT: RoBERTa and DistilBERT."""

from family_cases import FamilyCase
from family_cases.base_families import BERT_ROLES

SMALL = {"vocab_size": 90, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 64, "max_position_embeddings": 40}

DISTILBERT_ROLES = {
    "embeddings.word_embeddings.weight": ("embedding",),
    "embeddings.position_embeddings.weight": ("position",),
    "embeddings.LayerNorm.weight": ("norm",), "embeddings.LayerNorm.bias": ("norm",),
    **{f"transformer.layer.{{i}}.{module}.{kind}": (role,)
       for module, role in (("attention.q_lin", "query"), ("attention.k_lin", "key"),
                            ("attention.v_lin", "value"), ("attention.out_lin", "output"),
                            ("sa_layer_norm", "norm"), ("ffn.lin1", "up"), ("ffn.lin2", "down"),
                            ("output_layer_norm", "norm"))
       for kind in ("weight", "bias")},
}

CASES = (
    # RoBERTa's position table has 40 rows, of which rows 0 and 1 (padding_idx 1, + 1) are never
    # read by a real token: the ids of the forward test include the padding id.
    FamilyCase("roberta", SMALL, BERT_ROLES, auto_class="AutoModel",
               output="last_hidden_state", special_ids=(1,)),
    FamilyCase("distilbert", {"vocab_size": 90, "dim": 32, "n_layers": 2, "n_heads": 4,
                              "hidden_dim": 64, "max_position_embeddings": 40},
               DISTILBERT_ROLES, auto_class="AutoModel", output="last_hidden_state",
               changed={"hidden_dim": 40}),
)

BERT_PRETRAINING_ROLES = {
    **{f"bert.{name}": roles for name, roles in BERT_ROLES.items()},
    "cls.predictions.transform.dense.weight": ("head",),
    "cls.predictions.transform.dense.bias": ("head",),
    "cls.predictions.transform.LayerNorm.weight": ("norm",),
    "cls.predictions.transform.LayerNorm.bias": ("norm",),
    "cls.predictions.bias": ("unembedding",),  # the decoder's bias; its weight is the embedding
    "cls.seq_relationship.weight": ("head",), "cls.seq_relationship.bias": ("head",),
}

CASES += (
    FamilyCase("bert", SMALL, BERT_PRETRAINING_ROLES, tied=True, id="bert-pretraining",
               auto_class="BertForPreTraining", output="prediction_logits"),
)
