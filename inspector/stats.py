"""Weight statistics of a checkpoint, streamed block by block: per stored tensor (a fused
c_attn's query, key and value parts apart), and rolled up by role, layer and head.

Never builds the model, never imports torch. Each stored tensor is cut into blocks of about a
million values (inspector.formats.values); a pool of threads, one per idle core, reads and
reduces blocks side by side (pread and numpy's loops release the GIL), at most two blocks per
thread in flight, and the main thread merges the partial results in order. Memory stays at a few
blocks per thread, whatever the size of the checkpoint.

Exactness. A block yields, for each rectangle of the tensor it touches (a part, or a head of a
part), its count, min, max, zeros, NaN and Inf counts, mean and M2 = sum((x - mean)^2) over its
finite values. Partial results combine exactly, in float64, by Chan et al.'s pairwise update
(the same algebra as adding sums and sums of squares, without the cancellation that
sum(x^2)/n - mean^2 suffers when |mean| >> std, as for norm scales near 1): never averages of
averages. Within a block, float32 values are summed in float32 along rows of at most ROW values
and the row sums in float64. `std` is the population standard deviation (ddof 0), over the
finite values, as are mean, min, max, absmax and l2; zeros is a fraction of all values.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inspector.decouple import Decoupled
from inspector.errors import UsageError
from inspector.formats import values as V
from inspector.formats.base import TensorInfo
from inspector.roles import HEAD_ROLES, Role, role_sort_key
from inspector.rows import BIAS, BUFFER, Row
from inspector.tables import HEADS_UNKNOWN, TABLE_KEYS, UNMAPPED_ROLE, layer_sort_key, select

STAT_COLUMNS = ("values", "mean", "std", "min", "max", "absmax", "l2", "zeros", "nan", "inf")
BLOCK_VALUES = 1 << 20  # values per block: ~4 MB of float32, a few in flight per thread
ROW = 4096  # float32 partial sums run along rows this long, then add up in float64
# Above this mean^2 / mean(x^2), M2 is summed from deviations, not from sum(x^2) - n mean^2.
CANCELLATION = 1e-2


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


def measure(x: np.ndarray, scratch: V.Scratch | None = None) -> Acc:
    """Statistics of a float array (1-D, or 2-D with contiguous rows). `scratch` holds the
    temporaries, reused from block to block."""
    if x.size == 0:
        return Acc()
    scratch = scratch or V.Scratch(0)
    lo, hi = float(np.minimum.reduce(x, axis=None)), float(np.maximum.reduce(x, axis=None))
    if not (math.isfinite(lo) and math.isfinite(hi)):  # min and max carry any NaN through
        return _measure_nonfinite(x)
    n = x.size
    pieces = _pieces(x)
    total = sum(float(np.vecdot(p, _ones(p.shape[1], p.dtype)).sum(dtype=np.float64))
                for p in pieces)
    squares = sum(float(np.vecdot(p, p).sum(dtype=np.float64)) for p in pieces)
    mean = total / n
    if mean * mean <= CANCELLATION * squares / n:
        m2 = squares - n * mean * mean  # |mean| small beside the rms: no cancellation to fear
    else:
        # Deviations from the mean rounded to x's precision, then the exact correction for that
        # rounding: sum((x - c)^2) = M2 + n (mean - c)^2.
        c = x.dtype.type(mean)
        m2 = 0.0
        for p in pieces:
            d = np.subtract(p, c, out=scratch.get("deviations", p.dtype, p.size).reshape(p.shape))
            m2 += float(np.vecdot(d, d).sum(dtype=np.float64))
        m2 -= n * (mean - float(c)) ** 2
    flags = scratch.get("flags", np.bool_, x.size).reshape(x.shape)
    zeros = int(np.count_nonzero(np.equal(x, 0, out=flags)))
    return Acc(count=n, n=n, mean=mean, m2=max(m2, 0.0), lo=lo + 0.0, hi=hi + 0.0, zeros=zeros)


def _measure_nonfinite(x: np.ndarray) -> Acc:
    finite = np.isfinite(x)
    nan = int(np.count_nonzero(np.isnan(x)))
    kept = x[finite]
    acc = measure(kept) if kept.size else Acc()
    acc.count = x.size
    acc.nan, acc.inf = nan, x.size - kept.size - nan
    return acc


def _pieces(x: np.ndarray) -> list[np.ndarray]:
    """x as 2-D arrays with contiguous rows: ROW values wide (and a shorter tail) when x is
    contiguous, else x's own rows (a head or part cut out of a wider matrix)."""
    if x.ndim == 2 and not x.flags.c_contiguous:
        return [x]
    flat = x.reshape(-1)
    main = flat.size - flat.size % ROW
    out = [flat[:main].reshape(-1, ROW)] if main else []
    if main < flat.size:
        out.append(flat[main:].reshape(1, -1))
    return out


_ONES: dict[tuple[int, np.dtype], np.ndarray] = {}


def _ones(width: int, dtype: np.dtype) -> np.ndarray:
    key = (width, dtype)
    if key not in _ONES:
        _ONES[key] = np.ones(width, dtype)
    return _ONES[key]


# --- What to read: each stored tensor once, with the rectangles (parts, heads) it feeds ---

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


# --- Reading: blocks through a thread pool, merged in order ---

def compute(jobs: list[Job], n_targets: int, workers: int | None = None,
            block_values: int = BLOCK_VALUES, progress: Progress | None = None) -> list[Acc]:
    """Statistics per target. At most 2 x workers blocks are in flight, so memory stays at a
    few blocks whatever the size of the checkpoint."""
    accs = [Acc() for _ in range(n_targets)]
    files = V.Files()

    def tasks():
        for job in jobs:
            fd = files.fd(job.info.file)
            for block in V.blocks(job.info, block_values):
                share = job.info.nbytes * (block.stop - block.start) // max(job.info.numel, 1)
                yield share, _read_block, (job, fd, block)

    try:
        run_blocks(tasks(), accs, workers or default_workers(), progress)
    finally:
        files.close()
    return accs


def run_blocks(tasks: Iterable[tuple[int, Callable[..., list[tuple[int, Any]]], tuple]],
               results: list, workers: int, progress: Progress | None = None) -> None:
    """Run each task (nbytes, function, args) on a pool of `workers` threads, at most
    2 x workers in flight, and merge every (index, partial) a call returns into results[index],
    in the order the tasks came: the same sums whatever the number of threads. `progress`
    advances by each task's nbytes and is closed at the end."""
    pending: deque = deque()

    def collect() -> None:
        nbytes, future = pending.popleft()
        for index, partial in future.result():
            results[index].merge(partial)
        if progress is not None:
            progress.advance(nbytes)

    try:
        with ThreadPoolExecutor(workers) as pool:
            for nbytes, function, args in tasks:
                while len(pending) >= 2 * workers:
                    collect()
                pending.append((nbytes, pool.submit(function, *args)))
            while pending:
                collect()
    finally:
        for _, future in pending:
            future.cancel()
        if progress is not None:
            progress.close()


def default_workers() -> int:
    """One thread per idle core (by the 1-minute load average), at least one. Two threads on
    one free core were measured 35% slower than one here: each waits for the GIL while the other
    holds it descheduled. On free cores they share the arithmetic."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, min(cores or 1, round((cores or 1) - busy)))


_local = threading.local()


def _scratch() -> V.Scratch:
    if not hasattr(_local, "scratch"):
        _local.scratch = V.Scratch()
    return _local.scratch


def _read_block(job: Job, fd: int, block: V.Block) -> list[tuple[int, Acc]]:
    scratch = _scratch()
    return _measure_cells(V.read(job.info, fd, block, scratch), job.cells, block, scratch)


def _measure_cells(x: np.ndarray, cells: list[Cell], block: V.Block,
                   scratch: V.Scratch | None = None) -> list[tuple[int, Acc]]:
    out = []
    for cell in cells:
        piece = clip(x, block, cell)
        if piece is not None and piece.size:
            out.append((cell.target, measure(piece, scratch)))
    return out


def clip(x: np.ndarray, block: V.Block, cell: Cell) -> np.ndarray | None:
    """The part of a block's values `x` that falls in a cell; None when the block misses it."""
    if block.whole_rows:
        first = block.start // block.cols
        lo, hi = max(cell.r0, first), min(cell.r1, first + x.shape[0])
        if lo >= hi:
            return None
        if cell.c0 == 0 and cell.c1 == block.cols:
            return x[lo - first:hi - first]
        return x[lo - first:hi - first, cell.c0:cell.c1]
    row, begin = block.row, block.start % block.cols
    if not cell.r0 <= row < cell.r1:
        return None
    lo, hi = max(cell.c0, begin), min(cell.c1, begin + x.size)
    return x[lo - begin:hi - begin] if lo < hi else None


class Progress:
    """A one-line progress bar on stderr: only when stderr is a terminal, and only once the
    work has taken more than `after` seconds (a short run prints nothing)."""

    def __init__(self, total_bytes: int, after: float = 1.0, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.done, self.after = total_bytes, 0, after
        self.start = self.last = time.monotonic()
        self.shown = False

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        now = time.monotonic()
        if not self.enabled or now - self.start < self.after or now - self.last < 0.1:
            return
        self.last, self.shown = now, True
        rate = self.done / (now - self.start)
        percent = 100 * self.done / self.total if self.total else 100
        self.stream.write(f"\rstats: {self.done / 1e9:,.2f} of {self.total / 1e9:,.2f} GB"
                          f" ({percent:.0f}%), {rate / 1e9:.2f} GB/s ")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            elapsed = time.monotonic() - self.start
            self.stream.write(f"\rstats: {self.done / 1e9:,.2f} GB in {elapsed:.1f} s"
                              f" ({self.done / 1e9 / max(elapsed, 1e-9):.2f} GB/s)"
                              + " " * 20 + "\n")
            self.stream.flush()
            self.shown = False


# --- Roll-ups: rows of dicts for report.render ---

def role_name(row: Row) -> str:
    return row.role.value if row.role is not None else (UNMAPPED_ROLE if row.kind != BUFFER
                                                        else "")


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
    return [{"layer": t.row.layer, "head": t.head, "role": role_name(t.row), "tensor": t.row.tensor,
             "kind": t.row.kind, **acc.as_dict()} for t, acc in zip(targets, accs)]


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
                 workers: int | None = None, block_values: int = BLOCK_VALUES,
                 progress: bool = True) -> dict:
    """The statistics document: totals, and the rows of the roll-up `by` names."""
    if by not in ROLLUPS:
        raise UsageError("--by", f"must be one of {', '.join(ROLLUPS)}")
    if by == "head" and not (heads and heads[0]):
        raise UsageError(decoupled.checkpoint.source, HEADS_UNKNOWN)
    jobs, targets, aliases = plan(decoupled, heads if by == "head" else None)
    nbytes = sum(job.info.nbytes for job in jobs)
    bar = Progress(nbytes) if progress else None
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
