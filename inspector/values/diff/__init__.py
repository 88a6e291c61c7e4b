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
pairing, though canonical names would pair many of them: diff says so once, sets the stored
tensors side by side by stored name only (a name on one side is only in A or B, a name on both
with another shape a shape change, never both), compares no values and exits 1. Not 2:
the inputs are good checkpoints and the answer to "do they differ?" is certain, while exit 2 means
diff could not answer (unreadable input, bad options, one architecture stored in two ways it
cannot read block for block).

What differs in the architecture (layers, widths, heads, family, tie: inspector.spec.compare)
opens the answer, before the tensors it changes. Structural changes (only in A or B, shape and
dtype changes) are listed by stored tensor, with
the name and the shape as stored (GPT-2's Conv1D weights [in, out]), a fused tensor once.
"""

from __future__ import annotations

from inspector import families
from inspector.checkpoint.architecture import between
from inspector.checkpoint.inspection import inspect_source
from inspector.checkpoint.quantization import refuse_values
from inspector.errors import UsageError
from inspector.spec.schema import Spec
from inspector.values import engine
from inspector.values.diff.document import (
    COLUMNS,
    METRICS,
    build_document,
    structural_lines,
    summary_pairs,
    unrelated,
)
from inspector.values.diff.pairing import CHANGED, DTYPE, SAME, Entry, merge_pairs, pair_up
from inspector.values.diff.reading import Change, compare, compute
from inspector.vocab.tables import TABLE_KEYS

# What the CLI, the tests and the benchmarks import from here.
__all__ = ["BY", "COLUMNS", "METRICS", "Change", "compare", "diff", "structural_lines",
           "summary_pairs"]

BY = tuple(TABLE_KEYS)


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
    # What differs in the architecture: said first, whatever the tensors then show.
    architecture = [d.as_dict("a", "b") for d in between(a, b)]
    if _family(a) and _family(b) and _family(a) != _family(b):
        return unrelated(source_a, source_b, by, tolerance, a, b, architecture)
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
        pairs = merge_pairs(pairs, head_pairs, len(entries))
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
    return build_document(source_a, source_b, by, tolerance, entries, shown, nbytes, len(pairs),
                          a, b, architecture)


def _family(inspection) -> str | None:
    """The architecture a checkpoint's layout stores; None for canonical names, which any
    architecture may use (they pair by name with any layout)."""
    layout = inspection.decoupled.layout
    if inspection.decoupled.inferred:
        return inspection.shape.family
    return None if layout.name == "canonical" else families.family_of_layout(layout) or layout.name
