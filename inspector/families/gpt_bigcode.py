"""GPT-BigCode (StarCoder 1, SantaCoder) as transformers stores it.

GPT-2's names and block, but nn.Linear weights stored (out, in), not Conv1D's (in, out), and a
multi-query attention: `c_attn` holds all query heads, then ONE key head and one value head
(d_model + 2 d_head rows). With multi_query false it is GPT-2's three blocks per head,
"(h three d)". Both are the grouped layout of `Rule.head_interleaved`: g = n_kv_heads groups of
(query heads of the group, key, value). A config-less file has GPT-2's names; its shapes tell it
apart (families.fits_shapes: c_attn's d_model inputs are on axis 1, not 0).
"""

from dataclasses import replace

from inspector.families.base import Family
from inspector.families.gpt2 import CONFIG_KEYS, DEFAULTS, GPT2_LAYOUT
from inspector.families.gpt2 import read_config as read_gpt2
from inspector.vocab.layout import Layout, Rule

QKV_SIZES = ("attn_width", "kv_width", "kv_width")


def _linear(rule: Rule) -> Rule:
    """GPT-2's rule for nn.Linear storage: no transpose, a fused tensor cut on its rows."""
    if rule.split_axis is None:
        return replace(rule, transposed=False)
    return replace(rule, transposed=False, split_axis=0, split_sizes=QKV_SIZES,
                   head_interleaved=True)


GPT_BIGCODE_LAYOUT = Layout(
    name="gpt_bigcode",
    prefixes=GPT2_LAYOUT.prefixes,
    rules=(*(_linear(rule) for rule in GPT2_LAYOUT.rules),
           Rule("bias", what="causal-mask")),  # non-persistent today; older files may hold it
)


def read_config(config: dict, data: dict) -> None:
    read_gpt2(config, data)  # n_inner null: 4 x n_embd
    # multi_query (the default): one key/value head shared by every query head.
    if config.get("multi_query", True):
        data["n_kv_heads"] = 1


def write_config(spec, config: dict) -> None:
    config["multi_query"] = spec.n_kv_heads == 1


GPT_BIGCODE = Family(name="gpt_bigcode", hf_class="GPTBigCodeForCausalLM",
                     layouts=(GPT_BIGCODE_LAYOUT,), config_keys=CONFIG_KEYS, defaults=DEFAULTS,
                     activation_key="activation_function", read_config=read_config,
                     write_config=write_config, gguf_arch="starcoder")

FAMILIES = (GPT_BIGCODE,)
