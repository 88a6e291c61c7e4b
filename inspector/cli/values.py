"""The commands that read the weights' values, streamed block by block: stats, diff."""

from __future__ import annotations

import click

from inspector.cli.options import (
    BY,
    DOWNLOAD,
    FORMAT,
    REVISION,
    SPEC_FOR_HEADS,
    TABLE_FORMATS,
    THREADS_HELP,
    hub_source,
    inspected,
    optional_spec,
    say,
    values_source,
)
from inspector.output.rendering import render, summary
from inspector.vocab.tables import TABLE_KEYS


@click.command()
@click.argument("source")
@BY
@SPEC_FOR_HEADS
@click.option("--threads", type=click.IntRange(min=1), default=None, help=THREADS_HELP)
@REVISION
@DOWNLOAD
@FORMAT
def stats(source: str, by: str, spec_name: str | None, threads: int | None,
          revision: str | None, download: bool, fmt: str) -> None:
    """Weight statistics of SOURCE, streamed block by block: mean, std, min, max, absmax, L2,
    zeros (fraction), NaN and Inf, per role, layer, head or tensor (fused parts apart)."""
    from inspector.values.stats import COLUMNS, summary_pairs, weight_stats

    source = values_source(hub_source(source, revision), download, "stats")
    inspection = inspected(source, spec_name)
    document = weight_stats(inspection.decoupled, by, inspection.shape.heads, threads)
    if fmt in TABLE_FORMATS:
        say(summary(summary_pairs(document), fmt))
    say(render(document[TABLE_KEYS[by]], fmt, COLUMNS[by] if fmt != "csv" else None,
               document=document))


@click.command("diff")
@click.argument("source_a", metavar="A")
@click.argument("source_b", metavar="B")
@BY
@click.option("--tolerance", type=float, default=0.0, show_default=True,
              help="Values within this absolute difference compare equal (0: bit-identical).")
@SPEC_FOR_HEADS
@click.option("--threads", type=click.IntRange(min=1), help=THREADS_HELP)
@DOWNLOAD
@FORMAT
def diff_command(source_a: str, source_b: str, by: str, tolerance: float,
                 spec_name: str | None, threads: int | None, download: bool, fmt: str) -> int:
    """How B's values differ from A's, by role, layer, head or tensor: relative L2 change,
    largest absolute change, cosine; tensors on one side only; dtype and shape changes.
    Exit 0 when identical within --tolerance, 1 when they differ."""
    from inspector.output.answers import diff_notes
    from inspector.values.diff import COLUMNS, diff
    from inspector.values.diff import summary_pairs as diff_summary

    source_a = values_source(source_a, download, "diff")
    source_b = values_source(source_b, download, "diff")
    doc = diff(source_a, source_b, by, tolerance, optional_spec(spec_name), threads)
    if fmt in TABLE_FORMATS:
        say(summary(diff_summary(doc), fmt))
    shown = doc[TABLE_KEYS[by]]
    if shown or fmt == "json":  # two architectures leave no rows: the verdict says so
        say(render(shown, fmt, COLUMNS[by] if fmt != "csv" else None, document=doc))
    notes = diff_notes(doc, fmt, bool(shown)) if fmt in TABLE_FORMATS else None
    if notes:
        say(notes)
    return 0 if doc["identical"] else 1


COMMANDS = (stats, diff_command)
