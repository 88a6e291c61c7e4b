"""Where a drawing comes from (a spec, an inspected checkpoint) and where it goes: the page
around the picture (its summary and role table), written whole or not at all."""

from __future__ import annotations

from dataclasses import replace

from inspector.output.diagram.model import (
    Drawing,
    boxes_of,
    drawing,
    model_of_shape,
    model_of_spec,
    shape_sizes,
)
from inspector.output.diagram.svg import svg
from inspector.output.diagram.text import share
from inspector.output.markup import xml_text
from inspector.spec.schema import Spec
from inspector.vocab.rows import LANGUAGE_MODEL, Row
from inspector.vocab.tables import role_table


def role_rows(rows: list[Row], whole: int, wrong: dict[str, list[str]]) -> str:
    """The role table under the picture: each role's parameters, share, and what is wrong. A
    checkpoint with components (a vision tower beside the language model) has a component
    column: its roles repeat per component. A check's verdict is the language model's."""
    table = role_table(rows)
    parts = any("component" in r for r in table)
    out = []
    for r in table:
        part = r.get("component")
        checked = part in (None, LANGUAGE_MODEL)
        note = f"tied to the {r['tied_to']}: not counted again" if r["tied_to"] else ""
        note = " ".join(wrong.get(r["role"], [note])) if checked else note
        cls = ' class="mismatch"' if checked and r["role"] in wrong else ""
        part_cell = f"<td>{xml_text(part or '')}</td>" if parts else ""
        part_attr = f' data-component="{xml_text(part)}"' if part else ""
        out.append(f'<tr data-role="{xml_text(r["role"])}"{part_attr}'
                   f' data-params="{r["parameters"]}"'
                   f'{cls}>{part_cell}<td>{xml_text(r["role"])}</td>'
                   f'<td class="n">{r["parameters"]:,}</td>'
                   f'<td class="n">{"-" if r["tied_to"] else share(r["parameters"], whole)}</td>'
                   f"<td>{xml_text(note)}</td></tr>")
    listed = {r["role"] for r in table if r.get("component") in (None, LANGUAGE_MODEL)}
    empty = "<td></td>" if parts else ""
    out += [f'<tr class="mismatch">{empty}<td>{xml_text(role)}</td><td class="n">0</td><td></td>'
            f"<td>absent: {xml_text(' '.join(lines))}</td></tr>"
            for role, lines in wrong.items() if role not in listed]  # the spec has, the file not
    head = "<th>component</th>" if parts else ""
    return (f'<table class="roles"><thead><tr>{head}<th>role</th><th class="n">parameters</th>'
            f'<th class="n">share</th><th>note</th></tr></thead><tbody>{"".join(out)}'
            "</tbody></table>")


def figure(d: Drawing, rows: list[Row], title: str) -> str:
    """The picture and its role table, for a page."""
    return f"{svg(d, title)}\n<h2>Parameters by role</h2>\n{role_rows(rows, d.total, d.wrong)}"


def page(d: Drawing, rows: list[Row], title: str, summary: list[tuple[str, str]]) -> str:
    from inspector.output.page import html_page

    items = "".join(f"<dt>{xml_text(k)}</dt><dd>{xml_text(v)}</dd>" for k, v in summary)
    return html_page(title, f'<h1>{xml_text(title)}</h1>\n<dl class="summary">{items}</dl>\n'
                            + figure(d, rows, title))


def names_a_checkpoint(source: str) -> bool:
    """A file or folder of weights, as against a spec (a name, a YAML file, a config.json)."""
    from pathlib import Path

    path = Path(source)
    if not path.exists():
        return False
    return path.is_dir() or path.name.endswith(".index.json") or path.suffix.lower() not in (
        ".yaml", ".yml", ".json")


def from_spec(spec: Spec) -> tuple[Drawing, list[Row], list[tuple[str, str]]]:
    from inspector.spec.describe import spec_rows

    rows = spec_rows(spec)
    d = drawing(rows, model_of_spec(spec))
    return d, rows, spec_summary(d, spec, rows)


def spec_summary(d: Drawing, spec: Spec, rows: list[Row]) -> list[tuple[str, str]]:
    """The lines above a spec's picture on its page."""
    return [("spec", spec.name), ("source", spec.source), *totals(d, spec, rows)]


def checkpoint_summary(d: Drawing, source: str, inspection) -> list[tuple[str, str]]:
    """The lines above a checkpoint's picture on its page (a check's line apart)."""
    return [("source", source), ("layout", inspection.decoupled.layout.name),
            *totals(d, inspection.spec, inspection.decoupled.held)]


def from_checkpoint(source: str, spec: Spec | None):
    """An inspected checkpoint; with a spec, checked against it and its mismatches marked."""
    from inspector.checkpoint.check import check
    from inspector.checkpoint.inspection import inspect_source

    inspection = inspect_source(source, spec)
    verdict = check(spec, inspection.decoupled) if spec is not None else None
    d = of_inspection(source, inspection, verdict)
    summary = checkpoint_summary(d, source, inspection)
    if verdict is not None:
        summary.append(("check", f"against {spec.name}: "
                        + ("match" if verdict["ok"] else
                           f"MISMATCH in {len(d.wrong)} roles, {len(verdict['problems'])}"
                           " problems (marked red)")))
    return d, inspection.decoupled.held, summary, inspection.warnings


def of_inspection(source: str, inspection, verdict: dict | None) -> Drawing:
    """A checkpoint's drawing: its spec (config.json's, else --spec) where known, else what
    its shape and boxes say; a check's verdict marks the roles it failed."""
    rows = inspection.decoupled.held  # (sums: a layer's alike experts held once)
    known, shape = inspection.spec, inspection.shape
    if known is None:
        return drawing(rows, model_of_shape(source, shape, boxes_of(rows)), verdict)
    # the checkpoint's own shape wins where it has one (a --spec of another size is checked,
    # not drawn): the stack has the checkpoint's layers
    model = replace(model_of_spec(known), name=source, **shape_sizes(shape))
    return drawing(rows, model, verdict)


def totals(d: Drawing, spec: Spec | None, rows: list[Row]) -> list[tuple[str, str]]:
    from inspector.vocab.tables import active_total

    out = [("parameters", f"{d.total:,}")]
    k = spec.experts_per_token if spec is not None else None
    active = active_total(rows, k)
    if d.model.n_experts and active is not None:
        out.append(("active", f"{active:,} a token ({k} of {d.model.n_experts} experts)"))
    tied = [b for b in d.boxes.values() if b.tied_to]
    out.append(("tied", "unembedding is the embedding's storage (counted once)" if tied
                else "no"))
    tensors, values = sum(n for _, n, _ in d.buffers), sum(v for _, _, v in d.buffers)
    out.append(("buffers", f"{tensors:,} tensors, {values:,} values (not parameters)"))
    return out


def write(source: str, out: str, spec: Spec | None) -> tuple[str, list[str]]:
    """Draw SOURCE (a checkpoint, else a spec) into OUT, .html or .svg. Returns the path and
    warnings."""
    from pathlib import Path

    from inspector.errors import UsageError
    from inspector.spec.loading import load_spec

    target = Path(out)
    kind = target.suffix.lower()
    if kind not in (".html", ".htm", ".svg"):
        raise UsageError(out, "--out must name a .html or .svg file")
    if target.is_dir():
        raise UsageError(out, "is a folder; --out names the file to write")
    warnings: list[str] = []
    if names_a_checkpoint(source):
        d, rows, summary, warnings = from_checkpoint(source, spec)
    else:
        if spec is not None:
            raise UsageError(source, "is a spec, not a checkpoint: --spec is for checking a"
                                     " checkpoint against it")
        drawn = load_spec(source)
        d, rows, summary = from_spec(drawn)
        warnings = drawn.warnings()
    return save(d, rows, summary, target), warnings


def save(d: Drawing, rows: list[Row], summary: list[tuple[str, str]], target) -> str:
    """Write a drawing whole or not at all: the picture alone (.svg) or the page (.html)."""
    from pathlib import Path

    from inspector.errors import UsageError
    from inspector.files.atomic import make_folder, write_atomically

    target = Path(target)
    if target.suffix.lower() not in (".html", ".htm", ".svg"):
        raise UsageError(str(target), "must name a .html or .svg file")
    if target.is_dir():
        raise UsageError(str(target), "is a folder; name the file to write")
    title = f"{d.model.name}: {d.total:,} parameters"
    text = svg(d, title) if target.suffix.lower() == ".svg" else page(d, rows, title, summary)
    make_folder(target.parent)
    write_atomically(target.parent, {target.name: lambda tmp: tmp.write_text(
        text, encoding="utf-8")}, "diagram")
    return str(target)
