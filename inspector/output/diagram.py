"""The architecture, drawn with exact counts: a self-contained SVG (and an HTML page around it).

Drawn from rows, the same rows every table sums (inspector.vocab.tables), so each box's count is a sum
the `count` and `inspect` tables also give. Each module of a block is one box whatever the layer
(`layers.{i}.attn.query`: its per-layer shape and count, x layers, its total and share); routed
experts are one box per projection (`experts.{e}`); multi-head latent attention is drawn as its
path, down to the latents and up to the heads (draw_latent); an encoder-decoder is two stacks
and one block whose decoder-only cross-attention is framed apart; a checkpoint's other
components (a vision tower, a multi-token-prediction layer) are one box each, apart. Plain string building: no
torch, no numpy, no network (the page carries its own CSS and a Content-Security-Policy that
forbids fetching).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html import escape

from inspector.vocab import tables
from inspector.vocab.rows import BIAS, LANGUAGE_MODEL, UNMAPPED, Row
from inspector.spec.schema import Spec
from inspector.vocab.tables import component_sort_key, role_name, role_table, total

_LAYER = re.compile(r"(^|\.)layers\.\d+\.")
_EXPERT = re.compile(r"\.experts\.\d+\.")
_SUFFIX = re.compile(r"\.(weight|bias)$")

# Box titles of the canonical modules (inspector.vocab.canonical), read as a person would say them.
TITLES = {
    "embed": "token embedding", "cls": "[CLS] vector", "pos": "position embedding",
    "token_type": "token-type embedding", "embed_norm": "embedding norm",
    "attn_norm": "attention norm", "attn.query": "Q (query)", "attn.key": "K (key)",
    "attn.value": "V (value)", "attn.q_norm": "Q norm", "attn.k_norm": "K norm",
    "attn.output": "output projection", "attn_post_norm": "attention output norm",
    "attn.sinks": "attention sinks", "attn.rel_bias": "relative position bias",
    # an encoder-decoder's decoder blocks: queries from the block, keys and values from the
    # encoder's output
    "cross_attn_norm": "cross-attention norm", "cross_attn.query": "Q (query)",
    "cross_attn.key": "K (key)", "cross_attn.value": "V (value)",
    "cross_attn.output": "output projection", "encoder_norm": "encoder final norm",
    # multi-head latent attention (DeepSeek-V2 section 2.1): down to a latent, normed, back up
    "attn.q_down": "Q down-projection", "attn.q_down_norm": "Q latent norm",
    "attn.q_up": "Q up-projection", "attn.kv_down": "KV down-projection",
    "attn.kv_down_norm": "KV latent norm", "attn.key_up": "K up-projection",
    "attn.value_up": "V up-projection",
    "mlp_norm": "MLP norm", "mlp.gate": "gate", "mlp.up": "up", "mlp.down": "down",
    "mlp.router": "router", "mlp.experts.{e}.gate": "experts: gate",
    "mlp.experts.{e}.up": "experts: up", "mlp.experts.{e}.down": "experts: down",
    "mlp.shared.gate": "shared expert: gate", "mlp.shared.up": "shared expert: up",
    "mlp.shared.down": "shared expert: down", "mlp.shared_gate": "shared expert's gate",
    "mlp_post_norm": "MLP output norm", "final_norm": "final norm", "pooler": "pooler",
    "mlm_transform": "masked-LM transform", "mlm_norm": "masked-LM norm",
    "unembed": "unembedding", "nsp": "next-sentence head", UNMAPPED: "unmapped tensors",
}
# A checkpoint's parts beside the language model (inspector.vocab.rows: a vision tower, DeepSeek's
# multi-token-prediction layer), each drawn as one box apart from the flow.
COMPONENT = "component:"
TITLES.update({f"{COMPONENT}{name}": title for name, title in (
    ("vision", "vision tower"), ("projector", "projector"), ("audio", "speech encoder"),
    ("mtp", "multi-token prediction module (stored as the layer after the last)"))})
INPUTS = ("embed", "cls", "pos", "token_type")
OUTPUTS = ("encoder_norm", "final_norm", "pooler", "mlm_transform", "mlm_norm", "unembed", "nsp")
ATTENTION = ("attn.query", "attn.key", "attn.value")
CROSS = "layers.{i}.cross_attn."  # an encoder-decoder's decoder blocks have these


@dataclass
class Box:
    """One drawn module: every tensor of that module in every layer (and expert)."""
    key: str  # canonical module with {i} for the layer and {e} for the expert
    role: str
    shapes: list[tuple[int, ...]] = field(default_factory=list)  # distinct weight shapes
    instances: set = field(default_factory=set)  # (layer, expert) pairs holding it
    params: int = 0  # its size, a tied repeat included (as role tables list it)
    counted: int = 0  # what it adds to the total: 0 for a tied repeat
    bias: bool = False
    tied_to: str | None = None
    tensors: set = field(default_factory=set)  # the stored tensors its rows come from
    by_layer: dict = field(default_factory=dict)  # layer -> counted (an encoder's, a decoder's)

    @property
    def local(self) -> str:
        """The module's name inside a block: `attn.query` of `layers.{i}.attn.query`."""
        return self.key.removeprefix("layers.{i}.")

    @property
    def title(self) -> str:
        return TITLES.get(self.local, self.local)


@dataclass(frozen=True)
class Latent:
    """Multi-head latent attention's widths: a box's per-head parts are said in these."""
    q_rank: int | None  # None: one query projection from d, no query latent
    kv_rank: int
    nope: int  # a query's and a key's unrotated part, per head
    rope: int  # their rotated part (the key's one for all heads)
    v: int  # a value head


@dataclass
class Model:
    """What the drawing needs to know beyond the rows: from a spec, else from the checkpoint."""
    name: str
    n_layers: int
    d_model: int | None = None
    n_heads: int | None = None
    n_kv_heads: int | None = None
    d_head: int | None = None
    pattern: tuple[str, ...] = ()  # empty: not known (a checkpoint without spec or config)
    local_window: int | None = None
    norm: str = ""
    norm_placement: str = "pre"
    residual: str = "sequential"
    activation: str = ""
    gated: bool = False
    position: str = ""
    n_experts: int = 0
    experts_per_token: int | None = None
    dense_layers: tuple = ()
    norm_topk_prob: bool = False
    patch_size: int | None = None  # an image model: its input is patches, not token ids
    latent: Latent | None = None  # multi-head latent attention's widths, where it has them
    n_decoder_layers: int = 0  # an encoder-decoder's: its decoder blocks follow n_layers
    attention_scale: float | None = None  # scores x this; None: 1/sqrt(d_head)

    def layer_kind(self, layer: int) -> str:
        return self.pattern[layer % len(self.pattern)] if self.pattern else "unknown"

    def is_moe(self, layer: int) -> bool:
        return self.n_experts > 0 and layer not in self.dense_layers


def model_of_spec(spec: Spec) -> Model:
    return Model(
        spec.name, spec.n_layers, spec.d_model, spec.n_heads, spec.n_kv_heads, spec.d_head,
        pattern=spec.attention_pattern, local_window=spec.local_window, norm=spec.norm,
        norm_placement=spec.norm_placement, residual=spec.residual, activation=spec.activation,
        gated=spec.gated_mlp, position=spec.position, n_experts=spec.n_experts,
        experts_per_token=spec.experts_per_token, dense_layers=tuple(spec.dense_layers),
        norm_topk_prob=spec.norm_topk_prob, patch_size=spec.patch_size,
        latent=Latent(spec.q_lora_rank, spec.kv_lora_rank, spec.qk_nope_head_dim,
                      spec.qk_rope_head_dim, spec.v_head_dim) if spec.kv_lora_rank else None,
        n_decoder_layers=spec.n_decoder_layers if spec.architecture == "encoder-decoder" else 0,
        attention_scale=spec.attention_scale)


def model_of_shape(name: str, shape, boxes: dict[str, Box]) -> Model:
    """A checkpoint without a spec: its shape, and what its boxes show (a gate, experts)."""
    experts = {e for box in boxes.values() for _, e in box.instances if e is not None}
    layers = {layer for box in boxes.values() for layer, _ in box.instances if layer is not None}
    return Model(name, shape.n_layers or len(layers), shape.d_model, shape.n_heads, shape.n_kv_heads,
                 shape.d_head, gated="layers.{i}.mlp.gate" in boxes, n_experts=len(experts),
                 norm_placement="sandwich" if "layers.{i}.attn_post_norm" in boxes else "pre",
                 n_decoder_layers=shape.n_decoder_layers or 0)


def module_key(row: Row) -> str:
    """`layers.3.mlp.experts.5.up.weight` -> `layers.{i}.mlp.experts.{e}.up`."""
    if not row.canonical:
        return UNMAPPED
    name = _SUFFIX.sub("", row.canonical)
    return _EXPERT.sub(".experts.{e}.", _LAYER.sub(r"\1layers.{i}.", name))


def boxes_of(rows: list[Row]) -> dict[str, Box]:
    """The parameter rows grouped into boxes, in the order a token meets them."""
    boxes: dict[str, Box] = {}
    for row in rows:
        if not row.is_parameter:
            continue
        apart = not row.in_language_model  # another component: one box of its own
        key = f"{COMPONENT}{row.component}" if apart else module_key(row)
        box = boxes.setdefault(key, Box(key, row.component if apart else role_name(row)))
        if not apart:  # (a multi-token-prediction layer is not one of the blocks)
            box.instances.add((row.layer, row.expert))
        box.tensors.add(row.tensor)
        box.params += row.numel
        box.counted += row.numel if row.counted else 0
        if row.layer is not None and row.counted:
            box.by_layer[row.layer] = box.by_layer.get(row.layer, 0) + row.numel
        box.bias |= row.kind == BIAS
        if row.kind != BIAS and row.shape not in box.shapes:
            box.shapes.append(row.shape)
        if row.tied_to is not None:
            box.tied_to = row.tied_to.value
    return boxes


def buffer_groups(rows: list[Row]) -> list[tuple[str, int, int]]:
    """Buffers (not parameters) by name pattern: (h.N.attn.bias, tensors, values)."""
    return [(name, len(members), sum(r.numel for r in members))
            for name, members in tables.buffer_groups(rows).items()]


# --- text --------------------------------------------------------------------------------------

def share(part: int, whole: int) -> str:
    if not whole:
        return "-"
    value = 100 * part / whole
    return "<0.01%" if 0 < value < 0.01 else f"{value:.2f}%"


def shape_text(box: Box) -> str:
    if box.key.startswith(COMPONENT):  # a whole model part: its shapes say nothing in one line
        return f"{len(box.tensors):,} tensors"
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


# --- drawing -----------------------------------------------------------------------------------

BOX_H, LINE = 78, 14
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


def text_lines(x: float, y: float, lines: list[str]) -> str:
    """Lines of text from (x, y) down, the first one a title."""
    return "".join(f'<text x="{x:.0f}" y="{y + LINE * i:.0f}"{TITLE if i == 0 else ""}>'
                   f"{escape(line)}</text>" for i, line in enumerate(lines))


TITLE = ' class="title"'


def box_lines(box: Box, total_params: int, model: Model, wrong: dict[str, list[str]]) -> list[str]:
    """A box's text: its title, heads, counts, and what a check found wrong."""
    title = "patch embedding (convolution)" if box.key == "embed" and model.patch_size \
        else "decoder final norm" if box.key == "final_norm" and model.n_decoder_layers \
        else box.title
    return [title, *head_lines(box, model), *count_lines(box, total_params),
            *wrong.get(box.role, [])]


def box_height(lines: list[str]) -> int:
    return max(BOX_H, 12 + LINE * len(lines))


class Canvas:
    """SVG elements in order, and the lowest point drawn."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.bottom = 0

    def add(self, svg: str, bottom: float) -> None:
        self.parts.append(svg)
        self.bottom = max(self.bottom, int(bottom))

    def text(self, x: float, y: float, text: str, cls: str = "note", anchor: str = "start"):
        self.add(f'<text x="{x:.0f}" y="{y:.0f}" class="{cls}" text-anchor="{anchor}">'
                 f"{escape(text)}</text>", y + 4)

    def arrow(self, x1: float, y1: float, x2: float, y2: float, cls: str = "arrow") -> None:
        self.add(f'<path class="{cls}" d="M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"/>', y2)

    def box(self, x: float, y: float, w: float, box: Box, total_params: int, model: Model,
            wrong: dict[str, list[str]], h: float = BOX_H) -> float:
        """A box with weights, its numbers as text (and as data attributes, for tests and
        scripts), at least h high; returns its bottom."""
        lines = box_lines(box, total_params, model, wrong)
        h = max(h, box_height(lines))
        classes = " ".join(["box", box.role, *(["tied"] if box.tied_to else []),
                            *(["mismatch"] if box.role in wrong else [])])
        label = "; ".join(lines)
        self.add(f'<g class="{classes}" role="img" aria-label="{escape(label)}"'
                 f' data-role="{escape(box.role)}" data-module="{escape(box.key)}"'
                 f' data-params="{box.params}" data-counted="{box.counted}"'
                 f' data-tied="{escape(box.tied_to or "")}">'
                 f'<title>{escape(label)}</title>'
                 f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h}" rx="6"/>'
                 f"{text_lines(x + 8, y + 18, lines)}</g>", y + h)
        return y + h

    def op(self, x: float, y: float, w: float, text: str, h: int = 30) -> None:
        """A step with no weights (softmax, top-k, attention's arithmetic)."""
        self.add(f'<g class="op"><rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h}"'
                 f' rx="14"/><text x="{x + w / 2:.0f}" y="{y + h / 2 + 4:.0f}"'
                 f' text-anchor="middle">{escape(text)}</text></g>', y + h)

    def frame(self, x: float, y: float, w: float, h: float, label: str,
              dashed: bool = False) -> None:
        """A labelled outline around boxes; dashed: a part only some blocks have."""
        dash = ' stroke-dasharray="6 3"' if dashed else ""
        self.add(f'<g class="frame"><rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}"'
                 f' height="{h:.0f}" rx="8"{dash}/><text x="{x + 10:.0f}" y="{y + 17:.0f}">'
                 f"{escape(label)}</text></g>", y + h)

    def residual_add(self, x: float, y: float, text: str) -> None:
        self.add(f'<g class="add" role="img" aria-label="residual add"><circle cx="{x:.0f}"'
                 f' cy="{y:.0f}" r="10"/><text x="{x:.0f}" y="{y + 5:.0f}"'
                 f' text-anchor="middle">+</text></g>', y + 10)
        self.text(x + 18, y + 4, text)


@dataclass
class Drawing:
    """Everything one picture needs."""
    model: Model
    boxes: dict[str, Box]
    total: int
    buffers: list[tuple[str, int, int]]
    wrong: dict[str, list[str]]  # role -> what a check against the spec found, in lines


def row_of_boxes(c: Canvas, d: Drawing, keys: list[str], x: float, y: float, w: float) -> float:
    """Boxes side by side across width w; returns the y below them."""
    keys = [k for k in keys if k in d.boxes]
    if not keys:
        return y
    gap = 10
    each = (w - gap * (len(keys) - 1)) / len(keys)
    return max(c.box(x + i * (each + gap), y, each, d.boxes[key], d.total, d.model, d.wrong)
               for i, key in enumerate(keys))


def grid_row(c: Canvas, d: Drawing, keys: list[str | None], x: float, y: float,
             w: float) -> tuple[float, list[float]]:
    """Boxes of one height in equal slots across width w, a slot left empty for None or a
    module not drawn; returns the y below them and each slot's centre."""
    gap = 10
    each = (w - gap * (len(keys) - 1)) / len(keys)
    drawn = [key for key in keys if key in d.boxes]
    h = max((box_height(box_lines(d.boxes[k], d.total, d.model, d.wrong)) for k in drawn),
            default=0)
    for i, key in enumerate(keys):
        if key in drawn:
            c.box(x + i * (each + gap), y, each, d.boxes[key], d.total, d.model, d.wrong, h)
    return y + h, [x + i * (each + gap) + each / 2 for i in range(len(keys))]


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
    keys = ["attention " + ", ".join(f"{k}: {'dark' if k == 'dense' else 'light'}"
                                     for k in dict.fromkeys(m.pattern))] if m.pattern else []
    keys += [] if m.pattern else ["grey: not known"]
    keys += ["MoE: outlined"] if m.n_experts else []
    legend_lines = wrap([f"layers {layers.start} to {layers.stop - 1}", *keys], LEGEND_CHARS)
    legend = "".join(f'<text x="{x + 8:.0f}" y="{cell_y + 30 + LINE * i:.0f}" class="note">'
                     f"{escape(line)}</text>" for i, line in enumerate(legend_lines))
    h = cell_y - y + 34 + LINE * (len(legend_lines) - 1)
    which = f' data-part="{part}"' if part else ""
    c.add(f'<g class="stack" role="img" aria-label="{escape("; ".join(lines))}"{which}'
          f' data-layers="{n}" data-params="{block_params}"><rect x="{x:.0f}" y="{y:.0f}"'
          f' width="{w:.0f}" height="{h:.0f}" rx="6" fill="#fff" stroke="#2b5d8a"'
          f' stroke-width="2"/>{body}{"".join(cells)}{legend}</g>', y + h)
    return y + h


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
    if not m.pattern:
        return "attention pattern: not known (no spec)"
    names = [f"local (window {m.local_window:,})" if k == "local" and m.local_window else k
             for k in m.pattern]
    if len(names) == 1:
        return f"attention: {names[0]} in every layer"
    return f"attention: {' / '.join(names)}, {'alternating' if len(names) == 2 else 'repeated'}"


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
        for sub, draw in (("attn", draw_attention), ("cross_attn", draw_cross_attention),
                          ("mlp", draw_mlp)):
            cross = sub == "cross_attn"
            if cross and not any(key.startswith(CROSS) for key in d.boxes):
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


def block_kind(m: Model) -> str:
    placement = {"pre": "norm before each sublayer", "post": "norm after each residual add",
                 "sandwich": "norms before and after each sublayer",
                 "output": "norm on each sublayer's output"}[m.norm_placement]
    return (f"{m.residual}, {placement}" + (f", {m.norm}" if m.norm else "")
            + ("" if m.pattern else "; no spec: as the tensor names suggest"))


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
        label = ("multi-head latent attention: keys and values from one cached latent" if latent
                 else "self-attention (causal in the decoder)" if m.n_decoder_layers
                 else "attention") + (f" ({', '.join(sorted(set(m.pattern)))} by layer)"
                                      if len(set(m.pattern)) > 1 else "")
    c.frame(x, top, w, y - top + 10, label)
    return y + 20


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
        c.op(x + 10, y + 8, w - 20, f"{act}(gate) × up" if m.gated else act)
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
    if not d.buffers:
        return y
    c.text(x, y + 18, "buffers (stored, not parameters):", "title")
    y += 26
    for name, n, values in d.buffers:
        label = f"{name}: {n:,} tensor{'s' if n > 1 else ''}, {values:,} values"
        c.add(f'<g class="buffer" data-buffer="{escape(name)}" data-values="{values}">'
              f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="24" rx="4"/>'
              f'<text x="{x + 8:.0f}" y="{y + 16:.0f}">{escape(label)}</text></g>', y + 24)
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
            f' aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f"<style>{CSS}</style><defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"9\""
            ' refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            '<path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>'
            + "".join(c.parts) + "</svg>")


def role_rows(rows: list[Row], whole: int, wrong: dict[str, list[str]]) -> str:
    """The role table under the picture: each role's parameters, share, and what is wrong. A
    checkpoint with components (a vision tower beside the language model) has a component
    column: its roles repeat per component. A check's verdict is the language model's."""
    table = role_table(rows)
    parts = any("component" in r for r in table)
    out = []
    for r in table:
        part = r.get("component")
        checked = part in (None, LANGUAGE_MODEL)
        note = f"tied to the {r['tied_to']}: not counted again" if r["tied_to"] else ""
        note = " ".join(wrong.get(r["role"], [note])) if checked else note
        cls = ' class="mismatch"' if checked and r["role"] in wrong else ""
        part_cell = f"<td>{escape(part or '')}</td>" if parts else ""
        part_attr = f' data-component="{escape(part)}"' if part else ""
        out.append(f'<tr data-role="{escape(r["role"])}"{part_attr} data-params="{r["parameters"]}"'
                   f'{cls}>{part_cell}<td>{escape(r["role"])}</td>'
                   f'<td class="n">{r["parameters"]:,}</td>'
                   f'<td class="n">{"-" if r["tied_to"] else share(r["parameters"], whole)}</td>'
                   f"<td>{escape(note)}</td></tr>")
    listed = {r["role"] for r in table if r.get("component") in (None, LANGUAGE_MODEL)}
    empty = "<td></td>" if parts else ""
    out += [f'<tr class="mismatch">{empty}<td>{escape(role)}</td><td class="n">0</td><td></td>'
            f"<td>absent: {escape(' '.join(lines))}</td></tr>"
            for role, lines in wrong.items() if role not in listed]  # the spec has, the file not
    head = "<th>component</th>" if parts else ""
    return (f'<table class="roles"><thead><tr>{head}<th>role</th><th class="n">parameters</th>'
            f'<th class="n">share</th><th>note</th></tr></thead><tbody>{"".join(out)}'
            "</tbody></table>")


def figure(d: Drawing, rows: list[Row], title: str) -> str:
    """The picture and its role table, for a page."""
    return f"{svg(d, title)}\n<h2>Parameters by role</h2>\n{role_rows(rows, d.total, d.wrong)}"


def page(d: Drawing, rows: list[Row], title: str, summary: list[tuple[str, str]]) -> str:
    from inspector.output.page import html_page

    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in summary)
    return html_page(title, f'<h1>{escape(title)}</h1>\n<dl class="summary">{items}</dl>\n'
                            + figure(d, rows, title))


def mismatches(verdict: dict | None) -> dict[str, list[str]]:
    """role -> lines saying how a check against the spec failed it (short: boxes are narrow)."""
    if verdict is None:
        return {}
    return {r["role"]: [f"MISMATCH (all {r['role']}):", f"spec {r['expected']:,}",
                        f"found {r['actual']:,}", f"difference {r['actual'] - r['expected']:+,}"]
            for r in verdict["roles"] if not r["ok"]}


def drawing(rows: list[Row], model: Model, verdict: dict | None = None) -> Drawing:
    return Drawing(model, boxes_of(rows), total(rows), buffer_groups(rows), mismatches(verdict))


# --- sources -----------------------------------------------------------------------------------

def names_a_checkpoint(source: str) -> bool:
    """A file or folder of weights, as against a spec (a name, a YAML file, a config.json)."""
    from pathlib import Path

    path = Path(source)
    if not path.exists():
        return False
    return path.is_dir() or path.name.endswith(".index.json") or path.suffix.lower() not in (
        ".yaml", ".yml", ".json")


def from_spec(spec: Spec) -> tuple[Drawing, list[Row], list[tuple[str, str]]]:
    from inspector.spec.describe import spec_rows

    rows = spec_rows(spec)
    d = drawing(rows, model_of_spec(spec))
    return d, rows, spec_summary(d, spec, rows)


def spec_summary(d: Drawing, spec: Spec, rows: list[Row]) -> list[tuple[str, str]]:
    """The lines above a spec's picture on its page."""
    return [("spec", spec.name), ("source", spec.source), *totals(d, spec, rows)]


def checkpoint_summary(d: Drawing, source: str, inspection) -> list[tuple[str, str]]:
    """The lines above a checkpoint's picture on its page (a check's line apart)."""
    return [("source", source), ("layout", inspection.decoupled.layout.name),
            *totals(d, inspection.spec, inspection.rows)]


def from_checkpoint(source: str, spec: Spec | None):
    """An inspected checkpoint; with a spec, checked against it and its mismatches marked."""
    from inspector.checkpoint.check import check
    from inspector.checkpoint.inspection import inspect_source

    inspection = inspect_source(source, spec)
    verdict = check(spec, inspection.decoupled) if spec is not None else None
    d = of_inspection(source, inspection, verdict)
    summary = checkpoint_summary(d, source, inspection)
    if verdict is not None:
        summary.append(("check", f"against {spec.name}: "
                        + ("match" if verdict["ok"] else
                           f"MISMATCH in {len(d.wrong)} roles, {len(verdict['problems'])}"
                           " problems (marked red)")))
    return d, inspection.rows, summary, inspection.warnings


def of_inspection(source: str, inspection, verdict: dict | None) -> Drawing:
    """A checkpoint's drawing: its spec (config.json's, else --spec) where known, else what
    its shape and boxes say; a check's verdict marks the roles it failed."""
    rows = inspection.rows
    boxes = boxes_of(rows)
    known, shape = inspection.spec, inspection.shape
    if known is None:
        return drawing(rows, model_of_shape(source, shape, boxes), verdict)
    # the checkpoint's own shape wins where it has one (a --spec of another size is checked,
    # not drawn): the stack has the checkpoint's layers
    model = replace(model_of_spec(known), name=source, **{
        key: getattr(shape, key) for key in ("n_layers", "d_model", "n_heads", "n_kv_heads",
                                             "d_head", "n_decoder_layers")
        if getattr(shape, key) is not None})
    return drawing(rows, model, verdict)


def totals(d: Drawing, spec: Spec | None, rows: list[Row]) -> list[tuple[str, str]]:
    from inspector.vocab.tables import active_total

    out = [("parameters", f"{d.total:,}")]
    k = spec.experts_per_token if spec is not None else None
    active = active_total(rows, k)
    if d.model.n_experts and active is not None:
        out.append(("active", f"{active:,} a token ({k} of {d.model.n_experts} experts)"))
    tied = [b for b in d.boxes.values() if b.tied_to]
    out.append(("tied", "unembedding is the embedding's storage (counted once)" if tied
                else "no"))
    tensors, values = sum(n for _, n, _ in d.buffers), sum(v for _, _, v in d.buffers)
    out.append(("buffers", f"{tensors:,} tensors, {values:,} values (not parameters)"))
    return out


def write(source: str, out: str, spec: Spec | None) -> tuple[str, list[str]]:
    """Draw SOURCE (a checkpoint, else a spec) into OUT, .html or .svg. Returns the path and
    warnings."""
    from pathlib import Path

    from inspector.errors import UsageError
    from inspector.spec.loading import load_spec

    target = Path(out)
    kind = target.suffix.lower()
    if kind not in (".html", ".htm", ".svg"):
        raise UsageError(out, "--out must name a .html or .svg file")
    if target.is_dir():
        raise UsageError(out, "is a folder; --out names the file to write")
    warnings: list[str] = []
    if names_a_checkpoint(source):
        d, rows, summary, warnings = from_checkpoint(source, spec)
    else:
        if spec is not None:
            raise UsageError(source, "is a spec, not a checkpoint: --spec is for checking a"
                                     " checkpoint against it")
        drawn = load_spec(source)
        d, rows, summary = from_spec(drawn)
        warnings = drawn.warnings()
    return save(d, rows, summary, target), warnings


def save(d: Drawing, rows: list[Row], summary: list[tuple[str, str]], target) -> str:
    """Write a drawing whole or not at all: the picture alone (.svg) or the page (.html)."""
    from pathlib import Path

    from inspector.files.atomic import make_folder, write_atomically
    from inspector.errors import UsageError

    target = Path(target)
    if target.suffix.lower() not in (".html", ".htm", ".svg"):
        raise UsageError(str(target), "must name a .html or .svg file")
    if target.is_dir():
        raise UsageError(str(target), "is a folder; name the file to write")
    title = f"{d.model.name}: {d.total:,} parameters"
    text = svg(d, title) if target.suffix.lower() == ".svg" else page(d, rows, title, summary)
    make_folder(target.parent)
    write_atomically(target.parent, {target.name: lambda tmp: tmp.write_text(
        text, encoding="utf-8")}, "diagram")
    return str(target)
