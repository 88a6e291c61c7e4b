"""The `inspector` command: parse, call, render, exit code. Nothing else lives here.

Exit status: 0 done (check: every role matches), 1 check or diff found a difference,
2 bad input or usage, always as one line on stderr, never a traceback.
"""

from __future__ import annotations

import os
import sys

import click

from inspector.errors import InspectorError, one_line
from inspector.formats.dtypes import WRITTEN as WRITTEN_DTYPES
from inspector.output.rendering import FORMATS, render, summary
from inspector.vocab.tables import TABLE_KEYS
from inspector.terminal import printable, summarised

FORMAT = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                      show_default=True, help="How to print the answer.")
SPEC_HELP = "A shipped spec name (see `inspector specs`), a spec YAML file or a config.json."
# --spec where it is optional: a checkpoint says its own shape, but not always its head count.
SPEC_FOR_HEADS = click.option("--spec", "spec_name", help="Supplies what the files do not say"
                                                          " (heads). " + SPEC_HELP)


def by_option(*choices: str):
    """--by: which table to show, one of `choices`, by role unless asked."""
    return click.option("--by", type=click.Choice(list(choices)), default="role",
                        show_default=True)


BY = by_option(*TABLE_KEYS)  # role, layer, head, tensor
REVISION = click.option("--revision", help="For a hub id: the branch, tag or commit to read (as"
                                           " owner/name@REVISION) [default: main].")
DOWNLOAD = click.option("--download", is_flag=True,
                        help="For a hub id: download the weights (the command says how many bytes"
                             " first and stops unless this is given).")


def hub_source(source: str, revision: str | None) -> str:
    """SOURCE with --revision folded in (owner/name@revision)."""
    if revision is None:  # SOURCE as it is, without importing the hub module (export's time)
        return source
    from inspector.formats.hub import with_revision

    return with_revision(source, revision)


def values_source(source: str, download: bool, command: str) -> str:
    """What a command that reads values opens: SOURCE itself, or for a hub id whose weights are
    not all cached, the snapshot folder downloaded when --download asks for it."""
    from inspector.formats.hub import fetch_values

    fetch_values(source, download, command, lambda text: click.echo(text, err=True))
    return source  # a path, or a complete cached snapshot


def say(text: str) -> None:
    click.echo(printable(text))  # names from files: shown, never obeyed by the terminal


def warn(text: str) -> None:
    click.echo(f"inspector: warning: {one_line(text)}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="inspector")
def cli() -> None:
    """Define transformer architectures and inspect their weights, exactly."""


@cli.command()
@FORMAT
def specs(fmt: str) -> None:
    """The shipped specs with family and parameter count."""
    from inspector.spec.describe import spec_rows
    from inspector.spec.loading import shipped_specs
    from inspector.vocab.tables import total

    rows = [{"spec": s.name, "family": s.family, "parameters": total(spec_rows(s)),
             "layers": s.n_layers, "d_model": s.d_model, "heads": s.n_heads, "source": s.source}
            for s in shipped_specs()]
    rows.sort(key=lambda r: (r["family"], r["parameters"]))
    say(render(rows, fmt))


@cli.command()
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
    from inspector.spec.describe import spec_rows
    from inspector.output.answers import count_document, count_summary
    from inspector.spec.loading import load_spec
    from inspector.vocab.tables import expert_table, layer_table, select, tensor_table

    spec = load_spec(hub_source(spec_name, revision) if revision else spec_name)
    for w in spec.warnings():
        warn(w)
    rows = spec_rows(spec)
    document = count_document(spec, rows, count_tied, weights_only)
    roles = document["roles"]
    shown = roles
    if by == "expert":
        shown = document["experts"] = expert_table(rows)
    elif by == "layer":
        shown = document["layers"] = layer_table(rows, count_tied, weights_only)
    elif by == "tensor":
        shown = document["tensors"] = [
            {k: t[k] for k in ("tensor", "role", "layer", "kind", "shape", "numel", "tied_to")}
            for t in tensor_table(select(rows, count_tied, weights_only))]
    if with_costs:
        from inspector.spec.costs import cost_rows, costs

        document["costs"] = costs(spec)
        if fmt == "csv":
            say(render(cost_rows(spec, document["costs"]), fmt))
            return
    if fmt in ("table", "markdown"):
        say(summary(count_summary(document, spec), fmt))
    say(render(shown, fmt, document=document))
    if fmt in ("table", "markdown"):
        say(_count_footnote(roles, count_tied, weights_only))
        if with_costs:
            say("\ncosts (from the spec; every stored parameter once):\n")
            say(render(cost_rows(spec, document["costs"]), fmt))


def _count_footnote(roles: list[dict], count_tied: bool, weights_only: bool) -> str:
    notes = []
    for r in roles:
        if r["tied_to"]:
            how = "counted again" if count_tied else "shown, not added to the total"
            notes.append(f"{r['role']} is tied to {r['tied_to']} (one storage): {how}.")
    if weights_only:
        notes.append("--weights-only: matrices only; biases, norms and the position table left"
                     " out.")
    return "\n" + "\n".join(notes) if notes else ""


@cli.command()
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
    from inspector.output.answers import inspect_document, inspect_summary, inspect_table

    if is_adapter(source):
        return _inspect_adapter(source, by, spec_name, fmt)
    source = hub_source(source, revision)
    inspection = _inspect(source, spec_name)
    document = inspect_document(source, inspection)
    hub_count = document.get("hub")
    shown = inspect_table(by, inspection, document)
    warn_unmapped(source, document["layout"], inspection.rows)
    if fmt in ("table", "markdown"):
        say(summary(inspect_summary(document, inspection.spec), fmt))
    say(render(shown, fmt, document=document))
    if hub_count is not None and fmt in ("table", "markdown"):
        say(_hub_note(hub_count))


ADAPTER_TABLES = {"role": "roles", "layer": "layers", "tensor": "tensor_rows"}


def _inspect_adapter(source: str, by: str, spec_name: str | None, fmt: str) -> None:
    """A PEFT adapter folder: its config, and its tensors by the role of the base module each
    adapts (a --spec, or base_model_name_or_path when it is a folder here, names the base)."""
    from inspector.checkpoint.adapters import (
        inspect_adapter,
        names_joined,
        part_table,
        shown_columns,
        tensor_table,
    )
    from inspector.output.answers import adapter_summary
    from inspector.errors import UsageError
    from inspector.spec.loading import load_spec

    if by not in ADAPTER_TABLES:
        raise UsageError(source, f"--by {by}: an adapter is shown by role, layer or tensor")
    document, adapter, rows = inspect_adapter(source, load_spec(spec_name) if spec_name else None)
    if by == "layer":
        document["layers"] = part_table(rows, "layer")
    elif by == "tensor":
        document["tensor_rows"] = tensor_table(adapter, rows)
    shown = document[ADAPTER_TABLES[by]]
    if fmt in ("table", "markdown"):
        say(summary(adapter_summary(document), fmt))
    columns = shown_columns(shown, by) if by != "tensor" and fmt != "csv" else None
    say(render(names_joined(shown), fmt, columns, document=document))


def _hub_note(found: dict) -> str:
    """The hub's count beside ours, and the difference one cause per line."""
    from inspector.checkpoint.hub_count import lines

    dtypes = ", ".join(f"{k} {v:,}" for k, v in found["dtypes"].items())
    head = (f"\nthe hub counts {found['total']:,} ({dtypes}); inspector {found['parameters']:,}"
            f" parameters; difference {found['difference']:,}")
    return "\n".join([head + (":" if found["causes"] or found["unexplained"] else ""),
                      *(f"  {line}" for line in lines(found))])


UNMAPPED_NAMES_SHOWN = 3


def warn_unmapped(source: str, layout: str, rows) -> None:
    """One warning for every tensor no rule recognises: how many, their values, the first few."""
    from inspector.vocab.tables import unmapped

    names = unmapped(rows)
    if not names:
        return
    values = sum(r.numel for r in rows if r.kind == "unmapped")
    shown = summarised(names, UNMAPPED_NAMES_SHOWN)  # escaped: names come from the file
    which = "no generic name pattern" if layout == "inferred" else f"no rule of the {layout} layout"
    components = sorted({r.component for r in rows if r.kind == "unmapped" and r.component})
    if components:  # a multimodal model's: its vision tower's, its projector's
        which += f" nor a generic name pattern (components: {', '.join(components)})"
    warn(f"{source}: {len(names):,} tensors ({values:,} values) match {which}: {shown};"
         " counted as 'unmapped'")


def _inspect(source: str, spec_name: str | None):
    """Open and decouple SOURCE; a --spec supplies heads, and where it disagrees with the
    checkpoint we say so."""
    from inspector.checkpoint.inspection import inspect_source
    from inspector.spec.loading import load_spec

    inspection = inspect_source(source, load_spec(spec_name) if spec_name else None)
    for text in inspection.warnings:
        warn(text)
    return inspection


@cli.command()
@click.argument("source")
@click.option("--spec", "spec_name", required=True,
              help=SPEC_HELP + " For a PEFT adapter folder: also the base model's folder.")
@REVISION
@FORMAT
def check(source: str, spec_name: str, revision: str | None, fmt: str) -> int:
    """Does SOURCE match SPEC? Exit 0 when every role matches, 1 when one does not."""
    from inspector.checkpoint.adapters import is_adapter
    from inspector.checkpoint.check import check as run_check
    from inspector.output.answers import check_notes, check_summary
    from inspector.checkpoint.inspection import inspect_source
    from inspector.spec.loading import load_spec

    if is_adapter(source):
        return _check_adapter(source, spec_name, fmt)
    source = hub_source(source, revision)
    spec = load_spec(spec_name)  # disagreements with the checkpoint are the verdict's to say
    verdict = run_check(spec, inspect_source(source, spec).decoupled)
    if fmt in ("table", "markdown"):
        say(summary(check_summary(verdict, spec, source), fmt))
    say(render(verdict["roles"], fmt, document=verdict))
    if fmt in ("table", "markdown"):
        for line in check_notes(verdict):
            say(line)
    return 0 if verdict["ok"] else 1


def _check_adapter(source: str, base_name: str, fmt: str) -> int:
    """Does the PEFT adapter in SOURCE fit the base (--spec: a spec, a config.json or the base
    model's folder)? Exit 0 when it does, 1 with each mismatch named."""
    from inspector.checkpoint.adapters import fit, load_base, names_joined, open_adapter

    adapter = open_adapter(source)
    verdict = fit(adapter, load_base(base_name))
    if fmt in ("table", "markdown"):
        say(summary([("base", verdict["base"]), ("source", source),
                     ("verdict", "fits" if verdict["ok"] else "MISMATCH")], fmt))
    say(render(names_joined(verdict["modules"]), fmt, document=verdict))
    if fmt in ("table", "markdown"):
        for problem in verdict["problems"]:
            say(f"problem: {one_line(problem)}")
    return 0 if verdict["ok"] else 1


@cli.command()
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
    from inspector.output.export import write_tables
    from inspector.checkpoint.inspection import inspect_source
    from inspector.spec.loading import load_spec
    from inspector.vocab.tables import HEADS_UNKNOWN, head_table, layer_table, role_table, tensor_table

    source = hub_source(source, revision)
    inspection = inspect_source(source, load_spec(spec_name) if spec_name else None)
    rows, shape = inspection.rows, inspection.shape
    notes = list(inspection.warnings)  # said once the tables are written: a refusal is one line
    tables = {"roles": role_table(rows), "layers": layer_table(rows)}
    if shape.n_heads:
        tables["heads"] = head_table(rows, shape.n_heads, shape.n_kv_heads, source)
    else:
        notes.append(f"{source}: heads table not written: {HEADS_UNKNOWN}")
    tables["tensors"] = tensor_table(rows)
    for path in write_tables(tables, out_dir, fmt):
        say(str(path))
    for note in notes:
        warn(note)


@cli.command()
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
    from inspector.spec.loading import load_spec

    text, verdict = build_report(hub_source(source, revision),
                                 load_spec(spec_name) if spec_name else None, fmt)
    say(text)
    return 0 if verdict is None or verdict["ok"] else 1


@cli.command()
@click.argument("source")
@BY
@SPEC_FOR_HEADS
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads reading blocks [default: one per idle core].")
@REVISION
@DOWNLOAD
@FORMAT
def stats(source: str, by: str, spec_name: str | None, threads: int | None,
          revision: str | None, download: bool, fmt: str) -> None:
    """Weight statistics of SOURCE, streamed block by block: mean, std, min, max, absmax, L2,
    zeros (fraction), NaN and Inf, per role, layer, head or tensor (fused parts apart)."""
    from inspector.values.stats import COLUMNS, summary_pairs, weight_stats

    source = values_source(hub_source(source, revision), download, "stats")
    inspection = _inspect(source, spec_name)
    document = weight_stats(inspection.decoupled, by, inspection.shape.heads, threads)
    if fmt in ("table", "markdown"):
        say(summary(summary_pairs(document), fmt))
    say(render(document[TABLE_KEYS[by]], fmt, COLUMNS[by] if fmt != "csv" else None,
               document=document))


@cli.command()
@click.argument("cache_dir", required=False)
@FORMAT
def scan(cache_dir: str | None, fmt: str) -> None:
    """Every model repo and revision in the Hugging Face cache (CACHE_DIR, default HF_HUB_CACHE),
    header-only: family, parameters, active parameters, dtypes, bytes on disk."""
    from inspector.checkpoint.scan import COLUMNS
    from inspector.checkpoint.scan import scan as scan_cache

    document = scan_cache(cache_dir)
    if fmt in ("table", "markdown"):
        say(summary([("cache", document["cache"]),
                     ("revisions", len(document["revisions"]))], fmt))
    say(render(document["revisions"], fmt, COLUMNS, document=document))
    for text in document["warnings"]:
        warn(text)
    if fmt in ("table", "markdown") and any(r["active"] is None and r["parameters"]
                                            for r in document["revisions"]):
        say("\nactive '-': a mixture of experts whose family inspector does not read per expert.")


@cli.command()
@click.argument("spec_name", metavar="SPEC")
@click.option("--out", "out_dir", required=True,
              help="Folder to write config.json and model.safetensors into.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random weights.")
@click.option("--dtype", type=click.Choice(list(WRITTEN_DTYPES)), default="float32",
              show_default=True)
def build(spec_name: str, out_dir: str, seed: int, dtype: str) -> None:
    """Write SPEC as a hub-layout checkpoint (config.json + model.safetensors) of seeded random
    weights, in its family's tensor names, that transformers' from_pretrained loads."""
    from pathlib import Path

    from inspector.files.guard import check_file
    from inspector.spec.loading import load_spec
    from inspector.building.checkpoint_writer import write_checkpoint

    spec = load_spec(spec_name)
    for name in ("config.json", "model.safetensors"):  # before transformers and torch load
        check_file(Path(out_dir) / name)
    written = write_checkpoint(spec, out_dir, seed=seed, dtype=dtype)
    for note in written.notes:
        warn(note)
    for path in written.files:
        say(str(path))


DEMO_SPEC = "gpt2-124m"


@cli.command()
@click.option("--out", "out_dir",
              help="Keep the checkpoint and the tables here. Default: a new temporary folder, from"
                   " which the checkpoint is removed at the end and the tables are kept.")
@click.pass_context
def demo(ctx: click.Context, out_dir: str | None) -> int:
    """The main job on an embedded default, offline: build gpt2-124m from its spec, then run
    inspect, check and export on it, exactly as those commands run."""
    import shutil
    import tempfile
    from pathlib import Path

    root = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="inspector-demo-"))
    checkpoint, tables = root / DEMO_SPEC, root / "tables"
    try:
        say(f"== inspector build {DEMO_SPEC} --out {checkpoint}")
        ctx.invoke(build, spec_name=DEMO_SPEC, out_dir=str(checkpoint), seed=0, dtype="float32")
        say(f"\n== inspector inspect {checkpoint}")
        ctx.invoke(inspect, source=str(checkpoint), by="role", spec_name=None, fmt="table")
        say(f"\n== inspector check {checkpoint} --spec {DEMO_SPEC}")
        code = ctx.invoke(check, source=str(checkpoint), spec_name=DEMO_SPEC, fmt="table")
        say(f"\n== inspector export {checkpoint} --out {tables}")
        ctx.invoke(export, source=str(checkpoint), out_dir=str(tables), fmt="csv",
                   spec_name=None)
    finally:
        if not out_dir:
            shutil.rmtree(checkpoint, ignore_errors=True)
    kept = "" if out_dir else " (the checkpoint itself was removed; --out DIR keeps it)"
    say(f"\ntables written to {tables}{kept}")
    return code


@cli.command("diff")
@click.argument("source_a", metavar="A")
@click.argument("source_b", metavar="B")
@BY
@click.option("--tolerance", type=float, default=0.0, show_default=True,
              help="Values within this absolute difference compare equal (0: bit-identical).")
@SPEC_FOR_HEADS
@click.option("--threads", type=click.IntRange(min=1),
              help="Threads reading blocks [default: one per idle core].")
@DOWNLOAD
@FORMAT
def diff_command(source_a: str, source_b: str, by: str, tolerance: float,
                 spec_name: str | None, threads: int | None, download: bool, fmt: str) -> int:
    """How B's values differ from A's, by role, layer, head or tensor: relative L2 change,
    largest absolute change, cosine; tensors on one side only; dtype and shape changes.
    Exit 0 when identical within --tolerance, 1 when they differ."""
    from inspector.values.diff import COLUMNS, diff, structural_lines
    from inspector.values.diff import summary_pairs as diff_summary
    from inspector.spec.loading import load_spec

    source_a = values_source(source_a, download, "diff")
    source_b = values_source(source_b, download, "diff")
    doc = diff(source_a, source_b, by, tolerance, load_spec(spec_name) if spec_name else None,
               threads)
    if fmt in ("table", "markdown"):
        say(summary(diff_summary(doc), fmt))
    shown = doc[TABLE_KEYS[by]]
    if shown or fmt == "json":  # two architectures leave no rows: the verdict says so
        say(render(shown, fmt, COLUMNS[by] if fmt != "csv" else None, document=doc))
    if fmt in ("table", "markdown"):
        lines = structural_lines(doc)
        if lines:
            say("\n" * bool(shown)  # after a table, a blank line; the summary ends in one
                + "\n".join(f"- {one_line(line)}" if fmt == "markdown" else one_line(line)
                            for line in lines))
    return 0 if doc["identical"] else 1


@cli.command()
@click.argument("source", metavar="SOURCE|SPEC")
@click.option("--out", required=True, help="The .html page (or .svg picture) to write.")
@click.option("--spec", "spec_name", help="For a checkpoint: supplies what the files do not say"
                                          " and checks against it, marking mismatching roles. "
                                          + SPEC_HELP)
@REVISION
def diagram(source: str, out: str, spec_name: str | None, revision: str | None) -> None:
    """The architecture of SOURCE (a checkpoint) or SPEC drawn with exact counts: embedding, the
    stack of blocks with its layer pattern, one block in detail, the head; every box with its
    shape, parameters and share. A self-contained page (no network) or an SVG."""
    from inspector.output.diagram import write
    from inspector.spec.loading import load_spec

    written, notes = write(hub_source(source, revision) if revision else source, out,
                           load_spec(spec_name) if spec_name else None)
    for note in notes:
        warn(note)
    say(written)


@cli.group()
def plot() -> None:
    """Pictures as PNG files (matplotlib, headless): `plot shares`, `plot norms`."""


@plot.command("shares")
@click.argument("spec_names", metavar="[SPEC]...", nargs=-1)
@click.option("--out", required=True, help="The .png to write.")
def plot_shares(spec_names: tuple[str, ...], out: str) -> None:
    """Parameter share by role across specs, as 100% stacked bars (default: GPT-2 124M and 1.5B,
    GPT-3 175B, Llama-2 7B and 70B, those shipped)."""
    from inspector.output.plots import default_share_specs
    from inspector.output.plots import plot_shares as draw
    from inspector.spec.loading import load_spec

    say(str(draw([load_spec(n) for n in spec_names or default_share_specs()], out)))


@plot.command("norms")
@click.argument("source")
@click.option("--out", required=True, help="The .png to write.")
@click.option("--spec", "spec_name", help="Supplies what the files do not say. " + SPEC_HELP)
@click.option("--title", help="Name shown in the title (default: the file or folder name).")
def plot_norms(source: str, out: str, spec_name: str | None, title: str | None) -> None:
    """Per-layer L2 norms by role of SOURCE's weights (streamed, as `inspector stats`)."""
    from inspector.output.plots import plot_norms as draw
    from inspector.spec.loading import load_spec

    say(str(draw(source, out, load_spec(spec_name) if spec_name else None, title)))


def main() -> None:
    """Entry point: every expected failure becomes one line on stderr and exit status 2."""
    try:
        code = _run(sys.argv[1:])
    except click.ClickException as e:  # usage errors: click's own message, exit 2
        e.show()
        code = e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("inspector: interrupted", err=True)
        code = 130
    except InspectorError as e:
        _fail(f"inspector: error: {e}")
        code = 2
    except BrokenPipeError:
        code = 0  # the reader went away (e.g. `| head`): nothing left to say
    except OSError as e:  # a file the readers did not wrap: still name it and say why
        if os.environ.get("INSPECTOR_DEBUG"):
            raise
        where = e.filename if e.filename is not None else "input"
        _fail(f"inspector: error: {where}: {e.strerror or e}")
        code = 2
    except UnicodeError as e:  # text that is not UTF-8 (a spec or config in another encoding)
        if os.environ.get("INSPECTOR_DEBUG"):
            raise
        _fail(f"inspector: error: input is not UTF-8 text: {e}")
        code = 2
    except Exception as e:  # a bug: still one line, with a way to see the traceback
        if os.environ.get("INSPECTOR_DEBUG"):
            raise
        _fail(f"inspector: internal error: {type(e).__name__}: {e} (set INSPECTOR_DEBUG=1"
              " for the traceback, and please report it)")
        code = 2
    sys.exit(code or 0)


def _run(args: list[str]) -> int | None:
    """What `cli.main(standalone_mode=False)` does, less its handling of Ctrl-C: click prints a
    blank line to stderr before its Abort, and the interrupt is main()'s to report."""
    from inspector.files.guard import forget_reads

    forget_reads()  # a new command: nothing read yet (main() may run twice in one process)
    try:
        with cli.make_context("inspector", args) as ctx:
            return cli.invoke(ctx)
    except click.exceptions.Exit as e:  # --help, --version
        return e.exit_code


def _fail(message: str) -> None:
    """One line on stderr, whatever the message holds (an OSError's path, a bug's text)."""
    click.echo(one_line(message), err=True)
