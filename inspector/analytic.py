"""Spec -> the rows of every parameter the model has, from the spec's integers alone.

No torch here: `inspector count gpt3-175b` is arithmetic. Names are canonical (inspector.canonical),
shapes are PyTorch's (out_features, in_features).
"""

from __future__ import annotations

from inspector.canonical import parse
from inspector.roles import Role
from inspector.rows import Row
from inspector.spec import Spec


def parameter_shapes(spec: Spec) -> list[tuple[str, tuple[int, ...]]]:
    """Every canonical parameter with its shape, in the order a token meets them."""
    d, v = spec.d_model, spec.vocab_size
    out: list[tuple[str, tuple[int, ...]]] = []

    def linear(module: str, n_out: int, n_in: int, bias_kind: str) -> None:
        out.append((f"{module}.weight", (n_out, n_in)))
        if spec.has_bias(bias_kind):
            out.append((f"{module}.bias", (n_out,)))

    def norm(module: str) -> None:
        out.append((f"{module}.weight", (d,)))
        if spec.has_bias("norm"):
            out.append((f"{module}.bias", (d,)))

    out.append(("embed.weight", (v, d)))
    if spec.position == "learned":
        out.append(("pos.weight", (spec.n_ctx, d)))
    if spec.type_vocab_size:
        out.append(("token_type.weight", (spec.type_vocab_size, d)))
    if spec.embedding_norm:
        norm("embed_norm")
    for i in range(spec.n_layers):
        layer = f"layers.{i}"
        norm(f"{layer}.attn_norm")
        linear(f"{layer}.attn.query", spec.attn_width, d, "qkv")
        linear(f"{layer}.attn.key", spec.kv_width, d, "qkv")
        linear(f"{layer}.attn.value", spec.kv_width, d, "qkv")
        linear(f"{layer}.attn.output", d, spec.attn_width, "attn_output")
        norm(f"{layer}.mlp_norm")
        if spec.gated_mlp:
            linear(f"{layer}.mlp.gate", spec.d_ff, d, "mlp")
        linear(f"{layer}.mlp.up", spec.d_ff, d, "mlp")
        linear(f"{layer}.mlp.down", d, spec.d_ff, "mlp")
    if spec.final_norm:
        norm("final_norm")
    if spec.pooler:
        linear("pooler", d, d, "pooler")
    if spec.architecture == "decoder":
        linear("unembed", v, d, "unembedding")
    return out


def spec_rows(spec: Spec) -> list[Row]:
    rows = []
    for name, shape in parameter_shapes(spec):
        role, layer, kind = parse(name)
        tied = Role.EMBEDDING if name == "unembed.weight" and spec.tied_embeddings else None
        rows.append(Row(tensor=name, role=role, layer=layer, kind=kind, shape=shape,
                        canonical=name, tied_to=tied))
    return rows
