"""Tensors + layout -> rows: every stored value given its role, layer and canonical name.

A fused tensor becomes one row per part; a buffer is a row of its own; a tied unembedding is a row
that repeats the embedding's storage and is marked so that totals add it once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from math import prod

from inspector.canonical import parse
from inspector.formats.base import Checkpoint, TensorInfo
from inspector.inferred import infer
from inspector.layout import Layout, Rule
from inspector.roles import Role
from inspector.rows import BUFFER, UNMAPPED, WEIGHT, Row
from inspector.spec import Spec


@dataclass
class Decoupled:
    checkpoint: Checkpoint
    layout: Layout  # INFERRED when no family's layout recognises it
    rows: list[Row]
    tied: bool  # the unembedding is the embedding's storage
    tied_copy: bool = False  # the file also stores the tied unembedding: a copy, counted once

    @property
    def inferred(self) -> bool:
        """Roles come from generic name patterns, not from a family's layout."""
        return self.layout is INFERRED


# The layout of a checkpoint no family's layout recognises: it has no rules, and its tensors'
# roles are inferred from generic name patterns (inspector.inferred).
INFERRED = Layout(name="inferred", rules=())


def decouple(checkpoint: Checkpoint, layout: Layout | None = None,
             tied_default: bool = True, spec: Spec | None = None,
             config_ties: bool = False) -> Decoupled:
    """`tied_default`: whether a decoder with no unembedding tensor ties it to the embedding
    (true for GPT-2 and for whatever config.json says `tie_word_embeddings`). `spec` (config.json
    read as one, or a --spec) gives the sizes of a fused tensor's unequal parts (a grouped-query
    qkv). `config_ties`: the checkpoint's own config.json ties the embeddings, so a stored
    unembedding is a copy that transformers ties on loading: counted once, as transformers
    counts it."""
    from inspector.families import checkpoint_layout

    layout = layout or checkpoint_layout(checkpoint) or INFERRED
    offset = _decoder_offset(checkpoint, layout, spec)
    rows: list[Row] = []
    first_role_of_storage: dict[object, Role] = {}
    for tensor in checkpoint.tensors:
        parts = _rows(tensor, layout, spec, offset)
        tied_to = None
        if tensor.storage is not None and parts[0].role is not None:
            tied_to = first_role_of_storage.setdefault(tensor.storage, parts[0].role)
            tied_to = tied_to if tied_to != parts[0].role else None
        rows.extend(replace(p, tied_to=tied_to) if tied_to else p for p in parts)
    tied_copy = False
    if config_ties:
        rows, tied_copy = _tie_copies(rows)
    tied = any(r.role == Role.UNEMBEDDING and r.tied_to == Role.EMBEDDING for r in rows)
    # (an encoder's spec says a layout that can hold an lm_head holds none: T5's encoder alone)
    has_unembedding = (layout.has_lm_head and (spec is None or spec.has_unembedding)) or (
        spec is not None and spec.mlm_head)
    stored = any(r.role == Role.UNEMBEDDING and r.kind == WEIGHT for r in rows)  # (its bias
    # may be stored alone: BERT's MLM decoder)
    if has_unembedding and tied_default and not stored:
        embedding = next((r for r in rows if r.role == Role.EMBEDDING), None)
        if embedding is not None:
            rows.append(Row(embedding.tensor, Role.UNEMBEDDING, None, embedding.kind,
                            embedding.shape,
                            canonical="" if layout is INFERRED else "unembed.weight",
                            dtype=embedding.dtype, nbytes=embedding.nbytes,
                            tied_to=Role.EMBEDDING))
            tied = True
    return Decoupled(checkpoint, layout, rows, tied, tied_copy)


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


def _tie_copies(rows: list[Row]) -> tuple[list[Row], bool]:
    """A stored unembedding weight of the embedding's shape, in a model whose config ties them,
    marked as the embedding seen again."""
    embedding = next((r for r in rows if r.role == Role.EMBEDDING and r.kind == "weight"), None)
    out, copied = [], False
    for row in rows:
        if (embedding is not None and row.role == Role.UNEMBEDDING and row.kind == "weight"
                and row.tied_to is None and row.shape == embedding.shape):
            row, copied = replace(row, tied_to=Role.EMBEDDING), True
        out.append(row)
    return out, copied


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
    guess = infer(tensor.name) if layout is INFERRED else None
    if guess is not None:
        role, layer, kind = guess
        return [Row(tensor.name, role, layer, kind, tensor.shape, dtype=tensor.dtype,
                    nbytes=tensor.nbytes)]
    return [Row(tensor.name, None, None, UNMAPPED, tensor.shape, dtype=tensor.dtype,
                nbytes=tensor.nbytes)]


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
    role, _, kind = parse(target.replace("{i}", "0"))
    return role, kind


def _parts(tensor: TensorInfo, rule: Rule, layer: int | None, spec: Spec | None) -> list[Row]:
    """The rows of one stored tensor: its shape in (out, in) order, cut where it is fused."""
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
        canonical = target.replace("{i}", str(layer))
        role, kind = _role_and_kind(target)
        rows.append(Row(tensor.name, role, layer, kind, tuple(part), canonical=canonical,
                        dtype=tensor.dtype, nbytes=tensor.nbytes * prod(part) // total))
    return rows
