"""Weight statistics of a checkpoint, streamed block by block: per stored tensor (a fused
c_attn's query, key and value parts apart), and rolled up by role, layer and head.

Never builds the model, never imports torch. inspector.values.read_plan says which stored tensors to read
and which rectangles of them feed each row; inspector.values.engine reads them block by block on a
pool of threads, one per idle core; inspector.values.kernels computes every statistic of a rectangle of
a block in one pass. Memory stays at a few blocks per thread, whatever the checkpoint's size.

Exactness. A block yields, for each rectangle of the tensor it touches (a part, or a head of a
part), its count, min, max, zeros, NaN and Inf counts, mean and M2 = sum((x - mean)^2) over its
finite values, all summed in float64 (inspector.values.kernels). Partial results combine exactly, in
float64, by Chan et al.'s pairwise update (the same algebra as adding sums and sums of squares,
without the cancellation that sum(x^2)/n - mean^2 suffers when |mean| >> std, as for norm
scales near 1): never averages of averages. `std` is the population standard deviation (ddof
0), over the finite values, as are mean, min, max, absmax and l2; zeros is a fraction of all
values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from inspector.checkpoint.quantization import refuse_values
from inspector.checkpoint.tensor_rows import Decoupled
from inspector.errors import UsageError
from inspector.values import blocks as V
from inspector.values import engine, kernels
from inspector.values.read_plan import Job, Target, plan
from inspector.vocab.roles import role_sort_key
from inspector.vocab.tables import (
    HEADS_UNKNOWN,
    TABLE_KEYS,
    head_order,
    layer_sort_key,
    role_name,
    select,
)

STAT_COLUMNS = ("values", "mean", "std", "min", "max", "absmax", "l2", "zeros", "nan", "inf")


@dataclass
class Acc:
    """Mergeable statistics of a set of values."""
    count: int = 0  # all values
    n: int = 0  # finite values
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean
    lo: float = math.inf
    hi: float = -math.inf
    zeros: int = 0
    nan: int = 0
    inf: int = 0

    def merge(self, other: Acc) -> Acc:
        if other.n:
            n = self.n + other.n
            delta = other.mean - self.mean
            self.mean += delta * other.n / n
            self.m2 += other.m2 + delta * delta * self.n * other.n / n
            self.n = n
            self.lo, self.hi = min(self.lo, other.lo), max(self.hi, other.hi)
        self.count += other.count
        self.zeros += other.zeros
        self.nan += other.nan
        self.inf += other.inf
        return self

    def as_dict(self) -> dict:
        finite = self.n > 0
        squares = self.m2 + self.n * self.mean * self.mean
        return {
            "values": self.count,
            "mean": self.mean if finite else None,
            "std": math.sqrt(max(self.m2, 0.0) / self.n) if finite else None,
            "min": self.lo if finite else None,
            "max": self.hi if finite else None,
            "absmax": max(abs(self.lo), abs(self.hi)) if finite else None,
            "l2": math.sqrt(squares) if finite else None,
            "zeros": self.zeros / self.count if self.count else None,
            "nan": self.nan,
            "inf": self.inf,
        }


def _acc(count: int, moments: tuple) -> Acc:
    nan, inf, zeros, shift, s, q, lo, hi = moments
    n = count - nan - inf
    if not n:
        return Acc(count=count, nan=nan, inf=inf)
    mean = s / n
    # Around the shift: M2 = sum((x - c)^2) - n (mean - c)^2, with mean - c = s / n.
    return Acc(count=count, n=n, mean=shift + mean, m2=max(q - s * mean, 0.0), lo=lo + 0.0,
               hi=hi + 0.0, zeros=zeros, nan=nan, inf=inf)


# --- Reading: every block of every job, through the engine ---

def compute(jobs: list[Job], n_targets: int, workers: int | None = None,
            block_values: int = engine.BLOCK_VALUES, bar=None) -> list[Acc]:
    """Statistics per target."""
    accs = [Acc() for _ in range(n_targets)]
    files = engine.Files()
    numpy = kernels.numpy_for(sum(job.info.nbytes for job in jobs))

    def tasks():
        for job in jobs:
            mapped = files.mapped(job.info.file)
            for block in V.blocks(job.info, block_values):
                share = job.info.nbytes * (block.stop - block.start) // max(job.info.numel, 1)
                yield share, _read_block, (job, mapped, block, numpy)

    try:
        engine.run_blocks(tasks(), accs, workers or engine.default_workers(), bar)
    finally:
        files.close()
    return accs


def _read_block(job: Job, mapped: V.Mapped, block: V.Block, numpy: bool
                ) -> list[tuple[int, Acc]]:
    raw, how = V.raw(job.info, mapped, block)
    targets, windows, apart = [], [], []
    for cell in job.cells:
        where = engine.window(block, cell)
        if where is None:
            continue
        if cell.step == 1:  # read together, in one pass where they share rows
            targets.append(cell.target)
            windows.append(where)
        else:  # a part interleaved value by value: its own strided view
            values, part = engine.part_window(raw, block, cell, where)
            apart.append((cell.target, part, kernels.moments(values, how, *part, numpy=numpy)))
    results = kernels.moments_many(raw, how, windows, numpy)
    V.release(job.info, mapped, block)
    return [(target, _acc(w[1] * w[2], m)) for target, w, m in zip(targets, windows, results)] \
        + [(target, _acc(w[1] * w[2], m)) for target, w, m in apart]


# --- Roll-ups: rows of dicts for report.render ---

def tensor_rows(targets: list[Target], accs: list[Acc]) -> list[dict]:
    out = []
    for target, acc in zip(targets, accs):
        r = target.row
        out.append({"tensor": r.tensor, "canonical": r.canonical or None, "role": role_name(r),
                    "layer": r.layer, "kind": r.kind, "dtype": r.dtype, "shape": list(r.shape),
                    **acc.as_dict(), "tied_to": r.tied_to.value if r.tied_to else None})
    return out


def role_rows(targets: list[Target], accs: list[Acc]) -> list[dict]:
    sums: dict[str, Acc] = {}
    tied: dict[str, str] = {}
    for target, acc in zip(targets, accs):
        r = target.row
        if not r.is_parameter:
            continue
        name = role_name(r)
        sums.setdefault(name, Acc()).merge(acc)
        if r.tied_to is not None:
            tied[name] = r.tied_to.value
    return [{"role": name, **sums[name].as_dict(), "tied_to": tied.get(name)}
            for name in sorted(sums, key=role_sort_key)]


def layer_rows(targets: list[Target], accs: list[Acc]) -> list[dict]:
    counted = {id(r) for r in select([t.row for t in targets])}
    sums: dict[int | None, Acc] = {}
    for target, acc in zip(targets, accs):
        if id(target.row) in counted:
            sums.setdefault(target.row.layer, Acc()).merge(acc)
    return [{"layer": layer, **sums[layer].as_dict()} for layer in sorted(sums, key=layer_sort_key)]


def head_rows(targets: list[Target], accs: list[Acc]) -> list[dict]:
    rows = [{"layer": t.row.layer, "head": t.head, "role": role_name(t.row), "tensor": t.row.tensor,
             "kind": t.row.kind, **acc.as_dict()} for t, acc in zip(targets, accs)]
    return sorted(rows, key=lambda r: head_order(r["layer"], r["role"]))


def total(targets: list[Target], accs: list[Acc]) -> dict:
    """Every stored parameter once (tied repeats and buffers left out)."""
    counted = {id(r) for r in select([t.row for t in targets])}
    acc = Acc()
    for target, part in zip(targets, accs):
        if id(target.row) in counted:
            acc.merge(part)
    return acc.as_dict()


ROLLUPS = {"role": role_rows, "layer": layer_rows, "head": head_rows, "tensor": tensor_rows}


def weight_stats(decoupled: Decoupled, by: str = "role", heads: tuple[int, int] | None = None,
                 workers: int | None = None, block_values: int = engine.BLOCK_VALUES,
                 progress: bool = True) -> dict:
    """The statistics document: totals, and the rows of the roll-up `by` names."""
    if by not in ROLLUPS:
        raise UsageError("--by", f"must be one of {', '.join(ROLLUPS)}")
    if by == "head" and not (heads and heads[0]):
        raise UsageError(decoupled.checkpoint.source, HEADS_UNKNOWN)
    refuse_values(decoupled.checkpoint.source, decoupled.quantization, "stats")
    jobs, targets, aliases = plan(decoupled, heads if by == "head" else None,
                                  groups=heads[1] if heads else None)
    nbytes = sum(job.info.nbytes for job in jobs)
    bar = engine.progress(nbytes, "stats") if progress else None
    accs = compute(jobs, len(targets), workers, block_values, bar)
    for alias, original in aliases.items():
        accs[alias] = accs[original]
    checkpoint = decoupled.checkpoint
    document = {
        "source": checkpoint.source,
        "format": checkpoint.format,
        "layout": decoupled.layout.name,
        "tensors_read": len(jobs),
        "bytes_read": nbytes,
        "total": total(targets, accs) if by != "head" else None,
        TABLE_KEYS[by]: ROLLUPS[by](targets, accs),
    }
    if by == "head":
        document.pop("total")
    return document


# --- What the table and markdown formats show (JSON shows the whole document) ---

COLUMNS = {
    "role": ["role", *STAT_COLUMNS, "tied_to"],
    "layer": ["layer", *STAT_COLUMNS],
    "head": ["layer", "head", "role", "kind", *STAT_COLUMNS],
    "tensor": ["tensor", "role", "layer", "kind", "dtype", *STAT_COLUMNS],
}


def summary_pairs(document: dict) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [
        ("source", document["source"]),
        ("format", f"{document['format']} ({document['layout']} layout)"),
        ("read", f"{document['tensors_read']:,} tensors, {document['bytes_read']:,} bytes"),
    ]
    t = document.get("total")
    if t and t["values"]:
        line = (f"{t['values']:,} values: mean {_g(t['mean'])}, std {_g(t['std'])}, absmax"
                f" {_g(t['absmax'])}, zeros {_g(t['zeros'])}, NaN {t['nan']:,}, Inf {t['inf']:,}")
        pairs.append(("parameters", line))
    return pairs


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
