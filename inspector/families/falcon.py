"""Falcon (TII 2023) as transformers stores it (FalconModel; `transformer.` in task models).

Two blocks. Falcon 7B (new_decoder_architecture false): multi-query attention (one key/value
head), one input_layernorm feeding attention and MLP in parallel (parallel_attn; false:
sequential with a post_attention_layernorm). Falcon 40B/180B (new_decoder_architecture true):
num_kv_heads key/value groups, two norms ln_attn and ln_mlp (num_ln_in_parallel_attn 2; 1: one
input_layernorm), always parallel. Both fuse query_key_value per key/value group,
"(g (q_per_g + 2) d)" (FalconAttention._split_heads): the grouped layout of
`Rule.head_interleaved`, one group of every query head for multi-query. Rotary over the whole
head; ALiBi Falcons (alibi true: scores and bias scaled together) are refused.
"""

from dataclasses import replace

from inspector.families.base import STANDARD_KEYS, Family
from inspector.families.gpt_bigcode import QKV_SIZES
from inspector.families.helpers import linear, read_rope
from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"
H = "h.{i}"

FALCON_LAYOUT = Layout(
    name="falcon",
    prefixes=("", "transformer."),
    rules=(
        Rule("word_embeddings.weight", ("embed.weight",)),
        *linear(f"{H}.input_layernorm", f"{L}.attn_norm"),  # 7B: shared by attention and MLP
        *linear(f"{H}.ln_attn", f"{L}.attn_norm"),  # 40B
        *linear(f"{H}.ln_mlp", f"{L}.mlp_norm"),
        *linear(f"{H}.post_attention_layernorm", f"{L}.mlp_norm"),  # parallel_attn false
        *(Rule(f"{H}.self_attention.query_key_value.{kind}",
               tuple(f"{L}.attn.{part}.{kind}" for part in ("query", "key", "value")),
               split_axis=0, split_sizes=QKV_SIZES, head_interleaved=True)
          for kind in ("weight", "bias")),
        *linear(f"{H}.self_attention.dense", f"{L}.attn.output"),
        Rule(f"{H}.self_attention.maybe_rotary.inv_freq", what="rotary-frequency"),  # old code
        *linear(f"{H}.mlp.dense_h_to_4h", f"{L}.mlp.up"),
        *linear(f"{H}.mlp.dense_4h_to_h", f"{L}.mlp.down"),
        *linear("ln_f", "final_norm"),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

CONFIG_KEYS = {**STANDARD_KEYS, "d_ff": "ffn_hidden_size", "norm_eps": "layer_norm_epsilon",
               "rope_theta": "rope_theta"}

# FalconConfig's defaults (max_position_embeddings 2048, activation gelu, bias false, tied).
DEFAULTS = {"vocab_size": 65024, "d_model": 4544, "n_layers": 32, "n_heads": 71, "n_ctx": 2048,
            "activation": "gelu", "norm": "layernorm", "position": "rotary",
            "tied_embeddings": True, "biases": {"norm": True}}


def read_config(config: dict, data: dict) -> None:
    read_rope(config, data)
    if config.get("alibi"):
        raise ValueError("Falcon with alibi true is not supported (rotary Falcons are)")
    n_heads = data.get("n_heads")
    if "d_ff" not in data and isinstance(data.get("d_model"), int):
        data["d_ff"] = 4 * data["d_model"]  # ffn_hidden_size null: 4 x hidden_size
    if config.get("new_decoder_architecture"):
        data["n_kv_heads"] = config.get("num_kv_heads") or n_heads
        data["residual"] = "parallel"
        data["shared_block_norm"] = config.get("num_ln_in_parallel_attn") == 1
    else:
        data["n_kv_heads"] = 1 if config.get("multi_query", True) else n_heads
        parallel = config.get("parallel_attn", True)
        data["residual"] = "parallel" if parallel else "sequential"
        data["shared_block_norm"] = bool(parallel)


def write_config(spec, config: dict) -> None:
    parallel = spec.residual == "parallel"
    new = (parallel and not spec.shared_block_norm) or spec.n_kv_heads not in (1, spec.n_heads)
    config.update(new_decoder_architecture=new, num_kv_heads=spec.n_kv_heads,
                  multi_query=spec.n_kv_heads == 1, parallel_attn=parallel, alibi=False)
    if new:
        config["num_ln_in_parallel_attn"] = 1 if spec.shared_block_norm else 2


# The norms each block stores, by (residual, shared_block_norm) (FalconDecoderLayer.__init__).
BLOCK_NORMS = {("parallel", True): ("input_layernorm",),
               ("parallel", False): ("ln_attn", "ln_mlp"),
               ("sequential", False): ("input_layernorm", "post_attention_layernorm")}
NORMS = {"input_layernorm", "ln_attn", "ln_mlp", "post_attention_layernorm"}


def writes(spec) -> Layout:
    """FALCON_LAYOUT without the norm names this block does not store."""
    kept = BLOCK_NORMS.get((spec.residual, spec.shared_block_norm), ())
    dropped = NORMS - set(kept)
    return replace(FALCON_LAYOUT, name=f"falcon-{'-'.join(kept)}", _by_pattern={},
                   rules=tuple(r for r in FALCON_LAYOUT.rules
                               if not dropped & set(r.pattern.split("."))))


FALCON = Family(name="falcon", hf_class="FalconForCausalLM", layouts=(FALCON_LAYOUT,),
                config_keys=CONFIG_KEYS, defaults=DEFAULTS, activation_key="activation",
                bias_keys={"bias": ("qkv", "attn_output", "mlp")},
                read_config=read_config, write_config=write_config, gguf_arch="falcon",
                writes=writes)

FAMILIES = (FALCON,)
