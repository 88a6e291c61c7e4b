"""Llama as transformers and the hub store it, and as llama.cpp's GGUF names it.

GGUF: dims are reversed on disk (the reader turns them back to PyTorch order); llama.cpp's
converter reorders the rows of attn_q and attn_k within each head for its rotary kernel
(interleaved pairs instead of halves), which `rotary_permuted` undoes when values are loaded.
"""

from inspector.layouts.base import Layout, Rule

L = "layers.{i}"

LLAMA = Layout(
    name="llama",
    rules=(
        Rule("model.embed_tokens.weight", ("embed.weight",)),
        Rule("model.layers.{i}.input_layernorm.weight", (f"{L}.attn_norm.weight",)),
        Rule("model.layers.{i}.self_attn.q_proj.weight", (f"{L}.attn.query.weight",)),
        Rule("model.layers.{i}.self_attn.q_proj.bias", (f"{L}.attn.query.bias",)),
        Rule("model.layers.{i}.self_attn.k_proj.weight", (f"{L}.attn.key.weight",)),
        Rule("model.layers.{i}.self_attn.k_proj.bias", (f"{L}.attn.key.bias",)),
        Rule("model.layers.{i}.self_attn.v_proj.weight", (f"{L}.attn.value.weight",)),
        Rule("model.layers.{i}.self_attn.v_proj.bias", (f"{L}.attn.value.bias",)),
        Rule("model.layers.{i}.self_attn.o_proj.weight", (f"{L}.attn.output.weight",)),
        Rule("model.layers.{i}.self_attn.o_proj.bias", (f"{L}.attn.output.bias",)),
        Rule("model.layers.{i}.self_attn.rotary_emb.inv_freq",  # older transformers saved it
             what="rotary-frequency"),
        Rule("model.rotary_emb.inv_freq", what="rotary-frequency"),
        Rule("model.layers.{i}.post_attention_layernorm.weight", (f"{L}.mlp_norm.weight",)),
        Rule("model.layers.{i}.mlp.gate_proj.weight", (f"{L}.mlp.gate.weight",)),
        Rule("model.layers.{i}.mlp.gate_proj.bias", (f"{L}.mlp.gate.bias",)),  # mlp_bias: true
        Rule("model.layers.{i}.mlp.up_proj.weight", (f"{L}.mlp.up.weight",)),
        Rule("model.layers.{i}.mlp.up_proj.bias", (f"{L}.mlp.up.bias",)),
        Rule("model.layers.{i}.mlp.down_proj.weight", (f"{L}.mlp.down.weight",)),
        Rule("model.layers.{i}.mlp.down_proj.bias", (f"{L}.mlp.down.bias",)),
        Rule("model.norm.weight", ("final_norm.weight",)),
        Rule("lm_head.weight", ("unembed.weight",)),
    ),
)

GGUF_LLAMA = Layout(
    name="gguf-llama",
    rules=(
        Rule("token_embd.weight", ("embed.weight",)),
        Rule("blk.{i}.attn_norm.weight", (f"{L}.attn_norm.weight",)),
        Rule("blk.{i}.attn_q.weight", (f"{L}.attn.query.weight",), rotary_permuted=True),
        Rule("blk.{i}.attn_k.weight", (f"{L}.attn.key.weight",), rotary_permuted=True),
        Rule("blk.{i}.attn_v.weight", (f"{L}.attn.value.weight",)),
        Rule("blk.{i}.attn_output.weight", (f"{L}.attn.output.weight",)),
        Rule("blk.{i}.ffn_norm.weight", (f"{L}.mlp_norm.weight",)),
        Rule("blk.{i}.ffn_gate.weight", (f"{L}.mlp.gate.weight",)),
        Rule("blk.{i}.ffn_up.weight", (f"{L}.mlp.up.weight",)),
        Rule("blk.{i}.ffn_down.weight", (f"{L}.mlp.down.weight",)),
        Rule("rope_freqs.weight", what="rotary-frequency"),  # factors for Llama 3.1 scaling
        Rule("output_norm.weight", ("final_norm.weight",)),
        Rule("output.weight", ("unembed.weight",)),
    ),
)
