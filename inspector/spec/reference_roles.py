"""The role of a tensor of a model transformers built, from the modules that own it: their
attribute names and classes say attention, MLP, expert, router, norm, embedding, head or mixer.

Read from the path of (attribute, class) pairs from the model down to the tensor, innermost
first: the owning module's attribute says which projection (q_proj, w1, in_proj, ...), an
enclosing module says in what (attention, an MLP, the routed experts, a state-space mixer).
"""

from __future__ import annotations

from inspector.families.name_patterns import LEAF_ROLES
from inspector.vocab.roles import Role

# An enclosing module's attribute or class (lower case, as a part of it) that says what it is.
ATTENTION = ("attn", "attention", "moa")  # (JetMoE's mixture of attention heads: JetMoeMoA)
MIXERS = ("mamba", "mixer", "ssm", "deltanet", "delta_net", "linear_attn", "linearattention",
          "lightning", "shortconv", "short_conv", "conv", "rwkv", "retention", "hyena", "lru",
          "recurrent", "time_mix", "token_shift",
          # what mixes the residual streams (DeepSeek-V4's, HY-V4's hyper-connections, Qwen4's
          # gated residual) and what picks the tokens attention reads (a sparse attention's
          # indexer and compressor): neither attention's projections nor an MLP
          "hyper", "gatedresidual", "residualscal", "indexer", "compressor", "lstm",
          "deltaattention")  # (Kimi-Linear's delta attention: a linear attention)
MLP = ("mlp", "feed_forward", "feedforward", "ffn", "ff", "moe", "sparse", "intermediate",
       "channel_mix", "block_sparse", "adapter")
SHARED_EXPERTS = ("shared_expert", "shared_experts", "shared_mlp", "shared")
ROUTERS = ("gate", "router", "gating", "wg", "switch", "gating_network", "classifier",
           "shared_expert_gate", "routing")

# Modules outside the blocks that hold a task head's own layers (the unembedding is found apart).
HEAD_MODULES = ("lm_head", "cls", "predictions", "generator_predictions", "head", "transform")

# The attribute of a plain layer inside a module that wraps it (the wrapper's attribute says it).
WRAPPED = ("linear",)
# Outside the blocks, part of embedding a token: the projection of a factorized embedding up
# to the model's width (ELECTRA, RemBERT), XLNet's embedding of the mask, a draft model's
# projection of the target model's states in (Gemma 4's assistant).
EMBEDDING_EXTRAS = ("embeddings_project", "embedding_hidden_mapping_in", "mask_emb",
                    "pre_projection", "per_layer_model_projection", "map_inputs_layer",
                    "token_embedding_projection")
# In a block, outside attention and the MLP: the gate and the projection back of a per-layer
# input embedding (Gemma 3n, Gemma 4): a gated MLP whose up is the per-layer embedding.
PER_LAYER_INPUT = {"per_layer_input_gate": Role.GATE, "per_layer_projection": Role.DOWN}
# Outside the blocks: a draft model's projection back out to the target model (Gemma 4's
# assistant), a head's own layer; an elementwise affine of the embedding's output (ZAYA).
HEAD_EXTRAS = ("post_projection",)
NORM_EXTRAS = ("input_hidden_states_scale", "input_hidden_states_bias")

# The owning module's attribute -> role, within attention, an MLP (or an expert), a mixer.
ATTENTION_LEAVES = {
    **dict.fromkeys(("q_proj", "query", "wq", "q", "q_a_proj", "q_b_proj", "q_lin", "q_attn",
                     "linear_q", "to_q", "query_proj", "q_up_proj", "q_down_proj", "project_q",
                     # what queries add (XLNet's position and segment biases; Inkling's
                     # relative logits per query head)
                     "r_w_bias", "r_r_bias", "r_s_bias", "r_proj", "relative_pos_embeddings", "relative_position_bias",
                     "query_key",  # (Reformer's LSH attention: one projection for both)
                     "input_linear"),
                    Role.QUERY),
    **dict.fromkeys(("k_proj", "key", "wk", "k", "k_lin", "linear_k", "to_k", "key_proj",
                     "kv_a_proj_with_mqa", "kv_a_proj", "k_up_proj", "project_k",
                     # XLNet's keys of relative positions and of segments
                     "r", "seg_embed"), Role.KEY),
    **dict.fromkeys(("v_proj", "value", "wv", "v", "v_lin", "linear_v", "to_v", "value_proj",
                     "kv_b_proj", "v_up_proj", "project_v", "v_proj_current", "v_proj_delayed"),
                    Role.VALUE),
    **dict.fromkeys(("o_proj", "out_proj", "dense", "wo", "c_proj", "o", "out_lin", "linear_out",
                     "to_out", "proj", "output", "o_lin", "output_proj", "out", "sinks",
                     "attention_sink", "sink", "attention_out", "o_a_proj", "o_b_proj",
                     "output_linear", "sink_proj", "attn_sink_proj"),
                    Role.OUTPUT),
    # fused: one stored tensor whose first rows are the queries (reported under QUERY whole)
    **dict.fromkeys(("qkv_proj", "query_key_value", "c_attn", "wqkv", "qkv", "in_proj",
                     "w_qkv", "qkv_lin", "q_kv", "kv_proj", "c_attn_q", "qk_proj"), Role.QUERY),
}
MLP_LEAVES = {
    **dict.fromkeys(("gate_proj", "w1", "wi_0", "gate", "linear_gate", "gate_up_proj",
                     "input_linear", "fc1_gate", "proj_up_gate", "w_0", "receptance"), Role.GATE),
    **dict.fromkeys(("up_proj", "w3", "fc1", "c_fc", "dense_h_to_4h", "fc_in", "wi", "wi_1",
                     "linear_1", "lin1", "up", "fc", "dense", "w_in", "in_proj", "c_fc2",
                     "linear_fc1", "layer1", "wi_up", "layer_1", "intermediate", "proj_up",
                     "w_1", "dense1", "key"), Role.UP),
    **dict.fromkeys(("down_proj", "w2", "fc2", "c_proj", "dense_4h_to_h", "fc_out", "wo",
                     "linear_2", "lin2", "down", "output_linear", "w_out", "out_proj",
                     "linear_fc2", "layer2", "proj", "layer_2", "output", "proj_down", "dense2",
                     "value"), Role.DOWN),
}


def owner_chain(model, name: str) -> list[tuple[str, str]]:
    """(attribute, class name) of every module from the model down to the one that owns `name`
    (as deep as the in-memory modules go: a stored name save_pretrained renamed stops early),
    then (the tensor's own name, "")."""
    parts = name.split(".")
    chain, module = [], model
    for part in parts[:-1]:
        child = getattr(module, "_modules", {}).get(part)
        if child is None:
            break
        chain.append((part, type(child).__name__))
        module = child
    chain += [(p, "") for p in parts[len(chain):]]
    return chain


def role_of(stored: str, source: str, chain: list[tuple[str, str]], is_buffer: bool,
            is_unembedding: bool, shape) -> tuple[str | None, str, int | None, int | None]:
    """(role, kind, layer, expert) of one stored tensor. kind: weight, bias, buffer, unmapped;
    expert: the routed expert's number, -1 for a tensor stacking every expert on its first
    axis, None outside the routed experts."""
    layer, expert = _numbers(stored)
    leaf = chain[-1][0]
    kind = "bias" if leaf == "bias" or leaf.endswith("_bias") and not is_buffer else "weight"
    if is_buffer:
        return None, "buffer", layer, None
    role = _role(chain, is_unembedding, layer)
    lowered = [(a.lower(), c.lower()) for a, c in chain]
    routed = _routed(lowered)
    if routed and expert is None and len(shape) >= 2 and leaf != "bias" and role != Role.ROUTER:
        expert = -1  # every expert in one tensor, stacked on its first axis
    elif routed and expert is None:
        expert = -1 if shape and not _is_router(lowered) else None
    if not routed:
        expert = None
    return (role.value if role else None), (kind if role else "unmapped"), layer, expert


def _numbers(stored: str) -> tuple[int | None, int | None]:
    """The layer (the first number in the name) and the routed expert (the number after
    `experts`), as stored."""
    parts = stored.split(".")
    layer = expert = None
    for i, part in enumerate(parts):
        if not (part.isdigit() and part.isascii()):
            continue
        if i and "expert" in parts[i - 1] and "shared" not in parts[i - 1]:
            expert = int(part)
        elif layer is None:
            layer = int(part)
    return layer, expert


def _routed(lowered: list[tuple[str, str]]) -> bool:
    """Under a module of routed experts (not the shared ones)."""
    for attr, cls in lowered:
        # (by attribute: a class name says its model's name, GraniteMoeShared's experts too)
        if any(attr == s or attr.startswith(s + "_") for s in SHARED_EXPERTS):
            return False
    return any(("expert" in attr and "shared" not in attr) or "expert" in cls
               for attr, cls in lowered[:-1])


def _is_router(lowered: list[tuple[str, str]]) -> bool:
    """Owned by a router, or by a router's own layer (JetMoE's router.layer)."""
    modules = lowered[:-1]
    return any(attr in ROUTERS or "router" in cls or "gating" in cls
               or "gate" in cls and "expert" not in cls for attr, cls in modules[-2:])


def _role(chain: list[tuple[str, str]], is_unembedding: bool, layer: int | None) -> Role | None:
    lowered = [(a.lower(), c.lower()) for a, c in chain]
    modules = lowered[:-1]
    leaf = lowered[-1][0]
    owner, owner_class = modules[-1] if modules else ("", "")
    if is_unembedding or (layer is None and owner in ("lm_head", "embed_out", "output")):
        return Role.UNEMBEDDING
    heads = layer is None and any(a in HEAD_MODULES for a, _ in modules[:-1])
    if "norm" in owner_class or "norm" in owner or owner.startswith("ln") or "norm" in leaf \
            or "layernorm" in owner_class:
        return Role.NORM
    if layer is None and any("pooler" in a for a, _ in modules):
        return Role.POOLER
    if layer is None and any("patch_embed" in a for a, _ in modules):
        return Role.EMBEDDING  # (a vision tower's patch projection embeds the patches)
    if heads:  # the task head's own layers before the unembedding (RoBERTa's lm_head.dense)
        return Role.HEAD
    if "embedding" in owner_class or owner_class == "embedding":  # (ViT's own position table)
        return _embedding_role(owner if leaf in ("weight", "bias") else leaf)
    if any("position_embeddings" in a or "positionembeddings" in c for a, c in modules):
        return Role.POSITION  # (Reformer's axial position embeddings: a list of tables)
    if _is_router(lowered) and any("expert" in a or "moe" in a or "moe" in c or "sparse" in c
                                   or "expert" in c or "router" in c or "mlp" in a
                                   for a, c in modules):
        return Role.ROUTER
    if leaf in ("sinks", "sink") or owner in ("sinks",):
        return Role.OUTPUT
    contexts = _contexts(modules, direct=leaf not in ("weight", "bias"))
    if layer is None and (owner in EMBEDDING_EXTRAS or leaf in EMBEDDING_EXTRAS):
        return Role.EMBEDDING
    if owner in PER_LAYER_INPUT and layer is not None:
        return PER_LAYER_INPUT[owner]
    if leaf in ("expert_bias", "e_score_correction_bias"):  # (AFMoE's, a parameter there)
        return Role.ROUTER
    if layer is None and owner in HEAD_EXTRAS:
        return Role.HEAD
    if layer is None and leaf in NORM_EXTRAS:
        return Role.NORM
    if leaf == "bias" and not any(c in owner_class for c in ("linear", "conv", "embedding")):
        found = _block_bias(owner, owner_class, contexts)  # a block's own output bias
        if found is not None:
            return found
    if owner == "dense" and len(modules) > 1 and modules[-2][0] == "output" and \
            "selfoutput" not in modules[-2][1] and "attention" not in contexts:
        return Role.DOWN  # BERT's BertOutput: the MLP's second projection
    if contexts and contexts[0] == "mixer":
        return Role.OUTPUT if owner in ("out_proj", "o_proj", "output") else Role.MIXER
    if contexts and contexts[0] == "attention":
        found = ATTENTION_LEAVES.get(owner) or ATTENTION_LEAVES.get(leaf) \
            or ATTENTION_LEAVES.get(leaf.removesuffix("_bias")) \
            or ATTENTION_LEAVES.get(_wrapped(modules))
        return found if found is not None else _mixer_or_none(owner, leaf)
    if contexts and contexts[0] == "mlp":
        found = MLP_LEAVES.get(owner) or MLP_LEAVES.get(leaf.removesuffix("_bias")) \
            or _sequential(modules) \
            or MLP_LEAVES.get(_wrapped(modules))
        if found is not None:
            return found
    if layer is None and owner in ("cls", "predictions", "transform", "head", "pooler"):
        return Role.POOLER if owner == "pooler" else Role.HEAD
    if "pooler" in owner or "pooler" in owner_class:
        return Role.POOLER
    if any(a in ("transform", "predictions", "cls") for a, _ in modules):
        return Role.HEAD
    generic = LEAF_ROLES.get(owner)
    if generic in (Role.EMBEDDING, Role.POSITION, Role.TOKEN_TYPE, Role.UNEMBEDDING) \
            and layer is not None:
        generic = None
    return generic


def _contexts(modules: list[tuple[str, str]], direct: bool = False) -> list[str]:
    """What the enclosing modules are, innermost first: attention, mixer, mlp. `direct`: the
    tensor is the owning module's own (XLNet's rel_attn.q), so the owner is a context too."""
    found = []
    owner_class = modules[-1][1] if modules else ""
    if any(m in owner_class for m in MIXERS if m != "conv"):
        found.append("mixer")  # a mixer's own parameters (Mamba's A_log, D, dt_bias)
    for attr, cls in reversed(modules if direct else modules[:-1] or modules):
        if any(m in attr or m in cls for m in MIXERS) and "attention" not in cls.replace(
                "linearattention", "").replace("linear_attn", "").replace("deltaattention", ""):
            found.append("mixer")
        elif any(m in attr or m in cls for m in ATTENTION):
            found.append("attention")
        elif any(m == attr or attr.startswith(m) or m in cls for m in MLP) or "expert" in attr \
                or "expert" in cls:
            found.append("mlp")
    return found


def _wrapped(modules: list[tuple[str, str]]) -> str:
    """The attribute of a module that wraps a plain layer (Moshi's q_proj.linear)."""
    return modules[-2][0] if len(modules) > 1 and modules[-1][0] in WRAPPED else ""


def _sequential(modules: list[tuple[str, str]]) -> Role | None:
    """A numbered layer of an MLP built as a Sequential (CTRL's ffn.0, ffn.2): its first
    layer goes up, a later one down."""
    if len(modules) > 1 and modules[-1][0].isdigit() and modules[-2][1] == "sequential":
        return Role.UP if modules[-1][0] == "0" else Role.DOWN
    return None


def _block_bias(owner: str, owner_class: str, contexts: list[str]) -> Role | None:
    """A bias a block adds after its projections (JetMoE's MoE and mixture of attention):
    attention's output bias, an MLP's down-projection bias."""
    if contexts[:1] == ["attention"] or any(m in owner or m in owner_class for m in ATTENTION):
        return Role.OUTPUT
    if any(m == owner or m in owner_class for m in MLP) or "expert" in owner:
        return Role.DOWN
    return None


def _mixer_or_none(owner: str, leaf: str) -> Role | None:
    """Inside attention, what no projection name says: a convolution, a decay, a gate of a
    linear attention (the mixer's own), else nothing guessed."""
    if any(m in owner or m in leaf for m in ("conv", "a_log", "dt_", "decay", "beta", "g_proj",
                                             "b_proj", "f_proj", "gate", "slope", "ba",
                                             "receptance")):
        return Role.MIXER
    if leaf in ("d", "a_log", "dt_bias"):
        return Role.MIXER
    return None


def _embedding_role(owner: str) -> Role:
    if "position" in owner or owner in ("wpe", "pos_emb", "embed_positions") \
            or "relative_attention" in owner:  # (T5's relative_attention_bias: positions)
        return Role.POSITION
    if "token_type" in owner or "segment" in owner:
        return Role.TOKEN_TYPE
    return Role.EMBEDDING
