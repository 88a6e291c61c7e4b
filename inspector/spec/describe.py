"""Spec -> the one description of the model: every module with its canonical name and shape.

`module_entries(spec)` is read three ways, so they agree by construction: `parameter_shapes` and
`spec_rows` count it (no torch: `inspector count gpt3-175b` is arithmetic), and
`inspector.building.transformer` makes one torch module per entry, under the same name, with
the same shape.
Names are canonical (inspector.vocab.canonical), shapes are PyTorch's (out_features, in_features).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod

from inspector.spec.schema import Spec
from inspector.vocab.canonical import expert_of, parse
from inspector.vocab.roles import Role
from inspector.vocab.rows import Grouped, Repeated, Row, expand

EMBEDDING, LINEAR, NORM = "embedding", "linear", "norm"
# An image model's embedding is a convolution over patches (weight [d, channels, p, p]); its
# [CLS] vector and position table are plain parameters, kept in the shape stored ([1, n, d]).
PATCHES, TABLE = "patches", "table"


@dataclass(frozen=True)
class ModuleEntry:
    """One module of the model: a table (embedding), a matrix (linear) or a norm."""
    module: str  # canonical module name, e.g. "layers.3.attn.query"
    kind: str  # embedding | linear | norm | patches | table
    # the weight's shape: (rows, d) | (out, in) | (width,) | (d, channels, p, p) | as stored
    shape: tuple[int, ...]
    bias: bool = False
    weight: bool = True  # False only for a norm without parameters (OLMo's LayerNorm)

    def parameters(self) -> list[tuple[str, tuple[int, ...]]]:
        out = [(f"{self.module}.weight", self.shape)] if self.weight else []
        if self.bias:
            # a norm's bias has its gain's shape (per head too); a matrix's, one per output
            out.append((f"{self.module}.bias", self.shape if self.kind == NORM
                        else (self.shape[0],)))
        return out


def module_entries(spec: Spec, every_expert: bool = True, blocks: bool = True) -> list[ModuleEntry]:
    """Every module, in the order a token meets them (an encoder-decoder's encoder norm after
    all the blocks, where the built model, one list of blocks, registers it). `every_expert`
    False: of a mixture's routed experts, the first only (spec_row_groups); `blocks` False:
    the modules outside the blocks only (spec_total)."""
    parts = embedding_entries(spec)
    for layer, first, cross in block_places(spec) if blocks else ():
        parts.extend(block(spec, layer, first=first, cross=cross, every_expert=every_expert))
    return parts + head_entries(spec)


def embedding_entries(spec: Spec) -> list[ModuleEntry]:
    """The modules before the first block: the tables a token's id and position look up (an
    image model's patches) and the norm after them."""
    d = spec.d_model
    if spec.patch_size:
        parts = image_embeddings(spec)
    else:
        parts = [ModuleEntry("embed", EMBEDDING, (spec.vocab_size, d))]
        if spec.position == "learned":
            parts.append(ModuleEntry("pos", EMBEDDING, (spec.n_ctx, d)))
    if spec.type_vocab_size:
        parts.append(ModuleEntry("token_type", EMBEDDING, (spec.type_vocab_size, d)))
    if spec.embedding_norm:
        parts.append(_norm(spec, "embed_norm", d))
    return parts


def block_places(spec: Spec) -> list[tuple[str, bool, bool]]:
    """(module name, first of its stack, cross-attending) of every block in order: the blocks,
    then an encoder-decoder's decoder blocks, numbered after the encoder's (the model keeps all
    blocks in one list)."""
    places = [(f"layers.{i}", i == 0, False) for i in range(spec.n_layers)]
    if spec.architecture == "encoder-decoder":
        places += [(f"layers.{spec.n_layers + i}", i == 0, True)
                   for i in range(spec.n_decoder_layers)]
    return places


def head_entries(spec: Spec) -> list[ModuleEntry]:
    """The modules after the last block: an encoder-decoder's encoder norm, the final norm,
    the pooler and the heads."""
    d, v = spec.d_model, spec.vocab_size
    parts = []
    if spec.architecture == "encoder-decoder":
        parts.append(_norm(spec, "encoder_norm", d))
    if spec.final_norm:
        parts.append(_norm(spec, last_norm(spec), d))
    if spec.pooler:
        parts.append(_linear(spec, "pooler", d, d, "pooler"))
    if spec.mlm_head:
        parts += [_linear(spec, "mlm_transform", d, d, "head"), _norm(spec, "mlm_norm", d),
                  ModuleEntry("unembed", LINEAR, (v, d), bias=True)]
    elif spec.architecture != "encoder":
        parts.append(_linear(spec, "unembed", v, d, "unembedding"))
    if spec.nsp_head:
        parts.append(ModuleEntry("nsp", LINEAR, (2, d), bias=True))
    return parts


def image_embeddings(spec: Spec) -> list[ModuleEntry]:
    """ViT's: the patches' convolution, the [CLS] vector before them, a position per token."""
    d, p = spec.d_model, spec.patch_size
    return [ModuleEntry("embed", PATCHES, (d, spec.num_channels, p, p), bias=True),
            ModuleEntry("cls", TABLE, (1, 1, d)), ModuleEntry("pos", TABLE, (1, spec.n_ctx, d))]


def last_norm(spec: Spec) -> str:
    """The canonical name of the norm after the last block: `final_norm`, except an encoder's
    whose family names it as an encoder-decoder's encoder norm (T5's encoder alone keeps the
    name it has beside a decoder; BERT's, ModernBERT's, ViT's are final norms)."""
    if spec.architecture != "encoder":
        return "final_norm"
    from inspector import families

    return families.spec_facts(spec.family)["encoder_only_norm"]


def block(spec: Spec, layer: str, first: bool = False, cross: bool = False,
          every_expert: bool = True) -> list[ModuleEntry]:
    """One block: its norms where the spec places them, attention, cross-attention to the
    encoder's output (`cross`: a decoder block of an encoder-decoder), the MLP. Relative
    position biases live in the `first` block of each stack. Of its place, a block reads no more
    than block_kind() says: blocks of one kind differ in their names' layer number only."""
    d = spec.d_model
    sandwiched = spec.norm_placement in ("sandwich", "output")  # a norm on each sublayer's output
    parts = []
    if spec.norm_placement != "output" and (spec.first_attn_norm or layer != "layers.0"):
        parts.append(_norm(spec, f"{layer}.attn_norm", d))
    if spec.kv_lora_rank:
        parts += latent_attention(spec, f"{layer}.attn")
    else:
        parts += _qkv(spec, f"{layer}.attn")
    if spec.qk_norm == "per_head":  # Command-R+: a gain per head, stored (heads, d_head)
        parts.append(replace(_norm(spec, f"{layer}.attn.q_norm", spec.d_head),
                             shape=(spec.n_heads, spec.d_head)))
        parts.append(replace(_norm(spec, f"{layer}.attn.k_norm", spec.d_head),
                             shape=(spec.n_kv_heads, spec.d_head)))
    elif spec.qk_norm != "none":
        head = spec.qk_norm == "head"
        parts.append(_norm(spec, f"{layer}.attn.q_norm", spec.d_head if head else spec.attn_width))
        parts.append(_norm(spec, f"{layer}.attn.k_norm", spec.d_head if head else spec.kv_width))
    if spec.attention_sinks:  # gpt-oss: one logit per head
        parts.append(ModuleEntry(f"{layer}.attn.sinks", TABLE, (spec.n_heads,)))
    parts.append(_linear(spec, f"{layer}.attn.output", d, spec.output_width, "attn_output"))
    if spec.position == "relative" and first:
        parts.append(ModuleEntry(f"{layer}.attn.rel_bias", EMBEDDING, (spec.relative_buckets,
                                                               spec.n_heads)))
    if sandwiched:
        parts.append(_norm(spec, f"{layer}.attn_post_norm", d))
    if cross:
        parts += [_norm(spec, f"{layer}.cross_attn_norm", d), *_qkv(spec, f"{layer}.cross_attn"),
                  _linear(spec, f"{layer}.cross_attn.output", d, spec.attn_width, "attn_output")]
    if spec.norm_placement != "output" and not spec.shared_block_norm:
        parts.append(_norm(spec, f"{layer}.mlp_norm", d))
    if spec.is_moe_layer(int(layer.rsplit(".", 1)[1])):
        parts += experts(spec, layer, spec.n_experts if every_expert else 1)
    else:
        parts += mlp(spec, f"{layer}.mlp", spec.d_ff)
    if sandwiched:
        parts.append(_norm(spec, f"{layer}.mlp_post_norm", d))
    return parts


def block_kind(spec: Spec, layer: int, first: bool, cross: bool) -> tuple:
    """What block() reads of the place of block `layer`: first of its stack (relative position
    biases; layer 0 may have no attention norm), its MLP a mixture or not, cross-attending."""
    return first, spec.is_moe_layer(layer), cross


def latent_attention(spec: Spec, attn: str) -> list[ModuleEntry]:
    """DeepSeek's multi-head latent attention (DeepSeek-V2, section 2.1): queries from d through
    a normed latent of q_lora_rank (or one projection), keys and values from one normed latent
    of kv_lora_rank that kv_down makes beside the rotated key part all heads share, and kv_up
    brings up to each head's unrotated key and value. The up-projections have no bias ever."""
    d, heads = spec.d_model, spec.n_heads
    q_width = heads * (spec.qk_nope_head_dim + spec.qk_rope_head_dim)
    if spec.q_lora_rank:
        parts = [_linear(spec, f"{attn}.q_down", spec.q_lora_rank, d, "qkv"),
                 _norm(spec, f"{attn}.q_down_norm", spec.q_lora_rank),
                 ModuleEntry(f"{attn}.q_up", LINEAR, (q_width, spec.q_lora_rank))]
    else:
        parts = [ModuleEntry(f"{attn}.query", LINEAR, (q_width, d))]
    rank = spec.kv_lora_rank
    return parts + [_linear(spec, f"{attn}.kv_down", rank + spec.qk_rope_head_dim, d, "qkv"),
                    _norm(spec, f"{attn}.kv_down_norm", rank),
                    ModuleEntry(f"{attn}.key_up", LINEAR, (spec.key_up_width, rank)),
                    ModuleEntry(f"{attn}.value_up", LINEAR, (spec.value_up_width, rank))]


def mlp(spec: Spec, module: str, width: int) -> list[ModuleEntry]:
    """An MLP of `width`: gate (when gated), up, down."""
    d = spec.d_model
    return [*([_linear(spec, f"{module}.gate", width, d, "mlp")] if spec.gated_mlp else []),
            _linear(spec, f"{module}.up", width, d, "mlp"),
            _linear(spec, f"{module}.down", d, width, "mlp")]


def experts(spec: Spec, layer: str, routed: int) -> list[ModuleEntry]:
    """A mixture of experts' MLP: the router, the first `routed` routed experts, the shared
    experts and their gate."""
    parts = [_linear(spec, f"{layer}.mlp.router", spec.n_experts, spec.d_model, "router")]
    for e in range(routed):
        parts += mlp(spec, f"{layer}.mlp.experts.{e}", spec.expert_width)
    if spec.d_ff_shared:
        parts += mlp(spec, f"{layer}.mlp.shared", spec.d_ff_shared)
        if spec.shared_expert_gate:
            parts.append(_linear(spec, f"{layer}.mlp.shared_gate", 1, spec.d_model, "router"))
    return parts


def _qkv(spec: Spec, attention: str) -> list[ModuleEntry]:
    """An attention's query, key and value projections of the d_model-wide stream."""
    return [_linear(spec, f"{attention}.query", spec.attn_width, spec.d_model, "qkv"),
            _linear(spec, f"{attention}.key", spec.kv_width, spec.d_model, "qkv"),
            _linear(spec, f"{attention}.value", spec.kv_width, spec.d_model, "qkv")]


def _linear(spec: Spec, module: str, n_out: int, n_in: int, bias_kind: str) -> ModuleEntry:
    return ModuleEntry(module, LINEAR, (n_out, n_in), bias=spec.has_bias(bias_kind))


def _norm(spec: Spec, module: str, width: int) -> ModuleEntry:
    return ModuleEntry(module, NORM, (width,), bias=spec.norm_params and spec.has_bias("norm"),
                weight=spec.norm_params)


def parameter_shapes(spec: Spec, every_expert: bool = True) -> list[tuple[str, tuple[int, ...]]]:
    """Every canonical parameter with its shape, in the order a token meets them."""
    return [entry for part in module_entries(spec, every_expert) for entry in part.parameters()]


def spec_total(spec: Spec) -> int:
    """total(spec_rows(spec)) by arithmetic on one block of each kind (block_kind), for `specs`
    (which totals every shipped spec): its routed experts are alike. Every spec parameter is
    counted but a tied unembedding (tests/test_specs.py holds the two equal for every shipped
    spec)."""
    def numel(parts: list[ModuleEntry]) -> int:
        n = 0
        for part in parts:
            for name, shape in part.parameters():
                size = prod(shape) * (spec.n_experts if ".experts.0." in name else 1)
                n += 0 if name == "unembed.weight" and spec.tied_embeddings else size
        return n

    sizes: dict[tuple, int] = {}
    n = numel(module_entries(spec, blocks=False))
    for layer, first, cross in block_places(spec):
        kind = block_kind(spec, _number(layer), first, cross)
        if kind not in sizes:
            sizes[kind] = numel(block(spec, layer, first=first, cross=cross, every_expert=False))
        n += sizes[kind]
    return n


def spec_rows(spec: Spec) -> list[Row]:
    return expand(spec_row_groups(spec))


def spec_row_groups(spec: Spec) -> Grouped:
    """spec_rows, each layer's routed experts held once (inspector.vocab.rows.Repeated): the
    sums of the tables (inspector.vocab.tables) take them with their multiplicity, so `count`
    and `specs` do the work of one expert a layer, not of every one (DeepSeek-V3: 1,148 rows
    made instead of 45,398). A block of a kind met before (block_kind) is that block's rows
    renumbered: its names are described and parsed once (Llama-3.1-405B: 2 blocks of 126)."""
    description = getattr(spec, "description", None)
    if description is not None:  # a ReferenceSpec: what transformers builds (spec/reference.py)
        from inspector.spec.reference import description_rows

        return Grouped(description_rows(description))
    named = _Names()
    out = Grouped(_grouped_rows(spec, embedding_entries(spec), named))
    kinds: dict[tuple, tuple[int, list]] = {}  # kind -> (its first block's number, its rows)
    for layer, first, cross in block_places(spec):
        number = _number(layer)
        kind = block_kind(spec, number, first, cross)
        if kind in kinds:
            out.extend(_renumbered(*kinds[kind], number))
            continue
        rows = _grouped_rows(spec, block(spec, layer, first=first, cross=cross,
                                         every_expert=False), named)
        kinds[kind] = (number, rows)
        out.extend(rows)
    out.extend(_grouped_rows(spec, head_entries(spec), named))
    return out


def _number(layer: str) -> int:
    """The number of a block's module name: "layers.12" -> 12."""
    return int(layer[len("layers."):])


def _grouped_rows(spec: Spec, parts: list[ModuleEntry], named: _Names) -> list:
    """The rows of `parts`, a mixture's routed experts (the first only, every_expert False) held
    as one Repeated of n_experts."""
    out: list = []
    block: list[Row] = []  # the first expert's rows of the layer being read
    for part in parts:
        for name, shape in part.parameters():
            role, layer, kind, expert = named.parse(name)
            tied = Role.EMBEDDING if name == "unembed.weight" and spec.tied_embeddings else None
            row = Row(tensor=name, role=role, layer=layer, kind=kind, shape=shape,
                      canonical=name, tied_to=tied, expert=expert)
            if expert is not None:
                block.append(row)
                continue
            if block:
                out.append(Repeated(tuple(block), 0, spec.n_experts))
                block = []
            out.append(row)
    if block:
        out.append(Repeated(tuple(block), 0, spec.n_experts))
    return out


def _renumbered(number: int, rows: list, new: int) -> list:
    """Block `number`'s rows (and Repeated) as block `new`'s: the same rows, named and
    numbered for layer `new`."""
    old, named = f"layers.{number}.", f"layers.{new}."

    def row(r: Row) -> Row:
        name = named + r.tensor[len(old):]
        return Row(tensor=name, role=r.role, layer=new, kind=r.kind, shape=r.shape,
                   canonical=name, tied_to=r.tied_to, expert=r.expert)

    return [Repeated(tuple(map(row, r.rows)), r.first, r.count) if isinstance(r, Repeated)
            else row(r) for r in rows]


class _Names:
    """parse() and expert_of() of canonical names, once per name within a block: every layer's
    names are the first layer's but for the number (Llama-3.1-405B: 1,135 names, 9 parsed)."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple] = {}

    def parse(self, name: str) -> tuple:
        """(role, layer, kind, expert) of a canonical name."""
        if not name.startswith("layers."):
            return (*parse(name), expert_of(name))
        number, rest = name[len("layers."):].split(".", 1)
        found = self.seen.get(rest)
        if found is None:
            role, _, kind = parse(f"layers.0.{rest}")
            found = self.seen[rest] = (role, kind, expert_of(name))
        return found[0], int(number), found[1], found[2]
