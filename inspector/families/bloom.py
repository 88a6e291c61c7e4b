"""BLOOM (BigScience 2022) as transformers stores it (BloomModel; `transformer.` in task models).

ALiBi instead of a position table, a LayerNorm right after the word embeddings, query, key and
value fused per head ("(h three d)"), BLOOM's tanh GELU, a 4 x d_model MLP, biases everywhere,
tied lm_head.
"""

from inspector.families.base import Family
from inspector.families.helpers import linear
from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"
H = "h.{i}"

BLOOM_LAYOUT = Layout(
    name="bloom",
    prefixes=("", "transformer."),
    rules=(
        Rule("word_embeddings.weight", ("embed.weight",)),
        *linear("word_embeddings_layernorm", "embed_norm"),
        *linear(f"{H}.input_layernorm", f"{L}.attn_norm"),
        *(Rule(f"{H}.self_attention.query_key_value.{kind}",
               tuple(f"{L}.attn.{part}.{kind}" for part in ("query", "key", "value")),
               split_axis=0, head_interleaved=True) for kind in ("weight", "bias")),
        *linear(f"{H}.self_attention.dense", f"{L}.attn.output"),
        *linear(f"{H}.post_attention_layernorm", f"{L}.mlp_norm"),
        *linear(f"{H}.mlp.dense_h_to_4h", f"{L}.mlp.up"),
        *linear(f"{H}.mlp.dense_4h_to_h", f"{L}.mlp.down"),
        *linear("ln_f", "final_norm"),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

CONFIG_KEYS = {
    "vocab_size": "vocab_size",
    # ALiBi has no table: n_ctx only bounds the causal mask. BLOOM's configs name their training
    # length seq_length (2048) where they name one at all.
    "n_ctx": "seq_length",
    "d_model": ("hidden_size", "n_embed"),
    "n_layers": ("n_layer", "num_hidden_layers"),
    "n_heads": ("n_head", "num_attention_heads"),
    "norm_eps": "layer_norm_epsilon",
}

# BloomConfig's defaults (a 2-layer, 64-wide model), and BLOOM's training length.
DEFAULTS = {"vocab_size": 250880, "d_model": 64, "n_layers": 2, "n_heads": 8, "n_ctx": 2048,
            "activation": "gelu_tanh", "norm": "layernorm", "position": "alibi",
            "embedding_norm": True, "tied_embeddings": True,
            "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True}}


def read_config(config: dict, data: dict) -> None:
    if config.get("apply_residual_connection_post_layernorm"):
        raise ValueError("BLOOM with apply_residual_connection_post_layernorm (the residual"
                         " taken after the norm) is not supported")
    if isinstance(data.get("d_model"), int):
        data["d_ff"] = 4 * data["d_model"]  # BloomMLP: always 4 x hidden_size


BLOOM = Family(name="bloom", hf_class="BloomForCausalLM", layouts=(BLOOM_LAYOUT,),
               config_keys=CONFIG_KEYS, defaults=DEFAULTS, activation_key=None,
               read_config=read_config, gguf_arch="bloom")

FAMILIES = (BLOOM,)
