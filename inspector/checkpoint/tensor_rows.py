"""Tensors + layout -> rows: every stored value given its role, layer and canonical name.

A fused tensor becomes one row per part; a buffer is a row of its own; a tied unembedding is a row
that repeats the embedding's storage and is marked so that totals add it once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache, cached_property, partial
from math import prod

from inspector.checkpoint.expert_groups import (
    LogicalTensors,
    Placed,
    each_block,
    expert_groups,
    held_once,
    held_rows,
    in_order,
    singles_in_order,
)
from inspector.checkpoint.quantization import (
    Quantization,
    QuantizationError,
    Stored,
    read_quantization,
    stored_view,
)
from inspector.errors import CheckpointError
from inspector.formats.base import Checkpoint, TensorInfo
from inspector.spec.schema import Spec
from inspector.vocab.canonical import parse
from inspector.vocab.layout import Layout, Rule
from inspector.vocab.roles import Role
from inspector.vocab.rows import (
    BOOKKEEPING,
    BUFFER,
    LANGUAGE_MODEL,
    UNMAPPED,
    WEIGHT,
    Repeated,
    Row,
)


@dataclass
class Decoupled:
    checkpoint: Checkpoint
    layout: Layout  # INFERRED when no family's layout recognises it
    # The rows; a Grouped list (inspector.vocab.rows) where a layer's experts are held once
    # (inspector.checkpoint.expert_groups): what sums read. `rows` has every row.
    held: list
    tied: bool  # the unembedding is the embedding's storage
    tied_copy: bool = False  # the file also stores the tied unembedding: a copy, counted once
    quantization: Quantization | None = None  # how its weights are packed, if they are
    placed: list[Placed] | None = None  # where `held` came from, to expand it in tensor order

    @property
    def inferred(self) -> bool:
        """Roles come from generic name patterns, not from a family's layout."""
        return self.layout is INFERRED

    @cached_property
    def rows(self) -> list[Row]:
        """Every row, in the order of the tensors (a table by tensor, values, reports)."""
        return self.held if self.placed is None else in_order(self.placed)


# The layout of a checkpoint no family's layout recognises: it has no rules, and its tensors'
# roles are inferred from generic name patterns (inspector.families.name_patterns).
INFERRED = Layout(name="inferred", rules=())


def decouple(checkpoint: Checkpoint, layout: Layout | None = None,
             tied_default: bool = True, spec: Spec | None = None,
             config_ties: bool = False, grouped: bool = True) -> Decoupled:
    """`tied_default`: whether a decoder with no unembedding tensor ties it to the embedding
    (true for GPT-2 and for whatever config.json says `tie_word_embeddings`). `spec` (config.json
    read as one, or a --spec) gives the sizes of a fused tensor's unequal parts (a grouped-query
    qkv). `config_ties`: the checkpoint's own config.json ties the embeddings, so a stored
    unembedding is a copy that transformers ties on loading: counted once, as transformers
    counts it. `grouped`: a layer's alike experts read once (expert_groups); False reads every
    tensor (what the grouped reading is tested against)."""
    from inspector.families import checkpoint_layout, composite_of
    from inspector.families import get as family

    tensors = checkpoint.tensors
    quantization = _quantization(checkpoint)
    composite = composite_of(checkpoint.config)
    if composite is not None and layout is None:  # its language model is read by its family
        layout = family(composite.text_family).hub_layout
    groups = expert_groups(tensors) if grouped else []
    # Read one by one: every tensor but the third and later experts of a group.
    later = {i for g in groups for i in g.members[2:]}
    read = [i for i in range(len(tensors)) if i not in later] if later else range(len(tensors))
    views = {i: stored_view(tensors[i], quantization) for i in read} if quantization else {}
    # The spec's shapes, for bitsandbytes' 4-bit weights, stored flat.
    # (made when the first such weight is met: the rows of every module of the spec)
    described = cache(partial(_described_shapes, spec)) if quantization and spec is not None \
        else None
    logical = LogicalTensors(tensors, views, groups, quantization, _logical) \
        if quantization else None
    layout = layout or checkpoint_layout(checkpoint, spec.family if spec else None,
                                         tensors=logical) or INFERRED
    offset = _decoder_offset(checkpoint, layout, spec)
    rows_of = _rows if composite is None else partial(_component_rows, composite)
    placed: list[Placed] = []
    read_rows: dict[int, list[Row]] = {}
    first_role_of_storage: dict[object, Role] = {}
    served: dict[str, list[Row]] = {}  # a quantized weight's name -> its rows (its bookkeeping's)
    for i in read:
        tensor, view = tensors[i], views.get(i)
        if view is not None and view.bookkeeping:
            continue  # after the weights: listed under the roles of the weight it serves
        parts = rows_of(tensor, layout, spec, offset) if view is None or not view.packed \
            else _packed_rows(tensor, view, layout, spec, described, offset)
        if quantization:  # (a header of 150,000 unquantized tensors keeps no such map)
            served[parts[0].canonical or tensor.name] = parts
        tied_to = None
        if tensor.storage is not None and parts[0].role is not None:
            tied_to = first_role_of_storage.setdefault(tensor.storage, parts[0].role)
            tied_to = tied_to if tied_to != parts[0].role else None
        read_rows[i] = [replace(p, tied_to=tied_to) for p in parts] if tied_to else parts
    if quantization:
        for i in read:
            if views[i].bookkeeping:
                read_rows[i] = _bookkeeping_rows(tensors[i], views[i].name, layout, served)
    kind_of = (lambda i: int(views[i].bookkeeping)) if quantization else (lambda i: 0)  # (the
    # first and second of a group are read: views has them)
    for group in groups:
        first, second = group.members[:2]
        held = held_once(group, read_rows.pop(first), read_rows.pop(second))
        if held is None:  # its reading depends on the expert number: read one by one
            return decouple(checkpoint, layout, tied_default, spec, config_ties, grouped=False)
        placed.append(Placed((kind_of(first), first), held, group.members))
    placed += [Placed((kind_of(i), i), rows) for i, rows in read_rows.items()]
    placed = _extra_layers(placed, checkpoint.config, spec)
    tied_copy = False
    if config_ties:
        placed, tied_copy = _tie_copies(placed)
    singles = singles_in_order(placed)
    tied = any(r.role == Role.UNEMBEDDING and r.tied_to == Role.EMBEDDING for r in singles)
    # (an encoder's spec says a layout that can hold an lm_head holds none: T5's encoder alone)
    has_unembedding = (layout.has_lm_head and (spec is None or spec.has_unembedding)) or (
        spec is not None and spec.mlm_head)
    stored = any(r.role == Role.UNEMBEDDING and r.kind == WEIGHT for r in singles)  # (its bias
    # may be stored alone: BERT's MLM decoder)
    if has_unembedding and tied_default and not stored:
        embedding = next((r for r in singles if r.role == Role.EMBEDDING and r.in_language_model),
                         None)
        if embedding is not None:
            placed.append(Placed((2, 0), [Row(
                embedding.tensor, Role.UNEMBEDDING, None, embedding.kind, embedding.shape,
                canonical="" if layout is INFERRED else "unembed.weight", dtype=embedding.dtype,
                nbytes=embedding.nbytes, tied_to=Role.EMBEDDING, component=embedding.component)]))
            tied = True
    if not groups:
        return Decoupled(checkpoint, layout, in_order(placed), tied, tied_copy, quantization)
    return Decoupled(checkpoint, layout, held_rows(placed), tied, tied_copy, quantization, placed)


def _described_shapes(spec: Spec) -> dict:
    from inspector.spec.describe import parameter_shapes  # a quantized checkpoint's only

    return dict(parameter_shapes(spec))


def _quantization(checkpoint: Checkpoint) -> Quantization | None:
    try:
        return read_quantization(checkpoint.config, checkpoint.tensors)
    except QuantizationError as e:
        raise CheckpointError(checkpoint.source, str(e)) from e


def _logical(tensor: TensorInfo, view: Stored) -> TensorInfo:
    """The tensor as the unquantized model names and shapes it (what layouts match)."""
    if view.name == tensor.name and view.shape == tuple(tensor.shape):
        return tensor
    return tensor._replace(name=view.name, shape=view.shape)


def _packed_rows(tensor: TensorInfo, view: Stored, layout: Layout, spec: Spec | None,
                 described, offset: int = 0) -> list[Row]:
    """The rows of a packed weight: its logical shape (cut where it is fused), its stored
    elements and bytes shared among the parts by their logical sizes. `described()`: the
    spec's shapes by canonical name (None: no spec)."""
    logical = _logical(tensor, view)
    shapes = described() if len(view.shape) == 1 and described is not None else None
    if shapes:  # bitsandbytes 4-bit: flat in the file
        logical = logical._replace(shape=_described_shape(view, layout, shapes) or view.shape)
    rows = _rows(logical, layout, spec, offset)
    whole = prod(logical.shape) or 1
    return [replace(r, tensor=tensor.name, stored=tensor.numel * r.numel // whole) for r in rows]


def _described_shape(view: Stored, layout: Layout, shapes: dict) -> tuple[int, ...] | None:
    """The shape the spec gives the module a flat packed weight fills (its parts stacked on the
    split axis), when its values number as many."""
    found = layout.match(view.name)
    if found is None or found[0].is_buffer or found[0].transposed:
        return None
    rule, layer = found
    parts = [shapes.get(t.replace("{i}", str(layer))) for t in rule.targets]
    if any(p is None or len(p) != 2 for p in parts):
        return None
    shape = (sum(p[0] for p in parts), parts[0][1]) if len(parts) > 1 else parts[0]
    return shape if prod(shape) == view.shape[0] else None


def _bookkeeping_rows(tensor: TensorInfo, serves: str, layout: Layout,
                      served: dict[str, list[Row]]) -> list[Row]:
    """A bookkeeping tensor under the role and layer of the weight it serves; shared among a
    fused weight's parts as its values are (so that bits per weight add up per role)."""
    found = layout.match(serves) if layout.rules else None
    canonical = ""
    if found is not None and not found[0].is_buffer:
        rule = found[0]
        canonical = rule.targets[0].replace("{i}", str(found[1]))
        if "{e}" in canonical:  # one expert's weight, or (a layer's experts in one tensor) all
            canonical = canonical.replace("{e}", str(0 if rule.experts else rule.expert_in(serves)))
    weight_rows = served.get(canonical) or served.get(serves) or []
    whole = sum(r.numel for r in weight_rows)
    if not whole:
        return [Row(tensor.name, None, found[1] if found else None, BOOKKEEPING, tensor.shape,
                    dtype=tensor.dtype, nbytes=tensor.nbytes)]
    if len(weight_rows) == 1:
        r = weight_rows[0]
        return [Row(tensor.name, r.role, r.layer, BOOKKEEPING, tensor.shape, dtype=tensor.dtype,
                    nbytes=tensor.nbytes, expert=r.expert)]
    return [Row(tensor.name, r.role, r.layer, BOOKKEEPING, (tensor.numel * r.numel // whole,),
                dtype=tensor.dtype, nbytes=tensor.nbytes * r.numel // whole, expert=r.expert)
            for r in weight_rows]


def _decoder_offset(checkpoint: Checkpoint, layout: Layout, spec: Spec | None) -> int:
    """The canonical number of an encoder-decoder's first decoder block: the encoder's block
    count, from the spec, else from the stored encoder blocks; 0 for a layout with no decoder
    stack of its own."""
    if not any(rule.after_encoder for rule in layout.rules):
        return 0
    if spec is not None:
        return spec.n_layers
    encoder = {found[1] for found in map(layout.match, (t.name for t in checkpoint.tensors))
               if found is not None and found[1] is not None and not found[0].after_encoder}
    return max(encoder) + 1 if encoder else 0


def _tie_copies(placed: list[Placed]) -> tuple[list[Placed], bool]:
    """A stored unembedding weight of the embedding's shape, in a model whose config ties them,
    marked as the embedding seen again."""
    embedding = next((r for r in singles_in_order(placed) if r.role == Role.EMBEDDING
                      and r.kind == "weight" and r.in_language_model), None)
    copied = False

    def marked(row: Row) -> Row:
        nonlocal copied
        if (embedding is not None and row.role == Role.UNEMBEDDING and row.kind == "weight"
                and row.tied_to is None and row.shape == embedding.shape):
            row, copied = replace(row, tied_to=Role.EMBEDDING), True
        return row

    return each_block(placed, marked), copied


def _rows(tensor: TensorInfo, layout: Layout, spec: Spec | None, offset: int = 0) -> list[Row]:
    """The rows of one stored tensor: by the layout's rule, else by generic name patterns."""
    found = layout.match(tensor.name) if layout.rules else None
    if found is not None:
        rule, layer = found
        layer = rule.canonical_layer(layer, offset)
        if rule.is_buffer:
            return [Row(tensor.name, None, layer, BUFFER, tensor.shape, dtype=tensor.dtype,
                        nbytes=tensor.nbytes)]
        return _parts(tensor, rule, layer, spec)
    guess = _inferred(tensor.name) if layout is INFERRED else None
    if guess is not None:
        role, layer, kind = guess
        return [Row(tensor.name, role, layer, kind, tensor.shape, dtype=tensor.dtype,
                    nbytes=tensor.nbytes)]
    return [Row(tensor.name, None, None, UNMAPPED, tensor.shape, dtype=tensor.dtype,
                nbytes=tensor.nbytes)]


def _component_rows(composite, tensor: TensorInfo, layout: Layout,
                    spec: Spec | None, offset: int = 0) -> list[Row]:
    """The rows of one tensor of a multimodal checkpoint, under its component: the language
    model's read by its family's layout (the name as that family stores it), the rest by the
    part's own rules, else generic name patterns; a name no part claims is read by the patterns,
    under no component."""
    part = composite.part(tensor.name)
    if part is None:
        return _rows(tensor, INFERRED, spec)
    rest = tensor.name[len(part.prefix):]
    if part.text_as is not None:
        rows = _rows(tensor._replace(name=part.text_as + rest), layout, spec, offset)
    elif part.layout is not None and part.layout.match(rest) is not None:
        rows = [replace(r, canonical=f"{part.component}.{r.canonical}")
                for r in _rows(tensor._replace(name=rest), part.layout, None)]
    else:
        rows = _rows(tensor, INFERRED, None)
    return [replace(r, tensor=tensor.name, component=part.component) for r in rows]


def _extra_layers(placed: list[Placed], config: dict | None, spec: Spec | None
                  ) -> list[Placed]:
    """Where the family stores layers past the config's n_layers as a component of their own
    (a multi-token-prediction layer), every row under its component: those layers', and the
    language model's."""
    from inspector.families import by_model_type

    family = by_model_type((config or {}).get("model_type"))
    if family is None or family.extra_layers is None or spec is None:
        return placed
    # (a Repeated's rows are its first expert's: the layer, its first number, is every expert's)
    extra = {r.tensor for p in placed for r in (p.rows.rows if isinstance(p.rows, Repeated)
                                                 else p.rows)
             if _past_layers(r.tensor, spec.n_layers)}
    if not extra:
        return placed
    return each_block(placed, lambda r: replace(
        r, component=family.extra_layers if r.tensor in extra else LANGUAGE_MODEL))


def _past_layers(name: str, n_layers: int) -> bool:
    """Whether a stored name's first number (its layer) is n_layers or more."""
    number = next((p for p in name.split(".") if p.isdigit() and p.isascii()), None)
    return number is not None and int(number) >= n_layers


def split_sizes(rule: Rule, size: int, spec: Spec | None) -> list[int] | None:
    """The sizes of a fused tensor's parts on its split axis, or None when they cannot be told
    (unequal parts and no spec to size them, or sizes that do not add up)."""
    n = len(rule.targets)
    if rule.split_sizes is not None and len(set(rule.split_sizes)) > 1:
        if spec is None:
            return None
        sizes = [getattr(spec, attr) for attr in rule.split_sizes]
        return sizes if sum(sizes) == size else None
    return [size // n] * n if size % n == 0 else None


@cache
def _role_and_kind(target: str) -> tuple[Role, str]:
    """A layout target's role and kind, the same in every layer: parsed once per target, not
    once per tensor (a header may hold 150,000)."""
    role, _, kind = parse(target.replace("{i}", "0").replace("{e}", "0"))
    return role, kind


def _parts(tensor: TensorInfo, rule: Rule, layer: int | None, spec: Spec | None) -> list[Row]:
    """The rows of one stored tensor: its shape in (out, in) order, cut where it is fused; a
    layer's experts stored as one tensor, one expert's rows after another."""
    if rule.experts:
        n, one = (tensor.shape[0] if len(tensor.shape) > 1 else 0), replace(rule, experts=False)
        if not n:  # no axis of experts to read it by: the tensor whole, under no rule
            return [Row(tensor.name, None, layer, UNMAPPED, tensor.shape, dtype=tensor.dtype,
                        nbytes=tensor.nbytes)]
        each = tensor._replace(shape=tuple(tensor.shape[1:]), nbytes=tensor.nbytes // (n or 1))
        return [replace(row, tensor=tensor.name)
                for e in range(n) for row in _parts_of_one(each, one, layer, spec, e)]
    return _parts_of_one(tensor, rule, layer, spec, rule.expert_in(tensor.name))


def _parts_of_one(tensor: TensorInfo, rule: Rule, layer: int | None, spec: Spec | None,
                  expert: int | None) -> list[Row]:
    shape = list(tensor.shape)
    targets = rule.targets
    sizes: list[int | None] = [None]
    if rule.split_axis is not None:
        found = split_sizes(rule, shape[rule.split_axis], spec) \
            if rule.split_axis < len(shape) else None
        if found is None:
            # Not cut evenly: report the tensor whole under its first target rather than guess.
            targets = targets[:1]
        else:
            sizes = found
    rows = []
    total = prod(tensor.shape) or 1
    for target, size in zip(targets, sizes * len(targets) if sizes == [None] else sizes):
        part = list(shape)
        if size is not None:
            part[rule.split_axis] = size
        if rule.transposed and len(part) == 2:
            part.reverse()
        canonical = target.replace("{i}", str(layer)).replace("{e}", str(expert))
        role, kind = _role_and_kind(target)
        rows.append(Row(tensor.name, role, layer, kind, tuple(part), canonical=canonical,
                        dtype=tensor.dtype, nbytes=tensor.nbytes * prod(part) // total,
                        expert=expert))
    return rows


def _inferred(name: str):
    """Role, layer and kind from generic name patterns: imported only when no family's layout
    matched, so that a known family's checkpoint loads no other module of inspector.families."""
    from inspector.families.name_patterns import infer

    return infer(name)
