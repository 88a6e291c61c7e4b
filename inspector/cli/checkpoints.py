"""The commands that read a checkpoint's headers: inspect, check, export, report, scan."""

from __future__ import annotations

import click

from inspector.cli.options import (
    FORMAT,
    REVISION,
    SPEC_FOR_HEADS,
    SPEC_HELP,
    TABLE_FORMATS,
    by_option,
    hub_source,
    inspected,
    optional_spec,
    say,
    warn,
)
from inspector.output.rendering import render, summary
from inspector.vocab.tables import TABLE_KEYS


@click.command()
@click.argument("source")
@by_option(*TABLE_KEYS, "expert", "component")
@SPEC_FOR_HEADS
@REVISION
@FORMAT
def inspect(source: str, by: str, spec_name: str | None, revision: str | None, fmt: str) -> None:
    """What is in SOURCE (a file, a folder or a hub id), exactly, by role, layer, head, tensor,
    expert or component (language_model, vision, projector, audio, mtp: JSON key `components`).

    A hub id (owner/name[@revision]) is read header-only: config.json, the index and each
    safetensors header by HTTP Range, never the weights."""
    from inspector.checkpoint.adapters import is_adapter
    from inspector.output.answers import (
        hub_note,
        inspect_document,
        inspect_summary,
        inspect_table,
        unmapped_note,
    )

    if is_adapter(source):
        return _inspect_adapter(source, by, spec_name, fmt)
    source = hub_source(source, revision)
    inspection = inspected(source, spec_name)
    document = inspect_document(source, inspection)
    hub_count = document.get("hub")
    shown = inspect_table(by, inspection, document)
    unmapped = unmapped_note(document["layout"], inspection.decoupled.held)
    if unmapped:
        warn(f"{source}: {unmapped}")
    if fmt in TABLE_FORMATS:
        say(summary(inspect_summary(document, inspection.spec), fmt))
    say(render(shown, fmt, document=document))
    if hub_count is not None and fmt in TABLE_FORMATS:
        say(hub_note(hub_count))


ADAPTER_TABLES = {"role": "roles", "layer": "layers", "tensor": "tensor_rows"}


def _inspect_adapter(source: str, by: str, spec_name: str | None, fmt: str) -> None:
    """A PEFT adapter folder: its config, and its tensors by the role of the base module each
    adapts (a --spec, or base_model_name_or_path when it is a folder here, names the base)."""
    from inspector.checkpoint.adapter_tables import (
        inspect_adapter,
        names_joined,
        part_table,
        shown_columns,
        tensor_table,
    )
    from inspector.errors import UsageError
    from inspector.output.answers import adapter_summary

    if by not in ADAPTER_TABLES:
        raise UsageError(source, f"--by {by}: an adapter is shown by role, layer or tensor")
    document, adapter, rows = inspect_adapter(source, optional_spec(spec_name))
    if by == "layer":
        document["layers"] = part_table(rows, "layer")
    elif by == "tensor":
        document["tensor_rows"] = tensor_table(adapter, rows)
    shown = document[ADAPTER_TABLES[by]]
    if fmt in TABLE_FORMATS:
        say(summary(adapter_summary(document), fmt))
    columns = shown_columns(shown, by) if by != "tensor" and fmt != "csv" else None
    say(render(names_joined(shown), fmt, columns, document=document))


@click.command()
@click.argument("source")
@click.option("--spec", "spec_name", required=True,
              help=SPEC_HELP + " For a PEFT adapter folder: also the base model's folder.")
@REVISION
@FORMAT
def check(source: str, spec_name: str, revision: str | None, fmt: str) -> int:
    """Does SOURCE match SPEC? Exit 0 when every role matches, 1 when one does not."""
    from inspector.checkpoint.adapters import is_adapter
    from inspector.checkpoint.check import check as run_check
    from inspector.checkpoint.inspection import inspect_source
    from inspector.output.answers import check_notes, check_summary
    from inspector.spec.loading import load_spec

    if is_adapter(source):
        return _check_adapter(source, spec_name, fmt)
    source = hub_source(source, revision)
    spec = load_spec(spec_name)  # disagreements with the checkpoint are the verdict's to say
    verdict = run_check(spec, inspect_source(source, spec).decoupled)
    if fmt in TABLE_FORMATS:
        say(summary(check_summary(verdict, spec, source), fmt))
    say(render(verdict["roles"], fmt, document=verdict))
    if fmt in TABLE_FORMATS:
        for line in check_notes(verdict):
            say(line)
    return 0 if verdict["ok"] else 1


def _check_adapter(source: str, base_name: str, fmt: str) -> int:
    """Does the PEFT adapter in SOURCE fit the base (--spec: a spec, a config.json or the base
    model's folder)? Exit 0 when it does, 1 with each mismatch named."""
    from inspector.checkpoint.adapter_fit import fit, load_base
    from inspector.checkpoint.adapter_tables import names_joined
    from inspector.checkpoint.adapters import open_adapter
    from inspector.output.answers import adapter_check_summary, problem_lines

    adapter = open_adapter(source)
    verdict = fit(adapter, load_base(base_name))
    if fmt in TABLE_FORMATS:
        say(summary(adapter_check_summary(verdict, source), fmt))
    say(render(names_joined(verdict["modules"]), fmt, document=verdict))
    if fmt in TABLE_FORMATS:
        for line in problem_lines(verdict["problems"]):
            say(line)
    return 0 if verdict["ok"] else 1


@click.command()
@click.argument("source")
@click.option("--out", "out_dir", required=True,
              help="Folder to write roles, layers, heads and tensors tables into.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet"]), default="csv",
              show_default=True)
@SPEC_FOR_HEADS
@REVISION
def export(source: str, out_dir: str, fmt: str, spec_name: str | None,
           revision: str | None) -> None:
    """Write SOURCE's tables (roles, layers, heads, tensors) into a folder, each whole or not at
    all. Without a head count (no config.json, no metadata, no --spec) the heads table is left
    out, with a warning, rather than the three tables that need none."""
    from inspector.checkpoint.inspection import inspect_source
    from inspector.output.export import checkpoint_tables, write_tables

    source = hub_source(source, revision)
    inspection = inspect_source(source, optional_spec(spec_name))
    tables, notes = checkpoint_tables(source, inspection)
    for path in write_tables(tables, out_dir, fmt):  # the notes after: a refusal is one line
        say(str(path))
    for note in notes:
        warn(note)


@click.command()
@click.argument("source")
@click.option("--spec", "spec_name", help="Check against it too (exit 1 on a mismatch). "
                                          + SPEC_HELP)
@REVISION
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown",
              show_default=True, help="Markdown, or one self-contained HTML page that adds the"
                                      " architecture diagram.")
def report(source: str, spec_name: str | None, revision: str | None, fmt: str) -> int:
    """Markdown for a pull request or a CI step summary: roles, buffers, tied weights, the
    verdict (with --spec), costs and notes; or all that and the diagram as an HTML page. Exit 0,
    or like `check` when --spec is given."""
    from inspector.output.report import build_report

    text, verdict = build_report(hub_source(source, revision), optional_spec(spec_name), fmt)
    say(text)
    return 0 if verdict is None or verdict["ok"] else 1


@click.command()
@click.argument("cache_dir", required=False)
@FORMAT
def scan(cache_dir: str | None, fmt: str) -> None:
    """Every model repo and revision in the Hugging Face cache (CACHE_DIR, default HF_HUB_CACHE),
    header-only: family, parameters, active parameters, dtypes, bytes on disk."""
    from inspector.checkpoint.scan import COLUMNS
    from inspector.checkpoint.scan import scan as scan_cache
    from inspector.output.answers import scan_notes, scan_summary

    document = scan_cache(cache_dir)
    if fmt in TABLE_FORMATS:
        say(summary(scan_summary(document), fmt))
    say(render(document["revisions"], fmt, COLUMNS, document=document))
    for text in document["warnings"]:
        warn(text)
    if fmt in TABLE_FORMATS:
        for line in scan_notes(document):
            say(line)


COMMANDS = (inspect, check, export, report, scan)
