"""Canonical tensor names: the names of the model `build` makes, and the common tongue every
checkpoint layout translates into. One table gives each name its role."""

from __future__ import annotations

import re

from inspector.vocab.roles import Role

# Canonical module -> role. `{i}` is the layer number. Each module has a `.weight` and maybe a `.bias`.
MODULES: dict[str, Role] = {
    "embed": Role.EMBEDDING,
    # ViT's [CLS] vector: an input vector learned as a token's embedding row is (BERT's [CLS] is
    # a row of its word embedding), taken by no token id.
    "cls": Role.EMBEDDING,
    "pos": Role.POSITION,
    "token_type": Role.TOKEN_TYPE,
    "embed_norm": Role.NORM,
    "layers.{i}.attn_norm": Role.NORM,
    "layers.{i}.attn.query": Role.QUERY,
    "layers.{i}.attn.key": Role.KEY,
    "layers.{i}.attn.value": Role.VALUE,
    "layers.{i}.attn.output": Role.OUTPUT,
    # Latent attention (DeepSeek): the queries' down and up projections are the query's; kv_down
    # makes the latent the keys and values are brought up from and the rotated key part, named
    # `key` since the cache holds it in place of keys (and the rotated part is a key outright);
    # kv_up's rows are the heads' keys (key_up) and values (value_up). Latent norms are norms.
    "layers.{i}.attn.q_down": Role.QUERY,
    "layers.{i}.attn.q_down_norm": Role.NORM,
    "layers.{i}.attn.q_up": Role.QUERY,
    "layers.{i}.attn.kv_down": Role.KEY,
    "layers.{i}.attn.kv_down_norm": Role.NORM,
    "layers.{i}.attn.key_up": Role.KEY,
    "layers.{i}.attn.value_up": Role.VALUE,
    # gpt-oss's attention sinks: a learned logit per head with value zero; it takes a share of
    # each head's softmax and so scales what the head hands the output projection: `output`.
    "layers.{i}.attn.sinks": Role.OUTPUT,
    "layers.{i}.attn.q_norm": Role.NORM,  # a norm is a norm wherever it sits (README: Roles)
    "layers.{i}.attn.k_norm": Role.NORM,
    "layers.{i}.attn.rel_bias": Role.POSITION,  # relative position biases (T5: first block only)
    "layers.{i}.attn_post_norm": Role.NORM,
    # An encoder-decoder's decoder blocks (numbered after the encoder's) attend to the encoder's
    # output: queries from the block, keys and values from the encoder.
    "layers.{i}.cross_attn_norm": Role.NORM,
    "layers.{i}.cross_attn.query": Role.QUERY,
    "layers.{i}.cross_attn.key": Role.KEY,
    "layers.{i}.cross_attn.value": Role.VALUE,
    "layers.{i}.cross_attn.output": Role.OUTPUT,
    "layers.{i}.mlp_norm": Role.NORM,
    "layers.{i}.mlp.up": Role.UP,
    "layers.{i}.mlp.gate": Role.GATE,
    "layers.{i}.mlp.down": Role.DOWN,
    # A mixture of experts: the router, routed expert {e} (k of them a token), and the shared
    # experts every token passes through (gated by shared_gate in Qwen2-MoE).
    "layers.{i}.mlp.router": Role.ROUTER,
    "layers.{i}.mlp.experts.{e}.up": Role.UP,
    "layers.{i}.mlp.experts.{e}.gate": Role.GATE,
    "layers.{i}.mlp.experts.{e}.down": Role.DOWN,
    "layers.{i}.mlp.shared.up": Role.UP,
    "layers.{i}.mlp.shared.gate": Role.GATE,
    "layers.{i}.mlp.shared.down": Role.DOWN,
    "layers.{i}.mlp.shared_gate": Role.ROUTER,
    "layers.{i}.mlp_post_norm": Role.NORM,
    "encoder_norm": Role.NORM,  # the norm after an encoder's last block (also beside a decoder)
    # DeepSeek-V3's multi-token-prediction module, stored as the layer after the last: norms of
    # the next token's embedding and of the hidden state, their joining projection (a head's
    # own layer), its final norm, unembedding and embedding copy.
    "layers.{i}.mtp.enorm": Role.NORM,
    "layers.{i}.mtp.hnorm": Role.NORM,
    "layers.{i}.mtp.eh_proj": Role.HEAD,
    "layers.{i}.mtp.head_norm": Role.NORM,
    "layers.{i}.mtp.unembed": Role.UNEMBEDDING,
    "layers.{i}.mtp.embed": Role.EMBEDDING,
    "final_norm": Role.NORM,
    "pooler": Role.POOLER,
    "mlm_transform": Role.HEAD,
    "mlm_norm": Role.NORM,
    "nsp": Role.HEAD,
    "unembed": Role.UNEMBEDDING,
}

_PATTERN = re.compile(r"^(?:layers\.(\d+)\.)?(.+)\.(weight|bias)$")
_EXPERT = re.compile(r"\.experts\.(\d+)\.")


def parse(name: str) -> tuple[Role, int | None, str]:
    """`layers.3.attn.query.bias` -> (Role.QUERY, 3, "bias")."""
    m = _PATTERN.match(name)
    if not m:
        raise KeyError(name)
    layer, module, kind = m.groups()
    module = _EXPERT.sub(".experts.{e}.", f".{module}.")[1:-1]
    key = f"layers.{{i}}.{module}" if layer is not None else module
    return MODULES[key], (int(layer) if layer is not None else None), kind


def expert_of(name: str) -> int | None:
    """The routed expert a canonical name belongs to: `layers.3.mlp.experts.5.up.weight` -> 5."""
    m = _EXPERT.search(name)
    return int(m.group(1)) if m else None
