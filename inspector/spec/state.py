"""The fixed state a layer without a KV cache holds per sequence, for a config the transformers
path reads: what transformers 5's cache keeps for it (a LinearAttentionLayer's conv_states and
recurrent_states), the same at any context.

- A causal convolution (Mamba, Mamba2, gated delta net, LFM2's short convolution) keeps the
  last K inputs of each of its C channels: C x K values, K the whole kernel as transformers holds
  it (read off the conv weight, stored [C, 1, K]).
- A Mamba (selective scan) layer keeps d_inner x d_state (its A_log is [d_inner, d_state]);
  a Mamba2 layer n_heads x head_dim x d_state (its A_log is [n_heads]).
- A gated delta net (Qwen3-Next) keeps value heads x key head dim x value head dim;
  MiniMax's lightning attention heads x head_dim x head_dim and no convolution.
"""

from __future__ import annotations

from math import prod

MIXER = "mixer"
# The config's words (layer_types) for a layer that holds a state and no keys or values.
STATE_LAYER_TYPES = ("linear_attention", "conv", "mamba", "ssm", "recurrent")
D_STATE_KEYS = ("mamba_d_state", "ssm_state_size", "state_size", "d_state")
MAMBA2_HEAD_KEYS = ("mamba_d_head", "mamba_head_dim", "mamba_headdim")


def _int(config: dict, keys: tuple) -> int | None:
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    return next((h[k] for h in (config, text) for k in keys
                 if isinstance(h.get(k), int) and not isinstance(h.get(k), bool)), None)


def _joined(*parts: str) -> str:
    return " + ".join(p for p in parts if p)


def state_layers(config: dict) -> frozenset:
    """The layers the config's layer_types names as holding a state and no keys or values."""
    types = config.get("layer_types")
    if not isinstance(types, list):
        return frozenset()
    return frozenset(i for i, t in enumerate(types) if isinstance(t, str) and t in STATE_LAYER_TYPES)


def shared_layers(config: dict, n_layers: int) -> frozenset:
    """The layers that read another layer's keys and values instead of caching their own, as
    transformers' kv_sharing_modes says "reuse": the last num_kv_shared_layers (Gemma 3n, Gemma
    4), or each layer whose kv_source_layers entry names another (Mistral Large 4, Kolibri)."""
    sources = _list(config, "kv_source_layers")
    if sources is not None:
        return frozenset(i for i, source in enumerate(sources) if source != i)
    shared = _int(config, ("num_kv_shared_layers",)) or 0
    return frozenset(range(max(n_layers - shared, 0), n_layers))


def _list(config: dict, key: str) -> list | None:
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    return next((h[key] for h in (config, text) if isinstance(h.get(key), list)), None)


def layer_state(config: dict, tensors: list[dict], layer: int, attends: bool) -> tuple | None:
    """(kind, conv values, recurrent values, how) of one layer's state; None when it holds none."""
    mixer = [t for t in tensors if t.get("role") == MIXER]
    conv = next((t["shape"] for t in mixer if len(t["shape"]) == 3 and t["shape"][1] == 1
                 and t["name"].endswith("weight")), None)
    a_log = next((t["shape"] for t in mixer if t["name"].endswith("A_log")), None)
    conv_values = prod(conv) if conv else 0
    conv_how = f"{conv[0]} conv channels x {conv[2]} kernel" if conv else ""
    d_state = _int(config, D_STATE_KEYS)
    if a_log is not None and len(a_log) == 2:  # Mamba: A is [d_inner, d_state]
        return ("state-space (Mamba)", conv_values, prod(a_log),
                _joined(conv_how, f"{a_log[0]} d_inner x {a_log[1]} d_state"))
    key_dim = _int(config, ("linear_key_head_dim",))
    if a_log is not None and key_dim:  # gated delta net: [value heads, key dim, value dim]
        heads, value_dim = a_log[0], _int(config, ("linear_value_head_dim",)) or 0
        return ("linear attention (gated delta net)", conv_values, heads * key_dim * value_dim,
                _joined(conv_how, f"{heads} value heads x {key_dim} key dim x {value_dim} value dim"))
    if a_log is not None and d_state:  # Mamba2: [n_heads, head_dim, d_state]
        heads = a_log[0]
        head_dim = _int(config, MAMBA2_HEAD_KEYS) or (_int(config, ("head_dim",)) if not attends
                                                      else None)
        if head_dim:
            return ("state-space (Mamba2)", conv_values, heads * head_dim * d_state,
                    _joined(conv_how, f"{heads} heads x {head_dim} head_dim x {d_state} d_state"))
    if conv and a_log is None and not attends:  # LFM2's gated short convolution
        return "short convolution", conv_values, 0, conv_how
    if layer in state_layers(config) and config.get("model_type") == "minimax":
        heads = _int(config, ("num_attention_heads",)) or 1
        head_dim = _int(config, ("head_dim",)) or (_int(config, ("hidden_size",)) or 0) // heads
        return ("linear attention (lightning)", 0, heads * head_dim * head_dim,
                f"{heads} heads x {head_dim} x {head_dim} head_dim")
    return None


def state_kinds(config: dict, description: dict, attention_layers) -> tuple:
    """The cache kinds (as inspector.spec.costs.cache_kinds gives them) of the layers that hold
    a fixed state: one per (kind, values a layer), with `how` a layer's values say."""
    by_layer: dict[int, list] = {}
    for t in description["tensors"]:
        if isinstance(t.get("layer"), int):
            by_layer.setdefault(t["layer"], []).append(t)
    grouped: dict[tuple, int] = {}
    for layer in sorted(by_layer):
        attends = attention_layers is None or layer in attention_layers
        found = layer_state(config, by_layer[layer], layer, attends)
        if found is not None:
            grouped[found] = grouped.get(found, 0) + 1
    return tuple({"kind": kind, "layers": n, "values_per_token": 0, "window": None,
                  "state_values": conv + recurrent, "conv_values": conv,
                  "recurrent_values": recurrent, "how": how}
                 for (kind, conv, recurrent, how), n in grouped.items())
