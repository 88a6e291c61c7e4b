"""The words of a diagram: what each box says (its heads, shape, counts and share), and the
stack's, the block's and attention's lines."""

from __future__ import annotations

from inspector.output.diagram.model import ATTENTION, COMPONENT, Box, Latent, Model


def share(part: int, whole: int) -> str:
    if not whole:
        return "-"
    value = 100 * part / whole
    return "<0.01%" if 0 < value < 0.01 else f"{value:.2f}%"


def shape_text(box: Box) -> str:
    if box.key.startswith(COMPONENT):  # a whole model part: its shapes say nothing in one line
        return f"{box.n_tensors:,} tensors"
    if len(box.shapes) != 1:
        return f"{len(box.shapes)} shapes" if box.shapes else "bias only"
    text = " × ".join(f"{d:,}" for d in box.shapes[0])
    return text + (" + bias" if box.bias else "")


def count_lines(box: Box, total_params: int) -> list[str]:
    """Its shape, its count per instance times instances, its total and share."""
    lines = [shape_text(box)]
    n = len(box.instances)
    if n > 1 and box.params % n == 0:
        lines += [f"{box.params // n:,} each", f"× {times(box)} ="]
    if box.tied_to:
        lines.append(f"{box.params:,}: tied to the {box.tied_to},")
        lines.append("not counted again")
    else:
        lines.append(f"{box.params:,} ({share(box.params, total_params)})")
    return lines


def times(box: Box) -> str:
    """How many of it: `32 layers`, or `8 experts × 32 layers`."""
    layers = {layer for layer, _ in box.instances}
    experts = {expert for _, expert in box.instances}
    if len(experts) > 1 and len(box.instances) == len(layers) * len(experts):
        return f"{len(experts):,} experts × {_layers(len(layers))}"
    return _layers(len(box.instances)) if None not in layers else f"{len(box.instances):,}"


def _layers(n: int) -> str:
    return f"{n:,} layer" + ("" if n == 1 else "s")


def head_lines(box: Box, model: Model) -> list[str]:
    """Q, K, V: heads and their width; K and V say the grouped-query groups (cross-attention's
    K and V where they come from). A sink or a position bias (learned terms of a head's scores
    rather than projections of the tokens): what it is per head."""
    if box.local == "attn.rel_bias" and len(box.shapes) == 1:
        buckets, heads = box.shapes[0]
        return [f"{buckets:,} distance buckets × {heads:,} heads,", "added to the scores of each",
                "block (held by a stack's first)"]
    if box.local == "attn.sinks":
        return ["one logit per head, in its softmax", "as a key whose value is 0"]
    if model.latent is not None:
        return latent_lines(box, model, model.latent) if model.n_heads else []
    local = box.local.removeprefix("cross_")
    if not model.n_heads or local not in ATTENTION:
        return []
    lines = qkv_lines(local, model)
    from_encoder = box.local in ("cross_attn.key", "cross_attn.value")
    return [*lines, "from the encoder's output"] if from_encoder else lines


def qkv_lines(local: str, model: Model) -> list[str]:
    d_head = f" of {model.d_head:,}" if model.d_head else ""
    each = ([f"each head {model.d_head:,} × {model.d_model:,}"]
            if model.d_head and model.d_model else [])
    kv = model.n_kv_heads or model.n_heads
    if local == "attn.query" or kv == model.n_heads:
        return [f"{model.n_heads:,} heads{d_head}", *each]
    return [f"{kv:,} kv heads{d_head}", *each, f"one per {model.n_heads // kv:,} Q heads (GQA)"]


def latent_lines(box: Box, m: Model, lat: Latent) -> list[str]:
    """Latent attention's boxes: what each maps from and to, and its per-head parts (short
    lines: the up-projections' boxes are a third of the block wide)."""
    h, d = f"{m.n_heads:,} heads", f"d {m.d_model:,}" if m.d_model else "d"
    q = f"Q: nope {lat.nope:,} + rope {lat.rope:,} a head"
    return {
        "attn.q_down": [f"{d} → latent {lat.q_rank or 0:,}"],
        "attn.q_up": [f"latent {lat.q_rank or 0:,} → {h}", q],
        "attn.query": [f"{d} → {h}", q],
        "attn.kv_down": [f"{d} → latent {lat.kv_rank:,} + rope {lat.rope:,}",
                         f"rope {lat.rope:,}: one key part all heads share"],
        "attn.kv_down_norm": [f"the latent only (rope {lat.rope:,} bypasses it)"],
        "attn.key_up": [f"latent {lat.kv_rank:,} → {h}",
                        f"K: nope {lat.nope:,} + shared rope {lat.rope:,}"],
        "attn.value_up": [f"latent {lat.kv_rank:,} → {h}", f"V: {lat.v:,} a head"],
        "attn.output": [f"{h} × V {lat.v:,} → {d}"],
    }.get(box.local, [])


def box_lines(box: Box, total_params: int, model: Model, wrong: dict[str, list[str]]) -> list[str]:
    """A box's text: its title, heads, counts, and what a check found wrong."""
    title = "patch embedding (convolution)" if box.key == "embed" and model.patch_size \
        else "decoder final norm" if box.key == "final_norm" and model.n_decoder_layers \
        else box.title
    return [title, *head_lines(box, model), *count_lines(box, total_params),
            *wrong.get(box.role, [])]


# What fits on one line of the stack's box (314 px of 12 px text, ~5.8 px a character in
# chromium's sans-serif): gpt-oss's legend of local, dense and MoE cells does not.
LEGEND_CHARS = 54


def wrap(parts: list[str], width: int) -> list[str]:
    """Parts joined by "; " into lines of at most width characters (a part longer stays whole)."""
    lines = [parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += f"; {part}"
        else:
            lines.append(part)
    return lines


def pattern_text(m: Model) -> str:
    """The layer pattern in words (short: it sits in the stack's box)."""
    if not m.attention_pattern:
        return "attention pattern: not known (no spec)"
    names = [f"local (window {m.local_window:,})" if k == "local" and m.local_window else k
             for k in m.attention_pattern]
    if len(names) == 1:
        return f"attention: {names[0]} in every layer"
    return f"attention: {' / '.join(names)}, {'alternating' if len(names) == 2 else 'repeated'}"


def block_kind(m: Model) -> str:
    placement = {"pre": "norm before each sublayer", "post": "norm after each residual add",
                 "sandwich": "norms before and after each sublayer",
                 "output": "norm on each sublayer's output"}[m.norm_placement]
    return (f"{m.residual}, {placement}" + (f", {m.norm}" if m.norm else "")
            + ("" if m.attention_pattern else "; no spec: as the tensor names suggest"))


def scores_text(m: Model, bias: bool, sinks: bool) -> str:
    """Attention's arithmetic: scores scaled as the spec says (1/sqrt(d_head) unless it says
    otherwise; T5 does not scale), a position bias, a sink in the softmax."""
    if m.attention_scale is None:
        scale = f" / √{m.d_head}" if m.d_head else " / √d_head"
    elif m.attention_scale == 1:
        scale = ""
    else:  # Gemma 2: query_pre_attn_scalar ** -0.5, not always d_head's
        inverse = m.attention_scale ** -2
        scale = f" / √{round(inverse):,}" if abs(inverse - round(inverse)) < 1e-6 \
            else f" × {m.attention_scale:.4g}"
    return (f"softmax(Q·Kᵀ{scale}{' + position bias' if bias else ''} + mask"
            f"{', sink' if sinks else ''}) · V, per head")
