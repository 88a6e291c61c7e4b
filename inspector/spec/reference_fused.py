"""Where the forward of a module transformers built cuts one stored tensor into several: a fused
query/key/value projection into queries, keys and values (sizes from the attention module's own
head counts, else its config), a fused gate/up projection into its two halves (chunk(2)).

A cut is described as {"axis", "sizes", "roles"} on the stored tensor's axes; inspector.spec.
reference gives each part a row of its own, so that tables add up the parts by role.
"""

from __future__ import annotations

from inspector.vocab.roles import Role

# The owning module's attribute of a fused projection (lower case).
FUSED_QKV = ("qkv_proj", "query_key_value", "c_attn", "wqkv", "qkv", "w_qkv", "qkv_lin",
             "in_proj_qkv", "qkv_linear")
FUSED_KV = ("kv_proj", "wkv_fused", "key_value")
FUSED_GATE_UP = ("gate_up_proj", "input_linear", "w12", "gate_up", "fc1_gate_up")
# An MLP's first projection that is gated where it is twice intermediate_size wide (ModernBERT's
# Wi, chunk(2): activated, then multiplied), not where it is intermediate_size (T5's wi).
GATED_IF_DOUBLE = ("wi",)
# A tensor an attention module holds itself (torch's MultiheadAttention).
FUSED_QKV_LEAVES = ("in_proj_weight", "in_proj")  # (in_proj_bias: "_bias" taken off)

HEADS = ("num_heads", "num_attention_heads", "n_heads", "n_head")
KV_HEADS = ("num_key_value_heads", "num_kv_heads", "n_kv_heads", "multi_query_group_num",
            "num_key_value_groups_count")


def fused_cut(model, stored: str, chain: list[tuple[str, str]], shape: tuple[int, ...],
              role: str | None, stacked: bool) -> dict | None:
    """The cut of one stored tensor (`chain`: its in-memory owners), or None when it is not
    fused as stored or its parts do not add up. `stacked`: its first axis is the experts'."""
    owner_class = chain[-2][1].lower() if len(chain) > 1 else ""
    names = stored.lower().split(".")
    owner, leaf = (names[-2] if len(names) > 1 else ""), names[-1].removesuffix("_bias")
    source = ".".join(attr for attr, _ in chain)
    if owner == "kv_b_proj":  # latent attention's keys (the part without rope) and values
        return _latent_cut(model, shape, stacked)
    if role == Role.QUERY.value and (owner in FUSED_QKV or leaf in FUSED_QKV_LEAVES):
        roles = (Role.QUERY, Role.KEY, Role.VALUE)
    elif role in (Role.QUERY.value, Role.KEY.value) and owner in FUSED_KV:
        roles = (Role.KEY, Role.VALUE)
    elif role == Role.GATE.value and (owner in FUSED_GATE_UP or leaf in FUSED_GATE_UP) or \
            owner in GATED_IF_DOUBLE and _double(model, shape, stacked):
        roles = (Role.GATE, Role.UP)
    else:
        return None
    axis = _fused_axis(model, shape, owner_class, leaf, stacked)
    if axis is None:
        return None
    size = shape[axis]
    if len(roles) == 3:
        sizes = _qkv_sizes(model, source, size)
    else:
        sizes = [size // 2, size // 2] if size % 2 == 0 else None
    if sizes is None or sum(sizes) != size or min(sizes) <= 0:
        return None
    return {"axis": axis, "sizes": sizes, "roles": [r.value for r in roles]}


def _fused_axis(model, shape: tuple[int, ...], owner_class: str, leaf: str,
                stacked: bool) -> int | None:
    """The axis the parts lie along: the output axis (first of a Linear's weight, last of
    transformers' Conv1D and of experts stored (in, out)), after the experts' axis."""
    first = 1 if stacked else 0
    dims = shape[first:]
    if len(dims) == 1:
        return first
    if len(dims) != 2:
        return None
    if owner_class == "conv1d":  # GPT-2's Conv1D: (in, out)
        return first + 1
    hidden = _config_value(model.config, ("hidden_size", "n_embd", "d_model", "dim"))
    if stacked and hidden is not None and dims[0] == hidden and dims[1] != hidden:
        return first + 1  # experts stored (in, out): Llama 4's gate_up_proj
    return first


def _double(model, shape: tuple[int, ...], stacked: bool) -> bool:
    intermediate = _config_value(model.config, ("intermediate_size",))
    first = 1 if stacked else 0
    return bool(intermediate) and len(shape) > first and shape[first] == 2 * intermediate


def _latent_cut(model, shape: tuple[int, ...], stacked: bool) -> dict | None:
    """kv_b_proj of multi-head latent attention: per head, qk_nope_head_dim rows of keys and
    v_head_dim rows of values; summed over the heads."""
    config = model.config
    heads = _config_value(config, HEADS)
    nope = _config_value(config, ("qk_nope_head_dim",))
    value = _config_value(config, ("v_head_dim",))
    axis = 1 if stacked else 0
    if not (heads and nope and value) or len(shape) <= axis or \
            shape[axis] != heads * (nope + value):
        return None
    return {"axis": axis, "sizes": [heads * nope, heads * value],
            "roles": [Role.KEY.value, Role.VALUE.value]}


def _qkv_sizes(model, source: str, size: int) -> list[int] | None:
    """[queries, keys, values] of a fused projection `size` wide: the queries are heads x
    head_dim of the attention module (else its config); keys and values share the rest."""
    module = _attention_module(model, source)
    config = model.config
    heads = _first(module, HEADS) or _config_value(config, HEADS)
    head_dim = _first(module, ("head_dim", "head_size", "attention_head_size")) or \
        _config_value(config, ("head_dim",))
    hidden = _config_value(config, ("hidden_size", "n_embd", "d_model", "dim"))
    if head_dim is None and heads and hidden:
        head_dim = hidden // heads
    if heads and head_dim:
        rest = size - heads * head_dim
        if rest > 0 and rest % 2 == 0:
            return [heads * head_dim, rest // 2, rest // 2]
    return [size // 3] * 3 if size % 3 == 0 else None


def _attention_module(model, source: str):
    """The module that owns the fused projection's module (its attention), else None."""
    parts = source.split(".")
    for end in (len(parts) - 2, len(parts) - 1):
        try:
            module = model.get_submodule(".".join(parts[:end]))
        except AttributeError:
            continue
        if _first(module, HEADS):
            return module
    return None


def _first(holder, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = getattr(holder, key, None) if holder is not None else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _config_value(config, keys: tuple[str, ...]) -> int | None:
    """A size from the config, else from its text config."""
    getter = getattr(config, "get_text_config", None)
    text = getter() if callable(getter) else None
    return _first(config, keys) or _first(text, keys)
