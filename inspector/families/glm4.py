"""GLM-4 (THUDM/zai-org, GLM-4-0414): a sandwich block and a fused gate/up projection.

Glm4DecoderLayer norms the attention's input (input_layernorm) and output
(post_self_attn_layernorm), then the MLP's input (post_attention_layernorm, Llama's meaning) and
output (post_mlp_layernorm). Glm4MLP stores gate and up as one `gate_up_proj` of 2 x d_ff rows,
gate first (`gate, up = gate_up_proj(x).chunk(2)`). Rotary turns the first half of each head
(partial_rotary_factor 0.5) in interleaved pairs (2j, 2j + 1). Queries, keys and values have biases
by default (attention_bias true), the output projection never.
"""

from inspector.families.helpers import ATTENTION, CONFIG_KEYS, DEFAULTS, L, M, family
from inspector.vocab.layout import Layout, Rule

GLM4_LAYOUT = Layout(
    name="glm4",
    rules=(
        Rule("model.embed_tokens.weight", ("embed.weight",)),
        Rule(f"{M}.input_layernorm.weight", (f"{L}.attn_norm.weight",)),
        *ATTENTION,  # o_proj never has a bias here
        Rule("model.rotary_emb.inv_freq", what="rotary-frequency"),
        Rule(f"{M}.post_self_attn_layernorm.weight", (f"{L}.attn_post_norm.weight",)),
        Rule(f"{M}.post_attention_layernorm.weight", (f"{L}.mlp_norm.weight",)),
        Rule(f"{M}.mlp.gate_up_proj.weight", (f"{L}.mlp.gate.weight", f"{L}.mlp.up.weight"),
             split_axis=0),
        Rule(f"{M}.mlp.down_proj.weight", (f"{L}.mlp.down.weight",)),
        Rule(f"{M}.post_mlp_layernorm.weight", (f"{L}.mlp_post_norm.weight",)),
        Rule("model.norm.weight", ("final_norm.weight",)),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

# Glm4Config's defaults where config.json may be silent: GLM-4-9B's sizes, head_dim 128 (not
# d_model / n_heads), 2 key/value heads, rms_norm_eps 1.5625e-7, attention_bias true,
# partial_rotary_factor 0.5.
GLM4 = family("glm4", "Glm4ForCausalLM", layouts=(GLM4_LAYOUT,),
              config_keys=CONFIG_KEYS,
              defaults={**DEFAULTS, "norm_placement": "sandwich", "d_head": 128,
                        "vocab_size": 151552, "n_ctx": 131072, "n_layers": 40, "d_ff": 13696,
                        "n_kv_heads": 2, "norm_eps": 1.5625e-7,
                        "biases": {"qkv": True}, "rotary_fraction": 0.5,
                        "rotary_interleaved": True},
              bias_keys={"attention_bias": ("qkv",)}, gguf_rotary_permuted=False)

FAMILIES = (GLM4,)
