"""Roles for an architecture no family describes, inferred from generic name patterns.

Most checkpoints name their modules after a handful of conventions (`q_proj`, `query`, `wq`,
`c_fc`, `dense_h_to_4h`, `embed_tokens`, `lm_head`, `*norm*`): the last module name before
`.weight`/`.bias` is looked up here. What matches gets its role, marked as inferred; fused tensors
(`qkv_proj`, `query_key_value`) are left unmapped rather than cut by a guess.
"""

from __future__ import annotations

from inspector.vocab.roles import Role

# The last module name -> role. Checked in order; the first whose key equals the name wins.
LEAF_ROLES: dict[str, Role] = {
    **dict.fromkeys(("embed_tokens", "wte", "word_embeddings", "tok_embeddings", "embed_in",
                     "token_embd", "shared"), Role.EMBEDDING),
    # A vision tower's (CLIP, SigLIP): its patch convolution embeds, its table places patches.
    **dict.fromkeys(("patch_embedding",), Role.EMBEDDING),
    **dict.fromkeys(("wpe", "position_embeddings", "embed_positions", "position_embedding"),
                    Role.POSITION),
    **dict.fromkeys(("token_type_embeddings",), Role.TOKEN_TYPE),
    **dict.fromkeys(("q_proj", "query", "wq", "attn_q"), Role.QUERY),
    **dict.fromkeys(("k_proj", "key", "wk", "attn_k"), Role.KEY),
    **dict.fromkeys(("v_proj", "value", "wv", "attn_v"), Role.VALUE),
    **dict.fromkeys(("o_proj", "out_proj", "wo", "attn_output"), Role.OUTPUT),
    **dict.fromkeys(("gate_proj", "w1", "ffn_gate"), Role.GATE),
    **dict.fromkeys(("up_proj", "w3", "fc1", "c_fc", "dense_h_to_4h", "ffn_up"), Role.UP),
    **dict.fromkeys(("down_proj", "w2", "fc2", "dense_4h_to_h", "ffn_down"), Role.DOWN),
    **dict.fromkeys(("lm_head", "embed_out", "output"), Role.UNEMBEDDING),
}

# The last two module names -> role, where the last alone says too little (`proj`): Qwen2-VL's
# vision tower, timm's ViT.
PAIR_ROLES: dict[str, Role] = {"patch_embed.proj": Role.EMBEDDING, "attn.proj": Role.OUTPUT}

# Names (last parts) that are buffers wherever they appear.
BUFFER_LEAVES = ("inv_freq", "position_ids", "masked_bias", "token_type_ids")


def infer(name: str) -> tuple[Role | None, int | None, str] | None:
    """(role, layer, kind) for a stored name, kind "weight", "bias" or "buffer"; None when no
    generic pattern says what it is."""
    parts = name.split(".")
    if len(parts) < 2 and parts[-1] not in BUFFER_LEAVES:  # (most names of a hostile header)
        return None
    layer = next((int(p) for p in parts if p.isdigit() and p.isascii()), None)
    if parts[-1] in BUFFER_LEAVES:
        return None, layer, "buffer"
    if parts[-1] not in ("weight", "bias"):
        return None
    leaf, kind = parts[-2], parts[-1]
    role = LEAF_ROLES.get(leaf) or (PAIR_ROLES.get(f"{parts[-3]}.{leaf}") if len(parts) > 2
                                    else None)
    if role is None and ("norm" in leaf.lower() or leaf.startswith("ln")):
        role = Role.NORM
    if role is None:
        return None
    if role in (Role.EMBEDDING, Role.POSITION, Role.TOKEN_TYPE, Role.UNEMBEDDING) and \
            layer is not None:
        return None  # an embedding inside a block is not the model's embedding table
    return role, layer, kind
