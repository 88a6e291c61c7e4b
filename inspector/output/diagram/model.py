"""What a diagram draws: the rows grouped into boxes (one a module, whatever the layer or
expert), and what is known of the model beyond the rows, under the names its Spec gives them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from inspector.output.diagram import by_role
from inspector.spec.schema import Spec
from inspector.vocab import tables
from inspector.vocab.rows import BIAS, UNMAPPED, Repeated, Row, each_row
from inspector.vocab.tables import role_name, total

if TYPE_CHECKING:
    from inspector.checkpoint.inspection import Shape

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
TITLES.update(by_role.TITLES)
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
    # a layer's experts held once (inspector.vocab.rows.Repeated): the first expert's tensor ->
    # how many experts store one like it
    held_tensors: dict = field(default_factory=dict)
    by_layer: dict = field(default_factory=dict)  # layer -> counted (an encoder's, a decoder's)

    @property
    def n_tensors(self) -> int:
        return len(self.tensors) + sum(self.held_tensors.values())

    @property
    def local(self) -> str:
        """The module's name inside a block: `attn.query` of `layers.{i}.attn.query`."""
        return self.key.removeprefix("layers.{i}.")

    @property
    def title(self) -> str:
        return TITLES.get(self.local, self.local.removeprefix(by_role.OTHER))


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
    """What the drawing needs to know beyond the rows. Each field but `latent` is the Spec's
    field of that name (model_of_spec copies them by name); a checkpoint without a spec gives
    the sizes its Shape knows, by the same names, and the rest stay as below: not known."""
    name: str
    n_layers: int
    n_decoder_layers: int = 0  # an encoder-decoder's: its decoder blocks follow n_layers
    d_model: int | None = None
    n_heads: int | None = None
    n_kv_heads: int | None = None
    d_head: int | None = None
    attention_pattern: tuple[str, ...] = ()  # empty: not known (no spec or config)
    local_window: int | None = None
    norm: str = ""
    norm_placement: str = "pre"
    residual: str = "sequential"
    activation: str = ""
    gated_mlp: bool = False
    position: str = ""
    n_experts: int = 0
    experts_per_token: int | None = None
    dense_layers: tuple = ()
    norm_topk_prob: bool = False
    patch_size: int | None = None  # an image model: its input is patches, not token ids
    attention_scale: float | None = None  # scores x this; None: 1/sqrt(d_head)
    latent: Latent | None = None  # multi-head latent attention's widths, where it has them

    def layer_kind(self, layer: int) -> str:
        pattern = self.attention_pattern
        return pattern[layer % len(pattern)] if pattern else "unknown"

    def is_moe(self, layer: int) -> bool:
        return self.n_experts > 0 and layer not in self.dense_layers


# The fields a Model takes from a Spec of the same names.
FROM_SPEC = tuple(f.name for f in fields(Model) if f.name != "latent")


def model_of_spec(spec: Spec) -> Model:
    latent = Latent(spec.q_lora_rank, spec.kv_lora_rank, spec.qk_nope_head_dim,
                    spec.qk_rope_head_dim, spec.v_head_dim) if spec.kv_lora_rank else None
    return Model(**{key: getattr(spec, key) for key in FROM_SPEC}, latent=latent)


def shape_sizes(shape: Shape) -> dict[str, int]:
    """The sizes a checkpoint's shape knows that a Model has."""
    return {key: value for key, value in shape.sizes().items() if key in FROM_SPEC}


def model_of_shape(name: str, shape: Shape, boxes: dict[str, Box]) -> Model:
    """A checkpoint without a spec: its shape, and what its boxes show (a gate, experts)."""
    experts = {e for box in boxes.values() for _, e in box.instances if e is not None}
    layers = {layer for box in boxes.values() for layer, _ in box.instances if layer is not None}
    return Model(**{**shape_sizes(shape), "name": name, "n_layers": shape.n_layers or len(layers)},
                 gated_mlp="layers.{i}.mlp.gate" in boxes, n_experts=len(experts),
                 norm_placement="sandwich" if "layers.{i}.attn_post_norm" in boxes else "pre")


def module_key(row: Row) -> str:
    """`layers.3.mlp.experts.5.up.weight` -> `layers.{i}.mlp.experts.{e}.up`."""
    if not row.canonical:
        return UNMAPPED
    name = _SUFFIX.sub("", row.canonical)
    return _EXPERT.sub(".experts.{e}.", _LAYER.sub(r"\1layers.{i}.", name))


def boxes_of(rows: list[Row]) -> dict[str, Box]:
    """The parameter rows grouped into boxes, in the order a token meets them. A Repeated (a
    layer's experts held once) adds its first expert's rows as many times as it has experts."""
    boxes: dict[str, Box] = {}
    mixers = by_role.mixer_modules(rows)
    attention = any(row.role in by_role.ATTENTION_ROLES for row in each_row(rows))
    for held in rows:
        if isinstance(held, Repeated):
            for row in held.rows:
                _add(boxes, row, mixers, attention, held.count)
        else:
            _add(boxes, held, mixers, attention, 1)
    return boxes


def _add(boxes: dict[str, Box], row: Row, mixers: dict, attention: bool, n: int) -> None:
    """A row in its box; `n` experts' rows like it (expert row.expert and the next n - 1)."""
    if not row.is_parameter:
        return
    apart = not row.in_language_model  # another component: one box of its own
    key = f"{COMPONENT}{row.component}" if apart else module_key(row)
    if not apart and not by_role.is_canonical(key):  # a stored name (transformers path)
        key = by_role.role_key(row, mixers, attention)
    box = boxes.setdefault(key, Box(key, row.component if apart else role_name(row)))
    if not apart:  # (a multi-token-prediction layer is not one of the blocks)
        if n == 1:
            box.instances.add((row.layer, row.expert))
        else:
            box.instances.update((row.layer, e) for e in range(row.expert, row.expert + n))
    if n == 1:
        box.tensors.add(row.tensor)
    else:
        box.held_tensors[row.tensor] = n
    box.params += row.numel * n
    box.counted += row.numel * n if row.counted else 0
    if row.layer is not None and row.counted:
        box.by_layer[row.layer] = box.by_layer.get(row.layer, 0) + row.numel * n
    box.bias |= row.kind == BIAS
    if row.kind != BIAS and row.shape not in box.shapes:
        box.shapes.append(row.shape)
    if row.tied_to is not None:
        box.tied_to = row.tied_to.value


def buffer_groups(rows: list[Row]) -> list[tuple[str, int, int]]:
    """Buffers (not parameters) by name pattern: (h.N.attn.bias, tensors, values)."""
    return [(name, len(members), sum(r.numel for r in members))
            for name, members in tables.buffer_groups(rows).items()]


@dataclass
class Drawing:
    """Everything one picture needs."""
    model: Model
    boxes: dict[str, Box]
    total: int
    buffers: list[tuple[str, int, int]]
    wrong: dict[str, list[str]]  # role -> what a check against the spec found, in lines


def mismatches(verdict: dict | None) -> dict[str, list[str]]:
    """role -> lines saying how a check against the spec failed it (short: boxes are narrow)."""
    if verdict is None:
        return {}
    return {r["role"]: [f"MISMATCH (all {r['role']}):", f"spec {r['expected']:,}",
                        f"found {r['actual']:,}", f"difference {r['actual'] - r['expected']:+,}"]
            for r in verdict["roles"] if not r["ok"]}


def drawing(rows: list[Row], model: Model, verdict: dict | None = None) -> Drawing:
    return Drawing(model, boxes_of(rows), total(rows), buffer_groups(rows), mismatches(verdict))
