"""OPT (Zhang et al. 2022) as transformers stores it (OPTForCausalLM: `model.decoder.`).

GPT-2's block in BART's names: learned positions whose table has max_position_embeddings + 2 rows
(position p is row p + 2, fairseq's padding offset; the spec's n_ctx counts the rows), pre-norm
(post-norm when do_layer_norm_before is false, as OPT-350m), ReLU MLP fc1/fc2, biases on every
linear layer (enable_bias), tied lm_head. OPT-350m's project_in/project_out (word_embed_proj_dim !=
hidden_size) have no place in the block: such a config is refused, not read as another model.
"""

from inspector.families.base import Family
from inspector.families.helpers import linear
from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"
D = "decoder.layers.{i}"

OPT_LAYOUT = Layout(
    name="opt",
    prefixes=("", "model."),  # OPTModel, OPTForCausalLM
    rules=(
        Rule("decoder.embed_tokens.weight", ("embed.weight",)),
        Rule("decoder.embed_positions.weight", ("pos.weight",)),
        *linear(f"{D}.self_attn.q_proj", f"{L}.attn.query"),
        *linear(f"{D}.self_attn.k_proj", f"{L}.attn.key"),
        *linear(f"{D}.self_attn.v_proj", f"{L}.attn.value"),
        *linear(f"{D}.self_attn.out_proj", f"{L}.attn.output"),
        *linear(f"{D}.self_attn_layer_norm", f"{L}.attn_norm"),
        *linear(f"{D}.fc1", f"{L}.mlp.up"),
        *linear(f"{D}.fc2", f"{L}.mlp.down"),
        *linear(f"{D}.final_layer_norm", f"{L}.mlp_norm"),  # the block's second norm
        *linear("decoder.final_layer_norm", "final_norm"),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

CONFIG_KEYS = {
    "vocab_size": "vocab_size",
    "d_model": "hidden_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "d_ff": "ffn_dim",
}

# OPTConfig's defaults (n_ctx: read_config); norms are nn.LayerNorm (eps 1e-5, a bias whenever
# they have a weight).
DEFAULTS = {"vocab_size": 50272, "d_model": 768, "n_layers": 12, "n_heads": 12, "d_ff": 3072,
            "activation": "relu", "norm": "layernorm", "position": "learned",
            "position_offset": 2, "tied_embeddings": True,
            "biases": {"qkv": True, "attn_output": True, "mlp": True, "norm": True}}


def read_config(config: dict, data: dict) -> None:
    projected = config.get("word_embed_proj_dim")
    if projected is not None and projected != config.get("hidden_size"):
        raise ValueError(f"OPT with word_embed_proj_dim {projected} !="
                         f" hidden_size {config.get('hidden_size')} (project_in / project_out,"
                         " as OPT-350m) is not supported")
    positions = config.get("max_position_embeddings", 2048)
    if isinstance(positions, int):
        data["n_ctx"] = positions + 2  # the table's rows: position_offset more
    before = config.get("do_layer_norm_before", True)
    data["norm_placement"] = "pre" if before else "post"
    data["final_norm"] = bool(before and not config.get("_remove_final_layer_norm", False))
    data["norm_params"] = bool(config.get("layer_norm_elementwise_affine", True))


def write_config(spec, config: dict) -> None:
    config["max_position_embeddings"] = spec.n_ctx - spec.position_offset
    config["do_layer_norm_before"] = spec.norm_placement == "pre"
    config["_remove_final_layer_norm"] = spec.norm_placement == "pre" and not spec.final_norm
    config["layer_norm_elementwise_affine"] = spec.norm_params
    config["word_embed_proj_dim"] = spec.d_model


OPT = Family(name="opt", hf_class="OPTForCausalLM", layouts=(OPT_LAYOUT,),
             config_keys=CONFIG_KEYS, defaults=DEFAULTS, activation_key="activation_function",
             bias_keys={"enable_bias": ("qkv", "attn_output", "mlp")},
             read_config=read_config, write_config=write_config)

FAMILIES = (OPT,)
