"""ModernBERT: ModernBertModel and ModernBertForMaskedLM, roles from modeling_modernbert.py."""

from family_cases import FamilyCase

# Two layers with global_attn_every_n_layers 3: layer 0 global, layer 1 local. local_attention 4
# (2 tokens each side) is shorter than the 12 tokens of the forward test, so the band matters.
# Special token ids inside the 90-token vocabulary (the defaults, 50281.., are beyond it and
# pad_token_id is the embedding's padding_idx).
CONFIG = {"vocab_size": 90, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 48, "max_position_embeddings": 64, "local_attention": 4,
          "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2, "cls_token_id": 1,
          "sep_token_id": 2}

# No biases by default (attention_bias, mlp_bias, norm_bias all false): weights only.
MODERNBERT_ROLES = {
    "embeddings.tok_embeddings.weight": ("embedding",),
    "embeddings.norm.weight": ("norm",),
    # Layer 0's attn_norm is nn.Identity(): only layer 1 stores one.
    "layers.1.attn_norm.weight": ("norm",),
    # Wqkv(x).view(.., 3, heads, head_dim).unbind(-3): consecutive thirds.
    "layers.{i}.attn.Wqkv.weight": ("query", "key", "value"),
    "layers.{i}.attn.Wo.weight": ("output",),
    "layers.{i}.mlp_norm.weight": ("norm",),
    # `input, gate = Wi(x).chunk(2)`; Wo(act(input) * gate): the first half is under the
    # activation (a gated MLP's gate), the second multiplies it (the up projection).
    "layers.{i}.mlp.Wi.weight": ("gate", "up"),
    "layers.{i}.mlp.Wo.weight": ("down",),
    "final_norm.weight": ("norm",),
}

CASES = (
    FamilyCase("modernbert", CONFIG, MODERNBERT_ROLES, auto_class="AutoModel",
               output="last_hidden_state"),
)

# ModernBertForMaskedLM: the encoder under `model.`; head = norm(act(dense(x))) with
# classifier_bias false (no dense bias) and norm_bias false; the decoder's weight is the token
# embedding (tie_word_embeddings, not saved), its bias (decoder_bias true) is stored.
MASKED_LM_ROLES = {
    **{f"model.{name}": roles for name, roles in MODERNBERT_ROLES.items()},
    "head.dense.weight": ("head",),
    "head.norm.weight": ("norm",),
    "decoder.bias": ("unembedding",),
}

CASES += (
    FamilyCase("modernbert", CONFIG, MASKED_LM_ROLES, tied=True, id="modernbert-masked-lm",
               auto_class="ModernBertForMaskedLM", output="logits"),
)
