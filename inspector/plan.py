"""What `stats` and `diff` read: each stored tensor once (a Job), with the rectangles of it (Cells:
a fused part, or one head of a part) that feed each row of the result (a Target).

A tensor is seen as a matrix (inspector.formats.values.matrix); a fused tensor's parts are cut
along the axis its layout rule names, and heads along the canonical out-dim (in-dim for the
output projection), the other stored axis when the layout stores it transposed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inspector.decouple import Decoupled
from inspector.errors import UsageError
from inspector.formats import values as V
from inspector.formats.base import TensorInfo
from inspector.roles import HEAD_ROLES, Role
from inspector.rows import BIAS, Row


@dataclass(frozen=True)
class Cell:
    target: int  # index of the statistics this rectangle adds to
    r0: int
    r1: int
    c0: int
    c1: int


@dataclass
class Job:
    info: TensorInfo
    cells: list[Cell] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    row: Row
    head: int | None = None


def plan(decoupled: Decoupled, heads: tuple[int, int] | None = None
         ) -> tuple[list[Job], list[Target], dict[int, int]]:
    """Jobs (stored tensors to read), targets (one per row, or per (row, head) when `heads` is
    (n_heads, n_kv_heads)), and aliases: a tied row's target -> the target it repeats."""
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
        if heads is not None and (row.role not in HEAD_ROLES or row.tied_to is not None
                                  or (row.role == Role.OUTPUT and row.kind == BIAS)):
            continue
        info = infos[row.tensor]
        if row.tied_to is not None and row.tensor in first_target:
            aliases[len(targets)] = first_target[row.tensor]
            targets.append(Target(row))
            continue
        siblings = parts.get(row.tensor, [row])
        k = siblings.index(row) if row in siblings else 0
        rect = _part(info, decoupled, row, k, len(siblings))
        job = jobs.setdefault(row.tensor, Job(info))
        if heads is None:
            first_target.setdefault(row.tensor, len(targets))
            job.cells.append(Cell(len(targets), *rect))
            targets.append(Target(row))
            continue
        n_heads, n_kv = heads
        count = n_kv if row.role in (Role.KEY, Role.VALUE) else n_heads
        for head, cell_rect in enumerate(_heads(info, decoupled, row, rect, count)):
            job.cells.append(Cell(len(targets), *cell_rect))
            targets.append(Target(row, head))
    for job in jobs.values():
        V.check_readable(job.info)
    return list(jobs.values()), targets, aliases


def layout_rule(decoupled: Decoupled, name: str):
    """The layout rule that maps the stored tensor `name`, or None (unmapped)."""
    found = decoupled.layout.match(name)
    return found[0] if found else None


def _axis_span(info: TensorInfo, axis: int, lo: int, hi: int) -> tuple[str, int, int]:
    """A range [lo, hi) of one stored axis as a range of the matrix's rows or columns."""
    shape = info.shape
    if len(shape) <= 1 or axis == len(shape) - 1:
        return "cols", lo, hi
    if axis == 0:
        per = math.prod(shape[1:-1])
        return "rows", lo * per, hi * per
    raise UsageError(info.name, f"cannot cut a {list(shape)} tensor along axis {axis}")


def _part(info: TensorInfo, decoupled: Decoupled, row: Row, k: int, n: int) -> tuple:
    rows, cols = V.matrix(info)
    rect = [0, rows, 0, cols]
    rule = layout_rule(decoupled, row.tensor)
    if n > 1 and rule is not None and rule.split_axis is not None:
        size = info.shape[rule.split_axis] // n
        which, lo, hi = _axis_span(info, rule.split_axis, k * size, (k + 1) * size)
        if which == "rows":
            rect[0], rect[1] = lo, hi
        else:
            rect[2], rect[3] = lo, hi
    return tuple(rect)


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
