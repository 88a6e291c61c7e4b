"""Two checkpoints of one architecture, value by value: per row the relative L2 change
||b - a|| / ||a||, the largest absolute change and the cosine similarity; tensors present on one
side only; dtype and shape changes.

It streams as `inspector stats` does and reuses its pieces: `stats.plan` says which stored tensors
to read and which rectangles of them (a fused part, a head) each row is; `formats.values` reads a
block of a tensor from a memory map. The same block is read from both files, so memory stays at a
few blocks per thread whatever the size. Every roll-up (role, layer, head, total) adds exact
sums (of a^2, b^2, (b - a)^2 and a b, in float64) and takes the largest change: never averages
of averages.

Values compare equal when |b - a| <= tolerance (default 0: bit-identical values are equal; so
are -0.0 and 0.0, and NaN against NaN at the same place). A row is "same" when no value changed,
and its dtype and shape did not either.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from inspector import stats
from inspector.errors import UsageError
from inspector.formats import values as V
from inspector.inspection import inspect_source
from inspector.roles import role_sort_key
from inspector.rows import BUFFER, Row
from inspector.spec import Spec
from inspector.tables import TABLE_KEYS, layer_sort_key

BY = tuple(TABLE_KEYS)
METRICS = ("values", "changed", "rel_l2", "max_abs", "cosine", "nonfinite")
SHOWN_METRICS = METRICS[:-1]  # the tables leave out the NaN/Inf count; JSON keeps it
SHOWN = 20  # structural changes listed in the table and markdown formats


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


def compare(a: np.ndarray, b: np.ndarray, tolerance: float) -> Change:
    """The change from a to b, two arrays of one shape (views of the same block of each file)."""
    if a.size == 0:
        return Change()
    # float64: a difference of two float32 (or float16, bfloat16) values is exact there.
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    with np.errstate(invalid="ignore"):  # Inf - Inf is NaN, dealt with below: no warning
        d = b64 - a64
    dd = _dot(d, d)
    nonfinite = 0
    if not math.isfinite(dd):  # a NaN or an Inf on some side (squares of floats never overflow)
        same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))  # equal Infs, NaN at both
        nonfinite = int(np.count_nonzero(~same & ~np.isfinite(d)))
        keep = np.isfinite(a64) & np.isfinite(b64)
        d, a64, b64 = (np.where(keep, x, 0.0) for x in (d, a64, b64))
        dd = _dot(d, d)
    largest = float(max(d.max(), -d.min()))
    changed = np.count_nonzero(d) if tolerance == 0 else np.count_nonzero(np.abs(d) > tolerance)
    return Change(count=a.size, changed=int(changed) + nonfinite, aa=_dot(a64, a64),
                  bb=_dot(b64, b64), dd=dd, ab=_dot(a64, b64), max_abs=largest,
                  nonfinite=nonfinite)


def _dot(x: np.ndarray, y: np.ndarray) -> float:
    """sum(x * y) in float64 without a temporary. Not np.dot: OpenBLAS would start its own
    threads inside each of ours and spin (20x slower here on two cores)."""
    return float(np.einsum("i,i->", x, y))


# --- Pairing: the same canonical row (and head) on both sides ---

def _key(target: stats.Target) -> tuple:
    row = target.row
    name = row.canonical or f"{row.kind}:{row.tensor}"  # buffers and unmapped: by stored name
    return name, target.head


def _dtype(row_a: Row | None, row_b: Row | None) -> str:
    if row_a is None or row_b is None:
        return (row_a or row_b).dtype
    return row_a.dtype if row_a.dtype == row_b.dtype else f"{row_a.dtype} -> {row_b.dtype}"


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
    job_a: stats.Job
    job_b: stats.Job
    cells: list[tuple[stats.Cell, int]] = field(default_factory=list)  # (A's cell, entry index)


def _index(jobs: list[stats.Job]) -> dict[int, tuple[stats.Job, stats.Cell]]:
    return {cell.target: (job, cell) for job in jobs for cell in job.cells}


def _orientation(decoupled, name: str) -> tuple:
    rule = stats.layout_rule(decoupled, name)
    return (rule.transposed, rule.rotary_permuted) if rule else (False, False)


def pair_up(a, b, heads: tuple[int, int] | None):
    """Entries (every row of either side) and the pairs of stored tensors to read."""
    jobs_a, targets_a, aliases_a = stats.plan(a.decoupled, heads)
    jobs_b, targets_b, aliases_b = stats.plan(b.decoupled, heads)
    where_a, where_b = _index(jobs_a), _index(jobs_b)
    by_key_b = {_key(t): i for i, t in enumerate(targets_b)}
    entries: list[Entry] = []
    pairs: dict[tuple[str, str], Pair] = {}
    seen_b: set[int] = set()
    for i, target in enumerate(targets_a):
        j = by_key_b.get(_key(target))
        row_b = targets_b[j].row if j is not None else None
        entry = Entry(target.row, row_b, target.head,
                      counted=target.row.is_parameter and target.row.tied_to is None)
        entries.append(entry)
        if j is None:
            entry.status = "only in A"
            continue
        seen_b.add(j)
        if (i in aliases_a) != (j in aliases_b):
            entry.status = "tied in A only" if i in aliases_a else "tied in B only"
            continue
        if i in aliases_a:  # a tied repeat on both sides: its storage is compared once
            entry.status = "tied"
            entry.counted = False
            continue
        if target.row.shape != row_b.shape:
            entry.status = "shape"
            continue
        (job_a, cell_a), (job_b, cell_b) = where_a[i], where_b[j]
        same_layout = (V.matrix(job_a.info) == V.matrix(job_b.info)
                       and (cell_a.r0, cell_a.r1, cell_a.c0, cell_a.c1)
                       == (cell_b.r0, cell_b.r1, cell_b.c0, cell_b.c1)
                       and _orientation(a.decoupled, job_a.info.name)
                       == _orientation(b.decoupled, job_b.info.name))
        if not same_layout:
            raise UsageError(job_b.info.file,
                             f"'{job_b.info.name}' stores {target.row.canonical} differently from"
                             f" '{job_a.info.name}' in {job_a.info.file} (fused, transposed or"
                             " reordered otherwise): diff compares checkpoints of one layout")
        pair = pairs.setdefault((job_a.info.name, job_b.info.name), Pair(job_a, job_b))
        pair.cells.append((cell_a, len(entries) - 1))
    for j, target in enumerate(targets_b):
        if j not in seen_b:
            entries.append(Entry(None, target.row, target.head, status="only in B",
                                 counted=target.row.is_parameter and target.row.tied_to is None))
    return entries, list(pairs.values())


# --- Reading both sides block by block ---

def _blocks(pair: Pair, block_values: int) -> list[V.Block]:
    """The same blocks of both tensors. Quantized formats cut at their own block sizes; when the
    two cuts disagree, whole rows (a multiple of every block size) serve both."""
    blocks = V.blocks(pair.job_a.info, block_values)
    if blocks != V.blocks(pair.job_b.info, block_values):
        cols = V.matrix(pair.job_a.info)[1]
        blocks = V.blocks(pair.job_a.info, max(block_values, cols))
    return blocks


def _read_pair(pair: Pair, fd_a: int, fd_b: int, block: V.Block,
               tolerance: float) -> list[tuple[int, Change]]:
    xa = V.read(pair.job_a.info, fd_a, block)
    xb = V.read(pair.job_b.info, fd_b, block)
    out = []
    for cell, entry in pair.cells:
        pa, pb = stats.clip(xa, block, cell), stats.clip(xb, block, cell)
        if pa is not None and pa.size:
            out.append((entry, compare(pa, pb, tolerance)))
    return out


def compute(pairs: list[Pair], changes: list[Change], tolerance: float,
            workers: int | None = None, block_values: int = stats.BLOCK_VALUES,
            progress: stats.Progress | None = None) -> None:
    """Fill `changes` (one per entry). At most 2 x workers block pairs are in flight."""
    files = V.Files()

    def tasks():
        for pair in pairs:
            fd_a, fd_b = files.fd(pair.job_a.info.file), files.fd(pair.job_b.info.file)
            info_a, info_b = pair.job_a.info, pair.job_b.info
            for block in _blocks(pair, block_values):
                share = ((info_a.nbytes + info_b.nbytes) * (block.stop - block.start)
                         // max(info_a.numel, 1))
                yield share, _read_pair, (pair, fd_a, fd_b, block, tolerance)

    try:
        stats.run_blocks(tasks(), changes, workers or os.cpu_count() or 1, progress)
    finally:
        files.close()


# --- The comparison as a document ---

def diff(source_a: str, source_b: str, by: str = "role", tolerance: float = 0.0,
         spec: Spec | None = None, workers: int | None = None,
         block_values: int = stats.BLOCK_VALUES, progress: bool = True) -> dict:
    if by not in BY:
        raise UsageError("--by", f"must be one of {', '.join(BY)}")
    if not tolerance >= 0:  # also refuses NaN
        raise UsageError("--tolerance", f"must be 0 or more, got {tolerance}")
    a, b = inspect_source(source_a, spec), inspect_source(source_b, spec)
    heads = None
    if by == "head":
        heads = (a.shape.n_heads, a.shape.n_kv_heads or a.shape.n_heads)
        if not heads[0]:
            raise UsageError("heads", f"the number of attention heads of {source_a} is not known"
                                      " (no config.json or metadata says it); pass --spec SPEC")
    entries, pairs = pair_up(a, b, heads)
    changes = [Change() for _ in entries]
    nbytes = sum(p.job_a.info.nbytes + p.job_b.info.nbytes for p in pairs)
    compute(pairs, changes, tolerance, workers, block_values,
            stats.Progress(nbytes) if progress else None)
    for entry, change in zip(entries, changes):
        if entry.status:
            continue
        entry.change = change
        if change.changed:
            entry.status = "changed"
        elif entry.a.dtype != entry.b.dtype:
            entry.status = "dtype"
        else:
            entry.status = "same"
    return document(source_a, source_b, by, tolerance, entries, nbytes, len(pairs))


def _status(group: list[Entry]) -> str:
    statuses = {e.status for e in group}
    if statuses <= {"same", "tied"}:
        return "same"
    if statuses <= {"same", "tied", "dtype"}:
        return "dtype"  # the values compare equal; how they are stored changed
    return "changed" if statuses <= {"same", "tied", "changed", "dtype"} else "differs"


def _rollup(entries: list[Entry]) -> dict:
    if all(e.status == "tied" for e in entries):  # a tied role: its storage is compared once
        tied_to = entries[0].row.tied_to
        return {**dict.fromkeys(METRICS), "dtype": _dtype(entries[0].a, entries[0].b),
                "status": f"tied to {tied_to.value}" if tied_to else "tied"}
    change = Change()
    for e in entries:
        if e.change is not None:
            change.merge(e.change)
    dtypes = sorted({_dtype(e.a, e.b) for e in entries})
    return {**{k: change.as_dict()[k] for k in METRICS}, "dtype": ", ".join(dtypes),
            "status": _status(entries)}


def _role(row: Row) -> str:
    return stats.role_name(row)


def rows_by(by: str, entries: list[Entry]) -> list[dict]:
    if by == "tensor":
        out = []
        for e in entries:
            shape = list(e.row.shape)
            if e.a is not None and e.b is not None and e.a.shape != e.b.shape:
                shape = f"{'x'.join(map(str, e.a.shape))} -> {'x'.join(map(str, e.b.shape))}"
            metrics = e.change.as_dict() if e.change is not None else {}
            out.append({"tensor": e.a.tensor if e.a else e.b.tensor,
                        "tensor_b": e.b.tensor if e.b and e.a and e.b.tensor != e.a.tensor
                        else None,
                        "canonical": e.row.canonical or None, "role": _role(e.row),
                        "layer": e.row.layer, "kind": e.row.kind, "shape": shape,
                        "dtype": _dtype(e.a, e.b),
                        **{k: metrics.get(k) for k in METRICS}, "status": e.status})
        return out
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        if by == "layer" and e.status == "tied":
            continue  # a tied repeat adds nothing to its layer: its storage is counted once
        if by != "head" and e.row.kind == BUFFER:
            continue  # buffers are not parameters: listed by --by tensor and below
        if by == "role":
            key = (_role(e.row),)
        elif by == "layer":
            key = (e.row.layer,)
        else:
            key = (e.row.layer, e.head, _role(e.row), e.row.tensor, e.row.kind)
        groups.setdefault(key, []).append(e)
    if by == "role":
        keys = sorted(groups, key=lambda k: role_sort_key(k[0]))
        return [{"role": k[0], **_rollup(groups[k])} for k in keys]
    if by == "layer":
        keys = sorted(groups, key=lambda k: layer_sort_key(k[0]))
        return [{"layer": k[0], **_rollup(groups[k])} for k in keys]
    return [{"layer": k[0], "head": k[1], "role": k[2], "tensor": k[3], "kind": k[4],
             **_rollup(groups[k])} for k in groups]


def document(source_a: str, source_b: str, by: str, tolerance: float, entries: list[Entry],
             nbytes: int, tensors: int) -> dict:
    total = Change()
    for e in entries:
        if e.counted and e.change is not None:
            total.merge(e.change)

    def named(status: str) -> list[dict]:
        return [{"tensor": e.row.tensor, "canonical": e.row.canonical or None,
                 "shape": list(e.row.shape), "dtype": e.row.dtype}
                for e in entries if e.status == status and e.head in (None, 0)]

    structural = {
        "only_in_a": named("only in A"),
        "only_in_b": named("only in B"),
        "shape_changes": [{"tensor": e.a.tensor, "canonical": e.row.canonical or None,
                           "a": list(e.a.shape), "b": list(e.b.shape)}
                          for e in entries if e.status == "shape" and e.head in (None, 0)],
        "dtype_changes": [{"tensor": e.a.tensor, "a": e.a.dtype, "b": e.b.dtype}
                          for e in entries if e.a is not None and e.b is not None
                          and e.a.dtype != e.b.dtype and e.head in (None, 0)],
        "tie_changes": [{"tensor": e.row.tensor, "change": e.status}
                        for e in entries if e.status.startswith("tied in")],
    }
    # A fused tensor is several rows of one dtype: list each stored tensor's change once.
    seen: set[str] = set()
    structural["dtype_changes"] = [c for c in structural["dtype_changes"]
                                   if not (c["tensor"] in seen or seen.add(c["tensor"]))]
    identical = all(e.status in ("same", "tied") for e in entries)
    return {
        "a": source_a,
        "b": source_b,
        "identical": identical,
        "tolerance": tolerance,
        "tensors_compared": tensors,
        "bytes_read": nbytes,
        "total": {k: total.as_dict()[k] for k in METRICS},
        **structural,
        TABLE_KEYS[by]: rows_by(by, entries),
    }


COLUMNS = {
    "role": ["role", *SHOWN_METRICS, "dtype", "status"],
    "layer": ["layer", *SHOWN_METRICS, "dtype", "status"],
    "head": ["layer", "head", "role", "kind", *SHOWN_METRICS, "status"],
    "tensor": ["tensor", "role", "layer", "kind", "shape", "dtype", *SHOWN_METRICS, "status"],
}


def summary_pairs(doc: dict) -> list[tuple[str, object]]:
    t = doc["total"]
    verdict = "identical" if doc["identical"] else "DIFFERENT"
    within = f" (within {doc['tolerance']:g})" if doc["tolerance"] else " (bit for bit)"
    pairs: list[tuple[str, object]] = [
        ("a", doc["a"]),
        ("b", doc["b"]),
        ("verdict", verdict + (within if doc["identical"] else "")),
        ("compared", (f"{t['values']:,} parameter values; {doc['tensors_compared']:,} stored"
                      f" tensors read from each side ({doc['bytes_read']:,} bytes in all)")),
    ]
    if t["values"]:
        pairs.append(("change", (f"{t['changed']:,} values changed; relative L2"
                                 f" {_g(t['rel_l2'])}, largest {_g(t['max_abs'])}, cosine"
                                 f" {_g(t['cosine'])}")))
    if t["nonfinite"]:
        pairs.append(("NaN/Inf", (f"{t['nonfinite']:,} values are NaN or Inf on one side"
                                  " only (left out of the sums)")))
    return pairs


def structural_lines(doc: dict) -> list[str]:
    """Tensors on one side only, shape, dtype and tie changes: one line each, SHOWN at most."""
    lines = []
    labels = {"only_in_a": "only in A", "only_in_b": "only in B"}
    for key, label in labels.items():
        groups: dict[tuple, list[str]] = {}
        for item in doc[key]:  # h.0.attn.bias ... h.11.attn.bias: one line, h.N.attn.bias
            what = (re.sub(r"(?<=\.)\d+(?=\.)", "N", item["tensor"]), item["dtype"],
                    tuple(item["shape"]))
            groups.setdefault(what, []).append(item["tensor"])
        for (pattern, dtype, shape), names in groups.items():
            shown = names[0] if len(names) == 1 else f"{len(names)} x {pattern}"
            lines.append(f"{label}: {shown} {dtype} [{', '.join(map(str, shape))}]")
    for item in doc["shape_changes"]:
        lines.append(f"shape: {item['tensor']} [{', '.join(map(str, item['a']))}] -> "
                     f"[{', '.join(map(str, item['b']))}]")
    by_change: dict[tuple[str, str], list[str]] = {}
    for item in doc["dtype_changes"]:
        by_change.setdefault((item["a"], item["b"]), []).append(item["tensor"])
    for (was, now), names in by_change.items():
        if len(names) == 1:
            lines.append(f"dtype: {names[0]} {was} -> {now}")
        else:
            lines.append(f"dtype: {was} -> {now} in {len(names)} stored tensors ({names[0]},"
                         f" {names[1]}{', ...' if len(names) > 2 else ''})")
    for item in doc["tie_changes"]:
        lines.append(f"tie: {item['tensor']}: {item['change']}")
    if len(lines) > SHOWN:
        lines = lines[:SHOWN] + [f"... and {len(lines) - SHOWN} more (--format json lists all)"]
    return lines


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
