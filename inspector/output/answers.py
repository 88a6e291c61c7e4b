"""What the commands answer: the documents (their JSON), their tables, their summary lines and
the notes printed below them.

One implementation for the commands (inspector.cli prints them), the report and the notebook API
(inspector.api shows them), so a number or a sentence cannot differ between them. Header-only: no
torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inspector.errors import one_line
from inspector.terminal import quoted, summarised
from inspector.vocab.rows import Row, each_row, expand
from inspector.vocab.tables import (
    active_parameters,
    buffers,
    component_table,
    expert_table,
    head_table,
    layer_table,
    quantized_roles,
    role_table,
    select,
    tensor_table,
    total,
    unmapped,
)

if TYPE_CHECKING:  # annotations only: `count` imports nothing of the checkpoint side
    from inspector.checkpoint.inspection import Inspection
    from inspector.spec.schema import Spec

# `inspect --by X`: the JSON key its table goes under (role's is the document's own "roles")
INSPECT_TABLES = {"role": "roles", "layer": "layers", "head": "heads", "tensor": "tensor_rows",
                  "expert": "experts", "component": "components"}


def inspect_document(source: str, inspection: Inspection) -> dict:
    """`inspector inspect`'s document: shape, counts, buffers, quantization, ties, the roles."""
    from inspector.checkpoint.expert_groups import bookkeeping_of
    from inspector.checkpoint.hub_count import reconcile

    quantization = inspection.decoupled.quantization
    # (the rows with a layer's alike experts held once: every sum below is the same)
    rows, checkpoint = inspection.decoupled.held, inspection.decoupled.checkpoint
    dtypes: dict[str, int] = {}
    for t in checkpoint.tensors:
        dtypes[t.dtype] = dtypes.get(t.dtype, 0) + 1
    roles = role_table(rows)
    document = {
        "source": source,
        "format": checkpoint.format,
        "layout": inspection.decoupled.layout.name,
        "shape": inspection.shape.as_dict(),
        "tensors": len(checkpoint.tensors),
        "parameters": total(rows),
        "buffers": buffers(rows),
        "quantization": quantization.as_dict() if quantization else None,
        "bookkeeping": bookkeeping_of(inspection.decoupled),
        "bytes": checkpoint.nbytes,
        "dtypes": dtypes,
        **active_parameters(rows, inspection.spec),
        "tied": inspection.decoupled.tied,
        "tied_copy": inspection.decoupled.tied_copy,
        "roles_inferred": inspection.decoupled.inferred,
        "roles": quantized_roles(rows, roles) if quantization else roles,
    }
    hub_count = reconcile(checkpoint, inspection.decoupled, document["parameters"])
    if hub_count is not None:
        document["hub"] = hub_count
    return document


def inspect_table(by: str, inspection: Inspection, document: dict) -> list[dict]:
    """The table `inspect --by` shows, also put in the document under INSPECT_TABLES[by]."""
    rows = inspection.decoupled.held  # (sums: a layer's alike experts held once)
    if by == "role":
        return document["roles"]
    if by == "head":
        table = head_table(rows, inspection.shape.n_heads, inspection.shape.n_kv_heads,
                           document["source"])
    elif by == "tensor":
        from inspector.checkpoint.expert_groups import tensor_table_of

        table = tensor_table_of(inspection.decoupled)
    else:
        table = {"layer": layer_table, "expert": expert_table,
                 "component": component_table}[by](rows)
    document[INSPECT_TABLES[by]] = table
    return table


def inspect_summary(document: dict, spec: Spec | None) -> list[tuple[str, object]]:
    """The lines above `inspect`'s table."""
    shape = document["shape"]
    described = ", ".join(f"{k} {v:,}" for k, v in shape.items()
                          if isinstance(v, int) and v is not None)
    buffer_numel = sum(b["numel"] for b in document["buffers"])
    held = f"{len(document['buffers'])} tensors, {buffer_numel:,} values (not parameters)"
    return [
        ("source", document["source"]),
        ("format", format_words(document["format"], document["layout"], shape["family"])),
        ("model", f"{shape['family']}: {described} (from {shape['basis']})"),
        ("tensors", document["tensors"]),
        ("parameters", document["parameters"]),
        *active_line(document, spec),
        ("buffers", held),
        *_quantized_summary(document),
        ("bytes", document["bytes"]),
        ("dtypes", ", ".join(f"{k} x{v}" for k, v in document["dtypes"].items())),
        ("tied", ("unembedding is the embedding's storage (counted once)" if document["tied"]
                  else "no") + ("; the file also stores a copy of it, counted once"
                                if document["tied_copy"] else "")),
        *([("roles", "inferred from generic tensor names: no family's layout matches")]
          if document["roles_inferred"] else []),
    ]


def format_words(fmt: str, layout: str, family: str) -> str:
    """`safetensors (llama layout)`; `(llama layout, which qwen2 shares)` where the tensor names
    are another family's (Qwen2's are Llama's), which would otherwise read as a mistake."""
    from inspector import families

    hub_layout = families.hub_layout(layout)  # (a GGUF's layouts are named for their family)
    owner = families.family_of_layout(hub_layout) if hub_layout is not None else None
    shared = owner is not None and family != owner and families.get(family) is not None
    return f"{fmt} ({layout} layout{f', which {family} shares' if shared else ''})"


def active_line(document: dict, spec: Spec | None) -> list[tuple[str, object]]:
    """The summary line of a mixture of experts' active parameters (none for a dense model)."""
    if spec is None or not spec.n_experts or document["active_parameters"] is None:
        return []
    line = (f"{document['active_parameters']:,} a token: {spec.experts_per_token} of"
            f" {spec.n_experts} routed experts in each MoE layer;"
            f" {document['active_parameters_without_embeddings']:,} without the embedding and"
            " unembedding")
    return [("active", line)]


def _quantized_summary(document: dict) -> list[tuple[str, object]]:
    """What a quantized checkpoint's numbers are: logical parameters, and the bookkeeping."""
    found = document.get("quantization")
    if not found:
        return []
    from inspector.checkpoint.quantization import Quantization

    kept = document["bookkeeping"]
    values, nbytes = sum(b["numel"] for b in kept), sum(b["bytes"] for b in kept)
    said = (f"{Quantization(**found).label}: parameters are the unquantized model's (packed"
            " values unpacked)")
    listed = (f"{len(kept):,} tensors, {values:,} values, {nbytes:,} bytes (scales, zero points,"
              " indices: not parameters)")
    return [("quantized", said), ("bookkeeping", listed)]


def count_document(spec: Spec, rows: list[Row], count_tied: bool = False,
                   weights_only: bool = False) -> dict:
    """`inspector count`'s document before its --by table: the total and the roles."""
    return {"spec": spec.name, "total": total(rows, count_tied, weights_only),
            **active_parameters(rows, spec), "roles": role_table(rows, count_tied, weights_only)}


def count_summary(document: dict, spec: Spec) -> list[tuple[str, object]]:
    return [("spec", spec.name), ("source", spec.source), ("total", document["total"]),
            *active_line(document, spec)]


# `count --by X`: the JSON key its table goes under (role's is the document's own "roles")
COUNT_TABLES = {"role": "roles", "layer": "layers", "tensor": "tensors", "expert": "experts"}
COUNT_TENSOR_COLUMNS = ("tensor", "role", "layer", "kind", "shape", "numel", "tied_to")


def count_table(by: str, rows: list[Row], document: dict, count_tied: bool = False,
                weights_only: bool = False) -> list[dict]:
    """The table `count --by` shows, also put in the document under COUNT_TABLES[by]."""
    if by == "role":
        return document["roles"]
    if by == "expert":
        table = expert_table(rows)
    elif by == "layer":
        table = layer_table(rows, count_tied, weights_only)
    else:
        table = [{k: t[k] for k in COUNT_TENSOR_COLUMNS}
                 for t in tensor_table(select(expand(rows), count_tied, weights_only))]
    document[COUNT_TABLES[by]] = table
    return table


def count_footnote(roles: list[dict], count_tied: bool, weights_only: bool) -> str:
    """The lines below `count`'s table: what a tie and --weights-only did to the total."""
    notes = []
    for r in roles:
        if r["tied_to"]:
            how = "counted again" if count_tied else "shown, not added to the total"
            notes.append(f"{r['role']} is tied to {r['tied_to']} (one storage): {how}.")
    if weights_only:
        notes.append("--weights-only: matrices only; biases, norms and the position table left"
                     " out.")
    return "\n" + "\n".join(notes) if notes else ""


COSTS_HEADING = "\ncosts (from the spec; every stored parameter once):\n"


def specs_table(specs: list[Spec]) -> list[dict]:
    """`inspector specs`: one row per spec, by family and then size."""
    from inspector.spec.describe import spec_total

    rows = [{"spec": s.name, "family": s.family, "parameters": spec_total(s),
             "layers": s.n_layers, "d_model": s.d_model, "heads": s.n_heads, "source": s.source}
            for s in specs]
    rows.sort(key=lambda r: (r["family"], r["parameters"]))
    return rows


def hub_note(found: dict) -> str:
    """Below `inspect`'s table: the hub's count beside ours, the difference one cause a line."""
    from inspector.checkpoint.hub_count import lines

    dtypes = ", ".join(f"{k} {v:,}" for k, v in found["dtypes"].items())
    head = (f"\nthe hub counts {found['total']:,} ({dtypes}); inspector {found['parameters']:,}"
            f" parameters; difference {found['difference']:,}")
    return "\n".join([head + (":" if found["causes"] or found["unexplained"] else ""),
                      *(f"  {line}" for line in lines(found))])


UNMAPPED_NAMES_SHOWN = 3


def unmapped_note(layout: str, rows: list[Row], quote=quoted) -> str | None:
    """The tensors no rule recognises, in one sentence: how many, their values, the first few
    names (escaped: they come from the file; `quote`d for where the sentence goes). `inspect`
    warns it after the source, the report lists it among its notes (quoted for Markdown), the
    API's Inspected.warnings holds it."""
    names = unmapped(rows)
    if not names:
        return None
    values = sum(r.numel for r in each_row(rows) if r.kind == "unmapped")
    shown = summarised(names, UNMAPPED_NAMES_SHOWN, quote)
    which = "no generic name pattern" if layout == "inferred" else f"no rule of the {layout} layout"
    components = sorted({r.component for r in each_row(rows)
                         if r.kind == "unmapped" and r.component})
    if components:  # a multimodal model's: its vision tower's, its projector's
        which += f" nor a generic name pattern (components: {', '.join(components)})"
    return (f"{len(names):,} tensors ({values:,} values) match {which}: {shown};"
            " counted as 'unmapped'")


def check_summary(verdict: dict, spec: Spec, source: str) -> list[tuple[str, object]]:
    """The lines above `check`'s role table."""
    t = verdict["total"]
    return [("spec", spec.name), ("source", source),
            ("verdict", "match" if verdict["ok"] else "MISMATCH"),
            # the cause before the tensors it changes: the problems the architecture makes
            *[("architecture", line) for line in verdict["problems"][:_causes(verdict)]],
            ("total", f"expected {t['expected']:,}, found {t['actual']:,}")]


def _causes(verdict: dict) -> int:
    """How many of the verdict's first problems say what differs in the architecture."""
    return len(verdict.get("architecture", ()))


def check_notes(verdict: dict, shown: int = 20) -> list[str]:
    """The lines below `check`'s role table: buffers, what no spec checks, the problems."""
    notes = []
    if verdict["buffers"]:
        numel = sum(b["numel"] for b in verdict["buffers"])
        notes.append(f"\nbuffers (not parameters): {len(verdict['buffers'])} tensors, {numel:,}"
                     " values")
    if verdict.get("unchecked"):  # a multimodal model's vision tower, projector, ...
        parts = ", ".join(f"{c['component']} {c['parameters']:,}" for c in verdict["unchecked"])
        notes.append(f"\nnot checked (a spec describes the language model): {parts}")
    problems = verdict["problems"][_causes(verdict):]  # the architecture's: said above
    notes += problem_lines(problems[:shown])
    if len(problems) > shown:
        notes.append(f"... and {len(problems) - shown} more problems (--format json lists all)")
    return notes


def problem_lines(problems: list[str]) -> list[str]:
    """One line a problem, whatever its names from files hold."""
    return [f"problem: {one_line(p)}" for p in problems]


def adapter_check_summary(verdict: dict, source: str) -> list[tuple[str, object]]:
    """The lines above `check ADAPTER_DIR`'s module table (its problems go below it)."""
    return [("base", verdict["base"]), ("source", source),
            ("verdict", "fits" if verdict["ok"] else "MISMATCH")]


def scan_summary(document: dict) -> list[tuple[str, object]]:
    return [("cache", document["cache"]), ("revisions", len(document["revisions"]))]


def scan_notes(document: dict) -> list[str]:
    """Below `scan`'s table: why it is empty, or what a '-' in the active column means."""
    if document.get("note"):
        return [f"\n{document['note']}"]
    if any(r["active"] is None and r["parameters"] for r in document["revisions"]):
        return [("\nactive '-': a mixture of experts whose family inspector does not read per"
                " expert.")]
    return []


def diff_notes(document: dict, fmt: str, after_table: bool) -> str | None:
    """Below `diff`'s table (or its summary): what differs in structure, one line each, as a
    Markdown list in Markdown."""
    from inspector.values.diff import structural_lines

    lines = structural_lines(document)
    if not lines:
        return None
    return ("\n" * after_table  # after a table, a blank line; the summary ends in one
            + "\n".join(f"- {one_line(line)}" if fmt == "markdown" else one_line(line)
                        for line in lines))


def adapter_summary(doc: dict) -> list[tuple[str, object]]:
    """The lines above `inspect ADAPTER_DIR`'s table: the adapter's config and its base."""
    said, base = doc["adapter"], doc["base"]
    flags = [name for name in ("use_rslora", "use_dora", "fan_in_fan_out") if said[name]]
    targets, scaling = said["target_modules"], said["scaling"]
    return [
        ("source", doc["source"]),
        ("format", doc["format"]),
        ("adapter", f"{said['peft_type']}: r {said['r']}, lora_alpha {said['lora_alpha']},"
                    f" scaling {'-' if scaling is None else f'{scaling:.6g}'}"
                    + "".join(f", {f}" for f in flags)),
        ("targets", ", ".join(targets) if isinstance(targets, list) else targets),
        ("modules_to_save", ", ".join(said["modules_to_save"]) or "none"),
        ("base", (f"{base['name']} ({base['family'] or 'unknown'} family, {base['layout']}"
                 f" layout; roles from {base['basis']})")),
        ("tensors", doc["tensors"]),
        ("parameters", doc["parameters"]),
        ("bytes", doc["bytes"]),
        ("dtypes", ", ".join(f"{k} x{v}" for k, v in doc["dtypes"].items())),
    ]
