"""`inspector specs` and `inspector count`: a spec's numbers, by arithmetic."""

from __future__ import annotations

import click

from inspector.cli.options import (
    FORMAT,
    REVISION,
    TABLE_FORMATS,
    by_option,
    hub_source,
    say,
    warn,
)
from inspector.output.rendering import render, summary


@click.command()
@FORMAT
def specs(fmt: str) -> None:
    """The shipped specs with family and parameter count."""
    from inspector.output.answers import specs_table
    from inspector.spec.loading import shipped_specs

    say(render(specs_table(shipped_specs()), fmt))


@click.command()
@click.argument("spec_name", metavar="SPEC")
@by_option("role", "layer", "tensor", "expert")
@click.option("--count-tied", is_flag=True, help="Count a tied unembedding again (as the GPT-3"
                                                 " paper's style of table does).")
@click.option("--weights-only", is_flag=True, help="Matrices only: no biases, norms or position"
                                                   " table.")
@click.option("--costs", "with_costs", is_flag=True,
              help="Also weight bytes per dtype, KV-cache bytes, FLOPs per token (JSON key"
                   " \"costs\"; with --format csv only the costs table).")
@REVISION
@FORMAT
def count(spec_name: str, by: str, count_tied: bool, weights_only: bool, with_costs: bool,
          revision: str | None, fmt: str) -> None:
    """Exact parameter counts of SPEC by role, layer or tensor.

    SPEC is a shipped spec name (see `inspector specs`), a spec YAML file, a config.json or a hub
    id (owner/name[@revision], whose config.json is read).
    """
    from inspector.output.answers import (
        COSTS_HEADING,
        count_document,
        count_footnote,
        count_summary,
        count_table,
    )
    from inspector.spec.describe import spec_row_groups
    from inspector.spec.loading import load_spec

    spec = load_spec(hub_source(spec_name, revision), whole_model=True)
    for w in spec.warnings():
        warn(w)
    rows = spec_row_groups(spec)  # each layer's experts once: the tables take them n times
    document = count_document(spec, rows, count_tied, weights_only)
    shown = count_table(by, rows, document, count_tied, weights_only)
    if with_costs:
        from inspector.spec.costs import cost_rows, costs

        document["costs"] = costs(spec)
        if fmt == "csv":
            say(render(cost_rows(spec, document["costs"]), fmt))
            return
    if fmt in TABLE_FORMATS:
        say(summary(count_summary(document, spec), fmt))
    say(render(shown, fmt, document=document))
    if fmt in TABLE_FORMATS:
        say(count_footnote(document["roles"], count_tied, weights_only))
        if with_costs:
            say(COSTS_HEADING)
            say(render(cost_rows(spec, document["costs"]), fmt))


COMMANDS = (specs, count)
