"""T5 (T5ForConditionalGeneration), v1.0's ReLU MLP and v1.1's (Flan-T5's) gated GELU; mT5.

Roles from transformers' modeling_t5.py: T5Attention's q, k, v, o (self-attention `SelfAttention`
in layer.0 of every block, cross-attention `EncDecAttention` in layer.1 of a decoder block: the
same four projections, so the same four roles); `relative_attention_bias` an nn.Embedding
[num_buckets, n_heads] made only where has_relative_attention_bias (block 0 of each T5Stack): a
`position`; every T5LayerNorm (each sublayer's `layer_norm`, each stack's `final_layer_norm`) a
`norm`; T5DenseActDense `wi` (up) and `wo` (down), T5DenseGatedActDense `wi_0` through the
activation (gate) times `wi_1` (up); `shared` the token table both stacks read. transformers 5
ties `lm_head` to `shared` whatever config.json says (T5Config sets tie_word_embeddings true and
keeps the old flag only as scale_decoder_outputs), so save_pretrained stores `shared.weight` alone
in both versions. (A hub Flan-T5 folder with its own lm_head: tests/test_layouts.py.)
T5EncoderModel (config.json's architectures say it) is the encoder stack alone.
"""

from family_cases import FamilyCase

E, D = "encoder.block.{i}.layer", "decoder.block.{i}.layer"


def attention(prefix: str, module: str) -> dict:
    return {f"{prefix}.{module}.{p}.weight": (role,)
            for p, role in (("q", "query"), ("k", "key"), ("v", "value"), ("o", "output"))}


def t5_roles(gated: bool) -> dict:
    def mlp(prefix: str) -> dict:
        up = {f"{prefix}.DenseReluDense.wi_0.weight": ("gate",),
              f"{prefix}.DenseReluDense.wi_1.weight": ("up",)} if gated \
            else {f"{prefix}.DenseReluDense.wi.weight": ("up",)}
        return {f"{prefix}.layer_norm.weight": ("norm",), **up,
                f"{prefix}.DenseReluDense.wo.weight": ("down",)}

    return {
        "shared.weight": ("embedding",),
        f"{E}.0.layer_norm.weight": ("norm",), **attention(f"{E}.0", "SelfAttention"),
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": ("position",),
        **mlp(f"{E}.1"),
        "encoder.final_layer_norm.weight": ("norm",),
        f"{D}.0.layer_norm.weight": ("norm",), **attention(f"{D}.0", "SelfAttention"),
        "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": ("position",),
        f"{D}.1.layer_norm.weight": ("norm",), **attention(f"{D}.1", "EncDecAttention"),
        **mlp(f"{D}.2"),
        "decoder.final_layer_norm.weight": ("norm",),
    }


# d_kv 6 x 4 heads = 24, apart from d_model 32: the head width is T5's own number.
SMALL = {"vocab_size": 100, "d_model": 32, "d_kv": 6, "num_heads": 4, "d_ff": 64,
         "num_layers": 2, "num_decoder_layers": 2, "relative_attention_num_buckets": 8,
         "relative_attention_max_distance": 20}

# T5EncoderModel (the text encoder of many image models): `shared` and the encoder stack only.
ENCODER_ROLES = {name: roles for name, roles in t5_roles(gated=True).items()
                 if not name.startswith("decoder.")}

CASES = (
    FamilyCase("t5", SMALL, t5_roles(gated=False), tied=True,
               auto_class="AutoModelForSeq2SeqLM", changed={"d_ff": 40}),
    FamilyCase("t5", {**SMALL, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False},
               t5_roles(gated=True), tied=True, id="t5-v1.1",
               auto_class="AutoModelForSeq2SeqLM", changed={"num_decoder_layers": 3}),
    FamilyCase("t5", {**SMALL, "feed_forward_proj": "gated-gelu"}, ENCODER_ROLES,
               id="t5-encoder", auto_class="T5EncoderModel", output="last_hidden_state",
               changed={"num_layers": 3}),
    # mT5: T5 v1.1's names and block (gated GELU by default), never a scaled decoder output.
    FamilyCase("mt5", SMALL, t5_roles(gated=True), tied=True,
               auto_class="AutoModelForSeq2SeqLM", changed={"d_kv": 8}),
)
