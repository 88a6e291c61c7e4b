"""Reading both sides block by block: the same blocks of the two stored tensors of each pair,
compared by inspector.values.kernels into mergeable Changes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from inspector.values import blocks as V
from inspector.values import engine, kernels
from inspector.values.diff.pairing import Pair


@dataclass
class Change:
    """Mergeable comparison of paired values a (first checkpoint) and b (second)."""
    count: int = 0
    changed: int = 0  # values with |b - a| > tolerance, or non-finite on one side only
    aa: float = 0.0  # sum of a^2 over values finite on both sides
    bb: float = 0.0
    dd: float = 0.0  # sum of (b - a)^2
    ab: float = 0.0
    max_abs: float = 0.0
    nonfinite: int = 0  # NaN or Inf on one side, or different Infs: left out of the sums

    def merge(self, other: Change) -> Change:
        self.count += other.count
        self.changed += other.changed
        self.aa += other.aa
        self.bb += other.bb
        self.dd += other.dd
        self.ab += other.ab
        self.max_abs = max(self.max_abs, other.max_abs)
        self.nonfinite += other.nonfinite
        return self

    def as_dict(self) -> dict:
        if not self.count:  # nothing compared: no change to give, not a change of 0
            return {"values": 0, "changed": 0, "rel_l2": None, "max_abs": None, "cosine": None,
                    "nonfinite": 0}
        norm_a, norm_b = math.sqrt(self.aa), math.sqrt(self.bb)
        if norm_a:
            rel = math.sqrt(self.dd) / norm_a
        else:
            rel = 0.0 if self.dd == 0 else None  # a is all zeros: no relative change to give
        cosine = None  # undefined when either side is all zeros
        if norm_a and norm_b:
            # sqrt(x * x) == x in IEEE arithmetic, so identical sides give exactly 1.0.
            product = self.aa * self.bb
            denominator = math.sqrt(product) if math.isfinite(product) else norm_a * norm_b
            cosine = max(-1.0, min(1.0, self.ab / denominator))  # rounding can pass 1
        return {"values": self.count, "changed": self.changed, "rel_l2": rel,
                # None, not Infinity (which is not JSON), when a NaN or Inf is on one side only
                "max_abs": self.max_abs if self.nonfinite == 0 else None, "cosine": cosine,
                "nonfinite": self.nonfinite}


def compare(ra, ha, rb, hb, first: int, rows: int, cols: int, stride: int,
            tolerance: float) -> Change:
    """The change over a window of two blocks' raw values (inspector.values.engine.window,
    inspector.values.kernels)."""
    return _change(rows * cols, kernels.compare(ra, ha, rb, hb, first, rows, cols, stride,
                                                tolerance))


def _change(count: int, compared: tuple) -> Change:
    changed, aa, bb, dd, ab, largest, nonfinite = compared
    return Change(count=count, changed=changed, aa=aa, bb=bb, dd=dd, ab=ab, max_abs=largest,
                  nonfinite=nonfinite)


def _blocks(pair: Pair, block_values: int) -> list[V.Block]:
    """The same blocks of both tensors. Quantized formats cut at their own block sizes; when the
    two cuts disagree, whole rows (a multiple of every block size) serve both."""
    blocks = V.blocks(pair.job_a.info, block_values)
    if blocks != V.blocks(pair.job_b.info, block_values):
        cols = V.matrix(pair.job_a.info)[1]
        blocks = V.blocks(pair.job_a.info, max(block_values, cols))
    return blocks


def _read_pair(pair: Pair, mapped_a: V.Mapped, mapped_b: V.Mapped, block: V.Block,
               tolerance: float, numpy: bool) -> list[tuple[int, Change]]:
    ra, ha = V.raw(pair.job_a.info, mapped_a, block)
    rb, hb = V.raw(pair.job_b.info, mapped_b, block)
    entries, windows, apart = [], [], []
    for cell, entry in pair.cells:
        where = engine.window(block, cell)
        if where is None:
            continue
        if cell.step == 1:
            entries.append(entry)
            windows.append(where)
        else:  # a part interleaved value by value: the same strided view of both sides
            va, part = engine.part_window(ra, block, cell, where)
            vb, _ = engine.part_window(rb, block, cell, where)
            apart.append((entry, part, kernels.compare(va, ha, vb, hb, *part, tolerance, numpy)))
    results = kernels.compare_many(ra, ha, rb, hb, windows, tolerance, numpy)
    V.release(pair.job_a.info, mapped_a, block)
    V.release(pair.job_b.info, mapped_b, block)
    return [(entry, _change(w[1] * w[2], r)) for entry, w, r in zip(entries, windows, results)] \
        + [(entry, _change(w[1] * w[2], r)) for entry, w, r in apart]


def compute(pairs: list[Pair], changes: list[Change], tolerance: float,
            workers: int | None = None, block_values: int = engine.BLOCK_VALUES,
            bar=None) -> None:
    """Fill `changes` (one per entry)."""
    files = engine.Files()
    numpy = kernels.numpy_for(sum(p.job_a.info.nbytes + p.job_b.info.nbytes for p in pairs))

    def tasks():
        for pair in pairs:
            info_a, info_b = pair.job_a.info, pair.job_b.info
            mapped_a, mapped_b = files.mapped(info_a.file), files.mapped(info_b.file)
            for block in _blocks(pair, block_values):
                share = ((info_a.nbytes + info_b.nbytes) * (block.stop - block.start)
                         // max(info_a.numel, 1))
                yield share, _read_pair, (pair, mapped_a, mapped_b, block, tolerance, numpy)

    try:
        engine.run_blocks(tasks(), changes, workers or engine.default_workers(), bar)
    finally:
        files.close()
