"""The picture: the pipeline on the left (inputs, the stack of blocks, the head), one block
in detail on the right, the other components and the buffers below; its CSS."""

from __future__ import annotations

from inspector.output.diagram.block import draw_block
from inspector.output.diagram.canvas import LINE, Canvas, row_of_boxes, text_lines
from inspector.output.diagram.model import COMPONENT, INPUTS, OUTPUTS, Drawing
from inspector.output.diagram.text import LEGEND_CHARS, pattern_text, share, wrap
from inspector.output.markup import xml_text
from inspector.vocab.rows import UNMAPPED
from inspector.vocab.tables import component_sort_key

# Every rule scoped to the picture: in a notebook it sits among other HTML.
CSS = """
svg.inspector-diagram { font: 12px system-ui, sans-serif; }
svg.inspector-diagram .box rect { fill: #eef4fb; stroke: #2b5d8a; stroke-width: 1.2; }
svg.inspector-diagram .box.norm rect { fill: #f4f4f4; stroke: #666; }
svg.inspector-diagram .box.tied rect { fill: #fff; stroke-dasharray: 5 3; }
svg.inspector-diagram .box.mismatch rect { fill: #fde8e8; stroke: #b00020; stroke-width: 2.5; }
svg.inspector-diagram .title { font-weight: 600; }
svg.inspector-diagram .op rect { fill: #fff; stroke: #999; stroke-dasharray: 2 2; }
svg.inspector-diagram .buffer rect { fill: #fafafa; stroke: #999; stroke-dasharray: 6 3; }
svg.inspector-diagram .frame > rect { fill: none; stroke: #999; }
svg.inspector-diagram .frame > text { font-weight: 600; fill: #444; }
svg.inspector-diagram .cell.dense { fill: #2b5d8a; }
svg.inspector-diagram .cell.local { fill: #9cc3e6; }
svg.inspector-diagram .cell.unknown { fill: #bbb; }
svg.inspector-diagram .cell.moe { stroke: #b35900; stroke-width: 1.5; }
svg.inspector-diagram .arrow { stroke: #333; stroke-width: 1.2; fill: none;
                               marker-end: url(#head); }
svg.inspector-diagram .tie { stroke: #b35900; stroke-dasharray: 6 3; stroke-width: 1.5;
                             fill: none; marker-end: url(#head); }
svg.inspector-diagram .add circle { fill: #fff; stroke: #333; }
svg.inspector-diagram text.note { fill: #444; }
"""


def draw_pipeline(c: Canvas, d: Drawing, x: float, w: float, y: float) -> float:
    """Left column: tokens, embeddings, the stack, the head, softmax, top-k."""
    mid = x + w / 2
    c.op(x, y, w, f"input image, in {d.model.patch_size} × {d.model.patch_size} patches"
         if d.model.patch_size else "input tokens (ids)")
    y += 30
    c.arrow(mid, y, mid, y + 22)
    embed_y = y + 22
    for i, key in enumerate(k for k in INPUTS if k in d.boxes):  # one a row: readable widths
        if i:
            c.text(mid, y + 15, "+", "title", "middle")
        y = row_of_boxes(c, d, [key], x, y + 22 if i else embed_y, w)
    if "pos" not in d.boxes and d.model.position:
        where = "learned biases, right" if "layers.{i}.attn.rel_bias" in d.boxes else "no table"
        c.text(x, y + 14, f"positions: {d.model.position} ({where})")
        y += 18
    if "embed_norm" in d.boxes:
        c.arrow(mid, y, mid, y + 22)
        y = row_of_boxes(c, d, ["embed_norm"], x, y + 22, w)
    c.arrow(mid, y, mid, y + 22)
    if d.model.n_decoder_layers:
        y = draw_stacks(c, d, x, y + 22, w)
    else:
        y = draw_stack(c, d, x, y + 22, w)
    head = [k for k in OUTPUTS if k in d.boxes
            and not (k == "encoder_norm" and d.model.n_decoder_layers)]  # (drawn by its stack)
    for key in head:
        c.arrow(mid, y, mid, y + 22)
        top = y + 22
        y = row_of_boxes(c, d, [key], x, top, w)
        if key == "unembed" and d.boxes[key].tied_to:  # the tie: back up to the embedding
            c.add(f'<path class="tie" d="M{x:.0f},{top + 30:.0f} C{x - 14:.0f},{top + 30:.0f}'
                  f' {x - 14:.0f},{embed_y + 30:.0f} {x - 2:.0f},{embed_y + 30:.0f}"/>', y)
            c.text(x + w + 6, top + 44, "tied", "note")
    if "unembed" in d.boxes:
        for step in ("softmax over the vocabulary", "top-k: the next token's candidates"):
            c.arrow(mid, y, mid, y + 22)
            c.op(x, y + 22, w, step)
            y += 52
    return y


def draw_stacks(c: Canvas, d: Drawing, x: float, y: float, w: float) -> float:
    """An encoder-decoder's two stacks: the encoder's blocks and its final norm, whose output
    every decoder block's cross-attention reads as keys and values; the decoder's blocks, on
    the tokens so far embedded by the same table."""
    m, mid = d.model, x + w / 2
    y = draw_stack(c, d, x, y, w, "encoder", range(m.n_layers))
    if "encoder_norm" in d.boxes:
        c.arrow(mid, y, mid, y + 22)
        y = row_of_boxes(c, d, ["encoder_norm"], x, y + 22, w)
    c.arrow(mid, y, mid, y + 22)
    c.op(x, y + 22, w, "its output: K, V of each cross-attention")
    c.arrow(mid, y + 52, mid, y + 74)
    return draw_stack(c, d, x, y + 74, w, "decoder",
                      range(m.n_layers, m.n_layers + m.n_decoder_layers))


def draw_stack(c: Canvas, d: Drawing, x: float, y: float, w: float, part: str = "",
               layers: range | None = None) -> float:
    """The blocks (an encoder-decoder's `part`, its `layers`): one cell per layer, dense/local
    and MoE said in text as well as drawn."""
    m = d.model
    layers = layers if layers is not None else range(m.n_layers)
    n = len(layers)
    if part:
        block_params = sum(b.by_layer.get(i, 0) for b in d.boxes.values() for i in layers)
        lines = [f"{part}: {n:,} blocks (one drawn in detail, right)"]
        lines += ["its input: the tokens so far, same embedding"] if part == "decoder" else []
    else:
        block_params = sum(b.counted for b in d.boxes.values() if b.key.startswith("layers."))
        lines = [f"{n:,} blocks (one drawn in detail, right)"]
    lines += [f"{block_params:,} ({share(block_params, d.total)})", pattern_text(m)]
    if m.n_experts:
        dense = ", ".join(map(str, m.dense_layers))
        lines.append(f"MoE in every layer{f' but {dense} (dense MLP)' if dense else ''}")
    cell_y = y + 12 + LINE * len(lines)
    cells = []
    cw = (w - 16) / max(n, 1)
    for i, layer in enumerate(layers):
        kind = m.layer_kind(i)
        moe = " moe" if m.is_moe(layer) else ""
        cells.append(f'<rect class="cell {kind}{moe}" x="{x + 8 + i * cw:.2f}" y="{cell_y}"'
                     f' width="{max(cw - 1, 0.6):.2f}" height="16"><title>layer {layer}: {kind}'
                     f' attention{", MoE" if moe else ""}</title></rect>')
    body = text_lines(x + 8, y + 18, lines)
    # "attention" named: "dense" alone would read as the dense MLP of a mixture of experts
    pattern = m.attention_pattern
    keys = ["attention " + ", ".join(f"{k}: {'dark' if k == 'dense' else 'light'}"
                                     for k in dict.fromkeys(pattern))] if pattern else []
    keys += [] if pattern else ["grey: not known"]
    keys += ["MoE: outlined"] if m.n_experts else []
    legend_lines = wrap([f"layers {layers.start} to {layers.stop - 1}", *keys], LEGEND_CHARS)
    legend = "".join(f'<text x="{x + 8:.0f}" y="{cell_y + 30 + LINE * i:.0f}" class="note">'
                     f"{xml_text(line)}</text>" for i, line in enumerate(legend_lines))
    h = cell_y - y + 34 + LINE * (len(legend_lines) - 1)
    which = f' data-part="{part}"' if part else ""
    c.add(f'<g class="stack" role="img" aria-label="{xml_text("; ".join(lines))}"{which}'
          f' data-layers="{n}" data-params="{block_params}"><rect x="{x:.0f}" y="{y:.0f}"'
          f' width="{w:.0f}" height="{h:.0f}" rx="6" fill="#fff" stroke="#2b5d8a"'
          f' stroke-width="2"/>{body}{"".join(cells)}{legend}</g>', y + h)
    return y + h


def draw_apart(c: Canvas, d: Drawing, x: float, w: float, y: float) -> float:
    """Other components, unmapped tensors and buffers, below everything: not part of the
    flow."""
    apart = sorted((key for key in d.boxes if key.startswith(COMPONENT)),
                   key=lambda key: component_sort_key(key.removeprefix(COMPONENT)))
    if apart:
        c.text(x, y + 18, "beside the language model (in the checkpoint, not in the flow"
                          " above):", "title")
        y = row_of_boxes(c, d, apart, x, y + 26, w) + 10
    y = row_of_boxes(c, d, [UNMAPPED], x, y, w) if UNMAPPED in d.boxes else y
    others = [key for key in d.boxes if key not in c.drawn and key != UNMAPPED]
    if others:  # modules the flow has no place for (a stored name no family gives): still
        c.text(x, y + 18, "other modules:", "title")  # drawn, so the boxes add up to the total
        for start in range(0, len(others), 4):
            y = row_of_boxes(c, d, others[start:start + 4], x, y + 26, w) + 4
    if not d.buffers:
        return y
    c.text(x, y + 18, "buffers (stored, not parameters):", "title")
    y += 26
    for name, n, values in d.buffers:
        label = f"{name}: {n:,} tensor{'s' if n > 1 else ''}, {values:,} values"
        c.add(f'<g class="buffer" data-buffer="{xml_text(name)}" data-values="{values}">'
              f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="24" rx="4"/>'
              f'<text x="{x + 8:.0f}" y="{y + 16:.0f}">{xml_text(label)}</text></g>', y + 24)
        y += 30
    return y


def svg(d: Drawing, title: str) -> str:
    """The picture: the pipeline on the left, one block in detail on the right."""
    c = Canvas()
    left_x, left_w, right_x, right_w = 30, 330, 400, 720
    c.text(left_x, 24, title, "title")
    y_left = draw_pipeline(c, d, left_x, left_w, 44)
    y_right = draw_block(c, d, right_x, right_w, 44) if any(
        k.startswith("layers.") for k in d.boxes) else 44
    y = draw_apart(c, d, left_x, right_x + right_w - left_x, max(y_left, y_right) + 20)
    height = max(c.bottom, y) + 20
    width = right_x + right_w + 20
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="inspector-diagram"'
            f' viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img"'
            f' aria-label="{xml_text(title)}"><title>{xml_text(title)}</title>'
            f"<style>{CSS}</style><defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"9\""
            ' refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            '<path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>'
            + "".join(c.parts) + "</svg>")
