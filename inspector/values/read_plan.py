"""What `stats` and `diff` read: each stored tensor once (a Job), with the rectangles of it (Cells:
a fused part, or one head of a part) that feed each row of the result (a Target).

A tensor is seen as a matrix (inspector.values.blocks.matrix); a fused tensor's parts are cut
along the axis its layout rule names, and heads along the canonical out-dim (in-dim for the
output projection), the other stored axis when the layout stores it transposed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inspector.checkpoint.tensor_rows import Decoupled
from inspector.errors import UsageError
from inspector.formats.base import TensorInfo
from inspector.values import blocks as V
from inspector.vocab.roles import Role
from inspector.vocab.rows import Row


@dataclass(frozen=True)
class Cell:
    target: int  # index of the statistics this rectangle adds to
    r0: int
    r1: int
    c0: int
    c1: int
    # Of the rectangle's columns, every `step`-th from those equal to `phase` mod step: a part
    # interleaved value by value with its siblings (gpt-oss's gate_up_proj: gate, up, gate, ...)
    step: int = 1
    phase: int = 0


@dataclass
class Job:
    info: TensorInfo
    cells: list[Cell] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    row: Row
    head: int | None = None


def plan(decoupled: Decoupled, heads: tuple[int, int] | None = None, groups: int | None = None
         ) -> tuple[list[Job], list[Target], dict[int, int]]:
    """Jobs (stored tensors to read), targets (one per row, or per (row, head) when `heads` is
    (n_heads, n_kv_heads)), and aliases: a tied row's target -> the target it repeats.
    `groups` is the number of key/value heads, which a fused tensor whose parts alternate per
    head (Rule.head_interleaved) needs to be cut; None when not known."""
    infos = {t.name: t for t in decoupled.checkpoint.tensors}
    parts: dict[str, list[Row]] = {}
    for row in decoupled.rows:
        if row.tied_to is None:
            parts.setdefault(row.tensor, []).append(row)
    jobs: dict[str, Job] = {}
    targets: list[Target] = []
    aliases: dict[int, int] = {}
    first_target: dict[str, int] = {}
    for row in decoupled.rows:
        if heads is not None and (not row.cut_by_head or row.tied_to is not None):
            continue
        info = infos[row.tensor]
        if row.tied_to is not None and row.tensor in first_target:
            aliases[len(targets)] = first_target[row.tensor]
            targets.append(Target(row))
            continue
        siblings = parts.get(row.tensor, [row])
        k = siblings.index(row) if row in siblings else 0
        rects = _part_cells(info, decoupled, row, siblings, k, groups)
        job = jobs.setdefault(row.tensor, Job(info))
        if heads is None:
            first_target.setdefault(row.tensor, len(targets))
            job.cells.extend(Cell(len(targets), *rect) for rect in rects)
            targets.append(Target(row))
            continue
        n_heads, n_kv = heads
        count = n_kv if row.role in (Role.KEY, Role.VALUE) else n_heads
        if count % len(rects):
            raise UsageError(row.tensor, f"its {len(rects)} key/value groups do not hold"
                                         f" {count} heads evenly; pass --spec SPEC with the"
                                         " right head counts")
        if any(len(rect) > 4 for rect in rects):  # no family interleaves a head's part so
            raise UsageError(row.tensor, "its parts alternate value by value: --by head cannot"
                                         " cut it")
        head = 0
        for rect in rects:  # a part in groups (head-interleaved): its heads group by group
            for cell_rect in _heads(info, decoupled, row, rect, count // len(rects)):
                job.cells.append(Cell(len(targets), *cell_rect))
                targets.append(Target(row, head))
                head += 1
    for job in jobs.values():
        V.check_readable(job.info)
    return list(jobs.values()), targets, aliases


def layout_rule(decoupled: Decoupled, name: str):
    """The layout rule that maps the stored tensor `name`, or None (unmapped)."""
    found = decoupled.layout.match(name)
    return found[0] if found else None


def _part_cells(info: TensorInfo, decoupled: Decoupled, row: Row, siblings: list[Row], k: int,
                groups: int | None) -> list[tuple]:
    """The rectangles of the stored matrix that hold part k of a fused tensor: its parts are
    sized as decouple cut them (each sibling row's extent on the split axis: a grouped-query
    qkv's query is wider than its key); one rectangle when they are consecutive, one per
    key/value head when they alternate per head ("(g parts d)": BLOOM's and GPT-NeoX's
    query_key_value, Falcon's, DeepSeek's kv_b_proj), every n-th column when they alternate
    value by value (gpt-oss's gate_up_proj). A layer's experts stored in one tensor (axis 0)
    are cut first: the rule's axes are then one expert's."""
    rows, cols = V.matrix(info)
    rule = layout_rule(decoupled, row.tensor)
    shape, top = tuple(info.shape), 0
    if rule is not None and rule.experts and len(shape) > 1:
        siblings = [s for s in siblings if s.expert == row.expert]
        k = siblings.index(row) if row in siblings else 0
        shape = shape[1:]
        rows = math.prod(shape[:-1]) if len(shape) > 1 else 1  # one expert's rows
        top = (row.expert or 0) * rows
    whole = (top, top + rows, 0, cols)
    if len(siblings) <= 1 or rule is None or rule.split_axis is None:
        return [whole]
    axis = rule.split_axis
    canonical_axis = 1 - axis if rule.transposed and len(shape) == 2 else axis
    sizes = [s.shape[canonical_axis] if len(s.shape) > canonical_axis else 0 for s in siblings]
    last = axis == len(shape) - 1
    if sum(sizes) != shape[axis] or not (last or axis == 0):
        raise UsageError(row.tensor, f"cannot tell where its {row.role.value if row.role else ''}"
                                     f" part lies in a {list(info.shape)} tensor")
    if rule.interleaved:
        if not last or len(set(sizes)) > 1:
            raise UsageError(row.tensor, "its parts alternate value by value along an axis"
                                         " this reader does not cut")
        return [(*whole, len(siblings), k)]
    start, stop = sum(sizes[:k]), sum(sizes[:k + 1])
    spans = [(start, stop)]
    if rule.head_interleaved:
        if not groups or any(size % groups for size in sizes):
            raise UsageError(row.tensor, "its parts alternate per key/value head, and the number"
                                         " of those heads is not known" + (
                                             f" to be one that divides them ({groups})"
                                             if groups else "")
                             + "; pass --spec SPEC with the head counts")
        group = shape[axis] // groups
        spans = [(g * group + start // groups, g * group + stop // groups) for g in range(groups)]
    if last:
        return [(top, top + rows, lo, hi) for lo, hi in spans]
    per = math.prod(shape[1:-1]) if len(shape) > 1 else 1  # matrix rows per index of axis 0
    return [(top + lo * per, top + hi * per, 0, cols) for lo, hi in spans]


def _heads(info: TensorInfo, decoupled: Decoupled, row: Row, rect: tuple, count: int
           ) -> list[tuple]:
    """The part's rectangle cut into `count` heads: along the canonical out-dim for query, key
    and value (weights and biases), along the in-dim for the output weight; stored transposed
    (GPT-2's Conv1D) means the other stored axis."""
    rule = layout_rule(decoupled, row.tensor)
    axis = 1 if row.role == Role.OUTPUT else 0
    if len(info.shape) == 2 and rule is not None and rule.transposed:
        axis = 1 - axis
    if len(info.shape) == 1:
        axis = 0
    r0, r1, c0, c1 = rect
    which = "cols" if len(info.shape) <= 1 or axis == len(info.shape) - 1 else "rows"
    lo, hi = (c0, c1) if which == "cols" else (r0, r1)
    if (hi - lo) % count:
        raise UsageError(row.tensor, f"{hi - lo:,} {'columns' if which == 'cols' else 'rows'}"
                                     f" of its {row.role.value} part do not split into {count}"
                                     " heads; pass --spec SPEC with the right head counts")
    size = (hi - lo) // count
    out = []
    for h in range(count):
        a, b = lo + h * size, lo + (h + 1) * size
        out.append((r0, r1, a, b) if which == "cols" else (a, b, c0, c1))
    return out
