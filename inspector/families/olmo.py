"""OLMo and OLMo 2 (AI2).

OLMo keeps Llama's names but its LayerNorms have no parameters at all (OlmoLayerNorm, eps fixed
at 1e-5), so no norm tensor is stored; clip_qkv, when set, clamps queries, keys and values.

OLMo 2 normalises each sublayer's OUTPUT instead of its input (x + norm(f(x))), and normalises the
whole query and key projections (RMSNorm over n_heads x d_head): its `post_attention_layernorm`
is the attention output's norm, not the MLP's input norm as in Llama, so it has its own layout.
"""

from inspector.families.helpers import ATTENTION, CONFIG_KEYS, DEFAULTS, L, M, family, linear
from inspector.vocab.layout import Layout, Rule

OLMO = family("olmo", "OlmoForCausalLM",
              config_keys={**{k: v for k, v in CONFIG_KEYS.items() if k != "norm_eps"},
                           "clip_qkv": "clip_qkv"},
              defaults={**DEFAULTS, "norm": "layernorm", "norm_params": False, "norm_eps": 1e-5,
                        "vocab_size": 50304},  # OlmoConfig's default
              bias_keys={"attention_bias": ("qkv", "attn_output")}, gguf_rotary_permuted=False)

OLMO2_LAYOUT = Layout(
    name="olmo2",
    rules=(
        Rule("model.embed_tokens.weight", ("embed.weight",)),
        *ATTENTION,
        Rule(f"{M}.self_attn.q_norm.weight", (f"{L}.attn.q_norm.weight",)),
        Rule(f"{M}.self_attn.k_norm.weight", (f"{L}.attn.k_norm.weight",)),
        Rule("model.rotary_emb.inv_freq", what="rotary-frequency"),
        Rule(f"{M}.post_attention_layernorm.weight", (f"{L}.attn_post_norm.weight",)),
        *linear(f"{M}.mlp.gate_proj", f"{L}.mlp.gate"),
        *linear(f"{M}.mlp.up_proj", f"{L}.mlp.up"),
        *linear(f"{M}.mlp.down_proj", f"{L}.mlp.down"),
        Rule(f"{M}.post_feedforward_layernorm.weight", (f"{L}.mlp_post_norm.weight",)),
        Rule("model.norm.weight", ("final_norm.weight",)),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

OLMO2 = family("olmo2", "Olmo2ForCausalLM", layouts=(OLMO2_LAYOUT,),
               defaults={**DEFAULTS, "norm_placement": "output", "qk_norm": "full",
                         "norm_eps": 1e-5, "vocab_size": 50304},  # Olmo2Config's
               bias_keys={"attention_bias": ("qkv", "attn_output")}, gguf_rotary_permuted=False)

FAMILIES = (OLMO, OLMO2)
