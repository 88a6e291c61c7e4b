"""Pairing: the same canonical row (and head) of both checkpoints, and the stored tensors to
read side by side for it (inspector.values.diff.reading reads them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inspector.errors import UsageError
from inspector.values.read_plan import Cell, Job, Target, layout_rule, plan
from inspector.vocab.rows import Row

if TYPE_CHECKING:
    from inspector.values.diff.reading import Change

# A row's status. The first three are comparisons; the rest say why a row was not compared.
SAME, CHANGED, DTYPE = "same", "changed", "dtype changed"
SHAPE, ONLY_A, ONLY_B = "shape changed", "only in A", "only in B"
TIED, TIED_A, TIED_B = "tied", "tied in A only", "tied in B only"
COMPARED = (SAME, CHANGED, DTYPE)


def _key(target: Target) -> tuple:
    row = target.row
    name = row.canonical or f"{row.kind}:{row.tensor}"  # buffers and unmapped: by stored name
    return name, target.head



@dataclass
class Entry:
    """One row of the comparison: a canonical row (or a head of it), on one side or both."""
    a: Row | None
    b: Row | None
    head: int | None = None
    change: Change | None = None  # None when the values could not be paired
    status: str = ""
    counted: bool = True  # a parameter stored here (not a tied repeat, not a buffer)

    @property
    def row(self) -> Row:
        return self.a or self.b


@dataclass
class Pair:
    """A stored tensor of A read beside the stored tensor of B that holds the same rows."""
    job_a: Job
    job_b: Job
    cells: list[tuple[Cell, int]] = field(default_factory=list)  # (A's cell, entry index)


def _index(jobs: list[Job]) -> dict[int, tuple[Job, list[Cell]]]:
    """target -> its job and cells (several when its part alternates per head)."""
    out: dict[int, tuple[Job, list[Cell]]] = {}
    for job in jobs:
        for cell in job.cells:
            out.setdefault(cell.target, (job, []))[1].append(cell)
    return out


def _orientation(decoupled, name: str) -> tuple:
    rule = layout_rule(decoupled, name)
    # value_offset: llama.cpp's Gemma norms hold 1 + w where the hub's hold w.
    return (rule.transposed, rule.rotary_permuted, rule.value_offset) if rule \
        else (False, False, 0.0)


def _groups(inspection) -> int | None:
    """Key/value heads: what cuts a tensor whose parts alternate per head."""
    heads = inspection.shape.heads
    return heads[1] if heads else None


def pair_up(a, b, heads: tuple[int, int] | None):
    """Entries (every row of either side) and the pairs of stored tensors to read."""
    jobs_a, targets_a, aliases_a = plan(a.decoupled, heads, _groups(a))
    jobs_b, targets_b, aliases_b = plan(b.decoupled, heads, _groups(b))
    where_a, where_b = _index(jobs_a), _index(jobs_b)
    by_key_b = {_key(t): i for i, t in enumerate(targets_b)}
    entries: list[Entry] = []
    pairs: dict[tuple[str, str], Pair] = {}
    seen_b: set[int] = set()
    for i, target in enumerate(targets_a):
        j = by_key_b.get(_key(target))
        row_b = targets_b[j].row if j is not None else None
        entry = Entry(target.row, row_b, target.head, counted=target.row.counted)
        entries.append(entry)
        if j is None:
            entry.status = ONLY_A
            continue
        seen_b.add(j)
        if (i in aliases_a) != (j in aliases_b):
            entry.status = TIED_A if i in aliases_a else TIED_B
            continue
        if i in aliases_a:  # a tied repeat on both sides: its storage is compared once
            entry.status = TIED
            entry.counted = False
            continue
        (job_a, cells_a), (job_b, cells_b) = where_a[i], where_b[j]
        # Both stored tensors are read block for block, so their stored shapes must agree too
        # (a fused tensor whose parts grew unevenly changes shape while one part keeps its own).
        if target.row.shape != row_b.shape or job_a.info.shape != job_b.info.shape:
            entry.status = SHAPE
            continue
        same_layout = ([(c.r0, c.r1, c.c0, c.c1, c.step, c.phase) for c in cells_a]
                       == [(c.r0, c.r1, c.c0, c.c1, c.step, c.phase) for c in cells_b]
                       and _orientation(a.decoupled, job_a.info.name)
                       == _orientation(b.decoupled, job_b.info.name))
        if not same_layout:
            raise UsageError(job_b.info.file,
                             f"'{job_b.info.name}' stores {target.row.canonical} differently from"
                             f" '{job_a.info.name}' in {job_a.info.file} (fused, transposed or"
                             " reordered or offset otherwise): diff compares checkpoints of one"
                             " layout")
        pair = pairs.setdefault((job_a.info.name, job_b.info.name), Pair(job_a, job_b))
        pair.cells.extend((cell_a, len(entries) - 1) for cell_a in cells_a)
    for j, target in enumerate(targets_b):
        if j not in seen_b:
            entries.append(Entry(None, target.row, target.head, status=ONLY_B,
                                 counted=target.row.counted))
    return entries, list(pairs.values())


def merge_pairs(pairs: list[Pair], more: list[Pair], offset: int) -> list[Pair]:
    """`more`'s cells (their entries numbered from `offset`) added to the pair of the same two
    stored tensors in `pairs`."""
    by_names = {(p.job_a.info.name, p.job_b.info.name): p for p in pairs}
    for pair in more:
        cells = [(cell, i + offset) for cell, i in pair.cells]
        key = (pair.job_a.info.name, pair.job_b.info.name)
        by_names.setdefault(key, Pair(pair.job_a, pair.job_b)).cells.extend(cells)
    return list(by_names.values())

