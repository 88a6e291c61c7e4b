"""Tensors + layout -> rows: every stored value given its role, layer and canonical name.

A fused tensor becomes one row per part; a buffer is a row of its own; a tied unembedding is a row
that repeats the embedding's storage and is marked so that totals add it once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from inspector.canonical import parse
from inspector.formats.base import Checkpoint, TensorInfo
from inspector.layouts import Layout, choose_layout
from inspector.layouts.base import Rule
from inspector.roles import Role
from inspector.rows import BUFFER, UNMAPPED, Row


@dataclass
class Decoupled:
    checkpoint: Checkpoint
    layout: Layout
    rows: list[Row]
    tied: bool  # the unembedding is the embedding's storage


def decouple(checkpoint: Checkpoint, layout: Layout | None = None,
             tied_default: bool = True) -> Decoupled:
    """`tied_default`: whether a decoder with no unembedding tensor ties it to the embedding
    (true for GPT-2 and for whatever config.json says `tie_word_embeddings`)."""
    layout = layout or choose_layout([t.name for t in checkpoint.tensors], checkpoint.config)
    rows: list[Row] = []
    first_role_of_storage: dict[object, Role] = {}
    for tensor in checkpoint.tensors:
        found = layout.match(tensor.name)
        if found is None:
            rows.append(Row(tensor.name, None, None, UNMAPPED, tensor.shape, dtype=tensor.dtype,
                            nbytes=tensor.nbytes))
            continue
        rule, layer = found
        if rule.is_buffer:
            rows.append(Row(tensor.name, None, layer, BUFFER, tensor.shape, dtype=tensor.dtype,
                            nbytes=tensor.nbytes))
            continue
        parts = _parts(tensor, rule, layer)
        tied_to = None
        if tensor.storage is not None:
            tied_to = first_role_of_storage.setdefault(tensor.storage, parts[0].role)
            tied_to = tied_to if tied_to != parts[0].role else None
        rows.extend(replace(p, tied_to=tied_to) for p in parts)
    tied = any(r.role == Role.UNEMBEDDING and r.tied_to == Role.EMBEDDING for r in rows)
    if layout.has_lm_head and tied_default and not any(r.role == Role.UNEMBEDDING for r in rows):
        embedding = next((r for r in rows if r.role == Role.EMBEDDING), None)
        if embedding is not None:
            rows.append(Row(embedding.tensor, Role.UNEMBEDDING, None, embedding.kind,
                            embedding.shape, canonical="unembed.weight", dtype=embedding.dtype,
                            nbytes=embedding.nbytes, tied_to=Role.EMBEDDING))
            tied = True
    return Decoupled(checkpoint, layout, rows, tied)


def _parts(tensor: TensorInfo, rule: Rule, layer: int | None) -> list[Row]:
    """The rows of one stored tensor: its shape in (out, in) order, cut where it is fused."""
    shape = list(tensor.shape)
    n = len(rule.targets)
    if rule.split_axis is not None:
        if rule.split_axis >= len(shape) or shape[rule.split_axis] % n:
            # Not cut evenly: report the tensor whole under its first target rather than guess.
            n = 1
        else:
            shape[rule.split_axis] //= n
    if rule.transposed and len(shape) == 2:
        shape.reverse()
    rows = []
    for target in rule.targets[:n]:
        canonical = target.replace("{i}", str(layer))
        role, _, kind = parse(canonical)
        rows.append(Row(tensor.name, role, layer, kind, tuple(shape), canonical=canonical,
                        dtype=tensor.dtype, nbytes=tensor.nbytes // n))
    return rows
