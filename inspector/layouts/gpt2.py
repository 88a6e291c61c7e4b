"""GPT-2 as transformers and the hub store it (GPT-3 specs use the same names).

Two forms: new transformers writes a `transformer.` prefix and no masks; the file published on
the hub has no prefix and a [1, 1, n_ctx, n_ctx] causal mask `h.N.attn.bias` per layer. Both store
Conv1D weights as (in, out), and fuse query, key and value into one `c_attn`.
"""

from inspector.layouts.base import Layout, Rule

L = "layers.{i}"

GPT2 = Layout(
    name="gpt2",
    prefixes=("", "transformer."),
    rules=(
        Rule("wte.weight", ("embed.weight",)),
        Rule("wpe.weight", ("pos.weight",)),
        Rule("h.{i}.ln_1.weight", (f"{L}.attn_norm.weight",)),
        Rule("h.{i}.ln_1.bias", (f"{L}.attn_norm.bias",)),
        Rule("h.{i}.attn.c_attn.weight",
             (f"{L}.attn.query.weight", f"{L}.attn.key.weight", f"{L}.attn.value.weight"),
             split_axis=1, transposed=True),
        Rule("h.{i}.attn.c_attn.bias",
             (f"{L}.attn.query.bias", f"{L}.attn.key.bias", f"{L}.attn.value.bias"), split_axis=0),
        Rule("h.{i}.attn.c_proj.weight", (f"{L}.attn.output.weight",), transposed=True),
        Rule("h.{i}.attn.c_proj.bias", (f"{L}.attn.output.bias",)),
        Rule("h.{i}.attn.bias", what="causal-mask"),  # published checkpoints only
        Rule("h.{i}.attn.masked_bias", what="mask-fill"),  # -10000, older transformers saved it
        Rule("h.{i}.ln_2.weight", (f"{L}.mlp_norm.weight",)),
        Rule("h.{i}.ln_2.bias", (f"{L}.mlp_norm.bias",)),
        Rule("h.{i}.mlp.c_fc.weight", (f"{L}.mlp.up.weight",), transposed=True),
        Rule("h.{i}.mlp.c_fc.bias", (f"{L}.mlp.up.bias",)),
        Rule("h.{i}.mlp.c_proj.weight", (f"{L}.mlp.down.weight",), transposed=True),
        Rule("h.{i}.mlp.c_proj.bias", (f"{L}.mlp.down.bias",)),
        Rule("ln_f.weight", ("final_norm.weight",)),
        Rule("ln_f.bias", ("final_norm.bias",)),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)
