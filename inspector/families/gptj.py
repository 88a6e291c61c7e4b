"""GPT-J (Wang and Komatsuzaki 2021) as transformers stores it (GPTJForCausalLM).

A parallel block with ONE norm, x + attn(ln_1(x)) + mlp(ln_1(x)); rotary on the first
rotary_dim dims of each head in interleaved pairs (2j, 2j + 1) (GPT-J's rotate_every_two, base
10000); q/k/v/out_proj without bias, fc_in/fc_out with; an untied lm_head with a bias.
"""

from inspector.families.base import Family
from inspector.families.gpt2 import CONFIG_KEYS
from inspector.families.gpt2 import read_config as read_gpt2
from inspector.families.helpers import linear
from inspector.vocab.layout import Layout, Rule

L = "layers.{i}"
H = "h.{i}"

GPTJ_LAYOUT = Layout(
    name="gptj",
    prefixes=("", "transformer."),
    rules=(
        Rule("wte.weight", ("embed.weight",)),
        *linear(f"{H}.ln_1", f"{L}.attn_norm"),
        *linear(f"{H}.attn.q_proj", f"{L}.attn.query"),
        *linear(f"{H}.attn.k_proj", f"{L}.attn.key"),
        *linear(f"{H}.attn.v_proj", f"{L}.attn.value"),
        *linear(f"{H}.attn.out_proj", f"{L}.attn.output"),
        Rule(f"{H}.attn.bias", what="causal-mask"),  # older transformers saved them
        Rule(f"{H}.attn.masked_bias", what="mask-fill"),
        *linear(f"{H}.mlp.fc_in", f"{L}.mlp.up"),
        *linear(f"{H}.mlp.fc_out", f"{L}.mlp.down"),
        *linear("ln_f", "final_norm"),
        *linear("lm_head", "unembed"),
    ),
)

# GPTJConfig's defaults (GPT-J 6B): rotary_dim 64 of d_head 256.
DEFAULTS = {"vocab_size": 50400, "n_ctx": 2048, "d_model": 4096, "n_layers": 28, "n_heads": 16,
            "activation": "gelu_tanh", "norm": "layernorm", "position": "rotary",
            "rotary_fraction": 0.25, "rotary_interleaved": True, "residual": "parallel",
            "shared_block_norm": True, "tied_embeddings": False,
            "biases": {"mlp": True, "norm": True, "unembedding": True}}


def read_config(config: dict, data: dict) -> None:
    read_gpt2(config, data)  # n_inner null: 4 x n_embd
    rotary_dim = config.get("rotary_dim", 64)
    d_model, n_heads = data.get("d_model"), data.get("n_heads")
    if isinstance(rotary_dim, int) and isinstance(d_model, int) and isinstance(n_heads, int) \
            and n_heads > 0:
        data["rotary_fraction"] = rotary_dim / (d_model // n_heads)
    elif "rotary_dim" in config and rotary_dim is None:
        data["rotary_fraction"] = 1.0


def write_config(spec, config: dict) -> None:
    config["rotary_dim"] = int(spec.d_head * spec.rotary_fraction)


GPTJ = Family(name="gptj", hf_class="GPTJForCausalLM", layouts=(GPTJ_LAYOUT,),
              config_keys=CONFIG_KEYS, defaults=DEFAULTS, activation_key="activation_function",
              read_config=read_config, write_config=write_config, gguf_arch="gptj")

FAMILIES = (GPTJ,)
