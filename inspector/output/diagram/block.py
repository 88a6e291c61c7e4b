"""The right column: one block in detail, its sublayers (attention, latent attention,
cross-attention, the MLP or mixture of experts) around the residual stream."""

from __future__ import annotations

from inspector.output.diagram.by_role import MIXER_TITLES
from inspector.output.diagram.canvas import Canvas, grid_row, row_of_boxes
from inspector.output.diagram.model import ATTENTION, CROSS, Drawing
from inspector.output.diagram.text import block_kind, scores_text


def draw_block(c: Canvas, d: Drawing, x: float, w: float, y: float) -> float:
    """Right column: one block as its spec has it, with the residual stream at its left."""
    m = d.model
    lane = x + 14  # the residual stream
    inner, iw = x + 40, w - 40
    times_n = (f"one block: encoder × {m.n_layers:,}, decoder × {m.n_decoder_layers:,}"
               if m.n_decoder_layers else f"one block, × {m.n_layers:,}")
    c.text(x, y, f"{times_n} ({block_kind(m)})", "title")
    top = y + 14
    y = top + 10
    if m.residual == "parallel":
        y = sublayer_norms(c, d, ["layers.{i}.attn_norm", "layers.{i}.mlp_norm"], inner, iw, y)
        y = draw_attention(c, d, inner, iw, y)
        c.text(inner, y + 14, "in parallel, from the same input:")
        y = draw_mlp(c, d, inner, iw, y + 22)
        c.residual_add(lane, y + 16, "x + attention(norm(x)) + MLP(norm(x))")
        y += 34
    else:
        for sub, draw in (("mixer", draw_mixers), ("attn", draw_attention),
                          ("cross_attn", draw_cross_attention), ("mlp", draw_mlp)):
            cross = sub == "cross_attn"
            if not has_sublayer(d, sub):
                continue
            norm, post = f"layers.{{i}}.{sub}_norm", f"layers.{{i}}.{sub}_post_norm"
            before = m.norm_placement in ("pre", "sandwich")
            start = y
            at, aw, y = (inner + 10, iw - 20, y + 26) if cross else (inner, iw, y)
            if before:
                y = sublayer_norms(c, d, [norm], at, aw, y)
            y = draw(c, d, at, aw, y)
            y = sublayer_norms(c, d, [post], at, aw, y)
            if cross:  # framed apart: the encoder's blocks have no such sublayer
                c.frame(inner, start, iw, y - start, f"decoder blocks only (× {decoders(d):,}):"
                        " attending to the encoder's output", dashed=True)
                y += 6
            c.residual_add(lane, y + 16, "residual add")
            y += 34
            if m.norm_placement == "post":
                y = sublayer_norms(c, d, [norm], inner, iw, y)
    c.add(f'<path class="arrow" d="M{lane:.0f},{top:.0f} L{lane:.0f},{y:.0f}"/>', y)
    c.text(lane + 4, top + 10, "residual stream")
    return y


def has_sublayer(d: Drawing, sub: str) -> bool:
    """Whether the blocks have this sublayer: attention unless only mixers are found (Mamba),
    a mixer or cross-attention where their boxes are."""
    keys = [key.removeprefix("layers.{i}.") for key in d.boxes if key.startswith("layers.")]
    mixers = any(key.split(".")[0] in MIXER_TITLES for key in keys)
    if sub == "mixer":
        return mixers
    if sub == "attn":
        return not mixers or any(key.startswith(("attn.", "attn_")) for key in keys)
    if sub == "cross_attn":
        return any(key.startswith(CROSS) for key in d.boxes)
    return True


def draw_mixers(c: Canvas, d: Drawing, x: float, w: float, y: float) -> float:
    """A token mixer other than attention (a state-space layer, linear attention, a short
    convolution): its own tensors in one box, its norms and its output projection beside."""
    for kind, title in MIXER_TITLES.items():
        key = f"layers.{{i}}.{kind}"
        if key not in d.boxes:
            continue
        top = y
        parts = [k for k in d.boxes if k.startswith(key + ".")
                 and k not in (f"{key}.norm", f"{key}.output")]
        y = row_of_boxes(c, d, [key, f"{key}.norm", *parts], x + 10, y + 26, w - 20)
        y = row_of_boxes(c, d, [f"{key}.output"], x + 10, y + 8, w - 20)
        layers = {layer for layer, _ in d.boxes[key].instances}
        some = f" (in {len(layers):,} of {d.model.n_layers:,} layers)" \
            if d.model.n_layers and len(layers) < d.model.n_layers else ""
        c.frame(x, top, w, y - top + 10, f"{title}{some}")
        y += 20
    return y


def sublayer_norms(c: Canvas, d: Drawing, keys: list[str], x: float, w: float, y: float) -> float:
    if not any(k in d.boxes for k in keys):
        return y
    y = row_of_boxes(c, d, keys, x, y, min(w, 230 * len(keys)))
    c.arrow(x + 40, y, x + 40, y + 14)
    return y + 14


def decoders(d: Drawing) -> int:
    """The decoder blocks: the spec's, else the layers with cross-attention."""
    return d.model.n_decoder_layers or len(d.boxes[f"{CROSS}query"].instances)


def draw_cross_attention(c: Canvas, d: Drawing, x: float, w: float, y: float) -> float:
    return draw_attention(c, d, x, w, y, "cross_attn")


def draw_attention(c: Canvas, d: Drawing, x: float, w: float, y: float,
                   sub: str = "attn") -> float:
    """Self-attention (or a decoder block's cross-attention): Q, K, V, what else enters the
    scores (T5's position biases, gpt-oss's sinks), the output projection."""
    m = d.model
    top = y
    a = f"layers.{{i}}.{sub}."
    latent = f"{a}kv_down" in d.boxes
    if latent:
        y = draw_latent(c, d, x + 10, w - 20, y + 26)
    else:
        y = row_of_boxes(c, d, [f"{a}{k.removeprefix('attn.')}" for k in ATTENTION], x + 10,
                         y + 26, w - 20)
        y = row_of_boxes(c, d, [f"{a}q_norm", f"{a}k_norm"], x + 10,
                         y + 8, w - 20) if f"{a}q_norm" in d.boxes else y
    terms = [f"{a}{t}" for t in ("rel_bias", "sinks") if f"{a}{t}" in d.boxes]
    y = row_of_boxes(c, d, terms, x + 10, y + 8, (w - 20) / 2) if terms else y
    c.op(x + 10, y + 8, w - 20, scores_text(m, f"{a}rel_bias" in d.boxes, f"{a}sinks" in d.boxes))
    y = row_of_boxes(c, d, [f"{a}output"], x + 10, y + 46, w - 20)
    if sub == "cross_attn":
        label = "cross-attention: Q from the block, K and V from the encoder's output"
    else:
        kinds = sorted(set(m.attention_pattern))
        label = ("multi-head latent attention: keys and values from one cached latent" if latent
                 else "self-attention (causal in the decoder)" if m.n_decoder_layers
                 else "attention") + (f" ({', '.join(kinds)} by layer)" if len(kinds) > 1 else "")
    c.frame(x, top, w, y - top + 10, label)
    return y + 20


def draw_latent(c: Canvas, d: Drawing, x: float, w: float, y: float) -> float:
    """Multi-head latent attention (DeepSeek-V2 section 2.1): queries (left) and keys and
    values (right) each go down to a normed latent and back up to the heads; the key's rotated
    part comes straight from the KV down-projection, one for all heads."""
    a = "layers.{i}.attn."
    query = f"{a}q_down" if f"{a}q_down" in d.boxes else f"{a}query"
    down, (q_at, kv_at) = grid_row(c, d, [query, f"{a}kv_down"], x, y, w)
    bottom = down
    if f"{a}q_down_norm" in d.boxes or f"{a}kv_down_norm" in d.boxes:
        for at in (q_at, kv_at) if query.endswith("q_down") else (kv_at,):
            c.arrow(at, bottom, at, bottom + 14)
        bottom, _ = grid_row(c, d, [f"{a}q_down_norm", f"{a}kv_down_norm"], x, bottom + 14, w)
    q_up = f"{a}q_up" if f"{a}q_up" in d.boxes else None
    y, up_at = grid_row(c, d, [q_up, f"{a}key_up", f"{a}value_up"], x, bottom + 14, w)
    for start, end in ([(q_at, up_at[0])] if q_up else []) + [(kv_at, up_at[1]),
                                                              (kv_at, up_at[2])]:
        c.arrow(start, bottom, end, bottom + 14)
    if not q_up:  # one query projection: its queries go straight to the heads
        c.arrow(q_at, down, q_at, y + 8)
    lat = d.model.latent
    if lat is not None:  # (a checkpoint without config.json: no widths to say)
        c.op(x, y + 8, w, f"per head: Q = [nope {lat.nope:,} | rotary rope {lat.rope:,}],"
                          f" K = [nope {lat.nope:,} | rotary rope {lat.rope:,}, shared]")
        y += 38
    return y


def draw_mlp(c: Canvas, d: Drawing, x: float, w: float, y: float) -> float:
    m = d.model
    act = m.activation or "activation"
    if "layers.{i}.mlp.up" in d.boxes:
        top = y
        y = row_of_boxes(c, d, ["layers.{i}.mlp.gate", "layers.{i}.mlp.up"], x + 10, y + 26,
                         w - 20)
        c.op(x + 10, y + 8, w - 20, f"{act}(gate) × up" if m.gated_mlp else act)
        y = row_of_boxes(c, d, ["layers.{i}.mlp.down"], x + 10, y + 46, w - 20)
        which = " (dense layers)" if m.n_experts else ""
        c.frame(x, top, w, y - top + 10, f"MLP{which}")
        y += 20
    if "layers.{i}.mlp.router" in d.boxes:
        top = y
        y = row_of_boxes(c, d, ["layers.{i}.mlp.router"], x + 10, y + 26, (w - 20) / 2)
        k = m.experts_per_token or "k"
        norm = ", weights renormalised" if m.norm_topk_prob else ""
        c.op(x + 10, y + 8, w - 20, f"top {k} of {m.n_experts} experts per token{norm}")
        y = row_of_boxes(c, d, [f"layers.{{i}}.mlp.experts.{{e}}.{p}"
                                for p in ("gate", "up", "down")], x + 10, y + 46, w - 20)
        if "layers.{i}.mlp.shared.up" in d.boxes:
            c.text(x + 10, y + 16, "shared experts: every token passes through them")
            y = row_of_boxes(c, d, [f"layers.{{i}}.mlp.shared.{p}"
                                    for p in ("gate", "up", "down")], x + 10, y + 24, w - 20)
            y = row_of_boxes(c, d, ["layers.{i}.mlp.shared_gate"], x + 10, y + 8, (w - 20) / 2)
        c.frame(x, top, w, y - top + 10, f"mixture of experts: {k} of {m.n_experts}")
        y += 20
    return y
