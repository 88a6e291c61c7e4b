"""Two checkpoints of one architecture, value by value: per row the relative L2 change
||b - a|| / ||a||, the largest absolute change and the cosine similarity; tensors present on one
side only; dtype and shape changes.

It streams as `inspector stats` does, on the same engine: inspector.values.read_plan says which stored
tensors to read and which rectangles of them (a fused part, a head) each row is; inspector.values.engine
reads the same block of both files on a pool of threads, one per idle core, so memory stays at a
few blocks per thread whatever the size; inspector.values.kernels compares a rectangle of the two blocks
in one pass. Every roll-up (role, layer, head, total) adds exact sums (of a^2, b^2, (b - a)^2 and
a b, in float64) and takes the largest change: never averages of averages.

Values compare equal when |b - a| <= tolerance (default 0: bit-identical values are equal; so
are -0.0 and 0.0, and NaN against NaN at the same place). A row is "same" when no value changed,
and its dtype and shape did not either. The verdict, the total and the structural lists cover
every row whatever --by shows (the head table holds the attention rows only), and a DIFFERENT
verdict names its reasons: values changed, dtype or shape changed in so many stored tensors, ...

Rows that cannot be compared (a shape changed, a tensor on one side only, a tie on one side
only) have null metrics (None in JSON, "-" in tables) and a status that says why. A role, layer
or head roll-up holding any such row has null metrics too, and a status with the reason and how
many of its rows could not be compared ("shape changed (12 of 24 rows)"): a sum over the rows
that could be compared would read as the whole group's change. The total is the one exception:
it adds up the values that were compared and says so, with how many parameter values of each side
were not (`not_compared`), so that one resized embedding still leaves a verdict on the rest.

Pairing is by canonical name, so checkpoints must store one architecture (their layouts may name
tensors differently: GPT-2's published and transformers forms, Llama's safetensors and GGUF).
Two architectures (layouts of different families, a BERT against a GPT-2) share no tensor worth
pairing, though canonical names would pair many of them: diff says so once, lists
each side's stored tensors as only in A and only in B, compares no values and exits 1. Not 2:
the inputs are good checkpoints and the answer to "do they differ?" is certain, while exit 2 means
diff could not answer (unreadable input, bad options, one architecture stored in two ways it
cannot read block for block).

Structural changes (only in A or B, shape and dtype changes) are listed by stored tensor, with
the name and the shape as stored (GPT-2's Conv1D weights [in, out]), a fused tensor once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from inspector import families

from inspector.values import engine

from inspector.values import kernels
from inspector.errors import UsageError
from inspector.values import blocks as V
from inspector.formats.base import TensorInfo
from inspector.checkpoint.inspection import inspect_source
from inspector.values.read_plan import Cell, Job, Target, layout_rule, plan
from inspector.checkpoint.quantization import refuse_values
from inspector.vocab.roles import role_sort_key
from inspector.vocab.rows import BUFFER, Row
from inspector.spec.schema import Spec
from inspector.vocab.tables import TABLE_KEYS, layer_sort_key, role_name

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


# --- Pairing: the same canonical row (and head) on both sides ---

# A row's status. The first three are comparisons; the rest say why a row was not compared.
SAME, CHANGED, DTYPE = "same", "changed", "dtype changed"
SHAPE, ONLY_A, ONLY_B = "shape changed", "only in A", "only in B"
TIED, TIED_A, TIED_B = "tied", "tied in A only", "tied in B only"
COMPARED = (SAME, CHANGED, DTYPE)


def _key(target: Target) -> tuple:
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


# --- Reading both sides block by block ---

def _blocks(pair: Pair, block_values: int) -> list[V.Block]:
    """The same blocks of both tensors. Quantized formats cut at their own block sizes; when the
    two cuts disagree, whole rows (a multiple of every block size) serve both."""
    blocks = V.blocks(pair.job_a.info, block_values)
    if blocks != V.blocks(pair.job_b.info, block_values):
        cols = V.matrix(pair.job_a.info)[1]
        blocks = V.blocks(pair.job_a.info, max(block_values, cols))
    return blocks


def _read_pair(pair: Pair, mapped_a: V.Mapped, mapped_b: V.Mapped, block: V.Block,
               tolerance: float) -> list[tuple[int, Change]]:
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
            apart.append((entry, part, kernels.compare(va, ha, vb, hb, *part, tolerance)))
    results = kernels.compare_many(ra, ha, rb, hb, windows, tolerance)
    V.release(pair.job_a.info, mapped_a, block)
    V.release(pair.job_b.info, mapped_b, block)
    return [(entry, _change(w[1] * w[2], r)) for entry, w, r in zip(entries, windows, results)] \
        + [(entry, _change(w[1] * w[2], r)) for entry, w, r in apart]


def compute(pairs: list[Pair], changes: list[Change], tolerance: float,
            workers: int | None = None, block_values: int = engine.BLOCK_VALUES,
            bar=None) -> None:
    """Fill `changes` (one per entry)."""
    files = engine.Files()

    def tasks():
        for pair in pairs:
            info_a, info_b = pair.job_a.info, pair.job_b.info
            mapped_a, mapped_b = files.mapped(info_a.file), files.mapped(info_b.file)
            for block in _blocks(pair, block_values):
                share = ((info_a.nbytes + info_b.nbytes) * (block.stop - block.start)
                         // max(info_a.numel, 1))
                yield share, _read_pair, (pair, mapped_a, mapped_b, block, tolerance)

    try:
        engine.run_blocks(tasks(), changes, workers or engine.default_workers(), bar)
    finally:
        files.close()


# --- The comparison as a document ---

def diff(source_a: str, source_b: str, by: str = "role", tolerance: float = 0.0,
         spec: Spec | None = None, workers: int | None = None,
         block_values: int = engine.BLOCK_VALUES, progress: bool = True) -> dict:
    if by not in BY:
        raise UsageError("--by", f"must be one of {', '.join(BY)}")
    if not tolerance >= 0:  # also refuses NaN
        raise UsageError("--tolerance", f"must be 0 or more, got {tolerance}")
    a, b = inspect_source(source_a, spec), inspect_source(source_b, spec)
    refuse_values(source_a, a.decoupled.quantization, "diff")
    refuse_values(source_b, b.decoupled.quantization, "diff")
    if _family(a) and _family(b) and _family(a) != _family(b):
        return unrelated(source_a, source_b, by, tolerance, a, b)
    heads = None
    if by == "head":
        heads = a.shape.heads
        if heads is None:
            raise UsageError("heads", f"the number of attention heads of {source_a} is not known"
                                      " (no config.json or metadata says it); pass --spec SPEC")
    entries, pairs = pair_up(a, b, None)
    head_entries: list[Entry] = []
    if heads is not None:
        # The head table holds the attention rows only; the verdict, the total and the lists
        # still cover every row. Both sets of cells come out of the same blocks, read once.
        head_entries, head_pairs = pair_up(a, b, heads)
        pairs = _merged(pairs, head_pairs, len(entries))
    everything = entries + head_entries
    changes = [Change() for _ in everything]
    nbytes = sum(p.job_a.info.nbytes + p.job_b.info.nbytes for p in pairs)
    compute(pairs, changes, tolerance, workers, block_values,
            engine.progress(nbytes, "diff") if progress else None)
    for entry, change in zip(everything, changes):
        if entry.status:
            continue
        entry.change = change
        if change.changed:
            entry.status = CHANGED
        elif entry.a.dtype != entry.b.dtype:
            entry.status = DTYPE
        else:
            entry.status = SAME
    shown = head_entries if heads is not None else entries
    return document(source_a, source_b, by, tolerance, entries, shown, nbytes, len(pairs), a, b)


def _merged(pairs: list[Pair], more: list[Pair], offset: int) -> list[Pair]:
    """`more`'s cells (their entries numbered from `offset`) added to the pair of the same two
    stored tensors in `pairs`."""
    by_names = {(p.job_a.info.name, p.job_b.info.name): p for p in pairs}
    for pair in more:
        cells = [(cell, i + offset) for cell, i in pair.cells]
        key = (pair.job_a.info.name, pair.job_b.info.name)
        by_names.setdefault(key, Pair(pair.job_a, pair.job_b)).cells.extend(cells)
    return list(by_names.values())


def _family(inspection) -> str | None:
    """The architecture a checkpoint's layout stores; None for canonical names, which any
    architecture may use (they pair by name with any layout)."""
    layout = inspection.decoupled.layout
    if inspection.decoupled.inferred:
        return inspection.shape.family
    return None if layout.name == "canonical" else families.family_of_layout(layout) or layout.name


def _rollup(entries: list[Entry]) -> dict:
    if all(e.status == TIED for e in entries):  # a tied role: its storage is compared once
        tied_to = entries[0].row.tied_to
        return {**dict.fromkeys(METRICS), "dtype": _dtype(entries[0].a, entries[0].b),
                "status": f"tied to {tied_to.value}" if tied_to else TIED}
    dtypes = ", ".join(sorted({_dtype(e.a, e.b) for e in entries}))
    stored = [e for e in entries if e.status != TIED]
    missing = [e for e in stored if e.status not in COMPARED]
    if missing:  # a sum over the rest would pass for the group's change: none is given
        why = ", ".join(dict.fromkeys(e.status for e in missing))
        part = "" if len(missing) == len(stored) else f" ({len(missing)} of {len(stored)} rows)"
        return {**dict.fromkeys(METRICS), "dtype": dtypes, "status": why + part}
    change = Change()
    for e in stored:
        change.merge(e.change)
    statuses = {e.status for e in stored}
    status = CHANGED if CHANGED in statuses else DTYPE if DTYPE in statuses else SAME
    return {**{k: change.as_dict()[k] for k in METRICS}, "dtype": dtypes, "status": status}


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
                        "canonical": e.row.canonical or None, "role": role_name(e.row),
                        "layer": e.row.layer, "kind": e.row.kind, "shape": shape,
                        "dtype": _dtype(e.a, e.b),
                        **{k: metrics.get(k) for k in METRICS}, "status": e.status})
        return out
    groups: dict[tuple, list[Entry]] = {}
    for e in entries:
        if by == "layer" and e.status == TIED:
            continue  # a tied repeat adds nothing to its layer: its storage is counted once
        if by != "head" and e.row.kind == BUFFER:
            continue  # buffers are not parameters: listed by --by tensor and below
        if by == "role":
            key = (role_name(e.row),)
        elif by == "layer":
            key = (e.row.layer,)
        else:
            key = (e.row.layer, e.head, role_name(e.row), e.row.tensor, e.row.kind)
        groups.setdefault(key, []).append(e)
    if by == "role":
        keys = sorted(groups, key=lambda k: role_sort_key(k[0]))
        return [{"role": k[0], **_rollup(groups[k])} for k in keys]
    if by == "layer":
        keys = sorted(groups, key=lambda k: layer_sort_key(k[0]))
        return [{"layer": k[0], **_rollup(groups[k])} for k in keys]
    return [{"layer": k[0], "head": k[1], "role": k[2], "tensor": k[3], "kind": k[4],
             **_rollup(groups[k])} for k in groups]


def _stored(inspection) -> dict[str, TensorInfo]:
    return {t.name: t for t in inspection.decoupled.checkpoint.tensors}


def _held(inspection) -> dict[str, list[str]]:
    """Stored name -> the canonical names it holds (its own rows, not tied repeats)."""
    held: dict[str, list[str]] = {t.name: [] for t in inspection.decoupled.checkpoint.tensors}
    for row in inspection.rows:
        if row.canonical and row.tied_to is None:
            held[row.tensor].append(row.canonical)
    return held


def _one_side(entries: list[Entry], status: str, stored: dict[str, TensorInfo]) -> list[dict]:
    """The stored tensors holding rows found on one side only, each once, as stored."""
    held: dict[str, list[str]] = {}
    for e in entries:
        # A tied repeat names the storage of another row, present on both sides: a tie change.
        if e.status == status and e.row.tied_to is None:
            held.setdefault(e.row.tensor, []).extend([e.row.canonical] if e.row.canonical else [])
    return [_as_stored(stored[name], canonical) for name, canonical in held.items()]


def _as_stored(info: TensorInfo, canonical: list[str]) -> dict:
    return {"tensor": info.name, "canonical": canonical, "shape": list(info.shape),
            "dtype": info.dtype}


def _once(items: list[dict]) -> list[dict]:
    """A fused tensor is several rows: each stored tensor's change listed once."""
    seen: set[str] = set()
    return [c for c in items if not (c["tensor"] in seen or seen.add(c["tensor"]))]


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _differences(total: Change, buffers_changed: int, structural: dict) -> list[str]:
    """Why two checkpoints are not identical, each reason once, in words."""
    out = []
    if total.changed:
        out.append(f"{total.changed:,} of {_count(total.count, 'value')} changed")
    if buffers_changed:
        out.append(f"values changed in {_count(buffers_changed, 'buffer')}")
    for key, what in (("dtype_changes", "dtype changed in {}"),
                      ("shape_changes", "shape changed in {}"),
                      ("only_in_a", "{} only in A"), ("only_in_b", "{} only in B")):
        if structural[key]:
            out.append(what.format(_count(len(structural[key]), "stored tensor")))
    if structural["tie_changes"]:
        out.append(f"tying changed for {_count(len(structural['tie_changes']), 'row')}")
    return out


def document(source_a: str, source_b: str, by: str, tolerance: float, entries: list[Entry],
             shown: list[Entry], nbytes: int, tensors: int, a, b) -> dict:
    """`entries`: every row, whole; `shown`: the rows of the table (the same, but per head and
    of the attention only for --by head)."""
    total = Change()
    for e in entries:
        if e.counted and e.change is not None:
            total.merge(e.change)
    # Rows whose values were not compared, and the parameters they hold.
    skipped = [e for e in entries if e.status not in (*COMPARED, TIED)]
    not_compared = {
        "rows": len(skipped),
        "values_a": sum(e.a.numel for e in skipped if e.a is not None and e.a.counted),
        "values_b": sum(e.b.numel for e in skipped if e.b is not None and e.b.counted),
        "why": {status: sum(e.status == status for e in skipped)
                for status in dict.fromkeys(e.status for e in skipped)},
    }
    stored_a, stored_b = _stored(a), _stored(b)
    both = [e for e in entries if e.a is not None and e.b is not None]
    structural = {
        "only_in_a": _one_side(entries, ONLY_A, stored_a),
        "only_in_b": _one_side(entries, ONLY_B, stored_b),
        "shape_changes": _once([
            {"tensor": e.a.tensor, **({"tensor_b": e.b.tensor} if e.b.tensor != e.a.tensor
                                      else {}),
             "a": list(stored_a[e.a.tensor].shape), "b": list(stored_b[e.b.tensor].shape)}
            for e in both if e.status == SHAPE]),
        "dtype_changes": _once([
            {"tensor": e.a.tensor, **({"tensor_b": e.b.tensor} if e.b.tensor != e.a.tensor
                                      else {}),
             "a": e.a.dtype, "b": e.b.dtype}
            for e in both if e.a.dtype != e.b.dtype]),
        "tie_changes": [{"tensor": e.row.tensor, "canonical": e.row.canonical or None,
                         "change": e.status}
                        for e in entries if e.status in (TIED_A, TIED_B)
                        or (e.status in (ONLY_A, ONLY_B) and e.row.tied_to is not None)],
    }
    buffers_changed = sum(e.status == CHANGED and e.row.kind == BUFFER for e in entries)
    identical = all(e.status in (SAME, TIED) for e in entries)
    return {
        "a": source_a,
        "b": source_b,
        "identical": identical,
        "differences": [] if identical else _differences(total, buffers_changed, structural),
        "architectures": {"a": a.shape.family, "b": b.shape.family},
        "tolerance": tolerance,
        "tensors_compared": tensors,
        "bytes_read": nbytes,
        "total": {k: total.as_dict()[k] for k in METRICS},
        "not_compared": not_compared,
        **structural,
        TABLE_KEYS[by]: rows_by(by, shown),
    }


def unrelated(source_a: str, source_b: str, by: str, tolerance: float, a, b) -> dict:
    """Two architectures: no row pairs up, so nothing is compared; every stored tensor of each
    side is listed as on that side only, and the one difference says why."""
    held_a, held_b = _held(a), _held(b)
    only_a = [_as_stored(t, held_a[t.name]) for t in a.decoupled.checkpoint.tensors]
    only_b = [_as_stored(t, held_b[t.name]) for t in b.decoupled.checkpoint.tensors]
    rows = len(a.rows) + len(b.rows)
    return {
        "a": source_a,
        "b": source_b,
        "identical": False,
        "differences": [(f"different architectures: A is {a.shape.family}, B is"
                         f" {b.shape.family}; no tensor pairs up, so no values were compared")],
        "architectures": {"a": a.shape.family, "b": b.shape.family},
        "tolerance": tolerance,
        "tensors_compared": 0,
        "bytes_read": 0,
        "total": Change().as_dict(),
        "not_compared": {"rows": rows,
                         "values_a": sum(r.numel for r in a.rows if r.counted),
                         "values_b": sum(r.numel for r in b.rows if r.counted),
                         "why": {"different architectures": rows}},
        "only_in_a": only_a,
        "only_in_b": only_b,
        "shape_changes": [],
        "dtype_changes": [],
        "tie_changes": [],
        TABLE_KEYS[by]: [],
    }


COLUMNS = {
    "role": ["role", *SHOWN_METRICS, "dtype", "status"],
    "layer": ["layer", *SHOWN_METRICS, "dtype", "status"],
    "head": ["layer", "head", "role", "kind", *SHOWN_METRICS, "status"],
    # The shape is the row's, PyTorch (out, in) like its canonical name (a fused tensor's part):
    # the canonical column says which, as in `inspector inspect --by tensor`.
    "tensor": ["tensor", "role", "canonical", "layer", "kind", "shape", "dtype", *SHOWN_METRICS,
               "status"],
}


def summary_pairs(doc: dict) -> list[tuple[str, object]]:
    t, skipped = doc["total"], doc["not_compared"]
    within = f" within {doc['tolerance']:g}" if doc["tolerance"] else ""
    if doc["identical"]:
        verdict = f"identical ({within.strip() or 'bit for bit'})"
    else:
        verdict = "DIFFERENT: " + "; ".join(doc["differences"])
        if t["values"] and not t["changed"]:  # the reasons above are all structural
            verdict += f" (the {t['values']:,} parameter values compared are all equal{within})"
    pairs: list[tuple[str, object]] = [("a", doc["a"]), ("b", doc["b"]), ("verdict", verdict)]
    if "different architectures" in skipped["why"]:
        # Nothing was compared, as the verdict says: how much each side holds instead.
        for side, key in (("A", "only_in_a"), ("B", "only_in_b")):
            pairs.append((f"only in {side}", (f"{_count(len(doc[key]), 'stored tensor')},"
                                              f" {skipped['values_' + side.lower()]:,}"
                                              " parameter values")))
        return pairs
    read = (f"{doc['tensors_compared']:,} stored tensors read from each side"
            f" ({doc['bytes_read']:,} bytes in all)")
    if skipped["rows"]:
        pairs.append(("compared", (f"{t['values']:,} parameter values, of A's"
                                   f" {t['values'] + skipped['values_a']:,} and B's"
                                   f" {t['values'] + skipped['values_b']:,}; {read}")))
        why = ", ".join(skipped["why"]) if len(skipped["why"]) == 1 else ", ".join(
            f"{status}: {n:,}" for status, n in skipped["why"].items())
        pairs.append(("not compared", (f"{_count(skipped['rows'], 'row')} ({why}):"
                                       f" {skipped['values_a']:,} parameter values of A,"
                                       f" {skipped['values_b']:,} of B")))
    else:
        pairs.append(("compared", f"{t['values']:,} parameter values; {read}"))
    if t["values"]:
        over = " (over the values compared)" if skipped["rows"] else ""
        pairs.append(("change", (f"{t['changed']:,} values changed; relative L2"
                                 f" {_g(t['rel_l2'])}, largest {_g(t['max_abs'])}, cosine"
                                 f" {_g(t['cosine'])}{over}")))
    if t["nonfinite"]:
        pairs.append(("NaN/Inf", (f"{t['nonfinite']:,} values are NaN or Inf on one side"
                                  " only (left out of the sums)")))
    return pairs


def _pattern(name: str) -> str:
    """h.0.attn.bias ... h.11.attn.bias: one line, h.N.attn.bias."""
    return re.sub(r"(?<=\.)\d+(?=\.)", "N", name)


def _grouped(items: list[dict], what) -> list[tuple[str, tuple, list[dict]]]:
    """(shown name, what, items) per group of stored tensors that differ only in their layer
    number: the name itself when alone, "12 x h.N.mlp.c_fc.weight" otherwise."""
    groups: dict[tuple, list[dict]] = {}
    for item in items:
        groups.setdefault((_pattern(item["tensor"]), what(item)), []).append(item)
    return [(group[0]["tensor"] if len(group) == 1 else f"{len(group)} x {pattern}", key, group)
            for (pattern, key), group in groups.items()]


def _shape(shape) -> str:
    return f"[{', '.join(map(str, shape))}]"


def structural_lines(doc: dict) -> list[str]:
    """Tensors on one side only, shape, dtype and tie changes, by stored name and stored shape:
    one line each (layers alike in one line), SHOWN at most."""
    lines = []
    for key, label in (("only_in_a", "only in A"), ("only_in_b", "only in B")):
        for shown, (dtype, shape), _ in _grouped(doc[key], lambda i: (i["dtype"], tuple(i["shape"]))):
            lines.append(f"{label}: {shown} {dtype} {_shape(shape)}")
    for shown, (name_b, was, now), group in _grouped(
            doc["shape_changes"],
            lambda i: (_pattern(i.get("tensor_b", "")), tuple(i["a"]), tuple(i["b"]))):
        shown_b = _shape(now)
        if name_b:  # B names it otherwise (GPT-2's published and transformers forms)
            shown_b = f"{group[0]['tensor_b'] if len(group) == 1 else name_b} {shown_b}"
        lines.append(f"shape: {shown} {_shape(was)} -> {shown_b}")
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
        lines.append(f"tie: {item['canonical'] or item['tensor']}: {item['change']}")
    if len(lines) > SHOWN:
        lines = lines[:SHOWN] + [f"... and {len(lines) - SHOWN} more (--format json lists all)"]
    return lines


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"
