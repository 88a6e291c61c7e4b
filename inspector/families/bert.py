"""BERT as transformers and the hub store it (BertModel; `bert.` prefixed inside task heads).

An encoder: no unembedding. Post-norm: each block's norms sit after the residual adds.
"""

from inspector.families.base import STANDARD_KEYS, Family
from inspector.vocab.layout import Layout, Rule

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

# BertForPreTraining / BertForMaskedLM: the heads under `cls.` (the encoder under `bert.`). The
# decoder weight is the word embedding (tied, not saved); its bias is `cls.predictions.bias`.
HEAD_RULES = (
    Rule("cls.predictions.transform.dense.weight", ("mlm_transform.weight",)),
    Rule("cls.predictions.transform.dense.bias", ("mlm_transform.bias",)),
    Rule("cls.predictions.transform.LayerNorm.weight", ("mlm_norm.weight",)),
    Rule("cls.predictions.transform.LayerNorm.bias", ("mlm_norm.bias",)),
    Rule("cls.predictions.decoder.weight", ("unembed.weight",)),
    Rule("cls.predictions.bias", ("unembed.bias",)),
    Rule("cls.seq_relationship.weight", ("nsp.weight",)),
    Rule("cls.seq_relationship.bias", ("nsp.bias",)),
)

# Checkpoints converted from Google's TensorFlow BERT (the original bert-base-uncased
# pytorch_model.bin) call the LayerNorm parameters gamma and beta; transformers renames them on
# load.
LEGACY_NORM_NAMES = tuple(
    Rule(rule.pattern.replace("LayerNorm.weight", "LayerNorm.gamma")
         .replace("LayerNorm.bias", "LayerNorm.beta"), rule.targets)
    for rule in RULES if ".LayerNorm." in rule.pattern
)

BERT_LAYOUT = Layout(
    name="bert",
    prefixes=("", "bert."),
    has_lm_head=False,
    rules=RULES + HEAD_RULES + LEGACY_NORM_NAMES,
)

CONFIG_KEYS = {**STANDARD_KEYS, "norm_eps": "layer_norm_eps", "type_vocab_size": "type_vocab_size"}

# BertConfig's defaults (bert-base), and the block every family here keeps.
ENCODER_DEFAULTS = {
    "vocab_size": 30522, "n_ctx": 512, "d_model": 768, "n_layers": 12, "n_heads": 12,
    "d_ff": 3072, "norm_eps": 1e-12,
    "architecture": "encoder", "activation": "gelu", "norm": "layernorm", "norm_placement": "post",
    "embedding_norm": True, "final_norm": False, "position": "learned", "pooler": True,
    "type_vocab_size": 2,
    "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True, "pooler": True,
               "head": True}}

# transformers class -> the heads it adds to BertModel (config.json's `architectures` says it).
BERT_HEADS = {
    "BertForPreTraining": {"mlm_head": True, "nsp_head": True},
    "BertForMaskedLM": {"mlm_head": True, "pooler": False},
}


def read_bert_heads(config: dict, data: dict) -> None:
    architectures = config.get("architectures")
    for name in architectures if isinstance(architectures, list) else ():
        data.update(BERT_HEADS.get(name, {}))


def write_bert_heads(spec, config: dict) -> None:
    for name, heads in BERT_HEADS.items():
        if all(getattr(spec, key) == value for key, value in heads.items()):
            config["architectures"] = [name]
            return


BERT = Family(
    name="bert", hf_class="BertModel", layouts=(BERT_LAYOUT,), config_keys=CONFIG_KEYS,
    defaults={**ENCODER_DEFAULTS, "tied_embeddings": True},  # BertConfig ties its MLM decoder
    read_config=read_bert_heads, write_config=write_bert_heads,
    gguf_arch="bert",
)


# RoBERTa: BERT's block and names (under `roberta.` inside task heads); its position table keeps
# rows 0 and 1 unused: position ids start at padding_idx + 1 and do not advance over padding.
ROBERTA_LAYOUT = Layout(name="roberta", prefixes=("", "roberta."), has_lm_head=False,
                        rules=RULES)


def read_roberta(config: dict, data: dict) -> None:
    pad = config.get("pad_token_id", 1)
    if isinstance(pad, int) and not isinstance(pad, bool):
        data["position_offset"] = pad + 1
    data["positions_skip_padding"] = True


def write_roberta(spec, config: dict) -> None:
    config["pad_token_id"] = spec.position_offset - 1


ROBERTA = Family(
    name="roberta", hf_class="RobertaModel", layouts=(ROBERTA_LAYOUT,), config_keys=CONFIG_KEYS,
    defaults={**ENCODER_DEFAULTS, "vocab_size": 50265, "position_offset": 2},
    read_config=read_roberta, write_config=write_roberta, tie_key=None,
)

D = "transformer.layer.{i}"

DISTILBERT_LAYOUT = Layout(
    name="distilbert",
    prefixes=("", "distilbert."),
    has_lm_head=False,
    rules=(
        Rule("embeddings.word_embeddings.weight", ("embed.weight",)),
        Rule("embeddings.position_embeddings.weight", ("pos.weight",)),
        Rule("embeddings.LayerNorm.weight", ("embed_norm.weight",)),
        Rule("embeddings.LayerNorm.bias", ("embed_norm.bias",)),
        Rule("embeddings.position_ids", what="position-index"),
        *(Rule(f"{D}.{stored}.{kind}", (f"{L}.{canonical}.{kind}",))
          for stored, canonical in (
              ("attention.q_lin", "attn.query"), ("attention.k_lin", "attn.key"),
              ("attention.v_lin", "attn.value"), ("attention.out_lin", "attn.output"),
              ("sa_layer_norm", "attn_norm"), ("ffn.lin1", "mlp.up"), ("ffn.lin2", "mlp.down"),
              ("output_layer_norm", "mlp_norm"))
          for kind in ("weight", "bias")),
    ),
)

# DistilBERT: BERT's post-norm block without token types or pooler, and LayerNorm eps 1e-12
# fixed in its code rather than its config.
DISTILBERT = Family(
    name="distilbert", hf_class="DistilBertModel", layouts=(DISTILBERT_LAYOUT,),
    config_keys={"vocab_size": "vocab_size", "n_ctx": "max_position_embeddings",
                 "d_model": "dim", "n_layers": "n_layers", "n_heads": "n_heads",
                 "d_ff": "hidden_dim"},
    defaults={**ENCODER_DEFAULTS, "pooler": False, "type_vocab_size": 0, "n_layers": 6,
              "biases": {"qkv": True, "attn_output": True, "mlp": True,
                                       "norm": True}},
    activation_key="activation", tie_key=None,
)

FAMILIES = (BERT, ROBERTA, DISTILBERT)
